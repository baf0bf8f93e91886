/* `status --queue`: what a Redis queue holds, read into a tp_rqueue_report (one reader per part
 * of the report), and that report as the JSON of `tokprep status --queue URL --json`. */
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/rqueue.h"
#include "util/tp_util.h"

static double id_ms(const char *id)
{
    return id ? strtod(id, NULL) : 0;
}

/* A count Redis keeps as a string; a negative or unreadable one reads as 0. */
static size_t count_of(const char *v)
{
    long long n = v ? strtoll(v, NULL, 10) : 0;
    return n > 0 ? (size_t)n : 0;
}

static size_t count_int(long long n)
{
    return n > 0 ? (size_t)n : 0;
}

/* The consumer group: the last delivered id (an exclusive XRANGE start for what waits) and how
 * many entries were never delivered (*waiting). */
static int group_info(tp_rqueue *q, char *last_id, size_t n, double *waiting, tp_error *err)
{
    redisReply *rep = NULL;
    int rc =
        tp_redis_cmd(q->r, &rep, err, "reading the consumer group", "XINFO GROUPS %s", q->stream);
    if (rc < 0)
        return rc;
    double lag = -1;
    for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
        const redisReply *g = rep->element[i];
        const char *name = tp_rq_field(g, "name");
        if (!name || strcmp(name, TP_RQ_GROUP))
            continue;
        const char *last = tp_rq_field(g, "last-delivered-id");
        tp_strlcpy(last_id, last ? last : "0-0", n);
        for (size_t k = 0; k + 1 < g->elements; k += 2)
            if (g->element[k]->type == REDIS_REPLY_STRING && !strcmp(g->element[k]->str, "lag") &&
                g->element[k + 1]->type == REDIS_REPLY_INTEGER)
                lag = (double)g->element[k + 1]->integer;
    }
    freeReplyObject(rep);
    if (lag < 0) {
        /* Redis cannot tell the lag (entries were deleted): count what follows the last
         * delivered entry. */
        rc = tp_redis_cmd(q->r, &rep, err, "counting waiting jobs", "XRANGE %s (%s + COUNT 100000",
                          q->stream, last_id);
        if (rc < 0)
            return rc;
        lag = rep->type == REDIS_REPLY_ARRAY ? (double)rep->elements : 0;
        freeReplyObject(rep);
    }
    *waiting = lag;
    return 0;
}

int tp_rqueue_counts(tp_rqueue *q, long long *waiting, long long *pending, tp_error *err)
{
    char last_id[64] = "0-0";
    double lag = 0;
    int rc = group_info(q, last_id, sizeof(last_id), &lag, err);
    if (rc < 0)
        return rc;
    *waiting = (long long)lag;
    redisReply *rep = NULL;
    if ((rc = tp_redis_cmd(q->r, &rep, err, "reading pending jobs (XPENDING)",
                           "XPENDING %s " TP_RQ_GROUP, q->stream)) < 0)
        return rc;
    *pending = rep->type == REDIS_REPLY_ARRAY && rep->elements > 0 ? rep->element[0]->integer : 0;
    freeReplyObject(rep);
    return 0;
}

/* ---- reading the report ------------------------------------------------------------------ */

/* The report and what it owns; the public struct comes first so the caller's pointer is ours. */
typedef struct {
    tp_rqueue_report pub;
    bool oom;
} report;

static char *dup_or_oom(report *r, const char *s)
{
    if (!s)
        return NULL;
    char *d = tp_strdup(s);
    if (!d)
        r->oom = true;
    return d;
}

/* Job states, kept by the scripts in the counts hash. */
static int read_states(tp_rqueue *q, report *r, tp_error *err)
{
    redisReply *rep = NULL;
    int rc = tp_redis_cmd(q->r, &rep, err, "reading the counters", "HGETALL %s", q->counts);
    if (rc < 0)
        return rc;
    tp_rqueue_report *p = &r->pub;
    p->jobs_queued = count_of(tp_rq_field(rep, "queued"));
    p->jobs_running = count_of(tp_rq_field(rep, "running"));
    p->jobs_done = count_of(tp_rq_field(rep, "done"));
    p->jobs_failed = count_of(tp_rq_field(rep, "failed"));
    p->jobs_rejected = count_of(tp_rq_field(rep, "rejected"));
    p->jobs_dead = count_of(tp_rq_field(rep, "dead"));
    p->jobs_deferred = count_of(tp_rq_field(rep, "deferred"));
    p->jobs = p->jobs_queued + p->jobs_running + p->jobs_done + p->jobs_failed + p->jobs_rejected +
              p->jobs_dead + p->jobs_deferred;
    freeReplyObject(rep);
    return 0;
}

