/* Job services shared by the stages and the sinks, so that neither includes the other: progress
 * and upload checkpoints handed to the coordinator, the media info a stage needs, and opening
 * and verifying an output against the chunk plan before it is delivered. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/internal.h"
#include "probe/check.h"
#include "probe/probe.h"
#include "probe/rules.h"
#include "util/tp_util.h"

void tp_job_progress(struct tp_pipeline *pl, tp_job *job, double fraction, double fps,
                     int64_t bytes, int64_t total)
{
    pthread_mutex_lock(&pl->mu);
    job->progress_fraction = fraction;
    job->progress_fps = fps;
    job->progress_bytes = bytes;
    job->progress_total = total;
    job->progress_dirty = true;
    pthread_mutex_unlock(&pl->mu);
}

void tp_job_checkpoint(struct tp_pipeline *pl, tp_job *job, const char *publish_id,
                       const char *upload_url, double expiry, int part, int last_chunk,
                       const char *posts)
{
    char *id = tp_strdup(publish_id), *url = tp_strdup(upload_url), *ps = tp_strdup(posts);
    pthread_mutex_lock(&pl->mu);
    free(job->ckpt_publish_id);
    free(job->ckpt_url);
    free(job->ckpt_posts);
    job->ckpt_publish_id = id;
    job->ckpt_url = url;
    job->ckpt_posts = ps;
    job->ckpt_expiry = expiry;
    job->ckpt_part = part;
    job->ckpt_last_chunk = last_chunk;
    job->ckpt_dirty = true;
    pthread_cond_signal(&pl->results_cv);
    while (job->ckpt_dirty && !tp_cancel_requested(&pl->cancel))
        pthread_cond_wait(&pl->ckpt_cv, &pl->mu);
    pthread_mutex_unlock(&pl->mu);
}

#ifdef TP_TEST_HOOKS
void tp_test_pause(struct tp_pipeline *pl, const char *stage)
{
    const char *after = getenv("TOKPREP_TEST_PAUSE_AFTER"), *dir = getenv("TOKPREP_TEST_PAUSE_DIR");
    if (!after || !dir || !*dir)
        return;
    size_t n = strlen(stage);
    bool named = false;
    for (const char *p = after; *p; p += strcspn(p, ","), p += *p == ',')
        if (!strncmp(p, stage, n) && (p[n] == ',' || !p[n]))
            named = true;
    if (!named)
        return;
    char *paused = tp_asprintf("%s/%s.paused", dir, stage),
         *go = tp_asprintf("%s/%s.go", dir, stage);
    int fd = paused ? open(paused, O_WRONLY | O_CREAT | O_CLOEXEC, 0644) : -1;
    if (fd >= 0)
        close(fd);
    for (int i = 0; i < 1500 && go && !tp_cancel_requested(&pl->cancel) && access(go, F_OK) != 0; i++)
        usleep(20000);
    free(paused);
    free(go);
}
#endif

int tp_job_open_output(tp_job *job, const char *path, bool *owned)
{
    *owned = false;
    if (!strcmp(path, job->path) && job->src_fd >= 0)
        return job->src_fd;
    int fd = tp_src_open(path, true, NULL, &job->err);
    if (fd >= 0)
        *owned = true;
    return fd;
}

int tp_job_copy_verified(struct tp_pipeline *pl, tp_job *job, int fd, const char *name,
                         const tp_job_output *output, int out_fd, const char *out_name)
{
    const tp_chunk_plan *plan = &output->plan;
    int n = output->chunked ? plan->count : 0, rc = 0;
    int64_t size = output->size, pos = 0;
    uint8_t *buf = NULL;
    tp_sha256 *h = NULL;
    if (n <= 0)
        return tp_error_set(&job->err, TP_EINTERNAL, 0, "%s: no chunk SHA-256s recorded", name);
    tp_src_stat st;
    if (tp_src_fstat(fd, &st) < 0 || st.size != size)
        return tp_error_set(&job->err, TP_EIO, 0,
                            "%s: changed since it was checked (%lld bytes, %lld checked); not "
                            "delivered",
                            name, (long long)st.size, (long long)size);
    if (!(buf = malloc(1 << 20)))
        return tp_error_set(&job->err, TP_ENOMEM, 0, "out of memory");
    for (int c = 0; c < n && rc == 0; c++) {
        int64_t off = plan->chunks[c].offset, end = off + plan->chunks[c].length;
        const char *want = output->chunk_sha256[c];
        if (off != pos || end <= off || end > size) {
            rc = tp_error_set(&job->err, TP_EINTERNAL, 0, "%s: the recorded chunk plan is broken",
                              name);
            break;
        }
        if (!(h = tp_sha256_new())) {
            rc = tp_error_set(&job->err, TP_ENOMEM, 0, "out of memory");
            break;
        }
        while (pos < end && rc == 0) {
            if (tp_cancel_requested(&pl->cancel)) {
                rc = tp_error_set(&job->err, TP_ECANCELED, 0, "%s: cancelled", name);
                break;
            }
            size_t len = (size_t)(end - pos < (1 << 20) ? end - pos : (1 << 20));
            ssize_t got = pread(fd, buf, len, (off_t)pos);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                rc = got < 0 ? tp_error_set(&job->err, TP_EIO, errno, "%s: read failed: %s", name,
                                            strerror(errno))
                             : tp_error_set(&job->err, TP_EIO, 0,
                                            "%s: changed since it was checked (shorter); not "
                                            "delivered",
                                            name);
                break;
            }
            tp_sha256_update(h, buf, (size_t)got);
            for (ssize_t w = 0; out_fd >= 0 && w < got && rc == 0;) {
                ssize_t k = write(out_fd, buf + w, (size_t)(got - w));
                if (k < 0 && errno == EINTR)
                    continue;
                if (k < 0)
                    rc = tp_error_set(&job->err, TP_EIO, errno, "%s: write failed: %s", out_name,
                                      strerror(errno));
                else
                    w += k;
            }
            pos += got;
        }
        char hex[65];
        tp_sha256_final_hex(h, hex);
        h = NULL;
        if (rc == 0 && strcmp(hex, want))
            rc = tp_error_set(&job->err, TP_EIO, 0,
                              "%s: changed since it was checked (chunk %d SHA-256 differs); not "
                              "delivered",
                              name, c + 1);
    }
    if (rc == 0 && pos != size)
        rc =
            tp_error_set(&job->err, TP_EINTERNAL, 0, "%s: the recorded chunk plan is broken", name);
    free(buf);
    return rc;
}

int tp_job_need_media(struct tp_pipeline *pl, tp_job *job, bool for_fit)
{
    if (job->have_media)
        return 0;
    /* Only a row from a ledger older than schema 2 (no media column) gets here: probe the
     * descriptor once, as every resumed job was before (the fit with its bars scan). */
    int rc;
    if (for_fit) {
        rc = tp_check_fd_for_fit(&job->media, &job->check, job->src_fd, job->path, pl->profile,
                                 &pl->cancel, &job->err);
    } else {
        tp_probe_options po = {
            .deep = false, .limits = &pl->profile->limits, .cancel = &pl->cancel};
        if ((rc = tp_probe_fd(&job->media, job->src_fd, job->path, &po, &job->err)) == 0)
            tp_rules_check(&job->check, &job->media, pl->profile);
    }
    if (rc < 0)
        return rc;
    job->have_media = true;
    job->cover_found = for_fit;
    return 0;
}
