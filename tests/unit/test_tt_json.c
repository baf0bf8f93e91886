/* TikTok client pieces that need no network: PKCE (hex), response parsers, Content-Range,
 * callback URLs, token file JSON, captions in UTF-16 units, rate window, daily cap, sniffing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "upload/auth.h"
#include "upload/http.h"
#include "upload/tiktok.h"
#include "upload/tt_json.h"
#include "util/tp_util.h"

static void test_pkce_hex(void **state)
{
    (void)state;
    char out[65];
    /* RFC 7636's example verifier; TikTok wants hex of the digest, not base64url
     * ("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"). */
    tp_tt_pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", out);
    assert_string_equal(out, "13d31e961a1ad8ec2f16b10c4c982e0876a878ad6df144566ee1894acb70f9c3");
    char v[129];
    assert_int_equal(tp_tt_random_string(v, 128, NULL), 0);
    assert_int_equal(strlen(v), 128);
    assert_int_equal(
        strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"), 128);
    char w[129];
    tp_tt_random_string(w, 128, NULL);
    assert_string_not_equal(v, w);
}

static void test_envelope(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        int rc;
        const char *code;
    } cases[] = {
        {"{\"data\":{\"publish_id\":\"p\"},\"error\":{\"code\":\"ok\",\"message\":\"\","
         "\"log_id\":\"2024\"}}",
         0, "ok"},
        {"{\"data\":{},\"error\":{\"code\":\"spam_risk_too_many_posts\",\"message\":\"cap\","
         "\"log_id\":\"L\"}}",
         TP_EHTTP, "spam_risk_too_many_posts"},
        {"{\"error\":{\"code\":\"ok\"}}", 0, "ok"},
        {"{\"data\":{}}", TP_EHTTP, ""},
        {"not json", TP_EHTTP, ""},
        {"[1,2]", TP_EHTTP, ""},
        {"{\"error\":{\"code\":5}}", TP_EHTTP, ""},
        {"", TP_EHTTP, ""},
    };
    for (size_t i = 0; i < TP_ARRAY_LEN(cases); i++) {
        cJSON *data = NULL;
        tp_tt_api_error api;
        int rc = tp_tt_parse_envelope(&data, &api, cases[i].body, strlen(cases[i].body));
        assert_int_equal(rc, cases[i].rc);
        assert_string_equal(api.code, cases[i].code);
        if (rc == 0)
            assert_true(cJSON_IsObject(data));
        else
            assert_null(data);
        cJSON_Delete(data);
    }
}

static void test_token_response(void **state)
{
    (void)state;
    tp_tt_token t = {0};
    tp_tt_api_error api;
    const char *ok = "{\"access_token\":\"act.1\",\"expires_in\":86400,\"open_id\":\"o\","
                     "\"refresh_expires_in\":31536000,\"refresh_token\":\"rft.1\","
                     "\"scope\":\"video.upload\",\"token_type\":\"Bearer\"}";
    assert_int_equal(tp_tt_parse_token_response(&t, &api, ok, strlen(ok), 1000), 0);
    assert_string_equal(t.access_token, "act.1");
    assert_string_equal(t.refresh_token, "rft.1");
    assert_int_equal(t.expires_at, 87400);
    assert_int_equal(t.refresh_expires_at, 1000 + 31536000);
    /* An error with HTTP 200: judged by the body; previous token left untouched. */
    const char *bad = "{\"error\":\"invalid_grant\",\"error_description\":\"Authorization code is "
                      "expired.\",\"log_id\":\"X\"}";
    assert_int_equal(tp_tt_parse_token_response(&t, &api, bad, strlen(bad), 1000), TP_EAUTH);
    assert_string_equal(api.code, "invalid_grant");
    assert_string_equal(api.message, "Authorization code is expired.");
    assert_string_equal(t.access_token, "act.1");
    const char *noref = "{\"access_token\":\"act.2\"}";
    assert_int_equal(tp_tt_parse_token_response(&t, &api, noref, strlen(noref), 0), TP_EAUTH);
    assert_int_equal(tp_tt_parse_token_response(&t, &api, "{", 1, 0), TP_EHTTP);

    /* Token file round trip. */
    char *s = tp_tt_token_serialize(&t);
    tp_tt_token u = {0};
    assert_int_equal(tp_tt_token_parse(&u, s, strlen(s), NULL), 0);
    assert_string_equal(u.refresh_token, "rft.1");
    assert_int_equal(u.refresh_expires_at, t.refresh_expires_at);
    free(s);
    tp_error err = TP_ERROR_INIT;
    const char *missing = "{\"access_token\":\"a\",\"open_id\":\"o\",\"scope\":\"s\","
                          "\"expires_at\":1,\"refresh_expires_at\":2}";
    assert_int_equal(tp_tt_token_parse(&u, missing, strlen(missing), &err), TP_EINVAL);
    assert_non_null(strstr(tp_error_message(&err), "refresh_token"));
    assert_null(strstr(tp_error_message(&err), "\"a\""));
    tp_tt_token_clear(&t);
    tp_tt_token_clear(&u);
    tp_error_clear(&err);
}

