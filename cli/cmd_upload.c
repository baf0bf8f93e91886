/* `tokprep upload FILE...`: post files to TikTok (direct or draft per the profile). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

enum { OPT_CAPTION = TP_OPT_USER, OPT_NO_WAIT, OPT_RESUME, OPT_COVER_AT, OPT_NO_CHECK };

static const tp_cli_option options[] = {
    {"profile", 'p', "NAME|PATH", "profile to use (default tiktok; tiktok-draft for drafts)",
     TP_OPT_PROFILE},
    {"set", 0, "KEY=VALUE", "override a profile value (repeatable)", TP_OPT_SET},
    {"json", 0, NULL, "print one JSON object per file on stdout", TP_OPT_JSON},
    {"caption", 0, "TEXT", "caption for every file (default: <stem>.txt or the profile's)",
     OPT_CAPTION},
    {"no-wait", 0, NULL, "do not poll status/fetch after the upload", OPT_NO_WAIT},
    {"cover-at", 0, "SECONDS",
     "the frame TikTok shows as the cover (sets upload.tiktok.video_cover_timestamp_ms)",
     OPT_COVER_AT},
    {"resume", 0, "FILE",
     "keep resume state in FILE (one input file): an interrupted upload "
     "continues where it stopped when run again",
     OPT_RESUME},
    {"no-check", 0, NULL,
     "post files the profile's rules would refuse or fix (default: refuse them, as 'check')",
     OPT_NO_CHECK},
    {NULL, 0, NULL, NULL, 0},
};

typedef struct {
    const char *path;
    bool tty;
    int last_pct;
    const char *resume_file; /* NULL = not kept */
} progress_state;

static void save_resume(const progress_state *ps, const tp_tiktok_resume *rs)
{
    tp_error err = TP_ERROR_INIT;
    if (tp_tiktok_resume_save(ps->resume_file, rs, &err) < 0)
        tp_log(TP_LOG_WARN, "%s: cannot save the resume state: %s", ps->resume_file, tp_error_message(&err));
    tp_error_clear(&err);
}

static void on_progress(const tp_tiktok_event *ev, void *payload)
{
    progress_state *ps = payload;
    if (ps->resume_file && ev->resume &&
        (ev->kind == TP_TIKTOK_EV_INIT || ev->kind == TP_TIKTOK_EV_CHUNK_DONE))
        save_resume(ps, ev->resume);
    if (!ps->tty || ev->kind != TP_TIKTOK_EV_BYTES || ev->total <= 0)
        return;
    int pct = (int)(ev->bytes_sent * 100 / ev->total);
    if (pct == ps->last_pct)
        return;
    ps->last_pct = pct;
    char *shown = tp_str_printable(ps->path);
    fprintf(stderr, "\r%s: chunk %d/%d, %d%%", shown ? shown : "?", ev->chunk_index + 1,
            ev->chunk_count, pct);
    free(shown);
    if (pct == 100)
        fputc('\n', stderr);
}

static void print_json(const char *path, int rc, const tp_tiktok_result *r, const tp_error *err,
                       bool deferred)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "file", path);
    cJSON_AddBoolToObject(o, "ok", rc == 0);
    cJSON_AddStringToObject(o, "publish_id", r->publish_id ? r->publish_id : "");
    cJSON_AddStringToObject(o, "status", deferred ? "DEFERRED" : r->status ? r->status : "");
    cJSON_AddBoolToObject(o, "still_processing", r->still_processing);
    if (r->fail_reason)
        cJSON_AddStringToObject(o, "fail_reason", r->fail_reason);
    if (r->rule)
        cJSON_AddStringToObject(o, "rule", r->rule);
    if (r->post_id)
        cJSON_AddNumberToObject(o, "post_id", (double)r->post_id);
    cJSON_AddNumberToObject(o, "bytes", (double)r->bytes);
    if (r->retry_at > 0)
        cJSON_AddNumberToObject(o, "retry_at", (double)(long long)r->retry_at);
    if (rc < 0) {
        cJSON *e = cJSON_AddObjectToObject(o, "error");
        cJSON_AddStringToObject(e, "kind", tp_error_name(err->code));
        cJSON_AddStringToObject(e, "message", tp_error_message(err));
        if (r->api_code)
            cJSON_AddStringToObject(e, "api_code", r->api_code);
        if (r->log_id)
            cJSON_AddStringToObject(e, "log_id", r->log_id);
    }
    char *s = cJSON_PrintUnformatted(o);
    printf("%s\n", s ? s : "{}");
    fflush(stdout);
    free(s);
    cJSON_Delete(o);
}

