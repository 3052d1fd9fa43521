/* e2sim calibrate: fit energy-table coefficients to measured savings (see calibrate.h). */
#define _GNU_SOURCE   /* open_memstream */
#include "calibrate.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hw.h"
#include "outdir.h"

/* ---------------------------------------------------------------- setup ----------------- */

/* "dir/of/config.yaml" + "x.yaml" -> "dir/of/x.yaml" (absolute paths stay). */
static void relative_to(const char *config, const char *path, char *out, size_t size)
{
    const char *slash = strrchr(config, '/');
    if (path[0] == '/' || !slash)
        snprintf(out, size, "%s", path);
    else
        snprintf(out, size, "%.*s/%s", (int)(slash - config), config, path);
}

/* The place to quote for a free key's bad start: the key's value in the config file itself,
 * else its calibration.lower entry. */
static void start_place(const struct e2_config *cfg, const char *key, int i, char *buf,
                        size_t size)
{
    struct measured_place at;
    if (measured_find_place(cfg->source, key, -1, &at) == 0 ||
        measured_find_place(cfg->source, "calibration.lower", i, &at) == 0 ||
        measured_find_place(cfg->source, "calibration.lower", -1, &at) == 0)
        snprintf(buf, size, "%s:%d:%d", cfg->source, at.line, at.col);
    else
        snprintf(buf, size, "%s", cfg->source);
}

/* The place of calibration.lower's entry i (else of the list, else the file). */
static void lower_place(const struct e2_config *cfg, int i, char *buf, size_t size)
{
    struct measured_place at;
    if (measured_find_place(cfg->source, "calibration.lower", i, &at) == 0 ||
        measured_find_place(cfg->source, "calibration.lower", -1, &at) == 0)
        snprintf(buf, size, "%s:%d:%d", cfg->source, at.line, at.col);
    else
        snprintf(buf, size, "%s", cfg->source);
}

static int check_free(const struct e2_config *cfg, struct calibrate *c, struct e2_err *err)
{
    const struct cfg_calibration *k = &cfg->calibration;
    struct measured_place at;
    if (k->free.n == 0) {
        int found = measured_find_place(cfg->source, "calibration", -1, &at) == 0;
        return e2_fail(err, E2_BAD_INPUT, "%s:%d:%d: calibration.free names no coefficient to "
                       "fit", cfg->source, found ? at.line : 1, found ? at.col : 1);
    }
    /* The config loader already checked count <= 3, known number keys, bounds lower < upper. */
    c->np = k->free.n > CALIBRATE_MAX_FREE ? CALIBRATE_MAX_FREE : k->free.n;
    c->int_k = -1;
    for (int i = 0; i < c->np; i++) {
        const struct hw_param_def *f = hw_param_find(k->free.v[i]);
        if (!f || (f->type != HW_PARAM_DOUBLE && f->type != HW_PARAM_INT))
            return e2_fail(err, E2_BAD_INPUT, "%s: calibration.free: '%s' is not a number key "
                           "of hardware: or energy:", cfg->source, k->free.v[i]);
        struct fit_param *p = &c->param[i];
        memset(p, 0, sizeof *p);
        snprintf(p->name, sizeof p->name, "%s", f->key);
        p->min = k->lower.v[i];
        p->max = k->upper.v[i];
        p->start = hw_param_get(&cfg->hw, f);
        c->def[i] = f;
        if (f->type == HW_PARAM_INT) {
            char where[CFG_STR + 32];
            lower_place(cfg, i, where, sizeof where);
            if (c->int_k >= 0)
                return e2_fail(err, E2_BAD_INPUT, "%s: calibration.free: %s and %s are both "
                               "integers; the fit can profile only one", where,
                               c->param[c->int_k].name, f->key);
            if (p->min != floor(p->min) || p->max != floor(p->max) ||
                p->max - p->min + 1 > CALIBRATE_MAX_PROFILE)
                return e2_fail(err, E2_BAD_INPUT, "%s: calibration: %s is an integer; its "
                               "bounds [%g, %g] must be integers at most %d values apart", where,
                               f->key, p->min, p->max, CALIBRATE_MAX_PROFILE - 1);
            c->int_k = i;
        }
        int inside = f->type == HW_PARAM_INT ? p->start >= p->min && p->start <= p->max
                                        : p->start > p->min && p->start < p->max;
        if (!inside) {
            char where[CFG_STR + 32];
            start_place(cfg, f->key, i, where, sizeof where);
            return e2_fail(err, E2_BAD_INPUT, "%s: calibration: the fit starts %s from its "
                           "value in the config, %g, which is not strictly inside its bounds "
                           "[%g, %g] (calibration.lower / upper)", where, f->key, p->start,
                           p->min, p->max);
        }
    }
    return E2_OK;
}

