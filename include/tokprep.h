/* tokprep: get video ready for TikTok and hand it over.
 *
 * The public API. Conventions (after libgit2):
 *  - names are tp_<module>_<verb>; types are opaque unless a plain struct is the point;
 *  - functions return 0 on success or a negative TP_E* code, and fill a caller-owned tp_error;
 *  - `T **out` parameters come first and hand ownership to the caller, who frees with tp_T_free();
 *    every _free() accepts NULL;
 *  - callbacks take `void *payload` last;
 *  - thread-safety is stated per function. Objects are not shared between threads unless said;
 *  - options structs start with `unsigned version` (TP_X_OPTIONS_VERSION) and are set up with
 *    TP_X_OPTIONS_INIT or tp_x_options_init(); structs the library fills (events, summaries,
 *    reports) start with `unsigned version` too and only ever grow at the end;
 *  - counts are size_t; one cancellation token type (tp_cancel) for every long call.
 * The v1 stability promise, ownership and threading rules in full: docs/API.md. */
#ifndef TOKPREP_H
#define TOKPREP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TOKPREP_VERSION "1.0.0"

/* Marks the functions of the public API: the shared library exports these and nothing else (it is
 * built with hidden visibility). */
#if defined(__GNUC__) && __GNUC__ >= 4
#define TP_EXTERN __attribute__((visibility("default")))
#else
#define TP_EXTERN
#endif

/* ---- errors --------------------------------------------------------------------------- */

/* Error codes. Functions return 0 (TP_OK) or one of these negative values; tp_error.code holds
 * the same value. */
typedef enum tp_error_code {
    TP_OK = 0,
    TP_EINVAL = -1,       /* bad argument or value */
    TP_ENOMEM = -2,       /* out of memory */
    TP_EIO = -3,          /* file system error */
    TP_ECONFIG = -4,      /* profile / configuration error */
    TP_EMEDIA = -5,       /* not media, unreadable or corrupt media */
    TP_EUNSUPPORTED = -6, /* valid but not supported */
    TP_ECANCELED = -7,    /* cancelled by the caller or a signal */
    TP_ENET = -8,         /* network error (transient) */
    TP_EHTTP = -9,        /* HTTP / API error (see message) */
    TP_EAUTH = -10,       /* authorisation missing, expired or refused */
    TP_ERATE = -11,       /* rate limit or daily cap: retry later */
    TP_EREJECT = -12,     /* the profile's policy rejects the file */
    TP_ECONFLICT = -13,   /* busy or already done (e.g. ledger locked) */
    TP_EINTERNAL = -14    /* a bug: please report */
} tp_error_code;

/* A caller-owned error. `code` is a negative TP_E* value (0 = none), `raw` the underlying
 * library's code (AVERROR, CURLcode, HTTP status) or 0, `message` names the file and what failed:
 * NULL when none, else a string the error owns (read it with tp_error_message(), which never
 * returns NULL). A function that fails replaces any message already there, so one tp_error can
 * be passed to many calls; release it with tp_error_clear() when done. Do not copy a tp_error by
 * value while it holds a message (both copies would own it). Messages never contain secrets
 * (client secret, tokens, upload URLs' tokens) and are cut in the middle past a few KiB. */
typedef struct tp_error {
    int code;
    int raw;
    char *message;
} tp_error;

#define TP_ERROR_INIT {.code = 0}

/* Free the message and reset err to TP_ERROR_INIT; accepts NULL. */
TP_EXTERN void tp_error_clear(tp_error *err);

/* The message, or "" when there is none (so it can always be printed). Valid until err is
 * cleared or set again. */
TP_EXTERN const char *tp_error_message(const tp_error *err);

/* Short static name of a TP_E* code ("config", "media", ...). Thread-safe. */
TP_EXTERN const char *tp_error_name(int code);

/* ---- cancellation --------------------------------------------------------------------- */

/* A cancellation token: one flag, set once, polled by every long call it is handed to (probes,
 * fits, uploads, pipelines, queue workers) while it works. A token may be shared by any number
 * of calls and threads; requesting it stops all of them. It is never reset. */
typedef struct tp_cancel tp_cancel;

/* A new token, not requested. The caller owns *out (free with tp_cancel_free() once no call
 * that was handed it is still running). Returns 0 or TP_ENOMEM (TP_EINVAL for a NULL out). */
TP_EXTERN int tp_cancel_new(tp_cancel **out);
/* Request cancellation. Thread-safe and async-signal-safe (one lock-free atomic store), so a
 * SIGINT handler may call it. Accepts NULL. */
TP_EXTERN void tp_cancel_request(tp_cancel *cancel);
/* Non-zero once tp_cancel_request() was called. Thread-safe; NULL reads as "not requested". */
TP_EXTERN int tp_cancel_requested(const tp_cancel *cancel);
TP_EXTERN void tp_cancel_free(tp_cancel *cancel);

#if defined(__GNUC__)
#define TP_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define TP_PRINTF(f, a)
#endif

/* Fill err (may be NULL) and return code, so callers can `return tp_error_set(...)`: code is a
 * negative TP_E* value (a positive one is negated), raw the underlying library's code or 0.
 * For callbacks and front ends that report their own failures the library's way. Thread-safe
 * for distinct errors. */
TP_EXTERN int tp_error_set(tp_error *err, int code, int raw, const char *fmt, ...) TP_PRINTF(4, 5);
/* Reset err to TP_ERROR_INIT (NULL ok). */
TP_EXTERN void tp_error_clear(tp_error *err);

/* ---- process set-up ------------------------------------------------------------------- */

/* Process-wide initialisation (curl_global_init, FFmpeg log level). Call once from main before
 * any other thread exists; not thread-safe. tp_global_cleanup() undoes it. */
TP_EXTERN int tp_global_init(tp_error *err);
TP_EXTERN void tp_global_cleanup(void);

/* Levenshtein distance of two strings, capped at 255 (strings over 64 bytes give 255): what
 * "did you mean" suggestions use, for commands, options and profile keys. Thread-safe. */
TP_EXTERN int tp_edit_distance(const char *a, const char *b);

/* How tp_time_format() writes a time. */
typedef enum {
    TP_TIME_ISO8601 = 0, /* 2026-11-26T01:02:03.456Z (UTC, milliseconds): JSON and NDJSON */
    TP_TIME_UTC,         /* 2026-11-26 01:02:03 UTC: messages */
    TP_TIME_LOCAL        /* 2026-11-26 02:02:03: terminal tables, in the local time zone */
} tp_time_style;

/* Epoch seconds t as text in buf (size 32 is plenty; "" when it does not fit). The one time
 * format of every message and JSON field tokprep writes. Thread-safe. */
TP_EXTERN void tp_time_format(char *buf, size_t size, double t, tp_time_style style);

/* Versions of tokprep and of the linked libraries, one per line, into buf. Thread-safe. */
TP_EXTERN void tp_version_string(char *buf, size_t size);

/* Log lines ("tokprep: warn: ...") go to stderr, control characters escaped. The level is
 * process-wide: set it once at start-up, before other threads exist (not thread-safe);
 * tp_log() itself may be called from any thread. Default TP_LOG_WARN. */
typedef enum { TP_LOG_ERROR = 0, TP_LOG_WARN, TP_LOG_INFO, TP_LOG_DEBUG } tp_log_level;
TP_EXTERN void tp_log_set_level(tp_log_level level);
TP_EXTERN void tp_log(tp_log_level level, const char *fmt, ...) TP_PRINTF(2, 3);

/* ---- text for terminals and documents ------------------------------------------------- */

/* File names are bytes; JSON and XML are UTF-8. A malloc'd copy of s with each byte that does
 * not start a valid UTF-8 sequence replaced by U+FFFD (NULL on NULL or OOM; free() it).
 * Thread-safe. */
TP_EXTERN char *tp_utf8_sanitize(const char *s);
/* A malloc'd copy of s fit for one line of terminal output: control characters as \n, \t, \r
 * or \xNN (so a name cannot split a line or send escape sequences), invalid UTF-8 bytes as
 * \xNN; valid non-ASCII text is kept. NULL on NULL or OOM; free() it. Thread-safe. */
TP_EXTERN char *tp_str_printable(const char *s);

/* ---- profiles ------------------------------------------------------------------------- */

/* A resolved profile (built-in or file, extends merged, --set overrides applied). Immutable after
 * open: one profile may be shared read-only by any number of threads. */
typedef struct tp_profile tp_profile;

/* Open a profile by built-in name ("tiktok", "tiktok-draft") or by file path, apply `n_sets`
 * overrides of the form "key.path=value" (NULL allowed when n_sets is 0).
 * On failure returns TP_ECONFIG (or TP_EIO, TP_ENOMEM) and tp_error_message(err) reads
 * "FILE:LINE:COL: what is wrong". The caller owns *out. */
TP_EXTERN int tp_profile_open(tp_profile **out, const char *name_or_path, const char *const *sets,
                    size_t n_sets, tp_error *err);
TP_EXTERN void tp_profile_free(tp_profile *profile);
/* The profile's `name`. Owned by the profile. */
TP_EXTERN const char *tp_profile_name(const tp_profile *profile);
/* The name or path as given to tp_profile_open() ("fake.yaml"; "tiktok" for NULL): what a
 * command shown to the user names (`--profile fake.yaml`), since `name` may not resolve to the
 * file. Owned by the profile. */
TP_EXTERN const char *tp_profile_opened_as(const tp_profile *profile);

/* Names of the built-in profiles ("tiktok", "tiktok-draft", ...), NULL-terminated, static.
 * Thread-safe. */
TP_EXTERN const char *const *tp_profile_builtin_names(void);
/* The resolved profile as YAML (extends merged, overrides applied, secrets shown as ***).
 * malloc'd, NUL-terminated; the caller frees it with free(). NULL when out of memory. */
TP_EXTERN char *tp_profile_dump(const tp_profile *profile);
/* A few settings by their short static names, for listings: upload.sink ("tiktok",
 * "directory", "none"), upload.tiktok.mode ("direct", "draft"), fix.fill ("blur", "pad",
 * "crop"); and fix.width x fix.height (out-params may be NULL). Thread-safe. */
TP_EXTERN const char *tp_profile_sink_name(const tp_profile *profile);
TP_EXTERN const char *tp_profile_post_mode_name(const tp_profile *profile);
TP_EXTERN const char *tp_profile_fill_name(const tp_profile *profile);
TP_EXTERN void tp_profile_fix_size(const tp_profile *profile, int *width, int *height);

