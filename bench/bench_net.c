/* Training speed of whole networks: net_forward + net_loss + net_backward + optim_step (plain
 * SGD, momentum 0.9, weight decay 1e-4: SMB) at batch 128 on synthetic 32x32x3 input, for
 * CIFAR ResNets in float and in 8/8/16 fixed point. Prints images/s (median over the timed
 * iterations after warm-up), the median time of each phase, and the time split by op kind and
 * phase (from an op sink that charges the time since the previous record to each record: a
 * conv's quantization passes are charged to the conv).
 *   usage: bench_net [-i iters] [-w warmup] [-b batch] [-t threads] [config ...]
 *   config: r<depth>f (float) or r<depth>x (fixed 8/8/16), e.g. r20f r20x r74f r74x (default)
 * Process CPU time is printed next to wall time: on a loaded machine cpu/wall < threads. */
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include "cpu.h"
#include "fixed.h"
#include "net.h"
#include "optim.h"
#include "rng.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
    double *c = malloc(sizeof(double) * (size_t)n);
    memcpy(c, v, sizeof(double) * (size_t)n);
    qsort(c, (size_t)n, sizeof *c, cmp_double);
    double m = n % 2 ? c[n / 2] : 0.5 * (c[n / 2 - 1] + c[n / 2]);
    free(c);
    return m;
}

/* Time since the previous record, charged to this record's kind and phase. */
struct timing {
    double last;
    double t[OP_KIND_COUNT][OP_PHASE_COUNT];
    int count[OP_KIND_COUNT][OP_PHASE_COUNT];
};

static void timing_emit(void *ctx, const struct oprec *r)
{
    struct timing *tm = ctx;
    double t = now();
    if (r->kind < OP_KIND_COUNT && r->phase < OP_PHASE_COUNT) {
        tm->t[r->kind][r->phase] += t - tm->last;
        tm->count[r->kind][r->phase]++;
    }
    tm->last = t;
}


struct config {
    int depth, fixed;
};

enum { PH_FWD = 0, PH_LOSS, PH_BWD, PH_STEP, NPH };

/* FNV-1a over the bytes of every parameter and state value (weights, BN running stats) and of
 * the last gradients: equal hashes across builds = the same trained values, bit for bit. */
static uint64_t params_hash(const struct net_param *params, int np)
{
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < np; i++)
        for (int pass = 0; pass < 2; pass++) {
            const float *v = pass ? params[i].grad : params[i].w;
            const unsigned char *b = (const unsigned char *)v;
            for (long j = 0; v && j < params[i].count * (long)sizeof(float); j++)
                h = (h ^ b[j]) * 1099511628211ULL;
        }
    return h;
}

