/* CPU feature detection for the kernel dispatch (cpu.h). */
#include "cpu.h"

#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

static const char *const NAMES[CPU_PATH_COUNT] = {"portable", "avx2", "avx-vnni", "avx512",
                                                  "avx512-vnni"};
static const enum cpu_path BASES[CPU_PATH_COUNT] = {CPU_PORTABLE, CPU_PORTABLE, CPU_AVX2, CPU_AVX2,
                                                    CPU_AVX512};

static int chosen = -1;   /* -1: not yet chosen (the best supported path) */

#if defined(__x86_64__) || defined(__i386__)
/* AVX-VNNI (the VEX form), CPUID leaf 7 subleaf 1, EAX bit 4: read directly, since clang's
 * __builtin_cpu_supports does not know it. Its registers are AVX2's, whose OS support the
 * avx2 check already covers. */
static int cpu_has_avx_vnni(void)
{
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a >> 4 & 1);
}
#endif

int cpu_path_supported(enum cpu_path p)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();   /* idempotent; needed when called before constructors run */
    /* __builtin_cpu_supports also checks that the OS saves the wider registers (XCR0) */
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    int avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512vl");
    switch (p) {
    case CPU_PORTABLE: return 1;
    case CPU_AVX2: return avx2;
    case CPU_AVX_VNNI: return avx2 && cpu_has_avx_vnni();
    case CPU_AVX512: return avx512;
    case CPU_AVX512_VNNI: return avx512 && __builtin_cpu_supports("avx512vnni");
    default: return 0;
    }
#else
    return p == CPU_PORTABLE;
#endif
}

enum cpu_path cpu_path_base(enum cpu_path p)
{
    return p >= CPU_PORTABLE && p < CPU_PATH_COUNT ? BASES[p] : CPU_PORTABLE;
}

enum cpu_path cpu_path(void)
{
    if (chosen < 0) {
        int best = CPU_PORTABLE;
        for (int p = CPU_PORTABLE; p < CPU_PATH_COUNT; p++)
            if (cpu_path_supported((enum cpu_path)p))
                best = p;
        chosen = best;
    }
    return (enum cpu_path)chosen;
}

int cpu_path_set(enum cpu_path p)
{
    if (p < CPU_PORTABLE || p >= CPU_PATH_COUNT || !cpu_path_supported(p))
        return -1;
    chosen = p;
    return 0;
}

const char *cpu_path_name(enum cpu_path p)
{
    return p >= CPU_PORTABLE && p < CPU_PATH_COUNT ? NAMES[p] : "?";
}

int cpu_path_parse(const char *name)
{
    for (int p = 0; p < CPU_PATH_COUNT; p++)
        if (!strcmp(name, NAMES[p]))
            return p;
    return -1;
}
