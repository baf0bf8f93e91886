/* `tokprep serve`: the review page (`/review`): each file that waits for a person before it is
 * posted, with the choices TikTok's Direct Post rules ask for (docs: tiktok-api §8): the
 * creator's account, a player, the caption, a privacy level with no default and exactly the
 * creator's options, interaction toggles off (and greyed where the creator turned them off),
 * the commercial content disclosure and the consent text. cli/web/app.js enforces the rules
 * while the person chooses and sends the choice to /api/files/ID/approve|reject. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tokprep.h>

#include "serve_pages.h"

#define MUSIC_URL "https://www.tiktok.com/legal/page/global/music-usage-confirmation/en"
#define BC_URL "https://www.tiktok.com/legal/page/global/bc-policy/en"

/* What the page needs of creator_info, as plain data (the unit test fills it by hand). */
typedef struct review_creator {
    const char *nickname, *username;
    const char *avatar; /* an URL the CSP allows (https: or the fake server's origin), or NULL */
    const char *privacy[8];
    size_t n_privacy;
    int comment_disabled, duet_disabled, stitch_disabled;
    double max_duration; /* seconds, 0: not sent */
} review_creator;

/* An avatar URL the page may show: https:, or under the fake server's origin. */
static const char *allowed_avatar(const serve_ctx *c, const char *url)
{
    if (!url || !*url)
        return NULL;
    if (!strncmp(url, "https://", 8))
        return url;
    const char *origin = serve_avatar_origin(c);
    size_t n = origin ? strlen(origin) : 0;
    if (n && !strncmp(url, origin, n) && url[n] == '/')
        return url;
    return NULL;
}

static void render_creator(serve_buf *b, const serve_ctx *c, const review_creator *cr,
                           const char *error)
{
    if (!cr) {
        const tp_profile *p = serve_profile(c);
        const char *as = p ? tp_profile_opened_as(p) : NULL;
        sb_puts(b, "<section id=\"creator-error\" class=\"card\" role=\"alert\"><h2>TikTok "
                   "account unavailable</h2><p>");
        sb_html(b, error && *error ? error : "creator_info could not be read.");
        sb_puts(b, "</p><p class=\"hint\">Posting is off until the account can be read. Log in "
                   "again: <code>tokprep auth login");
        if (as && *as) {
            sb_puts(b, " --profile ");
            sb_html(b, as);
        }
        sb_puts(b, "</code>, then reload this page.</p></section>\n");
        return;
    }
    sb_puts(b, "<section id=\"creator\" class=\"card creator\" aria-label=\"Posting to\">");
    if (cr->avatar) {
        sb_puts(b, "<img class=\"avatar\" src=\"");
        sb_html(b, cr->avatar);
        sb_puts(b, "\" alt=\"\" width=\"48\" height=\"48\">");
    }
    sb_puts(b, "<div><span class=\"muted small\">Posting to</span><span class=\"nickname\">");
    sb_html(b, cr->nickname && *cr->nickname ? cr->nickname : "(no nickname)");
    sb_puts(b, "</span><span class=\"username\">@");
    sb_html(b, cr->username ? cr->username : "");
    sb_puts(b, "</span></div></section>\n");
}

/* A checkbox wrapped in its label. */
static void toggle(serve_buf *b, const char *name, const char *label, int disabled)
{
    sb_printf(b,
              "<label class=\"choice%s\"><input type=\"checkbox\" name=\"%s\"%s><span>%s"
              "</span></label>",
              disabled ? " disabled" : "", name, disabled ? " disabled" : "", label);
}

static double media_duration(const cJSON *media)
{
    double d = -1;
    return pg_jnum(media, "duration", &d) ? d : -1;
}

