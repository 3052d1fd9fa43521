/* 2-D convolution: scalar references (direct loops) and optimized versions (im2col per sample +
 * gemm, OpenMP over samples). See conv.h for the semantics and docs/numbers.md for the numbers. */
#include "conv.h"

#include <math.h>
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
    struct oprec r = op_mac_record(OP_CONV, phase, tag, bits_a, bits_b, bits_out, bits_acc);
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

/* ---- depthwise (cin_g == 1): padded planes, outputs in register blocks of 8 ----
 * The input plane is copied once into a zero-padded buffer whose columns are split by phase
 * (column c at (c % stride) * wsp + c / stride), so that the 8 inputs a block of 8 outputs needs
 * for one tap are contiguous for any stride, and no inner loop tests bounds. A block of 8 outputs
 * is accumulated in a vector register over all taps (GCC vector extensions: AVX2 with
 * -march=native, SSE pairs otherwise). Backward-data is the stride-1 forward conv of the gradient
 * dilated by the stride, with the flipped kernel; backward-weight keeps 8 partial sums per tap.
 * Every float sum has a fixed order per plane or per channel, so results do not depend on the
 * thread count. Integer sums are exact: they run in int32 lanes when the code widths prove the
 * sum fits (codes must lie within their declared widths, as for gemm_i16), else in int64. */

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
typedef int16_t v8s __attribute__((vector_size(16)));

/* Unaligned loads. Macros, not functions: a function returning a 32-byte vector changes the
 * ABI when AVX is off (E2SIM_PORTABLE builds) and GCC warns about it. */
#define LOAD_V8F(dst, p) memcpy(&(dst), (p), sizeof(v8f))
#define LOAD_V8S_WIDE(dst, p)                 \
    do {                                      \
        v8s narrow_;                          \
        memcpy(&narrow_, (p), sizeof narrow_); \
        (dst) = __builtin_convertvector(narrow_, v8i); \
    } while (0)

struct dw_geom {
    int nb;           /* forward: blocks of 8 outputs per row */
    int hp, wsp, rs;  /* padded input: rows, columns per phase, row stride (= stride * wsp) */
    int nbx;          /* backward-data: blocks of 8 per gx row */
    int hb, wb;       /* backward-data: dilated gradient plane */
    int colo[256];    /* kernel column kw -> offset of its first input in a padded row */
};

static int imax(int a, int b) { return a > b ? a : b; }
static int imin(int a, int b) { return a < b ? a : b; }

static struct dw_geom dw_geom_of(const struct conv_shape *s, const struct dims *d)
{
    struct dw_geom g;
    int st = s->stride;
    g.nb = (d->wo + 7) / 8;
    g.hp = s->h + 2 * s->pad;
    g.wsp = imax((s->w + 2 * s->pad + st - 1) / st, g.nb * 8 + (s->k - 1) / st);
    g.rs = st * g.wsp;
    g.nbx = (s->w + 7) / 8;
    g.hb = s->h + s->k - 1;
    g.wb = imax(s->w + s->k - 1, g.nbx * 8 + s->k - 1);
    for (int kw = 0; kw < s->k; kw++)
        g.colo[kw] = (kw % st) * g.wsp + kw / st;
    return g;
}

/* Per-thread scratch: a padded plane (float or int16) plus per-tap lanes or a gx int64 plane. */
static size_t dw_plane_bytes(const struct dw_geom *g)
{
    return align64(sizeof(float) * (size_t)imax(g->hp * g->rs, g->hb * g->wb));
}

static size_t dw_scratch_bytes(const struct conv_shape *s, const struct dims *d)
{
    struct dw_geom g = dw_geom_of(s, d);
    return dw_plane_bytes(&g) + sizeof(int64_t) * (size_t)imax(d->kk * 8, d->hw_in);
}

static void *dw_extra(const struct dw_geom *g, void *scratch) { return (char *)scratch + dw_plane_bytes(g); }

#define DEFINE_PAD(NAME, T)                                                                      \
    static void NAME(const struct conv_shape *s, const struct dw_geom *g, const T *src, T *dst) \
    {                                                                                            \
        int st = s->stride;                                                                      \
        memset(dst, 0, sizeof(T) * (size_t)g->hp * g->rs);                                       \
        for (int ih = 0; ih < s->h; ih++) {                                                      \
            T *row = dst + (long)(ih + s->pad) * g->rs;                                          \
            const T *in = src + (long)ih * s->w;                                                 \
            if (st == 1) {                                                                       \
                memcpy(row + s->pad, in, sizeof(T) * (size_t)s->w);                              \
                continue;                                                                        \
            }                                                                                    \
            for (int iw = 0; iw < s->w; iw++) {                                                  \
                int c = iw + s->pad;                                                             \
                row[(c % st) * g->wsp + c / st] = in[iw];                                        \
            }                                                                                    \
        }                                                                                        \
    }

