/* `status` and `retry` over a ledger: counts by stage and status, failures with reasons. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/jobrec.h"
#include "pipeline/ledger.h"
#include "util/tp_util.h"

typedef struct {
    char *name;
    size_t n;
} named_count;

typedef struct {
    tp_ledger_item *v;
    size_t n, cap;
} item_list;

struct tp_ledger_status {
    char *state_path;
    size_t total;
    /* In the order first met, as the JSON has always listed them. */
    named_count *by_status, *by_stage;
    size_t n_by_status, n_by_stage;
    item_list failed, rejected, refused;
    char **refused_status; /* refused.v[i]'s job status (static names), same order */
    bool oom;
};

/* Count one more `name` (a static string: tp_job_status_name / tp_stage_name). */
static void bump(tp_ledger_status *st, named_count **v, size_t *n, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*v)[i].name, name)) {
            (*v)[i].n++;
            return;
        }
    named_count *nv = realloc(*v, (*n + 1) * sizeof(**v));
    char *copy = tp_strdup(name);
    if (!nv || !copy) {
        free(copy);
        if (nv)
            *v = nv;
        st->oom = true;
        return;
    }
    *v = nv;
    nv[(*n)++] = (named_count){copy, 1};
}

static void item_free(tp_ledger_item *it)
{
    free((char *)it->path);
    free((char *)it->stage);
    free((char *)it->error);
    free((char *)it->reason);
    free((char *)it->fingerprint);
    free((char *)it->posts);
}

static void add_item(tp_ledger_status *st, item_list *l, const tp_ledger_row *row)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        tp_ledger_item *nv = realloc(l->v, cap * sizeof(*nv));
        if (!nv) {
            st->oom = true;
            return;
        }
        l->v = nv;
        l->cap = cap;
    }
    tp_ledger_item it = {
        .path = tp_strdup(row->source_path),
        .stage = tp_strdup(tp_stage_name(row->stage)),
        .error = tp_strdup(row->error_code ? row->error_code : ""),
        .reason = tp_strdup(row->error ? row->error : ""),
        .attempts = row->attempts > 0 ? (size_t)row->attempts : 0,
        .fingerprint = tp_strdup(row->fingerprint),
        .posts = tp_strdup(row->posts ? row->posts : ""),
    };
    if ((row->source_path && !it.path) || !it.stage || !it.error || !it.reason || !it.fingerprint ||
        !it.posts) {
        item_free(&it);
        st->oom = true;
        return;
    }
    l->v[l->n++] = it;
}

static int collect(const tp_ledger_row *row, void *payload)
{
    tp_ledger_status *st = payload;
    st->total++;
    bump(st, &st->by_status, &st->n_by_status, tp_job_status_name(row->status));
    if (row->status == TP_JOB_QUEUED || row->status == TP_JOB_RUNNING)
        bump(st, &st->by_stage, &st->n_by_stage, tp_stage_name(row->stage));
    if (row->status == TP_JOB_FAILED)
        add_item(st, &st->failed, row);
    else if (row->status == TP_JOB_REJECTED)
        add_item(st, &st->rejected, row);
    tp_job_posts posts = {0};
    tp_error err = TP_ERROR_INIT;
    if (row->posts && tp_jobrec_posts_from_json(&posts, row->posts, &err) == 0 &&
        posts.n_failed > 0) {
        char **v = realloc(st->refused_status, (st->refused.n + 1) * sizeof(*v));
        if (!v) {
            st->oom = true;
        } else {
            st->refused_status = v;
            v[st->refused.n] = (char *)tp_job_status_name(row->status);
            add_item(st, &st->refused, row);
        }
    }
    tp_error_clear(&err);
    tp_job_posts_clear(&posts);
    return st->oom ? 1 : 0;
}

int tp_pipeline_status(tp_ledger_status **out, const char *state_path, tp_error *err)
{
    if (!out || !state_path)
        return tp_error_set(err, TP_EINVAL, 0, "tp_pipeline_status: missing argument");
    *out = NULL;
    tp_ledger *l = NULL;
    int rc = tp_ledger_open(&l, state_path, false, err);
    if (rc < 0)
        return rc;
    tp_ledger_status *st = calloc(1, sizeof(*st));
    if (!st || !(st->state_path = tp_strdup(state_path))) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    rc = tp_ledger_foreach(l, -1, collect, st, err);
    if (rc == 0 && st->oom)
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    if (rc == 0) {
        *out = st;
        st = NULL;
    }
out:
    tp_ledger_status_free(st);
    tp_ledger_close(l);
    return rc;
}

void tp_ledger_status_free(tp_ledger_status *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->n_by_status; i++)
        free(st->by_status[i].name);
    for (size_t i = 0; i < st->n_by_stage; i++)
        free(st->by_stage[i].name);
    free(st->by_status);
    free(st->by_stage);
    for (size_t i = 0; i < st->failed.n; i++)
        item_free(&st->failed.v[i]);
    for (size_t i = 0; i < st->rejected.n; i++)
        item_free(&st->rejected.v[i]);
    for (size_t i = 0; i < st->refused.n; i++)
        item_free(&st->refused.v[i]);
    free(st->failed.v);
    free(st->rejected.v);
    free(st->refused.v);
    free(st->refused_status);
    free(st->state_path);
    free(st);
}

