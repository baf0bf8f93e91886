/* Pipeline events: names and their NDJSON form (one object per line, `ts`, `event`, `path`). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "util/tp_util.h"

static const char *const event_names[] = {
    "discovered",      "probed",   "fit_started", "fit_progress", "fit_done", "chunked",
    "upload_progress", "uploaded", "failed",      "skipped",      "summary",
    "awaiting_review",
};

const char *tp_event_name(tp_event_kind kind)
{
    return (unsigned)kind < TP_ARRAY_LEN(event_names) ? event_names[kind] : "unknown";
}

static void add_str(cJSON *o, const char *k, const char *v)
{
    if (v)
        cJSON_AddStringToObject(o, k, v);
}

/* cJSON prints doubles with up to 17 significant digits; progress needs 3. */
static double round3(double v)
{
    return round(v * 1000.0) / 1000.0;
}

char *tp_event_to_json(const tp_event *ev)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    char ts[40];
    tp_iso8601(ts, sizeof(ts), ev->ts);
    cJSON_AddStringToObject(o, "ts", ts);
    cJSON_AddStringToObject(o, "event", tp_event_name(ev->kind));
    if (ev->path)
        cJSON_AddStringToObject(o, "path", ev->path);
    else
        cJSON_AddNullToObject(o, "path");
    switch (ev->kind) {
    case TP_EVENT_DISCOVERED: break;
    case TP_EVENT_PROBED:
        add_str(o, "verdict", ev->verdict);
        add_str(o, "action", ev->action);
        add_str(o, "reason", ev->reason);
        break;
    case TP_EVENT_FIT_STARTED: add_str(o, "action", ev->action); break;
    case TP_EVENT_FIT_PROGRESS:
        cJSON_AddNumberToObject(o, "fraction", round3(ev->fraction));
        cJSON_AddNumberToObject(o, "fps", round3(ev->fps));
        break;
    case TP_EVENT_CHUNKED:
        cJSON_AddNumberToObject(o, "chunks", ev->chunks);
        cJSON_AddNumberToObject(o, "bytes", (double)ev->total);
        break;
    case TP_EVENT_UPLOAD_PROGRESS:
        cJSON_AddNumberToObject(o, "bytes", (double)ev->bytes);
        cJSON_AddNumberToObject(o, "total", (double)ev->total);
        cJSON_AddNumberToObject(o, "fraction", round3(ev->fraction));
        break;
    case TP_EVENT_UPLOADED: add_str(o, "publish_id", ev->publish_id); break;
    case TP_EVENT_FAILED:
        add_str(o, "stage", ev->stage);
        add_str(o, "error", ev->error_code);
        add_str(o, "reason", ev->reason);
        cJSON_AddBoolToObject(o, "final", ev->final_failure != 0);
        break;
    case TP_EVENT_SKIPPED:
        add_str(o, "reason", ev->reason);
        add_str(o, "verdict", ev->verdict);
        if (ev->retry_at > 0) { /* deferred: when TikTok's cap or limit allows it again */
            char when[40];
            tp_iso8601(when, sizeof(when), ev->retry_at);
            cJSON_AddStringToObject(o, "retry_at", when);
        }
        break;
    case TP_EVENT_SUMMARY:
        cJSON_AddNumberToObject(o, "discovered", ev->n_discovered);
        cJSON_AddNumberToObject(o, "done", ev->n_done);
        cJSON_AddNumberToObject(o, "skipped", ev->n_skipped);
        cJSON_AddNumberToObject(o, "rejected", ev->n_rejected);
        cJSON_AddNumberToObject(o, "failed", ev->n_failed);
        cJSON_AddNumberToObject(o, "non_media_skipped", ev->n_non_media);
        cJSON_AddNumberToObject(o, "symlinks_skipped", ev->n_symlinks);
        if (ev->version >= 2) {
            cJSON_AddNumberToObject(o, "queued", ev->n_queued);
            cJSON_AddNumberToObject(o, "earlier_rejected", ev->n_earlier_rejected);
            cJSON_AddNumberToObject(o, "earlier_failed", ev->n_earlier_failed);
        }
        if (ev->version >= 3)
            cJSON_AddNumberToObject(o, "awaiting_review", ev->n_awaiting_review);
        cJSON_AddNumberToObject(o, "elapsed", round3(ev->elapsed));
        break;
    default: break;
    }
    if (ev->kind == TP_EVENT_FIT_DONE || ev->kind == TP_EVENT_UPLOADED ||
        ev->kind == TP_EVENT_AWAITING_REVIEW) {
        cJSON *arr = cJSON_AddArrayToObject(o, "outputs");
        for (size_t i = 0; arr && i < ev->n_outputs; i++)
            cJSON_AddItemToArray(arr, cJSON_CreateString(ev->outputs[i]));
    }
    if (ev->fingerprint && ev->kind != TP_EVENT_FIT_PROGRESS &&
        ev->kind != TP_EVENT_UPLOAD_PROGRESS)
        cJSON_AddStringToObject(o, "fingerprint", ev->fingerprint);
    add_str(o, "worker", ev->worker);
    /* The ledger row (`tokprep review approve ID`, the console's /files/ID). */
    if (ev->version >= 3 && ev->id > 0)
        cJSON_AddNumberToObject(o, "id", (double)ev->id);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

char *tp_rqueue_job_event_to_json(const tp_rqueue_job_event *ev)
{
    cJSON *j = ev ? cJSON_CreateObject() : NULL;
    if (!j)
        return NULL;
    bool started = ev->kind == TP_RQUEUE_JOB_STARTED;
    char ts[40];
    tp_iso8601(ts, sizeof(ts), ev->ts);
    cJSON_AddStringToObject(j, "ts", ts);
    cJSON_AddStringToObject(j, "event", started ? "job_started" : "job_finished");
    cJSON_AddStringToObject(j, "worker", ev->worker ? ev->worker : "");
    if (ev->path)
        cJSON_AddStringToObject(j, "path", ev->path);
    else
        cJSON_AddNullToObject(j, "path");
    add_str(j, "fingerprint", ev->fingerprint);
    cJSON_AddStringToObject(j, "profile", ev->profile ? ev->profile : "");
    add_str(j, "state", ev->state);
    add_str(j, "reason", ev->reason);
    cJSON_AddNumberToObject(j, "attempt", ev->attempt);
    cJSON_AddNumberToObject(j, "max_attempts", ev->max_attempts);
    cJSON_AddBoolToObject(j, "reclaimed", ev->reclaimed != 0);
    if (!started)
        cJSON_AddNumberToObject(j, "elapsed", ev->elapsed);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return text;
}
