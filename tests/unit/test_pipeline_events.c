/* Pipeline building blocks without media: NDJSON events and the stage queue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/fifo.h"
#include "util/tp_util.h"

static cJSON *parse_event(const tp_event *ev)
{
    char *s = tp_event_to_json(ev);
    assert_non_null(s);
    assert_null(strchr(s, '\n')); /* one line */
    cJSON *o = cJSON_Parse(s);
    free(s);
    assert_non_null(o);
    return o;
}

static void test_event_json(void **state)
{
    (void)state;
    const char *outs[] = {"/out/a.mp4", "/out/a_part2.mp4"};
    tp_event ev = {.kind = TP_EVENT_FIT_DONE,
                   .ts = 1795651200.25,
                   .path = "in/a \"q\".mov",
                   .outputs = outs,
                   .n_outputs = 2,
                   .fingerprint = "ab12"};
    cJSON *o = parse_event(&ev);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "ts")),
                        "2026-11-26T00:00:00.250Z");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "event")), "fit_done");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "path")), "in/a \"q\".mov");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "outputs")), 2);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "fingerprint")), "ab12");
    cJSON_Delete(o);

    tp_event f = {.kind = TP_EVENT_FAILED,
                  .ts = 1,
                  .path = "x.mp4",
                  .stage = "probe",
                  .error_code = "media",
                  .reason = "x.mp4: not media",
                  .final_failure = 1};
    o = parse_event(&f);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "stage")), "probe");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "error")), "media");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "final")));
    cJSON_Delete(o);

    tp_event s = {.kind = TP_EVENT_SUMMARY,
                  .ts = 1,
                  .n_discovered = 5,
                  .n_done = 3,
                  .n_skipped = 1,
                  .n_failed = 1,
                  .elapsed = 2.34567};
    o = parse_event(&s);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "path")));
    assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "discovered")), 5);
    assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "done")), 3);
    assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(o, "elapsed")) == 2.346);
    cJSON_Delete(o);

    /* A deferral says when; other skips carry no retry_at. */
    tp_event d = {.kind = TP_EVENT_SKIPPED,
                  .ts = 1,
                  .path = "x.mp4",
                  .reason = "deferred: daily limit",
                  .retry_at = 1795651200.0 + 3600};
    o = parse_event(&d);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "retry_at")),
                        "2026-11-26T01:00:00.000Z");
    cJSON_Delete(o);
    d.retry_at = 0;
    o = parse_event(&d);
    assert_null(cJSON_GetObjectItem(o, "retry_at"));
    cJSON_Delete(o);

    /* Every kind has a stable name. */
    const char *names[] = {"discovered", "probed",  "fit_started",     "fit_progress",
                           "fit_done",   "chunked", "upload_progress", "uploaded",
                           "failed",     "skipped", "summary", "awaiting_review"};
    for (int k = 0; k <= TP_EVENT_AWAITING_REVIEW; k++)
        assert_string_equal(tp_event_name((tp_event_kind)k), names[k]);

    /* Version 3: a parked file carries its ledger id and outputs; the summary counts it. */
    const char *parked_outs[] = {"/w/out/7/a.mp4"};
    tp_event a = {.version = TP_EVENT_VERSION,
                  .kind = TP_EVENT_AWAITING_REVIEW,
                  .ts = 1,
                  .path = "a.mp4",
                  .outputs = parked_outs,
                  .n_outputs = 1,
                  .id = 7};
    o = parse_event(&a);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "event")), "awaiting_review");
    assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "id")), 7);
    assert_string_equal(
        cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "outputs"), 0)),
        "/w/out/7/a.mp4");
    cJSON_Delete(o);
    a.id = 0; /* no row (a scan failure): no id */
    o = parse_event(&a);
    assert_null(cJSON_GetObjectItem(o, "id"));
    cJSON_Delete(o);
    tp_event sm = {.version = TP_EVENT_VERSION, .kind = TP_EVENT_SUMMARY, .ts = 1,
                   .n_awaiting_review = 2};
    o = parse_event(&sm);
    assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "awaiting_review")), 2);
    cJSON_Delete(o);
}

/* Blocking pop in the old stage-queue form: NULL once closed and drained. */
static void *pop(tp_fifo *q)
{
    void *item = NULL;
    return tp_fifo_pop(q, &item) ? item : NULL;
}

static void test_workq_bounds(void **state)
{
    (void)state;
    tp_fifo *q = NULL;
    int a = 1, b = 2, c = 3;
    assert_int_equal(tp_fifo_new(&q, 2), 0);
    assert_int_equal(tp_fifo_try_push(q, &a), 0);
    assert_int_equal(tp_fifo_try_push(q, &b), 0);
    assert_int_equal(tp_fifo_try_push(q, &c), TP_ECONFLICT); /* bounded */
    assert_int_equal(tp_fifo_length(q), 2);
    assert_ptr_equal(pop(q), &a); /* FIFO */
    assert_int_equal(tp_fifo_try_push(q, &c), 0);
    tp_fifo_close(q);
    assert_int_equal(tp_fifo_try_push(q, &a), TP_ECANCELED);
    assert_int_equal(tp_fifo_push(q, &a), TP_ECANCELED);
    assert_ptr_equal(pop(q), &b); /* drained after close */
    assert_ptr_equal(pop(q), &c);
    assert_null(pop(q));
    tp_fifo_free(q);
}

typedef struct {
    tp_fifo *q;
    long sum;
} consumer;

static void *consume(void *arg)
{
    consumer *c = arg;
    void *item;
    while ((item = pop(c->q)))
        c->sum += (long)(intptr_t)item;
    return NULL;
}

static void test_workq_threads(void **state)
{
    (void)state;
    tp_fifo *q = NULL;
    assert_int_equal(tp_fifo_new(&q, 4), 0);
    pthread_t th[3];
    consumer cs[3];
    for (int i = 0; i < 3; i++) {
        cs[i].q = q;
        cs[i].sum = 0;
        pthread_create(&th[i], NULL, consume, &cs[i]);
    }
    long want = 0;
    for (long i = 1; i <= 10000; i++) {
        assert_int_equal(tp_fifo_push(q, (void *)(intptr_t)i), 0); /* blocks while full */
        want += i;
    }
    tp_fifo_close(q);
    long got = 0;
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        got += cs[i].sum;
    }
    assert_int_equal(got, want); /* each item exactly once */
    tp_fifo_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_json),
        cmocka_unit_test(test_workq_bounds),
        cmocka_unit_test(test_workq_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
