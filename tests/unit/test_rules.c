/* Rules unit tests: hand-made media info against the built-in tiktok profile, one table row per
 * case: what to change, the expected verdict/action and the violation that must (not) appear. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "probe/rules.h"
#include "util/tp_util.h"

/* A file that passes the tiktok profile: 1080x1920 h264 High 8-bit 4:2:0 30 fps, AAC, MP4
 * with moov first, 30 s, 20 MB. */
static tp_media_info good_media(void)
{
    tp_media_info m;
    memset(&m, 0, sizeof(m));
    strcpy(m.container, "mp4");
    m.size = 20000000;
    m.duration = 30.0;
    m.bit_rate = 5000000;
    m.faststart = true;
    m.video.present = true;
    strcpy(m.video.codec, "h264");
    strcpy(m.video.profile, "High");
    m.video.width = 1080;
    m.video.height = 1920;
    m.video.sar = (tp_rational){1, 1};
    m.video.display_width = 1080;
    m.video.display_height = 1920;
    m.video.fps = (tp_rational){30, 1};
    strcpy(m.video.pix_fmt, "yuv420p");
    m.video.bit_depth = 8;
    strcpy(m.video.chroma, "420");
    m.audio.present = true;
    strcpy(m.audio.codec, "aac");
    m.audio.channels = 2;
    m.audio.sample_rate = 48000;
    m.n_video = 1;
    m.n_audio = 1;
    return m;
}

typedef void (*mutate_fn)(tp_media_info *m, tp_profile *p);

typedef struct {
    const char *name;
    mutate_fn mutate;
    tp_verdict verdict;
    tp_action action;
    const char *code;     /* a violation that must be present (NULL: none required) */
    tp_severity severity; /* ... with this severity */
    const char *message;  /* ... whose message contains this (NULL: not checked) */
    const char *reason;   /* the reason must contain this (NULL: not checked) */
} rule_case;

