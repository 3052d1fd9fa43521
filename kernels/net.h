/* Networks: CIFAR ResNet-(6n+2) with basic blocks and MobileNetV2 for 32x32 inputs, trained
 * forward/backward in float or bit-accurate fixed point, with residual blocks that SLU gates or
 * stochastic depth may skip per sample (skipped samples are really not computed).
 *
 * A network is a plain list of blocks; a block is a list of conv units (conv -> BN -> optional
 * activation) plus a shortcut (none, identity, or projection = 1x1 conv + BN) and an optional
 * activation after the residual add. ResNet: stem block, 3n basic blocks, head (pool, FC).
 * MobileNetV2: stem, 17 inverted residual blocks, the 1x1 conv to 1280 channels, head.
 *
 * Precision: one net_precision for the whole net. Quantization points are the inputs (x, w)
 * of every conv and the gradients entering its backward-data and backward-weight passes.
 * Batch norm, activations, the residual add, pooling, the final FC and the SLU gates stay float
 * (as the authors did). See docs/networks.md.
 *
 * Skipping: block b executes sample i when mask[b * n + i] != 0. A block with a shortcut that
 * skips sample i outputs shortcut(x_i) for it (SkipNet: the projection still runs on every
 * sample); its branch, add and activation run on the k active samples only, gathered into a
 * k-sample batch: their op records carry n = k, and a block nobody executes emits none.
 * Block 0 (the first residual block) always runs, as do blocks without an identity or
 * projection shortcut (the stem, MobileNetV2's non-residual blocks).
 *
 * Functions return 0 on success, -1 on bad arguments or out of memory (kernels never print). */
#ifndef E2_NET_H
#define E2_NET_H

#include <stddef.h>
#include <stdint.h>
#include "oprec.h"
#include "fixed.h"
#include "gate.h"
#include "optim.h"
#include "psg.h"

enum net_arch { NET_RESNET = 0, NET_MOBILENETV2 };

/* Word lengths per tensor class; 32 = IEEE float (that class is not quantized). */
struct net_precision {
    int activations;   /* conv inputs x (unsigned when the tensor has no negative value) */
    int weights;       /* conv weights, per output channel scale */
    int grad_output;   /* g_y entering conv backward passes, per tensor scale */
    int grad_weight;   /* g_w after backward-weight (requantized when < 32) */
    int accumulator;   /* integer accumulator width (48 = DSP48E1); overflows are counted */
    int stochastic;    /* 1: stochastic rounding for every quantized class; 0: nearest */
};

/* The float32 baseline and the paper's 8/8/16 setting. */
struct net_precision net_precision_float(void);
struct net_precision net_precision_fixed(int act_bits, int weight_bits, int grad_bits);

enum net_param_kind {
    NET_PARAM_CONV = 0,    /* conv weights (the ones sign rules apply to) */
    NET_PARAM_FC,          /* final FC weight or bias */
    NET_PARAM_BN,          /* BN gamma or beta */
    NET_PARAM_GATE,        /* SLU gate weights (all of them, shared LSTM included) */
    NET_PARAM_BN_RUNNING   /* BN running mean or variance: state, not trained (grad NULL) */
};

/* One parameter tensor. The optimizer, SWA and checkpoints walk the list net_params returns. */
struct net_param {
    char name[48];         /* e.g. "b3.u1.conv.w", "fc.b", "gate.lstm.w_ih" (stable: checkpoints) */
    float *w;              /* values (float master copy) */
    float *grad;           /* dL/dw from the last net_backward; NULL for state */
    long count;
    int kind;              /* enum net_param_kind */
    uint16_t layer;        /* op-record layer id of the layer that owns it */
    uint8_t tech;          /* OP_TECH_BASE or OP_TECH_SLU (gates) */
    /* Shape for the update record: count = cout * cin * k * k / groups. */
    uint16_t cout, cin, groups;
    uint8_t k;
    uint8_t bits_w, bits_grad;    /* widths of the stored weight and its gradient (records) */
    int active;            /* 1 if the last backward gave it a gradient (its block ran) */
    int grad_is_sign;      /* 1 if grad holds PSG's Eq. 2 signs (-1/0/+1) from the last backward */
    struct psg_stats psg;  /* PSG figures of the last backward (conv weights with PSG on) */
};

/* Fills one table entry (zeroing the rest); tech follows kind (gates are OP_TECH_SLU) and a
 * parameter is active when it has a gradient. */
void net_param_init(struct net_param *q, const char *name, float *w, float *grad, long count,
                    int kind, uint16_t layer, int cout, int cin, int groups, int k, int bits_w,
                    int bits_grad);

enum net_mode {
    NET_EVAL = 0,          /* running BN statistics, gates decide by p > 0.5, nothing saved */
    NET_TRAIN = 1,         /* batch statistics, running stats updated, saved for backward */
    NET_BN_RECOMPUTE = 2   /* batch statistics, running stats accumulated as a cumulative
                              average (SWA's BN re-estimation, after net_bn_reset); nothing saved;
                              records tagged OP_TECH_SWA */
};

struct net;

