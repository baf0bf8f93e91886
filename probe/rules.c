/* Rules: judge measured media against a profile and pick a verdict. Pure functions (no FFmpeg, no
 * I/O) so every rule is unit-tested with hand-made media info. */
#include "probe/rules.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/tp_util.h"

const char *tp_verdict_name(tp_verdict v)
{
    switch (v) {
    case TP_VERDICT_PASS: return "pass";
    case TP_VERDICT_FIX: return "fix";
    case TP_VERDICT_REJECT: return "reject";
    case TP_VERDICT_ERROR: return "error";
    }
    return "error";
}

const char *tp_action_name(tp_action a)
{
    switch (a) {
    case TP_ACTION_NONE: return "none";
    case TP_ACTION_REMUX: return "remux";
    case TP_ACTION_TRANSCODE: return "transcode";
    }
    return "none";
}

const char *tp_severity_name(tp_severity s)
{
    return s == TP_SEV_WARN ? "warn" : "error";
}

/* What to do about each code add() below can emit, and the read errors probe/check.c reports.
 * test_rules reads both files and fails when a code has no row here. */
static const struct {
    const char *code, *hint;
} hints[] = {
    {"container", "fit writes an MP4: a remux when the streams can be copied, else a re-encode."},
    {"not_faststart", "fit moves the index to the front (a remux: no re-encoding)."},
    {"no_video", "Nothing can fix this: TikTok needs a video stream. Use another file."},
    {"video_codec", "fit re-encodes the video as H.264."},
    {"too_small", "fit scales it up to the profile's size; use a larger source if you have one."},
    {"too_large_dims", "fit scales it down to the profile's size."},
    {"aspect", "fit fills the 9:16 frame the way fix.fill says (pad, blur or crop)."},
    {"rotation", "fit turns the pixels upright."},
    {"sar", "fit resamples it to square pixels."},
    {"fps", "fit converts it to a constant frame rate within the limits."},
    {"vfr", "fit converts it to a constant frame rate."},
    {"interlaced", "fit deinterlaces it."},
    {"hdr", "fit tone-maps it to SDR (BT.709)."},
    {"pix_fmt", "fit converts it to 8-bit 4:2:0."},
    {"audio_codec", "fit re-encodes the audio as AAC."},
    {"audio_missing", "It is posted without sound. Add an audio track first if it needs one."},
    {"duration_unknown", "The length limits were not checked: tokprep check --deep measures it."},
    {"duration_too_short", "fix.too_short decides: extend it, or refuse it."},
    {"duration_too_long", "fix.too_long decides: split it into parts, trim it, or refuse it."},
    {"file_too_large", "fit re-encodes it at a bitrate that fits the size limit."},
    {"loudness", "fit normalises it when the profile sets fix.audio.loudness "
                 "(e.g. {target: -14})."},
    {"corrupt", "The file has decode errors: export it again from its source if you can."},
    {"burned_in_bars", "Set fix.autocrop: true to fill the frame from the picture alone."},
    {"cover_outside", "Choose a cover time inside the video (--cover-at or "
                      "upload.tiktok.video_cover_timestamp_ms)."},
    {"not_media", "tokprep cannot read it as a video: check the file, or export it again."},
    {"truncated", "The file ends early (an unfinished copy or download): copy it again in full."},
};

const char *tp_violation_hint(const char *code)
{
    for (size_t i = 0; code && i < sizeof(hints) / sizeof(hints[0]); i++)
        if (!strcmp(code, hints[i].code))
            return hints[i].hint;
    return "tokprep check FILE explains it.";
}

static void add(tp_check_result *r, const char *code, tp_severity sev, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Messages start with the code so that a message alone (human output, logs) is self-explaining. */
static void add(tp_check_result *r, const char *code, tp_severity sev, const char *fmt, ...)
{
    if (r->n_violations >= TP_MAX_VIOLATIONS)
        return;
    tp_violation *v = &r->violations[r->n_violations++];
    tp_strlcpy(v->code, code, sizeof(v->code));
    v->severity = sev;
    int n = snprintf(v->message, sizeof(v->message), "%s: ", code);
    if (n < 0 || (size_t)n >= sizeof(v->message))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->message + n, sizeof(v->message) - (size_t)n, fmt, ap);
    va_end(ap);
}

