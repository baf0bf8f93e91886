/* Burned-in bars: a luma scan of frames sampled through the file, and a conservative decision
 * over the samples (static bars only; a dark scene or a dark frame never crops picture). */
#include "probe/bars.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Full-range luma: a dark line has a mean at most DARK_MEAN and no pixel over DARK_PEAK. */
#define DARK_MEAN 20
#define DARK_PEAK 48
/* Frames with picture needed before bars are believed, and the share that must agree. */
#define MIN_LIT 3
#define STABLE_SHARE 0.9
/* Decoding cost: after a seek at most SEEK_FRAMES frames are decoded towards the sample's time
 * (a long GOP then gives the frame where they end); a sample at most FORWARD_FRAMES ahead is
 * reached by decoding on, without a seek; FRAME_BUDGET frames in all. Without timestamps to
 * aim at, every SEQ_EVERY-th frame from the start. */
#define SEEK_FRAMES 12
#define FORWARD_FRAMES 24
#define FRAME_BUDGET 360
#define SEQ_EVERY 10
/* Packets read at most per sample (all streams). */
#define MAX_PACKETS_PER_SAMPLE 2000

static bool line_dark(uint64_t sum, int peak, int len)
{
    return len > 0 && sum <= (uint64_t)DARK_MEAN * (uint64_t)len && peak <= DARK_PEAK;
}

static bool row_dark(const uint8_t *row, int width)
{
    uint64_t sum = 0;
    int peak = 0;
    for (int x = 0; x < width; x++) {
        sum += row[x];
        if (row[x] > peak)
            peak = row[x];
    }
    return line_dark(sum, peak, width);
}

void tp_bars_scan(tp_bars_frame *out, const uint8_t *luma, ptrdiff_t stride, int width, int height)
{
    memset(out, 0, sizeof(*out));
    if (!luma || width <= 0 || height <= 0) {
        out->dark = true;
        return;
    }
    int top = 0, bottom = 0;
    while (top < height && row_dark(luma + top * stride, width))
        top++;
    if (top == height) {
        out->dark = true;
        return;
    }
    while (bottom < height - top && row_dark(luma + (height - 1 - bottom) * stride, width))
        bottom++;
    /* Columns over the whole height: a pillarbox bar is dark from top to bottom. */
    uint64_t *csum = calloc((size_t)width, sizeof(*csum));
    uint8_t *cpeak = calloc((size_t)width, 1);
    if (!csum || !cpeak) { /* no measurement: claim no bars */
        free(csum);
        free(cpeak);
        out->top = out->bottom = 0;
        return;
    }
    for (int y = 0; y < height; y++) {
        const uint8_t *r = luma + y * stride;
        for (int x = 0; x < width; x++) {
            csum[x] += r[x];
            if (r[x] > cpeak[x])
                cpeak[x] = r[x];
        }
    }
    int left = 0, right = 0;
    while (left < width && line_dark(csum[left], cpeak[left], height))
        left++;
    while (right < width - left &&
           line_dark(csum[width - 1 - right], cpeak[width - 1 - right], height))
        right++;
    free(csum);
    free(cpeak);
    out->top = top;
    out->bottom = bottom;
    out->left = left;
    out->right = right;
}

/* One edge over the lit frames: the smallest bar, if at least STABLE_SHARE of them agree with
 * it within tol; else 0 (no crop on that edge). */
static int stable_edge(const int *v, int n, int tol)
{
    int least = v[0];
    for (int i = 1; i < n; i++)
        if (v[i] < least)
            least = v[i];
    int agree = 0;
    for (int i = 0; i < n; i++)
        if (v[i] - least <= tol)
            agree++;
    return agree >= (int)ceil(STABLE_SHARE * n - 1e-9) ? least : 0;
}

/* A pair of bars on one axis, or 0/0 when they are not a believable letterbox/pillarbox. */
static void axis_bars(int *a, int *b, int dim)
{
    int tol = dim / 100 > 2 ? dim / 100 : 2, least = dim / 100 > 4 ? dim / 100 : 4;
    int lo = *a < *b ? *a : *b, hi = *a < *b ? *b : *a;
    if (lo < least || hi > 2 * lo + tol || dim - *a - *b < dim / 4)
        *a = *b = 0;
}