/* TikTok's text reaches messages on a terminal: no escape sequences, whichever field. */
static void test_remote_text_stripped(void **state)
{
    (void)state;
    tp_tt_token t = {0};
    tp_tt_api_error api;
    const char *bad = "{\"error\":\"invalid_grant\\u001b[2J\",\"error_description\":"
                      "\"\\u001b]0;pwned\\u0007 code\\u009b31m expired\\u007f.\","
                      "\"log_id\":\"X\\r\\nY\"}";
    assert_int_equal(tp_tt_parse_token_response(&t, &api, bad, strlen(bad), 1000), TP_EAUTH);
    assert_string_equal(api.code, "invalid_grant[2J");
    assert_string_equal(api.message, "]0;pwned code31m expired.");
    assert_string_equal(api.log_id, "X  Y");
    const char *env = "{\"data\":{},\"error\":{\"code\":\"spam\\u001b[1m\","
                      "\"message\":\"slow\\u0085 down\",\"log_id\":\"L\"}}";
    assert_int_equal(tp_tt_parse_envelope(NULL, &api, env, strlen(env)), TP_EHTTP);
    assert_string_equal(api.code, "spam[1m");
    assert_string_equal(api.message, "slow down");
    tp_tt_callback cb;
    assert_int_equal(tp_tt_parse_callback(&cb, "/cb/?error=x%1B%5B2J&error_description=a%C2%9Bb%"
                                               "07c%FFd&state=s%0D%0At"),
                     0);
    assert_string_equal(cb.error, "x[2J");
    assert_string_equal(cb.error_description, "ab"
                                              "c?d");
    assert_string_equal(cb.state, "s  t");
    tp_tt_token_clear(&t);
}

static cJSON *parse(const char *s)
{
    cJSON *j = cJSON_Parse(s);
    assert_non_null(j);
    return j;
}

