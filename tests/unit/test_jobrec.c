/* The job record's one serializer (pipeline/jobrec.c): what the chunk stage and the probe
 * record comes back from the ledger's text unchanged, and a damaged chunk plan is refused
 * rather than handed to a sink. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/jobrec.h"
#include "util/tp_util.h"

static void sample_media(tp_media_info *m)
{
    memset(m, 0, sizeof(*m));
    tp_strlcpy(m->container, "mp4", sizeof(m->container));
    tp_strlcpy(m->demuxer, "mov,mp4,m4a,3gp,3g2,mj2", sizeof(m->demuxer));
    m->size = 123456789;
    m->duration = 61.25;
    tp_strlcpy(m->duration_source, "packets", sizeof(m->duration_source));
    m->start_time = 0.042;
    m->bit_rate = 8000000;
    m->faststart = true;
    m->n_video = 1;
    m->n_audio = 2;
    m->n_data = 1;
    m->video.present = true;
    tp_strlcpy(m->video.codec, "hevc", sizeof(m->video.codec));
    tp_strlcpy(m->video.profile, "Main 10", sizeof(m->video.profile));
    m->video.stream_index = 0;
    m->video.width = 3840;
    m->video.height = 2160;
    m->video.sar = (tp_rational){1, 1};
    m->video.display_width = 2160;
    m->video.display_height = 3840;
    m->video.rotation = 90;
    m->video.fps = (tp_rational){30000, 1001};
    m->video.vfr = true;
    tp_strlcpy(m->video.pix_fmt, "yuv420p10le", sizeof(m->video.pix_fmt));
    m->video.bit_depth = 10;
    tp_strlcpy(m->video.chroma, "420", sizeof(m->video.chroma));
    tp_strlcpy(m->video.hdr, "hlg", sizeof(m->video.hdr));
    m->video.frames = 1836;
    m->video.bars_scanned = true;
    m->video.active_area = (tp_rect){0, 276, 3840, 1608};
    m->audio.present = true;
    tp_strlcpy(m->audio.codec, "aac", sizeof(m->audio.codec));
    m->audio.stream_index = 1;
    m->audio.channels = 2;
    tp_strlcpy(m->audio.layout, "stereo", sizeof(m->audio.layout));
    m->audio.sample_rate = 48000;
}

static void assert_media_equal(const tp_media_info *a, const tp_media_info *b)
{
    char *ja = tp_jobrec_media_to_json(a), *jb = tp_jobrec_media_to_json(b);
    assert_non_null(ja);
    assert_non_null(jb);
    assert_string_equal(ja, jb);
    free(ja);
    free(jb);
    assert_string_equal(a->demuxer, b->demuxer);
    assert_int_equal(a->size, b->size);
    assert_true(a->duration == b->duration);
    assert_int_equal(a->video.rotation, b->video.rotation);
    assert_int_equal(a->video.fps.num, b->video.fps.num);
    assert_int_equal(a->video.fps.den, b->video.fps.den);
    assert_int_equal(a->video.active_area.y, b->video.active_area.y);
    assert_int_equal(a->video.active_area.height, b->video.active_area.height);
    assert_int_equal(a->video.bars_scanned, b->video.bars_scanned);
    assert_int_equal(a->n_audio, b->n_audio);
    assert_int_equal(a->audio.sample_rate, b->audio.sample_rate);
}

static void test_media_round_trip(void **state)
{
    (void)state;
    tp_media_info m, back;
    tp_error err = TP_ERROR_INIT;
    sample_media(&m);
    char *json = tp_jobrec_media_to_json(&m);
    assert_non_null(json);
    assert_int_equal(tp_jobrec_media_from_json(&back, json, &err), 0);
    assert_media_equal(&m, &back);
    free(json);
    /* Not what the serializer writes: refused, not half-read. */
    assert_int_equal(tp_jobrec_media_from_json(&back, "{\"container\":\"mp4\"}", &err), TP_EINVAL);
    assert_int_equal(tp_jobrec_media_from_json(&back, "not json", &err), TP_EINVAL);
    tp_error_clear(&err);
}

