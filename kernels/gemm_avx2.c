/* AVX2/FMA implementations of gemm.h: packed, cache-blocked register-tile micro-kernels.
 *
 * Both types use the same plan (BLIS-like, sized for a Zen 3 core: 32 KiB L1d, 512 KiB L2):
 *   for each K block (KC deep)            -- for i16, also never longer than the spill chunk
 *     for each M block (MC rows): pack op(A) rows into MR-row panels            (L1/L2)
 *       for each N block (NC columns): pack op(B) into KC x NR panels           (L2)
 *         for each NR-column panel, for each MR-row panel: the micro-kernel computes an
 *           MR x NR tile in registers and adds it to C (or stores it, on the first K block
 *           without accumulate).
 * Conv shapes have M (output channels) <= MC, so A is packed once per K block and B once.
 * Transposes are handled while packing, so the micro-kernels see one layout. Edge tiles use
 * narrower micro-kernels (fewer rows; rows are spread evenly over the panels) and masked
 * loads/stores (fewer columns): nothing is computed twice and nothing outside C is touched.
 *
 * f32: 6 x 16 tile, 12 ymm accumulators, one broadcast of A and two loads of B per k.
 * i16: 4 x 16 tile of int32 sums (madd needs a temporary register, so 8 accumulators).
 *      B is packed as k-pairs interleaved per column, A as (a_k, a_k+1) int32 pairs, so one
 *      _mm256_madd_epi16 gives 8 columns x 2 k-steps. The int32 sums are widened into the
 *      int64 C at the end of each K block, and a K block never holds more k-steps than
 *      gemm_i16_chunk() allows, so no partial sum can overflow: the result is exact, hence
 *      equal to gemm_i16_ref bit for bit. Codes too wide for that (16 x 16 bits) are split
 *      into high and low bytes of B, two exact narrow products (see split_b_bytes).
 *      On Zen 3 eight madds and their adds take ~5 cycles, so i16 peaks near 1.6x the f32
 *      FMA rate (no VNNI here to fuse them).
 *
 * Packing buffers live on the stack (~230 KiB per calling thread): allocated per call they
 * were handed back to the system and faulted in again each time.
 *
 * Threads split C by columns (or by rows when C is narrow), never along K: every element of C
 * is summed in the same order for any thread count. The parts are handed out dynamically, up
 * to 4 per thread, so a thread the OS holds back does not hold up the others. Calls made
 * inside an OpenMP parallel region, and small problems, run on the calling thread.
 *
 * Compiled with target attributes, so the E2SIM_PORTABLE build (no -march) still builds it;
 * gemm.c calls it only when the CPU has AVX2 and FMA. */
#include "gemm.h"

#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>
#include <omp.h>
#include <string.h>

#define AVX2_FN __attribute__((target("avx2,fma")))
#define AVX2_INLINE static inline __attribute__((always_inline, target("avx2,fma")))

enum {
    MR = 6,             /* rows of the f32 register tile: 12 accumulators */
    MR_I16 = 4,         /* rows of the i16 tile: 8 accumulators, as madd needs a temporary */
    NR = 16,            /* columns of the register tile (two ymm) */
    MC = 96,            /* rows of A packed at once (multiple of MR and MR_I16) */
    NC = 128,           /* columns of B packed at once, read in 512-byte (f32) runs */
    KC_F32 = 256,       /* depth of a K block, f32: a B panel is 16 KiB */
    KC_I16 = 512,       /* depth of a K block, i16 (even): a B panel is 16 KiB */
    PACK_SLACK = 16,    /* elements after a packed A buffer that overlapping stores may touch */
};

/* Below this many multiply-adds a second thread costs more than it saves. */
static const double PARALLEL_MIN_MACS = 262144.0;

static int min_int(int a, int b) { return a < b ? a : b; }

/* ------------------------------------------------------------------ threads */

/* A rectangle of C given to one thread. */
struct gemm_part {
    int m0, m1, n0, n1;
};

static int threads_for(int M, int N, int K)
{
    if (omp_in_parallel())
        return 1;
    int t = omp_get_max_threads();
    if (t <= 1 || (double)M * N * K < PARALLEL_MIN_MACS)
        return 1;
    return t;
}

static int by_columns(int npanels, int mpanels, int nt)
{
    return npanels >= 2 * nt || npanels >= mpanels;
}

/* How many units of work to hand out to nt threads: up to 4 per thread, so a thread the OS
 * holds back leaves its share to the others, but each unit at least 4 panels wide (a unit
 * packs its own copy of the other operand). */
static int units_for(int M, int N, int mr, int nt)
{
    int npanels = (N + NR - 1) / NR, mpanels = (M + mr - 1) / mr;
    int units = (by_columns(npanels, mpanels, nt) ? npanels : mpanels) / 4;
    return units < nt ? nt : units > 4 * nt ? 4 * nt : units;
}

