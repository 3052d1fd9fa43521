/* The on-chip buffers: capacity the design may use (BRAM, plus UltraRAM on UltraScale+ parts),
 * and port accesses. A BRAM36 port is 36 bits wide of which 32 hold data, so a buffer access
 * moves one 32-bit word; an UltraRAM port moves 72 data bits. */
#ifndef E2_MODELS_BRAM_BUFFER_H
#define E2_MODELS_BRAM_BUFFER_H

#include "mapper.h"

namespace e2hw {

void bram_intern_actions(hw_consts &k);
/* Data bytes in bram_budget_kbit (Kb incl. parity) and uram_budget_kbit. */
uint64_t bram_data_bytes(const hw_params &p);
/* Port accesses that move `bytes`. */
static inline uint64_t bram_words(uint64_t bytes)
{
    return (bytes + 3) / 4;
}
/* Port accesses for `values` values of `bits` each, read side by side. */
static inline uint64_t bram_words_bits(uint64_t values, int bits)
{
    return (values * (uint64_t)bits + 31) / 32;
}

} // namespace e2hw

#endif
