/* Sweeps: grid/zip points, worker processes, a sweep killed midway and resumed (every point once,
 * finished points not rerun; a damaged sweep.jsonl refused), failed points retried, a point
 * folder that cannot be removed, workers dying with a killed sweep, a folder another process
 * holds, shards merged = the unsharded sweep, merge conflicts, the Pareto front, the CPUs workers
 * share. Workers are a small shell script standing in for e2sim (it writes a report.json whose
 * numbers depend on the point), so the test takes seconds. */
#define _GNU_SOURCE
#include "cunit_main.h"
#include "testutil.h"
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "json.h"
#include "outdir.h"
#include "sweep.h"
#include "sweep_report.h"
#include "sweep_rows.h"

static char dir[64];
static char script[128];
static char runlog[128];

static void sweep_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", dir, name);
}

/* The fake worker: arguments "... --point I --out DIR"; appends "I PID" to $RUNLOG, sleeps $SLEEP,
 * fails (exit 1) for the points listed in $FAIL, refuses its input like e2sim (exit 2,
 * "e2sim: $BAD", the point added with $BADVARY) for those in $BADAT ("all": every point), and
 * writes DIR/report.json with numbers made from I. */
static const char *const worker_text =
    "#!/bin/sh\n"
    "while [ $# -gt 0 ]; do\n"
    "  case \"$1\" in --point) P=$2; shift;; --out) O=$2; shift;; esac; shift\n"
    "done\n"
    "echo \"$P $$\" >> \"$RUNLOG\"\n"
    "[ -n \"$SLEEP\" ] && sleep \"$SLEEP\"\n"
    "case \" $FAIL \" in *\" $P \"*) echo \"point $P fails\" >&2; exit 1;; esac\n"
    "case \" $BADAT \" in *\" $P \"*|' all ')\n"
    "  echo \"e2sim: $BAD${BADVARY:+ $P}\" >&2; exit 2;; esac\n"
    "[ -e \"$O\" ] && { echo \"$O exists\" >&2; exit 2; }\n"
    "mkdir -p \"$O\" || exit 1\n"
    "T=$((50 + P * 7 % 11)); E=$((3 + P * 5 % 7))\n"
    "printf '{\"schema\": \"e2sim.report/1\", \"accuracy\": {\"top1\": 0.%d, \"top5\": 1},"
    " \"energy\": {\"total_j\": %d.25, \"total_fj\": %d250000000000000,"
    " \"baseline_fp32_j\": 40, \"savings_vs_fp32\": 0.%d},"
    " \"fpga\": {\"seconds\": %d}, \"training\": {\"slu_skip_ratio\": null}}\\n'"
    " $T $E $E $T $P > \"$O/report.json.tmp\" && mv \"$O/report.json.tmp\" \"$O/report.json\"\n";

static const char *worker_argv[] = {"/bin/sh", script, NULL};

static void write_path(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    fputs(text, f);
    fclose(f);
}

static const char *grid_yaml =
    "name: tiny-sweep\n"
    "training:\n"
    "  method: [psg]\n"
    "  iterations: 10\n"
    "sweep:\n"
    "  mode: grid\n"
    "  vary:\n"
    "    training.psg.beta: [0.05, 0.1, 0.2]\n"
    "    training.psg.msb_x: [4, 6]\n";

static struct e2_config *load(const char *yaml, const char *name)
{
    char path[256];
    sweep_path(path, sizeof path, name);
    write_path(path, yaml);
    struct e2_config *cfg = malloc(sizeof *cfg);
    struct e2_err err = {{0}};
    int rc = cfg_load(path, NULL, 0, cfg, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    CU_ASSERT_EQUAL_FATAL(rc, E2_OK);
    return cfg;
}

static int run_sweep(const struct e2_config *cfg, const char *out, int jobs, int resume, int k,
                     int n, struct e2_err *err)
{
    struct sweep_options o = {out, jobs, resume, k, n, worker_argv};
    mkdir(out, 0755);
    return sweep_run(cfg, &o, NULL, err);
}

static int remove_tree(const char *path)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    return system(cmd);
}

