/* Loudness meter: EBU R128 integrated loudness, loudness range and true peak of decoded audio
 * frames, measured in-process by libavfilter's ebur128 filter. */
#ifndef TP_LOUDNESS_H
#define TP_LOUDNESS_H

#include <libavutil/frame.h>

#include "probe/media.h"

typedef struct tp_loud_meter tp_loud_meter;

/* A new meter; its graph is made at the first frame (it takes the format from it).
 * Returns 0 or TP_ENOMEM. */
int tp_loud_meter_new(tp_loud_meter **out);

/* Feed one decoded frame (not consumed; the caller still owns and unrefs it). A frame whose
 * format the graph cannot take stops the measurement (the result stays unmeasured); that is
 * not a failure of the probe. Returns 0, or TP_ENOMEM. */
int tp_loud_meter_push(tp_loud_meter *m, const AVFrame *frame);

/* Flush and fill *out (out->measured false when nothing could be measured). */
void tp_loud_meter_finish(tp_loud_meter *m, tp_loudness *out);

/* NULL is accepted. */
void tp_loud_meter_free(tp_loud_meter **m);

#endif
