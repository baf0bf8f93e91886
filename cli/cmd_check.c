/* `tokprep check`: probe files and folders against a profile, on -j worker threads, and report
 * in input order (human lines, --json, --junit). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "pipeline/scan.h"
#include "probe/check.h"
#include "profiles/profile.h"
#include "util/fifo.h"
#include "util/tp_util.h"

enum { OPT_DEEP = TP_OPT_USER, OPT_JUNIT, OPT_FOLLOW, OPT_JOBS = 'j' };

static const tp_cli_option options[] = {
    {"profile", 'p', "NAME|PATH", "profile to check against (default: tiktok)", TP_OPT_PROFILE},
    {"set", 0, "KEY=VALUE", "override a profile value (repeatable), e.g. --set rules.fps=[24,60]",
     TP_OPT_SET},
    {"json", 0, NULL, "print one JSON document (schema in the README) instead of lines",
     TP_OPT_JSON},
    {"deep", 0, NULL, "also decode every packet and count decode errors (slower)", OPT_DEEP},
    {"jobs", 'j', "N", "probe N files at once (default: pipeline.probe_workers, i.e. cores)",
     OPT_JOBS},
    {"junit", 0, "FILE", "also write a JUnit XML report (one testcase per file) to FILE",
     OPT_JUNIT},
    {"follow-symlinks", 0, NULL,
     "follow symbolic links found in folders (never to outside the folder)", OPT_FOLLOW},
    {NULL, 0, NULL, NULL, 0},
};

typedef struct {
    const tp_scan_entry *entry;
    tp_check *check; /* NULL when the scan or the check call failed */
    tp_error err;    /* scan/check failure: the reason */
    double seconds;
    bool done;
} slot;

typedef struct {
    tp_fifo *queue;
    const tp_profile *profile;
    tp_check_options opts;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* a slot became done */
} shared;

static void *worker(void *arg)
{
    shared *sh = arg;
    void *item;
    while (tp_fifo_pop(sh->queue, &item) == 1) {
        slot *s = item;
        double t0 = tp_now_monotonic();
        tp_check *c = NULL;
        tp_error err = TP_ERROR_INIT;
        if (s->entry->error) {
            tp_error_set(&err, -s->entry->error, 0, "%s", s->entry->message);
        } else if (tp_check_source(&c, sh->profile, s->entry->path, s->entry->from_dir, &sh->opts,
                                   &err) < 0) {
            c = NULL;
        }
        pthread_mutex_lock(&sh->lock);
        s->check = c;
        tp_error_move(&s->err, &err);
        s->seconds = tp_now_monotonic() - t0;
        s->done = true;
        pthread_cond_broadcast(&sh->cond);
        pthread_mutex_unlock(&sh->lock);
    }
    return NULL;
}

static tp_verdict slot_verdict(const slot *s)
{
    return s->check ? tp_check_verdict(s->check) : TP_VERDICT_ERROR;
}

/* "PATH: reason" → "reason": the line already starts with the path. */
static const char *strip_path(const char *msg, const char *path)
{
    size_t n = strlen(path);
    if (!strncmp(msg, path, n) && msg[n] == ':' && msg[n + 1] == ' ')
        return msg + n + 2;
    return msg;
}

