/* run_train: one training run, priced on the hardware model, with its reports.
 *
 *   data sets -> training state -> pricing object (hardware model, the run's and the float32
 *   SMB baseline's ledgers, accumulator, optional trace) -> resume from DIR/checkpoint.e2ck
 *   -> train (op records -> pricing sink; the pricing object observes the loop)
 *   -> run_result -> report files (sim/report/) -> trace trailer -> summary.
 *
 * The environment variable E2SIM_PRICING=off (hidden, for measuring the model's overhead)
 * trains without emitting or pricing op records. */
#include <math.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run.h"
#include "pricing.h"
#include "outdir.h"
#include "progress.h"
#include "report.h"
#include "checkpoint.h"
#include "run_timeline.h"
#include "trace.h"
#include "train.h"


/* Everything a run holds, so that one function releases it. */
struct run {
    struct dataset train_ds, test_ds;
    struct train t;
    int t_open;
    struct pricing pricing;
    struct trace_layer *layers;
    int nlayers;
    char *config_text;
    struct run_result rep;
};

/* Layer ids, names and kinds: names from the parameters a layer owns ("b3.u1.conv.w" ->
 * "b3.u1.conv"), kinds from the records of one dry iteration with every block run (a trace's
 * header is written before the run has emitted any record); layers without parameters are
 * named by kind and id. */
static int describe_layers(struct run *r)
{
    struct energy_acc dry;
    if (energy_init(&dry, NULL, NULL) != 0)
        return -1;
    int rc = net_emit_iteration(r->t.net, r->t.batch, NULL, 0.0f, NULL, &dry.sink) == 0 &&
                     !dry.oom
                 ? energy_describe_layers(r->t.p, r->t.np, &dry, &r->layers, &r->nlayers)
                 : -1;
    energy_free(&dry);
    return rc;
}

static int fill_report(struct run *r, const struct e2_config *cfg, int priced)
{
    struct run_result *rep = &r->rep;
    struct train *t = &r->t;
    int rc = E2_OK;
    strcpy(rep->kind, "train");
    snprintf(rep->name, sizeof rep->name, "%s", cfg->name);
    cfg_network_text(cfg, rep->network, sizeof rep->network);
    snprintf(rep->dataset, sizeof rep->dataset, "%s", cfg_dataset_names[cfg->dataset.name]);
    cfg_method_text(cfg, rep->method, sizeof rep->method);
    rep->config_text = r->config_text;
    rep->wall_seconds = t->wall_seconds;
    rep->has_accuracy = t->evaluated;
    rep->top1 = t->top1;
    rep->top5 = t->top5;
    rep->top_layers = cfg->report.top_layers;
    rep->iterations = t->total;
    rep->minibatches_processed = t->minibatches;
    rep->slu_skip_ratio = train_skip_ratio(t);
    if (t->blocks > 1) {
        double *skip = calloc((size_t)t->blocks, sizeof *skip);
        if (!skip)
            return E2_FAILURE;
        int nb = train_block_skip(t, skip, t->blocks);
        rc = run_result_set_slu_blocks(rep, nb, skip);
        free(skip);
    }
    rep->psg_predictor_ratio = train_psg_predictor_ratio(t);
    struct fx_stats st = net_fx_stats(t->net);
    rep->has_fixed_point = st.quantized > 0;
    rep->fixed_point = (struct report_fixed_point){st.quantized, st.saturated, st.msb_clipped,
                                                  st.acc_sums, st.acc_overflows};
    rep->has_psg_layers = cfg->training.psg.enabled;   /* psg_layers.csv, rows or not */
    for (int i = 0; rep->has_psg_layers && i < t->np && rc == E2_OK; i++) {
        if (t->psg_count[i])
            rc = run_result_add_psg_layer(rep, t->p[i].name, t->p[i].layer, t->psg_count[i],
                                          t->psg_predictor[i], t->psg_flips[i]);
    }
    for (int i = 0; i < t->curve_n && rc == E2_OK; i++)
        rc = run_result_add_point(rep, t->curve[i].iteration, t->curve[i].energy_fj,
                              t->curve[i].train_loss, t->curve[i].top1);
    if (rc == E2_OK && priced)
        rc = run_result_fill_energy(rep, r->pricing.model, r->pricing.run, r->pricing.baseline,
                                r->layers, r->nlayers);
    return rc;
}

static int by_energy_desc(const void *a, const void *b)
{
    e2_fj x = 0, y = 0;
    for (int p = 0; p < REPORT_PHASES; p++) {
        x += ((const struct report_layer *)a)->phase_fj[p];
        y += ((const struct report_layer *)b)->phase_fj[p];
    }
    return x < y ? 1 : x > y ? -1 : 0;
}

