/* Inline-SVG charts for report.html and sweep.html; see html.h. */
#include "html.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CHART_W 760
static const char *const palette[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759",
                                      "#76b7b2", "#edc948", "#b07aa1", "#9c755f"};
#define PALETTE_N (int)(sizeof palette / sizeof palette[0])

void html_escape(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

void html_begin(FILE *f, const char *title)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>", f);
    html_escape(f, title);
    fputs("</title>\n<style>\n"
          "body{font-family:sans-serif;margin:2em auto;max-width:60em;color:#222}\n"
          "table{border-collapse:collapse;margin:1em 0}\n"
          "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right;white-space:nowrap}\n"
          "th{background:#f0f0f0}\ntd:first-child,th:first-child,td.text{text-align:left}\n"
          "svg{display:block;margin:1em 0}\nsvg text{font-family:sans-serif;font-size:11px}\n"
          ".big{font-size:1.4em;font-weight:bold}\n"
          "</style>\n</head>\n<body>\n",
          f);
}

void html_end(FILE *f)
{
    fputs("</body>\n</html>\n", f);
}

/* ---- numbers ---------------------------------------------------------------------------- */

static const struct { double scale; const char *prefix; } prefixes[] = {
    {1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}, {1, ""},
    {1e-3, "m"}, {1e-6, "u"}, {1e-9, "n"}, {1e-12, "p"}};
#define PREFIXES (int)(sizeof prefixes / sizeof prefixes[0])
#define UNITY 4     /* prefixes[UNITY] is no prefix */

/* v in the largest prefix it reaches once rounded to `digits` significant digits, down to
 * prefixes[smallest]; "0 unit" for zero. */
static void format_prefixed(char *buf, size_t size, double v, const char *unit, int digits,
                            int smallest)
{
    unit = unit ? unit : "";
    int i = 0;
    double round_up = 1 - 0.5 * pow(10, -digits);   /* 999.96 J prints as 1 kJ, not 1000 J */
    while (i < smallest && !(fabs(v) >= prefixes[i].scale * round_up))
        i++;
    if (v == 0)
        i = UNITY;
    const char *sep = prefixes[i].prefix[0] || unit[0] ? " " : "";
    snprintf(buf, size, "%.*g%s%s%s", digits, v / prefixes[i].scale, sep, prefixes[i].prefix,
             unit);
}

void html_format_unit(char *buf, size_t size, double v, const char *unit)
{
    format_prefixed(buf, size, v, unit, 4, PREFIXES - 1);
}

void html_format_si(char *buf, size_t size, double v, const char *unit)
{
    format_prefixed(buf, size, v, unit, 3, UNITY);
}

int html_ticks(double lo, double hi, double *start, double *step)
{
    if (!(hi > lo)) {
        hi = lo + (lo != 0 ? fabs(lo) : 1);
    }
    double raw = (hi - lo) / 5;
    double mag = pow(10, floor(log10(raw)));
    double norm = raw / mag;
    double nice = norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10;
    *step = nice * mag;
    *start = floor(lo / *step) * *step;
    int count = (int)ceil((hi - *start) / *step - 1e-9) + 1;
    return count < 2 ? 2 : count;
}

/* "45.2 %": a share of a total, three significant digits. */
static void format_share(char *buf, size_t size, double part, double total)
{
    double share = 100 * part / total;
    if (total > 0 && share > 0 && share < 0.01)
        snprintf(buf, size, "< 0.01 %%");
    else if (total > 0 && isfinite(part))
        snprintf(buf, size, "%.3g %%", share);
    else
        snprintf(buf, size, "n/a");
}

/* ---- axes: one helper for every chart --------------------------------------------------- */

typedef void (*unit_format)(char *, size_t, double, const char *);

/* Percentages read plain ("0.5 %", not "500 m%"); other units take any prefix. */
static unit_format format_of(const char *unit)
{
    return unit && strcmp(unit, "%") == 0 ? html_format_si : html_format_unit;
}

struct axis {
    const char *name;           /* "energy", "arithmetic intensity (MAC/B, log)" */
    const char *unit;           /* of the tick labels */
    unit_format format;         /* html_format_unit or html_format_si */
    int log;                    /* decades */
    double lo, hi, step;        /* the range drawn, in data units (log: exponents) */
    double p0, p1;              /* pixels of lo and hi */
};

