/* Embedding example: post one file to TikTok with the public API, showing the progress callback
 * and where a caller persists the resume state (after every acknowledged chunk).
 * Usage: example_post_file PROFILE FILE [KEY=VALUE...]   (log in first: tokprep auth login)
 * Exit status: 0 posted (or still processing), 1 refused, 2 error. */
#include <stdio.h>
#include <stdlib.h>

#include "tokprep.h"

static void on_event(const tp_tiktok_event *ev, void *payload)
{
    int *chunks_done = payload;
    switch (ev->kind) {
    case TP_TIKTOK_EV_INIT:
        printf("init: publish_id %s, %d chunk(s)\n", ev->resume->publish_id, ev->chunk_count);
        break;
    case TP_TIKTOK_EV_CHUNK_DONE:
        /* A real caller writes *ev->resume somewhere private (mode 0600: the upload URL holds
         * a token) now, and passes it back in opts.resume after a crash to continue. */
        (*chunks_done)++;
        printf("chunk %d/%d acknowledged (%lld of %lld bytes); next_chunk=%d\n",
               ev->chunk_index + 1, ev->chunk_count, ev->bytes_sent, ev->total,
               ev->resume->next_chunk);
        break;
    case TP_TIKTOK_EV_STATUS: printf("status: %s\n", ev->status); break;
    default: break;
    }
}

int main(int argc, char **argv)
{
    tp_error err = TP_ERROR_INIT;
    tp_profile *profile = NULL;
    tp_tiktok *tt = NULL;
    tp_tiktok_resume resume = TP_TIKTOK_RESUME_INIT;
    tp_tiktok_result res = TP_TIKTOK_RESULT_INIT;
    int status = 2, chunks_done = 0;
    if (argc < 3) {
        fprintf(stderr, "usage: %s PROFILE FILE [KEY=VALUE...]\n", argv[0]);
        return 2;
    }
    if (tp_global_init(&err) < 0 ||
        tp_profile_open(&profile, argv[1], (const char *const *)argv + 3, (size_t)(argc - 3),
                        &err) < 0 ||
        tp_tiktok_open(&tt, profile, &err) < 0) {
        fprintf(stderr, "%s\n", tp_error_message(&err));
        goto out;
    }
    tp_tiktok_post_options opts = TP_TIKTOK_POST_OPTIONS_INIT;
    opts.resume = &resume;
    opts.progress = on_event;
    opts.payload = &chunks_done;
    int rc = tp_tiktok_post_file(&res, tt, argv[2], &opts, &err);
    if (rc < 0) {
        fprintf(stderr, "%s (%s)\n", tp_error_message(&err), tp_error_name(rc));
        status = rc == TP_EREJECT || rc == TP_ERATE ? 1 : 2;
        goto out;
    }
    printf("%s: %s publish_id %s after %d chunk(s)%s\n", argv[2], res.status, res.publish_id,
           chunks_done, res.still_processing ? " (still processing)" : "");
    status = 0;
out:
    tp_tiktok_result_clear(&res);    /* the strings of the result ... */
    tp_tiktok_resume_clear(&resume); /* ... and of the resume state are the caller's */
    tp_error_clear(&err);
    tp_tiktok_free(tt);
    tp_profile_free(profile);
    tp_global_cleanup();
    return status;
}
