/* The training loop. See train.h and docs/training.md. */
#include "train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xmmintrin.h>

#include "loss.h"
#include "optim.h"
#include "rng.h"
#include "swa.h"

#define BN_RECOMPUTE_BATCHES 20   /* SWA's BN re-estimation: minibatches of training data */

/* ---------------------------------------------------------------- pure helpers ---------- */

void train_flush_denormals(void)
{
    /* MXCSR is per thread: set it here and in each thread of the OpenMP team the kernels use. */
    _mm_setcsr(_mm_getcsr() | 0x8040);   /* FTZ (bit 15) | DAZ (bit 6) */
#pragma omp parallel
    _mm_setcsr(_mm_getcsr() | 0x8040);
}

uint64_t train_total_iterations(const struct e2_config *cfg, int train_count)
{
    const struct cfg_training *tr = &cfg->training;
    if (tr->epochs > 0) {
        double it = ceil(tr->epochs * (double)train_count / (double)tr->batch_size);
        return it < 1 ? 1 : (uint64_t)it;
    }
    return (uint64_t)tr->iterations;
}

void train_length_text(const struct e2_config *cfg, char *buf, size_t size)
{
    const struct cfg_training *tr = &cfg->training;
    if (tr->epochs > 0)
        snprintf(buf, size, "%s: training.epochs = %g with training.batch_size = %d", cfg->source,
                 tr->epochs, tr->batch_size);
    else
        snprintf(buf, size, "%s: training.iterations = %d with training.batch_size = %d",
                 cfg->source, tr->iterations, tr->batch_size);
}

static uint64_t swa_start_iteration(const struct e2_config *cfg, uint64_t total)
{
    if (!cfg->training.swa.enabled)
        return total + 1;
    return (uint64_t)floor(cfg->training.swa.start * (double)total);
}

double train_lr_at(const struct e2_config *cfg, uint64_t total, uint64_t it)
{
    const struct cfg_training *tr = &cfg->training;
    if (tr->swa.enabled && tr->swa.lr > 0 && it >= swa_start_iteration(cfg, total))
        return tr->swa.lr;
    double lr = tr->lr;
    if (tr->lr_steps.n > 0) {
        for (int i = 0; i < tr->lr_steps.n; i++)
            if (it >= (uint64_t)tr->lr_steps.v[i])
                lr *= tr->lr_decay;
    } else {
        for (int i = 0; i < tr->lr_step_fractions.n; i++)
            if (it >= (uint64_t)llround(tr->lr_step_fractions.v[i] * (double)total))
                lr *= tr->lr_decay;
    }
    return lr;
}

int train_smd_drop(uint64_t seed, uint64_t it, double p)
{
    if (p <= 0)
        return 0;
    return rng_uniform(rng_key(seed, RNG_STREAM_SMD), it) < p;
}

/* The gates' decision rule, from training.slu.decision. */
static enum gate_decision slu_decision(const struct cfg_training *tr)
{
    switch (tr->slu.decision) {
    case CFG_SLU_MIXED: return GATE_MIXED;
    case CFG_SLU_THRESHOLD: return GATE_THRESHOLD;
    default: return GATE_BERNOULLI;
    }
}

int train_slu_sign(double executed_fraction, double target_skip)
{
    return executed_fraction <= 1.0 - target_skip ? -1 : +1;
}

/* Position s = it*batch + j lives in epoch s / count at place s % count of that epoch's
 * permutation; `perm_for` hands out the permutation of an epoch. */
static void batch_indices(uint32_t count, int batch, uint64_t it,
                          const uint32_t *(*perm_for)(void *ctx, uint64_t epoch), void *ctx,
                          uint32_t *idx)
{
    uint64_t s = it * (uint64_t)batch;
    for (int j = 0; j < batch; j++, s++)
        idx[j] = perm_for(ctx, s / count)[s % count];
}

struct one_perm {
    uint32_t count;
    uint64_t seed;
    uint32_t *perm;
    int64_t epoch;
};

