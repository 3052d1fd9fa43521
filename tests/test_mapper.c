/* Mapper: memory-bound layers take bytes / bandwidth, tiles fit the BRAM budget with the least
 * DDR traffic, PSG is priced as its dataflow says, PS ops run on the ARM cores. */
#include "cunit_main.h"

#include "fixed.h"
#include "test_hw_params.h"

static struct hw_model *default_model(void)
{
    struct hw_params p = hw_params_defaults();
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

static struct hw_model *model_with_dataflow(enum hw_dataflow dataflow)
{
    struct hw_params p = hw_params_defaults();
    p.dataflow = dataflow;
    return hwt_model_from(&p);
}

/* An unfused relu pass on 16 x 64 x 32 x 32 bytes: reads and writes interleave, so the
 * controller runs at its mixed sequential efficiency, 87 % of 4,266.66 MB/s, of which the DMA
 * reaches 90 % (hardware.dma_efficiency): 4 MiB / 3,341 MB/s = 188,317 cycles. */
static void test_memory_bound_relu(void)
{
    struct hw_model *m = model_with_dataflow(HW_DATAFLOW_UNFUSED);
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
    /* at least the weights at the sequential efficiency; at most the weights at the DMA's share
     * (0.9) of the mixed efficiency (outputs are stored in between) plus each tile's compute
     * (one stationary buffer: the next tile's weights wait for the array): 2 samples x
     * ceil(241 / 200 lanes) x 2048 cycles per tile */
    double floor_cycles = (double)w / (4266.66e6 * 0.97) * 150e6;
    double ceiling = (double)w / (4266.66e6 * 0.87 * 0.9) * 150e6 + 17.0 * 2 * 2 * 2048;
    double got = (double)hw_ledger_cycles(l, NULL);
    CU_ASSERT(got >= floor_cycles && got <= ceiling * 1.05);
    hw_ledger_free(l);
    hw_free(m);
}

static void test_bram_budget_too_small(void)
{
    struct hw_params p = hw_params_defaults();
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
        CU_ASSERT_EQUAL(hwt_count(l[i], HW_DSP, "mac 4x10"), macs);   /* one per DSP */
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

/* A sign-only update reads one bit per weight plus the float32 master weights and momentum,
 * writes them back and the 16-bit copy the forward reads. */
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
    CU_ASSERT_EQUAL(read_bytes(l), W / 8 + 2 * W * 4);
    CU_ASSERT_EQUAL(write_bytes(l), 2 * W * 4 + W * 2);
    CU_ASSERT_EQUAL(hwt_count(l, HW_DSP, "mac fp32"), 3 * W);
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
    struct hw_params p = hw_params_defaults();
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
static e2_fj component_fj(const struct hw_ledger *l, int component)
{
    struct hw_filter f = hw_filter_all();
    f.component = component;
    return hw_ledger_fj(l, &f);
}

/* ---- the element-wise dataflow: a conv -> BN -> ReLU -> conv -> add chain ----
 * 2 samples of 16 channels on 8 x 8 maps (E = 2048 elements), 3x3 convs 16 -> 16 (2304
 * weights), the add's shortcut the chain's input. Stored widths as the kernels write them
 * (fixed.h, op_tag_stored): fixed point 8-bit activations and weights, 16-bit gradients and
 * weight gradients; float32 everything 32. Every transfer here is whole 32-byte bursts. */
enum { CH_N = 2, CH_C = 16, CH_HW = 8, CH_E = CH_N * CH_C * CH_HW * CH_HW, CH_W = CH_C * CH_C * 9 };

struct chain_op {
    const char *what;
    struct oprec r;
    uint64_t rd, wr;   /* DDR bytes, hand-computed */
};

/* The chain's records and their DDR bytes in a dataflow: a, g, w = bytes of an activation,
 * gradient, weight element (act, grad, weight bits / 8). */
static size_t chain(int act, int grad, int wbits, int fused, struct chain_op *ops)
{
    struct op_tag t = op_tag_stored(op_tag_make(1, OP_TECH_BASE), act, grad, grad);
    struct nchw s = {CH_N, CH_C, CH_HW, CH_HW};
    const uint64_t E = CH_E, a = (uint64_t)act / 8, g = (uint64_t)grad / 8, w = (uint64_t)wbits / 8;
    const uint64_t mask = E / 8;   /* fused: ReLU's 1-bit mask */
    struct oprec cf = hwt_conv(OP_PHASE_FWD, CH_N, CH_C, CH_C, CH_HW, 3, 1, act, wbits, act);
    struct oprec cd = hwt_conv(OP_PHASE_BWD_DATA, CH_N, CH_C, CH_C, CH_HW, 3, 1, grad, wbits, grad);
    struct oprec cw = hwt_conv(OP_PHASE_BWD_WEIGHT, CH_N, CH_C, CH_C, CH_HW, 3, 1, act, grad, grad);
#define ELT(k, ph) op_elem_record(k, ph, t, &s)
    struct chain_op list[] = {
        /* forward: x (a) and w in, y (a) out */
        {"conv1 fwd", cf, CH_W * w + E * a, E * a},
        /* unfused: statistics pass over y, then y in, BN out; fused: sums in conv1's output
         * stream, the affine in conv2's input stream */
        {"bn fwd", ELT(OP_BN, OP_PHASE_FWD), fused ? 0 : 2 * E * a, fused ? 0 : E * a},
        /* unfused: x in, relu(x) out; fused: the compare in conv2's input stream, the mask out */
        {"relu fwd", ELT(OP_RELU, OP_PHASE_FWD), fused ? 0 : E * a, fused ? mask : E * a},
        {"conv2 fwd", cf, CH_W * w + E * a, E * a},
        /* both: y2 and the shortcut in, the block output out */
        {"add fwd", ELT(OP_ADD, OP_PHASE_FWD), 2 * E * a, E * a},
        /* unfused: both gradients in, the sum out; fused: the shortcut's gradient is added
         * where the gradient is written */
        {"add bwd", ELT(OP_ADD, OP_PHASE_BWD_DATA), fused ? E * g : 2 * E * g, fused ? 0 : E * g},
        {"conv2 bwd-data", cd, CH_W * w + E * g, E * g},
        {"conv2 bwd-weight", cw, E * a + E * g, CH_W * g},
        /* unfused: g and x in, g out; fused: the mask in (applied where BN's sums gather) */
        {"relu bwd", ELT(OP_RELU, OP_PHASE_BWD_DATA), fused ? mask : E * g + E * a,
         fused ? 0 : E * g},
        /* unfused: sums over g and x, then g and x again, g_x out; fused: the sums read y
         * where g is written, then g and y in, g_x out */
        {"bn bwd", ELT(OP_BN, OP_PHASE_BWD_DATA), fused ? E * a + E * g + E * a : 2 * (E * g + E * a),
         E * g},
        {"conv1 bwd-weight", cw, E * a + E * g, CH_W * g},
    };
#undef ELT
    memcpy(ops, list, sizeof list);
    return sizeof list / sizeof list[0];
}

/* DDR transfer energy of a ledger: its read and write bursts priced per burst. */
static e2_fj burst_fj(const struct hw_ledger *l, uint64_t rd, uint64_t wr)
{
    return (e2_fj)(rd / 32) * (hwt_unit(l, HW_DDR3, "read burst (core)") +
                               hwt_unit(l, HW_DDR3, "read burst (I/O)")) +
           (e2_fj)(wr / 32) * (hwt_unit(l, HW_DDR3, "write burst (core)") +
                               hwt_unit(l, HW_DDR3, "write burst (termination)"));
}

static e2_fj row_fj(const struct hw_ledger *l, int component, const char *action)
{
    return (e2_fj)hwt_count(l, component, action) * hwt_unit(l, component, action);
}

static void test_eltwise_dataflow_chain(void)
{
    static const struct {
        int act, grad, wbits;
        uint64_t fused_total, unfused_total;   /* DDR bytes of the chain, summed by hand */
    } precisions[] = {
        /* fixed point, a = w = 1, g = 2 bytes: the convs move 6,400 x 2 (fwd) + 10,496
         * (bwd-data) + 10,752 x 2 (bwd-weight) = 44,800; the element-wise ops 55,296 unfused
         * (6,144 + 4,096 + 6,144 + 12,288 + 10,240 + 16,384), 23,040 fused (256 + 6,144 +
         * 4,096 + 256 + 12,288) */
        {8, 16, 8, 44800 + 23040, 44800 + 55296},
        /* float32, every tensor 4 bytes (the fused mask stays 1 bit): convs 128,000; the
         * element-wise ops 19 E x 4 = 155,648 unfused, 256 + 24,576 + 8,192 + 256 + 32,768 =
         * 66,048 fused */
        {32, 32, 32, 128000 + 66048, 128000 + 155648},
    };
    struct chain_op ops[16];
    for (size_t pi = 0; pi < 2; pi++)
        for (int fused = 0; fused <= 1; fused++) {
            struct hw_model *m = model_with_dataflow(fused ? HW_DATAFLOW_FUSED : HW_DATAFLOW_UNFUSED);
            CU_ASSERT_FATAL(m != NULL);
            size_t n = chain(precisions[pi].act, precisions[pi].grad, precisions[pi].wbits, fused, ops);
            uint64_t total = 0;
            for (size_t i = 0; i < n; i++) {
                struct hw_ledger *l = priced(m, &ops[i].r);
                if (read_bytes(l) != ops[i].rd || write_bytes(l) != ops[i].wr)
                    fprintf(stderr, "%s (%d bits, %s): read %llu (want %llu), wrote %llu (want %llu)\n",
                            ops[i].what, precisions[pi].act, fused ? "fused" : "unfused",
                            (unsigned long long)read_bytes(l), (unsigned long long)ops[i].rd,
                            (unsigned long long)write_bytes(l), (unsigned long long)ops[i].wr);
                CU_ASSERT_EQUAL(read_bytes(l), ops[i].rd);
                CU_ASSERT_EQUAL(write_bytes(l), ops[i].wr);
                /* the bursts' energy is bursts x their fJ */
                e2_fj xfer = row_fj(l, HW_DDR3, "read burst (core)") + row_fj(l, HW_DDR3, "read burst (I/O)") +
                             row_fj(l, HW_DDR3, "write burst (core)") +
                             row_fj(l, HW_DDR3, "write burst (termination)");
                CU_ASSERT(xfer == burst_fj(l, ops[i].rd, ops[i].wr));
                /* an op without a stream of its own runs inside the convs' time */
                CU_ASSERT_EQUAL(hw_ledger_cycles(l, NULL) == 0, ops[i].rd + ops[i].wr == 0);
                total += ops[i].rd + ops[i].wr;
                hw_ledger_free(l);
            }
            CU_ASSERT_EQUAL(total, fused ? precisions[pi].fused_total : precisions[pi].unfused_total);
            hw_free(m);
        }
}

/* The dataflow moves tensors, not arithmetic: each element-wise record does the same work in
 * both. Fixed point, BN forward: sums of x and x^2 (2 MACs 8x8 per element), then the affine
 * (1 MAC 8x16); ReLU one 8-bit compare per element; backward BN 2 MACs 16x8 and 2 MACs 16x16. */
static void test_eltwise_dataflow_same_arithmetic(void)
{
    struct hw_model *f = model_with_dataflow(HW_DATAFLOW_FUSED), *u = model_with_dataflow(HW_DATAFLOW_UNFUSED);
    CU_ASSERT_FATAL(f && u);
    struct chain_op ops[16];
    size_t n = chain(8, 16, 8, 1, ops);
    for (size_t i = 0; i < n; i++) {
        struct hw_ledger *a = priced(f, &ops[i].r), *b = priced(u, &ops[i].r);
        CU_ASSERT(component_fj(a, HW_DSP) == component_fj(b, HW_DSP));
        CU_ASSERT(component_fj(a, HW_LUT) == component_fj(b, HW_LUT));
        if (strcmp(ops[i].what, "bn fwd") == 0) {
            CU_ASSERT_EQUAL(hwt_count(a, HW_DSP, "mac 8x8"), 2 * CH_E);
            CU_ASSERT_EQUAL(hwt_count(a, HW_DSP, "mac 8x16"), CH_E);
            CU_ASSERT(component_fj(a, HW_DSP) == 2 * (e2_fj)CH_E * hwt_unit(a, HW_DSP, "mac 8x8") +
                                                     (e2_fj)CH_E * hwt_unit(a, HW_DSP, "mac 8x16"));
        }
        if (strcmp(ops[i].what, "bn bwd") == 0) {
            CU_ASSERT_EQUAL(hwt_count(a, HW_DSP, "mac 16x8"), 2 * CH_E);
            CU_ASSERT_EQUAL(hwt_count(a, HW_DSP, "mac 16x16"), 2 * CH_E);
        }
        if (strcmp(ops[i].what, "relu fwd") == 0)
            CU_ASSERT(component_fj(a, HW_LUT) == (e2_fj)CH_E * hwt_unit(a, HW_LUT, "relu 8b"));
        hw_ledger_free(a);
        hw_ledger_free(b);
    }
    /* pooling is not fused: the same in both */
    struct oprec pool = hwt_elt(OP_POOL, OP_PHASE_FWD, 8, 16, 16, 8, 0, 8);
    struct hw_ledger *a = priced(f, &pool), *b = priced(u, &pool);
    CU_ASSERT(hw_ledger_fj(a, NULL) == hw_ledger_fj(b, NULL));
    hw_ledger_free(a);
    hw_ledger_free(b);
    hw_free(f);
    hw_free(u);
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

static struct hw_model *model_with_input_words(int words)
{
    struct hw_params p = hw_params_defaults();
    p.array_input_words = words;
    return hwt_model_from(&p);
}

/* A depthwise 3x3 conv, 96 channels on 16 x 16 maps, 8 samples at 8 bits: 1,769,472 MACs,
 * one 8x8 MAC per DSP (200 lanes). Tiling: all 96 channels and 16 rows fit the BRAM (864 B of
 * weights, 2 x 24 KiB in and out), one step per sample. Lane grid: 96 x 256 outputs on 200
 * lanes take 128 lane tiles at best; of those shapes 12 x 16 reads the fewest values (12
 * weights + 192 inputs per cycle). No output row shares an input, so the grid needs 192
 * inputs = 48 words per cycle; the input buffer gives 32 (hardware.array_input_words): 2
 * cycles per reduction step. Per sample 128 x 9 x 2 + 16 = 2,320 cycles, 96 MACs per cycle:
 * 48 % of the 200 lanes. With 4 words per cycle: 12 cycles per step, 13,840 per sample. */
static void test_depthwise(void)
{
    struct oprec r = hwt_conv(OP_PHASE_FWD, 8, 96, 96, 16, 3, 1, 8, 8, 8);
    r.groups = 96;
    CU_ASSERT_EQUAL(oprec_macs(&r), 1769472);
    struct hw_model *m = default_model();
    CU_ASSERT_FATAL(m != NULL);
    struct hw_ledger *l = priced(m, &r);
    /* each output channel reads only its own input channel: every byte once */
    CU_ASSERT_EQUAL(read_bytes(l), 96 * 9 + 8 * 96 * 256);
    CU_ASSERT_EQUAL(write_bytes(l), 8 * 96 * 256);
    CU_ASSERT_EQUAL(hwt_count(l, HW_DSP, "mac 8x8"), oprec_macs(&r));
    /* femtojoules of the array: the MACs, and its BRAM reads (3 weight + 48 input words per
     * cycle, 8 x 128 x 9 cycles) plus the drains of the outputs (6,144 words a sample) */
    CU_ASSERT(component_fj(l, HW_DSP) == (e2_fj)1769472 * hwt_unit(l, HW_DSP, "mac 8x8"));
    CU_ASSERT_EQUAL(hwt_count(l, HW_BRAM, "read (36-bit port)"), 8 * 128 * 9 * 51 + 8 * 6144);
    /* compute-bound: at least 8 x 2,320 cycles, at most one sample's load and store more */
    double got = (double)hw_ledger_cycles(l, NULL);
    CU_ASSERT(got >= 8 * 2320 && got <= 8 * 2320 + 2 * 24576 / 20.0);
    hw_ledger_free(l);
    hw_free(m);
    m = model_with_input_words(4);
    l = priced(m, &r);
    got = (double)hw_ledger_cycles(l, NULL);
    CU_ASSERT(got >= 8 * 13840 && got <= 8 * 13840 * 1.05);
    hw_ledger_free(l);
    hw_free(m);
    /* a dense conv broadcasts its inputs: the same cycles with 32 or 4096 words per cycle */
    struct oprec dense = hwt_conv(OP_PHASE_FWD, 4, 64, 64, 32, 3, 1, 8, 8, 8);
    struct hw_model *a = model_with_input_words(32), *b = model_with_input_words(4096);
    uint64_t ca = 0, cb = 0;
    CU_ASSERT_FATAL(hw_op_cost(a, &dense, &ca, NULL, NULL, 0) == 0);
    CU_ASSERT_FATAL(hw_op_cost(b, &dense, &cb, NULL, NULL, 0) == 0);
    CU_ASSERT_EQUAL(ca, cb);
    hw_free(a);
    hw_free(b);
}

/* A pointwise (1x1) conv 96 -> 16 on 4 x 4 maps, 64 samples at 8 bits: 1,572,864 MACs. The
 * grid has only 16 x 16 outputs per sample to fill: the fewest lane tiles is 2 (e.g. 8 rows x
 * 16 columns = 128 of the 200 lanes), each 96 cycles of reduction: 2 x 96 + 16 = 208 cycles
 * per sample against 7,864 / 64 = 123 at full use (59 %). Memory (1.75 KiB a sample, ~70
 * cycles) hides behind it. */
static void test_pointwise(void)
{
    struct hw_model *m = default_model();
    CU_ASSERT_FATAL(m != NULL);
    struct oprec r = hwt_conv(OP_PHASE_FWD, 64, 96, 16, 4, 1, 1, 8, 8, 8);
    CU_ASSERT_EQUAL(oprec_macs(&r), 1572864);
    struct hw_ledger *l = priced(m, &r);
    CU_ASSERT_EQUAL(hwt_count(l, HW_DSP, "mac 8x8"), oprec_macs(&r));
    double got = (double)hw_ledger_cycles(l, NULL);
    CU_ASSERT(got >= 64 * 208 && got <= 64 * 208 * 1.05);
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
        { "conv-BN-ReLU-conv-add chain: bytes per dataflow and precision", test_eltwise_dataflow_chain },
        { "the dataflow moves tensors, not arithmetic", test_eltwise_dataflow_same_arithmetic },
        { "bad records", test_bad_records },
        { "depthwise conv: no input shared, limited by the input ports", test_depthwise },
        { "pointwise conv on a small map: lane tiles", test_pointwise },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("mapper", NULL, NULL, tests);
}