static double axis_px(const struct axis *a, double v)
{
    double t = a->log ? log10(v) : v;
    return a->p0 + (a->hi > a->lo ? (t - a->lo) / (a->hi - a->lo) : 0.5) * (a->p1 - a->p0);
}

/* Fit [min, max] (min > max: no data) to round ticks, or to whole decades (at least one). */
static void axis_fit(struct axis *a, double min, double max)
{
    if (!(min <= max)) {
        min = a->log ? 1 : 0;
        max = a->log ? 10 : 1;
    }
    if (a->log) {
        a->lo = floor(log10(min));
        a->hi = ceil(log10(max));
        if (a->hi <= a->lo)
            a->hi = a->lo + 1;
        a->step = 1;
        return;
    }
    double start;
    int n = html_ticks(min, max, &start, &a->step);
    a->lo = start;
    a->hi = start + (n - 1) * a->step;
}

/* Ticks with grid lines across the plot (from pixel `from` to `to` on the other axis), their
 * labels, and the axis name: along the bottom when horizontal, else along the left. */
static void axis_draw(FILE *f, const struct axis *a, int horizontal, double from, double to)
{
    int count = (int)floor((a->hi - a->lo) / a->step + 1e-9) + 1;
    for (int i = 0; i < count; i++) {
        double t = a->lo + i * a->step;
        if (fabs(t) < 1e-9 * a->step)
            t = 0;                              /* no "-0" or 1e-17 from the sums */
        double v = a->log ? pow(10, t) : t, p = axis_px(a, v);
        char text[48];
        a->format(text, sizeof text, v, a->unit);
        if (horizontal)
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                       "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s"
                       "</text>\n", p, from, p, to, p, to + 16, text);
        else
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                       "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s"
                       "</text>\n", from, p, to, p, from - 4, p + 4, text);
    }
    double mid = (a->p0 + a->p1) / 2;
    if (horizontal)
        fprintf(f, "<text class=\"axis\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", mid,
                to + 32);
    else
        fprintf(f, "<text class=\"axis\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                   "transform=\"rotate(-90 %.1f %.1f)\">", from - 62, mid, from - 62, mid);
    html_escape(f, a->name);
    fputs("</text>\n", f);
}

/* ---- chart frames ----------------------------------------------------------------------- */

static void svg_begin(FILE *f, int width, int height, const char *title)
{
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "role=\"img\">\n<text x=\"4\" y=\"18\" style=\"font-size:14px;font-weight:bold\">",
            width, height);
    html_escape(f, title);
    fputs("</text>\n", f);
}

/* An x-y plot: a frame of `height` px below `top`, its axes fitted to the data (x, y). */
struct plot {
    struct axis x, y;
    int left, top, width, height;
};

static void plot_begin(FILE *f, struct plot *p, const char *title, int top, int height, int n,
                       const double *x, const double *y)
{
    p->left = 80;
    p->top = top;
    p->width = CHART_W - p->left - 20;
    p->height = height;
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i]) ||
            (p->x.log && !(x[i] > 0)) || (p->y.log && !(y[i] > 0)))
            continue;
        xlo = fmin(xlo, x[i]);
        xhi = fmax(xhi, x[i]);
        ylo = fmin(ylo, y[i]);
        yhi = fmax(yhi, y[i]);
    }
    axis_fit(&p->x, xlo, xhi);
    axis_fit(&p->y, ylo, yhi);
    p->x.p0 = p->left;
    p->x.p1 = p->left + p->width;
    p->y.p0 = p->top + p->height;
    p->y.p1 = p->top;
    svg_begin(f, CHART_W, p->top + p->height + 45, title);
}

static void plot_axes(FILE *f, const struct plot *p)
{
    axis_draw(f, &p->x, 1, p->top, p->top + p->height);
    axis_draw(f, &p->y, 0, p->left, p->left + p->width);
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
               "stroke=\"#888\"/>\n", p->left, p->top, p->width, p->height);
}

/* ---- bars ------------------------------------------------------------------------------- */

