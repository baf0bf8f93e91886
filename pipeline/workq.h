/* A stage's job queue (after Redis bio.c): a bounded FIFO, one mutex, two condition variables.
 * Producers block while it is full, consumers while it is empty; closing wakes everyone. */
#ifndef TP_WORKQ_H
#define TP_WORKQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    void **items;
    size_t cap, head, len;
    bool closed;
} tp_workq;

int tp_workq_init(tp_workq *q, size_t cap);
void tp_workq_destroy(tp_workq *q);
/* Blocking push; false when the queue is closed (the item was not taken). */
bool tp_workq_push(tp_workq *q, void *item);
/* Non-blocking push; false when full or closed. */
bool tp_workq_try_push(tp_workq *q, void *item);
/* Blocking pop; NULL once the queue is closed and drained. */
void *tp_workq_pop(tp_workq *q);
/* Non-blocking pop; NULL when empty. */
void *tp_workq_try_pop(tp_workq *q);
void tp_workq_close(tp_workq *q);
size_t tp_workq_len(tp_workq *q);

#endif
