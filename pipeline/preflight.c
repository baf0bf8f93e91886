/* Check before work: what the profile's sink needs, checked before any file is fitted, so that
 * a missing login or a full disk stops a run at once instead of after an hour of transcoding. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "pipeline/internal.h"
#include "util/tp_util.h"

#if __has_include("upload/auth.h")
#include "upload/auth.h"
#define HAVE_TIKTOK 1
#endif

/* Bytes of the regular files under path (a file or a folder, walked without following links).
 * An upper bound of the fitted outputs: see the README ("Check before work"). */
static uint64_t input_bytes(const char *path, int depth)
{
    struct stat st;
    if (depth > 64 || lstat(path, &st) < 0)
        return 0;
    if (S_ISREG(st.st_mode))
        return (uint64_t)st.st_size;
    if (!S_ISDIR(st.st_mode))
        return 0;
    uint64_t sum = 0;
    DIR *d = opendir(path);
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *child = tp_asprintf("%s/%s", path, e->d_name);
        if (child)
            sum += input_bytes(child, depth + 1);
        free(child);
    }
    closedir(d);
    return sum;
}

static void human_bytes(char *buf, size_t size, uint64_t n)
{
    if (n >= 1024ull * 1024 * 1024)
        snprintf(buf, size, "%.1f GiB", (double)n / (1024.0 * 1024 * 1024));
    else
        snprintf(buf, size, "%.1f MiB", (double)n / (1024.0 * 1024));
}

static int check_sink_folder(const tp_profile *p, const char *const *paths, size_t n_paths,
                             tp_error *err)
{
    const char *dir = p->upload.directory_path;
    if (!dir || !*dir)
        return tp_error_set(err, TP_ECONFIG, 0,
                            "upload.directory.path is empty; run with --set "
                            "upload.directory.path=FOLDER or set it in the profile");
    /* Nothing is created here: the nearest folder that exists is the one that must let us
     * create the rest and hold the outputs. */
    char *at = tp_strdup(dir);
    if (!at)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    struct stat st;
    int rc = 0;
    bool exists = stat(at, &st) == 0;
    while (stat(at, &st) < 0) {
        char *slash = strrchr(at, '/');
        if (errno != ENOENT || !strcmp(at, ".")) {
            int e = errno;
            rc = tp_error_set(err, TP_EIO, e,
                              "%s: the sink folder cannot be created or reached (%s); choose "
                              "another with --set upload.directory.path=FOLDER",
                              dir, strerror(e));
            goto out;
        }
        if (!slash)
            strcpy(at, "."); /* relative: the current folder */
        else if (slash == at)
            slash[1] = '\0';
        else
            *slash = '\0';
    }
    if (!S_ISDIR(st.st_mode)) {
        rc = tp_error_set(err, TP_EIO, 0,
                          "%s: the sink folder %s; run with --set "
                          "upload.directory.path=FOLDER",
                          dir, exists ? "is not a folder" : "cannot be created (a part is a file)");
        goto out;
    }
    char *probe = tp_asprintf("%s/.tokprep-preflight.XXXXXX", at);
    if (!probe) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    int fd = mkstemp(probe);
    if (fd < 0) {
        int e = errno;
        if (exists)
            rc = tp_error_set(err, TP_EIO, e,
                              "%s: the sink folder is not writable (%s); run 'chmod u+w %s' or "
                              "choose another with --set upload.directory.path=FOLDER",
                              dir, strerror(e), dir);
        else
            rc = tp_error_set(err, TP_EIO, e,
                              "%s: the sink folder cannot be created in %s (%s); run 'mkdir -p %s' "
                              "as a user who may, or choose another with --set "
                              "upload.directory.path=FOLDER",
                              dir, at, strerror(e), dir);
        free(probe);
        goto out;
    }
    close(fd);
    unlink(probe);
    free(probe);
    uint64_t need = 0;
    for (size_t i = 0; i < n_paths; i++)
        need += input_bytes(paths[i], 0);
    struct statvfs vfs;
    if (need > 0 && statvfs(at, &vfs) == 0) {
        uint64_t avail = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
        if (avail < need) {
            char a[32], n[32];
            human_bytes(a, sizeof(a), avail);
            human_bytes(n, sizeof(n), need);
            rc = tp_error_set(err, TP_EIO, 0,
                              "%s: not enough free space for the outputs: %s free, up to %s "
                              "planned (the size of the inputs); free some space there or choose "
                              "another folder with --set upload.directory.path=FOLDER",
                              dir, a, n);
        }
    }
out:
    free(at);
    return rc;
}

int tp_pipeline_preflight(const tp_profile *profile, const char *const *paths, size_t n_paths,
                          tp_error *err)
{
    if (!profile || (n_paths && !paths))
        return tp_error_set(err, TP_EINVAL, 0, "tp_pipeline_preflight: missing argument");
    switch (profile->upload.sink) {
    case TP_SINK_DIRECTORY: return check_sink_folder(profile, paths, n_paths, err);
    case TP_SINK_TIKTOK:
#ifdef HAVE_TIKTOK
        return tp_tt_preflight(profile, err);
#else
        return tp_error_set(err, TP_EUNSUPPORTED, 0, "built without the TikTok upload");
#endif
    default: return 0;
    }
}
