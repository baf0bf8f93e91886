/* tp_fit_file(): the public one-call fit (probe → rules → plan → run) for embedding programs. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "probe/check.h"
#include "probe/probe.h"
#include "probe/rules.h"
#include "transcode/fit.h"
#include "util/srcfile.h"
#include "util/tp_util.h"

struct tp_fit_result {
    char **paths;
    size_t count;
};

int tp_fit_options_init(tp_fit_options *opts, unsigned version)
{
    if (!opts || version != TP_FIT_OPTIONS_VERSION)
        return TP_EINVAL;
    *opts = (tp_fit_options)TP_FIT_OPTIONS_INIT;
    return 0;
}

size_t tp_fit_result_count(const tp_fit_result *r)
{
    return r ? r->count : 0;
}

const char *tp_fit_result_path(const tp_fit_result *r, size_t i)
{
    return r && i < r->count ? r->paths[i] : NULL;
}

void tp_fit_result_free(tp_fit_result *r)
{
    if (!r)
        return;
    tp_fit_paths_free(r->paths, (int)r->count);
    free(r);
}

int tp_fit_file(tp_fit_result **out, const char *path, const tp_profile *profile,
                const char *outdir, const tp_fit_options *opts, tp_error *err)
{
    if (!out || !path || !profile || !outdir)
        return tp_error_set(err, TP_EINVAL, 0, "tp_fit_file: missing argument");
    *out = NULL;
    if (opts && opts->version != TP_FIT_OPTIONS_VERSION)
        return tp_error_set(err, TP_EINVAL, 0, "tp_fit_file: unknown opts version %u",
                            opts->version);
    tp_media_info media;
    tp_check_result check;
    tp_fit_plan plan;
    char **paths = NULL;
    int n = 0;
    tp_fit_result *r = calloc(1, sizeof(*r));
    if (!r)
        return tp_error_set(err, TP_ENOMEM, 0, "%s: out of memory", path);
    /* Opened once: the probe, the plan and the fit all see this one file. */
    int fd = tp_src_open(path, false, NULL, err);
    if (fd < 0) {
        free(r);
        return TP_EIO;
    }
    int rc =
        tp_check_fd_for_fit(&media, &check, fd, path, profile, opts ? opts->cancel : NULL, err);
    if (rc < 0)
        goto out;
    if ((rc = tp_fit_plan_make(&plan, &media, &check, profile, err)) < 0)
        goto out;
    if (plan.reject) {
        rc = tp_error_set(err, TP_EREJECT, 0, "%s: %s", path, plan.reason);
        goto out;
    }
    tp_fit_run_options fo = {.progress = opts ? opts->progress : NULL,
                             .payload = opts ? opts->payload : NULL,
                             .cancel = opts ? opts->cancel : NULL};
    rc = tp_fit_run(&paths, &n, path, fd, &media, &plan, profile, outdir, &fo, err);
    if (rc == 0) {
        r->paths = paths;
        r->count = (size_t)n;
        *out = r;
        r = NULL;
    }
out:
    close(fd);
    free(r);
    return rc;
}
