/* `e2sim calibrate --config FILE`: fit at most three energy-table coefficients so that the
 * energy-only mode's savings match measured ones (docs/calibration.md).
 *
 * The config is the base run (training.mode is forced to energy-only) plus
 *   calibration.measurements   measurement files that are fitted (sim/calibrate/measured.h), paths
 *                              relative to the config file's folder
 *   calibration.holdout        measurement files only predicted, never fitted
 *   calibration.free           at most three number keys of energy: or hardware:; at most one
 *                              may be an integer (a DSP count): it has no slope, so the fit
 *                              profiles it, fitting the others at every integer in its bounds
 *                              (at most CALIBRATE_MAX_PROFILE) and keeping the best
 *   calibration.lower / upper  their bounds; the fit STARTS from each key's value in the config
 *                              (normally the sourced value of the included hardware table),
 *                              which must lie strictly inside the bounds
 *   calibration.output         the calibrated hardware YAML: a bare file name lands in the
 *                              output folder, a path (with '/') is relative to the working
 *                              directory (configs/calibrate.yaml writes
 *                              configs/hw/zynq7020-calibrated.yaml)
 * Model: each measurement's `set` applied to a copy of the base config, its op stream built once
 * by the energy-only mode, then priced on a hardware model made from the coefficient values for
 * every evaluation (models are shared between measurements with equal hardware parameters).
 * The fit is sim/calibrate/fit.h's bounded least squares on the savings (fractions). Reported:
 * each value with its standard error beside the sources' plausible range (the model's parameter
 * table, hw_params.h), each measurement's measured and simulated saving and residual
 * (percentage points), the leave-one-out error of each fitted measurement (refit without it,
 * predict it), and the held-out files' errors. */
#ifndef E2_CALIBRATE_H
#define E2_CALIBRATE_H

#include <stdio.h>
#include "config.h"
#include "energy_only.h"
#include "fit.h"
#include "measured.h"
#include "status.h"

#define CALIBRATE_MAX_FREE 3
#define CALIBRATE_MAX_PROFILE 16

/* One measurement with the run it stands for. */
struct calibrate_point {
    struct measurement m;
    struct e2_config *cfg;              /* base + the measurement's overrides, energy-only */
    struct energy_only_stream stream;   /* its op stream and float32 baseline stream */
    int baseline_group;                 /* first point whose baseline stream is identical */
    int fitted;                         /* 1: from calibration.measurements; 0: holdout */
};

struct calibrate {
    const struct e2_config *base;
    int n;
    struct calibrate_point *pt;
    int np;
    struct fit_param param[CALIBRATE_MAX_FREE];      /* name, bounds, start */
    const struct hw_param_def *def[CALIBRATE_MAX_FREE];   /* their rows in the model's table */
    int int_k;                                       /* the integer coefficient, or -1 */
    /* Out of the last calibrate_fit with an integer coefficient: the rms residual (fraction)
     * at each of its values param[int_k].min + i, the others refitted. */
    int nprofile;
    double profile_rms[CALIBRATE_MAX_PROFILE];
};

/* Load the measurement files, apply their settings, check the free coefficients (bounds, start
 * inside them: errors "FILE:LINE:COL: ...") and build every op stream. */
int calibrate_open(const struct e2_config *cfg, struct calibrate *c, struct e2_err *err);
void calibrate_close(struct calibrate *c);

/* Savings (fractions) of points idx[0..n) with the free coefficients at `values`. */
int calibrate_predict(struct calibrate *c, const double *values, const int *idx, int n,
                      double *savings, struct e2_err *err);

/* Fit the free coefficients to points idx[0..n) (their measured savings) from the starts in
 * params (c->param copied by the caller); params receive values and standard errors,
 * residuals[i] = simulated - measured of idx[i]. */
int calibrate_fit(struct calibrate *c, const int *idx, int n, struct fit_param *params,
                  double *residuals, struct fit_result *res, struct e2_err *err);

/* Where calibrate_run writes and whether it prints. */
struct calibrate_options {
    const char *out_dir;    /* the output folder (NULL = out/<name>-<timestamp>) */
    int resume;             /* reuse out_dir (out_prepare_dir) */
    int quiet;              /* no report on standard output */
};

/* The whole calibration of cfg (cfg->calibration): open, fit, leave-one-out, sensitivities;
 * writes calibration.output and calibration.txt into the folder, made before the fit so that
 * a taken folder fails at once. */
int calibrate_run(const struct calibrate_options *o, const struct e2_config *cfg,
                  struct e2_err *err);

/* A complete hardware config (hardware: and energy:, every key) of cfg with `values` put in for
 * the free keys, under a header comment (`header`, lines without '#'). Loadable with
 * CFG_SCOPE_HW and includable by run configs. In calibrated_yaml.c. */
int calibrate_write_hw(FILE *out, const struct calibrate *c, const double *values,
                       const double *std_errors, const char *header, struct e2_err *err);

#endif
