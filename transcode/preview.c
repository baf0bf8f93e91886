/* tp_preview_file(): stills of the planned output side by side in one PNG, with TikTok's UI
 * (profile preview.safe_zone) drawn over them as translucent regions, and the share of
 * high-detail pixels under that UI per still (a first signal of text or faces hidden by it). */
#include <errno.h>
#include <libavcodec/avcodec.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "probe/check.h"
#include "probe/probe.h"
#include "probe/rules.h"
#include "transcode/fit.h"
#include "util/path.h"
#include "util/srcfile.h"
#include "util/tp_util.h"

/* Sobel magnitude (|gx| + |gy| on 8-bit luma) above which a pixel counts as an edge: a step of
 * 40 levels between neighbours (4 * 40), well above video noise and banding. */
#define TP_PREVIEW_EDGE 160
/* Edges are counted on the luma scaled to this width (a 360x640 picture for 9:16): an edge's
 * share of an area would otherwise shrink with the resolution (a line of caption is 3x fewer
 * of the pixels at 1080x1920 than at 360x640), and one threshold could not serve all sizes. */
#define TP_PREVIEW_ANALYSIS_W 360
/* The UI's tint: a TikTok-ish red at 45 % over the picture. */
#define TINT_R 255
#define TINT_G 32
#define TINT_B 96
#define TINT_A 0.45

/* The defaults of profiles/tiktok.yaml, for a profile without a preview section. */
static const tp_preview_conf default_zone = {.top = 150,
                                             .bottom = 440,
                                             .left = 60,
                                             .right = 60,
                                             .rail_width = 150,
                                             .rail_from_y = 760,
                                             .ui_overlap_threshold = 0.05};

typedef struct {
    double at, time, share;
    int region; /* where the share was measured (region_names) */
} preview_frame;

struct tp_preview_result {
    char *source, *png;
    int width, height; /* the planned output (or the source as it passes) */
    int tile_width, tile_height;
    tp_action action;
    double threshold;
    size_t n;
    preview_frame *frames;
};

/* The covered regions in pixels of a w x h picture. */
typedef struct {
    int top, bottom, left, right, rail_w, rail_y, w, h;
} zone_px;

static zone_px zone_scale(const tp_preview_conf *z, int w, int h)
{
    double sx = w / 1080.0, sy = h / 1920.0;
    zone_px r = {.top = (int)lround(z->top * sy),
                 .bottom = (int)lround(z->bottom * sy),
                 .left = (int)lround(z->left * sx),
                 .right = (int)lround(z->right * sx),
                 .rail_w = (int)lround(z->rail_width * sx),
                 .rail_y = (int)lround(z->rail_from_y * sy),
                 .w = w,
                 .h = h};
    return r;
}

static bool covered(const zone_px *z, int x, int y)
{
    return y < z->top || y >= z->h - z->bottom || x < z->left || x >= z->w - z->right ||
           (x >= z->w - z->rail_w && y >= z->rail_y);
}

/* The covered regions, each judged on its own (a caption under the buttons is not diluted by
 * the flat sky under the top bar). */
enum { R_TOP, R_BOTTOM, R_SIDE, R_COUNT };
static const char *const region_names[R_COUNT] = {"top", "bottom", "side"};

/* Region of a covered pixel: the bands first, then the margins and the rail. */
static int region_of(const zone_px *z, int x, int y)
{
    if (y < z->top)
        return R_TOP;
    if (y >= z->h - z->bottom)
        return R_BOTTOM;
    return R_SIDE;
}

/* Share of edge pixels (Sobel on luma) among the covered pixels of the busiest region (*region
 * its index), the one-pixel border left out; 0 when nothing is covered. */
static double edge_share(const uint8_t *p, int ls, int w, int h, const zone_px *z, int *region)
{
    int64_t n[R_COUNT] = {0}, edges[R_COUNT] = {0};
    for (int y = 1; y < h - 1; y++) {
        const uint8_t *a = p + (ptrdiff_t)(y - 1) * ls, *b = a + ls, *c = b + ls;
        for (int x = 1; x < w - 1; x++) {
            if (!covered(z, x, y))
                continue;
            int gx = (a[x + 1] + 2 * b[x + 1] + c[x + 1]) - (a[x - 1] + 2 * b[x - 1] + c[x - 1]);
            int gy = (c[x - 1] + 2 * c[x] + c[x + 1]) - (a[x - 1] + 2 * a[x] + a[x + 1]);
            int k = region_of(z, x, y);
            n[k]++;
            if (abs(gx) + abs(gy) > TP_PREVIEW_EDGE)
                edges[k]++;
        }
    }
    double best = 0.0;
    *region = R_BOTTOM;
    for (int k = 0; k < R_COUNT; k++) {
        double share = n[k] ? (double)edges[k] / (double)n[k] : 0.0;
        if (share > best) {
            best = share;
            *region = k;
        }
    }
    return best;
}

