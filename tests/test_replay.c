/* Replay: pricing a recorded trace gives exactly (to the femtojoule) what pricing the same op
 * stream record by record gave while it was recorded: total, float32 baseline, cycles, the
 * energy so far at every mark, and the per-layer split. Another hardware config prices the
 * same trace differently. Uses the real hardware model with the default parameters. */
#define _POSIX_C_SOURCE 200809L
#include "cunit_main.h"
#include "testutil.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "hw.h"
#include "json.h"
#include "replay.h"
#include "report.h"
#include "trace.h"
#include "train.h"

static char dir[64];
static struct e2_config *cfg;

static struct oprec rec(int layer, int kind, int phase, uint32_t n, int cin, int cout, int hw,
                        int bits)
{
    struct oprec r;
    memset(&r, 0, sizeof r);
    r.layer = (uint16_t)layer;
    r.kind = (uint8_t)kind;
    r.phase = (uint8_t)phase;
    r.k = kind == OP_CONV ? 3 : 1;
    r.stride = 1;
    r.pad = kind == OP_CONV ? 1 : 0;
    r.n = n;
    r.cin = (uint16_t)cin;
    r.cout = (uint16_t)cout;
    r.groups = 1;
    r.h_in = r.w_in = r.h_out = r.w_out = (uint16_t)hw;
    r.bits_a = r.bits_b = r.bits_out = (uint8_t)bits;
    r.bits_acc = bits == 32 ? 32 : 48;
    return r;
}

/* One iteration of a tiny net: conv -> bn -> relu -> conv (SLU-gated: n varies) -> fc. */
static int iteration(int it, int bits, struct oprec *out)
{
    int n = 0;
    uint32_t batch = 16, active = bits == 32 ? batch : batch - (uint32_t)(it % 4) * 3;
    for (int phase = OP_PHASE_FWD; phase <= OP_PHASE_UPDATE; phase++) {
        if (phase == OP_PHASE_UPDATE) {
            out[n++] = rec(0, OP_UPDATE, phase, 1, 1, 8, 1, bits);
            out[n++] = rec(3, OP_UPDATE, phase, 1, 8, 8, 1, bits);
            continue;
        }
        out[n++] = rec(0, OP_CONV, phase, batch, 1, 8, 14, bits);
        if (phase != OP_PHASE_BWD_WEIGHT) {
            out[n++] = rec(1, OP_BN, phase, batch, 8, 8, 14, bits);
            out[n++] = rec(2, OP_RELU, phase, batch, 8, 8, 14, bits);
        }
        out[n++] = rec(3, OP_CONV, phase, active, 8, 8, 14, bits);
        out[n++] = rec(4, OP_FC, phase, batch, 8, 10, 1, bits);
    }
    return n;
}

static const struct trace_layer layers[5] = {
    {0, "conv1", "conv"}, {1, "bn1", "bn"}, {2, "relu1", "relu"}, {3, "s1.b0.conv", "conv"},
    {4, "fc", "fc"}};

#define ITERS 40
#define EVERY 10

