/* Shared helpers for kernel tests: seeded random fills, double-accumulated dot products, and a
 * central-difference gradient check.
 *
 * The check: for a scalar loss L(p) (computed by the test in double from float kernel outputs,
 * typically L = sum_i r_i * y_i with fixed random r, so dL/dy = r), perturb one parameter at a
 * time by +-h, numeric = (L(p+h) - L(p-h)) / 2h, and compare with the analytic gradient:
 *     pass if |numeric - analytic| <= atol + rtol * max(|numeric|, |analytic|).
 * The perturbation is applied to the float parameter itself and h is the perturbation actually
 * realized in float ((p + h) - (p - h) is used as the denominator), so float rounding of the
 * parameter does not bias the quotient. */
#ifndef E2_TEST_GRADCHECK_H
#define E2_TEST_GRADCHECK_H

#include <math.h>
#include <stdint.h>
#include "oprec.h"
#include "rng.h"

/* v[i] uniform in [lo, hi), a pure function of (seed, i). */
static inline void gc_fill(float *v, long count, uint64_t seed, float lo, float hi)
{
    uint64_t key = rng_key(seed, 0x6772616463686bull);
    for (long i = 0; i < count; i++)
        v[i] = lo + (hi - lo) * rng_uniform(key, (uint64_t)i);
}

/* Like gc_fill, but every |v| is at least `gap` (values in (-hi, -gap] U [gap, hi)): keeps
 * inputs away from kinks (ReLU at 0). */
static inline void gc_fill_away(float *v, long count, uint64_t seed, float gap, float hi)
{
    uint64_t key = rng_key(seed, 0x61776179ull);
    for (long i = 0; i < count; i++) {
        float u = rng_uniform(key, (uint64_t)i);
        float m = gap + (hi - gap) * (u < 0.5f ? 2.0f * u : 2.0f * u - 1.0f);
        v[i] = u < 0.5f ? -m : m;
    }
}

/* Random integer codes in [lo, hi]. */
static inline void gc_fill_codes(int16_t *v, long count, uint64_t seed, int lo, int hi)
{
    uint64_t key = rng_key(seed, 0x636f646573ull);
    for (long i = 0; i < count; i++)
        v[i] = (int16_t)(lo + (int)rng_below(key, (uint64_t)i, (uint32_t)(hi - lo + 1)));
}

static inline double gc_dot(const float *a, const float *b, long count)
{
    double s = 0.0;
    for (long i = 0; i < count; i++)
        s += (double)a[i] * (double)b[i];
    return s;
}

struct gc_report {
    long checked, failed;
    long worst;             /* index of the largest |numeric - analytic| - allowed */
    double worst_numeric, worst_analytic, worst_excess;
};

/* Check every `step`-th element of param (step >= 1) against analytic[]. loss(ctx) must read the
 * current param values. param is restored afterwards. */
static inline struct gc_report gc_check(double (*loss)(void *ctx), void *ctx, float *param,
                                        const float *analytic, long count, long step,
                                        float h, double atol, double rtol)
{
    struct gc_report r = { 0, 0, -1, 0.0, 0.0, -INFINITY };
    for (long i = 0; i < count; i += step) {
        float keep = param[i];
        float up = keep + h, down = keep - h;
        param[i] = up;
        double lp = loss(ctx);
        param[i] = down;
        double lm = loss(ctx);
        param[i] = keep;
        double numeric = (lp - lm) / ((double)up - (double)down);
        double a = analytic[i];
        double allowed = atol + rtol * fmax(fabs(numeric), fabs(a));
        double excess = fabs(numeric - a) - allowed;
        r.checked++;
        if (excess > 0)
            r.failed++;
        if (excess > r.worst_excess) {
            r.worst_excess = excess;
            r.worst = i;
            r.worst_numeric = numeric;
            r.worst_analytic = a;
        }
    }
    return r;
}

/* A sink that counts the op records a kernel emits and keeps the last one:
 *   struct gc_records rec = {0};
 *   struct op_sink sink = { gc_record, &rec };                                          */
struct gc_records {
    int count;
    struct oprec last;
};

static inline void gc_record(void *ctx, const struct oprec *r)
{
    struct gc_records *g = ctx;
    g->count++;
    g->last = *r;
}

#endif
