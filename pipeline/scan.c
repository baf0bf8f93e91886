/* Scan: expand files and folders into an ordered list of media files (content-sniffed). */
#include "pipeline/scan.h"

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

#include "pipeline/internal.h"
#include "probe/probe.h"
#include "util/tp_util.h"

/* One walk of one PATH: its options, and the real path of the folder it is confined to. */
typedef struct {
    const tp_scan_options *opts;
    const char *root;      /* as given */
    const char *root_real; /* realpath(root): followed links must stay under it */
} walk_ctx;

/* Names that promise video or audio: a file found by walking under such a name is the
 * operator's business even when its content is not media (a broken download). */
static const char *const media_exts[] = {
    "mp4", "m4v",  "mov", "qt",  "webm", "mkv", "mka",  "avi",  "mpg", "mpeg", "mpe",
    "m2v", "vob",  "ts",  "mts", "m2ts", "m2t", "3gp",  "3g2",  "flv", "f4v",  "wmv",
    "asf", "wma",  "ogv", "ogg", "oga",  "ogx", "opus", "m4a",  "mp3", "wav",  "aac",
    "ac3", "flac", "amr", "mxf", "dv",   "rm",  "rmvb", "divx", "y4m", "h264", "hevc",
};

bool tp_scan_media_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name)
        return false;
    for (size_t i = 0; i < TP_ARRAY_LEN(media_exts); i++)
        if (!strcasecmp(dot + 1, media_exts[i]))
            return true;
    return false;
}

static bool starts_with_ci(const unsigned char *p, size_t n, const char *prefix)
{
    size_t m = strlen(prefix);
    return n >= m && !strncasecmp((const char *)p, prefix, m);
}

const char *tp_scan_describe_content(const char *path)
{
    unsigned char buf[4096];
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return "a file that cannot be read";
    struct stat st;
    ssize_t n = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
        n = read(fd, buf, sizeof(buf));
    close(fd);
    if (n < 0)
        return "a file that cannot be read";
    if (n == 0)
        return "an empty file";
    size_t len = (size_t)n, i = 0, zeros = 0, ctrl = 0;
    for (size_t k = 0; k < len; k++) {
        if (buf[k] == 0)
            zeros++;
        else if (buf[k] < 0x20 && buf[k] != '\n' && buf[k] != '\r' && buf[k] != '\t' &&
                 buf[k] != '\f')
            ctrl++;
    }
    if (zeros == len)
        return "zeros (no data)";
    if (len >= 3 && buf[0] == 0xEF && buf[1] == 0xBB && buf[2] == 0xBF)
        i = 3; /* UTF-8 byte order mark */
    while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
        i++;
    const unsigned char *p = buf + i;
    size_t m = len - i;
    bool text = zeros == 0 && ctrl == 0;
    if (starts_with_ci(p, m, "<!doctype html") || starts_with_ci(p, m, "<html") ||
        (text && starts_with_ci(p, m, "<") && memmem(p, m, "<html", 5)) ||
        (text && (memmem(p, m, "<body", 5) || memmem(p, m, "<head", 5))))
        return "HTML";
    if (starts_with_ci(p, m, "<?xml"))
        return "XML";
    if (text && m > 0 && (p[0] == '{' || p[0] == '['))
        return "JSON";
    if (text)
        return "text";
    return "binary data of no known media format";
}

/* Folders on the current walk path, to refuse symlink loops (a -> ..). */
typedef struct ancestor {
    dev_t dev;
    ino_t ino;
    const struct ancestor *parent;
} ancestor;

static int push_entry(tp_scan_list *l, const char *path, int error, const char *message,
                      bool from_dir, bool not_media, tp_error *err)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        tp_scan_entry *items = realloc(l->items, cap * sizeof(*items));
        if (!items)
            return tp_error_set(err, TP_ENOMEM, 0, "out of memory while listing files");
        l->items = items;
        l->cap = cap;
    }
    tp_scan_entry *e = &l->items[l->n];
    e->path = tp_strdup(path);
    e->message = message ? tp_strdup(message) : NULL;
    e->error = error;
    e->from_dir = from_dir;
    e->not_media = not_media;
    if (!e->path || (message && !e->message)) {
        free(e->path);
        free(e->message);
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory while listing files");
    }
    l->n++;
    return 0;
}

