/* report.md (see report.h). */
#include "report.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "html.h"
#include "progress.h"
#include "report_parts.h"

void report_format_human(char *buf, size_t size, e2_fj fj)
{
    html_format_unit(buf, size, report_joules(fj), "J");   /* the charts' formatter: one for both */
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
        report_percent(s, sizeof s, total ? (double)p[i].fj / (double)total : NAN);
        fprintf(f, "| %s | %s | %s |\n", p[i].name, e, s);
    }
}

static void md_headline(FILE *f, const struct run_result *r)
{
    char a[32], b[32], c[64];
    fprintf(f, "# e2sim report: %s\n\n", r->name[0] ? r->name : "run");
    fprintf(f, "%s of %s on %s, method %s", r->kind, r->network, r->dataset,
            r->method[0] ? r->method : "-");
    if (r->trace[0])
        fprintf(f, " (replayed from `%s`)", r->trace);
    fputs(".\n\n| | |\n|---|---:|\n", f);
    if (r->has_accuracy) {
        report_percent(a, sizeof a, r->top1);
        report_percent(b, sizeof b, r->top5);
        fprintf(f, "| test top-1 | %s |\n| test top-5 | %s |\n", a, b);
    } else {
        fputs("| test top-1 | n/a (not trained) |\n", f);
    }
    report_format_human(a, sizeof a, r->total_fj);
    fprintf(f, "| energy | **%s** |\n", a);
    if (r->baseline_fp32_fj) {
        report_format_human(b, sizeof b, r->baseline_fp32_fj);
        report_percent(c, sizeof c, report_savings(r));
        fprintf(f, "| float32 baseline | %s |\n", b);
        fprintf(f, "| saving vs float32 | **%s** (%.2fx less energy) |\n", c,
                r->total_fj ? (double)r->baseline_fp32_fj / (double)r->total_fj : 0.0);
    }
    fprintf(f, "| FPGA time | %.3f s (%" PRIu64 " cycles at %.4g MHz) |\n", r->fpga_seconds,
            r->fpga_cycles, r->clock_mhz);
    fprintf(f, "| iterations | %" PRIu64 " (%" PRIu64 " minibatches processed) |\n",
            r->iterations, r->minibatches_processed);
    report_percent(a, sizeof a, r->slu_skip_ratio);
    report_percent(b, sizeof b, r->psg_predictor_ratio);
    fprintf(f, "| SLU skip ratio | %s |\n| PSG predictor ratio | %s |\n", a, b);
    if (r->has_fixed_point) {
        const struct report_fixed_point *x = &r->fixed_point;
        report_percent(a, sizeof a, x->quantized ? (double)x->saturated / (double)x->quantized : NAN);
        fprintf(f, "| fixed point | %" PRIu64 " values quantized, %" PRIu64 " saturated (%s); "
                "%" PRIu64 " of %" PRIu64 " accumulator sums overflowed |\n", x->quantized,
                x->saturated, a, x->acc_overflows, x->acc_sums);
    }
    progress_format_duration(c, sizeof c, r->wall_seconds);
    fprintf(f, "| wall time | %s |\n", c);
}

static void md_components(FILE *f, const struct run_result *r)
{
    int *first = malloc((size_t)(r->action_count + 1) * sizeof *first);
    if (!first)
        return;
    int n = report_components(r, first);
    fputs("\n## Energy by component\n\n| component | energy | share |\n|---|---:|---:|\n", f);
    for (int i = 0; i < n; i++) {
        const char *c = r->actions[first[i]].component;
        e2_fj fj = report_component_fj(r, c);
        char e[32], s[32];
        report_format_human(e, sizeof e, fj);
        report_percent(s, sizeof s, r->total_fj ? (double)fj / (double)r->total_fj : NAN);
        fprintf(f, "| %s | %s | %s |\n", c, e, s);
    }
    free(first);
}

static void md_actions(FILE *f, const struct run_result *r)
{
    fputs("\n## Actions (count x energy per action)\n\n"
          "| component | action | count | pJ per action | energy | share |\n"
          "|---|---|---:|---:|---:|---:|\n", f);
    for (int i = 0; i < r->action_count; i++) {
        const struct report_action *a = &r->actions[i];
        char e[32], s[32];
        report_format_human(e, sizeof e, a->fj);
        report_percent(s, sizeof s, r->total_fj ? (double)a->fj / (double)r->total_fj : NAN);
        char p[32];
        report_format_pj(p, sizeof p, a->fj_per_action);
        fprintf(f, "| %s | %s | %" PRIu64 " | %s | %s | %s |\n", a->component, a->action,
                a->count, p, e, s);
    }
}

static void md_layers(FILE *f, const struct run_result *r)
{
    if (r->layer_count == 0)
        return;
    int *order = report_layers_by_energy(r);
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
        report_format_human(e, sizeof e, report_layer_fj(l));
        report_percent(s, sizeof s, r->total_fj ? (double)report_layer_fj(l) / (double)r->total_fj : NAN);
        fprintf(f, " %s | %s | %" PRIu64 " |\n", e, s, l->cycles);
    }
    free(order);
}

/* "compute roof 44 G MAC/s (DSP array at 8x8), DDR roof 1.06 G B/s (DMA read stream), ridge
 * 41.5 MAC/B"; "" when the run has no roofs. */
/* A number in SI units, or "-" when it is undefined. */
static void si_or_dash(char *buf, size_t size, double v, const char *unit)
{
    if (isfinite(v))
        html_format_si(buf, size, v, unit);
    else
        snprintf(buf, size, "-");
}

static void md_roofline(FILE *f, const struct run_result *r)
{
    int *order = r->layer_count ? report_layers_by_energy(r) : NULL;
    if (!order)
        return;
    int n = r->top_layers < r->layer_count ? r->top_layers : r->layer_count;
    char roofs[256];
    report_roofs_text(roofs, sizeof roofs, &r->roofs);
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
        report_percent(util, sizeof util, report_layer_dsp_utilization(r, l));
        fprintf(f, "| %d %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", l->id, l->name,
                l->kind, macs, rd, wr, bram, ai, att, util,
                *report_layer_bound(l) ? report_layer_bound(l) : "-");
    }
    free(order);
}

int report_write_md(FILE *f, const struct run_result *r)
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
