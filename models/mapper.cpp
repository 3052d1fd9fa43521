/* The mapper (see mapper.h and docs/hardware.md, "The mapper"). */
#include "mapper.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "bram_buffer.h"
#include "dsp_array.h"
#include "ps_a9.h"

namespace e2hw {

namespace {

uint64_t cdiv(uint64_t a, uint64_t b)
{
    return (a + b - 1) / b;
}

uint64_t nz(uint64_t v)
{
    return v ? v : 1;
}

uint64_t bytes_of(uint64_t elems, int bits)
{
    return cdiv(elems * (uint64_t)bits, 8);
}

/* total * b / N - total * a / N: splits `total` over [0, N) so that the parts add up exactly. */
uint64_t part(uint64_t total, uint64_t a, uint64_t b, uint64_t N)
{
    return (uint64_t)((unsigned __int128)total * b / N - (unsigned __int128)total * a / N);
}

/* The distinct values of ceil(N / t) for t = 1..N, largest first: the tile sizes worth trying. */
std::vector<uint64_t> divisions(uint64_t N)
{
    std::vector<uint64_t> v;
    for (uint64_t t = 1; t <= N;) {
        uint64_t q = cdiv(N, t);
        v.push_back(q);
        if (q == 1)
            break;
        t = cdiv(N, q - 1);
    }
    return v;
}

/* `count` runs of n elements of `bits` each, the first at element e0, then every `stride`. */
void elem_runs(const hw_consts &k, xfer &x, uint64_t e0, uint64_t n, uint64_t stride,
               uint64_t count, int bits)
{
    if (n == 0 || count == 0 || bits == 0)
        return;
    if (stride == n) {   /* back to back: one run */
        n *= count;
        count = 1;
    }
    for (uint64_t c = 0; c < count; c++) {
        uint64_t s = e0 + c * stride;
        uint64_t b0 = s * (uint64_t)bits / 8, b1 = cdiv((s + n) * (uint64_t)bits, 8);
        xfer_add_runs(k, x, b0, b1 - b0, 0, 1);
    }
}

xfer make_xfer(bool write)
{
    xfer x;
    x.write = write;
    return x;
}

bool fail(std::string *err, const char *fmt, unsigned long long a = 0, unsigned long long b = 0)
{
    char buf[256];
    std::snprintf(buf, sizeof buf, fmt, a, b);
    if (err)
        *err = buf;
    return false;
}

/* What a conv/fc record says, with FC as a 1x1 conv on 1x1 maps. */
struct conv_shape {
    uint64_t n, cin, cout, g, hi, wi, ho, wo, ks, stride, pad;
    explicit conv_shape(const oprec &r)
    {
        bool fc = r.kind == OP_FC;
        n = r.n;
        cin = nz(r.cin);
        cout = nz(r.cout);
        g = fc ? 1 : nz(r.groups);
        hi = fc ? 1 : nz(r.h_in);
        wi = fc ? 1 : nz(r.w_in);
        ho = fc ? 1 : nz(r.h_out);
        wo = fc ? 1 : nz(r.w_out);
        ks = fc ? 1 : nz(r.k);
        stride = fc ? 1 : nz(r.stride);
        pad = fc ? 0 : r.pad;
    }
    uint64_t macs_per_sample() const { return cout * ho * wo * (cin / g) * ks * ks; }
};

/* Tiles of mt output channels by `rows` output rows: those that fit the BRAM budget with the
 * stationary buffer and double-buffered input and output bands, then the least DDR traffic
 * per sample (input bands are what a tile re-reads), then the fewest steps. The sizes in bytes
 * come from stationary(mt), in_band(mt, rows) and out_band(mt, rows). false: nothing fits. */
template <class Stationary, class InBand, class OutBand>
bool choose_tiles(const hw_consts &k, uint64_t M, uint64_t Ho, Stationary stationary,
                  InBand in_band, OutBand out_band, uint64_t *best_mt, uint64_t *best_rows)
{
    uint64_t best_traffic = UINT64_MAX, best_steps = UINT64_MAX;
    *best_mt = *best_rows = 0;
    for (uint64_t mt : divisions(M))
        for (uint64_t rows : divisions(Ho)) {
            uint64_t inb = in_band(mt, rows);
            if (stationary(mt) + 2 * (inb + out_band(mt, rows)) > k.bram_bytes)
                continue;
            uint64_t steps = cdiv(M, mt) * cdiv(Ho, rows), traffic = steps * inb;
            if (traffic < best_traffic || (traffic == best_traffic && steps < best_steps)) {
                best_traffic = traffic;
                best_steps = steps;
                *best_mt = mt;
                *best_rows = rows;
            }
        }
    return *best_mt != 0;
}

/* Input values a tm x tp lane grid needs per cycle: each input is broadcast to the output rows
 * of its group (a dense conv: all tm rows; a depthwise conv, one output channel per group: no
 * row shares an input, tm x tp values). */
uint64_t grid_inputs(uint64_t tm, uint64_t tp, uint64_t rows_per_group)
{
    return cdiv(tm, rows_per_group) * tp;
}

/* Cycles between reduction steps of the grid: the lanes' interval, or longer when the input
 * buffer's read ports (hardware.array_input_words) cannot deliver the step's inputs. */
uint64_t step_interval(const hw_consts &k, int ii, uint64_t input_words)
{
    return std::max<uint64_t>((uint64_t)ii, cdiv(input_words, (uint64_t)k.p.array_input_words));
}

/* ---- forward and backward-data: weights stationary, samples streamed ----
 * Per output-row tile (mt output channels) the weights are loaded once; then every sample's
 * input band is loaded, computed into an output band, stored. Backward-data is the transposed
 * convolution: output channels are cin, the streamed input is g_y. */
bool map_fwd_like(const hw_consts &k, const oprec &r, bool bwd, schedule *out, std::string *err)
{
    conv_shape s(r);
    uint64_t M = bwd ? s.cin : s.cout, C = bwd ? s.cout : s.cin;
    uint64_t Hi = bwd ? s.ho : s.hi, Wi = bwd ? s.wo : s.wi;
    uint64_t Ho = bwd ? s.hi : s.ho, Wo = bwd ? s.wi : s.wo;
    uint64_t mpg = M / s.g, cpg = C / s.g, kk = s.ks * s.ks;
    uint64_t wrow = cpg * kk;   /* weights per output channel */
    uint64_t R = bwd ? cdiv(cpg * kk, s.stride * s.stride) : cpg * kk;   /* cycles per lane tile */
    int ba = r.bits_a, bw = r.bits_b, bo = r.bits_out ? r.bits_out : r.bits_a;
    mac_choice mc = mac_choose(k, ba, bw, r.bits_acc);

    auto in_rows = [&](uint64_t rows) {
        uint64_t v = bwd ? cdiv(rows + s.ks - 1, s.stride) : (rows - 1) * s.stride + s.ks;
        return std::min(Hi, v);
    };
    auto in_row0 = [&](uint64_t r0, uint64_t ir) {
        uint64_t c = bwd ? r0 / s.stride : r0 * s.stride;
        c = c >= s.pad ? c - s.pad : 0;
        return std::min(c, Hi - ir);
    };
    auto ch_worst = [&](uint64_t mt) {
        return s.g == 1 ? C : std::min(C, (cdiv(mt, mpg) + 1) * cpg);
    };

    auto stationary = [&](uint64_t mt) { return bytes_of(mt * wrow, bw); };
    auto in_band = [&](uint64_t mt, uint64_t rows) {
        return bytes_of(ch_worst(mt) * in_rows(rows) * Wi, ba);
    };
    auto out_band = [&](uint64_t mt, uint64_t rows) { return bytes_of(mt * rows * Wo, bo); };
    uint64_t best_mt, best_rows;
    if (!choose_tiles(k, M, Ho, stationary, in_band, out_band, &best_mt, &best_rows))
        return fail(err, "op does not fit the BRAM budget (%llu bytes)", k.bram_bytes);

    /* Room for a second stationary buffer lets the next tile's weights load during compute. */
    bool double_stat = 2 * stationary(best_mt) +
                           2 * (in_band(best_mt, best_rows) + out_band(best_mt, best_rows)) <=
                       k.bram_bytes;
    uint64_t prev_tile = 0;

    uint64_t tm, tp;
    lanes_shape(mc.lanes, best_mt, best_rows * Wo, &tm, &tp);
    uint64_t in_words = bram_words_bits(grid_inputs(tm, tp, mpg), ba);
    uint64_t words_per_cycle = bram_words_bits(tm, bw) + in_words;
    uint64_t interval = step_interval(k, mc.ii, in_words);
    uint64_t macs_ps = s.macs_per_sample();
    uint32_t requant = bo != 32 ? lut_op_action(k, bo, "requantize to") : 0;

    for (uint64_t m0 = 0; m0 < M; m0 += best_mt) {
        uint64_t mtc = std::min(best_mt, M - m0);
        uint64_t c0 = 0, c1 = C;
        if (s.g != 1) {
            c0 = m0 / mpg * cpg;
            c1 = std::min(C, cdiv(m0 + mtc, mpg) * cpg);
        }
        uint64_t tile_macs = part(macs_ps, m0, m0 + mtc, M);
        for (uint64_t n = 0; n < s.n; n++)
            for (uint64_t r0 = 0; r0 < Ho; r0 += best_rows) {
                uint64_t rc = std::min(best_rows, Ho - r0);
                step st;
                if (n == 0 && r0 == 0) {
                    st.barrier = true;
                    st.wait_computed = double_stat ? prev_tile : out->steps.size();
                    prev_tile = out->steps.size();
                    xfer w = make_xfer(false);
                    elem_runs(k, w, m0 * wrow, mtc * wrow, 0, 1, bw);
                    st.loads.push_back(w);
                }
                uint64_t ir = in_rows(rc), i0 = in_row0(r0, ir);
                xfer in = make_xfer(false);
                if (ir == Hi)
                    elem_runs(k, in, c0 * Hi * Wi, (c1 - c0) * Hi * Wi, 0, 1, ba);
                else
                    elem_runs(k, in, c0 * Hi * Wi + i0 * Wi, ir * Wi, Hi * Wi, c1 - c0, ba);
                st.loads.push_back(in);
                uint64_t lt = cdiv(mtc, tm) * cdiv(rc * Wo, tp);
                st.compute_cycles = lt * R * interval + (uint64_t)k.p.array_step_overhead_cycles;
                uint64_t outs = mtc * rc * Wo;
                st.actions.push_back({mc.action, part(tile_macs, r0, r0 + rc, Ho)});
                st.actions.push_back({k.a_bram_rd, lt * R * words_per_cycle});
                st.actions.push_back({k.a_bram_wr, bram_words(bytes_of(outs, bo))});
                if (bo != 32)
                    st.actions.push_back({requant, outs});
                xfer o = make_xfer(true);
                if (rc == Ho)
                    elem_runs(k, o, m0 * Ho * Wo, mtc * Ho * Wo, 0, 1, bo);
                else
                    elem_runs(k, o, m0 * Ho * Wo + r0 * Wo, rc * Wo, Ho * Wo, mtc, bo);
                st.stores.push_back(o);
                out->steps.push_back(std::move(st));
            }
    }
    return true;
}

/* ---- backward-weight: gradient accumulators stationary, samples streamed ----
 * Per tile of mt output channels, 32-bit partial sums of g_w stay in BRAM while every sample's
 * x and g_y bands stream through; the finished tile is written once. PSG's predictor pass
 * fetches only the MSB planes of x and g_y; its low-order pass is priced as a full pass. */
bool map_wgrad(const hw_consts &k, const oprec &r, map_variant v, schedule *out, std::string *err)
{
    conv_shape s(r);
    uint64_t M = s.cout, C = s.cin, mpg = M / s.g, cpg = C / s.g, kk = s.ks * s.ks;
    uint64_t P = cpg * kk, Hi = s.hi, Wi = s.wi, Ho = s.ho, Wo = s.wo;
    int bx = v == MAP_PSG_MSB ? r.msb_a : r.bits_a;
    int bg = v == MAP_PSG_MSB ? r.msb_b : r.bits_b;
    int bo = v == MAP_PSG_LOW ? 0 : v == MAP_PSG_MSB ? 1 : (r.bits_out ? r.bits_out : 32);
    mac_choice mc = mac_choose(k, bx, bg, r.bits_acc);
    const uint64_t acc_bytes = 4;

    auto in_rows = [&](uint64_t rows) { return std::min(Hi, (rows - 1) * s.stride + s.ks); };
    auto in_row0 = [&](uint64_t r0, uint64_t ir) {
        uint64_t c = r0 * s.stride;
        c = c >= s.pad ? c - s.pad : 0;
        return std::min(c, Hi - ir);
    };
    auto ch_worst = [&](uint64_t mt) {
        return s.g == 1 ? C : std::min(C, (cdiv(mt, mpg) + 1) * cpg);
    };

    auto stationary = [&](uint64_t mt) { return mt * P * acc_bytes; };   /* g_w accumulators */
    auto in_band = [&](uint64_t mt, uint64_t rows) {
        return bytes_of(ch_worst(mt) * in_rows(rows) * Wi, bx);
    };
    auto out_band = [&](uint64_t mt, uint64_t rows) { return bytes_of(mt * rows * Wo, bg); };
    uint64_t best_mt, best_rows;
    if (!choose_tiles(k, M, Ho, stationary, in_band, out_band, &best_mt, &best_rows))
        return fail(err, "op does not fit the BRAM budget (%llu bytes)", k.bram_bytes);

    uint64_t acc = stationary(best_mt);
    bool double_stat = 2 * acc + 2 * (in_band(best_mt, best_rows) + out_band(best_mt, best_rows)) <=
                       k.bram_bytes;
    uint64_t prev_tile = 0;

    uint64_t tm, tp;
    lanes_shape(mc.lanes, best_mt, P, &tm, &tp);
    uint64_t in_words = bram_words_bits(grid_inputs(tm, tp, mpg), bx);   /* x, down the rows */
    uint64_t words_per_cycle = bram_words_bits(tm, bg) + in_words;
    uint64_t interval = step_interval(k, mc.ii, in_words);
    uint64_t macs_ps = s.macs_per_sample();
    /* Finishing a weight: requantize it, or (PSG) compare |g_w^msb| with tau and pick a sign. */
    uint32_t finish = 0;
    if (v == MAP_PSG_MSB)
        finish = k.actions->intern(HW_LUT, "sign select 32b", true,
                                   k.p.energy.bram_lut_scale * k.p.energy.lut_acc_pj_per_bit * 32);
    else if (v == MAP_PLAIN && bo != 32)
        finish = lut_op_action(k, bo, "requantize to");

    for (uint64_t m0 = 0; m0 < M; m0 += best_mt) {
        uint64_t mtc = std::min(best_mt, M - m0);
        uint64_t c0 = 0, c1 = C;
        if (s.g != 1) {
            c0 = m0 / mpg * cpg;
            c1 = std::min(C, cdiv(m0 + mtc, mpg) * cpg);
        }
        uint64_t tile_macs = part(macs_ps, m0, m0 + mtc, M);
        for (uint64_t n = 0; n < s.n; n++)
            for (uint64_t r0 = 0; r0 < Ho; r0 += best_rows) {
                uint64_t rc = std::min(best_rows, Ho - r0);
                bool first = n == 0 && r0 == 0, last = n + 1 == s.n && r0 + rc == Ho;
                step st;
                if (first) {
                    st.barrier = true;
                    st.wait_computed = double_stat ? prev_tile : out->steps.size();
                    prev_tile = out->steps.size();
                }
                uint64_t ir = in_rows(rc), i0 = in_row0(r0, ir);
                xfer x = make_xfer(false);
                if (ir == Hi)
                    elem_runs(k, x, c0 * Hi * Wi, (c1 - c0) * Hi * Wi, 0, 1, bx);
                else
                    elem_runs(k, x, c0 * Hi * Wi + i0 * Wi, ir * Wi, Hi * Wi, c1 - c0, bx);
                st.loads.push_back(x);
                xfer gy = make_xfer(false);
                if (rc == Ho)
                    elem_runs(k, gy, m0 * Ho * Wo, mtc * Ho * Wo, 0, 1, bg);
                else
                    elem_runs(k, gy, m0 * Ho * Wo + r0 * Wo, rc * Wo, Ho * Wo, mtc, bg);
                st.loads.push_back(gy);
                uint64_t lt = cdiv(mtc, tm) * cdiv(P, tp);
                st.compute_cycles =
                    lt * rc * Wo * interval + (uint64_t)k.p.array_step_overhead_cycles;
                st.actions.push_back({mc.action, part(tile_macs, r0, r0 + rc, Ho)});
                /* operands, then the lanes' sums added into the BRAM accumulators */
                st.actions.push_back({k.a_bram_rd, lt * rc * Wo * words_per_cycle + (first ? 0 : mtc * P)});
                st.actions.push_back({k.a_bram_wr, mtc * P});
                if (last && bo) {
                    if (finish)
                        st.actions.push_back({finish, mtc * P});
                    xfer gw = make_xfer(true);
                    elem_runs(k, gw, m0 * P, mtc * P, 0, 1, bo);
                    st.stores.push_back(gw);
                }
                out->steps.push_back(std::move(st));
            }
    }
    return true;
}

/* ---- element-wise streams (bn, relu, add, pool, update): memory-bound ---- */
struct ew_stream {
    uint64_t elems;
    int bits;
};
struct ew_pass {
    std::vector<ew_stream> in, out;
    std::vector<std::pair<uint32_t, uint64_t>> per_elem;   /* actions per driving element */
    uint64_t ops = 1;   /* lane operations per element; 0: done in another op's stream */
    int lane_bits = 8;
    uint64_t lanes = 0;   /* 0: the element-wise unit; MAC passes run on the DSP array's lanes */
    uint64_t elems = 0;   /* driving elements when no stream says (fused passes) */
};

bool map_eltwise(const hw_consts &k, const std::vector<ew_pass> &passes, uint64_t n_iter,
                 schedule *out, std::string *err)
{
    for (size_t pi = 0; pi < passes.size(); pi++) {
        const ew_pass &ps = passes[pi];
        uint64_t E = std::max<uint64_t>(1, ps.elems);
        int maxbits = 1;
        for (auto &st : ps.in)
            E = std::max(E, st.elems), maxbits = std::max(maxbits, st.bits);
        for (auto &st : ps.out)
            E = std::max(E, st.elems), maxbits = std::max(maxbits, st.bits);
        uint64_t ce = std::max<uint64_t>(1, (uint64_t)k.p.dma_chunk_bytes * 8 / (uint64_t)maxbits);
        ce = std::min(ce, E);
        uint64_t need = 0;
        for (auto &st : ps.in)
            need += 2 * bytes_of(cdiv(st.elems * ce, E), st.bits);
        for (auto &st : ps.out)
            need += 2 * bytes_of(cdiv(st.elems * ce, E), st.bits);
        if (need > k.bram_bytes)
            return fail(err, "element-wise chunks need %llu bytes of BRAM, budget %llu", need,
                        k.bram_bytes);
        uint64_t lanes = ps.lanes ? ps.lanes : eltwise_lanes(k, ps.lane_bits);
        for (uint64_t n = 0; n < n_iter; n++)
            for (uint64_t lo = 0; lo < E; lo += ce) {
                uint64_t hi = std::min(E, lo + ce), de = hi - lo;
                step st;
                st.barrier = pi > 0 && n == 0 && lo == 0;   /* a pass needs the previous one's statistics */
                st.wait_computed = out->steps.size();
                uint64_t rd = 0, wr = 0;
                for (auto &in : ps.in) {
                    uint64_t e0 = in.elems * lo / E, e1 = in.elems * hi / E;
                    xfer x = make_xfer(false);
                    elem_runs(k, x, e0, e1 - e0, 0, 1, in.bits);
                    if (x.bytes)
                        st.loads.push_back(x);
                    rd += bram_words(bytes_of(e1 - e0, in.bits));
                }
                for (auto &o : ps.out) {
                    uint64_t e0 = o.elems * lo / E, e1 = o.elems * hi / E;
                    xfer x = make_xfer(true);
                    elem_runs(k, x, e0, e1 - e0, 0, 1, o.bits);
                    if (x.bytes)
                        st.stores.push_back(x);
                    wr += bram_words(bytes_of(e1 - e0, o.bits));
                }
                st.compute_cycles = cdiv(de * ps.ops, lanes) + (uint64_t)k.p.array_step_overhead_cycles;
                for (auto &a : ps.per_elem)
                    st.actions.push_back({a.first, a.second * de});
                st.actions.push_back({k.a_bram_rd, rd});
                if (wr)
                    st.actions.push_back({k.a_bram_wr, wr});
                out->steps.push_back(std::move(st));
            }
    }
    return true;
}

bool map_elementwise_op(const hw_consts &k, const oprec &r, schedule *out, std::string *err)
{
    int ba = r.bits_a, bb = r.bits_b ? r.bits_b : r.bits_a, bo = r.bits_out ? r.bits_out : r.bits_a;
    uint64_t Ein = nz(r.cin) * nz(r.h_in) * nz(r.w_in);
    uint64_t Eout = (r.cout ? r.cout : nz(r.cin)) * nz(r.h_out ? r.h_out : r.h_in) *
                    nz(r.w_out ? r.w_out : r.w_in);
    bool fwd = r.phase == OP_PHASE_FWD;
    std::vector<ew_pass> passes;
    uint64_t mac_lanes = 0;
    auto mac = [&](int a, int b) {
        mac_choice c = mac_choose(k, a, b, r.bits_acc);
        mac_lanes = c.lanes / (uint64_t)c.ii;
        return c.action;
    };
    int coef = ba == 32 ? 32 : 16;   /* BN scale/shift and optimizer coefficients */

    if (r.kind == OP_UPDATE || r.phase == OP_PHASE_UPDATE) {
        /* SGD with momentum and weight decay on the float32 master weights and momentum the
         * kernels keep (kernels/optim.c): reads g, w, v; writes w, v and, when the forward reads
         * narrower weights (bits_b), their stored copy; 3 float32 MACs per weight. */
        const int master = 32;
        uint64_t kk = nz(r.k) * nz(r.k);
        uint64_t W = nz(r.cout) * (nz(r.cin) / nz(r.groups)) * kk;
        int bw = r.bits_b ? r.bits_b : master;
        ew_pass p;
        p.in = {{W, ba}, {W, master}, {W, master}};
        p.out = {{W, master}, {W, master}};
        if (bw != master)
            p.out.push_back({W, bw});
        p.per_elem = {{mac(master, master), 3}};
        p.ops = 3;
        p.lane_bits = master;
        p.lanes = mac_lanes;
        passes.push_back(p);
        return map_eltwise(k, passes, 1, out, err);
    }
    bool fused = k.fused;
    auto lut = [&](int bits, const char *what) {
        return std::vector<std::pair<uint32_t, uint64_t>>{{lut_op_action(k, bits, what), 1}};
    };
    switch (r.kind) {
    case OP_RELU: {
        /* fused: the compare runs in the consumer's input stream; forward writes the 1-bit mask
         * the backward reads. unfused: its own pass over x (g_y and x backward). */
        ew_pass p;
        p.elems = Ein;
        if (fwd) {
            p.in = fused ? std::vector<ew_stream>{} : std::vector<ew_stream>{{Ein, ba}};
            p.out = {{Eout, fused ? 1 : bo}};
        } else {
            p.in = fused ? std::vector<ew_stream>{{Ein, 1}}
                         : std::vector<ew_stream>{{Eout, ba}, {Ein, bb}};
            if (!fused)
                p.out = {{Ein, bo}};
        }
        p.per_elem = lut(ba, "relu");
        p.ops = fused ? 0 : 1;   /* fused: at the consumer's stream's pace */
        p.lane_bits = ba;
        passes.push_back(p);
        break;
    }
    case OP_ADD: {
        /* forward, both dataflows: the block output (the next block's shortcut) is written
         * once from y (BN and ReLU applied on the way) and the shortcut. Backward fused: the
         * shortcut's gradient is added where the gradient is written; unfused: its own pass. */
        ew_pass p;
        p.elems = Ein;
        if (fwd || !fused) {
            p.in = {{Ein, ba}, {Ein, bb}};
            p.out = {{Eout, bo}};
        } else {
            p.in = {{Ein, bb}};
            p.ops = 0;   /* at the pace of the stream that writes the gradient */
        }
        p.per_elem = lut(std::max(ba, bb), "add");
        p.lane_bits = std::max(ba, bb);
        passes.push_back(p);
        break;
    }
    case OP_POOL: {
        ew_pass p;
        int acc = ba == 32 ? 32 : std::min(31, ba + 16);
        if (fwd) {
            p.in = {{Ein, ba}};
            p.out = {{Eout, bo}};
            p.per_elem = lut(acc, "pool accumulate");
        } else {
            p.in = {{Eout, ba}};
            p.out = {{Ein, bo}};
            p.per_elem = lut(bo, "pool spread");
        }
        p.lane_bits = ba;
        passes.push_back(p);
        break;
    }
    case OP_BN: {
        /* Statistics over (n, h, w) need the whole minibatch before the second pass.
         * fused forward: the sums gather in the producing conv's output stream and the affine
         * applies in the consumer's input stream (no DDR pass). fused backward: the sums read
         * y where g is written; the second pass reads g and y and writes g_x. */
        ew_pass p1, p2;
        p1.elems = p2.elems = Ein;
        p1.ops = 2;
        if (fwd) {
            p1.per_elem = {{mac(ba, ba), 2}};   /* sum x, sum x^2 */
            p1.lanes = mac_lanes;
            p2.per_elem = {{mac(ba, coef), 1}};   /* y = x * scale + shift */
            p2.lanes = mac_lanes;
            if (!fused) {
                p1.in = {{Ein, ba}};
                p2.in = {{Ein, ba}};
                p2.out = {{Eout, bo}};
            }
        } else {
            p1.per_elem = {{mac(ba, bb), 2}};   /* sum g, sum g * x_hat */
            p1.lanes = mac_lanes;
            p1.in = fused ? std::vector<ew_stream>{{Ein, bb}}
                          : std::vector<ew_stream>{{Ein, ba}, {Ein, bb}};
            p1.ops = fused ? 0 : 2;   /* fused: at the pace of the stream that writes g */
            p2.in = {{Ein, ba}, {Ein, bb}};
            p2.out = {{Ein, bo}};
            p2.per_elem = {{mac(ba, coef), 2}};
            p2.lanes = mac_lanes;
            p2.ops = 2;
        }
        p1.lane_bits = p2.lane_bits = ba;
        passes.push_back(p1);
        if (r.phase != OP_PHASE_BWD_WEIGHT)   /* gamma/beta gradients need only the sums */
            passes.push_back(p2);
        break;
    }
    default:
        return fail(err, "op kind %llu is not element-wise", r.kind);
    }
    bool streams = false;
    for (const ew_pass &p : passes)
        streams = streams || !p.in.empty() || !p.out.empty();
    out->hidden = !streams;   /* arithmetic inside the convs' streams: no time of its own */
    return map_eltwise(k, passes, r.n, out, err);
}

bool map_ps(const hw_consts &k, const oprec &r, schedule *out)
{
    ps_work w = ps_op_work(r);
    double ps_cycles_d = w.flops * k.p.ps.cycles_per_flop +
                         w.transcendentals * k.p.ps.cycles_per_transcendental;
    uint64_t ps_cycles = (uint64_t)std::ceil(ps_cycles_d - 1e-9);
    uint64_t pl_cycles = (uint64_t)std::ceil((double)ps_cycles * k.pl_hz / k.ps_hz - 1e-9);
    out->on_ps = true;
    out->hidden = k.p.ps.overlap_fabric;
    for (uint64_t n = 0; n < r.n; n++) {
        step st;
        xfer in = make_xfer(false), o = make_xfer(true);
        elem_runs(k, in, 0, w.in_elems, 0, 1, w.in_bits);
        elem_runs(k, o, 0, w.out_elems, 0, 1, w.out_bits);
        if (in.bytes)
            st.loads.push_back(in);
        if (o.bytes)
            st.stores.push_back(o);
        st.compute_cycles = pl_cycles;
        st.actions.push_back({k.a_ps_cycle, ps_cycles});
        if (uint64_t adds = fabric_pool_adds(r))
            st.actions.push_back({lut_op_action(k, 32, "gate pool (fused)"), adds});
        out->steps.push_back(std::move(st));
    }
    return true;
}

bool valid_bits(int b)
{
    return b >= 1 && b <= 32;
}

} // namespace

void xfer_add_runs(const hw_consts &k, xfer &x, uint64_t off, uint64_t len, uint64_t stride,
                   uint64_t count)
{
    for (uint64_t c = 0; c < count; c++) {
        if (len == 0)
            continue;
        uint64_t a = off + c * stride, e = a + len - 1;
        x.bytes += len;
        x.bursts += e / k.burst_bytes - a / k.burst_bytes + 1;
        x.rows += e / k.bus_page_bytes - a / k.bus_page_bytes + 1;
        x.beats += e / k.axi_beat_bytes - a / k.axi_beat_bytes + 1;
        if (len < (uint64_t)k.p.ddr.seq_run_bytes)
            x.seq = false;
    }
}

bool map_op(const hw_consts &k, const oprec &r, map_variant v, schedule *out, std::string *err)
{
    out->on_ps = false;
    out->hidden = false;
    out->steps.clear();
    if (r.kind >= OP_KIND_COUNT)
        return fail(err, "unknown op kind %llu", r.kind);
    if (r.phase >= OP_PHASE_COUNT)
        return fail(err, "unknown phase %llu", r.phase);
    if (!valid_bits(r.bits_a) || (r.bits_b && !valid_bits(r.bits_b)) ||
        (r.bits_out && !valid_bits(r.bits_out)))
        return fail(err, "operand widths must be 1..32 bits (a %llu, b %llu)", r.bits_a, r.bits_b);
    bool update = r.kind == OP_UPDATE || r.phase == OP_PHASE_UPDATE;
    if (ps_runs(r))
        return map_ps(k, r, out);
    if ((r.kind == OP_CONV || r.kind == OP_FC) && !update) {
        if (!r.cin || !r.cout)
            return fail(err, "conv/fc needs cin and cout (got %llu, %llu)", r.cin, r.cout);
        uint64_t g = r.kind == OP_FC ? 1 : nz(r.groups);
        if (r.cin % g || r.cout % g)
            return fail(err, "groups must divide cin and cout (cin %llu, cout %llu)", r.cin, r.cout);
        if (!valid_bits(r.bits_b))
            return fail(err, "conv/fc needs bits_b (got %llu)", r.bits_b);
        if (r.phase == OP_PHASE_BWD_WEIGHT) {
            if (v == MAP_PSG_MSB && (!r.msb_a || !r.msb_b || r.msb_a > r.bits_a || r.msb_b > r.bits_b))
                return fail(err, "PSG predictor widths must be 1..operand width (msb %llu, %llu)",
                            r.msb_a, r.msb_b);
            return map_wgrad(k, r, v, out, err);
        }
        return map_fwd_like(k, r, r.phase == OP_PHASE_BWD_DATA, out, err);
    }
    return map_elementwise_op(k, r, out, err);
}

schedule map_stream(const hw_consts &k, uint64_t bytes, bool write)
{
    schedule s;
    uint64_t chunk = (uint64_t)k.p.dma_chunk_bytes;
    for (uint64_t off = 0; off < bytes; off += chunk) {
        step st;
        xfer x = make_xfer(write);
        xfer_add_runs(k, x, off, std::min(chunk, bytes - off), 0, 1);
        (write ? st.stores : st.loads).push_back(x);
        s.steps.push_back(std::move(st));
    }
    return s;
}

} // namespace e2hw
