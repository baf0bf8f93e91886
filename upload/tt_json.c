/* TikTok response parsers (see tt_json.h): untrusted bytes → plain structs, nothing else. */
#include "upload/tt_json.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/tp_util.h"

/* Every string TikTok sends may end up in a message on a terminal: no control characters. */
static void copy_str(char *dst, size_t size, const cJSON *item)
{
    if (cJSON_IsString(item) && item->valuestring) {
        tp_strlcpy(dst, item->valuestring, size);
        tp_str_strip_controls(dst);
    } else {
        dst[0] = '\0';
    }
}

static cJSON *parse_len(const char *body, size_t len)
{
    if (!body || len == 0)
        return NULL;
    return cJSON_ParseWithLength(body, len);
}

static int64_t num_or(const cJSON *item, int64_t dflt)
{
    if (!cJSON_IsNumber(item))
        return dflt;
    double v = item->valuedouble;
    if (!(v >= -9.0e18 && v <= 9.0e18))
        return dflt;
    return (int64_t)v;
}

int tp_tt_parse_envelope(cJSON **data, tp_tt_api_error *api, const char *body, size_t len)
{
    if (data)
        *data = NULL;
    memset(api, 0, sizeof(*api));
    cJSON *root = parse_len(body, len);
    int rc = TP_EHTTP;
    if (!cJSON_IsObject(root)) {
        tp_strlcpy(api->message, "response is not a JSON object", sizeof(api->message));
        goto out;
    }
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    if (!cJSON_IsObject(e)) {
        tp_strlcpy(api->message, "response has no error object", sizeof(api->message));
        goto out;
    }
    copy_str(api->code, sizeof(api->code), cJSON_GetObjectItemCaseSensitive(e, "code"));
    copy_str(api->message, sizeof(api->message), cJSON_GetObjectItemCaseSensitive(e, "message"));
    copy_str(api->log_id, sizeof(api->log_id), cJSON_GetObjectItemCaseSensitive(e, "log_id"));
    if (strcmp(api->code, "ok") != 0) {
        if (!api->code[0])
            tp_strlcpy(api->message, "response error object has no code", sizeof(api->message));
        goto out;
    }
    if (data) {
        cJSON *d = cJSON_DetachItemFromObjectCaseSensitive(root, "data");
        if (!cJSON_IsObject(d)) {
            cJSON_Delete(d);
            d = cJSON_CreateObject();
        }
        *data = d;
        if (!d)
            goto out;
    }
    rc = 0;
out:
    cJSON_Delete(root);
    return rc;
}

void tp_tt_token_clear(tp_tt_token *tok)
{
    if (!tok)
        return;
    free(tok->access_token);
    free(tok->refresh_token);
    free(tok->open_id);
    free(tok->scope);
    memset(tok, 0, sizeof(*tok));
}

static char *dup_str(const cJSON *item)
{
    if (!cJSON_IsString(item) || !item->valuestring)
        return NULL;
    char *s = tp_strdup(item->valuestring);
    tp_str_strip_controls(s); /* open_id and scope are printed */
    return s;
}

