/* The job ledger: one SQLite (WAL) row per source content × profile × sink, so a run can be
 * resumed after a crash and the same content is never delivered twice. Only one thread (the
 * pipeline's coordinator) may use a tp_ledger; a lock file makes one process the only writer,
 * except for review (tp_ledger_open_shared, tp_ledger_review_set): one conditional UPDATE of a
 * row parked for review, which no run holds in flight. */
#ifndef TP_LEDGER_H
#define TP_LEDGER_H

#include <stdbool.h>
#include <stdint.h>

#include "tokprep.h"

/* The next stage a row needs (TP_STAGE_DONE when nothing is left). Stored as text. */
typedef enum {
    TP_STAGE_SCAN = 0,
    TP_STAGE_PROBE,
    TP_STAGE_FIT,
    TP_STAGE_CHUNK,
    TP_STAGE_DELIVER,
    TP_STAGE_DONE
} tp_stage;

typedef enum {
    TP_JOB_QUEUED = 0, /* waiting for its stage (also: interrupted, to be resumed) */
    TP_JOB_RUNNING,    /* a worker has it; a crash leaves it here until tp_ledger_recover() */
    TP_JOB_DONE,
    TP_JOB_FAILED,  /* see error; `tokprep retry` re-queues it */
    TP_JOB_REJECTED, /* the profile refuses the file, or review rejected the post: final */
    TP_JOB_AWAITING_REVIEW /* upload.tiktok.review: fitted and chunked, waiting for a person to
                            * approve (then queued at deliver with `review` set) or reject it */
} tp_job_status;

typedef struct {
    int64_t id;
    char fingerprint[65];
    char profile_hash[65];
    char *sink; /* "none", "directory:/abs/path", "tiktok:<profile>" */
    char *profile_name;
    char *source_path;
    int64_t source_size;
    tp_stage stage;
    tp_job_status status;
    char *verdict; /* pass, fix, reject, error; NULL before probing */
    char *outputs; /* outputs and their chunk plans (pipeline/jobrec.h writes and reads it) */
    char *media;   /* the source's media info (pipeline/jobrec.h); NULL before probing */
    char *dest;    /* delivery stem chosen for the sink, NULL before delivery */
    /* upload.tiktok.review (jobrec.h): {"caption": proposed} while awaiting review, then the
     * approved settings {"approved": true, "privacy_level", ...}; NULL when not reviewed */
    char *review;
    /* Upload resume state (tiktok sink). upload_url is a credential: never print it. */
    char *publish_id;
    char *upload_url;
    double upload_url_expiry; /* wall seconds; 0 = none */
    int upload_part;          /* index into outputs being uploaded */
    int last_chunk;           /* last chunk TikTok acknowledged, -1 = none */
    char *posts;              /* tiktok: finished posts, one per output part (jobrec.h) */
    char *error;
    char *error_code; /* tp_error_name() of the failure */
    int attempts;
    double created, updated, finished;
} tp_ledger_row;

typedef struct tp_ledger tp_ledger;

/* Open (creating) the ledger at path. With `exclusive`, take the lock file `<path>.lock`
 * (flock, released by the kernel even on kill -9); a second exclusive opener gets TP_ECONFLICT
 * and a message naming the holder's pid. Without it, open read-only (for `status`). */
int tp_ledger_open(tp_ledger **out, const char *path, bool exclusive, tp_error *err);
/* Open an existing ledger read-write WITHOUT the lock file, for a one-statement writer that runs
 * beside a pipeline holding it (`tokprep review`, the console): never creates, sets up or
 * migrates a ledger (TP_EIO "no ledger here" when it is missing); refuses a ledger that is not a
 * regular file of ours (TP_ECONFIG). Waits up to 5 s for the run's write transactions. */
int tp_ledger_open_shared(tp_ledger **out, const char *path, tp_error *err);
void tp_ledger_close(tp_ledger *l);

