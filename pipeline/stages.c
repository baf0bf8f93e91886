/* The work of each stage, run on the stage's worker threads. A stage reads and fills its job
 * only; the coordinator alone writes the ledger with the result. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline/internal.h"
#include "probe/check.h"
#include "probe/probe.h"
#include "probe/rules.h"
#include "transcode/fit.h"
#include "upload/chunk.h"
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
    for (int i = 0; i < 1500 && go && !tp_cancel_requested(&pl->cancel) && access(go, F_OK) != 0;
         i++)
        usleep(20000);
    free(paused);
    free(go);
}
#endif

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
    if (rc < 0)
        return rc;
    job->have_media = true;
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
                         const void *output, int out_fd, const char *out_name)
{
    const cJSON *o = output;
    const cJSON *chunks = cJSON_GetObjectItem(o, "chunks");
    int n = cJSON_GetArraySize(chunks), rc = 0;
    int64_t size = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "size")), pos = 0;
    uint8_t *buf = NULL;
    tp_sha256 *h = NULL;
    if (!cJSON_IsArray(chunks) || n <= 0)
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
        const cJSON *co = cJSON_GetArrayItem(chunks, c);
        int64_t off = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(co, "offset"));
        int64_t end = off + (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(co, "length"));
        const char *want = cJSON_GetStringValue(cJSON_GetObjectItem(co, "sha256"));
        if (off != pos || end <= off || end > size || !want) {
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

static cJSON *outputs_from_paths(char **paths, int n)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; arr && i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "path", paths[i]);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

static int set_outputs(tp_job *job, cJSON *arr)
{
    char *s = arr ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    if (!s)
        return tp_error_set(&job->err, TP_ENOMEM, 0, "out of memory");
    free(job->outputs_json);
    job->outputs_json = s;
    return 0;
}

int tp_stage_fit(struct tp_pipeline *pl, tp_job *job)
{
    int rc = 0;
    char *outdir = NULL;
    char **paths = NULL;
    int n = 0;
    tp_fit_plan *plan = calloc(1, sizeof(*plan));
    if (!plan)
        return tp_error_set(&job->err, TP_ENOMEM, 0, "out of memory");
    if (!job->have_media && (rc = probe_source(pl, job)) < 0)
        goto out;
    if ((rc = tp_fit_plan_make(plan, &job->media, &job->check, pl->profile, &job->err)) < 0)
        goto out;
    if (plan->reject) {
        job->rejected = true;
        tp_strlcpy(job->reject_reason, plan->reason, sizeof(job->reject_reason));
        goto out;
    }
    if (plan->action == TP_ACTION_NONE) {
        /* Passes as is: the source itself is the output, nothing is copied. */
        char *src = job->path;
        rc = set_outputs(job, outputs_from_paths(&src, 1));
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
    tp_fit_run_options fo = {.progress = fit_progress_ctx, .payload = &ctx, .cancel = &pl->cancel};
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
    rc = set_outputs(job, outputs_from_paths(paths, n));
    if (rc == 0)
        tp_test_pause(pl, "fit");
out:
    tp_fit_paths_free(paths, n);
    free(outdir);
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
 * first chunks were sent (job->checked_outputs), else the post would mix two contents. */
static int same_as_checked(tp_job *job, const cJSON *before, int index, const char *path,
                           int64_t size, int count, char (*hex)[65])
{
    const cJSON *o = cJSON_GetArrayItem(before, index);
    const cJSON *chunks = cJSON_GetObjectItem(o, "chunks");
    if (!cJSON_IsArray(chunks))
        return 0; /* not chunked then: nothing was sent */
    int64_t was = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "size"));
    if (was != size || cJSON_GetArraySize(chunks) != count)
        return tp_error_set(&job->err, TP_EIO, 0,
                            "%s: changed since its upload began (%lld bytes, %lld then); not "
                            "delivered",
                            path, (long long)size, (long long)was);
    for (int c = 0; c < count; c++) {
        const char *sha =
            cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(chunks, c), "sha256"));
        if (!sha || strcmp(sha, hex[c]))
            return tp_error_set(&job->err, TP_EIO, 0,
                                "%s: changed since its upload began (chunk %d SHA-256 differs); "
                                "not delivered",
                                path, c + 1);
    }
    return 0;
}

