/* Hardware and energy-table parameters of the Zynq-7020 model, readable at run time.
 * Plain C so that sim/ (C11) fills it from YAML and models/ (C++17) reads it.
 * The YAML keys, defaults and ranges are in sim/config_hw.c; values and sources in
 * configs/hw/zynq7020.yaml. (Owned by the hardware model; first stub.) */
#ifndef E2_HW_PARAMS_H
#define E2_HW_PARAMS_H

struct hw_energy {
    double dsp_mac_pj;          /* placeholder until the model lands */
};

struct hw_params {
    double pl_clock_mhz;
    int dsps;
    struct hw_energy energy;
};

#endif
