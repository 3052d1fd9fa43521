/* 2-D convolution: scalar references (direct loops) and optimized versions (im2col per sample +
 * gemm, OpenMP over samples). See conv.h for the semantics and docs/numbers.md for the numbers. */
#include "conv.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "gemm.h"

/* ---- shapes and records ---- */

long conv_x_count(const struct conv_shape *s) { return (long)s->n * s->cin * s->h * s->w; }
long conv_w_count(const struct conv_shape *s) { return (long)s->cout * (s->cin / s->groups) * s->k * s->k; }
long conv_y_count(const struct conv_shape *s) { return (long)s->n * s->cout * conv_out_h(s) * conv_out_w(s); }

int conv_shape_check(const struct conv_shape *s)
{
    if (!s || s->n < 0 || s->cin <= 0 || s->h <= 0 || s->w <= 0 || s->cout <= 0 || s->k <= 0 ||
        s->stride <= 0 || s->pad < 0 || s->groups <= 0)
        return -1;
    if (s->cin % s->groups || s->cout % s->groups)
        return -1;
    if (s->h + 2 * s->pad < s->k || s->w + 2 * s->pad < s->k)
        return -1;
    if (s->k > 255 || s->stride > 255 || s->pad > 255 || s->cin > 65535 || s->cout > 65535 ||
        s->h > 65535 || s->w > 65535)
        return -1;
    return 0;
}

struct oprec conv_oprec(const struct conv_shape *s, enum op_phase phase, struct op_tag tag,
                        int bits_a, int bits_b, int bits_out, int bits_acc)
{
    struct oprec r;
    memset(&r, 0, sizeof r);
    r.layer = tag.layer;
    r.kind = OP_CONV;
    r.phase = (uint8_t)phase;
    r.tech = tag.tech;
    r.k = (uint8_t)s->k;
    r.stride = (uint8_t)s->stride;
    r.pad = (uint8_t)s->pad;
    r.n = (uint32_t)s->n;
    r.cin = (uint16_t)s->cin;
    r.cout = (uint16_t)s->cout;
    r.groups = (uint16_t)s->groups;
    r.h_in = (uint16_t)s->h;
    r.w_in = (uint16_t)s->w;
    r.h_out = (uint16_t)conv_out_h(s);
    r.w_out = (uint16_t)conv_out_w(s);
    r.bits_a = (uint8_t)bits_a;
    r.bits_b = (uint8_t)bits_b;
    r.bits_out = (uint8_t)(tag.bits_out ? tag.bits_out : bits_out);
    r.bits_acc = (uint8_t)bits_acc;
    r.msb_a = tag.msb_a;
    r.msb_b = tag.msb_b;
    r.psg_full_q16 = tag.psg_full_q16;
    return r;
}

static void emit(const struct op_sink *sink, const struct conv_shape *s, enum op_phase phase,
                 struct op_tag tag, int bits_a, int bits_b, int bits_out, int bits_acc)
{
    if (!sink || !sink->emit)
        return;
    struct oprec r = conv_oprec(s, phase, tag, bits_a, bits_b, bits_out, bits_acc);
    op_emit(sink, &r);
}

/* Sizes used everywhere below. */
struct dims {
    int ho, wo, hw_out, hw_in;
    int cin_g, cout_g, kk, kg;   /* kg = cin_g * k * k: one group's dot-product length */
    int direct;                  /* depthwise-like (cin_g == 1): direct loops beat gemm */
    int pointwise;               /* 1x1, stride 1, no padding: the input is its own im2col */
};

static struct dims dims_of(const struct conv_shape *s)
{
    struct dims d;
    d.ho = conv_out_h(s);
    d.wo = conv_out_w(s);
    d.hw_out = d.ho * d.wo;
    d.hw_in = s->h * s->w;
    d.cin_g = s->cin / s->groups;
    d.cout_g = s->cout / s->groups;
    d.kk = s->k * s->k;
    d.kg = d.cin_g * d.kk;
    d.direct = d.cin_g == 1 && s->groups > 1;
    d.pointwise = s->k == 1 && s->stride == 1 && s->pad == 0;
    return d;
}

static long w_index(const struct conv_shape *s, const struct dims *d, int co, int cil, int kh, int kw)
{
    return (((long)co * d->cin_g + cil) * s->k + kh) * s->k + kw;
}

/* ---- per-thread scratch ---- */

static size_t align64(size_t b) { return (b + 63) / 64 * 64; }

/* Scratch of `per_thread` bytes for each of `threads` threads, from ws or a call-local one. */
struct scratch {
    struct fx_workspace local;
    char *base;
    size_t per_thread;
};

