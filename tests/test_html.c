/* The charts of report.html and sweep.html, read back from their SVG: tick labels and values in
 * readable units (the formatter report.md uses), shares in percent, the per-layer chart's top
 * layers and "other", point labels that never overlap (the boxes the label placer reserved),
 * a Pareto front's legend only where the front is drawn; escaping, the unit formatter's range
 * and the axis ticks. */
#define _DEFAULT_SOURCE
#include "cunit_main.h"
#include "testutil.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "html.h"
#include "report.h"
#include "status.h"
#include "sweep_report.h"
#include "sweep_rows.h"

/* ---- reading SVG back ------------------------------------------------------------------- */

/* The <svg>...</svg> of `html` whose title is `title` (malloc'ed), or NULL. */
static char *chart_titled(const char *html, const char *title)
{
    for (const char *p = html; (p = strstr(p, "<svg ")); p++) {
        const char *end = strstr(p, "</svg>");
        const char *t = strstr(p, title);
        if (end && t && t < end) {
            size_t n = (size_t)(end - p) + 6;
            char *s = malloc(n + 1);
            memcpy(s, p, n);
            s[n] = '\0';
            return s;
        }
    }
    return NULL;
}

/* The texts of the <text class="cls" ...> elements of svg, in order; *n of them. Each entry:
 * the element's opening tag attributes and its content, split at '\0'. */
struct text_el {
    char tag[256];
    char content[160];
};

static int texts_of(const char *svg, const char *cls, struct text_el *out, int max)
{
    char want[64];
    snprintf(want, sizeof want, "<text class=\"%s\"", cls);
    int n = 0;
    for (const char *p = svg; n < max && (p = strstr(p, want)); p++) {
        const char *gt = strchr(p, '>'), *end = strstr(p, "</text>");
        if (!gt || !end)
            break;
        snprintf(out[n].tag, sizeof out[n].tag, "%.*s", (int)(gt - p), p);
        snprintf(out[n].content, sizeof out[n].content, "%.*s", (int)(end - gt - 1), gt + 1);
        n++;
    }
    return n;
}

static double attr_number(const char *tag, const char *name)
{
    char want[32];
    snprintf(want, sizeof want, " %s=\"", name);
    const char *p = strstr(tag, want);
    return p ? strtod(p + strlen(want), NULL) : NAN;
}

/* "12.5 kJ (45.2 %)" -> 45.2; NaN without a percentage. */
static double share_of(const char *text)
{
    const char *open = strrchr(text, '(');
    return open && strstr(open, "%)") ? strtod(open + 1, NULL) : NAN;
}

/* Is text a number, a space and then unit with at most one SI prefix ("50 kJ", "0 J")? */
static int reads_as(const char *text, const char *unit)
{
    char *end;
    strtod(text, &end);
    if (end == text || *end != ' ' || strchr(text, 'e'))
        return 0;
    end++;
    if (strcmp(end, unit) == 0)
        return 1;
    return strchr("pnumkMGT", *end) && strcmp(end + 1, unit) == 0;
}

static struct html_box box_attr(const char *tag)
{
    struct html_box b = {NAN, NAN, NAN, NAN};
    const char *p = strstr(tag, "data-box=\"");
    if (p)
        sscanf(p + 10, "%lf %lf %lf %lf", &b.x0, &b.y0, &b.x1, &b.y1);
    return b;
}

static int overlap(const struct html_box *a, const struct html_box *b)
{
    return a->x0 < b->x1 && b->x0 < a->x1 && a->y0 < b->y1 && b->y0 < a->y1;
}

/* What draw writes, as a string (free it). */
static __attribute__((noinline)) char *render(void (*draw)(FILE *, const void *),
                                              const void *chart)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CU_ASSERT_FATAL(f != NULL);
    draw(f, chart);
    fclose(f);
    return buf;
}

static void draw_bars(FILE *f, const void *c) { html_bar_chart(f, c); }
static void draw_scatter(FILE *f, const void *c) { html_scatter_chart(f, c); }
static void draw_report(FILE *f, const void *r) { report_write_html(f, r); }

/* ---- tests ------------------------------------------------------------------------------ */

