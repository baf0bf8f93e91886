/* Probe: fill tp_media_info from libavformat/libavcodec headers and a bounded packet sample. */
#ifndef TP_PROBE_H
#define TP_PROBE_H

#include <stdbool.h>

#include "probe/media.h"
#include "profiles/profile.h"

typedef struct {
    bool deep;                 /* also decode every packet and count decode errors */
    const tp_limits *limits;   /* resource limits from the profile (NULL = built-in defaults) */
    const volatile int *cancel; /* non-zero = abort (checked by FFmpeg's interrupt callback) */
} tp_probe_opts;

/* Probe one file. Returns 0, or a negative TP_E* with err->message naming the file and reason
 * (-TP_EMEDIA: not media / corrupt; -TP_EIO: missing, unreadable, not a regular file).
 * Thread-safe: any number of probes may run at once. */
int tp_probe_file(tp_media_info *out, const char *path, const tp_probe_opts *opts, tp_error *err);

#endif
