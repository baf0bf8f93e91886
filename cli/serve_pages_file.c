/* `tokprep serve`: the report of one file (`/files/ID`): media facts, what the rules found and
 * what fit does about it, the before/after frames, loudness, outputs, chunk plan and posts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tokprep.h>

#include "serve_pages.h"

/* ---- small pieces ------------------------------------------------------------------------- */

static void section_open(serve_buf *b, const char *id, const char *heading)
{
    sb_printf(b, "<section id=\"%s\" class=\"card\"><h2>%s</h2>\n", id, heading);
}

static void p_text(serve_buf *b, const char *cls, const char *text)
{
    sb_printf(b, "<p class=\"%s\">", cls);
    sb_html(b, text);
    sb_puts(b, "</p>\n");
}

/* ---- facts -------------------------------------------------------------------------------- */

typedef void (*fact_fn)(char *buf, size_t size, const cJSON *media);

static void fact_container(char *buf, size_t size, const cJSON *m)
{
    const char *c = pg_jstr(m, "container");
    snprintf(buf, size, "%s%s", c ? c : "—",
             c && pg_jtrue(m, "faststart") ? " (index at the front)" : "");
}

static void fact_video(char *buf, size_t size, const cJSON *m)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, "video");
    const char *codec = pg_jstr(v, "codec"), *prof = pg_jstr(v, "profile");
    if (!codec)
        snprintf(buf, size, "none");
    else
        snprintf(buf, size, "%s%s%s", codec, prof && *prof ? " " : "", prof ? prof : "");
}

static void fact_dims(char *buf, size_t size, const cJSON *m)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, "video");
    double w, h, dw, dh;
    if (!pg_jnum(v, "width", &w) || !pg_jnum(v, "height", &h)) {
        snprintf(buf, size, "—");
        return;
    }
    if (pg_jnum(v, "display_width", &dw) && pg_jnum(v, "display_height", &dh) &&
        (dw != w || dh != h) && dw > 0 && dh > 0)
        snprintf(buf, size, "%.0f×%.0f (shown %.0f×%.0f)", w, h, dw, dh);
    else
        snprintf(buf, size, "%.0f×%.0f", w, h);
}

static void fact_rotation(char *buf, size_t size, const cJSON *m)
{
    double r;
    if (pg_jnum(cJSON_GetObjectItemCaseSensitive(m, "video"), "rotation", &r))
        snprintf(buf, size, "%.0f°", r);
    else
        snprintf(buf, size, "—");
}

static void fact_fps(char *buf, size_t size, const cJSON *m)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, "video");
    double fps;
    if (pg_jnum(v, "fps", &fps) && fps > 0 && fps < 1e6) {
        char n[32];
        snprintf(n, sizeof(n), "%.3f", fps); /* 23.976, 29.97, 30 */
        char *end = n + strlen(n) - 1;
        while (*end == '0')
            *end-- = '\0';
        if (*end == '.')
            *end = '\0';
        snprintf(buf, size, "%s fps%s", n, pg_jtrue(v, "vfr") ? " (variable)" : "");
    } else
        snprintf(buf, size, "—");
}

static void fact_pixels(char *buf, size_t size, const cJSON *m)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, "video");
    const char *pf = pg_jstr(v, "pix_fmt"), *hdr = pg_jstr(v, "hdr");
    double depth = 0;
    pg_jnum(v, "bit_depth", &depth);
    if (!pf) {
        snprintf(buf, size, "—");
        return;
    }
    snprintf(buf, size, "%s, %.0f-bit%s%s%s", pf, depth, hdr ? ", HDR " : "", hdr ? hdr : "",
             pg_jtrue(v, "interlaced") ? ", interlaced" : "");
}

static void fact_duration(char *buf, size_t size, const cJSON *m)
{
    double d = -1;
    pg_jnum(m, "duration", &d);
    pg_duration(buf, size, d);
}

static void fact_bitrate(char *buf, size_t size, const cJSON *m)
{
    double r = 0;
    pg_jnum(m, "bit_rate", &r);
    pg_bitrate(buf, size, r);
}

