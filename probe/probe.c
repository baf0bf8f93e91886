/* Probe: fill tp_media_info from libavformat headers, our own read of the top-level MP4 atoms and
 * a bounded sample of packet timestamps. Nothing is decoded except by find_stream_info, unless
 * deep mode asks to decode every packet. */
#include "probe/probe.h"

#include <errno.h>
#include <fcntl.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/pixdesc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "probe/avio_fd.h"
#include "probe/bars.h"
#include "probe/loudness.h"
#include "util/srcfile.h"
#include "util/tp_util.h"

/* Video packets sampled for the VFR test: enough to see a cadence change, few enough to be cheap.
 */
#define VFR_SAMPLE 60
/* Frames a decoder may hold back for reordering (H.264/HEVC allow 16). */
#define REORDER_MARGIN 16
#define TS_SAMPLE (VFR_SAMPLE + REORDER_MARGIN + 1)
/* Files up to this size have all their packets read (not decoded) to check the header's
 * duration; larger ones only when it is missing, an estimate or contradicted by the sample. */
#define FULL_SCAN_BYTES (16 << 20)
/* Packets of all streams read while looking for VFR_SAMPLE video packets. */
#define VFR_MAX_PACKETS 600
/* Top-level atoms walked before giving up (a sane file has fewer than ten). */
#define MAX_ATOMS 4096
/* AVIOContext buffer for tp_probe_buffer (the file protocol's default size). */
#define IO_BUFFER_SIZE 32768

static const tp_limits default_limits = {
    .max_pixels = 8192LL * 8192,
    .max_streams = 64,
    .probe_size = 10000000,
    .analyze_duration = 10,
    .probe_timeout = 30,
    .max_samples = 2000000,
};

typedef struct {
    double deadline; /* monotonic seconds; INFINITY = none */
    const tp_cancel *cancel;
    bool timed_out;
} interrupt_state;

static int interrupt_cb(void *opaque)
{
    interrupt_state *s = opaque;
    if (tp_cancel_requested(s->cancel))
        return 1;
    if (s->deadline < INFINITY && tp_now_monotonic() > s->deadline) {
        s->timed_out = true;
        return 1;
    }
    return 0;
}

/* Where our own header reads come from: a file descriptor, or a buffer (tp_probe_buffer). */
typedef struct {
    int fd;
    const uint8_t *data;
    size_t len;
} byte_source;

static ssize_t src_pread(const byte_source *s, void *buf, size_t n, int64_t off)
{
    if (s->fd >= 0)
        return pread(s->fd, buf, n, off);
    if (off < 0 || (uint64_t)off >= s->len)
        return 0;
    size_t left = s->len - (size_t)off;
    if (n > left)
        n = left;
    memcpy(buf, s->data + off, n);
    return (ssize_t)n;
}

/* What we learn from the first bytes ourselves: brand, moov/mdat order, truncation. */
typedef struct {
    char container[TP_NAME_MAX]; /* "" = let libavformat's name decide */
    bool isobmff;
    bool moov_seen, mdat_seen, faststart;
    bool truncated;
    char truncated_msg[160];
    int ebml_tracks;      /* Matroska TrackEntry count, counted up to limits.max_streams + 1 */
    uint64_t mp4_samples; /* entries the MP4 sample tables claim, summed (limits.max_samples) */
    bool mp4_cmov;        /* a compressed movie header: tables we cannot count unpacked */
    bool mp4_too_many;    /* more boxes than MAX_INNER_BOXES: counting stopped (fail closed) */
} file_facts;

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const unsigned char *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* A box's size and header length from its first got bytes at h: a 64-bit size after the type
 * when the 32-bit one is 1, the rest of the space (left bytes) when it is 0. False when the header
 * is cut off or claims less than itself. */
static bool box_size(const unsigned char *h, ssize_t got, int64_t left, uint64_t *size,
                     int64_t *hdr)
{
    *size = be32(h);
    *hdr = 8;
    if (*size == 1) {
        if (got < 16)
            return false;
        *size = be64(h + 8);
        *hdr = 16;
    } else if (*size == 0) {
        *size = (uint64_t)left; /* runs to the end of its parent or of the file */
    }
    return *size >= (uint64_t)*hdr;
}

static bool is_atom_type(const unsigned char *t)
{
    for (int i = 0; i < 4; i++)
        if (t[i] < 0x20 || t[i] > 0x7e)
            return false;
    return true;
}

/* Boxes an ISO BMFF / QuickTime file can start with; anything else is not one (a text file's
 * first eight bytes also "parse" as a box). */
static bool known_first_atom(const unsigned char *t)
{
    static const char *const first[] = {"ftyp", "moov", "mdat", "free", "skip", "wide",
                                        "pnot", "uuid", "styp", "sidx", "junk"};
    for (size_t i = 0; i < TP_ARRAY_LEN(first); i++)
        if (!memcmp(t, first[i], 4))
            return true;
    return false;
}

/* Boxes (and 4 KiB reads of meta boxes) walked while counting sample-table entries: a sane file
 * has a few dozen per track and six per fragment. A file with more is refused, since the rest
 * could hide a table. */
#define MAX_INNER_BOXES (1 << 20)
/* Nesting followed (libavformat gives up beyond ten levels). */
#define MAX_BOX_DEPTH 16

/* Add up the entry counts the sample tables under [off, end) claim. libavformat allocates
 * from these counts before it reads the entries (stsz with a constant size, stco, stsc, stss,
 * trun): 160 KB claiming 44 million samples cost `check` 1.1 GB. Only the headers are read;
 * no size is trusted beyond the parent box and the file. */
static void count_samples(const byte_source *src, int64_t off, int64_t end, int depth, int *budget,
                          file_facts *f)
{
    /* Every box libavformat's MP4 reader walks as a list of boxes: its box table applies
     * anywhere, so an stsz inside edts or udta is read as well. */
    static const char *const containers[] = {"moov", "trak", "mdia", "minf", "stbl", "moof",
                                             "traf", "dinf", "edts", "udta", "tref", "mvex",
                                             "sinf", "schi", "wave", "tapt", "clip", "matt"};
    unsigned char h[24];
    while (off + 8 <= end && (*budget)-- > 0) {
        ssize_t got = src_pread(src, h, sizeof(h), off);
        if (got < 8)
            return;
        uint64_t size;
        int64_t hdr;
        if (!box_size(h, got, end - off, &size, &hdr))
            return;
        if (size > (uint64_t)(end - off))
            size = (uint64_t)(end - off); /* truncated: count what is there */
        const unsigned char *type = h + 4;
        bool container = false;
        for (size_t i = 0; i < TP_ARRAY_LEN(containers); i++)
            container = container || !memcmp(type, containers[i], 4);
        if (container && depth < MAX_BOX_DEPTH) {
            count_samples(src, off + hdr, off + (int64_t)size, depth + 1, budget, f);
        } else if (!memcmp(type, "meta", 4) && depth < MAX_BOX_DEPTH) {
            /* libavformat looks for the hdlr child in steps of four bytes (QuickTime's meta has
             * no version field, ISO's has) and reads the boxes from there. */
            int64_t body = off + hdr, bend = off + (int64_t)size, at = -1;
            unsigned char buf[4096];
            for (int64_t pos = body; at < 0 && pos + 8 <= bend && (*budget)-- > 0;
                 pos += (int64_t)sizeof(buf) - 8) {
                ssize_t got_b = src_pread(src, buf, sizeof(buf), pos);
                for (ssize_t i = 0; at < 0 && i + 8 <= got_b && pos + i + 8 <= bend; i += 4)
                    if (!memcmp(buf + i + 4, "hdlr", 4))
                        at = pos + i;
                if (got_b < (ssize_t)sizeof(buf))
                    break;
            }
            if (at >= 0)
                count_samples(src, at, bend, depth + 1, budget, f);
        } else if (depth > 0 && !memcmp(type, "cmov", 4)) {
            f->mp4_cmov = true; /* zlib-packed moov: its tables appear only once inflated */
        } else if (depth > 0) {
            /* Full-box header (version and flags), then the count at `at` bytes into the body:
             * stsz/stz2 have a sample size or field size first. */
            int at = -1;
            if (!memcmp(type, "stsz", 4) || !memcmp(type, "stz2", 4))
                at = 8;
            else if (!memcmp(type, "stts", 4) || !memcmp(type, "stsc", 4) ||
                     !memcmp(type, "stco", 4) || !memcmp(type, "co64", 4) ||
                     !memcmp(type, "ctts", 4) || !memcmp(type, "stss", 4) ||
                     !memcmp(type, "stps", 4) || !memcmp(type, "trun", 4))
                at = 4;
            unsigned char b[4];
            if (at >= 0 && (uint64_t)hdr + (uint64_t)at + 4 <= size &&
                src_pread(src, b, 4, off + hdr + at) == 4)
                f->mp4_samples += be32(b);
            else if (!memcmp(type, "sdtp", 4) && size > (uint64_t)hdr + 4)
                f->mp4_samples += size - (uint64_t)hdr - 4; /* a byte per sample, one alloc */
        }
        off += (int64_t)size;
    }
}

