/* TikTok Content Posting API client: creator_info, init, chunked PUTs, status polling, with
 * client-side rate limits, a daily cap, retries where they are safe, and resume state. */
#define _POSIX_C_SOURCE 200809L
#include "upload/tiktok.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "upload/auth.h"
#include "upload/chunk.h"
#include "upload/fail_rules.h"
#include "upload/http.h"
#include "upload/tt_json.h"
#include "upload/tt_limits.h"
#include "util/path.h"
#include "util/srcfile.h"
#include "util/tp_util.h"

#define CAPTION_MAX_UNITS 2200
#define UPLOAD_URL_TTL 3600.0 /* TikTok: upload_url valid for one hour */
#define URL_MARGIN 60.0       /* re-init rather than start a chunk this close to expiry */
#define MAX_REINITS 1         /* after an expired URL; more would risk loops of posts */
#define RATE_WINDOW 60.0      /* TikTok's; upload.tiktok.rate_window changes it for test servers */

enum {
    EP_CREATOR = TP_TT_EP_CREATOR_INFO,
    EP_INIT = TP_TT_EP_INIT,
    EP_STATUS = TP_TT_EP_STATUS,
    EP_OTHER = TP_TT_EP_OTHER,
    EP__N = TP_TT_EP_COUNT
};

/* TikTok's documented per-token limits per RATE_WINDOW (shared doc section 7). */
static const int ep_limit[EP__N] = {20, 6, 30, 30};

struct tp_tiktok {
    const tp_profile *p;
    tp_http *http;
    char token_path[4096];
    char posts_path[4200]; /* the local store's daily-cap file */
    tp_tt_token tok;
    bool have_tok;
    /* Where the rate windows and the daily cap are kept: `local` (this session's memory and
     * posts_path) unless upload.tiktok.shared_limits names a Redis (`shared`, opened on first
     * use and owned) or tp_tiktok_set_limits() lent one (`lent`). */
    tp_tt_limits *local, *shared, *lent;
    tp_tt_account acct;
    bool acct_ready;
    bool may_have_posted;     /* the last init reached TikTok without a clear refusal */
    double hold_until[EP__N]; /* monotonic: the server said X-RateLimit-Remaining: 0 */
    unsigned int seed;        /* for backoff jitter */
};

/* ---- pure helpers ---------------------------------------------------------------------- */

long tp_tt_utf16_units(const char *s)
{
    long units = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int len;
        uint32_t cp;
        if (*p < 0x80) {
            len = 1;
            cp = *p;
        } else if ((*p & 0xE0) == 0xC0) {
            len = 2;
            cp = *p & 0x1F;
        } else if ((*p & 0xF0) == 0xE0) {
            len = 3;
            cp = *p & 0x0F;
        } else if ((*p & 0xF8) == 0xF0) {
            len = 4;
            cp = *p & 0x07;
        } else {
            return -1;
        }
        for (int i = 1; i < len; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return -1;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return -1;
        units += cp >= 0x10000 ? 2 : 1;
        p += len;
    }
    return units;
}

static char *replace_all(const char *s, const char *key, const char *val)
{
    size_t kl = strlen(key), vl = strlen(val), n = 0;
    for (const char *q = strstr(s, key); q; q = strstr(q + kl, key))
        n++;
    char *o = malloc(strlen(s) + n * vl + 1), *w = o;
    if (!o)
        return NULL;
    for (const char *q; (q = strstr(s, key)); s = q + kl) {
        memcpy(w, s, (size_t)(q - s));
        w += q - s;
        memcpy(w, val, vl);
        w += vl;
    }
    strcpy(w, s);
    return o;
}

int tp_tt_caption(char **out, const char *path, const char *tmpl, tp_error *err)
{
    *out = NULL;
    char *dup = tp_strdup(path);
    char *stem = NULL, *side = NULL, *text = NULL;
    int rc = 0;
    if (!dup) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    stem = tp_path_stem(path);
    side = tp_path_sidecar(path, ".txt");
    if (!stem || !side) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    /* The sidecar sits in a folder others write into: a symlink (to the token file), a FIFO or
     * a device is refused unread, and so is anything longer than any caption can be. A refused
     * sidecar is said and the post goes on with the profile's template, as without one. */
    tp_error serr = TP_ERROR_INIT;
    size_t n = 0;
    if (tp_read_small_file(&text, &n, side, TP_SIDECAR_MAX, true, &serr) < 0) {
        if (serr.code == TP_ENOMEM) {
            tp_error_clear(&serr);
            rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
            goto out;
        }
        tp_log(TP_LOG_WARN, "%s: caption sidecar refused (%s); using the profile's caption", path,
               tp_error_message(&serr));
        tp_error_clear(&serr);
        text = NULL;
    }
    bool from_side = text != NULL;
    if (text) {
        while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
            text[--n] = '\0';
    } else {
        char date[16];
        time_t t = time(NULL);
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(date, sizeof(date), "%Y-%m-%d", &tm);
        char *a = replace_all(tmpl ? tmpl : "{stem}", "{stem}", stem);
        text = a ? replace_all(a, "{date}", date) : NULL;
        free(a);
    }
    if (!text) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    long units = tp_tt_utf16_units(text);
    if (units < 0) {
        rc = tp_error_set(err, TP_EREJECT, 0, "%s: the caption%s is not valid UTF-8", path,
                          from_side ? " file" : "");
        goto out;
    }
    if (units > CAPTION_MAX_UNITS) {
        rc = tp_error_set(err, TP_EREJECT, 0,
                          "%s: the caption is %ld UTF-16 units long; TikTok allows %d (shorten "
                          "%s)",
                          path, units, CAPTION_MAX_UNITS,
                          from_side ? side : "upload.tiktok.caption");
        goto out;
    }
    *out = text;
    text = NULL;
out:
    free(dup);
    free(stem);
    free(side);
    free(text);
    return rc;
}

const char *tp_tt_sniff_content_type(const unsigned char *head, size_t n)
{
    if (n >= 12 && !memcmp(head + 4, "ftyp", 4))
        return !memcmp(head + 8, "qt  ", 4) ? "video/quicktime" : "video/mp4";
    if (n >= 4 && head[0] == 0x1A && head[1] == 0x45 && head[2] == 0xDF && head[3] == 0xA3)
        return "video/webm";
    /* MOV files may start with other atoms (wide, mdat, moov). */
    if (n >= 8 && (!memcmp(head + 4, "moov", 4) || !memcmp(head + 4, "mdat", 4) ||
                   !memcmp(head + 4, "wide", 4) || !memcmp(head + 4, "free", 4)))
        return "video/quicktime";
    return NULL;
}

typedef struct {
    const char *code;
    int tp;
    const char *why;
} explanation;

