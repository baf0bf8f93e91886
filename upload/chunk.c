/* Chunk planner: splits a file size into TikTok's FILE_UPLOAD chunks (media transfer guide).
 * Pure arithmetic so every boundary can be unit-tested without files or a server. */
#include "upload/chunk.h"

#include <stdlib.h>

#include "util/tp_util.h"

/* The profile's bound on chunk.max_count; checked here too, since the plan allocates one entry
 * per chunk and the rules may come from elsewhere than a validated profile (found by
 * fuzz_chunk: max_count 2^31 asked calloc for 32 GiB). */
#define MAX_COUNT_LIMIT 100000

static int plan_fill(tp_chunk_plan *out, int64_t size, int64_t chunk_size, int count, tp_error *err)
{
    tp_chunk *c = calloc((size_t)count, sizeof(*c));
    if (!c)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory planning %d chunks", count);
    for (int i = 0; i < count; i++) {
        c[i].offset = (int64_t)i * chunk_size;
        c[i].length = chunk_size;
    }
    /* TikTok: count = floor(size / chunk_size); the remainder rides on the last chunk. */
    c[count - 1].length = size - c[count - 1].offset;
    out->total = size;
    out->chunk_size = chunk_size;
    out->count = count;
    out->chunks = c;
    return 0;
}

int tp_chunk_plan_make(tp_chunk_plan *out, int64_t size, const tp_chunk_rules *rules, tp_error *err)
{
    out->total = 0;
    out->chunk_size = 0;
    out->count = 0;
    out->chunks = NULL;
    if (size <= 0)
        return tp_error_set(err, TP_EINVAL, 0, "cannot upload an empty file (%lld bytes)",
                            (long long)size);
    if (rules->size <= 0 || rules->min <= 0 || rules->max < rules->min ||
        rules->size < rules->min || rules->size > rules->max || rules->final_max < rules->max ||
        rules->max_count < 1 || rules->max_count > MAX_COUNT_LIMIT)
        return tp_error_set(err, TP_ECONFIG, 0,
                            "chunk rules are inconsistent (need 0 < min <= size <= max <= "
                            "final_max and 1 <= max_count <= %d)",
                            MAX_COUNT_LIMIT);
    /* Small files go whole: chunk_size == video_size, one chunk. A file no bigger than the
     * preferred chunk size also goes whole, since floor(size / chunk_size) would be 0. */
    if (size < rules->min || size <= rules->size)
        return plan_fill(out, size, size, 1, err);

    int64_t cs = rules->size;
    int64_t count = size / cs;
    if (count > rules->max_count) {
        /* Too many chunks: raise the chunk size until the count fits. */
        cs = size / rules->max_count + (size % rules->max_count != 0); /* no overflow */
        count = size / cs;
    }
    if (cs > rules->max)
        return tp_error_set(err, TP_EINVAL, 0,
                            "a %lld-byte file cannot be split into at most %d chunks of at most "
                            "%lld bytes (chunk.max_count, chunk.max)",
                            (long long)size, rules->max_count, (long long)rules->max);
    int64_t last = size - (count - 1) * cs;
    if (last > rules->final_max)
        return tp_error_set(err, TP_EINVAL, 0,
                            "a %lld-byte file in %lld-byte chunks leaves a final chunk of %lld "
                            "bytes, above chunk.final_max %lld",
                            (long long)size, (long long)cs, (long long)last,
                            (long long)rules->final_max);
    return plan_fill(out, size, cs, (int)count, err);
}

void tp_chunk_plan_clear(tp_chunk_plan *plan)
{
    if (!plan)
        return;
    free(plan->chunks);
    plan->chunks = NULL;
    plan->count = 0;
}
