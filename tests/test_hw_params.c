/* The model's parameter table (models/hw_params.cpp, rows in models/hw_param_rows.h): every row
 * is well formed, the defaults it gives are the documented ZedBoard design, numbers read and
 * write through it, and the calibration's plausible ranges sit on the fit coefficients. */
#include "cunit_main.h"

#include "test_hw_params.h"

static const struct hw_param_def *row(const char *key)
{
    const struct hw_param_def *d = hw_param_find(key);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    return d;
}

/* Is text one of the "a|b|c" choices? */
static int among(const char *choices, const char *text)
{
    size_t n = strlen(text);
    for (const char *c = choices; *c;) {
        const char *bar = strchr(c, '|');
        size_t len = bar ? (size_t)(bar - c) : strlen(c);
        if (len == n && strncmp(c, text, n) == 0)
            return 1;
        c += len + (bar != NULL);
    }
    return 0;
}

/* Keys are unique, fields distinct, ranges ordered, each default within its row's range and
 * choices, tags among the grades. */
static void test_rows_well_formed(void)
{
    size_t n;
    const struct hw_param_def *t = hw_param_table(&n);
    CU_ASSERT_EQUAL(n, 78);
    struct hw_params p = hw_params_defaults();
    for (size_t i = 0; i < n; i++) {
        const struct hw_param_def *d = &t[i];
        CU_ASSERT(strncmp(d->key, "hardware.", 9) == 0 || strncmp(d->key, "energy.", 7) == 0);
        CU_ASSERT(hw_param_find(d->key) == d);
        for (size_t j = 0; j < i; j++)
            CU_ASSERT(t[j].offset != d->offset);
        CU_ASSERT(d->offset < sizeof(struct hw_params));
        CU_ASSERT(d->doc[0] != '\0' && d->doc[strlen(d->doc) - 1] != ' ');
        CU_ASSERT(strcmp(d->tag, "") == 0 || strcmp(d->tag, "[V]") == 0 ||
                  strcmp(d->tag, "[E]") == 0);
        if (d->type == HW_PARAM_STRING) {
            CU_ASSERT_STRING_EQUAL((const char *)&p + d->offset, d->def);
            continue;
        }
        if (d->type == HW_PARAM_CHOICE)
            CU_ASSERT(among(d->choices, d->def));
        double v = hw_param_get(&p, d);
        CU_ASSERT(d->min <= d->max);
        if (v < d->min || v > d->max)
            fprintf(stderr, "\n%s = %g is outside [%g, %g]\n", d->key, v, d->min, d->max);
        CU_ASSERT(v >= d->min && v <= d->max);
        if (d->type == HW_PARAM_INT && d->choices) {
            char text[32];
            snprintf(text, sizeof text, "%d", (int)v);
            CU_ASSERT(among(d->choices, text));
        }
    }
    CU_ASSERT_PTR_NULL(hw_param_find("energy.no_such_key"));
    CU_ASSERT_PTR_NULL(hw_param_find("hardware"));
}