/* One key of the profile schema (the table the loader validates against), for generated
 * documentation (`tokprep-profile.5`). Strings are static. */
typedef struct tp_profile_key_info {
    const char *key;            /* dotted path, e.g. "fix.fill" */
    const char *type;           /* "map" (a section), "string", "int", "size" (with units),
                                 * "number", "bool", "choice", "list", "aspects", "range" */
    const char *const *choices; /* "choice": the allowed values, NULL-terminated; else NULL */
    double min, max;            /* "int", "size", "number", "range": bounds (both 0: none) */
    const char *default_value;  /* the built-in tiktok profile's value, as written ("" if none) */
    const char *help;           /* one line ("" if none) */
    int secret;                 /* 1: never printed (shown as ***) */
} tp_profile_key_info;

/* Number of keys in the schema, sections included. Thread-safe. */
TP_EXTERN size_t tp_profile_schema_count(void);
/* Key `index` (0 .. count-1, in the schema's order) into *out: 0, or TP_EINVAL. Thread-safe. */
TP_EXTERN int tp_profile_schema_at(size_t index, tp_profile_key_info *out);

/* === section: check (probe + rules) ===================================================== */

/* Checking one file: probe it (libavformat headers and a bounded packet sample, or every packet
 * with `deep`), then judge the measured media against a profile's rules.
 *
 * A verdict of TP_VERDICT_ERROR (missing, empty, not media, truncated, permission denied) is a
 * *result*, not a failure of tp_check_file(): the function still returns 0 and the reason is in
 * tp_check_error(). tp_check_file() itself fails only on bad arguments, out of memory or
 * cancellation. */

typedef enum {
    TP_VERDICT_PASS = 0, /* conforms: upload as is */
    TP_VERDICT_FIX,      /* can be made conformant: see tp_check_action() */
    TP_VERDICT_REJECT,   /* the profile's policy refuses it: see tp_check_reason() */
    TP_VERDICT_ERROR     /* could not be read: see tp_check_error() */
} tp_verdict;

typedef enum {
    TP_ACTION_NONE = 0, /* pass, reject, error */
    TP_ACTION_REMUX,    /* only the container or the moov position is wrong: copy the streams */
    TP_ACTION_TRANSCODE /* re-encode (fit) */
} tp_action;

typedef enum {
    TP_SEV_ERROR = 0, /* the file cannot pass as is */
    TP_SEV_WARN       /* advisory: the verdict does not depend on it */
} tp_severity;

/* The result of checking one file. Opaque; read with the accessors below. Immutable once
 * returned, so it may be read from any thread. */
typedef struct tp_check tp_check;

typedef struct tp_check_options {
    unsigned version;         /* TP_CHECK_OPTIONS_VERSION */
    int deep;                 /* non-zero: decode every packet and count decode errors */
    const tp_cancel *cancel;  /* NULL, or a token that abandons the probe (TP_ECANCELED) */
} tp_check_options;

#define TP_CHECK_OPTIONS_VERSION 1
#define TP_CHECK_OPTIONS_INIT {.version = TP_CHECK_OPTIONS_VERSION}

/* Set *opts to the defaults of `version` (pass TP_CHECK_OPTIONS_VERSION). Returns 0, or
 * TP_EINVAL for NULL or a version this library does not know. Thread-safe. */
TP_EXTERN int tp_check_options_init(tp_check_options *opts, unsigned version);

/* Probe `path` and judge it against `profile` (its rules, fix policy and limits).
 * Returns 0 and a result in *out (caller frees with tp_check_free()) for every verdict including
 * TP_VERDICT_ERROR; returns TP_EINVAL, TP_ENOMEM or TP_ECANCELED (with err filled and *out
 * NULL) when no result could be produced. `opts` may be NULL (defaults); an unknown
 * opts->version is TP_EINVAL.
 * Thread-safe: any number of checks may run at once, sharing one profile. */
TP_EXTERN int tp_check_file(tp_check **out, const tp_profile *profile, const char *path,
                  const tp_check_options *opts, tp_error *err);
TP_EXTERN void tp_check_free(tp_check *check);

/* Accessors. Strings are owned by the check and live until tp_check_free(). */
TP_EXTERN const char *tp_check_path(const tp_check *check);
TP_EXTERN tp_verdict tp_check_verdict(const tp_check *check);
TP_EXTERN tp_action tp_check_action(const tp_check *check);
/* Reject/error: why, and for a reject which profile setting would change it; "" otherwise. */
TP_EXTERN const char *tp_check_reason(const tp_check *check);
/* TP_VERDICT_ERROR: the reason ("a.mp4: permission denied"); NULL for other verdicts. */
TP_EXTERN const char *tp_check_error(const tp_check *check);
TP_EXTERN size_t tp_check_violation_count(const tp_check *check);
/* Violation i (< count): stable code ("duration_too_long"), severity and message with the
 * measured value and the limit ("duration_too_long: 660.0 s > 600 s"). Out-params may be NULL.
 * Returns 0, or TP_EINVAL when i is out of range. */
TP_EXTERN int tp_check_violation(const tp_check *check, size_t i, const char **code, tp_severity *severity,
                       const char **message);
/* What to do about a violation code ("aspect" → "fit fills the 9:16 frame the way fix.fill says
 * (pad, blur or crop)."): one static sentence per code tp_check can report, a general one for
 * an unknown code or NULL. Never NULL. Thread-safe. */
TP_EXTERN const char *tp_violation_hint(const char *code);
/* The result as the JSON object documented in docs (path, verdict, action, violations, error,
 * media). malloc'd, NUL-terminated; the caller frees it with free(). NULL when out of memory. */
TP_EXTERN char *tp_check_json(const tp_check *check);

/* Short static names: "pass", "fix", "reject", "error" / "none", "remux", "transcode" /
 * "error", "warn". Thread-safe. */
TP_EXTERN const char *tp_verdict_name(tp_verdict verdict);
TP_EXTERN const char *tp_action_name(tp_action action);
TP_EXTERN const char *tp_severity_name(tp_severity severity);

/* ---- many files at once ---------------------------------------------------------------- */

/* One file of tp_check_files(). Every pointer is owned by the call and valid only during the
 * callback (keep what you need: copy strings, read the check). */
typedef struct tp_check_files_item {
    size_t index;          /* position in the walk's order, from 0 */
    const char *path;      /* as given, or FOLDER/NAME for a file found in a folder */
    const tp_check *check; /* the result, any verdict; NULL when the file never got a result:
                            * missing or unreadable path, a link out of the walked folder, a
                            * media name whose content is not media, or the check failed
                            * (cancelled, out of memory) */
    const tp_error *error; /* check NULL: why ("PATH: no such file or folder"); else NULL */
    double seconds;        /* time spent checking this file */
} tp_check_files_item;

/* Called on the thread that called tp_check_files(), once per file, in input order (never
 * concurrently), as soon as that file and all before it are done. Workers go on checking while
 * it runs; its item's memory is released when it returns. */
typedef void (*tp_check_files_cb)(const tp_check_files_item *item, void *payload);

typedef struct tp_check_files_options {
    unsigned version;          /* TP_CHECK_FILES_OPTIONS_VERSION */
    unsigned threads;          /* files checked at once; 0 = the profile's pipeline.probe_workers
                                * (which defaults to the number of cores) */
    int deep;                  /* as tp_check_options.deep */
    int follow_symlinks;       /* follow symbolic links found in folders, never out of the folder
                                * (default: not followed, counted in the summary) */
    tp_check_files_cb on_file; /* may be NULL (then only the summary is filled) */
    void *payload;             /* passed to on_file */
    /* Requested: abandon the probes in flight and the ones not started (each is then reported
     * with its error, TP_ECANCELED). May be NULL. */
    const tp_cancel *cancel;
} tp_check_files_options;

#define TP_CHECK_FILES_OPTIONS_VERSION 1
#define TP_CHECK_FILES_OPTIONS_INIT                                                                \
    {                                                                                              \
        .version = TP_CHECK_FILES_OPTIONS_VERSION                                                  \
    }
/* Fill opts with TP_CHECK_FILES_OPTIONS_INIT; TP_EINVAL for an unknown version. */
TP_EXTERN int tp_check_files_options_init(tp_check_files_options *opts, unsigned version);

/* What the folder walk found besides the files reported. */
typedef struct tp_files_summary {
    size_t files;     /* files reported (one callback each) */
    size_t non_media; /* files found in folders and left out: neither media content nor a
                       * media name (captions, notes, thumbnails) */
    size_t symlinks;  /* symbolic links found in folders and not followed */
} tp_files_summary;

/* Check paths[0..n) (files, and folders walked recursively in byte order of names, hidden and
 * temporary names skipped, media recognised by content) against profile, on opts->threads
 * worker threads, reporting each file through opts->on_file in input order: -j changes speed,
 * never order. A bad path never stops the others: it is reported with its error. Fills
 * *summary (may be NULL). Returns 0 when every file was reported (whatever the verdicts, and
 * also after cancellation), or TP_EINVAL / TP_ENOMEM / TP_EINTERNAL (no worker thread could be
 * started) with err filled and nothing reported. opts may be NULL (defaults). Thread-safe:
 * calls may run at once, sharing one profile. */
TP_EXTERN int tp_check_files(tp_files_summary *summary, const tp_profile *profile,
                             const char *const *paths, size_t n, const tp_check_files_options *opts,
                             tp_error *err);

/* === end section: check ================================================================ */

/* === section: fit (transcode) ========================================================== */

/* Options for tp_fit_file(). Set up with TP_FIT_OPTIONS_INIT or tp_fit_options_init(). */
typedef struct tp_fit_options {
    unsigned version; /* TP_FIT_OPTIONS_VERSION */
    /* Called from the fitting thread with the fraction done (0..1) and the frames per second
     * being processed (0 when not known). May be NULL. */
    void (*progress)(double fraction, double fps, void *payload);
    void *payload;
    /* A requested token stops the fit as soon as possible (temporary outputs are removed and
     * the call returns TP_ECANCELED). May be NULL. */
    const tp_cancel *cancel;
} tp_fit_options;

#define TP_FIT_OPTIONS_VERSION 1
#define TP_FIT_OPTIONS_INIT {.version = TP_FIT_OPTIONS_VERSION}