static int push(tp_scan_list *l, const char *path, int error, const char *message, bool from_dir,
                tp_error *err)
{
    return push_entry(l, path, error, message, from_dir, false, err);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk(tp_scan_list *l, const walk_ctx *w, const char *dir, const ancestor *up,
                tp_error *err);

static bool under_root(const walk_ctx *w, const char *real)
{
    size_t n = strlen(w->root_real);
    if (n == 1 && w->root_real[0] == '/')
        return true;
    return !strncmp(real, w->root_real, n) && (real[n] == '/' || real[n] == '\0');
}

/* A symbolic link found by walking: not followed unless asked, and then only inside the
 * walked folder. *target gets the resolved path to go on with, or stays NULL (skipped, or an
 * error entry pushed). */
static int resolve_link(tp_scan_list *l, const walk_ctx *w, const char *path, char **target,
                        tp_error *err)
{
    *target = NULL;
    if (!w->opts->follow_symlinks) {
        l->n_symlinks++;
        tp_log(TP_LOG_INFO,
               "%s: symbolic link, not followed (--follow-symlinks follows links "
               "that stay inside the folder)",
               path);
        return 0;
    }
    char *real = realpath(path, NULL);
    if (!real) {
        /* Dangling, or a loop: points nowhere. */
        l->n_symlinks++;
        tp_log(TP_LOG_INFO, "%s: symbolic link to nothing (%s), skipped", path, strerror(errno));
        return 0;
    }
    if (!w->root_real || !under_root(w, real)) {
        char *msg =
            tp_asprintf("%s: symbolic link to %s, outside %s; not followed", path, real, w->root);
        int ret =
            push(l, path, TP_EINVAL, msg ? msg : "symbolic link out of the folder", true, err);
        free(msg);
        free(real);
        return ret;
    }
    *target = real;
    return 0;
}

static int visit(tp_scan_list *l, const walk_ctx *w, const char *path, const ancestor *up,
                 tp_error *err)
{
    struct stat st;
    char *target = NULL;
    int ret = 0;
    if (lstat(path, &st) != 0) {
        int e = errno;
        if (e == ENOENT) /* removed while we walked */
            return 0;
        /* A name too long to open, no search permission: hides a file that may be media, so
         * it is said, not skipped. */
        char *msg = tp_asprintf("%s: %s", path, strerror(e));
        ret = push(l, path, TP_EIO, msg ? msg : "cannot stat", true, err);
        free(msg);
        return ret;
    }
    if (S_ISLNK(st.st_mode)) {
        if ((ret = resolve_link(l, w, path, &target, err)) < 0 || !target)
            return ret;
        if (stat(target, &st) != 0) {
            l->n_symlinks++;
            free(target);
            return 0;
        }
        path = target; /* the resolved path, inside the root: what later stages open */
    }
    if (S_ISDIR(st.st_mode)) {
        bool loop = false;
        for (const ancestor *a = up; a; a = a->parent)
            if (a->dev == st.st_dev && a->ino == st.st_ino)
                loop = true;
        if (!loop) {
            ancestor me = {st.st_dev, st.st_ino, up};
            ret = walk(l, w, path, &me, err);
        } else {
            l->n_symlinks++; /* only a followed link can close a loop */
        }
        free(target);
        return ret;
    }
    if (!S_ISREG(st.st_mode)) {
        free(target);
        return 0; /* fifos, sockets, devices: never media files */
    }
    bool media = false;
    tp_error serr = TP_ERROR_INIT;
    if (tp_probe_sniff(path, &media, &serr) < 0) {
        ret = push(l, path, serr.code, tp_error_message(&serr), true, err);
        tp_error_clear(&serr);
    } else if (media) {
        ret = push(l, path, 0, NULL, true, err);
    } else {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        if (tp_scan_media_name(base)) {
            /* A broken download named video.mp4 is an error the operator must see, never a
             * silent skip. */
            char *msg =
                tp_asprintf("%s: not media: looks like %s", path, tp_scan_describe_content(path));
            ret = push_entry(l, path, TP_EMEDIA, msg ? msg : "not media", true, true, err);
            free(msg);
        } else {
            l->n_non_media++;
        }
    }
    free(target);
    return ret;
}

static int walk(tp_scan_list *l, const walk_ctx *w, const char *dir, const ancestor *up,
                tp_error *err)
{
    char **names = NULL;
    size_t n = 0, cap = 0;
    int ret = 0;
    DIR *d = opendir(dir);
    if (!d) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s: cannot open folder: %s", dir, strerror(errno));
        return push(l, dir, TP_EIO, msg, true, err);
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        /* Hidden (also "." and ".."), and names of files still being written. */
        if (tp_walk_name_ignored(de->d_name))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **nn = realloc(names, cap * sizeof(*nn));
            if (!nn) {
                ret = tp_error_set(err, TP_ENOMEM, 0, "out of memory while listing %s", dir);
                goto out;
            }
            names = nn;
        }
        if (!(names[n] = tp_strdup(de->d_name))) {
            ret = tp_error_set(err, TP_ENOMEM, 0, "out of memory while listing %s", dir);
            goto out;
        }
        n++;
    }
    closedir(d);
    d = NULL;
    if (n > 1) /* qsort(NULL, 0) is undefined (UBSan) for an empty folder */
        qsort(names, n, sizeof(*names), cmp_names);
    for (size_t i = 0; i < n && ret == 0; i++) {
        char *child = tp_path_join(dir, names[i]);
        if (!child) {
            ret = tp_error_set(err, TP_ENOMEM, 0, "out of memory while listing %s", dir);
            break;
        }
        ret = visit(l, w, child, up, err);
        free(child);
    }