static const uint32_t *one_perm_for(void *ctx, uint64_t epoch)
{
    struct one_perm *o = ctx;
    if (o->epoch != (int64_t)epoch) {
        ds_epoch_order(o->count, o->seed, epoch, o->perm);
        o->epoch = (int64_t)epoch;
    }
    return o->perm;
}

void train_batch_indices(uint32_t count, uint64_t seed, int batch, uint64_t it,
                         uint32_t *perm_scratch, uint32_t *idx)
{
    struct one_perm o = {count, seed, perm_scratch, -1};
    batch_indices(count, batch, it, one_perm_for, &o, idx);
}

/* The loop's cache keeps two epochs (a minibatch straddles at most two). */
static const uint32_t *train_perm_for(void *ctx, uint64_t epoch)
{
    struct train *t = ctx;
    for (int k = 0; k < 2; k++)
        if (t->perm_epoch[k] == (int64_t)epoch)
            return t->perm[k];
    int k = (t->perm_epoch[0] < t->perm_epoch[1]) ? 0 : 1;   /* replace the older epoch */
    ds_epoch_order((uint32_t)t->train_ds->count, (uint64_t)t->cfg->seed, epoch, t->perm[k]);
    t->perm_epoch[k] = (int64_t)epoch;
    return t->perm[k];
}

/* ---------------------------------------------------------------- setup ----------------- */

struct net_precision train_precision(const struct cfg_training *tr)
{
    struct net_precision prec;
    if (tr->base == CFG_BASE_FP32) {
        prec = net_precision_float();
    } else if (tr->base == CFG_BASE_FIXED8) {
        /* Banner et al. [15]: 8-bit activations and weights, 32-bit gradients. */
        prec = net_precision_fixed(8, 8, 32);
        prec.grad_weight = 32;
    } else {
        /* fixed, signsgd and psg train at training.precision (the paper: 8/8/16). */
        prec = net_precision_fixed(tr->precision.activations, tr->precision.weights,
                                   tr->precision.grad_output);
        prec.grad_weight = tr->precision.grad_weight;
        prec.accumulator = tr->precision.accumulator;
    }
    prec.stochastic = tr->precision.rounding == CFG_ROUND_STOCHASTIC;
    return prec;
}

enum optim_rule train_rule(const struct cfg_training *tr)
{
    if (tr->base == CFG_BASE_SIGNSGD)
        return OPTIM_SIGNSGD;
    if (tr->base == CFG_BASE_PSG)
        return OPTIM_PSG;
    return OPTIM_SGD;
}

static void *zalloc(size_t n, size_t size)
{
    return calloc(n ? n : 1, size);
}

int train_net_create(const struct e2_config *cfg, int c, int h, int w, int classes, int fp32,
                     struct net **out, struct e2_err *err)
{
    const struct cfg_training *tr = &cfg->training;
    struct net_precision prec = fp32 ? net_precision_float() : train_precision(tr);
    enum net_arch arch = cfg->network.arch == CFG_ARCH_MOBILENETV2 ? NET_MOBILENETV2 : NET_RESNET;
    struct net *net = NULL;
    *out = NULL;
    if (net_create(arch, cfg->network.depth, cfg->network.width, c, h, w, classes,
                   cfg->network.skip_stage_entry ? NET_DEFAULT : NET_FIXED_STAGE_ENTRY, &prec,
                   (uint64_t)cfg->seed, &net) != 0)
        return e2_fail(err, E2_BAD_INPUT, "%s: cannot build %s-%d (width %d) for %dx%dx%d "
                       "inputs (bad depth, or out of memory)", cfg->source,
                       cfg_arch_names[cfg->network.arch],
                       cfg->network.depth, cfg->network.width, c, h, w);
    int rc = E2_OK;
    if (!fp32 && tr->psg.enabled) {
        struct psg_config pc = {
            .msb_x = tr->psg.msb_x, .msb_g = tr->psg.msb_g,
            .tau_mode = tr->psg.tau_mode == CFG_TAU_GY      ? PSG_TAU_GY
                        : tr->psg.tau_mode == CFG_TAU_FIXED ? PSG_TAU_FIXED
                                                            : PSG_TAU_GW,
            .beta = (float)tr->psg.beta, .tau = (float)tr->psg.tau,
        };
        if (net_set_psg(net, &pc) != 0)
            rc = e2_fail(err, E2_BAD_INPUT, "%s: PSG needs fixed-point activations and output "
                         "gradients (training.precision)", cfg->source);
    }
    if (rc == E2_OK && !fp32 && tr->slu.enabled && net_blocks(net) < 2)
        rc = e2_fail(err, E2_BAD_INPUT, "%s: SLU needs a gated block (a skippable block after "
                     "the first); this network has none", cfg->source);
    if (rc == E2_OK && !fp32 && tr->slu.enabled && net_set_slu(net, 1, slu_decision(tr)) != 0)
        rc = e2_fail(err, E2_FAILURE, "out of memory building the SLU gates");
    if (rc != E2_OK) {
        net_free(net);
        return rc;
    }
    net_set_fc_only(net, !fp32 && tr->finetune_last_fc_only);
    *out = net;
    return E2_OK;
}

