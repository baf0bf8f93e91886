/* The `tiktok` sink: posts each output through the upload client (one session per upload
 * worker), persisting its resume state in the ledger after every acknowledged chunk, so a
 * re-run continues from the last acknowledged chunk while the upload URL is valid (the client
 * re-initialises once it has expired). Parts of a split file are posts of their own; the ones
 * finished are listed in the ledger's `posts` and never posted again. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/internal.h"
#include "pipeline/review.h"
#include "probe/cover.h"
#include "probe/probe.h"
#include "transcode/fit.h"
#include "util/tp_util.h"

void tp_pipeline_set_tt_limits(struct tp_pipeline *pl, struct tp_tt_limits *limits)
{
    pl->tt_limits = limits;
}

#if __has_include("upload/tiktok.h")
#include "upload/tiktok.h"

typedef struct {
    struct tp_pipeline *pl;
    tp_job *job;
    int part;
    int64_t done_bytes, all_bytes; /* of earlier parts, of all parts */
    /* upload.tiktok.review: the settings a person approved (caption NULL: each part's caption
     * is given as usual), else NULL: the profile's */
    const tp_post_settings *settings;
} post_ctx;

static void on_progress(const tp_tiktok_event *ev, void *payload)
{
    post_ctx *c = payload;
    if (ev->kind == TP_TIKTOK_EV_INIT || ev->kind == TP_TIKTOK_EV_CHUNK_DONE) {
        const tp_tiktok_resume *r = ev->resume;
        tp_job_checkpoint(c->pl, c->job, r->publish_id, r->upload_url, r->upload_url_expires_at,
                          c->part, r->next_chunk - 1, NULL);
    }
    if (ev->kind == TP_TIKTOK_EV_BYTES || ev->kind == TP_TIKTOK_EV_CHUNK_DONE) {
        int64_t sent = c->done_bytes + ev->bytes_sent;
        tp_job_progress(c->pl, c->job, c->all_bytes ? (double)sent / (double)c->all_bytes : 0, 0,
                        sent, c->all_bytes);
    }
}

/* The duration of the bytes about to be posted, for the direct post's check against the
 * creator's max_video_post_duration_sec: measured on fd (read with pread only), as `upload`
 * does; -1 (unknown: TikTok checks it) only when it cannot be measured. */
static double output_duration(struct tp_pipeline *pl, const tp_job_output *out, int fd,
                              const char *path)
{
    /* As the fit verified it (the source's own when passed as is): the bytes sent are those,
     * by their chunk SHA-256s. Only an output recorded before the ledger kept it is probed. */
    if (out->have_media)
        return out->media.duration;
    return tp_media_duration_fd(fd, path, pl->profile, &pl->cancel);
}

static void session_free(void *ctx)
{
    tp_tiktok_free(ctx);
}

/* video_cover_timestamp_ms for the first part: where the fit placed the cover image, or -1
 * (the profile's). A job resumed after its fit (the ledger keeps no cover) looks again. */
static long long cover_ms_for(struct tp_pipeline *pl, tp_job *job)
{
    if (job->cover_set)
        return job->cover_ms;
    if (job->cover_found || job->outputs.n < 1)
        return -1;
    tp_cover_info ci;
    tp_error e = TP_ERROR_INIT;
    int rc = tp_cover_find(&ci, job->path, pl->profile, &e);
    tp_error_clear(&e);
    job->cover_found = true;
    if (rc < 0 || ci.source == TP_COVER_NONE)
        return -1;
    int frames;
    job->cover_set = true;
    job->cover_ms =
        tp_fit_cover_timestamp(&frames, &pl->profile->fix, job->outputs.v[0].media.video.fps);
    return job->cover_ms;
}

/* Record a post TikTok ended FAILED in the ledger's posts (with the part's resume state
 * cleared: that publish_id is finished), before anything else is tried. */
static int note_failed(struct tp_pipeline *pl, tp_job *job, int part, const tp_tiktok_result *res,
                       bool refit)
{
    if (tp_job_posts_add_failed(&job->posts, part, res->publish_id, res->fail_reason, refit) < 0)
        return TP_ENOMEM;
    char *ps = tp_jobrec_posts_to_json(&job->posts);
    if (!ps)
        return TP_ENOMEM;
    tp_job_checkpoint(pl, job, NULL, NULL, 0, part, -1, ps);
    free(ps);
    return 0;
}

