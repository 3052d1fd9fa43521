/* Ledger: every breakdown sums to the total exactly, doubling the work doubles the energy,
 * static energy is simulated time x power, and memoized / extrapolated costs equal a full
 * simulation of the same record. */
#include "cunit_main.h"

#include "test_hw_params.h"

static struct hw_model *model_with(int simulate_every_n)
{
    struct hw_params p = hw_params_defaults();
    p.simulate_every_n = simulate_every_n;
    return hwt_model_from(&p);
}

static struct oprec fc(int phase, uint32_t n, int cin, int cout, int ba, int bb, int bo)
{
    struct oprec r;
    memset(&r, 0, sizeof r);
    r.kind = OP_FC;
    r.phase = (uint8_t)phase;
    r.n = n;
    r.cin = (uint16_t)cin;
    r.cout = (uint16_t)cout;
    r.bits_a = (uint8_t)ba;
    r.bits_b = (uint8_t)bb;
    r.bits_out = (uint8_t)bo;
    r.bits_acc = 48;
    return r;
}

/* A mix of every kind of op at sample count n. */
static int mixed_ops(struct oprec *o, uint32_t n)
{
    int k = 0;
    o[k++] = hwt_conv(OP_PHASE_FWD, n, 3, 16, 32, 3, 1, 8, 8, 8);
    o[k++] = hwt_conv(OP_PHASE_FWD, n, 16, 16, 32, 3, 1, 8, 8, 8);
    o[k++] = hwt_conv(OP_PHASE_BWD_DATA, n, 16, 16, 32, 3, 1, 16, 8, 16);
    o[k++] = hwt_conv(OP_PHASE_BWD_WEIGHT, n, 16, 16, 32, 3, 1, 8, 16, 16);
    o[k++] = hwt_conv(OP_PHASE_FWD, n, 16, 32, 32, 3, 2, 8, 8, 8);
    o[k++] = hwt_conv(OP_PHASE_BWD_DATA, n, 16, 32, 32, 3, 2, 16, 8, 16);
    o[k++] = hwt_conv(OP_PHASE_BWD_WEIGHT, n, 16, 32, 32, 3, 2, 8, 16, 16);
    o[k++] = hwt_conv(OP_PHASE_FWD, n, 16, 32, 32, 1, 2, 8, 8, 8);
    o[k++] = hwt_conv(OP_PHASE_BWD_WEIGHT, n, 64, 64, 8, 3, 1, 8, 16, 16);
    o[k++] = hwt_conv(OP_PHASE_BWD_WEIGHT, n, 64, 64, 32, 3, 1, 8, 16, 16);   /* bands */
    o[k++] = hwt_conv(OP_PHASE_FWD, n, 32, 32, 16, 3, 1, 32, 32, 32);
    o[k++] = hwt_conv(OP_PHASE_BWD_WEIGHT, n, 32, 32, 16, 3, 1, 32, 32, 32);
    o[k] = hwt_conv(OP_PHASE_BWD_WEIGHT, n, 32, 32, 16, 3, 1, 8, 16, 16);
    o[k].msb_a = 4;
    o[k].msb_b = 10;
    o[k++].psg_full_q16 = 20000;
    o[k] = hwt_conv(OP_PHASE_FWD, n, 96, 96, 16, 3, 1, 8, 8, 8);
    o[k++].groups = 96;
    o[k++] = fc(OP_PHASE_FWD, n, 64, 10, 8, 8, 16);
    o[k++] = fc(OP_PHASE_BWD_DATA, n, 64, 10, 16, 8, 16);
    o[k++] = fc(OP_PHASE_BWD_WEIGHT, n, 64, 10, 8, 16, 16);
    o[k++] = fc(OP_PHASE_FWD, n, 2048, 4096, 8, 8, 8);   /* 17 weight tiles */
    o[k++] = hwt_elt(OP_BN, OP_PHASE_FWD, n, 16, 32, 8, 0, 8);
    o[k++] = hwt_elt(OP_BN, OP_PHASE_BWD_DATA, n, 16, 32, 16, 8, 16);
    o[k++] = hwt_elt(OP_BN, OP_PHASE_BWD_WEIGHT, n, 32, 16, 16, 8, 16);
    o[k++] = hwt_elt(OP_RELU, OP_PHASE_FWD, n, 32, 16, 8, 0, 8);
    o[k++] = hwt_elt(OP_RELU, OP_PHASE_BWD_DATA, n, 32, 16, 16, 1, 16);
    o[k++] = hwt_elt(OP_ADD, OP_PHASE_FWD, n, 64, 8, 8, 8, 8);
    o[k] = hwt_elt(OP_POOL, OP_PHASE_FWD, n, 64, 8, 8, 0, 8);
    o[k].h_out = o[k].w_out = 1;
    k++;
    o[k] = hwt_elt(OP_POOL, OP_PHASE_BWD_DATA, n, 64, 8, 16, 0, 16);
    o[k].h_out = o[k].w_out = 1;
    k++;
    o[k] = hwt_elt(OP_LOSS, OP_PHASE_FWD, n, 10, 1, 16, 0, 16);
    k++;
    o[k] = hwt_elt(OP_GATE, OP_PHASE_FWD, n, 32, 16, 8, 0, 8);
    o[k++].cout = 10;
    o[k] = hwt_elt(OP_UPDATE, OP_PHASE_UPDATE, n, 16, 1, 1, 16, 16);
    o[k].k = 3;
    k++;
    for (int i = 0; i < k; i++) {
        o[i].layer = (uint16_t)(i % 7);
        o[i].tech = (uint8_t)(i % OP_TECH_COUNT);
    }
    return k;
}

