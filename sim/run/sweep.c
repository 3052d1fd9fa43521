/* Sweeps: one worker process per point, sweep.jsonl, resume and shards (see sweep.h and
 * docs/outputs.md). The summary files and merge: sim/report/sweep_report.c. */
#define _GNU_SOURCE   /* sched_getaffinity, CPU_COUNT */
#include "sweep.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "json.h"
#include "outdir.h"
#include "progress.h"
#include "sweep_report.h"
#include "sweep_rows.h"

#define SWEEP_SCHEMA "e2sim.sweep/1"

int sweep_self_exe(char *buf, size_t size, struct e2_err *err)
{
    ssize_t n = readlink("/proc/self/exe", buf, size - 1);
    if (n < 0 || (size_t)n >= size - 1)
        return e2_fail(err, E2_FAILURE, "cannot find the e2sim program (/proc/self/exe): %s",
                       n < 0 ? strerror(errno) : "path too long");
    buf[n] = '\0';
    return E2_OK;
}

long sweep_usable_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long online = sysconf(_SC_NPROCESSORS_ONLN);   /* more than CPU_SETSIZE CPUs */
    return online > 0 ? online : 1;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Remove what an interrupted worker left of a point (its folder), so it can run again.
 * Returns 0, or an errno value. */
static int clear_point_dir(const char *dir)
{
    struct stat st;
    if (lstat(dir, &st) != 0)
        return 0;
    if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return errno ? errno : EIO;
    return 0;
}

struct job {
    pid_t pid;
    long point;
};

#define NAMED_FAILURES 8   /* failed points the sweep's message lists by number */

struct sweep_state {
    const struct e2_config *cfg;
    const struct sweep_options *o;
    struct progress *progress;
    char hash[32];
    long points;
    char points_dir[OUT_PATH_MAX];
    char jsonl[OUT_PATH_MAX];
    int failed;
    long failed_at[NAMED_FAILURES];     /* the lowest failed points, in order */
    char input_error[sizeof(struct e2_err)];   /* the input error every failed point gave so
                                                  far ("" once one gave another, or none) */
    long done;
};

static void point_paths(const struct sweep_state *s, long point, char *dir, size_t dsize,
                        char *log, size_t lsize)
{
    snprintf(dir, dsize, "%s/%04ld", s->points_dir, point);
    snprintf(log, lsize, "%s/%04ld.log", s->points_dir, point);
}

static pid_t start_worker(const struct sweep_state *s, long point, struct e2_err *err)
{
    char dir[OUT_PATH_MAX + 32], log[OUT_PATH_MAX + 32], index[32], trace[OUT_PATH_MAX + 32];
    point_paths(s, point, dir, sizeof dir, log, sizeof log);
    snprintf(trace, sizeof trace, "%s/%04ld.e2t", s->points_dir, point);
    snprintf(index, sizeof index, "%ld", point);
    int n = 0;
    while (s->o->worker[n])
        n++;
    const char **argv = calloc((size_t)n + 7, sizeof *argv);
    if (!argv) {
        e2_fail(err, E2_FAILURE, "out of memory");
        return -1;
    }
    memcpy(argv, s->o->worker, (size_t)n * sizeof *argv);
    argv[n++] = "--point";
    argv[n++] = index;
    argv[n++] = "--out";
    argv[n++] = dir;
    if (s->cfg->report.trace[0]) {   /* each point its own trace, not one shared file */
        argv[n++] = "--trace";
        argv[n++] = trace;
    }
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* a worker dies with the sweep: a killed sweep leaves no worker writing results that a
           resume would race (the parent may already be gone before prctl: then stop) */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(127);
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) {
            dup2(devnull, STDIN_FILENO);
            close(devnull);
        }
        execv(argv[0], (char *const *)argv);
        dprintf(STDERR_FILENO, "cannot run worker '%s': %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int saved = errno;
    free(argv);
    if (pid < 0)
        e2_fail(err, E2_FAILURE, "cannot start a sweep worker: %s", strerror(saved));
    return pid;
}

/* Copied from the point's report.json into its line: each component's energy (the stacked
 * bars of sweep.html), and which e2sim made the point, where and when (the report's run
 * keys; null where the report has none). */
static void copy_report_parts(struct json_writer *w, const struct json_value *report)
{
    const struct json_value *parts = json_get(report, "energy.by_component");
    char *text = parts && parts->type == JSON_OBJECT ? json_to_text(parts) : NULL;
    json_key(w, "by_component");
    if (text)
        json_raw(w, text);
    else
        json_null(w);
    free(text);
    static const char *const provenance[] = {"e2sim_version", "git_commit", "host", "started"};
    json_key(w, "provenance");
    json_object_begin(w);
    for (int k = 0; k < 4; k++) {
        char path[32];
        snprintf(path, sizeof path, "run.%s", provenance[k]);
        const char *v = json_get_string(report, path);
        json_key(w, provenance[k]);
        if (v)
            json_string(w, v);
        else
            json_null(w);
    }
    json_object_end(w);
}

