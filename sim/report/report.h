/* The report files of a run (docs/outputs.md), one writer per file, each written atomically:
 *   report.json  (schema "e2sim.report/1")   report.md    breakdown.csv
 *   layers.csv   curve.csv                   report.html  (inline SVG, opens offline)
 *   psg_layers.csv (PSG runs)                timeline.json.gz, timeline.vcd (report.timeline)
 * Files are written from here only: the run, the energy-only mode and a replay build a
 * struct run_result (run_result.h) and call report_write. */
#ifndef E2_REPORT_H
#define E2_REPORT_H

#include <stddef.h>
#include <stdio.h>
#include "run_result.h"
#include "status.h"

/* "12.345678901234567": fJ as an exact decimal number of joules (buf >= 48). */
void report_format_joules(char *buf, int size, e2_fj fj);
/* A CSV field: quoted (quotes doubled) when it holds a comma, quote or newline. */
void report_csv_field(FILE *f, const char *s);
/* "12.35 J", "845.2 mJ", "2.195 MJ": four significant digits in a readable unit (consoles and
 * report.md; files that other programs read carry the exact forms below). */
void report_format_human(char *buf, size_t size, e2_fj fj);
/* "12345678901234567": fJ as an exact decimal integer (buf >= 48). */
void report_format_fj(char *buf, int size, e2_fj fj);
/* Parse report_format_fj / report_format_joules text back (tests, sweep); 0 on bad text. */
e2_fj report_parse_fj(const char *text);
e2_fj report_parse_joules(const char *text);

/* Write the report files into outdir (which must exist), each atomically: the six above and,
 * for a PSG run, psg_layers.csv. */
int report_write(const char *outdir, const struct run_result *r, struct e2_err *err);
/* The same, one file each, to a stream (used by report_write and tests). */
int report_write_json(FILE *f, const struct run_result *r);
int report_write_md(FILE *f, const struct run_result *r);
int report_write_breakdown_csv(FILE *f, const struct run_result *r);
int report_write_layers_csv(FILE *f, const struct run_result *r);
int report_write_curve_csv(FILE *f, const struct run_result *r);
int report_write_psg_layers_csv(FILE *f, const struct run_result *r);
int report_write_html(FILE *f, const struct run_result *r);

/* report.timeline: one iteration's records (labels[i] names record i: "b1.u0.conv fwd")
 * simulated one after another on m, into outdir/timeline.json.gz and outdir/timeline.vcd. */
struct hw_model;
struct oprec;
int report_write_timeline(const char *outdir, struct hw_model *m, const struct oprec *records,
                          size_t n, const char *const *labels, struct e2_err *err);

#endif
