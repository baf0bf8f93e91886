/* `tokprep serve`: the local web console (dashboard, file reports, review before posting) and
 * its JSON API over HTTP; a client of the library like every command. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "serve_core.h"

enum { OPT_QUEUE = TP_OPT_USER, OPT_LISTEN, OPT_TOKEN_FILE, OPT_PORT_FILE };

static const tp_cli_option options[] = {
    TP_CLI_OPT_WORKDIR("work folder whose ledger is shown (default: ./tokprep-work)"),
    TP_CLI_OPT_STATE,
    {"queue", 'q', "URL", "also show a Redis queue (redis://HOST[:PORT]/NAME)", OPT_QUEUE},
    {"listen", 0, "ADDR:PORT",
     "address to listen on (default: 127.0.0.1:8724; any other than loopback needs "
     "--auth-token-file)",
     OPT_LISTEN},
    {"profile", 'p', "NAME|FILE", "profile for checks, previews and creator_info (default: tiktok)",
     TP_OPT_PROFILE},
    {"set", 0, "KEY=VALUE", "override one profile setting (repeatable)", TP_OPT_SET},
    {"auth-token-file", 0, "FILE",
     "require the bearer token in FILE on every request (made, 0600, when missing)",
     OPT_TOKEN_FILE},
    /* Hidden (no help text): the tests listen on port 0 and read the port from here. */
    {"port-file", 0, "FILE", NULL, OPT_PORT_FILE},
    {NULL, 0, NULL, NULL, 0},
};

static int run(const tp_cli_command *cmd, int argc, char **argv)
{
    tp_cli_parser parser;
    tp_cli_sets sets = {0};
    tp_profile *profile = NULL;
    const char *state = NULL, *workdir = "./tokprep-work", *profile_name = NULL;
    serve_options so = {.listen = "127.0.0.1:8724"};
    char *state_buf = NULL, *dir_buf = NULL;
    int rc = TP_EXIT_OK, c;
    if (tp_cli_parser_init(&parser, cmd) < 0)
        return TP_EXIT_ERROR;
    while ((c = tp_cli_next(&parser, cmd, argc, argv)) != -1) {
        switch (c) {
        case 'h': rc = TP_EXIT_OK; goto out;
        case '?': rc = TP_EXIT_ERROR; goto out;
        case TP_OPT_STATE: state = optarg; break;
        case 'w': workdir = optarg; break;
        case OPT_QUEUE: so.queue = optarg; break;
        case OPT_LISTEN: so.listen = optarg; break;
        case TP_OPT_PROFILE: profile_name = optarg; break;
        case TP_OPT_SET:
            if (tp_cli_sets_add(&sets, optarg) < 0) {
                fprintf(stderr, "tokprep: out of memory\n");
                rc = TP_EXIT_ERROR;
                goto out;
            }
            break;
        case OPT_TOKEN_FILE: so.auth_token_file = optarg; break;
        case OPT_PORT_FILE: so.port_file = optarg; break;
        default: break;
        }
    }
    if (optind < argc) {
        rc = tp_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (!state)
        state = state_buf = tp_cli_asprintf("%s/tokprep.db", workdir);
    if (!state) {
        fprintf(stderr, "tokprep: out of memory\n");
        rc = TP_EXIT_ERROR;
        goto out;
    }
    /* The work folder is the ledger's folder (with --state too): outputs under it are served. */
    dir_buf = strdup(state);
    if (!dir_buf) {
        rc = TP_EXIT_ERROR;
        goto out;
    }
    char *slash = strrchr(dir_buf, '/');
    if (!slash)
        strcpy(dir_buf, ".");
    else if (slash == dir_buf)
        slash[1] = '\0';
    else
        *slash = '\0';
    if ((rc = tp_cli_open_profile(&profile, profile_name, &sets)) != 0)
        goto out;
    so.state_path = state;
    so.workdir = dir_buf;
    so.profile = profile;
    tp_cancel *stop = tp_cli_install_interrupt();
    if (!stop) {
        fprintf(stderr, "tokprep: out of memory\n");
        rc = TP_EXIT_ERROR;
        goto out;
    }
    rc = serve_run(&so, stop);
out:
    tp_profile_free(profile);
    tp_cli_sets_free(&sets);
    free(state_buf);
    free(dir_buf);
    tp_cli_parser_free(&parser);
    return rc;
}

const tp_cli_command tp_cmd_serve = {
    .name = "serve",
    .summary = "the local web console: dashboard, file reports, review before posting, JSON API",
    .usage = "[-w WORKDIR | --state FILE] [--queue URL] [--listen ADDR:PORT] [--profile P] "
             "[--auth-token-file F]",
    .description =
        "Serves a web console and a JSON API (/api/...) over the job ledger of `tokprep run`,\n"
        "beside a running `run --watch` or workers: every file with its status, live progress\n"
        "over Server-Sent Events, a report per file, and the review of posts parked by\n"
        "upload.tiktok.review (approve with the creator's settings, or reject). It reads the\n"
        "ledger and never creates it. It listens on loopback only unless --auth-token-file is\n"
        "given; POSTs need the page's CSRF token and a same-origin request.\n"
        "Runs until SIGINT/SIGTERM. Exit status: 0 stopped by a signal, 2 usage or set-up error\n"
        "(the address cannot be used, a non-loopback --listen without --auth-token-file, a bad\n"
        "token file).",
    .options = options,
    .old_shorts = tp_cli_old_workdir,
    .example = "tokprep serve -w tokprep-work   # then open http://127.0.0.1:8724/",
    .run = run,
};
