/* Tests of sim/report/sweep_report.c from hand-written sweep.jsonl rows: the summary files
 * (every column of sweep.csv, the table of sweep.md, the Pareto front with and without
 * accuracies), merge conflicts, and the front itself. Sweeps that really run: test_sweep.c. */
#define _DEFAULT_SOURCE   /* mkdtemp */
#include "cunit_main.h"
#include "testutil.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sweep_report.h"

static int setup(void) { return tmpdir_create("sweep_report"); }
static int cleanup(void) { return tmpdir_remove(); }

/* A line of point p (of 3) with value k of key "k", energy e J, top-1 t (null: none), 2 s. */
#define LINE(p, k, e, t)                                                                      \
    "{\"point\":" #p ",\"points\":3,\"sweep\":\"h\",\"values\":{\"k\":\"" k "\"},"            \
    "\"results\":{\"top1\":" #t ",\"energy_j\":" #e ",\"fpga_seconds\":2},"                   \
    "\"by_component\":{\"dsp\":" #e "}}\n"

/* The summary of the rows in dir/sweep.jsonl; the text of dir/file (free it). */
static char *summary_file(const char *dir, const char *file)
{
    struct sweep_row *rows;
    int n;
    struct e2_err err = {""};
    CU_ASSERT_EQUAL_FATAL(sweep_read_rows(dir, &rows, &n, &err), E2_OK);
    CU_ASSERT_EQUAL_FATAL(sweep_dedup_rows(rows, &n, dir, &err), E2_OK);
    CU_ASSERT_EQUAL(sweep_write_summary(dir, rows, n, &err), E2_OK);
    sweep_free_rows(rows, n);
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    char *text = read_text(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    return text;
}

static void test_csv_and_md(void)
{
    char dir[512];
    folder_with_file("acc", "sweep.jsonl",
                     LINE(2, "x,y", 3, 0.75) LINE(0, "plain", 1, 0.5) LINE(1, "q", 2, 0.5), dir,
                     sizeof dir);
    char *csv = summary_file(dir, "sweep.csv");
    CU_ASSERT_STRING_EQUAL(csv,
        "point,k,top1,top5,energy_j,energy_fj,baseline_fp32_j,savings_vs_fp32,fpga_seconds,"
        "slu_skip_ratio,psg_predictor_ratio,pareto\n"
        "0,plain,0.5,,1,,,,2,,,1\n"
        "1,q,0.5,,2,,,,2,,,0\n"
        "2,\"x,y\",0.75,,3,,,,2,,,1\n");
    free(csv);
    char *md = summary_file(dir, "sweep.md");
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "# e2sim sweep\n\n3 of 3 points finished. "));
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "| 0 | plain | 50.00 % | 1 | n/a | 2 | * |\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "| 1 | q | 50.00 % | 2 | n/a | 2 |  |\n"));
    CU_ASSERT_PTR_NULL(strstr(md, "--resume"));
    free(md);
    char *html = summary_file(dir, "sweep.html");
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "<td>x,y</td>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "Pareto (energy, top-1)"));
    free(html);
}

/* Without accuracies (energy-only runs, replays) the front is the least energy; a sweep with
 * points missing says how to get the rest. */
static void test_no_accuracy_and_unfinished(void)
{
    char dir[512];
    folder_with_file("energy", "sweep.jsonl", LINE(1, "b", 2, null) LINE(2, "c", 1, null), dir,
                     sizeof dir);
    char *csv = summary_file(dir, "sweep.csv");
    CU_ASSERT_PTR_NOT_NULL(strstr(csv, "\n1,b,,,2,,,,2,,,0\n2,c,,,1,,,,2,,,1\n"));
    free(csv);
    char *md = summary_file(dir, "sweep.md");
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "2 of 3 points finished (run again with --resume, or "
                                      "merge the other shards, for the rest)."));
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "| 1 | b | n/a | 2 | n/a | 2 |  |\n"));
    free(md);
    char *html = summary_file(dir, "sweep.html");
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "least energy"));
    free(html);
}

static void test_merge_conflicts(void)
{
    char a[512], b[512], c[512], out[512];
    folder_with_file("conflict-a", "sweep.jsonl",
                     "{\"point\": 1, \"points\": 3, \"sweep\": \"abc\", "
                     "\"results\": {\"top1\": 0.5}}\n", a, sizeof a);
    folder_with_file("conflict-b", "sweep.jsonl",
                     "{\"point\": 1, \"points\": 3, \"sweep\": \"abc\", "
                     "\"results\": {\"top1\": 0.6}}\n", b, sizeof b);
    folder_with_file("conflict-c", "sweep.jsonl",
                     "{\"point\": 2, \"points\": 3, \"sweep\": \"xyz\", "
                     "\"results\": {\"top1\": 0.6}}\n", c, sizeof c);
    struct e2_err err = {""};
    const char *ab[2] = {a, b}, *ac[2] = {a, c};
    path_of(out, sizeof out, "conflict-out");
    CU_ASSERT_EQUAL(sweep_merge(ab, 2, out, 1, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "point 1 appears twice with different"));
    CU_ASSERT_EQUAL(sweep_merge(ac, 2, out, 1, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "different sweeps"));
    const char *missing[1] = {"/nonexistent/sweep"};
    CU_ASSERT_EQUAL(sweep_merge(missing, 1, out, 1, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "/nonexistent/sweep/sweep.jsonl"));
    write_file("conflict-c/sweep.jsonl",
               "{\"point\": 2, \"points\": 3, \"sweep\": \"xyz\"}\nnot json\n");
    CU_ASSERT_EQUAL(sweep_merge(ac + 1, 1, out, 1, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "sweep.jsonl:2:1: "));
    CU_ASSERT_EQUAL(sweep_merge(ab, 0, out, 1, &err), E2_BAD_INPUT);
    CU_ASSERT_NOT_EQUAL(access(out, F_OK), 0);   /* no merge made the folder */
}

static void test_pareto(void)
{
    /* energy, accuracy: (1, .5) (2, .7) (2, .6) (3, .7) (4, .9) (NaN) (0.5, NaN) */
    double e[7] = {1, 2, 2, 3, 4, NAN, 0.5}, a[7] = {.5, .7, .6, .7, .9, .99, NAN};
    int front[7];
    sweep_pareto(7, e, a, front);
    int want[7] = {1, 1, 0, 0, 1, 0, 0};
    for (int i = 0; i < 7; i++)
        CU_ASSERT_EQUAL(front[i], want[i]);
    double e2[2] = {1, 1}, a2[2] = {.5, .5};   /* equal points are both on the front */
    sweep_pareto(2, e2, a2, front);
    CU_ASSERT(front[0] && front[1]);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"sweep.csv, sweep.md and sweep.html", test_csv_and_md},
        {"no accuracies, unfinished sweep", test_no_accuracy_and_unfinished},
        {"merge conflicts are errors", test_merge_conflicts},
        {"Pareto front", test_pareto},
        CU_TEST_INFO_NULL,
    };
    return cunit_run("sweep_report", setup, cleanup, tests);
}