static const explanation explanations[] = {
    {"access_token_invalid", TP_EAUTH,
     "TikTok no longer accepts the access token; run 'tokprep auth login'. Re-fitting will not "
     "help."},
    {"scope_not_authorized", TP_EAUTH,
     "the account did not grant the scope this mode needs (video.publish for direct posts, "
     "video.upload for drafts); run 'tokprep auth login' and approve it."},
    {"spam_risk_too_many_posts", TP_ERATE,
     "TikTok's daily posting cap for this account is reached; retry in about 24 h (lower "
     "upload.tiktok.daily_limit to stay under it). Re-fitting will not help."},
    {"spam_risk_user_banned_from_posting", TP_EREJECT,
     "TikTok has banned this account from posting; no retry will succeed."},
    {"spam_risk_too_many_pending_share", TP_ERATE,
     "TikTok allows 5 pending drafts per 24 h; open the TikTok app and post or delete drafts, "
     "then retry."},
    {"reached_active_user_cap", TP_ERATE,
     "the app reached TikTok's cap on active posting users (unaudited apps: 5 per 24 h); retry "
     "tomorrow or get the app audited."},
    {"unaudited_client_can_only_post_to_private_accounts", TP_EREJECT,
     "TikTok lets unaudited apps post only SELF_ONLY to private accounts; set privacy_level "
     "SELF_ONLY and make the account private, or get the app audited."},
    {"url_ownership_unverified", TP_EREJECT,
     "PULL_FROM_URL needs a verified domain; tokprep uses FILE_UPLOAD."},
    {"privacy_level_option_mismatch", TP_ECONFIG,
     "the profile's privacy_level is not offered for this creator; pick one that creator_info "
     "lists. Re-fitting will not help."},
    {"rate_limit_exceeded", TP_ERATE,
     "TikTok's per-minute request limit for this token was exceeded; retry after a minute."},
    {"invalid_param", TP_EHTTP,
     "TikTok refused a request parameter; if it names the chunk size, adjust the profile's "
     "chunk settings. Retrying unchanged will not help."},
    {"invalid_params", TP_EHTTP,
     "TikTok refused a request parameter; if it names the chunk size, adjust the profile's "
     "chunk settings. Retrying unchanged will not help."},
    {"invalid_file_upload", TP_EREJECT,
     "TikTok refused the file upload (size, chunking or format); check the file with "
     "'tokprep check' and re-fit it."},
    {"invalid_publish_id", TP_EHTTP, "TikTok does not know this publish_id."},
    {"token_not_authorized_for_specified_publish_id", TP_EAUTH,
     "the publish_id belongs to another account or app."},
    {"app_version_check_failed", TP_EHTTP, "TikTok refused this app version."},
    {"internal_error", TP_ENET, "TikTok had an internal error; retrying later may succeed."},
    {"internal", TP_ENET,
     "TikTok failed internally while processing; uploading again later may "
     "succeed."},
    {"file_format_check_failed", TP_EREJECT,
     "TikTok could not use the file's format; re-fitting with 'tokprep fit' should help."},
    {"duration_check_failed", TP_EREJECT,
     "the video is too long or too short for this creator; re-fitting with 'tokprep fit' "
     "(too_long: split or trim) should help."},
    {"frame_rate_check_failed", TP_EREJECT,
     "TikTok refused the frame rate (23-60 fps); re-fitting with 'tokprep fit' should help."},
    {"picture_size_check_failed", TP_EREJECT,
     "TikTok refused the picture size (360-4096 px); re-fitting with 'tokprep fit' should "
     "help."},
    {"auth_removed", TP_EAUTH,
     "the creator removed the app's access during processing; run 'tokprep auth login'."},
    {"publish_cancelled", TP_EREJECT, "the post was cancelled."},
    {"video_pull_failed", TP_ENET, "TikTok could not fetch the video; retrying may succeed."},
};

const char *tp_tt_explain(const char *code, int *tp_code)
{
    for (size_t i = 0; i < TP_ARRAY_LEN(explanations); i++) {
        if (!strcmp(code, explanations[i].code)) {
            if (tp_code)
                *tp_code = explanations[i].tp;
            return explanations[i].why;
        }
    }
    if (!strncmp(code, "spam_risk", 9)) {
        if (tp_code)
            *tp_code = TP_ERATE;
        return "TikTok's anti-spam limits refused the post; retry much later. Re-fitting will "
               "not help.";
    }
    if (tp_code)
        *tp_code = TP_EHTTP;
    return "TikTok refused the request; see its message.";
}

/* ---- session --------------------------------------------------------------------------- */

int tp_tiktok_open(tp_tiktok **out, const tp_profile *profile, tp_error *err)
{
    *out = NULL;
    tp_tiktok *tt = calloc(1, sizeof(*tt));
    int rc;
    if (!tt)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    tt->p = profile;
    if ((rc = tp_tt_token_path(tt->token_path, sizeof(tt->token_path), profile, err)) < 0 ||
        (rc = tp_http_new(&tt->http, err)) < 0 ||
        (rc = tp_tt_limits_local_new(&tt->local, err)) < 0) {
        tp_tiktok_free(tt);
        return rc;
    }
    snprintf(tt->posts_path, sizeof(tt->posts_path), "%s.posts", tt->token_path);
    tt->acct.posts_path = tt->posts_path;
    unsigned int seed = (unsigned int)time(NULL) ^ (unsigned int)getpid();
    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) < 0)
        seed ^= (unsigned int)(uintptr_t)tt;
    tt->seed = seed;
    *out = tt;
    return 0;
}

void tp_tiktok_free(tp_tiktok *tt)
{
    if (!tt)
        return;
    tp_tt_token_clear(&tt->tok);
    tp_http_free(tt->http);
    tp_tt_limits_free(tt->shared);
    tp_tt_limits_free(tt->local);
    free(tt);
}

/* Replace *dst with a copy of src (NULL for NULL or ""). False when out of memory (*dst is then
 * NULL). */
static bool set_string(char **dst, const char *src)
{
    free(*dst);
    *dst = src && *src ? tp_strdup(src) : NULL;
    return !(src && *src) || *dst;
}

void tp_tiktok_set_limits(tp_tiktok *tt, tp_tt_limits *limits)
{
    tt->lent = limits;
}

static bool shared_wanted(const tp_tiktok *tt)
{
    const char *u = tt->p->upload.tiktok.shared_limits;
    return tt->lent || (u && *u);
}

/* The store in use; opens the profile's Redis on first use (again after a failure). */
static int limits_of(tp_tiktok *tt, tp_tt_limits **out, tp_error *err)
{
    *out = tt->lent ? tt->lent : tt->shared ? tt->shared : tt->local;
    if (tt->lent || tt->shared || !shared_wanted(tt))
        return 0;
    int rc = tp_tt_limits_redis_open(&tt->shared, tt->p->upload.tiktok.shared_limits, err);
    if (rc < 0) {
        if (rc != TP_ENOMEM && rc != TP_EINVAL) {
            /* Unreachable or refusing us: retryable, like a failure in the middle of a run. */
            rc = tp_error_set(err, TP_ENET, 0,
                              "%s (upload.tiktok.shared_limits): not sending anything to TikTok "
                              "without the shared limits; retry when Redis answers again",
                              tp_error_message(err));
        }
        return rc;
    }
    *out = tt->shared;
    return 0;
}

static double backoff(tp_tiktok *tt, int attempt)
{
    double d = 0.5;
    for (int i = 0; i < attempt && d < 30; i++)
        d *= 2;
    if (d > 30)
        d = 30;
    /* Full jitter in [d/2, d): many clients retrying together do not stay in step. */
    return d * (0.5 + 0.5 * ((double)rand_r(&tt->seed) / ((double)RAND_MAX + 1.0)));
}

static char *api_url(const tp_tiktok *tt, const char *path)
{
    const char *base = tt->p->upload.tiktok.api_base;
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    return tp_asprintf("%.*s%s", (int)n, base, path);
}

static int ensure_token(tp_tiktok *tt, bool force_refresh, tp_error *err)
{
    int rc;
    if (force_refresh) {
        rc = tp_tt_refresh(&tt->tok, tt->http, tt->p, tt->token_path, err);
    } else if (tt->have_tok && tt->tok.expires_at - (int64_t)tp_now_wall() > TP_TT_REFRESH_MARGIN) {
        return 0;
    } else {
        rc = tp_tt_token_fresh(&tt->tok, tt->http, tt->p, tt->token_path, err);
    }
    tt->have_tok = rc == 0;
    return rc;
}

/* Who the limits count for. A shared store keys by app and account, so it needs the token's
 * open_id (loaded here when no call has loaded it yet); the local store needs no token. */
static int account(tp_tiktok *tt, tp_tt_account **out, tp_error *err)
{
    *out = &tt->acct;
    if (tt->acct_ready || !shared_wanted(tt))
        return 0;
    int rc = ensure_token(tt, false, err);
    if (rc < 0)
        return rc;
    tp_tt_limits_account_id(tt->acct.id, tt->p->upload.tiktok.client_key, tt->tok.open_id);
    tt->acct_ready = true;
    return 0;
}

