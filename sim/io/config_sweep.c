/* Sweeps: the number of points (grid or zip), point i as a full config, and its label. A sweep
 * key's values are kept as a canonical YAML flow list and parsed again for each point. */
#include "config_internal.h"

#include <stdio.h>
#include <string.h>

#define MAX_SWEEP_CHECK 100000  /* sweep points validated at load time (and the most allowed) */

/* The number of values of sweep key k (parses its flow list); -1 if unreadable. */
static int sweep_length(const struct e2_config *cfg, int k)
{
    yaml_document_t doc;
    char why[200];
    if (cfg_parse_text(cfg->sweep.values.v[k], &doc, why, sizeof why))
        return -1;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    int n = root && root->type == YAML_SEQUENCE_NODE
                ? (int)(root->data.sequence.items.top - root->data.sequence.items.start)
                : -1;
    yaml_document_delete(&doc);
    return n;
}

/* Points of the sweep, or -1 (with why) when the lists do not form one. */
long cfg_sweep_count(const struct e2_config *cfg, char *why, size_t size)
{
    if (!cfg->has_sweep)
        return 1;
    int zip = cfg->sweep.mode == CFG_SWEEP_ZIP;
    long points = zip ? -1 : 1;
    for (int k = 0; k < cfg->sweep.keys.n; k++) {
        int n = sweep_length(cfg, k);
        if (n <= 0) {
            snprintf(why, size, "sweep.vary.%s needs a non-empty list", cfg->sweep.keys.v[k]);
            return -1;
        }
        if (zip && points >= 0 && n != points) {
            snprintf(why, size,
                     "a zip sweep needs lists of one length: sweep.vary.%s has %d values, "
                     "sweep.vary.%s has %ld",
                     cfg->sweep.keys.v[k], n, cfg->sweep.keys.v[0], points);
            return -1;
        }
        if (zip)
            points = n;
        else if (points > MAX_SWEEP_CHECK / n + 1)
            points = MAX_SWEEP_CHECK + 1;
        else
            points *= n;
    }
    if (points > MAX_SWEEP_CHECK) {
        snprintf(why, size, "the sweep has more than %d points", MAX_SWEEP_CHECK);
        return -1;
    }
    return points;
}

long cfg_sweep_points(const struct e2_config *cfg)
{
    char why[300];
    return cfg_sweep_count(cfg, why, sizeof why);
}

/* Which value of sweep key k point `index` takes (grid: the first key varies slowest). */
static int sweep_item(const struct e2_config *cfg, long index, int k)
{
    if (cfg->sweep.mode == CFG_SWEEP_ZIP)
        return (int)index;
    long stride = 1;
    for (int j = cfg->sweep.keys.n - 1; j > k; j--)
        stride *= sweep_length(cfg, j);
    return (int)((index / stride) % sweep_length(cfg, k));
}

/* Visit the YAML node of point `index`'s value for key k. */
static int with_sweep_value(const struct e2_config *cfg, long index, int k,
                            int (*visit)(void *ctx, yaml_document_t *doc, yaml_node_t *node,
                                         const char *text),
                            void *ctx)
{
    yaml_document_t doc;
    char why[200];
    const char *text = cfg->sweep.values.v[k];
    if (cfg_parse_text(text, &doc, why, sizeof why))
        return -1;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    int item = sweep_item(cfg, index, k), rc = -1;
    if (root && root->type == YAML_SEQUENCE_NODE &&
        item < root->data.sequence.items.top - root->data.sequence.items.start) {
        yaml_node_t *node = yaml_document_get_node(&doc, root->data.sequence.items.start[item]);
        rc = visit(ctx, &doc, node, text);
    }
    yaml_document_delete(&doc);
    return rc;
}

struct label_ctx {
    struct sbuf *b;
    const char *key;
};

static int label_visit(void *ctx, yaml_document_t *doc, yaml_node_t *node, const char *text)
{
    struct label_ctx *c = ctx;
    (void)doc;
    cfg_sb_printf(c->b, "%s%s=%.*s", c->b->len ? " " : "", c->key,
              (int)(node->end_mark.index - node->start_mark.index), text + node->start_mark.index);
    return 0;
}

int cfg_sweep_label(const struct e2_config *cfg, long index, char *buf, size_t size)
{
    struct sbuf b = {buf, size, 0, 0};
    if (size)
        buf[0] = 0;
    for (int k = 0; cfg->has_sweep && k < cfg->sweep.keys.n; k++) {
        struct label_ctx c = {&b, cfg->sweep.keys.v[k]};
        with_sweep_value(cfg, index, k, label_visit, &c);
    }
    return b.overflow ? -1 : (int)b.len;
}

struct apply_ctx {
    const struct origin *o;
    const struct cfg_field *f;
    struct e2_config *point;
    struct e2_err *err;
};

static int apply_visit(void *ctx, yaml_document_t *doc, yaml_node_t *node, const char *text)
{
    struct apply_ctx *c = ctx;
    (void)text;
    return cfg_apply_node(c->o, c->f, doc, node, c->point, c->err) == E2_OK ? 0 : -1;
}

int cfg_sweep_point(const struct e2_config *cfg, long index, struct e2_config *point,
                    struct e2_err *err)
{
    char why[600], label[700], where[64];
    long points = cfg_sweep_count(cfg, why, sizeof why);
    if (points < 0)
        return e2_fail(err, E2_BAD_INPUT, "config: %s", why);
    if (index < 0 || index >= points)
        return e2_fail(err, E2_BAD_INPUT, "sweep point %ld does not exist (the sweep has %ld)",
                       index, points);
    *point = *cfg;
    point->has_sweep = 0;
    memset(&point->sweep, 0, sizeof point->sweep);   /* mode grid */
    snprintf(where, sizeof where, "sweep point %ld", index);
    struct origin o = {NULL, where};
    for (int k = 0; cfg->has_sweep && k < cfg->sweep.keys.n; k++) {
        struct apply_ctx c = {&o, cfg_find_field(cfg->sweep.keys.v[k]), point, err};
        if (!c.f)
            return e2_fail(err, E2_BAD_INPUT, "sweep: unknown key '%s'", cfg->sweep.keys.v[k]);
        if (with_sweep_value(cfg, index, k, apply_visit, &c))
            return E2_BAD_INPUT;
    }
    const struct cfg_field *b1, *b2;
    if (cfg_resolve_rules(point, &b1, &b2, why, sizeof why)) {
        cfg_sweep_label(cfg, index, label, sizeof label);
        return e2_fail(err, E2_BAD_INPUT, "sweep point %ld (%s): %s", index, label, why);
    }
    return E2_OK;
}
