/* Fit planner, table-driven: fills, rotation, anamorphic SAR, split/trim/extend/reject, frame
 * rate clamping and the bit-rate budget, from media info alone (no media files). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "transcode/fit.h"
#include "util/tp_util.h"

/* A 10 s 1920x1080 30 fps landscape H.264/AAC file needing a transcode. */
static void base_media(tp_media_info *m)
{
    memset(m, 0, sizeof(*m));
    strcpy(m->container, "mp4");
    m->size = 10000000;
    m->duration = 10.0;
    m->video.present = true;
    strcpy(m->video.codec, "h264");
    m->video.width = 1920;
    m->video.height = 1080;
    m->video.sar = (tp_rational){1, 1};
    m->video.display_width = 1920;
    m->video.display_height = 1080;
    m->video.fps = (tp_rational){30, 1};
    strcpy(m->video.pix_fmt, "yuv420p");
    m->video.bit_depth = 8;
    m->audio.present = true;
    strcpy(m->audio.codec, "aac");
    m->audio.channels = 2;
    m->audio.sample_rate = 48000;
}

typedef struct {
    const char *name;
    const char *sets[4];              /* profile overrides */
    void (*mutate)(tp_media_info *m); /* NULL = base media */
    tp_verdict verdict;               /* what the rules said */
    tp_action check_action;
    /* expectations */
    int rc; /* 0 or -TP_E* */
    bool reject;
    tp_action action;
    const char *has[8];   /* substrings the filter chain must contain, in this order */
    const char *hasnt[3]; /* ... must not contain */
    int fps_num, fps_den; /* 0 = don't check */
    int n_parts;          /* 0 = don't check */
    double part_len;      /* each part's duration but the last, 0 = don't check */
    double out_duration;  /* 0 = don't check */
    int64_t vmax;         /* expected maxrate ±2 %, 0 = don't check */
    const char *reason;   /* substring of the reject reason */
    int width_override;   /* set fix.width behind the loader's back (it refuses odd sizes) */
} plan_case;

static void m_rot90(tp_media_info *m)
{
    m->video.rotation = 90;
    m->video.display_width = 1080;
    m->video.display_height = 1920;
}
static void m_rot270(tp_media_info *m)
{
    m_rot90(m);
    m->video.rotation = 270;
}
static void m_rot180(tp_media_info *m)
{
    m->video.rotation = 180;
}
static void m_anamorphic(tp_media_info *m)
{
    m->video.width = 1440;
    m->video.sar = (tp_rational){4, 3};
}
static void m_anamorphic_nodisp(tp_media_info *m)
{
    m_anamorphic(m);
    m->video.display_width = m->video.display_height = 0; /* the planner computes it */
}
/* A 4:3 1440x1080 frame holding a 16:9 picture between burned-in bars (found by the probe). */
static void m_bars(tp_media_info *m)
{
    m->video.width = m->video.display_width = 1440;
    m->video.bars_scanned = true;
    m->video.active_area = (tp_rect){0, 136, 1440, 810};
}
static void m_bars_none(tp_media_info *m)
{
    m->video.bars_scanned = true;
    m->video.active_area = (tp_rect){0, 0, 1920, 1080};
}
static void m_bars_rot90(tp_media_info *m)
{
    m_bars(m);
    m->video.rotation = 90;
    m->video.display_width = 1080;
    m->video.display_height = 1440;
}
static void m_bars_outside(tp_media_info *m)
{
    m_bars(m);
    m->video.active_area = (tp_rect){0, 300, 1440, 810}; /* past the frame: ignored */
}
static void m_portrait_small(tp_media_info *m)
{
    m->video.width = m->video.display_width = 720;
    m->video.height = m->video.display_height = 1280;
}
static void m_tall(tp_media_info *m)
{
    m->video.width = m->video.display_width = 1080;
    m->video.height = m->video.display_height = 2400;
}
static void m_long1500(tp_media_info *m)
{
    m->duration = 1500.0;
}
static void m_long601(tp_media_info *m)
{
    m->duration = 601.0;
}
static void m_short2(tp_media_info *m)
{
    m->duration = 2.0;
}
static void m_fps120(tp_media_info *m)
{
    m->video.fps = (tp_rational){120, 1};
}
static void m_fps100(tp_media_info *m)
{
    m->video.fps = (tp_rational){100, 1};
}
static void m_fps15(tp_media_info *m)
{
    m->video.fps = (tp_rational){15, 1};
}
static void m_fps_ntsc(tp_media_info *m)
{
    m->video.fps = (tp_rational){30000, 1001};
}
static void m_fps_ntsc60(tp_media_info *m)
{
    m->video.fps = (tp_rational){120000, 1001};
}
static void m_vfr(tp_media_info *m)
{
    m->video.fps = (tp_rational){2970, 100};
    m->video.vfr = true;
}
static void m_fps_unknown(tp_media_info *m)
{
    m->video.fps = (tp_rational){0, 0};
}
static void m_interlaced_hdr(tp_media_info *m)
{
    m->video.interlaced = true;
    strcpy(m->video.hdr, "pq");
    strcpy(m->video.pix_fmt, "yuv420p10le");
    m->video.bit_depth = 10;
}
static void m_hlg(tp_media_info *m)
{
    strcpy(m->video.hdr, "hlg");
}
static void m_600s(tp_media_info *m)
{
    m->duration = 600.0;
}
static void m_60s(tp_media_info *m)
{
    m->duration = 60.0;
}
static void m_no_audio(tp_media_info *m)
{
    m->audio.present = false;
}
static void m_no_video(tp_media_info *m)
{
    m->video.present = false;
}

