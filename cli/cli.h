/* The tokprep command line: a thin client of the library. Each subcommand is one row
 * (tp_cli_command) whose options table drives both getopt_long and the generated --help. */
#ifndef TP_CLI_H
#define TP_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include <tokprep.h>

#ifndef TP_ARRAY_LEN
#define TP_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#endif

/* Exit statuses shared by all subcommands (documented in docs/COMMANDS.md, "Exit codes"). */
enum {
    TP_EXIT_OK = 0,
    TP_EXIT_FAIL = 1,  /* some file needs a fix / was rejected */
    TP_EXIT_ERROR = 2, /* some file unreadable/failed, or usage/configuration error */
    TP_EXIT_INTERRUPTED = 130
};

typedef struct {
    const char *name;     /* long name without dashes */
    int short_name;       /* 0 for none; also the getopt return value when non-zero */
    const char *arg_name; /* NULL for flags */
    const char *help;     /* NULL: a hidden option (test hooks): not in help, man, completion */
    int id;               /* value getopt_long returns (short_name, or >= 256) */
} tp_cli_option;

/* A short name kept for one release: still accepted as the option whose id it names, with a
 * deprecation warning on stderr; shown in no help or completion (the manual page mentions it). */
typedef struct {
    int old_short;    /* 0 ends a list */
    int id;           /* the option it now spells */
    const char *note; /* the warning's "for ..." part, e.g. "the work folder" */
} tp_cli_old_short;

/* `-o` for the work folder (run, status, retry, worker): now -w/--workdir. */
extern const tp_cli_old_short tp_cli_old_workdir[];

typedef struct tp_cli_command tp_cli_command;
struct tp_cli_command {
    const char *name;
    const char *summary;     /* one line, for `tokprep --help` */
    const char *usage;       /* after "tokprep NAME " */
    const char *description; /* paragraph(s) for `tokprep NAME --help` */
    const tp_cli_option *options; /* terminated by {NULL} */
    const char *example;
    /* Commands whose first word is an action (`auth login`): NULL-terminated list. That word may
     * come before the options; the parser skips it and puts it in tp_cli_parser.action. */
    const char *const *actions;
    const tp_cli_old_short *old_shorts; /* NULL or a list ended by {0} */
    int (*run)(const tp_cli_command *cmd, int argc, char **argv);
};

/* Common option ids (>= 256). Commands may add their own from TP_OPT_USER. */
enum {
    TP_OPT_HELP = 'h',
    TP_OPT_PROFILE = 'p',
    TP_OPT_SET = 256,
    TP_OPT_JSON,
    TP_OPT_STATE,
    TP_OPT_USER = 300
};

/* getopt_long over cmd->options; returns the option id, -1 at the end, '?' on error (message
 * already printed). Handles --help itself (prints help, returns 'h').
 *
 * Options end where operands begin: no option is parsed after the first operand (no GNU
 * permutation, whatever POSIXLY_CORRECT says) and `--` ends the options. An argument parsed as
 * an option that is also the name of a file in the current folder (a glob put it there:
 * `tokprep run *` over a file named `--set=...`) is refused with exit status 2.
 * A value holding redis://USER:PASSWORD@ is copied (optarg points at the copy, owned by the
 * parser) and the password is overwritten in argv, so `ps` and /proc/PID/cmdline do not show
 * it. */
typedef struct {
    void *longopts; /* struct option[] built from cmd->options */
    char shortopts[128];
    bool started;
    const char *action; /* cmd->actions word given before the options, or NULL */
    char **owned;       /* copies of argv values whose password was blanked */
    size_t n_owned;
} tp_cli_parser;
int tp_cli_parser_init(tp_cli_parser *p, const tp_cli_command *cmd);
int tp_cli_next(tp_cli_parser *p, const tp_cli_command *cmd, int argc, char **argv);
void tp_cli_parser_free(tp_cli_parser *p);

void tp_cli_print_help(const tp_cli_command *cmd, FILE *out);

/* The subcommands, in `tokprep --help` order; NULL-terminated. */
extern const tp_cli_command *const tp_cli_commands[];
const tp_cli_command *tp_cli_find_command(const char *name);

/* "did you mean": the candidate closest to word (edit distance at most 2, and less than half of
 * word's length), or NULL. */
const char *tp_cli_suggest(const char *word, const char *const *candidates, size_t n);

/* Generated documentation (cli/cli_docs.c), from the same tables as --help: shell completion
 * scripts ("bash", "zsh") and roff manual pages. Each returns 0, or TP_EXIT_ERROR after a
 * message. */
