/* The pipeline's coordinator: one thread that alone writes the ledger and emits events, feeding
 * per-stage worker pools (scan → probe → fit → chunk → deliver) through bounded queues and
 * taking their results back (after Redis bio.c: workers never touch shared state). */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pipeline/internal.h"
#include "pipeline/review.h"
#include "pipeline/scan.h"
#include "pipeline/watch.h"
#include "util/path.h"
#include "probe/rules.h"
#include "upload/tiktok.h"
#include "util/tp_util.h"

#define TICK_SECONDS 0.1
#define PROGRESS_INTERVAL 0.5
/* How often a run looks for posts approved in review (by another process) to deliver. */
#define APPROVED_POLL_SECONDS 1.0

typedef struct path_node {
    struct path_node *next;
    bool from_dir; /* found by walking a folder (or by the watch): not followed if a symlink */
    char *not_media; /* see tp_job.not_media */
    char path[];
} path_node;

typedef struct {
    tp_job *head, *tail;
    int n;
} job_list;

/* Coordinator state of one run; lives on tp_pipeline_run()'s stack. */
typedef struct {
    tp_pipeline *pl;
    path_node *backlog, *backlog_tail;
    tp_job *active; /* every job in flight, for progress and accounting */
    int n_active, max_active;
    int in_stage[TP_PS_COUNT]; /* pushed to the stage's queue and not back yet */
    job_list waiting[TP_PS_COUNT];
    job_list delayed; /* transient failures waiting for their backoff */
    tp_pipeline_summary sum;
    size_t parked;    /* parked for review in this run (sum.awaiting_review also counts the
                       * files found already awaiting review, which are skipped) */
    double next_poll; /* monotonic: next look for approved posts (pick_up_approved) */
    double t0;
    const char *exclude[2];
    tp_error fatal;
} run_state;

/* ---- small helpers --------------------------------------------------------------------- */

static void emit(tp_pipeline *pl, tp_event *ev)
{
    ev->version = TP_EVENT_VERSION;
    ev->ts = tp_now_wall();
    tp_eventlog_write(&pl->evlog, pl->state_path, ev); /* STATE.events, for `tokprep serve` */
    if (pl->opts.on_event)
        pl->opts.on_event(ev, pl->opts.payload);
}

static void list_append(job_list *l, tp_job *job)
{
    job->qnext = NULL;
    if (l->tail)
        l->tail->qnext = job;
    else
        l->head = job;
    l->tail = job;
    l->n++;
}

static void list_push_front(job_list *l, tp_job *job)
{
    job->qnext = l->head;
    l->head = job;
    if (!l->tail)
        l->tail = job;
    l->n++;
}

static tp_job *list_pop(job_list *l)
{
    tp_job *job = l->head;
    if (job) {
        l->head = job->qnext;
        if (!l->head)
            l->tail = NULL;
        l->n--;
        job->qnext = NULL;
    }
    return job;
}

static void job_free(tp_job *job)
{
    if (!job)
        return;
    tp_ledger_row_clear(&job->row);
    if (job->src_fd >= 0)
        close(job->src_fd);
    free(job->path);
    tp_job_outputs_clear(&job->checked);
    free(job->not_media);
    tp_job_outputs_clear(&job->outputs);
    tp_job_posts_clear(&job->posts);
    for (int i = 0; i < job->n_delivered; i++)
        free(job->delivered[i]);
    free(job->delivered);
    free(job->publish_id);
    free(job->ckpt_publish_id);
    free(job->ckpt_url);
    free(job->ckpt_posts);
    tp_error_clear(&job->err);
    free(job);
}

static void set_str(char **dst, const char *src)
{
    char *copy = src ? tp_strdup(src) : NULL;
    free(*dst);
    *dst = copy;
}

/* The row's `outputs` from the job's (the ledger's text: pipeline/jobrec.h). */
static void sync_outputs(tp_job *job)
{
    free(job->row.outputs);
    job->row.outputs = tp_jobrec_outputs_to_json(&job->outputs);
}

static bool is_transient(const tp_error *e)
{
    return e->code == TP_ENET || e->code == TP_ERATE || (e->code == TP_EHTTP && e->raw >= 500);
}

static int stage_index(tp_stage s)
{
    switch (s) {
    case TP_STAGE_SCAN: return TP_PS_SCAN;
    case TP_STAGE_PROBE: return TP_PS_PROBE;
    case TP_STAGE_FIT: return TP_PS_FIT;
    case TP_STAGE_CHUNK: return TP_PS_CHUNK;
    default: return TP_PS_DELIVER;
    }
}

static int ledger_write(run_state *rs, tp_job *job)
{
    if (!job->has_row)
        return 0;
    tp_error err = TP_ERROR_INIT;
    int rc = tp_ledger_update(rs->pl->ledger, &job->row, &err);
    if (rc == 0 && rs->pl->mirror)
        rc = rs->pl->mirror(&job->row, rs->pl->mirror_payload, &err);
    if (rc < 0 && !rs->fatal.code) {
        tp_error_move(&rs->fatal, &err); /* the ledger is our memory: stop rather than lose track */
        tp_cancel_request(&rs->pl->cancel);
    }
    tp_error_clear(&err);
    return rc;
}

/* ---- the job's life ---------------------------------------------------------------------- */

static void finish(run_state *rs, tp_job *job)
{
    if (job->prev)
        job->prev->next = job->next;
    else
        rs->active = job->next;
    if (job->next)
        job->next->prev = job->prev;
    rs->n_active--;
    job_free(job);
}

/* Interrupted work goes back to `queued` at the stage it was in; the next run resumes it. */
static void finish_canceled(run_state *rs, tp_job *job)
{
    if (job->has_row && job->row.status == TP_JOB_RUNNING) {
        job->row.status = TP_JOB_QUEUED;
        ledger_write(rs, job);
    }
    finish(rs, job);
}

static void finish_skipped_at(run_state *rs, tp_job *job, const char *reason, const char *verdict,
                              double retry_at)
{
    tp_event ev = {.kind = TP_EVENT_SKIPPED,
                   .path = job->path,
                   .reason = reason,
                   .verdict = verdict,
                   .fingerprint = job->fingerprint,
                   .retry_at = retry_at};
    emit(rs->pl, &ev);
    rs->sum.skipped++;
    finish(rs, job);
}

static void finish_skipped(run_state *rs, tp_job *job, const char *reason, const char *verdict)
{
    finish_skipped_at(rs, job, reason, verdict, 0);
}

/* A full or read-only disk says nothing about the file: the job stays queued and the next run
 * tries it again once space is back, without `tokprep retry`. raw is an errno or an AVERROR. */
static bool is_local_resource(const tp_error *e)
{
    static const int codes[] = {ENOSPC, EDQUOT, EFBIG, EROFS};
    for (size_t i = 0; i < TP_ARRAY_LEN(codes); i++)
        if (e->raw == codes[i] || e->raw == -codes[i])
            return true;
    return false;
}

static void finish_failed(run_state *rs, tp_job *job, const char *stage)
{
    if (job->has_row) {
        job->row.status = is_local_resource(&job->err) ? TP_JOB_QUEUED : TP_JOB_FAILED;
        set_str(&job->row.error, tp_error_message(&job->err));
        set_str(&job->row.error_code, tp_error_name(job->err.code));
        ledger_write(rs, job);
    }
    tp_event ev = {.kind = TP_EVENT_FAILED,
                   .path = job->path,
                   .stage = stage,
                   .error_code = tp_error_name(job->err.code),
                   .reason = tp_error_message(&job->err),
                   .final_failure = 1,
                   .fingerprint = job->fingerprint[0] ? job->fingerprint : NULL,
                   .id = job->has_row ? job->row.id : 0};
    emit(rs->pl, &ev);
    rs->sum.failed++;
    finish(rs, job);
}

static void finish_rejected(run_state *rs, tp_job *job, const char *reason)
{
    job->row.status = TP_JOB_REJECTED;
    job->row.stage = TP_STAGE_DONE;
    set_str(&job->row.verdict, "reject");
    set_str(&job->row.error, reason);
    set_str(&job->row.error_code, tp_error_name(TP_EREJECT));
    ledger_write(rs, job);
    char *why = tp_asprintf("rejected by profile '%s': %s", rs->pl->profile->name, reason);
    tp_event ev = {.kind = TP_EVENT_SKIPPED,
                   .path = job->path,
                   .verdict = "reject",
                   .reason = why ? why : reason,
                   .fingerprint = job->fingerprint};
    emit(rs->pl, &ev);
    free(why);
    rs->sum.rejected++;
    finish(rs, job);
}

