/* A small libcurl wrapper for the TikTok client: one reusable handle (keep-alive), bodies from
 * memory or streamed from a file range, capped response bodies, the few response headers we act
 * on, TLS always verified, plain http only to loopback hosts, and a cancel flag polled from
 * curl's progress callback. Messages name `what` (e.g. "PUT chunk 2/5"), never the URL, because
 * upload URLs carry a token. A tp_http is used by one thread at a time. */
#ifndef TP_HTTP_H
#define TP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokprep.h"

typedef struct tp_http tp_http;

typedef struct {
    const char *what;   /* for messages: "POST /v2/post/publish/video/init/" */
    const char *method; /* GET, POST, PUT */
    const char *url;
    const char *const *headers; /* "Name: value" lines */
    size_t n_headers;
    const char *body; /* memory body (POST), or NULL */
    size_t body_len;
    int fd; /* file body (PUT) when >= 0: length bytes from offset, read with pread */
    int64_t offset, length;
    double timeout; /* seconds: connect timeout and "no progress for this long" */
    /* Not idempotent (init, token exchange, refresh): use a new connection. libcurl re-sends a
     * request by itself when a reused keep-alive connection dies before the answer, which for
     * an init could post twice and for a refresh could spend the rotated refresh token. */
    bool fresh_connection;
    const tp_cancel *cancel;
    /* Upload progress (bytes of this body sent so far); may be NULL. */
    void (*progress)(int64_t sent, void *payload);
    void *payload;
    /* File body: the SHA-256 (hex) its bytes must have, or NULL. Hashed as it is read; the last
     * bytes are handed to curl only once the hash matches, so a body that changed since it was
     * hashed is never sent whole (the request is aborted: resp.body_changed, TP_EIO). */
    const char *sha256;
} tp_http_req;

typedef struct {
    long status;
    char *body; /* malloc'd, NUL-terminated, capped at 1 MiB; NULL when none */
    size_t body_len;
    char content_range[128];
    double retry_after;       /* seconds from Retry-After, -1 when absent */
    long ratelimit_remaining; /* X-RateLimit-Remaining, -1 when absent */
    double ratelimit_reset;   /* X-RateLimit-Reset as seconds from now, -1 when absent */
    char location[1024];
    bool body_changed; /* req.sha256 did not match the file's bytes: aborted, not sent whole */
} tp_http_resp;

int tp_http_new(tp_http **out, tp_error *err);
void tp_http_free(tp_http *h);

/* Perform one request. 0 when an HTTP status was received (any status: the caller judges it),
 * TP_ENET on transport failure (connect, reset, timeout), TP_ECANCELED when *cancel was set,
 * TP_EINVAL for a URL that is not https (or http to a loopback host), TP_EIO for file reads,
 * TP_EHTTP when the answer's body passes 1 MiB (reading stops there: no TikTok answer is that
 * big, and a body that never ends must not hold the client).
 * resp is reset first; free its body with tp_http_resp_clear. */
int tp_http_do(tp_http *h, const tp_http_req *req, tp_http_resp *resp, tp_error *err);

/* After the last try of a request that failed with TP_ENET: err's message becomes "cannot
 * connect to HOST:PORT (ROLE) after N tries in T s" (or the transport's reason, then "at
 * HOST:PORT (ROLE) after ..."), where ROLE names the profile key the address comes from
 * (api_base). Only the host and port of url are shown, never its path or query (tokens). */
void tp_http_net_error(tp_error *err, const char *url, const char *role, int tries, double seconds);
void tp_http_resp_clear(tp_http_resp *resp);

/* Retry-After and X-RateLimit-Reset are clamped to [0, one day] when parsed ("inf" too). */
#define TP_HTTP_WAIT_MAX 86400.0
/* The longest wait a server may impose in place; a longer one ends the file as rate limited
 * (retry_at), so a hostile Retry-After cannot hold an unattended run. */
#define TP_HTTP_WAIT_INLINE_MAX 120.0

/* True when url is https://, or http:// to 127.0.0.0/8, ::1 or localhost. */
bool tp_http_url_allowed(const char *url);
/* An upload URL TikTok handed out may receive the file's bytes: true only when it is allowed
 * (above) and has api_base's scheme, host and port, or is https on port 443 to api_base's
 * parent domain or a subdomain of it (api_base open.tiktokapis.com: *.tiktokapis.com, e.g. the
 * regional open-upload hosts). Compared after curl's URL parser, so userinfo tricks
 * ("https://open.tiktokapis.com@evil.example/") name their real host. */
bool tp_http_upload_url_allowed(const char *api_base, const char *url);
/* The host of an http(s) URL is a loopback address (for the redirect_uri listener). */
bool tp_http_url_is_loopback(const char *url);

/* application/x-www-form-urlencoded escaping; malloc'd. */
char *tp_http_form_escape(const char *s);

/* Sleep up to `seconds`, waking early (returning TP_ECANCELED) when *cancel becomes non-zero. */
int tp_http_sleep(double seconds, const tp_cancel *cancel);

#endif
