/* Tests of sim/io/json.c: string escaping (control characters, valid and invalid UTF-8), numbers
 * that read back exactly, nesting in the writer and the reader, and the reader's errors. */
#define _GNU_SOURCE   /* open_memstream */
#include "cunit_main.h"
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* What json_write_escaped writes for s (free it). */
static char *escaped(const char *s)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CU_ASSERT_FATAL(f != NULL);
    json_write_escaped(f, s);
    fclose(f);
    return text;
}

/* s escaped equals want, and the escaped text parses back as one JSON string. */
static void check_escape(const char *s, const char *want)
{
    char *got = escaped(s);
    CU_ASSERT_STRING_EQUAL(got, want);
    struct json_value *v = NULL;
    struct e2_err err = {""};
    CU_ASSERT_EQUAL(json_parse(got, strlen(got), "escaped", &v, &err), E2_OK);
    CU_ASSERT(v != NULL && v->type == JSON_STRING);
    json_free(v);
    free(got);
}

static void test_escape_ascii(void)
{
    check_escape("plain", "\"plain\"");
    check_escape("", "\"\"");
    check_escape(NULL, "\"\"");
    check_escape("a\"b\\c", "\"a\\\"b\\\\c\"");
    check_escape("l1\nl2\r\tx", "\"l1\\nl2\\r\\tx\"");
    check_escape("\x01\x1f ", "\"\\u0001\\u001f \"");
    check_escape("/", "\"/\"");   /* '/' needs no escape */
}

static void test_escape_valid_utf8_kept(void)
{
    check_escape("\xc3\xa9", "\"\xc3\xa9\"");                    /* e acute, 2 bytes */
    check_escape("\xe2\x82\xac 5", "\"\xe2\x82\xac 5\"");        /* euro sign, 3 bytes */
    check_escape("\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\"");    /* U+1F600, 4 bytes */
}

/* Every byte of an ill-formed sequence becomes \u00XX: the output stays valid JSON. */
static void test_escape_invalid_utf8(void)
{
    check_escape("\xff", "\"\\u00ff\"");
    check_escape("a\x80z", "\"a\\u0080z\"");                         /* lone continuation */
    check_escape("\xc0\x80", "\"\\u00c0\\u0080\"");                  /* overlong NUL */
    check_escape("\xe0\x80\xaf", "\"\\u00e0\\u0080\\u00af\"");       /* overlong '/' */
    check_escape("\xed\xa0\x80", "\"\\u00ed\\u00a0\\u0080\"");       /* a UTF-16 surrogate */
    check_escape("\xf4\x90\x80\x80", "\"\\u00f4\\u0090\\u0080\\u0080\"");   /* > U+10FFFF */
    check_escape("\xe2\x82", "\"\\u00e2\\u0082\"");                  /* cut short at the end */
    check_escape("\xe2\x82x", "\"\\u00e2\\u0082x\"");                /* cut short inside */
}

/* The reader decodes what the writer escaped back to the same bytes (valid UTF-8). */
static void test_string_round_trip(void)
{
    const char *s = "tab\there \"quoted\" back\\slash \xc3\xa9\xe2\x82\xac\x01";
    char *text = escaped(s);
    struct json_value *v = NULL;
    struct e2_err err = {""};
    CU_ASSERT_EQUAL_FATAL(json_parse(text, strlen(text), "s", &v, &err), E2_OK);
    CU_ASSERT_STRING_EQUAL(v->text, s);
    json_free(v);
    free(text);
    /* \u escapes of the Basic Multilingual Plane decode to UTF-8 */
    const char *in = "\"\\u00e9\\u20ac\\u0041\"";
    CU_ASSERT_EQUAL_FATAL(json_parse(in, strlen(in), "u", &v, &err), E2_OK);
    CU_ASSERT_STRING_EQUAL(v->text, "\xc3\xa9\xe2\x82\xac" "A");
    json_free(v);
}

