/* `tokprep serve`: one HTTP request from headers to answer. Every request passes the Host
 * check (DNS rebinding) and, with --auth-token-file, the token check; POSTs also the
 * same-origin and CSRF-token checks, before any route sees them. Every answer carries the CSP
 * and the other security headers. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "serve_core.h"

typedef struct request {
    bool started; /* the POST's checks passed: collecting its body */
    bool get;     /* a GET or HEAD that passed the checks: answered on the next call */
    bool too_big;
    serve_buf body;
} request;

void serve_reply_error(serve_reply *r, unsigned status, int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sb_free(&r->body);
    r->status = status;
    r->type = "application/json";
    sb_puts(&r->body, "{\"error\": \"");
    sb_puts(&r->body, tp_error_name(code));
    sb_puts(&r->body, "\", \"message\": \"");
    /* JSON string escape: the message may hold a ledger path. */
    for (const unsigned char *s = (const unsigned char *)msg; *s; s++) {
        if (*s == '"' || *s == '\\')
            sb_printf(&r->body, "\\%c", *s);
        else if (*s < 0x20 || *s == 0x7f)
            sb_printf(&r->body, "\\u%04x", *s);
        else if (*s == '<' || *s == '>' || *s == '&')
            sb_printf(&r->body, "\\u%04x", *s); /* never markup, even if sniffed */
        else
            sb_append(&r->body, s, 1);
    }
    sb_puts(&r->body, "\"}\n");
}

void serve_reply_json(serve_reply *r, unsigned status, char *json)
{
    if (!json) {
        serve_reply_error(r, 500, TP_ENOMEM, "out of memory");
        return;
    }
    sb_free(&r->body);
    r->status = status;
    r->type = "application/json";
    sb_puts(&r->body, json);
    sb_puts(&r->body, "\n");
    free(json);
}

static const char *header(struct MHD_Connection *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

/* DNS rebinding: a page of evil.example that re-points its name at 127.0.0.1 reaches us with
 * Host: evil.example. Only our own names pass (any, on a wildcard address, where the token
 * guards instead: a browser cannot have it for a rebound name). */
static bool host_ok(const serve_ctx *c, const char *host)
{
    if (!host || !*host || strlen(host) > 300)
        return false;
    if (c->wildcard)
        return true;
    for (size_t i = 0; i < c->n_hosts; i++)
        if (!strcasecmp(host, c->hosts[i]))
            return true;
    return false;
}

static bool authorized(const serve_ctx *c, struct MHD_Connection *conn)
{
    if (!c->token)
        return true;
    const char *auth = header(conn, MHD_HTTP_HEADER_AUTHORIZATION);
    if (auth && !strncasecmp(auth, "Bearer ", 7)) {
        const char *t = auth + 7;
        while (*t == ' ')
            t++;
        if (serve_secret_eq(t, c->token))
            return true;
    }
    const char *cookie = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, "tokprep_auth");
    return cookie && serve_secret_eq(cookie, c->token);
}

/* A POST must come from our own pages: same origin (Origin, else Referer), not a cross-site
 * fetch, and with the per-process CSRF token only our pages and /api/session hand out.
 * 0, or writes the 403 into r. */
static int post_ok(const serve_ctx *c, struct MHD_Connection *conn, serve_reply *r)
{
    const char *host = header(conn, MHD_HTTP_HEADER_HOST);
    const char *origin = header(conn, "Origin");
    const char *referer = header(conn, MHD_HTTP_HEADER_REFERER);
    const char *site = header(conn, "Sec-Fetch-Site");
    char *self = tp_cli_asprintf("http://%s", host ? host : "");
    int rc = 0;
    if (!self) {
        serve_reply_error(r, 500, TP_ENOMEM, "out of memory");
        return -1;
    }
    size_t n = strlen(self);
    if (site && (!strcasecmp(site, "cross-site") || !strcasecmp(site, "same-site")))
        rc = -1;
    else if (origin && strcasecmp(origin, self) != 0)
        rc = -1;
    else if (!origin && referer && (strncasecmp(referer, self, n) != 0 || referer[n] != '/'))
        rc = -1;
    free(self);
    if (rc < 0) {
        serve_reply_error(r, 403, TP_EAUTH, "cross-origin request refused");
        return -1;
    }
    const char *csrf = header(conn, "X-CSRF-Token");
    if (!csrf || !serve_secret_eq(csrf, c->csrf)) {
        serve_reply_error(r, 403, TP_EAUTH,
                          "missing or wrong X-CSRF-Token header (GET /api/session gives it)");
        return -1;
    }
    return 0;
}

