/* `tokprep worker`: take jobs from the Redis queue and run the pipeline on each file with a
 * local work folder and ledger. Redis holds what must outlive this process (state, attempts,
 * the claim, and a mirror of the ledger's resume state), so another worker can take a job over
 * after a crash without delivering twice. One thread runs jobs (their pipelines follow the
 * caller's cancel token); a heartbeat thread keeps the claim alive and stops a job's pipeline
 * (tp_pipeline_stop()) when the claim is lost. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pipeline/internal.h"
#include "pipeline/ledger.h"
#include "pipeline/rqueue.h"
#include "profiles/profile.h"
#include "util/tp_util.h"

/* The shared TikTok limits: the per-account daily cap and per-token request rates, kept in the
 * queue's Redis so all workers together stay under them. */
#include "upload/tt_limits.h"
/* The token file as the worker's own profile names it (tp_tt_token_path). */
#include "upload/auth.h"

#define BLOCK_MS 1000
#define HB_TICK 0.1
#define PROMOTE_EVERY 1.0 /* seconds between looks at the delayed set */

typedef struct {
    const tp_rqueue_worker_options *o;
    const char *url;
    char name[256];
    char *workdir;
    bool auto_workdir;
    tp_profile *defprof;
    /* What jobs may name (job fields are data: see docs/SECURITY.md, class 6). Profiles by
     * key ("builtin:NAME" or a realpath), the worker's own first; roots as realpaths. */
    char **allowed;
    size_t n_allowed;
    char **roots;
    size_t n_roots;
    tp_rqueue_conf qc;
    tp_rqueue q;          /* main thread */
    tp_rqueue hq;         /* heartbeat thread */
    tp_tt_limits *limits; /* on the queue's Redis: the same caps for every worker */
    tp_rqueue_worker_summary sum;
    /* Shared with the heartbeat thread under mu. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    char *cur_job;
    char cur_entry[64];
    int generation;
    tp_pipeline *cur_pl;
    bool claim_lost;
} worker;

typedef enum { OUT_NONE = 0, OUT_DONE, OUT_REJECTED, OUT_FAILED, OUT_DEFERRED } outcome;

/* One job being run: what its events told us. Main thread only. */
typedef struct {
    worker *w;
    const char *job_id;
    char *job_key;
    const char *fingerprint;
    outcome out;
    char *reason, *error_code, *outputs, *publish_id;
    double retry_at;    /* deferred: when TikTok allows it (epoch s), 0 = not said */
    bool mirror_failed; /* the run stopped because Redis was unreachable for a checkpoint */
} job_run;

static bool cancelled(const worker *w)
{
    return tp_cancel_requested(w->o->cancel);
}

static void set_str(char **dst, const char *src)
{
    char *copy = src ? tp_strdup(src) : NULL;
    free(*dst);
    *dst = copy;
}

/* ---- heartbeat ----------------------------------------------------------------------------- */

static void timed_wait(pthread_cond_t *cv, pthread_mutex_t *mu, double seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long ns = ts.tv_nsec + (long)(seconds * 1e9);
    ts.tv_sec += ns / 1000000000L;
    ts.tv_nsec = ns % 1000000000L;
    pthread_cond_timedwait(cv, mu, &ts);
}

static void *heartbeat_main(void *arg)
{
    worker *w = arg;
    double interval =
        (w->qc.claim_lease < w->qc.reclaim_after ? w->qc.claim_lease : w->qc.reclaim_after) / 3.0;
    char lease[32];
    snprintf(lease, sizeof(lease), "%lld", (long long)(w->qc.claim_lease * 1000));
    double next = 0;
    int gen = -1;
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        double now = tp_now_monotonic();
        if (w->generation != gen) {
            gen = w->generation;
            next = now + interval;
        }
        if (w->cur_job && !w->claim_lost && now >= next) {
            char *job = tp_strdup(w->cur_job);
            char entry[64];
            tp_strlcpy(entry, w->cur_entry, sizeof(entry));
            pthread_mutex_unlock(&w->mu);
            redisReply *rep = NULL;
            tp_error err = TP_ERROR_INIT;
            const char *extra[1] = {lease};
            int rc = job ? tp_rqueue_script(&w->hq, TP_RQS_HEARTBEAT, job, w->name, entry, 1, extra,
                                            &rep, &err)
                         : TP_ENOMEM;
            bool lost = rc == 0 && rep->type == REDIS_REPLY_INTEGER && rep->integer == 0;
            if (rc < 0)
                tp_log(TP_LOG_WARN, "%s", tp_error_message(&err));
            tp_error_clear(&err);
            freeReplyObject(rep);
            free(job);
            pthread_mutex_lock(&w->mu);
            if (lost && gen == w->generation) {
                /* Another worker holds the claim now (ours lapsed: Redis was unreachable or
                 * this process was stopped longer than queue.claim_lease). Stop, or both
                 * would deliver it. */
                tp_log(TP_LOG_WARN, "worker %s: lost the claim on a job; stopping it", w->name);
                w->claim_lost = true;
                if (w->cur_pl)
                    tp_pipeline_stop(w->cur_pl);
            }
            next = tp_now_monotonic() + (rc < 0 ? 1.0 : interval);
            continue;
        }
        timed_wait(&w->cv, &w->mu, HB_TICK);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void hb_set(worker *w, const char *job, const char *entry, tp_pipeline *pl)
{
    pthread_mutex_lock(&w->mu);
    set_str(&w->cur_job, job);
    tp_strlcpy(w->cur_entry, entry ? entry : "", sizeof(w->cur_entry));
    w->cur_pl = pl;
    if (!pl && !job)
        w->claim_lost = false;
    w->generation++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void hb_set_pipeline(worker *w, tp_pipeline *pl)
{
    pthread_mutex_lock(&w->mu);
    w->cur_pl = pl;
    pthread_mutex_unlock(&w->mu);
}

static bool hb_claim_lost(worker *w)
{
    pthread_mutex_lock(&w->mu);
    bool lost = w->claim_lost;
    pthread_mutex_unlock(&w->mu);
    return lost;
}

/* ---- what a job may name ------------------------------------------------------------------ */

/* Whoever can write the queue writes job fields: they choose a file under the worker's roots
 * and one of the profiles the operator allowed, never where the worker sends its credentials
 * or writes its outputs. */

static bool has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

/* A profile reference as the loader resolves it (profiles/loader.c load_chain): a built-in
 * name unless it looks like a path, else a file, compared by realpath. NULL: neither. */
static char *profile_key(const char *ref)
{
    bool pathlike = strchr(ref, '/') || strstr(ref, ".yaml") || strstr(ref, ".yml");
    if (!pathlike) {
        const char *const *names = tp_profile_builtin_names();
        for (size_t i = 0; names[i]; i++)
            if (!strcmp(names[i], ref))
                return tp_asprintf("builtin:%s", ref);
    }
    char real[PATH_MAX];
    return realpath(ref, real) ? tp_strdup(real) : NULL;
}

/* What tp_profile_open is given for a key: the built-in's name, or the resolved path (not
 * what the job wrote, which may be re-pointed between this check and the open). */
static const char *key_ref(const char *key)
{
    return strncmp(key, "builtin:", 8) ? key : key + 8;
}

/* A delivery name a sink joins to its folder: one plain component. */
static bool plain_name(const char *s)
{
    return *s && *s != '.' && *s != '-' && !strchr(s, '/') && !strstr(s, "..") && !has_ctl(s) &&
           strlen(s) < 256;
}

/* "" when the job may run; else why not (for the dead-letter reason). *real_path: the file's
 * realpath, *prof_key: the allowed profile's key (NULL: the worker's own). */
static void check_job(worker *w, const redisReply *job, char **real_path, char **prof_key,
                      char *why, size_t n)
{
    const char *path = tp_rq_field(job, "path"), *profile = tp_rq_field(job, "profile");
    const char *dest = tp_rq_field(job, "dest");
    char *shown = NULL, *key = NULL;
    char real[PATH_MAX];
    *real_path = *prof_key = NULL;
    why[0] = '\0';
    if (!path || path[0] != '/' || has_ctl(path)) {
        snprintf(why, n, "the job's path is not an absolute path free of control characters");
        goto out;
    }
    shown = tp_str_printable(path);
    if (!realpath(path, real)) {
        snprintf(why, n, "%s: cannot resolve the path: %s", shown, strerror(errno));
        goto out;
    }
    bool inside = false;
    for (size_t i = 0; i < w->n_roots && !inside; i++) {
        size_t l = strlen(w->roots[i]);
        inside = !strcmp(w->roots[i], "/") ||
                 (!strncmp(real, w->roots[i], l) && (real[l] == '/' || real[l] == '\0'));
    }
    if (!inside) {
        snprintf(why, n, "%s is outside this worker's --root folders", shown);
        goto out;
    }
    /* The file itself, as it is now: no symlink at the end, a regular file (not a folder,
     * which the pipeline would walk, nor a FIFO, which would block it). */
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
        snprintf(why, n, "%s is a symlink: refused", shown);
        goto out;
    }
    int fd = open(real, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(why, n, "%s: %s", shown, fd < 0 ? strerror(errno) : "not a regular file");
        if (fd >= 0)
            close(fd);
        goto out;
    }
    close(fd);
    const char *sets = tp_rq_field(job, "sets");
    if (sets && *sets && !w->o->allow_job_sets) {
        snprintf(why, n,
                 "the job carries profile overrides (enqueue --set); this worker takes "
                 "none (worker --allow-job-set)");
        goto out;
    }
    if (dest && *dest && !plain_name(dest)) {
        char *d = tp_str_printable(dest);
        snprintf(why, n, "the job's dest '%s' is not a plain file name", d ? d : "?");
        free(d);
        goto out;
    }
    if (profile && *profile) {
        key = has_ctl(profile) ? NULL : profile_key(profile);
        bool ok = false;
        for (size_t i = 0; key && i < w->n_allowed && !ok; i++)
            ok = !strcmp(key, w->allowed[i]);
        if (!ok) {
            char *pr = tp_str_printable(profile);
            snprintf(why, n, "profile '%s' is not allowed on this worker (--allow-profile)",
                     pr ? pr : "?");
            free(pr);
            goto out;
        }
        if (strcmp(key, w->allowed[0])) {
            *prof_key = key;
            key = NULL;
        }
    }
    *real_path = tp_strdup(real);
    if (!*real_path)
        snprintf(why, n, "out of memory");
out:
    free(shown);
    free(key);
    if (why[0]) {
        free(*prof_key);
        *prof_key = NULL;
    }
}

/* Where the job's output goes and with which credentials is the worker's own: an allowed
 * profile contributes its rules, fixes and post settings only. */
static int adopt_endpoint(tp_profile *p, const tp_profile *own, tp_error *err)
{
    tp_tiktok_conf *t = &p->upload.tiktok;
    const tp_tiktok_conf *o = &own->upload.tiktok;
    /* The default token file is named after the profile: resolve it for the worker's. */
    char tok[PATH_MAX];
    tp_error terr = TP_ERROR_INIT;
    const char *tf = tp_tt_token_path(tok, sizeof(tok), own, &terr) == 0 ? tok : o->token_file;
    tp_error_clear(&terr);
    struct {
        char **dst;
        const char *src;
    } f[] = {{&t->api_base, o->api_base},
             {&t->auth_base, o->auth_base},
             {&t->client_key, o->client_key},
             {&t->client_secret, o->client_secret},
             {&t->token_file, tf},
             {&t->redirect_uri, o->redirect_uri},
             {&t->scope, o->scope},
             {&t->shared_limits, o->shared_limits},
             {&p->upload.directory_path, own->upload.directory_path}};
    for (size_t i = 0; i < TP_ARRAY_LEN(f); i++) {
        char *copy = f[i].src ? tp_strdup(f[i].src) : NULL;
        if (f[i].src && !copy)
            return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        free(*f[i].dst);
        *f[i].dst = copy;
    }
    p->upload.sink = own->upload.sink;
    return 0;
}

/* ---- the job's pipeline -------------------------------------------------------------------- */

static char *json_strings(const char *const *items, size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(items[i] ? items[i] : ""));
    char *s = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    return s;
}

/* upload.tiktok.review parks posts in the ledger of the process that fitted them, for a person:
 * a queue job has no such end (it would be taken again and again), so workers refuse it. */
static int no_review(const tp_profile *p, tp_error *err)
{
    if (!p->upload.tiktok.review || p->upload.sink != TP_SINK_TIKTOK)
        return 0;
    return tp_error_set(err, TP_ECONFIG, 0,
                        "profile '%s': upload.tiktok.review is for `tokprep run` (a person "
                        "approves each post with `tokprep review`); queue workers post without "
                        "review: set upload.tiktok.review: false for them",
                        p->name);
}

static void on_pipeline_event(const tp_event *ev, void *payload)
{
    job_run *jr = payload;
    const tp_rqueue_worker_options *o = jr->w->o;
    if (ev->kind != TP_EVENT_SUMMARY && o->on_event) {
        tp_event named = *ev; /* the worker's name goes with its jobs' events */
        named.worker = jr->w->name;
        o->on_event(&named, o->payload);
    }
    switch (ev->kind) {
    case TP_EVENT_UPLOADED:
        jr->out = OUT_DONE;
        free(jr->outputs);
        jr->outputs = json_strings(ev->outputs, ev->n_outputs);
        set_str(&jr->publish_id, ev->publish_id);
        break;
    case TP_EVENT_SKIPPED: {
        const char *r = ev->reason ? ev->reason : "";
        set_str(&jr->reason, r);
        if ((ev->verdict && !strcmp(ev->verdict, "reject")) || !strncmp(r, "rejected", 8))
            jr->out = OUT_REJECTED;
        else if (!strncmp(r, "already done", 12))
            jr->out = OUT_DONE; /* this worker delivered it before: its ledger says so */
        else {
            jr->out = OUT_DEFERRED; /* a daily cap or rate limit: not the file's fault */
            jr->retry_at = ev->retry_at;
        }
        break;
    }
    case TP_EVENT_FAILED:
        if (ev->final_failure) {
            jr->out = OUT_FAILED;
            set_str(&jr->reason, ev->reason);
            set_str(&jr->error_code, ev->error_code);
        }
        break;
    default: break;
    }
}

/* The upload URL is a credential for the upload: in Redis, where other services read the
 * queue, it is sealed with a key only holders of the worker's client secret can derive (so a
 * successor with the same secret resumes, and nobody can plant a URL). Without a secret (no
 * TikTok sink) there is nothing to seal it with: it is not mirrored, and a successor starts
 * that part's upload again. */
static int seal_url(const worker *w, const char *job_id, const char *url, char **out, tp_error *err)
{
    const char *secret = w->defprof->upload.tiktok.client_secret;
    *out = NULL;
    if (!secret || !*secret)
        return 0;
    return tp_rq_seal(out, secret, job_id, url, err);
}

/* The ledger wrote a row: copy what a successor needs to resume into the job hash. Runs on the
 * coordinator (our) thread before the upload goes on, so Redis is never behind the ledger by
 * more than the write in flight. */
static int mirror_row(const tp_ledger_row *row, void *payload, tp_error *err)
{
    job_run *jr = payload;
    if (strcmp(row->fingerprint, jr->fingerprint))
        return 0;
    char expiry[32], part[16], last[16];
    char *sealed = NULL;
    int rc = 0;
    if (row->upload_url && *row->upload_url &&
        (rc = seal_url(jr->w, jr->job_id, row->upload_url, &sealed, err)) < 0)
        return rc;
    snprintf(expiry, sizeof(expiry), "%.3f", row->upload_url_expiry);
    snprintf(part, sizeof(part), "%d", row->upload_part);
    snprintf(last, sizeof(last), "%d", row->last_chunk);
    const char *argv[] = {"HSET",
                          jr->job_key,
                          "stage",
                          tp_stage_name(row->stage),
                          "verdict",
                          row->verdict ? row->verdict : "",
                          "dest",
                          row->dest ? row->dest : "",
                          "ckpt_publish_id",
                          row->publish_id ? row->publish_id : "",
                          "ckpt_url",
                          sealed ? sealed : "",
                          "ckpt_expiry",
                          expiry,
                          "ckpt_part",
                          part,
                          "ckpt_last_chunk",
                          last,
                          "posts",
                          row->posts ? row->posts : ""};
    /* A dropped connection is re-opened by the second call. If Redis stays away the run stops
     * (the pipeline treats it like a failed ledger write): an upload that went on would leave a
     * successor with stale resume state, and it could post the file again. */
    for (int attempt = 0; attempt < 2; attempt++) {
        rc = tp_redis_cmdv(jr->w->q.r, NULL, err, "mirroring the resume state",
                           (int)TP_ARRAY_LEN(argv), argv, NULL);
        if (rc != TP_ENET)
            break;
    }
    if (rc < 0) {
        /* Say what it means for the file: the reconnect's message alone names only Redis. */
        rc = tp_error_set(err, rc, err->raw,
                          "%s: stopped: its resume state could not be recorded in Redis, and "
                          "going on could make a successor post it again (%s)",
                          row->source_path ? row->source_path : jr->fingerprint,
                          tp_error_message(err));
        /* A lost connection is Redis' outage, not the file's fault (a refusal is counted). */
        jr->mirror_failed = rc == TP_ENET;
    }
    free(sealed);
    return rc;
}

static const char *nz(const char *s)
{
    return s && *s ? s : NULL;
}

/* Give the local ledger what the job's earlier attempts (maybe on another machine) recorded:
 * the delivery name, posted parts and the upload checkpoint, so this run replaces the same
 * files or continues the same TikTok upload instead of starting a second one. */
static int seed_ledger(const worker *w, const char *job_id, tp_pipeline *pl, const redisReply *job,
                       const char *fp, int64_t size, const char *path, tp_error *err)
{
    const char *dest = nz(tp_rq_field(job, "dest"));
    const char *pid = nz(tp_rq_field(job, "ckpt_publish_id"));
    const char *posts = nz(tp_rq_field(job, "posts"));
    if (!dest && !pid && !posts)
        return 0;
    tp_ledger_row row;
    int rc = tp_ledger_find(pl->ledger, &row, fp, pl->profile->hash, pl->sink_key, err);
    if (rc < 0)
        return rc;
    if (rc == 1 && row.status == TP_JOB_DONE) {
        tp_ledger_row_clear(&row);
        return 0;
    }
    if (rc == 0) {
        memset(&row, 0, sizeof(row));
        tp_strlcpy(row.fingerprint, fp, sizeof(row.fingerprint));
        tp_strlcpy(row.profile_hash, pl->profile->hash, sizeof(row.profile_hash));
        row.sink = tp_strdup(pl->sink_key);
        row.profile_name = tp_strdup(pl->profile->name);
        row.source_path = tp_strdup(path);
        row.source_size = size;
        row.stage = TP_STAGE_PROBE;
        row.status = TP_JOB_QUEUED;
        row.last_chunk = -1;
        if ((rc = tp_ledger_insert(pl->ledger, &row, err)) < 0)
            goto out;
    }
    if (dest)
        set_str(&row.dest, dest);
    const char *part = tp_rq_field(job, "ckpt_part"), *last = tp_rq_field(job, "ckpt_last_chunk");
    int rpart = part ? atoi(part) : 0, rlast = last ? atoi(last) : -1;
    if (posts) {
        set_str(&row.posts, posts);
        row.upload_part = rpart;
    }
    if (pid) {
        bool same = row.publish_id && !strcmp(row.publish_id, pid);
        if (!same || rpart > row.upload_part ||
            (rpart == row.upload_part && rlast > row.last_chunk)) {
            set_str(&row.publish_id, pid);
            const char *sealed = nz(tp_rq_field(job, "ckpt_url"));
            const char *secret = w->defprof->upload.tiktok.client_secret;
            char *url = sealed && secret && *secret ? tp_rq_unseal(secret, job_id, sealed) : NULL;
            if (sealed && !url)
                tp_log(TP_LOG_WARN,
                       "%s: the job's upload URL was not sealed with this worker's client "
                       "secret (or was changed): ignored; the upload starts again",
                       path);
            free(row.upload_url);
            row.upload_url = url;
            const char *exp = tp_rq_field(job, "ckpt_expiry");
            /* No URL: expired, so the uploader starts that part anew (a new init). */
            row.upload_url_expiry = url && exp ? strtod(exp, NULL) : 0;
            row.upload_part = rpart;
            row.last_chunk = rlast;
        }
    } else if (posts) {
        set_str(&row.publish_id, NULL);
        set_str(&row.upload_url, NULL);
        row.last_chunk = -1;
    }
    if (row.status != TP_JOB_DONE && row.status != TP_JOB_REJECTED)
        row.status = TP_JOB_QUEUED;
    rc = tp_ledger_update(pl->ledger, &row, err);
out:
    tp_ledger_row_clear(&row);
    return rc;
}

/* Open the profile `key` with the job's overrides (lines of KEY=VALUE) and then the worker's. */
static int open_with_job_sets(tp_profile **out, const worker *w, const char *key,
                              const char *job_sets, tp_error *err)
{
    char *copy = tp_strdup(job_sets);
    size_t n = 1 + w->o->n_sets;
    for (const char *c = job_sets; *c; c++)
        n += *c == '\n';
    const char **all = calloc(n, sizeof(*all));
    int rc;
    if (!copy || !all) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    size_t k = 0;
    for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save))
        all[k++] = line;
    for (size_t i = 0; i < w->o->n_sets; i++)
        all[k++] = w->o->sets[i];
    rc = tp_profile_open(out, key_ref(key), all, k, err);
