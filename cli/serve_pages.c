/* `tokprep serve`: the page frame and formatting the three pages share, and the dashboard (`/`):
 * every file of the ledger with its status, stage, verdict, sizes and times, filters, counts and
 * live progress (cli/web/app.js patches the rows from /api/events and /api/files). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <tokprep.h>

#include "serve_pages.h"

/* ---- formatting ------------------------------------------------------------------------- */

void pg_size(char *buf, size_t size, double n)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    if (!(n > 0)) {
        snprintf(buf, size, "—");
        return;
    }
    if (n < 1024) {
        snprintf(buf, size, "%.0f B", n);
        return;
    }
    size_t u = 0;
    n /= 1024;
    while (n >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
        n /= 1024;
        u++;
    }
    snprintf(buf, size, n < 100 ? "%.1f %s" : "%.0f %s", n, units[u]);
}

void pg_bitrate(char *buf, size_t size, double bps)
{
    if (!(bps > 0))
        snprintf(buf, size, "—");
    else if (bps >= 1e6)
        snprintf(buf, size, "%.1f Mbit/s", bps / 1e6);
    else
        snprintf(buf, size, "%.0f kbit/s", bps / 1e3);
}

void pg_duration(char *buf, size_t size, double s)
{
    if (!(s >= 0) || s > 1e9) {
        snprintf(buf, size, "—");
        return;
    }
    if (s < 10) {
        snprintf(buf, size, "%.1f s", s);
        return;
    }
    long t = lround(s);
    if (t >= 3600)
        snprintf(buf, size, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, size, "%ld:%02ld", t / 60, t % 60);
}

void pg_ago(char *buf, size_t size, double t)
{
    double d = (double)time(NULL) - t;
    if (d < 45)
        snprintf(buf, size, "just now");
    else if (d < 3600)
        snprintf(buf, size, "%.0f min ago", fmax(1, floor(d / 60)));
    else if (d < 86400)
        snprintf(buf, size, "%.0f h ago", floor(d / 3600));
    else if (d < 7 * 86400)
        snprintf(buf, size, "%.0f d ago", floor(d / 86400));
    else
        tp_time_format(buf, size, t, TP_TIME_LOCAL);
}

void pg_time(serve_buf *b, double t)
{
    if (!(t > 0)) {
        sb_puts(b, "—");
        return;
    }
    char iso[48], rel[48];
    tp_time_format(iso, sizeof(iso), t, TP_TIME_ISO8601);
    pg_ago(rel, sizeof(rel), t);
    sb_puts(b, "<time datetime=\"");
    sb_html(b, iso);
    sb_puts(b, "\" title=\"");
    sb_html(b, iso);
    sb_puts(b, "\">");
    sb_html(b, rel);
    sb_puts(b, "</time>");
}

const char *pg_reason_text(const char *path, const char *reason)
{
    size_t n = path ? strlen(path) : 0;
    if (n && reason && !strncmp(reason, path, n) && reason[n] == ':' && reason[n + 1] == ' ' &&
        reason[n + 2])
        return reason + n + 2;
    return reason;
}

int pg_regular_file(const char *path)
{
    struct stat st;
    return path && *path && lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

const cJSON *pg_output_on_disk(const cJSON *outputs, int n)
{
    const cJSON *o = cJSON_IsArray(outputs) ? cJSON_GetArrayItem(outputs, n) : NULL;
    return o && (pg_regular_file(pg_jstr(o, "path")) || pg_regular_file(pg_jstr(o, "delivered")))
               ? o
               : NULL;
}

const char *pg_basename(const char *path)
{
    if (!path)
        return "";
    const char *slash = strrchr(path, '/');
    return slash && slash[1] ? slash + 1 : path;
}

void pg_file_name(serve_buf *b, const char *path)
{
    sb_puts(b, "<span class=\"fname\" title=\"");
    sb_html(b, path ? path : "");
    sb_puts(b, "\">");
    sb_html(b, pg_basename(path));
    sb_puts(b, "</span>");
}

static const struct {
    const char *status, *label;
} statuses[] = {
    {"running", "running"}, {"queued", "queued"}, {"awaiting_review", "awaiting review"},
    {"done", "done"},       {"failed", "failed"}, {"rejected", "rejected"},
    {"skipped", "skipped"},
};
#define N_STATUSES (sizeof(statuses) / sizeof(statuses[0]))

const char *pg_status_label(const char *status)
{
    for (size_t i = 0; status && i < N_STATUSES; i++)
        if (!strcmp(status, statuses[i].status))
            return statuses[i].label;
    return status ? status : "";
}

const char *pg_status_class(const char *status)
{
    for (size_t i = 0; status && i < N_STATUSES; i++)
        if (!strcmp(status, statuses[i].status))
            return statuses[i].status;
    return "other";
}

void pg_badge(serve_buf *b, const char *status)
{
    sb_printf(b, "<span class=\"badge badge-%s\">", pg_status_class(status));
    sb_html(b, pg_status_label(status));
    sb_puts(b, "</span>");
}

const char *pg_privacy_label(const char *level)
{
    if (!level)
        return "";
    if (!strcmp(level, "PUBLIC_TO_EVERYONE"))
        return "Everyone";
    if (!strcmp(level, "MUTUAL_FOLLOW_FRIENDS"))
        return "Friends";
    if (!strcmp(level, "FOLLOWER_OF_CREATOR"))
        return "Followers";
    if (!strcmp(level, "SELF_ONLY"))
        return "Only me";
    return level;
}

const char *pg_workdir(char *buf, size_t size, const char *state)
{
    const char *base = pg_basename(state);
    if (!state || strcmp(base, "tokprep.db") != 0)
        return NULL;
    size_t n = (size_t)(base - state);
    if (n > 1)
        n--; /* drop the slash */
    if (n == 0 || n >= size) {
        snprintf(buf, size, "%s", n == 0 ? "." : "");
        return n == 0 ? buf : NULL;
    }
    memcpy(buf, state, n);
    buf[n] = '\0';
    return buf;
}

size_t pg_utf16_len(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if ((*p & 0xC0) == 0x80)
            continue;            /* continuation byte */
        n += *p >= 0xF0 ? 2 : 1; /* 4-byte sequences are surrogate pairs */
    }
    return n;
}