static void append_reason(tp_check_result *r, const char *text)
{
    size_t len = strlen(r->reason);
    if (len)
        snprintf(r->reason + len, sizeof(r->reason) - len, "; %s", text);
    else
        tp_strlcpy(r->reason, text, sizeof(r->reason));
}

/* "[a, b, c]" for messages. */
static void list_str(char *buf, size_t size, const tp_strlist *l)
{
    size_t len = tp_strlcpy(buf, "[", size);
    for (int i = 0; i < l->n && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? ", " : "", l->items[i]);
    if (len < size)
        snprintf(buf + len, size - len, "]");
}

/* A number without needless decimals: 600 -> "600", 29.97 -> "29.97". */
static void num_str(char *buf, size_t size, double v)
{
    snprintf(buf, size, "%.3f", v);
    char *dot = strchr(buf, '.');
    if (!dot)
        return;
    char *end = buf + strlen(buf) - 1;
    while (end > dot && *end == '0')
        *end-- = '\0';
    if (end == dot)
        *end = '\0';
}

static void size_str(char *buf, size_t size, int64_t bytes)
{
    const double b = (double)bytes;
    if (b >= 1e9)
        snprintf(buf, size, "%.2f GB", b / 1e9);
    else if (b >= 1e6)
        snprintf(buf, size, "%.2f MB", b / 1e6);
    else if (b >= 1e3)
        snprintf(buf, size, "%.2f kB", b / 1e3);
    else
        snprintf(buf, size, "%lld B", (long long)bytes);
}

/* Codecs that can be copied into an MP4 by a remux. vp8 cannot (no MP4 mapping). */
static bool mp4_copyable(const char *codec)
{
    static const char *const ok[] = {"h264", "hevc", "vp9",  "av1",  "aac", "mp3",
                                     "opus", "ac3",  "eac3", "alac", "flac"};
    for (size_t i = 0; i < TP_ARRAY_LEN(ok); i++)
        if (!strcmp(codec, ok[i]))
            return true;
    return false;
}

static bool aspect_ok(const tp_rules *rules, int w, int h, char *list, size_t list_size)
{
    bool ok = rules->n_aspects == 0;
    size_t len = tp_strlcpy(list, "[", list_size);
    for (int i = 0; i < rules->n_aspects; i++) {
        const tp_rational a = rules->aspects[i];
        if (a.num > 0 && a.den > 0 && h > 0) {
            double ratio = ((double)w / h) / ((double)a.num / a.den);
            /* 1 % tolerance: encoders round odd sizes to even (e.g. 1080x1918 is still 9:16). */
            if (fabs(ratio - 1.0) <= 0.01)
                ok = true;
        }
        if (len < list_size)
            len += (size_t)snprintf(list + len, list_size - len, "%s%d:%d", i ? ", " : "", a.num,
                                    a.den);
    }
    if (len < list_size)
        snprintf(list + len, list_size - len, "]");
    return ok;
}

void tp_rules_error(tp_check_result *out, const char *code, const char *message)
{
    memset(out, 0, sizeof(*out));
    out->verdict = TP_VERDICT_ERROR;
    out->action = TP_ACTION_NONE;
    if (code) {
        /* Avoid "truncated: truncated: ..." when the message already leads with the code. */
        size_t n = strlen(code);
        if (!strncmp(message, code, n) && message[n] == ':' && message[n + 1] == ' ')
            message += n + 2;
        add(out, code, TP_SEV_ERROR, "%s", message);
    }
    tp_strlcpy(out->reason, message, sizeof(out->reason));
}

/* Codes whose only cure is rewriting the container; everything else needs new streams. */
static bool remux_fixable(const char *code)
{
    return !strcmp(code, "container") || !strcmp(code, "not_faststart");
}

