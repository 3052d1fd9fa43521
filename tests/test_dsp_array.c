/* DSP array: compute-bound layers take MACs / (DSPs x packing) cycles, each precision is priced
 * on the resource that is cheapest for it, and the bit-accurate MAC tile gives the integers of
 * the GEMM reference. */
#include "cunit_main.h"

#include "gemm.h"
#include "rng.h"
#include "test_hw_params.h"

/* The engine with two packed 8-bit MACs per DSP (the what-if int8_macs_per_dsp: 2) and
 * float32 x fixed lanes of 3 DSPs (full-DSP adders), so that both rules stay tested; the
 * default engine (one MAC per DSP, 2 DSPs per float32 x fixed lane) has its own tests. */
static struct hw_model *default_model(void)
{
    struct hw_params p = hw_params_defaults();
    p.int8_macs_per_dsp = 2;
    p.fp32_fixed_dsps_per_mac = 3;
    return hwt_model_from(&p);
}

static uint64_t cycles_of(struct hw_model *m, const struct oprec *r)
{
    uint64_t cycles = 0;
    char err[256];
    int rc = hw_op_cost(m, r, &cycles, NULL, err, sizeof err);
    if (rc)
        fprintf(stderr, "%s\n", err);
    CU_ASSERT_FATAL(rc == 0);
    return cycles;
}

/* A compute-bound conv takes its MACs / lanes cycles, plus at most 5 % for fill and memory. */
static void expect_lanes_on(struct hw_model *m, const struct oprec *r, double lanes)
{
    CU_ASSERT_FATAL(m != NULL);
    double expect = (double)oprec_macs(r) / lanes;
    double got = (double)cycles_of(m, r);
    CU_ASSERT(got >= expect);
    CU_ASSERT(got <= expect * 1.05);
    hw_free(m);
}

static void expect_lanes(const struct oprec *r, double lanes)
{
    expect_lanes_on(default_model(), r, lanes);
}

/* The default (sourced) engine: one 8-bit MAC per DSP (200 lanes); float32 x fixed lanes of
 * 2 DSPs on average (hardware.fp32_fixed_dsps_per_mac): 100 lanes, 2.5: 80. */
static void test_default_engine_lanes(void)
{
    struct hw_params p = hw_params_defaults();
    struct oprec r = hwt_conv(OP_PHASE_FWD, 4, 64, 64, 32, 3, 1, 8, 8, 8);
    expect_lanes_on(hwt_model_from(&p), &r, 200);
    r = hwt_conv(OP_PHASE_BWD_DATA, 2, 64, 64, 32, 3, 1, 32, 8, 32);
    expect_lanes_on(hwt_model_from(&p), &r, 100);
    p.fp32_fixed_dsps_per_mac = 2.5;
    expect_lanes_on(hwt_model_from(&p), &r, 80);
}

/* 64 -> 64 channels, 3x3 on 32x32, 8 samples: 301,989,888 MACs. Two 8-bit MACs per DSP on 200
 * DSPs: 754,975 cycles. Memory: 128 KiB per sample at ~25 B/cycle is ~5k cycles, far less. */
static void test_compute_bound_int8(void)
{
    struct oprec r = hwt_conv(OP_PHASE_FWD, 8, 64, 64, 32, 3, 1, 8, 8, 8);
    CU_ASSERT_EQUAL(oprec_macs(&r), 301989888ull);
    expect_lanes(&r, 200 * 2);
}

/* 16-bit operands: one MAC per DSP. */
static void test_compute_bound_int16(void)
{
    struct oprec r = hwt_conv(OP_PHASE_FWD, 4, 64, 64, 32, 3, 1, 16, 16, 16);
    expect_lanes(&r, 200);
}

/* float32: a lane is 5 DSPs (multiplier 3 + adder 2): 40 lanes. */
static void test_compute_bound_fp32(void)
{
    struct oprec r = hwt_conv(OP_PHASE_FWD, 2, 64, 64, 32, 3, 1, 32, 32, 32);
    expect_lanes(&r, 40);
}

/* float32 x 8-bit fixed (fixed8's backward passes): the significand x operand product is one
 * DSP48E1, plus the float32 adder's 2: 200 / 3 = 66 lanes. */
static void test_compute_bound_fp32_x_fixed(void)
{
    struct oprec r = hwt_conv(OP_PHASE_BWD_DATA, 2, 64, 64, 32, 3, 1, 32, 8, 32);
    expect_lanes(&r, 66);
}

