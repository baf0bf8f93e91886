/* TikTok Login Kit for desktop (see auth.h). Tokens live only in memory and in the 0600 token
 * file; every message here names files and TikTok's error codes, never a token or the secret. */
#include "upload/auth.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/path.h"
#include "util/tp_util.h"

extern char **environ;

void tp_tt_pkce_challenge(const char *verifier, char out[65])
{
    tp_sha256_hex(verifier, strlen(verifier), out);
}

int tp_tt_random_string(char *out, size_t n, tp_error *err)
{
    static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
    unsigned char buf[256];
    size_t i = 0;
    while (i < n) {
        ssize_t got = getrandom(buf, sizeof(buf), 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return tp_error_set(err, TP_EIO, errno, "getrandom failed: %s", strerror(errno));
        }
        for (ssize_t k = 0; k < got && i < n; k++) {
            /* 66 symbols: reject the top of the byte range so each symbol is equally likely. */
            if (buf[k] >= 66 * 3)
                continue;
            out[i++] = set[buf[k] % 66];
        }
    }
    out[n] = '\0';
    return 0;
}

int tp_tt_token_path(char *buf, size_t size, const tp_profile *p, tp_error *err)
{
    const char *tf = p->upload.tiktok.token_file;
    size_t n;
    if (tf && *tf) {
        n = tp_strlcpy(buf, tf, size);
    } else {
        const char *xdg = getenv("XDG_CONFIG_HOME");
        const char *home = getenv("HOME");
        if (xdg && *xdg)
            n = (size_t)snprintf(buf, size, "%s/tokprep/%s.json", xdg, p->name);
        else if (home && *home)
            n = (size_t)snprintf(buf, size, "%s/.config/tokprep/%s.json", home, p->name);
        else
            return tp_error_set(err, TP_ECONFIG, 0,
                                "neither XDG_CONFIG_HOME nor HOME is set: set "
                                "upload.tiktok.token_file in the profile");
    }
    if (n >= size)
        return tp_error_set(err, TP_ECONFIG, 0, "token file path is too long");
    return 0;
}

static int read_small_file(const char *path, char **out, size_t *len, bool check_perms,
                           tp_error *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return TP_EAUTH; /* caller words the message */
        return tp_error_set(err, TP_EIO, errno, "%s: cannot open: %s", path, strerror(errno));
    }
    struct stat st;
    int rc = 0;
    char *buf = NULL;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        rc = tp_error_set(err, TP_EIO, 0, "%s: not a regular file", path);
        goto out;
    }
    if (check_perms && (st.st_mode & 077)) {
        rc = tp_error_set(err, TP_EIO, 0,
                          "%s: refusing a token file that other users can access (mode %04o); "
                          "run 'chmod 600 %s' or log in again",
                          path, (unsigned)(st.st_mode & 07777), path);
        goto out;
    }
    if (check_perms && st.st_uid != geteuid()) {
        rc = tp_error_set(err, TP_EIO, 0, "%s: refusing a token file owned by another user", path);
        goto out;
    }
    if (st.st_size > 64 * 1024) {
        rc = tp_error_set(err, TP_EIO, 0, "%s: too big for a token file", path);
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    ssize_t got = read(fd, buf, (size_t)st.st_size);
    if (got < 0) {
        rc = tp_error_set(err, TP_EIO, errno, "%s: read failed: %s", path, strerror(errno));
        goto out;
    }
    buf[got] = '\0';
    *out = buf;
    *len = (size_t)got;
    buf = NULL;
out:
    free(buf);
    close(fd);
    return rc;
}

char *tp_tt_login_command(const tp_profile *p)
{
    /* The profile as the user typed it: `auth login --profile NAME` cannot find a file's name. */
    char word[1024];
    tp_shell_word(word, sizeof(word), p ? tp_profile_opened_as(p) : "tiktok");
    return tp_asprintf("tokprep auth login --profile %s", word);
}

