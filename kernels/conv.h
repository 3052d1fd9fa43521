/* 2-D convolution, forward and both backward passes, in float and in exact fixed point.
 *
 * Layouts (row-major): x [n][cin][h][w], w [cout][cin/groups][k][k], y [n][cout][ho][wo].
 * No bias (batch norm follows every conv). groups divides cin and cout; groups == cin == cout
 * is depthwise.
 *
 * Every pass has a plain scalar reference (*_ref: direct nested loops) and an optimized version
 * (im2col per sample + gemm from kernels/gemm.h, OpenMP over samples). Fixed-point versions sum
 * exactly in int64 and equal their reference bit for bit; float versions equal theirs within
 * float reassociation error and are deterministic for a given thread count.
 *
 * Fixed-point semantics (docs/numbers.md): each output element is one exact integer dot product
 * of codes; a sum that does not fit acc_bits (48 = DSP48E1) is counted in st->acc_overflows and
 * kept exact; the result is dequantized with fx_dequant_acc(acc, scale_a, scale_b) to float.
 *
 * Optimized versions return 0, or -1 when out of memory or the shape is invalid, and emit one
 * op record (OP_CONV, phase, shapes, widths; bits 32 for float) to sink (NULL sink: none).
 * ws may be NULL (scratch is then allocated per call). */
#ifndef E2_CONV_H
#define E2_CONV_H

#include <stdint.h>
#include "fixed.h"
#include "oprec.h"

struct conv_shape {
    int n, cin, h, w;   /* input */
    int cout, k;        /* output channels, square kernel size */
    int stride, pad;    /* same in both directions; pad is zeros on every side */
    int groups;         /* 1 = dense, cin = depthwise */
};

static inline int conv_out_h(const struct conv_shape *s) { return (s->h + 2 * s->pad - s->k) / s->stride + 1; }
static inline int conv_out_w(const struct conv_shape *s) { return (s->w + 2 * s->pad - s->k) / s->stride + 1; }

/* Element counts of x, w, y. */
long conv_x_count(const struct conv_shape *s);
long conv_w_count(const struct conv_shape *s);
long conv_y_count(const struct conv_shape *s);

/* 0 if the shape is usable (positive sizes, groups divide cin and cout, output >= 1x1,
 * sizes fit the op record's fields), else -1. */
int conv_shape_check(const struct conv_shape *s);

/* The op record a pass of this conv stands for (used by the kernels; exposed so callers that
 * skip a kernel call, e.g. energy-only runs, describe the same work). bits_* are the operand
 * widths as in oprec.h (32 = float); bits_acc 32 for float. */
struct oprec conv_oprec(const struct conv_shape *s, enum op_phase phase, struct op_tag tag,
                        int bits_a, int bits_b, int bits_out, int bits_acc);

/* ---- float32 ---- */

/* y = conv(x, w) */
int conv_forward_f32(const struct conv_shape *s, const float *x, const float *w, float *y,
                     struct fx_workspace *ws, const struct op_sink *sink, struct op_tag tag);
/* gx = dL/dx from gy = dL/dy (overwrites gx) */
int conv_backward_data_f32(const struct conv_shape *s, const float *gy, const float *w, float *gx,
                           struct fx_workspace *ws, const struct op_sink *sink, struct op_tag tag);
/* gw = dL/dw from x and gy, summed over the batch (overwrites gw) */
int conv_backward_weight_f32(const struct conv_shape *s, const float *x, const float *gy, float *gw,
                             struct fx_workspace *ws, const struct op_sink *sink, struct op_tag tag);

void conv_forward_f32_ref(const struct conv_shape *s, const float *x, const float *w, float *y);
void conv_backward_data_f32_ref(const struct conv_shape *s, const float *gy, const float *w, float *gx);
void conv_backward_weight_f32_ref(const struct conv_shape *s, const float *x, const float *gy, float *gw);

/* ---- fixed point ---- */

/* y[n][co] = acc * x->scale[0] * w->scale[per_channel ? co : 0]. x per tensor. */
int conv_forward_fx(const struct conv_shape *s, const struct fx_tensor *x, const struct fx_tensor *w,
                    float *y, int acc_bits, struct fx_stats *st,
                    struct fx_workspace *ws, const struct op_sink *sink, struct op_tag tag);

/* gx = acc * gy->scale[0] * (w->per_channel ? 1 : w->scale[0]).
 * Per-channel weight scales cannot be factored out of a sum over output channels, so with
 * per-channel weights the caller folds them into the gradient before quantizing it:
 *   fx_quantize(gy_float, n, cout, ho*wo, &fmt_g, w_scales, key, gy_codes, &gy_scale, st)
 * (channel_mul = the weight scales, per-tensor gradient scale) and the kernel ignores w->scale.
 * The value is then exactly sum over co of (gy * w_scale[co]) * w_code = sum gy * w.
 * add: gx += the result (gx + r, as a separate pass would add; saves that pass's read and write
 * of both tensors), only where conv_backward_data_fx_adds says so: -1 elsewhere. */
int conv_backward_data_fx(const struct conv_shape *s, const struct fx_tensor *gy, const struct fx_tensor *w,
                          float *gx, int add, int acc_bits, struct fx_stats *st,
                          struct fx_workspace *ws, const struct op_sink *sink, struct op_tag tag);
/* 1 where conv_backward_data_fx can add into gx: the pass runs as the direct forward conv of the
 * transposed shape (stride 1, k >= 2, on CPUs with the direct paths). */
