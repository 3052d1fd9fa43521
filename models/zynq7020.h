/* The top of the design: the Zynq-7020 with its DDR3, DMA over the AXI HP ports, the DSP array,
 * the ARM PS and the bit-accurate MAC tile, elaborated once per process; and the hw_model that
 * the C API hands out (parameters, priced actions, memo). */
#ifndef E2_MODELS_ZYNQ7020_H
#define E2_MODELS_ZYNQ7020_H

#include <systemc>

#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>

#include "ddr3.h"
#include "dma.h"
#include "dsp_array.h"
#include "mapper.h"
#include "ps_a9.h"

namespace e2hw {

/* What the threads share: the job being simulated. */
struct engine_state {
    job *cur = nullptr;
};

/* Channels of the double-buffered pipeline DMA load -> array -> DMA store. */
struct pipeline_channels {
    sc_core::sc_fifo<int> loaded, computed;
    sc_core::sc_semaphore in_free, out_free;   /* two input and two output buffers */
    sc_core::sc_event step_computed, all_stored;
    uint64_t steps_computed = 0;
    pipeline_channels()
        : loaded("loaded", 2), computed("computed", 2), in_free("in_free", 2),
          out_free("out_free", 2)
    {
    }
};

class zynq7020 : public sc_core::sc_module {
public:
    explicit zynq7020(sc_core::sc_module_name name);
    engine_state st;
    pipeline_channels ch;
    ddr3 ddr;
    dma dma0;
    dsp_array array;
    ps_a9 ps;
    mac_tile tile;
    sc_core::sc_event go;
    bool pending = false;
    enum { RUN_SCHEDULE, RUN_TILE } what = RUN_SCHEDULE;

private:
    void control_thread();
};

/* Run one job (schedule) or one bit-accurate tile through the shared design. */
bool engine_run(job &j, std::string *err);
bool engine_run_tile(tile_request &t, std::string *err);

/* Memo key: a canonical record (oprec_canonical) and the mapping variant. */
struct memo_key {
    oprec r;
    int variant;
    bool operator==(const memo_key &o) const
    {
        return variant == o.variant && oprec_equal(&r, &o.r);
    }
};
struct memo_hash {
    size_t operator()(const memo_key &k) const
    {
        return (size_t)(oprec_hash(&k.r) ^ (uint64_t)k.variant * 0x9e3779b97f4a7c15ull);
    }
};

struct model {
    hw_consts k;
    std::shared_ptr<action_table> actions;
    std::unordered_map<memo_key, cost, memo_hash> memo;
    hw_stats stats{};
    double ddr_bytes_per_cycle = 0;   /* the DDR roof, measured on first use */
};

} // namespace e2hw

/* The C API's model (hw.h) is the namespace's. */
struct hw_model : e2hw::model {
};

#endif