/* Record a trace while pricing every record one by one, like a live run. */
static void record(const char *path, struct hw_ledger *live, struct hw_ledger *base,
                   e2_fj *marks, struct hw_model *m)
{
    struct trace_header h;
    memset(&h, 0, sizeof h);
    snprintf(h.network, sizeof h.network, "tiny");
    snprintf(h.dataset, sizeof h.dataset, "synthetic");
    h.config_text = "name: tiny\n";
    h.config_hash = trace_config_hash(h.config_text);
    h.layer_count = 5;
    h.layers = layers;
    struct trace_writer *t;
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(trace_create(path, &h, &t, &err), E2_OK);
    struct oprec ops[64];
    char msg[256];
    int n = iteration(0, 32, ops);
    for (int i = 0; i < n; i++) {   /* the float32 baseline: one iteration x ITERS */
        trace_add(t, TRACE_BASELINE, &ops[i], ITERS);
        CU_ASSERT_EQUAL(hw_account(m, base, &ops[i], ITERS, msg, sizeof msg), 0);
    }
    for (int it = 0; it < ITERS; it++) {
        n = iteration(it, 8, ops);
        for (int i = 0; i < n; i++) {
            trace_add(t, TRACE_RUN, &ops[i], 1);
            CU_ASSERT_EQUAL(hw_account(m, live, &ops[i], 1, msg, sizeof msg), 0);
        }
        if ((it + 1) % EVERY == 0) {
            marks[it / EVERY] = hw_ledger_fj(live, NULL);
            trace_mark(t, (uint64_t)it + 1, 2.0 / (it + 1), 0.5 + it * 0.01);
        }
    }
    struct trace_result res;
    memset(&res, 0, sizeof res);
    res.has_accuracy = 1;
    res.top1 = 0.75;
    res.top5 = 0.95;
    res.iterations = ITERS;
    res.minibatches_processed = ITERS;
    res.slu_skip_ratio = 0.28;
    res.slu_blocks = 1;
    res.slu_block_skip[0] = 0.28;
    CU_ASSERT_EQUAL_FATAL(trace_finish(t, &res, &err), E2_OK);
}

static void test_replay_equals_live_pricing(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/tiny.e2t", dir);
    struct hw_model *m;
    char msg[256];
    CU_ASSERT_EQUAL_FATAL(hw_create(&cfg->hw, &m, msg, sizeof msg), 0);
    struct hw_ledger *live = hw_ledger_new(), *base = hw_ledger_new();
    e2_fj marks[ITERS / EVERY];
    record(path, live, base, marks, m);

    struct run_result r;
    run_result_init(&r);
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(replay_price(path, &cfg->hw, &r, NULL, &err), E2_OK);
    CU_ASSERT(r.total_fj > 0);
    CU_ASSERT(r.total_fj == hw_ledger_fj(live, NULL));
    CU_ASSERT(r.baseline_fp32_fj == hw_ledger_fj(base, NULL));
    CU_ASSERT(r.baseline_fp32_fj > r.total_fj);   /* 8-bit training costs less than float */
    CU_ASSERT_EQUAL(r.fpga_cycles, hw_ledger_cycles(live, NULL));
    CU_ASSERT_EQUAL_FATAL(r.curve_count, ITERS / EVERY);
    for (int i = 0; i < r.curve_count; i++) {
        CU_ASSERT(r.curve[i].energy_fj == marks[i]);
        CU_ASSERT_EQUAL(r.curve[i].iteration, (uint64_t)(i + 1) * EVERY);
    }
    CU_ASSERT_EQUAL(r.curve[1].train_loss, 2.0 / 20);
    e2_fj actions = 0, phases = 0, layer_sum = 0;
    for (int i = 0; i < r.action_count; i++)
        actions += r.actions[i].fj;
    for (int i = 0; i < r.phase_count; i++)
        phases += r.phases[i].fj;
    CU_ASSERT(actions == r.total_fj);
    CU_ASSERT(phases == r.total_fj);
    CU_ASSERT_EQUAL(r.layer_count, 5);
    for (int i = 0; i < r.layer_count; i++)
        for (int p = 0; p < REPORT_PHASES; p++)
            layer_sum += r.layers[i].phase_fj[p];
    CU_ASSERT(layer_sum <= r.total_fj);
    CU_ASSERT_STRING_EQUAL(r.layers[3].name, "s1.b0.conv");
    CU_ASSERT_EQUAL(r.has_accuracy, 1);
    CU_ASSERT_EQUAL(r.top1, 0.75);
    CU_ASSERT_EQUAL(r.iterations, ITERS);
    CU_ASSERT_EQUAL(r.slu_block_count, 1);
    CU_ASSERT_STRING_EQUAL(r.network, "tiny");
    CU_ASSERT_EQUAL(report_write(dir, &r, &err), E2_OK);
    run_result_free(&r);

    /* other hardware, same trace: a different price */
    struct e2_config *slow = malloc(sizeof *slow);
    *slow = *cfg;
    slow->hw.pl_clock_mhz = cfg->hw.pl_clock_mhz / 2;
    run_result_init(&r);
    CU_ASSERT_EQUAL_FATAL(replay_price(path, &slow->hw, &r, NULL, &err), E2_OK);
    CU_ASSERT(r.total_fj != hw_ledger_fj(live, NULL));
    CU_ASSERT(r.fpga_seconds > 0);
    run_result_free(&r);

    /* hardware too small for the trace's ops: bad input, naming the trace */
    slow->hw = cfg->hw;
    slow->hw.bram_budget_kbit = 36;
    run_result_init(&r);
    CU_ASSERT_EQUAL(replay_price(path, &slow->hw, &r, NULL, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, path));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, ": pricing its "));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "bytes of BRAM"));
    run_result_free(&r);
    free(slow);
    hw_ledger_free(live);
    hw_ledger_free(base);
    hw_free(m);
}

