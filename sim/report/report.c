/* The report files; see report.h and docs/outputs.md. */
#define _POSIX_C_SOURCE 200809L
#include "report.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hw.h"
#include "html.h"
#include "json.h"
#include "oprec.h"
#include "outdir.h"
#include "progress.h"
#include "trace.h"
#include "git_commit.h"     /* E2SIM_GIT_COMMIT, written by the build (sim/report/git_commit.cmake) */

/* ---- building the report ---------------------------------------------------------------- */

void report_init(struct run_report *r)
{
    memset(r, 0, sizeof *r);
#ifdef E2SIM_VERSION
    snprintf(r->version, sizeof r->version, "%s", E2SIM_VERSION);
#endif
    r->top_layers = 10;
    r->top1 = r->top5 = NAN;
}

void report_free(struct run_report *r)
{
    free(r->actions);
    free(r->phases);
    free(r->techniques);
    free(r->layers);
    free(r->curve);
    free(r->slu_block_skip);
    r->actions = NULL;
    r->phases = r->techniques = NULL;
    r->layers = NULL;
    r->curve = NULL;
    r->slu_block_skip = NULL;
    r->action_count = r->phase_count = r->technique_count = r->layer_count = 0;
    r->curve_count = r->slu_block_count = 0;
}

/* Make room for one more element: capacities are 16, 32, 64, ..., grown when count hits one. */
static int room(void **array, int count, size_t size)
{
    int full = count == 0 || (count >= 16 && (count & (count - 1)) == 0);
    if (!full)
        return E2_OK;
    size_t cap = count == 0 ? 16 : (size_t)count * 2;
    void *p = realloc(*array, cap * size);
    if (!p)
        return E2_FAILURE;
    *array = p;
    return E2_OK;
}

int report_add_action(struct run_report *r, const char *component, const char *action,
                      uint64_t count, uint64_t fj_per_action, e2_fj fj)
{
    if (room((void **)&r->actions, r->action_count, sizeof *r->actions))
        return E2_FAILURE;
    struct report_action *a = &r->actions[r->action_count++];
    memset(a, 0, sizeof *a);
    snprintf(a->component, sizeof a->component, "%s", component);
    snprintf(a->action, sizeof a->action, "%s", action);
    a->count = count;
    a->fj_per_action = fj_per_action;
    a->fj = fj;
    return E2_OK;
}

