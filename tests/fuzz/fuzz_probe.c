/* Fuzz harness: the probe on arbitrary bytes in memory (custom AVIOContext: our atom and EBML
 * readers, libavformat's demuxers under the profile's limits, the VFR sample), then the rules
 * and the fit planner on whatever it measured (a header may claim any size, rate or duration).
 * An input the probe accepts is probed again in deep mode (decode loop). */
#include <libavutil/log.h>
#include <stdint.h>
#include <stdlib.h>

#include "probe/probe.h"
#include "probe/rules.h"
#include "profiles/profile.h"
#include "transcode/fit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Loaded once: the profile is what a real run checks against, and loading it per input would
 * cost more than most probes. Still reachable at exit, so LeakSanitizer does not count it. */
static tp_profile *fuzz_profile;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fuzz_profile) {
        tp_error perr = TP_ERROR_INIT;
        av_log_set_level(AV_LOG_QUIET);
        if (tp_profile_open(&fuzz_profile, "tiktok", NULL, 0, &perr) < 0)
            abort();
    }
    /* The profile's limits, with a probe timeout below libFuzzer's -timeout so that a slow
     * input shows up as our "timed out" error, and a hang past it as a libFuzzer timeout. */
    tp_limits lim = fuzz_profile->limits;
    lim.probe_timeout = 5;
    tp_probe_options opts = {.deep = false, .limits = &lim, .cancel = NULL};
    tp_media_info m;
    tp_check_result r;
    tp_error err = TP_ERROR_INIT;

    if (tp_probe_buffer(&m, data, size, &opts, &err) < 0) {
        tp_rules_error(&r, err.code == TP_EMEDIA ? "not_media" : NULL, tp_error_message(&err));
        tp_error_clear(&err);
        return 0;
    }
    tp_rules_check(&r, &m, fuzz_profile);
    tp_fit_plan plan;
    tp_fit_plan_make(&plan, &m, &r, fuzz_profile, &err);
    if (size <= 256 * 1024) {
        opts.deep = true;
        if (tp_probe_buffer(&m, data, size, &opts, &err) == 0)
            tp_rules_check(&r, &m, fuzz_profile);
    }
    tp_error_clear(&err);
    return 0;
}
