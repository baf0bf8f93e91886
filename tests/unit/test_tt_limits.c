/* upload/tt_limits: the local store (today's behaviour) and, against a real redis-server on a
 * loopback port (skipped with a message when the binary is absent), the shared store: many
 * threads and two stores (two machines) on one rate key never exceed the limit in any window;
 * two stores racing for the last daily slot: exactly one wins; no secret in key names; Redis
 * going away gives the documented retryable error. */
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "profiles/profile.h"
#include "upload/tt_limits.h"
#include "util/tp_redis.h"
#include "util/tp_util.h"

#define CLIENT_KEY "ck-Zq81SECRETISH"
#define OPEN_ID "open-id-7d1e55aa"

/* ---- server ------------------------------------------------------------------------------ */

typedef struct {
    pid_t pid;
    int port;
    char url[128];
} server;

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        if (fd >= 0)
            close(fd);
        return 20000 + (int)(getpid() % 20000);
    }
    close(fd);
    return ntohs(a.sin_port);
}

static void start(server *srv)
{
    srv->pid = -1;
    srv->port = free_port();
    snprintf(srv->url, sizeof(srv->url), "redis://127.0.0.1:%d/lt", srv->port);
    if (system("command -v redis-server >/dev/null 2>&1") != 0)
        return;
    char cmd[256];
    snprintf(cmd, sizeof(cmd),
             "exec redis-server --port %d --bind 127.0.0.1 --save '' --appendonly no "
             "--daemonize no >/dev/null 2>&1",
             srv->port);
    srv->pid = fork();
    if (srv->pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
}

static void stop(server *srv)
{
    if (srv->pid > 0) {
        kill(srv->pid, SIGTERM);
        waitpid(srv->pid, NULL, 0);
        srv->pid = -1;
    }
}

static int setup(void **state)
{
    static server srv; /* cmocka's state pointer; one test runs at a time */
    start(&srv);
    *state = &srv;
    return 0;
}

static int teardown(void **state)
{
    stop(*state);
    return 0;
}

/* A store on srv, waiting for the server to accept connections. */
static tp_tt_limits *store(server *srv)
{
    tp_tt_limits *l = NULL;
    tp_error err = TP_ERROR_INIT;
    int rc = -1;
    for (int i = 0; i < 100 && rc < 0; i++) {
        rc = tp_tt_limits_redis_open(&l, srv->url, &err);
        if (rc < 0)
            usleep(50000);
    }
    if (rc < 0)
        print_message("cannot open the store: %s\n", tp_error_message(&err));
    tp_error_clear(&err);
    assert_int_equal(rc, 0);
    return l;
}

#define NEED_SERVER(srv)                                                                           \
    do {                                                                                           \
        if ((srv)->pid < 0) {                                                                      \
            print_message("redis-server not installed: shared-limits test skipped\n");             \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* ---- pure parts --------------------------------------------------------------------------- */

static void test_account_id_and_keys(void **state)
{
    (void)state;
    char a[17], b[17], c[17], key[256];
    tp_tt_limits_account_id(a, CLIENT_KEY, OPEN_ID);
    tp_tt_limits_account_id(b, CLIENT_KEY, OPEN_ID);
    tp_tt_limits_account_id(c, CLIENT_KEY, "another-open-id");
    assert_int_equal(strlen(a), 16);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_int_equal(strspn(a, "0123456789abcdef"), 16);
    tp_tt_limits_rate_key(key, sizeof(key), "studio", a, TP_TT_EP_INIT);
    assert_int_equal(strncmp(key, "tokprep:studio:rate:", 20), 0);
    assert_non_null(strstr(key, ":init"));
    assert_null(strstr(key, CLIENT_KEY));
    assert_null(strstr(key, OPEN_ID));
    tp_tt_limits_daily_key(key, sizeof(key), "studio", a);
    assert_int_equal(strncmp(key, "tokprep:studio:daily:", 21), 0);
    assert_null(strstr(key, OPEN_ID));
    assert_string_equal(tp_tt_endpoint_name(TP_TT_EP_CREATOR_INFO), "creator_info");
    assert_string_equal(tp_tt_endpoint_name(TP_TT_EP_STATUS), "status");
}

/* upload.tiktok.shared_limits is a profile key ("" by default) that the profile hash ignores:
 * switching it on must not make the ledger see every file as new. */
static void test_profile_key(void **state)
{
    (void)state;
    tp_profile *a = NULL, *b = NULL, *c = NULL;
    tp_error err = TP_ERROR_INIT;
    const char *on[] = {"upload.tiktok.shared_limits=redis://10.0.0.5:6379/studio"};
    const char *other[] = {"upload.tiktok.daily_limit=3"};
    assert_int_equal(tp_profile_open(&a, "tiktok", NULL, 0, &err), 0);
    assert_int_equal(tp_profile_open(&b, "tiktok", on, 1, &err), 0);
    assert_int_equal(tp_profile_open(&c, "tiktok", other, 1, &err), 0);
    assert_string_equal(a->upload.tiktok.shared_limits, "");
    assert_string_equal(b->upload.tiktok.shared_limits, "redis://10.0.0.5:6379/studio");
    assert_string_equal(a->hash, b->hash);
    assert_string_not_equal(a->hash, c->hash); /* other keys still count */
    /* upload.tiktok.rate_window (how fast to go against a test server) is not hashed either. */
    tp_profile *d = NULL;
    const char *fast[] = {"upload.tiktok.rate_window=1"};
    assert_int_equal(tp_profile_open(&d, "tiktok", fast, 1, &err), 0);
    assert_true(d->upload.tiktok.rate_window == 1.0);
    assert_string_equal(a->hash, d->hash);
    tp_profile_free(d);
    char *dump = tp_profile_dump(b);
    assert_non_null(strstr(dump, "shared_limits: \"redis://10.0.0.5:6379/studio\""));
    free(dump);
    tp_profile_free(a);
    tp_profile_free(b);
    tp_profile_free(c);
    tp_error_clear(&err);
}

/* The local store is what a session did before: a 6-per-window ring and a posts file. */
static void test_local_store(void **state)
{
    (void)state;
    tp_tt_limits *l = NULL;
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(tp_tt_limits_local_new(&l, &err), 0);
    assert_string_equal(tp_tt_limits_describe(l), "local");
    char dir[] = "/tmp/tp_tt_limits.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char posts[256];
    snprintf(posts, sizeof(posts), "%s/tok.json.posts", dir);
    tp_tt_account acct = {"0123456789abcdef", posts};
    double wait = -1;
    for (int i = 0; i < 6; i++) {
        assert_int_equal(tp_tt_limits_rate_take(l, &acct, TP_TT_EP_INIT, 6, 60, &wait, &err), 0);
        assert_true(wait == 0);
    }
    assert_int_equal(tp_tt_limits_rate_take(l, &acct, TP_TT_EP_INIT, 6, 60, &wait, &err), 0);
    assert_true(wait > 59 && wait <= 60);
    /* other endpoints have their own window */
    assert_int_equal(tp_tt_limits_rate_take(l, &acct, TP_TT_EP_STATUS, 30, 60, &wait, &err), 0);
    assert_true(wait == 0);

    /* daily: two posts recorded at upload time, the third refused until the first leaves */
    tp_tt_slot slot;
    int64_t next = -1;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(tp_tt_limits_daily_reserve(l, &acct, 2, &slot, &next, &err), 0);
        assert_false(slot.held); /* the local store only checks */
        tp_tt_limits_daily_accepted(l, &acct, &slot);
        tp_tt_limits_daily_uploaded(l, &acct);
    }
    int64_t now = (int64_t)tp_now_wall();
    assert_int_equal(tp_tt_limits_daily_reserve(l, &acct, 2, &slot, &next, &err), TP_ERATE);
    assert_true(next >= now + TP_TT_DAILY_WINDOW - 5 && next <= now + TP_TT_DAILY_WINDOW + 1);
    assert_non_null(strstr(tp_error_message(&err), "daily limit of 2"));
    /* limit 0 = no cap */
    assert_int_equal(tp_tt_limits_daily_reserve(l, &acct, 0, &slot, &next, &err), 0);
    unlink(posts);
    rmdir(dir);
    tp_tt_limits_free(l);
    tp_tt_limits_free(NULL);
    tp_error_clear(&err);
}

/* ---- shared store ------------------------------------------------------------------------- */

#define RATE_LIMIT 5
#define RATE_WINDOW 1.0
#define HAMMER_SECONDS 3.5
#define N_THREADS 8
#define MAX_OK 256

typedef struct {
    tp_tt_limits *l;
    const tp_tt_account *acct;
    pthread_mutex_t *mu;
    double *times;
    int *n;
    int errors;
    double max_wait;
} hammer_arg;

static void *hammer(void *p)
{
    hammer_arg *h = p;
    double end = tp_now_monotonic() + HAMMER_SECONDS;
    while (tp_now_monotonic() < end) {
        double wait = 0;
        tp_error err = TP_ERROR_INIT;
        if (tp_tt_limits_rate_take(h->l, h->acct, TP_TT_EP_INIT, RATE_LIMIT, RATE_WINDOW, &wait,
                                   &err) < 0) {
            h->errors++;
            tp_error_clear(&err);
            continue;
        }
        if (wait > 0) {
            if (wait > h->max_wait)
                h->max_wait = wait;
            /* sleep part of the wait, so the threads keep racing near the window's edge */
            usleep((useconds_t)(wait * 1e6 * 0.5) + 1000);
            continue;
        }
        double t = tp_now_monotonic();
        pthread_mutex_lock(h->mu);
        if (*h->n < MAX_OK)
            h->times[(*h->n)++] = t;
        pthread_mutex_unlock(h->mu);
    }
    return NULL;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* 8 threads over two stores (two "machines", one shared by 4 threads each) on one key. */
static void test_rate_shared(void **state)
{
    server *srv = *state;
    NEED_SERVER(srv);
    tp_tt_limits *a = store(srv), *b = store(srv);
    tp_tt_account acct = {"", NULL};
    tp_tt_limits_account_id(acct.id, CLIENT_KEY, OPEN_ID);
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    double times[MAX_OK];
    int n = 0;
    pthread_t th[N_THREADS];
    hammer_arg args[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        args[i] = (hammer_arg){i % 2 ? a : b, &acct, &mu, times, &n, 0, 0};
        assert_int_equal(pthread_create(&th[i], NULL, hammer, &args[i]), 0);
    }
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].errors, 0);
        /* a wait never exceeds the window (plus the store's margin of 1 s) */
        assert_true(args[i].max_wait <= RATE_WINDOW + 1.0 + 0.01);
    }
    qsort(times, (size_t)n, sizeof(times[0]), cmp_d);
    /* No window of RATE_WINDOW seconds (the store adds a margin, so even window + 0.9 s)
     * holds more than RATE_LIMIT granted requests. */
    int worst = 0;
    for (int i = 0; i < n; i++) {
        int k = 0;
        while (i + k < n && times[i + k] < times[i] + RATE_WINDOW + 0.9)
            k++;
        if (k > worst)
            worst = k;
    }
    print_message("shared rate: %d requests granted in %.1f s to 8 threads on 2 stores, at most "
                  "%d in any %.1f s\n",
                  n, HAMMER_SECONDS, worst, RATE_WINDOW + 0.9);
    assert_true(worst <= RATE_LIMIT);
    /* and it did let requests through: one batch per (window + margin) */
    assert_true(n >= RATE_LIMIT * 2);

    /* The key is named as documented, carries no secret, and expires. */
    tp_redis_url u;
    tp_redis *r = NULL;
    tp_error err = TP_ERROR_INIT;
    assert_int_equal(tp_redis_url_parse(&u, srv->url, &err), 0);
    assert_int_equal(tp_redis_connect(&r, &u, 2, &err), 0);
    redisReply *rep = NULL;
    char key[256];
    tp_tt_limits_rate_key(key, sizeof(key), "lt", acct.id, TP_TT_EP_INIT);
    assert_int_equal(tp_redis_cmd(r, &rep, &err, "pttl", "PTTL %s", key), 0);
    assert_true(rep->integer > 0 && rep->integer <= (long long)((RATE_WINDOW + 2) * 1000));
    freeReplyObject(rep);
    assert_int_equal(tp_redis_cmd(r, &rep, &err, "keys", "KEYS *"), 0);
    assert_true(rep->elements >= 1);
    for (size_t i = 0; i < rep->elements; i++) {
        const char *k = rep->element[i]->str;
        assert_int_equal(strncmp(k, "tokprep:lt:", 11), 0);
        assert_null(strstr(k, CLIENT_KEY));
        assert_null(strstr(k, OPEN_ID));
    }
    freeReplyObject(rep);
    tp_redis_free(r);
    tp_redis_url_clear(&u);
    tp_tt_limits_free(a);
    tp_tt_limits_free(b);
    tp_error_clear(&err);
}

