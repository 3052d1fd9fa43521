/* Measurement files: a strict libyaml loader (see measured.h). */
#include "measured.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* ---------------------------------------------------------------- YAML helpers ---------- */

struct doc {
    yaml_document_t d;
    const char *path;
    int loaded;
};

static struct measured_place place_of(const yaml_node_t *n)
{
    struct measured_place p = {(int)n->start_mark.line + 1, (int)n->start_mark.column + 1};
    return p;
}

static int fail_at(struct e2_err *err, const struct doc *D, const yaml_node_t *n,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail_at(struct e2_err *err, const struct doc *D, const yaml_node_t *n,
                   const char *fmt, ...)
{
    char why[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    struct measured_place p = place_of(n);
    return e2_fail(err, E2_BAD_INPUT, "%s:%d:%d: %s", D->path, p.line, p.col, why);
}

/* Parse the file's single document (a regular file; bounded like a config). */
static int load_doc(const char *path, struct doc *D, struct e2_err *err)
{
    memset(D, 0, sizeof *D);
    D->path = path;
    int rc = cfg_yaml_read(path, &D->d, err);
    if (rc != E2_OK)
        return rc;
    D->loaded = 1;
    if (!yaml_document_get_root_node(&D->d))
        return e2_fail(err, E2_BAD_INPUT, "%s:1:1: empty file: expected a mapping with "
                       "'measurements'", path);
    return E2_OK;
}

static void free_doc(struct doc *D)
{
    if (D->loaded)
        yaml_document_delete(&D->d);
    D->loaded = 0;
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static const char *node_kind(const yaml_node_t *n)
{
    return n->type == YAML_MAPPING_NODE ? "a mapping"
           : n->type == YAML_SEQUENCE_NODE ? "a list" : "a scalar";
}

/* A plain ~, null, Null or NULL: YAML's "no value" (an empty plain value is said as empty). */
static int is_null(const yaml_node_t *n)
{
    const char *s = scalar(n);
    return s && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           (strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
            strcmp(s, "NULL") == 0);
}

/* A string scalar into buf (quoted or plain; too long is an error). A null is no string: read
 * as its text, `name: ~` named a measurement "~". */
static int get_string(const struct doc *D, const yaml_node_t *n, const char *what, char *buf,
                      size_t size, struct e2_err *err)
{
    const char *s = scalar(n);
    if (!s)
        return fail_at(err, D, n, "%s must be a string, not %s", what, node_kind(n));
    if (is_null(n))
        return fail_at(err, D, n, "%s is null (%s), as if it were missing: give a string "
                       "(quoted to mean the text \"%s\")", what, s, s);
    if (strlen(s) >= size)
        return fail_at(err, D, n, "%s is too long (at most %zu characters)", what, size - 1);
    snprintf(buf, size, "%s", s);
    return E2_OK;
}

/* ---------------------------------------------------------------- items ----------------- */

static int get_sets(const struct doc *D, yaml_node_t *n, struct measurement *m,
                    struct e2_err *err)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return fail_at(err, D, n, "'set' must be a list of \"KEY=VALUE\" strings, not %s",
                       node_kind(n));
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        yaml_node_t *v = yaml_document_get_node((yaml_document_t *)&D->d, *it);
        if (m->nset == MEASURED_MAX_SETS)
            return fail_at(err, D, v, "'set' has more than %d entries", MEASURED_MAX_SETS);
        char *text = m->set[m->nset];
        int rc = get_string(D, v, "a 'set' entry", text, CFG_TEXT, err);
        if (rc != E2_OK)
            return rc;
        const char *eq = strchr(text, '=');
        if (!eq || eq == text)
            return fail_at(err, D, v, "'set' entry \"%s\" is not KEY=VALUE", text);
        char key[CFG_STR];
        snprintf(key, sizeof key, "%.*s", (int)(eq - text), text);
        if (!cfg_find_field(key))
            return fail_at(err, D, v, "'set' entry \"%s\": unknown config key '%s'", text, key);
        m->set_at[m->nset++] = place_of(v);
    }
    return E2_OK;
}

static int get_saving(const struct doc *D, const yaml_node_t *n, double *out,
                      struct e2_err *err)
{
    const char *s = scalar(n);
    if (!s)
        return fail_at(err, D, n, "'saving' must be a number, not %s", node_kind(n));
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v))
        return fail_at(err, D, n, "'saving' must be a number (a fraction: 0.3862 for 38.62 %%), "
                       "not '%s'", s);
    if (v < 0 || v >= 1)
        return fail_at(err, D, n, "'saving' = %g is outside [0, 1): write savings as fractions "
                       "(0.3862 for 38.62 %%)", v);
    *out = v;
    return E2_OK;
}

