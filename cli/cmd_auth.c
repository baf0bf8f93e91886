/* `tokprep auth login|status|refresh|logout`: TikTok Login Kit for desktop, token file care. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

enum { OPT_NO_BROWSER = TP_OPT_USER, OPT_NO_WAIT, OPT_CODE, OPT_WAIT };

static const tp_cli_option options[] = {
    {"profile", 'p', "NAME|PATH", "profile to use (default tiktok); one token file per profile",
     TP_OPT_PROFILE},
    {"set", 0, "KEY=VALUE", "override a profile value (repeatable)", TP_OPT_SET},
    {"json", 0, NULL, "status: print JSON (never includes tokens)", TP_OPT_JSON},
    {"no-browser", 0, NULL, "login: print the address only, do not run xdg-open", OPT_NO_BROWSER},
    {"no-wait", 0, NULL, "login: print the address and exit; finish later with --code",
     OPT_NO_WAIT},
    {"code", 0, "URL", "login: finish with the address the browser landed on", OPT_CODE},
    {"wait", 0, "SECONDS", "login: how long to wait for the redirect (default 300)", OPT_WAIT},
    {NULL, 0, NULL, NULL, 0},
};

static void fmt_time(char *buf, size_t size, int64_t t)
{
    tp_time_format(buf, size, (double)t, TP_TIME_UTC);
}

static int do_status(const tp_profile *p, const char *path, bool json)
{
    tp_auth_info *info = NULL;
    tp_error err = TP_ERROR_INIT;
    int64_t now = (int64_t)time(NULL);
    if (tp_auth_status(&info, p, &err) < 0) {
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "profile", tp_profile_name(p));
            cJSON_AddBoolToObject(o, "logged_in", 0);
            cJSON_AddStringToObject(o, "token_file", path);
            cJSON_AddStringToObject(o, "error", tp_error_name(err.code));
            char *s = cJSON_PrintUnformatted(o);
            printf("%s\n", s ? s : "{}");
            free(s);
            cJSON_Delete(o);
        }
        fprintf(stderr, "tokprep auth: %s\n", tp_error_message(&err));
        int rc = err.code == TP_EAUTH ? TP_EXIT_FAIL : TP_EXIT_ERROR;
        tp_error_clear(&err);
        return rc;
    }
    const int64_t expires_at = tp_auth_info_expires_at(info),
                  refresh_expires_at = tp_auth_info_refresh_expires_at(info);
    char a[64], r[64];
    fmt_time(a, sizeof(a), expires_at);
    fmt_time(r, sizeof(r), refresh_expires_at);
    bool refresh_ok = !refresh_expires_at || refresh_expires_at > now;
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "profile", tp_profile_name(p));
        cJSON_AddBoolToObject(o, "logged_in", refresh_ok);
        cJSON_AddStringToObject(o, "token_file", path);
        cJSON_AddStringToObject(o, "open_id", tp_auth_info_open_id(info));
        cJSON_AddStringToObject(o, "scope", tp_auth_info_scope(info));
        cJSON_AddNumberToObject(o, "expires_at", (double)expires_at);
        cJSON_AddNumberToObject(o, "refresh_expires_at", (double)refresh_expires_at);
        cJSON_AddBoolToObject(o, "access_token_valid", expires_at > now);
        char *s = cJSON_PrintUnformatted(o);
        printf("%s\n", s ? s : "{}");
        free(s);
        cJSON_Delete(o);
    } else {
        printf("profile:         %s\ntoken file:      %s\nopen_id:         %s\nscopes:          "
               "%s\naccess token:    %s %s\nrefresh token:   %s %s\n",
               tp_profile_name(p), path, tp_auth_info_open_id(info), tp_auth_info_scope(info),
               expires_at > now ? "valid until" : "expired at", a,
               refresh_ok ? "valid until" : "expired at", refresh_expires_at ? r : "(unknown)");
        if (!refresh_ok)
            printf("Run 'tokprep auth login --profile %s' to log in again.\n",
                   tp_profile_opened_as(p));
    }
    tp_auth_info_free(info);
    return refresh_ok ? TP_EXIT_OK : TP_EXIT_FAIL;
}

static const char *const actions[] = {"login", "status", "refresh", "logout", NULL};

static int run(const tp_cli_command *cmd, int argc, char **argv)
{
    tp_cli_parser parser;
    tp_cli_sets sets = {0};
    tp_profile *p = NULL;
    tp_auth_info *info = NULL;
    tp_error err = TP_ERROR_INIT;
    const char *profile = NULL;
    bool json = false;
    tp_auth_login_options lo = TP_AUTH_LOGIN_OPTIONS_INIT;
    int rc = TP_EXIT_OK, c;
    char path[4096];
    if (tp_cli_parser_init(&parser, cmd) < 0)
        return TP_EXIT_ERROR;
    while ((c = tp_cli_next(&parser, cmd, argc, argv)) != -1) {
        switch (c) {
        case 'h': goto out;
        case '?': rc = TP_EXIT_ERROR; goto out;
        case TP_OPT_PROFILE: profile = optarg; break;
        case TP_OPT_SET: tp_cli_sets_add(&sets, optarg); break;
        case TP_OPT_JSON: json = true; break;
        case OPT_NO_BROWSER: lo.no_browser = 1; break;
        case OPT_NO_WAIT: lo.no_wait = 1; break;
        case OPT_CODE: lo.code_url = optarg; break;
        case OPT_WAIT: {
            char *end;
            lo.wait = strtod(optarg, &end);
            if (*end || lo.wait <= 0) {
                rc = tp_cli_usage_error(cmd, "--wait needs a positive number of seconds");
                goto out;
            }
            break;
        }
        default: break;
        }
    }
    /* The action comes first (`auth login --no-browser`) or after the options. */
    int next = optind;
    const char *verb = parser.action ? parser.action : next < argc ? argv[next++] : NULL;
    if (!verb || next < argc) {
        rc = tp_cli_usage_error(cmd,
                                verb ? "unexpected argument '%s'"
                                     : "missing action: "
                                       "login, status, "
                                       "refresh or logout",
                                verb ? argv[next] : "");
        goto out;
    }
    if (strcmp(verb, "login") && strcmp(verb, "status") && strcmp(verb, "refresh") &&
        strcmp(verb, "logout")) {
        rc = tp_cli_usage_error(cmd,
                                "unknown action '%s': expected login, status, refresh or "
                                "logout",
                                verb);
        goto out;
    }
    if ((rc = tp_cli_open_profile(&p, profile, &sets)) != 0)
        goto out;
    if (tp_auth_token_path(path, sizeof(path), p, &err) < 0) {
        fprintf(stderr, "tokprep auth: %s\n", tp_error_message(&err));
        rc = TP_EXIT_ERROR;
        goto out;
    }
    if (!strcmp(verb, "status")) {
        rc = do_status(p, path, json);
        goto out;
    }
    int r;
    if (!strcmp(verb, "login")) {
        /* SIGINT/SIGTERM end the wait cleanly: no PATH.pending left behind. */
        lo.cancel = tp_cli_install_interrupt();
        r = tp_auth_login(&info, p, &lo, &err);
    } else if (!strcmp(verb, "refresh")) {
        r = tp_auth_refresh(&info, p, &err);
    } else {
        r = tp_auth_logout(p, &err);
    }
    if (r < 0) {
        fprintf(stderr, "tokprep auth %s: %s\n", verb, tp_error_message(&err));
        rc = r == TP_ECANCELED ? TP_EXIT_INTERRUPTED : TP_EXIT_ERROR;
        goto out;
    }
    if (r == 1) /* --no-wait: URL printed */
        goto out;
    if (!strcmp(verb, "logout")) {
        printf("Logged out: %s removed.\n", path);
    } else {
        char a[64];
        fmt_time(a, sizeof(a), tp_auth_info_expires_at(info));
        printf("%s: open_id %s, scopes %s; access token valid until %s.\nToken file: %s\n",
               !strcmp(verb, "login") ? "Logged in" : "Refreshed", tp_auth_info_open_id(info),
               tp_auth_info_scope(info), a, path);
    }