/* ---- JSON ------------------------------------------------------------------------------- */

const char *pg_jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int pg_jnum(const cJSON *o, const char *key, double *out)
{
    const cJSON *v = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return 0;
    *out = v->valuedouble;
    return 1;
}

int pg_jtrue(const cJSON *o, const char *key)
{
    return cJSON_IsObject(o) && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

cJSON *pg_parse(const char *json)
{
    return json && *json ? cJSON_Parse(json) : NULL;
}

/* ---- the frame ---------------------------------------------------------------------------- */

long pg_count_awaiting(const serve_ctx *c)
{
    tp_ledger_files *files = NULL;
    tp_error err = TP_ERROR_INIT;
    tp_ledger_files_options opts = TP_LEDGER_FILES_OPTIONS_INIT;
    opts.status = "awaiting_review";
    long n = -1;
    if (tp_ledger_files_read(&files, serve_state_path(c), &opts, &err) == 0)
        n = (long)tp_ledger_files_count(files);
    tp_ledger_files_free(files);
    tp_error_clear(&err);
    return n;
}

void pg_head(serve_buf *b, const serve_ctx *c, const char *title, const char *page,
             const char *body_attrs, const char *current, long n_review)
{
    const char *csrf = serve_csrf(c);
    sb_puts(b, "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
               "<meta name=\"csrf-token\" content=\"");
    sb_html(b, csrf ? csrf : "");
    sb_puts(b, "\">\n<title>");
    sb_html(b, title);
    sb_puts(b, " · tokprep</title>\n<link rel=\"icon\" href=\"data:,\">\n"
               "<link rel=\"stylesheet\" href=\"/static/app.css\">\n"
               "<script src=\"/static/app.js\" defer></script>\n</head>\n");
    sb_printf(b, "<body data-page=\"%s\"%s%s>\n", page, body_attrs ? " " : "",
              body_attrs ? body_attrs : "");
    sb_puts(b, "<header class=\"top\"><div class=\"wrap top-inner\">"
               "<a class=\"brand\" href=\"/\">tokprep</a><nav class=\"nav\">");
    sb_printf(b, "<a href=\"/\" class=\"nav-dashboard\"%s>Dashboard</a>",
              current && !strcmp(current, "dashboard") ? " aria-current=\"page\"" : "");
    sb_printf(b, "<a href=\"/review\" class=\"nav-review\"%s>Review",
              current && !strcmp(current, "review") ? " aria-current=\"page\"" : "");
    if (n_review >= 0)
        sb_printf(b, " <span class=\"count%s\" id=\"review-count\">%ld</span>",
                  n_review > 0 ? " count-on" : "", n_review);
    sb_puts(b, "</a></nav>");
    if (!strcmp(page, "dashboard"))
        sb_puts(b, "<span id=\"live\" class=\"live\" title=\"Live updates from the running "
                   "pipeline\">offline</span>");
    sb_puts(b, "</div></header>\n<main class=\"wrap\">\n");
}

void pg_foot(serve_buf *b)
{
    sb_puts(b, "</main>\n</body>\n</html>\n");
}

int pg_error_page(serve_buf *b, const serve_ctx *c, int status, const char *heading,
                  const char *message)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
    pg_head(b, c, heading, "error", NULL, NULL, pg_count_awaiting(c));
    sb_puts(b, "<section class=\"card empty\"><h1>");
    sb_html(b, heading);
    sb_puts(b, "</h1><p>");
    sb_html(b, message);
    sb_puts(b, "</p><p><a href=\"/\">Back to the dashboard</a></p></section>\n");
    pg_foot(b);
    return status;
}