/* A measurement may not set what the fit moves. */
static int check_sets(const struct calibrate *c, const struct measurement *m,
                      struct e2_err *err)
{
    for (int s = 0; s < m->nset; s++)
        for (int i = 0; i < c->np; i++) {
            size_t len = strlen(c->def[i]->key);
            if (strncmp(m->set[s], c->def[i]->key, len) == 0 && m->set[s][len] == '=')
                return e2_fail(err, E2_BAD_INPUT, "%s:%d:%d: measurement '%s' sets %s, which "
                               "calibration.free fits", m->file, m->set_at[s].line,
                               m->set_at[s].col, m->name, c->def[i]->key);
        }
    return E2_OK;
}

static int same_stream(const struct energy_acc *a, const struct energy_acc *b)
{
    if (a->n != b->n)
        return 0;
    for (int i = 0; i < a->n; i++)
        if (a->e[i].total != b->e[i].total || !oprec_equal(&a->e[i].r, &b->e[i].r))
            return 0;
    return 1;
}

static int add_file(const struct e2_config *cfg, struct calibrate *c, const char *name,
                    int fitted, struct e2_err *err)
{
    char path[CFG_STR * 2];
    relative_to(cfg->source, name, path, sizeof path);
    struct measured_file f;
    int rc = measured_load(path, &f, err);
    if (rc != E2_OK)
        return rc;
    struct calibrate_point *pt = realloc(c->pt, sizeof *pt * (size_t)(c->n + f.n));
    if (!pt) {
        measured_free(&f);
        return e2_fail(err, E2_FAILURE, "out of memory");
    }
    c->pt = pt;
    for (int i = 0; i < f.n && rc == E2_OK; i++) {
        struct calibrate_point *p = &c->pt[c->n];
        memset(p, 0, sizeof *p);
        p->m = f.m[i];
        p->fitted = fitted;
        for (int j = 0; j < c->n; j++)
            if (strcmp(c->pt[j].m.name, p->m.name) == 0)
                rc = e2_fail(err, E2_BAD_INPUT, "%s:%d:%d: measurement name '%s' is also used "
                             "in %s:%d", p->m.file, p->m.at.line, p->m.at.col, p->m.name,
                             c->pt[j].m.file, c->pt[j].m.at.line);
        if (rc == E2_OK)
            rc = check_sets(c, &p->m, err);
        if (rc == E2_OK && !(p->cfg = malloc(sizeof *p->cfg)))
            rc = e2_fail(err, E2_FAILURE, "out of memory");
        if (rc == E2_OK)
            rc = measured_apply(&p->m, cfg, p->cfg, err);
        if (rc == E2_OK) {
            c->n++;   /* owned from here on (calibrate_close frees it) */
            struct e2_err why = {""};
            rc = energy_only_build(p->cfg, &p->stream, &why);
            if (rc != E2_OK) {
                memset(&p->stream, 0, sizeof p->stream);
                rc = e2_fail(err, rc, "%s:%d:%d: measurement '%s': %s", p->m.file,
                             p->m.at.line, p->m.at.col, p->m.name, why.msg);
            }
        } else {
            free(p->cfg);
        }
        if (rc == E2_OK) {
            p->baseline_group = c->n - 1;
            for (int j = 0; j < c->n - 1; j++)
                if (same_stream(&c->pt[j].stream.baseline, &p->stream.baseline)) {
                    p->baseline_group = c->pt[j].baseline_group;
                    break;
                }
        }
    }
    measured_free(&f);
    return rc;
}

