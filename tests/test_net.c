/* Networks: emitted MACs, backward against central differences (float, with skipping, with soft
 * SLU gates), straight-through gate gradients, real skipping in the op records,
 * net_emit_iteration == a real iteration, PSG's limits, fixed point vs float. (The builders:
 * test_resnet.c, test_mobilenetv2.c; BN re-estimation: test_swa.c.) */
#include "cunit_main.h"
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "net.h"
#include "optim.h"
#include "rng.h"

/* ---- helpers ---- */

struct rec_log {
    struct oprec *r;
    int n, cap;
};

static void rec_emit(void *ctx, const struct oprec *r)
{
    struct rec_log *l = ctx;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        l->r = realloc(l->r, sizeof *l->r * (size_t)l->cap);
    }
    l->r[l->n++] = *r;
}

static void fill(float *v, long count, uint64_t seed, float lo, float hi)
{
    uint64_t key = rng_key(seed, 0x7e57);
    for (long i = 0; i < count; i++)
        v[i] = lo + (hi - lo) * rng_uniform(key, (uint64_t)i);
}

static struct net *make(enum net_arch arch, int depth, int width, int c, int h, int w, int classes,
                        struct net_precision prec, uint64_t seed)
{
    struct net *net = NULL;
    CU_ASSERT_EQUAL(net_create(arch, depth, width, c, h, w, classes, NET_DEFAULT, &prec, seed, &net), 0);
    return net;
}

static struct net_param *find_param(struct net *net, const char *name)
{
    struct net_param *p;
    int np = net_params(net, &p);
    for (int i = 0; i < np; i++)
        if (!strcmp(p[i].name, name))
            return &p[i];
    return NULL;
}

/* ---- counts ---- */

static void test_emit_macs(void)
{
    struct net_precision f = net_precision_float();
    /* energy-only emission on a fresh ResNet-110 (nothing allocated for activations): the forward
     * records add up to the MAC count, skipped work subtracted */
    struct net *big = make(NET_RESNET, 110, 16, 3, 32, 32, 10, f, 1);
    int active[54];
    for (int b = 0; b < 54; b++)
        active[b] = b % 2 ? 64 : 128;
    struct rec_log log = { 0 };
    struct op_sink sink = { rec_emit, &log };
    struct optim_config sgd = { OPTIM_SGD, 0.9f, 1e-4f };
    CU_ASSERT_EQUAL(net_emit_iteration(big, 128, active, 0.0f, &sgd, &sink), 0);
    uint64_t fwd = 0, want_fwd = net_forward_macs(big) * 128;
    for (int b = 1; b < 54; b += 2)
        want_fwd -= net_block_macs(big, b) * 64;
    int updates = 0;
    for (int i = 0; i < log.n; i++) {
        if (log.r[i].phase == OP_PHASE_FWD)
            fwd += oprec_macs(&log.r[i]);
        updates += log.r[i].kind == OP_UPDATE;
    }
    CU_ASSERT_EQUAL(fwd, want_fwd);
    CU_ASSERT_EQUAL(updates, 3 * (109 + 2) + 2);   /* conv w, gamma, beta per conv; fc w, b */
    CU_ASSERT(net_memory_bytes(big) < 24u << 20);   /* 1.7 M parameters: w, grad, codes */
    free(log.r);
    net_free(big);

    struct net *bad = NULL;   /* the builders' own checks: test_resnet.c, test_mobilenetv2.c */
    CU_ASSERT_EQUAL(net_create(NET_RESNET, 21, 16, 3, 32, 32, 10, NET_DEFAULT, &f, 1, &bad), -1);
    CU_ASSERT_PTR_NULL(bad);
}

/* ---- gradient checks ---- */

struct fd_ctx {
    struct net *net;
    const float *x;
    const float *r;       /* L = sum r * logits (+ sum c * p for the gate check) */
    const uint8_t *mask;
    int n, classes;
    enum net_mode mode;
};

static double fd_loss(struct fd_ctx *c)
{
    const float *y = net_forward(c->net, c->x, c->n, c->mask, NULL, c->mode);
    double L = 0;
    for (long i = 0; i < (long)c->n * c->classes; i++)
        L += (double)c->r[i] * y[i];
    return L;
}

/* Central differences over every `step`-th element of the named parameters; returns failures
 * (|num - ana| > atol + rtol * max) and counts checked. */
