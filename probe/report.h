/* JSON views of media info and check results (cJSON), shared by check, fit and the pipeline so
 * that every command prints the same fields with the same names. */
#ifndef TP_REPORT_H
#define TP_REPORT_H

#include <cjson/cJSON.h>

#include "probe/media.h"
#include "probe/rules.h"

/* MEDIA: {container, duration (null when unknown), start_time, size, bit_rate, faststart,
 * video (null when absent): {codec, profile, width, height, display_width, display_height,
 * rotation, sar ("1:1"), fps (number), fps_rational ("30000/1001"), vfr, pix_fmt, bit_depth,
 * chroma, hdr (null | "pq" | "hlg"), interlaced, frames}, audio (null when absent): {codec,
 * channels, layout, sample_rate}, streams: {video, audio, subtitle, data, attachments},
 * decode_errors (null unless deep)}. Returns a new object (caller owns, cJSON_Delete) or NULL
 * when out of memory. Thread-safe. */
cJSON *tp_media_to_json(const tp_media_info *m);

/* The inverse of tp_media_to_json(): MEDIA (a "cover" key is ignored) back into *m, for media
 * recorded in that form (the ledger files' "media"). Figures come back as printed (duration to
 * the millisecond, loudness to 0.1); the demuxer name is not in MEDIA and stays "". 0, or
 * TP_EINVAL (message in err) when a key is missing or of the wrong type. Thread-safe. */
int tp_media_from_json(tp_media_info *m, const cJSON *o, tp_error *err);

/* Violations as [{code, severity, message}]. */
cJSON *tp_violations_to_json(const tp_check_result *r);

/* FILE: {path, verdict, action ("none"|"remux"|"transcode"; null for error), violations,
 * error (string or null), media (MEDIA or null)}. `media` NULL and `error` non-NULL for an
 * unreadable file. Also carries "reason" (reject/error explanation, or null). Caller owns. */
cJSON *tp_check_to_json(const char *path, const tp_check_result *r, const tp_media_info *media,
                        const char *error);

#endif