out:
    free(all);
    free(copy);
    return rc;
}

/* Run the pipeline on one file. Fills jr (outcome) and returns 0, or TP_ECANCELED when
 * stopped by a cancel request or a lost claim, or another <0 (err) for a failure to run. */
static int run_job(worker *w, job_run *jr, const redisReply *job, const char *path,
                   const char *profile_key, tp_error *err)
{
    tp_profile *own = NULL;
    const tp_profile *prof = w->defprof;
    tp_pipeline *pl = NULL;
    int rc;
    char fp[65];
    int64_t size = 0;
    /* The file at the path must still be the content that was queued. */
    if ((rc = tp_fingerprint_file(fp, &size, path, err)) < 0)
        goto out;
    if (strcmp(fp, jr->fingerprint)) {
        rc = tp_error_set(err, TP_ECONFLICT, 0,
                          "%s: the content changed since it was queued (fingerprint %.12s, "
                          "queued %.12s)",
                          path, fp, jr->fingerprint);
        goto out;
    }
    const char *job_sets = tp_rq_field(job, "sets");
    if (job_sets && *job_sets) {
        /* Overrides queued with the job (allowed: check_job), then the worker's own --set,
         * which win; endpoints and secrets stay the worker's. */
        if ((rc = open_with_job_sets(&own, w, profile_key ? profile_key : w->allowed[0], job_sets,
                                     err)) < 0 ||
            (rc = adopt_endpoint(own, w->defprof, err)) < 0)
            goto out;
        prof = own;
    } else if (profile_key) {
        /* One the operator allowed (check_job), with the worker's endpoints and secrets. */
        if ((rc = tp_profile_open(&own, key_ref(profile_key), w->o->sets, w->o->n_sets, err)) < 0 ||
            (rc = adopt_endpoint(own, w->defprof, err)) < 0)
            goto out;
        prof = own;
    }
    if ((rc = no_review(prof, err)) < 0)
        goto out;
    tp_pipeline_options po = TP_PIPELINE_OPTIONS_INIT;
    po.workdir = w->workdir;
    po.state_path = w->o->state_path;
    po.on_event = on_pipeline_event;
    po.payload = jr;
    po.cancel = w->o->cancel; /* the caller's token stops the job's pipeline directly */
    if ((rc = tp_pipeline_new(&pl, prof, &po, err)) < 0)
        goto out;
    /* The queue decides about retries: a failure recorded by an earlier attempt of this
     * worker must not make the pipeline skip the file. */
    int n = 0;
    if ((rc = tp_ledger_retry_failed(pl->ledger, &n, err)) < 0)
        goto out;
    if ((rc = seed_ledger(w, jr->job_id, pl, job, fp, size, path, err)) < 0)
        goto out;
    tp_pipeline_set_mirror(pl, mirror_row, jr);
    /* The pipeline reads its own descriptor: it must hold the content checked above. */
    tp_pipeline_expect_fingerprint(pl, jr->fingerprint);
    tp_pipeline_set_tt_limits(pl, w->limits);
    hb_set_pipeline(w, pl);
    if (hb_claim_lost(w))
        tp_pipeline_stop(pl);
    tp_pipeline_summary sum;
    rc = tp_pipeline_run(pl, &path, 1, &sum, err);
    hb_set_pipeline(w, NULL);
out:
    tp_pipeline_free(pl);
    tp_profile_free(own);
    return rc;
}

