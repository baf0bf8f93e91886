/* Media info: what the probe measures and the rules, planner and sinks read. Plain data only. */
#ifndef TP_MEDIA_H
#define TP_MEDIA_H

#include <stdbool.h>
#include <stdint.h>

#include "profiles/profile.h"

/* A rectangle of pixels. */
typedef struct {
    int x, y, width, height;
} tp_rect;

typedef struct {
    bool present;
    char codec[TP_NAME_MAX];   /* FFmpeg codec name: h264, hevc, vp9, prores, ... */
    char profile[TP_NAME_MAX]; /* "High", "Main 10", "" when unknown */
    int stream_index;
    int width, height;                 /* coded */
    tp_rational sar;                   /* 1:1 when unknown */
    int display_width, display_height; /* after SAR and rotation */
    int rotation;                      /* 0, 90, 180, 270 (clockwise as displayed) */
    tp_rational fps;                   /* average frame rate */
    bool vfr;
    char pix_fmt[TP_NAME_MAX];
    int bit_depth;
    char chroma[8];            /* "420", "422", "444", "" */
    char hdr[8];               /* "", "pq", "hlg" */
    bool interlaced;
    int64_t frames;            /* when known, else 0 */
    bool bars_scanned;         /* frames were sampled for burned-in bars (--deep, fix.autocrop) */
    tp_rect active_area;       /* the picture inside burned-in black bars, in decoded pixels
                                * before rotation; the whole frame when there are none */
} tp_video_info;

typedef struct {
    bool present;
    char codec[TP_NAME_MAX];
    int stream_index;
    int channels;
    char layout[TP_NAME_MAX];
    int sample_rate;
} tp_audio_info;

/* Where the cover (TikTok's video_cover_timestamp_ms) comes from (README "Covers"). */
typedef enum {
    TP_COVER_NONE = 0, /* no image, no timestamp: TikTok's default */
    TP_COVER_SIDECAR,  /* <stem>.cover.jpg|png|webp next to the source: the first frames */
    TP_COVER_PROFILE,  /* fix.cover.image: the first frames */
    TP_COVER_FRAME     /* a frame of the video (upload.tiktok.video_cover_timestamp_ms, --cover-at) */
} tp_cover_source;

/* The cover image found next to the source or named by the profile: read (within the sidecar
 * rules) and decoded when the source was probed, so the plan knows its size. */
typedef struct {
    tp_cover_source source; /* SIDECAR or PROFILE when an image was found; else NONE */
    char path[4096];        /* the image */
    int width, height;      /* decoded */
} tp_cover_info;

typedef struct {
    char container[TP_NAME_MAX]; /* mp4, mov, webm, mkv, avi, mpegts, ... */
    char demuxer[64]; /* libavformat's AVInputFormat.name: fit opens the input with this one */
    int64_t size;                /* bytes */
    double duration;             /* seconds, -1 when unknown */
    char duration_source[8];     /* "header", "packets" (measured from timestamps), "unknown" */
    double start_time;           /* seconds */
    int64_t bit_rate;            /* bit/s */
    bool faststart;              /* MP4/MOV: moov before mdat; true for other containers */
    tp_video_info video;
    tp_audio_info audio;
    int n_video, n_audio, n_subtitle, n_data, n_attachments;
    int decode_errors; /* --deep only, else 0 */
    bool deep;         /* decode_errors is meaningful */
    tp_cover_info cover; /* filled after the probe (probe/cover.h), not by it */
} tp_media_info;

#endif
