/* One value of the config: parsed from a YAML node and validated against its schema row,
 * formatted back as canonical YAML, and the "did you mean" suggestions for misspelled keys and
 * choices. */
#include "config_internal.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

void cfg_suggest_consider(struct suggestion *s, const char *typed, const char *candidate)
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
void cfg_child_name(const char *key, const char *prefix, char *out, size_t size)
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
void cfg_suggest_key(const char *prefix, const char *typed, struct suggestion *s)
{
    s->text[0] = 0;
    s->distance = INT_MAX;
    char child[KEY_MAX + 1];
    for (int i = 0; cfg_field_at(i); i++) {
        if (!cfg_in_section(cfg_field_at(i)->key, prefix))
            continue;
        cfg_child_name(cfg_field_at(i)->key, prefix, child, sizeof child);
        cfg_suggest_consider(s, typed, child);
    }
    if (!prefix[0]) {
        cfg_suggest_consider(s, typed, "include");
        cfg_suggest_consider(s, typed, "sweep");
    }
    if (s->text[0])
        return;
    /* elsewhere: any key or section path whose last component is the typed name */
    for (int i = 0; cfg_field_at(i) && !s->text[0]; i++) {
        const char *key = cfg_field_at(i)->key;
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
void cfg_suggest_full_key(const char *typed, struct suggestion *s)
{
    char prefix[KEY_MAX + 1] = "";
    const char *dot = strrchr(typed, '.');
    if (dot && (size_t)(dot - typed) <= KEY_MAX) {
        memcpy(prefix, typed, (size_t)(dot - typed));
        prefix[dot - typed] = 0;
    }
    if (!prefix[0] || cfg_is_section(prefix)) {
        cfg_suggest_key(prefix, dot ? dot + 1 : typed, s);
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
    for (int i = 0; cfg_field_at(i); i++)
        cfg_suggest_consider(s, typed, cfg_field_at(i)->key);
}

/* " (did you mean 'x'?)" or "". */
const char *cfg_did_you_mean(const struct suggestion *s, char *buf, size_t size)
{
    if (!s->text[0])
        return "";
    snprintf(buf, size, " (did you mean '%s'?)", s->text);
    return buf;
}

/* ======================================================================================== */
/* Formatting values as canonical YAML                                                      */
/* ======================================================================================== */

void cfg_sb_printf(struct sbuf *b, const char *fmt, ...)
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
void cfg_format_double(double v, char *buf, size_t size)
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

int cfg_is_null_text(const char *s)
{
    return !s[0] || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

/* Text that YAML reads back unchanged without quotes (by our own rules: no null words; a lone
 * "-" starts a block sequence). */
static int plain_safe(const char *s)
{
    if (cfg_is_null_text(s) || strcmp(s, "-") == 0)
        return 0;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("_./+-", *p))
            return 0;
    return 1;
}

/* Code points that YAML does not take as written: the C1 controls U+0080..U+009F (U+0085, a
 * line break, would read back as a space) and the non-characters U+FFFE and U+FFFF ("control
 * characters are not allowed"). Written as escapes; *p moves to the last byte of the UTF-8. */
static int escaped_unicode(struct sbuf *b, const unsigned char **p)
{
    const unsigned char *q = *p;
    if (q[0] == 0xc2 && q[1] >= 0x80 && q[1] <= 0x9f) {
        cfg_sb_printf(b, "\\x%02x", q[1]);
        *p += 1;
        return 1;
    }
    if (q[0] == 0xef && q[1] == 0xbf && (q[2] == 0xbe || q[2] == 0xbf)) {
        cfg_sb_printf(b, "\\u%04x", 0xffc0 | (q[2] & 0x3f));
        *p += 2;
        return 1;
    }
    return 0;
}

static void format_text(struct sbuf *b, const char *s)
{
    if (plain_safe(s)) {
        cfg_sb_printf(b, "%s", s);
        return;
    }
    cfg_sb_printf(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            cfg_sb_printf(b, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            cfg_sb_printf(b, "\\x%02x", *p);
        else if (escaped_unicode(b, &p))
            continue;
        else
            cfg_sb_printf(b, "%c", *p);
    }
    cfg_sb_printf(b, "\"");
}

static void format_value(struct sbuf *b, const struct e2_config *cfg, const struct cfg_field *f)
{
    const void *v = cfg_cslot(cfg, f);
    char num[64];
    switch (f->type) {
    case CFG_INT:
        cfg_sb_printf(b, "%d", *(const int *)v);
        break;
    case CFG_DOUBLE:
        cfg_format_double(*(const double *)v, num, sizeof num);
        cfg_sb_printf(b, "%s", num);
        break;
    case CFG_BOOL:
        cfg_sb_printf(b, "%s", *(const int *)v ? "true" : "false");
        break;
    case CFG_STRING:
        format_text(b, (const char *)v);
        break;
    case CFG_CHOICE: {
        char name[CFG_STR];
        cfg_choice_text(f, *(const int *)v, name, sizeof name);
        format_text(b, name);
        break;
    }
    case CFG_INT_LIST: {
        const struct cfg_int_list *l = v;
        cfg_sb_printf(b, "[");
        for (int i = 0; i < l->n; i++)
            cfg_sb_printf(b, "%s%d", i ? ", " : "", l->v[i]);
        cfg_sb_printf(b, "]");
        break;
    }
    case CFG_DOUBLE_LIST: {
        const struct cfg_double_list *l = v;
        cfg_sb_printf(b, "[");
        for (int i = 0; i < l->n; i++) {
            cfg_format_double(l->v[i], num, sizeof num);
            cfg_sb_printf(b, "%s%s", i ? ", " : "", num);
        }
        cfg_sb_printf(b, "]");
        break;
    }
    case CFG_STRING_LIST: {
        const struct cfg_string_list *l = v;
        cfg_sb_printf(b, "[");
        for (int i = 0; i < l->n; i++) {
            cfg_sb_printf(b, "%s", i ? ", " : "");
            format_text(b, l->v[i]);
        }
        cfg_sb_printf(b, "]");
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
/* Reading values from YAML nodes                                                           */
/* ======================================================================================== */

static void origin_text(const struct origin *o, const yaml_node_t *node, char *buf, size_t size)
{
    if (o->file && node)
        snprintf(buf, size, "%s:%zu:%zu", o->file, node->start_mark.line + 1,
                 node->start_mark.column + 1);
    else
        snprintf(buf, size, "%s", o->file ? o->file : o->label);
}

int cfg_fail_node(struct e2_err *err, const struct origin *o, const yaml_node_t *node,
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

const char *cfg_node_kind(const yaml_node_t *node)
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

const char *cfg_scalar_of(const yaml_node_t *node)
{
    return (const char *)node->data.scalar.value;
}

int cfg_is_null_node(const yaml_node_t *node)
{
    return node->type == YAML_SCALAR_NODE && node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           cfg_is_null_text(cfg_scalar_of(node));
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
    cfg_sb_printf(&b, "one of ");
    for (const char *p = f->choices; *p; p++)
        cfg_sb_printf(&b, *p == '|' ? ", " : "%c", *p);
}

void cfg_range_text(const struct cfg_field *f, char *buf, size_t size)
{
    char lo[40], hi[40];
    cfg_format_double(f->min, lo, sizeof lo);
    cfg_format_double(f->max, hi, sizeof hi);
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

void cfg_choice_text(const struct cfg_field *f, int index, char *buf, size_t size)
{
    const char *p = f->choices;
    for (int i = 0; i < index && p; i++) {
        p = strchr(p, '|');
        p = p ? p + 1 : NULL;
    }
    snprintf(buf, size, "%.*s", p ? (int)strcspn(p, "|") : 0, p ? p : "");
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
            cfg_suggest_consider(s, typed, one);
        }
        if (!p[n])
            return;
        p += n + 1;
    }
}

int cfg_int_text(const char *s, long *v)
{
    char *end;
    errno = 0;
    *v = strtol(s, &end, 10);
    return s[0] && !isspace((unsigned char)s[0]) && !*end && errno != ERANGE;
}

int cfg_number_text(const char *s, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return s[0] && !isspace((unsigned char)s[0]) && !*end && isfinite(*v) &&
           !(errno == ERANGE && fabs(*v) > 1);
}

/* Parse one scalar element of field f from text s into out (int, double or char[CFG_STR]).
 * On error writes the reason (naming `what`, e.g. "training.lr_steps[2]") into why. */
static int parse_element(const struct cfg_field *f, const char *what, const char *s, void *out,
                         char *why, size_t size)
{
    char expected[300], range[100];
    expected_text(f, expected, sizeof expected);
    cfg_range_text(f, range, sizeof range);
    switch (f->type) {
    case CFG_INT:
    case CFG_INT_LIST: {
        long v;
        if (!cfg_int_text(s, &v)) {
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
                cfg_sb_printf(&b, *p == '|' ? ", " : "%c", *p);
            snprintf(why, size, "%s = %s is not one of %s", what, s, range);
            return -1;
        }
        *(int *)out = (int)v;
        return 0;
    }
    case CFG_DOUBLE:
    case CFG_DOUBLE_LIST: {
        double v;
        if (!cfg_number_text(s, &v)) {
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
                     cfg_did_you_mean(&sug, hint, sizeof hint));
            return -1;
        }
        if (f->type == CFG_CHOICE)
            *(int *)out = choice_index(f->choices, s);   /* decoded once, here */
        else
            strcpy((char *)out, s);
        return 0;
    }
}

/* Store node's value into field f of cfg, validating it against the row. */
int cfg_apply_node(const struct origin *o, const struct cfg_field *f, yaml_document_t *doc,
                      yaml_node_t *node, struct e2_config *cfg, struct e2_err *err)
{
    char why[700], expected[300];
    int is_list = f->type == CFG_INT_LIST || f->type == CFG_DOUBLE_LIST ||
                  f->type == CFG_STRING_LIST;
    expected_text(f, expected, sizeof expected);
    if (!is_list) {
        if (node->type != YAML_SCALAR_NODE)
            return cfg_fail_node(err, o, node, "%s expects %s, got %s", f->key, expected,
                             cfg_node_kind(node));
        const char *s = cfg_scalar_of(node);
        if ((f->type == CFG_STRING || f->type == CFG_CHOICE) &&
            cfg_is_null_node(node))
            s = "";
        if (parse_element(f, f->key, s, cfg_slot(cfg, f), why, sizeof why))
            return cfg_fail_node(err, o, node, "%s", why);
        return E2_OK;
    }

    if (node->type == YAML_MAPPING_NODE)
        return cfg_fail_node(err, o, node, "%s expects a list of %s, got a mapping", f->key,
                         f->type == CFG_STRING_LIST ? "names" : "numbers");
    /* the items: a sequence's, or a single scalar read as a one-item list, or none for null */
    yaml_node_item_t single = 0;
    yaml_node_item_t *first = &single, *last = &single;
    if (node->type == YAML_SEQUENCE_NODE) {
        first = node->data.sequence.items.start;
        last = node->data.sequence.items.top;
    } else if (!cfg_is_null_node(node)) {
        single = (yaml_node_item_t)(node - doc->nodes.start) + 1;
        last = &single + 1;
    }
    if (last - first > CFG_LIST_MAX)
        return cfg_fail_node(err, o, node, "%s has %d items; at most %d are allowed", f->key,
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
            rc = cfg_fail_node(err, o, item, "%s expects %s, got %s", what, expected,
                           cfg_node_kind(item));
        else if (f->type == CFG_STRING_LIST && !cfg_scalar_of(item)[0])
            rc = cfg_fail_node(err, o, item, "%s is empty", what);
        else if (parse_element(f, what, cfg_scalar_of(item), out, why, sizeof why))
            rc = cfg_fail_node(err, o, item, "%s", why);
    }
    if (rc == E2_OK) {
        list->i.n = n;   /* n is the first member of all three list types */
        size_t bytes = f->type == CFG_INT_LIST      ? sizeof list->i
                       : f->type == CFG_DOUBLE_LIST ? sizeof list->d
                                                    : sizeof list->s;
        memcpy(cfg_slot(cfg, f), list, bytes);
    }
    free(list);
    return rc;
}

/* Apply YAML text as the value of field f. An empty text is empty text, or an empty list. */
int cfg_apply_text(const struct origin *o, const struct cfg_field *f, const char *text,
                      struct e2_config *cfg, struct e2_err *err)
{
    yaml_document_t doc;
    char why[300];
    int is_list = f->type == CFG_INT_LIST || f->type == CFG_DOUBLE_LIST ||
                  f->type == CFG_STRING_LIST;
    if (!text[0])
        text = is_list ? "[]" : "''";
    if (cfg_parse_text(text, &doc, why, sizeof why))
        return cfg_fail_node(err, o, NULL, "%s", why);
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    int rc = root ? cfg_apply_node(o, f, &doc, root, cfg, err)
                  : cfg_fail_node(err, o, NULL, "%s needs a value", f->key);
    yaml_document_delete(&doc);
    return rc;
}
