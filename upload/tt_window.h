/* TikTok's rate-window maths, pure (no I/O, no clock): the sliding per-endpoint request window and
 * the daily post cap. Used by the limit stores (upload/tt_limits.c); part of the tp_plan layer, so
 * it builds and tests without curl, Redis or FFmpeg. Thread-safety: none needed (plain values). */
#ifndef TP_TT_WINDOW_H
#define TP_TT_WINDOW_H

#include <stdint.h>

/* The daily window, seconds. */
#define TP_TT_DAILY_WINDOW 86400

/* Sliding-window request counter (TikTok: per token, per endpoint, 60 s). */
#define TP_TT_RATE_SLOTS 32
typedef struct {
    int limit;     /* requests per window (<= TP_TT_RATE_SLOTS) */
    double window; /* seconds */
    int n, head;   /* ring of the last `limit` request times */
    double times[TP_TT_RATE_SLOTS];
} tp_tt_rate;

void tp_tt_rate_init(tp_tt_rate *r, int limit, double window);
/* Seconds to wait at time `now` before one more request is allowed (0 = go). */
double tp_tt_rate_delay(const tp_tt_rate *r, double now);
void tp_tt_rate_note(tp_tt_rate *r, double now);

/* Daily cap: given the epoch seconds of earlier posts (any order), 0 when one more post is
 * allowed at `now` under `limit` per 24 h, else the epoch second when it will be. */
int64_t tp_tt_daily_next(const int64_t *posts, int n, int limit, int64_t now);

#endif