/* Unit `t` of `nt`: columns in whole NR panels when there are enough of them, else rows in
 * whole MR panels. Units depend only on the shape and nt, and a unit's results do not depend
 * on which thread computes it. */
static struct gemm_part part_of(int M, int N, int mr, int t, int nt)
{
    struct gemm_part p = {0, M, 0, N};
    int npanels = (N + NR - 1) / NR;
    int mpanels = (M + mr - 1) / mr;
    if (by_columns(npanels, mpanels, nt)) {
        p.n0 = min_int(N, (int)((long)npanels * t / nt) * NR);
        p.n1 = min_int(N, (int)((long)npanels * (t + 1) / nt) * NR);
    } else {
        p.m0 = min_int(M, (int)((long)mpanels * t / nt) * mr);
        p.m1 = min_int(M, (int)((long)mpanels * (t + 1) / nt) * mr);
    }
    return p;
}

/* ------------------------------------------------------------------ helpers */

/* Rows of A are cut into panels of at most mr_max rows, as even as possible (16 rows with
 * mr_max 6 give 6+5+5, not 6+6+4): narrow panels have too few accumulators to hide the
 * latency of the multiply-adds. Panel q starts at row panel_start(...) and is
 * panel_start(q+1) - panel_start(q) rows tall. */
static int panel_count(int mc, int mr_max) { return (mc + mr_max - 1) / mr_max; }

static int panel_start(int mc, int mr_max, int q)
{
    int np = panel_count(mc, mr_max);
    return q * (mc / np) + min_int(q, mc % np);
}

