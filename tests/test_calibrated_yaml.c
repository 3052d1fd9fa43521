/* The calibrated hardware table (sim/calibrate/calibrated_yaml.c): the header as comments,
 * every key of the model's table once in its section, each with its doc, the fitted ones with
 * their fit in the comment, and the file loads back to the base values plus the fitted ones. */
#include "cunit_main.h"
#include "testutil.h"

#include "calibrate.h"
#include "measured.h"

/* A calibration of two coefficients, one of them the integer, without measurements. */
static void two_free(struct calibrate *c, const struct e2_config *base)
{
    memset(c, 0, sizeof *c);
    c->base = base;
    c->np = 2;
    c->int_k = 1;
    const char *keys[2] = {"energy.fp32_mac_pj", "hardware.fp32_dsps_per_mac"};
    const double lo[2] = {4, 2}, hi[2] = {80, 5};
    for (int k = 0; k < 2; k++) {
        c->def[k] = hw_param_find(keys[k]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(c->def[k]);
        snprintf(c->param[k].name, sizeof c->param[k].name, "%s", keys[k]);
        c->param[k].min = lo[k];
        c->param[k].max = hi[k];
        c->param[k].start = hw_param_get(&base->hw, c->def[k]);
    }
}

static void test_calibrated_table(void)
{
    struct e2_config *base = calloc(1, sizeof *base), *back = calloc(1, sizeof *back);
    CU_ASSERT_PTR_NOT_NULL_FATAL(base);
    CU_ASSERT_PTR_NOT_NULL_FATAL(back);
    cfg_defaults(base);
    struct calibrate c;
    two_free(&c, base);
    const double values[2] = {31.25, 3}, se[2] = {0.5, NAN};
    char path[512];
    path_of(path, sizeof path, "calibrated.yaml");
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    struct e2_err err = {""};
    CU_ASSERT_EQUAL(calibrate_write_hw(f, &c, values, se, "test header\n\nsecond line", &err),
                    E2_OK);
    fclose(f);
    char *text = read_text(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    /* the header, an empty line kept as a bare '#' */
    CU_ASSERT(strncmp(text, "# test header\n#\n# second line\n\nhardware:\n", 41) == 0);
    CU_ASSERT(strstr(text, "\n  pl_clock_mhz: 150   # PL clock of the accelerator (MHz); model "
                           "time counts its cycles\n") != NULL);
    CU_ASSERT(strstr(text, "\n  fp32_dsps_per_mac: 3   # FITTED by e2sim calibrate: 3 (integer: "
                           "the best of every value in the bounds) (sourced start 5; bounds "
                           "[2, 5]). DSPs one pipelined float32 multiply-add lane uses "
                           "(multiplier 3 + adder 2)\n") != NULL);
    CU_ASSERT(strstr(text, "\nenergy:\n") != NULL);
    CU_ASSERT(strstr(text, "\n  fp32_mac_pj: 31.25   # FITTED by e2sim calibrate: 31.25 +- 0.5 "
                           "(sourced start 12; bounds [4, 80]). one float32 multiply-add on "
                           "DSPs + LUTs (pJ) [E]\n") != NULL);
    CU_ASSERT(strstr(text, "\n  static:\n    pl_w: 0.113   # PL device static power (W) [V]\n")
              != NULL);
    /* every key of the table is in the file */
    size_t n;
    const struct hw_param_def *t = hw_param_table(&n);
    struct measured_place at;
    for (size_t i = 0; i < n; i++)
        CU_ASSERT(measured_find_place(path, t[i].key, -1, &at) == 0);
    /* and it loads back: the fitted values, every other one the base's */
    CU_ASSERT_EQUAL_FATAL(cfg_load_scoped(path, NULL, 0, CFG_SCOPE_HW, back, &err), E2_OK);
    CU_ASSERT_EQUAL(back->hw.energy.fp32_mac_pj, 31.25);
    CU_ASSERT_EQUAL(back->hw.fp32_dsps_per_mac, 3);
    struct hw_params expect = base->hw;
    expect.energy.fp32_mac_pj = 31.25;
    expect.fp32_dsps_per_mac = 3;
    CU_ASSERT(memcmp(&expect, &back->hw, sizeof expect) == 0);
    free(text);
    free(base);
    free(back);
}

static int suite_init(void) { return tmpdir_create("calibrated_yaml"); }

int main(void)
{
    CU_TestInfo tests[] = {
        {"the calibrated table: header, sections, fitted keys, loads back", test_calibrated_table},
        CU_TEST_INFO_NULL,
    };
    return cunit_run("calibrated_yaml", suite_init, tmpdir_remove, tests);
}
