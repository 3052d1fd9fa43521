/* The AVX-512 integer tiles of the direct convolution (conv_tiles.h), written once and compiled
 * twice: conv_avx512.c (AVX-512 F/BW/VL: vpmaddwd + vpaddd) and conv_avx512_vnni.c (+ VNNI:
 * vpdpwssd, the same two products and add in one instruction, same int32 wrap-around). The
 * including file defines DOT(acc, a, b) = acc + madd(a, b) in int32 lanes, DOT_ASM(A, G, X, T),
 * the same in assembly (zmmA += madd(zmmG, zmmX), zmmT a free temporary), and TILES, the name
 * of the conv_tiles it defines; with VNNI also DOT_U8(acc, a, b), the 4 products of unsigned
 * bytes of a and signed bytes of b added to each lane (vpdpbusd), for the forward tile on quads
 * of unsigned 8-bit codes.
 *
 * Forward: one 512-bit vector holds the tile's 16 flat outputs x 2 channels (two 8-output halves
 * of the pair plane, at 0 and v1), so a row of the tile is one accumulator; up to 16 rows (32
 * registers: 16 accumulators, the input vector, broadcasts folded into the dot product). Per
 * channel pair and tap: 2 loads and one dot product per row, against 2 loads, 1 broadcast and
 * 2 madds + 2 adds per row in the 4-row AVX2 tile.
 * Backward-weight: the AVX2 tile's 3 output channels x 3 taps in 512-bit vectors (32 positions
 * per vector), the last partial vector read with masked loads. */
#include <immintrin.h>
#include <stdint.h>

#include "conv_tiles.h"

#define MR_MAX 16

/* The two 8-output halves of a tile, channel pairs interleaved: 16 int32 lanes of pairs. */
static inline __m512i load_pairs(const int16_t *p, long v1x2)
{
    __m256i lo = _mm256_loadu_si256((const __m256i *)p);
    __m256i hi = _mm256_loadu_si256((const __m256i *)(p + v1x2));
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* Forward tiles named PREFIX_<rows> and PREFIX(), summing with DOTOP(acc, x, w). */
#define DEFINE_FWD(PREFIX, DOTOP)                                                                \
    static inline __attribute__((always_inline)) void PREFIX##_tile(                             \
        const int mr, const int16_t *xb, long v1, long ps2, int ncp, const int *off2, int kk,    \
        const int32_t *wb, int32_t *acc)                                                         \
    {                                                                                            \
        __m512i a[MR_MAX];                                                                       \
        _Pragma("GCC unroll 16") for (int r = 0; r < mr; r++) a[r] = _mm512_setzero_si512();     \
        for (int cp = 0; cp < ncp; cp++, xb += ps2)                                              \
            for (int t = 0; t < kk; t++, wb += mr) {                                             \
                __m512i x = load_pairs(xb + off2[t], 2 * v1);                                    \
                _Pragma("GCC unroll 16") for (int r = 0; r < mr; r++)                            \
                    a[r] = DOTOP(a[r], x, _mm512_set1_epi32(wb[r]));                             \
            }                                                                                    \
        _Pragma("GCC unroll 16") for (int r = 0; r < mr; r++)                                    \
            _mm512_store_si512(acc + CONV_TILE_NT * r, a[r]);                                    \
    }                                                                                            \
    DEFINE_FWD_ROWS(PREFIX, 1) DEFINE_FWD_ROWS(PREFIX, 2) DEFINE_FWD_ROWS(PREFIX, 3)             \
    DEFINE_FWD_ROWS(PREFIX, 4) DEFINE_FWD_ROWS(PREFIX, 5) DEFINE_FWD_ROWS(PREFIX, 6)             \
    DEFINE_FWD_ROWS(PREFIX, 7) DEFINE_FWD_ROWS(PREFIX, 8) DEFINE_FWD_ROWS(PREFIX, 9)             \
    DEFINE_FWD_ROWS(PREFIX, 10) DEFINE_FWD_ROWS(PREFIX, 11) DEFINE_FWD_ROWS(PREFIX, 12)          \
    DEFINE_FWD_ROWS(PREFIX, 13) DEFINE_FWD_ROWS(PREFIX, 14) DEFINE_FWD_ROWS(PREFIX, 15)          \
    DEFINE_FWD_ROWS(PREFIX, 16)                                                                  \
    static void PREFIX(int mr, const int16_t *xb, long v1, long ps2, int ncp, const int *off2,   \
                       int kk, const int32_t *wb, int32_t *acc)                                  \
    {                                                                                            \
        typedef void (*rows_fn)(const int16_t *, long, long, int, const int *, int,              \
                                const int32_t *, int32_t *);                                     \
        static const rows_fn ROWS[MR_MAX + 1] = {                                                \
            NULL,           PREFIX##_1,  PREFIX##_2,  PREFIX##_3,  PREFIX##_4,  PREFIX##_5,      \
            PREFIX##_6,     PREFIX##_7,  PREFIX##_8,  PREFIX##_9,  PREFIX##_10, PREFIX##_11,     \
            PREFIX##_12,    PREFIX##_13, PREFIX##_14, PREFIX##_15, PREFIX##_16};                 \
        ROWS[mr](xb, v1, ps2, ncp, off2, kk, wb, acc);                                           \
    }
#define DEFINE_FWD_ROWS(PREFIX, R)                                                               \
    static void PREFIX##_##R(const int16_t *xb, long v1, long ps2, int ncp, const int *off2,     \
                             int kk, const int32_t *wb, int32_t *acc)                            \
    {                                                                                            \
        PREFIX##_tile(R, xb, v1, ps2, ncp, off2, kk, wb, acc);                                   \
    }