static void test_one_unit_formatter(void)
{
    char buf[48], md[48];
    html_format_unit(buf, sizeof buf, 136400, "J");
    CU_ASSERT_STRING_EQUAL(buf, "136.4 kJ");
    report_format_human(md, sizeof md, (e2_fj)136400 * 1000000000000000ull);
    CU_ASSERT_STRING_EQUAL(md, buf);     /* report.md prints what the charts print */
    html_format_unit(buf, sizeof buf, 0.0012, "s");
    CU_ASSERT_STRING_EQUAL(buf, "1.2 ms");
    html_format_unit(buf, sizeof buf, 0, "J");
    CU_ASSERT_STRING_EQUAL(buf, "0 J");
    html_format_unit(buf, sizeof buf, 999.97, "J");     /* rounds up into the next prefix */
    CU_ASSERT_STRING_EQUAL(buf, "1 kJ");
    html_format_unit(buf, sizeof buf, 43520, "s");
    CU_ASSERT_STRING_EQUAL(buf, "43.52 ks");
    html_format_si(buf, sizeof buf, 0.228, "");
    CU_ASSERT_STRING_EQUAL(buf, "0.228");
    html_format_si(buf, sizeof buf, 12.3e9, "MAC/s");
    CU_ASSERT_STRING_EQUAL(buf, "12.3 GMAC/s");
}

static void draw_escaped(FILE *f, const void *s) { html_escape(f, s); }
static void draw_page(FILE *f, const void *title)
{
    html_begin(f, title);
    html_end(f);
}

/* The four characters that end text or an attribute are escaped; everything else (a quote
 * mark, UTF-8) passes as it is. */
static void test_escape(void)
{
    char *out = render(draw_escaped, "a<b>&\"c\"' \xc3\xa9");
    CU_ASSERT_STRING_EQUAL(out, "a&lt;b&gt;&amp;&quot;c&quot;' \xc3\xa9");
    free(out);
    out = render(draw_escaped, "&amp;");   /* escaped again: shown as typed */
    CU_ASSERT_STRING_EQUAL(out, "&amp;amp;");
    free(out);
    out = render(draw_escaped, NULL);
    CU_ASSERT_STRING_EQUAL(out, "");
    free(out);
    out = render(draw_page, "sweep <1> & \"2\"");
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "<title>sweep &lt;1&gt; &amp; &quot;2&quot;</title>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "<!DOCTYPE html>"));
    const char *end = "</body>\n</html>\n";
    CU_ASSERT(strlen(out) > strlen(end) && strcmp(out + strlen(out) - strlen(end), end) == 0);
    free(out);
}

/* Prefixes from p to T, negatives keep theirs, values beyond the range stay in the last one. */
static void test_unit_prefix_range(void)
{
    char buf[48];
    html_format_unit(buf, sizeof buf, -2.5e-3, "J");
    CU_ASSERT_STRING_EQUAL(buf, "-2.5 mJ");
    html_format_unit(buf, sizeof buf, 3e-12, "J");
    CU_ASSERT_STRING_EQUAL(buf, "3 pJ");
    html_format_unit(buf, sizeof buf, 4e-15, "J");     /* below p: still p */
    CU_ASSERT_STRING_EQUAL(buf, "0.004 pJ");
    html_format_unit(buf, sizeof buf, 5e15, "J");      /* above T: still T */
    CU_ASSERT_STRING_EQUAL(buf, "5000 TJ");
    html_format_unit(buf, sizeof buf, 1.5, "");
    CU_ASSERT_STRING_EQUAL(buf, "1.5");
    html_format_unit(buf, sizeof buf, 1500, NULL);
    CU_ASSERT_STRING_EQUAL(buf, "1.5 k");
    html_format_si(buf, sizeof buf, 0.00123, "s");     /* no prefix below 1 */
    CU_ASSERT_STRING_EQUAL(buf, "0.00123 s");
    html_format_si(buf, sizeof buf, 999.9, "");        /* 3 digits: rounds into k */
    CU_ASSERT_STRING_EQUAL(buf, "1 k");
}

/* The step is 1, 2 or 5 times a power of ten; the ticks start at or below lo on a multiple of
 * the step and reach hi; a range of zero width still gets an axis. */