#define MIN_PART_PX 2.0
#define LEGEND_ROW 18
#define BREAK_PX 40.0   /* how far a broken bar runs past the axis */

/* The legend above the bars: each series' colour, name and share of the total, in rows
 * that wrap at `right`; returns the height it takes (f NULL: only measures). */
static int bar_legend(FILE *f, const struct html_bars *c, double total, int left, int right,
                      int y)
{
    int x = left, top = y;
    for (int s = 0; s < c->series; s++) {
        double sum = 0;
        for (int i = 0; i < c->n; i++)
            sum += c->values[i * c->series + s] > 0 ? c->values[i * c->series + s] : 0;
        char share[32];
        format_share(share, sizeof share, sum, total);
        const char *name = c->series_names ? c->series_names[s] : "";
        int w = 14 + 6 * (int)(strlen(name) + strlen(share) + 3) + 16;
        if (x > left && x + w > right) {
            x = left;
            y += LEGEND_ROW;
        }
        if (f) {
            fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/>"
                       "<text class=\"legend\" x=\"%d\" y=\"%d\">", x, y,
                    palette[s % PALETTE_N], x + 14, y + 9);
            html_escape(f, name);
            fputs(" (", f);
            html_escape(f, share);
            fputs(")</text>\n", f);
        }
        x += w;
    }
    return y - top + LEGEND_ROW;
}

void html_bar_chart(FILE *f, const struct html_bars *c)
{
    const int bar_w = 460, row_h = 18, value_w = 130;
    size_t longest = 0;
    for (int i = 0; i < c->n; i++)
        if (c->labels[i] && strlen(c->labels[i]) > longest)
            longest = strlen(c->labels[i]);
    /* about 6 px per character of 11 px sans-serif; long labels widen the chart */
    int label_w = (int)longest * 6 + 12;
    label_w = label_w < 120 ? 120 : label_w > 420 ? 420 : label_w;
    double max = 0, sum_all = 0;
    for (int i = 0; i < c->n; i++) {
        double sum = 0;
        for (int s = 0; s < c->series; s++)
            sum += c->values[i * c->series + s] > 0 ? c->values[i * c->series + s] : 0;
        max = fmax(max, sum);
        sum_all += sum;
    }
    double total = c->total > 0 ? c->total : sum_all;
    int width = label_w + bar_w + (int)BREAK_PX + value_w;
    int top = 30 + (c->series > 1 ? bar_legend(NULL, c, total, 4, width - 4, 30) + 4 : 0);
    int bottom = top + c->n * row_h;
    struct axis x = {"", c->unit, html_format_unit, 0, 0, 0, 0, label_w, label_w + bar_w};
    double reach = c->axis_max > 0 && c->axis_max < max ? c->axis_max : max;
    axis_fit(&x, 0, reach > 0 ? reach : 1);
    svg_begin(f, width, bottom + 45, c->title);
    if (c->series > 1)
        bar_legend(f, c, total, 4, width - 4, 30);
    axis_draw(f, &x, 1, top, bottom);
    for (int i = 0; i < c->n; i++) {
        int y = top + i * row_h;
        fprintf(f, "<text class=\"bar\" x=\"%d\" y=\"%d\" text-anchor=\"end\">", label_w - 6,
                y + 12);
        html_escape(f, c->labels[i]);
        fputs("</text>\n", f);
        double at = label_w, sum = 0, row_sum = 0;
        for (int s = 0; s < c->series; s++)
            row_sum += c->values[i * c->series + s] > 0 ? c->values[i * c->series + s] : 0;
        /* a bar past the axis: squeezed to end just after it, parts in proportion, broken */
        double room = x.p1 + BREAK_PX - label_w, full = axis_px(&x, row_sum) - label_w;
        int broken = full > room;
        double squeeze = broken ? room / full : 1;
        for (int s = 0; s < c->series; s++) {
            double v = c->values[i * c->series + s];
            if (!(v > 0))
                continue;
            double w = fmax((axis_px(&x, v) - label_w) * squeeze, MIN_PART_PX);
            char text[48];
            html_format_unit(text, sizeof text, v, c->unit);
            fprintf(f, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\">"
                       "<title>", at, y + 2, w, row_h - 4, palette[s % PALETTE_N]);
            html_escape(f, c->labels[i]);
            if (c->series > 1 && c->series_names) {
                fputs(" ", f);
                html_escape(f, c->series_names[s]);
            }
            fprintf(f, ": %s</title></rect>\n", text);
            at += w;
            sum += v;
        }
        if (broken)     /* the break: two white slashes across the bar */
            fprintf(f, "<path d=\"M%.1f %d l6 -%d M%.1f %d l6 -%d\" stroke=\"#fff\" "
                       "stroke-width=\"2\"/>\n", at - 24, y + row_h - 2, row_h - 4, at - 18,
                    y + row_h - 2, row_h - 4);
        char text[48], share[32];
        html_format_unit(text, sizeof text, sum, c->unit);
        format_share(share, sizeof share, sum, total);
        fprintf(f, "<text class=\"value\" x=\"%.1f\" y=\"%d\">%s (", at + 4, y + 12, text);
        html_escape(f, share);
        fputs(")</text>\n", f);
    }
    fputs("</svg>\n", f);
}

