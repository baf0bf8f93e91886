/* Fit planner: media info + check verdict + profile → what fit will do (pass, remux or
 * transcode with this filter chain, bit-rate ceiling and list of parts). Pure: no FFmpeg, no I/O,
 * so every decision is unit-tested without media. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "transcode/fit.h"
#include "util/tp_util.h"

/* The share of rules.max_size we aim at: the VBV bound is not exact and the container adds
 * overhead (moov grows with duration), so keep a margin. */
#define TP_SIZE_MARGIN 0.90
/* Container overhead estimate, bytes per second of output (moov tables, mdat headers). */
#define TP_MUX_OVERHEAD_PER_S 2000.0
/* VBV buffer length in seconds of maxrate: a larger buffer helps quality on cuts, but the
 * worst-case size is maxrate * (duration + buffer seconds). */
#define TP_VBV_SECONDS 2.0
/* Below this video ceiling the picture would be unwatchable: refuse rather than emit mush. */
#define TP_MIN_VIDEO_BITRATE 150000
/* Aspect ratios within this relative difference are treated as equal (same as the rules). */
#define TP_ASPECT_TOLERANCE 0.01
/* fill: blur recomputes its background this many times per second and holds it in between:
 * held bands are identical frame to frame, so x264 codes them as skip blocks instead of
 * motion-searching moving colour (the whole cost of blur over pad). Blurred and at the edge of
 * the frame, a background a fraction of a second old is hardly seen; see docs/PERFORMANCE.md. */
#define TP_BLUR_REFRESH_PER_S 3.0

static int even_down(double v)
{
    int i = (int)floor(v + 1e-6);
    if (i < 2)
        i = 2;
    return i & ~1;
}

static int even_up(double v)
{
    int i = (int)ceil(v - 1e-6);
    if (i < 2)
        i = 2;
    return (i + 1) & ~1;
}

static tp_rational rational_from_double(double v)
{
    tp_rational r;
    if (fabs(v - round(v)) < 1e-6) {
        r.num = (int)round(v);
        r.den = 1;
        return r;
    }
    /* NTSC rates stay exact: 29.97 → 30000/1001. */
    double ntsc = v * 1.001;
    if (fabs(ntsc - round(ntsc)) < 1e-3) {
        r.num = (int)round(ntsc) * 1000;
        r.den = 1001;
        return r;
    }
    int64_t num = llround(v * 1000.0), den = 1000, g = tp_gcd64(num, den);
    r.num = (int)(num / g);
    r.den = (int)(den / g);
    return r;
}

static double rational_value(tp_rational r)
{
    return r.den ? (double)r.num / r.den : 0.0;
}

/* The output frame rate: the source's, clamped into rules.fps. A VFR source is made constant at
 * its rounded average rate, so no fraction like 29.41 reaches the encoder. */
static tp_rational plan_fps(const tp_media_info *m, const tp_rules *r)
{
    double fps = rational_value(m->video.fps);
    tp_rational out = m->video.fps;
    if (!(fps > 0.0) || !isfinite(fps)) {
        fps = 30.0;
        out = rational_from_double(30.0);
    } else if (m->video.vfr) {
        fps = round(fps);
        out = rational_from_double(fps);
    }
    if (r->fps_max > 0 && fps > r->fps_max + 1e-9) {
        /* A whole divisor of the source rate keeps motion even (120 → 60, 59.94 → 29.97...). */
        int div = 2;
        while (div <= 8 && !(fps / div <= r->fps_max + 1e-9 && fps / div >= r->fps_min - 1e-9))
            div++;
        if (div <= 8) {
            fps /= div;
            out.den *= div;
        } else {
            fps = r->fps_max;
            out = rational_from_double(fps);
        }
    }
    if (r->fps_min > 0 && fps < r->fps_min - 1e-9) {
        fps = r->fps_min;
        out = rational_from_double(fps);
    }
    int64_t g = tp_gcd64(out.num, out.den);
    if (g > 1) {
        out.num = (int)(out.num / g);
        out.den = (int)(out.den / g);
    }
    return out;
}

