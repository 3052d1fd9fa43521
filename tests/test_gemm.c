/* gemm: the optimized integer GEMMs equal the scalar reference bit for bit (all shapes,
 * transposes, accumulate flags and code widths, spills included); the float GEMMs stay within a
 * stated rounding bound of it; threads never change a result; nothing outside C is written. */
#include "cunit_main.h"
#include "cpu_path_arg.h"
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "gemm.h"
#include "rng.h"

/* Padding around every matrix: strides are larger than the rows, and C's padding is checked. */
enum { PAD = 3 };
static const int64_t SENTINEL_I64 = 0x5a5a5a5a5a5a5a5aLL;
static const float SENTINEL_F32 = -12345.5f;

typedef void (*gemm_i16_fn)(int, int, int, int, int, const int16_t *, int, const int16_t *, int,
                            int64_t *, int, int, int, int);
typedef void (*gemm_f32_fn)(int, int, int, int, int, const float *, int, const float *, int,
                            float *, int, int);

/* ------------------------------------------------------------------ data */

/* A code of `bits` signed bits; one in eight is an extreme: -2^(b-1), -(2^(b-1)-1) or 2^(b-1)-1. */
static int16_t random_code(uint64_t key, uint64_t n, int bits)
{
    int32_t lo = -(1 << (bits - 1)), hi = (1 << (bits - 1)) - 1;
    uint64_t r = rng_u64(key, n);
    if ((r & 7) == 0) {
        int32_t ext[3] = {lo, lo + 1, hi};
        return (int16_t)ext[(r >> 3) % 3];
    }
    return (int16_t)(lo + (int32_t)((r >> 8) % (uint64_t)(hi - lo + 1)));
}

/* A stored matrix of rows x cols (as stored, i.e. already transposed if op is a transpose)
 * with leading dimension cols + PAD. */
static int16_t *random_i16(uint64_t key, int rows, int cols, int bits, int extreme_only)
{
    int ld = cols + PAD;
    int16_t *x = malloc(sizeof(int16_t) * ((size_t)rows * ld + 1));
    for (long i = 0; i < (long)rows * ld; i++)
        x[i] = extreme_only ? (int16_t)(-(1 << (bits - 1))) : random_code(key, (uint64_t)i, bits);
    return x;
}

static float *random_f32(uint64_t key, int rows, int cols)
{
    int ld = cols + PAD;
    float *x = malloc(sizeof(float) * ((size_t)rows * ld + 1));
    for (long i = 0; i < (long)rows * ld; i++)
        x[i] = 2.0f * rng_uniform(key, (uint64_t)i) - 1.0f;
    return x;
}

/* ------------------------------------------------------------------ i16 */

struct i16_case {
    int ta, tb, M, N, K, acc, bits_a, bits_b, extreme_only;
    uint64_t seed;
};

/* Run one case through `fn` and the reference; 1 if identical (padding of C included). */
static int i16_matches(gemm_i16_fn fn, struct i16_case c)
{
    int ar = c.ta ? c.K : c.M, ac = c.ta ? c.M : c.K;
    int br = c.tb ? c.N : c.K, bc = c.tb ? c.K : c.N;
    int16_t *A = random_i16(rng_key(c.seed, 1), ar, ac, c.bits_a, c.extreme_only);
    int16_t *B = random_i16(rng_key(c.seed, 2), br, bc, c.bits_b, c.extreme_only);
    int ldc = c.N + PAD;
    size_t nc = (size_t)c.M * ldc + PAD;
    int64_t *C = malloc(sizeof(int64_t) * nc), *R = malloc(sizeof(int64_t) * nc);
    for (size_t i = 0; i < nc; i++) {
        int in_c = (long)i < (long)c.M * ldc && (int)(i % ldc) < c.N;
        C[i] = in_c ? (int64_t)rng_u64(rng_key(c.seed, 3), i) >> 20 : SENTINEL_I64;
        R[i] = C[i];
    }
    fn(c.ta, c.tb, c.M, c.N, c.K, A, ac + PAD, B, bc + PAD, C, ldc, c.acc, c.bits_a, c.bits_b);
    gemm_i16_ref(c.ta, c.tb, c.M, c.N, c.K, A, ac + PAD, B, bc + PAD, R, ldc, c.acc, c.bits_a,
                 c.bits_b);
    int same = memcmp(C, R, sizeof(int64_t) * nc) == 0;
    free(A);
    free(B);
    free(C);
    free(R);
    return same;
}

