/* Sweeps: worker processes, sweep.jsonl, resume, shards, merge and the summary files.
 * See sweep.h and docs/outputs.md. */
#define _GNU_SOURCE   /* sched_getaffinity, CPU_COUNT */
#include "sweep.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "config.h"
#include "html.h"
#include "json.h"
#include "outdir.h"
#include "progress.h"
#include "report.h"

#define SWEEP_SCHEMA "e2sim.sweep/1"

/* Results copied from each point's report.json into its sweep.jsonl line: (column, path). */
static const char *const result_keys[][2] = {
    {"top1", "accuracy.top1"},
    {"top5", "accuracy.top5"},
    {"energy_j", "energy.total_j"},
    {"energy_fj", "energy.total_fj"},
    {"baseline_fp32_j", "energy.baseline_fp32_j"},
    {"savings_vs_fp32", "energy.savings_vs_fp32"},
    {"fpga_seconds", "fpga.seconds"},
    {"slu_skip_ratio", "training.slu_skip_ratio"},
    {"psg_predictor_ratio", "training.psg_predictor_ratio"},
};
#define RESULT_KEYS (int)(sizeof result_keys / sizeof result_keys[0])

int sweep_self_exe(char *buf, size_t size, struct e2_err *err)
{
    ssize_t n = readlink("/proc/self/exe", buf, size - 1);
    if (n < 0 || (size_t)n >= size - 1)
        return e2_fail(err, E2_FAILURE, "cannot find the e2sim program (/proc/self/exe): %s",
                       n < 0 ? strerror(errno) : "path too long");
    buf[n] = '\0';
    return E2_OK;
}

/* ---- sweep.jsonl ------------------------------------------------------------------------ */

void sweep_free_rows(struct sweep_row *rows, int count)
{
    for (int i = 0; i < count; i++) {
        json_free(rows[i].json);
        free(rows[i].text);
    }
    free(rows);
}

static char *read_text(const char *path, size_t *len, int *missing)
{
    *missing = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        *missing = errno == ENOENT;
        return NULL;
    }
    char *buf = NULL;
    size_t cap = 0;
    *len = 0;
    for (;;) {
        if (*len + 4096 > cap) {
            cap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread(buf + *len, 1, cap - *len, f);
        *len += got;
        if (got == 0)
            break;
    }
    fclose(f);
    buf[*len] = '\0';
    return buf;
}

static int add_row(struct sweep_row **rows, int *count, int *cap, struct json_value *v)
{
    if (*count == *cap) {
        int nc = *cap ? *cap * 2 : 64;
        struct sweep_row *r = realloc(*rows, (size_t)nc * sizeof *r);
        if (!r)
            return E2_FAILURE;
        *rows = r;
        *cap = nc;
    }
    struct sweep_row *r = &(*rows)[(*count)++];
    r->json = v;
    r->point = (long)json_get_number(v, "point", -1);
    r->text = json_to_text(v);
    return r->text ? E2_OK : E2_FAILURE;
}

int sweep_read_rows(const char *dir, struct sweep_row **rows, int *count, struct e2_err *err)
{
    char path[OUT_PATH_MAX];
    *rows = NULL;
    *count = 0;
    if (out_join(path, sizeof path, dir, "sweep.jsonl", err))
        return E2_FAILURE;
    size_t len;
    int missing, cap = 0;
    char *text = read_text(path, &len, &missing);
    if (!text)
        return missing ? E2_OK : e2_fail(err, E2_BAD_INPUT, "%s: cannot read: %s", path,
                                         strerror(errno));
    int line = 0, rc = E2_OK;
    for (char *p = text; *p && rc == E2_OK;) {
        char *nl = strchr(p, '\n');
        line++;
        if (!nl)
            break;   /* a partial last line: the append was interrupted */
        struct json_value *v;
        char name[OUT_PATH_MAX + 32];
        snprintf(name, sizeof name, "%s:%d", path, line);
        if (nl > p) {
            rc = json_parse(p, (size_t)(nl - p), path, &v, err);
            if (rc && err) {   /* "path:1:COL: what" -> "path:LINE:COL: what" */
                char msg[sizeof err->msg];
                size_t n = strlen(path);
                snprintf(msg, sizeof msg, "%.600s:%d%.400s", path, line,
                         strncmp(err->msg, path, n) == 0 && strncmp(err->msg + n, ":1:", 3) == 0
                             ? err->msg + n + 2 : err->msg);
                memcpy(err->msg, msg, sizeof msg);
            }
            if (rc == E2_OK && (v->type != JSON_OBJECT || json_get_number(v, "point", -1) < 0)) {
                json_free(v);
                rc = e2_fail(err, E2_BAD_INPUT, "%s: not a sweep point line", name);
            } else if (rc == E2_OK && add_row(rows, count, &cap, v)) {
                rc = e2_fail(err, E2_FAILURE, "%s: out of memory", path);
            }
        }
        p = nl + 1;
    }
    free(text);
    if (rc) {
        sweep_free_rows(*rows, *count);
        *rows = NULL;
        *count = 0;
    }
    return rc;
}

