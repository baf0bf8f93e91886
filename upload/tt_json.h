/* TikTok response parsers: bytes in, plain structs out. No curl, no files, no clock, so each
 * function can be fed arbitrary input by a fuzzer (tests/fuzz) and by table-driven unit tests.
 * All functions are thread-safe; strings written into fixed buffers are always terminated. */
#ifndef TP_TT_JSON_H
#define TP_TT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokprep.h"

#define TP_TT_STR 256   /* codes, ids, scopes, reasons */
#define TP_TT_URL 1024  /* upload_url (TikTok: <= 256 chars; room for local servers) */
#define TP_TT_MAX_IDS 8 /* publicaly_available_post_id entries kept */

/* The `error` object of a data-endpoint envelope, or of a flat OAuth error. */
typedef struct {
    char code[TP_TT_STR];    /* "ok", "access_token_invalid", ... ("" when absent) */
    char message[TP_TT_STR]; /* TikTok's message / error_description (never a secret) */
    char log_id[TP_TT_STR];
} tp_tt_api_error;

/* Tokens as stored in the token file. Strings are malloc'd; tp_tt_token_clear frees them. */
typedef struct {
    char *access_token;
    char *refresh_token;
    char *open_id;
    char *scope;
    int64_t expires_at;         /* epoch seconds */
    int64_t refresh_expires_at; /* epoch seconds */
} tp_tt_token;

/* Strings as sent, control characters removed and cut to fit (a URL that does not fit whole is
 * dropped: ""); a field of the wrong type reads as "" / false / absent. */
typedef struct {
    char username[TP_TT_STR];
    char nickname[TP_TT_STR];
    char avatar_url[TP_TT_URL]; /* creator_avatar_url */
    int n_privacy;
    char privacy_options[8][48];
    bool comment_disabled, duet_disabled, stitch_disabled;
    int64_t max_duration; /* max_video_post_duration_sec, -1 when absent */
} tp_tt_creator_info;

typedef struct {
    char publish_id[TP_TT_STR];
    char upload_url[TP_TT_URL];
} tp_tt_init_info;

typedef struct {
    char status[64]; /* PROCESSING_UPLOAD, ..., PUBLISH_COMPLETE, FAILED */
    char fail_reason[TP_TT_STR];
    int n_post_ids;
    int64_t post_ids[TP_TT_MAX_IDS];
    int64_t uploaded_bytes; /* -1 when absent */
} tp_tt_status_info;

/* Parsed OAuth callback query (or pasted redirect URL), URL-decoded. */
typedef struct {
    char code[TP_TT_URL];
    char state[TP_TT_STR];
    char scopes[TP_TT_STR];
    char error[TP_TT_STR];
    char error_description[TP_TT_STR];
} tp_tt_callback;

/* Parse a data-endpoint envelope {"data":{...},"error":{...}}. Returns 0 when error.code is
 * "ok" and sets *data to a detached cJSON object (caller frees with cJSON_Delete; a missing data
 * becomes an empty object). On an API error returns TP_EHTTP with *api filled and *data NULL;
 * on unparseable input returns TP_EHTTP with api->code "". data may be NULL. */
struct cJSON;
int tp_tt_parse_envelope(struct cJSON **data, tp_tt_api_error *api, const char *body, size_t len);

/* OAuth token endpoint answer (flat JSON; errors may come with HTTP 200, so only the body is
 * judged). `now` is epoch seconds used to turn expires_in into expires_at. 0 and *tok filled
 * (previous contents freed), or TP_EAUTH with *api filled, or TP_EHTTP when unparseable. */
int tp_tt_parse_token_response(tp_tt_token *tok, tp_tt_api_error *api, const char *body, size_t len,
                               int64_t now);

/* The token file (see docs/readme/upload.md). parse: 0 or TP_EINVAL with a message that
 * names the missing field, never a value. serialize: malloc'd JSON text, NULL on OOM. */
int tp_tt_token_parse(tp_tt_token *tok, const char *text, size_t len, tp_error *err);
char *tp_tt_token_serialize(const tp_tt_token *tok);
void tp_tt_token_clear(tp_tt_token *tok);

/* Data payloads (the `data` object of an envelope already judged ok). 0 or TP_EHTTP. */
int tp_tt_parse_creator_info(tp_tt_creator_info *out, const struct cJSON *data);
int tp_tt_parse_init(tp_tt_init_info *out, const struct cJSON *data);
int tp_tt_parse_status(tp_tt_status_info *out, const struct cJSON *data);

/* "bytes 0-1234/5000" (a 416's progress report) → *last = 1234, *total = 5000; "bytes * /5000"
 * → *last = -1 (nothing stored). 0 or TP_EINVAL. */
int tp_tt_parse_content_range(const char *value, int64_t *last, int64_t *total);

/* A redirect URL ("http://127.0.0.1:8723/callback/?code=..&state=..") or just its query string
 * ("code=..&state=..") → decoded fields. 0, or TP_EINVAL when neither code nor error is there. */
int tp_tt_parse_callback(tp_tt_callback *out, const char *url_or_query);

/* Resume state (tokprep.h's tp_tiktok_resume) as JSON, for callers that persist it in a file
 * (it holds the upload URL's token: write it with mode 0600). serialize: malloc'd, NULL on OOM.
 * parse: 0, or TP_EINVAL naming the bad field. */
char *tp_tt_resume_serialize(const tp_tiktok_resume *rs);
/* Replaces *rs (which must be initialised: its strings are freed) on success. Limits: publish_id
 * shorter than TP_TT_RESUME_ID_MAX, upload_url shorter than TP_TT_URL. */
#define TP_TT_RESUME_ID_MAX 256
int tp_tt_resume_parse(tp_tiktok_resume *rs, const char *text, size_t len, tp_error *err);

/* Percent-decode src (also '+' → ' ') into dst; TP_EINVAL on bad escapes or overflow. */
int tp_tt_url_decode(char *dst, size_t size, const char *src, size_t len);

#endif
