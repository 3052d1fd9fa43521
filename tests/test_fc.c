/* Fully connected: central-difference gradients (float), float optimized ~ reference, fixed
 * optimized == reference bit for bit (per tensor and per channel, narrow accumulator), the
 * per-channel fold of backward-data, bias gradient, op records. */
#include "cunit_main.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "fc.h"
#include "gradcheck.h"

struct fc_ctx {
    struct fc_shape s;
    float *x, *w, *b, *y, *r;
};

static double fc_loss(void *p)
{
    struct fc_ctx *c = p;
    CU_ASSERT_EQUAL(fc_forward_f32(&c->s, c->x, c->w, c->b, c->y, NULL, op_tag_make(0, 0)), 0);
    return gc_dot(c->y, c->r, (long)c->s.n * c->s.cout);
}

static void test_gradients(void)
{
    const struct fc_shape shapes[] = { { 3, 7, 5 }, { 1, 1, 1 }, { 5, 16, 10 } };
    for (int t = 0; t < 3; t++) {
        struct fc_ctx c;
        c.s = shapes[t];
        long nx = (long)c.s.n * c.s.cin, nw = (long)c.s.cout * c.s.cin, ny = (long)c.s.n * c.s.cout;
        c.x = malloc(sizeof(float) * nx);
        c.w = malloc(sizeof(float) * nw);
        c.b = malloc(sizeof(float) * c.s.cout);
        c.y = malloc(sizeof(float) * ny);
        c.r = malloc(sizeof(float) * ny);
        float *gx = malloc(sizeof(float) * nx), *gw = malloc(sizeof(float) * nw), *gb = malloc(sizeof(float) * c.s.cout);
        gc_fill(c.x, nx, 1 + t, -1, 1);
        gc_fill(c.w, nw, 11 + t, -1, 1);
        gc_fill(c.b, c.s.cout, 21 + t, -1, 1);
        gc_fill(c.r, ny, 31 + t, -1, 1);
        CU_ASSERT_EQUAL(fc_backward_data_f32(&c.s, c.r, c.w, gx, NULL, op_tag_make(0, 0)), 0);
        CU_ASSERT_EQUAL(fc_backward_weight_f32(&c.s, c.x, c.r, gw, gb, NULL, op_tag_make(0, 0)), 0);
        CU_ASSERT_EQUAL(gc_check(fc_loss, &c, c.x, gx, nx, 1, 0.05f, 1e-4, 1e-3).failed, 0);
        CU_ASSERT_EQUAL(gc_check(fc_loss, &c, c.w, gw, nw, 1, 0.05f, 1e-4, 1e-3).failed, 0);
        CU_ASSERT_EQUAL(gc_check(fc_loss, &c, c.b, gb, c.s.cout, 1, 0.05f, 1e-4, 1e-3).failed, 0);
        /* references agree */
        float *x2 = malloc(sizeof(float) * nx), *w2 = malloc(sizeof(float) * nw), *b2 = malloc(sizeof(float) * c.s.cout);
        float *y1 = malloc(sizeof(float) * ny), *y2 = malloc(sizeof(float) * ny);
        fc_forward_f32(&c.s, c.x, c.w, c.b, y1, NULL, op_tag_make(0, 0));
        fc_forward_f32_ref(&c.s, c.x, c.w, c.b, y2);
        fc_backward_data_f32_ref(&c.s, c.r, c.w, x2);
        fc_backward_weight_f32_ref(&c.s, c.x, c.r, w2, b2);
        for (long i = 0; i < ny; i++)
            CU_ASSERT_DOUBLE_EQUAL(y1[i], y2[i], 1e-5);
        for (long i = 0; i < nx; i++)
            CU_ASSERT_DOUBLE_EQUAL(gx[i], x2[i], 1e-5);
        for (long i = 0; i < nw; i++)
            CU_ASSERT_DOUBLE_EQUAL(gw[i], w2[i], 1e-5);
        CU_ASSERT_EQUAL(memcmp(gb, b2, sizeof(float) * c.s.cout), 0);
        free(x2); free(w2); free(b2); free(y1); free(y2);
        free(c.x); free(c.w); free(c.b); free(c.y); free(c.r); free(gx); free(gw); free(gb);
    }
}