static void test_ticks(void)
{
    const double ranges[][2] = {{0, 1}, {0, 7.3}, {3, 1000}, {-42, 17}, {1e-6, 3e-6},
                                {136400, 136900}, {0.5, 0.5}, {0, 0}, {-3, -3}};
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        double lo = ranges[i][0], hi = ranges[i][1], start, step;
        int n = html_ticks(lo, hi, &start, &step);
        CU_ASSERT(n >= 2 && n <= 12);
        CU_ASSERT(step > 0);
        double mantissa = step / pow(10, floor(log10(step)));
        CU_ASSERT(fabs(mantissa - 1) < 1e-9 || fabs(mantissa - 2) < 1e-9 ||
                  fabs(mantissa - 5) < 1e-9 || fabs(mantissa - 10) < 1e-9);
        CU_ASSERT(start <= lo);
        CU_ASSERT(fabs(start / step - round(start / step)) < 1e-9);
        CU_ASSERT(start + (n - 1) * step >= (hi > lo ? hi : lo) - 1e-9 * step);
    }
    double start, step;
    CU_ASSERT_EQUAL(html_ticks(0, 10, &start, &step), 6);
    CU_ASSERT_EQUAL(start, 0);
    CU_ASSERT_EQUAL(step, 2);
}

/* Ticks in the chart's unit, each bar's energy and share, shares adding up to 100 %, and a
 * series far too small to see still drawn. */
static void test_bars_have_axis_units_and_shares(void)
{
    const char *labels[] = {"ddr", "dsp", "lut"};
    const char *series[] = {"forward", "update"};
    const double values[] = {90e3, 10e3, 20e3, 1e-3, 2, 0};   /* dsp's update: 1 mJ */
    struct html_bars c = {"Energy", "J", 3, labels, 2, series, values, 0, 0};
    char *svg = render(draw_bars, &c);
    struct text_el t[64];
    int n = texts_of(svg, "tick", t, 64);
    CU_ASSERT(n >= 3);
    for (int i = 0; i < n; i++)
        CU_ASSERT(reads_as(t[i].content, "J"));
    CU_ASSERT_STRING_EQUAL(t[0].content, "0 J");
    CU_ASSERT_PTR_NOT_NULL(strstr(svg, ">40 kJ</text>"));
    n = texts_of(svg, "value", t, 64);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    CU_ASSERT_STRING_EQUAL(t[0].content, "100 kJ (83.3 %)");
    CU_ASSERT_STRING_EQUAL(t[2].content, "2 J (&lt; 0.01 %)");
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += share_of(t[i].content);
    CU_ASSERT(fabs(sum - 100) < 0.2);
    n = texts_of(svg, "legend", t, 64);
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT_STRING_EQUAL(t[1].content, "update (8.33 %)");
    /* the update part: 1 mJ would be 4e-6 px wide; it is drawn 2 px wide */
    const char *part = strstr(svg, "<title>dsp update: 1 mJ</title>");
    CU_ASSERT_PTR_NOT_NULL_FATAL(part);
    const char *rect = part;
    while (rect > svg && strncmp(rect, "<rect", 5) != 0)
        rect--;
    CU_ASSERT(attr_number(rect, "width") >= 2);
    CU_ASSERT_PTR_NULL(strstr(svg, "e+"));
    free(svg);
}

/* A report of 30 layers with report.top_layers = 7: the 7 largest by energy, then one bar of
 * the other 23 holding their energy, drawn broken past an axis that fits the 7; every energy
 * in the page in readable units. */
