/* The DMA engine between DDR (through the AXI HP ports) and the BRAM buffers: a load thread
 * (DDR -> BRAM, MM2S) and a store thread (BRAM -> DDR, S2MM) around the DSP array, with two
 * input and two output buffers, so loads, compute and stores overlap. */
#ifndef E2_MODELS_DMA_H
#define E2_MODELS_DMA_H

#include <systemc>

#include "mapper.h"

namespace e2hw {

struct engine_state;
struct pipeline_channels;
class ddr3;

class dma : public sc_core::sc_module {
public:
    dma(sc_core::sc_module_name name, engine_state &st, pipeline_channels &ch, ddr3 &ddr);
    sc_core::sc_event start;    /* a PL schedule is ready */

private:
    engine_state &st_;
    pipeline_channels &ch_;
    ddr3 &ddr_;
    sc_core::sc_event load_done_, store_done_;
    void load_thread();
    void store_thread();
    void move(const xfer &x, const char *track, sc_core::sc_event &done);
};

} // namespace e2hw

#endif