/* A ledger id: digits only, > 0. */
static bool parse_id(const char *s, size_t len, int64_t *id)
{
    if (len == 0 || len > 18)
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *id = v;
    return v > 0;
}

static void reply_page(serve_reply *r, int status)
{
    r->type = "text/html; charset=utf-8";
    r->status = status >= 100 && status < 600 ? (unsigned)status : 500;
    if (r->body.oom)
        serve_reply_error(r, 500, TP_ENOMEM, "out of memory");
}

static void reply_asset(serve_reply *r, struct MHD_Connection *conn, const unsigned char *data,
                        size_t len, const char *type, const char *etag)
{
    r->cacheable = true;
    r->etag = etag;
    r->type = type;
    const char *inm = header(conn, MHD_HTTP_HEADER_IF_NONE_MATCH);
    if (inm && (strstr(inm, etag) || !strcmp(inm, "*"))) {
        r->status = 304;
        return;
    }
    r->status = 200;
    sb_append(&r->body, data, len);
}

static void login(serve_ctx *c, struct MHD_Connection *conn, serve_reply *r)
{
    const char *t = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "token");
    if (c->token) {
        if (!t || !serve_secret_eq(t, c->token)) {
            serve_reply_error(r, 401, TP_EAUTH, "wrong or missing token");
            return;
        }
        r->cookie = tp_cli_asprintf("tokprep_auth=%s; HttpOnly; SameSite=Strict; Path=/", c->token);
    }
    r->status = 303;
    snprintf(r->location, sizeof(r->location), "/");
}

static const char *arg(struct MHD_Connection *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
}

static void method_not_allowed(serve_reply *r, const char *allow)
{
    serve_reply_error(r, 405, TP_EINVAL, "method not allowed here (allowed: %s)", allow);
    r->allow = allow;
}