/* Number of complete lines of a file. */
static int lines_of(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int n = 0, c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

/* How often point p was started (lines "p" in the run log). */
static int runs_of(long p)
{
    FILE *f = fopen(runlog, "r");
    if (!f)
        return 0;
    char line[64];
    int n = 0;
    while (fgets(line, sizeof line, f))
        n += atol(line) == p && line[0] != '\n';
    fclose(f);
    return n;
}

static void test_grid_points_and_values(void)
{
    struct e2_config *cfg = load(grid_yaml, "grid.yaml");
    CU_ASSERT_EQUAL(cfg_sweep_points(cfg), 6);
    char out[256];
    sweep_path(out, sizeof out, "grid");
    remove(runlog);
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(run_sweep(cfg, out, 3, 0, 1, 1, &err), E2_OK);
    struct sweep_row *rows;
    int n;
    CU_ASSERT_EQUAL_FATAL(sweep_read_rows(out, &rows, &n, &err), E2_OK);
    CU_ASSERT_EQUAL_FATAL(n, 6);
    CU_ASSERT_EQUAL(sweep_dedup_rows(rows, &n, "grid", &err), E2_OK);
    /* grid order: the first key varies slowest */
    const char *beta[6] = {"0.05", "0.05", "0.1", "0.1", "0.2", "0.2"};
    const char *msb[6] = {"4", "6", "4", "6", "4", "6"};
    for (int i = 0; i < n; i++) {
        CU_ASSERT_EQUAL(rows[i].point, i);
        const struct json_value *v = json_get(rows[i].json, "values");
        CU_ASSERT_FATAL(v && v->count == 2);
        CU_ASSERT_STRING_EQUAL(v->keys[0], "training.psg.beta");
        CU_ASSERT_STRING_EQUAL(v->items[0].text, beta[i]);
        CU_ASSERT_STRING_EQUAL(v->items[1].text, msb[i]);
        /* results copied from the point's report.json */
        char want[32];
        snprintf(want, sizeof want, "0.%d", 50 + i * 7 % 11);
        CU_ASSERT_STRING_EQUAL(json_get(rows[i].json, "results.top1")->text, want);
        CU_ASSERT_EQUAL(json_get(rows[i].json, "results.slu_skip_ratio")->type, JSON_NULL);
        CU_ASSERT_EQUAL(json_get_number(rows[i].json, "points", 0), 6);
        CU_ASSERT_EQUAL(runs_of(i), 1);
    }
    sweep_free_rows(rows, n);
    char path[300];
    snprintf(path, sizeof path, "%s/sweep.csv", out);
    CU_ASSERT_EQUAL(lines_of(path), 7);
    char *csv = read_text(path);
    CU_ASSERT_PTR_NOT_NULL(strstr(csv, "point,training.psg.beta,training.psg.msb_x,top1,top5,"
                                       "energy_j,energy_fj,"));
    CU_ASSERT_PTR_NOT_NULL(strstr(csv, "\n0,0.05,4,0.50,1,3.25,3250000000000000,40,0.50,0,,,"));
    free(csv);
    snprintf(path, sizeof path, "%s/sweep.md", out);
    char *md = read_text(path);
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "6 of 6 points finished"));
    free(md);
    snprintf(path, sizeof path, "%s/sweep.html", out);
    char *html = read_text(path);
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "<svg "));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "Pareto"));
    free(html);
    snprintf(path, sizeof path, "%s/points/0003/report.json", out);
    CU_ASSERT_EQUAL(access(path, F_OK), 0);
    free(cfg);
}