static int scratch_get(struct scratch *sc, struct fx_workspace *ws, size_t per_thread, int threads)
{
    sc->local.buf = NULL;
    sc->local.bytes = 0;
    sc->per_thread = align64(per_thread);
    struct fx_workspace *use = ws ? ws : &sc->local;
    sc->base = fx_workspace_reserve(use, sc->per_thread * (size_t)threads);
    return sc->base ? 0 : -1;
}

static void *scratch_of(const struct scratch *sc, int thread)
{
    return sc->base + sc->per_thread * (size_t)thread;
}

static void scratch_done(struct scratch *sc) { fx_workspace_free(&sc->local); }

/* ---- im2col / col2im (one sample, all channels; a group's rows are contiguous) ---- */

/* The output columns ow whose input column ow*stride - pad + kw lies inside [0, w): [*lo, *hi). */
static void valid_cols(const struct conv_shape *s, const struct dims *d, int kw, int *lo, int *hi)
{
    int a = s->pad - kw, b = s->w - 1 + s->pad - kw;
    int l = a <= 0 ? 0 : (a + s->stride - 1) / s->stride;
    int h = b < 0 ? 0 : b / s->stride + 1;
    if (h > d->wo)
        h = d->wo;
    if (l > h)
        l = h;
    *lo = l;
    *hi = h;
}

#define DEFINE_IM2COL(NAME, T)                                                                   \
    static void NAME(const struct conv_shape *s, const struct dims *d, const T *x, T *col)     \
    {                                                                                            \
        for (int c = 0; c < s->cin; c++)                                                         \
            for (int kh = 0; kh < s->k; kh++)                                                    \
                for (int kw = 0; kw < s->k; kw++) {                                              \
                    T *row = col + ((long)(c * s->k + kh) * s->k + kw) * d->hw_out;              \
                    const T *xc = x + (long)c * d->hw_in;                                        \
                    int lo, hi, off = kw - s->pad;                                               \
                    valid_cols(s, d, kw, &lo, &hi);                                              \
                    for (int oh = 0; oh < d->ho; oh++) {                                         \
                        int ih = oh * s->stride - s->pad + kh;                                   \
                        T *out = row + (long)oh * d->wo;                                         \
                        if (ih < 0 || ih >= s->h) {                                              \
                            memset(out, 0, sizeof(T) * (size_t)d->wo);                           \
                            continue;                                                            \
                        }                                                                        \
                        const T *xr = xc + (long)ih * s->w + off;                                \
                        for (int ow = 0; ow < lo; ow++)                                          \
                            out[ow] = 0;                                                         \
                        if (s->stride == 1)                                                      \
                            memcpy(out + lo, xr + lo, sizeof(T) * (size_t)(hi - lo));            \
                        else                                                                     \
                            for (int ow = lo; ow < hi; ow++)                                     \
                                out[ow] = xr[ow * s->stride];                                    \
                        for (int ow = hi; ow < d->wo; ow++)                                      \
                            out[ow] = 0;                                                         \
                    }                                                                            \
                }                                                                                \
    }

DEFINE_IM2COL(im2col_f32, float)
DEFINE_IM2COL(im2col_i16, int16_t)

/* gx += col folded back (gx must be zeroed first). The order of additions into each gx element
 * is fixed (c, kh, kw, oh, ow), so float results do not depend on threads. */
#define DEFINE_COL2IM(NAME, T)                                                                   \
    static void NAME(const struct conv_shape *s, const struct dims *d, const T *col, T *gx)    \
    {                                                                                            \
        for (int c = 0; c < s->cin; c++)                                                         \
            for (int kh = 0; kh < s->k; kh++)                                                    \
                for (int kw = 0; kw < s->k; kw++) {                                              \
                    const T *row = col + ((long)(c * s->k + kh) * s->k + kw) * d->hw_out;        \
                    T *gc = gx + (long)c * d->hw_in;                                             \
                    int lo, hi, off = kw - s->pad;                                               \
                    valid_cols(s, d, kw, &lo, &hi);                                              \
                    for (int oh = 0; oh < d->ho; oh++) {                                         \
                        int ih = oh * s->stride - s->pad + kh;                                   \
                        if (ih < 0 || ih >= s->h)                                                \
                            continue;                                                            \
                        const T *in = row + (long)oh * d->wo;                                    \
                        T *gr = gc + (long)ih * s->w + off;                                      \
                        if (s->stride == 1)                                                      \
                            for (int ow = lo; ow < hi; ow++)                                     \
                                gr[ow] += in[ow];                                                \
                        else                                                                     \
                            for (int ow = lo; ow < hi; ow++)                                     \
                                gr[ow * s->stride] += in[ow];                                    \
                    }                                                                            \
                }                                                                                \
    }

