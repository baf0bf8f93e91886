/* `tokprep serve`: the files it hands out: a row's outputs (for the <video> player, with single
 * Range requests) and preview PNGs rendered into WORKDIR/serve-cache/. A path always comes from
 * the ledger, never from the request, and is served only when it resolves under the work
 * folder or the directory sink, is no symbolic link and is a regular file. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "serve_core.h"

static bool under(const char *real, const char *root)
{
    if (!root)
        return false;
    size_t n = strlen(root);
    if (n == 1 && root[0] == '/')
        return real[0] == '/';
    return strncmp(real, root, n) == 0 && real[n] == '/';
}

/* Open `path` (from the ledger) for reading when it is allowed: its real path lies under the
 * work folder's or the directory sink's, or is the row's own source (a file that passed as it
 * is has the source as its output); its last component is no link (O_NOFOLLOW), and what was
 * opened is a regular file and the very file the real path names. fd, or -1. */
static int open_confined(const serve_ctx *c, const char *path, const char *source, struct stat *st)
{
    char *real = path && *path ? realpath(path, NULL) : NULL;
    char *work = realpath(c->workdir, NULL);
    char *sink = c->sinkdir ? realpath(c->sinkdir, NULL) : NULL;
    char *src = source && *source ? realpath(source, NULL) : NULL;
    int fd = -1;
    struct stat rs;
    if (real && (under(real, work) || under(real, sink) || (src && !strcmp(real, src))) &&
        stat(real, &rs) == 0) {
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0 && (fstat(fd, st) < 0 || !S_ISREG(st->st_mode) || st->st_dev != rs.st_dev ||
                        st->st_ino != rs.st_ino)) {
            close(fd);
            fd = -1;
        }
    }
    free(real);
    free(work);
    free(sink);
    free(src);
    return fd;
}

/* Output n of the row: its fitted file, or where the directory sink delivered it. */
static int open_output(const serve_ctx *c, const tp_ledger_file *f, long n, struct stat *st,
                       char **used)
{
    cJSON *arr = f->outputs && *f->outputs ? cJSON_Parse(f->outputs) : NULL;
    const cJSON *o = cJSON_IsArray(arr) ? cJSON_GetArrayItem(arr, (int)n) : NULL;
    const char *cands[2] = {cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "path")),
                            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "delivered"))};
    int fd = -1;
    for (size_t i = 0; i < 2 && fd < 0; i++) {
        if (!cands[i])
            continue;
        fd = open_confined(c, cands[i], f->path, st);
        if (fd >= 0 && used)
            *used = strdup(cands[i]);
    }
    cJSON_Delete(arr);
    return fd;
}

static const char *video_type(const char *path)
{
    const char *dot = path ? strrchr(path, '.') : NULL;
    if (dot && (!strcasecmp(dot, ".mp4") || !strcasecmp(dot, ".m4v")))
        return "video/mp4";
    if (dot && !strcasecmp(dot, ".mov"))
        return "video/quicktime";
    if (dot && !strcasecmp(dot, ".webm"))
        return "video/webm";
    return "application/octet-stream";
}

/* "bytes=A-B", "bytes=A-" or "bytes=-N" against size: 1 and [*from, *to], 0 when the header
 * is absent or not one range (the whole file is sent), -1 when unsatisfiable (416). */
static int parse_range(const char *h, uint64_t size, uint64_t *from, uint64_t *to)
{
    if (!h || strncasecmp(h, "bytes=", 6) != 0 || strchr(h, ','))
        return 0;
    const char *p = h + 6;
    char *end;
    unsigned long long a = 0, b = 0;
    bool has_a = false, has_b = false;
    while (*p == ' ')
        p++;
    if (*p >= '0' && *p <= '9') {
        errno = 0;
        a = strtoull(p, &end, 10);
        if (errno)
            return 0;
        p = end;
        has_a = true;
    }
    if (*p++ != '-')
        return 0;
    if (*p >= '0' && *p <= '9') {
        errno = 0;
        b = strtoull(p, &end, 10);
        if (errno)
            return 0;
        p = end;
        has_b = true;
    }
    while (*p == ' ')
        p++;
    if (*p || (!has_a && !has_b))
        return 0;
    if (!has_a) { /* the last b bytes */
        if (b == 0 || size == 0)
            return -1;
        *from = b >= size ? 0 : size - b;
        *to = size - 1;
        return 1;
    }
    if (a >= size || (has_b && b < a))
        return -1;
    *from = a;
    *to = has_b && b < size ? b : size - 1;
    return 1;
}

static void send_fd(serve_reply *r, int fd, const struct stat *st, const char *type,
                    const char *range)
{
    uint64_t size = (uint64_t)st->st_size, from = 0, to = 0;
    int pr = parse_range(range, size, &from, &to);
    if (pr < 0) {
        close(fd);
        serve_reply_error(r, 416, TP_EINVAL, "the range is outside the file");
        snprintf(r->content_range, sizeof(r->content_range), "bytes */%llu",
                 (unsigned long long)size);
        return;
    }
    r->fd = fd;
    r->type = type;
    if (pr == 1) {
        r->status = 206;
        r->offset = from;
        r->size = to - from + 1;
        snprintf(r->content_range, sizeof(r->content_range), "bytes %llu-%llu/%llu",
                 (unsigned long long)from, (unsigned long long)to, (unsigned long long)size);
    } else {
        r->status = 200;
        r->offset = 0;
        r->size = size;
    }
}

