/* Hand-made parameter tensors and a small op-record log, for the tests of what walks a
 * parameter list (optim, swa). */
#ifndef E2SIM_TESTS_PARAM_FIXTURE_H
#define E2SIM_TESTS_PARAM_FIXTURE_H

#include <string.h>
#include "net.h"

/* The first 64 records, and how many came. */
struct rec_log {
    struct oprec r[64];
    int n;
};

static inline void rec_emit(void *ctx, const struct oprec *r)
{
    struct rec_log *l = ctx;
    if (l->n < 64)
        l->r[l->n] = *r;
    l->n++;
}

/* A count-weight tensor of layer 7 shaped as count 1x1 filters (8-bit weights, 16-bit grads). */
static inline struct net_param param(float *w, float *g, long count, int kind)
{
    struct net_param p;
    memset(&p, 0, sizeof p);
    p.w = w;
    p.grad = g;
    p.count = count;
    p.kind = kind;
    p.layer = 7;
    p.cout = (uint16_t)count;
    p.cin = 1;
    p.groups = 1;
    p.k = 1;
    p.bits_w = 8;
    p.bits_grad = 16;
    p.active = 1;
    return p;
}

#endif
