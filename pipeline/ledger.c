/* The job ledger on SQLite in WAL mode, plus the content fingerprint that keys it. */
#include "pipeline/ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/tp_util.h"

struct tp_ledger {
    sqlite3 *db;
    int lock_fd; /* -1 when opened read-only */
    char *path;
    bool has_media;  /* the jobs table has the `media` column (schema 2; a read-only opener of
                      * a ledger no run has migrated yet reads NULL instead) */
    bool has_review; /* the `review` column (schema 3), the same way */
};

/* 1: first release; 2: `media` (the source's media info, so a resumed job is not probed
 * again); 3: `review` (upload.tiktok.review: the caption proposed while a post awaits review,
 * then the settings chosen when it was approved). An older ledger is migrated when a run opens
 * it (migrate()). */
#define SCHEMA_VERSION "3"

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS jobs("
    " id INTEGER PRIMARY KEY,"
    " fingerprint TEXT NOT NULL, profile_hash TEXT NOT NULL, sink TEXT NOT NULL,"
    " profile_name TEXT NOT NULL, source_path TEXT NOT NULL, source_size INTEGER NOT NULL,"
    " stage TEXT NOT NULL, status TEXT NOT NULL, verdict TEXT, outputs TEXT, media TEXT,"
    " dest TEXT, review TEXT,"
    " publish_id TEXT, upload_url TEXT, upload_url_expiry REAL NOT NULL DEFAULT 0,"
    " upload_part INTEGER NOT NULL DEFAULT 0, last_chunk INTEGER NOT NULL DEFAULT -1,"
    " posts TEXT, error TEXT, error_code TEXT, attempts INTEGER NOT NULL DEFAULT 0,"
    " created REAL NOT NULL, updated REAL NOT NULL, finished REAL NOT NULL DEFAULT 0,"
    " UNIQUE(fingerprint, profile_hash, sink));"
    "CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status);"
    "CREATE INDEX IF NOT EXISTS jobs_dest ON jobs(sink, dest);"
    "INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', '" SCHEMA_VERSION "');";

#define ROW_COLUMNS                                                                                \
    "id, fingerprint, profile_hash, sink, profile_name, source_path, source_size, stage, "         \
    "status, verdict, outputs, dest, publish_id, upload_url, upload_url_expiry, upload_part, "     \
    "last_chunk, posts, error, error_code, attempts, created, updated, finished, "

/* The column list of a SELECT: ROW_COLUMNS, the media column (NULL before schema 2) and the
 * review column (NULL before schema 3). */
static int prepare_select(tp_ledger *l, sqlite3_stmt **st, const char *tail)
{
    char *sql = tp_asprintf("SELECT " ROW_COLUMNS "%s, %s %s", l->has_media ? "media" : "NULL",
                            l->has_review ? "review" : "NULL", tail);
    int sc = sql ? sqlite3_prepare_v2(l->db, sql, -1, st, NULL) : SQLITE_NOMEM;
    free(sql);
    return sc == SQLITE_OK ? 0 : -1;
}

static const char *const stage_names[] = {"scan", "probe", "fit", "chunk", "deliver", "done"};
static const char *const status_names[] = {"queued",   "running",  "done",
                                           "failed",   "rejected", "awaiting_review"};

const char *tp_stage_name(tp_stage s)
{
    return (unsigned)s < TP_ARRAY_LEN(stage_names) ? stage_names[s] : "?";
}

const char *tp_job_status_name(tp_job_status s)
{
    return (unsigned)s < TP_ARRAY_LEN(status_names) ? status_names[s] : "?";
}

static int name_index(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; s && i < n; i++)
        if (!strcmp(names[i], s))
            return (int)i;
    return 0;
}

static int db_error(tp_ledger *l, tp_error *err, const char *what)
{
    int code = sqlite3_errcode(l->db);
    return tp_error_set(err, code == SQLITE_BUSY ? TP_ECONFLICT : TP_EIO, code,
                        "%s: ledger %s failed: %s", l->path, what, sqlite3_errmsg(l->db));
}

/* flock() rather than BEGIN EXCLUSIVE: the lock must last the whole run while readers such as
 * `tokprep status` still see the WAL, and the kernel drops it when the holder dies (kill -9). */