static void m_none(tp_media_info *m, tp_profile *p)
{
    (void)m;
    (void)p;
}
static void m_mkv(tp_media_info *m, tp_profile *p)
{
    (void)p;
    strcpy(m->container, "mkv");
}
static void m_mkv_vp8(tp_media_info *m, tp_profile *p)
{
    (void)p;
    strcpy(m->container, "mkv");
    strcpy(m->video.codec, "vp8");
}
static void m_mkv_prores(tp_media_info *m, tp_profile *p)
{
    (void)p;
    strcpy(m->container, "mkv");
    strcpy(m->video.codec, "prores");
}
static void m_not_faststart(tp_media_info *m, tp_profile *p)
{
    (void)p;
    m->faststart = false;
}
static void m_faststart_off(tp_media_info *m, tp_profile *p)
{
    m->faststart = false;
    p->rules.faststart = false;
}
static void m_webm_no_faststart(tp_media_info *m, tp_profile *p)
{
    (void)p;
    strcpy(m->container, "webm");
    strcpy(m->video.codec, "vp9");
    strcpy(m->audio.codec, "opus");
    m->faststart = false; /* not an ISO BMFF container: the rule does not apply */
}
static void m_no_faststart_and_fps(tp_media_info *m, tp_profile *p)
{
    (void)p;
    m->faststart = false;
    m->video.fps = (tp_rational){15, 1};
}
static void m_no_video(tp_media_info *m, tp_profile *p)
{
    (void)p;
    memset(&m->video, 0, sizeof(m->video));
    m->n_video = 0;
}
static void m_vcodec(tp_media_info *m, tp_profile *p)
{
    (void)p;
    strcpy(m->video.codec, "mpeg4");
}
static void m_acodec(tp_media_info *m, tp_profile *p)
{
    (void)p;
    strcpy(m->audio.codec, "pcm_s16le");
}
static void m_no_audio(tp_media_info *m, tp_profile *p)
{
    (void)p;
    memset(&m->audio, 0, sizeof(m->audio));
    m->n_audio = 0;
}
static void set_dims(tp_media_info *m, int w, int h)
{
    m->video.width = m->video.display_width = w;
    m->video.height = m->video.display_height = h;
}
static void m_small(tp_media_info *m, tp_profile *p)
{
    (void)p;
    set_dims(m, 180, 320);
}
static void m_large(tp_media_info *m, tp_profile *p)
{
    (void)p;
    set_dims(m, 2304, 4096 + 8);
}
static void m_landscape(tp_media_info *m, tp_profile *p)
{
    (void)p;
    set_dims(m, 1920, 1080);
}
static void m_nearly_916(tp_media_info *m, tp_profile *p)
{
    (void)p;
    set_dims(m, 1080, 1918);
}
static void m_square_allowed(tp_media_info *m, tp_profile *p)
{
    set_dims(m, 1080, 1080);
    p->rules.aspects[p->rules.n_aspects++] = (tp_rational){1, 1};
}
static void m_fps_low(tp_media_info *m, tp_profile *p)
{
    (void)p;
    m->video.fps = (tp_rational){15, 1};
}
static void m_fps_high(tp_media_info *m, tp_profile *p)
{
    (void)p;
    m->video.fps = (tp_rational){120, 1};
}
static void m_fps_ntsc(tp_media_info *m, tp_profile *p)
{
    (void)p;
    m->video.fps = (tp_rational){24000, 1001}; /* 23.976 >= 23 */
}
static void m_fps_unknown(tp_media_info *m, tp_profile *p)
{
    (void)p;
    m->video.fps = (tp_rational){0, 1};
}
static void m_vfr(tp_media_info *m, tp_profile *p)
{
    (void)p;
    m->video.vfr = true;
}
static void m_rotated_ok(tp_media_info *m, tp_profile *p)
{
    (void)p;
    m->video.width = 1920; /* coded landscape, displayed portrait */
    m->video.height = 1080;
    m->video.rotation = 90;
}
static void m_rotated_bad(tp_media_info *m, tp_profile *p)
{
    (void)p;
    m->video.width = 1080; /* coded portrait, rotated to landscape: the picture fails */
    m->video.height = 1920;
    m->video.display_width = 1920;
    m->video.display_height = 1080;
    m->video.rotation = 90;
}
static void m_sar_ok(tp_media_info *m, tp_profile *p)
{
    (void)p;
    m->video.width = 810;
    m->video.sar = (tp_rational){4, 3};
}
static void m_sar_bad(tp_media_info *m, tp_profile *p)
{
    (void)p;
    m->video.sar = (tp_rational){4, 3};
    m->video.display_width = 1440;
}
static void m_interlaced(tp_media_info *m, tp_profile *p)
{
    (void)p;
    m->video.interlaced = true;
}
static void m_hdr(tp_media_info *m, tp_profile *p)
{
    (void)p;
    strcpy(m->video.hdr, "pq");
}
static void m_hlg(tp_media_info *m, tp_profile *p)
{
    (void)p;
    strcpy(m->video.hdr, "hlg");
}
static void m_10bit(tp_media_info *m, tp_profile *p)
{
    (void)p;
    strcpy(m->video.pix_fmt, "yuv420p10le");
    m->video.bit_depth = 10;
}
static void m_444(tp_media_info *m, tp_profile *p)
{
    (void)p;
    strcpy(m->video.pix_fmt, "yuv444p");
    strcpy(m->video.chroma, "444");
}
static void m_short_reject(tp_media_info *m, tp_profile *p)
{
    (void)p;
    m->duration = 2.0;
}
static void m_short_extend(tp_media_info *m, tp_profile *p)
{
    m->duration = 2.0;
    p->fix.too_short = TP_TOO_SHORT_EXTEND;
}
static void m_long_split(tp_media_info *m, tp_profile *p)
{
    (void)p;
    m->duration = 660.0;
}
static void m_long_split_63(tp_media_info *m, tp_profile *p)
{
    (void)p;
    m->duration = 600.0 * 63; /* exactly 63 parts of 600 s: still fixable */
}
static void m_long_split_too_many(tp_media_info *m, tp_profile *p)
{
    (void)p;
    m->duration = 600.0 * 63 + 1; /* 64 parts: the fit planner refuses it, so must the check */
}
static void m_long_split_years(tp_media_info *m, tp_profile *p)
{
    (void)p;
    m->duration = 1e11; /* a header claiming 3,170 years */
}
static void m_long_trim(tp_media_info *m, tp_profile *p)
{
    m->duration = 660.0;
    p->fix.too_long = TP_TOO_LONG_TRIM;
}
static void m_long_reject(tp_media_info *m, tp_profile *p)
{
    m->duration = 660.0;
    p->fix.too_long = TP_TOO_LONG_REJECT;
}
static void m_duration_unknown(tp_media_info *m, tp_profile *p)
{
    (void)p;
    m->duration = -1;
}
static void m_big(tp_media_info *m, tp_profile *p)
{
    (void)p;
    m->size = 1200000000;
}
static void m_corrupt(tp_media_info *m, tp_profile *p)
{
    (void)p;
    m->deep = true;
    m->decode_errors = 3;
}
static void m_deep_clean(tp_media_info *m, tp_profile *p)
{
    (void)p;
    m->deep = true;
}
static void m_reject_wins(tp_media_info *m, tp_profile *p)
{
    (void)p;
    m->duration = 1.0;
    strcpy(m->container, "avi");
}

