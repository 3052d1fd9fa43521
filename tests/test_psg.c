/* PSG (kernels/psg.c): the MSB predictor codes, Eq. 2 on hand numbers, and one tiny conv layer
 * three ways -- numbers worked out by hand, a reference written from the definitions here, and
 * psg_conv_signs -- for tau, the predictor's signs and the full-precision fallback fraction. */
#include "cunit_main.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "conv.h"
#include "psg.h"

/* The examples of docs/numbers.md. */
static void test_msb(void)
{
    const int16_t in8[] = { 127, 24, 8, 7, -8, -127, 0, -24, 40, -9 };
    const int16_t want8[] = { 112, 32, 16, 0, -16, -112, 0, -32, 48, -16 };
    int16_t out[10];
    struct fx_stats st = { 0 };
    psg_msb(in8, 10, 8, 4, 1, out, &st);
    for (int i = 0; i < 10; i++)
        CU_ASSERT_EQUAL(out[i], want8[i]);
    CU_ASSERT_EQUAL(st.msb_clipped, 2);

    const int16_t inu[] = { 255, 248, 247, 8, 7, 0 };
    const int16_t wantu[] = { 240, 240, 240, 16, 0, 0 };
    struct fx_stats su = { 0 };
    psg_msb(inu, 6, 8, 4, 0, out, &su);
    for (int i = 0; i < 6; i++)
        CU_ASSERT_EQUAL(out[i], wantu[i]);
    CU_ASSERT_EQUAL(su.msb_clipped, 2);   /* 255 and 248 round to 16 > 15 */

    const int16_t in16[] = { 32767, 32, 31, -32, -32767, 1000 };
    const int16_t want16[] = { 32704, 64, 0, -64, -32704, 1024 };
    psg_msb(in16, 6, 16, 10, 1, out, NULL);
    for (int i = 0; i < 6; i++)
        CU_ASSERT_EQUAL(out[i], want16[i]);

    /* msb_bits >= bits copies; in place works. */
    int16_t same[3] = { 5, -6, 7 };
    psg_msb(same, 3, 8, 8, 1, same, NULL);
    CU_ASSERT_EQUAL(same[1], -6);
    psg_msb(same, 3, 8, 6, 1, same, NULL);   /* step 4: 5 -> 4, -6 -> -8, 7 -> 8 */
    CU_ASSERT_EQUAL(same[0], 4);
    CU_ASSERT_EQUAL(same[1], -8);
    CU_ASSERT_EQUAL(same[2], 8);
}

/* The definition (psg.h), one code at a time, with a division. */
static int16_t msb_by_definition(int16_t q, int bits, int msb_bits, int is_signed, int *clipped)
{
    int step = 1 << (bits - msb_bits);
    int hi = fx_qmax(msb_bits, is_signed), lo = fx_qmin(msb_bits, is_signed);
    int a = q < 0 ? -q : q, m = (a + step / 2) / step;
    m = q < 0 ? -m : m;
    *clipped = m > hi || m < lo;
    m = m > hi ? hi : (m < lo ? lo : m);
    return (int16_t)(m * step);
}

/* Every code of each format against the definition, in one call long enough for the threads. */
static void test_msb_every_code(void)
{
    const int formats[][3] = { { 8, 4, 1 }, { 8, 4, 0 }, { 8, 1, 1 }, { 9, 4, 0 }, { 16, 10, 1 },
                               { 16, 1, 1 }, { 16, 15, 1 }, { 12, 6, 0 } };
    for (int f = 0; f < (int)(sizeof formats / sizeof formats[0]); f++) {
        int bits = formats[f][0], msb = formats[f][1], sgn = formats[f][2];
        long lo = fx_qmin(bits, sgn), hi = fx_qmax(bits, sgn);
        long n = 3 * (hi - lo + 1) + 70000;   /* > 65536: the parallel loop */
        int16_t *in = malloc(sizeof(int16_t) * (size_t)n), *out = malloc(sizeof(int16_t) * (size_t)n);
        uint64_t want_clipped = 0;
        int same = 1;
        for (long i = 0; i < n; i++)
            in[i] = (int16_t)(lo + i % (hi - lo + 1));
        struct fx_stats st = { 0 };
        psg_msb(in, n, bits, msb, sgn, out, &st);
        for (long i = 0; i < n; i++) {
            int c;
            same &= out[i] == msb_by_definition(in[i], bits, msb, sgn, &c);
            want_clipped += (uint64_t)c;
        }
        CU_ASSERT_TRUE(same);
        CU_ASSERT_EQUAL(st.msb_clipped, want_clipped);
        free(in);
        free(out);
    }
}

