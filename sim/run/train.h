/* The training loop: SMB, SMD, SLU, stochastic depth, PSG / SignSGD / fixed-point / float bases,
 * SWA; evaluation, curve points, checkpoints and resume. See docs/training.md.
 *
 * Everything random is counter-based (kernels/rng.h) and keyed by the seed and the iteration:
 * the data order (sample position it*batch + j in the epoch permutations), augmentation, SMD's
 * drops, SLU's Bernoulli decisions, stochastic depth and stochastic rounding. So the iteration
 * number is the whole RNG position and a resumed run repeats an uninterrupted one bit for bit.
 *
 * Op records go to the sink given in train_io (normally the run's pricing object); the loop
 * never prints: it drives the progress object it is given, tells its observer about energy,
 * curve points and checkpoints, and returns a status. */
#ifndef E2_TRAIN_H
#define E2_TRAIN_H

#include <stdint.h>
#include "checkpoint.h"
#include "config.h"
#include "dataset.h"
#include "fj.h"
#include "net.h"
#include "progress.h"
#include "status.h"

struct swa;

#define TRAIN_CKPT_FILE "checkpoint.e2ck"

/* One evaluation point (the curve). */
struct train_point {
    uint64_t iteration;
    e2_fj energy_fj;      /* energy spent so far (0 without an energy callback) */
    double train_loss;       /* mean cross-entropy of the minibatches since the last point */
    double top1, top5;       /* test accuracy (fractions) */
};

/* Who watches the loop (every member may be NULL): the run wires its pricing object here, so
 * the loop never touches the energy accounting itself. */
struct train_observer {
    void *ctx;
    /* After each iteration and at the end: the energy spent so far (pricing what is pending).
     * NULL: the run is not priced (curve points carry 0, the progress line no joules). */
    int (*energy)(void *ctx, e2_fj *fj, struct e2_err *err);
    void (*on_point)(void *ctx, const struct train_point *p);   /* after each curve point */
    /* A checkpoint being written (add the observer's sections) or resumed (take them). */
    int (*save)(void *ctx, struct ckpt *c, struct e2_err *err);
    int (*restore)(void *ctx, const struct ckpt *c, const char *path, struct e2_err *err);
};

/* What the loop talks to; every member may be NULL / 0. */
struct train_io {
    const struct op_sink *sink;          /* op records of the run */
    const struct train_observer *observer;
    struct progress *progress;
    const char *checkpoint_path;         /* where checkpoints go (NULL: none) */
    uint64_t stop_after;                 /* tests: return E2_OK after this many iterations of
                                            this call (0 = run to the end) */
};

struct train {
    const struct e2_config *cfg;
    const struct dataset *train_ds, *test_ds;
    struct ds_norm norm;
    int normalize;

    struct net *net;
    struct net_param *p;
    int np;
    struct optim_config ocfg;
    struct optim *opt;
    struct swa *swa;
    int blocks;                  /* net_blocks */
    float *sd_survival;          /* [blocks] with stochastic depth */
    uint8_t *sd_mask;            /* [blocks][batch] */
    float *gate_dm;              /* [blocks][batch] with SLU */
    uint64_t *block_macs;        /* [blocks] with SLU: net_block_macs */

    int batch;
    uint64_t total;              /* iterations of the run */
    uint64_t swa_start;          /* first SWA iteration (total+1 without SWA) */
    uint64_t next;               /* next iteration to run (0-based) */

    /* data buffers and the cached epoch permutations */
    float *x;
    int *labels;
    uint32_t *idx;
    uint32_t *perm[2];
    int64_t perm_epoch[2];

    /* statistics (all restored on resume) */
    uint64_t minibatches;        /* processed, i.e. not dropped by SMD */
    uint64_t smd_dropped;
    uint64_t *block_exec;        /* [blocks] sample executions */
    uint64_t *block_seen;        /* [blocks] samples that reached the block */
    uint64_t *psg_count, *psg_predictor, *psg_flips;   /* [np] over the run */
    double loss_sum;             /* since the last curve point */
    uint64_t loss_n;
    double last_loss;
    struct train_point *curve;
    int curve_n, curve_cap;

    /* final results */
    double top1, top5;
    int evaluated;
    double wall_seconds;
};

/* Build the net, optimizer and technique state for cfg (training.base, smd/slu/sd/psg/swa flags)
 * on these data sets (borrowed; they must outlive t). With training.finetune_from, the weights
 * come from that checkpoint (all of them if shapes match; a final FC of another shape stays
 * fresh). FTZ/DAZ are set for the calling thread and the OpenMP team. */
/* The number formats and the optimizer rule that training.base (fp32, fixed8, fixed, signsgd,
 * psg) trains with: one definition for training runs and the energy-only mode. */
struct net_precision train_precision(const struct cfg_training *tr);
enum optim_rule train_rule(const struct cfg_training *tr);

