/* Fixed-point numbers: formats, quantization (nearest or stochastic), dequantization, the
 * saturation/overflow counters, and the small types every kernel shares (tensor shape,
 * quantized tensor view, op tag, workspace); PSG's MSB predictors are in psg.h. The rules are written down in
 * docs/numbers.md; this file implements them.
 *
 * Codes live in int16 whatever the word length (8-bit codes fit too). A tensor quantized
 * "per tensor" has one float scale; "per channel" has one scale per channel (weights: per output
 * channel). The value a code stands for is code * scale. */
#ifndef E2_FIXED_H
#define E2_FIXED_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "oprec.h"
#include "rng.h"

#define FX_FLOAT_BITS 32   /* a word length of 32 means IEEE float32: no quantization */
#define FX_ACC_BITS 48     /* DSP48E1 post-adder width: the default accumulator */

/* How one tensor class is stored. bits in 2..16, or 32 (float). Unsigned formats are for
 * non-negative tensors (post-ReLU activations): codes [0, 2^bits - 1]. Signed formats are
 * symmetric: codes [-(2^(bits-1) - 1), 2^(bits-1) - 1]. */
struct fx_format {
    int bits;
    int is_signed;
    int per_channel;   /* one scale per channel (weights: per output channel) */
    int stochastic;    /* stochastic rounding (else nearest, ties away from zero) */
};

/* Counters a caller sums over a run; kernels only ever add to them (NULL = don't count). */
struct fx_stats {
    uint64_t quantized;      /* values quantized */
    uint64_t saturated;      /* ... of which fell outside the code range and were clamped */
    uint64_t msb_clipped;    /* MSB predictor codes clamped at the top of the range */
    uint64_t acc_sums;       /* integer dot products finished (one per output element) */
    uint64_t acc_overflows;  /* ... of which did not fit the accumulator width (kept exact) */
};

void fx_stats_add(struct fx_stats *dst, const struct fx_stats *src);

/* A read-only view of a quantized tensor: codes plus 1 scale (per tensor) or one per channel. */
struct fx_tensor {
    const int16_t *code;
    const float *scale;
    int bits;
    int is_signed;
    int per_channel;
};

/* NCHW shape of an activation tensor (element-wise kernels and op records use it). */
struct nchw {
    int n, c, h, w;
};

static inline long nchw_count(const struct nchw *s)
{
    return (long)s->n * s->c * s->h * s->w;
}

/* What a kernel call writes into its op record besides what it knows itself (kind, phase,
 * shapes, operand widths): the layer, the technique, PSG facts (see kernels/oprec.h; 0 without
 * PSG) and the widths at which the engine stores the run's tensors in DDR (op_tag_stored; 0 =
 * not given: the kernel's natural float32). */
struct op_tag {
    uint16_t layer;
    uint8_t tech;          /* enum op_tech */
    uint8_t msb_a, msb_b;
    uint16_t psg_full_q16;
    uint8_t store_act;     /* activations (conv/fc inputs and outputs, bn/relu/add/pool tensors) */
    uint8_t store_grad;    /* output gradients g_y */
    uint8_t store_gw;      /* weight gradients g_w */
};

static inline struct op_tag op_tag_make(uint16_t layer, uint8_t tech)
{
    struct op_tag t = { layer, tech, 0, 0, 0, 0, 0, 0 };
    return t;
}

/* The ONE place that decides the widths tensors are stored at (docs/hardware.md, "Stored
 * widths"): a fixed-point engine keeps each tensor at the width its class is quantized to
 * (training.precision.*: activations, grad_output, grad_weight; 32 = float32), whatever the
 * float emulation between quantization points does (docs/numbers.md). */
static inline struct op_tag op_tag_stored(struct op_tag t, int act_bits, int grad_bits, int gw_bits)
{
    t.store_act = (uint8_t)act_bits;
    t.store_grad = (uint8_t)grad_bits;
    t.store_gw = (uint8_t)gw_bits;
    return t;
}

/* The width a conv/fc phase's result is stored at: y (activation), g_x (output gradient of the
 * layer below), g_w (weight gradient); `natural` when the tag gives none. */
static inline int op_stored_out_bits(struct op_tag t, enum op_phase phase, int natural)
{
    int b = phase == OP_PHASE_FWD ? t.store_act
          : phase == OP_PHASE_BWD_DATA ? t.store_grad
          : phase == OP_PHASE_BWD_WEIGHT ? t.store_gw : 0;
    return b ? b : natural;
}

/* A record of `kind` and `phase` attributed as the tag says (layer, technique), zeroed elsewhere,
 * so the fields the kind does not use are 0. */
static inline struct oprec op_tag_record(enum op_kind kind, enum op_phase phase, struct op_tag tag)
{
    struct oprec r;
    memset(&r, 0, sizeof r);
    r.layer = tag.layer;
    r.kind = (uint8_t)kind;
    r.phase = (uint8_t)phase;
    r.tech = tag.tech;
    return r;
}

