/* Redis connection for the scale-out queue: see tp_redis.h. */
#include "util/tp_redis.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

struct tp_redis {
    redisContext *c;
    tp_redis_url url; /* own copy */
    struct timeval timeout;
    bool broken; /* reconnect before the next command */
};

static void wipe_free(char *s)
{
    if (!s)
        return;
    volatile char *p = s;
    while (*p)
        *p++ = 0;
    free(s);
}

void tp_redis_url_clear(tp_redis_url *u)
{
    if (!u)
        return;
    free(u->user);
    wipe_free(u->password);
    memset(u, 0, sizeof(*u));
}

static bool name_ok(const char *s)
{
    if (!*s || strlen(s) > 100)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("._-:", *s))
            return false;
    return true;
}

static int pct_decode(char **out, const char *s, size_t n)
{
    char *d = malloc(n + 1);
    size_t j = 0;
    if (!d)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n + 1 && isxdigit((unsigned char)s[i + 1]) &&
            isxdigit((unsigned char)s[i + 2])) {
            char hex[3] = {s[i + 1], s[i + 2], 0};
            d[j++] = (char)strtol(hex, NULL, 16);
            i += 2;
        } else {
            d[j++] = s[i];
        }
    }
    d[j] = 0;
    *out = d;
    return 0;
}

/* TOKPREP_REDIS_PASSWORD_FILE: the password is the file's first line (a secret mounted by
 * Docker, Kubernetes or systemd's LoadCredential). A regular file (a symlink to one is fine:
 * Kubernetes mounts them so), at most 4 KiB; others being able to read it earns a warning. */
static int password_from_file(char **out, const char *path, tp_error *err)
{
    char buf[4097];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return tp_error_set(err, TP_ECONFIG, errno, "TOKPREP_REDIS_PASSWORD_FILE %s: %s", path,
                            strerror(errno));
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        rc = tp_error_set(err, TP_ECONFIG, 0, "TOKPREP_REDIS_PASSWORD_FILE %s: not a regular file",
                          path);
        goto out;
    }
    if (st.st_mode & S_IROTH)
        tp_log(TP_LOG_WARN,
               "TOKPREP_REDIS_PASSWORD_FILE %s can be read by every user (mode %04o): "
               "chmod o-r it",
               path, (unsigned)(st.st_mode & 07777));
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = tp_error_set(err, TP_ECONFIG, errno, "TOKPREP_REDIS_PASSWORD_FILE %s: %s", path,
                              strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        got += (size_t)n;
        if (got == sizeof(buf) - 1) {
            rc = tp_error_set(err, TP_ECONFIG, 0,
                              "TOKPREP_REDIS_PASSWORD_FILE %s: too big for a password (4 KiB "
                              "at most)",
                              path);
            goto out;
        }
    }
    buf[got] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    if (!buf[0]) {
        rc = tp_error_set(err, TP_ECONFIG, 0, "TOKPREP_REDIS_PASSWORD_FILE %s is empty", path);
        goto out;
    }
    if (!(*out = strdup(buf)))
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
out:
    explicit_bzero(buf, sizeof(buf));
    close(fd);
    return rc;
}

