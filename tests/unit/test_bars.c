/* Burned-in bars on synthetic luma: the per-frame scan (dark rows/columns, subtitles in a bar,
 * dark grey that is not black) and the decision over samples (stable ≥ 90 %, smallest bar wins,
 * dark frames ignored, one axis only, even edges rounded outward). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "probe/bars.h"
#include "util/tp_util.h"

#define W 640
#define H 480

/* A frame: picture of mid-grey texture inside bars of the given sizes (luma `bar`). */
static uint8_t *frame(int top, int bottom, int left, int right, uint8_t bar)
{
    uint8_t *f = malloc(W * H);
    assert_non_null(f);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            bool in = y >= top && y < H - bottom && x >= left && x < W - right;
            f[y * W + x] = in ? (uint8_t)(60 + (x * 7 + y * 3) % 120) : bar;
        }
    return f;
}

static tp_bars_frame scan(const uint8_t *f)
{
    tp_bars_frame r;
    tp_bars_scan(&r, f, W, W, H);
    return r;
}

static void test_scan(void **state)
{
    (void)state;
    uint8_t *f = frame(60, 60, 0, 0, 0);
    tp_bars_frame r = scan(f);
    assert_false(r.dark);
    assert_int_equal(r.top, 60);
    assert_int_equal(r.bottom, 60);
    assert_int_equal(r.left, 0);
    assert_int_equal(r.right, 0);
    /* A subtitle in the bottom bar: those rows are not dark. */
    for (int x = 200; x < 440; x++)
        f[450 * W + x] = 235;
    r = scan(f);
    assert_int_equal(r.top, 60);
    assert_int_equal(r.bottom, 29);
    free(f);

    f = frame(0, 0, 80, 80, 4); /* pillarbox, near-black noise level */
    r = scan(f);
    assert_int_equal(r.left, 80);
    assert_int_equal(r.right, 80);
    assert_int_equal(r.top, 0);
    free(f);

    f = frame(60, 60, 0, 0, 40); /* dark grey, not black: picture */
    r = scan(f);
    assert_int_equal(r.top, 0);
    assert_int_equal(r.bottom, 0);
    free(f);

    f = frame(H, 0, 0, 0, 0); /* all black */
    r = scan(f);
    assert_true(r.dark);
    free(f);

    tp_bars_scan(&r, NULL, W, W, H);
    assert_true(r.dark);
}

typedef struct {
    const char *name;
    int n;              /* samples */
    tp_bars_frame base; /* every sample */
    int n_other;        /* the first n_other samples are `other` instead */
    tp_bars_frame other;
    bool found;
    tp_rect area;
} decide_case;

#define LB(t, b)                                                                                   \
    {                                                                                              \
        t, b, 0, 0, false                                                                          \
    }
#define PB(l, r)                                                                                   \
    {                                                                                              \
        0, 0, l, r, false                                                                          \
    }
#define DARK                                                                                       \
    {                                                                                              \
        0, 0, 0, 0, true                                                                           \
    }

/* clang-format off */
static const decide_case cases[] = {
    {"letterbox", 15, LB(60, 60), 0, LB(0, 0), true, {0, 60, 640, 360}},
    {"pillarbox", 15, PB(80, 80), 0, LB(0, 0), true, {80, 0, 480, 480}},
    {"odd bars round outward", 15, LB(61, 61), 0, LB(0, 0), true, {0, 60, 640, 360}},
    {"dark frames ignored", 15, LB(60, 60), 10, DARK, true, {0, 60, 640, 360}},
    {"all dark: no bars", 15, DARK, 0, DARK, false, {0, 0, 640, 480}},
    {"two lit frames are too few", 15, DARK, 2, LB(60, 60), false, {0, 0, 640, 480}},
    /* Dark scenes measure bigger bars: the smallest wins, if 90 % agree with it. */
    {"one dark scene in 15: 93 % agree", 15, LB(60, 60), 1, LB(120, 120), true,
     {0, 60, 640, 360}},
    {"two dark scenes in 15: 87 % agree", 15, LB(60, 60), 2, LB(120, 120), false,
     {0, 0, 640, 480}},
    {"subtitle in a bar once: unstable", 15, LB(60, 60), 1, LB(60, 29), false,
     {0, 0, 640, 480}},
    {"tolerance 4 px at 480", 15, LB(60, 60), 5, LB(63, 64), true, {0, 60, 640, 360}},
    {"one side only", 15, LB(60, 0), 0, LB(0, 0), false, {0, 0, 640, 480}},
    {"lopsided", 15, LB(20, 100), 0, LB(0, 0), false, {0, 0, 640, 480}},
    {"thin edge is not a bar", 15, LB(3, 3), 0, LB(0, 0), false, {0, 0, 640, 480}},
    {"black all round: a still subject, kept", 15, {60, 60, 80, 80, false}, 0, LB(0, 0),
     false, {0, 0, 640, 480}},
    {"picture under a quarter", 15, LB(200, 200), 0, LB(0, 0), false, {0, 0, 640, 480}},
};
/* clang-format on */

static void test_decide(void **state)
{
    (void)state;
    for (size_t i = 0; i < TP_ARRAY_LEN(cases); i++) {
        const decide_case *c = &cases[i];
        tp_bars_frame fr[TP_BARS_SAMPLES];
        for (int k = 0; k < c->n; k++)
            fr[k] = k < c->n_other ? c->other : c->base;
        tp_rect a;
        bool found = tp_bars_decide(&a, fr, c->n, W, H);
        if (found != c->found || a.x != c->area.x || a.y != c->area.y || a.width != c->area.width ||
            a.height != c->area.height)
            fail_msg("%s: found=%d area %d,%d %dx%d; expected found=%d %d,%d %dx%d", c->name, found,
                     a.x, a.y, a.width, a.height, c->found, c->area.x, c->area.y, c->area.width,
                     c->area.height);
    }
    tp_rect a;
    assert_false(tp_bars_decide(&a, NULL, 0, W, H));
    assert_int_equal(a.width, W);
}

/* Scan and decision together on frames that really hold a letterbox and dark scenes. */
static void test_scan_then_decide(void **state)
{
    (void)state;
    tp_bars_frame fr[TP_BARS_SAMPLES];
    for (int k = 0; k < TP_BARS_SAMPLES; k++) {
        uint8_t *f = k % 5 == 0 ? frame(H, 0, 0, 0, 0) : frame(60, 60, 0, 0, 0);
        fr[k] = scan(f);
        free(f);
    }
    tp_rect a;
    assert_true(tp_bars_decide(&a, fr, TP_BARS_SAMPLES, W, H));
    assert_int_equal(a.y, 60);
    assert_int_equal(a.height, 360);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan),
        cmocka_unit_test(test_decide),
        cmocka_unit_test(test_scan_then_decide),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
