/* Stochastic weight averaging (kernels/swa.c): the running average on hand numbers, swapping,
 * state left alone, resuming the count, and the BN re-estimation the loop runs after a swap
 * (net_bn_reset, then NET_BN_RECOMPUTE forwards: a cumulative average of batch statistics). */
#include "cunit_main.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "net.h"
#include "param_fixture.h"
#include "rng.h"
#include "swa.h"

/* avg += (w - avg) / (k + 1): after 1, 3, 8 the mean 4; after 2, 4, -3 the mean 1. */
static void test_average_and_swap(void)
{
    float w[2] = { 1.0f, 2.0f }, g[2] = { 0, 0 };
    float r[1] = { 5.0f };
    struct net_param p[2] = { param(w, g, 2, NET_PARAM_CONV),
                              param(r, NULL, 1, NET_PARAM_BN_RUNNING) };
    struct swa *s = swa_create(p, 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(swa_swap(s, p, 2), -1);   /* nothing averaged yet */
    CU_ASSERT_PTR_NULL(swa_average(s, 1));    /* state has no average */
    struct rec_log log = { .n = 0 };
    struct op_sink sink = { rec_emit, &log };
    CU_ASSERT_EQUAL(swa_update(s, p, 2, &sink), 0);
    CU_ASSERT_EQUAL(swa_average(s, 0)[0], 1.0f);   /* the first model is the average */
    CU_ASSERT_EQUAL(swa_average(s, 0)[1], 2.0f);
    w[0] = 3.0f;
    w[1] = 4.0f;
    swa_update(s, p, 2, &sink);
    CU_ASSERT_EQUAL(swa_average(s, 0)[0], 2.0f);
    CU_ASSERT_EQUAL(swa_average(s, 0)[1], 3.0f);
    w[0] = 8.0f;
    w[1] = -3.0f;
    swa_update(s, p, 2, &sink);
    CU_ASSERT_EQUAL(swa_models(s), 3);
    CU_ASSERT_EQUAL(log.n, 3);                /* one record per update, none for state */
    CU_ASSERT_EQUAL(log.r[0].kind, OP_UPDATE);
    CU_ASSERT_EQUAL(log.r[0].tech, OP_TECH_SWA);
    CU_ASSERT_EQUAL(log.r[0].layer, 7);
    CU_ASSERT_EQUAL(log.r[0].cout, 2);
    CU_ASSERT_EQUAL(swa_swap(s, p, 2), 0);
    CU_ASSERT_EQUAL(w[0], 4.0f);
    CU_ASSERT_EQUAL(w[1], 1.0f);
    CU_ASSERT_EQUAL(r[0], 5.0f);
    CU_ASSERT_EQUAL(swa_average(s, 0)[0], 8.0f);   /* the training weights, kept for later */
    swa_swap(s, p, 2);
    CU_ASSERT_EQUAL(w[0], 8.0f);
    CU_ASSERT_EQUAL(w[1], -3.0f);
    CU_ASSERT_EQUAL(swa_update(s, p, 1, &sink), -1);   /* another parameter list */
    CU_ASSERT_EQUAL(swa_swap(s, p, 1), -1);
    swa_free(s);
}

/* A resumed run sets the count back: the next model then weighs 1 / (count + 1). */
static void test_resumed_count(void)
{
    float w[1] = { 10.0f }, g[1] = { 0 };
    struct net_param p = param(w, g, 1, NET_PARAM_FC);
    struct swa *s = swa_create(&p, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    swa_average(s, 0)[0] = 2.0f;   /* as a checkpoint restores it: 3 models averaging 2 */
    swa_set_models(s, 3);
    swa_set_models(s, -1);         /* ignored */
    CU_ASSERT_EQUAL(swa_models(s), 3);
    swa_update(s, &p, 1, NULL);    /* 2 + (10 - 2) / 4 */
    CU_ASSERT_EQUAL(swa_average(s, 0)[0], 4.0f);
    CU_ASSERT_EQUAL(swa_models(s), 4);
    swa_free(s);
    CU_ASSERT_PTR_NULL(swa_create(NULL, 2));
    CU_ASSERT_PTR_NULL(swa_average(NULL, 0));
    CU_ASSERT_EQUAL(swa_models(NULL), 0);
}

/* ---- BN re-estimation ---- */

enum { N = 4, C = 3, H = 8, W = 8 };

static struct net *tiny_net(void)
{
    struct net_precision f = net_precision_float();
    struct net *net = NULL;
    CU_ASSERT_EQUAL(net_create(NET_RESNET, 8, 4, C, H, W, 10, NET_DEFAULT, &f, 3, &net), 0);
    return net;
}

static void batch(float *x, uint64_t seed)
{
    uint64_t key = rng_key(seed, 0x5a);
    for (long i = 0; i < (long)N * C * H * W; i++)
        x[i] = 2.0f * rng_uniform(key, (uint64_t)i) - 0.5f;
}

/* Every BN running statistic of the net, concatenated (the values of "*.bn.running_*"). */
static long running_stats(struct net *net, float *out)
{
    struct net_param *p;
    int np = net_params(net, &p);
    long k = 0;
    for (int i = 0; i < np; i++)
        if (p[i].kind == NET_PARAM_BN_RUNNING) {
            if (out)
                memcpy(out + k, p[i].w, sizeof(float) * (size_t)p[i].count);
            k += p[i].count;
        }
    return k;
}

/* Records of a recompute pass are SWA's; the statistics after batches A then B are
 * (1 - 1/2) * stats(A) + 1/2 * stats(B) exactly (the first batch weighs 1, the second 1/2), and
 * net_bn_reset restarts the count. The first BN's mean over A then B matches one pass over A and
 * B together (its input does not depend on batch statistics). A recompute pass trains nothing:
 * no backward follows it. */
static void test_bn_reestimation(void)
{
    struct net *net = tiny_net();
    CU_ASSERT_PTR_NOT_NULL_FATAL(net);
    long ns = running_stats(net, NULL);
    float *a = malloc(sizeof(float) * (size_t)ns), *b = malloc(sizeof(float) * (size_t)ns);
    float *ab = malloc(sizeof(float) * (size_t)ns), *both = malloc(sizeof(float) * (size_t)ns);
    float *x = malloc(sizeof(float) * 2 * N * C * H * W), *y = x + N * C * H * W;
    CU_ASSERT_FATAL(a && b && ab && both && x);
    batch(x, 1);
    batch(y, 2);

    net_bn_reset(net);
    int reset_ok = 1;
    struct net_param *p;
    int np = net_params(net, &p);
    for (int i = 0; i < np; i++)
        for (long j = 0; p[i].kind == NET_PARAM_BN_RUNNING && j < p[i].count; j++)
            reset_ok &= p[i].w[j] == (strstr(p[i].name, "running_mean") ? 0.0f : 1.0f);
    CU_ASSERT(reset_ok);

    struct rec_log log = { .n = 0 };
    struct op_sink sink = { rec_emit, &log };
    CU_ASSERT_PTR_NOT_NULL(net_forward(net, x, N, NULL, &sink, NET_BN_RECOMPUTE));
    running_stats(net, a);
    int swa_tech = log.n > 0;
    for (int i = 0; i < log.n && i < 64; i++)
        swa_tech &= log.r[i].tech == OP_TECH_SWA;
    CU_ASSERT(swa_tech);
    CU_ASSERT_EQUAL(net_backward(net, a, NULL, NULL), -1);   /* nothing saved for backward */
    CU_ASSERT_PTR_NOT_NULL(net_forward(net, y, N, NULL, NULL, NET_BN_RECOMPUTE));
    running_stats(net, ab);

    net_bn_reset(net);   /* the count restarts: B alone now weighs 1 */
    CU_ASSERT_PTR_NOT_NULL(net_forward(net, y, N, NULL, NULL, NET_BN_RECOMPUTE));
    running_stats(net, b);
    int mean_ok = 1, differ = 0;
    for (long i = 0; i < ns; i++) {
        mean_ok &= ab[i] == 0.5f * a[i] + 0.5f * b[i];
        differ |= a[i] != b[i];
    }
    CU_ASSERT(mean_ok);
    CU_ASSERT(differ);   /* the two batches do have different statistics */

    net_bn_reset(net);
    CU_ASSERT_PTR_NOT_NULL(net_forward(net, x, 2 * N, NULL, NULL, NET_BN_RECOMPUTE));
    running_stats(net, both);
    const struct net_param *first = &p[3];   /* b0.u0.bn.running_mean: params list unit 0 first */
    CU_ASSERT_STRING_EQUAL(first->name, "b0.u0.bn.running_mean");
    for (long c = 0; c < first->count; c++)   /* [0, count) of the stats: that mean */
        CU_ASSERT(fabsf(both[c] - ab[c]) <= 1e-6f * (1 + fabsf(both[c])));
    free(a);
    free(b);
    free(ab);
    free(both);
    free(x);
    net_free(net);
}

int main(void)
{
    CU_TestInfo tests[] = {
        { "average on hand numbers and swap", test_average_and_swap },
        { "resumed model count", test_resumed_count },
        { "BN re-estimation: cumulative average, reset", test_bn_reestimation },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("swa", NULL, NULL, tests);
}