/* The point's line: {"schema", "point", "points", "sweep", "values": {...}, "results": {...},
 * "by_component": {...}, "provenance": {...}}. */
static int point_line(const struct sweep_state *s, long point, const struct json_value *report,
                      char **line, struct e2_err *err)
{
    struct e2_config *pc = malloc(sizeof *pc);
    if (!pc)
        return e2_fail(err, E2_FAILURE, "out of memory");
    int rc = cfg_sweep_point(s->cfg, point, pc, err);
    if (rc) {
        free(pc);
        return rc;
    }
    size_t len;
    FILE *f = open_memstream(line, &len);
    if (!f) {
        free(pc);
        return e2_fail(err, E2_FAILURE, "out of memory");
    }
    struct json_writer w;
    json_init(&w, f, 0);
    json_object_begin(&w);
    json_key(&w, "schema");
    json_string(&w, SWEEP_SCHEMA);
    json_key(&w, "point");
    json_int(&w, point);
    json_key(&w, "points");
    json_int(&w, s->points);
    json_key(&w, "sweep");
    json_string(&w, s->hash);
    json_key(&w, "values");
    json_object_begin(&w);
    for (int k = 0; k < s->cfg->sweep.keys.n; k++) {
        const struct cfg_field *field = cfg_find_field(s->cfg->sweep.keys.v[k]);
        char value[CFG_TEXT];
        if (!field || cfg_format_value(pc, field, value, sizeof value) < 0)
            snprintf(value, sizeof value, "?");
        json_key(&w, s->cfg->sweep.keys.v[k]);
        json_string(&w, value);
    }
    json_object_end(&w);
    json_key(&w, "results");
    json_object_begin(&w);
    for (int k = 0; k < sweep_result_count; k++) {
        const struct json_value *v = json_get(report, sweep_result_keys[k][1]);
        json_key(&w, sweep_result_keys[k][0]);
        if (v && v->type == JSON_NUMBER)
            json_raw(&w, v->text);   /* the report's own text: exact, stable when copied */
        else
            json_null(&w);
    }
    json_object_end(&w);
    copy_report_parts(&w, report);
    json_object_end(&w);
    fclose(f);
    free(pc);
    return E2_OK;
}

/* Count a point that did not finish (a later --resume runs it again) and say why.
 * input_error: the worker's message when it refused its input (exit status 2), else NULL. */
static void point_failed(struct sweep_state *s, long point, const char *why,
                         const char *input_error)
{
    /* keep the lowest: points finish in any order, the message lists them in point order */
    int i = s->failed < NAMED_FAILURES ? s->failed : NAMED_FAILURES;
    if (i < NAMED_FAILURES || point < s->failed_at[i - 1]) {
        i -= i == NAMED_FAILURES;
        for (; i > 0 && s->failed_at[i - 1] > point; i--)
            s->failed_at[i] = s->failed_at[i - 1];
        s->failed_at[i] = point;
    }
    if (!s->failed)
        snprintf(s->input_error, sizeof s->input_error, "%s", input_error ? input_error : "");
    else if (!input_error || strcmp(input_error, s->input_error) != 0)
        s->input_error[0] = '\0';
    s->failed++;
    if (s->progress)
        progress_note(s->progress, why);
}

/* The error a worker that exited 2 printed: its log's last "e2sim: " line, without that
   prefix (main.c prints every error so). "" when there is none. */
static void worker_error(const char *log, char *buf, size_t size)
{
    char line[sizeof(struct e2_err) + 16];
    buf[0] = '\0';
    FILE *f = fopen(log, "r");
    if (!f)
        return;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "e2sim: ", 7) == 0)
            snprintf(buf, size, "%.*s", (int)strcspn(line + 7, "\n"), line + 7);
    fclose(f);
}

/* A point whose old folder cannot be removed is not run: a failed point, the reason in its log. */
static int point_folder_cleared(struct sweep_state *s, long point)
{
    char dir[OUT_PATH_MAX + 32], log[OUT_PATH_MAX + 32], why[2 * OUT_PATH_MAX + 256];
    point_paths(s, point, dir, sizeof dir, log, sizeof log);
    int error = clear_point_dir(dir);
    if (!error)
        return 1;
    snprintf(why, sizeof why, "point %ld not run: cannot remove its unfinished folder '%s': %s",
             point, dir, strerror(error));
    FILE *f = fopen(log, "w");
    if (f) {
        fprintf(f, "%s\n", why);
        fclose(f);
    }
    point_failed(s, point, why, NULL);
    return 0;
}