static void print_line(const slot *s, bool color)
{
    static const char *const sym[] = {"✔", "↻", "✖", "!"};
    static const char *const col[] = {"\033[32m", "\033[33m", "\033[31m", "\033[35m"};
    const tp_verdict v = slot_verdict(s);
    const char *path = s->entry->path;
    /* A name may hold newlines or escape sequences: one file stays one line, uncoloured. */
    char *shown = tp_str_printable(path), *why = NULL;
    printf("%s%s%s %s", color ? col[v] : "", sym[v], color ? "\033[0m" : "", shown ? shown : "?");
    free(shown);
    if (!s->check || v == TP_VERDICT_ERROR || v == TP_VERDICT_REJECT) {
        const char *text = !s->check               ? strip_path(tp_error_message(&s->err), path)
                           : v == TP_VERDICT_ERROR ? strip_path(tp_check_error(s->check), path)
                                                   : tp_check_reason(s->check);
        why = tp_str_printable(text);
        if (v != TP_VERDICT_REJECT) {
            printf("  error: %s\n", why ? why : "?");
            free(why);
            return;
        }
    }
    const tp_check *c = s->check;
    if (v == TP_VERDICT_FIX)
        printf("  %s:", tp_action_name(tp_check_action(c)));
    else if (v == TP_VERDICT_REJECT)
        printf("  reject: %s;", why ? why : "?");
    free(why);
    const size_t n = tp_check_violation_count(c);
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        const char *msg;
        tp_severity sev;
        tp_check_violation(c, i, NULL, &sev, &msg);
        if (sev == TP_SEV_ERROR) {
            printf("%s %s", first ? "" : ";", msg);
            first = false;
        }
    }
    first = true;
    for (size_t i = 0; i < n; i++) {
        const char *msg;
        tp_severity sev;
        tp_check_violation(c, i, NULL, &sev, &msg);
        if (sev == TP_SEV_WARN) {
            printf("%s%s", first ? "  (warn: " : "; ", msg);
            first = false;
        }
    }
    printf("%s\n", first ? "" : ")");
}

static cJSON *slot_json(const slot *s)
{
    if (s->check) {
        char *text = tp_check_json(s->check);
        cJSON *o = text ? cJSON_Parse(text) : NULL;
        free(text);
        return o;
    }
    /* Never probed (missing path, unreadable folder, cancelled): same schema, no media. */
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "path", s->entry->path);
    cJSON_AddStringToObject(o, "verdict", "error");
    cJSON_AddNullToObject(o, "action");
    cJSON_AddArrayToObject(o, "violations");
    cJSON_AddStringToObject(o, "error", tp_error_message(&s->err));
    cJSON_AddStringToObject(o, "reason", tp_error_message(&s->err));
    cJSON_AddNullToObject(o, "media");
    return o;
}

static void xml_escaped(FILE *f, const char *text)
{
    /* XML must be UTF-8 (the declaration says so): names with other bytes get U+FFFD. */
    char *u = tp_utf8_sanitize(text);
    for (const char *s = u ? u : "?"; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\n': fputs("&#10;", f); break;
        default:
            /* Control characters are not allowed in XML 1.0. */
            if ((unsigned char)*s >= 0x20 || *s == '\t')
                fputc(*s, f);
            break;
        }
    }
    free(u);
}

/* The violations of one file, one per line, for a failure body. */
static void xml_violations(FILE *f, const tp_check *c, tp_severity which)
{
    for (size_t i = 0; i < tp_check_violation_count(c); i++) {
        const char *msg;
        tp_severity sev;
        tp_check_violation(c, i, NULL, &sev, &msg);
        if (sev == which) {
            xml_escaped(f, msg);
            fputs("&#10;", f);
        }
    }
}

