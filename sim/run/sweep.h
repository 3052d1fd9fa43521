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
 * docs/outputs.md documents every file. */
#ifndef E2_SWEEP_H
#define E2_SWEEP_H

#include <stddef.h>
#include "status.h"

struct e2_config;
struct e2_options;
struct progress;
struct json_value;

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
 * run cannot be removed (the reason in its log); the sweep returns E2_FAILURE naming the first
 * one's log, after finishing every other point. Workers are killed when the sweep process
 * dies. `progress` (may be NULL) receives a line per finished point. */
int sweep_run(const struct e2_config *cfg, const struct sweep_options *o, struct progress *progress,
              struct e2_err *err);

/* The sweep command (cmd_sweep, and replay's hardware sweeps): workers are this program run
 * as `e2sim LEAD... --config FILE --set ... --quiet [--threads N]` (LEAD: e.g. "replay" TRACE,
 * nlead may be 0); the folder is --out DIR (or out/<name>-<timestamp>), locked for the sweep
 * (out_prepare_dir); progress on stderr, a summary line on stdout. */
int sweep_command(const struct e2_options *opts, const struct e2_config *cfg,
                  const char *const *lead, int nlead, struct e2_err *err);

/* The CPUs this process may run on (its affinity mask, e.g. under taskset or a batch system's
 * cgroup), not the ones online: the cores sweep workers share. */
long sweep_usable_cpus(void);

/* The path of the running program (/proc/self/exe), for the worker argv. */
int sweep_self_exe(char *buf, size_t size, struct e2_err *err);

/* One line of sweep.jsonl. */
struct sweep_row {
    long point;
    struct json_value *json;        /* the parsed line */
    char *text;                     /* canonical compact text of the line (json_to_text) */
};

/* Read DIR/sweep.jsonl (missing file: 0 rows). A last line without '\n' (a crash during the
 * append) is ignored; any other unreadable line is E2_BAD_INPUT with its line number. */
int sweep_read_rows(const char *dir, struct sweep_row **rows, int *count, struct e2_err *err);
void sweep_free_rows(struct sweep_row *rows, int count);

/* Sort rows by point index; two rows of one point are an error (E2_BAD_INPUT) if they differ
 * and merged into one if identical. `what` names the source for messages. */
int sweep_dedup_rows(struct sweep_row *rows, int *count, const char *what, struct e2_err *err);

/* Write sweep.csv, sweep.md and sweep.html of rows (sorted by point) into dir. */
int sweep_write_summary(const char *dir, const struct sweep_row *rows, int count,
                        struct e2_err *err);

/* Pareto front over (energy, accuracy): front[i] = 1 when no other point has energy <= and
 * accuracy >= with one of them strictly better. Points with a NaN are never on it. */
void sweep_pareto(int n, const double *energy, const double *accuracy, int *front);

/* `e2sim merge DIR... --out NEW`: join the sweep.jsonl of shards (dedup by point, error on a
 * conflict or on rows of different sweeps) into NEW with the same summary files. With
 * `create`, NEW is made here and must not exist (checked after the inputs are read). */
int sweep_merge(const char *const *dirs, int ndirs, const char *out_dir, int create,
                struct e2_err *err);

#endif