static void test_bad_trace_is_bad_input(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/bad.e2t", dir);
    FILE *f = fopen(path, "w");
    fputs("not a trace, though long enough for a header", f);
    fclose(f);
    struct run_result r;
    run_result_init(&r);
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL(replay_price(path, &cfg->hw, &r, NULL, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "bad.e2t: byte offset 0"));
    run_result_free(&r);
}

/* Run a shell command; its exit status. */
static int sh(const char *fmt, const char *a, const char *b, const char *c)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, fmt, a, b, c);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* The e2sim program: replay, a hardware sweep over a replay (real worker processes running
 * --point), shards and merge, and the exit status of bad input. */
static void test_command_line(void)
{
    char trace[256], hw[256], sweep[256], bad[256], out[256], path[300];
    snprintf(trace, sizeof trace, "%s/cli.e2t", dir);
    snprintf(hw, sizeof hw, "%s/hw.yaml", dir);
    snprintf(sweep, sizeof sweep, "%s/hwsweep.yaml", dir);
    snprintf(bad, sizeof bad, "%s/bad.e2t", dir);
    struct hw_model *m;
    char msg[256];
    CU_ASSERT_EQUAL_FATAL(hw_create(&cfg->hw, &m, msg, sizeof msg), 0);
    struct hw_ledger *live = hw_ledger_new(), *base = hw_ledger_new();
    e2_fj marks[ITERS / EVERY];
    record(trace, live, base, marks, m);
    write_text(hw, "name: hw-default\n");
    write_text(sweep, "name: clocks\nsweep:\n  vary:\n"
                      "    hardware.pl_clock_mhz: [100, 150, 200, 250]\n");

    snprintf(out, sizeof out, "%s/one", dir);
    CU_ASSERT_EQUAL_FATAL(sh("'" E2SIM_BINARY "' replay '%s' --config '%s' --out '%s' --quiet",
                             trace, hw, out), 0);
    snprintf(path, sizeof path, "%s/report.json", out);
    struct json_value *v;
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(json_parse_file(path, &v, &err), E2_OK);
    char want[48];
    report_format_fj(want, sizeof want, hw_ledger_fj(live, NULL));
    CU_ASSERT_STRING_EQUAL(json_get(v, "energy.total_fj")->text, want);   /* to the fJ */
    report_format_fj(want, sizeof want, hw_ledger_fj(base, NULL));
    CU_ASSERT_STRING_EQUAL(json_get(v, "energy.baseline_fp32_fj")->text, want);
    CU_ASSERT_STRING_EQUAL(json_get_string(v, "run.kind"), "replay");
    json_free(v);

    /* bad input: exit status 2 and the place of the fault */
    char errfile[300];
    snprintf(errfile, sizeof errfile, "%s/stderr.txt", dir);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' replay '%s' --config '%s' --out '%s/bad' 2>'%s'",
             E2SIM_BINARY, bad, hw, dir, errfile);
    int st = system(cmd);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    char *text = read_text(errfile);
    CU_ASSERT_PTR_NOT_NULL(text && strstr(text, "bad.e2t: byte offset 0: not an e2sim trace"));
    free(text);
    snprintf(path, sizeof path, "%s/bad", dir);
    CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0);   /* no empty folder left to block a rerun */
    CU_ASSERT_EQUAL(sh("'" E2SIM_BINARY "' replay --config '%s' --out '%s/none' 2>/dev/null%s",
                       hw, dir, ""), 2);

    /* a hardware sweep over the replay, whole and in two shards merged */
    char whole[256], s1[256], s2[256], merged[256];
    snprintf(whole, sizeof whole, "%s/whole", dir);
    snprintf(s1, sizeof s1, "%s/s1", dir);
    snprintf(s2, sizeof s2, "%s/s2", dir);
    snprintf(merged, sizeof merged, "%s/merged", dir);
    CU_ASSERT_EQUAL_FATAL(sh("'" E2SIM_BINARY "' replay '%s' --config '%s' --out '%s' --jobs 2 "
                             "--quiet", trace, sweep, whole), 0);
    CU_ASSERT_EQUAL(sh("'" E2SIM_BINARY "' replay '%s' --config '%s' --out '%s' --shard 1/2 "
                       "--quiet", trace, sweep, s1), 0);
    CU_ASSERT_EQUAL(sh("'" E2SIM_BINARY "' replay '%s' --config '%s' --out '%s' --shard 2/2 "
                       "--quiet", trace, sweep, s2), 0);
    CU_ASSERT_EQUAL(sh("'" E2SIM_BINARY "' merge '%s' '%s' --out '%s' --quiet", s2, s1, merged),
                    0);
    const char *files[] = {"sweep.csv", "sweep.md", "sweep.jsonl"};
    for (int i = 0; i < 3; i++) {
        char a[300], b[300];
        snprintf(a, sizeof a, "%s/%s", whole, files[i]);
        snprintf(b, sizeof b, "%s/%s", merged, files[i]);
        char *x = read_text(a), *y = read_text(b);
        CU_ASSERT_FATAL(x && y);
        if (i < 2) {
            CU_ASSERT_STRING_EQUAL(x, y);
        } else {
            CU_ASSERT_EQUAL(strlen(x), strlen(y));   /* same lines; whole is in finish order */
        }
        free(x);
        free(y);
    }
    /* point 1 (150 MHz, the default clock) is the plain replay above */
    snprintf(path, sizeof path, "%s/points/0001/report.json", whole);
    CU_ASSERT_EQUAL_FATAL(json_parse_file(path, &v, &err), E2_OK);
    report_format_fj(want, sizeof want, hw_ledger_fj(live, NULL));
    CU_ASSERT_STRING_EQUAL(json_get(v, "energy.total_fj")->text, want);
    json_free(v);
    /* resuming the finished sweep starts no worker; merging into an existing folder fails */
    struct stat before, after;
    snprintf(path, sizeof path, "%s/points/0002/report.json", whole);
    CU_ASSERT_EQUAL(stat(path, &before), 0);
    CU_ASSERT_EQUAL(sh("'" E2SIM_BINARY "' replay '%s' --config '%s' --out '%s' --resume "
                       "--quiet", trace, sweep, whole), 0);
    CU_ASSERT_EQUAL(stat(path, &after), 0);
    CU_ASSERT(before.st_ino == after.st_ino && before.st_mtim.tv_nsec == after.st_mtim.tv_nsec);
    CU_ASSERT_EQUAL(sh("'" E2SIM_BINARY "' merge '%s' --out '%s' --quiet 2>/dev/null%s", s1,
                       merged, ""), 2);
    hw_ledger_free(live);
    hw_ledger_free(base);
    hw_free(m);
}