static int open_state(struct train *t, const struct e2_config *cfg, const struct dataset *train_ds,
                      const struct dataset *test_ds, struct e2_err *err)
{
    memset(t, 0, sizeof *t);
    t->cfg = cfg;
    t->train_ds = train_ds;
    t->test_ds = test_ds;
    t->batch = cfg->training.batch_size;
    t->total = train_total_iterations(cfg, train_ds->count);
    t->swa_start = swa_start_iteration(cfg, t->total);
    t->perm_epoch[0] = t->perm_epoch[1] = -1;
    t->top1 = t->top5 = NAN;
    t->last_loss = NAN;
    t->normalize = cfg->dataset.normalize;
    if (t->normalize)
        ds_compute_norm(train_ds, &t->norm);

    train_flush_denormals();

    int rc = train_net_create(cfg, train_ds->channels, train_ds->height, train_ds->width,
                              train_ds->classes, 0, &t->net, err);
    if (rc != E2_OK)
        return rc;
    const struct cfg_training *tr = &cfg->training;
    t->np = net_params(t->net, &t->p);
    t->blocks = net_blocks(t->net);
    t->ocfg.rule = train_rule(&cfg->training);
    t->ocfg.momentum = (float)tr->momentum;
    t->ocfg.weight_decay = (float)tr->weight_decay;
    t->opt = optim_create(t->p, t->np, &t->ocfg);
    if (tr->sign_lr > 0 && tr->lr > 0)
        optim_set_sign_lr_scale(t->opt, (float)(tr->sign_lr / tr->lr));
    if (tr->swa.enabled)
        t->swa = swa_create(t->p, t->np);

    size_t img = (size_t)train_ds->channels * train_ds->height * train_ds->width;
    t->x = malloc((size_t)t->batch * img * sizeof *t->x);
    t->labels = zalloc((size_t)t->batch, sizeof *t->labels);
    t->idx = zalloc((size_t)t->batch, sizeof *t->idx);
    t->perm[0] = zalloc((size_t)train_ds->count, sizeof(uint32_t));
    t->perm[1] = zalloc((size_t)train_ds->count, sizeof(uint32_t));
    t->block_exec = zalloc((size_t)t->blocks, sizeof(uint64_t));
    t->block_seen = zalloc((size_t)t->blocks, sizeof(uint64_t));
    t->psg_count = zalloc((size_t)t->np, sizeof(uint64_t));
    t->psg_predictor = zalloc((size_t)t->np, sizeof(uint64_t));
    t->psg_flips = zalloc((size_t)t->np, sizeof(uint64_t));
    int ok = t->opt && (!tr->swa.enabled || t->swa) && t->x && t->labels && t->idx &&
             t->perm[0] && t->perm[1] && t->block_exec && t->block_seen && t->psg_count &&
             t->psg_predictor && t->psg_flips;
    if (ok && tr->sd.enabled) {
        t->sd_survival = zalloc((size_t)t->blocks, sizeof(float));
        t->sd_mask = zalloc((size_t)t->blocks * t->batch, 1);
        ok = t->sd_survival && t->sd_mask;
        if (ok) {
            sd_survival(t->blocks, tr->sd.skip_ratio, t->sd_survival);
            ok = net_set_eval_scale(t->net, t->sd_survival) == 0;
        }
    }
    if (ok && tr->slu.enabled) {
        t->gate_dm = zalloc((size_t)t->blocks * t->batch, sizeof(float));
        t->block_macs = zalloc((size_t)t->blocks, sizeof(uint64_t));
        ok = t->gate_dm && t->block_macs;
        for (int b = 0; ok && b < t->blocks; b++)
            t->block_macs[b] = net_block_macs(t->net, b);
    }
    if (!ok)
        return e2_fail(err, E2_FAILURE, "out of memory setting up training");

    if (tr->finetune_from[0])
        return train_load_finetune(t, tr->finetune_from, err);
    return E2_OK;
}

