/* The AXI HP ports between the PL and the PS DDR controller: 64 bits per direction at the PL
 * clock per port, the DMA striping its transfers over the configured ports. */
#ifndef E2_MODELS_AXI_HP_H
#define E2_MODELS_AXI_HP_H

#include "mapper.h"

namespace e2hw {

void axi_hp_intern_actions(hw_consts &k);
/* PL cycles the ports need to carry `bytes` in one direction. */
uint64_t axi_hp_cycles(const hw_consts &k, uint64_t bytes, bool write);

} // namespace e2hw

#endif