/* One case per row group: easier to read than the formatter's one-field-per-line reflow. */
/* clang-format off */
static const plan_case cases[] = {
    {"landscape blur", {"fix.fill=blur"}, NULL, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, 0, false,
     TP_ACTION_TRANSCODE,
     {"fps=fps=30/1:start_time=0", "split=2[tpbg][tpfg];[tpbg]select=not(mod(n\\,10)),",
      "crop=w=trunc(ih*1080/1920/sar/2)*2:h=ih,scale=136:240", "boxblur",
      "[tpb1]crop=136:82:0:0,scale=1080:656", "[tpb2]crop=136:84:0:156,scale=1080:658",
      "[tpfg]scale=1080:606", "vstack=inputs=3"},
     {"transpose", "pad=", "overlay"}, 30, 1, 1, 0, 10.0},
    {"tall 9:20 blur: bars left and right", {"fix.fill=blur"}, m_tall, TP_VERDICT_FIX,
     TP_ACTION_TRANSCODE, 0, false, TP_ACTION_TRANSCODE,
     {"crop=w=iw:h=trunc(iw*sar*1920/1080/2)*2", "[tpb1]crop=", "scale=108:1920",
      "[tpfg]scale=864:1920", "hstack=inputs=3"},
     {"vstack"}},
    {"landscape pad", {"fix.fill=pad"}, NULL, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, 0, false,
     TP_ACTION_TRANSCODE, {"scale=1080:606", "pad=1080:1920:0:656:color=black", "setsar=1",
                           "format=yuv420p"},
     {"split", "boxblur"}, 30, 1, 1},
    {"landscape pad colour", {"fix.fill=pad", "fix.pad_color=white"}, NULL, TP_VERDICT_FIX,
     TP_ACTION_TRANSCODE, 0, false, TP_ACTION_TRANSCODE, {"color=white"}},
    {"landscape crop", {"fix.fill=crop"}, NULL, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, 0, false,
     TP_ACTION_TRANSCODE, {"scale=3414:1920", "crop=1080:1920", "setsar=1"}, {"pad=", "split"}},
    {"rotated 90 is already 9:16", {0}, m_rot90, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, 0, false,
     TP_ACTION_TRANSCODE, {"transpose=clock,", "scale=1080:1920"}, {"split", "pad=", "crop="}},
    {"rotated 270", {0}, m_rot270, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, 0, false,
     TP_ACTION_TRANSCODE, {"transpose=cclock,", "scale=1080:1920"}},
    {"rotated 180", {"fix.fill=pad"}, m_rot180, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, 0, false,
     TP_ACTION_TRANSCODE, {"hflip,vflip,", "pad=1080:1920"}, {"transpose"}},
    {"anamorphic 1440x1080 4:3 SAR", {"fix.fill=pad"}, m_anamorphic, TP_VERDICT_FIX,
     TP_ACTION_TRANSCODE, 0, false, TP_ACTION_TRANSCODE, {"scale=1080:606", "setsar=1"}},
    {"anamorphic, display size left to the planner", {"fix.fill=pad"}, m_anamorphic_nodisp,
     TP_VERDICT_FIX, TP_ACTION_TRANSCODE, 0, false, TP_ACTION_TRANSCODE,
     {"scale=1080:606", "pad=1080:1920:0:656"}},
    {"autocrop: picture inside bars", {0}, m_bars, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, 0,
     false, TP_ACTION_TRANSCODE, {"crop=1440:810:0:136,fps=", "[tpfg]scale=1080:606"}},
    {"autocrop off", {"fix.autocrop=false"}, m_bars, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, 0,
     false, TP_ACTION_TRANSCODE, {"[tpfg]scale=1080:810"}, {"crop=1440"}},
    {"autocrop pad", {"fix.fill=pad"}, m_bars, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, 0, false,
     TP_ACTION_TRANSCODE, {"crop=1440:810:0:136,", "scale=1080:606", "pad=1080:1920:0:656"}},
    {"autocrop, no bars found", {0}, m_bars_none, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, 0, false,
     TP_ACTION_TRANSCODE, {"fps="}, {"crop=1920"}},
    {"autocrop before rotation", {0}, m_bars_rot90, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, 0,
     false, TP_ACTION_TRANSCODE, {"crop=1440:810:0:136,transpose=clock,", "scale=1080:1920"}, {"split"}},
    {"autocrop area outside the frame ignored", {0}, m_bars_outside, TP_VERDICT_FIX,
     TP_ACTION_TRANSCODE, 0, false, TP_ACTION_TRANSCODE, {"fps="}, {"crop=1440"}},
    {"portrait 720x1280 only scaled", {0}, m_portrait_small, TP_VERDICT_FIX, TP_ACTION_TRANSCODE,
     0, false, TP_ACTION_TRANSCODE, {"scale=1080:1920"}, {"split", "pad=", "crop="}},
    {"too long split 1500 s", {"fix.too_long=split"}, m_long1500, TP_VERDICT_FIX,
     TP_ACTION_TRANSCODE, 0, false, TP_ACTION_TRANSCODE, {0}, {"trim="}, 0, 0, 3, 500.0,
     1500.0},
    {"too long split 601 s", {"fix.too_long=split"}, m_long601, TP_VERDICT_FIX,
     TP_ACTION_TRANSCODE, 0, false, TP_ACTION_TRANSCODE, {0}, {0}, 0, 0, 2, 300.5, 601.0},
    {"split of a remux still transcodes", {"fix.too_long=split"}, m_long601, TP_VERDICT_FIX,
     TP_ACTION_REMUX, 0, false, TP_ACTION_TRANSCODE, {0}, {0}, 0, 0, 2},
    {"too long trim", {"fix.too_long=trim"}, m_long1500, TP_VERDICT_FIX, TP_ACTION_TRANSCODE,
     0, false, TP_ACTION_TRANSCODE, {"fps=fps=30/1:start_time=0,trim=end_frame=18000,"}, {0},
     0, 0, 1, 0, 600.0},
    {"too long reject", {"fix.too_long=reject"}, m_long1500, TP_VERDICT_FIX,
     TP_ACTION_TRANSCODE, 0, true, TP_ACTION_NONE, {0}, {0}, 0, 0, 0, 0, 0, 0,
     "fix.too_long"},
    {"too short reject", {"fix.too_short=reject"}, m_short2, TP_VERDICT_FIX,
     TP_ACTION_TRANSCODE, 0, true, TP_ACTION_NONE, {0}, {0}, 0, 0, 0, 0, 0, 0,
     "fix.too_short=extend"},
    {"too short extend", {"fix.too_short=extend"}, m_short2, TP_VERDICT_FIX,
     TP_ACTION_TRANSCODE, 0, false, TP_ACTION_TRANSCODE,
     {"fps=fps=30/1:start_time=0,split"}, {"trim", "tpad"}, 0, 0, 1, 0, 3.1},
    {"fps 120 → 60", {0}, m_fps120, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, 0, false,
     TP_ACTION_TRANSCODE, {"fps=fps=60/1"}, {0}, 60, 1},
    {"fps 100 → 50", {0}, m_fps100, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, 0, false,
     TP_ACTION_TRANSCODE, {"fps=fps=50/1"}, {0}, 50, 1},
    {"fps 15 → 23", {0}, m_fps15, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, 0, false,
     TP_ACTION_TRANSCODE, {"fps=fps=23/1"}, {0}, 23, 1},
    {"fps 29.97 kept exact", {0}, m_fps_ntsc, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, 0, false,
     TP_ACTION_TRANSCODE, {"fps=fps=30000/1001"}, {0}, 30000, 1001},
    {"fps 119.88 → 59.94", {0}, m_fps_ntsc60, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, 0, false,
     TP_ACTION_TRANSCODE, {"fps=fps=60000/1001"}, {0}, 60000, 1001},
    {"fps clamp with a lower rules.fps", {"rules.fps=[23,30]"}, m_fps120, TP_VERDICT_FIX,
     TP_ACTION_TRANSCODE, 0, false, TP_ACTION_TRANSCODE, {0}, {0}, 30, 1},
    {"VFR made constant at its rounded rate", {0}, m_vfr, TP_VERDICT_FIX, TP_ACTION_TRANSCODE,
     0, false, TP_ACTION_TRANSCODE, {"fps=fps=30/1"}, {0}, 30, 1},
    {"unknown fps → 30", {0}, m_fps_unknown, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, 0, false,
     TP_ACTION_TRANSCODE, {0}, {0}, 30, 1},
    {"interlaced PQ: deinterlace then tone-map", {0}, m_interlaced_hdr, TP_VERDICT_FIX,
     TP_ACTION_TRANSCODE, 0, false, TP_ACTION_TRANSCODE,
     {"bwdif=", "zscale=tin=smpte2084", "tonemap=tonemap=mobius", "zscale=t=bt709",
      "fps=fps=", "format=yuv420p"}},
    {"HLG tone-mapped", {0}, m_hlg, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, 0, false,
     TP_ACTION_TRANSCODE, {"zscale=tin=arib-std-b67", "tonemap"}, {"bwdif"}},
    {"budget 600 s in 1 GB below max_bitrate", {0}, m_600s, TP_VERDICT_FIX, TP_ACTION_TRANSCODE,
     0, false, TP_ACTION_TRANSCODE, {0}, {0}, 0, 0, 1, 0, 0, 11810000},
    {"budget capped by fix.video.max_bitrate", {0}, NULL, TP_VERDICT_FIX, TP_ACTION_TRANSCODE,
     0, false, TP_ACTION_TRANSCODE, {0}, {0}, 0, 0, 1, 0, 0, 15000000},
    {"budget 60 s in 10 MB", {"rules.max_size=10MB"}, m_60s, TP_VERDICT_FIX,
     TP_ACTION_TRANSCODE, 0, false, TP_ACTION_TRANSCODE, {0}, {0}, 0, 0, 1, 0, 0, 1015000},
    {"budget without audio", {"rules.max_size=10MB"}, m_no_audio, TP_VERDICT_FIX,
     TP_ACTION_TRANSCODE, 0, false, TP_ACTION_TRANSCODE, {0}, {0}, 0, 0, 1, 0, 0, 5993000},
    {"budget per part, not per file", {"rules.max_size=100MB"}, m_long1500, TP_VERDICT_FIX,
     TP_ACTION_TRANSCODE, 0, false, TP_ACTION_TRANSCODE, {0}, {0}, 0, 0, 3, 500, 0, 1281000},
    {"max_size too small rejects", {"rules.max_size=1MB"}, m_600s, TP_VERDICT_FIX,
     TP_ACTION_TRANSCODE, 0, true, TP_ACTION_NONE, {0}, {0}, 0, 0, 0, 0, 0, 0,
     "rules.max_size"},
    {"pass is a copy", {0}, NULL, TP_VERDICT_PASS, TP_ACTION_NONE, 0, false, TP_ACTION_NONE,
     {0}, {0}, 0, 0, 1, 0, 10.0},
    {"remux", {0}, NULL, TP_VERDICT_FIX, TP_ACTION_REMUX, 0, false, TP_ACTION_REMUX, {0}, {0},
     0, 0, 1},
    {"rules reject passes through", {0}, NULL, TP_VERDICT_REJECT, TP_ACTION_NONE, 0, true,
     TP_ACTION_NONE, {0}, {0}, 0, 0, 0, 0, 0, 0, "rules say no"},
    {"no video rejected", {0}, m_no_video, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, 0, true,
     TP_ACTION_NONE, {0}, {0}, 0, 0, 0, 0, 0, 0, "no video"},
    {"odd fix.width is a config error", {0}, NULL, TP_VERDICT_FIX, TP_ACTION_TRANSCODE,
     TP_ECONFIG, .width_override = 1081},
};
/* clang-format on */

