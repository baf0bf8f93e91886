/* Embedding example: fit files to the built-in tiktok profile (with KEY=VALUE overrides) using
 * the public API only, printing progress.
 * Usage: example_fit_file OUTDIR FILE... [--set KEY=VALUE]...
 * Exit status: 0 all written, 1 some rejected, 2 some failed. */
#include <stdio.h>
#include <string.h>

#include "tokprep.h"

static void progress(double fraction, double fps, void *payload)
{
    fprintf(stderr, "\r%s: %3.0f%% (%.0f fps)", (const char *)payload, fraction * 100.0, fps);
}

int main(int argc, char **argv)
{
    tp_error err = TP_ERROR_INIT;
    tp_profile *profile = NULL;
    const char *sets[32];
    size_t n_sets = 0;
    int status = 0;

    if (argc < 3) {
        fprintf(stderr, "usage: %s OUTDIR FILE... [--set KEY=VALUE]...\n", argv[0]);
        return 2;
    }
    for (int i = 2; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--set") && n_sets < 32)
            sets[n_sets++] = argv[++i];
    if (tp_global_init(&err) < 0 || tp_profile_open(&profile, "tiktok", sets, n_sets, &err) < 0) {
        fprintf(stderr, "%s\n", tp_error_message(&err));
        tp_error_clear(&err);
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--set")) {
            i++;
            continue;
        }
        tp_fit_result *result = NULL;
        tp_fit_options opts = TP_FIT_OPTIONS_INIT;
        opts.progress = progress;
        opts.payload = argv[i];
        int rc = tp_fit_file(&result, argv[i], profile, argv[1], &opts, &err);
        fputc('\n', stderr);
        if (rc < 0) {
            printf("%s: %s: %s\n", argv[i], rc == TP_EREJECT ? "rejected" : "failed",
                   tp_error_message(&err));
            status = rc == TP_EREJECT && status < 2 ? 1 : 2;
            continue;
        }
        for (size_t k = 0; k < tp_fit_result_count(result); k++)
            printf("%s → %s\n", argv[i], tp_fit_result_path(result, k));
        tp_fit_result_free(result);
    }
    tp_error_clear(&err); /* frees the last message, if any */
    tp_profile_free(profile);
    tp_global_cleanup();
    return status;
}