static const int WIDTHS[][2] = {{8, 8}, {16, 8}, {8, 16}, {4, 10}, {16, 16}, {15, 16}, {12, 12},
                                {1, 1}, {2, 16}};
#define NWIDTHS ((int)(sizeof WIDTHS / sizeof WIDTHS[0]))

/* Many random shapes, small (1..40: every edge case of the tiles) and conv-like. */
static void check_i16_random_shapes(gemm_i16_fn fn)
{
    int fails = 0, runs = 0;
    for (int n = 0; n < 600; n++) {
        uint64_t key = rng_key(42, (uint64_t)n);
        struct i16_case c;
        c.ta = (int)(rng_u64(key, 0) & 1);
        c.tb = (int)(rng_u64(key, 1) & 1);
        c.acc = (int)(rng_u64(key, 2) & 1);
        int big = n % 5 == 0;
        c.M = 1 + (int)rng_below(key, 3, big ? 70 : 40);
        c.N = 1 + (int)rng_below(key, 4, big ? 300 : 40);
        c.K = 1 + (int)rng_below(key, 5, big ? 1200 : 40);
        c.bits_a = WIDTHS[n % NWIDTHS][0];
        c.bits_b = WIDTHS[n % NWIDTHS][1];
        c.extreme_only = 0;
        c.seed = key;
        runs++;
        if (!i16_matches(fn, c)) {
            fails++;
            if (fails <= 5)
                fprintf(stderr, "\n  i16 mismatch: ta=%d tb=%d M=%d N=%d K=%d acc=%d bits %dx%d",
                        c.ta, c.tb, c.M, c.N, c.K, c.acc, c.bits_a, c.bits_b);
        }
    }
    CU_ASSERT_EQUAL(fails, 0);
    CU_ASSERT_EQUAL(runs, 600);
}

static void test_i16_random_shapes(void) { check_i16_random_shapes(gemm_i16); }

static void test_i16_avx2_random_shapes(void)
{
    if (!gemm_cpu_has_avx2()) {
        cunit_skip("this CPU has no AVX2");
        return;
    }
    check_i16_random_shapes(gemm_i16_avx2);
}

static void test_i16_portable_random_shapes(void) { check_i16_random_shapes(gemm_i16_portable); }

/* Every code at its most negative value: each product is the largest positive one possible,
 * so the int32 partial sums reach their bound; K is long enough to need many spills and an
 * int64 total. All trans and accumulate combinations. */
static void test_i16_spills_at_extreme_codes(void)
{
    static const int spill_widths[][2] = {{16, 8}, {8, 16}, {16, 10}, {15, 16}, {8, 8}, {16, 16}};
    for (int w = 0; w < 6; w++)
        for (int t = 0; t < 8; t++) {
            int bits_a = spill_widths[w][0], bits_b = spill_widths[w][1];
            int chunk = gemm_i16_chunk(bits_a, bits_b);
            /* a few chunks plus an odd tail, but at most ~3000 */
            int K = chunk > 0 && chunk < 1000 ? 3 * chunk + 7 : 2999;
            struct i16_case c = {t & 1, (t >> 1) & 1, 7, 19, K, (t >> 2) & 1, bits_a, bits_b, 1,
                                 (uint64_t)(100 + w * 8 + t)};
            CU_ASSERT_TRUE(i16_matches(gemm_i16, c));
            c.extreme_only = 0;
            CU_ASSERT_TRUE(i16_matches(gemm_i16, c));
        }
    /* the total really exceeds int32: 3*510+7 products of 2^22 each */
    int16_t a[2000], b[2000];
    for (int k = 0; k < 2000; k++) {
        a[k] = -32768;
        b[k] = -128;
    }
    int64_t c = 0;
    gemm_i16(0, 0, 1, 1, 2000, a, 2000, b, 1, &c, 1, 0, 16, 8);
    CU_ASSERT_EQUAL(c, 2000LL << 22);
}

