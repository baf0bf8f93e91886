/* Fit executor: carries out a tp_fit_plan in-process with libavformat/libavcodec/libavfilter
 * (pass = link or copy, remux = packet copy into MP4, transcode = decode → filter → x264/AAC →
 * MP4 parts), writes under temporary names and renames only verified outputs. */
#include <errno.h>
#include <fcntl.h>
#include <libavcodec/avcodec.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "probe/avio_fd.h"
#include "probe/cover.h"
#include "probe/probe.h"
#include "probe/rules.h"
#include "transcode/fit.h"
#include "util/path.h"
#include "util/srcfile.h"
#include "util/tp_util.h"

/* Attempts at a lower bit-rate when an output still comes out over rules.max_size. */
#define TP_SIZE_RETRIES 3

/* First timestamp and end (timestamp + duration) of the packets seen, per stream kind (0 video,
 * 1 audio), in seconds: the measured duration, which no header estimate can shorten. */
typedef struct {
    double first[2], end[2];
    bool seen[2];
} span_acc;

typedef struct {
    char *tmp;   /* temporary path in outdir, removed unless renamed */
    int fd;      /* the descriptor tmp was created with (O_EXCL|O_NOFOLLOW): all writes go
                  * through it, never through the name again; -1 when none */
    char *final; /* <stem>.mp4 or <stem>_partN.mp4 */
    AVFormatContext *mux;
    int vst, ast; /* output stream indexes, -1 when absent */
    bool header_written;
} fit_output;

typedef struct {
    const char *src; /* for names and messages; the bytes come from src_fd */
    int src_fd;
    const tp_media_info *media;
    const tp_fit_plan *plan;
    const tp_profile *profile;
    const tp_fit_run_options *opts;
    int64_t video_maxrate; /* may be lowered by a size retry */

    AVFormatContext *in;
    AVIOContext *in_pb; /* over src_fd (probe/avio_fd.h) */
    int vidx, aidx;
    AVCodecContext *vdec, *adec, *venc, *aenc;
    AVFilterGraph *vgraph, *agraph;
    AVFilterContext *vsrc, *vsink, *asrc, *asink;
    AVPacket *pkt, *opkt;
    AVFrame *frame, *filt;
    int64_t origin_v, origin_a; /* source start, in each stream's time base */
    int64_t end_v, end_a;       /* end of the last decoded frame (pts + duration), same bases */
    int64_t hold_v;             /* the video stream's declared end (start + duration, capped at
                                 * the measured duration), same base: the last frame lasts until
                                 * then; 0 when unknown */
    int64_t next_v;             /* timestamp for a decoded frame without one (a program stream
                                 * with no time stamps): the previous frame's end; NOPTS before
                                 * the first frame */
    bool v_stamped;             /* a decoded video frame had a timestamp: then one without
                                 * is dropped (the fps filter fills its slot), never guessed */
    int64_t decode_errors;      /* packets the decoder refused (skipped, as ffmpeg does) */

    int n_out;
    fit_output out[TP_MAX_PARTS];
    int64_t split_frame[TP_MAX_PARTS]; /* first output frame index of each part */
    int next_split;                    /* index of the next part whose first frame is pending */
    int64_t frames_out;
    /* Work bounds (limits.max_frame_gap, limits.max_output_frames): frames pushed into the
     * video graph, that count when the last output frame left it, and how many output frames
     * in a row came out with no new source frame pushed (all copies of one source frame). */
    int64_t pushed_v, pushed_seen, held;
    int64_t max_held, max_frames; /* 0 = unbounded */
    double started;
    bool vdone, adone; /* the graph's output ended (trim): no need to read further */
    span_acc read;     /* what was read from the source, for the coverage check */
    bool pass_copied; /* run_pass copied the source (not ours alone) instead of linking it */
    AVFrame *cover;   /* the cover image, filled into the output size (plan->cover_frames) */
    int64_t cover_a;  /* the cover's span in the audio stream's time base: the sound's delay */
} fit_ctx;

static int interrupt_cb(void *opaque)
{
    const tp_cancel *cancel = opaque;
    return tp_cancel_requested(cancel);
}

static bool canceled(const fit_ctx *c)
{
    return tp_cancel_requested(c->opts ? c->opts->cancel : NULL);
}

static int av_fail(tp_error *err, int averr, const char *src, const char *what)
{
    char buf[AV_ERROR_MAX_STRING_SIZE];
    av_strerror(averr, buf, sizeof(buf));
    int code = averr == AVERROR(ENOMEM) ? TP_ENOMEM
               : averr == AVERROR_EXIT  ? TP_ECANCELED
               : (averr == AVERROR(EACCES) || averr == AVERROR(EROFS) || averr == AVERROR(ENOSPC) ||
                  averr == AVERROR(ENOENT) || averr == AVERROR(EIO) || averr == AVERROR(EPERM))
                   ? TP_EIO
                   : TP_EMEDIA;
    if (code == TP_ECANCELED)
        return tp_error_set(err, code, averr, "%s: canceled", src);
    return tp_error_set(err, code, averr, "%s: %s: %s", src, what, buf);
}

/* from_start: a source's packets before its stream's declared start are pre-roll the decoder
 * drops (Ogg Vorbis with stamps seconds below zero): they count from the start only. */
static void span_add(span_acc *a, const AVPacket *pkt, const AVStream *st, bool from_start)
{
    int k = st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO   ? 0
            : st->codecpar->codec_type == AVMEDIA_TYPE_AUDIO ? 1
                                                             : -1;
    int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
    /* Discarded packets are pre-roll an edit list hides: not part of what is shown. */
    /* Empty audio packets carry no sound (Ogg's placeholders): their stamps are not the
     * source's. (An empty video packet can be a repeated frame, in AVI: it keeps its time.) */
    if (k < 0 || ts == AV_NOPTS_VALUE || (k == 1 && pkt->size <= 0) ||
        (pkt->flags & AV_PKT_FLAG_DISCARD) || (st->disposition & AV_DISPOSITION_ATTACHED_PIC))
        return;
    double t = ts * av_q2d(st->time_base), d = pkt->duration * av_q2d(st->time_base);
    if (!(d > 0)) {
        /* Raw streams may leave it unset: one frame (or one audio frame) is the best guess. */
        AVRational fr = st->avg_frame_rate.num > 0 ? st->avg_frame_rate : st->r_frame_rate;
        const AVCodecParameters *cp = st->codecpar;
        d = k == 0 ? (fr.num > 0 && fr.den > 0 ? av_q2d(av_inv_q(fr)) : 0.0)
            : cp->frame_size > 0 && cp->sample_rate > 0 ? (double)cp->frame_size / cp->sample_rate
                                                        : 0.0;
    }
    if (!isfinite(t) || !isfinite(d))
        return;
    if (from_start && st->start_time != AV_NOPTS_VALUE) {
        double s0 = st->start_time * av_q2d(st->time_base);
        if (t + d <= s0)
            return;
        if (t < s0) {
            d -= s0 - t;
            t = s0;
        }
    }
    if (!a->seen[k] || t < a->first[k])
        a->first[k] = t;
    if (!a->seen[k] || t + d > a->end[k])
        a->end[k] = t + d;
    a->seen[k] = true;
}

static tp_fit_span span_get(const span_acc *a)
{
    tp_fit_span s = {.video = a->seen[0] ? a->end[0] - a->first[0] : -1.0,
                     .audio = a->seen[1] ? a->end[1] - a->first[1] : -1.0};
    return s;
}

/* Temporary file next to the final one: same file system, so rename is atomic. Created
 * exclusively under an unpredictable name, without following a symlink, and kept open: the
 * output is written through that descriptor only (probe/avio_fd.h), so nobody can plant a link at
 * the name for us to write through. Its mode is the source's read/write bits (umask applied):
 * an output is never readable by more users than its source. */
static int make_temp(char **out, int *fd, const char *outdir, const char *final_name, int src_fd,
                     tp_error *err)
{
    char *prefix = tp_asprintf(".%s.tmp-", final_name);
    if (!prefix)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    *fd = tp_create_exclusive(out, outdir, prefix, NULL, tp_output_mode_fd(src_fd), err);
    free(prefix);
    if (*fd < 0) {
        tp_error_prefix(err, "cannot create a file in the output folder");
        return err->code;
    }
    return 0;
}

/* The muxer's own opens (faststart's read-back of its output): only our temporary file, for
 * reading, through its descriptor; never a path or a URL. */
static int mux_io_open(AVFormatContext *s, AVIOContext **pb, const char *url, int flags,
                       AVDictionary **options)
{
    (void)options;
    const fit_output *o = s->opaque;
    if (!o || !url || !o->tmp || strcmp(url, o->tmp) || (flags & AVIO_FLAG_WRITE) || o->fd < 0)
        return AVERROR(EPERM);
    return tp_avio_fd_open(pb, o->fd, false, &s->interrupt_callback);
}

static int mux_io_close2(AVFormatContext *s, AVIOContext *pb)
{
    (void)s;
    return tp_avio_fd_close(&pb);
}

