/* Source files opened once, as files (docs/SECURITY.md, class 1): one descriptor per input,
 * opened without following a final symlink where the name was found by walking a folder, never
 * blocking on a FIFO, and only kept when fstat says regular file. Everything that reads the
 * input afterwards (probe, fit, hashing, sinks, uploader) reads that descriptor. */
#ifndef TP_SRCFILE_H
#define TP_SRCFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "util/tp_util.h"

/* What fstat said when the file was opened, to notice a rewrite in place later. */
typedef struct {
    uint64_t dev, ino;
    int64_t size;
    int64_t mtime_ns;
    int64_t ctime_ns; /* any write, even with the mtime set back, and any rename over it */
} tp_src_stat;

/* Open path read-only with O_NONBLOCK|O_CLOEXEC, plus O_NOFOLLOW when nofollow (a name found by
 * walking: a symlink there is refused, not followed). fstat must say regular file. Returns the
 * descriptor (>= 0, *st filled when st is not NULL) or -1 with err saying why
 * ("PATH: is a symbolic link; not followed", "PATH: not a regular file (a FIFO)", ...;
 * err->code TP_EIO, err->raw the errno). Thread-safe. */
int tp_src_open(const char *path, bool nofollow, tp_src_stat *st, tp_error *err);

/* fstat fd into *st; 0 or -1 (errno). */
int tp_src_fstat(int fd, tp_src_stat *st);

/* Has the file behind fd changed since *then: size, modification or status-change time (a
 * write, even one that sets the mtime back; a rename over its name)? Thread-safe. */
bool tp_src_changed(int fd, const tp_src_stat *then);

#endif
