/* Every file of a ledger as the console and /api/files show it (read-only, beside a running
 * pipeline), the check of a file's recorded media, and where the events log lives. */
#include "tokprep.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/jobrec.h"
#include "pipeline/ledger.h"
#include "probe/check.h"
#include "probe/report.h"
#include "util/tp_util.h"

struct tp_ledger_files {
    char *state_path;
    tp_ledger_file *v;
    size_t n, cap;
    bool oom;
};

int tp_ledger_files_options_init(tp_ledger_files_options *opts, unsigned version)
{
    if (!opts || version != TP_LEDGER_FILES_OPTIONS_VERSION)
        return TP_EINVAL;
    *opts = (tp_ledger_files_options)TP_LEDGER_FILES_OPTIONS_INIT;
    return 0;
}

/* The string fields of a tp_ledger_file, each owned (malloc'd) by the list. */
#define FILE_STRINGS(X)                                                                            \
    X(path)                                                                                        \
    X(status) X(stage) X(verdict) X(action) X(sink) X(profile) X(fingerprint) X(error) X(reason)   \
        X(media) X(outputs) X(posts) X(review)

static void file_clear(tp_ledger_file *f)
{
#define FREE_ONE(name) free((char *)f->name);
    FILE_STRINGS(FREE_ONE)
#undef FREE_ONE
    memset(f, 0, sizeof(*f));
}

static char *print_delete(cJSON *j)
{
    char *s = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    return s;
}

/* Rows written before the action was recorded with the media: what the outputs show. A pass
 * whose output is the source went as is; a fit that kept the streams' codec, size and rate
 * copied them (remux); anything else was re-encoded. "" while a fix has no outputs yet. */
static const char *derive_action(const tp_ledger_row *row, const tp_job_outputs *outs,
                                 const tp_media_info *src, bool have_src)
{
    if (!row->verdict)
        return "";
    if (strcmp(row->verdict, "pass") && strcmp(row->verdict, "fix"))
        return tp_action_name(TP_ACTION_NONE);
    if (!strcmp(row->verdict, "pass"))
        return outs->n == 0 || !strcmp(outs->v[0].path, row->source_path ? row->source_path : "")
                   ? tp_action_name(TP_ACTION_NONE)
                   : tp_action_name(TP_ACTION_TRANSCODE);
    if (outs->n == 0 || !outs->v[0].have_media || !have_src)
        return "";
    const tp_media_info *o = &outs->v[0].media;
    bool same =
        !strcmp(o->video.codec, src->video.codec) && o->video.width == src->video.width &&
        o->video.height == src->video.height && o->video.fps.num == src->video.fps.num &&
        o->video.fps.den == src->video.fps.den && !strcmp(o->audio.codec, src->audio.codec) &&
        o->audio.sample_rate == src->audio.sample_rate && o->audio.channels == src->audio.channels;
    return tp_action_name(same ? TP_ACTION_REMUX : TP_ACTION_TRANSCODE);
}

/* The outputs as the console shows them: [{path, size, sha256, duration, chunk_size,
 * chunk_count, chunks, delivered, media}], never resume state (upload_url is a credential and
 * is not in this column anyway). */
static cJSON *outputs_json(const tp_job_outputs *outs, int64_t *total)
{
    cJSON *arr = cJSON_CreateArray();
    *total = 0;
    for (int i = 0; arr && i < outs->n; i++) {
        const tp_job_output *out = &outs->v[i];
        cJSON *j = cJSON_CreateObject();
        if (!j || !cJSON_AddItemToArray(arr, j)) {
            cJSON_Delete(j);
            cJSON_Delete(arr);
            return NULL;
        }
        int64_t size = out->chunked ? out->size : out->have_media ? out->media.size : -1;
        if (size > 0)
            *total += size;
        cJSON_AddStringToObject(j, "path", out->path);
        if (size >= 0)
            cJSON_AddNumberToObject(j, "size", (double)size);
        else
            cJSON_AddNullToObject(j, "size");
        if (out->chunked)
            cJSON_AddStringToObject(j, "sha256", out->sha256);
        else
            cJSON_AddNullToObject(j, "sha256");
        if (out->have_media && out->media.duration >= 0)
            cJSON_AddNumberToObject(j, "duration", out->media.duration);
        else
            cJSON_AddNullToObject(j, "duration");
        if (out->chunked) {
            cJSON_AddNumberToObject(j, "chunk_size", (double)out->plan.chunk_size);
            cJSON_AddNumberToObject(j, "chunk_count", out->plan.count);
            cJSON_AddItemToObject(j, "chunks", tp_jobrec_chunks_json(out));
        } else {
            cJSON_AddNullToObject(j, "chunks");
        }
        if (out->delivered)
            cJSON_AddStringToObject(j, "delivered", out->delivered);
        if (out->have_media)
            cJSON_AddItemToObject(j, "media", tp_media_to_json(&out->media));
    }
    return arr;
}