static void test_fixed_matches_reference(void)
{
    uint64_t key = rng_key(77, 1);
    for (int i = 0; i < 30; i++) {
        struct fc_shape s = { 1 + (int)rng_below(key, 4u * i, 9), 1 + (int)rng_below(key, 4u * i + 1, 40),
                              1 + (int)rng_below(key, 4u * i + 2, 12) };
        long nx = (long)s.n * s.cin, nw = (long)s.cout * s.cin, ny = (long)s.n * s.cout;
        int16_t *xq = malloc(2 * nx), *wq = malloc(2 * nw), *gq = malloc(2 * ny);
        float *ws = malloc(sizeof(float) * s.cout), *b = malloc(sizeof(float) * s.cout), xs = 0.02f, gs = 1e-5f;
        gc_fill_codes(xq, nx, 10 * i, 0, 255);
        gc_fill_codes(wq, nw, 10 * i + 1, -127, 127);
        gc_fill_codes(gq, ny, 10 * i + 2, -32767, 32767);
        gc_fill(ws, s.cout, 10 * i + 3, 0.001f, 0.01f);
        gc_fill(b, s.cout, 10 * i + 4, -1, 1);
        struct fx_tensor x = { xq, &xs, 8, 0, 0 }, w = { wq, ws, 8, 1, i % 2 }, g = { gq, &gs, 16, 1, 0 };
        int acc_bits = i % 3 ? 48 : 28;
        float *y0 = malloc(4 * ny), *y1 = malloc(4 * ny), *gx0 = malloc(4 * nx), *gx1 = malloc(4 * nx);
        float *gw0 = malloc(4 * nw), *gw1 = malloc(4 * nw);
        int64_t *a0 = malloc(8 * nw), *a1 = malloc(8 * nw);
        struct fx_stats s0 = { 0 }, s1 = { 0 };
        fc_forward_fx_ref(&s, &x, &w, b, y0, acc_bits, &s0);
        fc_backward_data_fx_ref(&s, &g, &w, gx0, acc_bits, &s0);
        fc_backward_weight_fx_ref(&s, &x, &g, a0, gw0, acc_bits, &s0);
        struct op_tag tag = op_tag_make(0, 0);
        CU_ASSERT_EQUAL(fc_forward_fx(&s, &x, &w, b, y1, acc_bits, &s1, NULL, tag), 0);
        CU_ASSERT_EQUAL(fc_backward_data_fx(&s, &g, &w, gx1, acc_bits, &s1, NULL, tag), 0);
        CU_ASSERT_EQUAL(fc_backward_weight_fx(&s, &x, &g, a1, gw1, acc_bits, &s1, NULL, tag), 0);
        CU_ASSERT_EQUAL(memcmp(y0, y1, 4 * ny), 0);
        CU_ASSERT_EQUAL(memcmp(gx0, gx1, 4 * nx), 0);
        CU_ASSERT_EQUAL(memcmp(gw0, gw1, 4 * nw), 0);
        CU_ASSERT_EQUAL(memcmp(a0, a1, 8 * nw), 0);
        CU_ASSERT_EQUAL(memcmp(&s0, &s1, sizeof s0), 0);
        CU_ASSERT_EQUAL(s0.acc_sums, (uint64_t)(ny + nx + nw));
        /* gw only, no acc output */
        CU_ASSERT_EQUAL(fc_backward_weight_fx(&s, &x, &g, NULL, gw1, acc_bits, NULL, NULL, tag), 0);
        CU_ASSERT_EQUAL(memcmp(gw0, gw1, 4 * nw), 0);
        free(xq); free(wq); free(gq); free(ws); free(b); free(y0); free(y1); free(gx0); free(gx1);
        free(gw0); free(gw1); free(a0); free(a1);
    }
}

/* Hand values: y = x . w^T * xs * ws[o] + b; and the 28-bit accumulator overflows. */
static void test_hand_values(void)
{
    struct fc_shape s = { 1, 3, 2 };
    int16_t xq[3] = { 1, 2, 3 }, wq[6] = { 1, 1, 1, -1, 0, 2 };
    float xs = 0.5f, ws[2] = { 1.0f, 0.25f }, b[2] = { 10.0f, 0.0f }, y[2];
    struct fx_tensor x = { xq, &xs, 8, 0, 0 }, w = { wq, ws, 8, 1, 1 };
    CU_ASSERT_EQUAL(fc_forward_fx(&s, &x, &w, b, y, 48, NULL, NULL, op_tag_make(0, 0)), 0);
    CU_ASSERT_EQUAL(y[0], 6 * 0.5f + 10.0f);
    CU_ASSERT_EQUAL(y[1], 5 * 0.5f * 0.25f);

    struct fc_shape big = { 1, 4, 1 };
    int16_t bx[4] = { 32767, 32767, 32767, 32767 };
    float one = 1.0f, out;
    struct fx_tensor X = { bx, &one, 16, 1, 0 }, W = { bx, &one, 16, 1, 0 };
    struct fx_stats st = { 0 };
    CU_ASSERT_EQUAL(fc_forward_fx(&big, &X, &W, NULL, &out, 32, &st, NULL, op_tag_make(0, 0)), 0);
    CU_ASSERT_EQUAL(st.acc_overflows, 1);   /* 4 * 32767^2 = 4.29e9 > 2^31 */
    CU_ASSERT_EQUAL(out, (float)(4.0 * 32767.0 * 32767.0));
}

