/* Fixed-point quantization and dequantization; rules in docs/numbers.md (PSG's MSB predictors:
 * psg.c). */
#include "fixed.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

void fx_stats_add(struct fx_stats *dst, const struct fx_stats *src)
{
    if (!dst || !src)
        return;
    dst->quantized += src->quantized;
    dst->saturated += src->saturated;
    dst->msb_clipped += src->msb_clipped;
    dst->acc_sums += src->acc_sums;
    dst->acc_overflows += src->acc_overflows;
}

void *fx_workspace_reserve(struct fx_workspace *ws, size_t bytes)
{
    if (ws->bytes >= bytes && ws->buf)
        return ws->buf;
    free(ws->buf);
    ws->buf = NULL;
    ws->bytes = 0;
    size_t rounded = (bytes + 63) / 64 * 64;
    if (rounded == 0)
        rounded = 64;
    ws->buf = aligned_alloc(64, rounded);
    if (ws->buf)
        ws->bytes = rounded;
    return ws->buf;
}

void fx_workspace_free(struct fx_workspace *ws)
{
    free(ws->buf);
    ws->buf = NULL;
    ws->bytes = 0;
}

static void set_ftz_daz(int on)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned mask = 0x8040u;   /* FTZ (bit 15) | DAZ (bit 6) */
    unsigned csr = _mm_getcsr();
    _mm_setcsr(on ? (csr | mask) : (csr & ~mask));
#else
    (void)on;
#endif
}

void fx_flush_denormals(int on)
{
    set_ftz_daz(on);
#pragma omp parallel num_threads(omp_get_max_threads())
    set_ftz_daz(on);
}

float fx_scale_for_max(float max_abs, int bits, int is_signed)
{
    if (!(max_abs > 0.0f) || !isfinite(max_abs))
        return 1.0f;
    float s = max_abs / (float)fx_qmax(bits, is_signed);
    return s > 0.0f ? s : 1.0f;   /* a max below qmax * FLT_TRUE_MIN underflows */
}

/* Nearest code for t (not NaN), ties away from zero, clamped later by the caller to [lo, hi].
 * t is first limited to [lo - 1, hi + 1] (which keeps every out-of-range t out of range), so
 * the truncation to int32 is defined and equals floor(|t|); |t| - floor(|t|) is exact. Written
 * without floorf so that it vectorizes under the default (trapping) math flags. */
static inline float round_nearest_code(float t, float lo, float hi)
{
    float tc = t > hi + 1.0f ? hi + 1.0f : t;
    tc = tc < lo - 1.0f ? lo - 1.0f : tc;
    float a = fabsf(tc), fl = (float)(int32_t)a;
    return copysignf(fl + ((a - fl) >= 0.5f ? 1.0f : 0.0f), tc);
}

int16_t fx_quantize_one(float v, float scale, int bits, int is_signed, int stochastic,
                        uint64_t key, uint64_t index, int *saturated)
{
    float t = v / scale;
    double r;
    *saturated = 0;
    if (isnan(t)) {
        *saturated = 1;
        return 0;
    }
    double hi = fx_qmax(bits, is_signed), lo = fx_qmin(bits, is_signed);
    if (stochastic)
        r = floor((double)t + (double)rng_uniform(key, index));
    else
        r = round_nearest_code(t, (float)lo, (float)hi);
    if (r > hi) {
        *saturated = 1;
        r = hi;
    } else if (r < lo) {
        *saturated = 1;
        r = lo;
    }
    return (int16_t)r;
}

/* Eight running maxima side by side: the compiler turns the lanes into one vmaxps (a plain max
 * reduction does not vectorize under strict float semantics). `a > m ? a : m` keeps m for NaN. */
static float max_abs_serial(const float *v, long count)
{
    float lane[8] = { 0 };
    long i = 0;
    for (; i + 8 <= count; i += 8)
        for (int j = 0; j < 8; j++) {
            float a = fabsf(v[i + j]);
            lane[j] = a > lane[j] ? a : lane[j];
        }
    float m = 0.0f;
    for (; i < count; i++) {
        float a = fabsf(v[i]);
        m = a > m ? a : m;
    }
    for (int j = 0; j < 8; j++)
        m = lane[j] > m ? lane[j] : m;
    return m;
}

/* 8 lanes in GCC vector extensions (SSE pairs without AVX): the plain loop with two running
 * extremes does not vectorize. m = a > m ? a : m as a select keeps m where a is NaN. */
typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

void fx_range_update(const float *v, long count, float *maxabs, float *minv)
{
    v8f mx, mn;
    for (int j = 0; j < 8; j++) {
        mx[j] = *maxabs;
        mn[j] = *minv;
    }
    const v8i absmask = {0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff,
                         0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff};
    long i = 0;
    for (; i + 8 <= count; i += 8) {
        v8f x;
        memcpy(&x, v + i, sizeof x);
        v8f a = (v8f)((v8i)x & absmask);
        v8i up = a > mx, down = x < mn;
        mx = (v8f)(((v8i)a & up) | ((v8i)mx & ~up));
        mn = (v8f)(((v8i)x & down) | ((v8i)mn & ~down));
    }
    float m = *maxabs, n = *minv;
    for (int j = 0; j < 8; j++) {
        m = mx[j] > m ? mx[j] : m;
        n = mn[j] < n ? mn[j] : n;
    }
    for (; i < count; i++) {
        float a = fabsf(v[i]);
        m = a > m ? a : m;
        n = v[i] < n ? v[i] : n;
    }
    *maxabs = m;
    *minv = n;
}

