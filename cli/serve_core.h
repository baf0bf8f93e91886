/* `tokprep serve`: what the server's own files (cli/serve*.c) share beyond cli/serve.h: the
 * context, the answer being built, and the HTTP and API entry points. Pages see only serve.h. */
#ifndef TP_SERVE_CORE_H
#define TP_SERVE_CORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <microhttpd.h>

#include "serve.h"

#define SERVE_BODY_MAX (64 * 1024) /* POST bodies (JSON) */
#define SERVE_CREATOR_TTL 60.0     /* seconds a creator_info answer is reused */
#define SERVE_CREATOR_ERR_TTL 5.0  /* ... and a failure (a login may follow at once) */
#define SERVE_PING_SECONDS 15.0    /* SSE comment line that keeps the connection alive */

typedef struct serve_options {
    const char *state_path;      /* the ledger (need not exist) */
    const char *workdir;         /* its folder */
    const char *queue;           /* --queue URL or NULL */
    const char *listen;          /* ADDR:PORT */
    const char *auth_token_file; /* NULL: no token (loopback only) */
    const char *port_file;       /* hidden --port-file */
    tp_profile *profile;         /* borrowed */
} serve_options;

typedef struct serve_creator_entry serve_creator_entry;

struct serve_ctx {
    char *state_path;
    char *workdir; /* the ledger's folder, as given */
    char *sinkdir; /* upload.directory.path as the profile says, or NULL */
    char *queue;
    const tp_profile *profile;
    char csrf[65];
    char *token;           /* NULL when no --auth-token-file */
    char *avatar_origin;   /* see serve_avatar_origin() */
    char *csp;             /* the Content-Security-Policy value */
    char *ledger_note;     /* see serve_ledger_note() */
    char listen_host[256]; /* as given, without brackets */
    bool listen_v6, loopback, wildcard;
    unsigned port;
    char *hosts[8]; /* the accepted Host header values (lower case) */
    size_t n_hosts;
    char css_etag[24], js_etag[24];
    volatile int stopping; /* set on shutdown: SSE streams end */
    pthread_mutex_t creator_lock;
    serve_creator_entry *creators; /* the cached one first, then ones still lent out */
    double creator_at;             /* when the cached answer (or error) was made */
    int creator_rc;                /* 0, or the cached failure's code */
    char *creator_msg;             /* the cached failure's message */
    pthread_mutex_t preview_lock;  /* one preview render at a time */
};

/* An answer being built by a route. */
typedef struct serve_reply {
    unsigned status;
    const char *type; /* Content-Type */
    serve_buf body;
    bool cacheable; /* static assets: max-age=3600 instead of no-store */
    const char *etag;
    char location[64];
    char *cookie; /* Set-Cookie value, malloc'd */
    char content_range[96];
    const char *allow; /* 405: the Allow header */
    int fd;            /* >= 0: the body is fd's bytes [offset, offset + size) */
    uint64_t offset, size;
    struct MHD_Response *custom; /* made by the route (SSE): used as is */
} serve_reply;

/* {"error": tp_error_name(code), "message": message} with `status`. */
void serve_reply_error(serve_reply *r, unsigned status, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A JSON text (malloc'd, taken over; NULL means out of memory) with `status`. */
void serve_reply_json(serve_reply *r, unsigned status, char *json);

/* Runs the server until `stop` is requested (SIGINT/SIGTERM). Returns a TP_EXIT_* status. */
int serve_run(const serve_options *opts, const tp_cancel *stop);
/* libmicrohttpd's access handler and completion callback (cli/serve_http.c). */
enum MHD_Result serve_http_request(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **req_cls);
void serve_http_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                          enum MHD_RequestTerminationCode toe);

/* The JSON API (cli/serve_api.c). `query` reads one query-string argument (NULL when absent). */
typedef const char *(*serve_query_fn)(void *payload, const char *name);
void serve_api_session(serve_ctx *c, serve_reply *r);
void serve_api_files(serve_ctx *c, const char *status, serve_reply *r);
void serve_api_file(serve_ctx *c, int64_t id, serve_reply *r);
void serve_api_creator(serve_ctx *c, serve_reply *r);
void serve_api_queue(serve_ctx *c, serve_reply *r);
void serve_api_approve(serve_ctx *c, int64_t id, const char *body, size_t len, serve_reply *r);
void serve_api_reject(serve_ctx *c, int64_t id, const char *body, size_t len, serve_reply *r);
void serve_api_events(serve_ctx *c, struct MHD_Connection *conn, bool from_start, serve_reply *r);
/* /files/ID/outputs/N and /files/ID/preview.png (cli/serve_files.c). */
void serve_output(serve_ctx *c, int64_t id, long n, const char *range, serve_reply *r);
void serve_preview(serve_ctx *c, int64_t id, const char *of, serve_reply *r);

/* Row `id` of the ledger into *out (free with tp_ledger_files_free()); 0, or an error answer
 * already written into r (404 no ledger / no such id, 500). */
int serve_read_row(serve_ctx *c, int64_t id, tp_ledger_files **out, serve_reply *r);
/* Constant-time equality of two NUL-terminated secrets. */
bool serve_secret_eq(const char *a, const char *b);
double serve_now(void);

#endif
