/* Profile loading: built-in base ← extends chain ← file ← --set, validated against one schema
 * table (type, bounds, target field per key) into the plain tp_profile struct. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "profiles/profile.h"
#include "profiles/tree.h"
#include "util/tp_util.h"

extern const char *const tp_builtin_profile_data[][2];

#define MAX_EXTENDS_DEPTH 16
#define MAX_PROFILE_BYTES (1 << 20)

typedef enum {
    T_MAP,
    T_STR,     /* fixed char[TP_NAME_MAX] */
    T_PSTR,    /* malloc'd char *, ${VAR} may defer */
    T_INT,
    T_INT64,
    T_SIZE,    /* int64 with units: 10MB, 1GiB, 15M, 128k */
    T_DOUBLE,
    T_BOOL,
    T_ENUM,
    T_STRLIST,
    T_ASPECTS,
    T_RANGE,   /* [min, max] of doubles at off and off2 */
    T_NULLSTR, /* extends: a name/path or null; handled before validation */
    T_NRANGE,  /* [min, max] of doubles or null: a tp_opt_range at off */
    T_NMAP     /* a map or null: the bool at off says which (fix.audio.loudness) */
} key_type;

typedef struct {
    const char *path;
    key_type type;
    size_t off, off2;
    double min, max;
    const char *const *enums; /* NULL-terminated, index = enum value */
    bool secret;
} schema_row;

static const char *const fill_names[] = {"blur", "pad", "crop", NULL};
static const char *const too_long_names[] = {"split", "trim", "reject", NULL};
static const char *const too_short_names[] = {"reject", "extend", NULL};
static const char *const sink_names[] = {"tiktok", "directory", "none", NULL};
static const char *const mode_names[] = {"direct", "draft", NULL};
static const char *const on_failed_names[] = {"fail", "refit", NULL};