static void print_summary(FILE *out, const struct run *r, const char *dir, int priced)
{
    const struct run_result *rep = &r->rep;
    const struct train *t = &r->t;
    fprintf(out, "\n%s: %s on %s, method %s: %llu iterations, %llu minibatches processed, "
            "%.1f s\n", rep->name, rep->network, rep->dataset, rep->method,
            (unsigned long long)rep->iterations, (unsigned long long)rep->minibatches_processed,
            rep->wall_seconds);
    fprintf(out, "  test top-1 %.2f %%, top-5 %.2f %%\n", 100 * rep->top1, 100 * rep->top5);
    if (t->cfg->training.slu.enabled || t->cfg->training.sd.enabled)
        fprintf(out, "  skip ratio %.3f (gated blocks)\n", rep->slu_skip_ratio);
    if (t->cfg->training.psg.enabled)
        fprintf(out, "  PSG predictor ratio %.3f, sign-flip rate %.4f\n", rep->psg_predictor_ratio,
                train_psg_flip_rate(t));
    if (rep->has_fixed_point) {
        const struct report_fixed_point *x = &rep->fixed_point;
        fprintf(out, "  fixed point: %.4g values quantized, %" PRIu64 " saturated (%.3g %%); %" PRIu64
                " of %.4g accumulator sums overflowed\n", (double)x->quantized, x->saturated,
                100.0 * (double)x->saturated / (double)x->quantized, x->acc_overflows,
                (double)x->acc_sums);
    }
    if (!priced) {
        fprintf(out, "  energy: not priced (E2SIM_PRICING=off)\n  reports: %s\n", dir);
        return;
    }
    char j[48];
    report_format_human(j, sizeof j, rep->total_fj);
    fprintf(out, "  energy %s on the FPGA model, FPGA time %.3f s (%llu cycles at %.0f MHz)\n",
            j, rep->fpga_seconds, (unsigned long long)rep->fpga_cycles, rep->clock_mhz);
    if (rep->baseline_fp32_fj) {
        report_format_human(j, sizeof j, rep->baseline_fp32_fj);
        fprintf(out, "  float32 SMB baseline %s: saving %.2f %%\n", j,
                100 * report_savings(rep));
    }
    fprintf(out, "  by component:");
    for (int c = 0; c < HW_COMPONENT_COUNT; c++) {
        e2_fj fj = report_component_fj(rep, hw_component_name(c));
        if (fj)
            fprintf(out, " %s %.1f %%", hw_component_name(c),
                    100.0 * (double)fj / (double)rep->total_fj);
    }
    fprintf(out, "\n  by phase:");
    for (int i = 0; i < rep->phase_count; i++)
        fprintf(out, " %s %.1f %%", rep->phases[i].name,
                100.0 * (double)rep->phases[i].fj / (double)rep->total_fj);
    fprintf(out, "\n");
    int n = rep->layer_count;
    struct report_layer *sorted = malloc((size_t)(n ? n : 1) * sizeof *sorted);
    if (sorted) {
        memcpy(sorted, rep->layers, (size_t)n * sizeof *sorted);
        qsort(sorted, (size_t)n, sizeof *sorted, by_energy_desc);
        int top = rep->top_layers > 0 && rep->top_layers < n ? rep->top_layers : n;
        if (top > 5)
            top = 5;
        fprintf(out, "  top layers:");
        for (int i = 0; i < top; i++) {
            e2_fj fj = 0;
            for (int p = 0; p < REPORT_PHASES; p++)
                fj += sorted[i].phase_fj[p];
            fprintf(out, " %s %.1f %%%s", sorted[i].name, 100.0 * (double)fj / (double)rep->total_fj,
                    i + 1 < top ? "," : "");
        }
        fprintf(out, "\n");
        free(sorted);
    }
    fprintf(out, "  reports: %s\n", dir);
}

static void run_free(struct run *r)
{
    run_result_free(&r->rep);
    pricing_close(&r->pricing);
    if (r->t_open)
        train_close(&r->t);
    ds_free(&r->train_ds);
    ds_free(&r->test_ds);
    free(r->layers);
    free(r->config_text);
}

static int pricing_on(void)
{
    const char *v = getenv("E2SIM_PRICING");
    return !(v && strcmp(v, "off") == 0);
}

