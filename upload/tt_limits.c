/* TikTok's rate and daily limits: the local store (one process, as before issue 8) and the
 * Redis store shared by every worker (atomic Lua scripts on Redis' clock). See tt_limits.h. */
#define _POSIX_C_SOURCE 200809L
#include "upload/tt_limits.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "upload/tt_window.h"

#define POSTS_MAX 1024
#define REDIS_TIMEOUT 2.0 /* connect and per command: a stuck Redis must not stall uploads long */
/* Added to the rate window in Redis: a request is counted when the script runs and reaches
 * TikTok a little later, by a different delay on each machine; the margin absorbs that. */
#define RATE_MARGIN 1.0
#define DAILY_TTL_EXTRA 3600 /* the daily key outlives its newest slot's window by this */

static const char *const ep_names[TP_TT_EP_COUNT] = {"creator_info", "init", "status", "other"};

const char *tp_tt_endpoint_name(tp_tt_endpoint ep)
{
    return (unsigned)ep < TP_TT_EP_COUNT ? ep_names[ep] : "other";
}

void tp_tt_limits_account_id(char out[17], const char *client_key, const char *open_id)
{
    tp_sha256 *s = tp_sha256_new();
    char hex[65];
    if (!s) {
        /* No memory for the hash: a fixed id is still safe (all accounts share one count). */
        tp_strlcpy(out, "0000000000000000", 17);
        return;
    }
    static const char tag[] = "tokprep-limits\n";
    tp_sha256_update(s, tag, sizeof(tag) - 1);
    tp_sha256_update(s, client_key ? client_key : "", client_key ? strlen(client_key) : 0);
    tp_sha256_update(s, "\n", 1);
    tp_sha256_update(s, open_id ? open_id : "", open_id ? strlen(open_id) : 0);
    tp_sha256_final_hex(s, hex);
    memcpy(out, hex, 16);
    out[16] = '\0';
}

int tp_tt_limits_rate_key(char *buf, size_t size, const char *name, const char *id,
                          tp_tt_endpoint ep)
{
    return snprintf(buf, size, "tokprep:%s:rate:%s:%s", name, id, tp_tt_endpoint_name(ep));
}

int tp_tt_limits_daily_key(char *buf, size_t size, const char *name, const char *id)
{
    return snprintf(buf, size, "tokprep:%s:daily:%s", name, id);
}

static int daily_refusal(int limit, int64_t next, tp_error *err)
{
    char when[64];
    tp_time_format(when, sizeof(when), (double)next, TP_TIME_UTC);
    return tp_error_set(err, TP_ERATE, 0,
                        "daily limit of %d posts per 24 h reached for this account "
                        "(upload.tiktok.daily_limit, kept by tokprep because TikTok caps posts "
                        "per creator); the next post is possible at %s",
                        limit, when);
}

/* ---- operations (dispatch) -------------------------------------------------------------- */

int tp_tt_limits_rate_take(tp_tt_limits *l, const tp_tt_account *a, tp_tt_endpoint ep, int limit,
                           double window, double *wait, tp_error *err)
{
    tp_error local = TP_ERROR_INIT;
    *wait = 0;
    int rc = l->ops->rate_take(l, a, ep, limit, window, wait, err ? err : &local);
    tp_error_clear(&local);
    return rc;
}

int tp_tt_limits_daily_reserve(tp_tt_limits *l, const tp_tt_account *a, int limit, tp_tt_slot *slot,
                               int64_t *next, tp_error *err)
{
    tp_error local = TP_ERROR_INIT;
    memset(slot, 0, sizeof(*slot));
    *next = 0;
    if (limit <= 0)
        return 0;
    int rc = l->ops->daily_reserve(l, a, limit, slot, next, err ? err : &local);
    tp_error_clear(&local);
    return rc;
}

void tp_tt_limits_daily_accepted(tp_tt_limits *l, const tp_tt_account *a, tp_tt_slot *slot)
{
    if (slot->held)
        l->ops->daily_accepted(l, a, slot);
}

void tp_tt_limits_daily_uploaded(tp_tt_limits *l, const tp_tt_account *a)
{
    l->ops->daily_uploaded(l, a);
}

