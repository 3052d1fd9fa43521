/* The config engine: strict YAML loading, --set, cross-field rules, sweeps and printing, all
 * driven by the schema tables cfg_run_fields (config_fields.c) and cfg_hw_fields (config_hw.c).
 * Both tables are treated alike; a row's dotted key names its place in the YAML tree.
 * libyaml's document API gives every node a mark (0-based line and column); messages add 1. */
#define _DEFAULT_SOURCE     /* realpath, open_memstream */
#include "config.h"
#include "ert.h"
#include "memspec.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "json.h"
#include "outdir.h"

#define MAX_FILES 64            /* files one load may read, includes counted */
#define MAX_DEPTH 16            /* include nesting */
#define MAX_SWEEP_CHECK 100000  /* sweep points validated at load time (and the most allowed) */
#define KEY_MAX 128             /* longest dotted key */

static const struct cfg_field *const cfg_tables[] = {cfg_run_fields, cfg_hw_fields};
#define NTABLES ((int)(sizeof cfg_tables / sizeof cfg_tables[0]))

/* Keys a config file must set itself (CFG_SCOPE_RUN): the run's name and what it trains. */
static const char *const required_keys[] = {"name", "training.method", NULL};

/* Bases of training.method; every other method is an add-on. */
static const char *const method_bases[] = {"fp32", "fixed8", "fixed", "signsgd", "psg", NULL};

/* ======================================================================================== */
/* Schema lookups                                                                           */
/* ======================================================================================== */

/* The i-th row over both tables, or NULL past the end. */
static const struct cfg_field *field_at(int i)
{
    for (int t = 0; t < NTABLES; t++) {
        for (const struct cfg_field *f = cfg_tables[t]; f->key; f++)
            if (i-- == 0)
                return f;
    }
    return NULL;
}

static int field_count(void)
{
    int n = 0;
    while (field_at(n))
        n++;
    return n;
}

static int field_index(const struct cfg_field *field)
{
    for (int i = 0;; i++) {
        const struct cfg_field *f = field_at(i);
        if (!f || f == field)
            return f ? i : -1;
    }
}

const struct cfg_field *cfg_find_field(const char *key)
{
    for (int i = 0;; i++) {
        const struct cfg_field *f = field_at(i);
        if (!f || strcmp(f->key, key) == 0)
            return f;
    }
}

/* key lies inside section `prefix` ("" = the top level). */
static int in_section(const char *key, const char *prefix)
{
    size_t n = strlen(prefix);
    return n == 0 || (strncmp(key, prefix, n) == 0 && key[n] == '.');
}

/* path names a section: some key lies strictly inside it. */
static int is_section(const char *path)
{
    for (int i = 0; field_at(i); i++)
        if (path[0] && in_section(field_at(i)->key, path))
            return 1;
    return 0;
}

/* buf = "prefix.child" (or "child" at the top level); 0, or -1 if it did not fit. */
static int join_key(char *buf, size_t size, const char *prefix, const char *child)
{
    int n = snprintf(buf, size, "%s%s%s", prefix, prefix[0] ? "." : "", child);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

int cfg_key_required(const char *key)
{
    for (int i = 0; required_keys[i]; i++)
        if (strcmp(required_keys[i], key) == 0)
            return 1;
    return 0;
}

/* What a replay's hardware config may hold. */
static int allowed_in_scope(enum cfg_scope scope, const char *path)
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

static int is_hw_key(const char *key)
{
    return strncmp(key, "hardware.", 9) == 0 || strncmp(key, "energy.", 7) == 0;
}

static void *slot(struct e2_config *cfg, const struct cfg_field *f)
{
    return (char *)cfg + f->offset;
}

static const void *cslot(const struct e2_config *cfg, const struct cfg_field *f)
{
    return (const char *)cfg + f->offset;
}

/* ======================================================================================== */
/* Suggestions for misspelled keys and choices                                              */
/* ======================================================================================== */

/* Optimal-string-alignment distance (edits and adjacent swaps), ignoring case. */
static int edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > KEY_MAX || m > KEY_MAX)
        return INT_MAX;
    static const int W = KEY_MAX + 1;
    int d[(KEY_MAX + 1) * (KEY_MAX + 1)];
    for (size_t i = 0; i <= n; i++)
        d[i * W] = (int)i;
    for (size_t j = 0; j <= m; j++)
        d[j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            int cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            int best = d[(i - 1) * W + j] + 1;
            if (d[i * W + j - 1] + 1 < best)
                best = d[i * W + j - 1] + 1;
            if (d[(i - 1) * W + j - 1] + cost < best)
                best = d[(i - 1) * W + j - 1] + cost;
            if (i > 1 && j > 1 && tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == tolower((unsigned char)b[j - 1]) &&
                d[(i - 2) * W + j - 2] + 1 < best)
                best = d[(i - 2) * W + j - 2] + 1;
            d[i * W + j] = best;
        }
    }
    return d[n * W + m];
}

/* How far a misspelling may be from what was meant. */
static int close_enough(const char *typed, int distance)
{
    int allowed = (int)strlen(typed) / 3;
    return distance <= (allowed < 1 ? 1 : allowed);
}

/* A running "best candidate" search. */
struct suggestion {
    char text[KEY_MAX + 1];
    int distance;
};

static void suggest_consider(struct suggestion *s, const char *typed, const char *candidate)
{
    if (strcmp(typed, candidate) == 0)
        return;   /* never "did you mean" what was typed */
    int d = edit_distance(typed, candidate);
    if (close_enough(typed, d) && d < s->distance && strlen(candidate) <= KEY_MAX) {
        s->distance = d;
        strcpy(s->text, candidate);
    }
}

/* Copy the name of the child of section `prefix` that `key` lies in ("psg" for
 * "training.psg.beta" in "training"). */
static void child_name(const char *key, const char *prefix, char *out, size_t size)
{
    const char *rest = key + (prefix[0] ? strlen(prefix) + 1 : 0);
    size_t n = strcspn(rest, ".");
    if (n >= size)
        n = size - 1;
    memcpy(out, rest, n);
    out[n] = 0;
}

/* Best guess for an unknown name typed inside section `prefix`: a close sibling first, else a
 * key or section elsewhere whose last part is exactly that name. Empty text when none. */
static void suggest_key(const char *prefix, const char *typed, struct suggestion *s)
{
    s->text[0] = 0;
    s->distance = INT_MAX;
    char child[KEY_MAX + 1];
    for (int i = 0; field_at(i); i++) {
        if (!in_section(field_at(i)->key, prefix))
            continue;
        child_name(field_at(i)->key, prefix, child, sizeof child);
        suggest_consider(s, typed, child);
    }
    if (!prefix[0]) {
        suggest_consider(s, typed, "include");
        suggest_consider(s, typed, "sweep");
    }
    if (s->text[0])
        return;
    /* elsewhere: any key or section path whose last component is the typed name */
    for (int i = 0; field_at(i) && !s->text[0]; i++) {
        const char *key = field_at(i)->key;
        for (const char *p = key; p; p = strchr(p + 1, '.')) {
            const char *part = p == key ? p : p + 1;
            size_t n = strcspn(part, ".");
            if (strlen(typed) == n && strncasecmp(part, typed, n) == 0 &&
                (size_t)(part - key) + n <= KEY_MAX) {
                memcpy(s->text, key, (size_t)(part - key) + n);
                s->text[(part - key) + n] = 0;
                break;
            }
        }
    }
}

/* Best guess for an unknown full dotted key (--set, sweep.vary). */
static void suggest_full_key(const char *typed, struct suggestion *s)
{
    char prefix[KEY_MAX + 1] = "";
    const char *dot = strrchr(typed, '.');
    if (dot && (size_t)(dot - typed) <= KEY_MAX) {
        memcpy(prefix, typed, (size_t)(dot - typed));
        prefix[dot - typed] = 0;
    }
    if (!prefix[0] || is_section(prefix)) {
        suggest_key(prefix, dot ? dot + 1 : typed, s);
        if (s->text[0] && prefix[0] && !strchr(s->text, '.') &&
            strlen(prefix) + 1 + strlen(s->text) <= KEY_MAX) {
            char full[2 * KEY_MAX + 2];
            snprintf(full, sizeof full, "%s.%s", prefix, s->text);
            strcpy(s->text, full);
        }
        return;
    }
    s->text[0] = 0;
    s->distance = INT_MAX;
    for (int i = 0; field_at(i); i++)
        suggest_consider(s, typed, field_at(i)->key);
}

/* " (did you mean 'x'?)" or "". */
static const char *did_you_mean(const struct suggestion *s, char *buf, size_t size)
{
    if (!s->text[0])
        return "";
    snprintf(buf, size, " (did you mean '%s'?)", s->text);
    return buf;
}

/* ======================================================================================== */
/* Formatting values as canonical YAML                                                      */
/* ======================================================================================== */

/* A bounded string builder: appends what fits and remembers whether something did not. */
struct sbuf {
    char *p;
    size_t size, len;
    int overflow;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = b->len < b->size ? b->size - b->len : 0;
    int n = vsnprintf(room ? b->p + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room) {
        b->overflow = 1;
        b->len = b->size ? b->size - 1 : 0;
    } else {
        b->len += (size_t)n;
    }
}

/* The shortest decimal that reads back as exactly v, without an exponent where that is no
 * longer (150, not 1.5e+02; 1e-05 stays). */