/* ---- lines and points ------------------------------------------------------------------- */

void html_line_chart(FILE *f, const struct html_line *c)
{
    struct plot p = {.x = {c->xlabel, c->xunit, format_of(c->xunit)},
                     .y = {c->ylabel, c->yunit, format_of(c->yunit)}};
    plot_begin(f, &p, c->title, 30, 300, c->n, c->x, c->y);
    plot_axes(f, &p);
    fputs("<polyline fill=\"none\" stroke=\"#4e79a7\" stroke-width=\"2\" points=\"", f);
    for (int i = 0; i < c->n; i++)
        if (isfinite(c->x[i]) && isfinite(c->y[i]))
            fprintf(f, "%.1f,%.1f ", axis_px(&p.x, c->x[i]), axis_px(&p.y, c->y[i]));
    fputs("\"/>\n", f);
    for (int i = 0; i < c->n; i++) {
        if (!isfinite(c->x[i]) || !isfinite(c->y[i]))
            continue;
        char xs[48], ys[48];
        format_of(c->xunit)(xs, sizeof xs, c->x[i], c->xunit);
        format_of(c->yunit)(ys, sizeof ys, c->y[i], c->yunit);
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#4e79a7\">"
                   "<title>%s, %s</title></circle>\n", axis_px(&p.x, c->x[i]),
                axis_px(&p.y, c->y[i]), xs, ys);
    }
    fputs("</svg>\n", f);
}