DEFINE_PAD(dw_pad_f32, float)
DEFINE_PAD(dw_pad_i16, int16_t)

/* Where the input of output column 8b (+ j) for kernel column kw lies in a padded row. */
static inline long dw_col(const struct dw_geom *g, int b, int kw)
{
    return (long)g->colo[kw] + b * 8;
}

/* B[r][c] = gy[oh][ow] at r = oh*stride + k-1-pad, c = ow*stride + k-1-pad, zeros elsewhere:
 * then gx[ih][iw] = sum over (a, c) of B[ih+a][iw+c] * w[k-1-a][k-1-c]. */
#define DEFINE_DILATE(NAME, T)                                                                   \
    static void NAME(const struct conv_shape *s, const struct dims *d, const struct dw_geom *g, \
                     const T *gy, T *B)                                                          \
    {                                                                                            \
        int off = s->k - 1 - s->pad;                                                             \
        memset(B, 0, sizeof(T) * (size_t)g->hb * g->wb);                                         \
        for (int oh = 0; oh < d->ho; oh++) {                                                     \
            int r = oh * s->stride + off;                                                        \
            if (r < 0 || r >= g->hb)                                                             \
                continue;                                                                        \
            for (int ow = 0; ow < d->wo; ow++) {                                                 \
                int c = ow * s->stride + off;                                                    \
                if (c >= 0 && c < g->wb)                                                         \
                    B[(long)r * g->wb + c] = gy[(long)oh * d->wo + ow];                          \
            }                                                                                    \
        }                                                                                        \
    }

DEFINE_DILATE(dw_dilate_f32, float)
DEFINE_DILATE(dw_dilate_i16, int16_t)

/* Does a sum of `terms` products of codes of these signed widths fit int32? */
static int fits_int32(long terms, int bits_a, int bits_b)
{
    double bound = (double)terms * ldexp(1.0, bits_a - 1) * ldexp(1.0, bits_b - 1);
    return bound < 2147483647.0;
}

/* Rows are done in pairs: two independent accumulator chains hide the add latency. (For an odd
 * last row the pair repeats it and the copy is dropped.) */
static void dw_fwd_plane_f32(const struct conv_shape *s, const struct dims *d, const struct dw_geom *g,
                             const float *xp, const float *wk, float *out)
{
    int k = s->k;
    for (int oh = 0; oh < d->ho; oh += 2) {
        int two = oh + 1 < d->ho;
        const float *base0 = xp + (long)oh * s->stride * g->rs;
        const float *base1 = base0 + (two ? (long)s->stride * g->rs : 0);
        for (int b = 0; b < g->nb; b++) {
            v8f a0 = { 0 }, a1 = { 0 };
            for (int kh = 0; kh < k; kh++) {
                const float *r0 = base0 + (long)kh * g->rs, *r1 = base1 + (long)kh * g->rs;
                for (int kw = 0; kw < k; kw++) {
                    float wv = wk[kh * k + kw];
                    long c = dw_col(g, b, kw);
                    v8f x0, x1;
                    LOAD_V8F(x0, r0 + c);
                    LOAD_V8F(x1, r1 + c);
                    a0 += wv * x0;
                    a1 += wv * x1;
                }
            }
            int n = imin(8, d->wo - b * 8);
            float *o = out + (long)oh * d->wo + b * 8;
            for (int j = 0; j < n; j++)
                o[j] = a0[j];
            if (two)
                for (int j = 0; j < n; j++)
                    o[d->wo + j] = a1[j];
        }
    }
}

