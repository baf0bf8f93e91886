/* tp_ledger_files_read and friends: a ledger written with the real ledger API read back as the
 * console shows it (JSON shape, filters, no upload_url ever), and tp_ledger_file_check on the
 * recorded media judging as tp_check_file judges the file itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/jobrec.h"
#include "pipeline/ledger.h"
#include "probe/check.h"
#include "probe/rules.h"
#include "util/tp_util.h"

#define SECRET_URL "https://open-upload.example/upload/?upload_token=SECRET-UPLOAD-TOKEN-42"

typedef struct {
    char dir[256], db[300];
} fixture;

static int sh(const char *cmd)
{
    return system(cmd) == 0 ? 0 : -1;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/tp_files_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof(f->db), "%s/tokprep.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    sh(cmd);
    free(f);
    return 0;
}

static tp_profile *profile(void)
{
    tp_profile *p = NULL;
    tp_error err = TP_ERROR_INIT;
    if (tp_profile_open(&p, "tiktok", NULL, 0, &err) < 0)
        fail_msg("profile: %s", tp_error_message(&err));
    return p;
}

/* A landscape H.264 clip of 700 s: too long and the wrong shape for the tiktok profile. */
static void landscape_media(tp_media_info *m)
{
    memset(m, 0, sizeof(*m));
    strcpy(m->container, "mp4");
    strcpy(m->demuxer, "mov,mp4,m4a,3gp,3g2,mj2");
    m->size = 50000000;
    m->duration = 700.25;
    strcpy(m->duration_source, "header");
    m->bit_rate = 571000;
    m->faststart = false;
    m->n_video = m->n_audio = 1;
    m->video = (tp_video_info){.present = true,
                               .width = 1920,
                               .height = 1080,
                               .sar = {1, 1},
                               .display_width = 1920,
                               .display_height = 1080,
                               .fps = {30000, 1001},
                               .bit_depth = 8,
                               .frames = 20986};
    strcpy(m->video.codec, "h264");
    strcpy(m->video.profile, "High");
    strcpy(m->video.pix_fmt, "yuv420p");
    strcpy(m->video.chroma, "420");
    m->audio =
        (tp_audio_info){.present = true, .stream_index = 1, .channels = 2, .sample_rate = 48000};
    strcpy(m->audio.codec, "aac");
    strcpy(m->audio.layout, "stereo");
    m->audio.loudness = (tp_loudness){true, -23.04, 5.2, -3.1};
}

static void new_row(tp_ledger_row *row, int n, const char *path)
{
    memset(row, 0, sizeof(*row));
    row->last_chunk = -1;
    snprintf(row->fingerprint, sizeof(row->fingerprint), "%064d", n);
    memset(row->profile_hash, 'b', 64);
    row->sink = "tiktok:http://127.0.0.1:1";
    row->profile_name = "tiktok";
    row->source_path = (char *)path;
    row->source_size = 50000000;
}

/* Three rows: a fitted one being uploaded (upload_url set), one awaiting review, one queued
 * before probing. Returns the ids. */