/* Walk the top-level ISO BMFF boxes with plain reads: libavformat does not tell us whether moov
 * precedes mdat, nor the major brand that separates MP4 from QuickTime. */
static void read_atoms(const byte_source *src, int64_t fsize, file_facts *f)
{
    unsigned char h[16];
    int64_t off = 0;
    for (int n = 0; n < MAX_ATOMS && off + 8 <= fsize; n++) {
        ssize_t got = src_pread(src, h, sizeof(h), off);
        if (got < 8)
            return;
        const unsigned char *type = h + 4;
        if (!is_atom_type(type) || (n == 0 && !known_first_atom(type)))
            return;
        uint64_t size;
        int64_t hdr;
        if (!box_size(h, got, fsize - off, &size, &hdr))
            return;
        if (n == 0 && !memcmp(type, "ftyp", 4) && got >= 12) {
            f->isobmff = true;
            const unsigned char *brand = h + 8;
            if (!memcmp(brand, "qt  ", 4))
                tp_strlcpy(f->container, "mov", sizeof(f->container));
            else if (!memcmp(brand, "3gp", 3) || !memcmp(brand, "3g2", 3))
                tp_strlcpy(f->container, "3gp", sizeof(f->container));
            else if (!memcmp(brand, "M4A ", 4))
                tp_strlcpy(f->container, "m4a", sizeof(f->container));
            else
                tp_strlcpy(f->container, "mp4", sizeof(f->container));
        }
        if (!memcmp(type, "moov", 4)) {
            f->moov_seen = true;
            if (!f->mdat_seen)
                f->faststart = true;
        } else if (!memcmp(type, "mdat", 4)) {
            f->mdat_seen = true;
        }
        if (size > (uint64_t)(fsize - off)) {
            f->truncated = true;
            snprintf(f->truncated_msg, sizeof(f->truncated_msg),
                     "truncated: the '%.4s' atom at byte %lld needs %llu bytes, only %lld "
                     "remain",
                     (const char *)type, (long long)off, (unsigned long long)size,
                     (long long)(fsize - off));
            return;
        }
        off += (int64_t)size;
    }
}

/* Matroska and WebM share a demuxer; the EBML DocType in the first bytes tells them apart. */
static void read_ebml_doctype(const byte_source *src, file_facts *f)
{
    unsigned char b[64];
    ssize_t got = src_pread(src, b, sizeof(b), 0);
    if (got < 8 || be32(b) != 0x1A45DFA3)
        return;
    for (ssize_t i = 4; i + 3 < got; i++) {
        if (b[i] != 0x42 || b[i + 1] != 0x82)
            continue;
        unsigned char vint = b[i + 2];
        if (!(vint & 0x80))
            return; /* only one-byte sizes occur in practice */
        size_t len = vint & 0x7f;
        if (i + 3 + (ssize_t)len > got || len >= TP_NAME_MAX)
            return;
        char doc[TP_NAME_MAX] = {0};
        memcpy(doc, b + i + 3, len);
        tp_strlcpy(f->container, !strcmp(doc, "webm") ? "webm" : "mkv", sizeof(f->container));
        return;
    }
}

/* An EBML variable-length integer at off: its length (1..8), or 0 when unreadable. IDs keep
 * their length marker; sizes drop it, and all ones means "unknown" (returned as UINT64_MAX). */
static int ebml_vint(const byte_source *src, int64_t off, bool is_id, uint64_t *val)
{
    unsigned char b[8];
    ssize_t got = src_pread(src, b, sizeof(b), off);
    if (got < 1 || b[0] == 0)
        return 0;
    int len = 1;
    while (!(b[0] & (0x80 >> (len - 1))))
        len++;
    if (got < len || (is_id && len > 4))
        return 0;
    uint64_t v = is_id ? b[0] : b[0] & (0xff >> len);
    bool all_ones = v == (uint64_t)(0xff >> len);
    for (int i = 1; i < len; i++) {
        v = v << 8 | b[i];
        all_ones = all_ones && b[i] == 0xff;
    }
    *val = !is_id && all_ones ? UINT64_MAX : v;
    return len;
}

/* Count Matroska TrackEntry elements, stopping at cap + 1. libavformat parses the whole Tracks
 * element into memory before it applies max_streams: a million empty tracks (18 MB of file)
 * cost it a gigabyte and half a minute, so a file over the limit is refused before it opens. */
static void count_ebml_tracks(const byte_source *src, int64_t fsize, int cap, file_facts *f)
{
    enum {
        EBML = 0x1A45DFA3,
        SEGMENT = 0x18538067,
        TRACKS = 0x1654AE6B,
        TRACK_ENTRY = 0xAE,
        CLUSTER = 0x1F43B675
    };
    uint64_t id, size;
    int64_t off = 0, end = fsize;
    bool in_segment = false, in_tracks = false;
    for (int n = 0; n < MAX_ATOMS + cap && off < end; n++) {
        int il = ebml_vint(src, off, true, &id),
            sl = il ? ebml_vint(src, off + il, false, &size) : 0;
        if (!il || !sl)
            return;
        int64_t data = off + il + sl;
        if (!in_segment && id == SEGMENT) {
            in_segment = true; /* descend: its children follow */
            off = data;
            continue;
        }
        if (in_segment && !in_tracks && id == TRACKS) {
            in_tracks = true;
            if (size != UINT64_MAX && size < (uint64_t)(fsize - data))
                end = data + (int64_t)size;
            off = data;
            continue;
        }
        if (in_tracks && id == TRACK_ENTRY && ++f->ebml_tracks > cap)
            return;
        if (id == CLUSTER || size == UINT64_MAX || size > (uint64_t)(end - data))
            return; /* media data, or a size we cannot skip: the tracks are behind us */
        if (n == 0 && id != EBML)
            return;
        off = data + (int64_t)size;
    }
}