/* Plan the upload chunks of every output and record them with a SHA-256 per chunk. */
int tp_stage_chunk(struct tp_pipeline *pl, tp_job *job)
{
    int rc = 0;
    cJSON *arr = job->outputs_json ? cJSON_Parse(job->outputs_json) : NULL;
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0) {
        cJSON_Delete(arr);
        job->redo_from_probe = true;
        return tp_error_set(&job->err, TP_EINTERNAL, 0, "%s: no outputs recorded", job->path);
    }
    cJSON *before = job->checked_outputs ? cJSON_Parse(job->checked_outputs) : NULL;
    int index = -1;
    cJSON *o;
    cJSON_ArrayForEach(o, arr)
    {
        index++;
        const char *path = cJSON_GetStringValue(cJSON_GetObjectItem(o, "path"));
        bool owned = false;
        int fd = path ? tp_job_open_output(job, path, &owned) : -1;
        tp_src_stat sb;
        if (fd < 0 || tp_src_fstat(fd, &sb) < 0) {
            job->redo_from_probe = true;
            rc = tp_error_set(&job->err, TP_EIO, errno, "%s: output vanished, fitting again",
                              path ? path : job->path);
            if (owned)
                close(fd);
            goto out;
        }
        /* Passed as is: the bytes hashed now must be the ones the probe checked. */
        if (!owned && (rc = source_unchanged(job)) < 0)
            goto out;
        tp_chunk_plan plan = {0};
        if ((rc = tp_chunk_plan_make(&plan, sb.size, &pl->profile->chunk, &job->err)) < 0) {
            tp_error_prefix(&job->err, "%s", path);
            if (owned)
                close(fd);
            goto out;
        }
        char whole[65];
        char(*hex)[65] = calloc((size_t)plan.count, sizeof(*hex));
        if (!hex) {
            tp_chunk_plan_clear(&plan);
            if (owned)
                close(fd);
            rc = tp_error_set(&job->err, TP_ENOMEM, 0, "out of memory");
            goto out;
        }
        rc = hash_chunks(fd, path, &plan, whole, hex, &pl->cancel, &job->err);
        if (owned)
            close(fd);
        if (rc == 0 && before)
            rc = same_as_checked(job, before, index, path, sb.size, plan.count, hex);
        if (rc == 0) {
            cJSON_DeleteItemFromObject(o, "size");
            cJSON_DeleteItemFromObject(o, "sha256");
            cJSON_DeleteItemFromObject(o, "chunk_size");
            cJSON_DeleteItemFromObject(o, "chunk_count");
            cJSON_DeleteItemFromObject(o, "chunks");
            cJSON_AddNumberToObject(o, "size", (double)sb.size);
            cJSON_AddStringToObject(o, "sha256", whole);
            cJSON_AddNumberToObject(o, "chunk_size", (double)plan.chunk_size);
            cJSON_AddNumberToObject(o, "chunk_count", plan.count);
            cJSON *chunks = cJSON_AddArrayToObject(o, "chunks");
            for (int c = 0; c < plan.count; c++) {
                cJSON *co = cJSON_CreateObject();
                int64_t off = plan.chunks[c].offset, len = plan.chunks[c].length;
                char range[96];
                snprintf(range, sizeof(range), "bytes %lld-%lld/%lld", (long long)off,
                         (long long)(off + len - 1), (long long)plan.total);
                cJSON_AddNumberToObject(co, "index", c);
                cJSON_AddNumberToObject(co, "offset", (double)off);
                cJSON_AddNumberToObject(co, "length", (double)len);
                cJSON_AddStringToObject(co, "content_range", range);
                cJSON_AddStringToObject(co, "sha256", hex[c]);
                cJSON_AddItemToArray(chunks, co);
            }
        }
        free(hex);
        tp_chunk_plan_clear(&plan);
        if (rc < 0)
            goto out;
    }
    rc = set_outputs(job, arr);
    arr = NULL;
    if (rc == 0)
        tp_test_pause(pl, "chunk");
out:
    cJSON_Delete(before);
    cJSON_Delete(arr);
    return rc;
}

int tp_stage_deliver(struct tp_pipeline *pl, tp_job *job)
{
    switch (pl->profile->upload.sink) {
    case TP_SINK_DIRECTORY: return tp_sink_directory_deliver(pl, job);
    case TP_SINK_TIKTOK: return tp_sink_tiktok_deliver(pl, job);
    case TP_SINK_NONE:
    default: return 0;
    }
}
