/* Fit: plan (pure) and execute (libavcodec/libavfilter) the conversion of one file into
 * conformant MP4 output(s). */
#ifndef TP_FIT_H
#define TP_FIT_H

#include <stdbool.h>

#include "probe/media.h"
#include "probe/rules.h"
#include "profiles/profile.h"


typedef struct {
    double start, duration; /* seconds of the source */
} tp_fit_part;

typedef struct {
    tp_action action;      /* NONE (pass: copy/link), REMUX, TRANSCODE */
    bool reject;           /* the profile refuses this file; reason says why */
    char reason[512];
    char filter[2048];     /* the video filter chain (for --dry-run and logs) */
    tp_rect crop;          /* fix.autocrop: the picture inside burned-in bars, in decoded
                            * pixels; width 0 = no crop */
    int out_width, out_height;
    tp_rational out_fps;
    int64_t video_bitrate_max; /* VBV maxrate, bit/s */
    int64_t video_bufsize;
    int64_t audio_bitrate;
    double out_duration;   /* total output seconds (after trim/extend) */
    double trim_end;       /* > 0: fix.too_long=trim, the output ends here (seconds): on the
                            * last output frame boundary at or under rules.duration's maximum */
    int64_t trim_frames;   /* > 0 with trim_end: the output frames kept (trim_end * out_fps) */
    double hold_until;     /* > 0: fix.too_short=extend, the last frame is held until here;
                            * a source longer than the probe said is never cut to it */
    int n_parts;
    tp_fit_part parts[TP_MAX_PARTS];
    /* The cover (README "Covers"). SIDECAR/PROFILE: media->cover's image fills the first
     * cover_frames output frames (cover_duration seconds; the first part of a split), the rest
     * of the video and its sound follow unchanged, later by that much (parts[], trim_end's
     * frames and hold_until stay in source time; trim_end and out_duration are output time).
     * FRAME: the profile's video_cover_timestamp_ms picks a frame. NONE: neither. */
    tp_cover_source cover_source;
    int cover_frames;
    double cover_duration;
    long long cover_timestamp_ms; /* sent as video_cover_timestamp_ms; 0 with NONE */
    char cover_filter[1024];      /* the image into the output size, filled like the video */
    int h264_level;        /* > 0: the H.264 level the encoder signals and keeps to, times ten
                            * (41 = 4.1: the strict re-fit); 0 = the encoder's choice */
} tp_fit_plan;

/* A cover image of fix.cover.duration_ms at the output rate fps: *frames (>= 1) frames, and the
 * video_cover_timestamp_ms that lands on it (the middle of its span), returned. Pure. */
long long tp_fit_cover_timestamp(int *frames, const tp_fix *fix, tp_rational fps);

/* "sidecar", "profile", "frame"; NULL for TP_COVER_NONE. */
const char *tp_cover_source_name(tp_cover_source s);

/* Plan from media info and profile. Pure and thread-safe. */
int tp_fit_plan_make(tp_fit_plan *out, const tp_media_info *media, const tp_check_result *check,
                     const tp_profile *p, tp_error *err);

/* Refuse a transcode plan whose work exceeds the profile's limits (limits.max_output_frames,
 * limits.max_pixel_rate) before anything is encoded: TP_EUNSUPPORTED naming the limit; 0 for
 * a plan within them or one that encodes nothing. name (may be NULL) prefixes the message.
 * Pure and thread-safe; tp_fit_plan_make and tp_fit_run both call it. */
int tp_fit_plan_check_limits(const tp_fit_plan *plan, const tp_limits *lim, const char *name,
                             tp_error *err);

/* What one output (or the source) holds, measured from its packets: for each stream, the
 * end of its last packet (timestamp + duration) minus its first timestamp; < 0 when absent. */
typedef struct {
    double video, audio;
} tp_fit_span;

