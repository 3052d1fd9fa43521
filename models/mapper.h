/* The mapper: an op record -> a tile schedule (DMA transfers, compute steps, PS steps) that fits
 * the BRAM budget and minimizes DDR traffic. Also the derived constants every module reads and
 * the job a schedule runs as. Dataflows and rules: docs/hardware.md. */
#ifndef E2_MODELS_MAPPER_H
#define E2_MODELS_MAPPER_H

#include <cstdint>
#include <string>
#include <vector>

#include "hw_params.h"
#include "ledger.h"
#include "oprec.h"

namespace e2hw {

/* Parameters plus what follows from them, and the ids of the fixed actions. */
struct hw_consts {
    hw_params p;
    double pl_hz = 0, ddr_hz = 0, ps_hz = 0;
    uint64_t bram_bytes = 0;       /* data bytes the buffers may use */
    bool fused = true;             /* hardware.dataflow: fused */
    uint64_t burst_bytes = 0;      /* bus bytes of one DDR burst (32) */
    uint64_t bus_page_bytes = 0;   /* one row across the devices in lockstep (4096) */
    uint64_t axi_beat_bytes = 0;   /* 8 */
    uint32_t a_ddr_act = 0, a_ddr_pre = 0, a_ddr_rd = 0, a_ddr_wr = 0, a_ddr_rd_io = 0,
             a_ddr_wr_odt = 0, a_ddr_bg = 0, a_ddr_ref = 0;
    uint32_t a_axi_beat = 0, a_bram_rd = 0, a_bram_wr = 0, a_ps_cycle = 0;
    std::vector<uint32_t> static_ids;  /* actions counted in PL cycles of simulated time */
    action_table *actions = nullptr;   /* MAC and LUT actions are interned as ops need them */
};

/* One DMA (or PS) transfer, already reduced to what the DDR, AXI and BRAM models need. */
struct xfer {
    bool write = false;     /* BRAM -> DDR */
    bool seq = true;        /* every run at least ddr.seq_run_bytes long */
    uint64_t bytes = 0, bursts = 0, rows = 0, beats = 0;
};

/* One pipeline step: load, compute, store. A barrier step's loads wait until the array has
 * finished the first wait_computed steps: all earlier ones when its loads replace a single
 * stationary buffer (or need a previous pass's results), those before the previous tile when
 * the stationary buffer is doubled. */
struct step {
    std::vector<xfer> loads, stores;
    uint64_t compute_cycles = 0;
    std::vector<std::pair<uint32_t, uint64_t>> actions;   /* compute-side counts */
    bool barrier = false;
    uint64_t wait_computed = 0;
};

struct schedule {
    bool on_ps = false;     /* run by the ARM cores instead of the PL pipeline */
    bool hidden = false;    /* runs inside another op's time (overlapped, fused): no run time */
    std::vector<step> steps;
};

/* PSG splits a weight-gradient op into the predictor pass over all weights and the low-order
 * (full-precision) pass, which the model prices once and scales by the fraction. */
enum map_variant { MAP_PLAIN = 0, MAP_PSG_MSB, MAP_PSG_LOW };

/* Build the schedule of r (with its n) or say why it cannot run (bad input). */
bool map_op(const hw_consts &k, const oprec &r, map_variant v, schedule *out, std::string *err);

/* A stream of `bytes` in dma_chunk_bytes transfers (hw_dma_stream). */
schedule map_stream(const hw_consts &k, uint64_t bytes, bool write);

/* Add `count` runs of `len` bytes, the first at byte `off` of a page-aligned tensor and the
 * next ones `stride` bytes apart: counts bursts, DRAM rows opened and AXI beats exactly. */
void xfer_add_runs(const hw_consts &k, xfer &x, uint64_t off, uint64_t len, uint64_t stride,
                   uint64_t count);

/* A Chrome trace event the threads record when a timeline is requested. */
struct timeline_event {
    const char *track;      /* "dma load", "dsp array", ... */
    std::string what;
    uint64_t t0, t1;        /* PL cycles from the op's start */
};

/* A schedule being simulated: the threads add what they count here. */
struct job {
    const hw_consts *k = nullptr;
    const schedule *s = nullptr;
    cost_acc counts;
    uint64_t start = 0, cycles = 0;
    uint64_t ddr_busy = 0;   /* cycles the DDR controller served this job (one request at a time) */
    bool finished = false;
    std::vector<timeline_event> *timeline = nullptr;
};

} // namespace e2hw

#endif