static int get_item(const struct doc *D, yaml_node_t *n, struct measurement *m,
                    struct e2_err *err)
{
    memset(m, 0, sizeof *m);
    snprintf(m->file, sizeof m->file, "%s", D->path);
    m->at = place_of(n);
    if (n->type != YAML_MAPPING_NODE)
        return fail_at(err, D, n, "a measurement must be a mapping (name, source, set, saving), "
                       "not %s", node_kind(n));
    int have_name = 0, have_source = 0, have_saving = 0, have_set = 0;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node((yaml_document_t *)&D->d, p->key);
        yaml_node_t *v = yaml_document_get_node((yaml_document_t *)&D->d, p->value);
        const char *key = scalar(k);
        int rc = E2_OK, *seen = NULL;
        if (!key)
            return fail_at(err, D, k, "a measurement's keys must be names");
        if (strcmp(key, "name") == 0) {
            seen = &have_name;
            if (!*seen)
                rc = get_string(D, v, "'name'", m->name, sizeof m->name, err);
        } else if (strcmp(key, "source") == 0) {
            seen = &have_source;
            if (!*seen)
                rc = get_string(D, v, "'source'", m->source, sizeof m->source, err);
        } else if (strcmp(key, "saving") == 0) {
            seen = &have_saving;
            if (!*seen)
                rc = get_saving(D, v, &m->saving, err);
        } else if (strcmp(key, "set") == 0) {
            seen = &have_set;
            if (!*seen)
                rc = get_sets(D, v, m, err);
        } else {
            return fail_at(err, D, k, "unknown key '%s' in a measurement (expected name, source, "
                           "set, saving)", key);
        }
        if (*seen)
            return fail_at(err, D, k, "key '%s' appears twice in this measurement", key);
        if (rc != E2_OK)
            return rc;
        *seen = 1;
    }
    if (!have_name)
        return fail_at(err, D, n, "measurement without 'name'");
    if (!m->name[0])
        return fail_at(err, D, n, "measurement with an empty 'name'");
    if (!have_source)
        return fail_at(err, D, n, "measurement '%s' has no 'source' (say where the number comes "
                       "from)", m->name);
    if (!have_saving)
        return fail_at(err, D, n, "measurement '%s' has no 'saving'", m->name);
    return E2_OK;
}