/* Characters of UTF-8 text (continuation bytes do not count). */
static int text_chars(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

struct html_box html_label_box(double x, double y, const char *text)
{
    /* 0.6 em per character covers digits and most letters of a sans-serif font */
    double w = 0.6 * HTML_LABEL_PX * text_chars(text);
    return (struct html_box){x, y - 0.9 * HTML_LABEL_PX, x + w, y + 0.3 * HTML_LABEL_PX};
}

static int boxes_overlap(const struct html_box *a, const struct html_box *b)
{
    return a->x0 < b->x1 && b->x0 < a->x1 && a->y0 < b->y1 && b->y0 < a->y1;
}

static int box_inside(const struct html_box *b, const struct html_box *area)
{
    return b->x0 >= area->x0 && b->x1 <= area->x1 && b->y0 >= area->y0 && b->y1 <= area->y1;
}

/* Is the spot free of the area's edge, the markers and the labels placed so far? */
static int spot_free(const struct html_box *b, const struct html_box *area, int n,
                     const double *px, const double *py, double r, const struct html_box *placed,
                     int nplaced)
{
    if (!box_inside(b, area))
        return 0;
    for (int j = 0; j < n; j++) {
        struct html_box m = {px[j] - r, py[j] - r, px[j] + r, py[j] + r};
        if (isfinite(px[j]) && isfinite(py[j]) && boxes_overlap(b, &m))
            return 0;
    }
    for (int j = 0; j < nplaced; j++)
        if (boxes_overlap(b, &placed[j]))
            return 0;
    return 1;
}

void html_place_labels(int n, const double *px, const double *py, double r,
                       const char *const *labels, struct html_box area, double (*at)[2],
                       int *placed)
{
    struct html_box *boxes = malloc((size_t)(n + 1) * sizeof *boxes);
    int nboxes = 0;
    for (int i = 0; i < n; i++) {
        placed[i] = 0;
        if (!boxes || !labels[i] || !labels[i][0] || !isfinite(px[i]) || !isfinite(py[i]))
            continue;
        struct html_box size = html_label_box(0, 0, labels[i]);
        double w = size.x1, up = -size.y0, down = size.y1, h = up + down;
        double mid = (up - down) / 2;           /* baseline that centres the box on y */
        for (int k = 0; k < 16 && !placed[i]; k++) {
            double g = r + 2 + (k >= 8 ? h : 0);    /* a second ring a label's height out */
            const double spots[8][2] = {
                {px[i] + g, py[i] + mid},         {px[i] - g - w, py[i] + mid},
                {px[i] - w / 2, py[i] - g - down}, {px[i] - w / 2, py[i] + g + up},
                {px[i] + g, py[i] - g - down},     {px[i] - g - w, py[i] - g - down},
                {px[i] + g, py[i] + g + up},       {px[i] - g - w, py[i] + g + up}};
            const double *spot = spots[k % 8];
            struct html_box b = html_label_box(spot[0], spot[1], labels[i]);
            if (spot_free(&b, &area, n, px, py, r, boxes, nboxes)) {
                boxes[nboxes++] = b;
                at[i][0] = spot[0];
                at[i][1] = spot[1];
                placed[i] = 1;
            }
        }
    }
    free(boxes);
}

/* The label of a placed point, with the box the placer reserved for it. */
static void write_label(FILE *f, double x, double y, const char *text)
{
    struct html_box b = html_label_box(x, y, text);
    fprintf(f, "<text class=\"label\" x=\"%.1f\" y=\"%.1f\" style=\"font-size:%dpx\" "
               "data-box=\"%.1f %.1f %.1f %.1f\">", x, y, HTML_LABEL_PX, b.x0, b.y0, b.x1, b.y1);
    html_escape(f, text);
    fputs("</text>\n", f);
}

/* The front as a staircase in x order: what the best point so far buys until the next. */
static void front_line(FILE *f, const struct plot *p, const struct html_scatter *c)
{
    fputs("<polyline fill=\"none\" stroke=\"#e15759\" stroke-width=\"2\" points=\"", f);
    double last = -INFINITY, last_y = 0;
    for (;;) {
        int best = -1;
        for (int i = 0; i < c->n; i++)
            if (c->front[i] && isfinite(c->x[i]) && isfinite(c->y[i]) && c->x[i] > last &&
                (best < 0 || c->x[i] < c->x[best]))
                best = i;
        if (best < 0)
            break;
        if (isfinite(last))
            fprintf(f, "%.1f,%.1f ", axis_px(&p->x, c->x[best]), axis_px(&p->y, last_y));
        fprintf(f, "%.1f,%.1f ", axis_px(&p->x, c->x[best]), axis_px(&p->y, c->y[best]));
        last = c->x[best];
        last_y = c->y[best];
    }
    fputs("\"/>\n", f);
}

static void scatter_point(FILE *f, const struct plot *p, const struct html_scatter *c, int i,
                          int on)
{
    fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%d\" fill=\"%s\" fill-opacity=\"0.75\" "
               "stroke=\"#fff\"><title>", axis_px(&p->x, c->x[i]), axis_px(&p->y, c->y[i]),
            on ? 5 : 4, on ? "#e15759" : "#4e79a7");
    html_escape(f, c->tips && c->tips[i] ? c->tips[i] : c->labels ? c->labels[i] : "");
    char xs[48], ys[48];
    format_of(c->xunit)(xs, sizeof xs, c->x[i], c->xunit);
    format_of(c->yunit)(ys, sizeof ys, c->y[i], c->yunit);
    fprintf(f, ": %s, %s%s</title></circle>\n", xs, ys, on ? " (front)" : "");
}

