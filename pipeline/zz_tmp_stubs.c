/* TEMPORARY (pipeline branch only): weak stand-ins for the fit functions, so this branch links
 * before the fit branch lands on main (probe, rules and the chunk planner have landed). Delete
 * this file once main has transcode/fit.c; until then it compiles to nothing when the real fit
 * is present (a weak definition in a static library could otherwise shadow the real one). */
#if !__has_include("transcode/fit.c")
#include <stdlib.h>
#include <string.h>

#include "probe/rules.h"
#include "transcode/fit.h"
#include "util/tp_util.h"

#define WEAK __attribute__((weak))

WEAK int tp_fit_plan_make(tp_fit_plan *out, const tp_media_info *media,
                          const tp_check_result *check, const tp_profile *p, tp_error *err)
{
    (void)media;
    (void)p;
    (void)err;
    memset(out, 0, sizeof(*out));
    out->action = check->verdict == TP_VERDICT_PASS ? TP_ACTION_NONE : TP_ACTION_TRANSCODE;
    return 0;
}

WEAK int tp_fit_run(char ***out_paths, int *n_out, const char *src, const tp_media_info *media,
                    const tp_fit_plan *plan, const tp_profile *p, const char *outdir,
                    const tp_fit_opts *opts, tp_error *err)
{
    (void)out_paths;
    (void)n_out;
    (void)media;
    (void)plan;
    (void)p;
    (void)outdir;
    (void)opts;
    return tp_error_set(err, TP_EUNSUPPORTED, 0, "%s: fit not merged yet", src);
}

WEAK void tp_fit_paths_free(char **paths, int n)
{
    for (int i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
}

#endif