static void on_refit_progress(const tp_tiktok_event *ev, void *payload)
{
    post_ctx *c = payload;
    /* No resume state for the re-fitted file: a re-run re-fits and posts it from the start. */
    if (ev->kind == TP_TIKTOK_EV_BYTES || ev->kind == TP_TIKTOK_EV_CHUNK_DONE)
        tp_job_progress(c->pl, c->job, ev->total ? (double)ev->bytes_sent / (double)ev->total : 0,
                        0, ev->bytes_sent, ev->total);
}

/* upload.tiktok.on_failed: refit. Re-fit output `part` once with the strict settings into
 * WORKDIR/out/<id>.refit and post that file; its failure is final (recorded, never refitted
 * again). 0 with *res filled (the caller records the post), or a negative TP_E* in job->err. */
static int refit_and_post(struct tp_pipeline *pl, tp_job *job, tp_tiktok *tt, int part,
                          const char *caption, post_ctx *ctx, tp_tiktok_result *res)
{
    const tp_job_output *o = &job->outputs.v[part];
    char **paths = NULL;
    int n = 0, rc;
    bool owned = false;
    char *outdir = tp_asprintf("%s/%lld.refit", pl->outdir, (long long)job->row.id);
    if (!outdir)
        return tp_error_set(&job->err, TP_ENOMEM, 0, "out of memory");
    tp_log(TP_LOG_WARN,
           "%s: TikTok refused it; re-fitting once with the strict settings "
           "(upload.tiktok.on_failed: refit)",
           job->path);
    tp_rmtree(outdir);
    int fd = -1;
    if ((rc = tp_mkdirs(outdir, &job->err)) < 0)
        goto out;
    if ((fd = tp_job_open_output(job, o->path, &owned)) < 0) {
        rc = TP_EIO;
        goto out;
    }
    tp_fit_run_options fo = {.cancel = &pl->cancel};
    if ((rc = tp_fit_strict(&paths, &n, o->path, fd, pl->profile, outdir, &fo, &job->err)) < 0)
        goto out;
    if (n != 1) {
        rc = tp_error_set(&job->err, TP_EREJECT, 0,
                          "%s: the strict re-fit made %d files, not one; not posted again",
                          job->path, n);
        goto out;
    }
    tp_tiktok_post_options po = TP_TIKTOK_POST_OPTIONS_INIT;
    po.caption = caption;
    po.settings = ctx->settings;
    po.cover_timestamp_ms = part == 0 ? cover_ms_for(pl, job) : -1;
    po.progress = on_refit_progress;
    po.payload = ctx;
    po.cancel = &pl->cancel;
    rc = tp_tiktok_post_media(res, tt, paths[0], &po, &job->err);
    if (rc < 0 && res->status && !strcmp(res->status, "FAILED")) {
        tp_error_prefix(&job->err, "%s: the strict re-fit was refused too (final)", job->path);
        if (note_failed(pl, job, part, res, true) < 0)
            tp_log(TP_LOG_ERROR, "%s: out of memory recording the failed post", job->path);
    }
out:
    if (owned)
        close(fd);
    tp_fit_paths_free(paths, n);
    tp_rmtree(outdir);
    free(outdir);
    return rc;
}

/* Post output `i` as the chunk stage checked it, resuming the ledger's upload of it. 0 with *res
 * filled, or a negative TP_E* in job->err (res->status FAILED when TikTok refused it). */
