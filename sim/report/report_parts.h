/* What the report writers share (sim/report/ only): number formats and orderings. */
#ifndef E2_REPORT_PARTS_H
#define E2_REPORT_PARTS_H

#include <stddef.h>
#include <stdint.h>
#include "run_result.h"

/* "forward", "backward_data", "backward_weight", "update": by enum op_phase. */

double report_joules(e2_fj fj);
/* fJ per action as exact pJ text: "0.700", "410.250". */
void report_format_pj(char *buf, size_t size, uint64_t fj);
double report_pj(uint64_t fj);
/* A layer's energy over all phases. */
e2_fj report_layer_fj(const struct report_layer *l);
/* Distinct component names in first-seen order (indices into r->actions). */
int report_components(const struct run_result *r, int *first);
/* Layer indices sorted by energy, largest first (ties: by id); malloc'ed, NULL on OOM. */
int *report_layers_by_energy(const struct run_result *r);

/* "12.35 %" (or "n/a" when not finite). */
void report_percent(char *buf, size_t size, double fraction);
/* "compute roof ... (DSP array at AxB bits), DDR roof ... (DMA read stream), ridge ...";
 * "" when a roof is unknown. */
void report_roofs_text(char *buf, size_t size, const struct report_roofs *roofs);

#endif
