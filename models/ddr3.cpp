/* JEDEC DRAM (DDR3, DDR4) and the PS DDR controller (see ddr3.h). */
#include "ddr3.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "axi_hp.h"
#include "zynq7020.h"

using namespace sc_core;

namespace e2hw {

/* mA x V x ns = pJ; mW x ns = pJ. All per bus command: the devices work in lockstep. Two
 * supplies as in DRAMPower: VDD with the IDD currents, and VPP (DDR4's wordline supply) with
 * the IPP ones; a standard without VPP (DDR3) has vpp = 0. */
ddr3_energy_pj ddr3_energies(const hw_params &p)
{
    const hw_ddr_energy &e = p.energy.ddr;
    double dev = p.ddr.devices;
    double tck = 1000.0 / p.ddr.clock_mhz;
    double burst_ns = p.ddr.burst_length / 2.0 * tck;
    ddr3_energy_pj o;
    o.act = dev * ((e.idd0_ma - e.idd3n_ma) * e.vdd + (e.ipp0_ma - e.ipp3n_ma) * e.vpp) * p.ddr.tras_ns;
    o.pre = dev * (e.idd0_ma - e.idd2n_ma) * p.ddr.trp_ns * e.vdd;
    o.rd = dev * (e.idd4r_ma - e.idd3n_ma) * e.vdd * burst_ns;
    o.wr = dev * (e.idd4w_ma - e.idd3n_ma) * e.vdd * burst_ns;
    o.rd_io = dev * p.ddr.device_bits * e.io_read_mw_per_pin * burst_ns;
    o.wr_odt = dev * p.ddr.device_bits * e.odt_write_mw_per_pin * burst_ns;
    o.ref = dev * ((e.idd5_ma - e.idd3n_ma) * e.vdd + (e.ipp5_ma - e.ipp3n_ma) * e.vpp) * p.ddr.trfc_ns;
    o.active_per_ck = dev * (e.idd3n_ma * e.vdd + e.ipp3n_ma * e.vpp) * tck;
    o.precharged_per_ck = dev * (e.idd2n_ma * e.vdd + e.ipp3n_ma * e.vpp) * tck;
    return o;
}

void ddr3_intern_actions(hw_consts &k)
{
    ddr3_energy_pj e = ddr3_energies(k.p);
    action_table &t = *k.actions;
    double pl_ns = 1000.0 / k.p.pl_clock_mhz;
    k.a_ddr_act = t.intern(HW_DDR3, "activate (row)", true, e.act);
    k.a_ddr_pre = t.intern(HW_DDR3, "precharge (row)", true, e.pre);
    k.a_ddr_rd = t.intern(HW_DDR3, "read burst (core)", true, e.rd);
    k.a_ddr_wr = t.intern(HW_DDR3, "write burst (core)", true, e.wr);
    k.a_ddr_rd_io = t.intern(HW_DDR3, "read burst (I/O)", true, e.rd_io);
    k.a_ddr_wr_odt = t.intern(HW_DDR3, "write burst (termination)", true, e.wr_odt);
    /* Time-based: active standby throughout (the controller keeps rows open while streaming),
     * and refresh spread evenly: one tRFC every tREFI. Priced per PL cycle. */
    k.a_ddr_bg = t.intern(HW_DDR3, "background (per PL cycle)", false,
                          e.active_per_ck / (1000.0 / k.p.ddr.clock_mhz) * pl_ns);
    k.a_ddr_ref = t.intern(HW_DDR3, "refresh (per PL cycle)", false,
                           e.ref / k.p.ddr.trefi_ns * pl_ns);
    k.static_ids.push_back(k.a_ddr_bg);
    k.static_ids.push_back(k.a_ddr_ref);
}

double ddr3_efficiency(const hw_consts &k, bool write, bool seq, bool mixed)
{
    const hw_ddr &d = k.p.ddr;
    if (mixed)
        return seq ? d.eff_seq_rw : d.eff_rand_rw;
    if (write)
        return seq ? d.eff_seq_write : d.eff_rand_write;
    return seq ? d.eff_seq_read : d.eff_rand_read;
}

uint64_t ddr3_cycles(const hw_consts &k, const xfer &x, bool mixed)
{
    if (x.bursts == 0)
        return 0;
    double ddr_clocks = (double)x.bursts * (k.p.ddr.burst_length / 2.0) /
                        ddr3_efficiency(k, x.write, x.seq, mixed);
    return (uint64_t)std::ceil(ddr_clocks * k.pl_hz / k.ddr_hz - 1e-9);
}

ddr3::ddr3(sc_module_name name, engine_state &st) : sc_module(name), st_(st), q_("requests", 4)
{
    SC_HAS_PROCESS(ddr3);
    SC_THREAD(serve_thread);
}

void ddr3::reset()
{
    last_valid_ = false;
}

void ddr3::transfer(ddr_req &r)
{
    q_.write(&r);
    wait(*r.done);
}

void ddr3::serve_thread()
{
    for (;;) {
        ddr_req *r = q_.read();
        job &j = *st_.cur;
        const hw_consts &k = *j.k;
        const xfer &x = *r->x;
        bool mixed = last_valid_ && last_write_ != x.write;
        uint64_t c = ddr3_cycles(k, x, mixed);
        if (!r->from_ps)
            c = std::max((uint64_t)std::ceil((double)c / k.p.dma_efficiency - 1e-9),
                         axi_hp_cycles(k, x.beats * k.axi_beat_bytes, x.write));
        j.counts.add(k.a_ddr_act, x.rows);
        j.counts.add(k.a_ddr_pre, x.rows);
        j.counts.add(x.write ? k.a_ddr_wr : k.a_ddr_rd, x.bursts);
        j.counts.add(x.write ? k.a_ddr_wr_odt : k.a_ddr_rd_io, x.bursts);
        uint64_t t0 = (uint64_t)(sc_time_stamp().value() / 1000) - j.start;
        wait(sc_time((double)c, SC_NS));
        j.ddr_busy += c;
        if (j.timeline)
            j.timeline->push_back({"ddr", std::string(x.write ? "write " : "read ") +
                                               std::to_string(x.bytes) + " B" +
                                               (mixed ? " (mixed)" : ""),
                                   t0, t0 + c});
        last_valid_ = true;
        last_write_ = x.write;
        r->done->notify();
    }
}

/* ---------------------------------------------------------------- command replay (C API) */

namespace {

struct replay {
    const hw_params &p;
    uint64_t trcd, trp, tras, trfc;
    std::vector<int> open;
    std::vector<uint64_t> act_at, pre_at;
    uint64_t ref_end = 0, now = 0;
    int n_open = 0;
    hw_ddr_counts c{};

