/* TikTok Content Posting client internals: the public functions are declared in tokprep.h
 * (section upload); this header adds the pure helpers they are built from, for unit tests and
 * for the pipeline's `tiktok` sink.
 *
 * Reuse from the pipeline: open one tp_tiktok per upload worker, call tp_tiktok_post_file()
 * with a progress callback that persists *ev->resume (e.g. in the ledger) on every
 * TP_TIKTOK_EV_CHUNK_DONE, and pass the stored resume back after a crash or cancellation: the
 * upload continues at next_chunk on the same upload_url (or re-inits once when it expired).
 * Set a cancel flag to stop at the next curl progress tick. TP_ERATE results carry retry_at
 * (daily_limit or a 429), which the pipeline should use to defer the file rather than fail it. */
#ifndef TP_TIKTOK_H
#define TP_TIKTOK_H

#include <stdbool.h>
#include <stdint.h>

#include "profiles/profile.h"
#include "upload/chunk.h"
#include "upload/tt_json.h"
#include "upload/tt_window.h" /* tp_tt_rate, tp_tt_daily_next (moved there) */

/* Where the session keeps TikTok's limits (upload/tt_limits.h). limits is borrowed (it must
 * outlive the session's use) and may be shared by many sessions on many threads; NULL returns
 * to the default: upload.tiktok.shared_limits when the profile sets it (a Redis connection the
 * session opens on first use), else the session's own windows and "<token file>.posts". Call it
 * between posts, not during one. */
typedef struct tp_tt_limits tp_tt_limits;
void tp_tiktok_set_limits(tp_tiktok *tt, tp_tt_limits *limits);

/* UTF-16 code units of a UTF-8 string (TikTok counts captions that way); -1 for invalid UTF-8. */
long tp_tt_utf16_units(const char *s);

/* Largest caption sidecar read: a caption is at most 2,200 UTF-16 units (8,800 bytes of UTF-8);
 * a bigger sidecar is not a caption. */
#define TP_SIDECAR_MAX (64 * 1024)

/* The caption for path: sidecar <dir>/<stem>.txt when it exists (trailing newlines dropped),
 * else the template with {stem} and {date} (local YYYY-MM-DD) replaced. malloc'd in *out.
 * A sidecar that is a symlink, a FIFO, a device or over TP_SIDECAR_MAX bytes is never read: a
 * warning names it and why, and the template is used (tp_read_small_file).
 * TP_EREJECT when longer than 2,200 UTF-16 units or not UTF-8. */
int tp_tt_caption(char **out, const char *path, const char *tmpl, tp_error *err);

/* Content-Type from the first bytes: ftyp brand "qt  " → video/quicktime, other ftyp →
 * video/mp4, EBML → video/webm; NULL when none of these. */
const char *tp_tt_sniff_content_type(const unsigned char *head, size_t n);

/* A sentence for TikTok's error.code or fail_reason: who imposes it, whether/when a retry can
 * succeed, whether re-fitting helps. Also the TP_E* class it maps to. Never NULL. */
const char *tp_tt_explain(const char *code, int *tp_code);

/* tp_tiktok_post_file on an open file (docs/SECURITY.md, class 1): the bytes are read from fd
 * with pread (not closed); path names it (messages, caption sidecar). chunk_sha256, when not
 * NULL, holds the SHA-256 (hex) of each of the n_sha256 chunks as they were checked: each
 * chunk is hashed as it is sent and aborted before its last byte when it differs ("PATH:
 * changed since it was checked (chunk N SHA-256 differs); not delivered", TP_EIO). */
int tp_tiktok_post_fd(tp_tiktok_result *out, tp_tiktok *tt, int fd, const char *path,
                      const char *const *chunk_sha256, int n_sha256,
                      const tp_tiktok_post_options *opts, tp_error *err);

/* tp_tiktok_post_fd with the chunk plan given, not made: the pipeline's chunk stage made it (and
 * hashed each chunk) once, and the same plan is what is sent. plan->total must be fd's size now
 * (else "PATH: changed since it was checked", TP_EIO) and the plan is taken as is (offsets,
 * lengths, chunk_size, count: a plan made by tp_chunk_plan_make for the session's profile).
 * chunk_sha256, when not NULL, holds plan->count SHA-256s (hex), each verified as curl reads
 * that chunk's PUT body, as in tp_tiktok_post_fd. */
int tp_tiktok_post_plan(tp_tiktok_result *out, tp_tiktok *tt, int fd, const char *path,
                        const tp_chunk_plan *plan, const char *const *chunk_sha256,
                        const tp_tiktok_post_options *opts, tp_error *err);

/* POST creator_info/query with the session's rate limiting, retries and token refresh, parsed
 * into *out (strings cleaned: tt_json.h). 0, or a negative TP_E* (TP_EHTTP when the answer has
 * no privacy_level_options). Posts nothing. Not thread-safe for one session. */
int tp_tt_creator_query(tp_tiktok *tt, tp_tt_creator_info *out, tp_error *err);

/* The profile the session was opened with. */
const tp_profile *tp_tiktok_profile(const tp_tiktok *tt);

#endif
