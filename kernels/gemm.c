/* Scalar references and run-time dispatch for gemm.h. */
#include "gemm.h"

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

/* Until the optimized kernels land, dispatch goes to the references. */
void gemm_f32(int trans_a, int trans_b, int M, int N, int K,
              const float *A, int lda, const float *B, int ldb,
              float *C, int ldc, int accumulate)
{
    gemm_f32_ref(trans_a, trans_b, M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

void gemm_i16(int trans_a, int trans_b, int M, int N, int K,
              const int16_t *A, int lda, const int16_t *B, int ldb,
              int64_t *C, int ldc, int accumulate, int bits_a, int bits_b)
{
    gemm_i16_ref(trans_a, trans_b, M, N, K, A, lda, B, ldb, C, ldc, accumulate, bits_a, bits_b);
}

const char *gemm_impl_name(void) { return "portable"; }