/* Lanes j < n all ones (n may be <= 0 or >= 8). */
AVX2_INLINE __m256i lane_mask32(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

AVX2_INLINE __m256i lane_mask64(int n)
{
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
}

/* r[j] becomes column j of the 8 x 8 block r. */
AVX2_INLINE void transpose8(__m256 r[8])
{
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

/* Transpose 32-bit elements: src rows (rows of them, ld_bytes apart) x cols into
 * dst[c * dst_ld + r], for r < 8 (rows past `rows` read as 0) and c < cols.
 * Whole 8-column blocks go through registers; the tail is copied one by one. Each dst row is
 * written with a full 8-lane store, so dst needs dst_ld >= 8 or slack behind it (callers
 * with dst_ld < 8 write rows in increasing order, so later rows overwrite the spill). */
AVX2_INLINE void transpose_block32(const void *src, long ld_bytes, int rows, int cols,
                                   void *dst, int dst_ld)
{
    const char *s = (const char *)src;
    float *d = (float *)dst;
    int c = 0;
    for (; c + 8 <= cols; c += 8) {
        __m256 r[8];
        for (int i = 0; i < 8; i++)
            r[i] = i < rows ? _mm256_loadu_ps((const float *)(s + i * ld_bytes) + c)
                            : _mm256_setzero_ps();
        transpose8(r);
        for (int j = 0; j < 8; j++)
            _mm256_storeu_ps(d + (long)(c + j) * dst_ld, r[j]);
    }
    for (; c < cols; c++)
        for (int i = 0; i < 8; i++) {
            float v = 0.0f;
            if (i < rows)
                memcpy(&v, s + i * ld_bytes + 4L * c, 4);
            d[(long)c * dst_ld + i] = v;
        }
}

/* ------------------------------------------------------------------ f32 */

/* Panels of op(A)[ic .. ic+mc) x [pc .. pc+kc): panel q (rows q*MR..) holds out[k*mr + i]. */
AVX2_FN static void pack_a_f32(int ta, const float *A, long lda, int ic, int pc, int mc, int kc,
                               float *out)
{
    for (int q = 0; q < panel_count(mc, MR); q++) {
        int ir = panel_start(mc, MR, q), mr = panel_start(mc, MR, q + 1) - ir;
        float *o = out + (long)ir * kc;
        if (!ta) {
            /* Rows of A are contiguous in k: transpose 8 k-columns at a time. */
            const float *a = A + (long)(ic + ir) * lda + pc;
            int k = 0;
            for (; k + 8 <= kc; k += 8) {
                __m256 r[8];
                for (int i = 0; i < 8; i++)
                    r[i] = i < mr ? _mm256_loadu_ps(a + i * lda + k) : _mm256_setzero_ps();
                transpose8(r);
                /* Overlapping stores in increasing order; the last spills into the next panel
                 * (rewritten later) or the buffer's slack. */
                for (int j = 0; j < 8; j++)
                    _mm256_storeu_ps(o + (long)(k + j) * mr, r[j]);
            }
            for (; k < kc; k++)
                for (int i = 0; i < mr; i++)
                    o[(long)k * mr + i] = a[i * lda + k];
        } else {
            const float *a = A + (long)pc * lda + ic + ir;
            for (int k = 0; k < kc; k++)
                for (int i = 0; i < mr; i++)
                    o[(long)k * mr + i] = a[(long)k * lda + i];
        }
    }
}

/* op(B)[pc .. pc+kc) x [jc .. jc+nc) as NR-column panels: panel q holds
 * out[q*kc*NR + k*NR + j] = B(k, q*NR + j), columns past nc zero. */
AVX2_FN static void pack_b_f32(int tb, const float *B, long ldb, int pc, int jc, int kc, int nc,
                               float *out)
{
    int full = nc / NR, rest = nc % NR;
    long panel = (long)kc * NR;
    if (!tb) {
        /* Row by row, so memory is read in long contiguous runs. */
        __m256i m0 = lane_mask32(rest), m1 = lane_mask32(rest - 8);
        for (int k = 0; k < kc; k++) {
            const float *b = B + (long)(pc + k) * ldb + jc;
            float *o = out + k * NR;
            for (int q = 0; q < full; q++) {
                _mm256_store_ps(o + q * panel, _mm256_loadu_ps(b + q * NR));
                _mm256_store_ps(o + q * panel + 8, _mm256_loadu_ps(b + q * NR + 8));
            }
            if (rest) {
                _mm256_store_ps(o + full * panel, _mm256_maskload_ps(b + full * NR, m0));
                _mm256_store_ps(o + full * panel + 8, _mm256_maskload_ps(b + full * NR + 8, m1));
            }
        }
    } else {
        /* B is stored N x K: row j of storage is column j of op(B). */
        for (int q = 0; q * NR < nc; q++) {
            int nr = min_int(NR, nc - q * NR);
            const float *b = B + (long)(jc + q * NR) * ldb + pc;
            transpose_block32(b, 4 * ldb, min_int(nr, 8), kc, out + q * panel, NR);
            transpose_block32(b + 8 * ldb, 4 * ldb, nr - 8, kc, out + q * panel + 8, NR);
        }
    }
}

/* Write one row of a tile (columns 0..7 in v0, 8..15 in v1) to C: store, or add to it. */
AVX2_INLINE void store_row_f32(int nr, __m256 v0, __m256 v1, float *p, int overwrite)
{
    if (nr == NR) {
        if (!overwrite) {
            v0 = _mm256_add_ps(_mm256_loadu_ps(p), v0);
            v1 = _mm256_add_ps(_mm256_loadu_ps(p + 8), v1);
        }
        _mm256_storeu_ps(p, v0);
        _mm256_storeu_ps(p + 8, v1);
        return;
    }
    __m256i m0 = lane_mask32(nr), m1 = lane_mask32(nr - 8);
    if (!overwrite) {
        v0 = _mm256_add_ps(_mm256_maskload_ps(p, m0), v0);
        v1 = _mm256_add_ps(_mm256_maskload_ps(p + 8, m1), v1);
    }
    _mm256_maskstore_ps(p, m0, v0);
    _mm256_maskstore_ps(p + 8, m1, v1);
}

/* The tile's rows, spelled out so that the accumulators are plain variables (registers), not an
 * array the compiler might keep in memory. Rows i >= mr fold away since mr is a constant. */
#define TILE_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)

/* C[mr x nr] (+)= sum over k < kc of a[k*mr + i] * b[k*NR + j]. */
AVX2_INLINE void ukr_f32(const int mr, int nr, int kc, const float *a, const float *b, float *C,
                         long ldc, int overwrite)
{
#define DECLARE(i) __m256 c##i##_0 = _mm256_setzero_ps(), c##i##_1 = _mm256_setzero_ps();
#define FMA_ROW(i)                                                                              \
    if (i < mr) {                                                                               \
        __m256 ai = _mm256_broadcast_ss(a + i);                                                 \
        c##i##_0 = _mm256_fmadd_ps(ai, b0, c##i##_0);                                           \
        c##i##_1 = _mm256_fmadd_ps(ai, b1, c##i##_1);                                           \
    }
#define STORE_ROW(i)                                                                            \
    if (i < mr)                                                                                 \
        store_row_f32(nr, c##i##_0, c##i##_1, C + i * ldc, overwrite);
    TILE_ROWS(DECLARE)
    for (int k = 0; k < kc; k++) {
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
        TILE_ROWS(FMA_ROW)
        a += mr;
        b += NR;
    }
    TILE_ROWS(STORE_ROW)
#undef DECLARE
#undef FMA_ROW
#undef STORE_ROW
}

#define UKR_F32(R)                                                                              \
    AVX2_FN static void ukr_f32_##R(int nr, int kc, const float *a, const float *b, float *C,  \
                                    long ldc, int overwrite)                                   \
    {                                                                                           \
        ukr_f32(R, nr, kc, a, b, C, ldc, overwrite);                                            \
    }
UKR_F32(1)
UKR_F32(2)
UKR_F32(3)
UKR_F32(4)
UKR_F32(5)
UKR_F32(6)

typedef void (*ukr_f32_fn)(int, int, const float *, const float *, float *, long, int);
static const ukr_f32_fn ukr_f32_rows[MR + 1] = {
    NULL, ukr_f32_1, ukr_f32_2, ukr_f32_3, ukr_f32_4, ukr_f32_5, ukr_f32_6};

/* One thread's whole product, with its own packing buffers. */
AVX2_FN static void f32_serial(int ta, int tb, int M, int N, int K, const float *A, long lda,
                               const float *B, long ldb, float *C, long ldc, int accumulate,
                               float *abuf, float *bbuf)
{
    for (int pc = 0; pc < K; pc += KC_F32) {
        int kc = min_int(KC_F32, K - pc);
        int overwrite = pc == 0 && !accumulate;
        for (int ic = 0; ic < M; ic += MC) {
            int mc = min_int(MC, M - ic);
            pack_a_f32(ta, A, lda, ic, pc, mc, kc, abuf);
            for (int jc = 0; jc < N; jc += NC) {
                int nc = min_int(NC, N - jc);
                pack_b_f32(tb, B, ldb, pc, jc, kc, nc, bbuf);
                for (int jr = 0; jr < nc; jr += NR) {
                    int nr = min_int(NR, nc - jr);
                    const float *bp = bbuf + (long)jr * kc;
                    for (int q = 0; q < panel_count(mc, MR); q++) {
                        int ir = panel_start(mc, MR, q), mr = panel_start(mc, MR, q + 1) - ir;
                        ukr_f32_rows[mr](nr, kc, abuf + (long)ir * kc, bp,
                                         C + (long)(ic + ir) * ldc + jc + jr, ldc, overwrite);
                    }
                }
            }
        }
    }
}

/* The product restricted to rows [m0, m1) and columns [n0, n1) of C. */
static void f32_part(int ta, int tb, int K, const float *A, long lda, const float *B, long ldb,
                     float *C, long ldc, int accumulate, struct gemm_part p)
{
    int m = p.m1 - p.m0, n = p.n1 - p.n0;
    if (m <= 0 || n <= 0)
        return;
    const float *a = ta ? A + p.m0 : A + (long)p.m0 * lda;
    const float *b = tb ? B + (long)p.n0 * ldb : B + p.n0;
    float *c = C + (long)p.m0 * ldc + p.n0;
    /* On the stack (about 230 KiB): malloc'ed per call, these buffers were returned to the
     * system and faulted in again on every call, which cost as much as the arithmetic. */
    _Alignas(64) float abuf[MC * KC_F32 + PACK_SLACK];
    _Alignas(64) float bbuf[KC_F32 * NC];
    f32_serial(ta, tb, m, n, K, a, lda, b, ldb, c, ldc, accumulate, abuf, bbuf);
}

void gemm_f32_avx2(int trans_a, int trans_b, int M, int N, int K,
                   const float *A, int lda, const float *B, int ldb,
                   float *C, int ldc, int accumulate)
{
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) {
        if (!accumulate)
            for (int i = 0; i < M; i++)
                memset(C + (long)i * ldc, 0, sizeof(float) * (size_t)N);
        return;
    }
    int nt = threads_for(M, N, K);
    if (nt <= 1) {
        f32_part(trans_a, trans_b, K, A, lda, B, ldb, C, ldc, accumulate,
                 (struct gemm_part){0, M, 0, N});
        return;
    }
    int units = units_for(M, N, MR, nt);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int u = 0; u < units; u++)
        f32_part(trans_a, trans_b, K, A, lda, B, ldb, C, ldc, accumulate,
                 part_of(M, N, MR, u, units));
}

