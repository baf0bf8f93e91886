/* The work of each stage, run on the stage's worker threads. A stage reads and fills its job
 * only; the coordinator alone writes the ledger with the result. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline/internal.h"
#include "probe/check.h"
#include "probe/cover.h"
#include "probe/probe.h"
#include "probe/rules.h"
#include "transcode/fit.h"
#include "upload/chunk.h"
#include "util/tp_util.h"

int tp_stage_scan(struct tp_pipeline *pl, tp_job *job)
{
    /* The one open of the source: every later stage reads this descriptor. */
    if (job->src_fd < 0) {
        job->src_fd = tp_src_open(job->path, job->src_nofollow, &job->src_st, &job->err);
        if (job->src_fd < 0)
            return TP_EIO;
    }
    int rc = tp_fingerprint_fd(job->fingerprint, &job->size, job->src_fd, job->path, &job->err);
    if (rc == 0 && pl->expect_fingerprint[0] && strcmp(job->fingerprint, pl->expect_fingerprint))
        rc = tp_error_set(&job->err, TP_ECONFLICT, 0,
                          "%s: the content changed since it was queued (fingerprint %.12s, "
                          "queued %.12s)",
                          job->path, job->fingerprint, pl->expect_fingerprint);
    return rc;
}

static int probe_source(struct tp_pipeline *pl, tp_job *job)
{
    int rc = tp_check_fd_for_fit(&job->media, &job->check, job->src_fd, job->path, pl->profile,
                                 &pl->cancel, &job->err);
    /* A probe stopped by the cancel token fails with whatever the demuxer made of the cut
     * read ("Invalid data found"): that says nothing about the file, which stays queued. */
    if (rc < 0 && rc != TP_ECANCELED && tp_cancel_requested(&pl->cancel))
        rc = tp_error_set(&job->err, TP_ECANCELED, 0, "%s: cancelled", job->path);
    if (rc < 0)
        return rc;
    job->have_media = true;
    job->cover_found = true;
    return 0;
}

int tp_stage_probe(struct tp_pipeline *pl, tp_job *job)
{
    int rc = probe_source(pl, job);
    if (rc == 0)
        tp_test_pause(pl, "probe");
    return rc;
}

/* A source written in place since it was opened (and checked) is not what was checked. */
static int source_unchanged(tp_job *job)
{
    if (tp_src_changed(job->src_fd, &job->src_st))
        return tp_error_set(&job->err, TP_EIO, 0,
                            "%s: changed since it was checked (written to or replaced since it "
                            "was opened); not delivered",
                            job->path);
    return 0;
}

typedef struct {
    struct tp_pipeline *pl;
    tp_job *job;
} fit_ctx;

static void fit_progress_ctx(double fraction, double fps, void *payload)
{
    fit_ctx *c = payload;
    tp_job_progress(c->pl, c->job, fraction, fps, 0, 0);
}

/* The job's private fit folder: WORKDIR/out/<ledger id>. Unique per row, so two sources with the
 * same name never collide, and a partial fit is removed wholesale before it restarts. */
static char *job_outdir(struct tp_pipeline *pl, const tp_job *job)
{
    return tp_asprintf("%s/%lld", pl->outdir, (long long)job->row.id);
}