    explicit replay(const hw_params &pp) : p(pp)
    {
        double tck = 1000.0 / p.ddr.clock_mhz;
        auto ck = [&](double ns) { return (uint64_t)std::ceil(ns / tck - 1e-9); };
        trcd = ck(p.ddr.trcd_ns);
        trp = ck(p.ddr.trp_ns);
        tras = ck(p.ddr.tras_ns);
        trfc = ck(p.ddr.trfc_ns);
        open.assign(p.ddr.banks, 0);
        act_at.assign(p.ddr.banks, 0);
        pre_at.assign(p.ddr.banks, 0);
    }

    /* Background up to cycle `to`: active while a bank is open or a refresh runs. */
    void advance(uint64_t to)
    {
        while (now < to) {
            if (now < ref_end) {
                uint64_t e = std::min(to, ref_end);
                c.active_cycles += e - now;
                now = e;
            } else {
                (n_open ? c.active_cycles : c.precharged_cycles) += to - now;
                now = to;
            }
        }
    }

    bool command(const hw_ddr_cmd &cmd, size_t i, char *err, size_t errlen)
    {
        static const char *names[] = {"ACT", "RD", "WR", "PRE", "REF"};
        auto fail = [&](const char *why) {
            if (err && errlen)
                std::snprintf(err, errlen, "ddr3 replay: command %zu (%s bank %d at cycle %llu): %s",
                              i, cmd.type >= 0 && cmd.type <= 4 ? names[cmd.type] : "?", cmd.bank,
                              (unsigned long long)cmd.cycle, why);
            return false;
        };
        if (cmd.type < HW_DDR_ACT || cmd.type > HW_DDR_REF)
            return fail("unknown command type");
        if (cmd.cycle < now)
            return fail("commands must be in ascending cycle order");
        if (cmd.type != HW_DDR_REF && (cmd.bank < 0 || cmd.bank >= p.ddr.banks))
            return fail("bank out of range");
        advance(cmd.cycle);
        int b = cmd.bank;
        switch (cmd.type) {
        case HW_DDR_ACT:
            if (open[b])
                return fail("bank already open");
            if (cmd.cycle < ref_end || (pre_at[b] && cmd.cycle < pre_at[b] + trp))
                return fail("tRP/tRFC not met");
            open[b] = 1;
            n_open++;
            act_at[b] = cmd.cycle;
            c.act++;
            break;
        case HW_DDR_RD:
        case HW_DDR_WR:
            if (!open[b])
                return fail("bank not open");
            if (cmd.cycle < act_at[b] + trcd)
                return fail("tRCD not met");
            (cmd.type == HW_DDR_RD ? c.rd : c.wr)++;
            break;
        case HW_DDR_PRE:
            if (!open[b])
                return fail("bank not open");
            if (cmd.cycle < act_at[b] + tras)
                return fail("tRAS not met");
            open[b] = 0;
            n_open--;
            pre_at[b] = cmd.cycle;
            c.pre++;
            break;
        case HW_DDR_REF:
            if (n_open)
                return fail("refresh needs all banks precharged");
            for (int bb = 0; bb < p.ddr.banks; bb++)
                if (pre_at[bb] && cmd.cycle < pre_at[bb] + trp)
                    return fail("tRP not met");
            if (cmd.cycle < ref_end)
                return fail("tRFC not met");
            ref_end = cmd.cycle + trfc;
            c.ref++;
            break;
        }
        return true;
    }
};

e2_fj fj_of(uint64_t n, double pj)
{
    long long u = std::llround(pj * 1000.0);
    return (e2_fj)n * (e2_fj)(u > 0 ? u : 0);
}

} // namespace

extern "C" int hw_ddr_replay(const struct hw_model *m, const struct hw_ddr_cmd *cmds, size_t n,
                             uint64_t end_cycle, struct hw_ddr_counts *out, char *err,
                             size_t errlen)
{
    if (!m || (!cmds && n) || !out) {
        if (err && errlen)
            std::snprintf(err, errlen, "ddr3 replay: NULL argument");
        return 2;
    }
    replay r(m->k.p);
    for (size_t i = 0; i < n; i++)
        if (!r.command(cmds[i], i, err, errlen))
            return 2;
    if (end_cycle < r.now) {
        if (err && errlen)
            std::snprintf(err, errlen, "ddr3 replay: end cycle %llu before the last command",
                          (unsigned long long)end_cycle);
        return 2;
    }
    r.advance(end_cycle);
    ddr3_energy_pj e = ddr3_energies(m->k.p);
    hw_ddr_counts &c = r.c;
    c.act_fj = fj_of(c.act, e.act);
    c.pre_fj = fj_of(c.pre, e.pre);
    c.rd_fj = fj_of(c.rd, e.rd);
    c.wr_fj = fj_of(c.wr, e.wr);
    c.rd_io_fj = fj_of(c.rd, e.rd_io);
    c.wr_odt_fj = fj_of(c.wr, e.wr_odt);
    c.ref_fj = fj_of(c.ref, e.ref);
    c.background_fj =
        fj_of(c.active_cycles, e.active_per_ck) + fj_of(c.precharged_cycles, e.precharged_per_ck);
    c.total_fj = c.act_fj + c.pre_fj + c.rd_fj + c.wr_fj + c.rd_io_fj + c.wr_odt_fj + c.ref_fj +
                 c.background_fj;
    *out = c;
    return 0;
}

} // namespace e2hw
