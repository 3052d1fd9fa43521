/* e2sim export-ert --config HW.yaml [--out FILE]: the energy table as an Accelergy ERT
 * (sim/io/ert.h), to FILE (atomically) or standard output. */
#define _DEFAULT_SOURCE     /* open_memstream */
#include <stdio.h>
#include <stdlib.h>

#include "commands.h"
#include "ert.h"
#include "outdir.h"

int cmd_export_ert(const struct e2_options *opts, const struct e2_config *cfg, struct e2_err *err)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem)
        return e2_fail(err, E2_FAILURE, "out of memory");
    ert_write(mem, &cfg->hw, cfg->name[0] ? cfg->name : "e2sim");
    fclose(mem);
    int rc = E2_OK;
    if (opts->out_dir)
        rc = out_write_atomic(opts->out_dir, text, len, err);
    else if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0)
        rc = e2_fail(err, E2_FAILURE, "cannot write the ERT to standard output");
    free(text);
    return rc;
}