static void test_payloads(void **state)
{
    (void)state;
    cJSON *j =
        parse("{\"creator_username\":\"u\",\"privacy_level_options\":[\"PUBLIC_TO_EVERYONE\","
              "\"SELF_ONLY\",3],\"comment_disabled\":true,\"max_video_post_duration_sec\":"
              "300}");
    tp_tt_creator_info ci;
    assert_int_equal(tp_tt_parse_creator_info(&ci, j), 0);
    assert_int_equal(ci.n_privacy, 2);
    assert_string_equal(ci.privacy_options[1], "SELF_ONLY");
    assert_true(ci.comment_disabled);
    assert_false(ci.duet_disabled);
    assert_int_equal(ci.max_duration, 300);
    cJSON_Delete(j);
    j = parse("{\"creator_username\":\"u\"}");
    assert_int_equal(tp_tt_parse_creator_info(&ci, j), TP_EHTTP);
    cJSON_Delete(j);
    /* The avatar whole or not at all; wrong types read as empty / off; empty options dropped. */
    j = parse("{\"creator_avatar_url\":\"https://p16.example/a.jpeg?x=1\",\"creator_nickname\":"
              "7,\"creator_username\":\"a\\u001b[2Jb\",\"privacy_level_options\":[\"\",\"SELF_ONLY\"],"
              "\"duet_disabled\":\"yes\",\"max_video_post_duration_sec\":\"600\"}");
    assert_int_equal(tp_tt_parse_creator_info(&ci, j), 0);
    assert_string_equal(ci.avatar_url, "https://p16.example/a.jpeg?x=1");
    assert_string_equal(ci.nickname, "");
    assert_string_equal(ci.username, "a[2Jb");
    assert_int_equal(ci.n_privacy, 1);
    assert_string_equal(ci.privacy_options[0], "SELF_ONLY");
    assert_false(ci.duet_disabled);
    assert_int_equal(ci.max_duration, -1);
    cJSON_Delete(j);
    char big[2100];
    memset(big, 'a', sizeof(big));
    static const char head[] = "{\"creator_avatar_url\":\"https://";
    memcpy(big, head, strlen(head));
    snprintf(big + 2000, sizeof(big) - 2000, "\",\"privacy_level_options\":[\"SELF_ONLY\"]}");
    j = parse(big);
    assert_non_null(j);
    assert_int_equal(tp_tt_parse_creator_info(&ci, j), 0);
    assert_string_equal(ci.avatar_url, ""); /* too long for the buffer: dropped, not cut */
    cJSON_Delete(j);
    j = parse("{\"creator_avatar_url\":\"https://x/\\u0007a\",\"privacy_level_options\":[]}");
    assert_int_equal(tp_tt_parse_creator_info(&ci, j), 0);
    assert_string_equal(ci.avatar_url, ""); /* a control character: dropped, not changed */
    cJSON_Delete(j);

    tp_tt_init_info ii;
    j = parse("{\"publish_id\":\"v_pub_file~v2-1.123\",\"upload_url\":\"https://u/?t=1\"}");
    assert_int_equal(tp_tt_parse_init(&ii, j), 0);
    assert_string_equal(ii.publish_id, "v_pub_file~v2-1.123");
    cJSON_Delete(j);
    j = parse("{\"publish_id\":\"p\"}");
    assert_int_equal(tp_tt_parse_init(&ii, j), TP_EHTTP);
    cJSON_Delete(j);

    tp_tt_status_info si;
    j = parse(
        "{\"status\":\"PUBLISH_COMPLETE\",\"publicaly_available_post_id\":[7300000000000000001],"
        "\"uploaded_bytes\":10}");
    assert_int_equal(tp_tt_parse_status(&si, j), 0);
    assert_string_equal(si.status, "PUBLISH_COMPLETE");
    assert_int_equal(si.n_post_ids, 1);
    assert_true(si.post_ids[0] > 7299999999999999000LL);
    assert_int_equal(si.uploaded_bytes, 10);
    cJSON_Delete(j);
    j = parse("{\"status\":\"FAILED\",\"fail_reason\":\"frame_rate_check_failed\"}");
    assert_int_equal(tp_tt_parse_status(&si, j), 0);
    assert_string_equal(si.fail_reason, "frame_rate_check_failed");
    assert_int_equal(si.uploaded_bytes, -1);
    cJSON_Delete(j);
    j = parse("{\"fail_reason\":\"x\"}");
    assert_int_equal(tp_tt_parse_status(&si, j), TP_EHTTP);
    cJSON_Delete(j);
}