static void run_case(const plan_case *c)
{
    tp_error err = TP_ERROR_INIT;
    tp_profile *p = NULL;
    size_t n_sets = 0;
    while (n_sets < 4 && c->sets[n_sets])
        n_sets++;
    int rc = tp_profile_open(&p, "tiktok", c->sets, n_sets, &err);
    if (rc < 0)
        fail_msg("%s: profile: %s", c->name, tp_error_message(&err));
    if (c->width_override)
        p->fix.width = c->width_override;
    tp_media_info m;
    base_media(&m);
    if (c->mutate)
        c->mutate(&m);
    tp_check_result chk;
    memset(&chk, 0, sizeof(chk));
    chk.verdict = c->verdict;
    chk.action = c->check_action;
    if (c->verdict == TP_VERDICT_REJECT)
        strcpy(chk.reason, "rules say no");
    tp_fit_plan plan;
    rc = tp_fit_plan_make(&plan, &m, &chk, p, &err);
    tp_profile_free(p);
    if (rc != c->rc)
        fail_msg("%s: rc %d, expected %d (%s)", c->name, rc, c->rc, tp_error_message(&err));
    tp_error_clear(&err);
    if (rc < 0)
        return;
    if (plan.reject != c->reject)
        fail_msg("%s: reject=%d, expected %d (%s)", c->name, plan.reject, c->reject, plan.reason);
    if (c->reject) {
        if (c->reason && !strstr(plan.reason, c->reason))
            fail_msg("%s: reason '%s' lacks '%s'", c->name, plan.reason, c->reason);
        return;
    }
    if (plan.action != c->action)
        fail_msg("%s: action %d, expected %d", c->name, plan.action, c->action);
    const char *pos = plan.filter;
    for (size_t i = 0; i < TP_ARRAY_LEN(c->has) && c->has[i]; i++) {
        const char *hit = strstr(pos, c->has[i]);
        if (!hit)
            fail_msg("%s: filter lacks '%s' (in order): %s", c->name, c->has[i], plan.filter);
        pos = hit + strlen(c->has[i]);
    }
    for (size_t i = 0; i < TP_ARRAY_LEN(c->hasnt) && c->hasnt[i]; i++)
        if (strstr(plan.filter, c->hasnt[i]))
            fail_msg("%s: filter has '%s': %s", c->name, c->hasnt[i], plan.filter);
    if (c->fps_num && (plan.out_fps.num != c->fps_num || plan.out_fps.den != c->fps_den))
        fail_msg("%s: fps %d/%d, expected %d/%d", c->name, plan.out_fps.num, plan.out_fps.den,
                 c->fps_num, c->fps_den);
    if (c->n_parts && plan.n_parts != c->n_parts)
        fail_msg("%s: %d parts, expected %d", c->name, plan.n_parts, c->n_parts);
    if (plan.n_parts > 1) {
        /* Consecutive, nothing lost or repeated, every part within the limit. */
        double sum = 0.0;
        for (int k = 0; k < plan.n_parts; k++) {
            if (k > 0 && fabs(plan.parts[k].start -
                              (plan.parts[k - 1].start + plan.parts[k - 1].duration)) > 1e-9)
                fail_msg("%s: part %d does not follow part %d", c->name, k + 1, k);
            if (plan.parts[k].duration > 600.0 + 1e-9 || plan.parts[k].duration < 3.0)
                fail_msg("%s: part %d lasts %.3f s", c->name, k + 1, plan.parts[k].duration);
            if (c->part_len && k + 1 < plan.n_parts &&
                fabs(plan.parts[k].duration - c->part_len) > 1e-6)
                fail_msg("%s: part %d lasts %.3f s, expected %.3f", c->name, k + 1,
                         plan.parts[k].duration, c->part_len);
            sum += plan.parts[k].duration;
        }
        assert_true(plan.parts[0].start == 0.0);
        if (fabs(sum - m.duration) > 1e-6)
            fail_msg("%s: parts add up to %.6f, not %.6f", c->name, sum, m.duration);
    }
    if (c->out_duration && fabs(plan.out_duration - c->out_duration) > 1e-6)
        fail_msg("%s: out_duration %.3f, expected %.3f", c->name, plan.out_duration,
                 c->out_duration);
    if (c->vmax) {
        if (fabs((double)plan.video_bitrate_max / (double)c->vmax - 1.0) > 0.02)
            fail_msg("%s: maxrate %lld, expected ~%lld", c->name, (long long)plan.video_bitrate_max,
                     (long long)c->vmax);
        assert_int_equal(plan.video_bufsize, plan.video_bitrate_max * 2);
    }
    if (plan.action == TP_ACTION_TRANSCODE) {
        assert_int_equal(plan.out_width, 1080);
        assert_int_equal(plan.out_height, 1920);
        assert_non_null(strstr(plan.filter, "format=yuv420p"));
    }
}

