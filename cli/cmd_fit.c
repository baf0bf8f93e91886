/* `tokprep fit`: probe, check, plan and fit each file into OUTDIR; --dry-run prints the plans. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "pipeline/scan.h"
#include "probe/check.h"
#include "probe/probe.h"
#include "probe/report.h"
#include "probe/rules.h"
#include "transcode/fit.h"
#include "util/srcfile.h"
#include "util/tp_util.h"

enum { OPT_OUT = 'o', OPT_JOBS = 'j', OPT_DRY_RUN = TP_OPT_USER, OPT_FOLLOW };

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
    {NULL, 0, NULL, NULL, 0},
};

typedef struct {
    const char *path; /* owned by the scan list */
    bool from_dir;    /* found by walking a folder: a symlink there is not followed */
    tp_media_info media;
    tp_check_result check;
    tp_fit_plan plan;
    bool probed, planned;
    char **outputs;
    int n_outputs;
    int rc; /* 0, or the negative TP_E* of the failure */
    tp_error err;
} fit_job;

typedef struct {
    fit_job *jobs;
    size_t n_jobs, next;
    const tp_profile *profile;
    const char *outdir;
    bool dry_run, tty, json;
    /* Set by SIGINT/SIGTERM, read by every fitting thread (FFmpeg interrupt callback and the
     * loops). */
    const volatile int *cancel;
    pthread_mutex_t lock;
} fit_run;

typedef struct {
    fit_run *run;
    fit_job *job;
    double started;
    double last_print;
} progress_state;

static const char *fill_name(tp_fill f)
{
    return f == TP_FILL_BLUR ? "blur" : f == TP_FILL_PAD ? "pad" : "crop";
}

