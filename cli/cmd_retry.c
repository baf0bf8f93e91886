/* `tokprep retry`: re-queue the files the ledger records as failed. */
#include <stdlib.h>

#include "cli.h"

static const tp_cli_option options[] = {
    TP_CLI_OPT_STATE,
    TP_CLI_OPT_WORKDIR("work folder (default: ./tokprep-work)"),
    {NULL, 0, NULL, NULL, 0},
};

static int run(const tp_cli_command *cmd, int argc, char **argv)
{
    tp_error err = TP_ERROR_INIT;
    tp_cli_parser parser;
    const char *state = NULL, *workdir = "./tokprep-work";
    char *state_buf = NULL;
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
    }
    if (optind < argc) {
        rc = tp_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (!state)
        state = state_buf = tp_cli_asprintf("%s/tokprep.db", workdir);
    size_t n = 0;
    if (tp_pipeline_retry(&n, state, &err) < 0) {
        fprintf(stderr, "tokprep: %s\n", tp_error_message(&err));
        rc = TP_EXIT_ERROR;
        goto out;
    }
    printf("%zu failed file(s) re-queued; run `tokprep run` over them again to process them\n", n);
out:
    tp_error_clear(&err);
    free(state_buf);
    tp_cli_parser_free(&parser);
    return rc;
}

const tp_cli_command tp_cmd_retry = {
    .name = "retry",
    .summary = "re-queue the files a run recorded as failed",
    .usage = "[--state FILE | -w WORKDIR]",
    .description = "Marks failed files in the ledger as queued again (attempts reset). The next\n"
                   "`tokprep run` over the same files or folders processes them.",
    .options = options,
    .old_shorts = tp_cli_old_workdir,
    .example = "tokprep retry && tokprep run ~/Videos",
    .run = run,
};
