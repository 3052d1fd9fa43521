/* Speed of the conv kernels (conv.h) on the layers of a CIFAR ResNet at batch 128: forward,
 * backward-data and backward-weight, float and fixed point (8-bit x and w, 16-bit g_y), best
 * of several runs. Prints ms per call and GMAC/s.
 *   usage: bench_conv [-r runs] [-t threads] [-b batch] [-c] [-l layer] [-k kernels]
 *   -c: CPU time (for -t 1); -l: only layer number l (0-based), e.g. to profile it */
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "conv.h"
#include "cpu.h"
#include "fixed.h"
#include "rng.h"

/* Wall time, or with -c the process CPU time: on a loaded machine a single-threaded run measured
 * in CPU time does not count the time other processes held the core. */
static int use_cpu_time;

static double now(void)
{
    struct timespec t;
    clock_gettime(use_cpu_time ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

struct layer {
    const char *what;
    int cin, h, cout, k, stride, pad;
};

static const struct layer LAYERS[] = {
    {"stem 3->16 32x32", 3, 32, 16, 3, 1, 1},
    {"16->16 32x32", 16, 32, 16, 3, 1, 1},
    {"16->32 s2 32x32", 16, 32, 32, 3, 2, 1},
    {"proj 16->32 1x1 s2", 16, 32, 32, 1, 2, 0},
    {"32->32 16x16", 32, 16, 32, 3, 1, 1},
    {"32->64 s2 16x16", 32, 16, 64, 3, 2, 1},
    {"64->64 8x8", 64, 8, 64, 3, 1, 1},
};
#define NLAYERS ((int)(sizeof LAYERS / sizeof LAYERS[0]))

enum { FWD = 0, BWD_DATA, BWD_WEIGHT };

struct bufs {
    float *x, *w, *y, *gy, *gx, *gw, sx[1], *sw, sg[1];
    int16_t *xq, *wq, *gq;
    int64_t *gwa;
    struct fx_workspace ws;
};

static void call(const struct conv_shape *s, struct bufs *b, int pass, int fixed)
{
    struct op_tag tag = op_tag_make(0, 0);
    struct fx_stats st = {0};
    struct fx_tensor x = {b->xq, b->sx, 8, 0, 0}, w = {b->wq, b->sw, 8, 1, 1}, g = {b->gq, b->sg, 16, 1, 0};
    int rc = 0;
    if (!fixed) {
        if (pass == FWD)
            rc = conv_forward_f32(s, b->x, b->w, b->y, &b->ws, NULL, tag);
        else if (pass == BWD_DATA)
            rc = conv_backward_data_f32(s, b->gy, b->w, b->gx, &b->ws, NULL, tag);
        else
            rc = conv_backward_weight_f32(s, b->x, b->gy, b->gw, &b->ws, NULL, tag);
    } else {
        if (pass == FWD)
            rc = conv_forward_fx(s, &x, &w, b->y, 48, &st, &b->ws, NULL, tag);
        else if (pass == BWD_DATA)
            rc = conv_backward_data_fx(s, &g, &w, b->gx, 0, 48, &st, &b->ws, NULL, tag);
        else
            rc = conv_backward_weight_fx(s, &x, &g, b->gwa, b->gw, 48, &st, &b->ws, NULL, tag);
    }
    if (rc) {
        fprintf(stderr, "conv call failed\n");
        exit(1);
    }
}

/* The best of `runs` timed calls (after one warm-up): on a shared machine the minimum is the
 * figure least disturbed by other processes. */
static double time_ms(const struct conv_shape *s, struct bufs *b, int pass, int fixed, int runs)
{
    double v[64];
    if (runs > 64)
        runs = 64;
    call(s, b, pass, fixed);
    for (int r = 0; r < runs; r++) {
        double t = now();
        call(s, b, pass, fixed);
        v[r] = now() - t;
    }
    qsort(v, (size_t)runs, sizeof *v, cmp_double);
    return 1e3 * v[0];
}

int main(int argc, char **argv)
{
    int runs = 5, threads = 0, batch = 128, only = -1, opt;
    while ((opt = getopt(argc, argv, "r:t:b:cl:k:")) != -1) {
        if (opt == 'r')
            runs = atoi(optarg);
        else if (opt == 't')
            threads = atoi(optarg);
        else if (opt == 'b')
            batch = atoi(optarg);
        else if (opt == 'c')
            use_cpu_time = 1;
        else if (opt == 'l')
            only = atoi(optarg);
        else if (opt == 'k' && cpu_path_parse(optarg) >= 0 &&
                 cpu_path_set((enum cpu_path)cpu_path_parse(optarg)) == 0)
            continue;
        else {
            fprintf(stderr, "usage: bench_conv [-r runs] [-t threads] [-b batch] [-c] [-l layer]\n");
            return 2;
        }
    }
    if (threads > 0)
        omp_set_num_threads(threads);
    fx_flush_denormals(1);
    printf("bench_conv: %s kernels, batch %d, %d threads, best of %d; %s ms per call (GMAC/s)\n", cpu_path_name(cpu_path()), batch,
           omp_get_max_threads(), runs, use_cpu_time ? "CPU" : "wall");
    printf("%-22s | %-16s %-16s %-16s | %-16s %-16s %-16s\n", "layer", "f32 fwd", "f32 bwd-data",
           "f32 bwd-weight", "fx fwd", "fx bwd-data", "fx bwd-weight");
    for (int l = 0; l < NLAYERS; l++) {
        if (only >= 0 && l != only)
            continue;
        const struct layer *L = &LAYERS[l];
        struct conv_shape s = {batch, L->cin, L->h, L->h, L->cout, L->k, L->stride, L->pad, 1};
        long xc = conv_x_count(&s), wc = conv_w_count(&s), yc = conv_y_count(&s);
        struct bufs b;
        memset(&b, 0, sizeof b);
        b.x = malloc(sizeof(float) * xc);
        b.gx = malloc(sizeof(float) * xc);
        b.xq = malloc(sizeof(int16_t) * xc);
        b.w = malloc(sizeof(float) * wc);
        b.gw = malloc(sizeof(float) * wc);
        b.wq = malloc(sizeof(int16_t) * wc);
        b.gwa = malloc(sizeof(int64_t) * wc);
        b.y = malloc(sizeof(float) * yc);
        b.gy = malloc(sizeof(float) * yc);
        b.gq = malloc(sizeof(int16_t) * yc);
        b.sw = malloc(sizeof(float) * L->cout);
        for (long i = 0; i < xc; i++) {
            b.x[i] = rng_uniform(1, (uint64_t)i);
            b.xq[i] = (int16_t)rng_below(2, (uint64_t)i, 256);
        }
        for (long i = 0; i < wc; i++) {
            b.w[i] = rng_uniform(3, (uint64_t)i) - 0.5f;
            b.wq[i] = (int16_t)((int)rng_below(4, (uint64_t)i, 255) - 127);
        }
        for (long i = 0; i < yc; i++) {
            b.gy[i] = rng_uniform(5, (uint64_t)i) - 0.5f;
            b.gq[i] = (int16_t)((int)rng_below(6, (uint64_t)i, 65535) - 32767);
        }
        b.sx[0] = b.sg[0] = 0.01f;
        for (int c = 0; c < L->cout; c++)
            b.sw[c] = 0.02f;
        double macs = (double)yc * L->cin * L->k * L->k;
        printf("%-22s |", L->what);
        for (int fixed = 0; fixed < 2; fixed++) {
            for (int pass = 0; pass < 3; pass++) {
                double ms = time_ms(&s, &b, pass, fixed, runs);
                char cell[32];
                snprintf(cell, sizeof cell, "%6.2f (%5.1f)", ms, macs / ms * 1e-6);
                printf(" %-16s", cell);
            }
            printf(" |");
        }
        printf("\n");
        fflush(stdout);
        free(b.x); free(b.gx); free(b.xq); free(b.w); free(b.gw); free(b.wq); free(b.gwa);
        free(b.y); free(b.gy); free(b.gq); free(b.sw);
        fx_workspace_free(&b.ws);
    }
    return 0;
}
