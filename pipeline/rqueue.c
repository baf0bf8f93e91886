/* The scale-out queue in Redis: connection and key names, the Lua scripts that change a job's
 * state atomically (state, counters, stream acknowledgement and claim in one step, so a crash
 * between two of them cannot leave the queue inconsistent), `enqueue` and `status --queue`. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <libavutil/aes_ctr.h>
#include <libavutil/hmac.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "pipeline/internal.h"
#include "pipeline/ledger.h"
#include "pipeline/rqueue.h"
#include "pipeline/scan.h"
#include "util/tp_util.h"

int tp_rqueue_open(tp_rqueue *q, const char *url, double timeout, tp_error *err)
{
    int rc;
    memset(q, 0, sizeof(*q));
    if ((rc = tp_redis_url_parse(&q->url, url, err)) < 0)
        return rc;
    q->stream = tp_asprintf("tokprep:%s:jobs", q->url.name);
    q->dead = tp_asprintf("tokprep:%s:dead", q->url.name);
    q->counts = tp_asprintf("tokprep:%s:counts", q->url.name);
    q->delayed = tp_asprintf("tokprep:%s:delayed", q->url.name);
    if (!q->stream || !q->dead || !q->counts || !q->delayed) {
        tp_rqueue_close(q);
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    }
    if ((rc = tp_redis_connect(&q->r, &q->url, timeout, err)) < 0) {
        tp_rqueue_close(q);
        return rc;
    }
    return 0;
}

void tp_rqueue_close(tp_rqueue *q)
{
    tp_redis_free(q->r);
    tp_redis_url_clear(&q->url);
    free(q->stream);
    free(q->dead);
    free(q->counts);
    free(q->delayed);
    memset(q, 0, sizeof(*q));
}

int tp_rqueue_ensure_group(tp_rqueue *q, tp_error *err)
{
    /* From id 0: jobs enqueued before the first worker ever started are delivered too. */
    tp_error e = TP_ERROR_INIT;
    int rc = tp_redis_cmd(q->r, NULL, &e, "creating the consumer group",
                          "XGROUP CREATE %s " TP_RQ_GROUP " 0 MKSTREAM", q->stream);
    if (rc < 0 && rc != TP_ECONFLICT && err) /* ECONFLICT = BUSYGROUP: it exists */
        tp_error_move(err, &e);
    tp_error_clear(&e);
    return rc == TP_ECONFLICT ? 0 : rc;
}

char *tp_rq_job_id(const char *fingerprint, const char *profile)
{
    return tp_asprintf("%s:%s", fingerprint, profile && *profile ? profile : "-");
}

char *tp_rq_key(const tp_rqueue *q, const char *kind, const char *job_id)
{
    return tp_asprintf("tokprep:%s:%s:%s", q->url.name, kind, job_id);
}

void tp_rq_entry_clear(tp_rq_entry *e)
{
    free(e->job_id);
    memset(e, 0, sizeof(*e));
}

const char *tp_rq_field(const redisReply *arr, const char *field)
{
    if (!arr || arr->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < arr->elements; i += 2) {
        const redisReply *k = arr->element[i], *v = arr->element[i + 1];
        if (k->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING &&
            !strcmp(k->str, field))
            return v->str;
    }
    return NULL;
}

/* [id, [field, value, ...]] → *e. 1 when it is an entry, 0 for a nil (deleted) one. */
static int parse_entry(const redisReply *it, tp_rq_entry *e)
{
    if (!it || it->type != REDIS_REPLY_ARRAY || it->elements < 2 ||
        it->element[0]->type != REDIS_REPLY_STRING)
        return 0;
    tp_strlcpy(e->id, it->element[0]->str, sizeof(e->id));
    const char *job = tp_rq_field(it->element[1], "job");
    e->job_id = job ? tp_strdup(job) : NULL;
    return 1;
}

int tp_rqueue_autoclaim(tp_rqueue *q, const char *consumer, long long min_idle_ms, tp_rq_entry *e,
                        tp_error *err)
{
    redisReply *rep = NULL;
    memset(e, 0, sizeof(*e));
    int rc = tp_redis_cmd(q->r, &rep, err, "taking over stalled jobs (XAUTOCLAIM)",
                          "XAUTOCLAIM %s " TP_RQ_GROUP " %s %lld 0-0 COUNT 1", q->stream, consumer,
                          min_idle_ms);
    if (rc < 0)
        return rc;
    /* [cursor, [[id, fields]...], [deleted ids]] */
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements >= 2 &&
        rep->element[1]->type == REDIS_REPLY_ARRAY && rep->element[1]->elements > 0)
        rc = parse_entry(rep->element[1]->element[0], e);
    freeReplyObject(rep);
    return rc;
}