/* ---- recording outcomes -------------------------------------------------------------------- */

/* Run a recording script until Redis takes it: the result must be stored before the entry
 * is acknowledged, and both happen in the script. Gives up only when cancelled (the entry
 * then stays pending and is taken over later). */
static int record(worker *w, tp_rq_script s, const char *job_id, const char *entry, int n,
                  const char **extra, redisReply **rep)
{
    double backoff = 0.2;
    for (int tries = 0;; tries++) {
        tp_error err = TP_ERROR_INIT;
        int rc = tp_rqueue_script(&w->q, s, job_id, w->name, entry, n, extra, rep, &err);
        if (rc == 0 || rc != TP_ENET || (cancelled(w) && tries >= 2)) {
            if (rc < 0)
                tp_log(TP_LOG_WARN, "%s", tp_error_message(&err));
            tp_error_clear(&err);
            return rc;
        }
        if (tries == 0)
            tp_log(TP_LOG_WARN, "%s (retrying)", tp_error_message(&err));
        tp_error_clear(&err);
        usleep((useconds_t)(backoff * 1e6));
        if (backoff < 5)
            backoff *= 2;
    }
}

static void emit_job(worker *w, tp_rqueue_job_kind kind, const char *path, const char *fp,
                     const char *profile, const char *state, const char *reason, int attempt,
                     bool reclaimed, double elapsed)
{
    if (!w->o->on_job)
        return;
    tp_rqueue_job_event ev = {.version = TP_RQUEUE_JOB_EVENT_VERSION,
                             .kind = kind,
                             .ts = tp_now_wall(),
                             .worker = w->name,
                             .path = path,
                             .fingerprint = fp,
                             .profile = profile ? profile : "",
                             .state = state,
                             .reason = reason,
                             .attempt = attempt,
                             .max_attempts = w->qc.max_attempts,
                             .reclaimed = reclaimed ? 1 : 0,
                             .elapsed = elapsed};
    w->o->on_job(&ev, w->o->payload);
}

