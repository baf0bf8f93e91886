/* `tokprep fit`: probe, check, plan and fit each file into OUTDIR; --dry-run prints the plans. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

enum { OPT_OUT = 'o', OPT_JOBS = 'j', OPT_DRY_RUN = TP_OPT_USER, OPT_FOLLOW, OPT_COVER_AT };

static const tp_cli_option options[] = {
    {"profile", 'p', "NAME|PATH", "profile to fit to (default: tiktok)", TP_OPT_PROFILE},
    {"set", 0, "KEY=VALUE", "override a profile value (repeatable), e.g. --set fix.fill=pad",
     TP_OPT_SET},
    {"output", 'o', "OUTDIR", "folder for the outputs (required; created if missing)", OPT_OUT},
    {"json", 0, NULL, "print one JSON document on stdout instead of text", TP_OPT_JSON},
    {"dry-run", 0, NULL, "print the plan for each file; write nothing", OPT_DRY_RUN},
    {"jobs", 'j', "N", "fit N files at once (default: pipeline.fit_workers)", OPT_JOBS},
    {"follow-symlinks", 0, NULL,
     "follow symbolic links found in folders (never to outside the folder)", OPT_FOLLOW},
    {"cover-at", 0, "SECONDS",
     "the frame TikTok shows as the cover (upload.tiktok.video_cover_timestamp_ms; shown by "
     "--dry-run)",
     OPT_COVER_AT},
    {NULL, 0, NULL, NULL, 0},
};

/* The terminal progress line of the files being fitted (stderr; only on a terminal): one entry
 * per file in flight (-j is at most 256). The library never runs two progress callbacks at
 * once. */
typedef struct {
    size_t index;
    double started, last_print;
    bool used;
} file_progress;

typedef struct {
    file_progress files[256];
} progress_state;
/* The per-file report: counts, and the --json document built as results arrive. */
typedef struct {
    progress_state progress;
    bool dry_run, tty;
    const char *outdir; /* -o, may be NULL in a dry run */
    int n_ok, n_reject, n_fail;
    size_t n;
    cJSON *files; /* --json */
} report;