int tp_rqueue_read(tp_rqueue *q, const char *consumer, int block_ms, tp_rq_entry *e, tp_error *err)
{
    redisReply *rep = NULL;
    memset(e, 0, sizeof(*e));
    int rc = tp_redis_cmd(q->r, &rep, err, "reading the queue (XREADGROUP)",
                          "XREADGROUP GROUP " TP_RQ_GROUP " %s COUNT 1 BLOCK %d STREAMS %s >",
                          consumer, block_ms, q->stream);
    if (rc < 0)
        return rc;
    /* nil on timeout, else [[stream, [[id, fields]]]] */
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements > 0) {
        const redisReply *s = rep->element[0];
        if (s->type == REDIS_REPLY_ARRAY && s->elements >= 2 &&
            s->element[1]->type == REDIS_REPLY_ARRAY && s->element[1]->elements > 0)
            rc = parse_entry(s->element[1]->element[0], e);
    }
    freeReplyObject(rep);
    return rc;
}

/* ---- scripts ------------------------------------------------------------------------------ */

/* KEYS: 1 job hash, 2 claim, 3 counts, 4 jobs stream, 5 dead stream, 6 delayed set.
 * ARGV: 1 consumer, 2 group, 3 entry id, 4 now (epoch s), 5 job id, then per script.
 * `counts` holds how many jobs are in each state: every state change goes through move(). */
#define LUA_PRELUDE                                                                                \
    "local function move(from, to)\n"                                                              \
    "  if from == to then return end\n"                                                            \
    "  if from then redis.call('HINCRBY', KEYS[3], from, -1) end\n"                                \
    "  redis.call('HINCRBY', KEYS[3], to, 1)\n"                                                    \
    "end\n"                                                                                        \
    "local function release()\n"                                                                   \
    "  if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) return 1 end\n"    \
    "  return 0\n"                                                                                 \
    "end\n"                                                                                        \
    "local function final(st) return st == 'done' or st == 'dead' or st == 'rejected' end\n"

/* START (6 lease ms, 7 max attempts): take the claim and count an attempt. An attempt is
 * counted when work starts, so a worker that dies with the job has used one up. */
static const char start_lua[] = LUA_PRELUDE
    "local st = redis.call('HGET', KEYS[1], 'state')\n"
    "if not st then return {'gone', ''} end\n"
    "if final(st) then return {'final', st} end\n"
    "local holder = redis.call('GET', KEYS[2])\n"
    "if holder and holder ~= ARGV[1] then return {'busy', holder} end\n"
    "local att = tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0')\n"
    "if att >= tonumber(ARGV[7]) then return {'exhausted', tostring(att)} end\n"
    "redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[6])\n"
    "att = redis.call('HINCRBY', KEYS[1], 'attempts', 1)\n"
    "move(st, 'running')\n"
    "redis.call('HSET', KEYS[1], 'state', 'running', 'worker', ARGV[1], 'started_at', ARGV[4],\n"
    "  'updated_at', ARGV[4], 'entry', ARGV[3])\n"
    "return {'ok', tostring(att)}\n";

/* FINISH (6 state done|rejected, 7 reason, 8 error code, 9 outputs JSON, 10 publish id):
 * record the result, then acknowledge, in one step. Returns 1 when the claim was still ours. */
static const char finish_lua[] = LUA_PRELUDE
    "local st = redis.call('HGET', KEYS[1], 'state')\n"
    "move(st, ARGV[6])\n"
    "redis.call('HSET', KEYS[1], 'state', ARGV[6], 'reason', ARGV[7], 'error_code', ARGV[8],\n"
    "  'outputs', ARGV[9], 'publish_id', ARGV[10], 'worker', ARGV[1], 'finished_at', ARGV[4],\n"
    "  'updated_at', ARGV[4])\n"
    "redis.call('HDEL', KEYS[1], 'ckpt_url')\n"
    "redis.call('XACK', KEYS[4], ARGV[2], ARGV[3])\n"
    "return release()\n";