static void test_zip_points(void)
{
    struct e2_config *cfg = load("name: zip\ntraining:\n  method: [psg]\nsweep:\n  mode: zip\n"
                                 "  vary:\n    training.psg.beta: [0.05, 0.1, 0.2]\n"
                                 "    training.psg.msb_x: [2, 4, 8]\n", "zip.yaml");
    CU_ASSERT_EQUAL(cfg_sweep_points(cfg), 3);
    char out[256];
    sweep_path(out, sizeof out, "zip");
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(run_sweep(cfg, out, 1, 0, 1, 1, &err), E2_OK);
    struct sweep_row *rows;
    int n;
    CU_ASSERT_EQUAL_FATAL(sweep_read_rows(out, &rows, &n, &err), E2_OK);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    const char *msb[3] = {"2", "4", "8"};
    for (int i = 0; i < n; i++) {   /* jobs = 1: in point order */
        CU_ASSERT_EQUAL(rows[i].point, i);
        CU_ASSERT_STRING_EQUAL(json_get(rows[i].json, "values")->items[1].text, msb[i]);
    }
    sweep_free_rows(rows, n);
    free(cfg);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static void test_killed_and_resumed(void)
{
    struct e2_config *cfg = load(grid_yaml, "grid.yaml");
    char out[256], jsonl[300];
    sweep_path(out, sizeof out, "killed");
    snprintf(jsonl, sizeof jsonl, "%s/sweep.jsonl", out);
    mkdir(out, 0755);
    remove(runlog);
    setenv("SLEEP", "0.4", 1);
    pid_t child = fork();
    if (child == 0) {
        setpgid(0, 0);   /* the sweep and its workers in one group, killed together */
        struct e2_err err;
        _exit(run_sweep(cfg, out, 2, 0, 1, 1, &err));
    }
    setpgid(child, child);
    double t0 = now();
    while (lines_of(jsonl) < 2 && now() - t0 < 30)
        usleep(20000);
    kill(-child, SIGKILL);
    waitpid(child, NULL, 0);
    unsetenv("SLEEP");
    /* a crash in the middle of an append leaves a partial last line */
    FILE *f = fopen(jsonl, "a");
    fputs("{\"schema\": \"e2sim.sweep/1\", \"poi", f);
    fclose(f);

    struct sweep_row *rows;
    int n;
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(sweep_read_rows(out, &rows, &n, &err), E2_OK);
    CU_ASSERT(n >= 2 && n < 6);
    long finished[6];
    int nfinished = n;
    for (int i = 0; i < n; i++)
        finished[i] = rows[i].point;
    sweep_free_rows(rows, n);

    CU_ASSERT_EQUAL_FATAL(run_sweep(cfg, out, 2, 1, 1, 1, &err), E2_OK);
    CU_ASSERT_EQUAL(lines_of(jsonl), 6);
    CU_ASSERT_EQUAL_FATAL(sweep_read_rows(out, &rows, &n, &err), E2_OK);
    CU_ASSERT_EQUAL(n, 6);
    int seen[6] = {0};
    for (int i = 0; i < n; i++)
        if (rows[i].point >= 0 && rows[i].point < 6)
            seen[rows[i].point]++;
    for (int p = 0; p < 6; p++)
        CU_ASSERT_EQUAL(seen[p], 1);   /* every point exactly once */
    for (int i = 0; i < nfinished; i++)
        CU_ASSERT_EQUAL(runs_of(finished[i]), 1);   /* finished points were not rerun */
    sweep_free_rows(rows, n);

    /* resuming a finished sweep runs nothing */
    int before = lines_of(runlog);
    CU_ASSERT_EQUAL(run_sweep(cfg, out, 2, 1, 1, 1, &err), E2_OK);
    CU_ASSERT_EQUAL(lines_of(runlog), before);
    /* without --resume an existing sweep.jsonl is not silently extended: the caller refuses
     * an existing folder (outdir); and a different config is refused on resume */
    struct e2_config *other = load("name: other\ntraining:\n  method: [psg]\nsweep:\n  vary:\n"
                                   "    training.psg.beta: [0.3, 0.4, 0.5, 0.6, 0.7, 0.8]\n",
                                   "other.yaml");
    char config[300];
    snprintf(config, sizeof config, "%s/config.yaml", out);
    char *before_text = read_text(config);
    CU_ASSERT_PTR_NOT_NULL_FATAL(before_text);
    CU_ASSERT_EQUAL(run_sweep(other, out, 1, 1, 1, 1, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "different sweep"));
    char *after_text = read_text(config);   /* the refused resume left the folder's config */
    CU_ASSERT_PTR_NOT_NULL_FATAL(after_text);
    CU_ASSERT_STRING_EQUAL(after_text, before_text);
    free(before_text);
    free(after_text);
    /* a NUL byte in sweep.jsonl (damage) is bad input: read as the end of the text it made the
     * resume rerun every point, and the repair of a torn last line wrote the file back empty */
    f = fopen(jsonl, "r+");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fseek(f, 5, SEEK_SET);
    fputc(0, f);
    fseek(f, 0, SEEK_END);
    fputs("{\"schema\": \"e2sim.sweep/1\", \"poi", f);
    fclose(f);
    before = lines_of(runlog);
    CU_ASSERT_EQUAL(run_sweep(cfg, out, 2, 1, 1, 1, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "sweep.jsonl:1: a NUL byte"));
    CU_ASSERT_EQUAL(lines_of(runlog), before);   /* nothing rerun */
    CU_ASSERT_EQUAL(lines_of(jsonl), 6);         /* nothing dropped */
    free(other);
    free(cfg);
}

static void test_failed_point_is_retried(void)
{
    struct e2_config *cfg = load(grid_yaml, "grid.yaml");
    char out[256];
    sweep_path(out, sizeof out, "failing");
    remove(runlog);
    setenv("FAIL", "3", 1);
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL(run_sweep(cfg, out, 2, 0, 1, 1, &err), E2_FAILURE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "1 sweep point failed: 3 (its output: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "points/0003.log"));
    unsetenv("FAIL");
    char jsonl[300];
    snprintf(jsonl, sizeof jsonl, "%s/sweep.jsonl", out);
    CU_ASSERT_EQUAL(lines_of(jsonl), 5);
    CU_ASSERT_EQUAL(run_sweep(cfg, out, 2, 1, 1, 1, &err), E2_OK);
    CU_ASSERT_EQUAL(lines_of(jsonl), 6);
    CU_ASSERT_EQUAL(runs_of(3), 2);
    CU_ASSERT_EQUAL(runs_of(2), 1);
    free(cfg);
}

/* Run the sweep of `yaml` into a new folder `name`: its status, its message in err. */
static int sweep_into(const char *yaml, const char *name, struct e2_err *err)
{
    struct e2_config *cfg = load(yaml, "sweep-into.yaml");
    char out[256];
    sweep_path(out, sizeof out, name);
    int rc = run_sweep(cfg, out, 2, 0, 1, 1, err);
    free(cfg);
    return rc;
}

/* Every point refused the same input (a data set the config names is missing, say): that is
 * the sweep's input error, exit 2, and the message is the points' own (it used to be "6 sweep
 * points failed", exit 1, the error only in the logs). */
static void test_every_point_bad_input(void)
{
    struct e2_err err = {{0}};
    setenv("BAD", "grid.yaml:2:9: no data here", 1);
    setenv("BADAT", "all", 1);
    CU_ASSERT_EQUAL(sweep_into(grid_yaml, "all-bad", &err), E2_BAD_INPUT);
    const char *want = "grid.yaml:2:9: no data here (every point of the sweep failed on it; "
                       "their output: ";
    CU_ASSERT_EQUAL(strncmp(err.msg, want, strlen(want)), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "all-bad/points/NNNN.log; once it is fixed, --out "));
    /* different input errors are the points', not the sweep's: each one is in its log */
    setenv("BADVARY", "1", 1);
    CU_ASSERT_EQUAL(sweep_into(grid_yaml, "all-bad-differently", &err), E2_FAILURE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "6 sweep points failed: 0, 1, 2, 3, 4 and 5 (their "
                                           "output: "));
    unsetenv("BADVARY");
    /* an input error of some points only: the sweep failed, naming them */
    setenv("BADAT", "1 4", 1);
    CU_ASSERT_EQUAL(sweep_into(grid_yaml, "some-bad", &err), E2_FAILURE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "2 sweep points failed: 1 and 4 (their output: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "some-bad/points/NNNN.log, first "));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "some-bad/points/0001.log)"));
    unsetenv("BAD");
    unsetenv("BADAT");
    /* many failed points: the first few named, the rest counted */
    setenv("FAIL", "0 1 2 3 4 5", 1);
    CU_ASSERT_EQUAL(sweep_into(grid_yaml, "all-failed", &err), E2_FAILURE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "6 sweep points failed: 0, 1, 2, 3, 4 and 5"));
    setenv("FAIL", "0 1 2 3 4 5 6 7 8 9", 1);
    CU_ASSERT_EQUAL(sweep_into("name: ten\ntraining:\n  method: [psg]\nsweep:\n  vary:\n"
                               "    seed: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n", "ten-failed", &err),
                    E2_FAILURE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "10 sweep points failed: 0, 1, 2, 3, 4, 5, 6, 7 and 2 "
                                           "more (their output: "));
    unsetenv("FAIL");
}