static int fit_budget_used(run_state *rs)
{
    /* Fitted files waiting to be chunked or delivered, plus those being fitted: bounded so a
     * slow uploader cannot fill the disk with fitted files. */
    int n = rs->in_stage[TP_PS_FIT] + rs->waiting[TP_PS_CHUNK].n + rs->in_stage[TP_PS_CHUNK] +
            rs->waiting[TP_PS_DELIVER].n + rs->in_stage[TP_PS_DELIVER];
    return n;
}

static bool try_dispatch(run_state *rs, tp_job *job)
{
    tp_pipeline *pl = rs->pl;
    int si = stage_index(job->stage);
    if (si == TP_PS_FIT && fit_budget_used(rs) >= pl->profile->pipeline.max_pending_uploads +
                                                      pl->profile->pipeline.fit_workers)
        return false;
    pthread_mutex_lock(&pl->mu);
    job->started = false;
    job->progress_dirty = false;
    pthread_mutex_unlock(&pl->mu);
    if (tp_fifo_try_push(pl->stages[si].q, job) < 0)
        return false;
    rs->in_stage[si]++;
    return true;
}

static void park_for_review(run_state *rs, tp_job *job);

/* upload.tiktok.review: may this job be delivered? 1 yes, 0 it must wait for a person (park it),
 * <0 with job->err: its record says approved but cannot be read (never post it otherwise). An
 * upload TikTok already initiated (publish_id) goes on as it began: its settings are TikTok's. */
static int review_allows(tp_pipeline *pl, tp_job *job)
{
    if (!pl->profile->upload.tiktok.review || pl->profile->upload.sink != TP_SINK_TIKTOK ||
        !job->has_row || (job->row.publish_id && *job->row.publish_id))
        return 1;
    tp_review_approved a;
    int rc = tp_review_approved_read(&a, job->row.review, &job->err);
    tp_review_approved_clear(&a);
    if (rc < 0)
        tp_error_prefix(&job->err, "%s", job->path);
    return rc;
}

/* Send job to `stage`, recording it in the ledger first (so a crash resumes there). */
static void advance(run_state *rs, tp_job *job, tp_stage stage)
{
    if (stage == TP_STAGE_DELIVER) {
        int ok = review_allows(rs->pl, job);
        if (ok == 0) {
            park_for_review(rs, job);
            return;
        }
        if (ok < 0) {
            job->stage = stage;
            finish_failed(rs, job, tp_stage_name(stage));
            return;
        }
    }
    job->stage = stage;
    if (job->has_row) {
        job->row.stage = stage;
        job->row.status = tp_cancel_requested(&rs->pl->cancel) ? TP_JOB_QUEUED : TP_JOB_RUNNING;
        if (ledger_write(rs, job) < 0) {
            finish(rs, job);
            return;
        }
    }
    if (tp_cancel_requested(&rs->pl->cancel)) {
        finish(rs, job);
        return;
    }
    int si = stage_index(stage);
    if (rs->waiting[si].n > 0 || !try_dispatch(rs, job))
        list_append(&rs->waiting[si], job);
}

static void pump_waiting(run_state *rs)
{
    for (int si = TP_PS_COUNT - 1; si >= 0; si--) {
        while (rs->waiting[si].head && !tp_cancel_requested(&rs->pl->cancel)) {
            /* Unlink before pushing: once in a queue, a worker owns the job (and its qnext). */
            tp_job *job = list_pop(&rs->waiting[si]);
            if (!try_dispatch(rs, job)) {
                list_push_front(&rs->waiting[si], job);
                break;
            }
        }
    }
}

/* Whether a file this ledger does not know (another ledger's, the user's) would be replaced by
 * a delivery under stem: any entry named stem.EXT or stem_partN.EXT (every part of a split, not
 * only the first: a long source must not rename its part 2 over someone's stem_part2.mp4). */
static int sink_has_stem(const char *dir, const char *stem)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : 1; /* unreadable: take the safe, unique name */
    size_t n = strlen(stem);
    int taken = 0;
    struct dirent *e;
    while (!taken && (e = readdir(d))) {
        const char *name = e->d_name;
        if (strncmp(name, stem, n) != 0)
            continue;
        const char *rest = name + n;
        if (!strncmp(rest, "_part", 5)) {
            rest += 5;
            if (*rest < '0' || *rest > '9')
                continue;
            while (*rest >= '0' && *rest <= '9')
                rest++;
        }
        taken = *rest == '.';
    }
    closedir(d);
    return taken;
}

/* The name the sink will use: the source's stem, or stem-<fingerprint> when another content
 * already delivered under that stem to the same sink. Chosen once and kept in the ledger, so a
 * re-delivery after a crash replaces the same files instead of adding new ones. */
static int choose_dest(run_state *rs, tp_job *job)
{
    if (job->row.dest)
        return 0;
    char *stem = tp_path_stem(job->path);
    if (!stem)
        return -1;
    tp_error err = TP_ERROR_INIT;
    int taken = tp_ledger_dest_taken(rs->pl->ledger, job->row.sink, stem, job->row.id, &err);
    tp_error_clear(&err);
    if (taken == 0 && rs->pl->sink_dir)
        taken = sink_has_stem(rs->pl->sink_dir, stem);
    if (taken > 0) {
        char *alt = tp_asprintf("%s-%.8s", stem, job->fingerprint);
        free(stem);
        stem = alt;
    }
    job->row.dest = stem;
    return stem ? 0 : -1;
}

static void on_failure(run_state *rs, tp_job *job)
{
    tp_pipeline *pl = rs->pl;
    const char *stage = tp_stage_name(job->stage);
    /* Cancelled, or failed while a cancel was under way before delivery: a probe or fit cut
     * short fails with whatever the demuxer made of the cut read ("Invalid data found"), which
     * says nothing about the file. It stays queued; the same command resumes it. A delivery's
     * failure keeps its meaning (TikTok's answer, recorded). */
    if (tp_cancel_requested(&pl->cancel) &&
        (job->err.code == TP_ECANCELED || job->stage != TP_STAGE_DELIVER)) {
        finish_canceled(rs, job);
        return;
    }
    if (job->redo_from_probe && job->has_row && job->row.attempts < 2) {
        /* Fitted outputs disappeared (work folder cleaned by hand): fit again. */
        tp_log(TP_LOG_WARN, "%s", tp_error_message(&job->err));
        job->row.attempts++;
        job->redo_from_probe = false;
        tp_error_clear(&job->err);
        set_str(&job->row.outputs, NULL);
        tp_job_outputs_clear(&job->outputs);
        advance(rs, job, TP_STAGE_PROBE);
        return;
    }
    if (job->err.code == TP_ERATE && job->has_row && job->retry_at > tp_now_wall() + 120) {
        /* A daily cap or a long rate limit: not a failure of the file. It stays queued for a
         * later run, with the time it becomes possible. */
        char when[32];
        tp_time_format(when, sizeof(when), job->retry_at, TP_TIME_LOCAL);
        char *why = tp_asprintf("deferred until %s: %s", when, tp_error_message(&job->err));
        job->row.status = TP_JOB_QUEUED;
        set_str(&job->row.error, why ? why : tp_error_message(&job->err));
        set_str(&job->row.error_code, tp_error_name(job->err.code));
        ledger_write(rs, job);
        /* The queue worker schedules the job for then instead of taking it again at once. */
        finish_skipped_at(rs, job, why ? why : tp_error_message(&job->err), NULL, job->retry_at);
        free(why);
        return;
    }
    if (is_transient(&job->err) && job->has_row &&
        job->row.attempts + 1 < pl->profile->pipeline.max_attempts) {
        job->row.attempts++;
        ledger_write(rs, job);
        tp_event ev = {.kind = TP_EVENT_FAILED,
                       .path = job->path,
                       .stage = stage,
                       .error_code = tp_error_name(job->err.code),
                       .reason = tp_error_message(&job->err),
                       .final_failure = 0,
                       .fingerprint = job->fingerprint,
                       .id = job->row.id};
        emit(pl, &ev);
        double backoff = 1.0;
        for (int i = 1; i < job->row.attempts && backoff < 60; i++)
            backoff *= 2;
        if (job->retry_at > tp_now_wall())
            backoff = job->retry_at - tp_now_wall(); /* the server said when */
        job->not_before = tp_now_monotonic() + backoff;
        tp_error_clear(&job->err);
        list_append(&rs->delayed, job);
        return;
    }
    finish_failed(rs, job, stage);
}

/* A queued row found again: take back what the ledger knows (pipeline/jobrec.h: media info,
 * outputs and chunk plans, posts) and choose the stage to resume at. < 0 with job->err set when
 * the row's upload state cannot be read back (a damaged row must never lead to a second post). */
