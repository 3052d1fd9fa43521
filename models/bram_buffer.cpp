/* BRAM buffers (see bram_buffer.h). */
#include "bram_buffer.h"

void bram_intern_actions(hw_consts &k)
{
    double s = k.p.energy.bram_lut_scale;
    k.a_bram_rd = k.actions->intern(HW_BRAM, "read (36-bit port)", true, k.p.energy.bram_read_pj * s);
    k.a_bram_wr = k.actions->intern(HW_BRAM, "write (36-bit port)", true, k.p.energy.bram_write_pj * s);
}

uint64_t bram_data_bytes(const hw_params &p)
{
    /* Kb of 1024 bits, 32 data bits in every 36. */
    return (uint64_t)p.bram_budget_kbit * 1024 / 36 * 32 / 8;
}