/* The window TikTok's per-minute limits are kept over: the profile's (only a load run against
 * the fake server sets it lower), made 2 % longer because TikTok counts requests as they
 * arrive and we as they leave: a request that got there faster than the one freeing its slot
 * would land inside the window and be refused (seen as refused inits in the 200-file load). */
static double rate_window(const tp_tiktok *tt)
{
    double w = tt->p->upload.tiktok.rate_window;
    return (w > 0 ? w : RATE_WINDOW) * 1.02;
}

/* Wait until the store lets one more request to ep go, and count it. */
static int take_rate(tp_tiktok *tt, int ep, const char *what, tp_tiktok_result *res,
                     const tp_cancel *cancel, tp_error *err)
{
    tp_tt_limits *l;
    tp_tt_account *a;
    int rc;
    if ((rc = limits_of(tt, &l, err)) < 0 || (rc = account(tt, &a, err)) < 0)
        goto fail;
    for (;;) {
        double wait = 0;
        if ((rc = tp_tt_limits_rate_take(l, a, (tp_tt_endpoint)ep, ep_limit[ep], rate_window(tt),
                                         &wait, err)) < 0)
            goto fail;
        if (wait <= 0)
            return 0;
        tp_log(TP_LOG_INFO, "%s: waiting %.1f s to stay under TikTok's per-minute limit", what,
               wait);
        if (tp_http_sleep(wait, cancel) < 0)
            return tp_error_set(err, TP_ECANCELED, 0, "%s: cancelled", what);
    }
fail:
    tp_error_prefix(err, "%s", what);
    if (rc == TP_ENET && res)
        res->retry_at = tp_now_wall() + 30; /* a hint: the store may be back by then */
    return rc;
}

static void fill_api(tp_tiktok_result *res, const tp_tt_api_error *api)
{
    if (!res)
        return;
    /* Out of memory loses only these copies: the error message has both. */
    set_string(&res->api_code, api->code);
    set_string(&res->log_id, api->log_id);
}

/* An explanation's "run 'tokprep auth login'" with the profile as the user gave it (malloc'd;
 * NULL when out of memory or when there is nothing to replace). */
static char *with_login_command(const tp_profile *p, const char *why)
{
    static const char plain[] = "'tokprep auth login'";
    const char *at = strstr(why, plain);
    char *cmd = at ? tp_tt_login_command(p) : NULL;
    char *out = cmd ? tp_asprintf("%.*s'%s'%s", (int)(at - why), why, cmd, at + strlen(plain))
                    : NULL;
    free(cmd);
    return out;
}

static int api_error(const tp_profile *p, tp_tiktok_result *res, const char *what, long status,
                     const tp_tt_api_error *api, tp_error *err)
{
    fill_api(res, api);
    if (!api->code[0])
        return tp_error_set(err, TP_EHTTP, (int)status, "%s: HTTP %ld with an unreadable answer",
                            what, status);
    int tp = TP_EHTTP;
    const char *why = tp_tt_explain(api->code, &tp);
    char *full = with_login_command(p, why);
    int rc = tp_error_set(err, tp, (int)status,
                          "%s: TikTok answered %s (HTTP %ld): %s [log_id %s] "
                          "-- %s",
                          what, api->code, status, api->message[0] ? api->message : "no message",
                          api->log_id[0] ? api->log_id : "none", full ? full : why);
    free(full);
    return rc;
}

/* POST JSON to a data endpoint. Transient failures (network, 5xx, 429) are retried only when
 * `retry` is set: never for init, whose effect is unknown after a lost answer. A rejected
 * access token is refreshed and the call repeated once (nothing happened on TikTok's side). */
static int api_call(tp_tiktok *tt, int ep, const char *path, const cJSON *body, bool retry,
                    cJSON **data, tp_tiktok_result *res, const tp_cancel *cancel, tp_error *err)
{
    const tp_tiktok_conf *c = &tt->p->upload.tiktok;
    char what[160];
    snprintf(what, sizeof(what), "POST %s", path);
    char *url = api_url(tt, path);
    char *json = body ? cJSON_PrintUnformatted(body) : NULL;
    char *auth = NULL;
    tp_http_resp resp = {0};
    int rc = 0, attempt = 0;
    bool refreshed = false;
    const double t0 = tp_now_monotonic();
    *data = NULL;
    if (!url || (body && !json)) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    for (;;) {
        if ((rc = ensure_token(tt, false, err)) < 0)
            goto out;
        double hold = tt->hold_until[ep] - tp_now_monotonic();
        if (hold > TP_HTTP_WAIT_INLINE_MAX) {
            if (res)
                res->retry_at = tp_now_wall() + hold;
            rc = tp_error_set(err, TP_ERATE, 0,
                              "%s: TikTok asks to wait %.0f s before the next request; retry "
                              "after that",
                              what, hold);
            goto out;
        }
        if (hold > 0) {
            tp_log(TP_LOG_INFO, "%s: waiting %.1f s to stay under TikTok's per-minute limit", what,
                   hold);
            if ((rc = tp_http_sleep(hold, cancel)) < 0) {
                rc = tp_error_set(err, TP_ECANCELED, 0, "%s: cancelled", what);
                goto out;
            }
        }
        if ((rc = take_rate(tt, ep, what, res, cancel, err)) < 0)
            goto out;
        free(auth);
        auth = tp_asprintf("Authorization: Bearer %s", tt->tok.access_token);
        if (!auth) {
            rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
            goto out;
        }
        const char *headers[] = {auth, "Content-Type: application/json; charset=UTF-8"};
        tp_http_req req = {
            .what = what,
            .method = "POST",
            .url = url,
            .headers = headers,
            .n_headers = 2,
            .body = json ? json : "",
            .body_len = json ? strlen(json) : 0,
            .fd = -1,
            .timeout = c->timeout,
            .cancel = cancel,
            .fresh_connection = !retry,
        };
        tp_http_resp_clear(&resp);
        tt->may_have_posted = true; /* until TikTok clearly refuses */
        rc = tp_http_do(tt->http, &req, &resp, err);
        if (rc == TP_ENET && retry && attempt < c->max_retries) {
            double d = backoff(tt, attempt++);
            tp_log(TP_LOG_WARN, "%s; retrying in %.1f s", tp_error_message(err), d);
            if (tp_http_sleep(d, cancel) < 0) {
                rc = tp_error_set(err, TP_ECANCELED, 0, "%s: cancelled", what);
                goto out;
            }
            continue;
        }
        if (rc == TP_ENET)
            tp_http_net_error(err, url, "api_base", attempt + 1, tp_now_monotonic() - t0);
        if (rc < 0)
            goto out;
        tp_tt_api_error api;
        rc = tp_tt_parse_envelope(data, &api, resp.body, resp.body_len);
        /* Undocumented but reported: honour the server's own count when it sends one. */
        if (resp.ratelimit_remaining == 0 && resp.ratelimit_reset > 0)
            tt->hold_until[ep] = tp_now_monotonic() + resp.ratelimit_reset;
        if (rc == 0 && resp.status / 100 == 2)
            goto out;
        cJSON_Delete(*data);
        *data = NULL;
        /* An error code, or an error status, is a refusal: nothing was created. A 2xx without a
         * readable answer is not. */
        if ((api.code[0] && strcmp(api.code, "ok")) || resp.status >= 400)
            tt->may_have_posted = false;
        if (!strcmp(api.code, "access_token_invalid") && !refreshed) {
            refreshed = true;
            tp_log(TP_LOG_INFO, "%s: access token refused; refreshing it once", what);
            if ((rc = ensure_token(tt, true, err)) < 0)
                goto out;
            continue;
        }
        bool limited = resp.status == 429 || !strcmp(api.code, "rate_limit_exceeded");
        double wait_s = resp.retry_after >= 0       ? resp.retry_after
                        : resp.ratelimit_reset >= 0 ? resp.ratelimit_reset
                                                    : -1;
        /* A wait longer than we sleep in place ends the file as rate limited (retry_at). */
        bool too_long = limited && wait_s > TP_HTTP_WAIT_INLINE_MAX;
        if ((limited || resp.status >= 500) && retry && attempt < c->max_retries && !too_long) {
            double d = wait_s >= 0 && limited ? wait_s : backoff(tt, attempt);
            if (limited && wait_s < 0)
                d = rate_window(tt) / ep_limit[ep] + backoff(tt, attempt);
            attempt++;
            tp_log(TP_LOG_WARN, "%s: HTTP %ld %s; retrying in %.1f s", what, resp.status, api.code,
                   d);
            if (tp_http_sleep(d, cancel) < 0) {
                rc = tp_error_set(err, TP_ECANCELED, 0, "%s: cancelled", what);
                goto out;
            }
            continue;
        }
        if (limited && res)
            res->retry_at = tp_now_wall() + (wait_s >= 0 ? wait_s : 60);
        /* TikTok's own daily cap: it does not say when, a day is the safe answer. */
        if (!strcmp(api.code, "spam_risk_too_many_posts") && res)
            res->retry_at = tp_now_wall() + 86400;
        rc = api_error(tt->p, res, what, resp.status, &api, err);
        if (limited && rc != TP_ERATE) {
            err->code = TP_ERATE;
            rc = TP_ERATE;
        }
        goto out;
    }
out:
    if (auth)
        memset(auth, 0, strlen(auth));
    free(auth);
    free(json);
    free(url);
    tp_http_resp_clear(&resp);
    return rc;
}

