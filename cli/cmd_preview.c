/* `tokprep preview`: stills of each file's planned output with TikTok's UI drawn over them, in
 * OUTDIR/<stem>.preview.png, and the ui_overlap warning. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum { OPT_OUT = 'o', OPT_FRAMES = TP_OPT_USER };

static const tp_cli_option options[] = {
    {"profile", 'p', "NAME|PATH", "profile whose plan is previewed (default: tiktok)",
     TP_OPT_PROFILE},
    {"set", 0, "KEY=VALUE",
     "override a profile value (repeatable), e.g. --set preview.safe_zone.bottom=500", TP_OPT_SET},
    {"output", 'o', "OUTDIR", "folder for the PNGs (required; created if missing)", OPT_OUT},
    {"frames", 0, "N", "stills per file, evenly spaced (1..64, default 4)", OPT_FRAMES},
    {"json", 0, NULL, "print one JSON document on stdout instead of text", TP_OPT_JSON},
    {NULL, 0, NULL, NULL, 0},
};

static void print_escaped(const char *s)
{
    char *e = tp_str_printable(s);
    fputs(e ? e : "?", stdout);
    free(e);
}

static void print_text(const char *path, const tp_preview_result *r)
{
    print_escaped(path);
    fputs(" → ", stdout);
    print_escaped(tp_preview_result_png(r));
    putchar('\n');
    for (size_t i = 0; i < tp_preview_result_frame_count(r); i++) {
        double share = tp_preview_result_frame_overlap(r, i);
        printf("  %8.2f s: %4.1f%% high-detail pixels under the UI (%s)%s\n",
               tp_preview_result_frame_time(r, i), share * 100.0,
               tp_preview_result_frame_region(r, i),
               share > tp_preview_result_threshold(r) ? ": ui_overlap" : "");
    }
    if (tp_preview_result_ui_overlap(r))
        printf("  warning: ui_overlap: detail under TikTok's UI (text or faces may be hidden; "
               "see the PNG)\n");
}

/* The file name without folder and extension: what names the PNG. */
static size_t stem_of(const char *path, const char **start)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    *start = base;
    return dot && dot != base ? (size_t)(dot - base) : strlen(base);
}

/* An earlier FILE with the same stem: this one's PNG would replace that one's. */
static bool stem_taken(char **argv, int first, int i)
{
    const char *a, *b;
    size_t na = stem_of(argv[i], &a);
    for (int k = first; k < i; k++) {
        size_t nb = stem_of(argv[k], &b);
        if (na == nb && !memcmp(a, b, na))
            return true;
    }
    return false;
}

