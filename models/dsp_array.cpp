/* The DSP48E1 MAC array (see dsp_array.h). */
#include "dsp_array.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "zynq7020.h"

using namespace sc_core;

namespace e2hw {

static uint64_t cdiv(uint64_t a, uint64_t b)
{
    return (a + b - 1) / b;
}

mac_choice mac_choose(const hw_consts &k, int a, int b, int acc)
{
    const hw_params &p = k.p;
    const hw_energy &e = p.energy;
    char name[96];
    int fixed_bits = a == 32 ? b : a;
    if ((a == 32) != (b == 32) && fixed_bits <= 18) {
        /* float32 x fixed point: the 24-bit significand times the fixed operand is one 25 x 18
         * product; the rest is the float32 adder. Its energy: the adder plus the float32
         * multiplier's share scaled by the product's bits. */
        double mult_pj = std::max(0.0, e.fp32_mac_pj - e.fp32_add_pj);
        uint64_t lanes = (uint64_t)std::floor(p.dsps / p.fp32_fixed_dsps_per_mac + 1e-9);
        mac_choice c{MAC_FP32, std::max<uint64_t>(1, lanes),
                     p.fp32_mac_ii, 0};
        std::snprintf(name, sizeof name, "mac fp32 x %db", fixed_bits);
        c.action = k.actions->intern(HW_DSP, name, true, e.fp32_add_pj + mult_pj * fixed_bits / 24.0);
        return c;
    }
    if (a == 32 || b == 32) {
        mac_choice c{MAC_FP32, (uint64_t)std::max(1, p.dsps / p.fp32_dsps_per_mac), p.fp32_mac_ii, 0};
        c.action = k.actions->intern(HW_DSP, "mac fp32", true, e.fp32_mac_pj);
        return c;
    }
    int hi = std::max(a, b), lo = std::min(a, b);
    /* A DSP48E1 multiplies 25 x 18 signed bits, a DSP48E2 27 x 18 (hardware.dsp_a_bits); wider
     * products take several slices. */
    int A = p.dsp_a_bits;
    int per_dsp = (hi <= A && lo <= 18) ? 1 : (int)(cdiv(hi, A - 1) * cdiv(lo, 17));
    struct option {
        mac_resource res;
        double pj;
        uint64_t lanes;
    };
    std::vector<option> opts;
    /* Packing: two MACs share the narrow-or-equal operand b_w on the 18-bit B port and put
     * their other operands side by side in the A port; the lower product and a guard bit must
     * fit below the upper operand: 2 n + w + 1 <= 25 on a DSP48E1 (8x8: exactly 25, as WP487
     * notes), <= 27 on a DSP48E2 (8x8 with two more guard bits, WP486). A packed MAC costs the
     * 8x8 packed energy scaled like one DSP MAC's. */
    auto one_dsp = [&](int x, int y) { return e.dsp_mac_base_pj + e.dsp_mac_product_pj * x * y / 450.0; };
    if (p.int8_macs_per_dsp >= 2 && lo <= p.pack_max_bits && hi <= 18 && 2 * lo + hi + 1 <= A)
        opts.push_back({MAC_DSP_PACKED, e.dsp_mac_packed8_pj * one_dsp(a, b) / one_dsp(8, 8),
                        (uint64_t)p.dsps * 2});
    if (p.dsps >= per_dsp)
        opts.push_back({MAC_DSP, per_dsp * e.dsp_mac_base_pj + e.dsp_mac_product_pj * a * b / 450.0,
                        (uint64_t)(p.dsps / per_dsp)});
    int acc_l = std::min(acc > 0 ? acc : 48, a + b + 16);
    double luts = p.luts_per_mult_bit2 * a * b + acc_l;
    uint64_t lut_lanes = (uint64_t)std::floor(p.lut_mac_budget / luts);
    if (lut_lanes >= 1)
        opts.push_back({MAC_LUT,
                        e.bram_lut_scale * (e.lut_mult_pj_per_bit2 * a * b + e.lut_acc_pj_per_bit * acc_l),
                        lut_lanes});
    /* Cheapest in (rounded) fJ; ties to the faster one. */
    const option *best = nullptr;
    for (const option &o : opts) {
        if (!best || std::llround(o.pj * 1000) < std::llround(best->pj * 1000) ||
            (std::llround(o.pj * 1000) == std::llround(best->pj * 1000) && o.lanes > best->lanes))
            best = &o;
    }
    switch (best->res) {
    case MAC_DSP_PACKED:
        std::snprintf(name, sizeof name, "mac %dx%d packed (2 per DSP)", a, b);
        break;
    case MAC_DSP:
        if (per_dsp == 1)
            std::snprintf(name, sizeof name, "mac %dx%d", a, b);
        else
            std::snprintf(name, sizeof name, "mac %dx%d (%d DSPs)", a, b, per_dsp);
        break;
    default:
        std::snprintf(name, sizeof name, "mac %dx%d (acc %d)", a, b, acc_l);
        break;
    }
    mac_choice c{best->res, best->lanes, 1, 0};
    c.action = k.actions->intern(best->res == MAC_LUT ? HW_LUT : HW_DSP, name, true, best->pj);
    return c;
}

uint32_t lut_op_action(const hw_consts &k, int bits, const char *what)
{
    char name[96];
    if (bits == 32) {
        std::snprintf(name, sizeof name, "%s fp32", what);
        return k.actions->intern(HW_DSP, name, true, k.p.energy.fp32_add_pj);
    }
    std::snprintf(name, sizeof name, "%s %db", what, bits);
    return k.actions->intern(HW_LUT, name, true,
                             k.p.energy.bram_lut_scale * k.p.energy.lut_acc_pj_per_bit * bits);
}

uint64_t eltwise_lanes(const hw_consts &k, int bits)
{
    uint64_t lanes = (uint64_t)k.p.eltwise_lanes;
    if (bits == 32)
        lanes = std::min<uint64_t>(lanes, (uint64_t)std::max(1, k.p.dsps / k.p.fp32_dsps_per_mac));
    return lanes;
}

void lanes_shape(uint64_t lanes, uint64_t M, uint64_t P, uint64_t *tm, uint64_t *tp)
{
    uint64_t best_tiles = UINT64_MAX, best_reads = UINT64_MAX;
    *tm = 1;
    *tp = 1;
    for (uint64_t m = 1; m <= std::min(lanes, M); m++) {
        uint64_t p = std::min(lanes / m, P);
        if (p == 0)
            break;
        uint64_t tiles = cdiv(M, m) * cdiv(P, p), reads = m + p;
        if (tiles < best_tiles || (tiles == best_tiles && reads < best_reads)) {
            best_tiles = tiles;
            best_reads = reads;
            *tm = m;
            *tp = p;
        }
    }
}

/* ---------------------------------------------------------------- the compute thread */

dsp_array::dsp_array(sc_module_name name, engine_state &st, pipeline_channels &ch)
    : sc_module(name), st_(st), ch_(ch)
{
    SC_HAS_PROCESS(dsp_array);
    SC_THREAD(compute_thread);
}

void dsp_array::compute_thread()
{
    for (;;) {
        int i = ch_.loaded.read();
        job &j = *st_.cur;
        const step &s = j.s->steps[(size_t)i];
        ch_.out_free.wait();
        uint64_t t0 = (uint64_t)(sc_time_stamp().value() / 1000) - j.start;
        if (s.compute_cycles)
            wait(sc_time((double)s.compute_cycles, SC_NS));
        for (auto &a : s.actions)
            j.counts.add(a.first, a.second);
        if (j.timeline && s.compute_cycles)
            j.timeline->push_back({"dsp array", "step " + std::to_string(i), t0, t0 + s.compute_cycles});
        ch_.in_free.post();
        ch_.steps_computed = (uint64_t)i + 1;
        ch_.step_computed.notify();
        ch_.computed.write(i);
    }
}

/* ---------------------------------------------------------------- bit-accurate tile */

mac_tile::mac_tile(sc_module_name name) : sc_module(name)
{
    SC_HAS_PROCESS(mac_tile);
    SC_THREAD(run_thread);
}

/* Each lane is one DSP48E1: A (25-bit port) holds the weight, B (18-bit port) the activation,
 * M = A*B, P = P + M in the 48-bit post-adder; one MAC per lane per clock. */
void mac_tile::run_thread()
{
    for (;;) {
        wait(start);
        tile_request &t = *req;
        uint64_t ho = (uint64_t)((t.h + 2 * t.pad - t.k) / t.stride + 1);
        uint64_t wo = (uint64_t)((t.w + 2 * t.pad - t.k) / t.stride + 1);
        uint64_t M = (uint64_t)t.cout, P = ho * wo, R = (uint64_t)t.cin * t.k * t.k, tm, tp;
        lanes_shape(t.lanes, M, P, &tm, &tp);
        std::vector<int64_t> preg(tm * tp);
        sc_time t_start = sc_time_stamp();
        for (uint64_t m0 = 0; m0 < M; m0 += tm)
            for (uint64_t p0 = 0; p0 < P; p0 += tp) {
                std::fill(preg.begin(), preg.end(), 0);
                for (uint64_t r = 0; r < R; r++) {
                    int ci = (int)(r / (uint64_t)(t.k * t.k)), kh = (int)(r / t.k % t.k),
                        kw = (int)(r % t.k);
                    for (uint64_t mm = 0; mm < tm && m0 + mm < M; mm++)
                        for (uint64_t pp = 0; pp < tp && p0 + pp < P; pp++) {
                            uint64_t o = m0 + mm, px = p0 + pp;
                            int oy = (int)(px / wo), ox = (int)(px % wo);
                            int iy = oy * t.stride + kh - t.pad, ix = ox * t.stride + kw - t.pad;
                            int32_t a = t.wt[((o * t.cin + ci) * t.k + kh) * t.k + kw];
                            int32_t b = (iy >= 0 && iy < t.h && ix >= 0 && ix < t.w)
                                            ? t.x[((size_t)ci * t.h + iy) * t.w + ix]
                                            : 0;
                            int64_t &acc = preg[mm * tp + pp];
                            acc = dsp48_wrap(acc + (int64_t)a * b);
                        }
                    wait(sc_time(1.0, SC_NS));
                }
                for (uint64_t mm = 0; mm < tm && m0 + mm < M; mm++)
                    for (uint64_t pp = 0; pp < tp && p0 + pp < P; pp++)
                        t.out[(m0 + mm) * P + p0 + pp] = preg[mm * tp + pp];
            }
        t.cycles = (uint64_t)((sc_time_stamp() - t_start).value() / 1000);
        done.notify();
    }
}

extern "C" int hw_conv_tile_i16(struct hw_model *m, const int16_t *x, int cin, int h, int w,
                                const int16_t *wt, int cout, int k, int stride, int pad,
                                int64_t *out, uint64_t *cycles, char *err, size_t errlen)
{
    auto fail = [&](int code, const char *msg) {
        if (err && errlen)
            std::snprintf(err, errlen, "hw_conv_tile_i16: %s", msg);
        return code;
    };
    if (!m || !x || !wt || !out)
        return fail(2, "NULL argument");
    if (cin < 1 || h < 1 || w < 1 || cout < 1 || k < 1 || stride < 1 || pad < 0 ||
        h + 2 * pad < k || w + 2 * pad < k)
        return fail(2, "bad tile shape");
    tile_request t;
    t.x = x;
    t.wt = wt;
    t.cin = cin;
    t.h = h;
    t.w = w;
    t.cout = cout;
    t.k = k;
    t.stride = stride;
    t.pad = pad;
    t.out = out;
    t.lanes = (uint64_t)m->k.p.dsps;   /* 16-bit operands: one MAC per DSP */
    std::string e;
    if (!engine_run_tile(t, &e))
        return fail(1, e.c_str());
    if (cycles)
        *cycles = t.cycles;
    return 0;
}

} // namespace e2hw