out:
    tp_auth_info_free(info);
    tp_error_clear(&err);
    tp_profile_free(p);
    tp_cli_sets_free(&sets);
    tp_cli_parser_free(&parser);
    return rc;
}

const tp_cli_command tp_cmd_auth = {
    .name = "auth",
    .summary = "log in to TikTok (OAuth with PKCE), show, refresh or remove the token",
    .usage = "login|status|refresh|logout [--profile P] [--set KEY=VALUE] [--no-browser] "
             "[--no-wait] [--code URL] [--json]",
    .description =
        "login    open TikTok's authorize page, receive the redirect on the loopback\n"
        "         redirect_uri (upload.tiktok.redirect_uri) and store the tokens in the\n"
        "         token file (mode 0600). Without a browser: 'login --no-wait' prints the\n"
        "         address; open it anywhere, then 'login --code ADDRESS-YOU-LANDED-ON'.\n"
        "status   show open_id, scopes and expiry times (never a token)\n"
        "refresh  refresh the access token now (tokprep also does this by itself)\n"
        "logout   revoke the token at TikTok and delete the token file\n"
        "Needs TIKTOK_CLIENT_KEY and TIKTOK_CLIENT_SECRET (or the profile's values).",
    .options = options,
    .example = "tokprep auth login --profile tiktok-draft --no-browser",
    .actions = actions,
    .run = run,
};
