/* Boards as data (docs/hardware.md, "Boards"): every board table lists every key and loads
 * through the real loader, the boards sweep repeats the board tables, and a conv priced on the
 * ZCU102 and the KV260 costs what the DSP48E2, UltraRAM and DDR4 (DRAMPower-style) formulas
 * give by hand. */
#include "cunit_main.h"
#include "testutil.h"

#include "measured.h"
#include "test_hw_board.h"
#include "test_hw_params.h"

static const char *const boards[] = {"configs/hw/zynq7020.yaml", "configs/hw/zcu102.yaml",
                                     "configs/hw/kv260.yaml"};

/* Every key of the model's table is written out in the YAML file at path (its own text, not
 * a default filled in by the loader). */
static void check_lists_every_key(const char *yaml)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", E2SIM_SOURCE_DIR, yaml);
    size_t n;
    const struct hw_param_def *t = hw_param_table(&n);
    for (size_t i = 0; i < n; i++) {
        struct measured_place at;
        int found = measured_find_place(path, t[i].key, -1, &at) == 0;
        if (!found)
            fprintf(stderr, "\n%s lacks %s\n", yaml, t[i].key);
        CU_ASSERT(found);
    }
}

static void check_same_params(const struct hw_params *a, const struct hw_params *b)
{
    size_t n;
    const struct hw_param_def *t = hw_param_table(&n);
    for (size_t i = 0; i < n; i++)
        CU_ASSERT(hwt_same_param(a, b, &t[i]));
}

/* Every board table (and the frozen test table) sets every key, and makes a model. */
static void test_tables_complete_and_loadable(void)
{
    for (size_t b = 0; b < sizeof boards / sizeof *boards; b++) {
        check_lists_every_key(boards[b]);
        struct hw_params p;
        CU_ASSERT_FATAL(hwt_board(&p, boards[b]) == E2_OK);
        struct hw_model *m = hwt_model_from(&p);
        CU_ASSERT(m != NULL);
        hw_free(m);
    }
    check_lists_every_key("configs/hw/test-energy.yaml");
}

/* The config loader starts from the model's defaults, and zynq7020.yaml repeats them. */
static void test_defaults_are_the_models(void)
{
    struct e2_config *cfg = calloc(1, sizeof *cfg);
    CU_ASSERT_FATAL(cfg != NULL);
    cfg_defaults(cfg);
    struct hw_params def = hw_params_defaults(), file;
    check_same_params(&def, &cfg->hw);
    CU_ASSERT_FATAL(hwt_board(&file, "configs/hw/zynq7020.yaml") == E2_OK);
    check_same_params(&def, &file);
    free(cfg);
}

/* configs/sweeps/boards.yaml: point 0 is the calibrated ZedBoard, points 1 and 2 the ZCU102 and
 * KV260 tables, key for key. */
static void test_sweep_repeats_tables(void)
{
    struct e2_config *cfg = calloc(1, sizeof *cfg), *pt = calloc(1, sizeof *pt);
    struct e2_err e = {""};
    CU_ASSERT_FATAL(cfg_load(E2SIM_SOURCE_DIR "/configs/sweeps/boards.yaml", NULL, 0, cfg, &e) ==
                    E2_OK);
    CU_ASSERT_FATAL(cfg_sweep_points(cfg) == 3);
    const char *tables[3] = {"configs/hw/zynq7020-calibrated.yaml", "configs/hw/zcu102.yaml",
                             "configs/hw/kv260.yaml"};
    check_lists_every_key(tables[0]);
    for (long i = 0; i < 3; i++) {
        struct hw_params want;
        CU_ASSERT_FATAL(hwt_board(&want, tables[i]) == E2_OK);
        CU_ASSERT_FATAL(cfg_sweep_point(cfg, i, pt, &e) == E2_OK);
        check_same_params(&want, &pt->hw);
    }
    free(cfg);
    free(pt);
}

/* ---- a hand-checked conv ---- */

/* 64 -> 64 channels, 3x3, 32x32, one sample, 8-bit activations, weights and outputs. The DDR
 * clock is set to 1000 MHz (tCK = 1 ns) so that the DRAMPower numbers below are exact. */