/* Drop a partial last line left by a crash, so the next append starts a fresh line. */
static int repair_jsonl(const char *dir, struct e2_err *err)
{
    char path[OUT_PATH_MAX];
    if (out_join(path, sizeof path, dir, "sweep.jsonl", err))
        return E2_FAILURE;
    size_t len;
    int missing;
    char *text = read_text(path, &len, &missing);
    if (!text)
        return missing ? E2_OK : e2_fail(err, E2_FAILURE, "%s: cannot read", path);
    int rc = E2_OK;
    if (len > 0 && text[len - 1] != '\n') {
        char *nl = strrchr(text, '\n');
        size_t keep = nl ? (size_t)(nl - text) + 1 : 0;
        rc = out_write_atomic(path, text, keep, err);
    }
    free(text);
    return rc;
}

static int compare_rows(const void *a, const void *b)
{
    const struct sweep_row *x = a, *y = b;
    return (x->point > y->point) - (x->point < y->point);
}

/* Two lines of one point agree when all but their provenance (who ran it, where and when)
 * is the same. */
static int same_point(const struct sweep_row *a, const struct sweep_row *b)
{
    static const char *const keys[] = {"schema", "points", "sweep", "values", "results",
                                       "by_component"};
    int same = 1;
    for (int k = 0; k < 6 && same; k++) {
        const struct json_value *x = json_get(a->json, keys[k]), *y = json_get(b->json, keys[k]);
        char *tx = x ? json_to_text(x) : NULL, *ty = y ? json_to_text(y) : NULL;
        same = (!x && !y) || (tx && ty && strcmp(tx, ty) == 0);
        free(tx);
        free(ty);
    }
    return same;
}

int sweep_dedup_rows(struct sweep_row *rows, int *count, const char *what, struct e2_err *err)
{
    qsort(rows, (size_t)*count, sizeof *rows, compare_rows);
    int out = 0;
    for (int i = 0; i < *count; i++) {
        if (out > 0 && rows[out - 1].point == rows[i].point) {
            if (!same_point(&rows[out - 1], &rows[i]))
                return e2_fail(err, E2_BAD_INPUT, "%s: point %ld appears twice with different "
                               "values or results", what, rows[i].point);
            json_free(rows[i].json);
            free(rows[i].text);
            continue;
        }
        rows[out++] = rows[i];
    }
    *count = out;
    /* rows of one sweep only */
    for (int i = 1; i < out; i++) {
        const char *a = json_get_string(rows[0].json, "sweep");
        const char *b = json_get_string(rows[i].json, "sweep");
        if (!a || !b || strcmp(a, b) != 0)
            return e2_fail(err, E2_BAD_INPUT, "%s: points %ld and %ld come from different sweeps "
                           "(config hash %s vs %s)", what, rows[0].point, rows[i].point,
                           a ? a : "?", b ? b : "?");
    }
    return E2_OK;
}

