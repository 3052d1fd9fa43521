/* Tiny JSON writer and reader; see json.h. */
#define _POSIX_C_SOURCE 200809L
#include "json.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- writer ---------------------------------------------------------------------------- */

void json_init(struct json_writer *w, FILE *f, int pretty)
{
    memset(w, 0, sizeof *w);
    w->f = f;
    w->pretty = pretty;
}

static void newline_indent(struct json_writer *w)
{
    if (!w->pretty)
        return;
    fputc('\n', w->f);
    for (int i = 0; i < w->depth; i++)
        fputs("  ", w->f);
}

/* Comma and indentation before a value (or before a key inside an object). */
static void before_item(struct json_writer *w)
{
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (w->count[w->depth] > 0)
        fputc(',', w->f);
    if (w->depth > 0)
        newline_indent(w);
    w->count[w->depth]++;
}

static void open_container(struct json_writer *w, char c)
{
    before_item(w);
    fputc(c, w->f);
    if (w->depth < JSON_MAX_DEPTH)
        w->depth++;
    w->count[w->depth] = 0;
}

static void close_container(struct json_writer *w, char c)
{
    int had_items = w->count[w->depth] > 0;
    if (w->depth > 0)
        w->depth--;
    if (had_items)
        newline_indent(w);
    fputc(c, w->f);
}

void json_object_begin(struct json_writer *w) { open_container(w, '{'); }
void json_object_end(struct json_writer *w) { close_container(w, '}'); }
void json_array_begin(struct json_writer *w) { open_container(w, '['); }
void json_array_end(struct json_writer *w) { close_container(w, ']'); }

/* Bytes of the well-formed UTF-8 sequence at p (RFC 3629: no overlongs, no surrogates), 0 if
 * there is none. */
