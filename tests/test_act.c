/* ReLU / ReLU6: exact forward values, backward masks at the boundaries, central-difference
 * gradients away from the kinks, in-place use, op records. */
#include "cunit_main.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "act.h"
#include "gradcheck.h"

static void test_forward_values(void)
{
    struct nchw s = { 1, 1, 1, 8 };
    float x[8] = { -2.0f, -0.0f, 0.0f, 0.5f, 5.99f, 6.0f, 7.0f, NAN }, y[8];
    act_forward(ACT_RELU, &s, x, y, NULL, op_tag_make(0, 0));
    const float relu[8] = { 0, 0, 0, 0.5f, 5.99f, 6.0f, 7.0f, 0 };
    for (int i = 0; i < 8; i++)
        CU_ASSERT_EQUAL(y[i], relu[i]);
    act_forward(ACT_RELU6, &s, x, y, NULL, op_tag_make(0, 0));
    const float relu6[8] = { 0, 0, 0, 0.5f, 5.99f, 6.0f, 6.0f, 0 };
    for (int i = 0; i < 8; i++)
        CU_ASSERT_EQUAL(y[i], relu6[i]);
}

static void test_backward_masks(void)
{
    struct nchw s = { 1, 1, 1, 6 };
    float y[6] = { 0.0f, 0.25f, 5.99f, 6.0f, 3.0f, 0.0f }, gy[6] = { 1, 2, 3, 4, 5, 6 }, gx[6];
    act_backward(ACT_RELU, &s, y, gy, gx, NULL, op_tag_make(0, 0));
    const float r[6] = { 0, 2, 3, 4, 5, 0 };
    for (int i = 0; i < 6; i++)
        CU_ASSERT_EQUAL(gx[i], r[i]);
    act_backward(ACT_RELU6, &s, y, gy, gx, NULL, op_tag_make(0, 0));
    const float r6[6] = { 0, 2, 3, 0, 5, 0 };
    for (int i = 0; i < 6; i++)
        CU_ASSERT_EQUAL(gx[i], r6[i]);
    /* in place: gx aliases gy */
    act_backward(ACT_RELU6, &s, y, gy, gy, NULL, op_tag_make(0, 0));
    CU_ASSERT_EQUAL(memcmp(gy, gx, sizeof gx), 0);
}

struct act_ctx {
    enum act_kind kind;
    struct nchw s;
    float *x, *y, *r;
};

static double act_loss(void *p)
{
    struct act_ctx *c = p;
    act_forward(c->kind, &c->s, c->x, c->y, NULL, op_tag_make(0, 0));
    return gc_dot(c->y, c->r, nchw_count(&c->s));
}

static void test_gradients(void)
{
    for (int k = 0; k < 2; k++) {
        struct act_ctx c = { k ? ACT_RELU6 : ACT_RELU, { 2, 3, 4, 5 }, NULL, NULL, NULL };
        long n = nchw_count(&c.s);
        c.x = malloc(sizeof(float) * n);
        c.y = malloc(sizeof(float) * n);
        c.r = malloc(sizeof(float) * n);
        float *gx = malloc(sizeof(float) * n);
        gc_fill_away(c.x, n, 7 + k, 0.1f, 9.0f);
        for (long i = 0; i < n; i++)   /* keep away from the kink at 6 too */
            if (fabsf(c.x[i] - 6.0f) < 0.1f)
                c.x[i] = 6.5f;
        gc_fill(c.r, n, 17 + k, -1, 1);
        act_loss(&c);
        act_backward(c.kind, &c.s, c.y, c.r, gx, NULL, op_tag_make(0, 0));
        struct gc_report rep = gc_check(act_loss, &c, c.x, gx, n, 1, 0.01f, 1e-4, 1e-4);
        CU_ASSERT_EQUAL(rep.failed, 0);
        CU_ASSERT_EQUAL(rep.checked, n);
        free(c.x); free(c.y); free(c.r); free(gx);
    }
}

static void test_in_place_and_records(void)
{
    struct nchw s = { 2, 2, 3, 1 };
    float x[12];
    gc_fill(x, 12, 3, -1, 1);
    struct gc_records rec = {0};
    struct op_sink sink = { gc_record, &rec };
    act_forward(ACT_RELU, &s, x, x, &sink, op_tag_make(4, 0));
    for (int i = 0; i < 12; i++)
        CU_ASSERT(x[i] >= 0.0f);
    CU_ASSERT_EQUAL(rec.count, 1);
    CU_ASSERT_EQUAL(rec.last.kind, OP_RELU);
    CU_ASSERT_EQUAL(rec.last.layer, 4);
    CU_ASSERT_EQUAL(rec.last.n, 2);
    CU_ASSERT_EQUAL(rec.last.cin, 2);
    CU_ASSERT_EQUAL(rec.last.h_in, 3);
    CU_ASSERT_EQUAL(rec.last.w_in, 1);
    act_backward(ACT_RELU, &s, x, x, x, &sink, op_tag_make(4, 0));
    CU_ASSERT_EQUAL(rec.count, 2);
    CU_ASSERT_EQUAL(rec.last.phase, OP_PHASE_BWD_DATA);
}

int main(void)
{
    CU_TestInfo tests[] = {
        { "forward values", test_forward_values },
        { "backward masks", test_backward_masks },
        { "gradients (central differences)", test_gradients },
        { "in place and records", test_in_place_and_records },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("act", NULL, NULL, tests);
}