int tp_tt_parse_token_response(tp_tt_token *tok, tp_tt_api_error *api, const char *body, size_t len,
                               int64_t now)
{
    memset(api, 0, sizeof(*api));
    cJSON *root = parse_len(body, len);
    int rc = TP_EHTTP;
    if (!cJSON_IsObject(root)) {
        tp_strlcpy(api->message, "token response is not a JSON object", sizeof(api->message));
        goto out;
    }
    copy_str(api->log_id, sizeof(api->log_id), cJSON_GetObjectItemCaseSensitive(root, "log_id"));
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(root, "access_token");
    if (!cJSON_IsString(at) || !at->valuestring || !at->valuestring[0]) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
        copy_str(api->code, sizeof(api->code), e);
        if (cJSON_IsObject(e)) { /* some answers nest the error like data endpoints */
            copy_str(api->code, sizeof(api->code), cJSON_GetObjectItemCaseSensitive(e, "code"));
            copy_str(api->message, sizeof(api->message),
                     cJSON_GetObjectItemCaseSensitive(e, "message"));
        } else {
            copy_str(api->message, sizeof(api->message),
                     cJSON_GetObjectItemCaseSensitive(root, "error_description"));
        }
        if (!api->code[0])
            tp_strlcpy(api->code, "no_access_token", sizeof(api->code));
        rc = TP_EAUTH;
        goto out;
    }
    tp_tt_token t = {0};
    t.access_token = dup_str(at);
    t.refresh_token = dup_str(cJSON_GetObjectItemCaseSensitive(root, "refresh_token"));
    t.open_id = dup_str(cJSON_GetObjectItemCaseSensitive(root, "open_id"));
    t.scope = dup_str(cJSON_GetObjectItemCaseSensitive(root, "scope"));
    if (!t.open_id)
        t.open_id = tp_strdup("");
    if (!t.scope)
        t.scope = tp_strdup("");
    int64_t ein = num_or(cJSON_GetObjectItemCaseSensitive(root, "expires_in"), 86400);
    int64_t rin = num_or(cJSON_GetObjectItemCaseSensitive(root, "refresh_expires_in"), 0);
    t.expires_at = now + ein;
    t.refresh_expires_at = rin > 0 ? now + rin : 0;
    if (!t.access_token || !t.refresh_token || !t.open_id || !t.scope) {
        tp_tt_token_clear(&t);
        tp_strlcpy(api->code, "no_refresh_token", sizeof(api->code));
        tp_strlcpy(api->message, "token response lacks refresh_token", sizeof(api->message));
        rc = TP_EAUTH;
        goto out;
    }
    tp_tt_token_clear(tok);
    *tok = t;
    rc = 0;
out:
    cJSON_Delete(root);
    return rc;
}

int tp_tt_token_parse(tp_tt_token *tok, const char *text, size_t len, tp_error *err)
{
    static const char *const fields[] = {"access_token", "refresh_token", "open_id", "scope"};
    cJSON *root = parse_len(text, len);
    tp_tt_token t = {0};
    char **slots[] = {&t.access_token, &t.refresh_token, &t.open_id, &t.scope};
    int rc = 0;
    if (!cJSON_IsObject(root)) {
        rc = tp_error_set(err, TP_EINVAL, 0, "token file is not a JSON object");
        goto out;
    }
    for (size_t i = 0; i < TP_ARRAY_LEN(fields); i++) {
        *slots[i] = dup_str(cJSON_GetObjectItemCaseSensitive(root, fields[i]));
        if (!*slots[i]) {
            rc = tp_error_set(err, TP_EINVAL, 0, "token file has no string field '%s'", fields[i]);
            goto out;
        }
    }
    const cJSON *ea = cJSON_GetObjectItemCaseSensitive(root, "expires_at");
    const cJSON *ra = cJSON_GetObjectItemCaseSensitive(root, "refresh_expires_at");
    if (!cJSON_IsNumber(ea) || !cJSON_IsNumber(ra)) {
        rc = tp_error_set(err, TP_EINVAL, 0,
                          "token file needs numbers 'expires_at' and 'refresh_expires_at'");
        goto out;
    }
    t.expires_at = num_or(ea, 0);
    t.refresh_expires_at = num_or(ra, 0);
    tp_tt_token_clear(tok);
    *tok = t;
    memset(&t, 0, sizeof(t));
out:
    tp_tt_token_clear(&t);
    cJSON_Delete(root);
    return rc;
}

char *tp_tt_token_serialize(const tp_tt_token *tok)
{
    cJSON *o = cJSON_CreateObject();
    char *s = NULL;
    if (!o)
        return NULL;
    if (!cJSON_AddStringToObject(o, "access_token", tok->access_token ? tok->access_token : "") ||
        !cJSON_AddStringToObject(o, "refresh_token",
                                 tok->refresh_token ? tok->refresh_token : "") ||
        !cJSON_AddStringToObject(o, "open_id", tok->open_id ? tok->open_id : "") ||
        !cJSON_AddStringToObject(o, "scope", tok->scope ? tok->scope : "") ||
        !cJSON_AddNumberToObject(o, "expires_at", (double)tok->expires_at) ||
        !cJSON_AddNumberToObject(o, "refresh_expires_at", (double)tok->refresh_expires_at))
        goto out;
    s = cJSON_Print(o);
out:
    cJSON_Delete(o);
    return s;
}