static void test_layer_chart_top_layers_and_other(void)
{
    struct run_result r;
    run_result_init(&r);
    snprintf(r.kind, sizeof r.kind, "replay");
    r.top_layers = 7;
    e2_fj rest = 0;
    for (int i = 0; i < 30; i++) {
        /* layer i: (i * 7 % 30 + 1) kJ, so the largest are not the first */
        e2_fj fj = (e2_fj)(i * 7 % 30 + 1) * 1000 * 1000000000000000ull;
        struct report_layer l = {.id = i, .kind = "conv",
                                 .phase_fj = {fj / 2, fj / 4, fj / 4 - fj / 1000, fj / 1000}};
        snprintf(l.name, sizeof l.name, "l%d", i);
        run_result_add_layer(&r, &l);
        r.total_fj += fj;
        if (i * 7 % 30 + 1 <= 23)
            rest += fj;
    }
    run_result_add_action(&r, "dsp", "mac8", 1, 1, r.total_fj);
    char *html = render(draw_report, &r);
    char *svg = chart_titled(html, "Energy per layer, by phase: the top 7 of 30 layers");
    CU_ASSERT_PTR_NOT_NULL_FATAL(svg);
    struct text_el t[64];
    int n = texts_of(svg, "bar", t, 64);
    CU_ASSERT_EQUAL_FATAL(n, 8);
    for (int i = 0; i < 7; i++) {   /* 30 kJ, 29 kJ, ...: layers with i * 7 % 30 == 29 - i */
        int id = 0;
        while (id * 7 % 30 != 29 - i)
            id++;
        char want[32];
        snprintf(want, sizeof want, "%d l%d", id, id);
        CU_ASSERT_STRING_EQUAL(t[i].content, want);
    }
    CU_ASSERT_STRING_EQUAL(t[7].content, "other (23 layers)");
    n = texts_of(svg, "value", t, 64);
    CU_ASSERT_EQUAL_FATAL(n, 8);
    char want[64], e[48];
    report_format_human(e, sizeof e, rest);
    snprintf(want, sizeof want, "%s (%.3g %%)", e, 100.0 * 276 / 465);   /* 1 + ... + 23 kJ */
    CU_ASSERT_STRING_EQUAL(t[7].content, want);
    /* the axis reaches the largest named layer (30 kJ); "other" (276 kJ) is drawn broken */
    n = texts_of(svg, "tick", t, 64);
    CU_ASSERT_FATAL(n >= 2);
    CU_ASSERT_STRING_EQUAL(t[n - 1].content, "30 kJ");
    CU_ASSERT_PTR_NOT_NULL(strstr(svg, "stroke=\"#fff\" stroke-width=\"2\"/>"));
    n = texts_of(svg, "legend", t, 64);
    CU_ASSERT_EQUAL(n, 4);   /* every phase named with its share, update included */
    CU_ASSERT_PTR_NOT_NULL(strstr(t[3].content, "update (0.1 %)"));
    CU_ASSERT_PTR_NULL(strstr(html, "e+"));    /* no "1.36e+05 J" anywhere */
    free(svg);
    free(html);
    run_result_free(&r);
}

/* The placer on crowded points: placed boxes never overlap each other or any marker, stay in
 * the area; two points at one spot both get a label. */
static void test_label_placer(void)
{
    enum { N = 60 };
    double px[N], py[N], at[N][2];
    int placed[N];
    const char *labels[N];
    char text[N][16];
    unsigned seed = 12345;
    for (int i = 0; i < N; i++) {
        seed = seed * 1103515245u + 12345u;
        px[i] = 20 + (seed >> 16) % 260;
        seed = seed * 1103515245u + 12345u;
        py[i] = 20 + (seed >> 16) % 160;
        snprintf(text[i], sizeof text[i], "p%d, %d", i, i * 3);
        labels[i] = text[i];
    }
    px[1] = px[0];      /* two points at one spot */
    py[1] = py[0];
    px[0] = px[1] = 150;
    py[0] = py[1] = 100;
    struct html_box area = {0, 0, 300, 200};
    html_place_labels(N, px, py, 5, labels, area, at, placed);
    int count = 0;
    for (int i = 0; i < N; i++) {
        if (!placed[i])
            continue;
        count++;
        struct html_box b = html_label_box(at[i][0], at[i][1], labels[i]);
        CU_ASSERT(b.x0 >= 0 && b.x1 <= 300 && b.y0 >= 0 && b.y1 <= 200);
        for (int j = 0; j < N; j++) {
            struct html_box m = {px[j] - 5, py[j] - 5, px[j] + 5, py[j] + 5};
            CU_ASSERT(!overlap(&b, &m));
            if (j != i && placed[j]) {
                struct html_box o = html_label_box(at[j][0], at[j][1], labels[j]);
                CU_ASSERT(!overlap(&b, &o));
            }
        }
    }
    CU_ASSERT(count >= 10 && count < N);     /* crowded: some fit, some are left to tooltips */
    CU_ASSERT(placed[0]);                    /* labels are placed in order: the first fits */
}

