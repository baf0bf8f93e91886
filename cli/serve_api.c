/* `tokprep serve`: the JSON API under /api/ (docs/API.md, "HTTP API") and the events stream. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "serve_core.h"

int serve_read_row(serve_ctx *c, int64_t id, tp_ledger_files **out, serve_reply *r)
{
    tp_ledger_files_options opts = TP_LEDGER_FILES_OPTIONS_INIT;
    tp_error err = TP_ERROR_INIT;
    *out = NULL;
    opts.id = id;
    if (serve_ledger_note(c)) {
        serve_reply_error(r, 404, TP_EINVAL, "%s", serve_ledger_note(c));
        return -1;
    }
    int rc = tp_ledger_files_read(out, c->state_path, &opts, &err);
    if (rc < 0) {
        serve_reply_error(r, rc == TP_EIO ? 404 : 500, rc, "%s", tp_error_message(&err));
        tp_error_clear(&err);
        return -1;
    }
    if (tp_ledger_files_count(*out) == 0 || !tp_ledger_files_at(*out, 0)) {
        tp_ledger_files_free(*out);
        *out = NULL;
        serve_reply_error(r, 404, TP_EINVAL, "no file with id %lld in the ledger", (long long)id);
        return -1;
    }
    return 0;
}

void serve_api_session(serve_ctx *c, serve_reply *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "csrf_token", c->csrf);
    cJSON_AddStringToObject(o, "version", TOKPREP_VERSION);
    cJSON_AddBoolToObject(o, "queue", c->queue != NULL);
    serve_reply_json(r, 200, o ? cJSON_PrintUnformatted(o) : NULL);
    cJSON_Delete(o);
}

static const char *const statuses[] = {"queued", "running",  "done",
                                       "failed", "rejected", "awaiting_review"};

void serve_api_files(serve_ctx *c, const char *status, serve_reply *r)
{
    tp_ledger_files_options opts = TP_LEDGER_FILES_OPTIONS_INIT;
    tp_ledger_files *files = NULL;
    tp_error err = TP_ERROR_INIT;
    if (status && *status && strcmp(status, "all") != 0) {
        bool known = false;
        for (size_t i = 0; i < TP_ARRAY_LEN(statuses); i++)
            known |= !strcmp(status, statuses[i]);
        if (!known) {
            serve_reply_error(r, 400, TP_EINVAL,
                              "status must be all, queued, running, done, failed, rejected or "
                              "awaiting_review");
            return;
        }
        opts.status = status;
    }
    const char *note = serve_ledger_note(c);
    if (note) { /* nothing has run yet: an empty list, and why */
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "state", c->state_path);
        cJSON_AddItemToObject(o, "files", cJSON_CreateArray());
        cJSON_AddStringToObject(o, "note", note);
        serve_reply_json(r, 200, o ? cJSON_PrintUnformatted(o) : NULL);
        cJSON_Delete(o);
        return;
    }
    int rc = tp_ledger_files_read(&files, c->state_path, &opts, &err);
    if (rc < 0)
        serve_reply_error(r, rc == TP_EUNSUPPORTED ? 501 : 500, rc, "%s", tp_error_message(&err));
    else
        serve_reply_json(r, 200, tp_ledger_files_to_json(files));
    tp_ledger_files_free(files);
    tp_error_clear(&err);
}

void serve_api_file(serve_ctx *c, int64_t id, serve_reply *r)
{
    tp_ledger_files *files = NULL;
    tp_check *check = NULL;
    tp_error err = TP_ERROR_INIT;
    if (serve_read_row(c, id, &files, r) < 0)
        return;
    const tp_ledger_file *f = tp_ledger_files_at(files, 0);
    char *text = tp_ledger_file_to_json(f);
    cJSON *o = text ? cJSON_Parse(text) : NULL;
    free(text);
    cJSON *cj = NULL;
    if (tp_ledger_file_check(&check, c->profile, f, &err) == 0) {
        char *ct = tp_check_json(check);
        cj = ct ? cJSON_Parse(ct) : NULL;
        free(ct);
    }
    cJSON_AddItemToObject(o, "check", cj ? cj : cJSON_CreateNull());
    serve_reply_json(r, 200, o ? cJSON_PrintUnformatted(o) : NULL);
    cJSON_Delete(o);
    tp_check_free(check);
    tp_error_clear(&err);
    tp_ledger_files_free(files);
}