static void fact_size(char *buf, size_t size, const cJSON *m)
{
    double n = 0;
    pg_jnum(m, "size", &n);
    pg_size(buf, size, n);
}

static void fact_audio(char *buf, size_t size, const cJSON *m)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(m, "audio");
    const char *codec = pg_jstr(a, "codec"), *layout = pg_jstr(a, "layout");
    double ch = 0, rate = 0;
    if (!codec) {
        snprintf(buf, size, "none");
        return;
    }
    pg_jnum(a, "channels", &ch);
    pg_jnum(a, "sample_rate", &rate);
    snprintf(buf, size, "%s, %s, %.0f Hz", codec,
             layout && *layout ? layout
                               : (ch == 1   ? "mono"
                                  : ch == 2 ? "stereo"
                                            : "channels"),
             rate);
}

static void fact_loudness(char *buf, size_t size, const cJSON *m)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(m, "audio");
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(a, "loudness");
    double i;
    if (!cJSON_IsObject(a))
        snprintf(buf, size, "—");
    else if (pg_jnum(l, "integrated", &i))
        snprintf(buf, size, "%.1f LUFS", i);
    else
        snprintf(buf, size, "not measured");
}

static const struct {
    const char *label;
    fact_fn fn;
} facts[] = {
    {"Container", fact_container}, {"Video", fact_video},       {"Size", fact_dims},
    {"Rotation", fact_rotation},   {"Frame rate", fact_fps},    {"Pixels", fact_pixels},
    {"Duration", fact_duration},   {"Bitrate", fact_bitrate},   {"File size", fact_size},
    {"Audio", fact_audio},         {"Loudness", fact_loudness},
};

/* The first output's media (what the fit made), or NULL. */
static const cJSON *output_media(const cJSON *outputs)
{
    const cJSON *o, *arr = cJSON_IsArray(outputs) ? outputs : NULL;
    cJSON_ArrayForEach(o, arr)
    {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "media");
        if (cJSON_IsObject(m))
            return m;
    }
    return NULL;
}

static void render_facts(serve_buf *b, const cJSON *media, const cJSON *out_media)
{
    section_open(b, "facts", "Media");
    if (!cJSON_IsObject(media)) {
        p_text(b, "muted", "Not probed yet: the facts appear once the pipeline has read the file.");
        sb_puts(b, "</section>\n");
        return;
    }
    sb_puts(b, "<table class=\"facts\"><thead><tr><th></th><th>Source</th>");
    if (out_media)
        sb_puts(b, "<th>Output</th>");
    sb_puts(b, "</tr></thead><tbody>\n");
    for (size_t i = 0; i < sizeof(facts) / sizeof(facts[0]); i++) {
        char v[256];
        sb_printf(b, "<tr><th scope=\"row\">%s</th><td>", facts[i].label);
        facts[i].fn(v, sizeof(v), media);
        sb_html(b, v);
        sb_puts(b, "</td>");
        if (out_media) {
            facts[i].fn(v, sizeof(v), out_media);
            sb_puts(b, "<td>");
            sb_html(b, v);
            sb_puts(b, "</td>");
        }
        sb_puts(b, "</tr>\n");
    }
    sb_puts(b, "</tbody></table>\n</section>\n");
}

/* ---- violations and plan ------------------------------------------------------------------ */

