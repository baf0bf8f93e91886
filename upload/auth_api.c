/* The public auth calls (tp_auth_*) and the resume-state file (tp_tiktok_resume_load/save):
 * thin wrappers over upload/auth.c that never hand a token to the caller. */
#include <stdlib.h>
#include <string.h>

#include "upload/auth.h"
#include "upload/tt_json.h"
#include "util/tp_util.h"

struct tp_auth_info {
    char *open_id;
    char *scope;
    int64_t expires_at, refresh_expires_at;
};

int tp_auth_login_options_init(tp_auth_login_options *opts, unsigned version)
{
    static const tp_auth_login_options init = TP_AUTH_LOGIN_OPTIONS_INIT;
    if (!opts || version != TP_AUTH_LOGIN_OPTIONS_VERSION)
        return TP_EINVAL;
    *opts = init;
    return 0;
}

int tp_auth_token_path(char *buf, size_t size, const tp_profile *profile, tp_error *err)
{
    if (!buf || !size || !profile)
        return tp_error_set(err, TP_EINVAL, 0, "tp_auth_token_path: missing argument");
    return tp_tt_token_path(buf, size, profile, err);
}

/* The non-secret part of tok as a tp_auth_info; tok is cleared in any case. */
static int info_from(tp_auth_info **out, tp_tt_token *tok, tp_error *err)
{
    tp_auth_info *i = calloc(1, sizeof(*i));
    if (i) {
        i->open_id = tp_strdup(tok->open_id ? tok->open_id : "");
        i->scope = tp_strdup(tok->scope ? tok->scope : "");
        i->expires_at = tok->expires_at;
        i->refresh_expires_at = tok->refresh_expires_at;
    }
    tp_tt_token_clear(tok);
    if (!i || !i->open_id || !i->scope) {
        tp_auth_info_free(i);
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    }
    *out = i;
    return 0;
}

int tp_auth_status(tp_auth_info **out, const tp_profile *profile, tp_error *err)
{
    char path[4096];
    tp_tt_token tok = {0};
    int rc;
    if (!out || !profile)
        return tp_error_set(err, TP_EINVAL, 0, "tp_auth_status: missing argument");
    *out = NULL;
    if ((rc = tp_tt_token_path(path, sizeof(path), profile, err)) < 0 ||
        (rc = tp_tt_token_load(&tok, profile, path, err)) < 0) {
        tp_tt_token_clear(&tok);
        return rc;
    }
    return info_from(out, &tok, err);
}

/* The token file and an HTTP handle, for the calls that talk to TikTok. */
static int begin(char path[4096], tp_http **http, const tp_profile *profile, tp_error *err)
{
    int rc = tp_tt_token_path(path, 4096, profile, err);
    if (rc < 0)
        return rc;
    return tp_http_new(http, err);
}

int tp_auth_login(tp_auth_info **out, const tp_profile *profile, const tp_auth_login_options *opts,
                  tp_error *err)
{
    static const tp_auth_login_options defaults = TP_AUTH_LOGIN_OPTIONS_INIT;
    const tp_auth_login_options *o = opts ? opts : &defaults;
    char path[4096];
    tp_http *http = NULL;
    tp_tt_token tok = {0};
    int rc;
    if (!out || !profile)
        return tp_error_set(err, TP_EINVAL, 0, "tp_auth_login: missing argument");
    *out = NULL;
    if (o->version != TP_AUTH_LOGIN_OPTIONS_VERSION)
        return tp_error_set(err, TP_EINVAL, 0, "tp_auth_login: unknown options version %u",
                            o->version);
    if ((rc = begin(path, &http, profile, err)) < 0)
        goto out;
    tp_tt_login_options lo = {.no_browser = o->no_browser != 0,
                              .no_wait = o->no_wait != 0,
                              .code_url = o->code_url,
                              .wait = o->wait > 0 ? o->wait : 300.0,
                              .out = o->out ? o->out : stdout,
                              .cancel = o->cancel};
    rc = tp_tt_login(&tok, http, profile, path, &lo, err);
    if (rc == 0)
        rc = info_from(out, &tok, err);
out:
    tp_tt_token_clear(&tok);
    tp_http_free(http);
    return rc;
}

int tp_auth_refresh(tp_auth_info **out, const tp_profile *profile, tp_error *err)
{
    char path[4096];
    tp_http *http = NULL;
    tp_tt_token tok = {0};
    int rc;
    if (!out || !profile)
        return tp_error_set(err, TP_EINVAL, 0, "tp_auth_refresh: missing argument");
    *out = NULL;
    if ((rc = begin(path, &http, profile, err)) == 0 &&
        (rc = tp_tt_refresh(&tok, http, profile, path, err)) == 0)
        rc = info_from(out, &tok, err);
    tp_tt_token_clear(&tok);
    tp_http_free(http);
    return rc;
}

int tp_auth_logout(const tp_profile *profile, tp_error *err)
{
    char path[4096];
    tp_http *http = NULL;
    int rc;
    if (!profile)
        return tp_error_set(err, TP_EINVAL, 0, "tp_auth_logout: missing argument");
    if ((rc = begin(path, &http, profile, err)) == 0)
        rc = tp_tt_logout(http, profile, path, err);
    tp_http_free(http);
    return rc;
}

const char *tp_auth_info_open_id(const tp_auth_info *info)
{
    return info->open_id;
}

const char *tp_auth_info_scope(const tp_auth_info *info)
{
    return info->scope;
}

int64_t tp_auth_info_expires_at(const tp_auth_info *info)
{
    return info->expires_at;
}

int64_t tp_auth_info_refresh_expires_at(const tp_auth_info *info)
{
    return info->refresh_expires_at;
}

void tp_auth_info_free(tp_auth_info *info)
{
    if (!info)
        return;
    free(info->open_id);
    free(info->scope);
    free(info);
}

int tp_tiktok_resume_load(tp_tiktok_resume *out, const char *path, tp_error *err)
{
    char *text = NULL;
    size_t len = 0;
    if (!out || !path)
        return tp_error_set(err, TP_EINVAL, 0, "tp_tiktok_resume_load: missing argument");
    int rc = tp_tt_private_read(path, &text, &len, err);
    if (rc == 0)
        rc = tp_tt_resume_parse(out, text, len, err);
    free(text);
    return rc;
}

int tp_tiktok_resume_save(const char *path, const tp_tiktok_resume *resume, tp_error *err)
{
    if (!path || !resume)
        return tp_error_set(err, TP_EINVAL, 0, "tp_tiktok_resume_save: missing argument");
    char *text = tp_tt_resume_serialize(resume);
    if (!text)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    int rc = tp_tt_private_write(path, text, err);
    free(text);
    return rc;
}