DEFINE_COL2IM(col2im_f32, float)
DEFINE_COL2IM(col2im_i64, int64_t)

/* ---- direct loops: the references, and the optimized path for depthwise ----
 * Each helper computes one sample (forward, backward-data) or one output channel over the whole
 * batch (backward-weight), so the references loop over them and the optimized depthwise path
 * runs them in parallel with identical results. */

static void fwd_direct_f32(const struct conv_shape *s, const struct dims *d, const float *x,
                           const float *w, float *y, int n)
{
    for (int co = 0; co < s->cout; co++) {
        int g = co / d->cout_g;
        for (int oh = 0; oh < d->ho; oh++)
            for (int ow = 0; ow < d->wo; ow++) {
                float acc = 0.0f;
                for (int cil = 0; cil < d->cin_g; cil++) {
                    const float *xc = x + ((long)n * s->cin + g * d->cin_g + cil) * d->hw_in;
                    for (int kh = 0; kh < s->k; kh++) {
                        int ih = oh * s->stride - s->pad + kh;
                        if (ih < 0 || ih >= s->h)
                            continue;
                        for (int kw = 0; kw < s->k; kw++) {
                            int iw = ow * s->stride - s->pad + kw;
                            if (iw < 0 || iw >= s->w)
                                continue;
                            acc += xc[(long)ih * s->w + iw] * w[w_index(s, d, co, cil, kh, kw)];
                        }
                    }
                }
                y[(((long)n * s->cout + co) * d->ho + oh) * d->wo + ow] = acc;
            }
    }
}

/* The output position that input row ih meets at kernel row kh, or -1. */
static inline int out_pos(int i, int kh, int stride, int pad, int limit)
{
    int t = i + pad - kh;
    if (t < 0 || t % stride)
        return -1;
    t /= stride;
    return t < limit ? t : -1;
}

static void bwd_data_direct_f32(const struct conv_shape *s, const struct dims *d, const float *gy,
                                const float *w, float *gx, int n)
{
    for (int ci = 0; ci < s->cin; ci++) {
        int g = ci / d->cin_g, cil = ci % d->cin_g;
        for (int ih = 0; ih < s->h; ih++)
            for (int iw = 0; iw < s->w; iw++) {
                float acc = 0.0f;
                for (int col = 0; col < d->cout_g; col++) {
                    int co = g * d->cout_g + col;
                    const float *gc = gy + ((long)n * s->cout + co) * d->hw_out;
                    for (int kh = 0; kh < s->k; kh++) {
                        int oh = out_pos(ih, kh, s->stride, s->pad, d->ho);
                        if (oh < 0)
                            continue;
                        for (int kw = 0; kw < s->k; kw++) {
                            int ow = out_pos(iw, kw, s->stride, s->pad, d->wo);
                            if (ow < 0)
                                continue;
                            acc += gc[(long)oh * d->wo + ow] * w[w_index(s, d, co, cil, kh, kw)];
                        }
                    }
                }
                gx[((long)n * s->cin + ci) * d->hw_in + (long)ih * s->w + iw] = acc;
            }
    }
}

static void bwd_weight_direct_f32(const struct conv_shape *s, const struct dims *d, const float *x,
                                  const float *gy, float *gw, int co)
{
    int g = co / d->cout_g;
    for (int cil = 0; cil < d->cin_g; cil++)
        for (int kh = 0; kh < s->k; kh++)
            for (int kw = 0; kw < s->k; kw++) {
                float acc = 0.0f;
                for (int n = 0; n < s->n; n++) {
                    const float *xc = x + ((long)n * s->cin + g * d->cin_g + cil) * d->hw_in;
                    const float *gc = gy + ((long)n * s->cout + co) * d->hw_out;
                    for (int oh = 0; oh < d->ho; oh++) {
                        int ih = oh * s->stride - s->pad + kh;
                        if (ih < 0 || ih >= s->h)
                            continue;
                        for (int ow = 0; ow < d->wo; ow++) {
                            int iw = ow * s->stride - s->pad + kw;
                            if (iw < 0 || iw >= s->w)
                                continue;
                            acc += gc[(long)oh * d->wo + ow] * xc[(long)ih * s->w + iw];
                        }
                    }
                }
                gw[w_index(s, d, co, cil, kh, kw)] = acc;
            }
}

/* Fixed-point twins: exact int64 sums; return the number of accumulator overflows. */