static void test_numbers_round_trip(void)
{
    const double values[] = {0.0, 1.0, -2.5, 0.1, 1.0 / 3.0, 2.0 / 3.0, 1e-300, 5e-324,
                             DBL_MAX, -DBL_MIN, 123456789.123456789, 6.02214076e23,
                             0.30000000000000004};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char buf[40];
        json_format_double(buf, sizeof buf, values[i]);
        CU_ASSERT_EQUAL(strtod(buf, NULL), values[i]);
        struct json_value *v = NULL;
        struct e2_err err = {""};
        CU_ASSERT_EQUAL_FATAL(json_parse(buf, strlen(buf), "n", &v, &err), E2_OK);
        CU_ASSERT_EQUAL(v->type, JSON_NUMBER);
        CU_ASSERT_EQUAL(v->number, values[i]);
        json_free(v);
    }
    char buf[40];
    json_format_double(buf, sizeof buf, 0.1);   /* the shortest text, not 17 digits */
    CU_ASSERT_STRING_EQUAL(buf, "0.1");
}

/* NaN and infinities are not JSON numbers: the writer gives null. */
static void test_non_finite_is_null(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CU_ASSERT_FATAL(f != NULL);
    struct json_writer w;
    json_init(&w, f, 0);
    json_array_begin(&w);
    json_number(&w, NAN);
    json_number(&w, INFINITY);
    json_number(&w, -INFINITY);
    json_number(&w, 0.5);
    json_array_end(&w);
    fclose(f);
    CU_ASSERT_STRING_EQUAL(text, "[null,null,null,0.5]");
    free(text);
}

/* Integers beyond 2^53 keep their source text: read exactly, written back unchanged. */
static void test_big_integers_exact(void)
{
    const char *in = "{\"a\":18446744073709551615,\"b\":9007199254740993,\"c\":-7,\"d\":1.50}";
    struct json_value *v = NULL;
    struct e2_err err = {""};
    CU_ASSERT_EQUAL_FATAL(json_parse(in, strlen(in), "big", &v, &err), E2_OK);
    CU_ASSERT_EQUAL(json_get_u64(v, "a"), UINT64_MAX);
    CU_ASSERT_EQUAL(json_get_u64(v, "b"), 9007199254740993ULL);
    CU_ASSERT_EQUAL(json_get_u64(v, "c"), 0);   /* negative: not an unsigned integer */
    CU_ASSERT_EQUAL(json_get_u64(v, "missing"), 0);
    char *text = json_to_text(v);
    CU_ASSERT_STRING_EQUAL(text, in);
    free(text);
    json_free(v);
}

/* The writer's commas, keys and two-space indentation, nested both ways. */
static void test_writer_nesting(void)
{
    for (int pretty = 0; pretty <= 1; pretty++) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        CU_ASSERT_FATAL(f != NULL);
        struct json_writer w;
        json_init(&w, f, pretty);
        json_object_begin(&w);
        json_key(&w, "a");
        json_array_begin(&w);
        json_int(&w, 1);
        json_object_begin(&w);
        json_key(&w, "b");
        json_bool(&w, 1);
        json_object_end(&w);
        json_array_begin(&w);
        json_array_end(&w);
        json_array_end(&w);
        json_key(&w, "c");
        json_uint(&w, UINT64_MAX);
        json_key(&w, "d");
        json_null(&w);
        json_key(&w, "e");
        json_object_begin(&w);
        json_object_end(&w);
        json_object_end(&w);
        fclose(f);
        if (pretty)
            CU_ASSERT_STRING_EQUAL(text, "{\n  \"a\": [\n    1,\n    {\n      \"b\": true\n    },"
                                         "\n    []\n  ],\n  \"c\": 18446744073709551615,\n"
                                         "  \"d\": null,\n  \"e\": {}\n}");
        if (!pretty)
            CU_ASSERT_STRING_EQUAL(text, "{\"a\":[1,{\"b\":true},[]],\"c\":18446744073709551615,"
                                         "\"d\":null,\"e\":{}}");
        /* and it reads back to the same compact text */
        struct json_value *v = NULL;
        struct e2_err err = {""};
        CU_ASSERT_EQUAL_FATAL(json_parse(text, len, "w", &v, &err), E2_OK);
        char *back = json_to_text(v);
        CU_ASSERT_STRING_EQUAL(back, "{\"a\":[1,{\"b\":true},[]],\"c\":18446744073709551615,"
                                     "\"d\":null,\"e\":{}}");
        free(back);
        json_free(v);
        free(text);
    }
}

