/* One line of documentation per profile key (what tokprep-profile.5 and tp_profile_schema_at()
 * show) and the built-in `tiktok` profile's value as its YAML writes it. A key missing here still
 * works, but integration.cli_docs fails until it is added. */
#include <string.h>

#include "profiles/profile.h"

static const struct {
    const char *key, *default_value, *help;
} docs[] = {
    {"name", "tiktok", "the profile's name (ledger rows and reports carry it)"},
    {"extends", "null", "the profile this one builds on"},
    {"rules.containers", "[mp4, mov, webm]",
     "containers that pass as is (short names: mp4, mov, webm, mkv, avi, mpegts, …)"},
    {"rules.video_codecs", "[h264, hevc, vp8, vp9]", "FFmpeg codec names that pass"},
    {"rules.audio_codecs", "[aac, mp3, opus]", "audio codecs that pass"},
    {"rules.min_side", "360", "px, shorter displayed side"},
    {"rules.max_side", "4096", "px, longer displayed side"},
    {"rules.aspects", "[\"9:16\"]", "displayed aspect ratios that pass; tolerance 1 %"},
    {"rules.fps", "[23, 60]", "average frame rate"},
    {"rules.duration", "[3, 600]", "seconds"},
    {"rules.max_size", "1GB", "file size"},
    {"rules.faststart", "true", "MP4/MOV must have `moov` before `mdat`"},
    {"rules.loudness", "null",
     "[MIN, MAX] integrated LUFS that passes, e.g. [-16, -12]; null = not checked"},
    {"fix.width", "1080", "output picture size"},
    {"fix.height", "1920", "output picture size"},
    {"fix.fill", "blur", "how a non-9:16 picture fills the frame"},
    {"fix.pad_color", "black", "FFmpeg colour name or `#rrggbb` for `pad`"},
    {"fix.too_long", "split", "over `rules.duration` max"},
    {"fix.too_short", "reject", "under `rules.duration` min"},
    {"fix.autocrop", "true",
     "fill from the picture inside static burned-in black bars (letterbox/pillarbox), found by "
     "sampling frames through the file (see `fit`)"},
    {"fix.video.codec", "libx264", "encoder"},
    {"fix.video.preset", "veryfast", "x264 preset"},
    {"fix.video.crf", "21", "quality"},
    {"fix.video.max_bitrate", "15M", "VBV ceiling (lowered further to fit `rules.max_size`)"},
    {"fix.audio.codec", "aac", "encoder (AAC-LC)"},
    {"fix.audio.bitrate", "128k", "audio bit rate"},
    {"fix.audio.sample_rate", "48000", "Hz"},
    {"fix.audio.channels", "2", "audio channels"},
    {"fix.audio.loudness", "null",
     "{target: -14, true_peak: -1.0, range: 11} normalises the audio (EBU R128, two passes); "
     "null = unchanged"},
    {"fix.audio.loudness.target", "-14", "integrated LUFS to reach (-70..-5)"},
    {"fix.audio.loudness.true_peak", "-1.0", "true-peak ceiling, dBTP (-9..0)"},
    {"fix.audio.loudness.range", "11", "loudnorm's loudness-range target, LU (1..50)"},
    {"fix.cover.image", "\"\"",
     "an image (.jpg, .png, .webp) placed as the first frames; a <stem>.cover.* sidecar wins; "
     "\"\" = none"},
    {"fix.cover.duration_ms", "100", "how long the cover image is shown (at least one frame)"},
    {"chunk.size", "10MB", "declared `chunk_size` for multi-chunk uploads"},
    {"chunk.min", "5MB", "files under it are sent whole"},
    {"chunk.max", "64MB", "largest regular chunk"},
    {"chunk.final_max", "128MB", "largest final chunk (the remainder joins it)"},
    {"chunk.max_count", "1000", "chunk size is raised to stay under it"},
    {"upload.sink", "tiktok", "where `run` delivers"},
    {"upload.directory.path", "./tokprep-out", "the directory sink's folder"},
    {"upload.tiktok.api_base", "https://open.tiktokapis.com",
     "API host (plain http only for loopback)"},
    {"upload.tiktok.auth_base", "https://www.tiktok.com", "authorize page host"},
    {"upload.tiktok.client_key", "${TIKTOK_CLIENT_KEY}", "app key"},
    {"upload.tiktok.client_secret", "${TIKTOK_CLIENT_SECRET}", "app secret (never printed)"},
    {"upload.tiktok.mode", "direct", "direct post or inbox draft"},
    {"upload.tiktok.privacy_level", "SELF_ONLY", "must be among creator_info's options"},
    {"upload.tiktok.caption", "\"{stem}\"", "`{stem}`, `{date}`; a sidecar `<stem>.txt` wins"},
    {"upload.tiktok.disable_comment", "false", "post settings"},
    {"upload.tiktok.disable_duet", "false", "post settings"},
    {"upload.tiktok.disable_stitch", "false", "post settings"},
    {"upload.tiktok.video_cover_timestamp_ms", "0",
     "cover frame (--cover-at SECONDS sets it); a fitted cover image sends its own"},
    {"upload.tiktok.on_failed", "fail",
     "a post TikTok ends FAILED: fail = report the rule; refit = re-fit once (strict) and post "
     "again"},
    {"upload.tiktok.review", "false",
     "park each fitted file as `awaiting_review` until `tokprep review approve` (or the "
     "console) chooses its post settings; direct mode only; not hashed"},
    {"upload.tiktok.brand_content_toggle", "false", "disclosure flags"},
    {"upload.tiktok.brand_organic_toggle", "false", "disclosure flags"},
    {"upload.tiktok.is_aigc", "false", "disclosure flags"},
    {"upload.tiktok.token_file", "\"\"", "`\"\"` = `$XDG_CONFIG_HOME/tokprep/<profile>.json`"},
    {"upload.tiktok.redirect_uri", "http://127.0.0.1:8723/callback/", "loopback OAuth redirect"},
    {"upload.tiktok.scope", "user.info.basic,video.upload,video.publish", "OAuth scopes requested"},
    {"upload.tiktok.daily_limit", "15", "posts per account per 24 h before deferring"},
    {"upload.tiktok.rate_window", "60",
     "window of the per-minute request limits (test servers only)"},
    {"upload.tiktok.status_deadline", "600", "status polling gives up with \"still processing\""},
    {"upload.tiktok.status_interval", "5", "first status poll interval"},
    {"upload.tiktok.timeout", "60", "a request without progress this long is abandoned"},
    {"upload.tiktok.max_retries", "5", "re-sends on network errors, 5xx and 429"},
    {"upload.tiktok.shared_limits", "\"\"",
     "`redis://HOST:PORT/NAME`: rate and daily limits shared through Redis; `\"\"` = per process; "
     "not part of the profile hash"},
    {"pipeline.probe_workers", "0", "threads per stage; 0 = cores"},
    {"pipeline.fit_workers", "0", "threads per stage; 0 = cores"},
    {"pipeline.upload_workers", "1", "threads per stage; 0 = cores"},
    {"pipeline.queue_depth", "16", "bound of each queue between stages"},
    {"pipeline.max_pending_uploads", "4", "fitted files waiting for upload (disk bound)"},
    {"pipeline.settle_seconds", "2", "`--watch`: size stable this long = complete"},
    {"pipeline.max_attempts", "3", "tries of a transient failure"},
    {"preview.safe_zone.top", "150", "`tokprep preview`: top UI band, px at 1080x1920"},
    {"preview.safe_zone.bottom", "440", "`tokprep preview`: bottom UI band (caption, buttons)"},
    {"preview.safe_zone.left", "60", "`tokprep preview`: left margin"},
    {"preview.safe_zone.right", "60", "`tokprep preview`: right margin"},
    {"preview.safe_zone.rail_width", "150", "`tokprep preview`: width of the right-hand rail"},
    {"preview.safe_zone.rail_from_y", "760", "`tokprep preview`: where the rail starts"},
    {"preview.ui_overlap_threshold", "0.05",
     "share of edge pixels in one UI region above which ui_overlap warns"},
    {"queue.max_attempts", "3", "`tokprep worker`: tries of a job before dead-letter"},
    {"queue.reclaim_after", "60",
     "`tokprep worker`: idle time before another worker takes a job over"},
    {"queue.claim_lease", "30",
     "`tokprep worker`: per-content claim lease (heartbeat every third)"},
    {"limits.max_pixels", "67108864", "pictures larger than this are refused"},
    {"limits.max_streams", "64", "files with more streams are refused"},
    {"limits.probe_size", "10MB", "bytes libavformat may read to find streams"},
    {"limits.analyze_duration", "10", "media time libavformat may analyse"},
    {"limits.probe_timeout", "30", "wall time for one probe"},
    {"limits.max_samples", "2000000",
     "MP4 sample-table entries a file may claim, all tables and tracks summed; refused before "
     "libavformat reads them (see below)"},
    {"limits.max_output_frames", "216000",
     "frames one `fit` (or the fit stage of `run`) may encode, all parts: one hour at TikTok's "
     "highest rate, 60 fps (six 10-minute posts)"},
    {"limits.max_pixel_rate", "124416000",
     "output width × height × fps: 1080×1920 at 60 fps, the most TikTok takes"},
    {"limits.max_frame_gap", "60",
     "output seconds one source frame may fill (a longer gap in the timestamps fails the fit)"},
};

int tp_profile_key_doc(const char *key, const char **default_value, const char **help)
{
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
        if (!strcmp(docs[i].key, key)) {
            *default_value = docs[i].default_value;
            *help = docs[i].help;
            return 0;
        }
    *default_value = "";
    *help = "";
    return -1;
}