/* A scatter chart read back: each label's box is the placer's, boxes do not overlap, ticks
 * carry units; the front's legend only when a front point is drawn. */
static void test_scatter_labels_and_front_legend(void)
{
    enum { N = 14 };
    double x[N], y[N];
    int front[N] = {0};
    const char *labels[N];
    char text[N][16];
    for (int i = 0; i < N; i++) {
        x[i] = 0.3 + 0.002 * (i / 2);   /* in pairs: overlapping points */
        y[i] = 60 + (i / 2);
        snprintf(text[i], sizeof text[i], "%d-bit, b%d", 4 + i % 5, i);
        labels[i] = text[i];
    }
    front[12] = front[13] = 1;
    struct html_scatter c = {"Top-1", "energy", "J", "test top-1", "%", N, x, y, labels, NULL,
                             front, "Pareto front: less energy, higher test top-1"};
    char *svg = render(draw_scatter, &c);
    struct text_el t[64];
    int n = texts_of(svg, "label", t, 64);
    CU_ASSERT(n >= N / 2);
    for (int i = 0; i < n; i++) {
        struct html_box b = box_attr(t[i].tag);
        struct html_box want = html_label_box(attr_number(t[i].tag, "x"),
                                              attr_number(t[i].tag, "y"), t[i].content);
        CU_ASSERT(fabs(b.x0 - want.x0) < 0.1 && fabs(b.x1 - want.x1) < 0.1 &&
                  fabs(b.y0 - want.y0) < 0.1 && fabs(b.y1 - want.y1) < 0.1);
        for (int j = 0; j < i; j++) {
            struct html_box o = box_attr(t[j].tag);
            CU_ASSERT(!overlap(&b, &o));
        }
    }
    /* both front points are labelled, though they overlap */
    int labelled = 0;
    for (int i = 0; i < n; i++)
        labelled += strcmp(t[i].content, text[12]) == 0 || strcmp(t[i].content, text[13]) == 0;
    CU_ASSERT_EQUAL(labelled, 2);
    n = texts_of(svg, "tick", t, 64);
    int joules = 0, percent = 0;
    for (int i = 0; i < n; i++) {
        joules += reads_as(t[i].content, "mJ");
        percent += reads_as(t[i].content, "%");
    }
    CU_ASSERT(joules >= 3 && percent >= 3 && joules + percent == n);
    n = texts_of(svg, "axis", t, 64);
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(svg, "Pareto front: less energy, higher test top-1"));
    free(svg);
    c.front = NULL;     /* no front: no legend, no red */
    svg = render(draw_scatter, &c);
    CU_ASSERT_PTR_NULL(strstr(svg, "Pareto front"));
    CU_ASSERT_PTR_NULL(strstr(svg, "#e15759"));
    free(svg);
}

static const char *const hardware_rows =
    "{\"schema\":\"e2sim.sweep/1\",\"point\":0,\"points\":3,\"sweep\":\"h\",\"values\":{\"dsps\":"
    "\"100\"},\"results\":{\"top1\":null,\"energy_j\":300000,\"fpga_seconds\":90000},"
    "\"by_component\":{\"ddr\":100000,\"dsp\":200000}}\n"
    "{\"schema\":\"e2sim.sweep/1\",\"point\":1,\"points\":3,\"sweep\":\"h\",\"values\":{\"dsps\":"
    "\"200\"},\"results\":{\"top1\":null,\"energy_j\":250000,\"fpga_seconds\":60000},"
    "\"by_component\":{\"ddr\":100000,\"dsp\":150000}}\n"
    "{\"schema\":\"e2sim.sweep/1\",\"point\":2,\"points\":3,\"sweep\":\"h\",\"values\":{\"dsps\":"
    "\"50\"},\"results\":{\"top1\":null,\"energy_j\":200000,\"fpga_seconds\":120000},"
    "\"by_component\":{\"ddr\":120000,\"bram\":80000}}\n";

static char *sweep_html(const char *jsonl)
{
    write_file("sweep.jsonl", jsonl);
    struct sweep_row *rows;
    int n;
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(sweep_read_rows(tmpdir, &rows, &n, &err), E2_OK);
    CU_ASSERT_EQUAL_FATAL(sweep_write_summary(tmpdir, rows, n, &err), E2_OK);
    sweep_free_rows(rows, n);
    char path[512];
    path_of(path, sizeof path, "sweep.html");
    return read_text(path);
}