/* ------------------------------------------------------------------ i16 */

/* Panels of op(A)[ic .. ic+mc) x [pc .. pc+kc) as k-pairs: panel q holds out[p*mr + i] =
 * (A(i, 2p), A(i, 2p+1)) as one 32-bit word, the second half 0 past kc. */
AVX2_FN static void pack_a_i16(int ta, const int16_t *A, long lda, int ic, int pc, int mc, int kc,
                               int32_t *out)
{
    int kp = (kc + 1) / 2;
    for (int q = 0; q < panel_count(mc, MR_I16); q++) {
        int ir = panel_start(mc, MR_I16, q), mr = panel_start(mc, MR_I16, q + 1) - ir;
        int16_t *o = (int16_t *)(out + (long)ir * kp);
        if (!ta) {
            /* A row's pairs are adjacent 32-bit words: transpose them 8 pairs at a time. */
            const int16_t *a = A + (long)(ic + ir) * lda + pc;
            int full = kc / 2;
            int p = 0;
            for (; p + 8 <= full; p += 8) {
                __m256 r[8];
                for (int i = 0; i < 8; i++)
                    r[i] = i < mr ? _mm256_loadu_ps((const float *)(a + i * lda + 2 * p))
                                  : _mm256_setzero_ps();
                transpose8(r);
                /* overlapping stores, as in pack_a_f32 */
                for (int j = 0; j < 8; j++)
                    _mm256_storeu_ps((float *)(o + 2L * (p + j) * mr), r[j]);
            }
            for (; p < kp; p++)
                for (int i = 0; i < mr; i++) {
                    o[2L * (p * mr + i)] = a[i * lda + 2 * p];
                    o[2L * (p * mr + i) + 1] = 2 * p + 1 < kc ? a[i * lda + 2 * p + 1] : 0;
                }
        } else {
            const int16_t *a = A + (long)pc * lda + ic + ir;
            int p = 0;
            if (mr == 4) /* interleave 4 codes of row 2p with 4 of row 2p+1 */
                for (; p < kc / 2; p++) {
                    __m128i r0 = _mm_loadl_epi64((const __m128i *)(a + 2L * p * lda));
                    __m128i r1 = _mm_loadl_epi64((const __m128i *)(a + (2L * p + 1) * lda));
                    _mm_storeu_si128((__m128i *)(o + 8L * p), _mm_unpacklo_epi16(r0, r1));
                }
            for (; p < kp; p++)
                for (int i = 0; i < mr; i++) {
                    o[2L * (p * mr + i)] = a[2L * p * lda + i];
                    o[2L * (p * mr + i) + 1] = 2 * p + 1 < kc ? a[(2L * p + 1) * lda + i] : 0;
                }
        }
    }
}