static void test_breakdowns_sum_exactly(void)
{
    struct hw_model *m = model_with(0);
    CU_ASSERT_FATAL(m != NULL);
    struct hw_ledger *l = hw_ledger_new();
    struct oprec ops[64];
    int n = mixed_ops(ops, 24);
    char err[256];
    for (int i = 0; i < n; i++)
        CU_ASSERT_FATAL(hw_account(m, l, &ops[i], (uint64_t)(1 + i % 3), err, sizeof err) == 0);
    e2_fj total = hw_ledger_fj(l, NULL), sum;
    CU_ASSERT(total > 0);
    struct hw_filter f = hw_filter_all();
    /* rows */
    struct hw_row rows[128];
    size_t nr = hw_ledger_rows(l, NULL, rows, 128);
    CU_ASSERT(nr == hw_ledger_rows(l, NULL, NULL, 0));
    sum = 0;
    for (size_t i = 0; i < nr; i++) {
        CU_ASSERT(rows[i].fj == (e2_fj)rows[i].count * rows[i].fj_per_action);
        sum += rows[i].fj;
    }
    CU_ASSERT(sum == total);
    /* components */
    sum = 0;
    for (int c = 0; c < HW_COMPONENT_COUNT; c++) {
        f = hw_filter_all();
        f.component = c;
        sum += hw_ledger_fj(l, &f);
    }
    CU_ASSERT(sum == total);
    /* phases, with their cycles */
    sum = 0;
    uint64_t cyc = 0;
    for (int p = 0; p < OP_PHASE_COUNT; p++) {
        f = hw_filter_all();
        f.phase = p;
        sum += hw_ledger_fj(l, &f);
        cyc += hw_ledger_cycles(l, &f);
    }
    CU_ASSERT(sum == total);
    CU_ASSERT(cyc == hw_ledger_cycles(l, NULL));
    /* techniques */
    sum = 0;
    for (int t = 0; t < OP_TECH_COUNT; t++) {
        f = hw_filter_all();
        f.tech = t;
        sum += hw_ledger_fj(l, &f);
    }
    CU_ASSERT(sum == total);
    /* layers */
    int layers[16];
    size_t nl = hw_ledger_layers(l, layers, 16);
    CU_ASSERT_EQUAL(nl, 7);
    sum = 0;
    for (size_t i = 0; i < nl; i++) {
        f = hw_filter_all();
        f.layer = layers[i];
        sum += hw_ledger_fj(l, &f);
    }
    CU_ASSERT(sum == total);
    /* dynamic + static */
    f = hw_filter_all();
    f.dynamic = 1;
    sum = hw_ledger_fj(l, &f);
    f.dynamic = 0;
    sum += hw_ledger_fj(l, &f);
    CU_ASSERT(sum == total);
    /* a layer x phase x component cell, summed over all cells */
    sum = 0;
    for (size_t i = 0; i < nl; i++)
        for (int p = 0; p < OP_PHASE_COUNT; p++)
            for (int c = 0; c < HW_COMPONENT_COUNT; c++) {
                struct hw_filter g = {layers[i], p, HW_ANY, c, HW_ANY};
                sum += hw_ledger_fj(l, &g);
            }
    CU_ASSERT(sum == total);
    hw_ledger_free(l);
    hw_free(m);
}