/* The fail script with its six arguments (reason, code, max attempts, counted, requeue,
 * not_before); state gets the job's new state ("" when Redis did not answer). */
static void record_fail_args(worker *w, const char *job_id, const char *entry, const char **extra,
                             char *state, size_t n)
{
    redisReply *rep = NULL;
    state[0] = '\0';
    if (record(w, TP_RQS_FAIL, job_id, entry, 6, extra, &rep) == 0 &&
        rep->type == REDIS_REPLY_ARRAY && rep->elements > 0 &&
        rep->element[0]->type == REDIS_REPLY_STRING)
        tp_strlcpy(state, rep->element[0]->str, n);
    freeReplyObject(rep);
}

/* FAIL script → the state it reports (dead, retry, requeued, deferred, ...), "" when not
 * recorded. not_before (epoch s, NULL = none) defers the job: see fail_lua in rqueue.c. */
static void record_fail_at(worker *w, const char *job_id, const char *entry, const char *reason,
                           const char *code, bool counted, bool requeue, const char *not_before,
                           char *state, size_t n)
{
    char maxa[16];
    snprintf(maxa, sizeof(maxa), "%d", w->qc.max_attempts);
    const char *extra[6] = {
        reason, code, maxa, counted ? "1" : "0", requeue ? "1" : "0", not_before ? not_before : ""};
    record_fail_args(w, job_id, entry, extra, state, n);
}