static int take_lock(tp_ledger *l, tp_error *err)
{
    char *lock_path = tp_asprintf("%s.lock", l->path);
    if (!lock_path)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    int rc = 0;
    /* O_NOFOLLOW: it is truncated and written; a link planted there is refused. */
    int fd = open(lock_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = tp_error_set(err, TP_EIO, errno, "%s: cannot open lock file: %s", lock_path,
                          strerror(errno));
        goto out;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        if (e == EWOULDBLOCK)
            rc = tp_error_set(err, TP_ECONFLICT, 0,
                              "%s: the ledger is in use by another tokprep (pid %s); wait for it "
                              "to finish or use another --state",
                              l->path, *pid ? pid : "unknown");
        else
            rc = tp_error_set(err, TP_EIO, e, "%s: cannot lock: %s", lock_path, strerror(e));
        close(fd);
        goto out;
    }
    char pid[32];
    int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) < 0)
        tp_log(TP_LOG_DEBUG, "%s: cannot record pid: %s", lock_path, strerror(errno));
    l->lock_fd = fd;
out:
    free(lock_path);
    return rc;
}

static bool has_column(tp_ledger *l, const char *name)
{
    sqlite3_stmt *st = NULL;
    bool found = false;
    if (sqlite3_prepare_v2(l->db, "SELECT name FROM pragma_table_info('jobs')", -1, &st, NULL) ==
        SQLITE_OK)
        while (!found && sqlite3_step(st) == SQLITE_ROW)
            found = !strcmp((const char *)sqlite3_column_text(st, 0), name);
    sqlite3_finalize(st);
    return found;
}

/* Bring a ledger written by an older tokprep up to SCHEMA_VERSION, in one transaction. Rows of
 * version 1 have no media info: a job resumed from one is probed once more (as before). */
static int migrate(tp_ledger *l, tp_error *err)
{
    static const struct {
        const char *column, *sql;
    } steps[] = {
        {"media", "ALTER TABLE jobs ADD COLUMN media TEXT;"},
        {"review", "ALTER TABLE jobs ADD COLUMN review TEXT;"},
    };
    for (size_t i = 0; i < TP_ARRAY_LEN(steps); i++) {
        if (has_column(l, steps[i].column))
            continue;
        char *sql = tp_asprintf("BEGIN IMMEDIATE; %s"
                                "UPDATE meta SET value='" SCHEMA_VERSION "' WHERE key='schema_version';"
                                "COMMIT;",
                                steps[i].sql);
        if (!sql)
            return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        int sc = sqlite3_exec(l->db, sql, NULL, NULL, NULL);
        free(sql);
        if (sc != SQLITE_OK) {
            int rc = db_error(l, err, "migration");
            sqlite3_exec(l->db, "ROLLBACK;", NULL, NULL, NULL);
            return rc;
        }
    }
    return 0;
}

