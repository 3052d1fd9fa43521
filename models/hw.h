/* The Zynq-7020 / ZedBoard hardware model behind a plain C API (usable from C11).
 *
 * A model prices op records (kernels/oprec.h): a mapper turns each record into a tile schedule,
 * SystemC threads (DMA, DSP array, DDR3 controller, ARM PS) run it at tile granularity with
 * cycle-exact timestamps in PL clock cycles, and every action is counted and priced from the
 * energy table. Costs go into ledgers: integer femtojoules per component, action, layer, phase
 * and technique, whose every breakdown sums to the total exactly. See docs/hardware.md.
 *
 * Processes and threads: SystemC elaborates one design per process; the first hw_create()
 * builds it and every model shares it (parameters are run-time values, swapped per op). Call
 * the API from one thread at a time. No sc_main is needed: the API runs the simulation itself.
 *
 * Return codes: 0 = ok, 1 = failure (E2_FAILURE), 2 = bad input (E2_BAD_INPUT); on failure
 * err (if non-NULL) receives a one-line message of at most errlen bytes. */
#ifndef E2_HW_H
#define E2_HW_H

#include <stddef.h>
#include <stdint.h>

#include "fj.h"
#include "hw_params.h"
#include "oprec.h"

#ifdef __cplusplus
extern "C" {
#endif

enum hw_component {
    HW_DDR3 = 0,    /* DRAM core, I/O and termination, background, refresh */
    HW_AXI_HP,      /* AXI HP ports and the DMA engine */
    HW_BRAM,        /* on-chip buffers */
    HW_DSP,         /* DSP48E1 MAC array (fixed point, packed, float32) */
    HW_LUT,         /* fabric logic: LUT multipliers, adders, compares, requantization */
    HW_PS_A9,       /* ARM cores: compute, quiescent power, DDR controller */
    HW_PL,          /* PL device static power */
    HW_BOARD,       /* board regulators and peripherals */
    HW_COMPONENT_COUNT
};

struct hw_model;
struct hw_ledger;

/* ---- models and ledgers ---- */

/* Check the parameters and make a model. May be called many times in one process. */
int hw_create(const struct hw_params *p, struct hw_model **out, char *err, size_t errlen);
void hw_free(struct hw_model *m);
const struct hw_params *hw_model_params(const struct hw_model *m);

/* A ledger belongs to the first model that accounts into it (its action ids); it stays valid
 * after that model is freed. One model can fill several ledgers (the run and its float32
 * baseline). */
struct hw_ledger *hw_ledger_new(void);
void hw_ledger_free(struct hw_ledger *l);
void hw_ledger_clear(struct hw_ledger *l);

/* Price `repeat` executions of record r into ledger l (l may be NULL to only warm the memo).
 * Identical records are simulated once; records that differ only in n are extrapolated from a
 * few simulated sample counts, the PSG low-order part is interpolated in psg_full_q16. */
int hw_account(struct hw_model *m, struct hw_ledger *l, const struct oprec *r, uint64_t repeat,
               char *err, size_t errlen);

/* Cost of one execution of r without a ledger: PL cycles and total energy incl. static. */
int hw_op_cost(struct hw_model *m, const struct oprec *r, uint64_t *cycles, e2_fj *fj,
               char *err, size_t errlen);

/* ---- queries ---- */

#define HW_ANY (-1)
/* Selects ledger entries: a layer id, enum op_phase, enum op_tech, enum hw_component, and
 * dynamic (1 = dynamic actions only, 0 = static only); HW_ANY matches everything. */
struct hw_filter {
    int layer, phase, tech, component, dynamic;
};

static inline struct hw_filter hw_filter_all(void)
{
    struct hw_filter f = {HW_ANY, HW_ANY, HW_ANY, HW_ANY, HW_ANY};
    return f;
}

/* Energy of the selected entries (f NULL = all). */
e2_fj hw_ledger_fj(const struct hw_ledger *l, const struct hw_filter *f);
/* PL cycles of the selected records (component and dynamic are ignored). */
uint64_t hw_ledger_cycles(const struct hw_ledger *l, const struct hw_filter *f);
/* The same in seconds at the model's PL clock. */
double hw_ledger_seconds(const struct hw_ledger *l, const struct hw_filter *f);
/* Records accounted (sum of repeats) among the selected ones. */
uint64_t hw_ledger_records(const struct hw_ledger *l, const struct hw_filter *f);

/* One row of a breakdown: an action of a component, its count, the energy per action that
 * priced it, and count x that energy. */
struct hw_row {
    int component;
    const char *component_name;
    const char *action;         /* valid while the ledger lives */
    int dynamic;
    uint64_t count;             /* actions (static rows: PL cycles) */
    uint64_t fj_per_action;
    e2_fj fj;
};

/* Rows of the selected entries summed per action, in component then action order; writes at
 * most max rows and returns how many there are (call with max 0 to size the array). */
size_t hw_ledger_rows(const struct hw_ledger *l, const struct hw_filter *f, struct hw_row *rows,
                      size_t max);

/* Distinct layer ids in the ledger, ascending; returns how many there are. */
size_t hw_ledger_layers(const struct hw_ledger *l, int *layers, size_t max);

/* What the selected ops did, for the roofline. Never priced: energies and cycles do not depend
 * on it. Hidden work (fused element-wise passes, PS work overlapped with the fabric) counts
 * here although it adds no cycles to the ledger. */
struct hw_work {
    uint64_t macs;              /* multiply-accumulates: the counts of the "mac ..." actions */
    uint64_t ddr_read_bytes;    /* bytes the schedules loaded from DDR (DMA and PS) */
    uint64_t ddr_write_bytes;   /* bytes they stored to DDR */
    uint64_t bram_bytes;        /* bytes through the BRAM ports: 4 per 32-bit access */
    uint64_t compute_cycles;    /* PL cycles the MAC array / element-wise unit was busy */
    uint64_t ddr_cycles;        /* PL cycles the DDR controller was busy */
    uint64_t ps_cycles;         /* PL cycles the ARM cores computed */
};
void hw_ledger_work(const struct hw_ledger *l, const struct hw_filter *f, struct hw_work *out);

/* The roofs of the ledger's model. Compute: the peak MAC rate of the DSP array at the
 * precision (bits_a x bits_b) that did the most forward conv/fc MACs in the ledger (0 when it
 * has none). DDR: the bandwidth of a long DMA read stream, which the model simulates once. */
struct hw_roofs {
    double macs_per_cycle;
    int bits_a, bits_b;
    double ddr_bytes_per_cycle;
    double pl_hz;
};
void hw_ledger_roofs(const struct hw_ledger *l, struct hw_roofs *out);

const char *hw_component_name(int component);
double hw_fj_to_joules(e2_fj e);
/* Exact decimal text of e (needs up to 40 bytes); returns buf. */
char *hw_fj_format(e2_fj e, char *buf, size_t len);

/* ---- diagnostics and checks ---- */

struct hw_stats {
    uint64_t simulated;     /* schedules run through SystemC */
    uint64_t extrapolated;  /* costs derived from simulated sample counts */
    uint64_t memo_hits;     /* records answered from the memo */
    uint64_t memo_entries;
};
void hw_get_stats(const struct hw_model *m, struct hw_stats *s);

/* A DMA stream of `bytes` between DDR and BRAM (write = 0: DDR -> BRAM), in dma_chunk_bytes
 * transfers: the cycles it takes (measures the DDR/AXI path alone). */
int hw_dma_stream(struct hw_model *m, uint64_t bytes, int write, uint64_t *cycles, char *err,
                  size_t errlen);

/* DRAMPower-style command replay on the DDR3 model (both devices in lockstep). */
enum hw_ddr_cmd_type { HW_DDR_ACT = 0, HW_DDR_RD, HW_DDR_WR, HW_DDR_PRE, HW_DDR_REF };
struct hw_ddr_cmd {
    int type;
    int bank;
    uint64_t cycle;         /* DDR clock cycle the command is issued at (ascending) */
};
struct hw_ddr_counts {
    uint64_t act, pre, rd, wr, ref;
    uint64_t active_cycles, precharged_cycles;  /* background time by bank state */
    e2_fj act_fj, pre_fj, rd_fj, wr_fj, rd_io_fj, wr_odt_fj, ref_fj, background_fj, total_fj;
};
/* Counts and energies of the commands up to end_cycle; timing violations (tRCD, tRAS, tRP,
 * tRFC) and illegal commands (READ to a closed bank...) are bad input. */
int hw_ddr_replay(const struct hw_model *m, const struct hw_ddr_cmd *cmds, size_t n,
                  uint64_t end_cycle, struct hw_ddr_counts *out, char *err, size_t errlen);

/* Bit-accuracy cross-check: the MAC-array module computes one convolution tile from int16
 * fixed-point codes, cycle by cycle, in emulated DSP48E1 registers (25x18 multiplier, 48-bit
 * wrapping accumulator). x: [cin][h][w], wt: [cout][cin][k][k], out: [cout][h_out][w_out]
 * with h_out = (h + 2 pad - k) / stride + 1. Operands must fit the multiplier ports. */
int hw_conv_tile_i16(struct hw_model *m, const int16_t *x, int cin, int h, int w,
                     const int16_t *wt, int cout, int k, int stride, int pad, int64_t *out,
                     uint64_t *cycles, char *err, size_t errlen);

/* Simulate r afresh and write what the DMA, the array, the PS and the DDR did as a Chrome
 * trace-event JSON timeline (opens in Perfetto / chrome://tracing). */
int hw_timeline_write(struct hw_model *m, const struct oprec *r, const char *path, char *err,
                      size_t errlen);
/* The same for a sequence of records laid end to end (one training iteration, say), labelled
 * with labels[i] (may be NULL): Chrome trace events to json_path (gzip-compressed when it ends
 * in ".gz"; one track per unit and bus master, hidden records on "overlapped" tracks, and
 * power counters in W per component from the energy hw_account books per record) and a VCD
 * waveform (one busy wire per unit, the running record's label as a string; time in ps) to
 * vcd_path, either may be NULL. Files are written to a temporary name and renamed. Returns 0,
 * 1 (failure), 2 (bad record). */
int hw_timeline_write_ops(struct hw_model *m, const struct oprec *recs, size_t n,
                          const char *const *labels, const char *json_path, const char *vcd_path,
                          char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
