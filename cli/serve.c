/* `tokprep serve`: the context (ledger, profile, tokens, caches) and the server's life: listen
 * address and token checks, the daemon, the wait for a signal, a clean stop. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "serve_core.h"

struct serve_creator_entry {
    tp_creator_info *ci;
    int refs; /* the cache's own reference counts as one */
    serve_creator_entry *next;
};

const char *serve_state_path(const serve_ctx *c)
{
    return c->state_path;
}
const tp_profile *serve_profile(const serve_ctx *c)
{
    return c->profile;
}
const char *serve_csrf(const serve_ctx *c)
{
    return c->csrf;
}
int serve_has_queue(const serve_ctx *c)
{
    return c->queue != NULL;
}
const char *serve_avatar_origin(const serve_ctx *c)
{
    return c->avatar_origin;
}

const char *serve_ledger_note(const serve_ctx *c)
{
    struct stat st;
    return stat(c->state_path, &st) == 0 ? NULL : c->ledger_note;
}

double serve_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

bool serve_secret_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = la != lb;
    /* Walk the longer one whole so the time says nothing of where they differ. */
    size_t n = la > lb ? la : lb;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)((i < la ? a[i] : 0) ^ (i < lb ? b[i] : 0));
    return diff == 0;
}

/* ---- creator_info cache -------------------------------------------------------------------- */

static void creator_unref(serve_ctx *c, serve_creator_entry *e)
{
    if (--e->refs > 0)
        return;
    for (serve_creator_entry **p = &c->creators; *p; p = &(*p)->next)
        if (*p == e) {
            *p = e->next;
            break;
        }
    tp_creator_info_free(e->ci);
    free(e);
}

/* The profile's login asks TikTok; one call at a time (the lock), so a page storm makes one. */
int serve_creator(serve_ctx *c, const tp_creator_info **out, tp_error *err)
{
    *out = NULL;
    pthread_mutex_lock(&c->creator_lock);
    double now = serve_now();
    bool fresh = c->creator_at > 0 &&
                 now - c->creator_at < (c->creator_rc ? SERVE_CREATOR_ERR_TTL : SERVE_CREATOR_TTL);
    int rc = 0;
    if (!fresh) {
        tp_tiktok *tt = NULL;
        tp_creator_info *ci = NULL;
        tp_error e = TP_ERROR_INIT;
        rc = tp_tiktok_open(&tt, c->profile, &e);
        if (rc == 0)
            rc = tp_tiktok_creator_info(&ci, tt, &e);
        tp_tiktok_free(tt);
        serve_creator_entry *ent = rc == 0 ? calloc(1, sizeof(*ent)) : NULL;
        if (rc == 0 && !ent) {
            tp_creator_info_free(ci);
            rc = tp_error_set(&e, TP_ENOMEM, 0, "out of memory");
        }
        /* The previous answer goes out of the cache (pages may still hold it). */
        if (c->creators && c->creator_rc == 0 && c->creator_at > 0)
            creator_unref(c, c->creators);
        free(c->creator_msg);
        c->creator_msg = NULL;
        c->creator_at = now;
        c->creator_rc = rc;
        if (rc == 0) {
            ent->ci = ci;
            ent->refs = 1;
            ent->next = c->creators;
            c->creators = ent;
        } else {
            const char *m = tp_error_message(&e);
            c->creator_msg = strdup(m && *m ? m : "creator_info failed");
        }
        tp_error_clear(&e);
    }
    rc = c->creator_rc;
    if (rc == 0) {
        c->creators->refs++;
        *out = c->creators->ci;
    } else {
        tp_error_set(err, rc, 0, "%s", c->creator_msg ? c->creator_msg : "creator_info failed");
    }
    pthread_mutex_unlock(&c->creator_lock);
    return rc;
}

void serve_creator_release(serve_ctx *c, const tp_creator_info *ci)
{
    if (!ci)
        return;
    pthread_mutex_lock(&c->creator_lock);
    for (serve_creator_entry *e = c->creators; e; e = e->next)
        if (e->ci == ci) {
            creator_unref(c, e);
            break;
        }
    pthread_mutex_unlock(&c->creator_lock);
}

/* ---- set-up ---------------------------------------------------------------------------------- */

