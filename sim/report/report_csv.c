/* breakdown.csv, layers.csv, curve.csv and psg_layers.csv (see report.h). */
#include "report.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "report_parts.h"

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

int report_write_breakdown_csv(FILE *f, const struct run_result *r)
{
    fputs("component,action,count,pj_per_action,energy_j\n", f);
    for (int i = 0; i < r->action_count; i++) {
        const struct report_action *a = &r->actions[i];
        char j[64], p[32];
        report_format_joules(j, sizeof j, a->fj);
        report_format_pj(p, sizeof p, a->fj_per_action);
        report_csv_field(f, a->component);
        fputc(',', f);
        report_csv_field(f, a->action);
        fprintf(f, ",%" PRIu64 ",%s,%s\n", a->count, p, j);
    }
    return ferror(f) ? E2_FAILURE : E2_OK;
}

int report_write_layers_csv(FILE *f, const struct run_result *r)
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
        report_format_joules(j, sizeof j, report_layer_fj(l));
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

int report_write_curve_csv(FILE *f, const struct run_result *r)
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

/* PSG per layer: updates, predictor ratio and sign-flip rate. */
int report_write_psg_layers_csv(FILE *f, const struct run_result *r)
{
    fprintf(f, "param,layer,weight_updates,predictor_ratio,sign_flip_rate\n");
    for (int i = 0; i < r->psg_layer_count; i++) {
        const struct report_psg_layer *l = &r->psg_layers[i];
        double c = (double)l->updates;
        fprintf(f, "%s,%d,%llu,%.6f,%.6f\n", l->param, l->layer,
                (unsigned long long)l->updates, (double)l->predictor / c, (double)l->flips / c);
    }
    return E2_OK;
}
