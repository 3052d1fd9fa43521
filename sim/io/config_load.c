/* The file loader: a config file and its includes, then the --set overrides, over the defaults;
 * strict (unknown and duplicate keys, scope), and every error names FILE:LINE:COL or the --set. */
#define _DEFAULT_SOURCE     /* realpath */
#include "config_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_FILES 64            /* files one load may read, includes counted */
#define MAX_DEPTH 16            /* include nesting */

/* Where a field got its value: a file position, a --set, or the table default. */
struct place {
    int src;            /* >= 0: file index; PLACE_DEFAULT; <= PLACE_SET0: set (PLACE_SET0 - k) */
    size_t line, col;   /* 1-based, for files */
};
enum { PLACE_DEFAULT = -1, PLACE_SET0 = -2 };

struct loader {
    struct e2_config *cfg;
    enum cfg_scope scope;
    struct place *places;               /* one per field, by cfg_field_index() */
    char *files[MAX_FILES];             /* display paths of the files read */
    int nfiles;
    char *chain[MAX_DEPTH];             /* real paths of the includes being loaded */
    int chain_file[MAX_DEPTH];
    int depth;
    const char *const *sets;
    struct place top;                   /* the top file's first node */
    struct place sweep_keys[CFG_LIST_MAX];
};

static struct place node_place(int file, const yaml_node_t *node)
{
    struct place p = {file, node->start_mark.line + 1, node->start_mark.column + 1};
    return p;
}

static void place_text(const struct loader *L, struct place p, char *buf, size_t size)
{
    if (p.src == PLACE_DEFAULT)
        p = L->top;
    if (p.src >= 0)
        snprintf(buf, size, "%s:%zu:%zu", L->files[p.src], p.line, p.col);
    else
        snprintf(buf, size, "--set %s", L->sets[PLACE_SET0 - p.src]);
}