void serve_output(serve_ctx *c, int64_t id, long n, const char *range, serve_reply *r)
{
    tp_ledger_files *row = NULL;
    struct stat st;
    char *used = NULL;
    if (serve_read_row(c, id, &row, r) < 0)
        return;
    int fd = open_output(c, tp_ledger_files_at(row, 0), n, &st, &used);
    if (fd < 0)
        serve_reply_error(r, 404, TP_EINVAL,
                          "file %lld has no output %ld that can be served (missing, or outside "
                          "the work and sink folders)",
                          (long long)id, n);
    else
        send_fd(r, fd, &st, video_type(used), range);
    free(used);
    tp_ledger_files_free(row);
}

/* ---- previews ------------------------------------------------------------------------------ */

static int open_png(const char *path, struct stat *st)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0 && (fstat(fd, st) < 0 || !S_ISREG(st->st_mode) || st->st_size == 0)) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                unlinkat(dirfd(d), e->d_name, 0);
        closedir(d);
    }
    rmdir(dir);
}

/* Render into a private temporary folder of the cache, then rename the PNG into place (readers
 * never see half a file). Called with the preview lock held. */
static int render(serve_ctx *c, const char *cache, const char *src, const char *final,
                  tp_error *err)
{
    struct stat st;
    if (mkdir(cache, 0700) < 0 && errno != EEXIST)
        return tp_error_set(err, TP_EIO, 0, "cannot make %s: %s", cache, strerror(errno));
    if (lstat(cache, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid())
        return tp_error_set(err, TP_EIO, 0, "%s is not a folder of ours", cache);
    char *tmp = tp_cli_asprintf("%s/.render-XXXXXX", cache);
    if (!tmp || !mkdtemp(tmp)) {
        free(tmp);
        return tp_error_set(err, TP_EIO, 0, "cannot make a folder in %s", cache);
    }
    tp_preview_result *res = NULL;
    int rc = tp_preview_file(&res, c->profile, src, tmp, NULL, err);
    if (rc == 0) {
        const char *png = tp_preview_result_png(res);
        if (!png || chmod(png, 0600) < 0 || rename(png, final) < 0)
            rc = tp_error_set(err, TP_EIO, 0, "cannot store the preview in %s", cache);
    }
    tp_preview_result_free(res);
    remove_tree(tmp);
    free(tmp);
    return rc;
}

void serve_preview(serve_ctx *c, int64_t id, const char *of, serve_reply *r)
{
    tp_ledger_files *row = NULL;
    tp_error err = TP_ERROR_INIT;
    char *cache = NULL, *final = NULL, *out_real = NULL;
    struct stat st;
    bool output = of && !strcmp(of, "output");
    if (!of || (!output && strcmp(of, "source") != 0)) {
        serve_reply_error(r, 404, TP_EINVAL, "preview.png wants ?of=source or ?of=output");
        return;
    }
    if (serve_read_row(c, id, &row, r) < 0)
        return;
    const tp_ledger_file *f = tp_ledger_files_at(row, 0);
    char fp[17] = "0";
    if (f->fingerprint && strlen(f->fingerprint) >= 16 &&
        strspn(f->fingerprint, "0123456789abcdef") >= 16)
        snprintf(fp, sizeof(fp), "%.16s", f->fingerprint);
    cache = tp_cli_asprintf("%s/serve-cache", c->workdir);
    final = tp_cli_asprintf("%s/%lld-%s-%s.png", cache ? cache : "", (long long)id,
                            output ? "output" : "source", fp);
    if (!cache || !final) {
        serve_reply_error(r, 500, TP_ENOMEM, "out of memory");
        goto out;
    }
    int fd = open_png(final, &st);
    if (fd < 0) {
        const char *src = f->path;
        if (output) { /* the same checks as /files/ID/outputs/0 */
            char *used = NULL;
            int ofd = open_output(c, f, 0, &st, &used);
            if (ofd >= 0)
                close(ofd);
            out_real = ofd >= 0 && used ? realpath(used, NULL) : NULL;
            free(used);
            src = out_real;
        }
        if (!src || !*src) {
            serve_reply_error(r, 404, TP_EINVAL, "file %lld has no %s to preview", (long long)id,
                              output ? "output" : "source");
            goto out;
        }
        struct stat ws;
        if (stat(c->workdir, &ws) < 0 || !S_ISDIR(ws.st_mode)) {
            serve_reply_error(r, 404, TP_EIO, "no work folder %s for the preview cache",
                              c->workdir);
            goto out;
        }
        pthread_mutex_lock(&c->preview_lock);
        fd = open_png(final, &st); /* made while we waited? */
        int rc = fd >= 0 ? 0 : render(c, cache, src, final, &err);
        pthread_mutex_unlock(&c->preview_lock);
        if (rc == 0 && fd < 0)
            fd = open_png(final, &st);
        if (fd < 0) {
            serve_reply_error(r, 404, rc < 0 ? rc : TP_EIO, "no preview of file %lld: %s",
                              (long long)id, rc < 0 ? tp_error_message(&err) : "not stored");
            goto out;
        }
    }
    send_fd(r, fd, &st, "image/png", NULL);
out:
    free(cache);
    free(final);
    free(out_real);
    tp_error_clear(&err);
    tp_ledger_files_free(row);
}