/* The same through e2sim itself: a sweep over a data set folder without its files. */
static void test_every_point_bad_input_e2sim(void)
{
    char yaml[600], cfgpath[256], data[256], out[256], errfile[300], cmd[1400];
    sweep_path(data, sizeof data, "no-data");
    sweep_path(cfgpath, sizeof cfgpath, "no-data.yaml");
    sweep_path(out, sizeof out, "no-data-sweep");
    snprintf(errfile, sizeof errfile, "%s/no-data.err", dir);
    CU_ASSERT_FATAL(mkdir(data, 0755) == 0);
    snprintf(yaml, sizeof yaml, "name: no-data\ndataset:\n  name: mnist\n  path: %s\n"
             "training:\n  method: [psg]\n  iterations: 2\nsweep:\n  vary:\n"
             "    training.psg.beta: [0.05, 0.1]\n", data);
    write_path(cfgpath, yaml);
    snprintf(cmd, sizeof cmd, "'%s' --config '%s' --out '%s' --quiet 2>'%s'", E2SIM_BINARY,
             cfgpath, out, errfile);
    int status = system(cmd);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 2);
    char *text = read_text(errfile), want[400];
    snprintf(want, sizeof want, "e2sim: %s/train-images-idx3-ubyte: cannot open: no such file",
             data);
    if (!text || strncmp(text, want, strlen(want)) != 0)
        printf("\n  stderr: %s\n", text ? text : "(none)");
    CU_ASSERT(text && strncmp(text, want, strlen(want)) == 0);
    free(text);
}

