/* tp_tiktok_post_media: measure a file's duration and post it from one open descriptor (the
 * probe and the upload layer meet here, above both). */
#include <string.h>
#include <unistd.h>

#include "pipeline/internal.h"
#include "probe/probe.h"
#include "profiles/profile.h"
#include "upload/tiktok.h"
#include "util/srcfile.h"
#include "util/tp_util.h"

double tp_media_duration_fd(int fd, const char *path, const tp_profile *p,
                            const tp_cancel *cancel)
{
    tp_media_info mi;
    tp_error err = TP_ERROR_INIT;
    tp_probe_options po = {.deep = false, .limits = &p->limits, .cancel = cancel};
    memset(&mi, 0, sizeof(mi));
    if (tp_probe_fd(&mi, fd, path, &po, &err) < 0) {
        tp_log(TP_LOG_WARN, "%s: cannot measure the duration: %s", path, tp_error_message(&err));
        tp_error_clear(&err);
        return -1;
    }
    return mi.duration;
}

int tp_tiktok_post_media(tp_tiktok_result *out, tp_tiktok *tt, const char *path,
                         const tp_tiktok_post_options *opts, tp_error *err)
{
    static const tp_tiktok_post_options defaults = TP_TIKTOK_POST_OPTIONS_INIT;
    if (!out || !tt || !path)
        return tp_error_set(err, TP_EINVAL, 0, "tp_tiktok_post_media: missing argument");
    memset(out, 0, sizeof(*out));
    /* Opened once: the duration is measured on, and the bytes posted from, one file. The caller
     * named it, so a symlink is followed. */
    int fd = tp_src_open(path, false, NULL, err);
    if (fd < 0)
        return TP_EIO;
    tp_tiktok_post_options o = opts ? *opts : defaults;
    if (o.duration < 0)
        o.duration = tp_media_duration_fd(fd, path, tp_tiktok_profile(tt), NULL);
    int rc = tp_tiktok_post_fd(out, tt, fd, path, NULL, 0, &o, err);
    close(fd);
    return rc;
}
