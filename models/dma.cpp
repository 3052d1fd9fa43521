/* The DMA engine (see dma.h). */
#include "dma.h"

#include "bram_buffer.h"
#include "zynq7020.h"

using namespace sc_core;

namespace e2hw {

dma::dma(sc_module_name name, engine_state &st, pipeline_channels &ch, ddr3 &ddr)
    : sc_module(name), st_(st), ch_(ch), ddr_(ddr)
{
    SC_HAS_PROCESS(dma);
    SC_THREAD(load_thread);
    SC_THREAD(store_thread);
}

/* One transfer over the AXI HP ports: the DDR controller decides how long it takes; the DMA
 * counts the AXI beats and the BRAM port accesses on its side. */
void dma::move(const xfer &x, const char *track, sc_event &done)
{
    job &j = *st_.cur;
    const hw_consts &k = *j.k;
    ddr_req r;
    r.x = &x;
    r.track = track;
    r.done = &done;
    uint64_t t0 = (uint64_t)(sc_time_stamp().value() / 1000) - j.start;
    ddr_.transfer(r);
    j.counts.add(k.a_axi_beat, x.beats);
    j.counts.add(x.write ? k.a_bram_rd : k.a_bram_wr, bram_words(x.bytes));
    if (j.timeline) {
        uint64_t t1 = (uint64_t)(sc_time_stamp().value() / 1000) - j.start;
        j.timeline->push_back({track, std::to_string(x.bytes) + " B", t0, t1});
    }
}

void dma::load_thread()
{
    for (;;) {
        wait(start);
        job &j = *st_.cur;
        const std::vector<step> &steps = j.s->steps;
        for (size_t i = 0; i < steps.size(); i++) {
            const step &s = steps[i];
            /* A stationary buffer is replaced: wait until the array is done with it. */
            if (s.barrier)
                while (ch_.steps_computed < s.wait_computed)
                    wait(ch_.step_computed);
            ch_.in_free.wait();
            for (const xfer &x : s.loads)
                move(x, "dma load", load_done_);
            ch_.loaded.write((int)i);
        }
    }
}

void dma::store_thread()
{
    for (;;) {
        int i = ch_.computed.read();
        job &j = *st_.cur;
        const step &s = j.s->steps[(size_t)i];
        for (const xfer &x : s.stores)
            move(x, "dma store", store_done_);
        ch_.out_free.post();
        if ((size_t)i + 1 == j.s->steps.size())
            ch_.all_stored.notify();
    }
}

} // namespace e2hw