int tp_tt_parse_creator_info(tp_tt_creator_info *out, const cJSON *data)
{
    memset(out, 0, sizeof(*out));
    out->max_duration = -1;
    if (!cJSON_IsObject(data))
        return TP_EHTTP;
    copy_str(out->username, sizeof(out->username),
             cJSON_GetObjectItemCaseSensitive(data, "creator_username"));
    copy_str(out->nickname, sizeof(out->nickname),
             cJSON_GetObjectItemCaseSensitive(data, "creator_nickname"));
    /* A cut URL would point somewhere else: whole or nothing. */
    const cJSON *avatar = cJSON_GetObjectItemCaseSensitive(data, "creator_avatar_url");
    if (cJSON_IsString(avatar) && avatar->valuestring &&
        strlen(avatar->valuestring) < sizeof(out->avatar_url)) {
        copy_str(out->avatar_url, sizeof(out->avatar_url), avatar);
        if (strcmp(out->avatar_url, avatar->valuestring))
            out->avatar_url[0] = '\0'; /* it had control characters or bad UTF-8 */
    }
    const cJSON *opts = cJSON_GetObjectItemCaseSensitive(data, "privacy_level_options");
    if (!cJSON_IsArray(opts))
        return TP_EHTTP;
    const cJSON *it;
    cJSON_ArrayForEach(it, opts)
    {
        if (out->n_privacy >= (int)TP_ARRAY_LEN(out->privacy_options))
            break;
        if (cJSON_IsString(it) && it->valuestring) {
            copy_str(out->privacy_options[out->n_privacy], sizeof(out->privacy_options[0]), it);
            if (out->privacy_options[out->n_privacy][0])
                out->n_privacy++;
        }
    }
    out->comment_disabled =
        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(data, "comment_disabled"));
    out->duet_disabled = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(data, "duet_disabled"));
    out->stitch_disabled = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(data, "stitch_disabled"));
    out->max_duration =
        num_or(cJSON_GetObjectItemCaseSensitive(data, "max_video_post_duration_sec"), -1);
    return 0;
}

int tp_tt_parse_init(tp_tt_init_info *out, const cJSON *data)
{
    memset(out, 0, sizeof(*out));
    const cJSON *pid = cJSON_GetObjectItemCaseSensitive(data, "publish_id");
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(data, "upload_url");
    if (!cJSON_IsString(pid) || !pid->valuestring || !pid->valuestring[0])
        return TP_EHTTP;
    if (strlen(pid->valuestring) >= sizeof(out->publish_id))
        return TP_EHTTP;
    tp_strlcpy(out->publish_id, pid->valuestring, sizeof(out->publish_id));
    tp_str_strip_controls(out->publish_id);
    /* FILE_UPLOAD needs the URL; it must fit whole, a truncated one would be wrong. */
    if (!cJSON_IsString(url) || !url->valuestring || !url->valuestring[0] ||
        strlen(url->valuestring) >= sizeof(out->upload_url))
        return TP_EHTTP;
    tp_strlcpy(out->upload_url, url->valuestring, sizeof(out->upload_url));
    return 0;
}

int tp_tt_parse_status(tp_tt_status_info *out, const cJSON *data)
{
    memset(out, 0, sizeof(*out));
    out->uploaded_bytes = -1;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(data, "status");
    if (!cJSON_IsString(st) || !st->valuestring || !st->valuestring[0])
        return TP_EHTTP;
    copy_str(out->status, sizeof(out->status), st);
    copy_str(out->fail_reason, sizeof(out->fail_reason),
             cJSON_GetObjectItemCaseSensitive(data, "fail_reason"));
    /* TikTok spells it "publicaly"; accept the correct spelling too in case they fix it. */
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(data, "publicaly_available_post_id");
    if (!ids)
        ids = cJSON_GetObjectItemCaseSensitive(data, "publicly_available_post_id");
    const cJSON *it;
    if (cJSON_IsArray(ids)) {
        cJSON_ArrayForEach(it, ids)
        {
            if (out->n_post_ids >= TP_TT_MAX_IDS)
                break;
            if (cJSON_IsNumber(it))
                out->post_ids[out->n_post_ids++] = num_or(it, 0);
            else if (cJSON_IsString(it) && it->valuestring)
                out->post_ids[out->n_post_ids++] = strtoll(it->valuestring, NULL, 10);
        }
    }
    out->uploaded_bytes = num_or(cJSON_GetObjectItemCaseSensitive(data, "uploaded_bytes"), -1);
    return 0;
}

