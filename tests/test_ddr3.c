/* DRAM model (DDR3 on the ZedBoard, DDR4 on UltraScale+ boards): DRAMPower-style command counts and energies worked out by hand, timing checks,
 * and the bandwidth a DMA stream reaches through the controller and the AXI HP ports. */
#include "cunit_main.h"

#include "test_hw_params.h"

/* Default table with tCK = 1.875 ns exactly, so the hand numbers below are exact. */
static struct hw_model *model_exact_tck(void)
{
    struct hw_params p = hw_params_defaults();
    p.ddr.clock_mhz = 1000.0 / 1.875;
    return hwt_model_from(&p);
}

static void test_drampower_commands(void)
{
    struct hw_model *m = model_exact_tck();
    CU_ASSERT_FATAL(m != NULL);
    /* tRCD = tRP = 7 clocks, tRAS = 20, tRFC = ceil(160 / 1.875) = 86. */
    const struct hw_ddr_cmd cmds[] = {
        {HW_DDR_ACT, 0, 0},  {HW_DDR_RD, 0, 7},   {HW_DDR_RD, 0, 11}, {HW_DDR_WR, 0, 20},
        {HW_DDR_PRE, 0, 30}, {HW_DDR_ACT, 1, 40}, {HW_DDR_RD, 1, 47}, {HW_DDR_PRE, 1, 60},
        {HW_DDR_REF, 0, 67},
    };
    struct hw_ddr_counts c;
    char err[256];
    CU_ASSERT_FATAL(hw_ddr_replay(m, cmds, sizeof cmds / sizeof cmds[0], 200, &c, err, sizeof err) == 0);
    CU_ASSERT_EQUAL(c.act, 2);
    CU_ASSERT_EQUAL(c.pre, 2);
    CU_ASSERT_EQUAL(c.rd, 3);
    CU_ASSERT_EQUAL(c.wr, 1);
    CU_ASSERT_EQUAL(c.ref, 1);
    /* Active while a bank is open or the refresh runs: [0,30) [40,60) [67,153). */
    CU_ASSERT_EQUAL(c.active_cycles, 30 + 20 + 86);
    CU_ASSERT_EQUAL(c.precharged_cycles, 10 + 7 + 47);
    /* Two x16 devices: E = 2 x current x V x time (mA V ns = pJ), in fJ. */
    CU_ASSERT(c.act_fj == (e2_fj)2 * 7312500);        /* 2 x (110-45) mA x 37.5 ns x 1.5 V */
    CU_ASSERT(c.pre_fj == (e2_fj)2 * 2677500);        /* 2 x (110-42) mA x 13.125 ns x 1.5 V */
    CU_ASSERT(c.rd_fj == (e2_fj)3 * 3375000);         /* 2 x (195-45) mA x 1.5 V x 4 x 1.875 ns */
    CU_ASSERT(c.rd_io_fj == (e2_fj)3 * 1104000);      /* 2 x 16 pins x 4.6 mW x 7.5 ns */
    CU_ASSERT(c.wr_fj == (e2_fj)3532500);             /* 2 x (202-45) mA x 1.5 V x 7.5 ns */
    CU_ASSERT(c.wr_odt_fj == (e2_fj)5088000);         /* 2 x 16 pins x 21.2 mW x 7.5 ns */
    CU_ASSERT(c.ref_fj == (e2_fj)81600000);           /* 2 x (215-45) mA x 1.5 V x 160 ns */
    CU_ASSERT(c.background_fj == (e2_fj)136 * 253125 + (e2_fj)64 * 236250);
    CU_ASSERT(c.total_fj == (e2_fj)173182500);
    hw_free(m);
}

static void test_drampower_timing_errors(void)
{
    struct hw_model *m = model_exact_tck();
    CU_ASSERT_FATAL(m != NULL);
    struct hw_ddr_counts c;
    char err[256] = "";
    const struct hw_ddr_cmd early_rd[] = {{HW_DDR_ACT, 0, 0}, {HW_DDR_RD, 0, 6}};
    CU_ASSERT(hw_ddr_replay(m, early_rd, 2, 10, &c, err, sizeof err) == 2);
    CU_ASSERT(strstr(err, "tRCD") != NULL);
    const struct hw_ddr_cmd early_pre[] = {{HW_DDR_ACT, 0, 0}, {HW_DDR_PRE, 0, 19}};
    CU_ASSERT(hw_ddr_replay(m, early_pre, 2, 30, &c, err, sizeof err) == 2);
    CU_ASSERT(strstr(err, "tRAS") != NULL);
    const struct hw_ddr_cmd closed[] = {{HW_DDR_WR, 3, 5}};
    CU_ASSERT(hw_ddr_replay(m, closed, 1, 30, &c, err, sizeof err) == 2);
    CU_ASSERT(strstr(err, "not open") != NULL);
    const struct hw_ddr_cmd ref_open[] = {{HW_DDR_ACT, 2, 0}, {HW_DDR_REF, 0, 40}};
    CU_ASSERT(hw_ddr_replay(m, ref_open, 2, 50, &c, err, sizeof err) == 2);
    const struct hw_ddr_cmd act_after_pre[] = {{HW_DDR_ACT, 0, 0}, {HW_DDR_PRE, 0, 20}, {HW_DDR_ACT, 0, 26}};
    CU_ASSERT(hw_ddr_replay(m, act_after_pre, 3, 50, &c, err, sizeof err) == 2);
    CU_ASSERT(strstr(err, "tRP") != NULL);
    hw_free(m);
}