static int resume_row(run_state *rs, tp_job *job, tp_stage *next)
{
    const tp_ledger_row *row = &job->row;
    tp_error perr = TP_ERROR_INIT;
    /* The media info the probe measured: later stages use it, nothing probes again. */
    if (row->media) {
        if (tp_jobrec_media_from_json(&job->media, row->media, &perr) == 0) {
            tp_rules_check(&job->check, &job->media, rs->pl->profile);
            job->have_media = true;
        } else {
            tp_log(TP_LOG_WARN, "%s: %s; probing it again", job->path, tp_error_message(&perr));
            tp_error_clear(&perr);
        }
    }
    if (row->publish_id && *row->publish_id && row->outputs &&
        tp_jobrec_outputs_from_json(&job->checked, row->outputs, &job->err) < 0)
        return TP_EINVAL;
    if (tp_jobrec_posts_from_json(&job->posts, row->posts, &job->err) < 0)
        return TP_EINVAL;
    /* Resume where it stopped; fitted outputs and upload state come from the ledger (a row
     * from before it kept media info is probed once by the stage that needs it). */
    *next = row->stage <= TP_STAGE_PROBE ? TP_STAGE_PROBE : row->stage;
    /* A file that passed as is has itself as output, maybe under the name it had then: start
     * it over (no fit involved); the upload resume state is kept. It is probed again, not judged
     * from the ledger: what is delivered is the source's own bytes, and the fingerprint that
     * found the row samples them (a same-size rewrite outside the samples is the same content
     * to the ledger), so the verdict must come from the descriptor this run reads and hashes.
     * Fitted outputs need no such check: the fit verified them against the profile. */
    if (row->verdict && !strcmp(row->verdict, "pass")) {
        *next = TP_STAGE_PROBE;
        job->have_media = false;
    }
    if (*next > TP_STAGE_PROBE && row->outputs &&
             tp_jobrec_outputs_from_json(&job->outputs, row->outputs, &perr) < 0) {
        tp_log(TP_LOG_WARN, "%s: %s; fitting it again", job->path, tp_error_message(&perr));
        *next = TP_STAGE_PROBE;
    }
    return 0;
}

static void after_scan(run_state *rs, tp_job *job)
{
    tp_pipeline *pl = rs->pl;
    tp_error err = TP_ERROR_INIT;
    tp_ledger_row row;
    int found =
        tp_ledger_find(pl->ledger, &row, job->fingerprint, pl->profile->hash, pl->sink_key, &err);
    if (found < 0) {
        tp_error_move(&job->err, &err);
        finish_failed(rs, job, "scan");
        return;
    }
    if (found && !pl->opts.force && row.status != TP_JOB_QUEUED) {
        char *why = NULL;
        const char *verdict = row.verdict;
        /* The row's source is this very file (an earlier run of it): no "same content as"
         * itself; only another path with the same content is named. */
        bool other = row.source_path && strcmp(row.source_path, job->path) != 0;
        switch (row.status) {
        case TP_JOB_DONE:
            why = other ? tp_asprintf("already done (same content as %s)", row.source_path)
                        : tp_strdup("already done");
            break;
        case TP_JOB_REJECTED:
            why = tp_asprintf("rejected earlier: %s", row.error ? row.error : "");
            break;
        case TP_JOB_FAILED:
            why = tp_asprintf("failed earlier: %s (run `tokprep retry` to try again)",
                              row.error ? row.error : "");
            break;
        case TP_JOB_AWAITING_REVIEW:
            /* Never posted before a person approves it (tokprep review approve ID). */
            why = tp_asprintf("awaiting review (id %lld: tokprep review list)", (long long)row.id);
            rs->sum.awaiting_review++;
            break;
        default:
            why = other
                      ? tp_asprintf("duplicate of %s (same content, in progress)", row.source_path)
                      : tp_strdup("already in progress");
            break;
        }
        char *v = tp_strdup(verdict);
        /* Still skipped (as before), and also counted so a resumed run's summary and exit
         * status do not hide what earlier runs could not do. */
        if (row.status == TP_JOB_REJECTED)
            rs->sum.earlier_rejected++;
        else if (row.status == TP_JOB_FAILED)
            rs->sum.earlier_failed++;
        tp_ledger_row_clear(&row);
        finish_skipped(rs, job, why ? why : "already known", v);
        free(v);
        free(why);
        return;
    }
    if (found && pl->opts.force && row.status == TP_JOB_RUNNING) {
        /* --force does not make one run process the same content twice. */
        char *why = tp_asprintf("duplicate of %s (same content, in progress)", row.source_path);
        tp_ledger_row_clear(&row);
        finish_skipped(rs, job, why ? why : "duplicate", NULL);
        free(why);
        return;
    }
    tp_stage next = TP_STAGE_PROBE;
    if (found) {
        job->row = row;
        job->has_row = true;
        set_str(&job->row.source_path, job->path);
        job->row.source_size = job->size;
        if (row.status == TP_JOB_QUEUED) {
            if (resume_row(rs, job, &next) < 0) {
                finish_failed(rs, job, "scan");
                return;
            }
        } else {
            /* --force: start over, keeping the delivery name so files are replaced. */
            set_str(&job->row.outputs, NULL);
            set_str(&job->row.media, NULL);
            set_str(&job->row.verdict, NULL);
            set_str(&job->row.publish_id, NULL);
            set_str(&job->row.upload_url, NULL);
            set_str(&job->row.posts, NULL);
            set_str(&job->row.error, NULL);
            set_str(&job->row.error_code, NULL);
            /* A new delivery is a new post: reviewed again (--force never skips review). */
            set_str(&job->row.review, NULL);
            job->row.upload_url_expiry = 0;
            job->row.upload_part = 0;
            job->row.last_chunk = -1;
            job->row.attempts = 0;
        }
    } else {
        memset(&job->row, 0, sizeof(job->row));
        tp_strlcpy(job->row.fingerprint, job->fingerprint, sizeof(job->row.fingerprint));
        tp_strlcpy(job->row.profile_hash, pl->profile->hash, sizeof(job->row.profile_hash));
        job->row.sink = tp_strdup(pl->sink_key);
        job->row.profile_name = tp_strdup(pl->profile->name);
        job->row.source_path = tp_strdup(job->path);
        job->row.source_size = job->size;
        job->row.stage = TP_STAGE_PROBE;
        job->row.status = TP_JOB_RUNNING;
        job->row.last_chunk = -1;
        if (tp_ledger_insert(pl->ledger, &job->row, &err) < 0) {
            tp_error_move(&job->err, &err);
            finish_failed(rs, job, "scan");
            return;
        }
        job->has_row = true;
    }
    if (job->not_media) {
        /* Recorded as failed with its reason: a broken download is never skipped silently. */
        tp_error_set(&job->err, TP_EMEDIA, 0, "%s", job->not_media);
        job->row.stage = TP_STAGE_PROBE;
        finish_failed(rs, job, "scan");
        return;
    }
    advance(rs, job, next);
}

static void after_probe(run_state *rs, tp_job *job)
{
    const tp_check_result *c = &job->check;
    /* A probe cut short by the cancel token may judge the file unreadable: not a verdict on
     * the file, which stays queued for the next run. */
    if (c->verdict == TP_VERDICT_ERROR && tp_cancel_requested(&rs->pl->cancel)) {
        finish_canceled(rs, job);
        return;
    }
    const char *verdict = tp_verdict_name(c->verdict);
    tp_event ev = {.kind = TP_EVENT_PROBED,
                   .path = job->path,
                   .verdict = verdict,
                   .action =
                       tp_action_name(c->verdict == TP_VERDICT_FIX ? c->action : TP_ACTION_NONE),
                   .reason = c->reason[0] ? c->reason : NULL,
                   .fingerprint = job->fingerprint};
    emit(rs->pl, &ev);
    set_str(&job->row.verdict, verdict);
    if (job->have_media) {
        free(job->row.media);
        job->row.media = tp_jobrec_probe_to_json(&job->media, c);
    }
    switch (c->verdict) {
    case TP_VERDICT_REJECT:
        finish_rejected(rs, job, c->reason[0] ? c->reason : "the profile refuses this file");
        return;
    case TP_VERDICT_ERROR:
        tp_error_set(&job->err, TP_EMEDIA, 0, "%s: %s", job->path,
                     c->reason[0] ? c->reason : "cannot be judged");
        finish_failed(rs, job, "probe");
        return;
    case TP_VERDICT_PASS: {
        /* A cover image becomes the first frames: only a fit adds them (README "Covers"). */
        if (job->media.video.present && (job->media.cover.source == TP_COVER_SIDECAR ||
                                         job->media.cover.source == TP_COVER_PROFILE)) {
            job->fit_action = tp_action_name(TP_ACTION_TRANSCODE);
            advance(rs, job, TP_STAGE_FIT);
            return;
        }
        /* Passes as is: the source is the output; no fit, no copy in the work folder. */
        const char *src = job->path;
        if (tp_job_outputs_set(&job->outputs, &src, &job->media, 1) < 0) {
            tp_error_set(&job->err, TP_ENOMEM, 0, "out of memory");
            finish_failed(rs, job, "probe");
            return;
        }
        sync_outputs(job);
        advance(rs, job, TP_STAGE_CHUNK);
        return;
    }
    default: job->fit_action = tp_action_name(c->action); advance(rs, job, TP_STAGE_FIT);
    }
}

