/* The 256-bit integer tiles of the direct convolution (conv_tiles.h), written once and compiled
 * twice, as conv_avx512_tiles.h is: conv_avx2.c (path "avx2": vpmaddwd + vpaddd) and
 * conv_avx_vnni.c (path "avx-vnni": the VEX form of vpdpwssd, the same two products and add in
 * one instruction, the same int32 wrap-around, which the callers' spill bounds rule out anyway).
 * The including file defines
 *   TILE_FN, TILE_INLINE   the attributes of the tile functions (target ISA),
 *   DOT256(acc, a, b)      acc + madd(a, b) in int32 lanes,
 *   ASM_MUL(X, G, T, A)    the same in assembly, first half: ymmT = madd(ymmG, ymmX) (AVX2), or
 *                          ymmA += madd(ymmG, ymmX) whole (VNNI),
 *   ASM_ADD(T, A)          second half: ymmA += ymmT (AVX2), or nothing (VNNI),
 *   TILE_ENTRY, FWD_I16_TILE, BWW_I16_TILE   the linkage and names of the two tiles it defines
 *                          (conv_fwd_i16_tile and conv_bww_i16_tile of conv_tiles.h),
 * and with VNNI also FWD_U8_TILE, the forward tile on quads of unsigned 8-bit codes, with
 *   DOT256_U8(acc, a, b)   acc + the 4 products of unsigned bytes of a and signed bytes of b per
 *                          lane (vpdpbusd), and ASM_DOT_U8(X, G, A) (ymmA += ymmX . ymmG).
 * Splitting the assembly step in two keeps the AVX2 instructions in the order they were tuned in
 * (three madds, then their three adds). */
#include <immintrin.h>
#include <stdint.h>

enum {
    MRI = 4,        /* i16 forward tile rows */
    MRW = 3,        /* backward-weight tile: output channels ... */
    TW = 3          /* ... x taps */
};

#define ACC_LOAD(I) "vmovups " #I "*32(%[acc]), %%ymm" #I "\n\t"
#define ACC_STORE(I) "vmovups %%ymm" #I ", " #I "*32(%[acc])\n\t"
#define ACC8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
/* Named accumulators, not arrays: GCC kept arrays of vectors in memory (a store per FMA). */
#define ROWS4(X) X(0) X(1) X(2) X(3)
/* The 3 x 3 accumulators of a backward-weight tile, named. */
#define TILE9(X) X(0, 0) X(0, 1) X(0, 2) X(1, 0) X(1, 1) X(1, 2) X(2, 0) X(2, 1) X(2, 2)

/* The full 4-row forward tile of a 3x3 conv in assembly, as the f32 ones (positions are channel
 * pairs or byte quads, 4 bytes). Per position group: 18 loads of x, 36 broadcasts, and 72 madds
 * and 72 adds (AVX2) or 72 dot products (VNNI). acc[0..7] in and out. ROW spells one tile row:
 * broadcast its weight pair (quad) to ymm14, then add its products with the two x vectors
 * (ymm12, ymm13) to accumulators A and B (T0, T1: free temporaries). */
#define FWD_ROW_I16(W, R, A, B, T0, T1)                                                          \
    "vpbroadcastd 0+(" W "+4*" #R ")(%[w]), %%ymm14\n\t"                                         \
    ASM_MUL("12", "14", T0, A) ASM_MUL("13", "14", T1, B) ASM_ADD(T0, A) ASM_ADD(T1, B)
#define FWD_ROWS4(ROW, W)                                                                        \
    ROW(W, 0, "0", "1", "8", "9") ROW(W, 1, "2", "3", "10", "11")                                \
    ROW(W, 2, "4", "5", "8", "9") ROW(W, 3, "6", "7", "10", "11")
#define FWD_TAP(ROW, P, D, T)                                                                    \
    "vmovdqu " D "(%[" P "]), %%ymm12\n\t"                                                       \
    "vmovdqu " D "(%[" P "],%[v1]), %%ymm13\n\t" FWD_ROWS4(ROW, "(" T "*16)")
