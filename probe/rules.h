/* Rules: media info + profile → violations and a verdict. Pure: no FFmpeg, no I/O. */
#ifndef TP_RULES_H
#define TP_RULES_H

#include "probe/media.h"
#include "profiles/profile.h"

typedef enum { TP_VERDICT_PASS = 0, TP_VERDICT_FIX, TP_VERDICT_REJECT, TP_VERDICT_ERROR } tp_verdict;
typedef enum { TP_ACTION_NONE = 0, TP_ACTION_REMUX, TP_ACTION_TRANSCODE } tp_action;
typedef enum { TP_SEV_ERROR = 0, TP_SEV_WARN } tp_severity;

#define TP_MAX_VIOLATIONS 32

typedef struct {
    char code[32]; /* stable: duration_too_long, aspect, ... */
    tp_severity severity;
    char message[256]; /* "duration_too_long: 660.0 s > 600 s" */
} tp_violation;

typedef struct {
    tp_verdict verdict;
    tp_action action;          /* for TP_VERDICT_FIX; NONE otherwise */
    int n_violations;
    tp_violation violations[TP_MAX_VIOLATIONS];
    char reason[512];          /* reject/error: why, and which setting would change it */
} tp_check_result;

/* Judge media against the profile. Thread-safe (pure). */
void tp_rules_check(tp_check_result *out, const tp_media_info *media, const tp_profile *p);

const char *tp_verdict_name(tp_verdict v);  /* pass, fix, reject, error */
const char *tp_action_name(tp_action a);    /* none, remux, transcode */
const char *tp_severity_name(tp_severity s); /* error, warn */

#endif