static void on_progress(const tp_fit_files_progress *ev, void *payload)
{
    progress_state *st = &((report *)payload)->progress;
    size_t k, free_k = TP_ARRAY_LEN(st->files);
    for (k = 0; k < TP_ARRAY_LEN(st->files); k++) {
        if (st->files[k].used && st->files[k].index == ev->index)
            break;
        if (!st->files[k].used && free_k == TP_ARRAY_LEN(st->files))
            free_k = k;
    }
    if (ev->done) {
        if (k < TP_ARRAY_LEN(st->files))
            st->files[k].used = false;
        fputs("\r\033[K", stderr);
        fflush(stderr);
        return;
    }
    double now = tp_cli_monotonic();
    if (k == TP_ARRAY_LEN(st->files)) {
        if (free_k == TP_ARRAY_LEN(st->files))
            return;
        k = free_k;
        st->files[k].used = true;
        st->files[k].index = ev->index;
        st->files[k].started = now;
        st->files[k].last_print = 0;
    }
    file_progress *ps = &st->files[k];
    if (now - ps->last_print < 0.2 && ev->fraction < 1.0)
        return;
    ps->last_print = now;
    double el = now - ps->started, fraction = ev->fraction;
    double eta = fraction > 0.01 ? el / fraction - el : -1.0;
    const char *slash = strrchr(ev->path, '/');
    char *base = tp_str_printable(slash ? slash + 1 : ev->path);
    char bar[31];
    int filled = (int)(fraction * 30.0 + 0.5);
    for (int i = 0; i < 30; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[30] = '\0';
    if (eta >= 0)
        fprintf(stderr, "\r\033[K%-28.28s [%s] %3.0f%% %5.1f fps ETA %3.0fs", base ? base : "", bar,
                fraction * 100.0, ev->fps, eta);
    else
        fprintf(stderr, "\r\033[K%-28.28s [%s] %3.0f%%", base ? base : "", bar, fraction * 100.0);
    fflush(stderr);
    free(base);
}

static const char *item_verdict(const tp_fit_files_item *j)
{
    return tp_verdict_name(j->verdict);
}

static cJSON *plan_json(const tp_fit_plan_info *pl)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "action", tp_action_name(pl->action));
    if (pl->action == TP_ACTION_TRANSCODE) {
        cJSON_AddNumberToObject(o, "width", pl->width);
        cJSON_AddNumberToObject(o, "height", pl->height);
        char fps[32];
        snprintf(fps, sizeof(fps), "%d/%d", pl->fps_num, pl->fps_den);
        cJSON_AddStringToObject(o, "fps", fps);
        cJSON_AddStringToObject(o, "filter", pl->filter);
        if (pl->crop_width > 0) {
            cJSON *c = cJSON_AddObjectToObject(o, "crop");
            cJSON_AddNumberToObject(c, "x", pl->crop_x);
            cJSON_AddNumberToObject(c, "y", pl->crop_y);
            cJSON_AddNumberToObject(c, "width", pl->crop_width);
            cJSON_AddNumberToObject(c, "height", pl->crop_height);
        }
        cJSON_AddNumberToObject(o, "video_maxrate", (double)pl->video_maxrate);
        cJSON_AddNumberToObject(o, "video_bufsize", (double)pl->video_bufsize);
        cJSON_AddNumberToObject(o, "audio_bitrate", (double)pl->audio_bitrate);
        cJSON_AddBoolToObject(o, "copy_video", pl->copy_video);
        cJSON_AddStringToObject(o, "audio_filter", pl->audio_filter ? pl->audio_filter : "");
    }
    cJSON_AddNumberToObject(o, "duration", pl->duration);
    if (pl->trim_end > 0)
        cJSON_AddNumberToObject(o, "trim_end", pl->trim_end);
    if (pl->hold_until > 0)
        cJSON_AddNumberToObject(o, "hold_until", pl->hold_until);
    if (pl->cover_source) {
        cJSON *c = cJSON_AddObjectToObject(o, "cover");
        cJSON_AddStringToObject(c, "source", pl->cover_source);
        if (pl->cover_image)
            cJSON_AddStringToObject(c, "image", pl->cover_image);
        else
            cJSON_AddNullToObject(c, "image");
        cJSON_AddNumberToObject(c, "frames", pl->cover_frames);
        cJSON_AddNumberToObject(c, "duration", pl->cover_duration);
        cJSON_AddNumberToObject(c, "timestamp_ms", (double)pl->cover_timestamp_ms);
    } else {
        cJSON_AddNullToObject(o, "cover");
    }
    cJSON *parts = cJSON_AddArrayToObject(o, "parts");
    for (size_t k = 0; k < pl->n_parts; k++) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddNumberToObject(p, "start", pl->parts[k].start);
        cJSON_AddNumberToObject(p, "duration", pl->parts[k].duration);
        cJSON_AddItemToArray(parts, p);
    }
    return o;
}

/* The check's violations as the JSON array documented for `check --json`. */
static cJSON *violations_json(const tp_check *c)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < tp_check_violation_count(c); i++) {
        const char *code, *msg;
        tp_severity sev;
        tp_check_violation(c, i, &code, &sev, &msg);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "code", code);
        cJSON_AddStringToObject(o, "severity", tp_severity_name(sev));
        cJSON_AddStringToObject(o, "message", msg);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

/* Print s on the terminal with control characters escaped: a file name must not split the
 * line or send escape sequences (see tp_str_printable). */
static void print_escaped(const char *s)
{
    char *e = tp_str_printable(s);
    fputs(e ? e : "?", stdout);
    free(e);
}

