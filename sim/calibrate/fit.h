/* Bounded nonlinear least squares (GSL's gsl_multifit_nlinear, trust region with
 * Levenberg-Marquardt steps and a central-difference Jacobian with a fixed step in the unbounded
 * variable, coarse enough for energies priced in integer femtojoules) for the calibration.
 * Bounds are enforced by fitting an unbounded u with value = min + (max-min) * logistic(u), so the
 * optimizer can never leave them; standard errors are mapped back through that transform.
 * Because that transform flattens at the bounds, a value left on a bound is tried slightly inside
 * and the fit restarts from there when that is better (fit.c, fit_least_squares). */
#ifndef E2_FIT_H
#define E2_FIT_H

#include "status.h"

struct fit_param {
    char name[128];
    double min, max;     /* bounds, min < max */
    double start;        /* starting value, strictly inside the bounds */
    double value;        /* out: fitted value */
    double std_error;    /* out: standard error (scaled by the residual variance when dof > 0) */
    int at_bound;        /* out: within 0.1 % of the range from a bound (its error is unreliable) */
};

/* Predict every measurement from the parameter values. Returns E2_OK or fills err. */
typedef int (*fit_model_fn)(void *ctx, const double *values, int nvalues,
                            double *predicted, int npredicted, struct e2_err *err);

struct fit_result {
    int iterations;      /* GSL iterations, restarts included */
    double chisq;        /* sum of squared residuals */
    int converged;       /* 1 when GSL's tests said so */
};

/* Fit params (np of them) so that model(values) matches measured[0..nm). residuals[i] gets
 * predicted - measured at the solution. nm >= np is required. */
int fit_least_squares(fit_model_fn model, void *ctx, struct fit_param *params, int np,
                      const double *measured, int nm, double *residuals,
                      struct fit_result *result, struct e2_err *err);

#endif