/* Two outputs: the first chunked (3 chunks) with media and a delivered path, the second not
 * yet chunked. */
static void make_outputs(tp_job_outputs *o, const tp_media_info *m)
{
    const char *paths[] = {"/w/out/7/clip_part1.mp4", "/w/out/7/clip_part2.mp4"};
    tp_media_info media[2] = {*m, *m};
    memset(o, 0, sizeof(*o));
    assert_int_equal(tp_job_outputs_set(o, paths, media, 2), 0);
    tp_job_output *a = &o->v[0];
    a->size = 25 * 1000 * 1000;
    a->plan.total = a->size;
    a->plan.chunk_size = 10 * 1000 * 1000;
    a->plan.count = 3;
    a->plan.chunks = calloc(3, sizeof(*a->plan.chunks));
    a->chunk_sha256 = calloc(3, sizeof(*a->chunk_sha256));
    assert_non_null(a->plan.chunks);
    assert_non_null(a->chunk_sha256);
    for (int c = 0; c < 3; c++) {
        a->plan.chunks[c].offset = (int64_t)c * 10 * 1000 * 1000;
        a->plan.chunks[c].length = c < 2 ? 10 * 1000 * 1000 : 5 * 1000 * 1000;
        for (int k = 0; k < 64; k++)
            a->chunk_sha256[c][k] = "0123456789abcdef"[(c * 7 + k) % 16];
        a->chunk_sha256[c][64] = '\0';
    }
    memset(a->sha256, 'e', 64);
    a->sha256[64] = '\0';
    a->chunked = true;
    a->delivered = tp_strdup("/sink/clip_part1.mp4");
    o->v[1].have_media = false;
}

static void test_outputs_round_trip(void **state)
{
    (void)state;
    tp_media_info m;
    tp_job_outputs o, back = {0};
    tp_error err = TP_ERROR_INIT;
    sample_media(&m);
    make_outputs(&o, &m);
    char *json = tp_jobrec_outputs_to_json(&o);
    assert_non_null(json);
    /* The ledger's format since version 1 (status and older tools read these keys). */
    assert_non_null(strstr(json, "\"chunk_count\":3"));
    assert_non_null(strstr(json, "\"content_range\":\"bytes 20000000-24999999/25000000\""));
    assert_int_equal(tp_jobrec_outputs_from_json(&back, json, &err), 0);
    assert_int_equal(back.n, 2);
    const tp_job_output *a = &back.v[0], *b = &back.v[1];
    assert_string_equal(a->path, "/w/out/7/clip_part1.mp4");
    assert_true(a->chunked);
    assert_int_equal(a->size, 25000000);
    assert_int_equal(a->plan.total, 25000000);
    assert_int_equal(a->plan.chunk_size, 10000000);
    assert_int_equal(a->plan.count, 3);
    for (int c = 0; c < 3; c++) {
        assert_int_equal(a->plan.chunks[c].offset, o.v[0].plan.chunks[c].offset);
        assert_int_equal(a->plan.chunks[c].length, o.v[0].plan.chunks[c].length);
        assert_string_equal(a->chunk_sha256[c], o.v[0].chunk_sha256[c]);
    }
    assert_string_equal(a->sha256, o.v[0].sha256);
    assert_string_equal(a->delivered, "/sink/clip_part1.mp4");
    assert_true(a->have_media);
    assert_media_equal(&a->media, &m);
    assert_string_equal(b->path, "/w/out/7/clip_part2.mp4");
    assert_false(b->chunked);
    assert_false(b->have_media);
    assert_null(b->delivered);
    /* Written again, the same text. */
    char *again = tp_jobrec_outputs_to_json(&back);
    assert_string_equal(json, again);
    free(again);
    free(json);
    /* A row from before media info (version 1) still reads. */
    assert_int_equal(tp_jobrec_outputs_from_json(&back, "[{\"path\":\"/src/a.mp4\"}]", &err), 0);
    assert_int_equal(back.n, 1);
    assert_false(back.v[0].chunked);
    tp_job_outputs_clear(&back);
    tp_job_outputs_clear(&o);
    tp_error_clear(&err);
}

