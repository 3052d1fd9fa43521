/* The MobileNetV2 builder (kernels/mobilenetv2.c): the standard network's parameter count, its
 * skippable blocks (those with an identity shortcut), and width scaling. */
#include "cunit_main.h"
#include "net.h"

static struct net *mbv2(int width)
{
    struct net_precision f = net_precision_float();
    struct net *net = NULL;
    if (net_create(NET_MOBILENETV2, 0, width, 3, 32, 32, 10, NET_DEFAULT, &f, 1, &net))
        return NULL;
    return net;
}

static long trained_count(struct net *net)
{
    struct net_param *p;
    int np = net_params(net, &p);
    long total = 0;
    for (int i = 0; i < np; i++)
        total += p[i].grad ? p[i].count : 0;
    return total;
}

/* 3,504,872 parameters with 1000 classes, so 3504872 - 1280 * 990 - 990 with 10; 10 of the 17
 * inverted residual blocks keep their shape (stride 1, same width) and are skippable. */
static void test_standard(void)
{
    struct net *net = mbv2(32);
    CU_ASSERT_PTR_NOT_NULL_FATAL(net);
    CU_ASSERT_EQUAL(trained_count(net), 2236682);
    CU_ASSERT_EQUAL(net_blocks(net), 10);
    CU_ASSERT(net_forward_macs(net) > 80000000u && net_forward_macs(net) < 120000000u);
    net_free(net);
}

/* Every layer scales by width / 32 (at least one channel); the last conv keeps 1280 channels
 * unless the net is wider than standard. */
static void test_width(void)
{
    CU_ASSERT_PTR_NULL(mbv2(0));
    struct net *half = mbv2(16), *full = mbv2(32), *wide = mbv2(64), *tiny = mbv2(1);
    CU_ASSERT_FATAL(half && full && wide && tiny);
    CU_ASSERT(net_forward_macs(half) < net_forward_macs(full));
    CU_ASSERT(net_forward_macs(full) < net_forward_macs(wide));
    CU_ASSERT_EQUAL(net_blocks(half), 10);
    struct net_param *p;
    int np = net_params(wide, &p);
    CU_ASSERT_EQUAL(p[np - 2].cin, 2560);   /* fc.w: 1280 * 64 / 32 inputs */
    np = net_params(half, &p);
    CU_ASSERT_EQUAL(p[np - 2].cin, 1280);
    net_free(half);
    net_free(full);
    net_free(wide);
    net_free(tiny);
}

int main(void)
{
    CU_TestInfo tests[] = {
        { "standard network", test_standard },
        { "width scaling", test_width },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("mobilenetv2", NULL, NULL, tests);
}
