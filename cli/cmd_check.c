/* `tokprep check`: probe files and folders against a profile, on -j worker threads, and report
 * in input order (human lines, --json, --junit). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

enum { OPT_DEEP = TP_OPT_USER, OPT_JUNIT, OPT_FOLLOW, OPT_JOBS = 'j' };

static const tp_cli_option options[] = {
    {"profile", 'p', "NAME|PATH", "profile to check against (default: tiktok)", TP_OPT_PROFILE},
    {"set", 0, "KEY=VALUE", "override a profile value (repeatable), e.g. --set rules.fps=[24,60]",
     TP_OPT_SET},
    {"json", 0, NULL, "print one JSON document (schema in docs/COMMANDS.md) instead of lines",
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

/* What the per-file callback needs and collects: the report is printed as results arrive. */
typedef struct {
    bool json, color;
    int cols; /* stdout is a terminal this wide: one violation per line, none longer; else 0 */
    size_t counts[4], remux, transcode, n;
    cJSON *files; /* --json: the file objects, in order */
    FILE *junit;  /* --junit: the testcases, in order (a memory stream) */
    char *junit_buf;
    size_t junit_len;
    bool oom;
} report;

static tp_verdict item_verdict(const tp_check_files_item *it)
{
    return it->check ? tp_check_verdict(it->check) : TP_VERDICT_ERROR;
}

/* "PATH: reason" → "reason": the line already starts with the path. */
/* "  text" cut in the middle to the terminal's width, made printable. */
static void put_indented(const char *prefix, const char *text, int cols)
{
    char *shown = tp_str_printable(text);
    char *line = tp_cli_asprintf("%s%s", prefix, shown ? shown : "?");
    /* The last column is left free: a terminal may wrap a line that fills it. */
    char *cut = line ? tp_cli_ellipsize(line, (size_t)(cols > 1 ? cols - 1 : 1)) : NULL;
    puts(cut ? cut : "?");
    free(cut);
    free(line);
    free(shown);
}

/* "      → text" wrapped at spaces to the terminal's width (continuation lines indented under
 * the text). For tp_violation_hint()'s advice: our own words, so cut at words, not in the
 * middle like a path. */
static void put_wrapped(const char *first, const char *rest, const char *text, int cols)
{
    size_t room = (size_t)(cols > 1 ? cols - 1 : 1), indent = tp_cli_text_width(rest);
    size_t width = room > indent + 20 ? room - indent : 20;
    const char *p = text;
    for (bool head = true; *p; head = false) {
        size_t len = strlen(p), cut = len;
        if (tp_cli_text_width(p) > width) {
            cut = 0;
            for (size_t i = 0; i < len && i <= width; i++)
                if (p[i] == ' ')
                    cut = i;
            if (cut == 0)
                cut = strcspn(p, " ");
        }
        printf("%s%.*s\n", head ? first : rest, (int)cut, p);
        p += cut;
        while (*p == ' ')
            p++;
    }
}

/* On a terminal: the verdict and the path on the first line, then each violation on its own
 * indented line (warnings marked) with what to do about it under it (tp_violation_hint()),
 * none longer than the terminal. */
static void print_lines_tty(const tp_check_files_item *s, bool color, int cols)
{
    static const char *const sym[] = {"✔", "↻", "✖", "!"};
    static const char *const col[] = {"\033[32m", "\033[33m", "\033[31m", "\033[35m"};
    const tp_verdict v = item_verdict(s);
    const tp_check *c = s->check;
    const char *what = v == TP_VERDICT_FIX      ? tp_action_name(tp_check_action(c))
                       : v == TP_VERDICT_REJECT ? "reject"
                       : v == TP_VERDICT_ERROR  ? "error"
                                                : NULL;
    /* Room for the symbol, a space, and "  what" after the path. */
    size_t room = (size_t)(cols > 1 ? cols - 1 : 1), tail = what ? strlen(what) + 2 : 0;
    size_t name_w = room > tail + 2 + 8 ? room - tail - 2 : 8;
    char *shown = tp_str_printable(s->path);
    char *name = tp_cli_ellipsize(shown ? shown : "?", name_w);
    printf("%s%s%s %s%s%s\n", color ? col[v] : "", sym[v], color ? "\033[0m" : "",
           name ? name : "?", what ? "  " : "", what ? what : "");
    free(name);
    free(shown);
    if (!c || v == TP_VERDICT_ERROR) {
        put_indented("    ",
                     !c ? tp_cli_strip_path(tp_error_message(s->error), s->path)
                        : tp_cli_strip_path(tp_check_error(c), s->path),
                     cols);
        return;
    }
    if (v == TP_VERDICT_REJECT)
        put_indented("    ", tp_check_reason(c), cols);
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < tp_check_violation_count(c); i++) {
            const char *msg, *code;
            tp_severity sev;
            tp_check_violation(c, i, &code, &sev, &msg);
            if ((pass == 0) != (sev == TP_SEV_ERROR))
                continue;
            put_indented(sev == TP_SEV_WARN ? "    warning: " : "    ", msg, cols);
            /* A message with its own advice (after " — ") needs no second one. */
            if (!strstr(msg, " — "))
                put_wrapped("      → ", "        ", tp_violation_hint(code), cols);
        }
}