static struct hwt_priced price_conv(const char *yaml)
{
    struct hw_params p;
    CU_ASSERT_FATAL(hwt_board(&p, yaml) == E2_OK);
    p.ddr.clock_mhz = 1000;
    struct oprec r = hwt_conv(OP_PHASE_FWD, 1, 64, 64, 32, 3, 1, 8, 8, 8);
    struct hwt_priced o;
    CU_ASSERT_FATAL(hwt_price(&p, &r, &o) == 0);
    return o;
}

#define MACS ((uint64_t)64 * 64 * 9 * 32 * 32)   /* 37,748,736 */

/* The ZCU102: DSP48E2 packing, 128-bit beats, DDR4 with VPP. */
static void test_conv_zcu102(void)
{
    struct hwt_priced o = price_conv("configs/hw/zcu102.yaml");
    struct hw_ledger *l = o.l;
    /* 8x8 packs two per DSP48E2 (2 x 8 + 8 + 1 = 25 <= 27): every MAC packed, 0.7 pJ each */
    CU_ASSERT_EQUAL(hwt_count(l, HW_DSP, "mac 8x8 packed (2 per DSP)"), MACS);
    CU_ASSERT_EQUAL(hwt_unit(l, HW_DSP, "mac 8x8 packed (2 per DSP)"), 700);
    /* everything fits on chip: weights 36 KiB + input 64 KiB read once, output 64 KiB written
     * once, in 64-byte bursts (64-bit bus, BL8) and 16-byte beats (128-bit HP ports) */
    CU_ASSERT_EQUAL(hwt_count(l, HW_DDR3, "read burst (core)"), (36864 + 65536) / 64);
    CU_ASSERT_EQUAL(hwt_count(l, HW_DDR3, "write burst (core)"), 65536 / 64);
    CU_ASSERT_EQUAL(hwt_count(l, HW_AXI_HP, "beat (128-bit, incl. DMA)"), (36864 + 2 * 65536) / 16);
    CU_ASSERT_EQUAL(hwt_unit(l, HW_AXI_HP, "beat (128-bit, incl. DMA)"), 19000);
    /* DRAMPower-style, four x16 devices, VDD 1.2 V and VPP 2.5 V (mA x V x ns = pJ):
     * ACT 4 x ((95-61) x 1.2 + (4-3) x 2.5) x 33 ns; PRE 4 x (95-37) x 1.2 x 14.06 ns;
     * a burst is BL8 / 2 = 4 clocks = 4 ns: RD 4 x (223-61) x 1.2 x 4, WR 4 x (209-61) x 1.2 x 4,
     * read I/O 4 x 16 pins x 2.9 mW x 4 ns, write ODT 4 x 16 x 13.6 mW x 4 ns */
    CU_ASSERT_EQUAL(hwt_unit(l, HW_DDR3, "activate (row)"), 5715600);
    CU_ASSERT_EQUAL(hwt_unit(l, HW_DDR3, "precharge (row)"), 3914304);
    CU_ASSERT_EQUAL(hwt_unit(l, HW_DDR3, "read burst (core)"), 3110400);
    CU_ASSERT_EQUAL(hwt_unit(l, HW_DDR3, "write burst (core)"), 2841600);
    CU_ASSERT_EQUAL(hwt_unit(l, HW_DDR3, "read burst (I/O)"), 742400);
    CU_ASSERT_EQUAL(hwt_unit(l, HW_DDR3, "write burst (termination)"), 3481600);
    /* per PL cycle (10/3 ns at 300 MHz): active standby 4 x (61 x 1.2 + 3 x 2.5) mA V = 322.8 mW
     * -> 1,076 pJ; refresh 4 x ((72-61) x 1.2 + (5-3) x 2.5) x 350 ns = 25,480 pJ per 7.8 us
     * -> 10.889 pJ */
    CU_ASSERT_EQUAL(hwt_unit(l, HW_DDR3, "background (per PL cycle)"), 1076000);
    CU_ASSERT_EQUAL(hwt_unit(l, HW_DDR3, "refresh (per PL cycle)"), 10889);
    /* BRAM only (no UltraRAM on the XCZU9EG): 9 and 12 pJ per 36-bit port access */
    CU_ASSERT_EQUAL(hwt_unit(l, HW_BRAM, "read (36-bit port)"), 9000);
    CU_ASSERT_EQUAL(hwt_unit(l, HW_BRAM, "write (36-bit port)"), 12000);
    CU_ASSERT_EQUAL(hwt_count(l, HW_BRAM, "write (36-bit port)"), (36864 + 2 * 65536) / 4);
    /* time: at least the MACs on 4,800 packed lanes plus one step's fill, at most that plus
     * every byte over the DDR at its slowest efficiency (mixed random 0.79 x DMA 0.9) */
    uint64_t cycles = hw_ledger_cycles(l, NULL);
    uint64_t mac_bound = (MACS + 4799) / 4800 + 16;
    double ddr_cycles = (36864 + 2 * 65536) / (8.0 * 2000e6 * 0.79 * 0.9) * 300e6;
    CU_ASSERT(cycles >= mac_bound);
    CU_ASSERT(cycles <= mac_bound + ddr_cycles);
    hwt_release(o);
}

