/* `tokprep serve`: what the three page renderers (cli/serve_pages*.c) share: the page frame,
 * formatting of sizes, times and statuses, and reading the ledger's JSON texts. Every string
 * that comes from the ledger, a file name or TikTok goes through sb_html(). */
#ifndef TP_SERVE_PAGES_H
#define TP_SERVE_PAGES_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "serve.h"

/* The caption limit TikTok counts in UTF-16 code units. */
#define PG_CAPTION_MAX 2200

/* The page frame: doctype, head (viewport, csrf-token, stylesheet, deferred script), header
 * with the nav. `page` is the body's data-page; `body_attrs` raw extra attributes (may be NULL,
 * built only from numbers and fixed words); `current` the nav entry to mark ("dashboard",
 * "review" or NULL); `n_review` the Review (N) count, < 0 when unknown. */
void pg_head(serve_buf *b, const serve_ctx *c, const char *title, const char *page,
             const char *body_attrs, const char *current, long n_review);
void pg_foot(serve_buf *b);
/* A whole error page (404, 500): frame, heading, message, a link back. Returns status. */
int pg_error_page(serve_buf *b, const serve_ctx *c, int status, const char *heading,
                  const char *message);

/* How many files wait for review, or -1 when the ledger cannot be read. */
long pg_count_awaiting(const serve_ctx *c);

/* "12.3 MiB" (binary units, one decimal from KiB on); "—" for n <= 0. */
void pg_size(char *buf, size_t size, double n);
/* "4.2 Mbit/s"; "—" for n <= 0. */
void pg_bitrate(char *buf, size_t size, double bps);
/* "1:05" or "1:02:05" for seconds, "0.8 s" under 10 s; "—" when < 0. */
void pg_duration(char *buf, size_t size, double s);
/* <time datetime="ISO" title="ISO">3 min ago</time>, or "—" for t <= 0. */
void pg_time(serve_buf *b, double t);
/* Relative text for epoch seconds t ("just now", "5 min ago", "2 h ago", "3 d ago", a date). */
void pg_ago(char *buf, size_t size, double t);
/* 1 when path names a regular file (lstat: a link is not followed, so it does not count). The
 * pages offer a preview or a link to an output only then; the server checks again when it
 * serves it. */
int pg_regular_file(const char *path);
/* Output n of a ledger row's outputs array when its file is still on disk, as the fitted file
 * ("path") or where the directory sink delivered it ("delivered") — the two the server serves —
 * else NULL (the TikTok sink removes its work copy once posted). */
const cJSON *pg_output_on_disk(const cJSON *outputs, int n);
/* A failure reason without a leading "PATH: " when PATH is the row's path (shown next to it). */
const char *pg_reason_text(const char *path, const char *reason);
/* The last path component (the whole string when it has no slash). */
const char *pg_basename(const char *path);
/* <span class="name" title="PATH">BASENAME</span> */
void pg_file_name(serve_buf *b, const char *path);
/* A status badge: <span class="badge badge-S">label</span>; unknown statuses get badge-other. */
void pg_badge(serve_buf *b, const char *status);
/* The human label of a job status ("awaiting review"); the status itself when unknown. */
const char *pg_status_label(const char *status);
/* A CSS-safe class suffix for a known status, "other" otherwise. */
const char *pg_status_class(const char *status);
/* TikTok's privacy levels as people read them (Everyone, Friends, Followers, Only me); other
 * values as they are. */
const char *pg_privacy_label(const char *level);
/* The work folder of a state path (for hints: `tokprep run -w W`): dirname when the file is
 * tokprep.db, else NULL (then hints use --state). Written into buf. */
const char *pg_workdir(char *buf, size_t size, const char *state);

/* cJSON helpers that tolerate anything (missing keys, wrong types, NULL objects). */
const char *pg_jstr(const cJSON *o, const char *key);      /* NULL unless a string */
int pg_jnum(const cJSON *o, const char *key, double *out); /* 1 when a number */
int pg_jtrue(const cJSON *o, const char *key);             /* 1 when true */
/* Parse a ledger JSON text; NULL for "" or NULL or bad JSON. Free with cJSON_Delete(). */
cJSON *pg_parse(const char *json);

/* UTF-16 code units of UTF-8 text (what TikTok's caption limit counts). */
size_t pg_utf16_len(const char *s);

#endif
