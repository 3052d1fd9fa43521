/* Convolution: central-difference gradients (float), optimized == reference bit for bit in fixed
 * point on random shapes (odd sizes, stride 2, padding, groups, depthwise, k = 1/3/5), float
 * optimized == reference within tolerance, thread-count independence, accumulator overflow
 * counting, the per-channel fold of backward-data, the direct kernels on network-sized shapes,
 * and the op records. */
#include "cunit_main.h"
#include "cpu_path_arg.h"
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "conv.h"
#include "cpu.h"
#include "gemm.h"
#include "gradcheck.h"

/* ---- gradient checks (float) ---- */

static const struct conv_shape grad_shapes[] = {
    { 2, 3, 5, 6, 4, 3, 1, 1, 1 },   /* dense 3x3, odd sizes */
    { 2, 4, 7, 5, 6, 3, 2, 1, 2 },   /* groups 2, stride 2 */
    { 2, 4, 6, 6, 4, 3, 1, 1, 4 },   /* depthwise */
    { 1, 3, 7, 7, 6, 3, 2, 1, 3 },   /* depthwise with multiplier 2, stride 2 */
    { 1, 3, 5, 5, 5, 1, 2, 0, 1 },   /* 1x1 stride 2 */
    { 2, 6, 4, 3, 5, 1, 1, 0, 1 },   /* pointwise */
    { 1, 2, 6, 5, 3, 5, 1, 2, 1 },   /* 5x5 pad 2 */
    { 1, 2, 4, 4, 2, 3, 1, 2, 1 },   /* pad larger than k/2 */
};

struct conv_ctx {
    const struct conv_shape *s;
    float *x, *w, *y, *r;
};

static double conv_loss(void *p)
{
    struct conv_ctx *c = p;
    CU_ASSERT_EQUAL(conv_forward_f32(c->s, c->x, c->w, c->y, NULL, NULL, op_tag_make(0, 0)), 0);
    return gc_dot(c->y, c->r, conv_y_count(c->s));
}

static void test_gradients(void)
{
    for (size_t t = 0; t < sizeof grad_shapes / sizeof grad_shapes[0]; t++) {
        const struct conv_shape *s = &grad_shapes[t];
        long nx = conv_x_count(s), nw = conv_w_count(s), ny = conv_y_count(s);
        struct conv_ctx c = { s, malloc(sizeof(float) * nx), malloc(sizeof(float) * nw),
                              malloc(sizeof(float) * ny), malloc(sizeof(float) * ny) };
        float *gx = malloc(sizeof(float) * nx), *gw = malloc(sizeof(float) * nw);
        gc_fill(c.x, nx, 100 + t, -1, 1);
        gc_fill(c.w, nw, 200 + t, -1, 1);
        gc_fill(c.r, ny, 300 + t, -1, 1);
        CU_ASSERT_EQUAL(conv_backward_data_f32(s, c.r, c.w, gx, NULL, NULL, op_tag_make(0, 0)), 0);
        CU_ASSERT_EQUAL(conv_backward_weight_f32(s, c.x, c.r, gw, NULL, NULL, op_tag_make(0, 0)), 0);
        /* conv is linear, so the central difference is exact but for float rounding of L. */
        struct gc_report rx = gc_check(conv_loss, &c, c.x, gx, nx, 1, 0.05f, 1e-3, 1e-3);
        struct gc_report rw = gc_check(conv_loss, &c, c.w, gw, nw, 1, 0.05f, 1e-3, 1e-3);
        if (rx.failed || rw.failed)
            printf("\nshape %zu: x failed %ld (worst %ld: %g vs %g), w failed %ld (worst %ld: %g vs %g)\n", t,
                   rx.failed, rx.worst, rx.worst_numeric, rx.worst_analytic,
                   rw.failed, rw.worst, rw.worst_numeric, rw.worst_analytic);
        CU_ASSERT_EQUAL(rx.failed, 0);
        CU_ASSERT_EQUAL(rw.failed, 0);
        CU_ASSERT_EQUAL(rx.checked, nx);
        free(c.x); free(c.w); free(c.y); free(c.r); free(gx); free(gw);
    }
}

/* ---- random shapes ---- */

static struct conv_shape random_shape(uint64_t key, int i)
{
    struct conv_shape s;
    int kind = (int)rng_below(key, 10u * i, 4);          /* dense, grouped, depthwise, dw x2 */
    int ks[3] = { 1, 3, 5 };
    s.k = ks[rng_below(key, 10u * i + 1, 3)];
    s.stride = 1 + (int)rng_below(key, 10u * i + 2, 2);
    s.pad = (int)rng_below(key, 10u * i + 3, (uint32_t)(s.k / 2 + 2));
    s.n = 1 + (int)rng_below(key, 10u * i + 4, 3);
    s.h = 1 + (int)rng_below(key, 10u * i + 5, 9);
    s.w = 1 + (int)rng_below(key, 10u * i + 6, 9);
    if (s.h + 2 * s.pad < s.k)
        s.h = s.k;
    if (s.w + 2 * s.pad < s.k)
        s.w = s.k;
    int a = 1 + (int)rng_below(key, 10u * i + 7, 5), b = 1 + (int)rng_below(key, 10u * i + 8, 5);
    switch (kind) {
    case 0: s.groups = 1; s.cin = a; s.cout = b; break;
    case 1: s.groups = 2 + (int)rng_below(key, 10u * i + 9, 2); s.cin = a * s.groups; s.cout = b * s.groups; break;
    case 2: s.groups = s.cin = s.cout = 2 + a; break;
    default: s.groups = s.cin = 1 + a; s.cout = 2 * s.cin; break;
    }
    return s;
}

