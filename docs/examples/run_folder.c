/* Embedding tokprep: run the pipeline over files and folders, print one line per finished file,
 * and stop cleanly on Ctrl-C. Only the public API (tokprep.h) is used.
 *
 *   example_run_folder WORKDIR PATH... [-- KEY=VALUE...]
 *
 * The profile is the built-in "tiktok" with the `none` sink (fit and chunk, no upload), and
 * any KEY=VALUE overrides given after "--". Exit status: 0 when nothing failed. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "tokprep.h"

/* What the callback tallies; owned by main, passed as the payload. */
typedef struct {
    int finished, failed;
} tally;

/* A signal handler can only reach the cancellation token through a global. */
static tp_cancel *stop;

static void on_sigint(int sig)
{
    (void)sig;
    tp_cancel_request(stop); /* async-signal-safe: one atomic store */
}

/* Called on the thread that runs tp_pipeline_run(), one event at a time. The event and its
 * strings are only valid during the call. */
static void on_event(const tp_event *ev, void *payload)
{
    tally *t = payload;
    switch (ev->kind) {
    case TP_EVENT_UPLOADED:
        t->finished++;
        printf("done     %s -> %s\n", ev->path, ev->n_outputs ? ev->outputs[0] : "");
        break;
    case TP_EVENT_SKIPPED:
        t->finished++;
        printf("skipped  %s (%s)\n", ev->path, ev->reason);
        break;
    case TP_EVENT_FAILED:
        if (ev->final_failure) {
            t->failed++;
            printf("failed   %s: %s\n", ev->path, ev->reason);
        }
        break;
    case TP_EVENT_SUMMARY:
        printf("summary  %zu discovered, %zu done, %zu skipped, %zu rejected, %zu failed\n",
               ev->n_discovered, ev->n_done, ev->n_skipped, ev->n_rejected, ev->n_failed);
        break;
    default: break; /* probed, fit_progress, ...: see tp_event_to_json() for a generic dump */
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s WORKDIR PATH... [-- KEY=VALUE...]\n", argv[0]);
        return 2;
    }
    const char *sets[32] = {"upload.sink=none"};
    size_t n_sets = 1;
    int n_paths = argc - 2;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--")) {
            n_paths = i - 2;
            for (int k = i + 1; k < argc && n_sets < 32; k++)
                sets[n_sets++] = argv[k];
            break;
        }
    }
    int rc = 2;
    tp_error err = TP_ERROR_INIT;
    tp_profile *profile = NULL;
    tp_pipeline *pipeline = NULL;
    tally t = {0, 0};
    if (tp_global_init(&err) < 0)
        goto out;
    if (tp_profile_open(&profile, "tiktok", sets, n_sets, &err) < 0)
        goto out;
    if (tp_cancel_new(&stop) < 0)
        goto out;
    tp_pipeline_options opts;
    tp_pipeline_options_init(&opts, TP_PIPELINE_OPTIONS_VERSION); /* = TP_PIPELINE_OPTIONS_INIT */
    opts.workdir = argv[1];
    opts.cancel = stop;
    opts.on_event = on_event;
    opts.payload = &t;
    if (tp_pipeline_new(&pipeline, profile, &opts, &err) < 0)
        goto out;
    signal(SIGINT, on_sigint);
    tp_pipeline_summary sum;
    int prc = tp_pipeline_run(pipeline, (const char *const *)argv + 2, (size_t)n_paths, &sum, &err);
    signal(SIGINT, SIG_DFL);
    if (prc == TP_ECANCELED)
        rc = 130;
    else if (prc == 0)
        rc = sum.failed ? 1 : 0;
    printf("%d finished, %d failed\n", t.finished, t.failed);
out:
    if (err.code)
        fprintf(stderr, "error (%s): %s\n", tp_error_name(err.code), tp_error_message(&err));
    tp_error_clear(&err);
    tp_pipeline_free(pipeline);
    tp_cancel_free(stop); /* after the run that was handed it */
    tp_profile_free(profile);
    tp_global_cleanup();
    return rc;
}
