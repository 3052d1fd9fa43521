#include "fit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_multifit_nlinear.h>

struct fit_ctx {
    fit_model_fn model;
    void *model_ctx;
    const struct fit_param *params;
    int np;
    const double *measured;
    int nm;
    double *values;      /* scratch: bounded values from u */
    double *predicted;   /* scratch */
    int failed;
    struct e2_err *err;
};

static double logistic(double u) { return 1.0 / (1.0 + exp(-u)); }

static double value_from_u(const struct fit_param *p, double u)
{
    return p->min + (p->max - p->min) * logistic(u);
}

static double u_from_value(const struct fit_param *p, double v)
{
    double t = (v - p->min) / (p->max - p->min);
    return log(t / (1.0 - t));
}

static int residual_fn(const gsl_vector *u, void *data, gsl_vector *f)
{
    struct fit_ctx *c = data;
    for (int i = 0; i < c->np; i++)
        c->values[i] = value_from_u(&c->params[i], gsl_vector_get(u, i));
    int rc = c->model(c->model_ctx, c->values, c->np, c->predicted, c->nm, c->err);
    if (rc != E2_OK) {
        c->failed = rc;
        return GSL_EBADFUNC;
    }
    for (int i = 0; i < c->nm; i++)
        gsl_vector_set(f, i, c->predicted[i] - c->measured[i]);
    return GSL_SUCCESS;
}

/* Jacobian by central differences with a fixed step in u. The model prices energies in integer
 * femtojoules per action, so a relative step of GSL's default size (1e-5 of a pJ-sized value)
 * can fall below that resolution and read as a zero slope; FIT_DU moves a value by about 0.25 %
 * of its range at the middle of the range (less near the bounds). */
#define FIT_DU 1e-2

static int jacobian_fn(const gsl_vector *u, void *data, gsl_matrix *J)
{
    struct fit_ctx *c = data;
    gsl_vector *v = gsl_vector_alloc(u->size);
    gsl_vector *fp = gsl_vector_alloc(c->nm), *fm = gsl_vector_alloc(c->nm);
    int status = (v && fp && fm) ? GSL_SUCCESS : GSL_ENOMEM;
    for (int j = 0; status == GSL_SUCCESS && j < c->np; j++) {
        gsl_vector_memcpy(v, u);
        gsl_vector_set(v, j, gsl_vector_get(u, j) + FIT_DU);
        status = residual_fn(v, data, fp);
        gsl_vector_set(v, j, gsl_vector_get(u, j) - FIT_DU);
        if (status == GSL_SUCCESS)
            status = residual_fn(v, data, fm);
        for (int i = 0; status == GSL_SUCCESS && i < c->nm; i++)
            gsl_matrix_set(J, i, j, (gsl_vector_get(fp, i) - gsl_vector_get(fm, i)) / (2 * FIT_DU));
    }
    if (v)
        gsl_vector_free(v);
    if (fp)
        gsl_vector_free(fp);
    if (fm)
        gsl_vector_free(fm);
    return status;
}

static int check_params(const struct fit_param *params, int np, int nm, struct e2_err *err)
{
    if (np < 1)
        return e2_fail(err, E2_BAD_INPUT, "calibration: no free coefficient to fit");
    if (nm < np)
        return e2_fail(err, E2_BAD_INPUT,
                       "calibration: %d measurement(s) cannot determine %d free coefficient(s)", nm, np);
    for (int i = 0; i < np; i++) {
        const struct fit_param *p = &params[i];
        if (!(p->min < p->max))
            return e2_fail(err, E2_BAD_INPUT, "calibration: '%s': impossible bounds [%g, %g]",
                           p->name, p->min, p->max);
        if (!(p->start > p->min && p->start < p->max))
            return e2_fail(err, E2_BAD_INPUT,
                           "calibration: '%s': start %g is not strictly inside [%g, %g]",
                           p->name, p->start, p->min, p->max);
    }
    return E2_OK;
}

/* Standard errors: covariance in u-space, scaled by chisq/dof, mapped by |d value / d u|. */
static void fill_errors(gsl_multifit_nlinear_workspace *w, struct fit_param *params, int np,
                        int nm, double chisq)
{
    gsl_matrix *covar = gsl_matrix_alloc(np, np);
    gsl_multifit_nlinear_covar(gsl_multifit_nlinear_jac(w), 0.0, covar);
    double scale = nm > np ? chisq / (nm - np) : 1.0;
    const gsl_vector *u = gsl_multifit_nlinear_position(w);
    for (int i = 0; i < np; i++) {
        struct fit_param *p = &params[i];
        double s = logistic(gsl_vector_get(u, i));
        double dvdu = (p->max - p->min) * s * (1.0 - s);
        p->value = value_from_u(p, gsl_vector_get(u, i));
        p->std_error = fabs(dvdu) * sqrt(scale * gsl_matrix_get(covar, i, i));
        double margin = 1e-3 * (p->max - p->min);
        p->at_bound = p->value - p->min < margin || p->max - p->value < margin;
    }
    gsl_matrix_free(covar);
}

/* One GSL run from the values in starts[]; fills params (value, error, at_bound), residuals and
 * result. */