/* The fit needs at least as many fitted measurements as free coefficients: said here, at
 * calibration.measurements, before any output folder is made. */
static int check_enough(const struct e2_config *cfg, const struct calibrate *c,
                        struct e2_err *err)
{
    int fitted = 0;
    for (int i = 0; i < c->n; i++)
        fitted += c->pt[i].fitted;
    if (fitted >= c->np)
        return E2_OK;
    struct measured_place at;
    int found = measured_find_place(cfg->source, "calibration.measurements", -1, &at) == 0;
    return e2_fail(err, E2_BAD_INPUT, "%s:%d:%d: calibration.measurements hold %d "
                   "measurement(s), which cannot determine %d free coefficient(s) "
                   "(calibration.free)", cfg->source, found ? at.line : 1, found ? at.col : 1,
                   fitted, c->np);
}

int calibrate_open(const struct e2_config *cfg, struct calibrate *c, struct e2_err *err)
{
    memset(c, 0, sizeof *c);
    struct e2_config *base = malloc(sizeof *base);
    if (!base)
        return e2_fail(err, E2_FAILURE, "out of memory");
    *base = *cfg;
    base->training.mode = CFG_MODE_ENERGY_ONLY;
    c->base = base;
    int rc = check_free(cfg, c, err);
    const struct cfg_calibration *k = &cfg->calibration;
    if (rc == E2_OK && k->measurements.n == 0) {
        struct measured_place at;
        int found = measured_find_place(cfg->source, "calibration", -1, &at) == 0;
        rc = e2_fail(err, E2_BAD_INPUT, "%s:%d:%d: calibration.measurements names no "
                     "measurement file", cfg->source, found ? at.line : 1, found ? at.col : 1);
    }
    for (int i = 0; rc == E2_OK && i < k->measurements.n; i++)
        rc = add_file(base, c, k->measurements.v[i], 1, err);
    for (int i = 0; rc == E2_OK && i < k->holdout.n; i++)
        rc = add_file(base, c, k->holdout.v[i], 0, err);
    if (rc == E2_OK)
        rc = check_enough(cfg, c, err);
    if (rc != E2_OK)
        calibrate_close(c);
    return rc;
}

void calibrate_close(struct calibrate *c)
{
    for (int i = 0; c->pt && i < c->n; i++) {
        energy_only_stream_free(&c->pt[i].stream);
        free(c->pt[i].cfg);
    }
    free(c->pt);
    free((void *)c->base);
    memset(c, 0, sizeof *c);
}

/* ---------------------------------------------------------------- the model ------------- */

struct priced_model {
    struct hw_params hw;
    struct hw_model *m;
};

static double price_joules(const struct energy_only_stream *s, struct hw_model *m, int baseline,
                           struct e2_err *err, int *rc)
{
    struct hw_ledger *l = hw_ledger_new();
    if (!l) {
        *rc = e2_fail(err, E2_FAILURE, "out of memory");
        return NAN;
    }
    *rc = energy_only_price(s, m, baseline ? NULL : l, baseline ? l : NULL, NULL, err);
    double j = hw_fj_to_joules(hw_ledger_fj(l, NULL));
    hw_ledger_free(l);
    return j;
}

