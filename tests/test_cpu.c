/* The kernel path dispatch (kernels/cpu.h): names, nesting of the paths, lowering. */
#include "cunit_main.h"
#include "cpu.h"

static void test_names_round_trip(void)
{
    for (int p = 0; p < CPU_PATH_COUNT; p++)
        CU_ASSERT_EQUAL(cpu_path_parse(cpu_path_name((enum cpu_path)p)), p);
    CU_ASSERT_EQUAL(cpu_path_parse("avx512vnni"), -1);
    CU_ASSERT_STRING_EQUAL(cpu_path_name(CPU_AVX512_VNNI), "avx512-vnni");
    CU_ASSERT_STRING_EQUAL(cpu_path_name(CPU_AVX_VNNI), "avx-vnni");
    CU_ASSERT_STRING_EQUAL(cpu_path_name(CPU_PATH_COUNT), "?");
}

/* Each path needs the features of its base path, which comes before it. */
static void test_paths_nest(void)
{
    CU_ASSERT_TRUE(cpu_path_supported(CPU_PORTABLE));
    CU_ASSERT_EQUAL(cpu_path_base(CPU_AVX_VNNI), CPU_AVX2);
    CU_ASSERT_EQUAL(cpu_path_base(CPU_AVX512), CPU_AVX2);
    CU_ASSERT_EQUAL(cpu_path_base(CPU_AVX512_VNNI), CPU_AVX512);
    for (int p = 1; p < CPU_PATH_COUNT; p++) {
        enum cpu_path base = cpu_path_base((enum cpu_path)p);
        CU_ASSERT_TRUE((int)base < p);
        if (cpu_path_supported((enum cpu_path)p))
            CU_ASSERT_TRUE(cpu_path_supported(base));
    }
    CU_ASSERT_FALSE(cpu_path_supported(CPU_PATH_COUNT));
}

static void test_best_then_lowered(void)
{
    enum cpu_path best = cpu_path();
    CU_ASSERT_TRUE(cpu_path_supported(best));
    for (int p = best + 1; p < CPU_PATH_COUNT; p++)   /* the best is the last supported */
        CU_ASSERT_FALSE(cpu_path_supported((enum cpu_path)p));
    CU_ASSERT_EQUAL(cpu_path_set(CPU_PORTABLE), 0);
    CU_ASSERT_EQUAL(cpu_path(), CPU_PORTABLE);
    if (best + 1 < CPU_PATH_COUNT) {
        CU_ASSERT_EQUAL(cpu_path_set(best + 1), -1);   /* refused, nothing changed */
        CU_ASSERT_EQUAL(cpu_path(), CPU_PORTABLE);
    }
    CU_ASSERT_EQUAL(cpu_path_set(CPU_PATH_COUNT), -1);
    CU_ASSERT_EQUAL(cpu_path_set(best), 0);
    CU_ASSERT_EQUAL(cpu_path(), best);
}

int main(void)
{
    CU_TestInfo tests[] = {
        { "names round trip", test_names_round_trip },
        { "each path needs the one before", test_paths_nest },
        { "best path, lowered and restored", test_best_then_lowered },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("cpu", NULL, NULL, tests);
}
