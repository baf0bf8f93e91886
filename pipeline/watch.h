/* Watch folders (inotify, recursive): report files once they are complete — closed after
 * writing or moved in, or with a size stable for the settle period. Temporary names are ignored
 * until renamed. Used by the coordinator thread only. */
#ifndef TP_WATCH_H
#define TP_WATCH_H

#include <stddef.h>

#include "tokprep.h"

typedef struct tp_watch tp_watch;

/* Watch the folders in dirs (files in the list are ignored), skipping the `exclude` absolute
 * paths (our work folder and sink). */
int tp_watch_open(tp_watch **out, const char *const *dirs, size_t n_dirs, double settle_seconds,
                  const char *const *exclude, size_t n_exclude, tp_error *err);
/* Non-blocking: read pending notifications and call fn for each file that is complete now:
 * media by content (not_media NULL), or named like video/audio with other content (not_media:
 * "PATH: not media: looks like HTML"). Symbolic links are never followed here (said in the
 * log); other non-media files are left out. */
int tp_watch_poll(tp_watch *w, void (*fn)(const char *path, const char *not_media, void *payload),
                  void *payload, tp_error *err);
void tp_watch_close(tp_watch *w);

#endif