int calibrate_predict(struct calibrate *c, const double *values, const int *idx, int n,
                      double *savings, struct e2_err *err)
{
    struct priced_model *models = calloc((size_t)(n ? n : 1), sizeof *models);
    int *model_of = calloc((size_t)c->n, sizeof *model_of);
    double *base_j = malloc(sizeof(double) * (size_t)c->n);
    if (!models || !model_of || !base_j) {
        free(models), free(model_of), free(base_j);
        return e2_fail(err, E2_FAILURE, "out of memory");
    }
    int nmodels = 0, rc = E2_OK;
    for (int i = 0; i < c->n; i++)
        base_j[i] = NAN;
    for (int t = 0; t < n && rc == E2_OK; t++) {
        const struct calibrate_point *p = &c->pt[idx[t]];
        struct hw_params hw = p->cfg->hw;
        for (int k = 0; k < c->np; k++)
            hw_param_set(&hw, c->def[k], values[k]);
        int m = 0;
        while (m < nmodels && memcmp(&models[m].hw, &hw, sizeof hw) != 0)
            m++;
        if (m == nmodels) {
            char msg[512] = "";
            models[m].hw = hw;
            if (hw_create(&models[m].hw, &models[m].m, msg, sizeof msg) != 0) {
                rc = e2_fail(err, E2_BAD_INPUT, "%s: hardware model for measurement '%s': %s",
                             c->base->source, p->m.name, msg);
                break;
            }
            nmodels++;
        }
        model_of[idx[t]] = m;
        /* A baseline priced for an identical stream on the same model is reused. */
        int g = p->baseline_group;
        double bj = NAN;
        for (int u = 0; u < t; u++)
            if (c->pt[idx[u]].baseline_group == g && model_of[idx[u]] == m && !isnan(base_j[idx[u]]))
                bj = base_j[idx[u]];
        if (isnan(bj))
            bj = price_joules(&p->stream, models[m].m, 1, err, &rc);
        base_j[idx[t]] = bj;
        double rj = rc == E2_OK ? price_joules(&p->stream, models[m].m, 0, err, &rc) : NAN;
        savings[t] = 1.0 - rj / bj;
    }
    for (int m = 0; m < nmodels; m++)
        hw_free(models[m].m);
    free(models), free(model_of), free(base_j);
    return rc;
}

/* The fitted (continuous) coefficients are fit_params; the integer one, if any, is held at
 * `fixed` while they move. */
struct fit_ctx {
    struct calibrate *c;
    const int *idx;
    int n;
    double fixed;
};

static void all_values(const struct fit_ctx *f, const double *fitted, double *values)
{
    for (int k = 0, j = 0; k < f->c->np; k++)
        values[k] = k == f->c->int_k ? f->fixed : fitted[j++];
}

static int fit_model(void *ctx, const double *fitted, int nfitted, double *predicted,
                     int npredicted, struct e2_err *err)
{
    struct fit_ctx *f = ctx;
    double values[CALIBRATE_MAX_FREE];
    (void)nfitted;
    (void)npredicted;
    all_values(f, fitted, values);
    return calibrate_predict(f->c, values, f->idx, f->n, predicted, err);
}

/* One least-squares fit of the continuous coefficients with the integer one at f->fixed. */
static int fit_continuous(struct fit_ctx *f, struct fit_param *params, const double *measured,
                          double *residuals, struct fit_result *res, struct e2_err *err)
{
    struct calibrate *c = f->c;
    struct fit_param sub[CALIBRATE_MAX_FREE];
    int ns = 0;
    for (int k = 0; k < c->np; k++)
        if (k != c->int_k)
            sub[ns++] = params[k];
    int rc;
    if (ns > 0) {
        rc = fit_least_squares(fit_model, f, sub, ns, measured, f->n, residuals, res, err);
    } else {   /* nothing continuous: just predict */
        memset(res, 0, sizeof *res);
        res->converged = 1;
        rc = fit_model(f, NULL, 0, residuals, f->n, err);
        for (int i = 0; rc == E2_OK && i < f->n; i++) {
            residuals[i] -= measured[i];
            res->chisq += residuals[i] * residuals[i];
        }
    }
    for (int k = 0, j = 0; rc == E2_OK && k < c->np; k++)
        if (k != c->int_k)
            params[k] = sub[j++];
    return rc;
}