static int random_hex(char out[65])
{
    unsigned char raw[32];
    size_t got = 0;
    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

/* A token is one word of cookie-safe characters (it travels in a header and a cookie). */
static bool token_ok(const char *t)
{
    size_t n = strlen(t);
    if (n < 16 || n > 512)
        return false;
    for (; *t; t++)
        if (!isalnum((unsigned char)*t) && !strchr("-._~+/=", *t))
            return false;
    return true;
}

/* --auth-token-file: read it, or make it (0600, exclusively, not through a link). Like the
 * TikTok token file, one that others could read or that is not ours is refused. */
static int load_token(serve_ctx *c, const char *path)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 && errno == ENOENT) {
        char tok[65];
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 || random_hex(tok) < 0) {
            fprintf(stderr, "tokprep serve: cannot create the token file %s: %s\n", path,
                    strerror(errno));
            if (fd >= 0)
                close(fd);
            return -1;
        }
        char line[66];
        int len = snprintf(line, sizeof(line), "%s\n", tok);
        if (write(fd, line, (size_t)len) != len || fsync(fd) < 0) {
            fprintf(stderr, "tokprep serve: cannot write the token file %s: %s\n", path,
                    strerror(errno));
            close(fd);
            unlink(path);
            return -1;
        }
        close(fd);
        c->token = strdup(tok);
        fprintf(stderr, "tokprep serve: made a new token in %s (mode 0600)\n", path);
        return c->token ? 0 : -1;
    }
    if (fd < 0) {
        fprintf(stderr, "tokprep serve: cannot open the token file %s: %s%s\n", path,
                strerror(errno), errno == ELOOP ? " (a symbolic link is refused)" : "");
        return -1;
    }
    struct stat st;
    char buf[600];
    ssize_t n = -1;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "tokprep serve: the token file %s is not a regular file\n", path);
    } else if (st.st_uid != geteuid()) {
        fprintf(stderr, "tokprep serve: the token file %s belongs to another user; refusing it\n",
                path);
    } else if (st.st_mode & 077) {
        fprintf(stderr,
                "tokprep serve: the token file %s can be read by others (mode %04o); refusing "
                "it: chmod 600 %s\n",
                path, (unsigned)(st.st_mode & 07777), path);
    } else {
        n = read(fd, buf, sizeof(buf) - 1);
    }
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    while (n > 0 && isspace((unsigned char)buf[n - 1]))
        buf[--n] = '\0';
    if (!token_ok(buf)) {
        fprintf(stderr,
                "tokprep serve: the token file %s must hold one token of 16 to 512 letters, "
                "digits or -._~+/= (delete it to have a new one made)\n",
                path);
        return -1;
    }
    c->token = strdup(buf);
    return c->token ? 0 : -1;
}

/* One value of the profile by dotted key, read from tp_profile_dump()'s YAML (two spaces an
 * indent level, scalars plain or double-quoted). malloc'd, or NULL when absent or empty. */