static void test_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < TP_ARRAY_LEN(cases); i++) {
        print_message("case: %s\n", cases[i].name);
        run_case(&cases[i]);
    }
}

/* The worst case the VBV allows must stay under max_size: maxrate × (duration + buffer) plus
 * audio and overhead, for a range of durations and sizes. */
static void test_budget_bound(void **state)
{
    (void)state;
    const char *sizes[] = {"rules.max_size=5MB", "rules.max_size=50MB", "rules.max_size=1GB"};
    const double durs[] = {3.0, 30.0, 120.0, 599.0};
    for (size_t s = 0; s < TP_ARRAY_LEN(sizes); s++) {
        tp_error err = TP_ERROR_INIT;
        tp_profile *p = NULL;
        const char *set[] = {sizes[s]};
        assert_int_equal(tp_profile_open(&p, "tiktok", set, 1, &err), 0);
        for (size_t d = 0; d < TP_ARRAY_LEN(durs); d++) {
            tp_media_info m;
            base_media(&m);
            m.duration = durs[d];
            tp_check_result chk = {.verdict = TP_VERDICT_FIX, .action = TP_ACTION_TRANSCODE};
            tp_fit_plan plan;
            assert_int_equal(tp_fit_plan_make(&plan, &m, &chk, p, &err), 0);
            if (plan.reject)
                continue;
            double worst = (double)plan.video_bitrate_max * durs[d] + plan.video_bufsize +
                           plan.audio_bitrate * durs[d];
            if (worst / 8.0 >= (double)p->rules.max_size)
                fail_msg("%s, %.0f s: worst case %.0f B ≥ max", sizes[s], durs[d], worst / 8);
        }
        tp_profile_free(p);
    }
}

