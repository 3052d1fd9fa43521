/* Energy-only mode (training.mode: energy-only): the op stream of a training run generated from
 * statistics instead of training, priced on the hardware model against the float32 baseline,
 * written as the same reports a training run writes (accuracy null). For paper-scale what-ifs
 * (ResNet-74, 64k iterations, batch 128) in seconds, and for the calibration (sim/calibrate/calibrate.h).
 *
 * The statistics and how they become op records (docs/calibration.md, "Energy-only mode"):
 *   - SMD: of the `iterations` minibatches of the schedule, round(iterations * (1 - p)) are
 *     processed (nearest integer, halves up; computed as floor(x + 0.5)). A dropped minibatch
 *     emits nothing (with training.smd.momentum_on_skip: the momentum step's updates).
 *   - SLU: training.energy_only.slu_skip, one ratio for every gated block (every skippable block
 *     but the first; MobileNetV2: the inverted-residual blocks with an identity shortcut, as the
 *     network defines them) or one per gated block. Block b skips s_b * batch samples on average:
 *     floor or ceil of it per minibatch, mixed over the processed minibatches so the mean is
 *     exact up to the rounding of iteration counts.
 *   - Stochastic depth: the linearly decaying survival of kernels/optim.h's sd_survival at
 *     training.sd.skip_ratio; gated block b is dropped for a whole minibatch (all samples, no
 *     update) in a fraction 1 - survival_b of the processed minibatches.
 *   - PSG: every conv layer's full-precision fraction is 1 - training.energy_only.psg_predictor_ratio.
 *   - Precisions, optimizer and SWA come from training.method exactly as a training run
 *     takes them; SWA adds its averaging updates and approximates the BN re-estimation by the
 *     forward records of full minibatches.
 * The per-block mixtures become a few distinct "iteration kinds" (per-block active counts);
 * net_emit_iteration runs once per kind, and each record is counted with the kind's
 * iteration count as its repeat. Nothing is computed; only shapes come from net_create. */
#ifndef E2_ENERGY_ONLY_H
#define E2_ENERGY_ONLY_H

#include <stdint.h>
#include "config.h"
#include "energy.h"
#include "report.h"
#include "status.h"

struct net;
struct trace_layer;
struct hw_model;
struct hw_ledger;
struct trace_writer;

/* One kind of processed iteration: how many iterations run it and, per skippable block, how
 * many of the batch's samples execute the block (active[0] = batch: block 0 always runs). */
struct energy_only_kind {
    uint64_t count;
    int *active;            /* [blocks] */
};

/* What the statistics make of a run. */
struct energy_only_plan {
    int batch;
    int blocks;             /* skippable blocks of the net (block 0 included) */
    uint64_t iterations;    /* the schedule (training.iterations or from training.epochs) */
    uint64_t processed;     /* minibatches processed (not dropped by SMD) */
    int nkinds;
    struct energy_only_kind *kinds;    /* counts sum to processed */
    double psg_full_fraction;          /* 0 without PSG */
    uint64_t swa_updates;              /* SWA averaging steps (0 without SWA) */
    uint64_t bn_recompute_batches;     /* SWA's BN re-estimation forwards (0 without SWA) */
    double skip_ratio;                 /* achieved skipped fraction of gated block executions */
    double *block_skip;                /* [blocks - 1]: achieved per gated block */
};

/* SMD's rule: minibatches processed out of `iterations` at drop probability p. */
uint64_t energy_only_processed(uint64_t iterations, double p);

/* The mixture behind per-block statistics: gated block b (1..blocks-1) executes lo[b] samples
 * in a fraction frac_lo[b] of the processed iterations and hi[b] in the rest (block 0: batch).
 * Fills plan->kinds (largest-remainder apportionment of `processed`, ties to the earlier kind)
 * and the achieved skip ratios. Index 0 of the arrays is ignored. Returns 0 or -1 (memory). */
int energy_only_mixture(int blocks, int batch, uint64_t processed, const double *frac_lo,
                        const int *lo, const int *hi, struct energy_only_plan *plan);

/* The net a config describes (shapes from dataset.name; no data is read), with PSG and SLU
 * set as training would set them; fp32 != 0 gives the float32 baseline net instead. */
int energy_only_net(const struct e2_config *cfg, int fp32, struct net **out, struct e2_err *err);

/* The plan of cfg's run on `net` (from energy_only_net). */
int energy_only_plan_make(const struct e2_config *cfg, const struct net *net,
                          struct energy_only_plan *plan, struct e2_err *err);
void energy_only_plan_free(struct energy_only_plan *plan);

/* A run's op stream as distinct records with their totals (counting accumulators: nothing is
 * priced), and the float32 SMB baseline's stream (one fp32 iteration, repeat = iterations:
 * what pricing_price_baseline prices). Built once, priced on any number of hardware models. */
struct energy_only_stream {
    struct energy_acc run;
    struct energy_acc baseline;
    struct energy_only_plan plan;
    struct trace_layer *layers;   /* names and kinds by layer id (as a training run names them) */
    int nlayers;
    char network[64];       /* "resnet-74", "mobilenetv2-w32" (as a training run names them) */
    char dataset[64];       /* "cifar10" */
    char method[64];        /* "smd+slu+psg" */
    char length[CFG_STR + 96]; /* the file and keys that set the run's length (train_length_text) */
};

int energy_only_build(const struct e2_config *cfg, struct energy_only_stream *s,
                      struct e2_err *err);
/* The same on the run's net (from energy_only_net, borrowed: the caller frees it). */
int energy_only_build_on(const struct e2_config *cfg, struct net *net,
                         struct energy_only_stream *s, struct e2_err *err);
void energy_only_stream_free(struct energy_only_stream *s);

/* Price both streams on `model` into the ledgers (either may be NULL to skip it), each record
 * once with its total as the repeat; with trace != NULL also record them (TRACE_RUN and
 * TRACE_BASELINE). */
int energy_only_price(const struct energy_only_stream *s, struct hw_model *model,
                      struct hw_ledger *run, struct hw_ledger *baseline,
                      struct trace_writer *trace, struct e2_err *err);

/* 1 - run / baseline energy of cfg on the hardware cfg->hw (builds, prices, frees). */
int energy_only_savings(const struct e2_config *cfg, double *saving, struct e2_err *err);

/* The run's statistics into a report (kind "energy-only", no accuracy). */
int energy_only_fill_report(const struct e2_config *cfg, const struct energy_only_stream *s,
                            struct run_result *r);

#endif
