/* The job record's one serializer (pipeline/jobrec.h): typed outputs, media info and posts to
 * and from the text the ledger row stores. */
#include "pipeline/jobrec.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/tp_util.h"

static void output_clear(tp_job_output *out)
{
    free(out->path);
    free(out->chunk_sha256);
    free(out->delivered);
    tp_chunk_plan_clear(&out->plan);
    memset(out, 0, sizeof(*out));
}

void tp_job_outputs_clear(tp_job_outputs *o)
{
    for (int i = 0; i < o->n; i++)
        output_clear(&o->v[i]);
    free(o->v);
    o->v = NULL;
    o->n = 0;
}

int tp_job_outputs_set(tp_job_outputs *o, const char *const *paths, const tp_media_info *media,
                       int n)
{
    tp_job_outputs_clear(o);
    if (n <= 0)
        return 0;
    if (!(o->v = calloc((size_t)n, sizeof(*o->v))))
        return TP_ENOMEM;
    o->n = n;
    for (int i = 0; i < n; i++) {
        if (!(o->v[i].path = tp_strdup(paths[i]))) {
            tp_job_outputs_clear(o);
            return TP_ENOMEM;
        }
        if (media) {
            o->v[i].media = media[i];
            o->v[i].have_media = true;
        }
    }
    return 0;
}

int tp_job_outputs_chunks(const tp_job_outputs *o, int64_t *bytes)
{
    int chunks = 0;
    *bytes = 0;
    for (int i = 0; i < o->n; i++) {
        chunks += o->v[i].plan.count;
        *bytes += o->v[i].size;
    }
    return chunks;
}

const char **tp_job_output_sha_list(const tp_job_output *out)
{
    if (!out->chunked || out->plan.count <= 0)
        return NULL;
    const char **sha = calloc((size_t)out->plan.count, sizeof(*sha));
    for (int c = 0; sha && c < out->plan.count; c++)
        sha[c] = out->chunk_sha256[c];
    return sha;
}

void tp_job_posts_clear(tp_job_posts *p)
{
    for (int i = 0; i < p->n; i++) {
        free(p->v[i].publish_id);
        free(p->v[i].status);
    }
    free(p->v);
    p->v = NULL;
    p->n = 0;
    for (int i = 0; i < p->n_failed; i++) {
        free(p->failed[i].publish_id);
        free(p->failed[i].fail_reason);
    }
    free(p->failed);
    p->failed = NULL;
    p->n_failed = 0;
}

int tp_job_posts_add_failed(tp_job_posts *p, int part, const char *publish_id,
                            const char *fail_reason, bool refit)
{
    tp_job_failed_post *v = realloc(p->failed, (size_t)(p->n_failed + 1) * sizeof(*v));
    if (!v)
        return TP_ENOMEM;
    p->failed = v;
    tp_job_failed_post *e = &v[p->n_failed];
    e->part = part;
    e->refit = refit;
    e->publish_id = tp_strdup(publish_id ? publish_id : "");
    e->fail_reason = tp_strdup(fail_reason ? fail_reason : "");
    if (!e->publish_id || !e->fail_reason) {
        free(e->publish_id);
        free(e->fail_reason);
        return TP_ENOMEM;
    }
    p->n_failed++;
    return 0;
}

const tp_job_failed_post *tp_job_posts_failed_of(const tp_job_posts *p, int part, bool refit)
{
    for (int i = 0; i < p->n_failed; i++)
        if (p->failed[i].part == part && p->failed[i].refit == refit)
            return &p->failed[i];
    return NULL;
}

int tp_job_posts_add(tp_job_posts *p, const char *publish_id, const char *status,
                     bool still_processing, long long post_id)
{
    tp_job_post *v = realloc(p->v, (size_t)(p->n + 1) * sizeof(*v));
    if (!v)
        return TP_ENOMEM;
    p->v = v;
    tp_job_post *e = &v[p->n];
    e->publish_id = tp_strdup(publish_id ? publish_id : "");
    e->status = tp_strdup(status ? status : "");
    e->still_processing = still_processing;
    e->post_id = post_id;
    e->refit = false;
    if (!e->publish_id || !e->status) {
        free(e->publish_id);
        free(e->status);
        return TP_ENOMEM;
    }
    p->n++;
    return 0;
}

static char *print_delete(cJSON *j)
{
    char *s = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    return s;
}

static int bad(tp_error *err, const char *what)
{
    return tp_error_set(err, TP_EINVAL, 0, "the ledger's %s record is damaged", what);
}

/* ---- media info -------------------------------------------------------------------------- */