bool tp_bars_decide(tp_rect *area, const tp_bars_frame *frames, int n, int width, int height)
{
    *area = (tp_rect){0, 0, width, height};
    if (!frames || n <= 0 || width <= 0 || height <= 0)
        return false;
    int *edges = malloc(sizeof(int) * 4 * (size_t)n);
    if (!edges)
        return false;
    int lit = 0;
    for (int i = 0; i < n; i++) {
        if (frames[i].dark)
            continue;
        edges[0 * n + lit] = frames[i].top;
        edges[1 * n + lit] = frames[i].bottom;
        edges[2 * n + lit] = frames[i].left;
        edges[3 * n + lit] = frames[i].right;
        lit++;
    }
    if (lit < MIN_LIT) {
        free(edges);
        return false;
    }
    int vtol = height / 100 > 2 ? height / 100 : 2, htol = width / 100 > 2 ? width / 100 : 2;
    int top = stable_edge(edges + 0 * n, lit, vtol), bottom = stable_edge(edges + 1 * n, lit, vtol);
    int left = stable_edge(edges + 2 * n, lit, htol), right = stable_edge(edges + 3 * n, lit, htol);
    free(edges);
    axis_bars(&top, &bottom, height);
    axis_bars(&left, &right, width);
    /* Bars on one axis only: letterbox or pillarbox. Black on all four sides is as likely a
     * dark scene around a still subject as a windowbox; keep it whole. */
    if ((!top && !left) || (top && left))
        return false;
    /* Outward to even pixels (4:2:0 chroma, field parity): a sliver of bar, never picture. */
    int x0 = left & ~1, y0 = top & ~1;
    int x1 = (width - right + 1) & ~1, y1 = (height - bottom + 1) & ~1;
    if (x1 > width)
        x1 = width;
    if (y1 > height)
        y1 = height;
    *area = (tp_rect){x0, y0, x1 - x0, y1 - y0};
    return true;
}

/* ---- sampling ---------------------------------------------------------------------------- */

typedef struct {
    AVCodecContext *dec;
    struct SwsContext *sws;
    uint8_t *gray;
    int w, h;
    tp_bars_frame frames[TP_BARS_SAMPLES];
    int n;
    int64_t last_pts; /* of the last sample taken */
    int64_t pos;      /* pts of the last frame decoded, AV_NOPTS_VALUE after a seek */
    int budget;       /* frames left to decode */
} sampler;

/* Scan one decoded frame into the next sample slot (frames of another size are ignored). */
static void take(sampler *s, const AVFrame *f)
{
    if (s->n >= TP_BARS_SAMPLES || f->width != s->w || f->height != s->h)
        return;
    int64_t pts = f->best_effort_timestamp;
    if (s->n > 0 && pts != AV_NOPTS_VALUE && pts == s->last_pts)
        return; /* two seeks landed on the same frame: count it once */
    s->sws = sws_getCachedContext(s->sws, f->width, f->height, f->format, s->w, s->h,
                                  AV_PIX_FMT_GRAY8, SWS_POINT, NULL, NULL, NULL);
    if (!s->sws)
        return;
    /* Black is 0 whatever the source's range: limited-range Y 16 maps to 0. */
    int src_full = f->color_range == AVCOL_RANGE_JPEG;
    const int *coefs = sws_getCoefficients(SWS_CS_DEFAULT);
    sws_setColorspaceDetails(s->sws, coefs, src_full, coefs, 1, 0, 1 << 16, 1 << 16);
    uint8_t *dst[4] = {s->gray, NULL, NULL, NULL};
    int dst_stride[4] = {s->w, 0, 0, 0};
    if (sws_scale(s->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst,
                  dst_stride) != s->h)
        return;
    tp_bars_scan(&s->frames[s->n++], s->gray, s->w, s->w, s->h);
    s->last_pts = pts;
}

/* Decode from the current position and take the first frame at or after `target` (stream time
 * base; AV_NOPTS_VALUE = the next frame), or the one where `cap` frames or the budget run out.
 * Returns 1 when a frame was taken, 0 when none (end of stream, undecodable), or an AVERROR
 * that must stop the scan (interrupt, memory). */
static int decode_until(sampler *s, AVFormatContext *ic, int vi, AVPacket *pkt, AVFrame *frame,
                        int64_t target, int cap)
{
    int decoded = 0;
    for (int packets = 0; packets < MAX_PACKETS_PER_SAMPLE && s->budget > 0; packets++) {
        int ret = av_read_frame(ic, pkt);
        bool eof = ret == AVERROR_EOF;
        if (ret < 0 && !eof)
            return ret == AVERROR_EXIT || ret == AVERROR(ENOMEM) ? ret : 0;
        if (!eof && pkt->stream_index != vi) {
            av_packet_unref(pkt);
            continue;
        }
        ret = avcodec_send_packet(s->dec, eof ? NULL : pkt);
        av_packet_unref(pkt);
        if (ret < 0 && ret != AVERROR_INVALIDDATA && ret != AVERROR_EOF)
            return ret == AVERROR(ENOMEM) ? ret : 0;
        while ((ret = avcodec_receive_frame(s->dec, frame)) >= 0) {
            decoded++;
            s->budget--;
            int64_t pts = frame->best_effort_timestamp;
            if (pts != AV_NOPTS_VALUE)
                s->pos = pts;
            bool reached = target == AV_NOPTS_VALUE || pts == AV_NOPTS_VALUE || pts >= target ||
                           decoded >= cap || s->budget <= 0;
            if (reached && !(frame->flags & AV_FRAME_FLAG_CORRUPT)) {
                take(s, frame);
                av_frame_unref(frame);
                return 1;
            }
            av_frame_unref(frame);
        }
        if (eof)
            return 0;
    }
    return 0;
}

