/* The console's page renderers (cli/serve_pages*.c) on hand-made ledger rows: every page keeps
 * the DOM hooks the browser tests use, escapes hostile names and ledger strings, and has no
 * inline script, style or event handler (the CSP forbids them). The server core is replaced by
 * the stubs below; the renderers' static functions are called directly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/serve_pages.c"
#include "cli/serve_pages_file.c"
#include "cli/serve_pages_review.c"

/* ---- stubs of the server core (cli/serve*.c) --------------------------------------------- */

struct serve_ctx {
    const char *state, *csrf, *avatar_origin;
    int queue;
    const tp_profile *profile;
};

const char *serve_state_path(const serve_ctx *c)
{
    return c->state;
}
const tp_profile *serve_profile(const serve_ctx *c)
{
    return c->profile;
}
const char *serve_csrf(const serve_ctx *c)
{
    return c->csrf;
}
int serve_has_queue(const serve_ctx *c)
{
    return c->queue;
}
const char *serve_avatar_origin(const serve_ctx *c)
{
    return c->avatar_origin;
}
int serve_creator(serve_ctx *c, const tp_creator_info **out, tp_error *err)
{
    (void)c;
    *out = NULL;
    return tp_error_set(err, TP_EAUTH, 0, "not logged in");
}
void serve_creator_release(serve_ctx *c, const tp_creator_info *ci)
{
    (void)c;
    (void)ci;
}
const char *serve_ledger_note(const serve_ctx *c)
{
    (void)c;
    return NULL;
}

void sb_append(serve_buf *b, const void *data, size_t len)
{
    if (b->oom)
        return;
    if (b->len + len + 1 > b->cap) {
        size_t cap = (b->len + len + 1) * 2;
        char *p = realloc(b->data, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}
void sb_puts(serve_buf *b, const char *s)
{
    sb_append(b, s, strlen(s));
}
void sb_printf(serve_buf *b, const char *fmt, ...)
{
    char tmp[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof(tmp));
    sb_append(b, tmp, (size_t)n);
}
void sb_html(serve_buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': sb_puts(b, "&amp;"); break;
        case '<': sb_puts(b, "&lt;"); break;
        case '>': sb_puts(b, "&gt;"); break;
        case '"': sb_puts(b, "&quot;"); break;
        case '\'': sb_puts(b, "&#39;"); break;
        default: sb_append(b, s, 1);
        }
    }
}
void sb_free(serve_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

/* ---- checks on the markup ---------------------------------------------------------------- */

#define HOSTILE "/in/<img src=x onerror=alert(1)>\"'&.mp4"
#define HOSTILE_ESC "&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;.mp4"

/* TP_PAGES_DUMP=DIR writes each page rendered as DIR/NAME.html (to look at them in a browser). */
static void dump(const char *name, const serve_buf *b)
{
    const char *dir = getenv("TP_PAGES_DUMP");
    char path[1024];
    if (!dir || !*dir)
        return;
    snprintf(path, sizeof(path), "%s/%s.html", dir, name);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(b->data, f);
        fclose(f);
    }
}

static int has(const serve_buf *b, const char *s)
{
    return b->data && strstr(b->data, s) != NULL;
}

static size_t count(const serve_buf *b, const char *s)
{
    size_t n = 0;
    for (const char *p = b->data; p && (p = strstr(p, s)); p += strlen(s))
        n++;
    return n;
}

/* Walk every tag: attribute names are never on* or style, values always quoted, a <script>
 * always has src and nothing inside, no <style> element. Fails the test otherwise. */