static void loud(tp_media_info *m, double lufs)
{
    m->audio.loudness = (tp_loudness){true, lufs, 5.0, lufs + 10.0};
}

static void m_loud_rule_quiet(tp_media_info *m, tp_profile *p)
{
    p->rules.loudness = (tp_opt_range){true, -16, -12};
    loud(m, -30.2);
}

static void m_loud_rule_fix(tp_media_info *m, tp_profile *p)
{
    m_loud_rule_quiet(m, p);
    p->fix.audio.loudness.enabled = true;
    p->fix.audio.loudness.target = -14;
}

static void m_loud_rule_in_range(tp_media_info *m, tp_profile *p)
{
    p->rules.loudness = (tp_opt_range){true, -16, -12};
    loud(m, -11.97); /* shown as -12.0: in */
}

static void m_loud_rule_unmeasured(tp_media_info *m, tp_profile *p)
{
    (void)m;
    p->rules.loudness = (tp_opt_range){true, -16, -12}; /* no --deep: not judged */
}

static void m_loud_no_rule(tp_media_info *m, tp_profile *p)
{
    (void)p;
    loud(m, -40.0); /* measured (--deep) but nothing asks for a level */
}

static void m_loud_fix_only(tp_media_info *m, tp_profile *p)
{
    p->fix.audio.loudness.enabled = true;
    p->fix.audio.loudness.target = -14;
    loud(m, -8.0); /* target ±1 LU is the range */
}