#define FWD_TAPS(ROW)                                                                            \
    FWD_TAP(ROW, "p0", "0", "0") FWD_TAP(ROW, "p0", "4", "1") FWD_TAP(ROW, "p0", "8", "2")      \
    FWD_TAP(ROW, "p1", "0", "3") FWD_TAP(ROW, "p1", "4", "4") FWD_TAP(ROW, "p1", "8", "5")      \
    FWD_TAP(ROW, "p2", "0", "6") FWD_TAP(ROW, "p2", "4", "7") FWD_TAP(ROW, "p2", "8", "8")
#define DEFINE_FWD_4X3X3(NAME, ROW)                                                              \
    TILE_FN static void NAME(const int16_t *xb, long ps2, long v1, int ncp, long row2,           \
                             const int32_t *wb, __m256i *acc)                                    \
    {                                                                                            \
        const int16_t *p0 = xb, *p1 = xb + row2, *p2 = xb + 2 * row2;                            \
        long step = ps2 * 2, n = ncp, v1b = v1 * 4;                                              \
        if (n <= 0)                                                                              \
            return;                                                                              \
        __asm__ volatile(ACC8(ACC_LOAD) "1:\n\t" FWD_TAPS(ROW)                                   \
                         "add %[step], %[p0]\n\t"                                                \
                         "add %[step], %[p1]\n\t"                                                \
                         "add %[step], %[p2]\n\t"                                                \
                         "add $144, %[w]\n\t"                                                    \
                         "dec %[n]\n\t"                                                          \
                         "jnz 1b\n\t" ACC8(ACC_STORE)                                            \
                         : [p0] "+r"(p0), [p1] "+r"(p1), [p2] "+r"(p2), [w] "+r"(wb), [n] "+r"(n) \
                         : [step] "r"(step), [v1] "r"(v1b), [acc] "r"(acc)                        \
                         : "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", \
                           "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14");  \
    }

/* Forward tiles: PREFIX_tile sums over position groups [0, ncp) of the tile into acc[2r],
 * acc[2r+1] for row r, with DOTOP(acc, x, w) (the full 4-row 3x3 case in FAST, assembly);
 * ENTRY is the tile in the form of conv_tiles.h. */
