/* The v1 conventions of the public API: the cancellation token, versioned options (INIT,
 * _init(), unknown versions refused by the functions that take them) and the ledger status
 * object with its JSON serializer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/ledger.h"
#include "tokprep.h"
#include "util/tp_util.h"

/* ---- cancellation token ------------------------------------------------------------------ */

static tp_cancel *from_signal;

static void on_usr1(int sig)
{
    (void)sig;
    tp_cancel_request(from_signal);
}

static void test_cancel_token(void **state)
{
    (void)state;
    tp_cancel *c = NULL;
    assert_int_equal(tp_cancel_new(&c), 0);
    assert_non_null(c);
    assert_int_equal(tp_cancel_requested(c), 0);
    tp_cancel_request(c);
    assert_int_not_equal(tp_cancel_requested(c), 0);
    tp_cancel_request(c); /* idempotent */
    assert_int_not_equal(tp_cancel_requested(c), 0);
    tp_cancel_free(c);

    /* NULL reads as "not requested"; request and free accept NULL. */
    assert_int_equal(tp_cancel_requested(NULL), 0);
    tp_cancel_request(NULL);
    tp_cancel_free(NULL);
    assert_int_equal(tp_cancel_new(NULL), TP_EINVAL);

    /* Requested from a signal handler. */
    assert_int_equal(tp_cancel_new(&from_signal), 0);
    struct sigaction sa, old;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, &old);
    raise(SIGUSR1);
    sigaction(SIGUSR1, &old, NULL);
    assert_int_not_equal(tp_cancel_requested(from_signal), 0);
    tp_cancel_free(from_signal);
    from_signal = NULL;
}

/* An embedded token follows its parent (a pipeline follows the caller's token) but requesting
 * the child leaves the parent alone (a worker stops one job, not itself). */
static void test_cancel_parent(void **state)
{
    (void)state;
    tp_cancel *parent = NULL;
    assert_int_equal(tp_cancel_new(&parent), 0);
    tp_cancel child, other;
    tp_cancel_init(&child, parent);
    tp_cancel_init(&other, parent);
    tp_cancel_request(&child);
    assert_true(tp_cancel_requested(&child));
    assert_false(tp_cancel_requested(parent));
    assert_false(tp_cancel_requested(&other));
    tp_cancel_request(parent);
    assert_true(tp_cancel_requested(&other));
    tp_cancel_free(parent);
}

/* ---- versioned options ------------------------------------------------------------------- */

static void test_options_init(void **state)
{
    (void)state;
    tp_check_options co;
    memset(&co, 0xff, sizeof(co));
    assert_int_equal(tp_check_options_init(&co, TP_CHECK_OPTIONS_VERSION), 0);
    assert_int_equal(co.version, TP_CHECK_OPTIONS_VERSION);
    assert_int_equal(co.deep, 0);
    assert_null(co.cancel);
    assert_int_equal(tp_check_options_init(&co, TP_CHECK_OPTIONS_VERSION + 1), TP_EINVAL);
    assert_int_equal(tp_check_options_init(&co, 0), TP_EINVAL);
    assert_int_equal(tp_check_options_init(NULL, TP_CHECK_OPTIONS_VERSION), TP_EINVAL);

    tp_fit_options fo;
    memset(&fo, 0xff, sizeof(fo));
    assert_int_equal(tp_fit_options_init(&fo, TP_FIT_OPTIONS_VERSION), 0);
    assert_int_equal(fo.version, TP_FIT_OPTIONS_VERSION);
    assert_null(fo.progress);
    assert_null(fo.cancel);
    assert_int_equal(tp_fit_options_init(&fo, 7), TP_EINVAL);

    tp_preview_options pvo;
    memset(&pvo, 0xff, sizeof(pvo));
    assert_int_equal(tp_preview_options_init(&pvo, TP_PREVIEW_OPTIONS_VERSION), 0);
    assert_int_equal(pvo.version, TP_PREVIEW_OPTIONS_VERSION);
    assert_int_equal(pvo.frames, 0);
    assert_int_equal(pvo.tile_width, 0);
    assert_null(pvo.cancel);
    assert_int_equal(tp_preview_options_init(&pvo, 2), TP_EINVAL);
    /* A NULL result reads as empty; freeing it is a no-op. */
    assert_null(tp_preview_result_png(NULL));
    assert_int_equal(tp_preview_result_frame_count(NULL), 0);
    assert_true(tp_preview_result_frame_overlap(NULL, 0) < 0);
    assert_null(tp_preview_result_frame_region(NULL, 0));
    assert_int_equal(tp_preview_result_ui_overlap(NULL), 0);
    assert_null(tp_preview_result_to_json(NULL));
    tp_preview_result_free(NULL);

    /* Defaults that are not zero come from the INIT macro and _init() alike. */
    tp_tiktok_post_options po, pi = TP_TIKTOK_POST_OPTIONS_INIT;
    memset(&po, 0xff, sizeof(po));
    assert_int_equal(tp_tiktok_post_options_init(&po, TP_TIKTOK_POST_OPTIONS_VERSION), 0);
    assert_int_equal(po.version, TP_TIKTOK_POST_OPTIONS_VERSION);
    assert_true(po.duration < 0);
    assert_int_equal(po.wait_status, 1);
    assert_null(po.caption);
    assert_int_equal(pi.wait_status, 1);
    assert_true(pi.duration < 0);
    assert_int_equal(tp_tiktok_post_options_init(&po, 3), TP_EINVAL);

    tp_pipeline_options plo;
    memset(&plo, 0xff, sizeof(plo));
    assert_int_equal(tp_pipeline_options_init(&plo, TP_PIPELINE_OPTIONS_VERSION), 0);
    assert_int_equal(plo.version, 1);
    assert_null(plo.workdir);
    assert_null(plo.cancel);
    assert_int_equal(plo.follow_symlinks, 0);
    assert_int_equal(tp_pipeline_options_init(&plo, 2), TP_EINVAL);

    tp_rqueue_worker_options wo;
    memset(&wo, 0xff, sizeof(wo));
    assert_int_equal(tp_rqueue_worker_options_init(&wo, TP_RQUEUE_WORKER_OPTIONS_VERSION), 0);
    assert_int_equal(wo.version, TP_RQUEUE_WORKER_OPTIONS_VERSION);
    assert_null(wo.name);
    assert_int_equal(wo.n_roots, 0);
    assert_int_equal(tp_rqueue_worker_options_init(&wo, 0), TP_EINVAL);
}

