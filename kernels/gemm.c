/* Scalar references, the i16 spill chunk and run-time dispatch for gemm.h
 * (implementations: gemm_avx2.c, gemm_portable.c). */
#include "gemm.h"

#include "cpu.h"

static inline float elem_f32(const float *X, int ld, int trans, int r, int c)
{
    return trans ? X[(long)c * ld + r] : X[(long)r * ld + c];
}

static inline int16_t elem_i16(const int16_t *X, int ld, int trans, int r, int c)
{
    return trans ? X[(long)c * ld + r] : X[(long)r * ld + c];
}

void gemm_f32_ref(int trans_a, int trans_b, int M, int N, int K,
                  const float *A, int lda, const float *B, int ldb,
                  float *C, int ldc, int accumulate)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float s = accumulate ? C[(long)i * ldc + j] : 0.0f;
            for (int k = 0; k < K; k++)
                s += elem_f32(A, lda, trans_a, i, k) * elem_f32(B, ldb, trans_b, k, j);
            C[(long)i * ldc + j] = s;
        }
}

void gemm_i16_ref(int trans_a, int trans_b, int M, int N, int K,
                  const int16_t *A, int lda, const int16_t *B, int ldb,
                  int64_t *C, int ldc, int accumulate, int bits_a, int bits_b)
{
    (void)bits_a;
    (void)bits_b;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            int64_t s = accumulate ? C[(long)i * ldc + j] : 0;
            for (int k = 0; k < K; k++)
                s += (int64_t)elem_i16(A, lda, trans_a, i, k) * elem_i16(B, ldb, trans_b, k, j);
            C[(long)i * ldc + j] = s;
        }
}

int gemm_i16_chunk(int bits_a, int bits_b)
{
    if (bits_a < 1 || bits_a > 16)
        bits_a = 16;
    if (bits_b < 1 || bits_b > 16)
        bits_b = 16;
    /* |a*b| <= 2^(bits_a-1) * 2^(bits_b-1); n such products fit int32 while n*2^e <= 2^31-1. */
    int e = bits_a + bits_b - 2;
    long long n = ((1LL << 31) - 1) >> e;
    if (n < 2)
        return 0;
    if (n > (1LL << 30))
        n = 1LL << 30;
    return (int)(n & ~1LL);
}

/* True when the dispatch path (cpu.h) is avx2 or above: a lowered path lowers gemm too. */
int gemm_cpu_has_avx2(void) { return cpu_path() >= CPU_AVX2; }

void gemm_f32(int trans_a, int trans_b, int M, int N, int K,
              const float *A, int lda, const float *B, int ldb,
              float *C, int ldc, int accumulate)
{
    if (gemm_cpu_has_avx2())
        gemm_f32_avx2(trans_a, trans_b, M, N, K, A, lda, B, ldb, C, ldc, accumulate);
    else
        gemm_f32_portable(trans_a, trans_b, M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

void gemm_i16(int trans_a, int trans_b, int M, int N, int K,
              const int16_t *A, int lda, const int16_t *B, int ldb,
              int64_t *C, int ldc, int accumulate, int bits_a, int bits_b)
{
    if (gemm_cpu_has_avx2())
        gemm_i16_avx2(trans_a, trans_b, M, N, K, A, lda, B, ldb, C, ldc, accumulate,
                      bits_a, bits_b);
    else
        gemm_i16_portable(trans_a, trans_b, M, N, K, A, lda, B, ldb, C, ldc, accumulate,
                          bits_a, bits_b);
}

const char *gemm_impl_name(void) { return gemm_cpu_has_avx2() ? "avx2" : "portable"; }
