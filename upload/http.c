/* libcurl wrapper for the TikTok client (see http.h). */
#define _POSIX_C_SOURCE 200809L
#include "upload/http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "util/tp_util.h"

#define RESP_BODY_MAX (1024 * 1024)

struct tp_http {
    CURL *curl;
};

typedef struct {
    const tp_http_req *req;
    tp_http_resp *resp;
    int64_t sent;   /* bytes handed to curl from the file */
    int read_errno; /* pread failure */
    tp_sha256 *hash; /* of bytes [0, sent) when req->sha256 is set */
    bool changed;    /* the hash did not match at the end of the body */
    bool overflow;  /* response body was truncated */
    size_t cap;
} xfer;

int tp_http_new(tp_http **out, tp_error *err)
{
    *out = NULL;
    tp_http *h = calloc(1, sizeof(*h));
    if (!h)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    h->curl = curl_easy_init();
    if (!h->curl) {
        free(h);
        return tp_error_set(err, TP_EINTERNAL, 0, "curl_easy_init failed");
    }
    *out = h;
    return 0;
}

void tp_http_free(tp_http *h)
{
    if (!h)
        return;
    curl_easy_cleanup(h->curl);
    free(h);
}

void tp_http_resp_clear(tp_http_resp *resp)
{
    if (!resp)
        return;
    free(resp->body);
    memset(resp, 0, sizeof(*resp));
    resp->retry_after = -1;
    resp->ratelimit_remaining = -1;
    resp->ratelimit_reset = -1;
}

static bool host_is_loopback(const char *host)
{
    if (!host)
        return false;
    if (!strcasecmp(host, "localhost") || !strcmp(host, "::1") || !strcmp(host, "[::1]"))
        return true;
    /* A real IPv4 literal in 127/8, not a name that merely starts with "127." */
    struct in_addr a;
    return inet_pton(AF_INET, host, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

static bool url_parts(const char *url, char **scheme, char **host)
{
    *scheme = NULL;
    *host = NULL;
    CURLU *u = curl_url();
    if (!u)
        return false;
    bool ok = curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_SCHEME, scheme, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_HOST, host, 0) == CURLUE_OK;
    curl_url_cleanup(u);
    if (!ok) {
        curl_free(*scheme);
        curl_free(*host);
        *scheme = *host = NULL;
    }
    return ok;
}

bool tp_http_url_is_loopback(const char *url)
{
    char *scheme, *host;
    if (!url || !url_parts(url, &scheme, &host))
        return false;
    bool r = host_is_loopback(host);
    curl_free(scheme);
    curl_free(host);
    return r;
}

bool tp_http_url_allowed(const char *url)
{
    char *scheme, *host;
    if (!url || !url_parts(url, &scheme, &host))
        return false;
    bool r =
        !strcasecmp(scheme, "https") || (!strcasecmp(scheme, "http") && host_is_loopback(host));
    curl_free(scheme);
    curl_free(host);
    return r;
}

typedef struct {
    char *scheme, *host, *port;
} url_origin;

static void origin_free(url_origin *o)
{
    curl_free(o->scheme);
    curl_free(o->host);
    curl_free(o->port);
    memset(o, 0, sizeof(*o));
}

static bool origin_of(const char *url, url_origin *o)
{
    memset(o, 0, sizeof(*o));
    CURLU *u = url ? curl_url() : NULL;
    if (!u)
        return false;
    bool ok = curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_SCHEME, &o->scheme, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_HOST, &o->host, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_PORT, &o->port, CURLU_DEFAULT_PORT) == CURLUE_OK;
    curl_url_cleanup(u);
    if (!ok)
        origin_free(o);
    return ok;
}

/* The parent domain of a DNS name with at least three labels ("open.tiktokapis.com" ->
 * "tiktokapis.com"); NULL for IP literals, "localhost" and two-label names. */
static const char *parent_domain(const char *host)
{
    struct in6_addr a6;
    struct in_addr a4;
    if (!host || host[0] == '[' || inet_pton(AF_INET, host, &a4) == 1 ||
        inet_pton(AF_INET6, host, &a6) == 1)
        return NULL;
    const char *dot = strchr(host, '.');
    if (!dot || !strchr(dot + 1, '.'))
        return NULL;
    return dot + 1;
}

