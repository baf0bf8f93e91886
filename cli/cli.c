/* Shared CLI plumbing: options-table-driven getopt_long, generated help, profile opening. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int tp_cli_parser_init(tp_cli_parser *p, const tp_cli_command *cmd)
{
    size_t n = 0;
    while (cmd->options && cmd->options[n].name)
        n++;
    struct option *lo = calloc(n + 2, sizeof(*lo));
    if (!lo)
        return -1;
    size_t k = 0;
    memset(p, 0, sizeof(*p));
    /* '+': stop at the first operand, as POSIX says, even without POSIXLY_CORRECT: a file name
     * from a glob must never become an option. ':': report a missing value as ':'. */
    p->shortopts[k++] = '+';
    p->shortopts[k++] = ':';
    for (size_t i = 0; i < n; i++) {
        const tp_cli_option *o = &cmd->options[i];
        lo[i].name = o->name;
        lo[i].has_arg = o->arg_name ? required_argument : no_argument;
        lo[i].flag = NULL;
        lo[i].val = o->id ? o->id : o->short_name;
        if (o->short_name && k + 3 < sizeof(p->shortopts)) {
            p->shortopts[k++] = (char)o->short_name;
            if (o->arg_name)
                p->shortopts[k++] = ':';
        }
    }
    for (const tp_cli_old_short *old = cmd->old_shorts; old && old->old_short; old++)
        for (size_t i = 0; i < n; i++)
            if (cmd->options[i].id == old->id && k + 3 < sizeof(p->shortopts)) {
                p->shortopts[k++] = (char)old->old_short;
                if (cmd->options[i].arg_name)
                    p->shortopts[k++] = ':';
            }
    lo[n].name = "help";
    lo[n].has_arg = no_argument;
    lo[n].val = 'h';
    if (k + 1 < sizeof(p->shortopts))
        p->shortopts[k++] = 'h';
    p->shortopts[k] = '\0';
    p->longopts = lo;
    optind = 1;
    opterr = 0;
    return 0;
}

void tp_cli_parser_free(tp_cli_parser *p)
{
    free(p->longopts);
    p->longopts = NULL;
    for (size_t i = 0; i < p->n_owned; i++) {
        explicit_bzero(p->owned[i], strlen(p->owned[i]));
        free(p->owned[i]);
    }
    free(p->owned);
    p->owned = NULL;
    p->n_owned = 0;
}

bool tp_cli_blank_url_password(char *s)
{
    bool blanked = false;
    for (char *u = s ? strstr(s, "redis://") : NULL; u; u = strstr(u, "redis://")) {
        u += strlen("redis://");
        size_t alen = strcspn(u, "/"); /* the authority: [[USER]:PASSWORD@]HOST[:PORT] */
        char *at = NULL;
        for (char *q = u; q < u + alen; q++)
            if (*q == '@')
                at = q; /* the last '@', as tp_redis_url_parse reads it */
        if (!at)
            continue;
        char *colon = memchr(u, ':', (size_t)(at - u));
        char *pw = colon ? colon + 1 : u;
        if (pw < at)
            blanked = true;
        memset(pw, '*', (size_t)(at - pw));
    }
    return blanked;
}

/* The value of an option is in argv (optarg points into it): keep a private copy for the
 * command and blank the password in argv, which /proc/PID/cmdline shows to every local user. */
static int hide_password(tp_cli_parser *p)
{
    if (!optarg || !strstr(optarg, "redis://"))
        return 0;
    char *copy = strdup(optarg);
    char **owned = realloc(p->owned, (p->n_owned + 1) * sizeof(*owned));
    if (!copy || !owned) {
        free(copy);
        if (owned)
            p->owned = owned;
        return -1;
    }
    p->owned = owned;
    if (!tp_cli_blank_url_password(optarg)) {
        free(copy);
        return 0;
    }
    p->owned[p->n_owned++] = copy;
    optarg = copy;
    return 0;
}

/* The candidate closest to word (tp_edit_distance), or NULL when none is close. */
const char *tp_cli_suggest(const char *word, const char *const *candidates, size_t n)
{
    const char *best = NULL;
    int best_d = 3;
    int limit = (int)strlen(word) / 2;
    for (size_t i = 0; i < n; i++) {
        int d = tp_edit_distance(word, candidates[i]);
        if (d < best_d && d <= limit && d > 0) {
            best_d = d;
            best = candidates[i];
        }
    }
    return best;
}