int calibrate_fit(struct calibrate *c, const int *idx, int n, struct fit_param *params,
                  double *residuals, struct fit_result *res, struct e2_err *err)
{
    double *measured = malloc(sizeof(double) * (size_t)(n ? n : 1));
    double *trial_res = malloc(sizeof(double) * (size_t)(n ? n : 1));
    if (!measured || !trial_res) {
        free(measured), free(trial_res);
        return e2_fail(err, E2_FAILURE, "out of memory");
    }
    for (int i = 0; i < n; i++)
        measured[i] = c->pt[idx[i]].m.saving;
    struct fit_ctx f = {c, idx, n, 0};
    int rc = E2_OK;
    if (c->int_k < 0) {
        rc = fit_continuous(&f, params, measured, residuals, res, err);
    } else if (n < c->np) {
        rc = e2_fail(err, E2_BAD_INPUT, "calibration: %d measurement(s) cannot determine %d "
                     "free coefficient(s)", n, c->np);
    } else {
        /* Profile the integer coefficient: refit the others at each of its values. */
        struct fit_param start[CALIBRATE_MAX_FREE], best[CALIBRATE_MAX_FREE];
        memcpy(start, params, sizeof start[0] * (size_t)c->np);
        struct fit_param *ip = &params[c->int_k];
        double best_chisq = INFINITY;
        c->nprofile = (int)(ip->max - ip->min) + 1;
        for (int i = 0; rc == E2_OK && i < c->nprofile; i++) {
            struct fit_param trial[CALIBRATE_MAX_FREE];
            struct fit_result tr;
            memcpy(trial, start, sizeof trial[0] * (size_t)c->np);
            f.fixed = ip->min + i;
            rc = fit_continuous(&f, trial, measured, trial_res, &tr, err);
            if (rc != E2_OK)
                break;
            c->profile_rms[i] = sqrt(tr.chisq / (n ? n : 1));
            if (tr.chisq < best_chisq) {
                best_chisq = tr.chisq;
                memcpy(best, trial, sizeof best[0] * (size_t)c->np);
                best[c->int_k].value = f.fixed;
                best[c->int_k].std_error = NAN;
                best[c->int_k].at_bound = f.fixed == ip->min || f.fixed == ip->max;
                memcpy(residuals, trial_res, sizeof(double) * (size_t)n);
                *res = tr;
            }
        }
        if (rc == E2_OK)
            memcpy(params, best, sizeof best[0] * (size_t)c->np);
    }
    free(measured), free(trial_res);
    return rc;
}

/* ---------------------------------------------------------------- the command ----------- */