/* ---- the dashboard ------------------------------------------------------------------------ */

/* The filters the dashboard offers, in order; any other status may still be asked for. */
static const struct {
    const char *filter, *label;
} filters[] = {
    {"all", "All"}, {"failed", "Failed"}, {"awaiting_review", "Awaiting review"}, {"done", "Done"}};

/* A filter we know (a status or "all"); anything else shows everything. */
static const char *known_filter(const char *f)
{
    if (!f || !*f || !strcmp(f, "all"))
        return "all";
    for (size_t i = 0; i < N_STATUSES; i++)
        if (!strcmp(f, statuses[i].status))
            return statuses[i].status;
    return "all";
}

static int shows_progress(const tp_ledger_file *f)
{
    return f->status && !strcmp(f->status, "running") && f->stage &&
           (!strcmp(f->stage, "fit") || !strcmp(f->stage, "deliver"));
}

/* Why a file failed or was refused, under its name. */
static int shows_reason(const tp_ledger_file *f)
{
    return f->reason && *f->reason && f->status &&
           (!strcmp(f->status, "failed") || !strcmp(f->status, "rejected"));
}

static void dash_cell_text(serve_buf *b, const char *cls, const char *label, const char *text)
{
    sb_printf(b, "<td class=\"%s\" data-label=\"%s\">", cls, label);
    sb_html(b, text && *text ? text : "—");
    sb_puts(b, "</td>");
}

/* One row; app.js builds the same markup from /api/files (keep both in step). */
static void dash_row(serve_buf *b, const tp_ledger_file *f)
{
    char size[32], out_size[32];
    pg_size(size, sizeof(size), (double)f->source_size);
    pg_size(out_size, sizeof(out_size), (double)f->output_size);
    sb_printf(b, "<tr id=\"file-%lld\" class=\"file\" data-id=\"%lld\" data-status=\"",
              (long long)f->id, (long long)f->id);
    sb_html(b, f->status ? f->status : "");
    sb_puts(b, "\" data-path=\"");
    sb_html(b, f->path ? f->path : "");
    sb_printf(b, "\">\n<td class=\"name\" data-label=\"File\"><a href=\"/files/%lld\" title=\"",
              (long long)f->id);
    sb_html(b, f->path ? f->path : "");
    sb_puts(b, "\">");
    sb_html(b, pg_basename(f->path));
    sb_puts(b, "</a>");
    if (shows_reason(f)) {
        sb_puts(b, "<div class=\"row-reason\" title=\"");
        sb_html(b, f->reason);
        sb_puts(b, "\">");
        sb_html(b, pg_reason_text(f->path, f->reason));
        sb_puts(b, "</div>");
    }
    sb_puts(b, "</td><td class=\"status\" data-label=\"Status\">");
    pg_badge(b, f->status);
    sb_printf(b, "<progress class=\"progress\" max=\"1\"%s></progress></td>",
              shows_progress(f) ? "" : " hidden");
    dash_cell_text(b, "stage", "Stage", f->stage);
    dash_cell_text(b, "verdict", "Verdict", f->verdict);
    dash_cell_text(b, "action", "Action", f->action);
    dash_cell_text(b, "size", "Size", size);
    dash_cell_text(b, "out-size", "Output", out_size);
    sb_puts(b, "<td class=\"updated\" data-label=\"Updated\">");
    pg_time(b, f->updated > 0 ? f->updated : f->created);
    sb_puts(b, "</td></tr>\n");
}

static void dash_summary(serve_buf *b, const tp_ledger_file *const *files, size_t n)
{
    size_t counts[N_STATUSES] = {0};
    for (size_t i = 0; i < n; i++)
        for (size_t s = 0; s < N_STATUSES; s++)
            if (files[i]->status && !strcmp(files[i]->status, statuses[s].status))
                counts[s]++;
    sb_printf(b,
              "<section id=\"summary\" class=\"summary\" aria-label=\"Files by status\">"
              "<div class=\"stat\" data-status=\"all\"><span class=\"n\">%zu</span>"
              "<span class=\"what\">files</span></div>",
              n);
    for (size_t s = 0; s < N_STATUSES; s++) {
        sb_printf(b,
                  "<div class=\"stat stat-%s\" data-status=\"%s\"><span class=\"n\">%zu</span>"
                  "<span class=\"what\">%s</span></div>",
                  statuses[s].status, statuses[s].status, counts[s], statuses[s].label);
    }
    sb_puts(b, "</section>\n");
}