/* The defaults are the ZedBoard design of docs/hardware.md, value by value. */
static void test_defaults(void)
{
    struct hw_params p = hw_params_defaults();
    CU_ASSERT_EQUAL(p.pl_clock_mhz, 150.0);
    CU_ASSERT_EQUAL(p.dsps, 200);
    CU_ASSERT_EQUAL(p.dsp_a_bits, 25);
    CU_ASSERT_EQUAL(p.int8_macs_per_dsp, 1);
    CU_ASSERT_EQUAL(p.fp32_fixed_dsps_per_mac, 2.0);
    CU_ASSERT_EQUAL(p.luts_per_mult_bit2, 1.42);
    CU_ASSERT_EQUAL(p.bram_budget_kbit, 4608);
    CU_ASSERT_EQUAL(p.simulate_every_n, 0);
    CU_ASSERT_EQUAL(p.dataflow, HW_DATAFLOW_FUSED);
    CU_ASSERT_EQUAL(p.axi.ports, 4);
    CU_ASSERT_EQUAL(p.axi.port_bits, 64);
    CU_ASSERT_EQUAL(p.ddr.clock_mhz, 533.333);
    CU_ASSERT_EQUAL(p.ddr.trcd_ns, 13.125);
    CU_ASSERT_EQUAL(p.ddr.eff_seq_write, 0.90);
    CU_ASSERT_STRING_EQUAL(p.memspec, "");
    CU_ASSERT_EQUAL(p.ps.overlap_fabric, 1);
    CU_ASSERT_EQUAL(p.ps.cycles_per_transcendental, 40.0);
    CU_ASSERT_EQUAL(p.energy.dsp_mac_packed8_pj, 1.2);
    CU_ASSERT_EQUAL(p.energy.lut_mult_pj_per_bit2, 0.034);
    CU_ASSERT_EQUAL(p.energy.ddr.vdd, 1.5);
    CU_ASSERT_EQUAL(p.energy.ddr.idd4w_ma, 202.0);
    CU_ASSERT_EQUAL(p.energy.ddr.vpp, 0.0);
    CU_ASSERT_EQUAL(p.energy.stat.pl_w, 0.113);
    CU_ASSERT_EQUAL(p.energy.stat.board_w, 1.5);
    CU_ASSERT_STRING_EQUAL(p.ert, "");
    /* the defaults make a model */
    struct hw_model *m = hwt_model_from(&p);
    CU_ASSERT_PTR_NOT_NULL(m);
    hw_free(m);
}

/* Numbers read and write through their rows; an integer rounds to the nearest. */
static void test_get_set(void)
{
    struct hw_params p = hw_params_defaults();
    hw_param_set(&p, row("hardware.dsps"), 219.6);
    CU_ASSERT_EQUAL(p.dsps, 220);
    hw_param_set(&p, row("hardware.fp32_dsps_per_mac"), 2.4);
    CU_ASSERT_EQUAL(p.fp32_dsps_per_mac, 2);
    hw_param_set(&p, row("energy.static.board_w"), 1.25);
    CU_ASSERT_EQUAL(p.energy.stat.board_w, 1.25);
    CU_ASSERT_EQUAL(hw_param_get(&p, row("energy.static.board_w")), 1.25);
}

/* The calibration's plausible ranges: on the 17 fit coefficients only, numbers, inside the
 * accepted range, around the sourced default. */
static void test_plausible_ranges(void)
{
    const struct hw_param_def *d = row("energy.fp32_mac_pj");
    CU_ASSERT_EQUAL(d->plausible_min, 4.6);
    CU_ASSERT_EQUAL(d->plausible_max, 64.0);
    CU_ASSERT_STRING_EQUAL(d->unit, "pJ");
    CU_ASSERT_PTR_NULL(row("energy.lut_acc_pj_per_bit")->plausible_source);
    size_t n, fit = 0;
    const struct hw_param_def *t = hw_param_table(&n);
    struct hw_params p = hw_params_defaults();
    for (size_t i = 0; i < n; i++) {
        d = &t[i];
        if (!d->plausible_source)
            continue;
        fit++;
        CU_ASSERT(d->type == HW_PARAM_DOUBLE || d->type == HW_PARAM_INT);
        CU_ASSERT(d->plausible_min < d->plausible_max);
        CU_ASSERT(d->plausible_min >= d->min && d->plausible_max <= d->max);
        double v = hw_param_get(&p, d);
        if (v < d->plausible_min || v > d->plausible_max)
            fprintf(stderr, "\n%s: default %g outside its plausible range\n", d->key, v);
        CU_ASSERT(v >= d->plausible_min && v <= d->plausible_max);
    }
    CU_ASSERT_EQUAL(fit, 17);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"rows are well formed", test_rows_well_formed},
        {"defaults are the ZedBoard design", test_defaults},
        {"numbers read and write through their rows", test_get_set},
        {"plausible ranges of the fit coefficients", test_plausible_ranges},
        CU_TEST_INFO_NULL,
    };
    return cunit_run("hw_params", NULL, NULL, tests);
}
