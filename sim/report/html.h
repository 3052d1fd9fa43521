/* Self-contained HTML pages with inline SVG charts: no scripts, no external fonts or styles,
 * so report.html and sweep.html open offline in any browser. Everything writes to a FILE*.
 * Every chart has axes with round ticks in readable units ("50 kJ", "2 ms"), and every value
 * a reader cannot see on an axis is printed beside its mark or in a tooltip. */
#ifndef E2_HTML_H
#define E2_HTML_H

#include <stdio.h>

/* <!DOCTYPE html> ... <body> with an inline style sheet, and the closing tags. */
void html_begin(FILE *f, const char *title);
void html_end(FILE *f);

/* Text with <, >, &, " escaped. */
void html_escape(FILE *f, const char *s);

/* "136.3 kJ", "845.2 mJ", "0 J": v with four significant digits and an SI prefix from p to T,
 * the unit after a space. report.md and the charts print energies and times with it. */
void html_format_unit(char *buf, size_t size, double v, const char *unit);

/* "12.3 GMAC/s", "0.228": three significant digits, prefixes only from 1000 up (k, M, G, T):
 * for counts and rates whose fractions read better plain. */
void html_format_si(char *buf, size_t size, double v, const char *unit);

/* "Nice" axis ticks covering [lo, hi]: fills *start, *step, returns how many ticks. */
int html_ticks(double lo, double hi, double *start, double *step);

/* Horizontal bars, one per label, each split into `series` stacked parts (values is n x
 * series, row-major). A bottom axis in `unit`; beside each bar its sum and its share of
 * `total` (0: the sum of all bars); a legend names the series with each one's share. A part
 * too small to see is drawn 2 px wide, so every non-zero series shows. The axis reaches the
 * longest bar, or axis_max when that is less: a longer bar (an "other" that dwarfs the rest)
 * is squeezed to end just past the axis, its parts in proportion, and drawn broken. */
struct html_bars {
    const char *title, *unit;
    int n;
    const char *const *labels;
    int series;
    const char *const *series_names;    /* NULL when series == 1 */
    const double *values;
    double total;
    double axis_max;                    /* 0: the longest bar */
};
void html_bar_chart(FILE *f, const struct html_bars *c);

/* A line through (x[i], y[i]) with markers, axes with round ticks in the units. */
struct html_line {
    const char *title, *xlabel, *xunit, *ylabel, *yunit;
    int n;
    const double *x, *y;
};
void html_line_chart(FILE *f, const struct html_line *c);

/* Points (x[i], y[i]) named by labels[i] beside the point where the label placer finds room
 * (always in a tooltip, with tips[i] when given). Points with front[i] != 0 are drawn on top,
 * red, joined by a staircase in x order, and the legend above the plot names front_name; no
 * legend when no front point is drawn. Points with a non-finite coordinate are left out. */
struct html_scatter {
    const char *title, *xlabel, *xunit, *ylabel, *yunit;
    int n;
    const double *x, *y;
    const char *const *labels, *const *tips;
    const int *front;                   /* NULL: no front */
    const char *front_name;
};
void html_scatter_chart(FILE *f, const struct html_scatter *c);

/* The label placer: a label's box, in SVG pixels (y down). */
struct html_box {
    double x0, y0, x1, y1;
};
#define HTML_LABEL_PX 10                /* label font size */
/* The box of `text` written at (x, y) (start-anchored, y the baseline) in the label font. */
struct html_box html_label_box(double x, double y, const char *text);
/* Greedy placement: for each label in order (NULL or "" skipped), the first of eight spots
 * around its point (right, left, above, below, then the diagonals; then the same eight a
 * label's height further out) whose box stays inside
 * `area` and overlaps no label placed before and no point's marker (radius r around each
 * (px, py)). Fills at[i] with the text position (x, y) and returns 1 in placed[i], or 0 when
 * no spot is free (the tooltip still names the point). Placed boxes never overlap. */
void html_place_labels(int n, const double *px, const double *py, double r,
                       const char *const *labels, struct html_box area, double (*at)[2],
                       int *placed);

/* A log-log roofline chart: each point (x[i], y[i]) with x an arithmetic intensity and y an
 * attained rate, under the roofs min(peak, bandwidth * x). Points are coloured by group (a
 * legend names the groups); every point has its name in a tooltip and, in array order, beside
 * it where the label placer finds room. Points with x or y not positive and finite are left
 * out (the caller says so). */
struct html_roofline {
    const char *title;
    const char *xunit, *yunit;          /* "MAC/B", "MAC/s": axes read "1 k MAC/B", "10 G MAC/s" */
    double peak, bandwidth;             /* the flat roof (y), the slanted one's y per unit of x */
    const char *peak_label, *bandwidth_label;
    int n;
    const double *x, *y;
    const char *const *names, *const *groups;
};
void html_roofline_chart(FILE *f, const struct html_roofline *c);

#endif
