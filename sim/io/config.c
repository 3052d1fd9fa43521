/* The config engine's public entry points (config.h): loading, --set, resolving, defaults,
 * and the schema lookups every part shares. The parts, one job each: config_internal.h.
 * The schema tables are cfg_run_fields (config_fields.c) and cfg_hw_fields (config_hw.c); both
 * are treated alike, and a row's dotted key names its place in the YAML tree. */
#include "config_internal.h"

#include <stdlib.h>
#include <string.h>

static const struct cfg_field *const cfg_tables[] = {cfg_run_fields, cfg_hw_fields};
#define NTABLES ((int)(sizeof cfg_tables / sizeof cfg_tables[0]))

/* Keys a config file must set itself (CFG_SCOPE_RUN): the run's name and what it trains. */
const char *const cfg_required_keys[] = {"name", "training.method", NULL};

/* The i-th row over both tables, or NULL past the end. */
const struct cfg_field *cfg_field_at(int i)
{
    for (int t = 0; t < NTABLES; t++) {
        for (const struct cfg_field *f = cfg_tables[t]; f->key; f++)
            if (i-- == 0)
                return f;
    }
    return NULL;
}

int cfg_field_count(void)
{
    int n = 0;
    while (cfg_field_at(n))
        n++;
    return n;
}

int cfg_field_index(const struct cfg_field *field)
{
    for (int i = 0;; i++) {
        const struct cfg_field *f = cfg_field_at(i);
        if (!f || f == field)
            return f ? i : -1;
    }
}

const struct cfg_field *cfg_find_field(const char *key)
{
    for (int i = 0;; i++) {
        const struct cfg_field *f = cfg_field_at(i);
        if (!f || strcmp(f->key, key) == 0)
            return f;
    }
}

/* key lies inside section `prefix` ("" = the top level). */
int cfg_name_index(const char *const *names, const char *name)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

int cfg_in_section(const char *key, const char *prefix)
{
    size_t n = strlen(prefix);
    return n == 0 || (strncmp(key, prefix, n) == 0 && key[n] == '.');
}

/* path names a section: some key lies strictly inside it. */
int cfg_is_section(const char *path)
{
    for (int i = 0; cfg_field_at(i); i++)
        if (path[0] && cfg_in_section(cfg_field_at(i)->key, path))
            return 1;
    return 0;
}

/* buf = "prefix.child" (or "child" at the top level); 0, or -1 if it did not fit. */
int cfg_join_key(char *buf, size_t size, const char *prefix, const char *child)
{
    int n = snprintf(buf, size, "%s%s%s", prefix, prefix[0] ? "." : "", child);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

int cfg_key_required(const char *key)
{
    for (int i = 0; cfg_required_keys[i]; i++)
        if (strcmp(cfg_required_keys[i], key) == 0)
            return 1;
    return 0;
}

/* What a replay's hardware config may hold. */
int cfg_allowed_in_scope(enum cfg_scope scope, const char *path)
{
    static const char *const hw_sections[] = {"name", "hardware", "energy", "report", "sweep"};
    if (scope == CFG_SCOPE_RUN)
        return 1;
    for (size_t i = 0; i < sizeof hw_sections / sizeof hw_sections[0]; i++) {
        size_t n = strlen(hw_sections[i]);
        if (strncmp(path, hw_sections[i], n) == 0 && (path[n] == 0 || path[n] == '.'))
            return 1;
    }
    return 0;
}

int cfg_is_hw_key(const char *key)
{
    return strncmp(key, "hardware.", 9) == 0 || strncmp(key, "energy.", 7) == 0;
}

void *cfg_slot(struct e2_config *cfg, const struct cfg_field *f)
{
    return (char *)cfg + f->offset;
}

const void *cfg_cslot(const struct e2_config *cfg, const struct cfg_field *f)
{
    return (const char *)cfg + f->offset;
}

/* Every table default; a default that does not validate is a bug in a table (E2_FAILURE). */
int cfg_defaults_checked(struct e2_config *cfg, struct e2_err *err)
{
    memset(cfg, 0, sizeof *cfg);
    for (int i = 0; cfg_field_at(i); i++) {
        const struct cfg_field *f = cfg_field_at(i);
        struct origin o = {NULL, f->key};
        if (cfg_apply_text(&o, f, f->def ? f->def : "", cfg, err) != E2_OK) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err->msg);
            return e2_fail(err, E2_FAILURE, "internal error: bad default in the schema: %s", msg);
        }
    }
    cfg->sweep.mode = CFG_SWEEP_GRID;
    cfg->scope = CFG_SCOPE_RUN;
    const struct cfg_field *b1, *b2;
    char why[600];
    if (cfg_resolve_rules(cfg, &b1, &b2, why, sizeof why))
        return e2_fail(err, E2_FAILURE, "internal error: the schema defaults break a rule: %s",
                       why);
    return E2_OK;
}

void cfg_defaults(struct e2_config *cfg)
{
    struct e2_err err;
    cfg_defaults_checked(cfg, &err);   /* tests check that the tables' defaults are valid */
}

int cfg_load_scoped(const char *path, const char *const *sets, int nsets, enum cfg_scope scope,
                    struct e2_config *cfg, struct e2_err *err)
{
    int rc = cfg_defaults_checked(cfg, err);
    if (rc != E2_OK)
        return rc;
    cfg->scope = scope;
    if (strlen(path) >= sizeof cfg->source)
        return e2_fail(err, E2_BAD_INPUT, "config path is too long: %s", path);
    snprintf(cfg->source, sizeof cfg->source, "%s", path);
    return cfg_load_files(path, sets, nsets, scope, cfg, err);
}

int cfg_load(const char *path, const char *const *sets, int nsets, struct e2_config *cfg,
             struct e2_err *err)
{
    return cfg_load_scoped(path, sets, nsets, CFG_SCOPE_RUN, cfg, err);
}

int cfg_set(struct e2_config *cfg, const char *assignment, struct e2_err *err)
{
    if (cfg_apply_set(cfg, cfg->scope, assignment, err))
        return E2_BAD_INPUT;
    const struct cfg_field *b1, *b2;
    char why[600];
    if (cfg_resolve_rules(cfg, &b1, &b2, why, sizeof why))
        return e2_fail(err, E2_BAD_INPUT, "--set %s: %s", assignment, why);
    return E2_OK;
}

int cfg_resolve(struct e2_config *cfg, struct e2_err *err)
{
    const struct cfg_field *b1, *b2;
    char why[600];
    if (cfg_resolve_rules(cfg, &b1, &b2, why, sizeof why))
        return e2_fail(err, E2_BAD_INPUT, "config: %s", why);
    return E2_OK;
}