static uint64_t dw_fwd_plane_fx(const struct conv_shape *s, const struct dims *d, const struct dw_geom *g,
                                const int16_t *xp, const int16_t *wk, int narrow, float sx, float sw,
                                int acc_bits, float *out)
{
    int k = s->k;
    uint64_t ovf = 0;
    for (int oh = 0; oh < d->ho; oh += 2) {
        int two = oh + 1 < d->ho;
        const int16_t *base0 = xp + (long)oh * s->stride * g->rs;
        const int16_t *base1 = base0 + (two ? (long)s->stride * g->rs : 0);
        for (int b = 0; b < g->nb; b++) {
            int64_t acc[2][8] = { { 0 } };
            if (narrow) {
                v8i a0 = { 0 }, a1 = { 0 };
                for (int kh = 0; kh < k; kh++) {
                    const int16_t *r0 = base0 + (long)kh * g->rs, *r1 = base1 + (long)kh * g->rs;
                    for (int kw = 0; kw < k; kw++) {
                        int32_t wv = wk[kh * k + kw];
                        long c = dw_col(g, b, kw);
                        v8i x0, x1;
                        LOAD_V8S_WIDE(x0, r0 + c);
                        LOAD_V8S_WIDE(x1, r1 + c);
                        a0 += wv * x0;
                        a1 += wv * x1;
                    }
                }
                for (int j = 0; j < 8; j++) {
                    acc[0][j] = a0[j];
                    acc[1][j] = a1[j];
                }
            } else {
                for (int kh = 0; kh < k; kh++) {
                    const int16_t *r0 = base0 + (long)kh * g->rs, *r1 = base1 + (long)kh * g->rs;
                    for (int kw = 0; kw < k; kw++) {
                        int64_t wv = wk[kh * k + kw];
                        long c = dw_col(g, b, kw);
                        for (int j = 0; j < 8; j++) {
                            acc[0][j] += wv * r0[c + j];
                            acc[1][j] += wv * r1[c + j];
                        }
                    }
                }
            }
            int n = imin(8, d->wo - b * 8);
            for (int r = 0; r <= two; r++) {
                float *o = out + (long)(oh + r) * d->wo + b * 8;
                for (int j = 0; j < n; j++) {
                    ovf += (uint64_t)fx_acc_overflows(acc[r][j], acc_bits);
                    o[j] = fx_dequant_acc(acc[r][j], sx, sw);
                }
            }
        }
    }
    return ovf;
}

/* gx plane of input channel ci from the gy planes of its cout_g output channels. */
static void dw_bwd_data_plane_f32(const struct conv_shape *s, const struct dims *d, const struct dw_geom *g,
                                  const float *gyn, const float *w, int ci, float *B, float *gxc)
{
    int k = s->k;
    for (int m = 0; m < d->cout_g; m++) {
        int co = ci * d->cout_g + m;
        const float *wk = w + (long)co * d->kk;
        dw_dilate_f32(s, d, g, gyn + (long)co * d->hw_out, B);
        for (int ih = 0; ih < s->h; ih++)
            for (int b = 0; b < g->nbx; b++) {
                int n = imin(8, s->w - b * 8);
                float *o = gxc + (long)ih * s->w + b * 8;
                v8f acc = { 0 };
                if (m)
                    for (int j = 0; j < n; j++)
                        acc[j] = o[j];
                for (int a = 0; a < k; a++) {
                    const float *br = B + (long)(ih + a) * g->wb + b * 8;
                    for (int c = 0; c < k; c++) {
                        v8f v;
                        LOAD_V8F(v, br + c);
                        acc += wk[(k - 1 - a) * k + (k - 1 - c)] * v;
                    }
                }
                for (int j = 0; j < n; j++)
                    o[j] = acc[j];
            }
    }
}

static uint64_t dw_bwd_data_plane_fx(const struct conv_shape *s, const struct dims *d, const struct dw_geom *g,
                                     const int16_t *gyn, const int16_t *w, int ci, int narrow, float sg,
                                     float sw, int acc_bits, int16_t *B, int64_t *accp, float *gxc)
{
    int k = s->k;
    memset(accp, 0, sizeof(int64_t) * (size_t)d->hw_in);
    for (int m = 0; m < d->cout_g; m++) {
        int co = ci * d->cout_g + m;
        const int16_t *wk = w + (long)co * d->kk;
        dw_dilate_i16(s, d, g, gyn + (long)co * d->hw_out, B);
        for (int ih = 0; ih < s->h; ih++)
            for (int b = 0; b < g->nbx; b++) {
                int n = imin(8, s->w - b * 8);
                int64_t *o = accp + (long)ih * s->w + b * 8;
                if (narrow) {
                    v8i acc = { 0 };
                    for (int a = 0; a < k; a++) {
                        const int16_t *br = B + (long)(ih + a) * g->wb + b * 8;
                        for (int c = 0; c < k; c++) {
                            v8i v;
                            LOAD_V8S_WIDE(v, br + c);
                            acc += (int32_t)wk[(k - 1 - a) * k + (k - 1 - c)] * v;
                        }
                    }
                    for (int j = 0; j < n; j++)
                        o[j] += acc[j];
                } else {
                    for (int a = 0; a < k; a++) {
                        const int16_t *br = B + (long)(ih + a) * g->wb + b * 8;
                        for (int c = 0; c < k; c++) {
                            int64_t wv = wk[(k - 1 - a) * k + (k - 1 - c)];
                            for (int j = 0; j < n; j++)
                                o[j] += wv * br[j + c];
                        }
                    }
                }
            }
    }
    return fx_dequant_accs(accp, d->hw_in, sg, sw, acc_bits, gxc);
}

/* gw of output channel co over the whole batch: 8 partial sums per tap (lane j takes the
 * output columns j, j+8, ...), added up in lane order at the end. */
