/* tp_check_files and tp_fit_files: the folder walk, a pool of worker threads over its files, and
 * the results handed back in input order on the calling thread (what `check` and `fit` and any
 * embedder with many files need). Workers only fill their own slot; the caller's thread alone
 * runs the callbacks. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline/scan.h"
#include "probe/check.h"
#include "profiles/profile.h"
#include "transcode/fit.h"
#include "util/srcfile.h"
#include "util/tp_util.h"

/* ---- the ordered pool ---------------------------------------------------------------- */

typedef struct {
    size_t n, next; /* items, and the next one a worker takes */
    bool *done;     /* done[i]: item i is finished (guarded by lock) */
    bool stop_taking_on_cancel;
    const tp_cancel *cancel;
    void (*work)(void *ctx, size_t i);
    void *ctx;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* an item became done */
} pool;

static void *pool_worker(void *arg)
{
    pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        bool stop = p->stop_taking_on_cancel && tp_cancel_requested(p->cancel);
        size_t i = p->next < p->n && !stop ? p->next++ : p->n;
        if (i == p->n) {
            /* Items never taken are done as they are (not started). */
            for (size_t k = p->next; k < p->n; k++)
                p->done[k] = true;
            p->next = p->n;
            pthread_cond_broadcast(&p->cond);
            pthread_mutex_unlock(&p->lock);
            return NULL;
        }
        pthread_mutex_unlock(&p->lock);
        p->work(p->ctx, i);
        pthread_mutex_lock(&p->lock);
        p->done[i] = true;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
    }
}

/* Run work over n items on up to `threads` threads; deliver(ctx, i) on this thread in order.
 * inline_fallback: when no thread starts, work here (else TP_EINTERNAL, nothing delivered). */
static int pool_run(size_t n, unsigned threads, bool stop_taking_on_cancel,
                    const tp_cancel *cancel, void (*work)(void *, size_t),
                    void (*deliver)(void *, size_t), void *ctx, bool inline_fallback, tp_error *err)
{
    pool p = {.n = n,
              .stop_taking_on_cancel = stop_taking_on_cancel,
              .cancel = cancel,
              .work = work,
              .ctx = ctx};
    pthread_t *tids = NULL;
    unsigned started = 0;
    int rc = 0;
    if (threads == 0)
        threads = 1;
    if (threads > n)
        threads = n ? (unsigned)n : 1;
    if (!(p.done = calloc(n ? n : 1, sizeof(*p.done))))
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    pthread_mutex_init(&p.lock, NULL);
    pthread_cond_init(&p.cond, NULL);
    if (threads <= 1 && inline_fallback) {
        /* One at a time: on this thread, each delivered as soon as it is done. */
        for (size_t i = 0; i < n; i++) {
            if (!(stop_taking_on_cancel && tp_cancel_requested(cancel)))
                work(ctx, i);
            deliver(ctx, i);
        }
        goto out;
    }
    if (!(tids = calloc(threads, sizeof(*tids)))) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    for (unsigned t = 0; t < threads; t++)
        if (pthread_create(&tids[started], NULL, pool_worker, &p) == 0)
            started++;
    if (started == 0) {
        if (!inline_fallback) {
            rc = tp_error_set(err, TP_EINTERNAL, 0, "cannot start a worker thread");
            goto out;
        }
        pool_worker(&p);
    }
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_lock(&p.lock);
        while (!p.done[i])
            pthread_cond_wait(&p.cond, &p.lock);
        pthread_mutex_unlock(&p.lock);
        deliver(ctx, i);
    }
out:
    for (unsigned t = 0; t < started; t++)
        pthread_join(tids[t], NULL);
    free(tids);
    pthread_mutex_destroy(&p.lock);
    pthread_cond_destroy(&p.cond);
    free(p.done);
    return rc;
}

static void fill_summary(tp_files_summary *summary, const tp_scan_list *list)
{
    if (!summary)
        return;
    summary->files = list->n;
    summary->non_media = list->n_non_media;
    summary->symlinks = list->n_symlinks;
}

