/* TikTok's limits as a pluggable store: the per-token request rates and the per-account daily
 * post cap. The local store is tokprep's single-process behaviour (sliding windows in memory,
 * "<token file>.posts" on disk); the Redis store shares both among every process and machine on
 * one Redis (issue 8), with atomic Lua scripts on Redis' clock.
 *
 * Redis keys (NAME from redis://HOST:PORT/NAME, ID from tp_tt_limits_account_id()):
 *   tokprep:NAME:rate:ID:ENDPOINT  sorted set of request times; the window is the caller's plus
 *                                  a 1 s margin; PEXPIRE that + 1 s
 *   tokprep:NAME:daily:ID          sorted set of post slots (score = time), PEXPIRE 24 h + 1 h
 * Neither names nor members contain a token, a client key or a secret. A post counts from its
 * reservation before init (atomic: two callers cannot both take the last slot) unless it is
 * released because the init was refused or never sent; see docs/ARCHITECTURE.md.
 *
 * Thread-safety: one tp_tt_limits may be used by many threads at once (the Redis store holds a
 * mutex around its connection; the local store is meant for one session and has its own mutex
 * all the same). */
#ifndef TP_TT_LIMITS_H
#define TP_TT_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "upload/tt_window.h"
#include "util/tp_redis.h"
#include "util/tp_util.h"

typedef struct tp_tt_limits tp_tt_limits;

/* The endpoints TikTok limits separately (per access token, per 60 s). */
typedef enum {
    TP_TT_EP_CREATOR_INFO = 0, /* 20/min */
    TP_TT_EP_INIT,             /* 6/min */
    TP_TT_EP_STATUS,           /* 30/min */
    TP_TT_EP_OTHER,            /* 30/min */
    TP_TT_EP_COUNT
} tp_tt_endpoint;

/* Short stable name ("creator_info", "init", "status", "other"): the last part of a rate key. */
const char *tp_tt_endpoint_name(tp_tt_endpoint ep);

/* Who the limits are counted for. */
typedef struct {
    char id[17];            /* tp_tt_limits_account_id(): 16 hex, identifies but reveals nothing */
    const char *posts_path; /* the local store's "<token file>.posts" */
} tp_tt_account;

/* First 16 hex digits of SHA-256("tokprep-limits\n" client_key "\n" open_id): one id per app
 * and account (open_id is per app), so keys never carry the client key, a token or the open_id
 * itself. NULLs count as "". out holds 17 bytes. Thread-safe. */
void tp_tt_limits_account_id(char out[17], const char *client_key, const char *open_id);

/* A daily-cap reservation, from daily_reserve to daily_accepted / daily_release. */
typedef struct {
    char member[64]; /* unique per reservation (random): the sorted-set member */
    bool held;       /* a slot is reserved in the store */
} tp_tt_slot;

/* ---- creating stores ------------------------------------------------------------------- */

/* The shared store on the Redis at url (keys under "tokprep:NAME:"). Connects now (and AUTHs)
 * with a 2 s timeout: TP_ENET / TP_EAUTH when that fails; later failures reconnect on the
 * next call. *out owned by the caller. Thread-safe once made. */
int tp_tt_limits_redis_new(tp_tt_limits **out, const tp_redis_url *url, tp_error *err);

/* The same from a URL string (e.g. the profile key upload.tiktok.shared_limits). */
int tp_tt_limits_redis_open(tp_tt_limits **out, const char *url, tp_error *err);

/* Today's single-process behaviour: rate windows in this object's memory (so one object per
 * session, as tp_tiktok_open makes), daily cap in account->posts_path. */
int tp_tt_limits_local_new(tp_tt_limits **out, tp_error *err);

void tp_tt_limits_free(tp_tt_limits *l); /* accepts NULL */

/* "redis://HOST:PORT/NAME" or "local" (for messages; no password). */
const char *tp_tt_limits_describe(const tp_tt_limits *l);

/* ---- operations ------------------------------------------------------------------------ */

/* One request to ep under `limit` per `window` seconds: when allowed, records it and sets
 * *wait = 0; otherwise records nothing and sets *wait to the seconds until the oldest counted
 * request leaves the window (the caller sleeps and asks again). The check and the record are one
 * atomic step, so concurrent callers never exceed the limit together.
 * Redis unreachable or failing: TP_ENET, message naming the store and saying that nothing was
 * sent to TikTok (it never answers "go" without counting). */
int tp_tt_limits_rate_take(tp_tt_limits *l, const tp_tt_account *a, tp_tt_endpoint ep, int limit,
                           double window, double *wait, tp_error *err);

/* Before an init (a new post): may one more post be made under `limit` per 24 h (limit <= 0 = no
 * cap: 0 at once, nothing held)? 0 = yes; TP_ERATE = no, *next = the epoch second when one will
 * be possible (the message says so, naming upload.tiktok.daily_limit); TP_ENET = Redis failed
 * (nothing reserved; do not post). Redis: the slot is reserved atomically (two racing callers
 * cannot both take the last one) and counts as a post until released. Local: only checks. */
int tp_tt_limits_daily_reserve(tp_tt_limits *l, const tp_tt_account *a, int limit, tp_tt_slot *slot,
                               int64_t *next, tp_error *err);

/* TikTok accepted the init (it has a publish_id): from now on the slot is a post. Redis: the
 * slot's time becomes now, so it leaves the 24 h window 24 h after the init. Best effort (a failure
 * is logged: the reservation already counts). */
void tp_tt_limits_daily_accepted(tp_tt_limits *l, const tp_tt_account *a, tp_tt_slot *slot);

/* Every chunk is acknowledged. Local: records the post in posts_path (today's moment). Redis:
 * nothing (the post was counted at init). Best effort. */
void tp_tt_limits_daily_uploaded(tp_tt_limits *l, const tp_tt_account *a);

/* Nothing was posted after all (refused before or by init, cancelled before the init was
 * sent): give the slot back. Never call it when the init may have reached TikTok without a
 * clear refusal (a lost answer): then the slot stays counted. Best effort; no-op unless held. */
void tp_tt_limits_daily_release(tp_tt_limits *l, const tp_tt_account *a, tp_tt_slot *slot);

/* ---- implementing a store ---------------------------------------------------------------- */

typedef struct {
    const char *kind; /* "local", "redis" */
    int (*rate_take)(tp_tt_limits *l, const tp_tt_account *a, tp_tt_endpoint ep, int limit,
                     double window, double *wait, tp_error *err);
    int (*daily_reserve)(tp_tt_limits *l, const tp_tt_account *a, int limit, tp_tt_slot *slot,
                         int64_t *next, tp_error *err);
    void (*daily_accepted)(tp_tt_limits *l, const tp_tt_account *a, tp_tt_slot *slot);
    void (*daily_uploaded)(tp_tt_limits *l, const tp_tt_account *a);
    void (*daily_release)(tp_tt_limits *l, const tp_tt_account *a, tp_tt_slot *slot);
    const char *(*describe)(const tp_tt_limits *l);
    void (*destroy)(tp_tt_limits *l);
} tp_tt_limits_ops;

/* Every store starts with this (implementations embed it as their first member). */
struct tp_tt_limits {
    const tp_tt_limits_ops *ops;
};

/* Key names (for tests and `status`): "tokprep:NAME:rate:ID:ENDPOINT", "tokprep:NAME:daily:ID".
 * Return the length written (snprintf). */
int tp_tt_limits_rate_key(char *buf, size_t size, const char *name, const char *id,
                          tp_tt_endpoint ep);
int tp_tt_limits_daily_key(char *buf, size_t size, const char *name, const char *id);

#endif
