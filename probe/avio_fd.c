/* libavformat I/O over a file descriptor: see probe/avio_fd.h. */
#include "probe/avio_fd.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The file protocol's buffer size. */
#define FD_IO_BUFFER 32768

typedef struct {
    int fd;
    int64_t pos;
    AVIOInterruptCB icb;
} fd_reader;

static int fd_read(void *opaque, uint8_t *buf, int n)
{
    fd_reader *r = opaque;
    if (r->icb.callback && r->icb.callback(r->icb.opaque))
        return AVERROR_EXIT;
    if (n <= 0)
        return 0;
    ssize_t got;
    do
        got = pread(r->fd, buf, (size_t)n, (off_t)r->pos);
    while (got < 0 && errno == EINTR);
    if (got < 0)
        return AVERROR(errno);
    if (got == 0)
        return AVERROR_EOF;
    r->pos += got;
    return (int)got;
}

#if LIBAVFORMAT_VERSION_MAJOR >= 61
#define TP_AVIO_WBUF const uint8_t
#else
#define TP_AVIO_WBUF uint8_t
#endif

static int fd_write(void *opaque, TP_AVIO_WBUF *buf, int n)
{
    fd_reader *r = opaque;
    if (r->icb.callback && r->icb.callback(r->icb.opaque))
        return AVERROR_EXIT;
    for (int done = 0; done < n;) {
        ssize_t k = pwrite(r->fd, buf + done, (size_t)(n - done), (off_t)r->pos);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return AVERROR(k < 0 ? errno : EIO);
        done += (int)k;
        r->pos += k;
    }
    return n;
}

static int64_t fd_seek(void *opaque, int64_t off, int whence)
{
    fd_reader *r = opaque;
    struct stat sb;
    int64_t base;
    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE: return fstat(r->fd, &sb) < 0 ? AVERROR(errno) : (int64_t)sb.st_size;
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = r->pos; break;
    case SEEK_END:
        if (fstat(r->fd, &sb) < 0)
            return AVERROR(errno);
        base = (int64_t)sb.st_size;
        break;
    default: return AVERROR(EINVAL);
    }
    /* Offsets come from the media: a huge one must not overflow. */
    if ((off > 0 && off > INT64_MAX - base) || base + off < 0)
        return AVERROR(EINVAL);
    r->pos = base + off;
    return r->pos;
}

int tp_avio_fd_open(AVIOContext **out, int fd, bool write, const AVIOInterruptCB *icb)
{
    *out = NULL;
    fd_reader *r = av_mallocz(sizeof(*r));
    unsigned char *buf = av_malloc(FD_IO_BUFFER);
    AVIOContext *pb = r && buf
                          ? avio_alloc_context(buf, FD_IO_BUFFER, write, r, write ? NULL : fd_read,
                                               write ? fd_write : NULL, fd_seek)
                          : NULL;
    if (!pb) {
        av_free(r);
        av_free(buf);
        return AVERROR(ENOMEM);
    }
    r->fd = fd;
    if (icb)
        r->icb = *icb;
    pb->seekable = AVIO_SEEKABLE_NORMAL;
    *out = pb;
    return 0;
}

int tp_avio_fd_new(AVIOContext **out, int fd, const AVIOInterruptCB *icb)
{
    return tp_avio_fd_open(out, fd, false, icb);
}

int tp_avio_fd_close(AVIOContext **pb)
{
    if (!pb || !*pb)
        return 0;
    int ret = 0;
    if ((*pb)->write_flag) {
        avio_flush(*pb);
        ret = (*pb)->error;
    }
    av_freep(&(*pb)->opaque);
    av_freep(&(*pb)->buffer); /* libavformat may have replaced ours */
    avio_context_free(pb);
    return ret;
}

void tp_avio_fd_free(AVIOContext **pb)
{
    tp_avio_fd_close(pb);
}

static int refuse_io_open(struct AVFormatContext *s, AVIOContext **pb, const char *url, int flags,
                          AVDictionary **options)
{
    (void)s;
    (void)url;
    (void)flags;
    (void)options;
    *pb = NULL;
    return AVERROR(EPERM);
}

void tp_demux_lock(AVFormatContext *ic, AVDictionary **opts, const char *fmt_name)
{
    ic->io_open = refuse_io_open;
    /* No protocol is called "none": every URL a demuxer might try is refused by name too. */
    av_dict_set(opts, "protocol_whitelist", "none", 0);
    if (fmt_name)
        av_dict_set(opts, "format_whitelist", fmt_name, 0);
}

const AVInputFormat *tp_demuxer_find(const char *name)
{
    void *it = NULL;
    const AVInputFormat *f;
    while (name && (f = av_demuxer_iterate(&it)))
        if (!strcmp(f->name, name))
            return f;
    return NULL;
}

/* ---- a caller's buffer ------------------------------------------------------------------- */

typedef struct {
    const uint8_t *data;
    size_t len, pos;
} mem_reader;

static int mem_read(void *opaque, uint8_t *buf, int n)
{
    mem_reader *m = opaque;
    if (m->pos >= m->len)
        return AVERROR_EOF;
    size_t k = m->len - m->pos;
    if (n >= 0 && (size_t)n < k)
        k = (size_t)n;
    memcpy(buf, m->data + m->pos, k);
    m->pos += k;
    return (int)k;
}

static int64_t mem_seek(void *opaque, int64_t off, int whence)
{
    mem_reader *m = opaque;
    int64_t base;
    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE: return (int64_t)m->len;
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = (int64_t)m->pos; break;
    case SEEK_END: base = (int64_t)m->len; break;
    default: return AVERROR(EINVAL);
    }
    /* Offsets come from the media: a huge one must not overflow, and past the end is EOF. */
    if ((off > 0 && off > INT64_MAX - base) || base + off < 0)
        return AVERROR(EINVAL);
    m->pos = base + off > (int64_t)m->len ? m->len : (size_t)(base + off);
    return base + off;
}

int tp_avio_mem_new(AVIOContext **out, const uint8_t *data, size_t len, int bufsize)
{
    *out = NULL;
    mem_reader *m = av_mallocz(sizeof(*m));
    unsigned char *buf = av_malloc((size_t)bufsize);
    AVIOContext *pb =
        m && buf ? avio_alloc_context(buf, bufsize, 0, m, mem_read, NULL, mem_seek) : NULL;
    if (!pb) {
        av_free(m);
        av_free(buf);
        return AVERROR(ENOMEM);
    }
    m->data = data;
    m->len = len;
    *out = pb;
    return 0;
}
