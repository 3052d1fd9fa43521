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
          "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}\n"
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

static void svg_title(FILE *f, const char *title, int y)
{
    fprintf(f, "<text x=\"%d\" y=\"%d\" style=\"font-size:14px;font-weight:bold\">", 4, y);
    html_escape(f, title);
    fputs("</text>\n", f);
}

void html_bar_chart(FILE *f, const char *title, const char *unit, int n, const char *const *labels,
                    int series, const char *const *series_names, const double *values)
{
    const int bar_w = 480, row_h = 18, top = 30;
    size_t longest = 0;
    for (int i = 0; i < n; i++)
        if (labels[i] && strlen(labels[i]) > longest)
            longest = strlen(labels[i]);
    /* about 6 px per character of 11 px sans-serif; long labels widen the chart */
    int label_w = (int)longest * 6 + 12;
    label_w = label_w < 120 ? 120 : label_w > 420 ? 420 : label_w;
    int width = label_w + bar_w + 100;
    int legend_h = series > 1 ? 22 : 0;
    int height = top + legend_h + n * row_h + 10;
    double max = 0;
    for (int i = 0; i < n; i++) {
        double sum = 0;
        for (int s = 0; s < series; s++)
            sum += values[i * series + s] > 0 ? values[i * series + s] : 0;
        if (sum > max)
            max = sum;
    }
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "role=\"img\">\n", width, height);
    svg_title(f, title, 18);
    for (int s = 0; series > 1 && s < series; s++) {
        int x = label_w + s * 120;
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/>"
                   "<text x=\"%d\" y=\"%d\">", x, top, palette[s % PALETTE_N], x + 14, top + 9);
        html_escape(f, series_names ? series_names[s] : "");
        fputs("</text>\n", f);
    }
    for (int i = 0; i < n; i++) {
        int y = top + legend_h + i * row_h;
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", label_w - 6, y + 12);
        html_escape(f, labels[i]);
        fputs("</text>\n", f);
        double x = label_w, sum = 0;
        for (int s = 0; s < series; s++) {
            double v = values[i * series + s];
            if (!(v > 0))
                continue;
            double w = max > 0 ? v / max * bar_w : 0;
            fprintf(f, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\">"
                       "<title>", x, y + 2, w, row_h - 4, palette[s % PALETTE_N]);
            html_escape(f, labels[i]);
            if (series > 1 && series_names) {
                fputs(" ", f);
                html_escape(f, series_names[s]);
            }
            fprintf(f, ": %.4g %s</title></rect>\n", v, unit);
            x += w;
            sum += v;
        }
        fprintf(f, "<text x=\"%.1f\" y=\"%d\">%.3g %s</text>\n", x + 4, y + 12, sum, unit);
    }
    fputs("</svg>\n", f);
}

struct plot_area {
    double x0, x1, y0, y1;      /* data ranges */
    int left, top, width, height;
};

static double px(const struct plot_area *a, double x)
{
    return a->left + (a->x1 > a->x0 ? (x - a->x0) / (a->x1 - a->x0) : 0.5) * a->width;
}

static double py(const struct plot_area *a, double y)
{
    return a->top + a->height - (a->y1 > a->y0 ? (y - a->y0) / (a->y1 - a->y0) : 0.5) * a->height;
}

/* Fit the data range to round ticks and draw the axes, grid and labels. */
static void draw_axes(FILE *f, struct plot_area *a, int n, const double *x, const double *y,
                      const char *xlabel, const char *ylabel)
{
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i]))
            continue;
        xlo = fmin(xlo, x[i]);
        xhi = fmax(xhi, x[i]);
        ylo = fmin(ylo, y[i]);
        yhi = fmax(yhi, y[i]);
    }
    if (!isfinite(xlo)) {
        xlo = ylo = 0;
        xhi = yhi = 1;
    }
    double xs, xstep, ys, ystep;
    int nx = html_ticks(xlo, xhi, &xs, &xstep);
    int ny = html_ticks(ylo, yhi, &ys, &ystep);
    a->x0 = xs;
    a->x1 = xs + (nx - 1) * xstep;
    a->y0 = ys;
    a->y1 = ys + (ny - 1) * ystep;
    for (int i = 0; i < nx; i++) {
        double v = xs + i * xstep, X = px(a, v);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>"
                   "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.4g</text>\n",
                X, a->top, X, a->top + a->height, X, a->top + a->height + 14, v);
    }
    for (int i = 0; i < ny; i++) {
        double v = ys + i * ystep, Y = py(a, v);
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                   "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.4g</text>\n",
                a->left, Y, a->left + a->width, Y, a->left - 4, Y + 4, v);
    }
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
               "stroke=\"#888\"/>\n", a->left, a->top, a->width, a->height);
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", a->left + a->width / 2,
            a->top + a->height + 32);
    html_escape(f, xlabel);
    fprintf(f, "</text>\n<text x=\"14\" y=\"%d\" text-anchor=\"middle\" "
               "transform=\"rotate(-90 14 %d)\">", a->top + a->height / 2, a->top + a->height / 2);
    html_escape(f, ylabel);
    fputs("</text>\n", f);
}

