/* `tokprep run` output: NDJSON events, a live terminal display, or plain log lines. */
#include "display.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define BUSY_MAX 64
#define REDRAW_INTERVAL 0.1

typedef struct {
    char *path;
    const char *stage; /* static */
    double fraction;
} busy_line;

struct tp_display {
    tp_display_mode mode;
    FILE *out;
    /* live display state */
    int discovered, probed, fitting, fitted, chunked, delivered, skipped, rejected, failed;
    int awaiting; /* parked for review (upload.tiktok.review) */
    busy_line busy[BUSY_MAX];
    int lines_drawn;
    double t0, last_draw;
};

tp_display *tp_display_new(tp_display_mode mode, FILE *out)
{
    tp_display *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->mode = mode;
    d->out = out;
    d->t0 = tp_cli_monotonic();
    return d;
}

void tp_display_free(tp_display *d)
{
    if (!d)
        return;
    for (int i = 0; i < BUSY_MAX; i++)
        free(d->busy[i].path);
    free(d);
}

static busy_line *busy_find(tp_display *d, const char *path, bool create)
{
    busy_line *free_slot = NULL;
    for (int i = 0; i < BUSY_MAX; i++) {
        if (d->busy[i].path && !strcmp(d->busy[i].path, path))
            return &d->busy[i];
        if (!d->busy[i].path && !free_slot)
            free_slot = &d->busy[i];
    }
    if (create && free_slot && (free_slot->path = strdup(path)))
        return free_slot;
    return NULL;
}

static void busy_remove(tp_display *d, const char *path)
{
    busy_line *b = path ? busy_find(d, path, false) : NULL;
    if (b) {
        free(b->path);
        b->path = NULL;
    }
}

static void bar(char *buf, int width, double fraction)
{
    int fill = (int)(fraction * width + 0.5);
    for (int i = 0; i < width; i++)
        buf[i] = i < fill ? '#' : '.';
    buf[width] = '\0';
}

/* One line of human output. Paths and reasons come from file names a drop-folder writer chose:
 * the whole line goes through tp_str_printable, so a name holding ESC sequences or newlines
 * cannot drive the terminal or forge lines (the line's own text has no control characters). */
__attribute__((format(printf, 2, 3))) static void put_line(FILE *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *raw = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!raw)
        return;
    va_start(ap, fmt);
    vsnprintf(raw, (size_t)n + 1, fmt, ap);
    va_end(ap);
    char *shown = tp_str_printable(raw);
    if (shown)
        fprintf(o, "%s\n", shown);
    free(shown);
    free(raw);
}

static void redraw(tp_display *d, bool force)
{
    double now = tp_cli_monotonic();
    if (!force && now - d->last_draw < REDRAW_INTERVAL)
        return;
    d->last_draw = now;
    /* Move back to the top of what we drew last time and clear below. */
    if (d->lines_drawn > 0)
        fprintf(d->out, "\r\033[%dA\033[J", d->lines_drawn);
    int finished = d->delivered + d->skipped + d->rejected + d->failed + d->awaiting;
    double fraction = d->discovered ? (double)finished / d->discovered : 0;
    double elapsed = now - d->t0;
    char b[41], eta[32] = "--";
    if (finished > 0 && finished < d->discovered) {
        int secs = (int)(elapsed / finished * (d->discovered - finished));
        snprintf(eta, sizeof(eta), "%d:%02d", secs / 60, secs % 60);
    }
    /* No line longer than the terminal (a wrapped line would break the redraw's count): the
     * last column stays free; the bar shrinks, names are cut in the middle. */
    int cols = tp_cli_term_columns(fileno(d->out));
    size_t room = cols > 1 ? (size_t)cols - 1 : 0;
    char tail[96];
    snprintf(tail, sizeof(tail), "] %d/%d files  ETA %s", finished, d->discovered, eta);
    int bar_w = 40;
    if (room && room < 40 + 1 + strlen(tail))
        bar_w = room > strlen(tail) + 1 + 5 ? (int)(room - strlen(tail) - 1) : 5;
    bar(b, bar_w, fraction);
    char counts[256];
    snprintf(counts, sizeof(counts),
             "probed %d  fitting %d  fitted %d  chunked %d  delivered %d  skipped %d  "
             "rejected %d  failed %d",
             d->probed, d->fitting, d->fitted, d->chunked, d->delivered, d->skipped, d->rejected,
             d->failed);
    if (d->awaiting > 0) {
        size_t used = strlen(counts);
        snprintf(counts + used, sizeof(counts) - used, "  review %d", d->awaiting);
    }
    if (room && strlen(counts) > room)
        counts[room] = '\0';
    fprintf(d->out, "[%s%s\n", b, tail);
    fprintf(d->out, "%s\n", counts);
    int lines = 2;
    for (int i = 0; i < BUSY_MAX; i++) {
        if (!d->busy[i].path)
            continue;
        const char *name = strrchr(d->busy[i].path, '/');
        name = name ? name + 1 : d->busy[i].path;
        /* "  %-8s %5.1f%%  " is 19 columns. */
        char *shown = tp_str_printable(name);
        char *cut = tp_cli_ellipsize(shown ? shown : "?", room > 19 + 8 ? room - 19
                                                          : room        ? 8
                                                                        : 60);
        fprintf(d->out, "  %-8s %5.1f%%  %s\n", d->busy[i].stage, d->busy[i].fraction * 100,
                cut ? cut : "?");
        free(cut);
        free(shown);
        lines++;
    }
    d->lines_drawn = lines;
    fflush(d->out);
}

