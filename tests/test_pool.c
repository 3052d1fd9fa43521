/* Global average pooling: exact means, central-difference gradient, op records. */
#include "cunit_main.h"
#include <stdlib.h>
#include "gradcheck.h"
#include "pool.h"

static void test_forward_values(void)
{
    struct nchw s = { 2, 2, 2, 2 };
    float x[16] = { 1, 2, 3, 4, 0, 0, 0, 8, -1, -1, -1, -1, 0.5f, 0.25f, 0.125f, 0.125f }, y[4];
    pool_avg_forward(&s, x, y, NULL, op_tag_make(0, 0));
    CU_ASSERT_EQUAL(y[0], 2.5f);
    CU_ASSERT_EQUAL(y[1], 2.0f);
    CU_ASSERT_EQUAL(y[2], -1.0f);
    CU_ASSERT_EQUAL(y[3], 0.25f);
    float gy[4] = { 4, 8, -4, 1 }, gx[16];
    pool_avg_backward(&s, gy, gx, NULL, op_tag_make(0, 0));
    for (int i = 0; i < 16; i++)
        CU_ASSERT_EQUAL(gx[i], gy[i / 4] / 4.0f);
}

struct pool_ctx {
    struct nchw s;
    float *x, *y, *r;
};

static double pool_loss(void *p)
{
    struct pool_ctx *c = p;
    pool_avg_forward(&c->s, c->x, c->y, NULL, op_tag_make(0, 0));
    return gc_dot(c->y, c->r, (long)c->s.n * c->s.c);
}

static void test_gradient(void)
{
    struct pool_ctx c = { { 3, 4, 5, 3 }, NULL, NULL, NULL };
    long n = nchw_count(&c.s), m = (long)c.s.n * c.s.c;
    c.x = malloc(sizeof(float) * n);
    c.y = malloc(sizeof(float) * m);
    c.r = malloc(sizeof(float) * m);
    float *gx = malloc(sizeof(float) * n);
    gc_fill(c.x, n, 1, -1, 1);
    gc_fill(c.r, m, 2, -1, 1);
    pool_avg_backward(&c.s, c.r, gx, NULL, op_tag_make(0, 0));
    struct gc_report rep = gc_check(pool_loss, &c, c.x, gx, n, 1, 0.05f, 1e-5, 1e-4);
    CU_ASSERT_EQUAL(rep.failed, 0);
    free(c.x); free(c.y); free(c.r); free(gx);
}

static void test_records(void)
{
    struct nchw s = { 2, 3, 8, 8 };
    float x[384] = { 0 }, y[6];
    struct gc_records rec = {0};
    struct op_sink sink = { gc_record, &rec };
    pool_avg_forward(&s, x, y, &sink, op_tag_make(30, 0));
    CU_ASSERT_EQUAL(rec.count, 1);
    CU_ASSERT_EQUAL(rec.last.kind, OP_POOL);
    CU_ASSERT_EQUAL(rec.last.h_in, 8);
    CU_ASSERT_EQUAL(rec.last.h_out, 1);
    CU_ASSERT_EQUAL(rec.last.cout, 3);
    pool_avg_backward(&s, y, x, &sink, op_tag_make(30, 0));
    CU_ASSERT_EQUAL(rec.last.phase, OP_PHASE_BWD_DATA);
}

int main(void)
{
    CU_TestInfo tests[] = {
        { "forward values", test_forward_values },
        { "gradient (central differences)", test_gradient },
        { "op records", test_records },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("pool", NULL, NULL, tests);
}
