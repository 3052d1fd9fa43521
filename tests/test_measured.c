/* Tests of the measurement-file loader (sim/calibrate/measured.c): the shipped files load; every class of
 * malformed file is E2_BAD_INPUT with "FILE:LINE:COL:" pointing at the fault; overrides apply
 * (and a value the config rejects names the `set` entry); key places are found. */
#define _DEFAULT_SOURCE   /* mkdtemp */
#include "cunit_main.h"
#include "testutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "measured.h"

static void test_shipped_files(void)
{
    struct measured_file f;
    struct e2_err err = {""};
    CU_ASSERT_EQUAL_FATAL(measured_load(E2SIM_SOURCE_DIR "/configs/measured/e2train_table2.yaml",
                                        &f, &err), E2_OK);
    CU_ASSERT_EQUAL(f.n, 2);
    CU_ASSERT_STRING_EQUAL(f.m[0].name, "fixed8");
    CU_ASSERT_DOUBLE_EQUAL(f.m[0].saving, 0.3862, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(f.m[1].saving, 0.6328, 1e-12);
    CU_ASSERT(f.m[0].nset >= 1);
    CU_ASSERT(strstr(f.source, "Table 2") != NULL);
    measured_free(&f);
    CU_ASSERT_EQUAL_FATAL(measured_load(E2SIM_SOURCE_DIR "/configs/measured/e2train_table3.yaml",
                                        &f, &err), E2_OK);
    CU_ASSERT_EQUAL(f.n, 3);
    CU_ASSERT_DOUBLE_EQUAL(f.m[2].saving, 0.9281, 1e-12);
    measured_free(&f);
}

struct bad_case {
    const char *yaml;
    const char *at;      /* ":LINE:COL:" expected right after the file name */
    const char *also;    /* part of the message */
};

static void test_malformed(void)
{
    static const struct bad_case cases[] = {
        /* missing saving: blamed on the item */
        {"measurements:\n  - name: a\n    source: s\n    set: []\n", ":2:5:", "no 'saving'"},
        /* saving out of [0, 1) */
        {"measurements:\n  - name: a\n    source: s\n    saving: 38.62\n", ":4:13:", "[0, 1)"},
        {"measurements:\n  - name: a\n    source: s\n    saving: 1\n", ":4:13:", "[0, 1)"},
        {"measurements:\n  - name: a\n    source: s\n    saving: -0.1\n", ":4:13:", "[0, 1)"},
        {"measurements:\n  - name: a\n    source: s\n    saving: lots\n", ":4:13:", "number"},
        /* unknown keys, in an item and at the top */
        {"measurements:\n  - name: a\n    source: s\n    savings: 0.3\n", ":4:5:",
         "unknown key 'savings'"},
        {"measured:\n  - name: a\n", ":1:1:", "unknown key 'measured'"},
        /* a `set` entry with an unknown config key, and one that is not KEY=VALUE */
        {"measurements:\n  - name: a\n    source: s\n    set: [\"training.methd=[psg]\"]\n"
         "    saving: 0.3\n", ":4:11:", "unknown config key 'training.methd'"},
        {"measurements:\n  - name: a\n    source: s\n    set: [\"training.method\"]\n"
         "    saving: 0.3\n", ":4:11:", "KEY=VALUE"},
        {"measurements:\n  - name: a\n    source: s\n    set: training.method=[psg]\n"
         "    saving: 0.3\n", ":4:10:", "must be a list"},
        /* missing name / source, duplicates, wrong shapes, malformed YAML */
        {"measurements:\n  - source: s\n    saving: 0.3\n", ":2:5:", "without 'name'"},
        {"measurements:\n  - name: a\n    saving: 0.3\n", ":2:5:", "no 'source'"},
        /* a null is no value, not the text "~" or "null" (a quoted one is that text) */
        {"measurements:\n  - name: ~\n    source: s\n    saving: 0.3\n", ":2:11:",
         "'name' is null (~), as if it were missing"},
        {"measurements:\n  - name: null\n    source: s\n    saving: 0.3\n", ":2:11:",
         "'name' is null (null)"},
        {"measurements:\n  - {name: a, source: NULL, saving: 0.3}\n", ":2:23:",
         "'source' is null (NULL)"},
        {"measurements:\n  - {name: a, source: s, saving: 0.1}\n  - {name: a, source: t, "
         "saving: 0.2}\n", ":3:5:", "two measurements are named 'a'"},
        {"measurements:\n  - name: a\n    name: b\n    source: s\n    saving: 0.1\n", ":3:5:",
         "twice"},
        {"measurements: []\n", ":1:15:", "empty"},
        {"measurements: {name: a}\n", ":1:15:", "must be a list"},
        {"source: s\n", ":1:1:", "missing required key 'measurements'"},
        {"measurements:\n  - name: [a\n", ":", "malformed YAML"},
        {"- 1\n- 2\n", ":1:1:", "is a mapping"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[512], name[32], expect[600];
        snprintf(name, sizeof name, "bad%zu.yaml", i);
        write_file(name, cases[i].yaml);
        path_of(path, sizeof path, name);
        struct measured_file f;
        struct e2_err err = {""};
        int rc = measured_load(path, &f, &err);
        CU_ASSERT_EQUAL(rc, E2_BAD_INPUT);
        snprintf(expect, sizeof expect, "%s%s", path, cases[i].at);
        int ok = strncmp(err.msg, expect, strlen(expect)) == 0 &&
                 strstr(err.msg, cases[i].also) != NULL;
        if (!ok)
            printf("\ncase %zu: got \"%s\", expected \"%s...%s\"\n", i, err.msg, expect,
                   cases[i].also);
        CU_ASSERT(ok);
        CU_ASSERT_EQUAL(f.n, 0);
        measured_free(&f);
    }
}

/* A quoted "~" is the text, not a null. */
static void test_quoted_null_is_text(void)
{
    char path[512];
    write_file("quoted.yaml", "measurements:\n  - {name: \"~\", source: 'null', saving: 0.3}\n");
    path_of(path, sizeof path, "quoted.yaml");
    struct measured_file f;
    struct e2_err err = {""};
    CU_ASSERT_EQUAL_FATAL(measured_load(path, &f, &err), E2_OK);
    CU_ASSERT_STRING_EQUAL(f.m[0].name, "~");
    CU_ASSERT_STRING_EQUAL(f.m[0].source, "null");
    measured_free(&f);
}

static void test_missing_file(void)
{
    char path[512];
    path_of(path, sizeof path, "nowhere.yaml");
    struct measured_file f;
    struct e2_err err = {""};
    CU_ASSERT_EQUAL(measured_load(path, &f, &err), E2_BAD_INPUT);
    CU_ASSERT(strncmp(err.msg, path, strlen(path)) == 0);
    CU_ASSERT(strstr(err.msg, "cannot open") != NULL);
}

/* Issue 12, findings 4 and 5: a second YAML document was silently ignored, and a FIFO blocked
 * forever; both are errors now. */
static void test_second_document_and_fifo(void)
{
    char path[512];
    struct measured_file f;
    struct e2_err err = {""};
    write_file("two.yaml", "source: test\nmeasurements:\n  - name: a\n    source: s\n"
                           "    saving: 0.5\n---\nsource: other\n");
    path_of(path, sizeof path, "two.yaml");
    CU_ASSERT_EQUAL(measured_load(path, &f, &err), E2_BAD_INPUT);
    CU_ASSERT(strstr(err.msg, "two.yaml:6:1: a second YAML document") != NULL);
    path_of(path, sizeof path, "fifo.yaml");
    CU_ASSERT_EQUAL_FATAL(mkfifo(path, 0600), 0);
    CU_ASSERT_EQUAL(measured_load(path, &f, &err), E2_BAD_INPUT);
    CU_ASSERT(strstr(err.msg, "not a regular file") != NULL);
}

static void test_apply(void)
{
    char path[512];
    write_file("apply.yaml",
               "source: test\nmeasurements:\n"
               "  - name: ok\n    source: s\n"
               "    set: [\"training.method=[smd, psg]\", \"training.smd.p=0.25\"]\n"
               "    saving: 0.5\n"
               "  - name: bad\n    source: s\n"
               "    set: [\"training.smd.p=0.25\", \"training.smd.p=7\"]\n"
               "    saving: 0.5\n");
    path_of(path, sizeof path, "apply.yaml");
    struct measured_file f;
    struct e2_err err = {""};
    CU_ASSERT_EQUAL_FATAL(measured_load(path, &f, &err), E2_OK);
    struct e2_config *base = calloc(1, sizeof *base), *out = calloc(1, sizeof *out);
    CU_ASSERT_FATAL(base && out);
    cfg_defaults(base);
    CU_ASSERT_EQUAL(measured_apply(&f.m[0], base, out, &err), E2_OK);
    CU_ASSERT_DOUBLE_EQUAL(out->training.smd.p, 0.25, 0);
    CU_ASSERT_TRUE(out->training.smd.enabled);
    CU_ASSERT_TRUE(out->training.psg.enabled);
    CU_ASSERT_FALSE(out->training.slu.enabled);
    /* the base is untouched */
    CU_ASSERT_DOUBLE_EQUAL(base->training.smd.p, 0.5, 0);
    /* a value out of range names the second `set` entry of 'bad' */
    CU_ASSERT_EQUAL(measured_apply(&f.m[1], base, out, &err), E2_BAD_INPUT);
    char expect[600];
    snprintf(expect, sizeof expect, "%s:9:34: measurement 'bad': --set training.smd.p=7", path);
    CU_ASSERT(strncmp(err.msg, expect, strlen(expect)) == 0);
    if (strncmp(err.msg, expect, strlen(expect)) != 0)
        printf("\ngot \"%s\"\n", err.msg);
    measured_free(&f);
    free(base);
    free(out);
}

static void test_find_place(void)
{
    char path[512];
    write_file("place.yaml",
               "name: x\n"
               "calibration:\n"
               "  free: [energy.fp32_mac_pj, energy.static.board_w]\n"
               "  lower: [1, 2]\n"
               "energy:\n"
               "  static:\n"
               "    board_w: 1.5\n"
               "training.smd.p: 0.3\n");
    path_of(path, sizeof path, "place.yaml");
    struct measured_place at;
    CU_ASSERT_EQUAL(measured_find_place(path, "calibration.lower", 1, &at), 0);
    CU_ASSERT_EQUAL(at.line, 4);
    CU_ASSERT_EQUAL(at.col, 14);
    CU_ASSERT_EQUAL(measured_find_place(path, "calibration.free", -1, &at), 0);
    CU_ASSERT_EQUAL(at.line, 3);
    CU_ASSERT_EQUAL(at.col, 9);
    CU_ASSERT_EQUAL(measured_find_place(path, "energy.static.board_w", -1, &at), 0);
    CU_ASSERT_EQUAL(at.line, 7);
    CU_ASSERT_EQUAL(at.col, 14);
    CU_ASSERT_EQUAL(measured_find_place(path, "training.smd.p", -1, &at), 0);
    CU_ASSERT_EQUAL(at.line, 8);
    CU_ASSERT_EQUAL(measured_find_place(path, "energy.fp32_mac_pj", -1, &at), -1);
    CU_ASSERT_EQUAL(measured_find_place(path, "calibration.lower", 2, &at), -1);
}

static int suite_init(void) { return tmpdir_create("measured"); }

int main(void)
{
    CU_TestInfo tests[] = {
        { "shipped measurement files load", test_shipped_files },
        { "malformed files: place and reason", test_malformed },
        { "a quoted null is text", test_quoted_null_is_text },
        { "missing file", test_missing_file },
        { "a second document, a FIFO", test_second_document_and_fifo },
        { "overrides apply; rejected values name their entry", test_apply },
        { "places of config keys", test_find_place },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("measured", suite_init, tmpdir_remove, tests);
}
