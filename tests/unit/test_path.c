/* util/path.c, tp_iso8601 and tp_copy_fd / tp_copy_file: the shared helpers that fit, the
 * sinks, the caption and the event log name, create and copy files with. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/path.h"
#include "util/tp_util.h"

static void expect_str(char *got, const char *want)
{
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_names(void **state)
{
    (void)state;
    static const struct {
        const char *path, *base, *ext, *stem, *sidecar;
    } cases[] = {
        {"dir/a.mp4", "a.mp4", ".mp4", "a", "dir/a.txt"},
        {"a.b.mov", "a.b.mov", ".mov", "a.b", "a.b.txt"},
        {"/x/y/clip", "clip", "", "clip", "/x/y/clip.txt"},
        {"d.ir/clip", "clip", "", "clip", "d.ir/clip.txt"}, /* a dot in a folder is no extension */
        {"dir/.hidden", ".hidden", "", ".hidden", "dir/.hidden.txt"},
        {"dir/.hidden.mkv", ".hidden.mkv", ".mkv", ".hidden", "dir/.hidden.txt"},
        {"dir/trailing.", "trailing.", ".", "trailing", "dir/trailing.txt"},
        {"", "", "", "", ".txt"},
    };
    for (size_t i = 0; i < TP_ARRAY_LEN(cases); i++) {
        assert_string_equal(tp_path_base(cases[i].path), cases[i].base);
        assert_string_equal(tp_path_ext(cases[i].path), cases[i].ext);
        expect_str(tp_path_stem(cases[i].path), cases[i].stem);
        expect_str(tp_path_sidecar(cases[i].path, ".txt"), cases[i].sidecar);
    }
}

static void test_part_names_and_joins(void **state)
{
    (void)state;
    expect_str(tp_path_part_name("clip", 1, 1, ".mp4"), "clip.mp4");
    expect_str(tp_path_part_name("clip", 1, 3, ".mp4"), "clip_part1.mp4");
    expect_str(tp_path_part_name("clip", 3, 3, ".json"), "clip_part3.json");
    expect_str(tp_path_part_name("clip", 2, 2, ""), "clip_part2");
    expect_str(tp_path_join("out", "a.mp4"), "out/a.mp4");
    expect_str(tp_path_join("out/", "a.mp4"), "out/a.mp4");
    expect_str(tp_path_join("/", "a.mp4"), "/a.mp4");
    expect_str(tp_path_join("a//b", "c"), "a//b/c");
}

static void test_absolute(void **state)
{
    (void)state;
    expect_str(tp_path_absolute("/a/b.mp4"), "/a/b.mp4");
    expect_str(tp_path_absolute("/a//./b/"), "/a/b");
    expect_str(tp_path_absolute("/"), "/");
    expect_str(tp_path_absolute("/a/../b"), "/a/../b"); /* ".." stays: links are not resolved */
    char *cwd = getcwd(NULL, 0);
    assert_non_null(cwd);
    char *want = tp_asprintf("%s/in/a.mp4", strcmp(cwd, "/") ? cwd : "");
    expect_str(tp_path_absolute("./in//a.mp4"), want);
    free(want);
    expect_str(tp_path_absolute("."), cwd);
    /* A name that looks like an option stays a file name under the folder. */
    want = tp_asprintf("%s/-rf.mp4", strcmp(cwd, "/") ? cwd : "");
    expect_str(tp_path_absolute("-rf.mp4"), want);
    free(want);
    free(cwd);
}

