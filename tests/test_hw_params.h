/* Tests only: fill a struct hw_params for the hardware-model tests without the config engine.
 * Defaults come from the schema rows themselves (sim/io/config_hw.c is compiled into the test, so
 * there is still ONE source of defaults); a YAML table such as configs/hw/test-energy.yaml is
 * laid over them by a small reader for its plain two-level `section:` / `key: value` form.
 * Unknown keys are errors, as in the real loader. */
#ifndef E2_TEST_HW_PARAMS_H
#define E2_TEST_HW_PARAMS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sim/io/config_hw.c"
#include "hw.h"

static inline const struct cfg_field *hwt_field(const char *key)
{
    for (const struct cfg_field *f = cfg_hw_fields; f->key; f++)
        if (strcmp(f->key, key) == 0)
            return f;
    return NULL;
}

/* Set one field of cfg from its YAML text; 0 on success. */
static inline int hwt_set(struct e2_config *cfg, const struct cfg_field *f, const char *text)
{
    char *end = NULL;
    void *at = (char *)cfg + f->offset;
    switch (f->type) {
    case CFG_INT: {
        long v = strtol(text, &end, 10);
        if (*end || v < f->min || v > f->max)
            return -1;
        *(int *)at = (int)v;
        return 0;
    }
    case CFG_DOUBLE: {
        double v = strtod(text, &end);
        if (*end || v < f->min || v > f->max)
            return -1;
        *(double *)at = v;
        return 0;
    }
    case CFG_BOOL:
        if (strcmp(text, "true") == 0)
            *(int *)at = 1;
        else if (strcmp(text, "false") == 0)
            *(int *)at = 0;
        else
            return -1;
        return 0;
    case CFG_STRING: {   /* "text", 'text' or text */
        size_t n = strlen(text);
        if (n >= 2 && (text[0] == '"' || text[0] == '\'') && text[n - 1] == text[0]) {
            text++;
            n -= 2;
        }
        if (n >= CFG_STR)
            return -1;
        memcpy(at, text, n);
        ((char *)at)[n] = '\0';
        return 0;
    }
    case CFG_ENUM: {   /* one of the row's "a|b" choices */
        size_t n = strlen(text);
        for (const char *c = f->choices; c && *c;) {
            const char *e = strchr(c, '|');
            size_t len = e ? (size_t)(e - c) : strlen(c);
            if (len == n && strncmp(c, text, n) == 0 && n < CFG_STR) {
                memcpy(at, text, n + 1);
                return 0;
            }
            c = e ? e + 1 : c + len;
        }
        return -1;
    }
    default:
        return -1;
    }
}

static inline int hwt_defaults(struct hw_params *p)
{
    struct e2_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return -1;
    int rc = 0;
    for (const struct cfg_field *f = cfg_hw_fields; f->key; f++)
        if (hwt_set(cfg, f, f->def) != 0) {
            fprintf(stderr, "bad default for %s: %s\n", f->key, f->def);
            rc = -1;
        }
    *p = cfg->hw;
    free(cfg);
    return rc;
}

static inline char *hwt_trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

/* Apply the keys of a YAML file over *p. seen (optional, one flag per schema row) records
 * which keys the file sets. Returns 0, or -1 with a message in err. */
static inline int hwt_overlay(struct hw_params *p, const char *path, int *seen, char *err, size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, len, "%s: cannot open", path);
        return -1;
    }
    struct e2_config *cfg = calloc(1, sizeof *cfg);
    cfg->hw = *p;
    char line[512], sect[4][64] = {{0}};
    int ind[4] = {0}, depth = 0, lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        int indent = 0;
        while (line[indent] == ' ')
            indent++;
        char *s = hwt_trim(line);
        if (!*s)
            continue;
        char *colon = strchr(s, ':');
        if (!colon) {
            snprintf(err, len, "%s:%d: expected 'key: value'", path, lineno);
            rc = -1;
            break;
        }
        *colon = '\0';
        char *key = hwt_trim(s), *val = hwt_trim(colon + 1);
        while (depth > 0 && ind[depth - 1] >= indent)
            depth--;
        if (!*val) {
            if (depth == 4) {
                rc = -1;
                break;
            }
            snprintf(sect[depth], sizeof sect[depth], "%s", key);
            ind[depth++] = indent;
            continue;
        }
        char full[256] = "";
        for (int i = 0; i < depth; i++) {
            strcat(full, sect[i]);
            strcat(full, ".");
        }
        strcat(full, key);
        const struct cfg_field *fd = hwt_field(full);
        if (!fd || hwt_set(cfg, fd, val) != 0) {
            snprintf(err, len, "%s:%d: %s '%s'", path, lineno, fd ? "bad value for" : "unknown key",
                     full);
            rc = -1;
            break;
        }
        if (seen)
            seen[fd - cfg_hw_fields] = 1;
    }
    fclose(f);
    if (rc == 0)
        *p = cfg->hw;
    free(cfg);
    return rc;
}

