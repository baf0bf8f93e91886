/* The fail_reason → rule table (upload/fail_rules.h). Pure: no I/O. */
#include <string.h>

#include "tokprep.h"
#include "upload/fail_rules.h"

/* TikTok re-checks the file after upload (/work/shared/tiktok-api.md §1): the first four
 * reasons are what preflight exists to prevent, so each names the rule that should have caught
 * it. A reason that names no file property gets a code of its own and no refit. */
static const tp_fail_rule table[] = {
    {"file_format_check_failed", "container",
     "rules.containers, rules.video_codecs, "
     "rules.audio_codecs",
     true},
    {"duration_check_failed", "duration_too_long", "rules.duration", true},
    {"frame_rate_check_failed", "fps", "rules.fps", true},
    {"picture_size_check_failed", "too_large_dims",
     "rules.min_side, rules.max_side, "
     "rules.aspects",
     true},
    {"internal", "tiktok_internal", "", false},
    {"auth_removed", "tiktok_auth_removed", "", false},
    {"spam_risk*", "tiktok_spam_risk", "", false},
    {"publish_cancelled", "tiktok_publish_cancelled", "", false},
    {"video_pull_failed", "tiktok_video_pull_failed", "", false},
};

static const tp_fail_rule generic = {"", "tiktok_failed", "", false};

const tp_fail_rule *tp_fail_rule_find(const char *fail_reason)
{
    if (!fail_reason || !*fail_reason)
        return &generic;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        size_t n = strlen(table[i].reason);
        if (table[i].reason[n - 1] == '*' ? !strncmp(fail_reason, table[i].reason, n - 1)
                                          : !strcmp(fail_reason, table[i].reason))
            return &table[i];
    }
    return &generic;
}

const char *tp_tiktok_fail_rule(const char *fail_reason)
{
    return tp_fail_rule_find(fail_reason)->rule;
}

int tp_tiktok_fail_refittable(const char *fail_reason)
{
    return tp_fail_rule_find(fail_reason)->refit ? 1 : 0;
}
