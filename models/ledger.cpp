/* The energy ledger: priced actions, op costs and their exact integer sums (see ledger.h). */
#include "ledger.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

namespace e2hw {

uint32_t action_table::intern(int component, const std::string &name, bool dynamic, double pj)
{
    std::string key = std::to_string(component) + "/" + name;
    auto it = ids.find(key);
    if (it != ids.end())
        return it->second;
    uint32_t id = (uint32_t)v.size();
    long long fj = std::llround(pj * 1000.0);
    bool mac = name.rfind("mac ", 0) == 0;   /* dsp_array.cpp's mac_choose names them so */
    v.push_back(action_desc{component, name, dynamic, fj > 0 ? (uint64_t)fj : 0, mac});
    ids.emplace(key, id);
    return id;
}

cost cost_acc::finish(uint64_t cycles) const
{
    cost out;
    out.cycles = cycles;
    for (uint32_t i = 0; i < c.size(); i++)
        if (c[i])
            out.counts.emplace_back(i, c[i]);
    return out;
}

/* The fields of hw_work, so that every operation on it treats them all alike. */
static uint64_t hw_work::*const work_fields[] = {
    &hw_work::macs,           &hw_work::ddr_read_bytes, &hw_work::ddr_write_bytes,
    &hw_work::bram_bytes,     &hw_work::compute_cycles, &hw_work::ddr_cycles,
    &hw_work::ps_cycles};

void work_add(hw_work &to, const hw_work &w, uint64_t times)
{
    for (auto f : work_fields)
        to.*f += w.*f * times;
}

cost cost_sum(const cost &a, const cost &b)
{
    cost_acc acc;
    for (auto &p : a.counts)
        acc.add(p.first, p.second);
    for (auto &p : b.counts)
        acc.add(p.first, p.second);
    cost out = acc.finish(a.cycles + b.cycles);
    out.work = a.work;
    work_add(out.work, b.work, 1);
    return out;
}

static uint64_t scale_q16(uint64_t v, uint32_t q16)
{
    return (uint64_t)(((unsigned __int128)v * q16 + 32768) >> 16);
}

cost cost_scale_q16(const cost &a, uint32_t q16)
{
    cost out;
    out.cycles = scale_q16(a.cycles, q16);
    for (auto &p : a.counts) {
        uint64_t n = scale_q16(p.second, q16);
        if (n)
            out.counts.emplace_back(p.first, n);
    }
    for (auto f : work_fields)
        out.work.*f = scale_q16(a.work.*f, q16);
    return out;
}

/* Counts of a cost as a dense map (ids absent = 0). */
static std::map<uint32_t, uint64_t> as_map(const cost &c)
{
    std::map<uint32_t, uint64_t> m;
    for (auto &p : c.counts)
        m[p.first] = p.second;
    return m;
}

bool cost_is_linear(const cost &c1, const cost &c2, const cost &c3)
{
    if (c3.cycles - c2.cycles != c2.cycles - c1.cycles || c2.cycles < c1.cycles)
        return false;
    auto m1 = as_map(c1), m2 = as_map(c2), m3 = as_map(c3);
    std::map<uint32_t, int> all;
    for (auto &p : m1) all[p.first] = 1;
    for (auto &p : m2) all[p.first] = 1;
    for (auto &p : m3) all[p.first] = 1;
    for (auto &p : all) {
        uint64_t a = m1[p.first], b = m2[p.first], c = m3[p.first];
        if (b < a || c - b != b - a)
            return false;
    }
    return true;
}

cost cost_extrapolate(const cost &c_prev, const cost &c_last, uint64_t steps)
{
    auto mp = as_map(c_prev);
    cost_acc acc;
    for (auto &p : c_last.counts)
        acc.add(p.first, p.second + steps * (p.second - mp[p.first]));
    cost out = acc.finish(c_last.cycles + steps * (c_last.cycles - c_prev.cycles));
    for (auto f : work_fields) {
        uint64_t last = c_last.work.*f, prev = c_prev.work.*f;
        out.work.*f = last >= prev ? last + steps * (last - prev)
                                   : (last > steps * (prev - last) ? last - steps * (prev - last) : 0);
    }
    return out;
}

bool ledger::add(uint16_t layer, uint8_t phase, uint8_t tech, const cost &c, uint64_t repeat,
                    const std::vector<uint32_t> &static_ids)
{
    size_t need = actions->v.size();
    if (action_total.size() < need)
        action_total.resize(need, 0);
    /* checked first, so that a count that would wrap leaves the ledger as it was */
    uint64_t cycles, sum;
    std::vector<uint64_t> after(action_total);
    auto add_to = [&](uint32_t id, uint64_t count) {
        uint64_t times;
        return !__builtin_mul_overflow(count, repeat, &times) &&
               !__builtin_add_overflow(after[id], times, &after[id]);
    };
    bool ok = !__builtin_mul_overflow(c.cycles, repeat, &cycles) &&
              !__builtin_add_overflow(cycles_total, cycles, &sum) &&
              !__builtin_add_overflow(records_total, repeat, &sum);
    for (auto &p : c.counts)
        ok = ok && add_to(p.first, p.second);
    for (uint32_t id : static_ids)
        ok = ok && add_to(id, c.cycles);
    if (!ok)
        return false;
    action_total.swap(after);
    cycles_total += cycles;
    records_total += repeat;
    ledger_bucket &b = buckets[(uint32_t)layer << 16 | (uint32_t)phase << 8 | tech];
    if (b.counts.size() < need)
        b.counts.resize(need, 0);
    for (auto &p : c.counts)
        b.counts[p.first] += p.second * repeat;
    for (uint32_t id : static_ids)
        b.counts[id] += c.cycles * repeat;
    b.cycles += cycles;
    b.records += repeat;
    work_add(b.work, c.work, repeat);
    return true;
}

/* ---------------------------------------------------------------- C API: ledgers, queries */

static bool bucket_selected(uint32_t key, const hw_filter *f)
{
    if (!f)
        return true;
    int layer = (int)(key >> 16), phase = (int)(key >> 8 & 0xff), tech = (int)(key & 0xff);
    return (f->layer == HW_ANY || f->layer == layer) && (f->phase == HW_ANY || f->phase == phase) &&
           (f->tech == HW_ANY || f->tech == tech);
}

static bool action_selected(const action_desc &a, const hw_filter *f)
{
    if (!f)
        return true;
    return (f->component == HW_ANY || f->component == a.component) &&
           (f->dynamic == HW_ANY || (f->dynamic != 0) == a.dynamic);
}

extern "C" {

struct hw_ledger *hw_ledger_new(void)
{
    return new (std::nothrow) hw_ledger();
}

void hw_ledger_free(struct hw_ledger *l)
{
    delete l;
}

void hw_ledger_clear(struct hw_ledger *l)
{
    if (l) {
        l->buckets.clear();
        l->precisions.clear();
        l->action_total.clear();
        l->cycles_total = l->records_total = 0;
    }
}

e2_fj hw_ledger_fj(const struct hw_ledger *l, const struct hw_filter *f)
{
    e2_fj sum = 0;
    if (!l || !l->actions)
        return 0;
    for (auto &kv : l->buckets) {
        if (!bucket_selected(kv.first, f))
            continue;
        const auto &counts = kv.second.counts;
        for (size_t i = 0; i < counts.size(); i++) {
            const action_desc &a = l->actions->v[i];
            if (counts[i] && action_selected(a, f))
                sum += (e2_fj)counts[i] * a.fj;
        }
    }
    return sum;
}

uint64_t hw_ledger_cycles(const struct hw_ledger *l, const struct hw_filter *f)
{
    uint64_t sum = 0;
    if (l)
        for (auto &kv : l->buckets)
            if (bucket_selected(kv.first, f))
                sum += kv.second.cycles;
    return sum;
}

double hw_ledger_seconds(const struct hw_ledger *l, const struct hw_filter *f)
{
    if (!l || l->pl_hz <= 0)
        return 0.0;
    return (double)hw_ledger_cycles(l, f) / l->pl_hz;
}

uint64_t hw_ledger_records(const struct hw_ledger *l, const struct hw_filter *f)
{
    uint64_t sum = 0;
    if (l)
        for (auto &kv : l->buckets)
            if (bucket_selected(kv.first, f))
                sum += kv.second.records;
    return sum;
}

size_t hw_ledger_rows(const struct hw_ledger *l, const struct hw_filter *f, struct hw_row *rows,
                      size_t max)
{
    if (!l || !l->actions)
        return 0;
    std::vector<uint64_t> total(l->actions->v.size(), 0);
    for (auto &kv : l->buckets) {
        if (!bucket_selected(kv.first, f))
            continue;
        const auto &counts = kv.second.counts;
        for (size_t i = 0; i < counts.size(); i++)
            total[i] += counts[i];
    }
    std::vector<uint32_t> order;
    for (uint32_t i = 0; i < total.size(); i++)
        if (total[i] && action_selected(l->actions->v[i], f))
            order.push_back(i);
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
        const action_desc &x = l->actions->v[a], &y = l->actions->v[b];
        if (x.component != y.component)
            return x.component < y.component;
        return x.name < y.name;
    });
    for (size_t i = 0; i < order.size() && i < max; i++) {
        const action_desc &a = l->actions->v[order[i]];
        rows[i].component = a.component;
        rows[i].component_name = hw_component_name(a.component);
        rows[i].action = a.name.c_str();
        rows[i].dynamic = a.dynamic;
        rows[i].count = total[order[i]];
        rows[i].fj_per_action = a.fj;
        rows[i].fj = (e2_fj)rows[i].count * a.fj;
    }
    return order.size();
}

