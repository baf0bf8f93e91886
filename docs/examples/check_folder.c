/* Embedding example: check files and folders on several threads with tp_check_files(); the
 * results come back in input order on this thread, whatever the number of threads.
 * Usage: example_check_folder PATH...   Exit status: 0 all pass, 1 some need a fix or are
 * rejected, 2 some could not be read (or a usage error). */
#include <stdio.h>

#include "tokprep.h"

typedef struct {
    size_t counts[4]; /* by tp_verdict */
} tally;

static void on_file(const tp_check_files_item *item, void *payload)
{
    tally *t = payload;
    if (!item->check) { /* missing, unreadable, not media under a media name, ... */
        t->counts[TP_VERDICT_ERROR]++;
        printf("%-7s %s\n", "error", tp_error_message(item->error)); /* it names the path */
        return;
    }
    tp_verdict v = tp_check_verdict(item->check);
    t->counts[v]++;
    printf("%-7s %s (%.2f s)\n", tp_verdict_name(v), item->path, item->seconds);
    for (size_t i = 0; i < tp_check_violation_count(item->check); i++) {
        const char *message;
        tp_check_violation(item->check, i, NULL, NULL, &message);
        printf("        %s\n", message);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH...\n", argv[0]);
        return 2;
    }
    tp_error err = TP_ERROR_INIT;
    tp_profile *profile = NULL;
    tally t = {{0, 0, 0, 0}};
    tp_files_summary summary;
    int rc = 2;
    if (tp_global_init(&err) < 0 || tp_profile_open(&profile, "tiktok", NULL, 0, &err) < 0)
        goto out;
    tp_check_files_options opts = TP_CHECK_FILES_OPTIONS_INIT;
    opts.threads = 2;
    opts.on_file = on_file;
    opts.payload = &t;
    if (tp_check_files(&summary, profile, (const char *const *)(argv + 1), (size_t)(argc - 1),
                       &opts, &err) < 0)
        goto out;
    printf("%zu file(s); %zu non-media and %zu symbolic link(s) left out\n", summary.files,
           summary.non_media, summary.symlinks);
    rc = t.counts[TP_VERDICT_ERROR]                                ? 2
         : t.counts[TP_VERDICT_FIX] || t.counts[TP_VERDICT_REJECT] ? 1
                                                                   : 0;
out:
    if (err.code)
        fprintf(stderr, "example_check_folder: %s\n", tp_error_message(&err));
    tp_error_clear(&err);
    tp_profile_free(profile);
    tp_global_cleanup();
    return rc;
}