/* Everything we read ourselves before libavformat sees the bytes. */
static void read_facts(const byte_source *src, int64_t fsize, const tp_limits *lim, file_facts *f)
{
    read_atoms(src, fsize, f);
    /* From byte 0 whatever the first box is: libavformat's MP4 reader skips unknown boxes too. */
    int budget = MAX_INNER_BOXES;
    count_samples(src, 0, fsize, 0, &budget, f);
    f->mp4_too_many = budget < 0;
    if (f->isobmff)
        return;
    read_ebml_doctype(src, f);
    if (lim->max_streams > 0) /* returns at once unless the file starts with an EBML header */
        count_ebml_tracks(src, fsize, lim->max_streams, f);
}

/* libavformat's demuxer name → our short container name. */
static void container_name(char *out, size_t size, const AVInputFormat *fmt, const file_facts *f)
{
    if (f->container[0]) {
        tp_strlcpy(out, f->container, size);
        return;
    }
    const char *name = fmt->name;
    if (!strncmp(name, "mov,", 4)) {
        tp_strlcpy(out, "mov", size); /* no ftyp: classic QuickTime */
        return;
    }
    if (!strncmp(name, "matroska", 8)) {
        tp_strlcpy(out, "mkv", size);
        return;
    }
    size_t n = strcspn(name, ",");
    if (n >= size)
        n = size - 1;
    memcpy(out, name, n);
    out[n] = '\0';
}

/* Demuxers that are not audio/video here (text, subtitles, stills) or that would open other
 * files or URLs named inside the input (playlists), which a checker must never follow. */
static bool format_refused(const AVInputFormat *fmt, bool *playlist)
{
    static const char *const playlists[] = {"hls",   "concat", "dash", "ffmetadata", "image2",
                                            "lavfi", "sdp",    "rtsp", "imf"};
    static const char *const not_media[] = {
        "tty",  "srt",     "webvtt",   "ass",      "subviewer", "subviewer1", "microdvd",
        "mpl2", "jacosub", "realtext", "sami",     "stl",       "pjs",        "vplayer",
        "lrc",  "aqtitle", "mpsub",    "scc",      "txt",       "bin",        "idf",
        "adf",  "xbin",    "ico",      "webp_pipe"};
    *playlist = false;
    for (size_t i = 0; i < TP_ARRAY_LEN(playlists); i++)
        if (!strcmp(fmt->name, playlists[i])) {
            *playlist = true;
            return true;
        }
    for (size_t i = 0; i < TP_ARRAY_LEN(not_media); i++)
        if (!strcmp(fmt->name, not_media[i]))
            return true;
    size_t n = strlen(fmt->name);
    return n > 5 && !strcmp(fmt->name + n - 5, "_pipe"); /* single still images */
}

/* Open path once as a file (util/srcfile.h: fstat must say regular file) and give clear
 * messages before FFmpeg's generic ones. */
static int check_file(const char *path, bool nofollow, int64_t *size, int *fd, tp_error *err)
{
    tp_src_stat st;
    *fd = tp_src_open(path, nofollow, &st, err);
    if (*fd < 0)
        return TP_EIO;
    *size = st.size;
    if (st.size == 0)
        return tp_error_set(err, TP_EMEDIA, AVERROR_INVALIDDATA, "%s: empty file (0 bytes)", path);
    return 0;
}

int tp_probe_sniff(const char *path, bool *is_media, tp_error *err)
{
    AVIOContext *pb = NULL;
    int64_t size = 0;
    int fd = -1, ret;
    *is_media = false;
    /* Symlinks are the walk's business (it decides whether to follow them); the pipeline opens
     * the file again, once, for everything it reads. */
    ret = check_file(path, false, &size, &fd, err);
    if (ret == TP_EMEDIA) { /* empty: not media, not an error for a folder walk */
        tp_error_clear(err);
        ret = 0;
        goto out;
    }
    if (ret < 0)
        goto out;
    if (tp_avio_fd_new(&pb, fd, NULL) < 0) {
        ret = tp_error_set(err, TP_ENOMEM, 0, "%s: out of memory", path);
        goto out;
    }
    const AVInputFormat *fmt = NULL;
    /* Content only: an empty name keeps the extension out of the score. */
    int score = av_probe_input_buffer2(pb, &fmt, "", NULL, 0, 64 * 1024);
    bool playlist;
    *is_media = score >= AVPROBE_SCORE_RETRY && fmt && !format_refused(fmt, &playlist);
out:
    tp_avio_fd_free(&pb);
    if (fd >= 0)
        close(fd);
    return ret;
}

static int pick_video(const AVFormatContext *ic)
{
    for (unsigned i = 0; i < ic->nb_streams; i++) {
        const AVStream *st = ic->streams[i];
        if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
            !(st->disposition & AV_DISPOSITION_ATTACHED_PIC))
            return (int)i;
    }
    return -1;
}

