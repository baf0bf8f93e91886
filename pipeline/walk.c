/* Input filters shared by the initial scan and the watcher, and the small file-system helpers
 * the pipeline needs for its own work folders. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
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

bool tp_path_within(const char *path, const char *const *dirs, size_t n)
{
    char abs[PATH_MAX];
    if (!realpath(path, abs))
        return false;
    for (size_t i = 0; i < n; i++) {
        size_t len = dirs[i] ? strlen(dirs[i]) : 0;
        if (len && !strncmp(abs, dirs[i], len) && (abs[len] == '/' || abs[len] == '\0'))
            return true;
    }
    return false;
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