/* Defaults of `version` into *opts: 0, or TP_EINVAL (NULL, unknown version). Thread-safe. */
TP_EXTERN int tp_fit_options_init(tp_fit_options *opts, unsigned version);

/* The files one tp_fit_file() wrote, in order (one, or the parts of a split). Immutable. */
typedef struct tp_fit_result tp_fit_result;

TP_EXTERN size_t tp_fit_result_count(const tp_fit_result *result);
/* Path i (< count), owned by the result; NULL when i is out of range. */
TP_EXTERN const char *tp_fit_result_path(const tp_fit_result *result, size_t i);
TP_EXTERN void tp_fit_result_free(tp_fit_result *result);

/* Fit one file to a profile: probe it, check it against the profile's rules and write what the
 * profile needs into the existing folder outdir: a byte-identical copy (hard link where
 * possible) when it already passes, the same packets in an MP4 with moov first when only the
 * container is wrong, else an H.264/AAC MP4 at fix.width x fix.height (several
 * <stem>_partN.mp4 when fix.too_long is split). Outputs appear under their final names only
 * once complete and re-checked against the profile.
 * On success *out holds the written paths (the caller frees it with tp_fit_result_free()); on
 * failure *out is NULL. `opts` may be NULL (defaults); an unknown opts->version is TP_EINVAL.
 * Returns TP_EREJECT when the profile refuses the file
 * (tp_error_message(err) says why and which setting would change it), TP_EMEDIA / TP_EIO /
 * TP_ECANCELED / TP_EINTERNAL (an output that does not pass) otherwise.
 * Thread-safe: any number of fits may run at once (the profile is shared read-only). */
TP_EXTERN int tp_fit_file(tp_fit_result **out, const char *path, const tp_profile *profile,
                          const char *outdir, const tp_fit_options *opts, tp_error *err);

/* ---- many files at once ---------------------------------------------------------------- */

/* One output part of a split (fix.too_long=split): seconds of the source. */
typedef struct tp_fit_plan_part {
    double start, duration;
} tp_fit_plan_part;

/* What fitting a file does (or, in a dry run, would do). Plain data owned by the call. */
typedef struct tp_fit_plan_info {
    tp_action action; /* NONE (copy/link), REMUX, TRANSCODE */
    /* TRANSCODE: the encoder's settings (from the profile's fix section) and the filter graph */
    int width, height;
    int fps_num, fps_den;
    int crf;
    int64_t video_maxrate; /* bit/s */
    int64_t video_bufsize; /* bit */
    int64_t audio_bitrate; /* bit/s; 0 = no audio */
    int audio_sample_rate, audio_channels;
    const char *fill;                            /* "blur", "pad", "crop" */
    const char *filter;                          /* the video filter graph */
    int crop_x, crop_y, crop_width, crop_height; /* fix.autocrop: the picture inside burned-in
                                                  * bars; crop_width 0 = none */
    double duration;                             /* total output seconds */
    double trim_end;                             /* > 0: the output ends here (fix.too_long=trim) */
    double hold_until; /* > 0: the last frame is held until here (fix.too_short) */
    size_t n_parts;    /* > 1: split into parts */
    const tp_fit_plan_part *parts;
    /* The cover (README "Covers"): NULL = none (TikTok's default); "sidecar" or "profile": the
     * image cover_image fills the first cover_frames frames (cover_duration seconds); "frame":
     * a frame of the video (upload.tiktok.video_cover_timestamp_ms, --cover-at). */
    const char *cover_source;
    const char *cover_image;
    int cover_frames;
    double cover_duration;
    long long cover_timestamp_ms; /* what the post sends as video_cover_timestamp_ms */
    /* Loudness (rules.loudness, fix.audio.loudness). copy_video 1: the video packets are copied
     * as they are (the picture passes) and only the audio is re-encoded; filter is "copy". */
    int copy_video;
    const char *audio_filter; /* the loudnorm chain; "" = the audio's level is kept */
    const char *audio_note;   /* why the level is kept though asked (the +20 dB cap); "" */
} tp_fit_plan_info;

/* One file of tp_fit_files(). Pointers are owned by the call, valid during the callback. */
typedef struct tp_fit_files_item {
    size_t index; /* position in the walk's order, from 0 */
    const char *path;
    /* ERROR (unreadable, failed, not started), REJECT (the profile refuses it: reason), else
     * the check's verdict (PASS, FIX) */
    tp_verdict verdict;
    int rc;                /* 0, or the negative TP_E* of the failure (TP_EREJECT: refused) */
    const char *error;     /* the failure's message; "" when none */
    const char *reason;    /* the plan's reason for refusing the file; "" when none */
    int rejected_by_plan;  /* 1: refused by the plan (reason says why), not by a failure */
    int canceled;          /* 1: never started, because opts->cancel was set */
    const tp_check *check; /* the probe and rules result (violations); NULL when not probed */
    const tp_fit_plan_info *plan; /* planned and not refused; else NULL */
    const char *const *outputs;   /* written files (none in a dry run) */
    size_t n_outputs;
} tp_fit_files_item;

typedef void (*tp_fit_files_cb)(const tp_fit_files_item *item, void *payload);

/* Progress of the file being fitted by one worker: fraction (0..1) and frames per second of
 * processing (0 when not known); done 1 once, when that file's fit has ended. */
typedef struct tp_fit_files_progress {
    size_t index;
    const char *path;
    double fraction, fps;
    int done;
} tp_fit_files_progress;

/* Called from worker threads, but never two at once (the call serialises them). */
typedef void (*tp_fit_files_progress_cb)(const tp_fit_files_progress *progress, void *payload);

typedef struct tp_fit_files_options {
    unsigned version;        /* TP_FIT_FILES_OPTIONS_VERSION */
    const char *outdir;      /* where outputs go (created with parents when missing); required
                              * unless dry_run */
    int dry_run;             /* probe and plan only; write nothing, create no folder */
    unsigned threads;        /* files fitted at once; 0 = the profile's pipeline.fit_workers */
    int follow_symlinks;     /* as tp_check_files_options */
    tp_fit_files_cb on_file; /* in input order, on the calling thread; may be NULL */
    tp_fit_files_progress_cb progress; /* may be NULL; not called in a dry run */
    void *payload;                     /* passed to both callbacks */
    /* Requested: fits in flight stop (temporary outputs removed), files not started are
     * reported with canceled set. May be NULL. */
    const tp_cancel *cancel;
} tp_fit_files_options;

#define TP_FIT_FILES_OPTIONS_VERSION 1
#define TP_FIT_FILES_OPTIONS_INIT                                                                  \
    {                                                                                              \
        .version = TP_FIT_FILES_OPTIONS_VERSION                                                    \
    }
/* Fill opts with TP_FIT_FILES_OPTIONS_INIT; TP_EINVAL for an unknown version. */
TP_EXTERN int tp_fit_files_options_init(tp_fit_files_options *opts, unsigned version);

/* Fit paths[0..n) (files and folders, walked as tp_check_files does) into opts->outdir, as
 * tp_fit_file() fits one, on opts->threads workers, and report each file in input order. Outputs
 * go flat into outdir: a file with the same stem as an earlier one is refused (TP_EINVAL item)
 * rather than overwriting its output. When the walk finds no file at all, returns 0 with
 * summary->files 0, reports nothing and creates no folder. Returns TP_EIO (outdir cannot be
 * created), TP_EINVAL (outdir exists and is not a folder; no outdir without dry_run), TP_ENOMEM,
 * with err filled and nothing reported; else 0 (individual files may have failed: see the
 * items). Thread-safe: calls may run at once (distinct outdirs), sharing one profile. */
TP_EXTERN int tp_fit_files(tp_files_summary *summary, const tp_profile *profile,
                           const char *const *paths, size_t n, const tp_fit_files_options *opts,
                           tp_error *err);

/* === end section: fit ================================================================== */

/* === section: preview ================================================================== */

/* `tokprep preview`: a few stills of the planned output side by side in one PNG, with TikTok's
 * UI (the profile's preview.safe_zone: top bar, caption and buttons at the bottom, the
 * right-hand button rail) drawn over them as translucent regions, and per still the share of
 * high-detail pixels (Sobel edges on luma) under that UI: a first signal of text or faces the
 * buttons would hide. Edges are not text: busy textures raise it, flat text on a flat
 * background may not. */

typedef struct tp_preview_options {
    unsigned version;        /* TP_PREVIEW_OPTIONS_VERSION */
    size_t frames;           /* stills, evenly spaced over the output (1..64); 0 = 4 */
    int tile_width;          /* width of each still in the PNG (16..4096 px); 0 = 270 (a quarter of
                              * 1080: the height follows the output's shape) */
    const tp_cancel *cancel; /* requested: stop, write nothing (TP_ECANCELED). May be NULL. */
} tp_preview_options;

#define TP_PREVIEW_OPTIONS_VERSION 1
#define TP_PREVIEW_OPTIONS_INIT                                                                    \
    {                                                                                              \
        .version = TP_PREVIEW_OPTIONS_VERSION                                                      \
    }

/* Defaults of `version` into *opts: 0, or TP_EINVAL (NULL, unknown version). Thread-safe. */
TP_EXTERN int tp_preview_options_init(tp_preview_options *opts, unsigned version);

/* What one tp_preview_file() made. Immutable. */
typedef struct tp_preview_result tp_preview_result;

/* The PNG written, owned by the result. */
TP_EXTERN const char *tp_preview_result_png(const tp_preview_result *result);
TP_EXTERN size_t tp_preview_result_frame_count(const tp_preview_result *result);
/* Still i (< count): where it lies in the source, in seconds (the keyframe at or before its
 * evenly spaced target); -1 when out of range. */
TP_EXTERN double tp_preview_result_frame_time(const tp_preview_result *result, size_t i);
/* Still i: the share (0..1) of high-detail pixels among those under the UI; -1 out of range. */
TP_EXTERN double tp_preview_result_frame_overlap(const tp_preview_result *result, size_t i);
/* Still i: the UI region whose share that is ("top", "bottom" or "side": the margins and the
 * button rail), a static string; NULL when out of range. */
TP_EXTERN const char *tp_preview_result_frame_region(const tp_preview_result *result, size_t i);
/* The planned output's size (the source's when it passes as it is), and the threshold used. */
TP_EXTERN void tp_preview_result_output_size(const tp_preview_result *result, int *width,
                                             int *height);