int tp_stage_fit(struct tp_pipeline *pl, tp_job *job)
{
    int rc = 0;
    char *outdir = NULL;
    char **paths = NULL;
    int n = 0;
    tp_fit_plan *plan = calloc(1, sizeof(*plan));
    tp_media_info *out_media = calloc(TP_MAX_PARTS, sizeof(*out_media));
    if (!plan || !out_media) {
        rc = tp_error_set(&job->err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    /* The media info is the probe's (or the ledger's, for a resumed job): no second probe. */
    if ((rc = tp_job_need_media(pl, job, true)) < 0)
        goto out;
    /* Media from the ledger has no cover: look for it again (README "Covers"). */
    if (!job->cover_found) {
        if ((rc = tp_cover_find(&job->media.cover, job->path, pl->profile, &job->err)) < 0)
            goto out;
        job->cover_found = true;
    }
    if ((rc = tp_fit_plan_make(plan, &job->media, &job->check, pl->profile, &job->err)) < 0)
        goto out;
    job->cover_set = plan->cover_frames > 0;
    job->cover_ms = plan->cover_timestamp_ms;
    if (plan->reject) {
        job->rejected = true;
        tp_strlcpy(job->reject_reason, plan->reason, sizeof(job->reject_reason));
        goto out;
    }
    if (plan->action == TP_ACTION_NONE) {
        /* Passes as is: the source itself is the output, nothing is copied. */
        const char *src = job->path;
        if (tp_job_outputs_set(&job->outputs, &src, &job->media, 1) < 0)
            rc = tp_error_set(&job->err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    outdir = job_outdir(pl, job);
    if (!outdir) {
        rc = tp_error_set(&job->err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    tp_rmtree(outdir); /* a partial fit from an interrupted run restarts from scratch */
    if ((rc = tp_mkdirs(outdir, &job->err)) < 0)
        goto out;
    fit_ctx ctx = {pl, job};
    tp_fit_run_options fo = {.progress = fit_progress_ctx,
                             .payload = &ctx,
                             .cancel = &pl->cancel,
                             .out_media = out_media};
    rc = tp_fit_run(&paths, &n, job->path, job->src_fd, &job->media, plan, pl->profile, outdir, &fo,
                    &job->err);
    /* Rewritten in place since the probe: the fit read other bytes than were checked, and
     * whatever else the fit found wrong (a short output) follows from that, so say this. */
    if (rc != TP_ECANCELED && source_unchanged(job) < 0)
        rc = TP_EIO;
    if (rc < 0) {
        tp_rmtree(outdir);
        goto out;
    }
    if (tp_job_outputs_set(&job->outputs, (const char *const *)paths, out_media, n) < 0)
        rc = tp_error_set(&job->err, TP_ENOMEM, 0, "out of memory");
    if (rc == 0)
        tp_test_pause(pl, "fit");
out:
    tp_fit_paths_free(paths, n);
    free(outdir);
    free(out_media);
    free(plan);
    return rc;
}

/* Hash a file once, whole and per chunk, reading it sequentially in 1 MiB blocks. */
static int hash_chunks(int fd, const char *path, const tp_chunk_plan *plan, char whole[65],
                       char (*chunk_hex)[65], const tp_cancel *cancel, tp_error *err)
{
    int rc = 0;
    uint8_t *buf = NULL;
    tp_sha256 *all = NULL, *part = NULL;
    buf = malloc(1 << 20);
    all = tp_sha256_new();
    if (!buf || !all) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    for (int c = 0; c < plan->count; c++) {
        part = tp_sha256_new();
        if (!part) {
            rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
            goto out;
        }
        int64_t pos = plan->chunks[c].offset, end = pos + plan->chunks[c].length;
        while (pos < end) {
            if (tp_cancel_requested(cancel)) {
                rc = tp_error_set(err, TP_ECANCELED, 0, "%s: cancelled", path);
                goto out;
            }
            size_t want = (size_t)(end - pos < (1 << 20) ? end - pos : (1 << 20));
            ssize_t got = pread(fd, buf, want, pos);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                rc = tp_error_set(err, TP_EIO, got < 0 ? errno : 0,
                                  "%s: read failed while hashing chunks", path);
                goto out;
            }
            tp_sha256_update(part, buf, (size_t)got);
            tp_sha256_update(all, buf, (size_t)got);
            pos += got;
        }
        tp_sha256_final_hex(part, chunk_hex[c]);
        part = NULL;
    }
    tp_sha256_final_hex(all, whole);
    all = NULL;
out:
    if (part)
        tp_sha256_final_hex(part, whole);
    if (all)
        tp_sha256_final_hex(all, whole);
    free(buf);
    return rc;
}

/* A resumed upload continues with chunks hashed now: they must be the ones hashed when its
 * first chunks were sent (job->checked), else the post would mix two contents. */
static int same_as_checked(tp_job *job, int index, const tp_job_output *now)
{
    if (index >= job->checked.n || !job->checked.v[index].chunked)
        return 0; /* not chunked then: nothing was sent */
    const tp_job_output *was = &job->checked.v[index];
    if (was->size != now->size || was->plan.count != now->plan.count)
        return tp_error_set(&job->err, TP_EIO, 0,
                            "%s: changed since its upload began (%lld bytes, %lld then); not "
                            "delivered",
                            now->path, (long long)now->size, (long long)was->size);
    for (int c = 0; c < now->plan.count; c++)
        if (strcmp(was->chunk_sha256[c], now->chunk_sha256[c]))
            return tp_error_set(&job->err, TP_EIO, 0,
                                "%s: changed since its upload began (chunk %d SHA-256 differs); "
                                "not delivered",
                                now->path, c + 1);
    return 0;
}

/* Plan the upload chunks of one output and hash them: the one chunk plan every sink delivers. */
static int chunk_output(struct tp_pipeline *pl, tp_job *job, tp_job_output *out)
{
    bool owned = false;
    int fd = tp_job_open_output(job, out->path, &owned);
    tp_src_stat sb;
    int rc = 0;
    if (fd < 0 || tp_src_fstat(fd, &sb) < 0) {
        job->redo_from_probe = true;
        rc =
            tp_error_set(&job->err, TP_EIO, errno, "%s: output vanished, fitting again", out->path);
        goto out;
    }
    /* Passed as is: the bytes hashed now must be the ones the probe checked. */
    if (!owned && (rc = source_unchanged(job)) < 0)
        goto out;
    out->chunked = false;
    free(out->chunk_sha256);
    out->chunk_sha256 = NULL;
    tp_chunk_plan_clear(&out->plan);
    if ((rc = tp_chunk_plan_make(&out->plan, sb.size, &pl->profile->chunk, &job->err)) < 0) {
        tp_error_prefix(&job->err, "%s", out->path);
        goto out;
    }
    if (!(out->chunk_sha256 = calloc((size_t)out->plan.count, sizeof(*out->chunk_sha256)))) {
        rc = tp_error_set(&job->err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    if ((rc = hash_chunks(fd, out->path, &out->plan, out->sha256, out->chunk_sha256, &pl->cancel,
                          &job->err)) < 0)
        goto out;
    out->size = sb.size;
    out->chunked = true;
out:
    if (owned)
        close(fd);
    return rc;
}

/* Plan the upload chunks of every output and record them with a SHA-256 per chunk. */
int tp_stage_chunk(struct tp_pipeline *pl, tp_job *job)
{
    int rc = 0;
    if (job->outputs.n <= 0) {
        job->redo_from_probe = true;
        return tp_error_set(&job->err, TP_EINTERNAL, 0, "%s: no outputs recorded", job->path);
    }
    for (int i = 0; i < job->outputs.n && rc == 0; i++) {
        tp_job_output *out = &job->outputs.v[i];
        if ((rc = chunk_output(pl, job, out)) == 0)
            rc = same_as_checked(job, i, out);
    }
    if (rc == 0)
        tp_test_pause(pl, "chunk");
    return rc;
}

int tp_stage_deliver(struct tp_pipeline *pl, tp_job *job)
{
    return pl->sink->deliver ? pl->sink->deliver(pl, job) : 0;
}