/* Displayed size after SAR and rotation; the probe fills it, but compute it when it did not. */
static void display_size(const tp_media_info *m, int *w, int *h)
{
    *w = m->video.display_width;
    *h = m->video.display_height;
    if (*w > 0 && *h > 0)
        return;
    double sar = m->video.sar.num > 0 && m->video.sar.den > 0 ? rational_value(m->video.sar) : 1.0;
    int cw = (int)lround(m->video.width * (sar > 1.0 ? sar : 1.0));
    int ch = (int)lround(m->video.height / (sar < 1.0 ? sar : 1.0));
    bool quarter = m->video.rotation == 90 || m->video.rotation == 270;
    *w = quarter ? ch : cw;
    *h = quarter ? cw : ch;
}

/* fix.autocrop: the picture inside burned-in bars, when the probe found any that fit inside the
 * decoded frame; *dw×*dh become the displayed size of that picture alone. */
static bool plan_crop(tp_rect *crop, const tp_media_info *m, const tp_fix *fix, int *dw, int *dh)
{
    const tp_video_info *v = &m->video;
    const tp_rect *a = &v->active_area;
    memset(crop, 0, sizeof(*crop));
    if (!fix->autocrop || !v->bars_scanned || v->width <= 0 || v->height <= 0)
        return false;
    if (a->x < 0 || a->y < 0 || a->width < 2 || a->height < 2 || a->x > v->width - a->width ||
        a->y > v->height - a->height || (a->width == v->width && a->height == v->height))
        return false;
    /* The display size scales with the coded size (SAR), axes swapped by a quarter turn. */
    bool quarter = v->rotation == 90 || v->rotation == 270;
    double fx = (double)(quarter ? a->height : a->width) / (quarter ? v->height : v->width);
    double fy = (double)(quarter ? a->width : a->height) / (quarter ? v->width : v->height);
    int w = (int)lround(*dw * fx), h = (int)lround(*dh * fy);
    if (w <= 0 || h <= 0)
        return false;
    *dw = w;
    *dh = h;
    *crop = *a;
    return true;
}

/* Appends printf output to the chain; false when the buffer is full (a planner bug, since the
 * chain is bounded). */
__attribute__((format(printf, 3, 4))) static bool appendf(char *buf, size_t size, const char *fmt,
                                                          ...)
{
    size_t len = strlen(buf);
    if (len >= size - 1)
        return false;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + len, size - len, fmt, ap);
    va_end(ap);
    return n >= 0 && (size_t)n < size - len;
}

/* HDR → SDR BT.709: linearise with zscale, tone-map in linear light (mobius: linear up to
 * mid-tones, then rolls highlights off, so colours keep their saturation; hable darkens them),
 * then back to BT.709 limited range. Without this, PQ/HLG decoded as SDR looks washed out. */
static bool append_tonemap(char *f, size_t n, const char *hdr)
{
    const char *tin = !strcmp(hdr, "hlg") ? "arib-std-b67" : "smpte2084";
    return appendf(f, n,
                   "zscale=tin=%s:min=bt2020nc:pin=bt2020:rin=tv:t=linear:npl=100,"
                   "format=gbrpf32le,zscale=p=bt709,tonemap=tonemap=mobius:desat=0,"
                   "zscale=t=bt709:m=bt709:r=tv,format=yuv420p,",
                   tin);
}

static bool append_rotation(char *f, size_t n, int rotation)
{
    switch (rotation) {
    case 90: return appendf(f, n, "transpose=clock,");
    case 180: return appendf(f, n, "hflip,vflip,");
    case 270: return appendf(f, n, "transpose=cclock,");
    default: return true;
    }
}

/* The picture into W×H by fix.fill. dw×dh is the displayed (upright, square-pixel) source size;
 * scale works on the frame as decoded-and-rotated, so scaling straight to the target size also
 * undoes an anamorphic SAR. */