static void print_human(const char *path, int rc, const tp_tiktok_result *r, const tp_error *err)
{
    /* A PATH reached by a glob is a name someone else chose: no terminal escapes from it. */
    char *line;
    const char *status = r->status ? r->status : "", *id = r->publish_id ? r->publish_id : "";
    if (rc < 0) {
        /* Every error names its file, whichever layer wrote the message. */
        const char *m = tp_error_message(err);
        size_t n = strlen(path);
        bool named = !strncmp(m, path, n) && m[n] == ':';
        line = tp_cli_asprintf("tokprep upload: %s%s%s", named ? "" : path, named ? "" : ": ", m);
    } else if (r->still_processing)
        line = tp_cli_asprintf("%s: uploaded, TikTok still processing (status %s, publish_id %s)", path,
                           status, id);
    else if (r->post_id)
        line = tp_cli_asprintf("%s: %s (publish_id %s, post_id %lld)", path, status, id, r->post_id);
    else
        line = tp_cli_asprintf("%s: %s (publish_id %s)", path, status, id);
    char *shown = tp_str_printable(line);
    if (shown)
        fprintf(rc < 0 ? stderr : stdout, "%s\n", shown);
    free(shown);
    free(line);
}

/* The profile's rules first, with check's verdict: a file check would reject or fix is not
 * posted (TikTok would refuse it, or take a file that breaks the profile's rules). A file check
 * cannot read is left to the post, as before. Returns 0 to post, else the CLI exit status for
 * the file, with the message in err. */
static int check_first(const tp_profile *p, const char *profile_arg, const char *path,
                       tp_error *err)
{
    tp_check *chk = NULL;
    if (tp_check_file(&chk, p, path, NULL, err) < 0)
        return TP_EXIT_ERROR;
    int rc = 0;
    char *pw = tp_cli_shell_word(profile_arg ? profile_arg : tp_profile_opened_as(p));
    char *fw = tp_cli_shell_word(path);
    const char *reason = tp_check_reason(chk);
    char *what = NULL; /* the violations, as check lists them */
    for (size_t i = 0; i < tp_check_violation_count(chk); i++) {
        const char *msg;
        tp_severity sev;
        tp_check_violation(chk, i, NULL, &sev, &msg);
        if (sev != TP_SEV_ERROR)
            continue;
        char *more = tp_cli_asprintf("%s%s%s", what ? what : "", what ? "; " : "", msg);
        free(what);
        what = more;
    }
    switch (tp_check_verdict(chk)) {
    case TP_VERDICT_PASS: break;
    case TP_VERDICT_FIX:
        tp_error_set(err, TP_EREJECT, 0,
                     "%s: not posted: 'check' says it needs a %s (%s); make it conformant with "
                     "'tokprep fit --profile %s -o fitted %s' and upload the file it writes "
                     "(or --no-check to post it as it is)",
                     path, tp_action_name(tp_check_action(chk)), what ? what : "see 'check'",
                     pw ? pw : "?", fw ? fw : "?");
        rc = TP_EXIT_FAIL;
        break;
    case TP_VERDICT_REJECT:
        tp_error_set(err, TP_EREJECT, 0,
                     "%s: not posted: the profile's rules reject it (%s); 'tokprep fit "
                     "--profile %s -o fitted %s' cannot make it conformant "
                     "(--no-check posts it as it is)",
                     path, reason && *reason ? reason : "rejected", pw ? pw : "?", fw ? fw : "?");
        rc = TP_EXIT_FAIL;
        break;
    default: break; /* unreadable as media: the post says why (or sends what TikTok judges) */
    }
    free(what);
    free(pw);
    free(fw);
    tp_check_free(chk);
    return rc;
}

