/* The resolved config printed as YAML (--print-config, config.yaml; loading it back gives the
 * same config) and as one JSON object (report.json), and the hash of its values. */
#define _DEFAULT_SOURCE     /* open_memstream */
#include "config_internal.h"

#include <stdlib.h>
#include <string.h>
#include "json.h"
#include "outdir.h"

/* Rows a print of this config shows: a hardware config shows only what it may hold. */
static int printable(const struct e2_config *cfg, const struct cfg_field *f)
{
    return cfg_allowed_in_scope(cfg->scope, f->key);
}

/* Field i is the first row of its child section under prefix (so the section prints once). */
static int first_in_child(int i, const char *prefix, const struct e2_config *cfg)
{
    char mine[KEY_MAX + 1], other[KEY_MAX + 1];
    cfg_child_name(cfg_field_at(i)->key, prefix, mine, sizeof mine);
    for (int j = 0; j < i; j++) {
        if (!cfg_in_section(cfg_field_at(j)->key, prefix) || !printable(cfg, cfg_field_at(j)))
            continue;
        cfg_child_name(cfg_field_at(j)->key, prefix, other, sizeof other);
        if (strcmp(mine, other) == 0)
            return 0;
    }
    return 1;
}

#define DOC_COLUMN 40

static void print_line(FILE *out, int indent, const char *text, const char *doc)
{
    int n = fprintf(out, "%*s%s", indent, "", text);
    if (doc)
        fprintf(out, "%*s# %s", n < DOC_COLUMN - 2 ? DOC_COLUMN - n : 2, "", doc);
    fputc('\n', out);
}

static void print_section(FILE *out, const struct e2_config *cfg, const char *prefix, int indent,
                          int docs)
{
    char text[CFG_TEXT + 2 * KEY_MAX], value[CFG_TEXT], child[KEY_MAX + 1];
    for (int i = 0; cfg_field_at(i); i++) {
        const struct cfg_field *f = cfg_field_at(i);
        if (!cfg_in_section(f->key, prefix) || !printable(cfg, f))
            continue;
        cfg_child_name(f->key, prefix, child, sizeof child);
        const char *rest = f->key + (prefix[0] ? strlen(prefix) + 1 : 0);
        if (!strchr(rest, '.')) {
            cfg_format_value(cfg, f, value, sizeof value);
            snprintf(text, sizeof text, "%s: %s", child, value);
            print_line(out, indent, text, docs ? f->doc : NULL);
        } else if (first_in_child(i, prefix, cfg)) {
            char path[2 * KEY_MAX + 2];
            if (cfg_join_key(path, sizeof path, prefix, child))
                continue;
            snprintf(text, sizeof text, "%s:", child);
            print_line(out, indent, text, NULL);
            print_section(out, cfg, path, indent + 2, docs);
        }
    }
}

static void print_sweep(FILE *out, const struct e2_config *cfg, int docs)
{
    char text[CFG_TEXT + 2 * KEY_MAX], points[48];
    /* the count lets scripts size a job array (scripts/slurm-sweep) without parsing lists */
    long n = cfg_sweep_points(cfg);
    snprintf(points, sizeof points, "%ld point%s", n, n == 1 ? "" : "s");
    print_line(out, 0, "sweep:", docs ? points : NULL);
    snprintf(text, sizeof text, "mode: %s", cfg_sweep_mode_names[cfg->sweep.mode]);
    print_line(out, 2, text,
               docs ? "grid: every combination (first key slowest); zip: i-th values together"
                    : NULL);
    print_line(out, 2, "vary:", docs ? "config key: list of its values" : NULL);
    for (int k = 0; k < cfg->sweep.keys.n; k++) {
        snprintf(text, sizeof text, "%s: %s", cfg->sweep.keys.v[k], cfg->sweep.values.v[k]);
        print_line(out, 4, text, NULL);
    }
}

static void print_config(FILE *out, const struct e2_config *cfg, int docs)
{
    if (docs)
        fprintf(out, "# e2sim configuration, fully resolved: every key with its value and doc.\n"
                     "# Load it again with: e2sim --config FILE\n");
    print_section(out, cfg, "", 0, docs);
    if (cfg->has_sweep)
        print_sweep(out, cfg, docs);
}

void cfg_print(FILE *out, const struct e2_config *cfg)
{
    print_config(out, cfg, 1);
}