static void render_form(serve_buf *b, const tp_ledger_file *f, const review_creator *cr)
{
    cJSON *review = pg_parse(f->review), *outputs = pg_parse(f->outputs);
    cJSON *media = pg_parse(f->media);
    const cJSON *out0 = cJSON_IsArray(outputs) ? cJSON_GetArrayItem(outputs, 0) : NULL;
    const cJSON *out_media = cJSON_GetObjectItemCaseSensitive(out0, "media");
    const char *caption = pg_jstr(review, "caption");
    const long long id = (long long)f->id;
    double duration = -1;
    if (!pg_jnum(out0, "duration", &duration))
        duration = media_duration(cJSON_IsObject(out_media) ? out_media : media);
    double size = 0;
    if (!pg_jnum(out0, "size", &size))
        size = (double)f->output_size;
    int too_long = cr && cr->max_duration > 0 && duration > cr->max_duration + 0.001;
    /* The output should be there while the file waits; if it is gone there is nothing to play
     * and nothing to post. */
    int missing = !pg_output_on_disk(outputs, 0);
    int blocked = !cr || too_long || missing;
    char dur[32], sz[32];
    pg_duration(dur, sizeof(dur), duration);
    pg_size(sz, sizeof(sz), size);
    if (!caption)
        caption = "";

    sb_printf(b, "<form class=\"review\" data-id=\"%lld\"%s novalidate>\n", id,
              blocked ? " data-blocked=\"1\"" : "");
    sb_puts(b, "<div class=\"review-head\"><h2 class=\"review-title\" title=\"");
    sb_html(b, f->path ? f->path : "");
    sb_puts(b, "\">");
    sb_html(b, pg_basename(f->path));
    sb_printf(b, "</h2><a class=\"small\" href=\"/files/%lld\">File report</a></div>\n", id);
    if (missing) {
        const char *path = pg_jstr(out0, "path");
        sb_puts(b, "<div class=\"review-media\"><div class=\"preview-missing output-missing\" "
                   "role=\"note\">The fitted output is not on disk");
        if (path && *path) {
            sb_puts(b, " (<span class=\"mono\">");
            sb_html(b, path);
            sb_puts(b, "</span>)");
        }
        sb_printf(b, ": there is nothing to play or post. Reject it, or run the file "
                     "again.</div><p class=\"muted\">Recorded output: %s",
                  dur);
    } else {
        sb_printf(b,
                  "<div class=\"review-media\"><video src=\"/files/%lld/outputs/0\" controls "
                  "preload=\"metadata\" playsinline aria-label=\"Preview of ",
                  id);
        sb_html(b, pg_basename(f->path));
        sb_printf(b, "\"></video><p class=\"muted\">What will be posted: %s", dur);
    }
    sb_puts(b, " · ");
    sb_html(b, sz);
    sb_puts(b, "</p></div>\n<div class=\"review-fields\">\n");
    if (too_long)
        sb_printf(b,
                  "<p class=\"note note-warn too-long\">This video is longer than the %.0f s "
                  "this account may post. Reject it, or shorten it and run again.</p>\n",
                  cr->max_duration);

    /* Caption */
    size_t units = pg_utf16_len(caption);
    sb_printf(b,
              "<label class=\"field\" for=\"caption-%lld\">Caption</label>"
              "<textarea id=\"caption-%lld\" name=\"caption\" rows=\"4\"%s>",
              id, id, units > PG_CAPTION_MAX ? " class=\"invalid\"" : "");
    sb_html(b, caption);
    sb_printf(b,
              "</textarea>\n<div class=\"caption-count%s\" aria-live=\"polite\">%zu / %d</div>\n",
              units > PG_CAPTION_MAX ? " invalid" : "", units, PG_CAPTION_MAX);

    /* Privacy: no default, exactly the creator's options. */
    sb_puts(b, "<fieldset class=\"privacy\"><legend>Who can watch this video</legend>");
    if (cr && cr->n_privacy) {
        sb_puts(b, "<div class=\"choices\">");
        for (size_t i = 0; i < cr->n_privacy; i++) {
            sb_printf(b,
                      "<label class=\"choice\"><input type=\"radio\" name=\"privacy_level-%lld\" "
                      "value=\"",
                      id);
            sb_html(b, cr->privacy[i]);
            sb_puts(b, "\"><span>");
            sb_html(b, pg_privacy_label(cr->privacy[i]));
            sb_puts(b, "</span></label>");
        }
        sb_puts(b, "</div><p class=\"note private-note\" hidden>Branded content visibility "
                   "cannot be set to private.</p>");
    } else {
        sb_puts(b, cr ? "<p class=\"note note-warn\">TikTok offers this account no privacy "
                        "level: posting is not possible.</p>"
                      : "<p class=\"note\">Shown once the TikTok account can be read.</p>");
    }
    sb_puts(b, "</fieldset>\n");

    /* Interactions: off until turned on; greyed where the creator turned them off. */
    int cd = !cr || cr->comment_disabled, dd = !cr || cr->duet_disabled,
        sd = !cr || cr->stitch_disabled;
    sb_puts(b, "<fieldset class=\"interactions\"><legend>Allow users to</legend>"
               "<div class=\"choices\">");
    toggle(b, "allow_comment", "Comment", cd);
    toggle(b, "allow_duet", "Duet", dd);
    toggle(b, "allow_stitch", "Stitch", sd);
    sb_puts(b, "</div>");
    if (cr && (cr->comment_disabled || cr->duet_disabled || cr->stitch_disabled)) {
        sb_printf(b, "<p class=\"note\">%s%s%s%s%s turned off in your TikTok settings.</p>",
                  cr->comment_disabled ? "Comment" : "",
                  cr->comment_disabled && (cr->duet_disabled || cr->stitch_disabled) ? ", " : "",
                  cr->duet_disabled ? "Duet" : "",
                  cr->duet_disabled && cr->stitch_disabled ? ", " : "",
                  cr->stitch_disabled ? "Stitch" : "");
    }
    sb_puts(b, "</fieldset>\n");

    /* Commercial content disclosure (TikTok's wording for the labels). */
    sb_puts(b,
            "<fieldset class=\"disclosure\"><legend>Disclose video content</legend>"
            "<label class=\"choice\"><input type=\"checkbox\" name=\"disclose\" role=\"switch\">"
            "<span>This video promotes a brand, product or service</span></label>"
            "<p class=\"note\">Turn on to disclose that this video promotes goods or services in "
            "exchange for something of value. Your video could promote yourself, a third party, "
            "or both.</p>"
            "<div class=\"disclose-options\" hidden>"
            "<div class=\"option\"><label class=\"choice\"><input type=\"checkbox\" "
            "name=\"brand_organic\"><span>Your brand</span></label>"
            "<p class=\"note\">You are promoting yourself or your own business. Your video will "
            "be labeled 'Promotional content'.</p></div>"
            "<div class=\"option\"><label class=\"choice\"><input type=\"checkbox\" "
            "name=\"brand_content\"><span>Branded content</span></label>"
            "<p class=\"note\">You are promoting another brand or a third party. Your video will "
            "be labeled 'Paid partnership'.</p>"
            "<p class=\"note note-warn branded-note\" hidden>Branded content visibility cannot "
            "be set to private.</p></div>"
            "<p class=\"note note-warn disclose-note\" hidden>You need to indicate if your "
            "content promotes yourself, a third party, or both.</p>"
            "</div></fieldset>\n");

    /* Consent, in TikTok's words: with branded content its policy comes first. app.js shows
     * the sentence that applies. */
    sb_puts(b, "<p class=\"consent\"><span class=\"consent-music\">By posting, you agree to "
               "TikTok's <a href=\"" MUSIC_URL "\" target=\"_blank\" rel=\"noopener noreferrer\">"
               "Music Usage Confirmation</a>.</span><span class=\"bc-consent\" hidden>By posting, "
               "you agree to TikTok's <a href=\"" BC_URL "\" target=\"_blank\" "
               "rel=\"noopener noreferrer\">Branded Content Policy</a> and <a href=\"" MUSIC_URL
               "\" target=\"_blank\" rel=\"noopener noreferrer\">Music Usage Confirmation</a>."
               "</span></p>\n");
    sb_puts(b, "<div class=\"actions\"><button type=\"submit\" class=\"post\" disabled>Post"
               "</button><button type=\"button\" class=\"reject\">Reject</button></div>\n");
    sb_printf(b, "<p class=\"why\">%s</p>\n",
              !cr        ? "Posting is off: the TikTok account cannot be read."
              : missing  ? "Posting is off: the fitted output is missing."
              : too_long ? "Posting is off: the video is too long for this account."
                         : "Choose who can watch this video to post it.");
    sb_puts(b, "<p class=\"result\" role=\"status\" aria-live=\"polite\" hidden></p>\n"
               "</div>\n</form>\n");
    cJSON_Delete(review);
    cJSON_Delete(outputs);
    cJSON_Delete(media);
}

