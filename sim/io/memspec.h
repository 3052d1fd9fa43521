/* A DRAM described by a DRAMPower memspec (JSON: memspec.memarchitecturespec, memtimingspec,
 * mempowerspec), read into the hardware.ddr and energy.ddr parameters. docs/hardware.md,
 * "Exchange". */
#ifndef E2_SIM_MEMSPEC_H
#define E2_SIM_MEMSPEC_H

#include "config.h"
#include "status.h"

/* Set hw's DRAM geometry, timings and currents from the memspec in path (DDR3 or DDR4).
 * Devices on the bus stay hw's unless the memspec gives nbrOfDevicesOnDIMM; bus_bits follows. */
int memspec_read(const char *path, struct hw_params *hw, struct e2_err *err);

#endif