/* "unknown option '--jsn'; did you mean '--json'?" */
static void unknown_long_option(const tp_cli_command *cmd, const char *arg)
{
    const char *cands[64];
    size_t n = 0;
    for (const tp_cli_option *o = cmd->options; o && o->name && n + 1 < TP_ARRAY_LEN(cands); o++)
        cands[n++] = o->name;
    cands[n++] = "help";
    const char *best = NULL;
    if (!strncmp(arg, "--", 2)) {
        char name[64];
        snprintf(name, sizeof(name), "%.*s", (int)strcspn(arg + 2, "="), arg + 2);
        best = tp_cli_suggest(name, cands, n);
    }
    if (best)
        tp_cli_usage_error(cmd, "unknown option '%s'; did you mean '--%s'?", arg, best);
    else
        tp_cli_usage_error(cmd, "unknown option '%s'", arg);
}

int tp_cli_next(tp_cli_parser *p, const tp_cli_command *cmd, int argc, char **argv)
{
    if (!p->started) {
        p->started = true;
        optind = 1;
        for (const char *const *a = cmd->actions; a && *a && argc > 1; a++)
            if (!strcmp(argv[1], *a)) {
                p->action = argv[1];
                optind = 2;
            }
    }
    int before = optind;
    int c = getopt_long(argc, argv, p->shortopts, p->longopts, NULL);
    /* Second defence, for `tokprep run *` without `--`: a name such as
     * `--set=upload.tiktok.privacy_level=PUBLIC_TO_EVERYONE` sorts before the media files, so
     * it is the first argument and getopt takes it as an option. The argument getopt just
     * finished (argv[before]: the option itself, never its separate value) must not also be a
     * file here. */
    if (c != -1 && optind > before && before < argc) {
        struct stat st;
        if (lstat(argv[before], &st) == 0) {
            char *name = tp_str_printable(argv[before]);
            fprintf(stderr,
                    "tokprep %s: '%s' is both an option and a file in this folder; put -- "
                    "before file names (tokprep %s -- *)\n",
                    cmd->name, name ? name : "?", cmd->name);
            free(name);
            return '?';
        }
    }
    if (c != -1 && c != '?' && c != ':' && hide_password(p) < 0) {
        fprintf(stderr, "tokprep %s: out of memory\n", cmd->name);
        return '?';
    }
    if (c == 'h') {
        tp_cli_print_help(cmd, stdout);
        return 'h';
    }
    if (c == '?') {
        if (optopt)
            tp_cli_usage_error(cmd, "unknown option '-%c'", optopt);
        else
            unknown_long_option(cmd, argv[optind - 1]);
        return '?';
    }
    for (const tp_cli_old_short *old = cmd->old_shorts; old && old->old_short; old++)
        for (const tp_cli_option *o = cmd->options; o && o->name; o++)
            if (c == old->old_short && o->id == old->id) {
                fprintf(stderr,
                        "tokprep %s: -%c is deprecated for %s; use -%c/--%s (-%c will mean the "
                        "output folder)\n",
                        cmd->name, old->old_short, old->note, o->short_name, o->name,
                        old->old_short);
                return o->id;
            }
    if (c == ':') {
        tp_cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
        return '?';
    }
    return c;
}

/* The operand word a usage line ends with ("PATH...", "FILE..."), or NULL. */
static const char *operand_word(const char *usage)
{
    static const char *const words[] = {"PATH...", "FILE..."};
    size_t n = strlen(usage);
    for (size_t i = 0; i < TP_ARRAY_LEN(words); i++) {
        size_t w = strlen(words[i]);
        if (n >= w && !strcmp(usage + n - w, words[i]))
            return usage + n - w;
    }
    return NULL;
}

const tp_cli_old_short tp_cli_old_workdir[] = {
    {'o', 'w', "the work folder"},
    {0, 0, NULL},
};

void tp_cli_print_help(const tp_cli_command *cmd, FILE *out)
{
    /* Commands with an action word (`profiles validate PATH...`) spell their own usage. */
    const char *operands = cmd->actions ? NULL : operand_word(cmd->usage);
    if (operands)
        fprintf(out, "Usage: tokprep %s %.*s[--] %s\n\n%s\n", cmd->name,
                (int)(operands - cmd->usage), cmd->usage, operands, cmd->summary);
    else
        fprintf(out, "Usage: tokprep %s %s\n\n%s\n", cmd->name, cmd->usage, cmd->summary);
    if (cmd->description && *cmd->description)
        fprintf(out, "\n%s\n", cmd->description);
    if (operands)
        fprintf(out,
                "\nOptions go before the first %.4s: none is read after it. Put -- before names "
                "from a\nglob, so that a file named like an option stays a file: tokprep %s -- *\n",
                operands, cmd->name);
    fprintf(out, "\nOptions:\n");
    for (const tp_cli_option *o = cmd->options; o && o->name; o++) {
        char left[64];
        if (!o->help) /* hidden (a test hook): no help, manual or completion */
            continue;
        if (o->short_name && o->short_name < 128)
            snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name, o->name,
                     o->arg_name ? " " : "", o->arg_name ? o->arg_name : "");
        else
            snprintf(left, sizeof(left), "    --%s%s%s", o->name, o->arg_name ? " " : "",
                     o->arg_name ? o->arg_name : "");
        fprintf(out, "  %-26s %s\n", left, o->help);
    }
    fprintf(out, "  %-26s %s\n", "-h, --help", "show this help");
    if (cmd->example)
        fprintf(out, "\nExample:\n  %s\n", cmd->example);
}