static void test_mkdir_p(void **state)
{
    (void)state;
    char dir[] = "/tmp/tp_path_XXXXXX";
    assert_non_null(mkdtemp(dir));
    tp_error err = TP_ERROR_INIT;
    struct stat st;
    char *deep = tp_asprintf("%s/a/b/c/", dir);
    assert_int_equal(tp_mkdir_p(deep, 0700, &err), 0);
    assert_int_equal(stat(deep, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(tp_mkdir_p(deep, 0700, &err), 0); /* existing: fine */

    /* A file in the way is named, at the level where it is. */
    char *file = tp_asprintf("%s/a/f", dir);
    int fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    close(fd);
    char *under = tp_asprintf("%s/x/y", file);
    assert_int_equal(tp_mkdir_p(under, 0700, &err), TP_EIO);
    assert_non_null(strstr(tp_error_message(&err), "a/f: is a file, not a folder"));
    tp_error_clear(&err);

    /* The parents of a file path, not the file itself. */
    char *token = tp_asprintf("%s/p/q/token.json", dir);
    assert_int_equal(tp_mkdir_parents(token, 0700, &err), 0);
    char *q = tp_asprintf("%s/p/q", dir);
    assert_int_equal(stat(q, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(stat(token, &st), -1);
    assert_int_equal(tp_mkdir_parents("token.json", 0700, &err), 0); /* no folder part */
    assert_int_equal(tp_mkdir_parents("/token.json", 0700, &err), 0);
    char *bad = tp_asprintf("%s/x/token.json", file);
    assert_int_equal(tp_mkdir_parents(bad, 0700, &err), TP_EIO);
    tp_error_clear(&err);

    char *cmd = tp_asprintf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(bad);
    free(q);
    free(token);
    free(under);
    free(file);
    free(deep);
}

static void test_iso8601(void **state)
{
    (void)state;
    char buf[32];
    tp_iso8601(buf, sizeof(buf), 1795654923.25); /* exact in binary */
    assert_string_equal(buf, "2026-11-26T01:02:03.250Z");
    tp_iso8601(buf, sizeof(buf), 0.0);
    assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
}

static char *make_file(const char *dir, const char *name, const char *text)
{
    char *p = tp_asprintf("%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
    return p;
}

static char *slurp(const char *path)
{
    char *text = NULL;
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(tp_read_small_file(&text, NULL, path, 1 << 20, false, &err), 0);
    assert_non_null(text);
    return text;
}

static int failing_copy(int in, const char *src, int out, const char *dst, void *payload,
                        tp_error *err)
{
    (void)in;
    (void)src;
    int *calls = payload;
    (*calls)++;
    assert_int_equal(write(out, "part", 4), 4);
    return tp_error_set(err, TP_EIO, 0, "%s: refused by the test", dst);
}

static void test_copy(void **state)
{
    (void)state;
    char dir[] = "/tmp/tp_copy_XXXXXX";
    assert_non_null(mkdtemp(dir));
    tp_error err = TP_ERROR_INIT;
    char *src = make_file(dir, "src.bin", "the bytes of the source\n");
    char *taken = make_file(dir, "taken.bin", "someone else's file\n");
    char *dst = tp_asprintf("%s/copy.bin", dir);
    char *link = tp_asprintf("%s/link.bin", dir);
    char *target = tp_asprintf("%s/target.bin", dir);
    assert_int_equal(symlink(target, link), 0);
    int in = open(src, O_RDONLY);
    assert_true(in >= 0);

    /* A new file with the bytes and the mode asked for. */
    mode_t old = umask(0);
    assert_int_equal(tp_copy_file(in, src, dst, 0640, NULL, NULL, &err), 0);
    umask(old);
    char *text = slurp(dst);
    assert_string_equal(text, "the bytes of the source\n");
    free(text);
    struct stat st;
    assert_int_equal(stat(dst, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);

    /* Never an existing name, never through a symlink (its target is not created). */
    assert_int_equal(tp_copy_file(in, src, taken, 0600, NULL, NULL, &err), TP_EIO);
    text = slurp(taken);
    assert_string_equal(text, "someone else's file\n");
    free(text);
    assert_int_equal(tp_copy_file(in, src, link, 0600, NULL, NULL, &err), TP_EIO);
    assert_int_equal(lstat(target, &st), -1);
    tp_error_clear(&err);

    /* A failing copy step: its error, and no partial file left behind. */
    char *dst2 = tp_asprintf("%s/copy2.bin", dir);
    int calls = 0;
    assert_int_equal(tp_copy_file(in, src, dst2, 0600, failing_copy, &calls, &err), TP_EIO);
    assert_int_equal(calls, 1);
    assert_non_null(strstr(tp_error_message(&err), "refused by the test"));
    assert_int_equal(lstat(dst2, &st), -1);
    tp_error_clear(&err);

    /* Cancelled before the first byte: the cancel flag as payload. */
    tp_cancel cancel;
    tp_cancel_init(&cancel, NULL);
    tp_cancel_request(&cancel);
    assert_int_equal(tp_copy_file(in, src, dst2, 0600, NULL, (void *)&cancel, &err), TP_ECANCELED);
    assert_int_equal(lstat(dst2, &st), -1);
    tp_error_clear(&err);

    /* tp_copy_fd into an open descriptor, from offset 0 whatever in's file position is. */
    assert_int_equal(lseek(in, 5, SEEK_SET), 5);
    int out = open(dst2, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(out >= 0);
    assert_int_equal(tp_copy_fd(in, src, out, dst2, NULL, &err), 0);
    close(out);
    text = slurp(dst2);
    assert_string_equal(text, "the bytes of the source\n");
    free(text);

    close(in);
    char *cmd = tp_asprintf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(dst2);
    free(target);
    free(link);
    free(dst);
    free(taken);
    free(src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),   cmocka_unit_test(test_part_names_and_joins),
        cmocka_unit_test(test_absolute),
        cmocka_unit_test(test_mkdir_p), cmocka_unit_test(test_iso8601),
        cmocka_unit_test(test_copy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
