/* TEMPORARY (pipeline branch only): weak stand-ins for functions other engineers are writing
 * (probe, rules, fit, chunk planner), so this branch links before they land on main. Deleted
 * when main has them. Never merged as such. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "probe/probe.h"
#include "probe/rules.h"
#include "transcode/fit.h"
#include "upload/chunk.h"
#include "util/tp_util.h"

#define WEAK __attribute__((weak))

WEAK int tp_probe_file(tp_media_info *out, const char *path, const tp_probe_opts *opts,
                       tp_error *err)
{
    (void)opts;
    struct stat sb;
    memset(out, 0, sizeof(*out));
    if (stat(path, &sb) < 0)
        return tp_error_set(err, TP_EIO, 0, "%s: missing", path);
    out->size = sb.st_size;
    return 0;
}

WEAK void tp_rules_check(tp_check_result *out, const tp_media_info *media, const tp_profile *p)
{
    (void)media;
    (void)p;
    memset(out, 0, sizeof(*out));
    out->verdict = TP_VERDICT_PASS;
}

WEAK const char *tp_verdict_name(tp_verdict v)
{
    static const char *const n[] = {"pass", "fix", "reject", "error"};
    return (unsigned)v < 4 ? n[v] : "?";
}

WEAK const char *tp_action_name(tp_action a)
{
    static const char *const n[] = {"none", "remux", "transcode"};
    return (unsigned)a < 3 ? n[a] : "?";
}

WEAK const char *tp_severity_name(tp_severity s)
{
    return s == TP_SEV_ERROR ? "error" : "warn";
}

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

WEAK int tp_chunk_plan_make(tp_chunk_plan *out, int64_t size, const tp_chunk_rules *rules,
                            tp_error *err)
{
    (void)rules;
    (void)err;
    out->total = size;
    out->chunk_size = size;
    out->count = 1;
    out->chunks = calloc(1, sizeof(tp_chunk));
    out->chunks[0].offset = 0;
    out->chunks[0].length = size;
    return 0;
}

WEAK void tp_chunk_plan_clear(tp_chunk_plan *plan)
{
    free(plan->chunks);
    plan->chunks = NULL;
}