static void review_render(serve_buf *b, const serve_ctx *c, const tp_ledger_file *const *files,
                          size_t n, const review_creator *cr, const char *creator_error,
                          const char *read_error)
{
    char attrs[64];
    snprintf(attrs, sizeof(attrs), "data-creator=\"%s\"", n == 0 ? "none" : cr ? "ok" : "error");
    pg_head(b, c, "Review", "review", attrs, "review", read_error ? -1 : (long)n);
    sb_puts(b, "<div class=\"page-head\"><h1>Review before posting</h1><p class=\"sub\">Check "
               "each video and choose how it is posted. Nothing goes to TikTok until you press "
               "Post.</p></div>\n");
    if (n > 0)
        render_creator(b, c, cr, creator_error);
    for (size_t i = 0; i < n; i++)
        render_form(b, files[i], cr);
    sb_printf(b,
              "<section id=\"review-empty\" class=\"card empty\"%s><p><strong>Nothing is "
              "waiting for review</strong></p>",
              n ? " hidden" : "");
    if (read_error) {
        sb_puts(b, "<p>");
        sb_html(b, read_error);
        sb_puts(b, "</p>");
    }
    sb_puts(b, "<p>Files wait here when the profile sets <code>upload.tiktok.review: true</code>. "
               "<a href=\"/\">Back to the dashboard</a></p></section>\n");
    pg_foot(b);
}

