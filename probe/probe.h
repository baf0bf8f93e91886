/* Probe: fill tp_media_info from libavformat/libavcodec headers and a bounded packet sample. */
#ifndef TP_PROBE_H
#define TP_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "probe/media.h"
#include "profiles/profile.h"

typedef struct {
    bool deep;                  /* also decode every packet and count decode errors */
    bool bars;                  /* also sample frames for burned-in bars (video.active_area;
                                 * deep implies it) */
    bool loudness;              /* also decode the audio for its loudness (audio.loudness; deep
                                 * implies it) */
    const tp_limits *limits;    /* resource limits from the profile (NULL = built-in defaults) */
    const tp_cancel *cancel; /* non-zero = abort (checked by FFmpeg's interrupt callback) */
} tp_probe_options;

/* Probe one file. Returns 0, or a negative TP_E* with err's message naming the file and reason:
 *  TP_EIO: missing, unreadable (permission), not a regular file;
 *  TP_EMEDIA: empty, not media, truncated, timed out (limits.probe_timeout); err->raw is
 *   AVERROR_EOF when the file is truncated (an MP4/MOV atom runs past the end of the file) and
 *   AVERROR_INVALIDDATA for every other media failure, so callers can tell the two apart;
 *  TP_EUNSUPPORTED: over a resource limit (limits.max_streams, limits.max_pixels,
 *   limits.max_samples) or a playlist
 *   style format that would open other files (hls, concat, ...);
 *  TP_ECANCELED: *opts->cancel became non-zero.
 * The path is opened once as a file (symlinks followed: the caller named it) and read through
 * that descriptor (tp_probe_fd): it is never interpreted as a URL or protocol.
 * Thread-safe: any number of probes may run at once. */
int tp_probe_file(tp_media_info *out, const char *path, const tp_probe_options *opts, tp_error *err);

/* As tp_probe_file; nofollow (a name found by walking a folder): a symlink is refused, not
 * followed. */
int tp_probe_path(tp_media_info *out, const char *path, bool nofollow, const tp_probe_options *opts,
                  tp_error *err);

/* As tp_probe_file, reading the open regular file fd (not closed; read with pread only, so other
 * readers of fd are not disturbed); path names it in messages. No demuxer may open anything else
 * (probe/avio_fd.h); out->demuxer names the demuxer that was used. Thread-safe. */
int tp_probe_fd(tp_media_info *out, int fd, const char *path, const tp_probe_options *opts,
                tp_error *err);

/* As tp_probe_file, from len bytes in memory (named "<buffer>" in messages) through a custom
 * AVIOContext: for fuzzing and tests. No protocol is allowed, so a demuxer never opens a file or
 * URL named inside the data. The buffer is only read, and not kept. Thread-safe. */
int tp_probe_buffer(tp_media_info *out, const uint8_t *data, size_t len, const tp_probe_options *opts,
                    tp_error *err);

/* Cheap content sniff for folder walks: reads at most a few KiB and says whether libavformat
 * recognises audio/video in it (text, subtitles and still images are not media here).
 * Returns 0 with *is_media set, or TP_EIO when the file cannot be read. Thread-safe. */
int tp_probe_sniff(const char *path, bool *is_media, tp_error *err);

/* Internal decisions, exposed for unit tests. */

/* Whether the container's duration must be measured from packets: it is missing or estimated
 * (from the bit rate), or timestamps already read end later than it, or (seen_complete: they
 * were all of them) earlier. header and seen_end in seconds, < 0 = none. Pure. */
bool tp_probe_duration_needs_packets(double header, bool estimated, double seen_end,
                                     bool seen_complete);

/* Whether n video timestamps (in decode order, any time base; sorted in place) show a variable
 * frame rate rather than a constant one with time-base rounding or B-frame reordering. Pure. */
bool tp_probe_timestamps_vfr(int64_t *ts, int n);

/* The exact rational of a frame rate that a container only approximates (Matroska's 1 ms ticks
 * give 19001/317 for 60000/1001): an integer rate or an NTSC one (n*1000/1001) within 0.02 %,
 * else r unchanged. Pure. */
tp_rational tp_probe_exact_rate(tp_rational r);

#endif
