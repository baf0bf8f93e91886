/* The pipeline coordinator through the public API only (<tokprep.h>): on tiny fixtures made
 * with the ffmpeg CLI, each discovered file ends with exactly one uploaded, skipped or final
 * failed event, after its discovered event; the summary comes last, once, and agrees with the
 * events and the returned counts; a re-run skips what is done; a cancel from the event callback
 * stops the run; a second pipeline on a held ledger is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <tokprep.h>

#define MAX_FILES 8

typedef struct {
    char path[512];
    int discovered, terminal, after_terminal;
    int uploaded, skipped, failed_final;
} file_log;

typedef struct {
    file_log files[MAX_FILES];
    int n_files;
    int summaries, after_summary, unknown_paths;
    tp_event summary;      /* counts only (its pointers are not kept) */
    tp_cancel *cancel; /* requested by the cancelling callback */
    int cancel_on_probed;
    int cancelled;
    int terminal_after_cancel;
} log_t;

static file_log *file_of(log_t *l, const char *path)
{
    for (int i = 0; i < l->n_files; i++)
        if (!strcmp(l->files[i].path, path))
            return &l->files[i];
    if (l->n_files == MAX_FILES)
        return NULL;
    file_log *f = &l->files[l->n_files++];
    snprintf(f->path, sizeof(f->path), "%s", path);
    return f;
}

static void on_event(const tp_event *ev, void *payload)
{
    log_t *l = payload;
    if (l->summaries)
        l->after_summary++;
    if (ev->kind == TP_EVENT_SUMMARY) {
        l->summaries++;
        l->summary = *ev;
        return;
    }
    if (!ev->path) {
        l->unknown_paths++;
        return;
    }
    file_log *f = file_of(l, ev->path);
    if (!f)
        return;
    if (f->terminal)
        f->after_terminal++;
    switch (ev->kind) {
    case TP_EVENT_DISCOVERED:
        f->discovered++;
        if (f->terminal) /* discovered after its end */
            f->after_terminal++;
        break;
    case TP_EVENT_PROBED:
        if (l->cancel_on_probed && !l->cancelled) {
            tp_cancel_request(l->cancel);
            l->cancelled = 1;
        }
        break;
    case TP_EVENT_UPLOADED:
        f->uploaded++;
        f->terminal++;
        break;
    case TP_EVENT_SKIPPED:
        f->skipped++;
        f->terminal++;
        break;
    case TP_EVENT_FAILED:
        if (ev->final_failure) {
            f->failed_final++;
            f->terminal++;
        }
        break;
    default: break;
    }
    if (l->cancelled && f->terminal && (ev->kind == TP_EVENT_UPLOADED))
        l->terminal_after_cancel++;
}

typedef struct {
    char dir[256], in[300], sink[300], work[300];
} fixture;

static int sh(const char *cmd)
{
    int rc = system(cmd);
    return rc == 0 ? 0 : -1;
}

/* in/: a vertical clip that passes, a landscape one to transcode, a file named .mp4 that is
 * not media. Small and short so that the fit takes well under a second. */
static int setup(void **state)
{
    if (sh("command -v ffmpeg >/dev/null 2>&1") != 0)
        return 0; /* the tests skip themselves */
    fixture *fx = calloc(1, sizeof(*fx));
    if (!fx)
        return -1;
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/tp_test_coordinator.XXXXXX");
    if (!mkdtemp(fx->dir)) {
        free(fx);
        return -1;
    }
    *state = fx; /* teardown removes the folder, whatever happens next */
    snprintf(fx->in, sizeof(fx->in), "%s/in", fx->dir);
    snprintf(fx->sink, sizeof(fx->sink), "%s/sink", fx->dir);
    snprintf(fx->work, sizeof(fx->work), "%s/work", fx->dir);
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "mkdir -p '%s' && cd '%s' && "
             "ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=180x320:rate=24:duration=1.5 "
             "-f lavfi -i sine=frequency=440:duration=1.5 -c:v libx264 -preset ultrafast "
             "-pix_fmt yuv420p -c:a aac -b:a 32k -shortest -movflags +faststart pass.mp4 && "
             "ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=320x180:rate=24:duration=1.5 "
             "-f lavfi -i sine=frequency=660:duration=1.5 -c:v libx264 -preset ultrafast "
             "-pix_fmt yuv420p -c:a aac -b:a 32k -shortest land.mp4 && "
             "head -c 20000 /dev/urandom > broken.mp4",
             fx->in, fx->in);
    return sh(cmd);
}