static void assert_csp_clean(const serve_buf *b)
{
    const char *p = b->data;
    assert_non_null(p);
    while ((p = strchr(p, '<'))) {
        p++;
        if (*p == '!' || *p == '/') { /* doctype, comment, end tag */
            p = strchr(p, '>');
            assert_non_null(p);
            continue;
        }
        char tag[32] = {0};
        size_t t = 0;
        while (isalnum((unsigned char)*p) && t + 1 < sizeof(tag))
            tag[t++] = (char)tolower((unsigned char)*p++);
        assert_true(t > 0); /* a '<' in text would have been escaped */
        assert_string_not_equal(tag, "style");
        int src = 0;
        for (;;) {
            while (isspace((unsigned char)*p))
                p++;
            if (*p == '>')
                break;
            char name[64] = {0};
            size_t n = 0;
            while (*p && !isspace((unsigned char)*p) && *p != '=' && *p != '>' &&
                   n + 1 < sizeof(name))
                name[n++] = (char)tolower((unsigned char)*p++);
            assert_true(n > 0);
            if (!strncmp(name, "on", 2) || !strcmp(name, "style")) {
                print_message("forbidden attribute %s in <%s>\n", name, tag);
                fail();
            }
            if (!strcmp(name, "src"))
                src = 1;
            if (*p == '=') {
                p++;
                assert_true(*p == '"'); /* every value quoted */
                const char *end = strchr(p + 1, '"');
                assert_non_null(end);
                assert_null(memchr(p + 1, '<', (size_t)(end - p - 1)));
                p = end + 1;
            }
        }
        if (!strcmp(tag, "script")) {
            assert_true(src);
            assert_true(!strncmp(p, "></script>", 10));
        }
    }
}

