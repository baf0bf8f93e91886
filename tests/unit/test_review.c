/* Review before posting: tp_post_settings_validate (table), tp_review_approve/reject on a real
 * ledger held by a "run" (the exclusive lock), conflicts, concurrency, and what the deliver
 * step reads back (tp_review_approved_read). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/ledger.h"
#include "pipeline/review.h"
#include "util/tp_util.h"

/* ---- settings ------------------------------------------------------------------------------ */

static void test_settings_validate(void **state)
{
    (void)state;
    char long_ok[2201], long_bad[2202], emoji_ok[4 * 1100 + 1], emoji_bad[4 * 1101 + 1];
    memset(long_ok, 'a', 2200);
    long_ok[2200] = '\0';
    memset(long_bad, 'a', 2201);
    long_bad[2201] = '\0';
    /* U+1F44B is two UTF-16 units (a surrogate pair): 1,100 of them are 2,200 units. */
    for (int i = 0; i < 1101; i++)
        memcpy(emoji_bad + 4 * i, "\xF0\x9F\x91\x8B", 4);
    emoji_bad[4 * 1101] = '\0';
    memcpy(emoji_ok, emoji_bad, 4 * 1100);
    emoji_ok[4 * 1100] = '\0';
    static const struct {
        const char *privacy;
        int brand_content;
        int caption; /* index into captions */
        int rc;
        const char *says;
    } cases[] = {
        {"PUBLIC_TO_EVERYONE", 0, 0, 0, NULL},
        {"MUTUAL_FOLLOW_FRIENDS", 1, 0, 0, NULL},
        {"FOLLOWER_OF_CREATOR", 1, 1, 0, NULL},
        {"SELF_ONLY", 0, 2, 0, NULL},
        {"SELF_ONLY", 1, 0, TP_EINVAL, "cannot be set to private"},
        {NULL, 0, 0, TP_EINVAL, "privacy level"},
        {"", 0, 0, TP_EINVAL, "privacy level"},
        {"public", 0, 0, TP_EINVAL, "unknown privacy level"},
        {"PUBLIC_TO_EVERYONE", 0, 3, TP_EINVAL, "2201 UTF-16 units"},
        {"PUBLIC_TO_EVERYONE", 0, 4, 0, NULL},
        {"PUBLIC_TO_EVERYONE", 0, 5, TP_EINVAL, "2202 UTF-16 units"},
        {"PUBLIC_TO_EVERYONE", 0, 6, TP_EINVAL, "not valid UTF-8"},
        {"PUBLIC_TO_EVERYONE", 0, 7, TP_EINVAL, "not valid UTF-8"},
    };
    const char *captions[] = {
        NULL,       "h\xC3\xA9llo \xF0\x9F\x91\x8B", long_ok, long_bad, emoji_ok, emoji_bad,
        "bad \xC3", "\xED\xA0\x80 surrogate"};
    for (size_t i = 0; i < TP_ARRAY_LEN(cases); i++) {
        tp_post_settings s;
        assert_int_equal(tp_post_settings_init(&s, TP_POST_SETTINGS_VERSION), 0);
        s.privacy_level = cases[i].privacy;
        s.brand_content = cases[i].brand_content;
        s.caption = captions[cases[i].caption];
        tp_error err = TP_ERROR_INIT;
        int rc = tp_post_settings_validate(&s, &err);
        if (rc != cases[i].rc)
            fail_msg("case %zu: rc %d, want %d (%s)", i, rc, cases[i].rc, tp_error_message(&err));
        if (cases[i].says && !strstr(tp_error_message(&err), cases[i].says))
            fail_msg("case %zu: '%s' does not say '%s'", i, tp_error_message(&err), cases[i].says);
        tp_error_clear(&err);
    }
    tp_post_settings s;
    assert_int_equal(tp_post_settings_init(&s, 99), TP_EINVAL);
    assert_int_equal(tp_post_settings_init(NULL, TP_POST_SETTINGS_VERSION), TP_EINVAL);
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(tp_post_settings_validate(NULL, &err), TP_EINVAL);
    tp_error_clear(&err);
}