/* Static energy = simulated cycles x (P_pl + P_ps + P_ddrc + P_board + DDR background and
 * refresh) per cycle, exactly, whatever ran. */
static void test_static_from_time(void)
{
    struct hw_model *m = model_with(0);
    struct hw_ledger *l = hw_ledger_new();
    struct oprec ops[64];
    int n = mixed_ops(ops, 9);
    for (int i = 0; i < n; i++)
        CU_ASSERT_FATAL(hw_account(m, l, &ops[i], 1, NULL, 0) == 0);
    struct hw_filter f = hw_filter_all();
    f.dynamic = 0;
    struct hw_row rows[16];
    size_t nr = hw_ledger_rows(l, &f, rows, 16);
    CU_ASSERT_EQUAL(nr, 6);
    uint64_t cycles = hw_ledger_cycles(l, NULL), per_cycle = 0;
    for (size_t i = 0; i < nr; i++) {
        CU_ASSERT_EQUAL(rows[i].count, cycles);
        per_cycle += rows[i].fj_per_action;
    }
    /* 150 MHz: pl 0.113 W -> 753,333 fJ; ps 0.15 W -> 1,000,000; ddrc 0.5 W -> 3,333,333;
     * board 1.5 W -> 10,000,000; DDR background 2 x 45 mA x 1.5 V -> 900,000;
     * refresh 2 x 170 mA x 1.5 V x 160/7800 per 6.667 ns -> 69,744 */
    CU_ASSERT_EQUAL(per_cycle, 753333 + 1000000 + 3333333 + 10000000 + 900000 + 69744);
    CU_ASSERT(hw_ledger_fj(l, &f) == (e2_fj)cycles * per_cycle);
    CU_ASSERT(hw_ledger_seconds(l, NULL) == (double)cycles / 150e6);
    hw_ledger_free(l);
    hw_free(m);
}

static e2_fj dynamic_fj(struct hw_ledger *l)
{
    struct hw_filter f = hw_filter_all();
    f.dynamic = 1;
    return hw_ledger_fj(l, &f);
}