static void print_text(const report *rp, const tp_fit_files_item *j)
{
    static const tp_fit_plan_info none = {.action = TP_ACTION_NONE, .filter = "", .fill = ""};
    const char *v = item_verdict(j);
    print_escaped(j->path);
    if (!strcmp(v, "error")) {
        fputs(": error: ", stdout);
        print_escaped(j->error);
        putchar('\n');
        return;
    }
    if (!strcmp(v, "reject")) {
        fputs(": reject: ", stdout);
        print_escaped(j->rejected_by_plan ? j->reason : j->error);
        putchar('\n');
        return;
    }
    const tp_fit_plan_info *pl = j->plan ? j->plan : &none;
    printf(": %s → %s\n", v,
           pl->action == TP_ACTION_NONE ? "pass (copy)" : tp_action_name(pl->action));
    if (rp->dry_run) {
        for (size_t i = 0; j->check && i < tp_check_violation_count(j->check); i++) {
            const char *msg;
            tp_severity sev = TP_SEV_ERROR;
            tp_check_violation(j->check, i, NULL, &sev, &msg);
            /* Advisory findings do not make the plan: said as what they are. */
            printf("  %s: %s\n", sev == TP_SEV_WARN ? "warning" : "violation", msg);
        }
        if (pl->action == TP_ACTION_NONE) {
            /* The file passes: its output is a copy of it, under its own name. */
            const char *base = strrchr(j->path, '/');
            base = base ? base + 1 : j->path;
            fputs("  output: ", stdout);
            if (rp->outdir && *rp->outdir) {
                print_escaped(rp->outdir);
                if (rp->outdir[strlen(rp->outdir) - 1] != '/')
                    putchar('/');
            }
            print_escaped(base);
            puts(" (a copy of the source: nothing re-encoded)");
        }
        if (pl->action == TP_ACTION_TRANSCODE && pl->copy_video)
            printf("  video: copied as it is (%dx%d; the picture passes)\n", pl->width,
                   pl->height);
        else if (pl->action == TP_ACTION_TRANSCODE)
            printf("  video: %dx%d %d/%d fps, H.264 High yuv420p, crf %d, maxrate %lld bit/s, "
                   "bufsize %lld bit\n",
                   pl->width, pl->height, pl->fps_num, pl->fps_den, pl->crf,
                   (long long)pl->video_maxrate, (long long)pl->video_bufsize);
        if (pl->action == TP_ACTION_TRANSCODE && pl->audio_filter && pl->audio_filter[0])
            printf("  loudness: %s\n", pl->audio_filter);
        if (pl->action == TP_ACTION_TRANSCODE && pl->audio_note && pl->audio_note[0])
            printf("  %s\n", pl->audio_note);
        if (pl->action == TP_ACTION_TRANSCODE) {
            if (pl->audio_bitrate)
                printf("  audio: AAC-LC %d Hz %d ch %lld bit/s\n", pl->audio_sample_rate,
                       pl->audio_channels, (long long)pl->audio_bitrate);
            if (pl->crop_width > 0)
                printf("  autocrop: the picture is %dx%d at %d,%d (burned-in bars removed)\n",
                       pl->crop_width, pl->crop_height, pl->crop_x, pl->crop_y);
            printf("  fill: %s\n  filter: %s\n", pl->fill, pl->filter);
            if (pl->trim_end > 0)
                printf("  trim: the output ends at %.3f s\n", pl->trim_end);
            if (pl->hold_until > 0)
                printf("  extend: the last frame is held until %.3f s (a longer source is kept "
                       "whole)\n",
                       pl->hold_until);
        }
        if (pl->cover_source && pl->cover_image) {
            fputs("  cover: ", stdout);
            fputs(pl->cover_source, stdout);
            fputs(" image ", stdout);
            print_escaped(pl->cover_image);
            printf(", the first %d frames (%.3f s), video_cover_timestamp_ms %lld\n",
                   pl->cover_frames, pl->cover_duration, pl->cover_timestamp_ms);
        } else if (pl->cover_source) {
            printf("  cover: frame at video_cover_timestamp_ms %lld\n", pl->cover_timestamp_ms);
        }
        if (j->reason && *j->reason) {
            fputs("  why: ", stdout);
            print_escaped(j->reason);
            putchar('\n');
        }
        if (pl->n_parts > 1)
            for (size_t k = 0; k < pl->n_parts; k++)
                printf("  part %zu: %.3f s + %.3f s\n", k + 1, pl->parts[k].start,
                       pl->parts[k].duration);
        return;
    }
    for (size_t k = 0; k < j->n_outputs; k++) {
        fputs("  → ", stdout);
        print_escaped(j->outputs[k]);
        putchar('\n');
    }
}

