/* The probe's timing decisions without media: when the container's duration must be measured
 * from packets, and when sampled frame timestamps show a variable frame rate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "probe/probe.h"

static void duration_decision(void **state)
{
    (void)state;
    static const struct {
        double header;
        bool estimated;
        double seen;
        bool complete;
        bool need;
    } cases[] = {
        {-1.0, false, -1.0, false, true},    /* no duration at all (raw streams) */
        {0.0, false, -1.0, false, true},     /* zero is not a duration */
        {0.04, true, -1.0, false, true},     /* from the bit rate: raw MPEG video said 0.04 s */
        {120.0, true, -1.0, false, true},    /* an estimate even when plausible */
        {20.0, false, -1.0, false, false},   /* header, nothing read yet: trusted */
        {20.0, false, 3.0, false, false},    /* a partial sample ends early: proves nothing */
        {20.0, false, 20.15, false, false},  /* within the tolerance (0.2 s here) */
        {20.0, false, 20.5, false, true},    /* packets run past the header's end */
        {0.8, false, 0.96, true, true},      /* a DVD menu's audio outlasts its 0.8 s */
        {20.0, false, 3.0, true, true},      /* every packet read, 17 s missing: cut file */
        {20.0, false, 19.8, true, false},    /* a complete count that agrees */
        {600.0, false, 605.0, false, false}, /* 1 % of a long file is rounding */
        {600.0, false, 640.0, false, true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool got = tp_probe_duration_needs_packets(cases[i].header, cases[i].estimated,
                                                   cases[i].seen, cases[i].complete);
        if (got != cases[i].need)
            fail_msg("case %zu: header %g estimated %d seen %g complete %d: want %d", i,
                     cases[i].header, cases[i].estimated, cases[i].seen, cases[i].complete,
                     cases[i].need);
    }
}

/* n frames at a constant interval (in ticks of num/den per frame, rounded as a muxer does) in
 * the decode order of an IBBP... GOP: each anchor comes before the B-frames shown ahead of it. */
static int gop_order(int64_t *ts, int n, int64_t num, int64_t den, int bframes)
{
    int k = 0;
    for (int a = 0; a < n && k < n; a += bframes + 1) {
        int anchor = a + bframes; /* the stream goes on past the sample */
        ts[k++] = anchor * num / den;
        for (int b = a; b < anchor && k < n; b++)
            ts[k++] = b * num / den;
    }
    return k;
}

static void vfr_decision(void **state)
{
    (void)state;
    int64_t ts[200];
    int n;

    /* MPEG-PS, 90 kHz, 29.97 fps (3003 ticks), two B-frames: decode order is not a gap. */
    n = gop_order(ts, 77, 3003, 1, 2);
    assert_false(tp_probe_timestamps_vfr(ts, n));
    /* Matroska's 1 ms ticks at 24000/1001: 41 and 42 ms intervals, three B-frames. */
    n = gop_order(ts, 77, 1001 * 1000, 24000, 3);
    assert_false(tp_probe_timestamps_vfr(ts, n));
    /* 60000/1001 in 1 ms ticks: 16/17 ms, no B-frames. */
    n = gop_order(ts, 77, 1001 * 1000, 60000, 0);
    assert_false(tp_probe_timestamps_vfr(ts, n));
    /* A pyramid of 7 B-frames (H.264/HEVC): still constant. */
    n = gop_order(ts, 77, 512, 1, 7);
    assert_false(tp_probe_timestamps_vfr(ts, n));

    /* Truly variable: a phone switching from 30 to 24 fps half way (90 kHz). */
    for (n = 0; n < 77; n++)
        ts[n] = n < 38 ? n * 3000 : 38 * 3000 + (n - 38) * 3750;
    assert_true(tp_probe_timestamps_vfr(ts, n));
    /* Variable in B-frame order too. */
    n = gop_order(ts, 77, 3000, 1, 2);
    for (int i = 0; i < n; i++)
        if (ts[i] > 40 * 3000)
            ts[i] += (ts[i] - 40 * 3000) / 4;
    assert_true(tp_probe_timestamps_vfr(ts, n));
    /* Too few to say. */
    ts[0] = 0;
    ts[1] = 100;
    assert_false(tp_probe_timestamps_vfr(ts, 2));
}

static void exact_rate(void **state)
{
    (void)state;
    static const struct {
        int num, den, want_num, want_den;
    } cases[] = {
        {19001, 317, 60000, 1001}, /* Matroska, 1 ms ticks */
        {2997, 100, 30000, 1001},  {23976, 1000, 24000, 1001}, {30000, 1001, 30000, 1001},
        {60, 1, 60, 1},            {6000, 100, 60, 1},         {25025, 1001, 25, 1},
        {2997, 125, 24000, 1001},  /* "23.976" as written by people */
        {2495, 100, 2495, 100},    /* 24.95: a clock 0.2 % off, left alone */
        {2941, 100, 2941, 100},    /* a variable source's average */
        {0, 1, 0, 1},              {1, 3, 1, 3},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tp_rational got = tp_probe_exact_rate((tp_rational){cases[i].num, cases[i].den});
        if (got.num != cases[i].want_num || got.den != cases[i].want_den)
            fail_msg("%d/%d → %d/%d, want %d/%d", cases[i].num, cases[i].den, got.num, got.den,
                     cases[i].want_num, cases[i].want_den);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(duration_decision),
        cmocka_unit_test(vfr_decision),
        cmocka_unit_test(exact_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
