/* placeholder until the pages branch lands */
/* Minimal page renderers so that `tokprep serve` builds and answers before cli/serve_pages.c
 * (the pages branch) is merged; the lead deletes this file at that merge. */
#include "serve.h"

#include <string.h>

static void head(serve_ctx *c, serve_buf *out, const char *page)
{
    sb_puts(out, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                 "<meta name=\"csrf-token\" content=\"");
    sb_html(out, serve_csrf(c));
    sb_puts(out, "\"><link rel=\"stylesheet\" href=\"/static/app.css\">"
                 "<script src=\"/static/app.js\" defer></script><title>tokprep</title></head>");
    sb_printf(out, "<body data-page=\"%s\">", page);
}

int serve_page_dashboard(serve_ctx *c, const char *status_filter, serve_buf *out)
{
    tp_ledger_files_options opts = TP_LEDGER_FILES_OPTIONS_INIT;
    tp_ledger_files *files = NULL;
    tp_error err = TP_ERROR_INIT;
    head(c, out, "dashboard");
    if (serve_ledger_note(c)) {
        sb_puts(out, "<p class=\"note\">");
        sb_html(out, serve_ledger_note(c));
        sb_puts(out, "</p></body></html>\n");
        return 200;
    }
    if (status_filter && *status_filter && strcmp(status_filter, "all") != 0)
        opts.status = status_filter;
    if (tp_ledger_files_read(&files, serve_state_path(c), &opts, &err) < 0) {
        sb_puts(out, "<p class=\"note\">");
        sb_html(out, tp_error_message(&err));
        sb_puts(out, "</p>");
    } else {
        sb_puts(out, "<table id=\"files\">");
        for (size_t i = 0; i < tp_ledger_files_count(files); i++) {
            const tp_ledger_file *f = tp_ledger_files_at(files, i);
            sb_printf(out, "<tr id=\"file-%lld\" class=\"file\"><td class=\"name\">",
                      (long long)f->id);
            sb_html(out, f->path);
            sb_puts(out, "</td><td class=\"status\">");
            sb_html(out, f->status);
            sb_puts(out, "</td></tr>");
        }
        sb_puts(out, "</table>");
    }
    sb_puts(out, "</body></html>\n");
    tp_ledger_files_free(files);
    tp_error_clear(&err);
    return 200;
}

int serve_page_file(serve_ctx *c, int64_t id, serve_buf *out)
{
    head(c, out, "file");
    sb_printf(out, "<p>file %lld</p></body></html>\n", (long long)id);
    return 200;
}

int serve_page_review(serve_ctx *c, serve_buf *out)
{
    head(c, out, "review");
    sb_puts(out, "<p>Nothing is waiting for review</p></body></html>\n");
    return 200;
}
