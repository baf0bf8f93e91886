/* Cover images (README "Covers"): find the sidecar <stem>.cover.jpg|png|webp or fix.cover.image,
 * read it within the sidecar rules (docs/SECURITY.md, "Sidecars") and decode it in-process from
 * memory; the fit places it as the first frames of the output. */
#ifndef TP_COVER_H
#define TP_COVER_H

#include <libavutil/frame.h>

#include "probe/media.h"
#include "profiles/profile.h"

/* Largest cover image read: a 1080x1920 PNG of noise is about 6 MB. */
#define TP_COVER_MAX (10 * 1024 * 1024)

/* Fill *out with the cover image of src: its sidecar when there is one, else the profile's
 * fix.cover.image, else none. A sidecar that is a symlink, a FIFO, a device, over TP_COVER_MAX
 * or not a picture is never used: a warning names it and why, and the file goes on as without
 * it (the profile's image, if any). Only running out of memory fails (TP_ENOMEM). Thread-safe. */
int tp_cover_find(tp_cover_info *out, const char *src, const tp_profile *p, tp_error *err);

/* Read and decode the image of ci again (same rules) into *out (caller frees with
 * av_frame_free). TP_EIO when it can no longer be read, TP_EMEDIA when it is not the picture
 * planned (another size). Thread-safe. */
int tp_cover_load(AVFrame **out, const tp_cover_info *ci, const tp_profile *p, tp_error *err);

#endif
