/* The CIFAR ResNet builder (kernels/resnet.c): which depths it accepts, its MAC and parameter
 * counts (40.81 M MACs and 0.27 M parameters for ResNet-20), its skippable blocks, projection
 * shortcuts where the shape changes, and the stem's input size. */
#include "cunit_main.h"
#include <string.h>
#include "net.h"

static struct net *resnet_flags(int depth, int width, int c, int hw, unsigned flags)
{
    struct net_precision f = net_precision_float();
    struct net *net = NULL;
    if (net_create(NET_RESNET, depth, width, c, hw, hw, 10, flags, &f, 1, &net))
        return NULL;
    return net;
}

static struct net *resnet(int depth, int width, int c, int hw)
{
    return resnet_flags(depth, width, c, hw, NET_DEFAULT);
}

/* Trainable weights (conv, BN, FC), and whether a parameter of that name exists. */
static long trained_count(struct net *net, const char *name, int *found)
{
    struct net_param *p;
    int np = net_params(net, &p);
    long total = 0;
    for (int i = 0; i < np; i++) {
        total += p[i].grad ? p[i].count : 0;
        *found |= !strcmp(p[i].name, name);
    }
    return total;
}

static void test_depths(void)
{
    const int bad[] = { 0, 7, 9, 21, 33 };
    for (int i = 0; i < 5; i++)
        CU_ASSERT_PTR_NULL(resnet(bad[i], 16, 3, 32));
    CU_ASSERT_PTR_NULL(resnet(20, 0, 3, 32));
    const struct { int depth; uint64_t macs; } want[3] = {
        { 20, 40813184u }, { 74, 168215168u }, { 110, 253149824u },
    };
    for (int i = 0; i < 3; i++) {
        struct net *net = resnet(want[i].depth, 16, 3, 32);
        CU_ASSERT_PTR_NOT_NULL_FATAL(net);
        CU_ASSERT_EQUAL(net_forward_macs(net), want[i].macs);
        CU_ASSERT_EQUAL(net_blocks(net), (want[i].depth - 2) / 2);   /* every basic block */
        net_free(net);
    }
}

/* ResNet-20: 3 stages of 3 blocks; blocks 3 and 6 (the first of stages 2 and 3) change shape and
 * carry a projection, the others an identity. A stage-1 block is two 16x16x3x3 convs at 32x32. */
static void test_resnet20(void)
{
    struct net *net = resnet(20, 16, 3, 32);
    CU_ASSERT_PTR_NOT_NULL_FATAL(net);
    int proj4 = 0, proj1 = 0;
    CU_ASSERT_EQUAL(trained_count(net, "b4.proj.conv.w", &proj4), 272474);
    trained_count(net, "b1.proj.conv.w", &proj1);
    CU_ASSERT(proj4);
    CU_ASSERT(!proj1);
    CU_ASSERT_EQUAL(net_block_macs(net, 0), 2u * 16 * 16 * 9 * 1024);
    CU_ASSERT_EQUAL(net_block_macs(net, 3), 16u * 32 * 9 * 256 + 32u * 32 * 9 * 256);
    CU_ASSERT_EQUAL(net_block_macs(net, 6), 32u * 64 * 9 * 64 + 64u * 64 * 9 * 64);
    net_free(net);
    net = resnet(20, 16, 1, 28);   /* (Fashion-)MNIST: stem 1x16x3x3 at 28x28 */
    CU_ASSERT_PTR_NOT_NULL_FATAL(net);
    CU_ASSERT_EQUAL(net_forward_macs(net), 31021952u);
    net_free(net);
}

/* NET_FIXED_STAGE_ENTRY: the stride-2 blocks (3 and 6 of ResNet-20) leave the skippable list,
 * which then holds blocks 0-2, 4-5, 7-8; the network and its MACs are unchanged. */
static void test_fixed_stage_entry(void)
{
    struct net *net = resnet_flags(20, 16, 3, 32, NET_FIXED_STAGE_ENTRY);
    CU_ASSERT_PTR_NOT_NULL_FATAL(net);
    CU_ASSERT_EQUAL(net_blocks(net), 7);
    CU_ASSERT_EQUAL(net_forward_macs(net), 40813184u);
    CU_ASSERT_EQUAL(net_block_macs(net, 2), 2u * 16 * 16 * 9 * 1024);   /* block 2: stage 1 */
    CU_ASSERT_EQUAL(net_block_macs(net, 3), 2u * 32 * 32 * 9 * 256);    /* block 4: identity */
    CU_ASSERT_EQUAL(net_block_macs(net, 5), 2u * 64 * 64 * 9 * 64);     /* block 7 */
    CU_ASSERT_EQUAL(net_set_slu(net, 1, GATE_THRESHOLD), 0);
    net_free(net);
    net = resnet_flags(8, 16, 3, 32, NET_FIXED_STAGE_ENTRY);
    CU_ASSERT_PTR_NOT_NULL_FATAL(net);
    CU_ASSERT_EQUAL(net_blocks(net), 1);
    CU_ASSERT_EQUAL(net_set_slu(net, 1, GATE_THRESHOLD), -1);   /* nothing to gate */
    net_free(net);
    CU_ASSERT_PTR_NULL(resnet_flags(20, 16, 3, 32, 2));          /* unknown flag */
}

int main(void)
{
    CU_TestInfo tests[] = {
        { "depths and MAC counts", test_depths },
        { "ResNet-20 blocks and parameters", test_resnet20 },
        { "stage-entry blocks kept out of skipping", test_fixed_stage_entry },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("resnet", NULL, NULL, tests);
}
