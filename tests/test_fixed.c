/* Fixed-point formats: exact codes for hand-picked values, ties, saturation counted, stochastic
 * rounding unbiased and thread-count independent, accumulator overflow (PSG's MSB predictors:
 * test_psg.c). */
#include "cunit_main.h"
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "fixed.h"
#include "gradcheck.h"

static const struct fx_format S8 = { 8, 1, 0, 0 };
static const struct fx_format U8 = { 8, 0, 0, 0 };

static void test_ranges_and_scale(void)
{
    CU_ASSERT_EQUAL(fx_qmax(8, 1), 127);
    CU_ASSERT_EQUAL(fx_qmin(8, 1), -127);
    CU_ASSERT_EQUAL(fx_qmax(8, 0), 255);
    CU_ASSERT_EQUAL(fx_qmin(8, 0), 0);
    CU_ASSERT_EQUAL(fx_qmax(16, 1), 32767);
    CU_ASSERT_EQUAL(fx_qmax(4, 1), 7);
    CU_ASSERT_EQUAL(fx_signed_bits(8, 0), 9);
    CU_ASSERT_EQUAL(fx_signed_bits(8, 1), 8);
    CU_ASSERT_EQUAL(fx_scale_for_max(31.75f, 8, 1), 0.25f);
    CU_ASSERT_EQUAL(fx_scale_for_max(255.0f, 8, 0), 1.0f);
    CU_ASSERT_EQUAL(fx_scale_for_max(0.0f, 8, 1), 1.0f);
    CU_ASSERT_EQUAL(fx_scale_for_max(INFINITY, 8, 1), 1.0f);
    struct fx_format f32 = { 32, 1, 0, 0 };
    CU_ASSERT_TRUE(fx_is_float(&f32));
    CU_ASSERT_FALSE(fx_is_float(&S8));
}

/* Scale 0.25 (max 31.75 = 127 * 0.25): codes are v * 4 rounded, ties away from zero. */
static void test_nearest_codes_and_ties(void)
{
    const float v[] = { 0.125f, -0.125f, 0.375f, -0.375f, 31.75f, -31.75f, 0.1f, -0.1f, 0.0f, 10.0f };
    const int16_t want[] = { 1, -1, 2, -2, 127, -127, 0, 0, 0, 40 };
    int16_t code[10];
    float scale;
    struct fx_stats st = { 0 };
    CU_ASSERT_EQUAL_FATAL(fx_quantize(v, 1, 1, 10, &S8, NULL, 0, code, &scale, &st), 0);
    CU_ASSERT_EQUAL(scale, 0.25f);
    for (int i = 0; i < 10; i++)
        CU_ASSERT_EQUAL(code[i], want[i]);
    CU_ASSERT_EQUAL(st.quantized, 10);
    CU_ASSERT_EQUAL(st.saturated, 0);

    float back[10];
    fx_dequantize(code, 1, 1, 10, 0, &scale, back);
    CU_ASSERT_EQUAL(back[0], 0.25f);
    CU_ASSERT_EQUAL(back[4], 31.75f);
    CU_ASSERT_EQUAL(back[9], 10.0f);
}

static void test_saturation_counted(void)
{
    const float v[] = { 126.5f, 127.49f, 127.5f, 300.0f, -127.5f, -1000.0f, NAN, 2.5f, -2.5f };
    const int16_t want[] = { 127, 127, 127, 127, -127, -127, 0, 3, -3 };
    int16_t code[9];
    float scale = 1.0f;
    struct fx_stats st = { 0 };
    CU_ASSERT_EQUAL_FATAL(fx_quantize_with_scale(v, 1, 1, 9, &S8, NULL, 0, &scale, code, &st), 0);
    for (int i = 0; i < 9; i++)
        CU_ASSERT_EQUAL(code[i], want[i]);
    CU_ASSERT_EQUAL(st.saturated, 5);   /* 127.5 -> 128, 300, -127.5 -> -128, -1000, NaN */

    const float u[] = { -1.0f, -0.4f, 0.0f, 254.6f, 255.4f, 255.5f };
    const int16_t uwant[] = { 0, 0, 0, 255, 255, 255 };
    struct fx_stats su = { 0 };
    CU_ASSERT_EQUAL_FATAL(fx_quantize_with_scale(u, 1, 1, 6, &U8, NULL, 0, &scale, code, &su), 0);
    for (int i = 0; i < 6; i++)
        CU_ASSERT_EQUAL(code[i], uwant[i]);
    CU_ASSERT_EQUAL(su.saturated, 2);   /* -1 and 255.5 -> 256; -0.4 rounds to -0 = 0 in range */
}

