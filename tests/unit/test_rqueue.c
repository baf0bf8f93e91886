/* The queue's pure parts: job ids, the queue.* profile keys (defaults in the built-in
 * profile, left out of the profile hash so the ledger's key does not change with them), and
 * the sealed upload URL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pipeline/rqueue.h"
#include "profiles/profile.h"
#include "util/tp_util.h"

static void test_job_id(void **state)
{
    (void)state;
    char *a = tp_rq_job_id("ab12", NULL), *b = tp_rq_job_id("ab12", ""),
         *c = tp_rq_job_id("ab12", "tiktok-draft");
    assert_string_equal(a, "ab12:-");
    assert_string_equal(b, "ab12:-");
    assert_string_equal(c, "ab12:tiktok-draft");
    free(a);
    free(b);
    free(c);
}

/* The dump without the `queue` and `preview` blocks (and the other unhashed keys, and the
 * loudness keys while null): what the hash covers, i.e. the built-in profile as it was before the
 * queue section existed. If that hash changed, every `run` ledger would see its files as new and
 * deliver them again. */
static char *dump_without_queue(const tp_profile *p)
{
    char *dump = tp_profile_dump(p);
    assert_non_null(dump);
    char *out = calloc(1, strlen(dump) + 1);
    bool in_queue = false;
    for (char *line = strtok(dump, "\n"); line; line = strtok(NULL, "\n")) {
        /* preview: what `tokprep preview` draws, not what fit makes (unhashed too). */
        if (!strcmp(line, "queue:") || !strcmp(line, "preview:")) {
            in_queue = true;
            continue;
        }
        if (in_queue && line[0] == ' ')
            continue;
        in_queue = false;
        /* rules.loudness and fix.audio.loudness: hashed only when set (not null). */
        if (strstr(line, "shared_limits:") || strstr(line, "rate_window:") ||
            strstr(line, "on_failed:") || strstr(line, "    review:") ||
            strstr(line, "loudness: null"))
            continue;
        strcat(out, line);
        strcat(out, "\n");
    }
    free(dump);
    return out;
}

static void test_profile_keys(void **state)
{
    (void)state;
    tp_profile *a = NULL, *b = NULL;
    tp_error err = TP_ERROR_INIT;
    const char *sets[] = {"queue.max_attempts=5", "queue.reclaim_after=2.5", "queue.claim_lease=1"};
    assert_int_equal(tp_profile_open(&a, "tiktok", NULL, 0, &err), 0);
    assert_int_equal(a->queue.max_attempts, 3);
    assert_true(a->queue.reclaim_after == 60.0);
    assert_true(a->queue.claim_lease == 30.0);
    assert_int_equal(tp_profile_open(&b, "tiktok", sets, 3, &err), 0);
    assert_int_equal(b->queue.max_attempts, 5);
    assert_true(b->queue.reclaim_after == 2.5);
    assert_string_equal(a->hash, b->hash);
    char *canon = dump_without_queue(a);
    char *full = tp_profile_dump(a);
    assert_non_null(strstr(full, "queue:\n  max_attempts: 3"));
    free(full);
    char hex[65];
    tp_sha256_hex(canon, strlen(canon), hex);
    assert_string_equal(hex, a->hash);
    free(canon);
    /* Bounds are checked like every key. */
    tp_profile *bad = NULL;
    const char *zero[] = {"queue.max_attempts=0"};
    assert_true(tp_profile_open(&bad, "tiktok", zero, 1, &err) < 0);
    assert_null(bad);
    tp_profile_free(a);
    tp_profile_free(b);
    tp_error_clear(&err);
}

/* The upload URL at rest: opens with the same secret and job id only; any change is refused. */
static void test_seal(void **state)
{
    (void)state;
    const char *url = "https://open-upload.tiktokapis.com/upload/?upload_id=1&upload_token=abc";
    char *a = NULL, *b = NULL;
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(tp_rq_seal(&a, "secret-1", "fp:-", url, &err), 0);
    assert_int_equal(tp_rq_seal(&b, "secret-1", "fp:-", url, &err), 0);
    assert_non_null(a);
    assert_true(strncmp(a, "tpseal1:", 8) == 0);
    assert_null(strstr(a, "upload_token"));
    assert_string_not_equal(a, b); /* a fresh IV each time */
    char *plain = tp_rq_unseal("secret-1", "fp:-", a);
    assert_non_null(plain);
    assert_string_equal(plain, url);
    free(plain);
    assert_null(tp_rq_unseal("secret-2", "fp:-", a));
    assert_null(tp_rq_unseal("secret-1", "other:-", a));
    assert_null(tp_rq_unseal("secret-1", "fp:-", url));
    assert_null(tp_rq_unseal("secret-1", "fp:-", "tpseal1:zz"));
    assert_null(tp_rq_unseal("secret-1", "fp:-", "tpseal1:"));
    size_t n = strlen(a);
    for (size_t i = 8; i < n; i += 7) { /* every part: IV, ciphertext, tag */
        char saved = a[i];
        a[i] = saved == '0' ? '1' : '0';
        assert_null(tp_rq_unseal("secret-1", "fp:-", a));
        a[i] = saved;
    }
    a[n - 1] = '\0'; /* truncated */
    assert_null(tp_rq_unseal("secret-1", "fp:-", a));
    free(a);
    free(b);
    assert_int_equal(tp_rq_seal(&a, "s", "j", "", &err), 0);
    plain = tp_rq_unseal("s", "j", a);
    assert_non_null(plain);
    assert_string_equal(plain, "");
    free(plain);
    free(a);
    tp_error_clear(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_job_id),
        cmocka_unit_test(test_profile_keys),
        cmocka_unit_test(test_seal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
