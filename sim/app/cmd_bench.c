/* e2sim bench: training throughput of the engine, next to PyTorch on the same machine.
 *
 *   e2sim bench [resnet20] [resnet74] [resnet110] [KERNELS] [--threads N] [--rounds N]
 *
 * KERNELS (portable, avx2, avx-vnni, avx512, avx512-vnni; cpu.h) lowers the kernel path from the
 * best one this CPU has, to compare paths on one machine. The first lines say which path ran.
 *
 * For each network: SMB training steps (forward, loss, backward, SGD with momentum) at batch
 * 128 on synthetic 32x32x3 input, in float32 and in fixed point 8/8/16 (8-bit activations and
 * weights, 16-bit gradients); one warm-up step, then BENCH_STEPS timed steps; images/s of the
 * median step. No op records are emitted (the engine alone). PyTorch's figure comes from
 * bench/torch_resnet.py (in the source tree) run by /usr/bin/python3 with
 * the same step count, when torch is importable; otherwise "not measured". On a shared machine
 * the speed moves from minute to minute: --rounds N measures every column N times, alternating
 * between the engines, and prints medians (the ratios as medians of each round's ratio). */
#define _GNU_SOURCE   /* popen */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "cpu.h"
#include "gemm.h"
#include "net.h"
#include "optim.h"
#include "progress.h"
#include "rng.h"
#include "train.h"

#define BENCH_BATCH 128
#define BENCH_STEPS 5
#define BENCH_SIZE 32
#define BENCH_CLASSES 10
#define BENCH_MAX_ROUNDS 100   /* --rounds (cli.c allows 1..100) */

struct bench_case {
    const char *name;
    int depth;
    int fixed;
};

static const struct bench_case CASES[] = {
    {"resnet20", 20, 0}, {"resnet20", 20, 1}, {"resnet74", 74, 0}, {"resnet74", 74, 1},
    {"resnet110", 110, 0}, {"resnet110", 110, 1},
};

/* Ascending, NaN (a figure not measured) last. */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    if (isnan(x) || isnan(y))
        return isnan(x) - isnan(y);
    return x < y ? -1 : x > y;
}

/* The median of n values (n <= BENCH_MAX_ROUNDS, BENCH_STEPS). */
static double median_of(const double *v, int n)
{
    double s[BENCH_MAX_ROUNDS > BENCH_STEPS ? BENCH_MAX_ROUNDS : BENCH_STEPS];
    memcpy(s, v, sizeof(double) * (size_t)n);
    qsort(s, (size_t)n, sizeof s[0], cmp_double);
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

/* Images/s of the median of BENCH_STEPS training steps (after one warm-up). */
static int bench_engine(const struct bench_case *c, double *img_s, size_t *mem, struct e2_err *err)
{
    struct net_precision prec = c->fixed ? net_precision_fixed(8, 8, 16) : net_precision_float();
    struct net *net;
    if (net_create(NET_RESNET, c->depth, 16, 3, BENCH_SIZE, BENCH_SIZE, BENCH_CLASSES, NET_DEFAULT, &prec, 1,
                   &net) != 0)
        return e2_fail(err, E2_FAILURE, "bench: cannot build %s", c->name);
    long el = 3L * BENCH_SIZE * BENCH_SIZE;
    float *x = malloc((size_t)BENCH_BATCH * el * sizeof *x);
    int labels[BENCH_BATCH];
    struct net_param *p;
    int np = net_params(net, &p);
    struct optim_config oc = {OPTIM_SGD, 0.9f, 1e-4f};
    struct optim *opt = optim_create(p, np, &oc);
    if (!x || !opt) {
        free(x);
        optim_free(opt);
        net_free(net);
        return e2_fail(err, E2_FAILURE, "bench: out of memory");
    }
    uint64_t key = rng_key(1, RNG_STREAM_SYNTHETIC);
    for (long i = 0; i < BENCH_BATCH * el; i++)
        x[i] = rng_uniform(key, (uint64_t)i) * 2.0f - 1.0f;
    for (int i = 0; i < BENCH_BATCH; i++)
        labels[i] = (int)rng_below(key, (uint64_t)(BENCH_BATCH * el + i), BENCH_CLASSES);
    double times[BENCH_STEPS];
    int rc = E2_OK;
    for (int s = 0; s <= BENCH_STEPS && rc == E2_OK; s++) {
        double t0 = progress_now();
        net_set_iteration(net, (uint64_t)s);
        const float *dl;
        if (!net_forward(net, x, BENCH_BATCH, NULL, NULL, NET_TRAIN) ||
            (net_loss(net, labels, &dl, NULL), net_backward(net, dl, NULL, NULL)) != 0 ||
            optim_step(opt, p, np, 0.01f, NULL) != 0)
            rc = e2_fail(err, E2_FAILURE, "bench: %s training step failed", c->name);
        if (s > 0)
            times[s - 1] = progress_now() - t0;
    }
    if (rc == E2_OK) {
        *img_s = BENCH_BATCH / median_of(times, BENCH_STEPS);
        *mem = net_memory_bytes(net);
    }
    free(x);
    optim_free(opt);
    net_free(net);
    return rc;
}

/* The PyTorch script of the source tree (bench/torch_resnet.py). */
static const char *torch_script(void)
{
    static const char *const candidates[] = {
        E2SIM_SOURCE_DIR "/bench/torch_resnet.py",
        "bench/torch_resnet.py",
    };
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++)
        if (access(candidates[i], R_OK) == 0)
            return candidates[i];
    return NULL;
}

