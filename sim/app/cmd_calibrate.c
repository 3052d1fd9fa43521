/* e2sim calibrate --config FILE [--out DIR] [--resume] [--quiet]: the command line translated
 * into calibrate_run's options (sim/calibrate/calibrate.h). */
#include "calibrate.h"
#include "commands.h"

int cmd_calibrate(const struct e2_options *opts, const struct e2_config *cfg,
                  struct e2_err *err)
{
    struct calibrate_options o = {opts->out_dir, opts->resume, opts->quiet};
    return calibrate_run(&o, cfg, err);
}