static bool append_fill(char *f, size_t n, const tp_fix *fix, int dw, int dh, tp_rational fps)
{
    int W = fix->width, H = fix->height;
    double src_ar = (double)dw / dh, dst_ar = (double)W / H;
    if (fabs(src_ar / dst_ar - 1.0) <= TP_ASPECT_TOLERANCE)
        return appendf(f, n, "scale=%d:%d:flags=bicubic,setsar=1", W, H);
    bool wider = src_ar > dst_ar;
    if (fix->fill == TP_FILL_CROP) {
        int cw = wider ? even_up(H * src_ar) : W, ch = wider ? H : even_up(W / src_ar);
        return appendf(f, n, "scale=%d:%d:flags=bicubic,crop=%d:%d,setsar=1", cw, ch, W, H);
    }
    int fw = wider ? W : even_down(H * src_ar), fh = wider ? even_down(W / src_ar) : H;
    if (fw > W)
        fw = W;
    if (fh > H)
        fh = H;
    int x = ((W - fw) / 2) & ~1, y = ((H - fh) / 2) & ~1;
    if (fix->fill == TP_FILL_PAD)
        return appendf(f, n, "scale=%d:%d:flags=bicubic,pad=%d:%d:%d:%d:color=%s,setsar=1", fw, fh,
                       W, H, x, y, fix->pad_color[0] ? fix->pad_color : "black");
    if ((wider ? H - fh : W - fw) < 4) /* bars under 2 px each: a stretch is invisible */
        return appendf(f, n, "scale=%d:%d:flags=bicubic,setsar=1", W, H);
    /* Blur: the background is the same video, centre-cropped to the target shape (free: crop
     * only moves pointers), scaled down to an eighth of the size and blurred there. Only the bars
     * are scaled back up, and they are stacked with the picture (a copy) rather than overlaid
     * (a per-pixel blend over the whole frame): this keeps blur within a few per cent of pad. */
    int bw = even_up(W / 8.0), bh = even_up(H / 8.0);
    int side = bw < bh ? bw : bh;
    int lr = side / 10, cr;
    if (lr < 1)
        lr = 1;
    if (lr > 20)
        lr = 20;
    cr = lr / 2 > 0 ? lr / 2 : 1;
    int bar1 = wider ? y : x, bar2 = wider ? H - fh - y : W - fw - x;
    int full = wider ? H : W, small = wider ? bh : bw;
    int s1 = even_up((double)bar1 * small / full), s2 = even_up((double)bar2 * small / full);
    if (s1 > small)
        s1 = small;
    if (s2 > small)
        s2 = small;
    if (!appendf(f, n, "split=2[tpbg][tpfg];[tpbg]"))
        return false;
    /* Every Nth frame only (the fps filter above made the rate constant, so n is the output
     * frame index); vstack/hstack repeat the last background frame for the frames in between,
     * and after the background's last frame, so frame count and timestamps are the picture's. */
    long every = fps.num > 0 && fps.den > 0
                     ? lround((double)fps.num / fps.den / TP_BLUR_REFRESH_PER_S)
                     : 1;
    if (every > 1 && !appendf(f, n, "select=not(mod(n\\,%ld)),", every))
        return false;
    if (wider ? !appendf(f, n, "crop=w=trunc(ih*%d/%d/sar/2)*2:h=ih,", W, H)
              : !appendf(f, n, "crop=w=iw:h=trunc(iw*sar*%d/%d/2)*2,", H, W))
        return false;
    if (!appendf(f, n,
                 "scale=%d:%d:flags=fast_bilinear,"
                 "boxblur=luma_radius=%d:luma_power=2:chroma_radius=%d:chroma_power=2,"
                 "split=2[tpb1][tpb2];",
                 bw, bh, lr, cr))
        return false;
    if (wider)
        return appendf(f, n,
                       "[tpb1]crop=%d:%d:0:0,scale=%d:%d:flags=fast_bilinear,setsar=1[tpt];"
                       "[tpb2]crop=%d:%d:0:%d,scale=%d:%d:flags=fast_bilinear,setsar=1[tpu];"
                       "[tpfg]scale=%d:%d:flags=bicubic,setsar=1[tpm];"
                       "[tpt][tpm][tpu]vstack=inputs=3,setsar=1",
                       bw, s1, W, bar1, bw, s2, bh - s2, W, bar2, fw, fh);
    return appendf(f, n,
                   "[tpb1]crop=%d:%d:0:0,scale=%d:%d:flags=fast_bilinear,setsar=1[tpt];"
                   "[tpb2]crop=%d:%d:%d:0,scale=%d:%d:flags=fast_bilinear,setsar=1[tpu];"
                   "[tpfg]scale=%d:%d:flags=bicubic,setsar=1[tpm];"
                   "[tpt][tpm][tpu]hstack=inputs=3,setsar=1",
                   s1, bh, bar1, H, s2, bh, bw - s2, bar2, H, fw, fh);
}

