/* Small-file reads and exclusive output files for paths an untrusted writer may have planted
 * (docs/SECURITY.md, classes 2 and 4): no symlink followed where it must not be, no FIFO or
 * device read, no predictable name opened for writing. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/tp_util.h"

int tp_read_small_file(char **out, size_t *len, const char *path, size_t cap, bool nofollow,
                       tp_error *err)
{
    *out = NULL;
    if (len)
        *len = 0;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0));
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            return 0;
        if (e == ELOOP && nofollow)
            return tp_error_set(err, TP_EIO, e, "%s: is a symbolic link; not read", path);
        return tp_error_set(err, TP_EIO, e, "%s: cannot open: %s", path, strerror(e));
    }
    int rc = 0;
    char *buf = NULL;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        rc = tp_error_set(err, TP_EIO, errno, "%s: cannot stat: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = tp_error_set(err, TP_EIO, 0, "%s: not a regular file (%s); not read", path,
                          S_ISFIFO(st.st_mode)   ? "a FIFO"
                          : S_ISCHR(st.st_mode)  ? "a character device"
                          : S_ISBLK(st.st_mode)  ? "a block device"
                          : S_ISSOCK(st.st_mode) ? "a socket"
                          : S_ISDIR(st.st_mode)  ? "a folder"
                                                 : "a special file");
        goto out;
    }
    if ((uint64_t)st.st_size > cap) {
        rc = tp_error_set(err, TP_EIO, 0, "%s: %lld bytes, over the %zu-byte limit; not read", path,
                          (long long)st.st_size, cap);
        goto out;
    }
    /* The size may grow between fstat and read: read at most cap + 1 bytes to notice. */
    buf = malloc(cap + 2);
    if (!buf) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    size_t n = 0;
    while (n <= cap) {
        ssize_t r = read(fd, buf + n, cap + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = tp_error_set(err, TP_EIO, errno, "%s: read failed: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n > cap) {
        rc = tp_error_set(err, TP_EIO, 0, "%s: over the %zu-byte limit; not read", path, cap);
        goto out;
    }
    buf[n] = '\0';
    *out = buf;
    buf = NULL;
    if (len)
        *len = n;
out:
    free(buf);
    close(fd);
    return rc;
}

int tp_create_exclusive(char **path_out, const char *dir, const char *prefix, const char *suffix,
                        unsigned mode, tp_error *err)
{
    *path_out = NULL;
    for (int attempt = 0; attempt < 100; attempt++) {
        uint64_t r = 0;
        if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
            /* Unpredictability is the point; without a random source, mix what varies. */
            r = (uint64_t)(tp_now_monotonic() * 1e9) ^ ((uint64_t)getpid() << 32) ^
                (uint64_t)(uintptr_t)&r ^ (uint64_t)attempt * 0x9E3779B97F4A7C15ULL;
        }
        char *path = tp_asprintf("%s/%s%012llx%s", dir, prefix,
                                 (unsigned long long)(r & 0xffffffffffffULL), suffix ? suffix : "");
        if (!path) {
            tp_error_set(err, TP_ENOMEM, 0, "out of memory");
            return -1;
        }
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
        if (fd >= 0) {
            *path_out = path;
            return fd;
        }
        int e = errno;
        free(path);
        if (e != EEXIST) {
            tp_error_set(err, TP_EIO, e, "%s: cannot create a file: %s", dir, strerror(e));
            return -1;
        }
    }
    tp_error_set(err, TP_EIO, 0, "%s: cannot find a free temporary name", dir);
    return -1;
}

unsigned tp_output_mode(const char *src)
{
    struct stat st;
    /* The output holds the source's bytes (or a re-encoding of them): never readable by more
     * users than the source is. Unknown source: the umask alone, as before. */
    if (!src || stat(src, &st) < 0)
        return 0666;
    return (unsigned)(st.st_mode & 0666);
}

unsigned tp_output_mode_fd(int fd)
{
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        return 0666;
    return (unsigned)(st.st_mode & 0666);
}

/* The bytes of in, from offset 0, written to out. */
static int copy_bytes(int in, const char *src, int out, const char *dst, const tp_cancel *cancel,
                      tp_error *err)
{
    int rc = 0;
    int64_t pos = 0;
    char *buf = malloc(1 << 20);
    if (!buf)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    for (;;) {
        if (tp_cancel_requested(cancel)) {
            rc = tp_error_set(err, TP_ECANCELED, 0, "%s: canceled", src);
            break;
        }
        /* pread: the descriptor is shared with other readers of the source. */
        ssize_t n = pread(in, buf, 1 << 20, (off_t)pos);
        if (n == 0)
            break;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = tp_error_set(err, TP_EIO, errno, "%s: read error: %s", src, strerror(errno));
            break;
        }
        pos += n;
        for (ssize_t off = 0; off < n && rc == 0;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                rc = tp_error_set(err, TP_EIO, errno, "%s: write error: %s", dst, strerror(errno));
            else
                off += w;
        }
        if (rc < 0)
            break;
    }
    free(buf);
    return rc;
}

int tp_copy_fd(int in, const char *src, int out, const char *dst, const tp_cancel *cancel,
               tp_error *err)
{
    int rc = copy_bytes(in, src, out, dst, cancel, err);
    /* EINVAL: out is something that cannot be synced (a pipe); its bytes are written. */
    if (rc == 0 && fsync(out) < 0 && errno != EINVAL)
        rc = tp_error_set(err, TP_EIO, errno, "%s: write error: %s", dst, strerror(errno));
    return rc;
}

int tp_copy_file(int in, const char *src, const char *dst, unsigned mode, tp_copy_fn copy,
                 void *payload, tp_error *err)
{
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
    if (out < 0)
        return tp_error_set(err, TP_EIO, errno, "%s: cannot create: %s", dst, strerror(errno));
    int rc = copy ? copy(in, src, out, dst, payload, err)
                  : copy_bytes(in, src, out, dst, (const tp_cancel *)payload, err);
    if (rc == 0 && fsync(out) < 0)
        rc = tp_error_set(err, TP_EIO, errno, "%s: fsync failed: %s", dst, strerror(errno));
    if (close(out) < 0 && rc == 0)
        rc = tp_error_set(err, TP_EIO, errno, "%s: write failed: %s", dst, strerror(errno));
    if (rc < 0)
        unlink(dst);
    return rc;
}