const char *tp_ledger_status_state_path(const tp_ledger_status *st)
{
    return st ? st->state_path : NULL;
}

size_t tp_ledger_status_total(const tp_ledger_status *st)
{
    return st ? st->total : 0;
}

static int named_at(const named_count *v, size_t n, size_t i, const char **name, size_t *count)
{
    if (i >= n)
        return TP_EINVAL;
    if (name)
        *name = v[i].name;
    if (count)
        *count = v[i].n;
    return 0;
}

size_t tp_ledger_status_status_count(const tp_ledger_status *st)
{
    return st ? st->n_by_status : 0;
}

int tp_ledger_status_status(const tp_ledger_status *st, size_t i, const char **name, size_t *n)
{
    return st ? named_at(st->by_status, st->n_by_status, i, name, n) : TP_EINVAL;
}

size_t tp_ledger_status_stage_count(const tp_ledger_status *st)
{
    return st ? st->n_by_stage : 0;
}

int tp_ledger_status_stage(const tp_ledger_status *st, size_t i, const char **name, size_t *n)
{
    return st ? named_at(st->by_stage, st->n_by_stage, i, name, n) : TP_EINVAL;
}

size_t tp_ledger_status_failed_count(const tp_ledger_status *st)
{
    return st ? st->failed.n : 0;
}

const tp_ledger_item *tp_ledger_status_failed(const tp_ledger_status *st, size_t i)
{
    return st && i < st->failed.n ? &st->failed.v[i] : NULL;
}

size_t tp_ledger_status_rejected_count(const tp_ledger_status *st)
{
    return st ? st->rejected.n : 0;
}

const tp_ledger_item *tp_ledger_status_rejected(const tp_ledger_status *st, size_t i)
{
    return st && i < st->rejected.n ? &st->rejected.v[i] : NULL;
}

size_t tp_ledger_status_refused_count(const tp_ledger_status *st)
{
    return st ? st->refused.n : 0;
}

const tp_ledger_item *tp_ledger_status_refused(const tp_ledger_status *st, size_t i)
{
    return st && i < st->refused.n ? &st->refused.v[i] : NULL;
}

static void counts_json(cJSON *obj, const named_count *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cJSON_AddNumberToObject(obj, v[i].name, (double)v[i].n);
}

static void items_json(cJSON *arr, const item_list *l, char *const *status)
{
    for (size_t i = 0; i < l->n; i++) {
        const tp_ledger_item *it = &l->v[i];
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "path", it->path);
        cJSON_AddStringToObject(f, "stage", it->stage);
        cJSON_AddStringToObject(f, "error", it->error);
        cJSON_AddStringToObject(f, "reason", it->reason);
        cJSON_AddNumberToObject(f, "attempts", (double)it->attempts);
        cJSON_AddStringToObject(f, "fingerprint", it->fingerprint);
        if (status)
            cJSON_AddStringToObject(f, "status", status[i]);
        /* Our own serializer's text (pipeline/jobrec.c), shown as it is. */
        cJSON *posts = it->posts[0] ? cJSON_Parse(it->posts) : NULL;
        if (posts)
            cJSON_AddItemToObject(f, "posts", posts);
        cJSON_AddItemToArray(arr, f);
    }
}

char *tp_ledger_status_to_json(const tp_ledger_status *st)
{
    if (!st)
        return NULL;
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    cJSON_AddStringToObject(root, "state", st->state_path);
    cJSON_AddNumberToObject(root, "total", (double)st->total);
    counts_json(cJSON_AddObjectToObject(root, "by_status"), st->by_status, st->n_by_status);
    counts_json(cJSON_AddObjectToObject(root, "pending_by_stage"), st->by_stage, st->n_by_stage);
    items_json(cJSON_AddArrayToObject(root, "failed"), &st->failed, NULL);
    items_json(cJSON_AddArrayToObject(root, "rejected"), &st->rejected, NULL);
    items_json(cJSON_AddArrayToObject(root, "refused"), &st->refused, st->refused_status);
    char *json = cJSON_Print(root);
    cJSON_Delete(root);
    return json;
}

int tp_pipeline_retry(size_t *n_requeued, const char *state_path, tp_error *err)
{
    if (!n_requeued || !state_path)
        return tp_error_set(err, TP_EINVAL, 0, "tp_pipeline_retry: missing argument");
    *n_requeued = 0;
    tp_ledger *l = NULL;
    if (access(state_path, F_OK) != 0)
        return tp_error_set(err, TP_EIO, errno, "%s: no ledger here (has `tokprep run` used it?)",
                            state_path);
    int rc = tp_ledger_open(&l, state_path, true, err);
    int n = 0;
    if (rc == 0 && (rc = tp_ledger_retry_failed(l, &n, err)) == 0)
        *n_requeued = (size_t)n;
    tp_ledger_close(l);
    return rc;
}
