/* Profile loader: built-ins, extends/merge, ${VAR}, --set, and every error with its position. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "profiles/profile.h"
#include "util/tp_util.h"

static char tmpdir[] = "/tmp/tp_profiles_XXXXXX";

static const char *write_profile(const char *name, const char *text)
{
    static char path[4][512];
    static int slot;
    char *p = path[slot++ % 4];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

/* Load and expect failure whose message ends with "NAME:LINE:COL: <needle...>". */
static void expect_error(const char *path, const char *const *sets, size_t n_sets,
                         const char *where, const char *needle)
{
    tp_profile *p = NULL;
    tp_error err = TP_ERROR_INIT;
    int rc = tp_profile_open(&p, path, sets, n_sets, &err);
    assert_int_equal(rc, TP_ECONFIG);
    assert_null(p);
    if (where) {
        char prefix[600];
        snprintf(prefix, sizeof(prefix), "%s/%s", tmpdir, where);
        if (strncmp(tp_error_message(&err), prefix, strlen(prefix)) != 0)
            fail_msg("expected '%s' at the start of '%s'", prefix, tp_error_message(&err));
    }
    if (!strstr(tp_error_message(&err), needle))
        fail_msg("expected '%s' in '%s'", needle, tp_error_message(&err));
    tp_error_clear(&err);
}

static void test_builtins_load(void **state)
{
    (void)state;
    const char *const *names = tp_profile_builtin_names();
    int n = 0;
    for (size_t i = 0; names[i]; i++, n++) {
        tp_profile *p = NULL;
        tp_error err = TP_ERROR_INIT;
        assert_int_equal(tp_profile_open(&p, names[i], NULL, 0, &err), 0);
        assert_string_equal(p->name, names[i]);
        assert_int_equal(strlen(p->hash), 64);
        tp_profile_free(p);
    }
    assert_true(n >= 2);

    tp_profile *p = NULL;
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(tp_profile_open(&p, "tiktok", NULL, 0, &err), 0);
    assert_int_equal(p->rules.containers.n, 3);
    assert_true(tp_strlist_has(&p->rules.video_codecs, "hevc"));
    assert_int_equal(p->rules.min_side, 360);
    assert_int_equal(p->rules.n_aspects, 1);
    assert_int_equal(p->rules.aspects[0].num, 9);
    assert_int_equal(p->rules.aspects[0].den, 16);
    assert_true(p->rules.fps_min == 23 && p->rules.fps_max == 60);
    assert_true(p->rules.duration_min == 3 && p->rules.duration_max == 600);
    assert_true(p->rules.max_size == 1000000000LL);
    assert_int_equal(p->fix.fill, TP_FILL_BLUR);
    assert_int_equal(p->fix.too_long, TP_TOO_LONG_SPLIT);
    assert_int_equal(p->fix.too_short, TP_TOO_SHORT_REJECT);
    assert_true(p->fix.video.max_bitrate == 15000000);
    assert_true(p->fix.audio.bitrate == 128000);
    assert_true(p->chunk.size == 10000000 && p->chunk.final_max == 128000000);
    assert_int_equal(p->upload.sink, TP_SINK_TIKTOK);
    assert_int_equal(p->upload.tiktok.mode, TP_POST_DIRECT);
    assert_true(p->pipeline.fit_workers >= 1); /* 0 resolved to the core count */
    assert_int_equal(p->pipeline.upload_workers, 1);
    tp_profile_free(p);

    assert_int_equal(tp_profile_open(&p, "tiktok-draft", NULL, 0, &err), 0);
    assert_int_equal(p->upload.tiktok.mode, TP_POST_DRAFT);
    assert_int_equal(p->fix.width, 1080); /* inherited */
    tp_profile_free(p);
    tp_error_clear(&err);
}