int train_open(struct train *t, const struct e2_config *cfg, const struct dataset *train_ds,
               const struct dataset *test_ds, struct e2_err *err)
{
    int rc = open_state(t, cfg, train_ds, test_ds, err);
    if (rc != E2_OK)
        train_close(t);   /* callers close only what opened */
    return rc;
}

void train_close(struct train *t)
{
    swa_free(t->swa);
    optim_free(t->opt);
    net_free(t->net);
    free(t->sd_survival);
    free(t->sd_mask);
    free(t->gate_dm);
    free(t->block_macs);
    free(t->x);
    free(t->labels);
    free(t->idx);
    free(t->perm[0]);
    free(t->perm[1]);
    free(t->block_exec);
    free(t->block_seen);
    free(t->psg_count);
    free(t->psg_predictor);
    free(t->psg_flips);
    free(t->curve);
    memset(t, 0, sizeof *t);
}

/* ---------------------------------------------------------------- one iteration --------- */

static int is_fc(const struct net_param *p)
{
    return p->kind == NET_PARAM_FC;
}

/* SMD's optional momentum step on a dropped minibatch: a step with zero gradients, as the
 * authors' code did by accident of PyTorch (zero_grad then step). */
static int momentum_step_on_drop(struct train *t, float lr, const struct op_sink *sink)
{
    for (int i = 0; i < t->np; i++) {
        struct net_param *p = &t->p[i];
        if (!p->grad)
            continue;
        memset(p->grad, 0, (size_t)p->count * sizeof *p->grad);
        p->active = !t->cfg->training.finetune_last_fc_only || is_fc(p);
        p->grad_is_sign = 1;   /* zero is a valid sign for the PSG rule */
    }
    return optim_step(t->opt, t->p, t->np, lr, sink);
}

/* Samples of the batch that execute gated block b. */
static int block_executed(const uint8_t *mask, int b, int n)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        k += mask[(size_t)b * n + i] != 0;
    return k;
}

/* The SLU cost term's gradient dL/dm[b][i] = sign * alpha * macs_b / (n * sum_b macs_b):
 * C(W,G) is the executed fraction of the gated blocks' computation, averaged over the batch,
 * so each sample's share carries 1/n, as the cross-entropy's (the mean over the batch).
 * The sign holds target_skip over the gated blocks together, or with per_block in each block
 * on its own: then no block can be dropped for every input (issue 13: at 1954 minibatches the
 * network-wide target let the gates drop all of ResNet-20's last stage). */
void train_slu_cost_gradient(const uint64_t *macs, int blocks, const uint8_t *mask, int n,
                             double alpha, double target_skip, int per_block, float *dm)
{
    double gated = 0, executed = 0;
    for (int b = 1; b < blocks; b++) {
        gated += (double)macs[b] * n;
        executed += (double)macs[b] * block_executed(mask, b, n);
    }
    memset(dm, 0, (size_t)blocks * n * sizeof *dm);
    if (gated <= 0)
        return;
    int sign = train_slu_sign(executed / gated, target_skip);
    for (int b = 1; b < blocks; b++) {
        if (per_block)
            sign = train_slu_sign((double)block_executed(mask, b, n) / n, target_skip);
        for (int i = 0; i < n; i++)
            dm[(size_t)b * n + i] = (float)(sign * alpha * (double)macs[b] / gated);
    }
}