char *cfg_print_text(const struct e2_config *cfg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    cfg_print(f, cfg);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

int cfg_write_resolved(const char *dir, const struct e2_config *cfg, struct e2_err *err)
{
    char path[OUT_PATH_MAX];
    struct out_file f;
    if (out_join(path, sizeof path, dir, "config.yaml", err) || out_open_tmp(path, &f, err))
        return E2_FAILURE;
    cfg_print(f.fp, cfg);
    return out_commit(&f, err) ? E2_FAILURE : E2_OK;
}

uint64_t cfg_hash(const struct e2_config *cfg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    uint64_t h = 0xcbf29ce484222325ull;
    if (!mem)
        return 0;
    print_config(mem, cfg, 0);
    fclose(mem);
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)text[i];
        h *= 0x100000001b3ull;
    }
    free(text);
    return h;
}

/* ---- JSON ---- */

static void json_value(FILE *out, const struct e2_config *cfg, const struct cfg_field *f)
{
    const void *v = cfg_cslot(cfg, f);
    char num[64];
    switch (f->type) {
    case CFG_STRING:
        json_write_escaped(out, v);
        return;
    case CFG_CHOICE: {
        char name[CFG_STR];
        cfg_choice_text(f, *(const int *)v, name, sizeof name);
        json_write_escaped(out, name);
        return;
    }
    case CFG_STRING_LIST: {
        const struct cfg_string_list *l = v;
        fputc('[', out);
        for (int i = 0; i < l->n; i++) {
            if (i)
                fputs(", ", out);
            json_write_escaped(out, l->v[i]);
        }
        fputc(']', out);
        return;
    }
    case CFG_DOUBLE_LIST: {
        const struct cfg_double_list *l = v;
        fputc('[', out);
        for (int i = 0; i < l->n; i++) {
            cfg_format_double(l->v[i], num, sizeof num);
            fprintf(out, "%s%s", i ? ", " : "", num);
        }
        fputc(']', out);
        return;
    }
    default: {   /* numbers, booleans and integer lists read the same in YAML and JSON */
        char text[CFG_LIST_MAX * 16];
        cfg_format_value(cfg, f, text, sizeof text);
        fputs(text, out);
    }
    }
}

static void json_section(FILE *out, const struct e2_config *cfg, const char *prefix)
{
    char child[KEY_MAX + 1];
    int first = 1;
    fputc('{', out);
    for (int i = 0; cfg_field_at(i); i++) {
        const struct cfg_field *f = cfg_field_at(i);
        if (!cfg_in_section(f->key, prefix) || !printable(cfg, f))
            continue;
        cfg_child_name(f->key, prefix, child, sizeof child);
        const char *rest = f->key + (prefix[0] ? strlen(prefix) + 1 : 0);
        int leaf = !strchr(rest, '.');
        if (!leaf && !first_in_child(i, prefix, cfg))
            continue;
        fputs(first ? "" : ", ", out);
        first = 0;
        json_write_escaped(out, child);
        fputs(": ", out);
        if (leaf) {
            json_value(out, cfg, f);
        } else {
            char path[2 * KEY_MAX + 2];
            if (cfg_join_key(path, sizeof path, prefix, child) == 0)
                json_section(out, cfg, path);
            else
                fputs("{}", out);
        }
    }
    if (!prefix[0] && cfg->has_sweep) {
        fputs(", \"sweep\": {\"mode\": ", out);
        json_write_escaped(out, cfg_sweep_mode_names[cfg->sweep.mode]);
        fputs(", \"vary\": {", out);
        for (int k = 0; k < cfg->sweep.keys.n; k++) {
            fputs(k ? ", " : "", out);
            json_write_escaped(out, cfg->sweep.keys.v[k]);
            fputs(": ", out);
            json_write_escaped(out, cfg->sweep.values.v[k]);
        }
        fputs("}}", out);
    }
    fputc('}', out);
}

void cfg_print_json(FILE *out, const struct e2_config *cfg)
{
    json_section(out, cfg, "");
}

void cfg_network_text(const struct e2_config *cfg, char *buf, size_t size)
{
    if (cfg->network.arch == CFG_ARCH_MOBILENETV2)
        snprintf(buf, size, "mobilenetv2-w%d", cfg->network.width);
    else
        snprintf(buf, size, "resnet-%d", cfg->network.depth);
}

void cfg_method_text(const struct e2_config *cfg, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < cfg->training.method.n && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? "+" : "",
                                cfg->training.method.v[i]);
}
