/* Tests of kernels with a path per CPU feature (kernels/cpu.h) take the path to test as their
 * one optional argument: `test_conv avx512-vnni`. Without it (or with cunit_main's options) they
 * test the best path. */
#ifndef E2SIM_TESTS_CPU_PATH_ARG_H
#define E2SIM_TESTS_CPU_PATH_ARG_H

#include <stdio.h>
#include "cpu.h"

enum { TEST_SKIPPED = 77 };   /* ctest's SKIP_RETURN_CODE (tests/CMakeLists.txt) */

/* 0 when the path of argv[1] (if any) is now the one the kernels take; TEST_SKIPPED when this
 * CPU lacks it; 2 for an unknown name. */
static inline int cpu_path_from_args(int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-')   /* no path; "--optional NAME" is cunit_main's */
        return 0;
    int p = cpu_path_parse(argv[1]);
    if (p < 0) {
        fprintf(stderr, "%s: unknown kernel path '%s'\n", argv[0], argv[1]);
        return 2;
    }
    if (cpu_path_set((enum cpu_path)p) != 0) {
        printf("skipped: this CPU cannot run the %s kernels\n", argv[1]);
        return TEST_SKIPPED;
    }
    printf("kernel path: %s\n", cpu_path_name(cpu_path()));
    return 0;
}

#endif
