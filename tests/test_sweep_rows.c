/* Tests of sim/io/sweep_rows.c, the reader of sweep.jsonl: a torn last line is ignored and
 * repaired away, a bad line is named by file and line, duplicates of one point are merged when
 * identical (whoever ran them) and refused when they differ, rows of two sweeps are refused, a
 * NUL byte (damage) is refused rather than taken for the end of the file. */
#define _DEFAULT_SOURCE   /* mkdtemp */
#include "cunit_main.h"
#include "testutil.h"
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "json.h"
#include "sweep_rows.h"

static int setup(void) { return tmpdir_create("sweep_rows"); }
static int cleanup(void) { return tmpdir_remove(); }

#define LINE(point, sweep, top1, host)                                                       \
    "{\"point\":" #point ",\"points\":4,\"sweep\":\"" sweep "\",\"results\":{\"top1\":" #top1  \
    "},\"provenance\":{\"host\":\"" host "\"}}"

static void test_missing_file_is_no_rows(void)
{
    struct sweep_row *rows;
    int n = -1;
    struct e2_err err = {""};
    CU_ASSERT_EQUAL(sweep_read_rows(tmpdir, &rows, &n, &err), E2_OK);
    CU_ASSERT_EQUAL(n, 0);
    sweep_free_rows(rows, n);
}

