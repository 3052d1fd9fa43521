/* Batch normalization over NCHW in float32, per channel over (n, h, w).
 *   training: mean, biased variance of the batch; y = gamma * (x - mean) * invstd + beta,
 *             invstd = 1 / sqrt(var + eps); running stats updated as in PyTorch:
 *             running = (1 - momentum) * running + momentum * batch, with the UNBIASED
 *             variance (m / (m - 1), m = n*h*w) for running_var. momentum = 1/(k+1) at the
 *             k-th batch (k = 0, 1, ...) gives the cumulative average (SWA BN re-estimation).
 *   eval:     y = gamma * (x - running_mean) / sqrt(running_var + eps) + beta.
 * Sums per channel are taken in double, each channel by one thread in element order, so
 * results are identical for any thread count. y may alias x in the forward passes. */
#ifndef E2_BN_H
#define E2_BN_H

#include "fixed.h"
#include "oprec.h"

/* save_mean / save_invstd (c floats each) keep what bn_backward needs. running_mean /
 * running_var may be NULL (not updated). */
void bn_forward_train(const struct nchw *s, const float *x, const float *gamma, const float *beta,
                      float eps, float momentum, float *running_mean, float *running_var,
                      float *y, float *save_mean, float *save_invstd,
                      const struct op_sink *sink, struct op_tag tag);

void bn_forward_eval(const struct nchw *s, const float *x, const float *gamma, const float *beta,
                     const float *running_mean, const float *running_var, float eps, float *y,
                     const struct op_sink *sink, struct op_tag tag);

/* From the forward input x and the saved batch statistics: gx (overwritten; may alias gy),
 * ggamma and gbeta (c floats each, overwritten; either may be NULL). Training-mode gradient
 * (the batch statistics depend on x). */
void bn_backward(const struct nchw *s, const float *x, const float *gy, const float *gamma,
                 const float *save_mean, const float *save_invstd,
                 float *gx, float *ggamma, float *gbeta,
                 const struct op_sink *sink, struct op_tag tag);

#endif
