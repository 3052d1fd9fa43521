/* Mapper: memory-bound layers take bytes / bandwidth, tiles fit the BRAM budget with the least
 * DDR traffic, PSG is priced as its dataflow says, PS ops run on the ARM cores. */
#include "cunit_main.h"

#include "test_hw_params.h"

static struct hw_model *default_model(void)
{
    struct hw_params p;
    CU_ASSERT_FATAL(hwt_params(&p, NULL) == 0);
    return hwt_model_from(&p);
}

static struct hw_ledger *priced(struct hw_model *m, const struct oprec *r)
{
    struct hw_ledger *l = hw_ledger_new();
    char err[256];
    int rc = hw_account(m, l, r, 1, err, sizeof err);
    if (rc)
        fprintf(stderr, "%s\n", err);
    CU_ASSERT_FATAL(rc == 0);
    return l;
}

static uint64_t read_bytes(struct hw_ledger *l)
{
    return 32 * hwt_count(l, HW_DDR3, "read burst (core)");
}

static uint64_t write_bytes(struct hw_ledger *l)
{
    return 32 * hwt_count(l, HW_DDR3, "write burst (core)");
}

/* relu on 16 x 64 x 32 x 32 bytes: reads and writes interleave, so the controller runs at its
 * mixed sequential efficiency, 87 % of 4,266.66 MB/s, of which the DMA reaches 90 %
 * (hardware.dma_efficiency): 4 MiB / 3,341 MB/s = 188,317 cycles. */
static void test_memory_bound_relu(void)
{
    struct hw_model *m = default_model();
    CU_ASSERT_FATAL(m != NULL);
    struct oprec r = hwt_elt(OP_RELU, OP_PHASE_FWD, 32, 64, 32, 8, 0, 8);
    struct hw_ledger *l = priced(m, &r);
    double bytes = 2.0 * 32 * 64 * 32 * 32;
    double expect = bytes / (4266.66e6 * 0.87 * 0.9) * 150e6;
    double got = (double)hw_ledger_cycles(l, NULL);
    CU_ASSERT(got >= expect * 0.95 && got <= expect * 1.05);
    CU_ASSERT_EQUAL(read_bytes(l), (uint64_t)bytes / 2);
    CU_ASSERT_EQUAL(write_bytes(l), (uint64_t)bytes / 2);
    hw_ledger_free(l);
    hw_free(m);
}

/* A 1x1 conv 256 -> 8 on 16x16 maps at 8 bits: 8 MACs per input byte, 1,311 cycles of MACs
 * per sample against 66 KiB of traffic at ~25 B/cycle (~2,700 cycles): memory-bound. Reads and
 * writes interleave, so the controller runs at its mixed efficiency. */
static void test_memory_bound_conv(void)
{
    struct hw_model *m = default_model();
    CU_ASSERT_FATAL(m != NULL);
    struct oprec r = hwt_conv(OP_PHASE_FWD, 32, 256, 8, 16, 1, 1, 8, 8, 8);
    struct hw_ledger *l = priced(m, &r);
    double rd = 2048 + 32.0 * 65536, wr = 32.0 * 2048;
    CU_ASSERT_EQUAL(read_bytes(l), (uint64_t)rd);
    CU_ASSERT_EQUAL(write_bytes(l), (uint64_t)wr);
    double expect = (rd + wr) / (4266.66e6 * 0.87 * 0.9) * 150e6;
    double got = (double)hw_ledger_cycles(l, NULL);
    CU_ASSERT(got >= expect * 0.95 && got <= expect * 1.05);
    hw_ledger_free(l);
    hw_free(m);
}

/* 64 -> 64, 3x3 on 32x32 at 8 bits: weights (36 KiB) and two input and output buffers
 * (64 KiB each) fit 512 KiB, so every byte crosses the DDR once. */