/* limits.max_output_frames and limits.max_pixel_rate: checked on the plan, before encoding.
 * The source's claimed duration is what counts (a gap bomb claims hours with two frames). */
static void test_work_limits(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        double duration;
        int fps;
        const char *sets[3];
        int rc;
        const char *msg;
    } rows[] = {
        /* clang-format off */
        {"5 h split at 30 fps", 18000.0, 30, {"fix.too_long=split"}, TP_EUNSUPPORTED,
         "540000 frames (18000.0 s at 30/1 fps) > 216000 (limits.max_output_frames)"},
        {"1 h at 60 fps is the default budget", 3600.0, 60, {0}, 0, NULL},
        {"just over it", 3600.1, 60, {0}, TP_EUNSUPPORTED, "limits.max_output_frames"},
        {"5 h trimmed to 600 s", 18000.0, 30, {"fix.too_long=trim"}, 0, NULL},
        {"budget lowered", 10.0, 30, {"limits.max_output_frames=299"}, TP_EUNSUPPORTED,
         "300 frames"},
        {"4K output at 60 fps over the pixel rate", 10.0, 60,
         {"fix.width=2160", "fix.height=3840"}, TP_EUNSUPPORTED, "(limits.max_pixel_rate)"},
        {"1080x1920 at 60 fps is the default pixel rate", 10.0, 60, {0}, 0, NULL},
        {"pixel rate raised", 10.0, 60,
         {"fix.width=2160", "fix.height=3840", "limits.max_pixel_rate=497664000"}, 0, NULL},
    }; /* clang-format on */
    for (size_t i = 0; i < TP_ARRAY_LEN(rows); i++) {
        tp_error err = TP_ERROR_INIT;
        tp_profile *p = NULL;
        size_t n = 0;
        while (n < 3 && rows[i].sets[n])
            n++;
        if (tp_profile_open(&p, "tiktok", rows[i].sets, n, &err) < 0)
            fail_msg("%s: profile: %s", rows[i].name, tp_error_message(&err));
        tp_media_info m;
        base_media(&m);
        m.duration = rows[i].duration;
        m.video.fps = (tp_rational){rows[i].fps, 1};
        tp_check_result chk = {.verdict = TP_VERDICT_FIX, .action = TP_ACTION_TRANSCODE};
        tp_fit_plan plan;
        int rc = tp_fit_plan_make(&plan, &m, &chk, p, &err);
        if (rc != rows[i].rc)
            fail_msg("%s: rc %d, expected %d (%s)", rows[i].name, rc, rows[i].rc,
                     tp_error_message(&err));
        if (rows[i].msg && !strstr(tp_error_message(&err), rows[i].msg))
            fail_msg("%s: '%s' lacks '%s'", rows[i].name, tp_error_message(&err), rows[i].msg);
        /* tp_fit_run checks again (a plan made elsewhere); a pass plan encodes nothing. */
        if (rc == 0) {
            assert_int_equal(tp_fit_plan_check_limits(&plan, &p->limits, "x", &err), 0);
            plan.action = TP_ACTION_NONE;
            plan.out_duration = 1e9;
            assert_int_equal(tp_fit_plan_check_limits(&plan, &p->limits, "x", &err), 0);
        }
        tp_profile_free(p);
        tp_error_clear(&err);
    }
}