void tp_tt_limits_daily_release(tp_tt_limits *l, const tp_tt_account *a, tp_tt_slot *slot)
{
    if (slot->held)
        l->ops->daily_release(l, a, slot);
    slot->held = false;
}

const char *tp_tt_limits_describe(const tp_tt_limits *l)
{
    return l ? l->ops->describe(l) : "local";
}

void tp_tt_limits_free(tp_tt_limits *l)
{
    if (l)
        l->ops->destroy(l);
}

/* ---- local store ------------------------------------------------------------------------- */

typedef struct {
    tp_tt_limits base;
    pthread_mutex_t mu;
    bool init[TP_TT_EP_COUNT];
    tp_tt_rate rate[TP_TT_EP_COUNT];
} local_store;

static int local_rate_take(tp_tt_limits *l, const tp_tt_account *a, tp_tt_endpoint ep, int limit,
                           double window, double *wait, tp_error *err)
{
    (void)a;
    (void)err;
    local_store *s = (local_store *)l;
    if ((unsigned)ep >= TP_TT_EP_COUNT)
        ep = TP_TT_EP_OTHER;
    pthread_mutex_lock(&s->mu);
    if (!s->init[ep] || s->rate[ep].window != window) {
        tp_tt_rate_init(&s->rate[ep], limit, window);
        s->init[ep] = true;
    }
    double now = tp_now_monotonic();
    *wait = tp_tt_rate_delay(&s->rate[ep], now);
    if (*wait <= 0) {
        *wait = 0;
        tp_tt_rate_note(&s->rate[ep], now);
    }
    pthread_mutex_unlock(&s->mu);
    return 0;
}

static void posts_load(const char *path, int64_t *posts, int *n)
{
    *n = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[64];
    while (*n < POSTS_MAX && fgets(line, sizeof(line), f))
        posts[(*n)++] = strtoll(line, NULL, 10);
    fclose(f);
}

static int local_daily_reserve(tp_tt_limits *l, const tp_tt_account *a, int limit, tp_tt_slot *slot,
                               int64_t *next, tp_error *err)
{
    (void)l;
    (void)slot; /* only checks: the post is recorded once uploaded, as before issue 8 */
    if (!a->posts_path)
        return 0;
    int64_t *posts = calloc(POSTS_MAX, sizeof(*posts));
    int n = 0;
    if (!posts)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    posts_load(a->posts_path, posts, &n);
    *next = tp_tt_daily_next(posts, n, limit, (int64_t)tp_now_wall());
    free(posts);
    return *next ? daily_refusal(limit, *next, err) : 0;
}

static void local_daily_accepted(tp_tt_limits *l, const tp_tt_account *a, tp_tt_slot *slot)
{
    (void)l;
    (void)a;
    (void)slot;
}

static void local_daily_uploaded(tp_tt_limits *l, const tp_tt_account *a)
{
    (void)l;
    if (!a->posts_path)
        return;
    const char *path = a->posts_path;
    int64_t *posts = calloc(POSTS_MAX, sizeof(*posts));
    int n = 0;
    if (!posts)
        return;
    posts_load(path, posts, &n);
    int64_t now = (int64_t)tp_now_wall();
    /* An unpredictable name created O_EXCL|O_NOFOLLOW next to the file, then renamed. */
    char *dir = tp_strdup(path), *tmp = NULL;
    char *slash = dir ? strrchr(dir, '/') : NULL;
    tp_error cerr = TP_ERROR_INIT;
    int fd = -1;
    if (slash)
        *slash = '\0';
    if (dir)
        fd = tp_create_exclusive(&tmp, slash ? (dir[0] ? dir : "/") : ".", ".tokprep-posts-", NULL,
                                 0600, &cerr);
    tp_error_clear(&cerr);
    free(dir);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(tmp);
        tp_log(TP_LOG_WARN, "%s: cannot record the post for daily_limit", path);
        free(posts);
        return;
    }
    for (int i = 0; i < n; i++)
        if (posts[i] > now - TP_TT_DAILY_WINDOW) /* older entries no longer count */
            fprintf(f, "%lld\n", (long long)posts[i]);
    fprintf(f, "%lld\n", (long long)now);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        tp_log(TP_LOG_WARN, "%s: cannot record the post for daily_limit", path);
    }
    free(tmp);
    free(posts);
}