#define F(field) offsetof(struct tp_profile, field)
#define BIG 9.0e18
static const schema_row schema[] = {
    {"name", T_PSTR, F(name), 0, 0, 0, NULL, false},
    {"extends", T_NULLSTR, 0, 0, 0, 0, NULL, false},
    {"rules", T_MAP, 0, 0, 0, 0, NULL, false},
    {"rules.containers", T_STRLIST, F(rules.containers), 0, 0, 0, NULL, false},
    {"rules.video_codecs", T_STRLIST, F(rules.video_codecs), 0, 0, 0, NULL, false},
    {"rules.audio_codecs", T_STRLIST, F(rules.audio_codecs), 0, 0, 0, NULL, false},
    {"rules.min_side", T_INT, F(rules.min_side), 0, 1, 65536, NULL, false},
    {"rules.max_side", T_INT, F(rules.max_side), 0, 1, 65536, NULL, false},
    {"rules.aspects", T_ASPECTS, F(rules.aspects), F(rules.n_aspects), 0, 0, NULL, false},
    {"rules.fps", T_RANGE, F(rules.fps_min), F(rules.fps_max), 1, 1000, NULL, false},
    {"rules.duration", T_RANGE, F(rules.duration_min), F(rules.duration_max), 0, 86400 * 7,
     NULL, false},
    {"rules.max_size", T_SIZE, F(rules.max_size), 0, 1, BIG, NULL, false},
    {"rules.faststart", T_BOOL, F(rules.faststart), 0, 0, 0, NULL, false},
    {"rules.loudness", T_NRANGE, F(rules.loudness), 0, -70, 0, NULL, false},
    {"fix", T_MAP, 0, 0, 0, 0, NULL, false},
    {"fix.width", T_INT, F(fix.width), 0, 16, 8192, NULL, false},
    {"fix.height", T_INT, F(fix.height), 0, 16, 8192, NULL, false},
    {"fix.fill", T_ENUM, F(fix.fill), 0, 0, 0, fill_names, false},
    {"fix.pad_color", T_STR, F(fix.pad_color), 0, 0, 0, NULL, false},
    {"fix.too_long", T_ENUM, F(fix.too_long), 0, 0, 0, too_long_names, false},
    {"fix.too_short", T_ENUM, F(fix.too_short), 0, 0, 0, too_short_names, false},
    {"fix.autocrop", T_BOOL, F(fix.autocrop), 0, 0, 0, NULL, false},
    {"fix.video", T_MAP, 0, 0, 0, 0, NULL, false},
    {"fix.video.codec", T_STR, F(fix.video.codec), 0, 0, 0, NULL, false},
    {"fix.video.preset", T_STR, F(fix.video.preset), 0, 0, 0, NULL, false},
    {"fix.video.crf", T_INT, F(fix.video.crf), 0, 0, 51, NULL, false},
    {"fix.video.max_bitrate", T_SIZE, F(fix.video.max_bitrate), 0, 10000, 1e9, NULL, false},
    {"fix.audio", T_MAP, 0, 0, 0, 0, NULL, false},
    {"fix.audio.codec", T_STR, F(fix.audio.codec), 0, 0, 0, NULL, false},
    {"fix.audio.bitrate", T_SIZE, F(fix.audio.bitrate), 0, 8000, 1e6, NULL, false},
    {"fix.audio.sample_rate", T_INT, F(fix.audio.sample_rate), 0, 8000, 192000, NULL, false},
    {"fix.audio.channels", T_INT, F(fix.audio.channels), 0, 1, 8, NULL, false},
    {"fix.cover", T_MAP, 0, 0, 0, 0, NULL, false},
    {"fix.cover.image", T_PSTR, F(fix.cover_image), 0, 0, 0, NULL, false},
    {"fix.cover.duration_ms", T_INT, F(fix.cover_duration_ms), 0, 1, 10000, NULL, false},
    {"fix.audio.loudness", T_NMAP, F(fix.audio.loudness.enabled), 0, 0, 0, NULL, false},
    /* loudnorm's own bounds */
    {"fix.audio.loudness.target", T_DOUBLE, F(fix.audio.loudness.target), 0, -70, -5, NULL, false},
    {"fix.audio.loudness.true_peak", T_DOUBLE, F(fix.audio.loudness.true_peak), 0, -9, 0, NULL,
     false},
    {"fix.audio.loudness.range", T_DOUBLE, F(fix.audio.loudness.range), 0, 1, 50, NULL, false},
    {"chunk", T_MAP, 0, 0, 0, 0, NULL, false},
    {"chunk.size", T_SIZE, F(chunk.size), 0, 1, BIG, NULL, false},
    {"chunk.min", T_SIZE, F(chunk.min), 0, 1, BIG, NULL, false},
    {"chunk.max", T_SIZE, F(chunk.max), 0, 1, BIG, NULL, false},
    {"chunk.final_max", T_SIZE, F(chunk.final_max), 0, 1, BIG, NULL, false},
    {"chunk.max_count", T_INT, F(chunk.max_count), 0, 1, 100000, NULL, false},
    {"upload", T_MAP, 0, 0, 0, 0, NULL, false},
    {"upload.sink", T_ENUM, F(upload.sink), 0, 0, 0, sink_names, false},
    {"upload.directory", T_MAP, 0, 0, 0, 0, NULL, false},
    {"upload.directory.path", T_PSTR, F(upload.directory_path), 0, 0, 0, NULL, false},
    {"upload.tiktok", T_MAP, 0, 0, 0, 0, NULL, false},
    {"upload.tiktok.api_base", T_PSTR, F(upload.tiktok.api_base), 0, 0, 0, NULL, false},
    {"upload.tiktok.auth_base", T_PSTR, F(upload.tiktok.auth_base), 0, 0, 0, NULL, false},
    {"upload.tiktok.client_key", T_PSTR, F(upload.tiktok.client_key), 0, 0, 0, NULL, false},
    {"upload.tiktok.client_secret", T_PSTR, F(upload.tiktok.client_secret), 0, 0, 0, NULL, true},
    {"upload.tiktok.mode", T_ENUM, F(upload.tiktok.mode), 0, 0, 0, mode_names, false},
    {"upload.tiktok.privacy_level", T_STR, F(upload.tiktok.privacy_level), 0, 0, 0, NULL, false},
    {"upload.tiktok.caption", T_PSTR, F(upload.tiktok.caption), 0, 0, 0, NULL, false},
    {"upload.tiktok.disable_comment", T_BOOL, F(upload.tiktok.disable_comment), 0, 0, 0, NULL,
     false},
    {"upload.tiktok.disable_duet", T_BOOL, F(upload.tiktok.disable_duet), 0, 0, 0, NULL, false},
    {"upload.tiktok.disable_stitch", T_BOOL, F(upload.tiktok.disable_stitch), 0, 0, 0, NULL,
     false},
    {"upload.tiktok.video_cover_timestamp_ms", T_INT64, F(upload.tiktok.video_cover_timestamp_ms),
     0, 0, BIG, NULL, false},
    {"upload.tiktok.brand_content_toggle", T_BOOL, F(upload.tiktok.brand_content_toggle), 0, 0,
     0, NULL, false},
    {"upload.tiktok.brand_organic_toggle", T_BOOL, F(upload.tiktok.brand_organic_toggle), 0, 0,
     0, NULL, false},
    {"upload.tiktok.is_aigc", T_BOOL, F(upload.tiktok.is_aigc), 0, 0, 0, NULL, false},
    {"upload.tiktok.token_file", T_PSTR, F(upload.tiktok.token_file), 0, 0, 0, NULL, false},
    {"upload.tiktok.redirect_uri", T_PSTR, F(upload.tiktok.redirect_uri), 0, 0, 0, NULL, false},
    {"upload.tiktok.scope", T_PSTR, F(upload.tiktok.scope), 0, 0, 0, NULL, false},
    {"upload.tiktok.daily_limit", T_INT, F(upload.tiktok.daily_limit), 0, 0, 100000, NULL, false},
    {"upload.tiktok.rate_window", T_DOUBLE, F(upload.tiktok.rate_window), 0, 0.01, 3600, NULL,
     false},
    {"upload.tiktok.status_deadline", T_DOUBLE, F(upload.tiktok.status_deadline), 0, 0, 86400,
     NULL, false},
    {"upload.tiktok.status_interval", T_DOUBLE, F(upload.tiktok.status_interval), 0, 0.01, 3600,
     NULL, false},
    {"upload.tiktok.timeout", T_DOUBLE, F(upload.tiktok.timeout), 0, 0.1, 86400, NULL, false},
    {"upload.tiktok.max_retries", T_INT, F(upload.tiktok.max_retries), 0, 0, 100, NULL, false},
    {"upload.tiktok.shared_limits", T_PSTR, F(upload.tiktok.shared_limits), 0, 0, 0, NULL, false},
    {"upload.tiktok.on_failed", T_ENUM, F(upload.tiktok.on_failed), 0, 0, 0, on_failed_names,
     false},
    {"upload.tiktok.review", T_BOOL, F(upload.tiktok.review), 0, 0, 0, NULL, false},
    {"pipeline", T_MAP, 0, 0, 0, 0, NULL, false},
    {"pipeline.probe_workers", T_INT, F(pipeline.probe_workers), 0, 0, 256, NULL, false},
    {"pipeline.fit_workers", T_INT, F(pipeline.fit_workers), 0, 0, 256, NULL, false},
    {"pipeline.upload_workers", T_INT, F(pipeline.upload_workers), 0, 0, 64, NULL, false},
    {"pipeline.queue_depth", T_INT, F(pipeline.queue_depth), 0, 1, 100000, NULL, false},
    {"pipeline.max_pending_uploads", T_INT, F(pipeline.max_pending_uploads), 0, 1, 100000, NULL,
     false},
    {"pipeline.settle_seconds", T_DOUBLE, F(pipeline.settle_seconds), 0, 0, 3600, NULL, false},
    {"pipeline.max_attempts", T_INT, F(pipeline.max_attempts), 0, 1, 100, NULL, false},
    {"queue", T_MAP, 0, 0, 0, 0, NULL, false},
    {"queue.max_attempts", T_INT, F(queue.max_attempts), 0, 1, 100, NULL, false},
    {"queue.reclaim_after", T_DOUBLE, F(queue.reclaim_after), 0, 1, 86400, NULL, false},
    {"queue.claim_lease", T_DOUBLE, F(queue.claim_lease), 0, 1, 86400, NULL, false},
    {"limits", T_MAP, 0, 0, 0, 0, NULL, false},
    {"limits.max_pixels", T_INT64, F(limits.max_pixels), 0, 1, BIG, NULL, false},
    {"limits.max_streams", T_INT, F(limits.max_streams), 0, 1, 100000, NULL, false},
    {"limits.probe_size", T_SIZE, F(limits.probe_size), 0, 32, BIG, NULL, false},
    {"limits.analyze_duration", T_DOUBLE, F(limits.analyze_duration), 0, 0, 86400, NULL, false},
    {"limits.probe_timeout", T_DOUBLE, F(limits.probe_timeout), 0, 0.1, 86400, NULL, false},
    {"limits.max_samples", T_INT64, F(limits.max_samples), 0, 1, BIG, NULL, false},
    {"limits.max_output_frames", T_INT64, F(limits.max_output_frames), 0, 1, BIG, NULL, false},
    {"limits.max_pixel_rate", T_INT64, F(limits.max_pixel_rate), 0, 1, BIG, NULL, false},
    {"limits.max_frame_gap", T_DOUBLE, F(limits.max_frame_gap), 0, 0.01, 86400, NULL, false},
    {"preview", T_MAP, 0, 0, 0, 0, NULL, false},
    {"preview.safe_zone", T_MAP, 0, 0, 0, 0, NULL, false},
    {"preview.safe_zone.top", T_INT, F(preview.top), 0, 0, 1920, NULL, false},
    {"preview.safe_zone.bottom", T_INT, F(preview.bottom), 0, 0, 1920, NULL, false},
    {"preview.safe_zone.left", T_INT, F(preview.left), 0, 0, 1080, NULL, false},
    {"preview.safe_zone.right", T_INT, F(preview.right), 0, 0, 1080, NULL, false},
    {"preview.safe_zone.rail_width", T_INT, F(preview.rail_width), 0, 0, 1080, NULL, false},
    {"preview.safe_zone.rail_from_y", T_INT, F(preview.rail_from_y), 0, 0, 1920, NULL, false},
    {"preview.ui_overlap_threshold", T_DOUBLE, F(preview.ui_overlap_threshold), 0, 0, 1, NULL,
     false},
};
#undef F