/* FAIL (6 reason, 7 error code, 8 max attempts, 9 counted 1|0, 10 requeue now 1|0,
 * 11 not_before epoch s or ""):
 *  - counted and out of attempts: dead-letter (XADD to the dead stream) and acknowledge;
 *  - counted: state failed, entry left pending: any worker takes it again after reclaim_after;
 *  - not counted (interrupted, deferred): the attempt is given back, state queued; with
 *    requeue the entry is acknowledged and added anew, so another worker takes it at once;
 *  - not counted with not_before (a daily cap, a long rate limit): state deferred, the entry
 *    acknowledged and the job put in the delayed set, so no worker takes it before then
 *    (PROMOTE adds it back). All in one step: it cannot be both pending and delayed.
 * Returns {'dead'|'retry'|'requeued'|'deferred'|'final'|'gone', attempts}. */
static const char fail_lua[] = LUA_PRELUDE
    "local st = redis.call('HGET', KEYS[1], 'state')\n"
    "if not st or final(st) then\n"
    "  redis.call('XACK', KEYS[4], ARGV[2], ARGV[3]) release()\n"
    "  return {st and 'final' or 'gone', '0'}\n"
    "end\n"
    "local att = tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0')\n"
    "if ARGV[9] == '0' and att > 0 then\n"
    "  att = att - 1 redis.call('HSET', KEYS[1], 'attempts', att)\n"
    "end\n"
    "release()\n"
    "redis.call('HSET', KEYS[1], 'reason', ARGV[6], 'error_code', ARGV[7], 'worker', ARGV[1],\n"
    "  'updated_at', ARGV[4])\n"
    "if ARGV[9] == '1' and att >= tonumber(ARGV[8]) then\n"
    "  move(st, 'dead')\n"
    "  redis.call('HSET', KEYS[1], 'state', 'dead', 'finished_at', ARGV[4])\n"
    "  redis.call('HDEL', KEYS[1], 'ckpt_url')\n"
    "  local f = redis.call('HMGET', KEYS[1], 'path', 'fingerprint', 'profile')\n"
    "  redis.call('XADD', KEYS[5], '*', 'job', ARGV[5], 'path', f[1] or '', 'fingerprint',\n"
    "    f[2] or '', 'profile', f[3] or '', 'reason', ARGV[6], 'error_code', ARGV[7],\n"
    "    'attempts', tostring(att), 'worker', ARGV[1])\n"
    "  redis.call('XACK', KEYS[4], ARGV[2], ARGV[3])\n"
    "  return {'dead', tostring(att)}\n"
    "end\n"
    "if ARGV[9] == '0' and ARGV[11] ~= '' then\n"
    "  move(st, 'deferred')\n"
    "  redis.call('HSET', KEYS[1], 'state', 'deferred', 'not_before', ARGV[11])\n"
    "  redis.call('XACK', KEYS[4], ARGV[2], ARGV[3])\n"
    "  redis.call('ZADD', KEYS[6], ARGV[11], ARGV[5])\n"
    "  return {'deferred', tostring(att)}\n"
    "end\n"
    "move(st, ARGV[9] == '1' and 'failed' or 'queued')\n"
    "redis.call('HSET', KEYS[1], 'state', ARGV[9] == '1' and 'failed' or 'queued')\n"
    "if ARGV[10] == '1' then\n"
    "  redis.call('XACK', KEYS[4], ARGV[2], ARGV[3])\n"
    "  local id = redis.call('XADD', KEYS[4], '*', 'job', ARGV[5])\n"
    "  redis.call('HSET', KEYS[1], 'entry', id)\n"
    "  return {'requeued', tostring(att)}\n"
    "end\n"
    "return {'retry', tostring(att)}\n";

/* HEARTBEAT (6 lease ms): keep the claim (or take it back if it lapsed and nobody took it)
 * and reset the entry's idle time, so XAUTOCLAIM leaves a live worker's job alone. 0 = lost;
 * 2 = the job is no longer running (its outcome was just recorded): nothing to keep. */
static const char heartbeat_lua[] =
    "if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return 2 end\n"
    "local h = redis.call('GET', KEYS[2])\n"
    "if h == ARGV[1] then redis.call('PEXPIRE', KEYS[2], ARGV[6])\n"
    "elseif h then return 0\n"
    "else redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[6]) end\n"
    "redis.call('XCLAIM', KEYS[4], ARGV[2], ARGV[1], 0, ARGV[3], 'JUSTID')\n"
    "return 1\n";

