/* The energy table as an Accelergy ERT (Energy Reference Table, YAML: ERT: version, tables of
 * actions with their energy in pJ), written from and read into struct hw_params.
 * docs/hardware.md, "Exchange". */
#ifndef E2_SIM_ERT_H
#define E2_SIM_ERT_H

#include <stdio.h>

#include "config.h"
#include "status.h"

/* Write hw's energy table as an ERT whose table names start with `prefix`. */
void ert_write(FILE *out, const struct hw_params *hw, const char *prefix);

/* Set hw's energy table from the ERT in path: every action of ert_write's tables must be
 * there (table names are matched by their last dotted component); timings, supplies and the
 * PL clock stay hw's own and convert the energies back to currents and powers. */
int ert_read(const char *path, struct hw_params *hw, struct e2_err *err);

#endif
