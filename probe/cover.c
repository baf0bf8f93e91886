/* Cover images (probe/cover.h): the sidecar or fix.cover.image, read whole through
 * tp_read_small_file and decoded from memory. The image's name is never handed to libavformat:
 * a custom AVIOContext reads the bytes, and only the image demuxer its extension names may
 * open them (no protocols, no nested opens). */
#include "probe/cover.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "probe/avio_fd.h"
#include "util/path.h"
#include "util/tp_util.h"

/* The cover image's extensions and the one demuxer each may be read with. */
static const struct {
    const char *ext, *demuxer;
} cover_kinds[] = {
    {".jpg", "jpeg_pipe"}, {".jpeg", "jpeg_pipe"}, {".png", "png_pipe"}, {".webp", "webp_pipe"}};

static const char *demuxer_for(const char *path)
{
    const char *ext = tp_path_ext(path);
    for (size_t i = 0; i < sizeof(cover_kinds) / sizeof(cover_kinds[0]); i++)
        if (!strcasecmp(ext, cover_kinds[i].ext))
            return cover_kinds[i].demuxer;
    return NULL;
}

/* Decode the one picture in data (an image file of the kind demuxer reads) into *out. */
static int decode_image(AVFrame **out, const uint8_t *data, size_t len, const char *demuxer,
                        const char *path, int64_t max_pixels, tp_error *err)
{
    AVFormatContext *ic = NULL;
    AVIOContext *pb = NULL;
    AVCodecContext *dec = NULL;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    AVDictionary *opts = NULL;
    int rc = 0, ret;
    const AVInputFormat *fmt = tp_demuxer_find(demuxer);
    if (!pkt || !frame || !(ic = avformat_alloc_context())) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    if (!fmt) {
        rc = tp_error_set(err, TP_EUNSUPPORTED, 0, "%s: this FFmpeg cannot read %s", path,
                          demuxer);
        goto out;
    }
    if (tp_avio_mem_new(&pb, data, len, 4096) < 0) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    ic->pb = pb;
    ic->flags |= AVFMT_FLAG_CUSTOM_IO;
    tp_demux_lock(ic, &opts, demuxer);
    ret = avformat_open_input(&ic, NULL, fmt, &opts);
    if (ret < 0) {
        rc = tp_error_set(err, TP_EMEDIA, ret, "%s: not a picture", path);
        goto out;
    }
    if (ic->nb_streams < 1 || ic->streams[0]->codecpar->codec_type != AVMEDIA_TYPE_VIDEO) {
        rc = tp_error_set(err, TP_EMEDIA, 0, "%s: not a picture", path);
        goto out;
    }
    AVCodecParameters *par = ic->streams[0]->codecpar;
    const AVCodec *codec = avcodec_find_decoder(par->codec_id);
    if (!codec || !(dec = avcodec_alloc_context3(codec)) ||
        avcodec_parameters_to_context(dec, par) < 0) {
        rc = tp_error_set(err, codec ? TP_ENOMEM : TP_EUNSUPPORTED, 0,
                          "%s: cannot decode the picture", path);
        goto out;
    }
    dec->thread_count = 1;
    if ((ret = avcodec_open2(dec, codec, NULL)) < 0) {
        rc = tp_error_set(err, TP_EMEDIA, ret, "%s: cannot decode the picture", path);
        goto out;
    }
    bool got = false;
    while (!got && (ret = av_read_frame(ic, pkt)) >= 0) {
        if (pkt->stream_index == 0 && avcodec_send_packet(dec, pkt) >= 0)
            got = avcodec_receive_frame(dec, frame) >= 0;
        av_packet_unref(pkt);
    }
    if (!got && avcodec_send_packet(dec, NULL) >= 0)
        got = avcodec_receive_frame(dec, frame) >= 0;
    if (!got || frame->width < 1 || frame->height < 1) {
        rc = tp_error_set(err, TP_EMEDIA, 0, "%s: not a picture (nothing decoded)", path);
        goto out;
    }
    if (frame->width > 16384 || frame->height > 16384 ||
        (max_pixels > 0 && (int64_t)frame->width * frame->height > max_pixels)) {
        rc = tp_error_set(err, TP_EMEDIA, 0, "%s: the picture is %dx%d, over limits.max_pixels",
                          path, frame->width, frame->height);
        goto out;
    }
    *out = frame;
    frame = NULL;
out:
    av_dict_free(&opts);
    avcodec_free_context(&dec);
    avformat_close_input(&ic);
    tp_avio_fd_free(&pb);
    av_packet_free(&pkt);
    av_frame_free(&frame);
    return rc;
}

