/* Speed of gemm_f32 and gemm_i16 on the shapes that conv layers lower to (ResNet on 32x32
 * inputs), with 1 and 2 OpenMP threads; median of several timed runs. Prints one table row per
 * shape in GOP/s (one multiply-add = 2 operations, for floats and integers alike), next to the
 * FMA peak measured on this machine.
 * One-thread figures are timed with the thread's CPU clock, so other processes sharing the
 * core do not distort them (on an idle machine it equals wall time); two-thread figures are
 * wall time, and drop sharply when other processes compete for the cores (an OpenMP barrier
 * then waits for a descheduled thread). The load average is printed for that reason.
 *   usage: bench_gemm [runs]        (default 7 runs per figure) */
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "gemm.h"
#include "rng.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

struct shape {
    const char *what;
    int ta, tb, M, N, K, bits_a, bits_b;
};

/* M = output channels, N = pixels of a few samples, K = cin*3*3 (forward); the backward passes
 * of the same layers; the FC layer. */
static const struct shape SHAPES[] = {
    {"fwd conv1 3->16 32x32", 0, 0, 16, 1024, 27, 8, 8},
    {"fwd 16->16 32x32", 0, 0, 16, 1024, 144, 8, 8},
    {"fwd 16->16 32x32 x4", 0, 0, 16, 4096, 144, 8, 8},
    {"fwd 32->32 16x16 x4", 0, 0, 32, 1024, 288, 8, 8},
    {"fwd 64->64 8x8 x8", 0, 0, 64, 512, 576, 8, 8},
    {"bwd-data 16->16 32x32 (W^T)", 1, 0, 144, 1024, 16, 16, 8},
    {"bwd-data 32->32 16x16 x4", 1, 0, 288, 1024, 32, 16, 8},
    {"bwd-data 64->64 8x8 x8", 1, 0, 576, 512, 64, 16, 8},
    {"bwd-wt 16->16 32x32 x8 (col^T)", 0, 1, 16, 144, 8192, 8, 16},
    {"bwd-wt 32->32 16x16 x8", 0, 1, 32, 288, 2048, 8, 16},
    {"bwd-wt 64->64 8x8 x8", 0, 1, 64, 576, 512, 8, 16},
    {"fc 64->10 batch 128", 0, 1, 128, 10, 64, 8, 8},
    {"PSG predictor 32x32 16x16 x4", 0, 0, 32, 1024, 288, 4, 10},
    {"16x16 bits (byte-split path)", 0, 0, 32, 1024, 288, 16, 16},
};
#define NSHAPES ((int)(sizeof SHAPES / sizeof SHAPES[0]))

static double clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct operands {
    float *Af, *Bf, *Cf;
    int16_t *Ai, *Bi;
    int64_t *Ci;
};

static void call(const struct shape *s, const struct operands *o, int integer)
{
    int lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
    if (integer)
        gemm_i16(s->ta, s->tb, s->M, s->N, s->K, o->Ai, lda, o->Bi, ldb, o->Ci, s->N, 0,
                 s->bits_a, s->bits_b);
    else
        gemm_f32(s->ta, s->tb, s->M, s->N, s->K, o->Af, lda, o->Bf, ldb, o->Cf, s->N, 0);
}

/* Median GOP/s of `runs` runs, each repeating the call for at least ~20 ms. */
static double gops(const struct shape *s, const struct operands *o, int integer, int threads,
                   int runs)
{
    omp_set_num_threads(threads);
    clockid_t id = threads == 1 ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC;
    double ops = 2.0 * s->M * s->N * s->K;
    double t0 = clock_s(id);
    int reps = 0;
    do { /* warm-up, and how many calls make 20 ms */
        call(s, o, integer);
        reps++;
    } while (clock_s(id) - t0 < 0.02);
    double v[64];
    if (runs > 64)
        runs = 64;
    for (int r = 0; r < runs; r++) {
        double t = clock_s(id);
        for (int i = 0; i < reps; i++)
            call(s, o, integer);
        v[r] = ops * reps / (clock_s(id) - t) * 1e-9;
    }
    return median(v, runs);
}

