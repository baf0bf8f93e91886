/* `tokprep run`: the pipeline over files and folders, with signals and progress output. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "display.h"

enum { OPT_WATCH = TP_OPT_USER, OPT_FORCE, OPT_FOLLOW, OPT_COVER_AT };

static const tp_cli_option options[] = {
    {"profile", 'p', "NAME|PATH", "profile to use (default: tiktok)", TP_OPT_PROFILE},
    {"set", 0, "KEY=VALUE", "override a profile value (repeatable)", TP_OPT_SET},
    TP_CLI_OPT_WORKDIR("work folder (default: ./tokprep-work)"),
    TP_CLI_OPT_STATE,
    {"watch", 0, NULL, "keep running and take new files dropped into the folders", OPT_WATCH},
    {"json", 0, NULL, "NDJSON events on stdout, one per line", TP_OPT_JSON},
    {"force", 0, NULL, "process content the ledger says is done (may deliver it again)", OPT_FORCE},
    {"follow-symlinks", 0, NULL,
     "follow symbolic links found in folders (never to outside the folder)", OPT_FOLLOW},
    {"cover-at", 0, "SECONDS",
     "the frame TikTok shows as the cover (sets upload.tiktok.video_cover_timestamp_ms)",
     OPT_COVER_AT},
    {NULL, 0, NULL, NULL, 0},
};

/* upload.tiktok.review: what waits for a person, and the command that shows it. */
static void print_awaiting(const tp_pipeline_summary *sum, const tp_pipeline_options *opts)
{
    if (sum->version < 3 || sum->awaiting_review == 0)
        return;
    const char *flag = opts->state_path ? "--state" : "-w";
    char *word = tp_cli_shell_word(opts->state_path ? opts->state_path
                                   : opts->workdir  ? opts->workdir
                                                    : "./tokprep-work");
    printf("summary   %zu awaiting review: tokprep review list %s %s\n", sum->awaiting_review, flag,
           word ? word : "?");
    fflush(stdout);
    free(word);
}

static int run(const tp_cli_command *cmd, int argc, char **argv)
{
    tp_error err = TP_ERROR_INIT;
    tp_cli_parser parser;
    tp_cli_sets sets = {0};
    tp_profile *profile = NULL;
    tp_pipeline *pl = NULL;
    tp_display *display = NULL;
    const char *profile_name = NULL;
    tp_pipeline_options opts = TP_PIPELINE_OPTIONS_INIT;
    bool json = false;
    int rc = TP_EXIT_OK, c;
    char cover_set[96];
    if (tp_cli_parser_init(&parser, cmd) < 0)
        return TP_EXIT_ERROR;
    while ((c = tp_cli_next(&parser, cmd, argc, argv)) != -1) {
        switch (c) {
        case 'h': rc = TP_EXIT_OK; goto out;
        case '?': rc = TP_EXIT_ERROR; goto out;
        case TP_OPT_PROFILE: profile_name = optarg; break;
        case TP_OPT_SET: tp_cli_sets_add(&sets, optarg); break;
        case 'w': opts.workdir = optarg; break;
        case TP_OPT_STATE: opts.state_path = optarg; break;
        case OPT_WATCH: opts.watch = 1; break;
        case TP_OPT_JSON: json = true; break;
        case OPT_FORCE: opts.force = 1; break;
        case OPT_FOLLOW: opts.follow_symlinks = 1; break;
        case OPT_COVER_AT:
            if (tp_cli_cover_at(&sets, cover_set, sizeof(cover_set), optarg) < 0) {
                rc = tp_cli_usage_error(cmd, "--cover-at wants seconds >= 0 (have %s)", optarg);
                goto out;
            }
            break;
        default: break;
        }
    }
    if (optind >= argc) {
        rc = tp_cli_usage_error(cmd, "no files or folders given");
        goto out;
    }
    if ((rc = tp_cli_open_profile(&profile, profile_name, &sets)) != 0)
        goto out;
    /* Check before work: a missing login or an unwritable sink stops the run before any fit. */
    if (tp_pipeline_preflight(profile, (const char *const *)argv + optind, (size_t)(argc - optind),
                              &err) < 0) {
        fprintf(stderr, "tokprep run: %s\n", tp_error_message(&err));
        rc = TP_EXIT_ERROR;
        goto out;
    }
    display = tp_display_new(json                     ? TP_DISPLAY_JSON
                             : tp_cli_stdout_is_tty() ? TP_DISPLAY_TTY
                                                      : TP_DISPLAY_LOG,
                             stdout);
    if (!display) {
        rc = TP_EXIT_ERROR;
        goto out;
    }
    opts.on_event = tp_display_event;
    opts.payload = display;
    /* SIGINT/SIGTERM request the token the pipeline polls; a second signal exits at once (the
     * ledger is transactional). */
    opts.cancel = tp_cli_install_interrupt();
    if (tp_pipeline_new(&pl, profile, &opts, &err) < 0) {
        fprintf(stderr, "tokprep: %s\n", tp_error_message(&err));
        rc = TP_EXIT_ERROR;
        goto out;
    }
    tp_pipeline_summary sum = {0};
    int prc = tp_pipeline_run(pl, (const char *const *)argv + optind, (size_t)(argc - optind), &sum,
                              &err);
    tp_cli_set_signal_handler(SIG_DFL);
    if (!json)
        print_awaiting(&sum, &opts);
    if (prc == TP_ECANCELED)
        rc = TP_EXIT_INTERRUPTED;
    else if (prc < 0) {
        fprintf(stderr, "tokprep: %s\n", tp_error_message(&err));
        rc = TP_EXIT_ERROR;
    } else if (sum.failed > 0 || sum.earlier_failed > 0)
        rc = TP_EXIT_ERROR;
    else if (sum.rejected > 0)
        rc = TP_EXIT_FAIL;
out:
    tp_error_clear(&err);
    tp_pipeline_free(pl);
    tp_display_free(display);
    tp_profile_free(profile);
    tp_cli_sets_free(&sets);
    tp_cli_parser_free(&parser);
    return rc;
}

const tp_cli_command tp_cmd_run = {
    .name = "run",
    .summary = "probe, fit, chunk and deliver files and folders, resumably",
    .usage = "[--profile P] [--set K=V] [-w WORKDIR] [--state FILE] [--watch] [--json] [--force] "
             "[--follow-symlinks] PATH...",
    .description =
        "Runs every file (folders: walked for audio/video content) through scan, probe, fit,\n"
        "chunk and the profile's sink (upload.sink: tiktok, directory or none). A job ledger\n"
        "(SQLite) records each content's progress: re-running resumes, and content already\n"
        "delivered to the same sink under the same profile is skipped unless --force.\n"
        "Ctrl-C stops within 2 s (exit 130); a second Ctrl-C exits at once.\n"
        "Exit status: 0 all done or skipped, 1 some rejected, 2 some failed, 130 interrupted.",
    .options = options,
    .old_shorts = tp_cli_old_workdir,
    .example = "tokprep run --set upload.sink=directory --set upload.directory.path=ready "
               "~/Videos",
    .run = run,
};