/* ---- a ledger held by a run ------------------------------------------------------------------ */

typedef struct {
    char dir[256];
    char db[300];
    tp_ledger *run; /* exclusive: the run's lock is held throughout */
    int64_t parked, queued;
} fixture;

static int64_t add_row(tp_ledger *l, const char *fp, tp_job_status status, const char *review)
{
    tp_ledger_row row = {0};
    tp_strlcpy(row.fingerprint, fp, sizeof(row.fingerprint));
    tp_strlcpy(row.profile_hash, "ph", sizeof(row.profile_hash));
    row.sink = tp_strdup("tiktok:http://127.0.0.1:1");
    row.profile_name = tp_strdup("tiktok");
    row.source_path = tp_strdup("/in/a.mp4");
    row.stage = TP_STAGE_DELIVER;
    row.status = TP_JOB_RUNNING;
    row.last_chunk = -1;
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(tp_ledger_insert(l, &row, &err), 0);
    row.status = status;
    row.review = review ? tp_strdup(review) : NULL;
    assert_int_equal(tp_ledger_update(l, &row, &err), 0);
    int64_t id = row.id;
    tp_ledger_row_clear(&row);
    return id;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/tp_review_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof(f->db), "%s/tokprep.db", f->dir);
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(tp_ledger_open(&f->run, f->db, true, &err), 0);
    f->parked = add_row(f->run, "aa", TP_JOB_AWAITING_REVIEW, "{\"caption\":\"proposed\"}");
    f->queued = add_row(f->run, "bb", TP_JOB_QUEUED, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tp_ledger_close(f->run);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void get(fixture *f, int64_t id, tp_ledger_row *row)
{
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(tp_ledger_get(f->run, row, id, &err), 1);
}

static void test_approve(void **state)
{
    fixture *f = *state;
    tp_post_settings s = TP_POST_SETTINGS_INIT;
    s.privacy_level = "FOLLOWER_OF_CREATOR";
    s.allow_stitch = 1;
    s.brand_content = 1;
    tp_error err = TP_ERROR_INIT;
    /* The run holds the lock (f->run is open exclusive): review writes beside it. */
    assert_int_equal(tp_review_approve(f->db, f->parked, &s, &err), 0);
    tp_ledger_row row;
    get(f, f->parked, &row);
    assert_int_equal(row.status, TP_JOB_QUEUED);
    assert_int_equal(row.stage, TP_STAGE_DELIVER);
    cJSON *o = cJSON_Parse(row.review);
    assert_non_null(o);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "approved")));
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "privacy_level")),
                        "FOLLOWER_OF_CREATOR");
    /* No caption given: the proposed one is recorded (what the person saw). */
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "caption")), "proposed");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "disable_comment")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "disable_duet")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(o, "disable_stitch")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(o, "brand_organic_toggle")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "brand_content_toggle")));
    assert_non_null(strchr(cJSON_GetStringValue(cJSON_GetObjectItem(o, "approved_at")), 'T'));
    assert_int_equal(cJSON_GetArraySize(o), 9);
    cJSON_Delete(o);

    /* What the deliver step reads back: the same settings. */
    tp_review_approved a;
    assert_int_equal(tp_review_approved_read(&a, row.review, &err), 1);
    assert_string_equal(a.s.privacy_level, "FOLLOWER_OF_CREATOR");
    assert_string_equal(a.s.caption, "proposed");
    assert_int_equal(a.s.allow_comment, 0);
    assert_int_equal(a.s.allow_duet, 0);
    assert_int_equal(a.s.allow_stitch, 1);
    assert_int_equal(a.s.brand_organic, 0);
    assert_int_equal(a.s.brand_content, 1);
    tp_review_approved_clear(&a);
    tp_ledger_row_clear(&row);

    /* Twice: a conflict, the approval kept. */
    s.privacy_level = "SELF_ONLY";
    s.brand_content = 0;
    assert_int_equal(tp_review_approve(f->db, f->parked, &s, &err), TP_ECONFLICT);
    assert_non_null(strstr(tp_error_message(&err), "queued, not awaiting review"));
    tp_error_clear(&err);
    get(f, f->parked, &row);
    assert_non_null(strstr(row.review, "FOLLOWER_OF_CREATOR"));
    tp_ledger_row_clear(&row);
    /* Never parked, no such id, bad settings. */
    assert_int_equal(tp_review_approve(f->db, f->queued, &s, &err), TP_ECONFLICT);
    tp_error_clear(&err);
    assert_int_equal(tp_review_approve(f->db, 999, &s, &err), TP_EINVAL);
    assert_non_null(strstr(tp_error_message(&err), "no file with id 999"));
    tp_error_clear(&err);
    s.privacy_level = NULL;
    assert_int_equal(tp_review_approve(f->db, f->parked, &s, &err), TP_EINVAL);
    tp_error_clear(&err);
}

