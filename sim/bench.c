/* e2sim bench: training throughput of the engine, next to PyTorch on the same machine.
 *
 *   e2sim bench [resnet20] [resnet74] [resnet110] [--threads N]
 *
 * For each network: SMB training steps (forward, loss, backward, SGD with momentum) at batch
 * 128 on synthetic 32x32x3 input, in float32 and in fixed point 8/8/16 (8-bit activations and
 * weights, 16-bit gradients); one warm-up step, then BENCH_STEPS timed steps; images/s of the
 * median step. No op records are emitted (the engine alone). PyTorch's figure comes from
 * bench/torch_resnet.py (in the source tree) run by /usr/bin/python3 with
 * the same step count, when torch is importable; otherwise "not measured". */
#define _GNU_SOURCE   /* popen */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
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

struct bench_case {
    const char *name;
    int depth;
    int fixed;
};

static const struct bench_case CASES[] = {
    {"resnet20", 20, 0}, {"resnet20", 20, 1}, {"resnet74", 74, 0}, {"resnet74", 74, 1},
    {"resnet110", 110, 0}, {"resnet110", 110, 1},
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Images/s of the median of BENCH_STEPS training steps (after one warm-up). */
static int bench_engine(const struct bench_case *c, double *img_s, size_t *mem, struct e2_err *err)
{
    struct net_precision prec = c->fixed ? net_precision_fixed(8, 8, 16) : net_precision_float();
    struct net *net;
    if (net_create(NET_RESNET, c->depth, 16, 3, BENCH_SIZE, BENCH_SIZE, BENCH_CLASSES, &prec, 1,
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
        qsort(times, BENCH_STEPS, sizeof times[0], cmp_double);
        *img_s = BENCH_BATCH / times[BENCH_STEPS / 2];
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

/* PyTorch's images/s for this case, NaN when it could not be measured. */
static double bench_torch(const struct bench_case *c)
{
    char cmd[1024], line[512];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' %d %d %d%s 2>/dev/null", torch_script(),
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
    if (!opts || opts->nargs == 0)
        return is_default;
    for (int i = 0; i < opts->nargs; i++)
        if (strcmp(opts->args[i], name) == 0)
            return 1;
    return 0;
}

int cmd_bench(const struct e2_options *opts, const struct e2_config *cfg, struct e2_err *err)
{
    (void)cfg;
    for (int i = 0; opts && i < opts->nargs; i++) {
        int known = 0;
        for (size_t k = 0; k < sizeof CASES / sizeof CASES[0]; k++)
            known |= strcmp(opts->args[i], CASES[k].name) == 0;
        if (!known)
            return e2_fail(err, E2_BAD_INPUT, "bench: unknown benchmark '%s' (resnet20, "
                           "resnet74, resnet110)", opts->args[i]);
    }
    train_flush_denormals();
    int torch = torch_available();
    printf("e2sim bench: SMB training images/s, batch %d, synthetic %dx%dx3 input, %d threads, "
           "median of %d steps after 1 warm-up (gemm: %s)\n", BENCH_BATCH, BENCH_SIZE,
           BENCH_SIZE, omp_get_max_threads(), BENCH_STEPS, gemm_impl_name());
    printf("%-10s %-14s %12s %14s %10s %12s\n", "network", "precision", "e2sim img/s",
           "PyTorch img/s", "ratio", "net memory");
    fflush(stdout);
    for (size_t k = 0; k < sizeof CASES / sizeof CASES[0]; k++) {
        const struct bench_case *c = &CASES[k];
        if (!selected(opts, c->name, c->depth != 110))
            continue;
        double ours = 0;
        size_t mem = 0;
        int rc = bench_engine(c, &ours, &mem, err);
        if (rc != E2_OK)
            return rc;
        double theirs = torch ? bench_torch(c) : NAN;
        char ts[32] = "not measured", ratio[32] = "-";
        if (!isnan(theirs)) {
            snprintf(ts, sizeof ts, "%.1f%s", theirs, c->fixed ? " (fq)" : "");
            snprintf(ratio, sizeof ratio, "%.2fx", ours / theirs);
        }
        printf("%-10s %-14s %12.1f %14s %10s %9.0f MB\n", c->name,
               c->fixed ? "fixed 8/8/16" : "float32", ours, ts, ratio, (double)mem / 1048576.0);
        fflush(stdout);
    }
    if (!torch)
        printf("PyTorch: not measured (needs /usr/bin/python3 with torch and "
               "bench/torch_resnet.py)\n");
    else
        printf("PyTorch: %s, float32 SGD; fixed rows compare with its 8/8/16 fake quantization "
               "(fq)\n", torch_script());
    return E2_OK;
}
