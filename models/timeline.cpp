/* Timelines of what the hardware did (see hw.h): each record simulated afresh, its events laid
 * end to end, written as Chrome trace events (Perfetto, chrome://tracing; gzip-compressed when
 * the path ends in ".gz") and as a VCD waveform (GTKWave, Surfer).
 *
 * Tracks: one per unit and bus master (op, dma load, dsp array, dma store, ddr, ps a9). Each
 * is busy with one thing at a time within a record, and records follow each other, so its
 * events never overlap. A hidden record (PS work overlapping the fabric, a fused elementwise
 * op) runs beside the records that follow it: it gets a second set of tracks, "overlapped
 * ...", on which hidden records follow each other. Power counters spread each record's booked
 * energy (hw_account: dynamic and static, per component) evenly over the time it is drawn. */
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "hw.h"
#include "zynq7020.h"

namespace e2hw {

namespace {

const char *const overlapped = "overlapped ";

struct placed_event {
    int track;         /* index into placed::tracks */
    std::string what;
    uint64_t t0, t1;   /* PL cycles from the start of the first record */
};

/* A record as drawn: when, its label and the energy the ledger books for it per component. */
struct placed_op {
    uint64_t t0, t1;
    bool hidden;
    std::string label;
    std::array<e2_fj, HW_COMPONENT_COUNT> fj;
};

struct placed {
    std::vector<std::string> tracks;   /* in display order */
    std::vector<placed_event> events;
    std::vector<placed_op> ops;