static void test_least_traffic_when_it_fits(void)
{
    struct hw_model *m = default_model();
    CU_ASSERT_FATAL(m != NULL);
    struct oprec r = hwt_conv(OP_PHASE_FWD, 6, 64, 64, 32, 3, 1, 8, 8, 8);
    struct hw_ledger *l = priced(m, &r);
    CU_ASSERT_EQUAL(read_bytes(l), 36864 + 6 * 65536);
    CU_ASSERT_EQUAL(write_bytes(l), 6 * 65536);
    hw_ledger_free(l);
    /* backward-weight 32 -> 32: x (8 bit) and g_y (16 bit) once, g_w (16 bit) written once */
    r = hwt_conv(OP_PHASE_BWD_WEIGHT, 6, 32, 32, 32, 3, 1, 8, 16, 16);
    l = priced(m, &r);
    CU_ASSERT_EQUAL(read_bytes(l), 6 * (32768 + 65536));
    CU_ASSERT_EQUAL(write_bytes(l), 9216 * 2);
    hw_ledger_free(l);
    /* 64 -> 64: accumulators (144 KiB) + double x (2 x 64 KiB) and g_y (2 x 128 KiB) exceed
     * the budget. Halving the channel tile would fetch x twice (+64 KiB); two bands of 16 rows
     * re-fetch only the halo (2 x 18 of 32 rows of x: +8 KiB). The mapper takes the bands. */
    r = hwt_conv(OP_PHASE_BWD_WEIGHT, 6, 64, 64, 32, 3, 1, 8, 16, 16);
    l = priced(m, &r);
    CU_ASSERT_EQUAL(read_bytes(l), 6 * (65536 + 8192 + 131072));
    CU_ASSERT_EQUAL(write_bytes(l), 36864 * 2);
    hw_ledger_free(l);
    hw_free(m);
}

/* An FC whose 8 MiB of weights cannot stay on chip: the largest tile of output rows that fits
 * is 241 rows (482 KiB, 17 tiles); the weights cross the DDR once and each sample's 2 KiB of
 * inputs once per tile. With 2 samples the layer waits on the weights. */
static void test_weights_tiled_to_budget(void)
{
    struct hw_model *m = default_model();
    CU_ASSERT_FATAL(m != NULL);
    struct oprec r;
    memset(&r, 0, sizeof r);
    r.kind = OP_FC;
    r.phase = OP_PHASE_FWD;
    r.n = 2;
    r.cin = 2048;
    r.cout = 4096;
    r.bits_a = r.bits_b = r.bits_out = 8;
    r.bits_acc = 48;
    struct hw_ledger *l = priced(m, &r);
    uint64_t w = 2048ull * 4096;
    CU_ASSERT_EQUAL(read_bytes(l), w + 2 * 2048 * 17);
    /* outputs leave in 241-byte pieces: partial 32-byte bursts at both ends */
    CU_ASSERT(write_bytes(l) >= 2 * 4096 && write_bytes(l) <= 2 * (4096 + 17 * 64));
    double floor_cycles = (double)w / (4266.66e6 * 0.97) * 150e6;
    double got = (double)hw_ledger_cycles(l, NULL);
    CU_ASSERT(got >= floor_cycles && got <= floor_cycles * 1.5);
    hw_ledger_free(l);
    hw_free(m);
}

static void test_bram_budget_too_small(void)
{
    struct hw_params p;
    CU_ASSERT_FATAL(hwt_params(&p, NULL) == 0);
    p.bram_budget_kbit = 36;   /* 4 KiB of data */
    struct hw_model *m = hwt_model_from(&p);
    CU_ASSERT_FATAL(m != NULL);
    struct oprec r = hwt_conv(OP_PHASE_FWD, 1, 512, 512, 32, 3, 1, 32, 32, 32);
    char err[256] = "";
    CU_ASSERT_EQUAL(hw_account(m, NULL, &r, 1, err, sizeof err), 2);
    CU_ASSERT(strstr(err, "BRAM") != NULL);
    /* the same layer tiles spatially under the default budget */
    struct hw_model *d = default_model();
    CU_ASSERT_EQUAL(hw_account(d, NULL, &r, 1, err, sizeof err), 0);
    hw_free(d);
    hw_free(m);
}

/* PSG: predictor products (4 x 10) for every weight, the full 8 x 16 path for the fraction q;
 * the predictor pass fetches only the MSB planes; one sign bit per weight is written. */