int tp_ledger_open(tp_ledger **out, const char *path, bool exclusive, tp_error *err)
{
    int rc = 0;
    *out = NULL;
    tp_ledger *l = calloc(1, sizeof(*l));
    if (!l)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    l->lock_fd = -1;
    l->path = tp_strdup(path);
    if (!l->path) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto fail;
    }
    if (exclusive && (rc = take_lock(l, err)) < 0)
        goto fail;
    if (!exclusive && access(path, F_OK) != 0) {
        rc = tp_error_set(err, TP_EIO, errno, "%s: no ledger here (has `tokprep run` used it?)",
                          path);
        goto fail;
    }
    /* The ledger holds upload URLs (credentials until they expire): owner-only. */
    mode_t old_mask = umask(077);
    int flags = exclusive ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY;
    int sc = sqlite3_open_v2(path, &l->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    umask(old_mask);
    if (sc != SQLITE_OK) {
        rc = tp_error_set(err, TP_EIO, sc, "%s: cannot open ledger: %s", path,
                          l->db ? sqlite3_errmsg(l->db) : sqlite3_errstr(sc));
        goto fail;
    }
    sqlite3_busy_timeout(l->db, 5000);
    if (exclusive) {
        /* WAL: readers (`status`) never block the run. synchronous=NORMAL: a commit survives a
         * crash of this process (it is in the WAL); only a power cut can undo the last commits,
         * and every step we redo after that is idempotent (fits restart, deliveries rename over
         * the same name, uploads resume from TikTok's own Content-Range). */
        if (sqlite3_exec(l->db,
                         "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                         "PRAGMA foreign_keys=ON;",
                         NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(l->db, schema_sql, NULL, NULL, NULL) != SQLITE_OK) {
            rc = db_error(l, err, "set-up");
            goto fail;
        }
        if ((rc = migrate(l, err)) < 0)
            goto fail;
    }
    l->has_media = has_column(l, "media");
    l->has_review = has_column(l, "review");
    *out = l;
    return 0;
fail:
    tp_ledger_close(l);
    return rc;
}

int tp_ledger_open_shared(tp_ledger **out, const char *path, tp_error *err)
{
    *out = NULL;
    struct stat st;
    if (lstat(path, &st) < 0)
        return tp_error_set(err, TP_EIO, errno, "%s: no ledger here (has `tokprep run` used it?)",
                            path);
    /* As a run refuses it (check_work_folder): we are about to write it. */
    if (!S_ISREG(st.st_mode) || (st.st_uid != geteuid() && st.st_uid != 0))
        return tp_error_set(err, TP_ECONFIG, 0, "%s: the ledger is %s; refusing it", path,
                            S_ISLNK(st.st_mode)    ? "a symbolic link"
                            : !S_ISREG(st.st_mode) ? "not a regular file"
                                                   : "owned by another user");
    tp_ledger *l = calloc(1, sizeof(*l));
    if (!l || !(l->path = tp_strdup(path))) {
        free(l);
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    }
    l->lock_fd = -1;
    /* No SQLITE_OPEN_CREATE: a missing ledger is never made here. The WAL's -shm/-wal files may
     * be: SQLite gives them the ledger's own mode (0600). No umask() here: it is process-wide,
     * and a server calls this from many threads at once. */
    int sc = sqlite3_open_v2(path, &l->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (sc != SQLITE_OK) {
        int rc = tp_error_set(err, TP_EIO, sc, "%s: cannot open ledger: %s", path,
                              l->db ? sqlite3_errmsg(l->db) : sqlite3_errstr(sc));
        tp_ledger_close(l);
        return rc;
    }
    sqlite3_busy_timeout(l->db, 5000);
    l->has_media = has_column(l, "media");
    l->has_review = has_column(l, "review");
    *out = l;
    return 0;
}

void tp_ledger_close(tp_ledger *l)
{
    if (!l)
        return;
    if (l->db)
        sqlite3_close(l->db);
    if (l->lock_fd >= 0)
        close(l->lock_fd); /* releases the flock */
    free(l->path);
    free(l);
}

void tp_ledger_row_clear(tp_ledger_row *row)
{
    free(row->sink);
    free(row->profile_name);
    free(row->source_path);
    free(row->verdict);
    free(row->outputs);
    free(row->media);
    free(row->review);
    free(row->dest);
    free(row->publish_id);
    free(row->upload_url);
    free(row->posts);
    free(row->error);
    free(row->error_code);
    memset(row, 0, sizeof(*row));
    row->last_chunk = -1;
}

static char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? tp_strdup((const char *)t) : NULL;
}

static void row_from_stmt(tp_ledger_row *row, sqlite3_stmt *st)
{
    memset(row, 0, sizeof(*row));
    row->id = sqlite3_column_int64(st, 0);
    tp_strlcpy(row->fingerprint, (const char *)sqlite3_column_text(st, 1), 65);
    tp_strlcpy(row->profile_hash, (const char *)sqlite3_column_text(st, 2), 65);
    row->sink = col_text(st, 3);
    row->profile_name = col_text(st, 4);
    row->source_path = col_text(st, 5);
    row->source_size = sqlite3_column_int64(st, 6);
    row->stage = (tp_stage)name_index(stage_names, TP_ARRAY_LEN(stage_names),
                                      (const char *)sqlite3_column_text(st, 7));
    row->status = (tp_job_status)name_index(status_names, TP_ARRAY_LEN(status_names),
                                            (const char *)sqlite3_column_text(st, 8));
    row->verdict = col_text(st, 9);
    row->outputs = col_text(st, 10);
    row->dest = col_text(st, 11);
    row->publish_id = col_text(st, 12);
    row->upload_url = col_text(st, 13);
    row->upload_url_expiry = sqlite3_column_double(st, 14);
    row->upload_part = sqlite3_column_int(st, 15);
    row->last_chunk = sqlite3_column_int(st, 16);
    row->posts = col_text(st, 17);
    row->error = col_text(st, 18);
    row->error_code = col_text(st, 19);
    row->attempts = sqlite3_column_int(st, 20);
    row->created = sqlite3_column_double(st, 21);
    row->updated = sqlite3_column_double(st, 22);
    row->finished = sqlite3_column_double(st, 23);
    row->media = col_text(st, 24);
    row->review = col_text(st, 25);
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

static int select_one(tp_ledger *l, tp_ledger_row *row, sqlite3_stmt *st, tp_error *err)
{
    int sc = sqlite3_step(st);
    if (sc == SQLITE_ROW) {
        row_from_stmt(row, st);
        return 1;
    }
    if (sc == SQLITE_DONE)
        return 0;
    return db_error(l, err, "lookup");
}

int tp_ledger_find(tp_ledger *l, tp_ledger_row *row, const char *fingerprint,
                   const char *profile_hash, const char *sink, tp_error *err)
{
    sqlite3_stmt *st = NULL;
    if (prepare_select(l, &st, "FROM jobs WHERE fingerprint=?1 AND profile_hash=?2 AND sink=?3") <
        0)
        return db_error(l, err, "lookup");
    bind_text(st, 1, fingerprint);
    bind_text(st, 2, profile_hash);
    bind_text(st, 3, sink);
    int rc = select_one(l, row, st, err);
    sqlite3_finalize(st);
    return rc;
}

int tp_ledger_get(tp_ledger *l, tp_ledger_row *row, int64_t id, tp_error *err)
{
    sqlite3_stmt *st = NULL;
    if (prepare_select(l, &st, "FROM jobs WHERE id=?1") < 0)
        return db_error(l, err, "lookup");
    sqlite3_bind_int64(st, 1, id);
    int rc = select_one(l, row, st, err);
    sqlite3_finalize(st);
    return rc;
}

int tp_ledger_insert(tp_ledger *l, tp_ledger_row *row, tp_error *err)
{
    sqlite3_stmt *st = NULL;
    double now = tp_now_wall();
    if (sqlite3_prepare_v2(l->db,
                           "INSERT INTO jobs(fingerprint, profile_hash, sink, profile_name, "
                           "source_path, source_size, stage, status, attempts, created, updated)"
                           " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
                           -1, &st, NULL) != SQLITE_OK)
        return db_error(l, err, "insert");
    bind_text(st, 1, row->fingerprint);
    bind_text(st, 2, row->profile_hash);
    bind_text(st, 3, row->sink ? row->sink : "none");
    bind_text(st, 4, row->profile_name ? row->profile_name : "");
    bind_text(st, 5, row->source_path ? row->source_path : "");
    sqlite3_bind_int64(st, 6, row->source_size);
    bind_text(st, 7, tp_stage_name(row->stage));
    bind_text(st, 8, tp_job_status_name(row->status));
    sqlite3_bind_int(st, 9, row->attempts);
    sqlite3_bind_double(st, 10, now);
    int rc = 0;
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = sqlite3_extended_errcode(l->db) == SQLITE_CONSTRAINT_UNIQUE
                 ? tp_error_set(err, TP_ECONFLICT, 0, "%s: a row for this content exists", l->path)
                 : db_error(l, err, "insert");
    } else {
        row->id = sqlite3_last_insert_rowid(l->db);
        row->created = row->updated = now;
    }
    sqlite3_finalize(st);
    return rc;
}

int tp_ledger_update(tp_ledger *l, tp_ledger_row *row, tp_error *err)
{
    sqlite3_stmt *st = NULL;
    double now = tp_now_wall();
    if (sqlite3_prepare_v2(
            l->db,
            "UPDATE jobs SET source_path=?2, source_size=?3, stage=?4, status=?5, verdict=?6, "
            "outputs=?7, dest=?8, publish_id=?9, upload_url=?10, upload_url_expiry=?11, "
            "upload_part=?12, last_chunk=?13, posts=?14, error=?15, error_code=?16, "
            "attempts=?17, updated=?18, finished=?19, media=?20, review=?21 WHERE id=?1",
            -1, &st, NULL) != SQLITE_OK)
        return db_error(l, err, "update");
    if (row->status == TP_JOB_DONE || row->status == TP_JOB_FAILED ||
        row->status == TP_JOB_REJECTED)
        row->finished = now;
    else
        row->finished = 0;
    sqlite3_bind_int64(st, 1, row->id);
    bind_text(st, 2, row->source_path ? row->source_path : "");
    sqlite3_bind_int64(st, 3, row->source_size);
    bind_text(st, 4, tp_stage_name(row->stage));
    bind_text(st, 5, tp_job_status_name(row->status));
    bind_text(st, 6, row->verdict);
    bind_text(st, 7, row->outputs);
    bind_text(st, 8, row->dest);
    bind_text(st, 9, row->publish_id);
    bind_text(st, 10, row->upload_url);
    sqlite3_bind_double(st, 11, row->upload_url_expiry);
    sqlite3_bind_int(st, 12, row->upload_part);
    sqlite3_bind_int(st, 13, row->last_chunk);
    bind_text(st, 14, row->posts);
    bind_text(st, 15, row->error);
    bind_text(st, 16, row->error_code);
    sqlite3_bind_int(st, 17, row->attempts);
    sqlite3_bind_double(st, 18, now);
    sqlite3_bind_double(st, 19, row->finished);
    bind_text(st, 20, row->media);
    bind_text(st, 21, row->review);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_error(l, err, "update");
    if (rc == 0)
        row->updated = now;
    sqlite3_finalize(st);
    return rc;
}

int tp_ledger_review_set(tp_ledger *l, int64_t id, tp_job_status from, tp_job_status to,
                         const char *review_json, const char *error, const char *error_code,
                         tp_error *err)
{
    sqlite3_stmt *st = NULL;
    bool final = to == TP_JOB_DONE || to == TP_JOB_FAILED || to == TP_JOB_REJECTED;
    double now = tp_now_wall();
    if (!l->has_review)
        return tp_error_set(err, TP_ECONFLICT, 0,
                            "%s: file %lld is not awaiting review (the ledger predates review)",
                            l->path, (long long)id);
    if (sqlite3_prepare_v2(l->db,
                           "UPDATE jobs SET status=?3, review=?4, error=?5, error_code=?6, "
                           "updated=?7, finished=?8, stage=CASE WHEN ?9 THEN 'done' ELSE stage "
                           "END WHERE id=?1 AND status=?2",
                           -1, &st, NULL) != SQLITE_OK)
        return db_error(l, err, "review update");
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, tp_job_status_name(from));
    bind_text(st, 3, tp_job_status_name(to));
    bind_text(st, 4, review_json);
    bind_text(st, 5, error);
    bind_text(st, 6, error_code);
    sqlite3_bind_double(st, 7, now);
    sqlite3_bind_double(st, 8, final ? now : 0);
    sqlite3_bind_int(st, 9, to == TP_JOB_REJECTED);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_error(l, err, "review update");
    int changed = rc == 0 ? sqlite3_changes(l->db) : 0;
    sqlite3_finalize(st);
    if (rc < 0 || changed > 0)
        return rc;
    /* Nothing changed: no such row, or it is not in `from` (any more). */
    tp_ledger_row row;
    int found = tp_ledger_get(l, &row, id, err);
    if (found < 0)
        return found;
    if (!found)
        return tp_error_set(err, TP_EINVAL, 0, "%s: no file with id %lld in the ledger", l->path,
                            (long long)id);
    rc = tp_error_set(err, TP_ECONFLICT, 0, "file %lld is %s, not %s", (long long)id,
                      tp_job_status_name(row.status), tp_job_status_name(from));
    tp_ledger_row_clear(&row);
    return rc;
}

