/* A run's result: everything the output files say, as plain data, built once at the end of a
 * training run (sim/run/run.c), an energy-only run (sim/run/energy_only.c) or a replay
 * (sim/run/replay.c), then handed to the writers (report.h) and, for a recorded trace, to its
 * trailer (run_result_trace_result). Energies are integer femtojoules (fJ) exactly as the
 * ledger keeps them (128 bits, like models/hw.h's e2_fj: a paper-scale float32 run exceeds
 * 2^64 fJ), so every breakdown adds up to the total to the last digit. */
#ifndef E2_RUN_RESULT_H
#define E2_RUN_RESULT_H

#include <stdint.h>
#include "fj.h"
#include "status.h"

#define REPORT_SCHEMA "e2sim.report/1"
#define REPORT_NAME 64      /* components, actions, layers */
#define REPORT_TEXT 256     /* run names and descriptions (config strings are up to 256) */
#define REPORT_PHASES 4     /* forward, backward-data, backward-weight, update (enum op_phase) */


/* One ledger row: a component's action, how often it happened and what one costs. Static
 * (leakage) energy is a row too: action "static", count = cycles, energy per cycle. */
struct report_action {
    char component[REPORT_NAME];    /* "dsp", "bram", "ddr", "axi", "ps", ... */
    char action[REPORT_NAME];       /* "mac8", "read", "activate", "static", ... */
    uint64_t count;
    uint64_t fj_per_action;         /* what priced one action (printed as pJ, exactly) */
    e2_fj fj;                   /* energy the ledger charged for these actions */
};

/* A named energy (by phase, by technique). */
struct report_part {
    char name[REPORT_NAME];
    e2_fj fj;
};

struct report_layer {
    int id;                         /* layer id of the op records */
    char name[REPORT_NAME];         /* "s1.b0.conv1" */
    char kind[16];                  /* "conv", "bn", "fc", ... */
    e2_fj phase_fj[REPORT_PHASES];  /* by enum op_phase */
    uint64_t cycles;
    /* the roofline: what the layer's ops did over the run (models/hw.h, struct hw_work) */
    uint64_t macs, ddr_read_bytes, ddr_write_bytes, bram_bytes;
    uint64_t compute_cycles, ddr_cycles, ps_cycles;     /* busy PL cycles of each unit */
};

/* The roofs of the run's hardware (0 = unknown): the DSP array's peak MAC rate at the
 * precision of most forward conv/fc MACs, and the effective DMA bandwidth. */
struct report_roofs {
    double peak_macs_per_s;
    int bits_a, bits_b;             /* that precision (32 = float32) */
    double ddr_bytes_per_s;
};

/* One evaluation point of the run. */
struct report_point {
    uint64_t iteration;
    e2_fj energy_fj;            /* energy spent so far */
    double train_loss;              /* NaN when unknown */
    double test_top1;               /* fraction; NaN when not evaluated */
};

struct run_result {
    /* what ran */
    char kind[16];                  /* "train" | "replay" | "energy-only" */
    char name[REPORT_TEXT];         /* config name */
    char network[REPORT_TEXT];      /* "resnet-8" */
    char dataset[REPORT_TEXT];      /* "fashion-mnist" */
    char method[REPORT_TEXT];       /* "smd+slu+psg+swa" */
    char trace[256];                /* replay: the trace file; "" otherwise */
    const char *config_text;        /* resolved config (cfg print form); borrowed */
    double wall_seconds;
    char version[32];               /* e2sim version; run_result_init fills it */

    /* accuracy (fractions in [0, 1]) */
    int has_accuracy;               /* 0: written as null (e.g. energy-only) */
    double top1, top5;

    /* energy */
    e2_fj total_fj;
    e2_fj baseline_fp32_fj;     /* 0 = no baseline */
    struct report_action *actions;  int action_count;   /* sum of fj == total_fj */
    struct report_part *phases;     int phase_count;    /* by phase; may include "idle" */
    struct report_part *techniques; int technique_count;
    struct report_layer *layers;    int layer_count;
    int top_layers;                 /* how many layers report.md lists (report.top_layers) */

    /* FPGA time */
    uint64_t fpga_cycles;
    double fpga_seconds;
    double clock_mhz;
    struct report_roofs roofs;

