/* Process-wide set-up (curl, FFmpeg logging) and the version report. */
#include <curl/curl.h>
#include <cjson/cJSON.h>
#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavformat/avformat.h>
#include <libavutil/log.h>
#include <stdio.h>
#include <yaml.h>

#include "util/tp_util.h"

int tp_global_init(tp_error *err)
{
    CURLcode cc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (cc != CURLE_OK)
        return tp_error_set(err, TP_EINTERNAL, (int)cc, "curl_global_init failed: %s",
                            curl_easy_strerror(cc));
    /* FFmpeg's own chatter would interleave with our per-file messages; we report errors. */
    av_log_set_level(AV_LOG_QUIET);
    return 0;
}

void tp_global_cleanup(void)
{
    curl_global_cleanup();
}

void tp_version_string(char *buf, size_t size)
{
    unsigned f = avformat_version();
    unsigned c = avcodec_version();
    unsigned fl = avfilter_version();
    snprintf(buf, size,
             "tokprep %s\n"
             "FFmpeg %s (libavformat %u.%u.%u, libavcodec %u.%u.%u, libavfilter %u.%u.%u)\n"
             "libcurl %s\n"
             "cJSON %s\n"
             "libyaml %s\n",
             TOKPREP_VERSION, av_version_info(), f >> 16, (f >> 8) & 0xff, f & 0xff, c >> 16,
             (c >> 8) & 0xff, c & 0xff, fl >> 16, (fl >> 8) & 0xff, fl & 0xff,
             curl_version_info(CURLVERSION_NOW)->version, cJSON_Version(),
             yaml_get_version_string());
}