/* Split points on output-frame boundaries so parts add up exactly to the whole. */
static void plan_parts(tp_fit_plan *out, double total, double max_part, tp_rational fps)
{
    /* A header may claim any duration (years): more parts than fit in out->parts is reported
     * as TP_MAX_PARTS, which the caller rejects, before anything is written past the array
     * (test_hostile_media: a 3,170-year MKV crashed fit). Tested as a double: the int
     * conversion of a huge value would be undefined. */
    double want = ceil(total / max_part - 1e-9);
    if (!(want <= TP_MAX_PARTS)) {
        out->n_parts = TP_MAX_PARTS;
        return;
    }
    int n = (int)want;
    if (n < 1)
        n = 1;
    /* Frame rounding may push an equal share just over the limit: add a part then. */
    for (;; n++) {
        double fr = rational_value(fps);
        bool ok = true;
        for (int k = 0; k < n; k++) {
            double s = round(total * k / n * fr) / fr;
            double e = k + 1 == n ? total : round(total * (k + 1) / n * fr) / fr;
            out->parts[k].start = s;
            out->parts[k].duration = e - s;
            if (e - s > max_part + 1e-9)
                ok = false;
        }
        if (ok || n >= TP_MAX_PARTS)
            break;
    }
    out->n_parts = n;
}

/* Refuse the plan, saying why (printf-style); returns false so a step can end with it. */
__attribute__((format(printf, 2, 3))) static bool plan_reject(tp_fit_plan *out, const char *fmt,
                                                              ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
    va_end(ap);
    out->reject = true;
    return false;
}

/* The verdict and the duration rules decide first: true when a transcode must be planned;
 * false when the plan is settled already (rejected, a pass or a remux). */
static bool needs_transcode(tp_fit_plan *out, const tp_check_result *check, const tp_rules *r,
                            const tp_fix *fix, double dur, bool too_long, bool too_short,
                            const tp_cover_info *cover)
{
    if (check->verdict == TP_VERDICT_ERROR || check->verdict == TP_VERDICT_REJECT)
        return plan_reject(out, "%s", check->reason[0] ? check->reason : "rejected by the rules");
    /* A cover image becomes frames of the video: only an encode can add them. */
    if (cover && (check->verdict == TP_VERDICT_PASS || check->action == TP_ACTION_REMUX)) {
        snprintf(out->reason, sizeof(out->reason),
                 "transcode: the cover image %.300s is placed as the first frames (a file that "
                 "would %s is re-encoded to add it)",
                 cover->path, check->verdict == TP_VERDICT_PASS ? "pass" : "be remuxed");
        if (check->verdict == TP_VERDICT_PASS && !too_long && !too_short) {
            out->action = TP_ACTION_TRANSCODE;
            return true;
        }
    }
    if (check->verdict == TP_VERDICT_PASS) {
        out->action = TP_ACTION_NONE;
        return false;
    }
    if (too_long && fix->too_long == TP_TOO_LONG_REJECT)
        return plan_reject(out,
                           "duration %.1f s > %.0f s and fix.too_long is reject "
                           "(set fix.too_long=split or trim to fit it)",
                           dur, r->duration_max);
    if (too_short && fix->too_short == TP_TOO_SHORT_REJECT)
        return plan_reject(out,
                           "duration %.2f s < %.0f s and fix.too_short is reject "
                           "(set fix.too_short=extend to hold the last frame)",
                           dur, r->duration_min);
    out->action = check->action == TP_ACTION_REMUX && !too_long && !too_short && !cover
                      ? TP_ACTION_REMUX
                      : TP_ACTION_TRANSCODE;
    return out->action == TP_ACTION_TRANSCODE;
}

