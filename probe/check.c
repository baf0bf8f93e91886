/* tp_check_file: probe + rules behind the public API. An unreadable file is a result with the
 * error verdict, not a failure of the call, so that one bad file never stops a batch. */
#include "probe/check.h"

#include <libavutil/error.h>
#include <stdlib.h>
#include <string.h>

#include "probe/cover.h"
#include "probe/probe.h"
#include "probe/report.h"
#include "util/tp_util.h"

int tp_check_options_init(tp_check_options *opts, unsigned version)
{
    if (!opts || version != TP_CHECK_OPTIONS_VERSION)
        return TP_EINVAL;
    *opts = (tp_check_options)TP_CHECK_OPTIONS_INIT;
    return 0;
}

/* The measured c->media against the profile, with the cover image found for c->path (the same
 * for a fresh probe and for media recorded in the ledger). */
static int judge(tp_check *c, const tp_profile *profile, tp_error *err)
{
    c->has_media = true;
    int ret = tp_cover_find(&c->media.cover, c->path, profile, err);
    if (ret < 0)
        return ret;
    tp_rules_check(&c->result, &c->media, profile);
    return 0;
}

int tp_check_source(tp_check **out, const tp_profile *profile, const char *path, bool nofollow,
                    const tp_check_options *opts, tp_error *err)
{
    tp_check *c = NULL;
    tp_error perr = TP_ERROR_INIT;
    int ret;

    if (!out || !profile || !path)
        return tp_error_set(err, TP_EINVAL, 0, "tp_check_file: NULL argument");
    *out = NULL;
    if (opts && opts->version != TP_CHECK_OPTIONS_VERSION)
        return tp_error_set(err, TP_EINVAL, 0, "tp_check_file: unknown opts version %u",
                            opts->version);
    c = calloc(1, sizeof(*c));
    if (!c || !(c->path = tp_strdup(path))) {
        ret = tp_error_set(err, TP_ENOMEM, 0, "%s: out of memory", path);
        goto fail;
    }
    tp_probe_options popts = {
        .deep = opts && opts->deep,
        .limits = &profile->limits,
        .cancel = opts ? opts->cancel : NULL,
    };
    ret = tp_probe_path(&c->media, path, nofollow, &popts, &perr);
    if (ret == TP_ECANCELED || ret == TP_ENOMEM) {
        if (err)
            tp_error_move(err, &perr);
        goto fail;
    }
    if (ret < 0) {
        const char *code = NULL;
        if (perr.code == TP_EMEDIA)
            code = perr.raw == AVERROR_EOF ? "truncated" : "not_media";
        c->error = tp_strdup(tp_error_message(&perr));
        if (!c->error) {
            ret = tp_error_set(err, TP_ENOMEM, 0, "%s: out of memory", path);
            goto fail;
        }
        c->error_code = perr.code;
        /* The violation and reason go with the path already: keep only what went wrong. */
        const char *what = tp_error_message(&perr);
        size_t plen = strlen(path);
        if (!strncmp(what, path, plen) && what[plen] == ':' && what[plen + 1] == ' ')
            what += plen + 2;
        tp_rules_error(&c->result, code, what);
        memset(&c->media, 0, sizeof(c->media));
        tp_error_clear(&perr);
        *out = c;
        return 0;
    }
    if ((ret = judge(c, profile, err)) < 0)
        goto fail;
    *out = c;
    return 0;
fail:
    tp_error_clear(&perr);
    tp_check_free(c);
    return ret;
}

int tp_check_media_new(tp_check **out, const tp_profile *profile, const char *path,
                       const tp_media_info *media, tp_error *err)
{
    *out = NULL;
    tp_check *c = calloc(1, sizeof(*c));
    if (!c || !(c->path = tp_strdup(path))) {
        tp_check_free(c);
        return tp_error_set(err, TP_ENOMEM, 0, "%s: out of memory", path);
    }
    c->media = *media;
    int ret = judge(c, profile, err);
    if (ret < 0) {
        tp_check_free(c);
        return ret;
    }
    *out = c;
    return 0;
}

int tp_check_file(tp_check **out, const tp_profile *profile, const char *path,
                  const tp_check_options *opts, tp_error *err)
{
    return tp_check_source(out, profile, path, false, opts, err);
}

void tp_check_free(tp_check *c)
{
    if (!c)
        return;
    free(c->path);
    free(c->error);
    free(c);
}

const char *tp_check_path(const tp_check *c)
{
    return c->path;
}

tp_verdict tp_check_verdict(const tp_check *c)
{
    return c->result.verdict;
}

tp_action tp_check_action(const tp_check *c)
{
    return c->result.action;
}

const char *tp_check_reason(const tp_check *c)
{
    return c->result.reason;
}

const char *tp_check_error(const tp_check *c)
{
    return c->error;
}

size_t tp_check_violation_count(const tp_check *c)
{
    return (size_t)c->result.n_violations;
}

int tp_check_violation(const tp_check *c, size_t i, const char **code, tp_severity *severity,
                       const char **message)
{
    if (!c || i >= (size_t)c->result.n_violations)
        return TP_EINVAL;
    const tp_violation *v = &c->result.violations[i];
    if (code)
        *code = v->code;
    if (severity)
        *severity = v->severity;
    if (message)
        *message = v->message;
    return 0;
}

char *tp_check_json(const tp_check *c)
{
    cJSON *o = tp_check_to_json(c->path, &c->result, c->has_media ? &c->media : NULL, c->error);
    if (!o)
        return NULL;
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    /* The path (and messages quoting it) may hold any bytes; JSON must be UTF-8. */
    char *u = tp_utf8_sanitize(s);
    free(s);
    return u;
}

const tp_media_info *tp_check_media(const tp_check *c)
{
    return c && c->has_media ? &c->media : NULL;
}

const tp_check_result *tp_check_result_get(const tp_check *c)
{
    return &c->result;
}

int tp_check_fd_for_fit(tp_media_info *media, tp_check_result *check, int fd, const char *path,
                        const tp_profile *profile, const tp_cancel *cancel, tp_error *err)
{
    double lo, hi;
    /* Under a loudness rule or fix the fit needs the measured loudness: the audio is decoded
     * once here (never the video, unlike --deep). */
    tp_probe_options po = {.limits = &profile->limits,
                           .cancel = cancel,
                           .loudness = tp_rules_loudness_range(profile, &lo, &hi)};
    int rc = tp_probe_fd(media, fd, path, &po, err);
    if (rc < 0)
        return rc;
    tp_cover_info cover;
    if ((rc = tp_cover_find(&cover, path, profile, err)) < 0)
        return rc;
    media->cover = cover;
    tp_rules_check(check, media, profile);
    const tp_loudness loud = media->audio.loudness;
    po.loudness = false;
    /* Sampling frames for bars costs a decode of a few hundred frames: only where fix.autocrop
     * can use it, a re-encode. Header probing again is cheap next to that. */
    if (!profile->fix.autocrop || check->action != TP_ACTION_TRANSCODE || !media->video.present)
        return 0;
    po.bars = true;
    if ((rc = tp_probe_fd(media, fd, path, &po, err)) < 0)
        return rc;
    media->cover = cover;
    media->audio.loudness = loud;
    tp_rules_check(check, media, profile);
    return 0;
}