/* The never-lose-footage check, pure: compares what fit wrote (outs[0..n_out)) with what it
 * read from the source and with the plan. The only outputs shorter than their source are a
 * trim (plan->trim_end) and a split, whose parts must cover the source exactly; extend
 * (plan->hold_until) only adds. A shortfall of more than `frame` seconds (one output frame)
 * in any part fails with TP_EMEDIA and a message naming src. Thread-safe. */
int tp_fit_check_coverage(const tp_fit_plan *plan, const char *src, const tp_fit_span *source,
                          const tp_fit_span *outs, int n_out, double frame, tp_error *err);

typedef struct {
    /* Progress: fraction 0..1 of the file, fps of processing, called from the fitting thread. */
    void (*progress)(double fraction, double fps, void *payload);
    void *payload;
    const tp_cancel *cancel; /* non-zero = stop; temporary outputs are removed */
    /* Optional, TP_MAX_PARTS entries: on success, out_media[i] is what output i was verified
     * as (the probe of the finished output that holds it to the profile), so callers need not
     * probe the outputs again. */
    tp_media_info *out_media;
} tp_fit_run_options;

/* Execute a plan: write outputs into outdir as <stem>.mp4 or <stem>_partN.mp4 (under a temporary
 * name, renamed when complete and verified). The source's bytes are read from src_fd (the
 * descriptor media was probed from, read with pread only; not closed) with the probed demuxer
 * (media->demuxer); src names it (output names, messages). A source whose size or mtime changed
 * while it was fitted fails (TP_EIO). On success *out_paths is a malloc'd array of *n_out
 * malloc'd paths (caller frees with tp_fit_paths_free). Thread-safe per call. */
int tp_fit_run(char ***out_paths, int *n_out, const char *src, int src_fd,
               const tp_media_info *media, const tp_fit_plan *plan, const tp_profile *p,
               const char *outdir, const tp_fit_run_options *opts, tp_error *err);
void tp_fit_paths_free(char **paths, int n);

/* upload.tiktok.on_failed: refit. *dst = src with the strictest safe settings on top: MP4 with
 * faststart, H.264 High 4.1 (libx264), 30 fps constant, 1080x1920 9:16, 8-bit 4:2:0, AAC-LC
 * 48 kHz stereo. A shallow copy: dst borrows src's strings and must not outlive it. Pure. */
void tp_fit_strict_profile(tp_profile *dst, const tp_profile *src);

/* Re-encode src (read from src_fd, not closed) with tp_fit_strict_profile(p) into outdir, even
 * when it passes the rules as it is: one or more outputs as tp_fit_run() makes them (a file over
 * rules.duration is split or trimmed as the profile's fix.too_long says). TP_EREJECT when even
 * the strict settings cannot make it. Thread-safe per call. */
int tp_fit_strict(char ***out_paths, int *n_out, const char *src, int src_fd, const tp_profile *p,
                  const char *outdir, const tp_fit_run_options *opts, tp_error *err);

/* One still of the planned output (tokprep preview): a source frame near `at` seconds from
 * the start, passed through the same video filter graph tp_fit_run builds from plan->filter (a
 * transcode), or only decoded (a pass or remux keeps the picture as it is). One seek to the
 * keyframe at or before `at`; that keyframe is the still when it lies at or after `from`
 * (usually: one frame decoded), else the decoder goes on to the first frame at or after `from`
 * (a long GOP: a clip with a single keyframe still gives distinct stills). */
typedef struct {
    double at, from;       /* asked: seconds from the start of the source; from <= at */
    double time;           /* got: the shown frame's time */
    struct AVFrame *frame; /* yuv420p, plan->out_width x plan->out_height for a transcode */
} tp_fit_still;

/* Open src_fd (as tp_fit_run does: the probed demuxer, pread only) and fill stills[0..n) in
 * one pass of seeks. On failure the stills already filled keep their frames. The caller frees
 * each stills[i].frame with av_frame_free. Thread-safe per call. */
int tp_fit_render_stills(tp_fit_still *stills, int n, const char *src, int src_fd,
                         const tp_media_info *media, const tp_fit_plan *plan,
                         const tp_cancel *cancel, tp_error *err);

#endif
