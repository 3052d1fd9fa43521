/* Batch norm: central-difference gradients for x, gamma, beta; hand-computed statistics and
 * running-stat update; eval mode; identical results for 1, 2 and 3 threads (different channel
 * blocks); the fused activation and ranges; op records. */
#include "cunit_main.h"
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "act.h"
#include "bn.h"
#include "gradcheck.h"

struct bn_ctx {
    struct nchw s;
    float *x, *gamma, *beta, *y, *r, mean[8], invstd[8];
};

static double bn_loss(void *p)
{
    struct bn_ctx *c = p;
    bn_forward_train(&c->s, c->x, c->gamma, c->beta, 1e-5f, 0.1f, NULL, NULL, c->y, c->mean, c->invstd,
                     NULL, op_tag_make(0, 0));
    return gc_dot(c->y, c->r, nchw_count(&c->s));
}

static void test_gradients(void)
{
    const struct nchw shapes[] = { { 3, 4, 3, 5 }, { 5, 2, 1, 1 }, { 1, 3, 4, 4 } };
    for (int t = 0; t < 3; t++) {
        struct bn_ctx c;
        c.s = shapes[t];
        long cnt = nchw_count(&c.s);
        c.x = malloc(sizeof(float) * cnt);
        c.y = malloc(sizeof(float) * cnt);
        c.r = malloc(sizeof(float) * cnt);
        c.gamma = malloc(sizeof(float) * c.s.c);
        c.beta = malloc(sizeof(float) * c.s.c);
        float *gx = malloc(sizeof(float) * cnt), gg[8], gb[8];
        gc_fill(c.x, cnt, 10 + t, -2, 3);
        gc_fill(c.r, cnt, 20 + t, -1, 1);
        gc_fill(c.gamma, c.s.c, 30 + t, 0.5f, 1.5f);
        gc_fill(c.beta, c.s.c, 40 + t, -0.5f, 0.5f);
        bn_loss(&c);
        bn_backward(&c.s, c.x, c.r, c.gamma, c.mean, c.invstd, gx, gg, gb, NULL, op_tag_make(0, 0));
        /* Nonlinear in x: h = 1e-2 leaves a truncation error of order h^2; float rounding of L
         * (|L| ~ 10) over 2h adds ~1e-4. */
        struct gc_report rx = gc_check(bn_loss, &c, c.x, gx, cnt, 1, 1e-2f, 2e-3, 2e-3);
        struct gc_report rg = gc_check(bn_loss, &c, c.gamma, gg, c.s.c, 1, 1e-2f, 2e-3, 2e-3);
        struct gc_report rb = gc_check(bn_loss, &c, c.beta, gb, c.s.c, 1, 1e-2f, 2e-3, 2e-3);
        if (rx.failed || rg.failed || rb.failed)
            printf("\nshape %d: x %ld (%g vs %g) gamma %ld beta %ld\n", t, rx.failed, rx.worst_numeric,
                   rx.worst_analytic, rg.failed, rb.failed);
        CU_ASSERT_EQUAL(rx.failed, 0);
        CU_ASSERT_EQUAL(rg.failed, 0);
        CU_ASSERT_EQUAL(rb.failed, 0);
        free(c.x); free(c.y); free(c.r); free(c.gamma); free(c.beta); free(gx);
    }
}