/* The audio stream a player picks: the default one, else the first. */
static int pick_audio(const AVFormatContext *ic)
{
    int first = -1;
    for (unsigned i = 0; i < ic->nb_streams; i++) {
        const AVStream *st = ic->streams[i];
        if (st->codecpar->codec_type != AVMEDIA_TYPE_AUDIO)
            continue;
        if (st->disposition & AV_DISPOSITION_DEFAULT)
            return (int)i;
        if (first < 0)
            first = (int)i;
    }
    return first;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Variable frame rate when frame intervals differ by more than rounding: 2 ticks covers
 * millisecond time bases (41/42 ms at 23.976 fps), 5 % covers a drifting clock. The sample is
 * the first packets in decode order: sorting gives presentation order, but a frame shown before
 * the last sampled one may be decoded after it (B-frames), so the top REORDER_MARGIN timestamps
 * are left out rather than read as a gap. */
bool tp_probe_timestamps_vfr(int64_t *ts, int n)
{
    if (n < 3)
        return false;
    qsort(ts, (size_t)n, sizeof(*ts), cmp_i64);
    if (n > 2 * REORDER_MARGIN + 2)
        n -= REORDER_MARGIN;
    int64_t d[TS_SAMPLE], sorted[TS_SAMPLE];
    int k = 0;
    for (int i = 1; i < n && k < TS_SAMPLE; i++)
        if (ts[i] > ts[i - 1])
            d[k++] = ts[i] - ts[i - 1];
    if (k < 2)
        return false;
    memcpy(sorted, d, (size_t)k * sizeof(*d));
    qsort(sorted, (size_t)k, sizeof(*sorted), cmp_i64);
    const int64_t median = sorted[k / 2];
    const double tol = fmax(2.0, 0.05 * (double)median);
    return (double)(sorted[k - 1] - sorted[0]) > tol;
}

bool tp_probe_duration_needs_packets(double header, bool estimated, double seen_end,
                                     bool seen_complete)
{
    if (!(header > 0.0) || !isfinite(header) || estimated)
        return true;
    if (!(seen_end >= 0.0))
        return false;
    const double tol = fmax(0.1, 0.01 * header);
    return seen_end > header + tol || (seen_complete && seen_end < header - tol);
}

/* What packets tell: the first TS_SAMPLE video timestamps (for the VFR test) and the span that
 * the chosen streams' packets cover, from the earliest timestamp to the latest one plus its
 * duration (the measured duration). */
typedef struct {
    int vi, ai;
    int64_t pts[TS_SAMPLE], dts[TS_SAMPLE];
    int n_video, n_pts, n_dts;
    double start, end; /* seconds; start = INFINITY and end = -INFINITY until a timestamp */
    double video_time; /* sum of the video packets' durations: the count when no timestamps */
    bool eof;          /* read to the end of the file */
    bool read_error;   /* stopped by data the demuxer cannot read */
    bool interrupted;  /* stopped by limits.probe_timeout or cancel */
} pkt_scan;

static void scan_init(pkt_scan *s, int vi, int ai)
{
    memset(s, 0, sizeof(*s));
    s->vi = vi;
    s->ai = ai;
    s->start = INFINITY;
    s->end = -INFINITY;
}

static void scan_packet(pkt_scan *s, const AVFormatContext *ic, const AVPacket *pkt)
{
    const int si = pkt->stream_index;
    if (si != s->vi && si != s->ai)
        return;
    if (si == s->vi && s->n_video < TS_SAMPLE) {
        s->n_video++;
        if (pkt->pts != AV_NOPTS_VALUE)
            s->pts[s->n_pts++] = pkt->pts;
        if (pkt->dts != AV_NOPTS_VALUE)
            s->dts[s->n_dts++] = pkt->dts;
    }
    /* An empty audio packet holds no sound (Ogg's placeholders, whose duration may be a
     * negative end trim read as 2^32): it measures nothing. */
    if (si == s->ai && pkt->size <= 0)
        return;
    const AVStream *st = ic->streams[si];
    const double tb = av_q2d(st->time_base);
    if (si == s->vi && pkt->duration > 0)
        s->video_time += (double)pkt->duration * tb;
    int64_t first = pkt->pts, last = pkt->pts;
    if (pkt->dts != AV_NOPTS_VALUE) {
        if (first == AV_NOPTS_VALUE || pkt->dts < first)
            first = pkt->dts;
        if (last == AV_NOPTS_VALUE || pkt->dts > last)
            last = pkt->dts;
    }
    if (first == AV_NOPTS_VALUE || !(tb > 0.0))
        return;
    if (st->start_time != AV_NOPTS_VALUE && st->start_time > first)
        first = st->start_time; /* a decoder delay's negative DTS is not footage */
    const double t0 = (double)first * tb,
                 t1 = (double)last * tb + (pkt->duration > 0 ? (double)pkt->duration * tb : 0.0);
    if (t0 < s->start)
        s->start = t0;
    if (t1 > s->end)
        s->end = t1;
}

/* The sampled video timestamps in presentation order when every packet had a PTS; else the
 * decode timestamps (evenly spaced for a constant rate: raw MPEG video has no PTS on I/P). */
static int scan_timestamps(pkt_scan *s, int64_t **ts)
{
    if (s->n_pts == s->n_video || s->n_dts < s->n_video / 2) {
        *ts = s->pts;
        return s->n_pts;
    }
    *ts = s->dts;
    return s->n_dts;
}

/* Read packets (no decoding) into s, at most max_packets of all streams, and for a sample only
 * until the video timestamps are in; stops at the end of the file, a read error,
 * limits.probe_timeout or cancel. */
static void read_packets(AVFormatContext *ic, pkt_scan *s, AVPacket *pkt, int64_t max_packets,
                         bool sample)
{
    for (int64_t i = 0; i < max_packets && !(sample && s->n_video >= TS_SAMPLE); i++) {
        int r = av_read_frame(ic, pkt);
        if (r < 0) {
            s->eof = r == AVERROR_EOF;
            s->interrupted = r == AVERROR_EXIT;
            s->read_error = !s->eof && !s->interrupted;
            return;
        }
        scan_packet(s, ic, pkt);
        av_packet_unref(pkt);
    }
}

/* Seconds the packets cover; for packets without timestamps (some MPEG program streams) the
 * video packets' count times their duration; -1 when neither is known. */
static double scan_duration(const pkt_scan *s)
{
    if (s->end > s->start && isfinite(s->end - s->start))
        return s->end - s->start;
    return s->video_time > 0 && isfinite(s->video_time) ? s->video_time : -1.0;
}

/* MOV/MP4 already hold every sample's timestamp in the index: no packet I/O needed. */
static int index_timestamps(AVStream *st, int64_t *ts)
{
    int count = avformat_index_get_entries_count(st), n = 0;
    for (int i = 0; i < count && n < TS_SAMPLE; i++) {
        const AVIndexEntry *e = avformat_index_get_entry(st, i);
        if (e && !(e->flags & AVINDEX_DISCARD_FRAME))
            ts[n++] = e->timestamp;
    }
    return n;
}

/* Where an AVI's index ends (it lists every frame), in seconds from the stream start; -1 when
 * there is no index. A file cut short keeps its header's frame count but loses the frames. */
static double index_end(AVStream *st)
{
    int count = avformat_index_get_entries_count(st);
    const AVIndexEntry *e = count > 0 ? avformat_index_get_entry(st, count - 1) : NULL;
    const double tb = av_q2d(st->time_base);
    if (!e || !(tb > 0.0))
        return -1.0;
    int64_t t0 = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
    double frame = st->avg_frame_rate.num > 0 ? av_q2d(av_inv_q(st->avg_frame_rate)) : 0.0;
    return (double)(e->timestamp - t0) * tb + frame;
}

tp_rational tp_probe_exact_rate(tp_rational r)
{
    if (r.num <= 0 || r.den <= 0)
        return r;
    const double v = (double)r.num / r.den, ntsc = v * 1.001;
    /* 2e-4 keeps 60 and 59.94 (1e-3 apart) distinct while a 1 ms time base's average over a
     * few hundred frames lands well inside it. */
    if (round(v) >= 1 && fabs(v - round(v)) < 2e-4 * v)
        return (tp_rational){(int)round(v), 1};
    if (round(ntsc) >= 1 && fabs(ntsc - round(ntsc)) < 2e-4 * ntsc)
        return (tp_rational){(int)round(ntsc) * 1000, 1001};
    return r;
}

static void fill_video(tp_video_info *v, AVFormatContext *ic, int vi)
{
    AVStream *st = ic->streams[vi];
    const AVCodecParameters *par = st->codecpar;
    v->present = true;
    v->stream_index = vi;
    tp_strlcpy(v->codec, avcodec_get_name(par->codec_id), sizeof(v->codec));
    const char *prof = avcodec_profile_name(par->codec_id, par->profile);
    tp_strlcpy(v->profile, prof ? prof : "", sizeof(v->profile));
    v->width = par->width;
    v->height = par->height;

    AVRational sar = av_guess_sample_aspect_ratio(ic, st, NULL);
    if (sar.num <= 0 || sar.den <= 0)
        sar = (AVRational){1, 1};
    av_reduce(&sar.num, &sar.den, sar.num, sar.den, 1 << 16);
    v->sar = (tp_rational){sar.num, sar.den};

    /* The matrix angle is counter-clockwise; players rotate clockwise by its negation. */
    size_t sd_size = 0;
    const uint8_t *sd = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &sd_size);
    int rot = 0;
    if (sd && sd_size >= 9 * sizeof(int32_t)) {
        double theta = av_display_rotation_get((const int32_t *)sd);
        if (!isnan(theta)) {
            long r = -lround(theta);
            r = ((r % 360) + 360) % 360;
            rot = (int)(((r + 45) / 90) * 90 % 360);
        }
    }
    v->rotation = rot;

    /* Players stretch the width by the SAR, then rotate. */
    int dw = (int)lround((double)par->width * sar.num / sar.den), dh = par->height;
    if (rot == 90 || rot == 270) {
        int t = dw;
        dw = dh;
        dh = t;
    }
    v->display_width = dw;
    v->display_height = dh;

    AVRational fps = st->avg_frame_rate;
    if (fps.num <= 0 || fps.den <= 0)
        fps = st->r_frame_rate;
    if (fps.num <= 0 || fps.den <= 0)
        fps = (AVRational){0, 1};
    v->fps = tp_probe_exact_rate((tp_rational){fps.num, fps.den});

    const AVPixFmtDescriptor *desc =
        par->format >= 0 ? av_pix_fmt_desc_get((enum AVPixelFormat)par->format) : NULL;
    if (desc) {
        tp_strlcpy(v->pix_fmt, desc->name, sizeof(v->pix_fmt));
        v->bit_depth = desc->comp[0].depth;
        if (desc->nb_components < 3 || (desc->flags & AV_PIX_FMT_FLAG_RGB))
            tp_strlcpy(v->chroma, desc->flags & AV_PIX_FMT_FLAG_RGB ? "rgb" : "400",
                       sizeof(v->chroma));
        else if (desc->log2_chroma_w == 1 && desc->log2_chroma_h == 1)
            tp_strlcpy(v->chroma, "420", sizeof(v->chroma));
        else if (desc->log2_chroma_w == 1 && desc->log2_chroma_h == 0)
            tp_strlcpy(v->chroma, "422", sizeof(v->chroma));
        else if (desc->log2_chroma_w == 0 && desc->log2_chroma_h == 0)
            tp_strlcpy(v->chroma, "444", sizeof(v->chroma));
        else if (desc->log2_chroma_w == 2 && desc->log2_chroma_h == 0)
            tp_strlcpy(v->chroma, "411", sizeof(v->chroma));
        else
            tp_strlcpy(v->chroma, "410", sizeof(v->chroma));
    }
    if (par->color_trc == AVCOL_TRC_SMPTE2084)
        tp_strlcpy(v->hdr, "pq", sizeof(v->hdr));
    else if (par->color_trc == AVCOL_TRC_ARIB_STD_B67)
        tp_strlcpy(v->hdr, "hlg", sizeof(v->hdr));
    v->interlaced = par->field_order == AV_FIELD_TT || par->field_order == AV_FIELD_BB ||
                    par->field_order == AV_FIELD_TB || par->field_order == AV_FIELD_BT;
    v->frames = st->nb_frames;
}

