/* Tests of sim/app/cmd_sweep.c: the command line translated into the workers' argv (lead
 * words, --config, every --set in order, --quiet, the cores shared between --jobs workers or
 * --threads), and the errors it gives before anything runs. */
#define _DEFAULT_SOURCE   /* mkdtemp */
#include "cunit_main.h"
#include "testutil.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_args.h"
#include "commands.h"

/* The worker argv for `words`, joined by spaces into buf. */
static void worker_line(const char *words, const char *const *lead, int nlead, long cores,
                        char *buf, size_t size)
{
    struct e2_options opts;
    struct e2_err err = {""};
    char threads[16];
    CU_ASSERT_EQUAL_FATAL(options_of(words, &opts, &err), E2_OK);
    const char **argv = sweep_worker_argv(&opts, "/bin/e2sim", lead, nlead, cores, threads,
                                          sizeof threads);
    CU_ASSERT_PTR_NOT_NULL_FATAL(argv);
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; argv[i] && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? " " : "", argv[i]);
    free(argv);
}

static void test_worker_argv_run(void)
{
    char line[1024];
    worker_line("--config s.yaml --set a=1 --seed 7 --set b=x --jobs 4 --out d --resume", NULL,
                0, 16, line, sizeof line);
    /* --out, --jobs and --resume belong to the sweep, not to its workers */
    CU_ASSERT_STRING_EQUAL(line, "/bin/e2sim --config s.yaml --set a=1 --set seed=7 --set b=x "
                                 "--quiet --threads 4");
}

static void test_worker_argv_replay_lead(void)
{
    char line[1024];
    const char *lead[2] = {"replay", "t.e2t"};
    worker_line("replay t.e2t --config hw.yaml --jobs 3", lead, 2, 2, line, sizeof line);
    /* 2 cores for 3 workers: still one thread each */
    CU_ASSERT_STRING_EQUAL(line, "/bin/e2sim replay t.e2t --config hw.yaml --quiet --threads 1");
}

static void test_worker_threads(void)
{
    char line[1024];
    worker_line("--config s.yaml --threads 5 --jobs 4", NULL, 0, 16, line, sizeof line);
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "--threads 5"));    /* the user's, not 16 / 4 */
    worker_line("--config s.yaml", NULL, 0, 6, line, sizeof line);
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "--threads 6"));    /* one worker: every core */
    worker_line("--config s.yaml --jobs 4", NULL, 0, 7, line, sizeof line);
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "--threads 1"));    /* 7 / 4 rounds down */
}

/* The command checks its own options (cli_parse checks them too) before any folder is made or
 * worker started. */
static void test_command_errors(void)
{
    struct e2_options opts;
    struct e2_err err = {""};
    struct e2_config *cfg = calloc(1, sizeof *cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_EQUAL_FATAL(options_of("--config s.yaml --resume --out d", &opts, &err), E2_OK);
    opts.out_dir = NULL;
    CU_ASSERT_EQUAL(cmd_sweep(&opts, cfg, &err), E2_BAD_INPUT);
    CU_ASSERT_STRING_EQUAL(err.msg, "--resume needs --out DIR (the sweep's folder)");
    opts.config = NULL;
    CU_ASSERT_EQUAL(cmd_sweep(&opts, cfg, &err), E2_BAD_INPUT);
    CU_ASSERT_STRING_EQUAL(err.msg, "a sweep needs --config FILE");
    free(cfg);
}

/* A sweep resumed in a training run's folder is refused before its config.yaml is replaced or
 * points/ made there. */
static void test_resume_in_run_folder(void)
{
    char dir[512], words[1024], path[600];
    struct e2_options opts;
    struct e2_err err = {""};
    struct e2_config *cfg = calloc(1, sizeof *cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_EQUAL_FATAL(tmpdir_create("cmd_sweep"), 0);
    folder_with_file("run", "config.yaml", "name: kept\n", dir, sizeof dir);
    write_file("run/checkpoint.e2ck", "x");
    snprintf(words, sizeof words, "--config s.yaml --out %s --resume -q", dir);
    CU_ASSERT_EQUAL_FATAL(options_of(words, &opts, &err), E2_OK);
    CU_ASSERT_EQUAL(cmd_sweep(&opts, cfg, &err), E2_BAD_INPUT);
    CU_ASSERT(strstr(err.msg, "run/checkpoint.e2ck: --resume of a sweep in a folder that holds "
                              "a training run's checkpoint") != NULL);
    snprintf(path, sizeof path, "%s/config.yaml", dir);
    char *kept = read_text(path);
    CU_ASSERT(kept && strcmp(kept, "name: kept\n") == 0);
    free(kept);
    snprintf(path, sizeof path, "%s/points", dir);
    CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0);
    tmpdir_remove();
    free(cfg);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"worker argv of a run sweep", test_worker_argv_run},
        {"worker argv of a replay sweep", test_worker_argv_replay_lead},
        {"worker threads", test_worker_threads},
        {"errors before anything runs", test_command_errors},
        {"a sweep resumed in a run's folder", test_resume_in_run_folder},
        CU_TEST_INFO_NULL,
    };
    return cunit_run("cmd_sweep", NULL, NULL, tests);
}
