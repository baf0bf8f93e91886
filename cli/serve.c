/* `tokprep serve`: the context (ledger, profile, tokens, caches) and the server's life. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "serve_core.h"

const char *serve_state_path(const serve_ctx *c) { return c->state_path; }
const tp_profile *serve_profile(const serve_ctx *c) { return c->profile; }
const char *serve_csrf(const serve_ctx *c) { return c->csrf; }
int serve_has_queue(const serve_ctx *c) { return c->queue != NULL; }
const char *serve_avatar_origin(const serve_ctx *c) { return c->avatar_origin; }

int serve_creator(serve_ctx *c, tp_creator_info **out, tp_error *err)
{
    (void)c;
    *out = NULL;
    return tp_error_set(err, TP_EUNSUPPORTED, 0, "not implemented yet");
}

int serve_run(const serve_options *opts, const tp_cancel *stop)
{
    (void)opts, (void)stop;
    fprintf(stderr, "tokprep serve: not implemented yet\n");
    return TP_EXIT_ERROR;
}
