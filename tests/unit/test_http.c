/* upload/http: tp_http_do against a tiny HTTP server on 127.0.0.1 (a thread in this test, an
 * ephemeral port): status codes handed back as they are, the headers the client acts on, bodies
 * from memory and from a file range, the 1 MiB answer cap, timeouts, a closed port, cancellation,
 * the SHA-256 guard on file bodies, and no retry of its own. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "upload/http.h"
#include "util/tp_util.h"

/* ---- the server ---------------------------------------------------------------------------- */

enum mode { ANSWER, STALL, HUGE_BODY };

typedef struct {
    /* set before start */
    enum mode mode;
    const char *answer; /* the whole response for ANSWER */
    size_t huge;        /* body bytes sent for HUGE_BODY */
    /* recorded by the server thread, read after server_stop */
    char request[16384]; /* the first request: head and the start of its body */
    size_t request_len;
    size_t body_len;       /* body bytes of the first request */
    size_t content_length; /* its Content-Length (0 when absent) */
    int requests;          /* requests read in all */
    /* internal */
    int fd, port;
    volatile int stop;
    pthread_t thread;
} server;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wait for fd to be readable, polling `stop` every 50 ms: 1 readable, 0 stopped. */
static int wait_readable(server *s, int fd)
{
    while (!s->stop) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) > 0)
            return 1;
    }
    return 0;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return; /* the client went away (e.g. it stopped reading at the cap) */
        p += w;
        n -= (size_t)w;
    }
}

/* Read one request (head, then Content-Length body bytes or until the peer closes). Returns
 * false when the connection closed before a whole head arrived. */
static bool read_request(server *s, int c)
{
    char buf[65536];
    size_t have = 0, head_end = 0, clen = 0, body = 0;
    bool first = s->requests == 0;
    for (;;) {
        if (!wait_readable(s, c))
            return false;
        ssize_t r = recv(c, buf + (head_end ? 0 : have),
                         head_end ? sizeof(buf) : sizeof(buf) - have - 1, 0);
        if (r <= 0)
            break;
        if (first) { /* as much as fits, keeping room for a NUL */
            size_t room = sizeof(s->request) - 1 - s->request_len;
            size_t n = (size_t)r < room ? (size_t)r : room;
            memcpy(s->request + s->request_len, buf + (head_end ? 0 : have), n);
            s->request_len += n;
        }
        if (head_end) {
            body += (size_t)r;
        } else {
            have += (size_t)r;
            buf[have] = '\0';
            char *e = strstr(buf, "\r\n\r\n");
            if (!e)
                continue;
            head_end = (size_t)(e - buf) + 4;
            body = have - head_end;
            char *cl = strcasestr(buf, "\r\ncontent-length:");
            if (cl && cl < e)
                clen = strtoul(cl + 17, NULL, 10);
        }
        if (head_end && body >= clen)
            break;
    }
    if (!head_end)
        return false;
    if (first) {
        s->body_len = body;
        s->content_length = clen;
    }
    s->requests++;
    return true;
}

static void *serve(void *arg)
{
    server *s = arg;
    while (wait_readable(s, s->fd)) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            continue;
        if (read_request(s, c)) {
            if (s->mode == ANSWER) {
                send_all(c, s->answer, strlen(s->answer));
            } else if (s->mode == HUGE_BODY) {
                char head[128];
                snprintf(head, sizeof(head),
                         "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                         s->huge);
                send_all(c, head, strlen(head));
                static char junk[65536];
                memset(junk, 'x', sizeof(junk));
                for (size_t sent = 0; sent < s->huge && !s->stop; sent += sizeof(junk))
                    send_all(c, junk, sizeof(junk));
            } else { /* STALL: say nothing until the client gives up */
                char b[4096];
                while (wait_readable(s, c) && recv(c, b, sizeof(b), 0) > 0)
                    ;
            }
        }
        close(c);
    }
    return NULL;
}

static void server_start(server *s)
{
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s->fd, 8), 0);
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &len), 0);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_stop(server *s)
{
    s->stop = 1;
    pthread_join(s->thread, NULL);
    close(s->fd);
    s->request[s->request_len] = '\0';
}

