/* Error filling, strings, clocks and logging for every layer. */
#define _POSIX_C_SOURCE 200809L
#include "util/tp_util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *tp_error_name(int code)
{
    if (code > 0) /* accept a positive code too */
        code = -code;
    switch (code) {
    case TP_OK: return "ok";
    case TP_EINVAL: return "invalid";
    case TP_ENOMEM: return "nomem";
    case TP_EIO: return "io";
    case TP_ECONFIG: return "config";
    case TP_EMEDIA: return "media";
    case TP_EUNSUPPORTED: return "unsupported";
    case TP_ECANCELED: return "canceled";
    case TP_ENET: return "network";
    case TP_EHTTP: return "http";
    case TP_EAUTH: return "auth";
    case TP_ERATE: return "rate";
    case TP_EREJECT: return "reject";
    case TP_ECONFLICT: return "conflict";
    case TP_EINTERNAL: return "internal";
    default: return "unknown";
    }
}

/* Copy text of length len into dst[size], cutting the middle when it does not fit: messages
 * are "PATH: reason", and with a path of thousands of bytes the reason at the end is the part
 * that must survive. Cuts fall on UTF-8 character boundaries. */
static void copy_elided(char *dst, size_t size, const char *text, size_t len)
{
    if (len < size) {
        memcpy(dst, text, len + 1);
        return;
    }
    static const char mark[] = "\xe2\x80\xa6"; /* U+2026 horizontal ellipsis */
    size_t head = size / 8, tail = size - 1 - head - (sizeof(mark) - 1);
    while (head > 0 && ((unsigned char)text[head] & 0xc0) == 0x80)
        head--;
    const char *t = text + len - tail;
    while (*t && ((unsigned char)*t & 0xc0) == 0x80)
        t++;
    memcpy(dst, text, head);
    memcpy(dst + head, mark, sizeof(mark) - 1);
    memcpy(dst + head + sizeof(mark) - 1, t, strlen(t) + 1);
}

/* The messages used when the real one cannot be allocated: static, so never freed. */
static char lost_nomem[] = "out of memory (the error message was lost)";
static char lost_format[] = "the error message could not be formatted";

static int message_is_static(const char *m)
{
    return m == lost_nomem || m == lost_format;
}

/* Replace err's message with text[len] (taken over, may be NULL = out of memory), cutting the
 * middle of a text of TP_ERROR_MESSAGE_CAP bytes or more. */
static void message_take(tp_error *err, char *text, size_t len)
{
    char *msg = text;
    if (text && len >= TP_ERROR_MESSAGE_CAP) {
        msg = malloc(TP_ERROR_MESSAGE_CAP);
        if (msg)
            copy_elided(msg, TP_ERROR_MESSAGE_CAP, text, len);
        free(text);
    }
    if (!message_is_static(err->message))
        free(err->message);
    err->message = msg ? msg : lost_nomem;
}

int tp_error_setv(tp_error *err, int code, int raw, const char *fmt, va_list ap)
{
    if (code > 0) /* accept a positive code too */
        code = -code;
    if (err) {
        /* Format before freeing the old message: an argument may be that message. */
        va_list again;
        va_copy(again, ap);
        /* NOLINTNEXTLINE: checked by callers' format attribute */
        int n = vsnprintf(NULL, 0, fmt, ap);
        char *text = NULL;
        if (n >= 0) {
            text = malloc((size_t)n + 1);
            if (text)
                vsnprintf(text, (size_t)n + 1, fmt, again);
        }
        va_end(again);
        if (n < 0) {
            if (!message_is_static(err->message))
                free(err->message);
            err->message = lost_format;
        } else {
            message_take(err, text, (size_t)n);
        }
        err->code = code;
        err->raw = raw;
    }
    return code;
}

int tp_error_set(tp_error *err, int code, int raw, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = tp_error_setv(err, code, raw, fmt, ap);
    va_end(ap);
    return rc;
}

void tp_error_clear(tp_error *err)
{
    if (err) {
        if (!message_is_static(err->message))
            free(err->message);
        err->message = NULL;
        err->code = 0;
        err->raw = 0;
    }
}

const char *tp_error_message(const tp_error *err)
{
    return err && err->message ? err->message : "";
}

void tp_error_move(tp_error *dst, tp_error *src)
{
    if (dst == src)
        return;
    tp_error_clear(dst);
    *dst = *src;
    src->code = 0;
    src->raw = 0;
    src->message = NULL;
}

void tp_error_copy(tp_error *dst, const tp_error *src)
{
    if (dst == src)
        return;
    if (!src->message) {
        tp_error_clear(dst);
        dst->code = src->code;
        dst->raw = src->raw;
        return;
    }
    tp_error_set(dst, src->code, src->raw, "%s", src->message);
}