TP_EXTERN double tp_preview_result_threshold(const tp_preview_result *result);
/* 1 when some still's share is over preview.ui_overlap_threshold (the ui_overlap warning). */
TP_EXTERN int tp_preview_result_ui_overlap(const tp_preview_result *result);
/* The result as one JSON object without newline ({"path", "png", "frames": [{"time",
 * "ui_detail_share", "ui_overlap"}], "warnings": [...]}): malloc'd, the caller frees; NULL on
 * out-of-memory. Thread-safe. */
TP_EXTERN char *tp_preview_result_to_json(const tp_preview_result *result);
TP_EXTERN void tp_preview_result_free(tp_preview_result *result);

/* Preview one file as the profile would fit it: probe, check and plan it as tp_fit_file() does,
 * render opts->frames stills through the plan's own video filter graph (a file that passes or
 * is only remuxed is shown as it is), and write outdir/<stem>.preview.png (outdir is created
 * when missing; the PNG appears under its name only once complete). The source is opened once,
 * as a file; one seek and one decoded frame per still, the rest of the file is not decoded.
 * On success *out is the caller's (tp_preview_result_free()). Returns TP_EREJECT when the
 * profile refuses the file, TP_EMEDIA / TP_EIO / TP_ECANCELED / TP_EINVAL otherwise.
 * Thread-safe: previews may run at once, sharing one profile. */
TP_EXTERN int tp_preview_file(tp_preview_result **out, const tp_profile *profile, const char *path,
                              const char *outdir, const tp_preview_options *opts, tp_error *err);

/* === end section: preview ============================================================== */

/* === section: upload =================================================================== */

/* TikTok Content Posting API client (direct post or draft, FILE_UPLOAD in chunks). Log in first
 * with `tokprep auth login` (the token file is shared). Upload URLs carry a token: the resume
 * state below is secret-bearing and must be stored like the token file (mode 0600). */

/* A session for one profile (one TikTok account): HTTP connection, tokens, client-side rate
 * windows. Not thread-safe: use one session per thread (each keeps its own rate windows and
 * daily count, unless the profile's upload.tiktok.shared_limits names a Redis that all sessions,
 * processes and machines then share). The profile must outlive it. */
typedef struct tp_tiktok tp_tiktok;

/* Open a session. Reads no token yet and connects to no shared-limits Redis yet (both happen on
 * the first API call), so it cannot fail for a missing login or an unreachable Redis. The caller
 * owns *out. */
TP_EXTERN int tp_tiktok_open(tp_tiktok **out, const tp_profile *profile, tp_error *err);
TP_EXTERN void tp_tiktok_free(tp_tiktok *tt);

/* Where an interrupted upload stands. Persist it after each TP_TIKTOK_EV_CHUNK_DONE event and
 * pass it back to resume; publish_id NULL or "" means "start with a new init".
 * Ownership: the two strings belong to the struct and are malloc'd (NULL when unset). Start from
 * TP_TIKTOK_RESUME_INIT; tp_tiktok_post_file() frees and replaces them when an init answers;
 * a caller restoring saved state assigns malloc'd copies (strdup). Free them with
 * tp_tiktok_resume_clear() when done. Do not copy the struct by value while it holds strings. */
typedef struct {
    char *publish_id;
    char *upload_url;             /* contains TikTok's upload token: never log or print it */
    double upload_url_expires_at; /* epoch seconds; an expired URL means a new init */
    int next_chunk;               /* chunks [0, next_chunk) are acknowledged */
    int chunk_count;
    long long chunk_size, total; /* the plan the URL was made for: resume checks they match */
} tp_tiktok_resume;

#define TP_TIKTOK_RESUME_INIT {.publish_id = NULL}

/* Free the strings and reset rs to TP_TIKTOK_RESUME_INIT; accepts NULL. */
TP_EXTERN void tp_tiktok_resume_clear(tp_tiktok_resume *rs);

typedef enum {
    TP_TIKTOK_EV_INIT = 0,   /* init answered: resume has publish_id and upload_url */
    TP_TIKTOK_EV_BYTES,      /* bytes of the current chunk are on the wire */
    TP_TIKTOK_EV_CHUNK_DONE, /* chunk_index acknowledged: persist *resume now */
    TP_TIKTOK_EV_UPLOADED,   /* all chunks acknowledged; status polling follows */
    TP_TIKTOK_EV_STATUS      /* a status poll answered `status` */
} tp_tiktok_event_kind;

typedef struct {
    tp_tiktok_event_kind kind;
    int chunk_index, chunk_count;
    long long bytes_sent, total; /* of the whole file */
    const tp_tiktok_resume *resume;
    const char *status; /* TP_TIKTOK_EV_STATUS only */
} tp_tiktok_event;

/* Called on the posting thread; keep it short. `ev` is valid during the call only. */
typedef void (*tp_tiktok_progress_cb)(const tp_tiktok_event *ev, void *payload);

/* The settings of one direct post chosen by a person (upload.tiktok.review, `tokprep review
 * approve`, the console's review page), replacing the profile's upload.tiktok.privacy_level,
 * disable_comment/duet/stitch and brand toggles for that post. Zero means off: interactions not
 * allowed, no commercial content. Strings are borrowed. */
typedef struct tp_post_settings {
    unsigned version;          /* TP_POST_SETTINGS_VERSION */
    const char *privacy_level; /* required: one of the creator's privacy_level_options */
    const char *caption;       /* NULL: the caption the pipeline proposed (sidecar, template) */
    int allow_comment, allow_duet, allow_stitch; /* sent as disable_* = !allow_* */
    int brand_organic;         /* "Your brand" (promotional content): brand_organic_toggle */
    int brand_content;         /* "Branded content" (paid partnership): brand_content_toggle;
                                * TikTok refuses it with SELF_ONLY */
} tp_post_settings;

#define TP_POST_SETTINGS_VERSION 1
#define TP_POST_SETTINGS_INIT {.version = TP_POST_SETTINGS_VERSION}

/* Defaults of `version` into *s: 0, or TP_EINVAL (NULL, unknown version). Thread-safe. */
TP_EXTERN int tp_post_settings_init(tp_post_settings *s, unsigned version);
/* Is s a post TikTok can accept: privacy_level set and one of TikTok's four levels, branded
 * content not SELF_ONLY, caption (when set) valid UTF-8 of at most 2,200 UTF-16 code units.
 * 0, or TP_EINVAL with a message that says what to change. Thread-safe. */
TP_EXTERN int tp_post_settings_validate(const tp_post_settings *s, tp_error *err);

/* What creator_info says of the logged-in creator. Opaque, immutable; strings owned by it. */
typedef struct tp_creator_info tp_creator_info;

/* Ask TikTok (creator_info/query, rate-limited 20/min per token: cache it). 0 and *out, or a
 * negative TP_E* as tp_tiktok_post_file(). Not thread-safe for one session. */
TP_EXTERN int tp_tiktok_creator_info(tp_creator_info **out, tp_tiktok *tt, tp_error *err);
TP_EXTERN const char *tp_creator_info_username(const tp_creator_info *ci);
TP_EXTERN const char *tp_creator_info_nickname(const tp_creator_info *ci);
/* The avatar's URL as TikTok sent it (expires after about 2 h), "" when none. */
TP_EXTERN const char *tp_creator_info_avatar_url(const tp_creator_info *ci);
TP_EXTERN size_t tp_creator_info_privacy_count(const tp_creator_info *ci);
/* privacy_level_options[i] in TikTok's order, or NULL when i is out of range. */
TP_EXTERN const char *tp_creator_info_privacy(const tp_creator_info *ci, size_t i);
TP_EXTERN int tp_creator_info_comment_disabled(const tp_creator_info *ci);
TP_EXTERN int tp_creator_info_duet_disabled(const tp_creator_info *ci);
TP_EXTERN int tp_creator_info_stitch_disabled(const tp_creator_info *ci);
/* max_video_post_duration_sec, 0 when not sent. */
TP_EXTERN int64_t tp_creator_info_max_duration(const tp_creator_info *ci);
/* {"username", "nickname", "avatar_url", "privacy_level_options": [...], "comment_disabled",
 * "duet_disabled", "stitch_disabled", "max_video_post_duration_sec"}; malloc'd, NULL on OOM. */
TP_EXTERN char *tp_creator_info_to_json(const tp_creator_info *ci);
TP_EXTERN void tp_creator_info_free(tp_creator_info *ci);

typedef struct tp_tiktok_post_options {
    unsigned version;          /* TP_TIKTOK_POST_OPTIONS_VERSION */
    const char *caption;       /* NULL: sidecar <stem>.txt, else the profile's template */
    double duration;           /* seconds from the probe; < 0 = unknown (not checked) */
    const char *content_type;  /* NULL: from the file's first bytes (mp4, mov, webm) */
    tp_tiktok_resume *resume;  /* optional, in/out */
    int wait_status;           /* poll status/fetch until done or status_deadline (1) */
    tp_tiktok_progress_cb progress;
    void *payload;
    const tp_cancel *cancel;   /* requested: abort (checked in curl's progress callback) */
    /* >= 0: post_info.video_cover_timestamp_ms (the fit placed a cover image there); -1: the
     * profile's upload.tiktok.video_cover_timestamp_ms */
    long long cover_timestamp_ms;
    /* Added in version 2. Non-NULL: this post's settings as a person approved them (its
     * caption, when set, replaces `caption`); NULL: the profile's. */
    const tp_post_settings *settings;
} tp_tiktok_post_options;

#define TP_TIKTOK_POST_OPTIONS_VERSION 2
#define TP_TIKTOK_POST_OPTIONS_INIT                                                                \
    {.version = TP_TIKTOK_POST_OPTIONS_VERSION, .duration = -1.0, .wait_status = 1,              \
     .cover_timestamp_ms = -1}

/* Defaults of `version` into *opts: 0, or TP_EINVAL (NULL, unknown version). Thread-safe. */
TP_EXTERN int tp_tiktok_post_options_init(tp_tiktok_post_options *opts, unsigned version);

/* The outcome of a post or status fetch. Ownership: the strings are malloc'd and belong to the
 * struct, NULL when there is none. tp_tiktok_post_file() and tp_tiktok_fetch_status() fill *out
 * from scratch (what it held before is not read and not freed), so call tp_tiktok_result_clear()
 * after each use, before the struct is filled again or goes away. */