/* The action a record's MACs were priced as, and its energy. */
static void mac_row(struct hw_model *m, const struct oprec *r, struct hw_row *out)
{
    struct hw_ledger *l = hw_ledger_new();
    char err[256];
    CU_ASSERT_FATAL(hw_account(m, l, r, 1, err, sizeof err) == 0);
    struct hw_row rows[64];
    size_t n = hw_ledger_rows(l, NULL, rows, 64);
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n; i++)
        if (strncmp(rows[i].action, "mac ", 4) == 0 && rows[i].count == oprec_macs(r))
            *out = rows[i];
    static char name[96];
    snprintf(name, sizeof name, "%s", out->action ? out->action : "");
    out->action = name;
    hw_ledger_free(l);
}

/* The resource and energy each operand pair is priced at (sourced table). */
static void test_mac_pricing(void)
{
    static const struct {
        int phase, a, b, out;
        const char *action;
        long long fj;
    } cases[] = {
        /* 8x8: packed 1.2 pJ beats one DSP at 1.0 + 3.0 x 64/450 = 1.427 pJ */
        {OP_PHASE_FWD, 8, 8, 8, "mac 8x8 packed (2 per DSP)", 1200},
        /* 16x8: one DSP, 1.0 + 3.0 x 128/450 = 1.8533 pJ */
        {OP_PHASE_BWD_DATA, 16, 8, 16, "mac 16x8", 1853},
        {OP_PHASE_FWD, 32, 32, 32, "mac fp32", 12000},
        /* float32 x 8-bit: the adder 4 pJ + the float32 multiplier's 12 - 4 = 8 pJ x 8/24 */
        {OP_PHASE_BWD_WEIGHT, 8, 32, 32, "mac fp32 x 8b", 6667},
        /* a 24-bit fixed operand does not fit the 18-bit port beside a significand */
        {OP_PHASE_FWD, 32, 24, 32, "mac fp32", 12000},
        /* 24x24: the 18-bit port takes 17 bits a slice, so 2 slices: 2 x 1.0 + 3.0 x 576/450 */
        {OP_PHASE_FWD, 24, 24, 24, "mac 24x24 (2 DSPs)", 5840},
    };
    struct hw_model *m = default_model();
    CU_ASSERT_FATAL(m != NULL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct hw_row row;
        struct oprec r = hwt_conv(cases[i].phase, 1, 16, 16, 8, 3, 1, cases[i].a, cases[i].b,
                                  cases[i].out);
        mac_row(m, &r, &row);
        CU_ASSERT_STRING_EQUAL(row.action, cases[i].action);
        CU_ASSERT_EQUAL(row.component, HW_DSP);
        CU_ASSERT_EQUAL((long long)row.fj_per_action, cases[i].fj);
    }
    hw_free(m);
}

/* A 4x10 predictor product packs two per DSP (2 x 4 + 10 + 1 <= 25): 1.2 pJ x (1.0 + 3.0 x
 * 40/450) / (1.0 + 3.0 x 64/450) = 1.0654 pJ; in LUTs 0.034 x 40 + 0.034 x 30 = 2.38 pJ.
 * Scale the fabric by 0.1 and the LUTs win (0.238 pJ). */
static void test_predictor_on_cheaper_resource(void)
{
    struct hw_params p = hw_params_defaults();
    p.int8_macs_per_dsp = 2;
    struct oprec r = hwt_conv(OP_PHASE_BWD_WEIGHT, 2, 16, 16, 8, 3, 1, 8, 16, 16);
    r.msb_a = 4;
    r.msb_b = 10;
    r.psg_full_q16 = 0;
    struct hw_row row;
    struct hw_model *m = hwt_model_from(&p);
    mac_row(m, &r, &row);
    CU_ASSERT_STRING_EQUAL(row.action, "mac 4x10 packed (2 per DSP)");
    CU_ASSERT_EQUAL(row.component, HW_DSP);
    CU_ASSERT_EQUAL(row.fj_per_action, 1065);
    hw_free(m);
    p.energy.bram_lut_scale = 0.1;
    m = hwt_model_from(&p);
    mac_row(m, &r, &row);
    CU_ASSERT_STRING_EQUAL(row.action, "mac 4x10 (acc 30)");
    CU_ASSERT_EQUAL(row.component, HW_LUT);
    CU_ASSERT_EQUAL(row.fj_per_action, 238);
    hw_free(m);
}