/* ---- the summary: sweep.csv, sweep.md, sweep.html --------------------------------------- */

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
    for (int k = 0; k < RESULT_KEYS; k++)
        fprintf(f, ",%s", result_keys[k][0]);
    fputs(",pareto\n", f);
    for (int i = 0; i < n; i++) {
        fprintf(f, "%ld", rows[i].point);
        for (int k = 0; keys && k < keys->count; k++) {
            fputc(',', f);
            report_csv_field(f, value_text(&rows[i], keys->keys[k]));
        }
        for (int k = 0; k < RESULT_KEYS; k++)
            fprintf(f, ",%s", row_text(&rows[i], result_keys[k][0]));
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

/* ---- running points ---------------------------------------------------------------------- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Remove what an interrupted worker left of a point (its folder), so it can run again.
 * Returns 0, or an errno value. */
static int clear_point_dir(const char *dir)
{
    struct stat st;
    if (lstat(dir, &st) != 0)
        return 0;
    if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return errno ? errno : EIO;
    return 0;
}

struct job {
    pid_t pid;
    long point;
};

struct sweep_state {
    const struct e2_config *cfg;
    const struct sweep_options *o;
    struct progress *progress;
    char hash[32];
    long points;
    char points_dir[OUT_PATH_MAX];
    char jsonl[OUT_PATH_MAX];
    int failed;
    long first_failed;
    long done;
};

static void point_paths(const struct sweep_state *s, long point, char *dir, size_t dsize,
                        char *log, size_t lsize)
{
    snprintf(dir, dsize, "%s/%04ld", s->points_dir, point);
    snprintf(log, lsize, "%s/%04ld.log", s->points_dir, point);
}

static pid_t start_worker(const struct sweep_state *s, long point, struct e2_err *err)
{
    char dir[OUT_PATH_MAX + 32], log[OUT_PATH_MAX + 32], index[32], trace[OUT_PATH_MAX + 32];
    point_paths(s, point, dir, sizeof dir, log, sizeof log);
    snprintf(trace, sizeof trace, "%s/%04ld.e2t", s->points_dir, point);
    snprintf(index, sizeof index, "%ld", point);
    int n = 0;
    while (s->o->worker[n])
        n++;
    const char **argv = calloc((size_t)n + 7, sizeof *argv);
    if (!argv) {
        e2_fail(err, E2_FAILURE, "out of memory");
        return -1;
    }
    memcpy(argv, s->o->worker, (size_t)n * sizeof *argv);
    argv[n++] = "--point";
    argv[n++] = index;
    argv[n++] = "--out";
    argv[n++] = dir;
    if (s->cfg->report.trace[0]) {   /* each point its own trace, not one shared file */
        argv[n++] = "--trace";
        argv[n++] = trace;
    }
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* a worker dies with the sweep: a killed sweep leaves no worker writing results that a
           resume would race (the parent may already be gone before prctl: then stop) */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(127);
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) {
            dup2(devnull, STDIN_FILENO);
            close(devnull);
        }
        execv(argv[0], (char *const *)argv);
        dprintf(STDERR_FILENO, "cannot run worker '%s': %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int saved = errno;
    free(argv);
    if (pid < 0)
        e2_fail(err, E2_FAILURE, "cannot start a sweep worker: %s", strerror(saved));
    return pid;
}

/* Copied from the point's report.json into its line: each component's energy (the stacked
 * bars of sweep.html), and which e2sim made the point, where and when (the report's run
 * keys; null where the report has none). */
static void copy_report_parts(struct json_writer *w, const struct json_value *report)
{
    const struct json_value *parts = json_get(report, "energy.by_component");
    char *text = parts && parts->type == JSON_OBJECT ? json_to_text(parts) : NULL;
    json_key(w, "by_component");
    if (text)
        json_raw(w, text);
    else
        json_null(w);
    free(text);
    static const char *const provenance[] = {"e2sim_version", "git_commit", "host", "started"};
    json_key(w, "provenance");
    json_object_begin(w);
    for (int k = 0; k < 4; k++) {
        char path[32];
        snprintf(path, sizeof path, "run.%s", provenance[k]);
        const char *v = json_get_string(report, path);
        json_key(w, provenance[k]);
        if (v)
            json_string(w, v);
        else
            json_null(w);
    }
    json_object_end(w);
}

/* The point's line: {"schema", "point", "points", "sweep", "values": {...}, "results": {...},
 * "by_component": {...}, "provenance": {...}}. */
static int point_line(const struct sweep_state *s, long point, const struct json_value *report,
                      char **line, struct e2_err *err)
{
    struct e2_config *pc = malloc(sizeof *pc);
    if (!pc)
        return e2_fail(err, E2_FAILURE, "out of memory");
    int rc = cfg_sweep_point(s->cfg, point, pc, err);
    if (rc) {
        free(pc);
        return rc;
    }
    size_t len;
    FILE *f = open_memstream(line, &len);
    if (!f) {
        free(pc);
        return e2_fail(err, E2_FAILURE, "out of memory");
    }
    struct json_writer w;
    json_init(&w, f, 0);
    json_object_begin(&w);
    json_key(&w, "schema");
    json_string(&w, SWEEP_SCHEMA);
    json_key(&w, "point");
    json_int(&w, point);
    json_key(&w, "points");
    json_int(&w, s->points);
    json_key(&w, "sweep");
    json_string(&w, s->hash);
    json_key(&w, "values");
    json_object_begin(&w);
    for (int k = 0; k < s->cfg->sweep.keys.n; k++) {
        const struct cfg_field *field = cfg_find_field(s->cfg->sweep.keys.v[k]);
        char value[CFG_TEXT];
        if (!field || cfg_format_value(pc, field, value, sizeof value) < 0)
            snprintf(value, sizeof value, "?");
        json_key(&w, s->cfg->sweep.keys.v[k]);
        json_string(&w, value);
    }
    json_object_end(&w);
    json_key(&w, "results");
    json_object_begin(&w);
    for (int k = 0; k < RESULT_KEYS; k++) {
        const struct json_value *v = json_get(report, result_keys[k][1]);
        json_key(&w, result_keys[k][0]);
        if (v && v->type == JSON_NUMBER)
            json_raw(&w, v->text);   /* the report's own text: exact, stable when copied */
        else
            json_null(&w);
    }
    json_object_end(&w);
    copy_report_parts(&w, report);
    json_object_end(&w);
    fclose(f);
    free(pc);
    return E2_OK;
}

/* Count a point that did not finish (a later --resume runs it again) and say why. */
static void point_failed(struct sweep_state *s, long point, const char *why)
{
    if (!s->failed)
        s->first_failed = point;
    s->failed++;
    if (s->progress)
        progress_note(s->progress, why);
}

/* A point whose old folder cannot be removed is not run: a failed point, the reason in its log. */
static int point_folder_cleared(struct sweep_state *s, long point)
{
    char dir[OUT_PATH_MAX + 32], log[OUT_PATH_MAX + 32], why[2 * OUT_PATH_MAX + 256];
    point_paths(s, point, dir, sizeof dir, log, sizeof log);
    int error = clear_point_dir(dir);
    if (!error)
        return 1;
    snprintf(why, sizeof why, "point %ld not run: cannot remove its unfinished folder '%s': %s",
             point, dir, strerror(error));
    FILE *f = fopen(log, "w");
    if (f) {
        fprintf(f, "%s\n", why);
        fclose(f);
    }
    point_failed(s, point, why);
    return 0;
}

static int finish_point(struct sweep_state *s, long point, int status, struct e2_err *err)
{
    char dir[OUT_PATH_MAX + 32], log[OUT_PATH_MAX + 32], path[OUT_PATH_MAX + 48];
    point_paths(s, point, dir, sizeof dir, log, sizeof log);
    struct json_value *report = NULL;
    int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (ok) {
        struct e2_err ignored;
        snprintf(path, sizeof path, "%s/report.json", dir);
        ok = json_parse_file(path, &report, &ignored) == E2_OK;
    }
    if (!ok) {
        char msg[OUT_PATH_MAX + 128];
        snprintf(msg, sizeof msg, "point %ld failed (%s %d): see %s", point,
                 WIFEXITED(status) ? "exit status" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), log);
        point_failed(s, point, msg);
        return E2_OK;
    }
    char *line = NULL;
    int rc = point_line(s, point, report, &line, err);
    if (rc == E2_OK)
        rc = out_append_line_atomic(s->jsonl, line, err);
    if (rc == E2_OK && s->progress) {
        char msg[256];
        double top1 = json_get_number(report, "accuracy.top1", NAN);
        int n = snprintf(msg, sizeof msg, "point %ld done: %.6g J", point,
                         json_get_number(report, "energy.total_j", NAN));
        if (isfinite(top1))
            snprintf(msg + n, sizeof msg - (size_t)n, ", test top-1 %.2f %%", 100 * top1);
        progress_note(s->progress, msg);
    }
    s->done++;
    if (s->progress)
        progress_update(s->progress, (uint64_t)s->done, NAN, NAN, NAN);
    free(line);
    json_free(report);
    return rc;
}