static int post_part(struct tp_pipeline *pl, tp_job *job, tp_tiktok *tt, int i, const char *caption,
                     post_ctx *ctx, tp_tiktok_result *res)
{
    const tp_tiktok_conf *tc = &pl->profile->upload.tiktok;
    const tp_job_output *o = &job->outputs.v[i];
    const char *path = o->path;
    int rc = 0;
    tp_tiktok_resume resume = TP_TIKTOK_RESUME_INIT;
    if (job->row.upload_part == i && job->row.publish_id && *job->row.publish_id) {
        resume.publish_id = tp_strdup(job->row.publish_id);
        if (job->row.upload_url && *job->row.upload_url)
            resume.upload_url = tp_strdup(job->row.upload_url);
        if (!resume.publish_id ||
            (job->row.upload_url && *job->row.upload_url && !resume.upload_url)) {
            /* Without it the upload would start a second post of the file. */
            tp_tiktok_resume_clear(&resume);
            return tp_error_set(&job->err, TP_ENOMEM, 0, "out of memory");
        }
        resume.upload_url_expires_at = job->row.upload_url_expiry;
        resume.next_chunk = job->row.last_chunk + 1;
        resume.chunk_count = o->plan.count;
        resume.chunk_size = (long long)o->plan.chunk_size;
        resume.total = o->size;
    }
    tp_tiktok_post_options po = TP_TIKTOK_POST_OPTIONS_INIT;
    po.caption = caption;
    po.settings = ctx->settings;
    po.cover_timestamp_ms = i == 0 ? cover_ms_for(pl, job) : -1; /* the cover opens part 1 */
    po.resume = &resume;
    po.progress = on_progress;
    po.payload = ctx;
    po.cancel = &pl->cancel;
    /* The bytes posted are the ones the chunk stage hashed, in the chunks it planned: one
     * descriptor (the job's own for a source passed as is), each chunk's SHA-256 checked
     * as it is sent. */
    const char **sha = tp_job_output_sha_list(o);
    bool owned = false;
    int fd = path ? tp_job_open_output(job, path, &owned) : -1;
    tp_src_stat st;
    if (!sha) {
        rc = tp_error_set(&job->err, o->chunked ? TP_ENOMEM : TP_EINTERNAL, 0,
                          "%s: no chunk SHA-256s recorded", path ? path : job->path);
    } else if (fd < 0) {
        rc = TP_EIO;
    } else if (tp_src_fstat(fd, &st) < 0 || st.size != o->size) {
        rc = tp_error_set(&job->err, TP_EIO, 0,
                          "%s: changed since it was checked (%lld bytes, %lld checked); not "
                          "delivered",
                          path, (long long)st.size, (long long)o->size);
    } else {
        if (tc->mode == TP_POST_DIRECT)
            po.duration = output_duration(pl, o, fd, path);
        rc = tp_tiktok_post_plan(res, tt, fd, path, &o->plan, sha, &po, &job->err);
    }
    if (owned)
        close(fd);
    free(sha);
    tp_tiktok_resume_clear(&resume);
    return rc;
}

/* Post output i, and with upload.tiktok.on_failed: refit, its strict re-fit once when TikTok
 * ends the post FAILED for a property of the file. *was_refit: res is the re-fit's post. */
static int deliver_part(struct tp_pipeline *pl, tp_job *job, tp_tiktok *tt, int i,
                        const char *caption, post_ctx *ctx, tp_tiktok_result *res, bool *was_refit)
{
    bool refit = pl->profile->upload.tiktok.on_failed == TP_ON_FAILED_REFIT;
    const tp_job_failed_post *refused = tp_job_posts_failed_of(&job->posts, i, true);
    const tp_job_failed_post *failed = tp_job_posts_failed_of(&job->posts, i, false);
    *was_refit = false;
    ctx->part = i;
    if (refit && refused)
        /* One refit per file: TikTok refused the re-fitted file too, in an earlier run. */
        return tp_error_set(&job->err, TP_EREJECT, 0,
                            "%s: TikTok refused the strict re-fit too (%s, rule %s; publish_id "
                            "%s); not posted again",
                            job->path, refused->fail_reason,
                            tp_tiktok_fail_rule(refused->fail_reason), refused->publish_id);
    if (refit && failed && tp_tiktok_fail_refittable(failed->fail_reason)) {
        /* Refused in an earlier run: the same bytes would be refused again. */
        *was_refit = true;
        return refit_and_post(pl, job, tt, i, caption, ctx, res);
    }
    int rc = post_part(pl, job, tt, i, caption, ctx, res);
    if (rc >= 0 || !res->status || strcmp(res->status, "FAILED"))
        return rc;
    if (note_failed(pl, job, i, res, false) < 0)
        tp_log(TP_LOG_ERROR, "%s: out of memory recording the failed post", job->path);
    if (!refit || !tp_tiktok_fail_refittable(res->fail_reason))
        return rc;
    tp_log(TP_LOG_WARN, "%s", tp_error_message(&job->err));
    tp_error_clear(&job->err);
    tp_tiktok_result_clear(res);
    *was_refit = true;
    return refit_and_post(pl, job, tt, i, caption, ctx, res);
}