/* A conv or fc record as far as its tag and operand widths say (attribution, widths, the result
 * stored per the tag, PSG facts): the caller adds the shape. */
static inline struct oprec op_mac_record(enum op_kind kind, enum op_phase phase, struct op_tag tag,
                                         int bits_a, int bits_b, int bits_out, int bits_acc)
{
    struct oprec r = op_tag_record(kind, phase, tag);
    r.bits_a = (uint8_t)bits_a;
    r.bits_b = (uint8_t)bits_b;
    r.bits_out = (uint8_t)op_stored_out_bits(tag, phase, bits_out);
    r.bits_acc = (uint8_t)bits_acc;
    r.msb_a = tag.msb_a;
    r.msb_b = tag.msb_b;
    r.psg_full_q16 = tag.psg_full_q16;
    return r;
}

/* The record of an element-wise kernel (bn, relu, add, pool, loss) on input shape s, the output
 * as large as the input except pool's (1 x 1 per channel). Stored widths: forward, the
 * activations in and out; backward, the gradients in and out (a, out) and the forward tensor
 * the backward needs (b: x, x_hat or the mask's source; add: the other gradient). The loss runs
 * on the PS in float32. */
static inline struct oprec op_elem_record(enum op_kind kind, enum op_phase phase, struct op_tag tag,
                                          const struct nchw *s)
{
    struct oprec r = op_tag_record(kind, phase, tag);
    r.n = (uint32_t)s->n;
    r.cin = r.cout = (uint16_t)s->c;
    r.groups = 1;
    r.h_in = (uint16_t)s->h;
    r.w_in = (uint16_t)s->w;
    r.h_out = (uint16_t)(kind == OP_POOL ? 1 : s->h);
    r.w_out = (uint16_t)(kind == OP_POOL ? 1 : s->w);
    int act = tag.store_act ? tag.store_act : 32, grad = tag.store_grad ? tag.store_grad : 32;
    if (kind == OP_LOSS)
        act = grad = 32;
    r.bits_a = (uint8_t)(phase == OP_PHASE_FWD ? act : grad);
    r.bits_b = (uint8_t)(kind == OP_ADD ? r.bits_a : act);
    r.bits_out = r.bits_a;
    r.bits_acc = 32;
    return r;
}

/* Emits op_elem_record; builds nothing when nobody listens (NULL sink or emit). */
static inline void op_emit_elem(const struct op_sink *sink, enum op_kind kind, enum op_phase phase,
                                struct op_tag tag, const struct nchw *s)
{
    if (!sink || !sink->emit)
        return;
    struct oprec r = op_elem_record(kind, phase, tag, s);
    op_emit(sink, &r);
}

/* Scratch memory a caller keeps between calls so hot loops do not malloc. Start zeroed
 * ({0}); kernels grow it as needed; fx_workspace_free releases it. A NULL workspace makes
 * the kernel allocate and free its own scratch for that call. */
struct fx_workspace {
    void *buf;
    size_t bytes;
};

/* At least `bytes` of 64-byte-aligned scratch (contents undefined), or NULL if out of memory. */
void *fx_workspace_reserve(struct fx_workspace *ws, size_t bytes);
void fx_workspace_free(struct fx_workspace *ws);

/* Flush denormal floats to zero (x86 MXCSR FTZ and DAZ) in the calling thread and in every
 * thread of the OpenMP pool, or restore IEEE behaviour (on = 0). Denormals slow float training
 * up to 2x on x86; the fixed-point path does not produce them. No-op on other CPUs. */
void fx_flush_denormals(int on);

/* ---- formats ---- */

static inline int fx_is_float(const struct fx_format *f) { return f->bits >= FX_FLOAT_BITS; }

/* Largest code: 2^(bits-1) - 1 signed, 2^bits - 1 unsigned. Smallest: -qmax signed, 0 unsigned. */
static inline int32_t fx_qmax(int bits, int is_signed)
{
    return is_signed ? (int32_t)((1u << (bits - 1)) - 1) : (int32_t)((1u << bits) - 1);
}
static inline int32_t fx_qmin(int bits, int is_signed)
{
    return is_signed ? -fx_qmax(bits, 1) : 0;
}

/* Signed width whose range holds every code of the format (unsigned b bits -> b + 1): what
 * gemm_i16's bits_a / bits_b and the accumulator analysis want. */
static inline int fx_signed_bits(int bits, int is_signed) { return is_signed ? bits : bits + 1; }

/* The scale for a largest magnitude: max_abs / qmax in float; 1 when max_abs is 0 (or not finite). */
float fx_scale_for_max(float max_abs, int bits, int is_signed);

/* The stochastic-rounding key of one tensor in one iteration:
 * rng_key(rng_key(rng_key(seed, RNG_STREAM_ROUNDING), iteration), tensor_id). The element's
 * flat index is the counter. */