typedef struct {
    char *key;
    char *message;
} deferred;

typedef struct {
    tp_node *tree;
    char **files; /* names referenced by tree nodes */
    size_t n_files;
    deferred *deferred;
    size_t n_deferred;
} profile_priv;

static const schema_row *schema_find(const char *path)
{
    for (size_t i = 0; i < TP_ARRAY_LEN(schema); i++)
        if (!strcmp(schema[i].path, path))
            return &schema[i];
    return NULL;
}

/* "did you mean" among keys with the same parent, else among all keys. */
static const char *schema_suggest(const char *path)
{
    const char *best = NULL;
    int best_d = 4;
    const char *dot = strrchr(path, '.');
    size_t plen = dot ? (size_t)(dot - path) : 0;
    const char *leaf = dot ? dot + 1 : path;
    for (size_t i = 0; i < TP_ARRAY_LEN(schema); i++) {
        const char *p = schema[i].path;
        const char *pd = strrchr(p, '.');
        size_t pl = pd ? (size_t)(pd - p) : 0;
        int d;
        if (pl == plen && !strncmp(p, path, plen))
            d = tp_edit_distance(leaf, pd ? pd + 1 : p);
        else
            d = tp_edit_distance(path, p) + 1;
        if (d < best_d) {
            best_d = d;
            best = p;
        }
    }
    return best;
}

const char *const *tp_profile_builtin_names(void)
{
    static const char *names[16];
    /* Built once from const data; identical on every call, so concurrent calls are benign. */
    size_t n = 0;
    for (size_t i = 0; tp_builtin_profile_data[i][0] && n + 1 < TP_ARRAY_LEN(names); i++)
        names[n++] = tp_builtin_profile_data[i][0];
    names[n] = NULL;
    return names;
}

static const char *builtin_text(const char *name)
{
    for (size_t i = 0; tp_builtin_profile_data[i][0]; i++)
        if (!strcmp(tp_builtin_profile_data[i][0], name))
            return tp_builtin_profile_data[i][1];
    return NULL;
}

static const char *priv_intern_file(profile_priv *pp, const char *name)
{
    char **files = realloc(pp->files, (pp->n_files + 1) * sizeof(*files));
    if (!files)
        return NULL;
    pp->files = files;
    files[pp->n_files] = tp_strdup(name);
    return files[pp->n_files++];
}

static int read_file(const char *path, char **out, size_t *len, tp_error *err)
{
    /* O_NONBLOCK: opening a FIFO without a writer would otherwise wait for ever; regular files
     * ignore the flag. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return tp_error_set(err, errno == ENOENT ? TP_ECONFIG : TP_EIO, errno,
                            "%s: cannot open profile: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return tp_error_set(err, TP_ECONFIG, 0, "%s: not a regular file", path);
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    }
    char *buf = malloc(MAX_PROFILE_BYTES + 1);
    if (!buf) {
        fclose(f);
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    }
    size_t n = fread(buf, 1, MAX_PROFILE_BYTES + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || n > MAX_PROFILE_BYTES) {
        free(buf);
        return tp_error_set(err, TP_ECONFIG, 0, "%s: %s", path,
                            bad ? "read error" : "profile larger than 1 MiB");
    }
    buf[n] = '\0';
    if (st.st_mode & 0044) {
        /* A profile with a literal secret must not be world-readable: warn, do not fail. */
        if (strstr(buf, "client_secret:") && !strstr(buf, "client_secret: ${") &&
            !strstr(buf, "client_secret: \"${"))
            tp_log(TP_LOG_WARN, "%s holds a client_secret and other users can read it "
                                "(chmod 600 it, or use ${TIKTOK_CLIENT_SECRET})", path);
    }
    *out = buf;
    *len = n;
    return 0;
}

static bool looks_like_path(const char *s)
{
    return strchr(s, '/') || strstr(s, ".yaml") || strstr(s, ".yml");
}

static int load_chain(profile_priv *pp, const char *ref, const char *from_dir, int depth,
                      char **chain, tp_node **out, const tp_node *ref_node, tp_error *err);

/* Replace *tree by its extends chain merged under it (base first). label is the file the
 * tree came from (NULL for built-ins and buffers: relative paths are then from the cwd). */
