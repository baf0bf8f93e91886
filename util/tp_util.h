/* Internal utilities shared by every layer: error filling, logging, string helpers.
 * No FFmpeg, curl or YAML here; this is the bottom layer. */
#ifndef TP_UTIL_H
#define TP_UTIL_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokprep.h"

#define TP_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* The cancellation token, visible inside the library so that an object can embed one. A token
 * with a parent also reads as requested once its parent is: a pipeline's own token (requested
 * by the pipeline itself or by a queue worker) follows the caller's token without copying it.
 * Requesting is one lock-free atomic store, hence async-signal-safe. */
struct tp_cancel {
    atomic_int requested;
    const struct tp_cancel *parent;
};
/* Initialise an embedded token (not requested) with an optional parent. */
void tp_cancel_init(tp_cancel *cancel, const tp_cancel *parent);

/* tp_error_set, tp_error_clear, tp_log, tp_log_set_level, tp_str_printable and tp_utf8_sanitize
 * are public (tokprep.h). */

int tp_error_setv(tp_error *err, int code, int raw, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
/* Messages of this many bytes or more are cut in the middle (see tp_error_set), so a hostile
 * path cannot make a huge one. */
#define TP_ERROR_MESSAGE_CAP 4096
/* Move src's error into dst (dst's old message is freed; src is left empty) / copy it (dst gets
 * its own message). Use these instead of `*dst = *src`, which would share the message. */
void tp_error_move(tp_error *dst, tp_error *src);
void tp_error_copy(tp_error *dst, const tp_error *src);
/* Prefix an existing message, e.g. with the file name: "a.mp4: <old message>". */
void tp_error_prefix(tp_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Bounded string copy that always terminates; returns strlen(src). */
size_t tp_strlcpy(char *dst, const char *src, size_t size);
/* malloc'd copy, NULL on NULL or OOM. */
char *tp_strdup(const char *s);
/* malloc'd printf. */
char *tp_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* s as one shell word into buf (size bytes, always terminated): as is when it holds only
 * [A-Za-z0-9_./:=@+,-], else in single quotes ('\'' for a quote). For commands shown to users. */
void tp_shell_word(char *buf, size_t size, const char *s);
/* tp_edit_distance(): public (tokprep.h). */

/* Greatest common divisor, never negative (0 when both are 0); for reducing ratios. */
int64_t tp_gcd64(int64_t a, int64_t b);

/* Monotonic and wall clocks in seconds. */
double tp_now_monotonic(void);
double tp_now_wall(void);
/* Epoch seconds t as ISO 8601 UTC with milliseconds: 2026-11-26T01:02:03.456Z (24 bytes and
 * the NUL; size 32 is plenty). Thread-safe. */
void tp_iso8601(char *buf, size_t size, double t);

/* Number of online CPUs, at least 1. */
int tp_cpu_count(void);

/* Parse "1GB", "10MB", "5MiB", "128k", "15M" (k/M/G = powers of 1000, Ki/Mi/Gi = 1024; an
 * optional trailing B). Returns 0 and *out, or TP_EINVAL. */
int tp_parse_size(const char *s, int64_t *out);




/* SHA-256 (libavutil's implementation). hex must hold 65 bytes. Thread-safe. */
typedef struct tp_sha256 tp_sha256;
tp_sha256 *tp_sha256_new(void);
void tp_sha256_update(tp_sha256 *s, const void *data, size_t len);
void tp_sha256_final_hex(tp_sha256 *s, char hex[65]); /* also frees s */
void tp_sha256_final_raw(tp_sha256 *s, uint8_t out[32]); /* also frees s */
void tp_sha256_hex(const void *data, size_t len, char hex[65]);
/* SHA-256 of a byte range of a file (len -1 = to the end); 0 or TP_EIO. */
/* Feed bytes [offset, offset + len) of fd to s (len < 0: to the end of the file), reading through
 * buf (bufsize bytes). Returns 0; -1 on a read error (errno set); -2 when the file ends before
 * offset + len. Shared by tp_sha256_file_range and the ledger's fingerprint. */
int tp_sha256_update_fd(tp_sha256 *s, int fd, int64_t offset, int64_t len, void *buf,
                        size_t bufsize);
int tp_sha256_file_range(const char *path, int64_t offset, int64_t len, char hex[65],
                         tp_error *err);

/* Text from a remote party (TikTok's JSON, the OAuth redirect) made fit for a message, in place:
 * C0 controls (ESC included) and DEL removed (tab and line breaks become spaces), C1 controls
 * (U+0080..U+009F) removed, bytes that are not UTF-8 replaced by '?'. Never longer than before;
 * returns the new length. Thread-safe. */
size_t tp_str_strip_controls(char *s);

/* Read a small file whole (docs/SECURITY.md, "Sidecars"): opened with O_NONBLOCK (a FIFO never
 * blocks) and, when nofollow, O_NOFOLLOW (a symlink is refused); fstat must say regular file of
 * at most cap bytes. Returns 0 with *out NULL when path does not exist, 0 with *out a malloc'd
 * NUL-terminated copy (and *len, may be NULL) when read, or TP_EIO / TP_ENOMEM with err
 * saying why it was refused ("PATH: is a symbolic link; not read"); nothing is read then.
 * Thread-safe. */
int tp_read_small_file(char **out, size_t *len, const char *path, size_t cap, bool nofollow,
                       tp_error *err);

/* Create DIR/PREFIX<12 random hex digits>SUFFIX with O_CREAT|O_EXCL|O_NOFOLLOW, mode (the
 * umask applies): a name nobody can predict or plant a symlink at. Returns the open (read-write)
 * descriptor and the malloc'd path in *path_out, or -1 with err filled. Thread-safe. */
int tp_create_exclusive(char **path_out, const char *dir, const char *prefix, const char *suffix,
                        unsigned mode, tp_error *err);

/* The creation mode for an output holding src's bytes: src's read/write bits (a 0600 source
 * gives at most 0600), or 0666 when src cannot be stat'ed; the umask applies on top. */
unsigned tp_output_mode(const char *src);
/* The same for the source's open descriptor (the file that was checked, not whatever the name
 * holds now). */
unsigned tp_output_mode_fd(int fd);

/* Copy all of in (read with pread from offset 0: the descriptor may be shared with other
 * readers) to out, then fsync out. src and dst name them in messages; cancel (may be NULL)
 * non-zero stops the copy with TP_ECANCELED. 0, or TP_EIO / TP_ENOMEM / TP_ECANCELED with err
 * filled. Thread-safe. */
int tp_copy_fd(int in, const char *src, int out, const char *dst, const tp_cancel *cancel,
               tp_error *err);
/* The step of tp_copy_file that moves the bytes from in to out (both open): 0, or a negative
 * TP_E* code with err filled. */
typedef int (*tp_copy_fn)(int in, const char *src, int out, const char *dst, void *payload,
                          tp_error *err);
/* Copy in into a new file dst: created with O_CREAT|O_EXCL|O_NOFOLLOW and mode (the umask
 * applies), so an existing name or a planted symlink is never opened or written through; filled
 * by copy(…, payload, …) or, when copy is NULL, with all of in as tp_copy_fd does (payload, when
 * not NULL, is then its `const tp_cancel *` token); fsync'ed and closed, a failed close
 * counting as a failed write. A dst it created is removed again when the copy fails. 0, or a
 * negative TP_E* code with err filled. Thread-safe. */
int tp_copy_file(int in, const char *src, const char *dst, unsigned mode, tp_copy_fn copy,
                 void *payload, tp_error *err);
#endif