static void test_extends_merge(void **state)
{
    (void)state;
    write_profile("base.yaml", "name: base\nextends: tiktok\nfix:\n  fill: pad\n"
                               "  video: {crf: 30}\nrules:\n  fps: [24, 30]\n");
    const char *child = write_profile("child.yaml", "name: child\nextends: base.yaml\n"
                                                    "fix:\n  video: {preset: slow}\n");
    tp_profile *p = NULL;
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(tp_profile_open(&p, child, NULL, 0, &err), 0);
    assert_string_equal(p->name, "child");
    assert_int_equal(p->fix.fill, TP_FILL_PAD);          /* from base */
    assert_int_equal(p->fix.video.crf, 30);              /* from base, deep-merged */
    assert_string_equal(p->fix.video.preset, "slow");    /* child wins */
    assert_string_equal(p->fix.video.codec, "libx264");  /* from tiktok */
    assert_true(p->rules.fps_min == 24 && p->rules.fps_max == 30);
    char hash1[65];
    memcpy(hash1, p->hash, 65);
    tp_profile_free(p);

    /* A profile without extends takes the built-in tiktok values for what it leaves out. */
    const char *bare = write_profile("bare.yaml", "name: bare\nfix: {fill: crop}\n");
    assert_int_equal(tp_profile_open(&p, bare, NULL, 0, &err), 0);
    assert_int_equal(p->fix.fill, TP_FILL_CROP);
    assert_int_equal(p->rules.max_side, 4096);
    assert_string_not_equal(p->hash, hash1);
    tp_profile_free(p);
    tp_error_clear(&err);
}

static void test_env_expansion(void **state)
{
    (void)state;
    const char *path = write_profile(
        "env.yaml", "name: env\nupload:\n  directory: {path: \"${TP_TEST_DIR:-/srv/out}\"}\n"
                    "  tiktok:\n    client_key: ${TP_TEST_KEY}\n"
                    "    client_secret: ${TP_TEST_SECRET}\n");
    unsetenv("TP_TEST_DIR");
    unsetenv("TP_TEST_SECRET");
    setenv("TP_TEST_KEY", "abc", 1);
    tp_profile *p = NULL;
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(tp_profile_open(&p, path, NULL, 0, &err), 0);
    assert_string_equal(p->upload.directory_path, "/srv/out");
    assert_string_equal(p->upload.tiktok.client_key, "abc");
    /* Unset without default: an error only when the value is used. */
    assert_null(p->upload.tiktok.client_secret);
    assert_int_equal(tp_profile_require(p, "upload.tiktok.client_key", &err), 0);
    assert_int_equal(tp_profile_require(p, "upload.tiktok.client_secret", &err), TP_ECONFIG);
    assert_non_null(strstr(tp_error_message(&err),
                           "env.yaml:6:20: upload.tiktok.client_secret: "
                           "environment variable TP_TEST_SECRET is not set"));
    tp_profile_free(p);

    setenv("TP_TEST_DIR", "/data/x", 1);
    setenv("TP_TEST_SECRET", "s3cr3t", 1);
    assert_int_equal(tp_profile_open(&p, path, NULL, 0, &err), 0);
    assert_string_equal(p->upload.directory_path, "/data/x");
    assert_string_equal(p->upload.tiktok.client_secret, "s3cr3t");
    char *dump = tp_profile_dump(p);
    assert_null(strstr(dump, "s3cr3t"));
    assert_non_null(strstr(dump, "client_secret: \"***\""));
    free(dump);
    tp_profile_free(p);

    /* Non-string values must expand at load. */
    const char *num = write_profile("envnum.yaml", "name: n\nfix: {width: \"${TP_TEST_W}\"}\n");
    unsetenv("TP_TEST_W");
    expect_error(num, NULL, 0, "envnum.yaml:2:14", "TP_TEST_W is not set");
    tp_error_clear(&err);
}