static void fill_audio(tp_audio_info *a, const AVStream *st, int ai)
{
    const AVCodecParameters *par = st->codecpar;
    a->present = true;
    a->stream_index = ai;
    tp_strlcpy(a->codec, avcodec_get_name(par->codec_id), sizeof(a->codec));
    a->channels = par->ch_layout.nb_channels;
    if (av_channel_layout_describe(&par->ch_layout, a->layout, sizeof(a->layout)) < 0)
        a->layout[0] = '\0';
    a->sample_rate = par->sample_rate;
}

/* Deep mode: decode every packet of the chosen video and audio streams, counting failures that
 * the headers cannot show (corrupt slices, truncated payloads). Also samples VFR timestamps.
 * The decoded audio goes through the loudness meter on the way (one decode for both). With
 * deep false (fit under a loudness rule) only the audio is decoded, for the meter alone. */
static int decode_all(AVFormatContext *ic, tp_media_info *m, pkt_scan *scan, AVPacket *pkt,
                      bool deep, const interrupt_state *is, const char *path, tp_error *err)
{
    AVCodecContext *dec[2] = {NULL, NULL};
    const int idx[2] = {deep && m->video.present ? m->video.stream_index : -1,
                        m->audio.present ? m->audio.stream_index : -1};
    AVFrame *frame = av_frame_alloc();
    tp_loud_meter *meter = NULL;
    int ret = 0, errors = 0;
    if (!frame || (m->audio.present && tp_loud_meter_new(&meter) < 0)) {
        av_frame_free(&frame);
        return tp_error_set(err, TP_ENOMEM, 0, "%s: out of memory", path);
    }
    for (int k = 0; k < 2; k++) {
        if (idx[k] < 0)
            continue;
        const AVCodecParameters *par = ic->streams[idx[k]]->codecpar;
        const AVCodec *codec = avcodec_find_decoder(par->codec_id);
        if (!codec)
            continue; /* no decoder: nothing to verify for this stream */
        dec[k] = avcodec_alloc_context3(codec);
        if (!dec[k]) {
            ret = tp_error_set(err, TP_ENOMEM, 0, "%s: out of memory", path);
            goto out;
        }
        AVDictionary *o = NULL;
        av_dict_set(&o, "threads", "1", 0); /* -j already uses the cores */
        if (avcodec_parameters_to_context(dec[k], par) < 0 ||
            avcodec_open2(dec[k], codec, &o) < 0) {
            av_dict_free(&o);
            avcodec_free_context(&dec[k]);
            errors++;
            continue;
        }
        av_dict_free(&o);
        dec[k]->err_recognition |= AV_EF_CRCCHECK;
    }
    for (;;) {
        int r = av_read_frame(ic, pkt);
        if (r == AVERROR_EOF) {
            scan->eof = true;
            break;
        }
        if (r < 0) {
            if (r == AVERROR_EXIT && tp_cancel_requested(is->cancel)) {
                ret = tp_error_set(err, TP_ECANCELED, r, "%s: cancelled", path);
                goto out;
            }
            errors++; /* a read error mid-file: the rest cannot be trusted */
            scan->read_error = true;
            break;
        }
        scan_packet(scan, ic, pkt);
        for (int k = 0; k < 2; k++) {
            if (!dec[k] || pkt->stream_index != idx[k])
                continue;
            if (avcodec_send_packet(dec[k], pkt) < 0)
                errors++;
            while ((r = avcodec_receive_frame(dec[k], frame)) >= 0) {
                if (frame->decode_error_flags || (frame->flags & AV_FRAME_FLAG_CORRUPT))
                    errors++;
                if (k == 1 && meter && tp_loud_meter_push(meter, frame) < 0) {
                    ret = tp_error_set(err, TP_ENOMEM, 0, "%s: out of memory", path);
                    goto out;
                }
                av_frame_unref(frame);
            }
            if (r != AVERROR(EAGAIN) && r != AVERROR_EOF)
                errors++;
        }
        av_packet_unref(pkt);
    }
    for (int k = 0; k < 2; k++) { /* drain */
        if (!dec[k])
            continue;
        avcodec_send_packet(dec[k], NULL);
        int r;
        while ((r = avcodec_receive_frame(dec[k], frame)) >= 0) {
            if (frame->decode_error_flags || (frame->flags & AV_FRAME_FLAG_CORRUPT))
                errors++;
            if (k == 1 && meter && tp_loud_meter_push(meter, frame) < 0) {
                ret = tp_error_set(err, TP_ENOMEM, 0, "%s: out of memory", path);
                goto out;
            }
            av_frame_unref(frame);
        }
        if (r != AVERROR_EOF && r != AVERROR(EAGAIN))
            errors++;
    }
    /* A file cut short mid-read is not measured: a part of the track is not its loudness. */
    if (meter && dec[1] && !scan->read_error)
        tp_loud_meter_finish(meter, &m->audio.loudness);
    if (deep) {
        m->decode_errors = errors;
        m->deep = true;
    }
out:
    av_packet_unref(pkt);
    av_frame_unref(frame);
    av_frame_free(&frame);
    tp_loud_meter_free(&meter);
    avcodec_free_context(&dec[0]);
    avcodec_free_context(&dec[1]);
    return ret;
}

/* A constant rate from the sampled timestamps (sorted by the VFR test) when it is an exact
 * standard rate and the container's average is not: an MP4 whose duration leaves out the last
 * frame reports 2500/83 for frames exactly 1/30 s apart. */
