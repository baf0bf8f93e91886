/* The typed parts of a job record that stages hand each other (outputs with their one chunk
 * plan, media info, finished posts) and their one serializer: the text the ledger row stores in
 * its `outputs`, `media` and `posts` columns. Nothing else in the pipeline reads that text; it
 * is read back only when a row is resumed from the ledger (or seeded from the queue's mirror). */
#ifndef TP_JOBREC_H
#define TP_JOBREC_H

#include <stdbool.h>
#include <stdint.h>

#include "probe/media.h"
#include "probe/rules.h"
#include "tokprep.h"
#include "upload/chunk.h"

/* One output of a job: our fitted file, or the source itself when it passes as is. */
typedef struct {
    char *path;
    bool have_media;
    tp_media_info media; /* as the fit verified it (the source's own when passed as is) */
    /* Made once, by the chunk stage; the sinks deliver exactly these chunks. */
    bool chunked;
    int64_t size;
    char sha256[65];          /* of the whole file */
    tp_chunk_plan plan;       /* offsets, lengths, chunk_size, total == size */
    char (*chunk_sha256)[65]; /* plan.count entries */
    char *delivered;          /* directory sink: the final path */
} tp_job_output;

typedef struct {
    tp_job_output *v;
    int n;
} tp_job_outputs;

/* A finished TikTok post (one per output part). */
typedef struct {
    char *publish_id;
    char *status;
    bool still_processing;
    long long post_id; /* 0 = none */
    bool refit;        /* posted from the strict re-fit (upload.tiktok.on_failed: refit) */
} tp_job_post;

/* A post TikTok ended FAILED: kept so the ledger shows every attempt and a part is re-fitted
 * at most once. */
typedef struct {
    int part; /* index into the outputs */
    char *publish_id;
    char *fail_reason;
    bool refit; /* the post of the strict re-fit: a failure of it is final */
} tp_job_failed_post;

typedef struct {
    tp_job_post *v;
    int n;
    tp_job_failed_post *failed;
    int n_failed;
} tp_job_posts;

void tp_job_outputs_clear(tp_job_outputs *o);
/* Replace *o by n outputs with these paths (copied); media[i] when media is not NULL. */
int tp_job_outputs_set(tp_job_outputs *o, const char *const *paths, const tp_media_info *media,
                       int n);
/* Chunks summed over every output; bytes likewise. */
int tp_job_outputs_chunks(const tp_job_outputs *o, int64_t *bytes);
/* The chunk SHA-256s of out as an array of pointers into it (NULL when not chunked); free() it. */
const char **tp_job_output_sha_list(const tp_job_output *out);

void tp_job_posts_clear(tp_job_posts *p);
int tp_job_posts_add(tp_job_posts *p, const char *publish_id, const char *status,
                     bool still_processing, long long post_id);
int tp_job_posts_add_failed(tp_job_posts *p, int part, const char *publish_id,
                            const char *fail_reason, bool refit);
/* The failed attempt of part (the refit's when refit), or NULL. */
const tp_job_failed_post *tp_job_posts_failed_of(const tp_job_posts *p, int part, bool refit);

/* The serializer. *_to_json: malloc'd text (NULL when out of memory; outputs/posts with n == 0
 * give NULL too, as the ledger stores no outputs). *_from_json: 0, or TP_EINVAL when the text
 * is not what *_to_json writes (a damaged row: the chunk plan must be contiguous and cover
 * the size). The text format is the ledger's since version 1: outputs
 * [{"path", "size", "sha256", "chunk_size", "chunk_count", "chunks": [{"index", "offset",
 * "length", "content_range", "sha256"}], "delivered", "media": {...}}], posts [{"publish_id",
 * "status", "still_processing", "post_id"}]. */
/* The output's chunk plan as a cJSON array of {index, offset, length, content_range, sha256}:
 * the ledger's outputs and the directory sink's manifest write the same objects. */
struct cJSON *tp_jobrec_chunks_json(const tp_job_output *out);
char *tp_jobrec_outputs_to_json(const tp_job_outputs *o);
int tp_jobrec_outputs_from_json(tp_job_outputs *o, const char *json, tp_error *err);
char *tp_jobrec_media_to_json(const tp_media_info *m);
/* The media record with the action the probe chose ("none", "remux", "transcode") in an extra
 * key "action" that readers of the media ignore (rows written before it have none):
 * tp_ledger_files_read() shows it. NULL when out of memory. */
char *tp_jobrec_probe_to_json(const tp_media_info *m, const tp_check_result *check);
/* The action recorded by tp_jobrec_probe_to_json() (a static name), or NULL when the record has
 * none or is not JSON. */
const char *tp_jobrec_media_action(const char *json);
int tp_jobrec_media_from_json(tp_media_info *m, const char *json, tp_error *err);
char *tp_jobrec_posts_to_json(const tp_job_posts *p);
int tp_jobrec_posts_from_json(tp_job_posts *p, const char *json, tp_error *err);

#endif
