/* A tiny JSON writer (streaming, to a FILE*) and the minimal reader that reports, sweeps and
 * merge need to read report.json and sweep.jsonl back. Not a general JSON library: no
 * comments, no \u escapes beyond the Basic Multilingual Plane, nesting depth <= JSON_MAX_DEPTH. */
#ifndef E2_JSON_H
#define E2_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "status.h"

#define JSON_MAX_DEPTH 32

/* ---- writer ---------------------------------------------------------------------------- */

struct json_writer {
    FILE *f;
    int pretty;                     /* 1 = newline + two-space indent per level */
    int depth;
    int count[JSON_MAX_DEPTH + 1];  /* items written so far at each depth */
    int after_key;                  /* the next value completes a "key": pair */
};

void json_init(struct json_writer *w, FILE *f, int pretty);
void json_object_begin(struct json_writer *w);
void json_object_end(struct json_writer *w);
void json_array_begin(struct json_writer *w);
void json_array_end(struct json_writer *w);
void json_key(struct json_writer *w, const char *key);
void json_string(struct json_writer *w, const char *s);
/* Shortest text that reads back to the same double; NaN and infinities are written as null. */
void json_number(struct json_writer *w, double v);
void json_int(struct json_writer *w, long long v);
void json_uint(struct json_writer *w, uint64_t v);
void json_bool(struct json_writer *w, int v);
void json_null(struct json_writer *w);
/* A value given as ready JSON text (e.g. a number's source text read by the parser). */
void json_raw(struct json_writer *w, const char *text);

/* Shortest "%.*g" text of v that strtod reads back exactly (buf >= 32 bytes). */
void json_format_double(char *buf, size_t size, double v);
/* Write s as a JSON string literal (with quotes) to f; a byte that is not part of well-formed
 * UTF-8 is written as \u00XX, so the output is valid JSON whatever s holds. */
void json_write_escaped(FILE *f, const char *s);

/* ---- reader ---------------------------------------------------------------------------- */

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json_value {
    enum json_type type;
    int boolean;
    double number;
    char *text;                 /* JSON_STRING: the decoded string; JSON_NUMBER: its source text */
    int count;                  /* JSON_ARRAY / JSON_OBJECT: number of items */
    struct json_value *items;   /* count items */
    char **keys;                /* JSON_OBJECT: count keys, in file order */
};

/* Parse one JSON value (the whole text, surrounding white space allowed). `name` prefixes
 * error messages ("report.json:3:14: expected ','"). Returns E2_OK or E2_BAD_INPUT. */
int json_parse(const char *text, size_t len, const char *name, struct json_value **out,
               struct e2_err *err);
/* Read a whole file and parse it. E2_FAILURE when it cannot be read. */
int json_parse_file(const char *path, struct json_value **out, struct e2_err *err);
void json_free(struct json_value *v);

/* Member of an object by dotted path ("energy.total_j"); NULL when absent or not an object. */
const struct json_value *json_get(const struct json_value *v, const char *path);
/* The number at path, or `fallback` when absent or not a number. */
double json_get_number(const struct json_value *v, const char *path, double fallback);
/* The string at path, or NULL. */
const char *json_get_string(const struct json_value *v, const char *path);
/* The unsigned integer at path read exactly from its text (no double rounding); 0 if absent. */
uint64_t json_get_u64(const struct json_value *v, const char *path);

/* Canonical compact text of a parsed value (same writer rules), malloc'ed; for comparing
 * two values for equality independent of white space. NULL on allocation failure. */
char *json_to_text(const struct json_value *v);

#endif