static void test_psg_select(void)
{
    const float g[6] = { 0.5f, -0.5f, 0.1f, -0.1f, 0.0f, 0.3f };
    const float gm[6] = { 0.4f, 0.3f, -0.05f, 0.0f, 0.2f, -0.01f };
    float s[6];
    struct psg_stats st;
    /* tau = 0.2: predictor where |gm| >= 0.2 (i = 0, 1, 4) */
    psg_select(g, gm, 6, 0.2f, s, &st);
    const float want[6] = { 1, 1, 1, -1, 1, 1 };
    CU_ASSERT_EQUAL(memcmp(s, want, sizeof want), 0);
    CU_ASSERT_EQUAL(st.count, 6);
    CU_ASSERT_EQUAL(st.predictor, 3);
    CU_ASSERT_EQUAL(st.flips, 2);      /* i = 1 (-1 -> +1), i = 4 (0 -> +1) */
    CU_ASSERT_EQUAL(psg_full_q16(&st), 32768);
    /* tau = 0: every sign from the predictor */
    psg_select(g, gm, 6, 0.0f, s, &st);
    for (int i = 0; i < 6; i++)
        CU_ASSERT_EQUAL(s[i], (float)((gm[i] > 0) - (gm[i] < 0)));
    CU_ASSERT_EQUAL(st.predictor, 6);
    CU_ASSERT_EQUAL(psg_full_q16(&st), 0);
    /* tau above every |gm|: SignSGD */
    psg_select(g, gm, 6, 1.0f, s, &st);
    for (int i = 0; i < 6; i++)
        CU_ASSERT_EQUAL(s[i], (float)((g[i] > 0) - (g[i] < 0)));
    CU_ASSERT_EQUAL(st.predictor, 0);
    CU_ASSERT_EQUAL(st.flips, 0);
    CU_ASSERT_EQUAL(psg_full_q16(&st), 65535);
    /* thresholds */
    struct psg_config c = { 4, 10, PSG_TAU_GW, 0.05f, 7.0f };
    CU_ASSERT_EQUAL(psg_tau(&c, 2.0f, 8.0f), 0.05f * 2.0f);
    c.tau_mode = PSG_TAU_GY;
    CU_ASSERT_EQUAL(psg_tau(&c, 2.0f, 8.0f), 0.05f * 8.0f);
    c.tau_mode = PSG_TAU_FIXED;
    CU_ASSERT_EQUAL(psg_tau(&c, 2.0f, 8.0f), 7.0f);
}

/* ---- one tiny conv layer, three ways ----
 * 1x1 conv, n = 1, 2 input channels of 1x2, 3 output channels: g_w[co][ci] = sum_p x[ci][p] *
 * g_y[co][p] * sx * sg. x: unsigned 8-bit codes, scale 0.5; g_y: signed 8-bit codes, scale
 * 0.25; predictors 4 bits of each (step 16). By hand:
 *   x codes   ci0 {40, 8}   ci1 {100, 24}        -> msb {48, 16}  {96, 32}
 *   g_y codes co0 {20, -7}  co1 {-50, 30}  co2 {-7, 9}
 *                                               -> msb {16, 0}  {-48, 32}  {0, 16}
 *   g_w     = 0.125 * {744, 1832, -1760, -4280, -208, -484} = {93, 229, -220, -535, -26, -60.5}
 *   g_w^msb = 0.125 * {768, 1536, -1792, -3584, 256, 512}   = {96, 192, -224, -448, 32, 64}
 * max|g_w^msb| = 448; max|g_y^msb| = 48 * 0.25 = 12. Weight 5 (co2 ci1) is where the predictor
 * disagrees with the full gradient (+ vs -). */