static long fd_check(struct fd_ctx *c, const char *const *names, int nnames, int step, float h,
                     double atol, double rtol, long *checked)
{
    /* analytic */
    CU_ASSERT_PTR_NOT_NULL(net_forward(c->net, c->x, c->n, c->mask, NULL, NET_TRAIN));
    CU_ASSERT_EQUAL(net_backward(c->net, c->r, NULL, NULL), 0);
    long failed = 0;
    for (int k = 0; k < nnames; k++) {
        struct net_param *p = find_param(c->net, names[k]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        float *ana = malloc(sizeof(float) * (size_t)p->count);
        memcpy(ana, p->grad, sizeof(float) * (size_t)p->count);
        for (long j = 0; j < p->count; j += step) {
            float keep = p->w[j];
            p->w[j] = keep + h;
            float up = p->w[j];
            double lp = fd_loss(c);
            p->w[j] = keep - h;
            float dn = p->w[j];
            double lm = fd_loss(c);
            p->w[j] = keep;
            double num = (lp - lm) / ((double)up - (double)dn);
            (*checked)++;
            if (fabs(num - ana[j]) > atol + rtol * fmax(fabs(num), fabs(ana[j]))) {
                failed++;
                printf("\n    %s[%ld]: numeric %.6g analytic %.6g", names[k], j, num, ana[j]);
            }
        }
        free(ana);
    }
    return failed;
}

static const char *const RESNET8_PARAMS[] = {
    "b0.u0.conv.w", "b0.u0.bn.gamma", "b1.u0.conv.w", "b1.u1.conv.w", "b1.u1.bn.beta",
    "b2.proj.conv.w", "b2.proj.bn.gamma", "b2.u0.conv.w", "b2.u1.conv.w", "b3.proj.conv.w",
    "b3.u0.conv.w", "b3.u1.bn.gamma", "fc.w", "fc.b",
};

/* Float ResNet-8 (stem, 3 blocks, two projections), whole backward vs central differences;
 * then the same with a skip mask (gathered k-sample blocks). Tolerance: 3e-3 + 3 % (h = 1e-4 in
 * float); a ReLU kink crossed by the +-h perturbation breaks single entries (the errors shrink
 * with h, they are not systematic): at most 2 % may fail. */
static void test_float_backward_fd(void)
{
    enum { N = 3, C = 3, HW = 8, K = 3 };
    struct net *net = make(NET_RESNET, 8, 2, C, HW, HW, K, net_precision_float(), 11);
    float x[N * C * HW * HW], r[N * K];
    fill(x, N * C * HW * HW, 1, -1.0f, 1.0f);
    fill(r, N * K, 2, -1.0f, 1.0f);
    struct fd_ctx c = { net, x, r, NULL, N, K, NET_TRAIN };
    long checked = 0;
    int np = (int)(sizeof RESNET8_PARAMS / sizeof RESNET8_PARAMS[0]);
    long failed = fd_check(&c, RESNET8_PARAMS, np, 1, 1e-4f, 3e-3, 3e-2, &checked);
    CU_ASSERT(checked > 300);
    CU_ASSERT(failed * 50 <= checked);

    /* skipping: block 1 runs samples {0, 2}, block 2 sample {1} only, block 3 all */
    uint8_t mask[3 * N] = { 1, 1, 1, 1, 0, 1, 0, 1, 0 };
    c.mask = mask;
    checked = 0;
    failed = fd_check(&c, RESNET8_PARAMS, np, 1, 1e-4f, 3e-3, 3e-2, &checked);
    CU_ASSERT(failed * 50 <= checked);
    const uint8_t *m = net_block_mask(net);
    CU_ASSERT_EQUAL(memcmp(m, mask, sizeof mask), 0);
    net_free(net);
}

/* Soft SLU gates (m = p, every sample computed): the whole backward, gates included, against
 * central differences. This checks dL/dm = <g_out, o - sc>, the BPTT through the shared LSTM,
 * and the gates' gradient into the block inputs. */
static void test_slu_soft_fd(void)
{
    enum { N = 3, C = 3, HW = 8, K = 3 };
    struct net *net = make(NET_RESNET, 14, 2, C, HW, HW, K, net_precision_float(), 21);
    CU_ASSERT_EQUAL_FATAL(net_set_slu(net, 1, GATE_SOFT), 0);
    struct net_param *p;
    int np = net_params(net, &p);
    for (int i = 0; i < np; i++)   /* gates with more signal than their init */
        if (p[i].kind == NET_PARAM_GATE)
            fill(p[i].w, p[i].count, 100 + i, -0.5f, 0.5f);
    float x[N * C * HW * HW], r[N * K];
    fill(x, N * C * HW * HW, 3, -1.0f, 1.0f);
    fill(r, N * K, 4, -1.0f, 1.0f);
    struct fd_ctx c = { net, x, r, NULL, N, K, NET_TRAIN };
    static const char *const names[] = {
        "gate0.embed.w", "gate2.embed.w", "gate4.embed.b", "gate.lstm.w_ih", "gate.lstm.w_hh",
        "gate.lstm.b_ih", "gate.proj.w", "gate.proj.b", "b1.u0.conv.w", "b2.u1.conv.w",
        "b3.proj.conv.w", "b5.u0.conv.w",
    };
    long checked = 0;
    long failed = fd_check(&c, names, (int)(sizeof names / sizeof names[0]), 1, 1e-4f, 3e-3, 3e-2,
                           &checked);
    CU_ASSERT(checked > 500);
    CU_ASSERT(failed * 50 <= checked);
    /* the gate gradients are not trivially zero */
    double gsum = 0;
    for (int i = 0; i < np; i++)
        if (p[i].kind == NET_PARAM_GATE)
            for (long j = 0; j < p[i].count; j++)
                gsum += fabs(p[i].grad[j]);
    CU_ASSERT(gsum > 1e-3);
    net_free(net);
}

/* GATE_MIXED (the authors' code, for analysis) draws the same decisions as GATE_BERNOULLI, but
 * computes every sample of every gated block, and its records say so (e2sim prices what runs);
 * GATE_BERNOULLI's records count only the samples that ran. */
static void test_slu_mixed_computes_all(void)
{
    enum { N = 8, C = 3, HW = 8, K = 3 };
    struct net *net = make(NET_RESNET, 14, 2, C, HW, HW, K, net_precision_float(), 41);
    CU_ASSERT_EQUAL_FATAL(net_set_slu(net, 1, GATE_BERNOULLI), 0);
    int nb = net_blocks(net);
    float x[N * C * HW * HW];
    fill(x, N * C * HW * HW, 7, -1.0f, 1.0f);
    struct rec_log rb = { 0 }, rm = { 0 };
    struct op_sink sb = { rec_emit, &rb }, sm = { rec_emit, &rm };
    net_set_iteration(net, 5);
    CU_ASSERT_PTR_NOT_NULL_FATAL(net_forward(net, x, N, NULL, &sb, NET_TRAIN));
    uint8_t mask[6 * N];
    CU_ASSERT_EQUAL_FATAL(nb, 6);
    memcpy(mask, net_block_mask(net), sizeof mask);
    int skipped = 0;
    for (int i = N; i < nb * N; i++)
        skipped += !mask[i];
    CU_ASSERT(skipped > 0);   /* p near 0.5 at init: some draws skip */
    CU_ASSERT_EQUAL_FATAL(net_set_slu(net, 1, GATE_MIXED), 0);   /* the same gates */
    CU_ASSERT_PTR_NOT_NULL_FATAL(net_forward(net, x, N, NULL, &sm, NET_TRAIN));
    CU_ASSERT_EQUAL(memcmp(mask, net_block_mask(net), sizeof mask), 0);   /* same draws */
    int partial_b = 0, partial_m = 0;
    for (int i = 0; i < rb.n; i++)
        partial_b += rb.r[i].kind == OP_CONV && rb.r[i].n < N;
    for (int i = 0; i < rm.n; i++)
        partial_m += rm.r[i].kind == OP_CONV && rm.r[i].n < N;
    CU_ASSERT(partial_b > 0);
    CU_ASSERT_EQUAL(partial_m, 0);
    free(rb.r);
    free(rm.r);
    net_free(net);
}

/* Hard gates (p > 0.5) with the straight-through rule dL/dp = dL/dm. With no task gradient and
 * a cost gradient c on the first gate's decisions only, the gate parameters' gradient must be
 * d/dtheta sum_i c_i p_i (no later gate sees an effect of these decisions through the blocks
 * that the straight-through rule, but not the hard forward, would differentiate), which central
 * differences of the gate's p give while no decision flips. */
static void test_slu_straight_through(void)
{
    enum { N = 4, C = 3, HW = 8, K = 3 };
    struct net *net = make(NET_RESNET, 14, 2, C, HW, HW, K, net_precision_float(), 31);
    CU_ASSERT_EQUAL_FATAL(net_set_slu(net, 1, GATE_THRESHOLD), 0);
    int nb = net_blocks(net);
    float x[N * C * HW * HW], zero[N * K] = { 0 }, cst[6 * N] = { 0 };
    fill(x, N * C * HW * HW, 5, -1.0f, 1.0f);
    fill(cst + N, N, 6, -1.0f, 1.0f);   /* block 1 = gate 0 */
    net_set_iteration(net, 3);
    CU_ASSERT_PTR_NOT_NULL(net_forward(net, x, N, NULL, NULL, NET_TRAIN));
    CU_ASSERT_EQUAL(net_backward(net, zero, cst, NULL), 0);
    struct net_param *p;
    int np = net_params(net, &p);
    long checked = 0, failed = 0;
    double nonzero = 0;
    for (int i = 0; i < np; i++) {
        if (p[i].kind != NET_PARAM_GATE)
            continue;
        float *ana = malloc(sizeof(float) * (size_t)p[i].count);
        memcpy(ana, p[i].grad, sizeof(float) * (size_t)p[i].count);
        for (long j = 0; j < p[i].count; j++) {
            double L[2];
            float keep = p[i].w[j], at[2];
            for (int s = 0; s < 2; s++) {
                p[i].w[j] = keep + (s ? -1e-3f : 1e-3f);
                at[s] = p[i].w[j];
                net_forward(net, x, N, NULL, NULL, NET_TRAIN);
                const float *pr = net_gate_prob(net);
                L[s] = 0;
                for (int k = N; k < nb * N; k++)
                    L[s] += (double)cst[k] * pr[k];
            }
            p[i].w[j] = keep;
            double num = (L[0] - L[1]) / ((double)at[0] - (double)at[1]);
            checked++;
            nonzero += fabs(ana[j]);
            if (fabs(num - ana[j]) > 1e-4 + 1e-2 * fmax(fabs(num), fabs(ana[j]))) {
                failed++;
                printf("\n    %s[%ld]: numeric %.6g analytic %.6g", p[i].name, j, num, ana[j]);
            }
        }
        free(ana);
    }
    CU_ASSERT(checked > 100);
    CU_ASSERT_EQUAL(failed, 0);
    CU_ASSERT(nonzero > 1e-2);
    /* the block input gradient reaches the stem: the gates' pooling path is differentiated */
    struct net_param *stem = find_param(net, "b0.u0.conv.w");
    net_forward(net, x, N, NULL, NULL, NET_TRAIN);
    net_backward(net, zero, cst, NULL);
    double g = 0;
    for (long j = 0; j < stem->count; j++)
        g += fabs(stem->grad[j]);
    CU_ASSERT(g > 0);
    net_free(net);
}

/* ---- skipping is real ---- */

static void test_skip_records_and_samples(void)
{
    enum { N = 4, C = 3, HW = 8, K = 5 };
    struct net *net = make(NET_RESNET, 14, 4, C, HW, HW, K, net_precision_float(), 41);
    float x[N * C * HW * HW];
    fill(x, N * C * HW * HW, 7, -1.0f, 1.0f);
    int nb = net_blocks(net);   /* 6 */
    CU_ASSERT_EQUAL_FATAL(nb, 6);
    uint8_t mask[6 * N];
    memset(mask, 1, sizeof mask);
    memset(mask + 1 * N, 0, N);                  /* block 1 (identity shortcut): nobody */
    mask[2 * N + 1] = mask[2 * N + 3] = 0;       /* block 2 (projection): samples 0, 2 */
    mask[4 * N + 0] = 0;                         /* block 4: 1, 2, 3 */

    uint16_t b2_conv = find_param(net, "b2.u0.conv.w")->layer;   /* skippable block 1 */
    uint16_t b3_conv = find_param(net, "b3.u0.conv.w")->layer;
    uint16_t b3_proj = find_param(net, "b3.proj.conv.w")->layer;

    struct rec_log log = { 0 };
    struct op_sink sink = { rec_emit, &log };
    net_forward(net, x, N, mask, &sink, NET_TRAIN);
    const float *dl;
    int labels[N] = { 0, 1, 2, 3 };
    net_loss(net, labels, &dl, &sink);
    CU_ASSERT_EQUAL(net_backward(net, dl, NULL, &sink), 0);
    int none_b2 = 1, seen_b3 = 0, seen_proj = 0;
    uint64_t macs_fwd = 0;
    for (int i = 0; i < log.n; i++) {
        const struct oprec *r = &log.r[i];
        if (r->layer >= b2_conv && r->layer <= b2_conv + 6)   /* conv, bn, relu, conv, bn, add, relu */
            none_b2 = 0;
        if (r->layer >= b3_conv && r->layer <= b3_conv + 6) {
            seen_b3++;
            CU_ASSERT_EQUAL(r->n, 2);
        }
        if (r->layer == b3_proj) {
            seen_proj++;
            CU_ASSERT_EQUAL(r->n, N);    /* the projection shortcut runs on every sample */
        }
        if (r->phase == OP_PHASE_FWD)
            macs_fwd += oprec_macs(r);
    }
    CU_ASSERT(none_b2);
    CU_ASSERT(seen_b3 >= 7 + 7);
    CU_ASSERT(seen_proj == 3);
    /* MACs fell by what was skipped */
    uint64_t full = net_forward_macs(net) * N;
    uint64_t saved = net_block_macs(net, 1) * N + net_block_macs(net, 2) * 2 + net_block_macs(net, 4);
    CU_ASSERT_EQUAL(macs_fwd, full - saved);
    struct net_param *p;
    int np = net_params(net, &p);
    for (int i = 0; i < np; i++)
        if (!strncmp(p[i].name, "b2.u", 4) && p[i].grad) {
            CU_ASSERT_EQUAL(p[i].active, 0);
            for (long j = 0; j < p[i].count; j++)
                CU_ASSERT_EQUAL(p[i].grad[j], 0.0f);
        }
    free(log.r);

    /* Evaluation: a sample's logits do not depend on the rest of the minibatch or on how the
     * blocks were gathered: each sample alone with its own mask column gives the same. */
    const float *y = net_forward(net, x, N, mask, NULL, NET_EVAL);
    float all[N * K];
    memcpy(all, y, sizeof all);
    for (int i = 0; i < N; i++) {
        uint8_t mi[6];
        for (int b = 0; b < 6; b++)
            mi[b] = mask[b * N + i];
        const float *yi = net_forward(net, x + (long)i * C * HW * HW, 1, mi, NULL, NET_EVAL);
        for (int k = 0; k < K; k++)
            CU_ASSERT(fabsf(yi[k] - all[i * K + k]) <= 1e-5f * (1 + fabsf(yi[k])));
    }
    net_free(net);
}

/* ---- net_emit_iteration == a real iteration ---- */

static int same_records(const struct rec_log *a, const struct rec_log *b, int ignore_psg)
{
    if (a->n != b->n) {
        printf("\n    record counts differ: %d vs %d", a->n, b->n);
        return 0;
    }
    for (int i = 0; i < a->n; i++) {
        struct oprec x = a->r[i], y = b->r[i];
        if (ignore_psg)
            x.psg_full_q16 = y.psg_full_q16 = 0;
        if (!oprec_equal(&x, &y)) {
            printf("\n    record %d differs: layer %d/%d kind %d/%d phase %d/%d n %u/%u", i, x.layer,
                   y.layer, x.kind, y.kind, x.phase, y.phase, x.n, y.n);
            return 0;
        }
    }
    return 1;
}

static void one_case(struct net *net, const uint8_t *mask, const struct optim_config *oc,
                     int psg, int n)
{
    int C = 3, HW = 8;
    float *x = malloc(sizeof(float) * (size_t)n * C * HW * HW);
    fill(x, (long)n * C * HW * HW, 9, -1.0f, 1.0f);
    int labels[16];
    for (int i = 0; i < n; i++)
        labels[i] = i % net_classes(net);
    struct net_param *p;
    int np = net_params(net, &p);
    struct optim *o = optim_create(p, np, oc);
    struct rec_log real = { 0 }, dry = { 0 };
    struct op_sink rs = { rec_emit, &real }, ds = { rec_emit, &dry };
    net_set_iteration(net, 1);
    CU_ASSERT_PTR_NOT_NULL(net_forward(net, x, n, mask, &rs, NET_TRAIN));
    const float *dl;
    net_loss(net, labels, &dl, &rs);
    CU_ASSERT_EQUAL(net_backward(net, dl, NULL, &rs), 0);
    CU_ASSERT_EQUAL(optim_step(o, p, np, 0.1f, &rs), 0);
    int nb = net_blocks(net), active[64];
    const uint8_t *m = net_block_mask(net);
    for (int b = 0; b < nb; b++) {
        active[b] = 0;
        for (int i = 0; i < n; i++)
            active[b] += m[b * n + i];
    }
    struct psg_stats tot = psg_total(p, np);
    float frac = tot.count ? (float)(tot.count - tot.predictor) / (float)tot.count : 0.0f;
    CU_ASSERT_EQUAL(net_emit_iteration(net, n, active, frac, oc, &ds), 0);
    CU_ASSERT(same_records(&real, &dry, psg));
    int msb_seen = 0;
    for (int i = 0; i < real.n; i++)
        if (real.r[i].kind == OP_CONV && real.r[i].phase == OP_PHASE_BWD_WEIGHT)
            msb_seen += real.r[i].msb_a == 4 && real.r[i].msb_b == 10;
    if (psg)
        CU_ASSERT(msb_seen > 0);
    free(real.r);
    free(dry.r);
    optim_free(o);
    free(x);
}

static void test_emit_iteration_equals_real(void)
{
    enum { N = 6 };
    /* float, a stochastic-depth-like mask, SGD */
    struct net *net = make(NET_RESNET, 14, 4, 3, 8, 8, 10, net_precision_float(), 51);
    uint8_t mask[6 * N];
    memset(mask, 1, sizeof mask);
    memset(mask + 2 * N, 0, N);
    mask[3 * N + 2] = 0;
    mask[5 * N + 0] = mask[5 * N + 5] = 0;
    struct optim_config sgd = { OPTIM_SGD, 0.9f, 1e-4f };
    one_case(net, mask, &sgd, 0, N);
    net_free(net);

    /* fixed 8/8/16 + PSG + SLU (threshold) + PSG update rule */
    net = make(NET_RESNET, 14, 4, 3, 8, 8, 10, net_precision_fixed(8, 8, 16), 52);
    struct psg_config pc = { 4, 10, PSG_TAU_GW, 0.05f, 0.0f };
    CU_ASSERT_EQUAL(net_set_psg(net, &pc), 0);
    CU_ASSERT_EQUAL(net_set_slu(net, 1, GATE_BERNOULLI), 0);
    struct optim_config psg = { OPTIM_PSG, 0.9f, 1e-4f };
    one_case(net, NULL, &psg, 1, N);
    net_free(net);

    /* fixed8 with float gradients (Banner et al.), MobileNetV2 at a small width */
    struct net_precision f8 = net_precision_fixed(8, 8, 32);
    net = make(NET_MOBILENETV2, 0, 8, 3, 8, 8, 10, f8, 53);
    uint8_t m2[10 * 2];
    memset(m2, 1, sizeof m2);
    m2[3 * 2] = 0;
    m2[7 * 2 + 1] = m2[7 * 2] = 0;
    one_case(net, m2, &sgd, 0, 2);
    net_free(net);
}

/* A net that never ran (no work buffers) emits the same dry records as one that has trained:
 * emission follows the network's structure, not which buffers exist. */
static void fresh_vs_trained(struct net_precision prec, int psg_slu, uint64_t seed)
{
    enum { N = 4 };
    struct net *fresh = make(NET_RESNET, 8, 4, 3, 8, 8, 10, prec, seed);
    struct net *trained = make(NET_RESNET, 8, 4, 3, 8, 8, 10, prec, seed);
    struct psg_config pc = { 4, 10, PSG_TAU_GW, 0.05f, 0.0f };
    struct optim_config oc = { psg_slu ? OPTIM_PSG : OPTIM_SGD, 0.9f, 1e-4f };
    if (psg_slu)
        for (int i = 0; i < 2; i++) {
            struct net *net = i ? trained : fresh;
            CU_ASSERT_EQUAL(net_set_psg(net, &pc), 0);
            CU_ASSERT_EQUAL(net_set_slu(net, 1, GATE_BERNOULLI), 0);
        }
    float x[N * 3 * 8 * 8];
    fill(x, N * 3 * 8 * 8, 21, -1.0f, 1.0f);
    int labels[N] = { 0, 1, 2, 3 };
    CU_ASSERT_PTR_NOT_NULL(net_forward(trained, x, N, NULL, NULL, NET_TRAIN));
    const float *dl;
    net_loss(trained, labels, &dl, NULL);
    CU_ASSERT_EQUAL(net_backward(trained, dl, NULL, NULL), 0);

    int nb = net_blocks(fresh), active[16];
    CU_ASSERT_EQUAL(nb, net_blocks(trained));
    for (int b = 0; b < nb; b++)
        active[b] = b == 2 ? 1 : N;   /* one block partly skipped */
    struct rec_log a = { 0 }, b = { 0 };
    struct op_sink sa = { rec_emit, &a }, sb = { rec_emit, &b };
    CU_ASSERT_EQUAL(net_emit_iteration(fresh, N, active, 0.5f, &oc, &sa), 0);
    CU_ASSERT_EQUAL(net_emit_iteration(trained, N, active, 0.5f, &oc, &sb), 0);
    CU_ASSERT(a.n > 0);
    CU_ASSERT(same_records(&a, &b, 0));
    int bwd_data = 0, add_fwd = 0;
    for (int i = 0; i < a.n; i++) {
        bwd_data += a.r[i].kind == OP_CONV && a.r[i].phase == OP_PHASE_BWD_DATA;
        add_fwd += a.r[i].kind == OP_ADD && a.r[i].phase == OP_PHASE_FWD;
    }
    CU_ASSERT(bwd_data > 0);   /* every conv but the stem's */
    CU_ASSERT_EQUAL(add_fwd, 3);   /* ResNet-8: three residual blocks */
    free(a.r);
    free(b.r);
    net_free(fresh);
    net_free(trained);
}

static void test_emit_iteration_fresh_net(void)
{
    fresh_vs_trained(net_precision_float(), 0, 61);
    fresh_vs_trained(net_precision_fixed(8, 8, 16), 1, 62);
}

/* ---- PSG limits on a real net ---- */

static void conv_grads(struct net *net, const float *x, int n, float **out, long *count, int *nconv)
{
    net_set_iteration(net, 7);
    net_forward(net, x, n, NULL, NULL, NET_TRAIN);
    const float *dl;
    int labels[8] = { 0, 1, 2, 3, 0, 1, 2, 3 };
    net_loss(net, labels, &dl, NULL);
    net_backward(net, dl, NULL, NULL);
    struct net_param *p;
    int np = net_params(net, &p), k = 0;
    for (int i = 0; i < np; i++)
        if (p[i].kind == NET_PARAM_CONV) {
            out[k] = malloc(sizeof(float) * (size_t)p[i].count);
            memcpy(out[k], p[i].grad, sizeof(float) * (size_t)p[i].count);
            count[k++] = p[i].count;
        }
    *nconv = k;
}

static void test_psg_limits(void)
{
    enum { N = 4, C = 3, HW = 8 };
    float x[N * C * HW * HW];
    fill(x, N * C * HW * HW, 13, -1.0f, 1.0f);
    struct net_precision q = net_precision_fixed(8, 8, 16);
    float *g0[32], *g1[32], *g2[32];
    long cnt[32];
    int nc;
    struct net *a = make(NET_RESNET, 8, 4, C, HW, HW, 4, q, 61);
    conv_grads(a, x, N, g0, cnt, &nc);
    net_free(a);

    /* tau above every |g_w^msb|: exactly SignSGD's signs of the same quantized gradient */
    struct net *b = make(NET_RESNET, 8, 4, C, HW, HW, 4, q, 61);
    struct psg_config big = { 4, 10, PSG_TAU_FIXED, 0.05f, 1e30f };
    CU_ASSERT_EQUAL(net_set_psg(b, &big), 0);
    conv_grads(b, x, N, g1, cnt, &nc);
    struct psg_stats t = psg_total(NULL, 0);
    struct net_param *p;
    int np = net_params(b, &p);
    t = psg_total(p, np);
    CU_ASSERT_EQUAL(t.predictor, 0);
    CU_ASSERT_EQUAL(t.flips, 0);
    long mism = 0, total = 0;
    for (int k = 0; k < nc; k++)
        for (long j = 0; j < cnt[k]; j++, total++)
            mism += g1[k][j] != (float)((g0[k][j] > 0) - (g0[k][j] < 0));
    CU_ASSERT_EQUAL(mism, 0);
    CU_ASSERT(total > 1000);
    net_free(b);

    /* tau = 0: every sign from the predictor; the flips are exactly the disagreements with the
     * full-path gradient's sign */
    struct net *c = make(NET_RESNET, 8, 4, C, HW, HW, 4, q, 61);
    struct psg_config zero = { 4, 10, PSG_TAU_FIXED, 0.05f, 0.0f };
    net_set_psg(c, &zero);
    conv_grads(c, x, N, g2, cnt, &nc);
    np = net_params(c, &p);
    t = psg_total(p, np);
    CU_ASSERT_EQUAL(t.predictor, t.count);
    CU_ASSERT_EQUAL(t.count, total);
    long disagree = 0;
    for (int k = 0; k < nc; k++)
        for (long j = 0; j < cnt[k]; j++)
            disagree += g2[k][j] != (float)((g0[k][j] > 0) - (g0[k][j] < 0));
    CU_ASSERT_EQUAL(disagree, t.flips);
    CU_ASSERT(t.flips > 0 && t.flips < t.count / 2);   /* predictors mostly agree */
    for (int i = 0; i < np; i++)
        if (p[i].kind == NET_PARAM_CONV)
            CU_ASSERT_EQUAL(p[i].grad_is_sign, 1);
    net_free(c);

    /* the paper's setting: adaptive tau, beta = 0.05 */
    struct net *d = make(NET_RESNET, 8, 4, C, HW, HW, 4, q, 61);
    struct psg_config ad = { 4, 10, PSG_TAU_GW, 0.05f, 0.0f };
    net_set_psg(d, &ad);
    float *g3[32];
    conv_grads(d, x, N, g3, cnt, &nc);
    np = net_params(d, &p);
    t = psg_total(p, np);
    CU_ASSERT(t.predictor > 0 && t.predictor < t.count);
    for (int k = 0; k < nc; k++) {
        free(g0[k]);
        free(g1[k]);
        free(g2[k]);
        free(g3[k]);
    }
    net_free(d);
}

/* ---- fixed point tracks float ---- */

static void test_fixed_tracks_float(void)
{
    enum { N = 8, C = 3, HW = 8 };
    float x[N * C * HW * HW];
    fill(x, N * C * HW * HW, 17, -1.0f, 1.0f);
    float *gf[32], *gq[32];
    long cnt[32];
    int nc;
    struct net *a = make(NET_RESNET, 8, 8, C, HW, HW, 4, net_precision_float(), 71);
    conv_grads(a, x, N, gf, cnt, &nc);
    struct fx_stats s0 = net_fx_stats(a);
    CU_ASSERT_EQUAL(s0.quantized, 0);
    net_free(a);
    struct net *b = make(NET_RESNET, 8, 8, C, HW, HW, 4, net_precision_fixed(8, 8, 16), 71);
    conv_grads(b, x, N, gq, cnt, &nc);
    struct fx_stats s1 = net_fx_stats(b);
    CU_ASSERT(s1.quantized > 0);
    CU_ASSERT(s1.acc_sums > 0);
    CU_ASSERT_EQUAL(s1.acc_overflows, 0);
    net_free(b);
    for (int k = 0; k < nc; k++) {
        double dot = 0, na = 0, nb = 0;
        for (long j = 0; j < cnt[k]; j++) {
            dot += (double)gf[k][j] * gq[k][j];
            na += (double)gf[k][j] * gf[k][j];
            nb += (double)gq[k][j] * gq[k][j];
        }
        double cosine = dot / sqrt(na * nb + 1e-30);
        CU_ASSERT(cosine > 0.95);
        if (cosine <= 0.95)
            printf("\n    conv %d: cosine %.4f", k, cosine);
        free(gf[k]);
        free(gq[k]);
    }
}

/* ---- BN re-estimation for SWA ---- */

/* ---- the same bits for any thread count ---- */

/* Two iterations of a ResNet-14 with Bernoulli SLU gates on N samples of HW x HW: fixed point
 * with PSG and stochastic rounding, or float with SGD; a hash of every parameter afterwards. */
static uint64_t train_hash_of(int threads, int fixed, int N, int HW)
{
    enum { C = 3 };
    omp_set_num_threads(threads);
    struct net_precision q = fixed ? net_precision_fixed(8, 8, 16) : net_precision_float();
    q.stochastic = fixed;
    struct net *net = make(NET_RESNET, 14, 8, C, HW, HW, 10, q, 91);
    struct psg_config pc = { 4, 10, PSG_TAU_GW, 0.05f, 0.0f };
    if (fixed)
        net_set_psg(net, &pc);
    net_set_slu(net, 1, GATE_BERNOULLI);
    float *x = malloc(sizeof(float) * (size_t)N * C * HW * HW);
    int *labels = malloc(sizeof(int) * (size_t)N);
    fill(x, N * C * HW * HW, 23, -1.0f, 1.0f);
    for (int i = 0; i < N; i++)
        labels[i] = i % 10;
    struct net_param *p;
    int np = net_params(net, &p);
    struct optim_config oc = { fixed ? OPTIM_PSG : OPTIM_SGD, 0.9f, 1e-4f };
    struct optim *o = optim_create(p, np, &oc);
    for (int it = 0; it < 2; it++) {
        net_set_iteration(net, (uint64_t)it);
        net_forward(net, x, N, NULL, NULL, NET_TRAIN);
        const float *dl;
        net_loss(net, labels, &dl, NULL);
        net_backward(net, dl, NULL, NULL);
        optim_step(o, p, np, 0.05f, NULL);
    }
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < np; i++) {
        const unsigned char *b = (const unsigned char *)p[i].w;
        for (long j = 0; j < p[i].count * (long)sizeof(float); j++)
            h = (h ^ b[j]) * 1099511628211ull;
    }
    optim_free(o);
    net_free(net);
    free(x);
    free(labels);
    omp_set_num_threads(1);
    return h;
}