static void add_rational(cJSON *o, const char *key, tp_rational r)
{
    cJSON *a = cJSON_AddArrayToObject(o, key);
    cJSON_AddItemToArray(a, cJSON_CreateNumber(r.num));
    cJSON_AddItemToArray(a, cJSON_CreateNumber(r.den));
}

static cJSON *media_json(const tp_media_info *m)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "container", m->container);
    cJSON_AddStringToObject(o, "demuxer", m->demuxer);
    cJSON_AddNumberToObject(o, "size", (double)m->size);
    cJSON_AddNumberToObject(o, "duration", m->duration);
    cJSON_AddStringToObject(o, "duration_source", m->duration_source);
    cJSON_AddNumberToObject(o, "start_time", m->start_time);
    cJSON_AddNumberToObject(o, "bit_rate", (double)m->bit_rate);
    cJSON_AddBoolToObject(o, "faststart", m->faststart);
    int counts[] = {m->n_video, m->n_audio, m->n_subtitle, m->n_data, m->n_attachments};
    cJSON_AddItemToObject(o, "streams", cJSON_CreateIntArray(counts, 5));
    cJSON_AddNumberToObject(o, "decode_errors", m->decode_errors);
    cJSON_AddBoolToObject(o, "deep", m->deep);
    const tp_video_info *v = &m->video;
    cJSON *vo = cJSON_AddObjectToObject(o, "video");
    cJSON_AddBoolToObject(vo, "present", v->present);
    cJSON_AddStringToObject(vo, "codec", v->codec);
    cJSON_AddStringToObject(vo, "profile", v->profile);
    cJSON_AddNumberToObject(vo, "stream_index", v->stream_index);
    cJSON_AddNumberToObject(vo, "width", v->width);
    cJSON_AddNumberToObject(vo, "height", v->height);
    add_rational(vo, "sar", v->sar);
    cJSON_AddNumberToObject(vo, "display_width", v->display_width);
    cJSON_AddNumberToObject(vo, "display_height", v->display_height);
    cJSON_AddNumberToObject(vo, "rotation", v->rotation);
    add_rational(vo, "fps", v->fps);
    cJSON_AddBoolToObject(vo, "vfr", v->vfr);
    cJSON_AddStringToObject(vo, "pix_fmt", v->pix_fmt);
    cJSON_AddNumberToObject(vo, "bit_depth", v->bit_depth);
    cJSON_AddStringToObject(vo, "chroma", v->chroma);
    cJSON_AddStringToObject(vo, "hdr", v->hdr);
    cJSON_AddBoolToObject(vo, "interlaced", v->interlaced);
    cJSON_AddNumberToObject(vo, "frames", (double)v->frames);
    cJSON_AddBoolToObject(vo, "bars_scanned", v->bars_scanned);
    int area[] = {v->active_area.x, v->active_area.y, v->active_area.width, v->active_area.height};
    cJSON_AddItemToObject(vo, "active_area", cJSON_CreateIntArray(area, 4));
    const tp_audio_info *a = &m->audio;
    cJSON *ao = cJSON_AddObjectToObject(o, "audio");
    cJSON_AddBoolToObject(ao, "present", a->present);
    cJSON_AddStringToObject(ao, "codec", a->codec);
    cJSON_AddNumberToObject(ao, "stream_index", a->stream_index);
    cJSON_AddNumberToObject(ao, "channels", a->channels);
    cJSON_AddStringToObject(ao, "layout", a->layout);
    cJSON_AddNumberToObject(ao, "sample_rate", a->sample_rate);
    if (a->loudness.measured) { /* optional: rows written before it have none */
        double l[] = {a->loudness.integrated, a->loudness.range, a->loudness.true_peak};
        cJSON_AddItemToObject(ao, "loudness", cJSON_CreateDoubleArray(l, 3));
    }
    return o;
}

/* Readers: a missing or mistyped key sets *ok false. */
static double num(const cJSON *o, const char *key, bool *ok)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(j)) {
        *ok = false;
        return 0;
    }
    return j->valuedouble;
}

static bool boolean(const cJSON *o, const char *key, bool *ok)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsBool(j))
        *ok = false;
    return cJSON_IsTrue(j);
}

static void str(char *dst, size_t cap, const cJSON *o, const char *key, bool *ok)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
    if (!s || strlen(s) >= cap)
        *ok = false;
    tp_strlcpy(dst, s ? s : "", cap);
}

static void ints(int *dst, int n, const cJSON *o, const char *key, bool *ok)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n) {
        *ok = false;
        return;
    }
    for (int i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(a, i);
        if (!cJSON_IsNumber(e))
            *ok = false;
        dst[i] = e ? e->valueint : 0;
    }
}