static void test_doubling_doubles(void)
{
    struct hw_model *m = model_with(0);
    char err[256];
    /* twice the samples of a streamed op: exactly twice the dynamic energy */
    struct oprec r = hwt_elt(OP_RELU, OP_PHASE_FWD, 40, 32, 16, 8, 0, 8);
    struct hw_ledger *a = hw_ledger_new(), *b = hw_ledger_new();
    CU_ASSERT_FATAL(hw_account(m, a, &r, 1, err, sizeof err) == 0);
    r.n = 80;
    CU_ASSERT_FATAL(hw_account(m, b, &r, 1, err, sizeof err) == 0);
    CU_ASSERT(dynamic_fj(b) == 2 * dynamic_fj(a));
    /* a conv's per-sample rows double too (its weights load once either way) */
    struct oprec c = hwt_conv(OP_PHASE_FWD, 50, 16, 16, 32, 3, 1, 8, 8, 8);
    struct hw_ledger *c1 = hw_ledger_new(), *c2 = hw_ledger_new();
    CU_ASSERT_FATAL(hw_account(m, c1, &c, 1, err, sizeof err) == 0);
    c.n = 100;
    CU_ASSERT_FATAL(hw_account(m, c2, &c, 1, err, sizeof err) == 0);
    const char *per_sample[] = {"mac 8x8 packed (2 per DSP)", "requantize to 8b"};
    for (int i = 0; i < 2; i++) {
        int comp = i == 0 ? HW_DSP : HW_LUT;
        CU_ASSERT(hwt_count(c2, comp, per_sample[i]) == 2 * hwt_count(c1, comp, per_sample[i]));
    }
    CU_ASSERT(hwt_count(c2, HW_DDR3, "write burst (core)") == 2 * hwt_count(c1, HW_DDR3, "write burst (core)"));
    /* repeat = 2: everything doubles, static included */
    struct hw_ledger *d = hw_ledger_new();
    CU_ASSERT_FATAL(hw_account(m, d, &c, 2, err, sizeof err) == 0);
    CU_ASSERT(hw_ledger_fj(d, NULL) == 2 * hw_ledger_fj(c2, NULL));
    CU_ASSERT(hw_ledger_cycles(d, NULL) == 2 * hw_ledger_cycles(c2, NULL));
    hw_ledger_free(a);
    hw_ledger_free(b);
    hw_ledger_free(c1);
    hw_ledger_free(c2);
    hw_ledger_free(d);
    hw_free(m);
}

/* Same record (or one differing only in layer and technique): same cost, from the memo. */
static void test_memo_identical(void)
{
    struct hw_model *m = model_with(0);
    struct oprec r = hwt_conv(OP_PHASE_BWD_WEIGHT, 128, 32, 32, 16, 3, 1, 8, 16, 16);
    uint64_t c1, c2;
    e2_fj e1, e2;
    CU_ASSERT_FATAL(hw_op_cost(m, &r, &c1, &e1, NULL, 0) == 0);
    struct hw_stats s0, s1;
    hw_get_stats(m, &s0);
    r.layer = 17;
    r.tech = OP_TECH_SLU;
    CU_ASSERT_FATAL(hw_op_cost(m, &r, &c2, &e2, NULL, 0) == 0);
    hw_get_stats(m, &s1);
    CU_ASSERT(c1 == c2 && e1 == e2);
    CU_ASSERT_EQUAL(s1.simulated, s0.simulated);
    CU_ASSERT_EQUAL(s1.memo_hits, s0.memo_hits + 1);
    hw_free(m);
}

/* Costs for large n extrapolated from n = 2, 3, 4 equal a full simulation at that n. */
static void compare_rows(struct hw_ledger *a, struct hw_ledger *b)
{
    struct hw_row ra[128], rb[128];
    size_t na = hw_ledger_rows(a, NULL, ra, 128), nb = hw_ledger_rows(b, NULL, rb, 128);
    CU_ASSERT_EQUAL(na, nb);
    for (size_t i = 0; i < na && i < nb; i++) {
        CU_ASSERT_STRING_EQUAL(ra[i].action, rb[i].action);
        CU_ASSERT_EQUAL(ra[i].count, rb[i].count);
        CU_ASSERT_EQUAL(ra[i].fj_per_action, rb[i].fj_per_action);
    }
}

