/* TikTok Login Kit for desktop: PKCE (TikTok's hex variant), the loopback redirect listener,
 * code exchange, refresh with rotation, revoke, and the 0600 token file. */
#ifndef TP_AUTH_H
#define TP_AUTH_H

#include <stdbool.h>
#include <stdio.h>

#include "profiles/profile.h"
#include "upload/http.h"
#include "upload/tt_json.h"

/* Refresh when the access token has less than this many seconds left. */
#define TP_TT_REFRESH_MARGIN 300

/* code_challenge for TikTok desktop: lowercase hex of SHA-256(verifier) (not RFC 7636's
 * base64url). out holds 65 bytes. Thread-safe. */
void tp_tt_pkce_challenge(const char *verifier, char out[65]);

/* n random characters from [A-Za-z0-9-._~] (a PKCE verifier wants 43..128) plus a NUL;
 * out holds n + 1 bytes. Uses getrandom(). Thread-safe. */
int tp_tt_random_string(char *out, size_t n, tp_error *err);

/* The token file path: upload.tiktok.token_file, or $XDG_CONFIG_HOME/tokprep/<profile>.json,
 * or ~/.config/tokprep/<profile>.json. */
int tp_tt_token_path(char *buf, size_t size, const tp_profile *p, tp_error *err);

/* Load the token file. TP_EAUTH "not logged in" when it does not exist; TP_EIO when it is
 * readable or writable by group/others, not owned by us, or not a regular file. */
int tp_tt_token_load(tp_tt_token *tok, const tp_profile *p, const char *path, tp_error *err);
/* "tokprep auth login --profile WORD" with the profile as the user gave it, shell-quoted when
 * needed (malloc'd; NULL when out of memory). */
char *tp_tt_login_command(const tp_profile *p);
/* Before any work (no network): the client key and secret are set and the token file exists
 * and can be used or refreshed. 0, or TP_ECONFIG / TP_EAUTH / TP_EIO with a message that names
 * the command to run. */
int tp_tt_preflight(const tp_profile *p, tp_error *err);
/* Write atomically (temporary file in the same directory, fsync, rename), mode 0600; creates
 * the directory with mode 0700 when missing. */
int tp_tt_token_save(const char *path, const tp_tt_token *tok, tp_error *err);

/* The authorize URL (malloc'd) for the given state and challenge. */
char *tp_tt_authorize_url(const tp_profile *p, const char *state, const char *challenge);

typedef struct {
    bool no_browser;      /* do not run xdg-open */
    bool no_wait;         /* print the URL, remember state and verifier, return (see --code) */
    const char *code_url; /* a pasted redirect URL: finish a login started earlier */
    double wait;          /* seconds to wait for the browser's redirect */
    FILE *out;            /* where the URL and instructions go (stdout) */
    const tp_cancel *cancel;
} tp_tt_login_options;

/* Run the login and save the token file at path. Returns 0, 1 when no_wait stopped after
 * printing the URL, or a negative TP_E*. */
int tp_tt_login(tp_tt_token *out, tp_http *h, const tp_profile *p, const char *path,
                const tp_tt_login_options *o, tp_error *err);

/* Refresh now (grant_type=refresh_token) and save the rotated tokens. Holds an flock on
 * "<path>.lock" so two processes do not both spend the same single-use refresh token. */
int tp_tt_refresh(tp_tt_token *tok, tp_http *h, const tp_profile *p, const char *path,
                  tp_error *err);

/* Load the token and refresh it when it expires within TP_TT_REFRESH_MARGIN seconds. */
int tp_tt_token_fresh(tp_tt_token *tok, tp_http *h, const tp_profile *p, const char *path,
                      tp_error *err);

/* Files holding secrets (token file, resume state): read refuses group/other access like the
 * token file (returns 1 when the file does not exist, *text malloc'd otherwise); write is
 * atomic with mode 0600 and creates missing directories with mode 0700. */
int tp_tt_private_read(const char *path, char **text, size_t *len, tp_error *err);
int tp_tt_private_write(const char *path, const char *text, tp_error *err);

/* Revoke at TikTok (best effort) and delete the token file. */
int tp_tt_logout(tp_http *h, const tp_profile *p, const char *path, tp_error *err);

#endif