/* Time: trim/extend change the total; split cuts it into parts. false when no split meets the
 * duration rules (rejected). */
static bool plan_time(tp_fit_plan *out, const tp_rules *r, const tp_fix *fix, double dur,
                      bool too_long, bool too_short)
{
    if (too_long && fix->too_long == TP_TOO_LONG_TRIM) {
        /* Cut on a frame boundary at or under the limit: at 30000/1001 fps, 8 s is 239.76
         * frames, and keeping the 240th (which starts before 8 s) ends the output at 8.008 s,
         * over the limit. The audio is cut at the same instant (atrim is sample-exact). */
        double fps = (double)out->out_fps.num / out->out_fps.den;
        /* The cover's frames come first and count towards the limit. */
        out->trim_frames = (int64_t)floor(r->duration_max * fps + 1e-6) - out->cover_frames;
        if (out->trim_frames < 1)
            out->trim_frames = 1;
        out->trim_end =
            (double)(out->trim_frames + out->cover_frames) * out->out_fps.den / out->out_fps.num;
        out->out_duration = out->trim_end;
        out->parts[0].duration = out->trim_end;
    } else if (too_short) {
        /* A little above the minimum so rounding in the rules' measurement cannot fail it. The
         * executor holds the last frame until then and never cuts: the probe's duration may be
         * a guess (a raw MPEG stream said 0.04 s of a 20 s clip, and a trim here kept 3.1 s). */
        double target = r->duration_min + 0.1;
        out->out_duration = target;
        out->parts[0].duration = target;
        out->hold_until = target;
    } else if (too_long) {
        /* The first part also holds the cover: every part is planned that much shorter. */
        double max_part = r->duration_max - out->cover_duration;
        plan_parts(out, dur, max_part, out->out_fps);
        if (out->parts[out->n_parts - 1].duration > max_part + 1e-9 ||
            out->n_parts >= TP_MAX_PARTS)
            return plan_reject(out, "duration %.0f s would need more than %d parts of %.0f s", dur,
                               TP_MAX_PARTS - 1, r->duration_max);
        for (int k = 0; k < out->n_parts; k++)
            if (out->parts[k].duration < r->duration_min - 1e-9)
                return plan_reject(out,
                                   "duration %.1f s cannot be split into parts within [%.0f, "
                                   "%.0f] s",
                                   dur, r->duration_min, r->duration_max);
    }
    return true;
}

/* Bit-rate ceiling: the longest part must fit in max_size with the audio and a margin; worst
 * case the VBV lets size reach maxrate * (duration + buffer). false when what is left for the
 * video is below TP_MIN_VIDEO_BITRATE (rejected). */
static bool plan_bitrate(tp_fit_plan *out, const tp_media_info *media, const tp_rules *r,
                         const tp_fix *fix)
{
    double longest = 0.0;
    for (int k = 0; k < out->n_parts; k++)
        if (out->parts[k].duration > longest)
            longest = out->parts[k].duration;
    if (!(longest > 0.0))
        longest = r->duration_max > 0 ? r->duration_max : 600.0;
    out->audio_bitrate = media->audio.present ? fix->audio.bitrate : 0;
    int64_t vmax = fix->video.max_bitrate > 0 ? fix->video.max_bitrate : 15000000;
    if (r->max_size > 0) {
        double bits = (double)r->max_size * 8.0 * TP_SIZE_MARGIN;
        bits -= TP_MUX_OVERHEAD_PER_S * 8.0 * longest;
        bits -= (double)out->audio_bitrate * 1.05 * longest;
        double budget = bits / (longest + TP_VBV_SECONDS);
        if (budget < TP_MIN_VIDEO_BITRATE)
            return plan_reject(out,
                               "rules.max_size %lld B is too small for %.1f s of video "
                               "(raise rules.max_size or shorten rules.duration)",
                               (long long)r->max_size, longest);
        if (budget < (double)vmax)
            vmax = (int64_t)budget;
    }
    out->video_bitrate_max = vmax;
    out->video_bufsize = (int64_t)(vmax * TP_VBV_SECONDS);
    return true;
}

