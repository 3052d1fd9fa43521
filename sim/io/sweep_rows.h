/* sweep.jsonl, the record of a sweep: one line per finished point (docs/outputs.md). Read here
 * for a resume, a merge and the summary files; the line itself is written by sim/run/sweep.c. */
#ifndef E2_SWEEP_ROWS_H
#define E2_SWEEP_ROWS_H

#include "status.h"

struct json_value;

/* Results copied from each point's report.json into its line: {column, report path}. */
extern const char *const sweep_result_keys[][2];
extern const int sweep_result_count;

/* One line of sweep.jsonl. */
struct sweep_row {
    long point;
    struct json_value *json;        /* the parsed line */
    char *text;                     /* canonical compact text of the line (json_to_text) */
};

/* Read DIR/sweep.jsonl (missing file: 0 rows). A last line without '\n' (a crash during the
 * append) is ignored; any other unreadable line, one without "point" and "points", one whose
 * point is not below its "points", or a NUL byte anywhere, is E2_BAD_INPUT with its line
 * number. */
int sweep_read_rows(const char *dir, struct sweep_row **rows, int *count, struct e2_err *err);
void sweep_free_rows(struct sweep_row *rows, int count);

/* Drop a partial last line of DIR/sweep.jsonl left by a crash, so the next append starts a
 * fresh line. A file with a NUL byte is E2_BAD_INPUT and left as it is. */
int sweep_repair_rows(const char *dir, struct e2_err *err);

/* Sort rows by point index; two rows of one point are an error (E2_BAD_INPUT) if they differ
 * and merged into one if identical. `what` names the source for messages. */
int sweep_dedup_rows(struct sweep_row *rows, int *count, const char *what, struct e2_err *err);

#endif