    int track(const std::string &name)
    {
        for (size_t i = 0; i < tracks.size(); i++)
            if (tracks[i] == name)
                return (int)i;
        tracks.push_back(name);
        return (int)tracks.size() - 1;
    }
};

int fail(char *err, size_t errlen, int code, const std::string &msg)
{
    if (err && errlen)
        std::snprintf(err, errlen, "%s", msg.c_str());
    return code;
}

/* The energy the ledger books for one execution of r, per component. */
bool booked_energy(hw_model *m, hw_ledger *l, const oprec &r,
                   std::array<e2_fj, HW_COMPONENT_COUNT> *fj, std::string *why)
{
    char msg[256] = "";
    hw_ledger_clear(l);
    if (hw_account(m, l, &r, 1, msg, sizeof msg) != 0) {
        *why = msg;
        return false;
    }
    for (int c = 0; c < HW_COMPONENT_COUNT; c++) {
        hw_filter f = hw_filter_all();
        f.component = c;
        (*fj)[(size_t)c] = hw_ledger_fj(l, &f);
    }
    return true;
}

/* Simulate recs in order; each starts when the previous one ended. A hidden one takes no time
 * of its own: it starts with the next record, or when the previous hidden one ended. */
bool simulate_all(hw_model *m, hw_ledger *l, const oprec *recs, size_t n,
                  const char *const *labels, placed *out, std::string *why)
{
    for (const char *unit : {"op", "dma load", "dsp array", "dma store", "ddr", "ps a9"})
        out->track(unit);
    uint64_t now = 0, hidden_now = 0;
    for (size_t i = 0; i < n; i++) {
        oprec q = oprec_canonical(&recs[i]);
        schedule s;
        if (!map_op(m->k, q, q.msb_a ? MAP_PSG_MSB : MAP_PLAIN, &s, why))
            return false;
        std::vector<timeline_event> ev;
        job j;
        j.k = &m->k;
        j.s = &s;
        j.timeline = &ev;
        if (!s.steps.empty() && !engine_run(j, why))
            return false;
        placed_op op;
        if (!booked_energy(m, l, recs[i], &op.fj, why))
            return false;
        uint64_t span = s.steps.empty() ? 0 : j.cycles;
        op.hidden = s.hidden;
        op.t0 = s.hidden ? std::max(now, hidden_now) : now;
        op.t1 = op.t0 + span;
        op.label = labels && labels[i] ? labels[i] : "record " + std::to_string(i);
        std::string prefix = s.hidden ? overlapped : "";
        out->events.push_back({out->track(prefix + "op"), op.label, op.t0, op.t1});
        for (auto &e : ev)
            out->events.push_back({out->track(prefix + e.track), e.what, op.t0 + e.t0,
                                   op.t0 + e.t1});
        (s.hidden ? hidden_now : now) = op.t1;
        out->ops.push_back(op);
    }
    return true;
}

/* A file written whole, plain or gzip-compressed, buffered. */
class out_file {
public:
    bool open(const std::string &path, bool gzip)
    {
        if (gzip)
            gz_ = gzopen(path.c_str(), "wb");
        else
            f_ = std::fopen(path.c_str(), "wb");
        return gz_ || f_;
    }
    out_file &operator<<(const std::string &s)
    {
        buf_ += s;
        if (buf_.size() >= (1u << 20))
            flush();
        return *this;
    }
    bool close()
    {
        flush();
        bool ok = ok_;
        if (gz_)
            ok = gzclose(gz_) == Z_OK && ok;
        if (f_)
            ok = std::fclose(f_) == 0 && ok;
        gz_ = nullptr;
        f_ = nullptr;
        return ok;
    }
    ~out_file() { close(); }

private:
    void flush()
    {
        if (buf_.empty())
            return;
        if (gz_)
            ok_ = ok_ && gzwrite(gz_, buf_.data(), (unsigned)buf_.size()) == (int)buf_.size();
        else if (f_)
            ok_ = ok_ && std::fwrite(buf_.data(), 1, buf_.size(), f_) == buf_.size();
        buf_.clear();
    }
    gzFile gz_ = nullptr;
    FILE *f_ = nullptr;
    std::string buf_;
    bool ok_ = true;
};

std::string json_text(const std::string &s)
{
    std::string o;
    for (char c : s) {
        if (c == '"' || c == '\\')
            o += '\\';
        if ((unsigned char)c >= 0x20)
            o += c;
    }
    return o;
}

/* Trace times are microseconds; cycles are rounded to whole nanoseconds (what Perfetto keeps),
 * which keeps events that touch touching and events apart apart. */
uint64_t ns_of(uint64_t cycles, double mhz)
{
    return (uint64_t)std::llround((double)cycles * 1e3 / mhz);
}

std::string us_text(uint64_t ns)
{
    char buf[32];
    int len = std::snprintf(buf, sizeof buf, "%llu.%03llu", (unsigned long long)(ns / 1000),
                            (unsigned long long)(ns % 1000));
    while (buf[len - 1] == '0')
        len--;
    if (buf[len - 1] == '.')
        len--;
    return std::string(buf, (size_t)len);
}

/* Power counters: each record's energy per component as constant watts over its drawn time
 * (at least 1 ns); records drawn at the same time add up. One "C" event per change. */
void write_power(out_file &f, const std::vector<placed_op> &ops, double mhz)
{
    std::map<uint64_t, std::array<double, HW_COMPONENT_COUNT>> change;
    for (auto &op : ops) {
        uint64_t a = ns_of(op.t0, mhz), b = std::max(ns_of(op.t1, mhz), a + 1);
        auto &up = change[a], &down = change[b];
        for (size_t c = 0; c < HW_COMPONENT_COUNT; c++) {
            double w = hw_fj_to_joules(op.fj[c]) / ((double)(b - a) * 1e-9);
            up[c] += w;
            down[c] -= w;
        }
    }
    std::array<double, HW_COMPONENT_COUNT> watts{};
    char num[40];
    for (auto &ch : change) {
        f << ",\n{\"ph\":\"C\",\"pid\":1,\"name\":\"power (W)\",\"ts\":" << us_text(ch.first)
          << ",\"args\":{";
        for (size_t c = 0; c < HW_COMPONENT_COUNT; c++) {
            watts[c] += ch.second[c];
            /* what adding and taking away the same watts leaves is rounding, not power */
            if (watts[c] < 1e-12)
                watts[c] = 0;
            std::snprintf(num, sizeof num, "%.9g", watts[c]);
            f << (c ? ",\"" : "\"") << hw_component_name((int)c) << "\":" << num;
        }
        f << "}}";
    }
}

void write_json(out_file &f, const placed &p, double mhz)
{
    std::vector<bool> used(p.tracks.size(), false);
    for (auto &e : p.events)
        used[(size_t)e.track] = true;
    f << "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n";
    f << "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"args\":{\"name\":\"zynq7020\"}}";
    for (size_t t = 0; t < p.tracks.size(); t++) {
        if (!used[t])
            continue;
        std::string tid = std::to_string(t + 1);
        f << ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":" << tid
          << ",\"args\":{\"name\":\"" << json_text(p.tracks[t]) << "\"}}";
        f << ",\n{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":1,\"tid\":" << tid
          << ",\"args\":{\"sort_index\":" << tid << "}}";
    }
    for (auto &e : p.events) {
        uint64_t a = ns_of(e.t0, mhz), b = ns_of(e.t1, mhz);
        f << ",\n{\"ph\":\"X\",\"pid\":1,\"tid\":" << std::to_string(e.track + 1)
          << ",\"ts\":" << us_text(a) << ",\"dur\":" << us_text(b - a) << ",\"name\":\""
          << json_text(e.what) << "\"}";
    }
    write_power(f, p.ops, mhz);
    f << "\n]}\n";
}

/* VCD identifiers: printable characters from '!'. */
std::string vcd_id(size_t i)
{
    std::string s;
    do {
        s += (char)('!' + i % 94);
        i /= 94;
    } while (i);
    return s;
}

/* A VCD string value is one token: no white space. */
std::string vcd_token(std::string s)
{
    for (char &c : s)
        if ((unsigned char)c <= ' ')
            c = '_';
    return s.empty() ? "-" : s;
}

/* Signals: for each op track a string with the running record's label ("-" when none runs),
 * for each other track a busy wire (high while any of its events runs). Time in picoseconds
 * of the PL clock. */
void write_vcd(out_file &f, const placed &p, double mhz, size_t n)
{
    size_t nt = p.tracks.size();
    std::vector<bool> is_op(nt), used(nt, false);
    for (size_t t = 0; t < nt; t++)
        is_op[t] = p.tracks[t] == "op" || p.tracks[t] == std::string(overlapped) + "op";
    for (auto &e : p.events)
        used[(size_t)e.track] = true;
    f << "$comment e2sim: the Zynq-7020 model simulating " << std::to_string(n)
      << " op record(s); time in ps of the PL clock. op: the running record; "
      << "overlapped_op: the hidden one running beside it. $end\n";
    f << "$timescale 1ps $end\n$scope module zynq7020 $end\n";
    for (size_t t = 0; t < nt; t++) {
        if (!used[t])
            continue;
        std::string name = vcd_token(p.tracks[t]);
        f << (is_op[t] ? "$var string 1 " : "$var wire 1 ") << vcd_id(t) << " " << name
          << (is_op[t] ? "" : "_busy") << " $end\n";
    }
    f << "$upscope $end\n$enddefinitions $end\n";
    /* changes: an event's start (+1 and, on an op track, its label) and end (-1, "-") */
    struct change {
        uint64_t t;
        int track, delta;
        const std::string *label;
    };
    static const std::string idle = "-";
    std::vector<change> ch;
    for (auto &e : p.events) {
        bool op = is_op[(size_t)e.track];
        if (e.t1 == e.t0)   /* took no time: nothing to see */
            continue;
        ch.push_back({e.t0, e.track, +1, op ? &e.what : nullptr});
        ch.push_back({e.t1, e.track, -1, op ? &idle : nullptr});
    }
    /* at one time, ends before starts: the label of what starts then is the one shown */
    std::stable_sort(ch.begin(), ch.end(), [](const change &a, const change &b) {
        return a.t != b.t ? a.t < b.t : a.delta < b.delta;
    });
    f << "#0\n$dumpvars\n";
    for (size_t t = 0; t < nt; t++)
        if (used[t])
            f << (is_op[t] ? "s- " : "0") << vcd_id(t) << "\n";
    f << "$end\n";
    /* Apply each time's changes together; write only values that differ from what is shown
     * (an event ending where the next begins leaves its wire high, with no glitch). */
    std::vector<int> active(nt, 0), shown(nt, 0);
    std::vector<const std::string *> want(nt, &idle), shown_label(nt, &idle);
    uint64_t last = 0;   /* "#0" is written */
    for (size_t i = 0; i < ch.size();) {
        uint64_t t = ch[i].t;
        for (; i < ch.size() && ch[i].t == t; i++) {
            active[(size_t)ch[i].track] += ch[i].delta;
            if (ch[i].label)
                want[(size_t)ch[i].track] = ch[i].label;
        }
        std::string lines;
        for (size_t id = 0; id < nt; id++) {
            if (is_op[id] && *want[id] != *shown_label[id]) {
                shown_label[id] = want[id];
                lines += "s" + vcd_token(*want[id]) + " " + vcd_id(id) + "\n";
            } else if (!is_op[id] && (active[id] > 0) != (shown[id] > 0)) {
                shown[id] = active[id] > 0;
                lines += std::string(shown[id] ? "1" : "0") + vcd_id(id) + "\n";
            }
        }
        if (lines.empty())
            continue;
        if (t != last)
            f << "#" << std::to_string(std::llround((double)t * 1e6 / mhz)) << "\n";
        f << lines;
        last = t;
    }
}

bool ends_with(const std::string &s, const char *tail)
{
    std::string t(tail);
    return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0;
}

/* Write through a temporary file renamed into place, so a reader never sees half a file. */
template <class Fn>
int write_file(const char *path, Fn fn, char *err, size_t errlen)
{
    std::string tmp = std::string(path) + ".tmp";
    out_file f;
    if (!f.open(tmp, ends_with(path, ".gz")))
        return fail(err, errlen, 1, std::string(path) + ": cannot open for writing");
    fn(f);
    if (!f.close()) {
        std::remove(tmp.c_str());
        return fail(err, errlen, 1, std::string(path) + ": write failed");
    }
    if (std::rename(tmp.c_str(), path) != 0) {
        std::remove(tmp.c_str());
        return fail(err, errlen, 1, std::string(path) + ": cannot rename into place");
    }
    return 0;
}

} // namespace

extern "C" int hw_timeline_write_ops(struct hw_model *m, const struct oprec *recs, size_t n,
                                     const char *const *labels, const char *json_path,
                                     const char *vcd_path, char *err, size_t errlen)
{
    if (!m || (!recs && n) || (!json_path && !vcd_path))
        return fail(err, errlen, 2, "hw_timeline_write_ops: NULL argument");
    placed p;
    std::string why;
    hw_ledger *l = hw_ledger_new();
    if (!l)
        return fail(err, errlen, 1, "timeline: out of memory");
    bool ok = simulate_all(m, l, recs, n, labels, &p, &why);
    hw_ledger_free(l);
    if (!ok)
        return fail(err, errlen, why.rfind("SystemC", 0) == 0 ? 1 : 2, "timeline: " + why);
    double mhz = m->k.p.pl_clock_mhz;
    int rc = 0;
    if (json_path)
        rc = write_file(json_path, [&](out_file &f) { write_json(f, p, mhz); }, err, errlen);
    if (!rc && vcd_path)
        rc = write_file(vcd_path, [&](out_file &f) { write_vcd(f, p, mhz, n); }, err, errlen);
    return rc;
}

extern "C" int hw_timeline_write(struct hw_model *m, const struct oprec *r, const char *path,
                                 char *err, size_t errlen)
{
    if (!m || !r || !path)
        return fail(err, errlen, 2, "hw_timeline_write: NULL argument");
    return hw_timeline_write_ops(m, r, 1, NULL, path, NULL, err, errlen);
}

} // namespace e2hw
