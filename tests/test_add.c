/* Residual add: values, aliasing, gradient (central differences), op records. */
#include "cunit_main.h"
#include <stdlib.h>
#include <string.h>
#include "add.h"
#include "gradcheck.h"

struct add_ctx {
    struct nchw s;
    float *a, *b, *y, *r;
};

static double add_loss(void *p)
{
    struct add_ctx *c = p;
    add_forward(&c->s, c->a, c->b, c->y, NULL, op_tag_make(0, 0));
    return gc_dot(c->y, c->r, nchw_count(&c->s));
}

static void test_add(void)
{
    struct add_ctx c = { { 2, 3, 2, 2 }, NULL, NULL, NULL, NULL };
    long n = nchw_count(&c.s);
    c.a = malloc(sizeof(float) * n);
    c.b = malloc(sizeof(float) * n);
    c.y = malloc(sizeof(float) * n);
    c.r = malloc(sizeof(float) * n);
    float *ga = malloc(sizeof(float) * n), *gb = malloc(sizeof(float) * n);
    gc_fill(c.a, n, 1, -1, 1);
    gc_fill(c.b, n, 2, -1, 1);
    gc_fill(c.r, n, 3, -1, 1);
    struct gc_records rec = {0};
    struct op_sink sink = { gc_record, &rec };
    add_forward(&c.s, c.a, c.b, c.y, &sink, op_tag_make(5, 0));
    for (long i = 0; i < n; i++)
        CU_ASSERT_EQUAL(c.y[i], c.a[i] + c.b[i]);
    CU_ASSERT_EQUAL(rec.last.kind, OP_ADD);
    CU_ASSERT_EQUAL(rec.last.n, 2);
    add_backward(&c.s, c.r, ga, gb, &sink, op_tag_make(5, 0));
    CU_ASSERT_EQUAL(rec.count, 2);
    CU_ASSERT_EQUAL(rec.last.phase, OP_PHASE_BWD_DATA);
    CU_ASSERT_EQUAL(gc_check(add_loss, &c, c.a, ga, n, 1, 0.05f, 1e-5, 1e-4).failed, 0);
    CU_ASSERT_EQUAL(gc_check(add_loss, &c, c.b, gb, n, 1, 0.05f, 1e-5, 1e-4).failed, 0);
    /* aliasing: y = a in place, ga = gy, gb NULL */
    add_loss(&c);   /* y from the unperturbed inputs */
    add_forward(&c.s, c.a, c.b, c.a, NULL, op_tag_make(0, 0));
    CU_ASSERT_EQUAL(memcmp(c.a, c.y, sizeof(float) * n), 0);
    add_backward(&c.s, c.r, c.r, NULL, NULL, op_tag_make(0, 0));
    CU_ASSERT_EQUAL(memcmp(c.r, ga, sizeof(float) * n), 0);
    free(c.a); free(c.b); free(c.y); free(c.r); free(ga); free(gb);
}

int main(void)
{
    CU_TestInfo tests[] = {
        { "residual add", test_add },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("add", NULL, NULL, tests);
}