typedef struct {
    char *publish_id;
    char *status;         /* PUBLISH_COMPLETE, SEND_TO_USER_INBOX, FAILED, or the last
                             PROCESSING_* when status_deadline passed / wait_status was 0 */
    int still_processing; /* 1 when polling stopped before a terminal status */
    char *fail_reason;
    long long post_id;    /* first publicaly_available_post_id, 0 when none (yet) */
    long long bytes;
    double retry_at;      /* epoch seconds when a TP_ERATE failure can be retried, else 0 */
    char *api_code;       /* TikTok's error.code of the failing call, NULL when none */
    char *log_id;
    /* status FAILED: the rule that should have caught fail_reason (tp_tiktok_fail_rule());
     * a static string, not freed; NULL otherwise */
    const char *rule;
} tp_tiktok_result;

#define TP_TIKTOK_RESULT_INIT {.publish_id = NULL}

/* Free the strings and reset res to TP_TIKTOK_RESULT_INIT; accepts NULL. */
TP_EXTERN void tp_tiktok_result_clear(tp_tiktok_result *res);

/* The rule a post's fail_reason maps to: the violation code `check` uses for the property
 * TikTok refused (file_format_check_failed → "container", duration_check_failed →
 * "duration_too_long", frame_rate_check_failed → "fps", picture_size_check_failed →
 * "too_large_dims"), a tiktok_* code for reasons that name no file property (internal,
 * auth_removed, spam_risk_*, publish_cancelled, video_pull_failed), "tiktok_failed" for NULL or
 * an unknown reason. A static string, never NULL. Thread-safe. */
TP_EXTERN const char *tp_tiktok_fail_rule(const char *fail_reason);
/* 1 when a strict re-fit can cure fail_reason (the four file checks), else 0. Thread-safe. */
TP_EXTERN int tp_tiktok_fail_refittable(const char *fail_reason);

/* Post one file: creator_info checks (direct mode), init, chunked PUTs with retries, status
 * polling. Returns 0 when TikTok accepted it (check out->still_processing), TP_EREJECT when
 * TikTok or the creator's settings refuse the file (FAILED + fail_reason, privacy/duration/
 * caption), TP_ERATE (daily_limit reached or rate limited; see out->retry_at), TP_EAUTH
 * (log in again), TP_ENET / TP_EHTTP (transient or API errors, message has TikTok's code and
 * log_id), TP_ECANCELED, TP_EIO. An init is never repeated after a failure whose effect is
 * unknown, so a retry by the caller cannot post twice unless it ignores the resume state.
 * `opts` may be NULL (defaults); an unknown opts->version is TP_EINVAL.
 * Not thread-safe for one session. */
TP_EXTERN int tp_tiktok_post_file(tp_tiktok_result *out, tp_tiktok *tt, const char *path,
                        const tp_tiktok_post_options *opts, tp_error *err);

/* One status/fetch for publish_id (e.g. after still_processing). Fills status, fail_reason,
 * post_id, still_processing. Not thread-safe for one session. */
TP_EXTERN int tp_tiktok_fetch_status(tp_tiktok_result *out, tp_tiktok *tt, const char *publish_id,
                           tp_error *err);

/* Post one file as tp_tiktok_post_file() does, after measuring its duration (a bounded probe
 * with the session profile's limits) on the same open descriptor the bytes are then posted
 * from, so creator_info's max_video_post_duration_sec is checked against the file that is sent.
 * opts->duration >= 0 skips the probe; a file whose duration cannot be measured is posted with
 * the duration unknown (a warning is logged). Returns as tp_tiktok_post_file(); TP_EIO with
 * out->bytes 0 when the file cannot be opened. Not thread-safe for one session. */
TP_EXTERN int tp_tiktok_post_media(tp_tiktok_result *out, tp_tiktok *tt, const char *path,
                                   const tp_tiktok_post_options *opts, tp_error *err);

/* The resume state in a file, kept like the token file (it holds the upload URL's token):
 * load refuses a file readable or writable by group/others or not owned by the user; save
 * writes atomically with mode 0600, creating missing folders with mode 0700.
 * load returns 0 with *out filled, 1 when path does not exist (*out untouched), or a negative
 * TP_E* (TP_EIO, TP_EINVAL for a file that is not resume state). save returns 0 or TP_EIO /
 * TP_ENOMEM. Thread-safe for distinct files. */
TP_EXTERN int tp_tiktok_resume_load(tp_tiktok_resume *out, const char *path, tp_error *err);
TP_EXTERN int tp_tiktok_resume_save(const char *path, const tp_tiktok_resume *resume,
                                    tp_error *err);

/* === end section: upload =============================================================== */

/* === section: auth ===================================================================== */

/* TikTok Login Kit for desktop (OAuth 2 with PKCE, loopback redirect) and the token file of a
 * profile (upload.tiktok.token_file, else $XDG_CONFIG_HOME/tokprep/<profile>.json; mode 0600).
 * Needs TIKTOK_CLIENT_KEY and TIKTOK_CLIENT_SECRET or the profile's values. Tokens never leave
 * the library: what the calls below return is the non-secret part (tp_auth_info). */

/* The account behind a token file: open_id, granted scopes and expiry times. Opaque, immutable;
 * free with tp_auth_info_free(). */
typedef struct tp_auth_info tp_auth_info;

/* The profile's token file path into buf (size bytes). 0, or TP_ECONFIG (no home, path too
 * long). Thread-safe. */
TP_EXTERN int tp_auth_token_path(char *buf, size_t size, const tp_profile *profile, tp_error *err);

typedef struct tp_auth_login_options {
    unsigned version;     /* TP_AUTH_LOGIN_OPTIONS_VERSION */
    int no_browser;       /* do not run xdg-open: only print the address */
    int no_wait;          /* print the address, keep state and verifier (PATH.pending), return 1;
                           * finish later with code_url */
    const char *code_url; /* the address the browser landed on: finish a login started with
                           * no_wait */
    double wait;          /* seconds to wait for the browser's redirect; <= 0 = 300 */
    FILE *out;            /* where the address and instructions go; NULL = stdout */
    /* Requested: ends the wait (TP_ECANCELED, no PATH.pending left behind). May be NULL. */
    const tp_cancel *cancel;
} tp_auth_login_options;

#define TP_AUTH_LOGIN_OPTIONS_VERSION 1
#define TP_AUTH_LOGIN_OPTIONS_INIT                                                                 \
    {                                                                                              \
        .version = TP_AUTH_LOGIN_OPTIONS_VERSION, .wait = 300.0                                    \
    }
/* Fill opts with TP_AUTH_LOGIN_OPTIONS_INIT; TP_EINVAL for an unknown version. */
TP_EXTERN int tp_auth_login_options_init(tp_auth_login_options *opts, unsigned version);

/* The token file as it stands, without network: 0 and *out, TP_EAUTH when not logged in (no
 * token file), TP_EIO when the file is unsafe (group/other access, not ours, not a regular
 * file) or unreadable. An expired refresh token is still 0: compare the times. Thread-safe. */
TP_EXTERN int tp_auth_status(tp_auth_info **out, const tp_profile *profile, tp_error *err);
/* Log in (opts may be NULL) and save the token file. 0 and *out; 1 when opts->no_wait stopped
 * after printing the address (*out NULL); else a negative TP_E* (TP_EAUTH refused,
 * TP_ECANCELED, TP_ENET, TP_EHTTP, TP_ECONFIG, TP_EIO). Not to be run twice at once for one
 * profile. */
TP_EXTERN int tp_auth_login(tp_auth_info **out, const tp_profile *profile,
                            const tp_auth_login_options *opts, tp_error *err);
/* Refresh the access token now and save the rotated tokens (an flock on PATH.lock keeps two
 * processes from spending one refresh token). 0 and *out, or a negative TP_E*. Thread-safe. */
TP_EXTERN int tp_auth_refresh(tp_auth_info **out, const tp_profile *profile, tp_error *err);
/* Revoke the token at TikTok (best effort) and delete the token file. 0 or a negative TP_E*. */
TP_EXTERN int tp_auth_logout(const tp_profile *profile, tp_error *err);

/* Accessors; strings owned by the info. Times are epoch seconds, 0 when unknown. */
TP_EXTERN const char *tp_auth_info_open_id(const tp_auth_info *info);
TP_EXTERN const char *tp_auth_info_scope(const tp_auth_info *info);
TP_EXTERN int64_t tp_auth_info_expires_at(const tp_auth_info *info);
TP_EXTERN int64_t tp_auth_info_refresh_expires_at(const tp_auth_info *info);
/* Accepts NULL. */
TP_EXTERN void tp_auth_info_free(tp_auth_info *info);

/* === end section: auth ================================================================= */

/* === section: pipeline ================================================================= */

/* Run a pipeline (scan → probe → fit → chunk → deliver) over files and folders, with a crash-safe
 * job ledger (SQLite) so a re-run resumes and the same content is never delivered twice to the
 * same sink under the same profile. Events report progress; the options' cancel token stops it. */

typedef enum {
    TP_EVENT_DISCOVERED = 0, /* a file was found (path) */
    TP_EVENT_PROBED,         /* verdict, action known */
    TP_EVENT_FIT_STARTED,    /* action */
    TP_EVENT_FIT_PROGRESS,   /* fraction, fps */
    TP_EVENT_FIT_DONE,       /* outputs */
    TP_EVENT_CHUNKED,        /* chunks, bytes */
    TP_EVENT_UPLOAD_PROGRESS, /* bytes, total, fraction */
    TP_EVENT_UPLOADED,       /* handed to the sink: outputs, publish_id (tiktok) */
    TP_EVENT_FAILED,         /* stage, error_code, reason; final_failure = not retried */
    TP_EVENT_SKIPPED,        /* reason (done before, duplicate, rejected, deferred), verdict */
    TP_EVENT_SUMMARY,        /* counts; path is NULL */
    TP_EVENT_AWAITING_REVIEW /* (version 3) fitted and parked for review (upload.tiktok.review):
                              * outputs; ends the file's run like UPLOADED */
} tp_event_kind;
/* Each discovered file ends a run with exactly one UPLOADED, AWAITING_REVIEW, SKIPPED, or FAILED
 * with final_failure set, unless the run is cancelled first. */

