/* A run in a prepared output folder: training (run.c) or the energy-only mode (energy_only.c).
 * The command layer (sim/app/cmd_run.c) prepares the folder and its config.yaml; these price
 * the run, write its report files (sim/report/) and, unless quiet, print a summary. */
#ifndef E2_RUN_H
#define E2_RUN_H

#include "config.h"
#include "status.h"

/* What a run needs from the command line. */
struct run_options {
    const char *dir;    /* the run's output folder (exists) */
    int resume;         /* continue from dir's checkpoint when there is one */
    int quiet;          /* no progress line, no summary on standard output */
};

/* One training run (training.mode: train); cfg has no sweep. */
int run_train(const struct run_options *o, const struct e2_config *cfg, struct e2_err *err);

/* One energy-only run (training.mode: energy-only): the op stream from statistics. */
int run_energy_only(const struct run_options *o, const struct e2_config *cfg,
                    struct e2_err *err);

#endif