static float w_scale_of(const struct fx_tensor *w, int co) { return w->scale[w->per_channel ? co : 0]; }

static uint64_t fwd_direct_fx(const struct conv_shape *s, const struct dims *d, const struct fx_tensor *x,
                              const struct fx_tensor *w, float *y, int acc_bits, int n)
{
    uint64_t ovf = 0;
    const int16_t *xq = x->code, *wq = w->code;
    for (int co = 0; co < s->cout; co++) {
        int g = co / d->cout_g;
        float sw = w_scale_of(w, co);
        for (int oh = 0; oh < d->ho; oh++)
            for (int ow = 0; ow < d->wo; ow++) {
                int64_t acc = 0;
                for (int cil = 0; cil < d->cin_g; cil++) {
                    const int16_t *xc = xq + ((long)n * s->cin + g * d->cin_g + cil) * d->hw_in;
                    for (int kh = 0; kh < s->k; kh++) {
                        int ih = oh * s->stride - s->pad + kh;
                        if (ih < 0 || ih >= s->h)
                            continue;
                        for (int kw = 0; kw < s->k; kw++) {
                            int iw = ow * s->stride - s->pad + kw;
                            if (iw < 0 || iw >= s->w)
                                continue;
                            acc += (int64_t)xc[(long)ih * s->w + iw] * wq[w_index(s, d, co, cil, kh, kw)];
                        }
                    }
                }
                ovf += (uint64_t)fx_acc_overflows(acc, acc_bits);
                y[(((long)n * s->cout + co) * d->ho + oh) * d->wo + ow] = fx_dequant_acc(acc, x->scale[0], sw);
            }
    }
    return ovf;
}

static float data_w_scale(const struct fx_tensor *w) { return w->per_channel ? 1.0f : w->scale[0]; }

static uint64_t bwd_data_direct_fx(const struct conv_shape *s, const struct dims *d, const struct fx_tensor *gy,
                                   const struct fx_tensor *w, float *gx, int acc_bits, int n)
{
    uint64_t ovf = 0;
    float sw = data_w_scale(w);
    for (int ci = 0; ci < s->cin; ci++) {
        int g = ci / d->cin_g, cil = ci % d->cin_g;
        for (int ih = 0; ih < s->h; ih++)
            for (int iw = 0; iw < s->w; iw++) {
                int64_t acc = 0;
                for (int col = 0; col < d->cout_g; col++) {
                    int co = g * d->cout_g + col;
                    const int16_t *gc = gy->code + ((long)n * s->cout + co) * d->hw_out;
                    for (int kh = 0; kh < s->k; kh++) {
                        int oh = out_pos(ih, kh, s->stride, s->pad, d->ho);
                        if (oh < 0)
                            continue;
                        for (int kw = 0; kw < s->k; kw++) {
                            int ow = out_pos(iw, kw, s->stride, s->pad, d->wo);
                            if (ow < 0)
                                continue;
                            acc += (int64_t)gc[(long)oh * d->wo + ow] * w->code[w_index(s, d, co, cil, kh, kw)];
                        }
                    }
                }
                ovf += (uint64_t)fx_acc_overflows(acc, acc_bits);
                gx[((long)n * s->cin + ci) * d->hw_in + (long)ih * s->w + iw] = fx_dequant_acc(acc, gy->scale[0], sw);
            }
    }
    return ovf;
}

static uint64_t bwd_weight_direct_fx(const struct conv_shape *s, const struct dims *d, const struct fx_tensor *x,
                                     const struct fx_tensor *gy, int64_t *gw_acc, float *gw, int acc_bits, int co)
{
    uint64_t ovf = 0;
    int g = co / d->cout_g;
    for (int cil = 0; cil < d->cin_g; cil++)
        for (int kh = 0; kh < s->k; kh++)
            for (int kw = 0; kw < s->k; kw++) {
                int64_t acc = 0;
                for (int n = 0; n < s->n; n++) {
                    const int16_t *xc = x->code + ((long)n * s->cin + g * d->cin_g + cil) * d->hw_in;
                    const int16_t *gc = gy->code + ((long)n * s->cout + co) * d->hw_out;
                    for (int oh = 0; oh < d->ho; oh++) {
                        int ih = oh * s->stride - s->pad + kh;
                        if (ih < 0 || ih >= s->h)
                            continue;
                        for (int ow = 0; ow < d->wo; ow++) {
                            int iw = ow * s->stride - s->pad + kw;
                            if (iw < 0 || iw >= s->w)
                                continue;
                            acc += (int64_t)gc[(long)oh * d->wo + ow] * xc[(long)ih * s->w + iw];
                        }
                    }
                }
                long i = w_index(s, d, co, cil, kh, kw);
                ovf += (uint64_t)fx_acc_overflows(acc, acc_bits);
                if (gw_acc)
                    gw_acc[i] = acc;
                if (gw)
                    gw[i] = fx_dequant_acc(acc, x->scale[0], gy->scale[0]);
            }
    return ovf;
}