/* ---- check ----------------------------------------------------------------------------- */

int tp_check_files_options_init(tp_check_files_options *opts, unsigned version)
{
    static const tp_check_files_options init = TP_CHECK_FILES_OPTIONS_INIT;
    if (!opts || version != TP_CHECK_FILES_OPTIONS_VERSION)
        return TP_EINVAL;
    *opts = init;
    return 0;
}

typedef struct {
    tp_check *check; /* NULL when the scan or the check call failed */
    tp_error err;    /* then: the reason */
    double seconds;
} check_slot;

typedef struct {
    const tp_scan_list *list;
    check_slot *slots;
    const tp_profile *profile;
    tp_check_options check_opts;
    const tp_check_files_options *opts;
} check_run;

static void check_work(void *ctx, size_t i)
{
    check_run *r = ctx;
    const tp_scan_entry *e = &r->list->items[i];
    check_slot *s = &r->slots[i];
    double t0 = tp_now_monotonic();
    if (e->error) {
        tp_error_set(&s->err, e->error, 0, "%s", e->message);
    } else if (tp_check_source(&s->check, r->profile, e->path, e->from_dir, &r->check_opts,
                               &s->err) < 0) {
        s->check = NULL;
    }
    s->seconds = tp_now_monotonic() - t0;
}

static void check_deliver(void *ctx, size_t i)
{
    check_run *r = ctx;
    check_slot *s = &r->slots[i];
    if (r->opts->on_file) {
        tp_check_files_item item = {.index = i,
                                    .path = r->list->items[i].path,
                                    .check = s->check,
                                    .error = s->check ? NULL : &s->err,
                                    .seconds = s->seconds};
        r->opts->on_file(&item, r->opts->payload);
    }
    tp_check_free(s->check);
    s->check = NULL;
    tp_error_clear(&s->err);
}

int tp_check_files(tp_files_summary *summary, const tp_profile *profile, const char *const *paths,
                   size_t n, const tp_check_files_options *opts, tp_error *err)
{
    static const tp_check_files_options defaults = TP_CHECK_FILES_OPTIONS_INIT;
    const tp_check_files_options *o = opts ? opts : &defaults;
    tp_scan_list list = TP_SCAN_LIST_INIT;
    tp_scan_options scan_opts = TP_SCAN_OPTIONS_INIT;
    check_run r = {.list = &list, .profile = profile, .opts = o};
    int rc;
    if (summary)
        memset(summary, 0, sizeof(*summary));
    if (!profile || (n && !paths))
        return tp_error_set(err, TP_EINVAL, 0, "tp_check_files: missing argument");
    if (o->version != TP_CHECK_FILES_OPTIONS_VERSION)
        return tp_error_set(err, TP_EINVAL, 0, "tp_check_files: unknown options version %u",
                            o->version);
    scan_opts.follow_symlinks = o->follow_symlinks != 0;
    if ((rc = tp_scan_paths(&list, paths, n, &scan_opts, err)) < 0)
        goto out;
    r.check_opts = (tp_check_options)TP_CHECK_OPTIONS_INIT;
    r.check_opts.deep = o->deep;
    r.check_opts.cancel = o->cancel;
    unsigned threads = o->threads;
    if (threads == 0)
        threads = profile->pipeline.probe_workers > 0 ? (unsigned)profile->pipeline.probe_workers
                                                      : (unsigned)tp_cpu_count();
    if (!(r.slots = calloc(list.n ? list.n : 1, sizeof(*r.slots)))) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    /* Every file is taken, even after a cancel: its probe then fails at once and it is
     * reported as an error, so nothing is left out without a word. */
    if ((rc = pool_run(list.n, threads, false, o->cancel, check_work, check_deliver, &r, false,
                       err)) < 0)
        goto out;
    fill_summary(summary, &list);
out:
    for (size_t i = 0; r.slots && i < list.n; i++) {
        tp_check_free(r.slots[i].check);
        tp_error_clear(&r.slots[i].err);
    }
    free(r.slots);
    tp_scan_list_free(&list);
    return rc;
}

