/* Optimizers on hand numbers, update records, stochastic depth (PSG's Eq. 2: test_psg.c;
 * SWA: test_swa.c). */
#include "cunit_main.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "net.h"
#include "optim.h"
#include "param_fixture.h"
#include "rng.h"

/* Values exactly representable: every intermediate is exact in float. */
static void test_sgd_hand_numbers(void)
{
    float w[3] = { 1.0f, -2.0f, 0.5f }, g[3] = { 0.5f, 0.25f, -1.0f };
    struct net_param p = param(w, g, 3, NET_PARAM_FC);
    struct optim_config cfg = { OPTIM_SGD, 0.5f, 0.25f };
    struct optim *o = optim_create(&p, 1, &cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    /* step 1: d = g + 0.25 w = {0.75, -0.25, -0.875}; v = d; w -= 0.5 v */
    CU_ASSERT_EQUAL(optim_step(o, &p, 1, 0.5f, NULL), 0);
    CU_ASSERT_EQUAL(w[0], 0.625f);
    CU_ASSERT_EQUAL(w[1], -1.875f);
    CU_ASSERT_EQUAL(w[2], 0.9375f);
    CU_ASSERT_EQUAL(optim_momentum(o, 0)[0], 0.75f);
    /* step 2 with g = 0: d = 0.25 w = {0.15625, -0.46875, 0.234375};
     * v = 0.5 v + d = {0.53125, -0.59375, -0.203125}; w -= 0.5 v */
    g[0] = g[1] = g[2] = 0.0f;
    CU_ASSERT_EQUAL(optim_step(o, &p, 1, 0.5f, NULL), 0);
    CU_ASSERT_EQUAL(w[0], 0.359375f);
    CU_ASSERT_EQUAL(w[1], -1.578125f);
    CU_ASSERT_EQUAL(w[2], 1.0390625f);
    optim_free(o);

    /* Defaults (0.9, 1e-4) against the formula evaluated in double, to float rounding. */
    float w2[1] = { 0.3f }, g2[1] = { -0.7f };
    struct net_param p2 = param(w2, g2, 1, NET_PARAM_CONV);
    struct optim_config c2 = { OPTIM_SGD, 0.9f, 1e-4f };
    o = optim_create(&p2, 1, &c2);
    double wd = 0.3, vd = 0;
    for (int it = 0; it < 5; it++) {
        optim_step(o, &p2, 1, 0.1f, NULL);
        vd = 0.9 * vd + (-0.7 + 1e-4 * wd);
        wd -= 0.1 * vd;
    }
    CU_ASSERT(fabs(w2[0] - wd) < 1e-6);
    optim_free(o);
}

/* SignSGD: conv weights take sign(g) (sign(0) = 0), weight decay after the sign; FC keeps g. */
static void test_signsgd(void)
{
    float wc[3] = { 1.0f, -1.0f, 2.0f }, gc[3] = { 0.001f, -300.0f, 0.0f };
    float wf[1] = { 1.0f }, gf[1] = { 0.5f };
    struct net_param p[2] = { param(wc, gc, 3, NET_PARAM_CONV), param(wf, gf, 1, NET_PARAM_FC) };
    struct optim_config cfg = { OPTIM_SIGNSGD, 0.0f, 0.5f };
    struct optim *o = optim_create(p, 2, &cfg);
    struct rec_log log = { .n = 0 };
    struct op_sink sink = { rec_emit, &log };
    CU_ASSERT_EQUAL(optim_step(o, p, 2, 0.25f, &sink), 0);
    /* d = sign(g) + 0.5 w = {1.5, -1.5, 1}; w -= 0.25 d */
    CU_ASSERT_EQUAL(wc[0], 0.625f);
    CU_ASSERT_EQUAL(wc[1], -0.625f);
    CU_ASSERT_EQUAL(wc[2], 1.75f);
    CU_ASSERT_EQUAL(wf[0], 1.0f - 0.25f * (0.5f + 0.5f));
    CU_ASSERT_EQUAL(log.n, 2);
    CU_ASSERT_EQUAL(log.r[0].kind, OP_UPDATE);
    CU_ASSERT_EQUAL(log.r[0].phase, OP_PHASE_UPDATE);
    CU_ASSERT_EQUAL(log.r[0].bits_a, 1);     /* sign update */
    CU_ASSERT_EQUAL(log.r[0].bits_b, 8);
    CU_ASSERT_EQUAL(log.r[1].bits_a, 16);    /* full gradient */
    CU_ASSERT_EQUAL(log.r[0].cout * log.r[0].cin * log.r[0].k * log.r[0].k, 3);
    optim_free(o);
}

/* A separate learning rate for sign steps: conv weights step at lr * scale, the FC at lr. Before
 * issue 13 both took lr, and lr 0.03 grew ResNet-20's conv weights 25-50 fold in 300 steps. */
static void test_sign_lr_scale(void)
{
    float wc[2] = { 1.0f, -1.0f }, gc[2] = { 0.001f, -300.0f };
    float wf[1] = { 1.0f }, gf[1] = { 0.5f };
    struct net_param p[2] = { param(wc, gc, 2, NET_PARAM_CONV), param(wf, gf, 1, NET_PARAM_FC) };
    struct optim_config cfg = { OPTIM_PSG, 0.0f, 0.0f };
    p[0].grad_is_sign = 1;
    struct optim *o = optim_create(p, 2, &cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    optim_set_sign_lr_scale(o, 0.25f);
    optim_set_sign_lr_scale(o, 0.0f);          /* ignored: a scale must be positive */
    CU_ASSERT_EQUAL(optim_step(o, p, 2, 0.5f, NULL), 0);
    CU_ASSERT_EQUAL(wc[0], 1.0f - 0.125f);     /* 0.5 * 0.25 * sign */
    CU_ASSERT_EQUAL(wc[1], -1.0f + 0.125f);
    CU_ASSERT_EQUAL(wf[0], 1.0f - 0.25f);      /* 0.5 * g: the FC keeps lr */
    optim_free(o);
}

/* Inactive parameters (block skipped by every sample): untouched, no momentum step, no record.
 * PSG refuses conv gradients that are not Eq. 2 signs. */
static void test_inactive_and_psg_guard(void)
{
    float w[2] = { 1.0f, 2.0f }, g[2] = { 1.0f, 1.0f };
    struct net_param p = param(w, g, 2, NET_PARAM_CONV);
    struct optim_config cfg = { OPTIM_SGD, 0.9f, 0.1f };
    struct optim *o = optim_create(&p, 1, &cfg);
    p.active = 0;
    struct rec_log log = { .n = 0 };
    struct op_sink sink = { rec_emit, &log };
    CU_ASSERT_EQUAL(optim_step(o, &p, 1, 0.1f, &sink), 0);
    CU_ASSERT_EQUAL(w[0], 1.0f);
    CU_ASSERT_EQUAL(w[1], 2.0f);
    CU_ASSERT_EQUAL(log.n, 0);
    optim_free(o);

    struct optim_config pc = { OPTIM_PSG, 0.9f, 0.0f };
    p.active = 1;
    o = optim_create(&p, 1, &pc);
    CU_ASSERT_EQUAL(optim_step(o, &p, 1, 0.1f, NULL), -1);
    CU_ASSERT_EQUAL(w[0], 1.0f);
    p.grad_is_sign = 1;
    CU_ASSERT_EQUAL(optim_step(o, &p, 1, 0.5f, NULL), 0);
    CU_ASSERT_EQUAL(w[0], 0.5f);
    optim_free(o);
}

static void test_sd_schedule(void)
{
    float s[11];
    /* L = 10 skippable blocks, target 0.3: 1 - p_L = 0.3 * 20 / 11 */
    double got = sd_survival(11, 0.3, s);
    CU_ASSERT(fabs(got - 0.3) < 1e-12);
    CU_ASSERT_EQUAL(s[0], 1.0f);
    double dl = 0.3 * 20.0 / 11.0;
    for (int l = 1; l <= 10; l++)
        CU_ASSERT(fabs(s[l] - (1.0 - l / 10.0 * dl)) < 1e-6);
    double mean = 0;
    for (int l = 1; l <= 10; l++)
        mean += 1.0 - s[l];
    CU_ASSERT(fabs(mean / 10 - 0.3) < 1e-6);
    /* unreachable ratio: p_L = 0, achieved (L+1)/(2L) */
    got = sd_survival(11, 0.9, s);
    CU_ASSERT(fabs(got - 11.0 / 20.0) < 1e-12);
    CU_ASSERT_EQUAL(s[10], 0.0f);

    /* achieved skip ratio over many iterations within binomial bounds (5 sd) */
    sd_survival(11, 0.3, s);
    enum { ITERS = 3000, NB = 11, NS = 4 };
    uint8_t mask[NB * NS];
    long skipped = 0, draws = 0, per_block[NB] = { 0 };
    int uniform_ok = 1;
    for (int it = 0; it < ITERS; it++) {
        sd_mask(s, NB, NS, 0, 42, (uint64_t)it, mask);
        for (int b = 0; b < NB; b++) {
            for (int i = 1; i < NS; i++)
                uniform_ok &= mask[b * NS + i] == mask[b * NS];
            if (b == 0) {
                CU_ASSERT_EQUAL(mask[0], 1);
                continue;
            }
            skipped += !mask[b * NS];
            per_block[b] += !mask[b * NS];
            draws++;
        }
    }
    CU_ASSERT(uniform_ok);   /* per minibatch: one draw per block */
    double ratio = (double)skipped / draws, sd = sqrt(0.3 * 0.7 / draws);
    CU_ASSERT(fabs(ratio - 0.3) < 5 * sd);
    /* the last block drops most often, the first skippable least */
    CU_ASSERT(per_block[10] > per_block[1]);
    double p10 = 1 - s[10], sd10 = sqrt(p10 * (1 - p10) / ITERS);
    CU_ASSERT(fabs((double)per_block[10] / ITERS - p10) < 5 * sd10);
    /* per sample draws differ between samples; same seed and iteration give the same mask */
    uint8_t m1[NB * 64], m2[NB * 64];
    sd_mask(s, NB, 64, 1, 42, 5, m1);
    sd_mask(s, NB, 64, 1, 42, 5, m2);
    CU_ASSERT_EQUAL(memcmp(m1, m2, sizeof m1), 0);
    int differ = 0;
    for (int i = 1; i < 64; i++)
        differ |= m1[10 * 64 + i] != m1[10 * 64];
    CU_ASSERT(differ);
}

int main(void)
{
    CU_TestInfo tests[] = {
        { "SGD with momentum and weight decay, hand numbers", test_sgd_hand_numbers },
        { "SignSGD and update records", test_signsgd },
        { "sign steps take their own learning rate", test_sign_lr_scale },
        { "inactive parameters, PSG guard", test_inactive_and_psg_guard },
        { "stochastic depth schedule and masks", test_sd_schedule },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("optim", NULL, NULL, tests);
}