#if defined(__x86_64__) || defined(__i386__)
/* FMA peak of one core: 12 independent chains of 8-lane FMAs, as in the f32 micro-kernel. */
__attribute__((target("avx2,fma"))) static double fma_peak_one_thread(void)
{
    __m256 acc[12], x = _mm256_set1_ps(0.999f), y = _mm256_set1_ps(1e-3f);
    for (int i = 0; i < 12; i++)
        acc[i] = _mm256_set1_ps((float)i);
    long n = 20000000;
    double t = clock_s(CLOCK_THREAD_CPUTIME_ID); /* immune to other processes, as in gops() */
    for (long k = 0; k < n; k++) {
        for (int i = 0; i < 12; i++)
            acc[i] = _mm256_fmadd_ps(acc[i], x, y);
        __asm__ volatile("" : "+x"(acc[0]), "+x"(acc[1]), "+x"(acc[2]), "+x"(acc[3]),
                         "+x"(acc[4]), "+x"(acc[5]), "+x"(acc[6]), "+x"(acc[7]), "+x"(acc[8]),
                         "+x"(acc[9]), "+x"(acc[10]), "+x"(acc[11]));
    }
    t = clock_s(CLOCK_THREAD_CPUTIME_ID) - t;
    return 12.0 * 16.0 * (double)n / t * 1e-9;
}
#endif

static double fma_peak(int threads)
{
#if defined(__x86_64__) || defined(__i386__)
    if (!gemm_cpu_has_avx2())
        return 0.0;
    double total = 0.0;
#pragma omp parallel num_threads(threads) reduction(+ : total)
    total += fma_peak_one_thread();
    return total;
#else
    (void)threads;
    return 0.0;
#endif
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 7;
    if (runs < 1)
        runs = 1;
    char load[64] = "?";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (!fgets(load, sizeof load, f))
            load[0] = 0;
        fclose(f);
        load[strcspn(load, "\n")] = 0;
    }
    printf("gemm implementation: %s; %d runs per figure, median; GOP/s = 2*M*N*K / time\n",
           gemm_impl_name(), runs);
    printf("load average at start: %s (1t: thread CPU time; 2t: wall time)\n", load);
    printf("FMA peak (f32 GFLOP/s, 12 chains of 8-lane FMAs per thread, thread CPU time): "
           "1 thread %.1f, 2 threads %.1f\n\n", fma_peak(1), fma_peak(2));
    printf("%-32s %2s %2s %5s %5s %5s %5s | %8s %8s | %8s %8s | %10s\n", "shape", "tA", "tB", "M",
           "N", "K", "bits", "f32 1t", "f32 2t", "i16 1t", "i16 2t", "i16/f32 1t");
    for (int n = 0; n < NSHAPES; n++) {
        const struct shape *s = &SHAPES[n];
        size_t na = (size_t)s->M * s->K, nb = (size_t)s->K * s->N, nc = (size_t)s->M * s->N;
        struct operands o;
        o.Af = malloc(sizeof(float) * na);
        o.Bf = malloc(sizeof(float) * nb);
        o.Cf = malloc(sizeof(float) * nc);
        o.Ai = malloc(sizeof(int16_t) * na);
        o.Bi = malloc(sizeof(int16_t) * nb);
        o.Ci = malloc(sizeof(int64_t) * nc);
        for (size_t i = 0; i < na; i++) {
            o.Af[i] = rng_uniform(1, i) - 0.5f;
            o.Ai[i] = (int16_t)((int)rng_below(2, i, 1u << s->bits_a) - (1 << (s->bits_a - 1)));
        }
        for (size_t i = 0; i < nb; i++) {
            o.Bf[i] = rng_uniform(3, i) - 0.5f;
            o.Bi[i] = (int16_t)((int)rng_below(4, i, 1u << s->bits_b) - (1 << (s->bits_b - 1)));
        }
        double f1 = gops(s, &o, 0, 1, runs), f2 = gops(s, &o, 0, 2, runs);
        double i1 = gops(s, &o, 1, 1, runs), i2 = gops(s, &o, 1, 2, runs);
        char bits[16];
        snprintf(bits, sizeof bits, "%dx%d", s->bits_a, s->bits_b);
        printf("%-32s %2d %2d %5d %5d %5d %5s | %8.1f %8.1f | %8.1f %8.1f | %10.2f\n", s->what,
               s->ta, s->tb, s->M, s->N, s->K, bits, f1, f2, i1, i2, i1 / f1);
        fflush(stdout);
        free(o.Af);
        free(o.Bf);
        free(o.Cf);
        free(o.Ai);
        free(o.Bi);
        free(o.Ci);
    }
    return 0;
}