struct fx_case {
    struct conv_shape s;
    int16_t *xq, *wq, *gq;
    float xs, gs, *ws;
    struct fx_tensor x, w, g;
};

/* wide: 16-bit activations and weights (sums then need int64 lanes in the depthwise path). */
static void make_case(struct fx_case *c, uint64_t seed, int x_signed, int per_channel, int wide)
{
    struct conv_shape *s = &c->s;
    long nx = conv_x_count(s), nw = conv_w_count(s), ny = conv_y_count(s);
    c->xq = malloc(sizeof(int16_t) * nx);
    c->wq = malloc(sizeof(int16_t) * nw);
    c->gq = malloc(sizeof(int16_t) * ny);
    c->ws = malloc(sizeof(float) * s->cout);
    int xb = wide ? 16 : 8, wb = wide ? 16 : 8;
    if (wide)
        x_signed = 1;
    gc_fill_codes(c->xq, nx, seed, x_signed ? -fx_qmax(xb, 1) : 0, fx_qmax(xb, x_signed));
    gc_fill_codes(c->wq, nw, seed + 1, -fx_qmax(wb, 1), fx_qmax(wb, 1));
    gc_fill_codes(c->gq, ny, seed + 2, -32767, 32767);
    gc_fill(c->ws, s->cout, seed + 3, 0.001f, 0.01f);
    c->xs = 0.0137f;
    c->gs = 3.1e-6f;
    c->x = (struct fx_tensor){ c->xq, &c->xs, xb, x_signed, 0 };
    c->w = (struct fx_tensor){ c->wq, c->ws, wb, 1, per_channel };
    c->g = (struct fx_tensor){ c->gq, &c->gs, 16, 1, 0 };
}

static void free_case(struct fx_case *c)
{
    free(c->xq); free(c->wq); free(c->gq); free(c->ws);
}