static int resolve_extends(profile_priv *pp, tp_node **out, const char *label, int depth,
                           char **chain, tp_error *err)
{
    int rc = 0;
    tp_node *ext = tp_tree_get(*out, "extends");
    if (ext && !(ext->kind == TP_NODE_SCALAR && tp_scalar_is_null(ext))) {
        if (ext->kind != TP_NODE_SCALAR) {
            rc = tp_error_set(err, TP_ECONFIG, 0, "%s:%d:%d: extends: expected a profile name or "
                              "path, got a %s", ext->file, ext->line, ext->col,
                              ext->kind == TP_NODE_MAP ? "map" : "list");
            goto fail;
        }
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s", label ? label : ".");
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        tp_node *base = NULL;
        rc = load_chain(pp, ext->value, dir, depth + 1, chain, &base, ext, err);
        if (rc < 0)
            goto fail;
        rc = tp_tree_merge(base, *out);
        *out = base;
        if (rc < 0)
            return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    }
    return 0;
fail:
    tp_tree_free(*out);
    *out = NULL;
    return rc;
}

/* Load name-or-path and its extends chain into one merged tree (base first). */
static int load_chain(profile_priv *pp, const char *ref, const char *from_dir, int depth,
                      char **chain, tp_node **out, const tp_node *ref_node, tp_error *err)
{
    char *text = NULL;
    size_t len = 0;
    const char *label;
    char pathbuf[PATH_MAX];
    int rc = 0;
    const char *builtin = looks_like_path(ref) ? NULL : builtin_text(ref);
    if (builtin) {
        snprintf(pathbuf, sizeof(pathbuf), "builtin:%s", ref);
        label = priv_intern_file(pp, pathbuf);
    } else {
        if (!looks_like_path(ref) && access(ref, F_OK) != 0) {
            const char *const *names = tp_profile_builtin_names();
            char list[256] = "";
            for (size_t i = 0; names[i]; i++) {
                strncat(list, i ? ", " : "", sizeof(list) - strlen(list) - 1);
                strncat(list, names[i], sizeof(list) - strlen(list) - 1);
            }
            if (ref_node)
                return tp_error_set(err, TP_ECONFIG, 0,
                                    "%s:%d:%d: unknown profile '%s' (built-ins: %s; or a path)",
                                    ref_node->file, ref_node->line, ref_node->col, ref, list);
            return tp_error_set(err, TP_ECONFIG, 0,
                                "unknown profile '%s' (built-ins: %s; or a file path)", ref, list);
        }
        if (ref[0] != '/' && from_dir)
            snprintf(pathbuf, sizeof(pathbuf), "%s/%s", from_dir, ref);
        else
            snprintf(pathbuf, sizeof(pathbuf), "%s", ref);
        char real[PATH_MAX];
        if (realpath(pathbuf, real))
            snprintf(pathbuf, sizeof(pathbuf), "%s", real);
        label = priv_intern_file(pp, pathbuf);
    }
    if (!label)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    for (int i = 0; i < depth; i++)
        if (!strcmp(chain[i], label)) {
            if (ref_node)
                return tp_error_set(err, TP_ECONFIG, 0, "%s:%d:%d: extends cycle: %s is already "
                                    "being loaded", ref_node->file, ref_node->line, ref_node->col,
                                    label);
            return tp_error_set(err, TP_ECONFIG, 0, "extends cycle at %s", label);
        }
    if (depth >= MAX_EXTENDS_DEPTH)
        return tp_error_set(err, TP_ECONFIG, 0, "%s: extends chain deeper than %d", label,
                            MAX_EXTENDS_DEPTH);
    chain[depth] = (char *)label;
    if (builtin) {
        rc = tp_tree_parse(out, builtin, strlen(builtin), label, err);
    } else {
        rc = read_file(label, &text, &len, err);
        if (rc == 0)
            rc = tp_tree_parse(out, text, len, label, err);
        free(text);
    }
    if (rc < 0)
        return rc;
    return resolve_extends(pp, out, builtin ? NULL : label, depth, chain, err);
}

/* ${VAR} and ${VAR:-default}. Returns malloc'd string, or NULL with *missing set to the unset
 * variable's name (static buffer in caller). */
static char *expand_env(const char *s, char *missing, size_t missing_size)
{
    size_t cap = strlen(s) + 1, len = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    char name[256]; /* outlives the branch: a default value points into it */
    for (const char *p = s; *p;) {
        const char *val = NULL;
        size_t vlen = 0;
        const char *close = p[0] == '$' && p[1] == '{' ? strchr(p + 2, '}') : NULL;
        if (close) {
            size_t nlen = (size_t)(close - (p + 2));
            if (nlen >= sizeof(name))
                nlen = sizeof(name) - 1;
            memcpy(name, p + 2, nlen);
            name[nlen] = '\0';
            char *def = strstr(name, ":-");
            if (def) {
                *def = '\0';
                def += 2;
            }
            val = getenv(name);
            if ((!val || !*val) && def)
                val = def;
            if (!val) {
                snprintf(missing, missing_size, "%s", name);
                free(out);
                return NULL;
            }
            vlen = strlen(val);
            p = close + 1;
        } else {
            val = p;
            vlen = 1;
            p++;
        }
        if (len + vlen + 1 > cap) {
            cap = (len + vlen + 1) * 2;
            char *n = realloc(out, cap);
            if (!n) {
                free(out);
                return NULL;
            }
            out = n;
        }
        memcpy(out + len, val, vlen);
        len += vlen;
    }
    out[len] = '\0';
    return out;
}

/* Where a value came from, as the start of a message: "FILE:LINE:COL: ", or "--set " for a
 * --set value (which has no position worth showing: "--set fix.fill: 'blurr' is not ..."). */
typedef struct {
    char s[4200];
} tp_where;

static tp_where where(const tp_node *n)
{
    tp_where w;
    if (n->file && !strcmp(n->file, "--set"))
        snprintf(w.s, sizeof(w.s), "--set ");
    else
        snprintf(w.s, sizeof(w.s), "%s:%d:%d: ", n->file ? n->file : "?", n->line, n->col);
    return w;
}

static int type_error(const tp_node *n, const char *path, const char *expected, tp_error *err)
{
    const char *got = n->kind == TP_NODE_MAP ? "a map" : n->kind == TP_NODE_SEQ ? "a list" : NULL;
    if (got)
        return tp_error_set(err, TP_ECONFIG, 0, "%s%s: expected %s, got %s", where(n).s, path,
                            expected, got);
    return tp_error_set(err, TP_ECONFIG, 0, "%s%s: expected %s, got '%s'", where(n).s, path,
                        expected, n->value);
}

