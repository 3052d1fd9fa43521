/* e2sim merge DIR... [--out NEW]: the command line translated into sweep_merge
 * (sim/report/sweep_report.h). */
#include <stdio.h>

#include "commands.h"
#include "outdir.h"
#include "sweep_report.h"

int cmd_merge(const struct e2_options *opts, struct e2_err *err)
{
    if (opts->nargs < 1)
        return e2_fail(err, E2_BAD_INPUT, "merge: name the sweep folders to join "
                       "(e2sim merge DIR... --out NEW)");
    if (opts->out_dir)
        return sweep_merge(opts->args, opts->nargs, opts->out_dir, 1, err);
    char dir[OUT_PATH_MAX];
    int rc = sweep_merge_default(opts->args, opts->nargs, dir, sizeof dir, err);
    if (rc == E2_OK && !opts->quiet)
        printf("merged %d sweep folder%s into %s/sweep.md\n", opts->nargs,
               opts->nargs > 1 ? "s" : "", dir);
    return rc;
}
