/* The hardware parameters of the model: THE table of every hardware: and energy: key, in the
 * order docs/config.md and --print-config list them. Meaning of the fields: models/hw_params.h;
 * values with their sources for the ZedBoard: configs/hw/zynq7020.yaml (which repeats these
 * defaults; tests/test_boards.c checks it).
 *
 * An X-macro list, included (without a guard) by models/hw_params.cpp, which makes it the
 * table behind hw_param_table(), and by sim/io/config_hw.c, which makes it the config loader's
 * schema rows; the includer defines the two row macros:
 *
 *   HW_PARAM(key, type, field, default, min, max, choices, tag, doc)
 *   HW_PARAM_FIT(key, type, field, default, min, max, choices, tag, doc,
 *                plausible_min, plausible_max, unit, plausible_source)
 *
 * type: INT DOUBLE BOOL CHOICE STRING; field: the member of struct hw_params; default: YAML text;
 * [min, max]: the accepted range; choices: "a|b" or NULL; tag: the source grade of the default
 * (TAG_V read in a source, TAG_E an estimate, NO_TAG for a design choice or no energy value;
 * docs/energy-sources.md). HW_PARAM_FIT rows are coefficients e2sim calibrate may fit, with
 * the range their sources make plausible (docs/calibration.md). */

/* ---- the accelerator in the programmable logic ---- */
HW_PARAM("hardware.pl_clock_mhz", DOUBLE, pl_clock_mhz, "150", 1, 1000, NULL, NO_TAG,
    "PL clock of the accelerator (MHz); model time counts its cycles")
HW_PARAM("hardware.dsps", INT, dsps, "200", 1, 12288, NULL, NO_TAG,
    "DSP slices in the MAC array (the XC7Z020 has 220 DSP48E1, the XCZU9EG 2,520 DSP48E2, "
    "the largest UltraScale+ part 12,288)")
HW_PARAM("hardware.dsp_a_bits", INT, dsp_a_bits, "25", 25, 27, NULL, NO_TAG,
    "width of the DSP multiplier's A port: 25 (DSP48E1, 25x18) or 27 (DSP48E2, 27x18); also "
    "bounds packing, 2n + w + 1 <= this")
HW_PARAM("hardware.int8_macs_per_dsp", INT, int8_macs_per_dsp, "1", 1, 2, NULL, NO_TAG,
    "2: narrow MACs pack two per DSP sharing one operand (8x8, PSG's 4x10); 1: never")
HW_PARAM("hardware.pack_max_bits", INT, pack_max_bits, "8", 1, 12, NULL, NO_TAG,
    "widest narrow operand of a packed MAC (also needs 2n + w + 1 <= 25, w <= 18)")
HW_PARAM_FIT("hardware.fp32_dsps_per_mac", INT, fp32_dsps_per_mac, "5", 1, 20, NULL, NO_TAG,
    "DSPs one pipelined float32 multiply-add lane uses (multiplier 3 + adder 2)",
    2, 5, "DSPs",
    "float32 multiplier 1-3 DSP48E1 (HLS fmul meddsp..maxdsp) + adder 2 (fulldsp) or 0 (fabric)")
HW_PARAM_FIT("hardware.fp32_fixed_dsps_per_mac", DOUBLE, fp32_fixed_dsps_per_mac,
    "2", 1, 20, NULL, NO_TAG,
    "DSPs per lane multiplying a float32 by a fixed-point operand of at most 18 bits, on "
    "average: the significand x operand in one 25x18 DSP48E1 + the float adder (2 DSPs, or "
    "0 in fabric)",
    1, 3, "DSPs",
    "float32 x fixed lane: one 25x18 DSP48E1 product + the float adder, in fabric (HLS fadd "
    "impl=fabric, 0 DSPs) .. full-DSP (2); between: a mix, fabric adders as LUTs allow")
HW_PARAM("hardware.fp32_mac_ii", INT, fp32_mac_ii, "1", 1, 64, NULL, NO_TAG,
    "cycles between float32 MACs on one lane (1 = fully pipelined)")
HW_PARAM("hardware.lut_mac_budget", INT, lut_mac_budget, "20000", 0, 4200000, NULL, NO_TAG,
    "LUTs available for multipliers built in fabric (narrow predictor products)")
HW_PARAM("hardware.luts_per_mult_bit2", DOUBLE, luts_per_mult_bit2, "1.42", 0.01, 100, NULL, NO_TAG,
    "LUTs per a*b bit product of a LUT multiplier (9x9 = 115 LUT)")