/* op(B)[pc .. pc+kc) x [jc .. jc+nc) as k-pairs in NR-column panels: panel q holds
 * out[q*kp*2*NR + p*2*NR + 2*j + h] = B(2p+h, q*NR + j), 0 past the edges. One 32-byte row
 * feeds one madd for 8 columns. */
AVX2_FN static void pack_b_i16(int tb, const int16_t *B, long ldb, int pc, int jc, int kc, int nc,
                               int16_t *out)
{
    int kp = (kc + 1) / 2;
    long panel = (long)kp * 2 * NR;
    if (!tb) {
        /* Two rows at a time, read in long contiguous runs, interleaved column by column. */
        for (int p = 0; p < kp; p++) {
            const int16_t *r0 = B + (long)(pc + 2 * p) * ldb + jc;
            const int16_t *r1 = r0 + ldb;
            int has_r1 = 2 * p + 1 < kc;
            int16_t *o = out + p * 2 * NR;
            for (int q = 0; q * NR < nc; q++) {
                int nr = min_int(NR, nc - q * NR);
                __m256i x0, x1;
                if (nr == NR) {
                    x0 = _mm256_loadu_si256((const __m256i *)(r0 + q * NR));
                    x1 = has_r1 ? _mm256_loadu_si256((const __m256i *)(r1 + q * NR))
                                : _mm256_setzero_si256();
                } else {
                    int16_t t0[NR] = {0}, t1[NR] = {0};
                    memcpy(t0, r0 + q * NR, sizeof(int16_t) * (size_t)nr);
                    if (has_r1)
                        memcpy(t1, r1 + q * NR, sizeof(int16_t) * (size_t)nr);
                    x0 = _mm256_loadu_si256((const __m256i *)t0);
                    x1 = _mm256_loadu_si256((const __m256i *)t1);
                }
                /* unpack works within 128-bit lanes: lo = cols 0-3 | 8-11, hi = 4-7 | 12-15 */
                __m256i lo = _mm256_unpacklo_epi16(x0, x1), hi = _mm256_unpackhi_epi16(x0, x1);
                _mm256_store_si256((__m256i *)(o + q * panel),
                                   _mm256_permute2x128_si256(lo, hi, 0x20));
                _mm256_store_si256((__m256i *)(o + q * panel + NR),
                                   _mm256_permute2x128_si256(lo, hi, 0x31));
            }
        }
        return;
    }
    /* B is stored N x K: the pair (B(2p, j), B(2p+1, j)) is one 32-bit word of storage row j. */
    int full = kc / 2;
    for (int q = 0; q * NR < nc; q++) {
        int nr = min_int(NR, nc - q * NR);
        const int16_t *b = B + (long)(jc + q * NR) * ldb + pc;
        int16_t *o = out + q * panel;
        transpose_block32(b, 2 * ldb, min_int(nr, 8), full, o, NR);
        transpose_block32(b + 8 * ldb, 2 * ldb, nr - 8, full, (int32_t *)o + 8, NR);
        if (kp > full) /* odd kc: the last pair is (B(kc-1, j), 0) */
            for (int j = 0; j < NR; j++) {
                o[full * 2 * NR + 2 * j] = j < nr ? b[j * ldb + 2 * full] : 0;
                o[full * 2 * NR + 2 * j + 1] = 0;
            }
    }
}