int tp_tt_token_load(tp_tt_token *tok, const tp_profile *p, const char *path, tp_error *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc = read_small_file(path, &text, &len, true, err);
    if (rc == TP_EAUTH) {
        char *cmd = tp_tt_login_command(p);
        rc = tp_error_set(err, TP_EAUTH, 0, "not logged in: %s does not exist; run '%s'", path,
                          cmd ? cmd : "tokprep auth login");
        free(cmd);
        return rc;
    }
    if (rc < 0)
        return rc;
    rc = tp_tt_token_parse(tok, text, len, err);
    if (rc < 0)
        tp_error_prefix(err, "%s", path);
    /* The text held tokens: wipe before free. */
    memset(text, 0, len);
    free(text);
    return rc;
}

static int write_private_file(const char *path, const char *text, tp_error *err)
{
    char *tmp = tp_asprintf("%s.XXXXXX", path);
    int fd = -1, rc = 0;
    if (!tmp)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    if ((rc = tp_mkdir_parents(path, 0700, err)) < 0)
        goto out;
    fd = mkstemp(tmp); /* mkstemp creates 0600 */
    if (fd < 0) {
        rc = tp_error_set(err, TP_EIO, errno, "%s: cannot create a temporary file: %s", path,
                          strerror(errno));
        goto out;
    }
    size_t len = strlen(text), done = 0;
    while (done < len) {
        ssize_t w = write(fd, text + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = tp_error_set(err, TP_EIO, errno, "%s: write failed: %s", path, strerror(errno));
            goto out;
        }
        done += (size_t)w;
    }
    if (fchmod(fd, 0600) < 0 || fsync(fd) < 0) {
        rc = tp_error_set(err, TP_EIO, errno, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (close(fd) < 0) {
        fd = -1;
        rc = tp_error_set(err, TP_EIO, errno, "%s: close failed: %s", path, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        rc = tp_error_set(err, TP_EIO, errno, "%s: rename failed: %s", path, strerror(errno));
        goto out;
    }
out:
    if (fd >= 0)
        close(fd);
    if (rc < 0)
        unlink(tmp);
    free(tmp);
    return rc;
}

int tp_tt_private_read(const char *path, char **text, size_t *len, tp_error *err)
{
    int rc = read_small_file(path, text, len, true, err);
    return rc == TP_EAUTH ? 1 : rc;
}

int tp_tt_private_write(const char *path, const char *text, tp_error *err)
{
    return write_private_file(path, text, err);
}

int tp_tt_token_save(const char *path, const tp_tt_token *tok, tp_error *err)
{
    char *text = tp_tt_token_serialize(tok);
    if (!text)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    int rc = write_private_file(path, text, err);
    memset(text, 0, strlen(text));
    free(text);
    return rc;
}

static char *join_url(const char *base, const char *path)
{
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    return tp_asprintf("%.*s%s", (int)n, base, path);
}

char *tp_tt_authorize_url(const tp_profile *p, const char *state, const char *challenge)
{
    const tp_tiktok_conf *t = &p->upload.tiktok;
    char *key = tp_http_form_escape(t->client_key ? t->client_key : "");
    char *scope = tp_http_form_escape(t->scope ? t->scope : "");
    char *redir = tp_http_form_escape(t->redirect_uri ? t->redirect_uri : "");
    char *st = tp_http_form_escape(state);
    char *base = join_url(t->auth_base, "/v2/auth/authorize/");
    char *url = NULL;
    if (key && scope && redir && st && base)
        url = tp_asprintf("%s?client_key=%s&response_type=code&scope=%s&redirect_uri=%s"
                          "&state=%s&code_challenge=%s&code_challenge_method=S256",
                          base, key, scope, redir, st, challenge);
    free(key);
    free(scope);
    free(redir);
    free(st);
    free(base);
    return url;
}

static int require_client(const tp_profile *p, bool secret, tp_error *err)
{
    int rc = tp_profile_require(p, "upload.tiktok.client_key", err);
    if (rc == 0 && secret)
        rc = tp_profile_require(p, "upload.tiktok.client_secret", err);
    if (rc == 0 && (!p->upload.tiktok.client_key || !*p->upload.tiktok.client_key))
        rc = tp_error_set(err, TP_ECONFIG, 0, "upload.tiktok.client_key is empty");
    if (rc == 0 && secret && (!p->upload.tiktok.client_secret || !*p->upload.tiktok.client_secret))
        rc = tp_error_set(err, TP_ECONFIG, 0, "upload.tiktok.client_secret is empty");
    return rc;
}

/* POST a form to the OAuth token endpoint; fields are name/value pairs (values escaped here). */
static int oauth_post(tp_http *h, const tp_profile *p, const char *path, const char *what,
                      const char *const *fields, size_t n_fields, tp_http_resp *resp, tp_error *err)
{
    char *url = join_url(p->upload.tiktok.api_base, path);
    char *body = tp_strdup("");
    int rc = 0;
    if (!url || !body) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    for (size_t i = 0; i + 1 < n_fields; i += 2) {
        char *v = tp_http_form_escape(fields[i + 1]);
        char *nb = v ? tp_asprintf("%s%s%s=%s", body, *body ? "&" : "", fields[i], v) : NULL;
        if (v)
            memset(v, 0, strlen(v));
        free(v);
        memset(body, 0, strlen(body));
        free(body);
        body = nb;
        if (!body) {
            rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
            goto out;
        }
    }
    static const char *const headers[] = {
        "Content-Type: application/x-www-form-urlencoded",
        "Cache-Control: no-cache",
    };
    tp_http_req req = {
        .what = what,
        .method = "POST",
        .url = url,
        .headers = headers,
        .n_headers = TP_ARRAY_LEN(headers),
        .body = body,
        .body_len = strlen(body),
        .fd = -1,
        .timeout = p->upload.tiktok.timeout,
        .fresh_connection = true,
    };
    rc = tp_http_do(h, &req, resp, err);
out:
    if (body)
        memset(body, 0, strlen(body));
    free(body);
    free(url);
    return rc;
}

static int token_request(tp_tt_token *tok, tp_http *h, const tp_profile *p, const char *what,
                         const char *const *fields, size_t n_fields, tp_error *err)
{
    tp_http_resp resp;
    int rc = oauth_post(h, p, "/v2/oauth/token/", what, fields, n_fields, &resp, err);
    if (rc < 0)
        return rc;
    tp_tt_api_error api;
    /* Judge by the body: TikTok answers some OAuth errors with HTTP 200. */
    rc = tp_tt_parse_token_response(tok, &api, resp.body, resp.body_len, (int64_t)tp_now_wall());
    if (rc == TP_EHTTP)
        rc = tp_error_set(err, TP_EHTTP, (int)resp.status, "%s: unexpected answer (HTTP %ld): %s",
                          what, resp.status, api.message);
    else if (rc < 0)
        rc = tp_error_set(err, TP_EAUTH, (int)resp.status, "%s: TikTok refused: %s%s%s (log_id %s)",
                          what, api.code, api.message[0] ? ": " : "", api.message,
                          api.log_id[0] ? api.log_id : "none");
    if (resp.body)
        memset(resp.body, 0, resp.body_len);
    tp_http_resp_clear(&resp);
    return rc;
}

/* --- pending login (for --no-wait / --code) --------------------------------------------- */

static char *pending_path(const char *path)
{
    return tp_asprintf("%s.pending", path);
}

static int pending_save(const char *path, const char *verifier, const char *state, tp_error *err)
{
    char *pp = pending_path(path);
    char *text = tp_asprintf("%s\n%s\n%lld\n", verifier, state, (long long)tp_now_wall());
    int rc = pp && text ? write_private_file(pp, text, err)
                        : tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    free(pp);
    if (text)
        memset(text, 0, strlen(text));
    free(text);
    return rc;
}

/* Removes PATH.pending (a login that failed, was cancelled, expired or is done). */
static void pending_remove(const char *path)
{
    char *pp = pending_path(path);
    if (pp)
        unlink(pp);
    free(pp);
}

static int pending_load(const char *path, char *verifier, size_t vsize, char *state, size_t ssize,
                        tp_error *err)
{
    char *pp = pending_path(path);
    char *text = NULL;
    size_t len = 0;
    int rc;
    if (!pp)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    rc = read_small_file(pp, &text, &len, true, err);
    if (rc == TP_EAUTH)
        rc = tp_error_set(err, TP_EAUTH, 0,
                          "no login in progress (%s is missing): run 'tokprep auth login "
                          "--no-wait' first, open its URL, then pass the address you land on "
                          "to --code",
                          pp);
    if (rc < 0)
        goto out;
    char *save = NULL;
    char *v = strtok_r(text, "\n", &save);
    char *s = strtok_r(NULL, "\n", &save);
    char *t = strtok_r(NULL, "\n", &save);
    if (!v || !s || !t) {
        rc = tp_error_set(err, TP_EAUTH, 0, "%s is damaged (removed): log in again", pp);
        unlink(pp);
        goto out;
    }
    if (tp_now_wall() - strtod(t, NULL) > 600) {
        rc = tp_error_set(err, TP_EAUTH, 0,
                          "the login started more than 10 minutes ago; run 'tokprep auth "
                          "login' again");
        unlink(pp); /* stale: of no use to any later --code */
        goto out;
    }
    tp_strlcpy(verifier, v, vsize);
    tp_strlcpy(state, s, ssize);
out:
    if (text)
        memset(text, 0, len);
    free(text);
    free(pp);
    return rc;
}

/* --- loopback listener ------------------------------------------------------------------- */

typedef struct {
    char host[64];
    long port;
    char path[512];
} redirect_parts;

static int parse_redirect(redirect_parts *r, const char *uri, tp_error *err)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
    int rc = 0;
    if (!u)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    if (curl_url_set(u, CURLUPART_URL, uri, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
        rc = tp_error_set(err, TP_ECONFIG, 0, "upload.tiktok.redirect_uri '%s' is not a URL", uri);
        goto out;
    }
    if (strcmp(scheme, "http") != 0 || !tp_http_url_is_loopback(uri)) {
        rc = tp_error_set(err, TP_ECONFIG, 0,
                          "upload.tiktok.redirect_uri must be http://127.0.0.1:PORT/...; for "
                          "other redirect URIs use 'tokprep auth login --no-wait' and --code");
        goto out;
    }
    tp_strlcpy(r->host, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, sizeof(r->host));
    r->port = strtol(port, NULL, 10);
    tp_strlcpy(r->path, path, sizeof(r->path));
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_url_cleanup(u);
    return rc;
}

static int listen_loopback(const redirect_parts *r, tp_error *err)
{
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)r->port);
    if (inet_pton(AF_INET, r->host, &sa.sin_addr) != 1)
        return tp_error_set(err, TP_ECONFIG, 0,
                            "redirect_uri host %s: only IPv4 loopback addresses are supported",
                            r->host);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return tp_error_set(err, TP_EIO, errno, "socket: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0) {
        int e = errno;
        close(fd);
        return tp_error_set(err, TP_EIO, e,
                            "cannot listen on %s:%ld for the login redirect: %s (is another "
                            "login running?)",
                            r->host, r->port, strerror(e));
    }
    return fd;
}

static void reply(int fd, int status, const char *text)
{
    char buf[1024];
    const char *reason = status == 200 ? "OK" : status == 400 ? "Bad Request" : "Not Found";
    int n = snprintf(buf, sizeof(buf),
                     "HTTP/1.1 %d %s\r\nContent-Type: text/html; charset=utf-8\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     status, reason, strlen(text), text);
    if (n > 0) {
        ssize_t w = send(fd, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)w;
    }
}

/* Anyone on this machine can connect to the loopback port. Each connection gets
 * LISTEN_READ_TIMEOUT seconds and LISTEN_REQUEST_MAX bytes to send its request line; up to
 * LISTEN_CONNECTIONS wait at once (a newcomer beyond that replaces the oldest), so one that
 * connects and stays silent cannot hold the browser's callback back. One thread reads them all
 * and answers one request at a time. */
enum { LISTEN_CONNECTIONS = 16, LISTEN_REQUEST_MAX = 8192 };
#define LISTEN_READ_TIMEOUT 2.0

typedef struct {
    int fd; /* -1: free */
    double deadline;
    size_t got;
    char buf[LISTEN_REQUEST_MAX];
} listen_conn;

static void conn_close(listen_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->got = 0;
}

/* Equal without telling a timing observer how much of the state matched. */
static bool state_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = la != lb;
    for (size_t i = 0; i < la && i < lb; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

/* A complete request line in c: answer it. Returns 1 when it was our callback with the right
 * state (*cb filled), else 0. Nothing in a request without the right state is acted on. */
static int serve_request(listen_conn *c, const redirect_parts *r, const char *want_state,
                         tp_tt_callback *cb)
{
    char *req = c->buf;
    if (strncmp(req, "GET ", 4) != 0) {
        reply(c->fd, 400, "bad request");
        return 0;
    }
    char *target = req + 4;
    target[strcspn(target, " \r\n")] = '\0';
    size_t plen = strcspn(target, "?");
    bool path_ok = plen == strlen(r->path) && !strncmp(target, r->path, plen);
    if (!path_ok) {
        reply(c->fd, 404, "not found"); /* favicon, probes */
        return 0;
    }
    if (target[plen] != '?' || tp_tt_parse_callback(cb, target) != 0 ||
        !state_equal(cb->state, want_state)) {
        memset(cb, 0, sizeof(*cb));
        reply(c->fd, 400, "this is not the answer to the login tokprep is waiting for");
        return 0;
    }
    reply(c->fd, 200,
          "<!doctype html><title>tokprep</title><p>tokprep received the answer. "
          "You can close this window.</p>");
    return 1;
}

/* Accept connections until one brings our callback path with our state; returns 1 with *cb
 * filled, 0 on timeout, negative on error. Other requests get a 404 or 400 and are ignored. */
static int await_callback(int lfd, const redirect_parts *r, const char *want_state, double wait,
                          const tp_cancel *cancel, tp_tt_callback *cb, tp_error *err)
{
    listen_conn *conns = calloc(LISTEN_CONNECTIONS, sizeof(*conns));
    if (!conns)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    for (size_t i = 0; i < LISTEN_CONNECTIONS; i++)
        conns[i].fd = -1;
    double end = tp_now_monotonic() + wait;
    int rc = 0;
    for (;;) {
        if (tp_cancel_requested(cancel)) {
            rc = tp_error_set(err, TP_ECANCELED, 0, "login cancelled");
            break;
        }
        double now = tp_now_monotonic();
        if (now >= end)
            break;
        struct pollfd pfd[1 + LISTEN_CONNECTIONS];
        size_t slot[1 + LISTEN_CONNECTIONS];
        nfds_t n = 0;
        pfd[n++] = (struct pollfd){lfd, POLLIN, 0};
        double next = end < now + 0.2 ? end : now + 0.2;
        for (size_t i = 0; i < LISTEN_CONNECTIONS; i++) {
            if (conns[i].fd < 0)
                continue;
            if (conns[i].deadline <= now) {
                conn_close(&conns[i]); /* too slow: the browser sends at once */
                continue;
            }
            if (conns[i].deadline < next)
                next = conns[i].deadline;
            slot[n] = i;
            pfd[n++] = (struct pollfd){conns[i].fd, POLLIN, 0};
        }
        if (poll(pfd, n, (int)((next - now) * 1000) + 1) <= 0)
            continue;
        for (nfds_t k = 1; k < n && rc == 0; k++) {
            listen_conn *c = &conns[slot[k]];
            if (!pfd[k].revents)
                continue;
            ssize_t got = read(c->fd, c->buf + c->got, sizeof(c->buf) - 1 - c->got);
            if (got <= 0) {
                if (got == 0 || (errno != EAGAIN && errno != EINTR))
                    conn_close(c);
                continue;
            }
            c->got += (size_t)got;
            c->buf[c->got] = '\0';
            if (strstr(c->buf, "\r\n") || memchr(c->buf, '\n', c->got)) {
                rc = serve_request(c, r, want_state, cb);
                conn_close(c);
            } else if (c->got >= sizeof(c->buf) - 1) {
                reply(c->fd, 400, "request too long");
                conn_close(c);
            }
        }
        if (rc)
            break;
        if (pfd[0].revents & POLLIN) {
            int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (cfd < 0)
                continue;
            listen_conn *c = &conns[0];
            for (size_t i = 0; i < LISTEN_CONNECTIONS; i++) {
                if (conns[i].fd < 0) {
                    c = &conns[i];
                    break;
                }
                if (conns[i].deadline < c->deadline)
                    c = &conns[i]; /* all busy: drop the oldest */
            }
            conn_close(c);
            c->fd = cfd;
            c->deadline = tp_now_monotonic() + LISTEN_READ_TIMEOUT;
        }
    }
    for (size_t i = 0; i < LISTEN_CONNECTIONS; i++)
        conn_close(&conns[i]);
    free(conns);
    return rc;
}

/* The environment for programs we start: ours without the secrets (the browser and whatever
 * xdg-open runs have no business with the client secret or the Redis password). NULL on OOM;
 * the array is the caller's to free, the strings are environ's. */
static char **child_environ(void)
{
    static const char *const secret[] = {
        "TIKTOK_CLIENT_SECRET=", "TOKPREP_REDIS_PASSWORD=", "TOKPREP_REDIS_PASSWORD_FILE="};
    size_t n = 0;
    while (environ && environ[n])
        n++;
    char **env = calloc(n + 1, sizeof(*env));
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool drop = false;
        for (size_t j = 0; j < TP_ARRAY_LEN(secret); j++)
            drop |= !strncmp(environ[i], secret[j], strlen(secret[j]));
        if (!drop)
            env[k++] = environ[i];
    }
    return env;
}

static void open_browser(const char *url)
{
    /* Best effort: a desktop without xdg-open still has the printed URL. */
    pid_t pid;
    char *argv[] = {(char *)"xdg-open", (char *)url, NULL};
    char **env = child_environ();
    if (!env)
        return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    if (posix_spawnp(&pid, "xdg-open", &fa, NULL, argv, env) == 0) {
        int st;
        waitpid(pid, &st, 0);
    }
    posix_spawn_file_actions_destroy(&fa);
    free(env);
}

static int exchange_code(tp_tt_token *tok, tp_http *h, const tp_profile *p,
                         const tp_tt_callback *cb, const char *want_state, const char *verifier,
                         tp_error *err)
{
    /* State first: an answer that is not to this login says nothing, not even "refused". */
    if (!state_equal(cb->state, want_state))
        return tp_error_set(err, TP_EAUTH, 0,
                            "the redirect's state does not match this login (a stale or forged "
                            "redirect); run 'tokprep auth login' again");
    if (cb->error[0])
        return tp_error_set(err, TP_EAUTH, 0, "authorization refused: %s%s%s", cb->error,
                            cb->error_description[0] ? ": " : "", cb->error_description);
    const tp_tiktok_conf *t = &p->upload.tiktok;
    const char *fields[] = {
        "client_key",   t->client_key,   "client_secret", t->client_secret,
        "code",         cb->code,        "grant_type",    "authorization_code",
        "redirect_uri", t->redirect_uri, "code_verifier", verifier,
    };
    return token_request(tok, h, p, "POST /v2/oauth/token/ (authorization_code)", fields,
                         TP_ARRAY_LEN(fields), err);
}

int tp_tt_login(tp_tt_token *out, tp_http *h, const tp_profile *p, const char *path,
                const tp_tt_login_options *o, tp_error *err)
{
    char verifier[65], state[33], challenge[65];
    tp_tt_callback cb;
    char *url = NULL;
    int lfd = -1, rc;
    /* From the moment a waiting login writes PATH.pending, its failure removes it: the file is
     * only of use to a --no-wait login's later --code. A --code that fails keeps it (a forged
     * or stale redirect must not end the login; a wrong code is not spent) until it expires. */
    bool drop_pending = false;
    if ((rc = require_client(p, true, err)) < 0)
        return rc;
    if (o->code_url) {
        if ((rc = pending_load(path, verifier, sizeof(verifier), state, sizeof(state), err)) < 0)
            goto out;
        if (tp_tt_parse_callback(&cb, o->code_url) < 0) {
            rc = tp_error_set(err, TP_EINVAL, 0,
                              "--code: the address has neither a 'code' nor an 'error' "
                              "parameter");
            goto out;
        }
        goto exchange;
    }
    if ((rc = tp_tt_random_string(verifier, 64, err)) < 0 ||
        (rc = tp_tt_random_string(state, 32, err)) < 0)
        goto out;
    tp_tt_pkce_challenge(verifier, challenge);
    redirect_parts rp;
    if (!o->no_wait) {
        if ((rc = parse_redirect(&rp, p->upload.tiktok.redirect_uri, err)) < 0)
            goto out;
        /* Listen before showing the URL so a fast browser cannot beat us. */
        if ((rc = lfd = listen_loopback(&rp, err)) < 0)
            goto out;
    }
    /* A new login replaces whatever an earlier one (killed, say) left in PATH.pending. */
    drop_pending = true;
    if ((rc = pending_save(path, verifier, state, err)) < 0)
        goto out;
    url = tp_tt_authorize_url(p, state, challenge);
    if (!url) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    FILE *f = o->out ? o->out : stdout;
    fprintf(f, "Open this address in a browser and approve tokprep:\n%s\n", url);
    if (o->no_wait) {
        char *cmd = tp_tt_login_command(p);
        fprintf(f, "Then run: %s --code 'ADDRESS-YOU-LANDED-ON'\n",
                cmd ? cmd : "tokprep auth login");
        free(cmd);
        fflush(f);
        drop_pending = false; /* kept for the --code that follows */
        rc = 1;
        goto out;
    }
    fprintf(f, "Waiting for the redirect to %s ...\n", p->upload.tiktok.redirect_uri);
    fflush(f);
    if (!o->no_browser)
        open_browser(url);
    rc = await_callback(lfd, &rp, state, o->wait > 0 ? o->wait : 300, o->cancel, &cb, err);
    if (rc == 0)
        rc = tp_error_set(err, TP_EAUTH, 0,
                          "no redirect arrived within %.0f s; run 'tokprep auth login' again "
                          "(or use --no-wait and --code)",
                          o->wait > 0 ? o->wait : 300);
    if (rc < 0)
        goto out;
exchange:
    rc = exchange_code(out, h, p, &cb, state, verifier, err);
    if (rc == 0)
        rc = tp_tt_token_save(path, out, err);
    if (rc == 0)
        drop_pending = true; /* done: a --code login's file goes too */
out:
    if (drop_pending)
        pending_remove(path);
    if (lfd >= 0)
        close(lfd);
    memset(verifier, 0, sizeof(verifier));
    memset(&cb, 0, sizeof(cb));
    free(url);
    return rc;
}

static int refresh_locked(tp_tt_token *tok, tp_http *h, const tp_profile *p, const char *path,
                          bool only_if_needed, tp_error *err)
{
    /* Re-read under the lock: another process may have rotated the tokens already. */
    int rc = tp_tt_token_load(tok, p, path, err);
    if (rc < 0)
        return rc;
    int64_t now = (int64_t)tp_now_wall();
    if (only_if_needed && tok->expires_at - now > TP_TT_REFRESH_MARGIN)
        return 0;
    if (tok->refresh_expires_at && tok->refresh_expires_at <= now) {
        char *cmd = tp_tt_login_command(p);
        rc = tp_error_set(err, TP_EAUTH, 0, "the refresh token has expired; run '%s'",
                          cmd ? cmd : "tokprep auth login");
        free(cmd);
        return rc;
    }
    if ((rc = require_client(p, true, err)) < 0)
        return rc;
    const tp_tiktok_conf *t = &p->upload.tiktok;
    const char *fields[] = {
        "client_key", t->client_key,   "client_secret", t->client_secret,
        "grant_type", "refresh_token", "refresh_token", tok->refresh_token,
    };
    tp_tt_token fresh = {0};
    rc = token_request(&fresh, h, p, "POST /v2/oauth/token/ (refresh_token)", fields,
                       TP_ARRAY_LEN(fields), err);
    if (rc == TP_EAUTH) {
        char *cmd = tp_tt_login_command(p);
        tp_error_prefix(err, "cannot refresh the access token (run '%s')",
                        cmd ? cmd : "tokprep auth login");
        free(cmd);
        return rc;
    }
    if (rc < 0)
        return rc;
    /* Refresh answers may omit open_id/scope; keep what we had. */
    if (!fresh.open_id[0]) {
        free(fresh.open_id);
        fresh.open_id = tp_strdup(tok->open_id);
    }
    if (!fresh.scope[0]) {
        free(fresh.scope);
        fresh.scope = tp_strdup(tok->scope);
    }
    if (!fresh.refresh_expires_at)
        fresh.refresh_expires_at = tok->refresh_expires_at;
    rc = tp_tt_token_save(path, &fresh, err);
    tp_tt_token_clear(tok);
    *tok = fresh;
    return rc;
}

static int refresh(tp_tt_token *tok, tp_http *h, const tp_profile *p, const char *path,
                   bool only_if_needed, tp_error *err)
{
    char *lp = tp_asprintf("%s.lock", path);
    if (!lp)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    int rc = tp_mkdir_parents(lp, 0700, err);
    int fd = rc < 0 ? -1 : open(lp, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (rc == 0 && fd < 0)
        rc = tp_error_set(err, TP_EIO, errno, "%s: %s", lp, strerror(errno));
    if (rc == 0 && flock(fd, LOCK_EX) < 0)
        rc = tp_error_set(err, TP_EIO, errno, "%s: lock: %s", lp, strerror(errno));
    if (rc == 0)
        rc = refresh_locked(tok, h, p, path, only_if_needed, err);
    if (fd >= 0)
        close(fd); /* releases the lock */
    free(lp);
    return rc;
}

int tp_tt_refresh(tp_tt_token *tok, tp_http *h, const tp_profile *p, const char *path,
                  tp_error *err)
{
    return refresh(tok, h, p, path, false, err);
}

int tp_tt_token_fresh(tp_tt_token *tok, tp_http *h, const tp_profile *p, const char *path,
                      tp_error *err)
{
    int rc = tp_tt_token_load(tok, p, path, err);
    if (rc < 0)
        return rc;
    if (tok->expires_at - (int64_t)tp_now_wall() > TP_TT_REFRESH_MARGIN)
        return 0;
    return refresh(tok, h, p, path, true, err);
}

int tp_tt_logout(tp_http *h, const tp_profile *p, const char *path, tp_error *err)
{
    tp_tt_token tok = {0};
    int rc = tp_tt_token_load(&tok, p, path, err);
    if (rc < 0)
        return rc;
    if (require_client(p, true, NULL) == 0) {
        const tp_tiktok_conf *t = &p->upload.tiktok;
        const char *fields[] = {"client_key",     t->client_key, "client_secret",
                                t->client_secret, "token",       tok.access_token};
        tp_http_resp resp;
        tp_error e2 = TP_ERROR_INIT;
        if (oauth_post(h, p, "/v2/oauth/revoke/", "POST /v2/oauth/revoke/", fields,
                       TP_ARRAY_LEN(fields), &resp, &e2) < 0 ||
            resp.status != 200)
            tp_log(TP_LOG_WARN, "revoking the token at TikTok failed (%s); deleting it locally",
                   tp_error_message(&e2)[0] ? tp_error_message(&e2) : "HTTP error");
        tp_error_clear(&e2);
        tp_http_resp_clear(&resp);
    }
    tp_tt_token_clear(&tok);
    if (unlink(path) < 0 && errno != ENOENT)
        return tp_error_set(err, TP_EIO, errno, "%s: cannot delete: %s", path, strerror(errno));
    return 0;
}

int tp_tt_preflight(const tp_profile *p, tp_error *err)
{
    /* Without network: what a delivery will need, so that no fit is spent on a file that
     * cannot go up. The access token may be stale: a live refresh token renews it. */
    char path[4096];
    tp_tt_token tok = {0};
    int rc = require_client(p, true, err);
    if (rc < 0)
        return rc;
    if ((rc = tp_tt_token_path(path, sizeof(path), p, err)) < 0)
        return rc;
    if ((rc = tp_tt_token_load(&tok, p, path, err)) < 0) {
        tp_tt_token_clear(&tok);
        return rc;
    }
    int64_t now = (int64_t)tp_now_wall();
    bool access_ok = tok.access_token && *tok.access_token && tok.expires_at > now;
    bool refresh_ok = tok.refresh_token && *tok.refresh_token &&
                      (!tok.refresh_expires_at || tok.refresh_expires_at > now);
    if (!access_ok && !refresh_ok) {
        char *cmd = tp_tt_login_command(p);
        char when[40] = "";
        if (tok.refresh_expires_at) {
            time_t t = (time_t)tok.refresh_expires_at;
            struct tm tm;
            gmtime_r(&t, &tm);
            strftime(when, sizeof(when), " on %Y-%m-%d %H:%M UTC", &tm);
        }
        rc = tp_error_set(err, TP_EAUTH, 0, "%s: the login expired%s; run '%s'", path, when,
                          cmd ? cmd : "tokprep auth login");
        free(cmd);
    }
    tp_tt_token_clear(&tok);
    return rc;
}
