/* Optimizers and the schedules that decide what a step updates.
 *
 *   SGD      v = momentum * v + (g + weight_decay * w);  w -= lr * v        (PyTorch's SGD)
 *   SignSGD  the same with g replaced by sign(g) for conv weights
 *   PSG      the same with g replaced by Eq. 2 of the paper for conv weights:
 *              sign(g_w^msb[i])  where |g_w^msb[i]| >= tau,  else  sign(g_w[i])
 * Weight decay is added after taking signs (as the authors' code). Gates, the final FC and batch
 * norm always take the plain gradient. sign(0) = 0.
 *
 * PSG's choice needs both gradients of a conv layer, which exist only inside the network's
 * backward pass; net_backward calls psg_conv_signs (kernels/psg.h) there (so that the backward-weight op record
 * already carries the right full-path fraction) and leaves the chosen signs in the parameter's
 * grad (net_param.grad_is_sign = 1). optim_step then applies them like SignSGD.
 *
 * Also here: the stochastic-depth mask generator (Huang et al.). */
#ifndef E2_OPTIM_H
#define E2_OPTIM_H

#include <stdint.h>
#include "oprec.h"
#include "psg.h"

struct net_param;   /* kernels/net.h */

/* ---- optimizer ---- */

enum optim_rule {
    OPTIM_SGD = 0,
    OPTIM_SIGNSGD,   /* sign of the full gradient for conv weights */
    OPTIM_PSG        /* Eq. 2 signs (left in grad by net_backward) for conv weights */
};

struct optim_config {
    enum optim_rule rule;
    float momentum;        /* 0.9 */
    float weight_decay;    /* 1e-4, on every trained parameter */
};

struct optim;

/* Momentum buffers (zeroed) for the trainable parameters among p[0..np-1] (those with a grad).
 * NULL if out of memory. */
struct optim *optim_create(const struct net_param *p, int np, const struct optim_config *cfg);
void optim_free(struct optim *o);

/* Sign-updated weights (optim_uses_sign) step at lr * scale, the others at lr (default scale 1).
 * A sign step moves every weight by the same amount whatever its gradient, so its learning rate
 * is not the gradient rule's (docs/training.md, "Learning rates"). */
void optim_set_sign_lr_scale(struct optim *o, float scale);

/* One step at learning rate lr over the parameters given to optim_create (the same array).
 * Parameters whose `active` flag is 0 (their block ran on no sample) are left alone: no update,
 * no momentum step, no op record. Emits one OP_UPDATE record per updated tensor.
 * Returns 0, or -1 when the rule is PSG and a conv weight's grad does not hold PSG signs. */
int optim_step(struct optim *o, struct net_param *p, int np, float lr, const struct op_sink *sink);

/* The records optim_step would emit for these parameters (active ones only), without updating:
 * used by net_emit_iteration. */
void optim_emit_updates(const struct optim_config *cfg, const struct net_param *p, int np,
                        const struct op_sink *sink);

/* 1 if the rule takes the sign of this parameter's gradient. */
int optim_uses_sign(const struct optim_config *cfg, const struct net_param *p);

/* Momentum buffer of parameter i (count = p[i].count; NULL for untrained ones), for
 * checkpoints. */
float *optim_momentum(struct optim *o, int i);

/* ---- stochastic depth (Huang et al., 2016) ---- */

/* Linearly decaying survival over the L = nblocks - 1 skippable blocks (block 0 always runs):
 * p_l = 1 - (l / L) (1 - p_L) for block l = 1..L, survival[0] = 1. p_L is chosen so that the
 * mean skip ratio over the skippable blocks, (1 - p_L)(L + 1) / (2L), equals skip_ratio; when
 * skip_ratio is above (L + 1) / (2L) (p_L would be negative) p_L is 0 and the achieved ratio is
 * lower. Returns the mean skip ratio the schedule achieves. */
double sd_survival(int nblocks, double skip_ratio, float *survival);

/* One iteration's mask [block][sample] (1 = execute): each block survives with survival[b],
 * drawn once per minibatch (per_sample = 0, Huang et al.) or per sample, from
 * rng_key(rng_key(seed, RNG_STREAM_SD), iteration), counter = block (or block * n + sample). */
void sd_mask(const float *survival, int nblocks, int n, int per_sample, uint64_t seed,
             uint64_t iteration, uint8_t *mask);

#endif