/* Delivered, not acknowledged: being worked on, or failed and waiting for a retry. Notes the
 * oldest one's id time in *oldest_ms. */
static int read_in_progress(tp_rqueue *q, report *r, double *oldest_ms, tp_error *err)
{
    redisReply *rep = NULL;
    int rc = tp_redis_cmd(q->r, &rep, err, "reading pending jobs (XPENDING)",
                          "XPENDING %s " TP_RQ_GROUP, q->stream);
    if (rc < 0)
        return rc;
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements >= 4) {
        r->pub.in_progress = count_int(rep->element[0]->integer);
        if (rep->element[1]->type == REDIS_REPLY_STRING)
            *oldest_ms = id_ms(rep->element[1]->str);
        const redisReply *cs = rep->element[3];
        size_t n = cs->type == REDIS_REPLY_ARRAY ? cs->elements : 0;
        tp_rqueue_count *by = n ? calloc(n, sizeof(*by)) : NULL;
        if (n && !by)
            r->oom = true;
        for (size_t i = 0; by && i < n; i++) {
            const redisReply *c = cs->element[i];
            if (c->type == REDIS_REPLY_ARRAY && c->elements == 2) {
                by[r->pub.n_in_progress_by_worker].name = dup_or_oom(r, c->element[0]->str);
                by[r->pub.n_in_progress_by_worker++].n = count_of(c->element[1]->str);
            }
        }
        r->pub.in_progress_by_worker = by;
    }
    freeReplyObject(rep);
    return 0;
}

/* The oldest job nobody took yet, after the last delivered one. */
static int read_oldest_waiting(tp_rqueue *q, const char *last_id, double *oldest_ms, tp_error *err)
{
    redisReply *rep = NULL;
    int rc = tp_redis_cmd(q->r, &rep, err, "reading the oldest job", "XRANGE %s (%s + COUNT 1",
                          q->stream, last_id);
    if (rc < 0)
        return rc;
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements > 0 &&
        rep->element[0]->type == REDIS_REPLY_ARRAY &&
        rep->element[0]->element[0]->type == REDIS_REPLY_STRING) {
        double ms = id_ms(rep->element[0]->element[0]->str);
        if (*oldest_ms == 0 || ms < *oldest_ms)
            *oldest_ms = ms;
    }
    freeReplyObject(rep);
    return 0;
}

/* Deferred: acknowledged, waiting in the delayed set for their not_before. */
static int read_deferred(tp_rqueue *q, report *r, tp_error *err)
{
    redisReply *rep = NULL;
    int rc = tp_redis_cmd(q->r, &rep, err, "reading the delayed set", "ZRANGE %s 0 0 WITHSCORES",
                          q->delayed);
    if (rc < 0)
        return rc;
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
        rep->element[1]->type == REDIS_REPLY_STRING) {
        r->pub.has_next_retry_at = 1;
        r->pub.next_retry_at = strtod(rep->element[1]->str, NULL);
    }
    freeReplyObject(rep);
    if ((rc = tp_redis_cmd(q->r, &rep, err, "reading the delayed set", "ZCARD %s", q->delayed)) < 0)
        return rc;
    r->pub.deferred = count_int(rep->integer);
    freeReplyObject(rep);
    return 0;
}

/* Dead letters: how many, and the latest few with their reasons. */
static int read_dead_letters(tp_rqueue *q, report *r, tp_error *err)
{
    redisReply *rep = NULL;
    int rc = tp_redis_cmd(q->r, &rep, err, "reading the dead letters", "XLEN %s", q->dead);
    if (rc < 0)
        return rc;
    r->pub.dead = count_int(rep->integer);
    freeReplyObject(rep);
    if ((rc = tp_redis_cmd(q->r, &rep, err, "reading the dead letters", "XREVRANGE %s + - COUNT 20",
                           q->dead)) < 0)
        return rc;
    size_t n = rep->type == REDIS_REPLY_ARRAY ? rep->elements : 0;
    tp_rqueue_dead_letter *dl = n ? calloc(n, sizeof(*dl)) : NULL;
    if (n && !dl)
        r->oom = true;
    for (size_t i = 0; dl && i < n; i++) {
        const redisReply *e = rep->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 2)
            continue;
        const redisReply *f = e->element[1];
        const char *att = tp_rq_field(f, "attempts");
        tp_rqueue_dead_letter *d = &dl[r->pub.n_dead_letters++];
        d->id = dup_or_oom(r, e->element[0]->str);
        const char **dst[] = {&d->path,   &d->fingerprint, &d->profile,
                              &d->reason, &d->error_code,  &d->worker};
        static const char *const fields[] = {"path",   "fingerprint", "profile",
                                             "reason", "error_code",  "worker"};
        for (size_t k = 0; k < TP_ARRAY_LEN(fields); k++) {
            const char *v = tp_rq_field(f, fields[k]);
            *dst[k] = dup_or_oom(r, v ? v : "");
        }
        d->attempts = count_of(att);
    }
    r->pub.dead_letters = dl;
    freeReplyObject(rep);
    return 0;
}