/* The share of edge pixels under the UI, measured on f's luma scaled to TP_PREVIEW_ANALYSIS_W
 * wide: the same picture gives the same share at any output size. < 0: out of memory. */
static double still_share(const AVFrame *f, const tp_preview_conf *zc, int *region)
{
    int aw = TP_PREVIEW_ANALYSIS_W, ah = (int)lround((double)aw * f->height / f->width);
    if (ah < 3)
        ah = 3;
    struct SwsContext *sws = sws_getContext(f->width, f->height, f->format, aw, ah,
                                            AV_PIX_FMT_GRAY8, SWS_AREA, NULL, NULL, NULL);
    uint8_t *buf = malloc((size_t)aw * ah);
    double share = -1.0;
    if (sws && buf) {
        uint8_t *dst[4] = {buf, NULL, NULL, NULL};
        int ls[4] = {aw, 0, 0, 0};
        if (sws_scale(sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, ls) >
            0) {
            zone_px z = zone_scale(zc, aw, ah);
            share = edge_share(buf, aw, aw, ah, &z, region);
        }
    }
    sws_freeContext(sws);
    free(buf);
    return share;
}

/* Scale f into the tile at column k of the RGB canvas, then tint the covered pixels (the zone
 * mapped from output pixels to tile pixels). */
static int draw_tile(AVFrame *canvas, int k, int tw, int th, const AVFrame *f, const zone_px *z)
{
    struct SwsContext *sws =
        sws_getContext(f->width, f->height, f->format, tw, th, AV_PIX_FMT_RGB24,
                       SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, NULL, NULL, NULL);
    if (!sws)
        return AVERROR(ENOMEM);
    uint8_t *dst[4] = {canvas->data[0] + (ptrdiff_t)k * tw * 3, NULL, NULL, NULL};
    int dst_ls[4] = {canvas->linesize[0], 0, 0, 0};
    int ret =
        sws_scale(sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, dst_ls);
    sws_freeContext(sws);
    if (ret < 0)
        return ret;
    for (int y = 0; y < th; y++) {
        uint8_t *row = dst[0] + (ptrdiff_t)y * dst_ls[0];
        int oy = (int)(((int64_t)y * z->h + z->h / (2 * th)) / th);
        for (int x = 0; x < tw; x++) {
            int ox = (int)(((int64_t)x * z->w + z->w / (2 * tw)) / tw);
            if (!covered(z, ox, oy))
                continue;
            uint8_t *px = row + x * 3;
            px[0] = (uint8_t)lround(px[0] * (1 - TINT_A) + TINT_R * TINT_A);
            px[1] = (uint8_t)lround(px[1] * (1 - TINT_A) + TINT_G * TINT_A);
            px[2] = (uint8_t)lround(px[2] * (1 - TINT_A) + TINT_B * TINT_A);
        }
    }
    return 0;
}

/* The canvas as PNG bytes (libavcodec's encoder) into *pkt. */
static int encode_png(AVPacket *pkt, const AVFrame *canvas, const char *src, tp_error *err)
{
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_PNG);
    if (!codec)
        return tp_error_set(err, TP_EUNSUPPORTED, 0, "the PNG encoder is not available");
    AVCodecContext *e = avcodec_alloc_context3(codec);
    if (!e)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    e->width = canvas->width;
    e->height = canvas->height;
    e->pix_fmt = AV_PIX_FMT_RGB24;
    e->time_base = (AVRational){1, 1};
    int rc = 0, ret = avcodec_open2(e, codec, NULL);
    if (ret >= 0)
        ret = avcodec_send_frame(e, canvas);
    if (ret >= 0)
        ret = avcodec_receive_packet(e, pkt);
    if (ret < 0) {
        char buf[AV_ERROR_MAX_STRING_SIZE];
        av_strerror(ret, buf, sizeof(buf));
        rc = tp_error_set(err, TP_EINTERNAL, ret, "%s: PNG encoding: %s", src, buf);
    }
    avcodec_free_context(&e);
    return rc;
}

/* Write data to DIR/name under an exclusive temporary name, then rename it into place. */
static int write_file(const char *outdir, const char *name, const uint8_t *data, size_t len,
                      unsigned mode, char **path_out, tp_error *err)
{
    char *tmp = NULL, *final = tp_path_join(outdir, name);
    if (!final)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    int fd = tp_create_exclusive(&tmp, outdir, ".tokprep-tmp-", ".png", mode, err);
    if (fd < 0) {
        free(final);
        return TP_EIO;
    }
    int rc = 0;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            rc = tp_error_set(err, TP_EIO, errno, "%s: write: %s", tmp, strerror(errno));
            break;
        }
        off += (size_t)w;
    }
    if (close(fd) < 0 && rc == 0)
        rc = tp_error_set(err, TP_EIO, errno, "%s: write: %s", tmp, strerror(errno));
    if (rc == 0 && rename(tmp, final) < 0)
        rc = tp_error_set(err, TP_EIO, errno, "%s: cannot rename into place: %s", final,
                          strerror(errno));
    if (rc < 0) {
        unlink(tmp);
        free(final);
    } else {
        *path_out = final;
    }
    free(tmp);
    return rc;
}

