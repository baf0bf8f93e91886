/* Fuzz harness: every parser of what TikTok (or anyone answering in its place) sends back: the
 * data envelope and the payloads behind it (creator_info, init, status), the OAuth token answer,
 * Content-Range, the OAuth callback query, plus the token file and the resume state we read
 * back from disk. Parsed values are serialized and parsed again: a round trip must hold. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "upload/tt_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void payloads(const cJSON *d)
{
    tp_tt_creator_info ci;
    tp_tt_init_info ii;
    tp_tt_status_info si;
    tp_tt_parse_creator_info(&ci, d);
    tp_tt_parse_init(&ii, d);
    tp_tt_parse_status(&si, d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Bodies are not NUL-terminated on the wire: the parsers get (body, len); the string ones
     * (headers, callback URLs) get a terminated copy, as the HTTP layer gives them. */
    const char *body = (const char *)data;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    cJSON *d = NULL;
    tp_tt_api_error api;
    if (tp_tt_parse_envelope(&d, &api, body, size) == 0) {
        payloads(d);
        cJSON_Delete(d);
    }
    /* The payload parsers on any JSON at all, not only on what the envelope let through. */
    cJSON *any = cJSON_ParseWithLength(body, size);
    if (any) {
        payloads(any);
        cJSON *inner = cJSON_GetObjectItemCaseSensitive(any, "data");
        if (inner)
            payloads(inner);
        cJSON_Delete(any);
    }

    tp_tt_token tok = {0};
    if (tp_tt_parse_token_response(&tok, &api, body, size, 1700000000) == 0) {
        char *s = tp_tt_token_serialize(&tok);
        tp_tt_token back = {0};
        tp_error err = TP_ERROR_INIT;
        if (s && tp_tt_token_parse(&back, s, strlen(s), &err) != 0)
            abort(); /* what we write we must read */
        tp_error_clear(&err);
        tp_tt_token_clear(&back);
        free(s);
    }
    tp_tt_token_clear(&tok);
    tp_error err = TP_ERROR_INIT;
    if (tp_tt_token_parse(&tok, body, size, &err) == 0) {
        char *s = tp_tt_token_serialize(&tok);
        free(s);
    }
    tp_tt_token_clear(&tok);

    tp_tiktok_resume rs = TP_TIKTOK_RESUME_INIT;
    if (tp_tt_resume_parse(&rs, body, size, &err) == 0) {
        char *s = tp_tt_resume_serialize(&rs);
        tp_tiktok_resume back = TP_TIKTOK_RESUME_INIT;
        if (s && tp_tt_resume_parse(&back, s, strlen(s), &err) != 0)
            abort();
        if (s &&
            (strcmp(back.publish_id ? back.publish_id : "", rs.publish_id ? rs.publish_id : "") ||
             strcmp(back.upload_url ? back.upload_url : "", rs.upload_url ? rs.upload_url : "")))
            abort();
        free(s);
        tp_tiktok_resume_clear(&back);
    }
    tp_tiktok_resume_clear(&rs);

    int64_t last, total;
    tp_tt_parse_content_range(text, &last, &total);
    tp_tt_callback cb;
    tp_tt_parse_callback(&cb, text);
    char dec[256];
    tp_tt_url_decode(dec, sizeof(dec), text, size);
    free(text);
    tp_error_clear(&err);
    return 0;
}