static int run(const tp_cli_command *cmd, int argc, char **argv)
{
    tp_cli_parser parser;
    tp_cli_sets sets = {0};
    tp_profile *profile = NULL;
    const char *profile_name = "tiktok", *outdir = NULL;
    bool json = false;
    int rc = TP_EXIT_OK, c, n_ok = 0, n_reject = 0, n_fail = 0, n_warn = 0;
    tp_preview_options opts = TP_PREVIEW_OPTIONS_INIT;
    cJSON *doc = NULL, *files = NULL;
    if (tp_cli_parser_init(&parser, cmd) < 0)
        return TP_EXIT_ERROR;
    while ((c = tp_cli_next(&parser, cmd, argc, argv)) != -1) {
        switch (c) {
        case 'h': rc = TP_EXIT_OK; goto out;
        case '?': rc = TP_EXIT_ERROR; goto out;
        case TP_OPT_PROFILE: profile_name = optarg; break;
        case TP_OPT_SET: tp_cli_sets_add(&sets, optarg); break;
        case TP_OPT_JSON: json = true; break;
        case OPT_OUT: outdir = optarg; break;
        case OPT_FRAMES: {
            long v;
            if ((rc = tp_cli_number(cmd, "--frames", optarg, 1, 64, &v)) != 0)
                goto out;
            opts.frames = (size_t)v;
            break;
        }
        default: break;
        }
    }
    if (optind >= argc) {
        rc = tp_cli_usage_error(cmd, "missing FILE");
        goto out;
    }
    if (!outdir) {
        rc = tp_cli_usage_error(cmd, "missing -o OUTDIR");
        goto out;
    }
    if ((rc = tp_cli_open_profile(&profile, profile_name, &sets)) != 0)
        goto out;
    if (json) {
        doc = cJSON_CreateObject();
        if (doc)
            files = cJSON_AddArrayToObject(doc, "files");
        if (!files) {
            fprintf(stderr, "tokprep preview: out of memory\n");
            rc = TP_EXIT_ERROR;
            goto out;
        }
    }
    opts.cancel = tp_cli_install_interrupt();
    for (int i = optind; i < argc && !tp_cli_interrupted(); i++) {
        tp_preview_result *r = NULL;
        tp_error err = TP_ERROR_INIT;
        int prc;
        if (stem_taken(argv, optind, i)) {
            prc = tp_error_set(&err, TP_EINVAL, 0,
                               "%s: an earlier FILE has the same name; its preview would be "
                               "replaced (preview it on its own, with another -o)",
                               argv[i]);
        } else {
            prc = tp_preview_file(&r, profile, argv[i], outdir, &opts, &err);
        }
        if (prc == 0) {
            n_ok++;
            n_warn += tp_preview_result_ui_overlap(r);
        } else if (prc == TP_EREJECT) {
            n_reject++;
        } else {
            n_fail++;
        }
        if (files) {
            char *s = prc == 0 ? tp_preview_result_to_json(r) : NULL;
            cJSON *f = s ? cJSON_Parse(s) : cJSON_CreateObject();
            free(s);
            if (f && prc != 0) {
                cJSON_AddStringToObject(f, "path", argv[i]);
                cJSON_AddStringToObject(f, "verdict", prc == TP_EREJECT ? "reject" : "error");
                cJSON_AddStringToObject(f, "error", tp_error_message(&err));
            }
            if (f)
                cJSON_AddItemToArray(files, f);
        } else if (prc == 0) {
            print_text(argv[i], r);
        } else {
            print_escaped(argv[i]);
            fputs(prc == TP_EREJECT ? ": reject: " : ": error: ", stdout);
            print_escaped(tp_error_message(&err));
            putchar('\n');
        }
        tp_preview_result_free(r);
        tp_error_clear(&err);
    }
    if (doc) {
        cJSON *s = cJSON_AddObjectToObject(doc, "summary");
        cJSON_AddNumberToObject(s, "files", n_ok + n_reject + n_fail);
        cJSON_AddNumberToObject(s, "written", n_ok);
        cJSON_AddNumberToObject(s, "rejected", n_reject);
        cJSON_AddNumberToObject(s, "failed", n_fail);
        cJSON_AddNumberToObject(s, "ui_overlap", n_warn);
        char *raw = cJSON_Print(doc);
        /* Paths are bytes, JSON is UTF-8: invalid sequences become U+FFFD. */
        char *txt = tp_utf8_sanitize(raw);
        free(raw);
        if (txt)
            printf("%s\n", txt);
        free(txt);
    }
    rc = tp_cli_interrupted() ? TP_EXIT_INTERRUPTED
         : n_fail             ? TP_EXIT_ERROR
         : n_reject           ? TP_EXIT_FAIL
                              : TP_EXIT_OK;
out:
    cJSON_Delete(doc);
    tp_profile_free(profile);
    tp_cli_sets_free(&sets);
    tp_cli_parser_free(&parser);
    return rc;
}

const tp_cli_command tp_cmd_preview = {
    .name = "preview",
    .summary = "show where TikTok's buttons and caption fall on the planned output (PNG)",
    .usage = "[--profile P] [--set KEY=VALUE] [--frames N] [--json] -o OUTDIR FILE...",
    .description =
        "Writes OUTDIR/<stem>.preview.png per FILE: N stills (default 4) of the output `fit`\n"
        "would make, evenly spaced over its duration and rendered through fit's own filter\n"
        "graph (a file that passes as it is is shown as it is), side by side, each 270 px\n"
        "wide, with TikTok's UI drawn over them in translucent red: the top bar, the caption\n"
        "and buttons at the bottom, the side margins and the right-hand button rail\n"
        "(preview.safe_zone in the profile, in pixels at 1080x1920; approximate: the real UI\n"
        "varies by device, app version and caption length).\n"
        "Per still it measures the share of high-detail pixels (edges) under the UI and warns\n"
        "ui_overlap above preview.ui_overlap_threshold (default 0.05). Edges are not text or\n"
        "faces: busy textures trigger it, flat text on a flat background may not.\n"
        "Exit status: 0 all previews written (warnings included), 1 some file rejected by the\n"
        "profile, 2 some file failed, 130 interrupted.",
    .options = options,
    .example = "tokprep preview --frames 6 -o previews clip.mov",
    .run = run,
};
