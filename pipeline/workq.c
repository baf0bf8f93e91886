/* Bounded blocking FIFO for the pipeline's stages. */
#include "pipeline/workq.h"

#include <stdlib.h>

int tp_workq_init(tp_workq *q, size_t cap)
{
    q->items = calloc(cap ? cap : 1, sizeof(*q->items));
    if (!q->items)
        return -1;
    q->cap = cap ? cap : 1;
    q->head = q->len = 0;
    q->closed = false;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    pthread_cond_init(&q->not_full, NULL);
    return 0;
}

void tp_workq_destroy(tp_workq *q)
{
    if (!q->items)
        return;
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    free(q->items);
    q->items = NULL;
}

static void put(tp_workq *q, void *item)
{
    q->items[(q->head + q->len) % q->cap] = item;
    q->len++;
    pthread_cond_signal(&q->not_empty);
}

bool tp_workq_push(tp_workq *q, void *item)
{
    pthread_mutex_lock(&q->mu);
    while (q->len == q->cap && !q->closed)
        pthread_cond_wait(&q->not_full, &q->mu);
    bool ok = !q->closed;
    if (ok)
        put(q, item);
    pthread_mutex_unlock(&q->mu);
    return ok;
}

bool tp_workq_try_push(tp_workq *q, void *item)
{
    pthread_mutex_lock(&q->mu);
    bool ok = !q->closed && q->len < q->cap;
    if (ok)
        put(q, item);
    pthread_mutex_unlock(&q->mu);
    return ok;
}

static void *take(tp_workq *q)
{
    void *item = q->items[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
    pthread_cond_signal(&q->not_full);
    return item;
}

void *tp_workq_pop(tp_workq *q)
{
    pthread_mutex_lock(&q->mu);
    while (q->len == 0 && !q->closed)
        pthread_cond_wait(&q->not_empty, &q->mu);
    void *item = q->len ? take(q) : NULL;
    pthread_mutex_unlock(&q->mu);
    return item;
}

void *tp_workq_try_pop(tp_workq *q)
{
    pthread_mutex_lock(&q->mu);
    void *item = q->len ? take(q) : NULL;
    pthread_mutex_unlock(&q->mu);
    return item;
}

void tp_workq_close(tp_workq *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = true;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->mu);
}

size_t tp_workq_len(tp_workq *q)
{
    pthread_mutex_lock(&q->mu);
    size_t n = q->len;
    pthread_mutex_unlock(&q->mu);
    return n;
}