static int fail_place(struct e2_err *err, const struct loader *L, struct place p,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail_place(struct e2_err *err, const struct loader *L, struct place p,
                      const char *fmt, ...)
{
    char where[CFG_STR + 300], what[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    place_text(L, p, where, sizeof where);
    return e2_fail(err, E2_BAD_INPUT, "%s: %s", where, what);
}

static void record_place(struct loader *L, const struct cfg_field *f, struct place p)
{
    L->places[cfg_field_index(f)] = p;
}

/* " in training.psg" or "" at the top level. */
static const char *in_what(const char *prefix, char *buf, size_t size)
{
    if (!prefix[0])
        return "";
    snprintf(buf, size, " in %s", prefix);
    return buf;
}

/* Orders a mapping's keys by text, then by position, so that duplicates sit side by side. */
static int compare_keys(const void *a, const void *b)
{
    const yaml_node_t *const *x = a, *const *y = b;
    int c = strcmp(cfg_scalar_of(*x), cfg_scalar_of(*y));
    return c ? c : (*x > *y) - (*x < *y);
}

/* Keys of one mapping must be plain, non-empty and unique (sorted, not pairwise: a mapping may
 * have many keys). The duplicate reported is the first one in the file. */
static int check_keys(const struct origin *o, yaml_document_t *doc, yaml_node_t *map,
                      const char *prefix, struct e2_err *err)
{
    char in[KEY_MAX + 8];
    size_t n = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
    const yaml_node_t **keys = malloc((n ? n : 1) * sizeof *keys);
    if (!keys)
        return e2_fail(err, E2_FAILURE, "out of memory");
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *key = yaml_document_get_node(doc, map->data.mapping.pairs.start[i].key);
        keys[i] = key;
        if (key->type != YAML_SCALAR_NODE || !cfg_scalar_of(key)[0]) {
            free(keys);
            return cfg_fail_node(err, o, key, "a key must be a plain name%s, got %s",
                             in_what(prefix, in, sizeof in),
                             key->type == YAML_SCALAR_NODE ? "an empty one" : cfg_node_kind(key));
        }
    }
    /* nodes are numbered in file order (aliases are copies placed at the alias) */
    qsort(keys, n, sizeof *keys, compare_keys);
    const yaml_node_t *first = NULL, *dup = NULL;
    for (size_t i = 1; i < n; i++)
        if (strcmp(cfg_scalar_of(keys[i - 1]), cfg_scalar_of(keys[i])) == 0 &&
            (i < 2 || strcmp(cfg_scalar_of(keys[i - 2]), cfg_scalar_of(keys[i])) != 0) &&
            (!dup || keys[i] < dup)) {
            first = keys[i - 1];
            dup = keys[i];
        }
    free(keys);
    if (dup)
        return cfg_fail_node(err, o, dup, "duplicate key '%s'%s (first at line %zu)", cfg_scalar_of(dup),
                         in_what(prefix, in, sizeof in), first->start_mark.line + 1);
    return E2_OK;
}

static int unknown_key(struct e2_err *err, const struct origin *o, const yaml_node_t *key,
                       const char *prefix)
{
    struct suggestion s;
    char hint[KEY_MAX + 40], in[KEY_MAX + 8];
    cfg_suggest_key(prefix, cfg_scalar_of(key), &s);
    return cfg_fail_node(err, o, key, "unknown key '%s'%s%s", cfg_scalar_of(key),
                     in_what(prefix, in, sizeof in), cfg_did_you_mean(&s, hint, sizeof hint));
}

static int not_in_scope(struct e2_err *err, const struct origin *o, const yaml_node_t *key,
                        const char *path)
{
    return cfg_fail_node(err, o, key,
                     "key '%s' is not allowed in a hardware config (it may hold name, hardware, "
                     "energy, report and a sweep of hardware keys)",
                     path);
}

/* sweep: {mode: grid|zip, vary: {KEY: [v1, v2...], ...}} */
static int apply_sweep(struct loader *L, int file, yaml_document_t *doc, yaml_node_t *node,
                       struct e2_err *err)
{
    struct origin o = {L->files[file], NULL};
    struct e2_config *cfg = L->cfg;
    if (node->type != YAML_MAPPING_NODE)
        return cfg_fail_node(err, &o, node, "sweep expects a mapping with mode: and vary:, got %s",
                         cfg_node_kind(node));
    if (check_keys(&o, doc, node, "sweep", err))
        return E2_BAD_INPUT;
    memset(&cfg->sweep, 0, sizeof cfg->sweep);   /* mode grid */
    yaml_node_t *vary = NULL;
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
        yaml_node_t *key = yaml_document_get_node(doc, p->key);
        yaml_node_t *value = yaml_document_get_node(doc, p->value);
        const char *name = cfg_scalar_of(key);
        if (strcmp(name, "mode") == 0) {
            int mode = value->type == YAML_SCALAR_NODE
                           ? cfg_name_index(cfg_sweep_mode_names, cfg_scalar_of(value))
                           : -1;
            if (mode < 0)
                return cfg_fail_node(err, &o, value, "sweep.mode expects grid or zip");
            cfg->sweep.mode = (enum cfg_sweep_mode)mode;
        } else if (strcmp(name, "vary") == 0) {
            vary = value;
        } else {
            struct suggestion s = {"", INT_MAX};
            char hint[KEY_MAX + 40];
            cfg_suggest_consider(&s, name, "mode");
            cfg_suggest_consider(&s, name, "vary");
            return cfg_fail_node(err, &o, key, "unknown key '%s' in sweep%s", name,
                             cfg_did_you_mean(&s, hint, sizeof hint));
        }
    }
    if (!vary || vary->type != YAML_MAPPING_NODE || vary->data.mapping.pairs.top == vary->data.mapping.pairs.start)
        return cfg_fail_node(err, &o, vary ? vary : node,
                         "sweep needs vary: a mapping of config keys to lists of values");
    if (check_keys(&o, doc, vary, "sweep.vary", err))
        return E2_BAD_INPUT;
    struct e2_config *scratch = calloc(1, sizeof *scratch);
    if (!scratch)
        return e2_fail(err, E2_FAILURE, "out of memory");
    int rc = E2_OK;
    for (yaml_node_pair_t *p = vary->data.mapping.pairs.start; p < vary->data.mapping.pairs.top && rc == E2_OK; p++) {
        yaml_node_t *key = yaml_document_get_node(doc, p->key);
        yaml_node_t *list = yaml_document_get_node(doc, p->value);
        const char *name = cfg_scalar_of(key);
        const struct cfg_field *f = cfg_find_field(name);
        int k = cfg->sweep.keys.n;
        if (!f && cfg_is_section(name)) {
            rc = cfg_fail_node(err, &o, key, "sweep.vary: '%s' is a section; vary one of its keys",
                           name);
        } else if (!f) {
            struct suggestion s;
            char hint[KEY_MAX + 40];
            cfg_suggest_full_key(name, &s);
            rc = cfg_fail_node(err, &o, key, "sweep.vary: unknown key '%s'%s", name,
                           cfg_did_you_mean(&s, hint, sizeof hint));
        } else if (L->scope == CFG_SCOPE_HW && !cfg_is_hw_key(name)) {
            rc = cfg_fail_node(err, &o, key,
                           "a hardware config's sweep may vary only hardware: and energy: keys, "
                           "not '%s'", name);
        } else if (strcmp(name, "report.trace") == 0) {
            /* the sweep gives each point its own trace, points/NNNN.e2t: varied paths would
               be ignored, or shared by points that overwrite each other's */
            rc = cfg_fail_node(err, &o, key, "sweep.vary: report.trace cannot be varied; set it "
                               "once (outside sweep:) and each point records its own trace, "
                               "points/NNNN.e2t in the sweep's folder");
        } else if (k == CFG_LIST_MAX) {
            rc = cfg_fail_node(err, &o, key, "a sweep may vary at most %d keys", CFG_LIST_MAX);
        } else if (list->type != YAML_SEQUENCE_NODE ||
                   list->data.sequence.items.top == list->data.sequence.items.start) {
            rc = cfg_fail_node(err, &o, list, "sweep.vary.%s expects a non-empty list of values, got %s",
                           name, list->type == YAML_SEQUENCE_NODE ? "an empty list" : cfg_node_kind(list));
        } else {
            /* validate every value against the row; keep the canonical text of the list */
            struct sbuf b = {cfg->sweep.values.v[k], CFG_TEXT, 0, 0};
            cfg_sb_printf(&b, "[");
            for (yaml_node_item_t *it = list->data.sequence.items.start;
                 it < list->data.sequence.items.top && rc == E2_OK; it++) {
                char text[CFG_TEXT];
                rc = cfg_apply_node(&o, f, doc, yaml_document_get_node(doc, *it), scratch, err);
                if (rc == E2_OK && cfg_format_value(scratch, f, text, sizeof text) < 0)
                    rc = cfg_fail_node(err, &o, list, "sweep.vary.%s: a value is too long", name);
                if (rc == E2_OK)
                    cfg_sb_printf(&b, "%s%s", it == list->data.sequence.items.start ? "" : ", ", text);
            }
            cfg_sb_printf(&b, "]");
            if (rc == E2_OK && b.overflow)
                rc = cfg_fail_node(err, &o, list, "sweep.vary.%s: the list is longer than %d characters",
                               name, CFG_TEXT - 1);
            if (rc == E2_OK) {
                snprintf(cfg->sweep.keys.v[k], CFG_STR, "%s", name);
                L->sweep_keys[k] = node_place(file, key);
                cfg->sweep.keys.n++;
            }
        }
    }
    free(scratch);
    cfg->has_sweep = rc == E2_OK;
    return rc;
}

