/* The register tiles of the direct convolution (conv_avx2.c runs the geometry, padding,
 * spills and dequantization; a tile only sums exact products). One set per dispatch path
 * (cpu.h): conv_avx2.c has the AVX2 tiles, conv_avx_vnni.c the AVX-VNNI integer ones (both from
 * conv_avx2_tiles.h), conv_avx512.c and conv_avx512_vnni.c the AVX-512 ones. Every tile adds the same products in int32 lanes, so every set gives the same sums as
 * long as the caller's spill bounds hold (their wrap-around is the same too). */
#ifndef E2_CONV_TILES_H
#define E2_CONV_TILES_H

#include <stdint.h>

enum { CONV_TILE_NT = 16 };   /* flat outputs of a forward tile */

/* Forward: acc[r * 16 + j] = the int32 sum, over channel pairs [0, ncp) and taps [0, kk), of the
 * madd of weight pair wb[(cp * kk + t) * mr + r] with the interleaved input pair at
 * xb + cp * ps2 + off2[t] + 2 * j (j < 8) or + 2 * (v1 + j - 8) (j >= 8). mr <= the set's mr. */
typedef void (*conv_fwd_i16_tile)(int mr, const int16_t *xb, long v1, long ps2, int ncp,
                                  const int *off2, int kk, const int32_t *wb, int32_t *acc);

/* Backward-weight: out[r * 3 + o] += sum over q in [0, len) of gf[r * Lr + q] * xc[off[o] + q],
 * r < mr <= 3, o < no <= 3, with int32 lanes widened to int64 every `steps` vectors of products
 * pairs (a lane never adds more than 2 * steps products). len is a multiple of 16. */
typedef void (*conv_bww_i16_tile)(int mr, int no, const int16_t *gf, long Lr, const int16_t *xc,
                                  const int *off, long len, long steps, int64_t *out);

/* Backward-weight of a stride-1 3x3 conv, all 9 taps: out[r * 9 + kh * 3 + kw] += sum over q in
 * [0, len) of gf[r * Lr + q] * xc[kh * row + kw + q], r < mr <= 3; lanes as conv_bww_i16_tile. */
typedef void (*conv_bww9_i16_tile)(int mr, const int16_t *gf, long Lr, const int16_t *xc, long row,
                                   long len, long steps, int64_t *out);

/* Float forward: out[r * 16 + j] = sum over input channels ci < cin (in that order) and taps
 * t < kk (in that order, inner) of wb[(ci * kk + t) * mr + r] * xb[ci * ps + off[t] + j'] (j' as
 * above), one fused multiply-add per term: every path adds in this order, so every path gives
 * the same floats. */
typedef void (*conv_fwd_f32_tile)(int mr, const float *xb, long v1, long ps, int cin, const int *off,
                                  int kk, const float *wb, float *out);

struct conv_tiles {
    int mr_f32;              /* most float forward tile rows */
    conv_fwd_f32_tile fwd_f32;
    int mr;                  /* most integer forward tile rows */
    conv_fwd_i16_tile fwd;
    /* NULL, or the forward tile on quads of unsigned 8-bit codes (4 bytes per position as well:
     * channels 4c..4c+3) against int32 weight quads of 4 signed bytes, 4 products per lane step */
    conv_fwd_i16_tile fwd_u8;
    conv_bww_i16_tile bww;
    conv_bww9_i16_tile bww9;   /* NULL, or the 9-tap tile for stride-1 3x3 convs */
};

extern const struct conv_tiles conv_tiles_avx512, conv_tiles_avx512_vnni;

/* The AVX-VNNI integer tiles (conv_avx_vnni.c); the path's float tile is AVX2's. */
void conv_fwd_i16_avx_vnni(int mr, const int16_t *xb, long v1, long ps2, int ncp, const int *off2,
                           int kk, const int32_t *wb, int32_t *acc);
void conv_fwd_u8_avx_vnni(int mr, const int16_t *xb, long v1, long ps2, int ncp, const int *off2,
                          int kk, const int32_t *wb, int32_t *acc);
void conv_bww_i16_avx_vnni(int mr, int no, const int16_t *gf, long Lr, const int16_t *xc,
                           const int *off, long len, long steps, int64_t *out);

#endif
