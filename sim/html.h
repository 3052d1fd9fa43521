/* Self-contained HTML pages with inline SVG charts: no scripts, no external fonts or styles,
 * so report.html and sweep.html open offline in any browser. Everything writes to a FILE*. */
#ifndef E2_HTML_H
#define E2_HTML_H

#include <stdio.h>

/* <!DOCTYPE html> ... <body> with an inline style sheet, and the closing tags. */
void html_begin(FILE *f, const char *title);
void html_end(FILE *f);

/* Text with <, >, &, " escaped. */
void html_escape(FILE *f, const char *s);

/* Horizontal bars, one per label, each split into `series` stacked parts (values is
 * n x series, row-major); series_names labels the legend (NULL when series == 1). */
void html_bar_chart(FILE *f, const char *title, const char *unit, int n, const char *const *labels,
                    int series, const char *const *series_names, const double *values);

/* A line through (x[i], y[i]) with markers, axes with round ticks. */
void html_line_chart(FILE *f, const char *title, const char *xlabel, const char *ylabel, int n,
                     const double *x, const double *y);

/* Points (x[i], y[i]), labelled with labels[i] (may be NULL) in a tooltip; points with
 * front[i] != 0 are highlighted and joined by a line in x order (the Pareto front). */
void html_scatter_chart(FILE *f, const char *title, const char *xlabel, const char *ylabel, int n,
                        const double *x, const double *y, const char *const *labels,
                        const int *front);

/* A log-log roofline chart: each point (x[i], y[i]) with x an arithmetic intensity and y an
 * attained rate, under the roofs min(peak, bandwidth * x). Points are coloured by group (a
 * legend names the groups); every point has its name in a tooltip and, in array order, beside
 * it where it does not overlap a name already written. Points with x or y not positive and
 * finite are left out (the caller says so). */
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

/* "12.3 GMAC/s", "0.228": v with three significant digits, an SI prefix from 1000 up (k, M,
 * G, T) and the unit, after a space when either is there. */
void html_format_si(char *buf, size_t size, double v, const char *unit);

/* "Nice" axis ticks covering [lo, hi]: fills *start, *step, returns how many ticks. */
int html_ticks(double lo, double hi, double *start, double *step);

#endif