static void fps_from_timestamps(tp_video_info *v, const int64_t *ts, int n, AVRational tb)
{
    if (n > 2 * REORDER_MARGIN + 2)
        n -= REORDER_MARGIN; /* as tp_probe_timestamps_vfr: the tail may lack B-frames */
    if (n < 3 || ts[n - 1] <= ts[0] || tb.num <= 0 || tb.den <= 0)
        return;
    const double rate = (double)(n - 1) / ((double)(ts[n - 1] - ts[0]) * av_q2d(tb));
    AVRational q = av_d2q(rate, 1 << 20);
    tp_rational exact = tp_probe_exact_rate((tp_rational){q.num, q.den});
    const double have = v->fps.den > 0 ? (double)v->fps.num / v->fps.den : 0.0,
                 snapped = exact.den > 0 ? (double)exact.num / exact.den : 0.0;
    const bool standard = exact.den == 1 || exact.den == 1001;
    if (standard && snapped > 0 && fabs(have - snapped) > 1e-3 * snapped)
        v->fps = exact;
}

/* The duration and the VFR test, from packet timestamps. The header's duration is kept unless it
 * is an estimate (from the bit rate, or none) or the timestamps already read disagree with it;
 * then every packet is read (not decoded, within limits.probe_timeout) and the span they cover
 * is the duration. A scan that cannot finish leaves the duration unknown rather than guessed. */
static int measure(tp_media_info *out, AVFormatContext *ic, pkt_scan *scan, AVPacket *pkt,
                   bool deep, bool loud, interrupt_state *is, const char *path, tp_error *err)
{
    const double header = ic->duration != AV_NOPTS_VALUE && ic->duration > 0
                              ? (double)ic->duration / AV_TIME_BASE
                              : -1.0;
    const bool estimated = ic->duration_estimation_method == AVFMT_DURATION_FROM_BITRATE;
    const bool is_mov = !strncmp(ic->iformat->name, "mov,", 4);
    const int vi = scan->vi;
    int64_t *ts = scan->pts;
    int n_ts = 0;

    bool need;
    if (deep || (loud && out->audio.present)) {
        /* Decoding time grows with the file, so the header timeout does not apply; the cancel
         * flag still does. Every packet is read, so the span is measured anyway. */
        is->deadline = INFINITY;
        int ret = decode_all(ic, out, scan, pkt, deep, is, path, err);
        if (ret < 0)
            return ret;
        n_ts = scan_timestamps(scan, &ts);
        need = tp_probe_duration_needs_packets(header, estimated, scan_duration(scan), scan->eof);
    } else {
        double seen = -1.0;
        bool complete = false;
        if (vi >= 0 && is_mov)
            n_ts = index_timestamps(ic->streams[vi], scan->pts);
        if (vi >= 0 && !strcmp(ic->iformat->name, "avi")) {
            seen = index_end(ic->streams[vi]);
            complete = seen >= 0;
        }
        need = tp_probe_duration_needs_packets(header, estimated, seen, complete);
        if ((vi >= 0 && n_ts < 3) || need) {
            /* A small file is read whole (no decoding: milliseconds), so its header is checked
             * against a complete count: an ASF's header said 4.4 s for 6.4 s of packets. */
            const bool whole = !is_mov && out->size > 0 && out->size <= FULL_SCAN_BYTES;
            read_packets(ic, scan, pkt, whole ? INT64_MAX : VFR_MAX_PACKETS, !need && !whole);
            if (n_ts < 3)
                n_ts = scan_timestamps(scan, &ts);
            /* A sample that reached the end is a complete count; one that ran past the
             * header's end shows the header wrong. Either way the header is checked. */
            if (!is_mov && !need)
                need =
                    tp_probe_duration_needs_packets(header, false, scan_duration(scan), scan->eof);
            if (need && !scan->eof && !scan->read_error && !scan->interrupted)
                read_packets(ic, scan, pkt, INT64_MAX, false);
        }
    }
    /* Packets stopped by unreadable data still measure a file whose header has no usable
     * figure, or one they outlast; otherwise the header stands. */
    const double span = scan_duration(scan);
    const bool usable = header > 0 && !estimated;
    if (need && span > 0 && (scan->eof || (scan->read_error && (!usable || span > header)))) {
        out->duration = span;
        tp_strlcpy(out->duration_source, "packets", sizeof(out->duration_source));
    } else if (usable && (!need || !(span > header))) {
        out->duration = header;
        tp_strlcpy(out->duration_source, "header", sizeof(out->duration_source));
    }
    if (vi >= 0) {
        out->video.vfr = tp_probe_timestamps_vfr(ts, n_ts);
        if (!out->video.vfr)
            fps_from_timestamps(&out->video, ts, n_ts, ic->streams[vi]->time_base);
    }
    return 0;
}

/* The interrupt callback stopped a libavformat call: the probe timeout or the caller's cancel. */
static int interrupted(const interrupt_state *is, int raw, const char *path, const tp_limits *lim,
                       tp_error *err)
{
    if (is->timed_out)
        return tp_error_set(err, TP_EMEDIA, raw,
                            "%s: probe timed out after %g s (limits.probe_timeout)", path,
                            lim->probe_timeout);
    return tp_error_set(err, TP_ECANCELED, raw, "%s: cancelled", path);
}

/* The demuxer from the content alone, refusing playlists and what is not audio/video. */
static int detect_format(const AVInputFormat **fmt, AVIOContext *pb, const file_facts *facts,
                         const char *path, const tp_limits *lim, const interrupt_state *is,
                         tp_error *err)
{
    *fmt = NULL;
    /* Format detection alone never needs more than 1 MiB; below 2 KiB nothing is recognisable,
     * so the limit is clamped into that range for this step. */
    int64_t max_probe = lim->probe_size > 0 ? lim->probe_size : (1 << 20);
    if (max_probe > (1 << 20))
        max_probe = 1 << 20;
    if (max_probe < 2048)
        max_probe = 2048;
    /* Content only (empty name): a text file named .mp4 must not be taken for an MP4. */
    int score = av_probe_input_buffer2(pb, fmt, "", NULL, 0, (unsigned)max_probe);
    if (score == AVERROR_EXIT)
        return interrupted(is, score, path, lim, err);
    if (score < AVPROBE_SCORE_RETRY || !*fmt)
        return facts->truncated
                   ? tp_error_set(err, TP_EMEDIA, AVERROR_EOF, "%s: %s", path, facts->truncated_msg)
                   : tp_error_set(err, TP_EMEDIA, AVERROR_INVALIDDATA,
                                  "%s: not media (no audio/video format recognised)", path);
    bool playlist;
    if (format_refused(*fmt, &playlist))
        return playlist ? tp_error_set(err, TP_EUNSUPPORTED, 0,
                                       "%s: %s playlists are not checked (they open other files)",
                                       path, (*fmt)->name)
                        : tp_error_set(err, TP_EMEDIA, AVERROR_INVALIDDATA,
                                       "%s: not media (%s: text, subtitles or a still image)", path,
                                       (*fmt)->name);
    return 0;
}

/* Limits checked on our own read of the structure (read_facts), before the demuxer allocates
 * anything for it: Matroska tracks, and MP4 sample tables that cannot be held to max_samples. */