static void test_bad_args(void **state)
{
    (void)state;
    tp_error err = TP_ERROR_INIT;
    tp_fit_plan plan;
    assert_int_equal(tp_fit_plan_make(&plan, NULL, NULL, NULL, &err), TP_EINVAL);
    tp_error_clear(&err);
}

/* A plan from the tiktok profile with one override, for the media the mutator makes. */
static void plan_with(tp_fit_plan *plan, const char *set, void (*mutate)(tp_media_info *))
{
    tp_error err = TP_ERROR_INIT;
    tp_profile *p = NULL;
    const char *sets[1] = {set};
    assert_int_equal(tp_profile_open(&p, "tiktok", sets, 1, &err), 0);
    tp_media_info m;
    base_media(&m);
    mutate(&m);
    tp_check_result chk;
    memset(&chk, 0, sizeof(chk));
    chk.verdict = TP_VERDICT_FIX;
    chk.action = TP_ACTION_TRANSCODE;
    assert_int_equal(tp_fit_plan_make(plan, &m, &chk, p, &err), 0);
    assert_false(plan->reject);
    tp_profile_free(p);
    tp_error_clear(&err);
}

/* The never-lose-footage comparison: one frame of tolerance per part, trim and split the only
 * ways to be shorter, extend never shorter than the source it read. */
typedef struct {
    const char *name;
    const char *set;
    void (*mutate)(tp_media_info *m);
    tp_fit_span source;
    tp_fit_span outs[4];
    int n_out;
    bool ok;
    const char *msg; /* substring of the error */
} cover_case;