int serve_page_review(serve_ctx *c, serve_buf *out)
{
    tp_ledger_files *files = NULL;
    const tp_creator_info *ci = NULL;
    tp_error err = TP_ERROR_INIT, cerr = TP_ERROR_INIT;
    tp_ledger_files_options opts = TP_LEDGER_FILES_OPTIONS_INIT;
    const tp_ledger_file **rows = NULL;
    size_t n = 0;
    opts.status = "awaiting_review";
    const char *read_error = NULL;
    if (tp_ledger_files_read(&files, serve_state_path(c), &opts, &err) == 0) {
        n = tp_ledger_files_count(files);
    } else {
        const char *m = tp_error_message(&err);
        read_error = m && *m ? m : "The ledger cannot be read.";
    }
    rows = calloc(n ? n : 1, sizeof(*rows));
    if (!rows) {
        tp_ledger_files_free(files);
        tp_error_clear(&err);
        return pg_error_page(out, c, 500, "Out of memory", "Try again.");
    }
    for (size_t i = 0; i < n; i++)
        rows[i] = tp_ledger_files_at(files, i);

    /* creator_info only when something waits: it is rate-limited at TikTok. */
    review_creator cr = {0}, *crp = NULL;
    const char *creator_error = NULL;
    if (n > 0) {
        if (serve_creator(c, &ci, &cerr) == 0 && ci) {
            cr.nickname = tp_creator_info_nickname(ci);
            cr.username = tp_creator_info_username(ci);
            cr.avatar = allowed_avatar(c, tp_creator_info_avatar_url(ci));
            size_t np = tp_creator_info_privacy_count(ci);
            for (size_t i = 0; i < np && cr.n_privacy < sizeof(cr.privacy) / sizeof(cr.privacy[0]);
                 i++) {
                const char *lvl = tp_creator_info_privacy(ci, i);
                if (lvl && *lvl)
                    cr.privacy[cr.n_privacy++] = lvl;
            }
            cr.comment_disabled = tp_creator_info_comment_disabled(ci);
            cr.duet_disabled = tp_creator_info_duet_disabled(ci);
            cr.stitch_disabled = tp_creator_info_stitch_disabled(ci);
            cr.max_duration = (double)tp_creator_info_max_duration(ci);
            crp = &cr;
        } else {
            const char *m = tp_error_message(&cerr);
            creator_error = m && *m ? m : "creator_info could not be read.";
        }
    }
    review_render(out, c, rows, n, crp, creator_error, read_error);
    free(rows);
    if (ci)
        serve_creator_release(c, ci);
    tp_ledger_files_free(files);
    tp_error_clear(&err);
    tp_error_clear(&cerr);
    return out->oom ? 500 : 200;
}