/* The KV260: BRAM and UltraRAM buffers priced per 32-bit word in proportion to capacity. */
static void test_conv_kv260(void)
{
    struct hwt_priced o = price_conv("configs/hw/kv260.yaml");
    struct hw_ledger *l = o.l;
    CU_ASSERT_EQUAL(hwt_count(l, HW_DSP, "mac 8x8 packed (2 per DSP)"), MACS);
    /* UltraRAM 16,128 Kb = 2,064,384 B; BRAM 4,608 Kb with 32 of 36 bits data = 524,288 B: a
     * word lands in UltraRAM with u = 63/79. Read 9 (1 - u) + 14/2 u = 9 - 126/79 = 7.405 pJ,
     * write 12 (1 - u) + 18/2 u = 12 - 189/79 = 9.608 pJ. */
    CU_ASSERT_EQUAL(hwt_unit(l, HW_BRAM, "read (32-bit word, BRAM/URAM)"), 7405);
    CU_ASSERT_EQUAL(hwt_unit(l, HW_BRAM, "write (32-bit word, BRAM/URAM)"), 9608);
    CU_ASSERT_EQUAL(hwt_count(l, HW_BRAM, "write (32-bit word, BRAM/URAM)"), (36864 + 2 * 65536) / 4);
    /* DDR4-2400's tRAS 32 ns: ACT 4 x 43.3 mW x 32 ns; RD 4 x (242-61) x 1.2 x 4 ns */
    CU_ASSERT_EQUAL(hwt_unit(l, HW_DDR3, "activate (row)"), 5542400);
    CU_ASSERT_EQUAL(hwt_unit(l, HW_DDR3, "read burst (core)"), 3475200);
    /* 1,152 DSPs: 2,304 packed lanes */
    uint64_t cycles = hw_ledger_cycles(l, NULL);
    uint64_t mac_bound = (MACS + 2303) / 2304 + 16;
    double ddr_cycles = (36864 + 2 * 65536) / (8.0 * 2000e6 * 0.79 * 0.9) * 300e6;
    CU_ASSERT(cycles >= mac_bound);
    CU_ASSERT(cycles <= mac_bound + ddr_cycles);
    hwt_release(o);
}

/* The same conv on the ZedBoard's DSP48E1 at int8_macs_per_dsp 2: 8x8 packs (25 <= 25), 9x8
 * does not (27 > 25); on a DSP48E2 both do. */
static void test_packing_follows_a_port(void)
{
    struct hw_params p;
    CU_ASSERT_FATAL(hwt_board(&p, "configs/hw/zynq7020.yaml") == E2_OK);
    p.int8_macs_per_dsp = 2;
    p.pack_max_bits = 9;
    struct oprec r = hwt_conv(OP_PHASE_FWD, 1, 16, 16, 8, 3, 1, 9, 8, 8);
    for (int a = 25; a <= 27; a += 2) {
        p.dsp_a_bits = a;
        struct hw_model *m = hwt_model_from(&p);
        CU_ASSERT_FATAL(m != NULL);
        struct hw_ledger *l = hw_ledger_new();
        char err[256];
        CU_ASSERT_FATAL(hw_account(m, l, &r, 1, err, sizeof err) == 0);
        uint64_t packed = hwt_count(l, HW_DSP, "mac 9x8 packed (2 per DSP)");
        CU_ASSERT_EQUAL(packed, a == 27 ? (uint64_t)16 * 16 * 9 * 64 : 0);
        hw_ledger_free(l);
        hw_free(m);
    }
}

