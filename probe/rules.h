/* Rules: media info + profile → violations and a verdict. Pure: no FFmpeg, no I/O. */
#ifndef TP_RULES_H
#define TP_RULES_H

#include "probe/media.h"
#include "profiles/profile.h"

/* The most parts fix.too_long=split makes (the fit planner refuses a duration needing as many:
 * the check says so up front rather than promising a fix that fit then refuses). */
#define TP_MAX_PARTS 64

/* tp_verdict, tp_action and tp_severity are public: see include/tokprep.h (section check). */

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

/* How far (LU) from fix.audio.loudness.target a file may be: the check's range when
 * rules.loudness is null, and the accuracy fit promises. */
#define TP_LOUDNESS_TOLERANCE 1.0

/* The integrated loudness range files are held to: rules.loudness, else target ±1 LU when
 * fix.audio.loudness is set; false when neither (loudness not checked, not measured). Pure. */
bool tp_rules_loudness_range(const tp_profile *p, double *lo, double *hi);

/* tp_verdict_name(), tp_action_name(), tp_severity_name(): declared in include/tokprep.h. */

/* Fill *out as an error verdict (unreadable file) with `message` as the reason, and, when code
 * is not NULL, one error-severity violation with that code (not_media, truncated). */
void tp_rules_error(tp_check_result *out, const char *code, const char *message);

#endif