/* GET and HEAD routes. */
static void route_get(serve_ctx *c, struct MHD_Connection *conn, const char *url, serve_reply *r)
{
    int64_t id;
    if (!strcmp(url, "/")) {
        reply_page(r, serve_page_dashboard(c, arg(conn, "status"), &r->body));
    } else if (!strcmp(url, "/review")) {
        reply_page(r, serve_page_review(c, &r->body));
    } else if (!strcmp(url, "/login")) {
        login(c, conn, r);
    } else if (!strcmp(url, "/static/app.css")) {
        reply_asset(r, conn, serve_asset_app_css, serve_asset_app_css_len,
                    "text/css; charset=utf-8", c->css_etag);
    } else if (!strcmp(url, "/static/app.js")) {
        reply_asset(r, conn, serve_asset_app_js, serve_asset_app_js_len,
                    "text/javascript; charset=utf-8", c->js_etag);
    } else if (!strcmp(url, "/api/session")) {
        serve_api_session(c, r);
    } else if (!strcmp(url, "/api/files")) {
        serve_api_files(c, arg(conn, "status"), r);
    } else if (!strcmp(url, "/api/events")) {
        const char *since = arg(conn, "since");
        serve_api_events(c, conn, since && !strcmp(since, "start"), r);
    } else if (!strcmp(url, "/api/creator")) {
        serve_api_creator(c, r);
    } else if (!strcmp(url, "/api/queue")) {
        serve_api_queue(c, r);
    } else if (!strncmp(url, "/api/files/", 11) && parse_id(url + 11, strlen(url + 11), &id)) {
        serve_api_file(c, id, r);
    } else if (!strncmp(url, "/files/", 7)) {
        const char *rest = url + 7, *slash = strchr(rest, '/');
        size_t idlen = slash ? (size_t)(slash - rest) : strlen(rest);
        if (!parse_id(rest, idlen, &id)) {
            serve_reply_error(r, 404, TP_EINVAL, "no such page");
        } else if (!slash) {
            reply_page(r, serve_page_file(c, id, &r->body));
        } else if (!strcmp(slash, "/preview.png")) {
            serve_preview(c, id, arg(conn, "of"), r);
        } else if (!strncmp(slash, "/outputs/", 9)) {
            int64_t n;
            const char *ns = slash + 9;
            if (!strcmp(ns, "0"))
                serve_output(c, id, 0, header(conn, "Range"), r);
            else if (parse_id(ns, strlen(ns), &n) && n < 1000000)
                serve_output(c, id, (long)n, header(conn, "Range"), r);
            else
                serve_reply_error(r, 404, TP_EINVAL, "no such output");
        } else {
            serve_reply_error(r, 404, TP_EINVAL, "no such page");
        }
    } else if (!strncmp(url, "/api/files/", 11) &&
               (strstr(url, "/approve") || strstr(url, "/reject"))) {
        method_not_allowed(r, "POST");
    } else {
        serve_reply_error(r, 404, TP_EINVAL, "no such page");
    }
}

/* /api/files/ID/approve or /reject: which one into *approve, 0; -1 for another URL. */
static int post_route(const char *url, int64_t *id, bool *approve)
{
    if (strncmp(url, "/api/files/", 11) != 0)
        return -1;
    const char *rest = url + 11, *slash = strchr(rest, '/');
    if (!slash || !parse_id(rest, (size_t)(slash - rest), id))
        return -1;
    if (!strcmp(slash, "/approve"))
        *approve = true;
    else if (!strcmp(slash, "/reject"))
        *approve = false;
    else
        return -1;
    return 0;
}

static void add_headers(const serve_ctx *c, struct MHD_Response *resp, const serve_reply *r)
{
    MHD_add_response_header(resp, "Content-Security-Policy", c->csp);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Cross-Origin-Resource-Policy", "same-origin");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
                            r->cacheable ? "max-age=3600" : "no-store");
    if (r->type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->type);
    if (r->etag)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, r->etag);
    if (r->location[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, r->location);
    if (r->cookie)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, r->cookie);
    if (r->content_range[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, r->content_range);
    if (r->allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
    if (r->status == 401)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"tokprep\"");
}

