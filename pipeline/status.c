/* `status` and `retry` over a ledger: counts by stage and status, failures with reasons. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/ledger.h"
#include "util/tp_util.h"

typedef struct {
    cJSON *by_status, *by_stage, *failed, *rejected;
    int total;
} status_acc;

static void bump(cJSON *obj, const char *key)
{
    cJSON *n = cJSON_GetObjectItem(obj, key);
    if (n)
        cJSON_SetNumberValue(n, n->valuedouble + 1);
    else
        cJSON_AddNumberToObject(obj, key, 1);
}

static int collect(const tp_ledger_row *row, void *payload)
{
    status_acc *a = payload;
    a->total++;
    bump(a->by_status, tp_job_status_name(row->status));
    if (row->status == TP_JOB_QUEUED || row->status == TP_JOB_RUNNING)
        bump(a->by_stage, tp_stage_name(row->stage));
    if (row->status == TP_JOB_FAILED || row->status == TP_JOB_REJECTED) {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "path", row->source_path);
        cJSON_AddStringToObject(f, "stage", tp_stage_name(row->stage));
        cJSON_AddStringToObject(f, "error", row->error_code ? row->error_code : "");
        cJSON_AddStringToObject(f, "reason", row->error ? row->error : "");
        cJSON_AddNumberToObject(f, "attempts", row->attempts);
        cJSON_AddStringToObject(f, "fingerprint", row->fingerprint);
        cJSON_AddItemToArray(row->status == TP_JOB_FAILED ? a->failed : a->rejected, f);
    }
    return 0;
}

int tp_pipeline_status(char **json_out, const char *state_path, tp_error *err)
{
    *json_out = NULL;
    tp_ledger *l = NULL;
    int rc = tp_ledger_open(&l, state_path, false, err);
    if (rc < 0)
        return rc;
    cJSON *root = cJSON_CreateObject();
    status_acc a = {0};
    cJSON_AddStringToObject(root, "state", state_path);
    cJSON *total = cJSON_AddNumberToObject(root, "total", 0);
    a.by_status = cJSON_AddObjectToObject(root, "by_status");
    a.by_stage = cJSON_AddObjectToObject(root, "pending_by_stage");
    a.failed = cJSON_AddArrayToObject(root, "failed");
    a.rejected = cJSON_AddArrayToObject(root, "rejected");
    rc = tp_ledger_foreach(l, -1, collect, &a, err);
    cJSON_SetNumberValue(total, a.total);
    if (rc == 0) {
        *json_out = cJSON_Print(root);
        if (!*json_out)
            rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    }
    cJSON_Delete(root);
    tp_ledger_close(l);
    return rc;
}

int tp_pipeline_retry(int *n_requeued, const char *state_path, tp_error *err)
{
    *n_requeued = 0;
    tp_ledger *l = NULL;
    if (access(state_path, F_OK) != 0)
        return tp_error_set(err, TP_EIO, errno, "%s: no ledger here (has `tokprep run` used it?)",
                            state_path);
    int rc = tp_ledger_open(&l, state_path, true, err);
    if (rc == 0)
        rc = tp_ledger_retry_failed(l, n_requeued, err);
    tp_ledger_close(l);
    return rc;
}