static void test_reject(void **state)
{
    fixture *f = *state;
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(tp_review_reject(f->db, f->parked, "wrong cut", &err), 0);
    tp_ledger_row row;
    get(f, f->parked, &row);
    assert_int_equal(row.status, TP_JOB_REJECTED);
    assert_int_equal(row.stage, TP_STAGE_DONE);
    assert_string_equal(row.error, "rejected in review: wrong cut");
    assert_string_equal(row.error_code, tp_error_name(TP_EREJECT));
    assert_true(row.finished > 0);
    cJSON *o = cJSON_Parse(row.review);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "caption")), "proposed");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "rejected")));
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "reason")), "wrong cut");
    cJSON_Delete(o);
    /* Never read as an approval. */
    tp_review_approved a;
    assert_int_equal(tp_review_approved_read(&a, row.review, &err), 0);
    tp_ledger_row_clear(&row);
    assert_int_equal(tp_review_reject(f->db, f->parked, NULL, &err), TP_ECONFLICT);
    tp_error_clear(&err);
    tp_post_settings s = TP_POST_SETTINGS_INIT;
    s.privacy_level = "SELF_ONLY";
    assert_int_equal(tp_review_approve(f->db, f->parked, &s, &err), TP_ECONFLICT);
    tp_error_clear(&err);

    /* Without a reason. */
    int64_t id = add_row(f->run, "cc", TP_JOB_AWAITING_REVIEW, "{\"caption\":\"c\"}");
    assert_int_equal(tp_review_reject(f->db, id, NULL, &err), 0);
    get(f, id, &row);
    assert_string_equal(row.error, "rejected in review");
    tp_ledger_row_clear(&row);
}

/* A crash leaves parked and approved rows as they are: recovery only re-queues `running`. */
static void test_recovery_leaves_review(void **state)
{
    fixture *f = *state;
    tp_error err = TP_ERROR_INIT;
    int n = -1;
    assert_int_equal(tp_ledger_recover(f->run, &n, &err), 0);
    assert_int_equal(n, 0);
    tp_ledger_row row;
    get(f, f->parked, &row);
    assert_int_equal(row.status, TP_JOB_AWAITING_REVIEW);
    tp_ledger_row_clear(&row);
    assert_int_equal(tp_ledger_retry_failed(f->run, &n, &err), 0);
    get(f, f->parked, &row);
    assert_int_equal(row.status, TP_JOB_AWAITING_REVIEW);
    tp_ledger_row_clear(&row);
}