/* The video chain: deinterlace, tone-map, rotate, constant rate, fill, 8-bit 4:2:0, time.
 * dw x dh is the displayed picture size. false when the chain does not fit in out->filter. */
static bool plan_filter(tp_fit_plan *out, const tp_media_info *media, const tp_fix *fix, int dw,
                        int dh)
{
    char *f = out->filter;
    size_t n = sizeof(out->filter);
    f[0] = '\0';
    bool ok = true;
    if (media->video.interlaced)
        ok = ok && appendf(f, n, "bwdif=mode=send_frame:parity=auto:deint=interlaced,");
    if (media->video.hdr[0])
        ok = ok && append_tonemap(f, n, media->video.hdr);
    /* Bars off first (after deinterlacing, on even lines), so every fill, the blur's
     * background included, works from the real picture. */
    if (plan_crop(&out->crop, media, fix, &dw, &dh))
        ok = ok && appendf(f, n, "crop=%d:%d:%d:%d,", out->crop.width, out->crop.height,
                           out->crop.x, out->crop.y);
    ok = ok && append_rotation(f, n, media->video.rotation);
    ok = ok && appendf(f, n, "fps=fps=%d/%d:start_time=0,", out->out_fps.num, out->out_fps.den);
    /* Time edits right after fps: the link still knows its frame rate there (tpad needs it to
     * time the held frames) and trimmed frames are not scaled for nothing. */
    if (out->trim_frames > 0)
        ok = ok && appendf(f, n, "trim=end_frame=%lld,", (long long)out->trim_frames);
    ok = ok && append_fill(f, n, fix, dw, dh, out->out_fps);
    ok = ok && appendf(f, n, ",format=yuv420p");
    return ok;
}

long long tp_fit_cover_timestamp(int *frames, const tp_fix *fix, tp_rational fps)
{
    double rate = rational_value(fps);
    int n = rate > 0 ? (int)lround(fix->cover_duration_ms * rate / 1000.0) : 1;
    if (n < 1)
        n = 1;
    *frames = n;
    /* The middle of the cover's span: whichever way TikTok rounds, it lands on the image. */
    return rate > 0 ? llround(n / rate * 1000.0 / 2.0) : 0;
}

const char *tp_cover_source_name(tp_cover_source s)
{
    switch (s) {
    case TP_COVER_SIDECAR: return "sidecar";
    case TP_COVER_PROFILE: return "profile";
    case TP_COVER_FRAME: return "frame";
    default: return NULL;
    }
}

