/* util/fileio.c: tp_read_small_file refuses symlinks, FIFOs, devices and oversized files without
 * reading them; tp_create_exclusive never opens an existing name; tp_output_mode follows the
 * source's mode. */
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

#include "util/tp_util.h"

static char *write_file(const char *dir, const char *name, const char *text, size_t len)
{
    char *p = tp_asprintf("%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
    return p;
}

static void test_read_small_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/tp_fileio_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *ok = write_file(dir, "ok.txt", "hello\n", 6);
    char *big = write_file(dir, "big.txt", "0123456789", 10);
    char *link = tp_asprintf("%s/link.txt", dir);
    char *fifo = tp_asprintf("%s/fifo.txt", dir);
    char *dev = tp_asprintf("%s/dev.txt", dir);
    char *missing = tp_asprintf("%s/missing.txt", dir);
    assert_int_equal(symlink(ok, link), 0);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    tp_error err = TP_ERROR_INIT;
    char *text = NULL;
    size_t len = 0;

    assert_int_equal(tp_read_small_file(&text, &len, ok, 64, true, &err), 0);
    assert_string_equal(text, "hello\n");
    assert_int_equal(len, 6);
    free(text);
    /* exactly at the cap: read; one byte over: refused */
    assert_int_equal(tp_read_small_file(&text, &len, big, 10, true, &err), 0);
    assert_int_equal(len, 10);
    free(text);
    assert_int_equal(tp_read_small_file(&text, &len, big, 9, true, &err), TP_EIO);
    assert_null(text);
    assert_non_null(strstr(tp_error_message(&err), "over the 9-byte limit"));
    /* a symlink: refused with nofollow, followed without (an operator's explicit path) */
    assert_int_equal(tp_read_small_file(&text, &len, link, 64, true, &err), TP_EIO);
    assert_null(text);
    assert_non_null(strstr(tp_error_message(&err), "is a symbolic link"));
    assert_int_equal(tp_read_small_file(&text, &len, link, 64, false, &err), 0);
    assert_string_equal(text, "hello\n");
    free(text);
    /* a FIFO with no writer: refused at once, never blocks */
    assert_int_equal(tp_read_small_file(&text, &len, fifo, 64, false, &err), TP_EIO);
    assert_non_null(strstr(tp_error_message(&err), "a FIFO"));
    /* a device (followed through a link when nofollow is off): refused, never read */
    assert_int_equal(symlink("/dev/zero", dev), 0);
    assert_int_equal(tp_read_small_file(&text, &len, dev, 64, false, &err), TP_EIO);
    assert_non_null(strstr(tp_error_message(&err), "a character device"));
    /* missing: no error, no text */
    assert_int_equal(tp_read_small_file(&text, &len, missing, 64, true, &err), 0);
    assert_null(text);

    char *cmd = tp_asprintf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(ok);
    free(big);
    free(link);
    free(fifo);
    free(dev);
    free(missing);
    tp_error_clear(&err);
}

static void test_create_exclusive(void **state)
{
    (void)state;
    char dir[] = "/tmp/tp_fileio_XXXXXX";
    assert_non_null(mkdtemp(dir));
    tp_error err = TP_ERROR_INIT;
    char *a = NULL, *b = NULL;
    mode_t old = umask(022);
    int fa = tp_create_exclusive(&a, dir, ".x-", ".tmp", 0600, &err);
    int fb = tp_create_exclusive(&b, dir, ".x-", ".tmp", 0644, &err);
    umask(old);
    assert_true(fa >= 0 && fb >= 0);
    assert_string_not_equal(a, b); /* random names */
    assert_non_null(strstr(a, "/.x-"));
    struct stat st;
    assert_int_equal(fstat(fa, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(fstat(fb, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(write(fa, "x", 1), 1);
    close(fa);
    close(fb);

    char *src = tp_asprintf("%s/src", dir);
    int fd = open(src, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(chmod(src, 0600), 0);
    assert_int_equal(tp_output_mode(src), 0600);
    assert_int_equal(chmod(src, 0644), 0);
    assert_int_equal(tp_output_mode(src), 0644);
    assert_int_equal(tp_output_mode("/nonexistent/x"), 0666);

    char *cmd = tp_asprintf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(src);
    free(a);
    free(b);
    tp_error_clear(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_small_file),
        cmocka_unit_test(test_create_exclusive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
