/* Fixed-point quantization, dequantization and MSB predictors; rules in docs/numbers.md. */
#include "fixed.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

float fx_scale_for_max(float max_abs, int bits, int is_signed)
{
    if (!(max_abs > 0.0f) || !isfinite(max_abs))
        return 1.0f;
    float s = max_abs / (float)fx_qmax(bits, is_signed);
    return s > 0.0f ? s : 1.0f;   /* a max below qmax * FLT_TRUE_MIN underflows */
}

int16_t fx_quantize_one(float v, float scale, int bits, int is_signed, int stochastic,
                        uint64_t key, uint64_t index, int *saturated)
{
    double t = (double)v / (double)scale;
    double r;
    *saturated = 0;
    if (isnan(t)) {
        *saturated = 1;
        return 0;
    }
    if (stochastic)
        r = floor(t + (double)rng_uniform(key, index));
    else
        r = round(t);
    double hi = fx_qmax(bits, is_signed), lo = fx_qmin(bits, is_signed);
    if (r > hi) {
        *saturated = 1;
        r = hi;
    } else if (r < lo) {
        *saturated = 1;
        r = lo;
    }
    return (int16_t)r;
}

float fx_max_abs(const float *v, long count)
{
    float m = 0.0f;
#pragma omp parallel for reduction(max : m) schedule(static) if (count > 65536)
    for (long i = 0; i < count; i++) {
        float a = fabsf(v[i]);
        if (a > m)   /* false for NaN: NaN is ignored */
            m = a;
    }
    return m;
}

static int format_ok(const struct fx_format *f)
{
    return f && f->bits >= 2 && f->bits <= 16;
}

/* The quantization proper, once the scales are known. Each element is a pure function of its
 * value, scale and flat index, so the loop's split over threads cannot change a code. */
static void quantize_codes(const float *v, long outer, int channels, long inner,
                           const struct fx_format *fmt, const float *channel_mul, uint64_t key,
                           const float *scale, int16_t *code, struct fx_stats *st)
{
    long rows = outer * channels;
    uint64_t sat = 0;
#pragma omp parallel for reduction(+ : sat) schedule(static) if (rows * inner > 65536)
    for (long r = 0; r < rows; r++) {
        int c = (int)(r % channels);
        float mul = channel_mul ? channel_mul[c] : 1.0f;
        float s = scale[fmt->per_channel ? c : 0];
        long base = r * inner;
        for (long i = 0; i < inner; i++) {
            int clamped;
            float x = channel_mul ? v[base + i] * mul : v[base + i];
            code[base + i] = fx_quantize_one(x, s, fmt->bits, fmt->is_signed, fmt->stochastic,
                                             key, (uint64_t)(base + i), &clamped);
            sat += (uint64_t)clamped;
        }
    }
    if (st) {
        st->quantized += (uint64_t)(rows * inner);
        st->saturated += sat;
    }
}

int fx_quantize_with_scale(const float *v, long outer, int channels, long inner,
                           const struct fx_format *fmt, const float *channel_mul, uint64_t key,
                           const float *scale, int16_t *code, struct fx_stats *st)
{
    if (!format_ok(fmt) || outer < 0 || channels <= 0 || inner < 0)
        return -1;
    quantize_codes(v, outer, channels, inner, fmt, channel_mul, key, scale, code, st);
    return 0;
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
    quantize_codes(v, outer, channels, inner, fmt, channel_mul, key, scale, code, st);
    return 0;
}

void fx_dequantize(const int16_t *code, long outer, int channels, long inner,
                   int per_channel, const float *scale, float *v)
{
    long rows = outer * channels;
#pragma omp parallel for schedule(static) if (rows * inner > 65536)
    for (long r = 0; r < rows; r++) {
        float s = scale[per_channel ? (int)(r % channels) : 0];
        for (long i = 0; i < inner; i++)
            v[r * inner + i] = (float)code[r * inner + i] * s;
    }
}

void fx_msb(const int16_t *code, long count, int bits, int msb_bits, int is_signed,
            int16_t *out, struct fx_stats *st)
{
    if (msb_bits >= bits) {
        if (out != code)
            memmove(out, code, (size_t)count * sizeof *out);
        return;
    }
    int32_t step = 1 << (bits - msb_bits);
    int32_t hi = fx_qmax(msb_bits, is_signed), lo = fx_qmin(msb_bits, is_signed);
    uint64_t clipped = 0;
#pragma omp parallel for reduction(+ : clipped) schedule(static) if (count > 65536)
    for (long i = 0; i < count; i++) {
        int32_t q = code[i];
        int32_t a = q < 0 ? -q : q;
        int32_t m = (a + step / 2) / step;   /* nearest, ties away from zero */
        if (q < 0)
            m = -m;
        if (m > hi) {
            m = hi;
            clipped++;
        } else if (m < lo) {
            m = lo;
            clipped++;
        }
        out[i] = (int16_t)(m * step);
    }
    if (st)
        st->msb_clipped += clipped;
}
