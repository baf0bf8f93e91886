/* Chunk planner boundaries, table-driven: TikTok's rules and its worked example. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "upload/chunk.h"
#include "util/tp_util.h"

#define MB 1000000LL

static const tp_chunk_rules tiktok = {10 * MB, 5 * MB, 64 * MB, 128 * MB, 1000};

typedef struct {
    const char *name;
    tp_chunk_rules rules;
    int64_t size;
    int rc;             /* 0 or -TP_E* */
    int64_t chunk_size; /* declared chunk_size */
    int count;
    int64_t last; /* length of the final chunk */
} plan_case;

static const plan_case cases[] = {
    {"TikTok example 50,000,123 / 10,000,000", tiktok, 50000123, 0, 10 * MB, 5, 10000123},
    {"1 byte", tiktok, 1, 0, 1, 1, 1},
    {"just under 5 MB goes whole", tiktok, 5 * MB - 1, 0, 5 * MB - 1, 1, 5 * MB - 1},
    {"exactly 5 MB goes whole", tiktok, 5 * MB, 0, 5 * MB, 1, 5 * MB},
    {"just over 5 MB goes whole", tiktok, 5 * MB + 1, 0, 5 * MB + 1, 1, 5 * MB + 1},
    {"exactly chunk size", tiktok, 10 * MB, 0, 10 * MB, 1, 10 * MB},
    {"chunk size + 1", tiktok, 10 * MB + 1, 0, 10 * MB, 1, 10 * MB + 1},
    {"just under 2 chunks", tiktok, 20 * MB - 1, 0, 10 * MB, 1, 20 * MB - 1},
    {"two chunks", tiktok, 20 * MB, 0, 10 * MB, 2, 10 * MB},
    {"64 MB", tiktok, 64 * MB, 0, 10 * MB, 6, 14 * MB},
    {"64 MB + 1", tiktok, 64 * MB + 1, 0, 10 * MB, 6, 14 * MB + 1},
    {"128 MB", tiktok, 128 * MB, 0, 10 * MB, 12, 18 * MB},
    {"128 MB + 1", tiktok, 128 * MB + 1, 0, 10 * MB, 12, 18 * MB + 1},
    {"1 GB", tiktok, 1000 * MB, 0, 10 * MB, 100, 10 * MB},
    {"4 GB", tiktok, 4000 * MB, 0, 10 * MB, 400, 10 * MB},
    {"1000 chunks exactly", tiktok, 10000 * MB + 5, 0, 10 * MB, 1000, 10 * MB + 5},
    {"count capped: chunk size raised", tiktok, 10010 * MB + 7, 0, 10010001, 999,
     10010 * MB + 7 - 998 * 10010001LL},
    {"largest possible: 1000 x 64 MB", tiktok, 64000 * MB, 0, 64 * MB, 1000, 64 * MB},
    {"too big for 1000 x 64 MB", tiktok, 64000 * MB + 1000, TP_EINVAL, 0, 0, 0},
    {"empty", tiktok, 0, TP_EINVAL, 0, 0, 0},
    {"negative", tiktok, -5, TP_EINVAL, 0, 0, 0},
    {"64 MB chunks: final just at 128 MB",
     {64 * MB, 5 * MB, 64 * MB, 128 * MB, 1000},
     128 * MB - 1,
     0,
     64 * MB,
     1,
     128 * MB - 1},
    {"final chunk above final_max",
     {64 * MB, 5 * MB, 64 * MB, 100 * MB, 1000},
     128 * MB - 1,
     TP_EINVAL,
     0,
     0,
     0},
    {"max_count 1, file above a chunk",
     {10 * MB, 5 * MB, 64 * MB, 128 * MB, 1},
     65 * MB,
     TP_EINVAL,
     0,
     0,
     0},
    {"inconsistent rules",
     {4 * MB, 5 * MB, 64 * MB, 128 * MB, 1000},
     50 * MB,
     TP_ECONFIG,
     0,
     0,
     0},
};

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < TP_ARRAY_LEN(cases); i++) {
        const plan_case *c = &cases[i];
        tp_chunk_plan plan;
        tp_error err = TP_ERROR_INIT;
        int rc = tp_chunk_plan_make(&plan, c->size, &c->rules, &err);
        print_message("%-40s rc=%d count=%d cs=%lld %s\n", c->name, rc, plan.count,
                      (long long)plan.chunk_size, tp_error_message(&err));
        assert_int_equal(rc, c->rc);
        if (rc < 0) {
            assert_true(tp_error_message(&err)[0] != '\0');
            assert_null(plan.chunks);
            tp_error_clear(&err);
            continue;
        }
        assert_int_equal(plan.total, c->size);
        assert_int_equal(plan.chunk_size, c->chunk_size);
        assert_int_equal(plan.count, c->count);
        assert_int_equal(plan.chunks[plan.count - 1].length, c->last);
        /* Invariants TikTok checks: floor formula, contiguous, covers the file, sizes. */
        assert_int_equal(plan.count, c->size < c->rules.min || c->size <= c->rules.size
                                         ? 1
                                         : c->size / plan.chunk_size);
        int64_t next = 0;
        for (int k = 0; k < plan.count; k++) {
            assert_int_equal(plan.chunks[k].offset, next);
            if (k < plan.count - 1)
                assert_int_equal(plan.chunks[k].length, plan.chunk_size);
            next += plan.chunks[k].length;
        }
        assert_int_equal(next, c->size);
        if (c->size >= c->rules.min) {
            assert_true(plan.chunk_size >= c->rules.min && plan.chunk_size <= c->rules.max);
            assert_true(plan.chunks[plan.count - 1].length <= c->rules.final_max);
        }
        assert_true(plan.count <= c->rules.max_count);
        tp_chunk_plan_clear(&plan);
        assert_null(plan.chunks);
    }
}

/* Clearing frees the chunks and leaves an empty plan that can be cleared again; NULL is a
 * no-op (under ASan a double free or a leak here fails the run). */
static void test_clear(void **state)
{
    (void)state;
    tp_chunk_plan p;
    tp_error err = {0};
    assert_int_equal(tp_chunk_plan_make(&p, 50000123, &tiktok, &err), 0);
    assert_non_null(p.chunks);
    assert_int_equal(p.count, 5);
    tp_chunk_plan_clear(&p);
    assert_null(p.chunks);
    assert_int_equal(p.count, 0);
    tp_chunk_plan_clear(&p);
    assert_null(p.chunks);
    tp_chunk_plan_clear(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_clear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