static void test_extrapolation_equals_simulation(void)
{
    struct hw_model *fast = model_with(0), *full = model_with(1);
    struct oprec ops[64];
    const uint32_t counts[] = {128, 37, 5};
    for (int c = 0; c < 3; c++) {
        int n = mixed_ops(ops, counts[c]);
        for (int i = 0; i < n; i++) {
            struct hw_ledger *a = hw_ledger_new(), *b = hw_ledger_new();
            CU_ASSERT_FATAL(hw_account(fast, a, &ops[i], 1, NULL, 0) == 0);
            CU_ASSERT_FATAL(hw_account(full, b, &ops[i], 1, NULL, 0) == 0);
            if (hw_ledger_cycles(a, NULL) != hw_ledger_cycles(b, NULL))
                fprintf(stderr, "\nop %d n %u: cycles %llu extrapolated, %llu simulated\n", i,
                        counts[c], (unsigned long long)hw_ledger_cycles(a, NULL),
                        (unsigned long long)hw_ledger_cycles(b, NULL));
            CU_ASSERT(hw_ledger_cycles(a, NULL) == hw_ledger_cycles(b, NULL));
            compare_rows(a, b);
            struct hw_work wa, wb;   /* the roofline's numbers too */
            hw_ledger_work(a, NULL, &wa);
            hw_ledger_work(b, NULL, &wb);
            if (memcmp(&wa, &wb, sizeof wa) != 0)
                fprintf(stderr, "\nop %d n %u: work differs (ddr cycles %llu / %llu)\n", i,
                        counts[c], (unsigned long long)wa.ddr_cycles,
                        (unsigned long long)wb.ddr_cycles);
            CU_ASSERT(memcmp(&wa, &wb, sizeof wa) == 0);
            hw_ledger_free(a);
            hw_ledger_free(b);
        }
    }
    struct hw_stats s;
    hw_get_stats(fast, &s);
    CU_ASSERT(s.extrapolated > 0);
    hw_free(fast);
    hw_free(full);
}

static void test_ledger_ownership_and_format(void)
{
    struct hw_model *a = model_with(0), *b = model_with(0);
    struct hw_ledger *l = hw_ledger_new();
    struct oprec r = hwt_elt(OP_RELU, OP_PHASE_FWD, 2, 8, 8, 8, 0, 8);
    char err[256] = "";
    CU_ASSERT_EQUAL(hw_account(a, l, &r, 1, err, sizeof err), 0);
    CU_ASSERT_EQUAL(hw_account(b, l, &r, 1, err, sizeof err), 2);
    CU_ASSERT(strstr(err, "another model") != NULL);
    /* the ledger outlives its model */
    e2_fj before = hw_ledger_fj(l, NULL);
    hw_free(a);
    CU_ASSERT(hw_ledger_fj(l, NULL) == before);
    CU_ASSERT(hw_ledger_rows(l, NULL, NULL, 0) > 0);
    hw_ledger_clear(l);
    CU_ASSERT(hw_ledger_fj(l, NULL) == 0);
    hw_ledger_free(l);
    hw_free(b);
    char buf[48];
    CU_ASSERT_STRING_EQUAL(hw_fj_format((e2_fj)1 << 100, buf, sizeof buf),
                           "1267650600228229401496703205376");
    CU_ASSERT_STRING_EQUAL(hw_fj_format(0, buf, sizeof buf), "0");
    CU_ASSERT(hw_fj_to_joules((e2_fj)2500000000000000ull) == 2.5);
}

/* Roofline numbers of a conv -> BN -> FC stream, by hand from the mapper's rules
 * (docs/hardware.md) on the unfused engine with 8x8 MACs packed two per DSP (pinned here, the
 * defaults differ): 200 DSPs (400 lanes), 16 cycles of step overhead, 4-byte BRAM words, 32-byte DDR bursts; every
 * tensor starts at byte 0. DDR busy cycles per transfer: bursts x 4 DDR clocks / efficiency
 * x 150/533.333, then / dma_efficiency 0.9 (ceil each), at least bytes / 32 (AXI); the
 * efficiency is the random (runs < 1024 B) or sequential one of the direction, or the
 * read-write one when the controller turns around, so each op's DDR time lies between the
 * sums without and with turnarounds. */