static void test_content_range(void **state)
{
    (void)state;
    static const struct {
        const char *v;
        int rc;
        int64_t last, total;
    } cases[] = {
        {"bytes 0-1234/5000", 0, 1234, 5000},
        {"bytes 0-9999999/50000123", 0, 9999999, 50000123},
        {"bytes */5000", 0, -1, 5000},
        {"  bytes 0-0/1\r\n", 0, 0, 1},
        {"bytes 0-5000/5000", TP_EINVAL, 0, 0},
        {"bytes 10-5/50", TP_EINVAL, 0, 0},
        {"bytes 0-1/", TP_EINVAL, 0, 0},
        {"items 0-1/2", TP_EINVAL, 0, 0},
        {"bytes 0-99999999999999999999/1", TP_EINVAL, 0, 0},
        {"", TP_EINVAL, 0, 0},
    };
    for (size_t i = 0; i < TP_ARRAY_LEN(cases); i++) {
        int64_t last = 7, total = 7;
        assert_int_equal(tp_tt_parse_content_range(cases[i].v, &last, &total), cases[i].rc);
        if (cases[i].rc == 0) {
            assert_int_equal(last, cases[i].last);
            assert_int_equal(total, cases[i].total);
        }
    }
    assert_int_equal(tp_tt_parse_content_range(NULL, NULL, NULL), TP_EINVAL);
}

static void test_callback(void **state)
{
    (void)state;
    tp_tt_callback cb;
    assert_int_equal(tp_tt_parse_callback(&cb, "http://127.0.0.1:8723/callback/?code=c%2A1%211&"
                                               "scopes=user.info.basic%2Cvideo.upload&state=s.1"),
                     0);
    assert_string_equal(cb.code, "c*1!1");
    assert_string_equal(cb.scopes, "user.info.basic,video.upload");
    assert_string_equal(cb.state, "s.1");
    assert_int_equal(tp_tt_parse_callback(&cb, "/callback/?error=access_denied&"
                                               "error_description=The+user+denied&state=s"),
                     0);
    assert_string_equal(cb.error, "access_denied");
    assert_string_equal(cb.error_description, "The user denied");
    assert_int_equal(tp_tt_parse_callback(&cb, "code=a&state=b"), 0);
    assert_int_equal(tp_tt_parse_callback(&cb, "http://x/?state=b"), TP_EINVAL);
    assert_int_equal(tp_tt_parse_callback(&cb, "http://x/?code=%zz"), TP_EINVAL);
    assert_int_equal(tp_tt_parse_callback(&cb, "http://x/?code=%4"), TP_EINVAL);
    assert_int_equal(tp_tt_parse_callback(&cb, "http://x/?code=a%00b"), TP_EINVAL);
}

static void test_caption_units(void **state)
{
    (void)state;
    assert_int_equal(tp_tt_utf16_units(""), 0);
    assert_int_equal(tp_tt_utf16_units("abc"), 3);
    assert_int_equal(tp_tt_utf16_units("\xc3\xa9"), 1);         /* é */
    assert_int_equal(tp_tt_utf16_units("\xe2\x82\xac"), 1);     /* € */
    assert_int_equal(tp_tt_utf16_units("\xf0\x9f\x98\x80"), 2); /* 😀: a surrogate pair */
    assert_int_equal(tp_tt_utf16_units("\xc0\x80"), -1);        /* overlong */
    assert_int_equal(tp_tt_utf16_units("\xed\xa0\x80"), -1);    /* surrogate in UTF-8 */
    assert_int_equal(tp_tt_utf16_units("\xff"), -1);
    assert_int_equal(tp_tt_utf16_units("\xe2\x82"), -1); /* truncated */

    char *cap = NULL;
    assert_int_equal(tp_tt_caption(&cap, "/nonexistent/dir/My clip.final.mp4", "{stem} #x", NULL),
                     0);
    assert_string_equal(cap, "My clip.final #x");
    free(cap);
    assert_int_equal(tp_tt_caption(&cap, "noext", "{date}", NULL), 0);
    assert_int_equal(strlen(cap), 10);
    free(cap);
    char *lng = malloc(2202);
    memset(lng, 'a', 2201);
    lng[2201] = '\0';
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(tp_tt_caption(&cap, "/x/y.mp4", lng, &err), TP_EREJECT);
    assert_non_null(strstr(tp_error_message(&err), "2201 UTF-16 units"));
    lng[2200] = '\0';
    assert_int_equal(tp_tt_caption(&cap, "/x/y.mp4", lng, NULL), 0);
    free(cap);
    free(lng);
    tp_error_clear(&err);
}

