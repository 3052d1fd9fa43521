/* DRAMPower memspec (JSON) reading (sim/io/memspec.c): the keys land in hardware.ddr and
 * energy.ddr through the config key hardware.ddr.memspec, and price the DRAM as the same
 * values given in YAML do; bad memspecs, and values outside the ranges of the keys they set, are
 * errors naming the file and key. */
#include "cunit_main.h"
#include "testutil.h"

#include <unistd.h>

#include "memspec.h"
#include "test_hw_params.h"

/* A DDR4 x16 part in DRAMPower's JSON layout (clock 1000 MHz: timings in ns = clocks); a tab
 * as some of DRAMPower's own files have. */
static const char ddr4[] =
    "{\n  \"memspec\": {\n"
    "    \"memoryType\": \"DDR4\",\n"
    "    \"memarchitecturespec\": {\"burstLength\": 8, \"dataRate\": 2, \"nbrOfBanks\": 8,\n"
    "      \"nbrOfBankGroups\": 2, \"nbrOfColumns\": 1024, \"nbrOfRows\": 65536, \"width\": 16,\n"
    "      \"nbrOfDevicesOnDIMM\": 4},\n"
    "\t\"memtimingspec\": {\"clkMhz\": 1000, \"RCD\": 15, \"RP\": 15, \"RAS\": 33, \"RFC\": 350,\n"
    "      \"REFI\": 7800, \"CL\": 15},\n"
    "    \"mempowerspec\": {\"vdd\": 1.2, \"vpp\": 2.5, \"idd0\": 95, \"ipp0\": 4, \"idd2n\": 37,\n"
    "      \"idd3n\": 61, \"ipp3n\": 3, \"idd4r\": 223, \"idd4w\": 209, \"idd5B\": 72, \"ipp5B\": 5}\n"
    "  }\n}\n";

static void temp_file(char *path, const char *text)
{
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
}

static int load_with(const char *memspec_path, struct e2_config *cfg, struct e2_err *err)
{
    char set[300];
    snprintf(set, sizeof set, "hardware.ddr.memspec=%s", memspec_path);
    const char *sets[] = {set};
    return cfg_load_scoped(E2SIM_SOURCE_DIR "/configs/hw/zynq7020.yaml", sets, 1, CFG_SCOPE_HW,
                           cfg, err);
}