static void url_of(char *buf, size_t size, int port, const char *path)
{
    snprintf(buf, size, "http://127.0.0.1:%d%s", port, path);
}

static tp_http_req req_init(const char *method, const char *url)
{
    tp_http_req r = {.what = "TEST request", .method = method, .url = url, .fd = -1, .timeout = 10};
    return r;
}

/* One request against a server answering `answer`; the server is stopped on return. */
static int do_one(server *s, tp_http_req *req, tp_http_resp *resp, tp_error *err)
{
    tp_http *h = NULL;
    assert_int_equal(tp_http_new(&h, err), 0);
    int rc = tp_http_do(h, req, resp, err);
    tp_http_free(h);
    server_stop(s);
    return rc;
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void test_get_ok_body_and_headers_sent(void **state)
{
    (void)state;
    server s = {.mode = ANSWER,
                .answer = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"};
    server_start(&s);
    char url[128];
    url_of(url, sizeof(url), s.port, "/v2/thing?x=1");
    const char *hdrs[] = {"Authorization: Bearer abc", "X-Test: 42"};
    tp_http_req req = req_init("GET", url);
    req.headers = hdrs;
    req.n_headers = 2;
    tp_http_resp resp;
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(do_one(&s, &req, &resp, &err), 0);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.body_len, 5);
    assert_string_equal(resp.body, "hello");
    /* Absent headers read as "absent", not 0. */
    assert_true(resp.retry_after < 0);
    assert_int_equal(resp.ratelimit_remaining, -1);
    assert_true(resp.ratelimit_reset < 0);
    assert_string_equal(resp.location, "");
    assert_int_equal(s.requests, 1);
    assert_non_null(strstr(s.request, "GET /v2/thing?x=1 HTTP/1.1\r\n"));
    assert_non_null(strstr(s.request, "\r\nAuthorization: Bearer abc\r\n"));
    assert_non_null(strstr(s.request, "\r\nX-Test: 42\r\n"));
    assert_non_null(strstr(s.request, "\r\nUser-Agent: tokprep/"));
    assert_null(strcasestr(s.request, "Expect:")); /* no 100-continue round trip */
    tp_http_resp_clear(&resp);
    assert_null(resp.body);
    tp_error_clear(&err);
}

static void test_post_sends_the_body(void **state)
{
    (void)state;
    server s = {.mode = ANSWER,
                .answer = "HTTP/1.1 201 Created\r\nContent-Length: 2\r\nConnection: close\r\n"
                          "\r\n{}"};
    server_start(&s);
    char url[128];
    url_of(url, sizeof(url), s.port, "/v2/oauth/token/");
    tp_http_req req = req_init("POST", url);
    const char body[] = "grant_type=refresh_token&a=%20b";
    req.body = body;
    req.body_len = strlen(body);
    tp_http_resp resp;
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(do_one(&s, &req, &resp, &err), 0);
    assert_int_equal(resp.status, 201);
    assert_string_equal(resp.body, "{}");
    assert_non_null(strstr(s.request, "POST /v2/oauth/token/ HTTP/1.1\r\n"));
    assert_int_equal(s.content_length, strlen(body));
    assert_int_equal(s.body_len, strlen(body));
    assert_non_null(strstr(s.request, "\r\n\r\ngrant_type=refresh_token&a=%20b"));
    tp_http_resp_clear(&resp);
    tp_error_clear(&err);
}

/* Any status is 0 with the status for the caller to judge, and the layer retries nothing
 * itself: one request reaches the server. */
static void test_status_codes_returned_not_retried(void **state)
{
    (void)state;
    static const struct {
        const char *answer;
        long status;
    } cases[] = {
        {"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", 404},
        {"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbad",
         500},
        {"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", 503},
        {"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/elsewhere\r\nContent-Length: 0\r\n"
         "Connection: close\r\n\r\n",
         302},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        server s = {.mode = ANSWER, .answer = cases[i].answer};
        server_start(&s);
        char url[128];
        url_of(url, sizeof(url), s.port, "/status");
        tp_http_req req = req_init("GET", url);
        tp_http_resp resp;
        tp_error err = TP_ERROR_INIT;
        assert_int_equal(do_one(&s, &req, &resp, &err), 0);
        assert_int_equal(resp.status, cases[i].status);
        assert_int_equal(s.requests, 1); /* no retry, no redirect followed */
        if (cases[i].status == 302)
            assert_string_equal(resp.location, "http://127.0.0.1:9/elsewhere");
        tp_http_resp_clear(&resp);
        tp_error_clear(&err);
    }
}

/* The headers the client acts on, parsed and clamped. */
static void test_rate_limit_headers(void **state)
{
    (void)state;
    static const struct {
        const char *headers;
        double retry_after;
        long remaining;
        double reset;
        const char *range;
    } cases[] = {
        {"Retry-After: 7\r\nX-RateLimit-Remaining: 3\r\nX-RateLimit-Reset: 30\r\n", 7, 3, 30, ""},
        {"retry-after:  2.5 \r\nx-ratelimit-remaining: 0\r\n", 2.5, 0, -1, ""},
        /* Hostile waits are clamped to a day; a negative reset is "now". */
        {"Retry-After: inf\r\nX-RateLimit-Reset: 1e308\r\n", TP_HTTP_WAIT_MAX, -1, TP_HTTP_WAIT_MAX,
         ""},
        {"Retry-After: 99999999\r\nX-RateLimit-Reset: -5\r\n", TP_HTTP_WAIT_MAX, -1, 0, ""},
        /* Not a number, or negative: absent. */
        {"Retry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\n", -1, -1, -1, ""},
        {"Retry-After: -3\r\nContent-Range: bytes 0-99/1000\r\n", -1, -1, -1, "bytes 0-99/1000"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char answer[512];
        snprintf(answer, sizeof(answer),
                 "HTTP/1.1 429 Too Many Requests\r\n%sContent-Length: 0\r\nConnection: close\r\n"
                 "\r\n",
                 cases[i].headers);
        server s = {.mode = ANSWER, .answer = answer};
        server_start(&s);
        char url[128];
        url_of(url, sizeof(url), s.port, "/");
        tp_http_req req = req_init("GET", url);
        tp_http_resp resp;
        tp_error err = TP_ERROR_INIT;
        assert_int_equal(do_one(&s, &req, &resp, &err), 0);
        assert_int_equal(resp.status, 429);
        assert_float_equal(resp.retry_after, cases[i].retry_after, 1e-9);
        assert_int_equal(resp.ratelimit_remaining, cases[i].remaining);
        assert_float_equal(resp.ratelimit_reset, cases[i].reset, 1e-9);
        assert_string_equal(resp.content_range, cases[i].range);
        tp_http_resp_clear(&resp);
        tp_error_clear(&err);
    }
}

/* An epoch X-RateLimit-Reset is turned into seconds from now. */
static void test_rate_limit_reset_epoch(void **state)
{
    (void)state;
    char answer[256];
    snprintf(answer, sizeof(answer),
             "HTTP/1.1 200 OK\r\nX-RateLimit-Reset: %.0f\r\nContent-Length: 0\r\n"
             "Connection: close\r\n\r\n",
             tp_now_wall() + 40);
    server s = {.mode = ANSWER, .answer = answer};
    server_start(&s);
    char url[128];
    url_of(url, sizeof(url), s.port, "/");
    tp_http_req req = req_init("GET", url);
    tp_http_resp resp;
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(do_one(&s, &req, &resp, &err), 0);
    assert_true(resp.ratelimit_reset > 35 && resp.ratelimit_reset <= 41);
    tp_http_resp_clear(&resp);
    tp_error_clear(&err);
}

/* A closed port: a transport error, the message naming `what` and never the URL. */
static void test_connection_refused(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd); /* bound once, never listened: nothing answers there now */
    char url[128];
    url_of(url, sizeof(url), ntohs(a.sin_port), "/upload?upload_token=SECRET");
    tp_http *h = NULL;
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(tp_http_new(&h, &err), 0);
    tp_http_req req = req_init("GET", url);
    tp_http_resp resp;
    assert_int_equal(tp_http_do(h, &req, &resp, &err), TP_ENET);
    assert_int_equal(err.code, TP_ENET);
    assert_non_null(strstr(tp_error_message(&err), "TEST request"));
    assert_null(strstr(tp_error_message(&err), "SECRET"));
    assert_null(strstr(tp_error_message(&err), "127.0.0.1"));
    assert_null(resp.body);
    tp_http_free(h);
    tp_error_clear(&err);
}

/* A server that accepts and never answers: given up after the timeout, not held. */
static void test_timeout(void **state)
{
    (void)state;
    server s = {.mode = STALL};
    server_start(&s);
    char url[128];
    url_of(url, sizeof(url), s.port, "/slow");
    tp_http_req req = req_init("GET", url);
    req.timeout = 1;
    tp_http_resp resp;
    tp_error err = TP_ERROR_INIT;
    double t0 = now();
    int rc = do_one(&s, &req, &resp, &err);
    double took = now() - t0;
    assert_int_equal(rc, TP_ENET);
    assert_true(took >= 0.9 && took < 5);
    assert_int_equal(s.requests, 1);
    assert_non_null(strstr(tp_error_message(&err), "TEST request"));
    tp_error_clear(&err);
}

/* A cancel flag already set stops a request that would otherwise wait its timeout out. */
static void test_cancel(void **state)
{
    (void)state;
    server s = {.mode = STALL};
    server_start(&s);
    char url[128];
    url_of(url, sizeof(url), s.port, "/slow");
    tp_cancel cancel;
    tp_cancel_init(&cancel, NULL);
    tp_cancel_request(&cancel);
    tp_http_req req = req_init("GET", url);
    req.timeout = 30;
    req.cancel = &cancel;
    tp_http_resp resp;
    tp_error err = TP_ERROR_INIT;
    double t0 = now();
    assert_int_equal(do_one(&s, &req, &resp, &err), TP_ECANCELED);
    assert_true(now() - t0 < 5);
    assert_int_equal(err.code, TP_ECANCELED);
    tp_error_clear(&err);
}

/* An answer longer than 1 MiB: reading stops there, an HTTP error, no body handed out. */
static void test_body_cap(void **state)
{
    (void)state;
    server s = {.mode = HUGE_BODY, .huge = 8u << 20};
    server_start(&s);
    char url[128];
    url_of(url, sizeof(url), s.port, "/big");
    tp_http_req req = req_init("GET", url);
    tp_http_resp resp;
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(do_one(&s, &req, &resp, &err), TP_EHTTP);
    assert_null(resp.body);
    assert_int_equal(resp.body_len, 0);
    assert_non_null(strstr(tp_error_message(&err), "longer than"));
    tp_error_clear(&err);
}

/* Just under the cap is still an answer. */
static void test_body_under_cap(void **state)
{
    (void)state;
    server s = {.mode = HUGE_BODY, .huge = 1u << 20};
    server_start(&s);
    char url[128];
    url_of(url, sizeof(url), s.port, "/big");
    tp_http_req req = req_init("GET", url);
    tp_http_resp resp;
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(do_one(&s, &req, &resp, &err), 0);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.body_len, 1u << 20);
    assert_int_equal(resp.body[resp.body_len], '\0');
    tp_http_resp_clear(&resp);
    tp_error_clear(&err);
}