static void test_rate_window(void **state)
{
    (void)state;
    tp_tt_rate r;
    tp_tt_rate_init(&r, 6, 60);
    for (int i = 0; i < 6; i++) {
        assert_true(tp_tt_rate_delay(&r, 100 + i) == 0);
        tp_tt_rate_note(&r, 100 + i);
    }
    /* 7th within the window waits until the first leaves it. */
    assert_true(tp_tt_rate_delay(&r, 110) > 49.9 && tp_tt_rate_delay(&r, 110) < 50.1);
    assert_true(tp_tt_rate_delay(&r, 160) == 0);
    tp_tt_rate_note(&r, 160);
    assert_true(tp_tt_rate_delay(&r, 160) > 0.9 && tp_tt_rate_delay(&r, 160) < 1.1); /* 101+60 */
}

static void test_daily(void **state)
{
    (void)state;
    int64_t now = 1000000;
    int64_t posts[] = {now - 90000, now - 80000, now - 100, now - 50, now - 10};
    assert_int_equal(tp_tt_daily_next(posts, 5, 5, now), 0);
    assert_int_equal(tp_tt_daily_next(posts, 5, 4, now), now - 80000 + 86400);
    assert_int_equal(tp_tt_daily_next(posts, 5, 0, now), 0);
    /* 4 within 24 h (the first is older), limit 3: allowed when the 2nd oldest recent one (now-100)
     * is 24 h old. */
    assert_int_equal(tp_tt_daily_next(posts, 5, 3, now), now - 100 + 86400);
    assert_int_equal(tp_tt_daily_next(posts, 5, 1, now), now - 10 + 86400);
    assert_int_equal(tp_tt_daily_next(NULL, 0, 1, now), 0);
}

static void test_sniff_and_explain(void **state)
{
    (void)state;
    const unsigned char mp4[] = "\0\0\0\x18"
                                "ftypisom\0\0\0\0";
    const unsigned char mov[] = "\0\0\0\x14"
                                "ftypqt  \0\0\0\0";
    const unsigned char webm[] = "\x1a\x45\xdf\xa3\0\0\0\0\0\0\0\0";
    const unsigned char junk[] = "hello world!";
    assert_string_equal(tp_tt_sniff_content_type(mp4, 12), "video/mp4");
    assert_string_equal(tp_tt_sniff_content_type(mov, 12), "video/quicktime");
    assert_string_equal(tp_tt_sniff_content_type(webm, 12), "video/webm");
    assert_null(tp_tt_sniff_content_type(junk, 12));
    assert_null(tp_tt_sniff_content_type(mp4, 3));
    int code = 0;
    assert_non_null(strstr(tp_tt_explain("duration_check_failed", &code), "re-fitting"));
    assert_int_equal(code, TP_EREJECT);
    tp_tt_explain("spam_risk_too_many_posts", &code);
    assert_int_equal(code, TP_ERATE);
    tp_tt_explain("spam_risk_something_new", &code);
    assert_int_equal(code, TP_ERATE);
    tp_tt_explain("access_token_invalid", &code);
    assert_int_equal(code, TP_EAUTH);
    assert_non_null(tp_tt_explain("never_heard_of_it", &code));
    assert_int_equal(code, TP_EHTTP);
}

