/* Commands whose issue has not landed yet. Each says so and fails (exit status 1); nothing here
 * pretends to work. Whoever implements a command deletes its stub from this file. */
#include "commands.h"

int cmd_energy_only(const struct e2_options *opts, const struct e2_config *cfg,
                    struct e2_err *err)
{
    (void)opts;
    (void)cfg;
    return e2_fail(err, E2_FAILURE, "training.mode energy-only: not implemented yet (issue 6)");
}

int cmd_sweep(const struct e2_options *opts, const struct e2_config *cfg, struct e2_err *err)
{
    (void)opts;
    return e2_fail(err, E2_FAILURE,
                   "sweeps: not implemented yet (issue 6); the sweep has %ld points, run one "
                   "with --point I",
                   cfg_sweep_points(cfg));
}

int cmd_replay(const struct e2_options *opts, const struct e2_config *hw, struct e2_err *err)
{
    (void)opts;
    (void)hw;
    return e2_fail(err, E2_FAILURE, "replay: not implemented yet (issue 6)");
}

int cmd_merge(const struct e2_options *opts, struct e2_err *err)
{
    (void)opts;
    return e2_fail(err, E2_FAILURE, "merge: not implemented yet (issue 6)");
}

int cmd_calibrate(const struct e2_options *opts, const struct e2_config *cfg,
                  struct e2_err *err)
{
    (void)opts;
    (void)cfg;
    return e2_fail(err, E2_FAILURE, "calibrate: not implemented yet (issue 7)");
}

int cmd_bench(const struct e2_options *opts, const struct e2_config *cfg, struct e2_err *err)
{
    (void)opts;
    (void)cfg;
    return e2_fail(err, E2_FAILURE, "bench: not implemented yet (issue 3)");
}
