/* libavformat input from a file descriptor (docs/SECURITY.md, class 1): a custom AVIOContext that
 * preads the descriptor at its own offset (several readers of one descriptor never disturb each
 * other), and the settings every demuxer we open gets: no protocol, no nested open (io_open
 * refuses), only the probed format. A file name is never handed to libavformat as a URL. */
#ifndef TP_AVIO_FD_H
#define TP_AVIO_FD_H

#include <stdbool.h>

#include <libavformat/avformat.h>

/* Read-only AVIOContext over fd (not owned, not closed). icb, when not NULL, is polled before
 * every read (AVERROR_EXIT when it says stop). Returns 0 or AVERROR(ENOMEM). */
int tp_avio_fd_new(AVIOContext **out, int fd, const AVIOInterruptCB *icb);
/* Frees what tp_avio_fd_new made; *pb becomes NULL. Accepts NULL. */
void tp_avio_fd_free(AVIOContext **pb);

/* As tp_avio_fd_new, or, when write, a write-only context (pwrite at its own offset, seekable:
 * what a muxer needs) over fd; icb is polled before every read or write. */
int tp_avio_fd_open(AVIOContext **out, int fd, bool write, const AVIOInterruptCB *icb);
/* Flushes (when writing) and frees a context from tp_avio_fd_open; *pb becomes NULL; fd stays
 * open. Returns the context's write error, if any (< 0), else 0. Accepts NULL. */
int tp_avio_fd_close(AVIOContext **pb);

/* Read-only, seekable AVIOContext over a caller's buffer (data must outlive it), with a
 * bufsize-byte I/O buffer: probing bytes already in memory, decoding a cover image read through
 * the sidecar rules. Free with tp_avio_fd_free. Returns 0 or AVERROR(ENOMEM). */
int tp_avio_mem_new(AVIOContext **out, const uint8_t *data, size_t len, int bufsize);

/* Lock a demuxer down before avformat_open_input: ic->io_open refuses every nested open (HLS
 * segments, concat entries, MOV data references), and *opts gets protocol_whitelist "none" and
 * format_whitelist fmt_name (the probed demuxer's name), which nested demuxers inherit. */
void tp_demux_lock(AVFormatContext *ic, AVDictionary **opts, const char *fmt_name);

/* The demuxer whose name is exactly name (AVInputFormat.name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"),
 * or NULL. */
const AVInputFormat *tp_demuxer_find(const char *name);

#endif
