/* The ARM Cortex-A9 processing system, for the ops the fabric does not run: the softmax
 * cross-entropy loss and the SLU gate networks (pooling, 1x1 conv, LSTM, linear, sigmoid).
 * Both are small, per-sample and full of transcendentals and float control flow. */
#ifndef E2_MODELS_PS_A9_H
#define E2_MODELS_PS_A9_H

#include <systemc>

#include "mapper.h"

namespace e2hw {

struct engine_state;
class ddr3;

/* Per-sample work of a PS op: float operations, transcendentals, data in and out. */
struct ps_work {
    double flops = 0, transcendentals = 0;
    uint64_t in_elems = 0, out_elems = 0;
    int in_bits = 8, out_bits = 8;
};
/* Does r run on the PS, and what does one sample of it cost? */
bool ps_runs(const oprec &r);
ps_work ps_op_work(const oprec &r);
/* Per-sample float adds the fabric does for an SLU gate's pooling (forward) or its gradient
 * spread (backward-data), fused into the block input's stream: no extra DDR traffic. */
uint64_t fabric_pool_adds(const oprec &r);
void ps_a9_intern_actions(hw_consts &k);

class ps_a9 : public sc_core::sc_module {
public:
    ps_a9(sc_core::sc_module_name name, engine_state &st, ddr3 &ddr);
    sc_core::sc_event start, done;

private:
    engine_state &st_;
    ddr3 &ddr_;
    sc_core::sc_event xfer_done_;
    void run_thread();
};

} // namespace e2hw

#endif