int tp_redis_url_parse(tp_redis_url *out, const char *url, tp_error *err)
{
    memset(out, 0, sizeof(*out));
    static const char scheme[] = "redis://";
    if (!url || strncmp(url, scheme, sizeof(scheme) - 1))
        return tp_error_set(err, TP_EINVAL, 0,
                            "--queue: expected redis://HOST:PORT/NAME (rediss:// is not supported)");
    const char *p = url + sizeof(scheme) - 1;
    const char *slash = strchr(p, '/');
    if (!slash)
        return tp_error_set(err, TP_EINVAL, 0,
                            "--queue: the URL has no queue name (redis://HOST:PORT/NAME)");
    /* userinfo: the last '@' before the path (a password may contain '@' only %-encoded) */
    const char *at = NULL;
    for (const char *q = p; q < slash; q++)
        if (*q == '@')
            at = q;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        int rc = 0;
        if (colon) {
            if (colon > p)
                rc |= pct_decode(&out->user, p, (size_t)(colon - p));
            rc |= pct_decode(&out->password, colon + 1, (size_t)(at - colon - 1));
        } else {
            rc |= pct_decode(&out->password, p, (size_t)(at - p));
        }
        if (rc) {
            tp_redis_url_clear(out);
            return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        }
        p = at + 1;
    }
    const char *hend = slash, *pcolon = NULL;
    if (*p == '[') { /* [IPv6]:port */
        const char *rb = memchr(p, ']', (size_t)(slash - p));
        if (!rb)
            goto bad;
        if ((size_t)(rb - p - 1) >= sizeof(out->host))
            goto bad;
        memcpy(out->host, p + 1, (size_t)(rb - p - 1));
        pcolon = rb + 1 < slash && rb[1] == ':' ? rb + 1 : NULL;
        if (!pcolon && rb + 1 != slash)
            goto bad;
    } else {
        pcolon = memchr(p, ':', (size_t)(slash - p));
        hend = pcolon ? pcolon : slash;
        if (hend == p || (size_t)(hend - p) >= sizeof(out->host))
            goto bad;
        memcpy(out->host, p, (size_t)(hend - p));
    }
    out->port = 6379;
    if (pcolon) {
        char *end;
        errno = 0;
        long port = strtol(pcolon + 1, &end, 10);
        if (end != slash || end == pcolon + 1 || errno || port < 1 || port > 65535)
            goto bad;
        out->port = (int)port;
    }
    const char *name = slash + 1;
    if (!name_ok(name)) {
        tp_redis_url_clear(out);
        return tp_error_set(err, TP_EINVAL, 0,
                            "--queue: the queue name must be 1-100 letters, digits or ._-: "
                            "(redis://HOST:PORT/NAME)");
    }
    snprintf(out->name, sizeof(out->name), "%s", name);
    if (!out->password) {
        const char *env = getenv("TOKPREP_REDIS_PASSWORD");
        const char *file = getenv("TOKPREP_REDIS_PASSWORD_FILE");
        if (env && *env && file && *file) {
            tp_redis_url_clear(out);
            return tp_error_set(err, TP_ECONFIG, 0,
                                "both TOKPREP_REDIS_PASSWORD and TOKPREP_REDIS_PASSWORD_FILE "
                                "are set: set only one");
        }
        if (env && *env && !(out->password = strdup(env))) {
            tp_redis_url_clear(out);
            return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        }
        int rc = file && *file ? password_from_file(&out->password, file, err) : 0;
        if (rc < 0) {
            tp_redis_url_clear(out);
            return rc;
        }
    }
    snprintf(out->display, sizeof(out->display), strchr(out->host, ':') ? "redis://[%s]:%d/%s"
                                                                        : "redis://%s:%d/%s",
             out->host, out->port, out->name);
    return 0;
bad:
    tp_redis_url_clear(out);
    return tp_error_set(err, TP_EINVAL, 0,
                        "--queue: cannot read the host and port (expected redis://HOST:PORT/NAME)");
}

static int reply_error(tp_redis *r, const redisReply *rep, tp_error *err, const char *what)
{
    const char *m = rep->str ? rep->str : "error";
    int code = TP_EIO;
    if (!strncmp(m, "BUSYGROUP", 9))
        code = TP_ECONFLICT;
    else if (!strncmp(m, "NOAUTH", 6) || !strncmp(m, "WRONGPASS", 9) ||
             !strncmp(m, "NOPERM", 6))
        code = TP_EAUTH;
    char said[301];
    tp_strlcpy(said, m, sizeof(said));
    tp_str_strip_controls(said); /* the Redis is shared: its text is not ours */
    return tp_error_set(err, code, 0, "%s: %s: Redis answered: %s", r->url.display, what, said);
}