void html_scatter_chart(FILE *f, const struct html_scatter *c)
{
    struct plot p = {.x = {c->xlabel, c->xunit, format_of(c->xunit)},
                     .y = {c->ylabel, c->yunit, format_of(c->yunit)}};
    plot_begin(f, &p, c->title, 48, 300, c->n, c->x, c->y);   /* the legend above the plot */
    plot_axes(f, &p);
    int n = c->n, fronts = 0;
    double *px = calloc((size_t)n + 1, sizeof *px), *py = calloc((size_t)n + 1, sizeof *py);
    double (*at)[2] = calloc((size_t)n + 1, sizeof *at);
    int *order = calloc((size_t)n + 1, sizeof *order);
    int *placed = calloc((size_t)n + 1, sizeof *placed);
    const char **ordered = calloc((size_t)n + 1, sizeof *ordered);
    if (px && py && at && order && placed && ordered) {
        /* the front first: drawn on top, labelled first */
        for (int pass = 1, k = 0; pass >= 0; pass--)
            for (int i = 0; i < n; i++)
                if ((c->front && c->front[i]) == pass)
                    order[k++] = i;
        for (int k = 0; k < n; k++) {
            int i = order[k];
            int shown = isfinite(c->x[i]) && isfinite(c->y[i]);
            px[k] = shown ? axis_px(&p.x, c->x[i]) : NAN;
            py[k] = shown ? axis_px(&p.y, c->y[i]) : NAN;
            ordered[k] = c->labels ? c->labels[i] : NULL;
            fronts += shown && c->front && c->front[i];
        }
        if (fronts)
            front_line(f, &p, c);
        for (int k = n - 1; k >= 0; k--)
            if (isfinite(px[k]))
                scatter_point(f, &p, c, order[k], c->front && c->front[order[k]]);
        struct html_box area = {p.left, p.top, p.left + p.width, p.top + p.height};
        html_place_labels(n, px, py, 5, ordered, area, at, placed);
        for (int k = 0; k < n; k++)
            if (placed[k])
                write_label(f, at[k][0], at[k][1], ordered[k]);
    }
    if (fronts) {
        fprintf(f, "<line x1=\"%d\" y1=\"36\" x2=\"%d\" y2=\"36\" stroke=\"#e15759\" "
                   "stroke-width=\"2\"/><circle cx=\"%d\" cy=\"36\" r=\"5\" fill=\"#e15759\"/>"
                   "<text class=\"legend\" x=\"%d\" y=\"40\">", p.left, p.left + 24,
                p.left + 12, p.left + 30);
        html_escape(f, c->front_name);
        fputs("</text>\n", f);
    }
    free(px);
    free(py);
    free(at);
    free(order);
    free(placed);
    free(ordered);
    fputs("</svg>\n", f);
}

/* ---- the roofline ----------------------------------------------------------------------- */

static int plottable(double x, double y)
{
    return isfinite(x) && isfinite(y) && x > 0 && y > 0;
}

/* The roofs: the slanted one from where it enters the plot to the ridge, then flat; each
 * named along its line. */
static void roofs(FILE *f, const struct plot *p, const struct html_roofline *c)
{
    double ridge = c->peak / c->bandwidth, right = pow(10, p->x.hi);
    double x0 = fmax(pow(10, p->x.lo), pow(10, p->y.lo) / c->bandwidth);
    double ax = axis_px(&p->x, x0), ay = axis_px(&p->y, c->bandwidth * x0);
    double rx = axis_px(&p->x, ridge), ry = axis_px(&p->y, c->peak);
    fprintf(f, "<polyline fill=\"none\" stroke=\"#222\" stroke-width=\"2\" points=\"%.1f,%.1f "
               "%.1f,%.1f %.1f,%.1f\"/>\n", ax, ay, rx, ry, axis_px(&p->x, right), ry);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", axis_px(&p->x, right) - 4,
            ry - 6);
    html_escape(f, c->peak_label);
    double angle = atan2(ry - ay, rx - ax) * 180 / acos(-1);
    double lx = ax + 0.25 * (rx - ax), ly = ay + 0.25 * (ry - ay) - 6;
    fprintf(f, "</text>\n<text x=\"%.1f\" y=\"%.1f\" transform=\"rotate(%.1f %.1f %.1f)\">",
            lx, ly, angle, lx, ly);
    html_escape(f, c->bandwidth_label);
    fputs("</text>\n", f);
}