static int stats_equal(const struct fx_stats *a, const struct fx_stats *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

/* Runs the three optimized fixed-point passes at `threads` threads into the given buffers. */
static void run_fx(struct fx_case *c, int threads, int acc_bits, float *y, float *gx, float *gw,
                   int64_t *gwa, struct fx_stats *st, struct fx_workspace *ws)
{
    int keep = omp_get_max_threads();
    omp_set_num_threads(threads);
    struct op_tag tag = op_tag_make(1, OP_TECH_BASE);
    CU_ASSERT_EQUAL(conv_forward_fx(&c->s, &c->x, &c->w, y, acc_bits, st, ws, NULL, tag), 0);
    CU_ASSERT_EQUAL(conv_backward_data_fx(&c->s, &c->g, &c->w, gx, 0, acc_bits, st, ws, NULL, tag), 0);
    CU_ASSERT_EQUAL(conv_backward_weight_fx(&c->s, &c->x, &c->g, gwa, gw, acc_bits, st, ws, NULL, tag), 0);
    omp_set_num_threads(keep);
}

#define N_RANDOM 80

static void test_fixed_matches_reference(void)
{
    uint64_t key = rng_key(2024, 1);
    struct fx_workspace ws = { 0 };
    int kinds_seen[4] = { 0 };
    for (int i = 0; i < N_RANDOM; i++) {
        struct fx_case c;
        c.s = random_shape(key, i);
        CU_ASSERT_EQUAL_FATAL(conv_shape_check(&c.s), 0);
        kinds_seen[c.s.groups == 1 ? 0 : c.s.groups == c.s.cin ? (c.s.cout == c.s.cin ? 2 : 3) : 1]++;
        make_case(&c, 1000 + 10 * i, i % 3 == 0, i % 2 == 0, i % 5 == 4);
        long nx = conv_x_count(&c.s), nw = conv_w_count(&c.s), ny = conv_y_count(&c.s);
        /* A narrow accumulator (30 bits) makes some sums overflow, so the counts are compared too. */
        int acc_bits = i % 4 == 0 ? 30 : 48;
        float *y0 = malloc(sizeof(float) * ny), *y1 = malloc(sizeof(float) * ny), *y2 = malloc(sizeof(float) * ny);
        float *gx0 = malloc(sizeof(float) * nx), *gx1 = malloc(sizeof(float) * nx), *gx2 = malloc(sizeof(float) * nx);
        float *gw0 = malloc(sizeof(float) * nw), *gw1 = malloc(sizeof(float) * nw), *gw2 = malloc(sizeof(float) * nw);
        int64_t *a0 = malloc(sizeof(int64_t) * nw), *a1 = malloc(sizeof(int64_t) * nw), *a2 = malloc(sizeof(int64_t) * nw);
        struct fx_stats s0 = { 0 }, s1 = { 0 }, s2 = { 0 };
        conv_forward_fx_ref(&c.s, &c.x, &c.w, y0, acc_bits, &s0);
        conv_backward_data_fx_ref(&c.s, &c.g, &c.w, gx0, acc_bits, &s0);
        conv_backward_weight_fx_ref(&c.s, &c.x, &c.g, a0, gw0, acc_bits, &s0);
        run_fx(&c, 1, acc_bits, y1, gx1, gw1, a1, &s1, &ws);
        run_fx(&c, 2, acc_bits, y2, gx2, gw2, a2, &s2, NULL);
        int ok = !memcmp(y0, y1, sizeof(float) * ny) && !memcmp(y0, y2, sizeof(float) * ny) &&
                 !memcmp(gx0, gx1, sizeof(float) * nx) && !memcmp(gx0, gx2, sizeof(float) * nx) &&
                 !memcmp(gw0, gw1, sizeof(float) * nw) && !memcmp(gw0, gw2, sizeof(float) * nw) &&
                 !memcmp(a0, a1, sizeof(int64_t) * nw) && !memcmp(a0, a2, sizeof(int64_t) * nw) &&
                 stats_equal(&s0, &s1) && stats_equal(&s0, &s2);
        if (!ok)
            printf("\nmismatch at shape %d: n%d cin%d %dx%d cout%d k%d s%d p%d g%d\n", i, c.s.n, c.s.cin,
                   c.s.h, c.s.w, c.s.cout, c.s.k, c.s.stride, c.s.pad, c.s.groups);
        CU_ASSERT_TRUE(ok);
        CU_ASSERT_EQUAL(s0.acc_sums, (uint64_t)(nx + ny + nw));
        free(y0); free(y1); free(y2); free(gx0); free(gx1); free(gx2);
        free(gw0); free(gw1); free(gw2); free(a0); free(a1); free(a2);
        free_case(&c);
    }
    for (int k = 0; k < 4; k++)
        CU_ASSERT(kinds_seen[k] >= 5);   /* every kind of grouping was exercised */
    fx_workspace_free(&ws);
}

static int close_enough(const float *a, const float *b, long n, double tol)
{
    for (long i = 0; i < n; i++)
        if (fabs((double)a[i] - (double)b[i]) > tol * (1.0 + fabs((double)b[i])))
            return 0;
    return 1;
}

static void test_float_matches_reference(void)
{
    uint64_t key = rng_key(2024, 2);
    struct fx_workspace ws = { 0 };
    for (int i = 0; i < N_RANDOM; i++) {
        struct conv_shape s = random_shape(key, i);
        long nx = conv_x_count(&s), nw = conv_w_count(&s), ny = conv_y_count(&s);
        float *x = malloc(sizeof(float) * nx), *w = malloc(sizeof(float) * nw), *g = malloc(sizeof(float) * ny);
        float *y0 = malloc(sizeof(float) * ny), *y1 = malloc(sizeof(float) * ny);
        float *gx0 = malloc(sizeof(float) * nx), *gx1 = malloc(sizeof(float) * nx);
        float *gw0 = malloc(sizeof(float) * nw), *gw1 = malloc(sizeof(float) * nw), *gw2 = malloc(sizeof(float) * nw);
        gc_fill(x, nx, 10 * i, -1, 1);
        gc_fill(w, nw, 10 * i + 1, -1, 1);
        gc_fill(g, ny, 10 * i + 2, -1, 1);
        conv_forward_f32_ref(&s, x, w, y0);
        conv_backward_data_f32_ref(&s, g, w, gx0);
        conv_backward_weight_f32_ref(&s, x, g, gw0);
        struct op_tag tag = op_tag_make(0, 0);
        CU_ASSERT_EQUAL(conv_forward_f32(&s, x, w, y1, &ws, NULL, tag), 0);
        CU_ASSERT_EQUAL(conv_backward_data_f32(&s, g, w, gx1, &ws, NULL, tag), 0);
        CU_ASSERT_EQUAL(conv_backward_weight_f32(&s, x, g, gw1, &ws, NULL, tag), 0);
        CU_ASSERT_EQUAL(conv_backward_weight_f32(&s, x, g, gw2, NULL, NULL, tag), 0);
        /* |values| <= 1 and dot products of <= 5*25 (fwd) or 3*9*81 (weights) terms: float
         * reassociation stays well below 1e-4 relative. */
        CU_ASSERT_TRUE(close_enough(y1, y0, ny, 1e-5));
        CU_ASSERT_TRUE(close_enough(gx1, gx0, nx, 1e-5));
        CU_ASSERT_TRUE(close_enough(gw1, gw0, nw, 1e-4));
        CU_ASSERT_EQUAL(memcmp(gw1, gw2, sizeof(float) * nw), 0);   /* deterministic */
        free(x); free(w); free(g); free(y0); free(y1); free(gx0); free(gx1); free(gw0); free(gw1); free(gw2);
    }
    fx_workspace_free(&ws);
}

/* ---- the direct kernels on network-sized shapes ----
 * The random shapes above are small; these reach the direct kernels' other paths: many output
 * tiles, channel pairs with an odd count, 5x5 taps, sums that need int64 spills (16-bit g_y
 * against 8-bit weights over 64 channels x 9 taps, 16-bit activations), several samples stacked
 * per backward-weight pass with a partial last stack (whose unused sample slots hold the
 * previous stack's values), overflow counting, and stride 2 (forward
 * and backward-weight on phase planes; backward-data takes the im2col path). */

struct direct_case {
    struct conv_shape s;
    int x_bits, x_signed, acc_bits;
    int extreme;   /* every code at its largest value: int32 partial sums would overflow */
};

static void fill_extreme(int16_t *v, long count, int16_t value)
{
    for (long i = 0; i < count; i++)
        v[i] = value;
}

static void test_direct_shapes(void)
{
    static const struct direct_case cases[] = {
        { { 3, 64, 8, 8, 64, 3, 1, 1, 1 }, 8, 0, 48, 0 },     /* stage 3 */
        { { 3, 64, 8, 8, 64, 3, 1, 1, 1 }, 8, 0, 48, 1 },     /* ... bwd-data sums spill */
        { { 2, 5, 11, 13, 7, 5, 1, 2, 1 }, 8, 1, 48, 0 },     /* odd channels, 5x5 */
        { { 5, 16, 32, 32, 16, 3, 1, 1, 1 }, 8, 0, 48, 0 },   /* stage 1, partial stacks */
        { { 5, 16, 32, 32, 16, 3, 1, 1, 1 }, 8, 0, 48, 1 },   /* ... at the largest codes */
        { { 20, 3, 6, 6, 4, 3, 1, 0, 1 }, 8, 0, 48, 0 },      /* stem-like, pad 0, many per stack */
        { { 30, 6, 8, 8, 5, 3, 1, 1, 1 }, 8, 1, 48, 0 },      /* compact stacks of 26, then 4 */
        { { 2, 64, 9, 7, 9, 3, 1, 1, 1 }, 16, 1, 48, 1 },     /* 16-bit x: forward sums spill */
        { { 2, 24, 9, 9, 6, 3, 1, 1, 1 }, 16, 1, 30, 0 },     /* narrow accumulator: overflows */
        { { 4, 8, 16, 16, 8, 3, 1, 1, 1 }, 12, 1, 48, 1 },    /* 12-bit x: bwd-weight lanes spill */
        { { 3, 16, 32, 32, 32, 3, 2, 1, 1 }, 8, 0, 48, 0 },   /* stride 2 (phase planes) */
        { { 3, 32, 16, 16, 64, 1, 2, 0, 1 }, 8, 0, 48, 0 },   /* 1x1 stride 2: im2col path */
        { { 2, 5, 11, 13, 7, 3, 2, 1, 1 }, 8, 1, 48, 0 },     /* stride 2, odd sizes */
        { { 3, 6, 9, 12, 5, 5, 2, 2, 1 }, 8, 0, 48, 0 },      /* stride 2, 5x5 */
        { { 4, 8, 16, 16, 8, 3, 2, 1, 1 }, 12, 1, 48, 1 },    /* stride 2, lanes spill */
    };
    struct fx_workspace ws = { 0 };
    for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
        const struct direct_case *c = &cases[i];
        const struct conv_shape *s = &c->s;
        if (gemm_cpu_has_avx2() && s->k > 1)   /* these shapes take the direct kernels */
            CU_ASSERT_TRUE(conv_direct_ok(s) || conv_direct_strided_ok(s));
        long nx = conv_x_count(s), nw = conv_w_count(s), ny = conv_y_count(s);
        int16_t *xq = malloc(sizeof(int16_t) * nx), *wq = malloc(sizeof(int16_t) * nw), *gq = malloc(sizeof(int16_t) * ny);
        float *wsc = malloc(sizeof(float) * s->cout), xs = 0.0137f, gs = 3.1e-6f;
        gc_fill_codes(xq, nx, 7000 + i, c->x_signed ? -fx_qmax(c->x_bits, 1) : 0, fx_qmax(c->x_bits, c->x_signed));
        gc_fill_codes(wq, nw, 7100 + i, -127, 127);
        gc_fill_codes(gq, ny, 7200 + i, -32767, 32767);
        gc_fill(wsc, s->cout, 7300 + i, 0.001f, 0.01f);
        if (c->extreme) {
            fill_extreme(xq, nx, (int16_t)fx_qmax(c->x_bits, c->x_signed));
            fill_extreme(wq, nw, 127);
            fill_extreme(gq, ny, 32767);
        }
        struct fx_tensor x = { xq, &xs, c->x_bits, c->x_signed, 0 }, w = { wq, wsc, 8, 1, 1 }, g = { gq, &gs, 16, 1, 0 };
        float *y0 = malloc(sizeof(float) * ny), *y1 = malloc(sizeof(float) * ny);
        float *gx0 = malloc(sizeof(float) * nx), *gx1 = malloc(sizeof(float) * nx);
        float *gw0 = malloc(sizeof(float) * nw), *gw1 = malloc(sizeof(float) * nw);
        int64_t *a0 = malloc(sizeof(int64_t) * nw), *a1 = malloc(sizeof(int64_t) * nw);
        struct fx_stats s0 = { 0 };
        conv_forward_fx_ref(s, &x, &w, y0, c->acc_bits, &s0);
        conv_backward_data_fx_ref(s, &g, &w, gx0, c->acc_bits, &s0);
        conv_backward_weight_fx_ref(s, &x, &g, a0, gw0, c->acc_bits, &s0);
        for (int threads = 1; threads <= 2; threads++) {
            struct fx_stats s1 = { 0 };
            int keep = omp_get_max_threads();
            omp_set_num_threads(threads);
            struct op_tag tag = op_tag_make(1, OP_TECH_BASE);
            CU_ASSERT_EQUAL(conv_forward_fx(s, &x, &w, y1, c->acc_bits, &s1, &ws, NULL, tag), 0);
            CU_ASSERT_EQUAL(conv_backward_data_fx(s, &g, &w, gx1, 0, c->acc_bits, &s1, &ws, NULL, tag), 0);
            CU_ASSERT_EQUAL(conv_backward_weight_fx(s, &x, &g, a1, gw1, c->acc_bits, &s1, &ws, NULL, tag), 0);
            omp_set_num_threads(keep);
            int ok = !memcmp(y0, y1, sizeof(float) * ny) && !memcmp(gx0, gx1, sizeof(float) * nx) &&
                     !memcmp(gw0, gw1, sizeof(float) * nw) && !memcmp(a0, a1, sizeof(int64_t) * nw) &&
                     stats_equal(&s0, &s1);
            if (!ok)
                printf("\nmismatch at direct case %d, %d threads\n", i, threads);
            CU_ASSERT_TRUE(ok);
        }
        if (c->acc_bits < 32)
            CU_ASSERT_TRUE(s0.acc_overflows > 0);   /* the case does exercise the counting */

        /* float: the same shapes against the float reference */
        float *xf = malloc(sizeof(float) * nx), *wf = malloc(sizeof(float) * nw), *gf = malloc(sizeof(float) * ny);
        gc_fill(xf, nx, 7400 + i, -1, 1);
        gc_fill(wf, nw, 7500 + i, -1, 1);
        gc_fill(gf, ny, 7600 + i, -1, 1);
        conv_forward_f32_ref(s, xf, wf, y0);
        conv_backward_data_f32_ref(s, gf, wf, gx0);
        conv_backward_weight_f32_ref(s, xf, gf, gw0);
        struct op_tag tag = op_tag_make(0, 0);
        CU_ASSERT_EQUAL(conv_forward_f32(s, xf, wf, y1, &ws, NULL, tag), 0);
        CU_ASSERT_EQUAL(conv_backward_data_f32(s, gf, wf, gx1, &ws, NULL, tag), 0);
        CU_ASSERT_EQUAL(conv_backward_weight_f32(s, xf, gf, gw1, &ws, NULL, tag), 0);
        /* dot products of up to 64*9 (data) or 5*32*32*9 (weights) terms of |v| <= 1 */
        CU_ASSERT_TRUE(close_enough(y1, y0, ny, 1e-4));
        CU_ASSERT_TRUE(close_enough(gx1, gx0, nx, 1e-4));
        CU_ASSERT_TRUE(close_enough(gw1, gw0, nw, 1e-3));
        free(xf); free(wf); free(gf);
        free(xq); free(wq); free(gq); free(wsc); free(y0); free(y1); free(gx0); free(gx1);
        free(gw0); free(gw1); free(a0); free(a1);
    }
    fx_workspace_free(&ws);
}