/* Apply the keys of a mapping that sits at section `prefix` ("" = top level). */
static int apply_mapping(struct loader *L, int file, yaml_document_t *doc, yaml_node_t *map,
                         const char *prefix, struct e2_err *err)
{
    struct origin o = {L->files[file], NULL};
    if (check_keys(&o, doc, map, prefix, err))
        return E2_BAD_INPUT;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *key = yaml_document_get_node(doc, p->key);
        yaml_node_t *value = yaml_document_get_node(doc, p->value);
        const char *name = cfg_scalar_of(key);
        char path[KEY_MAX + 1];
        if (cfg_join_key(path, sizeof path, prefix, name))
            return unknown_key(err, &o, key, prefix);
        if (!prefix[0] && strcmp(name, "include") == 0)
            continue;   /* already loaded */
        if (!cfg_allowed_in_scope(L->scope, path))
            return not_in_scope(err, &o, key, path);
        if (!prefix[0] && strcmp(name, "sweep") == 0) {
            if (apply_sweep(L, file, doc, value, err))
                return E2_BAD_INPUT;
            continue;
        }
        const struct cfg_field *f = cfg_find_field(path);
        if (f) {
            /* one key twice in one file, e.g. through `training: {lr:}` and `training.lr:` */
            struct place was = L->places[cfg_field_index(f)];
            if (was.src == file)
                return cfg_fail_node(err, &o, key, "duplicate key '%s' (first set at line %zu)",
                                 path, was.line);
            if (cfg_apply_node(&o, f, doc, value, L->cfg, err))
                return E2_BAD_INPUT;
            record_place(L, f, node_place(file, value));
        } else if (cfg_is_section(path)) {
            if (cfg_is_null_node(value))
                continue;
            if (value->type != YAML_MAPPING_NODE)
                return cfg_fail_node(err, &o, value,
                                 "'%s' is a section: expected a mapping of its keys, got %s", path,
                                 cfg_node_kind(value));
            if (apply_mapping(L, file, doc, value, path, err))
                return E2_BAD_INPUT;
        } else {
            return unknown_key(err, &o, key, prefix);
        }
    }
    return E2_OK;
}