/* The frame every page has. */
static void assert_frame(const serve_buf *b, const char *page)
{
    char body[64];
    snprintf(body, sizeof(body), "<body data-page=\"%s\"", page);
    assert_true(!strncmp(b->data, "<!doctype html>", 15));
    assert_true(has(b, body));
    assert_true(has(b, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"));
    assert_true(has(b, "<meta name=\"csrf-token\" content=\"c5rf\">"));
    assert_true(has(b, "<link rel=\"stylesheet\" href=\"/static/app.css\">"));
    assert_true(has(b, "<script src=\"/static/app.js\" defer></script>"));
    assert_true(has(b, "href=\"/review\""));
    assert_false(has(b, "http://")); /* nothing external but TikTok's legal pages (https) */
    assert_csp_clean(b);
}

static serve_ctx ctx = {.state = "/work/tokprep-work/tokprep.db", .csrf = "c5rf"};

static tp_ledger_file row(int64_t id, const char *path, const char *status, const char *stage)
{
    tp_ledger_file f = {.id = id,
                        .path = path,
                        .status = status,
                        .stage = stage,
                        .verdict = "fix",
                        .action = "transcode",
                        .sink = "tiktok:tiktok",
                        .profile = "tiktok",
                        .fingerprint = "ab",
                        .source_size = 5 * 1024 * 1024,
                        .output_size = 0,
                        .created = 1.7e9,
                        .updated = 1.7e9,
                        .error = "",
                        .reason = "",
                        .media = "",
                        .outputs = "",
                        .posts = "",
                        .review = ""};
    return f;
}

/* Outputs the pages may link to must be regular files on disk: a folder with two of them. */
static char outdir[64];
static char out_hostile[128], out_a[128];

static void make_outputs(void)
{
    snprintf(outdir, sizeof(outdir), "%s", "/tmp/tp_serve_pagesXXXXXX");
    if (!mkdtemp(outdir))
        abort();
    snprintf(out_hostile, sizeof(out_hostile), "%s/<b>x.mp4", outdir);
    snprintf(out_a, sizeof(out_a), "%s/a.mp4", outdir);
    const char *paths[] = {out_hostile, out_a};
    for (size_t i = 0; i < 2; i++) {
        FILE *fp = fopen(paths[i], "w");
        if (!fp || fputs("mp4", fp) < 0 || fclose(fp) != 0)
            abort();
    }
}

static void remove_outputs(void)
{
    unlink(out_hostile);
    unlink(out_a);
    rmdir(outdir);
}

/* ---- dashboard ----------------------------------------------------------------------------- */

static void dashboard_rows_filters_and_escaping(void **state)
{
    (void)state;
    tp_ledger_file a = row(7, HOSTILE, "running", "fit"), d = row(8, "/in/b.mp4", "done", "done");
    tp_ledger_file r = row(9, "/in/c.mp4", "awaiting_review", "deliver");
    d.reason = "not shown: done";
    const tp_ledger_file *rows[] = {&a, &d, &r};
    serve_buf b = {0};
    dash_render(&b, &ctx, "all", rows, 3, NULL);
    assert_false(b.oom);
    assert_frame(&b, "dashboard");
    assert_true(has(&b, "<table id=\"files\""));
    assert_true(has(&b, "<tr id=\"file-7\" class=\"file\" data-id=\"7\" data-status=\"running\" "
                        "data-path=\"/in/" HOSTILE_ESC "\">"));
    assert_false(has(&b, "<img src=x"));
    assert_true(has(&b, ">" HOSTILE_ESC "</a>")); /* basename shown, escaped */
    assert_int_equal(count(&b, "<tr id=\"file-"), 3);
    static const char *const cells[] = {"td class=\"name\"",     "td class=\"status\"",
                                        "td class=\"stage\"",    "td class=\"verdict\"",
                                        "td class=\"action\"",   "td class=\"size\"",
                                        "td class=\"out-size\"", "td class=\"updated\""};
    for (size_t i = 0; i < sizeof(cells) / sizeof(cells[0]); i++)
        assert_int_equal(count(&b, cells[i]), 3);
    /* progress shown only for the running fit */
    assert_int_equal(count(&b, "<progress class=\"progress\" max=\"1\">"), 1);
    assert_int_equal(count(&b, "<progress class=\"progress\" max=\"1\" hidden>"), 2);
    assert_true(has(&b, "<a href=\"/files/7\""));
    assert_true(has(&b, "5.0 MiB"));
    for (size_t i = 0; i < 4; i++) {
        char f[64];
        snprintf(f, sizeof(f), "data-filter=\"%s\"", filters[i].filter);
        assert_true(has(&b, f));
    }
    assert_true(has(&b, "id=\"summary\""));
    assert_true(has(&b, "id=\"live\""));
    assert_false(has(&b, "id=\"queue\""));
    assert_true(has(&b, "id=\"review-count\">1<"));
    dump("dashboard", &b);
    sb_free(&b);

    /* a filter shows only its rows; the counts still cover everything */
    dash_render(&b, &ctx, "done", rows, 3, NULL);
    assert_int_equal(count(&b, "<tr id=\"file-"), 1);
    assert_true(has(&b, "id=\"file-8\""));
    assert_false(has(&b, "row-reason"));
    assert_true(has(&b, "class=\"filter active\" data-filter=\"done\""));
    assert_true(has(&b, "data-status=\"all\"><span class=\"n\">3</span>"));
    sb_free(&b);

    /* a failure reason that starts with the row's path: shown without it (kept in the title) */
    tp_ledger_file x = row(10, "/tmp/in/x.mp4", "failed", "probe");
    x.reason = "/tmp/in/x.mp4: not readable <perm>";
    tp_ledger_file y = row(11, "/tmp/in/y.mp4", "failed", "probe");
    y.reason = "/tmp/in/other.mp4: gone";
    const tp_ledger_file *failed[] = {&x, &y};
    dash_render(&b, &ctx, "all", failed, 2, NULL);
    assert_true(has(&b, "<div class=\"row-reason\" title=\"/tmp/in/x.mp4: not readable "
                        "&lt;perm&gt;\">not readable &lt;perm&gt;</div>"));
    assert_true(has(&b, "\">/tmp/in/other.mp4: gone</div>"));
    assert_string_equal(pg_reason_text("/a.mp4", "/a.mp4: "), "/a.mp4: ");
    assert_string_equal(pg_reason_text("/a.mp4", "/a.mp4x: y"), "/a.mp4x: y");
    assert_string_equal(pg_reason_text(NULL, "r"), "r");
    sb_free(&b);

    /* --queue: the queue box */
    ctx.queue = 1;
    dash_render(&b, &ctx, "all", rows, 3, NULL);
    assert_true(has(&b, "id=\"queue\""));
    ctx.queue = 0;
    sb_free(&b);
}

static void dashboard_empty_and_unknown_filter(void **state)
{
    (void)state;
    serve_buf b = {0};
    assert_string_equal(known_filter("<script>"), "all");
    assert_string_equal(known_filter(NULL), "all");
    assert_string_equal(known_filter("awaiting_review"), "awaiting_review");
    dash_render(&b, &ctx, "all", NULL, 0, NULL);
    assert_frame(&b, "dashboard");
    assert_true(has(&b, "No files yet. Start a run: <code>tokprep run -w /work/tokprep-work "
                        "FOLDER</code>"));
    assert_true(has(&b, "<table id=\"files\""));
    dump("dashboard-empty", &b);
    sb_free(&b);
    /* a failed file says why under its name, escaped */
    tp_ledger_file f = row(3, "/in/f.mp4", "failed", "deliver");
    f.reason = "TikTok said <script>x</script>";
    const tp_ledger_file *one[] = {&f};
    dash_render(&b, &ctx, "all", one, 1, NULL);
    assert_true(
        has(&b, "<div class=\"row-reason\" title=\"TikTok said &lt;script&gt;x&lt;/script&gt;\">"));
    assert_csp_clean(&b);
    sb_free(&b);
    dash_render(&b, &ctx, "all", NULL, 0, "<b>no ledger</b>");
    assert_true(has(&b, "&lt;b&gt;no ledger&lt;/b&gt;"));
    assert_true(has(&b, "data-ledger=\"none\""));
    assert_csp_clean(&b);
    sb_free(&b);
}

/* ---- report ------------------------------------------------------------------------------- */

/* A source's media as tp_ledger_file.media holds it (tp_media_to_json, `check --json`'s "media").
 */
#define MEDIA                                                                                      \
    "{\"container\":\"mov\",\"duration\":12.5,\"duration_source\":\"packets\","                    \
    "\"start_time\":0,\"size\":5242880,\"bit_rate\":3355443,\"faststart\":false,"                  \
    "\"video\":{\"codec\":\"hevc\",\"profile\":\"Main\",\"width\":1920,\"height\":1080,"           \
    "\"display_width\":1920,\"display_height\":1080,\"rotation\":0,\"sar\":\"1:1\","               \
    "\"fps\":29.97,\"fps_rational\":\"30000/1001\",\"vfr\":false,\"pix_fmt\":\"yuv420p\","         \
    "\"bit_depth\":8,\"chroma\":\"4:2:0\",\"hdr\":null,\"interlaced\":false,\"frames\":375,"       \
    "\"stream_index\":0,\"active_area\":null},\"audio\":{\"codec\":\"aac\",\"channels\":2,"        \
    "\"layout\":\"stereo\",\"sample_rate\":48000,\"stream_index\":1,\"loudness\":{"                \
    "\"integrated\":-20.1,\"range\":5,\"true_peak\":-3}},\"streams\":{\"video\":1,\"audio\":1,"    \
    "\"subtitle\":0,\"data\":0,\"attachments\":0},\"decode_errors\":null}"

static void report_sections_and_hostile_strings(void **state)
{
    (void)state;
    tp_ledger_file f = row(12, HOSTILE, "failed", "deliver");
    f.media = MEDIA;
    f.error = "TP_EREJECT";
    f.reason = "TikTok said <script>alert(2)</script>";
    char outputs[4096];
#define OUTPUTS_FMT                                                                               \
    "[{\"path\":\"%s\",\"size\":4000000,\"sha256\":\"00\","                                      \
    "\"chunk_size\":2000000,\"chunk_count\":2,\"chunks\":[{\"index\":0,\"offset\":0,"               \
    "\"length\":2000000,\"content_range\":\"bytes 0-1999999/4000000\"},{\"index\":1,"               \
    "\"offset\":2000000,\"length\":2000000,\"content_range\":\"bytes "                               \
    "2000000-3999999/4000000\"}],\"media\":" MEDIA "}]"
    snprintf(outputs, sizeof(outputs), OUTPUTS_FMT, out_hostile);
    f.outputs = outputs;
    f.posts = "[{\"publish_id\":\"v_pub_<i>1</i>\",\"status\":\"FAILED\",\"failed\":true,"
              "\"part\":0,\"fail_reason\":\"<svg onload=alert(3)>\",\"rule\":\"tiktok_failed\"}]";
    serve_buf b = {0};
    file_render(&b, &ctx, &f, NULL, "Not checked yet.", 0);
    assert_false(b.oom);
    assert_frame(&b, "file");
    assert_true(has(&b, "<body data-page=\"file\" data-id=\"12\""));
    static const char *const ids[] = {"id=\"facts\"",    "id=\"violations\"", "id=\"plan\"",
                                      "id=\"loudness\"", "id=\"chunks\"",     "id=\"upload\"",
                                      "id=\"outputs\"",  "id=\"error\""};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
        assert_true(has(&b, ids[i]));
    assert_true(has(&b, "<img id=\"preview-source\" src=\"/files/12/preview.png?of=source\""));
    assert_true(has(&b, "<img id=\"preview-output\" src=\"/files/12/preview.png?of=output\""));
    assert_true(has(&b, "safe-zone overlay: red = TikTok UI"));
    assert_true(has(&b, "<a href=\"/files/12/outputs/0\""));
    assert_true(has(&b, "TikTok said &lt;script&gt;alert(2)&lt;/script&gt;"));
    assert_true(has(&b, "v_pub_&lt;i&gt;1&lt;/i&gt;"));
    assert_true(has(&b, "&lt;svg onload=alert(3)&gt;"));
    assert_true(has(&b, "&lt;b&gt;x.mp4"));
    assert_false(has(&b, "removed after delivery"));
    assert_true(has(&b, "bytes 2000000-3999999/4000000"));
    assert_true(has(&b, "<span class=\"muted\">2 chunks of 1.9 MiB</span>"));
    assert_true(has(&b, "-20.1 LUFS integrated"));
    assert_true(has(&b, "1920×1080"));
    assert_true(has(&b, "29.97 fps"));
    dump("report", &b);
    sb_free(&b);

    /* posted: the TikTok sink removed the output; no preview or link that could only 404 */
    snprintf(outputs, sizeof(outputs), OUTPUTS_FMT, "/nonexistent/<b>x.mp4");
    f.status = "done";
    file_render(&b, &ctx, &f, NULL, "Not checked yet.", 0);
    assert_frame(&b, "file");
    assert_true(has(&b, "<img id=\"preview-source\""));
    assert_false(has(&b, "preview-output"));
    assert_false(has(&b, "/outputs/0"));
    assert_true(has(&b, "&lt;b&gt;x.mp4</span> <span class=\"muted\">3.8 MiB "
                        "(removed after delivery)</span>"));
    sb_free(&b);

    /* moved by the directory sink: what it delivered is there, so are the link and the frame */
    char moved[512];
    snprintf(moved, sizeof(moved),
             "[{\"path\":\"/nonexistent/x.mp4\",\"delivered\":\"%s\",\"size\":1000}]", out_a);
    f.outputs = moved;
    file_render(&b, &ctx, &f, NULL, "Not checked yet.", 0);
    assert_true(has(&b, "<img id=\"preview-output\""));
    assert_true(has(&b, "<a href=\"/files/12/outputs/0\""));
    assert_false(has(&b, "removed after delivery"));
    sb_free(&b);
    f.outputs = outputs;

    /* a link in its place is not a file */
    char link[160];
    snprintf(link, sizeof(link), "%s/link.mp4", outdir);
    assert_int_equal(symlink(out_a, link), 0);
    snprintf(outputs, sizeof(outputs), OUTPUTS_FMT, link);
    file_render(&b, &ctx, &f, NULL, "Not checked yet.", 0);
    assert_false(has(&b, "preview-output"));
    assert_false(has(&b, "/outputs/0"));
    unlink(link);
    sb_free(&b);
#undef OUTPUTS_FMT

    /* no outputs: no output preview; not failed: no #error */
    tp_ledger_file q = row(13, "/in/q.mp4", "queued", "probe");
    file_render(&b, &ctx, &q, NULL, "Not checked yet.", 0);
    assert_frame(&b, "file");
    assert_false(has(&b, "preview-output"));
    assert_false(has(&b, "id=\"error\""));
    assert_false(has(&b, "id=\"preview-source\"")); /* not probed: nothing to draw */
    assert_true(has(&b, "No frame: the source has no video"));
    sb_free(&b);
}

static void report_violations_from_a_real_check(void **state)
{
    (void)state;
    tp_profile *p = NULL;
    tp_check *check = NULL;
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(tp_profile_open(&p, "tiktok", NULL, 0, &err), 0);
    tp_ledger_file f = row(14, "/in/wide.mov", "done", "done");
    f.media = MEDIA;
    if (tp_ledger_file_check(&check, p, &f, &err) != 0) {
        /* Before the library's tp_ledger_file_check exists (a stub): nothing to judge. */
        print_message("tp_ledger_file_check: %s\n", tp_error_message(&err));
        tp_error_clear(&err);
        tp_profile_free(p);
        skip();
    }
    serve_ctx c = ctx;
    c.profile = p;
    serve_buf b = {0};
    file_render(&b, &c, &f, check, "", 0);
    assert_frame(&b, "file");
    assert_true(tp_check_violation_count(check) > 0);
    assert_int_equal(count(&b, "<li class=\"violation"), tp_check_violation_count(check));
    assert_true(has(&b, "data-code=\"aspect\""));
    assert_true(has(&b, "<span class=\"code\">aspect</span>"));
    assert_true(has(&b, "<span class=\"hint\">"));
    assert_true(has(&b, "Re-encode to fit the profile"));
    sb_free(&b);
    tp_check_free(check);
    tp_profile_free(p);
}

/* ---- review ------------------------------------------------------------------------------- */

static char awaiting_outputs[256];

static tp_ledger_file awaiting(int64_t id, const char *review)
{
    tp_ledger_file f = row(id, HOSTILE, "awaiting_review", "deliver");
    f.review = review;
    snprintf(awaiting_outputs, sizeof(awaiting_outputs),
             "[{\"path\":\"%s\",\"size\":1000,\"media\":{\"duration\":30}}]", out_a);
    f.outputs = awaiting_outputs;
    return f;
}

static void review_form_follows_tiktok_rules(void **state)
{
    (void)state;
    /* caption: hostile, with an emoji (2 UTF-16 units) and an é (1) */
    tp_ledger_file f =
        awaiting(21, "{\"caption\":\"</textarea><script>x</script> \xF0\x9F\x98\x80\xC3\xA9\"}");
    const tp_ledger_file *rows[] = {&f};
    review_creator cr = {.nickname = "Nick <b>",
                         .username = "user\"x",
                         .avatar = "https://p16.tiktokcdn.com/a.jpg",
                         .privacy = {"PUBLIC_TO_EVERYONE", "SELF_ONLY"},
                         .n_privacy = 2,
                         .comment_disabled = 0,
                         .duet_disabled = 1,
                         .stitch_disabled = 1,
                         .max_duration = 600};
    serve_buf b = {0};
    review_render(&b, &ctx, rows, 1, &cr, NULL, NULL);
    assert_false(b.oom);
    assert_frame(&b, "review");
    assert_true(has(&b, "id=\"creator\""));
    assert_true(has(&b, "<span class=\"nickname\">Nick &lt;b&gt;</span>"));
    assert_true(has(&b, "<span class=\"username\">@user&quot;x</span>"));
    assert_true(has(&b, "<img class=\"avatar\" src=\"https://p16.tiktokcdn.com/a.jpg\""));
    assert_true(has(&b, "<form class=\"review\" data-id=\"21\""));
    assert_true(has(&b, "<video src=\"/files/21/outputs/0\" controls preload=\"metadata\""));
    assert_true(has(&b, "aria-label=\"Preview of &lt;img src=x"));
    assert_false(has(&b, "data-blocked"));
    assert_true(has(&b, "&lt;/textarea&gt;&lt;script&gt;x&lt;/script&gt;"));
    assert_int_equal(count(&b, "<script"), 1); /* app.js only */
    /* 28 ASCII + space... counted: "</textarea><script>x</script> " is 30, emoji 2, é 1 */
    assert_true(has(&b, "<div class=\"caption-count\" aria-live=\"polite\">33 / 2200</div>"));
    /* privacy: exactly the creator's options, none checked */
    assert_int_equal(count(&b, "type=\"radio\""), 2);
    assert_true(has(&b, "name=\"privacy_level-21\" value=\"PUBLIC_TO_EVERYONE\"><span>Everyone"));
    assert_true(has(&b, "name=\"privacy_level-21\" value=\"SELF_ONLY\"><span>Only me"));
    assert_false(has(&b, "checked"));
    /* interactions: comment enabled, duet and stitch greyed with the note */
    assert_true(has(&b, "<input type=\"checkbox\" name=\"allow_comment\"><span>"));
    assert_true(has(&b, "<input type=\"checkbox\" name=\"allow_duet\" disabled>"));
    assert_true(has(&b, "<input type=\"checkbox\" name=\"allow_stitch\" disabled>"));
    assert_true(has(&b, "turned off in your TikTok settings"));
    /* disclosure with TikTok's label texts */
    assert_true(has(&b, "name=\"disclose\""));
    assert_true(has(&b, "name=\"brand_organic\"><span>Your brand</span>"));
    assert_true(has(&b, "name=\"brand_content\"><span>Branded content</span>"));
    assert_true(has(&b, "Your video will be labeled 'Promotional content'"));
    assert_true(has(&b, "Your video will be labeled 'Paid partnership'"));
    assert_true(has(&b, "Branded content visibility cannot be set to private"));
    assert_true(has(&b, "By posting, you agree to TikTok's <a href=\"" MUSIC_URL "\""));
    assert_true(has(&b, "Music Usage Confirmation</a>"));
    assert_true(has(&b, BC_URL));
    assert_true(has(&b, "<button type=\"submit\" class=\"post\" disabled>Post</button>"));
    assert_true(has(&b, "class=\"reject\">Reject</button>"));
    assert_true(has(&b, "class=\"result\""));
    assert_true(has(&b, "id=\"review-empty\" class=\"card empty\" hidden"));
    dump("review", &b);
    sb_free(&b);

    /* the output is gone: no player, a note, Post off with its reason */
    f.outputs = "[{\"path\":\"/nonexistent/a.mp4\",\"size\":1000}]";
    review_render(&b, &ctx, rows, 1, &cr, NULL, NULL);
    assert_false(has(&b, "<video"));
    assert_true(has(&b, "class=\"preview-missing output-missing\""));
    assert_true(has(&b, "data-blocked=\"1\""));
    assert_true(has(&b, "class=\"post\" disabled>"));
    assert_true(has(&b, "<p class=\"why\">Posting is off: the fitted output is missing.</p>"));
    sb_free(&b);
}

static void review_creator_error_and_avatar_origins(void **state)
{
    (void)state;
    tp_ledger_file f = awaiting(22, "{\"caption\":\"hi\"}");
    const tp_ledger_file *rows[] = {&f};
    serve_buf b = {0};
    review_render(&b, &ctx, rows, 1, NULL, "token <expired>", NULL);
    assert_frame(&b, "review");
    assert_true(has(&b, "id=\"creator-error\""));
    assert_true(has(&b, "token &lt;expired&gt;"));
    assert_false(has(&b, "id=\"creator\""));
    assert_false(has(&b, "type=\"radio\""));
    assert_true(has(&b, "data-blocked=\"1\""));
    assert_true(has(&b, "class=\"post\" disabled>"));
    dump("review-error", &b);
    sb_free(&b);

    serve_ctx c = ctx;
    c.avatar_origin = "http://127.0.0.1:5000";
    assert_null(allowed_avatar(&c, "http://evil.example/a.png"));
    assert_null(allowed_avatar(&c, "javascript:alert(1)"));
    assert_null(allowed_avatar(&c, "http://127.0.0.1:50001/a.png"));
    assert_non_null(allowed_avatar(&c, "http://127.0.0.1:5000/__avatar.png"));
    assert_non_null(allowed_avatar(&c, "https://cdn.example/a.png"));
    assert_null(allowed_avatar(&ctx, "http://127.0.0.1:5000/__avatar.png"));

    /* longer than the creator may post: Post stays off */
    review_creator cr = {.nickname = "n",
                         .username = "u",
                         .privacy = {"SELF_ONLY"},
                         .n_privacy = 1,
                         .max_duration = 10};
    review_render(&b, &ctx, rows, 1, &cr, NULL, NULL);
    assert_true(has(&b, "data-blocked=\"1\""));
    assert_true(has(&b, "longer than the 10 s"));
    sb_free(&b);

    review_render(&b, &ctx, NULL, 0, NULL, NULL, NULL);
    assert_frame(&b, "review");
    assert_true(has(&b, "Nothing is waiting for review"));
    assert_false(has(&b, "id=\"review-empty\" class=\"card empty\" hidden"));
    assert_false(has(&b, "<form"));
    assert_false(has(&b, "creator-error"));
    sb_free(&b);
}

/* ---- helpers -------------------------------------------------------------------------------- */

static void formatting(void **state)
{
    (void)state;
    char buf[64];
    assert_int_equal(pg_utf16_len("abc"), 3);
    assert_int_equal(pg_utf16_len("\xF0\x9F\x98\x80"), 2);
    assert_int_equal(pg_utf16_len("\xC3\xA9\xE2\x82\xAC"), 2);
    pg_size(buf, sizeof(buf), 0);
    assert_string_equal(buf, "—");
    pg_size(buf, sizeof(buf), 512);
    assert_string_equal(buf, "512 B");
    pg_size(buf, sizeof(buf), 1.5 * 1024 * 1024);
    assert_string_equal(buf, "1.5 MiB");
    pg_size(buf, sizeof(buf), 300.0 * 1024 * 1024);
    assert_string_equal(buf, "300 MiB");
    pg_duration(buf, sizeof(buf), 65);
    assert_string_equal(buf, "1:05");
    pg_duration(buf, sizeof(buf), -1);
    assert_string_equal(buf, "—");
    assert_string_equal(pg_basename("/a/b/c.mp4"), "c.mp4");
    assert_string_equal(pg_basename("c.mp4"), "c.mp4");
    assert_string_equal(pg_workdir(buf, sizeof(buf), "/w/tokprep.db"), "/w");
    assert_null(pg_workdir(buf, sizeof(buf), "/w/other.db"));
    assert_string_equal(pg_status_class("<x>"), "other");
    assert_string_equal(pg_status_label("awaiting_review"), "awaiting review");
    /* the chunk plan from the chunks' lengths: the last one absorbs the remainder */
    static const struct {
        const char *json, *want;
    } plans[] = {
        {"[{\"length\":145592}]", "1 chunk of 142 KiB"},
        {"[{\"length\":1000000},{\"length\":1500000}]", "2 chunks of 977 KiB (last 1.4 MiB)"},
        {"[{\"length\":1000000},{\"length\":1000000}]", "2 chunks of 977 KiB"},
    };
    for (size_t i = 0; i < sizeof(plans) / sizeof(plans[0]); i++) {
        cJSON *ch = cJSON_Parse(plans[i].json);
        serve_buf sb = {0};
        chunk_summary(&sb, ch);
        sb_puts(&sb, "");
        assert_non_null(sb.data);
        assert_string_equal(sb.data, plans[i].want);
        sb_free(&sb);
        cJSON_Delete(ch);
    }
}

/* With TP_PAGES_DUMP: a fuller dashboard to look at (not a test). */
static void dump_demo(void)
{
    if (!getenv("TP_PAGES_DUMP"))
        return;
    static const char *const names[] = {"/videos/holiday/beach_sunset_4k.mov",
                                        "/videos/clip_02.mp4",
                                        "/videos/interview-part-1-final-final.mp4",
                                        "/videos/drone.mkv",
                                        "/videos/short.mp4",
                                        "/videos/podcast_episode_12_vertical.mp4",
                                        HOSTILE};
    static const char *const st[][2] = {
        {"done", "done"},      {"running", "fit"},    {"awaiting_review", "deliver"},
        {"failed", "deliver"}, {"rejected", "probe"}, {"queued", "probe"},
        {"done", "done"}};
    tp_ledger_file rows[7];
    const tp_ledger_file *p[7];
    for (int i = 0; i < 7; i++) {
        rows[i] = row(i + 1, names[i], st[i][0], st[i][1]);
        rows[i].source_size = (int64_t)(i + 1) * 37 * 1024 * 1024;
        rows[i].output_size =
            st[i][0][0] == 'd' || st[i][0][0] == 'a' ? rows[i].source_size / 3 : 0;
        rows[i].updated = (double)time(NULL) - i * 700;
        p[i] = &rows[i];
    }
    rows[3].reason = "TikTok refused the post: picture_size_check_failed";
    rows[4].reason = "too_short: reject (1.2 s < 3 s)";
    rows[4].verdict = "reject";
    rows[4].action = "none";
    rows[0].verdict = "pass";
    rows[0].action = "none";
    serve_buf b = {0};
    ctx.queue = 1;
    dash_render(&b, &ctx, "all", p, 7, NULL);
    ctx.queue = 0;
    dump("dashboard-demo", &b);
    sb_free(&b);
}

int main(void)
{
    make_outputs();
    dump_demo();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dashboard_rows_filters_and_escaping),
        cmocka_unit_test(dashboard_empty_and_unknown_filter),
        cmocka_unit_test(report_sections_and_hostile_strings),
        cmocka_unit_test(report_violations_from_a_real_check),
        cmocka_unit_test(review_form_follows_tiktok_rules),
        cmocka_unit_test(review_creator_error_and_avatar_origins),
        cmocka_unit_test(formatting),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    remove_outputs();
    return rc;
}
