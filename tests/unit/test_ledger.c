/* Ledger: insert/find/update, resume states, fingerprints of renamed and copied content, and
 * the lock that keeps a second run out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "pipeline/ledger.h"
#include "util/tp_util.h"

typedef struct {
    char dir[256];
    char db[300];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/tp_ledger_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof(f->db), "%s/state.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup failed\n");
    free(f);
    return 0;
}

static void write_file(const char *path, size_t size, unsigned seed)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    for (size_t i = 0; i < size; i++)
        fputc((int)((i * 2654435761u + seed) >> 13) & 0xff, fp);
    fclose(fp);
}

static void new_row(tp_ledger_row *row, const char *fp, const char *path)
{
    memset(row, 0, sizeof(*row));
    row->last_chunk = -1;
    tp_strlcpy(row->fingerprint, fp, sizeof(row->fingerprint));
    tp_strlcpy(row->profile_hash, "ph", sizeof(row->profile_hash));
    row->sink = tp_strdup("none");
    row->profile_name = tp_strdup("tiktok");
    row->source_path = tp_strdup(path);
    row->source_size = 1234;
    row->stage = TP_STAGE_SCAN;
    row->status = TP_JOB_QUEUED;
}

static void test_insert_find_update(void **state)
{
    fixture *f = *state;
    tp_error err = TP_ERROR_INIT;
    tp_ledger *l = NULL;
    assert_int_equal(tp_ledger_open(&l, f->db, true, &err), 0);
    tp_ledger_row row, got;
    new_row(&row, "aaaa", "/x/a.mp4");
    assert_int_equal(tp_ledger_insert(l, &row, &err), 0);
    assert_true(row.id > 0);
    /* The same key again is a conflict, not a second row. */
    tp_ledger_row dup;
    new_row(&dup, "aaaa", "/y/renamed.mp4");
    assert_int_equal(tp_ledger_insert(l, &dup, &err), TP_ECONFLICT);
    tp_ledger_row_clear(&dup);
    /* Another sink is another row. */
    new_row(&dup, "aaaa", "/x/a.mp4");
    free(dup.sink);
    dup.sink = tp_strdup("directory:/out");
    assert_int_equal(tp_ledger_insert(l, &dup, &err), 0);
    tp_ledger_row_clear(&dup);

    assert_int_equal(tp_ledger_find(l, &got, "aaaa", "ph", "none", &err), 1);
    assert_int_equal(got.id, row.id);
    assert_string_equal(got.source_path, "/x/a.mp4");
    assert_int_equal(got.stage, TP_STAGE_SCAN);
    assert_int_equal(got.status, TP_JOB_QUEUED);
    assert_int_equal(got.last_chunk, -1);
    tp_ledger_row_clear(&got);
    assert_int_equal(tp_ledger_find(l, &got, "bbbb", "ph", "none", &err), 0);

    row.stage = TP_STAGE_DONE;
    row.status = TP_JOB_DONE;
    row.verdict = tp_strdup("fix");
    row.outputs = tp_strdup("[{\"path\":\"/w/a.mp4\"}]");
    row.dest = tp_strdup("a");
    assert_int_equal(tp_ledger_update(l, &row, &err), 0);
    assert_int_equal(tp_ledger_get(l, &got, row.id, &err), 1);
    assert_int_equal(got.status, TP_JOB_DONE);
    assert_string_equal(got.verdict, "fix");
    assert_string_equal(got.outputs, "[{\"path\":\"/w/a.mp4\"}]");
    assert_true(got.finished > 0);
    tp_ledger_row_clear(&got);
    assert_int_equal(tp_ledger_dest_taken(l, "none", "a", 0, &err), 1);
    assert_int_equal(tp_ledger_dest_taken(l, "none", "a", row.id, &err), 0);
    assert_int_equal(tp_ledger_dest_taken(l, "directory:/out", "a", 0, &err), 0);
    tp_ledger_row_clear(&row);
    tp_ledger_close(l);
    tp_error_clear(&err);
}

