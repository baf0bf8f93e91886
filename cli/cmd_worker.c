/* `tokprep worker`: take jobs from a Redis queue and run the pipeline on them until stopped
 * (SIGTERM: hand the current job back and exit 0, as service managers expect). */
#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

enum { OPT_QUEUE = TP_OPT_USER, OPT_NAME, OPT_DRAIN, OPT_ALLOW_PROFILE, OPT_ROOT, OPT_ALLOW_SETS };

static const tp_cli_option options[] = {
    {"queue", 'q', "URL", "redis://[[USER]:PASSWORD@]HOST[:PORT]/NAME (required)", OPT_QUEUE},
    {"profile", 'p', "NAME|PATH",
     "profile for jobs queued without one; the queue.* settings, endpoints, credentials and "
     "sink of every job (default: tiktok)",
     TP_OPT_PROFILE},
    {"set", 0, "KEY=VALUE", "override a value of every profile this worker loads (repeatable)",
     TP_OPT_SET},
    {"allow-profile", 0, "NAME|PATH",
     "a profile jobs may name besides --profile (repeatable); jobs naming any other are "
     "dead-lettered",
     OPT_ALLOW_PROFILE},
    {"allow-job-set", 0, NULL,
     "run jobs queued with `enqueue --set` (their overrides first, then --set; endpoints, "
     "credentials and folders stay this worker's); without it such jobs are dead-lettered",
     OPT_ALLOW_SETS},
    {"root", 0, "DIR",
     "a folder job paths must lie under (repeatable; required: `--root /` allows any path)",
     OPT_ROOT},
    {"name", 0, "NAME", "consumer name, unique per worker (default: HOSTNAME-PID)", OPT_NAME},
    TP_CLI_OPT_WORKDIR("local work folder and ledger (default: ./tokprep-work/worker-NAME)"),
    TP_CLI_OPT_STATE,
    {"drain", 0, NULL, "exit 0 once no job is waiting or in progress", OPT_DRAIN},
    {"json", 0, NULL, "NDJSON events on stdout (those of `run`, plus job_started/job_finished)",
     TP_OPT_JSON},
    {NULL, 0, NULL, NULL, 0},
};

/* Which signal stopped us decides the exit status; the handler can only set flags and request
 * the token (created before the handler is installed). */
static volatile sig_atomic_t stop_signal;
static tp_cancel *stop_token;

static void on_signal(int sig)
{
    if (stop_signal)
        _exit(TP_EXIT_INTERRUPTED); /* second signal: at once (the job is re-taken later) */
    stop_signal = sig;
    tp_cancel_request(stop_token);
}

typedef struct {
    bool json;
    const char *name;
} out_ctx;

static void print_json(cJSON *j)
{
    char *s = cJSON_PrintUnformatted(j);
    if (s)
        printf("%s\n", s);
    free(s);
    fflush(stdout);
}

static void on_event(const tp_event *ev, void *payload)
{
    out_ctx *o = payload;
    if (!o->json)
        return;
    char *line = tp_event_to_json(ev); /* it names the worker (ev->worker) */
    if (line) {
        printf("%s\n", line);
        fflush(stdout);
    }
    free(line);
}

static void on_job(const tp_rqueue_job_event *ev, void *payload)
{
    out_ctx *o = payload;
    bool started = ev->kind == TP_RQUEUE_JOB_STARTED;
    if (!o->json) {
        /* A job's path is whatever was written into Redis: no terminal escapes from it. */
        char *path = tp_str_printable(ev->path ? ev->path : "?");
        char *reason = ev->reason ? tp_str_printable(ev->reason) : NULL;
        if (started)
            printf("%s start  %s (attempt %d/%d%s)\n", ev->worker, path ? path : "?", ev->attempt,
                   ev->max_attempts, ev->reclaimed ? ", taken over" : "");
        else
            printf("%s %-6s %s%s%s (%.1f s)\n", ev->worker, ev->state, path ? path : "?",
                   reason ? ": " : "", reason ? reason : "", ev->elapsed);
        fflush(stdout);
        free(path);
        free(reason);
        return;
    }
    char *line = tp_rqueue_job_event_to_json(ev);
    if (line) {
        printf("%s\n", line);
        fflush(stdout);
    }
    free(line);
}

