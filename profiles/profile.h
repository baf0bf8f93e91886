/* The resolved profile as a plain struct: what every other layer reads. Loaded from YAML by
 * profiles/loader.c (libyaml), with extends merged, ${VAR} expanded and --set applied. */
#ifndef TP_PROFILE_H
#define TP_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "tokprep.h"

#define TP_LIST_MAX 16
#define TP_NAME_MAX 32

typedef struct {
    int num, den;
} tp_rational;

typedef struct {
    int n;
    char items[TP_LIST_MAX][TP_NAME_MAX];
} tp_strlist;

typedef enum { TP_FILL_BLUR = 0, TP_FILL_PAD, TP_FILL_CROP } tp_fill;
typedef enum { TP_TOO_LONG_SPLIT = 0, TP_TOO_LONG_TRIM, TP_TOO_LONG_REJECT } tp_too_long;
typedef enum { TP_TOO_SHORT_REJECT = 0, TP_TOO_SHORT_EXTEND } tp_too_short;
typedef enum { TP_SINK_TIKTOK = 0, TP_SINK_DIRECTORY, TP_SINK_NONE } tp_sink_kind;
typedef enum { TP_POST_DIRECT = 0, TP_POST_DRAFT } tp_post_mode;
/* upload.tiktok.on_failed: a post TikTok ends FAILED is reported (fail) or re-fitted once with
 * the strict settings and posted again (refit; `run` only). */
typedef enum { TP_ON_FAILED_FAIL = 0, TP_ON_FAILED_REFIT } tp_on_failed;

/* A [min, max] that may be null (set false = not checked). */
typedef struct {
    bool set;
    double min, max;
} tp_opt_range;

typedef struct {
    tp_strlist containers;   /* short names: mp4, mov, webm, ... */
    tp_strlist video_codecs; /* FFmpeg codec names: h264, hevc, vp8, vp9 */
    tp_strlist audio_codecs; /* aac, mp3, opus */
    int min_side;            /* px, shorter displayed side */
    int max_side;            /* px, longer displayed side */
    int n_aspects;
    tp_rational aspects[TP_LIST_MAX]; /* displayed w:h that pass; tolerance 1 % */
    double fps_min, fps_max;
    double duration_min, duration_max; /* seconds */
    int64_t max_size;                  /* bytes */
    bool faststart;                    /* MP4/MOV must have moov before mdat */
    tp_opt_range loudness;             /* integrated LUFS; measured with --deep, and by fit */
} tp_rules;

typedef struct {
    char codec[TP_NAME_MAX];  /* libx264 */
    char preset[TP_NAME_MAX]; /* veryfast */
    int crf;                  /* 0..51 */
    int64_t max_bitrate;      /* bit/s */
} tp_fix_video;

typedef struct {
    char codec[TP_NAME_MAX]; /* aac */
    int64_t bitrate;         /* bit/s */
    int sample_rate;
    int channels;
    /* fix.audio.loudness (null = enabled false: the loudness is left as it is). */
    struct {
        bool enabled;
        double target;    /* LUFS, integrated */
        double true_peak; /* dBTP ceiling */
        double range;     /* LU, loudnorm's LRA target */
    } loudness;
} tp_fix_audio;

typedef struct {
    int width, height;
    tp_fill fill;
    char pad_color[TP_NAME_MAX]; /* an FFmpeg colour: black, white, #rrggbb */
    tp_too_long too_long;
    tp_too_short too_short;
    bool autocrop; /* fill from the picture inside burned-in black bars (probe samples frames) */
    tp_fix_video video;
    tp_fix_audio audio;
    char *cover_image;     /* fix.cover.image: "" = none (a <stem>.cover.* sidecar still counts) */
    int cover_duration_ms; /* fix.cover.duration_ms: how long the cover image is shown */
} tp_fix;

typedef struct {
    int64_t size, min, max, final_max; /* bytes */
    int max_count;
} tp_chunk_rules;