/* One event. Every pointer is owned by the pipeline and valid only during the callback.
 * Fields may be added at the end in later versions: check `version` before reading a field
 * added after v1 (each says from which version it exists). */
typedef struct tp_event {
    unsigned version;      /* TP_EVENT_VERSION of the library that made it */
    tp_event_kind kind;
    double ts;             /* wall clock, seconds since the epoch */
    const char *path;      /* the source file (NULL for summary) */
    const char *stage;     /* failed: scan, probe, fit, chunk, deliver */
    const char *verdict;   /* probed, skipped: pass, fix, reject, error (or NULL) */
    const char *action;    /* probed, fit_started: none, remux, transcode */
    const char *reason;    /* failed, skipped: why; probed: reject reason */
    const char *error_code; /* failed: tp_error_name() of the code */
    const char *fingerprint; /* content fingerprint (SHA-256 hex) when known */
    const char *publish_id;  /* uploaded (tiktok sink) */
    const char *const *outputs; /* fit_done: fitted files; uploaded: delivered files
                                 * (directory), publish ids (tiktok), kept outputs (none) */
    size_t n_outputs;
    double fraction;       /* fit_progress, upload_progress: 0..1 */
    double fps;            /* fit_progress: frames per second of processing */
    int64_t bytes, total;  /* upload_progress: bytes sent / total; chunked: total bytes */
    size_t chunks;         /* chunked: total chunk count over all outputs */
    int final_failure;     /* failed: 1 = recorded as failed, 0 = will be retried */
    /* summary: files by outcome in this run, and elapsed seconds */
    size_t n_discovered, n_done, n_skipped, n_rejected, n_failed;
    double elapsed;
    /* summary: files found in folders and left out without a job: neither media content nor
     * a media name (n_non_media), symbolic links not followed (n_symlinks) */
    size_t n_non_media, n_symlinks;
    double retry_at; /* skipped (deferred by a daily cap or a long rate limit): epoch seconds
                      * when it can be tried again; else 0 */
    const char *worker; /* events of a queue worker's job: the worker's name; else NULL */
    /* Added in version 2. summary: files left queued in the ledger (a run stopped early: the
     * same command resumes them); files of this run skipped because an earlier run of the same
     * ledger rejected them / recorded them as failed (also counted in n_skipped). */
    size_t n_queued, n_earlier_rejected, n_earlier_failed;
    /* Added in version 3. summary: files parked for review in this run; awaiting_review: the
     * ledger row's id (also set on uploaded and failed events from version 3, else 0) */
    size_t n_awaiting_review;
    int64_t id;
} tp_event;

#define TP_EVENT_VERSION 3

/* Called on the thread that runs tp_pipeline_run(), never concurrently, in order. It should
 * return quickly (the coordinator waits for it). */
typedef void (*tp_event_cb)(const tp_event *event, void *payload);

/* Short stable name of an event kind ("discovered", "fit_progress", ...). Thread-safe. */
TP_EXTERN const char *tp_event_name(tp_event_kind kind);
/* The event as one line of JSON without newline: {"ts": "...Z", "event": "...", "path": ..., ...}.
 * Returns a malloc'd string the caller frees, or NULL on out-of-memory. Thread-safe. */
TP_EXTERN char *tp_event_to_json(const tp_event *event);

typedef struct tp_pipeline_options {
    unsigned version;       /* TP_PIPELINE_OPTIONS_VERSION */
    const char *workdir;    /* fitted outputs under WORKDIR/out/; NULL = "./tokprep-work" */
    const char *state_path; /* the ledger; NULL = WORKDIR/tokprep.db */
    int watch;              /* keep running and take new files from the folders (inotify) */
    int force;              /* redo content the ledger says is done */
    tp_event_cb on_event;   /* NULL = no events */
    void *payload;          /* passed to on_event */
    int follow_symlinks;    /* follow symbolic links found in folders, never out of the folder
                             * (default: not followed, counted in the summary) */
    /* Requested: stop the run. No new work is taken, fits in flight are abandoned (their
     * temporary outputs removed), uploads checkpoint; tp_pipeline_run() returns TP_ECANCELED
     * well under 2 s later. NULL = the run is only stopped by its end. */
    const tp_cancel *cancel;
} tp_pipeline_options;

#define TP_PIPELINE_OPTIONS_VERSION 1
#define TP_PIPELINE_OPTIONS_INIT {.version = TP_PIPELINE_OPTIONS_VERSION}

/* Defaults of `version` into *opts: 0, or TP_EINVAL (NULL, unknown version). Thread-safe. */
TP_EXTERN int tp_pipeline_options_init(tp_pipeline_options *opts, unsigned version);

/* Outcome counts of one tp_pipeline_run(). Filled by the library: fields may be added at the
 * end; check `version` before reading one added after v1. */
typedef struct tp_pipeline_summary {
    unsigned version; /* TP_PIPELINE_SUMMARY_VERSION */
    size_t discovered, done, skipped, rejected, failed;
    int canceled; /* 1 when stopped by the options' cancel token */
    size_t non_media, symlinks; /* left out by the folder walk: see tp_event */
    /* Added in version 2: see tp_event's n_queued, n_earlier_rejected, n_earlier_failed. */
    size_t queued, earlier_rejected, earlier_failed;
    /* Added in version 3: files parked for review (upload.tiktok.review) in this run. */
    size_t awaiting_review;
} tp_pipeline_summary;

#define TP_PIPELINE_SUMMARY_VERSION 3

typedef struct tp_pipeline tp_pipeline;

/* Create a pipeline for `profile` (borrowed: it must outlive the pipeline) and open its ledger,
 * creating WORKDIR. `opts` is copied; the strings it points to must stay valid until
 * tp_pipeline_free(). Takes the ledger's lock: a second pipeline on the same ledger (in any
 * process) gets TP_ECONFLICT with a message naming the holder. The caller owns *out.
 * Not thread-safe: one thread creates, runs and frees a pipeline. */
TP_EXTERN int tp_pipeline_new(tp_pipeline **out, const tp_profile *profile, const tp_pipeline_options *opts,
                    tp_error *err);

/* Process `paths` (files, and folders walked recursively for video files) until all are done,
 * or, with opts.watch, until cancelled. Worker threads come from the profile's `pipeline`
 * section; they are joined before this returns. Fills *summary (may be NULL).
 * Returns 0 when it ran to the end (individual files may have failed: see the summary),
 * TP_ECANCELED once the options' cancel token was requested, or another negative TP_E* for a
 * failure of the run itself (ledger, work folder). Call at most once per pipeline. */
TP_EXTERN int tp_pipeline_run(tp_pipeline *pipeline, const char *const *paths, size_t n_paths,
                    tp_pipeline_summary *summary, tp_error *err);

/* Check before work, without network and without creating anything: what the profile's sink
 * needs to deliver the outputs of `paths` (may be 0 paths: then no space estimate).
 * tiktok: the client key and secret are set and the token file exists and holds a usable
 * access token or an unexpired refresh token; directory: upload.directory.path exists or can
 * be created, a file can be created in it, and its file system has free space for the planned
 * outputs (estimated as the total size of the input files: an upper bound for pass-through and
 * remux, and for transcodes that fit to the profile's limits); none: nothing.
 * Returns 0, or TP_EAUTH (not logged in, login expired), TP_ECONFIG (client key/secret or sink
 * folder not set), TP_EIO (folder not writable, not enough space) with a message that names the
 * command to run (`tokprep auth login --profile P` with tp_profile_opened_as()). Thread-safe. */
TP_EXTERN int tp_pipeline_preflight(const tp_profile *profile, const char *const *paths,
                                    size_t n_paths, tp_error *err);

/* Close the ledger and free. Accepts NULL. Not while tp_pipeline_run() is running. */
TP_EXTERN void tp_pipeline_free(tp_pipeline *pipeline);

/* What a ledger holds: counts by job status and by stage, and the failed and rejected files.
 * Opaque and immutable once returned (read it from any thread); strings are owned by it and
 * live until tp_ledger_status_free(). */
typedef struct tp_ledger_status tp_ledger_status;

/* One failed or rejected file of a ledger. Owned by its tp_ledger_status. */
typedef struct tp_ledger_item {
    const char *path;        /* the source file */
    const char *stage;       /* scan, probe, fit, chunk, deliver */
    const char *error;       /* tp_error_name() of the failure ("" when none) */
    const char *reason;      /* why ("" when none) */
    size_t attempts;
    const char *fingerprint; /* content fingerprint (SHA-256 hex) */
    /* tiktok sink: every post of the file as a JSON array, the ones TikTok ended FAILED
     * included ({"publish_id", "status": "FAILED", "failed": true, "part", "fail_reason",
     * "rule", "refit"}); "" when none */
    const char *posts;
} tp_ledger_item;

/* Read the ledger at state_path. Read-only: works while a run holds the ledger. The caller
 * owns *out (free with tp_ledger_status_free()). Thread-safe (own connection per call). */
TP_EXTERN int tp_pipeline_status(tp_ledger_status **out, const char *state_path, tp_error *err);
TP_EXTERN void tp_ledger_status_free(tp_ledger_status *status);

TP_EXTERN const char *tp_ledger_status_state_path(const tp_ledger_status *status);
/* Files in the ledger. */
TP_EXTERN size_t tp_ledger_status_total(const tp_ledger_status *status);
/* Counts by job status (queued, running, done, skipped, failed, rejected): how many statuses
 * occur, and status i (< that count) in the order first met in the ledger. Returns 0, or
 * TP_EINVAL when i is out of range. Out-params may be NULL. */
TP_EXTERN size_t tp_ledger_status_status_count(const tp_ledger_status *status);
TP_EXTERN int tp_ledger_status_status(const tp_ledger_status *status, size_t i, const char **name,
                                      size_t *n);
/* Queued or running files by stage, the same way. */
TP_EXTERN size_t tp_ledger_status_stage_count(const tp_ledger_status *status);
TP_EXTERN int tp_ledger_status_stage(const tp_ledger_status *status, size_t i, const char **name,
                                     size_t *n);