out:
    if (d)
        closedir(d);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return ret;
}

int tp_scan_paths(tp_scan_list *out, const char *const *paths, size_t n,
                  const tp_scan_options *opts, tp_error *err)
{
    static const tp_scan_options defaults = TP_SCAN_OPTIONS_INIT;
    char msg[512];
    if (!opts)
        opts = &defaults;
    for (size_t i = 0; i < n; i++) {
        const char *p = paths[i];
        struct stat st;
        int ret;
        /* Named explicitly: the operator's choice, so a symbolic link is followed here, but
         * only one of ours or root's: `tokprep run -- *` makes a link a drop-folder writer
         * planted (`vids -> ~/Videos`) a PATH too (the file open checks files the same way). */
        if (lstat(p, &st) == 0 && S_ISLNK(st.st_mode) && st.st_uid != geteuid() &&
            st.st_uid != 0) {
            snprintf(msg, sizeof(msg),
                     "%s: a symbolic link made by another user (uid %u); not followed (a name "
                     "from a glob over a shared folder may be planted)",
                     p, (unsigned)st.st_uid);
            ret = push(out, p, TP_EIO, msg, false, err);
        } else if (stat(p, &st) != 0) {
            int e = errno;
            snprintf(msg, sizeof(msg), "%s: %s", p,
                     e == ENOENT ? "no such file or folder" : strerror(e));
            ret = push(out, p, TP_EIO, msg, false, err);
        } else if (S_ISDIR(st.st_mode)) {
            ancestor root = {st.st_dev, st.st_ino, NULL};
            char *real = realpath(p, NULL);
            walk_ctx w = {.opts = opts, .root = p, .root_real = real};
            ret = walk(out, &w, p, &root, err);
            free(real);
        } else {
            /* Listed whatever it is; the probe says what is wrong. */
            ret = push(out, p, 0, NULL, false, err);
        }
        if (ret < 0)
            return ret;
    }
    return 0;
}

void tp_scan_list_free(tp_scan_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].path);
        free(l->items[i].message);
    }
    free(l->items);
    l->items = NULL;
    l->n = l->cap = 0;
    l->n_non_media = l->n_symlinks = 0;
}