static void slu_cost_gradient(struct train *t, int n)
{
    const struct cfg_slu *slu = &t->cfg->training.slu;
    train_slu_cost_gradient(t->block_macs, t->blocks, net_block_mask(t->net), n, slu->alpha,
                            slu->target_skip, slu->target_scope == CFG_SLU_SCOPE_BLOCK,
                            t->gate_dm);
}

static void count_blocks(struct train *t, int n)
{
    const uint8_t *m = net_block_mask(t->net);
    for (int b = 0; b < t->blocks; b++) {
        t->block_exec[b] += (uint64_t)block_executed(m, b, n);
        t->block_seen[b] += (uint64_t)n;
    }
}

static void count_psg(struct train *t)
{
    if (!t->cfg->training.psg.enabled)
        return;
    for (int i = 0; i < t->np; i++) {
        const struct net_param *p = &t->p[i];
        if (p->kind != NET_PARAM_CONV || !p->active || !p->grad_is_sign)
            continue;
        t->psg_count[i] += (uint64_t)p->psg.count;
        t->psg_predictor[i] += (uint64_t)p->psg.predictor;
        t->psg_flips[i] += (uint64_t)p->psg.flips;
    }
}

/* Iteration it's minibatch of training data into t->x, t->labels, augmented as configured. SWA's
 * BN re-estimation reads its batches this way too: statistics of unaugmented images differ from
 * those the network trained on (padded crops hold black borders), and evaluating with them cost
 * 3.6-4 points on CIFAR-10 (docs/training.md, "SWA's BN re-estimation"). */
static void load_train_batch(struct train *t, uint64_t it)
{
    const struct e2_config *cfg = t->cfg;
    uint64_t aug_key = rng_key(rng_key((uint64_t)cfg->seed, RNG_STREAM_AUGMENT), it);
    batch_indices((uint32_t)t->train_ds->count, t->batch, it, train_perm_for, t, t->idx);
    ds_batch(t->train_ds, t->normalize ? &t->norm : NULL, t->idx, t->batch, cfg->dataset.augment,
             aug_key, t->x, t->labels);
}

int train_step(struct train *t, const struct op_sink *sink, struct e2_err *err)
{
    const struct e2_config *cfg = t->cfg;
    const struct cfg_training *tr = &cfg->training;
    uint64_t it = t->next;
    uint64_t seed = (uint64_t)cfg->seed;
    float lr = (float)train_lr_at(cfg, t->total, it);
    int n = t->batch;

    net_set_iteration(t->net, it);
    if (tr->smd.enabled && train_smd_drop(seed, it, tr->smd.p)) {
        /* A dropped minibatch costs nothing: no load, no compute, no update, no records. */
        t->smd_dropped++;
        if (tr->smd.momentum_on_skip && momentum_step_on_drop(t, lr, sink) != 0)
            return e2_fail(err, E2_FAILURE, "iteration %llu: optimizer step failed",
                           (unsigned long long)it);
    } else {
        load_train_batch(t, it);

        const uint8_t *mask = NULL;
        if (tr->sd.enabled) {
            sd_mask(t->sd_survival, t->blocks, n, 0, seed, it, t->sd_mask);
            mask = t->sd_mask;
        }
        if (!net_forward(t->net, t->x, n, mask, sink, NET_TRAIN))
            return e2_fail(err, E2_FAILURE, "iteration %llu: forward pass failed (out of "
                           "memory?)", (unsigned long long)it);
        const float *dlogits;
        double loss = net_loss(t->net, t->labels, &dlogits, sink);
        if (tr->slu.enabled)
            slu_cost_gradient(t, n);
        if (net_backward(t->net, dlogits, tr->slu.enabled ? t->gate_dm : NULL, sink) != 0)
            return e2_fail(err, E2_FAILURE, "iteration %llu: backward pass failed",
                           (unsigned long long)it);
        count_psg(t);
        count_blocks(t, n);
        if (optim_step(t->opt, t->p, t->np, lr, sink) != 0)
            return e2_fail(err, E2_FAILURE, "iteration %llu: optimizer step failed",
                           (unsigned long long)it);
        t->minibatches++;
        t->last_loss = loss;
        t->loss_sum += loss;
        t->loss_n++;
        if (!isfinite(loss))
            return e2_fail(err, E2_FAILURE, "iteration %llu: the loss is %g: training "
                           "diverged (learning rate too high?)", (unsigned long long)it, loss);
    }
    if (t->swa && it >= t->swa_start && (it - t->swa_start) % (uint64_t)tr->swa.every == 0)
        swa_update(t->swa, t->p, t->np, sink);
    t->next = it + 1;
    return E2_OK;
}