static int run(const struct config *c, int batch, int iters, int warmup)
{
    struct net_precision p = c->fixed ? net_precision_fixed(8, 8, 16) : net_precision_float();
    struct net *net;
    if (net_create(NET_RESNET, c->depth, 16, 3, 32, 32, 10, NET_DEFAULT, &p, 1, &net)) {
        fprintf(stderr, "net_create failed\n");
        return -1;
    }
    struct net_param *params;
    int np = net_params(net, &params);
    struct optim_config oc = {OPTIM_SGD, 0.9f, 1e-4f};
    struct optim *opt = optim_create(params, np, &oc);
    long in_el = 3L * 32 * 32;
    float *x = malloc(sizeof(float) * (size_t)batch * in_el);
    int *labels = malloc(sizeof(int) * (size_t)batch);
    if (!opt || !x || !labels) {
        fprintf(stderr, "out of memory\n");
        return -1;
    }
    /* normalized-image-like input: roughly unit variance, either sign */
    for (long i = 0; i < batch * in_el; i++)
        x[i] = 2.0f * (rng_uniform(7, (uint64_t)i) + rng_uniform(8, (uint64_t)i) - 1.0f);
    for (int i = 0; i < batch; i++)
        labels[i] = (int)rng_below(9, (uint64_t)i, 10);

    struct timing tm;
    struct op_sink sink = {timing_emit, &tm};
    int total = warmup + iters;
    double *ph = calloc((size_t)NPH * total, sizeof(double));
    double *wall = calloc((size_t)total, sizeof(double)), *cpu = calloc((size_t)total, sizeof(double));
    double loss = 0.0;
    for (int it = 0; it < total; it++) {
        if (it == warmup)
            memset(&tm, 0, sizeof tm);
        net_set_iteration(net, (uint64_t)it);
        double c0 = cpu_now(), t0 = now();
        tm.last = t0;
        if (!net_forward(net, x, batch, NULL, &sink, NET_TRAIN)) {
            fprintf(stderr, "net_forward failed\n");
            return -1;
        }
        double t1 = now();
        tm.last = t1;
        const float *dl;
        loss = net_loss(net, labels, &dl, &sink);
        double t2 = now();
        tm.last = t2;
        if (net_backward(net, dl, NULL, &sink)) {
            fprintf(stderr, "net_backward failed\n");
            return -1;
        }
        double t3 = now();
        tm.last = t3;
        if (optim_step(opt, params, np, 0.01f, &sink)) {
            fprintf(stderr, "optim_step failed\n");
            return -1;
        }
        double t4 = now();
        double *r = ph + (size_t)it * NPH;
        r[PH_FWD] = t1 - t0;
        r[PH_LOSS] = t2 - t1;
        r[PH_BWD] = t3 - t2;
        r[PH_STEP] = t4 - t3;
        wall[it] = t4 - t0;
        cpu[it] = cpu_now() - c0;
    }
    double wmed = median(wall + warmup, iters), cmed = median(cpu + warmup, iters);
    double phm[NPH];
    for (int k = 0; k < NPH; k++) {
        double *v = malloc(sizeof(double) * (size_t)iters);
        for (int i = 0; i < iters; i++)
            v[i] = ph[(size_t)(warmup + i) * NPH + k];
        phm[k] = median(v, iters);
        free(v);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("ResNet-%d %-5s batch %d: %7.1f img/s  (median iteration %.3f s, cpu %.3f s = %.2f cores; "
           "loss %.3f)\n",
           c->depth, c->fixed ? "fx816" : "float", batch, batch / wmed, wmed, cmed, cmed / wmed, loss);
    double wmin = wall[warmup];
    for (int i = warmup; i < total; i++)
        wmin = wall[i] < wmin ? wall[i] : wmin;
    printf("  best iteration %.3f s (%.1f img/s); phases (median s): forward %.3f  loss %.4f  "
           "backward %.3f  step %.4f\n",
           wmin, batch / wmin, phm[PH_FWD], phm[PH_LOSS], phm[PH_BWD], phm[PH_STEP]);
    printf("  net memory %.1f MB, peak RSS so far %.1f MB; trained values hash %016llx\n",
           net_memory_bytes(net) / 1e6, ru.ru_maxrss / 1e3, (unsigned long long)params_hash(params, np));
    double sum = 0.0;
    for (int k = 0; k < OP_KIND_COUNT; k++)
        for (int f = 0; f < OP_PHASE_COUNT; f++)
            sum += tm.t[k][f];
    printf("  split over %d iterations (mean per iteration, by op kind and phase):\n", iters);
    for (int k = 0; k < OP_KIND_COUNT; k++)
        for (int f = 0; f < OP_PHASE_COUNT; f++)
            if (tm.count[k][f])
                printf("    %-7s %-15s %8.4f s  %5.1f %%  (%d records/iter)\n",
                       oprec_kind_name((unsigned)k), oprec_phase_name((unsigned)f),
                       tm.t[k][f] / iters, 100.0 * tm.t[k][f] / sum, tm.count[k][f] / iters);
    fflush(stdout);
    free(ph);
    free(wall);
    free(cpu);
    free(x);
    free(labels);
    optim_free(opt);
    net_free(net);
    return 0;
}

static int parse(const char *s, struct config *c)
{
    char kind = 0;
    if (sscanf(s, "r%d%c", &c->depth, &kind) != 2 || (kind != 'f' && kind != 'x') || c->depth < 8)
        return -1;
    c->fixed = kind == 'x';
    return 0;
}

int main(int argc, char **argv)
{
    int iters = 5, warmup = 2, batch = 128, threads = 0, opt;
    while ((opt = getopt(argc, argv, "i:w:b:t:k:")) != -1) {
        switch (opt) {
        case 'i': iters = atoi(optarg); break;
        case 'w': warmup = atoi(optarg); break;
        case 'b': batch = atoi(optarg); break;
        case 't': threads = atoi(optarg); break;
        case 'k':
            if (cpu_path_parse(optarg) < 0 || cpu_path_set((enum cpu_path)cpu_path_parse(optarg))) {
                fprintf(stderr, "bench_net: kernel path '%s' unknown or not on this CPU\n", optarg);
                return 2;
            }
            break;
        default:
            fprintf(stderr, "usage: bench_net [-i iters] [-w warmup] [-b batch] [-t threads] [-k kernels] [r20f r20x ...]\n");
            return 2;
        }
    }
    if (iters < 1 || warmup < 0 || batch < 1) {
        fprintf(stderr, "bad -i/-w/-b\n");
        return 2;
    }
    if (threads > 0)
        omp_set_num_threads(threads);
    fx_flush_denormals(1);
    const char *def[] = {"r20f", "r20x", "r74f", "r74x"};
    int nc = optind < argc ? argc - optind : 4;
    printf("bench_net: %s kernels, %d threads, %d warm-up + %d timed iterations, median\n",
           cpu_path_name(cpu_path()), omp_get_max_threads(), warmup, iters);
    for (int i = 0; i < nc; i++) {
        const char *s = optind < argc ? argv[optind + i] : def[i];
        struct config c;
        if (parse(s, &c)) {
            fprintf(stderr, "bad config '%s' (want r<depth>f or r<depth>x)\n", s);
            return 2;
        }
        if (run(&c, batch, iters, warmup))
            return 1;
    }
    return 0;
}
