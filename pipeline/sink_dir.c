/* The `directory` sink: each final MP4 plus `<stem>.json` (source, media info before and after,
 * verdict, violations fixed, chunk plan with a SHA-256 per chunk), each written under a
 * temporary name and renamed, so a reader of the folder never sees a partial file. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pipeline/internal.h"
#include "probe/probe.h"
#include "probe/report.h"
#include "probe/rules.h"
#include "util/tp_util.h"

static int fsync_path(const char *path, bool dir)
{
    int fd = open(path, (dir ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* An unpredictable temporary name in dir: .tokprep-tmp-PID-RANDOM-NAME (the PID lets the next
 * run's sweep remove what a crash left behind). Nobody can plant a symlink at it in advance,
 * and every open of it is O_CREAT|O_EXCL|O_NOFOLLOW (or link(), which never follows one)
 * anyway. */
static char *temp_name(const char *dir, const char *name)
{
    uint64_t r = 0;
    if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
        r = (uint64_t)(tp_now_monotonic() * 1e9) ^ ((uint64_t)getpid() << 32) ^
            (uint64_t)(uintptr_t)&r;
    return tp_asprintf("%s/.tokprep-tmp-%ld-%016llx-%s", dir, (long)getpid(), (unsigned long long)r,
                       name);
}

typedef struct {
    struct tp_pipeline *pl;
    tp_job *job;
    const tp_job_output *output;
} copy_ctx;

/* tp_copy_file's copy step: each chunk's SHA-256 verified as it is copied. */
static int copy_verified(int in, const char *src, int out, const char *dst, void *payload,
                         tp_error *err)
{
    (void)err; /* tp_job_copy_verified fills the job's own, which is err */
    const copy_ctx *c = payload;
    return tp_job_copy_verified(c->pl, c->job, in, src, c->output, out, dst);
}

/* Copy the output's checked bytes from in (the job's descriptor, or our fitted file) to a new
 * dst, verifying each chunk's SHA-256 as it is copied (tp_job_copy_verified). */
static int copy_file(struct tp_pipeline *pl, tp_job *job, const tp_job_output *output, int in,
                     const char *src, const char *dst)
{
    /* Never more permissive than the source (a 0600 source gives a 0600 copy). */
    struct stat st;
    mode_t mode = fstat(in, &st) == 0 ? (st.st_mode & 0644) : 0600;
    copy_ctx c = {pl, job, output};
    return tp_copy_file(in, src, dst, mode, copy_verified, &c, &job->err);
}

/* Put the output src at final atomically, only when its bytes are the ones the chunk stage
 * hashed. Our own fitted files are hard-linked (no copy; the work folder's name is removed
 * after the ledger says delivered); sources are copied so that editing a source later cannot
 * change what was delivered. Either way the bytes come from one descriptor: the job's own for
 * the source (never the name again), the fitted file's for ours. */
static int place_file(struct tp_pipeline *pl, tp_job *job, const tp_job_output *output,
                      const char *src, const char *dir, const char *final_name)
{
    tp_error *err = &job->err;
    int rc = 0;
    bool ours = false;
    int in = tp_job_open_output(job, src, &ours);
    char *tmp = temp_name(dir, final_name);
    char *final = tp_path_join(dir, final_name);
    if (in < 0) {
        rc = TP_EIO;
        goto out;
    }
    if (!tmp || !final) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    /* Our own fitted file (a regular file in the work folder, opened O_NOFOLLOW and made no
     * more permissive than its source by fit) is hard-linked through its descriptor;
     * anything else is copied: the sink never holds a link to a source. */
    char fdpath[64];
    snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", in);
    if (ours && (rc = tp_job_copy_verified(pl, job, in, src, output, -1, NULL)) < 0)
        goto out;
    if (ours && linkat(AT_FDCWD, fdpath, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) == 0) {
        if (fsync_path(tmp, false) < 0) {
            rc = tp_error_set(err, TP_EIO, errno, "%s: fsync failed: %s", tmp, strerror(errno));
            goto out;
        }
    } else if ((rc = copy_file(pl, job, output, in, src, tmp)) < 0) {
        goto out;
    }
    if (rename(tmp, final) < 0)
        rc = tp_error_set(err, TP_EIO, errno, "%s: cannot rename into place: %s", final,
                          strerror(errno));
out:
    if (rc < 0 && tmp)
        unlink(tmp);
    if (ours)
        close(in);
    free(tmp);
    free(final);
    return rc;
}

