/* Building the network (kernels/net_build.c): the arguments net_create refuses, the two
 * precision presets, He-initialized weights that depend on the seed only, and the memory a net
 * holds growing with the largest batch it has seen (and not beyond). */
#include "cunit_main.h"
#include <math.h>
#include <string.h>
#include "net.h"

static int create(int c, int hw, int classes, struct net_precision prec, uint64_t seed,
                  struct net **out)
{
    return net_create(NET_RESNET, 8, 4, c, hw, hw, classes, NET_DEFAULT, &prec, seed, out);
}

static void test_refused(void)
{
    struct net_precision f = net_precision_float(), q = net_precision_fixed(8, 8, 16);
    struct net *net = (struct net *)&f;   /* must come back NULL */
    CU_ASSERT_EQUAL(create(0, 8, 10, f, 1, &net), -1);
    CU_ASSERT_PTR_NULL(net);
    CU_ASSERT_EQUAL(create(3, 3, 10, f, 1, &net), -1);      /* smaller than 4x4 */
    CU_ASSERT_EQUAL(create(3, 8, 1, f, 1, &net), -1);       /* one class */
    CU_ASSERT_EQUAL(create(3, 8, 65536, f, 1, &net), -1);
    q.weights = 1;
    CU_ASSERT_EQUAL(create(3, 8, 10, q, 1, &net), -1);      /* 2..16 or 32 bits */
    q.weights = 17;
    CU_ASSERT_EQUAL(create(3, 8, 10, q, 1, &net), -1);
    q = net_precision_fixed(8, 8, 16);
    q.accumulator = 7;
    CU_ASSERT_EQUAL(create(3, 8, 10, q, 1, &net), -1);
    CU_ASSERT_EQUAL(net_create(NET_MOBILENETV2 + 1, 8, 4, 3, 8, 8, 10, NET_DEFAULT, &f, 1, &net), -1);
    CU_ASSERT_EQUAL(create(3, 8, 10, f, 1, NULL), -1);
    net_free(NULL);
}

static void test_presets(void)
{
    struct net_precision f = net_precision_float(), q = net_precision_fixed(8, 6, 16);
    CU_ASSERT(f.activations == 32 && f.weights == 32 && f.grad_output == 32 &&
              f.grad_weight == 32 && f.accumulator == 32 && !f.stochastic);
    CU_ASSERT(q.activations == 8 && q.weights == 6 && q.grad_output == 16 &&
              q.grad_weight == 32 && q.accumulator == FX_ACC_BITS && !q.stochastic);
}

/* Same seed, same weights; another seed, other weights. The stem's 3x3x3 -> 4 conv has He's
 * standard deviation sqrt(2 / (9 * 4)) (loosely: 108 draws). BN starts at gamma 1, beta 0. */
static void test_init(void)
{
    struct net *a = NULL, *b = NULL, *c = NULL;
    struct net_precision f = net_precision_float();
    CU_ASSERT_EQUAL_FATAL(create(3, 8, 10, f, 7, &a), 0);
    CU_ASSERT_EQUAL_FATAL(create(3, 8, 10, f, 7, &b), 0);
    CU_ASSERT_EQUAL_FATAL(create(3, 8, 10, f, 8, &c), 0);
    struct net_param *pa, *pb, *pc;
    int np = net_params(a, &pa);
    net_params(b, &pb);
    net_params(c, &pc);
    CU_ASSERT_EQUAL(memcmp(pa[0].w, pb[0].w, sizeof(float) * (size_t)pa[0].count), 0);
    CU_ASSERT(memcmp(pa[0].w, pc[0].w, sizeof(float) * (size_t)pa[0].count) != 0);
    CU_ASSERT_EQUAL(pa[0].count, 108);
    double ss = 0;
    for (long i = 0; i < pa[0].count; i++)
        ss += (double)pa[0].w[i] * pa[0].w[i];
    double sd = sqrt(ss / (double)pa[0].count), he = sqrt(2.0 / 36.0);
    CU_ASSERT(sd > 0.7 * he && sd < 1.3 * he);
    CU_ASSERT(pa[1].w[0] == 1.0f && pa[2].w[0] == 0.0f);   /* b0.u0.bn.gamma, beta */
    CU_ASSERT(np > 3);
    net_free(a);
    net_free(b);
    net_free(c);
}

/* Buffers are sized for the largest batch so far: a smaller one reuses them. */
static void test_memory_follows_batch(void)
{
    struct net *net = NULL;
    CU_ASSERT_EQUAL_FATAL(create(3, 8, 10, net_precision_fixed(8, 8, 16), 3, &net), 0);
    size_t fresh = net_memory_bytes(net);
    float x[4 * 3 * 8 * 8];
    for (int i = 0; i < 4 * 3 * 8 * 8; i++)
        x[i] = (float)(i % 17) / 17.0f;
    CU_ASSERT_PTR_NOT_NULL(net_forward(net, x, 2, NULL, NULL, NET_TRAIN));
    size_t two = net_memory_bytes(net);
    CU_ASSERT_PTR_NOT_NULL(net_forward(net, x, 4, NULL, NULL, NET_TRAIN));
    size_t four = net_memory_bytes(net);
    CU_ASSERT_PTR_NOT_NULL(net_forward(net, x, 1, NULL, NULL, NET_TRAIN));
    CU_ASSERT(fresh < two);
    CU_ASSERT(two < four);
    CU_ASSERT_EQUAL(net_memory_bytes(net), four);
    net_free(net);
}

int main(void)
{
    CU_TestInfo tests[] = {
        { "refused arguments", test_refused },
        { "precision presets", test_presets },
        { "initialization", test_init },
        { "memory follows the largest batch", test_memory_follows_batch },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("net_build", NULL, NULL, tests);
}