/* Look a row up by its key. Returns 1 and fills *row (caller clears it), 0 when absent, or <0. */
int tp_ledger_find(tp_ledger *l, tp_ledger_row *row, const char *fingerprint,
                   const char *profile_hash, const char *sink, tp_error *err);
int tp_ledger_get(tp_ledger *l, tp_ledger_row *row, int64_t id, tp_error *err);
/* Insert a new row (the key must be unused); sets row->id and the timestamps. */
int tp_ledger_insert(tp_ledger *l, tp_ledger_row *row, tp_error *err);
/* Write every mutable field of row (by id) and bump `updated`. One transaction. */
int tp_ledger_update(tp_ledger *l, tp_ledger_row *row, tp_error *err);
/* Review (upload.tiktok.review): move row `id` from status `from` to `to` in ONE conditional
 * UPDATE (... WHERE id=? AND status=from), setting `review` (JSON) and, when not NULL, error and
 * error_code (else cleared); `to` rejected also sets stage done and `finished`. 0; TP_EINVAL when
 * there is no such row; TP_ECONFLICT when the row is not in `from` (message names its status);
 * TP_EIO. Safe beside the run that holds the ledger's lock: the run never keeps such a row in
 * flight (a parked row has left the pipeline; an approved one is taken only once queued). */
int tp_ledger_review_set(tp_ledger *l, int64_t id, tp_job_status from, tp_job_status to,
                         const char *review_json, const char *error, const char *error_code,
                         tp_error *err);
/* Ids of the queued rows of sink and profile_hash that carry a review record (approved posts
 * among them: the caller reads each row), ordered by id. *ids is malloc'd (free it), *n how
 * many. One indexed SELECT of ids: cheap enough to run every second. */
int tp_ledger_reviewed_queued(tp_ledger *l, const char *sink, const char *profile_hash,
                              int64_t **ids, size_t *n, tp_error *err);
/* Persist upload progress only (called after every acknowledged chunk). posts NULL keeps the
 * stored value. */
int tp_ledger_save_upload(tp_ledger *l, int64_t id, const char *publish_id, const char *upload_url,
                          double expiry, int part, int last_chunk, const char *posts,
                          tp_error *err);
/* Make every commit durable against power loss (synchronous=FULL): for sinks where redoing a
 * step is not harmless (a second TikTok post). */
int tp_ledger_set_durable(tp_ledger *l, tp_error *err);
/* After a crash: rows left `running` go back to `queued` at the same stage. *n = how many. */
int tp_ledger_recover(tp_ledger *l, int *n, tp_error *err);
/* `tokprep retry`: failed rows go back to `queued` with attempts reset. *n = how many. */
int tp_ledger_retry_failed(tp_ledger *l, int *n, tp_error *err);
/* Is dest already used by another row (other than exclude_id) of the same sink? 1/0/<0. */
int tp_ledger_dest_taken(tp_ledger *l, const char *sink, const char *dest, int64_t exclude_id,
                         tp_error *err);
/* Call fn for each row (ordered by id), optionally only those with `status`. fn returns
 * non-zero to stop. The row is only valid during the call. */
int tp_ledger_foreach(tp_ledger *l, int status, int (*fn)(const tp_ledger_row *row, void *payload),
                      void *payload, tp_error *err);
void tp_ledger_row_clear(tp_ledger_row *row);

const char *tp_stage_name(tp_stage s);
const char *tp_job_status_name(tp_job_status s);

/* Content fingerprint: SHA-256 hex of the size and samples of the content (see ledger.c for
 * why sampling), the same for a renamed or copied file. Thread-safe. */
int tp_fingerprint_file(char hex[65], int64_t *size, const char *path, tp_error *err);
/* As tp_fingerprint_file, of the open file fd (read with pread; not closed); path for messages. */
int tp_fingerprint_fd(char hex[65], int64_t *size, int fd, const char *path, tp_error *err);

#endif