static void write_ledger(const char *db, int64_t ids[3])
{
    tp_ledger *l = NULL;
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(tp_ledger_open(&l, db, true, &err), 0);
    tp_media_info m;
    landscape_media(&m);
    tp_profile *p = profile();
    tp_check_result check;
    tp_rules_check(&check, &m, p);
    assert_int_equal(check.verdict, TP_VERDICT_FIX);
    tp_profile_free(p);

    tp_job_outputs outs = {0};
    const char *paths[] = {"/work/out/a.part1.mp4", "/work/out/a.part2.mp4"};
    tp_media_info om[2];
    landscape_media(&om[0]);
    om[0].duration = 350.0;
    om[1] = om[0];
    assert_int_equal(tp_job_outputs_set(&outs, paths, om, 2), 0);
    for (int i = 0; i < 2; i++) {
        tp_job_output *o = &outs.v[i];
        tp_chunk_rules rules = {.size = 10000000,
                                .min = 5000000,
                                .max = 64000000,
                                .final_max = 128000000,
                                .max_count = 1000};
        assert_int_equal(tp_chunk_plan_make(&o->plan, 12000000, &rules, &err), 0);
        o->size = 12000000;
        o->chunked = true;
        memset(o->sha256, 'c' + i, 64);
        o->chunk_sha256 = calloc((size_t)o->plan.count, sizeof(*o->chunk_sha256));
        for (int c = 0; c < o->plan.count; c++)
            memset(o->chunk_sha256[c], 'd', 64);
    }

    tp_ledger_row row;
    new_row(&row, 1, "/in/<b>a</b>.mp4");
    assert_int_equal(tp_ledger_insert(l, &row, &err), 0);
    ids[0] = row.id;
    row.stage = TP_STAGE_DELIVER;
    row.status = TP_JOB_RUNNING;
    row.verdict = "fix";
    row.media = tp_jobrec_probe_to_json(&m, &check);
    row.outputs = tp_jobrec_outputs_to_json(&outs);
    row.publish_id = "v_pub_file~v2-1.777";
    row.upload_url = SECRET_URL;
    row.upload_url_expiry = 4e9;
    row.upload_part = 1;
    row.last_chunk = 0;
    row.posts = "[{\"publish_id\":\"v_pub_file~v2-1.776\",\"status\":\"PUBLISH_COMPLETE\","
                "\"still_processing\":false}]";
    assert_int_equal(tp_ledger_update(l, &row, &err), 0);
    assert_int_equal(
        tp_ledger_save_upload(l, row.id, row.publish_id, SECRET_URL, 4e9, 1, 0, NULL, &err), 0);
    free(row.media);
    char *outputs_text = row.outputs;

    new_row(&row, 2, "/in/b.mp4");
    assert_int_equal(tp_ledger_insert(l, &row, &err), 0);
    ids[1] = row.id;
    row.stage = TP_STAGE_DELIVER;
    row.status = TP_JOB_AWAITING_REVIEW;
    row.verdict = "fix";
    row.media = tp_jobrec_media_to_json(&m); /* a row from before the action was recorded */
    row.outputs = outputs_text;
    row.review = "{\"caption\":\"hello \\u00e9\"}";
    assert_int_equal(tp_ledger_update(l, &row, &err), 0);
    free(row.media);

    new_row(&row, 3, "/in/c\xff.mp4"); /* not UTF-8 */
    assert_int_equal(tp_ledger_insert(l, &row, &err), 0);
    ids[2] = row.id;

    free(outputs_text);
    tp_job_outputs_clear(&outs);
    tp_ledger_close(l);
}

static const cJSON *item(const cJSON *o, const char *k)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!j)
        fail_msg("no key %s", k);
    return j;
}