static void render_violations(serve_buf *b, const tp_check *check, const char *check_note)
{
    section_open(b, "violations", "What the rules found");
    if (!check) {
        p_text(b, "muted", check_note);
        sb_puts(b, "<ul class=\"violations\"></ul>\n</section>\n");
        return;
    }
    size_t n = tp_check_violation_count(check);
    if (n == 0)
        p_text(b, "ok-text", "No problems: the file meets every rule of the profile.");
    sb_puts(b, "<ul class=\"violations\">\n");
    for (size_t i = 0; i < n; i++) {
        const char *code = NULL, *msg = NULL;
        tp_severity sev = TP_SEV_ERROR;
        if (tp_check_violation(check, i, &code, &sev, &msg) != 0)
            continue;
        code = code ? code : "";
        msg = msg ? msg : "";
        /* Messages start with their code ("aspect: displayed ..."), shown next to it already. */
        size_t cl = strlen(code);
        if (cl && !strncmp(msg, code, cl) && msg[cl] == ':' && msg[cl + 1] == ' ')
            msg += cl + 2;
        /* Some messages carry their own advice after " — ": show it as the hint. */
        const char *dash = strstr(msg, " — ");
        sb_printf(b, "<li class=\"violation sev-%s\" data-code=\"",
                  sev == TP_SEV_WARN ? "warn" : "error");
        sb_html(b, code);
        sb_puts(b, "\"><span class=\"code\">");
        sb_html(b, code);
        sb_puts(b, "</span>");
        if (sev == TP_SEV_WARN)
            sb_puts(b, "<span class=\"sev\">advice</span>");
        sb_puts(b, "<span class=\"message\">");
        if (dash) {
            char *head = strndup(msg, (size_t)(dash - msg));
            sb_html(b, head ? head : msg);
            free(head);
        } else {
            sb_html(b, msg);
        }
        sb_puts(b, "</span><span class=\"hint\">");
        sb_html(b, dash ? dash + strlen(" — ") : tp_violation_hint(code));
        sb_puts(b, "</span></li>\n");
    }
    sb_puts(b, "</ul>\n");
    const char *reason = tp_check_reason(check);
    if (reason && *reason)
        p_text(b, "reason", reason);
    sb_puts(b, "</section>\n");
}

static int has_code(const tp_check *check, const char *const *codes)
{
    for (size_t i = 0; check && i < tp_check_violation_count(check); i++) {
        const char *code = NULL;
        tp_severity sev;
        if (tp_check_violation(check, i, &code, &sev, NULL) != 0 || sev != TP_SEV_ERROR || !code)
            continue;
        for (size_t k = 0; codes[k]; k++)
            if (!strcmp(code, codes[k]))
                return 1;
    }
    return 0;
}

static void li(serve_buf *b, const char *text)
{
    sb_puts(b, "<li>");
    sb_html(b, text);
    sb_puts(b, "</li>\n");
}