/* Dotted paths reach into nested objects, not through arrays or scalars. */
static void test_get_paths(void)
{
    const char *in = " {\"energy\": {\"total_j\": 2.5, \"name\": \"x\", \"by\": {\"dsp\": 1}},"
                     " \"list\": [1, 2], \"n\": 3}\n";
    struct json_value *v = NULL;
    struct e2_err err = {""};
    CU_ASSERT_EQUAL_FATAL(json_parse(in, strlen(in), "g", &v, &err), E2_OK);
    CU_ASSERT_EQUAL(json_get_number(v, "energy.total_j", -1), 2.5);
    CU_ASSERT_EQUAL(json_get_number(v, "energy.by.dsp", -1), 1);
    CU_ASSERT_STRING_EQUAL(json_get_string(v, "energy.name"), "x");
    CU_ASSERT_PTR_NULL(json_get_string(v, "energy.total_j"));   /* a number, not a string */
    CU_ASSERT_EQUAL(json_get_number(v, "energy.name", -1), -1);
    CU_ASSERT_PTR_NULL(json_get(v, "n.deeper"));
    CU_ASSERT_PTR_NULL(json_get(v, "list.0"));
    CU_ASSERT_PTR_NULL(json_get(v, "energy.total"));            /* a prefix is not the key */
    const struct json_value *list = json_get(v, "list");
    CU_ASSERT(list && list->type == JSON_ARRAY && list->count == 2);
    CU_ASSERT_EQUAL(v->count, 3);
    CU_ASSERT_STRING_EQUAL(v->keys[2], "n");   /* keys in file order */
    json_free(v);
}

/* 'depth' arrays nested in each other. */
static int parse_nested(int depth, struct e2_err *err)
{
    char text[256] = "";
    for (int i = 0; i < depth; i++)
        strcat(text, "[");
    for (int i = 0; i < depth; i++)
        strcat(text, "]");
    struct json_value *v = NULL;
    int rc = json_parse(text, strlen(text), "deep", &v, err);
    json_free(v);
    return rc;
}

static void test_reader_depth_limit(void)
{
    struct e2_err err = {""};
    /* the outermost value is depth 0: JSON_MAX_DEPTH + 1 levels in all */
    CU_ASSERT_EQUAL(parse_nested(JSON_MAX_DEPTH + 1, &err), E2_OK);
    CU_ASSERT_EQUAL(parse_nested(JSON_MAX_DEPTH + 2, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "nested too deeply"));
}

/* Errors name the input, line and column of what is wrong. */
static void check_error(const char *in, const char *want)
{
    struct json_value *v = (struct json_value *)1;
    struct e2_err err = {""};
    CU_ASSERT_EQUAL(json_parse(in, strlen(in), "f.json", &v, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NULL(v);
    CU_ASSERT_STRING_EQUAL(err.msg, want);
}

static void test_reader_errors(void)
{
    check_error("{\"a\": 1,\n \"b\": tru}", "f.json:2:7: expected a value");
    check_error("[1, 2] x", "f.json:1:8: unexpected text after the value");
    check_error("\"abc", "f.json:1:1: unterminated string");
    check_error("\"a\x01\"", "f.json:1:3: control character in string");
    check_error("\"\\q\"", "f.json:1:3: bad escape in string");
    check_error("\"\\u12g4\"", "f.json:1:6: bad \\u escape");
    check_error("1.2.3", "f.json:1:1: malformed number");
    check_error("", "f.json:1:1: unexpected end of input");
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"escape_ascii", test_escape_ascii},
        {"escape_valid_utf8_kept", test_escape_valid_utf8_kept},
        {"escape_invalid_utf8", test_escape_invalid_utf8},
        {"string_round_trip", test_string_round_trip},
        {"numbers_round_trip", test_numbers_round_trip},
        {"non_finite_is_null", test_non_finite_is_null},
        {"big_integers_exact", test_big_integers_exact},
        {"writer_nesting", test_writer_nesting},
        {"get_paths", test_get_paths},
        {"reader_depth_limit", test_reader_depth_limit},
        {"reader_errors", test_reader_errors},
        CU_TEST_INFO_NULL,
    };
    return cunit_run("json", NULL, NULL, tests);
}
