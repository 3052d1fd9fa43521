/* Matrix multiply, the workhorse under conv and fc, in float and in exact integers.
 *   C[M x N] = op(A)[M x K] * op(B)[K x N]   (+ C when accumulate != 0)
 * op(X) = X or X^T; row-major with leading dimensions (lda, ldb, ldc as stored).
 * gemm_* dispatch at run time to the fastest implementation for this CPU (AVX2 or portable).
 * gemm_*_ref are the plain scalar references: the dispatched integer versions must equal them
 * bit for bit; the float versions must equal them within float reassociation error. */
#ifndef E2_GEMM_H
#define E2_GEMM_H

#include <stdint.h>

void gemm_f32(int trans_a, int trans_b, int M, int N, int K,
              const float *A, int lda, const float *B, int ldb,
              float *C, int ldc, int accumulate);
void gemm_f32_ref(int trans_a, int trans_b, int M, int N, int K,
                  const float *A, int lda, const float *B, int ldb,
                  float *C, int ldc, int accumulate);

/* Integer codes stored in int16 (8-bit codes fit too). Products and sums are exact: C is int64.
 * bits_a / bits_b are the signed widths of the codes (magnitude < 2^(bits-1)); the implementation
 * uses them to pick a chunk length whose int32 partial sums cannot overflow, so the result never
 * depends on the order of summation. */
void gemm_i16(int trans_a, int trans_b, int M, int N, int K,
              const int16_t *A, int lda, const int16_t *B, int ldb,
              int64_t *C, int ldc, int accumulate, int bits_a, int bits_b);
void gemm_i16_ref(int trans_a, int trans_b, int M, int N, int K,
                  const int16_t *A, int lda, const int16_t *B, int ldb,
                  int64_t *C, int ldc, int accumulate, int bits_a, int bits_b);

/* The name of the implementation gemm_* dispatch to ("avx2", "portable"). */
const char *gemm_impl_name(void);

#endif