/* ---- daily cap ---------------------------------------------------------------------- */

/* Before a new post: may it be made, and (shared store) reserve its slot. A resumed upload
 * needs none: its post was counted when it started. */
static int daily_check(tp_tiktok *tt, tp_tt_slot *slot, tp_tiktok_result *res, tp_error *err)
{
    int limit = tt->p->upload.tiktok.daily_limit;
    memset(slot, 0, sizeof(*slot));
    if (limit <= 0)
        return 0;
    tp_tt_limits *l;
    tp_tt_account *a;
    int64_t next = 0;
    int rc;
    if ((rc = limits_of(tt, &l, err)) < 0 || (rc = account(tt, &a, err)) < 0 ||
        (rc = tp_tt_limits_daily_reserve(l, a, limit, slot, &next, err)) < 0) {
        if (rc == TP_ERATE && next > 0)
            res->retry_at = (double)next;
        else if (rc == TP_ENET)
            res->retry_at = tp_now_wall() + 30;
        return rc;
    }
    return 0;
}

/* Which moment counts as a post is the store's business: the local store records it once every
 * chunk is acknowledged (as before issue 8), the shared one counted it at the reservation and
 * re-stamps it when TikTok accepts the init. */
static void daily_note(tp_tiktok *tt, tp_tt_slot *slot, bool accepted)
{
    tp_tt_limits *l;
    tp_tt_account *a;
    tp_error err = TP_ERROR_INIT;
    /* Even with daily_limit 0 the local store records posts (as it always did), so a cap set
     * later counts them. */
    if (limits_of(tt, &l, &err) < 0 || account(tt, &a, &err) < 0) {
        tp_error_clear(&err);
        return;
    }
    if (accepted)
        tp_tt_limits_daily_accepted(l, a, slot);
    else
        tp_tt_limits_daily_uploaded(l, a);
}

static void daily_release(tp_tiktok *tt, tp_tt_slot *slot)
{
    tp_tt_limits *l;
    tp_tt_account *a;
    tp_error err = TP_ERROR_INIT;
    if (!slot->held || limits_of(tt, &l, &err) < 0 || account(tt, &a, &err) < 0) {
        tp_error_clear(&err);
        return;
    }
    tp_tt_limits_daily_release(l, a, slot);
}

/* ---- posting --------------------------------------------------------------------------- */

static bool has_privacy(const tp_tt_creator_info *ci, const char *level)
{
    for (int i = 0; i < ci->n_privacy; i++)
        if (!strcmp(ci->privacy_options[i], level))
            return true;
    return false;
}

/* What post_info says of one post: the profile's upload.tiktok settings, or the settings a
 * person approved (upload.tiktok.review, options version 2). */
typedef struct {
    const char *privacy_level;
    bool disable_comment, disable_duet, disable_stitch;
    bool brand_content_toggle, brand_organic_toggle;
    bool reviewed; /* from tp_post_settings */
} post_fields;

static void post_fields_make(post_fields *pf, const tp_tiktok_conf *c, const tp_post_settings *s)
{
    if (s) {
        *pf = (post_fields){.privacy_level = s->privacy_level ? s->privacy_level : "",
                            .disable_comment = !s->allow_comment,
                            .disable_duet = !s->allow_duet,
                            .disable_stitch = !s->allow_stitch,
                            .brand_content_toggle = s->brand_content != 0,
                            .brand_organic_toggle = s->brand_organic != 0,
                            .reviewed = true};
        return;
    }
    *pf = (post_fields){.privacy_level = c->privacy_level,
                        .disable_comment = c->disable_comment,
                        .disable_duet = c->disable_duet,
                        .disable_stitch = c->disable_stitch,
                        .brand_content_toggle = c->brand_content_toggle,
                        .brand_organic_toggle = c->brand_organic_toggle};
}

/* creator_info before a direct post: the privacy level must be one the creator is offered, an
 * interaction the creator turned off may not be allowed, and the video must fit the creator's
 * longest post. A person's approved settings (pf->reviewed) that allow an interaction the
 * creator has turned off since are sent with it off (TikTok's rule; the review page greys it
 * out), with a warning; the profile's own settings are refused instead (fix the profile). */
static int preflight(tp_tiktok *tt, const char *path, double duration, post_fields *pf,
                     tp_tiktok_result *res, const tp_cancel *cancel, tp_error *err)
{
    cJSON *data = NULL;
    int rc = api_call(tt, EP_CREATOR, "/v2/post/publish/creator_info/query/", NULL, true, &data,
                      res, cancel, err);
    if (rc < 0)
        return rc;
    tp_tt_creator_info ci;
    rc = tp_tt_parse_creator_info(&ci, data);
    cJSON_Delete(data);
    if (rc < 0)
        return tp_error_set(err, TP_EHTTP, 0, "creator_info: answer lacks privacy_level_options");
    if (!has_privacy(&ci, pf->privacy_level)) {
        char opts[512] = "";
        for (int i = 0; i < ci.n_privacy; i++) {
            strncat(opts, i ? ", " : "", sizeof(opts) - strlen(opts) - 1);
            strncat(opts, ci.privacy_options[i], sizeof(opts) - strlen(opts) - 1);
        }
        return tp_error_set(err, TP_ECONFIG, 0,
                            "%s: privacy_level %s is not offered for this creator (offered: %s); "
                            "%s. Nothing was uploaded.",
                            path, pf->privacy_level, opts,
                            pf->reviewed ? "it was chosen in review"
                                         : "set upload.tiktok.privacy_level");
    }
    const char *off = !pf->disable_comment && ci.comment_disabled ? "comment"
                      : !pf->disable_duet && ci.duet_disabled     ? "duet"
                      : !pf->disable_stitch && ci.stitch_disabled ? "stitch"
                                                                  : NULL;
    if (off && pf->reviewed) {
        bool c_off = ci.comment_disabled && !pf->disable_comment,
             d_off = ci.duet_disabled && !pf->disable_duet,
             s_off = ci.stitch_disabled && !pf->disable_stitch;
        const char *names[3] = {"", "", ""};
        int n = 0;
        if (c_off)
            names[n++] = "comments";
        if (d_off)
            names[n++] = "duets";
        if (s_off)
            names[n++] = "stitches";
        tp_log(TP_LOG_WARN,
               "%s: the creator has %s%s%s%s%s turned off in the TikTok app; posting with %s off",
               path, names[0], n > 1 ? (n > 2 ? ", " : " and ") : "", n > 1 ? names[1] : "",
               n > 2 ? " and " : "", n > 2 ? names[2] : "", n > 1 ? "them" : "it");
        pf->disable_comment = pf->disable_comment || ci.comment_disabled;
        pf->disable_duet = pf->disable_duet || ci.duet_disabled;
        pf->disable_stitch = pf->disable_stitch || ci.stitch_disabled;
    } else if (off) {
        return tp_error_set(err, TP_ECONFIG, 0,
                            "%s: the creator has %s turned off in the TikTok app; set "
                            "upload.tiktok.disable_%s: true. Nothing was uploaded.",
                            path, off, off);
    }
    if (duration > 0 && ci.max_duration > 0 && duration > (double)ci.max_duration)
        return tp_error_set(err, TP_EREJECT, 0,
                            "%s: the video lasts %.1f s but this creator may post at most %lld s "
                            "(max_video_post_duration_sec); re-fit it with fix.too_long split or "
                            "trim and rules.duration. Nothing was uploaded.",
                            path, duration, (long long)ci.max_duration);
    if (duration <= 0)
        tp_log(TP_LOG_WARN, "%s: duration unknown; TikTok will check it after the upload", path);
    return 0;
}