static int torch_available(void)
{
    return access("/usr/bin/python3", X_OK) == 0 && torch_script() &&
           system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0;
}

/* "env -u NAME ... " for the variables e2sim set for itself at start (main.c), so that PyTorch
 * runs in the user's own environment; "" when none. Only known names reach the shell. */
static void user_env_prefix(char *buf, size_t size)
{
    static const char *const names[] = {"GOMP_SPINCOUNT", "GLIBC_TUNABLES"};
    const char *set = getenv("E2SIM_SET_ENV");
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; set && i < sizeof names / sizeof names[0]; i++)
        if (strstr(set, names[i]))
            used += (size_t)snprintf(buf + used, size - used, "%s-u %s ", used ? "" : "env ", names[i]);
}

/* PyTorch's images/s for this case, NaN when it could not be measured. */
static double bench_torch(const struct bench_case *c)
{
    char cmd[1024], env[96], line[512];
    user_env_prefix(env, sizeof env);
    snprintf(cmd, sizeof cmd, "%s/usr/bin/python3 '%s' %d %d %d%s 2>/dev/null", env, torch_script(),
             c->depth, BENCH_BATCH, BENCH_STEPS, c->fixed ? " fakequant" : "");
    FILE *f = popen(cmd, "r");
    if (!f)
        return NAN;
    double v = NAN;
    while (fgets(line, sizeof line, f)) {
        char *colon = strrchr(line, ':');
        double got;
        if (colon && sscanf(colon + 1, "%lf img/s", &got) == 1)
            v = got;
    }
    pclose(f);
    return v;
}

static int selected(const struct e2_options *opts, const char *name, int is_default)
{
    int any = 0;
    for (int i = 0; opts && i < opts->nargs; i++) {
        if (cpu_path_parse(opts->args[i]) >= 0)
            continue;
        any = 1;
        if (strcmp(opts->args[i], name) == 0)
            return 1;
    }
    return any ? 0 : is_default;
}

/* Checks the names (networks and at most one kernel path) and takes the path. */
static int bench_args(const struct e2_options *opts, struct e2_err *err)
{
    for (int i = 0; opts && i < opts->nargs; i++) {
        const char *a = opts->args[i];
        int path = cpu_path_parse(a), known = 0;
        for (size_t k = 0; k < sizeof CASES / sizeof CASES[0]; k++)
            known |= strcmp(a, CASES[k].name) == 0;
        if (path >= 0 && cpu_path_set((enum cpu_path)path) != 0)
            return e2_fail(err, E2_BAD_INPUT, "bench: this CPU cannot run the %s kernels", a);
        if (path < 0 && !known)
            return e2_fail(err, E2_BAD_INPUT, "bench: unknown benchmark '%s' (resnet20, resnet74, "
                           "resnet110, or a kernel path: portable, avx2, avx-vnni, avx512, "
                           "avx512-vnni)", a);
    }
    return E2_OK;
}

static void format_rate(char *buf, size_t size, double v)
{
    if (isnan(v))
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, "%.1f", v);
}

/* One network's row: `rounds` rounds, each e2sim float, PyTorch float, e2sim fixed, PyTorch fake
 * quantization in turn, so that each ratio compares measurements a few seconds apart. Prints the
 * medians over rounds; the ratios are medians of the per-round ratios. */
