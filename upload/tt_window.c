/* TikTok's rate-window maths: the sliding request window and the daily cap (tt_window.h). */
#include "upload/tt_window.h"

#include <stdlib.h>
#include <string.h>

void tp_tt_rate_init(tp_tt_rate *r, int limit, double window)
{
    memset(r, 0, sizeof(*r));
    r->limit = limit < 1 ? 1 : limit > TP_TT_RATE_SLOTS ? TP_TT_RATE_SLOTS : limit;
    r->window = window;
}

double tp_tt_rate_delay(const tp_tt_rate *r, double now)
{
    if (r->n < r->limit)
        return 0;
    /* The oldest of the last `limit` requests must leave the window first. */
    double oldest = r->times[r->head];
    double d = oldest + r->window - now;
    return d > 0 ? d : 0;
}

void tp_tt_rate_note(tp_tt_rate *r, double now)
{
    if (r->n < r->limit) {
        r->times[(r->head + r->n) % r->limit] = now;
        r->n++;
    } else {
        r->times[r->head] = now;
        r->head = (r->head + 1) % r->limit;
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int64_t tp_tt_daily_next(const int64_t *posts, int n, int limit, int64_t now)
{
    if (limit <= 0 || n <= 0)
        return 0; /* limit 0 = no cap configured */
    int64_t *recent = malloc((size_t)n * sizeof(*recent));
    int k = 0;
    if (!recent)
        return 0;
    for (int i = 0; i < n; i++)
        if (posts[i] > now - TP_TT_DAILY_WINDOW && posts[i] <= now)
            recent[k++] = posts[i];
    int64_t when = 0;
    if (k >= limit) {
        /* One more is allowed once all but limit-1 of the recent posts left the window. */
        qsort(recent, (size_t)k, sizeof(*recent), cmp_i64);
        when = recent[k - limit] + TP_TT_DAILY_WINDOW;
    }
    free(recent);
    return when;
}