static int tiktok_deliver(struct tp_pipeline *pl, tp_job *job)
{
    int rc = 0;
    char *caption = NULL;
    int n = job->outputs.n;
    tp_review_approved approved = {0};
    tp_post_settings settings;
    if (n <= 0)
        return tp_error_set(&job->err, TP_EINTERNAL, 0, "%s: no outputs to upload", job->path);
    tp_worker *w = job->worker;
    if (!w->ctx) {
        tp_tiktok *tt = NULL;
        if ((rc = tp_tiktok_open(&tt, pl->profile, &job->err)) < 0)
            goto out;
        if (pl->tt_limits)
            tp_tiktok_set_limits(tt, pl->tt_limits);
        w->ctx = tt;
        w->ctx_free = session_free;
    }
    const tp_tiktok_conf *tc = &pl->profile->upload.tiktok;
    /* Approved in review: exactly the settings and caption the person chose (a record that
     * says approved but cannot be read fails the file: never posted with other settings). */
    int reviewed = tp_review_approved_read(&approved, job->row.review, &job->err);
    if (reviewed < 0) {
        rc = reviewed;
        tp_error_prefix(&job->err, "%s", job->path);
        goto out;
    }
    if (reviewed) {
        settings = approved.s;
        settings.caption = NULL; /* goes as `caption`, with the part numbers of a split file */
        if (!(caption = tp_strdup(approved.caption ? approved.caption : ""))) {
            rc = tp_error_set(&job->err, TP_ENOMEM, 0, "out of memory");
            goto out;
        }
    } else if (tc->mode == TP_POST_DIRECT &&
               (rc = tp_tt_caption(&caption, job->path, tc->caption, &job->err)) < 0) {
        /* The caption comes from the source (its sidecar <stem>.txt), not from the work copy. */
        goto out;
    }
    post_ctx ctx = {pl, job, 0, 0, 0, reviewed ? &settings : NULL};
    for (int i = 0; i < n; i++)
        ctx.all_bytes += job->outputs.v[i].size;
    for (int i = 0; i < n; i++) {
        const tp_job_output *o = &job->outputs.v[i];
        if (i < job->posts.n) { /* posted in an earlier run */
            ctx.done_bytes += o->size;
            continue;
        }
        char *part_caption = NULL;
        if (caption && n > 1)
            part_caption = tp_asprintf("%s (%d/%d)", caption, i + 1, n);
        tp_tiktok_result res = TP_TIKTOK_RESULT_INIT;
        bool was_refit = false;
        rc = deliver_part(pl, job, (tp_tiktok *)w->ctx, i, part_caption ? part_caption : caption,
                          &ctx, &res, &was_refit);
        free(part_caption);
        if (rc < 0) {
            job->retry_at = res.retry_at;
            tp_tiktok_result_clear(&res);
            goto out;
        }
        rc = tp_job_posts_add(&job->posts, res.publish_id, res.status, res.still_processing != 0,
                              (long long)res.post_id);
        if (rc == 0)
            job->posts.v[job->posts.n - 1].refit = was_refit;
        tp_tiktok_result_clear(&res);
        if (rc < 0) {
            rc = tp_error_set(&job->err, TP_ENOMEM, 0, "out of memory");
            goto out;
        }
        char *ps = tp_jobrec_posts_to_json(&job->posts);
        /* This part is posted: record it with the resume state cleared for the next part. */
        tp_job_checkpoint(pl, job, NULL, NULL, 0, i + 1, -1, ps);
        free(ps);
        ctx.done_bytes += o->size;
    }
    job->delivered = calloc((size_t)job->posts.n + 1, sizeof(char *));
    for (int i = 0; job->delivered && i < job->posts.n; i++)
        job->delivered[job->n_delivered++] = tp_strdup(job->posts.v[i].publish_id);
    if (job->n_delivered > 0)
        job->publish_id = tp_strdup(job->delivered[0]);
out:
    free(caption);
    tp_review_approved_clear(&approved);
    return rc;
}

const tp_sink_ops tp_sink_tiktok = {"tiktok", tiktok_deliver};

#else

static int tiktok_deliver(struct tp_pipeline *pl, tp_job *job)
{
    (void)pl;
    return tp_error_set(&job->err, TP_EUNSUPPORTED, 0,
                        "%s: this build has no TikTok client (upload/tiktok.h)", job->path);
}

const tp_sink_ops tp_sink_tiktok = {"tiktok", tiktok_deliver};

#endif