static bool media_parse(tp_media_info *m, const cJSON *o)
{
    bool ok = cJSON_IsObject(o);
    memset(m, 0, sizeof(*m));
    str(m->container, sizeof(m->container), o, "container", &ok);
    str(m->demuxer, sizeof(m->demuxer), o, "demuxer", &ok);
    m->size = (int64_t)num(o, "size", &ok);
    m->duration = num(o, "duration", &ok);
    str(m->duration_source, sizeof(m->duration_source), o, "duration_source", &ok);
    m->start_time = num(o, "start_time", &ok);
    m->bit_rate = (int64_t)num(o, "bit_rate", &ok);
    m->faststart = boolean(o, "faststart", &ok);
    int counts[5] = {0};
    ints(counts, 5, o, "streams", &ok);
    m->n_video = counts[0];
    m->n_audio = counts[1];
    m->n_subtitle = counts[2];
    m->n_data = counts[3];
    m->n_attachments = counts[4];
    m->decode_errors = (int)num(o, "decode_errors", &ok);
    m->deep = boolean(o, "deep", &ok);
    const cJSON *vo = cJSON_GetObjectItemCaseSensitive(o, "video");
    tp_video_info *v = &m->video;
    ok = ok && cJSON_IsObject(vo);
    v->present = boolean(vo, "present", &ok);
    str(v->codec, sizeof(v->codec), vo, "codec", &ok);
    str(v->profile, sizeof(v->profile), vo, "profile", &ok);
    v->stream_index = (int)num(vo, "stream_index", &ok);
    v->width = (int)num(vo, "width", &ok);
    v->height = (int)num(vo, "height", &ok);
    int r[2] = {0};
    ints(r, 2, vo, "sar", &ok);
    v->sar = (tp_rational){r[0], r[1]};
    v->display_width = (int)num(vo, "display_width", &ok);
    v->display_height = (int)num(vo, "display_height", &ok);
    v->rotation = (int)num(vo, "rotation", &ok);
    ints(r, 2, vo, "fps", &ok);
    v->fps = (tp_rational){r[0], r[1]};
    v->vfr = boolean(vo, "vfr", &ok);
    str(v->pix_fmt, sizeof(v->pix_fmt), vo, "pix_fmt", &ok);
    v->bit_depth = (int)num(vo, "bit_depth", &ok);
    str(v->chroma, sizeof(v->chroma), vo, "chroma", &ok);
    str(v->hdr, sizeof(v->hdr), vo, "hdr", &ok);
    v->interlaced = boolean(vo, "interlaced", &ok);
    v->frames = (int64_t)num(vo, "frames", &ok);
    v->bars_scanned = boolean(vo, "bars_scanned", &ok);
    int area[4] = {0};
    ints(area, 4, vo, "active_area", &ok);
    v->active_area = (tp_rect){area[0], area[1], area[2], area[3]};
    const cJSON *ao = cJSON_GetObjectItemCaseSensitive(o, "audio");
    tp_audio_info *a = &m->audio;
    ok = ok && cJSON_IsObject(ao);
    a->present = boolean(ao, "present", &ok);
    str(a->codec, sizeof(a->codec), ao, "codec", &ok);
    a->stream_index = (int)num(ao, "stream_index", &ok);
    a->channels = (int)num(ao, "channels", &ok);
    str(a->layout, sizeof(a->layout), ao, "layout", &ok);
    a->sample_rate = (int)num(ao, "sample_rate", &ok);
    const cJSON *lo = ok ? cJSON_GetObjectItemCaseSensitive(ao, "loudness") : NULL;
    if (cJSON_IsArray(lo) && cJSON_GetArraySize(lo) == 3) {
        double l[3];
        bool nums = true;
        for (int i = 0; i < 3; i++) {
            const cJSON *it = cJSON_GetArrayItem(lo, i);
            nums = nums && cJSON_IsNumber(it);
            l[i] = nums ? it->valuedouble : 0.0;
        }
        if (nums)
            a->loudness = (tp_loudness){true, l[0], l[1], l[2]};
    }
    return ok;
}

char *tp_jobrec_media_to_json(const tp_media_info *m)
{
    return print_delete(media_json(m));
}

/* What the coordinator does with a probed file (pipeline/run.c, after_probe): a fix is fitted by
 * the rules' action; a pass goes as is unless a cover image must become its first frames. */
static const char *probe_action(const tp_check_result *c, const tp_media_info *m)
{
    if (c->verdict == TP_VERDICT_FIX)
        return tp_action_name(c->action);
    if (c->verdict == TP_VERDICT_PASS && m->video.present &&
        (m->cover.source == TP_COVER_SIDECAR || m->cover.source == TP_COVER_PROFILE))
        return tp_action_name(TP_ACTION_TRANSCODE);
    return tp_action_name(TP_ACTION_NONE);
}

