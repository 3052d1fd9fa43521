/* sweep.csv, sweep.md and sweep.html of a sweep's rows, and the merge of shards (see
 * sweep_report.h). */
#define _GNU_SOURCE   /* open_memstream */
#include "sweep_report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "html.h"
#include "json.h"
#include "outdir.h"
#include "report.h"

void sweep_pareto(int n, const double *energy, const double *accuracy, int *front)
{
    for (int i = 0; i < n; i++) {
        front[i] = isfinite(energy[i]) && isfinite(accuracy[i]);
        for (int j = 0; j < n && front[i]; j++) {
            if (j == i || !isfinite(energy[j]) || !isfinite(accuracy[j]))
                continue;
            if (energy[j] <= energy[i] && accuracy[j] >= accuracy[i] &&
                (energy[j] < energy[i] || accuracy[j] > accuracy[i]))
                front[i] = 0;
        }
    }
}

static double row_number(const struct sweep_row *r, const char *key)
{
    char path[64];
    snprintf(path, sizeof path, "results.%s", key);
    return json_get_number(r->json, path, NAN);
}

/* The text of a result for tables: its JSON source text, or "" for null/missing. */
static const char *row_text(const struct sweep_row *r, const char *key)
{
    char path[64];
    snprintf(path, sizeof path, "results.%s", key);
    const struct json_value *v = json_get(r->json, path);
    return v && v->type == JSON_NUMBER ? v->text : "";
}

static const struct json_value *row_values(const struct sweep_row *r)
{
    const struct json_value *v = json_get(r->json, "values");
    return v && v->type == JSON_OBJECT ? v : NULL;
}

static const char *value_text(const struct sweep_row *r, const char *key)
{
    const struct json_value *v = row_values(r);
    for (int i = 0; v && i < v->count; i++)
        if (strcmp(v->keys[i], key) == 0 && v->items[i].type == JSON_STRING)
            return v->items[i].text;
    return "";
}

static void write_csv(FILE *f, const struct sweep_row *rows, int n, const int *front)
{
    const struct json_value *keys = n ? row_values(&rows[0]) : NULL;
    fputs("point", f);
    for (int k = 0; keys && k < keys->count; k++) {
        fputc(',', f);
        report_csv_field(f, keys->keys[k]);
    }
    for (int k = 0; k < sweep_result_count; k++)
        fprintf(f, ",%s", sweep_result_keys[k][0]);
    fputs(",pareto\n", f);
    for (int i = 0; i < n; i++) {
        fprintf(f, "%ld", rows[i].point);
        for (int k = 0; keys && k < keys->count; k++) {
            fputc(',', f);
            report_csv_field(f, value_text(&rows[i], keys->keys[k]));
        }
        for (int k = 0; k < sweep_result_count; k++)
            fprintf(f, ",%s", row_text(&rows[i], sweep_result_keys[k][0]));
        fprintf(f, ",%d\n", front[i]);
    }
}

static void md_percent(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, " %.2f %% |", 100 * v);
    else
        fputs(" n/a |", f);
}

static void md_number(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, " %.6g |", v);
    else
        fputs(" n/a |", f);
}

static void write_md(FILE *f, const struct sweep_row *rows, int n, const int *front)
{
    const struct json_value *keys = n ? row_values(&rows[0]) : NULL;
    long total = n ? (long)json_get_number(rows[0].json, "points", 0) : 0;
    fprintf(f, "# e2sim sweep\n\n%d of %ld points finished", n, total);
    if (n && (long)n < total)
        fputs(" (run again with --resume, or merge the other shards, for the rest)", f);
    fputs(". Points marked * are on the Pareto front (no other point has both less energy and "
          "higher test top-1; without accuracies: the least energy).\n\n| point |", f);
    for (int k = 0; keys && k < keys->count; k++)
        fprintf(f, " %s |", keys->keys[k]);
    fputs(" test top-1 | energy (J) | saving vs float32 | FPGA time (s) | pareto |\n|---:|", f);
    for (int k = 0; keys && k < keys->count; k++)
        fputs("---|", f);
    fputs("---:|---:|---:|---:|:---:|\n", f);
    for (int i = 0; i < n; i++) {
        fprintf(f, "| %ld |", rows[i].point);
        for (int k = 0; keys && k < keys->count; k++)
            fprintf(f, " %s |", value_text(&rows[i], keys->keys[k]));
        md_percent(f, row_number(&rows[i], "top1"));
        md_number(f, row_number(&rows[i], "energy_j"));
        md_percent(f, row_number(&rows[i], "savings_vs_fp32"));
        md_number(f, row_number(&rows[i], "fpga_seconds"));
        fprintf(f, " %s |\n", front[i] ? "*" : "");
    }
    fputs("\nAll columns: sweep.csv. Each point's full report: points/NNNN/report.md.\n", f);
}

