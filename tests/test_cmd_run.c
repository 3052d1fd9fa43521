/* Tests of sim/app/cmd_run.c: --resume into a folder that holds another kind of results (a
 * sweep's, a training run's checkpoint, an energy-only report) is bad input naming the file,
 * refused before anything in the folder is replaced; so is a --trace that names one of the
 * folder's result files. A tiny synthetic config, so that a resume that is wrongly accepted
 * runs (and fails the test) in well under a second. */
#define _DEFAULT_SOURCE   /* mkdtemp */
#include "cunit_main.h"
#include "testutil.h"
#include <stdlib.h>
#include <string.h>

#include "cli_args.h"
#include "commands.h"

static struct e2_config *cfg;

static int setup(void)
{
    static const char *const sets[] = {
        "name=tiny", "network.depth=8", "network.width=4", "dataset.name=synthetic",
        "dataset.synthetic_train=32", "dataset.synthetic_test=16", "dataset.synthetic_size=8",
        "training.batch_size=8", "training.iterations=2", "report.progress=off",
        "training.method=[fp32]",
    };
    struct e2_err err = {""};
    cfg = malloc(sizeof *cfg);
    if (!cfg)
        return -1;
    cfg_defaults(cfg);
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        if (cfg_set(cfg, sets[i], &err) != E2_OK)
            return -1;
    return tmpdir_create("cmd_run");
}

static int cleanup(void)
{
    free(cfg);
    return tmpdir_remove();
}

/* `e2sim --config c.yaml --out DIR --resume -q` in tmpdir/folder, made with `file` in it and a
 * config.yaml that must survive; the status, the message in err. */
static int resume_in(const char *folder, const char *file, int energy_only, struct e2_err *err)
{
    char dir[512], words[1024], name[128], path[600];
    folder_with_file(folder, "config.yaml", "name: kept\n", dir, sizeof dir);
    snprintf(name, sizeof name, "%s/%s", folder, file);
    write_file(name, "{}\n");
    snprintf(words, sizeof words, "--config c.yaml --out %s --resume -q", dir);
    struct e2_options opts;
    CU_ASSERT_EQUAL_FATAL(options_of(words, &opts, err), E2_OK);
    int rc = energy_only ? cmd_energy_only(&opts, cfg, err) : cmd_run(&opts, cfg, err);
    snprintf(path, sizeof path, "%s/config.yaml", dir);
    char *kept = read_text(path);
    CU_ASSERT(kept && strcmp(kept, "name: kept\n") == 0);
    free(kept);
    return rc;
}

static void test_resume_refuses_other_kinds(void)
{
    struct e2_err err = {""};
    CU_ASSERT_EQUAL(resume_in("sweep", "sweep.jsonl", 0, &err), E2_BAD_INPUT);
    CU_ASSERT(strstr(err.msg, "sweep/sweep.jsonl: --resume of a training run in a folder that "
                              "holds a sweep's results") != NULL);
    CU_ASSERT_EQUAL(resume_in("energy", "report.json", 0, &err), E2_BAD_INPUT);
    CU_ASSERT(strstr(err.msg, "energy/report.json: --resume of a training run") != NULL);
    CU_ASSERT_EQUAL(resume_in("train", "checkpoint.e2ck", 1, &err), E2_BAD_INPUT);
    CU_ASSERT(strstr(err.msg, "train/checkpoint.e2ck: --resume of an energy-only run or a "
                              "replay in a folder that holds a training run's checkpoint") != NULL);
}

/* `--out DIR --trace TRACE -q` of a fresh run; the status, the message in err. */
static int traced_run(const char *dir, const char *trace, struct e2_err *err)
{
    char words[1400];
    snprintf(words, sizeof words, "--config c.yaml --out %s --trace %s -q", dir, trace);
    struct e2_options opts;
    CU_ASSERT_EQUAL_FATAL(options_of(words, &opts, err), E2_OK);
    struct e2_config *c = malloc(sizeof *c);
    CU_ASSERT_FATAL(c != NULL);
    *c = *cfg;
    snprintf(c->report.trace, sizeof c->report.trace, "%s", opts.trace);   /* as main does */
    int rc = cmd_run(&opts, c, err);
    free(c);
    return rc;
}

/* A trace named like a file the run writes into its folder shared that file's PATH.tmp.PID:
 * the trace ran through report.json and corrupted it, then its own rename failed (status 1).
 * It is bad input, refused before anything is written; any other name there is fine. */
static void test_trace_over_a_result_refused(void)
{
    char dir[512], trace[600], path[600];
    struct e2_err err = {""};
    struct stat st;
    path_of(dir, sizeof dir, "traced");
    snprintf(trace, sizeof trace, "%s/./report.json", dir);
    CU_ASSERT_EQUAL(traced_run(dir, trace, &err), E2_BAD_INPUT);
    CU_ASSERT(strstr(err.msg, "--trace ") && strstr(err.msg, "report.json is a file the run "
                                                             "writes into its output folder"));
    CU_ASSERT(stat(dir, &st) != 0);   /* the folder it made is gone: the command can rerun */
    snprintf(trace, sizeof trace, "%s/run.e2t", dir);
    CU_ASSERT_EQUAL(traced_run(dir, trace, &err), E2_OK);
    CU_ASSERT(stat(trace, &st) == 0);
    snprintf(path, sizeof path, "%s/report.json", dir);
    char *report = read_text(path);
    CU_ASSERT(report && strncmp(report, "{\n  \"schema\": \"e2sim.report/1\"", 30) == 0);
    free(report);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"a resume refuses another kind's folder", test_resume_refuses_other_kinds},
        {"a trace over a result file of the folder is refused", test_trace_over_a_result_refused},
        CU_TEST_INFO_NULL,
    };
    return cunit_run("cmd_run", setup, cleanup, tests);
}