char *tp_jobrec_probe_to_json(const tp_media_info *m, const tp_check_result *check)
{
    cJSON *o = media_json(m);
    if (o && check)
        cJSON_AddStringToObject(o, "action", probe_action(check, m));
    return print_delete(o);
}

const char *tp_jobrec_media_action(const char *json)
{
    static const tp_action actions[] = {TP_ACTION_NONE, TP_ACTION_REMUX, TP_ACTION_TRANSCODE};
    cJSON *o = json ? cJSON_Parse(json) : NULL;
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "action"));
    const char *found = NULL;
    for (size_t i = 0; s && !found && i < TP_ARRAY_LEN(actions); i++)
        if (!strcmp(s, tp_action_name(actions[i])))
            found = tp_action_name(actions[i]);
    cJSON_Delete(o);
    return found;
}

int tp_jobrec_media_from_json(tp_media_info *m, const char *json, tp_error *err)
{
    cJSON *o = json ? cJSON_Parse(json) : NULL;
    bool ok = media_parse(m, o);
    cJSON_Delete(o);
    return ok ? 0 : bad(err, "media");
}

/* ---- outputs ----------------------------------------------------------------------------- */

struct cJSON *tp_jobrec_chunks_json(const tp_job_output *out)
{
    const tp_chunk_plan *plan = &out->plan;
    cJSON *chunks = cJSON_CreateArray();
    for (int c = 0; chunks && c < plan->count; c++) {
        cJSON *co = cJSON_CreateObject();
        int64_t off = plan->chunks[c].offset, len = plan->chunks[c].length;
        char range[96];
        snprintf(range, sizeof(range), "bytes %lld-%lld/%lld", (long long)off,
                 (long long)(off + len - 1), (long long)plan->total);
        cJSON_AddNumberToObject(co, "index", c);
        cJSON_AddNumberToObject(co, "offset", (double)off);
        cJSON_AddNumberToObject(co, "length", (double)len);
        cJSON_AddStringToObject(co, "content_range", range);
        cJSON_AddStringToObject(co, "sha256", out->chunk_sha256[c]);
        cJSON_AddItemToArray(chunks, co);
    }
    return chunks;
}

char *tp_jobrec_outputs_to_json(const tp_job_outputs *o)
{
    if (o->n <= 0)
        return NULL;
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; arr && i < o->n; i++) {
        const tp_job_output *out = &o->v[i];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, j);
        cJSON_AddStringToObject(j, "path", out->path);
        if (out->chunked) {
            const tp_chunk_plan *plan = &out->plan;
            cJSON_AddNumberToObject(j, "size", (double)out->size);
            cJSON_AddStringToObject(j, "sha256", out->sha256);
            cJSON_AddNumberToObject(j, "chunk_size", (double)plan->chunk_size);
            cJSON_AddNumberToObject(j, "chunk_count", plan->count);
            cJSON_AddItemToObject(j, "chunks", tp_jobrec_chunks_json(out));
        }
        if (out->delivered)
            cJSON_AddStringToObject(j, "delivered", out->delivered);
        if (out->have_media)
            cJSON_AddItemToObject(j, "media", media_json(&out->media));
    }
    return print_delete(arr);
}

static bool is_hex64(const char *s)
{
    if (!s || strlen(s) != 64)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

/* An output's chunk record, held to what the chunk stage writes: chunks contiguous from 0,
 * each with a SHA-256, covering exactly `size`. */
static bool chunks_parse(tp_job_output *out, const cJSON *j)
{
    bool ok = true;
    out->size = (int64_t)num(j, "size", &ok);
    str(out->sha256, sizeof(out->sha256), j, "sha256", &ok);
    out->plan.chunk_size = (int64_t)num(j, "chunk_size", &ok);
    int count = (int)num(j, "chunk_count", &ok);
    const cJSON *chunks = cJSON_GetObjectItemCaseSensitive(j, "chunks");
    if (!ok || !cJSON_IsArray(chunks) || count <= 0 || cJSON_GetArraySize(chunks) != count ||
        out->size <= 0)
        return false;
    out->plan.total = out->size;
    out->plan.chunks = calloc((size_t)count, sizeof(*out->plan.chunks));
    out->chunk_sha256 = calloc((size_t)count, sizeof(*out->chunk_sha256));
    if (!out->plan.chunks || !out->chunk_sha256)
        return false;
    out->plan.count = count;
    int64_t pos = 0;
    for (int c = 0; c < count; c++) {
        const cJSON *co = cJSON_GetArrayItem(chunks, c);
        int64_t off = (int64_t)num(co, "offset", &ok), len = (int64_t)num(co, "length", &ok);
        const char *sha = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(co, "sha256"));
        if (!ok || off != pos || len <= 0 || !is_hex64(sha))
            return false;
        out->plan.chunks[c] = (tp_chunk){off, len};
        memcpy(out->chunk_sha256[c], sha, 65);
        pos += len;
    }
    out->chunked = true;
    return pos == out->size;
}

