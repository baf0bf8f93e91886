/* fail_reason → rule (upload/fail_rules.c), table-driven: every reason TikTok documents, prefixes,
 * unknown and missing reasons; the file-check rules are codes `check` itself emits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tokprep.h"
#include "upload/fail_rules.h"

typedef struct {
    const char *reason;
    const char *rule;
    int refit;
} rule_case;

static const rule_case cases[] = {
    {"file_format_check_failed", "container", 1},
    {"duration_check_failed", "duration_too_long", 1},
    {"frame_rate_check_failed", "fps", 1},
    {"picture_size_check_failed", "too_large_dims", 1},
    {"internal", "tiktok_internal", 0},
    {"auth_removed", "tiktok_auth_removed", 0},
    {"spam_risk_too_many_posts", "tiktok_spam_risk", 0},
    {"spam_risk_user_banned_from_posting", "tiktok_spam_risk", 0},
    {"publish_cancelled", "tiktok_publish_cancelled", 0},
    {"video_pull_failed", "tiktok_video_pull_failed", 0},
    {"frame_rate_check_failed_v2", "tiktok_failed", 0}, /* exact names only, but for spam_risk_* */
    {"something_new", "tiktok_failed", 0},
    {"", "tiktok_failed", 0},
    {NULL, "tiktok_failed", 0},
};

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const rule_case *c = &cases[i];
        assert_string_equal(tp_tiktok_fail_rule(c->reason), c->rule);
        assert_int_equal(tp_tiktok_fail_refittable(c->reason), c->refit);
        assert_string_equal(tp_fail_rule_find(c->reason)->rule, c->rule);
    }
}

/* The rules a re-fit cures are violation codes the rules emit (probe/rules.c). */
static void test_codes_are_check_codes(void **state)
{
    (void)state;
    FILE *f = fopen(TP_SOURCE_DIR "/probe/rules.c", "rb");
    assert_non_null(f);
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (!cases[i].refit)
            continue;
        char quoted[64];
        snprintf(quoted, sizeof(quoted), "\"%s\"", cases[i].rule);
        if (!strstr(text, quoted))
            fail_msg("%s is not a code probe/rules.c emits", cases[i].rule);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_codes_are_check_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