int tp_bars_detect(tp_video_info *v, AVFormatContext *ic, int vi, double duration)
{
    v->bars_scanned = false;
    if (!ic || vi < 0 || (unsigned)vi >= ic->nb_streams)
        return 0;
    AVStream *st = ic->streams[vi];
    sampler s = {.w = st->codecpar->width,
                 .h = st->codecpar->height,
                 .pos = AV_NOPTS_VALUE,
                 .budget = FRAME_BUDGET};
    AVPacket *pkt = NULL;
    AVFrame *frame = NULL;
    int ret = 0;
    const AVCodec *codec = avcodec_find_decoder(st->codecpar->codec_id);
    if (!codec || s.w <= 0 || s.h <= 0)
        return 0;
    pkt = av_packet_alloc();
    frame = av_frame_alloc();
    s.dec = avcodec_alloc_context3(codec);
    s.gray = av_malloc((size_t)s.w * (size_t)s.h);
    if (!pkt || !frame || !s.dec || !s.gray) {
        ret = AVERROR(ENOMEM);
        goto out;
    }
    AVDictionary *o = NULL;
    av_dict_set(&o, "threads", "1", 0); /* -j already uses the cores */
    if (avcodec_parameters_to_context(s.dec, st->codecpar) < 0 ||
        avcodec_open2(s.dec, codec, &o) < 0) {
        av_dict_free(&o);
        goto out;
    }
    av_dict_free(&o);
    s.dec->pkt_timebase = st->time_base;
    /* Flat black stays flat without the deblocking filter, and decoding is faster. */
    s.dec->skip_loop_filter = AVDISCARD_ALL;

    AVRational fr = st->avg_frame_rate.num > 0 ? st->avg_frame_rate : st->r_frame_rate;
    double fps = fr.num > 0 && fr.den > 0 ? av_q2d(fr) : 30.0;
    /* A target this close ahead is reached by decoding on; further, by seeking. */
    int64_t near =
        av_rescale_q((int64_t)(FORWARD_FRAMES / fps * AV_TIME_BASE), AV_TIME_BASE_Q, st->time_base);
    int64_t start = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
    bool timed = duration > 0 && isfinite(duration);
    if (av_seek_frame(ic, vi, start, AVSEEK_FLAG_BACKWARD) < 0)
        timed = false; /* cannot seek: take frames as they come */
    s.pos = AV_NOPTS_VALUE;
    for (int i = 0; i < TP_BARS_SAMPLES && s.budget > 0; i++) {
        int64_t target = AV_NOPTS_VALUE;
        int cap = SEQ_EVERY;
        if (timed) {
            double t = duration * (i + 0.5) / TP_BARS_SAMPLES;
            target =
                start + av_rescale_q((int64_t)(t * AV_TIME_BASE), AV_TIME_BASE_Q, st->time_base);
            bool forward = s.pos != AV_NOPTS_VALUE && target >= s.pos && target - s.pos <= near;
            cap = forward ? FORWARD_FRAMES + SEEK_FRAMES : SEEK_FRAMES;
            if (!forward && i > 0) {
                if (av_seek_frame(ic, vi, target, AVSEEK_FLAG_BACKWARD) < 0)
                    break;
                avcodec_flush_buffers(s.dec);
                s.pos = AV_NOPTS_VALUE;
            }
        }
        ret = decode_until(&s, ic, vi, pkt, frame, target, cap);
        if (ret < 0)
            goto out;
        if (ret == 0 && !timed)
            break; /* end of stream */
    }
    ret = 0;
    tp_bars_decide(&v->active_area, s.frames, s.n, s.w, s.h);
    v->bars_scanned = s.n > 0;
out:
    sws_freeContext(s.sws);
    av_free(s.gray);
    avcodec_free_context(&s.dec);
    av_frame_free(&frame);
    av_packet_free(&pkt);
    return ret;
}