static void count_sums(struct fx_stats *st, uint64_t sums, uint64_t ovf)
{
    if (st) {
        st->acc_sums += sums;
        st->acc_overflows += ovf;
    }
}

/* ---- references ---- */

void conv_forward_f32_ref(const struct conv_shape *s, const float *x, const float *w, float *y)
{
    struct dims d = dims_of(s);
    for (int n = 0; n < s->n; n++)
        fwd_direct_f32(s, &d, x, w, y, n);
}

void conv_backward_data_f32_ref(const struct conv_shape *s, const float *gy, const float *w, float *gx)
{
    struct dims d = dims_of(s);
    for (int n = 0; n < s->n; n++)
        bwd_data_direct_f32(s, &d, gy, w, gx, n);
}

void conv_backward_weight_f32_ref(const struct conv_shape *s, const float *x, const float *gy, float *gw)
{
    struct dims d = dims_of(s);
    for (int co = 0; co < s->cout; co++)
        bwd_weight_direct_f32(s, &d, x, gy, gw, co);
}

void conv_forward_fx_ref(const struct conv_shape *s, const struct fx_tensor *x, const struct fx_tensor *w,
                         float *y, int acc_bits, struct fx_stats *st)
{
    struct dims d = dims_of(s);
    uint64_t ovf = 0;
    for (int n = 0; n < s->n; n++)
        ovf += fwd_direct_fx(s, &d, x, w, y, acc_bits, n);
    count_sums(st, (uint64_t)conv_y_count(s), ovf);
}

void conv_backward_data_fx_ref(const struct conv_shape *s, const struct fx_tensor *gy, const struct fx_tensor *w,
                               float *gx, int acc_bits, struct fx_stats *st)
{
    struct dims d = dims_of(s);
    uint64_t ovf = 0;
    for (int n = 0; n < s->n; n++)
        ovf += bwd_data_direct_fx(s, &d, gy, w, gx, acc_bits, n);
    count_sums(st, (uint64_t)conv_x_count(s), ovf);
}

void conv_backward_weight_fx_ref(const struct conv_shape *s, const struct fx_tensor *x, const struct fx_tensor *gy,
                                 int64_t *gw_acc, float *gw, int acc_bits, struct fx_stats *st)
{
    struct dims d = dims_of(s);
    uint64_t ovf = 0;
    for (int co = 0; co < s->cout; co++)
        ovf += bwd_weight_direct_fx(s, &d, x, gy, gw_acc, gw, acc_bits, co);
    count_sums(st, (uint64_t)conv_w_count(s), ovf);
}

/* ---- optimized float ---- */

int conv_forward_f32(const struct conv_shape *s, const float *x, const float *w, float *y,
                     struct fx_workspace *ws, const struct op_sink *sink, struct op_tag tag)
{
    if (conv_shape_check(s))
        return -1;
    struct dims d = dims_of(s);
    if (d.direct) {
#pragma omp parallel for schedule(static)
        for (int n = 0; n < s->n; n++)
            fwd_direct_f32(s, &d, x, w, y, n);
    } else {
        int threads = omp_get_max_threads();
        struct scratch sc;
        size_t col_bytes = d.pointwise ? 0 : sizeof(float) * (size_t)s->cin * d.kk * d.hw_out;
        if (scratch_get(&sc, ws, col_bytes, threads))
            return -1;
#pragma omp parallel for schedule(static) num_threads(threads)
        for (int n = 0; n < s->n; n++) {
            const float *xn = x + (long)n * s->cin * d.hw_in;
            const float *col = xn;
            if (!d.pointwise) {
                float *c = scratch_of(&sc, omp_get_thread_num());
                im2col_f32(s, &d, xn, c);
                col = c;
            }
            float *yn = y + (long)n * s->cout * d.hw_out;
            for (int g = 0; g < s->groups; g++)
                gemm_f32(0, 0, d.cout_g, d.hw_out, d.kg, w + (long)g * d.cout_g * d.kg, d.kg,
                         col + (long)g * d.kg * d.hw_out, d.hw_out,
                         yn + (long)g * d.cout_g * d.hw_out, d.hw_out, 0);
        }
        scratch_done(&sc);
    }
    emit(sink, s, OP_PHASE_FWD, tag, 32, 32, 32, 32);
    return 0;
}

