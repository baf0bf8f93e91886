/* File names and folders (util/path.h): the stem, sidecar and part-name rules that fit, the
 * sinks and the caption all name files by, kept in one place so they cannot drift apart. */
#include "util/path.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/tp_util.h"

const char *tp_path_base(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

const char *tp_path_ext(const char *path)
{
    const char *base = tp_path_base(path);
    const char *dot = strrchr(base, '.');
    return dot && dot != base ? dot : "";
}

char *tp_path_stem(const char *path)
{
    const char *base = tp_path_base(path);
    const char *ext = tp_path_ext(path);
    size_t n = *ext ? (size_t)(ext - base) : strlen(base);
    return tp_asprintf("%.*s", (int)n, base);
}

char *tp_path_sidecar(const char *path, const char *suffix)
{
    const char *ext = tp_path_ext(path);
    size_t n = *ext ? (size_t)(ext - path) : strlen(path);
    return tp_asprintf("%.*s%s", (int)n, path, suffix);
}

char *tp_path_part_name(const char *stem, int part, int parts, const char *ext)
{
    return parts == 1 ? tp_asprintf("%s%s", stem, ext)
                      : tp_asprintf("%s_part%d%s", stem, part, ext);
}

char *tp_path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir);
    return tp_asprintf("%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", name);
}

char *tp_path_absolute(const char *path)
{
    char *joined;
    if (path[0] == '/') {
        joined = tp_strdup(path);
    } else {
        char *cwd = getcwd(NULL, 0);
        joined = cwd ? tp_path_join(cwd, path) : NULL;
        free(cwd);
    }
    if (!joined)
        return NULL;
    /* Rewrite in place: segments "" and "." are dropped; the result is never longer. */
    char *out = joined, *seg = joined;
    size_t len = 0;
    while (*seg) {
        while (*seg == '/')
            seg++;
        size_t n = strcspn(seg, "/");
        if (n == 0)
            break;
        if (!(n == 1 && seg[0] == '.')) {
            out[len++] = '/';
            memmove(out + len, seg, n);
            len += n;
        }
        seg += n;
    }
    if (len == 0)
        out[len++] = '/';
    out[len] = '\0';
    return out;
}

int tp_mkdir_p(const char *path, unsigned mode, tp_error *err)
{
    char *p = tp_strdup(path);
    if (!p)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    int rc = 0;
    /* Each prefix that ends at a '/' (the root itself is never made), then the whole path. */
    for (char *s = p[0] ? p + 1 : p;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        struct stat st;
        if (mkdir(p, (mode_t)mode) < 0 && errno != EEXIST) {
            rc = tp_error_set(err, TP_EIO, errno, "%s: cannot create folder: %s", p,
                              strerror(errno));
            break;
        }
        /* Something else in the way (-o naming a file): say so, not "Not a directory" one
         * level down or nothing at all. */
        if (stat(p, &st) == 0 && !S_ISDIR(st.st_mode)) {
            rc = tp_error_set(err, TP_EIO, ENOTDIR, "%s: %s", p,
                              S_ISREG(st.st_mode) ? "is a file, not a folder"
                                                  : "exists and is not a folder");
            break;
        }
        *s = c;
        if (c == '\0')
            break;
    }
    free(p);
    return rc;
}

int tp_mkdir_parents(const char *path, unsigned mode, tp_error *err)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return 0;
    char *dir = tp_asprintf("%.*s", (int)(slash - path), path);
    if (!dir)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    int rc = tp_mkdir_p(dir, mode, err);
    free(dir);
    return rc;
}