void tp_error_prefix(tp_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    const char *old = tp_error_message(err);
    size_t olen = strlen(old), len = (size_t)n + 2 + olen;
    char *joined = malloc(len + 1);
    if (!joined) {
        message_take(err, NULL, 0);
        return;
    }
    va_start(ap, fmt);
    vsnprintf(joined, (size_t)n + 1, fmt, ap);
    va_end(ap);
    memcpy(joined + n, ": ", 2);
    memcpy(joined + n + 2, old, olen + 1);
    message_take(err, joined, len);
}

size_t tp_strlcpy(char *dst, const char *src, size_t size)
{
    size_t len = strlen(src);
    if (size) {
        size_t n = len < size - 1 ? len : size - 1;
        memcpy(dst, src, n);
        dst[n] = '\0';
    }
    return len;
}

char *tp_strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

char *tp_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

int tp_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 255;
    int row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int prev = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int cur = row[j];
            int cost = a[i - 1] == b[j - 1] ? 0 : 1;
            int best = prev + cost;
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            prev = cur;
        }
    }
    return row[lb] > 255 ? 255 : row[lb];
}

double tp_now_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double tp_now_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void tp_iso8601(char *buf, size_t size, double t)
{
    tp_time_format(buf, size, t, TP_TIME_ISO8601);
}

void tp_time_format(char *buf, size_t size, double t, tp_time_style style)
{
    if (!buf || size == 0)
        return;
    buf[0] = '\0';
    time_t secs = (time_t)t;
    struct tm tm;
    if (!(style == TP_TIME_LOCAL ? localtime_r(&secs, &tm) : gmtime_r(&secs, &tm)))
        return;
    size_t n;
    switch (style) {
    case TP_TIME_UTC: strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm); break;
    case TP_TIME_LOCAL: strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm); break;
    case TP_TIME_ISO8601:
    default:
        n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
        if (n > 0)
            snprintf(buf + n, size - n, ".%03dZ", (int)((t - (double)secs) * 1000.0) % 1000);
        break;
    }
}

int64_t tp_gcd64(int64_t a, int64_t b)
{
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a < 0 ? -a : a;
}

int tp_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

int tp_parse_size(const char *s, int64_t *out)
{
    if (!s)
        return TP_EINVAL;
    while (isspace((unsigned char)*s))
        s++;
    if (!isdigit((unsigned char)*s))
        return TP_EINVAL;
    errno = 0;
    char *end = NULL;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0)
        return TP_EINVAL;
    while (isspace((unsigned char)*end))
        end++;
    double mult = 1;
    char u = (char)toupper((unsigned char)*end);
    if (u == 'K' || u == 'M' || u == 'G' || u == 'T') {
        int power = u == 'K' ? 1 : u == 'M' ? 2 : u == 'G' ? 3 : 4;
        end++;
        double base = 1000;
        if (*end == 'i') {
            base = 1024;
            end++;
        }
        for (int i = 0; i < power; i++)
            mult *= base;
    }
    if (toupper((unsigned char)*end) == 'B')
        end++;
    if (*end != '\0')
        return TP_EINVAL;
    double r = v * mult;
    if (r > 9.0e18)
        return TP_EINVAL;
    *out = (int64_t)(r + 0.5);
    return 0;
}

static tp_log_level log_level = TP_LOG_WARN; /* set once by tp_log_set_level before threads start */

void tp_log_set_level(tp_log_level level)
{
    log_level = level;
}

void tp_log(tp_log_level level, const char *fmt, ...)
{
    if (level > log_level)
        return;
    static const char *const names[] = {"error", "warn", "info", "debug"};
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    /* Log lines quote file names and remote text: no terminal escapes or forged lines. */
    char *shown = tp_str_printable(line);
    fprintf(stderr, "tokprep: %s: %s\n", names[level], shown ? shown : line);
    free(shown);
}

/* ---- cancellation token ---------------------------------------------------------------- */

/* A signal handler may request a token: the store must not take a lock. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "tp_cancel needs a lock-free atomic int");

void tp_cancel_init(tp_cancel *cancel, const tp_cancel *parent)
{
    atomic_init(&cancel->requested, 0);
    cancel->parent = parent;
}

int tp_cancel_new(tp_cancel **out)
{
    if (!out)
        return TP_EINVAL;
    *out = malloc(sizeof(**out));
    if (!*out)
        return TP_ENOMEM;
    tp_cancel_init(*out, NULL);
    return 0;
}

void tp_cancel_request(tp_cancel *cancel)
{
    if (cancel)
        atomic_store(&cancel->requested, 1);
}

int tp_cancel_requested(const tp_cancel *cancel)
{
    for (; cancel; cancel = cancel->parent)
        if (atomic_load(&((tp_cancel *)cancel)->requested))
            return 1;
    return 0;
}

void tp_cancel_free(tp_cancel *cancel)
{
    free(cancel);
}