int tp_fit_plan_make(tp_fit_plan *out, const tp_media_info *media, const tp_check_result *check,
                     const tp_profile *p, tp_error *err)
{
    if (!out || !media || !check || !p)
        return tp_error_set(err, TP_EINVAL, 0, "fit plan: missing argument");
    memset(out, 0, sizeof(*out));
    const tp_rules *r = &p->rules;
    const tp_fix *fix = &p->fix;
    double dur = media->duration;
    out->out_duration = dur;
    out->n_parts = 1;
    out->parts[0].start = 0.0;
    out->parts[0].duration = dur;

    const tp_cover_info *cover =
        (media->cover.source == TP_COVER_SIDECAR || media->cover.source == TP_COVER_PROFILE) &&
                media->cover.width > 0 && media->cover.height > 0 && media->video.present
            ? &media->cover
            : NULL;
    bool too_long = dur > 0 && r->duration_max > 0 && dur > r->duration_max + 1e-6;
    bool too_short = dur >= 0 && dur < r->duration_min - 1e-6;
    if (!cover && p->upload.tiktok.video_cover_timestamp_ms > 0) {
        out->cover_source = TP_COVER_FRAME;
        out->cover_timestamp_ms = p->upload.tiktok.video_cover_timestamp_ms;
    }
    if (!needs_transcode(out, check, r, fix, dur, too_long, too_short, cover))
        return 0;

    if (!media->video.present) {
        plan_reject(out, "no video stream to fit");
        return 0;
    }
    if (fix->width <= 0 || fix->height <= 0 || (fix->width | fix->height) & 1)
        return tp_error_set(err, TP_ECONFIG, 0,
                            "fix.width and fix.height must be positive and even (have %dx%d)",
                            fix->width, fix->height);
    int dw, dh;
    display_size(media, &dw, &dh);
    if (dw <= 0 || dh <= 0) {
        plan_reject(out, "unknown picture size");
        return 0;
    }

    out->out_width = fix->width;
    out->out_height = fix->height;
    out->out_fps = plan_fps(media, r);
    if (cover) {
        out->cover_source = cover->source;
        out->cover_timestamp_ms = tp_fit_cover_timestamp(&out->cover_frames, fix, out->out_fps);
        out->cover_duration = (double)out->cover_frames * out->out_fps.den / out->out_fps.num;
        /* The cover's frames lengthen the output: a source just under the limit goes over. */
        if (!too_long && r->duration_max > 0 &&
            dur + out->cover_duration > r->duration_max + 1e-6) {
            if (fix->too_long == TP_TOO_LONG_REJECT) {
                plan_reject(out,
                            "duration %.2f s + the cover's %.3f s > %.0f s and fix.too_long is "
                            "reject (set fix.too_long=split or trim)",
                            dur, out->cover_duration, r->duration_max);
                return 0;
            }
            too_long = true;
        }
        char *f = out->cover_filter;
        /* A picture is RGB (or full-range JPEG): into BT.709 limited range first, as the
         * encoder tags the output, or its colours shift (red came out orange). */
        if (!appendf(f, sizeof(out->cover_filter),
                     "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p,") ||
            !append_fill(f, sizeof(out->cover_filter), fix, cover->width, cover->height,
                         out->out_fps) ||
            !appendf(f, sizeof(out->cover_filter), ",format=yuv420p"))
            return tp_error_set(err, TP_EINTERNAL, 0, "fit plan: cover filter chain too long");
    }
    if (!plan_time(out, r, fix, dur, too_long, too_short) || !plan_bitrate(out, media, r, fix))
        return 0;
    if (cover) {
        out->out_duration += out->cover_duration;
        if (out->trim_end > 0)
            out->out_duration = out->trim_end;
    }
    if (!plan_filter(out, media, fix, dw, dh))
        return tp_error_set(err, TP_EINTERNAL, 0, "fit plan: filter chain too long");
    return tp_fit_plan_check_limits(out, &p->limits, NULL, err);
}

int tp_fit_plan_check_limits(const tp_fit_plan *plan, const tp_limits *lim, const char *name,
                             tp_error *err)
{
    if (!plan || !lim || plan->reject || plan->action != TP_ACTION_TRANSCODE)
        return 0;
    const char *sep = name ? ": " : "";
    name = name ? name : "";
    double fps = plan->out_fps.den > 0 ? (double)plan->out_fps.num / plan->out_fps.den : 0.0;
    double rate = (double)plan->out_width * plan->out_height * fps;
    if (lim->max_pixel_rate > 0 && rate > (double)lim->max_pixel_rate)
        return tp_error_set(err, TP_EUNSUPPORTED, 0,
                            "%s%splanned output %dx%d at %d/%d fps = %.0f pixels/s > %lld "
                            "(limits.max_pixel_rate)",
                            name, sep, plan->out_width, plan->out_height, plan->out_fps.num,
                            plan->out_fps.den, rate, (long long)lim->max_pixel_rate);
    /* The source's claimed duration is what the fps filter will fill, however few frames it
     * really holds: two frames five hours apart plan five hours of output. */
    double frames = plan->out_duration > 0 ? ceil(plan->out_duration * fps) : 0.0;
    if (lim->max_output_frames > 0 && frames > (double)lim->max_output_frames)
        return tp_error_set(err, TP_EUNSUPPORTED, 0,
                            "%s%splanned output of %.0f frames (%.1f s at %d/%d fps) > %lld "
                            "(limits.max_output_frames)",
                            name, sep, frames, plan->out_duration, plan->out_fps.num,
                            plan->out_fps.den, (long long)lim->max_output_frames);
    return 0;
}