DEFINE_FWD(fwd, DOT)

/* Float: the same tile with fused multiply-adds, in the order of conv_tiles.h (the AVX2 tiles'
 * order: each output lane adds ci-major, tap-minor, one FMA per term), so the floats equal the
 * AVX2 path's bit for bit. */
static inline __attribute__((always_inline)) void fwd_f32_tile(const int mr, const float *xb, long v1,
                                                               long ps, int cin, const int *off, int kk,
                                                               const float *wb, float *out)
{
    __m512 a[MR_MAX];
#pragma GCC unroll 16
    for (int r = 0; r < mr; r++)
        a[r] = _mm512_setzero_ps();
    for (int ci = 0; ci < cin; ci++, xb += ps)
        for (int t = 0; t < kk; t++, wb += mr) {
            const float *p = xb + off[t];
            __m512 x = _mm512_castpd_ps(_mm512_insertf64x4(
                _mm512_castpd256_pd512(_mm256_castps_pd(_mm256_loadu_ps(p))),
                _mm256_castps_pd(_mm256_loadu_ps(p + v1)), 1));
#pragma GCC unroll 16
            for (int r = 0; r < mr; r++)
                a[r] = _mm512_fmadd_ps(_mm512_set1_ps(wb[r]), x, a[r]);
        }
#pragma GCC unroll 16
    for (int r = 0; r < mr; r++)
        _mm512_store_ps(out + CONV_TILE_NT * r, a[r]);
}

#define DEFINE_FWD_F32_ROWS(R)                                                                   \
    static void fwd_f32_##R(const float *xb, long v1, long ps, int cin, const int *off, int kk,  \
                            const float *wb, float *out)                                         \
    {                                                                                            \
        fwd_f32_tile(R, xb, v1, ps, cin, off, kk, wb, out);                                      \
    }
DEFINE_FWD_F32_ROWS(1) DEFINE_FWD_F32_ROWS(2) DEFINE_FWD_F32_ROWS(3) DEFINE_FWD_F32_ROWS(4)
DEFINE_FWD_F32_ROWS(5) DEFINE_FWD_F32_ROWS(6) DEFINE_FWD_F32_ROWS(7) DEFINE_FWD_F32_ROWS(8)
DEFINE_FWD_F32_ROWS(9) DEFINE_FWD_F32_ROWS(10) DEFINE_FWD_F32_ROWS(11) DEFINE_FWD_F32_ROWS(12)
DEFINE_FWD_F32_ROWS(13) DEFINE_FWD_F32_ROWS(14) DEFINE_FWD_F32_ROWS(15) DEFINE_FWD_F32_ROWS(16)

static void fwd_f32(int mr, const float *xb, long v1, long ps, int cin, const int *off, int kk,
                    const float *wb, float *out)
{
    typedef void (*rows_fn)(const float *, long, long, int, const int *, int, const float *, float *);
    static const rows_fn ROWS[MR_MAX + 1] = {
        NULL,      fwd_f32_1,  fwd_f32_2,  fwd_f32_3,  fwd_f32_4,  fwd_f32_5,  fwd_f32_6,
        fwd_f32_7, fwd_f32_8,  fwd_f32_9,  fwd_f32_10, fwd_f32_11, fwd_f32_12, fwd_f32_13,
        fwd_f32_14, fwd_f32_15, fwd_f32_16};
    ROWS[mr](xb, v1, ps, cin, off, kk, wb, out);
}
#ifdef DOT_U8
DEFINE_FWD(fwd_u8, DOT_U8)
#define FWD_U8 fwd_u8
#else
#define FWD_U8 NULL
#endif