static void begin_plot(FILE *f, struct plot_area *a, const char *title)
{
    a->left = 70;
    a->top = 30;
    a->width = CHART_W - 70 - 20;
    a->height = 300;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "role=\"img\">\n", CHART_W, a->top + a->height + 45);
    svg_title(f, title, 18);
}

void html_line_chart(FILE *f, const char *title, const char *xlabel, const char *ylabel, int n,
                     const double *x, const double *y)
{
    struct plot_area a;
    begin_plot(f, &a, title);
    draw_axes(f, &a, n, x, y, xlabel, ylabel);
    fputs("<polyline fill=\"none\" stroke=\"#4e79a7\" stroke-width=\"2\" points=\"", f);
    for (int i = 0; i < n; i++)
        if (isfinite(x[i]) && isfinite(y[i]))
            fprintf(f, "%.1f,%.1f ", px(&a, x[i]), py(&a, y[i]));
    fputs("\"/>\n", f);
    for (int i = 0; i < n; i++)
        if (isfinite(x[i]) && isfinite(y[i]))
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#4e79a7\">"
                       "<title>%.4g, %.4g</title></circle>\n",
                    px(&a, x[i]), py(&a, y[i]), x[i], y[i]);
    fputs("</svg>\n", f);
}

void html_scatter_chart(FILE *f, const char *title, const char *xlabel, const char *ylabel, int n,
                        const double *x, const double *y, const char *const *labels,
                        const int *front)
{
    struct plot_area a;
    begin_plot(f, &a, title);
    draw_axes(f, &a, n, x, y, xlabel, ylabel);
    /* the front, joined in x order (a simple insertion order walk: n is small) */
    fputs("<polyline fill=\"none\" stroke=\"#e15759\" stroke-width=\"2\" points=\"", f);
    double last = -INFINITY, last_y = 0;
    for (;;) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (front && front[i] && isfinite(x[i]) && isfinite(y[i]) && x[i] > last &&
                (best < 0 || x[i] < x[best]))
                best = i;
        if (best < 0)
            break;
        /* a staircase: what the best point so far buys until the next one */
        if (isfinite(last))
            fprintf(f, "%.1f,%.1f ", px(&a, x[best]), py(&a, last_y));
        fprintf(f, "%.1f,%.1f ", px(&a, x[best]), py(&a, y[best]));
        last = x[best];
        last_y = y[best];
    }
    fputs("\"/>\n", f);
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i]))
            continue;
        int on = front && front[i];
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%d\" fill=\"%s\"><title>",
                px(&a, x[i]), py(&a, y[i]), on ? 5 : 4, on ? "#e15759" : "#4e79a7");
        if (labels && labels[i])
            html_escape(f, labels[i]);
        fprintf(f, " (%.4g, %.4g)%s</title></circle>\n", x[i], y[i], on ? " Pareto" : "");
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" fill=\"#e15759\">&#8212; Pareto front</text>\n",
            a.left + a.width - 110, a.top + 14);
    fputs("</svg>\n", f);
}

void html_format_si(char *buf, size_t size, double v, const char *unit)
{
    static const struct { double scale; const char *prefix; } si[] = {
        {1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}, {1, ""}};
    size_t i = 0;
    while (i + 1 < sizeof si / sizeof si[0] && fabs(v) < si[i].scale * 0.9995)
        i++;
    const char *sep = si[i].prefix[0] || (unit && unit[0]) ? " " : "";
    snprintf(buf, size, "%.3g%s%s%s", v / si[i].scale, sep, si[i].prefix, unit ? unit : "");
}

/* A decade-aligned log range [10^lo, 10^hi] around [min, max], at least one decade wide. */
static void log_range(double min, double max, double *lo, double *hi)
{
    *lo = floor(log10(min));
    *hi = ceil(log10(max));
    if (*hi <= *lo)
        *hi = *lo + 1;
}

/* Where a point's name was written: names that would overlap one are left to the tooltip. */
struct label_box {
    double x0, y0, x1, y1;
};

static int label_fits(struct label_box *boxes, int *n, double x, double y, const char *text)
{
    struct label_box b = {x, y - 10, x + 5.5 * (double)strlen(text), y + 2};   /* 10 px font */
    for (int i = 0; i < *n; i++)
        if (b.x0 < boxes[i].x1 && boxes[i].x0 < b.x1 && b.y0 < boxes[i].y1 && boxes[i].y0 < b.y1)
            return 0;
    boxes[(*n)++] = b;
    return 1;
}

static int plottable(double x, double y)
{
    return isfinite(x) && isfinite(y) && x > 0 && y > 0;
}

