/* The Redis side of the scale-out queue (issue 8): key names, the Lua scripts that move a job
 * between states atomically, and reading stream entries. Used by enqueue/status (rqueue.c) and
 * the worker loop (worker.c). Key layout: docs/ARCHITECTURE.md "Queue (Redis)". */
#ifndef TP_RQUEUE_H
#define TP_RQUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "util/tp_redis.h"

#define TP_RQ_GROUP "workers"

typedef struct {
    tp_redis *r;
    tp_redis_url url;
    char *stream; /* tokprep:NAME:jobs */
    char *dead;   /* tokprep:NAME:dead */
    char *counts; /* tokprep:NAME:counts */
    char *delayed; /* tokprep:NAME:delayed: deferred job ids, score = not_before (epoch s) */
} tp_rqueue;

/* Parse url and connect (timeout seconds for connect and every command). */
int tp_rqueue_open(tp_rqueue *q, const char *url, double timeout, tp_error *err);
void tp_rqueue_close(tp_rqueue *q);
/* XGROUP CREATE ... 0 MKSTREAM; an existing group is fine. */
int tp_rqueue_ensure_group(tp_rqueue *q, tp_error *err);

/* The job id of content × profile ("" = the worker's default) and its keys (malloc'd). */
char *tp_rq_job_id(const char *fingerprint, const char *profile);
char *tp_rq_key(const tp_rqueue *q, const char *kind, const char *job_id);

/* One stream entry as the worker sees it. */
typedef struct {
    char id[64];
    char *job_id; /* NULL for an entry without a `job` field */
} tp_rq_entry;
void tp_rq_entry_clear(tp_rq_entry *e);

/* XAUTOCLAIM one entry idle longer than min_idle_ms for consumer: 1 and *e, 0 when none. */
int tp_rqueue_autoclaim(tp_rqueue *q, const char *consumer, long long min_idle_ms, tp_rq_entry *e,
                        tp_error *err);
/* XREADGROUP one new entry, blocking up to block_ms: 1 and *e, 0 when none. */
int tp_rqueue_read(tp_rqueue *q, const char *consumer, int block_ms, tp_rq_entry *e, tp_error *err);

/* Move up to max deferred jobs whose not_before has come (by Redis' clock) back into the
 * stream, atomically: *moved = how many. */
int tp_rqueue_promote(tp_rqueue *q, int max, int *moved, tp_error *err);

/* *waiting = entries never delivered, *pending = delivered and not acknowledged. */
int tp_rqueue_counts(tp_rqueue *q, long long *waiting, long long *pending, tp_error *err);

/* The scripts. Every one takes the same keys (job hash, claim, counts, jobs stream, dead
 * stream, delayed set) and first arguments (consumer, group, entry id, now); see rqueue.c. */
typedef enum {
    TP_RQS_START = 0,
    TP_RQS_FINISH,
    TP_RQS_FAIL,
    TP_RQS_HEARTBEAT,
    TP_RQS_COUNT
} tp_rq_script;
const char *tp_rq_script_text(tp_rq_script s);
/* Run script s for job_id with the extra arguments; *reply as tp_redis_eval. */
int tp_rqueue_script(tp_rqueue *q, tp_rq_script s, const char *job_id, const char *consumer,
                     const char *entry, int nextra, const char **extra, redisReply **reply,
                     tp_error *err);

/* The job hash is readable by every Redis user who can read the queue, and writable by those who
 * can write it: the upload URL mirrored for resume (a credential for that upload) is stored
 * sealed. AES-128-CTR under a random 16-byte IV, then HMAC-SHA256 over IV and ciphertext
 * (encrypt-then-MAC); both keys derived by HKDF-SHA256 from secret (the worker's client
 * secret) with the job id as context, so a sealed value copied into another job does not
 * open. *out: "tpseal1:" IV, ciphertext and tag in hex (malloc'd). */
int tp_rq_seal(char **out, const char *secret, const char *job_id, const char *plain,
               tp_error *err);
/* The plain text of a tp_rq_seal value (malloc'd), or NULL when it is not one, was made with
 * another secret or job id, or was changed (the tag does not match). */
char *tp_rq_unseal(const char *secret, const char *job_id, const char *sealed);

/* Value of field in an array reply of alternating names and values (HGETALL), or NULL. */
const char *tp_rq_field(const redisReply *arr, const char *field);

#endif