HW_PARAM("hardware.array_step_overhead_cycles", INT, array_step_overhead_cycles,
    "16", 0, 1000000, NULL, NO_TAG,
    "pipeline fill and drain of the array per compute step (cycles)")
HW_PARAM("hardware.eltwise_lanes", INT, eltwise_lanes, "32", 1, 4096, NULL, NO_TAG,
    "elements per cycle of the element-wise unit (bn, relu, add, pool, update)")
HW_PARAM("hardware.dataflow", CHOICE, dataflow, "fused", 0, 0, "fused|unfused", NO_TAG,
    "fused: BN statistics gather in the producing conv's output stream, BN affine, ReLU and "
    "the residual add apply in the consumer's input stream, the BN backward sums in streams "
    "(docs/hardware.md); unfused: BN, ReLU and add each stream their tensors through DDR")
HW_PARAM("hardware.array_input_words", INT, array_input_words, "32", 1, 4096, NULL, NO_TAG,
    "32-bit words per cycle the input buffer's BRAM read ports feed the MAC array (limits "
    "depthwise convs, whose lanes each need their own input)")
HW_PARAM("hardware.bram_budget_kbit", INT, bram_budget_kbit, "4608", 36, 100000, NULL, NO_TAG,
    "BRAM the buffers may use, Kb incl. parity (XC7Z020: 4.5 Mb of the 4.9 Mb; 32 of 36 "
    "bits hold data)")
HW_PARAM("hardware.uram_budget_kbit", INT, uram_budget_kbit, "0", 0, 300000, NULL, NO_TAG,
    "UltraRAM the buffers may use, Kb (288 Kb blocks, 72 data bits per port; 0 = none, as "
    "on the XC7Z020)")
HW_PARAM("hardware.dma_chunk_bytes", INT, dma_chunk_bytes, "16384", 64, 16777216, NULL, NO_TAG,
    "chunk size of a streamed element-wise tensor (bytes)")
HW_PARAM_FIT("hardware.dma_efficiency", DOUBLE, dma_efficiency, "0.9", 0.1, 1, NULL, NO_TAG,
    "share of the DDR controller's efficiency (hardware.ddr.eff_*) the accelerator's DMA "
    "reaches: 1 = UG585's four-master, 16-beat-burst figures",
    0.5, 1.0, "",
    "UG585's controller efficiency is a 4-master, 16-beat best case; half of it is the floor")
HW_PARAM("hardware.simulate_every_n", BOOL, simulate_every_n, "false", 0, 1, NULL, NO_TAG,
    "simulate every active-sample count instead of extrapolating (verification only; slow)")
HW_PARAM("hardware.axi.ports", INT, axi.ports, "4", 1, 6, NULL, NO_TAG,
    "AXI HP ports the DMA stripes its transfers over (Zynq UltraScale+: 4 HP + 2 HPC)")
HW_PARAM("hardware.axi.port_bits", INT, axi.port_bits, "64", 32, 128, "32|64|128", NO_TAG,
    "data width of one AXI HP port per direction")
HW_PARAM("hardware.axi.port_read_cap_mbs", DOUBLE, axi.port_read_cap_mbs,
    "2840", 1, 100000, NULL, NO_TAG,
    "interconnect cap on one HP port's reads (MB/s)")
/* ---- DDR3 ---- */
HW_PARAM("hardware.ddr.clock_mhz", DOUBLE, ddr.clock_mhz, "533.333", 100, 2200, NULL, NO_TAG,
    "DRAM clock (MHz); data rate is twice this")
HW_PARAM("hardware.ddr.bus_bits", INT, ddr.bus_bits, "32", 8, 64, NULL, NO_TAG,
    "DDR data bus width (devices * device_bits)")
HW_PARAM("hardware.ddr.devices", INT, ddr.devices, "2", 1, 16, NULL, NO_TAG,
    "DRAM devices in lockstep on the bus")
HW_PARAM("hardware.ddr.device_bits", INT, ddr.device_bits, "16", 4, 32, NULL, NO_TAG,
    "DQ pins of one device (x4 to x32)")
HW_PARAM("hardware.ddr.banks", INT, ddr.banks, "8", 1, 32, NULL, NO_TAG,
    "banks per device (all bank groups)")
HW_PARAM("hardware.ddr.page_bytes", INT, ddr.page_bytes, "2048", 256, 16384, NULL, NO_TAG,
    "row (page) size of one device (bytes)")
