/* `tokprep status`: what the job ledger says, by stage and status, with failures. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

enum { OPT_QUEUE = TP_OPT_USER };

static const tp_cli_option options[] = {
    TP_CLI_OPT_STATE,
    TP_CLI_OPT_WORKDIR("work folder (default: ./tokprep-work)"),
    {"queue", 'q', "URL", "report a Redis queue (redis://HOST[:PORT]/NAME) instead of a ledger",
     OPT_QUEUE},
    {"json", 0, NULL, "print the report as one JSON document", TP_OPT_JSON},
    {NULL, 0, NULL, NULL, 0},
};

/* Prints and frees one line built from ledger or queue fields: paths come from file names a
 * drop-folder writer chose (or from Redis), so control characters are shown escaped. */
static void print_line(char *line)
{
    char *shown = tp_str_printable(line);
    if (shown)
        printf("%s\n", shown);
    free(shown);
    free(line);
}

static void print_counts(const tp_ledger_status *st,
                         int (*at)(const tp_ledger_status *, size_t, const char **, size_t *),
                         size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *name = NULL;
        size_t count = 0;
        if (at(st, i, &name, &count) == 0)
            printf("  %-10s %d\n", name, (int)count);
    }
}

static void print_files(const char *title, const tp_ledger_status *st,
                        const tp_ledger_item *(*at)(const tp_ledger_status *, size_t), size_t n)
{
    if (n == 0)
        return;
    printf("%s:\n", title);
    for (size_t i = 0; i < n; i++) {
        const tp_ledger_item *it = at(st, i);
        print_line(tp_cli_asprintf("  %s [%s, %s]: %s", it->path, it->stage, it->error,
                                   tp_cli_strip_path(it->reason, it->path)));
    }
}

static void print_ledger(const tp_ledger_status *st)
{
    printf("%s: %d file(s)\n", tp_ledger_status_state_path(st), (int)tp_ledger_status_total(st));
    printf("by status:\n");
    print_counts(st, tp_ledger_status_status, tp_ledger_status_status_count(st));
    if (tp_ledger_status_stage_count(st) > 0) {
        printf("queued or running, by stage:\n");
        print_counts(st, tp_ledger_status_stage, tp_ledger_status_stage_count(st));
    }
    print_files("failed (tokprep retry re-queues them)", st, tp_ledger_status_failed,
                tp_ledger_status_failed_count(st));
    print_files("rejected (by the profile, or in review)", st, tp_ledger_status_rejected,
                tp_ledger_status_rejected_count(st));
    /* upload.tiktok.review: say where the waiting posts are decided. */
    for (size_t i = 0; i < tp_ledger_status_status_count(st); i++) {
        const char *name = NULL;
        size_t n = 0;
        if (tp_ledger_status_status(st, i, &name, &n) == 0 && !strcmp(name, "awaiting_review")) {
            char *word = tp_cli_shell_word(tp_ledger_status_state_path(st));
            printf("%zu awaiting review: tokprep review list --state %s\n", n, word ? word : "?");
            free(word);
        }
    }
}

static void print_queue(const tp_rqueue_report *q)
{
    printf("%s: %d job(s)%s\n", q->queue, (int)q->jobs, q->exists ? "" : " (no such queue yet)");
    printf("  %-28s %d\n", "pending (not taken yet)", (int)q->pending);
    printf("  %-28s %d\n", "in progress (not acked)", (int)q->in_progress);
    for (size_t i = 0; i < q->n_in_progress_by_worker; i++) {
        /* Consumer names are whatever a Redis client named itself. */
        print_line(tp_cli_asprintf("    %-26s %d", q->in_progress_by_worker[i].name,
                               (int)q->in_progress_by_worker[i].n));
    }
    printf("  %-28s %d\n", "done", (int)q->jobs_done);
    printf("  %-28s %d\n", "failed (will be retried)", (int)q->jobs_failed);
    printf("  %-28s %d\n", "rejected by the profile", (int)q->jobs_rejected);
    printf("  %-28s %d\n", "dead-lettered", (int)q->dead);
    if (q->has_next_retry_at) {
        char when[32];
        tp_time_format(when, sizeof(when), q->next_retry_at, TP_TIME_LOCAL);
        printf("  %-28s %d (next due %s)\n", "deferred (cap/rate limit)", (int)q->deferred, when);
    } else {
        printf("  %-28s %d\n", "deferred (cap/rate limit)", (int)q->deferred);
    }
    if (q->has_oldest_pending_age)
        printf("  %-28s %.0f s\n", "oldest unfinished job", q->oldest_pending_age);
    if (q->n_workers > 0) {
        printf("workers (idle = seconds since the worker last talked to the queue):\n");
        for (size_t i = 0; i < q->n_workers; i++)
            print_line(tp_cli_asprintf("  %-28s pending %d, idle %.0f s", q->workers[i].name,
                                   (int)q->workers[i].pending, q->workers[i].idle));
    }
    if (q->n_dead_letters > 0) {
        printf("dead letters (latest first):\n");
        for (size_t i = 0; i < q->n_dead_letters; i++) {
            const tp_rqueue_dead_letter *d = &q->dead_letters[i];
            print_line(tp_cli_asprintf("  %s [%s, %d attempt(s)]: %s", d->path, d->error_code,
                                   (int)d->attempts, d->reason));
        }
    }
}

