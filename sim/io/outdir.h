/* The output folder and crash-safe writing of result files. Everyone who writes a result uses
 * this: a reader (a person, a sweep resumed after a kill, `e2sim merge`) must never find a half
 * file. Whole files are written to "PATH.tmp.PID", flushed, fsync'ed and renamed over PATH
 * (rename is atomic on POSIX file systems), then the folder is fsync'ed; on any failure the
 * temporary file is removed and PATH is left as it was. Line logs (sweep.jsonl) grow by one
 * write(2) of a whole line with O_APPEND, then fsync.
 *
 *   struct out_file f;
 *   if (out_open_tmp("out/run/report.md", &f, err)) return E2_FAILURE;
 *   fprintf(f.fp, "...");
 *   return out_commit(&f, err);      // or out_abort(&f) to drop it
 */
#ifndef E2_OUTDIR_H
#define E2_OUTDIR_H

#include <stddef.h>
#include <stdio.h>
#include "status.h"

#define OUT_PATH_MAX 4096

/* Make the output folder `dir` (and its parents). Without `resume` a folder that exists is an
 * E2_BAD_INPUT error (results are never mixed); with it an existing folder is reused and a
 * missing one is created. The folder is then locked for this process (and the workers it
 * starts) until they exit: a folder another process holds is an E2_BAD_INPUT error, so two
 * runs, sweeps or resumes never write into one folder at once. */
int out_prepare_dir(const char *dir, int resume, struct e2_err *err);

/* What a command continues with --resume: a training run (its checkpoint), a run that is
 * simply done again (energy-only, replay), or a sweep. */
enum out_kind { OUT_KIND_TRAIN, OUT_KIND_RERUN, OUT_KIND_SWEEP };

/* Before a resume writes anything into dir: E2_BAD_INPUT, naming the file, when dir holds the
 * results of another kind (sweep.jsonl or points/ of a sweep, a training run's checkpoint.e2ck,
 * a report.json that no checkpoint of this run continues). Resuming there would replace its
 * config.yaml and reports with those of another run. */
int out_check_resume(const char *dir, enum out_kind kind, struct e2_err *err);

/* Create a fresh folder "out/<name>-YYYYMMDD-HHMMSS" (adding "-2", "-3"... if that exists),
 * locked like out_prepare_dir's, and write its path into buf. Characters of name other than letters, digits and "._-" become '_'. */
int out_create_default_dir(const char *name, char *buf, size_t size, struct e2_err *err);

/* A fresh run refused its input (a missing data set, say) before writing any result: remove
 * dir when it holds nothing but config.yaml, so the same command can run again once the input
 * is fixed. Anything else in dir keeps it (and config.yaml) as it is. */
void out_discard_unstarted(const char *dir);

/* buf = dir + "/" + name; E2_FAILURE if it does not fit. */
int out_join(char *buf, size_t size, const char *dir, const char *name, struct e2_err *err);

/* Write len bytes as the whole new content of path, atomically. */
int out_write_atomic(const char *path, const void *data, size_t len, struct e2_err *err);

/* A result file being written: write to fp, then out_commit() or out_abort(). */
struct out_file {
    FILE *fp;
    char path[OUT_PATH_MAX];   /* final name */
    char tmp[OUT_PATH_MAX];    /* PATH.tmp.PID */
};

/* For a file path the user names (--out FILE, --trace FILE): E2_BAD_INPUT when it exists and is
 * not a regular file (a folder, a device such as /dev/null, a FIFO), which the rename that
 * commits the file would replace, or fail on only at the end. */
int out_check_target(const char *path, struct e2_err *err);

/* For a file the user names that the run writes beside its results (--trace FILE): E2_BAD_INPUT,
 * naming `label` and path, when path is one of the result files the run writes into the folder
 * dir (report.json, config.yaml...). Both would be written through the same PATH.tmp.PID: the
 * trace then ran through the report's file and corrupted it, and its own rename failed. */
int out_check_not_result(const char *dir, const char *path, const char *label,
                         struct e2_err *err);

/* Also removes the "PATH.tmp.PID" files of processes that no longer run (a killed writer's). */
int out_open_tmp(const char *path, struct out_file *f, struct e2_err *err);
/* Flush, fsync, close and rename over the final name. On failure the temp is removed. The
 * out_file is closed either way. */
int out_commit(struct out_file *f, struct e2_err *err);
/* Close and remove the temp; the final file is untouched. Safe on a closed out_file. */
void out_abort(struct out_file *f);

/* Append one line (a '\n' is added if missing) to path with a single O_APPEND write, then
 * fsync. Concurrent appenders (sweep workers) never interleave within a line. After a crash
 * the file may end in a partial line at most: readers must ignore a last line without '\n'. */
int out_append_line_atomic(const char *path, const char *line, struct e2_err *err);

#endif
