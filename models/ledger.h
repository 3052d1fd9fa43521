/* The energy ledger (internal C++ side of hw.h): the table of priced actions, the cost of one
 * op (action counts + cycles), and the ledger that sums costs per layer, phase and technique.
 * Energy is count x (integer fJ per action) so every breakdown adds up to the total exactly. */
#ifndef E2_MODELS_LEDGER_H
#define E2_MODELS_LEDGER_H

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "hw.h"

namespace e2hw {

/* One priced action: "dsp / mac 8x8 packed" at 1200 fJ each. Static actions are counted in PL
 * cycles (their fJ is the energy of one PL cycle of that power). */
struct action_desc {
    int component;          /* enum hw_component */
    std::string name;
    bool dynamic;
    uint64_t fj;            /* femtojoules per action, rounded once from the pJ coefficients */
    bool mac;               /* a multiply-accumulate (the "mac ..." actions): hw_work.macs */
};

/* A model's actions. Actions are interned on first use (MACs of new widths appear as ops need
 * them); an id never changes, so ledgers keep dense count vectors indexed by id. */
struct action_table {
    std::vector<action_desc> v;
    std::unordered_map<std::string, uint32_t> ids;

    uint32_t intern(int component, const std::string &name, bool dynamic, double pj);
};

/* What one op costs: cycles of PL time and a count per action (sorted by id, no zeros); and
 * what it did, for the roofline (rides along with the cost, never priced). */
struct cost {
    uint64_t cycles = 0;
    std::vector<std::pair<uint32_t, uint64_t>> counts;
    hw_work work{};
};

/* Dense accumulator that turns into a cost. */
struct cost_acc {
    std::vector<uint64_t> c;
    void add(uint32_t id, uint64_t n)
    {
        if (id >= c.size())
            c.resize(id + 1, 0);
        c[id] += n;
    }
    cost finish(uint64_t cycles) const;
};

/* to += w x times, field by field. */
void work_add(hw_work &to, const hw_work &w, uint64_t times);
cost cost_sum(const cost &a, const cost &b);
/* Each count (and the cycles, and the work) scaled by q/65536, rounded half up: the PSG
 * interpolation. */
cost cost_scale_q16(const cost &a, uint32_t q16);
/* Is c3 - c2 == c2 - c1 in every count and in cycles? (The work is not asked: it follows.) */
bool cost_is_linear(const cost &c1, const cost &c2, const cost &c3);
/* c_last + steps * (c_last - c_prev), exactly (the work likewise, floored at 0). */
cost cost_extrapolate(const cost &c_prev, const cost &c_last, uint64_t steps);

/* Per (layer, phase, technique): counts per action id, cycles, records. */
struct ledger_bucket {
    std::vector<uint64_t> counts;
    uint64_t cycles = 0;
    uint64_t records = 0;
    hw_work work{};
};

/* Forward conv/fc MACs at one precision and the array's peak MACs per cycle there. */
struct mac_precision {
    uint64_t macs = 0;
    double peak_per_cycle = 0;
};

struct ledger {
    std::shared_ptr<const action_table> actions;   /* the model's: the counts use its ids */
    double pl_hz = 0;
    double ddr_bytes_per_cycle = 0;   /* the model's DMA read stream (the DDR roof) */
    std::unordered_map<uint32_t, ledger_bucket> buckets;   /* key: layer << 16 | phase << 8 | tech */
    std::map<std::pair<int, int>, mac_precision> precisions;   /* by (bits_a, bits_b) */
    /* Sums over all buckets: every sum a query takes is at most these, so while they fit in
     * 64 bits no query wraps. */
    std::vector<uint64_t> action_total;
    uint64_t cycles_total = 0, records_total = 0;

    /* Add cost x repeat, and the static actions for its cycles x repeat. false (and nothing
     * added) when a count would pass 2^64 - 1: the run is too long to count exactly. */
    bool add(uint16_t layer, uint8_t phase, uint8_t tech, const cost &c, uint64_t repeat,
             const std::vector<uint32_t> &static_ids);
};

} // namespace e2hw

/* The C API's ledger (hw.h) is the namespace's. */
struct hw_ledger : e2hw::ledger {
};

#endif
