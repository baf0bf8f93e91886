/* util/redis: redis:// URL parsing (host, port, name, password handling) and, when a
 * redis-server binary is on PATH, connect/AUTH/command errors against a real server. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/tp_redis.h"
#include "util/tp_util.h"

static void test_parse_ok(void **state)
{
    (void)state;
    tp_redis_url u;
    tp_error err = TP_ERROR_INIT;
    unsetenv("TOKPREP_REDIS_PASSWORD");
    assert_int_equal(tp_redis_url_parse(&u, "redis://127.0.0.1:6390/studio-a", &err), 0);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 6390);
    assert_string_equal(u.name, "studio-a");
    assert_null(u.password);
    assert_string_equal(u.display, "redis://127.0.0.1:6390/studio-a");
    tp_redis_url_clear(&u);

    assert_int_equal(tp_redis_url_parse(&u, "redis://:s%40cret@queue.local/q1", &err), 0);
    assert_string_equal(u.host, "queue.local");
    assert_int_equal(u.port, 6379);
    assert_string_equal(u.password, "s@cret");
    assert_null(u.user);
    assert_null(strstr(u.display, "cret")); /* never printable */
    tp_redis_url_clear(&u);

    assert_int_equal(tp_redis_url_parse(&u, "redis://ops:pw@[::1]:7000/q", &err), 0);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 7000);
    assert_string_equal(u.user, "ops");
    assert_string_equal(u.display, "redis://[::1]:7000/q");
    tp_redis_url_clear(&u);

    setenv("TOKPREP_REDIS_PASSWORD", "fromenv", 1);
    assert_int_equal(tp_redis_url_parse(&u, "redis://h:1/q", &err), 0);
    assert_string_equal(u.password, "fromenv");
    tp_redis_url_clear(&u);
    unsetenv("TOKPREP_REDIS_PASSWORD");
}

static void test_parse_bad(void **state)
{
    (void)state;
    const char *bad[] = {"http://h:1/q",      "redis://h:1",       "redis://h:1/",
                         "redis://:1/q",      "redis://h:0/q",     "redis://h:70000/q",
                         "redis://h:12x/q",   "redis://h/q w",     "redis://[::1/q",
                         "redis://h/a/b",     "rediss://h:1/q",    NULL};
    for (int i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); i++) {
        tp_redis_url u;
        tp_error err = TP_ERROR_INIT;
        assert_int_equal(tp_redis_url_parse(&u, bad[i], &err), TP_EINVAL);
        assert_non_null(strstr(tp_error_message(&err), "--queue"));
        tp_error_clear(&err);
    }
    /* the password never reaches an error message */
    tp_redis_url u;
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(tp_redis_url_parse(&u, "redis://:hunter2@h:99999/q", &err), TP_EINVAL);
    assert_null(strstr(tp_error_message(&err), "hunter2"));
    tp_error_clear(&err);
}

/* A real server on a loopback port, stopped by the teardown even when an assertion fails. */
typedef struct {
    pid_t pid;
    int port;
} server;

static int server_start(void **state)
{
    static server srv; /* cmocka's state pointer; one group runs at a time */
    srv.pid = -1;
    srv.port = 20000 + (int)(getpid() % 20000);
    *state = &srv;
    if (system("command -v redis-server >/dev/null 2>&1") != 0)
        return 0;
    char cmd[256];
    snprintf(cmd, sizeof(cmd),
             "exec redis-server --port %d --bind 127.0.0.1 --save '' --appendonly no "
             "--requirepass pw1 --daemonize no >/dev/null 2>&1",
             srv.port);
    srv.pid = fork();
    if (srv.pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return srv.pid < 0 ? -1 : 0;
}

static int server_stop(void **state)
{
    server *srv = *state;
    if (srv->pid > 0) {
        kill(srv->pid, SIGTERM);
        waitpid(srv->pid, NULL, 0);
        srv->pid = -1;
    }
    return 0;
}

/* Refused connection, wrong password, an error reply, a good command. */
static void test_live(void **state)
{
    server *srv = *state;
    if (srv->pid < 0) {
        print_message("redis-server not installed: live part skipped\n");
        skip();
    }
    int port = srv->port;
    char url[128];
    snprintf(url, sizeof(url), "redis://:pw1@127.0.0.1:%d/t", port);
    tp_redis_url u;
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(tp_redis_url_parse(&u, url, &err), 0);
    tp_redis *r = NULL;
    int rc = -1;
    for (int i = 0; i < 100 && rc < 0; i++) {
        rc = tp_redis_connect(&r, &u, 2, &err);
        if (rc < 0)
            usleep(50000);
    }
    assert_int_equal(rc, 0);
    redisReply *rep = NULL;
    assert_int_equal(tp_redis_cmd(r, &rep, &err, "ping", "PING"), 0);
    assert_string_equal(rep->str, "PONG");
    freeReplyObject(rep);
    assert_int_equal(tp_redis_cmd(r, NULL, &err, "bad", "NOSUCHCOMMAND x"), TP_EIO);
    assert_non_null(strstr(tp_error_message(&err), "bad"));
    const char *keys[] = {"k"};
    const char *args[] = {"7"};
    assert_int_equal(tp_redis_eval(r, &rep, &err, "eval",
                                   "redis.call('SET', KEYS[1], ARGV[1]); "
                                   "return redis.call('INCR', KEYS[1])",
                                   1, keys, 1, args),
                     0);
    assert_int_equal(rep->integer, 8);
    freeReplyObject(rep);
    tp_redis_free(r);
    tp_redis_url_clear(&u);

    snprintf(url, sizeof(url), "redis://:wrong@127.0.0.1:%d/t", port);
    assert_int_equal(tp_redis_url_parse(&u, url, &err), 0);
    rc = tp_redis_connect(&r, &u, 2, &err);
    assert_int_equal(rc, TP_EAUTH);
    assert_null(strstr(tp_error_message(&err), "wrong"));
    tp_redis_url_clear(&u);

    server_stop(state);
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/t", port);
    assert_int_equal(tp_redis_url_parse(&u, url, &err), 0);
    usleep(200000);
    assert_int_equal(tp_redis_connect(&r, &u, 1, &err), TP_ENET);
    assert_non_null(strstr(tp_error_message(&err), "cannot connect"));
    tp_redis_url_clear(&u);
    tp_error_clear(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ok),
        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test_setup_teardown(test_live, server_start, server_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
