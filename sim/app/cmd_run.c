/* e2sim --config FILE: one training run or one energy-only run (training.mode), in the folder
 * --out names (or out/<name>-<timestamp>); the run itself is sim/run/run.h's. */
#include <stdio.h>

#include "commands.h"
#include "outdir.h"
#include "run.h"

int cmd_run(const struct e2_options *opts, const struct e2_config *cfg, struct e2_err *err)
{
    char dir[OUT_PATH_MAX];
    int rc;
    if (opts->out_dir) {
        rc = out_prepare_dir(opts->out_dir, opts->resume, err);
        snprintf(dir, sizeof dir, "%s", opts->out_dir);
    } else if (opts->resume) {
        return e2_fail(err, E2_BAD_INPUT, "--resume needs --out DIR (the run to continue)");
    } else {
        rc = out_create_default_dir(cfg->name, dir, sizeof dir, err);
    }
    if (rc != E2_OK || (!opts->resume && (rc = cfg_write_resolved(dir, cfg, err)) != E2_OK))
        return rc;
    struct run_options o = {dir, opts->resume, opts->quiet};
    rc = run_train(&o, cfg, err);
    if (rc == E2_BAD_INPUT && !opts->resume)
        out_discard_unstarted(dir);
    return rc;
}

int cmd_energy_only(const struct e2_options *opts, const struct e2_config *cfg,
                    struct e2_err *err)
{
    char dir[OUT_PATH_MAX];
    int rc;
    if (opts->out_dir) {
        snprintf(dir, sizeof dir, "%s", opts->out_dir);
        rc = out_prepare_dir(opts->out_dir, opts->resume, err);
    } else {
        rc = out_create_default_dir(cfg->name, dir, sizeof dir, err);
    }
    if (rc != E2_OK)
        return rc;
    struct run_options o = {dir, opts->resume, opts->quiet};
    rc = run_energy_only(&o, cfg, err);
    if (rc == E2_BAD_INPUT && !opts->resume)
        out_discard_unstarted(dir);
    return rc;
}