/* Per channel: each channel's own max; channel_mul folds factors in before choosing the scale. */
static void test_per_channel_and_fold(void)
{
    /* weights [cout = 2][3] */
    const float w[] = { 1.0f, -0.5f, 0.25f, 8.0f, 2.0f, -4.1f };
    struct fx_format pc = { 8, 1, 1, 0 };
    int16_t code[6];
    float scale[2];
    CU_ASSERT_EQUAL_FATAL(fx_quantize(w, 1, 2, 3, &pc, NULL, 0, code, scale, NULL), 0);
    CU_ASSERT_EQUAL(scale[0], 1.0f / 127.0f);
    CU_ASSERT_EQUAL(scale[1], 8.0f / 127.0f);
    CU_ASSERT_EQUAL(code[0], 127);
    CU_ASSERT_EQUAL(code[3], 127);
    CU_ASSERT_EQUAL(code[4], 32);   /* 2 / (8/127) = 31.75 */
    CU_ASSERT_EQUAL(code[5], -65);   /* -4.1 / (8/127) = -65.09 */

    /* activations [n = 2][c = 2][hw = 2], channel 1 multiplied by 4 before quantizing. */
    const float a[] = { 1.0f, 2.0f, 3.0f, -1.0f, -2.0f, 0.5f, 0.25f, 7.9375f };
    const float mul[] = { 1.0f, 4.0f };
    float s;
    const int16_t want[] = { 4, 8, 48, -16, -8, 2, 4, 127 };
    int16_t c8[8];
    CU_ASSERT_EQUAL_FATAL(fx_quantize(a, 2, 2, 2, &S8, mul, 0, c8, &s, NULL), 0);
    CU_ASSERT_EQUAL(s, 0.25f);    /* max |a * mul| = 7.9375 * 4 = 31.75 */
    for (int i = 0; i < 8; i++)
        CU_ASSERT_EQUAL(c8[i], want[i]);
}

static void test_zero_tensor(void)
{
    float z[5] = { 0 };
    int16_t code[5] = { 9, 9, 9, 9, 9 };
    float s = 0.0f;
    struct fx_stats st = { 0 };
    CU_ASSERT_EQUAL(fx_quantize(z, 1, 1, 5, &S8, NULL, 0, code, &s, &st), 0);
    CU_ASSERT_EQUAL(s, 1.0f);
    for (int i = 0; i < 5; i++)
        CU_ASSERT_EQUAL(code[i], 0);
    struct fx_format bad = { 32, 1, 0, 0 };
    CU_ASSERT_EQUAL(fx_quantize(z, 1, 1, 5, &bad, NULL, 0, code, &s, &st), -1);
}

/* Two targets in one pass equal two separate quantizations: codes, saturation and counts, for
 * nearest and stochastic rounding, one target with per-channel multipliers (a conv's g_y feeds
 * both its backward passes this way). The scale is chosen small enough that some values saturate. */
