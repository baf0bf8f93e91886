/* `tokprep profiles list|show|validate`: inspect built-in and file profiles. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const tp_cli_option options[] = {
    {"set", 0, "KEY=VALUE", "override a value (repeatable), e.g. --set fix.fill=pad", TP_OPT_SET},
    {NULL, 0, NULL, NULL, 0},
};

static const char *const actions[] = {"list", "show", "validate", NULL};

static int run(const tp_cli_command *cmd, int argc, char **argv)
{
    tp_cli_parser parser;
    tp_cli_sets sets = {0};
    int rc = TP_EXIT_OK, c;
    if (tp_cli_parser_init(&parser, cmd) < 0)
        return TP_EXIT_ERROR;
    while ((c = tp_cli_next(&parser, cmd, argc, argv)) != -1) {
        if (c == 'h' || c == '?') {
            rc = c == 'h' ? TP_EXIT_OK : TP_EXIT_ERROR;
            goto out;
        }
        if (c == TP_OPT_SET)
            tp_cli_sets_add(&sets, optarg);
    }
    /* The action comes first (`profiles show --set K=V NAME`) or after the options; the
     * names follow the options. */
    int first = optind;
    const char *verb = parser.action ? parser.action : first < argc ? argv[first++] : NULL;
    if (!verb) {
        rc = tp_cli_usage_error(cmd, "missing action: list, show or validate");
        goto out;
    }
    if (!strcmp(verb, "list")) {
        const char *const *names = tp_profile_builtin_names();
        for (size_t i = 0; names[i]; i++) {
            tp_profile *p = NULL;
            if (tp_cli_open_profile(&p, names[i], NULL) != 0) {
                rc = TP_EXIT_ERROR;
                continue;
            }
            int w, h;
            tp_profile_fix_size(p, &w, &h);
            printf("%-14s sink=%s mode=%s %dx%d fill=%s\n", names[i], tp_profile_sink_name(p),
                   tp_profile_post_mode_name(p), w, h, tp_profile_fill_name(p));
            tp_profile_free(p);
        }
        goto out;
    }
    if (!strcmp(verb, "show") || !strcmp(verb, "validate")) {
        if (first >= argc) {
            rc = tp_cli_usage_error(cmd, "%s needs a profile name or path", verb);
            goto out;
        }
        for (int i = first; i < argc; i++) {
            tp_profile *p = NULL;
            if (tp_cli_open_profile(&p, argv[i], &sets) != 0) {
                rc = TP_EXIT_ERROR;
                continue;
            }
            if (!strcmp(verb, "show")) {
                char *yaml = tp_profile_dump(p);
                printf("%s", yaml ? yaml : "");
                free(yaml);
            } else {
                printf("%s: ok (profile '%s')\n", argv[i], tp_profile_name(p));
            }
            tp_profile_free(p);
        }
        goto out;
    }
    rc = tp_cli_usage_error(cmd, "unknown action '%s': expected list, show or validate", verb);
out:
    tp_cli_sets_free(&sets);
    tp_cli_parser_free(&parser);
    return rc;
}

const tp_cli_command tp_cmd_profiles = {
    .name = "profiles",
    .summary = "list, show or validate profiles",
    .usage = "list | show [--set KEY=VALUE] NAME|PATH... | validate [--set KEY=VALUE] PATH...",
    .description = "list      the built-in profiles\n"
                   "show      print the merged profile as YAML (secrets shown as ***)\n"
                   "validate  load a profile file and report the first error as FILE:LINE:COL",
    .options = options,
    .example = "tokprep profiles show --set fix.fill=pad tiktok-draft",
    .actions = actions,
    .run = run,
};