/* One channel, values 1..4: mean 2.5, biased var 1.25, unbiased 5/3. */
static void test_hand_values(void)
{
    struct nchw s = { 2, 1, 1, 2 };
    float x[4] = { 1, 2, 3, 4 }, y[4], gamma = 2.0f, beta = 1.0f, rm = 0.0f, rv = 1.0f, mean, invstd;
    bn_forward_train(&s, x, &gamma, &beta, 0.0f, 0.1f, &rm, &rv, y, &mean, &invstd, NULL, op_tag_make(0, 0));
    CU_ASSERT_DOUBLE_EQUAL(mean, 2.5, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(invstd, 1.0 / sqrt(1.25), 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(y[0], 2.0 * (1 - 2.5) / sqrt(1.25) + 1.0, 1e-5);
    CU_ASSERT_DOUBLE_EQUAL(y[3], 2.0 * (4 - 2.5) / sqrt(1.25) + 1.0, 1e-5);
    CU_ASSERT_DOUBLE_EQUAL(rm, 0.25, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(rv, 0.9 + 0.1 * 5.0 / 3.0, 1e-6);

    /* eval with those running stats */
    float ye[4];
    bn_forward_eval(&s, x, &gamma, &beta, &rm, &rv, 0.0f, ye, NULL, op_tag_make(0, 0));
    CU_ASSERT_DOUBLE_EQUAL(ye[1], 2.0 * (2 - rm) / sqrt(rv) + 1.0, 1e-5);

    /* momentum 1 replaces; cumulative average with momentum 1/(k+1) */
    float m2 = 7.0f, v2 = 7.0f;
    bn_forward_train(&s, x, &gamma, &beta, 0.0f, 1.0f, &m2, &v2, y, &mean, &invstd, NULL, op_tag_make(0, 0));
    CU_ASSERT_DOUBLE_EQUAL(m2, 2.5, 1e-7);
    float x2[4] = { 5, 6, 7, 8 };
    bn_forward_train(&s, x2, &gamma, &beta, 0.0f, 0.5f, &m2, &v2, y, &mean, &invstd, NULL, op_tag_make(0, 0));
    CU_ASSERT_DOUBLE_EQUAL(m2, 4.5, 1e-6);   /* (2.5 + 6.5) / 2 */

    /* In place: y aliases x. */
    bn_forward_train(&s, x, &gamma, &beta, 0.0f, 0.1f, NULL, NULL, x, &mean, &invstd, NULL, op_tag_make(0, 0));
    CU_ASSERT_DOUBLE_EQUAL(x[0], 2.0 * (1 - 2.5) / sqrt(1.25) + 1.0, 1e-5);
}

/* The gradient of a constant shift vanishes, and sum of gx is 0 for each channel. */
static void test_backward_properties(void)
{
    struct nchw s = { 4, 3, 2, 3 };
    long cnt = nchw_count(&s);
    float *x = malloc(sizeof(float) * cnt), *y = malloc(sizeof(float) * cnt), *g = malloc(sizeof(float) * cnt);
    float *gx = malloc(sizeof(float) * cnt), gamma[3] = { 1, 2, 3 }, beta[3] = { 0 }, m[3], is[3], gg[3], gb[3];
    gc_fill(x, cnt, 1, -1, 1);
    bn_forward_train(&s, x, gamma, beta, 1e-5f, 0.1f, NULL, NULL, y, m, is, NULL, op_tag_make(0, 0));
    for (long i = 0; i < cnt; i++)
        g[i] = 1.0f;   /* dL/dy constant: L shifts with beta only */
    bn_backward(&s, x, g, gamma, m, is, gx, gg, gb, NULL, op_tag_make(0, 0));
    for (long i = 0; i < cnt; i++)
        CU_ASSERT_DOUBLE_EQUAL(gx[i], 0.0, 1e-5);
    for (int c = 0; c < 3; c++) {
        CU_ASSERT_DOUBLE_EQUAL(gb[c], 24.0, 1e-5);
        CU_ASSERT_DOUBLE_EQUAL(gg[c], 0.0, 1e-4);
    }
    /* gx may alias gy, ggamma/gbeta may be NULL */
    gc_fill(g, cnt, 2, -1, 1);
    bn_backward(&s, x, g, gamma, m, is, gx, NULL, NULL, NULL, op_tag_make(0, 0));
    bn_backward(&s, x, g, gamma, m, is, g, NULL, NULL, NULL, op_tag_make(0, 0));
    CU_ASSERT_EQUAL(memcmp(g, gx, sizeof(float) * cnt), 0);
    free(x); free(y); free(g); free(gx);
}

/* Channels are split into parallel blocks whose size depends on the thread count (kernels/bn.c):
 * 7 channels give blocks of 3, 3, 1 on one thread and of 1 on two and three. */
static void bn_run(const struct nchw *s, const float *x, const float *g, const float *gamma,
                   const float *beta, int threads, float *y, float *gx, float *stats)
{
    int keep = omp_get_max_threads(), c = s->c;
    omp_set_num_threads(threads);
    bn_forward_train_act(s, x, gamma, beta, 1e-5f, 0.1f, NULL, NULL, ACT_RELU, y, stats, stats + c,
                         stats + 2 * c, stats + 3 * c, NULL, op_tag_make(0, 0));
    bn_backward_act(s, x, g, gamma, beta, stats, stats + c, ACT_RELU, NULL, gx, stats + 4 * c, stats + 5 * c,
                    stats + 6 * c, NULL, op_tag_make(0, 0));
    omp_set_num_threads(keep);
}

static void test_threads_identical(void)
{
    struct nchw s = { 8, 7, 9, 7 };
    long cnt = nchw_count(&s);
    float *x = malloc(sizeof(float) * cnt), *g = malloc(sizeof(float) * cnt);
    float *y1 = malloc(sizeof(float) * cnt), *y2 = malloc(sizeof(float) * cnt);
    float *gx1 = malloc(sizeof(float) * cnt), *gx2 = malloc(sizeof(float) * cnt);
    float gamma[7], beta[7], st1[7 * 7], st2[7 * 7];
    gc_fill(x, cnt, 3, -4, 4);
    gc_fill(g, cnt, 4, -1, 1);
    gc_fill(gamma, 7, 5, 0.5f, 2);
    gc_fill(beta, 7, 6, -1, 1);
    bn_run(&s, x, g, gamma, beta, 1, y1, gx1, st1);
    for (int threads = 2; threads <= 3; threads++) {
        bn_run(&s, x, g, gamma, beta, threads, y2, gx2, st2);
        CU_ASSERT_EQUAL(memcmp(y1, y2, sizeof(float) * cnt), 0);
        CU_ASSERT_EQUAL(memcmp(gx1, gx2, sizeof(float) * cnt), 0);
        CU_ASSERT_EQUAL(memcmp(st1, st2, sizeof st1), 0);
    }
    free(x); free(g); free(y1); free(y2); free(gx1); free(gx2);
}

/* The fused activation and the per-channel ranges: y and gx equal the unfused passes bit for bit
 * (bn_forward_train + act_forward; act_backward on the recomputed output + bn_backward), and so
 * do gx and the parameter gradients from first-pass sums taken outside (bn_backward_sums_plane);
 * each channel's range equals a scan of its values, on planes whose size is no multiple of the
 * 32-value vector steps (tails) and on whole ones. */
static float chan_maxabs(const struct nchw *s, const float *v, int c, float *minv)
{
    long hw = (long)s->h * s->w;
    float m = 0.0f, n = INFINITY;
    for (int k = 0; k < s->n; k++)
        for (long i = 0; i < hw; i++) {
            float x = v[((long)k * s->c + c) * hw + i];
            m = fabsf(x) > m ? fabsf(x) : m;
            n = x < n ? x : n;
        }
    *minv = n;
    return m;
}

static void test_fused_act_and_ranges(void)
{
    const struct nchw shapes[] = { { 3, 4, 5, 7 }, { 5, 3, 8, 8 } };
    const int acts[] = { -1, ACT_RELU, ACT_RELU6 };
    for (int t = 0; t < 2; t++)
        for (int a = 0; a < 3; a++) {
            struct nchw s = shapes[t];
            long cnt = nchw_count(&s);
            float *x = malloc(sizeof(float) * cnt), *g = malloc(sizeof(float) * cnt);
            float *y = malloc(sizeof(float) * cnt), *yr = malloc(sizeof(float) * cnt);
            float *gx = malloc(sizeof(float) * cnt), *gr = malloc(sizeof(float) * cnt);
            float gamma[5], beta[5], m[5], is[5], mr[5], ir[5], mx[5], mn[5], gmx[5], gg[5], gb[5];
            gc_fill(x, cnt, 50 + t, -3, 3);
            gc_fill(g, cnt, 60 + t, -1, 1);
            gc_fill(gamma, s.c, 70 + t, 0.5f, 4);
            gc_fill(beta, s.c, 80 + t, -1, 2);
            x[3] = NAN;   /* ignored by the ranges; an activation maps it to 0 */
            bn_forward_train_act(&s, x, gamma, beta, 1e-5f, 0.1f, NULL, NULL, acts[a], y, m, is, mx, mn,
                                 NULL, op_tag_make(0, 0));
            bn_forward_train(&s, x, gamma, beta, 1e-5f, 0.1f, NULL, NULL, yr, mr, ir, NULL, op_tag_make(0, 0));
            if (acts[a] >= 0)
                act_forward((enum act_kind)acts[a], &s, yr, yr, NULL, op_tag_make(0, 0));
            CU_ASSERT_EQUAL(memcmp(y, yr, sizeof(float) * cnt), 0);
            x[3] = 0.5f;   /* finite statistics for the backward pass */
            bn_forward_train_act(&s, x, gamma, beta, 1e-5f, 0.1f, NULL, NULL, acts[a], y, m, is, mx, mn,
                                 NULL, op_tag_make(0, 0));
            for (int c = 0; c < s.c; c++) {
                float lo, hi = chan_maxabs(&s, y, c, &lo);
                CU_ASSERT_EQUAL(mx[c], hi);
                CU_ASSERT_EQUAL(mn[c], lo);
            }
            bn_backward_act(&s, x, g, gamma, beta, m, is, acts[a], NULL, gx, gg, gb, gmx, NULL, op_tag_make(0, 0));
            /* the first pass's sums taken plane by plane outside (post_act_backward's way) */
            struct bn_bwd_sums *sums = calloc((size_t)s.c, sizeof *sums);
            for (int c = 0; c < s.c; c++) {
                for (int n = 0; n < s.n; n++) {
                    long o = ((long)n * s.c + c) * s.h * s.w;
                    bn_backward_sums_plane(x + o, g + o, (long)s.h * s.w, gamma[c], beta[c], m[c], is[c],
                                           acts[a], &sums[c]);
                }
            }
            float *gs = malloc(sizeof(float) * cnt), ggs[5], gbs[5], gmxs[5];
            bn_backward_act(&s, x, g, gamma, beta, m, is, acts[a], sums, gs, ggs, gbs, gmxs, NULL,
                            op_tag_make(0, 0));
            CU_ASSERT_EQUAL(memcmp(gs, gx, sizeof(float) * cnt), 0);
            CU_ASSERT_EQUAL(memcmp(ggs, gg, sizeof(float) * s.c), 0);
            CU_ASSERT_EQUAL(memcmp(gbs, gb, sizeof(float) * s.c), 0);
            CU_ASSERT_EQUAL(memcmp(gmxs, gmx, sizeof(float) * s.c), 0);
            free(gs);
            free(sums);
            memcpy(gr, g, sizeof(float) * cnt);
            if (acts[a] >= 0)
                act_backward((enum act_kind)acts[a], &s, y, gr, gr, NULL, op_tag_make(0, 0));
            bn_backward(&s, x, gr, gamma, m, is, gr, NULL, NULL, NULL, op_tag_make(0, 0));
            CU_ASSERT_EQUAL(memcmp(gx, gr, sizeof(float) * cnt), 0);
            for (int c = 0; c < s.c; c++) {
                float lo;
                CU_ASSERT_EQUAL(gmx[c], chan_maxabs(&s, gx, c, &lo));
            }
            free(x); free(g); free(y); free(yr); free(gx); free(gr);
        }
}

/* Without y (the output never written), the ranges come from each channel's extremes alone:
 * the same bits as the scan of the written output, for either sign of gamma, with and without
 * an activation, on planes with and without vector tails; the statistics are the same too. */
static void test_range_from_extremes(void)
{
    const struct nchw shapes[] = { { 3, 4, 5, 7 }, { 5, 3, 8, 8 }, { 2, 6, 1, 37 } };
    const int acts[] = { -1, ACT_RELU, ACT_RELU6 };
    for (int t = 0; t < 3; t++)
        for (int a = 0; a < 3; a++)
            for (int seed = 0; seed < 20; seed++) {
                struct nchw s = shapes[t];
                long cnt = nchw_count(&s);
                float *x = malloc(sizeof(float) * cnt), *y = malloc(sizeof(float) * cnt);
                float gamma[6], beta[6], m1[6], i1[6], mx1[6], mn1[6], m2[6], i2[6], mx2[6], mn2[6];
                gc_fill(x, cnt, 500 + seed, -3, 3);
                gc_fill(gamma, s.c, 600 + seed, -4, 4);
                gc_fill(beta, s.c, 700 + seed, -1, 2);
                bn_forward_train_act(&s, x, gamma, beta, 1e-5f, 0.1f, NULL, NULL, acts[a], y, m1, i1, mx1,
                                     mn1, NULL, op_tag_make(0, 0));
                bn_forward_train_act(&s, x, gamma, beta, 1e-5f, 0.1f, NULL, NULL, acts[a], NULL, m2, i2, mx2,
                                     mn2, NULL, op_tag_make(0, 0));
                CU_ASSERT_EQUAL(memcmp(mx1, mx2, sizeof(float) * s.c), 0);
                CU_ASSERT_EQUAL(memcmp(mn1, mn2, sizeof(float) * s.c), 0);
                CU_ASSERT_EQUAL(memcmp(m1, m2, sizeof(float) * s.c), 0);
                CU_ASSERT_EQUAL(memcmp(i1, i2, sizeof(float) * s.c), 0);
                free(x); free(y);
            }
}

static void test_op_records(void)
{
    struct nchw s = { 2, 3, 4, 5 };
    float x[120] = { 0 }, y[120], g[3] = { 1, 1, 1 }, b[3] = { 0 }, m[3], is[3];
    struct gc_records rec = {0};
    struct op_sink sink = { gc_record, &rec };
    bn_forward_train(&s, x, g, b, 1e-5f, 0.1f, NULL, NULL, y, m, is, &sink, op_tag_make(9, OP_TECH_SWA));
    CU_ASSERT_EQUAL(rec.count, 1);
    CU_ASSERT_EQUAL(rec.last.kind, OP_BN);
    CU_ASSERT_EQUAL(rec.last.phase, OP_PHASE_FWD);
    CU_ASSERT_EQUAL(rec.last.tech, OP_TECH_SWA);
    CU_ASSERT_EQUAL(rec.last.layer, 9);
    CU_ASSERT_EQUAL(rec.last.n, 2);
    CU_ASSERT_EQUAL(rec.last.cin, 3);
    CU_ASSERT_EQUAL(rec.last.h_in, 4);
    CU_ASSERT_EQUAL(rec.last.w_out, 5);
    CU_ASSERT_EQUAL(rec.last.bits_a, 32);
    bn_backward(&s, x, y, g, m, is, y, NULL, NULL, &sink, op_tag_make(9, 0));
    CU_ASSERT_EQUAL(rec.count, 2);
    CU_ASSERT_EQUAL(rec.last.phase, OP_PHASE_BWD_DATA);
    CU_ASSERT_EQUAL(oprec_macs(&rec.last), 0);
}

int main(void)
{
    CU_TestInfo tests[] = {
        { "gradients (central differences)", test_gradients },
        { "hand-computed statistics", test_hand_values },
        { "backward properties", test_backward_properties },
        { "1, 2 and 3 threads identical", test_threads_identical },
        { "fused activation and ranges", test_fused_act_and_ranges },
        { "range without the output, from the extremes", test_range_from_extremes },
        { "op records", test_op_records },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("bn", NULL, NULL, tests);
}