static void render_plan(serve_buf *b, const serve_ctx *c, const tp_ledger_file *f,
                        const tp_check *check, const cJSON *media)
{
    section_open(b, "plan", "What fit does");
    tp_verdict verdict = check ? tp_check_verdict(check) : TP_VERDICT_ERROR;
    tp_action action = check ? tp_check_action(check) : TP_ACTION_NONE;
    if (!check) {
        if (f->verdict && *f->verdict) {
            sb_puts(b, "<p>Verdict <strong>");
            sb_html(b, f->verdict);
            sb_puts(b, "</strong>, action <strong>");
            sb_html(b, f->action && *f->action ? f->action : "none");
            sb_puts(b, "</strong>.</p>\n");
        } else {
            p_text(b, "muted", "Not decided yet: the file has not been probed.");
        }
    } else if (verdict == TP_VERDICT_PASS) {
        p_text(b, "", "Nothing to change: the file is posted as it is.");
    } else if (verdict == TP_VERDICT_REJECT) {
        p_text(b, "", "Nothing: the profile refuses this file, so it is not fitted.");
    } else if (verdict == TP_VERDICT_ERROR) {
        const char *why = tp_check_error(check);
        p_text(b, "", "Nothing: the file could not be read.");
        if (why && *why)
            p_text(b, "reason", why);
    } else if (action == TP_ACTION_REMUX) {
        p_text(b, "",
               "Remux: the streams are copied into a new MP4 with its index at the "
               "front. No re-encoding, no quality loss.");
    } else {
        static const char *const geom[] = {"aspect",   "too_small", "too_large_dims",
                                           "rotation", "sar",       NULL};
        static const char *const vcodec[] = {"video_codec", "pix_fmt", "hdr", NULL};
        static const char *const rate[] = {"fps", "vfr", NULL};
        static const char *const inter[] = {"interlaced", NULL};
        static const char *const acodec[] = {"audio_codec", NULL};
        static const char *const loud[] = {"loudness", NULL};
        static const char *const longer[] = {"duration_too_long", NULL};
        static const char *const shorter[] = {"duration_too_short", NULL};
        static const char *const big[] = {"file_too_large", NULL};
        char text[320];
        int w = 0, h = 0;
        const tp_profile *prof = serve_profile(c);
        if (prof)
            tp_profile_fix_size(prof, &w, &h);
        const char *fill = prof ? tp_profile_fill_name(prof) : NULL;
        p_text(b, "", "Re-encode to fit the profile:");
        sb_puts(b, "<ul class=\"plan\">\n");
        if (has_code(check, geom)) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(media, "video");
            double dw = 0, dh = 0;
            pg_jnum(v, "display_width", &dw);
            pg_jnum(v, "display_height", &dh);
            const char *how = !fill                   ? "the profile's fill"
                              : !strcmp(fill, "pad")  ? "bars (pad)"
                              : !strcmp(fill, "blur") ? "a blurred copy of the picture (blur)"
                              : !strcmp(fill, "crop") ? "cropping the edges (crop)"
                                                      : fill;
            if (w > 0 && h > 0 && dw > 0 && dh > 0)
                snprintf(text, sizeof(text), "Scale %.0f×%.0f to %d×%d and fill the frame with %s",
                         dw, dh, w, h, how);
            else if (w > 0 && h > 0)
                snprintf(text, sizeof(text), "Scale to %d×%d and fill the frame with %s", w, h,
                         how);
            else
                snprintf(text, sizeof(text), "Scale and fill the frame with %s", how);
            li(b, text);
        }
        if (has_code(check, vcodec))
            li(b, "Encode the video as H.264, 8-bit 4:2:0, SDR");
        else
            li(b, "Re-encode the video as H.264");
        if (has_code(check, rate))
            li(b, "Convert to a constant frame rate");
        if (has_code(check, inter))
            li(b, "Deinterlace");
        if (has_code(check, acodec))
            li(b, "Encode the audio as AAC");
        if (has_code(check, loud))
            li(b, "Normalise the loudness");
        if (has_code(check, longer))
            li(b, "Shorten it as fix.too_long says (split into parts or trim)");
        if (has_code(check, shorter))
            li(b, "Lengthen it as fix.too_short says");
        if (has_code(check, big))
            li(b, "Lower the bitrate to fit the size limit");
        li(b, "Write an MP4 with its index at the front");
        sb_puts(b, "</ul>\n");
    }
    sb_puts(b, "</section>\n");
}

/* ---- loudness, previews, outputs, chunks, posts ------------------------------------------ */

static void loudness_row(serve_buf *b, const char *label, const cJSON *media)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(media, "audio");
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(a, "loudness");
    double i, r, tp;
    char text[160];
    if (!cJSON_IsObject(media))
        return;
    if (!cJSON_IsObject(a))
        snprintf(text, sizeof(text), "no audio");
    else if (pg_jnum(l, "integrated", &i)) {
        int n = snprintf(text, sizeof(text), "%.1f LUFS integrated", i);
        if (n > 0 && pg_jnum(l, "range", &r))
            n += snprintf(text + n, sizeof(text) - (size_t)n, ", range %.1f LU", r);
        if (n > 0 && (size_t)n < sizeof(text) && pg_jnum(l, "true_peak", &tp))
            snprintf(text + n, sizeof(text) - (size_t)n, ", true peak %.1f dBTP", tp);
    } else
        snprintf(text, sizeof(text), "not measured");
    sb_printf(b, "<tr><th scope=\"row\">%s</th><td>", label);
    sb_html(b, text);
    sb_puts(b, "</td></tr>\n");
}

static void render_loudness(serve_buf *b, const cJSON *media, const cJSON *out_media)
{
    section_open(b, "loudness", "Loudness");
    if (!cJSON_IsObject(media)) {
        p_text(b, "muted", "Not probed yet.");
    } else {
        sb_puts(b, "<table class=\"facts\"><tbody>\n");
        loudness_row(b, "Source", media);
        loudness_row(b, "Output", out_media);
        sb_puts(b, "</tbody></table>\n");
        sb_puts(b, "<p class=\"muted hint\">TikTok publishes no target; −14 LUFS with a −1 dBTP "
                   "peak is the usual choice. <code>tokprep check --deep</code> measures a file; "
                   "fit measures and normalises it when the profile sets "
                   "<code>fix.audio.loudness</code>.</p>\n");
    }
    sb_puts(b, "</section>\n");
}

