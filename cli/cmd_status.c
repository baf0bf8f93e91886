/* `tokprep status`: what the job ledger says, by stage and status, with failures. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <time.h>

#include "cli/cli.h"
#include "util/tp_util.h"

enum { OPT_STATE = TP_OPT_USER, OPT_QUEUE };

static const tp_cli_option options[] = {
    {"state", 0, "FILE", "job ledger (default: WORKDIR/tokprep.db)", OPT_STATE},
    {"workdir", 'o', "WORKDIR", "work folder (default: ./tokprep-work)", 'o'},
    {"queue", 'q', "URL", "report a Redis queue (redis://HOST[:PORT]/NAME) instead of a ledger",
     OPT_QUEUE},
    {"json", 0, NULL, "print the report as one JSON document", TP_OPT_JSON},
    {NULL, 0, NULL, NULL, 0},
};

static void print_counts(const cJSON *obj)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, obj)
    {
        printf("  %-10s %d\n", it->string, (int)it->valuedouble);
    }
}

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

static void print_files(const char *title, const cJSON *arr)
{
    if (cJSON_GetArraySize(arr) == 0)
        return;
    printf("%s:\n", title);
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        print_line(tp_asprintf("  %s [%s, %s]: %s",
                               cJSON_GetStringValue(cJSON_GetObjectItem(it, "path")),
                               cJSON_GetStringValue(cJSON_GetObjectItem(it, "stage")),
                               cJSON_GetStringValue(cJSON_GetObjectItem(it, "error")),
                               cJSON_GetStringValue(cJSON_GetObjectItem(it, "reason"))));
    }
}

static double num(const cJSON *obj, const char *key)
{
    return cJSON_GetNumberValue(cJSON_GetObjectItem(obj, key));
}

static void print_queue(const cJSON *doc)
{
    printf("%s: %d job(s)%s\n", cJSON_GetStringValue(cJSON_GetObjectItem(doc, "queue")),
           (int)num(doc, "jobs"),
           cJSON_IsTrue(cJSON_GetObjectItem(doc, "exists")) ? "" : " (no such queue yet)");
    const cJSON *ip = cJSON_GetObjectItem(doc, "in_progress");
    printf("  %-28s %d\n", "pending (not taken yet)", (int)num(doc, "pending"));
    printf("  %-28s %d\n", "in progress (not acked)", (int)num(ip, "total"));
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(ip, "by_worker"))
    {
        /* Consumer names are whatever a Redis client named itself. */
        print_line(tp_asprintf("    %-26s %d", it->string, (int)it->valuedouble));
    }
    printf("  %-28s %d\n", "done", (int)num(doc, "done"));
    printf("  %-28s %d\n", "failed (will be retried)", (int)num(doc, "failed"));
    printf("  %-28s %d\n", "rejected by the profile", (int)num(doc, "rejected"));
    printf("  %-28s %d\n", "dead-lettered", (int)num(doc, "dead"));
    const cJSON *next = cJSON_GetObjectItem(doc, "next_retry_at");
    if (cJSON_IsNumber(next)) {
        char when[32] = "";
        time_t at = (time_t)next->valuedouble;
        struct tm tm;
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime_r(&at, &tm));
        printf("  %-28s %d (next due %s)\n", "deferred (cap/rate limit)", (int)num(doc, "deferred"),
               when);
    } else {
        printf("  %-28s %d\n", "deferred (cap/rate limit)", (int)num(doc, "deferred"));
    }
    const cJSON *age = cJSON_GetObjectItem(doc, "oldest_pending_age");
    if (cJSON_IsNumber(age))
        printf("  %-28s %.0f s\n", "oldest unfinished job", age->valuedouble);
    if (cJSON_GetArraySize(cJSON_GetObjectItem(doc, "workers")) > 0) {
        printf("workers (idle = seconds since the worker last talked to the queue):\n");
        cJSON_ArrayForEach(it, cJSON_GetObjectItem(doc, "workers"))
        {
            print_line(tp_asprintf("  %-28s pending %d, idle %.0f s",
                                   cJSON_GetStringValue(cJSON_GetObjectItem(it, "name")),
                                   (int)num(it, "pending"), num(it, "idle")));
        }
    }
    if (cJSON_GetArraySize(cJSON_GetObjectItem(doc, "dead_letters")) > 0) {
        printf("dead letters (latest first):\n");
        cJSON_ArrayForEach(it, cJSON_GetObjectItem(doc, "dead_letters"))
        {
            print_line(tp_asprintf("  %s [%s, %d attempt(s)]: %s",
                                   cJSON_GetStringValue(cJSON_GetObjectItem(it, "path")),
                                   cJSON_GetStringValue(cJSON_GetObjectItem(it, "error_code")),
                                   (int)num(it, "attempts"),
                                   cJSON_GetStringValue(cJSON_GetObjectItem(it, "reason"))));
        }
    }
}

