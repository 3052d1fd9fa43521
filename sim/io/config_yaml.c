/* YAML text to a libyaml document, built from the parser's events so that no input can make the
 * parse slow (bounded size, nesting, nodes and anchors) and a node reached through an alias is a
 * copy placed at the alias. libyaml's marks are 0-based; messages add 1. */
#include "config_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/* Whether text is what core tag `name` (e.g. "int" of !!int) says it is, and what that is;
 * -1 for a tag that no value takes. */
static int tag_fits(const char *name, const char *text, const char **what)
{
    long i;
    double d;
    static const char *const names[] = {"str", "int", "float", "bool", "null"};
    static const char *const whats[] = {"text", "an integer", "a number", "true or false",
                                        "null"};
    int k = 0;
    while (k < 5 && strcmp(name, names[k]) != 0)
        k++;
    if (k == 5)
        return -1;
    *what = whats[k];
    return k == 0 || (k == 1 && cfg_int_text(text, &i)) || (k == 2 && cfg_number_text(text, &d)) ||
           (k == 3 && (strcmp(text, "true") == 0 || strcmp(text, "false") == 0)) ||
           (k == 4 && cfg_is_null_text(text));
}

/* An explicit tag claims what its node is. Every value is read by its key's type, so a tag adds
 * nothing, but a false claim (!!int abc) is the user's mistake: refuse it rather than ignore
 * it. text: a scalar's, NULL for a list or mapping (tagged !!seq and !!map). */
static int compose_tag(struct composer *c, const yaml_char_t *tag, const char *text,
                       const char *collection, yaml_mark_t at)
{
    static const char core[] = "tag:yaml.org,2002:";
    if (!tag)
        return 0;
    const char *t = (const char *)tag, *what = NULL;
    const char *name = strncmp(t, core, sizeof core - 1) == 0 ? t + sizeof core - 1 : NULL;
    int fits = !name ? -1 : text ? tag_fits(name, text, &what) : strcmp(name, collection) == 0;
    if (fits == 1)
        return 0;
    if (fits == 0 && text)
        return compose_fail(c, at, "!!%s tag: '%s' is not %s", name, text, what);
    return compose_fail(c, at, "unsupported YAML tag '%s%s' (values take !!str, !!int, !!float, "
                        "!!bool or !!null; a list !!seq, a mapping !!map)", name ? "!!" : "",
                        name ? name : t);
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
        if (compose_tag(c, e->data.scalar.tag, (const char *)e->data.scalar.value, NULL,
                        e->start_mark))
            return -1;
        id = yaml_document_add_scalar(doc, NULL, e->data.scalar.value,
                                      (int)e->data.scalar.length, e->data.scalar.style);
        return compose_place(c, id, e->start_mark, e->end_mark) ||
               compose_anchor(c, e->data.scalar.anchor, id, e->start_mark);
    case YAML_SEQUENCE_START_EVENT:
        if (compose_tag(c, e->data.sequence_start.tag, NULL, "seq", e->start_mark))
            return -1;
        id = yaml_document_add_sequence(doc, NULL, e->data.sequence_start.style);
        return compose_place(c, id, e->start_mark, e->end_mark) ||
               compose_anchor(c, e->data.sequence_start.anchor, id, e->start_mark) ||
               compose_open(c, id, e->start_mark);
    case YAML_MAPPING_START_EVENT:
        if (compose_tag(c, e->data.mapping_start.tag, NULL, "map", e->start_mark))
            return -1;
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
int cfg_parse_text(const char *text, yaml_document_t *doc, char *why, size_t size)
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
