/* The settings of one direct post as a person chose them (upload.tiktok.review): the checks
 * TikTok applies to them before anything is sent. In the upload layer, which sends them. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tokprep.h"
#include "upload/tiktok.h"
#include "util/tp_util.h"

#define CAPTION_MAX_UNITS 2200

/* TikTok's four privacy levels (creator_info offers a subset of them per creator). */
static const char *const privacy_levels[] = {"PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS",
                                             "FOLLOWER_OF_CREATOR", "SELF_ONLY"};

int tp_post_settings_init(tp_post_settings *s, unsigned version)
{
    if (!s || version != TP_POST_SETTINGS_VERSION)
        return TP_EINVAL;
    *s = (tp_post_settings)TP_POST_SETTINGS_INIT;
    return 0;
}

int tp_post_settings_validate(const tp_post_settings *s, tp_error *err)
{
    if (!s)
        return tp_error_set(err, TP_EINVAL, 0, "no post settings");
    if (s->version != TP_POST_SETTINGS_VERSION)
        return tp_error_set(err, TP_EINVAL, 0, "post settings: unknown version %u", s->version);
    if (!s->privacy_level || !*s->privacy_level)
        return tp_error_set(err, TP_EINVAL, 0,
                            "choose who can see the post: a privacy level (PUBLIC_TO_EVERYONE, "
                            "MUTUAL_FOLLOW_FRIENDS, FOLLOWER_OF_CREATOR or SELF_ONLY)");
    bool known = false;
    for (size_t i = 0; i < TP_ARRAY_LEN(privacy_levels); i++)
        known = known || !strcmp(s->privacy_level, privacy_levels[i]);
    if (!known) {
        char *shown = tp_str_printable(s->privacy_level);
        int rc = tp_error_set(err, TP_EINVAL, 0,
                              "unknown privacy level '%.64s' (use PUBLIC_TO_EVERYONE, "
                              "MUTUAL_FOLLOW_FRIENDS, FOLLOWER_OF_CREATOR or SELF_ONLY)",
                              shown ? shown : "?");
        free(shown);
        return rc;
    }
    if (s->brand_content && !strcmp(s->privacy_level, "SELF_ONLY"))
        return tp_error_set(err, TP_EINVAL, 0,
                            "branded content visibility cannot be set to private (SELF_ONLY): "
                            "choose another privacy level or drop branded content");
    if (s->caption) {
        long units = tp_tt_utf16_units(s->caption);
        if (units < 0)
            return tp_error_set(err, TP_EINVAL, 0, "the caption is not valid UTF-8");
        if (units > CAPTION_MAX_UNITS)
            return tp_error_set(err, TP_EINVAL, 0,
                                "the caption is %ld UTF-16 units long; TikTok allows %d (shorten "
                                "it)",
                                units, CAPTION_MAX_UNITS);
    }
    return 0;
}