void html_roofline_chart(FILE *f, const struct html_roofline *c)
{
    char xname[64], yname[64];
    snprintf(xname, sizeof xname, "arithmetic intensity (%s, log)", c->xunit);
    snprintf(yname, sizeof yname, "attained (%s, log)", c->yunit);
    /* the ridge and the flat roof are always in the plot */
    double ridge = c->peak / c->bandwidth;
    int n = c->n;
    double *x = malloc((size_t)(n + 2) * sizeof *x), *y = malloc((size_t)(n + 2) * sizeof *y);
    double *px = malloc((size_t)(n + 1) * sizeof *px), *py = malloc((size_t)(n + 1) * sizeof *py);
    double (*at)[2] = malloc((size_t)(n + 1) * sizeof *at);
    int *placed = malloc((size_t)(n + 1) * sizeof *placed);
    const char **legend = malloc((size_t)(n + 1) * sizeof *legend);   /* groups drawn */
    if (!x || !y || !px || !py || !at || !placed || !legend)
        n = 0;
    for (int i = 0; i < n; i++) {
        x[i] = plottable(c->x[i], c->y[i]) ? c->x[i] : NAN;
        y[i] = plottable(c->x[i], c->y[i]) ? c->y[i] : NAN;
    }
    double corner[2][2] = {{ridge, ridge}, {c->peak, c->peak}};
    struct plot p = {.x = {xname, "", html_format_si, 1}, .y = {yname, "", html_format_si, 1}};
    if (x && y) {
        x[n] = corner[0][0];
        y[n] = corner[1][0];
        plot_begin(f, &p, c->title, 48, 360, n + 1, x, y);   /* the legend above the plot */
    } else {
        plot_begin(f, &p, c->title, 48, 360, 1, corner[0], corner[1]);
    }
    if (p.x.hi - log10(ridge) < 1)      /* room right of the ridge for the flat roof */
        p.x.hi += 1;
    plot_axes(f, &p);
    roofs(f, &p, c);
    int ngroups = 0;
    for (int i = 0; i < n; i++) {
        px[i] = isfinite(x[i]) ? axis_px(&p.x, x[i]) : NAN;
        py[i] = isfinite(x[i]) ? axis_px(&p.y, y[i]) : NAN;
        if (!isfinite(x[i]))
            continue;
        const char *group = c->groups && c->groups[i] ? c->groups[i] : "";
        int g = 0;
        while (g < ngroups && strcmp(legend[g], group) != 0)
            g++;
        const char *colour = palette[g % PALETTE_N];
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\" fill-opacity=\"0.8\">"
                   "<title>", px[i], py[i], colour);
        html_escape(f, c->names ? c->names[i] : "");
        char xs[32], ys[32];
        html_format_si(xs, sizeof xs, c->x[i], c->xunit);
        html_format_si(ys, sizeof ys, c->y[i], c->yunit);
        fprintf(f, ": %s, %s</title></circle>\n", xs, ys);
        if (g == ngroups) {   /* a new group: its legend entry */
            legend[ngroups++] = group;
            if (c->groups) {
                int lx = p.left + 75 * g;
                fprintf(f, "<circle cx=\"%d\" cy=\"%d\" r=\"4\" fill=\"%s\"/>"
                           "<text class=\"legend\" x=\"%d\" y=\"%d\">", lx + 4, p.top - 14,
                        colour, lx + 12, p.top - 10);
                html_escape(f, group);
                fputs("</text>\n", f);
            }
        }
    }
    if (n > 0 && c->names) {
        struct html_box area = {p.left, p.top, p.left + p.width, p.top + p.height};
        html_place_labels(n, px, py, 4, c->names, area, at, placed);
        for (int i = 0; i < n; i++)
            if (placed[i])
                write_label(f, at[i][0], at[i][1], c->names[i]);
    }
    free(x);
    free(y);
    free(px);
    free(py);
    free(at);
    free(placed);
    free(legend);
    fputs("</svg>\n", f);
}