void serve_api_creator(serve_ctx *c, serve_reply *r)
{
    const tp_creator_info *ci = NULL;
    tp_error err = TP_ERROR_INIT;
    int rc = serve_creator(c, &ci, &err);
    if (rc == 0)
        serve_reply_json(r, 200, tp_creator_info_to_json(ci));
    else if (rc == TP_EAUTH)
        serve_reply_error(r, 503, rc, "%s (log in with: tokprep auth login)",
                          tp_error_message(&err));
    else
        serve_reply_error(r, rc == TP_EUNSUPPORTED ? 501 : 502, rc, "%s", tp_error_message(&err));
    serve_creator_release(c, ci);
    tp_error_clear(&err);
}

void serve_api_queue(serve_ctx *c, serve_reply *r)
{
    tp_rqueue_report *q = NULL;
    tp_error err = TP_ERROR_INIT;
    if (!c->queue) {
        serve_reply_error(r, 404, TP_EINVAL, "no queue: start tokprep serve with --queue URL");
        return;
    }
    int rc = tp_rqueue_status(&q, c->queue, &err);
    if (rc < 0)
        serve_reply_error(r, 502, rc, "%s", tp_error_message(&err));
    else
        serve_reply_json(r, 200, tp_rqueue_report_to_json(q));
    tp_rqueue_report_free(q);
    tp_error_clear(&err);
}

/* ---- review ---------------------------------------------------------------------------------- */

static cJSON *parse_object(const char *body, size_t len, bool empty_ok, serve_reply *r)
{
    if (len == 0 && empty_ok)
        return cJSON_CreateObject();
    cJSON *o = cJSON_ParseWithLength(body, len);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        serve_reply_error(r, 400, TP_EINVAL, "the body must be a JSON object");
        return NULL;
    }
    return o;
}

/* An optional boolean member: 0 absent/false, 1 true; -1 (and r written) for another type. */
static int get_bool(const cJSON *o, const char *name, serve_reply *r)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsBool(v)) {
        serve_reply_error(r, 400, TP_EINVAL, "\"%s\" must be true or false", name);
        return -1;
    }
    return cJSON_IsTrue(v) ? 1 : 0;
}

/* An optional string member into *out (NULL when absent); -1 (and r written) for another type. */
static int get_string(const cJSON *o, const char *name, const char **out, serve_reply *r)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    *out = NULL;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsString(v)) {
        serve_reply_error(r, 400, TP_EINVAL, "\"%s\" must be a string", name);
        return -1;
    }
    *out = v->valuestring;
    return 0;
}

static void review_result(serve_reply *r, int64_t id, int rc, tp_error *err, const char *status)
{
    if (rc == 0) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", (double)id);
        cJSON_AddStringToObject(o, "status", status);
        serve_reply_json(r, 200, o ? cJSON_PrintUnformatted(o) : NULL);
        cJSON_Delete(o);
        return;
    }
    unsigned http = rc == TP_EINVAL         ? 400
                    : rc == TP_ECONFLICT    ? 409
                    : rc == TP_EUNSUPPORTED ? 501
                                            : 500;
    serve_reply_error(r, http, rc, "%s", tp_error_message(err));
}

