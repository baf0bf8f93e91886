/* tp_probe_buffer against tp_probe_file: the same bytes give the same media info (the fuzz
 * harness must test the path files take), and the hostile-header refusals work from memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libavutil/log.h>

#include "probe/probe.h"
#include "util/tp_util.h"

static const char *const corpus[] = {"faststart.mp4",  "moov_last.mp4", "quicktime.mov",
                                     "matroska.mkv",   "webm.webm",     "mpegts.ts",
                                     "vfr_rotated.mp4"};

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void same_as_file(void **state)
{
    (void)state;
    for (size_t i = 0; i < TP_ARRAY_LEN(corpus); i++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/probe/%s", TP_SOURCE_DIR, corpus[i]);
        size_t len;
        unsigned char *b = slurp(path, &len);
        tp_media_info mf, mb;
        tp_error err = TP_ERROR_INIT;
        for (int deep = 0; deep < 2; deep++) {
            tp_probe_options opts = {.deep = deep};
            assert_int_equal(tp_probe_file(&mf, path, &opts, &err), 0);
            assert_int_equal(tp_probe_buffer(&mb, b, len, &opts, &err), 0);
            /* Plain data without pointers: bytewise equal when every field is. */
            if (memcmp(&mf, &mb, sizeof(mf)) != 0)
                fail_msg("%s (deep %d): buffer and file probes differ", corpus[i], deep);
        }
        /* Truncated copies fail the same way from both. */
        for (size_t cut = 1; cut < len; cut = cut * 3 + 7) {
            char tpath[] = "/tmp/tp-probe-buffer.XXXXXX";
            int fd = mkstemp(tpath);
            assert_true(fd >= 0);
            FILE *f = fdopen(fd, "wb");
            fwrite(b, 1, cut, f);
            fclose(f);
            tp_error ef = TP_ERROR_INIT, eb = TP_ERROR_INIT;
            int rf = tp_probe_file(&mf, tpath, NULL, &ef);
            int rb = tp_probe_buffer(&mb, b, cut, NULL, &eb);
            unlink(tpath);
            if (rf != rb || ef.raw != eb.raw)
                fail_msg("%s cut at %zu: file %d (%s), buffer %d (%s)", corpus[i], cut, rf,
                         tp_error_message(&ef), rb, tp_error_message(&eb));
            tp_error_clear(&ef);
            tp_error_clear(&eb);
        }
        tp_error_clear(&err);
        free(b);
    }
}

static void empty_and_garbage(void **state)
{
    (void)state;
    tp_media_info m;
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(tp_probe_buffer(&m, NULL, 0, NULL, &err), TP_EMEDIA);
    assert_non_null(strstr(tp_error_message(&err), "empty"));
    unsigned char junk[4096];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (unsigned char)(i * 2654435761u >> 13);
    assert_int_equal(tp_probe_buffer(&m, junk, sizeof(junk), NULL, &err), TP_EMEDIA);
    assert_non_null(strstr(tp_error_message(&err), "not media"));
    tp_error_clear(&err);
}

/* A Matroska file whose Tracks element lists n audio tracks and nothing else. */
static unsigned char *many_tracks_mkv(int n, size_t *len)
{
    static const unsigned char head[] = {
        0x1A, 0x45, 0xDF, 0xA3, 0x8F, 0x42, 0x82, 0x88, 'm',  'a',  't',  'r',
        'o',  's',  'k',  'a',  0x42, 0x87, 0x81, 0x04, /* EBML header, DocType matroska */
        0x18, 0x53, 0x80, 0x67, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, /* Segment, ? */
        0x16, 0x54, 0xAE, 0x6B, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, /* Tracks, ? */
    };
    const size_t entry = 2 + 6 + 3 + 7;
    unsigned char *b = malloc(sizeof(head) + (size_t)n * entry);
    assert_non_null(b);
    memcpy(b, head, sizeof(head));
    unsigned char *p = b + sizeof(head);
    for (int i = 1; i <= n; i++) {
        const unsigned char e[] = {0xAE,
                                   0x80 | 16,
                                   0xD7,
                                   0x84,
                                   0,
                                   0,
                                   (unsigned char)(i >> 8),
                                   (unsigned char)i,
                                   0x83,
                                   0x81,
                                   0x02,
                                   0x86,
                                   0x85,
                                   'A',
                                   '_',
                                   'A',
                                   'A',
                                   'C'};
        memcpy(p, e, sizeof(e));
        p += sizeof(e);
    }
    *len = (size_t)(p - b);
    return b;
}

static void too_many_tracks(void **state)
{
    (void)state;
    tp_limits lim = {.max_streams = 8, .probe_timeout = 10};
    tp_probe_options opts = {.limits = &lim};
    tp_media_info m;
    tp_error err = TP_ERROR_INIT;
    size_t len;
    unsigned char *b = many_tracks_mkv(9, &len);
    assert_int_equal(tp_probe_buffer(&m, b, len, &opts, &err), TP_EUNSUPPORTED);
    assert_non_null(strstr(tp_error_message(&err), "limits.max_streams"));
    free(b);
    /* At the limit the file opens (and fails later for want of any media data, or passes). */
    b = many_tracks_mkv(8, &len);
    int ret = tp_probe_buffer(&m, b, len, &opts, &err);
    assert_true(ret == 0 || ret == TP_EMEDIA);
    free(b);
    tp_error_clear(&err);
}

int main(void)
{
    av_log_set_level(AV_LOG_QUIET);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_as_file),
        cmocka_unit_test(empty_and_garbage),
        cmocka_unit_test(too_many_tracks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