void hw_ledger_work(const struct hw_ledger *l, const struct hw_filter *f, struct hw_work *out)
{
    *out = hw_work{};
    if (l)
        for (auto &kv : l->buckets)
            if (bucket_selected(kv.first, f))
                work_add(*out, kv.second.work, 1);
}

void hw_ledger_roofs(const struct hw_ledger *l, struct hw_roofs *out)
{
    *out = hw_roofs{};
    if (!l)
        return;
    out->pl_hz = l->pl_hz;
    out->ddr_bytes_per_cycle = l->ddr_bytes_per_cycle;
    uint64_t most = 0;
    for (auto &kv : l->precisions)
        if (kv.second.macs > most) {
            most = kv.second.macs;
            out->bits_a = kv.first.first;
            out->bits_b = kv.first.second;
            out->macs_per_cycle = kv.second.peak_per_cycle;
        }
}

size_t hw_ledger_layers(const struct hw_ledger *l, int *layers, size_t max)
{
    if (!l)
        return 0;
    std::vector<int> ids;
    for (auto &kv : l->buckets)
        ids.push_back((int)(kv.first >> 16));
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    for (size_t i = 0; i < ids.size() && i < max; i++)
        layers[i] = ids[i];
    return ids.size();
}

const char *hw_component_name(int component)
{
    static const char *const names[HW_COMPONENT_COUNT] = {"ddr", "axi_hp", "bram", "dsp",
                                                          "lut",  "ps_a9",  "pl",   "board"};
    if (component < 0 || component >= HW_COMPONENT_COUNT)
        return "?";
    return names[component];
}

double hw_fj_to_joules(e2_fj e)
{
    return (double)e * 1e-15;
}

char *hw_fj_format(e2_fj e, char *buf, size_t len)
{
    char tmp[48];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(e % 10));
        e /= 10;
    } while (e && n < 47);
    if (!buf || len == 0)
        return buf;
    size_t i = 0;
    for (; i < (size_t)n && i + 1 < len; i++)
        buf[i] = tmp[n - 1 - i];
    buf[i] = '\0';
    return buf;
}

} /* extern "C" */

} // namespace e2hw
