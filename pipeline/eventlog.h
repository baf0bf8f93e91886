/* The events log of a ledger (tp_events_log_path(): STATE.events): every event the coordinator
 * emits, as the NDJSON line `run --json` prints, so another process (`tokprep serve`) can
 * follow a run. Best effort: nothing here ever fails the run. */
#ifndef TP_EVENTLOG_H
#define TP_EVENTLOG_H

#include "tokprep.h"

/* Rotation threshold: past this many bytes the log is renamed to STATE.events.1. The
 * environment variable TOKPREP_EVENTS_LOG_MAX (bytes, >= 1024) overrides it: a test hook. */
#define TP_EVENTS_LOG_MAX (8 * 1024 * 1024)

/* Progress events (fit_progress, upload_progress) of one file at most this often, seconds;
 * one with fraction >= 1 always goes through. */
#define TP_EVENTS_LOG_PROGRESS_INTERVAL 0.5

typedef struct tp_eventlog tp_eventlog;

/* Append ev to the events log of state_path; *log is the writer's state (NULL before the first
 * event: the log is opened then). Opened O_APPEND|O_NOFOLLOW, mode 0600: a symbolic link, or
 * anything but a regular file of ours, is never written (the events go unlogged). A failure
 * is logged once at debug level. Only the coordinator thread calls it. */
void tp_eventlog_write(tp_eventlog **log, const char *state_path, const tp_event *ev);
void tp_eventlog_close(tp_eventlog *log);

#endif