static void test_no_ledger(void **state)
{
    fixture *f = *state;
    char path[400];
    snprintf(path, sizeof(path), "%s/none/tokprep.db", f->dir);
    tp_post_settings s = TP_POST_SETTINGS_INIT;
    s.privacy_level = "SELF_ONLY";
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(tp_review_approve(path, 1, &s, &err), TP_EIO);
    tp_error_clear(&err);
    snprintf(path, sizeof(path), "%s/other.db", f->dir);
    assert_int_equal(tp_review_reject(path, 1, NULL, &err), TP_EIO);
    tp_error_clear(&err);
    assert_int_not_equal(access(path, F_OK), 0); /* never created */
    /* A symbolic link in its place is refused. */
    snprintf(path, sizeof(path), "%s/link.db", f->dir);
    assert_int_equal(symlink(f->db, path), 0);
    assert_int_equal(tp_review_reject(path, f->parked, NULL, &err), TP_ECONFIG);
    tp_error_clear(&err);
}

/* A proposal the uploader could not make (caption sidecar too long): approving needs one. */
static void test_no_proposed_caption(void **state)
{
    fixture *f = *state;
    char *json = tp_review_parked_json(NULL, "the caption is 3000 UTF-16 units long");
    int64_t id = add_row(f->run, "dd", TP_JOB_AWAITING_REVIEW, json);
    free(json);
    tp_post_settings s = TP_POST_SETTINGS_INIT;
    s.privacy_level = "SELF_ONLY";
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(tp_review_approve(f->db, id, &s, &err), TP_EINVAL);
    assert_non_null(strstr(tp_error_message(&err), "--caption"));
    tp_error_clear(&err);
    s.caption = "mine";
    assert_int_equal(tp_review_approve(f->db, id, &s, &err), 0);
}

typedef struct {
    const char *db;
    int64_t id;
    int rc;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    tp_post_settings s = TP_POST_SETTINGS_INIT;
    s.privacy_level = "SELF_ONLY";
    tp_error err = TP_ERROR_INIT;
    r->rc = tp_review_approve(r->db, r->id, &s, &err);
    tp_error_clear(&err);
    return NULL;
}

/* Two reviewers at once (the console and a terminal): exactly one approval wins. */
static void test_concurrent(void **state)
{
    fixture *f = *state;
    enum { N = 8 };
    for (int round = 0; round < 5; round++) {
        char fp[8];
        snprintf(fp, sizeof(fp), "r%d", round);
        int64_t id = add_row(f->run, fp, TP_JOB_AWAITING_REVIEW, "{\"caption\":\"x\"}");
        pthread_t t[N];
        racer r[N];
        for (int i = 0; i < N; i++) {
            r[i] = (racer){f->db, id, 1};
            assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
        }
        int won = 0;
        for (int i = 0; i < N; i++) {
            pthread_join(t[i], NULL);
            if (r[i].rc == 0)
                won++;
            else
                assert_int_equal(r[i].rc, TP_ECONFLICT);
        }
        assert_int_equal(won, 1);
    }
}

/* What the deliver step does with records it cannot trust. */
static void test_approved_read(void **state)
{
    (void)state;
    tp_review_approved a;
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(tp_review_approved_read(&a, NULL, &err), 0);
    assert_int_equal(tp_review_approved_read(&a, "{\"caption\":\"p\"}", &err), 0);
    assert_int_equal(tp_review_approved_read(&a, "not json", &err), TP_EINVAL);
    tp_error_clear(&err);
    /* Approved without its toggles: never read as "all allowed". */
    assert_int_equal(tp_review_approved_read(&a,
                                             "{\"approved\":true,\"privacy_level\":\"SELF_ONLY\","
                                             "\"caption\":\"c\"}",
                                             &err),
                     TP_EINVAL);
    tp_error_clear(&err);
    /* Approved with settings TikTok would refuse. */
    assert_int_equal(tp_review_approved_read(&a,
                                             "{\"approved\":true,\"privacy_level\":\"SELF_ONLY\","
                                             "\"caption\":\"c\",\"disable_comment\":true,"
                                             "\"disable_duet\":true,\"disable_stitch\":true,"
                                             "\"brand_content_toggle\":true}",
                                             &err),
                     TP_EINVAL);
    tp_error_clear(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_settings_validate),
        cmocka_unit_test_setup_teardown(test_approve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_leaves_review, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_ledger, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_proposed_caption, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
        cmocka_unit_test(test_approved_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