static inline uint64_t fx_round_key(uint64_t seed, uint64_t iteration, uint64_t tensor_id)
{
    return rng_key(rng_key(rng_key(seed, RNG_STREAM_ROUNDING), iteration), tensor_id);
}

/* One value to a code: t = (double)v / (double)scale, rounded (nearest, ties away from zero;
 * or stochastic: floor(t + u), u = rng_uniform(key, index)), clamped to [qmin, qmax].
 * *saturated is set to 1 when it clamped. NaN becomes 0 and counts as saturated. */
int16_t fx_quantize_one(float v, float scale, int bits, int is_signed, int stochastic,
                        uint64_t key, uint64_t index, int *saturated);

/* ---- tensors ---- */

/* Quantize v, laid out [outer][channels][inner] (NCHW activations: outer = n, channels = c,
 * inner = h*w; weights [cout][rest]: outer = 1, channels = cout, inner = rest), into codes.
 * The value quantized is v * channel_mul[c] when channel_mul is non-NULL (folds per-channel
 * factors in, see conv_backward_data_fx), else v.
 * The scale comes from the largest |value| (per channel if fmt->per_channel, else over the
 * tensor) by fx_scale_for_max and is written to scale[0] or scale[0..channels-1].
 * Stochastic rounding draws counter = flat element index from `key` (see fx_round_key).
 * Results are identical for any OpenMP thread count. Returns 0, or -1 if fmt is float or bad. */
int fx_quantize(const float *v, long outer, int channels, long inner,
                const struct fx_format *fmt, const float *channel_mul, uint64_t key,
                int16_t *code, float *scale, struct fx_stats *st);

/* The same with the scale(s) given instead of chosen (e.g. a scale kept from an earlier
 * iteration): values outside the range saturate and are counted. */
int fx_quantize_with_scale(const float *v, long outer, int channels, long inner,
                           const struct fx_format *fmt, const float *channel_mul, uint64_t key,
                           const float *scale, int16_t *code, struct fx_stats *st);

/* One quantization of v into several codes, as many fx_quantize_with_scale calls would give, in
 * one pass over v: each target has its own channel_mul (may be NULL), rounding key, scale(s) and
 * codes. (A conv's g_y feeds its backward-data pass with the weights' scales folded in and its
 * backward-weight pass without.) first: the flat index of v[0] in its tensor when v is a piece
 * of one (the counter of stochastic rounding), else 0. */
struct fx_target {
    const float *channel_mul;
    uint64_t key;
    const float *scale;
    int16_t *code;
    uint64_t first;
};

int fx_quantize_targets(const float *v, long outer, int channels, long inner, const struct fx_format *fmt,
                        const struct fx_target *targets, int count, struct fx_stats *st);

/* v = code * scale (per channel scale[c] when per_channel), same layout as fx_quantize. */
void fx_dequantize(const int16_t *code, long outer, int channels, long inner,
                   int per_channel, const float *scale, float *v);

/* Largest |v| over count values (0 for none); NaN is ignored. Order-independent. */
float fx_max_abs(const float *v, long count);

/* *maxabs = max(*maxabs, largest |v|), *minv = min(*minv, smallest v) over count values, NaN
 * ignored (as fx_max_abs): a quantizer's scale and signedness (minv < 0) in one pass. Serial
 * (callers split the work); start from 0 and INFINITY. */
void fx_range_update(const float *v, long count, float *maxabs, float *minv);

/* ---- accumulators ---- */

/* 1 if an exact sum does not fit a signed acc_bits-wide accumulator (acc_bits <= 0 or >= 64:
 * never). Kernels keep the exact int64 value and count these in fx_stats.acc_overflows. */
static inline int fx_acc_overflows(int64_t acc, int acc_bits)
{
    if (acc_bits <= 0 || acc_bits >= 64)
        return 0;
    int64_t lim = (int64_t)1 << (acc_bits - 1);
    return acc >= lim || acc < -lim;
}

/* An exact integer sum to float: (float)((double)acc * (double)scale_a * (double)scale_b),
 * evaluated left to right. Every kernel dequantizes through this, so optimized and reference
 * results agree bit for bit. */
static inline float fx_dequant_acc(int64_t acc, float scale_a, float scale_b)
{
    return (float)((double)acc * (double)scale_a * (double)scale_b);
}

/* Each code rounded to its msb_bits most significant bits of bits (nearest, ties away from zero),
 * clamped to msb_bits' range and put back on bits' scale (a multiple of 2^(bits - msb_bits)):
 * PSG's predictor codes. count codes into out (may be code); msb_bits >= bits copies. Returns
 * how many were clamped. Serial. */
uint64_t fx_round_to_msb(const int16_t *code, long count, int bits, int msb_bits, int is_signed, int16_t *out);

/* fx_dequant_acc of n sums into out, returning how many of them fx_acc_overflows: the store
 * of every kernel that keeps its sums in int64, written so that it vectorizes. */
uint64_t fx_dequant_accs(const int64_t *acc, long n, float scale_a, float scale_b, int acc_bits,
                         float *out);

#endif