static int run(const tp_cli_command *cmd, int argc, char **argv)
{
    tp_error err = TP_ERROR_INIT;
    tp_cli_parser parser;
    const char *state = NULL, *workdir = "./tokprep-work", *queue = NULL;
    bool json = false;
    char *report = NULL, *state_buf = NULL;
    cJSON *doc = NULL;
    int rc = TP_EXIT_OK, c;
    if (tp_cli_parser_init(&parser, cmd) < 0)
        return TP_EXIT_ERROR;
    while ((c = tp_cli_next(&parser, cmd, argc, argv)) != -1) {
        if (c == 'h' || c == '?') {
            rc = c == 'h' ? TP_EXIT_OK : TP_EXIT_ERROR;
            goto out;
        }
        if (c == OPT_STATE)
            state = optarg;
        else if (c == 'o')
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
        if (json) {
            printf("%s\n", report);
        } else {
            doc = cJSON_Parse(report);
            print_queue(doc);
        }
        goto out;
    }
    if (!state)
        state = state_buf = tp_asprintf("%s/tokprep.db", workdir);
    if (tp_pipeline_status(&report, state, &err) < 0) {
        fprintf(stderr, "tokprep: %s\n", tp_error_message(&err));
        rc = TP_EXIT_ERROR;
        goto out;
    }
    if (json) {
        printf("%s\n", report);
        goto out;
    }
    doc = cJSON_Parse(report);
    printf("%s: %d file(s)\n", state, (int)cJSON_GetNumberValue(cJSON_GetObjectItem(doc, "total")));
    printf("by status:\n");
    print_counts(cJSON_GetObjectItem(doc, "by_status"));
    if (cJSON_GetArraySize(cJSON_GetObjectItem(doc, "pending_by_stage")) > 0) {
        printf("queued or running, by stage:\n");
        print_counts(cJSON_GetObjectItem(doc, "pending_by_stage"));
    }
    print_files("failed (tokprep retry re-queues them)", cJSON_GetObjectItem(doc, "failed"));
    print_files("rejected by the profile", cJSON_GetObjectItem(doc, "rejected"));
out:
    tp_error_clear(&err);
    cJSON_Delete(doc);
    free(report);
    free(state_buf);
    tp_cli_parser_free(&parser);
    return rc;
}

const tp_cli_command tp_cmd_status = {
    .name = "status",
    .summary = "show the job ledger (or a Redis queue): counts by stage and status, failures",
    .usage = "[--state FILE | -o WORKDIR | --queue URL] [--json]",
    .description =
        "Reads the ledger of `tokprep run` (also while a run is going on), or with --queue the\n"
        "Redis queue of `tokprep worker`s: pending, in progress by worker, done, failed, dead.\n"
        "Exit status: 0 report printed, 2 the ledger or queue cannot be read.",
    .options = options,
    .example = "tokprep status --state tokprep-work/tokprep.db",
    .run = run,
};