HW_PARAM("hardware.ddr.burst_length", INT, ddr.burst_length, "8", 4, 16, "4|8|16", NO_TAG,
    "burst length (beats: 8 for DDR3/DDR4, 16 for LPDDR4)")
HW_PARAM("hardware.ddr.trcd_ns", DOUBLE, ddr.trcd_ns, "13.125", 1, 100, NULL, NO_TAG,
    "ACT to READ/WRITE delay (ns)")
HW_PARAM("hardware.ddr.trp_ns", DOUBLE, ddr.trp_ns, "13.125", 1, 100, NULL, NO_TAG,
    "PRE to ACT delay (ns)")
HW_PARAM("hardware.ddr.tras_ns", DOUBLE, ddr.tras_ns, "37.5", 1, 200, NULL, NO_TAG,
    "ACT to PRE minimum (ns)")
HW_PARAM("hardware.ddr.trfc_ns", DOUBLE, ddr.trfc_ns, "160", 10, 1000, NULL, NO_TAG,
    "refresh cycle time (ns; 160 for a 2 Gb DDR3 part, 350 for an 8 Gb DDR4 part)")
HW_PARAM("hardware.ddr.trefi_ns", DOUBLE, ddr.trefi_ns, "7800", 100, 100000, NULL, NO_TAG,
    "average refresh interval (ns)")
HW_PARAM("hardware.ddr.seq_run_bytes", INT, ddr.seq_run_bytes, "1024", 1, 1048576, NULL, NO_TAG,
    "contiguous run from which a DMA transfer gets the sequential efficiency (bytes)")
HW_PARAM("hardware.ddr.eff_seq_read", DOUBLE, ddr.eff_seq_read, "0.97", 0.01, 1, NULL, NO_TAG,
    "controller efficiency, sequential reads (fraction of peak)")
HW_PARAM("hardware.ddr.eff_rand_read", DOUBLE, ddr.eff_rand_read, "0.92", 0.01, 1, NULL, NO_TAG,
    "controller efficiency, random reads")
HW_PARAM("hardware.ddr.eff_seq_write", DOUBLE, ddr.eff_seq_write, "0.90", 0.01, 1, NULL, NO_TAG,
    "controller efficiency, sequential writes")
HW_PARAM("hardware.ddr.eff_rand_write", DOUBLE, ddr.eff_rand_write, "0.87", 0.01, 1, NULL, NO_TAG,
    "controller efficiency, random writes")
HW_PARAM("hardware.ddr.eff_seq_rw", DOUBLE, ddr.eff_seq_rw, "0.87", 0.01, 1, NULL, NO_TAG,
    "controller efficiency, sequential reads and writes mixed")
HW_PARAM("hardware.ddr.eff_rand_rw", DOUBLE, ddr.eff_rand_rw, "0.79", 0.01, 1, NULL, NO_TAG,
    "controller efficiency, random reads and writes mixed")
HW_PARAM("hardware.ddr.memspec", STRING, memspec, "", 0, 0, NULL, NO_TAG,
    "a DRAMPower memspec (JSON, DDR3 or DDR4) to read the DRAM from: it replaces the "
    "hardware.ddr geometry and timings and the energy.ddr currents and supplies (empty: "
    "none)")
/* ---- the processing system ---- */
HW_PARAM("hardware.ps.clock_mhz", DOUBLE, ps.clock_mhz, "667", 100, 2000, NULL, NO_TAG,
    "application processor clock (MHz; Cortex-A9 on Zynq-7000, Cortex-A53 on UltraScale+)")
HW_PARAM("hardware.ps.cycles_per_flop", DOUBLE, ps.cycles_per_flop, "1.0", 0.01, 100, NULL, NO_TAG,
    "A9 cycles per float32 add or multiply (loss, SLU gates)")
HW_PARAM("hardware.ps.cycles_per_transcendental", DOUBLE, ps.cycles_per_transcendental,
    "40", 1, 10000, NULL, NO_TAG,
    "A9 cycles per exp, log, tanh or sigmoid")
HW_PARAM("hardware.ps.overlap_fabric", BOOL, ps.overlap_fabric, "true", 0, 1, NULL, NO_TAG,
    "true: the A9's work (SLU gates, loss) runs while the fabric streams other samples and "
    "adds no run time (its energy still counts); false: the fabric waits for it")