#define RACERS 8
#define ROUNDS 12

typedef struct {
    tp_tt_limits *l;
    tp_tt_account acct;
    pthread_barrier_t *go;
    int rc;
    int64_t next;
    tp_tt_slot slot;
    char message[512];
} racer_arg;

static void *racer(void *p)
{
    racer_arg *r = p;
    tp_error err = TP_ERROR_INIT;
    pthread_barrier_wait(r->go);
    r->rc = tp_tt_limits_daily_reserve(r->l, &r->acct, 3, &r->slot, &r->next, &err);
    tp_strlcpy(r->message, tp_error_message(&err), sizeof(r->message));
    tp_error_clear(&err);
    return NULL;
}

/* Two stores, 8 threads, one slot left (limit 3, two posts made): exactly one wins. Repeated
 * on fresh accounts so the race is run many times. */
static void test_daily_race(void **state)
{
    server *srv = *state;
    NEED_SERVER(srv);
    tp_tt_limits *a = store(srv), *b = store(srv);
    tp_error err = TP_ERROR_INIT;
    for (int round = 0; round < ROUNDS; round++) {
        tp_tt_account acct = {"", NULL};
        char oid[64];
        snprintf(oid, sizeof(oid), "%s-%d", OPEN_ID, round);
        tp_tt_limits_account_id(acct.id, CLIENT_KEY, oid);
        tp_tt_slot s;
        int64_t next = 0;
        for (int i = 0; i < 2; i++) {
            assert_int_equal(tp_tt_limits_daily_reserve(i ? a : b, &acct, 3, &s, &next, &err), 0);
            assert_true(s.held);
            tp_tt_limits_daily_accepted(i ? a : b, &acct, &s);
        }
        pthread_barrier_t go;
        pthread_barrier_init(&go, NULL, RACERS);
        pthread_t th[RACERS];
        racer_arg ra[RACERS];
        for (int i = 0; i < RACERS; i++) {
            ra[i] = (racer_arg){.l = i % 2 ? a : b, .acct = acct, .go = &go};
            assert_int_equal(pthread_create(&th[i], NULL, racer, &ra[i]), 0);
        }
        int wins = 0, winner = -1;
        int64_t now = (int64_t)tp_now_wall();
        for (int i = 0; i < RACERS; i++) {
            pthread_join(th[i], NULL);
            if (ra[i].rc == 0) {
                wins++;
                winner = i;
                assert_true(ra[i].slot.held);
            } else {
                assert_int_equal(ra[i].rc, TP_ERATE);
                assert_false(ra[i].slot.held);
                assert_true(ra[i].next > now + TP_TT_DAILY_WINDOW - 60);
                assert_non_null(strstr(ra[i].message, "daily limit of 3"));
            }
        }
        pthread_barrier_destroy(&go);
        assert_int_equal(wins, 1);
        if (round == 0) {
            /* the winner's post is refused before init: the slot comes back, once */
            tp_tt_limits_daily_release(ra[winner].l, &acct, &ra[winner].slot);
            assert_false(ra[winner].slot.held);
            assert_int_equal(tp_tt_limits_daily_reserve(a, &acct, 3, &s, &next, &err), 0);
            assert_int_equal(tp_tt_limits_daily_reserve(b, &acct, 3, &s, &next, &err), TP_ERATE);
        }
    }
    /* the daily key lives a day and an hour, no longer */
    tp_redis_url u;
    tp_redis *r = NULL;
    assert_int_equal(tp_redis_url_parse(&u, srv->url, &err), 0);
    assert_int_equal(tp_redis_connect(&r, &u, 2, &err), 0);
    tp_tt_account acct = {"", NULL};
    tp_tt_limits_account_id(acct.id, CLIENT_KEY, OPEN_ID "-0");
    char key[256];
    tp_tt_limits_daily_key(key, sizeof(key), "lt", acct.id);
    redisReply *rep = NULL;
    assert_int_equal(tp_redis_cmd(r, &rep, &err, "pttl", "PTTL %s", key), 0);
    assert_true(rep->integer > (TP_TT_DAILY_WINDOW - 60) * 1000LL &&
                rep->integer <= (TP_TT_DAILY_WINDOW + 3600) * 1000LL);
    freeReplyObject(rep);
    assert_int_equal(tp_redis_cmd(r, &rep, &err, "zcard", "ZCARD %s", key), 0);
    assert_int_equal(rep->integer, 3);
    freeReplyObject(rep);
    tp_redis_free(r);
    tp_redis_url_clear(&u);
    tp_tt_limits_free(a);
    tp_tt_limits_free(b);
    tp_error_clear(&err);
}