/* ---- fit ------------------------------------------------------------------------------- */

int tp_fit_files_options_init(tp_fit_files_options *opts, unsigned version)
{
    static const tp_fit_files_options init = TP_FIT_FILES_OPTIONS_INIT;
    if (!opts || version != TP_FIT_FILES_OPTIONS_VERSION)
        return TP_EINVAL;
    *opts = init;
    return 0;
}

typedef struct {
    const char *path; /* owned by the scan list */
    bool from_dir;    /* found by walking a folder: a symlink there is not followed */
    tp_media_info media;
    tp_check_result check;
    tp_fit_plan plan;
    bool probed, planned;
    char **outputs;
    int n_outputs;
    int rc; /* 0, or the negative TP_E* of the failure */
    tp_error err;
} fit_job;

typedef struct {
    fit_job *jobs;
    const tp_profile *profile;
    const tp_fit_files_options *opts;
    pthread_mutex_t progress_lock; /* progress callbacks never run at once */
} fit_run;

typedef struct {
    fit_run *run;
    size_t index;
} fit_progress_ctx;

static void fit_progress(double fraction, double fps, void *payload)
{
    fit_progress_ctx *pc = payload;
    fit_run *r = pc->run;
    tp_fit_files_progress ev = {
        .index = pc->index, .path = r->jobs[pc->index].path, .fraction = fraction, .fps = fps};
    pthread_mutex_lock(&r->progress_lock);
    r->opts->progress(&ev, r->opts->payload);
    pthread_mutex_unlock(&r->progress_lock);
}

static void fit_work(void *ctx, size_t i)
{
    fit_run *r = ctx;
    fit_job *job = &r->jobs[i];
    const tp_fit_files_options *o = r->opts;
    if (job->rc < 0) /* the scan already failed it (missing, unreadable), or a stem clash */
        return;
    /* Opened once: the probe and the fit read this descriptor, never the name again. */
    int fd = tp_src_open(job->path, job->from_dir, NULL, &job->err);
    if (fd < 0) {
        job->rc = TP_EIO;
        return;
    }
    job->rc = tp_check_fd_for_fit(&job->media, &job->check, fd, job->path, r->profile, o->cancel,
                                  &job->err);
    if (job->rc < 0)
        goto out;
    job->probed = true;
    job->rc = tp_fit_plan_make(&job->plan, &job->media, &job->check, r->profile, &job->err);
    if (job->rc < 0)
        goto out;
    job->planned = true;
    if (o->dry_run || job->plan.reject)
        goto out;
    fit_progress_ctx pc = {.run = r, .index = i};
    tp_fit_run_options fo = {
        .progress = o->progress ? fit_progress : NULL, .payload = &pc, .cancel = o->cancel};
    job->rc = tp_fit_run(&job->outputs, &job->n_outputs, job->path, fd, &job->media, &job->plan,
                         r->profile, o->outdir, &fo, &job->err);
    if (o->progress) {
        tp_fit_files_progress ev = {.index = i, .path = job->path, .done = 1};
        pthread_mutex_lock(&r->progress_lock);
        o->progress(&ev, o->payload);
        pthread_mutex_unlock(&r->progress_lock);
    }
out:
    close(fd);
}

static tp_verdict job_verdict(const fit_job *j)
{
    if (j->rc < 0 && j->err.code != TP_EREJECT)
        return TP_VERDICT_ERROR;
    if (!j->probed)
        return TP_VERDICT_ERROR;
    if (j->planned && j->plan.reject)
        return TP_VERDICT_REJECT;
    return j->check.verdict;
}

/* The public view of a probed job's check (the same data tp_check_file would return). */
static tp_check *job_check(const fit_job *j)
{
    tp_check *c = calloc(1, sizeof(*c));
    if (!c || !(c->path = tp_strdup(j->path))) {
        free(c);
        return NULL;
    }
    c->has_media = true;
    c->media = j->media;
    c->result = j->check;
    return c;
}