/* DDR4 (the KV260's table, tCK set to 1 ns): the same command replay with the VPP supply.
 * tRCD = tRP = ceil(14.16) = 15 clocks, tRAS = 32, tRFC = 350. */
static void test_drampower_ddr4_vpp(void)
{
    struct hw_params p;
    CU_ASSERT_FATAL(hwt_board(&p, "configs/hw/kv260.yaml") == E2_OK);
    p.ddr.clock_mhz = 1000;
    struct hw_model *m = hwt_model_from(&p);
    CU_ASSERT_FATAL(m != NULL);
    const struct hw_ddr_cmd cmds[] = {
        {HW_DDR_ACT, 0, 0}, {HW_DDR_RD, 0, 15}, {HW_DDR_WR, 0, 20}, {HW_DDR_PRE, 0, 40},
        {HW_DDR_REF, 0, 55},
    };
    struct hw_ddr_counts c;
    char err[256];
    CU_ASSERT_FATAL(hw_ddr_replay(m, cmds, sizeof cmds / sizeof cmds[0], 500, &c, err, sizeof err) == 0);
    /* active [0,40) and the refresh [55,405); precharged [40,55) and [405,500) */
    CU_ASSERT_EQUAL(c.active_cycles, 40 + 350);
    CU_ASSERT_EQUAL(c.precharged_cycles, 15 + 95);
    /* four x16 devices, VDD 1.2 V, VPP 2.5 V (mA V ns = pJ) */
    CU_ASSERT(c.act_fj == (e2_fj)5542400);     /* 4 x ((95-61) x 1.2 + (4-3) x 2.5) x 32 ns */
    CU_ASSERT(c.pre_fj == (e2_fj)3942144);     /* 4 x (95-37) x 1.2 x 14.16 ns */
    CU_ASSERT(c.rd_fj == (e2_fj)3475200);      /* 4 x (242-61) x 1.2 x 4 ns */
    CU_ASSERT(c.wr_fj == (e2_fj)3206400);      /* 4 x (228-61) x 1.2 x 4 ns */
    CU_ASSERT(c.rd_io_fj == (e2_fj)742400);    /* 4 x 16 pins x 2.9 mW x 4 ns */
    CU_ASSERT(c.wr_odt_fj == (e2_fj)3481600);  /* 4 x 16 pins x 13.6 mW x 4 ns */
    CU_ASSERT(c.ref_fj == (e2_fj)25480000);    /* 4 x ((72-61) x 1.2 + (5-3) x 2.5) x 350 ns */
    /* per clock: active 4 x (61 x 1.2 + 3 x 2.5) = 322.8 pJ, precharged 4 x (37 x 1.2 + 3 x 2.5)
     * = 207.6 pJ */
    CU_ASSERT(c.background_fj == (e2_fj)390 * 322800 + (e2_fj)110 * 207600);
    CU_ASSERT(c.total_fj == (e2_fj)5542400 + 3942144 + 3475200 + 3206400 + 742400 + 3481600 +
                                25480000 + 390 * 322800 + 110 * 207600);
    hw_free(m);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"board tables list every key and load", test_tables_complete_and_loadable},
        {"the loader and zynq7020.yaml use the model's defaults", test_defaults_are_the_models},
        {"the boards sweep repeats the board tables", test_sweep_repeats_tables},
        {"DDR4 command energies with VPP (KV260), by hand", test_drampower_ddr4_vpp},
        {"a conv on the ZCU102, by hand", test_conv_zcu102},
        {"a conv on the KV260 (UltraRAM), by hand", test_conv_kv260},
        {"packing follows the DSP's A port", test_packing_follows_a_port},
        CU_TEST_INFO_NULL,
    };
    return cunit_run("boards", NULL, NULL, tests);
}