/* Failed (retried by tp_pipeline_retry()) and rejected files: item i (< count), or NULL. */
TP_EXTERN size_t tp_ledger_status_failed_count(const tp_ledger_status *status);
TP_EXTERN const tp_ledger_item *tp_ledger_status_failed(const tp_ledger_status *status, size_t i);
TP_EXTERN size_t tp_ledger_status_rejected_count(const tp_ledger_status *status);
TP_EXTERN const tp_ledger_item *tp_ledger_status_rejected(const tp_ledger_status *status,
                                                          size_t i);
/* Files with a post TikTok ended FAILED (whatever their status now: a strict re-fit may have
 * been posted since): item i (< count), or NULL; item->posts lists every attempt. */
TP_EXTERN size_t tp_ledger_status_refused_count(const tp_ledger_status *status);
TP_EXTERN const tp_ledger_item *tp_ledger_status_refused(const tp_ledger_status *status, size_t i);
/* The status as the JSON document of `tokprep status --json`: {"state", "total",
 * "by_status": {status: n}, "pending_by_stage": {stage: n}, "failed": [{"path", "stage",
 * "error", "reason", "attempts", "fingerprint", "posts" (when any)}], "rejected": [...],
 * "refused": [... with "status" and "posts": the files TikTok ended a post FAILED for]}.
 * malloc'd, the caller frees it with free(); NULL when out of memory. Thread-safe. */
TP_EXTERN char *tp_ledger_status_to_json(const tp_ledger_status *status);

/* Re-queue every failed file in the ledger (attempts reset); the next tp_pipeline_run() over
 * them processes them again. *n_requeued = how many. TP_ECONFLICT while a run holds the
 * ledger. Thread-safe. */
TP_EXTERN int tp_pipeline_retry(size_t *n_requeued, const char *state_path, tp_error *err);

/* Every file of a ledger with what the console and `/api/files` show of it. Read-only: works
 * while a run holds the ledger. Opaque and immutable once returned; strings are owned by it. */
typedef struct tp_ledger_files tp_ledger_files;

typedef struct tp_ledger_file {
    int64_t id;              /* the ledger row: stable, the console's /files/ID */
    const char *path;        /* the source file */
    const char *status;      /* queued, running, done, failed, rejected, awaiting_review */
    const char *stage;       /* scan, probe, fit, chunk, deliver, done */
    const char *verdict;     /* pass, fix, reject, error; "" before probing */
    const char *action;      /* none, remux, transcode; "" before probing */
    const char *sink;        /* none, directory:PATH, tiktok:PROFILE */
    const char *profile;     /* the profile's name */
    const char *fingerprint; /* content fingerprint (SHA-256 hex) */
    int64_t source_size;     /* bytes */
    int64_t output_size;     /* bytes of all fitted outputs, 0 before the fit */
    double created, updated, finished; /* epoch seconds; finished 0 while not final */
    const char *error;       /* tp_error_name() of the failure, "" when none */
    const char *reason;      /* the failure's or rejection's message, "" when none */
    size_t attempts;
    /* JSON texts, "" when none: the source's media info (as `check --json`'s "media"), the
     * outputs with their chunk plans and SHA-256, the TikTok posts (as tp_ledger_item.posts),
     * and the review ({"caption"} while awaiting, then the approved settings) */
    const char *media, *outputs, *posts, *review;
} tp_ledger_file;

typedef struct tp_ledger_files_options {
    unsigned version;   /* TP_LEDGER_FILES_OPTIONS_VERSION */
    int64_t id;         /* > 0: only this row */
    const char *status; /* NULL: all; else only this status (e.g. "awaiting_review") */
} tp_ledger_files_options;

#define TP_LEDGER_FILES_OPTIONS_VERSION 1
#define TP_LEDGER_FILES_OPTIONS_INIT {.version = TP_LEDGER_FILES_OPTIONS_VERSION}
TP_EXTERN int tp_ledger_files_options_init(tp_ledger_files_options *opts, unsigned version);

/* Read the ledger at state_path (opts may be NULL: all rows), ordered by id. 0 and *out (free
 * with tp_ledger_files_free()), TP_EIO when there is no ledger. Thread-safe. */
TP_EXTERN int tp_ledger_files_read(tp_ledger_files **out, const char *state_path,
                                   const tp_ledger_files_options *opts, tp_error *err);
TP_EXTERN size_t tp_ledger_files_count(const tp_ledger_files *files);
/* File i (< count), or NULL. */
TP_EXTERN const tp_ledger_file *tp_ledger_files_at(const tp_ledger_files *files, size_t i);
/* One file as a JSON object: the scalar fields by their names above, times as
 * tp_time_format() ISO strings, and "media", "outputs", "posts", "review" embedded as JSON
 * (null when none). malloc'd, NULL on OOM. Thread-safe. */
TP_EXTERN char *tp_ledger_file_to_json(const tp_ledger_file *file);
/* {"state": PATH, "files": [tp_ledger_file_to_json()...]}; malloc'd, NULL on OOM. */
TP_EXTERN char *tp_ledger_files_to_json(const tp_ledger_files *files);
TP_EXTERN void tp_ledger_files_free(tp_ledger_files *files);

/* What `check` says of a ledger file's recorded media under `profile`, without opening the
 * source: violations with codes and hints, verdict, action (read it with tp_check_*(), free
 * with tp_check_free()). TP_EINVAL when the file has no recorded media (not probed yet, or a
 * ledger from before schema 2). Thread-safe. */
TP_EXTERN int tp_ledger_file_check(tp_check **out, const tp_profile *profile,
                                   const tp_ledger_file *file, tp_error *err);

/* The events log of a ledger: every tp_pipeline_run() on state_path appends each of its events
 * as one line of tp_event_to_json() (progress events at most twice a second per file) to
 * STATE.events (mode 0600; renamed to STATE.events.1 past 8 MiB), so another process (`tokprep
 * serve`) can follow a run. Writes that path into buf. 0, or TP_EINVAL when it does not fit. */
TP_EXTERN int tp_events_log_path(char *buf, size_t size, const char *state_path);

/* === end section: pipeline ============================================================= */

/* === section: review =================================================================== */

/* upload.tiktok.review: true parks each fitted file for the TikTok sink as `awaiting_review`
 * instead of posting it. A person approves it with the post's settings (tp_post_settings) or
 * rejects it; an approved file is queued at the deliver stage and posted by the running
 * pipeline (within a few seconds) or the next run on that ledger, with exactly those settings.
 * These calls write the ledger while a run holds it (one conditional UPDATE each). */

/* Approve row `id`: record the settings and queue it for posting. 0; TP_EINVAL (bad settings,
 * see tp_post_settings_validate(), or no such id); TP_ECONFLICT when the row is not awaiting
 * review (already approved, rejected, or never parked); TP_EIO. Thread-safe. */
TP_EXTERN int tp_review_approve(const char *state_path, int64_t id,
                                const tp_post_settings *settings, tp_error *err);
/* Reject row `id` (final: status rejected, reason "rejected in review[: REASON]"). reason may be
 * NULL. Returns as tp_review_approve(). Thread-safe. */
TP_EXTERN int tp_review_reject(const char *state_path, int64_t id, const char *reason,
                               tp_error *err);

/* === end section: review =============================================================== */

/* === section: queue ==================================================================== */

/* Scale-out over Redis Streams: `enqueue` adds one job per file to a named queue on a Redis
 * server, any number of workers (processes, machines) take the jobs and run the pipeline on
 * them, and `status` reports the queue. URLs are redis://[[USER]:PASSWORD@]HOST[:PORT]/NAME;
 * the password may also come from TOKPREP_REDIS_PASSWORD and is never printed. Paths must be
 * on storage every worker sees under the same name. Redis layout: docs/ARCHITECTURE.md. */

/* One file handled by tp_rqueue_enqueue(). Pointers are valid during the callback only. */
typedef struct {
    const char *path;        /* absolute path queued (as given when it could not be read) */
    const char *fingerprint; /* content fingerprint; NULL when the file could not be read */
    int added;               /* 1 = a new job; 0 = this content x profile already had one */
    const char *state;       /* the job's state: queued, running, done, failed, rejected, dead */
    const char *error;       /* the file could not be read: why (state is then NULL) */
} tp_rqueue_item;

typedef void (*tp_rqueue_item_cb)(const tp_rqueue_item *item, void *payload);

/* Filled by the library: fields may be added at the end (check `version`). */
typedef struct tp_rqueue_enqueue_summary {
    unsigned version; /* TP_RQUEUE_ENQUEUE_SUMMARY_VERSION */
    size_t added, existing, errors;
} tp_rqueue_enqueue_summary;

#define TP_RQUEUE_ENQUEUE_SUMMARY_VERSION 1

/* Scan paths (files, and folders walked for media as `run` does: symbolic links found in folders
 * followed only with follow_symlinks, and never out of the folder; a file named like video whose
 * content is not media is an error item), fingerprint each file and add
 * a job for each content x profile not yet in the queue (one Lua script per file, so two
 * enqueuers never add the same job twice). profile: name or path the workers resolve; NULL or
 * "" = each worker's default. on_item (may be NULL) is called once per file, in order.
 * Returns 0 (files that could not be read are counted in summary->errors), or a negative
 * TP_E* when the queue cannot be used: TP_EINVAL bad URL, TP_ENET unreachable, TP_EAUTH.
 * Thread-safe (own connection per call). */
TP_EXTERN int tp_rqueue_enqueue(tp_rqueue_enqueue_summary *summary, const char *url, const char *profile,
                     const char *const *paths, size_t n_paths, int follow_symlinks,
                     tp_rqueue_item_cb on_item, void *payload, tp_error *err);

/* tp_rqueue_enqueue_with_options(): what tp_rqueue_enqueue() takes, plus profile overrides. */
typedef struct tp_rqueue_enqueue_options {
    unsigned version;    /* TP_RQUEUE_ENQUEUE_OPTIONS_VERSION */
    const char *profile; /* as tp_rqueue_enqueue()'s profile */
    /* KEY=VALUE overrides stored with each job (one line each: no newline in a value); a
     * worker applies them to the job's profile, before its own --set, only when started with
     * allow_job_sets (else it dead-letters the job). Part of the job's identity: the same
     * content with other overrides is another job. */
    const char *const *sets;
    size_t n_sets;
    int follow_symlinks;
} tp_rqueue_enqueue_options;

#define TP_RQUEUE_ENQUEUE_OPTIONS_VERSION 1
#define TP_RQUEUE_ENQUEUE_OPTIONS_INIT {.version = TP_RQUEUE_ENQUEUE_OPTIONS_VERSION}

