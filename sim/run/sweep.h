/* Sweeps: run every point of a config's sweep: section as its own worker process and collect
 * one line per finished point in DIR/sweep.jsonl.
 *
 * A worker is the same e2sim program run for one point:
 *     WORKER... --point I --out DIR/points/NNNN [--trace DIR/points/NNNN.e2t]
 * (the trace when the config records one: report.trace or --trace)
 * where WORKER is the caller's argv prefix (normally /proc/self/exe --config FILE --set ...
 * --quiet, or ... replay TRACE ... for a hardware sweep over a replay). Workers run `jobs` at a
 * time; each one's stdout/stderr goes to DIR/points/NNNN.log. When a worker exits 0 and its
 * report.json reads back, the point is appended to sweep.jsonl (one write of a whole line), so
 * an interrupted sweep loses at most the points that were running; `resume` skips the points
 * already in sweep.jsonl. `--shard K/N` runs only the points with index % N == K - 1.
 * The summary files and `e2sim merge`: sim/report/sweep_report.h. docs/outputs.md documents
 * every file. */
#ifndef E2_SWEEP_H
#define E2_SWEEP_H

#include <stddef.h>
#include "status.h"

struct e2_config;
struct progress;

struct sweep_options {
    const char *out_dir;            /* the sweep's folder; must exist */
    int jobs;                       /* worker processes at a time (>= 1) */
    int resume;                     /* keep the points already in sweep.jsonl */
    int shard_index, shard_count;   /* K/N: this shard runs index % N == K - 1 (1/1 = all) */
    const char *const *worker;      /* NULL-terminated argv prefix of a worker */
};

/* Run the sweep of cfg (cfg->has_sweep). Writes config.yaml (cfg resolved; on a resume only
 * once sweep.jsonl proved to be this sweep's), sweep.jsonl as points finish and sweep.csv,
 * sweep.md and sweep.html at the end. A point whose worker fails is left out of sweep.jsonl
 * (a later --resume runs it again), and so is a point whose unfinished folder from an earlier
 * run cannot be removed (the reason in its log); the sweep returns E2_FAILURE naming the
 * failed points and their logs, after finishing every other point. When every point it ran
 * failed on one input error (each worker exited 2 with the same message), that error is the
 * sweep's: E2_BAD_INPUT with the workers' message. Workers are killed when the sweep process
 * dies. `progress` (may be NULL) receives a line per finished point. */
int sweep_run(const struct e2_config *cfg, const struct sweep_options *o, struct progress *progress,
              struct e2_err *err);

/* The CPUs this process may run on (its affinity mask, e.g. under taskset or a batch system's
 * cgroup), not the ones online: the cores sweep workers share. */
long sweep_usable_cpus(void);

/* The path of the running program (/proc/self/exe), for the worker argv. */
int sweep_self_exe(char *buf, size_t size, struct e2_err *err);

#endif