static int check_facts(const AVInputFormat *fmt, const file_facts *facts, const char *path,
                       const tp_limits *lim, tp_error *err)
{
    if (lim->max_streams > 0 && facts->ebml_tracks > lim->max_streams)
        return tp_error_set(err, TP_EUNSUPPORTED, 0, "%s: more than %d tracks (limits.max_streams)",
                            path, lim->max_streams);
    if (lim->max_samples <= 0 || strncmp(fmt->name, "mov,", 4))
        return 0;
    if (facts->mp4_cmov)
        return tp_error_set(err, TP_EUNSUPPORTED, 0,
                            "%s: compressed MP4 header (cmov): its sample tables cannot be held "
                            "to limits.max_samples before they are unpacked",
                            path);
    if (facts->mp4_too_many)
        return tp_error_set(err, TP_EUNSUPPORTED, 0,
                            "%s: more than %d boxes in the MP4 structure: its sample tables "
                            "cannot be held to limits.max_samples",
                            path, MAX_INNER_BOXES);
    if (facts->mp4_samples > (uint64_t)lim->max_samples)
        return tp_error_set(err, TP_EUNSUPPORTED, 0,
                            "%s: the sample tables claim %llu entries > %lld (limits.max_samples)",
                            path, (unsigned long long)facts->mp4_samples,
                            (long long)lim->max_samples);
    return 0;
}

/* avformat_open_input's failure (raw) in words: what in the file made the demuxer give up. */
static int open_failed(int raw, const AVInputFormat *fmt, const file_facts *facts, const char *path,
                       const tp_limits *lim, const interrupt_state *is, tp_error *err)
{
    char cname[TP_NAME_MAX];
    container_name(cname, sizeof(cname), fmt, facts);
    if (raw == AVERROR_EXIT || is->timed_out)
        return interrupted(is, raw, path, lim, err);
    if (facts->truncated)
        return tp_error_set(err, TP_EMEDIA, AVERROR_EOF, "%s: %s", path, facts->truncated_msg);
    if (raw == AVERROR(ENOMEM) && lim->max_streams > 0)
        /* What demuxers return when avformat_new_stream() refuses a stream over
         * max_streams; a real allocation failure is far less likely on a header. */
        return tp_error_set(err, TP_EUNSUPPORTED, raw,
                            "%s: not readable as %s: more than %d streams (limits.max_streams) "
                            "or out of memory",
                            path, cname, lim->max_streams);
    if (raw == AVERROR_EOF)
        return tp_error_set(err, TP_EMEDIA, AVERROR_EOF,
                            "%s: truncated: the file ends inside the %s headers", path, cname);
    if (raw < 0 && raw > -4096 && raw != AVERROR(EIO))
        /* A plain errno from a demuxer's header checks is about the header's values, not
         * the system: y4m says EBUSY (a size computation gone negative) for 65535x65535. */
        return tp_error_set(err, TP_EMEDIA, AVERROR_INVALIDDATA,
                            "%s: not readable as %s: invalid header values (%s)", path, cname,
                            av_err2str(raw));
    return tp_error_set(err, TP_EMEDIA, AVERROR_INVALIDDATA, "%s: not readable as %s: %s", path,
                        cname, av_err2str(raw));
}

/* Open fmt's demuxer on pb, held to the limits and locked to pb (tp_demux_lock). On failure
 * *icp is NULL (avformat_open_input frees it). */
static int open_demuxer(AVFormatContext **icp, AVIOContext *pb, const AVInputFormat *fmt,
                        const file_facts *facts, const char *path, const tp_limits *lim,
                        interrupt_state *is, tp_error *err)
{
    AVDictionary *fopts = NULL;
    AVFormatContext *ic = avformat_alloc_context();
    *icp = NULL;
    if (!ic)
        return tp_error_set(err, TP_ENOMEM, 0, "%s: out of memory", path);
    ic->pb = pb; /* custom I/O: we close pb ourselves */
    ic->interrupt_callback = (AVIOInterruptCB){interrupt_cb, is};
    if (lim->probe_size > 0)
        ic->probesize = lim->probe_size;
    if (lim->analyze_duration > 0)
        ic->max_analyze_duration = (int64_t)(lim->analyze_duration * AV_TIME_BASE);
    /* One more than allowed, so that "too many" is ours to report, not a demuxer failure. */
    if (lim->max_streams > 0)
        ic->max_streams = lim->max_streams + 1;
    tp_demux_lock(ic, &fopts, fmt->name);
    /* The name is for messages only: with our pb it is never opened, and "" gives a demuxer
     * that resolves nested names nothing to resolve them against. */
    int ret = avformat_open_input(&ic, "", fmt, &fopts);
    av_dict_free(&fopts);
    if (ret < 0)
        return open_failed(ret, fmt, facts, path, lim, is, err);
    *icp = ic;
    return 0;
}

/* Limits on what the header declared: the number of streams and each one's picture size. */
static int check_streams(const AVFormatContext *ic, const char *path, const tp_limits *lim,
                         tp_error *err)
{
    if (lim->max_streams > 0 && ic->nb_streams > (unsigned)lim->max_streams)
        return tp_error_set(err, TP_EUNSUPPORTED, 0, "%s: %u streams > %d (limits.max_streams)",
                            path, ic->nb_streams, lim->max_streams);
    for (unsigned i = 0; i < ic->nb_streams; i++) {
        const AVCodecParameters *par = ic->streams[i]->codecpar;
        if (lim->max_pixels > 0 && (int64_t)par->width * par->height > lim->max_pixels)
            return tp_error_set(err, TP_EUNSUPPORTED, 0,
                                "%s: stream %u is %dx%d = %lld pixels > %lld (limits.max_pixels)",
                                path, i, par->width, par->height,
                                (long long)par->width * par->height, (long long)lim->max_pixels);
    }
    return 0;
}

/* avformat_find_stream_info with one decoder thread and max_pixels per stream, then the
 * refusals that need it: no streams, or data cut off after headers that decode. */
static int find_stream_info(AVFormatContext *ic, const file_facts *facts, const char *path,
                            const tp_limits *lim, const interrupt_state *is, tp_error *err)
{
    /* One decoder thread per stream: -j already spreads files over the cores, and spawning a
     * thread pool per probe costs more than the probe itself. */
    const unsigned n_sopts = ic->nb_streams;
    AVDictionary **sopts = n_sopts ? calloc(n_sopts, sizeof(*sopts)) : NULL;
    if (n_sopts && !sopts)
        return tp_error_set(err, TP_ENOMEM, 0, "%s: out of memory", path);
    char buf[32];
    snprintf(buf, sizeof(buf), "%lld", (long long)lim->max_pixels);
    for (unsigned i = 0; i < n_sopts; i++) {
        av_dict_set(&sopts[i], "threads", "1", 0);
        if (lim->max_pixels > 0)
            av_dict_set(&sopts[i], "max_pixels", buf, 0);
    }
    int ret = avformat_find_stream_info(ic, sopts);
    for (unsigned i = 0; i < n_sopts; i++)
        av_dict_free(&sopts[i]);
    free(sopts);
    if (ret == AVERROR_EXIT)
        return interrupted(is, ret, path, lim, err);
    if (ic->nb_streams == 0)
        return facts->truncated
                   ? tp_error_set(err, TP_EMEDIA, AVERROR_EOF, "%s: %s", path, facts->truncated_msg)
                   : tp_error_set(err, TP_EMEDIA, AVERROR_INVALIDDATA, "%s: not media (no streams)",
                                  path);
    /* Headers that decode but whose data is cut off cannot be uploaded or fixed reliably. */
    if (facts->truncated)
        return tp_error_set(err, TP_EMEDIA, AVERROR_EOF, "%s: %s", path, facts->truncated_msg);
    return 0;
}

/* What the opened demuxer says about the file as a whole: container, faststart, start time and
 * the streams counted by kind (a cover picture counts as an attachment, not as video). */
