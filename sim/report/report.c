/* The report files: number formats shared by the writers, and report_write (see report.h and
 * docs/outputs.md). Each file has its own writer: report_json.c, report_md.c, report_csv.c,
 * report_html.c. */
#define _POSIX_C_SOURCE 200809L
#include "report.h"

#include <inttypes.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "html.h"
#include "outdir.h"
#include "report_parts.h"

void report_format_fj(char *buf, int size, e2_fj fj)
{
    char digits[48];
    int n = 0;
    do {
        digits[n++] = (char)('0' + (int)(fj % 10));
        fj /= 10;
    } while (fj && n < (int)sizeof digits);
    int k = 0;
    while (n > 0 && k < size - 1)
        buf[k++] = digits[--n];
    buf[k] = '\0';
}

void report_format_joules(char *buf, int size, e2_fj fj)
{
    const e2_fj unit = 1000000000000000ull;   /* fJ per J */
    char whole[48];
    report_format_fj(whole, sizeof whole, fj / unit);
    snprintf(buf, (size_t)size, "%s.%015" PRIu64, whole, (uint64_t)(fj % unit));
}

e2_fj report_parse_fj(const char *text)
{
    e2_fj v = 0;
    for (; *text >= '0' && *text <= '9'; text++)
        v = v * 10 + (e2_fj)(*text - '0');
    return v;
}

e2_fj report_parse_joules(const char *text)
{
    e2_fj v = report_parse_fj(text);
    const char *dot = strchr(text, '.');
    e2_fj frac = 0;
    int digits = 0;
    for (const char *p = dot ? dot + 1 : ""; *p >= '0' && *p <= '9' && digits < 15; p++, digits++)
        frac = frac * 10 + (e2_fj)(*p - '0');
    for (; digits < 15; digits++)
        frac *= 10;
    return v * 1000000000000000ull + frac;
}

double report_joules(e2_fj fj) { return (double)fj * 1e-15; }

/* fJ per action as exact pJ text: "0.700", "410.250". */
void report_format_pj(char *buf, size_t size, uint64_t fj)
{
    snprintf(buf, size, "%" PRIu64 ".%03" PRIu64, fj / 1000, fj % 1000);
}

double report_pj(uint64_t fj) { return (double)fj / 1000; }

e2_fj report_layer_fj(const struct report_layer *l)
{
    e2_fj sum = 0;
    for (int p = 0; p < REPORT_PHASES; p++)
        sum += l->phase_fj[p];
    return sum;
}

/* Distinct component names in first-seen order (indices into r->actions). */
int report_components(const struct run_result *r, int *first)
{
    int n = 0;
    for (int i = 0; i < r->action_count; i++) {
        int seen = 0;
        for (int j = 0; j < n && !seen; j++)
            seen = strcmp(r->actions[first[j]].component, r->actions[i].component) == 0;
        if (!seen)
            first[n++] = i;
    }
    return n;
}

/* Layer indices sorted by energy, largest first (ties: by id). */
int *report_layers_by_energy(const struct run_result *r)
{
    int *order = malloc((size_t)(r->layer_count > 0 ? r->layer_count : 1) * sizeof *order);
    if (!order)
        return NULL;
    for (int i = 0; i < r->layer_count; i++)
        order[i] = i;
    for (int i = 1; i < r->layer_count; i++) {   /* insertion sort: a few hundred layers */
        int v = order[i], j = i;
        while (j > 0) {
            e2_fj a = report_layer_fj(&r->layers[order[j - 1]]), b = report_layer_fj(&r->layers[v]);
            if (a > b || (a == b && r->layers[order[j - 1]].id <= r->layers[v].id))
                break;
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
    return order;
}

void report_percent(char *buf, size_t size, double fraction)
{
    if (isfinite(fraction))
        snprintf(buf, size, "%.2f %%", 100 * fraction);
    else
        snprintf(buf, size, "n/a");
}

void report_roofs_text(char *buf, size_t size, const struct report_roofs *roofs)
{
    char peak[32], bw[32], ridge[32];
    if (!(roofs->peak_macs_per_s > 0 && roofs->ddr_bytes_per_s > 0)) {
        snprintf(buf, size, "%s", "");
        return;
    }
    html_format_si(peak, sizeof peak, roofs->peak_macs_per_s, "MAC/s");
    html_format_si(bw, sizeof bw, roofs->ddr_bytes_per_s, "B/s");
    html_format_si(ridge, sizeof ridge, roofs->peak_macs_per_s / roofs->ddr_bytes_per_s, "MAC/B");
    snprintf(buf, size, "compute roof %s (DSP array at %dx%d bits), DDR roof %s (DMA read "
             "stream), ridge %s", peak, roofs->bits_a, roofs->bits_b, bw, ridge);
}

/* ---- writing the files ------------------------------------------------------------------ */

typedef int (*writer_fn)(FILE *, const struct run_result *);

static int write_one(const char *outdir, const char *name, writer_fn fn,
                     const struct run_result *r, struct e2_err *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return e2_fail(err, E2_FAILURE, "%s/%s: out of memory", outdir, name);
    int rc = fn(f, r);
    if (fclose(f) != 0 || rc != E2_OK) {
        free(buf);
        return e2_fail(err, E2_FAILURE, "%s/%s: out of memory", outdir, name);
    }
    char path[OUT_PATH_MAX];
    rc = out_join(path, sizeof path, outdir, name, err);
    if (rc == E2_OK)
        rc = out_write_atomic(path, buf, len, err);
    free(buf);
    return rc;
}

int report_write(const char *outdir, const struct run_result *r, struct e2_err *err)
{
    static const struct { const char *name; writer_fn fn; } files[] = {
        {"report.json", report_write_json},
        {"report.md", report_write_md},
        {"breakdown.csv", report_write_breakdown_csv},
        {"layers.csv", report_write_layers_csv},
        {"curve.csv", report_write_curve_csv},
        {"report.html", report_write_html},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        int rc = write_one(outdir, files[i].name, files[i].fn, r, err);
        if (rc != E2_OK)
            return rc;
    }
    if (r->has_psg_layers)
        return write_one(outdir, "psg_layers.csv", report_write_psg_layers_csv, r, err);
    return E2_OK;
}