static int run(const tp_cli_command *cmd, int argc, char **argv)
{
    tp_cli_parser parser;
    tp_cli_sets sets = {0};
    tp_profile *p = NULL;
    tp_tiktok *tt = NULL;
    tp_error err = TP_ERROR_INIT;
    tp_tiktok_resume resume = TP_TIKTOK_RESUME_INIT;
    const char *profile = NULL, *caption = NULL, *resume_file = NULL;
    bool json = false, wait = true, no_check = false;
    int rc = TP_EXIT_OK, c;
    char cover_set[96];
    if (tp_cli_parser_init(&parser, cmd) < 0)
        return TP_EXIT_ERROR;
    while ((c = tp_cli_next(&parser, cmd, argc, argv)) != -1) {
        switch (c) {
        case 'h': goto out;
        case '?': rc = TP_EXIT_ERROR; goto out;
        case TP_OPT_PROFILE: profile = optarg; break;
        case TP_OPT_SET: tp_cli_sets_add(&sets, optarg); break;
        case TP_OPT_JSON: json = true; break;
        case OPT_CAPTION: caption = optarg; break;
        case OPT_NO_WAIT: wait = false; break;
        case OPT_RESUME: resume_file = optarg; break;
        case OPT_NO_CHECK: no_check = true; break;
        case OPT_COVER_AT:
            if (tp_cli_cover_at(&sets, cover_set, sizeof(cover_set), optarg) < 0) {
                rc = tp_cli_usage_error(cmd, "--cover-at wants seconds >= 0 (have %s)", optarg);
                goto out;
            }
            break;
        default: break;
        }
    }
    if (optind >= argc) {
        rc = tp_cli_usage_error(cmd, "no FILE given");
        goto out;
    }
    if (resume_file && optind + 1 != argc) {
        rc = tp_cli_usage_error(cmd, "--resume takes exactly one FILE");
        goto out;
    }
    if ((rc = tp_cli_open_profile(&p, profile, &sets)) != 0)
        goto out;
    if (resume_file) {
        int r = tp_tiktok_resume_load(&resume, resume_file, &err);
        if (r < 0) {
            fprintf(stderr, "tokprep upload: %s: %s\n", resume_file, tp_error_message(&err));
            rc = TP_EXIT_ERROR;
            goto out;
        }
    }
    if (tp_tiktok_open(&tt, p, &err) < 0) {
        fprintf(stderr, "tokprep upload: %s\n", tp_error_message(&err));
        rc = TP_EXIT_ERROR;
        goto out;
    }
    if (no_check)
        fprintf(stderr, "tokprep upload: warning: --no-check: posting without checking the files "
                        "against the profile's rules\n");
    tp_cancel *interrupted = tp_cli_install_interrupt();
    double deferred_until = 0;
    for (int i = optind; i < argc; i++) {
        const char *path = argv[i];
        tp_tiktok_result res = TP_TIKTOK_RESULT_INIT;
        tp_error_clear(&err);
        if (deferred_until > 0) {
            /* The daily cap is per account: the rest would be refused the same way. */
            res.retry_at = deferred_until;
            char when[64];
            tp_time_format(when, sizeof(when), deferred_until, TP_TIME_UTC);
            int r = tp_error_set(&err, TP_ERATE, 0,
                                 "%s: deferred by the account's daily posting cap until %s", path,
                                 when);
            if (json)
                print_json(path, r, &res, &err, true);
            else
                fprintf(stderr, "tokprep upload: %s\n", tp_error_message(&err));
            if (rc == TP_EXIT_OK)
                rc = TP_EXIT_FAIL;
            continue;
        }
        int crc = no_check ? 0 : check_first(p, profile, path, &err);
        if (crc != 0) {
            if (json)
                print_json(path, err.code, &res, &err, false);
            else
                print_human(path, err.code, &res, &err);
            if (crc > rc)
                rc = crc;
            continue;
        }
        progress_state ps = {path, !json && isatty(2), -1, resume_file};
        tp_tiktok_post_options o = TP_TIKTOK_POST_OPTIONS_INIT;
        o.caption = caption;
        o.wait_status = wait;
        o.progress = on_progress;
        o.payload = &ps;
        o.cancel = interrupted;
        o.resume = resume_file ? &resume : NULL;
        /* Opened once: the duration is measured on, and the bytes posted from, one file. */
        int r = tp_tiktok_post_media(&res, tt, path, &o, &err);
        if (r == TP_EIO && !res.bytes && (!res.publish_id || !res.publish_id[0])) { /* not opened: nothing sent */
            if (json)
                print_json(path, TP_EIO, &res, &err, false);
            else
                print_human(path, TP_EIO, &res, &err);
            rc = TP_EXIT_ERROR;
            continue;
        }
        if (resume_file && r == 0 && !res.still_processing) {
            unlink(resume_file);
        } else if (resume_file && resume.publish_id && resume.publish_id[0]) {
            save_resume(&ps, &resume);
            tp_log(TP_LOG_WARN, "%s: run the same command again to continue at chunk %d/%d",
                   resume_file, resume.next_chunk + 1, resume.chunk_count);
        }
        if (json)
            print_json(path, r, &res, &err, false);
        else
            print_human(path, r, &res, &err);
        /* A daily cap (ours or TikTok's) is per account: the rest would be refused too. */
        if (r == TP_ERATE && res.retry_at > 0 &&
            (!res.api_code || !strcmp(res.api_code, "spam_risk_too_many_posts")))
            deferred_until = res.retry_at;
        tp_tiktok_result_clear(&res);
        if (r == TP_ECANCELED || tp_cancel_requested(interrupted)) {
            rc = TP_EXIT_INTERRUPTED;
            break;
        }
        if (r == TP_EREJECT || r == TP_ERATE) {
            if (rc == TP_EXIT_OK)
                rc = TP_EXIT_FAIL;
        } else if (r < 0) {
            rc = TP_EXIT_ERROR;
        }
    }
out:
    tp_error_clear(&err);
    tp_tiktok_resume_clear(&resume);
    tp_tiktok_free(tt);
    tp_profile_free(p);
    tp_cli_sets_free(&sets);
    tp_cli_parser_free(&parser);
    return rc;
}

const tp_cli_command tp_cmd_upload = {
    .name = "upload",
    .summary = "post files to TikTok (Content Posting API: direct post or draft)",
    .usage = "[--profile P] [--set KEY=VALUE] [--caption TEXT] [--no-wait] [--resume FILE] "
             "[--no-check] [--json] FILE...",
    .description =
        "Checks each FILE against the profile's rules first (as 'check'; a file check would\n"
        "fix or reject is not posted: run 'tokprep fit' first, or --no-check), then posts it:\n"
        "creator_info checks (direct mode), init, chunked PUTs to the upload URL with\n"
        "retries, then status polling until PUBLISH_COMPLETE / SEND_TO_USER_INBOX / FAILED\n"
        "or upload.tiktok.status_deadline. Needs 'tokprep auth login' first.\n"
        "Exit status: 0 all posted (or still processing), 1 a file was refused (by TikTok or\n"
        "by the profile's rules) or deferred by a limit, 2 an error, 130 interrupted.",
    .options = options,
    .example = "tokprep upload --profile tiktok-draft clip.mp4",
    .run = run,
};