static int load_file(struct loader *L, const char *path, const struct origin *from,
                     const yaml_node_t *from_node, struct e2_err *err);

/* Load the files named by the top-level include: key, in order. */
static int load_includes(struct loader *L, int file, yaml_document_t *doc, yaml_node_t *root,
                         struct e2_err *err)
{
    struct origin o = {L->files[file], NULL};
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *key = yaml_document_get_node(doc, p->key);
        yaml_node_t *value = yaml_document_get_node(doc, p->value);
        if (key->type != YAML_SCALAR_NODE || strcmp(cfg_scalar_of(key), "include") != 0)
            continue;
        yaml_node_item_t single = (yaml_node_item_t)(value - doc->nodes.start) + 1;
        yaml_node_item_t *first = &single, *last = &single + 1;
        if (value->type == YAML_SEQUENCE_NODE) {
            first = value->data.sequence.items.start;
            last = value->data.sequence.items.top;
        } else if (value->type != YAML_SCALAR_NODE || cfg_is_null_node(value)) {
            return cfg_fail_node(err, &o, value, "include expects a file name or a list of them");
        }
        for (yaml_node_item_t *it = first; it < last; it++) {
            yaml_node_t *item = yaml_document_get_node(doc, *it);
            if (item->type != YAML_SCALAR_NODE || !cfg_scalar_of(item)[0])
                return cfg_fail_node(err, &o, item, "include expects file names, got %s",
                                 cfg_node_kind(item));
            const char *name = cfg_scalar_of(item);
            const char *slash = strrchr(L->files[file], '/');
            int dir_len = name[0] == '/' || !slash ? 0 : (int)(slash - L->files[file]) + 1;
            char joined[PATH_MAX];
            if (snprintf(joined, sizeof joined, "%.*s%s", dir_len, L->files[file], name) >=
                (int)sizeof joined)
                return cfg_fail_node(err, &o, item, "include path is too long");
            if (load_file(L, joined, &o, item, err))
                return E2_BAD_INPUT;
        }
        return E2_OK;   /* check_keys reports a second include: later */
    }
    return E2_OK;
}