/* Seconds by which `have` falls short of `want`, beyond the tolerance; 0 when it does not. */
static double shortfall(double have, double want, double tol)
{
    return want > 0 && have < want - tol ? want - have : 0.0;
}

int tp_fit_check_coverage(const tp_fit_plan *plan, const char *src, const tp_fit_span *source,
                          const tp_fit_span *outs, int n_out, double frame, tp_error *err)
{
    if (!plan || !src || !source || !outs || n_out < 1)
        return tp_error_set(err, TP_EINVAL, 0, "fit coverage: missing argument");
    /* One frame, and a millisecond for the rounding of time bases (1/90000, 1/1000 in MKV). */
    double tol = (frame > 0 && isfinite(frame) ? frame : 1.0 / 24.0) + 1e-3;
    int want_parts = plan->n_parts > 1 ? plan->n_parts : 1;
    if (n_out != want_parts)
        return tp_error_set(err, TP_EMEDIA, 0,
                            "%s: %d outputs written but %d planned; not written (footage would "
                            "be lost)",
                            src, n_out, want_parts);
    /* What the source holds, on the plan's terms: a trim ends it early, extend holds past it. */
    double want[2] = {source->video, source->audio};
    for (int s = 0; s < 2; s++) {
        if (!(want[s] > 0))
            continue;
        if (plan->trim_end > 0 && want[s] > plan->trim_end)
            want[s] = plan->trim_end;
        if (plan->hold_until > 0 && want[s] < plan->hold_until)
            want[s] = plan->hold_until;
    }
    if (n_out == 1) {
        double miss = shortfall(outs[0].video, want[0], tol);
        if (miss > 0)
            return tp_error_set(err, TP_EMEDIA, 0,
                                "%s: the output is %.2f s but the source is %.2f s; not written "
                                "(footage would be lost)",
                                src, outs[0].video > 0 ? outs[0].video : 0.0, want[0]);
        if (shortfall(outs[0].audio, want[1], tol) > 0)
            return tp_error_set(err, TP_EMEDIA, 0,
                                "%s: the output's sound is %.2f s but the source's is %.2f s; not "
                                "written (footage would be lost)",
                                src, outs[0].audio > 0 ? outs[0].audio : 0.0, want[1]);
        return 0;
    }
    /* Split: every part but the last is exactly its planned share (cut on frame boundaries);
     * the last holds the rest of what was read, so together they cover the source. */
    double audio = 0.0;
    for (int k = 0; k < n_out; k++) {
        double w = k + 1 < n_out ? plan->parts[k].duration : want[0] - plan->parts[k].start;
        if (shortfall(outs[k].video, w, tol) > 0)
            return tp_error_set(err, TP_EMEDIA, 0,
                                "%s: part %d is %.2f s but should be %.2f s (parts from %.2f s "
                                "of source); not written (footage would be lost)",
                                src, k + 1, outs[k].video > 0 ? outs[k].video : 0.0, w, want[0]);
        if (outs[k].audio > 0)
            audio += outs[k].audio;
    }
    if (shortfall(audio, want[1], tol * n_out) > 0)
        return tp_error_set(err, TP_EMEDIA, 0,
                            "%s: the parts' sound is %.2f s but the source's is %.2f s; not "
                            "written (footage would be lost)",
                            src, audio, want[1]);
    return 0;
}