static char *dup_or_empty(const char *s, bool *oom)
{
    char *d = tp_strdup(s ? s : "");
    if (!d)
        *oom = true;
    return d;
}

static int collect(const tp_ledger_row *row, void *payload)
{
    tp_ledger_files *fs = payload;
    if (fs->n == fs->cap) {
        size_t cap = fs->cap ? fs->cap * 2 : 16;
        tp_ledger_file *v = realloc(fs->v, cap * sizeof(*v));
        if (!v) {
            fs->oom = true;
            return 1;
        }
        fs->v = v;
        fs->cap = cap;
    }
    tp_ledger_file *f = &fs->v[fs->n];
    memset(f, 0, sizeof(*f));
    tp_error err = TP_ERROR_INIT;
    tp_media_info src;
    bool have_src = row->media && tp_jobrec_media_from_json(&src, row->media, &err) == 0;
    tp_error_clear(&err);
    tp_job_outputs outs = {0};
    if (row->outputs && tp_jobrec_outputs_from_json(&outs, row->outputs, &err) < 0)
        tp_log(TP_LOG_DEBUG, "ledger row %lld: %s", (long long)row->id, tp_error_message(&err));
    tp_error_clear(&err);
    const char *action = row->media ? tp_jobrec_media_action(row->media) : NULL;
    if (!action)
        action = derive_action(row, &outs, &src, have_src);
    int64_t total = 0;
    char *outputs = outs.n > 0 ? print_delete(outputs_json(&outs, &total)) : NULL;
    char *media = have_src ? print_delete(tp_media_to_json(&src)) : NULL;
    bool oom = (outs.n > 0 && !outputs) || (have_src && !media);
    tp_job_outputs_clear(&outs);

    f->id = row->id;
    f->path = dup_or_empty(row->source_path, &oom);
    f->status = dup_or_empty(tp_job_status_name(row->status), &oom);
    f->stage = dup_or_empty(tp_stage_name(row->stage), &oom);
    f->verdict = dup_or_empty(row->verdict, &oom);
    f->action = dup_or_empty(action, &oom);
    f->sink = dup_or_empty(row->sink, &oom);
    f->profile = dup_or_empty(row->profile_name, &oom);
    f->fingerprint = dup_or_empty(row->fingerprint, &oom);
    f->source_size = row->source_size;
    f->output_size = total;
    f->created = row->created;
    f->updated = row->updated;
    f->finished = row->finished;
    f->error = dup_or_empty(row->error_code, &oom);
    f->reason = dup_or_empty(row->error, &oom);
    f->attempts = row->attempts > 0 ? (size_t)row->attempts : 0;
    f->media = media ? media : dup_or_empty("", &oom);
    f->outputs = outputs ? outputs : dup_or_empty("", &oom);
    f->posts = dup_or_empty(row->posts, &oom);
    f->review = dup_or_empty(row->review, &oom);
    fs->n++;
    if (oom)
        fs->oom = true;
    return oom;
}

/* "all" and NULL: every status; else the ledger's name of one. */
static int status_filter(const char *name, int *status)
{
    *status = -1;
    if (!name || !*name || !strcmp(name, "all"))
        return 0;
    for (int s = TP_JOB_QUEUED; s <= TP_JOB_AWAITING_REVIEW; s++)
        if (!strcmp(name, tp_job_status_name((tp_job_status)s))) {
            *status = s;
            return 0;
        }
    return TP_EINVAL;
}

int tp_ledger_files_read(tp_ledger_files **out, const char *state_path,
                         const tp_ledger_files_options *opts, tp_error *err)
{
    if (!out || !state_path)
        return tp_error_set(err, TP_EINVAL, 0, "tp_ledger_files_read: missing argument");
    *out = NULL;
    if (opts && opts->version != TP_LEDGER_FILES_OPTIONS_VERSION)
        return tp_error_set(err, TP_EINVAL, 0, "tp_ledger_files_read: unknown opts version %u",
                            opts->version);
    int status;
    if (status_filter(opts ? opts->status : NULL, &status) < 0)
        return tp_error_set(err, TP_EINVAL, 0,
                            "unknown status filter (queued, running, done, failed, rejected, "
                            "awaiting_review or all)");
    tp_ledger *l = NULL;
    int rc = tp_ledger_open(&l, state_path, false, err);
    if (rc < 0)
        return rc;
    tp_ledger_files *fs = calloc(1, sizeof(*fs));
    if (!fs || !(fs->state_path = tp_strdup(state_path))) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    if (opts && opts->id > 0) {
        tp_ledger_row row;
        memset(&row, 0, sizeof(row));
        rc = tp_ledger_get(l, &row, opts->id, err);
        if (rc == 1) {
            if (status < 0 || (int)row.status == status)
                collect(&row, fs);
            rc = 0;
        }
        tp_ledger_row_clear(&row);
    } else {
        rc = tp_ledger_foreach(l, status, collect, fs, err);
    }
    if (rc == 0 && fs->oom)
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    if (rc == 0) {
        *out = fs;
        fs = NULL;
    }
out:
    tp_ledger_files_free(fs);
    tp_ledger_close(l);
    return rc;
}