/* The sum of 16 int32 lanes, exactly (in int64). */
static inline int64_t lanes_sum(__m512i v)
{
    __m512i lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(v));
    __m512i hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(v, 1));
    return _mm512_reduce_add_epi64(_mm512_add_epi64(lo, hi));
}

/* The full 3 x 3 tile's loop over nv vectors of 32 positions, in assembly: compiled from
 * intrinsics, GCC reloaded g for every product and copied accumulators around (2 loads and a
 * move per dot product). Per vector: 6 loads, 9 dot products. acc[3*r + o] in and out. */
static void bww_loop_3x3(const int16_t *g0, const int16_t *g1, const int16_t *g2, const int16_t *x0,
                         const int16_t *x1, const int16_t *x2, long nv, __m512i *acc)
{
    if (nv <= 0)
        return;
    long q = 0, end = nv * 64;
    __asm__ volatile("vmovdqu64 0(%[acc]), %%zmm0\n\t"
                     "vmovdqu64 64(%[acc]), %%zmm1\n\t"
                     "vmovdqu64 128(%[acc]), %%zmm2\n\t"
                     "vmovdqu64 192(%[acc]), %%zmm3\n\t"
                     "vmovdqu64 256(%[acc]), %%zmm4\n\t"
                     "vmovdqu64 320(%[acc]), %%zmm5\n\t"
                     "vmovdqu64 384(%[acc]), %%zmm6\n\t"
                     "vmovdqu64 448(%[acc]), %%zmm7\n\t"
                     "vmovdqu64 512(%[acc]), %%zmm8\n\t"
                     "1:\n\t"
                     "vmovdqu64 (%[g0],%[q]), %%zmm9\n\t"
                     "vmovdqu64 (%[g1],%[q]), %%zmm10\n\t"
                     "vmovdqu64 (%[g2],%[q]), %%zmm11\n\t"
                     "vmovdqu64 (%[x0],%[q]), %%zmm12\n\t"
                     "vmovdqu64 (%[x1],%[q]), %%zmm13\n\t"
                     "vmovdqu64 (%[x2],%[q]), %%zmm14\n\t"
                     DOT_ASM("0", "9", "12", "15") DOT_ASM("3", "10", "12", "16") DOT_ASM("6", "11", "12", "17")
                     DOT_ASM("1", "9", "13", "18") DOT_ASM("4", "10", "13", "19") DOT_ASM("7", "11", "13", "20")
                     DOT_ASM("2", "9", "14", "21") DOT_ASM("5", "10", "14", "22") DOT_ASM("8", "11", "14", "23")
                     "add $64, %[q]\n\t"
                     "cmp %[end], %[q]\n\t"
                     "jl 1b\n\t"
                     "vmovdqu64 %%zmm0, 0(%[acc])\n\t"
                     "vmovdqu64 %%zmm1, 64(%[acc])\n\t"
                     "vmovdqu64 %%zmm2, 128(%[acc])\n\t"
                     "vmovdqu64 %%zmm3, 192(%[acc])\n\t"
                     "vmovdqu64 %%zmm4, 256(%[acc])\n\t"
                     "vmovdqu64 %%zmm5, 320(%[acc])\n\t"
                     "vmovdqu64 %%zmm6, 384(%[acc])\n\t"
                     "vmovdqu64 %%zmm7, 448(%[acc])\n\t"
                     "vmovdqu64 %%zmm8, 512(%[acc])"
                     : [q] "+r"(q)
                     : [g0] "r"(g0), [g1] "r"(g1), [g2] "r"(g2), [x0] "r"(x0), [x1] "r"(x1),
                       [x2] "r"(x2), [end] "r"(end), [acc] "r"(acc)
                     : "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
                       "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16",
                       "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23");
}

