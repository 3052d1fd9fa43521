/* What each e2sim command does, given the parsed options and (where the command takes one) the
 * loaded, resolved config. sim/app/main.c picks the command; these functions never print errors
 * and never exit: they return E2_OK, E2_FAILURE or E2_BAD_INPUT with err filled.
 * Each command is in its own file, sim/app/cmd_<command>.c. */
#ifndef E2_COMMANDS_H
#define E2_COMMANDS_H

#include <stddef.h>

#include "cli.h"
#include "config.h"
#include "status.h"

/* One training run (training.mode: train) into opts->out_dir (or out/<name>-<timestamp>,
 * created with outdir.h); cfg has no sweep. */
int cmd_run(const struct e2_options *opts, const struct e2_config *cfg, struct e2_err *err);

/* One energy-only run (training.mode: energy-only): the op stream from statistics. */
int cmd_energy_only(const struct e2_options *opts, const struct e2_config *cfg,
                    struct e2_err *err);

/* A config with a sweep: section (cfg->has_sweep): every point of this shard
 * (opts->shard_index of opts->shard_count), opts->jobs worker processes, sweep.jsonl.
 * Points come from cfg_sweep_point(); each point runs like cmd_run / cmd_energy_only. */
int cmd_sweep(const struct e2_options *opts, const struct e2_config *cfg, struct e2_err *err);

/* The sweep command (cmd_sweep, and cmd_replay's hardware sweeps): workers are this program run
 * as `e2sim LEAD... --config FILE --set ... --quiet [--threads N]` (LEAD: e.g. "replay" TRACE,
 * nlead may be 0); the folder is --out DIR (or out/<name>-<timestamp>), locked for the sweep
 * (out_prepare_dir); progress on stderr, a summary line on stdout. */
int sweep_command(const struct e2_options *opts, const struct e2_config *cfg,
                  const char *const *lead, int nlead, struct e2_err *err);

/* The NULL-terminated argv prefix of sweep_command's workers: exe, LEAD..., --config, the
 * --set options, --quiet and --threads N (--threads of opts, else `cores` shared between
 * --jobs workers, at least 1; N is written into `threads`). NULL: out of memory. */
const char **sweep_worker_argv(const struct e2_options *opts, const char *exe,
                               const char *const *lead, int nlead, long cores, char *threads,
                               size_t threads_size);

/* e2sim replay TRACE --config HW.yaml: opts->args[0] is the trace; hw was loaded with
 * CFG_SCOPE_HW (it may hold a sweep over hardware keys). */
int cmd_replay(const struct e2_options *opts, const struct e2_config *hw, struct e2_err *err);

/* e2sim merge DIR...: opts->args[0..nargs-1] are the shard folders, opts->out_dir the result. */
int cmd_merge(const struct e2_options *opts, struct e2_err *err);

/* e2sim calibrate --config FILE: cfg->calibration names measurements and free coefficients. */
int cmd_calibrate(const struct e2_options *opts, const struct e2_config *cfg,
                  struct e2_err *err);

/* e2sim bench [NAME...]: opts->args are benchmark names (none = all); cfg is the --config if
 * one was given, else NULL. */
int cmd_bench(const struct e2_options *opts, const struct e2_config *cfg, struct e2_err *err);

/* e2sim export-ert --config HW.yaml [--out FILE]: the energy table as an Accelergy ERT
 * (sim/io/ert.h), to FILE (atomically) or standard output. */
int cmd_export_ert(const struct e2_options *opts, const struct e2_config *cfg, struct e2_err *err);

#endif