/* A point's name on the charts: its values ("220, 8"), or "point N" when that is long. */
static void point_label(const struct sweep_row *r, const struct json_value *keys, char *buf,
                        size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int k = 0; keys && k < keys->count && len < size; k++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", k ? ", " : "",
                                value_text(r, keys->keys[k]));
    if (!buf[0] || len > 24)
        snprintf(buf, size, "point %ld", r->point);
}

/* The components' energy of every point, stacked: the union of their component names. */
static void html_components(FILE *f, const struct sweep_row *rows, int n,
                            const char *const *labels)
{
    const char **names = NULL;
    int count = 0;
    for (int i = 0; i < n; i++) {
        const struct json_value *c = json_get(rows[i].json, "by_component");
        for (int k = 0; c && c->type == JSON_OBJECT && k < c->count; k++) {
            int seen = 0;
            for (int j = 0; j < count && !seen; j++)
                seen = strcmp(names[j], c->keys[k]) == 0;
            const char **grown = seen ? names : realloc(names, (size_t)(count + 1) * sizeof *names);
            if (!grown)
                break;
            names = grown;
            if (!seen)
                names[count++] = c->keys[k];
        }
    }
    double *values = count ? calloc((size_t)n * (size_t)count, sizeof *values) : NULL;
    for (int i = 0; values && i < n; i++) {
        const struct json_value *c = json_get(rows[i].json, "by_component");
        for (int k = 0; c && c->type == JSON_OBJECT && k < c->count; k++)
            for (int j = 0; j < count; j++)
                if (strcmp(names[j], c->keys[k]) == 0 && c->items[k].type == JSON_NUMBER)
                    values[i * count + j] = c->items[k].number;
    }
    if (values) {
        struct html_bars c = {"Energy per point, by component", "J", n, labels, count, names,
                              values, 0, 0};
        html_bar_chart(f, &c);
    }
    free(values);
    free(names);
}

