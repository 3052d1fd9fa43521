/* Pricing: everything between the kernels' op stream and the numbers a run reports.
 *
 * One pricing object owns the hardware model, the two ledgers (the run's and the float32 SMB
 * baseline's), the energy accumulator that counts the records (sim/run/energy.h) and the trace
 * writer that records what was priced. The training loop only sees pricing_sink() and the
 * hooks the run wires into its observer: pricing_flush (each iteration: price what is pending,
 * hand it to the trace), pricing_save / pricing_restore (a checkpoint's "energy" section and
 * the trace's continuation).
 *
 * Unpriced (priced = 0): no model and no ledgers; the accumulator only counts (tests), and a
 * run that trains without pricing (E2SIM_PRICING=off) gives the kernels no sink at all. */
#ifndef E2_PRICING_H
#define E2_PRICING_H

#include <stdint.h>
#include "energy.h"
#include "hw.h"
#include "status.h"

struct ckpt;
struct net;
struct trace_header;
struct trace_writer;

struct pricing {
    int priced;                 /* 0: E2SIM_PRICING=off */
    struct hw_model *model;
    struct hw_ledger *run, *baseline;
    struct energy_acc acc;      /* the run's distinct records and their counts */
    int acc_open;
    struct trace_writer *trace; /* NULL: no trace */
};

/* A pricing object for hardware `hw` (priced != 0) or a counting-only one. A hardware config
 * the model refuses is reported as "SOURCE: hardware: ..." when source (the config file) is
 * given, else as "hardware model: ...". Close it with pricing_close whatever this returns. */
int pricing_open(struct pricing *p, const struct hw_params *hw, int priced, const char *source,
                 struct e2_err *err);
void pricing_close(struct pricing *p);

/* Where the kernels send their records. */
const struct op_sink *pricing_sink(struct pricing *p);

/* Price everything pending into the run's ledger and the trace. */
int pricing_flush(struct pricing *p, struct e2_err *err);

/* Femtojoules the run's ledger holds (0 when unpriced). */
e2_fj pricing_run_fj(const struct pricing *p);

/* Start recording a new trace at `path` / continue the one a checkpoint (ckpt_path) left. */
int pricing_trace_create(struct pricing *p, const char *path, const struct trace_header *h,
                         struct e2_err *err);
int pricing_trace_resume(struct pricing *p, const char *path, const char *ckpt_path,
                         struct e2_err *err);
/* Hand the recording over (the caller finishes it); NULL when there is none. */
struct trace_writer *pricing_trace_take(struct pricing *p);

/* Checkpoint hooks. save: flush, then the trace's continuation and the "energy" section.
 * restore: the counts of the "energy" section re-priced into the (fresh) run ledger now; the
 * trace already holds them. */
int pricing_save(struct pricing *p, struct ckpt *c, struct e2_err *err);
int pricing_restore(struct pricing *p, const struct ckpt *c, const char *path,
                    struct e2_err *err);

/* The float32 SMB baseline into the baseline ledger: one iteration of fp32_net (float, no
 * technique, all samples and blocks, plain SGD) priced with repeat = iterations. The trace
 * gets its baseline stream only when with_trace (a resumed trace has it from the start). */
int pricing_price_baseline(struct pricing *p, struct net *fp32_net, int batch,
                           uint64_t iterations, int with_trace, const char *length,
                           struct e2_err *err);

/* The training loop's observer over p: energy after each iteration (priced only), curve
 * points as trace marks, and the checkpoint hooks above. */
struct train_observer;
struct train_observer pricing_observer(struct pricing *p);

/* Every distinct record of `a` priced once into `ledger` (NULL: not priced) with its run total
 * times `multiplier` as the repeat, and recorded in the trace's `stream` (trace may be NULL):
 * the float32 baseline and the energy-only mode's streams. A run whose counts would pass 2^64
 * is bad input; its message starts with `length` (train_length_text: the file and keys that
 * make the run that long) when that is not NULL. */
int pricing_price_totals(struct hw_model *model, struct hw_ledger *ledger,
                         const struct energy_acc *a, uint64_t multiplier,
                         struct trace_writer *trace, int stream, const char *length,
                         struct e2_err *err);

#endif
