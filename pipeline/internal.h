/* Pipeline internals shared by the coordinator (run.c), the stage workers and the sinks. */
#ifndef TP_PIPELINE_INTERNAL_H
#define TP_PIPELINE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "pipeline/eventlog.h"
#include "pipeline/jobrec.h"
#include "pipeline/ledger.h"
#include "probe/media.h"
#include "probe/rules.h"
#include "profiles/profile.h"
#include "util/fifo.h"
#include "util/path.h"
#include "util/srcfile.h"

/* One file in flight: the job record the stages hand each other by pointer. The coordinator
 * owns it between stages; a worker owns it while it runs a stage. Only `progress_*` and
 * `ckpt_*` are shared (under tp_pipeline.mu). Source facts (path, src_fd, src_st, fingerprint,
 * size), the media info and rules result (probe), the fit's outputs with their sizes and one
 * chunk plan each (fit, chunk), delivered paths / posts (deliver). The ledger row holds their
 * serialized form (pipeline/jobrec.h), written by the coordinator only. */
typedef struct tp_job {
    struct tp_job *next, *prev; /* coordinator's active list */
    struct tp_job *qnext;       /* a waiting or delayed list */
    tp_ledger_row row; /* the ledger row; written by the coordinator only, read by workers */
    bool has_row;
    tp_stage stage; /* the stage to run / that ran */
    char *path;
    /* The source, opened once by the scan stage (docs/SECURITY.md, class 1): probe, fit,
     * hashing and the sinks read this descriptor, never the path again. Closed when the job
     * leaves the pipeline (job_free), so only jobs in flight hold one. -1 until opened. */
    int src_fd;
    bool src_nofollow;  /* found by walking a folder: a symlink at the name is refused */
    tp_src_stat src_st; /* fstat at open: a later size/mtime change means rewritten */
    /* Resumed upload: the outputs (chunk SHA-256s) its first chunks were sent from; the chunk
     * stage must find the same bytes, or a post would mix two contents. n == 0: none. */
    tp_job_outputs checked;
    char *not_media; /* found by walking under a media name, content not media: the error to
                      * record once the ledger row exists ("PATH: not media: looks like HTML") */
    char fingerprint[65];
    int64_t size;
    bool have_media;
    bool cover_found; /* media.cover was looked for in this run (the ledger does not keep it) */
    bool cover_set;   /* the fit placed a cover image: cover_ms is video_cover_timestamp_ms */
    long long cover_ms;
    tp_media_info media;
    tp_check_result check;
    tp_job_outputs outputs; /* fit (paths, media), chunk (size, plan, SHA-256s), sink */
    tp_job_posts posts;     /* tiktok sink: posts finished, from the ledger, then this run */
    char **delivered;       /* deliver stage: delivered paths */
    int n_delivered;
    char *publish_id; /* deliver stage (tiktok) */
    bool rejected;    /* the fit planner refused it */
    char reject_reason[512];
    bool redo_from_probe; /* outputs vanished: fit again */
    bool fit_started_emitted;
    const char *fit_action; /* coordinator: static name, NULL when resumed */
    double not_before;      /* retry backoff: monotonic time */
    int rc;
    tp_error err;
    /* Shared with the worker under tp_pipeline.mu: progress and upload checkpoints. */
    bool started; /* the worker began this stage */
    bool progress_dirty;
    double progress_fraction, progress_fps;
    int64_t progress_bytes, progress_total;
    double progress_emitted; /* coordinator: last emission (monotonic) */
    bool ckpt_dirty;
    char *ckpt_publish_id, *ckpt_url, *ckpt_posts;
    double ckpt_expiry;
    int ckpt_part, ckpt_last_chunk;
    double retry_at; /* deliver: a rate-limited upload can be retried at this epoch second */
    struct tp_worker *worker; /* the worker running it (per-thread context for sinks) */
} tp_job;

/* Per worker thread: a place for a sink to keep a session (e.g. one TikTok client per upload
 * worker, so its client-side rate windows see every request of that thread). */
typedef struct tp_worker {
    void *ctx;
    void (*ctx_free)(void *ctx);
} tp_worker;