static void on_progress(double fraction, double fps, void *payload)
{
    progress_state *ps = payload;
    double now = tp_now_monotonic();
    if (now - ps->last_print < 0.2 && fraction < 1.0)
        return;
    ps->last_print = now;
    double el = now - ps->started;
    double eta = fraction > 0.01 ? el / fraction - el : -1.0;
    const char *slash = strrchr(ps->job->path, '/');
    char *base = tp_str_printable(slash ? slash + 1 : ps->job->path);
    char bar[31];
    int filled = (int)(fraction * 30.0 + 0.5);
    for (int i = 0; i < 30; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[30] = '\0';
    pthread_mutex_lock(&ps->run->lock);
    if (eta >= 0)
        fprintf(stderr, "\r\033[K%-28.28s [%s] %3.0f%% %5.1f fps ETA %3.0fs", base ? base : "", bar,
                fraction * 100.0, fps, eta);
    else
        fprintf(stderr, "\r\033[K%-28.28s [%s] %3.0f%%", base ? base : "", bar, fraction * 100.0);
    fflush(stderr);
    pthread_mutex_unlock(&ps->run->lock);
    free(base);
}

static void fit_one(fit_run *run, fit_job *job)
{
    if (job->rc < 0) /* the scan already failed it (missing, unreadable) */
        return;
    /* Opened once: the probe and the fit read this descriptor, never the name again. */
    int fd = tp_src_open(job->path, job->from_dir, NULL, &job->err);
    if (fd < 0) {
        job->rc = TP_EIO;
        return;
    }
    job->rc = tp_check_fd_for_fit(&job->media, &job->check, fd, job->path, run->profile,
                                  run->cancel, &job->err);
    if (job->rc < 0)
        goto out;
    job->probed = true;
    job->rc = tp_fit_plan_make(&job->plan, &job->media, &job->check, run->profile, &job->err);
    if (job->rc < 0)
        goto out;
    job->planned = true;
    if (run->dry_run || job->plan.reject)
        goto out;
    progress_state ps = {.run = run, .job = job, .started = tp_now_monotonic()};
    tp_fit_run_options fo = {
        .progress = run->tty ? on_progress : NULL, .payload = &ps, .cancel = run->cancel};
    job->rc = tp_fit_run(&job->outputs, &job->n_outputs, job->path, fd, &job->media, &job->plan,
                         run->profile, run->outdir, &fo, &job->err);
    if (run->tty) {
        pthread_mutex_lock(&run->lock);
        fputs("\r\033[K", stderr);
        fflush(stderr);
        pthread_mutex_unlock(&run->lock);
    }
out:
    close(fd);
}

static void *worker(void *arg)
{
    fit_run *run = arg;
    for (;;) {
        pthread_mutex_lock(&run->lock);
        size_t i = run->next < run->n_jobs && !*run->cancel ? run->next++ : run->n_jobs;
        pthread_mutex_unlock(&run->lock);
        if (i >= run->n_jobs)
            return NULL;
        fit_one(run, &run->jobs[i]);
    }
}

static const char *job_verdict(const fit_job *j)
{
    if (j->rc < 0 && j->err.code != TP_EREJECT)
        return "error";
    if (!j->probed)
        return "error";
    if (j->planned && j->plan.reject)
        return "reject";
    return tp_verdict_name(j->check.verdict);
}

static cJSON *plan_json(const tp_fit_plan *pl)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "action", tp_action_name(pl->action));
    if (pl->action == TP_ACTION_TRANSCODE) {
        cJSON_AddNumberToObject(o, "width", pl->out_width);
        cJSON_AddNumberToObject(o, "height", pl->out_height);
        char fps[32];
        snprintf(fps, sizeof(fps), "%d/%d", pl->out_fps.num, pl->out_fps.den);
        cJSON_AddStringToObject(o, "fps", fps);
        cJSON_AddStringToObject(o, "filter", pl->filter);
        if (pl->crop.width > 0) {
            cJSON *c = cJSON_AddObjectToObject(o, "crop");
            cJSON_AddNumberToObject(c, "x", pl->crop.x);
            cJSON_AddNumberToObject(c, "y", pl->crop.y);
            cJSON_AddNumberToObject(c, "width", pl->crop.width);
            cJSON_AddNumberToObject(c, "height", pl->crop.height);
        }
        cJSON_AddNumberToObject(o, "video_maxrate", (double)pl->video_bitrate_max);
        cJSON_AddNumberToObject(o, "video_bufsize", (double)pl->video_bufsize);
        cJSON_AddNumberToObject(o, "audio_bitrate", (double)pl->audio_bitrate);
    }
    cJSON_AddNumberToObject(o, "duration", pl->out_duration);
    if (pl->trim_end > 0)
        cJSON_AddNumberToObject(o, "trim_end", pl->trim_end);
    if (pl->hold_until > 0)
        cJSON_AddNumberToObject(o, "hold_until", pl->hold_until);
    cJSON *parts = cJSON_AddArrayToObject(o, "parts");
    for (int k = 0; k < pl->n_parts; k++) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddNumberToObject(p, "start", pl->parts[k].start);
        cJSON_AddNumberToObject(p, "duration", pl->parts[k].duration);
        cJSON_AddItemToArray(parts, p);
    }
    return o;
}

/* Print s on the terminal with control characters escaped: a file name must not split the
 * line or send escape sequences (see tp_str_printable). */
static void print_escaped(const char *s)
{
    char *e = tp_str_printable(s);
    fputs(e ? e : "?", stdout);
    free(e);
}

