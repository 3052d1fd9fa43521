/* report.html: inline SVG charts, opens offline (see report.h). */
#include "report.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "html.h"
#include "oprec.h"
#include "report_parts.h"

static void html_headline(FILE *f, const struct run_result *r)
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
        report_percent(a, sizeof a, r->top1);
        report_percent(b, sizeof b, r->top5);
        fprintf(f, "<tr><td>test top-1</td><td class=\"big\">%s</td></tr>\n"
                   "<tr><td>test top-5</td><td>%s</td></tr>\n", a, b);
    }
    report_format_human(a, sizeof a, r->total_fj);
    fprintf(f, "<tr><td>energy</td><td class=\"big\">%s</td></tr>\n", a);
    if (r->baseline_fp32_fj) {
        report_format_human(a, sizeof a, r->baseline_fp32_fj);
        report_percent(b, sizeof b, report_savings(r));
        fprintf(f, "<tr><td>float32 baseline</td><td>%s</td></tr>\n"
                   "<tr><td>saving vs float32</td><td class=\"big\">%s</td></tr>\n", a, b);
    }
    html_format_unit(a, sizeof a, r->fpga_seconds, "s");
    fprintf(f, "<tr><td>FPGA time</td><td>%s</td></tr>\n", a);
    fprintf(f, "<tr><td>iterations</td><td>%" PRIu64 "</td></tr>\n", r->iterations);
    report_percent(a, sizeof a, r->slu_skip_ratio);
    report_percent(b, sizeof b, r->psg_predictor_ratio);
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
            values[i] = report_joules(p[i].fj);
        }
        struct html_bars c = {title, "J", n, labels, 1, NULL, values, report_joules(total), 0};
        html_bar_chart(f, &c);
    }
    free(labels);
    free(values);
}

static void html_component_chart(FILE *f, const struct run_result *r)
{
    int *first = malloc((size_t)(r->action_count + 1) * sizeof *first);
    struct report_part *parts = malloc((size_t)(r->action_count + 1) * sizeof *parts);
    if (first && parts) {
        int n = report_components(r, first);
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
static void html_layer_chart(FILE *f, const struct run_result *r)
{
    if (r->layer_count == 0)
        return;
    int top = r->top_layers < r->layer_count ? r->top_layers : r->layer_count;
    int rest = r->layer_count - top, n = top + (rest > 0);
    int *order = report_layers_by_energy(r);
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
                values[row * REPORT_PHASES + p] += report_joules(l->phase_fj[p]);
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
                              report_joules(r->total_fj), named};
        html_bar_chart(f, &c);
    }
    free(order);
    free(labels);
    free(values);
    free(names);
}

static void html_curve_chart(FILE *f, const struct run_result *r)
{
    int n = 0;
    double *x = malloc((size_t)(r->curve_count + 1) * sizeof *x);
    double *y = malloc((size_t)(r->curve_count + 1) * sizeof *y);
    if (x && y) {
        for (int i = 0; i < r->curve_count; i++) {
            if (!isfinite(r->curve[i].test_top1))
                continue;
            x[n] = report_joules(r->curve[i].energy_fj);
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
static void html_roofline(FILE *f, const struct run_result *r)
{
    int n = r->layer_count;
    char roofs[256];
    report_roofs_text(roofs, sizeof roofs, &r->roofs);
    if (n == 0 || !roofs[0])
        return;
    int *order = report_layers_by_energy(r);
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

int report_write_html(FILE *f, const struct run_result *r)
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
        report_format_pj(p, sizeof p, a->fj_per_action);
        report_format_human(e, sizeof e, a->fj);
        report_percent(share, sizeof share, r->total_fj ? (double)a->fj / (double)r->total_fj : NAN);
        fprintf(f, "</td><td>%" PRIu64 "</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
                a->count, p, e, share);
    }
    fputs("</table>\n", f);
    html_end(f);
    return ferror(f) ? E2_FAILURE : E2_OK;
}