/* Points already in sweep.jsonl (resume), checking they come from this very sweep. */
static int load_done(struct sweep_state *s, char *done, struct e2_err *err)
{
    struct sweep_row *rows;
    int count;
    if (repair_jsonl(s->o->out_dir, err))
        return E2_FAILURE;
    int rc = sweep_read_rows(s->o->out_dir, &rows, &count, err);
    if (rc)
        return rc;
    for (int i = 0; i < count && rc == E2_OK; i++) {
        const char *h = json_get_string(rows[i].json, "sweep");
        if (!h || strcmp(h, s->hash) != 0)
            rc = e2_fail(err, E2_BAD_INPUT, "%s: point %ld was made by a different sweep "
                         "(config hash %s, this one is %s); use a new --out folder",
                         s->jsonl, rows[i].point, h ? h : "?", s->hash);
        else if (rows[i].point >= s->points)
            rc = e2_fail(err, E2_BAD_INPUT, "%s: point %ld is beyond this sweep's %ld points",
                         s->jsonl, rows[i].point, s->points);
        else
            done[rows[i].point] = 1;
    }
    sweep_free_rows(rows, count);
    return rc;
}

static int write_summary_of(const char *dir, struct e2_err *err)
{
    struct sweep_row *rows;
    int count;
    int rc = sweep_read_rows(dir, &rows, &count, err);
    if (rc == E2_OK)
        rc = sweep_dedup_rows(rows, &count, dir, err);
    if (rc == E2_OK)
        rc = sweep_write_summary(dir, rows, count, err);
    sweep_free_rows(rows, count);
    return rc;
}

