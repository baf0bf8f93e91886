/* File names and folders: stems, extensions, sidecars, split-part names, joins and mkdir -p.
 * One implementation for every layer. All functions are thread-safe. */
#ifndef TP_PATH_H
#define TP_PATH_H

#include "tokprep.h"

/* The file name: what follows the last '/' ("dir/a.mp4" → "a.mp4"); a pointer into path. */
const char *tp_path_base(const char *path);
/* The file name's extension with its dot ("dir/a.b.mp4" → ".mp4"), or "" when there is none; a
 * leading dot is part of the name, not an extension (".hidden" → ""). A pointer into path. */
const char *tp_path_ext(const char *path);
/* The file name without its extension ("dir/a.b.mp4" → "a.b"); malloc'd, NULL on OOM. */
char *tp_path_stem(const char *path);
/* The file next to path with the same stem and suffix for extension ("dir/a.mp4", ".txt" →
 * "dir/a.txt"); malloc'd, NULL on OOM. */
char *tp_path_sidecar(const char *path, const char *suffix);
/* The name of output part (1-based) of parts: "<stem><ext>" for a single output,
 * "<stem>_part<part><ext>" for the parts of a split. malloc'd, NULL on OOM. */
char *tp_path_part_name(const char *stem, int part, int parts, const char *ext);
/* "dir/name", without doubling a '/' that ends dir; malloc'd, NULL on OOM. */
char *tp_path_join(const char *dir, const char *name);
/* path made absolute against the current folder, lexically: no link is resolved (a file given
 * through a link keeps its own name), "." segments and repeated or trailing slashes go, ".."
 * stays. malloc'd; NULL when out of memory or the current folder cannot be read. */
char *tp_path_absolute(const char *path);

/* mkdir -p with mode (the umask applies) for each folder it creates. Something other than a
 * folder in the way fails with TP_EIO naming it ("x: is a file, not a folder"), rather than
 * with ENOTDIR one level down. 0, or TP_EIO / TP_ENOMEM with err filled. */
int tp_mkdir_p(const char *path, unsigned mode, tp_error *err);
/* tp_mkdir_p for the folder that holds path ("a/b/c.json" → "a/b"); 0 when path has none. */
int tp_mkdir_parents(const char *path, unsigned mode, tp_error *err);

#endif