/* The MAC tile against gemm_i16_ref on im2col operands. */
static void check_tile(struct hw_model *m, int cin, int h, int w, int cout, int k, int stride,
                       int pad, int bits, uint64_t seed)
{
    int ho = (h + 2 * pad - k) / stride + 1, wo = (w + 2 * pad - k) / stride + 1;
    int K = cin * k * k, P = ho * wo;
    int16_t *x = malloc(sizeof *x * (size_t)(cin * h * w));
    int16_t *wt = malloc(sizeof *wt * (size_t)(cout * K));
    int16_t *col = calloc((size_t)K * P, sizeof *col);
    int64_t *ref = malloc(sizeof *ref * (size_t)(cout * P));
    int64_t *got = malloc(sizeof *got * (size_t)(cout * P));
    int32_t half = 1 << (bits - 1);
    for (int i = 0; i < cin * h * w; i++)
        x[i] = (int16_t)((int64_t)(rng_u64(seed, (uint64_t)i) % (uint64_t)(2 * half)) - half);
    for (int i = 0; i < cout * K; i++)
        wt[i] = (int16_t)((int64_t)(rng_u64(seed + 1, (uint64_t)i) % (uint64_t)(2 * half)) - half);
    for (int c = 0; c < cin; c++)
        for (int kh = 0; kh < k; kh++)
            for (int kw = 0; kw < k; kw++)
                for (int oy = 0; oy < ho; oy++)
                    for (int ox = 0; ox < wo; ox++) {
                        int iy = oy * stride + kh - pad, ix = ox * stride + kw - pad;
                        if (iy >= 0 && iy < h && ix >= 0 && ix < w)
                            col[((c * k + kh) * k + kw) * P + oy * wo + ox] = x[(c * h + iy) * w + ix];
                    }
    gemm_i16_ref(0, 0, cout, P, K, wt, K, col, P, ref, P, 0, bits, bits);
    uint64_t cycles = 0;
    char err[256];
    CU_ASSERT_FATAL(hw_conv_tile_i16(m, x, cin, h, w, wt, cout, k, stride, pad, got, &cycles, err,
                                     sizeof err) == 0);
    CU_ASSERT(memcmp(ref, got, sizeof *ref * (size_t)(cout * P)) == 0);
    CU_ASSERT(cycles >= (uint64_t)K);   /* at least one reduction pass, one MAC per lane per cycle */
    free(x);
    free(wt);
    free(col);
    free(ref);
    free(got);
}

static void test_bit_accurate_tile(void)
{
    struct hw_model *m = default_model();
    CU_ASSERT_FATAL(m != NULL);
    check_tile(m, 5, 7, 7, 6, 3, 1, 1, 8, 11);
    check_tile(m, 4, 9, 8, 3, 3, 2, 0, 16, 12);     /* full int16 range, stride 2 */
    check_tile(m, 16, 12, 12, 24, 1, 1, 0, 16, 13); /* 1x1, more outputs than lanes */
    check_tile(m, 3, 5, 5, 2, 5, 1, 2, 12, 14);
    hw_free(m);
}

/* The 48-bit post-adder wraps like the DSP48E1's; sums of int16 products never reach it for
 * the reductions above, so its exactness there is what makes the tile equal the reference. */
static void test_bad_tile_input(void)
{
    struct hw_model *m = default_model();
    int16_t x[4] = {0}, w[4] = {0};
    int64_t o[4];
    char err[256] = "";
    CU_ASSERT(hw_conv_tile_i16(m, x, 1, 2, 2, w, 1, 3, 1, 0, o, NULL, err, sizeof err) == 2);
    CU_ASSERT(strstr(err, "shape") != NULL);
    hw_free(m);
}

int main(void)
{
    CU_TestInfo tests[] = {
        { "compute-bound 8-bit conv: MACs / (DSPs x 2)", test_compute_bound_int8 },
        { "compute-bound 16-bit conv: MACs / DSPs", test_compute_bound_int16 },
        { "compute-bound float32 conv: MACs / 40 lanes", test_compute_bound_fp32 },
        { "float32 x fixed conv: MACs / 66 lanes", test_compute_bound_fp32_x_fixed },
        { "default engine: 200 8-bit lanes, float32 x fixed by average DSPs", test_default_engine_lanes },
        { "MACs priced per precision", test_mac_pricing },
        { "predictor MACs on the cheaper resource", test_predictor_on_cheaper_resource },
        { "bit-accurate tile equals gemm_i16_ref", test_bit_accurate_tile },
        { "bad tile shape", test_bad_tile_input },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("dsp_array", NULL, NULL, tests);
}