int sweep_run(const struct e2_config *cfg, const struct sweep_options *o, struct progress *progress,
              struct e2_err *err)
{
    struct sweep_state s;
    memset(&s, 0, sizeof s);
    s.cfg = cfg;
    s.o = o;
    s.progress = progress;
    s.points = cfg_sweep_points(cfg);
    snprintf(s.hash, sizeof s.hash, "%016" PRIx64, cfg_hash(cfg));
    int shards = o->shard_count > 0 ? o->shard_count : 1;
    int shard = o->shard_index > 0 ? o->shard_index : 1;
    if (!cfg->has_sweep || s.points < 1)
        return e2_fail(err, E2_BAD_INPUT, "the config has no sweep points");
    if (shard > shards)
        return e2_fail(err, E2_BAD_INPUT, "--shard %d/%d: K must be between 1 and N", shard,
                       shards);
    if (out_join(s.jsonl, sizeof s.jsonl, o->out_dir, "sweep.jsonl", err) ||
        out_join(s.points_dir, sizeof s.points_dir, o->out_dir, "points", err))
        return E2_FAILURE;
    if (mkdir(s.points_dir, 0755) != 0 && errno != EEXIST)
        return e2_fail(err, E2_FAILURE, "cannot create '%s': %s", s.points_dir, strerror(errno));
    char *done = calloc((size_t)s.points, 1);
    struct job *jobs = calloc((size_t)(o->jobs > 0 ? o->jobs : 1), sizeof *jobs);
    if (!done || !jobs) {
        free(done);
        free(jobs);
        return e2_fail(err, E2_FAILURE, "out of memory");
    }
    int rc = o->resume ? load_done(&s, done, err) : E2_OK;
    if (rc == E2_OK)   /* only now: a refused resume leaves the folder's config as it was */
        rc = cfg_write_resolved(o->out_dir, cfg, err);
    long todo = 0;
    for (long p = 0; p < s.points; p++)
        todo += !done[p] && p % shards == shard - 1;
    if (progress)
        progress->total = (uint64_t)todo;
    int njobs = o->jobs > 0 ? o->jobs : 1, running = 0;
    long next = 0;
    /* After an error no new point starts, but the running ones are still collected (their
       results are kept); the first error is the one returned. */
    while (next < s.points || running > 0) {
        /* fill free slots, in point order */
        while (rc == E2_OK && running < njobs && next < s.points) {
            long p = next++;
            if (done[p] || p % shards != shard - 1 || !point_folder_cleared(&s, p))
                continue;
            pid_t pid = start_worker(&s, p, err);
            if (pid < 0) {
                rc = E2_FAILURE;
                break;
            }
            for (int j = 0; j < njobs; j++) {
                if (jobs[j].pid == 0) {
                    jobs[j].pid = pid;
                    jobs[j].point = p;
                    break;
                }
            }
            running++;
        }
        if (running == 0)
            break;
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            if (rc == E2_OK)
                rc = e2_fail(err, E2_FAILURE, "waiting for sweep workers: %s", strerror(errno));
            break;
        }
        for (int j = 0; j < njobs; j++) {
            if (jobs[j].pid == pid) {
                struct e2_err later;
                jobs[j].pid = 0;
                running--;
                int point_rc = finish_point(&s, jobs[j].point, status, rc ? &later : err);
                if (rc == E2_OK)
                    rc = point_rc;
                break;
            }
        }
    }
    for (int j = 0; j < njobs; j++)   /* only after waitpid itself failed */
        if (jobs[j].pid > 0)
            waitpid(jobs[j].pid, NULL, 0);
    if (rc == E2_OK)
        rc = write_summary_of(o->out_dir, err);
    if (rc == E2_OK && s.failed)
        rc = e2_fail(err, E2_FAILURE, "%d sweep point%s failed (first: point %ld, log %s/%04ld.log); "
                     "run again with --out %s --resume to retry them", s.failed,
                     s.failed > 1 ? "s" : "", s.first_failed, s.points_dir, s.first_failed,
                     o->out_dir);
    free(done);
    free(jobs);
    return rc;
}