/* Achieved MB/s of a stream of `bytes`. */
static double stream_mbs(struct hw_model *m, uint64_t bytes, int write)
{
    uint64_t cycles = 0;
    char err[256];
    CU_ASSERT_FATAL(hw_dma_stream(m, bytes, write, &cycles, err, sizeof err) == 0);
    double seconds = (double)cycles / (hw_model_params(m)->pl_clock_mhz * 1e6);
    return (double)bytes / seconds / 1e6;
}

static void test_read_stream_efficiency(void)
{
    struct hw_params p = hw_params_defaults();
    p.dma_efficiency = 1.0;   /* the DMA at UG585's best case */
    struct hw_model *m = hwt_model_from(&p);
    CU_ASSERT_FATAL(m != NULL);
    /* Peak: 32 bit x 2 x 533.333 MHz = 4,266.66 MB/s; sequential reads get 97 % of it. */
    double peak = 4.0 * 2 * 533.333;
    double rd = stream_mbs(m, 16u << 20, 0);
    CU_ASSERT(rd <= 0.97 * peak * 1.0000001);
    CU_ASSERT(rd >= 0.97 * peak * 0.995);
    /* Writes: 90 %. */
    double wr = stream_mbs(m, 16u << 20, 1);
    CU_ASSERT(wr <= 0.90 * peak * 1.0000001);
    CU_ASSERT(wr >= 0.90 * peak * 0.995);
    hw_free(m);
    /* A DMA reaching 60 % of the controller's efficiency gets 60 % of the bandwidth. */
    p.dma_efficiency = 0.6;
    m = hwt_model_from(&p);
    CU_ASSERT_FATAL(m != NULL);
    double slow = stream_mbs(m, 16u << 20, 0);
    CU_ASSERT(slow <= 0.6 * 0.97 * peak * 1.0000001);
    CU_ASSERT(slow >= 0.6 * 0.97 * peak * 0.995);
    hw_free(m);
}

static void test_single_axi_port_binds(void)
{
    struct hw_params p = hw_params_defaults();
    p.axi.ports = 1;   /* 64 bit x 150 MHz = 1,200 MB/s < DDR */
    struct hw_model *m = hwt_model_from(&p);
    CU_ASSERT_FATAL(m != NULL);
    double rd = stream_mbs(m, 4u << 20, 0);
    CU_ASSERT(rd <= 1200.0 * 1.0000001);
    CU_ASSERT(rd >= 1200.0 * 0.995);
    hw_free(m);
}

/* The DDR rows of a streaming op: energy per byte read as the sources derive it. */
static void test_energy_per_byte(void)
{
    struct hw_params p = hw_params_defaults();
    p.ddr.clock_mhz = 1000.0 / 1.875;
    p.dataflow = HW_DATAFLOW_UNFUSED;
    struct hw_model *m = hwt_model_from(&p);
    CU_ASSERT_FATAL(m != NULL);
    struct hw_ledger *l = hw_ledger_new();
    /* An unfused relu pass reads and writes 1 MiB in 16 KiB chunks: 32-byte bursts, one row
     * per 4 KiB. */
    struct oprec r = hwt_elt(OP_RELU, OP_PHASE_FWD, 16, 16, 64, 8, 0, 8);
    char err[256];
    CU_ASSERT_FATAL(hw_account(m, l, &r, 1, err, sizeof err) == 0);
    uint64_t bytes = 16ull * 16 * 64 * 64;
    CU_ASSERT_EQUAL(hwt_count(l, HW_DDR3, "read burst (core)"), bytes / 32);
    CU_ASSERT_EQUAL(hwt_count(l, HW_DDR3, "write burst (termination)"), bytes / 32);
    CU_ASSERT_EQUAL(hwt_count(l, HW_DDR3, "activate (row)"), 2 * bytes / 4096);
    /* core + I/O per read byte: (3375 + 1104) pJ / 32 B = 139.97 pJ/B */
    CU_ASSERT_EQUAL(hwt_unit(l, HW_DDR3, "read burst (core)") + hwt_unit(l, HW_DDR3, "read burst (I/O)"),
                    4479000);
    hw_ledger_free(l);
    hw_free(m);
}

int main(void)
{
    CU_TestInfo tests[] = {
        { "DRAMPower-style command energies", test_drampower_commands },
        { "timing violations are errors", test_drampower_timing_errors },
        { "read stream reaches the configured efficiency", test_read_stream_efficiency },
        { "one AXI HP port binds", test_single_axi_port_binds },
        { "DDR energy per byte", test_energy_per_byte },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("ddr3", NULL, NULL, tests);
}