/* A folder tree deeper than PATH_MAX under dir: nftw cannot remove it, even as root. */
static void make_unremovable(const char *dir)
{
    CU_ASSERT_FATAL(mkdir(dir, 0755) == 0);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    char name[201];
    memset(name, 'n', 200);
    name[200] = 0;
    for (int i = 0; fd >= 0 && i < 25; i++) {
        CU_ASSERT_FATAL(mkdirat(fd, name, 0755) == 0);
        int inner = openat(fd, name, O_RDONLY | O_DIRECTORY);
        close(fd);
        fd = inner;
    }
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
}

static void test_unremovable_point_folder(void)
{
    struct e2_config *cfg = load(grid_yaml, "grid.yaml");
    char out[256], points[300], stuck[300], jsonl[300], log[300];
    sweep_path(out, sizeof out, "unremovable");
    snprintf(points, sizeof points, "%s/points", out);
    snprintf(stuck, sizeof stuck, "%s/points/0002", out);
    snprintf(jsonl, sizeof jsonl, "%s/sweep.jsonl", out);
    snprintf(log, sizeof log, "%s/points/0002.log", out);
    mkdir(out, 0755);
    mkdir(points, 0755);
    make_unremovable(stuck);
    remove(runlog);
    struct e2_err err = {{0}};
    /* the failure to clear point 2 is not overwritten by the points finishing after it */
    CU_ASSERT_EQUAL(run_sweep(cfg, out, 2, 0, 1, 1, &err), E2_FAILURE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "1 sweep point failed: 2 (its output: "));
    char *text = read_text(log);
    CU_ASSERT_PTR_NOT_NULL(text && strstr(text, "cannot remove its unfinished folder"));
    free(text);
    CU_ASSERT_EQUAL(runs_of(2), 0);
    CU_ASSERT_EQUAL(lines_of(jsonl), 5);   /* every other point finished */
    /* once the folder can go, a resume runs the point */
    CU_ASSERT_EQUAL(remove_tree(stuck), 0);
    CU_ASSERT_EQUAL(run_sweep(cfg, out, 2, 1, 1, 1, &err), E2_OK);
    CU_ASSERT_EQUAL(lines_of(jsonl), 6);
    CU_ASSERT_EQUAL(runs_of(2), 1);
    free(cfg);
}