static void test_targets_equal_separate_calls(void)
{
    enum { OUTER = 3, CH = 5, INNER = 37, N = OUTER * CH * INNER };
    float v[N], mul[CH] = { 0.5f, -2.0f, 1.0f, 0.125f, 3.0f }, sa = 0.02f, sb = 0.05f;
    int16_t a1[N], b1[N], a2[N], b2[N];
    gc_fill(v, N, 11, -4.0f, 4.0f);
    for (int stochastic = 0; stochastic <= 1; stochastic++) {
        struct fx_format f = { 8, 1, 0, stochastic };
        struct fx_stats sep = { 0 }, one = { 0 };
        fx_quantize_with_scale(v, OUTER, CH, INNER, &f, mul, 7, &sa, a1, &sep);
        fx_quantize_with_scale(v, OUTER, CH, INNER, &f, NULL, 9, &sb, b1, &sep);
        struct fx_target t[2] = { { mul, 7, &sa, a2, 0 }, { NULL, 9, &sb, b2, 0 } };
        CU_ASSERT_EQUAL_FATAL(fx_quantize_targets(v, OUTER, CH, INNER, &f, t, 2, &one), 0);
        CU_ASSERT_EQUAL(memcmp(a1, a2, sizeof a1), 0);
        CU_ASSERT_EQUAL(memcmp(b1, b2, sizeof b1), 0);
        CU_ASSERT_EQUAL(one.quantized, 2 * N);
        CU_ASSERT_EQUAL(one.saturated, sep.saturated);
        CU_ASSERT_TRUE(sep.saturated > 0);
    }
    struct fx_format f = { 8, 1, 0, 0 };
    struct fx_target t = { NULL, 0, &sa, a2, 0 };
    CU_ASSERT_EQUAL(fx_quantize_targets(v, OUTER, CH, INNER, &f, &t, 0, NULL), -1);
}

/* Stochastic rounding: every code is floor or ceil, the mean is unbiased, the same key gives the
 * same codes for 1 or 2 threads, another key other codes. */
#define SN 200000
static void test_stochastic(void)
{
    float *v = malloc(sizeof *v * SN);
    int16_t *c1 = malloc(sizeof *c1 * SN), *c2 = malloc(sizeof *c2 * SN), *c3 = malloc(sizeof *c3 * SN);
    struct fx_format sr = { 16, 1, 0, 1 };
    float scale = 1.0f;
    for (long i = 0; i < SN; i++)
        v[i] = (i & 1) ? 0.3f : -2.7f;
    uint64_t key = fx_round_key(42, 7, 3);
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    struct fx_stats st = { 0 };
    fx_quantize_with_scale(v, 1, 1, SN, &sr, NULL, key, &scale, c1, &st);
    omp_set_num_threads(2);
    fx_quantize_with_scale(v, 1, 1, SN, &sr, NULL, key, &scale, c2, NULL);
    omp_set_num_threads(threads);
    fx_quantize_with_scale(v, 1, 1, SN, &sr, NULL, fx_round_key(42, 8, 3), &scale, c3, NULL);
    CU_ASSERT_EQUAL(memcmp(c1, c2, sizeof *c1 * SN), 0);
    CU_ASSERT_NOT_EQUAL(memcmp(c1, c3, sizeof *c1 * SN), 0);
    CU_ASSERT_EQUAL(st.saturated, 0);
    double sum_pos = 0, sum_neg = 0;
    int outside = 0;
    for (long i = 0; i < SN; i++) {
        if (i & 1) {
            outside += c1[i] != 0 && c1[i] != 1;
            sum_pos += c1[i];
        } else {
            outside += c1[i] != -3 && c1[i] != -2;
            sum_neg += c1[i];
        }
    }
    CU_ASSERT_EQUAL(outside, 0);
    /* sd of the mean of SN/2 Bernoulli(0.3) draws: sqrt(0.21 / 1e5) = 0.00145; allow 5 sd */
    CU_ASSERT_DOUBLE_EQUAL(sum_pos / (SN / 2), 0.3, 0.0073);
    CU_ASSERT_DOUBLE_EQUAL(sum_neg / (SN / 2), -2.7, 0.0073);

    /* The automatic scale is thread-count independent too (max is order-independent). */
    gc_fill(v, SN, 5, -3.0f, 3.0f);
    float s1, s2;
    struct fx_format s8r = { 8, 1, 0, 1 };
    omp_set_num_threads(1);
    fx_quantize(v, 4, 10, SN / 40, &s8r, NULL, key, c1, &s1, NULL);
    omp_set_num_threads(2);
    fx_quantize(v, 4, 10, SN / 40, &s8r, NULL, key, c2, &s2, NULL);
    omp_set_num_threads(threads);
    CU_ASSERT_EQUAL(s1, s2);
    CU_ASSERT_EQUAL(memcmp(c1, c2, sizeof *c1 * SN), 0);
    free(v);
    free(c1);
    free(c2);
    free(c3);
}