/* C = A B^T with a long K (backward-weight), at extreme codes and with K past several blocks of
 * up to 8 * chunk k-steps (what a dot-product kernel with 8 int32 lanes could use). */
static void test_i16_long_k_a_bt(void)
{
    static const int widths[][2] = {{16, 10}, {16, 8}, {8, 16}, {8, 8}, {12, 12}, {14, 12}};
    for (int w = 0; w < 6; w++) {
        int chunk = gemm_i16_chunk(widths[w][0], widths[w][1]);
        int block = 8 * chunk / 16 * 16;
        if (block > 1024)
            block = 1024;
        int K = 2 * block + 5;
        for (int acc = 0; acc < 2; acc++) {
            struct i16_case c = {0, 1, 9, 7, K, acc, widths[w][0], widths[w][1], 1,
                                 (uint64_t)(300 + w)};
            CU_ASSERT_TRUE(i16_matches(gemm_i16, c));
            c.extreme_only = 0;
            c.M = 33;
            c.N = 70;
            CU_ASSERT_TRUE(i16_matches(gemm_i16, c));
        }
    }
}

static void test_i16_chunk_values(void)
{
    CU_ASSERT_EQUAL(gemm_i16_chunk(16, 8), 510);  /* 511 * 2^22 <= 2^31-1, rounded to pairs */
    CU_ASSERT_EQUAL(gemm_i16_chunk(8, 16), 510);
    CU_ASSERT_EQUAL(gemm_i16_chunk(16, 10), 126);
    CU_ASSERT_EQUAL(gemm_i16_chunk(15, 16), 2);   /* 3 * 2^29 fits, so one pair */
    CU_ASSERT_EQUAL(gemm_i16_chunk(16, 16), 0);   /* (-2^15)^2 * 2 = 2^31 does not fit */
    CU_ASSERT_EQUAL(gemm_i16_chunk(0, 16), 0);    /* out of range counts as 16 */
    CU_ASSERT_EQUAL(gemm_i16_chunk(8, 8), 131070);
    CU_ASSERT_EQUAL(gemm_i16_chunk(4, 10), 524286); /* (2^31-1) >> 12, even */
    CU_ASSERT_EQUAL(gemm_i16_chunk(1, 1), 1 << 30);
    /* the bound itself: chunk products of the largest magnitude fit in int32 */
    for (int ba = 1; ba <= 16; ba++)
        for (int bb = 1; bb <= 16; bb++) {
            int ch = gemm_i16_chunk(ba, bb);
            double maxprod = ldexp(1.0, ba + bb - 2);
            CU_ASSERT(ch % 2 == 0);
            CU_ASSERT(ch * maxprod <= 2147483647.0);
            if (ch > 0 && ch < (1 << 30))
                CU_ASSERT((ch + 2) * maxprod > 2147483647.0);
        }
}

/* ------------------------------------------------------------------ f32 */

/* Both results lie within K*u*sum|a||b| of the exact sum (u = 2^-24, for any summation order),
 * so they may differ by twice that; |C0| adds one rounding when accumulating. */
