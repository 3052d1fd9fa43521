/* SLU gates (SkipNet's recurrent gate, as E2-Train uses it), in float32.
 *
 * For gated block t = 0..T-1 (the network's skippable blocks after the first), on the block's
 * input x_t [n][C_t][H][W]:
 *   e = mean over H*W of x_t                 global average pooling       [n][C_t]
 *   z = W_e[t] e + b_e[t]                    1x1 conv C_t -> 10 (one per block)   [n][10]
 *   (h_t, c_t) = LSTM(z, h_{t-1}, c_{t-1})   one LSTM 10 -> 10 SHARED by all blocks,
 *                                            h_{-1} = c_{-1} = 0 each minibatch (PyTorch gate
 *                                            order i, f, g, o; biases b_ih + b_hh)
 *   p = sigmoid(w_p . h_t + b_p)             linear 10 -> 1
 * Decision m per sample: Bernoulli(p) (the authors) or p > 0.5 (SkipNet), with the straight-
 * through gradient dL/dp = dL/dm; or the soft path m = p (tests, analysis: nothing skipped).
 * Backward runs through the LSTM over the sequence of blocks (BPTT within the minibatch): call
 * gate_backward for t = T-1 down to 0.
 * Initialization (SkipNet's code): W_e, w_p normal(0, sqrt(2 / cout)); LSTM weights and all biases
 * uniform(+-1/sqrt(fan_in)). Op records: one OP_GATE per gate and phase, tech OP_TECH_SLU,
 * cin = C_t, cout = 10, h_in x w_in = H x W, bits 32 (gate_macs gives the MACs it stands for). */
#ifndef E2_GATE_H
#define E2_GATE_H

#include <stdint.h>
#include "oprec.h"

#define GATE_EMBED 10
#define GATE_HIDDEN 10

enum gate_decision {
    GATE_BERNOULLI = 0,   /* m ~ Bernoulli(p), straight-through (authors) */
    GATE_THRESHOLD,       /* m = p > 0.5, straight-through (SkipNet) */
    GATE_SOFT,            /* m = p (continuous; every sample computed) */
    GATE_MIXED            /* m ~ Bernoulli(p) as GATE_BERNOULLI, but in training the net computes
                           * every sample and mixes m F(x) + (1 - m) x (the authors' code): the
                           * task loss reaches every gate, nothing is saved (analysis) */
};

struct net_param;   /* kernels/net.h */
struct gate_net;

/* T gates, gate t reading C = cin[t] channels; layer[t] is its op-record layer id. */
struct gate_net *gate_create(int T, const int *cin, const uint16_t *layer, uint64_t seed);
void gate_free(struct gate_net *g);
int gate_count(const struct gate_net *g);

/* Start a minibatch of n samples: hidden state reset. 0, or -1 out of memory. save = 0 keeps
 * nothing for backward (evaluation). */
int gate_begin(struct gate_net *g, int n, int save);

/* Step t (in order 0, 1, ... after gate_begin) on x [n][C_t][h][w]: p [n]. */
int gate_forward(struct gate_net *g, int t, const float *x, int h, int w, float *p,
                 const struct op_sink *sink);

/* Decisions from p: m [n] in {0, 1}. Bernoulli draws u = rng_uniform(key, i), m = u < p;
 * threshold m = p > 0.5; GATE_SOFT m = 1 (every sample runs, the caller mixes with weight p). */
void gate_decide(enum gate_decision d, const float *p, int n, uint64_t key, uint8_t *m);

/* Backward of step t given dL/dp [n]; adds dL/dx into dx [n][C_t][h][w] (may be NULL: not
 * needed) and accumulates the parameter gradients. Steps in order T-1, ..., 0 after a saving
 * gate_begin and all T forwards; gate_zero_grad first. Emits OP_GATE BWD_DATA and BWD_WEIGHT. */
int gate_backward(struct gate_net *g, int t, const float *dp, float *dx, int h, int w,
                  const struct op_sink *sink);
void gate_zero_grad(struct gate_net *g);

/* The OP_GATE record of step t (n samples, input h x w) in a phase. */
struct oprec gate_oprec(const struct gate_net *g, int t, int n, int h, int w, enum op_phase phase);

/* MACs an OP_GATE forward record stands for: n * (C*h*w pooling adds + 10*C + LSTM 4*10*(10+10)
 * + 10); backward about twice that. */
uint64_t gate_macs(const struct oprec *r);

/* Parameter tensors (fills up to max entries of out, returns how many there are):
 * per gate "gate<t>.embed.w", "gate<t>.embed.b", then "gate.lstm.w_ih", "gate.lstm.w_hh",
 * "gate.lstm.b_ih", "gate.lstm.b_hh", "gate.proj.w", "gate.proj.b". Kind NET_PARAM_GATE. */
int gate_params(struct gate_net *g, struct net_param *out, int max);

#endif