static void test_sets(void **state)
{
    (void)state;
    const char *sets[] = {"fix.fill=pad", "fix.video.preset=ultrafast", "rules.fps=[24, 30]",
                          "rules.max_size=50MiB", "upload.sink=directory"};
    tp_profile *p = NULL;
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(tp_profile_open(&p, "tiktok-draft", sets, 5, &err), 0);
    assert_int_equal(p->fix.fill, TP_FILL_PAD);
    assert_string_equal(p->fix.video.preset, "ultrafast");
    assert_true(p->rules.fps_min == 24 && p->rules.fps_max == 30);
    assert_true(p->rules.max_size == 50LL * 1024 * 1024);
    assert_int_equal(p->upload.sink, TP_SINK_DIRECTORY);
    assert_int_equal(p->upload.tiktok.mode, TP_POST_DRAFT);
    tp_profile_free(p);

    const char *bad1[] = {"fix.fil=pad"};
    expect_error("tiktok", bad1, 1, NULL, "--set fix.fil=pad: unknown key 'fix.fil' (did you "
                                          "mean 'fix.fill'?)");
    const char *bad2[] = {"fix.fill=sideways"};
    expect_error("tiktok", bad2, 1, NULL, "fix.fill: 'sideways' is not one of blur | pad | crop");
    const char *bad3[] = {"nonsense"};
    expect_error("tiktok", bad3, 1, NULL, "--set nonsense: expected key.path=value");
    const char *bad4[] = {"fix=3"};
    expect_error("tiktok", bad4, 1, NULL, "is not a single value");
    const char *bad5[] = {"fix.video.crf=60"};
    expect_error("tiktok", bad5, 1, NULL, "fix.video.crf: 60 is out of range [0, 51]");
    tp_error_clear(&err);
}

static void test_errors_with_positions(void **state)
{
    (void)state;
    const char *p;
    p = write_profile("e1.yaml", "name: e1\nfix:\n  fil: pad\n");
    expect_error(p, NULL, 0, "e1.yaml:3:3", "unknown key 'fix.fil' (did you mean 'fix.fill'?)");
    p = write_profile("e2.yaml", "name: e2\nrules:\n  min_side: abc\n");
    expect_error(p, NULL, 0, "e2.yaml:3:13", "rules.min_side: expected a number, got 'abc'");
    p = write_profile("e3.yaml", "name: e3\nfix:\n  video:\n    crf: 99\n");
    expect_error(p, NULL, 0, "e3.yaml:4:10", "fix.video.crf: 99 is out of range [0, 51]");
    p = write_profile("e4.yaml", "name: e4\nextends: nosuch\n");
    expect_error(p, NULL, 0, "e4.yaml:2:10", "unknown profile 'nosuch'");
    write_profile("c1.yaml", "name: c1\nextends: c2.yaml\n");
    p = write_profile("c2.yaml", "name: c2\nextends: c1.yaml\n");
    expect_error(p, NULL, 0, "c1.yaml:2:10", "extends cycle");
    p = write_profile("e5.yaml", "name: e5\nrules:\n  containers: mp4\n");
    expect_error(p, NULL, 0, "e5.yaml:3:15", "rules.containers: expected a list");
    p = write_profile("e6.yaml", "name: e6\nrules: [1, 2]\n");
    expect_error(p, NULL, 0, "e6.yaml:2:8", "rules: expected a map, got a list");
    p = write_profile("e7.yaml", "name: e7\nrules:\n  faststart: maybe\n");
    expect_error(p, NULL, 0, "e7.yaml:3:14", "rules.faststart: expected true or false");
    p = write_profile("e8.yaml", "name: e8\nrules: {fps: [60, 23]}\n");
    expect_error(p, NULL, 0, "e8.yaml:2:14", "min 60 is above max 23");
    p = write_profile("e9.yaml", "name: e9\nfix: {width: 1081}\n");
    expect_error(p, NULL, 0, NULL, "must be even");
    p = write_profile("e10.yaml", "name: e10\nfix: [unclosed\n");
    expect_error(p, NULL, 0, "e10.yaml:", "YAML syntax error");
    p = write_profile("e11.yaml", "name: e11\nname: again\n");
    expect_error(p, NULL, 0, "e11.yaml:2:1", "duplicate key");
    p = write_profile("e12.yaml", "name: e12\nrules: {aspects: [\"9x16\"]}\n");
    expect_error(p, NULL, 0, "e12.yaml:2:19", "an aspect ratio like");
    expect_error("/nonexistent/x.yaml", NULL, 0, NULL, "cannot open profile");
    expect_error("no-such-profile", NULL, 0, NULL, "unknown profile 'no-such-profile'");
}