/* A URL that is neither https nor http to loopback is refused before any connection. */
static void test_plain_http_to_remote_refused(void **state)
{
    (void)state;
    tp_http *h = NULL;
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(tp_http_new(&h, &err), 0);
    tp_http_req req = req_init("GET", "http://example.invalid/x");
    tp_http_resp resp;
    assert_int_equal(tp_http_do(h, &req, &resp, &err), TP_EINVAL);
    assert_int_equal(err.code, TP_EINVAL);
    tp_http_free(h);
    tp_error_clear(&err);
}

typedef struct {
    int64_t last, calls;
} progress_seen;

static void on_progress(int64_t sent, void *payload)
{
    progress_seen *p = payload;
    p->last = sent;
    p->calls++;
}

static int temp_file_with(const char *data, size_t len)
{
    char path[] = "/tmp/tp_test_http.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    return fd;
}

static void sha256_hex(const char *data, size_t len, char hex[65])
{
    tp_sha256 *s = tp_sha256_new();
    assert_non_null(s);
    tp_sha256_update(s, data, len);
    tp_sha256_final_hex(s, hex);
}

/* PUT of a file range: exactly bytes [offset, offset+length) reach the server, with progress. */
static void test_put_file_range(void **state)
{
    (void)state;
    static char data[300000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (char)('a' + i % 26);
    int fd = temp_file_with(data, sizeof(data));
    server s = {.mode = ANSWER,
                .answer = "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 1000-200999/300000"
                          "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"};
    server_start(&s);
    char url[128];
    url_of(url, sizeof(url), s.port, "/upload/?upload_token=t");
    char hex[65];
    sha256_hex(data + 1000, 200000, hex);
    progress_seen seen = {0};
    tp_http_req req = req_init("PUT", url);
    req.fd = fd;
    req.offset = 1000;
    req.length = 200000;
    req.sha256 = hex;
    req.progress = on_progress;
    req.payload = &seen;
    tp_http_resp resp;
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(do_one(&s, &req, &resp, &err), 0);
    assert_int_equal(resp.status, 206);
    assert_string_equal(resp.content_range, "bytes 1000-200999/300000");
    assert_false(resp.body_changed);
    assert_non_null(strstr(s.request, "PUT /upload/?upload_token=t HTTP/1.1\r\n"));
    assert_int_equal(s.content_length, 200000);
    assert_int_equal(s.body_len, 200000);
    char *body = strstr(s.request, "\r\n\r\n");
    assert_non_null(body);
    assert_memory_equal(body + 4, data + 1000, s.request + s.request_len - body - 4);
    assert_true(seen.calls > 0);
    assert_int_equal(seen.last, 200000);
    tp_http_resp_clear(&resp);
    close(fd);
    tp_error_clear(&err);
}

/* A file whose bytes no longer match the SHA-256 they were checked with: aborted before the
 * last bytes go out, so the server never receives the whole changed body. */
static void test_put_changed_file_not_sent_whole(void **state)
{
    (void)state;
    static char data[200000];
    memset(data, 'v', sizeof(data));
    char hex[65];
    sha256_hex(data, sizeof(data), hex);
    data[sizeof(data) - 10] = 'X'; /* changed after it was hashed */
    int fd = temp_file_with(data, sizeof(data));
    server s = {.mode = ANSWER,
                .answer = "HTTP/1.1 201 Created\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"};
    server_start(&s);
    char url[128];
    url_of(url, sizeof(url), s.port, "/upload/");
    tp_http_req req = req_init("PUT", url);
    req.fd = fd;
    req.length = sizeof(data);
    req.sha256 = hex;
    tp_http_resp resp;
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(do_one(&s, &req, &resp, &err), TP_EIO);
    assert_true(resp.body_changed);
    assert_non_null(strstr(tp_error_message(&err), "changed"));
    /* curl may abort before even the request head went out. */
    assert_true(s.requests == 0 || s.content_length == sizeof(data));
    assert_true(s.body_len < sizeof(data));
    close(fd);
    tp_error_clear(&err);
}

/* A file shorter than the range (truncated since): a read error, not a padded body. */
static void test_put_short_file(void **state)
{
    (void)state;
    int fd = temp_file_with("0123456789", 10);
    server s = {.mode = ANSWER,
                .answer = "HTTP/1.1 201 Created\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"};
    server_start(&s);
    char url[128];
    url_of(url, sizeof(url), s.port, "/upload/");
    tp_http_req req = req_init("PUT", url);
    req.fd = fd;
    req.offset = 4;
    req.length = 100;
    tp_http_resp resp;
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(do_one(&s, &req, &resp, &err), TP_EIO);
    assert_non_null(strstr(tp_error_message(&err), "reading the file failed"));
    assert_true(s.body_len < 100);
    close(fd);
    tp_error_clear(&err);
}

/* One handle serves several requests in a row (keep-alive or not), each response reset. */
static void test_handle_reused(void **state)
{
    (void)state;
    tp_http *h = NULL;
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(tp_http_new(&h, &err), 0);
    for (int i = 0; i < 3; i++) {
        server s = {.mode = ANSWER,
                    .answer = i == 1 ? "HTTP/1.1 429 Too Many\r\nRetry-After: 4\r\nContent-Length:"
                                       " 0\r\nConnection: close\r\n\r\n"
                                     : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: "
                                       "close\r\n\r\nok"};
        server_start(&s);
        char url[128];
        url_of(url, sizeof(url), s.port, "/again");
        tp_http_req req = req_init("GET", url);
        req.fresh_connection = i == 2;
        tp_http_resp resp;
        assert_int_equal(tp_http_do(h, &req, &resp, &err), 0);
        server_stop(&s);
        assert_int_equal(resp.status, i == 1 ? 429 : 200);
        assert_float_equal(resp.retry_after, i == 1 ? 4 : -1, 1e-9);
        if (i == 1)
            assert_null(resp.body);
        else
            assert_string_equal(resp.body, "ok");
        tp_http_resp_clear(&resp);
    }
    tp_http_free(h);
    tp_http_free(NULL);
    tp_error_clear(&err);
}

static void test_form_escape(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"", ""},
        {"abcXYZ019-._~", "abcXYZ019-._~"},
        {"a b&c=d", "a%20b%26c%3Dd"},
        {"http://127.0.0.1:8/cb?x=1", "http%3A%2F%2F127.0.0.1%3A8%2Fcb%3Fx%3D1"},
        {"\xc3\xa9+/", "%C3%A9%2B%2F"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *e = tp_http_form_escape(cases[i].in);
        assert_non_null(e);
        assert_string_equal(e, cases[i].out);
        free(e);
    }
}