static inline __attribute__((always_inline)) void bww_tile(const int mr, const int no, const int16_t *gf,
                                                           long Lr, const int16_t *xc, const int *off,
                                                           long len, long steps, int64_t *out)
{
    const int16_t *gp[3], *xp[3];
    for (int r = 0; r < 3; r++)
        gp[r] = gf + (r < mr ? r : 0) * Lr;
    for (int o = 0; o < 3; o++)
        xp[o] = xc + off[o < no ? o : 0];
    for (long q0 = 0; q0 < len; q0 += steps * 32) {
        long q1 = q0 + steps * 32 < len ? q0 + steps * 32 : len;
        __m512i a[3][3];
#pragma GCC unroll 3
        for (int r = 0; r < mr; r++)
#pragma GCC unroll 3
            for (int o = 0; o < no; o++)
                a[r][o] = _mm512_setzero_si512();
        long q = q0;
        if (mr == 3 && no == 3) {
            __m512i acc[9];
            for (int i = 0; i < 9; i++)
                acc[i] = _mm512_setzero_si512();
            long nv = (q1 - q0) / 32;
            bww_loop_3x3(gp[0] + q0, gp[1] + q0, gp[2] + q0, xp[0] + q0, xp[1] + q0, xp[2] + q0, nv, acc);
            for (int i = 0; i < 9; i++)
                a[i / 3][i % 3] = acc[i];
            q += nv * 32;
        }
        for (; q + 32 <= q1; q += 32) {
            __m512i g[3], x[3];
#pragma GCC unroll 3
            for (int r = 0; r < mr; r++)
                g[r] = _mm512_loadu_si512(gp[r] + q);
#pragma GCC unroll 3
            for (int o = 0; o < no; o++) {
                x[o] = _mm512_loadu_si512(xp[o] + q);
#pragma GCC unroll 3
                for (int r = 0; r < mr; r++)
                    a[r][o] = DOT(a[r][o], g[r], x[o]);
            }
        }
        if (q < q1) {   /* 16 positions left (len is a multiple of 16): nothing read past len */
            __mmask32 m = (__mmask32)((1u << (q1 - q)) - 1u);
            __m512i g[3], x[3];
#pragma GCC unroll 3
            for (int r = 0; r < mr; r++)
                g[r] = _mm512_maskz_loadu_epi16(m, gp[r] + q);
#pragma GCC unroll 3
            for (int o = 0; o < no; o++) {
                x[o] = _mm512_maskz_loadu_epi16(m, xp[o] + q);
#pragma GCC unroll 3
                for (int r = 0; r < mr; r++)
                    a[r][o] = DOT(a[r][o], g[r], x[o]);
            }
        }
        for (int r = 0; r < mr; r++)
            for (int o = 0; o < no; o++)
                out[r * 3 + o] += lanes_sum(a[r][o]);
    }
}

/* Backward-weight of a stride-1 3x3 conv: 3 output channels x all 9 taps per tile, so each
 * loaded vector of g serves 9 dot products and each of x 3 (12 loads per 27 dot products, the
 * 3 x 3 tile needs 6 per 9). The taps of kernel row R start at x + R * row, each kernel column
 * one position (2 bytes) further. 27 accumulators, 3 g, 1 x, 1 temporary: all 32 registers. */
#define BWW9_TAP(T, P, D)                                                                        \
    "vmovdqu64 " D "(%[" P "],%[q]), %%zmm30\n\t"                                                \
    DOT_ASM(T##_0, "27", "30", "31") DOT_ASM(T##_1, "28", "30", "31") DOT_ASM(T##_2, "29", "30", "31")
#define T0_0 "0"
#define T0_1 "9"
#define T0_2 "18"
#define T1_0 "1"
#define T1_1 "10"
#define T1_2 "19"
#define T2_0 "2"
#define T2_1 "11"
#define T2_2 "20"
#define T3_0 "3"
#define T3_1 "12"
#define T3_2 "21"
#define T4_0 "4"
#define T4_1 "13"
#define T4_2 "22"
#define T5_0 "5"
#define T5_1 "14"
#define T5_2 "23"
#define T6_0 "6"
#define T6_1 "15"
#define T6_2 "24"
#define T7_0 "7"
#define T7_1 "16"
#define T7_2 "25"
#define T8_0 "8"
#define T8_1 "17"
#define T8_2 "26"
#define ACC27(X)                                                                                 \
    X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15) X(16) \
    X(17) X(18) X(19) X(20) X(21) X(22) X(23) X(24) X(25) X(26)
#define ACC_IN(I) "vmovdqu64 " #I "*64(%[acc]), %%zmm" #I "\n\t"
#define ACC_OUT(I) "vmovdqu64 %%zmm" #I ", " #I "*64(%[acc])\n\t"