void serve_api_approve(serve_ctx *c, int64_t id, const char *body, size_t len, serve_reply *r)
{
    tp_post_settings s = TP_POST_SETTINGS_INIT;
    tp_ledger_files *row = NULL;
    tp_error err = TP_ERROR_INIT;
    cJSON *o = parse_object(body, len, false, r);
    if (!o)
        return;
    int v[5];
    static const char *const names[5] = {"allow_comment", "allow_duet", "allow_stitch",
                                         "brand_organic", "brand_content"};
    for (size_t i = 0; i < 5; i++)
        if ((v[i] = get_bool(o, names[i], r)) < 0)
            goto out;
    if (get_string(o, "privacy_level", &s.privacy_level, r) < 0 ||
        get_string(o, "caption", &s.caption, r) < 0)
        goto out;
    if (!s.privacy_level) {
        serve_reply_error(r, 400, TP_EINVAL,
                          "\"privacy_level\" is required (one of the creator's options; there "
                          "is no default)");
        goto out;
    }
    s.allow_comment = v[0], s.allow_duet = v[1], s.allow_stitch = v[2];
    s.brand_organic = v[3], s.brand_content = v[4];
    if (serve_read_row(c, id, &row, r) < 0)
        goto out;
    review_result(r, id, tp_review_approve(c->state_path, id, &s, &err), &err, "queued");
out:
    tp_ledger_files_free(row);
    tp_error_clear(&err);
    cJSON_Delete(o);
}

void serve_api_reject(serve_ctx *c, int64_t id, const char *body, size_t len, serve_reply *r)
{
    tp_ledger_files *row = NULL;
    tp_error err = TP_ERROR_INIT;
    const char *reason = NULL;
    cJSON *o = parse_object(body, len, true, r);
    if (!o)
        return;
    if (get_string(o, "reason", &reason, r) < 0 || serve_read_row(c, id, &row, r) < 0)
        goto out;
    review_result(r, id, tp_review_reject(c->state_path, id, reason, &err), &err, "rejected");
out:
    tp_ledger_files_free(row);
    tp_error_clear(&err);
    cJSON_Delete(o);
}

/* ---- /api/events: Server-Sent Events over the events log ------------------------------------ */

#define SSE_LINE_MAX (1024 * 1024)

typedef struct sse {
    serve_ctx *c;
    char path[4096];
    int sock; /* the client's connection, to see it go away; -1 when unknown */
    int fd;
    dev_t dev;
    ino_t ino;
    off_t off;
    serve_buf line; /* a partial last line */
    bool skipping;  /* inside a line over SSE_LINE_MAX: dropped */
    serve_buf out;  /* bytes to send */
    size_t out_pos;
    double last_write;
} sse;

static void sse_free(void *cls)
{
    sse *s = cls;
    if (s->fd >= 0)
        close(s->fd);
    sb_free(&s->line);
    sb_free(&s->out);
    free(s);
}

static void sse_line(sse *s, const char *p, size_t n)
{
    while (n > 0 && (p[n - 1] == '\r'))
        n--;
    if (n == 0)
        return;
    sb_puts(&s->out, "data: ");
    /* A line of the log is one JSON text; a stray CR would end the SSE field early. */
    for (size_t i = 0; i < n; i++)
        sb_append(&s->out, p[i] == '\r' ? " " : p + i, 1);
    sb_puts(&s->out, "\n\n");
}

static void sse_bytes(sse *s, const char *p, size_t n)
{
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t k = nl ? (size_t)(nl - p) : n;
        if (!s->skipping) {
            if (s->line.len + k > SSE_LINE_MAX) {
                s->skipping = true;
                sb_free(&s->line);
            } else {
                sb_append(&s->line, p, k);
            }
        }
        if (!nl)
            return;
        if (!s->skipping && s->line.data)
            sse_line(s, s->line.data, s->line.len);
        s->skipping = false;
        s->line.len = 0;
        p += k + 1;
        n -= k + 1;
    }
}

/* Read what the open log has past off. */
static void sse_drain(sse *s)
{
    char buf[65536];
    for (int i = 0; i < 256; i++) { /* at most 16 MiB per poll */
        ssize_t n = pread(s->fd, buf, sizeof(buf), s->off);
        if (n <= 0)
            return;
        s->off += n;
        sse_bytes(s, buf, (size_t)n);
    }
}