/* The vectorized tensor path gives exactly fx_quantize_one's codes, for values around every tie,
 * out of range, infinite and NaN, in signed and unsigned formats. */
static void test_tensor_path_equals_scalar(void)
{
    enum { N = 4096 };
    float v[N];
    int16_t code[N];
    gc_fill(v, N, 9, -300.0f, 300.0f);
    for (int i = 0; i < 512; i++)   /* exact ties and their float neighbours */
        v[i] = nextafterf((float)(i - 256) + 0.5f, (i % 3 == 0) ? INFINITY : (i % 3 == 1) ? -INFINITY : 0.0f);
    for (int i = 512; i < 768; i++)
        v[i] = (float)(i - 640) + 0.5f;
    v[800] = INFINITY;
    v[801] = -INFINITY;
    v[802] = NAN;
    v[803] = 3e38f;
    v[804] = -0.0f;
    const int bits[] = { 8, 8, 4, 16, 12 }, sign[] = { 1, 0, 1, 1, 0 };
    const float scales[] = { 1.0f, 0.37f, 3.0f, 0.001f, 0.05f };
    for (int f = 0; f < 5; f++) {
        struct fx_format fmt = { bits[f], sign[f], 0, 0 };
        struct fx_stats st = { 0 };
        fx_quantize_with_scale(v, 1, 1, N, &fmt, NULL, 0, &scales[f], code, &st);
        uint64_t sat = 0;
        int mismatches = 0;
        for (int i = 0; i < N; i++) {
            int clamped;
            int16_t one = fx_quantize_one(v[i], scales[f], bits[f], sign[f], 0, 0, (uint64_t)i, &clamped);
            mismatches += one != code[i];
            sat += (uint64_t)clamped;
        }
        CU_ASSERT_EQUAL(mismatches, 0);
        CU_ASSERT_EQUAL(st.saturated, sat);
        CU_ASSERT(sat > 0);
    }
    /* the ties themselves: 0.5 -> 1, -0.5 -> -1, 1.5 -> 2, -1.5 -> -2 */
    float ties[4] = { 0.5f, -0.5f, 1.5f, -1.5f }, one = 1.0f;
    int16_t tc[4];
    fx_quantize_with_scale(ties, 1, 1, 4, &S8, NULL, 0, &one, tc, NULL);
    CU_ASSERT_EQUAL(tc[0], 1);
    CU_ASSERT_EQUAL(tc[1], -1);
    CU_ASSERT_EQUAL(tc[2], 2);
    CU_ASSERT_EQUAL(tc[3], -2);
}

/* Every tie of every code, with its float neighbours and the integers between, in the formats
 * the training uses (and a 4-bit one): the tensor path's codes and clamp count equal
 * fx_quantize_one's. Changing the rounding of ties, or the bound where a value counts as
 * clamped, by one float step fails this. */