/* Redis goes away: every operation that could let a request or a post through fails with
 * TP_ENET and says why; release and accepted only log. Then it comes back: reconnects. */
static void test_redis_gone(void **state)
{
    server *srv = *state;
    NEED_SERVER(srv);
    tp_tt_limits *l = store(srv);
    tp_tt_account acct = {"", NULL};
    tp_tt_limits_account_id(acct.id, CLIENT_KEY, OPEN_ID);
    tp_error err = TP_ERROR_INIT;
    double wait = -1;
    tp_tt_slot slot;
    int64_t next = 0;
    assert_int_equal(tp_tt_limits_daily_reserve(l, &acct, 5, &slot, &next, &err), 0);
    assert_true(slot.held);
    stop(srv);
    assert_int_equal(tp_tt_limits_rate_take(l, &acct, TP_TT_EP_INIT, 6, 60, &wait, &err), TP_ENET);
    assert_non_null(strstr(tp_error_message(&err), "shared TikTok limits at redis://127.0.0.1:"));
    assert_non_null(strstr(tp_error_message(&err), "not sending the init request"));
    assert_non_null(strstr(tp_error_message(&err), "retry when Redis answers again"));
    tp_tt_slot s2;
    assert_int_equal(tp_tt_limits_daily_reserve(l, &acct, 5, &s2, &next, &err), TP_ENET);
    assert_false(s2.held);
    assert_non_null(strstr(tp_error_message(&err), "not starting a new post"));
    tp_tt_limits_daily_release(l, &acct, &slot); /* logs, does not crash */
    assert_false(slot.held);
    tp_tt_limits_free(l);
    /* a store cannot be made without its Redis */
    tp_tt_limits *none = NULL;
    assert_int_equal(tp_tt_limits_redis_open(&none, srv->url, &err), TP_ENET);
    assert_null(none);
    assert_non_null(strstr(tp_error_message(&err), "shared TikTok limits"));
    /* a bad URL names the problem without mentioning --queue */
    assert_int_equal(tp_tt_limits_redis_open(&none, "redis://h:1", &err), TP_EINVAL);
    assert_non_null(strstr(tp_error_message(&err), "shared limits URL"));
    assert_null(strstr(tp_error_message(&err), "--queue"));

    /* back again: the same store reconnects on its own */
    start(srv);
    l = store(srv);
    tp_tt_limits_free(l);
    tp_error_clear(&err);
}