float fx_max_abs(const float *v, long count)
{
    if (count <= 65536)
        return max_abs_serial(v, count);
    float m = 0.0f;
    long blocks = (count + 65535) / 65536;
#pragma omp parallel for reduction(max : m) schedule(dynamic, 1)
    for (long b = 0; b < blocks; b++) {
        long lo = b * 65536, n = count - lo < 65536 ? count - lo : 65536;
        float x = max_abs_serial(v + lo, n);
        m = x > m ? x : m;
    }
    return m;
}

static int format_ok(const struct fx_format *f)
{
    return f && f->bits >= 2 && f->bits <= 16;
}

/* One row of nearest rounding: the same arithmetic as fx_quantize_one, written branch-free so
 * that it vectorizes. Returns the number of clamped values. */
static uint64_t nearest_row(const float *v, long n, float mul, float s, float lo, float hi, int16_t *out)
{
    unsigned sat = 0;   /* 32-bit: a 64-bit counter stops the loop from vectorizing */
    for (long i = 0; i < n; i++) {
        float t = (v[i] * mul) / s;
        int nan = t != t;
        float r = round_nearest_code(nan ? 0.0f : t, lo, hi);
        int over = r > hi, under = r < lo;
        sat += (unsigned)(nan | over | under);
        r = over ? hi : r;
        r = under ? lo : r;
        out[i] = (int16_t)(int32_t)r;
    }
    return sat;
}

static uint64_t stochastic_row(const float *v, long n, float mul, const struct fx_format *fmt, float s,
                               uint64_t key, uint64_t first, int16_t *out)
{
    uint64_t sat = 0;
    for (long i = 0; i < n; i++) {
        int clamped;
        out[i] = fx_quantize_one(v[i] * mul, s, fmt->bits, fmt->is_signed, 1, key, first + (uint64_t)i, &clamped);
        sat += (uint64_t)clamped;
    }
    return sat;
}

/* The quantization proper, once the scales are known, into nt targets in one pass over v (a row
 * is read from memory once and requantized from L1). Each element is a pure function of its
 * value, scale and flat index, so the loop's split over threads cannot change a code.
 * v * 1.0f == v exactly, so "no channel_mul" is a multiplication by 1. */
static uint64_t quantize_row(const float *v, long r, int channels, long inner, const struct fx_format *fmt,
                             const struct fx_target *t, int nt, float lo, float hi)
{
    uint64_t sat = 0;
    int c = (int)(r % channels);
    long base = r * inner;
    for (int k = 0; k < nt; k++) {
        float mul = t[k].channel_mul ? t[k].channel_mul[c] : 1.0f;
        float s = t[k].scale[fmt->per_channel ? c : 0];
        if (fmt->stochastic)
            sat += stochastic_row(v + base, inner, mul, fmt, s, t[k].key, t[k].first + (uint64_t)base,
                                  t[k].code + base);
        else
            sat += nearest_row(v + base, inner, mul, s, lo, hi, t[k].code + base);
    }
    return sat;
}

static void quantize_codes(const float *v, long outer, int channels, long inner,
                           const struct fx_format *fmt, const struct fx_target *t, int nt,
                           struct fx_stats *st)
{
    long rows = outer * channels;
    float lo = (float)fx_qmin(fmt->bits, fmt->is_signed), hi = (float)fx_qmax(fmt->bits, fmt->is_signed);
    uint64_t sat = 0;
    if (rows * inner <= 65536) {   /* no parallel region: small pieces come from inside one */
        for (long r = 0; r < rows; r++)
            sat += quantize_row(v, r, channels, inner, fmt, t, nt, lo, hi);
    } else {
        int chunk = inner >= 8192 ? 1 : (int)(8192 / (inner > 0 ? inner : 1));   /* rows per chunk */
#pragma omp parallel for reduction(+ : sat) schedule(dynamic, chunk)
        for (long r = 0; r < rows; r++)
            sat += quantize_row(v, r, channels, inner, fmt, t, nt, lo, hi);
    }
    if (st) {
        st->quantized += (uint64_t)(rows * inner * nt);
        st->saturated += sat;
    }
}

int fx_quantize_targets(const float *v, long outer, int channels, long inner, const struct fx_format *fmt,
                        const struct fx_target *targets, int count, struct fx_stats *st)
{
    if (!format_ok(fmt) || outer < 0 || channels <= 0 || inner < 0 || count < 1)
        return -1;
    quantize_codes(v, outer, channels, inner, fmt, targets, count, st);
    return 0;
}