/* The frames tokprep preview draws (the server renders them on request). No <img> without
 * recorded video or without the output file on disk: the request could only fail. The source's
 * frame is what fit plans to make of it; the output's is what it made. */
static void render_previews(serve_buf *b, int64_t id, int has_video, int has_outputs,
                            int output_present)
{
    sb_puts(b, "<section id=\"previews\" class=\"card\"><h2>Frames</h2>\n<div class=\"previews\">");
    if (has_video)
        sb_printf(b,
                  "<figure><img id=\"preview-source\" src=\"/files/%lld/preview.png?of=source\" "
                  "alt=\"The planned output, drawn from the source, with the safe-zone overlay\" "
                  "decoding=\"async\"><figcaption>Planned (from the source)</figcaption></figure>",
                  (long long)id);
    else
        sb_puts(b, "<figure><div class=\"preview-missing\">No frame: the source has no video "
                   "tokprep could read.</div><figcaption>Planned (from the source)</figcaption>"
                   "</figure>");
    if (has_outputs && output_present)
        sb_printf(b,
                  "<figure><img id=\"preview-output\" src=\"/files/%lld/preview.png?of=output\" "
                  "alt=\"A frame of the fitted output with the safe-zone overlay\" "
                  "decoding=\"async\"><figcaption>Fitted output</figcaption></figure>",
                  (long long)id);
    else if (has_outputs)
        sb_puts(b, "<figure><div class=\"preview-missing\">No frame: the output is no longer on "
                   "disk (removed after delivery).</div><figcaption>Fitted output</figcaption>"
                   "</figure>");
    sb_puts(b, "</div>\n<p class=\"muted caption\">safe-zone overlay: red = TikTok UI</p>\n"
               "</section>\n");
}

/* Each output with its size; a link only while its file is on disk (the TikTok sink removes
 * its work copy once posted). */
static void render_outputs(serve_buf *b, int64_t id, const cJSON *outputs)
{
    section_open(b, "outputs", "Outputs");
    int n = cJSON_IsArray(outputs) ? cJSON_GetArraySize(outputs) : 0;
    if (n == 0) {
        p_text(b, "muted", "No outputs yet: they appear when the fit is done.");
        sb_puts(b, "</section>\n");
        return;
    }
    sb_puts(b, "<ul class=\"outputs\">\n");
    for (int i = 0; i < n; i++) {
        const cJSON *o = cJSON_GetArrayItem(outputs, i);
        const char *path = pg_jstr(o, "path"), *delivered = pg_jstr(o, "delivered");
        int present = pg_output_on_disk(outputs, i) != NULL;
        double size = 0;
        char sz[32];
        if (!pg_jnum(o, "size", &size))
            pg_jnum(cJSON_GetObjectItemCaseSensitive(o, "media"), "size", &size);
        pg_size(sz, sizeof(sz), size);
        if (present)
            sb_printf(b, "<li><a href=\"/files/%lld/outputs/%d\" title=\"", (long long)id, i);
        else
            sb_puts(b, "<li class=\"gone\"><span class=\"name\" title=\"");
        sb_html(b, path ? path : "");
        sb_puts(b, "\">");
        sb_html(b, path ? pg_basename(path) : "output");
        sb_puts(b, present ? "</a>" : "</span>");
        sb_puts(b, " <span class=\"muted\">");
        sb_html(b, sz);
        if (!present)
            sb_puts(b, " (removed after delivery)");
        sb_puts(b, "</span>");
        if (delivered && *delivered) {
            sb_puts(b, "<div class=\"muted small\">Delivered: ");
            sb_html(b, delivered);
            sb_puts(b, "</div>");
        }
        sb_puts(b, "</li>\n");
    }
    sb_puts(b, "</ul>\n</section>\n");
}

/* "1 chunk of 142 KiB", "3 chunks of 64.0 MiB (last 80.2 MiB)": from the chunks' own lengths
 * (the last one absorbs the remainder, so it can be larger than the chunk size). */