static void print_text(const fit_run *run, const fit_job *j)
{
    const char *v = job_verdict(j);
    print_escaped(j->path);
    if (!strcmp(v, "error")) {
        fputs(": error: ", stdout);
        print_escaped(tp_error_message(&j->err));
        putchar('\n');
        return;
    }
    if (!strcmp(v, "reject")) {
        fputs(": reject: ", stdout);
        print_escaped(j->plan.reject ? j->plan.reason : tp_error_message(&j->err));
        putchar('\n');
        return;
    }
    const tp_fit_plan *pl = &j->plan;
    printf(": %s → %s\n", v,
           pl->action == TP_ACTION_NONE ? "pass (copy)" : tp_action_name(pl->action));
    if (run->dry_run) {
        for (int i = 0; i < j->check.n_violations; i++)
            printf("  violation: %s\n", j->check.violations[i].message);
        if (pl->action == TP_ACTION_TRANSCODE) {
            printf("  video: %dx%d %d/%d fps, H.264 High yuv420p, crf %d, maxrate %lld bit/s, "
                   "bufsize %lld bit\n",
                   pl->out_width, pl->out_height, pl->out_fps.num, pl->out_fps.den,
                   run->profile->fix.video.crf, (long long)pl->video_bitrate_max,
                   (long long)pl->video_bufsize);
            if (pl->audio_bitrate)
                printf("  audio: AAC-LC %d Hz %d ch %lld bit/s\n",
                       run->profile->fix.audio.sample_rate, run->profile->fix.audio.channels,
                       (long long)pl->audio_bitrate);
            if (pl->crop.width > 0)
                printf("  autocrop: the picture is %dx%d at %d,%d (burned-in bars removed)\n",
                       pl->crop.width, pl->crop.height, pl->crop.x, pl->crop.y);
            printf("  fill: %s\n  filter: %s\n", fill_name(run->profile->fix.fill), pl->filter);
            if (pl->trim_end > 0)
                printf("  trim: the output ends at %.3f s\n", pl->trim_end);
            if (pl->hold_until > 0)
                printf("  extend: the last frame is held until %.3f s (a longer source is kept "
                       "whole)\n",
                       pl->hold_until);
        }
        if (pl->n_parts > 1)
            for (int k = 0; k < pl->n_parts; k++)
                printf("  part %d: %.3f s + %.3f s\n", k + 1, pl->parts[k].start,
                       pl->parts[k].duration);
        return;
    }
    for (int k = 0; k < j->n_outputs; k++) {
        fputs("  → ", stdout);
        print_escaped(j->outputs[k]);
        putchar('\n');
    }
}

/* True when both paths have the same file name without extension. */
static bool same_stem(const char *a, const char *b)
{
    const char *ba = strrchr(a, '/'), *bb = strrchr(b, '/');
    ba = ba ? ba + 1 : a;
    bb = bb ? bb + 1 : b;
    const char *da = strrchr(ba, '.'), *db = strrchr(bb, '.');
    size_t la = da && da != ba ? (size_t)(da - ba) : strlen(ba);
    size_t lb = db && db != bb ? (size_t)(db - bb) : strlen(bb);
    return la == lb && !strncmp(ba, bb, la);
}

static int mkdir_p(const char *dir)
{
    char *tmp = tp_strdup(dir);
    if (!tmp)
        return -1;
    for (char *s = tmp + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(tmp, 0777) < 0 && errno != EEXIST) {
            free(tmp);
            return -1;
        }
        *s = '/';
    }
    int rc = mkdir(tmp, 0777) < 0 && errno != EEXIST ? -1 : 0;
    free(tmp);
    return rc;
}