static void check_video(tp_check_result *r, const tp_media_info *m, const tp_rules *rules)
{
    const tp_video_info *v = &m->video;
    char buf[256], a[32], b[32];

    if (!tp_strlist_has(&rules->video_codecs, v->codec)) {
        list_str(buf, sizeof(buf), &rules->video_codecs);
        add(r, "video_codec", TP_SEV_ERROR, "%s not in %s", v->codec, buf);
    }

    const int dw = v->display_width, dh = v->display_height;
    const int short_side = dw < dh ? dw : dh, long_side = dw < dh ? dh : dw;
    bool picture_ok = true;
    if (rules->min_side > 0 && short_side < rules->min_side) {
        add(r, "too_small", TP_SEV_ERROR, "shorter side %d px < %d px (displayed %dx%d)",
            short_side, rules->min_side, dw, dh);
        picture_ok = false;
    }
    if (rules->max_side > 0 && long_side > rules->max_side) {
        add(r, "too_large_dims", TP_SEV_ERROR, "longer side %d px > %d px (displayed %dx%d)",
            long_side, rules->max_side, dw, dh);
        picture_ok = false;
    }
    if (!aspect_ok(rules, dw, dh, buf, sizeof(buf))) {
        int g = (int)tp_gcd64(dw, dh);
        g = g > 0 ? g : 1;
        add(r, "aspect", TP_SEV_ERROR, "displayed %dx%d (%d:%d, %.4f) not in %s (tolerance 1 %%)",
            dw, dh, dw / g, dh / g, dh > 0 ? (double)dw / dh : 0.0, buf);
        picture_ok = false;
    }

    /* Rotation and non-square pixels are only advice when the displayed picture already
     * conforms (players honour both); otherwise the fit has to bake them in. */
    const tp_severity geom = picture_ok ? TP_SEV_WARN : TP_SEV_ERROR;
    if (v->rotation % 360 != 0)
        add(r, "rotation", geom, "%d° display rotation (coded %dx%d, displayed %dx%d)", v->rotation,
            v->width, v->height, dw, dh);
    if (v->sar.num > 0 && v->sar.den > 0 && v->sar.num != v->sar.den)
        add(r, "sar", geom, "non-square pixels %d:%d (coded %dx%d, displayed %dx%d)", v->sar.num,
            v->sar.den, v->width, v->height, dw, dh);

    const double fps = v->fps.den > 0 ? (double)v->fps.num / v->fps.den : 0.0;
    if (fps <= 0.0) {
        add(r, "fps", TP_SEV_ERROR, "unknown frame rate, need %g..%g", rules->fps_min,
            rules->fps_max);
    } else if (fps + 1e-6 < rules->fps_min) {
        num_str(a, sizeof(a), fps);
        num_str(b, sizeof(b), rules->fps_min);
        add(r, "fps", TP_SEV_ERROR, "%s fps < %s fps", a, b);
    } else if (rules->fps_max > 0 && fps - 1e-6 > rules->fps_max) {
        num_str(a, sizeof(a), fps);
        num_str(b, sizeof(b), rules->fps_max);
        add(r, "fps", TP_SEV_ERROR, "%s fps > %s fps", a, b);
    }
    if (v->vfr)
        add(r, "vfr", TP_SEV_ERROR, "variable frame rate (average %.3f fps), constant required",
            fps);
    if (v->interlaced)
        add(r, "interlaced", TP_SEV_ERROR, "interlaced fields, progressive required");
    if (v->hdr[0])
        add(r, "hdr", TP_SEV_ERROR, "HDR transfer %s, SDR (BT.709) required", v->hdr);
    /* 8-bit 4:2:0 is what every phone and TikTok's player decode; anything else is re-encoded. */
    if (!v->pix_fmt[0]) {
        add(r, "pix_fmt", TP_SEV_ERROR,
            "unknown (not found within limits.probe_size / limits.analyze_duration), 8-bit "
            "4:2:0 required");
    } else if (v->bit_depth != 8 || strcmp(v->chroma, "420") != 0) {
        char chroma[16];
        if (strlen(v->chroma) == 3 && v->chroma[0] >= '0' && v->chroma[0] <= '9')
            snprintf(chroma, sizeof(chroma), "%c:%c:%c", v->chroma[0], v->chroma[1], v->chroma[2]);
        else
            snprintf(chroma, sizeof(chroma), "%s", v->chroma[0] ? v->chroma : "?");
        add(r, "pix_fmt", TP_SEV_ERROR, "%s (%d-bit %s), 8-bit 4:2:0 required", v->pix_fmt,
            v->bit_depth, chroma);
    }
}

