/* `tokprep auth`: not implemented yet (see the open issues). */
#include "cli/cli.h"

static const tp_cli_option options[] = {{NULL, 0, NULL, NULL, 0}};

static int run(const tp_cli_command *cmd, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "tokprep %s: not implemented yet\n", cmd->name);
    return TP_EXIT_ERROR;
}

const tp_cli_command tp_cmd_auth = {
    .name = "auth",
    .summary = "(not implemented yet)",
    .usage = "",
    .description = "",
    .options = options,
    .example = NULL,
    .run = run,
};