int tp_preview_options_init(tp_preview_options *opts, unsigned version)
{
    if (!opts || version != TP_PREVIEW_OPTIONS_VERSION)
        return TP_EINVAL;
    *opts = (tp_preview_options)TP_PREVIEW_OPTIONS_INIT;
    return 0;
}

void tp_preview_result_free(tp_preview_result *r)
{
    if (!r)
        return;
    free(r->source);
    free(r->png);
    free(r->frames);
    free(r);
}

const char *tp_preview_result_png(const tp_preview_result *r)
{
    return r ? r->png : NULL;
}

size_t tp_preview_result_frame_count(const tp_preview_result *r)
{
    return r ? r->n : 0;
}

double tp_preview_result_frame_time(const tp_preview_result *r, size_t i)
{
    return r && i < r->n ? r->frames[i].time : -1.0;
}

double tp_preview_result_frame_overlap(const tp_preview_result *r, size_t i)
{
    return r && i < r->n ? r->frames[i].share : -1.0;
}

const char *tp_preview_result_frame_region(const tp_preview_result *r, size_t i)
{
    return r && i < r->n ? region_names[r->frames[i].region] : NULL;
}

void tp_preview_result_output_size(const tp_preview_result *r, int *width, int *height)
{
    if (width)
        *width = r ? r->width : 0;
    if (height)
        *height = r ? r->height : 0;
}

double tp_preview_result_threshold(const tp_preview_result *r)
{
    return r ? r->threshold : 0.0;
}

int tp_preview_result_ui_overlap(const tp_preview_result *r)
{
    for (size_t i = 0; r && i < r->n; i++)
        if (r->frames[i].share > r->threshold)
            return 1;
    return 0;
}