int tp_ledger_reviewed_queued(tp_ledger *l, const char *sink, const char *profile_hash,
                              int64_t **ids, size_t *n, tp_error *err)
{
    sqlite3_stmt *st = NULL;
    *ids = NULL;
    *n = 0;
    if (!l->has_review)
        return 0;
    if (sqlite3_prepare_v2(l->db,
                           "SELECT id FROM jobs WHERE status='queued' AND sink=?1 AND "
                           "profile_hash=?2 AND review IS NOT NULL ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK)
        return db_error(l, err, "listing");
    bind_text(st, 1, sink);
    bind_text(st, 2, profile_hash);
    int rc = 0, sc;
    size_t cap = 0;
    while ((sc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            int64_t *v = realloc(*ids, cap * sizeof(*v));
            if (!v) {
                rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
                break;
            }
            *ids = v;
        }
        (*ids)[(*n)++] = sqlite3_column_int64(st, 0);
    }
    if (rc == 0 && sc != SQLITE_DONE)
        rc = db_error(l, err, "listing");
    sqlite3_finalize(st);
    if (rc < 0) {
        free(*ids);
        *ids = NULL;
        *n = 0;
    }
    return rc;
}

int tp_ledger_save_upload(tp_ledger *l, int64_t id, const char *publish_id, const char *upload_url,
                          double expiry, int part, int last_chunk, const char *posts, tp_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(l->db,
                           "UPDATE jobs SET publish_id=?2, upload_url=?3, upload_url_expiry=?4, "
                           "upload_part=?5, last_chunk=?6, updated=?7, "
                           "posts=COALESCE(?8, posts) WHERE id=?1",
                           -1, &st, NULL) != SQLITE_OK)
        return db_error(l, err, "upload checkpoint");
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, publish_id);
    bind_text(st, 3, upload_url);
    sqlite3_bind_double(st, 4, expiry);
    sqlite3_bind_int(st, 5, part);
    sqlite3_bind_int(st, 6, last_chunk);
    sqlite3_bind_double(st, 7, tp_now_wall());
    bind_text(st, 8, posts);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_error(l, err, "upload checkpoint");
    sqlite3_finalize(st);
    return rc;
}