static void dw_bwd_weight_co_f32(const struct conv_shape *s, const struct dims *d, const struct dw_geom *g,
                                 const float *x, const float *gy, int co, float *xp, v8f *lanes, float *gw)
{
    int ci = co / d->cout_g, full = d->wo / 8, rem = d->wo % 8;
    memset(lanes, 0, sizeof(v8f) * (size_t)d->kk);
    for (int n = 0; n < s->n; n++) {
        dw_pad_f32(s, g, x + ((long)n * s->cin + ci) * d->hw_in, xp);
        const float *gc = gy + ((long)n * s->cout + co) * d->hw_out;
        for (int kh = 0; kh < s->k; kh++)
            for (int kw = 0; kw < s->k; kw++) {
                v8f acc = lanes[kh * s->k + kw];
                for (int oh = 0; oh < d->ho; oh++) {
                    const float *gr = gc + (long)oh * d->wo;
                    const float *row = xp + (long)(oh * s->stride + kh) * g->rs;
                    for (int b = 0; b < full; b++) {
                        v8f gv, xv;
                        LOAD_V8F(gv, gr + b * 8);
                        LOAD_V8F(xv, row + dw_col(g, b, kw));
                        acc += gv * xv;
                    }
                    if (rem) {
                        v8f t = { 0 };
                        const float *xr = row + dw_col(g, full, kw);
                        for (int j = 0; j < rem; j++)
                            t[j] = gr[full * 8 + j] * xr[j];
                        acc += t;
                    }
                }
                lanes[kh * s->k + kw] = acc;
            }
    }
    for (int t = 0; t < d->kk; t++) {
        float sum = 0.0f;
        for (int j = 0; j < 8; j++)
            sum += lanes[t][j];
        gw[(long)co * d->kk + t] = sum;
    }
}

