/* The `tiktok` sink: posts each output through the upload client (one session per upload
 * worker), persisting its resume state in the ledger after every acknowledged chunk, so a
 * re-run continues from the last acknowledged chunk while the upload URL is valid (the client
 * re-initialises once it has expired). Parts of a split file are posts of their own; the ones
 * finished are listed in the ledger's `posts` and never posted again. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/internal.h"
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

static int tiktok_deliver(struct tp_pipeline *pl, tp_job *job)
{
    int rc = 0;
    char *caption = NULL;
    int n = job->outputs.n;
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
    /* The caption comes from the source (its sidecar <stem>.txt), not from the work copy. */
    if (tc->mode == TP_POST_DIRECT &&
        (rc = tp_tt_caption(&caption, job->path, tc->caption, &job->err)) < 0)
        goto out;
    post_ctx ctx = {pl, job, 0, 0, 0};
    for (int i = 0; i < n; i++)
        ctx.all_bytes += job->outputs.v[i].size;
    for (int i = 0; i < n; i++) {
        const tp_job_output *o = &job->outputs.v[i];
        if (i < job->posts.n) { /* posted in an earlier run */
            ctx.done_bytes += o->size;
            continue;
        }
        const char *path = o->path;
        tp_tiktok_resume resume = TP_TIKTOK_RESUME_INIT;
        if (job->row.upload_part == i && job->row.publish_id && *job->row.publish_id) {
            resume.publish_id = tp_strdup(job->row.publish_id);
            if (job->row.upload_url && *job->row.upload_url)
                resume.upload_url = tp_strdup(job->row.upload_url);
            if (!resume.publish_id ||
                (job->row.upload_url && *job->row.upload_url && !resume.upload_url)) {
                /* Without it the upload would start a second post of the file. */
                tp_tiktok_resume_clear(&resume);
                rc = tp_error_set(&job->err, TP_ENOMEM, 0, "out of memory");
                goto out;
            }
            resume.upload_url_expires_at = job->row.upload_url_expiry;
            resume.next_chunk = job->row.last_chunk + 1;
            resume.chunk_count = o->plan.count;
            resume.chunk_size = (long long)o->plan.chunk_size;
            resume.total = o->size;
        }
        char *part_caption = NULL;
        if (caption && n > 1)
            part_caption = tp_asprintf("%s (%d/%d)", caption, i + 1, n);
        tp_tiktok_post_options po = TP_TIKTOK_POST_OPTIONS_INIT;
        po.caption = part_caption ? part_caption : caption;
        po.cover_timestamp_ms = i == 0 ? cover_ms_for(pl, job) : -1; /* the cover opens part 1 */
        po.resume = &resume;
        po.progress = on_progress;
        po.payload = &ctx;
        po.cancel = &pl->cancel;
        ctx.part = i;
        tp_tiktok_result res = TP_TIKTOK_RESULT_INIT;
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
            rc = tp_tiktok_post_plan(&res, (tp_tiktok *)w->ctx, fd, path, &o->plan, sha, &po,
                                     &job->err);
        }
        if (owned)
            close(fd);
        free(sha);
        free(part_caption);
        tp_tiktok_resume_clear(&resume);
        if (rc < 0) {
            job->retry_at = res.retry_at;
            tp_tiktok_result_clear(&res);
            goto out;
        }
        rc = tp_job_posts_add(&job->posts, res.publish_id, res.status, res.still_processing != 0,
                              (long long)res.post_id);
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