/* The outputs' paths (key "path") or, for the directory sink, where they were delivered. */
static const char **output_paths(const tp_job_outputs *o, int *n)
{
    const char **paths = o->n > 0 ? calloc((size_t)o->n, sizeof(*paths)) : NULL;
    *n = 0;
    for (int i = 0; paths && i < o->n; i++)
        if (o->v[i].path)
            paths[(*n)++] = o->v[i].path;
    return paths;
}

static void after_fit(run_state *rs, tp_job *job)
{
    if (job->rejected) {
        finish_rejected(rs, job, job->reject_reason);
        return;
    }
    int n;
    const char **paths = output_paths(&job->outputs, &n);
    tp_event ev = {.kind = TP_EVENT_FIT_DONE,
                   .path = job->path,
                   .outputs = paths,
                   .n_outputs = n,
                   .fingerprint = job->fingerprint};
    emit(rs->pl, &ev);
    free(paths);
    sync_outputs(job);
    advance(rs, job, TP_STAGE_CHUNK);
}

static void delivered(run_state *rs, tp_job *job)
{
    tp_pipeline *pl = rs->pl;
    sync_outputs(job);
    if (job->publish_id)
        set_str(&job->row.publish_id, job->publish_id);
    job->row.stage = TP_STAGE_DONE;
    job->row.status = TP_JOB_DONE;
    set_str(&job->row.error, NULL);
    set_str(&job->row.error_code, NULL);
    if (ledger_write(rs, job) < 0) {
        finish(rs, job);
        return;
    }
    const char **paths = NULL;
    int n = 0;
    if (job->n_delivered > 0) {
        n = job->n_delivered;
    } else {
        paths = output_paths(&job->outputs, &n);
    }
    tp_event ev = {.kind = TP_EVENT_UPLOADED,
                   .path = job->path,
                   .outputs = paths ? paths : (const char *const *)job->delivered,
                   .n_outputs = n,
                   .publish_id = job->publish_id,
                   .fingerprint = job->fingerprint,
                   .id = job->has_row ? job->row.id : 0};
    emit(pl, &ev);
    free(paths);
    /* Delivered: the work folder copy is no longer needed (with the none sink it is the
     * result, so it stays). */
    if (pl->profile->upload.sink != TP_SINK_NONE) {
        char *dir = tp_asprintf("%s/%lld", pl->outdir, (long long)job->row.id);
        if (dir)
            tp_rmtree(dir);
        free(dir);
    }
    rs->sum.done++;
    finish(rs, job);
}

/* upload.tiktok.review: the file is fitted and chunked; instead of posting it, park it in the
 * ledger (awaiting_review, at the deliver stage, with the caption the uploader would send) until
 * a person approves (queued again, with the settings) or rejects it (tp_review_approve/reject).
 * Its outputs stay in the work folder. The file's run ends here, like an upload. */
static void park_for_review(run_state *rs, tp_job *job)
{
    tp_pipeline *pl = rs->pl;
    char *caption = NULL;
    tp_error cerr = TP_ERROR_INIT;
    /* The caption proposed is the one a post would get now: sidecar, else the template. One
     * that TikTok would refuse (not UTF-8, too long) is said, and the person types one. */
    int crc = tp_tt_caption(&caption, job->path, pl->profile->upload.tiktok.caption, &cerr);
    char *json = crc == TP_ENOMEM ? NULL
                                  : tp_review_parked_json(crc == 0 ? caption : NULL,
                                                          crc < 0 ? tp_error_message(&cerr) : NULL);
    free(caption);
    tp_error_clear(&cerr);
    if (!json) {
        tp_error_set(&job->err, TP_ENOMEM, 0, "out of memory");
        finish_failed(rs, job, "deliver");
        return;
    }
    job->stage = TP_STAGE_DELIVER;
    job->row.stage = TP_STAGE_DELIVER;
    job->row.status = TP_JOB_AWAITING_REVIEW;
    free(job->row.review);
    job->row.review = json;
    set_str(&job->row.error, NULL);
    set_str(&job->row.error_code, NULL);
    if (ledger_write(rs, job) < 0) {
        finish(rs, job);
        return;
    }
    int n;
    const char **paths = output_paths(&job->outputs, &n);
    tp_event ev = {.kind = TP_EVENT_AWAITING_REVIEW,
                   .path = job->path,
                   .outputs = paths,
                   .n_outputs = (size_t)n,
                   .fingerprint = job->fingerprint,
                   .id = job->row.id};
    emit(pl, &ev);
    free(paths);
    rs->sum.awaiting_review++;
    rs->parked++;
    finish(rs, job);
}

/* A post approved in review, found in the ledger (not by a path): straight to delivery from what
 * the ledger recorded (outputs with their chunk plans and SHA-256s, which the delivery checks
 * again; posts already made; media info). The source need not be where it was: the outputs are
 * in the work folder (a file that passed as is is its own output, opened without following a
 * symbolic link). */
static void take_approved(run_state *rs, tp_ledger_row *row)
{
    tp_job *job = calloc(1, sizeof(*job));
    if (!job || !(job->path = tp_strdup(row->source_path ? row->source_path : ""))) {
        free(job);
        tp_ledger_row_clear(row);
        return;
    }
    job->src_fd = -1;
    job->src_nofollow = true;
    job->row = *row; /* takes its strings */
    memset(row, 0, sizeof(*row));
    job->has_row = true;
    tp_strlcpy(job->fingerprint, job->row.fingerprint, sizeof(job->fingerprint));
    job->size = job->row.source_size;
    job->next = rs->active;
    if (rs->active)
        rs->active->prev = job;
    rs->active = job;
    rs->n_active++;
    rs->sum.discovered++;
    tp_event ev = {.kind = TP_EVENT_DISCOVERED, .path = job->path, .id = job->row.id};
    emit(rs->pl, &ev);
    tp_error perr = TP_ERROR_INIT;
    if (job->row.media && tp_jobrec_media_from_json(&job->media, job->row.media, &perr) == 0) {
        tp_rules_check(&job->check, &job->media, rs->pl->profile);
        job->have_media = true;
    }
    tp_error_clear(&perr);
    if (!job->row.outputs ||
        tp_jobrec_outputs_from_json(&job->outputs, job->row.outputs, &job->err) < 0 ||
        tp_jobrec_posts_from_json(&job->posts, job->row.posts, &job->err) < 0) {
        if (!job->err.code)
            tp_error_set(&job->err, TP_EINTERNAL, 0, "%s: approved, but no outputs recorded",
                         job->path);
        job->stage = TP_STAGE_DELIVER;
        finish_failed(rs, job, "deliver");
        return;
    }
    advance(rs, job, TP_STAGE_DELIVER);
}

/* Is a file of this run still being scanned (its content, so its row, not known yet)? */
static bool scanning(const run_state *rs)
{
    if (rs->backlog)
        return true;
    for (const tp_job *j = rs->active; j; j = j->next)
        if (!j->has_row)
            return true;
    return false;
}

/* Posts approved in review (queued, with approved settings) of this ledger, sink and profile,
 * not in flight: taken once the paths the run was given are scanned (an approved file among
 * them resumes through its own scan: one file, one discovery), whatever those paths were, and
 * every APPROVED_POLL_SECONDS while it runs (`run --watch` posts what is approved while it
 * waits). force: look now. Returns how many were taken. Only the tiktok sink has review. */
static size_t pick_up_approved(run_state *rs, bool force)
{
    tp_pipeline *pl = rs->pl;
    double now = tp_now_monotonic();
    /* A queue worker's pipeline (mirror set) runs one job: its outcome must be that file's. */
    if (pl->profile->upload.sink != TP_SINK_TIKTOK || pl->mirror ||
        tp_cancel_requested(&pl->cancel) || (!force && (now < rs->next_poll || scanning(rs))))
        return 0;
    rs->next_poll = now + APPROVED_POLL_SECONDS;
    int64_t *ids = NULL;
    size_t n = 0;
    tp_error err = TP_ERROR_INIT;
    if (tp_ledger_reviewed_queued(pl->ledger, pl->sink_key, pl->profile->hash, &ids, &n, &err) < 0)
        tp_log(TP_LOG_WARN, "%s", tp_error_message(&err));
    tp_error_clear(&err);
    size_t taken = 0;
    for (size_t i = 0; i < n && rs->n_active < rs->max_active; i++) {
        bool in_flight = false;
        for (tp_job *j = rs->active; j && !in_flight; j = j->next)
            in_flight = j->has_row && j->row.id == ids[i];
        tp_ledger_row row;
        if (in_flight || tp_ledger_get(pl->ledger, &row, ids[i], &err) <= 0) {
            tp_error_clear(&err);
            continue;
        }
        /* Only approvals (a proposal alone stays until a person decides; a record that says
         * approved but cannot be read is taken, and failed with the reason before any post). */
        tp_review_approved ap;
        tp_error aerr = TP_ERROR_INIT;
        int approved = tp_review_approved_read(&ap, row.review, &aerr);
        tp_review_approved_clear(&ap);
        tp_error_clear(&aerr);
        if (row.status != TP_JOB_QUEUED || approved == 0) {
            tp_ledger_row_clear(&row);
            continue;
        }
        take_approved(rs, &row);
        taken++;
    }
    free(ids);
    return taken;
}

