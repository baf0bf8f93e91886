/* Bounded blocking FIFO: a ring buffer under one mutex, with "not empty" and "not full"
 * condition variables. */
#include "util/fifo.h"

#include <pthread.h>
#include <stdlib.h>

#include "util/tp_util.h"

struct tp_fifo {
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    void **items;
    size_t capacity, head, count;
    bool closed;
};

int tp_fifo_new(tp_fifo **out, size_t capacity)
{
    *out = NULL;
    if (capacity == 0)
        return TP_EINVAL;
    tp_fifo *q = calloc(1, sizeof(*q));
    if (!q)
        return TP_ENOMEM;
    q->items = calloc(capacity, sizeof(*q->items));
    if (!q->items) {
        free(q);
        return TP_ENOMEM;
    }
    q->capacity = capacity;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    pthread_cond_init(&q->not_full, NULL);
    *out = q;
    return 0;
}

void tp_fifo_free(tp_fifo *q)
{
    if (!q)
        return;
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    free(q->items);
    free(q);
}

static void put(tp_fifo *q, void *item)
{
    q->items[(q->head + q->count) % q->capacity] = item;
    q->count++;
    pthread_cond_signal(&q->not_empty);
}

int tp_fifo_push(tp_fifo *q, void *item)
{
    pthread_mutex_lock(&q->lock);
    while (q->count == q->capacity && !q->closed)
        pthread_cond_wait(&q->not_full, &q->lock);
    int rc = q->closed ? TP_ECANCELED : 0;
    if (rc == 0)
        put(q, item);
    pthread_mutex_unlock(&q->lock);
    return rc;
}

int tp_fifo_try_push(tp_fifo *q, void *item)
{
    pthread_mutex_lock(&q->lock);
    int rc = q->closed ? TP_ECANCELED : q->count == q->capacity ? TP_ECONFLICT : 0;
    if (rc == 0)
        put(q, item);
    pthread_mutex_unlock(&q->lock);
    return rc;
}

static void *take(tp_fifo *q)
{
    void *item = q->items[q->head];
    q->items[q->head] = NULL;
    q->head = (q->head + 1) % q->capacity;
    q->count--;
    pthread_cond_signal(&q->not_full);
    return item;
}

int tp_fifo_pop(tp_fifo *q, void **item)
{
    pthread_mutex_lock(&q->lock);
    while (q->count == 0 && !q->closed)
        pthread_cond_wait(&q->not_empty, &q->lock);
    int got = q->count > 0;
    if (got)
        *item = take(q);
    pthread_mutex_unlock(&q->lock);
    return got;
}

int tp_fifo_try_pop(tp_fifo *q, void **item)
{
    pthread_mutex_lock(&q->lock);
    int got = q->count > 0;
    if (got)
        *item = take(q);
    pthread_mutex_unlock(&q->lock);
    return got;
}

void tp_fifo_close(tp_fifo *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = true;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->lock);
}

size_t tp_fifo_length(tp_fifo *q)
{
    pthread_mutex_lock(&q->lock);
    size_t n = q->count;
    pthread_mutex_unlock(&q->lock);
    return n;
}