static void write_html(FILE *f, const struct sweep_row *rows, int n, const int *front,
                       const double *energy, const double *top1)
{
    html_begin(f, "e2sim sweep");
    const struct json_value *keys = n ? row_values(&rows[0]) : NULL;
    fprintf(f, "<h1>e2sim sweep</h1>\n<p>%d points, named on the charts by their values of ", n);
    for (int k = 0; keys && k < keys->count; k++) {
        fputs(k ? ", " : "", f);
        html_escape(f, keys->keys[k]);
    }
    fputs(" (\"point N\" where that is long; every point's values in its tooltip and the table "
          "below). Red: a Pareto front, the points no other point beats on both axes.</p>\n", f);
    const char **labels = calloc((size_t)n + 1, sizeof *labels);
    const char **tips = calloc((size_t)n + 1, sizeof *tips);
    char (*text)[2][512] = calloc((size_t)n + 1, sizeof *text);
    double *pct = calloc((size_t)n + 1, sizeof *pct);
    double *seconds = calloc((size_t)n + 1, sizeof *seconds);
    double *faster = calloc((size_t)n + 1, sizeof *faster);
    int *time_front = calloc((size_t)n + 1, sizeof *time_front);
    int any_top1 = 0, any_time = 0;
    for (int i = 0; labels && tips && text && pct && seconds && faster && time_front && i < n;
         i++) {
        point_label(&rows[i], keys, text[i][0], sizeof text[i][0]);
        int len = snprintf(text[i][1], sizeof text[i][1], "point %ld", rows[i].point);
        for (int k = 0; keys && k < keys->count && len < (int)sizeof text[i][1]; k++)
            len += snprintf(text[i][1] + len, sizeof text[i][1] - (size_t)len, " %s=%s",
                            keys->keys[k], value_text(&rows[i], keys->keys[k]));
        labels[i] = text[i][0];
        tips[i] = text[i][1];
        pct[i] = 100 * top1[i];
        seconds[i] = row_number(&rows[i], "fpga_seconds");
        faster[i] = -seconds[i];    /* the front maximizes its second argument */
        any_top1 |= isfinite(top1[i]);
        any_time |= isfinite(seconds[i]);
    }
    if (labels && tips && text && pct && seconds && faster && time_front) {
        if (any_top1) {
            struct html_scatter c = {"Test top-1 against energy", "energy", "J", "test top-1",
                                     "%", n, energy, pct, labels, tips, front,
                                     "Pareto front: less energy, higher test top-1"};
            html_scatter_chart(f, &c);
        }
        if (any_time) {
            sweep_pareto(n, energy, faster, time_front);
            struct html_scatter c = {"Energy against FPGA time", "FPGA time", "s", "energy", "J",
                                     n, seconds, energy, labels, tips, time_front,
                                     "Pareto front: less energy, less FPGA time"};
            html_scatter_chart(f, &c);
        }
        html_components(f, rows, n, labels);
    }
    fputs("<table>\n<tr><th>point</th>", f);
    for (int k = 0; keys && k < keys->count; k++) {
        fputs("<th>", f);
        html_escape(f, keys->keys[k]);
        fputs("</th>", f);
    }
    fprintf(f, "<th>test top-1</th><th>energy</th><th>saving vs float32</th><th>FPGA time</th>"
               "<th>%s</th></tr>\n", any_top1 ? "Pareto (energy, top-1)" : "least energy");
    for (int i = 0; i < n; i++) {
        fprintf(f, "<tr><td>%ld</td>", rows[i].point);
        for (int k = 0; keys && k < keys->count; k++) {
            fputs("<td>", f);
            html_escape(f, value_text(&rows[i], keys->keys[k]));
            fputs("</td>", f);
        }
        double saving = row_number(&rows[i], "savings_vs_fp32");
        char e[48], t[48];
        html_format_unit(e, sizeof e, energy[i], "J");
        html_format_unit(t, sizeof t, row_number(&rows[i], "fpga_seconds"), "s");
        if (isfinite(top1[i]))
            fprintf(f, "<td>%.2f %%</td>", 100 * top1[i]);
        else
            fputs("<td>n/a</td>", f);
        fprintf(f, "<td>%s</td>", isfinite(energy[i]) ? e : "n/a");
        if (isfinite(saving))
            fprintf(f, "<td>%.2f %%</td>", 100 * saving);
        else
            fputs("<td>n/a</td>", f);
        fprintf(f, "<td>%s</td><td>%s</td></tr>\n", isfinite(row_number(&rows[i], "fpga_seconds"))
                ? t : "n/a", front[i] ? "*" : "");
    }
    fputs("</table>\n", f);
    html_end(f);
    free(labels);
    free(tips);
    free(text);
    free(pct);
    free(seconds);
    free(faster);
    free(time_front);
}

typedef void (*summary_fn)(FILE *, const struct sweep_row *, int, const int *, const double *,
                           const double *);

static void csv_adapter(FILE *f, const struct sweep_row *r, int n, const int *front,
                        const double *e, const double *a)
{
    (void)e;
    (void)a;
    write_csv(f, r, n, front);
}

static void md_adapter(FILE *f, const struct sweep_row *r, int n, const int *front,
                       const double *e, const double *a)
{
    (void)e;
    (void)a;
    write_md(f, r, n, front);
}