bool tp_http_upload_url_allowed(const char *api_base, const char *url)
{
    url_origin b, u;
    if (!tp_http_url_allowed(url) || !origin_of(api_base, &b))
        return false;
    if (!origin_of(url, &u)) {
        origin_free(&b);
        return false;
    }
    bool ok = !strcasecmp(b.scheme, u.scheme) && !strcasecmp(b.host, u.host) &&
              !strcmp(b.port, u.port);
    const char *parent = parent_domain(b.host);
    if (!ok && parent && !strcasecmp(u.scheme, "https") && !strcmp(u.port, "443")) {
        size_t hl = strlen(u.host), pl = strlen(parent);
        ok = !strcasecmp(u.host, parent) ||
             (hl > pl + 1 && u.host[hl - pl - 1] == '.' && !strcasecmp(u.host + hl - pl, parent));
    }
    origin_free(&b);
    origin_free(&u);
    return ok;
}

char *tp_http_form_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *o = malloc(n * 3 + 1), *p = o;
    if (!o)
        return NULL;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (isalnum(*c) || *c == '-' || *c == '.' || *c == '_' || *c == '~') {
            *p++ = (char)*c;
        } else {
            *p++ = '%';
            *p++ = hex[*c >> 4];
            *p++ = hex[*c & 15];
        }
    }
    *p = '\0';
    return o;
}