static void test_hostile_yaml(void **state)
{
    (void)state;
    /* Billion laughs: must be refused quickly, not expanded. */
    const char *bomb = write_profile(
        "bomb.yaml", "name: bomb\na: &a [x, x, x, x, x, x, x, x, x, x]\n"
                     "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                     "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                     "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                     "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n");
    expect_error(bomb, NULL, 0, "bomb.yaml:", "alias bomb");
    char deep[4096] = "name: deep\nx: ";
    for (int i = 0; i < 200; i++)
        strcat(deep, "[");
    strcat(deep, "\n");
    const char *d = write_profile("deep.yaml", deep);
    expect_error(d, NULL, 0, "deep.yaml:", "nesting deeper than 64");
}

static void test_parse_size(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int64_t out;
    } ok[] = {{"1GB", 1000000000LL}, {"10MB", 10000000},  {"5MiB", 5242880}, {"128k", 128000},
              {"15M", 15000000},     {"1GiB", 1073741824}, {"42", 42},       {"1.5MB", 1500000}};
    for (size_t i = 0; i < TP_ARRAY_LEN(ok); i++) {
        int64_t v = -1;
        assert_int_equal(tp_parse_size(ok[i].in, &v), 0);
        assert_true(v == ok[i].out);
    }
    static const char *bad[] = {"", "MB", "-1", "10XB", "1e30GB", "ten"};
    for (size_t i = 0; i < TP_ARRAY_LEN(bad); i++) {
        int64_t v;
        assert_int_equal(tp_parse_size(bad[i], &v), TP_EINVAL);
    }
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* The schema as documentation sees it (tokprep-profile.5): every key, with a type, a default
 * and a help line; a choice lists its values. */
static void test_schema_table(void **state)
{
    (void)state;
    size_t n = tp_profile_schema_count();
    assert_true(n > 50);
    tp_profile_key_info k;
    assert_int_equal(tp_profile_schema_at(n, &k), TP_EINVAL);
    assert_int_equal(tp_profile_schema_at(0, NULL), TP_EINVAL);
    bool saw_fill = false, saw_secret = false;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(tp_profile_schema_at(i, &k), 0);
        assert_non_null(k.key);
        assert_non_null(k.type);
        if (!strcmp(k.type, "map"))
            continue;
        if (!k.help[0] || !k.default_value[0])
            fail_msg("profile key %s has no help or default in profiles/schema_doc.c", k.key);
        if (!strcmp(k.key, "fix.fill")) {
            saw_fill = true;
            assert_string_equal(k.type, "choice");
            assert_string_equal(k.choices[0], "blur");
            assert_string_equal(k.default_value, "blur");
        }
        if (!strcmp(k.key, "upload.tiktok.client_secret"))
            saw_secret = k.secret != 0;
        if (!strcmp(k.key, "rules.min_side")) {
            assert_string_equal(k.type, "int");
            assert_true(k.min == 1 && k.max == 65536);
        }
    }
    assert_true(saw_fill && saw_secret);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtins_load),      cmocka_unit_test(test_extends_merge),
        cmocka_unit_test(test_env_expansion),      cmocka_unit_test(test_sets),
        cmocka_unit_test(test_errors_with_positions), cmocka_unit_test(test_hostile_yaml),
        cmocka_unit_test(test_parse_size),         cmocka_unit_test(test_schema_table),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