/* ---- hand-computed values ---- */

/* Float results of the direct kernels do not depend on the kernel path: every path's tiles add
 * the same terms in the same order with fused multiply-adds (kernels/conv_tiles.h). */
/* Float training must not depend on the thread count (docs/numbers.md): every float pass, and
 * backward-weight's sum over the batch in particular, gives the same bits at 1, 2 and 3
 * threads. The shapes cover the direct kernels, the im2col path of a stride-2 3x3 and a 1x1
 * projection, and a depthwise conv. (Before issue 13's session the im2col backward-weight summed
 * one partial per thread, so ResNet-20 trained differently at 1 and 2 threads.) */
static void test_float_thread_independent(void)
{
    static const struct conv_shape shapes[] = {
        { 9, 16, 16, 16, 16, 3, 1, 1, 1 }, { 9, 16, 16, 16, 32, 3, 2, 1, 1 },
        { 9, 16, 16, 16, 32, 1, 2, 0, 1 }, { 9, 12, 8, 8, 12, 3, 1, 1, 12 },
    };
    for (int i = 0; i < (int)(sizeof shapes / sizeof shapes[0]); i++) {
        const struct conv_shape *s = &shapes[i];
        long nx = conv_x_count(s), nw = conv_w_count(s), ny = conv_y_count(s);
        float *x = malloc(sizeof(float) * nx), *w = malloc(sizeof(float) * nw);
        float *g = malloc(sizeof(float) * ny), *out[3][3];
        gc_fill(x, nx, 8300 + i, -1, 1);
        gc_fill(w, nw, 8400 + i, -1, 1);
        gc_fill(g, ny, 8500 + i, -1, 1);
        struct op_tag tag = op_tag_make(0, 0);
        int keep = omp_get_max_threads();
        for (int t = 0; t < 3; t++) {
            out[t][0] = malloc(sizeof(float) * ny);
            out[t][1] = malloc(sizeof(float) * nx);
            out[t][2] = malloc(sizeof(float) * nw);
            omp_set_num_threads(t + 1);
            CU_ASSERT_EQUAL(conv_forward_f32(s, x, w, out[t][0], NULL, NULL, tag), 0);
            CU_ASSERT_EQUAL(conv_backward_data_f32(s, g, w, out[t][1], NULL, NULL, tag), 0);
            CU_ASSERT_EQUAL(conv_backward_weight_f32(s, x, g, out[t][2], NULL, NULL, tag), 0);
        }
        omp_set_num_threads(keep);
        for (int t = 1; t < 3; t++) {
            int same = !memcmp(out[0][0], out[t][0], sizeof(float) * ny) &&
                       !memcmp(out[0][1], out[t][1], sizeof(float) * nx) &&
                       !memcmp(out[0][2], out[t][2], sizeof(float) * nw);
            if (!same)
                printf("\nfloat results differ between 1 and %d threads, shape %d\n", t + 1, i);
            CU_ASSERT_TRUE(same);
        }
        for (int t = 0; t < 3; t++)
            for (int k = 0; k < 3; k++)
                free(out[t][k]);
        free(x);
        free(w);
        free(g);
    }
}

