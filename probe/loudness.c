/* Loudness meter: decoded frames → abuffer → ebur128 (metadata=1) → aresample=192000 →
 * abuffersink. ebur128 writes the running integrated loudness and range into the frames'
 * metadata every 100 ms; the true peak is the largest sample of the 4x oversampled signal
 * (as ebur128's peak=true computes it, but in full precision: its metadata rounds the linear
 * peak to 3 decimals, 0.7 dB off at -45 dBTP). */
#include "probe/loudness.h"

#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/channel_layout.h>
#include <libavutil/dict.h>
#include <libavutil/samplefmt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/tp_util.h"

struct tp_loud_meter {
    AVFilterGraph *graph;
    AVFilterContext *src, *sink;
    AVFrame *out;
    bool failed;                    /* the graph refused the format: nothing is measured */
    bool have;                      /* ebur128 reported at least once */
    int64_t next_pts;               /* samples fed so far: the meter's own clock */
    double integrated, range, peak; /* peak: linear */
};

int tp_loud_meter_new(tp_loud_meter **out)
{
    tp_loud_meter *m = calloc(1, sizeof(*m));
    if (!m || !(m->out = av_frame_alloc())) {
        free(m);
        *out = NULL;
        return TP_ENOMEM;
    }
    *out = m;
    return 0;
}

static int open_graph(tp_loud_meter *m, const AVFrame *f)
{
    char layout[128], args[512];
    AVChannelLayout cl = {0};
    if (av_channel_layout_copy(&cl, &f->ch_layout) < 0)
        return AVERROR(ENOMEM);
    if (cl.order == AV_CHANNEL_ORDER_UNSPEC)
        av_channel_layout_default(&cl, cl.nb_channels);
    int ret = av_channel_layout_describe(&cl, layout, sizeof(layout));
    av_channel_layout_uninit(&cl);
    if (ret < 0 || f->sample_rate <= 0 || !av_get_sample_fmt_name(f->format))
        return AVERROR(EINVAL);
    snprintf(args, sizeof(args), "time_base=1/%d:sample_rate=%d:sample_fmt=%s:channel_layout=%s",
             f->sample_rate, f->sample_rate, av_get_sample_fmt_name(f->format), layout);
    AVFilterInOut *outs = NULL, *ins = NULL;
    if (!(m->graph = avfilter_graph_alloc()))
        return AVERROR(ENOMEM);
    m->graph->nb_threads = 1; /* -j already uses the cores */
    ret = avfilter_graph_create_filter(&m->src, avfilter_get_by_name("abuffer"), "in", args, NULL,
                                       m->graph);
    if (ret >= 0)
        ret = avfilter_graph_create_filter(&m->sink, avfilter_get_by_name("abuffersink"), "out",
                                           NULL, NULL, m->graph);
    if (ret < 0)
        return ret;
    outs = avfilter_inout_alloc();
    ins = avfilter_inout_alloc();
    if (!outs || !ins) {
        ret = AVERROR(ENOMEM);
        goto out;
    }
    outs->name = av_strdup("in");
    outs->filter_ctx = m->src;
    ins->name = av_strdup("out");
    ins->filter_ctx = m->sink;
    ret = avfilter_graph_parse_ptr(m->graph,
                                   "ebur128=metadata=1,aresample=192000,"
                                   "aformat=sample_fmts=dbl",
                                   &ins, &outs, NULL);
    if (ret >= 0)
        ret = avfilter_graph_config(m->graph, NULL);
out:
    avfilter_inout_free(&ins);
    avfilter_inout_free(&outs);
    return ret;
}

static double meta(const AVFrame *f, const char *key, bool *found)
{
    const AVDictionaryEntry *e = av_dict_get(f->metadata, key, NULL, 0);
    if (!e)
        return 0.0;
    char *end;
    double v = strtod(e->value, &end);
    if (end == e->value)
        return 0.0;
    *found = true;
    return v;
}

static int pull(tp_loud_meter *m)
{
    int ret;
    while ((ret = av_buffersink_get_frame(m->sink, m->out)) >= 0) {
        bool i = false, r = false;
        const double iv = meta(m->out, "lavfi.r128.I", &i), rv = meta(m->out, "lavfi.r128.LRA", &r);
        if (i && r) {
            m->integrated = iv;
            m->range = rv;
            m->have = true;
        }
        const int ch = m->out->ch_layout.nb_channels;
        const double *s = (const double *)m->out->extended_data[0]; /* dbl is packed */
        for (int k = 0; k < m->out->nb_samples * ch; k++)
            if (fabs(s[k]) > m->peak)
                m->peak = fabs(s[k]);
        av_frame_unref(m->out);
    }
    return ret == AVERROR(EAGAIN) || ret == AVERROR_EOF ? 0 : ret;
}

int tp_loud_meter_push(tp_loud_meter *m, const AVFrame *frame)
{
    if (m->failed)
        return 0;
    int ret = 0;
    if (!m->graph && (ret = open_graph(m, frame)) < 0)
        goto fail;
    /* The meter only counts samples: timestamps are its own, so gaps cannot confuse it. */
    AVFrame *f = av_frame_clone(frame);
    if (!f) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    f->pts = m->next_pts;
    m->next_pts += f->nb_samples;
    ret = av_buffersrc_add_frame(m->src, f);
    av_frame_free(&f);
    if (ret >= 0)
        ret = pull(m);
    if (ret >= 0)
        return 0;
fail:
    m->failed = true;
    return ret == AVERROR(ENOMEM) ? TP_ENOMEM : 0;
}

void tp_loud_meter_finish(tp_loud_meter *m, tp_loudness *out)
{
    memset(out, 0, sizeof(*out));
    if (!m->graph || m->failed)
        return;
    if (av_buffersrc_add_frame(m->src, NULL) < 0 || pull(m) < 0 || !m->have)
        return;
    out->measured = true;
    out->integrated = m->integrated;
    out->range = m->range;
    out->true_peak = m->peak > 0 ? 20.0 * log10(m->peak) : -144.0;
    if (out->true_peak < -144.0)
        out->true_peak = -144.0;
}

void tp_loud_meter_free(tp_loud_meter **pm)
{
    if (!pm || !*pm)
        return;
    tp_loud_meter *m = *pm;
    avfilter_graph_free(&m->graph);
    av_frame_free(&m->out);
    free(m);
    *pm = NULL;
}