/* Acceptance: a training run recorded with --trace and replayed on the same hardware gives the
 * same energy to the femtojoule: breakdown.csv, layers.csv and curve.csv byte for byte, with
 * every layer's kind. */
static void test_live_run_then_replay(void)
{
    char live[256], replayed[256], trace[256], a[300], b[300];
    snprintf(live, sizeof live, "%s/live", dir);
    snprintf(replayed, sizeof replayed, "%s/replayed", dir);
    snprintf(trace, sizeof trace, "%s/live.e2t", dir);
    CU_ASSERT_EQUAL_FATAL(sh("'" E2SIM_BINARY "' --config '" E2SIM_SOURCE_DIR
                             "/configs/zedboard.yaml' --set dataset.name=synthetic "
                             "--set dataset.synthetic_train=128 --set dataset.synthetic_test=64 "
                             "--set dataset.synthetic_size=12 --set training.iterations=6 "
                             "--set training.eval_every=3 --set training.batch_size=16 "
                             "--set network.width=4 --trace '%s' --out '%s' --quiet%s",
                             trace, live, ""), 0);
    CU_ASSERT_EQUAL_FATAL(sh("'" E2SIM_BINARY "' replay '%s' --config '" E2SIM_SOURCE_DIR
                             "/configs/hw/zynq7020-calibrated.yaml' --out '%s' --quiet%s", trace, replayed,
                             ""), 0);
    const char *files[] = {"breakdown.csv", "layers.csv", "curve.csv"};
    for (int i = 0; i < 3; i++) {
        snprintf(a, sizeof a, "%s/%s", live, files[i]);
        snprintf(b, sizeof b, "%s/%s", replayed, files[i]);
        char *x = read_text(a), *y = read_text(b);
        CU_ASSERT_FATAL(x && y);
        CU_ASSERT(strlen(x) > 60);
        CU_ASSERT_STRING_EQUAL(x, y);
        /* the trace's header is written before any record: its layer kinds still name each
         * layer's op ("conv", "bn", ...), never "?" */
        if (i == 1)
            CU_ASSERT(strstr(x, ",?,") == NULL && strstr(x, ".conv,conv,") != NULL);
        free(x);
        free(y);
    }
    struct json_value *va, *vb;
    struct e2_err err = {{0}};
    snprintf(a, sizeof a, "%s/report.json", live);
    snprintf(b, sizeof b, "%s/report.json", replayed);
    CU_ASSERT_EQUAL_FATAL(json_parse_file(a, &va, &err), E2_OK);
    CU_ASSERT_EQUAL_FATAL(json_parse_file(b, &vb, &err), E2_OK);
    const char *keys[] = {"energy.total_fj", "energy.baseline_fp32_fj", "fpga.cycles",
                          "accuracy.top1", "training.minibatches_processed",
                          "training.slu_skip_ratio", "training.psg_predictor_ratio"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const struct json_value *x = json_get(va, keys[i]), *y = json_get(vb, keys[i]);
        CU_ASSERT_FATAL(x && y && x->type == JSON_NUMBER && y->type == JSON_NUMBER);
        CU_ASSERT_STRING_EQUAL(x->text, y->text);
    }
    json_free(va);
    json_free(vb);
}