static void chunk_summary(serve_buf *b, const cJSON *chunks)
{
    int n = cJSON_GetArraySize(chunks);
    double first = 0, last = 0;
    pg_jnum(cJSON_GetArrayItem(chunks, 0), "length", &first);
    pg_jnum(cJSON_GetArrayItem(chunks, n - 1), "length", &last);
    char a[32], z[32];
    pg_size(a, sizeof(a), first);
    pg_size(z, sizeof(z), last);
    if (n <= 0) {
        sb_puts(b, "no chunks");
        return;
    }
    sb_printf(b, "%d chunk%s of ", n, n == 1 ? "" : "s");
    sb_html(b, a);
    if (n > 1 && strcmp(a, z)) {
        sb_puts(b, " (last ");
        sb_html(b, z);
        sb_puts(b, ")");
    }
}

static void render_chunks(serve_buf *b, const cJSON *outputs)
{
    section_open(b, "chunks", "Chunk plan");
    int any = 0;
    const cJSON *o, *arr = cJSON_IsArray(outputs) ? outputs : NULL;
    cJSON_ArrayForEach(o, arr)
    {
        const cJSON *chunks = cJSON_GetObjectItemCaseSensitive(o, "chunks");
        if (!cJSON_IsArray(chunks))
            continue;
        any = 1;
        sb_puts(b, "<h3>");
        sb_html(b, pg_basename(pg_jstr(o, "path")));
        sb_puts(b, " <span class=\"muted\">");
        chunk_summary(b, chunks);
        sb_puts(b, "</span></h3>\n<table class=\"chunks\"><thead><tr><th>Chunk</th><th>Offset"
                   "</th><th>Size</th><th>Bytes</th></tr></thead><tbody>\n");
        const cJSON *ch;
        cJSON_ArrayForEach(ch, chunks)
        {
            double idx = 0, off = 0, len = 0;
            char lz[32];
            pg_jnum(ch, "index", &idx);
            pg_jnum(ch, "offset", &off);
            pg_jnum(ch, "length", &len);
            pg_size(lz, sizeof(lz), len);
            sb_printf(b,
                      "<tr><td data-label=\"Chunk\">%.0f</td><td data-label=\"Offset\">%.0f</td>"
                      "<td data-label=\"Size\">",
                      idx, off);
            sb_html(b, lz);
            sb_puts(b, "</td><td data-label=\"Bytes\" class=\"mono\">");
            sb_html(b, pg_jstr(ch, "content_range") ? pg_jstr(ch, "content_range") : "");
            sb_puts(b, "</td></tr>\n");
        }
        sb_puts(b, "</tbody></table>\n");
    }
    if (!any)
        p_text(b, "muted", "No chunk plan yet: outputs are cut into chunks before posting.");
    sb_puts(b, "</section>\n");
}

static const char *post_status_class(const char *s)
{
    if (!s)
        return "other";
    if (!strcmp(s, "PUBLISH_COMPLETE") || !strcmp(s, "SEND_TO_USER_INBOX"))
        return "done";
    if (!strcmp(s, "FAILED"))
        return "failed";
    if (!strncmp(s, "PROCESSING", 10))
        return "running";
    return "other";
}