/* ---- the command ------------------------------------------------------------------------ */

long sweep_usable_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long online = sysconf(_SC_NPROCESSORS_ONLN);   /* more than CPU_SETSIZE CPUs */
    return online > 0 ? online : 1;
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
    const char **argv = calloc((size_t)(nlead + 2 * opts->nsets + 8), sizeof *argv);
    if (!argv)
        return e2_fail(err, E2_FAILURE, "out of memory");
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
    long cores = sweep_usable_cpus();
    int per_worker = opts->threads > 0 ? opts->threads
                                       : (int)(cores / jobs > 1 ? cores / jobs : 1);
    snprintf(threads, sizeof threads, "%d", per_worker);
    argv[n++] = "--threads";
    argv[n++] = threads;
    argv[n] = NULL;

    if (opts->out_dir) {
        rc = out_prepare_dir(opts->out_dir, opts->resume, err);
        snprintf(dir, sizeof dir, "%s", opts->out_dir);
    } else {
        rc = out_create_default_dir(cfg->name, dir, sizeof dir, err);
    }
    struct progress progress;
    progress_init(&progress, stderr, progress_mode_from(cfg->report.progress, opts->quiet),
                  "point", 0);
    struct sweep_options o = {dir, jobs, opts->resume, opts->shard_index, opts->shard_count,
                              argv};
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

int cmd_merge(const struct e2_options *opts, struct e2_err *err)
{
    if (opts->nargs < 1)
        return e2_fail(err, E2_BAD_INPUT, "merge: name the sweep folders to join "
                       "(e2sim merge DIR... --out NEW)");
    if (opts->out_dir)
        return sweep_merge(opts->args, opts->nargs, opts->out_dir, 1, err);
    char dir[OUT_PATH_MAX];
    int rc = out_create_default_dir("merge", dir, sizeof dir, err);
    if (rc == E2_OK)
        rc = sweep_merge(opts->args, opts->nargs, dir, 0, err);
    if (rc == E2_OK && !opts->quiet)
        printf("merged %d sweep folder%s into %s/sweep.md\n", opts->nargs,
               opts->nargs > 1 ? "s" : "", dir);
    return rc;
}

/* ---- merge ------------------------------------------------------------------------------- */

int sweep_merge(const char *const *dirs, int ndirs, const char *out_dir, int create,
                struct e2_err *err)
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
    if (rc == E2_OK && create)
        rc = out_prepare_dir(out_dir, 0, err);
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