/* Add (or store) 8 int32 sums widened to int64 and multiplied by 2^shift at p[0..7], the first
 * n of them. */
AVX2_INLINE void store8_i64(int64_t *p, __m256i s, int n, int overwrite, int shift)
{
    __m256i lo = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(s));
    __m256i hi = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(s, 1));
    if (shift) {
        lo = _mm256_slli_epi64(lo, shift);
        hi = _mm256_slli_epi64(hi, shift);
    }
    if (n >= 8) {
        if (!overwrite) {
            lo = _mm256_add_epi64(lo, _mm256_loadu_si256((const __m256i *)p));
            hi = _mm256_add_epi64(hi, _mm256_loadu_si256((const __m256i *)(p + 4)));
        }
        _mm256_storeu_si256((__m256i *)p, lo);
        _mm256_storeu_si256((__m256i *)(p + 4), hi);
        return;
    }
    __m256i m0 = lane_mask64(n), m1 = lane_mask64(n - 4);
    long long *q = (long long *)p;
    if (!overwrite) {
        lo = _mm256_add_epi64(lo, _mm256_maskload_epi64(q, m0));
        hi = _mm256_add_epi64(hi, _mm256_maskload_epi64(q + 4, m1));
    }
    _mm256_maskstore_epi64(q, m0, lo);
    _mm256_maskstore_epi64(q + 4, m1, hi);
}

#define I16_ROWS(X) X(0) X(1) X(2) X(3)

/* C[mr x nr] (+)= 2^shift * sum over pairs p < kp of madd(a[p*mr + i], b[p*2*NR + 2j ..]).
 * The int32 sums are safe because the caller keeps 2*kp within gemm_i16_chunk(). */
