/* inotify-based watch folders; see watch.h. */
#include "pipeline/watch.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline/internal.h"
#include "pipeline/scan.h"
#include "probe/probe.h"
#include "util/tp_util.h"

typedef struct {
    int wd;
    char *path;
} watched_dir;

/* A file seen being written, waiting to be complete. */
typedef struct pending {
    struct pending *next;
    char *path;
    int64_t size;
    double changed; /* monotonic time of the last size change or write event */
} pending;

/* A file already reported, with the size and mtime it had, so a repeated notification of the
 * same unchanged file (a second close, a touch) is not reported twice. */
typedef struct taken {
    struct taken *next;
    char *path;
    int64_t size;
    int64_t mtime_ns;
} taken;

struct tp_watch {
    int fd;
    double settle;
    watched_dir *dirs;
    size_t n_dirs, cap_dirs;
    pending *pending;
    taken *taken;
    size_t n_taken;
    const char *const *exclude;
    size_t n_exclude;
};

#define WATCH_MASK                                                                                 \
    (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_MODIFY | IN_DELETE_SELF | IN_MOVE_SELF |        \
     IN_ONLYDIR)
#define TAKEN_MAX 8192

static bool is_excluded(tp_watch *w, const char *path)
{
    return tp_path_within(path, w->exclude, w->n_exclude);
}

static const char *dir_of(tp_watch *w, int wd)
{
    for (size_t i = 0; i < w->n_dirs; i++)
        if (w->dirs[i].wd == wd)
            return w->dirs[i].path;
    return NULL;
}

static pending *find_pending(tp_watch *w, const char *path, pending ***link)
{
    pending **pp = &w->pending;
    for (; *pp; pp = &(*pp)->next)
        if (!strcmp((*pp)->path, path))
            break;
    if (link)
        *link = pp;
    return *pp;
}

static void track(tp_watch *w, const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) < 0)
        return;
    if (S_ISLNK(sb.st_mode)) {
        /* A link dropped into a watched folder may point anywhere: never taken. */
        tp_log(TP_LOG_WARN, "%s: symbolic link, not followed", path);
        return;
    }
    if (!S_ISREG(sb.st_mode))
        return;
    pending *p = find_pending(w, path, NULL);
    if (!p) {
        p = calloc(1, sizeof(*p));
        if (!p || !(p->path = tp_strdup(path))) {
            free(p);
            return;
        }
        p->next = w->pending;
        w->pending = p;
    }
    p->size = sb.st_size;
    p->changed = tp_now_monotonic();
}

static void untrack(tp_watch *w, const char *path)
{
    pending **link;
    pending *p = find_pending(w, path, &link);
    if (p) {
        *link = p->next;
        free(p->path);
        free(p);
    }
}

/* Like the initial scan, judge by content, not by name: a finished caption or thumbnail is not
 * reported. */
static void report_media(const char *path, void (*fn)(const char *, const char *, void *),
                         void *payload)
{
    bool media = false;
    tp_error err = TP_ERROR_INIT;
    int rc = tp_probe_sniff(path, &media, &err);
    tp_error_clear(&err);
    if (rc < 0)
        return;
    if (media) {
        fn(path, NULL, payload);
        return;
    }
    const char *base = strrchr(path, '/');
    if (tp_scan_media_name(base ? base + 1 : path)) {
        char *why =
            tp_asprintf("%s: not media: looks like %s", path, tp_scan_describe_content(path));
        if (why)
            fn(path, why, payload);
        free(why);
    }
}

