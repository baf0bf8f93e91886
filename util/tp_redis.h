/* A Redis connection for the scale-out queue (issue 8): redis:// URLs, connect with timeouts,
 * AUTH, and commands whose failures become tp_error messages. Thin over hiredis: callers build
 * commands with hiredis' printf-style format (%s, %b, %lld) and read redisReply themselves.
 *
 * The password (from the URL, TOKPREP_REDIS_PASSWORD or the file TOKPREP_REDIS_PASSWORD_FILE
 * names) is a secret: it is never put in an error message or a log line; tp_redis_url.display is
 * the URL without it. */
#ifndef TP_REDIS_H
#define TP_REDIS_H

#include <hiredis/hiredis.h>
#include <stdbool.h>

#include "util/tp_util.h"

/* redis://[[USER]:PASSWORD@]HOST[:PORT]/NAME — NAME (letters, digits, ._-:, ≤ 100) is the queue
 * name; every key of the queue starts with "tokprep:NAME:". PORT defaults to 6379. */
typedef struct {
    char host[256];
    int port;
    char name[128];
    char *user;     /* NULL when absent (ACL user; "default" is implied) */
    char *password; /* NULL when absent; when the URL has none: TOKPREP_REDIS_PASSWORD, or the
                     * first line of the regular file TOKPREP_REDIS_PASSWORD_FILE (a warning when
                     * every user may read it; both set is an error) */
    char display[512]; /* redis://HOST:PORT/NAME, safe to print */
} tp_redis_url;

/* Parse url into *out (cleared first). TP_EINVAL with a message naming what is wrong;
 * TP_ECONFIG when the password file cannot be used. */
int tp_redis_url_parse(tp_redis_url *out, const char *url, tp_error *err);
/* Free the strings of u (wiping the password). */
void tp_redis_url_clear(tp_redis_url *u);

typedef struct tp_redis tp_redis;

/* Connect (and AUTH when a password is set) within timeout seconds; commands then time out after
 * `timeout` seconds too (a blocking XREADGROUP must ask for less). TP_ENET when the server
 * cannot be reached, TP_EAUTH when it refuses the password. *out owned by the caller; one
 * connection serves one thread at a time. */
int tp_redis_connect(tp_redis **out, const tp_redis_url *url, double timeout, tp_error *err);
void tp_redis_free(tp_redis *r);

/* The hiredis context (for redisAppendCommand pipelines and the like). */
redisContext *tp_redis_context(tp_redis *r);
const tp_redis_url *tp_redis_url_of(const tp_redis *r);

/* Run one command (hiredis format). *reply (may be NULL: discarded) is the caller's to
 * freeReplyObject(); it is never an error reply. An error reply becomes TP_ECONFLICT for
 * BUSYGROUP, TP_EAUTH for NOAUTH/WRONGPASS, else TP_EIO with the server's message; a broken
 * connection TP_ENET (the connection is re-opened on the next call). `what` names the
 * operation in messages. */
int tp_redis_cmd(tp_redis *r, redisReply **reply, tp_error *err, const char *what,
                 const char *fmt, ...);
/* The same with an argument vector (binary-safe). */
int tp_redis_cmdv(tp_redis *r, redisReply **reply, tp_error *err, const char *what, int argc,
                  const char **argv, const size_t *argvlen);

/* EVAL a Lua script with nkeys keys then nargs arguments (strings). */
int tp_redis_eval(tp_redis *r, redisReply **reply, tp_error *err, const char *what,
                  const char *script, int nkeys, const char **keys, int nargs, const char **args);

#endif
