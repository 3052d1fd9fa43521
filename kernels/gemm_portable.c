/* Portable implementations of gemm.h for CPUs without AVX2: plain C loops in an order the
 * compiler can vectorize (rows of C updated by a scaled row of B, or dot products when B is
 * transposed), rows of C split over OpenMP threads. Each element of C is summed in the same
 * order for any thread count. The integer version is also the fallback for widths too wide for
 * the madd path (gemm_i16_chunk() == 0): it multiplies and adds in int64 directly. */
#include "gemm.h"

#include <omp.h>

/* Below this many multiply-adds a second thread costs more than it saves. */
static const double PARALLEL_MIN_MACS = 262144.0;

static int run_parallel(int M, int N, int K)
{
    return !omp_in_parallel() && omp_get_max_threads() > 1 &&
           (double)M * N * K >= PARALLEL_MIN_MACS;
}

static void f32_row(int trans_a, int trans_b, int N, int K, const float *A, int lda,
                    const float *B, int ldb, float *c, int i, int accumulate)
{
    if (!accumulate)
        for (int j = 0; j < N; j++)
            c[j] = 0.0f;
    if (!trans_b) {
        for (int k = 0; k < K; k++) {
            float a = trans_a ? A[(long)k * lda + i] : A[(long)i * lda + k];
            const float *b = B + (long)k * ldb;
            for (int j = 0; j < N; j++)
                c[j] += a * b[j];
        }
    } else {
        for (int j = 0; j < N; j++) {
            const float *b = B + (long)j * ldb;
            float s = 0.0f;
            for (int k = 0; k < K; k++)
                s += (trans_a ? A[(long)k * lda + i] : A[(long)i * lda + k]) * b[k];
            c[j] += s;
        }
    }
}

void gemm_f32_portable(int trans_a, int trans_b, int M, int N, int K,
                       const float *A, int lda, const float *B, int ldb,
                       float *C, int ldc, int accumulate)
{
    if (M <= 0 || N <= 0)
        return;
#pragma omp parallel for schedule(static) if (run_parallel(M, N, K))
    for (int i = 0; i < M; i++)
        f32_row(trans_a, trans_b, N, K, A, lda, B, ldb, C + (long)i * ldc, i, accumulate);
}

static void i16_row(int trans_a, int trans_b, int N, int K, const int16_t *A, int lda,
                    const int16_t *B, int ldb, int64_t *c, int i, int accumulate)
{
    if (!accumulate)
        for (int j = 0; j < N; j++)
            c[j] = 0;
    if (!trans_b) {
        for (int k = 0; k < K; k++) {
            int64_t a = trans_a ? A[(long)k * lda + i] : A[(long)i * lda + k];
            const int16_t *b = B + (long)k * ldb;
            for (int j = 0; j < N; j++)
                c[j] += a * b[j];
        }
    } else {
        for (int j = 0; j < N; j++) {
            const int16_t *b = B + (long)j * ldb;
            int64_t s = 0;
            for (int k = 0; k < K; k++)
                s += (int64_t)(trans_a ? A[(long)k * lda + i] : A[(long)i * lda + k]) * b[k];
            c[j] += s;
        }
    }
}

void gemm_i16_portable(int trans_a, int trans_b, int M, int N, int K,
                       const int16_t *A, int lda, const int16_t *B, int ldb,
                       int64_t *C, int ldc, int accumulate, int bits_a, int bits_b)
{
    (void)bits_a; /* int64 products and sums are exact at any width */
    (void)bits_b;
    if (M <= 0 || N <= 0)
        return;
#pragma omp parallel for schedule(static) if (run_parallel(M, N, K))
    for (int i = 0; i < M; i++)
        i16_row(trans_a, trans_b, N, K, A, lda, B, ldb, C + (long)i * ldc, i, accumulate);
}
