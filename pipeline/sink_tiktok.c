/* The `tiktok` sink: posts each output through the upload client, resuming from the ledger. */
#include "pipeline/internal.h"
#include "util/tp_util.h"

int tp_sink_tiktok_deliver(struct tp_pipeline *pl, tp_job *job)
{
    (void)pl;
    /* Wired to the upload client once it lands on main (see the report). */
    return tp_error_set(&job->err, TP_EUNSUPPORTED, 0,
                        "%s: the tiktok sink is not available in this build yet", job->path);
}