int tp_cli_print_completion(const char *shell, FILE *out);
int tp_cli_print_man(const tp_cli_command *cmd, FILE *out); /* NULL: tokprep.1 */
int tp_cli_print_man_profile(FILE *out);                    /* tokprep-profile.5 */
/* "tokprep NAME: message" + hint to --help on stderr; returns TP_EXIT_ERROR. */
int tp_cli_usage_error(const tp_cli_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* msg without a leading "PATH: " when it names path (the line already shows the path). */
const char *tp_cli_strip_path(const char *msg, const char *path);
/* A whole decimal number in [min, max] for `option` (e.g. "-j"): 0 and *out, or the usage
 * error "OPTION needs a number from MIN to MAX, not 'ARG'" (TP_EXIT_ERROR). */
int tp_cli_number(const tp_cli_command *cmd, const char *option, const char *arg, long min,
                  long max, long *out);

/* Collected --set values. */
typedef struct {
    const char **items;
    size_t n;
} tp_cli_sets;
int tp_cli_sets_add(tp_cli_sets *s, const char *v);
void tp_cli_sets_free(tp_cli_sets *s);
/* --cover-at SECONDS (upload, run, fit): a --set of upload.tiktok.video_cover_timestamp_ms,
 * written into buf (which must outlive s; 96 bytes do). 0, or -1 for a value that is not a
 * number of seconds >= 0. */
int tp_cli_cover_at(tp_cli_sets *s, char *buf, size_t size, const char *arg);

/* Open the profile (default "tiktok"); on failure prints "tokprep: MESSAGE" and returns
 * TP_EXIT_ERROR, else 0. */
int tp_cli_open_profile(tp_profile **out, const char *name, const tp_cli_sets *sets);

/* The rows every command that uses a job ledger shares, so that they are spelled the same: */
#define TP_CLI_OPT_WORKDIR(help)                                                                   \
    {"workdir", 'w', "WORKDIR", help, 'w'}
#define TP_CLI_OPT_STATE                                                                           \
    {"state", 0, "FILE", "job ledger (default: WORKDIR/tokprep.db)", TP_OPT_STATE}

bool tp_cli_stdout_is_tty(void);

/* Overwrite, in place, the password of every redis://[USER]:PASSWORD@ in s with '*' (argv
 * hygiene, as curl does for -u). Returns true when something was blanked. */
bool tp_cli_blank_url_password(char *s);

/* For commands that hold tokens or secrets in memory: no core dump (RLIMIT_CORE 0) and not
 * dumpable (PR_SET_DUMPABLE 0: no core, no ptrace or /proc/PID/mem by other processes of the
 * same user). Best effort, silent. */
void tp_cli_protect_secrets(void);

/* SIGINT/SIGTERM: install a handler that requests one process-wide cancellation token, and
 * return the token for the library's options (tp_*_options.cancel; NULL only when out of
 * memory). Each subcommand runs once per process, so one token serves them all.
 * tp_cli_interrupted() reads it. A second signal exits at once with TP_EXIT_INTERRUPTED. */
tp_cancel *tp_cli_install_interrupt(void);
bool tp_cli_interrupted(void);
/* Install `handler` (or SIG_DFL) for SIGINT and SIGTERM, no flags, empty mask: for commands
 * whose handler must do more than request the token (worker notes which signal it was). */
void tp_cli_set_signal_handler(void (*handler)(int));

/* Small helpers of the tool itself (the library's own are internal): a malloc'd printf (NULL on
 * OOM) and the monotonic clock in seconds. */
char *tp_cli_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* s as one shell word for a command shown to the user: as is when plain, else single-quoted.
 * malloc'd; NULL when out of memory. */
char *tp_cli_shell_word(const char *s);
/* Columns of the terminal on fd (TIOCGWINSZ, else $COLUMNS), or 0 when fd is not a terminal
 * or the width is unknown. */
int tp_cli_term_columns(int fd);
/* Display width of UTF-8 text: code points, wide ones (wcwidth) counting 2. */
size_t tp_cli_text_width(const char *s);
/* s cut to at most `width` columns: the middle replaced by "…" (very_long_…_name.mp4).
 * malloc'd; NULL when out of memory. */
char *tp_cli_ellipsize(const char *s, size_t width);
double tp_cli_monotonic(void);

/* The subcommands, defined one per cli/cmd_*.c file. */
extern const tp_cli_command tp_cmd_check;
extern const tp_cli_command tp_cmd_fit;
extern const tp_cli_command tp_cmd_run;
extern const tp_cli_command tp_cmd_status;
extern const tp_cli_command tp_cmd_retry;
extern const tp_cli_command tp_cmd_review;
extern const tp_cli_command tp_cmd_upload;
extern const tp_cli_command tp_cmd_auth;
extern const tp_cli_command tp_cmd_profiles;
extern const tp_cli_command tp_cmd_enqueue;
extern const tp_cli_command tp_cmd_worker;
extern const tp_cli_command tp_cmd_preview;
extern const tp_cli_command tp_cmd_serve;
extern const tp_cli_command tp_cmd_completion;

#endif