bool tp_rules_loudness_range(const tp_profile *p, double *lo, double *hi)
{
    const tp_opt_range *r = &p->rules.loudness;
    if (r->set) {
        *lo = r->min;
        *hi = r->max;
        return true;
    }
    if (p->fix.audio.loudness.enabled) {
        *lo = p->fix.audio.loudness.target - TP_LOUDNESS_TOLERANCE;
        *hi = p->fix.audio.loudness.target + TP_LOUDNESS_TOLERANCE;
        return true;
    }
    return false;
}

/* Only a measured loudness is judged (--deep, or fit under a loudness rule): an unmeasured one
 * is not a guess either way. */
static void check_loudness(tp_check_result *r, const tp_media_info *m, const tp_profile *p)
{
    const tp_loudness *l = &m->audio.loudness;
    double lo, hi;
    if (!m->audio.present || !l->measured || !tp_rules_loudness_range(p, &lo, &hi))
        return;
    if (l->integrated >= lo - 0.05 && l->integrated <= hi + 0.05) /* figures shown to 0.1 */
        return;
    char a[32], b[32], hint[128];
    num_str(a, sizeof(a), lo);
    num_str(b, sizeof(b), hi);
    if (p->fix.audio.loudness.enabled)
        snprintf(hint, sizeof(hint),
                 "fit normalises it to %g LUFS (fix.audio.loudness; at most +20 dB)",
                 p->fix.audio.loudness.target);
    else
        snprintf(hint, sizeof(hint),
                 "set fix.audio.loudness (e.g. {target: -14}) to choose the level fit makes");
    add(r, "loudness", TP_SEV_ERROR, "%.1f LUFS not in [%s, %s] LUFS (%s) — %s", l->integrated,
        a, b, p->rules.loudness.set ? "rules.loudness" : "fix.audio.loudness target ±1 LU",
        hint);
}