typedef struct tp_pipeline_stage {
    const char *name;
    tp_stage stage;
    tp_fifo *q;
    pthread_t *threads;
    int n_threads;
    int (*work)(struct tp_pipeline *pl, tp_job *job);
    struct tp_pipeline *pl;
} tp_pipeline_stage;

enum { TP_PS_SCAN = 0, TP_PS_PROBE, TP_PS_FIT, TP_PS_CHUNK, TP_PS_DELIVER, TP_PS_COUNT };

/* A sink: what the deliver stage does with a job's chunked outputs (run on upload worker
 * threads). Chosen once per pipeline from the profile by tp_pipeline_new; the deliver stage
 * dispatches through it, so stages and sinks do not call each other (both use the job
 * services of pipeline/progress.c). deliver NULL: the none sink. */
typedef struct tp_sink_ops {
    const char *name;
    int (*deliver)(struct tp_pipeline *pl, tp_job *job);
} tp_sink_ops;

extern const tp_sink_ops tp_sink_directory; /* sink_dir.c */
extern const tp_sink_ops tp_sink_tiktok;    /* sink_tiktok.c */

typedef int (*tp_pipeline_mirror_fn)(const tp_ledger_row *row, void *payload, tp_error *err);

struct tp_pipeline {
    const tp_profile *profile;
    tp_pipeline_options opts;
    char *workdir; /* absolute */
    char *outdir;  /* WORKDIR/out */
    char *state_path;
    char *sink_key; /* ledger's sink column */
    char *sink_dir; /* directory sink: absolute path */
    tp_ledger *ledger;
    struct tp_eventlog *evlog; /* STATE.events (pipeline/eventlog.h); coordinator only */
    const tp_sink_ops *sink;
    struct tp_tt_limits *tt_limits; /* borrowed; NULL = each TikTok session's default */
    /* Requested by the pipeline itself (a fatal error), by a queue worker (tp_pipeline_stop())
     * or, through its parent, by the caller's opts.cancel; every stage polls this one. */
    tp_cancel cancel;
    bool ran;
    bool abandoned;     /* workers did not stop after cancel: leave their memory alone */
    pthread_mutex_t mu; /* results list and job progress */
    pthread_cond_t results_cv;
    pthread_cond_t ckpt_cv; /* a checkpoint was persisted */
    tp_job *results_head, *results_tail;
    tp_pipeline_stage stages[TP_PS_COUNT];
    /* Queue worker (pipeline/worker.c): told of every ledger write, on the coordinator thread,
     * after it is committed, so it can mirror resume state to Redis before the work goes on.
     * A failure (< 0, err set) stops the run like a failed ledger write: an upload must not go
     * on with resume state that a successor could not see. */
    tp_pipeline_mirror_fn mirror;
    void *mirror_payload;
    /* Queue worker: the content the job was queued with. A source whose fingerprint (of the
     * descriptor the pipeline reads) differs fails instead of being processed. "" = any. */
    char expect_fingerprint[65];
};

/* Job services for the stages and the sinks (pipeline/progress.c). */

/* Open the source of a delivered output: the job's own descriptor when the output is the
 * source itself (passed as is), else the fitted file (ours, in the work folder) opened once
 * without following a symlink. *owned says whether the caller closes it. -1 with job->err set
 * on failure. Worker threads. */
int tp_job_open_output(tp_job *job, const char *path, bool *owned);

/* Verify what is about to be delivered against the chunk plan and SHA-256s the chunk stage
 * recorded for `output`: read fd's chunks, hash each, and write it to out_fd when >= 0. Fails
 * with job->err "NAME: changed since it was checked (chunk N SHA-256 differs); not delivered"
 * when the bytes are not the ones that were checked. Worker threads. */
int tp_job_copy_verified(struct tp_pipeline *pl, tp_job *job, int fd, const char *name,
                         const tp_job_output *output, int out_fd, const char *out_name);

