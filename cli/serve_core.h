/* `tokprep serve`: what the server's own files (cli/serve*.c) share beyond cli/serve.h: the
 * context and the HTTP/API entry points. Pages see only cli/serve.h. */
#ifndef TP_SERVE_CORE_H
#define TP_SERVE_CORE_H

#include <pthread.h>
#include <stdbool.h>

#include "serve.h"

typedef struct serve_options {
    const char *state_path;      /* the ledger (need not exist) */
    const char *workdir;         /* its folder */
    const char *queue;           /* --queue URL or NULL */
    const char *listen;          /* ADDR:PORT */
    const char *auth_token_file; /* NULL: no token (loopback only) */
    const char *port_file;       /* hidden --port-file */
    tp_profile *profile;         /* borrowed */
} serve_options;

struct serve_ctx {
    char *state_path;
    char *workdir_real;   /* realpath of the ledger's folder, or NULL when it does not exist */
    char *sinkdir_real;   /* realpath of upload.directory.path, or NULL */
    char *cache_dir;      /* WORKDIR/serve-cache */
    char *queue;
    const tp_profile *profile;
    char csrf[65];
    char token[65];       /* "" when no --auth-token-file */
    bool has_token;
    char *avatar_origin;  /* see serve_avatar_origin() */
    char *csp;            /* the Content-Security-Policy value */
    char listen_host[256];/* as given, without brackets */
    bool loopback;
    unsigned port;
    char **hosts;         /* the accepted Host header values */
    size_t n_hosts;
    volatile int stopping; /* set on shutdown: SSE readers end their streams */
    pthread_mutex_t creator_lock;
    tp_creator_info *creator;
    double creator_at;
    char *creator_err;    /* message of the last failure, cached like a success */
    int creator_rc;
    pthread_mutex_t preview_lock;
};

/* Runs the server until `stop` is requested (SIGINT/SIGTERM). Returns a TP_EXIT_* status. */
int serve_run(const serve_options *opts, const tp_cancel *stop);

/* The JSON API (cli/serve_api.c). */
struct MHD_Connection;
typedef struct serve_request serve_request;

#endif