static int do_init(tp_tiktok *tt, const char *caption, long long cover_ms, const post_fields *pf,
                   const tp_chunk_plan *plan, tp_tiktok_resume *rs, tp_tiktok_result *res,
                   const tp_cancel *cancel, tp_error *err)
{
    const tp_tiktok_conf *c = &tt->p->upload.tiktok;
    bool draft = c->mode == TP_POST_DRAFT;
    cJSON *body = cJSON_CreateObject(), *data = NULL;
    int rc = 0;
    tt->may_have_posted = false;
    if (!body)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    if (!draft) {
        cJSON *pi = cJSON_AddObjectToObject(body, "post_info");
        if (!pi || !cJSON_AddStringToObject(pi, "title", caption ? caption : "") ||
            !cJSON_AddStringToObject(pi, "privacy_level", pf->privacy_level) ||
            !cJSON_AddBoolToObject(pi, "disable_comment", pf->disable_comment) ||
            !cJSON_AddBoolToObject(pi, "disable_duet", pf->disable_duet) ||
            !cJSON_AddBoolToObject(pi, "disable_stitch", pf->disable_stitch) ||
            !cJSON_AddNumberToObject(pi, "video_cover_timestamp_ms",
                                     (double)(cover_ms >= 0 ? cover_ms
                                                            : c->video_cover_timestamp_ms)) ||
            !cJSON_AddBoolToObject(pi, "brand_content_toggle", pf->brand_content_toggle) ||
            !cJSON_AddBoolToObject(pi, "brand_organic_toggle", pf->brand_organic_toggle) ||
            !cJSON_AddBoolToObject(pi, "is_aigc", c->is_aigc)) {
            rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
            goto out;
        }
    }
    cJSON *si = cJSON_AddObjectToObject(body, "source_info");
    if (!si || !cJSON_AddStringToObject(si, "source", "FILE_UPLOAD") ||
        !cJSON_AddNumberToObject(si, "video_size", (double)plan->total) ||
        !cJSON_AddNumberToObject(si, "chunk_size", (double)plan->chunk_size) ||
        !cJSON_AddNumberToObject(si, "total_chunk_count", plan->count)) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    /* retry=false: a lost init answer may still have created a post. */
    rc = api_call(tt, EP_INIT,
                  draft ? "/v2/post/publish/inbox/video/init/" : "/v2/post/publish/video/init/",
                  body, false, &data, res, cancel, err);
    if (rc < 0)
        goto out;
    tp_tt_init_info ii;
    if (tp_tt_parse_init(&ii, data) < 0) {
        rc = tp_error_set(err, TP_EHTTP, 0, "init: answer lacks publish_id or upload_url");
        goto out;
    }
    if (!tp_http_upload_url_allowed(tt->p->upload.tiktok.api_base, ii.upload_url)) {
        /* The file's bytes go there: only to the API's own site, never where an answer says. */
        rc = tp_error_set(err, TP_EHTTP, 0,
                          "init: TikTok returned an upload URL outside the API's site (%s) or "
                          "not https; refusing it, nothing sent",
                          tt->p->upload.tiktok.api_base);
        goto out;
    }
    if (!set_string(&rs->publish_id, ii.publish_id) ||
        !set_string(&rs->upload_url, ii.upload_url)) {
        tt->may_have_posted = true; /* TikTok made the post; we cannot track it */
        memset(&ii, 0, sizeof(ii));
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    rs->upload_url_expires_at = tp_now_wall() + UPLOAD_URL_TTL;
    rs->next_chunk = 0;
    rs->chunk_count = plan->count;
    rs->chunk_size = plan->chunk_size;
    rs->total = plan->total;
    memset(&ii, 0, sizeof(ii));
out:
    cJSON_Delete(body);
    cJSON_Delete(data);
    return rc;
}

typedef struct {
    const tp_tiktok_post_options *o;
    tp_tiktok_resume *rs;
    int64_t base; /* bytes acknowledged before this chunk */
    int index, count;
    int64_t total;
} progress_ctx;

static void emit(const tp_tiktok_post_options *o, tp_tiktok_event_kind kind, int index, int count,
                 int64_t sent, int64_t total, const tp_tiktok_resume *rs, const char *status)
{
    if (!o->progress)
        return;
    tp_tiktok_event ev = {kind, index, count, sent, total, rs, status};
    o->progress(&ev, o->payload);
}

static void on_bytes(int64_t sent, void *payload)
{
    progress_ctx *pc = payload;
    emit(pc->o, TP_TIKTOK_EV_BYTES, pc->index, pc->count, pc->base + sent, pc->total, pc->rs, NULL);
}

/* One upload's PUT loop: what the steps below share. */
typedef struct {
    tp_tiktok *tt;
    const char *path;
    int fd;
    const char *const *sha; /* per-chunk SHA-256 (hex) as checked, or NULL */
    const char *ctype, *caption;
    post_fields *pf;
    bool preflighted; /* creator_info was asked in this call (not when resuming) */
    const tp_chunk_plan *plan;
    tp_tiktok_resume *rs;
    const tp_tiktok_post_options *o;
    tp_tiktok_result *res;
    int attempt, reinits, resyncs;
} upload_state;

/* Resume validation: a resumed URL (ledger, resume file, queue) is held to the same rule as a
 * fresh one; one outside the API's site is dropped, so the loop starts a new upload. */
static void drop_foreign_url(upload_state *u)
{
    const char *api_base = u->tt->p->upload.tiktok.api_base;
    tp_tiktok_resume *rs = u->rs;
    if (rs->upload_url && rs->upload_url[0] &&
        !tp_http_upload_url_allowed(api_base, rs->upload_url)) {
        tp_log(TP_LOG_WARN, "%s: the saved upload URL is outside %s; starting a new upload",
               u->path, api_base);
        rs->upload_url_expires_at = 0;
    }
}

/* Before each chunk: an upload URL that is missing or about to expire means a new init (once),
 * and the upload starts again at chunk 0 (*i). */
static int refresh_url(upload_state *u, int *i, tp_error *err)
{
    tp_tiktok_resume *rs = u->rs;
    if (rs->upload_url && tp_now_wall() <= rs->upload_url_expires_at - URL_MARGIN)
        return 0;
    if (u->reinits++ >= MAX_REINITS)
        return tp_error_set(err, TP_EHTTP, 403,
                            "%s: the upload URL expired again after a new init; giving "
                            "up (retry later)",
                            u->path);
    tp_log(TP_LOG_WARN, "%s: upload URL expired; starting a new upload (init)", u->path);
    int rc;
    /* A resumed upload skipped creator_info; a new init is a new direct post: ask it first,
     * so the privacy level is still offered and interactions the creator has turned off since
     * are sent off (TikTok's rule for every direct post). */
    if (!u->preflighted && u->tt->p->upload.tiktok.mode == TP_POST_DIRECT) {
        if ((rc = preflight(u->tt, u->path, u->o->duration, u->pf, u->res, u->o->cancel, err)) <
            0)
            return rc;
        u->preflighted = true;
    }
    rc = do_init(u->tt, u->caption, u->o->cover_timestamp_ms, u->pf, u->plan, rs, u->res,
                     u->o->cancel, err);
    if (rc < 0)
        return rc;
    emit(u->o, TP_TIKTOK_EV_INIT, 0, u->plan->count, 0, u->plan->total, rs, NULL);
    *i = 0;
    return 0;
}

/* PUT chunk i (its bytes hashed as they go when the checked SHA-256s are known). */
static int put_chunk(upload_state *u, int i, const char *what, tp_http_resp *resp, tp_error *err)
{
    const tp_chunk_plan *plan = u->plan;
    const tp_chunk *ch = &plan->chunks[i];
    char range[128], clen[64], ctype_h[96];
    snprintf(range, sizeof(range), "Content-Range: bytes %lld-%lld/%lld", (long long)ch->offset,
             (long long)(ch->offset + ch->length - 1), (long long)plan->total);
    snprintf(clen, sizeof(clen), "Content-Length: %lld", (long long)ch->length);
    snprintf(ctype_h, sizeof(ctype_h), "Content-Type: %s", u->ctype);
    const char *headers[] = {ctype_h, clen, range};
    progress_ctx pc = {u->o, u->rs, ch->offset, i, plan->count, plan->total};
    tp_http_req req = {
        .what = what,
        .method = "PUT",
        .url = u->rs->upload_url,
        .headers = headers,
        .n_headers = 3,
        .fd = u->fd,
        .offset = ch->offset,
        .length = ch->length,
        .timeout = u->tt->p->upload.tiktok.timeout,
        .cancel = u->o->cancel,
        .progress = on_bytes,
        .payload = &pc,
        .sha256 = u->sha ? u->sha[i] : NULL,
    };
    return tp_http_do(u->tt->http, &req, resp, err);
}

/* Progress: chunks [0, i) are acknowledged; tell the caller, who persists the resume state. */
static void chunks_acked(upload_state *u, int i)
{
    const tp_chunk_plan *plan = u->plan;
    u->rs->next_chunk = i;
    if (i > 0)
        emit(u->o, TP_TIKTOK_EV_CHUNK_DONE, i - 1, plan->count,
             plan->chunks[i - 1].offset + plan->chunks[i - 1].length, plan->total, u->rs, NULL);
}

/* HTTP 416: the server has a different idea of progress (e.g. it stored a chunk whose answer we
 * lost): continue from where it says it is (*i), if that is a chunk boundary. */
static int resync(upload_state *u, const char *what, const tp_http_resp *resp, int *i,
                  tp_error *err)
{
    const tp_chunk_plan *plan = u->plan;
    int64_t last = -1, total = 0;
    if (tp_tt_parse_content_range(resp->content_range, &last, &total) < 0 || total != plan->total ||
        u->resyncs++ > plan->count)
        return tp_error_set(err, TP_EHTTP, 416,
                            "%s: HTTP 416 without a usable Content-Range; cannot resume", what);
    int j = 0;
    while (j < plan->count && plan->chunks[j].offset != last + 1)
        j++;
    if (last + 1 == plan->total)
        j = plan->count;
    else if (j == plan->count)
        return tp_error_set(err, TP_EHTTP, 416, "%s: server progress %lld is not a chunk boundary",
                            what, (long long)(last + 1));
    tp_log(TP_LOG_WARN, "%s: HTTP 416, server has %lld bytes; continuing at chunk %d", what,
           (long long)(last + 1), j + 1);
    *i = j;
    chunks_acked(u, j);
    return 0;
}

/* What one PUT's outcome (rc from tp_http_do, resp) means: 0 = go on at *i (acknowledged,
 * resynchronised, or the URL expired), 1 = transient: send the same range again after *wait
 * seconds at least, < 0 = the upload stops (err set). */
static int judge_put(upload_state *u, const char *what, int rc, const tp_http_resp *resp, int *i,
                     double *wait, tp_error *err)
{
    const tp_chunk_plan *plan = u->plan;
    *wait = -1;
    if (rc < 0 && resp->body_changed) {
        /* Aborted before its last byte: the server has no complete chunk of it. */
        return tp_error_set(err, TP_EIO, 0,
                            "%s: changed since it was checked (chunk %d SHA-256 differs); not "
                            "delivered",
                            u->path, *i + 1);
    } else if (rc == TP_ENET) {
        *wait = 0;
        return 1;
    } else if (rc < 0) {
        return rc;
    } else if (resp->status == 200 || resp->status == 201 || resp->status == 206) {
        tp_log(TP_LOG_INFO, "%s: HTTP %ld", what, resp->status);
        u->attempt = 0;
        chunks_acked(u, ++*i);
        if (resp->status == 201 && *i < plan->count)
            return tp_error_set(err, TP_EHTTP, 201,
                                "%s: the server reported the upload complete after chunk %d of "
                                "%d",
                                what, *i, plan->count);
        return 0;
    } else if (resp->status == 416) {
        return resync(u, what, resp, i, err);
    } else if (resp->status == 403) {
        u->rs->upload_url_expires_at = 0; /* expired: the loop head re-inits once */
        return 0;
    } else if (resp->status == 429) {
        double w = resp->retry_after >= 0 ? resp->retry_after : resp->ratelimit_reset;
        if (w < 0)
            w = 0;
        if (w > TP_HTTP_WAIT_INLINE_MAX) {
            if (u->res)
                u->res->retry_at = tp_now_wall() + w;
            return tp_error_set(err, TP_ERATE, 429,
                                "%s: rate limited; TikTok asks to wait %.0f s, retry after that",
                                what, w);
        }
        *wait = w;
        return 1;
    } else if (resp->status >= 500) {
        *wait = 0;
        return 1;
    }
    return tp_error_set(err, resp->status == 404 ? TP_EHTTP : TP_EHTTP, (int)resp->status,
                        "%s: HTTP %ld (%s); the upload cannot continue", what, resp->status,
                        resp->status == 404 ? "no such upload" : "request refused");
}

/* A transient failure (rc < 0: the transport's, err set; 0: resp's status): give up after
 * max_retries, else pause (backoff, at least wait) before the same range goes again; a cancel
 * during the pause stops the upload. */
static int retry_pause(upload_state *u, const char *what, int rc, const tp_http_resp *resp,
                       double wait, tp_error *err)
{
    if (u->attempt >= u->tt->p->upload.tiktok.max_retries) {
        if (rc == 0)
            return tp_error_set(err, resp->status == 429 ? TP_ERATE : TP_ENET, (int)resp->status,
                                "%s: HTTP %ld after %d retries", what, resp->status, u->attempt);
        tp_error_prefix(err, "after %d retries", u->attempt);
        return rc;
    }
    double d = backoff(u->tt, u->attempt++);
    if (wait > d)
        d = wait;
    tp_log(TP_LOG_WARN, "%s: %s; sending it again in %.1f s", what,
           rc < 0                ? tp_error_message(err)
           : resp->status == 429 ? "rate limited"
                                 : "server error",
           d);
    if (tp_http_sleep(d, u->o->cancel) < 0)
        return tp_error_set(err, TP_ECANCELED, 0, "%s: cancelled", what);
    return 0;
}

static int upload_chunks(tp_tiktok *tt, const char *path, int fd, const char *const *sha,
                         const char *ctype, const char *caption, post_fields *pf,
                         bool preflighted, const tp_chunk_plan *plan, tp_tiktok_resume *rs,
                         const tp_tiktok_post_options *o, tp_tiktok_result *res, tp_error *err)
{
    upload_state u = {.tt = tt,
                      .path = path,
                      .fd = fd,
                      .sha = sha,
                      .ctype = ctype,
                      .caption = caption,
                      .pf = pf,
                      .preflighted = preflighted,
                      .plan = plan,
                      .rs = rs,
                      .o = o,
                      .res = res};
    tp_http_resp resp = {0};
    int i = rs->next_chunk, rc = 0;
    drop_foreign_url(&u);
    while (i < plan->count) {
        if ((rc = refresh_url(&u, &i, err)) < 0)
            goto out;
        char what[96];
        snprintf(what, sizeof(what), "%s: PUT chunk %d/%d", path, i + 1, plan->count);
        tp_http_resp_clear(&resp);
        rc = put_chunk(&u, i, what, &resp, err);
        double wait;
        int next = judge_put(&u, what, rc, &resp, &i, &wait, err);
        if (next < 0) {
            rc = next;
            goto out;
        }
        if (next == 1 && (rc = retry_pause(&u, what, rc, &resp, wait, err)) < 0)
            goto out;
    }
    rc = 0;
out:
    tp_http_resp_clear(&resp);
    return rc;
}

static bool terminal(const char *status)
{
    return !strcmp(status, "PUBLISH_COMPLETE") || !strcmp(status, "SEND_TO_USER_INBOX") ||
           !strcmp(status, "FAILED");
}

static int fetch_status(tp_tiktok *tt, tp_tiktok_result *out, const char *publish_id,
                        const tp_cancel *cancel, tp_error *err)
{
    cJSON *body = cJSON_CreateObject(), *data = NULL;
    int rc;
    if (!body || !cJSON_AddStringToObject(body, "publish_id", publish_id)) {
        cJSON_Delete(body);
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    }
    rc = api_call(tt, EP_STATUS, "/v2/post/publish/status/fetch/", body, true, &data, out, cancel,
                  err);
    cJSON_Delete(body);
    if (rc < 0)
        return rc;
    tp_tt_status_info si;
    rc = tp_tt_parse_status(&si, data);
    cJSON_Delete(data);
    if (rc < 0)
        return tp_error_set(err, TP_EHTTP, 0, "status/fetch: answer lacks status");
    if ((out->publish_id != publish_id && !set_string(&out->publish_id, publish_id)) ||
        !set_string(&out->status, si.status) || !set_string(&out->fail_reason, si.fail_reason))
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    out->post_id = si.n_post_ids > 0 ? si.post_ids[0] : 0;
    out->still_processing = !terminal(si.status);
    out->rule = !strcmp(si.status, "FAILED") ? tp_tiktok_fail_rule(si.fail_reason) : NULL;
    return 0;
}

int tp_tiktok_fetch_status(tp_tiktok_result *out, tp_tiktok *tt, const char *publish_id,
                           tp_error *err)
{
    memset(out, 0, sizeof(*out));
    if (!publish_id || !*publish_id)
        return tp_error_set(err, TP_EINVAL, 0, "status/fetch: no publish_id");
    return fetch_status(tt, out, publish_id, NULL, err);
}

static int failed_status(const tp_profile *p, const char *path, tp_tiktok_result *res,
                         tp_error *err)
{
    int tp = TP_EREJECT;
    const char *why = tp_tt_explain(res->fail_reason ? res->fail_reason : "", &tp);
    const tp_fail_rule *fr = tp_fail_rule_find(res->fail_reason);
    if (tp == TP_ECONFIG || tp == TP_EHTTP)
        tp = TP_EREJECT;
    res->rule = fr->rule;
    /* "rule CODE" names the check rule (README "Violation codes") that should have caught it. */
    char *full = with_login_command(p, why);
    int rc = tp_error_set(
        err, tp, 0, "%s: TikTok reports FAILED (%s, rule %s%s%s) for publish_id %s -- %s", path,
        res->fail_reason ? res->fail_reason : "no reason given", fr->rule, fr->keys[0] ? ": " : "",
        fr->keys, res->publish_id ? res->publish_id : "?", full ? full : why);
    free(full);
    return rc;
}

static int poll_status(tp_tiktok *tt, const char *path, tp_tiktok_result *res,
                       const tp_tiktok_post_options *o, tp_error *err)
{
    const tp_tiktok_conf *c = &tt->p->upload.tiktok;
    double deadline = tp_now_monotonic() + c->status_deadline;
    double interval = c->status_interval;
    const char *publish_id = res->publish_id; /* fetch_status keeps this string */
    for (;;) {
        int rc = fetch_status(tt, res, publish_id, o->cancel, err);
        if (rc < 0)
            return rc;
        emit(o, TP_TIKTOK_EV_STATUS, 0, 0, res->bytes, res->bytes, o->resume, res->status);
        tp_log(TP_LOG_INFO, "%s: status %s", path, res->status);
        if (!strcmp(res->status, "FAILED"))
            return failed_status(tt->p, path, res, err);
        if (!res->still_processing)
            return 0;
        double left = deadline - tp_now_monotonic();
        if (left <= 0) {
            tp_log(TP_LOG_WARN,
                   "%s: still processing after %.0f s (upload.tiktok.status_deadline); check "
                   "later with publish_id %s",
                   path, c->status_deadline, publish_id);
            return 0;
        }
        if (tp_http_sleep(interval < left ? interval : left, o->cancel) < 0)
            return tp_error_set(err, TP_ECANCELED, 0, "%s: cancelled while waiting for status",
                                path);
        /* Processing takes ~30 s per 512 MB: back off gently, capped at the doc's 10 s. */
        interval *= 1.5;
        if (interval > 10 && c->status_interval <= 10)
            interval = 10;
    }
}

/* What we need from the open file: its size and, unless given, its content type. */
static int source_info(int fd, const char *path, int64_t *size, const char **ctype, tp_error *err)
{
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        return tp_error_set(err, TP_EIO, 0, "%s: not a regular file", path);
    *size = st.st_size;
    if (!*ctype) {
        unsigned char head[16] = {0};
        ssize_t n = pread(fd, head, sizeof(head), 0);
        *ctype = tp_tt_sniff_content_type(head, n > 0 ? (size_t)n : 0);
        if (!*ctype)
            return tp_error_set(err, TP_EREJECT, 0,
                                "%s: not an MP4, MOV or WebM file (TikTok accepts only these)",
                                path);
    }
    return 0;
}

int tp_tiktok_post_options_init(tp_tiktok_post_options *opts, unsigned version)
{
    if (!opts || version < 1 || version > TP_TIKTOK_POST_OPTIONS_VERSION)
        return TP_EINVAL;
    *opts = (tp_tiktok_post_options)TP_TIKTOK_POST_OPTIONS_INIT;
    opts->version = version;
    return 0;
}

const tp_profile *tp_tiktok_profile(const tp_tiktok *tt)
{
    return tt->p;
}

int tp_tiktok_post_file(tp_tiktok_result *out, tp_tiktok *tt, const char *path,
                        const tp_tiktok_post_options *opts, tp_error *err)
{
    /* Opened once; the caller named it, so a symlink is followed. */
    memset(out, 0, sizeof(*out));
    int fd = tp_src_open(path, false, NULL, err);
    if (fd < 0)
        return TP_EIO;
    int rc = tp_tiktok_post_fd(out, tt, fd, path, NULL, 0, opts, err);
    close(fd);
    return rc;
}

int tp_tiktok_post_fd(tp_tiktok_result *out, tp_tiktok *tt, int fd, const char *path,
                      const char *const *chunk_sha256, int n_sha256,
                      const tp_tiktok_post_options *opts, tp_error *err)
{
    tp_chunk_plan plan = {0};
    int64_t size = 0;
    const char *ctype = opts ? opts->content_type : NULL; /* refused before planning, as ever */
    int rc;
    memset(out, 0, sizeof(*out));
    if ((rc = source_info(fd, path, &size, &ctype, err)) < 0)
        return rc;
    if ((rc = tp_chunk_plan_make(&plan, size, &tt->p->chunk, err)) < 0) {
        out->bytes = size;
        tp_error_prefix(err, "%s", path);
        return rc;
    }
    if (chunk_sha256 && n_sha256 != plan.count)
        rc = tp_error_set(err, TP_EIO, 0,
                          "%s: changed since it was checked (%d chunks now, %d checked); not "
                          "delivered",
                          path, plan.count, n_sha256);
    else
        rc = tp_tiktok_post_plan(out, tt, fd, path, &plan, chunk_sha256, opts, err);
    tp_chunk_plan_clear(&plan);
    return rc;
}

int tp_tiktok_post_plan(tp_tiktok_result *out, tp_tiktok *tt, int fd, const char *path,
                        const tp_chunk_plan *planp, const char *const *chunk_sha256,
                        const tp_tiktok_post_options *opts, tp_error *err)
{
    static const tp_tiktok_post_options defaults = TP_TIKTOK_POST_OPTIONS_INIT;
    const tp_tiktok_post_options *o = opts ? opts : &defaults;
    const tp_tiktok_conf *c = &tt->p->upload.tiktok;
    tp_tiktok_resume local = TP_TIKTOK_RESUME_INIT;
    tp_tiktok_resume *rs = o->resume ? o->resume : &local;
    const tp_chunk_plan plan = *planp; /* borrowed: never cleared here */
    char *caption = NULL;
    const char *ctype = o->content_type;
    int64_t size = 0;
    int rc;
    tp_tt_slot slot = {{0}, false};
    memset(out, 0, sizeof(*out));
    if (o->version < 1 || o->version > TP_TIKTOK_POST_OPTIONS_VERSION)
        return tp_error_set(err, TP_EINVAL, 0, "tp_tiktok_post_file: unknown opts version %u",
                            o->version);
    if ((rc = source_info(fd, path, &size, &ctype, err)) < 0)
        goto out;
    out->bytes = size;
    long long cover_ms = o->cover_timestamp_ms >= 0 ? o->cover_timestamp_ms
                                                    : c->video_cover_timestamp_ms;
    if (c->mode == TP_POST_DIRECT && cover_ms > 0 && o->duration > 0 &&
        (double)cover_ms >= o->duration * 1000.0)
        tp_log(TP_LOG_WARN,
               "%s: cover_outside: video_cover_timestamp_ms %lld is not inside the video "
               "(%.3f s)",
               path, cover_ms, o->duration);
    if (size != plan.total || plan.count <= 0 || !plan.chunks) {
        rc = tp_error_set(err, TP_EIO, 0,
                          "%s: changed since it was checked (%lld bytes, %lld checked); not "
                          "delivered",
                          path, (long long)size, (long long)plan.total);
        goto out;
    }
    bool has_id = rs->publish_id && rs->publish_id[0];
    bool resuming = has_id && rs->total == plan.total && rs->chunk_size == plan.chunk_size &&
                    rs->chunk_count == plan.count && rs->next_chunk >= 0 &&
                    rs->next_chunk <= plan.count;
    if (has_id && !resuming) {
        rc = tp_error_set(err, TP_ECONFLICT, 0,
                          "%s: the resume state (publish_id %s) was made for a different file "
                          "size or chunk plan; refusing to start a second post of it",
                          path, rs->publish_id);
        goto out;
    }
    /* Options version 2 carry a person's approved settings (upload.tiktok.review). */
    const tp_post_settings *settings = o->version >= 2 ? o->settings : NULL;
    if (settings && c->mode == TP_POST_DIRECT &&
        (rc = tp_post_settings_validate(settings, err)) < 0) {
        tp_error_prefix(err, "%s", path);
        goto out;
    }
    post_fields pf;
    post_fields_make(&pf, c, settings);
    const char *given = settings && settings->caption ? settings->caption : o->caption;
    /* The caption is needed on resume too: an expired upload URL means a new init. */
    if (c->mode == TP_POST_DIRECT && given) {
        long units = tp_tt_utf16_units(given);
        if (units < 0 || units > CAPTION_MAX_UNITS) {
            rc = tp_error_set(err, TP_EREJECT, 0,
                              "%s: the caption is %s (TikTok allows %d UTF-16 units)", path,
                              units < 0 ? "not valid UTF-8" : "too long", CAPTION_MAX_UNITS);
            goto out;
        }
        if (!(caption = tp_strdup(given))) {
            rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
            goto out;
        }
    } else if (c->mode == TP_POST_DIRECT &&
               (rc = tp_tt_caption(&caption, path, c->caption, err)) < 0) {
        goto out;
    }
    if (!resuming) {
        if ((rc = daily_check(tt, &slot, out, err)) < 0) {
            if (rc != TP_ERATE)
                tp_error_prefix(err, "%s", path);
            goto out;
        }
        if (c->mode == TP_POST_DIRECT &&
            (rc = preflight(tt, path, o->duration, &pf, out, o->cancel, err)) < 0)
            goto out;
        tp_log(TP_LOG_INFO, "%s: init %s: %lld bytes in %d chunk(s) of %lld", path,
               c->mode == TP_POST_DRAFT ? "draft" : "direct post", (long long)plan.total,
               plan.count, (long long)plan.chunk_size);
        if ((rc = do_init(tt, caption, o->cover_timestamp_ms, &pf, &plan, rs, out, o->cancel,
                          err)) < 0) {
            tp_error_prefix(err, "%s", path);
            /* An init whose answer was lost may have made a post: its slot stays counted. */
            if (tt->may_have_posted)
                slot.held = false;
            goto out;
        }
        daily_note(tt, &slot, true);
        slot.held = false; /* a post now: never released */
        emit(o, TP_TIKTOK_EV_INIT, 0, plan.count, 0, plan.total, rs, NULL);
    } else {
        tp_log(TP_LOG_INFO, "%s: resuming publish_id %s at chunk %d/%d", path, rs->publish_id,
               rs->next_chunk + 1, plan.count);
    }
    if (!set_string(&out->publish_id, rs->publish_id)) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    if (rs->next_chunk < plan.count) {
        if ((rc = upload_chunks(tt, path, fd, chunk_sha256, ctype, caption, &pf, !resuming,
                                &plan, rs, o, out, err)) < 0)
            goto out;
        daily_note(tt, &slot, false);
    }
    if (!set_string(&out->publish_id, rs->publish_id)) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    emit(o, TP_TIKTOK_EV_UPLOADED, plan.count - 1, plan.count, plan.total, plan.total, rs, NULL);
    if (!o->wait_status) {
        out->still_processing = 1;
        rc = set_string(&out->status, "PROCESSING_UPLOAD")
                 ? 0
                 : tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    rc = poll_status(tt, path, out, o, err);
out:
    /* Refused before or by the init, or cancelled before it was sent: no post, give it back. */
    daily_release(tt, &slot);
    tp_tiktok_resume_clear(&local);
    free(caption);
    return rc;
}

/* ---- creator_info for a person choosing a post's settings (upload/creator.c) ----------- */

int tp_tt_creator_query(tp_tiktok *tt, tp_tt_creator_info *out, tp_error *err)
{
    cJSON *data = NULL;
    const bool posted = tt->may_have_posted; /* a query posts nothing */
    int rc = api_call(tt, EP_CREATOR, "/v2/post/publish/creator_info/query/", NULL, true, &data,
                      NULL, NULL, err);
    tt->may_have_posted = posted;
    if (rc < 0)
        return rc;
    rc = tp_tt_parse_creator_info(out, data);
    cJSON_Delete(data);
    if (rc < 0)
        return tp_error_set(err, TP_EHTTP, 0, "creator_info: answer lacks privacy_level_options");
    return 0;
}
