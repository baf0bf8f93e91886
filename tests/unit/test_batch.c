/* tp_check_files / tp_fit_files through the public header only: every path is reported once, in
 * input order, whatever -j; what the walk leaves out is counted; option versions are checked;
 * fit makes no OUTDIR for nothing and refuses an OUTDIR that is a file. No media needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <tokprep.h>

typedef struct {
    size_t n;
    size_t index[16];
    char path[16][512];
    int had_check[16];
    int code[16];
} seen;

static void on_check(const tp_check_files_item *it, void *payload)
{
    seen *s = payload;
    assert_true(s->n < 16);
    s->index[s->n] = it->index;
    snprintf(s->path[s->n], sizeof(s->path[0]), "%s", it->path);
    s->had_check[s->n] = it->check != NULL;
    s->code[s->n] = it->error ? it->error->code : 0;
    s->n++;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static tp_profile *open_profile(void)
{
    tp_profile *p = NULL;
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(tp_profile_open(&p, "tiktok", NULL, 0, &err), 0);
    tp_error_clear(&err);
    return p;
}

static void test_check_files_order_and_counts(void **state)
{
    (void)state;
    char dir[] = "/tmp/tp_batch_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char a[600], b[600], c[600], link[600], missing[600];
    snprintf(a, sizeof(a), "%s/a.mp4", dir);       /* media name, HTML content: an error item */
    snprintf(b, sizeof(b), "%s/b.txt", dir);       /* neither: counted as non-media */
    snprintf(c, sizeof(c), "%s/c.mov", dir);       /* media name, text content: an error item */
    snprintf(link, sizeof(link), "%s/d.mp4", dir); /* a symlink in a folder: not followed */
    snprintf(missing, sizeof(missing), "%s/none.mp4", dir);
    write_file(a, "<!DOCTYPE html><html></html>\n");
    write_file(b, "notes\n");
    write_file(c, "plain text\n");
    assert_int_equal(symlink(a, link), 0);
    tp_profile *p = open_profile();
    for (unsigned threads = 1; threads <= 3; threads += 2) {
        const char *paths[] = {missing, dir, "/nonexistent/tokprep/x.mp4"};
        seen s;
        memset(&s, 0, sizeof(s));
        tp_check_files_options o;
        assert_int_equal(tp_check_files_options_init(&o, TP_CHECK_FILES_OPTIONS_VERSION), 0);
        o.threads = threads;
        o.on_file = on_check;
        o.payload = &s;
        tp_files_summary sum;
        tp_error err = TP_ERROR_INIT;
        assert_int_equal(tp_check_files(&sum, p, paths, 3, &o, &err), 0);
        assert_int_equal(sum.files, 4);
        assert_int_equal(sum.non_media, 1);
        assert_int_equal(sum.symlinks, 1);
        assert_int_equal(s.n, 4);
        const char *want[] = {missing, a, c, "/nonexistent/tokprep/x.mp4"};
        for (size_t i = 0; i < 4; i++) {
            assert_int_equal(s.index[i], i);
            assert_string_equal(s.path[i], want[i]);
            assert_false(s.had_check[i]);
            assert_true(s.code[i] < 0);
        }
        tp_error_clear(&err);
    }
    /* A version the library does not know is refused, not guessed at. */
    tp_check_files_options bad = TP_CHECK_FILES_OPTIONS_INIT;
    bad.version = 99;
    tp_error err = TP_ERROR_INIT;
    const char *one[] = {a};
    assert_int_equal(tp_check_files(NULL, p, one, 1, &bad, &err), TP_EINVAL);
    tp_error_clear(&err);
    assert_int_equal(tp_check_files_options_init(&bad, 99), TP_EINVAL);
    tp_profile_free(p);
    unlink(link);
    unlink(a);
    unlink(b);
    unlink(c);
    rmdir(dir);
}

static void on_fit(const tp_fit_files_item *it, void *payload)
{
    seen *s = payload;
    assert_true(s->n < 16);
    s->index[s->n] = it->index;
    snprintf(s->path[s->n], sizeof(s->path[0]), "%s", it->path);
    s->had_check[s->n] = it->check != NULL;
    s->code[s->n] = it->verdict == TP_VERDICT_ERROR ? it->rc : 0;
    s->n++;
}

static void test_fit_files_outdir(void **state)
{
    (void)state;
    char dir[] = "/tmp/tp_batch_fit_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char empty[600], out[600], file[600], m1[600], m2[600];
    snprintf(empty, sizeof(empty), "%s/empty", dir);
    snprintf(out, sizeof(out), "%s/out/deep", dir);
    snprintf(file, sizeof(file), "%s/a_file", dir);
    snprintf(m1, sizeof(m1), "%s/gone1.mp4", dir);
    snprintf(m2, sizeof(m2), "%s/gone2.mp4", dir);
    assert_int_equal(mkdir(empty, 0755), 0);
    write_file(file, "x");
    tp_profile *p = open_profile();
    seen s;
    memset(&s, 0, sizeof(s));
    tp_fit_files_options o = TP_FIT_FILES_OPTIONS_INIT;
    o.on_file = on_fit;
    o.payload = &s;
    o.outdir = out;
    tp_files_summary sum;
    tp_error err = TP_ERROR_INIT;
    /* Nothing found: 0 files, nothing reported, no OUTDIR made. */
    const char *e[] = {empty};
    assert_int_equal(tp_fit_files(&sum, p, e, 1, &o, &err), 0);
    assert_int_equal(sum.files, 0);
    assert_int_equal(s.n, 0);
    struct stat st;
    assert_int_not_equal(stat(out, &st), 0);
    /* OUTDIR is a file: refused before any work. */
    const char *m[] = {m1, m2};
    o.outdir = file;
    assert_int_equal(tp_fit_files(&sum, p, m, 2, &o, &err), TP_EINVAL);
    assert_int_equal(s.n, 0);
    tp_error_clear(&err);
    /* Missing inputs: reported in order as errors; OUTDIR made with its parents. */
    o.outdir = out;
    o.threads = 2;
    assert_int_equal(tp_fit_files(&sum, p, m, 2, &o, &err), 0);
    assert_int_equal(sum.files, 2);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.path[0], m1);
    assert_string_equal(s.path[1], m2);
    assert_true(s.code[0] < 0 && s.code[1] < 0);
    assert_int_equal(stat(out, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    tp_error_clear(&err);
    tp_profile_free(p);
    rmdir(out);
    snprintf(out, sizeof(out), "%s/out", dir);
    rmdir(out);
    rmdir(empty);
    unlink(file);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_files_order_and_counts),
        cmocka_unit_test(test_fit_files_outdir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