static int range_error(const tp_node *n, const char *path, double v, const schema_row *r,
                       tp_error *err)
{
    return tp_error_set(err, TP_ECONFIG, 0, "%s%s: %g is out of range [%g, %g]", where(n).s, path,
                        v, r->min, r->max);
}

/* The scalar's text with ${VAR} expanded, for non-string keys: an unset variable is an error
 * now, since the value is needed to build the profile. *tmp receives what to free. */
static const char *expanded_scalar(const tp_node *n, const schema_row *r, char **tmp,
                                   tp_error *err)
{
    *tmp = NULL;
    if (!strstr(n->value, "${"))
        return n->value;
    char missing[256] = "";
    *tmp = expand_env(n->value, missing, sizeof(missing));
    if (*tmp)
        return *tmp;
    if (!missing[0])
        tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    else
        tp_error_set(err, TP_ECONFIG, 0,
                     "%s%s: environment variable %s is not set (set it, or write "
                     "${%s:-default})",
                     where(n).s, r->path, missing, missing);
    return NULL;
}

static int parse_number(const tp_node *n, const schema_row *r, double *out, tp_error *err)
{
    if (n->kind != TP_NODE_SCALAR)
        return type_error(n, r->path, "a number", err);
    char *tmp = NULL;
    const char *s = expanded_scalar(n, r, &tmp, err);
    if (!s)
        return err->code;
    int rc = 0;
    if (r->type == T_SIZE) {
        int64_t v;
        if (tp_parse_size(s, &v) < 0)
            rc = type_error(n, r->path, "a size like 10MB, 1GiB or 15M", err);
        else
            *out = (double)v;
    } else {
        char *end = NULL;
        errno = 0;
        double v = strtod(s, &end);
        if (!*s || errno || *end || v != v)
            rc = type_error(n, r->path, "a number", err);
        /* Converting a double outside long long's range is undefined: test the range first
         * (found by fuzz_profile). */
        else if ((r->type == T_INT || r->type == T_INT64) &&
                 (!(v > -0x1p63 && v < 0x1p63) || v != (double)(long long)v))
            rc = type_error(n, r->path, "a whole number", err);
        else
            *out = v;
    }
    if (rc == 0 && (*out < r->min || *out > r->max))
        rc = range_error(n, r->path, *out, r, err);
    free(tmp);
    return rc;
}

static int add_deferred(profile_priv *pp, const char *key, const char *msg)
{
    deferred *d = realloc(pp->deferred, (pp->n_deferred + 1) * sizeof(*d));
    if (!d)
        return TP_ENOMEM;
    pp->deferred = d;
    d[pp->n_deferred].key = tp_strdup(key);
    d[pp->n_deferred].message = tp_strdup(msg);
    pp->n_deferred++;
    return 0;
}

static int scalar_text(const tp_node *n, const schema_row *r, profile_priv *pp, char **out,
                       tp_error *err)
{
    if (n->kind != TP_NODE_SCALAR)
        return type_error(n, r->path, "a string", err);
    char missing[256] = "";
    char *v = expand_env(n->value, missing, sizeof(missing));
    if (v) {
        *out = v;
        return 0;
    }
    if (!missing[0])
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    char msg[4800]; /* FILE:LINE:COL (a path) and the message */
    snprintf(msg, sizeof(msg),
             "%s%s: environment variable %s is not set (set it, or write "
             "${%s:-default})",
             where(n).s, r->path, missing, missing);
    if (r->type != T_PSTR)
        return tp_error_set(err, TP_ECONFIG, 0, "%s", msg);
    *out = NULL;
    return add_deferred(pp, r->path, msg) < 0 ? tp_error_set(err, TP_ENOMEM, 0, "out of memory")
                                               : 1;
}