static int parse_i64(const char **p, int64_t *out)
{
    const char *s = *p;
    if (!isdigit((unsigned char)*s))
        return TP_EINVAL;
    int64_t v = 0;
    while (isdigit((unsigned char)*s)) {
        if (v > (INT64_MAX - 9) / 10)
            return TP_EINVAL;
        v = v * 10 + (*s - '0');
        s++;
    }
    *p = s;
    *out = v;
    return 0;
}

int tp_tt_parse_content_range(const char *value, int64_t *last, int64_t *total)
{
    if (!value)
        return TP_EINVAL;
    const char *s = value;
    while (*s == ' ')
        s++;
    if (strncasecmp(s, "bytes", 5) != 0)
        return TP_EINVAL;
    s += 5;
    while (*s == ' ' || *s == '=')
        s++;
    int64_t first = 0, l = -1, t = 0;
    if (*s == '*') {
        s++;
    } else {
        if (parse_i64(&s, &first) < 0 || *s++ != '-' || parse_i64(&s, &l) < 0 || l < first)
            return TP_EINVAL;
    }
    if (*s++ != '/' || parse_i64(&s, &t) < 0)
        return TP_EINVAL;
    while (*s == ' ' || *s == '\r' || *s == '\n')
        s++;
    if (*s || (l >= 0 && l >= t))
        return TP_EINVAL;
    *last = l;
    *total = t;
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int tp_tt_url_decode(char *dst, size_t size, const char *src, size_t len)
{
    size_t o = 0;
    if (size == 0)
        return TP_EINVAL;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)src[i];
        if (c == '%') {
            if (i + 2 >= len)
                return TP_EINVAL;
            int hi = hexval((unsigned char)src[i + 1]);
            int lo = hexval((unsigned char)src[i + 2]);
            if (hi < 0 || lo < 0)
                return TP_EINVAL;
            c = hi * 16 + lo;
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (c == 0 || o + 1 >= size)
            return TP_EINVAL;
        dst[o++] = (char)c;
    }
    dst[o] = '\0';
    return 0;
}

int tp_tt_parse_callback(tp_tt_callback *out, const char *url_or_query)
{
    memset(out, 0, sizeof(*out));
    if (!url_or_query)
        return TP_EINVAL;
    const char *q = strchr(url_or_query, '?');
    q = q ? q + 1 : url_or_query;
    size_t qlen = strcspn(q, "# \r\n");
    struct {
        const char *name;
        char *dst;
        size_t size;
    } fields[] = {
        {"code", out->code, sizeof(out->code)},
        {"state", out->state, sizeof(out->state)},
        {"scopes", out->scopes, sizeof(out->scopes)},
        {"error", out->error, sizeof(out->error)},
        {"error_description", out->error_description, sizeof(out->error_description)},
    };
    size_t i = 0;
    while (i < qlen) {
        size_t plen = 0;
        while (i + plen < qlen && q[i + plen] != '&')
            plen++;
        const char *pair = q + i;
        const char *eq = memchr(pair, '=', plen);
        if (eq) {
            size_t nlen = (size_t)(eq - pair);
            for (size_t f = 0; f < TP_ARRAY_LEN(fields); f++) {
                if (strlen(fields[f].name) == nlen && !memcmp(fields[f].name, pair, nlen)) {
                    if (tp_tt_url_decode(fields[f].dst, fields[f].size, eq + 1, plen - nlen - 1) <
                        0)
                        return TP_EINVAL;
                }
            }
        }
        i += plen + 1;
    }
    /* The redirect comes from whoever reached the loopback port: its text gets printed. */
    for (size_t f = 0; f < TP_ARRAY_LEN(fields); f++)
        tp_str_strip_controls(fields[f].dst);
    if (!out->code[0] && !out->error[0])
        return TP_EINVAL;
    return 0;
}

