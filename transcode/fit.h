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
    int out_width, out_height;
    tp_rational out_fps;
    int64_t video_bitrate_max; /* VBV maxrate, bit/s */
    int64_t video_bufsize;
    int64_t audio_bitrate;
    double out_duration;   /* total output seconds (after trim/extend) */
    int n_parts;
    tp_fit_part parts[TP_MAX_PARTS];
} tp_fit_plan;

/* Plan from media info and profile. Pure and thread-safe. */
int tp_fit_plan_make(tp_fit_plan *out, const tp_media_info *media, const tp_check_result *check,
                     const tp_profile *p, tp_error *err);

typedef struct {
    /* Progress: fraction 0..1 of the file, fps of processing, called from the fitting thread. */
    void (*progress)(double fraction, double fps, void *payload);
    void *payload;
    const volatile int *cancel; /* non-zero = stop; temporary outputs are removed */
} tp_fit_opts;

/* Execute a plan: write outputs into outdir as <stem>.mp4 or <stem>_partN.mp4 (under a temporary
 * name, renamed when complete and verified). The source's bytes are read from src_fd (the
 * descriptor media was probed from, read with pread only; not closed) with the probed demuxer
 * (media->demuxer); src names it (output names, messages). A source whose size or mtime changed
 * while it was fitted fails (-TP_EIO). On success *out_paths is a malloc'd array of *n_out
 * malloc'd paths (caller frees with tp_fit_paths_free). Thread-safe per call. */
int tp_fit_run(char ***out_paths, int *n_out, const char *src, int src_fd,
               const tp_media_info *media, const tp_fit_plan *plan, const tp_profile *p,
               const char *outdir, const tp_fit_opts *opts, tp_error *err);
void tp_fit_paths_free(char **paths, int n);

#endif