static void test_float_same_on_every_path(void)
{
    static const struct conv_shape shapes[] = {
        { 3, 16, 32, 32, 16, 3, 1, 1, 1 }, { 2, 64, 8, 8, 64, 3, 1, 1, 1 }, { 2, 5, 11, 13, 7, 5, 1, 2, 1 },
        { 3, 16, 32, 32, 32, 3, 2, 1, 1 }, { 4, 3, 6, 6, 20, 3, 1, 0, 1 },
    };
    enum cpu_path keep = cpu_path();
    if (!cpu_path_supported(CPU_AVX2))
        return;   /* one path only: nothing to compare */
    for (int i = 0; i < (int)(sizeof shapes / sizeof shapes[0]); i++) {
        const struct conv_shape *s = &shapes[i];
        long nx = conv_x_count(s), nw = conv_w_count(s), ny = conv_y_count(s);
        float *x = malloc(sizeof(float) * nx), *w = malloc(sizeof(float) * nw), *g = malloc(sizeof(float) * ny);
        float *y[2], *gx[2];
        for (int k = 0; k < 2; k++) {
            y[k] = malloc(sizeof(float) * ny);
            gx[k] = malloc(sizeof(float) * nx);
        }
        gc_fill(x, nx, 8000 + i, -1, 1);
        gc_fill(w, nw, 8100 + i, -1, 1);
        gc_fill(g, ny, 8200 + i, -1, 1);
        struct op_tag tag = op_tag_make(0, 0);
        for (int p = CPU_AVX2; p < CPU_PATH_COUNT; p++) {
            if (cpu_path_set((enum cpu_path)p) != 0)
                continue;
            int k = p == CPU_AVX2 ? 0 : 1;
            CU_ASSERT_EQUAL(conv_forward_f32(s, x, w, y[k], NULL, NULL, tag), 0);
            CU_ASSERT_EQUAL(conv_backward_data_f32(s, g, w, gx[k], NULL, NULL, tag), 0);
            if (k && (memcmp(y[0], y[1], sizeof(float) * ny) || memcmp(gx[0], gx[1], sizeof(float) * nx))) {
                printf("\nfloat results differ between avx2 and %s, shape %d\n", cpu_path_name((enum cpu_path)p), i);
                CU_FAIL("float results depend on the kernel path");
            }
        }
        cpu_path_set(keep);
        for (int k = 0; k < 2; k++) {
            free(y[k]);
            free(gx[k]);
        }
        free(x); free(w); free(g);
    }
}

