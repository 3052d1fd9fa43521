/* e2sim replay TRACE --config HW.yaml [--out DIR]: price a recorded trace on (other) hardware
 * (sim/run/replay.h), write the report files, print one line. */
#include <stdio.h>
#include <stdlib.h>

#include "commands.h"
#include "outdir.h"
#include "progress.h"
#include "replay.h"
#include "sweep.h"

/* A sweep over hardware:/energy: keys: each point is `e2sim replay TRACE --config ... --point I`. */
static int replay_sweep(const struct e2_options *opts, const struct e2_config *hw,
                        struct e2_err *err)
{
    const char *lead[2] = {"replay", opts->args[0]};
    return sweep_command(opts, hw, lead, 2, err);
}

int cmd_replay(const struct e2_options *opts, const struct e2_config *hw, struct e2_err *err)
{
    if (opts->nargs != 1)
        return e2_fail(err, E2_BAD_INPUT, "replay: give one trace file (e2sim replay TRACE "
                       "--config HW.yaml)");
    if (hw->has_sweep)
        return replay_sweep(opts, hw, err);
    const char *trace = opts->args[0];
    double t0 = progress_now();
    char dir[OUT_PATH_MAX];
    int rc = opts->out_dir ? out_prepare_dir(opts->out_dir, opts->resume, err)
                           : out_create_default_dir(hw->name, dir, sizeof dir, err);
    if (rc == E2_OK && opts->resume)
        rc = out_check_resume(opts->out_dir, OUT_KIND_RERUN, err);
    if (rc)
        return rc;
    if (opts->out_dir)
        snprintf(dir, sizeof dir, "%s", opts->out_dir);
    struct progress progress;
    progress_init(&progress, stderr, progress_mode_from(hw->report.progress, opts->quiet),
                  "iter", 0);
    struct run_result r;
    run_result_init(&r);
    snprintf(r.kind, sizeof r.kind, "replay");
    snprintf(r.name, sizeof r.name, "%s", hw->name);
    snprintf(r.trace, sizeof r.trace, "%s", trace);
    char *text = cfg_print_text(hw);
    r.config_text = text;
    if (hw->report.top_layers > 0)
        r.top_layers = hw->report.top_layers;
    rc = replay_price(trace, &hw->hw, &r, &progress, err);
    r.wall_seconds = progress_now() - t0;
    if (rc == E2_OK)
        rc = report_write(dir, &r, err);
    progress_clear(&progress);
    /* a refused trace leaves no empty folder behind: the same command runs once it is fixed */
    if (rc == E2_BAD_INPUT && !opts->resume)
        out_discard_unstarted(dir);
    if (rc == E2_OK && !opts->quiet) {
        printf("replayed %s on '%s': %.9g J", trace, hw->name, (double)r.total_fj * 1e-15);
        if (r.baseline_fp32_fj)
            printf(" (float32 baseline %.9g J, saving %.2f %%)",
                   (double)r.baseline_fp32_fj * 1e-15, 100 * report_savings(&r));
        printf("; report in %s/report.md\n", dir);
    }
    run_result_free(&r);
    free(text);
    return rc;
}
