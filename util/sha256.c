/* SHA-256 for profile hashes, chunk manifests and PKCE, on top of nettle. */
#include <errno.h>
#include <fcntl.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/tp_util.h"

struct tp_sha256 {
    struct sha256_ctx ctx;
};

tp_sha256 *tp_sha256_new(void)
{
    tp_sha256 *s = malloc(sizeof(*s));
    if (!s)
        return NULL;
    sha256_init(&s->ctx);
    return s;
}

void tp_sha256_update(tp_sha256 *s, const void *data, size_t len)
{
    sha256_update(&s->ctx, len, data);
}

void tp_sha256_final_raw(tp_sha256 *s, uint8_t out[32])
{
    sha256_digest(&s->ctx, SHA256_DIGEST_SIZE, out);
    free(s);
}

void tp_sha256_final_hex(tp_sha256 *s, char hex[65])
{
    uint8_t d[32];
    tp_sha256_final_raw(s, d);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

void tp_sha256_hex(const void *data, size_t len, char hex[65])
{
    tp_sha256 *s = tp_sha256_new();
    if (!s) {
        hex[0] = '\0';
        return;
    }
    tp_sha256_update(s, data, len);
    tp_sha256_final_hex(s, hex);
}

int tp_sha256_update_fd(tp_sha256 *s, int fd, int64_t offset, int64_t len, void *buf,
                        size_t bufsize)
{
    int64_t done = 0;
    while (len < 0 || done < len) {
        size_t want = bufsize;
        if (len >= 0 && (int64_t)want > len - done)
            want = (size_t)(len - done);
        ssize_t n = pread(fd, buf, want, offset + done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return len >= 0 ? -2 : 0;
        tp_sha256_update(s, buf, (size_t)n);
        done += n;
    }
    return 0;
}

int tp_sha256_file_range(const char *path, int64_t offset, int64_t len, char hex[65],
                         tp_error *err)
{
    int rc = 0;
    tp_sha256 *s = NULL;
    uint8_t *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tp_error_set(err, TP_EIO, errno, "%s: cannot open: %s", path, strerror(errno));
    s = tp_sha256_new();
    buf = malloc(1 << 20);
    if (!s || !buf) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "%s: out of memory", path);
        goto out;
    }
    int r = tp_sha256_update_fd(s, fd, offset, len, buf, 1 << 20);
    if (r == -1) {
        rc = tp_error_set(err, TP_EIO, errno, "%s: read failed: %s", path, strerror(errno));
        goto out;
    }
    if (r == -2) {
        rc = tp_error_set(err, TP_EIO, 0, "%s: file shorter than expected", path);
        goto out;
    }
    tp_sha256_final_hex(s, hex);
    s = NULL;
out:
    if (s) {
        uint8_t d[32];
        tp_sha256_final_raw(s, d);
    }
    free(buf);
    close(fd);
    return rc;
}
