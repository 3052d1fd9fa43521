/* Schema rows for the hardware: and energy: sections (owned by the hardware model; first stub). */
#include "config.h"

#define HW(f) offsetof(struct e2_config, hw.f)

const struct cfg_field cfg_hw_fields[] = {
    {"hardware.pl_clock_mhz", CFG_DOUBLE, HW(pl_clock_mhz), "150", 1, 1000, NULL,
     "programmable-logic clock of the accelerator (MHz)"},
    {"hardware.dsps", CFG_INT, HW(dsps), "200", 1, 220, NULL, "DSP48E1 slices in the MAC array"},
    {"energy.dsp_mac_pj", CFG_DOUBLE, HW(energy.dsp_mac_pj), "1.4", 0, 1000, NULL,
     "energy of one 8x8 MAC on a DSP48E1 (pJ) [E]"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};