#define E TP_SEV_ERROR
#define W TP_SEV_WARN
static const rule_case cases[] = {
    {"loudness out of range", m_loud_rule_quiet, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, "loudness",
     E, "-30.2 LUFS not in [-16, -12] LUFS (rules.loudness) — set fix.audio.loudness", NULL},
    {"loudness, fix set", m_loud_rule_fix, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, "loudness", E,
     "fit normalises it to -14 LUFS (fix.audio.loudness; at most +20 dB)", NULL},
    {"loudness in range", m_loud_rule_in_range, TP_VERDICT_PASS, TP_ACTION_NONE, NULL, E, NULL,
     NULL},
    {"loudness not measured", m_loud_rule_unmeasured, TP_VERDICT_PASS, TP_ACTION_NONE, NULL, E,
     NULL, NULL},
    {"loudness, no rule", m_loud_no_rule, TP_VERDICT_PASS, TP_ACTION_NONE, NULL, E, NULL, NULL},
    {"loudness, fix only", m_loud_fix_only, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, "loudness", E,
     "-8.0 LUFS not in [-15, -13] LUFS (fix.audio.loudness target ±1 LU)", NULL},
    {"conformant", m_none, TP_VERDICT_PASS, TP_ACTION_NONE, NULL, E, NULL, NULL},
    {"container", m_mkv, TP_VERDICT_FIX, TP_ACTION_REMUX, "container", E,
     "mkv not in [mp4, mov, webm]", NULL},
    {"container vp8 needs transcode", m_mkv_vp8, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, "container",
     E, NULL, NULL},
    {"container + bad codec", m_mkv_prores, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, "video_codec", E,
     "prores", NULL},
    {"not_faststart", m_not_faststart, TP_VERDICT_FIX, TP_ACTION_REMUX, "not_faststart", E, NULL,
     NULL},
    {"faststart not required", m_faststart_off, TP_VERDICT_PASS, TP_ACTION_NONE, NULL, E, NULL,
     NULL},
    {"webm has no moov", m_webm_no_faststart, TP_VERDICT_PASS, TP_ACTION_NONE, NULL, E, NULL, NULL},
    {"faststart + fps", m_no_faststart_and_fps, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, "fps", E,
     "15 fps < 23 fps", NULL},
    {"no_video", m_no_video, TP_VERDICT_REJECT, TP_ACTION_NONE, "no_video", E, NULL, "audio only"},
    {"video_codec", m_vcodec, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, "video_codec", E,
     "mpeg4 not in [h264, hevc, vp8, vp9]", NULL},
    {"audio_codec", m_acodec, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, "audio_codec", E, "pcm_s16le",
     NULL},
    {"audio_missing", m_no_audio, TP_VERDICT_PASS, TP_ACTION_NONE, "audio_missing", W, NULL, NULL},
    {"too_small", m_small, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, "too_small", E, "180 px < 360 px",
     NULL},
    {"too_large_dims", m_large, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, "too_large_dims", E,
     "4104 px > 4096 px", NULL},
    {"aspect", m_landscape, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, "aspect", E, "1920x1080 (16:9",
     NULL},
    {"aspect within 1 %", m_nearly_916, TP_VERDICT_PASS, TP_ACTION_NONE, NULL, E, NULL, NULL},
    {"aspect list", m_square_allowed, TP_VERDICT_PASS, TP_ACTION_NONE, NULL, E, NULL, NULL},
    {"fps low", m_fps_low, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, "fps", E, "15 fps < 23 fps", NULL},
    {"fps high", m_fps_high, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, "fps", E, "120 fps > 60 fps",
     NULL},
    {"fps 23.976", m_fps_ntsc, TP_VERDICT_PASS, TP_ACTION_NONE, NULL, E, NULL, NULL},
    {"fps unknown", m_fps_unknown, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, "fps", E, "unknown", NULL},
    {"vfr", m_vfr, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, "vfr", E, NULL, NULL},
    {"rotation, picture ok", m_rotated_ok, TP_VERDICT_PASS, TP_ACTION_NONE, "rotation", W, "90°",
     NULL},
    {"rotation, picture bad", m_rotated_bad, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, "rotation", E,
     NULL, NULL},
    {"sar, picture ok", m_sar_ok, TP_VERDICT_PASS, TP_ACTION_NONE, "sar", W, "4:3", NULL},
    {"sar, picture bad", m_sar_bad, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, "sar", E, NULL, NULL},
    {"interlaced", m_interlaced, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, "interlaced", E, NULL, NULL},
    {"hdr pq", m_hdr, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, "hdr", E, "pq", NULL},
    {"hdr hlg", m_hlg, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, "hdr", E, "hlg", NULL},
    {"pix_fmt 10-bit", m_10bit, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, "pix_fmt", E,
     "yuv420p10le (10-bit 4:2:0)", NULL},
    {"pix_fmt 4:4:4", m_444, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, "pix_fmt", E, "4:4:4", NULL},
    {"too short, reject", m_short_reject, TP_VERDICT_REJECT, TP_ACTION_NONE, "duration_too_short",
     E, "2.0 s < 3 s", "set fix.too_short=extend"},
    {"too short, extend", m_short_extend, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, "duration_too_short",
     E, NULL, NULL},
    {"too long, split", m_long_split, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, "duration_too_long", E,
     "duration_too_long: 660.0 s > 600 s", NULL},
    {"too long, 63 parts", m_long_split_63, TP_VERDICT_FIX, TP_ACTION_TRANSCODE,
     "duration_too_long", E, NULL, NULL},
    {"too long, 64 parts", m_long_split_too_many, TP_VERDICT_REJECT, TP_ACTION_NONE,
     "duration_too_long", E, NULL, "would need more than 63 parts of 600 s"},
    {"too long, years", m_long_split_years, TP_VERDICT_REJECT, TP_ACTION_NONE, "duration_too_long",
     E, NULL, "fix.too_long=trim"},
    {"too long, trim", m_long_trim, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, "duration_too_long", E,
     NULL, NULL},
    {"too long, reject", m_long_reject, TP_VERDICT_REJECT, TP_ACTION_NONE, "duration_too_long", E,
     NULL, "set fix.too_long=split"},
    {"duration unknown", m_duration_unknown, TP_VERDICT_PASS, TP_ACTION_NONE, "duration_unknown", W,
     NULL, NULL},
    {"file_too_large", m_big, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, "file_too_large", E,
     "1.20 GB > 1.00 GB", NULL},
    {"corrupt (deep)", m_corrupt, TP_VERDICT_FIX, TP_ACTION_TRANSCODE, "corrupt", E,
     "3 decode errors", NULL},
    {"deep and clean", m_deep_clean, TP_VERDICT_PASS, TP_ACTION_NONE, NULL, E, NULL, NULL},
    {"reject wins over fix", m_reject_wins, TP_VERDICT_REJECT, TP_ACTION_NONE, "container", E, NULL,
     "too_short"},
};

