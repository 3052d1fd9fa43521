/* SLU gates: BPTT through the shared LSTM checked against central differences; decisions;
 * records; parameter list. */
#include "cunit_main.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gate.h"
#include "net.h"
#include "rng.h"

#define T 3
#define N 3
#define HH 2
#define WW 3

static const int CIN[T] = { 3, 4, 5 };

static void fill(float *v, long count, uint64_t seed, float lo, float hi)
{
    for (long i = 0; i < count; i++)
        v[i] = lo + (hi - lo) * rng_uniform(rng_key(seed, 77), (uint64_t)i);
}

struct fixture {
    struct gate_net *g;
    float *x[T];
    float coef[T][N];   /* L = sum_t sum_i coef[t][i] * p[t][i] */
};

static double loss(struct fixture *f)
{
    double L = 0;
    float p[N];
    gate_begin(f->g, N, 0);
    for (int t = 0; t < T; t++) {
        gate_forward(f->g, t, f->x[t], HH, WW, p, NULL);
        for (int i = 0; i < N; i++)
            L += (double)f->coef[t][i] * p[i];
    }
    return L;
}

static void setup(struct fixture *f)
{
    uint16_t layer[T] = { 10, 20, 30 };
    f->g = gate_create(T, CIN, layer, 1234);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f->g);
    for (int t = 0; t < T; t++) {
        long c = (long)N * CIN[t] * HH * WW;
        f->x[t] = malloc(sizeof(float) * c);
        fill(f->x[t], c, 100 + t, -1.0f, 1.0f);
        fill(f->coef[t], N, 200 + t, -1.0f, 1.0f);
    }
    /* Larger weights so that every path carries signal (the default init saturates little). */
    struct net_param p[64];
    int np = gate_params(f->g, p, 64);
    for (int i = 0; i < np; i++)
        fill(p[i].w, p[i].count, 300 + i, -0.6f, 0.6f);
}

static void teardown(struct fixture *f)
{
    for (int t = 0; t < T; t++)
        free(f->x[t]);
    gate_free(f->g);
}

/* Analytic gradients: forward with saving, backward from dL/dp = coef. */
static void analytic(struct fixture *f, float *dx[T])
{
    float p[N];
    CU_ASSERT_EQUAL(gate_begin(f->g, N, 1), 0);
    for (int t = 0; t < T; t++)
        CU_ASSERT_EQUAL(gate_forward(f->g, t, f->x[t], HH, WW, p, NULL), 0);
    gate_zero_grad(f->g);
    for (int t = T - 1; t >= 0; t--) {
        memset(dx[t], 0, sizeof(float) * (size_t)N * CIN[t] * HH * WW);
        CU_ASSERT_EQUAL(gate_backward(f->g, t, f->coef[t], dx[t], HH, WW, NULL), 0);
    }
}

static int close_enough(double num, double ana)
{
    return fabs(num - ana) <= 2e-4 + 2e-2 * fmax(fabs(num), fabs(ana));
}

static void test_gradients_finite_differences(void)
{
    struct fixture f;
    setup(&f);
    float *dx[T];
    for (int t = 0; t < T; t++)
        dx[t] = malloc(sizeof(float) * (size_t)N * CIN[t] * HH * WW);
    analytic(&f, dx);

    struct net_param p[64];
    int np = gate_params(f.g, p, 64);
    CU_ASSERT_EQUAL(np, 2 * T + 6);
    long checked = 0, failed = 0;
    double nonzero = 0;
    const float h = 1e-2f;
    for (int i = 0; i < np; i++) {
        for (long j = 0; j < p[i].count; j++) {
            float keep = p[i].w[j];
            p[i].w[j] = keep + h;
            float up = p[i].w[j];
            double lp = loss(&f);
            p[i].w[j] = keep - h;
            float dn = p[i].w[j];
            double lm = loss(&f);
            p[i].w[j] = keep;
            double num = (lp - lm) / ((double)up - (double)dn);
            checked++;
            nonzero += fabs(p[i].grad[j]);
            if (!close_enough(num, p[i].grad[j])) {
                failed++;
                printf("\n  %s[%ld]: numeric %g analytic %g", p[i].name, j, num, p[i].grad[j]);
            }
        }
    }
    /* the inputs: every element of every step */
    for (int t = 0; t < T; t++) {
        long c = (long)N * CIN[t] * HH * WW;
        for (long j = 0; j < c; j++) {
            float keep = f.x[t][j];
            f.x[t][j] = keep + h;
            float up = f.x[t][j];
            double lp = loss(&f);
            f.x[t][j] = keep - h;
            float dn = f.x[t][j];
            double lm = loss(&f);
            f.x[t][j] = keep;
            double num = (lp - lm) / ((double)up - (double)dn);
            checked++;
            if (!close_enough(num, dx[t][j])) {
                failed++;
                printf("\n  dx%d[%ld]: numeric %g analytic %g", t, j, num, dx[t][j]);
            }
        }
    }
    CU_ASSERT_EQUAL(failed, 0);
    CU_ASSERT(checked > 900);
    CU_ASSERT(nonzero > 0.1);
    for (int t = 0; t < T; t++)
        free(dx[t]);
    teardown(&f);
}