static void test_roofline_by_hand(void)
{
    struct hw_params p = hw_params_defaults();
    p.dataflow = HW_DATAFLOW_UNFUSED;
    p.int8_macs_per_dsp = 2;
    struct hw_model *m = hwt_model_from(&p);
    CU_ASSERT_FATAL(m != NULL);
    struct hw_ledger *l = hw_ledger_new();
    char err[256];
    /* layer 0: conv 8 -> 16 channels, 3x3 on 8x8 maps, 2 samples, 8-bit */
    struct oprec conv = hwt_conv(OP_PHASE_FWD, 2, 8, 16, 8, 3, 1, 8, 8, 8);
    /* layer 1: BN forward over its output (16 x 8 x 8), 8-bit */
    struct oprec bn = hwt_elt(OP_BN, OP_PHASE_FWD, 2, 16, 8, 8, 0, 8);
    bn.layer = 1;
    /* layer 2: FC 256 -> 10, 8-bit operands, 16-bit outputs */
    struct oprec fcr = fc(OP_PHASE_FWD, 2, 256, 10, 8, 8, 16);
    fcr.layer = 2;
    CU_ASSERT_FATAL(hw_account(m, l, &conv, 1, err, sizeof err) == 0);
    CU_ASSERT_FATAL(hw_account(m, l, &bn, 1, err, sizeof err) == 0);
    CU_ASSERT_FATAL(hw_account(m, l, &fcr, 1, err, sizeof err) == 0);
    struct hw_work w[3];
    for (int i = 0; i < 3; i++) {
        struct hw_filter f = hw_filter_all();
        f.layer = i;
        hw_ledger_work(l, &f, &w[i]);
        CU_ASSERT(w[i].ddr_cycles <= hw_ledger_cycles(l, &f));
        CU_ASSERT_EQUAL(w[i].ps_cycles, 0);
    }

    /* The conv: one tile of all 16 output channels and all 8 rows (weights 16 x 72 = 1152 B,
     * input band 8 x 64 = 512 B, output band 16 x 64 = 1024 B fit), one step per sample. MACs
     * 2 x 16 x 64 x 72 = 147,456. DDR read 1152 + 2 x 512 = 2176 B, written 2 x 1024 = 2048 B:
     * 34.9 MAC/B. Lanes 400 as 16 rows x 25 columns over 64 outputs: 3 lane tiles x 72
     * cycles + 16 = 232 cycles per step, 464 in all. BRAM words: the array reads 3 x 72 x
     * (16 weights + 25 inputs, 8-bit, in 32-bit words: 4 + 7) = 2376 per step and writes 256
     * outputs; the DMA writes 288 + 128 + 128 and reads 256 + 256: 4752 + 512 + 544 + 512 =
     * 6320 words = 25,280 B. DDR time: 185 to 199 cycles, so compute-bound. */
    CU_ASSERT_EQUAL(w[0].macs, 147456);
    CU_ASSERT_EQUAL(w[0].ddr_read_bytes, 2176);
    CU_ASSERT_EQUAL(w[0].ddr_write_bytes, 2048);
    CU_ASSERT_EQUAL(w[0].bram_bytes, 25280);
    CU_ASSERT_EQUAL(w[0].compute_cycles, 464);
    CU_ASSERT(w[0].ddr_cycles >= 185 && w[0].ddr_cycles <= 199);

    /* BN forward, two passes per sample over E = 1024 elements of 1 byte: sum x and sum x^2
     * (2 MACs each), then y = x * scale + shift (1 MAC). MACs 2 x 3 x 1024 = 6144; DDR read
     * 2 x 2 x 1024 = 4096 B, written 2 x 1024 = 2048 B: exactly 1 MAC/B. BRAM words: 256
     * per tensor pass, through the DMA and the unit: (2 + 4) x 256 x 2 = 3072 words =
     * 12,288 B. The first pass takes ceil(2048 / 400) + 16 = 22 cycles per sample on the
     * array, the second (8x16 bits: one MAC per DSP, 200 lanes) ceil(1024 / 200) + 16 = 22:
     * 88 cycles against 264 to 282 of DDR time (1024-byte transfers, sequential: 4 reads of
     * 43 cycles and 2 writes of 46, or 47 each after a turnaround): DDR-bound. */
    CU_ASSERT_EQUAL(w[1].macs, 6144);
    CU_ASSERT_EQUAL(w[1].ddr_read_bytes, 4096);
    CU_ASSERT_EQUAL(w[1].ddr_write_bytes, 2048);
    CU_ASSERT_EQUAL(w[1].bram_bytes, 12288);
    CU_ASSERT_EQUAL(w[1].compute_cycles, 88);
    CU_ASSERT(w[1].ddr_cycles >= 264 && w[1].ddr_cycles <= 282);

    /* The FC: 10 output rows use 10 of the 400 lanes, one column (a 1x1 map per sample):
     * 256 + 16 = 272 cycles per sample, 544 in all. MACs 2 x 2560 = 5120; DDR read 2560 B of
     * weights + 2 x 256 B of inputs = 3072 B, written 2 x 10 x 2 B = 40 B: 1.645 MAC/B, yet
     * compute-bound (134 to 150 cycles of DDR time): the array is nearly idle. BRAM words:
     * 256 x (3 + 1) = 1024 read and 5 written per sample by the array; 640 + 64 + 64 written
     * and 5 + 5 read by the DMA: 2048 + 10 + 768 + 10 = 2836 words = 11,344 B. */
    CU_ASSERT_EQUAL(w[2].macs, 5120);
    CU_ASSERT_EQUAL(w[2].ddr_read_bytes, 3072);
    CU_ASSERT_EQUAL(w[2].ddr_write_bytes, 40);
    CU_ASSERT_EQUAL(w[2].bram_bytes, 11344);
    CU_ASSERT_EQUAL(w[2].compute_cycles, 544);
    CU_ASSERT(w[2].ddr_cycles >= 134 && w[2].ddr_cycles <= 150);

    /* The roofs: 400 MACs per cycle at 8x8 (the only forward precision here); the DDR roof
     * is a 1 MiB read stream in 64 chunks of 16 KiB (512 bursts: ceil(2048 / 0.97 x 0.28125)
     * = 594, / 0.9 -> 660 cycles each, and the AXI needs only 512) back to back:
     * 1048576 / (64 x 660) = 24.8 B per cycle. */
    struct hw_roofs roofs;
    hw_ledger_roofs(l, &roofs);
    CU_ASSERT_EQUAL(roofs.bits_a, 8);
    CU_ASSERT_EQUAL(roofs.bits_b, 8);
    CU_ASSERT_DOUBLE_EQUAL(roofs.macs_per_cycle, 400, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(roofs.ddr_bytes_per_cycle, 1048576.0 / (64 * 660), 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(roofs.pl_hz, 150e6, 1e-3);
    /* the whole stream sums the layers */
    struct hw_work all;
    hw_ledger_work(l, NULL, &all);
    CU_ASSERT_EQUAL(all.macs, 147456 + 6144 + 5120);
    CU_ASSERT_EQUAL(all.ddr_read_bytes + all.ddr_write_bytes, 2176 + 2048 + 4096 + 2048 + 3072 + 40);
    /* a cleared ledger forgets the work and the precisions too */
    hw_ledger_clear(l);
    hw_ledger_work(l, NULL, &all);
    hw_ledger_roofs(l, &roofs);
    CU_ASSERT_EQUAL(all.macs + all.ddr_read_bytes + all.compute_cycles, 0);
    CU_ASSERT_EQUAL(roofs.macs_per_cycle, 0);
    hw_ledger_free(l);
    hw_free(m);
}

int main(void)
{
    CU_TestInfo tests[] = {
        { "every breakdown sums to the total", test_breakdowns_sum_exactly },
        { "static energy from simulated time", test_static_from_time },
        { "doubling the work doubles the energy", test_doubling_doubles },
        { "identical records priced once", test_memo_identical },
        { "extrapolated n equals simulated n", test_extrapolation_equals_simulation },
        { "ledger ownership, fJ formatting", test_ledger_ownership_and_format },
        { "roofline numbers of conv, BN, FC by hand", test_roofline_by_hand },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("ledger", NULL, NULL, tests);
}
