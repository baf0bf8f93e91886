/* tp_fit_file(): the public one-call fit (probe → rules → plan → run) for embedding programs. */
#include <stdio.h>
#include <unistd.h>

#include "probe/check.h"
#include "probe/probe.h"
#include "probe/rules.h"
#include "transcode/fit.h"
#include "util/srcfile.h"
#include "util/tp_util.h"

int tp_fit_file(char ***out_paths, int *n_out, const char *path, const tp_profile *profile,
                const char *outdir, const tp_fit_options *opts, tp_error *err)
{
    if (!out_paths || !n_out || !path || !profile || !outdir)
        return tp_error_set(err, TP_EINVAL, 0, "tp_fit_file: missing argument");
    *out_paths = NULL;
    *n_out = 0;
    tp_media_info media;
    tp_check_result check;
    tp_fit_plan plan;
    /* Opened once: the probe, the plan and the fit all see this one file. */
    int fd = tp_src_open(path, false, NULL, err);
    if (fd < 0)
        return TP_EIO;
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
    rc = tp_fit_run(out_paths, n_out, path, fd, &media, &plan, profile, outdir, &fo, err);
out:
    close(fd);
    return rc;
}
