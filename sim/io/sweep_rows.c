/* Reading sweep.jsonl: its rows, the repair of a torn last line, duplicates (see sweep_rows.h). */
#include "sweep_rows.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "outdir.h"

const char *const sweep_result_keys[][2] = {
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
const int sweep_result_count = (int)(sizeof sweep_result_keys / sizeof sweep_result_keys[0]);

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

/* A NUL byte is never written by an append (lines are JSON text): it is damage, e.g. a block of
 * zeros a crash left in the file. The readers below work on C strings, so a NUL would end the
 * text early: every line after it would be silently dropped (points rerun, or a repair writing
 * the file back without them). Refuse it instead, naming its line. */
static int refuse_nul(const char *path, const char *text, size_t len, struct e2_err *err)
{
    const char *nul = memchr(text, '\0', len);
    if (!nul)
        return E2_OK;
    int line = 1;
    for (const char *p = text; p < nul; p++)
        line += *p == '\n';
    return e2_fail(err, E2_BAD_INPUT, "%s:%d: a NUL byte at byte offset %zu: the file is "
                   "damaged; remove that line (its point runs again on --resume)", path, line,
                   (size_t)(nul - text));
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
    int line = 0, rc = refuse_nul(path, text, len, err);
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
            double point = rc == E2_OK ? json_get_number(v, "point", -1) : -1;
            double points = rc == E2_OK ? json_get_number(v, "points", -1) : -1;
            if (rc == E2_OK && (v->type != JSON_OBJECT || point < 0 || points < 1 ||
                                point != floor(point) || points != floor(points))) {
                json_free(v);
                rc = e2_fail(err, E2_BAD_INPUT, "%s: not a sweep point line", name);
            } else if (rc == E2_OK && point >= points) {
                /* a resume would index past its points, a merge would list a point that no
                   config of this sweep has */
                json_free(v);
                rc = e2_fail(err, E2_BAD_INPUT, "%s: point %.0f is beyond the sweep's %.0f points "
                             "(0 to %.0f)", name, point, points, points - 1);
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

int sweep_repair_rows(const char *dir, struct e2_err *err)
{
    char path[OUT_PATH_MAX];
    if (out_join(path, sizeof path, dir, "sweep.jsonl", err))
        return E2_FAILURE;
    size_t len;
    int missing;
    char *text = read_text(path, &len, &missing);
    if (!text)
        return missing ? E2_OK : e2_fail(err, E2_FAILURE, "%s: cannot read", path);
    int rc = refuse_nul(path, text, len, err);
    if (rc == E2_OK && len > 0 && text[len - 1] != '\n') {
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
    if (*count > 1)   /* rows is NULL when there are none, which qsort may not be given */
        qsort(rows, (size_t)*count, sizeof *rows, compare_rows);
    /* rows of one sweep only; checked first, so that one point of two sweeps is said to be
       that, not a point with two results */
    for (int i = 1; i < *count; i++) {
        const char *a = json_get_string(rows[0].json, "sweep");
        const char *b = json_get_string(rows[i].json, "sweep");
        if (!a || !b || strcmp(a, b) != 0)
            return e2_fail(err, E2_BAD_INPUT, "%s: points %ld and %ld come from different sweeps "
                           "(config hash %s vs %s)", what, rows[0].point, rows[i].point,
                           a ? a : "?", b ? b : "?");
    }
    int out = 0;
    for (int i = 0; i < *count; i++) {
        if (out > 0 && rows[out - 1].point == rows[i].point) {
            if (!same_point(&rows[out - 1], &rows[i])) {
                /* the rows not yet looked at move down, so rows[0..*count) stay the caller's
                   to free, each once */
                long point = rows[i].point;
                memmove(&rows[out], &rows[i], (size_t)(*count - i) * sizeof *rows);
                *count = out + (*count - i);
                return e2_fail(err, E2_BAD_INPUT, "%s: point %ld appears twice with different "
                               "values or results", what, point);
            }
            json_free(rows[i].json);
            free(rows[i].text);
            continue;
        }
        rows[out++] = rows[i];
    }
    *count = out;
    return E2_OK;
}
