/* The main() every CUnit test file shares: one suite, a verbose run, and an exit status that
 * says whether anything failed (an assertion, a test, or the suite's own set-up).
 *
 *   int main(void)
 *   {
 *       CU_TestInfo tests[] = { { "name", test_fn }, ..., CU_TEST_INFO_NULL };
 *       return cunit_run("module", NULL, NULL, tests);
 *   }
 */
#ifndef E2SIM_TESTS_CUNIT_MAIN_H
#define E2SIM_TESTS_CUNIT_MAIN_H

#include <CUnit/Basic.h>

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

#endif
