/* Test tool: ask creator_info through the public API and print tp_creator_info_to_json(), so
 * tests/integration/test_creator_info.py can run it against the fake TikTok server.
 * Usage: tp_creator_info [--profile P] [--set K=V]... ; exit 0 (JSON on stdout) or 1 (the
 * error's name and message on stderr). Public API only, like a client of the library. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tokprep.h>

int main(int argc, char **argv)
{
    const char *profile_name = "tiktok";
    const char **sets = calloc((size_t)argc, sizeof(*sets));
    size_t n_sets = 0;
    for (int i = 1; sets && i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--profile"))
            profile_name = argv[i + 1];
        else if (!strcmp(argv[i], "--set"))
            sets[n_sets++] = argv[i + 1];
    }
    tp_error err = TP_ERROR_INIT;
    tp_profile *p = NULL;
    tp_tiktok *tt = NULL;
    tp_creator_info *ci = NULL;
    int rc = tp_profile_open(&p, profile_name, sets, n_sets, &err);
    if (rc == 0)
        rc = tp_tiktok_open(&tt, p, &err);
    if (rc == 0)
        rc = tp_tiktok_creator_info(&ci, tt, &err);
    if (rc == 0) {
        char *js = tp_creator_info_to_json(ci);
        /* The accessors agree with the JSON (the console reads both). */
        printf("%s\n", js ? js : "null");
        printf("{\"privacy_count\": %zu, \"privacy_out_of_range\": %s}\n",
               tp_creator_info_privacy_count(ci),
               tp_creator_info_privacy(ci, tp_creator_info_privacy_count(ci)) ? "false" : "true");
        free(js);
    } else {
        fprintf(stderr, "%s: %s\n", tp_error_name(rc), tp_error_message(&err));
    }
    tp_creator_info_free(ci);
    tp_tiktok_free(tt);
    tp_profile_free(p);
    tp_error_clear(&err);
    free(sets);
    return rc == 0 ? 0 : 1;
}