static void test_hand_values(void)
{
    /* 3x3 input, 3x3 kernel, no padding: one output = sum of products. */
    struct conv_shape s = { 1, 1, 3, 3, 1, 3, 1, 0, 1 };
    int16_t xq[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 }, wq[9] = { 1, 0, -1, 2, 0, -2, 1, 0, -1 };
    float xs = 0.5f, wsc = 0.25f, y, yr;
    struct fx_tensor x = { xq, &xs, 8, 1, 0 }, w = { wq, &wsc, 8, 1, 1 };
    CU_ASSERT_EQUAL(conv_forward_fx(&s, &x, &w, &y, 48, NULL, NULL, NULL, op_tag_make(0, 0)), 0);
    conv_forward_fx_ref(&s, &x, &w, &yr, 48, NULL);
    /* (1-3) + 2(4-6) + (7-9) = -8; * 0.5 * 0.25 = -1 */
    CU_ASSERT_EQUAL(y, -1.0f);
    CU_ASSERT_EQUAL(yr, -1.0f);

    /* Backward weight of that conv with gy = 2 (scale 1): gw = 2 * x * xs */
    int16_t gq = 2;
    float gs = 1.0f, gw[9];
    int64_t ga[9];
    struct fx_tensor g = { &gq, &gs, 16, 1, 0 };
    CU_ASSERT_EQUAL(conv_backward_weight_fx(&s, &x, &g, ga, gw, 48, NULL, NULL, NULL, op_tag_make(0, 0)), 0);
    for (int i = 0; i < 9; i++) {
        CU_ASSERT_EQUAL(ga[i], 2 * xq[i]);
        CU_ASSERT_EQUAL(gw[i], (float)(xq[i]));
    }
    /* Backward data with per-tensor w scale: gx = gy * w * gs * ws */
    float gx[9];
    struct fx_tensor wt = { wq, &wsc, 8, 1, 0 };
    CU_ASSERT_EQUAL(conv_backward_data_fx(&s, &g, &wt, gx, 0, 48, NULL, NULL, NULL, op_tag_make(0, 0)), 0);
    for (int i = 0; i < 9; i++)
        CU_ASSERT_EQUAL(gx[i], 2.0f * wq[i] * 0.25f);
}

/* add = 1: gx + the result, bit for bit the separate pass it replaces (the block backward's
 * gin += gx), where conv_backward_data_fx_adds says the path can; -1 and gx untouched where it
 * cannot (stride 2, and every shape on the portable path). Both kinds of store: whole 8-wide
 * segments (wo = 8) and runs (wo = 7). */
static void test_backward_data_adds(void)
{
    const struct conv_shape shapes[] = { { 2, 6, 8, 8, 5, 3, 1, 1, 1 }, { 2, 6, 7, 7, 5, 3, 1, 1, 1 },
                                         { 2, 6, 8, 8, 5, 3, 2, 1, 1 } };
    int added = 0;
    for (int i = 0; i < 3; i++) {
        struct fx_case c;
        c.s = shapes[i];
        make_case(&c, 7700 + (uint64_t)i, 0, 1, 0);
        long nx = conv_x_count(&c.s);
        float *start = malloc(sizeof(float) * nx), *sum = malloc(sizeof(float) * nx);
        float *gx = malloc(sizeof(float) * nx);
        gc_fill(start, nx, 7800 + (uint64_t)i, -1e-3f, 1e-3f);
        memcpy(sum, start, sizeof(float) * nx);
        struct op_tag tag = op_tag_make(1, OP_TECH_BASE);
        CU_ASSERT_EQUAL(conv_backward_data_fx(&c.s, &c.g, &c.w, gx, 0, 48, NULL, NULL, NULL, tag), 0);
        int adds = conv_backward_data_fx_adds(&c.s, &c.g, &c.w);
        CU_ASSERT_EQUAL(conv_backward_data_fx(&c.s, &c.g, &c.w, sum, 1, 48, NULL, NULL, NULL, tag),
                        adds ? 0 : -1);
        long diff = 0;
        for (long j = 0; j < nx; j++) {
            float want = adds ? start[j] + gx[j] : start[j];
            diff += memcmp(&sum[j], &want, sizeof want) != 0;
        }
        CU_ASSERT_EQUAL(diff, 0);
        if (i == 2)
            CU_ASSERT_EQUAL(adds, 0);
        added += adds;
        free(start); free(sum); free(gx);
        free_case(&c);
    }
    if (cpu_path_supported(CPU_AVX2) && cpu_path() != CPU_PORTABLE)
        CU_ASSERT_EQUAL(added, 2);
}

/* Per-channel weights: quantizing gy with the weight scales folded in gives the float result up
 * to the gradient's 16-bit rounding. */
