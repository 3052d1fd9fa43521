/* The ARM Cortex-A9 (models/ps_a9.cpp) through the C API: the loss and the SLU gates run there,
 * costing A9 cycles for their float work and transcendentals, priced at the PS's dynamic power;
 * the gate's pooling is fused into the fabric; with overlap_fabric the PS adds no run time.
 *
 * Hand numbers, default table: A9 667 MHz, 1 cycle per flop, 40 per transcendental; PS active
 * 1.5 W - quiescent 0.15 W = 1.35 W dynamic, 1.35 / 667e6 = 2023.988 pJ = 2023988 fJ per A9
 * cycle; PL 150 MHz. */
#include "cunit_main.h"

#include "test_hw_params.h"

#define A9_CYCLE_FJ 2023988

static struct hwt_priced price(const struct hw_params *p, struct oprec r)
{
    struct hwt_priced o;
    CU_ASSERT_FATAL(hwt_price(p, &r, &o) == 0);
    return o;
}

static uint64_t a9_cycles(const struct hw_ledger *l)
{
    return hwt_count(l, HW_PS_A9, "compute (per A9 cycle)");
}

/* Softmax cross-entropy over 10 classes, 2 samples: forward 4 x 10 = 40 flops and 10 + 1
 * transcendentals = 40 + 11 x 40 = 480 A9 cycles a sample; backward 2 x 10 = 20 flops. */
static void test_loss(void)
{
    struct hw_params p = hw_params_defaults();
    struct oprec r = hwt_elt(OP_LOSS, OP_PHASE_FWD, 2, 10, 1, 16, 0, 32);
    struct hwt_priced o = price(&p, r);
    CU_ASSERT_EQUAL(a9_cycles(o.l), 2 * 480);
    CU_ASSERT_EQUAL(hwt_unit(o.l, HW_PS_A9, "compute (per A9 cycle)"), A9_CYCLE_FJ);
    struct hw_filter ps = hw_filter_all();
    ps.component = HW_PS_A9;
    ps.dynamic = 1;
    CU_ASSERT(hw_ledger_fj(o.l, &ps) == (e2_fj)2 * 480 * A9_CYCLE_FJ);
    /* overlapped with the fabric: no run time of its own */
    CU_ASSERT_EQUAL(hw_ledger_cycles(o.l, NULL), 0);
    hwt_release(o);
    r.phase = OP_PHASE_BWD_DATA;
    o = price(&p, r);
    CU_ASSERT_EQUAL(a9_cycles(o.l), 2 * 20);
    hwt_release(o);
}

/* Not overlapped, the fabric waits for each sample: 480 A9 cycles = ceil(480 x 150 / 667) =
 * ceil(107.95) = 108 PL cycles, plus reading the 10 16-bit logits (20 B, one random burst:
 * 4 / 0.92 DDR clocks = ceil(1.22) = 2 cycles) and writing the 32-bit loss (one random burst:
 * 4 / 0.87 = ceil(1.29) = 2), straight to the controller (no DMA share): 112 a sample. */
static void test_loss_not_overlapped(void)
{
    struct hw_params p = hw_params_defaults();
    p.ps.overlap_fabric = 0;
    struct hwt_priced o = price(&p, hwt_elt(OP_LOSS, OP_PHASE_FWD, 2, 10, 1, 16, 0, 32));
    CU_ASSERT_EQUAL(hw_ledger_cycles(o.l, NULL), 2 * 112);
    hwt_release(o);
    /* a slower A9 clock: 480 x 150 / 333.5 = ceil(215.89) = 216, + 4 */
    p.ps.clock_mhz = 333.5;
    o = price(&p, hwt_elt(OP_LOSS, OP_PHASE_FWD, 1, 10, 1, 16, 0, 32));
    CU_ASSERT_EQUAL(hw_ledger_cycles(o.l, NULL), 220);
    hwt_release(o);
}

/* An SLU gate on a 16 x 8 x 8 block input, 10 units: 1x1 conv 2 x 16 x 10 = 320, LSTM
 * 2 x 4 x 10 x 2 x 10 = 1600, linear 4 x 10 = 40 and 2 x 10 = 20: 1980 flops and 5 x 10 + 1 =
 * 51 transcendentals, 1980 + 51 x 40 = 4020 A9 cycles forward; backward 2 x 1980 = 3960, no
 * transcendentals. The pooling (16 x 8 x 8 = 1024 float32 adds a sample) is fused into the
 * fabric's float adders forward and backward-data, not in backward-weight. */
static void test_gate(void)
{
    struct hw_params p = hw_params_defaults();
    struct oprec r = hwt_elt(OP_GATE, OP_PHASE_FWD, 3, 16, 8, 8, 0, 32);
    r.cout = 10;
    const int phases[3] = {OP_PHASE_FWD, OP_PHASE_BWD_DATA, OP_PHASE_BWD_WEIGHT};
    const uint64_t cycles[3] = {4020, 3960, 3960}, pool[3] = {1024, 1024, 0};
    for (int i = 0; i < 3; i++) {
        r.phase = (uint8_t)phases[i];
        struct hwt_priced o = price(&p, r);
        CU_ASSERT_EQUAL(a9_cycles(o.l), 3 * cycles[i]);
        uint64_t adds = hwt_count(o.l, HW_DSP, "gate pool (fused) fp32");
        CU_ASSERT_EQUAL(adds, 3 * pool[i]);
        if (pool[i])   /* float adds, priced as energy.fp32_add_pj (4 pJ) */
            CU_ASSERT_EQUAL(hwt_unit(o.l, HW_DSP, "gate pool (fused) fp32"), 4000);
        hwt_release(o);
    }
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"the loss: A9 cycles and their energy", test_loss},
        {"the loss not overlapped: the fabric waits", test_loss_not_overlapped},
        {"an SLU gate: LSTM work on the A9, pooling in the fabric", test_gate},
        CU_TEST_INFO_NULL,
    };
    return cunit_run("ps_a9", NULL, NULL, tests);
}
