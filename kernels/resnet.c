/* The CIFAR ResNet of He et al. (2016), depth 6n + 2: a 3x3 stem, three stages of n basic
 * blocks (3x3 conv, BN, ReLU, 3x3 conv, BN, add, ReLU) at width w, 2w, 4w, the first block of
 * stages 2 and 3 with stride 2 and a projection shortcut (1x1 conv + BN). Every basic block is
 * skippable unless net_create's NET_FIXED_STAGE_ENTRY keeps the stride-2 ones. See net.h and
 * docs/networks.md. */
#include "net_internal.h"

#include "act.h"

static int resnet_block(struct net *net, int cin, int h, int w, int cout, int stride,
                        int skippable)
{
    struct block *B = add_block(net);
    if (!B)
        return -1;
    if (skippable)
        make_skippable(net, B);
    if (stride != 1 || cin != cout) {
        B->sc = SC_PROJ;
        if (unit_init(net, &B->proj, cin, h, w, cout, 1, stride, 1, NO_ACT))
            return -1;
    } else {
        B->sc = SC_IDENTITY;
    }
    B->nu = 2;
    if (unit_init(net, &B->u[0], cin, h, w, cout, 3, stride, 1, ACT_RELU))
        return -1;
    if (unit_init(net, &B->u[1], cout, B->u[0].ho, B->u[0].wo, cout, 3, 1, 1, NO_ACT))
        return -1;
    B->id_add = new_layer(net);
    B->post_act = ACT_RELU;
    B->id_post = new_layer(net);
    block_dims(net, B);
    return 0;
}

int build_resnet(struct net *net, int depth, int width, int skip_stage_entry)
{
    if (depth < 8 || (depth - 2) % 6 || width <= 0)
        return -1;
    int nper = (depth - 2) / 6, h = net->in_h, w = net->in_w;
    if (plain_block(net, net->in_c, h, w, width, 3, 1, ACT_RELU))
        return -1;
    net->b[0].u[0].no_input_grad = 1;
    int cin = width;
    for (int stage = 0; stage < 3; stage++) {
        int cout = width << stage;
        for (int i = 0; i < nper; i++) {
            int entry = stage > 0 && i == 0, stride = entry ? 2 : 1;
            if (resnet_block(net, cin, h, w, cout, stride, !entry || skip_stage_entry))
                return -1;
            struct block *B = &net->b[net->nb - 1];
            h = B->ho;
            w = B->wo;
            cin = cout;
        }
    }
    return 0;
}