void html_roofline_chart(FILE *f, const struct html_roofline *c)
{
    const int left = 80, top = 48, width = CHART_W - 80 - 20, height = 360;   /* legend above */
    double ridge = c->peak / c->bandwidth;
    double xmin = ridge, xmax = ridge, ymin = c->peak, ymax = c->peak;
    for (int i = 0; i < c->n; i++)
        if (plottable(c->x[i], c->y[i])) {
            xmin = fmin(xmin, c->x[i]);
            xmax = fmax(xmax, c->x[i]);
            ymin = fmin(ymin, c->y[i]);
            ymax = fmax(ymax, c->y[i]);
        }
    double xlo, xhi, ylo, yhi;
    log_range(xmin, xmax, &xlo, &xhi);
    log_range(ymin, ymax, &ylo, &yhi);
    if (xhi - log10(ridge) < 1)     /* room right of the ridge for the flat roof */
        xhi += 1;
#define RX(v) (left + (log10(v) - xlo) / (xhi - xlo) * width)
#define RY(v) (top + height - (log10(v) - ylo) / (yhi - ylo) * height)
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "role=\"img\">\n", CHART_W, top + height + 45);
    svg_title(f, c->title, 18);
    char t[48];
    for (double d = xlo; d <= xhi + 1e-9; d++) {
        double X = RX(pow(10, d));
        html_format_si(t, sizeof t, pow(10, d), "");
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>"
                   "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
                X, top, X, top + height, X, top + height + 14, t);
    }
    for (double d = ylo; d <= yhi + 1e-9; d++) {
        double Y = RY(pow(10, d));
        html_format_si(t, sizeof t, pow(10, d), "");
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                   "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                left, Y, left + width, Y, left - 4, Y + 4, t);
    }
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
               "stroke=\"#888\"/>\n", left, top, width, height);
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">arithmetic intensity (%s, log)"
               "</text>\n<text x=\"16\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 16 "
               "%d)\">attained (%s, log)</text>\n", left + width / 2, top + height + 32, c->xunit,
            top + height / 2, top + height / 2, c->yunit);
    /* the roofs: the slanted one from where it enters the plot to the ridge, then flat */
    double x0 = fmax(pow(10, xlo), pow(10, ylo) / c->bandwidth);
    fprintf(f, "<polyline fill=\"none\" stroke=\"#222\" stroke-width=\"2\" points=\"%.1f,%.1f "
               "%.1f,%.1f %.1f,%.1f\"/>\n", RX(x0), RY(c->bandwidth * x0), RX(ridge),
            RY(c->peak), RX(pow(10, xhi)), RY(c->peak));
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", RX(pow(10, xhi)) - 4,
            RY(c->peak) - 6);
    html_escape(f, c->peak_label);
    double angle = atan2(RY(c->peak) - RY(c->bandwidth * x0), RX(ridge) - RX(x0)) * 180 / acos(-1);
    double lx = RX(x0) + 0.25 * (RX(ridge) - RX(x0)), ly = RY(c->bandwidth * x0) +
                0.25 * (RY(c->peak) - RY(c->bandwidth * x0)) - 6;
    fprintf(f, "</text>\n<text x=\"%.1f\" y=\"%.1f\" transform=\"rotate(%.1f %.1f %.1f)\">",
            lx, ly, angle, lx, ly);
    html_escape(f, c->bandwidth_label);
    fputs("</text>\n", f);
    const char **legend = malloc((size_t)(c->n + 1) * sizeof *legend);   /* groups drawn */
    struct label_box *boxes = malloc((size_t)(c->n + 1) * sizeof *boxes);
    int ngroups = 0, nboxes = 0;
    for (int i = 0; i < c->n && legend && boxes; i++) {
        if (!plottable(c->x[i], c->y[i]))
            continue;
        const char *group = c->groups && c->groups[i] ? c->groups[i] : "";
        int g = 0;
        while (g < ngroups && strcmp(legend[g], group) != 0)
            g++;
        const char *colour = palette[g % PALETTE_N];
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\" fill-opacity=\"0.8\">"
                   "<title>", RX(c->x[i]), RY(c->y[i]), colour);
        html_escape(f, c->names ? c->names[i] : "");
        char xs[32], ys[32];
        html_format_si(xs, sizeof xs, c->x[i], c->xunit);
        html_format_si(ys, sizeof ys, c->y[i], c->yunit);
        fprintf(f, ": %s, %s</title></circle>\n", xs, ys);
        if (c->names &&
            label_fits(boxes, &nboxes, RX(c->x[i]) + 6, RY(c->y[i]) - 4, c->names[i])) {
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" style=\"font-size:10px\">", RX(c->x[i]) + 6,
                    RY(c->y[i]) - 4);
            html_escape(f, c->names[i]);
            fputs("</text>\n", f);
        }
        if (g == ngroups) {   /* a new group: its legend entry */
            legend[ngroups++] = group;
            if (c->groups) {
                int x = left + 75 * g;
                fprintf(f, "<circle cx=\"%d\" cy=\"%d\" r=\"4\" fill=\"%s\"/>"
                           "<text x=\"%d\" y=\"%d\">", x + 4, top - 14, colour, x + 12,
                        top - 10);
                html_escape(f, group);
                fputs("</text>\n", f);
            }
        }
    }
    free(legend);
    free(boxes);
#undef RX
#undef RY
    fputs("</svg>\n", f);
}