const char *tp_rq_script_text(tp_rq_script s)
{
    switch (s) {
    case TP_RQS_START: return start_lua;
    case TP_RQS_FINISH: return finish_lua;
    case TP_RQS_FAIL: return fail_lua;
    default: return heartbeat_lua;
    }
}

int tp_rqueue_script(tp_rqueue *q, tp_rq_script s, const char *job_id, const char *consumer,
                     const char *entry, int nextra, const char **extra, redisReply **reply,
                     tp_error *err)
{
    static const char *const what[] = {"starting a job", "recording a result",
                                       "recording a failure", "heartbeat"};
    int rc;
    char now[32];
    snprintf(now, sizeof(now), "%.3f", tp_now_wall());
    char *job = tp_rq_key(q, "job", job_id), *claim = tp_rq_key(q, "claim", job_id);
    const char *keys[6] = {job, claim, q->counts, q->stream, q->dead, q->delayed};
    const char *args[16] = {consumer, TP_RQ_GROUP, entry, now, job_id};
    if (!job || !claim || nextra > 11) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    for (int i = 0; i < nextra; i++)
        args[5 + i] = extra[i] ? extra[i] : "";
    rc = tp_redis_eval(q->r, reply, err, what[s], tp_rq_script_text(s), 6, keys, 5 + nextra, args);
out:
    free(job);
    free(claim);
    return rc;
}

/* PROMOTE. KEYS: 1 delayed set, 2 jobs stream, 3 counts. ARGV: 1 job key prefix
 * ("tokprep:NAME:job:"), 2 how many at most. Due members (score <= Redis' TIME) go back into
 * the stream as new entries, state queued. One script, so two workers never add one job twice;
 * Redis' clock, so workers with skewed clocks agree. A member whose job is gone or no longer
 * deferred (deleted by an operator) is only removed. Returns how many were added. */
static const char promote_lua[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) + tonumber(t[2]) / 1e6\n"
    "local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, ARGV[2])\n"
    "local n = 0\n"
    "for _, job in ipairs(due) do\n"
    "  redis.call('ZREM', KEYS[1], job)\n"
    "  local key = ARGV[1] .. job\n"
    "  if redis.call('HGET', key, 'state') == 'deferred' then\n"
    "    local id = redis.call('XADD', KEYS[2], '*', 'job', job)\n"
    "    redis.call('HINCRBY', KEYS[3], 'deferred', -1)\n"
    "    redis.call('HINCRBY', KEYS[3], 'queued', 1)\n"
    "    redis.call('HSET', key, 'state', 'queued', 'entry', id, 'updated_at', tostring(now))\n"
    "    n = n + 1\n"
    "  end\n"
    "end\n"
    "return n\n";

int tp_rqueue_promote(tp_rqueue *q, int max, int *moved, tp_error *err)
{
    char *prefix = tp_rq_key(q, "job", "");
    char maxs[16];
    snprintf(maxs, sizeof(maxs), "%d", max);
    const char *keys[3] = {q->delayed, q->stream, q->counts};
    const char *args[2] = {prefix, maxs};
    redisReply *rep = NULL;
    int rc;
    *moved = 0;
    if (!prefix)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    rc = tp_redis_eval(q->r, &rep, err, "moving due deferred jobs back", promote_lua, 3, keys, 2,
                       args);
    if (rc == 0 && rep->type == REDIS_REPLY_INTEGER)
        *moved = (int)rep->integer;
    freeReplyObject(rep);
    free(prefix);
    return rc;
}

/* ---- the sealed upload URL ---------------------------------------------------------------- */

#define SEAL_PREFIX "tpseal1:"
#define SEAL_IV 16
#define SEAL_TAG 32

static void hmac256(uint8_t out[32], const uint8_t *key, size_t klen, const void *a, size_t alen,
                    const void *b, size_t blen)
{
    AVHMAC *h = av_hmac_alloc(AV_HMAC_SHA256);
    if (!h) {
        memset(out, 0, 32);
        return;
    }
    av_hmac_init(h, key, (unsigned)klen);
    av_hmac_update(h, a, (unsigned)alen);
    if (blen)
        av_hmac_update(h, b, (unsigned)blen);
    av_hmac_final(h, out, 32);
    av_hmac_free(h);
}