static void test_fold_per_channel(void)
{
    struct conv_shape s = { 2, 3, 6, 5, 4, 3, 2, 1, 1 };
    long nx = conv_x_count(&s), nw = conv_w_count(&s), ny = conv_y_count(&s);
    float *wf = malloc(sizeof(float) * nw), *wd = malloc(sizeof(float) * nw), *gy = malloc(sizeof(float) * ny);
    float *gx_fx = malloc(sizeof(float) * nx), *gx_f = malloc(sizeof(float) * nx), wsc[4], gs;
    int16_t *wq = malloc(sizeof(int16_t) * nw), *gq = malloc(sizeof(int16_t) * ny);
    gc_fill(wf, nw, 1, -1, 1);
    for (long i = 0; i < nw; i++)
        wf[i] *= (float)(1 + i / (nw / 4)) * 0.5f;   /* channels of different ranges */
    gc_fill(gy, ny, 2, -1e-3f, 1e-3f);
    struct fx_format fw = { 8, 1, 1, 0 }, fg = { 16, 1, 0, 0 };
    CU_ASSERT_EQUAL_FATAL(fx_quantize(wf, 1, 4, nw / 4, &fw, NULL, 0, wq, wsc, NULL), 0);
    fx_dequantize(wq, 1, 4, nw / 4, 1, wsc, wd);
    int ho = conv_out_h(&s), wo = conv_out_w(&s);
    CU_ASSERT_EQUAL_FATAL(fx_quantize(gy, s.n, s.cout, (long)ho * wo, &fg, wsc, 0, gq, &gs, NULL), 0);
    struct fx_tensor g = { gq, &gs, 16, 1, 0 }, w = { wq, wsc, 8, 1, 1 };
    CU_ASSERT_EQUAL(conv_backward_data_fx(&s, &g, &w, gx_fx, 0, 48, NULL, NULL, NULL, op_tag_make(0, 0)), 0);
    conv_backward_data_f32_ref(&s, gy, wd, gx_f);
    double maxref = 0, maxerr = 0;
    for (long i = 0; i < nx; i++) {
        maxref = fmax(maxref, fabs(gx_f[i]));
        maxerr = fmax(maxerr, fabs(gx_fx[i] - gx_f[i]));
    }
    CU_ASSERT(maxref > 1e-4);
    CU_ASSERT(maxerr < 1e-3 * maxref);   /* 16-bit rounding: ~ sqrt(terms) * 2^-16 relative */
    free(wf); free(wd); free(gy); free(gx_fx); free(gx_f); free(wq); free(gq);
}

/* ---- accumulator overflow ---- */

static void test_overflow_counted(void)
{
    /* Backward weight of a 1x1 conv over 3 * 256 * 256 positions with codes 32767 * 32767:
     * the sum 196608 * 32767^2 = 2.11e14 exceeds 2^47 = 1.41e14. */
    struct conv_shape s = { 3, 1, 256, 256, 1, 1, 1, 0, 1 };
    long nx = conv_x_count(&s);
    int16_t *xq = malloc(sizeof(int16_t) * nx), *gq = malloc(sizeof(int16_t) * nx);
    for (long i = 0; i < nx; i++)
        xq[i] = gq[i] = 32767;
    float one = 1.0f, gw, gwr;
    int64_t acc, accr;
    struct fx_tensor x = { xq, &one, 16, 1, 0 }, g = { gq, &one, 16, 1, 0 };
    struct fx_stats st = { 0 }, sr = { 0 }, wide = { 0 };
    CU_ASSERT_EQUAL(conv_backward_weight_fx(&s, &x, &g, &acc, &gw, 48, &st, NULL, NULL, op_tag_make(0, 0)), 0);
    conv_backward_weight_fx_ref(&s, &x, &g, &accr, &gwr, 48, &sr);
    CU_ASSERT_EQUAL(acc, (int64_t)196608 * 32767 * 32767);   /* kept exact, not saturated */
    CU_ASSERT_EQUAL(accr, acc);
    CU_ASSERT_EQUAL(st.acc_overflows, 1);
    CU_ASSERT_EQUAL(sr.acc_overflows, 1);
    CU_ASSERT_EQUAL(conv_backward_weight_fx(&s, &x, &g, &acc, &gw, 64, &wide, NULL, NULL, op_tag_make(0, 0)), 0);
    CU_ASSERT_EQUAL(wide.acc_overflows, 0);
    free(xq);
    free(gq);

    /* Forward 3x3, pad 1, on a 5x5 image of 255s with weights 127, 18-bit accumulator (limit
     * 131072): 4 taps (corners) = 129540 fit, 6 or 9 taps do not: 21 of 25 outputs overflow. */
    struct conv_shape f = { 2, 1, 5, 5, 1, 3, 1, 1, 1 };
    int16_t xi[50], wi[9];
    for (int i = 0; i < 50; i++)
        xi[i] = 255;
    for (int i = 0; i < 9; i++)
        wi[i] = 127;
    float y[50], yr[50];
    struct fx_tensor xu = { xi, &one, 8, 0, 0 }, wt = { wi, &one, 8, 1, 0 };
    struct fx_stats a = { 0 }, b = { 0 };
    CU_ASSERT_EQUAL(conv_forward_fx(&f, &xu, &wt, y, 18, &a, NULL, NULL, op_tag_make(0, 0)), 0);
    conv_forward_fx_ref(&f, &xu, &wt, yr, 18, &b);
    CU_ASSERT_EQUAL(a.acc_overflows, 42);
    CU_ASSERT_EQUAL(b.acc_overflows, 42);
    CU_ASSERT_EQUAL(a.acc_sums, 50);
    CU_ASSERT_EQUAL(y[12], 9.0f * 255 * 127);   /* the centre: exact despite the overflow */
}

/* ---- op records ---- */

