/* The check result behind the public tp_check handle, visible to the library's other layers
 * (fit plans from it, the pipeline logs it). Plain data; immutable once built. */
#ifndef TP_CHECK_H
#define TP_CHECK_H

#include <stdbool.h>

#include "probe/media.h"
#include "probe/rules.h"
#include "tokprep.h"

struct tp_check {
    char *path;
    bool has_media; /* media is valid (false for TP_VERDICT_ERROR) */
    tp_media_info media;
    tp_check_result result;
    char *error;    /* TP_VERDICT_ERROR: the reason; else NULL */
    int error_code; /* TP_VERDICT_ERROR: the probe's TP_E* code (positive); else 0 */
};

/* tp_check_file; nofollow for a name found by walking a folder (a symlink there is refused,
 * not followed: docs/SECURITY.md, class 1). */
int tp_check_source(tp_check **out, const tp_profile *profile, const char *path, bool nofollow,
                    const tp_check_options *opts, tp_error *err);

/* A check of media measured earlier (the ledger's record), without opening path: the cover
 * image is looked up for path and the rules run as tp_check_file() runs them. */
int tp_check_media_new(tp_check **out, const tp_profile *profile, const char *path,
                       const tp_media_info *media, tp_error *err);

/* Probe the open source fd for fit (path names it in messages) and judge it: *media and *check.
 * The frames sampled for burned-in bars (fix.autocrop) are decoded only when the file is to be
 * re-encoded, the only case that can use them. Thread-safe. */
int tp_check_fd_for_fit(tp_media_info *media, tp_check_result *check, int fd, const char *path,
                        const tp_profile *profile, const tp_cancel *cancel, tp_error *err);

/* The media info of a check, or NULL when the file could not be read. */
const tp_media_info *tp_check_media(const tp_check *check);
/* The full rules result (violations, verdict, action, reason). */
const tp_check_result *tp_check_result_get(const tp_check *check);

#endif