static int open_ctx(tp_redis *r, tp_error *err)
{
    if (r->c) {
        redisFree(r->c);
        r->c = NULL;
    }
    redisContext *c = redisConnectWithTimeout(r->url.host, r->url.port, r->timeout);
    if (!c)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    if (c->err) {
        int rc = tp_error_set(err, TP_ENET, 0, "%s: cannot connect: %s", r->url.display,
                              c->errstr);
        redisFree(c);
        return rc;
    }
    if (redisSetTimeout(c, r->timeout) != REDIS_OK) {
        redisFree(c);
        return tp_error_set(err, TP_ENET, 0, "%s: cannot set the socket timeout", r->url.display);
    }
    redisEnableKeepAlive(c);
    r->c = c;
    r->broken = false;
    if (r->url.password) {
        redisReply *rep;
        if (r->url.user)
            rep = redisCommand(c, "AUTH %s %s", r->url.user, r->url.password);
        else
            rep = redisCommand(c, "AUTH %s", r->url.password);
        if (!rep) {
            r->broken = true;
            return tp_error_set(err, TP_ENET, 0, "%s: AUTH: %s", r->url.display, c->errstr);
        }
        if (rep->type == REDIS_REPLY_ERROR) {
            /* The server's answer names no secret (WRONGPASS / ERR ...). */
            int rc = tp_error_set(err, TP_EAUTH, 0, "%s: the server refused the password: %.200s",
                                  r->url.display, rep->str ? rep->str : "");
            freeReplyObject(rep);
            r->broken = true;
            return rc;
        }
        freeReplyObject(rep);
    }
    return 0;
}

int tp_redis_connect(tp_redis **out, const tp_redis_url *url, double timeout, tp_error *err)
{
    *out = NULL;
    tp_redis *r = calloc(1, sizeof(*r));
    if (!r)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    r->url = *url;
    r->url.user = url->user ? strdup(url->user) : NULL;
    r->url.password = url->password ? strdup(url->password) : NULL;
    if ((url->user && !r->url.user) || (url->password && !r->url.password)) {
        tp_redis_free(r);
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    }
    if (timeout <= 0)
        timeout = 5;
    r->timeout.tv_sec = (time_t)timeout;
    r->timeout.tv_usec = (suseconds_t)((timeout - (double)(time_t)timeout) * 1e6);
    int rc = open_ctx(r, err);
    if (rc < 0) {
        tp_redis_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void tp_redis_free(tp_redis *r)
{
    if (!r)
        return;
    if (r->c)
        redisFree(r->c);
    tp_redis_url_clear(&r->url);
    free(r);
}

redisContext *tp_redis_context(tp_redis *r)
{
    return r->c;
}

const tp_redis_url *tp_redis_url_of(const tp_redis *r)
{
    return &r->url;
}

static int finish(tp_redis *r, redisReply *rep, redisReply **reply, tp_error *err,
                  const char *what)
{
    if (!rep) {
        /* hiredis' context is unusable after an I/O error: reopen on the next call. */
        r->broken = true;
        return tp_error_set(err, TP_ENET, 0, "%s: %s: %s", r->url.display, what,
                            r->c && r->c->errstr[0] ? r->c->errstr : "connection lost");
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        int rc = reply_error(r, rep, err, what);
        freeReplyObject(rep);
        return rc;
    }
    if (reply)
        *reply = rep;
    else
        freeReplyObject(rep);
    return 0;
}

int tp_redis_cmdv(tp_redis *r, redisReply **reply, tp_error *err, const char *what, int argc,
                  const char **argv, const size_t *argvlen)
{
    if (reply)
        *reply = NULL;
    int rc;
    if (r->broken && (rc = open_ctx(r, err)) < 0)
        return rc;
    redisReply *rep = redisCommandArgv(r->c, argc, argv, argvlen);
    return finish(r, rep, reply, err, what);
}

int tp_redis_cmd(tp_redis *r, redisReply **reply, tp_error *err, const char *what,
                 const char *fmt, ...)
{
    if (reply)
        *reply = NULL;
    int rc;
    if (r->broken && (rc = open_ctx(r, err)) < 0)
        return rc;
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = redisvCommand(r->c, fmt, ap);
    va_end(ap);
    return finish(r, rep, reply, err, what);
}

int tp_redis_eval(tp_redis *r, redisReply **reply, tp_error *err, const char *what,
                  const char *script, int nkeys, const char **keys, int nargs, const char **args)
{
    int argc = 3 + nkeys + nargs;
    const char **argv = calloc((size_t)argc, sizeof(*argv));
    char nk[16];
    if (!argv)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    snprintf(nk, sizeof(nk), "%d", nkeys);
    argv[0] = "EVAL";
    argv[1] = script;
    argv[2] = nk;
    for (int i = 0; i < nkeys; i++)
        argv[3 + i] = keys[i];
    for (int i = 0; i < nargs; i++)
        argv[3 + nkeys + i] = args[i];
    int rc = tp_redis_cmdv(r, reply, err, what, argc, argv, NULL);
    free(argv);
    return rc;
}