static void after_chunk(run_state *rs, tp_job *job)
{
    int64_t total = 0;
    int chunks = tp_job_outputs_chunks(&job->outputs, &total);
    tp_event ev = {.kind = TP_EVENT_CHUNKED,
                   .path = job->path,
                   .chunks = chunks,
                   .total = total,
                   .fingerprint = job->fingerprint};
    emit(rs->pl, &ev);
    sync_outputs(job);
    if (rs->pl->profile->upload.sink == TP_SINK_NONE) {
        delivered(rs, job);
        return;
    }
    if (choose_dest(rs, job) < 0) {
        tp_error_set(&job->err, TP_ENOMEM, 0, "out of memory");
        finish_failed(rs, job, "chunk");
        return;
    }
    advance(rs, job, TP_STAGE_DELIVER);
}

static void handle_result(run_state *rs, tp_job *job)
{
    rs->in_stage[stage_index(job->stage)]--;
    if (job->rc < 0) {
        on_failure(rs, job);
        return;
    }
    switch (job->stage) {
    case TP_STAGE_SCAN: after_scan(rs, job); break;
    case TP_STAGE_PROBE: after_probe(rs, job); break;
    case TP_STAGE_FIT: after_fit(rs, job); break;
    case TP_STAGE_CHUNK: after_chunk(rs, job); break;
    default: delivered(rs, job); break;
    }
}

/* ---- workers ----------------------------------------------------------------------------- */

static void *worker_main(void *arg)
{
    tp_pipeline_stage *st = arg;
    tp_pipeline *pl = st->pl;
    tp_worker self = {NULL, NULL};
    void *item;
    while (tp_fifo_pop(st->q, &item)) {
        tp_job *job = item;
        job->worker = &self;
        if (tp_cancel_requested(&pl->cancel)) {
            job->rc = tp_error_set(&job->err, TP_ECANCELED, 0, "%s: cancelled", job->path);
        } else {
            pthread_mutex_lock(&pl->mu);
            job->started = true;
            job->progress_dirty = true;
            job->progress_fraction = 0;
            pthread_mutex_unlock(&pl->mu);
            job->rc = st->work(pl, job);
        }
        pthread_mutex_lock(&pl->mu);
        job->qnext = NULL;
        if (pl->results_tail)
            pl->results_tail->qnext = job;
        else
            pl->results_head = job;
        pl->results_tail = job;
        pthread_cond_signal(&pl->results_cv);
        pthread_mutex_unlock(&pl->mu);
    }
    if (self.ctx_free)
        self.ctx_free(self.ctx);
    return NULL;
}

static int start_stages(tp_pipeline *pl, tp_error *err)
{
    const tp_pipeline_conf *c = &pl->profile->pipeline;
    struct {
        const char *name;
        tp_stage stage;
        int n;
        int (*work)(tp_pipeline *, tp_job *);
    } defs[TP_PS_COUNT] = {
        {"scan", TP_STAGE_SCAN, c->probe_workers, tp_stage_scan},
        {"probe", TP_STAGE_PROBE, c->probe_workers, tp_stage_probe},
        {"fit", TP_STAGE_FIT, c->fit_workers, tp_stage_fit},
        {"chunk", TP_STAGE_CHUNK, c->probe_workers, tp_stage_chunk},
        {"deliver", TP_STAGE_DELIVER, c->upload_workers, tp_stage_deliver},
    };
    for (int i = 0; i < TP_PS_COUNT; i++) {
        tp_pipeline_stage *st = &pl->stages[i];
        st->name = defs[i].name;
        st->stage = defs[i].stage;
        st->work = defs[i].work;
        st->pl = pl;
        if (tp_fifo_new(&st->q, (size_t)(c->queue_depth > 0 ? c->queue_depth : 1)) < 0)
            return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        int n = defs[i].n > 0 ? defs[i].n : 1;
        st->threads = calloc((size_t)n, sizeof(pthread_t));
        if (!st->threads)
            return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        for (int t = 0; t < n; t++) {
            int e = pthread_create(&st->threads[t], NULL, worker_main, st);
            if (e != 0)
                return tp_error_set(err, TP_EINTERNAL, e, "cannot start a %s worker: %s", st->name,
                                    strerror(e));
            st->n_threads++;
        }
    }
    return 0;
}

static void stop_stages(tp_pipeline *pl)
{
    for (int i = 0; i < TP_PS_COUNT; i++)
        if (pl->stages[i].q)
            tp_fifo_close(pl->stages[i].q);
    if (pl->abandoned) {
        /* A worker is stuck in a system call (a hung network mount, a FIFO): leave the threads
         * and what they use; the process is about to exit and the ledger is consistent. */
        for (int i = 0; i < TP_PS_COUNT; i++)
            for (int t = 0; t < pl->stages[i].n_threads; t++)
                pthread_detach(pl->stages[i].threads[t]);
        return;
    }
    for (int i = 0; i < TP_PS_COUNT; i++) {
        tp_pipeline_stage *st = &pl->stages[i];
        for (int t = 0; t < st->n_threads; t++)
            pthread_join(st->threads[t], NULL);
        free(st->threads);
        st->threads = NULL;
        st->n_threads = 0;
        tp_fifo_free(st->q);
        st->q = NULL;
    }
}

/* ---- input ------------------------------------------------------------------------------- */

/* not_media: NULL, or why a file found under a media name is not media; it then gets a job all
 * the same, so that its failure is in the ledger and `status` lists it. */
static int add_path(const char *path, bool from_dir, const char *not_media, void *payload)
{
    run_state *rs = payload;
    size_t len = strlen(path);
    path_node *n = malloc(sizeof(*n) + len + 1);
    if (!n)
        return 1;
    memcpy(n->path, path, len + 1);
    n->next = NULL;
    n->from_dir = from_dir;
    n->not_media = NULL;
    if (not_media && !(n->not_media = tp_strdup(not_media))) {
        free(n);
        return 1;
    }
    if (rs->backlog_tail)
        rs->backlog_tail->next = n;
    else
        rs->backlog = n;
    rs->backlog_tail = n;
    rs->sum.discovered++;
    tp_event ev = {.kind = TP_EVENT_DISCOVERED, .path = path};
    emit(rs->pl, &ev);
    return 0;
}

static void add_watched(const char *path, const char *not_media, void *payload)
{
    add_path(path, true, not_media, payload);
}

static void admit(run_state *rs)
{
    while (rs->backlog && rs->n_active < rs->max_active && !tp_cancel_requested(&rs->pl->cancel)) {
        path_node *n = rs->backlog;
        tp_job *job = calloc(1, sizeof(*job));
        if (!job || !(job->path = tp_strdup(n->path))) {
            free(job);
            return;
        }
        rs->backlog = n->next;
        if (!rs->backlog)
            rs->backlog_tail = NULL;
        job->src_fd = -1;
        job->src_nofollow = n->from_dir;
        job->not_media = n->not_media;
        free(n);
        job->row.last_chunk = -1;
        job->next = rs->active;
        if (rs->active)
            rs->active->prev = job;
        rs->active = job;
        rs->n_active++;
        advance(rs, job, TP_STAGE_SCAN);
    }
}

/* ---- progress, checkpoints, retries ------------------------------------------------------ */