int conv_backward_data_fx_adds(const struct conv_shape *s, const struct fx_tensor *gy,
                               const struct fx_tensor *w);

/* gw = acc * x->scale[0] * gy->scale[0] (both per tensor). gw_acc (cout*cin/groups*k*k int64,
 * may be NULL) receives the exact sums; gw (float, may be NULL) the dequantized values. PSG calls
 * this twice: on psg_msb codes (the predictor g_w^msb) and on the full codes (g_w). */
int conv_backward_weight_fx(const struct conv_shape *s, const struct fx_tensor *x, const struct fx_tensor *gy,
                            int64_t *gw_acc, float *gw, int acc_bits, struct fx_stats *st,
                            struct fx_workspace *ws, const struct op_sink *sink, struct op_tag tag);

/* conv_backward_weight_fx (gw dequantized, no gw_acc) and, in the same pass, PSG's predictor
 * sums into m->gw (the stats count both passes' sums and m's clamped codes as psg_msb would),
 * where the direct 16-bit path takes the layer: returns 0; 1 when it does not (nothing done,
 * the caller takes the two passes); -1 on error. */
struct conv_msb;
int conv_backward_weight_fx_msb(const struct conv_shape *s, const struct fx_tensor *x, const struct fx_tensor *gy,
                                float *gw, int acc_bits, struct conv_msb *m, struct fx_stats *st,
                                struct fx_workspace *ws, const struct op_sink *sink, struct op_tag tag);

void conv_forward_fx_ref(const struct conv_shape *s, const struct fx_tensor *x, const struct fx_tensor *w,
                         float *y, int acc_bits, struct fx_stats *st);
void conv_backward_data_fx_ref(const struct conv_shape *s, const struct fx_tensor *gy, const struct fx_tensor *w,
                               float *gx, int acc_bits, struct fx_stats *st);
void conv_backward_weight_fx_ref(const struct conv_shape *s, const struct fx_tensor *x, const struct fx_tensor *gy,
                                 int64_t *gw_acc, float *gw, int acc_bits, struct fx_stats *st);

/* ---- direct stride-1 kernels (conv_avx2.c), used by the optimized versions above ----
 * For dense (groups 1), stride-1 convs with 2 <= k <= 7 on a CPU with AVX2 and FMA: padded planes
 * read in place instead of im2col + gemm. Same contracts as the passes above (fixed point: exact
 * sums, bit-identical to the references). Exposed for conv.c and the tests; return 0, -1 when
 * out of memory.
 * conv_direct_forward_*: s is the conv computed; with transposed = 1 it is the backward-data pass
 * of another conv written as a forward conv (s = that conv's transposed shape) and w holds the
 * other conv's weights [s->cin][s->cout][k*k], flipped in space on the fly.
 * i16: codes of signed widths bits_x, bits_w (fx_signed_bits); y = fx_dequant_acc(acc, sa,
 * sb[sb_per_channel ? co : 0]); accumulator overflows (acc_bits) are added to *overflows. */
int conv_direct_ok(const struct conv_shape *s);
/* Stride-2 dense convs (1 <= k <= 7) on AVX2: forward and backward-weight only (on phase planes);
 * conv_direct_forward_* (transposed = 0) and conv_direct_backward_weight_* accept them. */
int conv_direct_strided_ok(const struct conv_shape *s);
int conv_direct_forward_i16_ok(const struct conv_shape *s, int bits_x, int bits_w);
int conv_direct_backward_weight_i16_ok(const struct conv_shape *s, int bits_x, int bits_g);
int conv_direct_forward_f32(const struct conv_shape *s, const float *x, const float *w, int transposed,
                            float *y, struct fx_workspace *ws);
/* x_unsigned: every x code is >= 0 (the unsigned 8-bit codes of post-ReLU activations may then
 * take the 8-bit byte-product tiles where the path has them). add: y += the result (y + r, as
 * a separate pass would add) instead of y = the result. */
int conv_direct_forward_i16(const struct conv_shape *s, const int16_t *x, int bits_x, int x_unsigned,
                            const int16_t *w, int bits_w, int transposed, float sa, const float *sb,
                            int sb_per_channel, int acc_bits, float *y, int add, uint64_t *overflows,
                            struct fx_workspace *ws);
int conv_direct_backward_weight_f32(const struct conv_shape *s, const float *x, const float *gy,
                                    float *gw, struct fx_workspace *ws);
/* PSG's predictor sums taken in the same pass: the codes rounded to their most significant bits
 * (fx_round_to_msb of x's format bits_x to msb_x, of g_y's bits_g to msb_g), from the stacks
 * the full sums have just used. */
struct conv_msb {
    int bits_x, msb_x, x_signed, bits_g, msb_g;
    float *gw;                     /* fx_dequant_acc of the rounded codes' sums */
    uint64_t overflows, clipped;   /* out: those sums' overflows, the clamped codes */
};

/* gw_acc (may be NULL) = exact sums, gw (may be NULL) = fx_dequant_acc(acc, sx, sg); msb (may be
 * NULL): the predictor's sums too. */
int conv_direct_backward_weight_i16(const struct conv_shape *s, const int16_t *x, int bits_x,
                                    const int16_t *gy, int bits_g, float sx, float sg, int acc_bits,
                                    int64_t *gw_acc, float *gw, uint64_t *overflows,
                                    struct conv_msb *msb, struct fx_workspace *ws);

#endif