static uint64_t dw_bwd_weight_co_fx(const struct conv_shape *s, const struct dims *d, const struct dw_geom *g,
                                    const struct fx_tensor *x, const struct fx_tensor *gy, int co,
                                    int16_t *xp, int64_t *acc, int64_t *gw_acc, float *gw, int acc_bits)
{
    int ci = co / d->cout_g;
    memset(acc, 0, sizeof(int64_t) * (size_t)d->kk);
    for (int n = 0; n < s->n; n++) {
        dw_pad_i16(s, g, x->code + ((long)n * s->cin + ci) * d->hw_in, xp);
        const int16_t *gc = gy->code + ((long)n * s->cout + co) * d->hw_out;
        for (int kh = 0; kh < s->k; kh++)
            for (int kw = 0; kw < s->k; kw++) {
                int64_t sum = 0;
                for (int oh = 0; oh < d->ho; oh++) {
                    const int16_t *gr = gc + (long)oh * d->wo;
                    const int16_t *xr = xp + (long)(oh * s->stride + kh) * g->rs + dw_col(g, 0, kw);
                    for (int ow = 0; ow < d->wo; ow++)
                        sum += (int32_t)gr[ow] * xr[ow];
                }
                acc[kh * s->k + kw] += sum;
            }
    }
    uint64_t ovf = 0;
    for (int t = 0; t < d->kk; t++) {
        long i = (long)co * d->kk + t;
        ovf += (uint64_t)fx_acc_overflows(acc[t], acc_bits);
        if (gw_acc)
            gw_acc[i] = acc[t];
        if (gw)
            gw[i] = fx_dequant_acc(acc[t], x->scale[0], gy->scale[0]);
    }
    return ovf;
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

/* ---- backward-data of stride-1 convs as a forward conv ----
 * With stride 1 and pad <= k-1, gx is the forward conv of gy (padded by k-1-pad) with the
 * weights transposed per group (cin_g x cout_g) and flipped in space. That is one im2col of gy
 * and one gemm whose dot products run over cout_g*k*k, writing gx directly: no col2im and no
 * cin*k*k-row column buffer of partial sums. */

static int transposed_ok(const struct conv_shape *s, const struct dims *d)
{
    return s->stride == 1 && s->pad <= s->k - 1 && !d->pointwise && !d->direct;
}

/* The forward conv that computes gx: input gy (cout channels, ho x wo), output cin channels. */
static struct conv_shape transposed_shape(const struct conv_shape *s, const struct dims *d)
{
    struct conv_shape t = { s->n, s->cout, d->ho, d->wo, s->cin, s->k, 1, s->k - 1 - s->pad, s->groups };
    return t;
}

/* wt[g][ci_l][co_l][kh][kw] = w[g*cout_g + co_l][ci_l][k-1-kh][k-1-kw] */
#define DEFINE_TRANSPOSE_W(NAME, T)                                                              \
    static void NAME(const struct conv_shape *s, const struct dims *d, const T *w, T *wt)      \
    {                                                                                            \
        int k = s->k;                                                                            \
        for (int g = 0; g < s->groups; g++)                                                      \
            for (int cil = 0; cil < d->cin_g; cil++)                                             \
                for (int col = 0; col < d->cout_g; col++)                                        \
                    for (int kh = 0; kh < k; kh++)                                               \
                        for (int kw = 0; kw < k; kw++) {                                         \
                            long dst = ((((long)g * d->cin_g + cil) * d->cout_g + col) * k + kh) * k + kw; \
                            wt[dst] = w[w_index(s, d, g * d->cout_g + col, cil, k - 1 - kh, k - 1 - kw)]; \
                        }                                                                        \
    }

DEFINE_TRANSPOSE_W(transpose_w_f32, float)
DEFINE_TRANSPOSE_W(transpose_w_i16, int16_t)

/* ---- optimized float ---- */

int conv_forward_f32(const struct conv_shape *s, const float *x, const float *w, float *y,
                     struct fx_workspace *ws, const struct op_sink *sink, struct op_tag tag)
{
    if (conv_shape_check(s))
        return -1;
    struct dims d = dims_of(s);
    if (d.direct) {
        struct dw_geom g = dw_geom_of(s, &d);
        int threads = omp_get_max_threads();
        struct scratch sc;
        if (scratch_get(&sc, ws, dw_scratch_bytes(s, &d), threads))
            return -1;
#pragma omp parallel num_threads(threads)
        {
            float *xp = scratch_of(&sc, omp_get_thread_num());
            int last = -1;
#pragma omp for schedule(static)
            for (long p = 0; p < (long)s->n * s->cout; p++) {
                int n = (int)(p / s->cout), co = (int)(p % s->cout), ci = co / d.cout_g;
                if (n * s->cin + ci != last) {   /* channel multiplier: reuse the padded plane */
                    last = n * s->cin + ci;
                    dw_pad_f32(s, &g, x + (long)last * d.hw_in, xp);
                }
                dw_fwd_plane_f32(s, &d, &g, xp, w + (long)co * d.kk, y + p * d.hw_out);
            }
        }
        scratch_done(&sc);
    } else if (conv_direct_ok(s) || conv_direct_strided_ok(s)) {
        if (conv_direct_forward_f32(s, x, w, 0, y, ws))
            return -1;
    } else {
        int threads = omp_get_max_threads();
        struct scratch sc;
        size_t col_bytes = d.pointwise ? 0 : sizeof(float) * (size_t)s->cin * d.kk * d.hw_out;
        if (scratch_get(&sc, ws, col_bytes, threads))
            return -1;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
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
    struct conv_shape ts_of = transposed_shape(s, &d);
    if (d.direct) {
        struct dw_geom g = dw_geom_of(s, &d);
        int threads = omp_get_max_threads();
        struct scratch sc;
        if (scratch_get(&sc, ws, dw_scratch_bytes(s, &d), threads))
            return -1;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
        for (long p = 0; p < (long)s->n * s->cin; p++) {
            int n = (int)(p / s->cin), ci = (int)(p % s->cin);
            dw_bwd_data_plane_f32(s, &d, &g, gy + (long)n * s->cout * d.hw_out, w, ci,
                                  scratch_of(&sc, omp_get_thread_num()), gx + p * d.hw_in);
        }
        scratch_done(&sc);
    } else if (transposed_ok(s, &d) && conv_direct_ok(&ts_of)) {
        if (conv_direct_forward_f32(&ts_of, gy, w, 1, gx, ws))
            return -1;
    } else if (transposed_ok(s, &d)) {
        struct conv_shape ts = transposed_shape(s, &d);
        struct dims td = dims_of(&ts);
        int threads = omp_get_max_threads();
        size_t wt_bytes = align64(sizeof(float) * (size_t)conv_w_count(s));
        size_t col_bytes = sizeof(float) * (size_t)ts.cin * td.kk * td.hw_out;
        struct scratch sc;
        /* slab 0 starts with the transposed weights, shared by all threads */
        if (scratch_get(&sc, ws, wt_bytes + col_bytes, threads))
            return -1;
        float *wt = scratch_of(&sc, 0);
        transpose_w_f32(s, &d, w, wt);
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
        for (int n = 0; n < s->n; n++) {
            float *col = (float *)((char *)scratch_of(&sc, omp_get_thread_num()) + wt_bytes);
            float *gxn = gx + (long)n * s->cin * d.hw_in;
            im2col_f32(&ts, &td, gy + (long)n * s->cout * d.hw_out, col);
            for (int g = 0; g < s->groups; g++)
                gemm_f32(0, 0, d.cin_g, d.hw_in, td.kg, wt + (long)g * d.cin_g * td.kg, td.kg,
                         col + (long)g * td.kg * d.hw_in, d.hw_in,
                         gxn + (long)g * d.cin_g * d.hw_in, d.hw_in, 0);
        }
        scratch_done(&sc);
    } else {
        int threads = omp_get_max_threads();
        struct scratch sc;
        size_t col_bytes = d.pointwise ? 0 : sizeof(float) * (size_t)s->cin * d.kk * d.hw_out;
        if (scratch_get(&sc, ws, col_bytes, threads))
            return -1;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
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
        struct dw_geom g = dw_geom_of(s, &d);
        int threads = omp_get_max_threads();
        struct scratch sc;
        if (scratch_get(&sc, ws, dw_scratch_bytes(s, &d), threads))
            return -1;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
        for (int co = 0; co < s->cout; co++) {
            void *mine = scratch_of(&sc, omp_get_thread_num());
            dw_bwd_weight_co_f32(s, &d, &g, x, gy, co, mine, dw_extra(&g, mine), gw);
        }
        scratch_done(&sc);
    } else if (conv_direct_ok(s) || conv_direct_strided_ok(s)) {
        if (conv_direct_backward_weight_f32(s, x, gy, gw, ws))
            return -1;
    } else {
        /* The samples are summed in BWW_CHUNKS fixed chunks, each with its own partial sums,
         * added up in chunk order: the float result does not depend on the thread count (it
         * did when each thread summed its own share of the batch). Slab i holds thread i's
         * im2col buffer and chunk i's partial sums. */
        enum { BWW_CHUNKS = 8 };
        int threads = omp_get_max_threads();
        int per = (s->n + BWW_CHUNKS - 1) / BWW_CHUNKS, chunks = per > 0 ? (s->n + per - 1) / per : 0;
        struct scratch sc;
        size_t col_bytes = d.pointwise ? 0 : align64(sizeof(float) * (size_t)s->cin * d.kk * d.hw_out);
        size_t part_bytes = sizeof(float) * (size_t)wc;
        if (scratch_get(&sc, ws, col_bytes + part_bytes, threads > chunks ? threads : chunks))
            return -1;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
        for (int c = 0; c < chunks; c++) {
            char *mine = scratch_of(&sc, omp_get_thread_num());
            float *part = (float *)((char *)scratch_of(&sc, c) + col_bytes);
            memset(part, 0, part_bytes);
            int hi = (c + 1) * per < s->n ? (c + 1) * per : s->n;
            for (int n = c * per; n < hi; n++) {
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
#pragma omp parallel for schedule(static)
        for (long i = 0; i < wc; i++) {
            float acc = 0.0f;
            for (int c = 0; c < chunks; c++)
                acc += ((const float *)((const char *)scratch_of(&sc, c) + col_bytes))[i];
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
        struct dw_geom g = dw_geom_of(s, &d);
        int threads = omp_get_max_threads();
        struct scratch sc;
        if (scratch_get(&sc, ws, dw_scratch_bytes(s, &d), threads))
            return -1;
        int narrow = fits_int32(d.kk, fx_signed_bits(x->bits, x->is_signed), fx_signed_bits(w->bits, w->is_signed));
#pragma omp parallel num_threads(threads) reduction(+ : ovf)
        {
            int16_t *xp = scratch_of(&sc, omp_get_thread_num());
            int last = -1;
#pragma omp for schedule(static)
            for (long p = 0; p < (long)s->n * s->cout; p++) {
                int n = (int)(p / s->cout), co = (int)(p % s->cout), ci = co / d.cout_g;
                if (n * s->cin + ci != last) {
                    last = n * s->cin + ci;
                    dw_pad_i16(s, &g, x->code + (long)last * d.hw_in, xp);
                }
                ovf += dw_fwd_plane_fx(s, &d, &g, xp, w->code + (long)co * d.kk, narrow, x->scale[0],
                                       w_scale_of(w, co), acc_bits, y + p * d.hw_out);
            }
        }
        scratch_done(&sc);
    } else if (conv_direct_forward_i16_ok(s, fx_signed_bits(x->bits, x->is_signed),
                                          fx_signed_bits(w->bits, w->is_signed))) {
        if (conv_direct_forward_i16(s, x->code, fx_signed_bits(x->bits, x->is_signed), !x->is_signed, w->code,
                                    fx_signed_bits(w->bits, w->is_signed), 0, x->scale[0], w->scale,
                                    w->per_channel, acc_bits, y, 0, &ovf, ws))
            return -1;
    } else {
        int threads = omp_get_max_threads();
        int bx = fx_signed_bits(x->bits, x->is_signed), bw = fx_signed_bits(w->bits, w->is_signed);
        size_t col_bytes = d.pointwise ? 0 : align64(sizeof(int16_t) * (size_t)s->cin * d.kk * d.hw_out);
        size_t acc_bytes = sizeof(int64_t) * (size_t)s->cout * d.hw_out;
        struct scratch sc;
        if (scratch_get(&sc, ws, col_bytes + acc_bytes, threads))
            return -1;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) reduction(+ : ovf)
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
            for (int co = 0; co < s->cout; co++)
                ovf += fx_dequant_accs(acc + (long)co * d.hw_out, d.hw_out, x->scale[0], w_scale_of(w, co),
                                       acc_bits, yn + (long)co * d.hw_out);
        }
        scratch_done(&sc);
    }
    count_sums(st, (uint64_t)conv_y_count(s), ovf);
    emit(sink, s, OP_PHASE_FWD, tag, x->bits, w->bits, 32, acc_bits);
    return 0;
}

/* Whether the backward-data pass runs as the direct forward conv of its transposed shape. */
static int data_direct(const struct conv_shape *s, const struct dims *d, const struct fx_tensor *gy,
                       const struct fx_tensor *w)
{
    struct conv_shape ts = transposed_shape(s, d);
    return transposed_ok(s, d) &&
           conv_direct_forward_i16_ok(&ts, fx_signed_bits(gy->bits, gy->is_signed),
                                      fx_signed_bits(w->bits, w->is_signed));
}

int conv_backward_data_fx_adds(const struct conv_shape *s, const struct fx_tensor *gy,
                               const struct fx_tensor *w)
{
    if (conv_shape_check(s))
        return 0;
    struct dims d = dims_of(s);
    return !d.direct && data_direct(s, &d, gy, w);
}

int conv_backward_data_fx(const struct conv_shape *s, const struct fx_tensor *gy, const struct fx_tensor *w,
                          float *gx, int add, int acc_bits, struct fx_stats *st,
                          struct fx_workspace *ws, const struct op_sink *sink, struct op_tag tag)
{
    if (conv_shape_check(s))
        return -1;
    struct dims d = dims_of(s);
    int direct_data = !d.direct && data_direct(s, &d, gy, w);
    if (add && !direct_data)
        return -1;
    struct conv_shape ts_of = transposed_shape(s, &d);
    uint64_t ovf = 0;
    if (d.direct) {
        struct dw_geom g = dw_geom_of(s, &d);
        int threads = omp_get_max_threads();
        struct scratch sc;
        if (scratch_get(&sc, ws, dw_scratch_bytes(s, &d), threads))
            return -1;
        float sw = data_w_scale(w);
        int narrow = fits_int32(d.kk, fx_signed_bits(gy->bits, gy->is_signed), fx_signed_bits(w->bits, w->is_signed));
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) reduction(+ : ovf)
        for (long p = 0; p < (long)s->n * s->cin; p++) {
            int n = (int)(p / s->cin), ci = (int)(p % s->cin);
            void *mine = scratch_of(&sc, omp_get_thread_num());
            ovf += dw_bwd_data_plane_fx(s, &d, &g, gy->code + (long)n * s->cout * d.hw_out, w->code, ci,
                                        narrow, gy->scale[0], sw, acc_bits, mine, dw_extra(&g, mine), gx + p * d.hw_in);
        }
        scratch_done(&sc);
    } else if (direct_data) {
        float sw = data_w_scale(w);
        if (conv_direct_forward_i16(&ts_of, gy->code, fx_signed_bits(gy->bits, gy->is_signed), !gy->is_signed, w->code,
                                    fx_signed_bits(w->bits, w->is_signed), 1, gy->scale[0], &sw, 0,
                                    acc_bits, gx, add, &ovf, ws))
            return -1;
    } else if (transposed_ok(s, &d)) {
        struct conv_shape ts = transposed_shape(s, &d);
        struct dims td = dims_of(&ts);
        int threads = omp_get_max_threads();
        int bg = fx_signed_bits(gy->bits, gy->is_signed), bw = fx_signed_bits(w->bits, w->is_signed);
        size_t wt_bytes = align64(sizeof(int16_t) * (size_t)conv_w_count(s));
        size_t col_bytes = align64(sizeof(int16_t) * (size_t)ts.cin * td.kk * td.hw_out);
        size_t acc_bytes = sizeof(int64_t) * (size_t)s->cin * d.hw_in;
        struct scratch sc;
        if (scratch_get(&sc, ws, wt_bytes + col_bytes + acc_bytes, threads))
            return -1;
        int16_t *wt = scratch_of(&sc, 0);
        transpose_w_i16(s, &d, w->code, wt);
        float sw = data_w_scale(w);
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) reduction(+ : ovf)
        for (int n = 0; n < s->n; n++) {
            char *mine = (char *)scratch_of(&sc, omp_get_thread_num()) + wt_bytes;
            int16_t *col = (int16_t *)mine;
            int64_t *acc = (int64_t *)(mine + col_bytes);
            im2col_i16(&ts, &td, gy->code + (long)n * s->cout * d.hw_out, col);
            for (int g = 0; g < s->groups; g++)
                gemm_i16(0, 0, d.cin_g, d.hw_in, td.kg, wt + (long)g * d.cin_g * td.kg, td.kg,
                         col + (long)g * td.kg * d.hw_in, d.hw_in,
                         acc + (long)g * d.cin_g * d.hw_in, d.hw_in, 0, bw, bg);
            float *gxn = gx + (long)n * s->cin * d.hw_in;
            ovf += fx_dequant_accs(acc, (long)s->cin * d.hw_in, gy->scale[0], sw, acc_bits, gxn);
        }
        scratch_done(&sc);
    } else {
        int threads = omp_get_max_threads();
        int bg = fx_signed_bits(gy->bits, gy->is_signed), bw = fx_signed_bits(w->bits, w->is_signed);
        size_t col_bytes = d.pointwise ? 0 : align64(sizeof(int64_t) * (size_t)s->cin * d.kk * d.hw_out);
        size_t acc_bytes = sizeof(int64_t) * (size_t)s->cin * d.hw_in;
        struct scratch sc;
        if (scratch_get(&sc, ws, col_bytes + acc_bytes, threads))
            return -1;
        float sw = data_w_scale(w);
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) reduction(+ : ovf)
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
            ovf += fx_dequant_accs(acc, (long)s->cin * d.hw_in, gy->scale[0], sw, acc_bits, gxn);
        }
        scratch_done(&sc);
    }
    count_sums(st, (uint64_t)conv_x_count(s), ovf);
    emit(sink, s, OP_PHASE_BWD_DATA, tag, gy->bits, w->bits, 32, acc_bits);
    return 0;
}