static void test_every_tie(void)
{
    const int bits[] = { 8, 8, 16, 4 }, sign[] = { 1, 0, 1, 1 };
    for (int f = 0; f < 4; f++) {
        struct fx_format fmt = { bits[f], sign[f], 0, 0 };
        long lo = fx_qmin(bits[f], sign[f]) - 2, hi = fx_qmax(bits[f], sign[f]) + 2;
        long n = (hi - lo + 1) * 10;
        float *v = malloc(sizeof(float) * (size_t)n);
        int16_t *code = malloc(sizeof(int16_t) * (size_t)n);
        long m = 0;
        for (long k = lo; k <= hi; k++)
            for (int half = 0; half < 2; half++) {
                float c = (float)k + (half ? 0.5f : 0.0f);
                float below = nextafterf(c, -INFINITY), above = nextafterf(c, INFINITY);
                v[m++] = nextafterf(below, -INFINITY);
                v[m++] = below;
                v[m++] = c;
                v[m++] = above;
                v[m++] = nextafterf(above, INFINITY);
            }
        struct fx_stats st = { 0 };
        float one = 1.0f;
        fx_quantize_with_scale(v, 1, 1, m, &fmt, NULL, 0, &one, code, &st);
        uint64_t sat = 0;
        long mismatches = 0;
        for (long i = 0; i < m; i++) {
            int clamped;
            mismatches += fx_quantize_one(v[i], 1.0f, bits[f], sign[f], 0, 0, (uint64_t)i, &clamped) != code[i];
            sat += (uint64_t)clamped;
        }
        CU_ASSERT_EQUAL(mismatches, 0);
        CU_ASSERT_EQUAL(st.saturated, sat);
        CU_ASSERT(sat >= 20);   /* the values beyond lo - 0.5 and hi + 0.5 */
        free(v);
        free(code);
    }
}

static void test_accumulator(void)
{
    int64_t lim = (int64_t)1 << 47;
    CU_ASSERT_FALSE(fx_acc_overflows(lim - 1, 48));
    CU_ASSERT_TRUE(fx_acc_overflows(lim, 48));
    CU_ASSERT_FALSE(fx_acc_overflows(-lim, 48));
    CU_ASSERT_TRUE(fx_acc_overflows(-lim - 1, 48));
    CU_ASSERT_FALSE(fx_acc_overflows(INT64_MAX, 64));
    CU_ASSERT_FALSE(fx_acc_overflows(INT64_MAX, 0));
    CU_ASSERT_EQUAL(fx_dequant_acc(1000, 0.5f, 0.25f), 125.0f);
    CU_ASSERT_EQUAL(fx_dequant_acc(-3, 2.0f, 1.0f), -6.0f);
}

/* fx_dequant_accs against fx_dequant_acc and fx_acc_overflows one sum at a time: sums on and
 * around each width's limits, every width kind (none, 16, 24, 32, 48, 64), a length that leaves
 * a tail after the vector steps and crosses the 2^16 parts. */
static void test_dequant_accs_equal_one_at_a_time(void)
{
    enum { N = 65536 + 37 };
    int64_t *acc = malloc(sizeof *acc * N);
    float *out = malloc(sizeof *out * N);
    const int widths[] = { 0, 16, 24, 32, 48, 64 };
    uint64_t state = 12345;
    for (long i = 0; i < N; i++) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        int shift = (int)(state >> 58) % 50;   /* magnitudes up to 2^50 */
        int64_t v = (int64_t)(state >> 11) >> (53 - shift);
        acc[i] = (i % 7 == 0) ? ((int64_t)1 << (i % 48)) - (i % 3) : v;
        acc[i] = (i % 5 == 0) ? -acc[i] : acc[i];
    }
    for (size_t k = 0; k < sizeof widths / sizeof widths[0]; k++) {
        uint64_t expect = 0;
        for (long i = 0; i < N; i++)
            expect += (uint64_t)fx_acc_overflows(acc[i], widths[k]);
        CU_ASSERT_EQUAL(fx_dequant_accs(acc, N, 0.37f, 1.0e-3f, widths[k], out), expect);
        long bad = 0;
        for (long i = 0; i < N; i++)
            bad += memcmp(&out[i], &(float){ fx_dequant_acc(acc[i], 0.37f, 1.0e-3f) }, sizeof(float)) != 0;
        CU_ASSERT_EQUAL(bad, 0);
    }
    uint64_t some = fx_dequant_accs(acc, N, 1.0f, 1.0f, 24, out);
    CU_ASSERT(some > 0 && some < N);   /* the data straddles the limit */
    free(acc);
    free(out);
}

