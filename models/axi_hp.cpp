/* AXI HP ports (see axi_hp.h). */
#include "axi_hp.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace e2hw {

void axi_hp_intern_actions(hw_consts &k)
{
    std::string name = "beat (" + std::to_string(k.p.axi.port_bits) + "-bit, incl. DMA)";
    k.a_axi_beat = k.actions->intern(HW_AXI_HP, name.c_str(), true, k.p.energy.axi_beat_pj);
}

uint64_t axi_hp_cycles(const hw_consts &k, uint64_t bytes, bool write)
{
    if (bytes == 0)
        return 0;
    /* One port moves port_bits per PL cycle per direction; reads are capped by the
     * interconnect (binds only above ~350 MHz at 64 bits). */
    double port_bps = k.p.axi.port_bits / 8.0 * k.pl_hz;
    if (!write)
        port_bps = std::min(port_bps, k.p.axi.port_read_cap_mbs * 1e6);
    double seconds = (double)bytes / (port_bps * k.p.axi.ports);
    return (uint64_t)std::ceil(seconds * k.pl_hz - 1e-9);
}

} // namespace e2hw