/* Round to 4 significant digits: what the calibrated file states and every later run uses. */
static double round4(double v)
{
    if (v == 0 || !isfinite(v))
        return v;
    double e = pow(10.0, 3 - floor(log10(fabs(v))));
    return round(v * e) / e;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

struct outcome {
    struct fit_param p[CALIBRATE_MAX_FREE];
    struct fit_result fit;
    double values[CALIBRATE_MAX_FREE];      /* rounded */
    double *sim;                             /* [n] at the rounded values */
    double *loo;                             /* [n] leave-one-out prediction (fitted points) */
    int *loo_ok;
    double reach[CALIBRATE_MAX_FREE];        /* largest saving change (fraction) over a
                                                coefficient's bounds, others at the fit */
    int nprofile;                            /* the integer coefficient's profile */
    double profile_rms[CALIBRATE_MAX_PROFILE];
};

static void print_report(FILE *o, const struct calibrate *c, const struct outcome *r,
                         const char *output)
{
    const struct e2_config *b = c->base;
    fprintf(o, "e2sim calibrate: %s\n", b->source);
    fprintf(o, "base run: %s-%d (width %d) on %s, %d iterations of batch %d, energy-only, "
            "float32 SGD baseline\n", cfg_arch_names[b->network.arch], b->network.depth,
            b->network.width, cfg_dataset_names[b->dataset.name], b->training.iterations,
            b->training.batch_size);
    int nfit = 0;
    for (int i = 0; i < c->n; i++)
        nfit += c->pt[i].fitted;
    double rms = sqrt(r->fit.chisq / (nfit ? nfit : 1));
    fprintf(o, "fit: %d measurements, %d free coefficient(s), %s after %d iterations, "
            "rms residual %.3f pp\n\n", nfit, c->np, r->fit.converged ? "converged" :
            "NOT converged", r->fit.iterations, 100 * rms);
    fprintf(o, "%-26s %10s %22s %18s   %s\n", "coefficient", "start", "fitted +- std. error",
            "bounds", "plausible range (source)");
    for (int k = 0; k < c->np; k++) {
        const struct fit_param *p = &r->p[k];
        const struct hw_param_def *pr = hw_param_find(p->name);
        char fitted[64], bounds[64], plaus[320];
        if (k == c->int_k)
            snprintf(fitted, sizeof fitted, "%g (integer%s)", r->values[k],
                     p->at_bound ? ", AT BOUND" : "");
        else if (p->at_bound)
            snprintf(fitted, sizeof fitted, "%.4g (AT BOUND)", r->values[k]);
        else
            snprintf(fitted, sizeof fitted, "%.4g +- %.2g", r->values[k], p->std_error);
        snprintf(bounds, sizeof bounds, "[%g, %g]", p->min, p->max);
        if (pr && pr->plausible_source)
            snprintf(plaus, sizeof plaus, "%g-%g %s (%s)%s", pr->plausible_min,
                     pr->plausible_max, pr->unit, pr->plausible_source,
                     r->values[k] >= pr->plausible_min && r->values[k] <= pr->plausible_max ? "" :
                     "  <-- OUTSIDE the plausible range");
        else
            snprintf(plaus, sizeof plaus, "no sourced range known");
        fprintf(o, "%-26s %10g %22s %18s   %s\n", p->name, p->start, fitted, bounds, plaus);
    }
    if (c->int_k >= 0) {
        const struct fit_param *p = &r->p[c->int_k];
        fprintf(o, "profile of the integer %s (rms residual with the others refitted):", p->name);
        for (int i = 0; i < r->nprofile; i++)
            fprintf(o, "%s %g: %.2f pp", i ? "," : "", p->min + i, 100 * r->profile_rms[i]);
        fprintf(o, "\n");
    }
    fprintf(o, "\n%-18s %-26s %9s %10s %14s %16s\n", "measurement", "file", "measured",
            "simulated", "residual (pp)", "held-out (pp)");
    double worst = 0, worst_loo = 0;
    for (int pass = 1; pass >= 0; pass--)
        for (int i = 0; i < c->n; i++) {
            const struct calibrate_point *p = &c->pt[i];
            if (p->fitted != pass)
                continue;
            double res = 100 * (r->sim[i] - p->m.saving);
            char held[48], resid[32];
            snprintf(resid, sizeof resid, pass ? "%+.2f" : "-", res);
            if (pass && r->loo_ok[i])
                snprintf(held, sizeof held, "%+.2f (LOO)", 100 * (r->loo[i] - p->m.saving));
            else if (pass)
                snprintf(held, sizeof held, "n/a");
            else
                snprintf(held, sizeof held, "%+.2f (holdout)", res);
            fprintf(o, "%-18s %-26s %8.2f%% %9.2f%% %14s %16s\n", p->m.name,
                    base_name(p->m.file), 100 * p->m.saving, 100 * r->sim[i], resid, held);
            if (pass && fabs(res) > worst)
                worst = fabs(res);
            if (pass && r->loo_ok[i] && fabs(100 * (r->loo[i] - p->m.saving)) > worst_loo)
                worst_loo = fabs(100 * (r->loo[i] - p->m.saving));
        }
    fprintf(o, "\nlargest |residual| %.2f pp; largest leave-one-out error %.2f pp "
            "(LOO: refit without that measurement, then predict it)\n", worst, worst_loo);
    fprintf(o, "sensitivity: moving one coefficient from its lower to its upper bound (the others "
            "at their fitted values) moves a fitted saving by at most:");
    for (int k = 0; k < c->np; k++)
        fprintf(o, "%s %s %.2f pp", k ? "," : "", r->p[k].name, 100 * r->reach[k]);
    fprintf(o, "\n");
    if (output)
        fprintf(o, "calibrated hardware table: %s\n", output);
}

/* The output folder, made before the fit so that a taken --out fails at once. */
static int prepare_dir(const struct calibrate_options *o, const struct calibrate *c, char *dir,
                       size_t size, struct e2_err *err)
{
    if (!o->out_dir)
        return out_create_default_dir(c->base->name, dir, size, err);
    snprintf(dir, size, "%s", o->out_dir);
    return out_prepare_dir(o->out_dir, o->resume, err);
}

static int write_outputs(const struct calibrate_options *o, struct calibrate *c,
                         const struct outcome *r, const char *dir, struct e2_err *err)
{
    const struct e2_config *b = c->base;
    char out_yaml[OUT_PATH_MAX], path[OUT_PATH_MAX];
    int rc = E2_OK;
    /* a plain file name (the config loader checks it): everything stays under the folder */
    if ((rc = out_join(out_yaml, sizeof out_yaml, dir, b->calibration.output, err)) != E2_OK)
        return rc;

    /* The header says when and how the values were fitted. */
    char when[64], header[4096];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    size_t len = (size_t)snprintf(header, sizeof header,
        "Zynq-7020 / ZedBoard hardware and energy table CALIBRATED by `e2sim calibrate`\n"
        "(e2sim %s, %s) from %s:\n"
        "  e2sim calibrate --config %s\n"
        "Fitted to measured whole-training savings against float32 SGD:\n",
        E2SIM_VERSION, when, b->source, b->source);
    for (int i = 0; i < c->n && len < sizeof header; i++)
        if (c->pt[i].fitted)
            len += (size_t)snprintf(header + len, sizeof header - len,
                                    "  %-16s measured %6.2f %%, simulated %6.2f %% (%s)\n",
                                    c->pt[i].m.name, 100 * c->pt[i].m.saving, 100 * r->sim[i],
                                    base_name(c->pt[i].m.file));
    double worst = 0;
    for (int i = 0; i < c->n; i++)
        if (c->pt[i].fitted && fabs(r->sim[i] - c->pt[i].m.saving) > worst)
            worst = fabs(r->sim[i] - c->pt[i].m.saving);
    len += (size_t)snprintf(header + len, sizeof header - len,
                            "Largest |residual| %.2f percentage points.\n", 100 * worst);
    for (int k = 0; k < c->np && len < sizeof header; k++) {
        char se[64];
        if (k == c->int_k)
            snprintf(se, sizeof se, "(integer, profiled%s)", r->p[k].at_bound ? ", AT A BOUND" : "");
        else if (r->p[k].at_bound)
            snprintf(se, sizeof se, "AT A BOUND: no standard error");
        else
            snprintf(se, sizeof se, "+- %.2g", r->p[k].std_error);
        len += (size_t)snprintf(header + len, sizeof header - len,
                                "Free: %s = %.4g %s (sourced start %g, bounds [%g, %g])\n",
                                r->p[k].name, r->values[k], se, r->p[k].start, r->p[k].min,
                                r->p[k].max);
    }
    if (len < sizeof header)
        snprintf(header + len, sizeof header - len,
                 "Every other value is the base config's (the sourced table it includes, where\n"
                 "each value carries its source and [V]/[D]/[E] tag). Do not edit by hand:\n"
                 "recalibrate instead (docs/calibration.md).");
    double se[CALIBRATE_MAX_FREE];
    for (int k = 0; k < c->np; k++)
        se[k] = r->p[k].at_bound ? NAN : r->p[k].std_error;
    struct out_file f;
    if ((rc = out_open_tmp(out_yaml, &f, err)) != E2_OK)
        return rc;
    if ((rc = calibrate_write_hw(f.fp, c, r->values, se, header, err)) != E2_OK) {
        out_abort(&f);
        return rc;
    }
    if ((rc = out_commit(&f, err)) != E2_OK)
        return rc;

    if ((rc = out_join(path, sizeof path, dir, "calibration.txt", err)) != E2_OK ||
        (rc = out_open_tmp(path, &f, err)) != E2_OK)
        return rc;
    print_report(f.fp, c, r, out_yaml);
    if ((rc = out_commit(&f, err)) != E2_OK)
        return rc;
    if (!o->quiet) {
        print_report(stdout, c, r, out_yaml);
        printf("report: %s\n", path);
    }
    return E2_OK;
}

int calibrate_run(const struct calibrate_options *o, const struct e2_config *cfg,
                  struct e2_err *err)
{
    struct calibrate c;
    int rc = calibrate_open(cfg, &c, err);
    if (rc != E2_OK)
        return rc;
    char dir[OUT_PATH_MAX];
    if ((rc = prepare_dir(o, &c, dir, sizeof dir, err)) != E2_OK) {
        calibrate_close(&c);
        return rc;
    }
    struct outcome r;
    memset(&r, 0, sizeof r);
    int *fit_idx = malloc(sizeof(int) * (size_t)c.n), *all = malloc(sizeof(int) * (size_t)c.n);
    double *res = malloc(sizeof(double) * (size_t)c.n);
    r.sim = calloc((size_t)c.n, sizeof(double));
    r.loo = calloc((size_t)c.n, sizeof(double));
    r.loo_ok = calloc((size_t)c.n, sizeof(int));
    int nfit = 0;
    if (!fit_idx || !all || !res || !r.sim || !r.loo || !r.loo_ok)
        rc = e2_fail(err, E2_FAILURE, "out of memory");
    for (int i = 0; rc == E2_OK && i < c.n; i++) {
        all[i] = i;
        if (c.pt[i].fitted)
            fit_idx[nfit++] = i;
    }
    /* The fit over every fitted measurement. */
    if (rc == E2_OK) {
        memcpy(r.p, c.param, sizeof r.p);
        rc = calibrate_fit(&c, fit_idx, nfit, r.p, res, &r.fit, err);
        r.nprofile = c.nprofile;
        memcpy(r.profile_rms, c.profile_rms, sizeof r.profile_rms);
    }
    for (int k = 0; rc == E2_OK && k < c.np; k++)
        r.values[k] = round4(r.p[k].value);
    if (rc == E2_OK)
        rc = calibrate_predict(&c, r.values, all, c.n, r.sim, err);
    /* How far each coefficient can move the fitted savings within its bounds. */
    for (int k = 0; rc == E2_OK && k < c.np; k++) {
        double v[CALIBRATE_MAX_FREE], *lo = malloc(sizeof(double) * (size_t)nfit),
               *hi = malloc(sizeof(double) * (size_t)nfit);
        memcpy(v, r.values, sizeof v);
        v[k] = c.param[k].min;
        rc = lo && hi ? calibrate_predict(&c, v, fit_idx, nfit, lo, err)
                      : e2_fail(err, E2_FAILURE, "out of memory");
        v[k] = c.param[k].max;
        if (rc == E2_OK)
            rc = calibrate_predict(&c, v, fit_idx, nfit, hi, err);
        for (int i = 0; rc == E2_OK && i < nfit; i++)
            if (fabs(hi[i] - lo[i]) > r.reach[k])
                r.reach[k] = fabs(hi[i] - lo[i]);
        free(lo);
        free(hi);
    }
    /* Leave one out: refit without measurement i (from the same starts), predict i. */
    for (int h = 0; rc == E2_OK && h < nfit && nfit - 1 >= c.np; h++) {
        int *rest = malloc(sizeof(int) * (size_t)nfit);
        struct fit_param p[CALIBRATE_MAX_FREE];
        struct fit_result fr;
        double vals[CALIBRATE_MAX_FREE], pred;
        int m = 0;
        if (!rest) {
            rc = e2_fail(err, E2_FAILURE, "out of memory");
            break;
        }
        for (int i = 0; i < nfit; i++)
            if (i != h)
                rest[m++] = fit_idx[i];
        memcpy(p, c.param, sizeof p);
        rc = calibrate_fit(&c, rest, m, p, res, &fr, err);
        for (int k = 0; k < c.np; k++)
            vals[k] = p[k].value;
        if (rc == E2_OK)
            rc = calibrate_predict(&c, vals, &fit_idx[h], 1, &pred, err);
        if (rc == E2_OK) {
            r.loo[fit_idx[h]] = pred;
            r.loo_ok[fit_idx[h]] = 1;
        }
        free(rest);
    }
    if (rc == E2_OK)
        rc = write_outputs(o, &c, &r, dir, err);
    /* input refused during the fit: no empty folder left to block the same command */
    if (rc == E2_BAD_INPUT && !o->resume)
        out_discard_unstarted(dir);
    free(fit_idx), free(all), free(res), free(r.sim), free(r.loo), free(r.loo_ok);
    calibrate_close(&c);
    return rc;
}
