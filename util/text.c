/* Text made safe for where it goes: file names are arbitrary bytes, but JSON and XML must be
 * UTF-8 and a terminal line must not be split or recoloured by a name. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/tp_util.h"

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when the bytes there are not one
 * (stray continuation, overlong form, surrogate, above U+10FFFF, cut short). */
static size_t utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    size_t n;
    unsigned cp, min;
    if ((s[0] & 0xe0) == 0xc0) {
        n = 2, cp = s[0] & 0x1fu, min = 0x80;
    } else if ((s[0] & 0xf0) == 0xe0) {
        n = 3, cp = s[0] & 0x0fu, min = 0x800;
    } else if ((s[0] & 0xf8) == 0xf0) {
        n = 4, cp = s[0] & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) /* also stops at the terminating NUL */
            return 0;
        cp = cp << 6 | (s[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

char *tp_utf8_sanitize(const char *s)
{
    if (!s)
        return NULL;
    size_t len = strlen(s);
    /* Each bad byte becomes the 3-byte U+FFFD. */
    char *out = malloc(len * 3 + 1), *o = out;
    if (!out)
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = utf8_len(p);
        if (n) {
            memcpy(o, p, n);
            o += n;
            p += n;
        } else {
            memcpy(o, "\xef\xbf\xbd", 3);
            o += 3;
            p++;
        }
    }
    *o = '\0';
    return out;
}

char *tp_str_printable(const char *s)
{
    if (!s)
        return NULL;
    size_t len = strlen(s);
    char *out = malloc(len * 4 + 1), *o = out; /* worst case: every byte as \xNN */
    if (!out)
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = utf8_len(p);
        /* U+0080..U+009F (C2 80..C2 9F) are C1 controls: U+009B is CSI to some terminals. */
        bool c1 = n == 2 && p[0] == 0xc2 && p[1] < 0xa0;
        if ((n > 1 && !c1) || (n == 1 && *p >= 0x20 && *p != 0x7f)) {
            memcpy(o, p, n);
            o += n;
            p += n;
            continue;
        }
        switch (*p) {
        case '\n': memcpy(o, "\\n", 2), o += 2; break;
        case '\t': memcpy(o, "\\t", 2), o += 2; break;
        case '\r': memcpy(o, "\\r", 2), o += 2; break;
        default:
            if (c1) { /* shown as \u009b: as long as the two bytes \xc2\x9b */
                o += snprintf(o, 7, "\\u%04x", p[1]);
                p++;
            } else {
                o += snprintf(o, 5, "\\x%02x", *p);
            }
            break;
        }
        p++;
    }
    *o = '\0';
    return out;
}

size_t tp_str_strip_controls(char *s)
{
    if (!s)
        return 0;
    unsigned char *r = (unsigned char *)s, *w = r;
    while (*r) {
        size_t n = utf8_len(r);
        if (n == 0) { /* not UTF-8: could be a raw C1 byte (0x9b is CSI on some terminals) */
            *w++ = '?';
            r++;
        } else if (n == 2 && r[0] == 0xc2 && r[1] < 0xa0) { /* U+0080..U+009F: C1 controls */
            r += 2;
        } else if (n == 1 && (*r < 0x20 || *r == 0x7f)) { /* C0 (ESC, CR, ...) and DEL */
            if (*r == '\t' || *r == '\n' || *r == '\r')
                *w++ = ' ';
            r++;
        } else {
            memmove(w, r, n);
            w += n;
            r += n;
        }
    }
    *w = '\0';
    return (size_t)(w - (unsigned char *)s);
}

void tp_shell_word(char *buf, size_t size, const char *s)
{
    if (!size)
        return;
    if (!s)
        s = "";
    bool plain = *s != '\0';
    for (const char *c = s; *c && plain; c++)
        plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:=@+,-",
                       *c) != NULL;
    if (plain) {
        tp_strlcpy(buf, s, size);
        return;
    }
    if (size < 3) {
        buf[0] = '\0';
        return;
    }
    size_t n = 0;
    buf[n++] = '\'';
    for (const char *c = s; *c && n + 5 < size; c++) {
        if (*c == '\'') {
            memcpy(buf + n, "'\\''", 4);
            n += 4;
        } else {
            buf[n++] = *c;
        }
    }
    if (n + 1 < size)
        buf[n++] = '\'';
    buf[n < size ? n : size - 1] = '\0';
}