static tp_profile *open_profile(void)
{
    tp_profile *p = NULL;
    tp_error err = TP_ERROR_INIT;
    if (tp_profile_open(&p, "tiktok", NULL, 0, &err) < 0)
        fail_msg("cannot open the tiktok profile: %s", tp_error_message(&err));
    tp_error_clear(&err);
    return p;
}

static const tp_violation *find(const tp_check_result *r, const char *code)
{
    for (int i = 0; i < r->n_violations; i++)
        if (!strcmp(r->violations[i].code, code))
            return &r->violations[i];
    return NULL;
}

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < TP_ARRAY_LEN(cases); i++) {
        const rule_case *c = &cases[i];
        tp_profile *p = open_profile();
        tp_media_info m = good_media();
        tp_check_result r;
        c->mutate(&m, p);
        tp_rules_check(&r, &m, p);
        print_message("case %-32s -> %s/%s, %d violation(s)\n", c->name, tp_verdict_name(r.verdict),
                      tp_action_name(r.action), r.n_violations);
        if (r.verdict != c->verdict || r.action != c->action)
            fail_msg("case '%s': got %s/%s, want %s/%s (first: %s)", c->name,
                     tp_verdict_name(r.verdict), tp_action_name(r.action),
                     tp_verdict_name(c->verdict), tp_action_name(c->action),
                     r.n_violations ? r.violations[0].message : "-");
        if (c->code) {
            const tp_violation *v = find(&r, c->code);
            if (!v)
                fail_msg("case '%s': violation %s missing", c->name, c->code);
            if (v->severity != c->severity)
                fail_msg("case '%s': %s has severity %s", c->name, c->code,
                         tp_severity_name(v->severity));
            if (strncmp(v->message, c->code, strlen(c->code)) != 0)
                fail_msg("case '%s': message '%s' does not start with its code", c->name,
                         v->message);
            if (c->message && !strstr(v->message, c->message))
                fail_msg("case '%s': message '%s' lacks '%s'", c->name, v->message, c->message);
        }
        if (c->reason && !strstr(r.reason, c->reason))
            fail_msg("case '%s': reason '%s' lacks '%s'", c->name, r.reason, c->reason);
        if (c->verdict == TP_VERDICT_PASS) /* a pass carries no error-severity violation */
            for (int k = 0; k < r.n_violations; k++)
                assert_int_equal(r.violations[k].severity, TP_SEV_WARN);
        tp_profile_free(p);
    }
}

/* Every code the issue lists is produced by some case above (not_media/truncated come from
 * tp_rules_error, tested below). */
static void test_codes_covered(void **state)
{
    (void)state;
    static const char *const codes[] = {"no_video",
                                        "container",
                                        "video_codec",
                                        "audio_codec",
                                        "audio_missing",
                                        "too_small",
                                        "too_large_dims",
                                        "aspect",
                                        "fps",
                                        "vfr",
                                        "rotation",
                                        "sar",
                                        "interlaced",
                                        "hdr",
                                        "pix_fmt",
                                        "duration_too_short",
                                        "duration_too_long",
                                        "file_too_large",
                                        "not_faststart",
                                        "loudness"};
    for (size_t k = 0; k < TP_ARRAY_LEN(codes); k++) {
        bool seen = false;
        for (size_t i = 0; i < TP_ARRAY_LEN(cases) && !seen; i++)
            seen = cases[i].code && !strcmp(cases[i].code, codes[k]);
        if (!seen)
            fail_msg("no case for %s", codes[k]);
    }
}