static void dash_filters(serve_buf *b, const char *filter)
{
    sb_puts(b, "<nav class=\"filters\" aria-label=\"Show\">");
    for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
        int on = !strcmp(filter, filters[i].filter);
        sb_printf(b, "<a class=\"filter%s\" data-filter=\"%s\" href=\"/?status=%s\"%s>%s</a>",
                  on ? " active" : "", filters[i].filter, filters[i].filter,
                  on ? " aria-current=\"true\"" : "", filters[i].label);
    }
    sb_puts(b, "</nav>\n");
}

/* The page from the rows already read (NULL and read_error set when the ledger could not be
 * read). Separate from the reading so the unit test can render hand-made rows. */
static void dash_render(serve_buf *b, const serve_ctx *c, const char *filter,
                        const tp_ledger_file *const *files, size_t n, const char *read_error)
{
    size_t n_review = 0, shown = 0;
    for (size_t i = 0; i < n; i++)
        if (files[i]->status && !strcmp(files[i]->status, "awaiting_review"))
            n_review++;
    char attrs[96];
    snprintf(attrs, sizeof(attrs), "data-filter=\"%s\"%s", filter,
             read_error ? " data-ledger=\"none\"" : "");
    pg_head(b, c, "Dashboard", "dashboard", attrs, "dashboard", read_error ? -1 : (long)n_review);

    sb_puts(b, "<div class=\"page-head\"><h1>Files</h1><p class=\"sub\" title=\"");
    sb_html(b, serve_state_path(c));
    sb_puts(b, "\">Ledger: ");
    sb_html(b, serve_state_path(c));
    sb_puts(b, "</p></div>\n");
    dash_summary(b, files, n);
    if (serve_has_queue(c))
        sb_puts(b, "<section id=\"queue\" class=\"card queue\" data-src=\"/api/queue\">"
                   "<h2>Queue</h2><p class=\"muted queue-body\">Reading the queue…</p>"
                   "</section>\n");
    dash_filters(b, filter);

    char wd[1024];
    const char *workdir = pg_workdir(wd, sizeof(wd), serve_state_path(c));
    sb_puts(b, "<table id=\"files\" class=\"files\">\n<thead><tr><th>File</th><th>Status</th>"
               "<th>Stage</th><th>Verdict</th><th>Action</th><th>Size</th><th>Output</th>"
               "<th>Updated</th></tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < n; i++) {
        if (strcmp(filter, "all") != 0 && (!files[i]->status || strcmp(files[i]->status, filter)))
            continue;
        dash_row(b, files[i]);
        shown++;
    }
    sb_puts(b, "</tbody>\n</table>\n");

    /* The empty states; app.js shows or hides #empty as rows come and go. */
    sb_printf(b, "<div id=\"empty\" class=\"card empty\"%s>", shown ? " hidden" : "");
    /* Both texts are there; app.js shows the one that fits as rows come and go. */
    int none = n == 0 || read_error;
    sb_printf(b, "<p class=\"empty-none\"%s>No files yet. Start a run: <code>tokprep run ",
              none ? "" : " hidden");
    if (workdir) {
        sb_puts(b, "-w ");
        sb_html(b, workdir);
    } else {
        sb_puts(b, "--state ");
        sb_html(b, serve_state_path(c));
    }
    sb_printf(b,
              " FOLDER</code></p><p class=\"empty-filter\"%s>No files with this status. "
              "<a href=\"/?status=all\">Show all files</a></p>",
              none ? " hidden" : "");
    if (read_error) {
        sb_puts(b, "<p class=\"small\">");
        sb_html(b, read_error);
        sb_puts(b, "</p>");
    }
    sb_puts(b, "</div>\n");
    pg_foot(b);
}

int serve_page_dashboard(serve_ctx *c, const char *status_filter, serve_buf *out)
{
    tp_ledger_files *files = NULL;
    tp_error err = TP_ERROR_INIT;
    const tp_ledger_file **rows = NULL;
    size_t n = 0;
    const char *filter = known_filter(status_filter);
    int rc = tp_ledger_files_read(&files, serve_state_path(c), NULL, &err);
    if (rc == 0) {
        n = tp_ledger_files_count(files);
        rows = calloc(n ? n : 1, sizeof(*rows));
        if (!rows) {
            tp_ledger_files_free(files);
            return pg_error_page(out, c, 500, "Out of memory", "Try again.");
        }
        for (size_t i = 0; i < n; i++)
            rows[i] = tp_ledger_files_at(files, i);
        dash_render(out, c, filter, rows, n, NULL);
    } else {
        const char *msg = serve_ledger_note(c);
        if (!msg || !*msg)
            msg = tp_error_message(&err);
        dash_render(out, c, filter, NULL, 0, msg && *msg ? msg : "The ledger cannot be read.");
    }
    free(rows);
    tp_ledger_files_free(files);
    tp_error_clear(&err);
    return out->oom ? 500 : 200;
}