static int write_junit(const char *file, const slot *slots, size_t n, const char *profile,
                       const size_t counts[4], double total)
{
    /* Written under an unpredictable name next to FILE and renamed over it: a symbolic link
     * planted at FILE is replaced, never written through. */
    char *dir = tp_strdup(file), *tmp = NULL;
    char *slash = dir ? strrchr(dir, '/') : NULL;
    tp_error cerr = TP_ERROR_INIT;
    int fd = -1;
    if (slash)
        *slash = '\0';
    if (dir)
        fd = tp_create_exclusive(&tmp, slash ? (dir[0] ? dir : "/") : ".", ".tokprep-junit-",
                                 ".xml", 0666, &cerr);
    free(dir);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        fprintf(stderr, "tokprep check: cannot write %s: %s\n", file,
                fd >= 0 ? strerror(errno) : tp_error_message(&cerr));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(tmp);
        tp_error_clear(&cerr);
        return -1;
    }
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f,
            "<testsuites name=\"tokprep check\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\">\n",
            n, counts[1] + counts[2], counts[3]);
    fprintf(f, "  <testsuite name=\"tokprep check: ");
    xml_escaped(f, profile);
    fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"0\" time=\"%.3f\">\n", n,
            counts[1] + counts[2], counts[3], total);
    for (size_t i = 0; i < n; i++) {
        const slot *s = &slots[i];
        const tp_verdict v = slot_verdict(s);
        fprintf(f, "    <testcase classname=\"tokprep.check\" name=\"");
        xml_escaped(f, s->entry->path);
        fprintf(f, "\" time=\"%.3f\">\n", s->seconds);
        if (v == TP_VERDICT_ERROR) {
            const char *msg = s->check ? tp_check_error(s->check) : tp_error_message(&s->err);
            fprintf(f, "      <error type=\"error\" message=\"");
            xml_escaped(f, msg);
            fprintf(f, "\"/>\n");
        } else if (v == TP_VERDICT_FIX || v == TP_VERDICT_REJECT) {
            char head[600];
            if (v == TP_VERDICT_FIX)
                snprintf(head, sizeof(head), "fix: %s", tp_action_name(tp_check_action(s->check)));
            else
                snprintf(head, sizeof(head), "reject: %s", tp_check_reason(s->check));
            fprintf(f, "      <failure type=\"%s\" message=\"", tp_verdict_name(v));
            xml_escaped(f, head);
            fprintf(f, "\">");
            xml_violations(f, s->check, TP_SEV_ERROR);
            fprintf(f, "</failure>\n");
        }
        if (s->check && v != TP_VERDICT_ERROR) {
            fprintf(f, "      <system-out>");
            xml_violations(f, s->check, TP_SEV_WARN);
            fprintf(f, "</system-out>\n");
        }
        fprintf(f, "    </testcase>\n");
    }
    fprintf(f, "  </testsuite>\n</testsuites>\n");
    if (fclose(f) != 0 || rename(tmp, file) != 0) {
        fprintf(stderr, "tokprep check: cannot write %s: %s\n", file, strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

/* What the walk left out, so nothing is skipped without a word. */
static void print_skipped(size_t non_media, size_t symlinks)
{
    if (non_media)
        printf("%zu non-media file%s skipped\n", non_media, non_media == 1 ? "" : "s");
    if (symlinks)
        printf("%zu symbolic link%s skipped (not followed; see --follow-symlinks)\n", symlinks,
               symlinks == 1 ? "" : "s");
}

static int run(const tp_cli_command *cmd, int argc, char **argv)
{
    tp_cli_parser parser;
    tp_cli_sets sets = {0};
    tp_profile *profile = NULL;
    tp_scan_list list = TP_SCAN_LIST_INIT;
    tp_scan_options scan_opts = TP_SCAN_OPTIONS_INIT;
    tp_error err = TP_ERROR_INIT;
    const char *profile_name = NULL, *junit = NULL;
    bool json = false, deep = false;
    int jobs = 0, rc = TP_EXIT_OK, c;
    slot *slots = NULL;
    pthread_t *threads = NULL;
    int n_threads = 0;
    shared sh = {0};
    bool sync_init = false;
    cJSON *doc = NULL;

    if (tp_cli_parser_init(&parser, cmd) < 0)
        return TP_EXIT_ERROR;
    while ((c = tp_cli_next(&parser, cmd, argc, argv)) != -1) {
        switch (c) {
        case 'h': goto out;
        case '?': rc = TP_EXIT_ERROR; goto out;
        case TP_OPT_PROFILE: profile_name = optarg; break;
        case TP_OPT_SET: tp_cli_sets_add(&sets, optarg); break;
        case TP_OPT_JSON: json = true; break;
        case OPT_DEEP: deep = true; break;
        case OPT_JUNIT: junit = optarg; break;
        case OPT_FOLLOW: scan_opts.follow_symlinks = true; break;
        case OPT_JOBS: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 1024) {
                rc = tp_cli_usage_error(cmd, "-j needs a number from 1 to 1024, not '%s'", optarg);
                goto out;
            }
            jobs = (int)v;
            break;
        }
        default: break;
        }
    }
    if (optind >= argc) {
        rc = tp_cli_usage_error(cmd, "missing PATH (a file or a folder)");
        goto out;
    }
    if (tp_cli_open_profile(&profile, profile_name, &sets) != 0) {
        rc = TP_EXIT_ERROR;
        goto out;
    }
    if (tp_scan_paths(&list, (const char *const *)(argv + optind), (size_t)(argc - optind),
                      &scan_opts, &err) < 0) {
        fprintf(stderr, "tokprep check: %s\n", tp_error_message(&err));
        rc = TP_EXIT_ERROR;
        goto out;
    }
    if (list.n == 0)
        fprintf(stderr, "tokprep check: no media files found\n");

    /* SIGINT/SIGTERM set the shared flag; workers pass it to the probe as the cancel token. */
    const volatile int *cancel = tp_cli_install_interrupt();

    slots = calloc(list.n ? list.n : 1, sizeof(*slots));
    if (!slots) {
        fprintf(stderr, "tokprep check: out of memory\n");
        rc = TP_EXIT_ERROR;
        goto out;
    }
    if (jobs <= 0)
        jobs =
            profile->pipeline.probe_workers > 0 ? profile->pipeline.probe_workers : tp_cpu_count();
    if ((size_t)jobs > list.n)
        jobs = list.n ? (int)list.n : 1;
    size_t depth = profile->pipeline.queue_depth > 0 ? (size_t)profile->pipeline.queue_depth : 16;
    if (depth < (size_t)jobs * 2)
        depth = (size_t)jobs * 2;
    sh.profile = profile;
    sh.opts = (tp_check_options)TP_CHECK_OPTIONS_INIT;
    sh.opts.deep = deep;
    sh.opts.cancel = cancel;
    if (tp_fifo_new(&sh.queue, depth) < 0 || !(threads = calloc((size_t)jobs, sizeof(*threads)))) {
        fprintf(stderr, "tokprep check: out of memory\n");
        rc = TP_EXIT_ERROR;
        goto out;
    }
    pthread_mutex_init(&sh.lock, NULL);
    pthread_cond_init(&sh.cond, NULL);
    sync_init = true;
    for (int i = 0; i < jobs; i++) {
        if (pthread_create(&threads[i], NULL, worker, &sh) != 0)
            break;
        n_threads++;
    }
    if (n_threads == 0) {
        fprintf(stderr, "tokprep check: cannot start a worker thread\n");
        rc = TP_EXIT_ERROR;
        goto out;
    }

    const double t0 = tp_now_monotonic();
    /* The main thread feeds the bounded queue, then prints results in input order as they
     * complete: -j changes speed, never order. */
    for (size_t i = 0; i < list.n; i++) {
        slots[i].entry = &list.items[i];
        if (tp_fifo_push(sh.queue, &slots[i]) < 0) { /* only if closed: never, but be sure */
            tp_error_set(&slots[i].err, TP_EINTERNAL, 0, "%s: not queued", list.items[i].path);
            pthread_mutex_lock(&sh.lock);
            slots[i].done = true;
            pthread_mutex_unlock(&sh.lock);
        }
    }
    tp_fifo_close(sh.queue);

    const bool color = !json && tp_cli_stdout_is_tty() && !getenv("NO_COLOR");
    size_t counts[4] = {0, 0, 0, 0}, remux = 0, transcode = 0;
    for (size_t i = 0; i < list.n; i++) {
        pthread_mutex_lock(&sh.lock);
        while (!slots[i].done)
            pthread_cond_wait(&sh.cond, &sh.lock);
        pthread_mutex_unlock(&sh.lock);
        const tp_verdict v = slot_verdict(&slots[i]);
        counts[v]++;
        if (v == TP_VERDICT_FIX) {
            if (tp_check_action(slots[i].check) == TP_ACTION_REMUX)
                remux++;
            else
                transcode++;
        }
        if (!json) {
            print_line(&slots[i], color);
            fflush(stdout);
        }
    }
    const double total = tp_now_monotonic() - t0;

    if (json) {
        doc = cJSON_CreateObject();
        cJSON *files = NULL;
        if (!doc || !cJSON_AddStringToObject(doc, "profile", tp_profile_name(profile)) ||
            !(files = cJSON_AddArrayToObject(doc, "files"))) {
            fprintf(stderr, "tokprep check: out of memory\n");
            rc = TP_EXIT_ERROR;
            goto out;
        }
        for (size_t i = 0; i < list.n; i++) {
            cJSON *o = slot_json(&slots[i]);
            if (!o || !cJSON_AddItemToArray(files, o)) {
                cJSON_Delete(o);
                fprintf(stderr, "tokprep check: out of memory\n");
                rc = TP_EXIT_ERROR;
                goto out;
            }
        }
        cJSON *sum = cJSON_AddObjectToObject(doc, "summary");
        if (sum) {
            cJSON_AddNumberToObject(sum, "pass", (double)counts[0]);
            cJSON_AddNumberToObject(sum, "fix", (double)counts[1]);
            cJSON_AddNumberToObject(sum, "reject", (double)counts[2]);
            cJSON_AddNumberToObject(sum, "error", (double)counts[3]);
            cJSON_AddNumberToObject(sum, "non_media_skipped", (double)list.n_non_media);
            cJSON_AddNumberToObject(sum, "symlinks_skipped", (double)list.n_symlinks);
        }
        char *raw = cJSON_Print(doc);
        /* Paths are bytes, JSON is UTF-8: invalid sequences become U+FFFD. */
        char *text = tp_utf8_sanitize(raw);
        free(raw);
        if (!text) {
            fprintf(stderr, "tokprep check: out of memory\n");
            rc = TP_EXIT_ERROR;
            goto out;
        }
        puts(text);
        free(text);
    } else {
        printf("%zu file%s: %zu pass, %zu fix (%zu remux, %zu transcode), %zu reject, "
               "%zu error (%.2f s)\n",
               list.n, list.n == 1 ? "" : "s", counts[0], counts[1], remux, transcode, counts[2],
               counts[3], total);
        print_skipped(list.n_non_media, list.n_symlinks);
    }
    if (junit && write_junit(junit, slots, list.n, tp_profile_name(profile), counts, total) < 0)
        counts[3]++; /* an unwritten report is a failure CI must see */

    if (*cancel) {
        fprintf(stderr, "tokprep check: interrupted; files not yet probed are listed as "
                        "errors\n");
        rc = TP_EXIT_INTERRUPTED;
    } else if (counts[3])
        rc = TP_EXIT_ERROR;
    else if (counts[1] || counts[2])
        rc = TP_EXIT_FAIL;
out:
    if (sh.queue)
        tp_fifo_close(sh.queue);
    for (int i = 0; i < n_threads; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    if (sync_init) {
        pthread_mutex_destroy(&sh.lock);
        pthread_cond_destroy(&sh.cond);
    }
    tp_fifo_free(sh.queue);
    for (size_t i = 0; slots && i < list.n; i++) {
        tp_check_free(slots[i].check);
        tp_error_clear(&slots[i].err);
    }
    free(slots);
    tp_error_clear(&err);
    cJSON_Delete(doc);
    tp_scan_list_free(&list);
    tp_profile_free(profile);
    tp_cli_sets_free(&sets);
    tp_cli_parser_free(&parser);
    return rc;
}

const tp_cli_command tp_cmd_check = {
    .name = "check",
    .summary = "check files and folders against a profile's upload rules",
    .usage = "[--profile P] [--set KEY=VALUE] [--json] [--deep] [-j N] [--junit FILE] "
             "[--follow-symlinks] PATH...",
    .description =
        "PATHs are files or folders (walked recursively; media is recognised by content, hidden\n"
        "and temporary files and symbolic links are skipped and counted; a file named like video\n"
        "or audio whose content is not media is an error). One line per file, in input order:\n"
        "  ✔ pass    ↻ fix (remux or transcode)    ✖ reject    ! error (unreadable)\n"
        "Exit status: 0 every file passes, 1 some file needs a fix or is rejected, 2 some file\n"
        "could not be read or a usage/profile error, 130 interrupted.",
    .options = options,
    .example = "tokprep check --json -j 4 ~/Videos/export",
    .run = run,
};