/* Each file as it is done, in input order: count it, print it or add it to the document. */
static void on_file(const tp_fit_files_item *j, void *payload)
{
    report *rp = payload;
    const char *v = item_verdict(j);
    rp->n++;
    if (!strcmp(v, "error") || j->canceled)
        rp->n_fail++;
    else if (!strcmp(v, "reject"))
        rp->n_reject++;
    else
        rp->n_ok++;
    if (!rp->files) {
        print_text(rp, j);
        return;
    }
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "path", j->path);
    cJSON_AddStringToObject(f, "verdict", v);
    cJSON_AddStringToObject(f, "action", j->plan ? tp_action_name(j->plan->action) : "none");
    cJSON *outs = cJSON_AddArrayToObject(f, "outputs");
    for (size_t k = 0; k < j->n_outputs; k++)
        cJSON_AddItemToArray(outs, cJSON_CreateString(j->outputs[k]));
    if (!strcmp(v, "error"))
        cJSON_AddStringToObject(f, "error", j->error);
    else if (!strcmp(v, "reject"))
        cJSON_AddStringToObject(f, "error", j->reason);
    else
        cJSON_AddNullToObject(f, "error");
    if (j->check)
        cJSON_AddItemToObject(f, "violations", violations_json(j->check));
    if (rp->dry_run && j->plan) {
        cJSON *pj = plan_json(j->plan);
        if (pj && j->reason && *j->reason)
            cJSON_AddStringToObject(pj, "reason", j->reason);
        cJSON_AddItemToObject(f, "plan", pj);
    }
    cJSON_AddItemToArray(rp->files, f);
}