static void test_psg_dataflow(void)
{
    struct hw_model *m = default_model();
    CU_ASSERT_FATAL(m != NULL);
    const uint32_t n = 4;
    struct oprec r = hwt_conv(OP_PHASE_BWD_WEIGHT, n, 32, 32, 16, 3, 1, 8, 16, 16);
    r.msb_a = 4;
    r.msb_b = 10;
    uint64_t macs = oprec_macs(&r), W = 32 * 32 * 9;
    uint64_t x = 32 * 16 * 16, gy = 32 * 16 * 16;
    struct hw_ledger *l[3];
    const uint16_t q[3] = {0, 32768, 65535};
    for (int i = 0; i < 3; i++) {
        r.psg_full_q16 = q[i];
        l[i] = priced(m, &r);
        CU_ASSERT_EQUAL(hwt_count(l[i], HW_DSP, "mac 4x10 packed (2 per DSP)"), macs);
        CU_ASSERT_EQUAL(hwt_count(l[i], HW_DSP, "mac 8x16"), (macs * q[i] + 32768) >> 16);
    }
    /* predictor pass alone: MSB planes in, signs out */
    CU_ASSERT_EQUAL(read_bytes(l[0]), n * (x * 4 / 8 + gy * 10 / 8));
    CU_ASSERT_EQUAL(write_bytes(l[0]), 32 * ((W / 8 + 31) / 32));
    CU_ASSERT_EQUAL(hwt_count(l[0], HW_LUT, "sign select 32b"), W);
    /* full fraction: plus x (8 bit) and g_y (16 bit) again */
    uint64_t full = n * (x + 2 * gy);
    CU_ASSERT_EQUAL(read_bytes(l[2]), read_bytes(l[0]) + 32 * (((full / 32) * 65535 + 32768) >> 16));
    /* halfway: every count is the predictor's plus half the low-order pass, rounded */
    struct hw_row r0[64], r1[64], r2[64];
    size_t n0 = hw_ledger_rows(l[0], NULL, r0, 64), n2 = hw_ledger_rows(l[2], NULL, r2, 64);
    size_t n1 = hw_ledger_rows(l[1], NULL, r1, 64);
    CU_ASSERT(n0 <= n1 && n1 == n2);
    for (size_t i = 0; i < n2; i++) {
        if (!r2[i].dynamic)
            continue;
        uint64_t c0 = 0;
        for (size_t j = 0; j < n0; j++)
            if (r0[j].component == r2[i].component && strcmp(r0[j].action, r2[i].action) == 0)
                c0 = r0[j].count;
        /* low(q) = round(low * q / 65536); recover low from q = 65535 within one count */
        uint64_t low_max = r2[i].count - c0;   /* round(low * 65535 / 65536) */
        uint64_t low_half = r1[i].count - c0;  /* round(low / 2) */
        CU_ASSERT(low_half * 2 + 2 >= low_max && low_half * 2 <= low_max + low_max / 65535 + 2);
    }
    /* the ledger books the predictor pass as PSG, the low-order pass as the record's own */
    struct hw_filter psg = hw_filter_all(), own = hw_filter_all();
    psg.tech = OP_TECH_PSG;
    own.tech = OP_TECH_BASE;
    CU_ASSERT(hw_ledger_fj(l[0], &psg) == hw_ledger_fj(l[0], NULL));
    CU_ASSERT(hw_ledger_fj(l[2], &psg) == hw_ledger_fj(l[0], NULL));
    CU_ASSERT(hw_ledger_fj(l[2], &own) > 0);
    CU_ASSERT(hw_ledger_fj(l[2], &psg) + hw_ledger_fj(l[2], &own) == hw_ledger_fj(l[2], NULL));
    for (int i = 0; i < 3; i++)
        hw_ledger_free(l[i]);
    hw_free(m);
}

/* A sign-only update reads one bit per weight plus w and momentum, writes w and momentum. */
static void test_sign_update(void)
{
    struct hw_model *m = default_model();
    CU_ASSERT_FATAL(m != NULL);
    struct oprec r;
    memset(&r, 0, sizeof r);
    r.kind = OP_UPDATE;
    r.phase = OP_PHASE_UPDATE;
    r.n = 128;
    r.cin = 64;
    r.cout = 64;
    r.groups = 1;
    r.k = 3;
    r.bits_a = 1;
    r.bits_b = 16;
    r.bits_out = 16;
    struct hw_ledger *l = priced(m, &r);
    uint64_t W = 64 * 64 * 9;
    CU_ASSERT_EQUAL(read_bytes(l), W / 8 + 2 * W * 2);
    CU_ASSERT_EQUAL(write_bytes(l), 2 * W * 2);
    /* n does not matter to an update */
    struct hw_ledger *l2 = hw_ledger_new();
    r.n = 7;
    CU_ASSERT_EQUAL(hw_account(m, l2, &r, 1, NULL, 0), 0);
    CU_ASSERT(hw_ledger_fj(l, NULL) == hw_ledger_fj(l2, NULL));
    hw_ledger_free(l2);
    hw_ledger_free(l);
    hw_free(m);
}