typedef struct {
    char *api_base;      /* https://open.tiktokapis.com */
    char *auth_base;     /* https://www.tiktok.com */
    char *client_key;    /* NULL when ${VAR} was unset: see tp_profile_require() */
    char *client_secret; /* NULL when ${VAR} was unset */
    tp_post_mode mode;
    char privacy_level[TP_NAME_MAX];
    char *caption; /* template: {stem}, {date} */
    bool disable_comment, disable_duet, disable_stitch;
    int64_t video_cover_timestamp_ms;
    bool brand_content_toggle, brand_organic_toggle, is_aigc;
    char *token_file;   /* "" = $XDG_CONFIG_HOME/tokprep/<profile>.json */
    char *redirect_uri; /* http://127.0.0.1:8723/callback/ */
    char *scope;        /* user.info.basic,video.upload,video.publish */
    int daily_limit;    /* posts per account per 24 h */
    double rate_window; /* seconds TikTok's per-minute limits count over: 60 (tests: less) */
    double status_deadline; /* seconds of status polling before "still processing" */
    double status_interval; /* seconds between polls (first) */
    double timeout;         /* seconds: connect + low-speed limit for each request */
    int max_retries;        /* for chunks and polls on transient errors */
    char *shared_limits;    /* "" = rate windows and daily cap in this process; redis://HOST:PORT/NAME
                               = shared with every process using that Redis (upload/tt_limits.h) */
    tp_on_failed on_failed;
    /* upload.tiktok.review: park each fitted file as awaiting_review until a person approves it
     * with its post settings (`tokprep review`, the console); direct mode only */
    bool review;
} tp_tiktok_conf;

typedef struct {
    tp_sink_kind sink;
    char *directory_path;
    tp_tiktok_conf tiktok;
} tp_upload_conf;

typedef struct {
    int probe_workers, fit_workers, upload_workers; /* 0 = cores (already resolved: >= 1) */
    int queue_depth;   /* bounded queues between stages */
    int max_pending_uploads; /* fitted files waiting for upload */
    double settle_seconds;   /* --watch: size stable this long = complete */
    int max_attempts;        /* transient failures retried this many times */
} tp_pipeline_conf;

/* Not part of the profile hash. 0 (a profile without the section) = 3, 60 s, 30 s. */
typedef struct {
    int max_attempts;     /* a job is tried this often (worker deaths count) before dead-letter */
    double reclaim_after; /* seconds a job may sit un-acked before another worker takes it */
    double claim_lease;   /* seconds the per-content claim lives without a heartbeat */
} tp_rqueue_conf;

typedef struct {
    int64_t max_pixels;     /* width*height refused above this */
    int max_streams;        /* files with more streams are refused */
    int64_t probe_size;     /* bytes libavformat may read to find streams */
    double analyze_duration; /* seconds libavformat may analyse */
    double probe_timeout;    /* wall seconds for one probe */
    int64_t max_samples;     /* MP4 sample-table entries claimed (all tables and tracks) */
    int64_t max_output_frames; /* frames one fit may encode (all parts) */
    int64_t max_pixel_rate;    /* output width * height * fps */
    double max_frame_gap;      /* seconds one source frame may be held in the output */
} tp_limits;

/* `tokprep preview`: TikTok's UI drawn over the planned output. Not part of the profile hash
 * (it changes no output). Sizes in output pixels at 1080x1920, scaled for other sizes. */
typedef struct {
    int top, bottom, left, right; /* bands along each edge covered by the UI */
    int rail_width, rail_from_y;  /* the right-hand button rail: its width, from this y down */
    double ui_overlap_threshold;  /* share of edge pixels under the UI that warns */
} tp_preview_conf;

struct tp_profile {
    char *name;
    char *source; /* "builtin:tiktok" or the file path */
    char hash[65]; /* SHA-256 hex of the resolved profile (canonical YAML dump) */
    tp_rules rules;
    tp_fix fix;
    tp_chunk_rules chunk;
    tp_upload_conf upload;
    tp_pipeline_conf pipeline;
    tp_rqueue_conf queue;
    tp_limits limits;
    tp_preview_conf preview;
    /* Internal: the merged tree for `profiles show`, and deferred ${VAR} errors. */
    void *priv;
    /* The name or path as the caller gave it to tp_profile_open ("fake.yaml", "tiktok"): what a
     * command the user is told to run must name (`--profile fake.yaml`), not `name`. */
    char *opened_as;
};

/* As tp_profile_open, from YAML text in memory (label names it in error messages). */
int tp_profile_open_buffer(tp_profile **out, const char *label, const char *text, size_t len,
                           const char *const *sets, size_t n_sets, tp_error *err);

/* Fail with a clear message if the value at key (e.g. "upload.tiktok.client_secret") came from
 * an unset ${VAR} without default. Values are checked only when used: `check` needs no secret. */
int tp_profile_require(const tp_profile *p, const char *key, tp_error *err);

/* tp_profile_dump and tp_profile_builtin_names are public (tokprep.h). */

bool tp_strlist_has(const tp_strlist *l, const char *s);

/* profiles/schema_doc.c: a key's documented default and one-line help (both "" and -1 when
 * the key has none). */
int tp_profile_key_doc(const char *key, const char **default_value, const char **help);

#endif