static void local_daily_release(tp_tt_limits *l, const tp_tt_account *a, tp_tt_slot *slot)
{
    (void)l;
    (void)a;
    (void)slot;
}

static const char *local_describe(const tp_tt_limits *l)
{
    (void)l;
    return "local";
}

static void local_destroy(tp_tt_limits *l)
{
    local_store *s = (local_store *)l;
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static const tp_tt_limits_ops local_ops = {
    .kind = "local",
    .rate_take = local_rate_take,
    .daily_reserve = local_daily_reserve,
    .daily_accepted = local_daily_accepted,
    .daily_uploaded = local_daily_uploaded,
    .daily_release = local_daily_release,
    .describe = local_describe,
    .destroy = local_destroy,
};

int tp_tt_limits_local_new(tp_tt_limits **out, tp_error *err)
{
    *out = NULL;
    local_store *s = calloc(1, sizeof(*s));
    if (!s)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    s->base.ops = &local_ops;
    pthread_mutex_init(&s->mu, NULL);
    *out = &s->base;
    return 0;
}

/* ---- Redis store ------------------------------------------------------------------------- */

/* KEYS[1] sorted set; ARGV: limit, window seconds, member, extra TTL seconds.
 * Trims what left the window, then adds the member when fewer than `limit` remain and answers
 * "0"; else answers the seconds until the oldest of the last `limit` leaves (nothing added).
 * Times are Redis' own (TIME), so clients with skewed clocks agree. Replies are strings
 * because Redis truncates Lua numbers to integers. */
static const char RATE_SCRIPT[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) + tonumber(t[2]) / 1000000\n"
    "local limit = tonumber(ARGV[1])\n"
    "local win = tonumber(ARGV[2])\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - win)\n"
    "local n = redis.call('ZCARD', KEYS[1])\n"
    "if n < limit then\n"
    "  redis.call('ZADD', KEYS[1], now, ARGV[3])\n"
    "  redis.call('PEXPIRE', KEYS[1], math.ceil((win + tonumber(ARGV[4])) * 1000))\n"
    "  return {'0', string.format('%.6f', now)}\n"
    "end\n"
    "local o = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')\n"
    "local wait = tonumber(o[2]) + win - now\n"
    "if wait < 0.001 then wait = 0.001 end\n"
    "return {string.format('%.6f', wait), string.format('%.6f', now)}\n";

/* The daily cap uses the same script: a reservation is the member, the answer when refused is
 * the wait; the caller turns it into an epoch second. */

/* KEYS[1] daily set; ARGV: member, ttl seconds. The slot's time becomes Redis' now. */
static const char ACCEPT_SCRIPT[] = "local t = redis.call('TIME')\n"
                                    "local now = tonumber(t[1]) + tonumber(t[2]) / 1000000\n"
                                    "redis.call('ZADD', KEYS[1], now, ARGV[1])\n"
                                    "redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 1000)\n"
                                    "return 1\n";

typedef struct {
    tp_tt_limits base;
    pthread_mutex_t mu; /* the connection serves one thread at a time */
    tp_redis *r;
    char name[128];
    char display[512];
    char instance[17]; /* random: makes members unique across processes */
    unsigned long long counter;
} redis_store;

static void new_member(redis_store *s, char *buf, size_t size, const char *kind)
{
    /* under s->mu */
    snprintf(buf, size, "%s:%s:%llu", kind, s->instance, ++s->counter);
}

/* EVAL, once more on a broken connection: after a Redis restart or an idle timeout the first
 * command finds the old socket dead and the second reconnects. Safe to repeat: members are
 * unique per call, so a script that did run before the answer was lost adds nothing twice. */
static int eval_twice(redis_store *s, redisReply **reply, tp_error *err, const char *what,
                      const char *script, const char *key, int nargs, const char **args)
{
    const char *keys[] = {key};
    int rc = tp_redis_eval(s->r, reply, err, what, script, 1, keys, nargs, args);
    if (rc == TP_ENET)
        rc = tp_redis_eval(s->r, reply, err, what, script, 1, keys, nargs, args);
    return rc;
}

/* A Redis failure as the store's error: retryable, and saying nothing was sent. */
static int store_down(redis_store *s, const char *doing, tp_error *err)
{
    if (err->code == TP_ENOMEM)
        return TP_ENOMEM;
    return tp_error_set(err, TP_ENET, 0,
                        "shared TikTok limits at %s unavailable (%s): not %s, because without "
                        "them the workers together could exceed TikTok's limits; retry when "
                        "Redis answers again",
                        s->display, tp_error_message(err), doing);
}

/* Runs RATE_SCRIPT; *wait = 0 when added, else seconds to wait; *now = Redis' time. */
static int run_window(redis_store *s, const char *key, int limit, double window, const char *member,
                      double ttl_extra, double *wait, double *now, const char *what, tp_error *err)
{
    char a_limit[32], a_win[64], a_ttl[64];
    snprintf(a_limit, sizeof(a_limit), "%d", limit);
    snprintf(a_win, sizeof(a_win), "%.3f", window);
    snprintf(a_ttl, sizeof(a_ttl), "%.3f", ttl_extra);
    const char *args[] = {a_limit, a_win, member, a_ttl};
    redisReply *rep = NULL;
    int rc = eval_twice(s, &rep, err, what, RATE_SCRIPT, key, 4, args);
    if (rc < 0)
        return rc;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        rep->element[0]->type != REDIS_REPLY_STRING ||
        rep->element[1]->type != REDIS_REPLY_STRING) {
        freeReplyObject(rep);
        return tp_error_set(err, TP_EIO, 0, "%s: %s: unexpected answer from the script", s->display,
                            what);
    }
    *wait = strtod(rep->element[0]->str, NULL);
    *now = strtod(rep->element[1]->str, NULL);
    freeReplyObject(rep);
    return 0;
}