/* Loss on the PS: per sample 4 x 10 flops at 1 cycle and 11 transcendentals at 40 cycles. It
 * overlaps the fabric by default (no run time, hence no static energy); serialized, the PS
 * cycles become run time. */
static void test_loss_on_ps(void)
{
    struct hw_params p;
    CU_ASSERT_FATAL(hwt_params(&p, NULL) == 0);
    CU_ASSERT_EQUAL(p.ps.overlap_fabric, 1);
    struct hw_model *m = hwt_model_from(&p);
    CU_ASSERT_FATAL(m != NULL);
    struct oprec r;
    memset(&r, 0, sizeof r);
    r.kind = OP_LOSS;
    r.phase = OP_PHASE_FWD;
    r.n = 128;
    r.cin = r.cout = 10;
    r.bits_a = 16;
    r.bits_out = 16;
    struct hw_ledger *l = priced(m, &r);
    CU_ASSERT_EQUAL(hwt_count(l, HW_PS_A9, "compute (per A9 cycle)"), 128 * (40 + 11 * 40));
    CU_ASSERT_EQUAL(hw_ledger_cycles(l, NULL), 0);
    CU_ASSERT_EQUAL(hwt_count(l, HW_BOARD, "static (per PL cycle)"), 0);
    CU_ASSERT_EQUAL(hwt_count(l, HW_AXI_HP, "beat (64-bit, incl. DMA)"), 0);
    hw_ledger_free(l);
    hw_free(m);
    /* serialized: PS cycles at 667 MHz become PL cycles at 150 MHz, at least 128 x 480 x 150/667 */
    p.ps.overlap_fabric = 0;
    m = hwt_model_from(&p);
    CU_ASSERT_FATAL(m != NULL);
    l = priced(m, &r);
    CU_ASSERT_EQUAL(hwt_count(l, HW_PS_A9, "compute (per A9 cycle)"), 128 * (40 + 11 * 40));
    CU_ASSERT(hw_ledger_cycles(l, NULL) >= 128 * 108);
    CU_ASSERT_EQUAL(hwt_count(l, HW_BOARD, "static (per PL cycle)"), hw_ledger_cycles(l, NULL));
    hw_ledger_free(l);
    hw_free(m);
}

/* Energy of one component in a ledger. */
static hw_fj component_fj(const struct hw_ledger *l, int component)
{
    struct hw_filter f = hw_filter_all();
    f.component = component;
    return hw_ledger_fj(l, &f);
}

/* hardware.fuse_eltwise: BN, ReLU and add keep their arithmetic but move only their second
 * operands; a pass left with no stream takes no time of its own. */