int tp_ledger_set_durable(tp_ledger *l, tp_error *err)
{
    return sqlite3_exec(l->db, "PRAGMA synchronous=FULL;", NULL, NULL, NULL) == SQLITE_OK
               ? 0
               : db_error(l, err, "set-up");
}

static int exec_count(tp_ledger *l, const char *sql, int *n, tp_error *err, const char *what)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(l->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_error(l, err, what);
    sqlite3_bind_double(st, 1, tp_now_wall());
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_error(l, err, what);
    if (n)
        *n = rc == 0 ? sqlite3_changes(l->db) : 0;
    sqlite3_finalize(st);
    return rc;
}

int tp_ledger_recover(tp_ledger *l, int *n, tp_error *err)
{
    return exec_count(l, "UPDATE jobs SET status='queued', updated=?1 WHERE status='running'", n,
                      err, "recovery");
}

int tp_ledger_retry_failed(tp_ledger *l, int *n, tp_error *err)
{
    return exec_count(l,
                      "UPDATE jobs SET status='queued', attempts=0, error=NULL, error_code=NULL,"
                      " finished=0, updated=?1 WHERE status='failed'",
                      n, err, "retry");
}

int tp_ledger_dest_taken(tp_ledger *l, const char *sink, const char *dest, int64_t exclude_id,
                         tp_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(l->db, "SELECT 1 FROM jobs WHERE sink=?1 AND dest=?2 AND id<>?3", -1,
                           &st, NULL) != SQLITE_OK)
        return db_error(l, err, "lookup");
    bind_text(st, 1, sink);
    bind_text(st, 2, dest);
    sqlite3_bind_int64(st, 3, exclude_id);
    int sc = sqlite3_step(st);
    int rc = sc == SQLITE_ROW ? 1 : sc == SQLITE_DONE ? 0 : db_error(l, err, "lookup");
    sqlite3_finalize(st);
    return rc;
}