static void render_upload(serve_buf *b, const tp_ledger_file *f, const cJSON *posts,
                          const cJSON *review)
{
    section_open(b, "upload", "Posting");
    if (pg_jtrue(review, "approved")) {
        sb_puts(b, "<p class=\"approved\">Approved in review: ");
        sb_html(b, pg_privacy_label(pg_jstr(review, "privacy_level")));
        sb_printf(b, "; comments %s, duet %s, stitch %s",
                  pg_jtrue(review, "disable_comment") ? "off" : "on",
                  pg_jtrue(review, "disable_duet") ? "off" : "on",
                  pg_jtrue(review, "disable_stitch") ? "off" : "on");
        if (pg_jtrue(review, "brand_organic_toggle"))
            sb_puts(b, "; your brand");
        if (pg_jtrue(review, "brand_content_toggle"))
            sb_puts(b, "; branded content");
        sb_puts(b, ".</p>\n");
    }
    int n = cJSON_IsArray(posts) ? cJSON_GetArraySize(posts) : 0;
    if (n == 0) {
        const char *sink = f->sink ? f->sink : "";
        p_text(b, "muted",
               f->status && !strcmp(f->status, "awaiting_review")
                   ? "Not posted yet: it waits for your review."
               : !strncmp(sink, "tiktok", 6)    ? "Not posted yet."
               : !strncmp(sink, "directory", 9) ? "Delivered to a folder: no TikTok post."
               : !strcmp(sink, "none")          ? "No upload: the profile's sink is none."
                                                : "Not posted.");
        sb_puts(b, "</section>\n");
        return;
    }
    sb_puts(b, "<table class=\"posts\"><thead><tr><th>Publish id</th><th>Status</th>"
               "<th>Details</th></tr></thead><tbody>\n");
    const cJSON *p;
    cJSON_ArrayForEach(p, posts)
    {
        const char *pid = pg_jstr(p, "publish_id"), *st = pg_jstr(p, "status");
        const char *why = pg_jstr(p, "fail_reason");
        double post_id = 0, part = 0;
        sb_puts(b, "<tr class=\"post\"><td class=\"publish-id mono\" data-label=\"Publish id\">");
        sb_html(b, pid && *pid ? pid : "—");
        sb_printf(b,
                  "</td><td class=\"post-status\" data-label=\"Status\">"
                  "<span class=\"badge badge-%s\">",
                  post_status_class(st));
        sb_html(b, st && *st ? st : "unknown");
        sb_puts(b, "</span></td><td class=\"fail-reason\" data-label=\"Details\">");
        if (why && *why) {
            sb_html(b, why);
            const char *rule = pg_jstr(p, "rule");
            if (rule && *rule) {
                sb_puts(b, " <span class=\"muted\">(rule ");
                sb_html(b, rule);
                sb_puts(b, ")</span>");
            }
        } else if (pg_jtrue(p, "still_processing")) {
            sb_puts(b, "TikTok is still processing it.");
        } else if (pg_jnum(p, "post_id", &post_id) && post_id > 0) {
            sb_printf(b, "Post %.0f", post_id);
        } else {
            sb_puts(b, "—");
        }
        if (pg_jnum(p, "part", &part))
            sb_printf(b, " <span class=\"muted\">part %.0f</span>", part);
        if (pg_jtrue(p, "refit"))
            sb_puts(b, " <span class=\"muted\">after a strict re-fit</span>");
        sb_puts(b, "</td></tr>\n");
    }
    sb_puts(b, "</tbody></table>\n</section>\n");
}

/* ---- the page ----------------------------------------------------------------------------- */

