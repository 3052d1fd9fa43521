/* Tests only: helpers of the hardware-model tests, which reach the model through its C API
 * (hw.h) and start from the model's own defaults, hw_params_defaults(). A board's YAML table is
 * read by the real config loader (tests/test_hw_board.h), never here. */
#ifndef E2_TEST_HW_PARAMS_H
#define E2_TEST_HW_PARAMS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hw.h"

/* Parameter d equal in a and b (compared through the table: the struct has padding). */
static inline int hwt_same_param(const struct hw_params *a, const struct hw_params *b,
                                 const struct hw_param_def *d)
{
    const char *x = (const char *)a + d->offset, *y = (const char *)b + d->offset;
    int same = d->type == HW_PARAM_STRING
                   ? strcmp(x, y) == 0
                   : memcmp(x, y, d->type == HW_PARAM_DOUBLE ? sizeof(double) : sizeof(int)) == 0;
    if (!same)
        fprintf(stderr, "\n%s differs\n", d->key);
    return same;
}

static inline struct hw_model *hwt_model_from(const struct hw_params *p)
{
    char err[512];
    struct hw_model *m = NULL;
    if (hw_create(p, &m, err, sizeof err) != 0) {
        fprintf(stderr, "hw_create: %s\n", err);
        return NULL;
    }
    return m;
}

/* A model of p and a ledger holding one execution of r. */
struct hwt_priced {
    struct hw_model *m;
    struct hw_ledger *l;
};

static inline int hwt_price(const struct hw_params *p, const struct oprec *r, struct hwt_priced *o)
{
    char err[256];
    o->l = hw_ledger_new();
    o->m = hwt_model_from(p);
    if (!o->l || !o->m)
        return -1;
    if (hw_account(o->m, o->l, r, 1, err, sizeof err) != 0) {
        fprintf(stderr, "hw_account: %s\n", err);
        return -1;
    }
    return 0;
}

static inline void hwt_release(struct hwt_priced o)
{
    hw_ledger_free(o.l);
    hw_free(o.m);
}

/* Sum of one action's count over a ledger's rows (0 when absent). */
static inline uint64_t hwt_count(const struct hw_ledger *l, int component, const char *action)
{
    struct hw_row rows[256];
    size_t n = hw_ledger_rows(l, NULL, rows, 256);
    for (size_t i = 0; i < n && i < 256; i++)
        if (rows[i].component == component && strcmp(rows[i].action, action) == 0)
            return rows[i].count;
    return 0;
}

static inline uint64_t hwt_unit(const struct hw_ledger *l, int component, const char *action)
{
    struct hw_row rows[256];
    size_t n = hw_ledger_rows(l, NULL, rows, 256);
    for (size_t i = 0; i < n && i < 256; i++)
        if (rows[i].component == component && strcmp(rows[i].action, action) == 0)
            return rows[i].fj_per_action;
    return 0;
}

/* A conv record with the usual fields. */
static inline struct oprec hwt_conv(int phase, uint32_t n, int cin, int cout, int hw_in, int k, int stride,
                             int bits_a, int bits_b, int bits_out)
{
    struct oprec r;
    memset(&r, 0, sizeof r);
    r.kind = OP_CONV;
    r.phase = (uint8_t)phase;
    r.n = n;
    r.cin = (uint16_t)cin;
    r.cout = (uint16_t)cout;
    r.groups = 1;
    r.k = (uint8_t)k;
    r.stride = (uint8_t)stride;
    r.pad = (uint8_t)(k / 2);
    r.h_in = r.w_in = (uint16_t)hw_in;
    r.h_out = r.w_out = (uint16_t)((hw_in + 2 * (k / 2) - k) / stride + 1);
    r.bits_a = (uint8_t)bits_a;
    r.bits_b = (uint8_t)bits_b;
    r.bits_out = (uint8_t)bits_out;
    r.bits_acc = 48;
    return r;
}

/* An element-wise record on a c x hw x hw map. */
static inline struct oprec hwt_elt(int kind, int phase, uint32_t n, int c, int hw, int bits_a, int bits_b,
                            int bits_out)
{
    struct oprec r;
    memset(&r, 0, sizeof r);
    r.kind = (uint8_t)kind;
    r.phase = (uint8_t)phase;
    r.n = n;
    r.cin = r.cout = (uint16_t)c;
    r.groups = 1;
    r.h_in = r.w_in = r.h_out = r.w_out = (uint16_t)hw;
    r.bits_a = (uint8_t)bits_a;
    r.bits_b = (uint8_t)bits_b;
    r.bits_out = (uint8_t)bits_out;
    r.bits_acc = 48;
    return r;
}

#endif