#define RESUME_RUN "--config '" E2SIM_SOURCE_DIR "/configs/zedboard.yaml' --quiet " \
    "--set dataset.name=synthetic --set dataset.synthetic_train=256 " \
    "--set dataset.synthetic_test=64 --set dataset.synthetic_size=12 " \
    "--set training.iterations=200 --set training.eval_every=20 --set training.batch_size=16 " \
    "--set network.width=4 --set training.checkpoint_every=5"

/* A traced run killed with SIGKILL and resumed with the same --trace finishes a trace that
 * replays exactly like that of a run never stopped: the same curve (every evaluation point,
 * before and after the kill), breakdown and layers. */
static void test_killed_traced_run_resumes(void)
{
    char whole[256], killed[256], wt[256], kt[256], ckpt[300], a[300], b[300];
    snprintf(whole, sizeof whole, "%s/uninterrupted", dir);
    snprintf(killed, sizeof killed, "%s/interrupted", dir);
    snprintf(wt, sizeof wt, "%s/uninterrupted.e2t", dir);
    snprintf(kt, sizeof kt, "%s/interrupted.e2t", dir);
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.e2ck", killed);
    CU_ASSERT_EQUAL_FATAL(sh("'" E2SIM_BINARY "' " RESUME_RUN " --trace '%s' --out '%s'%s", wt,
                             whole, ""), 0);
    fflush(NULL);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "exec '" E2SIM_BINARY "' " RESUME_RUN " --trace '%s' --out '%s'",
                 kt, killed);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    for (int tries = 0; tries < 60000 && (int)train_checkpoint_next(ckpt) < 20; tries++) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    int at = (int)train_checkpoint_next(ckpt);
    fprintf(stderr, "[killed; resuming from %d of 200] ", at);
    CU_ASSERT_FATAL(WIFSIGNALED(status) && at >= 20 && at < 200);
    /* not with another trace path; a finished run resumes to nothing and keeps its trace */
    CU_ASSERT_EQUAL(sh("'" E2SIM_BINARY "' " RESUME_RUN " --trace '%s.other' --out '%s' --resume"
                       " 2>/dev/null%s", kt, killed, ""), 2);
    struct stat before, after;
    CU_ASSERT_FATAL(stat(wt, &before) == 0);
    CU_ASSERT_EQUAL(sh("'" E2SIM_BINARY "' " RESUME_RUN " --trace '%s' --out '%s' --resume%s", wt,
                       whole, ""), 0);
    CU_ASSERT_FATAL(stat(wt, &after) == 0);
    CU_ASSERT(before.st_ino == after.st_ino && before.st_size == after.st_size &&
              before.st_mtime == after.st_mtime);
    CU_ASSERT_EQUAL_FATAL(sh("'" E2SIM_BINARY "' " RESUME_RUN " --trace '%s' --out '%s' --resume%s",
                             kt, killed, ""), 0);
    const char *runs[] = {wt, kt};
    for (int i = 0; i < 2; i++) {
        snprintf(a, sizeof a, "%s/replay-%d", dir, i);
        CU_ASSERT_EQUAL_FATAL(sh("'" E2SIM_BINARY "' replay '%s' --config '" E2SIM_SOURCE_DIR
                                 "/configs/hw/zynq7020-calibrated.yaml' --out '%s' --quiet%s",
                                 runs[i], a, ""), 0);
    }
    const char *files[] = {"curve.csv", "breakdown.csv", "layers.csv"};
    for (int i = 0; i < 3; i++) {
        snprintf(a, sizeof a, "%s/replay-0/%s", dir, files[i]);
        snprintf(b, sizeof b, "%s/replay-1/%s", dir, files[i]);
        char *x = read_text(a), *y = read_text(b);
        CU_ASSERT_FATAL(x && y);
        CU_ASSERT_STRING_EQUAL(x, y);
        free(x);
        free(y);
    }
    /* and the replayed curve is the live one, all 10 points */
    snprintf(a, sizeof a, "%s/curve.csv", whole);
    snprintf(b, sizeof b, "%s/replay-1/curve.csv", dir);
    char *x = read_text(a), *y = read_text(b);
    CU_ASSERT_FATAL(x && y);
    CU_ASSERT_STRING_EQUAL(x, y);
    int lines = 0;
    for (const char *p = y; *p; p++)
        lines += *p == '\n';
    CU_ASSERT_EQUAL(lines, 1 + 10);
    free(x);
    free(y);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/e2sim-test-replay-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    cfg = malloc(sizeof *cfg);
    cfg_defaults(cfg);
    CU_TestInfo tests[] = {
        { "replay = live pricing, to the femtojoule", test_replay_equals_live_pricing },
        { "a bad trace is bad input", test_bad_trace_is_bad_input },
        { "command line: replay, hardware sweep, shards, merge", test_command_line },
        { "a training run and its replay agree to the fJ", test_live_run_then_replay },
        { "a killed traced run resumes its trace", test_killed_traced_run_resumes },
        CU_TEST_INFO_NULL,
    };
    int failed = cunit_run("replay", NULL, NULL, tests);
    free(cfg);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (!failed && system(cmd) != 0)
        return 1;
    return failed ? 1 : 0;
}