int tp_ledger_foreach(tp_ledger *l, int status, int (*fn)(const tp_ledger_row *row, void *payload),
                      void *payload, tp_error *err)
{
    sqlite3_stmt *st = NULL;
    const char *tail =
        status >= 0 ? "FROM jobs WHERE status=?1 ORDER BY id" : "FROM jobs ORDER BY id";
    if (prepare_select(l, &st, tail) < 0)
        return db_error(l, err, "listing");
    if (status >= 0)
        bind_text(st, 1, tp_job_status_name((tp_job_status)status));
    int rc = 0, sc;
    while ((sc = sqlite3_step(st)) == SQLITE_ROW) {
        tp_ledger_row row;
        row_from_stmt(&row, st);
        int stop = fn(&row, payload);
        tp_ledger_row_clear(&row);
        if (stop)
            break;
    }
    if (sc != SQLITE_ROW && sc != SQLITE_DONE)
        rc = db_error(l, err, "listing");
    sqlite3_finalize(st);
    return rc;
}

/* Fingerprint = SHA-256("tokprep-fp1" || size || samples). Files up to 3 MiB are hashed whole;
 * larger ones by their first, middle and last MiB. Why sample: a run over a folder of multi-GB
 * camera files must not read every byte twice just to find out it has seen them before, and the
 * samples cover what differs between two videos of equal size: the head (ftyp/moov with
 * creation times and sample tables, or the first GOP) and the tail (index, last GOP); two
 * different encodes with equal size and equal head, middle and tail do not occur in practice.
 * The cost is that an in-place edit of a same-size file outside the samples goes unnoticed:
 * `--force` reprocesses. Renamed or copied files keep their fingerprint, which is the point. */