static bool sse_open(sse *s)
{
    s->fd = open(s->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (s->fd >= 0 && (fstat(s->fd, &st) < 0 || !S_ISREG(st.st_mode))) {
        close(s->fd);
        s->fd = -1;
    }
    if (s->fd < 0)
        return false;
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    s->off = 0;
    s->line.len = 0;
    s->skipping = false;
    return true;
}

/* New lines of the log into s->out; follows a rotation (rename to .events.1, new file) by
 * inode: the old file is read to its end first. */
static void sse_poll(sse *s)
{
    if (s->fd < 0 && !sse_open(s))
        return;
    struct stat st;
    if (fstat(s->fd, &st) == 0 && st.st_size < s->off) /* truncated */
        s->off = 0, s->line.len = 0;
    sse_drain(s);
    struct stat now;
    if (stat(s->path, &now) < 0 || now.st_ino != s->ino || now.st_dev != s->dev) {
        sse_drain(s); /* what was written just before the rename */
        close(s->fd);
        s->fd = -1;
        if (sse_open(s))
            sse_drain(s);
    }
}

/* Has the client closed its side? Seen between writes, so that a closed page does not hold a
 * connection (and its thread) until the next ping. */
static bool sse_gone(const sse *s)
{
    if (s->sock < 0)
        return false;
    struct pollfd p = {.fd = s->sock, .events = POLLIN | POLLRDHUP};
    if (poll(&p, 1, 0) <= 0)
        return false;
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL))
        return true;
    char b;
    return recv(s->sock, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    sse *s = cls;
    (void)pos;
    for (;;) {
        if (__atomic_load_n(&s->c->stopping, __ATOMIC_SEQ_CST))
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (sse_gone(s))
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (s->out.oom)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (s->out_pos < s->out.len) {
            size_t n = s->out.len - s->out_pos;
            if (n > max)
                n = max;
            memcpy(buf, s->out.data + s->out_pos, n);
            s->out_pos += n;
            if (s->out_pos == s->out.len)
                s->out.len = s->out_pos = 0;
            s->last_write = serve_now();
            return (ssize_t)n;
        }
        sse_poll(s);
        if (s->out.len > 0)
            continue;
        if (serve_now() - s->last_write >= SERVE_PING_SECONDS) {
            sb_puts(&s->out, ": ping\n\n");
            continue;
        }
        /* A connection has its own thread (MHD_USE_THREAD_PER_CONNECTION): waiting here
         * blocks nobody else; the stop flag is read at least every 100 ms. */
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

void serve_api_events(serve_ctx *c, struct MHD_Connection *conn, bool from_start, serve_reply *r)
{
    sse *s = calloc(1, sizeof(*s));
    if (!s || tp_events_log_path(s->path, sizeof(s->path), c->state_path) < 0) {
        free(s);
        serve_reply_error(r, 500, TP_ENOMEM, "cannot follow the events log");
        return;
    }
    s->c = c;
    s->fd = -1;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    s->sock = ci ? (int)ci->connect_fd : -1;
    /* Start at the end of the log as it is now (a log made later is read from its start). */
    if (sse_open(s) && !from_start) {
        struct stat st;
        if (fstat(s->fd, &st) == 0)
            s->off = st.st_size;
    }
    s->last_write = serve_now();
    sb_puts(&s->out, ": tokprep events\nretry: 2000\n\n");
    r->custom =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, sse_read, s, sse_free);
    if (!r->custom) {
        sse_free(s);
        serve_reply_error(r, 500, TP_ENOMEM, "out of memory");
        return;
    }
    MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
    MHD_add_response_header(r->custom, "X-Accel-Buffering", "no");
    r->status = 200;
    r->type = "text/event-stream; charset=utf-8";
}