/* ---------------------------------------------------------------- evaluation ------------ */

int train_evaluate(struct train *t, double *top1, double *top5, struct e2_err *err)
{
    const struct dataset *ds = t->test_ds;
    int classes = net_classes(t->net);
    long hits1 = 0, hits5 = 0;
    for (int start = 0; start < ds->count; start += t->batch) {
        int n = ds->count - start < t->batch ? ds->count - start : t->batch;
        for (int j = 0; j < n; j++)
            t->idx[j] = (uint32_t)(start + j);
        ds_batch(ds, t->normalize ? &t->norm : NULL, t->idx, n, 0, 0, t->x, t->labels);
        const float *logits = net_forward(t->net, t->x, n, NULL, NULL, NET_EVAL);
        if (!logits)
            return e2_fail(err, E2_FAILURE, "evaluation: forward pass failed");
        hits1 += loss_topk_hits(n, classes, logits, t->labels, 1);
        hits5 += loss_topk_hits(n, classes, logits, t->labels, classes < 5 ? classes : 5);
    }
    *top1 = ds->count ? (double)hits1 / ds->count : NAN;
    *top5 = ds->count ? (double)hits5 / ds->count : NAN;
    return E2_OK;
}

static int add_point(struct train *t, e2_fj energy_fj, double top1, double top5)
{
    if (t->curve_n == t->curve_cap) {
        int cap = t->curve_cap ? 2 * t->curve_cap : 32;
        struct train_point *c = realloc(t->curve, (size_t)cap * sizeof *c);
        if (!c)
            return -1;
        t->curve = c;
        t->curve_cap = cap;
    }
    struct train_point *pt = &t->curve[t->curve_n++];
    pt->iteration = t->next;
    pt->energy_fj = energy_fj;
    pt->train_loss = t->loss_n ? t->loss_sum / (double)t->loss_n : NAN;
    pt->top1 = top1;
    pt->top5 = top5;
    t->loss_sum = 0;
    t->loss_n = 0;
    return 0;
}

/* The energy spent so far, from the observer (0 when the run is not priced). */
static int energy_now(const struct train_io *io, e2_fj *fj, struct e2_err *err)
{
    *fj = 0;
    const struct train_observer *o = io->observer;
    return o && o->energy ? o->energy(o->ctx, fj, err) : E2_OK;
}

static int priced(const struct train_io *io)
{
    return io->observer && io->observer->energy;
}

static void point_added(const struct train *t, const struct train_io *io)
{
    if (io->observer && io->observer->on_point)
        io->observer->on_point(io->observer->ctx, &t->curve[t->curve_n - 1]);
}

/* SWA's end: the averaged weights with batch-norm statistics recomputed on training data
 * (records tagged OP_TECH_SWA by the net), continuing the data order past the last iteration. */
static int swa_finish(struct train *t, const struct op_sink *sink, struct e2_err *err)
{
    if (swa_swap(t->swa, t->p, t->np) != 0)
        return e2_fail(err, E2_FAILURE, "SWA: no averaged weights to swap in");
    net_bn_reset(t->net);
    uint64_t batches = (uint64_t)t->train_ds->count / (uint64_t)t->batch;
    if (batches > BN_RECOMPUTE_BATCHES)
        batches = BN_RECOMPUTE_BATCHES;
    if (batches == 0)
        batches = 1;
    for (uint64_t k = 0; k < batches; k++) {
        uint64_t it = t->total + k;
        net_set_iteration(t->net, it);
        load_train_batch(t, it);
        if (!net_forward(t->net, t->x, t->batch, NULL, sink, NET_BN_RECOMPUTE))
            return e2_fail(err, E2_FAILURE, "SWA: batch-norm re-estimation failed");
    }
    return E2_OK;
}