static void print_line(const tp_check_files_item *s, bool color)
{
    static const char *const sym[] = {"✔", "↻", "✖", "!"};
    static const char *const col[] = {"\033[32m", "\033[33m", "\033[31m", "\033[35m"};
    const tp_verdict v = item_verdict(s);
    const char *path = s->path;
    /* A name may hold newlines or escape sequences: one file stays one line, uncoloured. */
    char *shown = tp_str_printable(path), *why = NULL;
    printf("%s%s%s %s", color ? col[v] : "", sym[v], color ? "\033[0m" : "", shown ? shown : "?");
    free(shown);
    if (!s->check || v == TP_VERDICT_ERROR || v == TP_VERDICT_REJECT) {
        const char *text = !s->check ? tp_cli_strip_path(tp_error_message(s->error), path)
                           : v == TP_VERDICT_ERROR
                               ? tp_cli_strip_path(tp_check_error(s->check), path)
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

static cJSON *item_json(const tp_check_files_item *s)
{
    if (s->check) {
        /* The library's own serializer, embedded as it is (never parsed back). */
        char *text = tp_check_json(s->check);
        cJSON *o = text ? cJSON_CreateRaw(text) : NULL;
        free(text);
        return o;
    }
    /* Never probed (missing path, unreadable folder, cancelled): same schema, no media. */
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "path", s->path);
    cJSON_AddStringToObject(o, "verdict", "error");
    cJSON_AddNullToObject(o, "action");
    cJSON_AddArrayToObject(o, "violations");
    cJSON_AddStringToObject(o, "error", tp_error_message(s->error));
    cJSON_AddStringToObject(o, "reason", tp_error_message(s->error));
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

/* One testcase of the JUnit report. */
static void junit_testcase(FILE *f, const tp_check_files_item *s)
{
    const tp_verdict v = item_verdict(s);
    fprintf(f, "    <testcase classname=\"tokprep.check\" name=\"");
    xml_escaped(f, s->path);
    fprintf(f, "\" time=\"%.3f\">\n", s->seconds);
    if (v == TP_VERDICT_ERROR) {
        const char *msg = s->check ? tp_check_error(s->check) : tp_error_message(s->error);
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

/* An unpredictable name next to FILE (O_EXCL: never an existing file or a planted link). */
static int create_exclusive(char **path_out, const char *file)
{
    const char *slash = strrchr(file, '/');
    char *t = slash ? tp_cli_asprintf("%.*s/.tokprep-junit-XXXXXX.xml", (int)(slash - file), file)
                    : tp_cli_asprintf(".tokprep-junit-XXXXXX.xml");
    if (!t)
        return -1;
    int fd = mkstemps(t, 4);
    if (fd < 0) {
        free(t);
        return -1;
    }
    /* mkstemps makes it 0600; a report is as readable as any file the user writes. */
    mode_t um = umask(0);
    umask(um);
    fchmod(fd, 0666 & ~um);
    *path_out = t;
    return fd;
}

static int write_junit(const char *file, const report *rp, const char *profile, double total)
{
    /* Written under an unpredictable name next to FILE and renamed over it: a symbolic link
     * planted at FILE is replaced, never written through. */
    char *tmp = NULL;
    int fd = create_exclusive(&tmp, file);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        fprintf(stderr, "tokprep check: cannot write %s: %s\n", file, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(tmp);
        return -1;
    }
    const size_t *counts = rp->counts, n = rp->n;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f,
            "<testsuites name=\"tokprep check\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\">\n",
            n, counts[1] + counts[2], counts[3]);
    fprintf(f, "  <testsuite name=\"tokprep check: ");
    xml_escaped(f, profile);
    fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"0\" time=\"%.3f\">\n", n,
            counts[1] + counts[2], counts[3], total);
    if (rp->junit_len)
        fwrite(rp->junit_buf, 1, rp->junit_len, f);
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

/* Each file as it is done, in input order: count, print (or collect for --json), and note its
 * JUnit testcase. */
static void on_file(const tp_check_files_item *it, void *payload)
{
    report *rp = payload;
    const tp_verdict v = item_verdict(it);
    rp->n++;
    rp->counts[v]++;
    if (v == TP_VERDICT_FIX) {
        if (tp_check_action(it->check) == TP_ACTION_REMUX)
            rp->remux++;
        else
            rp->transcode++;
    }
    if (!rp->json && rp->cols > 0) {
        print_lines_tty(it, rp->color, rp->cols);
        fflush(stdout);
    } else if (!rp->json) {
        print_line(it, rp->color);
        fflush(stdout);
    } else {
        cJSON *o = item_json(it);
        if (!o || !cJSON_AddItemToArray(rp->files, o)) {
            cJSON_Delete(o);
            rp->oom = true;
        }
    }
    if (rp->junit)
        junit_testcase(rp->junit, it);
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
    tp_check_files_options opts = TP_CHECK_FILES_OPTIONS_INIT;
    tp_files_summary sum = {0, 0, 0};
    tp_error err = TP_ERROR_INIT;
    const char *profile_name = NULL, *junit = NULL;
    bool json = false;
    int rc = TP_EXIT_OK, c;
    report rp = {0};
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
        case OPT_DEEP: opts.deep = 1; break;
        case OPT_JUNIT: junit = optarg; break;
        case OPT_FOLLOW: opts.follow_symlinks = 1; break;
        case OPT_JOBS: {
            long v;
            if ((rc = tp_cli_number(cmd, "-j", optarg, 1, 1024, &v)) != 0)
                goto out;
            opts.threads = (unsigned)v;
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
    rp.json = json;
    rp.color = !json && tp_cli_stdout_is_tty() && !getenv("NO_COLOR");
    rp.cols = json || !tp_cli_stdout_is_tty() ? 0 : tp_cli_term_columns(STDOUT_FILENO);
    if (json) {
        doc = cJSON_CreateObject();
        if (!doc || !cJSON_AddStringToObject(doc, "profile", tp_profile_name(profile)) ||
            !(rp.files = cJSON_AddArrayToObject(doc, "files"))) {
            fprintf(stderr, "tokprep check: out of memory\n");
            rc = TP_EXIT_ERROR;
            goto out;
        }
    }
    if (junit && !(rp.junit = open_memstream(&rp.junit_buf, &rp.junit_len))) {
        fprintf(stderr, "tokprep check: out of memory\n");
        rc = TP_EXIT_ERROR;
        goto out;
    }

    /* SIGINT/SIGTERM set the shared flag; the library passes it to each probe as the cancel
     * token. */
    tp_cancel *cancel = tp_cli_install_interrupt();
    opts.on_file = on_file;
    opts.payload = &rp;
    opts.cancel = cancel;
    /* The library walks the folders and probes on worker threads; results come back here in
     * input order as they complete: -j changes speed, never order. */
    const double t0 = tp_cli_monotonic();
    if (tp_check_files(&sum, profile, (const char *const *)(argv + optind), (size_t)(argc - optind),
                       &opts, &err) < 0) {
        fprintf(stderr, "tokprep check: %s\n", tp_error_message(&err));
        rc = TP_EXIT_ERROR;
        goto out;
    }
    const double total = tp_cli_monotonic() - t0;
    /* A file named on the command line is always listed: nothing at all means every PATH is a
     * folder without media. Said per folder, exit 2, as `fit` does. */
    if (sum.files == 0) {
        for (int i = optind; i < argc; i++) {
            char *e = tp_str_printable(argv[i]);
            fprintf(stderr, "tokprep check: no media files found in %s\n", e ? e : "?");
            free(e);
        }
    }
    if (rp.junit && fflush(rp.junit) != 0)
        rp.oom = true;
    if (rp.oom) {
        fprintf(stderr, "tokprep check: out of memory\n");
        rc = TP_EXIT_ERROR;
        goto out;
    }
    const size_t *counts = rp.counts;

    if (json) {
        cJSON *s = cJSON_AddObjectToObject(doc, "summary");
        if (s) {
            cJSON_AddNumberToObject(s, "pass", (double)counts[0]);
            cJSON_AddNumberToObject(s, "fix", (double)counts[1]);
            cJSON_AddNumberToObject(s, "reject", (double)counts[2]);
            cJSON_AddNumberToObject(s, "error", (double)counts[3]);
            cJSON_AddNumberToObject(s, "non_media_skipped", (double)sum.non_media);
            cJSON_AddNumberToObject(s, "symlinks_skipped", (double)sum.symlinks);
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
        char *head =
            tp_cli_asprintf("%zu file%s: %zu pass, %zu fix (%zu remux, %zu transcode),", rp.n,
                            rp.n == 1 ? "" : "s", counts[0], counts[1], rp.remux, rp.transcode);
        char *rest = tp_cli_asprintf("%zu reject, %zu error (%.2f s)", counts[2], counts[3], total);
        if (head && rest && rp.cols > 0 &&
            strlen(head) + 1 + strlen(rest) > (size_t)(rp.cols > 1 ? rp.cols - 1 : 1)) {
            /* On a narrow terminal: two lines, neither longer than it. */
            put_indented("", head, rp.cols);
            put_indented("  ", rest, rp.cols);
        } else {
            printf("%s %s\n", head ? head : "?", rest ? rest : "?");
        }
        free(head);
        free(rest);
        print_skipped(sum.non_media, sum.symlinks);
    }
    if (junit && write_junit(junit, &rp, tp_profile_name(profile), total) < 0)
        rp.counts[3]++; /* an unwritten report is a failure CI must see */

    if (tp_cancel_requested(cancel)) {
        fprintf(stderr, "tokprep check: interrupted; files not yet probed are listed as "
                        "errors\n");
        rc = TP_EXIT_INTERRUPTED;
    } else if (counts[3] || sum.files == 0)
        rc = TP_EXIT_ERROR;
    else if (counts[1] || counts[2])
        rc = TP_EXIT_FAIL;
out:
    if (rp.junit)
        fclose(rp.junit);
    free(rp.junit_buf);
    cJSON_Delete(doc);
    tp_error_clear(&err);
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