static int apply_value(tp_profile *p, profile_priv *pp, const schema_row *r, const tp_node *n,
                       tp_error *err)
{
    char *base = (char *)p;
    double v = 0;
    int rc = 0;
    char *text = NULL;
    switch (r->type) {
    case T_MAP:
        if (n->kind != TP_NODE_MAP)
            return type_error(n, r->path, "a map", err);
        return 0;
    case T_NULLSTR:
        return 0;
    case T_INT:
    case T_INT64:
    case T_SIZE:
    case T_DOUBLE:
        if ((rc = parse_number(n, r, &v, err)) < 0)
            return rc;
        if (r->type == T_INT)
            *(int *)(base + r->off) = (int)v;
        else if (r->type == T_DOUBLE)
            *(double *)(base + r->off) = v;
        else
            *(int64_t *)(base + r->off) = (int64_t)v;
        return 0;
    case T_BOOL: {
        if (n->kind != TP_NODE_SCALAR)
            return type_error(n, r->path, "true or false", err);
        const char *s = n->value;
        bool b;
        if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on"))
            b = true;
        else if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off"))
            b = false;
        else
            return type_error(n, r->path, "true or false", err);
        *(bool *)(base + r->off) = b;
        return 0;
    }
    case T_ENUM: {
        if (n->kind != TP_NODE_SCALAR)
            return type_error(n, r->path, "a name", err);
        for (int i = 0; r->enums[i]; i++)
            if (!strcmp(n->value, r->enums[i])) {
                *(int *)(base + r->off) = i;
                return 0;
            }
        char list[128] = "";
        for (int i = 0; r->enums[i]; i++) {
            strncat(list, i ? " | " : "", sizeof(list) - strlen(list) - 1);
            strncat(list, r->enums[i], sizeof(list) - strlen(list) - 1);
        }
        return tp_error_set(err, TP_ECONFIG, 0, "%s%s: '%s' is not one of %s", where(n).s, r->path,
                            n->value, list);
    }
    case T_STR:
        if ((rc = scalar_text(n, r, pp, &text, err)) < 0)
            return rc;
        if (strlen(text) >= TP_NAME_MAX) {
            free(text);
            return tp_error_set(err, TP_ECONFIG, 0, "%s%s: longer than %d characters", where(n).s,
                                r->path, TP_NAME_MAX - 1);
        }
        tp_strlcpy(base + r->off, text, TP_NAME_MAX);
        free(text);
        return 0;
    case T_PSTR: {
        char **dst = (char **)(base + r->off);
        if (n->kind == TP_NODE_SCALAR && tp_scalar_is_null(n)) {
            free(*dst);
            *dst = tp_strdup("");
            return 0;
        }
        if ((rc = scalar_text(n, r, pp, &text, err)) < 0)
            return rc;
        free(*dst);
        *dst = text; /* NULL when deferred */
        return 0;
    }
    case T_STRLIST:
    case T_ASPECTS: {
        if (n->kind != TP_NODE_SEQ)
            return type_error(n, r->path, "a list like [a, b]", err);
        if (n->n > TP_LIST_MAX)
            return tp_error_set(err, TP_ECONFIG, 0, "%s%s: more than %d entries", where(n).s,
                                r->path, TP_LIST_MAX);
        tp_strlist *l = (tp_strlist *)(base + r->off);
        tp_rational *asp = (tp_rational *)(base + r->off);
        for (size_t i = 0; i < n->n; i++) {
            const tp_node *it = n->items[i];
            if (it->kind != TP_NODE_SCALAR || strlen(it->value) >= TP_NAME_MAX)
                return type_error(it, r->path, "a short name", err);
            if (r->type == T_STRLIST) {
                tp_strlcpy(l->items[i], it->value, TP_NAME_MAX);
            } else {
                int a = 0, b = 0;
                char tail = 0;
                if (sscanf(it->value, "%d:%d%c", &a, &b, &tail) != 2 || a <= 0 || b <= 0)
                    return type_error(it, r->path, "an aspect ratio like \"9:16\"", err);
                asp[i].num = a;
                asp[i].den = b;
            }
        }
        if (r->type == T_STRLIST)
            l->n = (int)n->n;
        else
            *(int *)(base + r->off2) = (int)n->n;
        return 0;
    }
    case T_NMAP:
        /* "null" even quoted (--set KEY=null quotes its values): never a map or a range. */
        if (n->kind == TP_NODE_SCALAR && (tp_scalar_is_null(n) || !strcmp(n->value, "null"))) {
            *(bool *)(base + r->off) = false;
            return 0;
        }
        if (n->kind != TP_NODE_MAP)
            return type_error(n, r->path, "a map or null", err);
        *(bool *)(base + r->off) = true;
        if (r->off == offsetof(struct tp_profile, fix.audio.loudness.enabled)) {
            /* Keys left out of the map take the documented defaults. */
            p->fix.audio.loudness.target = -14.0;
            p->fix.audio.loudness.true_peak = -1.0;
            p->fix.audio.loudness.range = 11.0;
        }
        return 0;
    case T_NRANGE:
        if (n->kind == TP_NODE_SCALAR && (tp_scalar_is_null(n) || !strcmp(n->value, "null"))) {
            ((tp_opt_range *)(base + r->off))->set = false;
            return 0;
        }
        /* fall through - a [min, max] */
    case T_RANGE: {
        if (n->kind != TP_NODE_SEQ || n->n != 2)
            return type_error(n, r->path, "a range [min, max]", err);
        double lo, hi;
        if ((rc = parse_number(n->items[0], r, &lo, err)) < 0 ||
            (rc = parse_number(n->items[1], r, &hi, err)) < 0)
            return rc;
        if (lo > hi)
            return tp_error_set(err, TP_ECONFIG, 0, "%s%s: min %g is above max %g", where(n).s,
                                r->path, lo, hi);
        if (r->type == T_NRANGE) {
            *(tp_opt_range *)(base + r->off) = (tp_opt_range){true, lo, hi};
            return 0;
        }
        *(double *)(base + r->off) = lo;
        *(double *)(base + r->off2) = hi;
        return 0;
    }
    }
    return 0;
}

static int walk(tp_profile *p, profile_priv *pp, const tp_node *map, const char *prefix,
                tp_error *err)
{
    for (size_t i = 0; i < map->n; i++) {
        const tp_node *n = map->items[i];
        char path[256];
        snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", n->key);
        const schema_row *r = schema_find(path);
        if (!r) {
            const char *s = schema_suggest(path);
            if (s)
                return tp_error_set(err, TP_ECONFIG, 0,
                                    "%s:%d:%d: unknown key '%s' (did you mean '%s'?)", n->file,
                                    n->kline, n->kcol, path, s);
            return tp_error_set(err, TP_ECONFIG, 0, "%s:%d:%d: unknown key '%s'", n->file,
                                n->kline, n->kcol, path);
        }
        int rc = apply_value(p, pp, r, n, err);
        if (rc < 0)
            return rc;
        if ((r->type == T_MAP || (r->type == T_NMAP && n->kind == TP_NODE_MAP)) &&
            (rc = walk(p, pp, n, path, err)) < 0)
            return rc;
    }
    return 0;
}

static int check_consistency(const tp_profile *p, tp_error *err)
{
    const char *src = p->source;
    if (p->rules.min_side > p->rules.max_side)
        return tp_error_set(err, TP_ECONFIG, 0, "%s: rules.min_side %d is above rules.max_side %d",
                            src, p->rules.min_side, p->rules.max_side);
    if ((p->fix.width & 1) || (p->fix.height & 1))
        return tp_error_set(err, TP_ECONFIG, 0, "%s: fix.width and fix.height must be even (%dx%d)",
                            src, p->fix.width, p->fix.height);
    /* An inbox draft is finished (privacy, interactions, disclosure) by the creator in the TikTok
     * app: there is nothing to review before it is sent. */
    if (p->upload.tiktok.review && p->upload.tiktok.mode == TP_POST_DRAFT)
        return tp_error_set(err, TP_ECONFIG, 0,
                            "%s: upload.tiktok.review needs upload.tiktok.mode: direct (a draft "
                            "is reviewed and posted by the creator in the TikTok app's inbox); "
                            "set upload.tiktok.review: false or mode: direct",
                            src);
    const tp_chunk_rules *c = &p->chunk;
    if (c->min > c->max || c->size < c->min || c->size > c->max || c->final_max < c->max)
        return tp_error_set(err, TP_ECONFIG, 0,
                            "%s: chunk sizes must satisfy min <= size <= max <= final_max", src);
    return 0;
}

static void emit_yaml(const tp_node *n, int indent, const char *prefix, bool hashing, char **buf,
                      size_t *len, size_t *cap);

/* Where a key only says how to run, not what to make: left out of the profile hash, so turning
 * it on does not make the ledger see every file as new (and post it again). */
