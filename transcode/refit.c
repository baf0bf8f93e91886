/* The strict re-fit of upload.tiktok.on_failed: refit (transcode/fit.h): the safest settings
 * TikTok documents, applied on top of the profile, and a transcode even of a file that passes. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "probe/check.h"
#include "probe/rules.h"
#include "transcode/fit.h"
#include "util/tp_util.h"

static void one_name(tp_strlist *l, const char *name)
{
    memset(l, 0, sizeof(*l));
    l->n = 1;
    snprintf(l->items[0], sizeof(l->items[0]), "%s", name);
}

void tp_fit_strict_profile(tp_profile *dst, const tp_profile *src)
{
    *dst = *src;
    tp_rules *r = &dst->rules;
    one_name(&r->containers, "mp4");
    one_name(&r->video_codecs, "h264");
    one_name(&r->audio_codecs, "aac");
    r->fps_min = r->fps_max = 30.0; /* the planner makes every source 30 fps CFR */
    r->n_aspects = 1;
    r->aspects[0] = (tp_rational){9, 16};
    r->faststart = true;
    if (r->max_side < 1920)
        r->max_side = 1920;
    tp_fix *f = &dst->fix;
    f->width = 1080;
    f->height = 1920;
    snprintf(f->video.codec, sizeof(f->video.codec), "%s", "libx264");
    snprintf(f->audio.codec, sizeof(f->audio.codec), "%s", "aac");
    f->audio.sample_rate = 48000;
    f->audio.channels = 2;
    if (f->audio.bitrate <= 0)
        f->audio.bitrate = 128000;
    /* Level 4.1 allows 62.5 Mbit/s; the profile's ceiling (15 Mbit/s by default) stays. */
    if (f->video.max_bitrate <= 0 || f->video.max_bitrate > 50000000)
        f->video.max_bitrate = 15000000;
}

int tp_fit_strict(char ***out_paths, int *n_out, const char *src, int src_fd, const tp_profile *p,
                  const char *outdir, const tp_fit_run_options *opts, tp_error *err)
{
    tp_profile strict;
    tp_media_info media;
    tp_check_result check;
    tp_fit_plan plan;
    int rc;
    *out_paths = NULL;
    *n_out = 0;
    tp_fit_strict_profile(&strict, p);
    if ((rc = tp_check_fd_for_fit(&media, &check, src_fd, src, &strict, opts ? opts->cancel : NULL,
                                  err)) < 0)
        return rc;
    /* TikTok refused the file although it passed: re-encode it all the same. */
    if (check.verdict == TP_VERDICT_PASS || check.verdict == TP_VERDICT_FIX) {
        check.verdict = TP_VERDICT_FIX;
        check.action = TP_ACTION_TRANSCODE;
    }
    if ((rc = tp_fit_plan_make(&plan, &media, &check, &strict, err)) < 0)
        return rc;
    if (plan.reject)
        return tp_error_set(err, TP_EREJECT, 0, "%s: strict re-fit: %s", src, plan.reason);
    plan.h264_level = 41;
    return tp_fit_run(out_paths, n_out, src, src_fd, &media, &plan, &strict, outdir, opts, err);
}
