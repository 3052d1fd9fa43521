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

/* --rounds N: 1 by default, 1..100, and only for bench. */
static void test_rounds_option(void)
{
    struct e2_options opts;
    struct e2_err err = {""};
    CU_ASSERT_EQUAL_FATAL(options_of("bench resnet20", &opts, &err), E2_OK);
    CU_ASSERT_EQUAL(opts.rounds, 1);
    CU_ASSERT_EQUAL_FATAL(options_of("bench resnet20 --rounds 5", &opts, &err), E2_OK);
    CU_ASSERT_EQUAL(opts.rounds, 5);
    CU_ASSERT_EQUAL(options_of("bench --rounds 0", &opts, &err), E2_BAD_INPUT);
    CU_ASSERT_STRING_EQUAL(err.msg, "--rounds 0: expected a round count from 1 to 100");
    CU_ASSERT_EQUAL(options_of("bench --rounds=101", &opts, &err), E2_BAD_INPUT);
    CU_ASSERT_EQUAL(options_of("bench --rounds two", &opts, &err), E2_BAD_INPUT);
    CU_ASSERT_EQUAL(options_of("--config a.yaml --rounds 2", &opts, &err), E2_BAD_INPUT);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"unknown benchmark name", test_unknown_name},
        {"--rounds", test_rounds_option},
        CU_TEST_INFO_NULL,
    };
    return cunit_run("cmd_bench", NULL, NULL, tests);
}