static int teardown(void **state)
{
    fixture *fx = *state;
    if (fx) {
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
        sh(cmd);
        free(fx);
    }
    return 0;
}

static tp_profile *profile_for(const fixture *fx)
{
    char sink_set[400];
    snprintf(sink_set, sizeof(sink_set), "upload.directory.path=%s", fx->sink);
    const char *sets[] = {"upload.sink=directory",
                          sink_set,
                          "fix.width=180",
                          "fix.height=320",
                          "fix.video.preset=ultrafast",
                          "rules.min_side=100",
                          "rules.duration=[1,600]",
                          "pipeline.fit_workers=1"};
    tp_profile *p = NULL;
    tp_error err = TP_ERROR_INIT;
    int rc = tp_profile_open(&p, "tiktok", sets, sizeof(sets) / sizeof(sets[0]), &err);
    if (rc < 0)
        fail_msg("profile: %s", tp_error_message(&err));
    tp_error_clear(&err);
    return p;
}

static int run_once(const fixture *fx, tp_profile *profile, log_t *l, tp_pipeline_summary *sum,
                    int force)
{
    tp_pipeline_options opts = TP_PIPELINE_OPTIONS_INIT;
    opts.workdir = fx->work;
    opts.on_event = on_event;
    opts.payload = l;
    opts.force = force;
    assert_int_equal(tp_cancel_new(&l->cancel), 0);
    opts.cancel = l->cancel;
    tp_pipeline *p = NULL;
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(tp_pipeline_new(&p, profile, &opts, &err), 0);
    const char *paths[] = {fx->in};
    int rc = tp_pipeline_run(p, paths, 1, sum, &err);
    tp_pipeline_free(p);
    tp_cancel_free(l->cancel);
    l->cancel = NULL;
    tp_error_clear(&err);
    return rc;
}

static void check_each_file_ends_once(const log_t *l, int n_expected)
{
    assert_int_equal(l->n_files, n_expected);
    assert_int_equal(l->unknown_paths, 0);
    for (int i = 0; i < l->n_files; i++) {
        const file_log *f = &l->files[i];
        if (f->discovered != 1 || f->terminal != 1 || f->after_terminal != 0)
            fail_msg("%s: discovered %d, ended %d times, %d events after its end", f->path,
                     f->discovered, f->terminal, f->after_terminal);
    }
    assert_int_equal(l->summaries, 1);
    assert_int_equal(l->after_summary, 0);
}

