/* The network's parameter table: one net_param per tensor, in a fixed order (checkpoints and
 * the optimizer rely on it), and the flags a backward pass leaves on them. See net_internal.h. */
#include "net_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void net_param_init(struct net_param *q, const char *name, float *w, float *grad, long count,
                    int kind, uint16_t layer, int cout, int cin, int groups, int k, int bits_w,
                    int bits_grad)
{
    memset(q, 0, sizeof *q);
    snprintf(q->name, sizeof q->name, "%s", name);
    q->w = w;
    q->grad = grad;
    q->count = count;
    q->kind = kind;
    q->layer = layer;
    q->tech = kind == NET_PARAM_GATE ? OP_TECH_SLU : OP_TECH_BASE;
    q->cout = (uint16_t)cout;
    q->cin = (uint16_t)cin;
    q->groups = (uint16_t)groups;
    q->k = (uint8_t)k;
    q->bits_w = (uint8_t)bits_w;
    q->bits_grad = (uint8_t)bits_grad;
    q->active = grad != NULL;
}

/* The unit's parameters: conv w, BN gamma, beta (trained), running mean, var (state). */
static int unit_params(const struct net *net, struct unit *u, const char *prefix,
                       struct net_param *out)
{
    char name[48];
    int c = u->cs.cout;
    snprintf(name, sizeof name, "%s.conv.w", prefix);
    net_param_init(&out[0], name, u->w, u->gw, conv_w_count(&u->cs), NET_PARAM_CONV, u->id_conv, c,
                   u->cs.cin, u->cs.groups, u->cs.k, net->prec.weights, net->prec.grad_weight);
    snprintf(name, sizeof name, "%s.bn.gamma", prefix);
    net_param_init(&out[1], name, u->gamma, u->ggamma, c, NET_PARAM_BN, u->id_bn, c, 1, 1, 1, 32, 32);
    snprintf(name, sizeof name, "%s.bn.beta", prefix);
    net_param_init(&out[2], name, u->beta, u->gbeta, c, NET_PARAM_BN, u->id_bn, c, 1, 1, 1, 32, 32);
    snprintf(name, sizeof name, "%s.bn.running_mean", prefix);
    net_param_init(&out[3], name, u->rmean, NULL, c, NET_PARAM_BN_RUNNING, u->id_bn, c, 1, 1, 1, 32, 32);
    snprintf(name, sizeof name, "%s.bn.running_var", prefix);
    net_param_init(&out[4], name, u->rvar, NULL, c, NET_PARAM_BN_RUNNING, u->id_bn, c, 1, 1, 1, 32, 32);
    return 5;
}

int build_params(struct net *net)
{
    int count = 2;   /* fc */
    for (int b = 0; b < net->nb; b++)
        count += 5 * (net->b[b].nu + (net->b[b].sc == SC_PROJ));
    int ngate = net->slu ? gate_params(net->gates, NULL, 0) : 0;
    struct net_param *p = calloc((size_t)(count + ngate), sizeof *p);
    if (!p)
        return -1;
    int k = 0;
    char prefix[24];
    for (int b = 0; b < net->nb; b++) {
        struct block *B = &net->b[b];
        if (B->sc == SC_PROJ) {
            snprintf(prefix, sizeof prefix, "b%d.proj", b);
            k += unit_params(net, &B->proj, prefix, p + k);
        }
        for (int j = 0; j < B->nu; j++) {
            snprintf(prefix, sizeof prefix, "b%d.u%d", b, j);
            k += unit_params(net, &B->u[j], prefix, p + k);
        }
    }
    net_param_init(&p[k++], "fc.w", net->fc_w, net->fc_gw, (long)net->classes * net->fc_in,
                   NET_PARAM_FC, net->id_fc, net->classes, net->fc_in, 1, 1, 32, 32);
    net_param_init(&p[k++], "fc.b", net->fc_b, net->fc_gb, net->classes, NET_PARAM_FC, net->id_fc,
                   net->classes, 1, 1, 1, 32, 32);
    if (ngate)
        k += gate_params(net->gates, p + k, ngate);
    free(net->params);
    net->params = p;
    net->nparams = k;
    return 0;
}

/* active / grad_is_sign / psg of every parameter after a backward (or a dry one). */
void mark_params(struct net *net, struct net_param *p, int np)
{
    int k = 0;
    for (int b = 0; b < net->nb; b++) {
        struct block *B = &net->b[b];
        if (B->sc == SC_PROJ) {
            for (int j = 0; j < 5; j++)
                p[k + j].active = p[k + j].grad != NULL;
            p[k].grad_is_sign = net->psg_on;
            p[k].psg = B->proj.psg;
            k += 5;
        }
        for (int u = 0; u < B->nu; u++) {
            for (int j = 0; j < 5; j++)
                p[k + j].active = p[k + j].grad != NULL && B->k > 0;
            p[k].grad_is_sign = net->psg_on && B->k > 0;
            p[k].psg = B->u[u].psg;
            k += 5;
        }
    }
    for (int i = 0; net->fc_only && i < np; i++)   /* fine-tuning the last layer only */
        if (p[i].kind != NET_PARAM_FC)
            p[i].active = 0;
}

int net_params(struct net *net, struct net_param **params)
{
    if (!net)
        return 0;
    if (params)
        *params = net->params;
    return net->nparams;
}
