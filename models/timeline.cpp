/* Timelines of what the hardware did (see hw.h): each record simulated afresh, its events laid
 * end to end, written as Chrome trace events (Perfetto, chrome://tracing) and as a VCD
 * waveform (GTKWave, Surfer) with one busy wire per unit. */
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "hw.h"
#include "zynq7020.h"

namespace {

struct placed_event {
    std::string track, what;
    uint64_t t0, t1;   /* PL cycles from the start of the first record */
};

int fail(char *err, size_t errlen, int code, const std::string &msg)
{
    if (err && errlen)
        std::snprintf(err, errlen, "%s", msg.c_str());
    return code;
}

/* Simulate recs in order; each starts when the previous one ended (a hidden one, overlapped
 * or fused, takes no time of its own and shares the next one's start). */
bool simulate_all(hw_model *m, const oprec *recs, size_t n, const char *const *labels,
                  std::vector<placed_event> *out, std::string *why)
{
    uint64_t now = 0;
    for (size_t i = 0; i < n; i++) {
        oprec q = normalized(recs[i]);
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
        uint64_t span = s.steps.empty() ? 0 : j.cycles;
        char label[64];
        if (!labels || !labels[i])
            std::snprintf(label, sizeof label, "record %zu", i);
        out->push_back({"op", labels && labels[i] ? labels[i] : label, now, now + span});
        for (auto &e : ev)
            out->push_back({e.track, e.what, now + e.t0, now + e.t1});
        if (!s.hidden)
            now += span;
    }
    return true;
}

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

void write_json(std::ostream &f, const std::vector<placed_event> &ev, double mhz)
{
    std::map<std::string, int> tids;
    tids.emplace("op", 1);
    for (auto &e : ev)
        tids.emplace(e.track, (int)tids.size() + 1);
    f << "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n";
    f << "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"args\":{\"name\":\"zynq7020\"}}";
    for (auto &t : tids)
        f << ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":" << t.second
          << ",\"args\":{\"name\":\"" << json_text(t.first) << "\"}}";
    char buf[128];
    for (auto &e : ev) {
        std::snprintf(buf, sizeof buf, "\"ph\":\"X\",\"pid\":1,\"tid\":%d,\"ts\":%.4f,\"dur\":%.4f,",
                      tids[e.track], (double)e.t0 / mhz, (double)(e.t1 - e.t0) / mhz);
        f << ",\n{\"name\":\"" << json_text(e.what) << "\",\"cat\":\"" << json_text(e.track)
          << "\"," << buf << "\"args\":{\"cycles\":" << (e.t1 - e.t0) << "}}";
    }
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

/* One busy wire per track (busy while any of its events runs) and the index of the running
 * record; time in picoseconds of the PL clock. */
void write_vcd(std::ostream &f, const std::vector<placed_event> &ev, double mhz,
               const char *const *labels, size_t n)
{
    std::map<std::string, size_t> ids;
    for (auto &e : ev)
        if (e.track != "op")
            ids.emplace(e.track, 0);
    size_t k = 1;
    for (auto &t : ids)
        t.second = k++;
    f << "$comment e2sim: the Zynq-7020 model simulating " << n << " op record(s); time in ps "
      << "at a " << mhz << " MHz PL clock. op = index of the running record:\n";
    for (size_t i = 0; i < n; i++)
        f << "  " << i << " " << (labels && labels[i] ? labels[i] : "") << "\n";
    f << "$end\n$timescale 1ps $end\n$scope module zynq7020 $end\n";
    f << "$var integer 32 " << vcd_id(0) << " op $end\n";
    for (auto &t : ids) {
        std::string name = t.first;
        std::replace(name.begin(), name.end(), ' ', '_');
        f << "$var wire 1 " << vcd_id(t.second) << " " << name << "_busy $end\n";
    }
    f << "$upscope $end\n$enddefinitions $end\n";
    /* changes: (cycle, id, +1 start / -1 end, or for id 0 the record index) */
    struct change {
        uint64_t t;
        size_t id;
        long long v;
    };
    std::vector<change> ch;
    long long op = 0;
    for (auto &e : ev) {
        if (e.track == "op") {
            ch.push_back({e.t0, 0, op++});
        } else if (e.t1 > e.t0) {
            ch.push_back({e.t0, ids[e.track], +1});
            ch.push_back({e.t1, ids[e.track], -1});
        }
    }
    std::stable_sort(ch.begin(), ch.end(),
                     [](const change &a, const change &b) { return a.t < b.t; });
    f << "#0\n$dumpvars\nbx " << vcd_id(0) << "\n";
    for (auto &t : ids)
        f << "0" << vcd_id(t.second) << "\n";
    f << "$end\n";
    /* Apply each time's changes together; write only values that differ from what is shown
     * (an event ending where the next begins leaves its wire high, with no glitch). */
    std::vector<int> active(ids.size() + 1, 0), shown(ids.size() + 1, 0);
    long long shown_op = -1, want_op = -1;
    uint64_t last = 0;   /* "#0" is written */
    uint64_t end = 0;
    for (size_t i = 0; i < ch.size();) {
        uint64_t t = ch[i].t;
        for (; i < ch.size() && ch[i].t == t; i++) {
            if (ch[i].id == 0)
                want_op = ch[i].v;
            else
                active[ch[i].id] += (int)ch[i].v;
        }
        std::string lines;
        if (want_op != shown_op) {
            std::string bits;
            for (unsigned long long v = (unsigned long long)want_op; v || bits.empty(); v >>= 1)
                bits.insert(bits.begin(), (char)('0' + (v & 1)));
            lines += "b" + bits + " " + vcd_id(0) + "\n";
            shown_op = want_op;
        }
        for (size_t id = 1; id < active.size(); id++)
            if ((active[id] > 0) != (shown[id] > 0)) {
                shown[id] = active[id] > 0;
                lines += std::string(shown[id] ? "1" : "0") + vcd_id(id) + "\n";
            }
        if (lines.empty())
            continue;
        if (t != last)
            f << "#" << std::llround((double)t * 1e6 / mhz) << "\n";
        f << lines;
        last = t;
        end = std::max(end, t);
    }
    for (auto &e : ev)
        end = std::max(end, e.t1);
    if (end != last)   /* the end of the last record, if no change marked it */
        f << "#" << std::llround((double)end * 1e6 / mhz) << "\n";
}

/* Write through a temporary file renamed into place, so a reader never sees half a file. */
template <class Fn>
int write_file(const char *path, Fn fn, char *err, size_t errlen)
{
    std::string tmp = std::string(path) + ".tmp";
    {
        std::ofstream f(tmp);
        if (!f)
            return fail(err, errlen, 1, std::string(path) + ": cannot open for writing");
        fn(f);
        f.close();
        if (!f) {
            std::remove(tmp.c_str());
            return fail(err, errlen, 1, std::string(path) + ": write failed");
        }
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
    std::vector<placed_event> ev;
    std::string why;
    if (!simulate_all(m, recs, n, labels, &ev, &why))
        return fail(err, errlen, why.rfind("SystemC", 0) == 0 ? 1 : 2, "timeline: " + why);
    double mhz = m->k.p.pl_clock_mhz;
    int rc = 0;
    if (json_path)
        rc = write_file(json_path, [&](std::ostream &f) { write_json(f, ev, mhz); }, err, errlen);
    if (!rc && vcd_path)
        rc = write_file(vcd_path, [&](std::ostream &f) { write_vcd(f, ev, mhz, labels, n); }, err,
                        errlen);
    return rc;
}

extern "C" int hw_timeline_write(struct hw_model *m, const struct oprec *r, const char *path,
                                 char *err, size_t errlen)
{
    if (!m || !r || !path)
        return fail(err, errlen, 2, "hw_timeline_write: NULL argument");
    return hw_timeline_write_ops(m, r, 1, NULL, path, NULL, err, errlen);
}