/* Workers the group knows, with how long each has been silent. */
static int read_workers(tp_rqueue *q, report *r, tp_error *err)
{
    redisReply *rep = NULL;
    int rc = tp_redis_cmd(q->r, &rep, err, "reading the workers", "XINFO CONSUMERS %s " TP_RQ_GROUP,
                          q->stream);
    if (rc < 0)
        return rc;
    size_t n = rep->type == REDIS_REPLY_ARRAY ? rep->elements : 0;
    tp_rqueue_worker_info *ws = n ? calloc(n, sizeof(*ws)) : NULL;
    if (n && !ws)
        r->oom = true;
    for (size_t i = 0; ws && i < n; i++) {
        const redisReply *c = rep->element[i];
        tp_rqueue_worker_info *w = &ws[r->pub.n_workers++];
        const char *name = tp_rq_field(c, "name");
        w->name = dup_or_oom(r, name ? name : "");
        for (size_t k = 0; k + 1 < c->elements; k += 2) {
            const redisReply *kk = c->element[k], *v = c->element[k + 1];
            if (kk->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_INTEGER)
                continue;
            if (!strcmp(kk->str, "pending")) {
                w->has_pending = 1;
                w->pending = count_int(v->integer);
            } else if (!strcmp(kk->str, "idle")) {
                w->has_idle = 1;
                w->idle = (double)v->integer / 1000.0;
            }
        }
    }
    r->pub.workers = ws;
    freeReplyObject(rep);
    return 0;
}

static int read_report(tp_rqueue *q, report *r, tp_error *err)
{
    redisReply *rep = NULL;
    int rc = tp_redis_cmd(q->r, &rep, err, "reading the queue", "EXISTS %s", q->stream);
    if (rc < 0)
        return rc;
    r->pub.exists = rep->integer == 1;
    freeReplyObject(rep);
    if (r->pub.exists && (rc = tp_rqueue_ensure_group(q, err)) < 0)
        return rc;
    if ((rc = read_states(q, r, err)) < 0)
        return rc;
    double oldest_ms = 0, now_ms = tp_now_wall() * 1000.0;
    if (r->pub.exists) {
        char last_id[64] = "0-0";
        double waiting = 0;
        if ((rc = group_info(q, last_id, sizeof(last_id), &waiting, err)) < 0)
            return rc;
        r->pub.pending = waiting > 0 ? (size_t)waiting : 0;
        if ((rc = read_in_progress(q, r, &oldest_ms, err)) < 0)
            return rc;
        if (waiting > 0 && (rc = read_oldest_waiting(q, last_id, &oldest_ms, err)) < 0)
            return rc;
    }
    if (oldest_ms > 0) {
        r->pub.has_oldest_pending_age = 1;
        r->pub.oldest_pending_age = (now_ms - oldest_ms) / 1000.0;
    }
    if ((rc = read_deferred(q, r, err)) < 0 || (rc = read_dead_letters(q, r, err)) < 0)
        return rc;
    if (r->pub.exists && (rc = read_workers(q, r, err)) < 0)
        return rc;
    return 0;
}

int tp_rqueue_status(tp_rqueue_report **out, const char *url, tp_error *err)
{
    tp_rqueue q;
    int rc;
    if (!out || !url)
        return tp_error_set(err, TP_EINVAL, 0, "tp_rqueue_status: missing argument");
    *out = NULL;
    report *r = calloc(1, sizeof(*r));
    if (!r)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    r->pub.version = TP_RQUEUE_REPORT_VERSION;
    if ((rc = tp_rqueue_open(&q, url, 5, err)) < 0) {
        free(r);
        return rc;
    }
    r->pub.queue = dup_or_oom(r, q.url.display);
    rc = read_report(&q, r, err);
    if (rc == 0 && r->oom)
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    tp_rqueue_close(&q);
    if (rc < 0) {
        tp_rqueue_report_free(&r->pub);
        return rc;
    }
    *out = &r->pub;
    return 0;
}

