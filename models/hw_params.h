/* Hardware and energy-table parameters of the Zynq-7020 model, readable at run time.
 * Plain C so that sim/ (C11) fills it from YAML and models/ (C++17) reads it.
 * Each field is the YAML key of the same dotted name under `hardware:` or `energy:`
 * (e.g. hw.ddr.eff_seq_read <- hardware.ddr.eff_seq_read, hw.energy.ddr.idd0_ma <-
 * energy.ddr.idd0_ma). Keys, defaults, ranges and docs: the table in models/hw_param_rows.h (the
 * one source of defaults), read through hw_param_table() below; values with their sources and
 * [V]/[D]/[E] tags: configs/hw/zynq7020.yaml; meaning: docs/hardware.md. */
#ifndef E2_HW_PARAMS_H
#define E2_HW_PARAMS_H

#include <stddef.h>

/* AXI HP ports between the PL DMA and the PS DDR controller. */
struct hw_axi {
    int ports;                  /* HP ports the DMA stripes over (1..4) */
    int port_bits;              /* data width of one port per direction */
    double port_read_cap_mbs;   /* interconnect cap on one port's reads (UG585) */
};

/* JEDEC DRAM (DDR3 on the ZedBoard, DDR4 on UltraScale+ boards): devices in lockstep on one
 * bus, behind the PS controller. */
struct hw_ddr {
    double clock_mhz;           /* DDR clock (533.33 for DDR3-1066) */
    int bus_bits;               /* 32 */
    int devices;                /* x16 devices in lockstep (2) */
    int device_bits;            /* DQ pins per device (16) */
    int banks;                  /* 8 */
    int page_bytes;             /* row (page) size of one device (2048) */
    int burst_length;           /* BL8 */
    double trcd_ns, trp_ns, tras_ns, trfc_ns, trefi_ns;
    int seq_run_bytes;          /* contiguous run from which a transfer counts as sequential */
    double eff_seq_read, eff_rand_read;    /* controller efficiency, UG585 */
    double eff_seq_write, eff_rand_write;
    double eff_seq_rw, eff_rand_rw;        /* read and write traffic mixed */
};

/* The ARM Cortex-A9 pair, for the ops the fabric does not run (loss, SLU gates). */
struct hw_ps {
    double clock_mhz;
    double cycles_per_flop;             /* float32 add or multiply, NEON-averaged */
    double cycles_per_transcendental;   /* exp, log, tanh, sigmoid */
    int overlap_fabric;                 /* 1: PS work hides behind the fabric's (no run time) */
};

struct hw_ddr_energy {
    double vdd;                 /* V */
    double idd0_ma, idd2n_ma, idd3n_ma, idd4r_ma, idd4w_ma, idd5_ma;   /* per device */
    double io_read_mw_per_pin;  /* read I/O power per DQ pin */
    double odt_write_mw_per_pin;/* write termination power per DQ pin */
    double vpp;                 /* second supply (DDR4 VPP, 2.5 V; 0 = none, as DDR3) */
    double ipp0_ma, ipp3n_ma, ipp5_ma;  /* its currents: ACT-PRE, standby, refresh */
};

struct hw_static_energy {
    double pl_w;                /* PL device static */
    double ps_w;                /* PS quiescent */
    double ddrc_w;              /* PS DDR controller + PHY while active */
    double board_w;             /* regulators and peripherals */
};

struct hw_energy {
    double dsp_mac_base_pj;     /* E(a,b) = base + product * a*b/450 on one DSP48E1 */
    double dsp_mac_product_pj;
    double dsp_mac_packed8_pj;  /* each of two 8-bit MACs packed in one DSP */
    double fp32_mac_pj;         /* one float32 multiply-add (DSPs + LUTs) */
    double fp32_add_pj;         /* one float32 add or compare */
    double lut_mult_pj_per_bit2;/* LUT multiplier: per a*b bit product */
    double lut_acc_pj_per_bit;  /* LUT adder/accumulator/compare: per bit */
    double bram_read_pj;        /* one 36-bit BRAM port read */
    double bram_write_pj;       /* one 36-bit BRAM port write */
    double bram_lut_scale;      /* multiplies every BRAM and LUT energy (a calibration knob) */
    double uram_read_pj;        /* one 72-bit UltraRAM port read */
    double uram_write_pj;       /* one 72-bit UltraRAM port write */
    double axi_beat_pj;         /* one 64-bit AXI HP beat incl. DMA */
    double ps_active_w;         /* PS power while it computes (dynamic = active - static ps_w) */
    struct hw_ddr_energy ddr;
    struct hw_static_energy stat;
};

