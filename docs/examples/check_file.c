/* Embedding example: check files against the built-in tiktok profile with the public API only.
 * Usage: example_check_file FILE...   Exit status: 0 all pass, 1 otherwise. */
#include <stdio.h>
#include <stdlib.h>

#include "tokprep.h"

int main(int argc, char **argv)
{
    tp_error err = TP_ERROR_INIT;
    tp_profile *profile = NULL;
    int status = 0;

    if (tp_global_init(&err) < 0 || tp_profile_open(&profile, "tiktok", NULL, 0, &err) < 0) {
        fprintf(stderr, "%s\n", tp_error_message(&err));
        tp_error_clear(&err);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        tp_check *check = NULL;
        tp_check_options opts = TP_CHECK_OPTIONS_INIT;
        if (tp_check_file(&check, profile, argv[i], &opts, &err) < 0) {
            fprintf(stderr, "%s\n", tp_error_message(&err)); /* out of memory or cancelled */
            status = 2;
            continue;
        }
        tp_verdict v = tp_check_verdict(check);
        printf("%s: %s %s\n", tp_check_path(check), tp_verdict_name(v),
               v == TP_VERDICT_ERROR ? tp_check_error(check)
                                     : tp_action_name(tp_check_action(check)));
        for (size_t k = 0; k < tp_check_violation_count(check); k++) {
            const char *message;
            tp_severity severity;
            tp_check_violation(check, k, NULL, &severity, &message);
            printf("  [%s] %s\n", tp_severity_name(severity), message);
        }
        if (v != TP_VERDICT_PASS && status == 0)
            status = 1;
        tp_check_free(check);
    }
    tp_error_clear(&err); /* frees the last message, if any */
    tp_profile_free(profile);
    tp_global_cleanup();
    return status;
}
