/* The events log writer (pipeline/eventlog.h): one write() per NDJSON line, appended; renamed
 * to STATE.events.1 past the cap; progress thinned per file. */
#include "pipeline/eventlog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/tp_util.h"

/* The last progress line written per file (and kind), for the thinning. Files leave it when
 * they end; the list stays as small as the files in flight. */
typedef struct progress_mark {
    struct progress_mark *next;
    tp_event_kind kind;
    double ts;
    char path[];
} progress_mark;

struct tp_eventlog {
    int fd;    /* -1: not open (failed: `off` says whether to try again) */
    bool off;  /* refused or failed for good: no more attempts */
    bool said; /* a failure was logged already */
    char *path, *rotated;
    long long size, cap;
    progress_mark *marks;
    size_t n_marks;
};

#define MAX_MARKS 4096

static void fail_once(tp_eventlog *lg, const char *what, int e)
{
    if (lg->said)
        return;
    lg->said = true;
    tp_log(TP_LOG_DEBUG, "%s: events log %s: %s; events are not logged", lg->path, what,
           strerror(e));
}

static long long cap_from_env(void)
{
    const char *s = getenv("TOKPREP_EVENTS_LOG_MAX");
    char *end = NULL;
    long long v = s && *s ? strtoll(s, &end, 10) : 0;
    return end && *end == '\0' && v >= 1024 ? v : TP_EVENTS_LOG_MAX;
}

/* Open (creating, 0600) without following a link and without blocking on a FIFO; keep it only
 * when it is a regular file of ours. */
static void open_log(tp_eventlog *lg)
{
    int fd =
        open(lg->path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
    if (fd < 0) {
        lg->off = true;
        fail_once(lg, "cannot be opened", errno);
        return;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
        close(fd);
        lg->off = true;
        fail_once(lg, "is not a regular file of ours", EPERM);
        return;
    }
    if ((st.st_mode & 077) && fchmod(fd, st.st_mode & 0700) < 0) {
        close(fd);
        lg->off = true;
        fail_once(lg, "cannot be made private", errno);
        return;
    }
    lg->fd = fd;
    lg->size = (long long)st.st_size;
}

static tp_eventlog *log_new(const char *state_path)
{
    tp_eventlog *lg = calloc(1, sizeof(*lg));
    char buf[4200];
    if (!lg || tp_events_log_path(buf, sizeof(buf), state_path) < 0 ||
        !(lg->path = tp_strdup(buf)) || !(lg->rotated = tp_asprintf("%s.1", buf))) {
        tp_eventlog_close(lg);
        return NULL;
    }
    lg->fd = -1;
    lg->cap = cap_from_env();
    open_log(lg);
    return lg;
}

/* Past the cap: the current log becomes STATE.events.1 (replacing the previous one; rename
 * replaces a link there, never follows it) and a new one starts. A reader following by inode
 * finishes the old file and reopens the name. */
static void rotate(tp_eventlog *lg)
{
    if (rename(lg->path, lg->rotated) < 0) {
        fail_once(lg, "cannot be rotated", errno);
        return; /* keep appending: losing lines is worse than a long log */
    }
    close(lg->fd);
    lg->fd = -1;
    open_log(lg);
}

static progress_mark **find_mark(tp_eventlog *lg, const char *path, tp_event_kind kind)
{
    progress_mark **m = &lg->marks;
    while (*m && ((*m)->kind != kind || strcmp((*m)->path, path)))
        m = &(*m)->next;
    return m;
}

static void forget_file(tp_eventlog *lg, const char *path)
{
    for (progress_mark **m = &lg->marks; *m;) {
        if (!path || !strcmp((*m)->path, path)) {
            progress_mark *dead = *m;
            *m = dead->next;
            free(dead);
            lg->n_marks--;
        } else {
            m = &(*m)->next;
        }
    }
}

/* Is this progress event one to write: the first of its file, half a second after the last
 * one written, or the end (fraction 1). */
static bool progress_due(tp_eventlog *lg, const tp_event *ev)
{
    if (!ev->path)
        return true;
    progress_mark **m = find_mark(lg, ev->path, ev->kind);
    if (*m) {
        if (ev->fraction < 1.0 && ev->ts - (*m)->ts < TP_EVENTS_LOG_PROGRESS_INTERVAL &&
            ev->ts >= (*m)->ts)
            return false;
        (*m)->ts = ev->ts;
        return true;
    }
    if (lg->n_marks >= MAX_MARKS)
        forget_file(lg, NULL);
    size_t len = strlen(ev->path) + 1;
    progress_mark *n = malloc(sizeof(*n) + len);
    if (n) {
        n->kind = ev->kind;
        n->ts = ev->ts;
        memcpy(n->path, ev->path, len);
        n->next = lg->marks;
        lg->marks = n;
        lg->n_marks++;
    }
    return true;
}

static void write_line(tp_eventlog *lg, const char *line)
{
    size_t len = strlen(line);
    if (lg->size > 0 && lg->size + (long long)len > lg->cap)
        rotate(lg);
    if (lg->fd < 0)
        return;
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(lg->fd, line + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fail_once(lg, "cannot be written", n < 0 ? errno : EIO);
            break;
        }
        done += (size_t)n;
    }
    lg->size += (long long)done;
}

void tp_eventlog_write(tp_eventlog **log, const char *state_path, const tp_event *ev)
{
    if (!log || !state_path || !ev)
        return;
    if (!*log && !(*log = log_new(state_path)))
        return;
    tp_eventlog *lg = *log;
    if (lg->off || lg->fd < 0)
        return;
    switch (ev->kind) {
    case TP_EVENT_FIT_PROGRESS:
    case TP_EVENT_UPLOAD_PROGRESS:
        if (!progress_due(lg, ev))
            return;
        break;
    case TP_EVENT_UPLOADED:
    case TP_EVENT_SKIPPED:
    case TP_EVENT_AWAITING_REVIEW:
    case TP_EVENT_FAILED: forget_file(lg, ev->path); break;
    case TP_EVENT_SUMMARY: forget_file(lg, NULL); break;
    default: break;
    }
    char *json = tp_event_to_json(ev);
    char *line = json ? tp_asprintf("%s\n", json) : NULL;
    if (line)
        write_line(lg, line);
    else
        fail_once(lg, "line not made", ENOMEM);
    free(line);
    free(json);
}

void tp_eventlog_close(tp_eventlog *lg)
{
    if (!lg)
        return;
    if (lg->fd >= 0)
        close(lg->fd);
    forget_file(lg, NULL);
    free(lg->path);
    free(lg->rotated);
    free(lg);
}
