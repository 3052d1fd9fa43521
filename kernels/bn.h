/* Batch normalization over NCHW in float32, per channel over (n, h, w).
 *   training: mean, biased variance of the batch; y = gamma * (x - mean) * invstd + beta,
 *             invstd = 1 / sqrt(var + eps); running stats updated as in PyTorch:
 *             running = (1 - momentum) * running + momentum * batch, with the UNBIASED
 *             variance (m / (m - 1), m = n*h*w) for running_var. momentum = 1/(k+1) at the
 *             k-th batch (k = 0, 1, ...) gives the cumulative average (SWA BN re-estimation).
 *   eval:     y = gamma * (x - running_mean) / sqrt(running_var + eps) + beta.
 * Sums per channel are taken in double, each channel by one thread in a fixed order (8 lanes:
 * element i of a plane into lane i % 8, lanes added pairwise at the end), so results are
 * identical for any thread count (channels are split into blocks; each channel keeps its order).
 * y may alias x in the forward passes. */
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

/* bn_forward_train with an activation fused after it: act -1 (none), ACT_RELU or ACT_RELU6
 * (kernels/act.h). y equals bn_forward_train then act_forward bit for bit. Emits the BN record
 * only (the caller emits the activation's). out_maxabs / out_min (c floats each, or both NULL)
 * receive each channel's largest |y| and smallest y, NaN ignored (what a quantizer of y needs:
 * its scale and whether y is signed, without another pass over y). y may be NULL when
 * out_maxabs is not: the statistics and the ranges only, for a consumer that applies the BN
 * itself with bn_act_apply (the ranges come from the very values it will compute). y and out_maxabs
 * both NULL: the statistics only (a consumer that applies the BN and needs no range of it). */
void bn_forward_train_act(const struct nchw *s, const float *x, const float *gamma, const float *beta,
                          float eps, float momentum, float *running_mean, float *running_var,
                          int act, float *y, float *save_mean, float *save_invstd,
                          float *out_maxabs, float *out_min,
                          const struct op_sink *sink, struct op_tag tag);

/* q = act(p * a + b) over n values, a = gamma * invstd and b = beta - mean * a of a channel
 * (float, from the saved statistics), act as above: exactly what bn_forward_train_act writes. */
void bn_act_apply(const float *p, long n, float a, float b, int act, float *q);

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

/* A channel's planes lie a sample apart, each at most a few pages: the hardware prefetchers,
 * which stop at page boundaries, start cold on every plane. A first pass over a channel (its
 * data comes from memory) therefore fetches the plane this many samples later, about 4 KiB
 * ahead, while it reads this one (BN's first passes, the block's post-activation backward). */
long bn_planes_ahead(long hw);

/* A channel's sums of the backward's first pass (sum of the masked gy and of masked gy * xhat,
 * in 8 lanes), for a pass that reads the channel's gradient anyway: zero them, add its planes
 * in sample order with bn_backward_sums_plane (the first pass's own code), and give the array
 * ([c]) to bn_backward_act, which then skips that pass. */
struct bn_bwd_sums {
    double g[8], gx[8];
};

void bn_backward_sums_plane(const float *x, const float *gy, long n, float gamma, float beta,
                            float mean, float invstd, int act, struct bn_bwd_sums *sums);

/* Backward through act(bn(x)) (act as in bn_forward_train_act; -1 = bn_backward): gy is dL/d of
 * the activation's output. The activation's gradient mask comes from the recomputed act input
 * x * a + b (a = gamma * invstd, b = beta - mean * a, as the forward computed it), so the result
 * equals act_backward on the recomputed forward output followed by bn_backward, bit for bit.
 * beta may be NULL when act is -1. Emits the BN record only. out_maxabs (c floats, may be NULL)
 * receives each channel's largest |gx|, NaN ignored. given (may be NULL): the channels' first-pass
 * sums, already taken over this gy. */
void bn_backward_act(const struct nchw *s, const float *x, const float *gy, const float *gamma,
                     const float *beta, const float *save_mean, const float *save_invstd, int act,
                     const struct bn_bwd_sums *given, float *gx, float *ggamma, float *gbeta,
                     float *out_maxabs, const struct op_sink *sink, struct op_tag tag);

#endif
