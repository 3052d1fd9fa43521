/* Matrix multiply, the workhorse under conv and fc, in float and in exact integers.
 *   C[M x N] = op(A)[M x K] * op(B)[K x N]   (+ C when accumulate != 0)
 * op(X) = X or X^T; row-major with leading dimensions (lda, ldb, ldc as stored).
 * gemm_* dispatch at run time by the kernel path (kernels/cpu.h): AVX2 on the avx2 path and above,
 * portable below.
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

/* How many k-steps of int32 partial sums gemm_i16 may add before spilling them into int64 so that
 * no partial sum can overflow, for codes with |a| <= 2^(bits_a-1) and |b| <= 2^(bits_b-1) (the
 * most negative code included); even, since products go in pairs. 0 means not even one pair is
 * safe (e.g. 16x16 bits). Widths outside 1..16 count as 16. When the chunk is under 32, the AVX2
 * path multiplies B's high and low bytes separately (two exact narrow products, about half the
 * speed of 16x8 bits) instead of spilling every few k-steps. */
int gemm_i16_chunk(int bits_a, int bits_b);

/* The implementations behind the dispatch, callable directly so tests and benchmarks can compare
 * them. Same contract as gemm_f32 / gemm_i16. The _avx2 versions need a CPU with AVX2 and FMA
 * (check gemm_cpu_has_avx2() first) and about 230 KiB of stack; the _portable ones run anywhere.
 * All of them split work over OpenMP threads (omp_get_max_threads(), none inside a parallel
 * region or for small products) by rows or columns of C only, never along K, so each element
 * of C is summed in the same order for any thread count: floats too are identical for 1 or more
 * threads. C must not overlap A or B. */
int gemm_cpu_has_avx2(void);
void gemm_f32_avx2(int trans_a, int trans_b, int M, int N, int K,
                   const float *A, int lda, const float *B, int ldb,
                   float *C, int ldc, int accumulate);
void gemm_i16_avx2(int trans_a, int trans_b, int M, int N, int K,
                   const int16_t *A, int lda, const int16_t *B, int ldb,
                   int64_t *C, int ldc, int accumulate, int bits_a, int bits_b);
void gemm_f32_portable(int trans_a, int trans_b, int M, int N, int K,
                       const float *A, int lda, const float *B, int ldb,
                       float *C, int ldc, int accumulate);
void gemm_i16_portable(int trans_a, int trans_b, int M, int N, int K,
                       const int16_t *A, int lda, const int16_t *B, int ldb,
                       int64_t *C, int ldc, int accumulate, int bits_a, int bits_b);

#endif
