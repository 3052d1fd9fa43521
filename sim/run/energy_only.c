/* Energy-only mode: op streams from statistics (see energy_only.h). */
#include "energy_only.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hw.h"
#include "pricing.h"
#include "net.h"
#include "optim.h"
#include "run.h"
#include "run_timeline.h"
#include "train.h"
#include "progress.h"
#include "swa.h"
#include "trace.h"
#include "train.h"

/* SWA's BN re-estimation length; the same cap as sim/run/train.c's BN_RECOMPUTE_BATCHES. */
#define ENERGY_ONLY_BN_BATCHES 20

/* ---------------------------------------------------------------- statistics ------------ */

uint64_t energy_only_processed(uint64_t iterations, double p)
{
    if (p <= 0)
        return iterations;
    if (p >= 1)
        return 0;
    double x = floor((double)iterations * (1.0 - p) + 0.5);
    return x > (double)iterations ? iterations : (uint64_t)x;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The mixture as a "layer cake": draw u uniform in [0, 1); block b executes lo[b] samples when
 * u < frac_lo[b], else hi[b]. Between two consecutive distinct fractions every block's choice
 * is fixed: one iteration kind per interval, weighted by the interval's length. */
int energy_only_mixture(int blocks, int batch, uint64_t processed, const double *frac_lo,
                        const int *lo, const int *hi, struct energy_only_plan *plan)
{
    int nb = blocks > 0 ? blocks : 1;
    double *cut = malloc(sizeof(double) * (size_t)(nb + 1));
    double *rem = malloc(sizeof(double) * (size_t)(nb + 1));
    plan->kinds = calloc((size_t)(nb + 1), sizeof *plan->kinds);
    plan->block_skip = calloc((size_t)nb, sizeof(double));
    plan->nkinds = 0;
    int ok = cut && rem && plan->kinds && plan->block_skip;
    int ncut = 0;
    cut[ncut++] = 0.0;
    for (int b = 1; ok && b < blocks; b++)
        if (frac_lo[b] > 0 && frac_lo[b] < 1)
            cut[ncut++] = frac_lo[b];
    if (ok)
        qsort(cut, (size_t)ncut, sizeof *cut, cmp_double);
    int m = 0;   /* distinct cut points */
    for (int i = 0; ok && i < ncut; i++)
        if (m == 0 || cut[i] != cut[m - 1])
            cut[m++] = cut[i];
    /* Largest-remainder apportionment of `processed` over the intervals [cut_k, cut_k+1). */
    uint64_t given = 0;
    for (int k = 0; ok && k < m; k++) {
        double w = (k + 1 < m ? cut[k + 1] : 1.0) - cut[k];
        double x = w * (double)processed;
        plan->kinds[k].count = (uint64_t)floor(x);
        rem[k] = x - floor(x);
        given += plan->kinds[k].count;
    }
    while (ok && given < processed) {
        int best = 0;
        for (int k = 1; k < m; k++)
            if (rem[k] > rem[best])
                best = k;
        plan->kinds[best].count++;
        rem[best] = -1;
        given++;
    }
    /* Each kind's active counts, dropping empty kinds. */
    double *skipped = plan->block_skip;
    for (int k = 0; ok && k < m; k++) {
        if (plan->kinds[k].count == 0)
            continue;
        int *active = malloc(sizeof(int) * (size_t)nb);
        if (!active) {
            ok = 0;
            break;
        }
        active[0] = batch;
        for (int b = 1; b < blocks; b++) {
            active[b] = frac_lo[b] > cut[k] ? lo[b] : hi[b];
            skipped[b - 1] += (double)plan->kinds[k].count * (batch - active[b]);
        }
        plan->kinds[plan->nkinds].count = plan->kinds[k].count;
        plan->kinds[plan->nkinds].active = active;
        plan->nkinds++;
    }
    double all = 0;
    for (int b = 1; ok && b < blocks; b++) {
        all += skipped[b - 1];
        skipped[b - 1] = processed ? skipped[b - 1] / ((double)processed * batch) : 0;
    }
    plan->skip_ratio = (ok && blocks > 1 && processed)
                           ? all / ((double)processed * batch * (blocks - 1)) : 0;
    free(cut);
    free(rem);
    return ok ? 0 : -1;
}

void energy_only_plan_free(struct energy_only_plan *plan)
{
    for (int k = 0; plan->kinds && k < plan->nkinds; k++)
        free(plan->kinds[k].active);
    free(plan->kinds);
    free(plan->block_skip);
    memset(plan, 0, sizeof *plan);
}

/* ---------------------------------------------------------------- the net --------------- */

/* Image shape, classes and training-set size of a data set, without reading it. */
static int dataset_shape(const struct cfg_dataset *d, int *c, int *h, int *w, int *classes,
                         int *train_count)
{
    if (d->name == CFG_DATASET_CIFAR10 || d->name == CFG_DATASET_CIFAR100) {
        *c = 3, *h = *w = 32, *train_count = 50000;
        *classes = d->name == CFG_DATASET_CIFAR10 ? 10 : 100;
    } else if (d->name == CFG_DATASET_MNIST || d->name == CFG_DATASET_FASHION_MNIST) {
        *c = 1, *h = *w = 28, *classes = 10, *train_count = 60000;
    } else if (d->name == CFG_DATASET_SYNTHETIC) {
        *c = d->synthetic_channels, *h = *w = d->synthetic_size;
        *classes = d->synthetic_classes, *train_count = d->synthetic_train;
    } else {
        return -1;
    }
    if (d->train_subset > 0 && d->train_subset < *train_count)
        *train_count = d->train_subset;
    return 0;
}

int energy_only_net(const struct e2_config *cfg, int fp32, struct net **out, struct e2_err *err)
{
    int c, h, w, classes, count;
    *out = NULL;
    if (dataset_shape(&cfg->dataset, &c, &h, &w, &classes, &count) != 0)
        return e2_fail(err, E2_BAD_INPUT, "%s: energy-only: unknown data set '%s'", cfg->source,
                       cfg_dataset_names[cfg->dataset.name]);
    return train_net_create(cfg, c, h, w, classes, fp32, out, err);
}

/* ---------------------------------------------------------------- the plan -------------- */

static uint64_t schedule_iterations(const struct e2_config *cfg)
{
    int c, h, w, classes, count = 0;
    dataset_shape(&cfg->dataset, &c, &h, &w, &classes, &count);
    return train_total_iterations(cfg, count > 0 ? count : 1);
}

int energy_only_plan_make(const struct e2_config *cfg, const struct net *net,
                          struct energy_only_plan *plan, struct e2_err *err)
{
    const struct cfg_training *tr = &cfg->training;
    memset(plan, 0, sizeof *plan);
    if (tr->finetune_from[0])
        return e2_fail(err, E2_BAD_INPUT, "%s: training.finetune_from: the energy-only mode "
                       "starts from no weights (it trains nothing); to price fine-tuning the "
                       "last layer, set training.finetune_last_fc_only alone", cfg->source);
    int blocks = net_blocks(net), batch = tr->batch_size;
    plan->batch = batch;
    plan->blocks = blocks;
    plan->iterations = schedule_iterations(cfg);
    plan->processed = tr->smd.enabled ? energy_only_processed(plan->iterations, tr->smd.p)
                                      : plan->iterations;
    plan->psg_full_fraction = tr->psg.enabled ? 1.0 - tr->energy_only.psg_predictor_ratio : 0.0;

    int nb = blocks > 0 ? blocks : 1;
    double *frac = calloc((size_t)nb, sizeof *frac);
    int *lo = calloc((size_t)nb, sizeof *lo), *hi = calloc((size_t)nb, sizeof *hi);
    float *survival = calloc((size_t)nb, sizeof *survival);
    if (!frac || !lo || !hi || !survival) {
        free(frac), free(lo), free(hi), free(survival);
        return e2_fail(err, E2_FAILURE, "out of memory");
    }
    int rc = E2_OK;
    const struct cfg_double_list *s = &tr->energy_only.slu_skip;
    if (tr->slu.enabled && s->n != 1 && s->n != blocks - 1)
        rc = e2_fail(err, E2_BAD_INPUT, "%s: training.energy_only.slu_skip has %d values; "
                     "%s-%d has %d gated blocks: give one ratio, or one per gated block",
                     cfg->source, s->n, cfg_arch_names[cfg->network.arch], cfg->network.depth,
                     blocks - 1);
    if (tr->sd.enabled)
        sd_survival(blocks, tr->sd.skip_ratio, survival);
    for (int b = 1; rc == E2_OK && b < blocks; b++) {
        hi[b] = lo[b] = batch;
        if (tr->slu.enabled) {
            /* s * batch skipped samples: ceil of it in a fraction frac of the iterations,
             * floor in the rest. Guard the float product (0.6 * 128 = 76.8000000001). */
            double x = (s->n == 1 ? s->v[0] : s->v[b - 1]) * batch;
            double fl = floor(x + 1e-9), f = x - fl;
            if (f < 1e-9)
                f = 0;
            hi[b] = batch - (int)fl;
            lo[b] = f > 0 ? hi[b] - 1 : hi[b];
            frac[b] = f;
        } else if (tr->sd.enabled) {
            lo[b] = 0;                      /* the whole minibatch drops the block */
            frac[b] = 1.0 - survival[b];
        }
    }
    if (rc == E2_OK &&
        energy_only_mixture(blocks, batch, plan->processed, frac, lo, hi, plan) != 0)
        rc = e2_fail(err, E2_FAILURE, "out of memory");
    free(frac), free(lo), free(hi), free(survival);
    if (rc == E2_OK && tr->swa.enabled) {
        uint64_t start = (uint64_t)floor(tr->swa.start * (double)plan->iterations);
        uint64_t every = (uint64_t)tr->swa.every;
        plan->swa_updates = plan->iterations > start ? (plan->iterations - start - 1) / every + 1
                                                     : 0;
        int c, h, w, classes, count = 0;
        dataset_shape(&cfg->dataset, &c, &h, &w, &classes, &count);
        uint64_t bn = (uint64_t)count / (uint64_t)batch;
        bn = bn > ENERGY_ONLY_BN_BATCHES ? ENERGY_ONLY_BN_BATCHES : bn ? bn : 1;
        plan->bn_recompute_batches = plan->swa_updates ? bn : 0;
    }
    if (rc != E2_OK)
        energy_only_plan_free(plan);
    return rc;
}

/* ---------------------------------------------------------------- the streams ----------- */

/* A sink that counts every record `repeat` times; optionally keeps only the forward records of
 * the network (no loss) and retags them (SWA's BN re-estimation forwards). */
struct repeat_sink {
    struct energy_acc *acc;
    uint64_t repeat;
    int forward_only;
    int retag;              /* -1: keep the record's tech */
};

static void repeat_emit(void *ctx, const struct oprec *r)
{
    const struct repeat_sink *s = ctx;
    if (s->forward_only && (r->phase != OP_PHASE_FWD || r->kind == OP_LOSS))
        return;
    struct oprec c = *r;
    if (s->retag >= 0)
        c.tech = (uint8_t)s->retag;
    energy_add(s->acc, &c, s->repeat);
}

static int emit_repeated(struct net *net, int batch, const int *active, float full,
                         const struct optim_config *oc, struct energy_acc *acc, uint64_t repeat,
                         int forward_only, int retag)
{
    struct repeat_sink rs = {acc, repeat, forward_only, retag};
    struct op_sink sink = {repeat_emit, &rs};
    return repeat ? net_emit_iteration(net, batch, active, full, oc, &sink) : 0;
}

/* Layer names and kinds as sim/run/run.c gives them: parameter names without their last part
 * ("b3.u1.conv"), kinds from the records, other layers by kind and id. */

static int describe_layers(struct net *net, struct energy_only_stream *s)
{
    struct net_param *p;
    int np = net_params(net, &p);
    return energy_describe_layers(p, np, &s->run, &s->layers, &s->nlayers);
}

/* SWA's averaging updates and SMD's momentum steps on dropped minibatches. */
static int emit_extras(const struct e2_config *cfg, struct net *net,
                       const struct optim_config *oc, struct energy_only_stream *s)
{
    const struct energy_only_plan *plan = &s->plan;
    struct net_param *p;
    int np = net_params(net, &p);
    if (cfg->training.smd.enabled && cfg->training.smd.momentum_on_skip &&
        plan->iterations > plan->processed) {
        struct net_param *q = malloc(sizeof *q * (size_t)(np ? np : 1));
        if (!q)
            return -1;
        memcpy(q, p, sizeof *q * (size_t)np);
        for (int i = 0; i < np; i++) {
            q[i].active = q[i].grad != NULL;
            q[i].grad_is_sign = 1;
        }
        struct repeat_sink rs = {&s->run, plan->iterations - plan->processed, 0, -1};
        struct op_sink sink = {repeat_emit, &rs};
        optim_emit_updates(oc, q, np, &sink);
        free(q);
    }
    if (plan->swa_updates) {
        struct swa *sw = swa_create(p, np);
        if (!sw)
            return -1;
        struct repeat_sink rs = {&s->run, plan->swa_updates, 0, -1};
        struct op_sink sink = {repeat_emit, &rs};
        int rc = swa_update(sw, p, np, &sink);
        swa_free(sw);
        if (rc != 0)
            return -1;
        if (emit_repeated(net, plan->batch, NULL, (float)plan->psg_full_fraction, NULL, &s->run,
                          plan->bn_recompute_batches, 1, OP_TECH_SWA) != 0)
            return -1;
    }
    return 0;
}

int energy_only_build_on(const struct e2_config *cfg, struct net *net,
                         struct energy_only_stream *s, struct e2_err *err)
{
    memset(s, 0, sizeof *s);
    if (energy_init(&s->run, NULL, NULL) != 0 || energy_init(&s->baseline, NULL, NULL) != 0) {
        energy_only_stream_free(s);
        return e2_fail(err, E2_FAILURE, "out of memory");
    }
    cfg_network_text(cfg, s->network, sizeof s->network);
    snprintf(s->dataset, sizeof s->dataset, "%.63s", cfg_dataset_names[cfg->dataset.name]);
    cfg_method_text(cfg, s->method, sizeof s->method);
    train_length_text(cfg, s->length, sizeof s->length);

    int rc = energy_only_plan_make(cfg, net, &s->plan, err);
    if (rc == E2_OK) {
        const struct cfg_training *tr = &cfg->training;
        struct optim_config oc = {train_rule(tr), (float)tr->momentum, (float)tr->weight_decay};
        for (int k = 0; k < s->plan.nkinds && rc == E2_OK; k++)
            if (emit_repeated(net, s->plan.batch, s->plan.kinds[k].active,
                              (float)s->plan.psg_full_fraction, &oc, &s->run,
                              s->plan.kinds[k].count, 0, -1) != 0)
                rc = e2_fail(err, E2_FAILURE, "%s: energy-only: cannot emit the records of "
                             "iteration kind %d", cfg->source, k);
        if (rc == E2_OK && emit_extras(cfg, net, &oc, s) != 0)
            rc = e2_fail(err, E2_FAILURE, "%s: energy-only: cannot emit the SWA / SMD update "
                         "records", cfg->source);
        if (rc == E2_OK && describe_layers(net, s) != 0)
            rc = e2_fail(err, E2_FAILURE, "out of memory");
    }
    /* The float32 SMB baseline, as pricing_price_baseline builds it. */
    struct net *fp32 = NULL;
    if (rc == E2_OK)
        rc = energy_only_net(cfg, 1, &fp32, err);
    if (rc == E2_OK) {
        struct optim_config sgd = {.rule = OPTIM_SGD, .momentum = 0.9f, .weight_decay = 1e-4f};
        if (emit_repeated(fp32, s->plan.batch, NULL, 0.0f, &sgd, &s->baseline,
                          s->plan.iterations, 0, -1) != 0)
            rc = e2_fail(err, E2_FAILURE, "float32 baseline: cannot emit one iteration's records");
    }
    net_free(fp32);
    if (rc == E2_OK && (s->run.oom || s->baseline.oom))
        rc = e2_fail(err, E2_FAILURE, "out of memory counting op records");
    if (rc != E2_OK)
        energy_only_stream_free(s);
    return rc;
}

int energy_only_build(const struct e2_config *cfg, struct energy_only_stream *s,
                      struct e2_err *err)
{
    struct net *net = NULL;
    memset(s, 0, sizeof *s);
    int rc = energy_only_net(cfg, 0, &net, err);
    if (rc == E2_OK)
        rc = energy_only_build_on(cfg, net, s, err);
    net_free(net);
    return rc;
}

void energy_only_stream_free(struct energy_only_stream *s)
{
    free(s->layers);
    s->layers = NULL;
    energy_free(&s->run);
    energy_free(&s->baseline);
    energy_only_plan_free(&s->plan);
}

int energy_only_price(const struct energy_only_stream *s, struct hw_model *model,
                      struct hw_ledger *run, struct hw_ledger *baseline,
                      struct trace_writer *trace, struct e2_err *err)
{
    int rc = pricing_price_totals(model, run, &s->run, 1, trace, TRACE_RUN, s->length, err);
    if (rc == E2_OK)
        rc = pricing_price_totals(model, baseline, &s->baseline, 1, trace, TRACE_BASELINE,
                                  s->length, err);
    return rc;
}

int energy_only_savings(const struct e2_config *cfg, double *saving, struct e2_err *err)
{
    struct energy_only_stream s;
    int rc = energy_only_build(cfg, &s, err);
    if (rc != E2_OK)
        return rc;
    struct pricing p;
    rc = pricing_open(&p, &cfg->hw, 1, cfg->source, err);
    if (rc == E2_OK)
        rc = energy_only_price(&s, p.model, p.run, p.baseline, NULL, err);
    if (rc == E2_OK)
        *saving = 1.0 - hw_fj_to_joules(hw_ledger_fj(p.run, NULL)) /
                            hw_fj_to_joules(hw_ledger_fj(p.baseline, NULL));
    pricing_close(&p);
    energy_only_stream_free(&s);
    return rc;
}

/* ---------------------------------------------------------------- reports --------------- */

int energy_only_fill_report(const struct e2_config *cfg, const struct energy_only_stream *s,
                            struct run_result *r)
{
    snprintf(r->kind, sizeof r->kind, "energy-only");
    snprintf(r->name, sizeof r->name, "%.63s", cfg->name);
    snprintf(r->network, sizeof r->network, "%s", s->network);
    snprintf(r->dataset, sizeof r->dataset, "%.63s", s->dataset);
    snprintf(r->method, sizeof r->method, "%s", s->method);
    r->has_accuracy = 0;
    r->top1 = r->top5 = NAN;
    r->top_layers = cfg->report.top_layers;
    r->iterations = s->plan.iterations;
    r->minibatches_processed = s->plan.processed;
    r->slu_skip_ratio = s->plan.skip_ratio;
    r->psg_predictor_ratio = cfg->training.psg.enabled
                                 ? 1.0 - s->plan.psg_full_fraction : NAN;
    if (s->plan.blocks > 1 && (cfg->training.slu.enabled || cfg->training.sd.enabled))
        return run_result_set_slu_blocks(r, s->plan.blocks - 1, s->plan.block_skip);
    return E2_OK;
}

int run_energy_only(const struct run_options *opts, const struct e2_config *cfg,
                    struct e2_err *err)
{
    double t0 = progress_now();
    const char *dir = opts->dir;
    int rc = E2_OK;
    char *text = cfg_print_text(cfg);
    if (!text)
        return e2_fail(err, E2_FAILURE, "out of memory");

    struct energy_only_stream s;
    struct net *net = NULL;
    struct pricing pricing;
    struct run_result rep;
    run_result_init(&rep);
    memset(&s, 0, sizeof s);
    memset(&pricing, 0, sizeof pricing);
    rc = energy_only_net(cfg, 0, &net, err);
    if (rc == E2_OK)
        rc = energy_only_build_on(cfg, net, &s, err);
    if (rc != E2_OK) {
        net_free(net);
        free(text);
        return rc;
    }
    rc = pricing_open(&pricing, &cfg->hw, 1, cfg->source, err);
    if (rc == E2_OK && cfg->report.trace[0]) {
        struct trace_header h = {0};
        snprintf(h.network, sizeof h.network, "%s", s.network);
        snprintf(h.dataset, sizeof h.dataset, "%s", s.dataset);
        h.config_text = text;
        h.layer_count = s.nlayers;
        h.layers = s.layers;
        h.config_hash = trace_config_hash(text);
        rc = pricing_trace_create(&pricing, cfg->report.trace, &h, err);
    }
    if (rc == E2_OK)
        rc = energy_only_price(&s, pricing.model, pricing.run, pricing.baseline, pricing.trace,
                               err);
    if (rc == E2_OK)
        rc = energy_only_fill_report(cfg, &s, &rep);
    if (rc == E2_OK)
        rc = run_result_fill_energy(&rep, pricing.model, pricing.run, pricing.baseline, s.layers,
                                s.nlayers);
    if (rc == E2_OK)
        rc = run_result_add_point(&rep, rep.iterations, rep.total_fj, NAN, NAN);
    rep.config_text = text;
    rep.wall_seconds = progress_now() - t0;
    struct trace_writer *trace = pricing_trace_take(&pricing);
    if (rc == E2_OK && trace) {
        struct trace_result tr;
        run_result_trace_result(&rep, &tr);
        rc = trace_finish(trace, &tr, err);
        trace = NULL;
    }
    if (rc == E2_OK)
        rc = cfg_write_resolved(dir, cfg, err);
    if (rc == E2_OK)
        rc = report_write(dir, &rep, err);
    if (rc == E2_OK && cfg->report.timeline)
        rc = timeline_write_iteration(net, &cfg->training, pricing.model, dir, err);
    if (rc == E2_OK && !opts->quiet) {
        char joules[64], basej[64];
        report_format_human(joules, sizeof joules, rep.total_fj);
        report_format_human(basej, sizeof basej, rep.baseline_fp32_fj);
        printf("e2sim %s: energy-only '%s': %s on %s, %s, %llu iterations (%llu processed) of "
               "batch %d: %s against %s for float32 SGD, saving %.2f %%. Reports in %s "
               "(%.1f s).\n",
               E2SIM_VERSION, cfg->name, s.network, s.dataset, s.method,
               (unsigned long long)rep.iterations, (unsigned long long)rep.minibatches_processed,
               s.plan.batch, joules, basej, 100.0 * report_savings(&rep), dir,
               progress_now() - t0);
    }
    if (trace)
        trace_abort(trace);
    run_result_free(&rep);
    pricing_close(&pricing);
    energy_only_stream_free(&s);
    net_free(net);
    free(text);
    return rc;
}