static bool unhashed(const char *path)
{
    /* queue.*: how `tokprep worker` retries and takes jobs over, not what it makes. */
    /* on_failed: what happens after a refused post, not what a first post is made of. */
    /* review: whether a person approves each post first; the outputs are the same, and a
     * ledger whose posts are done must not see them as new (and offer them again) when review
     * is turned on. */
    return !strcmp(path, "upload.tiktok.shared_limits") ||
           !strcmp(path, "upload.tiktok.on_failed") || !strcmp(path, "upload.tiktok.review") ||
           !strcmp(path, "upload.tiktok.rate_window") || !strcmp(path, "queue") ||
           /* preview.*: what `tokprep preview` draws, not what fit makes. */
           !strcmp(path, "preview");
}

static void buf_add(char **buf, size_t *len, size_t *cap, const char *s)
{
    size_t n = strlen(s);
    if (*len + n + 1 > *cap) {
        size_t nc = (*len + n + 1) * 2;
        char *b = realloc(*buf, nc);
        if (!b)
            return;
        *buf = b;
        *cap = nc;
    }
    memcpy(*buf + *len, s, n + 1);
    *len += n;
}

static void emit_scalar(const tp_node *n, char **buf, size_t *len, size_t *cap)
{
    const char *v = n->value;
    bool plain = *v && !n->quoted;
    for (const char *c = v; *c && plain; c++)
        if (strchr(":#{}[],&*!|>'\"%@`", *c) || (unsigned char)*c < 0x20)
            plain = false;
    if (plain && !tp_scalar_is_null(n)) {
        buf_add(buf, len, cap, v);
        return;
    }
    if (tp_scalar_is_null(n) && !n->quoted) {
        buf_add(buf, len, cap, "null");
        return;
    }
    buf_add(buf, len, cap, "\"");
    for (const char *c = v; *c; c++) {
        char tmp[8];
        if (*c == '"' || *c == '\\')
            snprintf(tmp, sizeof(tmp), "\\%c", *c);
        else if ((unsigned char)*c < 0x20)
            snprintf(tmp, sizeof(tmp), "\\x%02x", (unsigned char)*c);
        else
            snprintf(tmp, sizeof(tmp), "%c", *c);
        buf_add(buf, len, cap, tmp);
    }
    buf_add(buf, len, cap, "\"");
}

static void emit_yaml(const tp_node *n, int indent, const char *prefix, bool hashing, char **buf,
                      size_t *len, size_t *cap)
{
    char pad[80];
    snprintf(pad, sizeof(pad), "%*s", indent, "");
    for (size_t i = 0; i < n->n; i++) {
        const tp_node *c = n->items[i];
        char path[256];
        snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", c->key);
        if (hashing && unhashed(path))
            continue;
        /* A key added as null (not checked, unchanged) leaves the hash of every profile that
         * does not set it as it was, so a ledger does not see its files as new. */
        if (hashing && c->kind == TP_NODE_SCALAR &&
            (tp_scalar_is_null(c) || !strcmp(c->value, "null")) &&
            (!strcmp(path, "rules.loudness") || !strcmp(path, "fix.audio.loudness")))
            continue;
        buf_add(buf, len, cap, pad);
        buf_add(buf, len, cap, c->key);
        buf_add(buf, len, cap, ":");
        const schema_row *r = schema_find(path);
        if (r && r->secret) {
            buf_add(buf, len, cap, " \"***\"\n");
        } else if (c->kind == TP_NODE_MAP) {
            buf_add(buf, len, cap, "\n");
            emit_yaml(c, indent + 2, path, hashing, buf, len, cap);
        } else if (c->kind == TP_NODE_SEQ) {
            buf_add(buf, len, cap, " [");
            for (size_t j = 0; j < c->n; j++) {
                if (j)
                    buf_add(buf, len, cap, ", ");
                if (c->items[j]->kind == TP_NODE_SCALAR)
                    emit_scalar(c->items[j], buf, len, cap);
            }
            buf_add(buf, len, cap, "]\n");
        } else {
            buf_add(buf, len, cap, " ");
            emit_scalar(c, buf, len, cap);
            buf_add(buf, len, cap, "\n");
        }
    }
}

static char *dump(const tp_profile *p, bool hashing)
{
    const profile_priv *pp = p->priv;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    buf_add(&buf, &len, &cap, "");
    if (pp && pp->tree)
        emit_yaml(pp->tree, 0, "", hashing, &buf, &len, &cap);
    return buf;
}

char *tp_profile_dump(const tp_profile *p)
{
    return dump(p, false);
}

static void priv_free(profile_priv *pp)
{
    if (!pp)
        return;
    tp_tree_free(pp->tree);
    for (size_t i = 0; i < pp->n_files; i++)
        free(pp->files[i]);
    free(pp->files);
    for (size_t i = 0; i < pp->n_deferred; i++) {
        free(pp->deferred[i].key);
        free(pp->deferred[i].message);
    }
    free(pp->deferred);
    free(pp);
}

void tp_profile_free(tp_profile *p)
{
    if (!p)
        return;
    free(p->name);
    free(p->source);
    free(p->opened_as);
    free(p->upload.directory_path);
    free(p->fix.cover_image);
    tp_tiktok_conf *t = &p->upload.tiktok;
    free(t->api_base);
    free(t->auth_base);
    free(t->client_key);
    free(t->client_secret);
    free(t->caption);
    free(t->token_file);
    free(t->redirect_uri);
    free(t->scope);
    free(t->shared_limits);
    priv_free(p->priv);
    free(p);
}

const char *tp_profile_name(const tp_profile *p)
{
    return p ? p->name : NULL;
}

const char *tp_profile_opened_as(const tp_profile *p)
{
    return !p ? NULL : p->opened_as ? p->opened_as : p->name;
}

const char *tp_profile_sink_name(const tp_profile *p)
{
    return p->upload.sink == TP_SINK_TIKTOK      ? "tiktok"
           : p->upload.sink == TP_SINK_DIRECTORY ? "directory"
                                                 : "none";
}

const char *tp_profile_post_mode_name(const tp_profile *p)
{
    return p->upload.tiktok.mode == TP_POST_DRAFT ? "draft" : "direct";
}

const char *tp_profile_fill_name(const tp_profile *p)
{
    return p->fix.fill == TP_FILL_BLUR ? "blur" : p->fix.fill == TP_FILL_PAD ? "pad" : "crop";
}

