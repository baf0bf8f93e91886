/* Internal utilities shared by every layer: error filling, logging, string helpers.
 * No FFmpeg, curl or YAML here; this is the bottom layer. */
#ifndef TP_UTIL_H
#define TP_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokprep.h"

#define TP_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Fill err (may be NULL) and return code so callers can `return tp_error_set(...)`.
 * code is a (negative) TP_E* value; a positive one is negated. raw is the library's own code (AVERROR, CURLcode) or 0. */
int tp_error_set(tp_error *err, int code, int raw, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
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

/* Levenshtein distance, capped at 255; for "did you mean". */
int tp_edit_distance(const char *a, const char *b);

/* Monotonic and wall clocks in seconds. */
double tp_now_monotonic(void);
double tp_now_wall(void);

/* Number of online CPUs, at least 1. */
int tp_cpu_count(void);

/* Parse "1GB", "10MB", "5MiB", "128k", "15M" (k/M/G = powers of 1000, Ki/Mi/Gi = 1024; an
 * optional trailing B). Returns 0 and *out, or TP_EINVAL. */
int tp_parse_size(const char *s, int64_t *out);

/* Logging to stderr, with a level set once at start-up by the CLI (TP_LOG env or -v). The level
 * is read-only after init, so calling from any thread is safe. */
typedef enum { TP_LOG_ERROR = 0, TP_LOG_WARN, TP_LOG_INFO, TP_LOG_DEBUG } tp_log_level;
void tp_log_init(tp_log_level level);
void tp_log(tp_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));



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

/* File names are bytes; JSON and XML are UTF-8. A malloc'd copy of s with each byte that does
 * not start a valid UTF-8 sequence replaced by U+FFFD (NULL on NULL or OOM). Thread-safe. */
char *tp_utf8_sanitize(const char *s);
/* A malloc'd copy of s fit for one line of terminal output: control characters as \n, \t, \r
 * or \xNN (so a name cannot split a line or send escape sequences), invalid UTF-8 bytes as
 * \xNN; valid non-ASCII text is kept. NULL on NULL or OOM. Thread-safe. */
char *tp_str_printable(const char *s);
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
#endif