static int write_text_atomic(const char *dir, const char *name, const char *text, mode_t mode,
                             tp_error *err)
{
    int rc = 0;
    char *tmp = temp_name(dir, name);
    char *final = tp_path_join(dir, name);
    FILE *fp = NULL;
    if (!tmp || !final) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    fp = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!fp) {
        rc = tp_error_set(err, TP_EIO, errno, "%s: cannot create: %s", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        else
            goto out_keep; /* not ours: never unlink a name we did not create */
        goto out;
    }
    size_t len = strlen(text);
    bool ok = fwrite(text, 1, len, fp) == len && fputc('\n', fp) != EOF && fflush(fp) == 0 &&
              fsync(fileno(fp)) == 0;
    int e = errno;
    if (fclose(fp) != 0)
        ok = false;
    fp = NULL;
    if (!ok) {
        rc = tp_error_set(err, TP_EIO, e, "%s: write failed: %s", tmp, strerror(e));
        goto out;
    }
    if (rename(tmp, final) < 0)
        rc = tp_error_set(err, TP_EIO, errno, "%s: cannot rename into place: %s", final,
                          strerror(errno));
out:
    if (rc < 0 && tmp)
        unlink(tmp);
out_keep:
    free(tmp);
    free(final);
    return rc;
}

static cJSON *build_manifest(struct tp_pipeline *pl, tp_job *job, const tp_job_output *output,
                             const char *final_path, int part, int parts)
{
    cJSON *m = cJSON_CreateObject();
    char abs[PATH_MAX];
    const char *src = realpath(job->path, abs) ? abs : job->path;
    cJSON_AddStringToObject(m, "tokprep", TOKPREP_VERSION);
    cJSON *so = cJSON_AddObjectToObject(m, "source");
    cJSON_AddStringToObject(so, "path", src);
    cJSON_AddStringToObject(so, "fingerprint", job->fingerprint);
    cJSON_AddNumberToObject(so, "size", (double)job->size);
    cJSON_AddItemToObject(so, "media",
                          job->have_media ? tp_media_to_json(&job->media) : cJSON_CreateNull());
    cJSON *oo = cJSON_AddObjectToObject(m, "output");
    const char *base = strrchr(final_path, '/');
    cJSON_AddStringToObject(oo, "file", base ? base + 1 : final_path);
    cJSON_AddStringToObject(oo, "path", final_path);
    cJSON_AddNumberToObject(oo, "size", (double)output->size);
    cJSON_AddStringToObject(oo, "sha256", output->sha256);
    cJSON_AddNumberToObject(oo, "part", part);
    cJSON_AddNumberToObject(oo, "parts", parts);
    /* What the output holds: as the fit verified it (the source's own when it passes as is),
     * the bytes delivered being those, by their chunk SHA-256s. Only an output recorded before
     * the ledger kept it is probed here. */
    tp_media_info *om = output->have_media ? NULL : calloc(1, sizeof(*om));
    tp_error perr = TP_ERROR_INIT;
    tp_probe_options po = {.deep = false, .limits = &pl->profile->limits, .cancel = &pl->cancel};
    if (output->have_media)
        cJSON_AddItemToObject(oo, "media", tp_media_to_json(&output->media));
    else if (om && tp_probe_file(om, final_path, &po, &perr) == 0)
        cJSON_AddItemToObject(oo, "media", tp_media_to_json(om));
    else
        cJSON_AddNullToObject(oo, "media");
    tp_error_clear(&perr);
    free(om);
    const tp_check_result *c = &job->check;
    cJSON_AddStringToObject(m, "verdict",
                            job->have_media ? tp_verdict_name(c->verdict) : "unknown");
    cJSON_AddStringToObject(
        m, "action",
        job->have_media && c->verdict == TP_VERDICT_FIX ? tp_action_name(c->action) : "none");
    cJSON *viol = cJSON_AddArrayToObject(m, "violations_fixed");
    for (int i = 0; job->have_media && i < c->n_violations; i++) {
        cJSON *v = cJSON_CreateObject();
        cJSON_AddStringToObject(v, "code", c->violations[i].code);
        cJSON_AddStringToObject(v, "severity", tp_severity_name(c->violations[i].severity));
        cJSON_AddStringToObject(v, "message", c->violations[i].message);
        cJSON_AddItemToArray(viol, v);
    }
    const tp_chunk_plan *plan = &output->plan;
    cJSON *cp = cJSON_AddObjectToObject(m, "chunk_plan");
    cJSON_AddNumberToObject(cp, "total", (double)output->size);
    cJSON_AddNumberToObject(cp, "chunk_size", (double)plan->chunk_size);
    cJSON_AddNumberToObject(cp, "count", plan->count);
    cJSON_AddItemToObject(cp, "chunks", tp_jobrec_chunks_json(output));
    cJSON *po_ = cJSON_AddObjectToObject(m, "profile");
    cJSON_AddStringToObject(po_, "name", pl->profile->name);
    cJSON_AddStringToObject(po_, "hash", pl->profile->hash);
    return m;
}