static void test_each_file_ends_once(void **state)
{
    fixture *fx = *state;
    if (!fx)
        skip();
    tp_profile *profile = profile_for(fx);
    log_t l = {0};
    tp_pipeline_summary sum;
    memset(&sum, 0xff, sizeof(sum));
    assert_int_equal(run_once(fx, profile, &l, &sum, 0), 0);
    check_each_file_ends_once(&l, 3);

    int uploaded = 0, skipped = 0, failed = 0;
    for (int i = 0; i < l.n_files; i++) {
        uploaded += l.files[i].uploaded;
        skipped += l.files[i].skipped;
        failed += l.files[i].failed_final;
        const char *base = strrchr(l.files[i].path, '/') + 1;
        if (!strcmp(base, "broken.mp4"))
            assert_int_equal(l.files[i].failed_final, 1);
        else
            assert_int_equal(l.files[i].uploaded, 1);
    }
    assert_int_equal(uploaded, 2);
    assert_int_equal(failed, 1);
    /* The summary event and the returned summary agree with the events. */
    assert_int_equal(l.summary.n_discovered, 3);
    assert_int_equal(l.summary.n_done, uploaded);
    assert_int_equal(l.summary.n_failed, failed);
    assert_int_equal(l.summary.n_skipped + l.summary.n_rejected, skipped);
    assert_int_equal(sum.discovered, 3);
    assert_int_equal(sum.done, uploaded);
    assert_int_equal(sum.failed, failed);
    assert_int_equal(sum.canceled, 0);
    char out[400];
    snprintf(out, sizeof(out), "%s/pass.mp4", fx->sink);
    assert_int_equal(access(out, R_OK), 0);
    snprintf(out, sizeof(out), "%s/land.mp4", fx->sink);
    assert_int_equal(access(out, R_OK), 0);

    /* Again on the same ledger: what was delivered is skipped, once each. */
    log_t again = {0};
    assert_int_equal(run_once(fx, profile, &again, &sum, 0), 0);
    check_each_file_ends_once(&again, 3);
    for (int i = 0; i < again.n_files; i++) {
        const char *base = strrchr(again.files[i].path, '/') + 1;
        if (strcmp(base, "broken.mp4") != 0)
            assert_int_equal(again.files[i].skipped, 1);
        assert_int_equal(again.files[i].uploaded, 0);
    }
    assert_int_equal(sum.done, 0);
    assert_true(sum.skipped >= 2);
    tp_profile_free(profile);
}

/* tp_cancel_request() on the pipeline's token from the event callback (on the coordinator's own thread): the run stops
 * with TP_ECANCELED, says so in its summary, and delivers nothing after the cancel. */
static void test_cancel_from_callback(void **state)
{
    fixture *fx = *state;
    if (!fx)
        skip();
    tp_profile *profile = profile_for(fx);
    log_t l = {.cancel_on_probed = 1};
    tp_pipeline_summary sum;
    memset(&sum, 0, sizeof(sum));
    /* force: the first test delivered these already. */
    int rc = run_once(fx, profile, &l, &sum, 1);
    assert_int_equal(l.cancelled, 1);
    assert_int_equal(rc, TP_ECANCELED);
    assert_int_equal(sum.canceled, 1);
    assert_int_equal(l.terminal_after_cancel, 0);
    for (int i = 0; i < l.n_files; i++)
        assert_true(l.files[i].terminal <= 1 && l.files[i].discovered <= 1);
    tp_profile_free(profile);
}

/* A ledger held by one pipeline cannot be opened by a second one. */
static void test_ledger_held(void **state)
{
    fixture *fx = *state;
    if (!fx)
        skip();
    tp_profile *profile = profile_for(fx);
    tp_pipeline_options opts = TP_PIPELINE_OPTIONS_INIT;
    opts.workdir = fx->work;
    tp_pipeline *a = NULL, *b = NULL;
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(tp_pipeline_new(&a, profile, &opts, &err), 0);
    assert_int_equal(tp_pipeline_new(&b, profile, &opts, &err), TP_ECONFLICT);
    assert_null(b);
    assert_non_null(strstr(tp_error_message(&err), "in use"));
    tp_pipeline_free(a);
    tp_error err2 = TP_ERROR_INIT;
    assert_int_equal(tp_pipeline_new(&b, profile, &opts, &err2), 0); /* released */
    tp_pipeline_free(b);
    tp_profile_free(profile);
    tp_error_clear(&err);
    tp_error_clear(&err2);
}

int main(void)
{
    tp_error err = TP_ERROR_INIT;
    if (tp_global_init(&err) < 0) {
        fprintf(stderr, "init: %s\n", tp_error_message(&err));
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_file_ends_once),
        cmocka_unit_test(test_cancel_from_callback),
        cmocka_unit_test(test_ledger_held),
    };
    tp_error_clear(&err);
    return cmocka_run_group_tests(tests, setup, teardown);
}