static int run(const tp_cli_command *cmd, int argc, char **argv)
{
    tp_error err = TP_ERROR_INIT;
    tp_cli_parser parser;
    tp_cli_sets sets = {0}, allow = {0}, roots = {0};
    tp_rqueue_worker_options opts = TP_RQUEUE_WORKER_OPTIONS_INIT;
    const char *url = NULL;
    char name[256];
    out_ctx o = {false, NULL};
    int rc = TP_EXIT_OK, c;
    if (tp_cli_parser_init(&parser, cmd) < 0)
        return TP_EXIT_ERROR;
    while ((c = tp_cli_next(&parser, cmd, argc, argv)) != -1) {
        switch (c) {
        case 'h': rc = TP_EXIT_OK; goto out;
        case '?': rc = TP_EXIT_ERROR; goto out;
        case OPT_QUEUE: url = optarg; break;
        case TP_OPT_PROFILE: opts.profile = optarg; break;
        case TP_OPT_SET: tp_cli_sets_add(&sets, optarg); break;
        case OPT_ALLOW_PROFILE: tp_cli_sets_add(&allow, optarg); break;
        case OPT_ROOT: tp_cli_sets_add(&roots, optarg); break;
        case OPT_NAME: opts.name = optarg; break;
        case 'w': opts.workdir = optarg; break;
        case TP_OPT_STATE: opts.state_path = optarg; break;
        case OPT_DRAIN: opts.drain = 1; break;
        case OPT_ALLOW_SETS: opts.allow_job_sets = 1; break;
        case TP_OPT_JSON: o.json = true; break;
        default: break;
        }
    }
    if (!url) {
        rc = tp_cli_usage_error(cmd, "--queue URL is required");
        goto out;
    }
    if (optind < argc) {
        rc = tp_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (roots.n == 0) {
        rc = tp_cli_usage_error(cmd, "--root DIR is required: the folders job paths must lie "
                                     "under (`--root /` allows any path)");
        goto out;
    }
    if (!opts.name) {
        /* The library picks the same default; the CLI needs it for the "worker" field. */
        char host[200] = "host";
        gethostname(host, sizeof(host) - 1);
        snprintf(name, sizeof(name), "%s-%ld", host, (long)getpid());
    } else {
        snprintf(name, sizeof(name), "%s", opts.name);
    }
    o.name = name;
    opts.sets = sets.items;
    opts.n_sets = sets.n;
    opts.allow_profiles = allow.items;
    opts.n_allow_profiles = allow.n;
    opts.roots = roots.items;
    opts.n_roots = roots.n;
    opts.on_event = on_event;
    opts.on_job = on_job;
    opts.payload = &o;
    if (tp_cancel_new(&stop_token) < 0) {
        fprintf(stderr, "tokprep: out of memory\n");
        rc = TP_EXIT_ERROR;
        goto out;
    }
    opts.cancel = stop_token;
    stop_signal = 0;
    tp_cli_set_signal_handler(on_signal);
    tp_rqueue_worker_summary sum;
    int wrc = tp_rqueue_worker_run(&sum, url, &opts, &err);
    tp_cli_set_signal_handler(SIG_DFL);
    tp_cancel_free(stop_token);
    stop_token = NULL;
    if (wrc == TP_ECANCELED)
        rc = stop_signal == SIGTERM ? TP_EXIT_OK : TP_EXIT_INTERRUPTED;
    else if (wrc < 0) {
        fprintf(stderr, "tokprep: %s\n", tp_error_message(&err));
        rc = TP_EXIT_ERROR;
    }
    if (wrc == 0 || wrc == TP_ECANCELED) {
        if (o.json) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "event", "worker_summary");
            cJSON_AddNullToObject(j, "path");
            cJSON_AddStringToObject(j, "worker", name);
            cJSON_AddNumberToObject(j, "done", sum.done);
            cJSON_AddNumberToObject(j, "rejected", sum.rejected);
            cJSON_AddNumberToObject(j, "failed", sum.failed);
            cJSON_AddNumberToObject(j, "dead", sum.dead);
            cJSON_AddNumberToObject(j, "requeued", sum.requeued);
            cJSON_AddNumberToObject(j, "deferred", sum.deferred);
            print_json(j);
            cJSON_Delete(j);
        } else
            fprintf(stderr,
                    "%s: %zu done, %zu rejected, %zu failed (retried later), %zu dead-lettered, "
                    "%zu handed back, %zu deferred\n",
                    name, sum.done, sum.rejected, sum.failed, sum.dead, sum.requeued, sum.deferred);
    }
out:
    tp_error_clear(&err);
    tp_cli_sets_free(&sets);
    tp_cli_sets_free(&allow);
    tp_cli_sets_free(&roots);
    tp_cli_parser_free(&parser);
    return rc;
}

const tp_cli_command tp_cmd_worker = {
    .name = "worker",
    .summary = "take jobs from a Redis queue and process them (run one per core or machine)",
    .usage = "--queue redis://HOST[:PORT]/NAME --root DIR [--profile P] [--allow-profile P] "
             "[--set K=V] [--name N] [-w WORKDIR] [--state FILE] [--drain] [--json]",
    .description =
        "Joins the queue's consumer group and runs probe, fit, chunk and delivery for each job,\n"
        "recording the outcome in Redis before acknowledging it. Jobs of a worker that stopped\n"
        "answering are taken over after queue.reclaim_after seconds; a job that failed\n"
        "queue.max_attempts times goes to the dead-letter stream. Jobs queued with a profile\n"
        "use it if --profile or --allow-profile names it (built-ins by name, files by real\n"
        "path), with this worker's endpoints, credentials, token file, sink and shared limits;\n"
        "others use --profile. A job naming another profile, a path outside every --root, a\n"
        "symlink or a non-regular file, or a dest that is not a plain file name is\n"
        "dead-lettered at once with the reason (job fields are data anyone who can write the\n"
        "queue may write).\n"
        "A job deferred by TikTok's daily cap or a long rate limit waits in the delayed set\n"
        "until then (no attempt used); --drain does not wait for deferred jobs.\n"
        "SIGTERM: the current job checkpoints and is handed back, exit 0 (within ~2 s).\n"
        "SIGINT: the same, exit 130. A second signal exits at once (the job is taken over\n"
        "later). Exit status: 0 stopped by SIGTERM or drained (--drain), 2 cannot start\n"
        "(no --root, bad URL, profile, root, work folder, unreachable server, wrong password),\n"
        "130 SIGINT.",
    .options = options,
    .old_shorts = tp_cli_old_workdir,
    .example = "tokprep worker --queue redis://redis.local/studio --root /mnt/share/incoming "
               "--name $(hostname)-1 -w /var/lib/tokprep/1",
    .run = run,
};