static int get_file(const struct doc *D, struct measured_file *out, struct e2_err *err)
{
    yaml_node_t *root = yaml_document_get_root_node((yaml_document_t *)&D->d);
    if (root->type != YAML_MAPPING_NODE)
        return fail_at(err, D, root, "a measurement file is a mapping with 'source' and "
                       "'measurements', not %s", node_kind(root));
    yaml_node_t *list = NULL;
    int have_source = 0;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node((yaml_document_t *)&D->d, p->key);
        yaml_node_t *v = yaml_document_get_node((yaml_document_t *)&D->d, p->value);
        const char *key = scalar(k);
        if (key && strcmp(key, "source") == 0) {
            if (have_source)
                return fail_at(err, D, k, "key 'source' appears twice");
            have_source = 1;
            int rc = get_string(D, v, "'source'", out->source, sizeof out->source, err);
            if (rc != E2_OK)
                return rc;
        } else if (key && strcmp(key, "measurements") == 0) {
            if (list)
                return fail_at(err, D, k, "key 'measurements' appears twice");
            list = v;
        } else {
            return fail_at(err, D, k, "unknown key '%s' (a measurement file has 'source' and "
                           "'measurements')", key ? key : "?");
        }
    }
    if (!list)
        return fail_at(err, D, root, "missing required key 'measurements'");
    if (list->type != YAML_SEQUENCE_NODE)
        return fail_at(err, D, list, "'measurements' must be a list, not %s", node_kind(list));
    int count = (int)(list->data.sequence.items.top - list->data.sequence.items.start);
    if (count == 0)
        return fail_at(err, D, list, "'measurements' is empty");
    if (count > MEASURED_MAX)
        return fail_at(err, D, list, "more than %d measurements in one file", MEASURED_MAX);
    out->m = calloc((size_t)count, sizeof *out->m);
    if (!out->m)
        return e2_fail(err, E2_FAILURE, "out of memory");
    for (int i = 0; i < count; i++) {
        yaml_node_t *item =
            yaml_document_get_node((yaml_document_t *)&D->d, list->data.sequence.items.start[i]);
        int rc = get_item(D, item, &out->m[i], err);
        if (rc != E2_OK)
            return rc;
        for (int j = 0; j < i; j++)
            if (strcmp(out->m[j].name, out->m[i].name) == 0)
                return fail_at(err, D, item, "two measurements are named '%s' (line %d)",
                               out->m[i].name, out->m[j].at.line);
        out->n = i + 1;
    }
    return E2_OK;
}

int measured_load(const char *path, struct measured_file *out, struct e2_err *err)
{
    memset(out, 0, sizeof *out);
    if (strlen(path) >= sizeof out->path)
        return e2_fail(err, E2_BAD_INPUT, "%s: path too long", path);
    snprintf(out->path, sizeof out->path, "%s", path);
    struct doc D;
    int rc = load_doc(path, &D, err);
    if (rc == E2_OK)
        rc = get_file(&D, out, err);
    free_doc(&D);
    if (rc != E2_OK)
        measured_free(out);
    return rc;
}

void measured_free(struct measured_file *f)
{
    free(f->m);
    f->m = NULL;
    f->n = 0;
}

int measured_apply(const struct measurement *m, const struct e2_config *base,
                   struct e2_config *out, struct e2_err *err)
{
    *out = *base;
    for (int i = 0; i < m->nset; i++) {
        struct e2_err why = {""};
        if (cfg_set(out, m->set[i], &why) != E2_OK)
            return e2_fail(err, E2_BAD_INPUT, "%s:%d:%d: measurement '%s': %s", m->file,
                           m->set_at[i].line, m->set_at[i].col, m->name, why.msg);
    }
    return E2_OK;
}

/* ---------------------------------------------------------------- key places ------------ */

static yaml_node_t *child(yaml_document_t *d, yaml_node_t *map, const char *name, size_t len)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const char *k = scalar(yaml_document_get_node(d, p->key));
        if (k && strlen(k) == len && strncmp(k, name, len) == 0)
            return yaml_document_get_node(d, p->value);
    }
    return NULL;
}

int measured_find_place(const char *path, const char *key, int index, struct measured_place *at)
{
    struct doc D;
    struct e2_err ignore;
    if (load_doc(path, &D, &ignore) != E2_OK) {
        free_doc(&D);
        return -1;
    }
    yaml_node_t *n = yaml_document_get_root_node(&D.d);
    /* Walk "a.b.c"; a flow key written whole ("a.b: ...") is tried at every level too. */
    const char *k = key;
    while (n && *k) {
        yaml_node_t *whole = child(&D.d, n, k, strlen(k));
        if (whole) {
            n = whole;
            break;
        }
        const char *dot = strchr(k, '.');
        size_t len = dot ? (size_t)(dot - k) : strlen(k);
        n = child(&D.d, n, k, len);
        k = dot ? dot + 1 : k + len;
    }
    int rc = -1;
    if (n && index >= 0 && n->type == YAML_SEQUENCE_NODE &&
        index < (int)(n->data.sequence.items.top - n->data.sequence.items.start))
        n = yaml_document_get_node(&D.d, n->data.sequence.items.start[index]);
    else if (index >= 0)
        n = NULL;
    if (n) {
        *at = place_of(n);
        rc = 0;
    }
    free_doc(&D);
    return rc;
}