static const struct conv_shape TINY = { 1, 2, 1, 2, 3, 1, 1, 0, 1 };
static const int16_t TINY_X[4] = { 40, 8, 100, 24 };
static const int16_t TINY_GY[6] = { 20, -7, -50, 30, -7, 9 };
static const float TINY_GW[6] = { 93.0f, 229.0f, -220.0f, -535.0f, -26.0f, -60.5f };
static const float TINY_GW_MSB[6] = { 96.0f, 192.0f, -224.0f, -448.0f, 32.0f, 64.0f };

/* The predictor code of one code, from the definition (psg.h), for the reference below. */
static int msb_ref(int code, int bits, int msb_bits, int is_signed)
{
    int step = 1 << (bits - msb_bits), m = (abs(code) + step / 2) / step;
    int hi = is_signed ? (1 << (msb_bits - 1)) - 1 : (1 << msb_bits) - 1;
    m = m > hi ? hi : m;
    return (code < 0 ? -m : m) * step;
}

static float sign_ref(float v) { return v > 0 ? 1.0f : (v < 0 ? -1.0f : 0.0f); }

/* The reference: predictor codes, g_w^msb, tau and Eq. 2 written out for this 1x1 layer. */
static void tiny_reference(const struct psg_config *cfg, float gw_msb[6], float *tau,
                           float signs[6], struct psg_stats *st)
{
    float gmax = 0, ymax = 0;
    for (int co = 0; co < 3; co++)
        for (int ci = 0; ci < 2; ci++) {
            long acc = 0;
            for (int p = 0; p < 2; p++) {
                int gm = msb_ref(TINY_GY[co * 2 + p], 8, cfg->msb_g, 1);
                acc += (long)msb_ref(TINY_X[ci * 2 + p], 8, cfg->msb_x, 0) * gm;
                ymax = fmaxf(ymax, fabsf((float)gm * 0.25f));
            }
            gw_msb[co * 2 + ci] = (float)acc * 0.125f;
            gmax = fmaxf(gmax, fabsf(gw_msb[co * 2 + ci]));
        }
    *tau = cfg->tau_mode == PSG_TAU_FIXED ? cfg->tau
         : cfg->beta * (cfg->tau_mode == PSG_TAU_GY ? ymax : gmax);
    memset(st, 0, sizeof *st);
    st->count = 6;
    st->tau = *tau;
    for (int i = 0; i < 6; i++) {
        int predictor = fabsf(gw_msb[i]) >= *tau;
        signs[i] = sign_ref(predictor ? gw_msb[i] : TINY_GW[i]);
        st->predictor += predictor;
        st->flips += signs[i] != sign_ref(TINY_GW[i]);
    }
}

/* psg_conv_signs on the tiny layer. */
static int tiny_psg(const struct psg_config *cfg, float signs[6], float gw_msb[6],
                    struct psg_stats *st)
{
    float sx = 0.5f, sg = 0.25f;
    struct fx_tensor x = { TINY_X, &sx, 8, 0, 0 }, gy = { TINY_GY, &sg, 8, 1, 0 };
    int16_t xm[4], gm[6];
    struct fx_stats fst = { 0 };
    struct fx_workspace ws = { 0 };
    struct psg_work work = { xm, gm, gw_msb, 48, &fst, &ws };
    memcpy(signs, TINY_GW, sizeof TINY_GW);
    int rc = psg_conv_signs(cfg, &TINY, &x, &gy, 3, &work, signs, st);
    fx_workspace_free(&ws);
    CU_ASSERT_EQUAL(fst.msb_clipped, 0);
    return rc;
}

