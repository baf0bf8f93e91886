/* Fuzz harness: the profile loader on arbitrary YAML text (tree parser, merge, schema). */
#include <stdint.h>
#include <stdlib.h>

#include "profiles/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tp_profile *p = NULL;
    tp_error err = TP_ERROR_INIT;
    if (tp_profile_open_buffer(&p, "fuzz.yaml", (const char *)data, size, NULL, 0, &err) == 0) {
        char *dump = tp_profile_dump(p);
        free(dump);
        tp_profile_free(p);
    }
    tp_error_clear(&err);
    return 0;
}