static void record_fail(worker *w, const char *job_id, const char *entry, const char *reason,
                        const char *code, bool counted, bool requeue, char *state, size_t n)
{
    record_fail_at(w, job_id, entry, reason, code, counted, requeue, NULL, state, n);
}

/* Dead-letter at once: a job this worker refuses is refused on every try. */
static void record_refused(worker *w, const char *job_id, const char *entry, const char *reason,
                           char *state, size_t n)
{
    const char *extra[6] = {reason, tp_error_name(TP_EINVAL), "1", "1", "0", ""};
    record_fail_args(w, job_id, entry, extra, state, n);
}

static void process(worker *w, const tp_rq_entry *e)
{
    redisReply *job = NULL, *rep = NULL;
    char *key = tp_rq_key(&w->q, "job", e->job_id ? e->job_id : "");
    job_run jr = {.w = w, .job_id = e->job_id, .job_key = key};
    char *real_path = NULL, *prof_key = NULL;
    tp_error err = TP_ERROR_INIT;
    double t0 = tp_now_monotonic();
    if (!key)
        goto out;
    if (!e->job_id || tp_redis_cmd(w->q.r, &job, &err, "reading a job", "HGETALL %s", key) < 0 ||
        job->type != REDIS_REPLY_ARRAY || job->elements == 0) {
        if (err.code) {
            tp_log(TP_LOG_WARN, "%s", tp_error_message(&err));
            goto out; /* left pending: taken again later */
        }
        /* An entry without its job (deleted by an operator): nothing to do. */
        tp_redis_cmd(w->q.r, NULL, &err, "acknowledging", "XACK %s " TP_RQ_GROUP " %s", w->q.stream,
                     e->id);
        goto out;
    }
    const char *path = tp_rq_field(job, "path"), *fp = tp_rq_field(job, "fingerprint");
    const char *profile = tp_rq_field(job, "profile"), *state = tp_rq_field(job, "state");
    const char *holder = tp_rq_field(job, "worker");
    bool reclaimed = state && !strcmp(state, "running") && holder && strcmp(holder, w->name);
    jr.fingerprint = fp ? fp : "";
    char lease[32], maxa[16];
    snprintf(lease, sizeof(lease), "%lld", (long long)(w->qc.claim_lease * 1000));
    snprintf(maxa, sizeof(maxa), "%d", w->qc.max_attempts);
    const char *sargs[2] = {lease, maxa};
    if (record(w, TP_RQS_START, e->job_id, e->id, 2, sargs, &rep) < 0 ||
        rep->type != REDIS_REPLY_ARRAY || rep->elements < 2 ||
        rep->element[0]->type != REDIS_REPLY_STRING)
        goto out;
    const char *verdict = rep->element[0]->str;
    const char *info = rep->elements > 1 ? rep->element[1]->str : "";
    if (!strcmp(verdict, "busy")) {
        /* A live worker holds the claim (its heartbeat will take the entry back). */
        tp_log(TP_LOG_DEBUG, "%s: held by %s", path ? path : e->job_id, info);
        goto out;
    }
    if (!strcmp(verdict, "gone") || !strcmp(verdict, "final")) {
        tp_redis_cmd(w->q.r, NULL, &err, "acknowledging", "XACK %s " TP_RQ_GROUP " %s", w->q.stream,
                     e->id);
        goto out;
    }
    char st[32];
    if (!strcmp(verdict, "exhausted")) {
        const char *last = tp_rq_field(job, "reason");
        char *why = tp_asprintf("gave up after %s attempt(s): the worker(s) stopped while "
                                "processing it%s%s",
                                info, last && *last ? "; last error: " : "", last ? last : "");
        record_fail(w, e->job_id, e->id, why ? why : "gave up", tp_error_name(TP_EINTERNAL), true,
                    false, st, sizeof(st));
        if (!strcmp(st, "dead")) {
            w->sum.dead++;
            emit_job(w, TP_RQUEUE_JOB_FINISHED, path, fp, profile, "dead", why, atoi(info),
                     reclaimed, 0);
        }
        free(why);
        goto out;
    }
    int attempt = atoi(info);
    char why[1024];
    check_job(w, job, &real_path, &prof_key, why, sizeof(why));
    if (why[0]) {
        tp_log(TP_LOG_WARN, "worker %s: job refused: %s", w->name, why);
        record_refused(w, e->job_id, e->id, why, st, sizeof(st));
        if (!strcmp(st, "dead"))
            w->sum.dead++;
        emit_job(w, TP_RQUEUE_JOB_FINISHED, path, fp, profile, st[0] ? st : "unrecorded", why,
                 attempt, reclaimed, tp_now_monotonic() - t0);
        goto out;
    }
    emit_job(w, TP_RQUEUE_JOB_STARTED, path, fp, profile, "running", NULL, attempt, reclaimed, 0);
    hb_set(w, e->job_id, e->id, NULL);
    int rc = fp ? run_job(w, &jr, job, real_path, prof_key, &err)
                : tp_error_set(&err, TP_EINTERNAL, 0, "%s: job without fingerprint", key);
    bool lost = hb_claim_lost(w);
    /* The pipeline is over: nothing left to keep alive while the outcome is recorded. */
    hb_set(w, NULL, NULL, NULL);
    const char *final_state = NULL, *reason = NULL;
    if (lost) {
        /* Someone else has it now: their outcome counts; leave the job alone. */
        final_state = "lost";
        reason = "another worker took the job over";
    } else if (rc == TP_ECANCELED) {
        record_fail(w, e->job_id, e->id, "interrupted", tp_error_name(TP_ECANCELED), false, true,
                    st, sizeof(st));
        final_state = "requeued";
        reason = "interrupted: handed back to the queue";
        w->sum.requeued++;
    } else if (rc < 0 && jr.mirror_failed) {
        /* Redis went away, not the file: say so now (recording waits for Redis), and give the
         * attempt back, or a few Redis restarts would dead-letter a good file. */
        tp_log(TP_LOG_WARN, "%s; the job is handed back once Redis answers",
               tp_error_message(&err));
        record_fail(w, e->job_id, e->id, tp_error_message(&err), tp_error_name(err.code), false,
                    true, st, sizeof(st));
        final_state = "requeued";
        reason = tp_error_message(&err);
        w->sum.requeued++;
    } else if (rc < 0 || jr.out == OUT_FAILED || jr.out == OUT_NONE) {
        reason = rc < 0 ? tp_error_message(&err) : jr.reason ? jr.reason : "no outcome";
        const char *code = rc < 0          ? tp_error_name(err.code)
                           : jr.error_code ? jr.error_code
                                           : tp_error_name(TP_EINTERNAL);
        record_fail(w, e->job_id, e->id, reason, code, true, false, st, sizeof(st));
        final_state = !strcmp(st, "dead") ? "dead" : "failed";
        if (!strcmp(st, "dead"))
            w->sum.dead++;
        else
            w->sum.failed++;
    } else if (jr.out == OUT_DEFERRED) {
        /* Scheduled, not left pending: taken again after reclaim_after, it would only probe,
         * fit and ask TikTok again to hear the same answer until the cap resets. The attempt
         * is given back (the file is not at fault). */
        reason = jr.reason;
        char nb[32];
        double at = jr.retry_at > 0 ? jr.retry_at : tp_now_wall() + w->qc.reclaim_after;
        snprintf(nb, sizeof(nb), "%lld", (long long)(at + 0.999));
        record_fail_at(w, e->job_id, e->id, reason, tp_error_name(TP_ERATE), false, false, nb, st,
                       sizeof(st));
        final_state = st[0] ? st : "unrecorded";
        if (!strcmp(st, "deferred"))
            w->sum.deferred++;
    } else {
        bool done = jr.out == OUT_DONE;
        const char *extra[5] = {done ? "done" : "rejected", done ? "" : jr.reason,
                                done ? "" : tp_error_name(TP_EREJECT),
                                jr.outputs ? jr.outputs : "[]", jr.publish_id ? jr.publish_id : ""};
        redisReply *fr = NULL;
        if (record(w, TP_RQS_FINISH, e->job_id, e->id, 5, extra, &fr) == 0) {
            final_state = extra[0];
            reason = done ? NULL : jr.reason;
            if (fr->type == REDIS_REPLY_INTEGER && fr->integer == 0)
                tp_log(TP_LOG_WARN, "%s: the claim had lapsed while it ran", path);
            if (done)
                w->sum.done++;
            else
                w->sum.rejected++;
        } else {
            final_state = "unrecorded";
            reason = "the result could not be stored in Redis; the job will be taken again";
        }
        freeReplyObject(fr);
    }
    emit_job(w, TP_RQUEUE_JOB_FINISHED, path, fp, profile, final_state, reason, attempt, reclaimed,
             tp_now_monotonic() - t0);
out:
    freeReplyObject(job);
    freeReplyObject(rep);
    free(key);
    free(real_path);
    free(prof_key);
    free(jr.reason);
    free(jr.error_code);
    free(jr.outputs);
    free(jr.publish_id);
    tp_error_clear(&err);
}