static void format_double(double v, char *buf, size_t size)
{
    int prec = 1;
    for (; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    if (strchr(buf, 'e') && fabs(v) >= 1 && fabs(v) < 1e16) {
        char plain[64];
        int decimals = prec - 1 - (int)floor(log10(fabs(v)));
        snprintf(plain, sizeof plain, "%.*f", decimals > 0 ? decimals : 0, v);
        if (strtod(plain, NULL) == v && strlen(plain) < size)
            strcpy(buf, plain);
    }
}

static int is_null_text(const char *s)
{
    return !s[0] || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

/* Text that YAML reads back unchanged without quotes (by our own rules: no null words). */
static int plain_safe(const char *s)
{
    if (is_null_text(s))
        return 0;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("_./+-", *p))
            return 0;
    return 1;
}

static void format_text(struct sbuf *b, const char *s)
{
    if (plain_safe(s)) {
        sb_printf(b, "%s", s);
        return;
    }
    sb_printf(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            sb_printf(b, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            sb_printf(b, "\\x%02x", *p);
        else
            sb_printf(b, "%c", *p);
    }
    sb_printf(b, "\"");
}

static void format_value(struct sbuf *b, const struct e2_config *cfg, const struct cfg_field *f)
{
    const void *v = cslot(cfg, f);
    char num[64];
    switch (f->type) {
    case CFG_INT:
        sb_printf(b, "%d", *(const int *)v);
        break;
    case CFG_DOUBLE:
        format_double(*(const double *)v, num, sizeof num);
        sb_printf(b, "%s", num);
        break;
    case CFG_BOOL:
        sb_printf(b, "%s", *(const int *)v ? "true" : "false");
        break;
    case CFG_STRING:
    case CFG_ENUM:
        format_text(b, (const char *)v);
        break;
    case CFG_INT_LIST: {
        const struct cfg_int_list *l = v;
        sb_printf(b, "[");
        for (int i = 0; i < l->n; i++)
            sb_printf(b, "%s%d", i ? ", " : "", l->v[i]);
        sb_printf(b, "]");
        break;
    }
    case CFG_DOUBLE_LIST: {
        const struct cfg_double_list *l = v;
        sb_printf(b, "[");
        for (int i = 0; i < l->n; i++) {
            format_double(l->v[i], num, sizeof num);
            sb_printf(b, "%s%s", i ? ", " : "", num);
        }
        sb_printf(b, "]");
        break;
    }
    case CFG_STRING_LIST: {
        const struct cfg_string_list *l = v;
        sb_printf(b, "[");
        for (int i = 0; i < l->n; i++) {
            sb_printf(b, "%s", i ? ", " : "");
            format_text(b, l->v[i]);
        }
        sb_printf(b, "]");
        break;
    }
    }
}

int cfg_format_value(const struct e2_config *cfg, const struct cfg_field *field, char *buf,
                     size_t size)
{
    struct sbuf b = {buf, size, 0, 0};
    if (size)
        buf[0] = 0;
    format_value(&b, cfg, field);
    return b.overflow ? -1 : (int)b.len;
}

/* ======================================================================================== */
/* Reading YAML: one document, bounded size and nesting, every node at its own place         */
/* ======================================================================================== */

/* libyaml's own loader shares an anchored node between its uses, so a node reached through an
 * alias reports the anchor's line; and it has no bound on nesting (200k levels of "[" took
 * minutes). This composer builds the document from the parser's events instead: an alias
 * becomes a copy placed at the alias, nesting deeper than CFG_YAML_MAX_NEST stops the parse at
 * once, and a second document is an error. */
struct composer {
    yaml_document_t *doc;
    int open[CFG_YAML_MAX_NEST];    /* node ids of the open mappings and lists, outermost first */
    int key[CFG_YAML_MAX_NEST];     /* an open mapping's key still waiting for its value (0: none) */
    int depth;
    struct anchor {
        char *name;
        int node;
    } anchors[CFG_YAML_MAX_ANCHORS];
    int nanchors;
    long nodes;
    char why[300];
    yaml_mark_t at;
};

static int compose_fail(struct composer *c, yaml_mark_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int compose_fail(struct composer *c, yaml_mark_t at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof c->why, fmt, ap);
    va_end(ap);
    c->at = at;
    return -1;
}

/* Give node `id` (just added) its place, count it, and hang it in the open collection. */
static int compose_place(struct composer *c, int id, yaml_mark_t start, yaml_mark_t end)
{
    if (!id)
        return compose_fail(c, start, "out of memory");
    if (++c->nodes > CFG_YAML_MAX_NODES)
        return compose_fail(c, start, "more than %d values (aliases expanded)", CFG_YAML_MAX_NODES);
    yaml_node_t *node = yaml_document_get_node(c->doc, id);
    node->start_mark = start;
    node->end_mark = end;
    if (c->depth == 0)
        return 0;   /* the first node is the root */
    int parent = c->open[c->depth - 1], ok;
    if (yaml_document_get_node(c->doc, parent)->type == YAML_SEQUENCE_NODE) {
        ok = yaml_document_append_sequence_item(c->doc, parent, id);
    } else if (!c->key[c->depth - 1]) {
        c->key[c->depth - 1] = id;
        ok = 1;
    } else {
        ok = yaml_document_append_mapping_pair(c->doc, parent, c->key[c->depth - 1], id);
        c->key[c->depth - 1] = 0;
    }
    return ok ? 0 : compose_fail(c, start, "out of memory");
}

static int compose_open(struct composer *c, int id, yaml_mark_t at)
{
    if (c->depth == CFG_YAML_MAX_NEST)
        return compose_fail(c, at, "mappings and lists nest deeper than %d levels",
                            CFG_YAML_MAX_NEST);
    c->open[c->depth] = id;
    c->key[c->depth] = 0;
    c->depth++;
    return 0;
}

static int compose_anchor(struct composer *c, const yaml_char_t *name, int id, yaml_mark_t at)
{
    if (!name)
        return 0;
    if (c->nanchors == CFG_YAML_MAX_ANCHORS)
        return compose_fail(c, at, "more than %d anchors", CFG_YAML_MAX_ANCHORS);
    char *copy = strdup((const char *)name);
    if (!copy)
        return compose_fail(c, at, "out of memory");
    c->anchors[c->nanchors].name = copy;
    c->anchors[c->nanchors++].node = id;
    return 0;
}

/* A copy of node src (and all below it) placed at `at`, hung in the open collection. */
static int compose_copy(struct composer *c, int src, yaml_mark_t at)
{
    yaml_node_t node = *yaml_document_get_node(c->doc, src);   /* adding nodes moves them */
    if (node.type == YAML_SCALAR_NODE)
        return compose_place(c, yaml_document_add_scalar(c->doc, NULL, node.data.scalar.value,
                                                         (int)node.data.scalar.length,
                                                         node.data.scalar.style),
                             at, at);
    int id = node.type == YAML_SEQUENCE_NODE
                 ? yaml_document_add_sequence(c->doc, NULL, node.data.sequence.style)
                 : yaml_document_add_mapping(c->doc, NULL, node.data.mapping.style);
    if (compose_place(c, id, at, at) || compose_open(c, id, at))
        return -1;
    if (node.type == YAML_SEQUENCE_NODE) {
        long n = node.data.sequence.items.top - node.data.sequence.items.start;
        for (long i = 0; i < n; i++)
            if (compose_copy(c, yaml_document_get_node(c->doc, src)->data.sequence.items.start[i],
                             at))
                return -1;
    } else {
        long n = node.data.mapping.pairs.top - node.data.mapping.pairs.start;
        for (long i = 0; i < n; i++) {
            yaml_node_pair_t pair = yaml_document_get_node(c->doc, src)->data.mapping.pairs.start[i];
            if (compose_copy(c, pair.key, at) || compose_copy(c, pair.value, at))
                return -1;
        }
    }
    c->depth--;
    return 0;
}

static int compose_alias(struct composer *c, const yaml_event_t *e)
{
    const char *name = (const char *)e->data.alias.anchor;
    for (int i = c->nanchors - 1; i >= 0; i--) {
        if (strcmp(c->anchors[i].name, name) != 0)
            continue;
        for (int d = 0; d < c->depth; d++)
            if (c->open[d] == c->anchors[i].node)
                return compose_fail(c, e->start_mark, "alias *%s refers to a node that holds it",
                                    name);
        return compose_copy(c, c->anchors[i].node, e->start_mark);
    }
    return compose_fail(c, e->start_mark, "alias *%s has no anchor &%s before it", name, name);
}

static int compose_event(struct composer *c, const yaml_event_t *e, int *documents)
{
    yaml_document_t *doc = c->doc;
    int id;
    switch (e->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++*documents > 1)
            return compose_fail(c, e->start_mark, "a second YAML document: a file or a value "
                                "holds one YAML document");
        return 0;
    case YAML_SCALAR_EVENT:
        id = yaml_document_add_scalar(doc, NULL, e->data.scalar.value,
                                      (int)e->data.scalar.length, e->data.scalar.style);
        return compose_place(c, id, e->start_mark, e->end_mark) ||
               compose_anchor(c, e->data.scalar.anchor, id, e->start_mark);
    case YAML_SEQUENCE_START_EVENT:
        id = yaml_document_add_sequence(doc, NULL, e->data.sequence_start.style);
        return compose_place(c, id, e->start_mark, e->end_mark) ||
               compose_anchor(c, e->data.sequence_start.anchor, id, e->start_mark) ||
               compose_open(c, id, e->start_mark);
    case YAML_MAPPING_START_EVENT:
        id = yaml_document_add_mapping(doc, NULL, e->data.mapping_start.style);
        return compose_place(c, id, e->start_mark, e->end_mark) ||
               compose_anchor(c, e->data.mapping_start.anchor, id, e->start_mark) ||
               compose_open(c, id, e->start_mark);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        yaml_document_get_node(doc, c->open[--c->depth])->end_mark = e->end_mark;
        return 0;
    case YAML_ALIAS_EVENT:
        return compose_alias(c, e);
    default:
        return 0;
    }
}

/* Parse the parser's input into doc. 0; -1 with c->why and c->at (doc empty); -2 when the
 * parser failed (its problem fields say why). */
static int compose(yaml_parser_t *parser, yaml_document_t *doc, struct composer *c)
{
    memset(c, 0, sizeof *c);
    c->doc = doc;
    if (!yaml_document_initialize(doc, NULL, NULL, NULL, 1, 1))
        return compose_fail(c, parser->mark, "out of memory");
    int rc = 0, documents = 0;
    for (int done = 0; !done && rc == 0;) {
        yaml_event_t e;
        if (!yaml_parser_parse(parser, &e)) {
            rc = -2;
            break;
        }
        done = e.type == YAML_STREAM_END_EVENT;
        rc = compose_event(c, &e, &documents);
        yaml_event_delete(&e);
    }
    for (int i = 0; i < c->nanchors; i++)
        free(c->anchors[i].name);
    if (rc) {
        yaml_document_delete(doc);
        memset(doc, 0, sizeof *doc);
    }
    return rc;
}

/* Parse YAML text (a --set value, a default, a sweep list) into a document. */
static int parse_text_document(const char *text, yaml_document_t *doc, char *why, size_t size)
{
    yaml_parser_t parser;
    struct composer *c = malloc(sizeof *c);
    if (!c || !yaml_parser_initialize(&parser)) {
        free(c);
        snprintf(why, size, "out of memory");
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
    int rc = compose(&parser, doc, c);
    if (rc == -2)
        snprintf(why, size, "malformed YAML value: %s", parser.problem ? parser.problem : "?");
    else if (rc)
        snprintf(why, size, "%s", c->why);
    yaml_parser_delete(&parser);
    free(c);
    return rc ? -1 : 0;
}

/* libyaml's reader reports only a byte offset; turn it into a line and column. */
static void offset_to_mark(const char *text, size_t len, size_t offset, size_t *line,
                           size_t *col)
{
    *line = *col = 1;
    for (size_t i = 0; i < offset && i < len; i++) {
        if (text[i] == '\n') {
            ++*line;
            *col = 1;
        } else {
            ++*col;
        }
    }
}

static int malformed(struct e2_err *err, const char *path, const char *text, size_t len,
                     const yaml_parser_t *parser)
{
    size_t line = parser->problem_mark.line + 1, col = parser->problem_mark.column + 1;
    if (parser->error == YAML_READER_ERROR)
        offset_to_mark(text, len, parser->problem_offset, &line, &col);
    char context[200] = "";
    if (parser->context)
        snprintf(context, sizeof context, " (%s at line %zu)", parser->context,
                 parser->context_mark.line + 1);
    return e2_fail(err, E2_BAD_INPUT, "%s:%zu:%zu: malformed YAML: %s%s", path, line, col,
                   parser->problem ? parser->problem : "unreadable", context);
}

/* The whole of a regular file of at most CFG_YAML_MAX_BYTES (a FIFO or a folder would block or
 * fail later), NUL-terminated; free it. */
static int read_small_file(const char *path, char **text, size_t *len, struct e2_err *err)
{
    struct stat st;
    *text = NULL;
    if (stat(path, &st) != 0)
        return e2_fail(err, E2_BAD_INPUT, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return e2_fail(err, E2_BAD_INPUT, "%s: cannot open: not a regular file", path);
    if (st.st_size > CFG_YAML_MAX_BYTES)
        return e2_fail(err, E2_BAD_INPUT, "%s: %lld bytes; a YAML file may hold at most %d",
                       path, (long long)st.st_size, CFG_YAML_MAX_BYTES);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return e2_fail(err, E2_BAD_INPUT, "%s: cannot open: %s", path, strerror(errno));
    char *buf = malloc(CFG_YAML_MAX_BYTES + 2);
    size_t n = buf ? fread(buf, 1, CFG_YAML_MAX_BYTES + 1, fp) : 0;
    int failed = !buf || ferror(fp);
    fclose(fp);
    if (failed) {
        free(buf);
        return e2_fail(err, E2_FAILURE, "%s: cannot read%s", path, buf ? "" : ": out of memory");
    }
    if (n > CFG_YAML_MAX_BYTES) {
        free(buf);
        return e2_fail(err, E2_BAD_INPUT, "%s: a YAML file may hold at most %d bytes", path,
                       CFG_YAML_MAX_BYTES);
    }
    buf[n] = 0;
    *text = buf;
    *len = n;
    return E2_OK;
}

int cfg_yaml_read(const char *path, yaml_document_t *doc, struct e2_err *err)
{
    char *text;
    size_t len = 0;
    memset(doc, 0, sizeof *doc);
    int rc = read_small_file(path, &text, &len, err);
    if (rc != E2_OK)
        return rc;
    yaml_parser_t parser;
    struct composer *c = malloc(sizeof *c);
    if (!c || !yaml_parser_initialize(&parser)) {
        free(c);
        free(text);
        return e2_fail(err, E2_FAILURE, "out of memory");
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int composed = compose(&parser, doc, c);
    if (composed == -2)
        rc = malformed(err, path, text, len, &parser);
    else if (composed)
        rc = e2_fail(err, E2_BAD_INPUT, "%s:%zu:%zu: %s", path, c->at.line + 1, c->at.column + 1,
                     c->why);
    yaml_parser_delete(&parser);
    free(c);
    free(text);
    return rc;
}

/* ======================================================================================== */
/* Reading values from YAML nodes                                                           */
/* ======================================================================================== */

/* Where a node came from, for messages: a file (node marks give line and column) or a label
 * such as "--set training.psg.beta=abc". */
struct origin {
    const char *file;
    const char *label;
};

static void origin_text(const struct origin *o, const yaml_node_t *node, char *buf, size_t size)
{
    if (o->file && node)
        snprintf(buf, size, "%s:%zu:%zu", o->file, node->start_mark.line + 1,
                 node->start_mark.column + 1);
    else
        snprintf(buf, size, "%s", o->file ? o->file : o->label);
}

static int fail_node(struct e2_err *err, const struct origin *o, const yaml_node_t *node,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail_node(struct e2_err *err, const struct origin *o, const yaml_node_t *node,
                     const char *fmt, ...)
{
    char where[CFG_STR + 64], what[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    origin_text(o, node, where, sizeof where);
    return e2_fail(err, E2_BAD_INPUT, "%s: %s", where, what);
}

static const char *node_kind(const yaml_node_t *node)
{
    switch (node->type) {
    case YAML_MAPPING_NODE:
        return "a mapping";
    case YAML_SEQUENCE_NODE:
        return "a list";
    default:
        return "a single value";
    }
}

static const char *scalar_of(const yaml_node_t *node)
{
    return (const char *)node->data.scalar.value;
}

static int is_null_node(const yaml_node_t *node)
{
    return node->type == YAML_SCALAR_NODE && node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           is_null_text(scalar_of(node));
}

/* "an integer", "one of resnet, mobilenetv2"... for messages about one element. */
static void expected_text(const struct cfg_field *f, char *buf, size_t size)
{
    switch (f->type) {
    case CFG_INT:
    case CFG_INT_LIST:
        snprintf(buf, size, "an integer");
        return;
    case CFG_DOUBLE:
    case CFG_DOUBLE_LIST:
        snprintf(buf, size, "a number");
        return;
    case CFG_BOOL:
        snprintf(buf, size, "true or false");
        return;
    default:
        break;
    }
    if (!f->choices) {
        snprintf(buf, size, "text");
        return;
    }
    struct sbuf b = {buf, size, 0, 0};
    sb_printf(&b, "one of ");
    for (const char *p = f->choices; *p; p++)
        sb_printf(&b, *p == '|' ? ", " : "%c", *p);
}

static void range_text(const struct cfg_field *f, char *buf, size_t size)
{
    char lo[40], hi[40];
    format_double(f->min, lo, sizeof lo);
    format_double(f->max, hi, sizeof hi);
    if (f->max >= 1e300 && f->min <= -1e300)
        snprintf(buf, size, "any");
    else if (f->max >= 1e300)
        snprintf(buf, size, "at least %s", lo);
    else
        snprintf(buf, size, "[%s, %s]", lo, hi);
}

/* Index of `s` in "a|b|c", or -1. */
static int choice_index(const char *choices, const char *s)
{
    int index = 0;
    size_t len = strlen(s);
    for (const char *p = choices;; index++) {
        size_t n = strcspn(p, "|");
        if (n == len && strncmp(p, s, n) == 0)
            return index;
        if (!p[n])
            return -1;
        p += n + 1;
    }
}

static void suggest_choice(const char *choices, const char *typed, struct suggestion *s)
{
    char one[KEY_MAX + 1];
    s->text[0] = 0;
    s->distance = INT_MAX;
    for (const char *p = choices;;) {
        size_t n = strcspn(p, "|");
        if (n <= KEY_MAX) {
            memcpy(one, p, n);
            one[n] = 0;
            suggest_consider(s, typed, one);
        }
        if (!p[n])
            return;
        p += n + 1;
    }
}

/* Parse one scalar element of field f from text s into out (int, double or char[CFG_STR]).
 * On error writes the reason (naming `what`, e.g. "training.lr_steps[2]") into why. */
static int parse_element(const struct cfg_field *f, const char *what, const char *s, void *out,
                         char *why, size_t size)
{
    char expected[300], range[100];
    expected_text(f, expected, sizeof expected);
    range_text(f, range, sizeof range);
    switch (f->type) {
    case CFG_INT:
    case CFG_INT_LIST: {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (!s[0] || isspace((unsigned char)s[0]) || *end || errno == ERANGE) {
            snprintf(why, size, "%s expects %s, got '%s'", what, expected, s);
            return -1;
        }
        if ((double)v < f->min || (double)v > f->max) {
            snprintf(why, size, "%s = %s is out of range %s", what, s, range);
            return -1;
        }
        char text[32];
        snprintf(text, sizeof text, "%ld", v);
        if (f->choices && choice_index(f->choices, text) < 0) {
            struct sbuf b = {range, sizeof range, 0, 0};
            for (const char *p = f->choices; *p; p++)
                sb_printf(&b, *p == '|' ? ", " : "%c", *p);
            snprintf(why, size, "%s = %s is not one of %s", what, s, range);
            return -1;
        }
        *(int *)out = (int)v;
        return 0;
    }
    case CFG_DOUBLE:
    case CFG_DOUBLE_LIST: {
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (!s[0] || isspace((unsigned char)s[0]) || *end || !isfinite(v) ||
            (errno == ERANGE && fabs(v) > 1)) {
            snprintf(why, size, "%s expects %s, got '%s'", what, expected, s);
            return -1;
        }
        if (v < f->min || v > f->max) {
            snprintf(why, size, "%s = %s is out of range %s", what, s, range);
            return -1;
        }
        *(double *)out = v;
        return 0;
    }
    case CFG_BOOL:
        if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0) {
            *(int *)out = s[0] == 't';
            return 0;
        }
        snprintf(why, size, "%s expects true or false, got '%s'", what, s);
        return -1;
    default:
        if (strlen(s) >= CFG_STR) {
            snprintf(why, size, "%s is longer than %d characters", what, CFG_STR - 1);
            return -1;
        }
        if (f->choices && choice_index(f->choices, s) < 0) {
            struct suggestion sug;
            char hint[KEY_MAX + 40];
            suggest_choice(f->choices, s, &sug);
            snprintf(why, size, "%s = '%s' is not %s%s", what, s, expected,
                     did_you_mean(&sug, hint, sizeof hint));
            return -1;
        }
        strcpy((char *)out, s);
        return 0;
    }
}

/* Store node's value into field f of cfg, validating it against the row. */
static int apply_node(const struct origin *o, const struct cfg_field *f, yaml_document_t *doc,
                      yaml_node_t *node, struct e2_config *cfg, struct e2_err *err)
{
    char why[700], expected[300];
    int is_list = f->type == CFG_INT_LIST || f->type == CFG_DOUBLE_LIST ||
                  f->type == CFG_STRING_LIST;
    expected_text(f, expected, sizeof expected);
    if (!is_list) {
        if (node->type != YAML_SCALAR_NODE)
            return fail_node(err, o, node, "%s expects %s, got %s", f->key, expected,
                             node_kind(node));
        const char *s = scalar_of(node);
        if ((f->type == CFG_STRING || f->type == CFG_ENUM) && is_null_node(node))
            s = "";
        if (parse_element(f, f->key, s, slot(cfg, f), why, sizeof why))
            return fail_node(err, o, node, "%s", why);
        return E2_OK;
    }

    if (node->type == YAML_MAPPING_NODE)
        return fail_node(err, o, node, "%s expects a list of %s, got a mapping", f->key,
                         f->type == CFG_STRING_LIST ? "names" : "numbers");
    /* the items: a sequence's, or a single scalar read as a one-item list, or none for null */
    yaml_node_item_t single = 0;
    yaml_node_item_t *first = &single, *last = &single;
    if (node->type == YAML_SEQUENCE_NODE) {
        first = node->data.sequence.items.start;
        last = node->data.sequence.items.top;
    } else if (!is_null_node(node)) {
        single = (yaml_node_item_t)(node - doc->nodes.start) + 1;
        last = &single + 1;
    }
    if (last - first > CFG_LIST_MAX)
        return fail_node(err, o, node, "%s has %d items; at most %d are allowed", f->key,
                         (int)(last - first), CFG_LIST_MAX);
    union {
        struct cfg_int_list i;
        struct cfg_double_list d;
        struct cfg_string_list s;
    } *list = calloc(1, sizeof *list);
    if (!list)
        return e2_fail(err, E2_FAILURE, "out of memory");
    int n = 0, rc = E2_OK;
    for (yaml_node_item_t *it = first; it < last && rc == E2_OK; it++, n++) {
        yaml_node_t *item = yaml_document_get_node(doc, *it);
        char what[KEY_MAX + 20];
        snprintf(what, sizeof what, "%s[%d]", f->key, n + 1);
        void *out = f->type == CFG_INT_LIST      ? (void *)&list->i.v[n]
                    : f->type == CFG_DOUBLE_LIST ? (void *)&list->d.v[n]
                                                 : (void *)list->s.v[n];
        if (item->type != YAML_SCALAR_NODE)
            rc = fail_node(err, o, item, "%s expects %s, got %s", what, expected,
                           node_kind(item));
        else if (f->type == CFG_STRING_LIST && !scalar_of(item)[0])
            rc = fail_node(err, o, item, "%s is empty", what);
        else if (parse_element(f, what, scalar_of(item), out, why, sizeof why))
            rc = fail_node(err, o, item, "%s", why);
    }
    if (rc == E2_OK) {
        list->i.n = n;   /* n is the first member of all three list types */
        size_t bytes = f->type == CFG_INT_LIST      ? sizeof list->i
                       : f->type == CFG_DOUBLE_LIST ? sizeof list->d
                                                    : sizeof list->s;
        memcpy(slot(cfg, f), list, bytes);
    }
    free(list);
    return rc;
}

/* Apply YAML text as the value of field f. An empty text is empty text, or an empty list. */
static int apply_text(const struct origin *o, const struct cfg_field *f, const char *text,
                      struct e2_config *cfg, struct e2_err *err)
{
    yaml_document_t doc;
    char why[300];
    int is_list = f->type == CFG_INT_LIST || f->type == CFG_DOUBLE_LIST ||
                  f->type == CFG_STRING_LIST;
    if (!text[0])
        text = is_list ? "[]" : "''";
    if (parse_text_document(text, &doc, why, sizeof why))
        return fail_node(err, o, NULL, "%s", why);
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    int rc = root ? apply_node(o, f, &doc, root, cfg, err)
                  : fail_node(err, o, NULL, "%s needs a value", f->key);
    yaml_document_delete(&doc);
    return rc;
}

/* ======================================================================================== */
/* Defaults                                                                                 */
/* ======================================================================================== */

static int resolve_rules(struct e2_config *cfg, const struct cfg_field **blame1,
                         const struct cfg_field **blame2, char *why, size_t size);

/* Every table default; a default that does not validate is a bug in a table (E2_FAILURE). */
static int defaults_checked(struct e2_config *cfg, struct e2_err *err)
{
    memset(cfg, 0, sizeof *cfg);
    for (int i = 0; field_at(i); i++) {
        const struct cfg_field *f = field_at(i);
        struct origin o = {NULL, f->key};
        if (apply_text(&o, f, f->def ? f->def : "", cfg, err) != E2_OK) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err->msg);
            return e2_fail(err, E2_FAILURE, "internal error: bad default in the schema: %s", msg);
        }
    }
    snprintf(cfg->sweep.mode, sizeof cfg->sweep.mode, "grid");
    cfg->scope = CFG_SCOPE_RUN;
    const struct cfg_field *b1, *b2;
    char why[600];
    if (resolve_rules(cfg, &b1, &b2, why, sizeof why))
        return e2_fail(err, E2_FAILURE, "internal error: the schema defaults break a rule: %s",
                       why);
    return E2_OK;
}

void cfg_defaults(struct e2_config *cfg)
{
    struct e2_err err;
    defaults_checked(cfg, &err);   /* tests check that the tables' defaults are valid */
}

/* ======================================================================================== */
/* Cross-field rules and derived fields                                                     */
/* ======================================================================================== */

/* Set why and the fields to blame (the first one the user set is quoted), return 1. */
static int rule_fault(const struct cfg_field **b1, const struct cfg_field **b2, const char *k1,
                      const char *k2, char *why, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
static int rule_fault(const struct cfg_field **b1, const struct cfg_field **b2, const char *k1,
                      const char *k2, char *why, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
    *b1 = cfg_find_field(k1);
    *b2 = k2 ? cfg_find_field(k2) : NULL;
    return 1;
}

#define FAULT(k1, k2, ...) rule_fault(blame1, blame2, k1, k2, why, size, __VA_ARGS__)

static int resolve_method(struct e2_config *cfg, const struct cfg_field **blame1,
                          const struct cfg_field **blame2, char *why, size_t size)
{
    struct cfg_training *t = &cfg->training;
    const struct cfg_string_list *m = &t->method;
    t->base[0] = 0;
    t->smd.enabled = t->slu.enabled = t->sd.enabled = t->psg.enabled = t->swa.enabled = 0;
    for (int i = 0; i < m->n; i++) {
        const char *name = m->v[i];
        for (int j = 0; j < i; j++)
            if (strcmp(m->v[j], name) == 0)
                return FAULT("training.method", NULL, "training.method lists '%s' twice", name);
        int is_base = 0;
        for (int b = 0; method_bases[b]; b++)
            is_base |= strcmp(method_bases[b], name) == 0;
        if (is_base) {
            if (t->base[0])
                return FAULT("training.method", NULL,
                             "training.method has two bases, '%s' and '%s'; choose one", t->base,
                             name);
            snprintf(t->base, sizeof t->base, "%s", name);
        } else if (strcmp(name, "smd") == 0) {
            t->smd.enabled = 1;
        } else if (strcmp(name, "slu") == 0) {
            t->slu.enabled = 1;
        } else if (strcmp(name, "sd") == 0) {
            t->sd.enabled = 1;
        } else if (strcmp(name, "swa") == 0) {
            t->swa.enabled = 1;
        } else {
            return FAULT("training.method", NULL, "training.method: '%s' is not a method", name);
        }
    }
    if (!t->base[0])
        return FAULT("training.method", NULL,
                     "training.method needs one base: fp32, fixed8, fixed, signsgd or psg");
    if (t->slu.enabled && t->sd.enabled)
        return FAULT("training.method", NULL,
                     "training.method has both slu and sd; they exclude each other");
    t->psg.enabled = strcmp(t->base, "psg") == 0;
    return 0;
}

static int check_precision(const struct e2_config *cfg, const struct cfg_field **blame1,
                           const struct cfg_field **blame2, char *why, size_t size)
{
    const struct cfg_precision *p = &cfg->training.precision;
    const struct {
        const char *key;
        int bits;
    } widths[] = {{"training.precision.activations", p->activations},
                  {"training.precision.weights", p->weights},
                  {"training.precision.grad_output", p->grad_output},
                  {"training.precision.grad_weight", p->grad_weight}};
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++)
        if (widths[i].bits > 16 && widths[i].bits != 32)
            return FAULT(widths[i].key, NULL,
                         "%s = %d: fixed point has 2 to 16 bits; 32 means float", widths[i].key,
                         widths[i].bits);
    if (!cfg->training.psg.enabled)
        return 0;
    if (p->activations == 32 || p->grad_output == 32)
        return FAULT(p->activations == 32 ? "training.precision.activations"
                                          : "training.precision.grad_output",
                     "training.method",
                     "psg predicts from fixed-point codes: training.precision.activations and "
                     "grad_output must be below 32 bits");
    if (cfg->training.psg.msb_x > p->activations)
        return FAULT("training.psg.msb_x", "training.precision.activations",
                     "training.psg.msb_x = %d exceeds training.precision.activations = %d",
                     cfg->training.psg.msb_x, p->activations);
    if (cfg->training.psg.msb_g > p->grad_output)
        return FAULT("training.psg.msb_g", "training.precision.grad_output",
                     "training.psg.msb_g = %d exceeds training.precision.grad_output = %d",
                     cfg->training.psg.msb_g, p->grad_output);
    return 0;
}

static int check_schedule(const struct e2_config *cfg, const struct cfg_field **blame1,
                          const struct cfg_field **blame2, char *why, size_t size)
{
    const struct cfg_training *t = &cfg->training;
    for (int i = 1; i < t->lr_steps.n; i++)
        if (t->lr_steps.v[i] <= t->lr_steps.v[i - 1])
            return FAULT("training.lr_steps", NULL, "training.lr_steps must increase (%d after %d)",
                         t->lr_steps.v[i], t->lr_steps.v[i - 1]);
    if (t->epochs == 0 && t->lr_steps.n && t->lr_steps.v[t->lr_steps.n - 1] >= t->iterations)
        return FAULT("training.lr_steps", "training.iterations",
                     "training.lr_steps: step %d is not before the end of the run "
                     "(training.iterations = %d)",
                     t->lr_steps.v[t->lr_steps.n - 1], t->iterations);
    for (int i = 0; i < t->lr_step_fractions.n; i++) {
        double v = t->lr_step_fractions.v[i];
        if (v <= 0 || v >= 1)
            return FAULT("training.lr_step_fractions", NULL,
                         "training.lr_step_fractions: %g is not strictly between 0 and 1", v);
        if (i && v <= t->lr_step_fractions.v[i - 1])
            return FAULT("training.lr_step_fractions", NULL,
                         "training.lr_step_fractions must increase (%g after %g)", v,
                         t->lr_step_fractions.v[i - 1]);
    }
    const struct {
        const char *key;
        double v;
    } below_one[] = {{"training.smd.p", t->smd.p},
                     {"training.slu.target_skip", t->slu.target_skip},
                     {"training.sd.skip_ratio", t->sd.skip_ratio},
                     {"training.swa.start", t->swa.start}};
    for (size_t i = 0; i < sizeof below_one / sizeof below_one[0]; i++)
        if (below_one[i].v >= 1)
            return FAULT(below_one[i].key, NULL, "%s must be below 1", below_one[i].key);
    if (t->finetune_last_fc_only && !t->finetune_from[0] && strcmp(t->mode, "energy-only") != 0)
        return FAULT("training.finetune_last_fc_only", "training.finetune_from",
                     "training.finetune_last_fc_only needs training.finetune_from (except in "
                     "the energy-only mode, which trains nothing)");
    if (strcmp(t->mode, "energy-only") == 0 && t->slu.enabled && t->energy_only.slu_skip.n == 0)
        return FAULT("training.energy_only.slu_skip", "training.method",
                     "energy-only with slu needs training.energy_only.slu_skip");
    return 0;
}

static int check_network(const struct e2_config *cfg, const struct cfg_field **blame1,
                         const struct cfg_field **blame2, char *why, size_t size)
{
    const struct cfg_network *n = &cfg->network;
    if (strcmp(n->arch, "resnet") == 0 && (n->depth - 2) % 6 != 0)
        return FAULT("network.depth", "network.arch",
                     "network.depth = %d: a ResNet has 6n+2 layers (8, 14, 20, 26, 32, 38, 44, "
                     "56, 74, 110...)",
                     n->depth);
    return 0;
}

static int check_calibration(const struct e2_config *cfg, const struct cfg_field **blame1,
                             const struct cfg_field **blame2, char *why, size_t size)
{
    const struct cfg_calibration *c = &cfg->calibration;
    /* written in the output folder, beside calibration.txt: a plain file name, nothing else */
    const char *out = c->output;
    if (!out[0] || strchr(out, '/') || strcmp(out, ".") == 0 || strcmp(out, "..") == 0 ||
        strcmp(out, "calibration.txt") == 0)
        return FAULT("calibration.output", NULL,
                     "calibration.output = '%s': expected a file name (no folder; not "
                     "calibration.txt): it is written in the output folder only, and installing "
                     "it (e.g. into configs/hw/) is a separate step (docs/calibration.md)", out);
    if (c->free.n > 3)
        return FAULT("calibration.free", NULL,
                     "calibration.free lists %d keys; savings ratios can fit at most 3",
                     c->free.n);
    for (int i = 0; i < c->free.n; i++) {
        const struct cfg_field *f = cfg_find_field(c->free.v[i]);
        if (!f || !is_hw_key(f->key) || (f->type != CFG_DOUBLE && f->type != CFG_INT))
            return FAULT("calibration.free", NULL,
                         "calibration.free: '%s' is not a number key of hardware: or energy:",
                         c->free.v[i]);
        for (int j = 0; j < i; j++)
            if (strcmp(c->free.v[j], c->free.v[i]) == 0)
                return FAULT("calibration.free", NULL, "calibration.free lists '%s' twice",
                             c->free.v[i]);
    }
    if (c->lower.n != c->free.n || c->upper.n != c->free.n)
        return FAULT(c->lower.n != c->free.n ? "calibration.lower" : "calibration.upper",
                     "calibration.free",
                     "calibration.lower and calibration.upper need one bound per free key "
                     "(%d free, %d lower, %d upper)",
                     c->free.n, c->lower.n, c->upper.n);
    for (int i = 0; i < c->free.n; i++) {
        const struct cfg_field *f = cfg_find_field(c->free.v[i]);
        if (!(c->lower.v[i] < c->upper.v[i]))
            return FAULT("calibration.lower", "calibration.upper",
                         "calibration bounds of %s are empty: lower %g is not below upper %g",
                         f->key, c->lower.v[i], c->upper.v[i]);
        if (c->lower.v[i] < f->min || c->upper.v[i] > f->max)
            return FAULT("calibration.lower", "calibration.upper",
                         "calibration bounds [%g, %g] of %s leave its range [%g, %g]",
                         c->lower.v[i], c->upper.v[i], f->key, f->min, f->max);
    }
    return 0;
}

/* hardware.ddr.memspec (sim/io/memspec.c), then energy.ert (sim/io/ert.c): tables read from the
 * files of other tools replace the keys they cover. */
static int read_tables(struct e2_config *cfg, const struct cfg_field **blame1, char *why,
                       size_t size)
{
    struct e2_err err = {""};
    if (cfg->hw.memspec[0] && memspec_read(cfg->hw.memspec, &cfg->hw, &err) != E2_OK)
        *blame1 = cfg_find_field("hardware.ddr.memspec");
    else if (cfg->hw.ert[0] && ert_read(cfg->hw.ert, &cfg->hw, &err) != E2_OK)
        *blame1 = cfg_find_field("energy.ert");
    else
        return 0;
    snprintf(why, size, "%s", err.msg);
    return 1;
}

/* What the hardware model needs beyond each key's range (models/zynq7020.cpp checks the same
 * again); checked here so that the message names the file, line and column. */
static int check_hardware(const struct e2_config *cfg, const struct cfg_field **blame1,
                          const struct cfg_field **blame2, char *why, size_t size)
{
    const struct hw_params *p = &cfg->hw;
    const struct hw_ddr_energy *e = &p->energy.ddr;
    int fp32 = p->fp32_dsps_per_mac > p->fp32_fixed_dsps_per_mac ? p->fp32_dsps_per_mac
                                                                  : p->fp32_fixed_dsps_per_mac;
    if (p->dsps < fp32)
        return FAULT("hardware.dsps", "hardware.fp32_dsps_per_mac",
                     "hardware.dsps = %d is fewer than one float32 lane needs (hardware."
                     "fp32_dsps_per_mac = %d, fp32_fixed_dsps_per_mac = %d)", p->dsps,
                     p->fp32_dsps_per_mac, p->fp32_fixed_dsps_per_mac);
    if (p->ddr.bus_bits != p->ddr.devices * p->ddr.device_bits)
        return FAULT("hardware.ddr.bus_bits", "hardware.ddr.device_bits",
                     "hardware.ddr.bus_bits = %d must equal hardware.ddr.devices x device_bits "
                     "= %d x %d", p->ddr.bus_bits, p->ddr.devices, p->ddr.device_bits);
    if (p->ddr.trefi_ns <= p->ddr.trfc_ns)
        return FAULT("hardware.ddr.trefi_ns", "hardware.ddr.trfc_ns",
                     "hardware.ddr.trefi_ns = %g must exceed hardware.ddr.trfc_ns = %g",
                     p->ddr.trefi_ns, p->ddr.trfc_ns);
    if (e->idd0_ma < e->idd3n_ma || e->idd0_ma < e->idd2n_ma)
        return FAULT("energy.ddr.idd0_ma", "energy.ddr.idd3n_ma",
                     "energy.ddr.idd0_ma = %g must be at least idd2n_ma = %g and idd3n_ma = %g",
                     e->idd0_ma, e->idd2n_ma, e->idd3n_ma);
    const struct {
        const char *key;
        double v;
    } active[] = {{"energy.ddr.idd4r_ma", e->idd4r_ma},
                  {"energy.ddr.idd4w_ma", e->idd4w_ma},
                  {"energy.ddr.idd5_ma", e->idd5_ma}};
    for (size_t i = 0; i < sizeof active / sizeof active[0]; i++)
        if (active[i].v < e->idd3n_ma)
            return FAULT(active[i].key, "energy.ddr.idd3n_ma",
                         "%s = %g must be at least energy.ddr.idd3n_ma = %g", active[i].key,
                         active[i].v, e->idd3n_ma);
    return 0;
}

/* Resolve the derived fields and check every rule that spans more than one key. */
static int resolve_rules(struct e2_config *cfg, const struct cfg_field **blame1,
                         const struct cfg_field **blame2, char *why, size_t size)
{
    *blame1 = *blame2 = NULL;
    return resolve_method(cfg, blame1, blame2, why, size) ||
           check_precision(cfg, blame1, blame2, why, size) ||
           check_schedule(cfg, blame1, blame2, why, size) ||
           check_network(cfg, blame1, blame2, why, size) ||
           check_calibration(cfg, blame1, blame2, why, size) ||
           read_tables(cfg, blame1, why, size) ||
           check_hardware(cfg, blame1, blame2, why, size);
}

#undef FAULT

int cfg_resolve(struct e2_config *cfg, struct e2_err *err)
{
    const struct cfg_field *b1, *b2;
    char why[600];
    if (resolve_rules(cfg, &b1, &b2, why, sizeof why))
        return e2_fail(err, E2_BAD_INPUT, "config: %s", why);
    return E2_OK;
}

/* ======================================================================================== */
/* Sweeps                                                                                   */
/* ======================================================================================== */

/* The number of values of sweep key k (parses its flow list); -1 if unreadable. */
static int sweep_length(const struct e2_config *cfg, int k)
{
    yaml_document_t doc;
    char why[200];
    if (parse_text_document(cfg->sweep.values.v[k], &doc, why, sizeof why))
        return -1;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    int n = root && root->type == YAML_SEQUENCE_NODE
                ? (int)(root->data.sequence.items.top - root->data.sequence.items.start)
                : -1;
    yaml_document_delete(&doc);
    return n;
}

/* Points of the sweep, or -1 (with why) when the lists do not form one. */
static long sweep_count(const struct e2_config *cfg, char *why, size_t size)
{
    if (!cfg->has_sweep)
        return 1;
    int zip = strcmp(cfg->sweep.mode, "zip") == 0;
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
    return sweep_count(cfg, why, sizeof why);
}

/* Which value of sweep key k point `index` takes (grid: the first key varies slowest). */
static int sweep_item(const struct e2_config *cfg, long index, int k)
{
    if (strcmp(cfg->sweep.mode, "zip") == 0)
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
    if (parse_text_document(text, &doc, why, sizeof why))
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
    sb_printf(c->b, "%s%s=%.*s", c->b->len ? " " : "", c->key,
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
    return apply_node(c->o, c->f, doc, node, c->point, c->err) == E2_OK ? 0 : -1;
}

int cfg_sweep_point(const struct e2_config *cfg, long index, struct e2_config *point,
                    struct e2_err *err)
{
    char why[600], label[700], where[64];
    long points = sweep_count(cfg, why, sizeof why);
    if (points < 0)
        return e2_fail(err, E2_BAD_INPUT, "config: %s", why);
    if (index < 0 || index >= points)
        return e2_fail(err, E2_BAD_INPUT, "sweep point %ld does not exist (the sweep has %ld)",
                       index, points);
    *point = *cfg;
    point->has_sweep = 0;
    memset(&point->sweep, 0, sizeof point->sweep);
    snprintf(point->sweep.mode, sizeof point->sweep.mode, "grid");
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
    if (resolve_rules(point, &b1, &b2, why, sizeof why)) {
        cfg_sweep_label(cfg, index, label, sizeof label);
        return e2_fail(err, E2_BAD_INPUT, "sweep point %ld (%s): %s", index, label, why);
    }
    return E2_OK;
}

/* ======================================================================================== */
/* The file loader                                                                          */
/* ======================================================================================== */

/* Where a field got its value: a file position, a --set, or the table default. */
struct place {
    int src;            /* >= 0: file index; PLACE_DEFAULT; <= PLACE_SET0: set (PLACE_SET0 - k) */
    size_t line, col;   /* 1-based, for files */
};
enum { PLACE_DEFAULT = -1, PLACE_SET0 = -2 };

struct loader {
    struct e2_config *cfg;
    enum cfg_scope scope;
    struct place *places;               /* one per field, by field_index() */
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
    L->places[field_index(f)] = p;
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
    int c = strcmp(scalar_of(*x), scalar_of(*y));
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
        if (key->type != YAML_SCALAR_NODE || !scalar_of(key)[0]) {
            free(keys);
            return fail_node(err, o, key, "a key must be a plain name%s, got %s",
                             in_what(prefix, in, sizeof in),
                             key->type == YAML_SCALAR_NODE ? "an empty one" : node_kind(key));
        }
    }
    /* nodes are numbered in file order (aliases are copies placed at the alias) */
    qsort(keys, n, sizeof *keys, compare_keys);
    const yaml_node_t *first = NULL, *dup = NULL;
    for (size_t i = 1; i < n; i++)
        if (strcmp(scalar_of(keys[i - 1]), scalar_of(keys[i])) == 0 &&
            (i < 2 || strcmp(scalar_of(keys[i - 2]), scalar_of(keys[i])) != 0) &&
            (!dup || keys[i] < dup)) {
            first = keys[i - 1];
            dup = keys[i];
        }
    free(keys);
    if (dup)
        return fail_node(err, o, dup, "duplicate key '%s'%s (first at line %zu)", scalar_of(dup),
                         in_what(prefix, in, sizeof in), first->start_mark.line + 1);
    return E2_OK;
}

static int unknown_key(struct e2_err *err, const struct origin *o, const yaml_node_t *key,
                       const char *prefix)
{
    struct suggestion s;
    char hint[KEY_MAX + 40], in[KEY_MAX + 8];
    suggest_key(prefix, scalar_of(key), &s);
    return fail_node(err, o, key, "unknown key '%s'%s%s", scalar_of(key),
                     in_what(prefix, in, sizeof in), did_you_mean(&s, hint, sizeof hint));
}

static int not_in_scope(struct e2_err *err, const struct origin *o, const yaml_node_t *key,
                        const char *path)
{
    return fail_node(err, o, key,
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
        return fail_node(err, &o, node, "sweep expects a mapping with mode: and vary:, got %s",
                         node_kind(node));
    if (check_keys(&o, doc, node, "sweep", err))
        return E2_BAD_INPUT;
    memset(&cfg->sweep, 0, sizeof cfg->sweep);
    snprintf(cfg->sweep.mode, sizeof cfg->sweep.mode, "grid");
    yaml_node_t *vary = NULL;
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
        yaml_node_t *key = yaml_document_get_node(doc, p->key);
        yaml_node_t *value = yaml_document_get_node(doc, p->value);
        const char *name = scalar_of(key);
        if (strcmp(name, "mode") == 0) {
            if (value->type != YAML_SCALAR_NODE ||
                (strcmp(scalar_of(value), "grid") && strcmp(scalar_of(value), "zip")))
                return fail_node(err, &o, value, "sweep.mode expects grid or zip");
            snprintf(cfg->sweep.mode, sizeof cfg->sweep.mode, "%s", scalar_of(value));
        } else if (strcmp(name, "vary") == 0) {
            vary = value;
        } else {
            struct suggestion s = {"", INT_MAX};
            char hint[KEY_MAX + 40];
            suggest_consider(&s, name, "mode");
            suggest_consider(&s, name, "vary");
            return fail_node(err, &o, key, "unknown key '%s' in sweep%s", name,
                             did_you_mean(&s, hint, sizeof hint));
        }
    }
    if (!vary || vary->type != YAML_MAPPING_NODE || vary->data.mapping.pairs.top == vary->data.mapping.pairs.start)
        return fail_node(err, &o, vary ? vary : node,
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
        const char *name = scalar_of(key);
        const struct cfg_field *f = cfg_find_field(name);
        int k = cfg->sweep.keys.n;
        if (!f && is_section(name)) {
            rc = fail_node(err, &o, key, "sweep.vary: '%s' is a section; vary one of its keys",
                           name);
        } else if (!f) {
            struct suggestion s;
            char hint[KEY_MAX + 40];
            suggest_full_key(name, &s);
            rc = fail_node(err, &o, key, "sweep.vary: unknown key '%s'%s", name,
                           did_you_mean(&s, hint, sizeof hint));
        } else if (L->scope == CFG_SCOPE_HW && !is_hw_key(name)) {
            rc = fail_node(err, &o, key,
                           "a hardware config's sweep may vary only hardware: and energy: keys, "
                           "not '%s'", name);
        } else if (k == CFG_LIST_MAX) {
            rc = fail_node(err, &o, key, "a sweep may vary at most %d keys", CFG_LIST_MAX);
        } else if (list->type != YAML_SEQUENCE_NODE ||
                   list->data.sequence.items.top == list->data.sequence.items.start) {
            rc = fail_node(err, &o, list, "sweep.vary.%s expects a non-empty list of values, got %s",
                           name, list->type == YAML_SEQUENCE_NODE ? "an empty list" : node_kind(list));
        } else {
            /* validate every value against the row; keep the canonical text of the list */
            struct sbuf b = {cfg->sweep.values.v[k], CFG_TEXT, 0, 0};
            sb_printf(&b, "[");
            for (yaml_node_item_t *it = list->data.sequence.items.start;
                 it < list->data.sequence.items.top && rc == E2_OK; it++) {
                char text[CFG_TEXT];
                rc = apply_node(&o, f, doc, yaml_document_get_node(doc, *it), scratch, err);
                if (rc == E2_OK && cfg_format_value(scratch, f, text, sizeof text) < 0)
                    rc = fail_node(err, &o, list, "sweep.vary.%s: a value is too long", name);
                if (rc == E2_OK)
                    sb_printf(&b, "%s%s", it == list->data.sequence.items.start ? "" : ", ", text);
            }
            sb_printf(&b, "]");
            if (rc == E2_OK && b.overflow)
                rc = fail_node(err, &o, list, "sweep.vary.%s: the list is longer than %d characters",
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
        const char *name = scalar_of(key);
        char path[KEY_MAX + 1];
        if (join_key(path, sizeof path, prefix, name))
            return unknown_key(err, &o, key, prefix);
        if (!prefix[0] && strcmp(name, "include") == 0)
            continue;   /* already loaded */
        if (!allowed_in_scope(L->scope, path))
            return not_in_scope(err, &o, key, path);
        if (!prefix[0] && strcmp(name, "sweep") == 0) {
            if (apply_sweep(L, file, doc, value, err))
                return E2_BAD_INPUT;
            continue;
        }
        const struct cfg_field *f = cfg_find_field(path);
        if (f) {
            /* one key twice in one file, e.g. through `training: {lr:}` and `training.lr:` */
            struct place was = L->places[field_index(f)];
            if (was.src == file)
                return fail_node(err, &o, key, "duplicate key '%s' (first set at line %zu)",
                                 path, was.line);
            if (apply_node(&o, f, doc, value, L->cfg, err))
                return E2_BAD_INPUT;
            record_place(L, f, node_place(file, value));
        } else if (is_section(path)) {
            if (is_null_node(value))
                continue;
            if (value->type != YAML_MAPPING_NODE)
                return fail_node(err, &o, value,
                                 "'%s' is a section: expected a mapping of its keys, got %s", path,
                                 node_kind(value));
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
        if (key->type != YAML_SCALAR_NODE || strcmp(scalar_of(key), "include") != 0)
            continue;
        yaml_node_item_t single = (yaml_node_item_t)(value - doc->nodes.start) + 1;
        yaml_node_item_t *first = &single, *last = &single + 1;
        if (value->type == YAML_SEQUENCE_NODE) {
            first = value->data.sequence.items.start;
            last = value->data.sequence.items.top;
        } else if (value->type != YAML_SCALAR_NODE || is_null_node(value)) {
            return fail_node(err, &o, value, "include expects a file name or a list of them");
        }
        for (yaml_node_item_t *it = first; it < last; it++) {
            yaml_node_t *item = yaml_document_get_node(doc, *it);
            if (item->type != YAML_SCALAR_NODE || !scalar_of(item)[0])
                return fail_node(err, &o, item, "include expects file names, got %s",
                                 node_kind(item));
            const char *name = scalar_of(item);
            const char *slash = strrchr(L->files[file], '/');
            int dir_len = name[0] == '/' || !slash ? 0 : (int)(slash - L->files[file]) + 1;
            char joined[PATH_MAX];
            if (snprintf(joined, sizeof joined, "%.*s%s", dir_len, L->files[file], name) >=
                (int)sizeof joined)
                return fail_node(err, &o, item, "include path is too long");
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
    if (!root || is_null_node(root))
        return E2_OK;   /* an empty file sets nothing */
    if (L->depth == 1)
        L->top = node_place(file, root);
    if (root->type != YAML_MAPPING_NODE)
        return fail_node(err, &o, root, "a config is a mapping of keys (key: value), got %s",
                         node_kind(root));
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
            return fail_node(err, from, from_node, "cannot include '%s': %s", path, why);
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
                sb_printf(&b, "%s -> ", L->files[L->chain_file[j]]);
            sb_printf(&b, "%s", path);
            free(real);
            return fail_node(err, from, from_node, "include cycle: %s", chain);
        }
    }
    if (L->depth == MAX_DEPTH || L->nfiles == MAX_FILES) {
        free(real);
        return fail_node(err, from, from_node, "includes nest deeper than %d or read more than %d files",
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
static int apply_set(struct e2_config *cfg, enum cfg_scope scope, const char *assignment,
                     struct e2_err *err)
{
    struct origin o = {NULL, NULL};
    char label[CFG_TEXT + 8], key[KEY_MAX + 1];
    snprintf(label, sizeof label, "--set %s", assignment);
    o.label = label;
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment)
        return fail_node(err, &o, NULL, "expected KEY=VALUE");
    if ((size_t)(eq - assignment) > KEY_MAX)
        return fail_node(err, &o, NULL, "unknown key");
    memcpy(key, assignment, (size_t)(eq - assignment));
    key[eq - assignment] = 0;
    const struct cfg_field *f = cfg_find_field(key);
    if (!f) {
        struct suggestion s;
        char hint[KEY_MAX + 40];
        if (is_section(key))
            return fail_node(err, &o, NULL, "'%s' is a section; set one of its keys", key);
        suggest_full_key(key, &s);
        return fail_node(err, &o, NULL, "unknown key '%s'%s", key,
                         did_you_mean(&s, hint, sizeof hint));
    }
    if (!allowed_in_scope(scope, key))
        return fail_node(err, &o, NULL,
                         "key '%s' is not allowed in a hardware config (it may hold name, "
                         "hardware, energy and report keys)", key);
    return apply_text(&o, f, eq + 1, cfg, err);
}

int cfg_set(struct e2_config *cfg, const char *assignment, struct e2_err *err)
{
    if (apply_set(cfg, cfg->scope, assignment, err))
        return E2_BAD_INPUT;
    const struct cfg_field *b1, *b2;
    char why[600];
    if (resolve_rules(cfg, &b1, &b2, why, sizeof why))
        return e2_fail(err, E2_BAD_INPUT, "--set %s: %s", assignment, why);
    return E2_OK;
}

/* The place to quote for a rule fault: the first blamed field the user set. */
static struct place blame_place(const struct loader *L, const struct cfg_field *b1,
                                const struct cfg_field *b2)
{
    if (b1 && L->places[field_index(b1)].src != PLACE_DEFAULT)
        return L->places[field_index(b1)];
    if (b2 && L->places[field_index(b2)].src != PLACE_DEFAULT)
        return L->places[field_index(b2)];
    return L->top;
}

/* After the files and sets: required keys, rules, and every sweep point. */
static int finish_load(struct loader *L, int nsets, struct e2_err *err)
{
    struct e2_config *cfg = L->cfg;
    if (L->scope == CFG_SCOPE_RUN) {
        for (int i = 0; required_keys[i]; i++) {
            const struct cfg_field *f = cfg_find_field(required_keys[i]);
            if (L->places[field_index(f)].src == PLACE_DEFAULT)
                return fail_place(err, L, L->top, "missing required key '%s'", f->key);
        }
    }
    const struct cfg_field *b1, *b2;
    char why[600];
    if (resolve_rules(cfg, &b1, &b2, why, sizeof why))
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
    long points = sweep_count(cfg, why, sizeof why);
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

int cfg_load_scoped(const char *path, const char *const *sets, int nsets, enum cfg_scope scope,
                    struct e2_config *cfg, struct e2_err *err)
{
    int rc = defaults_checked(cfg, err);
    if (rc != E2_OK)
        return rc;
    cfg->scope = scope;
    if (strlen(path) >= sizeof cfg->source)
        return e2_fail(err, E2_BAD_INPUT, "config path is too long: %s", path);
    snprintf(cfg->source, sizeof cfg->source, "%s", path);

    struct loader L = {0};
    L.cfg = cfg;
    L.scope = scope;
    L.sets = sets;
    L.top = (struct place){0, 1, 1};
    L.places = malloc(sizeof *L.places * (size_t)field_count());
    if (!L.places)
        return e2_fail(err, E2_FAILURE, "out of memory");
    for (int i = 0; i < field_count(); i++)
        L.places[i] = (struct place){PLACE_DEFAULT, 0, 0};

    rc = load_file(&L, path, NULL, NULL, err);
    for (int s = 0; s < nsets && rc == E2_OK; s++) {
        rc = apply_set(cfg, scope, sets[s], err);
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

int cfg_load(const char *path, const char *const *sets, int nsets, struct e2_config *cfg,
             struct e2_err *err)
{
    return cfg_load_scoped(path, sets, nsets, CFG_SCOPE_RUN, cfg, err);
}

/* ======================================================================================== */
/* Printing                                                                                 */
/* ======================================================================================== */

/* Rows a print of this config shows: a hardware config shows only what it may hold. */
static int printable(const struct e2_config *cfg, const struct cfg_field *f)
{
    return allowed_in_scope(cfg->scope, f->key);
}

/* Field i is the first row of its child section under prefix (so the section prints once). */
static int first_in_child(int i, const char *prefix, const struct e2_config *cfg)
{
    char mine[KEY_MAX + 1], other[KEY_MAX + 1];
    child_name(field_at(i)->key, prefix, mine, sizeof mine);
    for (int j = 0; j < i; j++) {
        if (!in_section(field_at(j)->key, prefix) || !printable(cfg, field_at(j)))
            continue;
        child_name(field_at(j)->key, prefix, other, sizeof other);
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
    for (int i = 0; field_at(i); i++) {
        const struct cfg_field *f = field_at(i);
        if (!in_section(f->key, prefix) || !printable(cfg, f))
            continue;
        child_name(f->key, prefix, child, sizeof child);
        const char *rest = f->key + (prefix[0] ? strlen(prefix) + 1 : 0);
        if (!strchr(rest, '.')) {
            cfg_format_value(cfg, f, value, sizeof value);
            snprintf(text, sizeof text, "%s: %s", child, value);
            print_line(out, indent, text, docs ? f->doc : NULL);
        } else if (first_in_child(i, prefix, cfg)) {
            char path[2 * KEY_MAX + 2];
            if (join_key(path, sizeof path, prefix, child))
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
    snprintf(text, sizeof text, "mode: %s", cfg->sweep.mode);
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
    const void *v = cslot(cfg, f);
    char num[64];
    switch (f->type) {
    case CFG_STRING:
    case CFG_ENUM:
        json_write_escaped(out, v);
        return;
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
            format_double(l->v[i], num, sizeof num);
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
    for (int i = 0; field_at(i); i++) {
        const struct cfg_field *f = field_at(i);
        if (!in_section(f->key, prefix) || !printable(cfg, f))
            continue;
        child_name(f->key, prefix, child, sizeof child);
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
            if (join_key(path, sizeof path, prefix, child) == 0)
                json_section(out, cfg, path);
            else
                fputs("{}", out);
        }
    }
    if (!prefix[0] && cfg->has_sweep) {
        fputs(", \"sweep\": {\"mode\": ", out);
        json_write_escaped(out, cfg->sweep.mode);
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

/* ======================================================================================== */
/* docs/config.md                                                                           */
/* ======================================================================================== */

static const char *type_name(enum cfg_type t)
{
    switch (t) {
    case CFG_INT:
        return "integer";
    case CFG_DOUBLE:
        return "number";
    case CFG_BOOL:
        return "boolean";
    case CFG_STRING:
        return "text";
    case CFG_ENUM:
        return "choice";
    case CFG_INT_LIST:
        return "list of integers";
    case CFG_DOUBLE_LIST:
        return "list of numbers";
    case CFG_STRING_LIST:
        return "list of names";
    }
    return "?";
}

/* Markdown table cells must not hold a bare '|'. */
static void md_cell(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", out);
        else
            fputc(*s, out);
    }
}

static void reference_row(FILE *out, const struct cfg_field *f)
{
    char range[100];
    fputs("| `", out);
    fputs(f->key, out);
    fprintf(out, "` | %s | ", type_name(f->type));
    if (cfg_key_required(f->key)) {
        fputs("**required**", out);
    } else {
        fputc('`', out);
        md_cell(out, f->def && f->def[0] ? f->def : "\"\"");
        fputc('`', out);
    }
    fputs(" | ", out);
    if (f->choices) {
        for (const char *p = f->choices; *p; p++) {
            if (*p == '|')
                fputs(", ", out);
            else
                fputc(*p, out);
        }
    } else if (f->type == CFG_INT || f->type == CFG_DOUBLE || f->type == CFG_INT_LIST ||
               f->type == CFG_DOUBLE_LIST) {
        range_text(f, range, sizeof range);
        fputs(range, out);
    }
    fputs(" | ", out);
    md_cell(out, f->doc);
    fputs(" |\n", out);
}

void cfg_write_reference(FILE *out)
{
    fputs("# e2sim configuration reference\n\n"
          "<!-- Generated by `e2sim --config-reference > docs/config.md` from the schema tables\n"
          "     (sim/io/config_fields.c, sim/io/config_hw.c). Do not edit by hand. -->\n\n"
          "A config is one YAML mapping. Sections nest: `training.psg.beta` is written\n\n"
          "```yaml\ntraining:\n  psg:\n    beta: 0.05\n```\n\n"
          "Loading is strict. An unknown key (with a suggestion for misspellings), a wrong type,\n"
          "a value out of range or not among its choices, a duplicate key, a missing required\n"
          "key, malformed YAML and a bad include are errors that name the file, line and\n"
          "column; e2sim then exits with status 2. Keys not given take the defaults below.\n"
          "A key is set at most once per file, whether through its section or its dotted\n"
          "name (`training: {lr: 0.1}` and `training.lr: 0.2` in one file is a duplicate).\n"
          "A file is one YAML document, a regular file of at most 1 MB, with mappings and\n"
          "lists nested at most 64 deep; a node reached through an alias counts as written\n"
          "at the alias. Rules that span keys (e.g. `hardware.ddr.bus_bits` = `devices` x\n"
          "`device_bits`) are checked at load time too, `--print-config` included.\n\n"
          "- `include: [hw/zynq7020.yaml, ...]` (top level) loads those files first, paths\n"
          "  relative to the including file; the including file's own keys then override them.\n"
          "  A key twice in one file is an error; a key in two files is an override.\n"
          "- `--set KEY=VALUE` (repeatable) overrides any key after the files; VALUE is YAML,\n"
          "  so lists work: `--set training.method=[fp32]`.\n"
          "- `e2sim --config FILE --print-config` prints the fully resolved config, itself a\n"
          "  valid config.\n"
          "- `training.method` names exactly one base (fp32, fixed8, fixed, signsgd, psg) plus\n"
          "  any of smd, slu or sd (not both), swa. The enabled flags of smd/slu/sd/psg/swa and\n"
          "  `training.base` are derived from it; they are not keys.\n"
          "- Paths in values are relative to the working directory; `include:` paths are\n"
          "  relative to the including file.\n"
          "- `e2sim replay TRACE --config HW.yaml` takes a hardware config: only `name`,\n"
          "  `hardware`, `energy`, `report` and a sweep of hardware/energy keys.\n\n",
          out);
    char section[KEY_MAX + 1] = "", child[KEY_MAX + 1];
    for (int i = 0; field_at(i); i++) {
        const struct cfg_field *f = field_at(i);
        child_name(f->key, "", child, sizeof child);
        if (!strchr(f->key, '.'))
            child[0] = 0;   /* top-level keys */
        if (i == 0 || strcmp(child, section) != 0) {
            snprintf(section, sizeof section, "%s", child);
            fprintf(out, "%s## %s\n\n| key | type | default | range / choices | meaning |\n"
                         "|---|---|---|---|---|\n",
                    i ? "\n" : "", section[0] ? section : "Top level");
        }
        reference_row(out, f);
    }
    fputs("\n## sweep\n\n"
          "Optional. Runs the config once per point, with some keys varied; every value is\n"
          "checked against its key's row before any point runs.\n\n"
          "```yaml\nsweep:\n  mode: grid        # grid: every combination, the first key varying "
          "slowest\n                    # zip: the i-th values of all keys together (equal "
          "lengths)\n  vary:\n    training.psg.beta: [0.01, 0.05, 0.1]\n"
          "    training.psg.msb_g: [8, 10]\n    training.method: [[psg, swa], [smd, slu, psg, "
          "swa]]   # list keys take lists\n```\n\n"
          "A key varied by the sweep cannot also be given with `--set`. `--shard K/N` runs\n"
          "every N-th point starting at point K-1; `--point I` runs point I alone.\n",
          out);
}