static int run(const tp_cli_command *cmd, int argc, char **argv)
{
    tp_cli_parser parser;
    tp_cli_sets sets = {0};
    tp_profile *profile = NULL;
    const char *profile_name = "tiktok", *outdir = NULL;
    bool json = false, dry_run = false;
    int jobs_n = 0, rc = TP_EXIT_OK, c;
    fit_run fr = {0};
    pthread_t *threads = NULL;
    tp_scan_list list = TP_SCAN_LIST_INIT;
    tp_scan_options scan_opts = TP_SCAN_OPTIONS_INIT;
    tp_error err = TP_ERROR_INIT;
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
        case OPT_DRY_RUN: dry_run = true; break;
        case OPT_FOLLOW: scan_opts.follow_symlinks = true; break;
        case OPT_JOBS:
            jobs_n = atoi(optarg);
            if (jobs_n < 1 || jobs_n > 256) {
                rc = tp_cli_usage_error(cmd, "-j needs a number from 1 to 256");
                goto out;
            }
            break;
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
    /* The same files in the same order as `tokprep check` sees them. */
    if (tp_scan_paths(&list, (const char *const *)(argv + optind), (size_t)(argc - optind),
                      &scan_opts, &err) < 0) {
        fprintf(stderr, "tokprep fit: %s\n", tp_error_message(&err));
        rc = TP_EXIT_ERROR;
        goto out;
    }
    /* A file named on the command line is always listed: nothing at all means every PATH is a
     * folder without media. Said per folder, exit 2, and no OUTDIR made (as check says it). */
    if (list.n == 0) {
        for (int i = optind; i < argc; i++) {
            char *e = tp_str_printable(argv[i]);
            fprintf(stderr, "tokprep fit: no media files found in %s\n", e ? e : "?");
            free(e);
        }
        rc = TP_EXIT_ERROR;
        goto out;
    }
    fr.jobs = calloc(list.n, sizeof(*fr.jobs));
    if (!fr.jobs) {
        fprintf(stderr, "tokprep fit: out of memory\n");
        rc = TP_EXIT_ERROR;
        goto out;
    }
    fr.n_jobs = list.n;
    for (size_t i = 0; i < list.n; i++) {
        fr.jobs[i].path = list.items[i].path;
        fr.jobs[i].from_dir = list.items[i].from_dir;
        if (list.items[i].error)
            fr.jobs[i].rc =
                tp_error_set(&fr.jobs[i].err, -list.items[i].error, 0, "%s", list.items[i].message);
    }
    /* Outputs go flat into OUTDIR: two inputs with one stem (a/x.mov, b/x.mp4) would write the
     * same <stem>.mp4, so the later one is refused rather than silently replacing the first. */
    for (size_t i = 0; i < fr.n_jobs; i++) {
        for (size_t k = 0; k < i && fr.jobs[i].rc == 0; k++) {
            if (fr.jobs[k].rc == 0 && same_stem(fr.jobs[i].path, fr.jobs[k].path))
                fr.jobs[i].rc = tp_error_set(&fr.jobs[i].err, TP_EINVAL, 0,
                                             "%s: same name as %s: both would be written as the "
                                             "same output in OUTDIR (fit them separately)",
                                             fr.jobs[i].path, fr.jobs[k].path);
        }
    }
    if (outdir && !dry_run && mkdir_p(outdir) < 0) {
        fprintf(stderr, "tokprep fit: %s: cannot create the output folder: %s\n", outdir,
                strerror(errno));
        rc = TP_EXIT_ERROR;
        goto out;
    }
    /* -o naming a file: said once, before any work (not "does not exist" per input). */
    struct stat od;
    if (outdir && !dry_run && stat(outdir, &od) == 0 && !S_ISDIR(od.st_mode)) {
        fprintf(stderr, "tokprep fit: %s: %s (-o names the folder where outputs go)\n", outdir,
                S_ISREG(od.st_mode) ? "is a file, not a folder" : "exists and is not a folder");
        rc = TP_EXIT_ERROR;
        goto out;
    }
    fr.profile = profile;
    fr.outdir = outdir;
    fr.dry_run = dry_run;
    fr.json = json;
    fr.tty = !json && !dry_run && isatty(STDERR_FILENO);
    pthread_mutex_init(&fr.lock, NULL);

    fr.cancel = tp_cli_install_interrupt();

    if (jobs_n == 0)
        jobs_n = profile->pipeline.fit_workers > 0 ? profile->pipeline.fit_workers : 1;
    if ((size_t)jobs_n > fr.n_jobs)
        jobs_n = (int)fr.n_jobs;
    if (jobs_n <= 1) {
        worker(&fr);
    } else {
        threads = calloc((size_t)jobs_n, sizeof(*threads));
        int started = 0;
        for (int i = 0; threads && i < jobs_n; i++)
            if (pthread_create(&threads[i], NULL, worker, &fr) == 0)
                started++;
        if (started == 0)
            worker(&fr);
        for (int i = 0; i < started; i++)
            pthread_join(threads[i], NULL);
    }
    pthread_mutex_destroy(&fr.lock);

    int n_ok = 0, n_reject = 0, n_fail = 0;
    cJSON *doc = json ? cJSON_CreateObject() : NULL, *files = NULL;
    if (doc)
        files = cJSON_AddArrayToObject(doc, "files");
    for (size_t i = 0; i < fr.n_jobs; i++) {
        fit_job *j = &fr.jobs[i];
        const char *v = job_verdict(j);
        bool canceled_job = !j->probed && !j->rc && *fr.cancel;
        if (!strcmp(v, "error") || canceled_job)
            n_fail++;
        else if (!strcmp(v, "reject"))
            n_reject++;
        else
            n_ok++;
        if (doc) {
            cJSON *f = cJSON_CreateObject();
            cJSON_AddStringToObject(f, "path", j->path);
            cJSON_AddStringToObject(f, "verdict", v);
            cJSON_AddStringToObject(f, "action",
                                    j->planned && !j->plan.reject ? tp_action_name(j->plan.action)
                                                                  : "none");
            cJSON *outs = cJSON_AddArrayToObject(f, "outputs");
            for (int k = 0; k < j->n_outputs; k++)
                cJSON_AddItemToArray(outs, cJSON_CreateString(j->outputs[k]));
            if (!strcmp(v, "error"))
                cJSON_AddStringToObject(f, "error", tp_error_message(&j->err));
            else if (!strcmp(v, "reject"))
                cJSON_AddStringToObject(f, "error", j->plan.reason);
            else
                cJSON_AddNullToObject(f, "error");
            if (j->probed)
                cJSON_AddItemToObject(f, "violations", tp_violations_to_json(&j->check));
            if (dry_run && j->planned && !j->plan.reject)
                cJSON_AddItemToObject(f, "plan", plan_json(&j->plan));
            cJSON_AddItemToArray(files, f);
        } else {
            print_text(&fr, j);
        }
    }
    if (doc) {
        cJSON *s = cJSON_AddObjectToObject(doc, "summary");
        cJSON_AddNumberToObject(s, "files", (double)fr.n_jobs);
        cJSON_AddNumberToObject(s, dry_run ? "planned" : "written", n_ok);
        cJSON_AddNumberToObject(s, "rejected", n_reject);
        cJSON_AddNumberToObject(s, "failed", n_fail);
        cJSON_AddBoolToObject(s, "dry_run", dry_run);
        cJSON_AddNumberToObject(s, "non_media_skipped", (double)list.n_non_media);
        cJSON_AddNumberToObject(s, "symlinks_skipped", (double)list.n_symlinks);
        char *raw = cJSON_Print(doc);
        /* Paths are bytes, JSON is UTF-8: invalid sequences become U+FFFD. */
        char *txt = tp_utf8_sanitize(raw);
        free(raw);
        if (txt)
            printf("%s\n", txt);
        free(txt);
        cJSON_Delete(doc);
    } else if (fr.n_jobs > 1) {
        printf("%zu files: %d %s, %d rejected, %d failed\n", fr.n_jobs, n_ok,
               dry_run ? "planned" : "written", n_reject, n_fail);
    }
    if (!json && list.n_non_media)
        printf("%zu non-media file%s skipped\n", list.n_non_media,
               list.n_non_media == 1 ? "" : "s");
    if (!json && list.n_symlinks)
        printf("%zu symbolic link%s skipped (not followed; see --follow-symlinks)\n",
               list.n_symlinks, list.n_symlinks == 1 ? "" : "s");
    rc = *fr.cancel ? TP_EXIT_INTERRUPTED
         : n_fail   ? TP_EXIT_ERROR
         : n_reject ? TP_EXIT_FAIL
                    : TP_EXIT_OK;
out:
    for (size_t i = 0; i < fr.n_jobs; i++) {
        tp_fit_paths_free(fr.jobs[i].outputs, fr.jobs[i].n_outputs);
        tp_error_clear(&fr.jobs[i].err);
    }
    free(fr.jobs);
    tp_error_clear(&err);
    tp_scan_list_free(&list);
    free(threads);
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