static int add_part(struct report_part **parts, int *count, const char *name, e2_fj fj)
{
    if (room((void **)parts, *count, sizeof **parts))
        return E2_FAILURE;
    struct report_part *p = &(*parts)[(*count)++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->fj = fj;
    return E2_OK;
}

int report_add_phase(struct run_report *r, const char *name, e2_fj fj)
{
    return add_part(&r->phases, &r->phase_count, name, fj);
}

int report_add_technique(struct run_report *r, const char *name, e2_fj fj)
{
    return add_part(&r->techniques, &r->technique_count, name, fj);
}

int report_add_layer(struct run_report *r, const struct report_layer *layer)
{
    if (room((void **)&r->layers, r->layer_count, sizeof *r->layers))
        return E2_FAILURE;
    r->layers[r->layer_count++] = *layer;
    return E2_OK;
}

int report_add_point(struct run_report *r, uint64_t iteration, e2_fj energy_fj,
                     double train_loss, double test_top1)
{
    if (room((void **)&r->curve, r->curve_count, sizeof *r->curve))
        return E2_FAILURE;
    struct report_point p = {iteration, energy_fj, train_loss, test_top1};
    r->curve[r->curve_count++] = p;
    return E2_OK;
}

int report_set_slu_blocks(struct run_report *r, int count, const double *skip)
{
    free(r->slu_block_skip);
    r->slu_block_skip = NULL;
    r->slu_block_count = 0;
    if (count <= 0)
        return E2_OK;
    r->slu_block_skip = malloc((size_t)count * sizeof *skip);
    if (!r->slu_block_skip)
        return E2_FAILURE;
    memcpy(r->slu_block_skip, skip, (size_t)count * sizeof *skip);
    r->slu_block_count = count;
    return E2_OK;
}

double report_savings(const struct run_report *r)
{
    if (r->baseline_fp32_fj == 0)
        return NAN;
    return 1.0 - (double)r->total_fj / (double)r->baseline_fp32_fj;
}

double report_layer_intensity(const struct report_layer *l)
{
    uint64_t bytes = l->ddr_read_bytes + l->ddr_write_bytes;
    return bytes ? (double)l->macs / (double)bytes : NAN;
}

double report_layer_attained(const struct run_report *r, const struct report_layer *l)
{
    uint64_t busiest = l->compute_cycles > l->ddr_cycles ? l->compute_cycles : l->ddr_cycles;
    busiest = busiest > l->ps_cycles ? busiest : l->ps_cycles;
    if (l->cycles == 0 || busiest > l->cycles || !(r->clock_mhz > 0))
        return NAN;   /* no time of its own, or work hidden in other ops' time */
    return (double)l->macs / ((double)l->cycles / (r->clock_mhz * 1e6));
}

double report_layer_dsp_utilization(const struct run_report *r, const struct report_layer *l)
{
    if (!(r->roofs.peak_macs_per_s > 0))
        return NAN;
    return report_layer_attained(r, l) / r->roofs.peak_macs_per_s;
}

const char *report_layer_bound(const struct report_layer *l)
{
    uint64_t c = l->compute_cycles, d = l->ddr_cycles, p = l->ps_cycles;
    if (c == 0 && d == 0 && p == 0)
        return "";
    if (p > c && p > d)
        return "ps";
    return d > c ? "ddr" : "compute";
}

e2_fj report_component_fj(const struct run_report *r, const char *component)
{
    e2_fj sum = 0;
    for (int i = 0; i < r->action_count; i++)
        if (strcmp(r->actions[i].component, component) == 0)
            sum += r->actions[i].fj;
    return sum;
}

void report_format_fj(char *buf, int size, e2_fj fj)
{
    char digits[48];
    int n = 0;
    do {
        digits[n++] = (char)('0' + (int)(fj % 10));
        fj /= 10;
    } while (fj && n < (int)sizeof digits);
    int k = 0;
    while (n > 0 && k < size - 1)
        buf[k++] = digits[--n];
    buf[k] = '\0';
}

void report_format_joules(char *buf, int size, e2_fj fj)
{
    const e2_fj unit = 1000000000000000ull;   /* fJ per J */
    char whole[48];
    report_format_fj(whole, sizeof whole, fj / unit);
    snprintf(buf, (size_t)size, "%s.%015" PRIu64, whole, (uint64_t)(fj % unit));
}

e2_fj report_parse_fj(const char *text)
{
    e2_fj v = 0;
    for (; *text >= '0' && *text <= '9'; text++)
        v = v * 10 + (e2_fj)(*text - '0');
    return v;
}

e2_fj report_parse_joules(const char *text)
{
    e2_fj v = report_parse_fj(text);
    const char *dot = strchr(text, '.');
    e2_fj frac = 0;
    int digits = 0;
    for (const char *p = dot ? dot + 1 : ""; *p >= '0' && *p <= '9' && digits < 15; p++, digits++)
        frac = frac * 10 + (e2_fj)(*p - '0');
    for (; digits < 15; digits++)
        frac *= 10;
    return v * 1000000000000000ull + frac;
}

static double joules(e2_fj fj) { return (double)fj * 1e-15; }

/* fJ per action as exact pJ text: "0.700", "410.250". */
static void format_pj(char *buf, size_t size, uint64_t fj)
{
    snprintf(buf, size, "%" PRIu64 ".%03" PRIu64, fj / 1000, fj % 1000);
}

static double pj(uint64_t fj) { return (double)fj / 1000; }

static e2_fj layer_fj(const struct report_layer *l)
{
    e2_fj sum = 0;
    for (int p = 0; p < REPORT_PHASES; p++)
        sum += l->phase_fj[p];
    return sum;
}

/* Distinct component names in first-seen order (indices into r->actions). */
static int components(const struct run_report *r, int *first)
{
    int n = 0;
    for (int i = 0; i < r->action_count; i++) {
        int seen = 0;
        for (int j = 0; j < n && !seen; j++)
            seen = strcmp(r->actions[first[j]].component, r->actions[i].component) == 0;
        if (!seen)
            first[n++] = i;
    }
    return n;
}

/* Layer indices sorted by energy, largest first (ties: by id). */
static int *layers_by_energy(const struct run_report *r)
{
    int *order = malloc((size_t)(r->layer_count > 0 ? r->layer_count : 1) * sizeof *order);
    if (!order)
        return NULL;
    for (int i = 0; i < r->layer_count; i++)
        order[i] = i;
    for (int i = 1; i < r->layer_count; i++) {   /* insertion sort: a few hundred layers */
        int v = order[i], j = i;
        while (j > 0) {
            e2_fj a = layer_fj(&r->layers[order[j - 1]]), b = layer_fj(&r->layers[v]);
            if (a > b || (a == b && r->layers[order[j - 1]].id <= r->layers[v].id))
                break;
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
    return order;
}

/* ---- from the hardware ledger ---------------------------------------------------------- */

static const struct trace_layer *layer_named(const struct trace_layer *layers, int n, int id)
{
    for (int i = 0; layers && i < n; i++)
        if (layers[i].id == id)
            return &layers[i];
    return NULL;
}

static int fill_layers(struct run_report *r, const struct hw_ledger *run,
                       const struct trace_layer *layers, int layer_count)
{
    size_t n = hw_ledger_layers(run, NULL, 0);
    int *ids = malloc((n + 1) * sizeof *ids);
    if (!ids)
        return E2_FAILURE;
    hw_ledger_layers(run, ids, n);
    int rc = E2_OK;
    for (size_t i = 0; i < n && rc == E2_OK; i++) {
        struct report_layer l;
        memset(&l, 0, sizeof l);
        l.id = ids[i];
        const struct trace_layer *t = layer_named(layers, layer_count, ids[i]);
        if (t) {
            snprintf(l.name, sizeof l.name, "%s", t->name);
            snprintf(l.kind, sizeof l.kind, "%s", t->kind);
        } else {
            snprintf(l.name, sizeof l.name, ids[i] == 0xffff ? "(no layer)" : "layer %d", ids[i]);
        }
        struct hw_filter f = hw_filter_all();
        f.layer = ids[i];
        l.cycles = hw_ledger_cycles(run, &f);
        struct hw_work w;
        hw_ledger_work(run, &f, &w);
        l.macs = w.macs;
        l.ddr_read_bytes = w.ddr_read_bytes;
        l.ddr_write_bytes = w.ddr_write_bytes;
        l.bram_bytes = w.bram_bytes;
        l.compute_cycles = w.compute_cycles;
        l.ddr_cycles = w.ddr_cycles;
        l.ps_cycles = w.ps_cycles;
        for (int p = 0; p < REPORT_PHASES; p++) {
            f.phase = p;
            l.phase_fj[p] = hw_ledger_fj(run, &f);
        }
        rc = report_add_layer(r, &l);
    }
    free(ids);
    return rc;
}

int report_fill_energy(struct run_report *r, const struct hw_model *model,
                       const struct hw_ledger *run, const struct hw_ledger *baseline,
                       const struct trace_layer *layers, int layer_count)
{
    r->total_fj = hw_ledger_fj(run, NULL);
    r->baseline_fp32_fj = baseline ? hw_ledger_fj(baseline, NULL) : 0;
    r->fpga_cycles = hw_ledger_cycles(run, NULL);
    r->fpga_seconds = hw_ledger_seconds(run, NULL);
    r->clock_mhz = model ? hw_model_params(model)->pl_clock_mhz : 0;
    struct hw_roofs roofs;
    hw_ledger_roofs(run, &roofs);
    r->roofs.peak_macs_per_s = roofs.macs_per_cycle * roofs.pl_hz;
    r->roofs.bits_a = roofs.bits_a;
    r->roofs.bits_b = roofs.bits_b;
    r->roofs.ddr_bytes_per_s = roofs.ddr_bytes_per_cycle * roofs.pl_hz;

    size_t n = hw_ledger_rows(run, NULL, NULL, 0);
    struct hw_row *rows = malloc((n + 1) * sizeof *rows);
    if (!rows)
        return E2_FAILURE;
    hw_ledger_rows(run, NULL, rows, n);
    int rc = E2_OK;
    for (size_t i = 0; i < n && rc == E2_OK; i++)
        rc = report_add_action(r, rows[i].component_name, rows[i].action, rows[i].count,
                               rows[i].fj_per_action, rows[i].fj);
    free(rows);

    e2_fj sum = 0;
    for (int p = 0; p < REPORT_PHASES && rc == E2_OK; p++) {
        struct hw_filter f = hw_filter_all();
        f.phase = p;
        e2_fj fj = hw_ledger_fj(run, &f);
        sum += fj;
        rc = report_add_phase(r, oprec_phase_name((unsigned)p), fj);
    }
    if (rc == E2_OK && sum != r->total_fj)   /* energy not tied to an op (idle time) */
        rc = report_add_phase(r, "other", r->total_fj - sum);
    sum = 0;
    for (int t = 0; t < OP_TECH_COUNT && rc == E2_OK; t++) {
        struct hw_filter f = hw_filter_all();
        f.tech = t;
        e2_fj fj = hw_ledger_fj(run, &f);
        sum += fj;
        rc = report_add_technique(r, oprec_tech_name((unsigned)t), fj);
    }
    if (rc == E2_OK && sum != r->total_fj)
        rc = report_add_technique(r, "other", r->total_fj - sum);
    if (rc == E2_OK)
        rc = fill_layers(r, run, layers, layer_count);
    return rc;
}

/* ---- report.json ------------------------------------------------------------------------ */

static void kv_number(struct json_writer *w, const char *key, double v)
{
    json_key(w, key);
    json_number(w, v);
}

static void kv_uint(struct json_writer *w, const char *key, uint64_t v)
{
    json_key(w, key);
    json_uint(w, v);
}

static void kv_fj(struct json_writer *w, const char *key, e2_fj v)
{
    char buf[48];
    report_format_fj(buf, sizeof buf, v);
    json_key(w, key);
    json_raw(w, buf);
}

static void kv_string(struct json_writer *w, const char *key, const char *v)
{
    json_key(w, key);
    json_string(w, v);
}

static void write_parts(struct json_writer *w, const char *key, const struct report_part *p, int n)
{
    json_key(w, key);
    json_object_begin(w);
    for (int i = 0; i < n; i++)
        kv_number(w, p[i].name, joules(p[i].fj));
    json_object_end(w);
}

static void write_energy_json(struct json_writer *w, const struct run_report *r)
{
    json_key(w, "energy");
    json_object_begin(w);
    kv_number(w, "total_j", joules(r->total_fj));
    kv_fj(w, "total_fj", r->total_fj);
    if (r->baseline_fp32_fj) {
        kv_number(w, "baseline_fp32_j", joules(r->baseline_fp32_fj));
        kv_fj(w, "baseline_fp32_fj", r->baseline_fp32_fj);
    } else {
        json_key(w, "baseline_fp32_j");
        json_null(w);
        json_key(w, "baseline_fp32_fj");
        json_null(w);
    }
    kv_number(w, "savings_vs_fp32", report_savings(r));
    json_key(w, "by_component");
    json_object_begin(w);
    int *first = malloc((size_t)(r->action_count + 1) * sizeof *first);
    int nc = first ? components(r, first) : 0;
    for (int i = 0; i < nc; i++) {
        const char *c = r->actions[first[i]].component;
        kv_number(w, c, joules(report_component_fj(r, c)));
    }
    free(first);
    json_object_end(w);
    write_parts(w, "by_phase", r->phases, r->phase_count);
    write_parts(w, "by_technique", r->techniques, r->technique_count);
    json_key(w, "by_action");
    json_array_begin(w);
    for (int i = 0; i < r->action_count; i++) {
        const struct report_action *a = &r->actions[i];
        json_object_begin(w);
        kv_string(w, "component", a->component);
        kv_string(w, "action", a->action);
        kv_uint(w, "count", a->count);
        kv_number(w, "pj_per_action", pj(a->fj_per_action));
        kv_uint(w, "fj_per_action", a->fj_per_action);
        kv_number(w, "energy_j", joules(a->fj));
        kv_fj(w, "energy_fj", a->fj);
        json_object_end(w);
    }
    json_array_end(w);
    json_object_end(w);
}

static void write_accuracy_json(struct json_writer *w, const struct run_report *r)
{
    json_key(w, "accuracy");
    json_object_begin(w);
    if (r->has_accuracy) {
        kv_number(w, "top1", r->top1);
        kv_number(w, "top5", r->top5);
    } else {
        json_key(w, "top1");
        json_null(w);
        json_key(w, "top5");
        json_null(w);
    }
    json_object_end(w);
}

static void write_training_json(struct json_writer *w, const struct run_report *r)
{
    json_key(w, "training");
    json_object_begin(w);
    kv_uint(w, "iterations", r->iterations);
    kv_uint(w, "minibatches_processed", r->minibatches_processed);
    kv_number(w, "slu_skip_ratio", r->slu_skip_ratio);
    json_key(w, "slu_skip_ratio_per_block");
    json_array_begin(w);
    for (int i = 0; i < r->slu_block_count; i++)
        json_number(w, r->slu_block_skip[i]);
    json_array_end(w);
    kv_number(w, "psg_predictor_ratio", r->psg_predictor_ratio);
    json_key(w, "fixed_point");
    if (r->has_fixed_point) {
        const struct report_fixed_point *x = &r->fixed_point;
        json_object_begin(w);
        kv_uint(w, "values_quantized", x->quantized);
        kv_uint(w, "values_saturated", x->saturated);
        kv_uint(w, "predictor_codes_clipped", x->msb_clipped);
        kv_uint(w, "accumulator_sums", x->acc_sums);
        kv_uint(w, "accumulator_overflows", x->acc_overflows);
        json_object_end(w);
    } else {
        json_null(w);
    }
    json_object_end(w);
}

static void write_layers_json(struct json_writer *w, const struct run_report *r)
{
    json_key(w, "layers");
    json_array_begin(w);
    for (int i = 0; i < r->layer_count; i++) {
        const struct report_layer *l = &r->layers[i];
        json_object_begin(w);
        json_key(w, "id");
        json_int(w, l->id);
        kv_string(w, "name", l->name);
        kv_string(w, "kind", l->kind);
        kv_number(w, "energy_j", joules(layer_fj(l)));
        json_key(w, "by_phase");
        json_object_begin(w);
        for (int p = 0; p < REPORT_PHASES; p++)
            kv_number(w, oprec_phase_name((unsigned)p), joules(l->phase_fj[p]));
        json_object_end(w);
        kv_uint(w, "cycles", l->cycles);
        kv_uint(w, "macs", l->macs);
        kv_uint(w, "ddr_read_bytes", l->ddr_read_bytes);
        kv_uint(w, "ddr_write_bytes", l->ddr_write_bytes);
        kv_uint(w, "bram_bytes", l->bram_bytes);
        kv_number(w, "macs_per_ddr_byte", report_layer_intensity(l));
        kv_number(w, "attained_macs_per_s", report_layer_attained(r, l));
        kv_number(w, "dsp_utilization", report_layer_dsp_utilization(r, l));
        json_key(w, "bound");
        if (*report_layer_bound(l))
            json_string(w, report_layer_bound(l));
        else
            json_null(w);
        kv_uint(w, "compute_cycles", l->compute_cycles);
        kv_uint(w, "ddr_cycles", l->ddr_cycles);
        kv_uint(w, "ps_cycles", l->ps_cycles);
        json_object_end(w);
    }
    json_array_end(w);
}

static void write_roofs_json(struct json_writer *w, const struct report_roofs *roofs)
{
    json_key(w, "roofline");
    json_object_begin(w);
    kv_number(w, "peak_macs_per_s", roofs->peak_macs_per_s > 0 ? roofs->peak_macs_per_s : NAN);
    json_key(w, "peak_precision");
    if (roofs->bits_a) {
        char p[32];
        snprintf(p, sizeof p, "%dx%d", roofs->bits_a, roofs->bits_b);
        json_string(w, p);
    } else {
        json_null(w);
    }
    kv_number(w, "ddr_bytes_per_s", roofs->ddr_bytes_per_s > 0 ? roofs->ddr_bytes_per_s : NAN);
    kv_number(w, "ridge_macs_per_ddr_byte", roofs->peak_macs_per_s / roofs->ddr_bytes_per_s);
    json_object_end(w);
}

static void write_curve_json(struct json_writer *w, const struct run_report *r)
{
    json_key(w, "curve");
    json_array_begin(w);
    for (int i = 0; i < r->curve_count; i++) {
        const struct report_point *p = &r->curve[i];
        json_object_begin(w);
        kv_uint(w, "iteration", p->iteration);
        kv_number(w, "energy_j", joules(p->energy_fj));
        kv_number(w, "train_loss", p->train_loss);
        kv_number(w, "test_top1", p->test_top1);
        json_object_end(w);
    }
    json_array_end(w);
}

/* When this process started, as ISO 8601 UTC ("2025-01-31T13:55:02Z"), from Linux's
 * /proc/self/stat (clock ticks after boot, field 22) and /proc/stat (boot time); "" if
 * unknown. A sweep point's worker is its own process, so this is the point's start. */
static void process_started(char *buf, size_t size)
{
    buf[0] = '\0';
    char line[1024];
    unsigned long long ticks = 0, boot = 0;
    FILE *f = fopen("/proc/self/stat", "r");
    int ok = f && fgets(line, sizeof line, f);
    if (f)
        fclose(f);
    const char *p = ok ? strrchr(line, ')') : NULL;   /* the command name may hold spaces */
    for (int field = 2; p && field < 22; field++)
        p = strchr(p + 1, ' ');
    if (!p || sscanf(p, " %llu", &ticks) != 1)
        return;
    f = fopen("/proc/stat", "r");
    while (f && fgets(line, sizeof line, f) && sscanf(line, "btime %llu", &boot) != 1)
        ;
    if (f)
        fclose(f);
    long hz = sysconf(_SC_CLK_TCK);
    time_t t = (time_t)(boot + ticks / (unsigned long long)(hz > 0 ? hz : 100));
    struct tm tm;
    if (boot && gmtime_r(&t, &tm))
        strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Which program made the report, where and when: e2sim_version, git_commit, host, started. */
static void write_provenance(struct json_writer *w, const struct run_report *r)
{
    char host[256] = "", started[32];
    if (gethostname(host, sizeof host - 1) != 0)
        host[0] = '\0';
    process_started(started, sizeof started);
    kv_string(w, "e2sim_version", r->version);
    kv_string(w, "git_commit", E2SIM_GIT_COMMIT);
    kv_string(w, "host", host);
    kv_string(w, "started", started);
}

int report_write_json(FILE *f, const struct run_report *r)
{
    struct json_writer w;
    json_init(&w, f, 1);
    json_object_begin(&w);
    kv_string(&w, "schema", REPORT_SCHEMA);
    json_key(&w, "run");
    json_object_begin(&w);
    kv_string(&w, "kind", r->kind);
    kv_string(&w, "name", r->name);
    kv_string(&w, "network", r->network);
    kv_string(&w, "dataset", r->dataset);
    kv_string(&w, "method", r->method);
    kv_string(&w, "trace", r->trace);
    kv_number(&w, "wall_seconds", r->wall_seconds);
    write_provenance(&w, r);
    json_key(&w, "oprec_version");
    json_int(&w, OPREC_VERSION);
    json_object_end(&w);
    write_accuracy_json(&w, r);
    write_energy_json(&w, r);
    json_key(&w, "fpga");
    json_object_begin(&w);
    kv_uint(&w, "cycles", r->fpga_cycles);
    kv_number(&w, "seconds", r->fpga_seconds);
    kv_number(&w, "clock_mhz", r->clock_mhz);
    write_roofs_json(&w, &r->roofs);
    json_object_end(&w);
    write_training_json(&w, r);
    write_layers_json(&w, r);
    write_curve_json(&w, r);
    kv_string(&w, "config", r->config_text ? r->config_text : "");
    json_object_end(&w);
    fputc('\n', f);
    return ferror(f) ? E2_FAILURE : E2_OK;
}

/* ---- CSV files -------------------------------------------------------------------------- */

void report_csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void csv_double(FILE *f, double v)
{
    if (!isfinite(v))
        return;   /* empty field */
    char buf[40];
    json_format_double(buf, sizeof buf, v);
    fputs(buf, f);
}

int report_write_breakdown_csv(FILE *f, const struct run_report *r)
{
    fputs("component,action,count,pj_per_action,energy_j\n", f);
    for (int i = 0; i < r->action_count; i++) {
        const struct report_action *a = &r->actions[i];
        char j[64], p[32];
        report_format_joules(j, sizeof j, a->fj);
        format_pj(p, sizeof p, a->fj_per_action);
        report_csv_field(f, a->component);
        fputc(',', f);
        report_csv_field(f, a->action);
        fprintf(f, ",%" PRIu64 ",%s,%s\n", a->count, p, j);
    }
    return ferror(f) ? E2_FAILURE : E2_OK;
}

int report_write_layers_csv(FILE *f, const struct run_report *r)
{
    fputs("layer,name,kind,forward_j,backward_data_j,backward_weight_j,update_j,energy_j,cycles,"
          "macs,ddr_read_bytes,ddr_write_bytes,bram_bytes,macs_per_ddr_byte,attained_macs_per_s,"
          "dsp_utilization,bound,compute_cycles,ddr_cycles,ps_cycles\n",
          f);
    for (int i = 0; i < r->layer_count; i++) {
        const struct report_layer *l = &r->layers[i];
        char j[64];
        fprintf(f, "%d,", l->id);
        report_csv_field(f, l->name);
        fputc(',', f);
        report_csv_field(f, l->kind);
        for (int p = 0; p < REPORT_PHASES; p++) {
            report_format_joules(j, sizeof j, l->phase_fj[p]);
            fprintf(f, ",%s", j);
        }
        report_format_joules(j, sizeof j, layer_fj(l));
        fprintf(f, ",%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",", j,
                l->cycles, l->macs, l->ddr_read_bytes, l->ddr_write_bytes, l->bram_bytes);
        csv_double(f, report_layer_intensity(l));
        fputc(',', f);
        csv_double(f, report_layer_attained(r, l));
        fputc(',', f);
        csv_double(f, report_layer_dsp_utilization(r, l));
        fprintf(f, ",%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n", report_layer_bound(l),
                l->compute_cycles, l->ddr_cycles, l->ps_cycles);
    }
    return ferror(f) ? E2_FAILURE : E2_OK;
}

int report_write_curve_csv(FILE *f, const struct run_report *r)
{
    fputs("iteration,energy_j,train_loss,test_top1\n", f);
    for (int i = 0; i < r->curve_count; i++) {
        const struct report_point *p = &r->curve[i];
        char j[64];
        report_format_joules(j, sizeof j, p->energy_fj);
        fprintf(f, "%" PRIu64 ",%s,", p->iteration, j);
        csv_double(f, p->train_loss);
        fputc(',', f);
        csv_double(f, p->test_top1);
        fputc('\n', f);
    }
    return ferror(f) ? E2_FAILURE : E2_OK;
}

/* ---- report.md -------------------------------------------------------------------------- */

void report_format_human(char *buf, size_t size, e2_fj fj)
{
    html_format_unit(buf, size, joules(fj), "J");   /* the charts' formatter: one for both */
}

static void percent(char *buf, size_t size, double fraction)
{
    if (isfinite(fraction))
        snprintf(buf, size, "%.2f %%", 100 * fraction);
    else
        snprintf(buf, size, "n/a");
}

static void md_part_table(FILE *f, const char *title, const char *what,
                          const struct report_part *p, int n, e2_fj total)
{
    if (n == 0)
        return;
    fprintf(f, "\n## %s\n\n| %s | energy | share |\n|---|---:|---:|\n", title, what);
    for (int i = 0; i < n; i++) {
        char e[32], s[32];
        report_format_human(e, sizeof e, p[i].fj);
        percent(s, sizeof s, total ? (double)p[i].fj / (double)total : NAN);
        fprintf(f, "| %s | %s | %s |\n", p[i].name, e, s);
    }
}

static void md_headline(FILE *f, const struct run_report *r)
{
    char a[32], b[32], c[64];
    fprintf(f, "# e2sim report: %s\n\n", r->name[0] ? r->name : "run");
    fprintf(f, "%s of %s on %s, method %s", r->kind, r->network, r->dataset,
            r->method[0] ? r->method : "-");
    if (r->trace[0])
        fprintf(f, " (replayed from `%s`)", r->trace);
    fputs(".\n\n| | |\n|---|---:|\n", f);
    if (r->has_accuracy) {
        percent(a, sizeof a, r->top1);
        percent(b, sizeof b, r->top5);
        fprintf(f, "| test top-1 | %s |\n| test top-5 | %s |\n", a, b);
    } else {
        fputs("| test top-1 | n/a (not trained) |\n", f);
    }
    report_format_human(a, sizeof a, r->total_fj);
    fprintf(f, "| energy | **%s** |\n", a);
    if (r->baseline_fp32_fj) {
        report_format_human(b, sizeof b, r->baseline_fp32_fj);
        percent(c, sizeof c, report_savings(r));
        fprintf(f, "| float32 baseline | %s |\n", b);
        fprintf(f, "| saving vs float32 | **%s** (%.2fx less energy) |\n", c,
                r->total_fj ? (double)r->baseline_fp32_fj / (double)r->total_fj : 0.0);
    }
    fprintf(f, "| FPGA time | %.4g s (%" PRIu64 " cycles at %.4g MHz) |\n", r->fpga_seconds,
            r->fpga_cycles, r->clock_mhz);
    fprintf(f, "| iterations | %" PRIu64 " (%" PRIu64 " minibatches processed) |\n",
            r->iterations, r->minibatches_processed);
    percent(a, sizeof a, r->slu_skip_ratio);
    percent(b, sizeof b, r->psg_predictor_ratio);
    fprintf(f, "| SLU skip ratio | %s |\n| PSG predictor ratio | %s |\n", a, b);
    if (r->has_fixed_point) {
        const struct report_fixed_point *x = &r->fixed_point;
        percent(a, sizeof a, x->quantized ? (double)x->saturated / (double)x->quantized : NAN);
        fprintf(f, "| fixed point | %" PRIu64 " values quantized, %" PRIu64 " saturated (%s); "
                "%" PRIu64 " of %" PRIu64 " accumulator sums overflowed |\n", x->quantized,
                x->saturated, a, x->acc_overflows, x->acc_sums);
    }
    progress_format_duration(c, sizeof c, r->wall_seconds);
    fprintf(f, "| wall time | %s |\n", c);
}

static void md_components(FILE *f, const struct run_report *r)
{
    int *first = malloc((size_t)(r->action_count + 1) * sizeof *first);
    if (!first)
        return;
    int n = components(r, first);
    fputs("\n## Energy by component\n\n| component | energy | share |\n|---|---:|---:|\n", f);
    for (int i = 0; i < n; i++) {
        const char *c = r->actions[first[i]].component;
        e2_fj fj = report_component_fj(r, c);
        char e[32], s[32];
        report_format_human(e, sizeof e, fj);
        percent(s, sizeof s, r->total_fj ? (double)fj / (double)r->total_fj : NAN);
        fprintf(f, "| %s | %s | %s |\n", c, e, s);
    }
    free(first);
}

static void md_actions(FILE *f, const struct run_report *r)
{
    fputs("\n## Actions (count x energy per action)\n\n"
          "| component | action | count | pJ per action | energy | share |\n"
          "|---|---|---:|---:|---:|---:|\n", f);
    for (int i = 0; i < r->action_count; i++) {
        const struct report_action *a = &r->actions[i];
        char e[32], s[32];
        report_format_human(e, sizeof e, a->fj);
        percent(s, sizeof s, r->total_fj ? (double)a->fj / (double)r->total_fj : NAN);
        char p[32];
        format_pj(p, sizeof p, a->fj_per_action);
        fprintf(f, "| %s | %s | %" PRIu64 " | %s | %s | %s |\n", a->component, a->action,
                a->count, p, e, s);
    }
}

static void md_layers(FILE *f, const struct run_report *r)
{
    if (r->layer_count == 0)
        return;
    int *order = layers_by_energy(r);
    if (!order)
        return;
    int n = r->top_layers < r->layer_count ? r->top_layers : r->layer_count;
    fprintf(f, "\n## Top %d layers by energy (all %d in layers.csv)\n\n"
               "| layer | kind | forward | backward data | backward weight | update | energy | "
               "share | cycles |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n",
            n, r->layer_count);
    for (int i = 0; i < n; i++) {
        const struct report_layer *l = &r->layers[order[i]];
        char e[32], s[32];
        fprintf(f, "| %d %s | %s |", l->id, l->name, l->kind);
        for (int p = 0; p < REPORT_PHASES; p++) {
            report_format_human(e, sizeof e, l->phase_fj[p]);
            fprintf(f, " %s |", e);
        }
        report_format_human(e, sizeof e, layer_fj(l));
        percent(s, sizeof s, r->total_fj ? (double)layer_fj(l) / (double)r->total_fj : NAN);
        fprintf(f, " %s | %s | %" PRIu64 " |\n", e, s, l->cycles);
    }
    free(order);
}

/* "compute roof 44 G MAC/s (DSP array at 8x8), DDR roof 1.06 G B/s (DMA read stream), ridge
 * 41.5 MAC/B"; "" when the run has no roofs. */
static void roofs_text(char *buf, size_t size, const struct report_roofs *roofs)
{
    char peak[32], bw[32], ridge[32];
    if (!(roofs->peak_macs_per_s > 0 && roofs->ddr_bytes_per_s > 0)) {
        snprintf(buf, size, "%s", "");
        return;
    }
    html_format_si(peak, sizeof peak, roofs->peak_macs_per_s, "MAC/s");
    html_format_si(bw, sizeof bw, roofs->ddr_bytes_per_s, "B/s");
    html_format_si(ridge, sizeof ridge, roofs->peak_macs_per_s / roofs->ddr_bytes_per_s, "MAC/B");
    snprintf(buf, size, "compute roof %s (DSP array at %dx%d bits), DDR roof %s (DMA read "
             "stream), ridge %s", peak, roofs->bits_a, roofs->bits_b, bw, ridge);
}

/* A number in SI units, or "-" when it is undefined. */
static void si_or_dash(char *buf, size_t size, double v, const char *unit)
{
    if (isfinite(v))
        html_format_si(buf, size, v, unit);
    else
        snprintf(buf, size, "-");
}

static void md_roofline(FILE *f, const struct run_report *r)
{
    int *order = r->layer_count ? layers_by_energy(r) : NULL;
    if (!order)
        return;
    int n = r->top_layers < r->layer_count ? r->top_layers : r->layer_count;
    char roofs[256];
    roofs_text(roofs, sizeof roofs, &r->roofs);
    fprintf(f, "\n## Roofline of the top %d layers\n\n%s%s"
               "| layer | kind | MACs | DDR read | DDR written | BRAM | MAC per DDR byte | "
               "attained | DSP utilization | bound |\n|---|---|---:|---:|---:|---:|---:|---:|---:|"
               "---|\n", n, roofs, roofs[0] ? ".\n\n" : "");
    for (int i = 0; i < n; i++) {
        const struct report_layer *l = &r->layers[order[i]];
        char macs[32], rd[32], wr[32], bram[32], ai[32], att[32], util[32];
        html_format_si(macs, sizeof macs, (double)l->macs, "");
        html_format_si(rd, sizeof rd, (double)l->ddr_read_bytes, "B");
        html_format_si(wr, sizeof wr, (double)l->ddr_write_bytes, "B");
        html_format_si(bram, sizeof bram, (double)l->bram_bytes, "B");
        si_or_dash(ai, sizeof ai, report_layer_intensity(l), "");
        si_or_dash(att, sizeof att, report_layer_attained(r, l), "MAC/s");
        percent(util, sizeof util, report_layer_dsp_utilization(r, l));
        fprintf(f, "| %d %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", l->id, l->name,
                l->kind, macs, rd, wr, bram, ai, att, util,
                *report_layer_bound(l) ? report_layer_bound(l) : "-");
    }
    free(order);
}

int report_write_md(FILE *f, const struct run_report *r)
{
    md_headline(f, r);
    md_components(f, r);
    md_part_table(f, "Energy by phase", "phase", r->phases, r->phase_count, r->total_fj);
    md_part_table(f, "Energy by technique", "technique", r->techniques, r->technique_count,
                  r->total_fj);
    md_actions(f, r);
    md_layers(f, r);
    md_roofline(f, r);
    fputs("\n## Files\n\n`report.json` (all numbers, schema " REPORT_SCHEMA "), `breakdown.csv` "
          "(component x action), `layers.csv` (every layer by phase, with its roofline), "
          "`curve.csv` (accuracy and energy at each evaluation), `report.html` (charts). See "
          "docs/outputs.md.\n", f);
    return ferror(f) ? E2_FAILURE : E2_OK;
}

/* ---- report.html ------------------------------------------------------------------------ */

static void html_headline(FILE *f, const struct run_report *r)
{
    char a[32], b[32];
    fputs("<h1>e2sim report: ", f);
    html_escape(f, r->name[0] ? r->name : "run");
    fputs("</h1>\n<p>", f);
    html_escape(f, r->kind);
    fputs(" of ", f);
    html_escape(f, r->network);
    fputs(" on ", f);
    html_escape(f, r->dataset);
    fputs(", method ", f);
    html_escape(f, r->method[0] ? r->method : "-");
    fputs(".</p>\n<table>\n", f);
    if (r->has_accuracy) {
        percent(a, sizeof a, r->top1);
        percent(b, sizeof b, r->top5);
        fprintf(f, "<tr><td>test top-1</td><td class=\"big\">%s</td></tr>\n"
                   "<tr><td>test top-5</td><td>%s</td></tr>\n", a, b);
    }
    report_format_human(a, sizeof a, r->total_fj);
    fprintf(f, "<tr><td>energy</td><td class=\"big\">%s</td></tr>\n", a);
    if (r->baseline_fp32_fj) {
        report_format_human(a, sizeof a, r->baseline_fp32_fj);
        percent(b, sizeof b, report_savings(r));
        fprintf(f, "<tr><td>float32 baseline</td><td>%s</td></tr>\n"
                   "<tr><td>saving vs float32</td><td class=\"big\">%s</td></tr>\n", a, b);
    }
    html_format_unit(a, sizeof a, r->fpga_seconds, "s");
    fprintf(f, "<tr><td>FPGA time</td><td>%s</td></tr>\n", a);
    fprintf(f, "<tr><td>iterations</td><td>%" PRIu64 "</td></tr>\n", r->iterations);
    percent(a, sizeof a, r->slu_skip_ratio);
    percent(b, sizeof b, r->psg_predictor_ratio);
    fprintf(f, "<tr><td>SLU skip ratio</td><td>%s</td></tr>\n"
               "<tr><td>PSG predictor ratio</td><td>%s</td></tr>\n</table>\n", a, b);
}

static void html_parts_chart(FILE *f, const char *title, const struct report_part *p, int n,
                             e2_fj total)
{
    if (n == 0)
        return;
    const char **labels = malloc((size_t)n * sizeof *labels);
    double *values = malloc((size_t)n * sizeof *values);
    if (labels && values) {
        for (int i = 0; i < n; i++) {
            labels[i] = p[i].name;
            values[i] = joules(p[i].fj);
        }
        struct html_bars c = {title, "J", n, labels, 1, NULL, values, joules(total), 0};
        html_bar_chart(f, &c);
    }
    free(labels);
    free(values);
}

static void html_component_chart(FILE *f, const struct run_report *r)
{
    int *first = malloc((size_t)(r->action_count + 1) * sizeof *first);
    struct report_part *parts = malloc((size_t)(r->action_count + 1) * sizeof *parts);
    if (first && parts) {
        int n = components(r, first);
        for (int i = 0; i < n; i++) {
            snprintf(parts[i].name, sizeof parts[i].name, "%s", r->actions[first[i]].component);
            parts[i].fj = report_component_fj(r, parts[i].name);
        }
        html_parts_chart(f, "Energy by component", parts, n, r->total_fj);
    }
    free(first);
    free(parts);
}

/* The top_layers layers by energy, then one "other" bar for the rest, each by phase. */
static void html_layer_chart(FILE *f, const struct run_report *r)
{
    if (r->layer_count == 0)
        return;
    int top = r->top_layers < r->layer_count ? r->top_layers : r->layer_count;
    int rest = r->layer_count - top, n = top + (rest > 0);
    int *order = layers_by_energy(r);
    const char **labels = malloc((size_t)n * sizeof *labels);
    double *values = calloc((size_t)n * REPORT_PHASES, sizeof *values);
    char (*names)[REPORT_NAME + 32] = malloc((size_t)n * sizeof *names);
    if (order && labels && values && names) {
        for (int i = 0; i < r->layer_count; i++) {
            const struct report_layer *l = &r->layers[order[i]];
            int row = i < top ? i : top;
            if (i < top)
                snprintf(names[row], sizeof names[row], "%d %s", l->id, l->name);
            for (int p = 0; p < REPORT_PHASES; p++)
                values[row * REPORT_PHASES + p] += joules(l->phase_fj[p]);
        }
        if (rest > 0)
            snprintf(names[top], sizeof names[top], "other (%d layers)", rest);
        for (int i = 0; i < n; i++)
            labels[i] = names[i];
        char title[96];
        snprintf(title, sizeof title, "Energy per layer, by phase: the top %d of %d layers", top,
                 r->layer_count);
        /* the axis fits the named layers: "other" (often most of the energy) is drawn broken */
        double named = 0;
        for (int i = 0; i < top; i++) {
            double sum = 0;
            for (int p = 0; p < REPORT_PHASES; p++)
                sum += values[i * REPORT_PHASES + p];
            named = fmax(named, sum);
        }
        const char *phases[REPORT_PHASES];
        for (int p = 0; p < REPORT_PHASES; p++)
            phases[p] = oprec_phase_name((unsigned)p);
        struct html_bars c = {title, "J", n, labels, REPORT_PHASES, phases, values,
                              joules(r->total_fj), named};
        html_bar_chart(f, &c);
    }
    free(order);
    free(labels);
    free(values);
    free(names);
}

static void html_curve_chart(FILE *f, const struct run_report *r)
{
    int n = 0;
    double *x = malloc((size_t)(r->curve_count + 1) * sizeof *x);
    double *y = malloc((size_t)(r->curve_count + 1) * sizeof *y);
    if (x && y) {
        for (int i = 0; i < r->curve_count; i++) {
            if (!isfinite(r->curve[i].test_top1))
                continue;
            x[n] = joules(r->curve[i].energy_fj);
            y[n] = 100 * r->curve[i].test_top1;
            n++;
        }
        struct html_line c = {"Test top-1 against energy spent so far", "energy so far", "J",
                              "test top-1", "%", n, x, y};
        if (n > 0)
            html_line_chart(f, &c);
    }
    free(x);
    free(y);
}

/* Every layer with MACs and time of its own on the roofline, coloured by kind, named on the
 * chart in order of energy where the names do not overlap. */
static void html_roofline(FILE *f, const struct run_report *r)
{
    int n = r->layer_count;
    char roofs[256];
    roofs_text(roofs, sizeof roofs, &r->roofs);
    if (n == 0 || !roofs[0])
        return;
    int *order = layers_by_energy(r);
    double *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    const char **names = malloc((size_t)n * sizeof *names), **kinds = malloc((size_t)n * sizeof *kinds);
    char (*text)[REPORT_NAME + 16] = malloc((size_t)n * sizeof *text);
    if (order && x && y && names && kinds && text) {
        int drawn = 0;
        for (int i = 0; i < n; i++) {
            const struct report_layer *l = &r->layers[order[i]];
            snprintf(text[i], sizeof text[i], "%d %s", l->id, l->name);
            names[i] = text[i];
            kinds[i] = l->kind;
            x[i] = report_layer_intensity(l);
            y[i] = report_layer_attained(r, l);
            drawn += isfinite(x[i]) && isfinite(y[i]) && x[i] > 0 && y[i] > 0;
        }
        char peak[64], bw[64];
        html_format_si(peak, sizeof peak, r->roofs.peak_macs_per_s, "MAC/s");
        html_format_si(bw, sizeof bw, r->roofs.ddr_bytes_per_s, "B/s");
        char peak_label[96], bw_label[96];
        snprintf(peak_label, sizeof peak_label, "compute roof %s (%dx%d)", peak, r->roofs.bits_a,
                 r->roofs.bits_b);
        snprintf(bw_label, sizeof bw_label, "DDR roof %s", bw);
        struct html_roofline c = {"Roofline: every layer over the whole run", "MAC/B", "MAC/s",
                                  r->roofs.peak_macs_per_s, r->roofs.ddr_bytes_per_s,
                                  peak_label, bw_label, n, x, y, names, kinds};
        html_roofline_chart(f, &c);
        fputs("<p>", f);
        html_escape(f, roofs);
        fprintf(f, ". Attained: the layer's MACs over its own FPGA time; %d of %d layers drawn "
                   "(the others do no MACs, or some of their work runs hidden inside other ops' "
                   "time; layers.csv has them all).</p>\n", drawn, n);
    }
    free(order);
    free(x);
    free(y);
    free(names);
    free(kinds);
    free(text);
}

int report_write_html(FILE *f, const struct run_report *r)
{
    html_begin(f, "e2sim report");
    html_headline(f, r);
    html_component_chart(f, r);
    html_parts_chart(f, "Energy by phase", r->phases, r->phase_count, r->total_fj);
    html_parts_chart(f, "Energy by technique", r->techniques, r->technique_count, r->total_fj);
    html_curve_chart(f, r);
    html_layer_chart(f, r);
    html_roofline(f, r);
    fputs("<h2>Actions</h2>\n<table>\n<tr><th>component</th><th>action</th><th>count</th>"
          "<th>pJ per action</th><th>energy</th><th>share</th></tr>\n", f);
    for (int i = 0; i < r->action_count; i++) {
        const struct report_action *a = &r->actions[i];
        fputs("<tr><td>", f);
        html_escape(f, a->component);
        fputs("</td><td class=\"text\">", f);
        html_escape(f, a->action);
        char p[32], e[32], share[32];
        format_pj(p, sizeof p, a->fj_per_action);
        report_format_human(e, sizeof e, a->fj);
        percent(share, sizeof share, r->total_fj ? (double)a->fj / (double)r->total_fj : NAN);
        fprintf(f, "</td><td>%" PRIu64 "</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
                a->count, p, e, share);
    }
    fputs("</table>\n", f);
    html_end(f);
    return ferror(f) ? E2_FAILURE : E2_OK;
}

/* ---- writing the files ------------------------------------------------------------------ */

typedef int (*writer_fn)(FILE *, const struct run_report *);

static int write_one(const char *outdir, const char *name, writer_fn fn,
                     const struct run_report *r, struct e2_err *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return e2_fail(err, E2_FAILURE, "%s/%s: out of memory", outdir, name);
    int rc = fn(f, r);
    if (fclose(f) != 0 || rc != E2_OK) {
        free(buf);
        return e2_fail(err, E2_FAILURE, "%s/%s: out of memory", outdir, name);
    }
    char path[OUT_PATH_MAX];
    rc = out_join(path, sizeof path, outdir, name, err);
    if (rc == E2_OK)
        rc = out_write_atomic(path, buf, len, err);
    free(buf);
    return rc;
}

int report_write(const char *outdir, const struct run_report *r, struct e2_err *err)
{
    static const struct { const char *name; writer_fn fn; } files[] = {
        {"report.json", report_write_json},
        {"report.md", report_write_md},
        {"breakdown.csv", report_write_breakdown_csv},
        {"layers.csv", report_write_layers_csv},
        {"curve.csv", report_write_curve_csv},
        {"report.html", report_write_html},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        int rc = write_one(outdir, files[i].name, files[i].fn, r, err);
        if (rc != E2_OK)
            return rc;
    }
    return E2_OK;
}
