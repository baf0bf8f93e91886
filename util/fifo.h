/* A bounded, blocking FIFO of pointers for producer/consumer stages (after Redis' bio.c: one
 * mutex, two condition variables). Any number of producers and consumers; the queue never owns
 * the items it carries. */
#ifndef TP_FIFO_H
#define TP_FIFO_H

#include <stdbool.h>
#include <stddef.h>

typedef struct tp_fifo tp_fifo;

/* A queue holding at most `capacity` (>= 1) items. Returns 0 or TP_ENOMEM / TP_EINVAL. */
int tp_fifo_new(tp_fifo **out, size_t capacity);
/* Frees the queue (not the items still in it). Call only once no thread uses it. NULL ok. */
void tp_fifo_free(tp_fifo *q);

/* Append item, blocking while the queue is full. Returns 0, or TP_ECANCELED when the queue is
 * (or becomes, while waiting) closed: the item was not queued. Thread-safe. */
int tp_fifo_push(tp_fifo *q, void *item);
/* Non-blocking push: 0 when queued, TP_ECONFLICT when full, TP_ECANCELED when closed (the
 * item was not queued). For a dispatcher that must never block on one busy stage. Thread-safe. */
int tp_fifo_try_push(tp_fifo *q, void *item);
/* Take the oldest item, blocking while the queue is empty and open. Returns 1 with *item set,
 * or 0 when the queue is closed and drained (consumers then exit). Thread-safe. */
int tp_fifo_pop(tp_fifo *q, void **item);
/* Non-blocking pop: 1 with *item, 0 when empty (open or closed). Thread-safe. */
int tp_fifo_try_pop(tp_fifo *q, void **item);
/* No more pushes: wakes every waiter. Items already queued are still popped. Idempotent,
 * thread-safe. */
void tp_fifo_close(tp_fifo *q);
/* Items currently queued (a snapshot). Thread-safe. */
size_t tp_fifo_length(tp_fifo *q);

#endif