static uint64_t train_hash(int threads, int fixed) { return train_hash_of(threads, fixed, 16, 8); }

static void test_fixed_thread_independent(void)
{
    CU_ASSERT_EQUAL(train_hash(1, 1), train_hash(2, 1));
}

/* The same with tensors past the size at which the element-wise passes, the gates' pooling and
 * the skipped samples' copies go parallel (64 K values). */
static void test_fixed_thread_independent_large(void)
{
    CU_ASSERT_EQUAL(train_hash_of(1, 1, 64, 16), train_hash_of(2, 1, 64, 16));
}

/* Float training too (docs/numbers.md): the 1x1 projection's backward-weight used to sum one
 * partial per thread, so float runs differed between 1 and 2 threads. */
static void test_float_thread_independent(void)
{
    CU_ASSERT_EQUAL(train_hash(1, 0), train_hash(2, 0));
}

int main(void)
{
    /* Tiny shapes: with several threads on a busy machine, thread start-up dominates. Results do
     * not depend on the thread count (kernels' contract). */
    omp_set_num_threads(1);
    CU_TestInfo tests[] = {
        { "emitted records add up to the MAC count", test_emit_macs },
        { "float backward vs central differences (with skipping)", test_float_backward_fd },
        { "soft SLU gates vs central differences", test_slu_soft_fd },
        { "straight-through gate gradient", test_slu_straight_through },
        { "mixed gates compute every sample", test_slu_mixed_computes_all },
        { "skipped samples are not computed", test_skip_records_and_samples },
        { "net_emit_iteration equals a real iteration", test_emit_iteration_equals_real },
        { "net_emit_iteration: fresh net == trained net", test_emit_iteration_fresh_net },
        { "PSG with tau = 0 and tau = inf", test_psg_limits },
        { "fixed point tracks float", test_fixed_tracks_float },
        { "fixed point: same bits for 1 and 2 threads", test_fixed_thread_independent },
        { "fixed point: same bits for 1 and 2 threads, large tensors", test_fixed_thread_independent_large },
        { "float: same bits for 1 and 2 threads", test_float_thread_independent },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("net", NULL, NULL, tests);
}