/* A chunk plan that does not cover the file contiguously, or a chunk without a SHA-256, is
 * never handed to a sink: the row is damaged. */
static void test_outputs_damaged(void **state)
{
    (void)state;
    static const char *const bad[] = {
        /* gap between chunks */
        "[{\"path\":\"/a\",\"size\":20,\"sha256\":\"x\",\"chunk_size\":10,\"chunk_count\":2,"
        "\"chunks\":[{\"offset\":0,\"length\":10,\"sha256\":"
        "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"},{\"offset\":11,"
        "\"length\":9,\"sha256\":"
        "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}]}]",
        /* short of the size */
        "[{\"path\":\"/a\",\"size\":30,\"sha256\":\"x\",\"chunk_size\":10,\"chunk_count\":1,"
        "\"chunks\":[{\"offset\":0,\"length\":10,\"sha256\":"
        "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}]}]",
        /* no SHA-256 */
        "[{\"path\":\"/a\",\"size\":10,\"sha256\":\"x\",\"chunk_size\":10,\"chunk_count\":1,"
        "\"chunks\":[{\"offset\":0,\"length\":10}]}]",
        /* count disagrees with the list */
        "[{\"path\":\"/a\",\"size\":10,\"sha256\":\"x\",\"chunk_size\":10,\"chunk_count\":2,"
        "\"chunks\":[{\"offset\":0,\"length\":10,\"sha256\":"
        "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}]}]",
        "[]",
        "[{\"size\":1}]",
        "{}",
    };
    for (size_t i = 0; i < TP_ARRAY_LEN(bad); i++) {
        tp_job_outputs o = {0};
        tp_error err = TP_ERROR_INIT;
        assert_int_equal(tp_jobrec_outputs_from_json(&o, bad[i], &err), TP_EINVAL);
        assert_int_equal(o.n, 0);
        assert_non_null(strstr(tp_error_message(&err), "damaged"));
        tp_error_clear(&err);
    }
}

static void test_posts_round_trip(void **state)
{
    (void)state;
    tp_job_posts p = {0}, back = {0};
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(tp_job_posts_add(&p, "v_pub_1", "PUBLISH_COMPLETE", false, 7312345678901LL),
                     0);
    assert_int_equal(tp_job_posts_add(&p, "v_pub_2", "PROCESSING_UPLOAD", true, 0), 0);
    char *json = tp_jobrec_posts_to_json(&p);
    assert_non_null(json);
    assert_int_equal(tp_jobrec_posts_from_json(&back, json, &err), 0);
    assert_int_equal(back.n, 2);
    assert_string_equal(back.v[0].publish_id, "v_pub_1");
    assert_string_equal(back.v[0].status, "PUBLISH_COMPLETE");
    assert_true(back.v[0].post_id == 7312345678901LL);
    assert_false(back.v[0].still_processing);
    assert_string_equal(back.v[1].publish_id, "v_pub_2");
    assert_true(back.v[1].still_processing);
    free(json);
    /* No posts yet; a damaged list is an error (treating it as empty could post again). */
    assert_int_equal(tp_jobrec_posts_from_json(&back, NULL, &err), 0);
    assert_int_equal(back.n, 0);
    assert_int_equal(tp_jobrec_posts_from_json(&back, "{\"publish_id\":1}", &err), TP_EINVAL);
    tp_job_posts_clear(&back);
    tp_job_posts_clear(&p);
    tp_error_clear(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_media_round_trip),
        cmocka_unit_test(test_outputs_round_trip),
        cmocka_unit_test(test_outputs_damaged),
        cmocka_unit_test(test_posts_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
