/* How `tokprep run` shows events: NDJSON (--json), a live display on a terminal, or plain log
 * lines. A consumer of tp_event only, so any embedder can reuse it. Coordinator thread only. */
#ifndef TP_DISPLAY_H
#define TP_DISPLAY_H

#include <stdio.h>

#include <tokprep.h>

typedef enum { TP_DISPLAY_JSON = 0, TP_DISPLAY_TTY, TP_DISPLAY_LOG } tp_display_mode;

typedef struct tp_display tp_display;

/* out: where events go (stdout). NULL on out-of-memory. */
tp_display *tp_display_new(tp_display_mode mode, FILE *out);
/* A tp_event_cb: pass the display as payload. */
void tp_display_event(const tp_event *ev, void *payload);
void tp_display_free(tp_display *d);

#endif
