/* Softmax cross-entropy: hand values, central-difference gradient, invalid labels, top-k with
 * ties, op records. */
#include "cunit_main.h"
#include <math.h>
#include <stdlib.h>
#include "gradcheck.h"
#include "loss.h"

static void test_hand_values(void)
{
    float logits[4] = { 0, 0, 1000, 0 }, prob[4];
    int labels[2] = { 1, 0 };
    double l = loss_xent_forward(2, 2, logits, labels, prob, NULL, op_tag_make(0, 0));
    /* sample 0: log 2; sample 1: label 0 has logit 1000 vs 0: loss ~ e^-1000 ~ 0 (no overflow) */
    CU_ASSERT_DOUBLE_EQUAL(l, log(2.0) / 2.0, 1e-12);
    CU_ASSERT_EQUAL(prob[0], 0.5f);
    CU_ASSERT_EQUAL(prob[2], 1.0f);
    float g[4];
    loss_xent_backward(2, 2, prob, labels, 1.0f, g, NULL, op_tag_make(0, 0));
    CU_ASSERT_DOUBLE_EQUAL(g[0], 0.25, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(g[1], -0.25, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(g[2], 0.0, 1e-7);

    /* an invalid label is left out of the mean and gets no gradient */
    int bad[2] = { 1, -1 };
    l = loss_xent_forward(2, 2, logits, bad, prob, NULL, op_tag_make(0, 0));
    CU_ASSERT_DOUBLE_EQUAL(l, log(2.0), 1e-12);
    loss_xent_backward(2, 2, prob, bad, 2.0f, g, NULL, op_tag_make(0, 0));
    CU_ASSERT_DOUBLE_EQUAL(g[0], 1.0, 1e-7);
    CU_ASSERT_EQUAL(g[2], 0.0f);
    CU_ASSERT_EQUAL(g[3], 0.0f);
}

struct loss_ctx {
    int n, classes;
    float *logits, *prob;
    int *labels;
};

static double xent(void *p)
{
    struct loss_ctx *c = p;
    return loss_xent_forward(c->n, c->classes, c->logits, c->labels, c->prob, NULL, op_tag_make(0, 0));
}

static void test_gradient(void)
{
    struct loss_ctx c = { 6, 10, NULL, NULL, NULL };
    c.logits = malloc(sizeof(float) * 60);
    c.prob = malloc(sizeof(float) * 60);
    c.labels = malloc(sizeof(int) * 6);
    float *g = malloc(sizeof(float) * 60);
    gc_fill(c.logits, 60, 5, -3, 3);
    for (int i = 0; i < 6; i++)
        c.labels[i] = (i * 7) % 10;
    xent(&c);
    loss_xent_backward(6, 10, c.prob, c.labels, 1.0f, g, NULL, op_tag_make(0, 0));
    struct gc_report r = gc_check(xent, &c, c.logits, g, 60, 1, 1e-2f, 1e-5, 1e-3);
    CU_ASSERT_EQUAL(r.failed, 0);
    /* in place: glogits aliases prob */
    xent(&c);   /* prob from the unperturbed logits */
    loss_xent_backward(6, 10, c.prob, c.labels, 1.0f, c.prob, NULL, op_tag_make(0, 0));
    for (int i = 0; i < 60; i++)
        CU_ASSERT_EQUAL(c.prob[i], g[i]);
    free(c.logits); free(c.prob); free(c.labels); free(g);
}

static void test_topk(void)
{
    float logits[3 * 6] = {
        1, 5, 3, 4, 2, 0,    /* label 3 (4) is 2nd */
        2, 2, 2, 2, 2, 2,    /* all tied: label 4 ranks 5th (index order) */
        9, 1, 1, 1, 1, 1,    /* label 0 first */
    };
    int labels[3] = { 3, 4, 0 };
    CU_ASSERT_EQUAL(loss_topk_hits(3, 6, logits, labels, 1), 1);
    CU_ASSERT_EQUAL(loss_topk_hits(3, 6, logits, labels, 2), 2);
    CU_ASSERT_EQUAL(loss_topk_hits(3, 6, logits, labels, 4), 2);
    CU_ASSERT_EQUAL(loss_topk_hits(3, 6, logits, labels, 5), 3);
    int bad[3] = { 6, 4, 0 };
    CU_ASSERT_EQUAL(loss_topk_hits(3, 6, logits, bad, 6), 2);
}

static void test_records(void)
{
    float logits[20] = { 0 }, prob[20];
    int labels[2] = { 0, 1 };
    struct gc_records rec = {0};
    struct op_sink sink = { gc_record, &rec };
    loss_xent_forward(2, 10, logits, labels, prob, &sink, op_tag_make(50, 0));
    loss_xent_backward(2, 10, prob, labels, 1.0f, prob, &sink, op_tag_make(50, 0));
    CU_ASSERT_EQUAL(rec.count, 2);
    CU_ASSERT_EQUAL(rec.last.kind, OP_LOSS);
    CU_ASSERT_EQUAL(rec.last.phase, OP_PHASE_BWD_DATA);
    CU_ASSERT_EQUAL(rec.last.n, 2);
    CU_ASSERT_EQUAL(rec.last.cin, 10);
}

int main(void)
{
    CU_TestInfo tests[] = {
        { "hand values", test_hand_values },
        { "gradient (central differences)", test_gradient },
        { "top-k with ties", test_topk },
        { "op records", test_records },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("loss", NULL, NULL, tests);
}