void tp_rules_check(tp_check_result *out, const tp_media_info *m, const tp_profile *p)
{
    const tp_rules *rules = &p->rules;
    const tp_fix *fix = &p->fix;
    char buf[256], a[32], b[32];
    bool reject = false;

    memset(out, 0, sizeof(*out));

    if (!tp_strlist_has(&rules->containers, m->container)) {
        list_str(buf, sizeof(buf), &rules->containers);
        add(out, "container", TP_SEV_ERROR, "%s not in %s", m->container, buf);
    }
    const bool isobmff = !strcmp(m->container, "mp4") || !strcmp(m->container, "mov");
    if (rules->faststart && isobmff && !m->faststart)
        add(out, "not_faststart", TP_SEV_ERROR, "moov atom after mdat (rules.faststart: true)");

    if (!m->video.present) {
        add(out, "no_video", TP_SEV_ERROR, "no video stream (%d audio, %d subtitle, %d data)",
            m->n_audio, m->n_subtitle, m->n_data);
        append_reason(out, m->n_audio > 0
                               ? "audio only: no video stream, no profile setting makes it "
                                 "conformant"
                               : "no video stream: no profile setting makes it conformant");
        reject = true;
    } else {
        check_video(out, m, rules);
    }

    if (m->audio.present) {
        if (!tp_strlist_has(&rules->audio_codecs, m->audio.codec)) {
            list_str(buf, sizeof(buf), &rules->audio_codecs);
            add(out, "audio_codec", TP_SEV_ERROR, "%s not in %s", m->audio.codec, buf);
        }
    } else if (m->video.present) {
        add(out, "audio_missing", TP_SEV_WARN, "no audio stream (posted silent)");
    }

    if (m->duration < 0) {
        add(out, "duration_unknown", TP_SEV_WARN, "duration unknown, limits %g..%g s not checked",
            rules->duration_min, rules->duration_max);
    } else if (m->duration < rules->duration_min) {
        num_str(b, sizeof(b), rules->duration_min);
        add(out, "duration_too_short", TP_SEV_ERROR, "%.1f s < %s s", m->duration, b);
        if (fix->too_short == TP_TOO_SHORT_REJECT) {
            snprintf(buf, sizeof(buf),
                     "too_short: reject (%.1f s < %s s) — set fix.too_short=extend or lower "
                     "rules.duration",
                     m->duration, b);
            append_reason(out, buf);
            reject = true;
        }
    } else if (rules->duration_max > 0 && m->duration > rules->duration_max) {
        num_str(b, sizeof(b), rules->duration_max);
        add(out, "duration_too_long", TP_SEV_ERROR, "%.1f s > %s s", m->duration, b);
        if (fix->too_long == TP_TOO_LONG_REJECT) {
            snprintf(buf, sizeof(buf),
                     "too_long: reject (%.1f s > %s s) — set fix.too_long=split or "
                     "fix.too_long=trim, or raise rules.duration",
                     m->duration, b);
            append_reason(out, buf);
            reject = true;
        } else if (fix->too_long == TP_TOO_LONG_SPLIT &&
                   !(m->duration / rules->duration_max <= TP_MAX_PARTS - 1)) {
            /* Tested as a double: a header may claim years. */
            snprintf(buf, sizeof(buf),
                     "too_long: %.0f s would need more than %d parts of %s s — trim it "
                     "(fix.too_long=trim) or cut it into shorter files first",
                     m->duration, TP_MAX_PARTS - 1, b);
            append_reason(out, buf);
            reject = true;
        }
    }

    if (rules->max_size > 0 && m->size > rules->max_size) {
        size_str(a, sizeof(a), m->size);
        size_str(b, sizeof(b), rules->max_size);
        add(out, "file_too_large", TP_SEV_ERROR, "%s > %s (%lld B > %lld B)", a, b,
            (long long)m->size, (long long)rules->max_size);
    }
    check_loudness(out, m, p);
    if (m->deep && m->decode_errors > 0)
        add(out, "corrupt", TP_SEV_ERROR, "%d decode errors > 0 (--deep)", m->decode_errors);
    const tp_rect *area = &m->video.active_area;
    if (m->video.present && m->video.bars_scanned &&
        (area->width != m->video.width || area->height != m->video.height))
        add(out, "burned_in_bars", TP_SEV_WARN,
            "black bars burned into the picture: the picture is %dx%d at %d,%d of %dx%d (%s)",
            area->width, area->height, area->x, area->y, m->video.width, m->video.height,
            fix->autocrop ? "fit fills from the picture alone: fix.autocrop"
                          : "set fix.autocrop=true to fill from the picture alone");

    /* A cover frame past the end: TikTok would pick none (or refuse the post). An image cover
     * sets its own timestamp, inside the output. */
    long long cover_ms = p->upload.tiktok.video_cover_timestamp_ms;
    if (m->cover.source == TP_COVER_NONE && cover_ms > 0 && m->duration >= 0 &&
        (double)cover_ms >= m->duration * 1000.0)
        add(out, "cover_outside", TP_SEV_WARN,
            "the cover timestamp %lld ms (upload.tiktok.video_cover_timestamp_ms or --cover-at) "
            "is not inside the video (%.3f s); TikTok would have no frame there",
            cover_ms, m->duration);

    if (reject) {
        out->verdict = TP_VERDICT_REJECT;
        out->action = TP_ACTION_NONE;
        return;
    }
    bool any_error = false, remux = true;
    for (int i = 0; i < out->n_violations; i++) {
        const tp_violation *v = &out->violations[i];
        if (v->severity != TP_SEV_ERROR)
            continue;
        any_error = true;
        if (!remux_fixable(v->code))
            remux = false;
        else if (!strcmp(v->code, "container") &&
                 (!mp4_copyable(m->video.codec) ||
                  (m->audio.present && !mp4_copyable(m->audio.codec))))
            remux = false; /* the streams could not be copied into an MP4 */
    }
    if (!any_error) {
        out->verdict = TP_VERDICT_PASS;
        out->action = TP_ACTION_NONE;
        return;
    }
    out->verdict = TP_VERDICT_FIX;
    out->action = remux ? TP_ACTION_REMUX : TP_ACTION_TRANSCODE;
}