static int bench_network(size_t k, int rounds, int torch, struct e2_err *err)
{
    const struct bench_case *c = &CASES[k];   /* float; CASES[k + 1]: fixed */
    double ours[2][BENCH_MAX_ROUNDS], theirs[2][BENCH_MAX_ROUNDS], ratio[2][BENCH_MAX_ROUNDS];
    size_t mem[2] = {0, 0};
    for (int r = 0; r < rounds; r++)
        for (int f = 0; f < 2; f++) {
            size_t m = 0;
            int rc = bench_engine(&CASES[k + f], &ours[f][r], &m, err);
            if (rc != E2_OK)
                return rc;
            mem[f] = m > mem[f] ? m : mem[f];
            theirs[f][r] = torch ? bench_torch(&CASES[k + f]) : NAN;
        }
    for (int r = 0; r < rounds; r++)
        for (int f = 0; f < 2; f++)
            ratio[f][r] = ours[f][r] / theirs[0][r];   /* both over PyTorch float32 */
    double e0 = median_of(ours[0], rounds), e1 = median_of(ours[1], rounds);
    double t0v = median_of(theirs[0], rounds), t1v = median_of(theirs[1], rounds);
    char t0[32], t1[32], r0[32] = "-", r1[32] = "-";
    format_rate(t0, sizeof t0, t0v);
    format_rate(t1, sizeof t1, t1v);
    if (!isnan(t0v)) {
        snprintf(r1, sizeof r1, "%.2fx", median_of(ratio[1], rounds));
        snprintf(r0, sizeof r0, "%.2fx", median_of(ratio[0], rounds));
    }
    printf("%-10s %10.1f %10.1f %12s %12s %9s %9s %8.0f MB\n", c->name, e0, e1, t0, t1, r1, r0,
           (double)(mem[0] > mem[1] ? mem[0] : mem[1]) / 1048576.0);
    if (rounds > 1 && !isnan(t0v)) {
        printf("%-10s fixed/f32 by round:", "");
        for (int r = 0; r < rounds; r++)
            printf(" %.2fx", ratio[1][r]);
        printf("\n");
    }
    fflush(stdout);
    return E2_OK;
}

int cmd_bench(const struct e2_options *opts, const struct e2_config *cfg, struct e2_err *err)
{
    (void)cfg;
    int rc = bench_args(opts, err);
    if (rc != E2_OK)
        return rc;
    int rounds = opts && opts->rounds > 0 ? opts->rounds : 1;
    if (rounds > BENCH_MAX_ROUNDS)
        return e2_fail(err, E2_BAD_INPUT, "bench: --rounds %d: at most %d", rounds,
                       BENCH_MAX_ROUNDS);
    train_flush_denormals();
    int torch = torch_available();
    printf("e2sim bench: SMB training images/s, batch %d, synthetic %dx%dx3 input, %d threads, "
           "median of %d steps after 1 warm-up", BENCH_BATCH, BENCH_SIZE, BENCH_SIZE,
           omp_get_max_threads(), BENCH_STEPS);
    if (rounds > 1)
        printf("; medians of %d alternating rounds", rounds);
    printf("\nkernels: %s (conv), %s (gemm); the CPU has:", cpu_path_name(cpu_path()),
           gemm_impl_name());
    for (int p = 0; p < CPU_PATH_COUNT; p++)
        if (cpu_path_supported((enum cpu_path)p))
            printf(" %s", cpu_path_name((enum cpu_path)p));
    printf("\n%-10s %10s %10s %12s %12s %9s %9s %11s\n", "network", "e2 f32", "e2 fixed",
           "torch f32", "torch fq", "fixed/f32", "f32/f32", "net memory");
    fflush(stdout);
    for (size_t k = 0; k < sizeof CASES / sizeof CASES[0]; k += 2) {
        if (!selected(opts, CASES[k].name, CASES[k].depth != 110))
            continue;
        rc = bench_network(k, rounds, torch, err);
        if (rc != E2_OK)
            return rc;
    }
    if (!torch)
        printf("PyTorch: not measured (needs /usr/bin/python3 with torch and "
               "bench/torch_resnet.py)\n");
    else
        printf("PyTorch: %s, float32 SGD (torch f32) and 8/8/16 fake quantization (torch fq); "
               "ratios: e2sim fixed and float32 over PyTorch float32\n", torch_script());
    return E2_OK;
}