/* conv_backward_weight_fx, and with m the predictor's sums in the same sweep, which only the
 * direct 16-bit path takes (1, nothing done, on any other). */
static int backward_weight_fx(const struct conv_shape *s, const struct fx_tensor *x, const struct fx_tensor *gy,
                              int64_t *gw_acc, float *gw, int acc_bits, struct conv_msb *m, struct fx_stats *st,
                              struct fx_workspace *ws, const struct op_sink *sink, struct op_tag tag)
{
    if (conv_shape_check(s))
        return -1;
    struct dims d = dims_of(s);
    long wc = conv_w_count(s);
    uint64_t ovf = 0;
    int direct_i16 = !d.direct && conv_direct_backward_weight_i16_ok(s, fx_signed_bits(x->bits, x->is_signed),
                                                                     fx_signed_bits(gy->bits, gy->is_signed));
    if (m && !direct_i16)
        return 1;
    if (d.direct) {
        struct dw_geom g = dw_geom_of(s, &d);
        int threads = omp_get_max_threads();
        struct scratch sc;
        if (scratch_get(&sc, ws, dw_scratch_bytes(s, &d), threads))
            return -1;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) reduction(+ : ovf)
        for (int co = 0; co < s->cout; co++) {
            void *mine = scratch_of(&sc, omp_get_thread_num());
            ovf += dw_bwd_weight_co_fx(s, &d, &g, x, gy, co, mine, dw_extra(&g, mine), gw_acc, gw, acc_bits);
        }
        scratch_done(&sc);
    } else if (direct_i16) {
        if (conv_direct_backward_weight_i16(s, x->code, fx_signed_bits(x->bits, x->is_signed), gy->code,
                                            fx_signed_bits(gy->bits, gy->is_signed), x->scale[0],
                                            gy->scale[0], acc_bits, gw_acc, gw, &ovf, m, ws))
            return -1;
        if (m) {
            count_sums(st, (uint64_t)wc, m->overflows);
            if (st)
                st->msb_clipped += m->clipped;
        }
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

int conv_backward_weight_fx(const struct conv_shape *s, const struct fx_tensor *x, const struct fx_tensor *gy,
                            int64_t *gw_acc, float *gw, int acc_bits, struct fx_stats *st,
                            struct fx_workspace *ws, const struct op_sink *sink, struct op_tag tag)
{
    return backward_weight_fx(s, x, gy, gw_acc, gw, acc_bits, NULL, st, ws, sink, tag);
}

int conv_backward_weight_fx_msb(const struct conv_shape *s, const struct fx_tensor *x, const struct fx_tensor *gy,
                                float *gw, int acc_bits, struct conv_msb *m, struct fx_stats *st,
                                struct fx_workspace *ws, const struct op_sink *sink, struct op_tag tag)
{
    return backward_weight_fx(s, x, gy, NULL, gw, acc_bits, m, st, ws, sink, tag);
}
