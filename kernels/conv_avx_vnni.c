/* AVX-VNNI integer conv tiles (path "avx-vnni", cpu.h): the AVX2 tiles of conv_avx2_tiles.h with
 * the VEX form of vpdpwssd, and the forward tile on quads of unsigned 8-bit activations with the
 * VEX vpdpbusd (non-saturating: the caller takes it only where whole sums fit int32), for CPUs with AVX-VNNI but no AVX-512 (Alder Lake and later client
 * parts; Zen 5 has both and takes the AVX-512 path). Compiled with -mavx2 -mfma -mavxvnni
 * (kernels/CMakeLists.txt); called only when cpu_path() says the CPU has them. */
#include "conv_tiles.h"

#if defined(__x86_64__) && defined(__AVXVNNI__)
#define TILE_FN
#define TILE_INLINE static inline __attribute__((always_inline))
#define DOT256(acc, a, b) _mm256_dpwssd_avx_epi32((acc), (a), (b))
#define ASM_MUL(X, G, T, A) "%{vex%} vpdpwssd %%ymm" X ", %%ymm" G ", %%ymm" A "\n\t"
#define ASM_ADD(T, A) ""
#define DOT256_U8(acc, a, b) _mm256_dpbusd_avx_epi32((acc), (a), (b))
#define ASM_DOT_U8(X, G, A) "%{vex%} vpdpbusd %%ymm" G ", %%ymm" X ", %%ymm" A "\n\t"
#define TILE_ENTRY
#define FWD_I16_TILE conv_fwd_i16_avx_vnni
#define FWD_U8_TILE conv_fwd_u8_avx_vnni
#define BWW_I16_TILE conv_bww_i16_avx_vnni
#include "conv_avx2_tiles.h"
#else
/* never chosen off x86-64 (cpu.c) */
void conv_fwd_i16_avx_vnni(int mr, const int16_t *xb, long v1, long ps2, int ncp, const int *off2,
                           int kk, const int32_t *wb, int32_t *acc)
{
    (void)mr, (void)xb, (void)v1, (void)ps2, (void)ncp, (void)off2, (void)kk, (void)wb, (void)acc;
}

void conv_fwd_u8_avx_vnni(int mr, const int16_t *xb, long v1, long ps2, int ncp, const int *off2,
                          int kk, const int32_t *wb, int32_t *acc)
{
    conv_fwd_i16_avx_vnni(mr, xb, v1, ps2, ncp, off2, kk, wb, acc);
}

void conv_bww_i16_avx_vnni(int mr, int no, const int16_t *gf, long Lr, const int16_t *xc,
                           const int *off, long len, long steps, int64_t *out)
{
    (void)mr, (void)no, (void)gf, (void)Lr, (void)xc, (void)off, (void)len, (void)steps, (void)out;
}
#endif