static int apply_document(struct loader *L, int file, yaml_document_t *doc, struct e2_err *err)
{
    struct origin o = {L->files[file], NULL};
    yaml_node_t *root = yaml_document_get_root_node(doc);
    if (!root || cfg_is_null_node(root))
        return E2_OK;   /* an empty file sets nothing */
    if (L->depth == 1)
        L->top = node_place(file, root);
    if (root->type != YAML_MAPPING_NODE)
        return cfg_fail_node(err, &o, root, "a config is a mapping of keys (key: value), got %s",
                         cfg_node_kind(root));
    if (load_includes(L, file, doc, root, err))
        return E2_BAD_INPUT;
    return apply_mapping(L, file, doc, root, "", err);
}

static int load_file(struct loader *L, const char *path, const struct origin *from,
                     const yaml_node_t *from_node, struct e2_err *err)
{
    struct stat st;
    const char *why = stat(path, &st) != 0 ? strerror(errno)
                      : !S_ISREG(st.st_mode) ? "not a regular file"
                                             : NULL;
    if (why) {
        if (from)
            return cfg_fail_node(err, from, from_node, "cannot include '%s': %s", path, why);
        return e2_fail(err, E2_BAD_INPUT, "cannot read config '%s': %s", path, why);
    }
    char *real = realpath(path, NULL);
    if (!real)
        return e2_fail(err, E2_FAILURE, "%s: %s", path, strerror(errno));
    for (int i = 0; i < L->depth; i++) {
        if (strcmp(L->chain[i], real) == 0) {
            char chain[900] = "";
            struct sbuf b = {chain, sizeof chain, 0, 0};
            for (int j = i; j < L->depth; j++)
                cfg_sb_printf(&b, "%s -> ", L->files[L->chain_file[j]]);
            cfg_sb_printf(&b, "%s", path);
            free(real);
            return cfg_fail_node(err, from, from_node, "include cycle: %s", chain);
        }
    }
    if (L->depth == MAX_DEPTH || L->nfiles == MAX_FILES) {
        free(real);
        return cfg_fail_node(err, from, from_node, "includes nest deeper than %d or read more than %d files",
                         MAX_DEPTH, MAX_FILES);
    }
    int file = L->nfiles;
    L->files[file] = strdup(path);
    if (!L->files[file]) {
        free(real);
        return e2_fail(err, E2_FAILURE, "out of memory");
    }
    L->nfiles++;
    yaml_document_t doc;
    int rc = cfg_yaml_read(path, &doc, err);
    if (rc != E2_OK) {
        free(real);
        return rc;
    }
    L->chain[L->depth] = real;
    L->chain_file[L->depth] = file;
    L->depth++;
    rc = apply_document(L, file, &doc, err);
    L->depth--;
    free(real);
    yaml_document_delete(&doc);
    return rc;
}

/* Apply one "KEY=VALUE" of the command line (no cross-field rules yet). */
int cfg_apply_set(struct e2_config *cfg, enum cfg_scope scope, const char *assignment,
                     struct e2_err *err)
{
    struct origin o = {NULL, NULL};
    char label[CFG_TEXT + 8], key[KEY_MAX + 1];
    snprintf(label, sizeof label, "--set %s", assignment);
    o.label = label;
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment)
        return cfg_fail_node(err, &o, NULL, "expected KEY=VALUE");
    if ((size_t)(eq - assignment) > KEY_MAX)
        return cfg_fail_node(err, &o, NULL, "unknown key");
    memcpy(key, assignment, (size_t)(eq - assignment));
    key[eq - assignment] = 0;
    const struct cfg_field *f = cfg_find_field(key);
    if (!f) {
        struct suggestion s;
        char hint[KEY_MAX + 40];
        if (cfg_is_section(key))
            return cfg_fail_node(err, &o, NULL, "'%s' is a section; set one of its keys", key);
        cfg_suggest_full_key(key, &s);
        return cfg_fail_node(err, &o, NULL, "unknown key '%s'%s", key,
                         cfg_did_you_mean(&s, hint, sizeof hint));
    }
    if (!cfg_allowed_in_scope(scope, key))
        return cfg_fail_node(err, &o, NULL,
                         "key '%s' is not allowed in a hardware config (it may hold name, "
                         "hardware, energy and report keys)", key);
    return cfg_apply_text(&o, f, eq + 1, cfg, err);
}