static void tick(run_state *rs)
{
    tp_pipeline *pl = rs->pl;
    double now = tp_now_monotonic();
    for (tp_job *job = rs->active; job; job = job->next) {
        bool started, dirty, ckpt;
        double fraction, fps;
        int64_t bytes, total;
        char *ckpt_id = NULL, *ckpt_url = NULL, *ckpt_posts = NULL;
        double ckpt_expiry = 0;
        int ckpt_part = 0, ckpt_last = -1;
        pthread_mutex_lock(&pl->mu);
        started = job->started;
        dirty = job->progress_dirty;
        fraction = job->progress_fraction;
        fps = job->progress_fps;
        bytes = job->progress_bytes;
        total = job->progress_total;
        ckpt = job->ckpt_dirty;
        if (ckpt) {
            ckpt_id = job->ckpt_publish_id;
            ckpt_url = job->ckpt_url;
            ckpt_posts = job->ckpt_posts;
            job->ckpt_publish_id = job->ckpt_url = job->ckpt_posts = NULL;
            ckpt_expiry = job->ckpt_expiry;
            ckpt_part = job->ckpt_part;
            ckpt_last = job->ckpt_last_chunk;
        }
        pthread_mutex_unlock(&pl->mu);
        if (ckpt && job->has_row) {
            tp_error err = TP_ERROR_INIT;
            int rc = tp_ledger_save_upload(pl->ledger, job->row.id, ckpt_id, ckpt_url,
                                           ckpt_expiry, ckpt_part, ckpt_last, ckpt_posts, &err);
            free(job->row.publish_id);
            free(job->row.upload_url);
            job->row.publish_id = ckpt_id;
            job->row.upload_url = ckpt_url;
            if (ckpt_posts) {
                free(job->row.posts);
                job->row.posts = ckpt_posts;
            }
            job->row.upload_url_expiry = ckpt_expiry;
            job->row.upload_part = ckpt_part;
            job->row.last_chunk = ckpt_last;
            if (rc == 0 && pl->mirror)
                rc = pl->mirror(&job->row, pl->mirror_payload, &err);
            if (rc < 0 && !rs->fatal.code) {
                /* What TikTok acknowledged could not be recorded: going on could post the file
                 * again after a crash. Stop the run (the upload aborts at its next progress
                 * tick) and keep the job queued; the next run resumes from what was saved. */
                tp_error_move(&rs->fatal, &err);
                tp_cancel_request(&pl->cancel);
            }
            tp_error_clear(&err);
        } else {
            free(ckpt_id);
            free(ckpt_url);
            free(ckpt_posts);
        }
        if (ckpt) {
            /* Persisted: let the uploading worker go on. */
            pthread_mutex_lock(&pl->mu);
            job->ckpt_dirty = false;
            pthread_cond_broadcast(&pl->ckpt_cv);
            pthread_mutex_unlock(&pl->mu);
        }
        if (!started)
            continue;
        if (job->stage == TP_STAGE_FIT && !job->fit_started_emitted) {
            job->fit_started_emitted = true;
            tp_event ev = {.kind = TP_EVENT_FIT_STARTED,
                           .path = job->path,
                           .action = job->fit_action,
                           .fingerprint = job->fingerprint};
            emit(pl, &ev);
            job->progress_emitted = now;
            continue;
        }
        if (!dirty || now - job->progress_emitted < PROGRESS_INTERVAL)
            continue;
        if (job->stage == TP_STAGE_FIT && fraction > 0) {
            tp_event ev = {
                .kind = TP_EVENT_FIT_PROGRESS, .path = job->path, .fraction = fraction, .fps = fps};
            emit(pl, &ev);
        } else if (job->stage == TP_STAGE_DELIVER && total > 0) {
            tp_event ev = {.kind = TP_EVENT_UPLOAD_PROGRESS,
                           .path = job->path,
                           .fraction = fraction,
                           .bytes = bytes,
                           .total = total};
            emit(pl, &ev);
        } else {
            continue;
        }
        job->progress_emitted = now;
        pthread_mutex_lock(&pl->mu);
        job->progress_dirty = false;
        pthread_mutex_unlock(&pl->mu);
    }
    /* Transient failures whose backoff is over go back to their stage. */
    job_list still = {0};
    tp_job *job;
    while ((job = list_pop(&rs->delayed))) {
        if (tp_cancel_requested(&pl->cancel))
            finish_canceled(rs, job);
        else if (job->not_before <= now)
            advance(rs, job, job->stage);
        else
            list_append(&still, job);
    }
    rs->delayed = still;
}

static tp_job *wait_results(tp_pipeline *pl, double timeout)
{
    pthread_mutex_lock(&pl->mu);
    if (!pl->results_head && timeout > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        long ns = ts.tv_nsec + (long)(timeout * 1e9);
        ts.tv_sec += ns / 1000000000L;
        ts.tv_nsec = ns % 1000000000L;
        pthread_cond_timedwait(&pl->results_cv, &pl->mu, &ts);
    }
    tp_job *list = pl->results_head;
    pl->results_head = pl->results_tail = NULL;
    pthread_mutex_unlock(&pl->mu);
    return list;
}

/* ---- start-up sweep ---------------------------------------------------------------------- */

/* Remove what a killed run left behind: work folders of fits that will restart or of files
 * already delivered, and our temporary files in the sink folder whose writer is gone. */
static void sweep(tp_pipeline *pl)
{
    DIR *d = opendir(pl->outdir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        char *end = NULL;
        long long id = strtoll(de->d_name, &end, 10);
        if (de->d_name[0] == '.' || !end || *end || id <= 0)
            continue;
        tp_ledger_row row;
        tp_error err = TP_ERROR_INIT;
        int found = tp_ledger_get(pl->ledger, &row, id, &err);
        tp_error_clear(&err);
        if (found < 0)
            continue;
        bool stale = !found ||
                     (row.status == TP_JOB_DONE && pl->profile->upload.sink != TP_SINK_NONE &&
                      !strcmp(row.sink, pl->sink_key)) ||
                     (row.status != TP_JOB_DONE && row.stage <= TP_STAGE_FIT);
        if (found)
            tp_ledger_row_clear(&row);
        if (stale) {
            char *dir = tp_asprintf("%s/%s", pl->outdir, de->d_name);
            if (dir)
                tp_rmtree(dir);
            free(dir);
        }
    }
    if (d)
        closedir(d);
    if (!pl->sink_dir || !(d = opendir(pl->sink_dir)))
        return;
    static const char prefix[] = ".tokprep-tmp-";
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, prefix, sizeof(prefix) - 1))
            continue;
        long pid = strtol(de->d_name + sizeof(prefix) - 1, NULL, 10);
        if (pid == (long)getpid() || (pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH)) {
            char *p = tp_asprintf("%s/%s", pl->sink_dir, de->d_name);
            if (p)
                unlink(p);
            free(p);
        }
    }
    closedir(d);
}

/* ---- public API -------------------------------------------------------------------------- */

static char *absolute(const char *path)
{
    char buf[PATH_MAX];
    if (realpath(path, buf))
        return tp_strdup(buf);
    return NULL;
}

/* The work folder holds the ledger (upload URLs, what counts as done) and the fitted files on
 * their way to delivery. Its default, ./tokprep-work, lies in the current folder, which may be
 * the drop folder: a writer there could plant it (a folder of their own, or a link to one) and
 * so read or rewrite the ledger, skip files or swap outputs. Like ssh's StrictModes, the folder
 * must belong to us (or root), not be writable by every user, and not be reached through a
 * symbolic link someone else made; a ledger file already there must be ours and not a link. */
static int check_work_folder(const char *given, const char *resolved, const char *state_path,
                             tp_error *err)
{
    struct stat st;
    uid_t me = geteuid();
    if (lstat(given, &st) == 0 && S_ISLNK(st.st_mode) && st.st_uid != me && st.st_uid != 0)
        return tp_error_set(err, TP_ECONFIG, 0,
                            "%s: the work folder is a symbolic link made by another user "
                            "(uid %u); refusing it (use -o with a folder only you can write)",
                            given, (unsigned)st.st_uid);
    if (stat(resolved, &st) < 0)
        return tp_error_set(err, TP_EIO, errno, "%s: %s", resolved, strerror(errno));
    if (st.st_uid != me && st.st_uid != 0)
        return tp_error_set(err, TP_ECONFIG, 0,
                            "%s: the work folder belongs to another user (uid %u); refusing it "
                            "(use -o with a folder only you can write)",
                            resolved, (unsigned)st.st_uid);
    if (st.st_mode & S_IWOTH)
        return tp_error_set(err, TP_ECONFIG, 0,
                            "%s: the work folder is writable by every user (mode %04o); refusing "
                            "it (use -o with a folder only you can write)",
                            resolved, (unsigned)(st.st_mode & 07777));
    /* Whoever owns a folder above it can rename ours away and put theirs in its place (the
     * ledger is reopened by name): every ancestor must be ours or root's, and one writable by
     * every user needs the sticky bit (like /tmp). */
    char *up = tp_strdup(resolved);
    if (!up)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    int rc = 0;
    for (char *slash = strrchr(up, '/'); slash && rc == 0; slash = strrchr(up, '/')) {
        slash[slash == up ? 1 : 0] = '\0';
        if (stat(up, &st) == 0 &&
            ((st.st_uid != me && st.st_uid != 0) ||
             ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX))))
            rc = tp_error_set(err, TP_ECONFIG, 0,
                              "%s: the work folder lies in %s, which %s; refusing it (use -o "
                              "with a folder only you can write)",
                              resolved, up,
                              st.st_uid != me && st.st_uid != 0
                                  ? "belongs to another user"
                                  : "every user can write (and it has no sticky bit)");
        if (slash == up)
            break;
    }
    free(up);
    if (rc < 0)
        return rc;
    if (lstat(state_path, &st) == 0 &&
        (!S_ISREG(st.st_mode) || (st.st_uid != me && st.st_uid != 0)))
        return tp_error_set(err, TP_ECONFIG, 0,
                            "%s: the ledger is %s; refusing it", state_path,
                            S_ISLNK(st.st_mode)  ? "a symbolic link"
                            : !S_ISREG(st.st_mode) ? "not a regular file"
                                                   : "owned by another user");
    return 0;
}