static int redis_rate_take(tp_tt_limits *l, const tp_tt_account *a, tp_tt_endpoint ep, int limit,
                           double window, double *wait, tp_error *err)
{
    redis_store *s = (redis_store *)l;
    char key[512], member[64];
    double now = 0;
    if (limit < 1)
        limit = 1;
    tp_tt_limits_rate_key(key, sizeof(key), s->name, a->id, ep);
    pthread_mutex_lock(&s->mu);
    new_member(s, member, sizeof(member), "r");
    int rc = run_window(s, key, limit, window + RATE_MARGIN, member, 1.0, wait, &now,
                        "rate limit script", err);
    pthread_mutex_unlock(&s->mu);
    if (rc < 0) {
        char doing[96];
        snprintf(doing, sizeof(doing), "sending the %s request", tp_tt_endpoint_name(ep));
        return store_down(s, doing, err);
    }
    return 0;
}

static int redis_daily_reserve(tp_tt_limits *l, const tp_tt_account *a, int limit, tp_tt_slot *slot,
                               int64_t *next, tp_error *err)
{
    redis_store *s = (redis_store *)l;
    char key[512];
    double wait = 0, now = 0;
    tp_tt_limits_daily_key(key, sizeof(key), s->name, a->id);
    pthread_mutex_lock(&s->mu);
    new_member(s, slot->member, sizeof(slot->member), "p");
    int rc = run_window(s, key, limit, TP_TT_DAILY_WINDOW, slot->member, DAILY_TTL_EXTRA, &wait,
                        &now, "daily cap script", err);
    pthread_mutex_unlock(&s->mu);
    if (rc < 0)
        return store_down(s, "starting a new post", err);
    if (wait > 0) {
        /* The oldest counted slot leaves at now + wait (Redis' clock, which is what counts). */
        *next = (int64_t)(now + wait) + 1;
        return daily_refusal(limit, *next, err);
    }
    slot->held = true;
    return 0;
}