static int finish_point(struct sweep_state *s, long point, int status, struct e2_err *err)
{
    char dir[OUT_PATH_MAX + 32], log[OUT_PATH_MAX + 32], path[OUT_PATH_MAX + 48];
    point_paths(s, point, dir, sizeof dir, log, sizeof log);
    struct json_value *report = NULL;
    int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (ok) {
        struct e2_err ignored;
        snprintf(path, sizeof path, "%s/report.json", dir);
        ok = json_parse_file(path, &report, &ignored) == E2_OK;
    }
    if (!ok) {
        char msg[OUT_PATH_MAX + 128], input[sizeof s->input_error] = "";
        snprintf(msg, sizeof msg, "point %ld failed (%s %d): see %s", point,
                 WIFEXITED(status) ? "exit status" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), log);
        if (WIFEXITED(status) && WEXITSTATUS(status) == E2_BAD_INPUT)
            worker_error(log, input, sizeof input);
        point_failed(s, point, msg, input[0] ? input : NULL);
        return E2_OK;
    }
    char *line = NULL;
    int rc = point_line(s, point, report, &line, err);
    if (rc == E2_OK)
        rc = out_append_line_atomic(s->jsonl, line, err);
    if (rc == E2_OK && s->progress) {
        char msg[256];
        double top1 = json_get_number(report, "accuracy.top1", NAN);
        int n = snprintf(msg, sizeof msg, "point %ld done: %.6g J", point,
                         json_get_number(report, "energy.total_j", NAN));
        if (isfinite(top1))
            snprintf(msg + n, sizeof msg - (size_t)n, ", test top-1 %.2f %%", 100 * top1);
        progress_note(s->progress, msg);
    }
    s->done++;
    if (s->progress)
        progress_update(s->progress, (uint64_t)s->done, NAN, NAN, NAN);
    free(line);
    json_free(report);
    return rc;
}

/* Points already in sweep.jsonl (resume), checking they come from this very sweep. */
static int load_done(struct sweep_state *s, char *done, struct e2_err *err)
{
    struct sweep_row *rows;
    int count;
    int rc = sweep_repair_rows(s->o->out_dir, err);   /* a damaged file is bad input (2) */
    if (rc == E2_OK)
        rc = sweep_read_rows(s->o->out_dir, &rows, &count, err);
    if (rc)
        return rc;
    for (int i = 0; i < count && rc == E2_OK; i++) {
        const char *h = json_get_string(rows[i].json, "sweep");
        if (!h || strcmp(h, s->hash) != 0)
            rc = e2_fail(err, E2_BAD_INPUT, "%s: point %ld was made by a different sweep "
                         "(config hash %s, this one is %s); use a new --out folder",
                         s->jsonl, rows[i].point, h ? h : "?", s->hash);
        else if (rows[i].point >= s->points)
            rc = e2_fail(err, E2_BAD_INPUT, "%s: point %ld is beyond this sweep's %ld points",
                         s->jsonl, rows[i].point, s->points);
        else
            done[rows[i].point] = 1;
    }
    sweep_free_rows(rows, count);
    return rc;
}

static int write_summary_of(const char *dir, struct e2_err *err)
{
    struct sweep_row *rows;
    int count;
    int rc = sweep_read_rows(dir, &rows, &count, err);
    if (rc == E2_OK)
        rc = sweep_dedup_rows(rows, &count, dir, err);
    if (rc == E2_OK)
        rc = sweep_write_summary(dir, rows, count, err);
    sweep_free_rows(rows, count);
    return rc;
}

/* "1, 4 and 7", "0, 1, ..., 7 and 5 more": the failed points by number. */
static void failed_list(const struct sweep_state *s, char *buf, size_t size)
{
    int named = s->failed < NAMED_FAILURES ? s->failed : NAMED_FAILURES;
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < named && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%ld",
                                i == 0 ? "" : i == s->failed - 1 ? " and " : ", ",
                                s->failed_at[i]);
    if (s->failed > named && len < size)
        snprintf(buf + len, size - len, " and %d more", s->failed - named);
}

/* The sweep's error once some points failed. When every point this run started refused the
   same input, the input is the sweep's (a data set it names is missing, say): that error, as
   bad input. Otherwise the failed points and where their output is. */