void tp_fit_paths_free(char **paths, int n)
{
    if (!paths)
        return;
    for (int i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
}

/* Refuse an output that would replace the input (the same folder and the same name) or any
 * existing file in the input's folder. Elsewhere an existing output is replaced by rename, which
 * never touches the old file's data (even when it is a hard link to the input, from an earlier
 * pass-through). */
static int check_not_input(const char *src, const char *outdir, const char *name, tp_error *err)
{
    char *rsrc = realpath(src, NULL), *rdir = realpath(outdir, NULL);
    int rc = 0;
    if (rsrc && rdir) {
        const char *slash = strrchr(rsrc, '/');
        size_t dlen = (size_t)(slash - rsrc);
        bool same_dir = (dlen == 0 && !strcmp(rdir, "/")) ||
                        (strlen(rdir) == dlen && !strncmp(rsrc, rdir, dlen));
        char *final = tp_path_join(rdir, name);
        struct stat st;
        if (same_dir && !strcmp(slash + 1, name))
            rc = tp_error_set(err, TP_EINVAL, 0,
                              "%s: the output %s/%s is the input itself; choose another -o folder",
                              src, outdir, name);
        /* In the input's own folder an existing file of that name may be another input (a.mov
         * and a.mp4): never replace it there. */
        else if (same_dir && final && lstat(final, &st) == 0)
            rc = tp_error_set(err, TP_EINVAL, 0,
                              "%s: the output %s/%s already exists in the input's folder; "
                              "choose another -o folder",
                              src, outdir, name);
        free(final);
    }
    free(rsrc);
    free(rdir);
    return rc;
}

static void outputs_close(fit_ctx *c, bool remove_tmp)
{
    for (int i = 0; i < c->n_out; i++) {
        fit_output *o = &c->out[i];
        if (o->mux) {
            tp_avio_fd_close(&o->mux->pb);
            avformat_free_context(o->mux);
            o->mux = NULL;
        }
        if (o->fd >= 0)
            close(o->fd);
        o->fd = -1;
        /* The folder may have turned read-only under us: then the file cannot go, but the
         * user must hear where it is. */
        if (remove_tmp && o->tmp && unlink(o->tmp) < 0 && errno != ENOENT)
            tp_log(TP_LOG_WARN, "%s: cannot remove this temporary file: %s", o->tmp,
                   strerror(errno));
        free(o->tmp);
        free(o->final);
        o->tmp = o->final = NULL;
    }
    c->n_out = 0;
}

static int outputs_prepare(fit_ctx *c, const char *outdir, int n, const char *ext, tp_error *err)
{
    char *stem = tp_path_stem(c->src);
    if (!stem)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    int rc = 0;
    for (int i = 0; i < n; i++) {
        fit_output *o = &c->out[i];
        o->vst = o->ast = -1;
        o->fd = -1;
        char *name = tp_path_part_name(stem, i + 1, n, ext);
        if (!name) {
            rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
            break;
        }
        o->final = tp_path_join(outdir, name);
        c->n_out = i + 1;
        if (!o->final) {
            free(name);
            rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
            break;
        }
        rc = check_not_input(c->src, outdir, name, err);
        if (rc == 0)
            rc = make_temp(&o->tmp, &o->fd, outdir, name, c->src_fd, err);
        free(name);
        if (rc < 0)
            break;
    }
    free(stem);
    return rc;
}

static int open_mux(fit_output *o, const char *src, tp_error *err)
{
    int ret = avformat_alloc_output_context2(&o->mux, NULL, "mp4", o->tmp);
    if (ret < 0)
        return av_fail(err, ret, src, "cannot create the MP4 muxer");
    o->mux->opaque = o;
    o->mux->io_open = mux_io_open;
    o->mux->io_close2 = mux_io_close2;
    return 0;
}

static int write_header(fit_output *o, const char *src, const tp_cancel *cancel, tp_error *err)
{
    AVDictionary *mo = NULL;
    o->mux->interrupt_callback.callback = interrupt_cb;
    o->mux->interrupt_callback.opaque = (void *)cancel;
    /* moov first: the mp4 muxer rewrites the file once at the end (faststart). */
    av_dict_set(&mo, "movflags", "+faststart", 0);
    /* The cancel flag also stops the faststart rewrite of a long output. */
    int ret = tp_avio_fd_open(&o->mux->pb, o->fd, true, &o->mux->interrupt_callback);
    if (ret >= 0)
        ret = avformat_write_header(o->mux, &mo);
    av_dict_free(&mo);
    if (ret < 0)
        return av_fail(err, ret, o->final, "cannot write the MP4 header");
    o->header_written = true;
    return 0;
}

static int finish_mux(fit_output *o, tp_error *err)
{
    int ret = 0;
    if (o->header_written) {
        ret = av_write_trailer(o->mux);
        o->header_written = false;
    }
    int cret = tp_avio_fd_close(&o->mux->pb);
    if (cret >= 0 && fsync(o->fd) < 0 && errno != EINVAL)
        cret = AVERROR(errno);
    if (ret >= 0)
        ret = cret;
    if (ret < 0)
        return av_fail(err, ret, o->final, "cannot finish the MP4 file");
    return 0;
}

/* Re-probe a finished temporary output and hold it to the same profile: an output that does not
 * pass is an error, never a success. */
static int verify_output(const fit_output *o, int fd, const tp_profile *p, int64_t *size,
                         tp_media_info *out, tp_error *err)
{
    tp_media_info m;
    tp_check_result r;
    tp_probe_options po = {.deep = false, .limits = &p->limits, .cancel = NULL};
    /* Read through the descriptor we wrote (or, for a pass, the source's): never by name. */
    int rc = tp_probe_fd(&m, fd, o->tmp, &po, err);
    if (rc < 0) {
        tp_error_prefix(err, "%s: verifying the output", o->final);
        return rc;
    }
    *size = m.size;
    if (out)
        *out = m;
    tp_rules_check(&r, &m, p);
    if (r.verdict != TP_VERDICT_PASS) {
        char why[512] = "";
        for (int i = 0; i < r.n_violations; i++) {
            if (r.violations[i].severity != TP_SEV_ERROR)
                continue;
            size_t len = strlen(why);
            snprintf(why + len, sizeof(why) - len, "%s%s", len ? "; " : "",
                     r.violations[i].message);
        }
        return tp_error_set(err, TP_EINTERNAL, 0,
                            "%s: the fitted output does not pass the profile: %s", o->final,
                            why[0] ? why : r.reason);
    }
    return 0;
}

/* Demux a written output (no decoding) and measure what it holds. */
static int measure_output(const fit_output *o, tp_fit_span *span, tp_error *err)
{
    AVFormatContext *fmt = NULL;
    AVPacket *pkt = av_packet_alloc();
    AVDictionary *opts = NULL;
    AVIOContext *pb = NULL;
    span_acc a = {0};
    /* Through the descriptor we wrote, as the MP4 it is: never a name, never a protocol. */
    const char *mp4 = "mov,mp4,m4a,3gp,3g2,mj2";
    int ret = pkt ? tp_avio_fd_open(&pb, o->fd, false, NULL) : AVERROR(ENOMEM);
    if (ret >= 0 && !(fmt = avformat_alloc_context()))
        ret = AVERROR(ENOMEM);
    if (ret >= 0) {
        fmt->pb = pb;
        fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
        tp_demux_lock(fmt, &opts, mp4);
        ret = avformat_open_input(&fmt, "", tp_demuxer_find(mp4), &opts);
    }
    av_dict_free(&opts);
    while (ret >= 0) {
        ret = av_read_frame(fmt, pkt);
        if (ret >= 0 && pkt->stream_index >= 0 && pkt->stream_index < (int)fmt->nb_streams)
            span_add(&a, pkt, fmt->streams[pkt->stream_index], false);
        av_packet_unref(pkt);
    }
    avformat_close_input(&fmt);
    tp_avio_fd_close(&pb);
    av_packet_free(&pkt);
    if (ret != AVERROR_EOF)
        return av_fail(err, ret, o->final, "measuring the written output");
    *span = span_get(&a);
    return 0;
}

/* Nothing the plan did not ask to cut may be missing from the outputs (tp_fit_check_coverage):
 * each output is measured from its own packets, the source from the packets fit read. */
static int check_coverage(fit_ctx *c, tp_error *err)
{
    tp_fit_span outs[TP_MAX_PARTS];
    for (int k = 0; k < c->n_out; k++) {
        int rc = measure_output(&c->out[k], &outs[k], err);
        if (rc < 0)
            return rc;
    }
    tp_fit_span source = span_get(&c->read);
    double frame = 0.0;
    if (c->plan->out_fps.num > 0 && c->plan->out_fps.den > 0)
        frame = (double)c->plan->out_fps.den / c->plan->out_fps.num;
    else if (c->in && c->vidx >= 0) {
        AVRational fr = c->in->streams[c->vidx]->avg_frame_rate;
        frame = fr.num > 0 && fr.den > 0 ? av_q2d(av_inv_q(fr)) : 0.0;
    }
    return tp_fit_check_coverage(c->plan, c->src, &source, outs, c->n_out, frame, err);
}

static int commit_outputs(fit_ctx *c, char ***out_paths, int *n_out, tp_error *err)
{
    char **paths = calloc((size_t)c->n_out, sizeof(*paths));
    if (!paths)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    for (int i = 0; i < c->n_out; i++) {
        fit_output *o = &c->out[i];
        if (rename(o->tmp, o->final) < 0) {
            int e = errno;
            tp_fit_paths_free(paths, i);
            return tp_error_set(err, TP_EIO, e, "%s: cannot rename the finished output: %s",
                                o->final, strerror(e));
        }
        /* rename() does nothing when both names are links to one file (a pass-through fitted
         * again): the temporary name would stay behind. */
        unlink(o->tmp);
        free(o->tmp);
        o->tmp = NULL;
        paths[i] = o->final;
        o->final = NULL;
    }
    *out_paths = paths;
    *n_out = c->n_out;
    return 0;
}

/* ---- pass: byte copy (hard link when the file system allows) ---------------------------- */

static int run_pass(fit_ctx *c, const char *outdir, tp_error *err)
{
    int rc = outputs_prepare(c, outdir, 1, tp_path_ext(c->src), err);
    if (rc < 0)
        return rc;
    fit_output *o = &c->out[0];
    /* mkstemp made the name ours; a link needs the name free, so swap it in by rename. */
    char *lnk = tp_asprintf("%s.lnk", o->tmp);
    if (!lnk)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    /* Link the inode we opened (through /proc), never the name: a file renamed over the
     * source since it was checked is not what gets linked. */
    char fdpath[64];
    snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", c->src_fd);
    /* A link shares the inode: whoever can write the source (a drop-folder writer who owns it,
     * or a group that may write it) could change the "checked" output after the fact, and it
     * keeps their ownership. Link only a source that is ours and writable by us alone. */
    struct stat sst;
    bool linkable = fstat(c->src_fd, &sst) == 0 && sst.st_uid == geteuid() &&
                    !(sst.st_mode & (S_IWGRP | S_IWOTH));
    if (linkable && linkat(AT_FDCWD, fdpath, AT_FDCWD, lnk, AT_SYMLINK_FOLLOW) == 0) {
        if (rename(lnk, o->tmp) < 0) {
            rc = tp_error_set(err, TP_EIO, errno, "%s: %s", o->tmp, strerror(errno));
            unlink(lnk);
        }
    } else {
        c->pass_copied = true;
        /* Into the temporary file's own descriptor (never re-opened by name). */
        rc = tp_copy_fd(c->src_fd, c->src, o->fd, o->tmp, c->opts ? c->opts->cancel : NULL, err);
    }
    free(lnk);
    if (rc == 0 && c->opts && c->opts->progress)
        c->opts->progress(1.0, 0.0, c->opts->payload);
    return rc;
}

/* ---- input ------------------------------------------------------------------------------ */

static int open_input(fit_ctx *c, tp_error *err)
{
    c->in = avformat_alloc_context();
    if (!c->in)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    c->in->interrupt_callback.callback = interrupt_cb;
    c->in->interrupt_callback.opaque = (void *)(c->opts ? c->opts->cancel : NULL);
    /* The probed demuxer on the probed descriptor: the name is never a URL (a file called
     * "concat:a|/etc/passwd" is only a name), and the demuxer opens nothing else. */
    const AVInputFormat *fmt = c->media ? tp_demuxer_find(c->media->demuxer) : NULL;
    if (!fmt)
        return tp_error_set(err, TP_EINTERNAL, 0, "%s: the probed format is unknown", c->src);
    int ret = tp_avio_fd_new(&c->in_pb, c->src_fd, &c->in->interrupt_callback);
    if (ret < 0)
        return av_fail(err, ret, c->src, "cannot open");
    c->in->pb = c->in_pb;
    AVDictionary *opts = NULL;
    tp_demux_lock(c->in, &opts, fmt->name);
    ret = avformat_open_input(&c->in, "", fmt, &opts);
    av_dict_free(&opts);
    if (ret < 0)
        return av_fail(err, ret, c->src, "cannot open");
    ret = avformat_find_stream_info(c->in, NULL);
    if (ret < 0)
        return av_fail(err, ret, c->src, "cannot read stream information");
    /* The streams a player would pick: the best video, and the audio that goes with it. */
    c->vidx = av_find_best_stream(c->in, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    c->aidx = av_find_best_stream(c->in, AVMEDIA_TYPE_AUDIO, -1, c->vidx, NULL, 0);
    if (c->vidx >= 0 && (c->in->streams[c->vidx]->disposition & AV_DISPOSITION_ATTACHED_PIC))
        c->vidx = -1;
    if (c->vidx < 0)
        return tp_error_set(err, TP_EMEDIA, 0, "%s: no video stream", c->src);
    if (c->aidx < 0)
        c->aidx = -1;
    return 0;
}

/* ---- remux ------------------------------------------------------------------------------ */


/* A new output stream with the parameters of the input stream `is`, for its packets copied as
 * they are (remux, or the video of an audio-only fix). The rotation is part of the picture, not
 * location data: its display matrix is kept. */
static int new_copied_stream(AVStream **out, fit_ctx *c, fit_output *o, const AVStream *is,
                             tp_error *err)
{
    AVStream *os = avformat_new_stream(o->mux, NULL);
    if (!os)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    int ret = avcodec_parameters_copy(os->codecpar, is->codecpar);
    if (ret < 0)
        return av_fail(err, ret, c->src, "cannot copy stream parameters");
    os->codecpar->codec_tag = 0;
    os->time_base = is->time_base;
    os->sample_aspect_ratio = is->sample_aspect_ratio;
    size_t sz = 0;
    const uint8_t *dm = av_stream_get_side_data(is, AV_PKT_DATA_DISPLAYMATRIX, &sz);
    if (dm) {
        uint8_t *d = av_stream_new_side_data(os, AV_PKT_DATA_DISPLAYMATRIX, sz);
        if (!d)
            return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        memcpy(d, dm, sz);
    }
    *out = os;
    return 0;
}

static int run_remux(fit_ctx *c, const char *outdir, tp_error *err)
{
    int rc = open_input(c, err);
    if (rc < 0)
        return rc;
    rc = outputs_prepare(c, outdir, 1, ".mp4", err);
    if (rc < 0)
        return rc;
    fit_output *o = &c->out[0];
    if ((rc = open_mux(o, c->src, err)) < 0)
        return rc;
    int map[2] = {c->vidx, c->aidx};
    int omap_v = -1, omap_a = -1;
    for (int i = 0; i < 2; i++) {
        if (map[i] < 0)
            continue;
        AVStream *os = NULL;
        if ((rc = new_copied_stream(&os, c, o, c->in->streams[map[i]], err)) < 0)
            return rc;
        if (i == 0)
            omap_v = os->index;
        else
            omap_a = os->index;
    }
    if ((rc = write_header(o, c->src, c->opts ? c->opts->cancel : NULL, err)) < 0)
        return rc;
    int64_t dur_us = c->in->duration > 0 ? c->in->duration : 0;
    for (;;) {
        if (canceled(c))
            return tp_error_set(err, TP_ECANCELED, 0, "%s: canceled", c->src);
        int ret = av_read_frame(c->in, c->pkt);
        if (ret == AVERROR_EOF)
            break;
        if (ret < 0)
            return av_fail(err, ret, c->src, "read error");
        int os_idx = c->pkt->stream_index == c->vidx   ? omap_v
                     : c->pkt->stream_index == c->aidx ? omap_a
                                                       : -1;
        if (os_idx < 0) {
            av_packet_unref(c->pkt);
            continue;
        }
        AVStream *is = c->in->streams[c->pkt->stream_index];
        span_add(&c->read, c->pkt, is, true);
        if (c->opts && c->opts->progress && dur_us > 0 && os_idx == omap_v &&
            c->pkt->pts != AV_NOPTS_VALUE) {
            double t = c->pkt->pts * av_q2d(is->time_base);
            c->opts->progress(fmin(1.0, t / (dur_us / 1e6)), 0.0, c->opts->payload);
        }
        av_packet_rescale_ts(c->pkt, is->time_base, o->mux->streams[os_idx]->time_base);
        c->pkt->stream_index = os_idx;
        c->pkt->pos = -1;
        ret = av_interleaved_write_frame(o->mux, c->pkt);
        if (ret < 0)
            return av_fail(err, ret, o->final, "write error");
    }
    return finish_mux(o, err);
}

/* ---- transcode -------------------------------------------------------------------------- */

static int open_decoder(AVCodecContext **out, AVStream *st, const char *src, tp_error *err)
{
    const AVCodec *dec = avcodec_find_decoder(st->codecpar->codec_id);
    if (!dec)
        return tp_error_set(err, TP_EUNSUPPORTED, 0, "%s: no decoder for %s", src,
                            avcodec_get_name(st->codecpar->codec_id));
    AVCodecContext *d = avcodec_alloc_context3(dec);
    if (!d)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    *out = d;
    int ret = avcodec_parameters_to_context(d, st->codecpar);
    if (ret < 0)
        return av_fail(err, ret, src, "decoder parameters");
    d->pkt_timebase = st->time_base;
    d->thread_count = 0;
    if (dec->type == AVMEDIA_TYPE_VIDEO)
        d->framerate = av_guess_frame_rate(NULL, st, NULL);
    ret = avcodec_open2(d, dec, NULL);
    if (ret < 0)
        return av_fail(err, ret, src, "cannot open the decoder");
    return 0;
}

static int build_graph(AVFilterGraph *g, AVFilterContext *src, AVFilterContext *sink,
                       const char *desc, const char *file, tp_error *err)
{
    AVFilterInOut *outs = avfilter_inout_alloc(), *ins = avfilter_inout_alloc();
    int ret = AVERROR(ENOMEM);
    if (!outs || !ins)
        goto out;
    outs->name = av_strdup("in");
    outs->filter_ctx = src;
    ins->name = av_strdup("out");
    ins->filter_ctx = sink;
    ret = avfilter_graph_parse_ptr(g, desc, &ins, &outs, NULL);
    if (ret >= 0)
        ret = avfilter_graph_config(g, NULL);
out:
    avfilter_inout_free(&ins);
    avfilter_inout_free(&outs);
    if (ret < 0) {
        av_fail(err, ret, file, "filter graph");
        tp_error_prefix(err, "%s", desc);
        return TP_EINTERNAL;
    }
    return 0;
}

static int setup_video(fit_ctx *c, tp_error *err)
{
    AVStream *st = c->in->streams[c->vidx];
    int rc = open_decoder(&c->vdec, st, c->src, err);
    if (rc < 0)
        return rc;
    c->vgraph = avfilter_graph_alloc();
    if (!c->vgraph)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    AVRational sar =
        c->vdec->sample_aspect_ratio.num ? c->vdec->sample_aspect_ratio : (AVRational){1, 1};
    char args[256];
    snprintf(args, sizeof(args), "video_size=%dx%d:pix_fmt=%d:time_base=%d/%d:pixel_aspect=%d/%d",
             c->vdec->width, c->vdec->height, c->vdec->pix_fmt, st->time_base.num,
             st->time_base.den, sar.num, sar.den);
    int ret = avfilter_graph_create_filter(&c->vsrc, avfilter_get_by_name("buffer"), "in", args,
                                           NULL, c->vgraph);
    if (ret >= 0)
        ret = avfilter_graph_create_filter(&c->vsink, avfilter_get_by_name("buffersink"), "out",
                                           NULL, NULL, c->vgraph);
    if (ret < 0)
        return av_fail(err, ret, c->src, "video filter set-up");
    enum AVPixelFormat fmts[] = {AV_PIX_FMT_YUV420P, AV_PIX_FMT_NONE};
    av_opt_set_int_list(c->vsink, "pix_fmts", fmts, AV_PIX_FMT_NONE, AV_OPT_SEARCH_CHILDREN);
    if ((rc = build_graph(c->vgraph, c->vsrc, c->vsink, c->plan->filter, c->src, err)) < 0)
        return rc;

    const tp_fix_video *fv = &c->profile->fix.video;
    const AVCodec *enc = avcodec_find_encoder_by_name(fv->codec[0] ? fv->codec : "libx264");
    if (!enc)
        return tp_error_set(err, TP_EUNSUPPORTED, 0, "video encoder %s is not available",
                            fv->codec);
    AVCodecContext *e = c->venc = avcodec_alloc_context3(enc);
    if (!e)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    e->width = c->plan->out_width;
    e->height = c->plan->out_height;
    e->pix_fmt = AV_PIX_FMT_YUV420P;
    e->sample_aspect_ratio = (AVRational){1, 1};
    e->framerate = (AVRational){c->plan->out_fps.num, c->plan->out_fps.den};
    e->time_base = av_inv_q(e->framerate);
    e->rc_max_rate = c->video_maxrate;
    e->rc_buffer_size = (int)(c->plan->video_bufsize * c->video_maxrate /
                              (c->plan->video_bitrate_max ? c->plan->video_bitrate_max : 1));
    e->profile = FF_PROFILE_H264_HIGH;
    e->thread_count = 0;
    e->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    /* Tone-mapped and SDR sources both leave the graph as BT.709 limited range. */
    e->color_primaries = AVCOL_PRI_BT709;
    e->color_trc = AVCOL_TRC_BT709;
    e->colorspace = AVCOL_SPC_BT709;
    e->color_range = AVCOL_RANGE_MPEG;
    AVDictionary *o = NULL;
    av_dict_set(&o, "preset", fv->preset[0] ? fv->preset : "veryfast", 0);
    av_dict_set_int(&o, "crf", fv->crf, 0);
    av_dict_set(&o, "profile", "high", 0);
    av_dict_set(&o, "forced-idr", "1", 0);
    /* The High profile is what x264 signals once 8x8 transforms are on; the fastest presets
     * turn them off and would otherwise emit Constrained Baseline. */
    av_dict_set(&o, "x264-params", "8x8dct=1", 0);
    if (c->plan->h264_level > 0) {
        char level[16];
        snprintf(level, sizeof(level), "%d.%d", c->plan->h264_level / 10, c->plan->h264_level % 10);
        e->level = c->plan->h264_level;
        av_dict_set(&o, "level", level, 0);
    }
    ret = avcodec_open2(e, enc, &o);
    av_dict_free(&o);
    if (ret < 0)
        return av_fail(err, ret, c->src, "cannot open the video encoder");
    return 0;
}

static int setup_audio(fit_ctx *c, tp_error *err)
{
    AVStream *st = c->in->streams[c->aidx];
    int rc = open_decoder(&c->adec, st, c->src, err);
    if (rc < 0)
        return rc;
    const tp_fix_audio *fa = &c->profile->fix.audio;
    const AVCodec *enc = avcodec_find_encoder_by_name(fa->codec[0] ? fa->codec : "aac");
    if (!enc)
        return tp_error_set(err, TP_EUNSUPPORTED, 0, "audio encoder %s is not available",
                            fa->codec);
    AVCodecContext *e = c->aenc = avcodec_alloc_context3(enc);
    if (!e)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    e->sample_rate = fa->sample_rate > 0 ? fa->sample_rate : 48000;
    av_channel_layout_default(&e->ch_layout, fa->channels > 0 ? fa->channels : 2);
    e->sample_fmt = enc->sample_fmts ? enc->sample_fmts[0] : AV_SAMPLE_FMT_FLTP;
    e->bit_rate = fa->bitrate > 0 ? fa->bitrate : 128000;
    e->time_base = (AVRational){1, e->sample_rate};
    e->profile = FF_PROFILE_AAC_LOW;
    e->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    int ret = avcodec_open2(e, enc, NULL);
    if (ret < 0)
        return av_fail(err, ret, c->src, "cannot open the audio encoder");

    c->agraph = avfilter_graph_alloc();
    if (!c->agraph)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    AVCodecContext *d = c->adec;
    if (d->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
        av_channel_layout_default(&d->ch_layout, d->ch_layout.nb_channels);
    char layout[128], args[512], out_layout[128], desc[1536];
    av_channel_layout_describe(&d->ch_layout, layout, sizeof(layout));
    av_channel_layout_describe(&e->ch_layout, out_layout, sizeof(out_layout));
    snprintf(args, sizeof(args), "time_base=%d/%d:sample_rate=%d:sample_fmt=%s:channel_layout=%s",
             st->time_base.num, st->time_base.den, d->sample_rate,
             av_get_sample_fmt_name(d->sample_fmt), layout);
    ret = avfilter_graph_create_filter(&c->asrc, avfilter_get_by_name("abuffer"), "in", args, NULL,
                                       c->agraph);
    if (ret >= 0)
        ret = avfilter_graph_create_filter(&c->asink, avfilter_get_by_name("abuffersink"), "out",
                                           NULL, NULL, c->agraph);
    if (ret < 0)
        return av_fail(err, ret, c->src, "audio filter set-up");
    /* async fills gaps and trims overlaps against the timestamps, so the audio keeps the same
     * clock as the video (first_pts=0 pads silence when the audio starts late). */
    const tp_fit_plan *pl = c->plan;
    int n =
        snprintf(desc, sizeof(desc),
                 "aresample=%d:async=1:first_pts=0,"
                 "aformat=sample_fmts=%s:sample_rates=%d:channel_layouts=%s",
                 e->sample_rate, av_get_sample_fmt_name(e->sample_fmt), e->sample_rate, out_layout);
    /* Loudness after the clock is fixed; loudnorm may run at 192 kHz inside (its dynamic mode
     * does): back to the output rate after it. */
    if (pl->audio_filter[0])
        n += snprintf(desc + n, sizeof(desc) - (size_t)n, ",%s,aresample=%d,aformat=sample_fmts=%s:"
                      "sample_rates=%d:channel_layouts=%s",
                      pl->audio_filter, e->sample_rate, av_get_sample_fmt_name(e->sample_fmt),
                      e->sample_rate, out_layout);
    /* Extend pads (apad never cuts a longer input); only a trim cuts. */
    if (pl->hold_until > 0)
        n += snprintf(desc + n, sizeof(desc) - (size_t)n, ",apad=whole_dur=%.6f",
                      pl->hold_until + pl->cover_duration);
    else if (pl->trim_end > 0)
        /* In samples, rounded down: never past the video's last frame, nor the limit. */
        n += snprintf(desc + n, sizeof(desc) - (size_t)n, ",atrim=end_sample=%lld",
                      (long long)floor(pl->trim_end * e->sample_rate + 1e-6));
    if ((rc = build_graph(c->agraph, c->asrc, c->asink, desc, c->src, err)) < 0)
        return rc;
    av_buffersink_set_frame_size(c->asink, (unsigned)e->frame_size);
    return 0;
}

static void report_progress(fit_ctx *c, int64_t frame_index);

/* plan->copy_video: the source's video stream, parameters and rotation as they are. */
static int add_copied_video(fit_ctx *c, fit_output *o, tp_error *err)
{
    const AVStream *is = c->in->streams[c->vidx];
    AVStream *os = NULL;
    int rc = new_copied_stream(&os, c, o, is, err);
    if (rc < 0)
        return rc;
    os->avg_frame_rate = is->avg_frame_rate;
    o->vst = os->index;
    return 0;
}

/* plan->copy_video: a source video packet into the output, on the clock the audio uses. */
static int copy_video_packet(fit_ctx *c, AVPacket *pkt, tp_error *err)
{
    fit_output *o = &c->out[0];
    const AVStream *is = c->in->streams[c->vidx];
    if (pkt->pts != AV_NOPTS_VALUE)
        pkt->pts -= c->origin_v;
    if (pkt->dts != AV_NOPTS_VALUE)
        pkt->dts -= c->origin_v;
    if (pkt->pts != AV_NOPTS_VALUE) {
        double fps = av_q2d(av_make_q(c->plan->out_fps.num, c->plan->out_fps.den));
        int64_t frame = llround(pkt->pts * av_q2d(is->time_base) * fps) + 1;
        if (frame > c->frames_out) {
            c->frames_out = frame;
            report_progress(c, c->frames_out);
        }
    }
    av_packet_rescale_ts(pkt, is->time_base, o->mux->streams[o->vst]->time_base);
    pkt->stream_index = o->vst;
    pkt->pos = -1;
    int ret = av_interleaved_write_frame(o->mux, pkt);
    return ret < 0 ? av_fail(err, ret, o->final, "write error") : 0;
}

static int setup_outputs(fit_ctx *c, tp_error *err)
{
    double fps = av_q2d(av_make_q(c->plan->out_fps.num, c->plan->out_fps.den));
    for (int k = 0; k < c->n_out; k++) {
        fit_output *o = &c->out[k];
        int rc = open_mux(o, c->src, err);
        if (rc < 0)
            return rc;
        if (c->plan->copy_video && (rc = add_copied_video(c, o, err)) < 0)
            return rc;
        AVCodecContext *encs[2] = {c->venc, c->aenc};
        for (int i = 0; i < 2; i++) {
            if (!encs[i])
                continue;
            AVStream *os = avformat_new_stream(o->mux, NULL);
            if (!os)
                return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
            int ret = avcodec_parameters_from_context(os->codecpar, encs[i]);
            if (ret < 0)
                return av_fail(err, ret, c->src, "stream parameters");
            os->time_base = encs[i]->time_base;
            if (i == 0) {
                os->avg_frame_rate = encs[i]->framerate;
                os->sample_aspect_ratio = (AVRational){1, 1};
                o->vst = os->index;
            } else {
                o->ast = os->index;
            }
        }
        if ((rc = write_header(o, c->src, c->opts ? c->opts->cancel : NULL, err)) < 0)
            return rc;
        /* The cover's frames open the first part; later parts start that much later. */
        c->split_frame[k] = llround(c->plan->parts[k].start * fps) +
                            (k > 0 ? c->plan->cover_frames : 0);
    }
    return 0;
}

/* The part a packet belongs to, by presentation time: the encoder was told to start a fresh
 * IDR at each split frame, so nothing before it references anything after. */
static int part_of(const fit_ctx *c, int64_t pts, AVRational tb)
{
    int k = 0;
    AVRational ftb = av_inv_q(av_make_q(c->plan->out_fps.num, c->plan->out_fps.den));
    while (k + 1 < c->n_out && av_compare_ts(pts, tb, c->split_frame[k + 1], ftb) >= 0)
        k++;
    return k;
}

static int write_packets(fit_ctx *c, AVCodecContext *enc, bool video, tp_error *err)
{
    for (;;) {
        int ret = avcodec_receive_packet(enc, c->opkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return 0;
        if (ret < 0)
            return av_fail(err, ret, c->src, "encode error");
        int64_t pts = c->opkt->pts != AV_NOPTS_VALUE ? c->opkt->pts : c->opkt->dts;
        int k = part_of(c, pts, enc->time_base);
        fit_output *o = &c->out[k];
        int si = video ? o->vst : o->ast;
        AVRational ftb = av_inv_q(av_make_q(c->plan->out_fps.num, c->plan->out_fps.den));
        int64_t off = av_rescale_q(c->split_frame[k], ftb, enc->time_base);
        if (c->opkt->pts != AV_NOPTS_VALUE)
            c->opkt->pts -= off;
        if (c->opkt->dts != AV_NOPTS_VALUE)
            c->opkt->dts -= off;
        av_packet_rescale_ts(c->opkt, enc->time_base, o->mux->streams[si]->time_base);
        c->opkt->stream_index = si;
        ret = av_interleaved_write_frame(o->mux, c->opkt);
        if (ret < 0)
            return av_fail(err, ret, o->final, "write error");
    }
}

static void report_progress(fit_ctx *c, int64_t frame_index)
{
    if (!c->opts || !c->opts->progress || !(c->plan->out_duration > 0))
        return;
    double fps = av_q2d(av_make_q(c->plan->out_fps.num, c->plan->out_fps.den));
    double t = frame_index / fps, wall = tp_now_monotonic() - c->started;
    c->opts->progress(fmin(1.0, t / c->plan->out_duration), wall > 0 ? frame_index / wall : 0.0,
                      c->opts->payload);
}

/* Called for each frame the video graph hands out, before it is encoded: cancellation, and the
 * work bounds a source's timestamps cannot stretch. */
static int frame_bounds(fit_ctx *c, tp_error *err)
{
    if (canceled(c))
        return tp_error_set(err, TP_ECANCELED, 0, "%s: canceled", c->src);
    if (c->pushed_v != c->pushed_seen) {
        c->pushed_seen = c->pushed_v;
        c->held = 0;
    }
    const tp_limits *lim = &c->profile->limits;
    if (c->max_held > 0 && ++c->held > c->max_held)
        return tp_error_set(err, TP_EUNSUPPORTED, 0,
                            "%s: one source frame would fill more than %g s of the output (a gap "
                            "in the source's timestamps) (limits.max_frame_gap)",
                            c->src, lim->max_frame_gap);
    if (c->max_frames > 0 && c->frames_out >= c->max_frames)
        return tp_error_set(err, TP_EUNSUPPORTED, 0,
                            "%s: the output grows past %lld frames (limits.max_output_frames)",
                            c->src, (long long)lim->max_output_frames);
    return 0;
}

/* Pull everything the graph has ready and encode it; frame NULL flushes the encoder. */
static int drain_video(fit_ctx *c, bool flush, tp_error *err)
{
    int rc;
    for (;;) {
        int ret = av_buffersink_get_frame(c->vsink, c->filt);
        if (ret == AVERROR_EOF)
            c->vdone = true;
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            break;
        if (ret < 0)
            return av_fail(err, ret, c->src, "video filter");
        /* One packet can expand into hours of frames (fps, tpad): the checks run per frame. */
        if ((rc = frame_bounds(c, err)) < 0) {
            av_frame_unref(c->filt);
            return rc;
        }
        /* The fps filter's time base is 1/fps, so pts is the output frame index. */
        AVRational tb = av_buffersink_get_time_base(c->vsink);
        c->filt->pts = av_rescale_q(c->filt->pts, tb, c->venc->time_base) + c->plan->cover_frames;
        c->filt->pict_type = AV_PICTURE_TYPE_NONE;
        while (c->next_split < c->n_out && c->filt->pts >= c->split_frame[c->next_split]) {
            c->filt->pict_type = AV_PICTURE_TYPE_I;
            c->next_split++;
        }
        c->frames_out = c->filt->pts + 1;
        ret = avcodec_send_frame(c->venc, c->filt);
        av_frame_unref(c->filt);
        if (ret < 0)
            return av_fail(err, ret, c->src, "video encode");
        if ((rc = write_packets(c, c->venc, true, err)) < 0)
            return rc;
    }
    report_progress(c, c->frames_out);
    if (flush) {
        int ret = avcodec_send_frame(c->venc, NULL);
        if (ret < 0 && ret != AVERROR_EOF)
            return av_fail(err, ret, c->src, "video encode");
        return write_packets(c, c->venc, true, err);
    }
    return 0;
}

static int drain_audio(fit_ctx *c, bool flush, tp_error *err)
{
    for (;;) {
        int ret = av_buffersink_get_frame(c->asink, c->filt);
        if (ret == AVERROR_EOF)
            c->adone = true;
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            break;
        if (ret < 0)
            return av_fail(err, ret, c->src, "audio filter");
        if (canceled(c)) {
            av_frame_unref(c->filt);
            return tp_error_set(err, TP_ECANCELED, 0, "%s: canceled", c->src);
        }
        c->filt->pts =
            av_rescale_q(c->filt->pts, av_buffersink_get_time_base(c->asink), c->aenc->time_base);
        ret = avcodec_send_frame(c->aenc, c->filt);
        av_frame_unref(c->filt);
        if (ret < 0)
            return av_fail(err, ret, c->src, "audio encode");
        int rc = write_packets(c, c->aenc, false, err);
        if (rc < 0)
            return rc;
    }
    if (flush) {
        int ret = avcodec_send_frame(c->aenc, NULL);
        if (ret < 0 && ret != AVERROR_EOF)
            return av_fail(err, ret, c->src, "audio encode");
        return write_packets(c, c->aenc, false, err);
    }
    return 0;
}

/* Packets were read past the end of the last decoded frame (a damaged tail): that footage is
 * lost, and holding the last frame over it would hide the loss from the coverage check. Half a
 * source frame of slack for rounding. */
static bool undecoded_tail(const fit_ctx *c, const AVCodecContext *dec)
{
    if (!c->read.seen[0])
        return false;
    double tb = av_q2d(dec->pkt_timebase);
    double origin = c->origin_v * tb, end = c->end_v * tb;
    double slack = dec->framerate.num > 0 ? 0.5 / av_q2d(dec->framerate) : 0.02;
    return c->read.end[0] - origin > end + slack;
}

/* Decode what the packet (NULL = flush) yields and push it through the stream's graph. */
static int decode_push(fit_ctx *c, bool video, const AVPacket *pkt, tp_error *err)
{
    AVCodecContext *dec = video ? c->vdec : c->adec;
    AVFilterContext *src = video ? c->vsrc : c->asrc;
    int64_t origin = video ? c->origin_v : c->origin_a;
    /* An empty packet carries no media (Ogg's placeholders hold only side data), and to
     * avcodec_send_packet it would mean "end of stream": the rest of the stream would be lost. */
    if (pkt && pkt->size <= 0)
        return 0;
    int ret = avcodec_send_packet(dec, pkt);
    /* A packet the decoder refuses is skipped and counted, as ffmpeg does: one bad packet must
     * not fail the file; the fps filter/aresample fill the gap, the coverage check measures the
     * result. Running out of memory is not the packet's fault. */
    if (ret < 0 && ret != AVERROR_EOF && ret != AVERROR(EAGAIN)) {
        if (ret == AVERROR(ENOMEM))
            return av_fail(err, ret, c->src, "decode");
        if (c->decode_errors++ == 0) {
            char buf[AV_ERROR_MAX_STRING_SIZE];
            av_strerror(ret, buf, sizeof(buf));
            tp_log(TP_LOG_WARN, "%s: the %s decoder refused a packet (%s); skipping it", c->src,
                   video ? "video" : "audio", buf);
        }
    }
    for (;;) {
        if (canceled(c))
            return tp_error_set(err, TP_ECANCELED, 0, "%s: canceled", c->src);
        ret = avcodec_receive_frame(dec, c->frame);
        if (ret == AVERROR(EAGAIN))
            return 0;
        if (ret == AVERROR_EOF)
            break;
        if (ret == AVERROR_INVALIDDATA)
            continue; /* a damaged frame: the fps filter/aresample fill the gap */
        if (ret < 0)
            return av_fail(err, ret, c->src, "decode");
        int64_t pts = c->frame->best_effort_timestamp;
        int64_t fdur = c->frame->pkt_duration;
        if (fdur <= 0 && video && dec->framerate.num > 0)
            fdur = av_rescale_q(1, av_inv_q(dec->framerate), dec->pkt_timebase);
        /* A stream without any time stamp (an MPEG program stream without SCR/PTS): frames
         * follow each other at the frame rate, from the start. A stream that has them and
         * misses one: that frame is dropped, its neighbours fill its time. */
        if (video && pts != AV_NOPTS_VALUE)
            c->v_stamped = true;
        else if (video && !c->v_stamped && fdur > 0)
            pts = c->next_v != AV_NOPTS_VALUE ? c->next_v : origin;
        if (pts == AV_NOPTS_VALUE) {
            av_frame_unref(c->frame);
            continue;
        }
        if (video && fdur > 0)
            c->next_v = pts + fdur;
        /* The sound starts after the cover (aresample's first_pts=0 fills it with silence),
         * so it stays in sync with the pictures the cover's frames pushed back. */
        c->frame->pts = pts - origin + (video ? 0 : c->cover_a);
        if (!video && fdur <= 0)
            fdur = av_rescale_q(c->frame->nb_samples, (AVRational){1, c->frame->sample_rate},
                                dec->pkt_timebase);
        int64_t *end = video ? &c->end_v : &c->end_a;
        if (c->frame->pts + fdur > *end)
            *end = c->frame->pts + fdur;
        ret = av_buffersrc_add_frame_flags(src, c->frame, AV_BUFFERSRC_FLAG_KEEP_REF);
        av_frame_unref(c->frame);
        if (video)
            c->pushed_v++;
        if (ret < 0 && ret != AVERROR_EOF)
            return av_fail(err, ret, c->src, video ? "video filter input" : "audio filter input");
        int rc = video ? drain_video(c, false, err) : drain_audio(c, false, err);
        if (rc < 0)
            return rc;
    }
    /* Decoder fully flushed: close the graph input at the end of the last frame (not its
     * start), so the fps filter keeps the last frame for its whole duration; extend closes it
     * later still, so the fps filter holds the last frame until then (and never earlier than
     * the real end, whatever the probe said). */
    int64_t close_at = video ? c->end_v : c->end_a;
    /* The last frame lasts until the stream's declared end: an edit list that hides the last
     * pictures, an empty last access unit, still belong to the source's duration. */
    if (video && c->hold_v > close_at && !undecoded_tail(c, dec))
        close_at = c->hold_v;
    if (video && c->plan->hold_until > 0) {
        int64_t hold = (int64_t)llround(c->plan->hold_until / av_q2d(dec->pkt_timebase));
        if (hold > close_at)
            close_at = hold;
    }
    ret = av_buffersrc_close(src, close_at, AV_BUFFERSRC_FLAG_PUSH);
    if (ret < 0 && ret != AVERROR_EOF)
        return av_fail(err, ret, c->src, "filter flush");
    return video ? drain_video(c, true, err) : drain_audio(c, true, err);
}

/* The cover image through its own small graph (plan->cover_filter: the video's fill at the
 * output size) into c->cover, once; its copies are the first frames encoded. */
static int setup_cover(fit_ctx *c, tp_error *err)
{
    AVFrame *img = NULL;
    AVFilterGraph *g = NULL;
    AVFilterContext *src = NULL, *sink = NULL;
    int rc = tp_cover_load(&img, &c->media->cover, c->profile, err);
    if (rc < 0)
        return rc;
    if (!(g = avfilter_graph_alloc()) || !(c->cover = av_frame_alloc())) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    AVRational sar = img->sample_aspect_ratio.num > 0 ? img->sample_aspect_ratio
                                                      : (AVRational){1, 1};
    char args[256];
    snprintf(args, sizeof(args), "video_size=%dx%d:pix_fmt=%d:time_base=1/1:pixel_aspect=%d/%d",
             img->width, img->height, img->format, sar.num, sar.den);
    int ret = avfilter_graph_create_filter(&src, avfilter_get_by_name("buffer"), "in", args, NULL,
                                           g);
    if (ret >= 0)
        ret = avfilter_graph_create_filter(&sink, avfilter_get_by_name("buffersink"), "out", NULL,
                                           NULL, g);
    if (ret < 0) {
        rc = av_fail(err, ret, c->media->cover.path, "cover filter set-up");
        goto out;
    }
    enum AVPixelFormat fmts[] = {AV_PIX_FMT_YUV420P, AV_PIX_FMT_NONE};
    av_opt_set_int_list(sink, "pix_fmts", fmts, AV_PIX_FMT_NONE, AV_OPT_SEARCH_CHILDREN);
    if ((rc = build_graph(g, src, sink, c->plan->cover_filter, c->media->cover.path, err)) < 0)
        goto out;
    img->pts = 0;
    if ((ret = av_buffersrc_add_frame(src, img)) < 0 ||
        (ret = av_buffersrc_close(src, 1, AV_BUFFERSRC_FLAG_PUSH)) < 0 ||
        (ret = av_buffersink_get_frame(sink, c->cover)) < 0) {
        rc = av_fail(err, ret, c->media->cover.path, "cover filter");
        goto out;
    }
    if (c->cover->width != c->plan->out_width || c->cover->height != c->plan->out_height) {
        rc = tp_error_set(err, TP_EINTERNAL, 0, "%s: the cover came out %dx%d, not %dx%d",
                          c->media->cover.path, c->cover->width, c->cover->height,
                          c->plan->out_width, c->plan->out_height);
        goto out;
    }
out:
    if (rc < 0)
        av_frame_free(&c->cover);
    avfilter_graph_free(&g);
    av_frame_free(&img);
    return rc;
}

/* The cover's frames, output frames 0 .. cover_frames-1, before anything of the source. */
static int encode_cover(fit_ctx *c, tp_error *err)
{
    for (int i = 0; i < c->plan->cover_frames; i++) {
        AVFrame *f = av_frame_clone(c->cover);
        if (!f)
            return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        f->pts = i;
        f->pict_type = i == 0 ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
        int ret = avcodec_send_frame(c->venc, f);
        av_frame_free(&f);
        if (ret < 0)
            return av_fail(err, ret, c->src, "video encode");
        int rc = write_packets(c, c->venc, true, err);
        if (rc < 0)
            return rc;
    }
    c->frames_out = c->plan->cover_frames;
    c->next_split = c->next_split < 1 ? 1 : c->next_split; /* part 1 starts with the cover */
    return 0;
}

static int run_transcode(fit_ctx *c, const char *outdir, tp_error *err)
{
    int rc = open_input(c, err);
    if (rc < 0)
        return rc;
    if (!c->plan->copy_video && (rc = setup_video(c, err)) < 0)
        return rc;
    if (c->plan->audio_note[0])
        tp_log(TP_LOG_WARN, "%s: %s", c->src, c->plan->audio_note);
    if (c->aidx >= 0 && (rc = setup_audio(c, err)) < 0)
        return rc;
    if ((rc = outputs_prepare(c, outdir, c->plan->n_parts, ".mp4", err)) < 0)
        return rc;
    if ((rc = setup_outputs(c, err)) < 0)
        return rc;
    if (c->plan->cover_frames > 0) {
        if ((rc = setup_cover(c, err)) < 0 || (rc = encode_cover(c, err)) < 0)
            return rc;
        if (c->aidx >= 0)
            c->cover_a = av_rescale_q(c->plan->cover_frames,
                                      av_make_q(c->plan->out_fps.den, c->plan->out_fps.num),
                                      c->in->streams[c->aidx]->time_base);
    }

    /* One clock for both streams: the earliest start is 0, so an offset between audio and video
     * (a late audio start, an edit list) survives as an offset. */
    int64_t start = INT64_MAX;
    int idx[2] = {c->vidx, c->aidx};
    for (int i = 0; i < 2; i++) {
        if (idx[i] < 0)
            continue;
        AVStream *st = c->in->streams[idx[i]];
        if (st->start_time != AV_NOPTS_VALUE)
            start = FFMIN(start, av_rescale_q(st->start_time, st->time_base, AV_TIME_BASE_Q));
    }
    if (start == INT64_MAX)
        start = 0;
    c->origin_v = av_rescale_q(start, AV_TIME_BASE_Q, c->in->streams[c->vidx]->time_base);
    if (c->aidx >= 0)
        c->origin_a = av_rescale_q(start, AV_TIME_BASE_Q, c->in->streams[c->aidx]->time_base);
    c->next_v = AV_NOPTS_VALUE;
    /* The video stream's declared end, never past the measured duration (a header's guess from
     * the bit-rate is no declaration). */
    AVStream *vst = c->in->streams[c->vidx];
    c->hold_v = 0;
    if (vst->duration > 0 && vst->start_time != AV_NOPTS_VALUE &&
        c->in->duration_estimation_method != AVFMT_DURATION_FROM_BITRATE) {
        int64_t decl = vst->start_time + vst->duration - c->origin_v;
        if (c->media && c->media->duration > 0) {
            int64_t cap = (int64_t)llround(c->media->duration / av_q2d(vst->time_base));
            if (decl > cap)
                decl = cap;
        }
        c->hold_v = decl > 0 ? decl : 0;
    }
    c->started = tp_now_monotonic();
    const tp_limits *lim = &c->profile->limits;
    double fps = av_q2d(av_make_q(c->plan->out_fps.num, c->plan->out_fps.den));
    /* A frame gap is counted in output frames; one frame of slack for rounding. A planned
     * extension (fix.too_short: extend holds the last frame) is work the profile asked for. */
    double src_dur = c->in->duration > 0 ? c->in->duration / 1e6 : 0.0;
    double extend = c->plan->out_duration > src_dur ? c->plan->out_duration - src_dur : 0.0;
    c->max_held =
        lim->max_frame_gap > 0 ? (int64_t)ceil((lim->max_frame_gap + extend) * fps) + 1 : 0;
    /* The plan was checked against max_output_frames; this catches unknown or understated
     * durations, with a second of slack for the plan's rounding. */
    c->max_frames = lim->max_output_frames > 0 ? lim->max_output_frames + (int64_t)ceil(fps) : 0;

    for (;;) {
        if (canceled(c))
            return tp_error_set(err, TP_ECANCELED, 0, "%s: canceled", c->src);
        /* A trimmed output is complete once its graphs end: skip the rest of the source. Only a
         * trim: anything else reads to the end, whatever duration the plan was made from. */
        if (c->plan->trim_end > 0 && c->vdone && (c->aidx < 0 || c->adone))
            break;
        int ret = av_read_frame(c->in, c->pkt);
        if (ret == AVERROR_EOF)
            break;
        if (ret < 0)
            return av_fail(err, ret, c->src, "read error");
        if (c->pkt->stream_index == c->vidx || c->pkt->stream_index == c->aidx)
            span_add(&c->read, c->pkt, c->in->streams[c->pkt->stream_index], true);
        if (c->pkt->stream_index == c->vidx && c->plan->copy_video)
            rc = copy_video_packet(c, c->pkt, err);
        else if (c->pkt->stream_index == c->vidx)
            rc = decode_push(c, true, c->pkt, err);
        else if (c->pkt->stream_index == c->aidx)
            rc = decode_push(c, false, c->pkt, err);
        av_packet_unref(c->pkt);
        if (rc < 0)
            return rc;
    }
    if (!c->plan->copy_video && (rc = decode_push(c, true, NULL, err)) < 0)
        return rc;
    if (c->aidx >= 0 && (rc = decode_push(c, false, NULL, err)) < 0)
        return rc;
    if (c->decode_errors > 1)
        tp_log(TP_LOG_WARN, "%s: %lld packets the decoders refused were skipped", c->src,
               (long long)c->decode_errors);
    for (int k = 0; k < c->n_out; k++)
        if ((rc = finish_mux(&c->out[k], err)) < 0)
            return rc;
    if (canceled(c))
        return tp_error_set(err, TP_ECANCELED, 0, "%s: canceled", c->src);
    report_progress(c, c->frames_out);
    return 0;
}

static void ctx_reset(fit_ctx *c, bool remove_tmp)
{
    outputs_close(c, remove_tmp);
    avfilter_graph_free(&c->vgraph);
    avfilter_graph_free(&c->agraph);
    c->vsrc = c->vsink = c->asrc = c->asink = NULL;
    avcodec_free_context(&c->vdec);
    avcodec_free_context(&c->adec);
    avcodec_free_context(&c->venc);
    avcodec_free_context(&c->aenc);
    avformat_close_input(&c->in);
    tp_avio_fd_free(&c->in_pb);
    av_frame_free(&c->cover);
    c->cover_a = 0;
    c->next_split = 0;
    c->frames_out = 0;
    c->pushed_v = c->pushed_seen = c->held = 0;
    c->end_v = c->end_a = 0;
    c->hold_v = 0;
    c->next_v = AV_NOPTS_VALUE;
    c->v_stamped = false;
    c->decode_errors = 0;
    c->vdone = c->adone = false;
    memset(&c->read, 0, sizeof(c->read));
}

int tp_fit_run(char ***out_paths, int *n_out, const char *src, int src_fd,
               const tp_media_info *media, const tp_fit_plan *plan, const tp_profile *p,
               const char *outdir, const tp_fit_run_options *opts, tp_error *err)
{
    if (!out_paths || !n_out || !src || src_fd < 0 || !plan || !p || !outdir)
        return tp_error_set(err, TP_EINVAL, 0, "fit: missing argument");
    *out_paths = NULL;
    *n_out = 0;
    if (plan->reject)
        return tp_error_set(err, TP_EREJECT, 0, "%s: %s", src, plan->reason);
    int rc = tp_fit_plan_check_limits(plan, &p->limits, src, err);
    if (rc < 0)
        return rc;
    struct stat st;
    /* `cd drop && tokprep fit -o out -- *`: an `out` link planted by a drop-folder writer would
     * send the outputs, and their replacing of same-named files, into a folder of their choice. */
    if (lstat(outdir, &st) == 0 && S_ISLNK(st.st_mode) && st.st_uid != geteuid() && st.st_uid != 0)
        return tp_error_set(err, TP_ECONFIG, 0,
                            "%s: the output folder is a symbolic link made by another user (uid "
                            "%u); refusing it",
                            outdir, (unsigned)st.st_uid);
    if (stat(outdir, &st) < 0)
        return tp_error_set(err, TP_EIO, errno, "%s: the output folder does not exist", outdir);
    if (!S_ISDIR(st.st_mode))
        return tp_error_set(err, TP_EIO, ENOTDIR, "%s: the output folder %s", outdir,
                            S_ISREG(st.st_mode) ? "is a file, not a folder"
                                                : "exists and is not a folder");
    if (access(outdir, W_OK) < 0)
        return tp_error_set(err, TP_EIO, errno, "%s: the output folder is not writable: %s", outdir,
                            strerror(errno));

    tp_src_stat st0;
    if (tp_src_fstat(src_fd, &st0) < 0)
        return tp_error_set(err, TP_EIO, errno, "%s: cannot stat: %s", src, strerror(errno));
    fit_ctx c = {
        .src = src, .src_fd = src_fd, .media = media, .plan = plan, .profile = p, .opts = opts};
    c.video_maxrate = plan->video_bitrate_max > 0 ? plan->video_bitrate_max : 15000000;
    c.pkt = av_packet_alloc();
    c.opkt = av_packet_alloc();
    c.frame = av_frame_alloc();
    c.filt = av_frame_alloc();
    if (!c.pkt || !c.opkt || !c.frame || !c.filt) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    for (int attempt = 0;; attempt++) {
        switch (plan->action) {
        case TP_ACTION_NONE: rc = run_pass(&c, outdir, err); break;
        case TP_ACTION_REMUX: rc = run_remux(&c, outdir, err); break;
        default: rc = run_transcode(&c, outdir, err); break;
        }
        /* Written in place while we read it: the outputs mix two contents, and whatever else
         * looks wrong with them (a short output) follows from that. (A pass that links shares
         * the inode itself, and the link changes its ctime; a pass that copies is checked.) */
        if ((plan->action != TP_ACTION_NONE || c.pass_copied) && tp_src_changed(src_fd, &st0)) {
            rc = tp_error_set(err, TP_EIO, 0,
                              "%s: changed while it was being fitted; not delivered", src);
            goto out;
        }
        if (rc == 0 && plan->action != TP_ACTION_NONE)
            rc = check_coverage(&c, err);
        if (rc < 0)
            goto out;
        /* Verify every part; a transcode over the size limit goes round again, lower. */
        int64_t biggest = 0;
        bool oversize = false;
        for (int k = 0; k < c.n_out; k++) {
            int64_t size = 0;
            rc = verify_output(&c.out[k], plan->action == TP_ACTION_NONE ? src_fd : c.out[k].fd, p,
                               &size, opts && opts->out_media ? &opts->out_media[k] : NULL, err);
            if (size > biggest)
                biggest = size;
            if (rc < 0 && plan->action == TP_ACTION_TRANSCODE && p->rules.max_size > 0 &&
                size > p->rules.max_size && attempt < TP_SIZE_RETRIES) {
                oversize = true;
                rc = 0;
            }
            if (rc < 0)
                goto out;
        }
        if (!oversize)
            break;
        double ratio = (double)p->rules.max_size * 0.85 / (double)biggest;
        tp_log(TP_LOG_WARN, "%s: output %lld B over the limit; re-encoding at %.0f%% bit-rate", src,
               (long long)biggest, ratio * 100.0);
        c.video_maxrate = (int64_t)(c.video_maxrate * (ratio < 0.8 ? ratio : 0.8));
        ctx_reset(&c, true);
    }
    rc = commit_outputs(&c, out_paths, n_out, err);
out:
    ctx_reset(&c, true);
    av_packet_free(&c.pkt);
    av_packet_free(&c.opkt);
    av_frame_free(&c.frame);
    av_frame_free(&c.filt);
    return rc;
}

/* ---- stills (tokprep preview) ----------------------------------------------------------- */

/* Seek to the keyframe at or before ts (stream time base) and decode into c->frame the first
 * frame whose time is at or after from (the keyframe itself when it is). */
static int still_decode(fit_ctx *c, int64_t ts, int64_t from, tp_error *err)
{
    AVStream *st = c->in->streams[c->vidx];
    int ret = av_seek_frame(c->in, c->vidx, ts, AVSEEK_FLAG_BACKWARD);
    if (ret < 0) /* before the first keyframe, or a stream that cannot seek: from the start */
        ret = av_seek_frame(c->in, c->vidx, st->start_time != AV_NOPTS_VALUE ? st->start_time : 0,
                            AVSEEK_FLAG_BACKWARD | AVSEEK_FLAG_ANY);
    avcodec_flush_buffers(c->vdec);
    bool eof = false;
    for (;;) {
        ret = avcodec_receive_frame(c->vdec, c->frame);
        if (ret == 0) {
            int64_t pts = c->frame->best_effort_timestamp;
            if (pts == AV_NOPTS_VALUE || pts >= from)
                return 0;
            av_frame_unref(c->frame);
            continue;
        }
        if (ret == AVERROR_EOF)
            return tp_error_set(err, TP_EMEDIA, 0, "%s: no video frame near %.3f s", c->src,
                                (double)ts * av_q2d(st->time_base));
        if (ret != AVERROR(EAGAIN))
            return av_fail(err, ret, c->src, "video decoding");
        if (eof)
            continue;
        ret = av_read_frame(c->in, c->pkt);
        if (ret == AVERROR_EOF) {
            eof = true;
            avcodec_send_packet(c->vdec, NULL);
            continue;
        }
        if (ret < 0)
            return av_fail(err, ret, c->src, "read");
        if (c->pkt->stream_index == c->vidx) {
            ret = avcodec_send_packet(c->vdec, c->pkt);
            if (ret < 0 && ret != AVERROR(EAGAIN) && ret != AVERROR_INVALIDDATA) {
                av_packet_unref(c->pkt);
                return av_fail(err, ret, c->src, "video decoding");
            }
        }
        av_packet_unref(c->pkt);
    }
}

/* c->frame through a fresh graph of desc (the plan's chain, or "null"), into *out. The frame
 * goes in at time 0 and the input ends one output frame later, so the fps filter at the head of
 * the plan's chain makes exactly the one frame it would make there, not the run of copies
 * between 0 and the frame's real time. */
static int still_filter(fit_ctx *c, const char *desc, AVFrame **out, tp_error *err)
{
    AVStream *st = c->in->streams[c->vidx];
    AVFilterGraph *g = avfilter_graph_alloc();
    AVFilterContext *src = NULL, *sink = NULL;
    AVFrame *f = av_frame_alloc();
    int rc = 0, ret;
    if (!g || !f) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    g->nb_threads = 1;
    AVRational sar =
        c->frame->sample_aspect_ratio.num ? c->frame->sample_aspect_ratio : (AVRational){1, 1};
    char args[256];
    snprintf(args, sizeof(args), "video_size=%dx%d:pix_fmt=%d:time_base=%d/%d:pixel_aspect=%d/%d",
             c->frame->width, c->frame->height, c->frame->format, st->time_base.num,
             st->time_base.den, sar.num, sar.den);
    ret = avfilter_graph_create_filter(&src, avfilter_get_by_name("buffer"), "in", args, NULL, g);
    if (ret >= 0)
        ret = avfilter_graph_create_filter(&sink, avfilter_get_by_name("buffersink"), "out", NULL,
                                           NULL, g);
    if (ret < 0) {
        rc = av_fail(err, ret, c->src, "video filter set-up");
        goto out;
    }
    enum AVPixelFormat fmts[] = {AV_PIX_FMT_YUV420P, AV_PIX_FMT_NONE};
    av_opt_set_int_list(sink, "pix_fmts", fmts, AV_PIX_FMT_NONE, AV_OPT_SEARCH_CHILDREN);
    if ((rc = build_graph(g, src, sink, desc, c->src, err)) < 0)
        goto out;
    int64_t step = 1;
    if (c->plan->out_fps.num > 0)
        step = av_rescale_q_rnd(1, (AVRational){c->plan->out_fps.den, c->plan->out_fps.num},
                                st->time_base, AV_ROUND_UP);
    c->frame->pts = 0;
    ret = av_buffersrc_add_frame_flags(src, c->frame, AV_BUFFERSRC_FLAG_KEEP_REF);
    if (ret >= 0)
        ret = av_buffersrc_close(src, step > 0 ? step : 1, 0);
    if (ret >= 0)
        ret = av_buffersink_get_frame(sink, f);
    if (ret < 0) {
        rc = av_fail(err, ret, c->src, "video filtering");
        goto out;
    }
    *out = f;
    f = NULL;
out:
    av_frame_free(&f);
    avfilter_graph_free(&g);
    return rc;
}

int tp_fit_render_stills(tp_fit_still *stills, int n, const char *src, int src_fd,
                         const tp_media_info *media, const tp_fit_plan *plan,
                         const tp_cancel *cancel, tp_error *err)
{
    if (!stills || n < 0 || !src || src_fd < 0 || !media || !plan)
        return tp_error_set(err, TP_EINVAL, 0, "stills: missing argument");
    tp_fit_run_options ro = {.cancel = cancel};
    fit_ctx c = {.src = src, .src_fd = src_fd, .media = media, .plan = plan, .opts = &ro};
    int rc = 0;
    c.pkt = av_packet_alloc();
    c.frame = av_frame_alloc();
    if (!c.pkt || !c.frame) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    if ((rc = open_input(&c, err)) < 0)
        goto out;
    AVStream *st = c.in->streams[c.vidx];
    if ((rc = open_decoder(&c.vdec, st, src, err)) < 0)
        goto out;
    /* Only the video is read. */
    for (unsigned i = 0; i < c.in->nb_streams; i++)
        if ((int)i != c.vidx)
            c.in->streams[i]->discard = AVDISCARD_ALL;
    int64_t origin = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
    /* A file that passes is shown as a player shows it: upright, with square pixels. */
    char shown[128];
    const tp_video_info *v = &media->video;
    snprintf(shown, sizeof(shown), "%s", v->rotation == 90    ? "transpose=clock,"
                                         : v->rotation == 180 ? "hflip,vflip,"
                                         : v->rotation == 270 ? "transpose=cclock,"
                                                              : "");
    if (v->display_width > 1 && v->display_height > 1)
        snprintf(shown + strlen(shown), sizeof(shown) - strlen(shown), "scale=%d:%d,setsar=1",
                 v->display_width & ~1, v->display_height & ~1);
    else
        snprintf(shown + strlen(shown), sizeof(shown) - strlen(shown), "null");
    const char *desc =
        plan->action == TP_ACTION_TRANSCODE && plan->filter[0] ? plan->filter : shown;
    for (int i = 0; i < n; i++) {
        if (tp_cancel_requested(cancel)) {
            rc = tp_error_set(err, TP_ECANCELED, 0, "%s: canceled", src);
            goto out;
        }
        int64_t ts = origin + av_rescale_q((int64_t)(stills[i].at * AV_TIME_BASE), AV_TIME_BASE_Q,
                                           st->time_base);
        int64_t from = origin + av_rescale_q((int64_t)(stills[i].from * AV_TIME_BASE),
                                             AV_TIME_BASE_Q, st->time_base);
        if ((rc = still_decode(&c, ts, from < ts ? from : ts, err)) < 0)
            goto out;
        int64_t pts = c.frame->best_effort_timestamp;
        stills[i].time =
            pts == AV_NOPTS_VALUE ? stills[i].at : (double)(pts - origin) * av_q2d(st->time_base);
        rc = still_filter(&c, desc, &stills[i].frame, err);
        av_frame_unref(c.frame);
        if (rc < 0)
            goto out;
    }
out:
    ctx_reset(&c, true);
    av_packet_free(&c.pkt);
    av_frame_free(&c.frame);
    return rc;
}