/* Defaults of `version` into *opts: 0, or TP_EINVAL (NULL, unknown version). Thread-safe. */
TP_EXTERN int tp_rqueue_enqueue_options_init(tp_rqueue_enqueue_options *opts, unsigned version);
/* tp_rqueue_enqueue() with options (opts NULL: the defaults). TP_EINVAL also for a set that is
 * not KEY=VALUE on one line. Thread-safe (own connection per call). */
TP_EXTERN int tp_rqueue_enqueue_with_options(tp_rqueue_enqueue_summary *summary, const char *url,
                                             const char *const *paths, size_t n_paths,
                                             const tp_rqueue_enqueue_options *opts,
                                             tp_rqueue_item_cb on_item, void *payload,
                                             tp_error *err);

typedef enum {
    TP_RQUEUE_JOB_STARTED = 0, /* the worker took the job (claim held, attempt counted) */
    TP_RQUEUE_JOB_FINISHED     /* its outcome is recorded in Redis */
} tp_rqueue_job_kind;

/* A job-level event of a worker. Pointers are valid during the callback only. Fields may be
 * added at the end: check `version` before reading one added after v1. */
typedef struct tp_rqueue_job_event {
    unsigned version;        /* TP_RQUEUE_JOB_EVENT_VERSION */
    tp_rqueue_job_kind kind;
    double ts;               /* wall clock, seconds since the epoch */
    const char *worker;      /* consumer name */
    const char *path;
    const char *fingerprint;
    const char *profile;     /* as enqueued ("" = the worker's default) */
    const char *state;       /* finished: done, rejected, failed (retried later), dead,
                              * requeued (interrupted; not an attempt), deferred (a daily
                              * cap or long rate limit: delayed set; not an attempt) */
    const char *reason;      /* finished and not done: why */
    int attempt, max_attempts;
    int reclaimed;           /* started: taken over from a worker that stopped answering */
    double elapsed;          /* finished: seconds since started */
} tp_rqueue_job_event;

#define TP_RQUEUE_JOB_EVENT_VERSION 1

typedef void (*tp_rqueue_job_cb)(const tp_rqueue_job_event *event, void *payload);
/* The job event as one line of JSON without newline, as `tokprep worker --json` prints it:
 * {"ts", "event": "job_started"|"job_finished", "worker", "path", "fingerprint", "profile",
 * "state", "reason", "attempt", "max_attempts", "reclaimed", "elapsed" (finished)}. Returns a
 * malloc'd string the caller frees, or NULL on out-of-memory. Thread-safe. */
TP_EXTERN char *tp_rqueue_job_event_to_json(const tp_rqueue_job_event *event);

typedef struct tp_rqueue_worker_options {
    unsigned version;        /* TP_RQUEUE_WORKER_OPTIONS_VERSION */
    const char *name;        /* consumer name, unique per worker; NULL = HOSTNAME-PID */
    const char *workdir;     /* local work folder and ledger; NULL = ./tokprep-work/worker-NAME */
    const char *profile;     /* default profile (jobs enqueued without one) and the queue.*
                              * settings; NULL = "tiktok" */
    const char *const *sets; /* KEY=VALUE overrides applied to every profile the worker loads */
    size_t n_sets;
    int drain;               /* return once no job is waiting or in progress anywhere
                              * (deferred jobs do not hold it) */
    tp_event_cb on_event;    /* pipeline events of each job (as tp_pipeline_run) */
    tp_rqueue_job_cb on_job;  /* job-level events */
    void *payload;           /* passed to both callbacks */
    const tp_cancel *cancel; /* requested: stop (the current job checkpoints and is handed
                              * back to the queue at once), within about 2 s */
    /* Job fields are data written by whoever can write the queue, never configuration. */
    const char *const *allow_profiles; /* profiles (built-in names or YAML paths) jobs may name
                                        * besides `profile`; a job naming another is
                                        * dead-lettered. Built-ins compare by name, files by
                                        * realpath. Their endpoints, credentials, token file,
                                        * sink and shared limits are replaced by `profile`'s. */
    size_t n_allow_profiles;
    const char *const *roots; /* folders job paths must lie under (realpath); at least one is
                               * required ("/" allows any path): a job outside them, naming a
                               * symlink, a non-regular file or a bad `dest` is dead-lettered */
    size_t n_roots;
    const char *state_path; /* the job ledger; NULL = WORKDIR/tokprep.db */
    int allow_job_sets;     /* run jobs queued with profile overrides (enqueue --set), applied
                             * before `sets`; 0: such jobs are dead-lettered. Endpoints,
                             * credentials, token file and folder stay the worker's. */
} tp_rqueue_worker_options;

#define TP_RQUEUE_WORKER_OPTIONS_VERSION 1
#define TP_RQUEUE_WORKER_OPTIONS_INIT {.version = TP_RQUEUE_WORKER_OPTIONS_VERSION}

/* Defaults of `version` into *opts: 0, or TP_EINVAL (NULL, unknown version). Thread-safe. */
TP_EXTERN int tp_rqueue_worker_options_init(tp_rqueue_worker_options *opts, unsigned version);

/* Filled by the library: fields may be added at the end (check `version`). */
typedef struct tp_rqueue_worker_summary {
    unsigned version; /* TP_RQUEUE_WORKER_SUMMARY_VERSION */
    size_t done, rejected, failed, dead, requeued;
    int canceled;    /* 1 when stopped by opts.cancel */
    size_t deferred; /* put in the delayed set until TikTok's cap or rate limit allows it */
} tp_rqueue_worker_summary;

#define TP_RQUEUE_WORKER_SUMMARY_VERSION 1

/* Join the queue's consumer group and work: take over jobs idle longer than
 * queue.reclaim_after (XAUTOCLAIM), else wait for new ones (XREADGROUP, 1 s at a time); for
 * each, take the per-content claim, run the pipeline on the file with a local ledger whose
 * upload checkpoints are mirrored into the job, record the outcome and only then acknowledge.
 * Runs until opts->cancel is requested (returns TP_ECANCELED) or, with drain, until the queue is
 * empty (returns 0). A job that names a profile not allowed, a path outside opts->roots, a
 * symlink or non-regular file, or a `dest` that is not a plain file name is dead-lettered at
 * once (error code "invalid") without reading the file. Lost connections to Redis are retried;
 * a failure to start (bad URL, profile or --allow-profile, no or bad roots, unreachable server,
 * work folder, unknown opts->version) returns its negative TP_E* at once. Callbacks run on the
 * calling thread. Not thread-safe: one worker per thread, each with its own name and workdir. */
TP_EXTERN int tp_rqueue_worker_run(tp_rqueue_worker_summary *summary, const char *url,
                        const tp_rqueue_worker_options *opts, tp_error *err);

/* A name and a count (jobs in progress by worker). */
typedef struct tp_rqueue_count {
    const char *name;
    size_t n;
} tp_rqueue_count;

/* A dead-lettered job. Strings are "" when the entry lacks the field. */
typedef struct tp_rqueue_dead_letter {
    const char *id, *path, *fingerprint, *profile, *reason, *error_code, *worker;
    size_t attempts;
} tp_rqueue_dead_letter;

/* A consumer the queue's group knows. has_pending / has_idle: Redis reported the field. */
typedef struct tp_rqueue_worker_info {
    const char *name;
    size_t pending;
    double idle; /* seconds since it last talked to the queue */
    int has_pending, has_idle;
} tp_rqueue_worker_info;

/* The state of a queue, as tp_rqueue_status() read it. Allocated and filled by the library and
 * read-only for the caller; every pointer is owned by the report and lives until
 * tp_rqueue_report_free(). Fields may be added at the end: check `version`. */
typedef struct tp_rqueue_report {
    unsigned version;   /* TP_RQUEUE_REPORT_VERSION */
    const char *queue;  /* the URL without its password */
    int exists;         /* 0: no job was ever added */
    size_t jobs; /* all jobs: the sum of the jobs_* counts below */
    /* jobs by state, as the queue's scripts count them */
    size_t jobs_queued, jobs_running, jobs_done, jobs_failed, jobs_rejected, jobs_dead,
        jobs_deferred;
    size_t pending;     /* waiting, not taken by any worker yet */
    size_t in_progress; /* taken, not acknowledged: running, or failed and waiting for a retry */
    const tp_rqueue_count *in_progress_by_worker;
    size_t n_in_progress_by_worker;
    int has_oldest_pending_age; /* 0: nothing is waiting or in progress */
    double oldest_pending_age;  /* seconds since the oldest unfinished job was queued */
    int has_next_retry_at;      /* 0: no job is deferred */
    double next_retry_at;       /* the earliest deferred job's not_before (epoch s) */
    size_t deferred;           /* jobs in the delayed set (a daily cap or long rate limit) */
    size_t dead;               /* entries in the dead-letter stream */
    const tp_rqueue_dead_letter *dead_letters; /* the latest 20, latest first */
    size_t n_dead_letters;
    const tp_rqueue_worker_info *workers;
    size_t n_workers;
} tp_rqueue_report;

#define TP_RQUEUE_REPORT_VERSION 1

/* Read the queue at url. The caller owns *out (free with tp_rqueue_report_free()). Returns 0, or
 * TP_EINVAL (bad URL), TP_ENET, TP_EAUTH. Thread-safe (own connection per call). */
TP_EXTERN int tp_rqueue_status(tp_rqueue_report **out, const char *url, tp_error *err);
TP_EXTERN void tp_rqueue_report_free(tp_rqueue_report *report);
/* The report as the JSON of `tokprep status --queue URL --json`: {"queue", "exists",
 * "jobs_by_state": {state: n}, "jobs", "pending" (not yet taken), "in_progress": {"total",
 * "by_worker": {name: n}}, "done", "failed", "rejected", "oldest_pending_age" (seconds, or
 * null), "next_retry_at" (epoch s, or null), "deferred", "dead", "dead_letters": [{"id",
 * "path", "fingerprint", "profile", "reason", "error_code", "worker", "attempts"}],
 * "workers": [{"name", "pending", "idle"}]}. malloc'd, the caller frees it with free(); NULL
 * when out of memory. Thread-safe. */
TP_EXTERN char *tp_rqueue_report_to_json(const tp_rqueue_report *report);

/* === end section: queue ================================================================ */

#ifdef __cplusplus
}
#endif

#endif