/* One threshold rule three ways: hand figures (tau, signs, predictor count, flips, fallback
 * fraction), the reference, psg_conv_signs. */
static void tiny_case(const struct psg_config *cfg, float tau, const float want[6], long predictor,
                      long flips, uint16_t full_q16)
{
    float ref_msb[6], ref_tau, ref_signs[6], got[6], got_msb[6];
    struct psg_stats ref_st, st;
    tiny_reference(cfg, ref_msb, &ref_tau, ref_signs, &ref_st);
    CU_ASSERT_EQUAL_FATAL(tiny_psg(cfg, got, got_msb, &st), 0);
    CU_ASSERT_EQUAL(memcmp(ref_msb, TINY_GW_MSB, sizeof ref_msb), 0);
    CU_ASSERT_EQUAL(memcmp(got_msb, TINY_GW_MSB, sizeof got_msb), 0);
    CU_ASSERT_EQUAL(ref_tau, tau);
    CU_ASSERT_EQUAL(st.tau, tau);
    CU_ASSERT_EQUAL(memcmp(ref_signs, want, sizeof ref_signs), 0);
    CU_ASSERT_EQUAL(memcmp(got, want, sizeof got), 0);
    CU_ASSERT_EQUAL(ref_st.predictor, predictor);
    CU_ASSERT_EQUAL(st.count, 6);
    CU_ASSERT_EQUAL(st.predictor, predictor);
    CU_ASSERT_EQUAL(ref_st.flips, flips);
    CU_ASSERT_EQUAL(st.flips, flips);
    CU_ASSERT_EQUAL(psg_full_q16(&ref_st), full_q16);
    CU_ASSERT_EQUAL(psg_full_q16(&st), full_q16);
}

/* tau = beta * max|g_w^msb| (the default): beta 1/8 -> tau 56; every weight but 4 (|32| < 56)
 * takes the predictor's sign, weight 5's flips; fallback 1/6 -> round(65536 / 6) = 10923. */
static void test_tiny_tau_gw(void)
{
    struct psg_config cfg = { 4, 4, PSG_TAU_GW, 0.125f, 0.0f };
    const float want[6] = { 1, 1, -1, -1, -1, 1 };
    tiny_case(&cfg, 56.0f, want, 5, 1, 10923);
}

/* tau = beta * max|g_y^msb|: beta 8 -> tau 96, which weight 0 meets exactly (>=); weights 4
 * and 5 fall back to the full sign (no flip); fallback 2/6 -> 21845. */
static void test_tiny_tau_gy(void)
{
    struct psg_config cfg = { 4, 4, PSG_TAU_GY, 8.0f, 0.0f };
    const float want[6] = { 1, 1, -1, -1, -1, -1 };
    tiny_case(&cfg, 96.0f, want, 4, 0, 21845);
}

/* A fixed tau of 200: only weights 2 and 3 take the predictor; fallback 4/6 -> 43691. tau 0:
 * all six (fallback 0), weight 5 flips. tau above everything: SignSGD (fallback 65535). */
static void test_tiny_tau_fixed(void)
{
    struct psg_config cfg = { 4, 4, PSG_TAU_FIXED, 0.05f, 200.0f };
    const float sign_full[6] = { 1, 1, -1, -1, -1, -1 };
    tiny_case(&cfg, 200.0f, sign_full, 2, 0, 43691);
    cfg.tau = 0.0f;
    const float sign_msb[6] = { 1, 1, -1, -1, 1, 1 };
    tiny_case(&cfg, 0.0f, sign_msb, 6, 2, 0);
    cfg.tau = 1e30f;
    tiny_case(&cfg, 1e30f, sign_full, 0, 0, 65535);
}