static void file_render(serve_buf *b, const serve_ctx *c, const tp_ledger_file *f,
                        const tp_check *check, const char *check_note, long n_review)
{
    char attrs[160];
    /* data-updated: app.js reloads the report when the ledger row changes (live, like the
     * dashboard); data-status: it also looks now and then while the file is in progress. */
    snprintf(attrs, sizeof(attrs), "data-id=\"%lld\" data-updated=\"%.6f\" data-status=\"%s\"",
             (long long)f->id, f->updated,
             f->status && strspn(f->status, "abcdefghijklmnopqrstuvwxyz_") == strlen(f->status)
                 ? f->status
                 : "");
    pg_head(b, c, pg_basename(f->path), "file", attrs, NULL, n_review);
    cJSON *media = pg_parse(f->media), *outputs = pg_parse(f->outputs);
    cJSON *posts = pg_parse(f->posts), *review = pg_parse(f->review);
    const cJSON *out_media = output_media(outputs);
    int has_outputs = cJSON_IsArray(outputs) && cJSON_GetArraySize(outputs) > 0;

    sb_puts(b, "<div class=\"page-head\"><p class=\"back\"><a href=\"/\">← All files</a></p>"
               "<h1 title=\"");
    sb_html(b, f->path ? f->path : "");
    sb_puts(b, "\">");
    sb_html(b, pg_basename(f->path));
    sb_puts(b, "</h1>\n<p class=\"meta\">");
    pg_badge(b, f->status);
    sb_puts(b, " <span>stage ");
    sb_html(b, f->stage && *f->stage ? f->stage : "—");
    sb_puts(b, "</span> <span>updated ");
    pg_time(b, f->updated > 0 ? f->updated : f->created);
    sb_puts(b, "</span>");
    if (f->attempts > 1)
        sb_printf(b, " <span>%zu attempts</span>", f->attempts);
    sb_puts(b, "</p>\n<p class=\"path mono\">");
    sb_html(b, f->path ? f->path : "");
    sb_puts(b, "</p></div>\n");

    if (f->status && !strcmp(f->status, "failed")) {
        sb_puts(b, "<section id=\"error\" class=\"card callout callout-error\"><h2>Why it failed"
                   "</h2><p>");
        if (f->error && *f->error) {
            sb_puts(b, "<code>");
            sb_html(b, f->error);
            sb_puts(b, "</code> ");
        }
        sb_puts(b, "at the ");
        sb_html(b, f->stage && *f->stage ? f->stage : "unknown");
        sb_puts(b, " stage: ");
        sb_html(b, f->reason && *f->reason ? f->reason : "no reason recorded");
        sb_puts(b, "</p><p class=\"hint\">Fix the cause, then run <code>tokprep retry</code> on "
                   "this ledger to try it again.</p></section>\n");
    } else if (f->status && !strcmp(f->status, "rejected")) {
        sb_puts(b, "<section id=\"rejected\" class=\"card callout\"><h2>Why it is not posted"
                   "</h2><p>");
        sb_html(b, f->reason && *f->reason ? f->reason : "Rejected.");
        sb_puts(b, "</p></section>\n");
    } else if (f->status && !strcmp(f->status, "awaiting_review")) {
        sb_puts(b, "<section class=\"card callout callout-review\"><p>This file waits for your "
                   "review before it is posted. <a href=\"/review\">Review it</a></p>"
                   "</section>\n");
    }

    render_previews(b, f->id, cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(media, "video")),
                    has_outputs, pg_output_on_disk(outputs, 0) != NULL);
    sb_puts(b, "<div class=\"grid2\">\n");
    render_violations(b, check, check_note);
    render_plan(b, c, f, check, media);
    sb_puts(b, "</div>\n");
    render_facts(b, media, out_media);
    sb_puts(b, "<div class=\"grid2\">\n");
    render_loudness(b, media, out_media);
    render_outputs(b, f->id, outputs);
    sb_puts(b, "</div>\n");
    render_upload(b, f, posts, review);
    render_chunks(b, outputs);
    pg_foot(b);
    cJSON_Delete(media);
    cJSON_Delete(outputs);
    cJSON_Delete(posts);
    cJSON_Delete(review);
}

int serve_page_file(serve_ctx *c, int64_t id, serve_buf *out)
{
    tp_ledger_files *files = NULL;
    tp_check *check = NULL;
    tp_error err = TP_ERROR_INIT;
    tp_ledger_files_options opts = TP_LEDGER_FILES_OPTIONS_INIT;
    opts.id = id;
    int status = 200;
    if (id <= 0 || tp_ledger_files_read(&files, serve_state_path(c), &opts, &err) != 0 ||
        tp_ledger_files_count(files) == 0) {
        status = pg_error_page(out, c, 404, "No such file",
                               "This ledger has no file with that number. The dashboard lists "
                               "every file.");
        goto out;
    }
    const tp_ledger_file *f = tp_ledger_files_at(files, 0);
    tp_error_clear(&err);
    const char *note = "Not checked yet: the file has not been probed.";
    if (f->media && *f->media && tp_ledger_file_check(&check, serve_profile(c), f, &err) != 0) {
        check = NULL;
        note = tp_error_message(&err) && *tp_error_message(&err)
                   ? tp_error_message(&err)
                   : "The recorded media could not be judged.";
    }
    file_render(out, c, f, check, note, pg_count_awaiting(c));
    if (out->oom)
        status = 500;
out:
    tp_check_free(check);
    tp_ledger_files_free(files);
    tp_error_clear(&err);
    return status;
}