static void redis_daily_accepted(tp_tt_limits *l, const tp_tt_account *a, tp_tt_slot *slot)
{
    redis_store *s = (redis_store *)l;
    char key[512], ttl[32];
    tp_error err = TP_ERROR_INIT;
    tp_tt_limits_daily_key(key, sizeof(key), s->name, a->id);
    snprintf(ttl, sizeof(ttl), "%d", TP_TT_DAILY_WINDOW + DAILY_TTL_EXTRA);
    const char *args[] = {slot->member, ttl};
    pthread_mutex_lock(&s->mu);
    int rc = eval_twice(s, NULL, &err, "daily cap: post accepted", ACCEPT_SCRIPT, key, 2, args);
    pthread_mutex_unlock(&s->mu);
    if (rc < 0)
        tp_log(TP_LOG_WARN, "%s (the post stays counted from its reservation)",
               tp_error_message(&err));
    tp_error_clear(&err);
}

static void redis_daily_uploaded(tp_tt_limits *l, const tp_tt_account *a)
{
    (void)l; /* counted at init */
    (void)a;
}

static void redis_daily_release(tp_tt_limits *l, const tp_tt_account *a, tp_tt_slot *slot)
{
    redis_store *s = (redis_store *)l;
    char key[512];
    tp_error err = TP_ERROR_INIT;
    tp_tt_limits_daily_key(key, sizeof(key), s->name, a->id);
    pthread_mutex_lock(&s->mu);
    int rc = tp_redis_cmd(s->r, NULL, &err, "daily cap: release", "ZREM %s %s", key, slot->member);
    if (rc == TP_ENET)
        rc = tp_redis_cmd(s->r, NULL, &err, "daily cap: release", "ZREM %s %s", key, slot->member);
    pthread_mutex_unlock(&s->mu);
    if (rc < 0)
        tp_log(TP_LOG_WARN, "%s (the unused slot stays counted for 24 h)", tp_error_message(&err));
    tp_error_clear(&err);
}

static const char *redis_describe(const tp_tt_limits *l)
{
    return ((const redis_store *)l)->display;
}

static void redis_destroy(tp_tt_limits *l)
{
    redis_store *s = (redis_store *)l;
    tp_redis_free(s->r);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static const tp_tt_limits_ops redis_ops = {
    .kind = "redis",
    .rate_take = redis_rate_take,
    .daily_reserve = redis_daily_reserve,
    .daily_accepted = redis_daily_accepted,
    .daily_uploaded = redis_daily_uploaded,
    .daily_release = redis_daily_release,
    .describe = redis_describe,
    .destroy = redis_destroy,
};

int tp_tt_limits_redis_new(tp_tt_limits **out, const tp_redis_url *url, tp_error *err)
{
    *out = NULL;
    redis_store *s = calloc(1, sizeof(*s));
    if (!s)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    s->base.ops = &redis_ops;
    pthread_mutex_init(&s->mu, NULL);
    tp_strlcpy(s->name, url->name, sizeof(s->name));
    tp_strlcpy(s->display, url->display, sizeof(s->display));
    unsigned char rnd[8];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        /* Uniqueness is what matters: pid, time and address make a fallback. */
        unsigned long long x = (unsigned long long)getpid() ^
                               (unsigned long long)(tp_now_wall() * 1e6) ^
                               (unsigned long long)(uintptr_t)s;
        memcpy(rnd, &x, sizeof(rnd));
    }
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(s->instance + 2 * i, 3, "%02x", rnd[i]);
    int rc = tp_redis_connect(&s->r, url, REDIS_TIMEOUT, err);
    if (rc < 0) {
        tp_error_prefix(err, "shared TikTok limits");
        redis_destroy(&s->base);
        return rc;
    }
    *out = &s->base;
    return 0;
}

int tp_tt_limits_redis_open(tp_tt_limits **out, const char *url, tp_error *err)
{
    tp_redis_url u;
    tp_error local = TP_ERROR_INIT;
    *out = NULL;
    if (!err)
        err = &local;
    int rc = tp_redis_url_parse(&u, url, err);
    if (rc < 0) {
        /* The parser speaks of --queue; here the URL came from somewhere else. */
        const char *m = tp_error_message(err);
        if (!strncmp(m, "--queue: ", 9))
            m += 9;
        rc = tp_error_set(err, err->code, 0, "shared limits URL: %s", m);
        tp_error_clear(&local);
        return rc;
    }
    rc = tp_tt_limits_redis_new(out, &u, err);
    tp_redis_url_clear(&u);
    tp_error_clear(&local);
    return rc;
}
