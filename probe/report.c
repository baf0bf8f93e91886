/* JSON views of media info and check results. Field names are the documented schema
 * (docs/COMMANDS.md, `--json` schema): change them only together with the docs. */
#include "probe/report.h"

#include <math.h>
#include <stdio.h>

static bool put_str(cJSON *o, const char *k, const char *v)
{
    return cJSON_AddStringToObject(o, k, v) != NULL;
}

static bool put_num(cJSON *o, const char *k, double v)
{
    return cJSON_AddNumberToObject(o, k, v) != NULL;
}

static bool put_bool(cJSON *o, const char *k, bool v)
{
    return cJSON_AddBoolToObject(o, k, v) != NULL;
}

static bool put_null(cJSON *o, const char *k)
{
    return cJSON_AddNullToObject(o, k) != NULL;
}

static cJSON *video_json(const tp_video_info *v)
{
    char sar[32], fpsr[32];
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    snprintf(sar, sizeof(sar), "%d:%d", v->sar.num, v->sar.den);
    snprintf(fpsr, sizeof(fpsr), "%d/%d", v->fps.num, v->fps.den);
    const double fps = v->fps.den > 0 ? (double)v->fps.num / v->fps.den : 0.0;
    bool ok = put_str(o, "codec", v->codec) && put_str(o, "profile", v->profile) &&
              put_num(o, "width", v->width) && put_num(o, "height", v->height) &&
              put_num(o, "display_width", v->display_width) &&
              put_num(o, "display_height", v->display_height) &&
              put_num(o, "rotation", v->rotation) && put_str(o, "sar", sar) &&
              put_num(o, "fps", round(fps * 1000) / 1000) && put_str(o, "fps_rational", fpsr) &&
              put_bool(o, "vfr", v->vfr) && put_str(o, "pix_fmt", v->pix_fmt) &&
              put_num(o, "bit_depth", v->bit_depth) && put_str(o, "chroma", v->chroma) &&
              (v->hdr[0] ? put_str(o, "hdr", v->hdr) : put_null(o, "hdr")) &&
              put_bool(o, "interlaced", v->interlaced) && put_num(o, "frames", (double)v->frames) &&
              put_num(o, "stream_index", v->stream_index);
    if (ok && v->bars_scanned) {
        cJSON *a = cJSON_AddObjectToObject(o, "active_area");
        ok = a && put_num(a, "x", v->active_area.x) && put_num(a, "y", v->active_area.y) &&
             put_num(a, "width", v->active_area.width) &&
             put_num(a, "height", v->active_area.height);
    } else if (ok) {
        ok = put_null(o, "active_area");
    }
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *audio_json(const tp_audio_info *a)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    if (!(put_str(o, "codec", a->codec) && put_num(o, "channels", a->channels) &&
          put_str(o, "layout", a->layout) && put_num(o, "sample_rate", a->sample_rate) &&
          put_num(o, "stream_index", a->stream_index))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

cJSON *tp_media_to_json(const tp_media_info *m)
{
    cJSON *o = cJSON_CreateObject(), *streams = NULL, *sub = NULL;
    if (!o)
        return NULL;
    bool ok =
        put_str(o, "container", m->container) &&
        (m->duration >= 0 ? put_num(o, "duration", round(m->duration * 1000) / 1000)
                          : put_null(o, "duration")) &&
        put_str(o, "duration_source", m->duration_source[0] ? m->duration_source : "unknown") &&
        put_num(o, "start_time", round(m->start_time * 1000) / 1000) &&
        put_num(o, "size", (double)m->size) && put_num(o, "bit_rate", (double)m->bit_rate) &&
        put_bool(o, "faststart", m->faststart);
    if (!ok)
        goto fail;
    sub = m->video.present ? video_json(&m->video) : cJSON_CreateNull();
    if (!sub || !cJSON_AddItemToObject(o, "video", sub))
        goto fail_sub;
    sub = m->audio.present ? audio_json(&m->audio) : cJSON_CreateNull();
    if (!sub || !cJSON_AddItemToObject(o, "audio", sub))
        goto fail_sub;
    sub = NULL;
    streams = cJSON_AddObjectToObject(o, "streams");
    if (!streams || !put_num(streams, "video", m->n_video) ||
        !put_num(streams, "audio", m->n_audio) || !put_num(streams, "subtitle", m->n_subtitle) ||
        !put_num(streams, "data", m->n_data) || !put_num(streams, "attachments", m->n_attachments))
        goto fail;
    if (!(m->deep ? put_num(o, "decode_errors", m->decode_errors) : put_null(o, "decode_errors")))
        goto fail;
    return o;
fail_sub:
    cJSON_Delete(sub);
fail:
    cJSON_Delete(o);
    return NULL;
}

cJSON *tp_violations_to_json(const tp_check_result *r)
{
    cJSON *arr = cJSON_CreateArray();
    if (!arr)
        return NULL;
    for (int i = 0; i < r->n_violations; i++) {
        const tp_violation *v = &r->violations[i];
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            goto fail;
        }
        if (!put_str(o, "code", v->code) ||
            !put_str(o, "severity", tp_severity_name(v->severity)) ||
            !put_str(o, "message", v->message))
            goto fail;
    }
    return arr;
fail:
    cJSON_Delete(arr);
    return NULL;
}

cJSON *tp_check_to_json(const char *path, const tp_check_result *r, const tp_media_info *media,
                        const char *error)
{
    cJSON *o = cJSON_CreateObject(), *sub = NULL;
    if (!o)
        return NULL;
    bool ok = put_str(o, "path", path) && put_str(o, "verdict", tp_verdict_name(r->verdict)) &&
              (r->verdict == TP_VERDICT_ERROR ? put_null(o, "action")
                                              : put_str(o, "action", tp_action_name(r->action)));
    if (!ok)
        goto fail;
    sub = tp_violations_to_json(r);
    if (!sub || !cJSON_AddItemToObject(o, "violations", sub))
        goto fail_sub;
    if (!(error ? put_str(o, "error", error) : put_null(o, "error")))
        goto fail;
    if (!(r->reason[0] ? put_str(o, "reason", r->reason) : put_null(o, "reason")))
        goto fail;
    sub = media ? tp_media_to_json(media) : cJSON_CreateNull();
    if (!sub || !cJSON_AddItemToObject(o, "media", sub))
        goto fail_sub;
    /* The cover image found for the file (README "Covers"): check's JSON only, so manifests
     * keep their fields. */
    if (media) {
        const tp_cover_info *cv = &media->cover;
        cJSON *c = cv->source == TP_COVER_NONE ? cJSON_CreateNull() : cJSON_CreateObject();
        if (!c || !cJSON_AddItemToObject(sub, "cover", c)) {
            cJSON_Delete(c);
            goto fail;
        }
        if (cv->source != TP_COVER_NONE &&
            !(put_str(c, "source", cv->source == TP_COVER_SIDECAR ? "sidecar" : "profile") &&
              put_str(c, "image", cv->path) && put_num(c, "width", cv->width) &&
              put_num(c, "height", cv->height)))
            goto fail;
    }
    return o;
fail_sub:
    cJSON_Delete(sub);
fail:
    cJSON_Delete(o);
    return NULL;
}
