/* Tests of sim/app/cmd_bench.c that need no benchmark run: unknown names are bad input that
 * lists the known ones. (The benchmarks themselves: docs/performance.md.) */
#include "cunit_main.h"
#include <string.h>

#include "cli_args.h"
#include "commands.h"

static void test_unknown_name(void)
{
    struct e2_options opts;
    struct e2_err err = {""};
    CU_ASSERT_EQUAL_FATAL(options_of("bench resnet20 resnet999", &opts, &err), E2_OK);
    CU_ASSERT_EQUAL(cmd_bench(&opts, NULL, &err), E2_BAD_INPUT);
    CU_ASSERT_STRING_EQUAL(err.msg, "bench: unknown benchmark 'resnet999' (resnet20, resnet74, "
                                    "resnet110, or a kernel path: portable, avx2, avx-vnni, "
                                    "avx512, avx512-vnni)");
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"unknown benchmark name", test_unknown_name},
        CU_TEST_INFO_NULL,
    };
    return cunit_run("cmd_bench", NULL, NULL, tests);
}