static const tp_sink_ops sink_none = {"none", NULL};

static const tp_sink_ops *sink_ops_for(tp_sink_kind kind)
{
    switch (kind) {
    case TP_SINK_DIRECTORY: return &tp_sink_directory;
    case TP_SINK_TIKTOK: return &tp_sink_tiktok;
    case TP_SINK_NONE:
    default: return &sink_none;
    }
}

int tp_pipeline_options_init(tp_pipeline_options *opts, unsigned version)
{
    if (!opts || version != TP_PIPELINE_OPTIONS_VERSION)
        return TP_EINVAL;
    *opts = (tp_pipeline_options)TP_PIPELINE_OPTIONS_INIT;
    return 0;
}

int tp_pipeline_new(tp_pipeline **out, const tp_profile *profile, const tp_pipeline_options *opts,
                    tp_error *err)
{
    int rc = 0;
    *out = NULL;
    if (!profile)
        return tp_error_set(err, TP_EINVAL, 0, "tp_pipeline_new: bad arguments");
    if (opts && opts->version != TP_PIPELINE_OPTIONS_VERSION)
        return tp_error_set(err, TP_EINVAL, 0, "tp_pipeline_new: unknown opts version %u",
                            opts->version);
    tp_pipeline *pl = calloc(1, sizeof(*pl));
    if (!pl)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    pthread_mutex_init(&pl->mu, NULL);
    pthread_cond_init(&pl->results_cv, NULL);
    pthread_cond_init(&pl->ckpt_cv, NULL);
    pl->profile = profile;
    tp_pipeline_options defaults = TP_PIPELINE_OPTIONS_INIT;
    pl->opts = opts ? *opts : defaults;
    tp_cancel_init(&pl->cancel, pl->opts.cancel);
    const char *workdir = pl->opts.workdir ? pl->opts.workdir : "./tokprep-work";
    if ((rc = tp_mkdirs(workdir, err)) < 0)
        goto fail;
    pl->workdir = absolute(workdir);
    pl->outdir = pl->workdir ? tp_asprintf("%s/out", pl->workdir) : NULL;
    if (!pl->outdir) {
        rc = tp_error_set(err, TP_EIO, errno, "%s: cannot resolve the work folder", workdir);
        goto fail;
    }
    pl->state_path = pl->opts.state_path ? tp_strdup(pl->opts.state_path)
                                         : tp_asprintf("%s/tokprep.db", pl->workdir);
    if (pl->state_path && (rc = check_work_folder(workdir, pl->workdir, pl->state_path, err)) < 0)
        goto fail;
    if ((rc = tp_mkdirs(pl->outdir, err)) < 0)
        goto fail;
    switch (profile->upload.sink) {
    case TP_SINK_DIRECTORY: {
        const char *dir = profile->upload.directory_path;
        if (!dir || !*dir) {
            rc = tp_error_set(err, TP_ECONFIG, 0, "profile '%s': upload.directory.path is empty",
                              profile->name);
            goto fail;
        }
        /* A relative path lies in the current folder, perhaps the drop folder: a link there made
         * by someone else would send every delivery into a folder of their choosing. */
        struct stat lst;
        if (lstat(dir, &lst) == 0 && S_ISLNK(lst.st_mode) && lst.st_uid != geteuid() &&
            lst.st_uid != 0) {
            rc = tp_error_set(err, TP_ECONFIG, 0,
                              "%s: the sink folder is a symbolic link made by another user (uid "
                              "%u); refusing it",
                              dir, (unsigned)lst.st_uid);
            goto fail;
        }
        if ((rc = tp_mkdirs(dir, err)) < 0)
            goto fail;
        pl->sink_dir = absolute(dir);
        pl->sink_key = pl->sink_dir ? tp_asprintf("directory:%s", pl->sink_dir) : NULL;
        break;
    }
    case TP_SINK_TIKTOK:
        pl->sink_key = tp_asprintf("tiktok:%s", profile->upload.tiktok.api_base);
        break;
    default: pl->sink_key = tp_strdup("none");
    }
    pl->sink = sink_ops_for(profile->upload.sink);
    if (!pl->state_path || !pl->sink_key) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto fail;
    }
    const char *slash = strrchr(pl->state_path, '/');
    if (slash && slash != pl->state_path) {
        char *dir = tp_strdup(pl->state_path);
        if (dir) {
            dir[slash - pl->state_path] = '\0';
            rc = tp_mkdirs(dir, err);
        }
        free(dir);
        if (rc < 0)
            goto fail;
    }
    if ((rc = tp_ledger_open(&pl->ledger, pl->state_path, true, err)) < 0)
        goto fail;
    if (profile->upload.sink == TP_SINK_TIKTOK && (rc = tp_ledger_set_durable(pl->ledger, err)) < 0)
        goto fail;
    *out = pl;
    return 0;
fail:
    tp_pipeline_free(pl);
    return rc;
}

void tp_pipeline_set_mirror(tp_pipeline *pl, tp_pipeline_mirror_fn mirror,
                            void *payload)
{
    pl->mirror = mirror;
    pl->mirror_payload = payload;
}

void tp_pipeline_expect_fingerprint(tp_pipeline *pl, const char *fingerprint)
{
    tp_strlcpy(pl->expect_fingerprint, fingerprint ? fingerprint : "",
               sizeof(pl->expect_fingerprint));
}

void tp_pipeline_stop(tp_pipeline *pl)
{
    /* Only a flag: async-signal-safe. Everyone who waits looks at it at least every tick. */
    if (pl)
        tp_cancel_request(&pl->cancel);
}

void tp_pipeline_free(tp_pipeline *pl)
{
    if (!pl)
        return;
    tp_ledger_close(pl->ledger);
    pl->ledger = NULL;
    tp_eventlog_close(pl->evlog);
    pl->evlog = NULL;
    if (pl->abandoned)
        return; /* stuck workers still reference it: see stop_stages() */
    pthread_mutex_destroy(&pl->mu);
    pthread_cond_destroy(&pl->results_cv);
    pthread_cond_destroy(&pl->ckpt_cv);
    free(pl->workdir);
    free(pl->outdir);
    free(pl->state_path);
    free(pl->sink_key);
    free(pl->sink_dir);
    free(pl);
}

/* The jobs a run may hold in flight: the queues and workers, and under the descriptor limit,
 * since every job in flight holds its source open (tp_job.src_fd) and a worker holds a few more
 * while it works (fit parts, sink copies, sockets). */
static int max_in_flight(const tp_pipeline_conf *c)
{
    int max = c->queue_depth + c->probe_workers + c->fit_workers + c->upload_workers;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        long workers = 2L * c->probe_workers + c->fit_workers + c->upload_workers;
        long room = (long)rl.rlim_cur - 64 - 8 * workers;
        if (room < 4)
            room = 4;
        if (max > room)
            max = (int)room;
    }
    return max;
}

/* What a crash left `running` goes back to `queued`, to be resumed by this run. */
static int recover_ledger(tp_pipeline *pl, tp_error *err)
{
    int recovered = 0;
    int rc = tp_ledger_recover(pl->ledger, &recovered, err);
    if (rc == 0 && recovered)
        tp_log(TP_LOG_INFO, "%s: resuming %d interrupted file(s)", pl->state_path, recovered);
    return rc;
}

/* Set-up: sweep a crash's leftovers, start the stage workers and (--watch) the watcher. */
static int run_setup(run_state *rs, const char *const *paths, size_t n_paths, tp_watch **watch,
                     tp_error *err)
{
    tp_pipeline *pl = rs->pl;
    int rc;
    sweep(pl);
    if ((rc = start_stages(pl, err)) < 0)
        return rc;
    /* Watch before walking, so nothing written in between is missed (the ledger removes any
     * double). */
    if (pl->opts.watch)
        rc = tp_watch_open(watch, paths, n_paths, pl->profile->pipeline.settle_seconds, rs->exclude,
                           2, err);
    return rc;
}