struct hw_params {
    double pl_clock_mhz;        /* accelerator clock; model time is counted in its cycles */
    int dsps;                   /* DSP slices in the MAC array (220 DSP48E1 on the XC7Z020) */
    int dsp_a_bits;             /* multiplier A port: 25 (DSP48E1, 25x18) or 27 (DSP48E2, 27x18) */
    int int8_macs_per_dsp;      /* 2: two 8-bit MACs sharing an operand per DSP; 1: no packing */
    int pack_max_bits;          /* operands at most this wide may be packed */
    int fp32_dsps_per_mac;      /* DSPs one pipelined float32 MAC lane needs */
    double fp32_fixed_dsps_per_mac; /* DSPs per lane multiplying a float32 by a fixed-point operand
                                   (on average: adders in DSPs or in fabric) */
    int fp32_mac_ii;            /* cycles between float32 MACs on one lane */
    int lut_mac_budget;         /* LUTs available for LUT multipliers */
    double luts_per_mult_bit2;  /* LUTs per a*b bit product of a LUT multiplier */
    int array_step_overhead_cycles;  /* pipeline fill/drain per compute step */
    int eltwise_lanes;          /* elements per cycle of the element-wise unit */
    int array_input_words;      /* 32-bit words per cycle the input buffer feeds the array */
    int bram_budget_kbit;       /* BRAM the buffers may use (Kb incl. parity, of 5040) */
    int uram_budget_kbit;       /* UltraRAM the buffers may use (Kb, 288 Kb blocks; 0 = none) */
    int dma_chunk_bytes;        /* chunk of a streamed (element-wise) tensor */
    double dma_efficiency;      /* the accelerator DMA's share of the controller's efficiency */
    int simulate_every_n;       /* 1: simulate every sample count (verification); 0: extrapolate */
    struct hw_axi axi;
    struct hw_ddr ddr;
    struct hw_ps ps;
    struct hw_energy energy;
    int dataflow;               /* enum hw_dataflow: how element-wise ops stream (mapper.cpp) */
    char memspec[256];          /* hardware.ddr.memspec: a DRAMPower memspec (JSON) the DRAM was
                                   read from (sim/io/memspec.c, at config resolve) */
    char ert[256];              /* energy.ert: an Accelergy ERT the energy table was read from
                                   (sim/io/ert.c, at config resolve; the model ignores it) */
};

#ifdef __cplusplus
extern "C" {
#endif

/* hardware.dataflow, in the order of its row's choices */
enum hw_dataflow { HW_DATAFLOW_FUSED, HW_DATAFLOW_UNFUSED };

enum hw_param_type { HW_PARAM_INT, HW_PARAM_DOUBLE, HW_PARAM_BOOL, HW_PARAM_CHOICE, HW_PARAM_STRING };

/* One parameter: a row of models/hw_param_rows.h. */
struct hw_param_def {
    const char *key;            /* YAML key: "energy.ddr.idd0_ma" */
    enum hw_param_type type;    /* BOOL is an int 0/1, CHOICE an int (the choice's index);
                                   STRING is char[256] */
    size_t offset;              /* offsetof(struct hw_params, ...) */
    const char *def;            /* default, as YAML text */
    double min, max;            /* accepted range of a number */
    const char *choices;        /* "a|b" of a CHOICE; NULL = any */
    const char *tag;            /* source grade of the default: "[V]", "[E]" or "" */
    const char *doc;            /* one line, without the tag */
    /* A coefficient the calibration may fit: the range its sources make plausible. */
    double plausible_min, plausible_max;
    const char *unit;           /* of the plausible range ("pJ", "W", "" ...) */
    const char *plausible_source;   /* where the range comes from; NULL: no plausible range */
};

/* The table, in schema order; *n receives its length. */
const struct hw_param_def *hw_param_table(size_t *n);
/* The row of key, or NULL. */
const struct hw_param_def *hw_param_find(const char *key);
/* Every parameter at its default. */
struct hw_params hw_params_defaults(void);
/* A number parameter (INT, DOUBLE, BOOL) of p as a double; setting an INT rounds to nearest. */
double hw_param_get(const struct hw_params *p, const struct hw_param_def *d);
void hw_param_set(struct hw_params *p, const struct hw_param_def *d, double v);

#ifdef __cplusplus
}
#endif

#endif
