/* Tests of a training run (sim/run/run.c) through run_train on a tiny synthetic E2-Train
 * config: the fixed output names, a report whose parts add up, every layer's kind named with
 * and without a trace, and a finished run that, resumed, reports the same numbers. */
#include "cunit_main.h"
#include "testutil.h"
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "json.h"
#include "run.h"

static struct e2_config cfg;

static int setup(void)
{
    static const char *const sets[] = {
        "name=run", "seed=2", "network.depth=8", "network.width=4",
        "dataset.name=synthetic", "dataset.synthetic_train=128", "dataset.synthetic_test=32",
        "dataset.synthetic_size=12", "dataset.synthetic_channels=1",
        "dataset.synthetic_classes=4", "training.batch_size=16", "training.iterations=8",
        "training.eval_every=4", "training.checkpoint_every=4", "report.progress=off",
        "training.method=[smd, slu, psg, swa]",
    };
    struct e2_err err = {""};
    cfg_defaults(&cfg);
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        if (cfg_set(&cfg, sets[i], &err) != E2_OK)
            return -1;
    return tmpdir_create("run");
}

/* run_train into tmpdir/name (made here, as the command layer would). */
static int run_into(const char *name, const struct e2_config *c, int resume, char *dir,
                    size_t size)
{
    path_of(dir, size, name);
    mkdir(dir, 0755);
    struct run_options o = {.dir = dir, .resume = resume, .quiet = 1};
    struct e2_err err = {""};
    int rc = run_train(&o, c, &err);
    if (rc != E2_OK)
        printf("\n  %s\n", err.msg);
    return rc;
}

static char *file_in(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return read_text(path);
}

static double number(const struct json_value *v, const char *key)
{
    const struct json_value *x = json_get(v, key);
    CU_ASSERT_FATAL(x != NULL && x->type == JSON_NUMBER);
    return strtod(x->text, NULL);
}

static struct json_value *report_of(const char *dir)
{
    char path[1024];
    struct json_value *v = NULL;
    struct e2_err err = {""};
    snprintf(path, sizeof path, "%s/report.json", dir);
    CU_ASSERT_FATAL(json_parse_file(path, &v, &err) == E2_OK);
    return v;
}

static void test_files_and_totals(void)
{
    char dir[512];
    CU_ASSERT_EQUAL_FATAL(run_into("plain", &cfg, 0, dir, sizeof dir), E2_OK);
    const char *names[] = {"report.json", "report.md", "report.html", "breakdown.csv",
                           "layers.csv", "curve.csv", "psg_layers.csv", "checkpoint.e2ck"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *text = file_in(dir, names[i]);
        CU_ASSERT(text != NULL && strlen(text) > 0);
        free(text);
    }
    struct json_value *v = report_of(dir);
    double total = number(v, "energy.total_j"), base = number(v, "energy.baseline_fp32_j");
    CU_ASSERT(total > 0 && total < base);
    CU_ASSERT_DOUBLE_EQUAL(number(v, "energy.savings_vs_fp32"), 1 - total / base, 1e-9);
    CU_ASSERT_EQUAL(number(v, "training.iterations"), 8);
    json_free(v);
    char *layers = file_in(dir, "layers.csv");
    CU_ASSERT_FATAL(layers != NULL);
    CU_ASSERT(strstr(layers, ",?,") == NULL);
    CU_ASSERT(strstr(layers, ".conv,conv,") != NULL && strstr(layers, ",bn,") != NULL);
    free(layers);
}

/* Recording a trace must not change what the run reports. */
static void test_trace_changes_no_report(void)
{
    char plain[512], traced[512], trace[512];
    struct e2_config *c = malloc(sizeof *c);
    CU_ASSERT_FATAL(c != NULL);
    *c = cfg;
    path_of(trace, sizeof trace, "traced.e2t");
    CU_ASSERT_FATAL(strlen(trace) < sizeof c->report.trace);
    memcpy(c->report.trace, trace, strlen(trace) + 1);
    CU_ASSERT_EQUAL_FATAL(run_into("traced", c, 0, traced, sizeof traced), E2_OK);
    free(c);
    path_of(plain, sizeof plain, "plain");
    const char *names[] = {"layers.csv", "breakdown.csv", "curve.csv"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *a = file_in(plain, names[i]), *b = file_in(traced, names[i]);
        CU_ASSERT_FATAL(a && b);
        CU_ASSERT_STRING_EQUAL(a, b);
        free(a);
        free(b);
    }
    struct stat st;
    CU_ASSERT(stat(trace, &st) == 0 && st.st_size > 0);
}

/* A finished run resumed writes the same numbers again. */
static void test_finished_run_resumed(void)
{
    char dir[512];
    path_of(dir, sizeof dir, "plain");
    char *before = file_in(dir, "breakdown.csv");
    CU_ASSERT_EQUAL_FATAL(run_into("plain", &cfg, 1, dir, sizeof dir), E2_OK);
    char *after = file_in(dir, "breakdown.csv");
    CU_ASSERT_FATAL(before && after);
    CU_ASSERT_STRING_EQUAL(before, after);
    free(before);
    free(after);
}

int main(void)
{
    CU_TestInfo tests[] = {
        { "the fixed file names, totals and layer kinds", test_files_and_totals },
        { "a trace changes no report", test_trace_changes_no_report },
        { "a finished run, resumed, reports the same", test_finished_run_resumed },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("run", setup, tmpdir_remove, tests);
}
