/* Tests of sim/io/outdir.c: folder creation rules, one process at a time in a folder, atomic
 * whole-file writes that never leave a half file or a temporary behind (nor keep a killed
 * writer's), line appends that concurrent writers cannot interleave, and a user's file (--trace)
 * that would be one of the folder's result files. */
#define _DEFAULT_SOURCE
#include "cunit_main.h"
#include "testutil.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "outdir.h"

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Entries of a folder whose name contains ".tmp." */
static int count_temps(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += strstr(e->d_name, ".tmp.") != NULL;
    if (d)
        closedir(d);
    return n;
}

/* Whether a new flock on the folder succeeds (it fails while anyone, this process included
 * through another descriptor, holds one). */
static int can_lock(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    int ok = fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static void test_prepare_dir(void)
{
    char dir[512], file[512];
    struct e2_err err;
    path_of(dir, sizeof dir, "runs/a/b");
    CU_ASSERT_EQUAL(out_prepare_dir(dir, 0, &err), E2_OK);
    CU_ASSERT(is_dir(dir));
    CU_ASSERT_FALSE(can_lock(dir));
    path_of(dir, sizeof dir, "runs/a");   /* parents made on the way stay free */
    CU_ASSERT_TRUE(can_lock(dir));
    path_of(dir, sizeof dir, "runs/a/b");
    CU_ASSERT_EQUAL(out_prepare_dir(dir, 0, &err), E2_BAD_INPUT);
    CU_ASSERT(strstr(err.msg, "exists") && strstr(err.msg, "--resume"));
    CU_ASSERT_EQUAL(out_prepare_dir(dir, 1, &err), E2_OK);
    path_of(dir, sizeof dir, "runs/new-with-resume/");
    CU_ASSERT_EQUAL(out_prepare_dir(dir, 1, &err), E2_OK);   /* resume creates a missing one */
    CU_ASSERT(is_dir(dir));
    path_of(file, sizeof file, "plain-file");
    CU_ASSERT_EQUAL(out_write_atomic(file, "x", 1, &err), E2_OK);
    CU_ASSERT_EQUAL(out_prepare_dir(file, 1, &err), E2_BAD_INPUT);
    CU_ASSERT(strstr(err.msg, "not a folder") != NULL);
    path_of(dir, sizeof dir, "plain-file/sub");   /* under a file: the user's path, exit 2 */
    CU_ASSERT_EQUAL(out_prepare_dir(dir, 0, &err), E2_BAD_INPUT);
    CU_ASSERT(strstr(err.msg, "plain-file/sub': Not a directory") != NULL);
    CU_ASSERT_EQUAL(out_prepare_dir("", 0, &err), E2_BAD_INPUT);
}

static void test_default_dir(void)
{
    char cwd[1024], first[512], second[512];
    struct e2_err err;
    CU_ASSERT_FATAL(getcwd(cwd, sizeof cwd) != NULL);
    CU_ASSERT_FATAL(chdir(tmpdir) == 0);
    CU_ASSERT_EQUAL(out_create_default_dir("my run/1", first, sizeof first, &err), E2_OK);
    CU_ASSERT_EQUAL(strncmp(first, "out/my_run_1-", 13), 0);
    CU_ASSERT_EQUAL(strlen(first), strlen("out/my_run_1-YYYYMMDD-HHMMSS"));
    CU_ASSERT(is_dir(first));
    /* a second run in the same second gets its own folder */
    CU_ASSERT_EQUAL(out_create_default_dir("my run/1", second, sizeof second, &err), E2_OK);
    CU_ASSERT(strcmp(first, second) != 0 && is_dir(second));
    CU_ASSERT_EQUAL(out_create_default_dir("..", second, sizeof second, &err), E2_OK);
    CU_ASSERT_EQUAL(strncmp(second, "out/run-", 8), 0);
    /* the new folder is locked, out/ itself is not (runs beside each other share it) */
    CU_ASSERT_FALSE(can_lock(second));
    CU_ASSERT_TRUE(can_lock("out"));
    CU_ASSERT_FATAL(chdir(cwd) == 0);
}

static void test_join(void)
{
    char buf[32];
    struct e2_err err;
    CU_ASSERT_EQUAL(out_join(buf, sizeof buf, "out/x", "report.md", &err), E2_OK);
    CU_ASSERT_STRING_EQUAL(buf, "out/x/report.md");
    CU_ASSERT_EQUAL(out_join(buf, sizeof buf, "out/x/", "a", &err), E2_OK);
    CU_ASSERT_STRING_EQUAL(buf, "out/x/a");
    CU_ASSERT_EQUAL(out_join(buf, sizeof buf, "a-long-folder-name", "a-long-file-name", &err),
                    E2_FAILURE);
}

static void test_atomic_write(void)
{
    char dir[512], path[512];
    struct e2_err err;
    path_of(dir, sizeof dir, "atomic");
    CU_ASSERT_EQUAL_FATAL(out_prepare_dir(dir, 0, &err), E2_OK);
    CU_ASSERT_EQUAL_FATAL(out_join(path, sizeof path, dir, "report.md", &err), E2_OK);
    CU_ASSERT_EQUAL(out_write_atomic(path, "first\n", 6, &err), E2_OK);
    char *text = read_text(path);
    CU_ASSERT_STRING_EQUAL(text, "first\n");
    free(text);
    CU_ASSERT_EQUAL(out_write_atomic(path, "second", 6, &err), E2_OK);
    text = read_text(path);
    CU_ASSERT_STRING_EQUAL(text, "second");
    free(text);

    /* streaming: nothing is visible under the final name before the commit */
    struct out_file f;
    CU_ASSERT_EQUAL_FATAL(out_open_tmp(path, &f, &err), E2_OK);
    fprintf(f.fp, "third, streamed\n");
    fflush(f.fp);
    text = read_text(path);
    CU_ASSERT_STRING_EQUAL(text, "second");
    free(text);
    CU_ASSERT_EQUAL(count_temps(dir), 1);
    CU_ASSERT_EQUAL(out_commit(&f, &err), E2_OK);
    text = read_text(path);
    CU_ASSERT_STRING_EQUAL(text, "third, streamed\n");
    free(text);

    /* abort drops the new content and the temporary */
    CU_ASSERT_EQUAL_FATAL(out_open_tmp(path, &f, &err), E2_OK);
    fprintf(f.fp, "never");
    out_abort(&f);
    out_abort(&f);   /* harmless twice */
    text = read_text(path);
    CU_ASSERT_STRING_EQUAL(text, "third, streamed\n");
    free(text);
    CU_ASSERT_EQUAL(count_temps(dir), 0);

    /* a commit that cannot rename (the name is a non-empty folder) fails and cleans up */
    char blocked[512], inside[600];
    CU_ASSERT_EQUAL(out_join(blocked, sizeof blocked, dir, "blocked", &err), E2_OK);
    CU_ASSERT_EQUAL(out_prepare_dir(blocked, 0, &err), E2_OK);
    snprintf(inside, sizeof inside, "%s/keep", blocked);
    CU_ASSERT_EQUAL(out_write_atomic(inside, "k", 1, &err), E2_OK);
    CU_ASSERT_EQUAL(out_write_atomic(blocked, "data", 4, &err), E2_FAILURE);
    CU_ASSERT(strstr(err.msg, "blocked") != NULL);
    CU_ASSERT_EQUAL(count_temps(dir), 0);
    /* a folder that does not exist */
    CU_ASSERT_EQUAL(out_write_atomic("/nonexistent-e2sim-dir/x", "d", 1, &err), E2_FAILURE);
}

static void test_folder_lock(void)
{
    char dir[512];
    struct e2_err err;
    path_of(dir, sizeof dir, "locked");
    int ready[2];
    CU_ASSERT_FATAL(pipe(ready) == 0);
    pid_t child = fork();
    CU_ASSERT_FATAL(child >= 0);
    if (child == 0) {
        /* lock, then run another program (as a sweep runs its workers): it holds the lock too */
        struct e2_err child_err;
        if (out_prepare_dir(dir, 0, &child_err) != E2_OK || dup2(ready[1], 3) != 3)
            _exit(1);
        execl("/bin/sh", "sh", "-c", "echo ready >&3; exec sleep 1", (char *)NULL);
        _exit(1);
    }
    close(ready[1]);
    char c;
    CU_ASSERT_FATAL(read(ready[0], &c, 1) == 1);
    close(ready[0]);
    CU_ASSERT_EQUAL(out_prepare_dir(dir, 1, &err), E2_BAD_INPUT);
    CU_ASSERT(strstr(err.msg, "is in use by another e2sim process") != NULL);
    int status;
    CU_ASSERT_EQUAL(waitpid(child, &status, 0), child);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* free once they are gone; taking it twice in one process is no conflict */
    CU_ASSERT_EQUAL(out_prepare_dir(dir, 1, &err), E2_OK);
    CU_ASSERT_EQUAL(out_prepare_dir(dir, 1, &err), E2_OK);
}

static void test_stale_temporaries(void)
{
    char dir[512], path[600], stale[700], live[700], other[700], odd[700];
    struct e2_err err;
    path_of(dir, sizeof dir, "stale");
    CU_ASSERT_EQUAL_FATAL(out_prepare_dir(dir, 0, &err), E2_OK);
    pid_t dead = fork();   /* a PID that no longer runs: a writer killed mid-write */
    CU_ASSERT_FATAL(dead >= 0);
    if (dead == 0)
        _exit(0);
    waitpid(dead, NULL, 0);
    snprintf(path, sizeof path, "%s/checkpoint.e2ck", dir);
    snprintf(stale, sizeof stale, "%s.tmp.%ld", path, (long)dead);
    snprintf(live, sizeof live, "%s.tmp.%ld", path, (long)getppid());   /* still writing */
    snprintf(other, sizeof other, "%s/report.md.tmp.%ld", dir, (long)dead);
    snprintf(odd, sizeof odd, "%s.tmp.12x", path);
    const char *names[] = {stale, live, other, odd};
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(out_write_atomic(names[i], "half", 4, &err), E2_OK);
    CU_ASSERT_EQUAL(out_write_atomic(path, "new", 3, &err), E2_OK);
    CU_ASSERT_NOT_EQUAL(access(stale, F_OK), 0);   /* the killed writer's temporary is gone */
    CU_ASSERT_EQUAL(access(live, F_OK), 0);
    CU_ASSERT_EQUAL(access(other, F_OK), 0);       /* another file's: its own write removes it */
    CU_ASSERT_EQUAL(access(odd, F_OK), 0);
    char *text = read_text(path);
    CU_ASSERT_STRING_EQUAL(text, "new");
    free(text);
}

static void test_append_lines(void)
{
    char path[512];
    struct e2_err err;
    path_of(path, sizeof path, "sweep.jsonl");
    CU_ASSERT_EQUAL(out_append_line_atomic(path, "{\"point\": 0}", &err), E2_OK);
    CU_ASSERT_EQUAL(out_append_line_atomic(path, "{\"point\": 1}\n", &err), E2_OK);
    char *text = read_text(path);
    CU_ASSERT_STRING_EQUAL(text, "{\"point\": 0}\n{\"point\": 1}\n");
    free(text);

    /* four processes append 100 long lines each: every line arrives whole */
    enum { WRITERS = 4, LINES = 100, WIDTH = 3000 };
    path_of(path, sizeof path, "concurrent.jsonl");
    for (int w = 0; w < WRITERS; w++) {
        pid_t pid = fork();
        CU_ASSERT_FATAL(pid >= 0);
        if (pid == 0) {
            static char line[WIDTH + 1];
            memset(line, 'a' + w, WIDTH);
            line[WIDTH] = 0;
            struct e2_err child_err;
            for (int i = 0; i < LINES; i++)
                if (out_append_line_atomic(path, line, &child_err) != E2_OK)
                    _exit(1);
            _exit(0);
        }
    }
    int all_ok = 1;
    for (int w = 0; w < WRITERS; w++) {
        int status;
        wait(&status);
        all_ok &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    CU_ASSERT(all_ok);
    text = read_text(path);
    CU_ASSERT_FATAL(text != NULL);
    CU_ASSERT_EQUAL(strlen(text), (size_t)WRITERS * LINES * (WIDTH + 1));
    int whole = 1, count[WRITERS] = {0};
    for (char *line = text; *line;) {
        char *end = strchr(line, '\n');
        whole &= end && end - line == WIDTH && line[0] >= 'a' && line[0] < 'a' + WRITERS;
        if (!whole)
            break;
        for (char *p = line; p < end; p++)
            whole &= *p == line[0];
        count[line[0] - 'a']++;
        line = end + 1;
    }
    CU_ASSERT(whole);
    for (int w = 0; w < WRITERS; w++)
        CU_ASSERT_EQUAL(count[w], LINES);
    free(text);
    CU_ASSERT_EQUAL(out_append_line_atomic("/nonexistent-e2sim-dir/x.jsonl", "x", &err),
                    E2_FAILURE);
}

/* Which resumes each kind of folder refuses; the error names the file that shows its kind. */
static void test_resume_kind(void)
{
    char train[512], rerun[512], sweep[512], empty[512], points[600];
    struct e2_err err = {""};
    folder_with_file("k-train", "checkpoint.e2ck", "x", train, sizeof train);
    write_file("k-train/report.json", "{}");
    folder_with_file("k-rerun", "report.json", "{}", rerun, sizeof rerun);
    folder_with_file("k-sweep", "config.yaml", "name: s\n", sweep, sizeof sweep);
    snprintf(points, sizeof points, "%s/points", sweep);
    CU_ASSERT_FATAL(mkdir(points, 0755) == 0);
    folder_with_file("k-empty", "config.yaml", "name: e\n", empty, sizeof empty);
    for (int k = OUT_KIND_TRAIN; k <= OUT_KIND_SWEEP; k++)
        CU_ASSERT_EQUAL(out_check_resume(empty, k, &err), E2_OK);   /* killed before results */
    CU_ASSERT_EQUAL(out_check_resume(train, OUT_KIND_TRAIN, &err), E2_OK);
    CU_ASSERT_EQUAL(out_check_resume(rerun, OUT_KIND_RERUN, &err), E2_OK);
    CU_ASSERT_EQUAL(out_check_resume(sweep, OUT_KIND_SWEEP, &err), E2_OK);

    CU_ASSERT_EQUAL(out_check_resume(train, OUT_KIND_RERUN, &err), E2_BAD_INPUT);
    CU_ASSERT(strstr(err.msg, "k-train/checkpoint.e2ck: --resume of an energy-only run") != NULL);
    CU_ASSERT_EQUAL(out_check_resume(train, OUT_KIND_SWEEP, &err), E2_BAD_INPUT);
    CU_ASSERT(strstr(err.msg, "k-train/checkpoint.e2ck: --resume of a sweep") != NULL);
    CU_ASSERT_EQUAL(out_check_resume(rerun, OUT_KIND_TRAIN, &err), E2_BAD_INPUT);
    CU_ASSERT(strstr(err.msg, "k-rerun/report.json: --resume of a training run") != NULL);
    CU_ASSERT_EQUAL(out_check_resume(rerun, OUT_KIND_SWEEP, &err), E2_BAD_INPUT);
    CU_ASSERT_EQUAL(out_check_resume(sweep, OUT_KIND_TRAIN, &err), E2_BAD_INPUT);
    CU_ASSERT(strstr(err.msg, "k-sweep/points: --resume of a training run") != NULL);
    write_file("k-sweep/sweep.jsonl", "");
    CU_ASSERT_EQUAL(out_check_resume(sweep, OUT_KIND_RERUN, &err), E2_BAD_INPUT);
    CU_ASSERT(strstr(err.msg, "k-sweep/sweep.jsonl: --resume of an energy-only run") != NULL);
}

/* A user's file (--trace) may not be one of the folder's result files, however the folder is
 * spelled; other names there, and result names elsewhere, are fine. */
static void test_not_a_result(void)
{
    char dir[512], path[700], link[600];
    struct e2_err err = {""};
    path_of(dir, sizeof dir, "results");
    CU_ASSERT_FATAL(mkdir(dir, 0755) == 0);
    snprintf(path, sizeof path, "%s/report.json", dir);
    CU_ASSERT_EQUAL(out_check_not_result(dir, path, "--trace", &err), E2_BAD_INPUT);
    CU_ASSERT(strstr(err.msg, "--trace ") && strstr(err.msg, "/results/report.json: report.json "
                                                             "is a file the run writes"));
    path_of(link, sizeof link, "results-link");
    CU_ASSERT_FATAL(symlink(dir, link) == 0);
    snprintf(path, sizeof path, "%s/./checkpoint.e2ck", link);
    CU_ASSERT_EQUAL(out_check_not_result(dir, path, "--trace", &err), E2_BAD_INPUT);
    snprintf(path, sizeof path, "%s/run.e2t", dir);
    CU_ASSERT_EQUAL(out_check_not_result(dir, path, "--trace", &err), E2_OK);
    path_of(path, sizeof path, "report.json");   /* beside the folder, not in it */
    CU_ASSERT_EQUAL(out_check_not_result(dir, path, "--trace", &err), E2_OK);
    CU_ASSERT_EQUAL(out_check_not_result(dir, "report.json", "--trace", &err), E2_OK);
}

static int suite_init(void) { return tmpdir_create("outdir"); }

int main(void)
{
    CU_TestInfo tests[] = {
        { "output folder rules", test_prepare_dir },
        { "default folder name", test_default_dir },
        { "join", test_join },
        { "one process at a time in a folder", test_folder_lock },
        { "atomic whole-file writes", test_atomic_write },
        { "a killed writer's temporaries are removed", test_stale_temporaries },
        { "atomic line appends", test_append_lines },
        { "a resume refuses another kind's folder", test_resume_kind },
        { "a user's file is not one of the folder's results", test_not_a_result },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("outdir", suite_init, tmpdir_remove, tests);
}