/* Wider predictors see more of the codes: 8 of 8 bits is the full gradient itself. */
static void test_tiny_full_width_predictor(void)
{
    struct psg_config cfg = { 8, 8, PSG_TAU_FIXED, 0.0f, 0.0f };
    float got[6], got_msb[6];
    struct psg_stats st;
    CU_ASSERT_EQUAL_FATAL(tiny_psg(&cfg, got, got_msb, &st), 0);
    CU_ASSERT_EQUAL(memcmp(got_msb, TINY_GW, sizeof got_msb), 0);
    CU_ASSERT_EQUAL(st.flips, 0);
}

/* psg_conv_weight_grad, which takes the predictor's sums in the full pass's own sweep where the
 * direct path runs the layer, equals the full pass then psg_conv_signs: g_w^msb, the signs, the
 * PSG figures and every counter (sums, overflows at a narrow accumulator, clamped predictor
 * codes: the codes here reach the top of the range), stride 1 and 2, several stacks. */
static void test_one_sweep_equals_two(void)
{
    const struct conv_shape shapes[] = { { 9, 6, 12, 12, 7, 3, 1, 1, 1 }, { 5, 4, 11, 11, 6, 3, 2, 1, 1 } };
    for (int t = 0; t < 2; t++)
        for (int a = 0; a < 2; a++) {
            const struct conv_shape *cs = &shapes[t];
            int acc_bits = a ? 22 : 48;
            long xc = conv_x_count(cs), yc = conv_y_count(cs), wc = conv_w_count(cs);
            int16_t *x = malloc(sizeof(int16_t) * xc), *g = malloc(sizeof(int16_t) * yc);
            uint32_t r = 12345u + 77u * (uint32_t)t;
            for (long i = 0; i < xc; i++)
                x[i] = (int16_t)((r = r * 1664525u + 1013904223u) >> 24);   /* 0..255 */
            for (long i = 0; i < yc; i++)
                g[i] = (int16_t)((int32_t)((r = r * 1664525u + 1013904223u) >> 16) - 32767);
            float sx = 0.02f, sg = 0.001f;
            struct fx_tensor xt = { x, &sx, 8, 0, 0 }, gt = { g, &sg, 16, 1, 0 };
            struct psg_config cfg = { 4, 4, PSG_TAU_GW, 0.05f, 0.0f };
            float *gw[2], *gm[2];
            struct fx_stats st[2];
            struct psg_stats ps[2];
            for (int k = 0; k < 2; k++) {
                struct fx_workspace ws = { 0 };
                int16_t *xm = malloc(sizeof(int16_t) * xc), *ym = malloc(sizeof(int16_t) * yc);
                gw[k] = malloc(sizeof(float) * wc);
                gm[k] = malloc(sizeof(float) * wc);
                memset(&st[k], 0, sizeof st[k]);
                struct psg_work work = { xm, ym, gm[k], acc_bits, &st[k], &ws };
                if (k == 0) {
                    CU_ASSERT_EQUAL(conv_backward_weight_fx(cs, &xt, &gt, NULL, gw[k], acc_bits, &st[k], &ws, NULL,
                                                            op_tag_make(0, 0)), 0);
                    CU_ASSERT_EQUAL(psg_conv_signs(&cfg, cs, &xt, &gt, 0, &work, gw[k], &ps[k]), 0);
                } else {
                    CU_ASSERT_EQUAL(psg_conv_weight_grad(&cfg, cs, &xt, &gt, 0, &work, gw[k], &ps[k], NULL,
                                                         op_tag_make(0, 0)), 0);
                }
                fx_workspace_free(&ws);
                free(xm);
                free(ym);
            }
            CU_ASSERT_EQUAL(memcmp(gm[0], gm[1], sizeof(float) * wc), 0);
            CU_ASSERT_EQUAL(memcmp(gw[0], gw[1], sizeof(float) * wc), 0);
            CU_ASSERT_EQUAL(ps[0].predictor, ps[1].predictor);
            CU_ASSERT_EQUAL(ps[0].flips, ps[1].flips);
            CU_ASSERT_EQUAL(ps[0].tau, ps[1].tau);
            CU_ASSERT_EQUAL(st[0].acc_sums, st[1].acc_sums);
            CU_ASSERT_EQUAL(st[0].acc_overflows, st[1].acc_overflows);
            CU_ASSERT_EQUAL(st[0].msb_clipped, st[1].msb_clipped);
            CU_ASSERT(st[0].msb_clipped > 0);
            CU_ASSERT(!a || st[0].acc_overflows > 0);
            for (int k = 0; k < 2; k++) {
                free(gw[k]);
                free(gm[k]);
            }
            free(x);
            free(g);
        }
}

