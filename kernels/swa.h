/* Stochastic weight averaging (Izmailov et al., 2018), as the paper uses it with PSG (§4.1).
 * From a point the training loop chooses, every `every` iterations it calls swa_update, which
 * folds the current weights into a running average (avg += (w - avg) / (k + 1)). For evaluation
 * or at the end it calls swa_swap (the net then holds the averaged weights; a second swap puts
 * the training weights back), then re-estimates batch-norm statistics for the averaged weights:
 * net_bn_reset(net) and NET_BN_RECOMPUTE forwards over training data (kernels/net.h).
 * Every trainable parameter (grad != NULL) is averaged; BN running statistics are not (they
 * are recomputed). */
#ifndef E2_SWA_H
#define E2_SWA_H

#include "oprec.h"

struct net_param;   /* kernels/net.h */
struct swa;

/* Average buffers for the trainable ones among p[0..np-1]; NULL if out of memory. */
struct swa *swa_create(const struct net_param *p, int np);
void swa_free(struct swa *s);

/* Fold the current weights in; one OP_UPDATE record per tensor, tech OP_TECH_SWA
 * (a = current weight, b = average, 32 bits). Returns 0, or -1 if np differs from swa_create's. */
int swa_update(struct swa *s, const struct net_param *p, int np, const struct op_sink *sink);

/* Exchange the averaged and the current weights (call again to undo). -1 if nothing is
 * averaged yet or np differs. */
int swa_swap(struct swa *s, struct net_param *p, int np);

/* Models averaged so far; the average buffer of parameter i (NULL for state) and setting the
 * count back, for checkpoints. */
int swa_models(const struct swa *s);
float *swa_average(struct swa *s, int i);
void swa_set_models(struct swa *s, int models);

#endif