/* clang-format off */
static const cover_case cover_cases[] = {
    {"whole", "fix.fill=blur", NULL, {10.0, 10.0}, {{10.0, 10.02}}, 1, true, NULL},
    {"one frame short is fine", "fix.fill=blur", NULL, {10.0, 10.0}, {{9.967, 10.0}}, 1, true,
     NULL},
    {"two frames short fails", "fix.fill=blur", NULL, {10.0, 10.0}, {{9.93, 10.0}}, 1, false,
     "the output is 9.93 s but the source is 10.00 s; not written (footage would be lost)"},
    {"sound cut fails", "fix.fill=blur", NULL, {10.0, 10.0}, {{10.0, 6.0}}, 1, false,
     "sound is 6.00 s"},
    {"no audio in source", "fix.fill=blur", NULL, {10.0, -1.0}, {{10.0, -1.0}}, 1, true, NULL},
    {"no video written", "fix.fill=blur", NULL, {10.0, -1.0}, {{-1.0, -1.0}}, 1, false,
     "the output is 0.00 s"},
    /* The probe said 2 s (a raw MPEG stream's bit-rate guess), the source held 20 s. */
    {"extend keeps a longer source", "fix.too_short=extend", m_short2, {20.02, -1.0},
     {{20.0, -1.0}}, 1, true, NULL},
    {"extend truncated fails", "fix.too_short=extend", m_short2, {20.02, -1.0},
     {{3.1, -1.0}}, 1, false, "the output is 3.10 s but the source is 20.02 s"},
    {"extend short of its hold fails", "fix.too_short=extend", m_short2, {2.0, 2.0},
     {{2.0, 3.1}}, 1, false, "is 2.00 s but the source is 3.10 s"},
    {"extend held", "fix.too_short=extend", m_short2, {2.0, 2.0}, {{3.1, 3.1}}, 1, true, NULL},
    {"trim may cut", "fix.too_long=trim", m_long1500, {1500.0, 1500.0}, {{600.0, 600.0}}, 1,
     true, NULL},
    {"trim short of its end fails", "fix.too_long=trim", m_long1500, {1500.0, 1500.0},
     {{500.0, 500.0}}, 1, false, "the output is 500.00 s but the source is 600.00 s"},
    {"split covers", "fix.too_long=split", m_long1500, {1500.0, 1500.0},
     {{500.0, 500.0}, {500.0, 500.0}, {500.0, 500.0}}, 3, true, NULL},
    {"split part short fails", "fix.too_long=split", m_long1500, {1500.0, 1500.0},
     {{500.0, 500.0}, {499.9, 500.0}, {500.0, 500.0}}, 3, false, "part 2 is 499.90 s"},
    {"split last part short fails", "fix.too_long=split", m_long1500, {1500.0, 1500.0},
     {{500.0, 500.0}, {500.0, 500.0}, {450.0, 500.0}}, 3, false,
     "part 3 is 450.00 s but should be 500.00 s"},
    {"split one frame per part is fine", "fix.too_long=split", m_long1500, {1500.0, 1500.0},
     {{499.97, 499.98}, {499.97, 499.98}, {499.97, 499.98}}, 3, true, NULL},
    {"split sound short fails", "fix.too_long=split", m_long1500, {1500.0, 1500.0},
     {{500.0, 500.0}, {500.0, 400.0}, {500.0, 500.0}}, 3, false, "parts' sound is 1400.00 s"},
    {"split part missing fails", "fix.too_long=split", m_long1500, {1500.0, 1500.0},
     {{500.0, 500.0}, {500.0, 500.0}}, 2, false, "2 outputs written but 3 planned"},
};
/* clang-format on */

static void no_mutation(tp_media_info *m)
{
    (void)m;
}

static void test_coverage(void **state)
{
    (void)state;
    for (size_t i = 0; i < TP_ARRAY_LEN(cover_cases); i++) {
        const cover_case *c = &cover_cases[i];
        tp_fit_plan plan;
        plan_with(&plan, c->set, c->mutate ? c->mutate : no_mutation);
        tp_error err = TP_ERROR_INIT;
        int rc = tp_fit_check_coverage(&plan, "clip.mpg", &c->source, c->outs, c->n_out, 1.0 / 30.0,
                                       &err);
        if (c->ok && rc != 0)
            fail_msg("%s: rc %d (%s)", c->name, rc, tp_error_message(&err));
        if (!c->ok && rc != TP_EMEDIA)
            fail_msg("%s: rc %d, expected TP_EMEDIA", c->name, rc);
        if (c->msg && !strstr(tp_error_message(&err), c->msg))
            fail_msg("%s: message '%s' lacks '%s'", c->name, tp_error_message(&err), c->msg);
        if (!c->ok && strncmp(tp_error_message(&err), "clip.mpg: ", 10))
            fail_msg("%s: message does not name the file: %s", c->name, tp_error_message(&err));
        tp_error_clear(&err);
    }
}