static int run(const tp_cli_command *cmd, int argc, char **argv)
{
    tp_cli_parser parser;
    tp_cli_sets sets = {0};
    tp_profile *profile = NULL;
    const char *profile_name = "tiktok", *outdir = NULL;
    bool json = false, dry_run = false;
    int rc = TP_EXIT_OK, c;
    tp_fit_files_options opts = TP_FIT_FILES_OPTIONS_INIT;
    tp_files_summary sum = {0, 0, 0};
    report rp = {0};
    cJSON *doc = NULL;
    tp_error err = TP_ERROR_INIT;
    char cover_set[96];
    if (tp_cli_parser_init(&parser, cmd) < 0)
        return TP_EXIT_ERROR;
    while ((c = tp_cli_next(&parser, cmd, argc, argv)) != -1) {
        switch (c) {
        case 'h': rc = TP_EXIT_OK; goto out;
        case '?': rc = TP_EXIT_ERROR; goto out;
        case TP_OPT_PROFILE: profile_name = optarg; break;
        case OPT_COVER_AT:
            if (tp_cli_cover_at(&sets, cover_set, sizeof(cover_set), optarg) < 0) {
                rc = tp_cli_usage_error(cmd, "--cover-at wants seconds >= 0 (have %s)", optarg);
                goto out;
            }
            break;
        case TP_OPT_SET: tp_cli_sets_add(&sets, optarg); break;
        case TP_OPT_JSON: json = true; break;
        case OPT_OUT: outdir = optarg; break;
        case OPT_DRY_RUN: dry_run = true; break;
        case OPT_FOLLOW: opts.follow_symlinks = 1; break;
        case OPT_JOBS: {
            long v;
            if ((rc = tp_cli_number(cmd, "-j", optarg, 1, 256, &v)) != 0)
                goto out;
            opts.threads = (unsigned)v;
            break;
        }
        default: break;
        }
    }
    if (optind >= argc) {
        rc = tp_cli_usage_error(cmd, "missing PATH");
        goto out;
    }
    if (!outdir && !dry_run) {
        rc = tp_cli_usage_error(cmd, "missing -o OUTDIR");
        goto out;
    }
    if ((rc = tp_cli_open_profile(&profile, profile_name, &sets)) != 0)
        goto out;
    rp.dry_run = dry_run;
    rp.outdir = outdir;
    rp.tty = !json && !dry_run && isatty(STDERR_FILENO);
    if (json) {
        doc = cJSON_CreateObject();
        if (doc)
            rp.files = cJSON_AddArrayToObject(doc, "files");
        if (!rp.files) {
            fprintf(stderr, "tokprep fit: out of memory\n");
            rc = TP_EXIT_ERROR;
            goto out;
        }
    }
    /* Set by SIGINT/SIGTERM; the library reads it in every fitting thread (FFmpeg's interrupt
     * callback and the loops) and starts no new file once it is set. */
    tp_cancel *cancel = tp_cli_install_interrupt();
    opts.outdir = dry_run ? NULL : outdir;
    opts.dry_run = dry_run;
    opts.on_file = on_file;
    opts.progress = rp.tty ? on_progress : NULL;
    opts.payload = &rp;
    opts.cancel = cancel;
    if (tp_fit_files(&sum, profile, (const char *const *)(argv + optind), (size_t)(argc - optind),
                     &opts, &err) < 0) {
        /* -o naming a file: said once, before any work (not "does not exist" per input). */
        struct stat od;
        if (!dry_run && stat(outdir, &od) == 0 && !S_ISDIR(od.st_mode))
            fprintf(stderr, "tokprep fit: %s: %s (-o names the folder where outputs go)\n", outdir,
                    S_ISREG(od.st_mode) ? "is a file, not a folder" : "exists and is not a folder");
        else
            fprintf(stderr, "tokprep fit: %s\n", tp_error_message(&err));
        rc = TP_EXIT_ERROR;
        goto out;
    }
    /* A file named on the command line is always listed: nothing at all means every PATH is a
     * folder without media. Said per folder, exit 2, and no OUTDIR made (as check says it). */
    if (sum.files == 0) {
        for (int i = optind; i < argc; i++) {
            char *e = tp_str_printable(argv[i]);
            fprintf(stderr, "tokprep fit: no media files found in %s\n", e ? e : "?");
            free(e);
        }
        rc = TP_EXIT_ERROR;
        goto out;
    }
    if (doc) {
        cJSON *s = cJSON_AddObjectToObject(doc, "summary");
        cJSON_AddNumberToObject(s, "files", (double)rp.n);
        cJSON_AddNumberToObject(s, dry_run ? "planned" : "written", rp.n_ok);
        cJSON_AddNumberToObject(s, "rejected", rp.n_reject);
        cJSON_AddNumberToObject(s, "failed", rp.n_fail);
        cJSON_AddBoolToObject(s, "dry_run", dry_run);
        cJSON_AddNumberToObject(s, "non_media_skipped", (double)sum.non_media);
        cJSON_AddNumberToObject(s, "symlinks_skipped", (double)sum.symlinks);
        char *raw = cJSON_Print(doc);
        /* Paths are bytes, JSON is UTF-8: invalid sequences become U+FFFD. */
        char *txt = tp_utf8_sanitize(raw);
        free(raw);
        if (txt)
            printf("%s\n", txt);
        free(txt);
    } else if (rp.n > 1) {
        printf("%zu files: %d %s, %d rejected, %d failed\n", rp.n, rp.n_ok,
               dry_run ? "planned" : "written", rp.n_reject, rp.n_fail);
    }
    if (!json && sum.non_media)
        printf("%zu non-media file%s skipped\n", sum.non_media, sum.non_media == 1 ? "" : "s");
    if (!json && sum.symlinks)
        printf("%zu symbolic link%s skipped (not followed; see --follow-symlinks)\n", sum.symlinks,
               sum.symlinks == 1 ? "" : "s");
    rc = tp_cancel_requested(cancel)       ? TP_EXIT_INTERRUPTED
         : rp.n_fail   ? TP_EXIT_ERROR
         : rp.n_reject ? TP_EXIT_FAIL
                       : TP_EXIT_OK;
out:
    cJSON_Delete(doc);
    tp_error_clear(&err);
    tp_profile_free(profile);
    tp_cli_sets_free(&sets);
    tp_cli_parser_free(&parser);
    return rc;
}

const tp_cli_command tp_cmd_fit = {
    .name = "fit",
    .summary = "convert files to conformant MP4 (9:16 H.264/AAC) in a folder",
    .usage = "[--profile P] [--set KEY=VALUE] -o OUTDIR [--json] [--dry-run] [-j N] "
             "[--follow-symlinks] PATH...",
    .description =
        "Probes each file, checks it against the profile and writes a conformant file to OUTDIR:\n"
        "  pass       a byte-identical copy (hard link where possible), original extension\n"
        "  remux      the same packets in a new MP4 with moov first: <stem>.mp4\n"
        "  transcode  H.264 High yuv420p at fix.width x fix.height, AAC-LC: <stem>.mp4, or\n"
        "             <stem>_part1.mp4, ... when fix.too_long is split\n"
        "Outputs are written under a temporary name, re-checked against the profile and renamed\n"
        "only when they pass. A folder PATH is walked recursively for audio/video files.\n"
        "Exit status: 0 all outputs written, 1 some file rejected, 2 some file failed,\n"
        "130 interrupted.",
    .options = options,
    .example = "tokprep fit -o out/ --set fix.fill=pad clip.mov",
    .run = run,
};
