/* Replay: price a recorded op trace (traces/FORMAT.md) on a hardware model, without training.
 * `e2sim replay TRACE --config HW.yaml [--out DIR]` (sim/app/cmd_replay.c) writes the same
 * report files as the run that recorded the trace; a HW config with a sweep: section over
 * hardware:/energy: keys runs that sweep, each point a replay. */
#ifndef E2_REPLAY_H
#define E2_REPLAY_H

#include "report.h"
#include "status.h"

struct hw_params;
struct progress;

/* Price the trace at `path` on a model made from `hw` and fill r (report_init'ed by the
 * caller): energy and FPGA time from the ledgers, the baseline from the trace's baseline
 * stream, the curve from its marks (energy so far at each), accuracy and training statistics
 * from its trailer, network and dataset from its header.
 *
 * Identical records are counted between marks and priced once per segment with their total
 * repeat (the ledger is linear in the repeat count: integer femtojoules and cycles per
 * record), in the order each record first appeared, so the result equals pricing the entries
 * one by one, as the live run did, to the femtojoule. `progress` may be NULL. */
int replay_price(const char *path, const struct hw_params *hw, struct run_result *r,
                 struct progress *progress, struct e2_err *err);

#endif