static void fill_container(tp_media_info *out, const AVFormatContext *ic, const file_facts *facts)
{
    container_name(out->container, sizeof(out->container), ic->iformat, facts);
    tp_strlcpy(out->demuxer, ic->iformat->name, sizeof(out->demuxer));
    out->faststart =
        facts->isobmff || !strncmp(ic->iformat->name, "mov,", 4) ? facts->faststart : true;
    if (ic->start_time != AV_NOPTS_VALUE)
        out->start_time = (double)ic->start_time / AV_TIME_BASE;

    for (unsigned i = 0; i < ic->nb_streams; i++) {
        const AVStream *st = ic->streams[i];
        switch (st->codecpar->codec_type) {
        case AVMEDIA_TYPE_VIDEO:
            if (st->disposition & AV_DISPOSITION_ATTACHED_PIC)
                out->n_attachments++;
            else
                out->n_video++;
            break;
        case AVMEDIA_TYPE_AUDIO: out->n_audio++; break;
        case AVMEDIA_TYPE_SUBTITLE: out->n_subtitle++; break;
        case AVMEDIA_TYPE_ATTACHMENT: out->n_attachments++; break;
        default: out->n_data++; break;
        }
    }
}

/* Everything once the bytes are reachable through pb: format detection, limits, stream info,
 * the VFR sample and deep decoding. Files and buffers share it, so fuzzing a buffer covers the
 * path files take. The demuxer may open nothing else (tp_demux_lock). */
static int probe_io(tp_media_info *out, AVIOContext *pb, const file_facts *facts, const char *path,
                    const tp_limits *lim, bool deep, bool bars, bool loud, interrupt_state *is,
                    tp_error *err)
{
    AVFormatContext *ic = NULL;
    AVPacket *pkt = NULL;
    pkt_scan *scan = NULL;
    const AVInputFormat *fmt = NULL;
    int ret;

    if ((ret = detect_format(&fmt, pb, facts, path, lim, is, err)) < 0 ||
        (ret = check_facts(fmt, facts, path, lim, err)) < 0)
        goto out;
    pkt = av_packet_alloc();
    scan = malloc(sizeof(*scan));
    if (!pkt || !scan) {
        ret = tp_error_set(err, TP_ENOMEM, 0, "%s: out of memory", path);
        goto out;
    }
    if ((ret = open_demuxer(&ic, pb, fmt, facts, path, lim, is, err)) < 0 ||
        (ret = check_streams(ic, path, lim, err)) < 0 ||
        (ret = find_stream_info(ic, facts, path, lim, is, err)) < 0)
        goto out;

    fill_container(out, ic, facts);
    int vi = pick_video(ic), ai = pick_audio(ic);
    if (vi >= 0)
        fill_video(&out->video, ic, vi);
    if (ai >= 0)
        fill_audio(&out->audio, ic->streams[ai], ai);

    scan_init(scan, vi, ai);
    ret = measure(out, ic, scan, pkt, deep, loud, is, path, err);
    if (ret < 0)
        goto out;
    out->bit_rate = ic->bit_rate;
    if (out->bit_rate <= 0 && out->duration > 0)
        out->bit_rate = (int64_t)((double)out->size * 8 / out->duration);
    /* Bars: a few frames decoded at seek points, within limits.probe_timeout (deep: none). */
    if ((deep || bars) && vi >= 0 && tp_bars_detect(&out->video, ic, vi, out->duration) < 0) {
        if (tp_cancel_requested(is->cancel)) {
            ret = tp_error_set(err, TP_ECANCELED, AVERROR_EXIT, "%s: cancelled", path);
            goto out;
        }
        out->video.bars_scanned = false; /* timed out or out of memory: no crop, no claim */
    }

out:
    av_packet_free(&pkt);
    free(scan);
    avformat_close_input(&ic);
    return ret;
}

int tp_probe_fd(tp_media_info *out, int fd, const char *path, const tp_probe_options *opts,
                tp_error *err)
{
    const tp_limits *lim = opts && opts->limits ? opts->limits : &default_limits;
    interrupt_state is = {INFINITY, opts ? opts->cancel : NULL, false};
    AVIOInterruptCB icb = {interrupt_cb, &is};
    AVIOContext *pb = NULL;
    file_facts facts = {0};
    byte_source src = {fd, NULL, 0};
    tp_src_stat st;
    int ret;

    memset(out, 0, sizeof(*out));
    out->duration = -1;
    tp_strlcpy(out->duration_source, "unknown", sizeof(out->duration_source));
    if (lim->probe_timeout > 0)
        is.deadline = tp_now_monotonic() + lim->probe_timeout;
    if (tp_src_fstat(fd, &st) < 0)
        return tp_error_set(err, TP_EIO, AVERROR(errno), "%s: cannot stat: %s", path,
                            strerror(errno));
    out->size = st.size;
    if (st.size == 0)
        return tp_error_set(err, TP_EMEDIA, AVERROR_INVALIDDATA, "%s: empty file (0 bytes)", path);
    read_facts(&src, out->size, lim, &facts);
    if (tp_avio_fd_new(&pb, fd, &icb) < 0)
        return tp_error_set(err, TP_ENOMEM, 0, "%s: out of memory", path);
    ret = probe_io(out, pb, &facts, path, lim, opts && opts->deep, opts && opts->bars,
                   opts && opts->loudness, &is, err);
    tp_avio_fd_free(&pb);
    return ret;
}

int tp_probe_path(tp_media_info *out, const char *path, bool nofollow, const tp_probe_options *opts,
                  tp_error *err)
{
    int64_t size = 0;
    int fd = -1;
    memset(out, 0, sizeof(*out));
    out->duration = -1;
    int ret = check_file(path, nofollow, &size, &fd, err);
    if (ret == 0)
        ret = tp_probe_fd(out, fd, path, opts, err);
    else
        out->size = size;
    if (fd >= 0)
        close(fd);
    return ret;
}

int tp_probe_file(tp_media_info *out, const char *path, const tp_probe_options *opts, tp_error *err)
{
    return tp_probe_path(out, path, false, opts, err);
}

int tp_probe_buffer(tp_media_info *out, const uint8_t *data, size_t len, const tp_probe_options *opts,
                    tp_error *err)
{
    static const char name[] = "<buffer>";
    const tp_limits *lim = opts && opts->limits ? opts->limits : &default_limits;
    interrupt_state is = {INFINITY, opts ? opts->cancel : NULL, false};
    byte_source src = {-1, data, len};
    file_facts facts = {0};
    AVIOContext *pb = NULL;
    int ret;

    memset(out, 0, sizeof(*out));
    out->duration = -1;
    tp_strlcpy(out->duration_source, "unknown", sizeof(out->duration_source));
    out->size = (int64_t)len;
    if (lim->probe_timeout > 0)
        is.deadline = tp_now_monotonic() + lim->probe_timeout;
    if (len == 0 || !data)
        return tp_error_set(err, TP_EMEDIA, AVERROR_INVALIDDATA, "%s: empty file (0 bytes)", name);
    read_facts(&src, out->size, lim, &facts);

    if (tp_avio_mem_new(&pb, data, len, IO_BUFFER_SIZE) < 0)
        return tp_error_set(err, TP_ENOMEM, 0, "%s: out of memory", name);
    /* No protocol at all: a buffer must never make a demuxer open files or URLs. */
    ret = probe_io(out, pb, &facts, name, lim, opts && opts->deep, opts && opts->bars,
                   opts && opts->loudness, &is, err);
    tp_avio_fd_free(&pb);
    return ret;
}
