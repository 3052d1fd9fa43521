/* report.timeline: what the hardware does during one training iteration of a config, to look
 * at rather than read. The op records of one iteration (every sample through every block, at
 * the run's batch size) are simulated one after another on the run's hardware model and
 * written as DIR/timeline.json.gz (gzip-compressed Chrome trace events: Perfetto,
 * chrome://tracing, with power counters) and DIR/timeline.vcd (a waveform: a busy wire per
 * unit and the running record's "layer phase" as a string). A PSG weight gradient shows its
 * predictor pass; the low-order pass, priced as a fraction of a pass, is not drawn (its energy
 * is in the power counters). */
#ifndef E2_RUN_TIMELINE_H
#define E2_RUN_TIMELINE_H

#include "config.h"
#include "hw.h"
#include "status.h"

struct net;

/* The records of one iteration of `net` (the run's own net: its shapes, precision, PSG and
 * SLU) at training.batch_size with training's optimizer, simulated on m into dir. */
int timeline_write_iteration(struct net *net, const struct cfg_training *tr, struct hw_model *m,
                             const char *dir, struct e2_err *err);

#endif