/* The same files, in the same order, as `check` and `fit` see (pipeline/scan.h), minus our own
 * folders (or every run would take its own outputs as new input) and temporary names of files
 * still being downloaded, into the backlog. One PATH at a time, so an interrupt during a long
 * walk is noticed between them. */
static void feed_paths(run_state *rs, const char *const *paths, size_t n_paths)
{
    tp_pipeline *pl = rs->pl;
    tp_scan_options scan_opts = TP_SCAN_OPTIONS_INIT;
    scan_opts.follow_symlinks = pl->opts.follow_symlinks != 0;
    for (size_t p = 0; p < n_paths && !tp_cancel_requested(&pl->cancel); p++) {
        tp_scan_list found = TP_SCAN_LIST_INIT;
        tp_error serr = TP_ERROR_INIT;
        if (tp_scan_paths(&found, &paths[p], 1, &scan_opts, &serr) < 0)
            tp_log(TP_LOG_WARN, "%s", tp_error_message(&serr));
        tp_error_clear(&serr);
        rs->sum.non_media += found.n_non_media;
        rs->sum.symlinks += found.n_symlinks;
        for (size_t i = 0; i < found.n && !tp_cancel_requested(&pl->cancel); i++) {
            const tp_scan_entry *e = &found.items[i];
            if (e->not_media) {
                /* A job all the same, so the failure is in the ledger; never in our folders. */
                if (!tp_path_within(e->path, rs->exclude, 2))
                    add_path(e->path, e->from_dir, e->message, rs);
                continue;
            }
            if (e->error) {
                rs->sum.discovered++;
                tp_event ev = {.kind = TP_EVENT_FAILED,
                               .path = e->path,
                               .stage = "scan",
                               .error_code = tp_error_name(e->error),
                               .reason = e->message,
                               .final_failure = 1};
                emit(pl, &ev);
                rs->sum.failed++;
                continue;
            }
            const char *base = strrchr(e->path, '/');
            if (e->from_dir && (tp_walk_name_ignored(base ? base + 1 : e->path) ||
                                tp_path_within(e->path, rs->exclude, 2)))
                continue;
            add_path(e->path, e->from_dir, NULL, rs);
        }
        tp_scan_list_free(&found);
    }
}

/* Take back every result the workers have finished (waiting up to a tick for one). */
static void take_results(run_state *rs)
{
    tp_job *list = wait_results(rs->pl, TICK_SECONDS);
    while (list) {
        tp_job *next = list->qnext;
        handle_result(rs, list);
        list = next;
    }
}

/* The coordinator loop: admit, dispatch, take results, tick, until everything is done (never,
 * with --watch) or the run is cancelled. */
static void coordinate(run_state *rs, tp_watch *watch)
{
    tp_pipeline *pl = rs->pl;
    for (;;) {
        admit(rs);
        pick_up_approved(rs, false);
        pump_waiting(rs);
        if (tp_cancel_requested(&pl->cancel))
            break;
        /* Before ending, one more look: a post approved meanwhile goes out with this run. */
        if (!pl->opts.watch && !rs->backlog && rs->n_active == 0 && !pick_up_approved(rs, true))
            break;
        take_results(rs);
        tick(rs);
        if (watch) {
            tp_error werr = TP_ERROR_INIT;
            if (tp_watch_poll(watch, add_watched, rs, &werr) < 0)
                tp_log(TP_LOG_WARN, "%s", tp_error_message(&werr));
            tp_error_clear(&werr);
        }
    }
}

static void drop_backlog(run_state *rs)
{
    while (rs->backlog) {
        path_node *n = rs->backlog;
        rs->backlog = n->next;
        free(n->not_media);
        free(n);
    }
}

/* Cancelled: stop taking work; jobs still queued come back cancelled at once, running ones as
 * soon as they notice the flag (fits remove their temporary outputs). */
static void drain_canceled(run_state *rs)
{
    tp_pipeline *pl = rs->pl;
    drop_backlog(rs);
    for (int si = 0; si < TP_PS_COUNT; si++) {
        tp_job *job;
        while ((job = list_pop(&rs->waiting[si])))
            finish_canceled(rs, job);
    }
    tick(rs); /* persists checkpoints, finishes delayed jobs */
    double deadline = tp_now_monotonic() + 1.5;
    while (rs->n_active > 0) {
        take_results(rs);
        tick(rs);
        if (tp_now_monotonic() > deadline) {
            /* Exit within 2 s is the promise: their rows stay `running` and the next run
             * resumes them (tp_ledger_recover). */
            tp_log(TP_LOG_WARN, "%d job(s) did not stop in time; abandoning them", rs->n_active);
            pl->abandoned = true;
            break;
        }
    }
}

/* Stop the workers, put back what is still listed, emit the summary and say how the run ended. */
static int run_finish(run_state *rs, tp_watch *watch, int rc, tp_pipeline_summary *summary,
                      tp_error *err)
{
    tp_pipeline *pl = rs->pl;
    stop_stages(pl);
    /* Anything still listed (only after a start-up failure) goes back to the ledger queued;
     * abandoned jobs belong to their stuck workers. */
    while (rs->active && !pl->abandoned)
        finish_canceled(rs, rs->active);
    drop_backlog(rs);
    tp_watch_close(watch);
    rs->sum.canceled = tp_cancel_requested(&pl->cancel) ? 1 : 0;
    size_t finished =
        rs->sum.done + rs->sum.skipped + rs->sum.rejected + rs->sum.failed + rs->parked;
    rs->sum.queued = rs->sum.discovered > finished ? rs->sum.discovered - finished : 0;
    tp_event ev = {.kind = TP_EVENT_SUMMARY,
                   .n_queued = rs->sum.queued,
                   .n_earlier_rejected = rs->sum.earlier_rejected,
                   .n_earlier_failed = rs->sum.earlier_failed,
                   .n_discovered = rs->sum.discovered,
                   .n_done = rs->sum.done,
                   .n_skipped = rs->sum.skipped,
                   .n_rejected = rs->sum.rejected,
                   .n_failed = rs->sum.failed,
                   .n_non_media = rs->sum.non_media,
                   .n_symlinks = rs->sum.symlinks,
                   .n_awaiting_review = rs->sum.awaiting_review,
                   .elapsed = tp_now_monotonic() - rs->t0};
    emit(pl, &ev);
    if (summary)
        *summary = rs->sum;
    if (rc == 0 && rs->fatal.code) {
        rc = rs->fatal.code;
        if (err)
            tp_error_move(err, &rs->fatal);
    } else if (rc == 0 && tp_cancel_requested(&pl->cancel)) {
        rc = tp_error_set(err, TP_ECANCELED, 0, "interrupted");
    }
    tp_error_clear(&rs->fatal);
    return rc;
}

int tp_pipeline_run(tp_pipeline *pl, const char *const *paths, size_t n_paths,
                    tp_pipeline_summary *summary, tp_error *err)
{
    tp_watch *watch = NULL;
    run_state rs = {.pl = pl, .sum = {.version = TP_PIPELINE_SUMMARY_VERSION}};
    if (summary)
        *summary = rs.sum;
    if (pl->ran)
        return tp_error_set(err, TP_EINVAL, 0, "tp_pipeline_run: a pipeline runs once");
    pl->ran = true;
    rs.t0 = tp_now_monotonic();
    rs.exclude[0] = pl->workdir;
    rs.exclude[1] = pl->sink_dir;
    rs.max_active = max_in_flight(&pl->profile->pipeline);
    int rc = recover_ledger(pl, err);
    if (rc < 0)
        return rc;
    /* Absolute from here on (lexically: a file given through a link keeps its name), so the
     * ledger's paths mean the same file to `status`, `serve` and a later run started in another
     * folder (an approved post is picked up whatever the run's folder). */
    char **abs = calloc(n_paths ? n_paths : 1, sizeof(*abs));
    if (!abs)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    for (size_t i = 0; i < n_paths; i++)
        if (!(abs[i] = tp_path_absolute(paths[i]))) {
            for (size_t j = 0; j < i; j++)
                free(abs[j]);
            free(abs);
            return tp_error_set(err, TP_EIO, errno, "%s: cannot make the path absolute: %s",
                                paths[i], strerror(errno));
        }
    const char *const *roots = (const char *const *)abs;
    if ((rc = run_setup(&rs, roots, n_paths, &watch, err)) == 0) {
        feed_paths(&rs, roots, n_paths);
        tp_test_pause(pl, "walk");
        coordinate(&rs, watch);
        if (tp_cancel_requested(&pl->cancel))
            drain_canceled(&rs);
    }
    rc = run_finish(&rs, watch, rc, summary, err);
    for (size_t i = 0; i < n_paths; i++)
        free(abs[i]);
    free(abs);
    return rc;
}