int train_run(struct train *t, const struct train_io *io, struct e2_err *err)
{
    const struct cfg_training *tr = &t->cfg->training;
    double t0 = progress_now(), wall0 = t->wall_seconds;
    uint64_t ran = 0;
    int rc;
    while (t->next < t->total) {
        if (io->stop_after && ran == io->stop_after)
            return E2_OK;
        if ((rc = train_step(t, io->sink, err)) != E2_OK)
            return rc;
        ran++;
        t->wall_seconds = wall0 + (progress_now() - t0);
        e2_fj fj;
        if ((rc = energy_now(io, &fj, err)) != E2_OK)
            return rc;
        int last = t->next == t->total;
        if (!last && tr->eval_every > 0 && t->next % (uint64_t)tr->eval_every == 0) {
            double top1, top5;
            if ((rc = train_evaluate(t, &top1, &top5, err)) != E2_OK)
                return rc;
            if (add_point(t, fj, top1, top5) != 0)
                return e2_fail(err, E2_FAILURE, "out of memory");
            point_added(t, io);
            t->top1 = top1;
            t->top5 = top5;
        }
        if (io->progress)
            progress_update(io->progress, t->next, t->last_loss, t->top1,
                            priced(io) ? (double)fj * 1e-15 : NAN);
        int due = tr->checkpoint_every > 0 && t->next % (uint64_t)tr->checkpoint_every == 0;
        if (io->checkpoint_path && (due || last) &&
            (rc = train_save(t, io->checkpoint_path, io->observer, err)) != E2_OK)
            return rc;
    }

    /* The end: SWA's weights (if any were averaged), final evaluation, last curve point. */
    if (t->swa && swa_models(t->swa) > 0 && (rc = swa_finish(t, io->sink, err)) != E2_OK)
        return rc;
    double top1, top5;
    if ((rc = train_evaluate(t, &top1, &top5, err)) != E2_OK)
        return rc;
    t->top1 = top1;
    t->top5 = top5;
    t->evaluated = 1;
    e2_fj fj;
    if ((rc = energy_now(io, &fj, err)) != E2_OK)
        return rc;
    if (add_point(t, fj, top1, top5) != 0)
        return e2_fail(err, E2_FAILURE, "out of memory");
    point_added(t, io);
    if (io->progress)
        progress_finish(io->progress, t->next, t->last_loss, t->top1,
                        priced(io) ? (double)fj * 1e-15 : NAN);
    t->wall_seconds = wall0 + (progress_now() - t0);
    return E2_OK;
}

/* ---------------------------------------------------------------- summaries ------------- */

double train_skip_ratio(const struct train *t)
{
    uint64_t ex = 0, seen = 0;
    for (int b = 1; b < t->blocks; b++) {
        ex += t->block_exec[b];
        seen += t->block_seen[b];
    }
    return seen ? 1.0 - (double)ex / (double)seen : 0.0;
}

int train_block_skip(const struct train *t, double *skip, int max)
{
    for (int b = 1; b < t->blocks && b - 1 < max; b++)
        skip[b - 1] = t->block_seen[b]
                          ? 1.0 - (double)t->block_exec[b] / (double)t->block_seen[b] : 0.0;
    return t->blocks > 0 ? t->blocks - 1 : 0;
}

double train_psg_predictor_ratio(const struct train *t)
{
    uint64_t c = 0, p = 0;
    for (int i = 0; i < t->np; i++) {
        c += t->psg_count[i];
        p += t->psg_predictor[i];
    }
    return c ? (double)p / (double)c : NAN;
}

double train_psg_flip_rate(const struct train *t)
{
    uint64_t c = 0, f = 0;
    for (int i = 0; i < t->np; i++) {
        c += t->psg_count[i];
        f += t->psg_flips[i];
    }
    return c ? (double)f / (double)c : NAN;
}
