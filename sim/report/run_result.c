/* Building a run's result (see run_result.h). */
#include "run_result.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "hw.h"
#include "oprec.h"
#include "report_parts.h"
#include "trace.h"

/* ---- building the report ---------------------------------------------------------------- */

void run_result_init(struct run_result *r)
{
    memset(r, 0, sizeof *r);
#ifdef E2SIM_VERSION
    snprintf(r->version, sizeof r->version, "%s", E2SIM_VERSION);
#endif
    r->top_layers = 10;
    r->top1 = r->top5 = NAN;
}

void run_result_free(struct run_result *r)
{
    free(r->actions);
    free(r->phases);
    free(r->techniques);
    free(r->layers);
    free(r->curve);
    free(r->slu_block_skip);
    free(r->psg_layers);
    r->psg_layers = NULL;
    r->psg_layer_count = 0;
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

int run_result_add_action(struct run_result *r, const char *component, const char *action,
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

int run_result_add_phase(struct run_result *r, const char *name, e2_fj fj)
{
    return add_part(&r->phases, &r->phase_count, name, fj);
}

int run_result_add_technique(struct run_result *r, const char *name, e2_fj fj)
{
    return add_part(&r->techniques, &r->technique_count, name, fj);
}

int run_result_add_layer(struct run_result *r, const struct report_layer *layer)
{
    if (room((void **)&r->layers, r->layer_count, sizeof *r->layers))
        return E2_FAILURE;
    r->layers[r->layer_count++] = *layer;
    return E2_OK;
}

int run_result_add_point(struct run_result *r, uint64_t iteration, e2_fj energy_fj,
                     double train_loss, double test_top1)
{
    if (room((void **)&r->curve, r->curve_count, sizeof *r->curve))
        return E2_FAILURE;
    struct report_point p = {iteration, energy_fj, train_loss, test_top1};
    r->curve[r->curve_count++] = p;
    return E2_OK;
}

int run_result_set_slu_blocks(struct run_result *r, int count, const double *skip)
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

int run_result_add_psg_layer(struct run_result *r, const char *param, int layer,
                             uint64_t updates, uint64_t predictor, uint64_t flips)
{
    r->has_psg_layers = 1;
    if (room((void **)&r->psg_layers, r->psg_layer_count, sizeof *r->psg_layers))
        return E2_FAILURE;
    struct report_psg_layer *l = &r->psg_layers[r->psg_layer_count++];
    snprintf(l->param, sizeof l->param, "%s", param);
    l->layer = layer;
    l->updates = updates;
    l->predictor = predictor;
    l->flips = flips;
    return E2_OK;
}

/* The fields a trace's trailer and a run result share, copied the same in both directions. */
#define TRAILER_FIELDS(X)                                                                          \
    X(has_accuracy) X(top1) X(top5) X(iterations) X(minibatches_processed) X(slu_skip_ratio)      \
    X(psg_predictor_ratio)
#define COPY_FIELD(f) dst->f = src->f;

void run_result_trace_result(const struct run_result *src, struct trace_result *dst)
{
    memset(dst, 0, sizeof *dst);
    TRAILER_FIELDS(COPY_FIELD)
    dst->slu_blocks = src->slu_block_count < TRACE_MAX_BLOCKS ? src->slu_block_count
                                                               : TRACE_MAX_BLOCKS;
    for (int i = 0; i < dst->slu_blocks; i++)
        dst->slu_block_skip[i] = src->slu_block_skip[i];
    dst->wall_seconds = src->wall_seconds;
}

int run_result_from_trace_result(struct run_result *dst, const struct trace_result *src)
{
    TRAILER_FIELDS(COPY_FIELD)
    return run_result_set_slu_blocks(dst, src->slu_blocks, src->slu_block_skip);
}

double report_savings(const struct run_result *r)
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

double report_layer_attained(const struct run_result *r, const struct report_layer *l)
{
    uint64_t busiest = l->compute_cycles > l->ddr_cycles ? l->compute_cycles : l->ddr_cycles;
    busiest = busiest > l->ps_cycles ? busiest : l->ps_cycles;
    if (l->cycles == 0 || busiest > l->cycles || !(r->clock_mhz > 0))
        return NAN;   /* no time of its own, or work hidden in other ops' time */
    return (double)l->macs / ((double)l->cycles / (r->clock_mhz * 1e6));
}

double report_layer_dsp_utilization(const struct run_result *r, const struct report_layer *l)
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

e2_fj report_component_fj(const struct run_result *r, const char *component)
{
    e2_fj sum = 0;
    for (int i = 0; i < r->action_count; i++)
        if (strcmp(r->actions[i].component, component) == 0)
            sum += r->actions[i].fj;
    return sum;
}

/* ---- from the hardware ledger ---------------------------------------------------------- */


static const struct trace_layer *layer_named(const struct trace_layer *layers, int n, int id)
{
    for (int i = 0; layers && i < n; i++)
        if (layers[i].id == id)
            return &layers[i];
    return NULL;
}

static int fill_layers(struct run_result *r, const struct hw_ledger *run,
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
        rc = run_result_add_layer(r, &l);
    }
    free(ids);
    return rc;
}

int run_result_fill_energy(struct run_result *r, const struct hw_model *model,
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
        rc = run_result_add_action(r, rows[i].component_name, rows[i].action, rows[i].count,
                               rows[i].fj_per_action, rows[i].fj);
    free(rows);

    e2_fj sum = 0;
    for (int p = 0; p < REPORT_PHASES && rc == E2_OK; p++) {
        struct hw_filter f = hw_filter_all();
        f.phase = p;
        e2_fj fj = hw_ledger_fj(run, &f);
        sum += fj;
        rc = run_result_add_phase(r, oprec_phase_name((unsigned)p), fj);
    }
    if (rc == E2_OK && sum != r->total_fj)   /* energy not tied to an op (idle time) */
        rc = run_result_add_phase(r, "other", r->total_fj - sum);
    sum = 0;
    for (int t = 0; t < OP_TECH_COUNT && rc == E2_OK; t++) {
        struct hw_filter f = hw_filter_all();
        f.tech = t;
        e2_fj fj = hw_ledger_fj(run, &f);
        sum += fj;
        rc = run_result_add_technique(r, oprec_tech_name((unsigned)t), fj);
    }
    if (rc == E2_OK && sum != r->total_fj)
        rc = run_result_add_technique(r, "other", r->total_fj - sum);
    if (rc == E2_OK)
        rc = fill_layers(r, run, layers, layer_count);
    return rc;
}