/* ---- energy per action ---- */
HW_PARAM_FIT("energy.dsp_mac_base_pj", DOUBLE, energy.dsp_mac_base_pj, "1.0", 0, 1000, NULL, TAG_E,
    "DSP48E1 MAC energy, width-independent part (pJ)",
    0.33, 3.0, "pJ",
    "[E] estimate 1.0 pJ, /3 to x3")
HW_PARAM_FIT("energy.dsp_mac_product_pj", DOUBLE, energy.dsp_mac_product_pj,
    "3.0", 0, 1000, NULL, TAG_E,
    "DSP48E1 MAC energy at a full 25x18 product, scaled by a*b/450 (pJ)",
    1.0, 9.0, "pJ",
    "[E] estimate 3.0 pJ, /3 to x3")
HW_PARAM_FIT("energy.dsp_mac_packed8_pj", DOUBLE, energy.dsp_mac_packed8_pj,
    "1.2", 0, 1000, NULL, TAG_E,
    "each of two 8-bit MACs packed in one DSP48E1 (pJ)",
    0.23, 3.2, "pJ",
    "45 nm int8 mult+add 0.23 pJ (Horowitz) up to x14 for FPGA")
HW_PARAM_FIT("energy.fp32_mac_pj", DOUBLE, energy.fp32_mac_pj, "12.0", 0, 10000, NULL, TAG_E,
    "one float32 multiply-add on DSPs + LUTs (pJ)",
    4.6, 64, "pJ",
    "45 nm ASIC fp32 mult+add 3.7+0.9 pJ (Horowitz) up to x14 for FPGA (Kuon & Rose)")
HW_PARAM_FIT("energy.fp32_add_pj", DOUBLE, energy.fp32_add_pj, "4.0", 0, 10000, NULL, TAG_E,
    "one float32 add or compare (pJ)",
    0.9, 12.6, "pJ",
    "45 nm ASIC fp32 add 0.9 pJ (Horowitz), x14 FPGA")
HW_PARAM_FIT("energy.lut_mult_pj_per_bit2", DOUBLE, energy.lut_mult_pj_per_bit2,
    "0.034", 0, 100, NULL, TAG_E,
    "LUT multiplier energy per a*b bit product (pJ)",
    0.011, 0.1, "pJ",
    "[E] estimate 0.034 pJ, /3 to x3")
HW_PARAM("energy.lut_acc_pj_per_bit", DOUBLE, energy.lut_acc_pj_per_bit,
    "0.034", 0, 100, NULL, TAG_E,
    "LUT adder, accumulator or compare energy per bit (pJ)")
HW_PARAM_FIT("energy.bram_read_pj", DOUBLE, energy.bram_read_pj, "15", 0, 1000, NULL, TAG_E,
    "one 36-bit BRAM port read (pJ)",
    8, 50, "pJ",
    "Virtex-5 70-130 pJ x0.3-0.4 at 28 nm; ASIC floor 4")
HW_PARAM_FIT("energy.bram_write_pj", DOUBLE, energy.bram_write_pj, "20", 0, 1000, NULL, TAG_E,
    "one 36-bit BRAM port write (pJ)",
    8, 50, "pJ",
    "as bram_read_pj")
HW_PARAM_FIT("energy.bram_lut_scale", DOUBLE, energy.bram_lut_scale, "1.0", 0, 100, NULL, TAG_E,
    "multiplies every BRAM and LUT energy (a calibration knob)",
    0.53, 3.3, "",
    "BRAM36 access 8-50 pJ around the 15 pJ start (Virtex-5 70-130 pJ x0.3-0.4 at 28 nm)")
HW_PARAM("energy.uram_read_pj", DOUBLE, energy.uram_read_pj, "0", 0, 1000, NULL, TAG_E,
    "one 72-bit UltraRAM port read (pJ)")
HW_PARAM("energy.uram_write_pj", DOUBLE, energy.uram_write_pj, "0", 0, 1000, NULL, TAG_E,
    "one 72-bit UltraRAM port write (pJ)")
HW_PARAM_FIT("energy.axi_beat_pj", DOUBLE, energy.axi_beat_pj, "16", 0, 10000, NULL, TAG_E,
    "one 64-bit AXI HP beat including the DMA engine (pJ)",
    5, 50, "pJ",
    "[E] estimate 16 pJ, /3 to x3")
HW_PARAM_FIT("energy.ps_active_w", DOUBLE, energy.ps_active_w, "1.5", 0, 10, NULL, TAG_V,
    "PS power while the A9 computes (W); its dynamic part is this minus energy.static.ps_w",
    1.0, 1.5, "W",
    "PS7 active 1.5 W (7z045 Vivado report)")