AVX2_INLINE void ukr_i16(const int mr, int nr, int kp, const int32_t *a, const int16_t *b,
                         int64_t *C, long ldc, int overwrite, int shift)
{
#define DECLARE(i) __m256i c##i##_0 = _mm256_setzero_si256(), c##i##_1 = _mm256_setzero_si256();
#define MADD_ROW(i)                                                                             \
    if (i < mr) {                                                                               \
        __m256i ai = _mm256_set1_epi32(a[i]);                                                   \
        c##i##_0 = _mm256_add_epi32(c##i##_0, _mm256_madd_epi16(ai, b0));                       \
        c##i##_1 = _mm256_add_epi32(c##i##_1, _mm256_madd_epi16(ai, b1));                       \
    }
#define STORE_ROW(i)                                                                            \
    if (i < mr) {                                                                               \
        store8_i64(C + i * ldc, c##i##_0, nr, overwrite, shift);                                \
        if (nr > 8)                                                                             \
            store8_i64(C + i * ldc + 8, c##i##_1, nr - 8, overwrite, shift);                    \
    }
    I16_ROWS(DECLARE)
    for (int p = 0; p < kp; p++) {
        __m256i b0 = _mm256_load_si256((const __m256i *)b);
        __m256i b1 = _mm256_load_si256((const __m256i *)(b + NR));
        I16_ROWS(MADD_ROW)
        a += mr;
        b += 2 * NR;
    }
    I16_ROWS(STORE_ROW)
#undef DECLARE
#undef MADD_ROW
#undef STORE_ROW
}

/* The full 4-row tile's loop in assembly: compiled from intrinsics it ran at half the speed
 * (extra register moves, loads folded into the madds). Per k-pair: 2 loads of B, 4 broadcasts of
 * A, 8 madds, 8 adds. Same result as ukr_i16(4, ...), which the tests check. */
AVX2_FN static void ukr_i16_4(int nr, int kp, const int32_t *a, const int16_t *b, int64_t *C,
                              long ldc, int overwrite, int shift)
{
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00;
    __m256i c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    if (kp > 0) {
        __m256i b0, b1, ai, t0, t1;
        long n = kp;
        __asm__("1:\n\t"
                "vmovdqa (%[b]), %[b0]\n\t"
                "vmovdqa 32(%[b]), %[b1]\n\t"
                "vbroadcastss (%[a]), %[ai]\n\t"
                "vpmaddwd %[b0], %[ai], %[t0]\n\t"
                "vpmaddwd %[b1], %[ai], %[t1]\n\t"
                "vpaddd %[t0], %[c00], %[c00]\n\t"
                "vpaddd %[t1], %[c01], %[c01]\n\t"
                "vbroadcastss 4(%[a]), %[ai]\n\t"
                "vpmaddwd %[b0], %[ai], %[t0]\n\t"
                "vpmaddwd %[b1], %[ai], %[t1]\n\t"
                "vpaddd %[t0], %[c10], %[c10]\n\t"
                "vpaddd %[t1], %[c11], %[c11]\n\t"
                "vbroadcastss 8(%[a]), %[ai]\n\t"
                "vpmaddwd %[b0], %[ai], %[t0]\n\t"
                "vpmaddwd %[b1], %[ai], %[t1]\n\t"
                "vpaddd %[t0], %[c20], %[c20]\n\t"
                "vpaddd %[t1], %[c21], %[c21]\n\t"
                "vbroadcastss 12(%[a]), %[ai]\n\t"
                "vpmaddwd %[b0], %[ai], %[t0]\n\t"
                "vpmaddwd %[b1], %[ai], %[t1]\n\t"
                "vpaddd %[t0], %[c30], %[c30]\n\t"
                "vpaddd %[t1], %[c31], %[c31]\n\t"
                "add $16, %[a]\n\t"
                "add $64, %[b]\n\t"
                "dec %[n]\n\t"
                "jnz 1b"
                : [a] "+r"(a), [b] "+r"(b), [n] "+r"(n), [c00] "+x"(c00), [c01] "+x"(c01),
                  [c10] "+x"(c10), [c11] "+x"(c11), [c20] "+x"(c20), [c21] "+x"(c21),
                  [c30] "+x"(c30), [c31] "+x"(c31), [b0] "=&x"(b0), [b1] "=&x"(b1),
                  [ai] "=&x"(ai), [t0] "=&x"(t0), [t1] "=&x"(t1)
                :
                : "memory", "cc");
    }
    store8_i64(C, c00, nr, overwrite, shift);
    store8_i64(C + ldc, c10, nr, overwrite, shift);
    store8_i64(C + 2 * ldc, c20, nr, overwrite, shift);
    store8_i64(C + 3 * ldc, c30, nr, overwrite, shift);
    if (nr > 8) {
        store8_i64(C + 8, c01, nr - 8, overwrite, shift);
        store8_i64(C + ldc + 8, c11, nr - 8, overwrite, shift);
        store8_i64(C + 2 * ldc + 8, c21, nr - 8, overwrite, shift);
        store8_i64(C + 3 * ldc + 8, c31, nr - 8, overwrite, shift);
    }
}

#define UKR_I16(R)                                                                              \
    AVX2_FN static void ukr_i16_##R(int nr, int kp, const int32_t *a, const int16_t *b,        \
                                    int64_t *C, long ldc, int overwrite, int shift)            \
    {                                                                                           \
        ukr_i16(R, nr, kp, a, b, C, ldc, overwrite, shift);                                     \
    }
UKR_I16(1)
UKR_I16(2)
UKR_I16(3)

typedef void (*ukr_i16_fn)(int, int, const int32_t *, const int16_t *, int64_t *, long, int,
                           int);
static const ukr_i16_fn ukr_i16_rows[MR_I16 + 1] = {
    NULL, ukr_i16_1, ukr_i16_2, ukr_i16_3, ukr_i16_4};

/* Wide codes (e.g. 16 x 16 bits, whose madd pairs can overflow int32) are multiplied in two
 * exact halves: b = 256*hi + lo with hi = b >> 8 (signed, 8 bits) and lo = b & 255 (0..255),
 * so a*b = 256*(a*hi) + a*lo and each half has narrow enough products for madd. This splits a
 * packed block of B in place into its hi part (first half of `out`) and lo part (second). */
AVX2_FN static void split_b_bytes(int16_t *out, long n)
{
    const __m256i low_byte = _mm256_set1_epi16(0xFF);
    for (long i = 0; i < n; i += 16) {
        __m256i v = _mm256_load_si256((const __m256i *)(out + i));
        _mm256_store_si256((__m256i *)(out + n + i), _mm256_and_si256(v, low_byte));
        _mm256_store_si256((__m256i *)(out + i), _mm256_srai_epi16(v, 8));
    }
}

/* split: multiply B's high and low bytes separately (see split_b_bytes); blocks of B are then
 * NC/2 columns, so both halves fit the same buffer. */
AVX2_FN static void i16_serial(int ta, int tb, int M, int N, int K, const int16_t *A, long lda,
                               const int16_t *B, long ldb, int64_t *C, long ldc, int accumulate,
                               int kc_max, int split, int32_t *abuf, int16_t *bbuf)
{
    int nc_max = split ? NC / 2 : NC;
    for (int pc = 0; pc < K; pc += kc_max) {
        int kc = min_int(kc_max, K - pc);
        int kp = (kc + 1) / 2;
        int overwrite = pc == 0 && !accumulate;
        for (int ic = 0; ic < M; ic += MC) {
            int mc = min_int(MC, M - ic);
            pack_a_i16(ta, A, lda, ic, pc, mc, kc, abuf);
            for (int jc = 0; jc < N; jc += nc_max) {
                int nc = min_int(nc_max, N - jc);
                pack_b_i16(tb, B, ldb, pc, jc, kc, nc, bbuf);
                long half = (long)(nc + NR - 1) / NR * NR * 2 * kp; /* packed size of the block */
                if (split)
                    split_b_bytes(bbuf, half);
                for (int jr = 0; jr < nc; jr += NR) {
                    int nr = min_int(NR, nc - jr);
                    const int16_t *bp = bbuf + (long)jr * 2 * kp;
                    for (int q = 0; q < panel_count(mc, MR_I16); q++) {
                        int ir = panel_start(mc, MR_I16, q);
                        int mr = panel_start(mc, MR_I16, q + 1) - ir;
                        int64_t *c = C + (long)(ic + ir) * ldc + jc + jr;
                        const int32_t *ap = abuf + (long)ir * kp;
                        ukr_i16_rows[mr](nr, kp, ap, bp, c, ldc, overwrite, split ? 8 : 0);
                        if (split)
                            ukr_i16_rows[mr](nr, kp, ap, bp + half, c, ldc, 0, 0);
                    }
                }
            }
        }
    }
}

static void i16_part(int ta, int tb, int K, const int16_t *A, long lda, const int16_t *B,
                     long ldb, int64_t *C, long ldc, int accumulate, int kc_max, int split,
                     struct gemm_part p)
{
    int m = p.m1 - p.m0, n = p.n1 - p.n0;
    if (m <= 0 || n <= 0)
        return;
    const int16_t *a = ta ? A + p.m0 : A + (long)p.m0 * lda;
    const int16_t *b = tb ? B + (long)p.n0 * ldb : B + p.n0;
    int64_t *c = C + (long)p.m0 * ldc + p.n0;
    _Alignas(64) int32_t abuf[MC * KC_I16 / 2 + PACK_SLACK]; /* on the stack, as in f32_part */
    _Alignas(64) int16_t bbuf[KC_I16 * NC];
    i16_serial(ta, tb, m, n, K, a, lda, b, ldb, c, ldc, accumulate, kc_max, split, abuf, bbuf);
}

void gemm_i16_avx2(int trans_a, int trans_b, int M, int N, int K,
                   const int16_t *A, int lda, const int16_t *B, int ldb,
                   int64_t *C, int ldc, int accumulate, int bits_a, int bits_b)
{
    /* Below 32 k-steps per spill, storing the sums would cost more than splitting B's bytes
     * (which doubles the multiplies). Split halves are at most bits_a x 9 bits. */
    int chunk = gemm_i16_chunk(bits_a, bits_b);
    int split = chunk < 32;
    int kc_max = min_int(KC_I16, split ? gemm_i16_chunk(bits_a, 9) : chunk);
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) {
        if (!accumulate)
            for (int i = 0; i < M; i++)
                memset(C + (long)i * ldc, 0, sizeof(int64_t) * (size_t)N);
        return;
    }
    int nt = threads_for(M, N, K);
    if (nt <= 1) {
        i16_part(trans_a, trans_b, K, A, lda, B, ldb, C, ldc, accumulate, kc_max, split,
                 (struct gemm_part){0, M, 0, N});
        return;
    }
    int units = units_for(M, N, MR_I16, nt);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int u = 0; u < units; u++)
        i16_part(trans_a, trans_b, K, A, lda, B, ldb, C, ldc, accumulate, kc_max, split,
                 part_of(M, N, MR_I16, u, units));
}

#else /* not x86: never dispatched to; keep the symbols so everything links */

void gemm_f32_avx2(int trans_a, int trans_b, int M, int N, int K,
                   const float *A, int lda, const float *B, int ldb,
                   float *C, int ldc, int accumulate)
{
    gemm_f32_portable(trans_a, trans_b, M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

void gemm_i16_avx2(int trans_a, int trans_b, int M, int N, int K,
                   const int16_t *A, int lda, const int16_t *B, int ldb,
                   int64_t *C, int ldc, int accumulate, int bits_a, int bits_b)
{
    gemm_i16_portable(trans_a, trans_b, M, N, K, A, lda, B, ldb, C, ldc, accumulate,
                      bits_a, bits_b);
}

#endif