/* The plan states its cuts and holds, so the executor and the check agree on them. */
static void test_trim_hold_fields(void **state)
{
    (void)state;
    tp_fit_plan plan;
    plan_with(&plan, "fix.too_short=extend", m_short2);
    assert_true(fabs(plan.hold_until - 3.1) < 1e-9);
    assert_true(plan.trim_end == 0.0);
    plan_with(&plan, "fix.too_long=trim", m_long1500);
    assert_true(fabs(plan.trim_end - 600.0) < 1e-9);
    assert_true(plan.hold_until == 0.0);
    plan_with(&plan, "fix.too_long=split", m_long1500);
    assert_true(plan.trim_end == 0.0 && plan.hold_until == 0.0);
    double sum = 0.0;
    for (int k = 0; k < plan.n_parts; k++)
        sum += plan.parts[k].duration;
    assert_true(fabs(sum - 1500.0) < 1e-9);
}

/* Covers: an image makes a passing or remuxable file a transcode, its frames come first at the
 * output rate (>= 1), the timestamp is the middle of its span, and a trim keeps the total in
 * the limit; a timestamp alone is a frame of the video and changes nothing else. */
static void plan_cover(tp_fit_plan *plan, const char *set, tp_verdict verdict, tp_action action,
                       double duration, bool image)
{
    tp_error err = TP_ERROR_INIT;
    tp_profile *p = NULL;
    const char *sets[2] = {set, "fix.too_long=trim"};
    assert_int_equal(tp_profile_open(&p, "tiktok", sets, set ? 2 : 0, &err), 0);
    tp_media_info m;
    base_media(&m);
    m.duration = duration;
    m.video.display_width = m.video.width = 1080;
    m.video.display_height = m.video.height = 1920;
    if (image) {
        m.cover.source = TP_COVER_SIDECAR;
        strcpy(m.cover.path, "clip.cover.png");
        m.cover.width = 100;
        m.cover.height = 100;
    }
    tp_check_result chk;
    memset(&chk, 0, sizeof(chk));
    chk.verdict = verdict;
    chk.action = action;
    assert_int_equal(tp_fit_plan_make(plan, &m, &chk, p, &err), 0);
    tp_profile_free(p);
    tp_error_clear(&err);
}

static void test_cover_plan(void **state)
{
    (void)state;
    tp_fit_plan plan;
    plan_cover(&plan, NULL, TP_VERDICT_PASS, TP_ACTION_NONE, 10.0, true);
    assert_int_equal(plan.action, TP_ACTION_TRANSCODE);
    assert_int_equal(plan.cover_source, TP_COVER_SIDECAR);
    assert_int_equal(plan.cover_frames, 3); /* 100 ms at 30 fps */
    assert_true(fabs(plan.cover_duration - 0.1) < 1e-9);
    assert_true(plan.cover_timestamp_ms == 50);
    assert_true(fabs(plan.out_duration - 10.1) < 1e-9);
    assert_non_null(strstr(plan.reason, "cover image clip.cover.png"));
    /* RGB into BT.709 first, then the video's fill (blur: a square into 9:16). */
    assert_non_null(strstr(plan.cover_filter, "scale=out_color_matrix=bt709"));
    assert_non_null(strstr(plan.cover_filter, "boxblur"));
    plan_cover(&plan, NULL, TP_VERDICT_FIX, TP_ACTION_REMUX, 10.0, true);
    assert_int_equal(plan.action, TP_ACTION_TRANSCODE);
    plan_cover(&plan, "fix.cover.duration_ms=1", TP_VERDICT_PASS, TP_ACTION_NONE, 10.0, true);
    assert_int_equal(plan.cover_frames, 1);
    assert_true(plan.cover_timestamp_ms == 17);
    /* 599.95 s + the cover would pass 600 s: trimmed so the whole stays at 600 s. */
    plan_cover(&plan, "fix.cover.duration_ms=100", TP_VERDICT_PASS, TP_ACTION_NONE, 599.95, true);
    assert_int_equal(plan.action, TP_ACTION_TRANSCODE);
    assert_true(plan.trim_frames == 18000 - 3);
    assert_true(fabs(plan.trim_end - 600.0) < 1e-9 && fabs(plan.out_duration - 600.0) < 1e-9);
    /* A timestamp alone: a frame of the video; a passing file still passes. */
    plan_cover(&plan, "upload.tiktok.video_cover_timestamp_ms=2500", TP_VERDICT_PASS,
               TP_ACTION_NONE, 10.0, false);
    assert_int_equal(plan.action, TP_ACTION_NONE);
    assert_int_equal(plan.cover_source, TP_COVER_FRAME);
    assert_true(plan.cover_timestamp_ms == 2500 && plan.cover_frames == 0);
    plan_cover(&plan, NULL, TP_VERDICT_PASS, TP_ACTION_NONE, 10.0, false);
    assert_int_equal(plan.cover_source, TP_COVER_NONE);
    assert_string_equal(tp_cover_source_name(TP_COVER_PROFILE), "profile");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_budget_bound),
        cmocka_unit_test(test_work_limits),
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_coverage),
        cmocka_unit_test(test_trim_hold_fields),
        cmocka_unit_test(test_cover_plan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