int tp_cli_usage_error(const tp_cli_command *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "tokprep %s: ", cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'tokprep %s --help')\n", cmd->name);
    return TP_EXIT_ERROR;
}

const char *tp_cli_strip_path(const char *msg, const char *path)
{
    size_t n = strlen(path);
    if (n && !strncmp(msg, path, n) && msg[n] == ':' && msg[n + 1] == ' ')
        return msg + n + 2;
    return msg;
}

int tp_cli_number(const tp_cli_command *cmd, const char *option, const char *arg, long min,
                  long max, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || end == arg || *end || v < min || v > max)
        return tp_cli_usage_error(cmd, "%s needs a number from %ld to %ld, not '%s'", option, min,
                                  max, arg);
    *out = v;
    return 0;
}

int tp_cli_sets_add(tp_cli_sets *s, const char *v)
{
    const char **items = realloc(s->items, (s->n + 1) * sizeof(*items));
    if (!items)
        return -1;
    items[s->n++] = v;
    s->items = items;
    return 0;
}

int tp_cli_cover_at(tp_cli_sets *s, char *buf, size_t size, const char *arg)
{
    char *end = NULL;
    double sec = arg && *arg ? strtod(arg, &end) : -1.0;
    if (!end || *end || !(sec >= 0.0) || sec > 86400.0 * 7)
        return -1;
    int n = snprintf(buf, size, "upload.tiktok.video_cover_timestamp_ms=%lld",
                     (long long)llround(sec * 1000.0));
    if (n < 0 || (size_t)n >= size)
        return -1;
    return tp_cli_sets_add(s, buf);
}

void tp_cli_sets_free(tp_cli_sets *s)
{
    free(s->items);
    s->items = NULL;
    s->n = 0;
}

int tp_cli_open_profile(tp_profile **out, const char *name, const tp_cli_sets *sets)
{
    tp_error err = TP_ERROR_INIT;
    if (tp_profile_open(out, name ? name : "tiktok", sets ? sets->items : NULL,
                        sets ? sets->n : 0, &err) < 0) {
        fprintf(stderr, "tokprep: %s\n", tp_error_message(&err));
        tp_error_clear(&err);
        return TP_EXIT_ERROR;
    }
    return 0;
}

void tp_cli_protect_secrets(void)
{
    struct rlimit rl = {0, 0};
    setrlimit(RLIMIT_CORE, &rl);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

bool tp_cli_stdout_is_tty(void)
{
    return isatty(STDOUT_FILENO) == 1;
}

/* The one piece of process state a signal handler can reach, hence the exception to the house
 * rule: a flag for the second signal and the token the library polls (created before the
 * handler is installed, never freed: it lives as long as the process). */
static volatile sig_atomic_t interrupt_flag;
static tp_cancel *interrupt_token;

static void on_interrupt(int sig)
{
    (void)sig;
    /* The first signal asks the work to stop and clean up (fit removes its temporary files);
     * a second one means now. */
    if (interrupt_flag)
        _exit(TP_EXIT_INTERRUPTED);
    interrupt_flag = 1;
    tp_cancel_request(interrupt_token); /* a lock-free atomic store: async-signal-safe */
}

void tp_cli_set_signal_handler(void (*handler)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

tp_cancel *tp_cli_install_interrupt(void)
{
    if (!interrupt_token && tp_cancel_new(&interrupt_token) < 0)
        interrupt_token = NULL; /* out of memory: a signal still stops, at the second one */
    tp_cli_set_signal_handler(on_interrupt);
    return interrupt_token;
}

bool tp_cli_interrupted(void)
{
    return interrupt_flag != 0;
}

char *tp_cli_asprintf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    return n < 0 ? NULL : s;
}

double tp_cli_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
