/* One conv unit's passes (kernels/net_unit.c), seen through a training iteration of a small
 * fixed-point ResNet with PSG: every conv record carries the operand widths its quantizers used
 * (8-bit x and w forward, 16-bit g_y backward, the 48-bit accumulator) and, on the
 * backward-weight pass, PSG's predictor widths and the full-path fraction of that layer's sign
 * choice; the chosen signs are -1, 0 or +1. A float net's records say 32 bits everywhere. */
#include "cunit_main.h"
#include <stdlib.h>
#include <string.h>
#include "net.h"
#include "rng.h"

enum { N = 2, C = 3, HW = 8 };

struct log {
    struct oprec r[512];
    int n;
};

static void keep(void *ctx, const struct oprec *r)
{
    struct log *l = ctx;
    if (l->n < 512)
        l->r[l->n++] = *r;
}

/* One forward, loss and backward; the records in log. */
static struct net *iteration(struct net_precision prec, const struct psg_config *psg,
                             struct log *log)
{
    struct net *net = NULL;
    CU_ASSERT_EQUAL(net_create(NET_RESNET, 8, 4, C, HW, HW, 10, NET_DEFAULT, &prec, 9, &net), 0);
    if (!net)
        return NULL;
    CU_ASSERT_EQUAL(net_set_psg(net, psg), 0);
    float x[N * C * HW * HW];
    uint64_t key = rng_key(13, 2);
    for (int i = 0; i < N * C * HW * HW; i++)
        x[i] = rng_uniform(key, (uint64_t)i) - 0.25f;
    int labels[N] = { 3, 8 };
    const float *dl;
    struct op_sink sink = { keep, log };
    log->n = 0;
    CU_ASSERT_PTR_NOT_NULL(net_forward(net, x, N, NULL, &sink, NET_TRAIN));
    net_loss(net, labels, &dl, &sink);
    CU_ASSERT_EQUAL(net_backward(net, dl, NULL, &sink), 0);
    return net;
}

static const struct net_param *conv_param(struct net *net, uint16_t layer)
{
    struct net_param *p;
    int np = net_params(net, &p);
    for (int i = 0; i < np; i++)
        if (p[i].kind == NET_PARAM_CONV && p[i].layer == layer)
            return &p[i];
    return NULL;
}

static void test_fixed_point_records(void)
{
    struct psg_config psg = { 4, 10, PSG_TAU_GW, 0.05f, 0.0f };
    struct log *log = calloc(1, sizeof *log);
    struct net *net = iteration(net_precision_fixed(8, 8, 16), &psg, log);
    CU_ASSERT_PTR_NOT_NULL_FATAL(net);
    int fwd = 0, bwd_weight = 0, some_predictor = 0;
    for (int i = 0; i < log->n; i++) {
        const struct oprec *r = &log->r[i];
        if (r->kind != OP_CONV)
            continue;
        if (r->phase == OP_PHASE_FWD) {
            fwd++;
            CU_ASSERT(r->bits_a == 8 && r->bits_b == 8 && r->bits_acc == 48);
            CU_ASSERT(r->msb_a == 0 && r->msb_b == 0);
        } else if (r->phase == OP_PHASE_BWD_DATA) {
            CU_ASSERT(r->bits_a == 16 && r->bits_b == 8 && r->bits_acc == 48);
        } else if (r->phase == OP_PHASE_BWD_WEIGHT) {
            bwd_weight++;
            CU_ASSERT(r->bits_a == 8 && r->bits_b == 16 && r->bits_acc == 48);
            CU_ASSERT(r->msb_a == 4 && r->msb_b == 10);
            const struct net_param *p = conv_param(net, r->layer);
            CU_ASSERT_PTR_NOT_NULL_FATAL(p);
            CU_ASSERT(p->grad_is_sign);
            CU_ASSERT_EQUAL(p->psg.count, p->count);
            CU_ASSERT_EQUAL(r->psg_full_q16, psg_full_q16(&p->psg));
            some_predictor |= p->psg.predictor > 0;
            int signs = 1;
            for (long j = 0; j < p->count; j++)
                signs &= p->grad[j] == -1.0f || p->grad[j] == 0.0f || p->grad[j] == 1.0f;
            CU_ASSERT(signs);
        }
    }
    CU_ASSERT_EQUAL(fwd, 9);          /* ResNet-8: stem, 3 blocks of 2 convs, 2 projections */
    CU_ASSERT_EQUAL(bwd_weight, 9);
    CU_ASSERT(some_predictor);
    net_free(net);
    free(log);
}

static void test_float_records(void)
{
    struct log *log = calloc(1, sizeof *log);
    struct net *net = iteration(net_precision_float(), NULL, log);
    CU_ASSERT_PTR_NOT_NULL_FATAL(net);
    int convs = 0;
    for (int i = 0; i < log->n; i++) {
        const struct oprec *r = &log->r[i];
        if (r->kind != OP_CONV)
            continue;
        convs++;
        CU_ASSERT(r->bits_a == 32 && r->bits_b == 32 && r->bits_acc == 32);
        CU_ASSERT(r->msb_a == 0 && r->psg_full_q16 == 0);
    }
    CU_ASSERT_EQUAL(convs, 9 + 9 + 8);   /* the stem computes no input gradient */
    net_free(net);
    free(log);
}

/* Training in fixed point, a block's first unit never writes its output: the next conv
 * quantizes it straight from the saved conv output (unit_forward); nor does its last unit: the
 * block's add applies that unit's BN itself (add_bn_act). NET_BN_RECOMPUTE uses the
 * same batch statistics and rounding keys but saves nothing, so it writes every output and
 * quantizes it: the logits of the two must be equal bit for bit, with nearest and with
 * stochastic rounding (whose draws follow each value's index in its tensor). */
static void test_unwritten_output_same_codes(void)
{
    enum { B = 3, S = 16 };
    float x[B * C * S * S];
    uint64_t key = rng_key(21, 2);
    for (int i = 0; i < B * C * S * S; i++)
        x[i] = rng_uniform(key, (uint64_t)i) * 2.0f - 1.0f;
    for (int stochastic = 0; stochastic <= 1; stochastic++) {
        struct net_precision prec = net_precision_fixed(8, 8, 16);
        prec.stochastic = stochastic;
        struct net *net = NULL;
        CU_ASSERT_EQUAL_FATAL(net_create(NET_RESNET, 8, 4, C, S, S, 10, NET_DEFAULT, &prec, 9, &net), 0);
        float train[B * 10], recompute[B * 10];
        const float *l = net_forward(net, x, B, NULL, NULL, NET_TRAIN);
        CU_ASSERT_PTR_NOT_NULL_FATAL(l);
        memcpy(train, l, sizeof train);
        net_bn_reset(net);
        l = net_forward(net, x, B, NULL, NULL, NET_BN_RECOMPUTE);
        CU_ASSERT_PTR_NOT_NULL_FATAL(l);
        memcpy(recompute, l, sizeof recompute);
        CU_ASSERT_EQUAL(memcmp(train, recompute, sizeof train), 0);
        net_free(net);
    }
}

int main(void)
{
    CU_TestInfo tests[] = {
        { "fixed point with PSG: widths and PSG facts", test_fixed_point_records },
        { "float: 32 bits everywhere", test_float_records },
        { "an unwritten unit output gives the written one's codes", test_unwritten_output_same_codes },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("net_unit", NULL, NULL, tests);
}
