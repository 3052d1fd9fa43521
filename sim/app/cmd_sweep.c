/* e2sim --config FILE with a sweep: section, and replay's hardware sweeps: the command line
 * translated into sweep_run's options and its workers' argv (sim/run/sweep.h). */
#include <stdio.h>
#include <stdlib.h>

#include "commands.h"
#include "outdir.h"
#include "progress.h"
#include "sweep.h"

const char **sweep_worker_argv(const struct e2_options *opts, const char *exe,
                               const char *const *lead, int nlead, long cores, char *threads,
                               size_t threads_size)
{
    const char **argv = calloc((size_t)(nlead + 2 * opts->nsets + 8), sizeof *argv);
    if (!argv)
        return NULL;
    int n = 0, jobs = opts->jobs > 0 ? opts->jobs : 1;
    argv[n++] = exe;
    for (int i = 0; i < nlead; i++)
        argv[n++] = lead[i];
    argv[n++] = "--config";
    argv[n++] = opts->config;
    for (int i = 0; i < opts->nsets; i++) {
        argv[n++] = "--set";
        argv[n++] = opts->sets[i];
    }
    argv[n++] = "--quiet";
    /* share the cores between the workers unless told otherwise */
    int per_worker = opts->threads > 0 ? opts->threads
                                       : (int)(cores / jobs > 1 ? cores / jobs : 1);
    snprintf(threads, threads_size, "%d", per_worker);
    argv[n++] = "--threads";
    argv[n++] = threads;
    argv[n] = NULL;
    return argv;
}

int sweep_command(const struct e2_options *opts, const struct e2_config *cfg,
                  const char *const *lead, int nlead, struct e2_err *err)
{
    char exe[OUT_PATH_MAX], dir[OUT_PATH_MAX], threads[16];
    if (!opts->config)
        return e2_fail(err, E2_BAD_INPUT, "a sweep needs --config FILE");
    if (opts->resume && !opts->out_dir)
        return e2_fail(err, E2_BAD_INPUT, "--resume needs --out DIR (the sweep's folder)");
    int rc = sweep_self_exe(exe, sizeof exe, err);
    if (rc)
        return rc;
    const char **argv = sweep_worker_argv(opts, exe, lead, nlead, sweep_usable_cpus(), threads,
                                          sizeof threads);
    if (!argv)
        return e2_fail(err, E2_FAILURE, "out of memory");
    if (opts->out_dir) {
        rc = out_prepare_dir(opts->out_dir, opts->resume, err);
        if (rc == E2_OK && opts->resume)
            rc = out_check_resume(opts->out_dir, OUT_KIND_SWEEP, err);
        snprintf(dir, sizeof dir, "%s", opts->out_dir);
    } else {
        rc = out_create_default_dir(cfg->name, dir, sizeof dir, err);
    }
    struct progress progress;
    progress_init(&progress, stderr, progress_mode_from(cfg->report.progress, opts->quiet),
                  "point", 0);
    struct sweep_options o = {dir, opts->jobs > 0 ? opts->jobs : 1, opts->resume,
                              opts->shard_index, opts->shard_count, argv};
    if (rc == E2_OK)
        rc = sweep_run(cfg, &o, &progress, err);
    if (rc == E2_OK && !opts->quiet)
        printf("sweep '%s': %ld points (shard %d/%d), results in %s/sweep.md\n", cfg->name,
               cfg_sweep_points(cfg), o.shard_index > 0 ? o.shard_index : 1,
               o.shard_count > 0 ? o.shard_count : 1, dir);
    free(argv);
    return rc;
}

int cmd_sweep(const struct e2_options *opts, const struct e2_config *cfg, struct e2_err *err)
{
    return sweep_command(opts, cfg, NULL, 0, err);
}
