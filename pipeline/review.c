/* Review before posting (upload.tiktok.review): the post settings a person chooses, and
 * approving or rejecting a parked post in the ledger while a run may hold it (one conditional
 * UPDATE each, without the run's lock). */
#include "pipeline/review.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/ledger.h"
#include "upload/tiktok.h"
#include "util/tp_util.h"

/* ---- the ledger's review JSON -------------------------------------------------------------- */

char *tp_review_parked_json(const char *caption, const char *caption_error)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    if (caption)
        cJSON_AddStringToObject(o, "caption", caption);
    else
        cJSON_AddNullToObject(o, "caption");
    if (caption_error)
        cJSON_AddStringToObject(o, "caption_error", caption_error);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static bool json_true(const cJSON *o, const char *key)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static const char *json_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

void tp_review_approved_clear(tp_review_approved *a)
{
    if (!a)
        return;
    free(a->privacy_level);
    free(a->caption);
    memset(a, 0, sizeof(*a));
}

int tp_review_approved_read(tp_review_approved *out, const char *review_json, tp_error *err)
{
    memset(out, 0, sizeof(*out));
    if (!review_json || !*review_json)
        return 0;
    cJSON *o = cJSON_Parse(review_json);
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return tp_error_set(err, TP_EINVAL, 0, "the ledger's review record is not JSON");
    }
    if (!json_true(o, "approved")) {
        cJSON_Delete(o);
        return 0;
    }
    const char *privacy = json_str(o, "privacy_level"), *caption = json_str(o, "caption");
    out->privacy_level = privacy ? tp_strdup(privacy) : NULL;
    out->caption = caption ? tp_strdup(caption) : NULL;
    out->s = (tp_post_settings)TP_POST_SETTINGS_INIT;
    out->s.privacy_level = out->privacy_level;
    out->s.caption = out->caption;
    out->s.allow_comment = !json_true(o, "disable_comment");
    out->s.allow_duet = !json_true(o, "disable_duet");
    out->s.allow_stitch = !json_true(o, "disable_stitch");
    out->s.brand_organic = json_true(o, "brand_organic_toggle");
    out->s.brand_content = json_true(o, "brand_content_toggle");
    /* Missing keys must not widen what was approved: each disable_* must be there. */
    bool complete = cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(o, "disable_comment")) &&
                    cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(o, "disable_duet")) &&
                    cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(o, "disable_stitch"));
    cJSON_Delete(o);
    int rc = 0;
    if ((privacy && !out->privacy_level) || (caption && !out->caption))
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    else if (!complete)
        rc = tp_error_set(err, TP_EINVAL, 0, "the ledger's approved settings are incomplete");
    else
        rc = tp_post_settings_validate(&out->s, err);
    if (rc < 0) {
        tp_review_approved_clear(out);
        return rc;
    }
    return 1;
}

/* ---- approve, reject ------------------------------------------------------------------------ */

/* The row's review JSON while it awaits review, parsed. 0, or TP_EINVAL (no such id),
 * TP_ECONFLICT (not awaiting review), TP_EIO. */
static int read_parked(tp_ledger *l, const char *state_path, int64_t id, cJSON **out, tp_error *err)
{
    tp_ledger_row row;
    *out = NULL;
    int found = tp_ledger_get(l, &row, id, err);
    if (found < 0)
        return found;
    if (!found)
        return tp_error_set(err, TP_EINVAL, 0, "%s: no file with id %lld in the ledger", state_path,
                            (long long)id);
    int rc = 0;
    if (row.status != TP_JOB_AWAITING_REVIEW)
        rc = tp_error_set(err, TP_ECONFLICT, 0, "file %lld is %s, not awaiting review",
                          (long long)id, tp_job_status_name(row.status));
    else if ((*out = cJSON_Parse(row.review ? row.review : "{}")) && !cJSON_IsObject(*out)) {
        cJSON_Delete(*out);
        *out = NULL;
    }
    if (rc == 0 && !*out) /* a damaged record: start afresh */
        *out = cJSON_CreateObject();
    if (rc == 0 && !*out)
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    tp_ledger_row_clear(&row);
    return rc;
}

