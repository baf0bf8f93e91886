/* util/queue: FIFO order, bounded blocking, close semantics, many producers and consumers. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/fifo.h"
#include "util/tp_util.h"

static void test_fifo_and_close(void **state)
{
    (void)state;
    tp_fifo *q = NULL;
    int items[5] = {0, 1, 2, 3, 4};
    void *got = NULL;
    assert_int_equal(tp_fifo_new(&q, 0), TP_EINVAL);
    assert_int_equal(tp_fifo_new(&q, 5), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(tp_fifo_push(q, &items[i]), 0);
    assert_int_equal(tp_fifo_length(q), 5);
    assert_int_equal(tp_fifo_pop(q, &got), 1);
    assert_ptr_equal(got, &items[0]);
    tp_fifo_close(q);
    assert_int_equal(tp_fifo_push(q, &items[0]), TP_ECANCELED);
    for (int i = 1; i < 5; i++) { /* closed queues still drain in order */
        assert_int_equal(tp_fifo_pop(q, &got), 1);
        assert_ptr_equal(got, &items[i]);
    }
    assert_int_equal(tp_fifo_pop(q, &got), 0);
    assert_int_equal(tp_fifo_try_pop(q, &got), 0);
    tp_fifo_close(q); /* idempotent */
    tp_fifo_free(q);
    tp_fifo_free(NULL);
}

typedef struct {
    tp_fifo *q;
    int base, count;
} producer_arg;

static void *producer(void *p)
{
    producer_arg *a = p;
    for (int i = 0; i < a->count; i++)
        tp_fifo_push(a->q, (void *)(intptr_t)(a->base + i + 1));
    return NULL;
}

typedef struct {
    tp_fifo *q;
    long long sum;
    int n;
} consumer_arg;

static void *consumer(void *p)
{
    consumer_arg *a = p;
    void *item;
    while (tp_fifo_pop(a->q, &item) == 1) {
        a->sum += (intptr_t)item;
        a->n++;
    }
    return NULL;
}

/* 4 producers x 5000 items through a 3-slot queue to 3 consumers: nothing lost or duplicated. */
static void test_many_threads(void **state)
{
    (void)state;
    enum { P = 4, C = 3, N = 5000 };
    tp_fifo *q = NULL;
    pthread_t pt[P], ct[C];
    producer_arg pa[P];
    consumer_arg ca[C];
    assert_int_equal(tp_fifo_new(&q, 3), 0);
    for (int i = 0; i < C; i++) {
        ca[i] = (consumer_arg){q, 0, 0};
        pthread_create(&ct[i], NULL, consumer, &ca[i]);
    }
    for (int i = 0; i < P; i++) {
        pa[i] = (producer_arg){q, i * N, N};
        pthread_create(&pt[i], NULL, producer, &pa[i]);
    }
    for (int i = 0; i < P; i++)
        pthread_join(pt[i], NULL);
    tp_fifo_close(q);
    long long sum = 0;
    int n = 0;
    for (int i = 0; i < C; i++) {
        pthread_join(ct[i], NULL);
        sum += ca[i].sum;
        n += ca[i].n;
    }
    const long long total = (long long)P * N;
    assert_int_equal(n, total);
    assert_true(sum == total * (total + 1) / 2);
    tp_fifo_free(q);
}

static void *close_later(void *p)
{
    usleep(20000);
    tp_fifo_close(p);
    return NULL;
}

/* A producer blocked on a full queue is released by close with TP_ECANCELED. */
static void test_close_wakes_blocked_push(void **state)
{
    (void)state;
    tp_fifo *q = NULL;
    pthread_t t;
    int x = 1;
    assert_int_equal(tp_fifo_new(&q, 1), 0);
    assert_int_equal(tp_fifo_push(q, &x), 0);
    pthread_create(&t, NULL, close_later, q);
    assert_int_equal(tp_fifo_push(q, &x), TP_ECANCELED);
    pthread_join(t, NULL);
    tp_fifo_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_and_close),
        cmocka_unit_test(test_many_threads),
        cmocka_unit_test(test_close_wakes_blocked_push),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