/* Tests only (CMake TOKPREP_TEST_HOOKS, else nothing): after a stage ("walk", "probe", "fit",
 * "chunk") named in TOKPREP_TEST_PAUSE_AFTER (comma-separated), create DIR/<stage>.paused in
 * TOKPREP_TEST_PAUSE_DIR and wait until DIR/<stage>.go exists (30 s at most, or a cancel), so a
 * test can change a source at a known moment. */
#ifdef TP_TEST_HOOKS
void tp_test_pause(struct tp_pipeline *pl, const char *stage);
#else
#define tp_test_pause(pl, stage) ((void)0)
#endif

/* Stop a running pipeline as a request of the caller's opts.cancel would, without touching the
 * caller's token (a queue worker stops one job's pipeline when its claim is lost). Thread-safe
 * and async-signal-safe. */
void tp_pipeline_stop(struct tp_pipeline *pl);

/* Only process sources with this fingerprint (NULL = any). Before tp_pipeline_run(). */
void tp_pipeline_expect_fingerprint(struct tp_pipeline *pl, const char *fingerprint);

/* Set the mirror hook (NULL = none). Before tp_pipeline_run(). */
void tp_pipeline_set_mirror(struct tp_pipeline *pl, tp_pipeline_mirror_fn mirror,
                            void *payload);

/* Stage work functions (run on worker threads). */
int tp_stage_scan(struct tp_pipeline *pl, tp_job *job);
int tp_stage_probe(struct tp_pipeline *pl, tp_job *job);
int tp_stage_fit(struct tp_pipeline *pl, tp_job *job);
int tp_stage_chunk(struct tp_pipeline *pl, tp_job *job);
int tp_stage_deliver(struct tp_pipeline *pl, tp_job *job);

/* TikTok's limits for every session the tiktok sink opens (e.g. a Redis store shared by many
 * workers, upload/tt_limits.h). Borrowed: it must outlive tp_pipeline_run. Call before
 * tp_pipeline_run. NULL (the default) = the profile's upload.tiktok.shared_limits, else per
 * session. Defined in sink_tiktok.c. */
void tp_pipeline_set_tt_limits(struct tp_pipeline *pl, struct tp_tt_limits *limits);

/* The job's media info and rules result: from the probe, or read back from the ledger with the
 * row (pipeline/jobrec.h). Probes the source's descriptor only for a row written before the
 * ledger kept media info (for_fit: as the probe stage does, with the bars scan a re-encode
 * can use). Worker threads. */
int tp_job_need_media(struct tp_pipeline *pl, tp_job *job, bool for_fit);

/* Report progress from a worker (thread-safe). */
void tp_job_progress(struct tp_pipeline *pl, tp_job *job, double fraction, double fps,
                     int64_t bytes, int64_t total);
/* Upload resume state from a worker after an acknowledged chunk; waits until the coordinator
 * has written it to the ledger (or the run is cancelled), so what TikTok acknowledged is on
 * disk before the next request. posts NULL = unchanged. Thread-safe. */
void tp_job_checkpoint(struct tp_pipeline *pl, tp_job *job, const char *publish_id,
                       const char *upload_url, double expiry, int part, int last_chunk,
                       const char *posts);

/* Names browsers and copy tools use while a file is still being written (hidden, .part,
 * .crdownload, ~): not taken until renamed. */
bool tp_walk_name_ignored(const char *name);
/* Is path (any form) inside one of the absolute folders in dirs (NULL entries allowed)? */
bool tp_path_within(const char *path, const char *const *dirs, size_t n);

/* Remove a folder tree (our own work folders only). */
int tp_rmtree(const char *path);
/* mkdir -p (util/path.h) with the umask alone deciding the folders' mode. */
static inline int tp_mkdirs(const char *path, tp_error *err)
{
    return tp_mkdir_p(path, 0777, err);
}

/* Duration in seconds of the media on fd (read with pread only), for creator_info's
 * max_video_post_duration_sec; -1 with a warning when it cannot be measured (TikTok checks it
 * then). Shared by `upload` (tp_tiktok_post_media) and the TikTok sink. */
double tp_media_duration_fd(int fd, const char *path, const tp_profile *p,
                            const tp_cancel *cancel);

#endif