/* HKDF-SHA256 (RFC 5869) with one block per key: enc (16 bytes used) and mac. */
static void seal_keys(uint8_t enc[32], uint8_t mac[32], const char *secret, const char *job_id)
{
    static const char salt[] = "tokprep upload-url seal v1";
    uint8_t prk[32];
    hmac256(prk, (const uint8_t *)salt, sizeof(salt) - 1, secret, strlen(secret), NULL, 0);
    char *info = tp_asprintf("enc:%s%c", job_id, 1);
    hmac256(enc, prk, sizeof(prk), info ? info : "", info ? strlen(info) : 0, NULL, 0);
    free(info);
    info = tp_asprintf("mac:%s%c", job_id, 1);
    hmac256(mac, prk, sizeof(prk), info ? info : "", info ? strlen(info) : 0, NULL, 0);
    free(info);
    memset(prk, 0, sizeof(prk));
}

static int aes_ctr(const uint8_t key[16], const uint8_t iv[SEAL_IV], uint8_t *dst,
                   const uint8_t *src, size_t n)
{
    struct AVAESCTR *a = av_aes_ctr_alloc();
    if (!a || av_aes_ctr_init(a, key) < 0) {
        av_aes_ctr_free(a);
        return -1;
    }
    av_aes_ctr_set_full_iv(a, iv);
    av_aes_ctr_crypt(a, dst, src, (int)n);
    av_aes_ctr_free(a);
    return 0;
}

static void to_hex(char *dst, const uint8_t *src, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        dst[2 * i] = digits[src[i] >> 4];
        dst[2 * i + 1] = digits[src[i] & 15];
    }
    dst[2 * n] = '\0';
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int tp_rq_seal(char **out, const char *secret, const char *job_id, const char *plain, tp_error *err)
{
    size_t n = strlen(plain);
    uint8_t enc[32], mac[32], tag[32];
    uint8_t *buf = malloc(SEAL_IV + n + 1);
    char *hex = malloc(strlen(SEAL_PREFIX) + 2 * (SEAL_IV + n + SEAL_TAG) + 1);
    int rc = 0;
    *out = NULL;
    if (!buf || !hex) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    if (getrandom(buf, SEAL_IV, 0) != SEAL_IV) {
        rc = tp_error_set(err, TP_EIO, errno, "getrandom failed: %s", strerror(errno));
        goto out;
    }
    seal_keys(enc, mac, secret, job_id);
    if (aes_ctr(enc, buf, buf + SEAL_IV, (const uint8_t *)plain, n) < 0) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    hmac256(tag, mac, sizeof(mac), buf, SEAL_IV + n, NULL, 0);
    strcpy(hex, SEAL_PREFIX);
    to_hex(hex + strlen(SEAL_PREFIX), buf, SEAL_IV + n);
    to_hex(hex + strlen(hex), tag, SEAL_TAG);
    *out = hex;
    hex = NULL;
out:
    memset(enc, 0, sizeof(enc));
    memset(mac, 0, sizeof(mac));
    free(buf);
    free(hex);
    return rc;
}

char *tp_rq_unseal(const char *secret, const char *job_id, const char *sealed)
{
    size_t plen = strlen(SEAL_PREFIX);
    if (!sealed || strncmp(sealed, SEAL_PREFIX, plen))
        return NULL;
    const char *h = sealed + plen;
    size_t hl = strlen(h);
    if (hl % 2 || hl / 2 < SEAL_IV + SEAL_TAG)
        return NULL;
    size_t total = hl / 2, n = total - SEAL_IV - SEAL_TAG;
    uint8_t *raw = malloc(total);
    char *plain = malloc(n + 1);
    uint8_t enc[32], mac[32], tag[32];
    bool ok = raw && plain;
    for (size_t i = 0; ok && i < total; i++) {
        int hi = hexval(h[2 * i]), lo = hexval(h[2 * i + 1]);
        ok = hi >= 0 && lo >= 0;
        if (ok)
            raw[i] = (uint8_t)(hi << 4 | lo);
    }
    if (ok) {
        seal_keys(enc, mac, secret, job_id);
        hmac256(tag, mac, sizeof(mac), raw, SEAL_IV + n, NULL, 0);
        /* Compared in constant time: the tag is what an attacker would guess at. */
        uint8_t diff = 0;
        for (size_t i = 0; i < SEAL_TAG; i++)
            diff |= (uint8_t)(tag[i] ^ raw[SEAL_IV + n + i]);
        ok = diff == 0 && aes_ctr(enc, raw, (uint8_t *)plain, raw + SEAL_IV, n) == 0;
        memset(enc, 0, sizeof(enc));
        memset(mac, 0, sizeof(mac));
    }
    if (ok) {
        plain[n] = '\0';
        ok = strlen(plain) == n; /* no NUL inside */
    }
    free(raw);
    if (!ok) {
        free(plain);
        return NULL;
    }
    return plain;
}

