/* AVX-512 F/BW/VL integer conv tiles (path "avx512", cpu.h): vpmaddwd + vpaddd on 512-bit
 * vectors. Compiled with -mavx512f -mavx512bw -mavx512vl (kernels/CMakeLists.txt); called only
 * when cpu_path() says the CPU has them. */
#if defined(__x86_64__) && defined(__AVX512BW__)
#define DOT(acc, a, b) _mm512_add_epi32((acc), _mm512_madd_epi16((a), (b)))
#define DOT_ASM(A, G, X, T)                                                                      \
    "vpmaddwd %%zmm" X ", %%zmm" G ", %%zmm" T "\n\t"                                          \
    "vpaddd %%zmm" T ", %%zmm" A ", %%zmm" A "\n\t"
#define TILES conv_tiles_avx512
#include "conv_avx512_tiles.h"
#else
#include "conv_tiles.h"
const struct conv_tiles conv_tiles_avx512 = {0};   /* never chosen off x86-64 */
#endif
