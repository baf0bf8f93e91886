/* Hostile profiles beyond test_profiles.c's alias bomb and deep nesting: huge scalars and
 * files, numbers out of every range, wrong YAML types, a FIFO or device as the profile, and a
 * literal secret in a file other users can read (a warning, not a failure). */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "profiles/profile.h"
#include "util/tp_util.h"

typedef struct {
    const char *name;
    const char *yaml;  /* appended to "name: h\nextends: tiktok\n" */
    const char *error; /* substring of the error; NULL = loads */
} hostile_case;

static const hostile_case cases[] = {
    {"int overflow", "rules: {min_side: 99999999999999999999999}", "expected a whole number"},
    {"float overflow", "rules: {duration: [1, 1e400]}", "expected a number"},
    {"nan", "rules: {fps: [.nan, 60]}", "expected a number"},
    {"inf", "rules: {fps: [23, .inf]}", "expected a number"},
    {"negative size", "rules: {max_size: -5GB}", "expected a size"},
    {"size overflow", "rules: {max_size: 99999999999999999999GB}", "expected a size"},
    {"size overflow by unit", "rules: {max_size: 9000000000GiB}", "expected a size"},
    {"out of range", "pipeline: {probe_workers: 100000000}", "out of range"},
    {"negative limit", "limits: {max_pixels: -1}", "out of range"},
    {"negative timeout", "upload: {tiktok: {timeout: -1}}", "out of range"},
    {"map for a string", "upload: {tiktok: {caption: {a: 1}}}", "expected a string, got a map"},
    {"list for a number", "rules: {min_side: [1]}", "expected a number, got a list"},
    {"null for a number", "rules: {min_side: ~}", "expected a number"},
    {"bool for a number", "rules: {min_side: true}", "expected a number"},
    {"number for a bool", "rules: {faststart: 1}", "expected true or false"},
    {"nested list item", "rules: {containers: [[mp4]]}", "got a list"},
    {"scalar for a map", "fix: 3", "expected a map"},
    {"list for the root", NULL, "map"},
    {"too many items", "rules: {containers: [a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r]}", "more than"},
    {"hex int is YAML 1.1", "rules: {min_side: 0x200}", NULL},
};

static void table(void **state)
{
    (void)state;
    for (size_t i = 0; i < TP_ARRAY_LEN(cases); i++) {
        char text[1024];
        if (cases[i].yaml)
            snprintf(text, sizeof(text), "name: h\nextends: tiktok\n%s\n", cases[i].yaml);
        else
            snprintf(text, sizeof(text), "- name: h\n- extends: tiktok\n");
        tp_profile *p = NULL;
        tp_error err = TP_ERROR_INIT;
        int rc = tp_profile_open_buffer(&p, "h.yaml", text, strlen(text), NULL, 0, &err);
        if (!cases[i].error) {
            if (rc != 0)
                fail_msg("%s: %s", cases[i].name, tp_error_message(&err));
            tp_profile_free(p);
            continue;
        }
        if (rc != TP_ECONFIG || p)
            fail_msg("%s: loaded (rc %d)", cases[i].name, rc);
        if (!strstr(tp_error_message(&err), cases[i].error) ||
            strncmp(tp_error_message(&err), "h.yaml", 6) != 0)
            fail_msg("%s: '%s' lacks '%s' or the file name", cases[i].name, tp_error_message(&err),
                     cases[i].error);
        tp_error_clear(&err);
    }
}

/* A scalar over 64 KiB and a file over 1 MiB are refused before anything is built from them;
 * a 60 KiB caption is fine. */
