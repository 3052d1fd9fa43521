/* The bounded least-squares fitter recovers known parameters and rejects impossible setups. */
#include "cunit_main.h"
#include <math.h>
#include <string.h>
#include "fit.h"

/* A saving-shaped model: s_i = 1 - (a*x_i + b) / (c*x_i + b) with c fixed, like an energy ratio
 * whose dynamic part scales with a and whose static part is b. */
static const double xs[] = {0.2, 0.5, 1.0, 2.0, 4.0};
#define NX 5

static int ratio_model(void *ctx, const double *v, int nv, double *pred, int np, struct e2_err *err)
{
    (void)ctx; (void)nv; (void)err;
    for (int i = 0; i < np; i++)
        pred[i] = 1.0 - (v[0] * xs[i] + v[1]) / (10.0 * xs[i] + v[1]);
    return E2_OK;
}

static void make_measurements(double a, double b, double *m)
{
    double v[2] = {a, b};
    ratio_model(NULL, v, 2, m, NX, NULL);
}

static void test_recovers_known_values(void)
{
    double m[NX], res[NX];
    make_measurements(3.0, 1.5, m);
    struct fit_param p[2] = {{"a", 0.5, 9.0, 5.0, 0, 0, 0}, {"b", 0.1, 8.0, 4.0, 0, 0, 0}};
    struct fit_result r;
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(fit_least_squares(ratio_model, NULL, p, 2, m, NX, res, &r, &err), E2_OK);
    CU_ASSERT_DOUBLE_EQUAL(p[0].value, 3.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(p[1].value, 1.5, 1e-6);
    for (int i = 0; i < NX; i++)
        CU_ASSERT_DOUBLE_EQUAL(res[i], 0.0, 1e-9);
    CU_ASSERT_FALSE(p[0].at_bound);
}

static void test_value_stays_inside_bounds(void)
{
    double m[NX], res[NX];
    make_measurements(3.0, 1.5, m);
    /* The true a = 3 lies outside [0.5, 2]: the fit must stop at the bound and say so. */
    struct fit_param p[2] = {{"a", 0.5, 2.0, 1.0, 0, 0, 0}, {"b", 0.1, 8.0, 4.0, 0, 0, 0}};
    struct fit_result r;
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(fit_least_squares(ratio_model, NULL, p, 2, m, NX, res, &r, &err), E2_OK);
    CU_ASSERT(p[0].value <= 2.0 && p[0].value >= 0.5);
    CU_ASSERT_TRUE(p[0].at_bound);
}

static void test_noise_gives_standard_errors(void)
{
    double m[NX], res[NX];
    make_measurements(3.0, 1.5, m);
    const double noise[NX] = {0.004, -0.003, 0.002, -0.004, 0.001};
    for (int i = 0; i < NX; i++)
        m[i] += noise[i];
    struct fit_param p[2] = {{"a", 0.5, 9.0, 5.0, 0, 0, 0}, {"b", 0.1, 8.0, 4.0, 0, 0, 0}};
    struct fit_result r;
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(fit_least_squares(ratio_model, NULL, p, 2, m, NX, res, &r, &err), E2_OK);
    CU_ASSERT(p[0].std_error > 0 && p[0].std_error < 1.0);
    CU_ASSERT(fabs(p[0].value - 3.0) < 4 * p[0].std_error + 1e-6);
    CU_ASSERT(r.chisq > 0);
}

static void test_rejects_impossible_setups(void)
{
    double m[NX] = {0}, res[NX];
    struct fit_result r;
    struct e2_err err = {{0}};
    struct fit_param bad_bounds[1] = {{"energy.fp32_mac_pj", 5.0, 2.0, 3.0, 0, 0, 0}};
    CU_ASSERT_EQUAL(fit_least_squares(ratio_model, NULL, bad_bounds, 1, m, NX, res, &r, &err),
                    E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "energy.fp32_mac_pj"));
    struct fit_param bad_start[1] = {{"a", 1.0, 2.0, 2.0, 0, 0, 0}};
    CU_ASSERT_EQUAL(fit_least_squares(ratio_model, NULL, bad_start, 1, m, NX, res, &r, &err),
                    E2_BAD_INPUT);
    struct fit_param two[2] = {{"a", 0.5, 9.0, 5.0, 0, 0, 0}, {"b", 0.1, 8.0, 4.0, 0, 0, 0}};
    CU_ASSERT_EQUAL(fit_least_squares(ratio_model, NULL, two, 2, m, 1, res, &r, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "cannot determine"));
}

int main(void)
{
    CU_TestInfo tests[] = {
        { "recovers known values", test_recovers_known_values },
        { "value stays inside bounds", test_value_stays_inside_bounds },
        { "noise gives standard errors", test_noise_gives_standard_errors },
        { "rejects impossible setups", test_rejects_impossible_setups },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("fit", NULL, NULL, tests);
}
