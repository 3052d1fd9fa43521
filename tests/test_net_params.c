/* The parameter table (kernels/net_params.c): its fixed order and names (checkpoints rely on
 * them), each entry's kind, shape and widths, the gates joining and leaving with SLU, and the
 * flags a backward pass leaves: a block that ran on no sample has inactive parameters. */
#include "cunit_main.h"
#include <string.h>
#include "net.h"
#include "rng.h"

enum { N = 2, C = 3, HW = 8 };

/* ResNet-8 of width 4 on 3x8x8: stem b0, blocks b1 (identity), b2 (projection), b3 (projection). */
static struct net *resnet8(struct net_precision prec)
{
    struct net *net = NULL;
    CU_ASSERT_EQUAL(net_create(NET_RESNET, 8, 4, C, HW, HW, 10, NET_DEFAULT, &prec, 5, &net), 0);
    return net;
}

static void test_order_and_shapes(void)
{
    struct net *net = resnet8(net_precision_fixed(8, 8, 16));
    CU_ASSERT_PTR_NOT_NULL_FATAL(net);
    struct net_param *p;
    int np = net_params(net, &p);
    /* 5 per unit: stem 1 + b1 2 + b2 (proj + 2) + b3 (proj + 2), then fc.w, fc.b */
    CU_ASSERT_EQUAL_FATAL(np, 5 * 9 + 2);
    const char *unit_names[9] = { "b0.u0", "b1.u0", "b1.u1", "b2.proj", "b2.u0", "b2.u1",
                                  "b3.proj", "b3.u0", "b3.u1" };
    const char *suffix[5] = { "conv.w", "bn.gamma", "bn.beta", "bn.running_mean",
                              "bn.running_var" };
    const int kind[5] = { NET_PARAM_CONV, NET_PARAM_BN, NET_PARAM_BN, NET_PARAM_BN_RUNNING,
                          NET_PARAM_BN_RUNNING };
    for (int u = 0; u < 9; u++)
        for (int j = 0; j < 5; j++) {
            char want[48];
            snprintf(want, sizeof want, "%s.%s", unit_names[u], suffix[j]);
            CU_ASSERT_STRING_EQUAL(p[5 * u + j].name, want);
            CU_ASSERT_EQUAL(p[5 * u + j].kind, kind[j]);
            CU_ASSERT_EQUAL(p[5 * u + j].grad == NULL, kind[j] == NET_PARAM_BN_RUNNING);
        }
    /* b2.proj: 1x1 conv 4 -> 8 at the stored widths; b2.u0: 3x3 conv 4 -> 8 */
    CU_ASSERT_EQUAL(p[15].count, 8 * 4);
    CU_ASSERT_EQUAL(p[15].k, 1);
    CU_ASSERT_EQUAL(p[20].count, 8 * 4 * 9);
    CU_ASSERT_EQUAL(p[20].cout, 8);
    CU_ASSERT_EQUAL(p[20].cin, 4);
    CU_ASSERT_EQUAL(p[20].k, 3);
    CU_ASSERT_EQUAL(p[20].bits_w, 8);
    CU_ASSERT_EQUAL(p[20].bits_grad, 32);   /* g_w stays float unless grad_weight is set */
    CU_ASSERT_EQUAL(p[21].bits_w, 32);      /* BN is float */
    CU_ASSERT(p[20].layer != p[21].layer);  /* the conv and its BN are two layers */
    CU_ASSERT_STRING_EQUAL(p[45].name, "fc.w");
    CU_ASSERT_EQUAL(p[45].count, 10 * 16);
    CU_ASSERT_STRING_EQUAL(p[46].name, "fc.b");
    CU_ASSERT_EQUAL(p[46].kind, NET_PARAM_FC);
    net_free(net);
}

/* SLU appends the gates' parameters (tagged SLU) and removes them again. */
static void test_gates_join_and_leave(void)
{
    struct net *net = resnet8(net_precision_float());
    CU_ASSERT_PTR_NOT_NULL_FATAL(net);
    int plain = net_params(net, NULL);
    CU_ASSERT_EQUAL(net_set_slu(net, 1, GATE_BERNOULLI), 0);
    struct net_param *p;
    int np = net_params(net, &p);
    CU_ASSERT(np > plain);
    for (int i = plain; i < np; i++) {
        CU_ASSERT_EQUAL(p[i].kind, NET_PARAM_GATE);
        CU_ASSERT_EQUAL(p[i].tech, OP_TECH_SLU);
    }
    CU_ASSERT_STRING_EQUAL(p[plain - 1].name, "fc.b");
    CU_ASSERT_EQUAL(net_set_slu(net, 0, GATE_BERNOULLI), 0);
    CU_ASSERT_EQUAL(net_params(net, NULL), plain);
    net_free(net);
}

/* Block b2 skipped for every sample: its branch's parameters are inactive (zero gradient), its
 * projection (which runs on every sample) and the rest active; BN running statistics are never
 * active (state, not trained). */
static void test_flags_after_backward(void)
{
    struct net *net = resnet8(net_precision_float());
    CU_ASSERT_PTR_NOT_NULL_FATAL(net);
    float x[N * C * HW * HW];
    uint64_t key = rng_key(11, 1);
    for (int i = 0; i < N * C * HW * HW; i++)
        x[i] = rng_uniform(key, (uint64_t)i) - 0.5f;
    uint8_t mask[3 * N];   /* [skippable block][sample]: b1, b2, b3 (the stem is not one) */
    CU_ASSERT_EQUAL_FATAL(net_blocks(net), 3);
    memset(mask, 1, sizeof mask);
    mask[1 * N] = mask[1 * N + 1] = 0;   /* b2 */
    int labels[N] = { 1, 7 };
    const float *dl;
    CU_ASSERT_PTR_NOT_NULL_FATAL(net_forward(net, x, N, mask, NULL, NET_TRAIN));
    net_loss(net, labels, &dl, NULL);
    CU_ASSERT_EQUAL_FATAL(net_backward(net, dl, NULL, NULL), 0);
    struct net_param *p;
    int np = net_params(net, &p);
    for (int i = 0; i < np; i++) {
        int in_b2_branch = !strncmp(p[i].name, "b2.u", 4);
        int want = p[i].grad && !in_b2_branch;
        CU_ASSERT_EQUAL(p[i].active, want);
        CU_ASSERT_EQUAL(p[i].grad_is_sign, 0);
        if (in_b2_branch && p[i].grad) {
            int zero = 1;
            for (long j = 0; j < p[i].count; j++)
                zero &= p[i].grad[j] == 0.0f;
            CU_ASSERT(zero);
        }
    }
    net_free(net);
}

int main(void)
{
    CU_TestInfo tests[] = {
        { "order, names, kinds and shapes", test_order_and_shapes },
        { "gates join and leave", test_gates_join_and_leave },
        { "flags after a backward with a skipped block", test_flags_after_backward },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("net_params", NULL, NULL, tests);
}
