/* creator_info for a person choosing a post's settings (the console's review page, `tokprep
 * review`): what TikTok says of the logged-in creator, as an immutable public object. Every
 * string came from TikTok and was cleaned by the parser (upload/tt_json.c). */
#include "tokprep.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "upload/tiktok.h"
#include "upload/tt_json.h"
#include "util/tp_util.h"

struct tp_creator_info {
    tp_tt_creator_info ci;
};

int tp_tiktok_creator_info(tp_creator_info **out, tp_tiktok *tt, tp_error *err)
{
    if (!out)
        return tp_error_set(err, TP_EINVAL, 0, "tp_tiktok_creator_info: missing argument");
    *out = NULL;
    if (!tt)
        return tp_error_set(err, TP_EINVAL, 0, "tp_tiktok_creator_info: missing argument");
    tp_creator_info *c = calloc(1, sizeof(*c));
    if (!c)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    int rc = tp_tt_creator_query(tt, &c->ci, err);
    if (rc < 0) {
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

const char *tp_creator_info_username(const tp_creator_info *ci)
{
    return ci ? ci->ci.username : "";
}

const char *tp_creator_info_nickname(const tp_creator_info *ci)
{
    return ci ? ci->ci.nickname : "";
}

const char *tp_creator_info_avatar_url(const tp_creator_info *ci)
{
    return ci ? ci->ci.avatar_url : "";
}

size_t tp_creator_info_privacy_count(const tp_creator_info *ci)
{
    return ci && ci->ci.n_privacy > 0 ? (size_t)ci->ci.n_privacy : 0;
}

const char *tp_creator_info_privacy(const tp_creator_info *ci, size_t i)
{
    return i < tp_creator_info_privacy_count(ci) ? ci->ci.privacy_options[i] : NULL;
}

int tp_creator_info_comment_disabled(const tp_creator_info *ci)
{
    return ci && ci->ci.comment_disabled;
}

int tp_creator_info_duet_disabled(const tp_creator_info *ci)
{
    return ci && ci->ci.duet_disabled;
}

int tp_creator_info_stitch_disabled(const tp_creator_info *ci)
{
    return ci && ci->ci.stitch_disabled;
}

int64_t tp_creator_info_max_duration(const tp_creator_info *ci)
{
    return ci && ci->ci.max_duration > 0 ? ci->ci.max_duration : 0;
}

char *tp_creator_info_to_json(const tp_creator_info *ci)
{
    if (!ci)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON *opts = o ? cJSON_CreateArray() : NULL;
    bool ok = opts != NULL;
    for (size_t i = 0; ok && i < tp_creator_info_privacy_count(ci); i++) {
        cJSON *s = cJSON_CreateString(ci->ci.privacy_options[i]);
        ok = s && cJSON_AddItemToArray(opts, s);
        if (!ok)
            cJSON_Delete(s);
    }
    ok = ok && cJSON_AddStringToObject(o, "username", ci->ci.username) &&
         cJSON_AddStringToObject(o, "nickname", ci->ci.nickname) &&
         cJSON_AddStringToObject(o, "avatar_url", ci->ci.avatar_url) &&
         cJSON_AddItemToObject(o, "privacy_level_options", opts);
    if (!ok)
        cJSON_Delete(opts);
    ok = ok && cJSON_AddBoolToObject(o, "comment_disabled", ci->ci.comment_disabled) &&
         cJSON_AddBoolToObject(o, "duet_disabled", ci->ci.duet_disabled) &&
         cJSON_AddBoolToObject(o, "stitch_disabled", ci->ci.stitch_disabled) &&
         cJSON_AddNumberToObject(o, "max_video_post_duration_sec",
                                 (double)tp_creator_info_max_duration(ci));
    char *s = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return s;
}

void tp_creator_info_free(tp_creator_info *ci)
{
    free(ci);
}