/* The fallback fraction of records emitted without computing, and of a layer without weights. */
static void test_full_q16_of_fraction(void)
{
    CU_ASSERT_EQUAL(psg_full_q16_of_fraction(0.0f), 0);
    CU_ASSERT_EQUAL(psg_full_q16_of_fraction(0.5f), 32768);
    CU_ASSERT_EQUAL(psg_full_q16_of_fraction(1.0f / 6.0f), 10923);
    CU_ASSERT_EQUAL(psg_full_q16_of_fraction(1.0f), 65535);
    CU_ASSERT_EQUAL(psg_full_q16_of_fraction(-0.5f), 0);
    CU_ASSERT_EQUAL(psg_full_q16_of_fraction(7.0f), 65535);
    struct psg_stats none = { 0, 0, 0, 0.0f };
    CU_ASSERT_EQUAL(psg_full_q16(&none), 0);
    CU_ASSERT_EQUAL(psg_full_q16(NULL), 0);
}

/* What a net accepts, and what a record carries. */
static void test_config_and_tag(void)
{
    struct psg_config cfg = { 4, 10, PSG_TAU_GW, 0.05f, 0.0f };
    CU_ASSERT_EQUAL(psg_config_check(&cfg, 8, 16), 0);
    CU_ASSERT_EQUAL(psg_config_check(&cfg, 32, 16), -1);   /* float activations */
    CU_ASSERT_EQUAL(psg_config_check(&cfg, 8, 32), -1);
    CU_ASSERT_EQUAL(psg_config_check(&cfg, 8, 8), -1);     /* 10 predictor bits of 8 */
    cfg.msb_x = 0;
    CU_ASSERT_EQUAL(psg_config_check(&cfg, 8, 16), -1);
    cfg.msb_x = 4;
    struct op_tag t = psg_tag(op_tag_make(9, OP_TECH_BASE), &cfg, 1234);
    CU_ASSERT_EQUAL(t.layer, 9);
    CU_ASSERT_EQUAL(t.msb_a, 4);
    CU_ASSERT_EQUAL(t.msb_b, 10);
    CU_ASSERT_EQUAL(t.psg_full_q16, 1234);
}

int main(void)
{
    CU_TestInfo tests[] = {
        { "msb predictors", test_msb },
        { "msb predictors: every code", test_msb_every_code },
        { "Eq. 2 and thresholds", test_psg_select },
        { "tiny layer: tau from g_w^msb", test_tiny_tau_gw },
        { "tiny layer: tau from g_y^msb", test_tiny_tau_gy },
        { "tiny layer: fixed tau", test_tiny_tau_fixed },
        { "tiny layer: full-width predictor", test_tiny_full_width_predictor },
        { "one sweep for the full and predictor sums", test_one_sweep_equals_two },
        { "fallback fraction", test_full_q16_of_fraction },
        { "config check and record tag", test_config_and_tag },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("psg", NULL, NULL, tests);
}