#define FP_SAMPLE (1 << 20)

int tp_fingerprint_file(char hex[65], int64_t *size, const char *path, tp_error *err)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return tp_error_set(err, TP_EIO, errno, "%s: cannot open: %s", path, strerror(errno));
    int rc = tp_fingerprint_fd(hex, size, fd, path, err);
    close(fd);
    return rc;
}

int tp_fingerprint_fd(char hex[65], int64_t *size, int fd, const char *path, tp_error *err)
{
    int rc = 0;
    tp_sha256 *s = NULL;
    uint8_t *buf = NULL;
    struct stat sb;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        rc = tp_error_set(err, TP_EIO, errno, "%s: not a regular file", path);
        goto out;
    }
    s = tp_sha256_new();
    buf = malloc(FP_SAMPLE);
    if (!s || !buf) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "%s: out of memory", path);
        goto out;
    }
    int64_t total = sb.st_size;
    uint8_t header[19] = "tokprep-fp1";
    for (int i = 0; i < 8; i++)
        header[11 + i] = (uint8_t)((uint64_t)total >> (8 * i));
    tp_sha256_update(s, header, sizeof(header));
    int64_t offsets[3];
    int n_ranges;
    if (total <= 3 * (int64_t)FP_SAMPLE) {
        n_ranges = 0; /* whole file below */
    } else {
        offsets[0] = 0;
        offsets[1] = (total / 2) - FP_SAMPLE / 2;
        offsets[2] = total - FP_SAMPLE;
        n_ranges = 3;
    }
    int64_t pos = 0, end = total;
    for (int r = 0; r <= n_ranges; r++) {
        if (n_ranges > 0) {
            if (r == n_ranges)
                break;
            pos = offsets[r];
            end = pos + FP_SAMPLE;
        }
        int got = tp_sha256_update_fd(s, fd, pos, end - pos, buf, FP_SAMPLE);
        if (got < 0) {
            rc = tp_error_set(err, TP_EIO, got == -1 ? errno : 0,
                              "%s: read failed (file changed while reading?)", path);
            goto out;
        }
    }
    tp_sha256_final_hex(s, hex);
    s = NULL;
    if (size)
        *size = total;
out:
    if (s) {
        uint8_t d[32];
        tp_sha256_final_raw(s, d);
    }
    free(buf);
    return rc;
}