/* A struct from a newer (or garbage) layout is refused with a message, never read. */
static void test_unknown_version_refused(void **state)
{
    (void)state;
    tp_error err = TP_ERROR_INIT;
    tp_profile *p = NULL;
    assert_int_equal(tp_profile_open(&p, "tiktok", NULL, 0, &err), 0);

    tp_check *check = NULL;
    tp_check_options co = TP_CHECK_OPTIONS_INIT;
    co.version = 2;
    assert_int_equal(tp_check_file(&check, p, "/nonexistent.mp4", &co, &err), TP_EINVAL);
    assert_null(check);
    assert_non_null(strstr(tp_error_message(&err), "version"));

    tp_fit_result *fr = (tp_fit_result *)&err; /* must be reset to NULL */
    tp_fit_options fo = TP_FIT_OPTIONS_INIT;
    fo.version = 2;
    tp_error_clear(&err);
    assert_int_equal(tp_fit_file(&fr, "/nonexistent.mp4", p, "/tmp", &fo, &err), TP_EINVAL);
    assert_null(fr);
    assert_non_null(strstr(tp_error_message(&err), "version"));

    tp_preview_result *pr = (tp_preview_result *)&err; /* must be reset to NULL */
    tp_preview_options pvo = TP_PREVIEW_OPTIONS_INIT;
    pvo.version = 2;
    tp_error_clear(&err);
    assert_int_equal(tp_preview_file(&pr, p, "/nonexistent.mp4", "/tmp", &pvo, &err), TP_EINVAL);
    assert_null(pr);
    assert_non_null(strstr(tp_error_message(&err), "version"));
    tp_error_clear(&err);

    /* The pipeline's version 2 of before v1 is not a version of v1. */
    char dir[] = "/tmp/tp_apiobj_XXXXXX";
    assert_non_null(mkdtemp(dir));
    tp_pipeline *pl = NULL;
    tp_pipeline_options plo = TP_PIPELINE_OPTIONS_INIT;
    plo.workdir = dir;
    plo.version = 2;
    tp_error_clear(&err);
    assert_int_equal(tp_pipeline_new(&pl, p, &plo, &err), TP_EINVAL);
    assert_null(pl);
    assert_non_null(strstr(tp_error_message(&err), "version"));
    rmdir(dir);

    tp_rqueue_worker_options wo = TP_RQUEUE_WORKER_OPTIONS_INIT;
    wo.version = 0;
    tp_rqueue_worker_summary sum;
    tp_error_clear(&err);
    assert_int_equal(tp_rqueue_worker_run(&sum, "redis://127.0.0.1:1/q", &wo, &err), TP_EINVAL);
    assert_non_null(strstr(tp_error_message(&err), "version"));
    assert_int_equal(sum.version, TP_RQUEUE_WORKER_SUMMARY_VERSION);

    tp_error_clear(&err);
    tp_profile_free(p);
    tp_error_clear(&err);
}

/* ---- ledger status ----------------------------------------------------------------------- */

static void add_row(tp_ledger *l, const char *fp, const char *path, tp_stage stage,
                    tp_job_status status, const char *code, const char *error, int attempts)
{
    tp_error err = TP_ERROR_INIT;
    tp_ledger_row row;
    memset(&row, 0, sizeof(row));
    row.last_chunk = -1;
    tp_strlcpy(row.fingerprint, fp, sizeof(row.fingerprint));
    tp_strlcpy(row.profile_hash, "ph", sizeof(row.profile_hash));
    row.sink = tp_strdup("none");
    row.profile_name = tp_strdup("tiktok");
    row.source_path = tp_strdup(path);
    row.source_size = 1;
    row.stage = stage;
    row.status = status;
    row.error_code = code ? tp_strdup(code) : NULL;
    row.error = error ? tp_strdup(error) : NULL;
    row.attempts = attempts;
    assert_int_equal(tp_ledger_insert(l, &row, &err), 0);
    assert_int_equal(tp_ledger_update(l, &row, &err), 0);
    tp_ledger_row_clear(&row);
}

