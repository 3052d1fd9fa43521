/* PLACEHOLDER for the training run (issue 3 replaces this file): it does the plumbing every run
 * needs, makes the output folder and writes the resolved config into it as config.yaml, then
 * says plainly that no training happened. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "outdir.h"

static void method_text(const struct e2_config *cfg, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < cfg->training.method.n && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? "+" : "",
                                cfg->training.method.v[i]);
}

int cmd_run(const struct e2_options *opts, const struct e2_config *cfg, struct e2_err *err)
{
    char dir[OUT_PATH_MAX], path[OUT_PATH_MAX], method[CFG_STR * 4];
    int rc;
    if (opts->out_dir) {
        rc = out_prepare_dir(opts->out_dir, opts->resume, err);
        snprintf(dir, sizeof dir, "%s", opts->out_dir);
    } else {
        rc = out_create_default_dir(cfg->name, dir, sizeof dir, err);
    }
    if (rc != E2_OK)
        return rc;
    struct out_file f;
    if (out_join(path, sizeof path, dir, "config.yaml", err) || out_open_tmp(path, &f, err))
        return E2_FAILURE;
    cfg_print(f.fp, cfg);
    if (out_commit(&f, err))
        return E2_FAILURE;
    if (!opts->quiet) {
        method_text(cfg, method, sizeof method);
        printf("e2sim %s: run '%s': %s-%d (width %d) on %s, method %s (base %s), %d iterations "
               "of batch %d, seed %d, from %s. The training engine is not built yet (issue 3), so "
               "nothing was trained; the resolved config is in %s.\n",
               E2SIM_VERSION, cfg->name, cfg->network.arch, cfg->network.depth,
               cfg->network.width, cfg->dataset.name, method, cfg->training.base,
               cfg->training.iterations, cfg->training.batch_size, cfg->seed, cfg->source, path);
    }
    return E2_OK;
}
