/* JSON views of media info and check results. Field names are the documented schema
 * (docs/COMMANDS.md, `--json` schema): change them only together with the docs. */
#include "probe/report.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "util/tp_util.h"

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
    /* null when not measured (no --deep, no loudness rule): never a guess. */
    const tp_loudness *l = &a->loudness;
    cJSON *lo = l->measured ? cJSON_CreateObject() : cJSON_CreateNull();
    if (!lo || !cJSON_AddItemToObject(o, "loudness", lo)) {
        cJSON_Delete(lo);
        cJSON_Delete(o);
        return NULL;
    }
    if (l->measured && !(put_num(lo, "integrated", round(l->integrated * 10) / 10) &&
                         put_num(lo, "range", round(l->range * 10) / 10) &&
                         put_num(lo, "true_peak", round(l->true_peak * 10) / 10))) {
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

/* Readers for tp_media_from_json: a missing or mistyped key clears *ok. */
static double get_num(const cJSON *o, const char *k, bool *ok)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(j)) {
        *ok = false;
        return 0;
    }
    return j->valuedouble;
}

static bool get_bool(const cJSON *o, const char *k, bool *ok)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsBool(j))
        *ok = false;
    return cJSON_IsTrue(j);
}

/* null reads as "" (hdr). */
static void get_str(char *dst, size_t cap, const cJSON *o, const char *k, bool *ok)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, k);
    const char *s = cJSON_GetStringValue(j);
    if ((!s && !cJSON_IsNull(j)) || (s && strlen(s) >= cap))
        *ok = false;
    tp_strlcpy(dst, s ? s : "", cap);
}

static tp_rational get_ratio(const cJSON *o, const char *k, char sep, bool *ok)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
    int num = 0, den = 0, end = -1;
    char c = 0;
    if (!s || sscanf(s, "%d%c%d%n", &num, &c, &den, &end) != 3 || c != sep || s[end] != '\0')
        *ok = false;
    return (tp_rational){num, den};
}

int tp_media_from_json(tp_media_info *m, const cJSON *o, tp_error *err)
{
    bool ok = cJSON_IsObject(o);
    memset(m, 0, sizeof(*m));
    get_str(m->container, sizeof(m->container), o, "container", &ok);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "duration");
    m->duration = cJSON_IsNull(d) ? -1.0 : get_num(o, "duration", &ok);
    get_str(m->duration_source, sizeof(m->duration_source), o, "duration_source", &ok);
    m->start_time = get_num(o, "start_time", &ok);
    m->size = (int64_t)get_num(o, "size", &ok);
    m->bit_rate = (int64_t)get_num(o, "bit_rate", &ok);
    m->faststart = get_bool(o, "faststart", &ok);
    const cJSON *vo = cJSON_GetObjectItemCaseSensitive(o, "video");
    if (cJSON_IsObject(vo)) {
        tp_video_info *v = &m->video;
        v->present = true;
        get_str(v->codec, sizeof(v->codec), vo, "codec", &ok);
        get_str(v->profile, sizeof(v->profile), vo, "profile", &ok);
        v->width = (int)get_num(vo, "width", &ok);
        v->height = (int)get_num(vo, "height", &ok);
        v->display_width = (int)get_num(vo, "display_width", &ok);
        v->display_height = (int)get_num(vo, "display_height", &ok);
        v->rotation = (int)get_num(vo, "rotation", &ok);
        v->sar = get_ratio(vo, "sar", ':', &ok);
        v->fps = get_ratio(vo, "fps_rational", '/', &ok);
        v->vfr = get_bool(vo, "vfr", &ok);
        get_str(v->pix_fmt, sizeof(v->pix_fmt), vo, "pix_fmt", &ok);
        v->bit_depth = (int)get_num(vo, "bit_depth", &ok);
        get_str(v->chroma, sizeof(v->chroma), vo, "chroma", &ok);
        get_str(v->hdr, sizeof(v->hdr), vo, "hdr", &ok);
        v->interlaced = get_bool(vo, "interlaced", &ok);
        v->frames = (int64_t)get_num(vo, "frames", &ok);
        v->stream_index = (int)get_num(vo, "stream_index", &ok);
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(vo, "active_area");
        if (cJSON_IsObject(a)) {
            v->bars_scanned = true;
            v->active_area = (tp_rect){(int)get_num(a, "x", &ok), (int)get_num(a, "y", &ok),
                                       (int)get_num(a, "width", &ok),
                                       (int)get_num(a, "height", &ok)};
        }
    } else if (!cJSON_IsNull(vo)) {
        ok = false;
    }
    const cJSON *ao = cJSON_GetObjectItemCaseSensitive(o, "audio");
    if (cJSON_IsObject(ao)) {
        tp_audio_info *a = &m->audio;
        a->present = true;
        get_str(a->codec, sizeof(a->codec), ao, "codec", &ok);
        a->channels = (int)get_num(ao, "channels", &ok);
        get_str(a->layout, sizeof(a->layout), ao, "layout", &ok);
        a->sample_rate = (int)get_num(ao, "sample_rate", &ok);
        a->stream_index = (int)get_num(ao, "stream_index", &ok);
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(ao, "loudness");
        if (cJSON_IsObject(l))
            a->loudness = (tp_loudness){true, get_num(l, "integrated", &ok),
                                        get_num(l, "range", &ok), get_num(l, "true_peak", &ok)};
    } else if (!cJSON_IsNull(ao)) {
        ok = false;
    }
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "streams");
    m->n_video = (int)get_num(st, "video", &ok);
    m->n_audio = (int)get_num(st, "audio", &ok);
    m->n_subtitle = (int)get_num(st, "subtitle", &ok);
    m->n_data = (int)get_num(st, "data", &ok);
    m->n_attachments = (int)get_num(st, "attachments", &ok);
    const cJSON *de = cJSON_GetObjectItemCaseSensitive(o, "decode_errors");
    if (!cJSON_IsNull(de)) {
        m->deep = true;
        m->decode_errors = (int)get_num(o, "decode_errors", &ok);
    }
    if (!ok)
        return tp_error_set(err, TP_EINVAL, 0, "the recorded media info is damaged");
    return 0;
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
            !put_str(o, "message", v->message) ||
            !put_str(o, "hint", tp_violation_hint(v->code)))
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