/* The place to quote for a rule fault: the first blamed field the user set. */
static struct place blame_place(const struct loader *L, const struct cfg_field *b1,
                                const struct cfg_field *b2)
{
    if (b1 && L->places[cfg_field_index(b1)].src != PLACE_DEFAULT)
        return L->places[cfg_field_index(b1)];
    if (b2 && L->places[cfg_field_index(b2)].src != PLACE_DEFAULT)
        return L->places[cfg_field_index(b2)];
    return L->top;
}

/* After the files and sets: required keys, rules, and every sweep point. */
static int finish_load(struct loader *L, int nsets, struct e2_err *err)
{
    struct e2_config *cfg = L->cfg;
    if (L->scope == CFG_SCOPE_RUN) {
        for (int i = 0; cfg_required_keys[i]; i++) {
            const struct cfg_field *f = cfg_find_field(cfg_required_keys[i]);
            if (L->places[cfg_field_index(f)].src == PLACE_DEFAULT)
                return fail_place(err, L, L->top, "missing required key '%s'", f->key);
        }
    }
    const struct cfg_field *b1, *b2;
    char why[600];
    if (cfg_resolve_rules(cfg, &b1, &b2, why, sizeof why))
        return fail_place(err, L, blame_place(L, b1, b2), "%s", why);
    if (!cfg->has_sweep)
        return E2_OK;
    for (int s = 0; s < nsets; s++)
        for (int k = 0; k < cfg->sweep.keys.n; k++) {
            size_t n = strlen(cfg->sweep.keys.v[k]);
            if (strncmp(L->sets[s], cfg->sweep.keys.v[k], n) == 0 && L->sets[s][n] == '=')
                return fail_place(err, L, (struct place){PLACE_SET0 - s, 0, 0},
                                  "%s is varied by the sweep (sweep.vary)", cfg->sweep.keys.v[k]);
        }
    long points = cfg_sweep_count(cfg, why, sizeof why);
    if (points < 0)
        return fail_place(err, L, L->sweep_keys[0], "%s", why);
    struct e2_config *point = malloc(sizeof *point);
    if (!point)
        return e2_fail(err, E2_FAILURE, "out of memory");
    int rc = E2_OK;
    for (long i = 0; i < points && rc == E2_OK; i++) {
        struct e2_err inner;
        if (cfg_sweep_point(cfg, i, point, &inner) != E2_OK)
            rc = fail_place(err, L, L->sweep_keys[0], "%s", inner.msg);
    }
    free(point);
    return rc;
}

int cfg_load_files(const char *path, const char *const *sets, int nsets, enum cfg_scope scope,
                   struct e2_config *cfg, struct e2_err *err)
{
    struct loader L = {0};
    L.cfg = cfg;
    L.scope = scope;
    L.sets = sets;
    L.top = (struct place){0, 1, 1};
    L.places = malloc(sizeof *L.places * (size_t)cfg_field_count());
    if (!L.places)
        return e2_fail(err, E2_FAILURE, "out of memory");
    for (int i = 0; i < cfg_field_count(); i++)
        L.places[i] = (struct place){PLACE_DEFAULT, 0, 0};

    int rc = load_file(&L, path, NULL, NULL, err);
    for (int s = 0; s < nsets && rc == E2_OK; s++) {
        rc = cfg_apply_set(cfg, scope, sets[s], err);
        if (rc == E2_OK) {
            char key[KEY_MAX + 1];
            snprintf(key, sizeof key, "%.*s", (int)strcspn(sets[s], "="), sets[s]);
            record_place(&L, cfg_find_field(key), (struct place){PLACE_SET0 - s, 0, 0});
        }
    }
    if (rc == E2_OK)
        rc = finish_load(&L, nsets, err);
    for (int i = 0; i < L.nfiles; i++)
        free(L.files[i]);
    free(L.places);
    return rc;
}
