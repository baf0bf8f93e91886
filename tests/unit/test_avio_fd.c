/* probe/avio_fd.c: a demuxer locked down with tp_demux_lock opens nothing but its descriptor. An
 * HLS playlist naming a segment by absolute path plays with the file protocol allowed (the
 * control) and opens nothing when locked; two readers of one descriptor keep their own offsets;
 * tp_probe_fd reads what tp_probe_file reads and names the demuxer. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libavformat/avformat.h>

#include "probe/avio_fd.h"
#include "probe/probe.h"
#include "util/tp_util.h"

#define CORPUS TP_SOURCE_DIR "/tests/fuzz/corpus/probe/"

static char dir[] = "/tmp/tp_avio_fd_XXXXXX";

static int setup(void **state)
{
    (void)state;
    av_log_set_level(getenv("TP_AV_DEBUG") ? AV_LOG_DEBUG : AV_LOG_QUIET);
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Open the HLS playlist at path through fd AVIO; locked or with only the file protocol. */
static int open_hls(const char *path, bool locked, unsigned *n_streams)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    AVIOContext *pb = NULL;
    assert_int_equal(tp_avio_fd_new(&pb, fd, NULL), 0);
    AVFormatContext *ic = avformat_alloc_context();
    assert_non_null(ic);
    ic->pb = pb;
    AVDictionary *opts = NULL;
    const AVInputFormat *hls = av_find_input_format("hls");
    assert_non_null(hls);
    if (locked)
        tp_demux_lock(ic, &opts, hls->name);
    else
        av_dict_set(&opts, "protocol_whitelist", "file", 0);
    /* A real URL (HLS needs one to resolve its entries): only the lock keeps it closed. */
    int ret = avformat_open_input(&ic, path, hls, &opts);
    if (ret >= 0)
        ret = avformat_find_stream_info(ic, NULL);
    *n_streams = ic ? ic->nb_streams : 0;
    av_dict_free(&opts);
    avformat_close_input(&ic);
    tp_avio_fd_free(&pb);
    close(fd);
    return ret;
}

static void nested_open_refused(void **state)
{
    (void)state;
    char seg[256], list[256], cmd[600];
    snprintf(seg, sizeof(seg), "%s/segment.ts", dir);
    snprintf(list, sizeof(list), "%s/list.m3u8", dir);
    snprintf(cmd, sizeof(cmd), "cp '%smpegts.ts' '%s'", CORPUS, seg);
    assert_int_equal(system(cmd), 0);
    FILE *f = fopen(list, "w");
    assert_non_null(f);
    fprintf(f, "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:1.0,\n%s\n#EXT-X-ENDLIST\n", seg);
    fclose(f);
    unsigned n = 0;
    /* The control: with the file protocol the playlist reads the segment. */
    int ret = open_hls(list, false, &n);
    if (ret < 0 || n == 0)
        skip(); /* this FFmpeg cannot play the control: nothing to compare against */
    /* Locked: the segment is never opened, so no stream comes out of it. */
    ret = open_hls(list, true, &n);
    assert_true(ret < 0 || n == 0);
}

static void own_offsets(void **state)
{
    (void)state;
    int fd = open(CORPUS "faststart.mp4", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    AVIOContext *a = NULL, *b = NULL;
    assert_int_equal(tp_avio_fd_new(&a, fd, NULL), 0);
    assert_int_equal(tp_avio_fd_new(&b, fd, NULL), 0);
    unsigned char x[64], y[64], z[64];
    assert_int_equal(avio_read(a, x, 64), 64);
    assert_int_equal(avio_seek(b, 1000, SEEK_SET), 1000);
    assert_int_equal(avio_read(b, y, 64), 64);
    assert_int_equal(pread(fd, z, 64, 64), 64);
    assert_int_equal(avio_read(a, x, 64), 64); /* a goes on at 64, whatever b did */
    assert_memory_equal(x, z, 64);
    assert_int_equal(avio_size(a), lseek(fd, 0, SEEK_END));
    tp_avio_fd_free(&a);
    tp_avio_fd_free(&b);
    assert_null(a);
    close(fd);
}

static void probe_fd_matches_file(void **state)
{
    (void)state;
    tp_media_info mf, md;
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(tp_probe_file(&mf, CORPUS "matroska.mkv", NULL, &err), 0);
    int fd = open(CORPUS "matroska.mkv", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(tp_probe_fd(&md, fd, "x.mkv", NULL, &err), 0);
    close(fd);
    assert_string_equal(md.container, mf.container);
    assert_string_equal(md.demuxer, "matroska,webm");
    assert_int_equal(md.video.width, mf.video.width);
    assert_non_null(tp_demuxer_find(md.demuxer));
    assert_null(tp_demuxer_find("no-such-demuxer"));
    tp_error_clear(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nested_open_refused),
        cmocka_unit_test(own_offsets),
        cmocka_unit_test(probe_fd_matches_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