/* ---- the loop ------------------------------------------------------------------------------ */

static bool queue_empty(worker *w)
{
    long long waiting = 0, pending = 0;
    tp_error err = TP_ERROR_INIT;
    int rc = tp_rqueue_counts(&w->q, &waiting, &pending, &err);
    tp_error_clear(&err);
    return rc == 0 && waiting == 0 && pending == 0;
}

static void sleep_cancellable(worker *w, double seconds)
{
    double end = tp_now_monotonic() + seconds;
    while (!cancelled(w) && tp_now_monotonic() < end)
        usleep(50000);
}

/* The worker's own profile, then --allow-profile's (each must load now: a typo fails at
 * start, not on every job), and the --root folders. */
static int allow_lists(worker *w, tp_error *err)
{
    const tp_rqueue_worker_options *o = w->o;
    if (o->n_roots == 0 || !o->roots)
        return tp_error_set(err, TP_EINVAL, 0,
                            "no --root: give the folders job paths must lie under (--root / "
                            "allows any path)");
    w->allowed = calloc(o->n_allow_profiles + 1, sizeof(char *));
    w->roots = calloc(o->n_roots, sizeof(char *));
    if (!w->allowed || !w->roots)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    const char *own = o->profile && *o->profile ? o->profile : "tiktok";
    if (!(w->allowed[w->n_allowed++] = profile_key(own)))
        return tp_error_set(err, TP_ECONFIG, 0, "%s: cannot resolve the profile", own);
    for (size_t i = 0; i < o->n_allow_profiles; i++) {
        const char *ref = o->allow_profiles[i];
        char *key = ref ? profile_key(ref) : NULL;
        if (!key)
            return tp_error_set(err, TP_ECONFIG, 0,
                                "--allow-profile %s: no built-in profile or file of that name",
                                ref ? ref : "(null)");
        w->allowed[w->n_allowed++] = key;
        tp_profile *p = NULL;
        int rc = tp_profile_open(&p, key_ref(key), o->sets, o->n_sets, err);
        tp_profile_free(p);
        if (rc < 0)
            return rc;
    }
    for (size_t i = 0; i < o->n_roots; i++) {
        char real[PATH_MAX];
        struct stat st;
        const char *r = o->roots[i] ? o->roots[i] : "";
        errno = 0;
        if (!realpath(r, real) || stat(real, &st) < 0 || !S_ISDIR(st.st_mode))
            return tp_error_set(err, TP_EINVAL, errno, "--root %s: not a folder%s%s", r,
                                errno ? ": " : "", errno ? strerror(errno) : "");
        if (!(w->roots[w->n_roots++] = tp_strdup(real)))
            return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    }
    return 0;
}

