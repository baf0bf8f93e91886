/* Fuzz harness: the chunk planner on any size and any chunk rules (the profile's validation
 * bounds them, but the planner must not rely on it). Every plan it returns must be one TikTok
 * accepts: contiguous chunks covering the file exactly, count = floor(size / chunk_size). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "upload/chunk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int64_t v[6] = {0};
    /* Six little-endian 64-bit values; short inputs leave the rest 0. */
    memcpy(v, data, size < sizeof(v) ? size : sizeof(v));
    tp_chunk_rules r = {v[1], v[2], v[3], v[4], (int)v[5]};
    /* Small inputs in the interesting range too: a byte-sized scale keeps the fuzzer near the
     * real rules instead of only at 2^63. */
    if (size > sizeof(v) && (data[sizeof(v)] & 1)) {
        r.size = (r.size & 0xffffff) * 1000;
        r.min = (r.min & 0xffffff) * 1000;
        r.max = (r.max & 0xffffff) * 1000;
        r.final_max = (r.final_max & 0xffffff) * 1000;
        r.max_count &= 0x7ff;
        v[0] &= 0xffffffffffLL;
    }
    tp_chunk_plan plan;
    memset(&plan, 0, sizeof(plan));
    tp_error err = TP_ERROR_INIT;
    if (tp_chunk_plan_make(&plan, v[0], &r, &err) == 0) {
        int64_t off = 0;
        if (plan.total != v[0] || plan.count < 1 || !plan.chunks || plan.chunk_size < 1)
            abort();
        if (plan.count != plan.total / plan.chunk_size)
            abort();
        for (int i = 0; i < plan.count; i++) {
            if (plan.chunks[i].offset != off || plan.chunks[i].length < 1)
                abort();
            if (i < plan.count - 1 && plan.chunks[i].length != plan.chunk_size)
                abort();
            off += plan.chunks[i].length;
        }
        if (off != plan.total)
            abort();
    } else if (!tp_error_message(&err)[0]) {
        abort(); /* a refusal always says why */
    }
    tp_chunk_plan_clear(&plan);
    tp_error_clear(&err);
    return 0;
}