static int run_training(struct run *r, const struct run_options *opts,
                        const struct e2_config *cfg, struct e2_err *err)
{
    const char *dir = opts->dir;
    int rc, priced = pricing_on();
    char path[OUT_PATH_MAX];
    uint64_t seed = (uint64_t)cfg->seed;

    if ((rc = ds_load(&cfg->dataset, 1, seed, &r->train_ds, err)) != E2_OK ||
        (rc = ds_load(&cfg->dataset, 0, seed, &r->test_ds, err)) != E2_OK ||
        (rc = ds_check_pair(&r->train_ds, &r->test_ds, err)) != E2_OK)
        return rc;
    if ((rc = train_open(&r->t, cfg, &r->train_ds, &r->test_ds, err)) != E2_OK)
        return rc;
    r->t_open = 1;
    if ((rc = pricing_open(&r->pricing, &cfg->hw, priced, NULL, err)) != E2_OK)
        return rc;
    struct train_observer observer = pricing_observer(&r->pricing);

    if (out_join(path, sizeof path, dir, TRAIN_CKPT_FILE, err))
        return E2_FAILURE;
    /* The restored records are priced at once (the trace, resumed below, already holds them). */
    int resumed = opts->resume && access(path, F_OK) == 0;
    if (resumed && (rc = train_resume(&r->t, path, &observer, err)) != E2_OK)
        return rc;

    r->config_text = cfg_print_text(cfg);
    if (!r->config_text)
        return e2_fail(err, E2_FAILURE, "out of memory");
    int finished = resumed && r->t.next >= r->t.total;
    if (cfg->report.trace[0] && priced && finished) {
        /* the run and its trace are complete: the reports are written again, the trace kept */
        if (access(cfg->report.trace, F_OK) != 0)
            return e2_fail(err, E2_BAD_INPUT, "--trace %s: the run in %s finished without "
                           "recording that trace; resume without --trace", cfg->report.trace, dir);
    } else if (cfg->report.trace[0] && priced && resumed) {
        if ((rc = pricing_trace_resume(&r->pricing, cfg->report.trace, path, err)) != E2_OK)
            return rc;
    } else if (cfg->report.trace[0] && priced) {
        if (describe_layers(r) != 0)
            return e2_fail(err, E2_FAILURE, "out of memory");
        struct trace_header h;
        memset(&h, 0, sizeof h);
        cfg_network_text(cfg, h.network, sizeof h.network);
        snprintf(h.dataset, sizeof h.dataset, "%s", cfg_dataset_names[cfg->dataset.name]);
        h.config_text = r->config_text;
        h.config_hash = trace_config_hash(r->config_text);
        h.layer_count = r->nlayers;
        h.layers = r->layers;
        if ((rc = pricing_trace_create(&r->pricing, cfg->report.trace, &h, err)) != E2_OK)
            return rc;
    }
    /* Only a resume the checkpoint (and trace) accepted may replace the folder's config.yaml. */
    if (opts->resume && (rc = cfg_write_resolved(dir, cfg, err)) != E2_OK)
        return rc;

    if (priced) {
        /* The float32 SMB baseline: the same network and batch, float everywhere, no
         * technique, every minibatch and block, plain SGD. */
        struct net *fp32;
        if ((rc = train_net_create(cfg, r->train_ds.channels, r->train_ds.height,
                                   r->train_ds.width, r->train_ds.classes, 1, &fp32, err)) != E2_OK)
            return rc;
        /* (a resumed trace has its baseline stream from the start) */
        char length[CFG_STR + 96];
        train_length_text(cfg, length, sizeof length);
        rc = pricing_price_baseline(&r->pricing, fp32, r->t.batch, r->t.total, !resumed, length,
                                    err);
        net_free(fp32);
        if (rc != E2_OK)
            return rc;
    }

    struct progress pg;
    progress_init(&pg, stderr, progress_mode_from(cfg->report.progress, opts->quiet), "iter",
                  r->t.total);
    struct train_io io = {
        .sink = priced ? pricing_sink(&r->pricing) : NULL,
        .observer = &observer,
        .progress = &pg,
        .checkpoint_path = path,
    };
    if ((rc = train_run(&r->t, &io, err)) != E2_OK)
        return rc;

    if (!r->layers && describe_layers(r) != 0)
        return e2_fail(err, E2_FAILURE, "out of memory");
    run_result_init(&r->rep);
    if (fill_report(r, cfg, priced) != E2_OK)
        return e2_fail(err, E2_FAILURE, "out of memory filling the report");
    if ((rc = report_write(dir, &r->rep, err)) != E2_OK)
        return rc;
    if (cfg->report.timeline && priced &&
        (rc = timeline_write_iteration(r->t.net, &cfg->training, r->pricing.model, dir, err)) != E2_OK)
        return rc;
    struct trace_writer *trace = pricing_trace_take(&r->pricing);
    if (trace) {
        struct trace_result res;
        run_result_trace_result(&r->rep, &res);
        rc = trace_finish(trace, &res, err);
        if (rc != E2_OK)
            return rc;
    }
    if (!opts->quiet)
        print_summary(stdout, r, dir, priced);
    return E2_OK;
}

int run_train(const struct run_options *o, const struct e2_config *cfg, struct e2_err *err)
{
    /* A fresh run writes config.yaml first, so a long run's folder says what it runs from the
     * start; a resume replaces it only once the checkpoint has accepted the config. */
    int rc = o->resume ? E2_OK : cfg_write_resolved(o->dir, cfg, err);
    if (rc != E2_OK)
        return rc;
    struct run *r = calloc(1, sizeof *r);
    if (!r)
        return e2_fail(err, E2_FAILURE, "out of memory");
    rc = run_training(r, o, cfg, err);
    run_free(r);
    free(r);
    return rc;
}
