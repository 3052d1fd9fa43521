/* report.json (see report.h). */
#define _POSIX_C_SOURCE 200809L
#include "report.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "oprec.h"
#include "report_parts.h"
#include "git_commit.h"     /* E2SIM_GIT_COMMIT, written by the build (sim/report/git_commit.cmake) */

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
        kv_number(w, p[i].name, report_joules(p[i].fj));
    json_object_end(w);
}

static void write_energy_json(struct json_writer *w, const struct run_result *r)
{
    json_key(w, "energy");
    json_object_begin(w);
    kv_number(w, "total_j", report_joules(r->total_fj));
    kv_fj(w, "total_fj", r->total_fj);
    if (r->baseline_fp32_fj) {
        kv_number(w, "baseline_fp32_j", report_joules(r->baseline_fp32_fj));
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
    int nc = first ? report_components(r, first) : 0;
    for (int i = 0; i < nc; i++) {
        const char *c = r->actions[first[i]].component;
        kv_number(w, c, report_joules(report_component_fj(r, c)));
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
        kv_number(w, "pj_per_action", report_pj(a->fj_per_action));
        kv_uint(w, "fj_per_action", a->fj_per_action);
        kv_number(w, "energy_j", report_joules(a->fj));
        kv_fj(w, "energy_fj", a->fj);
        json_object_end(w);
    }
    json_array_end(w);
    json_object_end(w);
}

static void write_accuracy_json(struct json_writer *w, const struct run_result *r)
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

static void write_training_json(struct json_writer *w, const struct run_result *r)
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

static void write_layers_json(struct json_writer *w, const struct run_result *r)
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
        kv_number(w, "energy_j", report_joules(report_layer_fj(l)));
        json_key(w, "by_phase");
        json_object_begin(w);
        for (int p = 0; p < REPORT_PHASES; p++)
            kv_number(w, oprec_phase_name((unsigned)p), report_joules(l->phase_fj[p]));
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

static void write_curve_json(struct json_writer *w, const struct run_result *r)
{
    json_key(w, "curve");
    json_array_begin(w);
    for (int i = 0; i < r->curve_count; i++) {
        const struct report_point *p = &r->curve[i];
        json_object_begin(w);
        kv_uint(w, "iteration", p->iteration);
        kv_number(w, "energy_j", report_joules(p->energy_fj));
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
static void write_provenance(struct json_writer *w, const struct run_result *r)
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

int report_write_json(FILE *f, const struct run_result *r)
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