static int f32_within_bound(gemm_f32_fn fn, int ta, int tb, int M, int N, int K, int acc,
                            uint64_t seed, double *worst)
{
    int ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
    int lda = ac + PAD, ldb = bc + PAD, ldc = N + PAD;
    float *A = random_f32(rng_key(seed, 1), ar, ac);
    float *B = random_f32(rng_key(seed, 2), br, bc);
    size_t nc = (size_t)M * ldc + PAD;
    float *C = malloc(sizeof(float) * nc), *R = malloc(sizeof(float) * nc);
    for (size_t i = 0; i < nc; i++) {
        int in_c = (long)i < (long)M * ldc && (int)(i % ldc) < N;
        C[i] = R[i] = in_c ? rng_uniform(rng_key(seed, 3), i) : SENTINEL_F32;
    }
    float *C0 = malloc(sizeof(float) * nc);
    memcpy(C0, C, sizeof(float) * nc);
    fn(ta, tb, M, N, K, A, lda, B, ldb, C, ldc, acc);
    gemm_f32_ref(ta, tb, M, N, K, A, lda, B, ldb, R, ldc, acc);
    int ok = 1;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double mag = acc ? fabs(C0[(long)i * ldc + j]) : 0.0;
            for (int k = 0; k < K; k++) {
                float a = ta ? A[(long)k * lda + i] : A[(long)i * lda + k];
                float b = tb ? B[(long)j * ldb + k] : B[(long)k * ldb + j];
                mag += fabs((double)a * b);
            }
            double bound = 2.0 * (K + 1) * ldexp(1.0, -24) * mag;
            double d = fabs((double)C[(long)i * ldc + j] - R[(long)i * ldc + j]);
            if (mag > 0 && d / mag > *worst)
                *worst = d / mag;
            if (d > bound)
                ok = 0;
        }
    for (size_t i = 0; i < nc; i++) /* padding untouched */
        if (!((long)i < (long)M * ldc && (int)(i % ldc) < N) && C[i] != SENTINEL_F32)
            ok = 0;
    free(A);
    free(B);
    free(C);
    free(R);
    free(C0);
    return ok;
}

static void check_f32_random_shapes(gemm_f32_fn fn)
{
    int fails = 0;
    double worst = 0.0;
    for (int n = 0; n < 300; n++) {
        uint64_t key = rng_key(7, (uint64_t)n);
        int big = n % 6 == 0;
        int M = 1 + (int)rng_below(key, 3, big ? 70 : 40);
        int N = 1 + (int)rng_below(key, 4, big ? 300 : 40);
        int K = 1 + (int)rng_below(key, 5, big ? 700 : 40);
        int ta = (int)(rng_u64(key, 0) & 1), tb = (int)(rng_u64(key, 1) & 1);
        int acc = (int)(rng_u64(key, 2) & 1);
        if (!f32_within_bound(fn, ta, tb, M, N, K, acc, key, &worst)) {
            fails++;
            if (fails <= 5)
                fprintf(stderr, "\n  f32 mismatch: ta=%d tb=%d M=%d N=%d K=%d acc=%d", ta, tb, M,
                        N, K, acc);
        }
    }
    CU_ASSERT_EQUAL(fails, 0);
    CU_ASSERT(worst < 1e-5); /* typical error is far below the bound */
}

static void test_f32_random_shapes(void) { check_f32_random_shapes(gemm_f32); }

static void test_f32_avx2_random_shapes(void)
{
    if (!gemm_cpu_has_avx2()) {
        cunit_skip("this CPU has no AVX2");
        return;
    }
    check_f32_random_shapes(gemm_f32_avx2);
}

static void test_f32_portable_random_shapes(void) { check_f32_random_shapes(gemm_f32_portable); }

/* ------------------------------------------------------------------ threads and edges */

