/* AVX-512 VNNI integer conv tiles (path "avx512-vnni", cpu.h): vpdpwssd, the two products of a
 * pair and their add to the int32 lane in one instruction, without saturation (the same wrap-
 * around as vpmaddwd + vpaddd, which the caller's spill bounds rule out anyway), and vpdpbusd
 * for unsigned 8-bit activations against 8-bit weights (4 byte products per lane step, exact:
 * |sum| <= cin * k * k * 255 * 127 fits int32 whenever the caller takes that tile). Compiled with
 * -mavx512f -mavx512bw -mavx512vl -mavx512vnni (kernels/CMakeLists.txt). */
#if defined(__x86_64__) && defined(__AVX512VNNI__)
#define DOT(acc, a, b) _mm512_dpwssd_epi32((acc), (a), (b))
#define DOT_ASM(A, G, X, T) "vpdpwssd %%zmm" X ", %%zmm" G ", %%zmm" A "\n\t"
#define DOT_U8(acc, a, b) _mm512_dpbusd_epi32((acc), (a), (b))
#define TILES conv_tiles_avx512_vnni
#include "conv_avx512_tiles.h"
#else
#include "conv_tiles.h"
const struct conv_tiles conv_tiles_avx512_vnni = {0};   /* never chosen off x86-64 */
#endif