/* acc[9 * r + t] += the products of g row r and tap t over nv vectors of 32 positions. */
static void bww_loop_3x9(const int16_t *g0, const int16_t *g1, const int16_t *g2, const int16_t *x,
                         long row, long nv, __m512i *acc)
{
    if (nv <= 0)
        return;
    const int16_t *p0 = x, *p1 = x + row, *p2 = x + 2 * row;
    long q = 0, end = nv * 64;
    __asm__ volatile(ACC27(ACC_IN) "1:\n\t"
                     "vmovdqu64 (%[g0],%[q]), %%zmm27\n\t"
                     "vmovdqu64 (%[g1],%[q]), %%zmm28\n\t"
                     "vmovdqu64 (%[g2],%[q]), %%zmm29\n\t"
                     BWW9_TAP(T0, "p0", "0") BWW9_TAP(T1, "p0", "2") BWW9_TAP(T2, "p0", "4")
                     BWW9_TAP(T3, "p1", "0") BWW9_TAP(T4, "p1", "2") BWW9_TAP(T5, "p1", "4")
                     BWW9_TAP(T6, "p2", "0") BWW9_TAP(T7, "p2", "2") BWW9_TAP(T8, "p2", "4")
                     "add $64, %[q]\n\t"
                     "cmp %[end], %[q]\n\t"
                     "jl 1b\n\t" ACC27(ACC_OUT)
                     : [q] "+r"(q)
                     : [g0] "r"(g0), [g1] "r"(g1), [g2] "r"(g2), [p0] "r"(p0), [p1] "r"(p1),
                       [p2] "r"(p2), [end] "r"(end), [acc] "r"(acc)
                     : "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
                       "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16",
                       "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25",
                       "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31");
}

/* conv_tiles.h's bww9: rows mr < 3 repeat the last row, whose sums are dropped. */
static void bww9(int mr, const int16_t *gf, long Lr, const int16_t *xc, long row, long len, long steps,
                 int64_t *out)
{
    const int16_t *gp[3];
    for (int r = 0; r < 3; r++)
        gp[r] = gf + (r < mr ? r : mr - 1) * Lr;
    for (long q0 = 0; q0 < len; q0 += steps * 32) {
        long q1 = q0 + steps * 32 < len ? q0 + steps * 32 : len, nv = (q1 - q0) / 32;
        __m512i acc[27];
        for (int i = 0; i < 27; i++)
            acc[i] = _mm512_setzero_si512();
        bww_loop_3x9(gp[0] + q0, gp[1] + q0, gp[2] + q0, xc + q0, row, nv, acc);
        long q = q0 + nv * 32;
        if (q < q1) {   /* 16 positions left (len is a multiple of 16): nothing read past len */
            __mmask32 m = (__mmask32)((1u << (q1 - q)) - 1u);
            for (int t = 0; t < 9; t++) {
                __m512i x = _mm512_maskz_loadu_epi16(m, xc + (t / 3) * row + t % 3 + q);
                for (int r = 0; r < 3; r++)
                    acc[9 * r + t] = DOT(acc[9 * r + t], _mm512_maskz_loadu_epi16(m, gp[r] + q), x);
            }
        }
        for (int r = 0; r < mr; r++)
            for (int t = 0; t < 9; t++)
                out[9 * r + t] += lanes_sum(acc[9 * r + t]);
    }
}

#define BWW(R, O)                                                                                \
    static void bww_##R##_##O(const int16_t *gf, long Lr, const int16_t *xc, const int *off,    \
                              long len, long steps, int64_t *out)                                \
    {                                                                                            \
        bww_tile(R, O, gf, Lr, xc, off, len, steps, out);                                        \
    }
BWW(1, 1) BWW(1, 2) BWW(1, 3) BWW(2, 1) BWW(2, 2) BWW(2, 3) BWW(3, 1) BWW(3, 2) BWW(3, 3)
#undef BWW

typedef void (*bww_fn)(const int16_t *, long, const int16_t *, const int *, long, long, int64_t *);
static const bww_fn BWW[4][4] = {{NULL, NULL, NULL, NULL},
                                 {NULL, bww_1_1, bww_1_2, bww_1_3},
                                 {NULL, bww_2_1, bww_2_2, bww_2_3},
                                 {NULL, bww_3_1, bww_3_2, bww_3_3}};

static void bww(int mr, int no, const int16_t *gf, long Lr, const int16_t *xc, const int *off, long len,
                long steps, int64_t *out)
{
    BWW[mr][no](gf, Lr, xc, off, len, steps, out);
}

const struct conv_tiles TILES = {MR_MAX, fwd_f32, MR_MAX, fwd, FWD_U8, bww, bww9};