static void test_memspec_sets_dram(void)
{
    char path[] = "/tmp/e2sim-memspec-XXXXXX";
    temp_file(path, ddr4);
    struct e2_config *cfg = calloc(1, sizeof *cfg);
    struct e2_err err = {""};
    int rc = load_with(path, cfg, &err);
    if (rc)
        fprintf(stderr, "\n%s\n", err.msg);
    CU_ASSERT_FATAL(rc == E2_OK);
    const struct hw_ddr *d = &cfg->hw.ddr;
    CU_ASSERT_DOUBLE_EQUAL(d->clock_mhz, 1000, 0);
    CU_ASSERT_EQUAL(d->devices, 4);
    CU_ASSERT_EQUAL(d->device_bits, 16);
    CU_ASSERT_EQUAL(d->bus_bits, 64);
    CU_ASSERT_EQUAL(d->banks, 8);
    CU_ASSERT_EQUAL(d->page_bytes, 2048);   /* 1,024 columns x 16 bits */
    CU_ASSERT_DOUBLE_EQUAL(d->trcd_ns, 15, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(d->tras_ns, 33, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(d->trfc_ns, 350, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(d->trefi_ns, 7800, 1e-12);
    const struct hw_ddr_energy *e = &cfg->hw.energy.ddr;
    CU_ASSERT_DOUBLE_EQUAL(e->idd5_ma, 72, 0);
    CU_ASSERT_DOUBLE_EQUAL(e->ipp5_ma, 5, 0);
    CU_ASSERT_DOUBLE_EQUAL(e->vpp, 2.5, 0);
    /* priced as DRAMPower would: ACT 4 x ((95-61) x 1.2 + (4-3) x 2.5) x 33 ns = 5,715.6 pJ */
    struct hw_model *m = hwt_model_from(&cfg->hw);
    CU_ASSERT_FATAL(m != NULL);
    struct hw_ledger *l = hw_ledger_new();
    struct oprec r = hwt_conv(OP_PHASE_FWD, 1, 16, 16, 16, 3, 1, 8, 8, 8);
    char why[256];
    CU_ASSERT_FATAL(hw_account(m, l, &r, 1, why, sizeof why) == 0);
    CU_ASSERT_EQUAL(hwt_unit(l, HW_DDR3, "activate (row)"), 5715600);
    CU_ASSERT_EQUAL(hwt_unit(l, HW_DDR3, "read burst (core)"), 3110400);   /* 4 x 162 x 1.2 x 4 ns */
    CU_ASSERT_EQUAL(hwt_unit(l, HW_DDR3, "write burst (core)"), 2841600);  /* 4 x 148 x 1.2 x 4 ns */
    hw_ledger_free(l);
    hw_free(m);
    free(cfg);
    unlink(path);
}

static void expect_error(const char *text, const char *needle)
{
    char path[] = "/tmp/e2sim-memspec-XXXXXX";
    temp_file(path, text);
    struct e2_config *cfg = calloc(1, sizeof *cfg);
    struct e2_err err = {""};
    CU_ASSERT_EQUAL(load_with(path, cfg, &err), E2_BAD_INPUT);
    if (!strstr(err.msg, needle) || !strstr(err.msg, path))
        fprintf(stderr, "\nexpected '%s' and the path in: %s\n", needle, err.msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, needle));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, path));
    free(cfg);
    unlink(path);
}

static void test_bad_memspecs(void)
{
    expect_error("{\"memspec\": {\"memoryType\": \"LPDDR4\"}}", "DDR3 or DDR4");
    expect_error("{\"memspec\": {\"memoryType\": \"DDR3\", \"memarchitecturespec\": {}}}",
                 "memarchitecturespec.burstLength");
    expect_error("{\"memspec\": \n  [1,}", ":2:");
    expect_error("{\"spec\": {}}", "not a DRAMPower memspec");
}

/* ddr4 with its first `from` replaced by `to` (from is in it). */
static const char *ddr4_with(const char *from, const char *to)
{
    static char text[sizeof ddr4 + 64];
    const char *at = strstr(ddr4, from);
    CU_ASSERT_FATAL(at != NULL && strlen(to) <= strlen(from) + 32);
    snprintf(text, sizeof text, "%.*s%s%s", (int)(at - ddr4), ddr4, to, at + strlen(from));
    return text;
}

/* Values the memspec gives are held to the ranges of the keys they set: before, a width of 0
 * or a burst length of 12 passed the loader and only the hardware model refused them, naming
 * neither the file nor the key, and a clock of 1e-300 MHz was not refused at all. */
static void test_memspec_values_in_range(void)
{
    expect_error(ddr4_with("\"width\": 16", "\"width\": 0"),
                 "gives hardware.ddr.bus_bits = 0, outside its range [8, 64]");
    expect_error(ddr4_with("\"burstLength\": 8", "\"burstLength\": 12"),
                 "gives hardware.ddr.burst_length = 12, not one of 4|8|16");
    expect_error(ddr4_with("\"clkMhz\": 1000", "\"clkMhz\": 1e-300"),
                 "gives hardware.ddr.clock_mhz = 1e-300, outside its range [100, 2200]");
    expect_error(ddr4_with("\"RFC\": 350", "\"RFC\": 0"), "--set hardware.ddr.memspec=");
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"a DDR4 memspec sets the DRAM and prices it", test_memspec_sets_dram},
        {"bad memspecs are errors naming file and key", test_bad_memspecs},
        {"a memspec's values are held to the keys' ranges", test_memspec_values_in_range},
        CU_TEST_INFO_NULL,
    };
    return cunit_run("memspec", NULL, NULL, tests);
}