char *tp_preview_result_to_json(const tp_preview_result *r)
{
    if (!r)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "path", r->source);
    cJSON_AddStringToObject(o, "png", r->png);
    cJSON_AddStringToObject(o, "action", tp_action_name(r->action));
    cJSON_AddNumberToObject(o, "width", r->width);
    cJSON_AddNumberToObject(o, "height", r->height);
    cJSON_AddNumberToObject(o, "tile_width", r->tile_width);
    cJSON_AddNumberToObject(o, "tile_height", r->tile_height);
    cJSON_AddNumberToObject(o, "ui_overlap_threshold", r->threshold);
    cJSON *frames = cJSON_AddArrayToObject(o, "frames");
    cJSON *warnings = cJSON_AddArrayToObject(o, "warnings");
    for (size_t i = 0; frames && warnings && i < r->n; i++) {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddNumberToObject(f, "time", round(r->frames[i].time * 1000.0) / 1000.0);
        cJSON_AddNumberToObject(f, "ui_detail_share", round(r->frames[i].share * 1e4) / 1e4);
        cJSON_AddStringToObject(f, "ui_region", region_names[r->frames[i].region]);
        cJSON_AddBoolToObject(f, "ui_overlap", r->frames[i].share > r->threshold);
        cJSON_AddItemToArray(frames, f);
        if (r->frames[i].share > r->threshold) {
            char msg[256];
            snprintf(msg, sizeof(msg),
                     "frame at %.2f s: %.0f%% of the pixels under TikTok's UI (%s) are "
                     "high-detail (over %.0f%%): text or faces may be hidden there",
                     r->frames[i].time, r->frames[i].share * 100.0,
                     region_names[r->frames[i].region], r->threshold * 100.0);
            cJSON *w = cJSON_CreateObject();
            cJSON_AddStringToObject(w, "code", "ui_overlap");
            cJSON_AddStringToObject(w, "severity", "warn");
            cJSON_AddNumberToObject(w, "time", round(r->frames[i].time * 1000.0) / 1000.0);
            cJSON_AddStringToObject(w, "message", msg);
            cJSON_AddItemToArray(warnings, w);
        }
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

int tp_preview_file(tp_preview_result **out, const tp_profile *profile, const char *path,
                    const char *outdir, const tp_preview_options *opts, tp_error *err)
{
    if (!out || !profile || !path || !outdir)
        return tp_error_set(err, TP_EINVAL, 0, "tp_preview_file: missing argument");
    *out = NULL;
    if (opts && opts->version != TP_PREVIEW_OPTIONS_VERSION)
        return tp_error_set(err, TP_EINVAL, 0, "tp_preview_file: unknown opts version %u",
                            opts->version);
    size_t n = opts && opts->frames ? opts->frames : 4;
    int tw = opts && opts->tile_width ? opts->tile_width : 270;
    if (n > 64 || tw < 16 || tw > 4096)
        return tp_error_set(err, TP_EINVAL, 0,
                            "preview: frames must be 1..64 and the tile width 16..4096 px");
    const tp_cancel *cancel = opts ? opts->cancel : NULL;
    const tp_preview_conf *zc = &profile->preview;
    if (!zc->top && !zc->bottom && !zc->left && !zc->right && !zc->rail_width && !zc->rail_from_y)
        zc = &default_zone;
    double threshold =
        profile->preview.ui_overlap_threshold > 0 ? profile->preview.ui_overlap_threshold : 0.05;

    tp_media_info media;
    tp_check_result check;
    tp_fit_plan plan;
    tp_fit_still *stills = calloc(n, sizeof(*stills));
    tp_preview_result *r = calloc(1, sizeof(*r));
    AVFrame *canvas = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    char *stem = NULL, *name = NULL;
    int rc = 0, fd = -1;
    if (!stills || !r || !canvas || !pkt || !(r->frames = calloc(n, sizeof(*r->frames))) ||
        !(r->source = strdup(path))) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    if ((rc = tp_mkdir_p(outdir, 0777, err)) < 0)
        goto out;
    /* Opened once: the probe, the plan and the stills all see this one file. */
    if ((fd = tp_src_open(path, false, NULL, err)) < 0) {
        rc = TP_EIO;
        goto out;
    }
    if ((rc = tp_check_fd_for_fit(&media, &check, fd, path, profile, cancel, err)) < 0)
        goto out;
    if ((rc = tp_fit_plan_make(&plan, &media, &check, profile, err)) < 0)
        goto out;
    if (plan.reject) {
        rc = tp_error_set(err, TP_EREJECT, 0, "%s: %s", path, plan.reason);
        goto out;
    }
    /* Evenly spaced: the middles of n equal stretches of what the output shows; a still may be
     * the keyframe before its middle, as long as it lies in its own stretch. */
    double dur = media.duration;
    if (plan.action == TP_ACTION_TRANSCODE && plan.trim_end > 0 && plan.trim_end < dur)
        dur = plan.trim_end;
    for (size_t i = 0; i < n; i++) {
        stills[i].at = dur > 0 ? dur * ((double)i + 0.5) / (double)n : 0.0;
        stills[i].from = dur > 0 ? dur * (double)i / (double)n : 0.0;
    }
    if ((rc = tp_fit_render_stills(stills, (int)n, path, fd, &media, &plan, cancel, err)) < 0)
        goto out;

    r->action = plan.action;
    r->width = stills[0].frame->width;
    r->height = stills[0].frame->height;
    r->threshold = threshold;
    r->tile_width = tw;
    r->tile_height = (int)lround((double)tw * r->height / r->width) & ~1;
    if (r->tile_height < 2)
        r->tile_height = 2;
    canvas->format = AV_PIX_FMT_RGB24;
    canvas->width = (int)n * tw;
    canvas->height = r->tile_height;
    int ret = av_frame_get_buffer(canvas, 0);
    if (ret < 0) {
        rc = tp_error_set(err, TP_ENOMEM, ret, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const AVFrame *f = stills[i].frame;
        zone_px z = zone_scale(zc, f->width, f->height);
        r->frames[i].at = stills[i].at;
        r->frames[i].time = stills[i].time;
        r->frames[i].share = still_share(f, zc, &r->frames[i].region);
        if (r->frames[i].share < 0) {
            rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
            goto out;
        }
        if ((ret = draw_tile(canvas, (int)i, tw, r->tile_height, f, &z)) < 0) {
            rc = tp_error_set(err, TP_EINTERNAL, ret, "%s: scaling a still failed", path);
            goto out;
        }
    }
    r->n = n;
    if ((rc = encode_png(pkt, canvas, path, err)) < 0)
        goto out;
    if (!(stem = tp_path_stem(path)) || !(name = malloc(strlen(stem) + 16))) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    snprintf(name, strlen(stem) + 16, "%s.preview.png", stem);
    if ((rc = write_file(outdir, name, pkt->data, (size_t)pkt->size, tp_output_mode_fd(fd), &r->png,
                         err)) < 0)
        goto out;
    *out = r;
    r = NULL;
out:
    if (fd >= 0)
        close(fd);
    for (size_t i = 0; stills && i < n; i++)
        av_frame_free(&stills[i].frame);
    free(stills);
    av_frame_free(&canvas);
    av_packet_free(&pkt);
    free(stem);
    free(name);
    tp_preview_result_free(r);
    return rc;
}