/* The PIDs of the workers started so far (second column of the run log). */
static int worker_pids(pid_t *pids, int max)
{
    FILE *f = fopen(runlog, "r");
    int n = 0;
    long point, pid;
    while (f && n < max && fscanf(f, "%ld %ld", &point, &pid) == 2)
        pids[n++] = (pid_t)pid;
    if (f)
        fclose(f);
    return n;
}

static void test_workers_die_with_the_sweep(void)
{
    struct e2_config *cfg = load(grid_yaml, "grid.yaml");
    char out[256];
    sweep_path(out, sizeof out, "orphans");
    remove(runlog);
    /* the workers of the killed sweep become this process's children, so it can see how they end */
    CU_ASSERT_FATAL(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
    setenv("SLEEP", "3", 1);
    pid_t sweep = fork();
    if (sweep == 0) {
        struct e2_err err;
        _exit(run_sweep(cfg, out, 2, 0, 1, 1, &err));
    }
    double t0 = now();
    while (lines_of(runlog) < 2 && now() - t0 < 30)
        usleep(20000);
    kill(sweep, SIGKILL);
    waitpid(sweep, NULL, 0);
    unsetenv("SLEEP");
    double killed = now();
    pid_t pids[8];
    int n = worker_pids(pids, 8);
    CU_ASSERT_EQUAL(n, 2);
    for (int i = 0; i < n; i++) {
        int status = 0;
        CU_ASSERT_EQUAL(waitpid(pids[i], &status, 0), pids[i]);
        CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    }
    CU_ASSERT(now() - killed < 2.5);   /* killed at once, not after their 3 s of work */
    prctl(PR_SET_CHILD_SUBREAPER, 0);
    free(cfg);
}

static void test_folder_in_use_is_refused(void)
{
    char out[256], errfile[300], cmd[1200];
    sweep_path(out, sizeof out, "busy");
    snprintf(errfile, sizeof errfile, "%s/busy.err", dir);
    int ready[2];
    CU_ASSERT_FATAL(pipe(ready) == 0);
    pid_t holder = fork();
    if (holder == 0) {   /* another e2sim process owning the folder */
        struct e2_err err;
        if (out_prepare_dir(out, 0, &err) != E2_OK)
            _exit(1);
        (void)!write(ready[1], "x", 1);
        pause();
        _exit(0);
    }
    close(ready[1]);
    char c;
    CU_ASSERT_FATAL(read(ready[0], &c, 1) == 1);
    close(ready[0]);
    snprintf(cmd, sizeof cmd, "'%s' --config '%s/configs/sweeps/engine_design.yaml' --out '%s' "
             "--resume --quiet 2>'%s'", E2SIM_BINARY, E2SIM_SOURCE_DIR, out, errfile);
    int status = system(cmd);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 2);
    char *text = read_text(errfile);
    CU_ASSERT_PTR_NOT_NULL(text && strstr(text, "is in use by another e2sim process"));
    free(text);
    kill(holder, SIGKILL);
    waitpid(holder, NULL, 0);
}

static void test_usable_cpus(void)
{
    cpu_set_t all, one;
    CU_ASSERT_FATAL(sched_getaffinity(0, sizeof all, &all) == 0);
    CU_ASSERT_EQUAL(sweep_usable_cpus(), CPU_COUNT(&all));
    int first = 0;
    while (!CPU_ISSET(first, &all))
        first++;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    CU_ASSERT_FATAL(sched_setaffinity(0, sizeof one, &one) == 0);
    CU_ASSERT_EQUAL(sweep_usable_cpus(), 1);   /* as under taskset -c N, whatever is online */
    CU_ASSERT(sched_setaffinity(0, sizeof all, &all) == 0);
}