/* ---- enqueue ------------------------------------------------------------------------------ */

/* KEYS: 1 job hash, 2 jobs stream, 3 counts. ARGV: 1 job id, 2 path, 3 fingerprint, 4 size,
 * 5 profile, 6 now, 7 sets (lines). The same content × profile × sets enqueued twice is one
 * job. */
static const char enqueue_lua[] =
    "local st = redis.call('HGET', KEYS[1], 'state')\n"
    "if st then return {0, st} end\n"
    "local id = redis.call('XADD', KEYS[2], '*', 'job', ARGV[1])\n"
    "redis.call('HSET', KEYS[1], 'path', ARGV[2], 'fingerprint', ARGV[3], 'size', ARGV[4],\n"
    "  'profile', ARGV[5], 'state', 'queued', 'attempts', 0, 'enqueued_at', ARGV[6],\n"
    "  'updated_at', ARGV[6], 'entry', id)\n"
    "if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'sets', ARGV[7]) end\n"
    "redis.call('HINCRBY', KEYS[3], 'queued', 1)\n"
    "return {1, 'queued'}\n";

static int enqueue_one(tp_rqueue *q, const char *path, const char *profile, const char *sets,
                       tp_rqueue_enqueue_summary *sum, tp_rqueue_item_cb cb, void *payload,
                       tp_error *err)
{
    char fp[65] = "";
    int64_t size = 0;
    char abs[PATH_MAX];
    tp_rqueue_item item = {.path = path};
    tp_error ferr = TP_ERROR_INIT;
    bool ctl = false;
    for (const char *c = path; *c && !ctl; c++)
        ctl = (unsigned char)*c < 0x20 || *c == 0x7f;
    /* Workers refuse such a path (it cannot be a plain job field): say so here, at once. */
    if (ctl)
        tp_error_set(&ferr, TP_EINVAL, 0, "a path with control characters is not queued");
    if (ctl || !realpath(path, abs) || tp_fingerprint_file(fp, &size, abs, &ferr) < 0) {
        if (!ferr.code)
            tp_error_set(&ferr, TP_EIO, 0, "%s: cannot resolve the path", path);
        item.error = tp_error_message(&ferr);
        sum->errors++;
        if (cb)
            cb(&item, payload);
        tp_error_clear(&ferr);
        return 0;
    }
    item.path = abs;
    item.fingerprint = fp;
    char *job_id = tp_rq_job_id(fp, profile);
    if (job_id && *sets) {
        /* Other overrides, another job: the id carries a digest of them. */
        char h[65];
        tp_sha256_hex(sets, strlen(sets), h);
        char *with = tp_asprintf("%s:%.16s", job_id, h);
        free(job_id);
        job_id = with;
    }
    char *key = job_id ? tp_rq_key(q, "job", job_id) : NULL;
    char size_s[32], now[32];
    snprintf(size_s, sizeof(size_s), "%lld", (long long)size);
    snprintf(now, sizeof(now), "%.3f", tp_now_wall());
    const char *keys[3] = {key, q->stream, q->counts};
    const char *args[7] = {job_id, abs, fp, size_s, profile ? profile : "", now, sets};
    redisReply *rep = NULL;
    int rc;
    if (!key) {
        rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        goto out;
    }
    if ((rc = tp_redis_eval(q->r, &rep, err, "adding a job", enqueue_lua, 3, keys, 7, args)) < 0)
        goto out;
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2) {
        item.added = rep->element[0]->integer == 1;
        item.state = rep->element[1]->str;
    }
    if (item.added)
        sum->added++;
    else
        sum->existing++;
    if (cb)
        cb(&item, payload);
out:
    freeReplyObject(rep);
    free(key);
    free(job_id);
    return rc;
}

int tp_rqueue_enqueue_options_init(tp_rqueue_enqueue_options *opts, unsigned version)
{
    if (!opts || version != TP_RQUEUE_ENQUEUE_OPTIONS_VERSION)
        return TP_EINVAL;
    *opts = (tp_rqueue_enqueue_options)TP_RQUEUE_ENQUEUE_OPTIONS_INIT;
    return 0;
}