void tp_tiktok_resume_clear(tp_tiktok_resume *rs)
{
    if (!rs)
        return;
    free(rs->publish_id);
    if (rs->upload_url) { /* it holds TikTok's upload token: wipe before free */
        volatile char *v = rs->upload_url;
        while (*v)
            *v++ = '\0';
    }
    free(rs->upload_url);
    memset(rs, 0, sizeof(*rs));
}

void tp_tiktok_result_clear(tp_tiktok_result *res)
{
    if (!res)
        return;
    free(res->publish_id);
    free(res->status);
    free(res->fail_reason);
    free(res->api_code);
    free(res->log_id);
    memset(res, 0, sizeof(*res));
}

char *tp_tt_resume_serialize(const tp_tiktok_resume *rs)
{
    cJSON *o = cJSON_CreateObject();
    char *s = NULL;
    if (!o)
        return NULL;
    if (cJSON_AddStringToObject(o, "publish_id", rs->publish_id ? rs->publish_id : "") &&
        cJSON_AddStringToObject(o, "upload_url", rs->upload_url ? rs->upload_url : "") &&
        cJSON_AddNumberToObject(o, "upload_url_expires_at", rs->upload_url_expires_at) &&
        cJSON_AddNumberToObject(o, "next_chunk", rs->next_chunk) &&
        cJSON_AddNumberToObject(o, "chunk_count", rs->chunk_count) &&
        cJSON_AddNumberToObject(o, "chunk_size", (double)rs->chunk_size) &&
        cJSON_AddNumberToObject(o, "total", (double)rs->total))
        s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

int tp_tt_resume_parse(tp_tiktok_resume *rs, const char *text, size_t len, tp_error *err)
{
    static const char *const nums[] = {"upload_url_expires_at", "next_chunk", "chunk_count",
                                       "chunk_size", "total"};
    cJSON *root = parse_len(text, len);
    tp_tiktok_resume r = TP_TIKTOK_RESUME_INIT;
    int rc = 0;
    if (!cJSON_IsObject(root)) {
        rc = tp_error_set(err, TP_EINVAL, 0, "resume state is not a JSON object");
        goto out;
    }
    const cJSON *pid = cJSON_GetObjectItemCaseSensitive(root, "publish_id");
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(root, "upload_url");
    if (!cJSON_IsString(pid) || !cJSON_IsString(url) ||
        strlen(pid->valuestring) >= TP_TT_RESUME_ID_MAX || strlen(url->valuestring) >= TP_TT_URL) {
        rc = tp_error_set(err, TP_EINVAL, 0, "resume state needs strings publish_id, upload_url");
        goto out;
    }
    for (size_t i = 0; i < TP_ARRAY_LEN(nums); i++) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(root, nums[i]);
        if (!cJSON_IsNumber(n) || n->valuedouble < 0 || n->valuedouble > 9.0e18) {
            rc = tp_error_set(err, TP_EINVAL, 0, "resume state needs a number '%s'", nums[i]);
            goto out;
        }
    }
    r.upload_url_expires_at =
        cJSON_GetObjectItemCaseSensitive(root, "upload_url_expires_at")->valuedouble;
    double nc = cJSON_GetObjectItemCaseSensitive(root, "next_chunk")->valuedouble;
    double cc = cJSON_GetObjectItemCaseSensitive(root, "chunk_count")->valuedouble;
    if (nc > 100000 || cc > 100000 || nc > cc) {
        rc = tp_error_set(err, TP_EINVAL, 0, "resume state has impossible chunk numbers");
        goto out;
    }
    r.next_chunk = (int)nc;
    r.chunk_count = (int)cc;
    r.chunk_size = (long long)cJSON_GetObjectItemCaseSensitive(root, "chunk_size")->valuedouble;
    r.total = (long long)cJSON_GetObjectItemCaseSensitive(root, "total")->valuedouble;
    if ((pid->valuestring[0] && !(r.publish_id = tp_strdup(pid->valuestring))) ||
        (url->valuestring[0] && !(r.upload_url = tp_strdup(url->valuestring)))) {
        tp_tiktok_resume_clear(&r);
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    tp_tiktok_resume_clear(rs);
    *rs = r;
out:
    cJSON_Delete(root);
    return rc;
}
