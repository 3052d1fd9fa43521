/* Softmax cross-entropy over a batch, in float32 with double sums, and top-k counts.
 * loss = mean over samples of -log softmax(logits)[label]; the softmax subtracts the row max
 * first. Its gradient is (softmax - onehot(label)) * grad_scale / n. */
#ifndef E2_LOSS_H
#define E2_LOSS_H

#include "fixed.h"
#include "oprec.h"

/* Returns the mean loss; prob [n][classes] receives the softmax (needed by the backward).
 * Labels outside [0, classes) contribute nothing and are not counted in the mean; the mean is
 * over valid labels (0 if none). */
double loss_xent_forward(int n, int classes, const float *logits, const int *labels, float *prob,
                         const struct op_sink *sink, struct op_tag tag);

/* glogits = (prob - onehot) * grad_scale / n_valid (overwrites; may alias prob). grad_scale = 1
 * for the plain loss (a caller weighting the loss by a factor passes it). Invalid labels: 0. */
void loss_xent_backward(int n, int classes, const float *prob, const int *labels, float grad_scale,
                        float *glogits, const struct op_sink *sink, struct op_tag tag);

/* How many samples have their label among the k largest logits. Ties are broken towards the
 * lower class index: the label's rank = #{j : l_j > l_y} + #{j < y : l_j == l_y}; hit if rank < k. */
int loss_topk_hits(int n, int classes, const float *logits, const int *labels, int k);

#endif