static void test_torn_last_line(void)
{
    char dir[512], path[600];
    struct sweep_row *rows;
    int n;
    struct e2_err err = {""};
    folder_with_file("torn", "sweep.jsonl",
                     LINE(3, "h", 0.5, "a") "\n\n" LINE(1, "h", 0.25, "a") "\n{\"point\":", dir,
                     sizeof dir);
    CU_ASSERT_EQUAL_FATAL(sweep_read_rows(dir, &rows, &n, &err), E2_OK);
    CU_ASSERT_EQUAL_FATAL(n, 2);   /* the empty line is skipped, the torn one ignored */
    CU_ASSERT_EQUAL(rows[0].point, 3);
    CU_ASSERT_EQUAL(rows[1].point, 1);
    CU_ASSERT_STRING_EQUAL(rows[1].text, LINE(1, "h", 0.25, "a"));
    sweep_free_rows(rows, n);
    /* repair cuts the torn line off, so the next append starts a line of its own */
    CU_ASSERT_EQUAL(sweep_repair_rows(dir, &err), E2_OK);
    snprintf(path, sizeof path, "%s/sweep.jsonl", dir);
    char *text = read_text(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_STRING_EQUAL(text, LINE(3, "h", 0.5, "a") "\n\n" LINE(1, "h", 0.25, "a") "\n");
    free(text);
    CU_ASSERT_EQUAL(sweep_repair_rows(tmpdir, &err), E2_OK);   /* no file: nothing to do */
}

static void test_bad_lines_named(void)
{
    char dir[512];
    struct sweep_row *rows;
    int n;
    struct e2_err err = {""};
    folder_with_file("bad", "sweep.jsonl", LINE(0, "h", 0.5, "a") "\n{\"point\": [1,\n", dir,
                     sizeof dir);
    CU_ASSERT_EQUAL(sweep_read_rows(dir, &rows, &n, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "bad/sweep.jsonl:2:"));
    CU_ASSERT_EQUAL(n, 0);
    folder_with_file("negative", "sweep.jsonl", "{\"point\": -1}\n", dir, sizeof dir);
    CU_ASSERT_EQUAL(sweep_read_rows(dir, &rows, &n, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "negative/sweep.jsonl:1: not a sweep point line"));
    folder_with_file("array", "sweep.jsonl", "[1]\n", dir, sizeof dir);
    CU_ASSERT_EQUAL(sweep_read_rows(dir, &rows, &n, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "array/sweep.jsonl:1: not a sweep point line"));
    /* a point needs the sweep's count, is a whole number, and lies within the count */
    folder_with_file("uncounted", "sweep.jsonl", "{\"point\": 1}\n", dir, sizeof dir);
    CU_ASSERT_EQUAL(sweep_read_rows(dir, &rows, &n, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "uncounted/sweep.jsonl:1: not a sweep point line"));
    folder_with_file("fraction", "sweep.jsonl", "{\"point\": 1.5, \"points\": 4}\n", dir, sizeof dir);
    CU_ASSERT_EQUAL(sweep_read_rows(dir, &rows, &n, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "fraction/sweep.jsonl:1: not a sweep point line"));
    folder_with_file("beyond", "sweep.jsonl", LINE(3, "h", 0.5, "a") "\n" LINE(4, "h", 0.5, "a")
                     "\n", dir, sizeof dir);
    CU_ASSERT_EQUAL(sweep_read_rows(dir, &rows, &n, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "beyond/sweep.jsonl:2: point 4 is beyond the sweep's "
                                           "4 points (0 to 3)"));
    CU_ASSERT_EQUAL(n, 0);
}

/* A NUL byte inside sweep.jsonl (damage: lines are JSON text) is an error naming its line, for
 * the reader and for the repair. Read as a C string it ended the file early: the lines after it
 * were dropped (their points ran again), and a repair of a torn last line wrote the file back
 * cut at the NUL, losing every finished point. */
static void test_nul_byte_refused(void)
{
    static const char text[] = LINE(0, "h", 0.5, "a") "\n{\"po\0int\": 1}\n"
                               LINE(2, "h", 0.5, "a") "\n{\"point\":";
    char dir[512], path[600];
    struct sweep_row *rows;
    int n = -1;
    struct e2_err err = {""};
    folder_with_file("nul", "sweep.jsonl", "", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/sweep.jsonl", dir);
    FILE *fp = fopen(path, "wb");
    CU_ASSERT_FATAL(fp != NULL);
    fwrite(text, 1, sizeof text - 1, fp);   /* with the NUL, without the string's own */
    fclose(fp);
    CU_ASSERT_EQUAL(sweep_read_rows(dir, &rows, &n, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "nul/sweep.jsonl:2: a NUL byte"));
    CU_ASSERT_EQUAL(n, 0);
    err.msg[0] = 0;
    CU_ASSERT_EQUAL(sweep_repair_rows(dir, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "nul/sweep.jsonl:2: a NUL byte"));
    /* the file is left as it was: nothing finished is lost */
    struct stat st;
    CU_ASSERT(stat(path, &st) == 0 && (size_t)st.st_size == sizeof text - 1);
}

/* Rows parsed from `text` (lines), deduplicated. */
static int dedup(const char *name, const char *text, struct sweep_row **rows, int *n,
                 struct e2_err *err)
{
    char dir[512];
    folder_with_file(name, "sweep.jsonl", text, dir, sizeof dir);
    CU_ASSERT_EQUAL_FATAL(sweep_read_rows(dir, rows, n, err), E2_OK);
    return sweep_dedup_rows(*rows, n, name, err);
}

/* Deduplicating `text` is refused with message `want`. */
static void dedup_refused(const char *name, const char *text, const char *want)
{
    struct sweep_row *rows;
    int n;
    struct e2_err err = {""};
    CU_ASSERT_EQUAL(dedup(name, text, &rows, &n, &err), E2_BAD_INPUT);
    CU_ASSERT_STRING_EQUAL(err.msg, want);
    sweep_free_rows(rows, n);
}

static void test_dedup(void)
{
    struct sweep_row *rows;
    int n;
    struct e2_err err = {""};
    /* the same point run on two hosts: one row; sorted by point */
    CU_ASSERT_EQUAL(dedup("same", LINE(2, "h", 0.5, "a") "\n" LINE(0, "h", 0.1, "a") "\n"
                          LINE(2, "h", 0.5, "b") "\n", &rows, &n, &err), E2_OK);
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT(n == 2 && rows[0].point == 0 && rows[1].point == 2);
    sweep_free_rows(rows, n);
    dedup_refused("differ", LINE(2, "h", 0.5, "a") "\n" LINE(2, "h", 0.6, "a") "\n",
                  "differ: point 2 appears twice with different values or results");
    dedup_refused("two", LINE(0, "h", 0.5, "a") "\n" LINE(1, "g", 0.5, "a") "\n",
                  "two: points 0 and 1 come from different sweeps (config hash h vs g)");
    /* one point of two sweeps (e2sim merge of two sweeps' folders) */
    dedup_refused("both", LINE(0, "h", 0.5, "a") "\n" LINE(0, "g", 0.6, "a") "\n",
                  "both: points 0 and 0 come from different sweeps (config hash h vs g)");
    /* a conflict after an identical pair: every row left is freed once */
    CU_ASSERT_EQUAL(dedup("later", LINE(0, "h", 0.5, "a") "\n" LINE(0, "h", 0.5, "b") "\n"
                          LINE(1, "h", 0.5, "a") "\n" LINE(1, "h", 0.7, "a") "\n"
                          LINE(2, "h", 0.5, "a") "\n", &rows, &n, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "point 1 appears twice"));
    CU_ASSERT_EQUAL(n, 4);
    for (int i = 1; i < n; i++)
        CU_ASSERT(rows[i].json != rows[i - 1].json);
    sweep_free_rows(rows, n);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"a missing sweep.jsonl has no rows", test_missing_file_is_no_rows},
        {"a torn last line is ignored and repaired", test_torn_last_line},
        {"bad lines are named by file and line", test_bad_lines_named},
        {"a NUL byte is refused, by the reader and the repair", test_nul_byte_refused},
        {"duplicates and rows of other sweeps", test_dedup},
        CU_TEST_INFO_NULL,
    };
    return cunit_run("sweep_rows", setup, cleanup, tests);
}