/* Read path within the sidecar rules and decode it. *out NULL and 0 when path does not exist. */
static int read_image(AVFrame **out, const char *path, bool nofollow, const tp_profile *p,
                      tp_error *err)
{
    char *data = NULL;
    size_t len = 0;
    *out = NULL;
    const char *demuxer = demuxer_for(path);
    if (!demuxer)
        return tp_error_set(err, TP_EUNSUPPORTED, 0, "%s: not a .jpg, .png or .webp picture",
                            path);
    int rc = tp_read_small_file(&data, &len, path, TP_COVER_MAX, nofollow, err);
    if (rc < 0 || !data)
        return rc;
    rc = decode_image(out, (const uint8_t *)data, len, demuxer, path, p->limits.max_pixels, err);
    free(data);
    return rc;
}

int tp_cover_find(tp_cover_info *out, const char *src, const tp_profile *p, tp_error *err)
{
    memset(out, 0, sizeof(*out));
    static const char *const suffixes[] = {".cover.jpg", ".cover.png", ".cover.webp"};
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        char *side = tp_path_sidecar(src, suffixes[i]);
        if (!side)
            return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        AVFrame *f = NULL;
        tp_error serr = TP_ERROR_INIT;
        /* The sidecar sits in a folder others write into: never followed, never blocking, never
         * unbounded (docs/SECURITY.md, "Sidecars"). A refused one is said, and the file goes on
         * as without it: one planted file does not stop a fit. */
        int rc = read_image(&f, side, true, p, &serr);
        if (rc == TP_ENOMEM) {
            free(side);
            tp_error_move(err, &serr);
            return TP_ENOMEM;
        }
        if (rc < 0 || f) {
            if (rc < 0)
                tp_log(TP_LOG_WARN, "%s: cover sidecar refused (%s); fitting without it", src,
                       tp_error_message(&serr));
            else if (strlen(side) < sizeof(out->path)) {
                out->source = TP_COVER_SIDECAR;
                snprintf(out->path, sizeof(out->path), "%s", side);
                out->width = f->width;
                out->height = f->height;
            }
            tp_error_clear(&serr);
            av_frame_free(&f);
            free(side);
            if (out->source != TP_COVER_NONE)
                return 0;
            break; /* refused: the profile's image, if any */
        }
        tp_error_clear(&serr);
        free(side);
    }
    const char *img = p->fix.cover_image;
    if (!img || !*img)
        return 0;
    AVFrame *f = NULL;
    tp_error ierr = TP_ERROR_INIT;
    int rc = read_image(&f, img, false, p, &ierr);
    if (rc == 0 && !f)
        rc = tp_error_set(&ierr, TP_EIO, 0, "%s: no such file", img);
    if (rc == TP_ENOMEM) {
        tp_error_move(err, &ierr);
        return rc;
    }
    if (rc < 0)
        tp_log(TP_LOG_WARN, "%s: fix.cover.image unusable (%s); fitting without a cover", src,
               tp_error_message(&ierr));
    else if (strlen(img) < sizeof(out->path)) {
        out->source = TP_COVER_PROFILE;
        snprintf(out->path, sizeof(out->path), "%s", img);
        out->width = f->width;
        out->height = f->height;
    }
    tp_error_clear(&ierr);
    av_frame_free(&f);
    return 0;
}

int tp_cover_load(AVFrame **out, const tp_cover_info *ci, const tp_profile *p, tp_error *err)
{
    *out = NULL;
    if (ci->source != TP_COVER_SIDECAR && ci->source != TP_COVER_PROFILE)
        return tp_error_set(err, TP_EINVAL, 0, "no cover image");
    AVFrame *f = NULL;
    int rc = read_image(&f, ci->path, ci->source == TP_COVER_SIDECAR, p, err);
    if (rc < 0)
        return rc;
    if (!f)
        return tp_error_set(err, TP_EIO, 0, "%s: the cover image is gone", ci->path);
    if (f->width != ci->width || f->height != ci->height) {
        rc = tp_error_set(err, TP_EMEDIA, 0,
                          "%s: the cover image changed (%dx%d, planned %dx%d); not fitted",
                          ci->path, f->width, f->height, ci->width, ci->height);
        av_frame_free(&f);
        return rc;
    }
    *out = f;
    return 0;
}