void tp_rqueue_report_free(tp_rqueue_report *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_in_progress_by_worker; i++)
        free((char *)p->in_progress_by_worker[i].name);
    free((void *)p->in_progress_by_worker);
    for (size_t i = 0; i < p->n_dead_letters; i++) {
        const tp_rqueue_dead_letter *d = &p->dead_letters[i];
        free((char *)d->id);
        free((char *)d->path);
        free((char *)d->fingerprint);
        free((char *)d->profile);
        free((char *)d->reason);
        free((char *)d->error_code);
        free((char *)d->worker);
    }
    free((void *)p->dead_letters);
    for (size_t i = 0; i < p->n_workers; i++)
        free((char *)p->workers[i].name);
    free((void *)p->workers);
    free((char *)p->queue);
    free((report *)p);
}

/* ---- the JSON form ------------------------------------------------------------------------ */

static void add_number_or_null(cJSON *o, const char *key, int has, double v)
{
    if (has)
        cJSON_AddNumberToObject(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}

char *tp_rqueue_report_to_json(const tp_rqueue_report *p)
{
    if (!p)
        return NULL;
    cJSON *doc = cJSON_CreateObject();
    if (!doc)
        return NULL;
    cJSON_AddStringToObject(doc, "queue", p->queue);
    cJSON_AddBoolToObject(doc, "exists", p->exists);
    cJSON *by_state = cJSON_AddObjectToObject(doc, "jobs_by_state");
    const struct {
        const char *name;
        size_t n;
    } states[] = {{"queued", p->jobs_queued},     {"running", p->jobs_running},
                  {"done", p->jobs_done},         {"failed", p->jobs_failed},
                  {"rejected", p->jobs_rejected}, {"dead", p->jobs_dead},
                  {"deferred", p->jobs_deferred}};
    for (size_t i = 0; i < TP_ARRAY_LEN(states); i++)
        cJSON_AddNumberToObject(by_state, states[i].name, (double)states[i].n);
    cJSON_AddNumberToObject(doc, "jobs", (double)p->jobs);
    cJSON_AddNumberToObject(doc, "pending", (double)p->pending);
    cJSON *inprog = cJSON_AddObjectToObject(doc, "in_progress");
    cJSON_AddNumberToObject(inprog, "total", (double)p->in_progress);
    cJSON *by_worker = cJSON_AddObjectToObject(inprog, "by_worker");
    for (size_t i = 0; i < p->n_in_progress_by_worker; i++)
        cJSON_AddNumberToObject(by_worker, p->in_progress_by_worker[i].name,
                                (double)p->in_progress_by_worker[i].n);
    cJSON_AddNumberToObject(doc, "done", (double)p->jobs_done);
    cJSON_AddNumberToObject(doc, "failed", (double)p->jobs_failed);
    cJSON_AddNumberToObject(doc, "rejected", (double)p->jobs_rejected);
    add_number_or_null(doc, "oldest_pending_age", p->has_oldest_pending_age, p->oldest_pending_age);
    add_number_or_null(doc, "next_retry_at", p->has_next_retry_at, p->next_retry_at);
    cJSON_AddNumberToObject(doc, "deferred", (double)p->deferred);
    cJSON_AddNumberToObject(doc, "dead", (double)p->dead);
    cJSON *dl = cJSON_AddArrayToObject(doc, "dead_letters");
    for (size_t i = 0; i < p->n_dead_letters; i++) {
        const tp_rqueue_dead_letter *d = &p->dead_letters[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", d->id);
        cJSON_AddStringToObject(o, "path", d->path);
        cJSON_AddStringToObject(o, "fingerprint", d->fingerprint);
        cJSON_AddStringToObject(o, "profile", d->profile);
        cJSON_AddStringToObject(o, "reason", d->reason);
        cJSON_AddStringToObject(o, "error_code", d->error_code);
        cJSON_AddStringToObject(o, "worker", d->worker);
        cJSON_AddNumberToObject(o, "attempts", (double)d->attempts);
        cJSON_AddItemToArray(dl, o);
    }
    cJSON *workers = cJSON_AddArrayToObject(doc, "workers");
    for (size_t i = 0; i < p->n_workers; i++) {
        const tp_rqueue_worker_info *w = &p->workers[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", w->name);
        if (w->has_pending)
            cJSON_AddNumberToObject(o, "pending", (double)w->pending);
        if (w->has_idle)
            cJSON_AddNumberToObject(o, "idle", w->idle);
        cJSON_AddItemToArray(workers, o);
    }
    char *json = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    return json;
}
