/* tokprep: get video ready for TikTok and hand it over.
 *
 * The public API. Conventions (after libgit2):
 *  - names are tp_<module>_<verb>; types are opaque unless a plain struct is the point;
 *  - functions return 0 on success or a negative TP_E* code, and fill a caller-owned tp_error;
 *  - `T **out` parameters come first and hand ownership to the caller, who frees with tp_T_free();
 *    every _free() accepts NULL;
 *  - callbacks take `void *payload` last;
 *  - thread-safety is stated per function. Objects are not shared between threads unless said. */
#ifndef TOKPREP_H
#define TOKPREP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TOKPREP_VERSION "0.1.0"

/* ---- errors --------------------------------------------------------------------------- */

/* Error codes; functions return their negation. */
enum {
    TP_OK = 0,
    TP_EINVAL = 1,       /* bad argument or value */
    TP_ENOMEM = 2,       /* out of memory */
    TP_EIO = 3,          /* file system error */
    TP_ECONFIG = 4,      /* profile / configuration error */
    TP_EMEDIA = 5,       /* not media, unreadable or corrupt media */
    TP_EUNSUPPORTED = 6, /* valid but not supported */
    TP_ECANCELED = 7,    /* cancelled by the caller or a signal */
    TP_ENET = 8,         /* network error (transient) */
    TP_EHTTP = 9,        /* HTTP / API error (see message) */
    TP_EAUTH = 10,       /* authorisation missing, expired or refused */
    TP_ERATE = 11,       /* rate limit or daily cap: retry later */
    TP_EREJECT = 12,     /* the profile's policy rejects the file */
    TP_ECONFLICT = 13,   /* busy or already done (e.g. ledger locked) */
    TP_EINTERNAL = 14    /* a bug: please report */
};

#define TP_ERROR_MSG_MAX 1024

/* A caller-owned error. `code` is a positive TP_E* value (0 = none), `raw` the underlying
 * library's code (AVERROR, CURLcode, HTTP status) or 0, `message` names the file and what failed.
 * Messages never contain secrets (client secret, tokens, upload URLs' tokens). */
typedef struct tp_error {
    int code;
    int raw;
    char message[TP_ERROR_MSG_MAX];
} tp_error;

#define TP_ERROR_INIT {0, 0, {0}}

/* Short static name of a TP_E* code ("config", "media", ...). Thread-safe. */
const char *tp_error_name(int code);

/* ---- process set-up ------------------------------------------------------------------- */

/* Process-wide initialisation (curl_global_init, FFmpeg log level). Call once from main before
 * any other thread exists; not thread-safe. tp_global_cleanup() undoes it. */
int tp_global_init(tp_error *err);
void tp_global_cleanup(void);

/* Versions of tokprep and of the linked libraries, one per line, into buf. Thread-safe. */
void tp_version_string(char *buf, size_t size);

/* ---- profiles ------------------------------------------------------------------------- */

/* A resolved profile (built-in or file, extends merged, --set overrides applied). Immutable after
 * open: one profile may be shared read-only by any number of threads. */
typedef struct tp_profile tp_profile;

/* Open a profile by built-in name ("tiktok", "tiktok-draft") or by file path, apply `n_sets`
 * overrides of the form "key.path=value" (NULL allowed when n_sets is 0).
 * On failure returns -TP_ECONFIG (or -TP_EIO, -TP_ENOMEM) and err->message reads
 * "FILE:LINE:COL: what is wrong". The caller owns *out. */
int tp_profile_open(tp_profile **out, const char *name_or_path, const char *const *sets,
                    size_t n_sets, tp_error *err);
void tp_profile_free(tp_profile *profile);
/* The profile's `name`. Owned by the profile. */
const char *tp_profile_name(const tp_profile *profile);

/* === section: check (probe + rules) ===================================================== */

/* === end section: check ================================================================ */

/* === section: fit (transcode) ========================================================== */

/* === end section: fit ================================================================== */

/* === section: upload =================================================================== */

/* === end section: upload =============================================================== */

/* === section: pipeline ================================================================= */

/* Run a pipeline (scan → probe → fit → chunk → deliver) over files and folders, with a crash-safe
 * job ledger (SQLite) so a re-run resumes and the same content is never delivered twice to the
 * same sink under the same profile. Events report progress; tp_pipeline_cancel() stops it. */

typedef enum {
    TP_EVENT_DISCOVERED = 0, /* a file was found (path) */
    TP_EVENT_PROBED,         /* verdict, action known */
    TP_EVENT_FIT_STARTED,    /* action */
    TP_EVENT_FIT_PROGRESS,   /* fraction, fps */
    TP_EVENT_FIT_DONE,       /* outputs */
    TP_EVENT_CHUNKED,        /* chunks, bytes */
    TP_EVENT_UPLOAD_PROGRESS, /* bytes, total, fraction */
    TP_EVENT_UPLOADED,       /* delivered: outputs (sink paths) or publish_id */
    TP_EVENT_FAILED,         /* stage, error_code, reason; `final` says whether it is retried */
    TP_EVENT_SKIPPED,        /* reason */
    TP_EVENT_SUMMARY         /* counts; path is NULL */
} tp_event_kind;

