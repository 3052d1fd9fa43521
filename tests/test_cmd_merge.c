/* Tests of sim/app/cmd_merge.c: `e2sim merge DIR... --out NEW` joins the shards' rows into NEW;
 * a folder that is not a sweep, or a line that is not a sweep point, is bad input (exit status
 * 2) naming the file, and NEW is not made. */
#define _DEFAULT_SOURCE   /* mkdtemp */
#include "cunit_main.h"
#include "testutil.h"
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_args.h"
#include "commands.h"

static int setup(void) { return tmpdir_create("cmd_merge"); }
static int cleanup(void) { return tmpdir_remove(); }

#define ROW(point, energy)                                                                   \
    "{\"schema\":\"e2sim.sweep/1\",\"point\":" #point ",\"points\":3,\"sweep\":\"abc\","     \
    "\"values\":{\"k\":\"v" #point "\"},\"results\":{\"energy_j\":" #energy "}}\n"

static int exists(const char *name)
{
    char path[512];
    path_of(path, sizeof path, name);
    return access(path, F_OK) == 0;
}

/* merge WORDS (folder names relative to tmpdir, joined by the caller) */
static int merge(const char *words, struct e2_err *err)
{
    struct e2_options opts;
    char line[2048];
    snprintf(line, sizeof line, "merge %s -q", words);
    CU_ASSERT_EQUAL_FATAL(options_of(line, &opts, err), E2_OK);
    return cmd_merge(&opts, err);
}

static void test_not_a_sweep_folder(void)
{
    char words[1024];
    struct e2_err err = {""};
    char dir[512];
    path_of(dir, sizeof dir, "empty");
    CU_ASSERT_FATAL(mkdir(dir, 0755) == 0);
    snprintf(words, sizeof words, "%s/empty --out %s/new1", tmpdir, tmpdir);
    CU_ASSERT_EQUAL(merge(words, &err), E2_BAD_INPUT);
    char want[600];
    snprintf(want, sizeof want, "merge: %s/empty/sweep.jsonl: No such file or directory", tmpdir);
    CU_ASSERT_STRING_EQUAL(err.msg, want);
    CU_ASSERT_FALSE(exists("new1"));
}

static void test_not_a_sweep_line(void)
{
    char words[1024];
    struct e2_err err = {""};
    char dir[512];
    folder_with_file("other", "sweep.jsonl", ROW(0, 1.5) "{\"a\": 1}\n", dir, sizeof dir);
    snprintf(words, sizeof words, "%s/other --out %s/new2", tmpdir, tmpdir);
    CU_ASSERT_EQUAL(merge(words, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "other/sweep.jsonl:2: not a sweep point line"));
    CU_ASSERT_FALSE(exists("new2"));
}

/* A point beyond the sweep's count (a hand-edited line, or one of a bigger sweep of the same
 * hash) is refused, naming its line, and NEW is not made; so is a line with no count. */
static void test_point_beyond_the_sweep(void)
{
    char words[1024], dir[512];
    struct e2_err err = {""};
    folder_with_file("beyond", "sweep.jsonl", ROW(0, 1.5) ROW(3, 2.5), dir, sizeof dir);
    snprintf(words, sizeof words, "%s/beyond --out %s/new3", tmpdir, tmpdir);
    CU_ASSERT_EQUAL(merge(words, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "beyond/sweep.jsonl:2: point 3 is beyond the "
                                           "sweep's 3 points (0 to 2)"));
    CU_ASSERT_FALSE(exists("new3"));
    folder_with_file("uncounted", "sweep.jsonl", "{\"point\":0,\"sweep\":\"abc\"}\n", dir,
                     sizeof dir);
    snprintf(words, sizeof words, "%s/uncounted --out %s/new4", tmpdir, tmpdir);
    CU_ASSERT_EQUAL(merge(words, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "uncounted/sweep.jsonl:1: not a sweep point line"));
    CU_ASSERT_FALSE(exists("new4"));
}

/* Without --out, a merge that fails makes no default folder out/merge-* (it used to make an
 * empty one before reading the inputs); one that works makes it. */
static void test_default_folder_only_on_success(void)
{
    char cwd[1024], dir[512];
    struct e2_err err = {""};
    CU_ASSERT_PTR_NOT_NULL_FATAL(getcwd(cwd, sizeof cwd));
    folder_with_file("d1", "sweep.jsonl", ROW(0, 1.5), dir, sizeof dir);
    CU_ASSERT_FATAL(chdir(tmpdir) == 0);
    CU_ASSERT_EQUAL(merge("no-such-folder", &err), E2_BAD_INPUT);
    CU_ASSERT_FALSE(exists("out"));
    CU_ASSERT_EQUAL(merge("d1", &err), E2_OK);
    CU_ASSERT(exists("out"));
    CU_ASSERT_FATAL(chdir(cwd) == 0);
}

static void test_no_folders(void)
{
    struct e2_options opts;
    struct e2_err err = {""};
    CU_ASSERT_EQUAL_FATAL(options_of("merge a", &opts, &err), E2_OK);
    opts.nargs = 0;   /* cli_parse refuses this too */
    CU_ASSERT_EQUAL(cmd_merge(&opts, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "e2sim merge DIR... --out NEW"));
}

/* Two shards (one point in both) become one sweep.jsonl in point order, with its summary. */
static void test_shards_joined(void)
{
    char words[1024], path[512], dir[512];
    struct e2_err err = {""};
    folder_with_file("s1", "sweep.jsonl", ROW(2, 0.5) ROW(0, 1.5), dir, sizeof dir);
    folder_with_file("s2", "sweep.jsonl", ROW(1, 2.5) ROW(2, 0.5), dir, sizeof dir);
    snprintf(words, sizeof words, "%s/s1 %s/s2 --out %s/joined", tmpdir, tmpdir, tmpdir);
    CU_ASSERT_EQUAL_FATAL(merge(words, &err), E2_OK);
    path_of(path, sizeof path, "joined/sweep.jsonl");
    char *text = read_text(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_STRING_EQUAL(text, ROW(0, 1.5) ROW(1, 2.5) ROW(2, 0.5));
    free(text);
    CU_ASSERT(exists("joined/sweep.csv") && exists("joined/sweep.md") &&
              exists("joined/sweep.html"));
    /* NEW must be new */
    CU_ASSERT_EQUAL(merge(words, &err), E2_BAD_INPUT);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"a folder that is not a sweep", test_not_a_sweep_folder},
        {"a line that is not a sweep point", test_not_a_sweep_line},
        {"the default folder is made only when the merge works", test_default_folder_only_on_success},
        {"no folders", test_no_folders},
        {"a point beyond the sweep's count", test_point_beyond_the_sweep},
        {"shards joined", test_shards_joined},
        CU_TEST_INFO_NULL,
    };
    return cunit_run("cmd_merge", setup, cleanup, tests);
}