/* The state carries across steps: changing step 0's input changes step 2's p. */
static void test_lstm_shared_and_reset(void)
{
    struct fixture f;
    setup(&f);
    float p1[N], p2[N], p3[N];
    gate_begin(f.g, N, 0);
    for (int t = 0; t < T; t++)
        gate_forward(f.g, t, f.x[t], HH, WW, p1, NULL);
    /* same minibatch again: reset gives the same result */
    gate_begin(f.g, N, 1);
    for (int t = 0; t < T; t++)
        gate_forward(f.g, t, f.x[t], HH, WW, p2, NULL);
    CU_ASSERT_EQUAL(memcmp(p1, p2, sizeof p1), 0);
    f.x[0][0] += 0.5f;
    gate_begin(f.g, N, 0);
    for (int t = 0; t < T; t++)
        gate_forward(f.g, t, f.x[t], HH, WW, p3, NULL);
    CU_ASSERT(fabsf(p3[0] - p1[0]) > 0.0f);
    CU_ASSERT_EQUAL(p3[1], p1[1]);   /* samples are independent */
    teardown(&f);
}

static void test_decisions(void)
{
    enum { M = 20000 };
    float *p = malloc(sizeof(float) * M);
    uint8_t *m = malloc(M);
    for (int i = 0; i < M; i++)
        p[i] = 0.3f;
    gate_decide(GATE_BERNOULLI, p, M, 99, m);
    int ones = 0;
    for (int i = 0; i < M; i++)
        ones += m[i];
    /* binomial(20000, 0.3): sd = 64.8; 5 sd */
    CU_ASSERT(abs(ones - 6000) < 324);
    uint8_t m2[4];
    float q[4] = { 0.2f, 0.5f, 0.51f, 0.9f };
    gate_decide(GATE_THRESHOLD, q, 4, 99, m2);
    CU_ASSERT(m2[0] == 0 && m2[1] == 0 && m2[2] == 1 && m2[3] == 1);
    gate_decide(GATE_SOFT, q, 4, 99, m2);
    CU_ASSERT(m2[0] == 1 && m2[1] == 1 && m2[2] == 1 && m2[3] == 1);
    /* same key, same draws */
    uint8_t *m3 = malloc(M);
    gate_decide(GATE_BERNOULLI, p, M, 99, m3);
    CU_ASSERT_EQUAL(memcmp(m, m3, M), 0);
    free(m3);
    free(m);
    free(p);
}

struct rec_log {
    struct oprec r[16];
    int n;
};

static void rec_emit(void *ctx, const struct oprec *r)
{
    struct rec_log *l = ctx;
    if (l->n < 16)
        l->r[l->n] = *r;
    l->n++;
}

static void test_records(void)
{
    struct fixture f;
    setup(&f);
    struct rec_log log = { .n = 0 };
    struct op_sink sink = { rec_emit, &log };
    float p[N];
    gate_begin(f.g, N, 1);
    for (int t = 0; t < T; t++)
        gate_forward(f.g, t, f.x[t], HH, WW, p, &sink);
    gate_zero_grad(f.g);
    float dp[N] = { 1, 1, 1 };
    gate_backward(f.g, T - 1, dp, NULL, HH, WW, &sink);
    CU_ASSERT_EQUAL(log.n, T + 2);
    CU_ASSERT_EQUAL(log.r[1].kind, OP_GATE);
    CU_ASSERT_EQUAL(log.r[1].tech, OP_TECH_SLU);
    CU_ASSERT_EQUAL(log.r[1].layer, 20);
    CU_ASSERT_EQUAL(log.r[1].cin, 4);
    CU_ASSERT_EQUAL(log.r[1].cout, GATE_EMBED);
    CU_ASSERT_EQUAL(log.r[1].n, N);
    CU_ASSERT_EQUAL(log.r[1].h_in, HH);
    CU_ASSERT_EQUAL(log.r[1].bits_a, 32);
    CU_ASSERT_EQUAL(log.r[T].phase, OP_PHASE_BWD_DATA);
    CU_ASSERT_EQUAL(log.r[T + 1].phase, OP_PHASE_BWD_WEIGHT);
    CU_ASSERT_EQUAL(log.r[T].layer, 30);
    /* 3 * (4*6 pool + 40 embed + 800 lstm + 10 proj) */
    CU_ASSERT_EQUAL(gate_macs(&log.r[1]), 3u * (24 + 40 + 800 + 10));
    teardown(&f);
}

int main(void)
{
    CU_TestInfo tests[] = {
        { "gradients vs finite differences (BPTT, dx)", test_gradients_finite_differences },
        { "shared LSTM, reset per minibatch", test_lstm_shared_and_reset },
        { "decisions", test_decisions },
        { "records", test_records },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("gate", NULL, NULL, tests);
}
