/* tokprep's entry point: global set-up, then dispatch to the subcommand's row. */
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const tp_cli_command *const tp_cli_commands[] = {
    &tp_cmd_check,   &tp_cmd_fit,    &tp_cmd_preview, &tp_cmd_run,
    &tp_cmd_status,  &tp_cmd_retry,  &tp_cmd_review, &tp_cmd_upload,  &tp_cmd_auth,
    &tp_cmd_profiles, &tp_cmd_enqueue, &tp_cmd_worker, &tp_cmd_serve, &tp_cmd_completion, NULL,
};

const tp_cli_command *tp_cli_find_command(const char *name)
{
    for (size_t i = 0; tp_cli_commands[i]; i++)
        if (!strcmp(name, tp_cli_commands[i]->name))
            return tp_cli_commands[i];
    return NULL;
}

/* "unknown command 'chek'; did you mean 'check'?" */
static int unknown_command(const char *name)
{
    const char *names[32];
    size_t n = 0;
    for (size_t i = 0; tp_cli_commands[i] && n + 1 < TP_ARRAY_LEN(names); i++)
        names[n++] = tp_cli_commands[i]->name;
    names[n++] = "help";
    const char *best = tp_cli_suggest(name, names, n);
    char *shown = tp_str_printable(name);
    if (best)
        fprintf(stderr,
                "tokprep: unknown command '%s'; did you mean '%s'? (see 'tokprep --help')\n",
                shown ? shown : "?", best);
    else
        fprintf(stderr, "tokprep: unknown command '%s' (see 'tokprep --help')\n",
                shown ? shown : "?");
    free(shown);
    return TP_EXIT_ERROR;
}

/* Hidden modes the build runs to write the manual pages (docs/man/), from the same tables as
 * --help: `tokprep __man [COMMAND]` (tokprep.1 without one), `tokprep __man-profile`. */
static int hidden_mode(int argc, char **argv)
{
    if (!strcmp(argv[1], "__man-profile"))
        return tp_cli_print_man_profile(stdout);
    if (argc < 3)
        return tp_cli_print_man(NULL, stdout);
    const tp_cli_command *cmd = tp_cli_find_command(argv[2]);
    return cmd ? tp_cli_print_man(cmd, stdout) : unknown_command(argv[2]);
}

/* The commands that hold tokens, the client secret or the Redis password in memory: a core
 * dump or a same-user ptrace would hand them out (docs/SECURITY.md, class 9). */
static const char *const secret_commands[] = {"run",     "upload", "auth",
                                              "enqueue", "worker", "status",
                                              "serve"};

static void print_main_help(FILE *out)
{
    fprintf(out, "Usage: tokprep [--version] [--help] COMMAND [OPTIONS] [ARGS]\n\n"
                 "Get video ready for TikTok and hand it over.\n\nCommands:\n");
    for (size_t i = 0; tp_cli_commands[i]; i++)
        fprintf(out, "  %-10s %s\n", tp_cli_commands[i]->name, tp_cli_commands[i]->summary);
    fprintf(out, "\nRun 'tokprep COMMAND --help' (or 'tokprep help COMMAND') for a command's "
                 "options and an example.\n"
                 "Environment: TP_LOG=error|warn|info|debug sets the log level.\n");
}

static tp_log_level log_level_from_env(void)
{
    const char *v = getenv("TP_LOG");
    if (!v)
        return TP_LOG_WARN;
    if (!strcmp(v, "error"))
        return TP_LOG_ERROR;
    if (!strcmp(v, "info"))
        return TP_LOG_INFO;
    if (!strcmp(v, "debug"))
        return TP_LOG_DEBUG;
    return TP_LOG_WARN;
}

int main(int argc, char **argv)
{
    setlocale(LC_CTYPE, "");
    if (argc < 2) {
        print_main_help(stderr);
        return TP_EXIT_ERROR;
    }
    if (!strcmp(argv[1], "help") && argc > 2 && argv[2][0] != '-') {
        const tp_cli_command *hc = tp_cli_find_command(argv[2]);
        if (!hc)
            return unknown_command(argv[2]);
        tp_cli_print_help(hc, stdout);
        return TP_EXIT_OK;
    }
    if (!strcmp(argv[1], "__man") || !strcmp(argv[1], "__man-profile"))
        return hidden_mode(argc, argv);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        print_main_help(stdout);
        return TP_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        char buf[1024];
        tp_version_string(buf, sizeof(buf));
        fputs(buf, stdout);
        return TP_EXIT_OK;
    }
    const tp_cli_command *cmd = tp_cli_find_command(argv[1]);
    if (!cmd)
        return unknown_command(argv[1]);
    if (argc > 2 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
        tp_cli_print_help(cmd, stdout);
        return TP_EXIT_OK;
    }
    for (size_t i = 0; i < TP_ARRAY_LEN(secret_commands); i++)
        if (!strcmp(cmd->name, secret_commands[i]))
            tp_cli_protect_secrets();
    tp_log_set_level(log_level_from_env());
    /* Over a file size limit (ulimit -f) a write must fail with EFBIG, which the fit reports and
     * cleans up after, instead of SIGXFSZ killing the process and leaving a temporary file. */
    signal(SIGXFSZ, SIG_IGN);
    tp_error err = TP_ERROR_INIT;
    if (tp_global_init(&err) < 0) {
        fprintf(stderr, "tokprep: %s\n", tp_error_message(&err));
        tp_error_clear(&err);
        return TP_EXIT_ERROR;
    }
    int rc = cmd->run(cmd, argc - 1, argv + 1);
    tp_global_cleanup();
    return rc;
}
