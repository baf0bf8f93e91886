/* `tokprep completion bash|zsh`: print the shell completion script (generated from the option
 * tables, so it always matches this binary). */
#include "cli.h"

static const tp_cli_option options[] = {
    {NULL, 0, NULL, NULL, 0},
};

static const char *const actions[] = {"bash", "zsh", NULL};

static int run(const tp_cli_command *cmd, int argc, char **argv)
{
    tp_cli_parser parser;
    int rc = TP_EXIT_OK, c;
    if (tp_cli_parser_init(&parser, cmd) < 0)
        return TP_EXIT_ERROR;
    while ((c = tp_cli_next(&parser, cmd, argc, argv)) != -1) {
        if (c == 'h' || c == '?') {
            rc = c == 'h' ? TP_EXIT_OK : TP_EXIT_ERROR;
            goto out;
        }
    }
    if (!parser.action || optind < argc) {
        rc = tp_cli_usage_error(cmd, "say which shell: bash or zsh");
        goto out;
    }
    rc = tp_cli_print_completion(parser.action, stdout);
out:
    tp_cli_parser_free(&parser);
    return rc;
}

const tp_cli_command tp_cmd_completion = {
    .name = "completion",
    .summary = "print the bash or zsh completion script",
    .usage = "bash | zsh",
    .description =
        "Prints a completion script for commands, their options, profile names and file or\n"
        "folder arguments. bash: source <(tokprep completion bash), or install it as\n"
        "share/bash-completion/completions/tokprep (cmake --install does). zsh: save it as\n"
        "_tokprep in a folder of $fpath (cmake --install writes share/zsh/site-functions).",
    .options = options,
    .example = "tokprep completion bash > ~/.local/share/bash-completion/completions/tokprep",
    .actions = actions,
    .run = run,
};
