/* creator_info for a person choosing a post's settings. STUB: the `files` branch implements it. */
#include "tokprep.h"

int tp_tiktok_creator_info(tp_creator_info **out, tp_tiktok *tt, tp_error *err)
{
    (void)tt;
    *out = NULL;
    return tp_error_set(err, TP_EUNSUPPORTED, 0, "not implemented yet");
}

const char *tp_creator_info_username(const tp_creator_info *ci) { (void)ci; return ""; }
const char *tp_creator_info_nickname(const tp_creator_info *ci) { (void)ci; return ""; }
const char *tp_creator_info_avatar_url(const tp_creator_info *ci) { (void)ci; return ""; }
size_t tp_creator_info_privacy_count(const tp_creator_info *ci) { (void)ci; return 0; }
const char *tp_creator_info_privacy(const tp_creator_info *ci, size_t i) { (void)ci, (void)i; return NULL; }
int tp_creator_info_comment_disabled(const tp_creator_info *ci) { (void)ci; return 0; }
int tp_creator_info_duet_disabled(const tp_creator_info *ci) { (void)ci; return 0; }
int tp_creator_info_stitch_disabled(const tp_creator_info *ci) { (void)ci; return 0; }
int64_t tp_creator_info_max_duration(const tp_creator_info *ci) { (void)ci; return 0; }
char *tp_creator_info_to_json(const tp_creator_info *ci) { (void)ci; return NULL; }
void tp_creator_info_free(tp_creator_info *ci) { (void)ci; }
