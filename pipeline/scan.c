/* Scan: expand files and folders into an ordered list of media files (content-sniffed). */
#include "pipeline/scan.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "probe/probe.h"
#include "util/tp_util.h"

/* Folders on the current walk path, to refuse symlink loops (a -> ..). */
typedef struct ancestor {
    dev_t dev;
    ino_t ino;
    const struct ancestor *parent;
} ancestor;

static int push(tp_scan_list *l, const char *path, int error, const char *message, bool from_dir,
                tp_error *err)
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
    if (!e->path || (message && !e->message)) {
        free(e->path);
        free(e->message);
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory while listing files");
    }
    l->n++;
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk(tp_scan_list *l, const char *dir, const ancestor *up, tp_error *err);

static int visit(tp_scan_list *l, const char *path, const ancestor *up, tp_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        int e = errno;
        /* A dangling symlink (or a symlink loop, equally pointing nowhere) inside a folder is
         * not worth an error line; anything else (a name too long to open, no search
         * permission) hides a file that may be media, so it is said, not skipped. */
        if (e == ENOENT || e == ELOOP)
            return 0;
        char *msg = tp_asprintf("%s: %s", path, strerror(e));
        int ret = push(l, path, -TP_EIO, msg ? msg : "cannot stat", true, err);
        free(msg);
        return ret;
    }
    if (S_ISDIR(st.st_mode)) {
        for (const ancestor *a = up; a; a = a->parent)
            if (a->dev == st.st_dev && a->ino == st.st_ino)
                return 0; /* symlink loop */
        ancestor me = {st.st_dev, st.st_ino, up};
        return walk(l, path, &me, err);
    }
    if (!S_ISREG(st.st_mode))
        return 0; /* fifos, sockets, devices: never media files */
    bool media = false;
    tp_error serr = TP_ERROR_INIT;
    if (tp_probe_sniff(path, &media, &serr) < 0) {
        return push(l, path, -serr.code, serr.message, true, err);
    }
    return media ? push(l, path, 0, NULL, true, err) : 0;
}

static int walk(tp_scan_list *l, const char *dir, const ancestor *up, tp_error *err)
{
    char **names = NULL;
    size_t n = 0, cap = 0;
    int ret = 0;
    DIR *d = opendir(dir);
    if (!d) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s: cannot open folder: %s", dir, strerror(errno));
        return push(l, dir, -TP_EIO, msg, true, err);
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue; /* hidden, "." and ".." */
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
    size_t dlen = strlen(dir);
    bool slash = dlen > 0 && dir[dlen - 1] == '/';
    for (size_t i = 0; i < n && ret == 0; i++) {
        char *child = tp_asprintf("%s%s%s", dir, slash ? "" : "/", names[i]);
        if (!child) {
            ret = tp_error_set(err, TP_ENOMEM, 0, "out of memory while listing %s", dir);
            break;
        }
        ret = visit(l, child, up, err);
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

int tp_scan_paths(tp_scan_list *out, const char *const *paths, size_t n, tp_error *err)
{
    char msg[512];
    for (size_t i = 0; i < n; i++) {
        const char *p = paths[i];
        struct stat st;
        int ret;
        if (stat(p, &st) != 0) {
            int e = errno;
            snprintf(msg, sizeof(msg), "%s: %s", p,
                     e == ENOENT ? "no such file or folder" : strerror(e));
            ret = push(out, p, -TP_EIO, msg, false, err);
        } else if (S_ISDIR(st.st_mode)) {
            ancestor root = {st.st_dev, st.st_ino, NULL};
            ret = walk(out, p, &root, err);
        } else {
            /* Named explicitly: listed whatever it is; the probe says what is wrong. */
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
}