static void test_stats_and_workspace(void)
{
    struct fx_stats a = { 1, 2, 3, 4, 5 }, b = { 10, 20, 30, 40, 50 };
    fx_stats_add(&a, &b);
    CU_ASSERT_EQUAL(a.quantized, 11);
    CU_ASSERT_EQUAL(a.acc_overflows, 55);
    struct fx_workspace ws = { 0 };
    char *p = fx_workspace_reserve(&ws, 100);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL((uintptr_t)p % 64, 0);
    memset(p, 1, 100);
    CU_ASSERT_PTR_EQUAL(fx_workspace_reserve(&ws, 50), p);   /* no regrowth */
    CU_ASSERT_PTR_NOT_NULL(fx_workspace_reserve(&ws, 1 << 20));
    CU_ASSERT(ws.bytes >= (1u << 20));
    fx_workspace_free(&ws);
    CU_ASSERT_PTR_NULL(ws.buf);
}

/* fx_range_update: the largest |v| and smallest v, NaN ignored, any length (vector body + tail),
 * running from the values given; equal to fx_max_abs. */
static void test_range_update(void)
{
    float v[37];
    for (int i = 0; i < 37; i++)
        v[i] = (float)((i * 7) % 11) - 4.0f;   /* -4 .. 6 */
    v[3] = NAN;
    v[20] = -9.5f;
    v[35] = 12.25f;   /* in the scalar tail */
    for (int n = 0; n <= 37; n++) {
        float mx = 0.0f, mn = INFINITY, emx = 0.0f, emn = INFINITY;
        for (int i = 0; i < n; i++) {
            if (v[i] != v[i])
                continue;
            emx = fabsf(v[i]) > emx ? fabsf(v[i]) : emx;
            emn = v[i] < emn ? v[i] : emn;
        }
        fx_range_update(v, n, &mx, &mn);
        CU_ASSERT_EQUAL(mx, emx);
        CU_ASSERT_EQUAL(mn, emn);
        CU_ASSERT_EQUAL(mx, fx_max_abs(v, n));
    }
    float mx = 100.0f, mn = -100.0f;   /* running values are kept */
    fx_range_update(v, 37, &mx, &mn);
    CU_ASSERT_EQUAL(mx, 100.0f);
    CU_ASSERT_EQUAL(mn, -100.0f);
}

static void test_flush_denormals(void)
{
    volatile float tiny = 1e-38f, half = 0.01f;
    fx_flush_denormals(1);
    float d = tiny * half;   /* 1e-40 is denormal: flushed to 0 */
    CU_ASSERT_EQUAL(d, 0.0f);
    fx_flush_denormals(0);
    d = tiny * half;
    CU_ASSERT(d > 0.0f);
}

int main(void)
{
    CU_TestInfo tests[] = {
        { "ranges and scale", test_ranges_and_scale },
        { "nearest codes and ties", test_nearest_codes_and_ties },
        { "every tie of every code", test_every_tie },
        { "saturation counted", test_saturation_counted },
        { "per channel and fold", test_per_channel_and_fold },
        { "zero tensor", test_zero_tensor },
        { "tensor path equals scalar definition", test_tensor_path_equals_scalar },
        { "targets equal separate calls", test_targets_equal_separate_calls },
        { "stochastic rounding", test_stochastic },
        { "accumulator", test_accumulator },
        { "dequant accs equal one at a time", test_dequant_accs_equal_one_at_a_time },
        { "stats and workspace", test_stats_and_workspace },
        { "range update", test_range_update },
        { "flush denormals", test_flush_denormals },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("fixed", NULL, NULL, tests);
}
