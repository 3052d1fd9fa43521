/* BRAM buffers (see bram_buffer.h). */
#include "bram_buffer.h"

namespace e2hw {

/* Kb of 1024 bits, 32 data bits in every 36. */
static uint64_t bram_only_bytes(const hw_params &p)
{
    return (uint64_t)p.bram_budget_kbit * 1024 / 36 * 32 / 8;
}

/* UltraRAM: 72 data bits per port, no parity split. */
static uint64_t uram_bytes(const hw_params &p)
{
    return (uint64_t)p.uram_budget_kbit * 1024 / 8;
}

void bram_intern_actions(hw_consts &k)
{
    const hw_energy &e = k.p.energy;
    double s = e.bram_lut_scale;
    if (k.p.uram_budget_kbit == 0) {
        k.a_bram_rd = k.actions->intern(HW_BRAM, "read (36-bit port)", true, e.bram_read_pj * s);
        k.a_bram_wr = k.actions->intern(HW_BRAM, "write (36-bit port)", true, e.bram_write_pj * s);
        return;
    }
    /* One buffer word (32 bits) lands in BRAM or UltraRAM in proportion to their capacities
     * (the mapper does not place tensors per memory kind); a 72-bit UltraRAM access moves two
     * words, so a word there costs half a port access. */
    double u = (double)uram_bytes(k.p) / (double)bram_data_bytes(k.p);
    k.a_bram_rd = k.actions->intern(HW_BRAM, "read (32-bit word, BRAM/URAM)", true,
                                    s * ((1 - u) * e.bram_read_pj + u * e.uram_read_pj / 2));
    k.a_bram_wr = k.actions->intern(HW_BRAM, "write (32-bit word, BRAM/URAM)", true,
                                    s * ((1 - u) * e.bram_write_pj + u * e.uram_write_pj / 2));
}

uint64_t bram_data_bytes(const hw_params &p)
{
    return bram_only_bytes(p) + uram_bytes(p);
}

} // namespace e2hw
