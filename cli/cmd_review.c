/* `tokprep review list|approve|reject`: the posts waiting for a person (upload.tiktok.review),
 * and the choice of each one's settings, from the terminal. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum {
    OPT_PRIVACY = TP_OPT_USER,
    OPT_CAPTION,
    OPT_ALLOW_COMMENT,
    OPT_ALLOW_DUET,
    OPT_ALLOW_STITCH,
    OPT_YOUR_BRAND,
    OPT_BRANDED,
    OPT_REASON
};

static const tp_cli_option options[] = {
    TP_CLI_OPT_STATE,
    TP_CLI_OPT_WORKDIR("work folder (default: ./tokprep-work)"),
    {"json", 0, NULL, "list: print a JSON array, one object per waiting post", TP_OPT_JSON},
    {"privacy", 0, "LEVEL",
     "approve (required): PUBLIC_TO_EVERYONE, MUTUAL_FOLLOW_FRIENDS, FOLLOWER_OF_CREATOR or "
     "SELF_ONLY",
     OPT_PRIVACY},
    {"caption", 0, "TEXT", "approve: post with this caption (default: the proposed one)",
     OPT_CAPTION},
    {"allow-comment", 0, NULL, "approve: let viewers comment (default: off)", OPT_ALLOW_COMMENT},
    {"allow-duet", 0, NULL, "approve: allow duets (default: off)", OPT_ALLOW_DUET},
    {"allow-stitch", 0, NULL, "approve: allow stitches (default: off)", OPT_ALLOW_STITCH},
    {"your-brand", 0, NULL,
     "approve: promotional content for your own brand (labeled 'Promotional content')",
     OPT_YOUR_BRAND},
    {"branded-content", 0, NULL,
     "approve: paid partnership (labeled 'Paid partnership'; not with SELF_ONLY)", OPT_BRANDED},
    {"reason", 0, "TEXT", "reject: why (kept in the ledger)", OPT_REASON},
    {NULL, 0, NULL, NULL, 0},
};

static const char *const actions[] = {"list", "approve", "reject", NULL};

/* The ledger as the user named it, for the commands a message suggests. */
typedef struct {
    const char *flag; /* "-w" or "--state" */
    char *word;       /* shell-quoted */
} where;

/* One line built from ledger fields (file names a drop-folder writer chose, captions): shown
 * with control characters escaped. Frees line. */
static void print_line(char *line)
{
    char *shown = line ? tp_str_printable(line) : NULL;
    if (shown)
        printf("%s\n", shown);
    free(shown);
    free(line);
}

static char *proposed_caption(const char *review_json)
{
    cJSON *o = review_json && *review_json ? cJSON_Parse(review_json) : NULL;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "caption");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "caption_error");
    char *s = cJSON_IsString(c) ? tp_cli_asprintf("\"%s\"", c->valuestring)
              : cJSON_IsString(e)
                  ? tp_cli_asprintf("none (%s): give one with --caption", e->valuestring)
                  : tp_cli_asprintf("none: give one with --caption");
    cJSON_Delete(o);
    return s;
}

static void print_outputs(const char *outputs_json)
{
    cJSON *o = outputs_json && *outputs_json ? cJSON_Parse(outputs_json) : NULL;
    int n = cJSON_IsArray(o) ? cJSON_GetArraySize(o) : 0;
    for (int i = 0; i < n; i++) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(o, i), "path");
        if (cJSON_IsString(p))
            print_line(tp_cli_asprintf("    output %d: %s", i + 1, p->valuestring));
    }
    cJSON_Delete(o);
}

