/* The ARM Cortex-A9 processing system (see ps_a9.h). */
#include "ps_a9.h"

#include <algorithm>
#include <cmath>

#include "zynq7020.h"

using namespace sc_core;

namespace e2hw {

bool ps_runs(const oprec &r)
{
    return r.kind == OP_GATE || r.kind == OP_LOSS;
}

static uint64_t max1(uint64_t v)
{
    return v ? v : 1;
}

uint64_t fabric_pool_adds(const oprec &r)
{
    if (r.kind != OP_GATE || r.phase == OP_PHASE_BWD_WEIGHT)
        return 0;
    return (uint64_t)r.cin * max1(r.h_in) * max1(r.w_in);
}

/* Per-sample work. OP_GATE (SkipNet-style RNN gate): the global pool of the block input
 * (cin x h_in x w_in) is accumulated in the fabric while that input streams into the block's
 * first conv (see fabric_pool_adds), so the PS reads only the cin pooled values and runs the
 * 1x1 conv cin -> H with H = cout (the gate width), one LSTM cell of H units (4 gates over
 * input H + hidden H), linear H -> 1 and a sigmoid. Backward returns cin values, which the
 * fabric spreads over the block input's gradient as it is written. OP_LOSS: softmax
 * cross-entropy over cin (= cout) classes. Backward phases do about twice the forward float
 * work without the transcendentals (they reuse stored activations). */
ps_work ps_op_work(const oprec &r)
{
    ps_work w;
    int in_bits = r.bits_a ? r.bits_a : 32;
    int out_bits = r.bits_out ? r.bits_out : 32;
    bool fwd = r.phase == OP_PHASE_FWD;
    if (r.kind == OP_GATE) {
        double c = (double)r.cin, H = (double)max1(r.cout);
        double f = 2 * c * H + 2 * 4 * H * 2 * H + 4 * H + 2 * H;
        w.flops = fwd ? f : 2 * f;
        w.transcendentals = fwd ? 5 * H + 1 : 0;
        w.in_elems = r.cin;
        w.in_bits = 32;
        w.out_elems = fwd ? 1 : r.cin;
        w.out_bits = fwd ? 32 : out_bits;
    } else {
        double classes = (double)max1(std::max(r.cin, r.cout));
        w.flops = fwd ? 4 * classes : 2 * classes;
        w.transcendentals = fwd ? classes + 1 : 0;
        w.in_elems = (uint64_t)classes;
        w.in_bits = in_bits;
        w.out_elems = fwd ? 1 : (uint64_t)classes;
        w.out_bits = fwd ? 32 : out_bits;
    }
    return w;
}

void ps_a9_intern_actions(hw_consts &k)
{
    double dyn_w = std::max(0.0, k.p.energy.ps_active_w - k.p.energy.stat.ps_w);
    k.a_ps_cycle = k.actions->intern(HW_PS_A9, "compute (per A9 cycle)", true,
                                     dyn_w * 1e12 / k.ps_hz);
}

ps_a9::ps_a9(sc_module_name name, engine_state &st, ddr3 &ddr) : sc_module(name), st_(st), ddr_(ddr)
{
    SC_HAS_PROCESS(ps_a9);
    SC_THREAD(run_thread);
}

/* The PS works through its steps in order: fetch (through its caches, straight to the DDR
 * controller, no AXI HP), compute, write back. */
void ps_a9::run_thread()
{
    for (;;) {
        wait(start);
        job &j = *st_.cur;
        for (const step &s : j.s->steps) {
            for (const xfer &x : s.loads) {
                ddr_req r;
                r.x = &x;
                r.from_ps = true;
                r.done = &xfer_done_;
                ddr_.transfer(r);
            }
            uint64_t t0 = (uint64_t)(sc_time_stamp().value() / 1000) - j.start;
            if (s.compute_cycles)
                wait(sc_time((double)s.compute_cycles, SC_NS));
            for (auto &a : s.actions)
                j.counts.add(a.first, a.second);
            if (j.timeline && s.compute_cycles)
                j.timeline->push_back({"ps a9", "compute", t0, t0 + s.compute_cycles});
            for (const xfer &x : s.stores) {
                ddr_req r;
                r.x = &x;
                r.from_ps = true;
                r.done = &xfer_done_;
                ddr_.transfer(r);
            }
        }
        done.notify();
    }
}

} // namespace e2hw