/* arch NET_RESNET: depth = 6n + 2 (8, 14, 20, 32, 38, 44, 56, 74, 110, ...), width = channels of
 * the first stage (16), stages w, 2w, 4w. arch NET_MOBILENETV2: depth ignored, width = channels
 * of the first conv (32 = the standard net; others scale every layer by width / 32).
 * in_c x in_h x in_w: 3x32x32 (CIFAR) or 1x28x28 ((Fashion-)MNIST), any size >= 8 works.
 * flags: NET_DEFAULT, or NET_FIXED_STAGE_ENTRY (ResNet: the first block of stages 2 and 3, the
 * one with stride 2 and a projection shortcut, always runs; neither SLU nor stochastic depth
 * may skip it). MobileNetV2's stage entries are never skippable (no identity shortcut).
 * He initialization (normal, std sqrt(2 / (k*k*cout)), as the authors' ResNet code) from
 * rng_key(seed, RNG_STREAM_INIT); BN gamma 1, beta 0; FC uniform +-1/sqrt(cin) (PyTorch). */
enum { NET_DEFAULT = 0, NET_FIXED_STAGE_ENTRY = 1 };
int net_create(enum net_arch arch, int depth, int width, int in_c, int in_h, int in_w, int classes,
               unsigned flags, const struct net_precision *prec, uint64_t seed, struct net **out);
void net_free(struct net *net);

/* PSG on conv weights (NULL = off). Needs fixed-point activations and output gradients. */
int net_set_psg(struct net *net, const struct psg_config *cfg);

/* SLU gates on every skippable block but block 0 (enabled = 0: off, gates dropped from the
 * parameter list). Gate weights come from rng_key(seed, RNG_STREAM_INIT) too. */
int net_set_slu(struct net *net, int enabled, enum gate_decision decision);

/* The iteration number keys stochastic rounding and SLU sampling; set it before each forward. */
void net_set_iteration(struct net *net, uint64_t iteration);

/* Stochastic depth at evaluation (Huang et al.): in NET_EVAL the residual branch of block b is
 * scaled by scale[b] (its survival probability); NULL = 1 everywhere. Copied. */
int net_set_eval_scale(struct net *net, const float *scale);

/* Forward n samples x [n][in_c][in_h][in_w]. block_mask [net_blocks][n] (1 = execute, NULL =
 * all); with SLU on, the gates decide and block_mask (if any) is AND-ed in. Returns the logits
 * [n][classes] (owned by the net, valid until the next forward), NULL on error. */
const float *net_forward(struct net *net, const float *x, int n, const uint8_t *block_mask,
                         const struct op_sink *sink, enum net_mode mode);

/* Softmax cross-entropy of the last forward's logits against labels (kernels/loss.h; records
 * OP_LOSS forward and backward). Returns the mean loss; *dlogits (owned by the net) receives
 * dL/dlogits for net_backward. */
double net_loss(struct net *net, const int *labels, const float **dlogits,
                const struct op_sink *sink);

/* Fine-tuning the last layer: with on, net_backward (and net_emit_iteration) compute and record
 * only the final FC's weight gradient and mark every other parameter inactive (its gradient
 * keeps its last value). */
void net_set_fc_only(struct net *net, int on);

/* Backward of the last NET_TRAIN forward from dL/dlogits [n][classes]. gate_dm [blocks][n] (may
 * be NULL) is added to each gate decision's gradient dL/dm (the SLU cost term of Eq. 1).
 * Overwrites every parameter's grad (zero where its block ran on no sample) and sets the
 * parameters' active / grad_is_sign / psg fields. */
int net_backward(struct net *net, const float *dlogits, const float *gate_dm,
                 const struct op_sink *sink);

/* Parameters (trainable ones and BN running statistics), in a fixed order. */
int net_params(struct net *net, struct net_param **params);

/* Skippable blocks (block 0 included, which always runs), their per-image forward MACs
 * (conv, branch only: what skipping saves), and what the last forward did. */
int net_blocks(const struct net *net);
uint64_t net_block_macs(const struct net *net, int block);
const uint8_t *net_block_mask(const struct net *net);   /* [blocks][n] executed */
const float *net_gate_prob(const struct net *net);      /* [blocks][n]; NULL without SLU (block 0: 1) */
int net_last_n(const struct net *net);

/* Forward MACs per image over every conv and the FC (the gates not counted). */
uint64_t net_forward_macs(const struct net *net);
int net_classes(const struct net *net);
struct net_precision net_get_precision(const struct net *net);

/* Quantization counters summed since creation (or the last reset). */
struct fx_stats net_fx_stats(const struct net *net);
void net_fx_stats_set(struct net *net, const struct fx_stats *s);   /* a resumed run's counts */

/* SWA's BN re-estimation: zero the running statistics; then run NET_BN_RECOMPUTE forwards. */
void net_bn_reset(struct net *net);

/* Bytes the net holds (parameters, saved activations, work buffers) at its current capacity. */
size_t net_memory_bytes(const struct net *net);

/* The op records one training iteration emits (forward, loss, backward, and with optim != NULL
 * the updates) for a minibatch of n with active[b] samples executing block b (NULL = all),
 * without computing anything. Precision, PSG and SLU come from the net; psg_full_fraction
 * (0..1) stands for every conv layer's full-path fraction when PSG is on. The sequence is the
 * one net_forward + net_loss + net_backward + optim_step emit for the same counts. */
int net_emit_iteration(struct net *net, int n, const int *active, float psg_full_fraction,
                       const struct optim_config *optim, const struct op_sink *sink);

#endif
