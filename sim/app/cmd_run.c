/* e2sim --config FILE: one training run or one energy-only run (training.mode), in the folder
 * --out names (or out/<name>-<timestamp>); the run itself is sim/run/run.h's. */
#include <stdio.h>

#include "commands.h"
#include "outdir.h"
#include "run.h"

typedef int (*run_fn)(const struct run_options *o, const struct e2_config *cfg,
                      struct e2_err *err);

/* Prepare the output folder, run, and when a fresh run refuses its input remove the folder it
 * made, so the same command runs again once the input is fixed. */
static int run_in_folder(const struct e2_options *opts, const struct e2_config *cfg, run_fn run,
                         enum out_kind kind, struct e2_err *err)
{
    char dir[OUT_PATH_MAX];
    int rc;
    if (opts->out_dir) {
        rc = out_prepare_dir(opts->out_dir, opts->resume, err);
        if (rc == E2_OK && opts->resume)
            rc = out_check_resume(opts->out_dir, kind, err);
        snprintf(dir, sizeof dir, "%s", opts->out_dir);
    } else if (opts->resume) {
        return e2_fail(err, E2_BAD_INPUT, "--resume needs --out DIR (the run to continue)");
    } else {
        rc = out_create_default_dir(cfg->name, dir, sizeof dir, err);
    }
    if (rc != E2_OK)
        return rc;
    struct run_options o = {dir, opts->resume, opts->quiet};
    if (cfg->report.trace[0])   /* checked once the folder exists, so it compares as a folder */
        rc = out_check_not_result(dir, cfg->report.trace, opts->trace ? "--trace" : "report.trace",
                                  err);
    if (rc == E2_OK)
        rc = run(&o, cfg, err);
    if (rc == E2_BAD_INPUT && !opts->resume)
        out_discard_unstarted(dir);
    return rc;
}

int cmd_run(const struct e2_options *opts, const struct e2_config *cfg, struct e2_err *err)
{
    return run_in_folder(opts, cfg, run_train, OUT_KIND_TRAIN, err);
}

int cmd_energy_only(const struct e2_options *opts, const struct e2_config *cfg,
                    struct e2_err *err)
{
    return run_in_folder(opts, cfg, run_energy_only, OUT_KIND_RERUN, err);
}