static size_t utf8_sequence(const unsigned char *p)
{
    unsigned char c = p[0];
    size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    unsigned char lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
    unsigned char hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
    if (n == 0 || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

/* A byte that is not part of well-formed UTF-8 (a trace header may hold any bytes) is written
 * as \u00XX, so the output is always valid JSON. */
void json_write_escaped(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p >= 0x80) {
            size_t n = utf8_sequence(p);
            if (n == 0) {
                fprintf(f, "\\u%04x", *p);
                continue;
            }
            fwrite(p, 1, n, f);
            p += n - 1;
            continue;
        }
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

void json_key(struct json_writer *w, const char *key)
{
    before_item(w);
    json_write_escaped(w->f, key);
    fputs(w->pretty ? ": " : ":", w->f);
    w->after_key = 1;
}

void json_string(struct json_writer *w, const char *s)
{
    before_item(w);
    json_write_escaped(w->f, s);
}

void json_format_double(char *buf, size_t size, double v)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

void json_number(struct json_writer *w, double v)
{
    before_item(w);
    if (!isfinite(v)) {
        fputs("null", w->f);
        return;
    }
    char buf[40];
    json_format_double(buf, sizeof buf, v);
    fputs(buf, w->f);
}

void json_int(struct json_writer *w, long long v)
{
    before_item(w);
    fprintf(w->f, "%lld", v);
}

void json_uint(struct json_writer *w, uint64_t v)
{
    before_item(w);
    fprintf(w->f, "%" PRIu64, v);
}

void json_bool(struct json_writer *w, int v)
{
    before_item(w);
    fputs(v ? "true" : "false", w->f);
}

void json_null(struct json_writer *w)
{
    before_item(w);
    fputs("null", w->f);
}

void json_raw(struct json_writer *w, const char *text)
{
    before_item(w);
    fputs(text, w->f);
}

/* ---- reader ---------------------------------------------------------------------------- */

struct parser {
    const char *s, *end, *name;
    struct e2_err *err;
    int failed;
};

static int parse_fail(struct parser *p, const char *at, const char *what)
{
    if (p->failed)
        return -1;
    int line = 1, col = 1;
    for (const char *q = p->s; q < at && q < p->end; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    e2_fail(p->err, E2_BAD_INPUT, "%s:%d:%d: %s", p->name, line, col, what);
    p->failed = 1;
    return -1;
}

static void skip_space(struct parser *p, const char **at)
{
    while (*at < p->end && isspace((unsigned char)**at))
        (*at)++;
}

static void free_value(struct json_value *v)
{
    if (!v)
        return;
    free(v->text);
    for (int i = 0; i < v->count; i++) {
        free_value(&v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    memset(v, 0, sizeof *v);
}

static int put_utf8(char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    out[0] = (char)(0xe0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
}

/* *at points at the opening quote; returns a malloc'ed decoded string or NULL. */
static char *parse_string(struct parser *p, const char **at)
{
    const char *q = *at + 1;
    char *out = malloc((size_t)(p->end - q) + 1);
    if (!out) {
        parse_fail(p, q, "out of memory");
        return NULL;
    }
    size_t n = 0;
    while (q < p->end && *q != '"') {
        unsigned char c = (unsigned char)*q;
        if (c < 0x20) {
            free(out);
            parse_fail(p, q, "control character in string");
            return NULL;
        }
        if (c != '\\') {
            out[n++] = (char)c;
            q++;
            continue;
        }
        if (q + 1 >= p->end)
            break;
        char e = q[1];
        q += 2;
        switch (e) {
        case '"': out[n++] = '"'; break;
        case '\\': out[n++] = '\\'; break;
        case '/': out[n++] = '/'; break;
        case 'b': out[n++] = '\b'; break;
        case 'f': out[n++] = '\f'; break;
        case 'n': out[n++] = '\n'; break;
        case 'r': out[n++] = '\r'; break;
        case 't': out[n++] = '\t'; break;
        case 'u': {
            unsigned cp = 0;
            for (int i = 0; i < 4; i++, q++) {
                if (q >= p->end || !isxdigit((unsigned char)*q)) {
                    free(out);
                    parse_fail(p, q, "bad \\u escape");
                    return NULL;
                }
                int d = isdigit((unsigned char)*q) ? *q - '0' : (tolower((unsigned char)*q) - 'a' + 10);
                cp = cp * 16 + (unsigned)d;
            }
            n += (size_t)put_utf8(out + n, cp);
            break;
        }
        default:
            free(out);
            parse_fail(p, q - 1, "bad escape in string");
            return NULL;
        }
    }
    if (q >= p->end) {
        free(out);
        parse_fail(p, *at, "unterminated string");
        return NULL;
    }
    out[n] = '\0';
    *at = q + 1;
    return out;
}

static int parse_value(struct parser *p, const char **at, struct json_value *v, int depth);

static int append_item(struct parser *p, const char *at, struct json_value *v, char *key)
{
    if (v->count % 8 == 0) {
        size_t cap = (size_t)v->count + 8;
        struct json_value *items = realloc(v->items, cap * sizeof *items);
        if (!items)
            return parse_fail(p, at, "out of memory");
        v->items = items;
        if (v->type == JSON_OBJECT) {
            char **keys = realloc(v->keys, cap * sizeof *keys);
            if (!keys)
                return parse_fail(p, at, "out of memory");
            v->keys = keys;
        }
    }
    memset(&v->items[v->count], 0, sizeof v->items[0]);
    if (v->type == JSON_OBJECT)
        v->keys[v->count] = key;
    v->count++;
    return 0;
}

static int parse_container(struct parser *p, const char **at, struct json_value *v, int depth)
{
    int is_object = **at == '{';
    char close = is_object ? '}' : ']';
    v->type = is_object ? JSON_OBJECT : JSON_ARRAY;
    (*at)++;
    skip_space(p, at);
    if (*at < p->end && **at == close) {
        (*at)++;
        return 0;
    }
    for (;;) {
        char *key = NULL;
        skip_space(p, at);
        if (is_object) {
            if (*at >= p->end || **at != '"')
                return parse_fail(p, *at, "expected a string key");
            key = parse_string(p, at);
            if (!key)
                return -1;
            skip_space(p, at);
            if (*at >= p->end || **at != ':') {
                free(key);
                return parse_fail(p, *at, "expected ':'");
            }
            (*at)++;
        }
        if (append_item(p, *at, v, key) < 0) {
            free(key);
            return -1;
        }
        if (parse_value(p, at, &v->items[v->count - 1], depth + 1) < 0)
            return -1;
        skip_space(p, at);
        if (*at < p->end && **at == ',') {
            (*at)++;
            continue;
        }
        if (*at < p->end && **at == close) {
            (*at)++;
            return 0;
        }
        return parse_fail(p, *at, is_object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int parse_number(struct parser *p, const char **at, struct json_value *v)
{
    const char *q = *at;
    if (q < p->end && *q == '-')
        q++;
    if (q >= p->end || !isdigit((unsigned char)*q))
        return parse_fail(p, *at, "expected a value");
    while (q < p->end && (isdigit((unsigned char)*q) || strchr(".eE+-", *q)))
        q++;
    size_t n = (size_t)(q - *at);
    v->text = malloc(n + 1);
    if (!v->text)
        return parse_fail(p, *at, "out of memory");
    memcpy(v->text, *at, n);
    v->text[n] = '\0';
    char *end;
    v->number = strtod(v->text, &end);
    if (*end != '\0')
        return parse_fail(p, *at, "malformed number");
    v->type = JSON_NUMBER;
    *at = q;
    return 0;
}

static int parse_word(struct parser *p, const char **at, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(p->end - *at) < n || strncmp(*at, word, n) != 0)
        return parse_fail(p, *at, "expected a value");
    *at += n;
    return 0;
}

static int parse_value(struct parser *p, const char **at, struct json_value *v, int depth)
{
    skip_space(p, at);
    if (depth > JSON_MAX_DEPTH)
        return parse_fail(p, *at, "nested too deeply");
    if (*at >= p->end)
        return parse_fail(p, *at, "unexpected end of input");
    switch (**at) {
    case '{':
    case '[':
        return parse_container(p, at, v, depth);
    case '"':
        v->type = JSON_STRING;
        v->text = parse_string(p, at);
        return v->text ? 0 : -1;
    case 't':
        v->type = JSON_BOOL;
        v->boolean = 1;
        return parse_word(p, at, "true");
    case 'f':
        v->type = JSON_BOOL;
        return parse_word(p, at, "false");
    case 'n':
        v->type = JSON_NULL;
        return parse_word(p, at, "null");
    default:
        return parse_number(p, at, v);
    }
}

int json_parse(const char *text, size_t len, const char *name, struct json_value **out,
               struct e2_err *err)
{
    struct parser p = {text, text + len, name ? name : "json", err, 0};
    struct json_value *v = calloc(1, sizeof *v);
    *out = NULL;
    if (!v)
        return e2_fail(err, E2_FAILURE, "%s: out of memory", p.name);
    const char *at = text;
    if (parse_value(&p, &at, v, 0) == 0) {
        skip_space(&p, &at);
        if (at < p.end)
            parse_fail(&p, at, "unexpected text after the value");
    }
    if (p.failed) {
        json_free(v);
        return E2_BAD_INPUT;
    }
    *out = v;
    return E2_OK;
}

int json_parse_file(const char *path, struct json_value **out, struct e2_err *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return e2_fail(err, E2_FAILURE, "%s: cannot open: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 > cap) {
            cap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return e2_fail(err, E2_FAILURE, "%s: out of memory", path);
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return e2_fail(err, E2_FAILURE, "%s: read error", path);
    }
    int rc = json_parse(buf, len, path, out, err);
    free(buf);
    return rc;
}

void json_free(struct json_value *v)
{
    free_value(v);
    free(v);
}

const struct json_value *json_get(const struct json_value *v, const char *path)
{
    while (v && path && *path) {
        if (v->type != JSON_OBJECT)
            return NULL;
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        const struct json_value *found = NULL;
        for (int i = 0; i < v->count; i++) {
            if (strlen(v->keys[i]) == n && strncmp(v->keys[i], path, n) == 0) {
                found = &v->items[i];
                break;
            }
        }
        v = found;
        path = dot ? dot + 1 : NULL;
    }
    return v;
}

double json_get_number(const struct json_value *v, const char *path, double fallback)
{
    const struct json_value *x = json_get(v, path);
    return x && x->type == JSON_NUMBER ? x->number : fallback;
}

const char *json_get_string(const struct json_value *v, const char *path)
{
    const struct json_value *x = json_get(v, path);
    return x && x->type == JSON_STRING ? x->text : NULL;
}

uint64_t json_get_u64(const struct json_value *v, const char *path)
{
    const struct json_value *x = json_get(v, path);
    if (!x || x->type != JSON_NUMBER || x->text[0] == '-')
        return 0;
    return strtoull(x->text, NULL, 10);
}

static void write_value(struct json_writer *w, const struct json_value *v)
{
    switch (v->type) {
    case JSON_NULL: json_null(w); break;
    case JSON_BOOL: json_bool(w, v->boolean); break;
    case JSON_NUMBER:
        json_raw(w, v->text);   /* the source text: exact for integers beyond 2^53 */
        break;
    case JSON_STRING: json_string(w, v->text); break;
    case JSON_ARRAY:
        json_array_begin(w);
        for (int i = 0; i < v->count; i++)
            write_value(w, &v->items[i]);
        json_array_end(w);
        break;
    case JSON_OBJECT:
        json_object_begin(w);
        for (int i = 0; i < v->count; i++) {
            json_key(w, v->keys[i]);
            write_value(w, &v->items[i]);
        }
        json_object_end(w);
        break;
    }
}

char *json_to_text(const struct json_value *v)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    struct json_writer w;
    json_init(&w, f, 0);
    write_value(&w, v);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}