static enum MHD_Result send_reply(serve_ctx *c, struct MHD_Connection *conn, serve_reply *r)
{
    struct MHD_Response *resp = r->custom;
    if (!resp && r->fd >= 0) {
        resp = MHD_create_response_from_fd_at_offset64(r->size, r->fd, r->offset);
        if (resp)
            r->fd = -1; /* the response closes it */
        else
            serve_reply_error(r, 500, TP_ENOMEM, "out of memory");
    }
    if (!resp && r->fd < 0) {
        if (r->body.oom)
            serve_reply_error(r, 500, TP_ENOMEM, "out of memory");
        if (r->body.data && !r->body.oom) {
            resp =
                MHD_create_response_from_buffer(r->body.len, r->body.data, MHD_RESPMEM_MUST_FREE);
            if (resp)
                r->body = (serve_buf){0};
        } else {
            resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        }
    }
    r->custom = NULL;
    if (!resp)
        return MHD_NO;
    if (r->status == 206 || (r->status == 200 && r->type && !strncmp(r->type, "video/", 6)))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
    add_headers(c, resp, r);
    enum MHD_Result ret = MHD_queue_response(conn, r->status ? r->status : 500, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void reply_clear(serve_reply *r)
{
    sb_free(&r->body);
    free(r->cookie);
    if (r->fd >= 0)
        close(r->fd);
    if (r->custom)
        MHD_destroy_response(r->custom);
}

static enum MHD_Result finish(serve_ctx *c, struct MHD_Connection *conn, serve_reply *r)
{
    enum MHD_Result ret = send_reply(c, conn, r);
    reply_clear(r);
    return ret;
}

enum MHD_Result serve_http_request(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **req_cls)
{
    serve_ctx *c = cls;
    request *rq = *req_cls;
    serve_reply r = {.fd = -1};
    bool is_get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    bool is_post = !strcmp(method, "POST");
    int64_t id = 0;
    bool approve = false;
    (void)version;

    if (!rq) { /* headers are in: every check happens before a body is read */
        rq = calloc(1, sizeof(*rq));
        if (!rq)
            return MHD_NO;
        *req_cls = rq;
        const char *host = header(conn, MHD_HTTP_HEADER_HOST);
        if (!host_ok(c, host)) {
            serve_reply_error(&r, 421, TP_EAUTH,
                              "this server answers only to its own address (Host header "
                              "refused)");
            return finish(c, conn, &r);
        }
        if (strcmp(url, "/login") != 0 && !authorized(c, conn)) {
            serve_reply_error(&r, 401, TP_EAUTH,
                              "this server needs its token: Authorization: Bearer TOKEN, or "
                              "open /login?token=TOKEN once");
            return finish(c, conn, &r);
        }
        if (is_get) {
            /* Answered once the whole request is in (the next call): a response queued on the
             * first call counts as early and ends the keep-alive connection. */
            rq->get = true;
            return MHD_YES;
        }
        if (!is_post) {
            method_not_allowed(&r, post_route(url, &id, &approve) == 0 ? "POST" : "GET, HEAD");
            return finish(c, conn, &r);
        }
        if (post_route(url, &id, &approve) < 0) {
            if (!strcmp(url, "/") || !strncmp(url, "/api/", 5) || !strncmp(url, "/files/", 7) ||
                !strcmp(url, "/review") || !strncmp(url, "/static/", 8))
                method_not_allowed(&r, "GET, HEAD");
            else
                serve_reply_error(&r, 404, TP_EINVAL, "no such page");
            return finish(c, conn, &r);
        }
        if (post_ok(c, conn, &r) < 0)
            return finish(c, conn, &r);
        const char *cl = header(conn, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > SERVE_BODY_MAX) {
            serve_reply_error(&r, 413, TP_EINVAL, "the body is over %d bytes", SERVE_BODY_MAX);
            return finish(c, conn, &r);
        }
        rq->started = true;
        return MHD_YES;
    }
    if (rq->get) {
        if (*upload_data_size > 0) { /* a GET with a body: ignored */
            *upload_data_size = 0;
            return MHD_YES;
        }
        route_get(c, conn, url, &r);
        return finish(c, conn, &r);
    }
    if (*upload_data_size > 0) {
        if (rq->body.len + *upload_data_size > SERVE_BODY_MAX)
            rq->too_big = true;
        else
            sb_append(&rq->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!rq->started || post_route(url, &id, &approve) < 0)
        return MHD_NO;
    if (rq->too_big)
        serve_reply_error(&r, 413, TP_EINVAL, "the body is over %d bytes", SERVE_BODY_MAX);
    else if (rq->body.oom)
        serve_reply_error(&r, 500, TP_ENOMEM, "out of memory");
    else if (approve)
        serve_api_approve(c, id, rq->body.data ? rq->body.data : "", rq->body.len, &r);
    else
        serve_api_reject(c, id, rq->body.data ? rq->body.data : "", rq->body.len, &r);
    return finish(c, conn, &r);
}

void serve_http_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                          enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)conn, (void)toe;
    request *rq = *req_cls;
    if (!rq)
        return;
    sb_free(&rq->body);
    free(rq);
    *req_cls = NULL;
}