int fx_quantize_with_scale(const float *v, long outer, int channels, long inner,
                           const struct fx_format *fmt, const float *channel_mul, uint64_t key,
                           const float *scale, int16_t *code, struct fx_stats *st)
{
    struct fx_target t = { channel_mul, key, scale, code, 0 };
    return fx_quantize_targets(v, outer, channels, inner, fmt, &t, 1, st);
}

/* Largest |v * mul[c]| of channel c (over all outer slices), or of everything when c < 0. */
static float range_max(const float *v, long outer, int channels, long inner,
                       const float *channel_mul, int c)
{
    float m = 0.0f;
    int c0 = c < 0 ? 0 : c, c1 = c < 0 ? channels : c + 1;
    for (long o = 0; o < outer; o++)
        for (int ch = c0; ch < c1; ch++) {
            const float *p = v + (o * channels + ch) * inner;
            float mul = channel_mul ? fabsf(channel_mul[ch]) : 1.0f;
            float a = fx_max_abs(p, inner) * mul;
            if (a > m)
                m = a;
        }
    return m;
}

int fx_quantize(const float *v, long outer, int channels, long inner,
                const struct fx_format *fmt, const float *channel_mul, uint64_t key,
                int16_t *code, float *scale, struct fx_stats *st)
{
    if (!format_ok(fmt) || outer < 0 || channels <= 0 || inner < 0)
        return -1;
    /* max(|v|) * |mul| == max(|v * mul|) exactly: float multiplication by a constant is
     * monotone, so the scale is the same as taking the max of the products. */
    if (!fmt->per_channel && !channel_mul) {
        scale[0] = fx_scale_for_max(fx_max_abs(v, outer * channels * inner), fmt->bits, fmt->is_signed);
    } else if (fmt->per_channel) {
        for (int c = 0; c < channels; c++)
            scale[c] = fx_scale_for_max(range_max(v, outer, channels, inner, channel_mul, c),
                                        fmt->bits, fmt->is_signed);
    } else {
        scale[0] = fx_scale_for_max(range_max(v, outer, channels, inner, channel_mul, -1),
                                    fmt->bits, fmt->is_signed);
    }
    struct fx_target t = { channel_mul, key, scale, code, 0 };
    quantize_codes(v, outer, channels, inner, fmt, &t, 1, st);
    return 0;
}

void fx_dequantize(const int16_t *code, long outer, int channels, long inner,
                   int per_channel, const float *scale, float *v)
{
    long rows = outer * channels;
    int chunk = inner >= 8192 ? 1 : (int)(8192 / (inner > 0 ? inner : 1));   /* rows per chunk */
#pragma omp parallel for schedule(dynamic, chunk) if (rows * inner > 65536)
    for (long r = 0; r < rows; r++) {
        float s = scale[per_channel ? (int)(r % channels) : 0];
        for (long i = 0; i < inner; i++)
            v[r * inner + i] = (float)code[r * inner + i] * s;
    }
}

/* A 32-bit count and the limit's test written as one expression: a 64-bit counter or the
 * branches of fx_acc_overflows stop the loop from vectorizing. Parts of 2^16 keep the count
 * from wrapping. */
static unsigned dequant_part(const int64_t *acc, long n, double sa, double sb, int check, int64_t lim,
                             float *out)
{
    unsigned over = 0;
    for (long i = 0; i < n; i++) {
        over += (unsigned)(check & ((acc[i] >= lim) | (acc[i] < -lim)));
        out[i] = (float)((double)acc[i] * sa * sb);
    }
    return over;
}

uint64_t fx_dequant_accs(const int64_t *acc, long n, float scale_a, float scale_b, int acc_bits,
                         float *out)
{
    int check = acc_bits > 0 && acc_bits < 64;
    int64_t lim = check ? (int64_t)1 << (acc_bits - 1) : 0;
    uint64_t over = 0;
    for (long i = 0; i < n; i += 65536) {
        long m = n - i < 65536 ? n - i : 65536;
        over += dequant_part(acc + i, m, (double)scale_a, (double)scale_b, check, lim, out + i);
    }
    return over;
}

uint64_t fx_round_to_msb(const int16_t *code, long count, int bits, int msb_bits, int is_signed, int16_t *out)
{
    if (msb_bits >= bits) {
        if (out != code)
            memmove(out, code, (size_t)count * sizeof *out);
        return 0;
    }
    int shift = bits - msb_bits;
    int32_t step = 1 << shift;
    int32_t hi = fx_qmax(msb_bits, is_signed), lo = fx_qmin(msb_bits, is_signed);
    unsigned clipped = 0;   /* 32-bit, and a >= 0 with step a power of two: a shift; vectorizes */
    for (long i = 0; i < count; i++) {
        int32_t q = code[i];
        int32_t a = q < 0 ? -q : q;
        int32_t m = (a + step / 2) >> shift;   /* nearest, ties away from zero */
        m = q < 0 ? -m : m;
        int over = m > hi, under = m < lo;
        clipped += (unsigned)(over | under);
        m = over ? hi : m;
        m = under ? lo : m;
        out[i] = (int16_t)(m * step);
    }
    return clipped;
}
