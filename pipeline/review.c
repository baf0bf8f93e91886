/* Review before posting (upload.tiktok.review): approve or reject a parked post. STUB: the
 * `review` branch implements it. */
#include "tokprep.h"

int tp_post_settings_init(tp_post_settings *s, unsigned version)
{
    if (!s || version != TP_POST_SETTINGS_VERSION)
        return TP_EINVAL;
    *s = (tp_post_settings)TP_POST_SETTINGS_INIT;
    return 0;
}

int tp_post_settings_validate(const tp_post_settings *s, tp_error *err)
{
    (void)s;
    return tp_error_set(err, TP_EUNSUPPORTED, 0, "not implemented yet");
}

int tp_review_approve(const char *state_path, int64_t id, const tp_post_settings *settings,
                      tp_error *err)
{
    (void)state_path, (void)id, (void)settings;
    return tp_error_set(err, TP_EUNSUPPORTED, 0, "not implemented yet");
}

int tp_review_reject(const char *state_path, int64_t id, const char *reason, tp_error *err)
{
    (void)state_path, (void)id, (void)reason;
    return tp_error_set(err, TP_EUNSUPPORTED, 0, "not implemented yet");
}
