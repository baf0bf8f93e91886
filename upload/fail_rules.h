/* TikTok's fail_reason (a post that ended FAILED) → the check rule that should have caught it.
 * One table, pure (part of the tp_plan layer): the upload client, the pipeline and the CLI all
 * read it through tp_tiktok_fail_rule(). README "When TikTok rejects a post" documents it. */
#ifndef TP_FAIL_RULES_H
#define TP_FAIL_RULES_H

#include <stdbool.h>

typedef struct {
    const char *reason; /* TikTok's fail_reason; one ending in '*' matches as a prefix */
    const char *rule;   /* the violation code `check` uses, or a code of our own (tiktok_*) */
    const char *keys;   /* the profile keys of that rule, for messages ("" when none) */
    bool refit;         /* a strict re-fit can cure it (upload.tiktok.on_failed: refit) */
} tp_fail_rule;

/* The row for fail_reason; the generic `tiktok_failed` row (no refit) for NULL, "" or an
 * unknown reason. Never NULL. Thread-safe. */
const tp_fail_rule *tp_fail_rule_find(const char *fail_reason);

#endif