void tp_profile_fix_size(const tp_profile *p, int *width, int *height)
{
    if (width)
        *width = p->fix.width;
    if (height)
        *height = p->fix.height;
}

int tp_profile_require(const tp_profile *p, const char *key, tp_error *err)
{
    const profile_priv *pp = p->priv;
    for (size_t i = 0; pp && i < pp->n_deferred; i++)
        if (!strcmp(pp->deferred[i].key, key))
            return tp_error_set(err, TP_ECONFIG, 0, "%s", pp->deferred[i].message);
    return 0;
}

bool tp_strlist_has(const tp_strlist *l, const char *s)
{
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->items[i], s))
            return true;
    return false;
}

static int profile_open(tp_profile **out, const char *name_or_path, const char *text,
                        size_t text_len, const char *const *sets, size_t n_sets, tp_error *err)
{
    *out = NULL;
    tp_profile *p = calloc(1, sizeof(*p));
    profile_priv *pp = calloc(1, sizeof(*pp));
    tp_node *tree = NULL, *user = NULL;
    char *chain[MAX_EXTENDS_DEPTH + 1];
    int rc = 0;
    if (!p || !pp) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto fail;
    }
    p->priv = pp;
    if (!name_or_path || !*name_or_path)
        name_or_path = "tiktok";
    /* Keys a profile leaves out take the built-in tiktok profile's values. */
    if ((rc = load_chain(pp, "tiktok", NULL, 0, chain, &tree, NULL, err)) < 0)
        goto fail;
    if (text) {
        const char *label = priv_intern_file(pp, name_or_path);
        chain[0] = (char *)label;
        if (!label)
            rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        else if ((rc = tp_tree_parse(&user, text, text_len, label, err)) == 0)
            rc = resolve_extends(pp, &user, NULL, 0, chain, err);
    } else {
        rc = load_chain(pp, name_or_path, NULL, 0, chain, &user, NULL, err);
    }
    if (rc < 0)
        goto fail;
    if ((rc = tp_tree_merge(tree, user)) < 0) {
        user = NULL;
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto fail;
    }
    user = NULL;
    for (size_t i = 0; i < n_sets; i++) {
        const char *eq = strchr(sets[i], '=');
        if (!eq || eq == sets[i]) {
            rc = tp_error_set(err, TP_ECONFIG, 0, "--set %s: expected key.path=value", sets[i]);
            goto fail;
        }
        char key[256];
        size_t klen = (size_t)(eq - sets[i]);
        if (klen >= sizeof(key)) {
            rc = tp_error_set(err, TP_ECONFIG, 0, "--set: key too long");
            goto fail;
        }
        memcpy(key, sets[i], klen);
        key[klen] = '\0';
        const schema_row *r = schema_find(key);
        if (!r || r->type == T_MAP || r->type == T_NULLSTR) {
            const char *s = schema_suggest(key);
            if (r)
                rc = tp_error_set(err, TP_ECONFIG, 0, "--set %s: '%s' is not a single value",
                                  sets[i], key);
            else if (s)
                rc = tp_error_set(err, TP_ECONFIG, 0,
                                  "--set %s: unknown key '%s' (did you mean '%s'?)", sets[i], key,
                                  s);
            else
                rc = tp_error_set(err, TP_ECONFIG, 0, "--set %s: unknown key '%s'", sets[i], key);
            goto fail;
        }
        if ((rc = tp_tree_set(tree, key, eq + 1, err)) < 0)
            goto fail;
    }
    pp->tree = tree;
    tree = NULL;
    if ((rc = walk(p, pp, pp->tree, "", err)) < 0)
        goto fail;
    p->source = tp_strdup(pp->n_files ? pp->files[pp->n_files - 1] : name_or_path);
    p->opened_as = tp_strdup(name_or_path);
    if (!p->name || !*p->name) {
        rc = tp_error_set(err, TP_ECONFIG, 0, "%s: the profile has no name", p->source);
        goto fail;
    }
    if ((rc = check_consistency(p, err)) < 0)
        goto fail;
    int cores = tp_cpu_count();
    if (p->pipeline.probe_workers == 0)
        p->pipeline.probe_workers = cores;
    if (p->pipeline.fit_workers == 0)
        p->pipeline.fit_workers = cores;
    if (p->pipeline.upload_workers == 0)
        p->pipeline.upload_workers = cores;
    char *canon = dump(p, true);
    if (!canon) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto fail;
    }
    tp_sha256_hex(canon, strlen(canon), p->hash);
    free(canon);
    *out = p;
    return 0;
fail:
    tp_tree_free(tree);
    tp_tree_free(user);
    tp_profile_free(p);
    if (!p)
        priv_free(pp);
    return rc < 0 ? rc : TP_ECONFIG;
}

int tp_profile_open(tp_profile **out, const char *name_or_path, const char *const *sets,
                    size_t n_sets, tp_error *err)
{
    return profile_open(out, name_or_path, NULL, 0, sets, n_sets, err);
}

int tp_profile_open_buffer(tp_profile **out, const char *label, const char *text, size_t len,
                           const char *const *sets, size_t n_sets, tp_error *err)
{
    return profile_open(out, label ? label : "<buffer>", text, len, sets, n_sets, err);
}

size_t tp_profile_schema_count(void)
{
    return TP_ARRAY_LEN(schema);
}

int tp_profile_schema_at(size_t index, tp_profile_key_info *out)
{
    static const char *const type_names[] = {
        [T_MAP] = "map",        [T_STR] = "string",   [T_PSTR] = "string",     [T_INT] = "int",
        [T_INT64] = "int",      [T_SIZE] = "size",    [T_DOUBLE] = "number",   [T_BOOL] = "bool",
        [T_ENUM] = "choice",    [T_STRLIST] = "list", [T_ASPECTS] = "aspects", [T_RANGE] = "range",
        [T_NULLSTR] = "string", [T_NRANGE] = "range or null", [T_NMAP] = "map or null",
    };
    if (!out || index >= TP_ARRAY_LEN(schema))
        return TP_EINVAL;
    const schema_row *r = &schema[index];
    memset(out, 0, sizeof(*out));
    out->key = r->path;
    out->type = type_names[r->type];
    out->choices = r->type == T_ENUM ? r->enums : NULL;
    out->min = r->min;
    out->max = r->max;
    out->secret = r->secret;
    tp_profile_key_doc(r->path, &out->default_value, &out->help);
    return 0;
}
