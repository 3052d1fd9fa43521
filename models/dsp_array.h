/* The DSP48E1 MAC array: how each product is priced and packed (mac_choose), the compute
 * thread of the tile pipeline, and a bit-accurate tile of DSP48E1 registers for the cross-check
 * against the integer GEMM reference. */
#ifndef E2_MODELS_DSP_ARRAY_H
#define E2_MODELS_DSP_ARRAY_H

#include <systemc>

#include "mapper.h"

namespace e2hw {

/* Where a multiply-accumulate of a x b bits runs, how many run per cycle, and its action. */
enum mac_resource { MAC_DSP_PACKED = 0, MAC_DSP, MAC_FP32, MAC_LUT };
struct mac_choice {
    mac_resource resource;
    uint64_t lanes;     /* MACs in flight per cycle */
    int ii;             /* cycles between MACs on one lane */
    uint32_t action;
};

/* The cheapest resource in energy for a x b bit MACs (32 = float32) with an acc_bits
 * accumulator; ties go to the one with more lanes. */
mac_choice mac_choose(const hw_consts &k, int a_bits, int b_bits, int acc_bits);
/* A fabric add/compare/requantize of `bits` (float32 at 32), and its action. */
uint32_t lut_op_action(const hw_consts &k, int bits, const char *what);
/* Lanes of the element-wise unit for operands of `bits`. */
uint64_t eltwise_lanes(const hw_consts &k, int bits);

/* Split `lanes` MAC lanes into tm output rows x tp output columns for an M x P problem:
 * fewest lane tiles, then fewest operand reads per cycle (tm + tp). */
void lanes_shape(uint64_t lanes, uint64_t M, uint64_t P, uint64_t *tm, uint64_t *tp);

struct engine_state;
struct pipeline_channels;

/* The compute thread: takes loaded steps, occupies the array for their cycles, counts. */
class dsp_array : public sc_core::sc_module {
public:
    dsp_array(sc_core::sc_module_name name, engine_state &st, pipeline_channels &ch);

private:
    engine_state &st_;
    pipeline_channels &ch_;
    void compute_thread();
};

/* Bit-accurate cross-check: one conv tile in emulated DSP48E1 registers, cycle by cycle. */
struct tile_request {
    const int16_t *x = nullptr, *wt = nullptr;
    int cin = 0, h = 0, w = 0, cout = 0, k = 0, stride = 1, pad = 0;
    int64_t *out = nullptr;
    uint64_t lanes = 1;
    uint64_t cycles = 0;
};

class mac_tile : public sc_core::sc_module {
public:
    explicit mac_tile(sc_core::sc_module_name name);
    sc_core::sc_event start, done;
    tile_request *req = nullptr;

private:
    void run_thread();
};

/* The DSP48E1 post-adder: a 48-bit two's-complement accumulator. */
static inline int64_t dsp48_wrap(int64_t v)
{
    uint64_t u = (uint64_t)v & ((1ull << 48) - 1);
    if (u & (1ull << 47))
        u |= ~((1ull << 48) - 1);
    return (int64_t)u;
}

} // namespace e2hw

#endif