static void huge(void **state)
{
    (void)state;
    const size_t big = 70 * 1024;
    char *text = malloc(big + 64);
    assert_non_null(text);
    int n = snprintf(text, 64, "name: h\nupload: {tiktok: {caption: \"");
    memset(text + n, 'x', big);
    strcpy(text + n + big, "\"}}\n");
    tp_profile *p = NULL;
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(tp_profile_open_buffer(&p, "h.yaml", text, strlen(text), NULL, 0, &err),
                     TP_ECONFIG);
    assert_non_null(strstr(tp_error_message(&err), "longer than 65536 bytes"));
    strcpy(text + n + 60 * 1024, "\"}}\n");
    assert_int_equal(tp_profile_open_buffer(&p, "h.yaml", text, strlen(text), NULL, 0, &err), 0);
    assert_int_equal(strlen(p->upload.tiktok.caption), 60 * 1024);
    tp_profile_free(p);
    free(text);

    char path[] = "/tmp/tp-huge-profile.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("name: h\n", f);
    for (int i = 0; i < 40000; i++)
        fprintf(f, "# padding line %d of a profile far larger than any real one\n", i);
    fclose(f);
    assert_int_equal(tp_profile_open(&p, path, NULL, 0, &err), TP_ECONFIG);
    assert_non_null(strstr(tp_error_message(&err), "larger than 1 MiB"));
    unlink(path);
    tp_error_clear(&err);
}

/* A FIFO given as the profile must not block the open (no writer will ever come). */
static void not_regular(void **state)
{
    (void)state;
    char dir[] = "/tmp/tp-fifo-profile.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char fifo[64];
    snprintf(fifo, sizeof(fifo), "%s/p.yaml", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    tp_profile *p = NULL;
    tp_error err = TP_ERROR_INIT;
    alarm(10); /* a hang fails the test instead of stalling the suite */
    assert_int_equal(tp_profile_open(&p, fifo, NULL, 0, &err), TP_ECONFIG);
    assert_non_null(strstr(tp_error_message(&err), "not a regular file"));
    assert_int_equal(tp_profile_open(&p, "/dev/zero", NULL, 0, &err), TP_ECONFIG);
    assert_int_equal(tp_profile_open(&p, dir, NULL, 0, &err), TP_ECONFIG);
    alarm(0);
    unlink(fifo);
    rmdir(dir);
    tp_error_clear(&err);
}

/* Load path with stderr captured; returns what the loader logged. */
static char *load_capturing_stderr(const char *path)
{
    char log[] = "/tmp/tp-profile-log.XXXXXX";
    int lfd = mkstemp(log);
    assert_true(lfd >= 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(lfd, STDERR_FILENO);
    tp_profile *p = NULL;
    tp_error err = TP_ERROR_INIT;
    int rc = tp_profile_open(&p, path, NULL, 0, &err);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    if (rc != 0)
        fail_msg("%s: %s", path, tp_error_message(&err));
    tp_error_clear(&err);
    tp_profile_free(p);
    static char buf[4096];
    ssize_t n = pread(lfd, buf, sizeof(buf) - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    close(lfd);
    unlink(log);
    return buf;
}

static void loose_secret(void **state)
{
    (void)state;
    tp_log_set_level(TP_LOG_WARN);
    char path[] = "/tmp/tp-secret-profile.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static const char text[] = "name: s\nextends: tiktok\nupload:\n  tiktok:\n"
                               "    client_secret: hunter2-not-for-logs\n";
    assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
    close(fd);
    const mode_t modes[] = {0644, 0640, 0604, 0600, 0400};
    const bool warns[] = {true, true, true, false, false};
    for (size_t i = 0; i < TP_ARRAY_LEN(modes); i++) {
        chmod(path, modes[i]);
        const char *log = load_capturing_stderr(path);
        if (warns[i] != (strstr(log, "other users can read it") != NULL))
            fail_msg("mode %o: warning %s expected; log: '%s'", (unsigned)modes[i],
                     warns[i] ? "" : "not", log);
        if (strstr(log, "hunter2"))
            fail_msg("the secret itself was logged: %s", log);
    }
    /* A ${VAR} reference is not a secret in the file: no warning however readable. */
    FILE *f = fopen(path, "w");
    fputs("name: s\nextends: tiktok\nupload:\n  tiktok:\n    client_secret: ${TP_NO_SUCH_VAR}\n",
          f);
    fclose(f);
    chmod(path, 0644);
    assert_null(strstr(load_capturing_stderr(path), "other users can read it"));
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table),
        cmocka_unit_test(huge),
        cmocka_unit_test(not_regular),
        cmocka_unit_test(loose_secret),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