/* The network cfg trains on c x h x w inputs with `classes` outputs: its architecture, the
 * precision of training.base, and PSG, SLU and last-layer fine-tuning as the config sets them;
 * fp32 != 0 gives the float32 SMB baseline's network instead (float, no technique). One
 * definition for training runs, the float32 baseline and the energy-only mode. */
int train_net_create(const struct e2_config *cfg, int c, int h, int w, int classes, int fp32,
                     struct net **out, struct e2_err *err);

/* The iteration a checkpoint file resumes from, or -1 when it cannot be read (yet). */
int64_t train_checkpoint_next(const char *path);

int train_open(struct train *t, const struct e2_config *cfg, const struct dataset *train_ds,
               const struct dataset *test_ds, struct e2_err *err);
void train_close(struct train *t);

/* Continue from a checkpoint written by train_save for the same config: weights, momentum,
 * BN statistics, SWA, gates, iteration and statistics (and what the observer's restore hook,
 * when there is one, takes back: the ledger's record counts). */
int train_resume(struct train *t, const char *path, const struct train_observer *obs,
                 struct e2_err *err);

/* training.finetune_from: copy the parameters of the checkpoint at path whose names and sizes
 * match (all of them but a final FC of another shape). train_open calls it. */
int train_load_finetune(struct train *t, const char *path, struct e2_err *err);

/* Write the current state to path atomically (with the observer's save hook's sections). */
int train_save(struct train *t, const char *path, const struct train_observer *obs,
               struct e2_err *err);

/* Run the remaining iterations, checkpointing every training.checkpoint_every and at the end,
 * evaluating every training.eval_every and at the end; then SWA's averaged weights with
 * recomputed BN statistics (when SWA averaged anything) and the final evaluation. */
int train_run(struct train *t, const struct train_io *io, struct e2_err *err);

/* One iteration (it = t->next), then t->next++. */
int train_step(struct train *t, const struct op_sink *sink, struct e2_err *err);

/* Test-set top-1 and top-5 (fractions) with the net's current weights; no op records. */
int train_evaluate(struct train *t, double *top1, double *top5, struct e2_err *err);

/* ---- summaries ---- */

/* Fraction of gated-block sample executions skipped (blocks 1..B-1), overall and per block
 * (skip[b - 1] for gated block b; returns the count B - 1). */
double train_skip_ratio(const struct train *t);
int train_block_skip(const struct train *t, double *skip, int max);
/* PSG: fraction of conv-weight updates whose sign came from the predictor, and of those whose
 * sign differs from the full-path gradient's; NaN without PSG. Per parameter with *_at. */
double train_psg_predictor_ratio(const struct train *t);
double train_psg_flip_rate(const struct train *t);

/* ---- pure helpers (tested directly) ---- */

/* Iterations of the run: training.epochs > 0 gives ceil(epochs * train_count / batch). */
uint64_t train_total_iterations(const struct e2_config *cfg, int train_count);
/* The file and keys that set how much a run counts, for a message about a run too long to
 * count: "FILE: training.iterations = N with training.batch_size = B" (or training.epochs). */
void train_length_text(const struct e2_config *cfg, char *buf, size_t size);
/* The learning rate at iteration it: lr * lr_decay^(steps passed), steps from lr_steps or
 * lr_step_fractions * total; SWA's constant lr from its start on; SMD does not move it. */
double train_lr_at(const struct e2_config *cfg, uint64_t total, uint64_t it);
/* Whether SMD drops minibatch `it` (stream RNG_STREAM_SMD keyed by the seed, counter it). */
int train_smd_drop(uint64_t seed, uint64_t it, double p);
/* The authors' control of the SLU cost term: -1 (favour computing) while the executed fraction
 * of gated computation is at or below 1 - target_skip, +1 (favour skipping) above it. */
int train_slu_sign(double executed_fraction, double target_skip);
/* The SLU cost term's gradient dL/dm [blocks][n] for the decisions mask [blocks][n] (block 0 is
 * not gated: 0): sign * alpha * macs[b] / (n * sum over gated blocks of macs), the derivative of
 * sign * alpha * C with C the executed fraction of the gated MACs averaged over the batch.
 * The sign is train_slu_sign of the gated blocks' executed fraction together, or with
 * per_block of each block's own (training.slu.target_scope). */
void train_slu_cost_gradient(const uint64_t *macs, int blocks, const uint8_t *mask, int n,
                             double alpha, double target_skip, int per_block, float *dm);
/* Sample indices of minibatch `it`: positions it*batch + j walk the per-epoch permutations. */
void train_batch_indices(uint32_t count, uint64_t seed, int batch, uint64_t it,
                         uint32_t *perm_scratch, uint32_t *idx);

/* Sets FTZ and DAZ in MXCSR on this thread and every OpenMP thread. */
void train_flush_denormals(void);

#endif