/* A store that lived through a restart of Redis keeps working after it. */
static void test_reconnect(void **state)
{
    server *srv = *state;
    NEED_SERVER(srv);
    tp_tt_limits *l = store(srv);
    tp_tt_account acct = {"", NULL};
    tp_tt_limits_account_id(acct.id, CLIENT_KEY, OPEN_ID);
    tp_error err = TP_ERROR_INIT;
    double wait = -1;
    assert_int_equal(tp_tt_limits_rate_take(l, &acct, TP_TT_EP_STATUS, 30, 60, &wait, &err), 0);
    int port = srv->port;
    stop(srv);
    assert_int_equal(tp_tt_limits_rate_take(l, &acct, TP_TT_EP_STATUS, 30, 60, &wait, &err),
                     TP_ENET);
    /* restart on the same port */
    char cmd[256];
    snprintf(cmd, sizeof(cmd),
             "exec redis-server --port %d --bind 127.0.0.1 --save '' --appendonly no "
             "--daemonize no >/dev/null 2>&1",
             port);
    srv->pid = fork();
    if (srv->pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    int rc = -1;
    for (int i = 0; i < 100 && rc < 0; i++) {
        rc = tp_tt_limits_rate_take(l, &acct, TP_TT_EP_STATUS, 30, 60, &wait, &err);
        if (rc < 0)
            usleep(50000);
    }
    assert_int_equal(rc, 0);
    assert_true(wait == 0);
    /* The server drops idle clients (as after a restart): the next call still succeeds, on a
     * new connection, without a failure first. */
    tp_redis_url u;
    tp_redis *r = NULL;
    assert_int_equal(tp_redis_url_parse(&u, srv->url, &err), 0);
    assert_int_equal(tp_redis_connect(&r, &u, 2, &err), 0);
    assert_int_equal(tp_redis_cmd(r, NULL, &err, "kill", "CLIENT KILL TYPE normal SKIPME yes"), 0);
    assert_int_equal(tp_tt_limits_rate_take(l, &acct, TP_TT_EP_STATUS, 30, 60, &wait, &err), 0);
    tp_tt_slot slot;
    int64_t next = 0;
    assert_int_equal(tp_redis_cmd(r, NULL, &err, "kill", "CLIENT KILL TYPE normal SKIPME yes"), 0);
    assert_int_equal(tp_tt_limits_daily_reserve(l, &acct, 5, &slot, &next, &err), 0);
    tp_redis_free(r);
    tp_redis_url_clear(&u);
    tp_tt_limits_free(l);
    tp_error_clear(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_account_id_and_keys),
        cmocka_unit_test(test_local_store),
        cmocka_unit_test(test_profile_key),
        cmocka_unit_test_setup_teardown(test_rate_shared, setup, teardown),
        cmocka_unit_test_setup_teardown(test_daily_race, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconnect, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