static int sweep_failed(const struct sweep_state *s, struct e2_err *err)
{
    if (s->done == 0 && s->input_error[0])
        return e2_fail(err, E2_BAD_INPUT, "%s (every point of the sweep failed on it; their "
                       "output: %s/NNNN.log; once it is fixed, --out %s --resume runs them)",
                       s->input_error, s->points_dir, s->o->out_dir);
    char list[256];
    failed_list(s, list, sizeof list);
    if (s->failed == 1)
        return e2_fail(err, E2_FAILURE, "1 sweep point failed: %s (its output: %s/%04ld.log); "
                       "run again with --out %s --resume to retry it", list, s->points_dir,
                       s->failed_at[0], s->o->out_dir);
    return e2_fail(err, E2_FAILURE, "%d sweep points failed: %s (their output: %s/NNNN.log, "
                   "first %s/%04ld.log); run again with --out %s --resume to retry them",
                   s->failed, list, s->points_dir, s->points_dir, s->failed_at[0],
                   s->o->out_dir);
}

int sweep_run(const struct e2_config *cfg, const struct sweep_options *o, struct progress *progress,
              struct e2_err *err)
{
    struct sweep_state s;
    memset(&s, 0, sizeof s);
    s.cfg = cfg;
    s.o = o;
    s.progress = progress;
    s.points = cfg_sweep_points(cfg);
    snprintf(s.hash, sizeof s.hash, "%016" PRIx64, cfg_hash(cfg));
    int shards = o->shard_count > 0 ? o->shard_count : 1;
    int shard = o->shard_index > 0 ? o->shard_index : 1;
    if (!cfg->has_sweep || s.points < 1)
        return e2_fail(err, E2_BAD_INPUT, "the config has no sweep points");
    if (shard > shards)
        return e2_fail(err, E2_BAD_INPUT, "--shard %d/%d: K must be between 1 and N", shard,
                       shards);
    if (out_join(s.jsonl, sizeof s.jsonl, o->out_dir, "sweep.jsonl", err) ||
        out_join(s.points_dir, sizeof s.points_dir, o->out_dir, "points", err))
        return E2_FAILURE;
    if (mkdir(s.points_dir, 0755) != 0 && errno != EEXIST)
        return e2_fail(err, E2_FAILURE, "cannot create '%s': %s", s.points_dir, strerror(errno));
    char *done = calloc((size_t)s.points, 1);
    struct job *jobs = calloc((size_t)(o->jobs > 0 ? o->jobs : 1), sizeof *jobs);
    if (!done || !jobs) {
        free(done);
        free(jobs);
        return e2_fail(err, E2_FAILURE, "out of memory");
    }
    int rc = o->resume ? load_done(&s, done, err) : E2_OK;
    if (rc == E2_OK)   /* only now: a refused resume leaves the folder's config as it was */
        rc = cfg_write_resolved(o->out_dir, cfg, err);
    long todo = 0;
    for (long p = 0; p < s.points; p++)
        todo += !done[p] && p % shards == shard - 1;
    if (progress)
        progress->total = (uint64_t)todo;
    int njobs = o->jobs > 0 ? o->jobs : 1, running = 0;
    long next = 0;
    /* After an error no new point starts, but the running ones are still collected (their
       results are kept); the first error is the one returned. */
    while (next < s.points || running > 0) {
        /* fill free slots, in point order */
        while (rc == E2_OK && running < njobs && next < s.points) {
            long p = next++;
            if (done[p] || p % shards != shard - 1 || !point_folder_cleared(&s, p))
                continue;
            pid_t pid = start_worker(&s, p, err);
            if (pid < 0) {
                rc = E2_FAILURE;
                break;
            }
            for (int j = 0; j < njobs; j++) {
                if (jobs[j].pid == 0) {
                    jobs[j].pid = pid;
                    jobs[j].point = p;
                    break;
                }
            }
            running++;
        }
        if (running == 0)
            break;
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            if (rc == E2_OK)
                rc = e2_fail(err, E2_FAILURE, "waiting for sweep workers: %s", strerror(errno));
            break;
        }
        for (int j = 0; j < njobs; j++) {
            if (jobs[j].pid == pid) {
                struct e2_err later;
                jobs[j].pid = 0;
                running--;
                int point_rc = finish_point(&s, jobs[j].point, status, rc ? &later : err);
                if (rc == E2_OK)
                    rc = point_rc;
                break;
            }
        }
    }
    for (int j = 0; j < njobs; j++)   /* only after waitpid itself failed */
        if (jobs[j].pid > 0)
            waitpid(jobs[j].pid, NULL, 0);
    if (rc == E2_OK)
        rc = write_summary_of(o->out_dir, err);
    if (rc == E2_OK && s.failed)
        rc = sweep_failed(&s, err);
    free(done);
    free(jobs);
    return rc;
}
