/* Fully connected layer: y[n][cout] = x[n][cin] . w[cout][cin]^T + b[cout], float and fixed.
 * One gemm over the whole batch (the matrices are small). Fixed point follows conv.h: exact
 * int64 sums, overflow beyond acc_bits counted, fx_dequant_acc; the bias is added in float
 * after dequantization. Optimized = gemm_f32 / gemm_i16; *_ref = direct loops (fixed: bit-equal).
 * Optimized versions return 0 or -1 (out of memory / bad shape) and emit one OP_FC record. */
#ifndef E2_FC_H
#define E2_FC_H

#include <stdint.h>
#include "fixed.h"
#include "oprec.h"

struct fc_shape {
    int n, cin, cout;
};

struct oprec fc_oprec(const struct fc_shape *s, enum op_phase phase, struct op_tag tag,
                      int bits_a, int bits_b, int bits_out, int bits_acc);

/* ---- float32 ---- */

/* b may be NULL (no bias). */
int fc_forward_f32(const struct fc_shape *s, const float *x, const float *w, const float *b, float *y,
                   const struct op_sink *sink, struct op_tag tag);
/* gx = gy . w (overwrites) */
int fc_backward_data_f32(const struct fc_shape *s, const float *gy, const float *w, float *gx,
                         const struct op_sink *sink, struct op_tag tag);
/* gw = gy^T . x, gb = column sums of gy (both overwritten; gb may be NULL) */
int fc_backward_weight_f32(const struct fc_shape *s, const float *x, const float *gy, float *gw, float *gb,
                           const struct op_sink *sink, struct op_tag tag);

void fc_forward_f32_ref(const struct fc_shape *s, const float *x, const float *w, const float *b, float *y);
void fc_backward_data_f32_ref(const struct fc_shape *s, const float *gy, const float *w, float *gx);
void fc_backward_weight_f32_ref(const struct fc_shape *s, const float *x, const float *gy, float *gw, float *gb);

/* ---- fixed point (same scale rules as conv_*_fx) ---- */

/* y = acc * x->scale[0] * w->scale[per_channel ? o : 0] + b[o] */
int fc_forward_fx(const struct fc_shape *s, const struct fx_tensor *x, const struct fx_tensor *w,
                  const float *b, float *y, int acc_bits, struct fx_stats *st,
                  const struct op_sink *sink, struct op_tag tag);
/* gx = acc * gy->scale[0] * (w->per_channel ? 1 : w->scale[0]); with per-channel weights gy
 * must be quantized with channel_mul = the weight scales (see conv_backward_data_fx). */
int fc_backward_data_fx(const struct fc_shape *s, const struct fx_tensor *gy, const struct fx_tensor *w,
                        float *gx, int acc_bits, struct fx_stats *st,
                        const struct op_sink *sink, struct op_tag tag);
/* gw = acc * x->scale[0] * gy->scale[0]; gw_acc / gw may be NULL. The bias gradient is a float
 * sum of the float gradient: use fc_bias_grad. */
int fc_backward_weight_fx(const struct fc_shape *s, const struct fx_tensor *x, const struct fx_tensor *gy,
                          int64_t *gw_acc, float *gw, int acc_bits, struct fx_stats *st,
                          const struct op_sink *sink, struct op_tag tag);

/* gb[o] = sum over the batch of gy[n][o], in double, in sample order. */
void fc_bias_grad(const struct fc_shape *s, const float *gy, float *gb);

void fc_forward_fx_ref(const struct fc_shape *s, const struct fx_tensor *x, const struct fx_tensor *w,
                       const float *b, float *y, int acc_bits, struct fx_stats *st);
void fc_backward_data_fx_ref(const struct fc_shape *s, const struct fx_tensor *gy, const struct fx_tensor *w,
                             float *gx, int acc_bits, struct fx_stats *st);
void fc_backward_weight_fx_ref(const struct fc_shape *s, const struct fx_tensor *x, const struct fx_tensor *gy,
                               int64_t *gw_acc, float *gw, int acc_bits, struct fx_stats *st);

#endif