static int do_list(const char *state, bool json, const where *w)
{
    tp_ledger_files *files = NULL;
    tp_ledger_files_options fo = TP_LEDGER_FILES_OPTIONS_INIT;
    tp_error err = TP_ERROR_INIT;
    fo.status = "awaiting_review";
    if (tp_ledger_files_read(&files, state, &fo, &err) < 0) {
        fprintf(stderr, "tokprep review: %s\n", tp_error_message(&err));
        tp_error_clear(&err);
        return TP_EXIT_ERROR;
    }
    size_t n = tp_ledger_files_count(files);
    int rc = TP_EXIT_OK;
    if (json) {
        fputs("[", stdout);
        for (size_t i = 0; i < n; i++) {
            char *s = tp_ledger_file_to_json(tp_ledger_files_at(files, i));
            if (!s) {
                fprintf(stderr, "tokprep review: out of memory\n");
                rc = TP_EXIT_ERROR;
                break;
            }
            printf("%s%s", i ? "," : "", s);
            free(s);
        }
        fputs("]\n", stdout);
        tp_ledger_files_free(files);
        return rc;
    }
    if (n == 0)
        printf("Nothing is waiting for review in %s.\n", state);
    for (size_t i = 0; i < n; i++) {
        const tp_ledger_file *f = tp_ledger_files_at(files, i);
        char since[40];
        tp_time_format(since, sizeof(since), f->updated, TP_TIME_LOCAL);
        print_line(
            tp_cli_asprintf("%lld  %s  (waiting since %s)", (long long)f->id, f->path, since));
        char *cap = proposed_caption(f->review);
        print_line(tp_cli_asprintf("    caption: %s", cap ? cap : "?"));
        free(cap);
        print_outputs(f->outputs);
    }
    if (n > 0)
        printf("Post one: tokprep review approve ID --privacy LEVEL %s %s  (or: tokprep review "
               "reject ID %s %s)\n",
               w->flag, w->word, w->flag, w->word);
    tp_ledger_files_free(files);
    return rc;
}

/* EINVAL (bad settings, no such id) and ECONFLICT (not awaiting review) are refusals (1); a
 * ledger that cannot be opened is 2. */
static int review_failed(const char *verb, int64_t id, const tp_error *err, const where *w)
{
    fprintf(stderr, "tokprep review %s: %s\n", verb, tp_error_message(err));
    if (err->code == TP_ECONFLICT ||
        (err->code == TP_EINVAL && id > 0 && strstr(tp_error_message(err), "no file with id")))
        fprintf(stderr, "tokprep review: see what is waiting with: tokprep review list %s %s\n",
                w->flag, w->word);
    return err->code == TP_EINVAL || err->code == TP_ECONFLICT ? TP_EXIT_FAIL : TP_EXIT_ERROR;
}

static int parse_id(const char *s, int64_t *id)
{
    char *end = NULL;
    errno = 0;
    long long v = s && *s >= '0' && *s <= '9' ? strtoll(s, &end, 10) : -1;
    if (v <= 0 || errno || !end || *end)
        return -1;
    *id = v;
    return 0;
}