#define DEFINE_FWD(PREFIX, DOTOP, FAST, ENTRY)                                                   \
    TILE_INLINE void PREFIX##_tile(const int mr, const int16_t *xb, long v1, long ps2, int ncp,  \
                                   const int *off2, int kk, const int32_t *wb, __m256i *acc)     \
    {                                                                                            \
        if (mr == 4 && kk == 9 && off2[1] == 2 && off2[2] == 4 && off2[6] == 2 * off2[3] &&      \
            off2[4] == off2[3] + 2) {                                                            \
            for (int i = 0; i < 8; i++)                                                          \
                acc[i] = _mm256_setzero_si256();                                                 \
            FAST(xb, ps2, v1, ncp, off2[3], wb, acc);                                            \
            return;                                                                              \
        }                                                                                        \
        ROWS4(FWD_DECL)                                                                          \
        for (int cp = 0; cp < ncp; cp++, xb += ps2)                                              \
            for (int t = 0; t < kk; t++, wb += mr) {                                             \
                const int16_t *p = xb + off2[t];                                                 \
                __m256i x0 = _mm256_loadu_si256((const __m256i *)p);                             \
                __m256i x1 = _mm256_loadu_si256((const __m256i *)(p + 2 * v1));                  \
                FWD_STEP(DOTOP, 0) FWD_STEP(DOTOP, 1) FWD_STEP(DOTOP, 2) FWD_STEP(DOTOP, 3)      \
            }                                                                                    \
        ROWS4(FWD_STORE)                                                                         \
    }                                                                                            \
    FWD_ROWS_FN(PREFIX, 1) FWD_ROWS_FN(PREFIX, 2) FWD_ROWS_FN(PREFIX, 3) FWD_ROWS_FN(PREFIX, 4)  \
    TILE_ENTRY void ENTRY(int mr, const int16_t *xb, long v1, long ps2, int ncp, const int *off2, \
                          int kk, const int32_t *wb, int32_t *acc)                               \
    {                                                                                            \
        typedef void (*rows_fn)(const int16_t *, long, long, int, const int *, int,              \
                                const int32_t *, __m256i *);                                     \
        static const rows_fn ROWS[MRI + 1] = {NULL, PREFIX##_1, PREFIX##_2, PREFIX##_3,          \
                                              PREFIX##_4};                                       \
        __m256i a[2 * MRI];                                                                      \
        ROWS[mr](xb, v1, ps2, ncp, off2, kk, wb, a);                                             \
        for (int i = 0; i < 2 * mr; i++)                                                         \
            _mm256_store_si256((__m256i *)(acc + 8 * i), a[i]);                                  \
    }
/* Named accumulators, 2 per row, for rows below mr. */
#define FWD_DECL(i) __m256i a##i##_0 = _mm256_setzero_si256(), a##i##_1 = _mm256_setzero_si256();
#define FWD_STEP(DOTOP, i)                                                                       \
    if (i < mr) {                                                                                \
        __m256i wv = _mm256_set1_epi32(wb[i]);                                                   \
        a##i##_0 = DOTOP(a##i##_0, x0, wv);                                                      \
        a##i##_1 = DOTOP(a##i##_1, x1, wv);                                                      \
    }
#define FWD_STORE(i)                                                                             \
    if (i < mr) {                                                                                \
        acc[2 * i] = a##i##_0;                                                                   \
        acc[2 * i + 1] = a##i##_1;                                                               \
    }
#define FWD_ROWS_FN(PREFIX, R)                                                                   \
    TILE_FN static void PREFIX##_##R(const int16_t *xb, long v1, long ps2, int ncp,              \
                                     const int *off2, int kk, const int32_t *wb, __m256i *acc)   \
    {                                                                                            \
        PREFIX##_tile(R, xb, v1, ps2, ncp, off2, kk, wb, acc);                                   \
    }

/* Channel pairs of 16-bit codes: madd (or vpdpwssd) of the pair with the weight pair. */
DEFINE_FWD_4X3X3(fwd_i16_4x3x3, FWD_ROW_I16)
DEFINE_FWD(fwd_i16, DOT256, fwd_i16_4x3x3, FWD_I16_TILE)

#ifdef FWD_U8_TILE
/* Quads of unsigned 8-bit codes against quads of signed 8-bit weights (vpdpbusd: 4 byte products
 * per lane; the caller takes this tile only where whole sums fit int32, as on avx512-vnni). */
#define FWD_ROW_U8(W, R, A, B, T0, T1)                                                           \
    "vpbroadcastd 0+(" W "+4*" #R ")(%[w]), %%ymm14\n\t"                                         \
    ASM_DOT_U8("12", "14", A) ASM_DOT_U8("13", "14", B)
DEFINE_FWD_4X3X3(fwd_u8_4x3x3, FWD_ROW_U8)
DEFINE_FWD(fwd_u8, DOT256_U8, fwd_u8_4x3x3, FWD_U8_TILE)
#endif

/* The full 3 x 3 tile's loop over nv vectors of 16 in assembly: compiled from intrinsics, GCC
 * spilled accumulators (each madd needs a temporary). Per vector: 6 loads, 9 madds and 9 adds (AVX2) or 9 dot products (AVX-VNNI).
 * acc[3*r + o] (int32 lanes) are loaded, accumulated and stored back. */