static int review_open(tp_ledger **l, const char *state_path, int64_t id, tp_error *err)
{
    if (!state_path || !*state_path)
        return tp_error_set(err, TP_EINVAL, 0, "no ledger given");
    if (id <= 0)
        return tp_error_set(err, TP_EINVAL, 0, "%s: no file with id %lld in the ledger", state_path,
                            (long long)id);
    return tp_ledger_open_shared(l, state_path, err);
}

int tp_review_approve(const char *state_path, int64_t id, const tp_post_settings *settings,
                      tp_error *err)
{
    tp_ledger *l = NULL;
    cJSON *parked = NULL, *o = NULL;
    char *json = NULL;
    int rc = tp_post_settings_validate(settings, err);
    if (rc < 0)
        return rc;
    if ((rc = review_open(&l, state_path, id, err)) < 0)
        goto out;
    if ((rc = read_parked(l, state_path, id, &parked, err)) < 0)
        goto out;
    /* The caption posted is the one the person saw (proposed) or typed: never re-read later. */
    const char *caption = settings->caption ? settings->caption : json_str(parked, "caption");
    if (!caption) {
        const char *why = json_str(parked, "caption_error");
        rc = tp_error_set(err, TP_EINVAL, 0,
                          "file %lld has no proposed caption%s%s; give one (--caption TEXT)",
                          (long long)id, why ? ": " : "", why ? why : "");
        goto out;
    }
    char when[40];
    tp_iso8601(when, sizeof(when), tp_now_wall());
    if (!(o = cJSON_CreateObject()) || !cJSON_AddBoolToObject(o, "approved", 1) ||
        !cJSON_AddStringToObject(o, "approved_at", when) ||
        !cJSON_AddStringToObject(o, "privacy_level", settings->privacy_level) ||
        !cJSON_AddStringToObject(o, "caption", caption) ||
        !cJSON_AddBoolToObject(o, "disable_comment", !settings->allow_comment) ||
        !cJSON_AddBoolToObject(o, "disable_duet", !settings->allow_duet) ||
        !cJSON_AddBoolToObject(o, "disable_stitch", !settings->allow_stitch) ||
        !cJSON_AddBoolToObject(o, "brand_organic_toggle", settings->brand_organic != 0) ||
        !cJSON_AddBoolToObject(o, "brand_content_toggle", settings->brand_content != 0) ||
        !(json = cJSON_PrintUnformatted(o))) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    rc = tp_ledger_review_set(l, id, TP_JOB_AWAITING_REVIEW, TP_JOB_QUEUED, json, NULL, NULL, err);
out:
    free(json);
    cJSON_Delete(o);
    cJSON_Delete(parked);
    tp_ledger_close(l);
    return rc;
}

int tp_review_reject(const char *state_path, int64_t id, const char *reason, tp_error *err)
{
    tp_ledger *l = NULL;
    cJSON *rec = NULL;
    char *json = NULL, *why = NULL;
    int rc;
    if (reason && tp_tt_utf16_units(reason) < 0)
        return tp_error_set(err, TP_EINVAL, 0, "the reason is not valid UTF-8");
    if ((rc = review_open(&l, state_path, id, err)) < 0)
        goto out;
    if ((rc = read_parked(l, state_path, id, &rec, err)) < 0)
        goto out;
    why = reason && *reason ? tp_asprintf("rejected in review: %s", reason)
                            : tp_strdup("rejected in review");
    char when[40];
    tp_iso8601(when, sizeof(when), tp_now_wall());
    /* Keeps the proposed caption; says when and why. */
    cJSON_DeleteItemFromObjectCaseSensitive(rec, "rejected");
    cJSON_DeleteItemFromObjectCaseSensitive(rec, "rejected_at");
    cJSON_DeleteItemFromObjectCaseSensitive(rec, "reason");
    if (!why || !cJSON_AddBoolToObject(rec, "rejected", 1) ||
        !cJSON_AddStringToObject(rec, "rejected_at", when) ||
        !(reason && *reason ? cJSON_AddStringToObject(rec, "reason", reason)
                            : cJSON_AddNullToObject(rec, "reason")) ||
        !(json = cJSON_PrintUnformatted(rec))) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    rc = tp_ledger_review_set(l, id, TP_JOB_AWAITING_REVIEW, TP_JOB_REJECTED, json, why,
                              tp_error_name(TP_EREJECT), err);
out:
    free(json);
    free(why);
    cJSON_Delete(rec);
    tp_ledger_close(l);
    return rc;
}
