/* `tokprep enqueue`: add one job per file to a Redis queue that `tokprep worker`s consume. */
#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum { OPT_QUEUE = TP_OPT_USER, OPT_FOLLOW };

static const tp_cli_option options[] = {
    {"queue", 'q', "URL", "redis://[[USER]:PASSWORD@]HOST[:PORT]/NAME (required)", OPT_QUEUE},
    {"profile", 'p', "NAME|PATH",
     "profile the workers use for these jobs (default: each worker's --profile)", TP_OPT_PROFILE},
    {"set", 0, "KEY=VALUE",
     "override a profile value for these jobs (repeatable; stored with each job; workers "
     "need --allow-job-set)",
     TP_OPT_SET},
    {"json", 0, NULL, "one JSON line per file, then a summary line", TP_OPT_JSON},
    {"follow-symlinks", 0, NULL,
     "follow symbolic links found in folders (never to outside the folder)", OPT_FOLLOW},
    {NULL, 0, NULL, NULL, 0},
};

typedef struct {
    bool json;
} out_ctx;

static void on_item(const tp_rqueue_item *it, void *payload)
{
    out_ctx *o = payload;
    if (o->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "path", it->path);
        if (it->error) {
            cJSON_AddStringToObject(j, "result", "error");
            cJSON_AddStringToObject(j, "error", it->error);
        } else {
            cJSON_AddStringToObject(j, "result", it->added ? "added" : "exists");
            cJSON_AddStringToObject(j, "fingerprint", it->fingerprint);
            cJSON_AddStringToObject(j, "state", it->state ? it->state : "");
        }
        char *s = cJSON_PrintUnformatted(j);
        if (s)
            printf("%s\n", s);
        free(s);
        cJSON_Delete(j);
    } else {
        /* Paths come from walked names: control characters shown escaped, one file one line. */
        char *path = tp_str_printable(it->path ? it->path : "");
        char *error = tp_str_printable(it->error);
        if (error)
            printf("error    %s\n", error);
        else if (it->error)
            printf("error    (out of memory)\n");
        else if (it->added)
            printf("added    %s\n", path ? path : "?");
        else
            printf("exists   %s (same content already queued, %s)\n", path ? path : "?",
                   it->state ? it->state : "?");
        free(error);
        free(path);
    }
    fflush(stdout);
}

static int run(const tp_cli_command *cmd, int argc, char **argv)
{
    tp_error err = TP_ERROR_INIT;
    tp_cli_parser parser;
    const char *url = NULL, *profile = NULL;
    tp_cli_sets sets = {0};
    char *profile_abs = NULL;
    tp_profile *check = NULL;
    out_ctx o = {false};
    int rc = TP_EXIT_OK, c, follow = 0;
    if (tp_cli_parser_init(&parser, cmd) < 0)
        return TP_EXIT_ERROR;
    while ((c = tp_cli_next(&parser, cmd, argc, argv)) != -1) {
        switch (c) {
        case 'h': rc = TP_EXIT_OK; goto out;
        case '?': rc = TP_EXIT_ERROR; goto out;
        case OPT_QUEUE: url = optarg; break;
        case TP_OPT_PROFILE: profile = optarg; break;
        case TP_OPT_SET: tp_cli_sets_add(&sets, optarg); break;
        case TP_OPT_JSON: o.json = true; break;
        case OPT_FOLLOW: follow = 1; break;
        default: break;
        }
    }
    if (!url) {
        rc = tp_cli_usage_error(cmd, "--queue URL is required");
        goto out;
    }
    if (optind >= argc) {
        rc = tp_cli_usage_error(cmd, "no files or folders given");
        goto out;
    }
    if (profile || sets.n > 0) {
        /* Fail here rather than on every worker (a bad --set too, checked against the named
         * profile or the built-in default); a file is named by its absolute path (it must be
         * on storage the workers share), a built-in by its name. */
        if ((rc = tp_cli_open_profile(&check, profile, &sets)) != 0)
            goto out;
    }
    if (profile) {
        if (strchr(profile, '/') || strstr(profile, ".yaml") || strstr(profile, ".yml")) {
            char buf[PATH_MAX];
            if (realpath(profile, buf))
                profile = profile_abs = strdup(buf);
        }
    }
    tp_rqueue_enqueue_summary sum;
    tp_rqueue_enqueue_options eo = TP_RQUEUE_ENQUEUE_OPTIONS_INIT;
    eo.profile = profile;
    eo.sets = sets.items;
    eo.n_sets = sets.n;
    eo.follow_symlinks = follow;
    if (tp_rqueue_enqueue_with_options(&sum, url, (const char *const *)argv + optind,
                                       (size_t)(argc - optind), &eo, on_item, &o, &err) < 0) {
        fprintf(stderr, "tokprep: %s\n", tp_error_message(&err));
        rc = TP_EXIT_ERROR;
        goto out;
    }
    if (o.json)
        printf("{\"summary\":true,\"added\":%zu,\"existing\":%zu,\"errors\":%zu}\n", sum.added,
               sum.existing, sum.errors);
    else
        printf("%zu added, %zu already queued, %zu error(s)\n", sum.added, sum.existing,
               sum.errors);
    if (sum.errors > 0)
        rc = TP_EXIT_ERROR;
out:
    tp_error_clear(&err);
    tp_profile_free(check);
    tp_cli_sets_free(&sets);
    free(profile_abs);
    tp_cli_parser_free(&parser);
    return rc;
}

const tp_cli_command tp_cmd_enqueue = {
    .name = "enqueue",
    .summary = "add files to a Redis queue for tokprep workers",
    .usage = "--queue redis://HOST[:PORT]/NAME [--profile P] [--set K=V] [--json] "
             "[--follow-symlinks] PATH...",
    .description =
        "Scans PATHs like `run` (folders: walked for audio/video content) and adds one job per\n"
        "file: its absolute path (which must be on storage every worker sees), its content\n"
        "fingerprint and the profile. The same content enqueued twice (even under another\n"
        "name) is one job. --set overrides are stored with each job (the same content with\n"
        "other overrides is another job); a worker applies them to the job's profile only\n"
        "when started with --allow-job-set, and dead-letters such jobs otherwise.\n"
        "The password may be given as TOKPREP_REDIS_PASSWORD or in the file\n"
        "TOKPREP_REDIS_PASSWORD_FILE names; it is never printed (nor left in argv).\n"
        "Exit status: 0 every file queued or already queued, 2 some file could not be\n"
        "read, or the queue cannot be reached (bad URL, connection, password).",
    .options = options,
    .example = "tokprep enqueue --queue redis://redis.local/studio /mnt/share/incoming",
    .run = run,
};
