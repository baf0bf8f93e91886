/* Burned-in bars: find the picture inside static black letterbox/pillarbox bars from frames
 * sampled through the file. The per-frame scan and the decision are pure (unit-tested on
 * synthetic luma); tp_bars_detect decodes the samples with libavcodec. */
#ifndef TP_BARS_H
#define TP_BARS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "probe/media.h"

/* Frames sampled, evenly spread over the duration. */
#define TP_BARS_SAMPLES 15

/* One frame's dark edges. */
typedef struct {
    int top, bottom, left, right; /* rows/columns at each edge with no picture in them */
    bool dark;                    /* the whole frame is dark: it says nothing about bars */
} tp_bars_frame;

/* Measure the dark edges of one frame from 8-bit full-range luma (0 = black). A row or column
 * is dark when its mean is at most 20 and no pixel in it is over 48 (no subtitle, logo or
 * highlight). Pure and thread-safe. */
void tp_bars_scan(tp_bars_frame *out, const uint8_t *luma, ptrdiff_t stride, int width, int height);

/* Decide from n frames' measurements whether width×height holds static bars, conservatively:
 * at least 3 frames that are not entirely dark; per edge the smallest bar seen (so nothing
 * that was ever picture is cut), and at least 90 % of those frames within max(2 px, 1 %) of
 * it; bars on both sides of one axis only (letterbox or pillarbox, not black all round), each
 * at least max(4 px, 1 %) and neither more than twice the other plus the tolerance; the picture
 * at least a quarter of the dimension; edges rounded outward to even pixels. Returns true with
 * *area the picture, else false with *area the whole frame. Pure and thread-safe. */
bool tp_bars_decide(tp_rect *area, const tp_bars_frame *frames, int n, int width, int height);

struct AVFormatContext;

/* Sample TP_BARS_SAMPLES frames of stream vi of an open input (seeking through `duration`
 * seconds, or the first few hundred frames when it is unknown or the input cannot seek), and set
 * v->bars_scanned and v->active_area (in decoded pixels, before rotation). Decoding failures
 * only leave bars_scanned false. Returns 0, or the AVERROR that stopped reading when the
 * input's interrupt callback fired (AVERROR_EXIT: cancelled or timed out) or memory ran out.
 * The input's read position is left anywhere. Thread-safe for distinct inputs. */
int tp_bars_detect(tp_video_info *v, struct AVFormatContext *ic, int vi, double duration);

#endif
