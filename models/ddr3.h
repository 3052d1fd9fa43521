/* The DDR3 memory of the ZedBoard behind the PS DDR controller: two x16 DDR3-1066 devices in
 * lockstep on a 32-bit bus. The controller thread serves DMA and PS transfers one at a time;
 * time per transfer comes from the controller efficiency (UG585) for its direction and access
 * pattern, energy from DRAMPower-style IDD formulas per command (ACT, PRE, RD/WR bursts with
 * I/O and termination) plus background and refresh per unit of simulated time. */
#ifndef E2_MODELS_DDR3_H
#define E2_MODELS_DDR3_H

#include <systemc>

#include "mapper.h"

namespace e2hw {

struct engine_state;

/* DRAMPower-style energies of one bus command (both devices), in pJ. */
struct ddr3_energy_pj {
    double act, pre, rd, wr, rd_io, wr_odt, ref;
    double active_per_ck, precharged_per_ck;   /* background per DDR clock */
};
ddr3_energy_pj ddr3_energies(const hw_params &p);

/* Register the DDR actions (commands, and background/refresh per PL cycle) in k. */
void ddr3_intern_actions(hw_consts &k);

/* Controller efficiency for a transfer; mixed = the controller just turned around. */
double ddr3_efficiency(const hw_consts &k, bool write, bool seq, bool mixed);
/* PL cycles the bus is busy with x. */
uint64_t ddr3_cycles(const hw_consts &k, const xfer &x, bool mixed);

struct ddr_req {
    const xfer *x = nullptr;
    bool from_ps = false;       /* PS accesses do not cross the AXI HP ports */
    const char *track = "";
    sc_core::sc_event *done = nullptr;
};

class ddr3 : public sc_core::sc_module {
public:
    ddr3(sc_core::sc_module_name name, engine_state &st);
    /* Memory-state rule: every op starts with all banks precharged and the controller idle. */
    void reset();
    /* Blocking: called from a requester's thread, returns when the transfer is done. */
    void transfer(ddr_req &r);

private:
    engine_state &st_;
    sc_core::sc_fifo<ddr_req *> q_;
    bool last_valid_ = false, last_write_ = false;
    void serve_thread();
};

} // namespace e2hw

#endif