int tp_http_sleep(double seconds, const tp_cancel *cancel)
{
    double end = tp_now_monotonic() + seconds;
    for (;;) {
        if (tp_cancel_requested(cancel))
            return TP_ECANCELED;
        double left = end - tp_now_monotonic();
        if (left <= 0)
            return 0;
        if (left > 0.1)
            left = 0.1;
        struct timespec ts = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    tp_http_resp *r = x->resp;
    if (r->body_len + n > RESP_BODY_MAX) {
        /* No TikTok answer is this big: stop reading instead of draining a body that may never
         * end (a server streaming garbage at full speed defeats the low-speed timeout). */
        x->overflow = true;
        return 0;
    }
    if (r->body_len + n + 1 > x->cap) {
        size_t nc = (r->body_len + n + 1) * 2;
        char *b = realloc(r->body, nc);
        if (!b)
            return 0;
        r->body = b;
        x->cap = nc;
    }
    memcpy(r->body + r->body_len, ptr, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return n;
}

static void trim_value(char *dst, size_t size, const char *v, size_t len)
{
    while (len && (*v == ' ' || *v == '\t')) {
        v++;
        len--;
    }
    while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
        len--;
    if (len >= size)
        len = size - 1;
    memcpy(dst, v, len);
    dst[len] = '\0';
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud)
{
    xfer *x = ud;
    size_t n = size * nitems;
    const char *colon = memchr(buf, ':', n);
    if (!colon)
        return n;
    size_t nlen = (size_t)(colon - buf);
    const char *v = colon + 1;
    size_t vlen = n - nlen - 1;
    char tmp[128];
    tp_http_resp *r = x->resp;
    if (nlen == 13 && !strncasecmp(buf, "Content-Range", 13)) {
        trim_value(r->content_range, sizeof(r->content_range), v, vlen);
    } else if (nlen == 11 && !strncasecmp(buf, "Retry-After", 11)) {
        trim_value(tmp, sizeof(tmp), v, vlen);
        char *end;
        double d = strtod(tmp, &end);
        if (end != tmp && d >= 0) /* "inf" and 1e308 parse too: a day at most */
            r->retry_after = isfinite(d) && d < TP_HTTP_WAIT_MAX ? d : TP_HTTP_WAIT_MAX;
    } else if (nlen == 21 && !strncasecmp(buf, "X-RateLimit-Remaining", 21)) {
        trim_value(tmp, sizeof(tmp), v, vlen);
        r->ratelimit_remaining = strtol(tmp, NULL, 10);
    } else if (nlen == 17 && !strncasecmp(buf, "X-RateLimit-Reset", 17)) {
        trim_value(tmp, sizeof(tmp), v, vlen);
        double d = strtod(tmp, NULL);
        /* Either seconds from now or an epoch timestamp; both appear in the wild. */
        if (d > 1e9)
            d -= tp_now_wall();
        r->ratelimit_reset = !(d >= 0) ? 0 : d < TP_HTTP_WAIT_MAX ? d : TP_HTTP_WAIT_MAX;
    } else if (nlen == 8 && !strncasecmp(buf, "Location", 8)) {
        trim_value(r->location, sizeof(r->location), v, vlen);
    }
    return n;
}

static size_t on_read(char *buf, size_t size, size_t nitems, void *ud)
{
    xfer *x = ud;
    const tp_http_req *req = x->req;
    int64_t left = req->length - x->sent;
    size_t want = size * nitems;
    if (left <= 0)
        return 0;
    if ((int64_t)want > left)
        want = (size_t)left;
    ssize_t got;
    do
        got = pread(req->fd, buf, want, (off_t)(req->offset + x->sent));
    while (got < 0 && errno == EINTR);
    if (got <= 0) {
        /* A short file means it changed under us: sending garbage would corrupt the post. */
        x->read_errno = got < 0 ? errno : EIO;
        return CURL_READFUNC_ABORT;
    }
    if (x->hash) {
        tp_sha256_update(x->hash, buf, (size_t)got);
        if (x->sent + got == req->length) {
            /* The body's last bytes: curl gets them only if the whole body is what was hashed
             * before, so the server never receives a complete changed chunk. */
            char hex[65];
            tp_sha256_final_hex(x->hash, hex);
            x->hash = NULL;
            if (strcmp(hex, req->sha256)) {
                x->changed = true;
                return CURL_READFUNC_ABORT;
            }
        }
    }
    x->sent += got;
    return (size_t)got;
}

/* Restart the body's hash at offset (curl rewinds on some retry paths): hash [0, offset). */
static int rehash(xfer *x, int64_t offset)
{
    const tp_http_req *req = x->req;
    if (!req->sha256)
        return 0;
    if (x->hash) {
        char hex[65];
        tp_sha256_final_hex(x->hash, hex);
    }
    x->hash = tp_sha256_new();
    if (!x->hash)
        return -1;
    if (offset > 0) {
        uint8_t *buf = malloc(1 << 16);
        int r = buf ? tp_sha256_update_fd(x->hash, req->fd, req->offset, offset, buf, 1 << 16) : -1;
        free(buf);
        if (r < 0)
            return -1;
    }
    return 0;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    xfer *x = ud;
    if (tp_cancel_requested(x->req->cancel))
        return 1;
    if (x->req->progress && ulnow > 0)
        x->req->progress((int64_t)ulnow, x->req->payload);
    return 0;
}

static int seek_cb(void *ud, curl_off_t offset, int origin)
{
    xfer *x = ud;
    if (origin != SEEK_SET || offset < 0 || offset > x->req->length)
        return CURL_SEEKFUNC_FAIL;
    if (rehash(x, (int64_t)offset) < 0)
        return CURL_SEEKFUNC_FAIL;
    x->sent = offset; /* curl rewinds on some retries/redirect paths: pread makes it free */
    return CURL_SEEKFUNC_OK;
}

int tp_http_do(tp_http *h, const tp_http_req *req, tp_http_resp *resp, tp_error *err)
{
    memset(resp, 0, sizeof(*resp));
    tp_http_resp_clear(resp);
    if (!tp_http_url_allowed(req->url))
        return tp_error_set(err, TP_EINVAL, 0,
                            "%s: refusing a URL that is neither https nor http to a loopback "
                            "host (TLS verification cannot be turned off)",
                            req->what);
    CURL *c = h->curl;
    struct curl_slist *hdrs = NULL;
    xfer x = {.req = req, .resp = resp};
    int rc = 0;
    curl_easy_reset(c);
    for (size_t i = 0; i < req->n_headers; i++) {
        struct curl_slist *n = curl_slist_append(hdrs, req->headers[i]);
        if (!n) {
            rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
            goto out;
        }
        hdrs = n;
    }
    /* Expect: 100-continue costs a round trip per chunk and buys nothing here. */
    struct curl_slist *n = curl_slist_append(hdrs, "Expect:");
    if (!n) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    hdrs = n;
    curl_easy_setopt(c, CURLOPT_URL, req->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "tokprep/" TOKPREP_VERSION);
    if (req->fresh_connection)
        curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
    long t = req->timeout > 0 ? (long)(req->timeout + 0.5) : 60;
    if (t < 1)
        t = 1;
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, t);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, t);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
    if (req->fd >= 0) {
        if (rehash(&x, 0) < 0) {
            rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
            goto out;
        }
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &x);
        curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, seek_cb);
        curl_easy_setopt(c, CURLOPT_SEEKDATA, &x);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->length);
        /* Bigger buffers cut syscalls and callback calls per chunk; memory stays constant. */
        curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024L);
        if (req->method && strcmp(req->method, "PUT") != 0)
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
    } else if (req->method && !strcmp(req->method, "POST")) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    } else if (req->method && strcmp(req->method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
    }
    CURLcode cc = curl_easy_perform(c);
    if (cc == CURLE_ABORTED_BY_CALLBACK && tp_cancel_requested(req->cancel)) {
        rc = tp_error_set(err, TP_ECANCELED, (int)cc, "%s: cancelled", req->what);
        goto out;
    }
    if (x.changed) {
        resp->body_changed = true;
        rc = tp_error_set(err, TP_EIO, (int)cc,
                          "%s: the file changed since it was checked (SHA-256 differs); not sent",
                          req->what);
        goto out;
    }
    if (x.read_errno) {
        rc = tp_error_set(err, TP_EIO, (int)cc, "%s: reading the file failed: %s", req->what,
                          strerror(x.read_errno));
        goto out;
    }
    if (x.overflow) {
        rc = tp_error_set(err, TP_EHTTP, (int)cc, "%s: answer longer than %d bytes, cut off",
                          req->what, RESP_BODY_MAX);
        goto out;
    }
    if (cc != CURLE_OK) {
        /* curl_easy_strerror never includes the URL, unlike the error buffer. */
        rc = tp_error_set(err, TP_ENET, (int)cc, "%s: %s", req->what, curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
out:
    if (x.hash) {
        char hex[65];
        tp_sha256_final_hex(x.hash, hex); /* frees it */
    }
    curl_slist_free_all(hdrs);
    if (rc < 0) {
        free(resp->body);
        resp->body = NULL;
        resp->body_len = 0;
    }
    return rc;
}

void tp_http_net_error(tp_error *err, const char *url, const char *role, int tries, double seconds)
{
    if (!err || err->code != TP_ENET || !url)
        return;
    /* scheme://[user@]host[:port]/...: the authority, without user info. */
    const char *a = strstr(url, "://");
    bool https = !strncasecmp(url, "https:", 6);
    a = a ? a + 3 : url;
    size_t n = strcspn(a, "/?#");
    const char *at = memchr(a, '@', n);
    if (at) {
        n -= (size_t)(at + 1 - a);
        a = at + 1;
    }
    char host[300];
    snprintf(host, sizeof(host), "%.*s", (int)(n < 250 ? n : 250), a);
    const char *colon = strrchr(host, ':');
    if (!colon || (host[0] == '[' && !strstr(host, "]:")))
        snprintf(host + strlen(host), sizeof(host) - strlen(host), ":%d", https ? 443 : 80);
    char *old = tp_strdup(tp_error_message(err));
    /* The transport's own words follow "WHAT: " in the message tp_http_do() set. */
    const char *reason = old ? strrchr(old, ':') : NULL;
    reason = reason && reason[1] == ' ' ? reason + 2 : old ? old : "network error";
    int raw = err->raw;
    if (raw == CURLE_COULDNT_CONNECT)
        tp_error_set(err, TP_ENET, raw, "cannot connect to %s (%s) after %d tr%s in %.1f s", host,
                     role, tries, tries == 1 ? "y" : "ies", seconds);
    else
        tp_error_set(err, TP_ENET, raw, "%s at %s (%s) after %d tr%s in %.1f s", reason, host, role,
                     tries, tries == 1 ? "y" : "ies", seconds);
    free(old);
}
