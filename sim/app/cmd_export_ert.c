/* e2sim export-ert --config HW.yaml [--out FILE]: the energy table as an Accelergy ERT
 * (sim/io/ert.h), to FILE (atomically) or standard output. */
#define _DEFAULT_SOURCE     /* open_memstream */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "ert.h"
#include "outdir.h"

/* --out FILE is the user's path: what cannot be a file there, and a folder that is not there
 * to write in, are bad input. */
static int check_out_file(const char *path, struct e2_err *err)
{
    int rc = out_check_target(path, err);
    if (rc != E2_OK)
        return rc;
    struct stat st;
    char dir[OUT_PATH_MAX];
    const char *slash = strrchr(path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) + (slash == path) : 1,
             slash ? path : ".");
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || access(dir, W_OK | X_OK) != 0)
        return e2_fail(err, E2_BAD_INPUT, "--out %s: cannot write in folder '%s'", path, dir);
    return E2_OK;
}

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
    if (opts->out_dir) {   /* a refused --out writes nothing, not even to standard output */
        rc = check_out_file(opts->out_dir, err);
        if (rc == E2_OK)
            rc = out_write_atomic(opts->out_dir, text, len, err);
    } else if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0)
        rc = e2_fail(err, E2_FAILURE, "cannot write the ERT to standard output");
    free(text);
    return rc;
}
