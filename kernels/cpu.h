/* Which kernel path runs: chosen once from the CPU's features, lowered on request (tests compare
 * every path the CPU has against the scalar references; `e2sim bench --kernels` times each).
 *   portable     plain C (any CPU, any architecture)
 *   avx2         AVX2 + FMA (conv_avx2.c, gemm_avx2.c)
 *   avx-vnni     avx2 + AVX-VNNI: the AVX2 integer conv cores with the VEX vpdpwssd
 *                (conv_avx_vnni.c)
 *   avx512       avx2 + AVX-512 F/BW/VL: the integer conv cores in 512-bit registers
 *                (conv_avx512.c)
 *   avx512-vnni  avx512 + AVX-512 VNNI: the same cores with vpdpwssd (conv_avx512_vnni.c)
 * A path needs its base path (cpu_path_base) and runs its own kernels where it has them and its
 * base's elsewhere. Later paths rank higher: the dispatch takes the last one the CPU supports
 * (a CPU with both AVX-VNNI and AVX-512 takes the 512-bit tiles). Integer results are identical on every path; float results
 * equal the references within float reassociation error (docs/numbers.md). */
#ifndef E2_CPU_H
#define E2_CPU_H

enum cpu_path { CPU_PORTABLE, CPU_AVX2, CPU_AVX_VNNI, CPU_AVX512, CPU_AVX512_VNNI, CPU_PATH_COUNT };

/* Whether this CPU (and OS) can run the path. */
int cpu_path_supported(enum cpu_path p);

/* The path p builds on (portable: itself). */
enum cpu_path cpu_path_base(enum cpu_path p);

/* The path the kernels take now: the best supported one unless cpu_path_set lowered it. */
enum cpu_path cpu_path(void);

/* Make the kernels take path p; -1 (nothing changed) when the CPU cannot run it. Not while
 * kernels run (set it between calls, from one thread). */
int cpu_path_set(enum cpu_path p);

/* "portable", "avx2", "avx-vnni", "avx512", "avx512-vnni"; cpu_path_parse returns -1 for another name. */
const char *cpu_path_name(enum cpu_path p);
int cpu_path_parse(const char *name);

#endif
