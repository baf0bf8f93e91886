/* Scan: turn command-line PATHs (files or folders) into the ordered list of files to work on.
 * Shared by check, fit and run so that all three see the same files in the same order. */
#ifndef TP_SCAN_H
#define TP_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "tokprep.h"

typedef struct {
    char *path;    /* as given, or FOLDER/NAME for files found in a folder (with
                    * --follow-symlinks, a followed link's target, resolved) */
    int error;     /* 0, or a negative TP_E* code: missing, unreadable, not a file/folder,
                    * not media under a media name, a link out of the walked folder */
    char *message; /* error != 0: "PATH: no such file or folder"; else NULL */
    bool from_dir; /* found in a folder (true) or named on the command line (false) */
    bool not_media; /* error == TP_EMEDIA: found in a folder under a video/audio name, but
                     * its content is not media ("PATH: not media: looks like HTML") */
} tp_scan_entry;

typedef struct {
    tp_scan_entry *items;
    size_t n, cap;
    size_t n_non_media; /* files found in folders and skipped: neither media content nor a
                         * media name (captions, notes, thumbnails) */
    size_t n_symlinks;  /* symbolic links found in folders and not followed (dangling, or
                         * without --follow-symlinks) */
} tp_scan_list;

#define TP_SCAN_LIST_INIT                                                                          \
    {                                                                                              \
        NULL, 0, 0, 0, 0                                                                           \
    }

typedef struct {
    bool follow_symlinks; /* follow links found by walking, but never out of the walked folder */
} tp_scan_options;

#define TP_SCAN_OPTIONS_INIT                                                                       \
    {                                                                                              \
        false                                                                                      \
    }

/* Expand paths[0..n) in order into out (which must be TP_SCAN_LIST_INIT or freed):
 *  - a file named explicitly is always listed (whatever its content: the caller reports "not
 *    media" for it); an explicit PATH may be a symbolic link (the operator named it);
 *  - a folder is walked recursively, entries in byte order of their names (stable across runs
 *    and file systems), skipping hidden and temporary names (tp_walk_name_ignored);
 *  - symbolic links found by walking are not followed (counted in n_symlinks); with
 *    opts->follow_symlinks they are, when their target lies inside the walked folder's real
 *    path (a link out of it is an error entry, "PATH: symbolic link to ... outside ...");
 *    loops are cut;
 *  - a file found there is listed when its content is audio/video (tp_probe_sniff); one whose
 *    name says video/audio (tp_scan_media_name) but whose content is not is an error entry
 *    with not_media set; others are counted in n_non_media;
 *  - a missing or unreadable path becomes an entry with `error` set, so one bad path never
 *    stops the others.
 * opts may be NULL (defaults). Returns 0, or TP_ENOMEM (err filled; out holds what was found
 * so far and must be freed). Thread-safe for distinct lists. */
int tp_scan_paths(tp_scan_list *out, const char *const *paths, size_t n,
                  const tp_scan_options *opts, tp_error *err);

/* True when name ends in an extension that promises video or audio (.mp4, .mov, .mkv, .ts, .mp3,
 * ...; case-insensitive). Thread-safe. */
bool tp_scan_media_name(const char *name);

/* "HTML", "XML", "JSON", "text", "an empty file", "zeros", "binary data of no known media
 * format": what the first bytes of a non-media file look like, for "not media: looks like X".
 * Never NULL. Reads at most 4 KiB through an O_NOFOLLOW|O_NONBLOCK descriptor. Thread-safe. */
const char *tp_scan_describe_content(const char *path);

/* Frees every entry and resets the list to empty. NULL ok. */
void tp_scan_list_free(tp_scan_list *list);

#endif
