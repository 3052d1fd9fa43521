/* MobileNetV2 (Sandler et al., 2018) for 32x32 inputs: a 3x3 stem, 17 inverted residual
 * blocks (1x1 expansion, 3x3 depthwise, 1x1 projection; ReLU6), the 1x1 conv to 1280 channels.
 * The blocks with an identity shortcut (stride 1, same width) are skippable. See net.h and
 * docs/networks.md. */
#include "net_internal.h"

#include "act.h"

static int mbv2_block(struct net *net, int cin, int h, int w, int cout, int expand, int stride)
{
    struct block *B = add_block(net);
    if (!B)
        return -1;
    int residual = stride == 1 && cin == cout;
    if (residual) {
        make_skippable(net, B);
        B->sc = SC_IDENTITY;
    }
    int hid = cin * expand, j = 0;
    if (expand != 1) {
        if (unit_init(net, &B->u[j++], cin, h, w, hid, 1, 1, 1, ACT_RELU6))
            return -1;
    }
    if (unit_init(net, &B->u[j], hid, h, w, hid, 3, stride, hid, ACT_RELU6))
        return -1;
    int ho = B->u[j].ho, wo = B->u[j].wo;
    j++;
    if (unit_init(net, &B->u[j++], hid, ho, wo, cout, 1, 1, 1, NO_ACT))
        return -1;
    B->nu = j;
    if (residual)
        B->id_add = new_layer(net);
    block_dims(net, B);
    return 0;
}

static int scaled(int c, int width) { int v = (c * width + 16) / 32; return v > 0 ? v : 1; }

int build_mobilenetv2(struct net *net, int width)
{
    if (width <= 0)
        return -1;
    /* (expansion t, channels c, repeats n, stride s); CIFAR: stride 1 in the stem and stage 2 */
    static const int cfg[7][4] = {
        { 1, 16, 1, 1 }, { 6, 24, 2, 1 }, { 6, 32, 3, 2 }, { 6, 64, 4, 2 },
        { 6, 96, 3, 1 }, { 6, 160, 3, 2 }, { 6, 320, 1, 1 },
    };
    int h = net->in_h, w = net->in_w, cin = scaled(32, width);
    if (plain_block(net, net->in_c, h, w, cin, 3, 1, ACT_RELU6))
        return -1;
    net->b[0].u[0].no_input_grad = 1;
    for (int s = 0; s < 7; s++) {
        int cout = scaled(cfg[s][1], width);
        for (int i = 0; i < cfg[s][2]; i++) {
            if (mbv2_block(net, cin, h, w, cout, cfg[s][0], i == 0 ? cfg[s][3] : 1))
                return -1;
            struct block *B = &net->b[net->nb - 1];
            h = B->ho;
            w = B->wo;
            cin = cout;
        }
    }
    return plain_block(net, cin, h, w, width > 32 ? scaled(1280, width) : 1280, 1, 1, ACT_RELU6);
}
