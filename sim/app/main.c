/* The e2sim program's entry point: the only place that prints errors and picks the exit
 * status (0 success, 1 the run failed, 2 bad usage or bad input). Everything else returns
 * an enum e2_status with a message. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "config.h"

static int exit_status(int rc)
{
    return rc == E2_OK ? 0 : rc == E2_BAD_INPUT ? 2 : 1;
}

/* Load the --config with the scope its command takes, then --trace. */
static int load_config(const struct e2_options *opts, struct e2_config *cfg, struct e2_err *err)
{
    enum cfg_scope scope = opts->command == E2_CMD_REPLAY || opts->command == E2_CMD_EXPORT_ERT
                                ? CFG_SCOPE_HW : CFG_SCOPE_RUN;
    int rc = cfg_load_scoped(opts->config, opts->sets, opts->nsets, scope, cfg, err);
    if (rc != E2_OK)
        return rc;
    if (opts->trace) {
        if (strlen(opts->trace) >= sizeof cfg->report.trace)
            return e2_fail(err, E2_BAD_INPUT, "--trace %s: path too long", opts->trace);
        strcpy(cfg->report.trace, opts->trace);
    }
    return E2_OK;
}

/* --shard and --point select sweep points: they need a sweep. --point narrows cfg to one. */
static int select_points(const struct e2_options *opts, struct e2_config *cfg,
                         struct e2_err *err)
{
    if ((opts->shard_count > 1 || opts->point >= 0) && !cfg->has_sweep)
        return e2_fail(err, E2_BAD_INPUT, "%s: --shard and --point need a config with a sweep:",
                       cfg->source);
    if (opts->point < 0)
        return E2_OK;
    struct e2_config *point = malloc(sizeof *point);
    if (!point)
        return e2_fail(err, E2_FAILURE, "out of memory");
    int rc = cfg_sweep_point(cfg, opts->point, point, err);
    if (rc == E2_OK)
        *cfg = *point;
    free(point);
    return rc;
}

static int dispatch(const struct e2_options *opts, const struct e2_config *cfg,
                    struct e2_err *err)
{
    switch (opts->command) {
    case E2_CMD_RUN:
        if (cfg->has_sweep)
            return cmd_sweep(opts, cfg, err);
        if (cfg->training.mode == CFG_MODE_ENERGY_ONLY)
            return cmd_energy_only(opts, cfg, err);
        return cmd_run(opts, cfg, err);
    case E2_CMD_REPLAY:
        return cmd_replay(opts, cfg, err);
    case E2_CMD_MERGE:
        return cmd_merge(opts, err);
    case E2_CMD_CALIBRATE:
        return cmd_calibrate(opts, cfg, err);
    case E2_CMD_BENCH:
        return cmd_bench(opts, cfg, err);
    case E2_CMD_EXPORT_ERT:
        return cmd_export_ert(opts, cfg, err);
    default:
        return e2_fail(err, E2_FAILURE, "internal error: command %d", (int)opts->command);
    }
}

/* Two settings that the C libraries read only when they load, so when the user has not chosen,
 * choose and start again:
 * - libgomp's threads spin while they wait (300000 rounds by default), which halves training
 *   speed as soon as another process holds a core; waiting passively (OMP_WAIT_POLICY=passive)
 *   costs a futex wake-up at each of the ~1200 barriers of a ResNet-74 step, 3-5 % on an idle
 *   machine. A short spin (GOMP_SPINCOUNT=3000: 3000 pauses, ~60 us here) keeps that gain and,
 *   measured beside three busy processes, loses nothing against passive (docs/performance.md).
 * - a run first touches about a gigabyte (ResNet-74, batch 128) in 4 KiB pages, ~280 K page
 *   faults that cost a second per run; malloc's large blocks in transparent huge pages (where
 *   the kernel offers them on request) take about a third as many.
 * The names of the variables set here go in E2SIM_SET_ENV, so that `e2sim bench` can run
 * PyTorch in the user's own environment. */
static void prefer_runtime_settings(char **argv)
{
    char set[64] = "";
    if (!getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT") && setenv("GOMP_SPINCOUNT", "3000", 1) == 0)
        strcat(set, " GOMP_SPINCOUNT");
    if (!getenv("GLIBC_TUNABLES") && setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1", 1) == 0)
        strcat(set, " GLIBC_TUNABLES");
    if (set[0] && setenv("E2SIM_SET_ENV", set + 1, 1) == 0)
        execv("/proc/self/exe", argv);   /* returns only on failure: then run as we are */
}

int main(int argc, char **argv)
{
    prefer_runtime_settings(argv);
    struct e2_options opts;
    struct e2_err err = {""};
    if (cli_parse(argc, argv, &opts, &err) != E2_OK) {
        fprintf(stderr, "e2sim: %s\nTry 'e2sim --help' for usage.\n", err.msg);
        return 2;
    }
    switch (opts.command) {
    case E2_CMD_HELP:
        fputs(cli_usage(), stdout);
        return 0;
    case E2_CMD_VERSION:
        printf("e2sim %s\n", E2SIM_VERSION);
        return 0;
    case E2_CMD_CONFIG_REFERENCE:
        cfg_write_reference(stdout);
        return 0;
    default:
        break;
    }
    if (opts.threads > 0)
        omp_set_num_threads(opts.threads);

    struct e2_config *cfg = NULL;
    int rc = E2_OK;
    if (opts.config) {
        cfg = malloc(sizeof *cfg);
        rc = cfg ? load_config(&opts, cfg, &err) : e2_fail(&err, E2_FAILURE, "out of memory");
        if (rc == E2_OK && opts.print_config) {
            cfg_print(stdout, cfg);
            free(cfg);
            return fflush(stdout) == 0 ? 0 : 1;
        }
        if (rc == E2_OK && opts.command != E2_CMD_BENCH)
            rc = select_points(&opts, cfg, &err);
    }
    if (rc == E2_OK)
        rc = dispatch(&opts, cfg, &err);
    if (rc != E2_OK)
        fprintf(stderr, "e2sim: %s\n", err.msg);
    free(cfg);
    return exit_status(rc);
}