int tp_jobrec_outputs_from_json(tp_job_outputs *o, const char *json, tp_error *err)
{
    tp_job_outputs_clear(o);
    cJSON *arr = json ? cJSON_Parse(json) : NULL;
    int n = cJSON_GetArraySize(arr);
    bool ok = cJSON_IsArray(arr) && n > 0 && (o->v = calloc((size_t)n, sizeof(*o->v)));
    if (ok)
        o->n = n;
    for (int i = 0; ok && i < n; i++) {
        const cJSON *j = cJSON_GetArrayItem(arr, i);
        tp_job_output *out = &o->v[i];
        const char *path = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "path"));
        const char *delivered =
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "delivered"));
        const cJSON *media = cJSON_GetObjectItemCaseSensitive(j, "media");
        ok = path && (out->path = tp_strdup(path));
        if (ok && delivered)
            ok = (out->delivered = tp_strdup(delivered)) != NULL;
        if (ok && cJSON_GetObjectItemCaseSensitive(j, "chunks"))
            ok = chunks_parse(out, j);
        if (ok && media)
            ok = out->have_media = media_parse(&out->media, media);
    }
    cJSON_Delete(arr);
    if (!ok) {
        tp_job_outputs_clear(o);
        return bad(err, "outputs");
    }
    return 0;
}

/* ---- posts ------------------------------------------------------------------------------- */

char *tp_jobrec_posts_to_json(const tp_job_posts *p)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; arr && i < p->n; i++) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "publish_id", p->v[i].publish_id);
        cJSON_AddStringToObject(j, "status", p->v[i].status);
        cJSON_AddBoolToObject(j, "still_processing", p->v[i].still_processing);
        if (p->v[i].post_id)
            cJSON_AddNumberToObject(j, "post_id", (double)p->v[i].post_id);
        if (p->v[i].refit)
            cJSON_AddBoolToObject(j, "refit", true);
        cJSON_AddItemToArray(arr, j);
    }
    /* Failed attempts after the posts: "failed": true keeps them out of the part count. */
    for (int i = 0; arr && i < p->n_failed; i++) {
        const tp_job_failed_post *f = &p->failed[i];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "publish_id", f->publish_id);
        cJSON_AddStringToObject(j, "status", "FAILED");
        cJSON_AddBoolToObject(j, "failed", true);
        cJSON_AddNumberToObject(j, "part", f->part);
        cJSON_AddStringToObject(j, "fail_reason", f->fail_reason);
        cJSON_AddStringToObject(j, "rule", tp_tiktok_fail_rule(f->fail_reason));
        cJSON_AddBoolToObject(j, "refit", f->refit);
        cJSON_AddItemToArray(arr, j);
    }
    return print_delete(arr);
}

int tp_jobrec_posts_from_json(tp_job_posts *p, const char *json, tp_error *err)
{
    tp_job_posts_clear(p);
    if (!json || !*json)
        return 0;
    cJSON *arr = cJSON_Parse(json);
    bool ok = cJSON_IsArray(arr);
    const cJSON *j;
    cJSON_ArrayForEach(j, arr)
    {
        if (!ok)
            break;
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "publish_id"));
        const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "status"));
        const cJSON *pid = cJSON_GetObjectItemCaseSensitive(j, "post_id");
        const cJSON *part = cJSON_GetObjectItemCaseSensitive(j, "part");
        bool refit = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "refit"));
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "failed"))) {
            const char *why =
                cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "fail_reason"));
            ok = id && cJSON_IsNumber(part) &&
                 tp_job_posts_add_failed(p, (int)part->valuedouble, id, why, refit) == 0;
            continue;
        }
        ok = id &&
             tp_job_posts_add(p, id, st,
                              cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "still_processing")),
                              cJSON_IsNumber(pid) ? (long long)pid->valuedouble : 0) == 0;
        if (ok)
            p->v[p->n - 1].refit = refit;
    }
    cJSON_Delete(arr);
    if (!ok) {
        tp_job_posts_clear(p);
        return bad(err, "posts");
    }
    return 0;
}