static int directory_deliver(struct tp_pipeline *pl, tp_job *job)
{
    int rc = 0;
    if (!pl->sink_dir || !job->row.dest)
        return tp_error_set(&job->err, TP_EINTERNAL, 0, "%s: no sink folder or name", job->path);
    if ((rc = tp_mkdirs(pl->sink_dir, &job->err)) < 0)
        return rc;
    /* The manifest reports the source's media and verdict: the probe's, or the ledger's after
     * a resume (tp_job_need_media probes only a row from before the ledger kept them). */
    if (tp_job_need_media(pl, job, false) < 0)
        tp_error_clear(&job->err);
    int n = job->outputs.n;
    if (n <= 0)
        return tp_error_set(&job->err, TP_EINTERNAL, 0, "%s: no outputs to deliver", job->path);
    job->delivered = calloc((size_t)n, sizeof(char *));
    if (!job->delivered)
        return tp_error_set(&job->err, TP_ENOMEM, 0, "out of memory");
    for (int i = 0; i < n; i++) {
        tp_job_output *o = &job->outputs.v[i];
        const char *opath = o->path;
        if (!opath || access(opath, R_OK) != 0) {
            job->redo_from_probe = true;
            rc = tp_error_set(&job->err, TP_EIO, errno, "%s: output vanished, fitting again",
                              opath ? opath : job->path);
            goto out;
        }
        /* One output: <dest>.<ext>; split parts: <dest>_partN.mp4, numbered like the fit's. */
        char *file_name = tp_path_part_name(job->row.dest, i + 1, n, tp_path_ext(opath));
        char *json_name = tp_path_part_name(job->row.dest, i + 1, n, ".json");
        char *final = file_name ? tp_path_join(pl->sink_dir, file_name) : NULL;
        char *text = NULL;
        if (!final || !json_name) {
            rc = tp_error_set(&job->err, TP_ENOMEM, 0, "out of memory");
        } else if ((rc = place_file(pl, job, o, opath, pl->sink_dir, file_name)) == 0) {
            cJSON *man = build_manifest(pl, job, o, final, i + 1, n);
            text = man ? cJSON_Print(man) : NULL;
            cJSON_Delete(man);
            /* The manifest describes the source: readable by no more users than it. */
            rc = text
                     ? write_text_atomic(pl->sink_dir, json_name, text,
                                         (mode_t)((job->src_fd >= 0 ? tp_output_mode_fd(job->src_fd)
                                                                    : tp_output_mode(job->path)) &
                                                  0644),
                                         &job->err)
                     : tp_error_set(&job->err, TP_ENOMEM, 0, "out of memory");
            free(o->delivered);
            o->delivered = tp_strdup(final);
        }
        free(text);
        free(file_name);
        free(json_name);
        if (rc < 0) {
            free(final);
            goto out;
        }
        job->delivered[job->n_delivered++] = final;
    }
    if (fsync_path(pl->sink_dir, true) < 0)
        tp_log(TP_LOG_DEBUG, "%s: fsync failed: %s", pl->sink_dir, strerror(errno));
out:
    return rc;
}

const tp_sink_ops tp_sink_directory = {"directory", directory_deliver};
