/* The top of the design, the engine that runs it without sc_main, and the model's C API:
 * creation, memoized pricing, accounting (see zynq7020.h, hw.h). */
#include "zynq7020.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>

#include "axi_hp.h"
#include "bram_buffer.h"

using namespace sc_core;

/* e2sim's main() is plain C and calls the API; libsystemc still references sc_main. */
int sc_main(int, char **)
{
    return 1;
}

namespace e2hw {

zynq7020::zynq7020(sc_module_name name)
    : sc_module(name), ddr("ddr", st), dma0("dma", st, ch, ddr), array("dsp_array", st, ch),
      ps("ps_a9", st, ddr), tile("mac_tile")
{
    SC_HAS_PROCESS(zynq7020);
    SC_THREAD(control_thread);
}

static uint64_t now_cycles()
{
    return (uint64_t)(sc_time_stamp().value() / 1000);   /* 1 PL cycle = 1 ns of model time */
}

void zynq7020::control_thread()
{
    for (;;) {
        while (!pending)
            wait(go);
        pending = false;
        if (what == RUN_TILE) {
            tile.start.notify();
            wait(tile.done);
            continue;
        }
        job &j = *st.cur;
        j.start = now_cycles();
        ddr.reset();
        ch.steps_computed = 0;
        if (j.s->on_ps) {
            ps.start.notify();
            wait(ps.done);
        } else {
            dma0.start.notify();
            wait(ch.all_stored);
        }
        j.cycles = now_cycles() - j.start;
        j.finished = true;
    }
}

/* The one elaborated design of this process (SystemC allows no other). */
static zynq7020 *the_design()
{
    static zynq7020 *top = nullptr;
    if (!top) {
        setenv("SC_COPYRIGHT_MESSAGE", "DEACTIVATE", 0);
        sc_report_handler::set_actions(SC_INFO, SC_DO_NOTHING);
        sc_report_handler::set_actions(SC_WARNING, SC_DO_NOTHING);
        sc_report_handler::set_actions(SC_ERROR, SC_THROW);
        sc_report_handler::set_actions(SC_FATAL, SC_THROW);
        top = new zynq7020("zynq7020");
    }
    return top;
}

static bool run_design(zynq7020 &top, std::string *err)
{
    try {
        top.pending = true;
        top.go.notify(SC_ZERO_TIME);
        sc_start();
    } catch (const std::exception &e) {
        if (err)
            *err = std::string("SystemC: ") + e.what();
        return false;
    }
    return true;
}

bool engine_run(job &j, std::string *err)
{
    zynq7020 &top = *the_design();
    top.st.cur = &j;
    top.what = zynq7020::RUN_SCHEDULE;
    j.finished = false;
    if (!run_design(top, err))
        return false;
    if (!j.finished) {
        if (err)
            *err = "the simulation stopped before the op finished";
        return false;
    }
    return true;
}

bool engine_run_tile(tile_request &t, std::string *err)
{
    zynq7020 &top = *the_design();
    top.tile.req = &t;
    top.what = zynq7020::RUN_TILE;
    return run_design(top, err);
}

/* ---------------------------------------------------------------- models */

static int fail(char *err, size_t errlen, int code, const std::string &msg)
{
    if (err && errlen)
        std::snprintf(err, errlen, "%s", msg.c_str());
    return code;
}

/* What the config schema's ranges cannot say. */
static std::string check_params(const hw_params &p)
{
    auto pos = [](double v) { return v > 0 && std::isfinite(v); };
    if (!pos(p.pl_clock_mhz) || !pos(p.ddr.clock_mhz) || !pos(p.ps.clock_mhz))
        return "clocks must be positive";
    if (p.dsps < p.fp32_dsps_per_mac || !(p.fp32_fixed_dsps_per_mac >= 1) ||
        p.dsps < p.fp32_fixed_dsps_per_mac)
        return "hardware.dsps must be at least hardware.fp32_dsps_per_mac and fp32_fixed_dsps_per_mac (>= 1)";
    if (p.int8_macs_per_dsp < 1 || p.pack_max_bits < 1 || p.fp32_mac_ii < 1 || p.eltwise_lanes < 1)
        return "hardware packing, fp32_mac_ii and eltwise_lanes must be at least 1";
    if (p.dataflow != HW_DATAFLOW_FUSED && p.dataflow != HW_DATAFLOW_UNFUSED)
        return "hardware.dataflow must be fused or unfused";
    if (p.array_input_words < 1)
        return "hardware.array_input_words must be at least 1";
    if (p.bram_budget_kbit < 36 || p.dma_chunk_bytes < 64)
        return "hardware.bram_budget_kbit must be >= 36 and dma_chunk_bytes >= 64";
    if (p.axi.ports < 1 || (p.axi.port_bits != 32 && p.axi.port_bits != 64 && p.axi.port_bits != 128) ||
        !pos(p.axi.port_read_cap_mbs))
        return "hardware.axi: ports >= 1, port_bits 32, 64 or 128, a positive read cap";
    if (p.dsp_a_bits < 25 || p.dsp_a_bits > 27 || p.uram_budget_kbit < 0)
        return "hardware.dsp_a_bits must be 25..27 and uram_budget_kbit not negative";
    const hw_ddr &d = p.ddr;
    if (d.devices < 1 || d.device_bits < 1 || d.bus_bits != d.devices * d.device_bits)
        return "hardware.ddr.bus_bits must equal devices * device_bits";
    if (d.banks < 1 || d.page_bytes < 64 || (d.burst_length != 4 && d.burst_length != 8 && d.burst_length != 16))
        return "hardware.ddr: banks >= 1, page_bytes >= 64, burst_length 4, 8 or 16";
    if (!pos(d.trcd_ns) || !pos(d.trp_ns) || !pos(d.tras_ns) || !pos(d.trfc_ns) ||
        d.trefi_ns <= d.trfc_ns || d.seq_run_bytes < 1)
        return "hardware.ddr timings must be positive with trefi_ns > trfc_ns";
    for (double e : {d.eff_seq_read, d.eff_rand_read, d.eff_seq_write, d.eff_rand_write,
                     d.eff_seq_rw, d.eff_rand_rw})
        if (!(e > 0 && e <= 1))
            return "hardware.ddr efficiencies must be in (0, 1]";
    const hw_ddr_energy &e = p.energy.ddr;
    if (e.idd3n_ma < 0 || e.idd2n_ma < 0 || e.idd0_ma < std::max(e.idd3n_ma, e.idd2n_ma) ||
        e.idd4r_ma < e.idd3n_ma || e.idd4w_ma < e.idd3n_ma || e.idd5_ma < e.idd3n_ma)
        return "energy.ddr currents must satisfy idd0 >= idd2n, idd3n and idd4r, idd4w, idd5 >= idd3n";
    if (e.ipp0_ma < e.ipp3n_ma || e.ipp5_ma < e.ipp3n_ma)
        return "energy.ddr VPP currents must satisfy ipp0, ipp5 >= ipp3n";
    if (p.ps.cycles_per_flop < 0 || p.ps.cycles_per_transcendental < 0)
        return "hardware.ps cycle counts must not be negative";
    const hw_energy &en = p.energy;
    for (double v : {en.dsp_mac_base_pj, en.dsp_mac_product_pj, en.dsp_mac_packed8_pj,
                     en.fp32_mac_pj, en.fp32_add_pj, en.lut_mult_pj_per_bit2,
                     en.lut_acc_pj_per_bit, en.bram_read_pj, en.bram_write_pj, en.bram_lut_scale,
                     en.axi_beat_pj, en.ps_active_w, e.vdd, e.io_read_mw_per_pin,
                     en.uram_read_pj, en.uram_write_pj, e.vpp, e.ipp0_ma, e.ipp3n_ma, e.ipp5_ma,
                     e.odt_write_mw_per_pin, en.stat.pl_w, en.stat.ps_w, en.stat.ddrc_w,
                     en.stat.board_w})
        if (!(v >= 0 && std::isfinite(v)))
            return "energy coefficients must be finite and not negative";
    return "";
}

static void intern_static(hw_consts &k)
{
    action_table &t = *k.actions;
    const hw_static_energy &s = k.p.energy.stat;
    double per_cycle = 1e12 / k.pl_hz;   /* W -> pJ per PL cycle */
    k.static_ids.push_back(t.intern(HW_PL, "static (per PL cycle)", false, s.pl_w * per_cycle));
    k.static_ids.push_back(t.intern(HW_PS_A9, "quiescent (per PL cycle)", false, s.ps_w * per_cycle));
    k.static_ids.push_back(
        t.intern(HW_PS_A9, "DDR controller + PHY (per PL cycle)", false, s.ddrc_w * per_cycle));
    k.static_ids.push_back(t.intern(HW_BOARD, "static (per PL cycle)", false, s.board_w * per_cycle));
}

extern "C" int hw_create(const struct hw_params *p, struct hw_model **out, char *err,
                         size_t errlen)
{
    if (!p || !out)
        return fail(err, errlen, 2, "hw_create: NULL argument");
    *out = nullptr;
    std::string why = check_params(*p);
    if (!why.empty())
        return fail(err, errlen, 2, "hardware parameters: " + why);
    hw_model *m = new (std::nothrow) hw_model();
    if (!m)
        return fail(err, errlen, 1, "hw_create: out of memory");
    hw_consts &k = m->k;
    k.p = *p;
    k.pl_hz = p->pl_clock_mhz * 1e6;
    k.ddr_hz = p->ddr.clock_mhz * 1e6;
    k.ps_hz = p->ps.clock_mhz * 1e6;
    k.bram_bytes = bram_data_bytes(*p);
    k.fused = p->dataflow == HW_DATAFLOW_FUSED;
    k.burst_bytes = (uint64_t)p->ddr.bus_bits / 8 * (uint64_t)p->ddr.burst_length;
    k.bus_page_bytes = (uint64_t)p->ddr.page_bytes * (uint64_t)p->ddr.devices;
    k.axi_beat_bytes = (uint64_t)p->axi.port_bits / 8;
    m->actions = std::make_shared<action_table>();
    k.actions = m->actions.get();
    ddr3_intern_actions(k);
    axi_hp_intern_actions(k);
    bram_intern_actions(k);
    ps_a9_intern_actions(k);
    intern_static(k);
    try {
        the_design();
    } catch (const std::exception &e) {
        delete m;
        return fail(err, errlen, 1, std::string("hw_create: SystemC: ") + e.what());
    }
    *out = m;
    return 0;
}

extern "C" void hw_free(struct hw_model *m)
{
    delete m;
}

extern "C" const struct hw_params *hw_model_params(const struct hw_model *m)
{
    return m ? &m->k.p : nullptr;
}

extern "C" void hw_get_stats(const struct hw_model *m, struct hw_stats *s)
{
    if (!m || !s)
        return;
    *s = m->stats;
    s->memo_entries = m->memo.size();
}

/* ---------------------------------------------------------------- pricing */

namespace {

/* What a simulated schedule did: bytes from its transfers, MACs and BRAM accesses from its
 * counts, busy cycles from its steps and the DDR controller's busy time (ddr_busy). */
static hw_work work_of(const hw_consts &k, const schedule &s, const cost_acc &counts,
                uint64_t ddr_busy)
{
    hw_work w{};
    for (const step &st : s.steps) {
        for (const xfer &x : st.loads)
            w.ddr_read_bytes += x.bytes;
        for (const xfer &x : st.stores)
            w.ddr_write_bytes += x.bytes;
        (s.on_ps ? w.ps_cycles : w.compute_cycles) += st.compute_cycles;
    }
    w.ddr_cycles = ddr_busy;
    auto count = [&](uint32_t id) { return id < counts.c.size() ? counts.c[id] : 0; };
    for (uint32_t id = 0; id < counts.c.size(); id++)
        if (k.actions->v[id].mac)
            w.macs += counts.c[id];
    w.bram_bytes = 4 * (count(k.a_bram_rd) + count(k.a_bram_wr));
    return w;
}

bool simulate(hw_model *m, const oprec &r, map_variant v, cost *out, std::string *err)
{
    schedule s;
    if (!map_op(m->k, r, v, &s, err))
        return false;
    if (s.steps.empty()) {
        *out = cost{};
        return true;
    }
    job j;
    j.k = &m->k;
    j.s = &s;
    if (!engine_run(j, err))
        return false;
    m->stats.simulated++;
    /* Hidden work (overlapped PS ops, fused element-wise ops) costs its own energy but no run
     * time, hence no static energy. */
    *out = j.counts.finish(s.hidden ? 0 : j.cycles);
    out->work = work_of(m->k, s, j.counts, j.ddr_busy);
    return true;
}

/* PL cycles of a DMA stream of `bytes` (write: BRAM -> DDR). */
bool stream_cycles(hw_model *m, uint64_t bytes, bool write, uint64_t *cycles, std::string *err)
{
    schedule s = map_stream(m->k, bytes, write);
    *cycles = 0;
    if (s.steps.empty())
        return true;
    job j;
    j.k = &m->k;
    j.s = &s;
    if (!engine_run(j, err))
        return false;
    *cycles = j.cycles;
    return true;
}

/* The DDR roof: bytes per PL cycle of a 1 MiB DMA read stream, long enough that the pipeline's
 * fill is noise. Measured once per model. */
bool ddr_roof(hw_model *m, double *bytes_per_cycle, std::string *err)
{
    if (m->ddr_bytes_per_cycle == 0) {
        const uint64_t bytes = 1 << 20;
        uint64_t cycles = 0;
        if (!stream_cycles(m, bytes, false, &cycles, err))
            return false;
        m->ddr_bytes_per_cycle = cycles ? (double)bytes / (double)cycles : 0;
    }
    *bytes_per_cycle = m->ddr_bytes_per_cycle;
    return true;
}

/* The cost of one variant of a canonical record (oprec_canonical). Sample counts above 4 come from n = 2, 3, 4
 * when those three lie on a line (the pipeline reached its steady state); otherwise, and with
 * hardware.simulate_every_n, they are simulated. */
bool price_variant(hw_model *m, const oprec &r, map_variant v, cost *out, std::string *err)
{
    memo_key key{r, v};
    auto it = m->memo.find(key);
    if (it != m->memo.end()) {
        m->stats.memo_hits++;
        *out = it->second;
        return true;
    }
    cost c;
    bool done = false;
    const uint32_t last = 4;
    if (!m->k.p.simulate_every_n && oprec_depends_on_n(&r) && r.n > last) {
        cost c2, c3, c4;
        oprec q = r;
        q.n = last - 2;
        if (!price_variant(m, q, v, &c2, err))
            return false;
        q.n = last - 1;
        if (!price_variant(m, q, v, &c3, err))
            return false;
        q.n = last;
        if (!price_variant(m, q, v, &c4, err))
            return false;
        if (cost_is_linear(c2, c3, c4)) {
            c = cost_extrapolate(c3, c4, r.n - last);
            m->stats.extrapolated++;
            done = true;
        }
    }
    if (!done && !simulate(m, r, v, &c, err))
        return false;
    m->memo.emplace(key, c);
    *out = c;
    return true;
}

/* The cost of a record in two parts: what its own technique spends, and (PSG weight gradients
 * only, else empty) the predictor pass over every weight, which the ledger books as PSG. The
 * rest of a PSG weight gradient is the low-order pass for the fraction of weights below the
 * threshold, interpolated exactly in integer counts. */
bool price(hw_model *m, const oprec &rec, cost *own, cost *predictor, std::string *err)
{
    oprec r = oprec_canonical(&rec);
    *predictor = cost{};
    if (!r.msb_a) {
        if (r.n == 0 && oprec_depends_on_n(&r)) {
            *own = cost{};
            return true;
        }
        return price_variant(m, r, MAP_PLAIN, own, err);
    }
    oprec q = r;
    q.psg_full_q16 = 0;
    cost low;
    if (!price_variant(m, q, MAP_PSG_MSB, predictor, err) ||
        !price_variant(m, q, MAP_PSG_LOW, &low, err))
        return false;
    *own = cost_scale_q16(low, r.psg_full_q16);
    return true;
}

} // namespace

extern "C" int hw_account(struct hw_model *m, struct hw_ledger *l, const struct oprec *r,
                          uint64_t repeat, char *err, size_t errlen)
{
    if (!m || !r)
        return fail(err, errlen, 2, "hw_account: NULL argument");
    if (l && l->actions && l->actions.get() != m->actions.get())
        return fail(err, errlen, 2, "hw_account: the ledger belongs to another model");
    cost c, predictor;
    std::string why;
    if (!price(m, *r, &c, &predictor, &why)) {
        bool bad_input = why.rfind("SystemC", 0) != 0 && why.rfind("the simulation", 0) != 0;
        char buf[64];
        std::snprintf(buf, sizeof buf, "op record (layer %u, kind %u, phase %u): ", r->layer,
                      r->kind, r->phase);
        return fail(err, errlen, bad_input ? 2 : 1, buf + why);
    }
    if (l) {
        if (!l->actions) {
            if (!ddr_roof(m, &l->ddr_bytes_per_cycle, &why))
                return fail(err, errlen, 1, "hw_account: " + why);
            l->actions = m->actions;
            l->pl_hz = m->k.pl_hz;
        }
        bool fits = true;
        if (!predictor.counts.empty() || predictor.cycles)
            fits = l->add(r->layer, r->phase, OP_TECH_PSG, predictor, repeat, m->k.static_ids);
        if (!fits || !l->add(r->layer, r->phase, r->tech, c, repeat, m->k.static_ids)) {
            char buf[200];
            std::snprintf(buf, sizeof buf, "op record (layer %u, kind %u, phase %u) x %llu: the "
                          "run's counts would pass 2^64 (shorten the run)", r->layer, r->kind,
                          r->phase, (unsigned long long)repeat);
            return fail(err, errlen, 2, buf);
        }
        if ((r->kind == OP_CONV || r->kind == OP_FC) && r->phase == OP_PHASE_FWD && c.work.macs) {
            mac_choice mc = mac_choose(m->k, r->bits_a, r->bits_b, r->bits_acc);
            mac_precision &p = l->precisions[{r->bits_a, r->bits_b}];
            p.macs += c.work.macs * repeat;
            p.peak_per_cycle = (double)mc.lanes / mc.ii;
        }
    }
    return 0;
}

extern "C" int hw_op_cost(struct hw_model *m, const struct oprec *r, uint64_t *cycles, e2_fj *fj,
                          char *err, size_t errlen)
{
    if (!m || !r)
        return fail(err, errlen, 2, "hw_op_cost: NULL argument");
    cost own, predictor;
    std::string why;
    if (!price(m, *r, &own, &predictor, &why))
        return fail(err, errlen, 2, "op record: " + why);
    cost c = cost_sum(own, predictor);
    e2_fj e = 0;
    for (auto &p : c.counts)
        e += (e2_fj)p.second * m->actions->v[p.first].fj;
    for (uint32_t id : m->k.static_ids)
        e += (e2_fj)c.cycles * m->actions->v[id].fj;
    if (cycles)
        *cycles = c.cycles;
    if (fj)
        *fj = e;
    return 0;
}

extern "C" int hw_dma_stream(struct hw_model *m, uint64_t bytes, int write, uint64_t *cycles,
                             char *err, size_t errlen)
{
    if (!m)
        return fail(err, errlen, 2, "hw_dma_stream: NULL model");
    uint64_t c = 0;
    std::string why;
    if (!stream_cycles(m, bytes, write != 0, &c, &why))
        return fail(err, errlen, 1, "hw_dma_stream: " + why);
    if (cycles)
        *cycles = c;
    return 0;
}

} // namespace e2hw