size_t tp_ledger_files_count(const tp_ledger_files *files)
{
    return files ? files->n : 0;
}

const tp_ledger_file *tp_ledger_files_at(const tp_ledger_files *files, size_t i)
{
    return files && i < files->n ? &files->v[i] : NULL;
}

static bool add_time(cJSON *o, const char *key, double t)
{
    char buf[40];
    if (t <= 0)
        return cJSON_AddNullToObject(o, key) != NULL;
    tp_time_format(buf, sizeof(buf), t, TP_TIME_ISO8601);
    return cJSON_AddStringToObject(o, key, buf) != NULL;
}

/* A JSON text from the ledger embedded as JSON: null when none or unreadable. */
static bool add_embedded(cJSON *o, const char *key, const char *text)
{
    cJSON *j = text && *text ? cJSON_Parse(text) : NULL;
    if (!j)
        j = cJSON_CreateNull();
    if (!j || !cJSON_AddItemToObject(o, key, j)) {
        cJSON_Delete(j);
        return false;
    }
    return true;
}

static cJSON *file_json(const tp_ledger_file *f)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    bool ok = cJSON_AddNumberToObject(o, "id", (double)f->id) &&
              cJSON_AddStringToObject(o, "path", f->path) &&
              cJSON_AddStringToObject(o, "status", f->status) &&
              cJSON_AddStringToObject(o, "stage", f->stage) &&
              cJSON_AddStringToObject(o, "verdict", f->verdict) &&
              cJSON_AddStringToObject(o, "action", f->action) &&
              cJSON_AddStringToObject(o, "sink", f->sink) &&
              cJSON_AddStringToObject(o, "profile", f->profile) &&
              cJSON_AddStringToObject(o, "fingerprint", f->fingerprint) &&
              cJSON_AddNumberToObject(o, "source_size", (double)f->source_size) &&
              cJSON_AddNumberToObject(o, "output_size", (double)f->output_size) &&
              add_time(o, "created", f->created) && add_time(o, "updated", f->updated) &&
              add_time(o, "finished", f->finished) &&
              cJSON_AddStringToObject(o, "error", f->error) &&
              cJSON_AddStringToObject(o, "reason", f->reason) &&
              cJSON_AddNumberToObject(o, "attempts", (double)f->attempts) &&
              add_embedded(o, "media", f->media) && add_embedded(o, "outputs", f->outputs) &&
              add_embedded(o, "posts", f->posts) && add_embedded(o, "review", f->review);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* File names are bytes; the JSON must be UTF-8 (as tp_check_json). */
static char *print_utf8(cJSON *o)
{
    char *s = print_delete(o);
    char *u = s ? tp_utf8_sanitize(s) : NULL;
    free(s);
    return u;
}

char *tp_ledger_file_to_json(const tp_ledger_file *file)
{
    return file ? print_utf8(file_json(file)) : NULL;
}

char *tp_ledger_files_to_json(const tp_ledger_files *files)
{
    if (!files)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = o && cJSON_AddStringToObject(o, "state", files->state_path)
                     ? cJSON_AddArrayToObject(o, "files")
                     : NULL;
    bool ok = arr != NULL;
    for (size_t i = 0; ok && i < files->n; i++) {
        cJSON *f = file_json(&files->v[i]);
        ok = f && cJSON_AddItemToArray(arr, f);
        if (!ok)
            cJSON_Delete(f);
    }
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return print_utf8(o);
}

void tp_ledger_files_free(tp_ledger_files *files)
{
    if (!files)
        return;
    for (size_t i = 0; i < files->n; i++)
        file_clear(&files->v[i]);
    free(files->v);
    free(files->state_path);
    free(files);
}

int tp_ledger_file_check(tp_check **out, const tp_profile *profile, const tp_ledger_file *file,
                         tp_error *err)
{
    if (!out)
        return tp_error_set(err, TP_EINVAL, 0, "tp_ledger_file_check: missing argument");
    *out = NULL;
    if (!profile || !file)
        return tp_error_set(err, TP_EINVAL, 0, "tp_ledger_file_check: missing argument");
    if (!file->media || !*file->media)
        return tp_error_set(err, TP_EINVAL, 0,
                            "ledger row %lld: no media recorded (not probed yet, or a ledger "
                            "from before schema 2)",
                            (long long)file->id);
    cJSON *o = cJSON_Parse(file->media);
    tp_media_info m;
    int rc = tp_media_from_json(&m, o, err);
    cJSON_Delete(o);
    if (rc < 0)
        return rc;
    return tp_check_media_new(out, profile, file->path, &m, err);
}

int tp_events_log_path(char *buf, size_t size, const char *state_path)
{
    if (!buf || !state_path)
        return TP_EINVAL;
    int n = snprintf(buf, size, "%s.events", state_path);
    return n < 0 || (size_t)n >= size ? TP_EINVAL : 0;
}
