/* Chunk planner: file size + chunk rules → TikTok upload chunks. Pure: no I/O. */
#ifndef TP_CHUNK_H
#define TP_CHUNK_H

#include <stdint.h>

#include "profiles/profile.h"

typedef struct {
    int64_t offset;
    int64_t length; /* Content-Range: bytes offset-(offset+length-1)/total */
} tp_chunk;

typedef struct {
    int64_t total;      /* video_size */
    int64_t chunk_size; /* what init declares as chunk_size */
    int count;          /* total_chunk_count */
    tp_chunk *chunks;   /* count entries, malloc'd */
} tp_chunk_plan;

/* Plan chunks for a file of `size` bytes. TP_EINVAL with a clear message when the size cannot
 * be split under the rules (empty, or too big for max_count * final sizes). Thread-safe. */
int tp_chunk_plan_make(tp_chunk_plan *out, int64_t size, const tp_chunk_rules *rules,
                       tp_error *err);
void tp_chunk_plan_clear(tp_chunk_plan *plan);

#endif
