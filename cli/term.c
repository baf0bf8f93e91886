/* Terminal-width helpers for human output: no line longer than the terminal, names shortened in
 * the middle, and commands shown to the user quoted for the shell. */
#define _XOPEN_SOURCE 700
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <wchar.h>

#include "cli.h"

char *tp_cli_shell_word(const char *s)
{
    static const char plain_chars[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:=@+,-";
    if (!s)
        s = "";
    bool plain = *s != '\0';
    for (const char *c = s; *c && plain; c++)
        plain = strchr(plain_chars, *c) != NULL;
    if (plain)
        return strdup(s);
    size_t n = 2;
    for (const char *c = s; *c; c++)
        n += *c == '\'' ? 4 : 1;
    char *out = malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    *o++ = '\'';
    for (const char *c = s; *c; c++) {
        if (*c == '\'') {
            memcpy(o, "'\\''", 4);
            o += 4;
        } else {
            *o++ = *c;
        }
    }
    *o++ = '\'';
    *o = '\0';
    return out;
}

int tp_cli_term_columns(int fd)
{
    if (!isatty(fd))
        return 0;
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *c = getenv("COLUMNS");
    int n = c ? atoi(c) : 0;
    return n > 0 ? n : 0;
}

/* Decode one UTF-8 sequence at s: its length in bytes (1 for a bad byte) and the code point. */
static size_t utf8_next(const char *s, unsigned *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t len = u[0] < 0x80         ? 1
                 : (u[0] >> 5) == 6  ? 2
                 : (u[0] >> 4) == 14 ? 3
                 : (u[0] >> 3) == 30 ? 4
                                     : 1;
    unsigned v = len == 1 ? u[0] : len == 2 ? u[0] & 0x1f : len == 3 ? u[0] & 0x0f : u[0] & 0x07;
    for (size_t i = 1; i < len; i++) {
        if ((u[i] & 0xc0) != 0x80) {
            *cp = 0xfffd;
            return 1;
        }
        v = (v << 6) | (u[i] & 0x3f);
    }
    *cp = v;
    return len;
}

static size_t cp_width(unsigned cp)
{
    if (cp < 0x80)
        return 1;
    int w = wcwidth((wchar_t)cp);
    if (w >= 0)
        return (size_t)w;
    /* No UTF-8 locale (wcwidth says -1): combining marks and the wide East Asian and emoji
     * ranges by hand, everything else one column. */
    if (cp >= 0x300 && cp <= 0x36f)
        return 0;
    if ((cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
        (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
        (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
        (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1faff) ||
        (cp >= 0x20000 && cp <= 0x3fffd))
        return 2;
    return 1;
}

size_t tp_cli_text_width(const char *s)
{
    size_t w = 0;
    while (s && *s) {
        unsigned cp;
        s += utf8_next(s, &cp);
        w += cp_width(cp);
    }
    return w;
}

char *tp_cli_ellipsize(const char *s, size_t width)
{
    if (!s)
        s = "";
    if (tp_cli_text_width(s) <= width)
        return strdup(s);
    if (width == 0)
        return strdup("");
    /* Keep the head and the tail (where the extension is), the tail a little longer. */
    size_t budget = width - 1, tail_w = budget / 2 + budget % 2, head_w = budget - tail_w;
    size_t len = strlen(s), head_end = 0, w = 0;
    while (s[head_end]) {
        unsigned cp;
        size_t n = utf8_next(s + head_end, &cp);
        if (w + cp_width(cp) > head_w)
            break;
        w += cp_width(cp);
        head_end += n;
    }
    /* The tail: the shortest suffix starting on a character boundary that fits tail_w. */
    size_t tail_start, best = len;
    w = 0;
    for (size_t i = len; i > head_end;) {
        size_t j = i - 1;
        while (j > head_end && ((unsigned char)s[j] & 0xc0) == 0x80)
            j--;
        unsigned cp;
        utf8_next(s + j, &cp);
        if (w + cp_width(cp) > tail_w)
            break;
        w += cp_width(cp);
        best = j;
        i = j;
    }
    tail_start = best;
    char *out = malloc(head_end + strlen("…") + (len - tail_start) + 1);
    if (!out)
        return NULL;
    memcpy(out, s, head_end);
    memcpy(out + head_end, "…", strlen("…"));
    memcpy(out + head_end + strlen("…"), s + tail_start, len - tail_start + 1);
    return out;
}
