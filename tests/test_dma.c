/* The DMA engine (models/dma.cpp) through the C API: a stream's transfers take what the DDR
 * controller (UG585 efficiency, then the DMA's share of it) or the AXI HP ports allow, whichever
 * is slower, chunk by chunk; and each transfer books its AXI beats.
 *
 * Hand numbers, default table: PL 150 MHz, DDR 533.333 MHz on a 32-bit bus (32-byte BL8
 * bursts), 16 KiB chunks, dma_efficiency 0.9, four 64-bit HP ports (32 B per PL cycle). PL
 * cycles per DDR clock: 150 / 533.333 = 0.28125018. */
#include "cunit_main.h"

#include "test_hw_params.h"

static uint64_t stream(const struct hw_params *p, uint64_t bytes, int write)
{
    struct hw_model *m = hwt_model_from(p);
    CU_ASSERT_FATAL(m != NULL);
    uint64_t cycles = 0;
    char err[256];
    CU_ASSERT_FATAL(hw_dma_stream(m, bytes, write, &cycles, err, sizeof err) == 0);
    hw_free(m);
    return cycles;
}

/* One 16 KiB chunk read: 512 bursts x 4 DDR clocks / 0.97 (sequential read) = 2111.34 clocks
 * = ceil(593.81) = 594 PL cycles, / 0.9 = 660; the ports would need 16384 / 32 = 512. */
static void test_read_chunks(void)
{
    struct hw_params p = hw_params_defaults();
    CU_ASSERT_EQUAL(stream(&p, 16384, 0), 660);
    /* chunks follow each other through the one controller */
    CU_ASSERT_EQUAL(stream(&p, 4 * 16384, 0), 4 * 660);
    /* a 100-byte tail is its own random transfer: 4 bursts x 4 / 0.92 = 17.39 clocks = ceil(4.89)
     * = 5 cycles, / 0.9 = ceil(5.56) = 6 (ports: 13 beats = 104 B, 4 cycles) */
    CU_ASSERT_EQUAL(stream(&p, 16384 + 100, 0), 660 + 6);
}

/* Writes: 512 x 4 / 0.90 = 2275.56 clocks = ceil(640.0004) = 641 cycles, / 0.9 = ceil(712.2)
 * = 713. */
static void test_write_chunks(void)
{
    struct hw_params p = hw_params_defaults();
    CU_ASSERT_EQUAL(stream(&p, 16384, 1), 713);
    CU_ASSERT_EQUAL(stream(&p, 2 * 16384, 1), 2 * 713);
}

/* Narrow ports bind: one 32-bit port moves 4 B per cycle, 16384 / 4 = 4096 cycles per chunk
 * (the controller would need 660). */
static void test_ports_bind(void)
{
    struct hw_params p = hw_params_defaults();
    p.axi.ports = 1;
    p.axi.port_bits = 32;
    CU_ASSERT_EQUAL(stream(&p, 16384, 0), 4096);
    CU_ASSERT_EQUAL(stream(&p, 16384, 1), 4096);
    /* with the DMA at the controller's full efficiency and wide ports: 594 cycles */
    p = hw_params_defaults();
    p.dma_efficiency = 1;
    CU_ASSERT_EQUAL(stream(&p, 16384, 0), 594);
}

/* An unfused 8-bit ReLU over 16 x 32 x 32 streams its 16 KiB input in and its 16 KiB output
 * out through the DMA: 2 x 16384 / 8 = 4096 AXI beats at 16 pJ. */
static void test_transfers_book_beats(void)
{
    struct hw_params p = hw_params_defaults();
    p.dataflow = HW_DATAFLOW_UNFUSED;
    struct oprec r = hwt_elt(OP_RELU, OP_PHASE_FWD, 1, 16, 32, 8, 0, 8);
    struct hwt_priced o;
    CU_ASSERT_FATAL(hwt_price(&p, &r, &o) == 0);
    CU_ASSERT_EQUAL(hwt_count(o.l, HW_AXI_HP, "beat (64-bit, incl. DMA)"), 4096);
    CU_ASSERT_EQUAL(hwt_unit(o.l, HW_AXI_HP, "beat (64-bit, incl. DMA)"), 16000);   /* 16 pJ */
    struct hw_filter axi = hw_filter_all();
    axi.component = HW_AXI_HP;
    CU_ASSERT(hw_ledger_fj(o.l, &axi) == (e2_fj)4096 * 16000);
    hwt_release(o);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"read chunks: controller efficiency, DMA share", test_read_chunks},
        {"write chunks", test_write_chunks},
        {"narrow AXI HP ports bind", test_ports_bind},
        {"transfers book AXI beats", test_transfers_book_beats},
        CU_TEST_INFO_NULL,
    };
    return cunit_run("dma", NULL, NULL, tests);
}
