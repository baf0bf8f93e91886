/* tp_utf8_sanitize and tp_str_printable: hostile file names in JSON, XML and terminal lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/tp_util.h"

typedef struct {
    const char *in, *utf8, *printable;
} text_case;

static const text_case cases[] = {
    {"plain.mp4", "plain.mp4", "plain.mp4"},
    {"", "", ""},
    {"caf\xc3\xa9 \xe2\x9c\x94 \xf0\x9f\x8e\xac.mp4",
     "caf\xc3\xa9 \xe2\x9c\x94 \xf0\x9f\x8e\xac.mp4",
     "caf\xc3\xa9 \xe2\x9c\x94 \xf0\x9f\x8e\xac.mp4"},
    {"bad\xff\xfe.mp4", "bad\xef\xbf\xbd\xef\xbf\xbd.mp4", "bad\\xff\\xfe.mp4"},
    {"new\nline\ttab\rcr.mp4", "new\nline\ttab\rcr.mp4", "new\\nline\\ttab\\rcr.mp4"},
    {"esc\x1b[31mred\x7f", "esc\x1b[31mred\x7f", "esc\\x1b[31mred\\x7f"},
    /* overlong '/', a UTF-16 surrogate, above U+10FFFF, cut short at the end */
    {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd", "\\xc0\\xaf"},
    {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", "\\xed\\xa0\\x80"},
    {"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd",
     "\\xf4\\x90\\x80\\x80"},
    {"end\xe2\x9c", "end\xef\xbf\xbd\xef\xbf\xbd", "end\\xe2\\x9c"},
    {"\x80lead", "\xef\xbf\xbdlead", "\\x80lead"},
    /* C1 controls encoded in UTF-8 (U+009B is CSI to some terminals); U+00A0 is printable */
    {"csi\xc2\x9b" "2J\xc2\x80\xc2\xa0", "csi\xc2\x9b" "2J\xc2\x80\xc2\xa0",
     "csi\\u009b2J\\u0080\xc2\xa0"},
};

static void table(void **state)
{
    (void)state;
    for (size_t i = 0; i < TP_ARRAY_LEN(cases); i++) {
        char *u = tp_utf8_sanitize(cases[i].in), *p = tp_str_printable(cases[i].in);
        assert_non_null(u);
        assert_non_null(p);
        assert_string_equal(u, cases[i].utf8);
        assert_string_equal(p, cases[i].printable);
        free(u);
        free(p);
    }
    assert_null(tp_utf8_sanitize(NULL));
    assert_null(tp_str_printable(NULL));
}

/* Worst cases fill the whole allocation: every byte replaced. */
static void worst_case(void **state)
{
    (void)state;
    char in[1001];
    memset(in, 0xff, 1000);
    in[1000] = '\0';
    char *u = tp_utf8_sanitize(in), *p = tp_str_printable(in);
    assert_int_equal(strlen(u), 3000);
    assert_int_equal(strlen(p), 4000);
    free(u);
    free(p);
}

/* A message about a path of thousands of bytes keeps its reason: the middle is cut. */
static void long_path_error(void **state)
{
    (void)state;
    char path[5001];
    memset(path, 'd', 5000);
    path[5000] = '\0';
    path[10] = '/';
    memcpy(path + 3000, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 8); /* cuts near UTF-8 */
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(tp_error_set(&err, TP_EIO, 0, "%s: %s", path, "File name too long"), TP_EIO);
    size_t n = strlen(tp_error_message(&err));
    assert_true(n < TP_ERROR_MESSAGE_CAP);
    assert_true(n > TP_ERROR_MESSAGE_CAP - 8);
    assert_string_equal(tp_error_message(&err) + n - 20, ": File name too long");
    assert_memory_equal(tp_error_message(&err), path, 100);
    assert_non_null(strstr(tp_error_message(&err), "\xe2\x80\xa6"));
    char *u = tp_utf8_sanitize(tp_error_message(&err));
    assert_string_equal(u, tp_error_message(&err)); /* still valid UTF-8 */
    free(u);
    /* Short messages are untouched. */
    tp_error_set(&err, TP_EIO, 0, "%s: %s", "a.mp4", "gone");
    assert_string_equal(tp_error_message(&err), "a.mp4: gone");
    tp_error_prefix(&err, "%s", path);
    n = strlen(tp_error_message(&err));
    assert_true(n < TP_ERROR_MESSAGE_CAP);
    assert_memory_equal(tp_error_message(&err), path, 100);
    assert_string_equal(tp_error_message(&err) + n - 13, ": a.mp4: gone");
    tp_error_clear(&err);
}

/* The message is the error's own heap string: "" when none, replaced (not leaked) when the error
 * is set again, an argument may be the old message, cleared to TP_ERROR_INIT; moves and copies
 * leave exactly one owner each (the leak and double-free checks are the sanitizer build's). */
static void error_lifetime(void **state)
{
    (void)state;
    tp_error err = TP_ERROR_INIT;
    assert_null(err.message);
    assert_string_equal(tp_error_message(&err), "");
    assert_string_equal(tp_error_message(NULL), "");
    tp_error_set(&err, TP_EIO, 5, "first %d", 1);
    assert_string_equal(tp_error_message(&err), "first 1");
    tp_error_set(&err, TP_ENET, 0, "%s, then second", tp_error_message(&err));
    assert_string_equal(tp_error_message(&err), "first 1, then second");
    assert_int_equal(err.code, TP_ENET);
    assert_int_equal(err.raw, 0);
    tp_error_prefix(&err, "x.mp4");
    assert_string_equal(tp_error_message(&err), "x.mp4: first 1, then second");

    tp_error moved = TP_ERROR_INIT, copied = TP_ERROR_INIT;
    tp_error_set(&moved, TP_EIO, 0, "to be replaced");
    tp_error_move(&moved, &err);
    assert_null(err.message);
    assert_int_equal(err.code, 0);
    assert_int_equal(moved.code, TP_ENET);
    assert_string_equal(tp_error_message(&moved), "x.mp4: first 1, then second");
    tp_error_copy(&copied, &moved);
    assert_ptr_not_equal(copied.message, moved.message);
    assert_string_equal(tp_error_message(&copied), tp_error_message(&moved));
    tp_error_clear(&moved);
    assert_null(moved.message);
    assert_int_equal(moved.code, 0);
    assert_string_equal(tp_error_message(&copied), "x.mp4: first 1, then second");
    tp_error_clear(&copied);
    tp_error_clear(&copied); /* twice is harmless */
    tp_error_clear(NULL);
    /* A prefix on an error without a message still reads well. */
    tp_error_prefix(&err, "y.mp4");
    assert_string_equal(tp_error_message(&err), "y.mp4: ");
    tp_error_clear(&err);
}

/* tp_str_strip_controls: remote text made fit for a message, in place. */
static void strip_controls(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"plain text", "plain text"},
        {"", ""},
        {"esc\x1b[31mred\x1b[0m", "esc[31mred[0m"},
        {"osc\x1b]0;title\007bell", "osc]0;titlebell"},
        {"c1 \302\23331m and \xc2\x85next", "c1 31m and next"}, /* U+009B CSI, U+0085 NEL */
        {"raw c1 \23331m", "raw c1 ?31m"},
        {"del\x7f nul-free\x01\x02", "del nul-free"},
        {"lines\r\nand\ttabs", "lines  and tabs"},
        {"caf\xc3\xa9 \xc2\xa0nbsp \xe2\x9c\x94", "caf\xc3\xa9 \xc2\xa0nbsp \xe2\x9c\x94"},
        {"bad\xff\xfe", "bad??"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[128];
        strcpy(buf, cases[i].in);
        size_t n = tp_str_strip_controls(buf);
        assert_string_equal(buf, cases[i].out);
        assert_int_equal(n, strlen(cases[i].out));
    }
    assert_int_equal(tp_str_strip_controls(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table), cmocka_unit_test(worst_case), cmocka_unit_test(long_path_error),
        cmocka_unit_test(error_lifetime), cmocka_unit_test(strip_controls)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
