/* Scan: turn command-line PATHs (files or folders) into the ordered list of files to work on.
 * Shared by check, fit and run so that all three see the same files in the same order. */
#ifndef TP_SCAN_H
#define TP_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "tokprep.h"

typedef struct {
    char *path;    /* as given, or FOLDER/NAME for files found in a folder */
    int error;     /* 0, or a negative TP_E* code: missing, unreadable, not a file/folder */
    char *message; /* error != 0: "PATH: no such file or folder"; else NULL */
    bool from_dir; /* found in a folder (true) or named on the command line (false) */
} tp_scan_entry;

typedef struct {
    tp_scan_entry *items;
    size_t n, cap;
} tp_scan_list;

#define TP_SCAN_LIST_INIT                                                                          \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Expand paths[0..n) in order into out (which must be TP_SCAN_LIST_INIT or freed):
 *  - a file named explicitly is always listed (whatever its content: the caller reports "not
 *    media" for it);
 *  - a folder is walked recursively, entries in byte order of their names (stable across runs
 *    and file systems), skipping hidden names (".x") and symlink loops; a file found there is
 *    listed only when its content is audio/video (tp_probe_sniff), never by its extension;
 *  - a missing or unreadable path becomes an entry with `error` set, so one bad path never
 *    stops the others.
 * Returns 0, or -TP_ENOMEM (err filled; out holds what was found so far and must be freed).
 * Thread-safe for distinct lists. */
int tp_scan_paths(tp_scan_list *out, const char *const *paths, size_t n, tp_error *err);

/* Frees every entry and resets the list to empty. NULL ok. */
void tp_scan_list_free(tp_scan_list *list);

#endif