/* Large enough to be split over threads, both ways (columns and rows). */
static void test_threads_do_not_change_results(void)
{
    static const int shapes[][3] = {{64, 1024, 288}, {576, 64, 64}, {16, 27, 8192}, {10, 33, 640}};
    int saved = omp_get_max_threads();
    for (int s = 0; s < 4; s++)
        for (int t = 0; t < 4; t++) {
            int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2], ta = t & 1, tb = t >> 1;
            int ac = ta ? M : K, bc = tb ? K : N;
            int16_t *A = random_i16(11, ta ? K : M, ac, 8, 0);
            int16_t *B = random_i16(12, tb ? N : K, bc, 16, 0);
            float *Af = random_f32(13, ta ? K : M, ac), *Bf = random_f32(14, tb ? N : K, bc);
            int64_t *C1 = calloc((size_t)M * N, sizeof(int64_t));
            int64_t *C2 = calloc((size_t)M * N, sizeof(int64_t));
            float *F1 = calloc((size_t)M * N, sizeof(float));
            float *F2 = calloc((size_t)M * N, sizeof(float));
            omp_set_num_threads(1);
            gemm_i16(ta, tb, M, N, K, A, ac + PAD, B, bc + PAD, C1, N, 0, 8, 16);
            gemm_f32(ta, tb, M, N, K, Af, ac + PAD, Bf, bc + PAD, F1, N, 0);
            omp_set_num_threads(2);
            gemm_i16(ta, tb, M, N, K, A, ac + PAD, B, bc + PAD, C2, N, 0, 8, 16);
            gemm_f32(ta, tb, M, N, K, Af, ac + PAD, Bf, bc + PAD, F2, N, 0);
            CU_ASSERT_EQUAL(memcmp(C1, C2, sizeof(int64_t) * M * N), 0);
            CU_ASSERT_EQUAL(memcmp(F1, F2, sizeof(float) * M * N), 0); /* floats too: same order */
            free(A);
            free(B);
            free(Af);
            free(Bf);
            free(C1);
            free(C2);
            free(F1);
            free(F2);
        }
    omp_set_num_threads(saved);
}

static void test_empty_and_zero_k(void)
{
    int64_t c[4] = {5, 6, 7, 8};
    float f[4] = {5, 6, 7, 8};
    int16_t a[1] = {3};
    float af[1] = {3};
    gemm_i16(0, 0, 2, 2, 0, a, 1, a, 2, c, 2, 1, 8, 8); /* K = 0, accumulate: C unchanged */
    CU_ASSERT_EQUAL(c[3], 8);
    gemm_f32(0, 0, 2, 2, 0, af, 1, af, 2, f, 2, 1);
    CU_ASSERT_EQUAL(f[3], 8.0f);
    gemm_i16(0, 0, 2, 2, 0, a, 1, a, 2, c, 2, 0, 8, 8); /* K = 0, no accumulate: C = 0 */
    CU_ASSERT(c[0] == 0 && c[1] == 0 && c[2] == 0 && c[3] == 0);
    gemm_f32(0, 0, 2, 2, 0, af, 1, af, 2, f, 2, 0);
    CU_ASSERT(f[0] == 0 && f[3] == 0);
    c[0] = 9;
    gemm_i16(0, 0, 0, 2, 5, a, 1, a, 2, c, 2, 0, 8, 8); /* M = 0: nothing touched */
    CU_ASSERT_EQUAL(c[0], 9);
}

static void test_impl_name(void)
{
    const char *name = gemm_impl_name();
    CU_ASSERT_STRING_EQUAL(name, gemm_cpu_has_avx2() ? "avx2" : "portable");
}

int main(int argc, char **argv)
{
    int arg = cpu_path_from_args(argc, argv);
    if (arg)
        return arg;
    CU_TestInfo tests[] = {
        { "i16 chunk bound", test_i16_chunk_values },
        { "i16 dispatched == ref, random shapes", test_i16_random_shapes },
        { "i16 portable == ref, random shapes", test_i16_portable_random_shapes },
        { "i16 spills at extreme codes", test_i16_spills_at_extreme_codes },
        { "i16 A B^T long K, extreme codes", test_i16_long_k_a_bt },
        { "f32 dispatched ~ ref", test_f32_random_shapes },
        { "f32 portable ~ ref", test_f32_portable_random_shapes },
        { "1 and 2 threads identical", test_threads_do_not_change_results },
        { "empty and K = 0", test_empty_and_zero_k },
        { "implementation name", test_impl_name },
        CU_TEST_INFO_NULL,
    };
    CU_TestInfo optional[] = {   /* need AVX2 */
        { "i16_avx2", test_i16_avx2_random_shapes },
        { "f32_avx2", test_f32_avx2_random_shapes },
        CU_TEST_INFO_NULL,
    };
    return cunit_main(argc, argv, "gemm", NULL, NULL, tests, optional);
}
