/* `tokprep serve`: the web console's shared declarations. The server core (cli/serve*.c) owns
 * the context, routing and security; the page renderers (cli/serve_pages.c) write HTML through
 * these calls only. */
#ifndef TP_SERVE_H
#define TP_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include <tokprep.h>

/* A growing byte buffer. Zero-initialise it ({0}); every writer is a no-op after an allocation
 * failed (oom set), so callers check oom once at the end. data is NUL-terminated when non-NULL. */
typedef struct serve_buf {
    char *data;
    size_t len, cap;
    int oom;
} serve_buf;
void sb_puts(serve_buf *b, const char *s);
void sb_printf(serve_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3))); /* raw */
void sb_html(serve_buf *b, const char *s); /* HTML-escaped text/attribute: & < > " ' */
void sb_append(serve_buf *b, const void *data, size_t len);
void sb_free(serve_buf *b);

typedef struct serve_ctx serve_ctx; /* opaque to pages */
const char *serve_state_path(const serve_ctx *c);
const tp_profile *serve_profile(const serve_ctx *c);
const char *serve_csrf(const serve_ctx *c); /* for <meta name="csrf-token"> */
int serve_has_queue(const serve_ctx *c);
/* creator_info of the serve profile's login, cached 60 s (TikTok allows 20 calls a minute per
 * token); a failure is cached too. 0 and *out, or <0 + err (TP_EAUTH when not logged in).
 * *out is SHARED with the cache (there is no way to copy a tp_creator_info): give it back with
 * serve_creator_release() once the page is written, never tp_creator_info_free() it. */
int serve_creator(serve_ctx *c, const tp_creator_info **out, tp_error *err);
void serve_creator_release(serve_ctx *c, const tp_creator_info *ci);
/* NULL when the ledger exists, else the note the dashboard shows instead of the files:
 * "no ledger yet at PATH: start `tokprep run -w WORKDIR ...`" (serve never creates it). */
const char *serve_ledger_note(const serve_ctx *c);
/* The origin (scheme://host:port) of upload.tiktok.api_base when it is http://127.0.0.1:...
 * or http://localhost:... (the fake TikTok server), else NULL: avatars from it are allowed by
 * the CSP next to https: ones. */
const char *serve_avatar_origin(const serve_ctx *c);

/* Page renderers (H4, cli/serve_pages.c): write a whole HTML document into out; return the
 * HTTP status (200, 404, 500). `status_filter` may be NULL. */
int serve_page_dashboard(serve_ctx *c, const char *status_filter, serve_buf *out);
int serve_page_file(serve_ctx *c, int64_t id, serve_buf *out);
int serve_page_review(serve_ctx *c, serve_buf *out);

/* The embedded assets (cli/web/, written into a .c file by cmake/embed_assets.cmake). */
extern const unsigned char serve_asset_app_css[];
extern const size_t serve_asset_app_css_len;
extern const unsigned char serve_asset_app_js[];
extern const size_t serve_asset_app_js_len;

#endif