int tp_rqueue_worker_options_init(tp_rqueue_worker_options *opts, unsigned version)
{
    if (!opts || version != TP_RQUEUE_WORKER_OPTIONS_VERSION)
        return TP_EINVAL;
    *opts = (tp_rqueue_worker_options)TP_RQUEUE_WORKER_OPTIONS_INIT;
    return 0;
}

int tp_rqueue_worker_run(tp_rqueue_worker_summary *summary, const char *url,
                        const tp_rqueue_worker_options *opts, tp_error *err)
{
    static const tp_rqueue_worker_options defaults = TP_RQUEUE_WORKER_OPTIONS_INIT;
    worker w;
    int rc = 0;
    bool hb_started = false;
    pthread_t hb;
    memset(&w, 0, sizeof(w));
    w.o = opts ? opts : &defaults;
    w.url = url;
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    if (summary) {
        memset(summary, 0, sizeof(*summary));
        summary->version = TP_RQUEUE_WORKER_SUMMARY_VERSION;
    }
    if (w.o->version != TP_RQUEUE_WORKER_OPTIONS_VERSION) {
        rc = tp_error_set(err, TP_EINVAL, 0, "tp_rqueue_worker_run: unknown opts version %u",
                          w.o->version);
        goto out;
    }
    if (w.o->name && *w.o->name) {
        tp_strlcpy(w.name, w.o->name, sizeof(w.name));
    } else {
        char host[200] = "host";
        gethostname(host, sizeof(host) - 1);
        snprintf(w.name, sizeof(w.name), "%s-%ld", host, (long)getpid());
    }
    if ((rc = tp_profile_open(&w.defprof, w.o->profile ? w.o->profile : "tiktok", w.o->sets,
                              w.o->n_sets, err)) < 0)
        goto out;
    if ((rc = allow_lists(&w, err)) < 0)
        goto out;
    if ((rc = no_review(w.defprof, err)) < 0)
        goto out;
    w.qc = w.defprof->queue;
    if (w.qc.max_attempts < 1)
        w.qc.max_attempts = 3;
    if (w.qc.reclaim_after <= 0)
        w.qc.reclaim_after = 60;
    if (w.qc.claim_lease <= 0)
        w.qc.claim_lease = 30;
    w.auto_workdir = !w.o->workdir;
    w.workdir =
        w.o->workdir ? tp_strdup(w.o->workdir) : tp_asprintf("./tokprep-work/worker-%s", w.name);
    if (!w.workdir) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    if ((rc = tp_rqueue_open(&w.q, url, 5, err)) < 0)
        goto out;
    if ((rc = tp_rqueue_ensure_group(&w.q, err)) < 0)
        goto out;
    /* Check before work (after the queue's URL, which is what a typo is most likely in):
     * every job is delivered through the default profile's sink. */
    if ((rc = tp_pipeline_preflight(w.defprof, NULL, 0, err)) < 0)
        goto out;
    if ((rc = tp_rqueue_open(&w.hq, url, 5, err)) < 0)
        goto out;
    if ((rc = tp_tt_limits_redis_new(&w.limits, &w.q.url, err)) < 0)
        goto out;
    if (pthread_create(&hb, NULL, heartbeat_main, &w) != 0) {
        rc = tp_error_set(err, TP_EINTERNAL, errno, "cannot start the heartbeat thread");
        goto out;
    }
    hb_started = true;
    tp_log(TP_LOG_INFO, "worker %s on %s (work folder %s)", w.name, w.q.url.display, w.workdir);
    long long reclaim_ms = (long long)(w.qc.reclaim_after * 1000);
    double next_reclaim = 0, next_promote = 0, backoff = 0.5;
    bool warned = false;
    while (!cancelled(&w)) {
        tp_rq_entry e;
        tp_error lerr = TP_ERROR_INIT;
        int got = 0;
        /* Jobs of workers that stopped answering first, then new ones. */
        if (tp_now_monotonic() >= next_promote) {
            /* Deferred jobs whose time has come go back into the stream first. A few at a
             * time: a cap that resets for thousands of jobs does not stall one worker. */
            int moved = 0;
            tp_error perr = TP_ERROR_INIT;
            if (tp_rqueue_promote(&w.q, 10, &moved, &perr) < 0)
                tp_log(TP_LOG_DEBUG, "%s", tp_error_message(&perr));
            else if (moved > 0)
                tp_log(TP_LOG_INFO, "worker %s: %d deferred job(s) due again", w.name, moved);
            tp_error_clear(&perr);
            next_promote = tp_now_monotonic() + (moved >= 10 ? 0 : PROMOTE_EVERY);
        }
        if (tp_now_monotonic() >= next_reclaim) {
            got = tp_rqueue_autoclaim(&w.q, w.name, reclaim_ms, &e, &lerr);
            if (got == 0)
                next_reclaim = tp_now_monotonic() + (w.qc.reclaim_after < 4 ? 0.25 : 1.0);
        }
        if (got == 0)
            got = tp_rqueue_read(&w.q, w.name, BLOCK_MS, &e, &lerr);
        if (got < 0) {
            /* Redis restarting or unreachable: keep trying; jobs wait for us there. */
            if (!warned)
                tp_log(TP_LOG_WARN, "%s (retrying)", tp_error_message(&lerr));
            tp_error_clear(&lerr);
            warned = true;
            sleep_cancellable(&w, backoff);
            if (backoff < 5)
                backoff *= 2;
            continue;
        }
        tp_error_clear(&lerr);
        if (warned)
            tp_log(TP_LOG_INFO, "worker %s: connected again", w.name);
        warned = false;
        backoff = 0.5;
        if (got == 0) {
            /* Deferred jobs do not hold a drain: they may wait a day. Those already due are
             * moved back first, so the drain does not leave them behind. */
            int moved = 0;
            tp_error perr = TP_ERROR_INIT;
            bool drained = w.o->drain && queue_empty(&w) &&
                           (tp_rqueue_promote(&w.q, 10, &moved, &perr) < 0 || moved == 0);
            tp_error_clear(&perr);
            if (drained)
                break;
            continue;
        }
        process(&w, &e);
        tp_rq_entry_clear(&e);
    }
    if (rc == 0) {
        /* Leave the group's consumer list tidy, but never drop pending entries with it. */
        redisReply *rep = NULL;
        tp_error e2 = TP_ERROR_INIT;
        if (tp_redis_cmd(w.q.r, &rep, &e2, "leaving the group",
                         "XPENDING %s " TP_RQ_GROUP " - + 1 %s", w.q.stream, w.name) == 0 &&
            rep->type == REDIS_REPLY_ARRAY && rep->elements == 0)
            tp_redis_cmd(w.q.r, NULL, &e2, "leaving the group",
                         "XGROUP DELCONSUMER %s " TP_RQ_GROUP " %s", w.q.stream, w.name);
        freeReplyObject(rep);
        tp_error_clear(&e2);
    }
    if (cancelled(&w)) {
        w.sum.canceled = 1;
        rc = tp_error_set(err, TP_ECANCELED, 0, "interrupted");
    }
out:
    if (hb_started) {
        pthread_mutex_lock(&w.mu);
        w.stop = true;
        pthread_cond_signal(&w.cv);
        pthread_mutex_unlock(&w.mu);
        pthread_join(hb, NULL);
    }
    w.sum.version = TP_RQUEUE_WORKER_SUMMARY_VERSION;
    if (summary)
        *summary = w.sum;
    /* A name made of the pid is never used again: its local ledger is of no further use. */
    if (hb_started && w.auto_workdir && !w.o->name)
        tp_rmtree(w.workdir);
    tp_rqueue_close(&w.q);
    tp_rqueue_close(&w.hq);
    tp_tt_limits_free(w.limits);
    tp_profile_free(w.defprof);
    for (size_t i = 0; i < w.n_allowed; i++)
        free(w.allowed[i]);
    free(w.allowed);
    for (size_t i = 0; i < w.n_roots; i++)
        free(w.roots[i]);
    free(w.roots);
    free(w.workdir);
    free(w.cur_job);
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
    return rc;
}
