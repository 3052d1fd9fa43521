/* A sweep's summary files, sweep.csv, sweep.md and sweep.html, written from the rows of its
 * sweep.jsonl; and `e2sim merge`, which joins the sweep.jsonl of shards. docs/outputs.md. */
#ifndef E2_SWEEP_REPORT_H
#define E2_SWEEP_REPORT_H

#include "status.h"
#include "sweep_rows.h"

/* Write sweep.csv, sweep.md and sweep.html of rows (sorted by point) into dir. */
int sweep_write_summary(const char *dir, const struct sweep_row *rows, int count,
                        struct e2_err *err);

/* Pareto front over (energy, accuracy): front[i] = 1 when no other point has energy <= and
 * accuracy >= with one of them strictly better. Points with a NaN are never on it. */
void sweep_pareto(int n, const double *energy, const double *accuracy, int *front);

/* Join the sweep.jsonl of shards (dedup by point, error on a conflict or on rows of different
 * sweeps) into out_dir with the same summary files. With `create`, out_dir is made here and
 * must not exist (checked after the inputs are read). */
int sweep_merge(const char *const *dirs, int ndirs, const char *out_dir, int create,
                struct e2_err *err);
/* The same into a new default folder out/merge-<stamp>, made only once the inputs are read and
 * checked; its path goes to made. */
int sweep_merge_default(const char *const *dirs, int ndirs, char *made, size_t made_size,
                        struct e2_err *err);

#endif