static void fit_deliver(void *ctx, size_t i)
{
    fit_run *r = ctx;
    fit_job *j = &r->jobs[i];
    const tp_fit_files_options *o = r->opts;
    if (o->on_file) {
        const tp_profile *p = r->profile;
        const tp_fit_plan *pl = &j->plan;
        tp_fit_plan_part parts[TP_MAX_PARTS];
        for (int k = 0; k < pl->n_parts && k < TP_MAX_PARTS; k++) {
            parts[k].start = pl->parts[k].start;
            parts[k].duration = pl->parts[k].duration;
        }
        tp_fit_plan_info info = {.action = pl->action,
                                 .width = pl->out_width,
                                 .height = pl->out_height,
                                 .fps_num = pl->out_fps.num,
                                 .fps_den = pl->out_fps.den,
                                 .crf = p->fix.video.crf,
                                 .video_maxrate = pl->video_bitrate_max,
                                 .video_bufsize = pl->video_bufsize,
                                 .audio_bitrate = pl->audio_bitrate,
                                 .audio_sample_rate = p->fix.audio.sample_rate,
                                 .audio_channels = p->fix.audio.channels,
                                 .fill = tp_profile_fill_name(p),
                                 .filter = pl->filter,
                                 .crop_x = pl->crop.x,
                                 .crop_y = pl->crop.y,
                                 .crop_width = pl->crop.width,
                                 .crop_height = pl->crop.height,
                                 .duration = pl->out_duration,
                                 .trim_end = pl->trim_end,
                                 .hold_until = pl->hold_until,
                                 .n_parts = pl->n_parts > 0 ? (size_t)pl->n_parts : 0,
                                 .parts = parts,
                                 .cover_source = tp_cover_source_name(pl->cover_source),
                                 .cover_image = pl->cover_frames > 0 ? j->media.cover.path : NULL,
                                 .cover_frames = pl->cover_frames,
                                 .cover_duration = pl->cover_duration,
                                 .cover_timestamp_ms = pl->cover_timestamp_ms};
        tp_check *check = j->probed ? job_check(j) : NULL;
        tp_fit_files_item item = {
            .index = i,
            .path = j->path,
            .verdict = job_verdict(j),
            .rc = j->rc,
            .error = tp_error_message(&j->err),
            .reason = pl->reason,
            .rejected_by_plan = j->planned && pl->reject,
            .canceled = !j->probed && !j->rc && tp_cancel_requested(o->cancel),
            .check = check,
            .plan = j->planned && !pl->reject ? &info : NULL,
            .outputs = (const char *const *)j->outputs,
            .n_outputs = j->n_outputs > 0 ? (size_t)j->n_outputs : 0,
        };
        o->on_file(&item, o->payload);
        tp_check_free(check);
    }
    tp_fit_paths_free(j->outputs, j->n_outputs);
    j->outputs = NULL;
    j->n_outputs = 0;
}

/* True when both paths have the same file name without extension. */
static bool same_stem(const char *a, const char *b)
{
    const char *ba = strrchr(a, '/'), *bb = strrchr(b, '/');
    ba = ba ? ba + 1 : a;
    bb = bb ? bb + 1 : b;
    const char *da = strrchr(ba, '.'), *db = strrchr(bb, '.');
    size_t la = da && da != ba ? (size_t)(da - ba) : strlen(ba);
    size_t lb = db && db != bb ? (size_t)(db - bb) : strlen(bb);
    return la == lb && !strncmp(ba, bb, la);
}

static int mkdir_p(const char *dir)
{
    char *tmp = tp_strdup(dir);
    if (!tmp)
        return -1;
    for (char *s = tmp + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(tmp, 0777) < 0 && errno != EEXIST) {
            free(tmp);
            return -1;
        }
        *s = '/';
    }
    int rc = mkdir(tmp, 0777) < 0 && errno != EEXIST ? -1 : 0;
    free(tmp);
    return rc;
}