static int fit_once(fit_model_fn model, void *ctx, struct fit_param *params, int np,
                    const double *starts, const double *measured, int nm, double *residuals,
                    struct fit_result *result, struct e2_err *err)
{
    struct fit_ctx c = {model, ctx, params, np, measured, nm,
                        calloc(np, sizeof(double)), calloc(nm, sizeof(double)), 0, err};
    gsl_multifit_nlinear_fdf fdf = {.f = residual_fn, .df = jacobian_fn, .fvv = NULL,
                                    .n = nm, .p = np, .params = &c};
    gsl_multifit_nlinear_parameters fp = gsl_multifit_nlinear_default_parameters();
    gsl_multifit_nlinear_workspace *w =
        gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &fp, nm, np);
    gsl_vector *u0 = gsl_vector_alloc(np);
    for (int i = 0; i < np; i++)
        gsl_vector_set(u0, i, u_from_value(&params[i], starts[i]));

    gsl_error_handler_t *old = gsl_set_error_handler_off();
    int info = 0;
    int status = gsl_multifit_nlinear_init(u0, &fdf, w);
    if (status == GSL_SUCCESS)
        status = gsl_multifit_nlinear_driver(200, 1e-10, 1e-10, 1e-12, NULL, NULL, &info, w);
    gsl_set_error_handler(old);

    int rc;
    if (c.failed) {
        rc = c.failed;
    } else if (status != GSL_SUCCESS && status != GSL_EMAXITER) {
        rc = e2_fail(err, E2_FAILURE, "calibration: the fit failed: %s", gsl_strerror(status));
    } else {
        double chisq;
        gsl_blas_ddot(gsl_multifit_nlinear_residual(w), gsl_multifit_nlinear_residual(w), &chisq);
        fill_errors(w, params, np, nm, chisq);
        for (int i = 0; i < nm; i++)
            residuals[i] = gsl_vector_get(gsl_multifit_nlinear_residual(w), i);
        result->iterations = (int)gsl_multifit_nlinear_niter(w);
        result->chisq = chisq;
        result->converged = status == GSL_SUCCESS;
        rc = E2_OK;
    }
    gsl_vector_free(u0);
    gsl_multifit_nlinear_free(w);
    free(c.values);
    free(c.predicted);
    return rc;
}

/* Sum of squared residuals at `values`. */
static int chisq_at(fit_model_fn model, void *ctx, const double *values, int np,
                    const double *measured, int nm, double *chisq, struct e2_err *err)
{
    double *pred = calloc((size_t)nm, sizeof *pred);
    if (!pred)
        return e2_fail(err, E2_FAILURE, "out of memory");
    int rc = model(ctx, values, np, pred, nm, err);
    *chisq = 0;
    for (int i = 0; rc == E2_OK && i < nm; i++)
        *chisq += (pred[i] - measured[i]) * (pred[i] - measured[i]);
    free(pred);
    return rc;
}

/* Bounds and saturation: near a bound the logistic transform flattens, so a first Gauss-Newton
 * step that lands a value on a bound leaves it there even when the best point in the box has it
 * elsewhere. After each run, every value on a bound is tried 1 % of its range inward (the
 * others kept); if that lowers the sum of squares, the fit restarts with those values a tenth of
 * the range inside and keeps the better solution. At most 2 * np restarts. */
int fit_least_squares(fit_model_fn model, void *ctx, struct fit_param *params, int np,
                      const double *measured, int nm, double *residuals,
                      struct fit_result *result, struct e2_err *err)
{
    int rc = check_params(params, np, nm, err);
    if (rc != E2_OK)
        return rc;
    struct fit_param *trial = malloc(sizeof *trial * (size_t)np);
    double *starts = calloc((size_t)np, sizeof(double)), *values = calloc((size_t)np, sizeof(double));
    double *res = malloc(sizeof(double) * (size_t)nm);
    struct fit_result tr = {0, 0, 0};
    *result = tr;
    if (!trial || !starts || !values || !res) {
        free(trial), free(starts), free(values), free(res);
        return e2_fail(err, E2_FAILURE, "out of memory");
    }
    for (int i = 0; i < np; i++)
        starts[i] = params[i].start;
    rc = fit_once(model, ctx, params, np, starts, measured, nm, residuals, result, err);
    int iterations = result->iterations;
    for (int round = 0; rc == E2_OK && round < 2 * np; round++) {
        int moved = 0;
        for (int i = 0; i < np; i++)
            values[i] = params[i].value;
        for (int i = 0; rc == E2_OK && i < np; i++) {
            starts[i] = values[i];
            if (!params[i].at_bound)
                continue;
            double range = params[i].max - params[i].min, x2;
            int low = values[i] - params[i].min < params[i].max - values[i];
            double save = values[i];
            values[i] = low ? params[i].min + 0.01 * range : params[i].max - 0.01 * range;
            rc = chisq_at(model, ctx, values, np, measured, nm, &x2, err);
            values[i] = save;
            if (rc == E2_OK && x2 < result->chisq * (1 - 1e-9)) {
                starts[i] = low ? params[i].min + 0.1 * range : params[i].max - 0.1 * range;
                moved = 1;
            } else {   /* stays near its bound, strictly inside so that the start is valid */
                starts[i] = low ? params[i].min + 1e-3 * range : params[i].max - 1e-3 * range;
            }
        }
        if (rc != E2_OK || !moved)
            break;
        memcpy(trial, params, sizeof *trial * (size_t)np);
        rc = fit_once(model, ctx, trial, np, starts, measured, nm, res, &tr, err);
        if (rc != E2_OK)
            break;
        iterations += tr.iterations;
        if (!(tr.chisq < result->chisq))
            break;
        memcpy(params, trial, sizeof *trial * (size_t)np);
        memcpy(residuals, res, sizeof(double) * (size_t)nm);
        *result = tr;
    }
    result->iterations = iterations;
    free(trial), free(starts), free(values), free(res);
    return rc;
}