static void log_line(tp_display *d, const tp_event *ev)
{
    FILE *o = d->out;
    switch (ev->kind) {
    case TP_EVENT_PROBED:
        put_line(o, "probed    %s: %s%s%s", ev->path, ev->verdict,
                ev->action && strcmp(ev->action, "none") ? " → " : "",
                ev->action && strcmp(ev->action, "none") ? ev->action : "");
        break;
    case TP_EVENT_FIT_DONE:
        put_line(o, "fitted    %s: %zu output(s)", ev->path, ev->n_outputs);
        break;
    case TP_EVENT_CHUNKED:
        put_line(o, "chunked   %s: %zu chunk(s), %lld bytes", ev->path, ev->chunks,
                (long long)ev->total);
        break;
    case TP_EVENT_UPLOADED:
        if (ev->n_outputs > 1)
            put_line(o, "done      %s → %s (+%zu more)", ev->path, ev->outputs[0],
                    ev->n_outputs - 1);
        else
            put_line(o, "done      %s%s%s", ev->path, ev->n_outputs ? " → " : "",
                    ev->n_outputs ? ev->outputs[0] : "");
        break;
    case TP_EVENT_SKIPPED:
        put_line(o, "skipped   %s: %s", ev->path, ev->reason ? ev->reason : "");
        break;
    case TP_EVENT_AWAITING_REVIEW:
        put_line(o, "review    %s: awaiting review (id %lld)", ev->path, (long long)ev->id);
        break;
    case TP_EVENT_FAILED: {
        /* Error messages name the file already. */
        const char *r = ev->reason ? ev->reason : "";
        bool named = ev->path && !strncmp(r, ev->path, strlen(ev->path));
        put_line(o, "%s %s%s%s", ev->final_failure ? "failed   " : "retrying ",
                named ? "" : ev->path, named ? "" : ": ", r);
        break;
    }
    case TP_EVENT_SUMMARY:
        put_line(o,
                 "summary   %zu file(s): %zu done, %zu skipped, %zu rejected, %zu failed in %.1f s",
                ev->n_discovered, ev->n_done, ev->n_skipped, ev->n_rejected, ev->n_failed,
                ev->elapsed);
        if (ev->n_non_media)
            put_line(o, "summary   %zu non-media file%s skipped", ev->n_non_media,
                    ev->n_non_media == 1 ? "" : "s");
        if (ev->n_symlinks)
            put_line(o,
                     "summary   %zu symbolic link%s skipped (not followed; see "
                     "--follow-symlinks)",
                    ev->n_symlinks, ev->n_symlinks == 1 ? "" : "s");
        if (ev->version >= 2 && (ev->n_earlier_rejected || ev->n_earlier_failed))
            put_line(o,
                     "summary   from earlier runs of this ledger: %zu rejected, %zu failed (see "
                     "'tokprep status'; 'tokprep retry' queues the failed ones again)",
                     ev->n_earlier_rejected, ev->n_earlier_failed);
        if (ev->version >= 2 && ev->n_queued)
            put_line(o,
                     "summary   %zu file%s still queued: run the same command again to resume "
                     "%s",
                     ev->n_queued, ev->n_queued == 1 ? "" : "s", ev->n_queued == 1 ? "it" : "them");
        break;
    default: break;
    }
    fflush(o);
}

void tp_display_event(const tp_event *ev, void *payload)
{
    tp_display *d = payload;
    if (d->mode == TP_DISPLAY_JSON) {
        char *s = tp_event_to_json(ev);
        if (s) {
            fputs(s, d->out);
            fputc('\n', d->out);
            fflush(d->out);
        }
        free(s);
        return;
    }
    switch (ev->kind) {
    case TP_EVENT_DISCOVERED: d->discovered++; break;
    case TP_EVENT_PROBED: d->probed++; break;
    case TP_EVENT_FIT_STARTED: {
        d->fitting++;
        busy_line *b = busy_find(d, ev->path, true);
        if (b) {
            b->stage = "fit";
            b->fraction = 0;
        }
        break;
    }
    case TP_EVENT_FIT_PROGRESS:
    case TP_EVENT_UPLOAD_PROGRESS: {
        busy_line *b = busy_find(d, ev->path, true);
        if (b) {
            b->stage = ev->kind == TP_EVENT_FIT_PROGRESS ? "fit" : "upload";
            b->fraction = ev->fraction;
        }
        break;
    }
    case TP_EVENT_FIT_DONE:
        d->fitting--;
        d->fitted++;
        busy_remove(d, ev->path);
        break;
    case TP_EVENT_CHUNKED: d->chunked++; break;
    case TP_EVENT_UPLOADED:
        d->delivered++;
        busy_remove(d, ev->path);
        break;
    case TP_EVENT_AWAITING_REVIEW:
        d->awaiting++;
        busy_remove(d, ev->path);
        break;
    case TP_EVENT_SKIPPED:
        if (ev->verdict && !strcmp(ev->verdict, "reject"))
            d->rejected++;
        else
            d->skipped++;
        busy_remove(d, ev->path);
        break;
    case TP_EVENT_FAILED:
        if (ev->final_failure)
            d->failed++;
        if (busy_find(d, ev->path ? ev->path : "", false) && !strcmp(ev->stage, "fit"))
            d->fitting--;
        busy_remove(d, ev->path);
        break;
    default: break;
    }
    if (d->mode == TP_DISPLAY_TTY) {
        redraw(d, ev->kind == TP_EVENT_SUMMARY);
        if (ev->kind == TP_EVENT_FAILED && ev->final_failure)
            tp_log(TP_LOG_WARN, "%s", ev->reason ? ev->reason : "failed");
        if (ev->kind == TP_EVENT_SUMMARY) {
            d->lines_drawn = 0;
            log_line(d, ev);
        }
    } else {
        log_line(d, ev);
    }
}