int conv_backward_data_f32(const struct conv_shape *s, const float *gy, const float *w, float *gx,
                           struct fx_workspace *ws, const struct op_sink *sink, struct op_tag tag)
{
    if (conv_shape_check(s))
        return -1;
    struct dims d = dims_of(s);
    if (d.direct) {
#pragma omp parallel for schedule(static)
        for (int n = 0; n < s->n; n++)
            bwd_data_direct_f32(s, &d, gy, w, gx, n);
    } else {
        int threads = omp_get_max_threads();
        struct scratch sc;
        size_t col_bytes = d.pointwise ? 0 : sizeof(float) * (size_t)s->cin * d.kk * d.hw_out;
        if (scratch_get(&sc, ws, col_bytes, threads))
            return -1;
#pragma omp parallel for schedule(static) num_threads(threads)
        for (int n = 0; n < s->n; n++) {
            const float *gyn = gy + (long)n * s->cout * d.hw_out;
            float *gxn = gx + (long)n * s->cin * d.hw_in;
            float *col = d.pointwise ? gxn : scratch_of(&sc, omp_get_thread_num());
            for (int g = 0; g < s->groups; g++)
                gemm_f32(1, 0, d.kg, d.hw_out, d.cout_g, w + (long)g * d.cout_g * d.kg, d.kg,
                         gyn + (long)g * d.cout_g * d.hw_out, d.hw_out,
                         col + (long)g * d.kg * d.hw_out, d.hw_out, 0);
            if (!d.pointwise) {
                memset(gxn, 0, sizeof(float) * (size_t)s->cin * d.hw_in);
                col2im_f32(s, &d, col, gxn);
            }
        }
        scratch_done(&sc);
    }
    emit(sink, s, OP_PHASE_BWD_DATA, tag, 32, 32, 32, 32);
    return 0;
}

/* Samples [*lo, *hi) of thread t out of nt: contiguous blocks, so each thread's partial sum has a
 * fixed order for a given thread count. */
static void block_of(int n, int t, int nt, int *lo, int *hi)
{
    *lo = (int)((long)n * t / nt);
    *hi = (int)((long)n * (t + 1) / nt);
}

int conv_backward_weight_f32(const struct conv_shape *s, const float *x, const float *gy, float *gw,
                             struct fx_workspace *ws, const struct op_sink *sink, struct op_tag tag)
{
    if (conv_shape_check(s))
        return -1;
    struct dims d = dims_of(s);
    long wc = conv_w_count(s);
    if (d.direct) {
#pragma omp parallel for schedule(static)
        for (int co = 0; co < s->cout; co++)
            bwd_weight_direct_f32(s, &d, x, gy, gw, co);
    } else {
        int threads = omp_get_max_threads();
        struct scratch sc;
        size_t col_bytes = d.pointwise ? 0 : align64(sizeof(float) * (size_t)s->cin * d.kk * d.hw_out);
        size_t part_bytes = sizeof(float) * (size_t)wc;
        if (scratch_get(&sc, ws, col_bytes + part_bytes, threads))
            return -1;
        int used = 1;
#pragma omp parallel num_threads(threads)
        {
            int t = omp_get_thread_num(), nt = omp_get_num_threads(), lo, hi;
#pragma omp single
            used = nt;
            char *mine = scratch_of(&sc, t);
            float *part = (float *)(mine + col_bytes);
            memset(part, 0, part_bytes);
            block_of(s->n, t, nt, &lo, &hi);
            for (int n = lo; n < hi; n++) {
                const float *xn = x + (long)n * s->cin * d.hw_in;
                const float *col = xn;
                if (!d.pointwise) {
                    im2col_f32(s, &d, xn, (float *)mine);
                    col = (const float *)mine;
                }
                const float *gyn = gy + (long)n * s->cout * d.hw_out;
                for (int g = 0; g < s->groups; g++)
                    gemm_f32(0, 1, d.cout_g, d.kg, d.hw_out, gyn + (long)g * d.cout_g * d.hw_out, d.hw_out,
                             col + (long)g * d.kg * d.hw_out, d.hw_out,
                             part + (long)g * d.cout_g * d.kg, d.kg, 1);
            }
        }
        /* Reduce the partials in thread order: a fixed order for a given thread count. */
#pragma omp parallel for schedule(static)
        for (long i = 0; i < wc; i++) {
            float acc = 0.0f;
            for (int t = 0; t < used; t++)
                acc += ((const float *)((const char *)scratch_of(&sc, t) + col_bytes))[i];
            gw[i] = acc;
        }
        scratch_done(&sc);
    }
    emit(sink, s, OP_PHASE_BWD_WEIGHT, tag, 32, 32, 32, 32);
    return 0;
}