/* The codes a source file emits: the first argument after `add(X, ` in probe/rules.c, every
 * string literal on a `code = ` line in probe/check.c (the read errors). Returns the count. */
static size_t source_codes(const char *file, int assignments, char codes[][32], size_t max)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", TP_SOURCE_DIR, file);
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot read %s", path);
    static char text[1 << 20];
    size_t len = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[len] = '\0';
    size_t n = 0;
    for (const char *p = text; *p && n < max; p++) {
        const char *q = NULL, *end = NULL;
        if (!assignments && !strncmp(p, "add(", 4) && (p == text || !(isalnum((unsigned char)p[-1]) || p[-1] == '_'))) {
            q = p + 4;
            while (isalnum((unsigned char)*q) || *q == '_')
                q++;
            if (*q++ != ',')
                continue;
            while (isspace((unsigned char)*q))
                q++;
            if (*q != '"')
                continue;
            end = q + 1;
            while (*end && *end != '"')
                end++;
            snprintf(codes[n++], 32, "%.*s", (int)(end - q - 1), q + 1);
        } else if (assignments && !strncmp(p, "code = ", 7)) {
            for (q = p + 7; *q && *q != ';' && n < max; q++) {
                if (*q != '"')
                    continue;
                end = q + 1;
                while (*end && *end != '"')
                    end++;
                snprintf(codes[n++], 32, "%.*s", (int)(end - q - 1), q + 1);
                q = end;
            }
        }
    }
    return n;
}

/* Every code the rules or a failed read can report has its own hint, not the general one. */
static void test_hints(void **state)
{
    (void)state;
    static char codes[128][32];
    const char *fallback = tp_violation_hint("no_such_code");
    assert_non_null(fallback);
    assert_ptr_equal(tp_violation_hint(NULL), fallback);
    size_t n = source_codes("probe/rules.c", 0, codes, 120);
    assert_true(n >= 24); /* the scan found the add() calls */
    size_t m = source_codes("probe/check.c", 1, codes + n, 8);
    assert_true(m >= 2); /* not_media, truncated */
    for (size_t i = 0; i < n + m; i++) {
        const char *h = tp_violation_hint(codes[i]);
        assert_non_null(h);
        if (h == fallback || !*h)
            fail_msg("no hint for the violation code \"%s\" (probe/rules.c hints[])", codes[i]);
    }
}

static void test_error_result(void **state)
{
    (void)state;
    tp_check_result r;
    tp_rules_error(&r, "not_media", "x.mp4: not media");
    assert_int_equal(r.verdict, TP_VERDICT_ERROR);
    assert_int_equal(r.action, TP_ACTION_NONE);
    assert_int_equal(r.n_violations, 1);
    assert_string_equal(r.violations[0].code, "not_media");
    assert_string_equal(r.violations[0].message, "not_media: x.mp4: not media");
    assert_string_equal(r.reason, "x.mp4: not media");
    tp_rules_error(&r, NULL, "x.mp4: permission denied");
    assert_int_equal(r.n_violations, 0);
    assert_string_equal(r.reason, "x.mp4: permission denied");
    tp_rules_error(&r, "truncated", "truncated: the 'mdat' atom runs past the end");
    assert_string_equal(r.violations[0].message, "truncated: the 'mdat' atom runs past the end");
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(tp_verdict_name(TP_VERDICT_PASS), "pass");
    assert_string_equal(tp_verdict_name(TP_VERDICT_FIX), "fix");
    assert_string_equal(tp_verdict_name(TP_VERDICT_REJECT), "reject");
    assert_string_equal(tp_verdict_name(TP_VERDICT_ERROR), "error");
    assert_string_equal(tp_action_name(TP_ACTION_REMUX), "remux");
    assert_string_equal(tp_action_name(TP_ACTION_TRANSCODE), "transcode");
    assert_string_equal(tp_severity_name(TP_SEV_WARN), "warn");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_codes_covered),
        cmocka_unit_test(test_hints),
        cmocka_unit_test(test_error_result),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
