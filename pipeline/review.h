/* Review before posting (upload.tiktok.review), the pipeline's side: what the ledger's `review`
 * column holds and how the deliver step reads it back. The public calls are in tokprep.h. */
#ifndef TP_REVIEW_H
#define TP_REVIEW_H

#include <stdbool.h>

#include "tokprep.h"

/* The settings a person approved, read back from the ledger's review JSON: s points into the
 * owned strings. */
typedef struct {
    tp_post_settings s;
    char *privacy_level;
    char *caption;
} tp_review_approved;

/* review_json of a row: 1 and *out filled (clear it with tp_review_approved_clear) when it
 * records an approval, 0 when it does not (NULL, only a proposed caption, a rejection), or
 * TP_EINVAL (with err) when it says approved but its settings cannot be read or fail
 * tp_post_settings_validate(): such a row must never be posted with other settings. */
int tp_review_approved_read(tp_review_approved *out, const char *review_json, tp_error *err);
void tp_review_approved_clear(tp_review_approved *a);

/* {"caption": proposed} (caption NULL: null, with "caption_error": why there is none), for a
 * row parked for review. malloc'd, NULL on OOM. */
char *tp_review_parked_json(const char *caption, const char *caption_error);

#endif