int tp_fit_files(tp_files_summary *summary, const tp_profile *profile, const char *const *paths,
                 size_t n, const tp_fit_files_options *opts, tp_error *err)
{
    static const tp_fit_files_options defaults = TP_FIT_FILES_OPTIONS_INIT;
    const tp_fit_files_options *o = opts ? opts : &defaults;
    tp_scan_list list = TP_SCAN_LIST_INIT;
    tp_scan_options scan_opts = TP_SCAN_OPTIONS_INIT;
    fit_run r = {.profile = profile, .opts = o};
    bool lock_init = false;
    int rc;
    if (summary)
        memset(summary, 0, sizeof(*summary));
    if (!profile || (n && !paths))
        return tp_error_set(err, TP_EINVAL, 0, "tp_fit_files: missing argument");
    if (o->version != TP_FIT_FILES_OPTIONS_VERSION)
        return tp_error_set(err, TP_EINVAL, 0, "tp_fit_files: unknown options version %u",
                            o->version);
    if (!o->dry_run && (!o->outdir || !o->outdir[0]))
        return tp_error_set(err, TP_EINVAL, 0, "tp_fit_files: no output folder");
    /* The same files in the same order as tp_check_files sees them. */
    scan_opts.follow_symlinks = o->follow_symlinks != 0;
    if ((rc = tp_scan_paths(&list, paths, n, &scan_opts, err)) < 0)
        goto out;
    if (list.n == 0) { /* nothing to do, and no OUTDIR made */
        fill_summary(summary, &list);
        goto out;
    }
    if (!(r.jobs = calloc(list.n, sizeof(*r.jobs)))) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < list.n; i++) {
        r.jobs[i].path = list.items[i].path;
        r.jobs[i].from_dir = list.items[i].from_dir;
        if (list.items[i].error)
            r.jobs[i].rc =
                tp_error_set(&r.jobs[i].err, list.items[i].error, 0, "%s", list.items[i].message);
    }
    /* Outputs go flat into OUTDIR: two inputs with one stem (a/x.mov, b/x.mp4) would write the
     * same <stem>.mp4, so the later one is refused rather than silently replacing the first. */
    for (size_t i = 0; i < list.n; i++) {
        for (size_t k = 0; k < i && r.jobs[i].rc == 0; k++) {
            if (r.jobs[k].rc == 0 && same_stem(r.jobs[i].path, r.jobs[k].path))
                r.jobs[i].rc = tp_error_set(&r.jobs[i].err, TP_EINVAL, 0,
                                            "%s: same name as %s: both would be written as the "
                                            "same output in OUTDIR (fit them separately)",
                                            r.jobs[i].path, r.jobs[k].path);
        }
    }
    if (!o->dry_run) {
        if (mkdir_p(o->outdir) < 0) {
            rc = tp_error_set(err, TP_EIO, errno, "%s: cannot create the output folder: %s",
                              o->outdir, strerror(errno));
            goto out;
        }
        struct stat od;
        if (stat(o->outdir, &od) == 0 && !S_ISDIR(od.st_mode)) {
            rc = tp_error_set(err, TP_EINVAL, 0, "%s: %s", o->outdir,
                              S_ISREG(od.st_mode) ? "is a file, not a folder"
                                                  : "exists and is not a folder");
            goto out;
        }
    }
    pthread_mutex_init(&r.progress_lock, NULL);
    lock_init = true;
    unsigned threads = o->threads;
    if (threads == 0)
        threads = profile->pipeline.fit_workers > 0 ? (unsigned)profile->pipeline.fit_workers : 1;
    /* A cancel stops taking new files; those not started are reported as canceled. */
    if ((rc = pool_run(list.n, threads, true, o->cancel, fit_work, fit_deliver, &r, true, err)) < 0)
        goto out;
    fill_summary(summary, &list);
out:
    for (size_t i = 0; r.jobs && i < list.n; i++) {
        tp_fit_paths_free(r.jobs[i].outputs, r.jobs[i].n_outputs);
        tp_error_clear(&r.jobs[i].err);
    }
    free(r.jobs);
    if (lock_init)
        pthread_mutex_destroy(&r.progress_lock);
    tp_scan_list_free(&list);
    return rc;
}