int tp_rqueue_enqueue(tp_rqueue_enqueue_summary *summary, const char *url, const char *profile,
                     const char *const *paths, size_t n_paths, int follow_symlinks,
                     tp_rqueue_item_cb on_item, void *payload, tp_error *err)
{
    tp_rqueue_enqueue_options o = TP_RQUEUE_ENQUEUE_OPTIONS_INIT;
    o.profile = profile;
    o.follow_symlinks = follow_symlinks;
    return tp_rqueue_enqueue_with_options(summary, url, paths, n_paths, &o, on_item, payload, err);
}

/* The overrides as the job stores them: one KEY=VALUE per line, in order. */
static int join_sets(char **out, const tp_rqueue_enqueue_options *o, tp_error *err)
{
    *out = NULL;
    size_t len = 1;
    for (size_t i = 0; i < o->n_sets; i++) {
        const char *s = o->sets[i];
        bool ctl = false;
        for (const char *c = s; c && *c && !ctl; c++)
            ctl = (unsigned char)*c < 0x20 || *c == 0x7f;
        if (!s || !strchr(s, '=') || *s == '=' || ctl) {
            return tp_error_set(err, TP_EINVAL, 0, "--set %s: not KEY=VALUE on one line",
                                s ? s : "");
        }
        len += strlen(s) + 1;
    }
    char *j = malloc(len);
    if (!j)
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    j[0] = '\0';
    for (size_t i = 0; i < o->n_sets; i++) {
        if (i)
            strcat(j, "\n");
        strcat(j, o->sets[i]);
    }
    *out = j;
    return 0;
}

int tp_rqueue_enqueue_with_options(tp_rqueue_enqueue_summary *summary, const char *url,
                                   const char *const *paths, size_t n_paths,
                                   const tp_rqueue_enqueue_options *opts, tp_rqueue_item_cb on_item,
                                   void *payload, tp_error *err)
{
    tp_rqueue q;
    tp_rqueue_enqueue_summary sum = {.version = TP_RQUEUE_ENQUEUE_SUMMARY_VERSION};
    const tp_rqueue_enqueue_options defaults = TP_RQUEUE_ENQUEUE_OPTIONS_INIT;
    int rc;
    if (summary)
        *summary = sum;
    if (!opts)
        opts = &defaults;
    if (opts->version != TP_RQUEUE_ENQUEUE_OPTIONS_VERSION)
        return tp_error_set(err, TP_EINVAL, 0, "tp_rqueue_enqueue_options: unknown version %u",
                            opts->version);
    const char *profile = opts->profile;
    int follow_symlinks = opts->follow_symlinks;
    char *sets = NULL;
    if ((rc = join_sets(&sets, opts, err)) < 0)
        return rc;
    if ((rc = tp_rqueue_open(&q, url, 5, err)) < 0) {
        free(sets);
        return rc;
    }
    if ((rc = tp_rqueue_ensure_group(&q, err)) < 0)
        goto out;
    /* The same files as `run` would take (pipeline/scan.h): folders walked for media. */
    for (size_t p = 0; p < n_paths && rc == 0; p++) {
        tp_scan_list found = TP_SCAN_LIST_INIT;
        tp_error serr = TP_ERROR_INIT;
        tp_scan_options so = TP_SCAN_OPTIONS_INIT;
        so.follow_symlinks = follow_symlinks != 0;
        if (tp_scan_paths(&found, &paths[p], 1, &so, &serr) < 0)
            tp_log(TP_LOG_WARN, "%s", tp_error_message(&serr));
        tp_error_clear(&serr);
        for (size_t i = 0; i < found.n && rc == 0; i++) {
            const tp_scan_entry *e = &found.items[i];
            const char *base = strrchr(e->path, '/');
            if (e->error) {
                tp_rqueue_item item = {.path = e->path, .error = e->message};
                sum.errors++;
                if (on_item)
                    on_item(&item, payload);
            } else if (!e->from_dir || !tp_walk_name_ignored(base ? base + 1 : e->path)) {
                rc = enqueue_one(&q, e->path, profile, sets, &sum, on_item, payload, err);
            }
        }
        tp_scan_list_free(&found);
    }
out:
    tp_rqueue_close(&q);
    free(sets);
    if (summary)
        *summary = sum;
    return rc;
}