/* Prints the JSON form of a report (--json) and frees it. */
static int print_json(char *json)
{
    if (!json) {
        fprintf(stderr, "tokprep: out of memory\n");
        return TP_EXIT_ERROR;
    }
    printf("%s\n", json);
    free(json);
    return TP_EXIT_OK;
}

static int run(const tp_cli_command *cmd, int argc, char **argv)
{
    tp_error err = TP_ERROR_INIT;
    tp_cli_parser parser;
    const char *state = NULL, *workdir = "./tokprep-work", *queue = NULL;
    bool json = false;
    char *state_buf = NULL;
    tp_ledger_status *ledger = NULL;
    tp_rqueue_report *report = NULL;
    int rc = TP_EXIT_OK, c;
    if (tp_cli_parser_init(&parser, cmd) < 0)
        return TP_EXIT_ERROR;
    while ((c = tp_cli_next(&parser, cmd, argc, argv)) != -1) {
        if (c == 'h' || c == '?') {
            rc = c == 'h' ? TP_EXIT_OK : TP_EXIT_ERROR;
            goto out;
        }
        if (c == TP_OPT_STATE)
            state = optarg;
        else if (c == 'w')
            workdir = optarg;
        else if (c == TP_OPT_JSON)
            json = true;
        else if (c == OPT_QUEUE)
            queue = optarg;
    }
    if (optind < argc) {
        rc = tp_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (queue) {
        if (tp_rqueue_status(&report, queue, &err) < 0) {
            fprintf(stderr, "tokprep: %s\n", tp_error_message(&err));
            rc = TP_EXIT_ERROR;
            goto out;
        }
        if (json)
            rc = print_json(tp_rqueue_report_to_json(report));
        else
            print_queue(report);
        goto out;
    }
    if (!state)
        state = state_buf = tp_cli_asprintf("%s/tokprep.db", workdir);
    if (tp_pipeline_status(&ledger, state, &err) < 0) {
        fprintf(stderr, "tokprep: %s\n", tp_error_message(&err));
        rc = TP_EXIT_ERROR;
        goto out;
    }
    if (json)
        rc = print_json(tp_ledger_status_to_json(ledger));
    else
        print_ledger(ledger);
out:
    tp_ledger_status_free(ledger);
    tp_rqueue_report_free(report);
    tp_error_clear(&err);
    free(state_buf);
    tp_cli_parser_free(&parser);
    return rc;
}

const tp_cli_command tp_cmd_status = {
    .name = "status",
    .summary = "show the job ledger (or a Redis queue): counts by stage and status, failures",
    .usage = "[--state FILE | -w WORKDIR | --queue URL] [--json]",
    .description =
        "Reads the ledger of `tokprep run` (also while a run is going on), or with --queue the\n"
        "Redis queue of `tokprep worker`s: pending, in progress by worker, done, failed, dead.\n"
        "Exit status: 0 report printed, 2 the ledger or queue cannot be read.",
    .options = options,
    .old_shorts = tp_cli_old_workdir,
    .example = "tokprep status --state tokprep-work/tokprep.db",
    .run = run,
};
