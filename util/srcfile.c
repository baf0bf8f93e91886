/* Source files opened once, as files: see util/srcfile.h. */
#include "util/srcfile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/tp_util.h"

static void fill(tp_src_stat *out, const struct stat *sb)
{
    out->dev = (uint64_t)sb->st_dev;
    out->ino = (uint64_t)sb->st_ino;
    out->size = (int64_t)sb->st_size;
    out->mtime_ns = (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec;
    out->ctime_ns = (int64_t)sb->st_ctim.tv_sec * 1000000000 + sb->st_ctim.tv_nsec;
}

static const char *kind_of(mode_t m)
{
    return S_ISFIFO(m)   ? "a FIFO"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
           : S_ISSOCK(m) ? "a socket"
           : S_ISDIR(m)  ? "a folder"
                         : "a special file";
}

/* A PATH on the command line may be a symbolic link, but `tokprep run -- *` makes every name in
 * the folder a PATH, links a drop-folder writer planted included. A link is followed only when
 * it belongs to us or root (the operator made it); one another user made is what a planted link
 * looks like (`x.mp4 -> ~/private.mp4`). The link is looked at before and after the open, so a
 * link swapped in between is refused too. */
static int open_operand(const char *path, int flags, tp_error *err)
{
    int fd = open(path, flags | O_NOFOLLOW);
    if (fd >= 0 || errno != ELOOP)
        return fd;
    struct stat l1, l2;
    uid_t me = geteuid();
    if (lstat(path, &l1) < 0 || !S_ISLNK(l1.st_mode))
        return errno = ELOOP, -1;
    if (l1.st_uid != me && l1.st_uid != 0) {
        tp_error_set(err, TP_EIO, 0,
                     "%s: a symbolic link made by another user (uid %u); not followed (a name "
                     "from a glob over a shared folder may be planted)",
                     path, (unsigned)l1.st_uid);
        errno = EPERM;
        return -2;
    }
    fd = open(path, flags);
    if (fd < 0)
        return fd;
    if (lstat(path, &l2) < 0 || l2.st_ino != l1.st_ino || l2.st_dev != l1.st_dev) {
        close(fd);
        tp_error_set(err, TP_EIO, 0, "%s: replaced while it was being opened; not read", path);
        errno = EAGAIN;
        return -2;
    }
    return fd;
}

int tp_src_open(const char *path, bool nofollow, tp_src_stat *st, tp_error *err)
{
    /* O_NONBLOCK: opening a FIFO must not wait for a writer (fstat then refuses it); on a
     * regular file it changes nothing. */
    int flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC;
    int fd = nofollow ? open(path, flags | O_NOFOLLOW) : open_operand(path, flags, err);
    if (fd == -2)
        return -1; /* open_operand said why */
    if (fd < 0) {
        int e = errno;
        if (e == ELOOP && nofollow)
            tp_error_set(err, TP_EIO, e, "%s: is a symbolic link; not followed", path);
        else if (e == ENOENT)
            tp_error_set(err, TP_EIO, e, "%s: no such file", path);
        else if (e == EACCES || e == EPERM)
            tp_error_set(err, TP_EIO, e, "%s: permission denied", path);
        else
            tp_error_set(err, TP_EIO, e, "%s: cannot open: %s", path, strerror(e));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) < 0) {
        int e = errno;
        close(fd);
        tp_error_set(err, TP_EIO, e, "%s: cannot stat: %s", path, strerror(e));
        return -1;
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        tp_error_set(err, TP_EIO, 0, "%s: not a regular file (%s)", path, kind_of(sb.st_mode));
        return -1;
    }
    if (st)
        fill(st, &sb);
    return fd;
}

int tp_src_fstat(int fd, tp_src_stat *st)
{
    struct stat sb;
    if (fstat(fd, &sb) < 0)
        return -1;
    fill(st, &sb);
    return 0;
}

bool tp_src_changed(int fd, const tp_src_stat *then)
{
    tp_src_stat now;
    if (tp_src_fstat(fd, &now) < 0)
        return true;
    return now.size != then->size || now.mtime_ns != then->mtime_ns ||
           now.ctime_ns != then->ctime_ns;
}