static void test_read_and_json(void **state)
{
    fixture *f = *state;
    int64_t ids[3];
    write_ledger(f->db, ids);
    tp_ledger_files *fs = NULL;
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(tp_ledger_files_read(&fs, f->db, NULL, &err), 0);
    assert_int_equal(tp_ledger_files_count(fs), 3);
    assert_null(tp_ledger_files_at(fs, 3));

    const tp_ledger_file *a = tp_ledger_files_at(fs, 0);
    assert_int_equal(a->id, ids[0]);
    assert_string_equal(a->path, "/in/<b>a</b>.mp4");
    assert_string_equal(a->status, "running");
    assert_string_equal(a->stage, "deliver");
    assert_string_equal(a->verdict, "fix");
    assert_string_equal(a->action, "transcode"); /* recorded with the media */
    assert_string_equal(a->profile, "tiktok");
    assert_int_equal(a->output_size, 24000000);
    assert_int_equal(a->source_size, 50000000);
    assert_true(a->created > 0 && a->updated >= a->created);
    assert_true(a->finished == 0);
    /* The second row's media has no action: derived from its outputs (re-encoded sizes equal
     * the source's here, so the codec/size/rate comparison says remux). */
    const tp_ledger_file *b = tp_ledger_files_at(fs, 1);
    assert_string_equal(b->status, "awaiting_review");
    assert_string_equal(b->action, "remux");
    const tp_ledger_file *c = tp_ledger_files_at(fs, 2);
    assert_string_equal(c->status, "queued");
    assert_string_equal(c->verdict, "");
    assert_string_equal(c->action, "");
    assert_string_equal(c->media, "");
    assert_string_equal(c->outputs, "");

    char *js = tp_ledger_file_to_json(a);
    assert_non_null(js);
    cJSON *o = cJSON_Parse(js);
    assert_non_null(o);
    static const char *const keys[] = {
        "id",      "path",        "status",      "stage",       "verdict", "action",  "sink",
        "profile", "fingerprint", "source_size", "output_size", "created", "updated", "finished",
        "error",   "reason",      "attempts",    "media",       "outputs", "posts",   "review"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        item(o, keys[i]);
    assert_int_equal((int64_t)item(o, "id")->valuedouble, ids[0]);
    assert_true(cJSON_IsNull(item(o, "finished")));
    assert_true(cJSON_IsNull(item(o, "review")));
    const char *created = cJSON_GetStringValue(item(o, "created"));
    assert_non_null(created);
    assert_int_equal(strlen(created), 24); /* 2026-11-26T01:02:03.456Z */
    assert_int_equal(created[strlen(created) - 1], 'Z');
    /* media as check --json shows it */
    const cJSON *media = item(o, "media");
    assert_string_equal(cJSON_GetStringValue(item(item(media, "video"), "fps_rational")),
                        "30000/1001");
    assert_string_equal(cJSON_GetStringValue(item(item(media, "video"), "sar")), "1:1");
    assert_true(cJSON_IsObject(item(media, "streams")));
    assert_null(cJSON_GetObjectItemCaseSensitive(media, "action"));
    /* outputs: path, size, sha256, duration, chunks */
    const cJSON *outs = item(o, "outputs");
    assert_int_equal(cJSON_GetArraySize(outs), 2);
    const cJSON *o1 = cJSON_GetArrayItem(outs, 1);
    assert_string_equal(cJSON_GetStringValue(item(o1, "path")), "/work/out/a.part2.mp4");
    assert_int_equal((int64_t)item(o1, "size")->valuedouble, 12000000);
    assert_int_equal(strlen(cJSON_GetStringValue(item(o1, "sha256"))), 64);
    assert_true(item(o1, "duration")->valuedouble == 350.0);
    const cJSON *chunks = item(o1, "chunks");
    assert_true(cJSON_GetArraySize(chunks) >= 1);
    item(cJSON_GetArrayItem(chunks, 0), "content_range");
    const cJSON *posts = item(o, "posts");
    assert_string_equal(cJSON_GetStringValue(item(cJSON_GetArrayItem(posts, 0), "status")),
                        "PUBLISH_COMPLETE");
    cJSON_Delete(o);
    /* The upload URL is a credential: in no field, under no name. */
    assert_null(strstr(js, "SECRET-UPLOAD-TOKEN"));
    assert_null(strstr(js, "upload_url"));
    free(js);

    js = tp_ledger_files_to_json(fs);
    assert_non_null(js);
    assert_null(strstr(js, "SECRET-UPLOAD-TOKEN"));
    assert_int_equal(strncmp(js, "{\"state\":", 9), 0);
    o = cJSON_Parse(js);
    assert_non_null(o); /* the \xff name came out as UTF-8 */
    assert_string_equal(cJSON_GetStringValue(item(o, "state")), f->db);
    const cJSON *files = item(o, "files");
    assert_int_equal(cJSON_GetArraySize(files), 3);
    const cJSON *rv = item(cJSON_GetArrayItem(files, 1), "review");
    assert_string_equal(cJSON_GetStringValue(item(rv, "caption")), "hello \xc3\xa9");
    assert_string_equal(cJSON_GetStringValue(item(cJSON_GetArrayItem(files, 2), "path")),
                        "/in/c\xef\xbf\xbd.mp4");
    cJSON_Delete(o);
    free(js);
    tp_ledger_files_free(fs);
}

static void test_filters(void **state)
{
    fixture *f = *state;
    int64_t ids[3];
    write_ledger(f->db, ids);
    tp_ledger_files *fs = NULL;
    tp_error err = TP_ERROR_INIT;
    tp_ledger_files_options opts;
    assert_int_equal(tp_ledger_files_options_init(&opts, TP_LEDGER_FILES_OPTIONS_VERSION), 0);
    assert_int_equal(tp_ledger_files_options_init(&opts, 99), TP_EINVAL);
    assert_int_equal(tp_ledger_files_options_init(&opts, TP_LEDGER_FILES_OPTIONS_VERSION), 0);
    opts.status = "awaiting_review";
    assert_int_equal(tp_ledger_files_read(&fs, f->db, &opts, &err), 0);
    assert_int_equal(tp_ledger_files_count(fs), 1);
    assert_int_equal(tp_ledger_files_at(fs, 0)->id, ids[1]);
    tp_ledger_files_free(fs);

    opts.status = "all";
    assert_int_equal(tp_ledger_files_read(&fs, f->db, &opts, &err), 0);
    assert_int_equal(tp_ledger_files_count(fs), 3);
    tp_ledger_files_free(fs);

    opts.status = NULL;
    opts.id = ids[2];
    assert_int_equal(tp_ledger_files_read(&fs, f->db, &opts, &err), 0);
    assert_int_equal(tp_ledger_files_count(fs), 1);
    assert_int_equal(tp_ledger_files_at(fs, 0)->id, ids[2]);
    tp_ledger_files_free(fs);

    opts.status = "done"; /* id and status both hold */
    assert_int_equal(tp_ledger_files_read(&fs, f->db, &opts, &err), 0);
    assert_int_equal(tp_ledger_files_count(fs), 0);
    tp_ledger_files_free(fs);

    opts.status = NULL;
    opts.id = 9999;
    assert_int_equal(tp_ledger_files_read(&fs, f->db, &opts, &err), 0);
    assert_int_equal(tp_ledger_files_count(fs), 0);
    tp_ledger_files_free(fs);

    opts.id = 0;
    opts.status = "nonsense";
    assert_int_equal(tp_ledger_files_read(&fs, f->db, &opts, &err), TP_EINVAL);
    assert_null(fs);
    tp_error_clear(&err);

    char missing[400];
    snprintf(missing, sizeof(missing), "%s/none.db", f->dir);
    assert_int_equal(tp_ledger_files_read(&fs, missing, NULL, &err), TP_EIO);
    assert_null(fs);
    assert_int_not_equal(access(missing, F_OK), 0); /* reading never creates a ledger */
    tp_error_clear(&err);
}

/* Same verdict, action, violations and reason as the rules on the media itself. */
static void assert_same(const tp_check *got, const tp_check *want)
{
    assert_int_equal(tp_check_verdict(got), tp_check_verdict(want));
    assert_int_equal(tp_check_action(got), tp_check_action(want));
    assert_string_equal(tp_check_reason(got), tp_check_reason(want));
    assert_int_equal(tp_check_violation_count(got), tp_check_violation_count(want));
    for (size_t i = 0; i < tp_check_violation_count(want); i++) {
        const char *c1, *c2, *m1, *m2;
        tp_severity s1, s2;
        assert_int_equal(tp_check_violation(got, i, &c1, &s1, &m1), 0);
        assert_int_equal(tp_check_violation(want, i, &c2, &s2, &m2), 0);
        assert_string_equal(c1, c2);
        assert_int_equal(s1, s2);
        assert_string_equal(m1, m2);
    }
}

static void test_check_recorded(void **state)
{
    fixture *f = *state;
    int64_t ids[3];
    write_ledger(f->db, ids);
    tp_ledger_files *fs = NULL;
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(tp_ledger_files_read(&fs, f->db, NULL, &err), 0);
    tp_profile *p = profile();
    tp_check *got = NULL;
    assert_int_equal(tp_ledger_file_check(&got, p, tp_ledger_files_at(fs, 0), &err), 0);
    tp_media_info m;
    landscape_media(&m);
    tp_check *want = NULL;
    assert_int_equal(tp_check_media_new(&want, p, "/in/<b>a</b>.mp4", &m, &err), 0);
    assert_true(tp_check_violation_count(want) >= 2);
    assert_same(got, want);
    assert_string_equal(tp_check_path(got), "/in/<b>a</b>.mp4");
    char *js = tp_check_json(got);
    assert_non_null(strstr(js, "\"code\":\"duration_too_long\""));
    free(js);
    tp_check_free(got);
    tp_check_free(want);
    /* Not probed yet: nothing to judge. */
    got = (tp_check *)1;
    assert_int_equal(tp_ledger_file_check(&got, p, tp_ledger_files_at(fs, 2), &err), TP_EINVAL);
    assert_null(got);
    tp_error_clear(&err);
    tp_profile_free(p);
    tp_ledger_files_free(fs);
}

static int count_recorded(const tp_ledger_row *row, void *payload)
{
    *(int *)payload += tp_jobrec_media_action(row->media) != NULL;
    return 0;
}

/* The real pipeline over real files (ffmpeg): the ledger's action and the check of the recorded
 * media agree with tp_check_file on each file. */
static void test_pipeline_files(void **state)
{
    fixture *f = *state;
    if (sh("command -v ffmpeg >/dev/null 2>&1") != 0)
        skip();
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "mkdir -p '%s/in' && cd '%s/in' && "
             "ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=180x320:rate=24:duration=1.5 "
             "-f lavfi -i sine=frequency=440:duration=1.5 -c:v libx264 -preset ultrafast "
             "-pix_fmt yuv420p -c:a aac -b:a 32k -shortest -movflags +faststart pass.mp4 && "
             "ffmpeg -nostdin -v error -y -i pass.mp4 -c copy remux.mp4 && "
             "ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=320x180:rate=24:duration=1.5 "
             "-f lavfi -i sine=frequency=660:duration=1.5 -c:v libx264 -preset ultrafast "
             "-pix_fmt yuv420p -c:a aac -b:a 32k -shortest land.mp4",
             f->dir, f->dir);
    assert_int_equal(sh(cmd), 0);
    char sink[400], work[400], in[400];
    snprintf(sink, sizeof(sink), "upload.directory.path=%s/sink", f->dir);
    snprintf(work, sizeof(work), "%s/work", f->dir);
    snprintf(in, sizeof(in), "%s/in", f->dir);
    const char *sets[] = {"upload.sink=directory",
                          sink,
                          "fix.width=180",
                          "fix.height=320",
                          "fix.video.preset=ultrafast",
                          "rules.min_side=100",
                          "rules.duration=[1,600]"};
    tp_profile *p = NULL;
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(tp_profile_open(&p, "tiktok", sets, sizeof(sets) / sizeof(sets[0]), &err), 0);
    tp_pipeline_options opts = TP_PIPELINE_OPTIONS_INIT;
    opts.workdir = work;
    tp_pipeline *pl = NULL;
    assert_int_equal(tp_pipeline_new(&pl, p, &opts, &err), 0);
    const char *paths[] = {in};
    tp_pipeline_summary sum = {.version = TP_PIPELINE_SUMMARY_VERSION};
    assert_int_equal(tp_pipeline_run(pl, paths, 1, &sum, &err), 0);
    tp_pipeline_free(pl);
    assert_int_equal(sum.done, 3);

    char db[400];
    snprintf(db, sizeof(db), "%s/tokprep.db", work);
    tp_ledger_files *fs = NULL;
    assert_int_equal(tp_ledger_files_read(&fs, db, NULL, &err), 0);
    assert_int_equal(tp_ledger_files_count(fs), 3);
    int seen = 0;
    for (size_t i = 0; i < tp_ledger_files_count(fs); i++) {
        const tp_ledger_file *lf = tp_ledger_files_at(fs, i);
        tp_check *want = NULL, *got = NULL;
        assert_int_equal(tp_check_file(&want, p, lf->path, NULL, &err), 0);
        assert_int_equal(tp_ledger_file_check(&got, p, lf, &err), 0);
        assert_same(got, want);
        assert_string_equal(lf->action, tp_action_name(tp_check_action(want)));
        assert_string_equal(lf->status, "done");
        assert_true(lf->output_size > 0);
        const char *base = strrchr(lf->path, '/') + 1;
        const char *expect = !strcmp(base, "pass.mp4")    ? "none"
                             : !strcmp(base, "remux.mp4") ? "remux"
                                                          : "transcode";
        if (strcmp(lf->action, expect))
            fail_msg("%s: action %s, expected %s", base, lf->action, expect);
        seen++;
        tp_check_free(want);
        tp_check_free(got);
    }
    assert_int_equal(seen, 3);
    tp_ledger_files_free(fs);
    tp_profile_free(p);
    /* The action came from the ledger's record (written at the probe), not a guess. */
    tp_ledger *l = NULL;
    assert_int_equal(tp_ledger_open(&l, db, false, &err), 0);
    int recorded = 0;
    assert_int_equal(tp_ledger_foreach(l, -1, count_recorded, &recorded, &err), 0);
    assert_int_equal(recorded, 3);
    tp_ledger_close(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_read_and_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_recorded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_files, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
