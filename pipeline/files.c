/* Every file of a ledger for the console and /api/files; the events log. STUB: the `files`
 * branch implements it. */
#include "tokprep.h"

#include <stdio.h>

int tp_ledger_files_options_init(tp_ledger_files_options *opts, unsigned version)
{
    if (!opts || version != TP_LEDGER_FILES_OPTIONS_VERSION)
        return TP_EINVAL;
    *opts = (tp_ledger_files_options)TP_LEDGER_FILES_OPTIONS_INIT;
    return 0;
}

int tp_ledger_files_read(tp_ledger_files **out, const char *state_path,
                         const tp_ledger_files_options *opts, tp_error *err)
{
    (void)state_path, (void)opts;
    *out = NULL;
    return tp_error_set(err, TP_EUNSUPPORTED, 0, "not implemented yet");
}

size_t tp_ledger_files_count(const tp_ledger_files *files)
{
    (void)files;
    return 0;
}

const tp_ledger_file *tp_ledger_files_at(const tp_ledger_files *files, size_t i)
{
    (void)files, (void)i;
    return NULL;
}

char *tp_ledger_file_to_json(const tp_ledger_file *file)
{
    (void)file;
    return NULL;
}

char *tp_ledger_files_to_json(const tp_ledger_files *files)
{
    (void)files;
    return NULL;
}

void tp_ledger_files_free(tp_ledger_files *files)
{
    (void)files;
}

int tp_ledger_file_check(tp_check **out, const tp_profile *profile, const tp_ledger_file *file,
                         tp_error *err)
{
    (void)profile, (void)file;
    *out = NULL;
    return tp_error_set(err, TP_EUNSUPPORTED, 0, "not implemented yet");
}

int tp_events_log_path(char *buf, size_t size, const char *state_path)
{
    int n = snprintf(buf, size, "%s.events", state_path);
    return n < 0 || (size_t)n >= size ? TP_EINVAL : 0;
}