static void test_resume_json(void **state)
{
    (void)state;
    tp_tiktok_resume rs = TP_TIKTOK_RESUME_INIT, back = TP_TIKTOK_RESUME_INIT;
    rs.publish_id = tp_strdup("v_pub_file~v2-1.9");
    rs.upload_url = tp_strdup("https://up.example/video/?upload_id=1&upload_token=t");
    rs.upload_url_expires_at = 1700000000.5;
    rs.next_chunk = 3;
    rs.chunk_count = 5;
    rs.chunk_size = 10000000;
    rs.total = 50000123;
    char *s = tp_tt_resume_serialize(&rs);
    assert_int_equal(tp_tt_resume_parse(&back, s, strlen(s), NULL), 0);
    assert_string_equal(back.publish_id, rs.publish_id);
    assert_string_equal(back.upload_url, rs.upload_url);
    assert_ptr_not_equal(back.publish_id, rs.publish_id); /* its own copies */
    assert_true(back.upload_url_expires_at == rs.upload_url_expires_at);
    assert_int_equal(back.next_chunk, 3);
    assert_int_equal(back.chunk_count, 5);
    assert_int_equal(back.chunk_size, 10000000);
    assert_int_equal(back.total, 50000123);
    /* Parsing again replaces the strings (the old ones are freed: the sanitizer build's leak
     * check), and a state without ids reads back as NULL, written as "". */
    assert_int_equal(tp_tt_resume_parse(&back, s, strlen(s), NULL), 0);
    free(s);
    tp_tiktok_resume_clear(&rs);
    assert_null(rs.publish_id);
    assert_null(rs.upload_url);
    assert_int_equal(rs.next_chunk, 0);
    s = tp_tt_resume_serialize(&rs);
    assert_non_null(strstr(s, "\"publish_id\":\"\""));
    assert_int_equal(tp_tt_resume_parse(&back, s, strlen(s), NULL), 0);
    assert_null(back.publish_id);
    assert_null(back.upload_url);
    free(s);
    tp_tiktok_resume_clear(&back);
    tp_tiktok_resume_clear(NULL);
    static const char *const bad[] = {
        "{}",
        "{\"publish_id\":\"p\",\"upload_url\":\"u\",\"upload_url_expires_at\":1,"
        "\"next_chunk\":6,\"chunk_count\":5,\"chunk_size\":1,\"total\":1}",
        "{\"publish_id\":\"p\",\"upload_url\":\"u\",\"upload_url_expires_at\":1,"
        "\"next_chunk\":-1,\"chunk_count\":5,\"chunk_size\":1,\"total\":1}",
        "[]",
        "nul",
    };
    for (size_t i = 0; i < TP_ARRAY_LEN(bad); i++)
        assert_int_equal(tp_tt_resume_parse(&back, bad[i], strlen(bad[i]), NULL), TP_EINVAL);
    /* Too long to be TikTok's: refused, not cut. */
    char *big = malloc(TP_TT_URL + 200);
    assert_non_null(big);
    int n = snprintf(big, TP_TT_URL + 200, "{\"publish_id\":\"p\",\"upload_url\":\"");
    memset(big + n, 'u', TP_TT_URL);
    snprintf(big + n + TP_TT_URL, 200,
             "\",\"upload_url_expires_at\":1,\"next_chunk\":0,\"chunk_count\":5,"
             "\"chunk_size\":1,\"total\":1}");
    assert_int_equal(tp_tt_resume_parse(&back, big, strlen(big), NULL), TP_EINVAL);
    assert_null(back.upload_url);
    free(big);
}

/* A result's strings are the caller's: cleared to TP_TIKTOK_RESULT_INIT. */
static void test_result_clear(void **state)
{
    (void)state;
    tp_tiktok_result r = TP_TIKTOK_RESULT_INIT;
    assert_null(r.publish_id);
    r.publish_id = tp_strdup("p");
    r.status = tp_strdup("FAILED");
    r.fail_reason = tp_strdup("spam_risk");
    r.api_code = tp_strdup("ok");
    r.log_id = tp_strdup("l");
    r.post_id = 7;
    tp_tiktok_result_clear(&r);
    assert_null(r.publish_id);
    assert_null(r.status);
    assert_null(r.log_id);
    assert_int_equal(r.post_id, 0);
    tp_tiktok_result_clear(&r);
    tp_tiktok_result_clear(NULL);
}

