/* Tests of sim/app/cmd_calibrate.c that need no fit: a config without calibration: settings is
 * bad input naming the file, and the --out folder is not made (the calibration is checked
 * before the folder). The fit itself: test_calibrate.c. */
#define _DEFAULT_SOURCE   /* mkdtemp */
#include "cunit_main.h"
#include "testutil.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_args.h"
#include "commands.h"

#define RUN_YAML E2SIM_SOURCE_DIR "/configs/zedboard.yaml"

static int setup(void) { return tmpdir_create("cmd_calibrate"); }
static int cleanup(void) { return tmpdir_remove(); }

static void test_no_calibration_section(void)
{
    struct e2_options opts;
    struct e2_err err = {""};
    char words[1024], out[512];
    path_of(out, sizeof out, "cal");
    snprintf(words, sizeof words, "calibrate --config %s --out %s -q", RUN_YAML, out);
    CU_ASSERT_EQUAL_FATAL(options_of(words, &opts, &err), E2_OK);
    struct e2_config *cfg = malloc(sizeof *cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_EQUAL_FATAL(cfg_load(RUN_YAML, NULL, 0, cfg, &err), E2_OK);
    CU_ASSERT_EQUAL(cmd_calibrate(&opts, cfg, &err), E2_BAD_INPUT);
    CU_ASSERT_STRING_EQUAL(err.msg, RUN_YAML ":1:1: calibration.free names no coefficient to fit");
    CU_ASSERT_NOT_EQUAL(access(out, F_OK), 0);
    free(cfg);
}

/* Three free coefficients and one measurement: bad input at calibration.measurements, found
 * before the folder is made (the fit used to say it without a file, after making the folder). */
static void test_too_few_measurements(void)
{
    char config[512], out[512], words[1400], want[700];
    write_file("one.yaml", "measurements:\n"
                           "  - name: psg\n"
                           "    source: a test\n"
                           "    set: [\"training.method=[psg, swa]\"]\n"
                           "    saving: 0.6\n");
    write_file("cal.yaml", "include: [" E2SIM_SOURCE_DIR "/configs/calibrate.yaml]\n"
                           "name: too-few\n"
                           "calibration:\n"
                           "  measurements: [one.yaml]\n");
    path_of(config, sizeof config, "cal.yaml");
    path_of(out, sizeof out, "few");
    snprintf(words, sizeof words, "calibrate --config %s --out %s -q", config, out);
    struct e2_options opts;
    struct e2_err err = {""};
    CU_ASSERT_EQUAL_FATAL(options_of(words, &opts, &err), E2_OK);
    struct e2_config *cfg = malloc(sizeof *cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_EQUAL_FATAL(cfg_load(config, NULL, 0, cfg, &err), E2_OK);
    CU_ASSERT_EQUAL(cmd_calibrate(&opts, cfg, &err), E2_BAD_INPUT);
    snprintf(want, sizeof want, "%s:4:17: calibration.measurements hold 1 measurement(s), which "
             "cannot determine 3 free coefficient(s) (calibration.free)", config);
    CU_ASSERT_STRING_EQUAL(err.msg, want);
    CU_ASSERT_NOT_EQUAL(access(out, F_OK), 0);
    free(cfg);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"no calibration section", test_no_calibration_section},
        {"too few measurements", test_too_few_measurements},
        CU_TEST_INFO_NULL,
    };
    return cunit_run("cmd_calibrate", setup, cleanup, tests);
}