static void test_url_is_loopback(void **state)
{
    (void)state;
    assert_true(tp_http_url_is_loopback("http://127.0.0.1:8080/cb"));
    assert_true(tp_http_url_is_loopback("http://127.9.9.9/cb"));
    assert_true(tp_http_url_is_loopback("http://localhost:1/cb"));
    assert_true(tp_http_url_is_loopback("http://[::1]:5/cb"));
    assert_false(tp_http_url_is_loopback("http://127.0.0.1.nip.io/cb"));
    assert_false(tp_http_url_is_loopback("https://example.com/cb"));
    assert_false(tp_http_url_is_loopback("not a url"));
    assert_false(tp_http_url_is_loopback(NULL));
}

static void test_sleep_and_cancel(void **state)
{
    (void)state;
    double t0 = now();
    assert_int_equal(tp_http_sleep(0.2, NULL), 0);
    double took = now() - t0;
    assert_true(took >= 0.19 && took < 1.0);
    tp_cancel cancel;
    tp_cancel_init(&cancel, NULL);
    tp_cancel_request(&cancel);
    t0 = now();
    assert_int_equal(tp_http_sleep(30, &cancel), TP_ECANCELED);
    assert_true(now() - t0 < 0.5);
    tp_cancel fresh;
    tp_cancel_init(&fresh, NULL);
    assert_int_equal(tp_http_sleep(0, &fresh), 0);
}

int main(void)
{
    tp_error err = TP_ERROR_INIT;
    if (tp_global_init(&err) != 0) {
        fprintf(stderr, "init: %s\n", tp_error_message(&err));
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_ok_body_and_headers_sent),
        cmocka_unit_test(test_post_sends_the_body),
        cmocka_unit_test(test_status_codes_returned_not_retried),
        cmocka_unit_test(test_rate_limit_headers),
        cmocka_unit_test(test_rate_limit_reset_epoch),
        cmocka_unit_test(test_connection_refused),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_body_cap),
        cmocka_unit_test(test_body_under_cap),
        cmocka_unit_test(test_plain_http_to_remote_refused),
        cmocka_unit_test(test_put_file_range),
        cmocka_unit_test(test_put_changed_file_not_sent_whole),
        cmocka_unit_test(test_put_short_file),
        cmocka_unit_test(test_handle_reused),
        cmocka_unit_test(test_form_escape),
        cmocka_unit_test(test_url_is_loopback),
        cmocka_unit_test(test_sleep_and_cancel),
    };
    tp_error_clear(&err);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