int sweep_write_summary(const char *dir, const struct sweep_row *rows, int count,
                        struct e2_err *err)
{
    double *energy = malloc(((size_t)count + 1) * sizeof *energy);
    double *top1 = malloc(((size_t)count + 1) * sizeof *top1);
    int *front = malloc(((size_t)count + 1) * sizeof *front);
    int rc = E2_OK;
    if (!energy || !top1 || !front)
        rc = e2_fail(err, E2_FAILURE, "%s: out of memory", dir);
    for (int i = 0; rc == E2_OK && i < count; i++) {
        energy[i] = row_number(&rows[i], "energy_j");
        top1[i] = row_number(&rows[i], "top1");
    }
    if (rc == E2_OK) {
        /* without any accuracy (energy-only, replays of untrained traces) the front is the
           least energy */
        int any = 0;
        for (int i = 0; i < count; i++)
            any |= isfinite(top1[i]);
        double *acc = top1;
        double *zero = any ? NULL : calloc((size_t)count + 1, sizeof *zero);
        if (zero)
            acc = zero;
        sweep_pareto(count, energy, acc, front);
        free(zero);
    }
    static const struct { const char *name; summary_fn fn; } files[] = {
        {"sweep.csv", csv_adapter}, {"sweep.md", md_adapter}, {"sweep.html", write_html}};
    for (size_t k = 0; rc == E2_OK && k < sizeof files / sizeof files[0]; k++) {
        char path[OUT_PATH_MAX];
        struct out_file f;
        rc = out_join(path, sizeof path, dir, files[k].name, err);
        if (rc == E2_OK)
            rc = out_open_tmp(path, &f, err);
        if (rc == E2_OK) {
            files[k].fn(f.fp, rows, count, front, energy, top1);
            rc = out_commit(&f, err);
        }
    }
    free(energy);
    free(top1);
    free(front);
    return rc;
}

/* The merge proper. out_dir NULL: the default folder out/merge-<stamp> is made once the inputs
 * are read and checked (a failed merge leaves none behind), its path written to made. */
static int merge_into(const char *const *dirs, int ndirs, const char *out_dir, int create,
                      char *made, size_t made_size, struct e2_err *err)
{
    struct sweep_row *all = NULL;
    int count = 0, rc = E2_OK;
    if (ndirs < 1)
        return e2_fail(err, E2_BAD_INPUT, "merge: name at least one sweep folder");
    for (int d = 0; d < ndirs && rc == E2_OK; d++) {
        struct sweep_row *rows;
        int n;
        char path[OUT_PATH_MAX];
        rc = out_join(path, sizeof path, dirs[d], "sweep.jsonl", err);
        if (rc == E2_OK && access(path, R_OK) != 0)
            rc = e2_fail(err, E2_BAD_INPUT, "merge: %s: %s", path, strerror(errno));
        if (rc == E2_OK)
            rc = sweep_read_rows(dirs[d], &rows, &n, err);
        if (rc != E2_OK)
            break;
        struct sweep_row *grown = realloc(all, ((size_t)count + (size_t)n + 1) * sizeof *all);
        if (!grown) {
            sweep_free_rows(rows, n);
            rc = e2_fail(err, E2_FAILURE, "out of memory");
            break;
        }
        all = grown;
        memcpy(all + count, rows, (size_t)n * sizeof *rows);
        count += n;
        free(rows);
    }
    if (rc == E2_OK)
        rc = sweep_dedup_rows(all, &count, "merge", err);
    if (rc == E2_OK && !out_dir) {
        rc = out_create_default_dir("merge", made, made_size, err);
        out_dir = made;
    } else if (rc == E2_OK && create) {
        rc = out_prepare_dir(out_dir, 0, err);
    }
    char *text = NULL;
    size_t len = 0;
    if (rc == E2_OK) {
        FILE *f = open_memstream(&text, &len);
        if (!f)
            rc = e2_fail(err, E2_FAILURE, "out of memory");
        for (int i = 0; f && i < count; i++)
            fprintf(f, "%s\n", all[i].text);
        if (f)
            fclose(f);
    }
    char path[OUT_PATH_MAX];
    if (rc == E2_OK)
        rc = out_join(path, sizeof path, out_dir, "sweep.jsonl", err);
    if (rc == E2_OK)
        rc = out_write_atomic(path, text ? text : "", len, err);
    if (rc == E2_OK)
        rc = sweep_write_summary(out_dir, all, count, err);
    free(text);
    sweep_free_rows(all, count);
    return rc;
}

int sweep_merge(const char *const *dirs, int ndirs, const char *out_dir, int create,
                struct e2_err *err)
{
    return merge_into(dirs, ndirs, out_dir, create, NULL, 0, err);
}

int sweep_merge_default(const char *const *dirs, int ndirs, char *made, size_t made_size,
                        struct e2_err *err)
{
    return merge_into(dirs, ndirs, NULL, 0, made, made_size, err);
}
