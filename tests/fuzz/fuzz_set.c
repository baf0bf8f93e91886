/* Fuzz harness: the --set parser. Each input line is one "key.path=value" override. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "profiles/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    const char *sets[16];
    size_t n = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && n < 16;
         line = strtok_r(NULL, "\n", &save))
        sets[n++] = line;
    tp_profile *p = NULL;
    tp_error err = TP_ERROR_INIT;
    if (tp_profile_open(&p, "tiktok", sets, n, &err) == 0)
        tp_profile_free(p);
    tp_error_clear(&err);
    free(text);
    return 0;
}