/* One event. Every pointer is owned by the pipeline and valid only during the callback. */
typedef struct tp_event {
    tp_event_kind kind;
    double ts;             /* wall clock, seconds since the epoch */
    const char *path;      /* the source file (NULL for summary) */
    const char *stage;     /* scan, probe, fit, chunk, deliver (failed, skipped) */
    const char *verdict;   /* probed: pass, fix, reject, error */
    const char *action;    /* probed, fit_started: none, remux, transcode */
    const char *reason;    /* failed, skipped: why; probed: reject reason */
    const char *error_code; /* failed: tp_error_name() of the code */
    const char *fingerprint; /* content fingerprint (SHA-256 hex) when known */
    const char *publish_id;  /* uploaded (tiktok sink) */
    const char *const *outputs; /* fit_done: fitted files; uploaded: delivered files */
    int n_outputs;
    double fraction;       /* fit_progress, upload_progress: 0..1 */
    double fps;            /* fit_progress: frames per second of processing */
    int64_t bytes, total;  /* upload_progress: bytes sent / total; chunked: total bytes */
    int chunks;            /* chunked: total chunk count over all outputs */
    int final_failure;     /* failed: 1 = recorded as failed, 0 = will be retried */
    /* summary: files by outcome in this run, and elapsed seconds */
    int n_discovered, n_done, n_skipped, n_rejected, n_failed;
    double elapsed;
} tp_event;

/* Called on the thread that runs tp_pipeline_run(), never concurrently, in order. It should
 * return quickly (the coordinator waits for it). */
typedef void (*tp_event_cb)(const tp_event *event, void *payload);

/* Short stable name of an event kind ("discovered", "fit_progress", ...). Thread-safe. */
const char *tp_event_name(tp_event_kind kind);
/* The event as one line of JSON without newline: {"ts": "...Z", "event": "...", "path": ..., ...}.
 * Returns a malloc'd string the caller frees, or NULL on out-of-memory. Thread-safe. */
char *tp_event_to_json(const tp_event *event);

typedef struct {
    unsigned version;       /* TP_PIPELINE_OPTS_VERSION */
    const char *workdir;    /* fitted outputs under WORKDIR/out/; NULL = "./tokprep-work" */
    const char *state_path; /* the ledger; NULL = WORKDIR/tokprep.db */
    int watch;              /* keep running and take new files from the folders (inotify) */
    int force;              /* redo content the ledger says is done */
    tp_event_cb on_event;   /* NULL = no events */
    void *payload;          /* passed to on_event */
} tp_pipeline_opts;

#define TP_PIPELINE_OPTS_VERSION 1
#define TP_PIPELINE_OPTS_INIT {TP_PIPELINE_OPTS_VERSION, NULL, NULL, 0, 0, NULL, NULL}

/* Outcome counts of one tp_pipeline_run(). */
typedef struct {
    int discovered, done, skipped, rejected, failed;
    int canceled; /* 1 when stopped by tp_pipeline_cancel() */
} tp_pipeline_summary;

typedef struct tp_pipeline tp_pipeline;

/* Create a pipeline for `profile` (borrowed: it must outlive the pipeline) and open its ledger,
 * creating WORKDIR. Takes the ledger's lock: a second pipeline on the same ledger (in any
 * process) gets -TP_ECONFLICT with a message naming the holder. The caller owns *out.
 * Not thread-safe: one thread creates, runs and frees a pipeline. */
int tp_pipeline_new(tp_pipeline **out, const tp_profile *profile, const tp_pipeline_opts *opts,
                    tp_error *err);

/* Process `paths` (files, and folders walked recursively for video files) until all are done,
 * or, with opts.watch, until cancelled. Worker threads come from the profile's `pipeline`
 * section; they are joined before this returns. Fills *summary (may be NULL).
 * Returns 0 when it ran to the end (individual files may have failed: see the summary),
 * -TP_ECANCELED after tp_pipeline_cancel(), or another negative TP_E* for a failure of the run
 * itself (ledger, work folder). Call at most once per pipeline. */
int tp_pipeline_run(tp_pipeline *pipeline, const char *const *paths, size_t n_paths,
                    tp_pipeline_summary *summary, tp_error *err);

/* Ask a running pipeline to stop: no new work is taken, fits in flight are abandoned (their
 * temporary outputs removed), uploads checkpoint; tp_pipeline_run() returns -TP_ECANCELED soon
 * (well under 2 s). Thread-safe and async-signal-safe (it only sets a flag), so a SIGINT
 * handler may call it. */
void tp_pipeline_cancel(tp_pipeline *pipeline);

/* Close the ledger and free. Accepts NULL. Not while tp_pipeline_run() is running. */
void tp_pipeline_free(tp_pipeline *pipeline);

/* The ledger at state_path as JSON: {"state", "total", "by_status": {status: n},
 * "pending_by_stage": {stage: n}, "failed": [{"path", "stage", "error", "reason", "attempts",
 * "fingerprint"}], "rejected": [...]}. Read-only: works while a run holds the ledger.
 * *json_out is malloc'd; the caller frees it. Thread-safe (own connection per call). */
int tp_pipeline_status(char **json_out, const char *state_path, tp_error *err);

/* Re-queue every failed file in the ledger (attempts reset); the next tp_pipeline_run() over
 * them processes them again. *n_requeued = how many. -TP_ECONFLICT while a run holds the
 * ledger. Thread-safe. */
int tp_pipeline_retry(int *n_requeued, const char *state_path, tp_error *err);


/* === end section: pipeline ============================================================= */

#ifdef __cplusplus
}
#endif

#endif