static char *profile_value(const tp_profile *p, const char *key)
{
    char *dump = tp_profile_dump(p), *val = NULL;
    if (!dump)
        return NULL;
    const char *want = key;
    int depth = 0;
    for (char *line = dump; line && *line && !val;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        int ind = 0;
        while (line[ind] == ' ')
            ind++;
        const char *dot = strchr(want, '.');
        size_t klen = dot ? (size_t)(dot - want) : strlen(want);
        if (ind / 2 < depth)
            break; /* left the section without finding the key */
        if (ind / 2 == depth && !strncmp(line + ind, want, klen) && line[ind + klen] == ':') {
            if (dot) {
                want = dot + 1;
                depth++;
            } else {
                char *v = line + ind + klen + 1;
                while (*v == ' ')
                    v++;
                if (*v == '"') {
                    char *o = v, *s = v + 1;
                    for (; *s && *s != '"'; s++) {
                        if (*s == '\\' && s[1])
                            s++;
                        *o++ = *s;
                    }
                    *o = '\0';
                }
                val = *v ? strdup(v) : NULL;
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    free(dump);
    return val;
}

/* http://127.0.0.1:PORT[/...] (the fake TikTok server of the tests and demos) -> its origin. */
static char *local_origin(const char *url)
{
    static const char *const prefixes[] = {
        "http://127.0.0.1:", "http://localhost:", "http://[::1]:"};
    if (!url)
        return NULL;
    for (size_t i = 0; i < TP_ARRAY_LEN(prefixes); i++) {
        size_t n = strlen(prefixes[i]);
        if (strncmp(url, prefixes[i], n) != 0)
            continue;
        size_t d = strspn(url + n, "0123456789");
        if (d == 0 || d > 5 || (url[n + d] != '\0' && url[n + d] != '/'))
            return NULL;
        return tp_cli_asprintf("%.*s", (int)(n + d), url);
    }
    return NULL;
}

/* --listen ADDR:PORT or [V6]:PORT. Fills the host, the socket address and whether it is a
 * loopback or wildcard one. */
static int parse_listen(serve_ctx *c, const char *listen, struct sockaddr_storage *sa)
{
    const char *colon = strrchr(listen, ':');
    const char *host = listen;
    size_t hlen = colon ? (size_t)(colon - listen) : 0;
    if (colon && listen[0] == '[') {
        if (hlen < 2 || listen[hlen - 1] != ']')
            colon = NULL;
        host++;
        hlen -= 2;
    }
    char *end = NULL;
    errno = 0;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || hlen == 0 || hlen >= sizeof(c->listen_host) || !colon[1] || *end || errno ||
        port < 0 || port > 65535) {
        fprintf(stderr,
                "tokprep serve: --listen wants ADDR:PORT (e.g. 127.0.0.1:8724 or "
                "[::1]:8724), not '%s'\n",
                listen);
        return -1;
    }
    memcpy(c->listen_host, host, hlen);
    c->listen_host[hlen] = '\0';
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res = NULL;
    int g = getaddrinfo(c->listen_host, NULL, &hints, &res);
    if (g != 0 || !res) {
        fprintf(stderr, "tokprep serve: --listen %s: %s\n", listen, gai_strerror(g));
        return -1;
    }
    memset(sa, 0, sizeof(*sa));
    memcpy(sa, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (sa->ss_family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;
        s6->sin6_port = htons((uint16_t)port);
        c->listen_v6 = true;
        c->loopback = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
        c->wildcard = IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr);
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
            c->loopback = s6->sin6_addr.s6_addr[12] == 127;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)sa;
        s4->sin_port = htons((uint16_t)port);
        c->loopback = (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
        c->wildcard = s4->sin_addr.s_addr == htonl(INADDR_ANY);
    }
    return 0;
}

static void lower(char *s)
{
    for (; s && *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* What a browser sends as Host for this server: the names of loopback, and the listen host
 * (without the port too on port 80, where browsers leave it out). */
static int make_hosts(serve_ctx *c)
{
    const char *names[4] = {"localhost", "127.0.0.1", "[::1]", NULL};
    char *listen = c->listen_v6 ? tp_cli_asprintf("[%s]", c->listen_host)
                                : tp_cli_asprintf("%s", c->listen_host);
    if (!listen)
        return -1;
    names[3] = listen;
    for (size_t i = 0; i < 4; i++) {
        c->hosts[c->n_hosts++] = tp_cli_asprintf("%s:%u", names[i], c->port);
        if (c->port == 80)
            c->hosts[c->n_hosts++] = tp_cli_asprintf("%s", names[i]);
    }
    free(listen);
    for (size_t i = 0; i < c->n_hosts; i++) {
        if (!c->hosts[i])
            return -1;
        lower(c->hosts[i]);
    }
    return 0;
}

/* FNV-1a 64 of an asset: its ETag (the bytes are fixed for the life of the binary). */
static void etag_of(char out[24], const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    snprintf(out, 24, "\"%016llx\"", (unsigned long long)h);
}

static void ctx_free(serve_ctx *c)
{
    free(c->state_path);
    free(c->workdir);
    free(c->sinkdir);
    free(c->queue);
    if (c->token) {
        memset(c->token, 0, strlen(c->token));
        free(c->token);
    }
    free(c->avatar_origin);
    free(c->csp);
    free(c->ledger_note);
    for (size_t i = 0; i < c->n_hosts; i++)
        free(c->hosts[i]);
    while (c->creators) {
        serve_creator_entry *e = c->creators;
        c->creators = e->next;
        tp_creator_info_free(e->ci);
        free(e);
    }
    free(c->creator_msg);
    pthread_mutex_destroy(&c->creator_lock);
    pthread_mutex_destroy(&c->preview_lock);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n')
        msg[--n] = '\0';
    tp_log(TP_LOG_DEBUG, "serve: %s", msg);
}

static int write_port_file(const char *path, unsigned port)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return -1;
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    fprintf(f, "%u\n", port);
    if (fclose(f) != 0)
        return -1;
    return rename(tmp, path);
}

int serve_run(const serve_options *opts, const tp_cancel *stop)
{
    serve_ctx ctx = {0};
    serve_ctx *c = &ctx;
    struct MHD_Daemon *d = NULL;
    struct sockaddr_storage sa;
    int rc = TP_EXIT_ERROR;
    pthread_mutex_init(&c->creator_lock, NULL);
    pthread_mutex_init(&c->preview_lock, NULL);
    c->profile = opts->profile;
    c->state_path = strdup(opts->state_path);
    c->workdir = strdup(opts->workdir);
    c->queue = opts->queue ? strdup(opts->queue) : NULL;
    if (!c->state_path || !c->workdir || (opts->queue && !c->queue) || random_hex(c->csrf) < 0)
        goto out;
    if (parse_listen(c, opts->listen, &sa) < 0)
        goto out;
    if (!c->loopback && !opts->auth_token_file) {
        fprintf(stderr,
                "tokprep serve: --listen %s is not a loopback address: anyone who can reach it "
                "could read the ledger and post; give --auth-token-file FILE (a bearer token "
                "every request must carry), or listen on 127.0.0.1\n",
                opts->listen);
        goto out;
    }
    if (opts->auth_token_file && load_token(c, opts->auth_token_file) < 0)
        goto out;
    if (!strcmp(tp_profile_sink_name(c->profile), "directory"))
        c->sinkdir = profile_value(c->profile, "upload.directory.path");
    char *api_base = profile_value(c->profile, "upload.tiktok.api_base");
    c->avatar_origin = local_origin(api_base);
    free(api_base);
    c->csp = tp_cli_asprintf(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: https:%s%s; "
        "media-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'",
        c->avatar_origin ? " " : "", c->avatar_origin ? c->avatar_origin : "");
    char *shown = tp_cli_shell_word(c->workdir);
    c->ledger_note = tp_cli_asprintf("no ledger yet at %s: start `tokprep run -w %s ...`",
                                     c->state_path, shown ? shown : c->workdir);
    free(shown);
    if (!c->csp || !c->ledger_note)
        goto out;
    etag_of(c->css_etag, serve_asset_app_css, serve_asset_app_css_len);
    etag_of(c->js_etag, serve_asset_app_js, serve_asset_app_js_len);

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | (c->listen_v6 ? MHD_USE_IPv6 : 0);
    d = MHD_start_daemon(flags, 0, NULL, NULL, serve_http_request, c, MHD_OPTION_SOCK_ADDR,
                         (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT, 64u,
                         MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_NOTIFY_COMPLETED,
                         serve_http_completed, c, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, c,
                         MHD_OPTION_END);
    if (!d) {
        fprintf(stderr,
                "tokprep serve: cannot listen on %s (in use, or not an address of this "
                "machine?)\n",
                opts->listen);
        goto out;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    c->port = info ? info->port : 0;
    if (make_hosts(c) < 0)
        goto out;
    if (opts->port_file && write_port_file(opts->port_file, c->port) < 0) {
        fprintf(stderr, "tokprep serve: cannot write %s: %s\n", opts->port_file, strerror(errno));
        goto out;
    }
    {
        char *where = tp_str_printable(c->state_path);
        const char *shown_host =
            c->wildcard ? (c->listen_v6 ? "::1" : "127.0.0.1") : c->listen_host;
        bool v6 = strchr(shown_host, ':') != NULL;
        fprintf(stderr, "tokprep serve: http://%s%s%s:%u/ (ledger %s)%s\n", v6 ? "[" : "",
                shown_host, v6 ? "]" : "", c->port, where ? where : "?",
                c->token ? "; every request needs the token (see docs/COMMANDS.md, serve)" : "");
        free(where);
    }
    while (!tp_cancel_requested(stop)) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    rc = TP_EXIT_OK;
out:
    /* SSE readers see this and end their streams, so the connection threads can be joined. */
    c->stopping = 1;
    __sync_synchronize();
    if (d)
        MHD_stop_daemon(d);
    ctx_free(c);
    return rc;
}