static int count_rows(const tp_ledger_row *row, void *payload)
{
    (void)row;
    (*(int *)payload)++;
    return 0;
}

static void test_resume_states(void **state)
{
    fixture *f = *state;
    tp_error err = TP_ERROR_INIT;
    tp_ledger *l = NULL;
    assert_int_equal(tp_ledger_open(&l, f->db, true, &err), 0);
    tp_ledger_row a, b, c;
    new_row(&a, "a1", "/a");
    new_row(&b, "b1", "/b");
    new_row(&c, "c1", "/c");
    assert_int_equal(tp_ledger_insert(l, &a, &err), 0);
    assert_int_equal(tp_ledger_insert(l, &b, &err), 0);
    assert_int_equal(tp_ledger_insert(l, &c, &err), 0);
    a.stage = TP_STAGE_FIT;
    a.status = TP_JOB_RUNNING;
    assert_int_equal(tp_ledger_update(l, &a, &err), 0);
    b.stage = TP_STAGE_PROBE;
    b.status = TP_JOB_FAILED;
    b.attempts = 3;
    b.error = tp_strdup("/b: not media");
    assert_int_equal(tp_ledger_update(l, &b, &err), 0);
    c.stage = TP_STAGE_DELIVER;
    c.status = TP_JOB_RUNNING;
    assert_int_equal(tp_ledger_update(l, &c, &err), 0);
    assert_int_equal(tp_ledger_save_upload(l, c.id, "v_pub_file~1", "http://127.0.0.1/u?t=x",
                                           tp_now_wall() + 3600, 0, 4, "[]", &err),
                     0);
    tp_ledger_close(l); /* like a crash: rows stay `running` */

    assert_int_equal(tp_ledger_open(&l, f->db, true, &err), 0);
    int n = 0;
    assert_int_equal(tp_ledger_recover(l, &n, &err), 0);
    assert_int_equal(n, 2);
    tp_ledger_row got;
    assert_int_equal(tp_ledger_get(l, &got, a.id, &err), 1);
    assert_int_equal(got.status, TP_JOB_QUEUED);
    assert_int_equal(got.stage, TP_STAGE_FIT); /* a partial fit restarts at the fit stage */
    tp_ledger_row_clear(&got);
    assert_int_equal(tp_ledger_get(l, &got, c.id, &err), 1);
    assert_int_equal(got.stage, TP_STAGE_DELIVER);
    assert_string_equal(got.publish_id, "v_pub_file~1");
    assert_int_equal(got.last_chunk, 4);
    assert_true(got.upload_url_expiry > tp_now_wall());
    tp_ledger_row_clear(&got);

    int failed = 0;
    assert_int_equal(tp_ledger_foreach(l, TP_JOB_FAILED, count_rows, &failed, &err), 0);
    assert_int_equal(failed, 1);
    assert_int_equal(tp_ledger_retry_failed(l, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(tp_ledger_get(l, &got, b.id, &err), 1);
    assert_int_equal(got.status, TP_JOB_QUEUED);
    assert_int_equal(got.attempts, 0);
    assert_null(got.error);
    tp_ledger_row_clear(&got);
    int all = 0;
    assert_int_equal(tp_ledger_foreach(l, -1, count_rows, &all, &err), 0);
    assert_int_equal(all, 3);
    tp_ledger_row_clear(&a);
    tp_ledger_row_clear(&b);
    tp_ledger_row_clear(&c);
    tp_ledger_close(l);

    /* Read-only opening (status) works while nobody holds the lock, and while someone does. */
    assert_int_equal(tp_ledger_open(&l, f->db, false, &err), 0);
    all = 0;
    assert_int_equal(tp_ledger_foreach(l, -1, count_rows, &all, &err), 0);
    assert_int_equal(all, 3);
    tp_ledger_close(l);
    tp_error_clear(&err);
}

static void test_fingerprint(void **state)
{
    fixture *f = *state;
    tp_error err = TP_ERROR_INIT;
    char a[300], b[300], c[300], d[300], big[300], big2[300];
    snprintf(a, sizeof(a), "%s/a.mp4", f->dir);
    snprintf(b, sizeof(b), "%s/renamed.mov", f->dir);
    snprintf(c, sizeof(c), "%s/copy.mp4", f->dir);
    snprintf(d, sizeof(d), "%s/other.mp4", f->dir);
    snprintf(big, sizeof(big), "%s/big.mp4", f->dir);
    snprintf(big2, sizeof(big2), "%s/big2.mp4", f->dir);
    write_file(a, 100000, 1);
    write_file(d, 100000, 2);
    write_file(big, 5 << 20, 3);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && mv '%s' '%s' && cp '%s' '%s'", a, c, a, b, big,
             big2);
    assert_int_equal(system(cmd), 0);
    char h1[65], h2[65], h3[65], h4[65], h5[65];
    int64_t size = 0;
    assert_int_equal(tp_fingerprint_file(h1, &size, b, &err), 0);
    assert_int_equal(size, 100000);
    assert_int_equal(tp_fingerprint_file(h2, NULL, c, &err), 0);
    assert_string_equal(h1, h2); /* renamed and copied: same content, same fingerprint */
    assert_int_equal(tp_fingerprint_file(h3, NULL, d, &err), 0);
    assert_string_not_equal(h1, h3);
    assert_int_equal(tp_fingerprint_file(h4, &size, big, &err), 0);
    assert_int_equal(size, 5 << 20);
    assert_int_equal(tp_fingerprint_file(h5, NULL, big2, &err), 0);
    assert_string_equal(h4, h5);
    /* A change in a sampled region (the tail) changes the fingerprint. */
    FILE *fp = fopen(big2, "r+b");
    assert_non_null(fp);
    fseek(fp, -10, SEEK_END);
    fputc('!', fp);
    fclose(fp);
    assert_int_equal(tp_fingerprint_file(h5, NULL, big2, &err), 0);
    assert_string_not_equal(h4, h5);
    assert_int_equal(tp_fingerprint_file(h5, NULL, f->dir, &err), TP_EIO);
    assert_int_equal(tp_fingerprint_file(h5, NULL, "/nonexistent/x", &err), TP_EIO);
    tp_error_clear(&err);
}

static void test_lock_refusal(void **state)
{
    fixture *f = *state;
    tp_error err = TP_ERROR_INIT;
    tp_ledger *l = NULL, *l2 = NULL;
    assert_int_equal(tp_ledger_open(&l, f->db, true, &err), 0);
    /* A second writer in another process is refused with a clear message... */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        tp_error e2 = TP_ERROR_INIT;
        tp_ledger *x = NULL;
        int rc = tp_ledger_open(&x, f->db, true, &e2);
        _exit(rc == TP_ECONFLICT && strstr(tp_error_message(&e2), "in use by another tokprep") ? 0
                                                                                               : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    /* ...and so is a second opener in this process (flock is per open file description). */
    assert_int_equal(tp_ledger_open(&l2, f->db, true, &err), TP_ECONFLICT);
    assert_non_null(strstr(tp_error_message(&err), "in use"));
    assert_null(l2);
    /* A reader is not refused. */
    assert_int_equal(tp_ledger_open(&l2, f->db, false, &err), 0);
    tp_ledger_close(l2);
    tp_ledger_close(l);
    /* Released on close. */
    assert_int_equal(tp_ledger_open(&l, f->db, true, &err), 0);
    tp_ledger_close(l);
    tp_error_clear(&err);
}

/* A ledger written by a tokprep from before media info (schema 1) still opens: read-only (for
 * `status`) as it is, and a run migrates it in place, keeping every row. */
static void test_migrate_v1(void **state)
{
    fixture *f = *state;
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(
            db,
            "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "CREATE TABLE jobs(id INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL, profile_hash "
            "TEXT NOT NULL, sink TEXT NOT NULL, profile_name TEXT NOT NULL, source_path TEXT NOT "
            "NULL, source_size INTEGER NOT NULL, stage TEXT NOT NULL, status TEXT NOT NULL, "
            "verdict TEXT, outputs TEXT, dest TEXT, publish_id TEXT, upload_url TEXT, "
            "upload_url_expiry REAL NOT NULL DEFAULT 0, upload_part INTEGER NOT NULL DEFAULT 0, "
            "last_chunk INTEGER NOT NULL DEFAULT -1, posts TEXT, error TEXT, error_code TEXT, "
            "attempts INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL, updated REAL NOT NULL, "
            "finished REAL NOT NULL DEFAULT 0, UNIQUE(fingerprint, profile_hash, sink));"
            "INSERT INTO meta VALUES('schema_version', '1');"
            "INSERT INTO jobs(fingerprint, profile_hash, sink, profile_name, source_path, "
            "source_size, stage, status, verdict, outputs, created, updated) VALUES('aaaa', "
            "'ph', 'none', 'tiktok', '/x/a.mp4', 1234, 'chunk', 'queued', 'fix', "
            "'[{\"path\":\"/w/a.mp4\"}]', 1, 1);",
            NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    tp_error err = TP_ERROR_INIT;
    tp_ledger *l = NULL;
    tp_ledger_row got;
    /* Read-only: not migrated, media reads as none. */
    assert_int_equal(tp_ledger_open(&l, f->db, false, &err), 0);
    assert_int_equal(tp_ledger_find(l, &got, "aaaa", "ph", "none", &err), 1);
    assert_null(got.media);
    assert_string_equal(got.outputs, "[{\"path\":\"/w/a.mp4\"}]");
    tp_ledger_row_clear(&got);
    tp_ledger_close(l);
    /* A run's open migrates it; the row is kept and takes media info from now on. */
    assert_int_equal(tp_ledger_open(&l, f->db, true, &err), 0);
    assert_int_equal(tp_ledger_find(l, &got, "aaaa", "ph", "none", &err), 1);
    assert_int_equal(got.stage, TP_STAGE_CHUNK);
    assert_string_equal(got.verdict, "fix");
    assert_null(got.media);
    got.media = tp_strdup("{\"container\":\"mp4\"}");
    assert_int_equal(tp_ledger_update(l, &got, &err), 0);
    int64_t id = got.id;
    tp_ledger_row_clear(&got);
    assert_int_equal(tp_ledger_get(l, &got, id, &err), 1);
    assert_string_equal(got.media, "{\"container\":\"mp4\"}");
    tp_ledger_row_clear(&got);
    tp_ledger_close(l);
    /* Opened again (already migrated): nothing to do, the value is there. */
    assert_int_equal(tp_ledger_open(&l, f->db, true, &err), 0);
    assert_int_equal(tp_ledger_get(l, &got, id, &err), 1);
    assert_string_equal(got.media, "{\"container\":\"mp4\"}");
    tp_ledger_row_clear(&got);
    tp_ledger_close(l);
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key='schema_version'", -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "3");
    sqlite3_finalize(st);
    /* Schema 3: the review column exists and round-trips. */
    assert_int_equal(tp_ledger_open(&l, f->db, true, &err), 0);
    assert_int_equal(tp_ledger_get(l, &got, id, &err), 1);
    assert_null(got.review);
    got.review = tp_strdup("{\"caption\":\"hi\"}");
    got.status = TP_JOB_AWAITING_REVIEW;
    assert_int_equal(tp_ledger_update(l, &got, &err), 0);
    tp_ledger_row_clear(&got);
    assert_int_equal(tp_ledger_get(l, &got, id, &err), 1);
    assert_string_equal(got.review, "{\"caption\":\"hi\"}");
    assert_int_equal(got.status, TP_JOB_AWAITING_REVIEW);
    assert_string_equal(tp_job_status_name(got.status), "awaiting_review");
    tp_ledger_row_clear(&got);
    tp_ledger_close(l);
    sqlite3_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_insert_find_update, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_states, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fingerprint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_refusal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_v1, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
