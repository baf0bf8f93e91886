/* pipeline/scan (ordering, hidden files, content sniffing, missing paths) and probe/report
 * (JSON field names and nulls). No media is needed: text files are "not media" by content. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "pipeline/scan.h"
#include "probe/report.h"
#include "util/tp_util.h"

static void write_file(const char *dir, const char *name, const char *text)
{
    char *p = tp_asprintf("%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(p);
}

static void test_scan(void **state)
{
    (void)state;
    char dir[] = "/tmp/tp_scan_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *sub = tp_asprintf("%s/sub", dir);
    mkdir(sub, 0755);
    write_file(dir, "notes.mp4", "not a video at all\n"); /* media name, text content */
    write_file(dir, "page.mov", "<!DOCTYPE html><html><body>404</body></html>\n");
    write_file(dir, ".hidden", "x");
    write_file(dir, "dl.mp4.part", "partial");
    write_file(sub, "b.txt", "text"); /* skipped and counted: not media by name or content */
    char *explicit_text = tp_asprintf("%s/notes.mp4", dir);
    char *missing = tp_asprintf("%s/missing.mov", dir);
    const char *paths[] = {explicit_text, dir, missing};
    tp_scan_list l = TP_SCAN_LIST_INIT;
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(tp_scan_paths(&l, paths, 3, NULL, &err), 0);
    /* The explicit file is listed whatever it holds; in the folder, files named like video
     * whose content is not are errors (never skipped silently), in byte order; the missing
     * path is an error entry, in input order. */
    assert_int_equal(l.n, 4);
    assert_string_equal(l.items[0].path, explicit_text);
    assert_int_equal(l.items[0].error, 0);
    assert_false(l.items[0].from_dir);
    assert_true(l.items[1].from_dir && l.items[1].not_media);
    assert_int_equal(l.items[1].error, TP_EMEDIA);
    assert_non_null(strstr(l.items[1].message, "notes.mp4: not media: looks like text"));
    assert_true(l.items[2].not_media);
    assert_non_null(strstr(l.items[2].message, "page.mov: not media: looks like HTML"));
    assert_string_equal(l.items[3].path, missing);
    assert_int_equal(l.items[3].error, TP_EIO);
    assert_non_null(strstr(l.items[3].message, "no such file"));
    assert_int_equal(l.n_non_media, 1);
    assert_int_equal(l.n_symlinks, 0);
    tp_scan_list_free(&l);
    assert_int_equal(l.n, 0);
    tp_scan_list_free(NULL);

    char *cmd = tp_asprintf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(sub);
    free(explicit_text);
    free(missing);
    tp_error_clear(&err);
}

static void test_report(void **state)
{
    (void)state;
    tp_media_info m;
    memset(&m, 0, sizeof(m));
    strcpy(m.container, "mp4");
    m.duration = -1;
    m.size = 1234;
    m.video.present = true;
    strcpy(m.video.codec, "h264");
    m.video.sar = (tp_rational){4, 3};
    m.video.fps = (tp_rational){30000, 1001};
    m.n_video = 1;
    cJSON *o = tp_media_to_json(&m);
    assert_non_null(o);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "duration")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "audio")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "decode_errors")));
    cJSON *v = cJSON_GetObjectItem(o, "video");
    assert_string_equal(cJSON_GetObjectItem(v, "sar")->valuestring, "4:3");
    assert_string_equal(cJSON_GetObjectItem(v, "fps_rational")->valuestring, "30000/1001");
    assert_true(cJSON_GetObjectItem(v, "fps")->valuedouble == 29.97);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(v, "hdr")));
    const char *keys[] = {"codec",    "width", "height",  "display_width", "display_height",
                          "rotation", "vfr",   "pix_fmt", "bit_depth",     "interlaced"};
    for (size_t i = 0; i < TP_ARRAY_LEN(keys); i++)
        assert_non_null(cJSON_GetObjectItem(v, keys[i]));
    cJSON_Delete(o);

    tp_check_result r;
    tp_rules_error(&r, "not_media", "not media");
    o = tp_check_to_json("x.mp4", &r, NULL, "x.mp4: not media");
    assert_non_null(o);
    assert_string_equal(cJSON_GetObjectItem(o, "verdict")->valuestring, "error");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "action")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "media")));
    assert_string_equal(cJSON_GetObjectItem(o, "error")->valuestring, "x.mp4: not media");
    cJSON *viol = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "violations"), 0);
    assert_string_equal(cJSON_GetObjectItem(viol, "code")->valuestring, "not_media");
    assert_string_equal(cJSON_GetObjectItem(viol, "severity")->valuestring, "error");
    assert_string_equal(cJSON_GetObjectItem(viol, "hint")->valuestring,
                        tp_violation_hint("not_media"));
    cJSON_Delete(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan),
        cmocka_unit_test(test_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