static void test_ledger_status(void **state)
{
    (void)state;
    char dir[] = "/tmp/tp_apiobj_XXXXXX", db[64];
    assert_non_null(mkdtemp(dir));
    snprintf(db, sizeof(db), "%s/state.db", dir);
    tp_error err = TP_ERROR_INIT;
    tp_ledger *l = NULL;
    assert_int_equal(tp_ledger_open(&l, db, true, &err), 0);
    add_row(l, "f1", "/in/a.mp4", TP_STAGE_DONE, TP_JOB_DONE, NULL, NULL, 1);
    add_row(l, "f2", "/in/b.mp4", TP_STAGE_PROBE, TP_JOB_FAILED, "media", "b.mp4: not media", 3);
    add_row(l, "f3", "/in/c.mp4", TP_STAGE_FIT, TP_JOB_QUEUED, NULL, NULL, 0);
    add_row(l, "f4", "/in/d.mp4", TP_STAGE_DONE, TP_JOB_REJECTED, "reject", "too long", 1);
    add_row(l, "f5", "/in/e.mp4", TP_STAGE_DONE, TP_JOB_DONE, NULL, NULL, 1);
    tp_ledger_close(l);

    tp_ledger_status *st = NULL;
    assert_int_equal(tp_pipeline_status(&st, db, &err), 0);
    assert_string_equal(tp_ledger_status_state_path(st), db);
    assert_int_equal(tp_ledger_status_total(st), 5);
    /* Statuses in the order first met: done, failed, queued, rejected. */
    assert_int_equal(tp_ledger_status_status_count(st), 4);
    const char *name = NULL;
    size_t n = 0;
    assert_int_equal(tp_ledger_status_status(st, 0, &name, &n), 0);
    assert_string_equal(name, "done");
    assert_int_equal(n, 2);
    assert_int_equal(tp_ledger_status_status(st, 3, &name, &n), 0);
    assert_string_equal(name, "rejected");
    assert_int_equal(tp_ledger_status_status(st, 4, &name, &n), TP_EINVAL);
    assert_int_equal(tp_ledger_status_stage_count(st), 1);
    assert_int_equal(tp_ledger_status_stage(st, 0, &name, &n), 0);
    assert_string_equal(name, "fit");
    assert_int_equal(n, 1);

    assert_int_equal(tp_ledger_status_failed_count(st), 1);
    const tp_ledger_item *it = tp_ledger_status_failed(st, 0);
    assert_non_null(it);
    assert_string_equal(it->path, "/in/b.mp4");
    assert_string_equal(it->stage, "probe");
    assert_string_equal(it->error, "media");
    assert_string_equal(it->reason, "b.mp4: not media");
    assert_int_equal(it->attempts, 3);
    assert_string_equal(it->fingerprint, "f2");
    assert_null(tp_ledger_status_failed(st, 1));
    assert_int_equal(tp_ledger_status_rejected_count(st), 1);
    assert_string_equal(tp_ledger_status_rejected(st, 0)->reason, "too long");

    /* The serializer writes the document `tokprep status --json` always wrote. */
    char *json = tp_ledger_status_to_json(st);
    assert_non_null(json);
    cJSON *doc = cJSON_Parse(json);
    assert_non_null(doc);
    assert_string_equal(cJSON_GetArrayItem(doc, 0)->string, "state");
    assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(doc, "total")), 5);
    const cJSON *by = cJSON_GetObjectItem(doc, "by_status");
    assert_string_equal(cJSON_GetArrayItem(by, 0)->string, "done");
    assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(by, "done")), 2);
    assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(
                         cJSON_GetObjectItem(doc, "pending_by_stage"), "fit")),
                     1);
    const cJSON *f = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "failed"), 0);
    static const char *const keys[] = {"path",   "stage",    "error",
                                       "reason", "attempts", "fingerprint"};
    for (int k = 0; k < 6; k++)
        assert_string_equal(cJSON_GetArrayItem(f, k)->string, keys[k]);
    assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(f, "attempts")), 3);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "rejected")), 1);
    cJSON_Delete(doc);
    free(json);
    tp_ledger_status_free(st);
    tp_ledger_status_free(NULL);

    /* retry counts as size_t */
    size_t requeued = 99;
    assert_int_equal(tp_pipeline_retry(&requeued, db, &err), 0);
    assert_int_equal(requeued, 1);

    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    tp_error_clear(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cancel_token),
        cmocka_unit_test(test_cancel_parent),
        cmocka_unit_test(test_options_init),
        cmocka_unit_test(test_unknown_version_refused),
        cmocka_unit_test(test_ledger_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