/* A hardware-only sweep: no accuracy chart and no legend for its front, the energy-vs-time
 * front drawn and named, every point labelled, components stacked per point. */
static void test_hardware_sweep_page(void)
{
    char *html = sweep_html(hardware_rows);
    CU_ASSERT_PTR_NOT_NULL_FATAL(html);
    CU_ASSERT_PTR_NULL(strstr(html, "Test top-1 against energy"));
    CU_ASSERT_PTR_NULL(strstr(html, "higher test top-1"));
    char *svg = chart_titled(html, "Energy against FPGA time");
    CU_ASSERT_PTR_NOT_NULL_FATAL(svg);
    CU_ASSERT_PTR_NOT_NULL(strstr(svg, "Pareto front: less energy, less FPGA time"));
    /* the front: points 1 (fastest) and 2 (least energy), not 0 */
    CU_ASSERT_PTR_NOT_NULL(strstr(svg, "point 1 dsps=200: 60 ks, 250 kJ (front)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(svg, "point 2 dsps=50: 120 ks, 200 kJ (front)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(svg, "point 0 dsps=100: 90 ks, 300 kJ</title>"));
    struct text_el t[16];
    CU_ASSERT_EQUAL(texts_of(svg, "label", t, 16), 3);
    free(svg);
    svg = chart_titled(html, "Energy per point, by component");
    CU_ASSERT_PTR_NOT_NULL_FATAL(svg);
    int n = texts_of(svg, "legend", t, 16);
    CU_ASSERT_EQUAL_FATAL(n, 3);    /* the union of the points' components, in first-seen order */
    CU_ASSERT_STRING_EQUAL(t[0].content, "ddr (42.7 %)");
    CU_ASSERT_STRING_EQUAL(t[1].content, "dsp (46.7 %)");
    CU_ASSERT_STRING_EQUAL(t[2].content, "bram (10.7 %)");
    n = texts_of(svg, "value", t, 16);
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT_STRING_EQUAL(t[0].content, "300 kJ (40 %)");
    CU_ASSERT_PTR_NOT_NULL(strstr(svg, "<title>50 bram: 80 kJ</title>"));
    free(svg);
    free(html);
}

/* With accuracies: both fronts, each with its legend. */
static void test_training_sweep_page(void)
{
    char *rows = strdup(hardware_rows);
    char *p;
    const char *top1[] = {"0.9", "0.8", "0.5"};
    for (int i = 0; (p = strstr(rows, "\"top1\":null")); i++)
        memcpy(p + 7, top1[i], 3), memmove(p + 10, p + 11, strlen(p + 11) + 1);
    char *html = sweep_html(rows);
    CU_ASSERT_PTR_NOT_NULL_FATAL(html);
    char *svg = chart_titled(html, "Test top-1 against energy");
    CU_ASSERT_PTR_NOT_NULL_FATAL(svg);
    CU_ASSERT_PTR_NOT_NULL(strstr(svg, "Pareto front: less energy, higher test top-1"));
    CU_ASSERT_PTR_NOT_NULL(strstr(svg, "point 0 dsps=100: 300 kJ, 90 % (front)"));
    free(svg);
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "Pareto front: less energy, less FPGA time"));
    free(html);
    free(rows);
}

static int setup(void) { return tmpdir_create("html"); }
static int cleanup(void) { return tmpdir_remove(); }

int main(void)
{
    CU_TestInfo tests[] = {
        { "one unit formatter for report.md and the charts", test_one_unit_formatter },
        { "escaping of text and the page title", test_escape },
        { "unit prefixes from p to T", test_unit_prefix_range },
        { "axis ticks: round steps covering the range", test_ticks },
        { "bars: axis in units, shares in percent", test_bars_have_axis_units_and_shares },
        { "per-layer chart: top_layers and other", test_layer_chart_top_layers_and_other },
        { "label placer: no overlaps", test_label_placer },
        { "scatter: placed labels, front legend", test_scatter_labels_and_front_legend },
        { "hardware-only sweep page", test_hardware_sweep_page },
        { "training sweep page", test_training_sweep_page },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("html", setup, cleanup, tests);
}