/* Defaults plus, when yaml is not NULL, that file (a path under the source tree). */
static inline int hwt_params(struct hw_params *p, const char *yaml)
{
    char err[512], path[1024];
    if (hwt_defaults(p) != 0)
        return -1;
    if (!yaml)
        return 0;
    snprintf(path, sizeof path, "%s/%s", E2SIM_SOURCE_DIR, yaml);
    if (hwt_overlay(p, path, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static inline struct hw_model *hwt_model_from(const struct hw_params *p)
{
    char err[512];
    struct hw_model *m = NULL;
    if (hw_create(p, &m, err, sizeof err) != 0) {
        fprintf(stderr, "hw_create: %s\n", err);
        return NULL;
    }
    return m;
}

/* Sum of one action's count over a ledger's rows (0 when absent). */
static inline uint64_t hwt_count(const struct hw_ledger *l, int component, const char *action)
{
    struct hw_row rows[256];
    size_t n = hw_ledger_rows(l, NULL, rows, 256);
    for (size_t i = 0; i < n && i < 256; i++)
        if (rows[i].component == component && strcmp(rows[i].action, action) == 0)
            return rows[i].count;
    return 0;
}

static inline uint64_t hwt_unit(const struct hw_ledger *l, int component, const char *action)
{
    struct hw_row rows[256];
    size_t n = hw_ledger_rows(l, NULL, rows, 256);
    for (size_t i = 0; i < n && i < 256; i++)
        if (rows[i].component == component && strcmp(rows[i].action, action) == 0)
            return rows[i].fj_per_action;
    return 0;
}

/* A conv record with the usual fields. */
static inline struct oprec hwt_conv(int phase, uint32_t n, int cin, int cout, int hw_in, int k, int stride,
                             int bits_a, int bits_b, int bits_out)
{
    struct oprec r;
    memset(&r, 0, sizeof r);
    r.kind = OP_CONV;
    r.phase = (uint8_t)phase;
    r.n = n;
    r.cin = (uint16_t)cin;
    r.cout = (uint16_t)cout;
    r.groups = 1;
    r.k = (uint8_t)k;
    r.stride = (uint8_t)stride;
    r.pad = (uint8_t)(k / 2);
    r.h_in = r.w_in = (uint16_t)hw_in;
    r.h_out = r.w_out = (uint16_t)((hw_in + 2 * (k / 2) - k) / stride + 1);
    r.bits_a = (uint8_t)bits_a;
    r.bits_b = (uint8_t)bits_b;
    r.bits_out = (uint8_t)bits_out;
    r.bits_acc = 48;
    return r;
}

/* An element-wise record on a c x hw x hw map. */
static inline struct oprec hwt_elt(int kind, int phase, uint32_t n, int c, int hw, int bits_a, int bits_b,
                            int bits_out)
{
    struct oprec r;
    memset(&r, 0, sizeof r);
    r.kind = (uint8_t)kind;
    r.phase = (uint8_t)phase;
    r.n = n;
    r.cin = r.cout = (uint16_t)c;
    r.groups = 1;
    r.h_in = r.w_in = r.h_out = r.w_out = (uint16_t)hw;
    r.bits_a = (uint8_t)bits_a;
    r.bits_b = (uint8_t)bits_b;
    r.bits_out = (uint8_t)bits_out;
    r.bits_acc = 48;
    return r;
}

#endif