static void report(tp_watch *w, const char *path, void (*fn)(const char *, const char *, void *),
                   void *payload)
{
    untrack(w, path);
    struct stat sb;
    if (lstat(path, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size == 0)
        return;
    int64_t mtime = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
    for (taken *t = w->taken; t; t = t->next)
        if (!strcmp(t->path, path)) {
            if (t->size == sb.st_size && t->mtime_ns == mtime)
                return;
            t->size = sb.st_size;
            t->mtime_ns = mtime;
            report_media(path, fn, payload);
            return;
        }
    taken *t = calloc(1, sizeof(*t));
    if (t && (t->path = tp_strdup(path))) {
        t->size = sb.st_size;
        t->mtime_ns = mtime;
        t->next = w->taken;
        w->taken = t;
        /* Bounded memory for long watches: forget the oldest (the ledger still dedups). */
        if (++w->n_taken > TAKEN_MAX) {
            taken **pp = &w->taken;
            while ((*pp)->next)
                pp = &(*pp)->next;
            free((*pp)->path);
            free(*pp);
            *pp = NULL;
            w->n_taken--;
        }
    } else {
        free(t);
    }
    report_media(path, fn, payload);
}

/* Watch dir and its subfolders; files already inside are tracked (they may still be written),
 * and taken once settled. */
static void add_tree(tp_watch *w, const char *dir, int depth, bool track_files)
{
    if (depth > 64 || is_excluded(w, dir))
        return;
    int wd = inotify_add_watch(w->fd, dir, WATCH_MASK);
    if (wd < 0) {
        tp_log(TP_LOG_WARN, "%s: cannot watch: %s", dir, strerror(errno));
        return;
    }
    if (!dir_of(w, wd)) {
        if (w->n_dirs == w->cap_dirs) {
            size_t cap = w->cap_dirs ? w->cap_dirs * 2 : 16;
            watched_dir *nd = realloc(w->dirs, cap * sizeof(*nd));
            if (!nd)
                return;
            w->dirs = nd;
            w->cap_dirs = cap;
        }
        w->dirs[w->n_dirs].wd = wd;
        w->dirs[w->n_dirs].path = tp_strdup(dir);
        w->n_dirs++;
    }
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (tp_walk_name_ignored(de->d_name))
            continue;
        char *path = tp_asprintf("%s/%s", dir, de->d_name);
        struct stat sb;
        if (path && lstat(path, &sb) == 0) {
            if (S_ISDIR(sb.st_mode))
                add_tree(w, path, depth + 1, track_files);
            else if (S_ISREG(sb.st_mode) && track_files)
                track(w, path);
        }
        free(path);
    }
    closedir(d);
}

int tp_watch_open(tp_watch **out, const char *const *dirs, size_t n_dirs, double settle_seconds,
                  const char *const *exclude, size_t n_exclude, tp_error *err)
{
    *out = NULL;
    tp_watch *w = calloc(1, sizeof(*w));
    if (!w)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    w->settle = settle_seconds;
    w->exclude = exclude;
    w->n_exclude = n_exclude;
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->fd < 0) {
        int e = errno;
        free(w);
        return tp_error_set(err, TP_EIO, e, "cannot start watching (inotify): %s", strerror(e));
    }
    /* Files present at start are the initial walk's; only folders that appear later have their
     * content tracked here. */
    for (size_t i = 0; i < n_dirs; i++) {
        struct stat sb;
        if (stat(dirs[i], &sb) == 0 && S_ISDIR(sb.st_mode))
            add_tree(w, dirs[i], 0, false);
    }
    *out = w;
    return 0;
}

int tp_watch_poll(tp_watch *w, void (*fn)(const char *path, const char *not_media, void *payload),
                  void *payload, tp_error *err)
{
    _Alignas(struct inotify_event) char buf[16384];
    for (;;) {
        ssize_t n = read(w->fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0)
            return tp_error_set(err, TP_EIO, errno, "watch: read failed: %s", strerror(errno));
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            p += sizeof(*ev) + ev->len;
            if (ev->mask & IN_Q_OVERFLOW) {
                tp_log(TP_LOG_WARN, "watch: too many changes at once; some may be missed until "
                                    "the next run");
                continue;
            }
            const char *dir = dir_of(w, ev->wd);
            if (!dir || ev->len == 0 || tp_walk_name_ignored(ev->name))
                continue;
            char *path = tp_asprintf("%s/%s", dir, ev->name);
            if (!path)
                continue;
            if (ev->mask & IN_ISDIR) {
                if (ev->mask & (IN_CREATE | IN_MOVED_TO))
                    add_tree(w, path, 1, true);
            } else {
                if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO))
                    report(w, path, fn, payload);
                else if (ev->mask & (IN_CREATE | IN_MODIFY))
                    track(w, path);
            }
            free(path);
        }
    }
    /* Size-stable files: written by something that never closes them in a way we see (network
     * file systems, mmap), or that keeps them open. */
    double now = tp_now_monotonic();
    pending *p = w->pending;
    while (p) {
        pending *next = p->next;
        struct stat sb;
        if (lstat(p->path, &sb) < 0 || !S_ISREG(sb.st_mode)) {
            untrack(w, p->path);
        } else if (sb.st_size != p->size) {
            p->size = sb.st_size;
            p->changed = now;
        } else if (now - p->changed >= w->settle && sb.st_size > 0) {
            char *path = tp_strdup(p->path);
            if (path)
                report(w, path, fn, payload);
            free(path);
        }
        p = next;
    }
    return 0;
}

void tp_watch_close(tp_watch *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    for (size_t i = 0; i < w->n_dirs; i++)
        free(w->dirs[i].path);
    free(w->dirs);
    while (w->pending) {
        pending *p = w->pending;
        w->pending = p->next;
        free(p->path);
        free(p);
    }
    while (w->taken) {
        taken *t = w->taken;
        w->taken = t->next;
        free(t->path);
        free(t);
    }
    free(w);
}
