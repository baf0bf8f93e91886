/* Fuzz harness: every parser of TikTok responses and tokprep's own secret files (upload/tt_json.h).
 * The first byte picks the parser, the rest is the input, as it would arrive from the network. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "upload/tt_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    int which = data[0] % 6;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    char *z = malloc(len + 1); /* NUL-terminated copy for the string parsers */
    if (!z)
        return 0;
    memcpy(z, body, len);
    z[len] = '\0';
    tp_tt_api_error api;
    switch (which) {
    case 0: {
        cJSON *d = NULL;
        if (tp_tt_parse_envelope(&d, &api, body, len) == 0) {
            tp_tt_creator_info ci;
            tp_tt_init_info ii;
            tp_tt_status_info si;
            tp_tt_parse_creator_info(&ci, d);
            tp_tt_parse_init(&ii, d);
            tp_tt_parse_status(&si, d);
        }
        cJSON_Delete(d);
        break;
    }
    case 1: {
        tp_tt_token t = {0};
        tp_tt_parse_token_response(&t, &api, body, len, 1700000000);
        tp_tt_token_clear(&t);
        break;
    }
    case 2: {
        tp_tt_token t = {0};
        if (tp_tt_token_parse(&t, body, len, NULL) == 0)
            free(tp_tt_token_serialize(&t));
        tp_tt_token_clear(&t);
        break;
    }
    case 3: {
        tp_tiktok_resume r;
        if (tp_tt_resume_parse(&r, body, len, NULL) == 0)
            free(tp_tt_resume_serialize(&r));
        break;
    }
    case 4: {
        int64_t last, total;
        tp_tt_parse_content_range(z, &last, &total);
        break;
    }
    default: {
        tp_tt_callback cb;
        tp_tt_parse_callback(&cb, z);
        break;
    }
    }
    free(z);
    return 0;
}