/* ---- optimized fixed point ---- */

int conv_forward_fx(const struct conv_shape *s, const struct fx_tensor *x, const struct fx_tensor *w,
                    float *y, int acc_bits, struct fx_stats *st,
                    struct fx_workspace *ws, const struct op_sink *sink, struct op_tag tag)
{
    if (conv_shape_check(s))
        return -1;
    struct dims d = dims_of(s);
    uint64_t ovf = 0;
    if (d.direct) {
#pragma omp parallel for schedule(static) reduction(+ : ovf)
        for (int n = 0; n < s->n; n++)
            ovf += fwd_direct_fx(s, &d, x, w, y, acc_bits, n);
    } else {
        int threads = omp_get_max_threads();
        int bx = fx_signed_bits(x->bits, x->is_signed), bw = fx_signed_bits(w->bits, w->is_signed);
        size_t col_bytes = d.pointwise ? 0 : align64(sizeof(int16_t) * (size_t)s->cin * d.kk * d.hw_out);
        size_t acc_bytes = sizeof(int64_t) * (size_t)s->cout * d.hw_out;
        struct scratch sc;
        if (scratch_get(&sc, ws, col_bytes + acc_bytes, threads))
            return -1;
#pragma omp parallel for schedule(static) num_threads(threads) reduction(+ : ovf)
        for (int n = 0; n < s->n; n++) {
            char *mine = scratch_of(&sc, omp_get_thread_num());
            int64_t *acc = (int64_t *)(mine + col_bytes);
            const int16_t *xn = x->code + (long)n * s->cin * d.hw_in;
            const int16_t *col = xn;
            if (!d.pointwise) {
                im2col_i16(s, &d, xn, (int16_t *)mine);
                col = (const int16_t *)mine;
            }
            for (int g = 0; g < s->groups; g++)
                gemm_i16(0, 0, d.cout_g, d.hw_out, d.kg, w->code + (long)g * d.cout_g * d.kg, d.kg,
                         col + (long)g * d.kg * d.hw_out, d.hw_out,
                         acc + (long)g * d.cout_g * d.hw_out, d.hw_out, 0, bw, bx);
            float *yn = y + (long)n * s->cout * d.hw_out;
            for (int co = 0; co < s->cout; co++) {
                float sw = w_scale_of(w, co);
                for (int p = 0; p < d.hw_out; p++) {
                    int64_t a = acc[(long)co * d.hw_out + p];
                    ovf += (uint64_t)fx_acc_overflows(a, acc_bits);
                    yn[(long)co * d.hw_out + p] = fx_dequant_acc(a, x->scale[0], sw);
                }
            }
        }
        scratch_done(&sc);
    }
    count_sums(st, (uint64_t)conv_y_count(s), ovf);
    emit(sink, s, OP_PHASE_FWD, tag, x->bits, w->bits, 32, acc_bits);
    return 0;
}

int conv_backward_data_fx(const struct conv_shape *s, const struct fx_tensor *gy, const struct fx_tensor *w,
                          float *gx, int acc_bits, struct fx_stats *st,
                          struct fx_workspace *ws, const struct op_sink *sink, struct op_tag tag)
{
    if (conv_shape_check(s))
        return -1;
    struct dims d = dims_of(s);
    uint64_t ovf = 0;
    if (d.direct) {
#pragma omp parallel for schedule(static) reduction(+ : ovf)
        for (int n = 0; n < s->n; n++)
            ovf += bwd_data_direct_fx(s, &d, gy, w, gx, acc_bits, n);
    } else {
        int threads = omp_get_max_threads();
        int bg = fx_signed_bits(gy->bits, gy->is_signed), bw = fx_signed_bits(w->bits, w->is_signed);
        size_t col_bytes = d.pointwise ? 0 : align64(sizeof(int64_t) * (size_t)s->cin * d.kk * d.hw_out);
        size_t acc_bytes = sizeof(int64_t) * (size_t)s->cin * d.hw_in;
        struct scratch sc;
        if (scratch_get(&sc, ws, col_bytes + acc_bytes, threads))
            return -1;
        float sw = data_w_scale(w);
#pragma omp parallel for schedule(static) num_threads(threads) reduction(+ : ovf)
        for (int n = 0; n < s->n; n++) {
            char *mine = scratch_of(&sc, omp_get_thread_num());
            int64_t *acc = (int64_t *)(mine + col_bytes);
            int64_t *col = d.pointwise ? acc : (int64_t *)mine;
            const int16_t *gyn = gy->code + (long)n * s->cout * d.hw_out;
            for (int g = 0; g < s->groups; g++)
                gemm_i16(1, 0, d.kg, d.hw_out, d.cout_g, w->code + (long)g * d.cout_g * d.kg, d.kg,
                         gyn + (long)g * d.cout_g * d.hw_out, d.hw_out,
                         col + (long)g * d.kg * d.hw_out, d.hw_out, 0, bw, bg);
            if (!d.pointwise) {
                memset(acc, 0, acc_bytes);
                col2im_i64(s, &d, col, acc);
            }
            float *gxn = gx + (long)n * s->cin * d.hw_in;
            for (long i = 0; i < (long)s->cin * d.hw_in; i++) {
                ovf += (uint64_t)fx_acc_overflows(acc[i], acc_bits);
                gxn[i] = fx_dequant_acc(acc[i], gy->scale[0], sw);
            }
        }
        scratch_done(&sc);
    }
    count_sums(st, (uint64_t)conv_x_count(s), ovf);
    emit(sink, s, OP_PHASE_BWD_DATA, tag, gy->bits, w->bits, 32, acc_bits);
    return 0;
}