static void test_url_policy(void **state)
{
    (void)state;
    assert_true(tp_http_url_allowed("https://open.tiktokapis.com/v2/"));
    assert_true(tp_http_url_allowed("http://127.0.0.1:8080/x"));
    assert_true(tp_http_url_allowed("http://localhost/x"));
    assert_true(tp_http_url_allowed("http://[::1]:9/x"));
    assert_false(tp_http_url_allowed("http://open.tiktokapis.com/"));
    assert_false(tp_http_url_allowed("http://127.0.0.1.evil.com/"));
    assert_false(tp_http_url_allowed("ftp://127.0.0.1/"));
    assert_false(tp_http_url_allowed("file:///etc/passwd"));
    assert_false(tp_http_url_allowed(NULL));
    /* Upload URLs: the API's own origin, or https to its parent domain, nothing else. */
    const char *api = "https://open.tiktokapis.com";
    assert_true(tp_http_upload_url_allowed(api, "https://open-upload.tiktokapis.com/upload/?a=1"));
    assert_true(tp_http_upload_url_allowed(api, "https://open.tiktokapis.com/upload/"));
    assert_true(tp_http_upload_url_allowed(api, "https://OPEN-UPLOAD-I18N.tiktokapis.com/x"));
    assert_true(tp_http_upload_url_allowed(api, "https://tiktokapis.com/x"));
    assert_false(tp_http_upload_url_allowed(api, "https://evil.example/upload/"));
    assert_false(tp_http_upload_url_allowed(api, "https://tiktokapis.com.evil.example/"));
    assert_false(tp_http_upload_url_allowed(api, "https://eviltiktokapis.com/"));
    assert_false(tp_http_upload_url_allowed(api, "https://open.tiktokapis.com@evil.example/"));
    assert_false(tp_http_upload_url_allowed(api, "https://open-upload.tiktokapis.com:8443/"));
    assert_false(tp_http_upload_url_allowed(api, "http://open-upload.tiktokapis.com/"));
    assert_false(tp_http_upload_url_allowed(api, "http://127.0.0.1:9/x"));
    const char *fake = "http://127.0.0.1:8080";
    assert_true(tp_http_upload_url_allowed(fake, "http://127.0.0.1:8080/upload/?x=1"));
    assert_false(tp_http_upload_url_allowed(fake, "http://127.0.0.1:8081/upload/"));
    assert_false(tp_http_upload_url_allowed(fake, "http://localhost:8080/upload/"));
    assert_false(tp_http_upload_url_allowed(fake, "https://0.0.1/"));
    assert_false(tp_http_upload_url_allowed("http://127.0.0.1", "https://0.0.1:443/"));
    assert_false(tp_http_upload_url_allowed(api, NULL));
    assert_false(tp_http_upload_url_allowed(NULL, "https://open.tiktokapis.com/"));
    char *e = tp_http_form_escape("a b&c=d/é");
    assert_string_equal(e, "a%20b%26c%3Dd%2F%C3%A9");
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pkce_hex),       cmocka_unit_test(test_envelope),
        cmocka_unit_test(test_token_response), cmocka_unit_test(test_payloads),
        cmocka_unit_test(test_content_range),  cmocka_unit_test(test_callback),
        cmocka_unit_test(test_caption_units),  cmocka_unit_test(test_rate_window),
        cmocka_unit_test(test_daily),          cmocka_unit_test(test_sniff_and_explain),
        cmocka_unit_test(test_url_policy),     cmocka_unit_test(test_resume_json),
        cmocka_unit_test(test_result_clear),   cmocka_unit_test(test_remote_text_stripped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