TILE_FN static void bww_i16_loop_3x3(const int16_t *g0, const int16_t *g1, const int16_t *g2,
                                     const int16_t *x0, const int16_t *x1, const int16_t *x2, long nv,
                                     __m256i *acc)
{
    if (nv <= 0)
        return;
    long q = 0, end = nv * 32;
    __asm__ volatile("vmovdqu 0(%[acc]), %%ymm0\n\t"
            "vmovdqu 32(%[acc]), %%ymm1\n\t"
            "vmovdqu 64(%[acc]), %%ymm2\n\t"
            "vmovdqu 96(%[acc]), %%ymm3\n\t"
            "vmovdqu 128(%[acc]), %%ymm4\n\t"
            "vmovdqu 160(%[acc]), %%ymm5\n\t"
            "vmovdqu 192(%[acc]), %%ymm6\n\t"
            "vmovdqu 224(%[acc]), %%ymm7\n\t"
            "vmovdqu 256(%[acc]), %%ymm8\n\t"
            "1:\n\t"
            "vmovdqu (%[g0],%[q]), %%ymm9\n\t"
            "vmovdqu (%[g1],%[q]), %%ymm10\n\t"
            "vmovdqu (%[g2],%[q]), %%ymm11\n\t"
            "vmovdqu (%[x0],%[q]), %%ymm12\n\t"
            ASM_MUL("12", "9", "13", "0")
            ASM_MUL("12", "10", "14", "3")
            ASM_MUL("12", "11", "15", "6")
            "vmovdqu (%[x1],%[q]), %%ymm12\n\t"
            ASM_ADD("13", "0")
            ASM_ADD("14", "3")
            ASM_ADD("15", "6")
            ASM_MUL("12", "9", "13", "1")
            ASM_MUL("12", "10", "14", "4")
            ASM_MUL("12", "11", "15", "7")
            "vmovdqu (%[x2],%[q]), %%ymm12\n\t"
            ASM_ADD("13", "1")
            ASM_ADD("14", "4")
            ASM_ADD("15", "7")
            ASM_MUL("12", "9", "13", "2")
            ASM_MUL("12", "10", "14", "5")
            ASM_MUL("12", "11", "15", "8")
            ASM_ADD("13", "2")
            ASM_ADD("14", "5")
            ASM_ADD("15", "8")
            "add $32, %[q]\n\t"
            "cmp %[end], %[q]\n\t"
            "jl 1b\n\t"
            "vmovdqu %%ymm0, 0(%[acc])\n\t"
            "vmovdqu %%ymm1, 32(%[acc])\n\t"
            "vmovdqu %%ymm2, 64(%[acc])\n\t"
            "vmovdqu %%ymm3, 96(%[acc])\n\t"
            "vmovdqu %%ymm4, 128(%[acc])\n\t"
            "vmovdqu %%ymm5, 160(%[acc])\n\t"
            "vmovdqu %%ymm6, 192(%[acc])\n\t"
            "vmovdqu %%ymm7, 224(%[acc])\n\t"
            "vmovdqu %%ymm8, 256(%[acc])"
            : [q] "+r"(q)
            : [g0] "r"(g0), [g1] "r"(g1), [g2] "r"(g2), [x0] "r"(x0), [x1] "r"(x1), [x2] "r"(x2),
              [end] "r"(end), [acc] "r"(acc)
            : "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
              "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

/* i16: int32 lanes over q, widened every `steps` vectors of 16 (exact); out += the sums. */
TILE_INLINE void bww_tile_i16(const int mr, const int no, const int16_t *gf, long Lr, const int16_t *xc,
                              const int *off, long len, long steps, int64_t *out)
{
#define DECL(r, o) __m256i a##r##o = _mm256_setzero_si256();
#define STEP(r, o)                                                                               \
    if (r < mr && o < no)                                                                        \
        a##r##o = DOT256(a##r##o, g##r, x##o);
#define STORE(r, o)                                                                              \
    if (r < mr && o < no) {                                                                      \
        __m256i v = _mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(a##r##o)),     \
                                     _mm256_cvtepi32_epi64(_mm256_extracti128_si256(a##r##o, 1))); \
        __m128i h = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));    \
        out[r * TW + o] += _mm_cvtsi128_si64(h) + _mm_extract_epi64(h, 1);                      \
    }
    const int16_t *g0p = gf, *g1p = gf + (mr > 1 ? Lr : 0), *g2p = gf + (mr > 2 ? 2 * Lr : 0);
    const int16_t *x0p = xc + off[0], *x1p = xc + off[no > 1 ? 1 : 0], *x2p = xc + off[no > 2 ? 2 : 0];
    for (long q0 = 0; q0 < len; q0 += steps * 16) {
        long q1 = q0 + steps * 16 < len ? q0 + steps * 16 : len;
        TILE9(DECL)
        if (mr >= 2 && no == 3) {   /* 2 rows: the third repeats the second, its sums are dropped */
            __m256i acc[9] = {a00, a01, a02, a10, a11, a12, a20, a21, a22};
            bww_i16_loop_3x3(g0p + q0, g1p + q0, (mr == 3 ? g2p : g1p) + q0, x0p + q0, x1p + q0, x2p + q0,
                             (q1 - q0) / 16, acc);
            a00 = acc[0]; a01 = acc[1]; a02 = acc[2];
            a10 = acc[3]; a11 = acc[4]; a12 = acc[5];
            a20 = acc[6]; a21 = acc[7]; a22 = acc[8];
            q1 = q0;   /* done */
        }
        for (long q = q0; q < q1; q += 16) {
            __m256i g0 = _mm256_loadu_si256((const __m256i *)(g0p + q));
            __m256i g1 = _mm256_loadu_si256((const __m256i *)(g1p + q));
            __m256i g2 = _mm256_loadu_si256((const __m256i *)(g2p + q));
            __m256i x0 = _mm256_loadu_si256((const __m256i *)(x0p + q));
            STEP(0, 0) STEP(1, 0) STEP(2, 0)
            __m256i x1 = _mm256_loadu_si256((const __m256i *)(x1p + q));
            STEP(0, 1) STEP(1, 1) STEP(2, 1)
            __m256i x2 = _mm256_loadu_si256((const __m256i *)(x2p + q));
            STEP(0, 2) STEP(1, 2) STEP(2, 2)
        }
        TILE9(STORE)
    }
#undef DECL
#undef STEP
#undef STORE
}

#define BWW_I16(R, O)                                                                            \
    TILE_FN static void bww_i16_##R##_##O(const int16_t *gf, long Lr, const int16_t *xc,         \
                                          const int *off, long len, long steps, int64_t *out)    \
    {                                                                                            \
        bww_tile_i16(R, O, gf, Lr, xc, off, len, steps, out);                                    \
    }
BWW_I16(1, 1) BWW_I16(1, 2) BWW_I16(1, 3)
BWW_I16(2, 1) BWW_I16(2, 2) BWW_I16(2, 3)
BWW_I16(3, 1) BWW_I16(3, 2) BWW_I16(3, 3)
typedef void (*bww_i16_fn)(const int16_t *, long, const int16_t *, const int *, long, long, int64_t *);
static const bww_i16_fn BWW_I16_TILES[MRW + 1][TW + 1] = {
    {NULL, NULL, NULL, NULL},
    {NULL, bww_i16_1_1, bww_i16_1_2, bww_i16_1_3},
    {NULL, bww_i16_2_1, bww_i16_2_2, bww_i16_2_3},
    {NULL, bww_i16_3_1, bww_i16_3_2, bww_i16_3_3}};

TILE_ENTRY void BWW_I16_TILE(int mr, int no, const int16_t *gf, long Lr, const int16_t *xc, const int *off,
                         long len, long steps, int64_t *out)
{
    BWW_I16_TILES[mr][no](gf, Lr, xc, off, len, steps, out);
}
