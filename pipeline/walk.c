/* Finding input files: recursive folder walk, name filters shared with the watcher, and the
 * small file-system helpers the pipeline needs for its own work folders. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline/internal.h"
#include "util/tp_util.h"

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcasecmp(s + n - m, suffix);
}

/* Names browsers and copy tools use while a file is still being written; they are renamed when
 * complete, and the rename (IN_MOVED_TO) is what we take. */
bool tp_walk_name_ignored(const char *name)
{
    return name[0] == '.' || has_suffix(name, ".part") || has_suffix(name, ".crdownload") ||
           has_suffix(name, "~");
}

/* Inside folders only video files are taken, so sidecars (captions, manifests, thumbnails) and
 * our own ledger are not reported as failed media. Files named on the command line are always
 * taken. */
bool tp_walk_name_is_video(const char *name)
{
    static const char *const exts[] = {".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi",
                                       ".ts",  ".mts", ".m2ts", ".mpg", ".mpeg", ".flv",
                                       ".wmv", ".3gp", ".ogv", ".mxf", ".dv",   ".y4m"};
    for (size_t i = 0; i < TP_ARRAY_LEN(exts); i++)
        if (has_suffix(name, exts[i]))
            return true;
    return false;
}

static bool excluded(const char *path, const char *const *exclude, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (exclude[i] && !strcmp(path, exclude[i]))
            return true;
    return false;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk_dir(const char *dir, const char *const *exclude, size_t n_exclude, tp_walk_fn fn,
                    void *payload, int depth)
{
    if (depth > 64) /* symlink loops cannot get here (we do not follow them), deep trees can */
        return 0;
    DIR *d = opendir(dir);
    if (!d) {
        tp_log(TP_LOG_WARN, "%s: cannot read folder: %s", dir, strerror(errno));
        return 0;
    }
    /* Sorted order makes runs reproducible; collect names first. */
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (tp_walk_name_ignored(de->d_name))
            continue; /* also "." and ".." */
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof(*nn));
            if (!nn)
                break;
            names = nn;
        }
        names[n] = tp_strdup(de->d_name);
        if (names[n])
            n++;
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof(*names), cmp_names);
    int stop = 0;
    for (size_t i = 0; i < n; i++) {
        char *path = stop ? NULL : tp_asprintf("%s/%s", dir, names[i]);
        struct stat sb;
        if (path && !excluded(path, exclude, n_exclude) && lstat(path, &sb) == 0) {
            if (S_ISDIR(sb.st_mode))
                stop = walk_dir(path, exclude, n_exclude, fn, payload, depth + 1);
            else if (S_ISREG(sb.st_mode) && tp_walk_name_is_video(names[i]))
                stop = fn(path, payload);
        }
        free(path);
        free(names[i]);
    }
    free(names);
    return stop;
}

int tp_walk(const char *path, const char *const *exclude, size_t n_exclude, tp_walk_fn fn,
            void *payload, tp_error *err)
{
    struct stat sb;
    if (stat(path, &sb) < 0)
        return tp_error_set(err, TP_EIO, errno, "%s: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode)) {
        /* Strip trailing slashes so reported paths look like "dir/file". */
        char *dir = tp_strdup(path);
        if (!dir)
            return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        size_t len = strlen(dir);
        while (len > 1 && dir[len - 1] == '/')
            dir[--len] = '\0';
        walk_dir(dir, exclude, n_exclude, fn, payload, 0);
        free(dir);
        return 0;
    }
    if (!S_ISREG(sb.st_mode))
        return tp_error_set(err, TP_EIO, 0, "%s: not a regular file or folder", path);
    fn(path, payload);
    return 0;
}

int tp_rmtree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) < 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(sb.st_mode))
        return unlink(path);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char *child = tp_asprintf("%s/%s", path, de->d_name);
        if (!child || tp_rmtree(child) < 0)
            rc = -1;
        free(child);
    }
    closedir(d);
    if (rmdir(path) < 0)
        rc = -1;
    return rc;
}

int tp_mkdirs(const char *path, tp_error *err)
{
    char *p = tp_strdup(path);
    if (!p)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0777) < 0 && errno != EEXIST) {
                rc = tp_error_set(err, TP_EIO, errno, "%s: cannot create folder: %s", p,
                                  strerror(errno));
                break;
            }
            *s = c;
            if (c == '\0')
                break;
        }
    }
    free(p);
    return rc;
}