static void test_fused_eltwise(void)
{
    struct hw_params p;
    CU_ASSERT_FATAL(hwt_params(&p, NULL) == 0);
    struct hw_model *sep = hwt_model_from(&p);
    strcpy(p.dataflow, "fused");
    struct hw_model *fused = hwt_model_from(&p);
    CU_ASSERT_FATAL(sep && fused);
    const uint64_t E = 8 * 16 * 16 * 16;   /* elements of an 8 x 16 x 16 x 16 tensor */
    struct {
        struct oprec r;
        uint64_t rd, wr;   /* fused DDR bytes */
        int timed;         /* fused pass still takes time */
    } cases[] = {
        {hwt_elt(OP_BN, OP_PHASE_FWD, 8, 16, 16, 32, 32, 32), 0, 0, 0},
        {hwt_elt(OP_RELU, OP_PHASE_FWD, 8, 16, 16, 32, 0, 32), 0, 0, 0},
        {hwt_elt(OP_BN, OP_PHASE_BWD_DATA, 8, 16, 16, 32, 32, 32), 2 * 4 * E, 0, 1},   /* x_hat twice */
        {hwt_elt(OP_RELU, OP_PHASE_BWD_DATA, 8, 16, 16, 32, 1, 32), E / 8, 0, 1},     /* the mask */
        {hwt_elt(OP_ADD, OP_PHASE_FWD, 8, 16, 16, 32, 32, 32), 4 * E, 4 * E, 1},      /* shortcut in, block out */
        {hwt_elt(OP_ADD, OP_PHASE_BWD_DATA, 8, 16, 16, 32, 32, 32), 4 * E, 0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct hw_ledger *a = priced(sep, &cases[i].r), *b = priced(fused, &cases[i].r);
        CU_ASSERT_EQUAL(read_bytes(b), cases[i].rd);
        CU_ASSERT_EQUAL(write_bytes(b), cases[i].wr);
        CU_ASSERT(read_bytes(a) > read_bytes(b));
        /* the same arithmetic */
        CU_ASSERT(component_fj(a, HW_DSP) == component_fj(b, HW_DSP));
        CU_ASSERT(component_fj(a, HW_LUT) == component_fj(b, HW_LUT));
        CU_ASSERT(hw_ledger_cycles(a, NULL) > hw_ledger_cycles(b, NULL));
        CU_ASSERT_EQUAL(hw_ledger_cycles(b, NULL) > 0, cases[i].timed);
        hw_ledger_free(a);
        hw_ledger_free(b);
    }
    /* pooling and convolutions are not element-wise passes to fuse */
    struct oprec pool = hwt_elt(OP_POOL, OP_PHASE_FWD, 8, 16, 16, 32, 0, 32);
    struct hw_ledger *a = priced(sep, &pool), *b = priced(fused, &pool);
    CU_ASSERT(hw_ledger_fj(a, NULL) == hw_ledger_fj(b, NULL));
    hw_ledger_free(a);
    hw_ledger_free(b);
    hw_free(sep);
    hw_free(fused);
}

static void test_bad_records(void)
{
    struct hw_model *m = default_model();
    CU_ASSERT_FATAL(m != NULL);
    char err[256] = "";
    struct oprec r = hwt_conv(OP_PHASE_FWD, 2, 6, 4, 8, 3, 1, 8, 8, 8);
    r.groups = 4;
    CU_ASSERT_EQUAL(hw_account(m, NULL, &r, 1, err, sizeof err), 2);
    CU_ASSERT(strstr(err, "groups") != NULL);
    r.groups = 1;
    r.kind = 99;
    CU_ASSERT_EQUAL(hw_account(m, NULL, &r, 1, err, sizeof err), 2);
    r.kind = OP_CONV;
    r.bits_a = 40;
    CU_ASSERT_EQUAL(hw_account(m, NULL, &r, 1, err, sizeof err), 2);
    r.bits_a = 8;
    r.phase = OP_PHASE_BWD_WEIGHT;
    r.msb_a = 9;   /* wider than the operand */
    r.msb_b = 4;
    CU_ASSERT_EQUAL(hw_account(m, NULL, &r, 1, err, sizeof err), 2);
    hw_free(m);
}

/* Depthwise conv: each output channel reads only its own input channel. */
static void test_depthwise(void)
{
    struct hw_model *m = default_model();
    CU_ASSERT_FATAL(m != NULL);
    struct oprec r = hwt_conv(OP_PHASE_FWD, 8, 96, 96, 16, 3, 1, 8, 8, 8);
    r.groups = 96;
    struct hw_ledger *l = priced(m, &r);
    CU_ASSERT_EQUAL(read_bytes(l), 96 * 9 + 8 * 96 * 256);
    CU_ASSERT_EQUAL(hwt_count(l, HW_DSP, "mac 8x8 packed (2 per DSP)"), oprec_macs(&r));
    hw_ledger_free(l);
    hw_free(m);
}

int main(void)
{
    CU_TestInfo tests[] = {
        { "memory-bound relu: bytes / bandwidth", test_memory_bound_relu },
        { "memory-bound 1x1 conv: bytes / bandwidth", test_memory_bound_conv },
        { "every byte once when it fits", test_least_traffic_when_it_fits },
        { "weights tiled to the BRAM budget", test_weights_tiled_to_budget },
        { "BRAM budget too small is bad input", test_bram_budget_too_small },
        { "PSG: predictor for all, low-order for the fraction", test_psg_dataflow },
        { "sign update", test_sign_update },
        { "loss on the PS", test_loss_on_ps },
        { "fused BN, ReLU and add: second operands only", test_fused_eltwise },
        { "bad records", test_bad_records },
        { "depthwise conv", test_depthwise },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("mapper", NULL, NULL, tests);
}