HW_PARAM("energy.ddr.vdd", DOUBLE, energy.ddr.vdd, "1.5", 1, 2, NULL, TAG_V,
    "DRAM core supply (V)")
HW_PARAM("energy.ddr.idd0_ma", DOUBLE, energy.ddr.idd0_ma, "110", 0, 1000, NULL, TAG_E,
    "IDD0 one-bank ACT-PRE current per device (mA)")
HW_PARAM("energy.ddr.idd2n_ma", DOUBLE, energy.ddr.idd2n_ma, "42", 0, 1000, NULL, TAG_E,
    "IDD2N precharge standby current per device (mA)")
HW_PARAM("energy.ddr.idd3n_ma", DOUBLE, energy.ddr.idd3n_ma, "45", 0, 1000, NULL, TAG_E,
    "IDD3N active standby current per device (mA)")
HW_PARAM("energy.ddr.idd4r_ma", DOUBLE, energy.ddr.idd4r_ma, "195", 0, 1000, NULL, TAG_E,
    "IDD4R burst read current per device at 1066 MT/s (mA)")
HW_PARAM("energy.ddr.idd4w_ma", DOUBLE, energy.ddr.idd4w_ma, "202", 0, 1000, NULL, TAG_E,
    "IDD4W burst write current per device at 1066 MT/s (mA)")
HW_PARAM("energy.ddr.idd5_ma", DOUBLE, energy.ddr.idd5_ma, "215", 0, 1000, NULL, TAG_E,
    "IDD5 burst refresh current per device (mA)")
HW_PARAM("energy.ddr.io_read_mw_per_pin", DOUBLE, energy.ddr.io_read_mw_per_pin,
    "4.6", 0, 1000, NULL, TAG_V,
    "read I/O power per DQ pin while bursting (mW)")
HW_PARAM("energy.ddr.odt_write_mw_per_pin", DOUBLE, energy.ddr.odt_write_mw_per_pin,
    "21.2", 0, 1000, NULL, TAG_V,
    "write termination power per DQ pin while bursting (mW)")
HW_PARAM("energy.ddr.vpp", DOUBLE, energy.ddr.vpp, "0", 0, 3, NULL, TAG_V,
    "DRAM second supply (V): DDR4's 2.5 V VPP; 0 = none (DDR3)")
HW_PARAM("energy.ddr.ipp0_ma", DOUBLE, energy.ddr.ipp0_ma, "0", 0, 1000, NULL, NO_TAG,
    "IPP0 one-bank ACT-PRE current on VPP per device (mA)")
HW_PARAM("energy.ddr.ipp3n_ma", DOUBLE, energy.ddr.ipp3n_ma, "0", 0, 1000, NULL, NO_TAG,
    "IPP3N standby current on VPP per device (mA)")
HW_PARAM("energy.ddr.ipp5_ma", DOUBLE, energy.ddr.ipp5_ma, "0", 0, 1000, NULL, NO_TAG,
    "IPP5 burst refresh current on VPP per device (mA)")
HW_PARAM_FIT("energy.static.pl_w", DOUBLE, energy.stat.pl_w, "0.113", 0, 100, NULL, TAG_V,
    "PL device static power (W)",
    0.113, 0.3, "W",
    "Vivado 0.113 W at Tj 28 C, more when warm")
HW_PARAM("energy.static.ps_w", DOUBLE, energy.stat.ps_w, "0.15", 0, 100, NULL, TAG_V,
    "PS quiescent power (W)")
HW_PARAM_FIT("energy.static.ddrc_w", DOUBLE, energy.stat.ddrc_w, "0.5", 0, 100, NULL, TAG_E,
    "PS DDR controller and PHY power while active (W)",
    0.3, 0.7, "W",
    "PS DDR controller + PHY while active")
HW_PARAM_FIT("energy.static.board_w", DOUBLE, energy.stat.board_w, "1.5", 0, 100, NULL, TAG_E,
    "board regulators and peripherals (W)",
    1.0, 2.0, "W",
    "board regulators and peripherals (unknown, 1-2 W)")
HW_PARAM("energy.ert", STRING, ert, "", 0, 0, NULL, NO_TAG,
    "an Accelergy ERT (e2sim export-ert) to read the energy table from; it replaces the "
    "energy: coefficients, the hardware: timings and supplies stay (empty: none)")