static int run(const tp_cli_command *cmd, int argc, char **argv)
{
    tp_error err = TP_ERROR_INIT;
    tp_cli_parser parser;
    const char *state = NULL, *workdir = "./tokprep-work", *reason = NULL;
    const char *ops[3];
    int n_ops = 0;
    bool json = false, approve_opts = false;
    tp_post_settings settings = TP_POST_SETTINGS_INIT;
    char *state_buf = NULL;
    where w = {NULL, NULL};
    int rc = TP_EXIT_OK, c;
    if (tp_cli_parser_init(&parser, cmd) < 0)
        return TP_EXIT_ERROR;
    /* `approve ID --privacy L`: options may follow the ID (the parser stops at an operand). */
    for (;;) {
        c = tp_cli_next(&parser, cmd, argc, argv);
        if (c == -1) {
            if (optind >= argc)
                break;
            bool rest = !strcmp(argv[optind - 1], "--");
            do {
                if (n_ops == (int)TP_ARRAY_LEN(ops)) {
                    rc = tp_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
                    goto out;
                }
                ops[n_ops++] = argv[optind++];
            } while (rest && optind < argc);
            if (rest)
                break;
            continue;
        }
        switch (c) {
        case 'h': goto out;
        case '?': rc = TP_EXIT_ERROR; goto out;
        case TP_OPT_STATE: state = optarg; break;
        case 'w': workdir = optarg; break;
        case TP_OPT_JSON: json = true; break;
        case OPT_PRIVACY: settings.privacy_level = optarg; break;
        case OPT_CAPTION: settings.caption = optarg; break;
        case OPT_ALLOW_COMMENT: settings.allow_comment = 1; break;
        case OPT_ALLOW_DUET: settings.allow_duet = 1; break;
        case OPT_ALLOW_STITCH: settings.allow_stitch = 1; break;
        case OPT_YOUR_BRAND: settings.brand_organic = 1; break;
        case OPT_BRANDED: settings.brand_content = 1; break;
        case OPT_REASON: reason = optarg; break;
        default: break;
        }
        if (c >= OPT_PRIVACY && c <= OPT_BRANDED)
            approve_opts = true;
    }
    /* The action comes first (`review approve 3 ...`) or after the options. */
    int next = 0;
    const char *verb = parser.action ? parser.action : n_ops > 0 ? ops[next++] : NULL;
    if (!verb) {
        rc = tp_cli_usage_error(cmd, "missing action: list, approve or reject");
        goto out;
    }
    if (strcmp(verb, "list") && strcmp(verb, "approve") && strcmp(verb, "reject")) {
        char *shown = tp_str_printable(verb);
        rc = tp_cli_usage_error(cmd, "unknown action '%s': expected list, approve or reject",
                                shown ? shown : "?");
        free(shown);
        goto out;
    }
    bool list = !strcmp(verb, "list"), approve = !strcmp(verb, "approve");
    int64_t id = 0;
    if (!list && (next >= n_ops || parse_id(ops[next++], &id) < 0)) {
        rc = tp_cli_usage_error(cmd, "%s needs the ID of a waiting post (see tokprep review list)",
                                verb);
        goto out;
    }
    if (next < n_ops) {
        rc = tp_cli_usage_error(cmd, "unexpected argument '%s'", ops[next]);
        goto out;
    }
    if (json && !list) {
        rc = tp_cli_usage_error(cmd, "--json is for list");
        goto out;
    }
    if (approve_opts && !approve) {
        rc = tp_cli_usage_error(cmd, "--privacy, --caption, --allow-* and the brand options are "
                                     "for approve");
        goto out;
    }
    if (reason && strcmp(verb, "reject")) {
        rc = tp_cli_usage_error(cmd, "--reason is for reject");
        goto out;
    }
    if (approve && !settings.privacy_level) {
        rc = tp_cli_usage_error(cmd, "approve needs --privacy LEVEL: who can see the post "
                                     "(PUBLIC_TO_EVERYONE, MUTUAL_FOLLOW_FRIENDS, "
                                     "FOLLOWER_OF_CREATOR or SELF_ONLY); there is no default");
        goto out;
    }
    if (!state)
        state = state_buf = tp_cli_asprintf("%s/tokprep.db", workdir);
    w.flag = state_buf ? "-w" : "--state";
    w.word = tp_cli_shell_word(state_buf ? workdir : state);
    if (!state || !w.word) {
        fprintf(stderr, "tokprep: out of memory\n");
        rc = TP_EXIT_ERROR;
        goto out;
    }
    if (list) {
        rc = do_list(state, json, &w);
    } else if (approve) {
        if (tp_review_approve(state, id, &settings, &err) < 0) {
            rc = review_failed(verb, id, &err, &w);
            goto out;
        }
        printf("Approved file %lld (%s): the running `tokprep run` posts it within a few "
               "seconds, else the next run on this ledger does (tokprep run %s %s PATH...).\n",
               (long long)id, settings.privacy_level, w.flag, w.word);
    } else {
        if (tp_review_reject(state, id, reason, &err) < 0) {
            rc = review_failed(verb, id, &err, &w);
            goto out;
        }
        printf("Rejected file %lld: it will not be posted (tokprep status %s %s lists it).\n",
               (long long)id, w.flag, w.word);
    }
out:
    tp_error_clear(&err);
    free(state_buf);
    free(w.word);
    tp_cli_parser_free(&parser);
    return rc;
}

const tp_cli_command tp_cmd_review = {
    .name = "review",
    .summary = "list the posts waiting for review (upload.tiktok.review), approve or reject them",
    .usage = "list [--json] | approve ID --privacy LEVEL [--caption TEXT] [--allow-comment] "
             "[--allow-duet] [--allow-stitch] [--your-brand] [--branded-content] | reject ID "
             "[--reason TEXT]  [-w WORKDIR | --state FILE]",
    .description =
        "With upload.tiktok.review: true, `tokprep run` fits each file and parks it in the\n"
        "ledger as awaiting_review instead of posting it.\n"
        "list     the waiting posts: id, file, proposed caption, outputs, since when\n"
        "approve  choose the post's settings (privacy has no default; comments, duets,\n"
        "         stitches and the commercial content disclosure are off unless given) and\n"
        "         queue it: the running `run` (or `run --watch`) posts it within a few\n"
        "         seconds, else the next `run` on this ledger does. A setting the creator\n"
        "         turned off in the TikTok app is sent off.\n"
        "reject   never post it (status rejected, reason \"rejected in review[: REASON]\")\n"
        "Works while a run holds the ledger. By posting, you agree to TikTok's Music Usage\n"
        "Confirmation (and, for branded content, its Branded Content Policy).\n"
        "Exit status: 0 done, 1 refused (bad settings, no such id, not awaiting review),\n"
        "2 usage error or no ledger.",
    .options = options,
    .example = "tokprep review approve 3 --privacy MUTUAL_FOLLOW_FRIENDS --allow-comment -w work",
    .actions = actions,
    .run = run,
};
