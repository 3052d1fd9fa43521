/* The calibrated hardware table that `e2sim calibrate` writes (calibrate_write_hw in
 * calibrate.h): every hardware: and energy: key in schema order, each with its doc as a comment,
 * the fitted ones marked with their fit. */
#include "calibrate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Number of leading dotted components two keys share. */
static int common_parts(const char *a, const char *b, int *depth_a)
{
    int common = 0, same = 1, depth = 0;
    while (*a) {
        const char *da = strchr(a, '.');
        if (!da)
            break;
        size_t la = (size_t)(da - a);
        const char *db = b ? strchr(b, '.') : NULL;
        if (same && db && (size_t)(db - b) == la && strncmp(a, b, la) == 0) {
            common++;
            b = db + 1;
        } else {
            same = 0;
        }
        depth++;
        a = da + 1;
    }
    *depth_a = depth;
    return common;
}

static void section_name(const char *key, int part, char *buf, size_t size)
{
    for (int i = 0; i < part; i++)
        key = strchr(key, '.') + 1;
    const char *dot = strchr(key, '.');
    snprintf(buf, size, "%.*s", (int)(dot ? dot - key : (long)strlen(key)), key);
}

int calibrate_write_hw(FILE *out, const struct calibrate *c, const double *values,
                       const double *std_errors, const char *header, struct e2_err *err)
{
    struct e2_config *cfg = malloc(sizeof *cfg);
    if (!cfg)
        return e2_fail(err, E2_FAILURE, "out of memory");
    *cfg = *c->base;
    for (int k = 0; k < c->np; k++)
        hw_param_set(&cfg->hw, c->def[k], values[k]);
    for (const char *h = header; h && *h;) {
        const char *nl = strchr(h, '\n');
        int len = nl ? (int)(nl - h) : (int)strlen(h);
        fprintf(out, "#%s%.*s\n", len ? " " : "", len, h);
        h = nl ? nl + 1 : h + len;
    }
    const char *prev = NULL;
    int rc = E2_OK;
    for (const struct cfg_field *f = cfg_hw_fields; f->key && rc == E2_OK; f++) {
        int depth, common = common_parts(f->key, prev, &depth);
        if (prev && common < depth) {
            /* a section reopened after another one would be a duplicate YAML key */
            for (const struct cfg_field *g = cfg_hw_fields; g != f; g++) {
                int dg, cg = common_parts(f->key, g->key, &dg);
                if (cg == depth && common < depth)
                    rc = e2_fail(err, E2_FAILURE, "internal error: schema section of %s is "
                                 "not contiguous", f->key);
            }
        }
        for (int d = common; d < depth; d++) {
            char name[CFG_STR];
            section_name(f->key, d, name, sizeof name);
            fprintf(out, "%s%*s%s:\n", d == 0 ? "\n" : "", 2 * d, "", name);
        }
        char value[CFG_TEXT], leaf[CFG_STR];
        if (cfg_format_value(cfg, f, value, sizeof value) < 0)
            rc = e2_fail(err, E2_FAILURE, "internal error: %s does not print", f->key);
        section_name(f->key, depth, leaf, sizeof leaf);
        int fitted = -1;
        for (int k = 0; k < c->np; k++)
            if (strcmp(c->def[k]->key, f->key) == 0)
                fitted = k;
        if (fitted >= 0) {
            char se[64];
            if (fitted == c->int_k)
                snprintf(se, sizeof se, "(integer: the best of every value in the bounds)");
            else if (std_errors && isfinite(std_errors[fitted]))
                snprintf(se, sizeof se, "+- %.2g", std_errors[fitted]);
            else
                snprintf(se, sizeof se, "(at a bound, no standard error)");
            fprintf(out, "%*s%s: %s   # FITTED by e2sim calibrate: %.4g %s (sourced start %g; "
                    "bounds [%g, %g]). %s\n", 2 * depth, "", leaf, value, values[fitted], se,
                    c->param[fitted].start, c->param[fitted].min, c->param[fitted].max, f->doc);
        }
        else
            fprintf(out, "%*s%s: %s   # %s\n", 2 * depth, "", leaf, value, f->doc);
        prev = f->key;
    }
    free(cfg);
    return rc;
}