static void test_shards_merge_to_the_whole(void)
{
    struct e2_config *cfg = load(grid_yaml, "grid.yaml");
    char whole[256], s1[256], s2[256], merged[256];
    sweep_path(whole, sizeof whole, "whole");
    sweep_path(s1, sizeof s1, "shard1");
    sweep_path(s2, sizeof s2, "shard2");
    sweep_path(merged, sizeof merged, "merged");
    struct e2_err err = {{0}};
    remove(runlog);
    CU_ASSERT_EQUAL_FATAL(run_sweep(cfg, whole, 3, 0, 1, 1, &err), E2_OK);
    CU_ASSERT_EQUAL_FATAL(run_sweep(cfg, s1, 1, 0, 1, 2, &err), E2_OK);
    CU_ASSERT_EQUAL_FATAL(run_sweep(cfg, s2, 2, 0, 2, 2, &err), E2_OK);
    char path[300];
    snprintf(path, sizeof path, "%s/sweep.jsonl", s1);
    CU_ASSERT_EQUAL(lines_of(path), 3);   /* points 0, 2, 4 */
    snprintf(path, sizeof path, "%s/sweep.md", s1);
    char *md = read_text(path);
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "3 of 6 points finished"));
    free(md);
    const char *dirs[2] = {s2, s1};
    CU_ASSERT_EQUAL_FATAL(sweep_merge(dirs, 2, merged, 1, &err), E2_OK);
    const char *files[] = {"sweep.csv", "sweep.md", "sweep.html"};
    for (int i = 0; i < 3; i++) {
        char a[300], b[300];
        snprintf(a, sizeof a, "%s/%s", whole, files[i]);
        snprintf(b, sizeof b, "%s/%s", merged, files[i]);
        char *x = read_text(a), *y = read_text(b);
        CU_ASSERT_FATAL(x && y);
        CU_ASSERT_STRING_EQUAL(x, y);
        free(x);
        free(y);
    }
    /* the merged sweep.jsonl holds the whole sweep's lines, in point order */
    struct sweep_row *ra, *rb;
    int na, nb;
    CU_ASSERT_EQUAL_FATAL(sweep_read_rows(whole, &ra, &na, &err), E2_OK);
    CU_ASSERT_EQUAL_FATAL(sweep_read_rows(merged, &rb, &nb, &err), E2_OK);
    CU_ASSERT_EQUAL_FATAL(sweep_dedup_rows(ra, &na, "whole", &err), E2_OK);
    CU_ASSERT_EQUAL_FATAL(na, nb);
    for (int i = 0; i < na; i++) {
        CU_ASSERT_EQUAL(rb[i].point, i);
        CU_ASSERT_STRING_EQUAL(ra[i].text, rb[i].text);
    }
    sweep_free_rows(ra, na);
    sweep_free_rows(rb, nb);

    /* overlapping shards with identical rows merge; the output folder must be new */
    char again[256];
    sweep_path(again, sizeof again, "merged2");
    const char *overlap[3] = {s1, whole, s2};
    CU_ASSERT_EQUAL(sweep_merge(overlap, 3, again, 1, &err), E2_OK);
    CU_ASSERT_EQUAL(sweep_merge(overlap, 3, again, 1, &err), E2_BAD_INPUT);
    free(cfg);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/e2sim-test-sweep-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    sweep_path(script, sizeof script, "worker.sh");
    sweep_path(runlog, sizeof runlog, "runs.log");
    write_path(script, worker_text);
    setenv("RUNLOG", runlog, 1);
    CU_TestInfo tests[] = {
        { "grid: points, values, results, summary files", test_grid_points_and_values },
        { "zip: points in step", test_zip_points },
        { "killed midway, resumed: every point once", test_killed_and_resumed },
        { "a failed point is retried on resume", test_failed_point_is_retried },
        { "a point folder that cannot be removed fails the sweep", test_unremovable_point_folder },
        { "every point refusing the same input is an input error", test_every_point_bad_input },
        { "the same through e2sim", test_every_point_bad_input_e2sim },
        { "workers die with a killed sweep", test_workers_die_with_the_sweep },
        { "a folder another process holds is refused (exit 2)", test_folder_in_use_is_refused },
        { "workers share the CPUs the process may use", test_usable_cpus },
        { "shard 1/2 + 2/2 + merge = unsharded", test_shards_merge_to_the_whole },
        CU_TEST_INFO_NULL,
    };
    int failed = cunit_run("sweep", NULL, NULL, tests);
    if (!failed)
        remove_tree(dir);
    return failed ? 1 : 0;
}
