/* The main() every CUnit test file shares: one suite, a verbose run, and an exit status that
 * says whether anything failed (an assertion, a test, or the suite's own set-up).
 *
 *   int main(void)
 *   {
 *       CU_TestInfo tests[] = { { "name", test_fn }, ..., CU_TEST_INFO_NULL };
 *       return cunit_run("module", NULL, NULL, tests);
 *   }
 *
 * A test that needs what a machine may lack (a data set, a CPU feature) is listed apart, runs
 * as its own ctest entry (tests/CMakeLists.txt: E2TEST_OPTIONAL) and calls cunit_skip() when it
 * cannot run, which ctest reports as skipped, never as passed:
 *
 *   int main(int argc, char **argv)
 *   {
 *       ...
 *       CU_TestInfo optional[] = { { "real_cifar10", test_real_cifar10 }, CU_TEST_INFO_NULL };
 *       return cunit_main(argc, argv, "module", NULL, NULL, tests, optional);
 *   }
 */
#ifndef E2SIM_TESTS_CUNIT_MAIN_H
#define E2SIM_TESTS_CUNIT_MAIN_H

#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#define CUNIT_SKIPPED 77   /* ctest's SKIP_RETURN_CODE for these tests */

static int cunit_skips;

/* Called by a test that cannot run here, which then returns. */
static inline void cunit_skip(const char *why)
{
    printf("\n  skipped: %s ", why);
    cunit_skips++;
}

/* Runs the tests (up to the CU_TEST_INFO_NULL entry) as suite `suite` with its set-up and
 * clean-up (either may be NULL); 0 when everything passed, 1 otherwise. */
static inline int cunit_run(const char *suite, CU_InitializeFunc init, CU_CleanupFunc clean,
                            const CU_TestInfo *tests)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite(suite, init, clean);
    int ok = s != NULL;
    for (const CU_TestInfo *t = tests; ok && t->pName; t++)
        ok = CU_add_test(s, t->pName, t->pTestFunc) != NULL;
    unsigned failed = 1;
    if (ok) {
        CU_basic_set_mode(CU_BRM_VERBOSE);
        CU_basic_run_tests();
        failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed() +
                 CU_get_number_of_suites_failed();
    }
    CU_cleanup_registry();
    return failed ? 1 : 0;
}

/* Without arguments: the tests. "--optional NAME": the entry NAME of optional alone; exit
 * status CUNIT_SKIPPED when it skipped. */
static inline int cunit_main(int argc, char **argv, const char *suite, CU_InitializeFunc init,
                             CU_CleanupFunc clean, const CU_TestInfo *tests,
                             const CU_TestInfo *optional)
{
    if (argc < 3 || strcmp(argv[1], "--optional") != 0)
        return cunit_run(suite, init, clean, tests);
    for (const CU_TestInfo *t = optional; t->pName; t++) {
        if (strcmp(t->pName, argv[2]) == 0) {
            CU_TestInfo one[2] = {*t, CU_TEST_INFO_NULL};
            int failed = cunit_run(suite, init, clean, one);
            return failed ? 1 : cunit_skips ? CUNIT_SKIPPED : 0;
        }
    }
    fprintf(stderr, "%s: no optional test '%s'\n", argv[0], argv[2]);
    return 1;
}

#endif