    /* training */
    uint64_t iterations;
    uint64_t minibatches_processed;
    double slu_skip_ratio;          /* overall fraction of gated block executions skipped */
    double *slu_block_skip;  int slu_block_count;   /* per gated block */
    double psg_predictor_ratio;     /* fraction of weight updates from the MSB predictor */
    int has_fixed_point;            /* 0: float run (or no training): written as null */
    struct report_fixed_point {     /* the kernels' quantization counters over the run */
        uint64_t quantized, saturated;      /* values quantized; of them clamped to the range */
        uint64_t msb_clipped;               /* PSG predictor codes clamped */
        uint64_t acc_sums, acc_overflows;   /* integer dot products; of them past the accumulator */
    } fixed_point;

    struct report_point *curve;  int curve_count;

    /* PSG per weight tensor (psg_layers.csv) */
    int has_psg_layers;
    struct report_psg_layer {
        char param[REPORT_NAME];    /* "b1.u0.conv.w" */
        int layer;
        uint64_t updates, predictor, flips;
    } *psg_layers;
    int psg_layer_count;
};

/* Zero the result, fill version and top_layers = 10; the add_* helpers below own their arrays
 * and run_result_free releases them (fields may also point at caller memory if no helper is used
 * for that array and report_free is not called). */
void run_result_init(struct run_result *r);
void run_result_free(struct run_result *r);
int run_result_add_action(struct run_result *r, const char *component, const char *action,
                      uint64_t count, uint64_t fj_per_action, e2_fj fj);
int run_result_add_phase(struct run_result *r, const char *name, e2_fj fj);
int run_result_add_technique(struct run_result *r, const char *name, e2_fj fj);
int run_result_add_layer(struct run_result *r, const struct report_layer *layer);
int run_result_add_point(struct run_result *r, uint64_t iteration, e2_fj energy_fj,
                     double train_loss, double test_top1);
int run_result_set_slu_blocks(struct run_result *r, int count, const double *skip);
/* (all return E2_OK or E2_FAILURE on allocation failure) */

/* 1 - total / baseline, or NaN without a baseline. */
double report_savings(const struct run_result *r);

/* A layer on the roofline (NaN where undefined: no DDR bytes, no roof). Arithmetic
 * intensity: MACs per DDR byte (read + written). Attained: MACs per second of the layer's own
 * FPGA time; NaN when it has none, or when a unit was busy longer than that time (some of the
 * layer's work ran hidden in other ops' time: fused element-wise passes, PS work overlapped
 * with the fabric). DSP utilization: attained / the compute roof. The bound: the unit busy
 * longest, "compute" (MAC array or element-wise unit), "ddr" or "ps"; "" when idle. */
double report_layer_intensity(const struct report_layer *l);
double report_layer_attained(const struct run_result *r, const struct report_layer *l);
double report_layer_dsp_utilization(const struct run_result *r, const struct report_layer *l);
const char *report_layer_bound(const struct report_layer *l);
/* Sum of the action rows of one component (by_component in report.json). */
e2_fj report_component_fj(const struct run_result *r, const char *component);
/* Fill the energy and FPGA-time parts of r from the hardware ledgers of a run (and of its
 * float32 baseline, may be NULL): total, baseline, action rows, by phase ("forward",
 * "backward_data", "backward_weight", "update"), by technique ("base", "slu", "psg", "swa"),
 * per layer (names and kinds from `layers`, may be NULL), cycles, seconds and clock. The run and
 * a replay both call this, so their reports agree to the femtojoule. E2_FAILURE on OOM. */
struct hw_model;
struct hw_ledger;
struct trace_layer;
int run_result_fill_energy(struct run_result *r, const struct hw_model *model,
                       const struct hw_ledger *run, const struct hw_ledger *baseline,
                       const struct trace_layer *layers, int layer_count);

/* PSG per weight tensor (psg_layers.csv): updates, of them from the predictor, sign flips.
 * run_result_add_psg_layer also sets has_psg_layers (a PSG run writes the file even empty). */
int run_result_add_psg_layer(struct run_result *r, const char *param, int layer,
                             uint64_t updates, uint64_t predictor, uint64_t flips);

/* The trailer a recorded trace keeps of the run (what a replay reports back). */
struct trace_result;
void run_result_trace_result(const struct run_result *r, struct trace_result *t);

/* The reverse, for a replay: the trailer's results (per-block skip ratios included) into r.
 * E2_OK or E2_FAILURE (out of memory). */
int run_result_from_trace_result(struct run_result *r, const struct trace_result *t);

#endif