int conv_backward_weight_fx(const struct conv_shape *s, const struct fx_tensor *x, const struct fx_tensor *gy,
                            int64_t *gw_acc, float *gw, int acc_bits, struct fx_stats *st,
                            struct fx_workspace *ws, const struct op_sink *sink, struct op_tag tag)
{
    if (conv_shape_check(s))
        return -1;
    struct dims d = dims_of(s);
    long wc = conv_w_count(s);
    uint64_t ovf = 0;
    if (d.direct) {
#pragma omp parallel for schedule(static) reduction(+ : ovf)
        for (int co = 0; co < s->cout; co++)
            ovf += bwd_weight_direct_fx(s, &d, x, gy, gw_acc, gw, acc_bits, co);
    } else {
        int threads = omp_get_max_threads();
        int bx = fx_signed_bits(x->bits, x->is_signed), bg = fx_signed_bits(gy->bits, gy->is_signed);
        size_t col_bytes = d.pointwise ? 0 : align64(sizeof(int16_t) * (size_t)s->cin * d.kk * d.hw_out);
        size_t part_bytes = sizeof(int64_t) * (size_t)wc;
        struct scratch sc;
        if (scratch_get(&sc, ws, col_bytes + part_bytes, threads))
            return -1;
        int used = 1;
#pragma omp parallel num_threads(threads)
        {
            int t = omp_get_thread_num(), nt = omp_get_num_threads(), lo, hi;
#pragma omp single
            used = nt;
            char *mine = scratch_of(&sc, t);
            int64_t *part = (int64_t *)(mine + col_bytes);
            memset(part, 0, part_bytes);
            block_of(s->n, t, nt, &lo, &hi);
            for (int n = lo; n < hi; n++) {
                const int16_t *xn = x->code + (long)n * s->cin * d.hw_in;
                const int16_t *col = xn;
                if (!d.pointwise) {
                    im2col_i16(s, &d, xn, (int16_t *)mine);
                    col = (const int16_t *)mine;
                }
                const int16_t *gyn = gy->code + (long)n * s->cout * d.hw_out;
                for (int g = 0; g < s->groups; g++)
                    gemm_i16(0, 1, d.cout_g, d.kg, d.hw_out, gyn + (long)g * d.cout_g * d.hw_out, d.hw_out,
                             col + (long)g * d.kg * d.hw_out, d.hw_out,
                             part + (long)g * d.cout_g * d.kg, d.kg, 1, bg, bx);
            }
        }
        /* Integer sums are exact: any order gives the same value. */
#pragma omp parallel for schedule(static) reduction(+ : ovf)
        for (long i = 0; i < wc; i++) {
            int64_t acc = 0;
            for (int t = 0; t < used; t++)
                acc += ((const int64_t *)((const char *)scratch_of(&sc, t) + col_bytes))[i];
            ovf += (uint64_t)fx_acc_overflows(acc, acc_bits);
            if (gw_acc)
                gw_acc[i] = acc;
            if (gw)
                gw[i] = fx_dequant_acc(acc, x->scale[0], gy->scale[0]);
        }
        scratch_done(&sc);
    }
    count_sums(st, (uint64_t)wc, ovf);
    emit(sink, s, OP_PHASE_BWD_WEIGHT, tag, x->bits, gy->bits, 32, acc_bits);
    return 0;
}