struct rec_log {
    int count;
    struct oprec last;
};

static void log_emit(void *ctx, const struct oprec *r)
{
    struct rec_log *l = ctx;
    l->count++;
    l->last = *r;
}

static void test_op_records(void)
{
    struct conv_shape s = { 3, 4, 7, 7, 8, 3, 2, 1, 2 };
    long nx = conv_x_count(&s), nw = conv_w_count(&s), ny = conv_y_count(&s);
    int16_t *xq = calloc(nx, sizeof(int16_t)), *wq = calloc(nw, sizeof(int16_t)), *gq = calloc(ny, sizeof(int16_t));
    float *buf = calloc(nx + nw + ny, sizeof(float)), sc[8] = { 1, 1, 1, 1, 1, 1, 1, 1 };
    struct fx_tensor x = { xq, sc, 8, 0, 0 }, w = { wq, sc, 8, 1, 1 }, g = { gq, sc, 16, 1, 0 };
    struct rec_log log = { 0 };
    struct op_sink sink = { log_emit, &log };
    struct op_tag tag = op_tag_make(17, OP_TECH_PSG);
    CU_ASSERT_EQUAL(conv_forward_fx(&s, &x, &w, buf, 48, NULL, NULL, &sink, tag), 0);
    CU_ASSERT_EQUAL(log.count, 1);
    struct oprec r = log.last;
    CU_ASSERT_EQUAL(r.layer, 17);
    CU_ASSERT_EQUAL(r.kind, OP_CONV);
    CU_ASSERT_EQUAL(r.phase, OP_PHASE_FWD);
    CU_ASSERT_EQUAL(r.tech, OP_TECH_PSG);
    CU_ASSERT_EQUAL(r.k, 3);
    CU_ASSERT_EQUAL(r.stride, 2);
    CU_ASSERT_EQUAL(r.pad, 1);
    CU_ASSERT_EQUAL(r.n, 3);
    CU_ASSERT_EQUAL(r.cin, 4);
    CU_ASSERT_EQUAL(r.cout, 8);
    CU_ASSERT_EQUAL(r.groups, 2);
    CU_ASSERT_EQUAL(r.h_in, 7);
    CU_ASSERT_EQUAL(r.w_in, 7);
    CU_ASSERT_EQUAL(r.h_out, 4);
    CU_ASSERT_EQUAL(r.w_out, 4);
    CU_ASSERT_EQUAL(r.bits_a, 8);
    CU_ASSERT_EQUAL(r.bits_b, 8);
    CU_ASSERT_EQUAL(r.bits_out, 32);
    CU_ASSERT_EQUAL(r.bits_acc, 48);
    CU_ASSERT_EQUAL(r.msb_a, 0);
    CU_ASSERT_EQUAL(oprec_macs(&r), (uint64_t)3 * 8 * 4 * 4 * 2 * 9);

    tag = op_tag_stored(tag, 8, 16, 16);   /* g_w stored at 16 bits */
    tag.msb_a = 4;
    tag.msb_b = 10;
    tag.psg_full_q16 = 12345;
    CU_ASSERT_EQUAL(conv_backward_weight_fx(&s, &x, &g, NULL, buf, 48, NULL, NULL, &sink, tag), 0);
    r = log.last;
    CU_ASSERT_EQUAL(r.phase, OP_PHASE_BWD_WEIGHT);
    CU_ASSERT_EQUAL(r.bits_a, 8);
    CU_ASSERT_EQUAL(r.bits_b, 16);
    CU_ASSERT_EQUAL(r.bits_out, 16);
    CU_ASSERT_EQUAL(r.msb_a, 4);
    CU_ASSERT_EQUAL(r.msb_b, 10);
    CU_ASSERT_EQUAL(r.psg_full_q16, 12345);

    CU_ASSERT_EQUAL(conv_backward_data_f32(&s, buf, buf, buf + ny, NULL, &sink, op_tag_make(2, 0)), 0);
    r = log.last;
    CU_ASSERT_EQUAL(log.count, 3);
    CU_ASSERT_EQUAL(r.phase, OP_PHASE_BWD_DATA);
    CU_ASSERT_EQUAL(r.bits_a, 32);
    CU_ASSERT_EQUAL(r.bits_b, 32);
    CU_ASSERT_EQUAL(r.bits_acc, 32);

    /* A NULL sink or a sink without emit is fine; a bad shape emits nothing. */
    struct op_sink empty = { NULL, NULL };
    CU_ASSERT_EQUAL(conv_forward_f32(&s, buf, buf, buf, NULL, &empty, tag), 0);
    struct conv_shape bad = s;
    bad.groups = 3;
    CU_ASSERT_EQUAL(conv_forward_f32(&bad, buf, buf, buf, NULL, &sink, tag), -1);
    CU_ASSERT_EQUAL(log.count, 3);
    free(xq); free(wq); free(gq); free(buf);
}

int main(int argc, char **argv)
{
    int arg = cpu_path_from_args(argc, argv);
    if (arg)
        return arg;
    CU_TestInfo tests[] = {
        { "float gradients (central differences)", test_gradients },
        { "fixed optimized == reference, 1 and 2 threads", test_fixed_matches_reference },
        { "float optimized ~ reference", test_float_matches_reference },
        { "direct kernels on network-sized shapes", test_direct_shapes },
        { "float results the same on every path", test_float_same_on_every_path },
        { "float results the same at 1, 2 and 3 threads", test_float_thread_independent },
        { "hand-computed values", test_hand_values },
        { "per-channel fold in backward-data", test_fold_per_channel },
        { "backward-data adding into gx", test_backward_data_adds },
        { "accumulator overflow counted", test_overflow_counted },
        { "op records", test_op_records },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("conv", NULL, NULL, tests);
}