static void test_fold_and_bias(void)
{
    struct fc_shape s = { 4, 6, 3 };
    float wf[18], wd[18], gy[12], ws[3], gs, gx_fx[24], gx_f[24];
    int16_t wq[18], gq[12];
    gc_fill(wf, 18, 1, -1, 1);
    for (int i = 12; i < 18; i++)
        wf[i] *= 10.0f;   /* one channel 10x larger */
    gc_fill(gy, 12, 2, -1, 1);
    struct fx_format fw = { 8, 1, 1, 0 }, fg = { 16, 1, 0, 0 };
    fx_quantize(wf, 1, 3, 6, &fw, NULL, 0, wq, ws, NULL);
    fx_dequantize(wq, 1, 3, 6, 1, ws, wd);
    fx_quantize(gy, 4, 3, 1, &fg, ws, 0, gq, &gs, NULL);
    struct fx_tensor g = { gq, &gs, 16, 1, 0 }, w = { wq, ws, 8, 1, 1 };
    CU_ASSERT_EQUAL(fc_backward_data_fx(&s, &g, &w, gx_fx, 48, NULL, NULL, op_tag_make(0, 0)), 0);
    fc_backward_data_f32_ref(&s, gy, wd, gx_f);
    for (int i = 0; i < 24; i++)
        CU_ASSERT_DOUBLE_EQUAL(gx_fx[i], gx_f[i], 1e-3);
    float gb[3];
    fc_bias_grad(&s, gy, gb);
    for (int o = 0; o < 3; o++)
        CU_ASSERT_DOUBLE_EQUAL(gb[o], gy[o] + gy[3 + o] + gy[6 + o] + gy[9 + o], 1e-6);
}

static void test_records(void)
{
    struct fc_shape s = { 4, 64, 10 };
    float *buf = calloc(1000, sizeof(float));
    struct gc_records rec = {0};
    struct op_sink sink = { gc_record, &rec };
    CU_ASSERT_EQUAL(fc_forward_f32(&s, buf, buf, NULL, buf + 900, &sink, op_tag_make(99, 0)), 0);
    CU_ASSERT_EQUAL(rec.count, 1);
    CU_ASSERT_EQUAL(rec.last.kind, OP_FC);
    CU_ASSERT_EQUAL(rec.last.layer, 99);
    CU_ASSERT_EQUAL(rec.last.cin, 64);
    CU_ASSERT_EQUAL(rec.last.cout, 10);
    CU_ASSERT_EQUAL(rec.last.bits_a, 32);
    CU_ASSERT_EQUAL(oprec_macs(&rec.last), 4 * 64 * 10);
    int16_t q[640] = { 0 };
    float sc[10] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
    struct fx_tensor x = { q, sc, 8, 0, 0 }, g = { q, sc, 16, 1, 0 };
    CU_ASSERT_EQUAL(fc_backward_weight_fx(&s, &x, &g, NULL, buf, 48, NULL, &sink, op_tag_make(99, 0)), 0);
    CU_ASSERT_EQUAL(rec.last.phase, OP_PHASE_BWD_WEIGHT);
    CU_ASSERT_EQUAL(rec.last.bits_a, 8);
    CU_ASSERT_EQUAL(rec.last.bits_b, 16);
    CU_ASSERT_EQUAL(rec.last.bits_acc, 48);
    free(buf);
}

int main(void)
{
    CU_TestInfo tests[] = {
        { "float gradients (central differences)", test_gradients },
        { "fixed optimized == reference", test_fixed_matches_reference },
        { "hand values and overflow", test_hand_values },
        { "per-channel fold and bias gradient", test_fold_and_bias },
        { "op records", test_records },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("fc", NULL, NULL, tests);
}
