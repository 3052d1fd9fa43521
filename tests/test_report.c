/* Report files: fixed names, report.json parses back with exact values, breakdown.csv adds up
 * to the total to the femtojoule, charts are inline SVG with nothing external, and the per-layer
 * roofline of a conv -> BN -> FC stream priced by the model matches the hand numbers. */
#define _POSIX_C_SOURCE 200809L
#include "cunit_main.h"
#include "testutil.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "hw.h"
#include "json.h"
#include "oprec.h"
#include "report.h"
#include "trace.h"

static char dir[64];

static char *slurp(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return read_text(path);
}

/* 2^70 + 12345 fJ: more than a uint64_t holds. */
static e2_fj big_fj(void)
{
    return ((e2_fj)1 << 70) + 12345;
}

static void fj_text(char *buf, e2_fj v)
{
    report_format_fj(buf, 48, v);
}

/* A report with awkward numbers: energies above 2^53 fJ, fractions that do not print short. */
static void sample(struct run_result *r)
{
    run_result_init(r);
    snprintf(r->kind, sizeof r->kind, "train");
    snprintf(r->name, sizeof r->name, "unit");
    snprintf(r->network, sizeof r->network, "resnet-8");
    snprintf(r->dataset, sizeof r->dataset, "fashion-mnist");
    snprintf(r->method, sizeof r->method, "smd+slu+psg");
    r->config_text = "name: unit\nseed: 1\ntraining:\n  iterations: 3 # \"quoted\"\n";
    r->wall_seconds = 12.5;
    r->has_accuracy = 1;
    r->top1 = 0.8713;
    r->top5 = 0.1 + 0.2;
    run_result_add_action(r, "dsp", "mac8", 123456789012ull, 700, 86419752308400ull);
    run_result_add_action(r, "ddr", "read_burst", 5000000ull, 410250, 2051250000000ull);
    run_result_add_action(r, "dsp", "static", 999, 333, 333000ull);
    run_result_add_action(r, "bram, port A", "read", 7, 2500, big_fj()); /* beyond 2^64 */
    r->total_fj = 0;
    for (int i = 0; i < r->action_count; i++)
        r->total_fj += r->actions[i].fj;
    r->baseline_fp32_fj = r->total_fj * 5 + 17;
    run_result_add_phase(r, "forward", r->total_fj / 2);
    run_result_add_phase(r, "backward_data", r->total_fj - r->total_fj / 2);
    run_result_add_technique(r, "base", r->total_fj);
    /* conv1: 600 MACs over 200 + 100 DDR bytes (2 MAC/B) in 150 cycles (1 us at 150 MHz):
     * 600 MMAC/s, 1 % of a 60 GMAC/s roof; the array busier than the DDR */
    struct report_layer l = {.id = 0, .name = "conv1", .kind = "conv",
                             .phase_fj = {1000, 2000, 3000, 4000}, .cycles = 150, .macs = 600,
                             .ddr_read_bytes = 200, .ddr_write_bytes = 100, .bram_bytes = 4096,
                             .compute_cycles = 140, .ddr_cycles = 90};
    run_result_add_layer(r, &l);
    /* fc: no DDR bytes, no time of its own: intensity, attained and utilization unknown */
    struct report_layer l2 = {.id = 1, .name = "fc", .kind = "fc", .phase_fj = {5, 0, 0, 9},
                              .macs = 10, .ps_cycles = 3};
    run_result_add_layer(r, &l2);
    r->roofs = (struct report_roofs){.peak_macs_per_s = 60e9, .bits_a = 8, .bits_b = 8,
                                     .ddr_bytes_per_s = 2.5e9};
    for (int i = 0; i < 20; i++)   /* more than the arrays' first capacity */
        run_result_add_point(r, (uint64_t)i * 10, (uint64_t)i * 1000000000000ull, 2.0 / (i + 1),
                         i % 3 ? 0.5 + i * 0.01 : NAN);
    double blocks[3] = {0.1, 0.25, 0.4};
    run_result_set_slu_blocks(r, 3, blocks);
    r->slu_skip_ratio = 0.25;
    r->psg_predictor_ratio = 0.625;
    r->iterations = 200;
    r->minibatches_processed = 180;
    r->fpga_cycles = 150000000000ull;
    r->fpga_seconds = 1000.0;
    r->clock_mhz = 150;
}

static void test_files_have_fixed_names(void)
{
    struct run_result r;
    sample(&r);
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(report_write(dir, &r, &err), E2_OK);
    const char *names[] = {"report.json", "report.md", "breakdown.csv", "layers.csv",
                           "curve.csv", "report.html"};
    for (int i = 0; i < 6; i++) {
        char path[256];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        CU_ASSERT_EQUAL(stat(path, &st), 0);
        CU_ASSERT(st.st_size > 0);
    }
    run_result_free(&r);
}

/* psg_layers.csv: written for a PSG run only (even without rows), one row per weight tensor
 * with its ratios; the other files do not change. */
static void test_psg_layers_csv(void)
{
    struct run_result r;
    sample(&r);
    struct e2_err err = {{0}};
    char path[256];
    snprintf(path, sizeof path, "%s/psg_layers.csv", dir);
    unlink(path);
    CU_ASSERT_EQUAL_FATAL(report_write(dir, &r, &err), E2_OK);
    CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0);   /* not a PSG run: no file */
    r.has_psg_layers = 1;
    CU_ASSERT_EQUAL_FATAL(report_write(dir, &r, &err), E2_OK);
    char *text = slurp("psg_layers.csv");
    CU_ASSERT_STRING_EQUAL(text, "param,layer,weight_updates,predictor_ratio,sign_flip_rate\n");
    free(text);
    CU_ASSERT_EQUAL(run_result_add_psg_layer(&r, "b1.u0.conv.w", 3, 400, 300, 6), E2_OK);
    CU_ASSERT_EQUAL(run_result_add_psg_layer(&r, "fc.w", 9, 8, 0, 0), E2_OK);
    CU_ASSERT_EQUAL_FATAL(report_write(dir, &r, &err), E2_OK);
    text = slurp("psg_layers.csv");
    CU_ASSERT_STRING_EQUAL(text, "param,layer,weight_updates,predictor_ratio,sign_flip_rate\n"
                                 "b1.u0.conv.w,3,400,0.750000,0.015000\n"
                                 "fc.w,9,8,0.000000,0.000000\n");
    free(text);
    run_result_free(&r);
    CU_ASSERT_EQUAL(r.psg_layer_count, 0);
}

/* A trace's trailer keeps what a replay reports back, from the same result. */
static void test_trace_result(void)
{
    struct run_result r;
    sample(&r);
    double skip[3] = {0.25, 0.5, 0.75};
    CU_ASSERT_EQUAL_FATAL(run_result_set_slu_blocks(&r, 3, skip), E2_OK);
    struct trace_result t;
    run_result_trace_result(&r, &t);
    CU_ASSERT_EQUAL(t.has_accuracy, r.has_accuracy);
    CU_ASSERT_EQUAL(t.top1, r.top1);
    CU_ASSERT_EQUAL(t.top5, r.top5);
    CU_ASSERT_EQUAL(t.iterations, r.iterations);
    CU_ASSERT_EQUAL(t.minibatches_processed, r.minibatches_processed);
    CU_ASSERT_EQUAL(t.slu_skip_ratio, r.slu_skip_ratio);
    CU_ASSERT_EQUAL(t.wall_seconds, r.wall_seconds);
    CU_ASSERT_EQUAL(t.slu_blocks, 3);
    CU_ASSERT_EQUAL(t.slu_block_skip[2], 0.75);
    run_result_free(&r);
}

/* Write r's reports into dir and parse report.json back (NULL on failure, asserted). */
static struct json_value *written_json(const struct run_result *r)
{
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL(report_write(dir, r, &err), E2_OK);
    char path[256];
    snprintf(path, sizeof path, "%s/report.json", dir);
    struct json_value *v = NULL;
    CU_ASSERT_EQUAL(json_parse_file(path, &v, &err), E2_OK);
    return v;
}

static void test_json_parses_back_exactly(void)
{
    struct run_result r;
    sample(&r);
    struct json_value *v = written_json(&r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    CU_ASSERT_STRING_EQUAL(json_get_string(v, "schema"), "e2sim.report/1");
    CU_ASSERT_EQUAL(json_get_number(v, "accuracy.top1", -1), 0.8713);
    CU_ASSERT_EQUAL(json_get_number(v, "accuracy.top5", -1), 0.1 + 0.2);
    char want[48];
    fj_text(want, r.total_fj);
    CU_ASSERT_STRING_EQUAL(json_get(v, "energy.total_fj")->text, want);
    CU_ASSERT(report_parse_fj(want) == r.total_fj);
    fj_text(want, r.baseline_fp32_fj);
    CU_ASSERT_STRING_EQUAL(json_get(v, "energy.baseline_fp32_fj")->text, want);
    CU_ASSERT_EQUAL(json_get_number(v, "energy.total_j", -1), (double)r.total_fj * 1e-15);
    CU_ASSERT_EQUAL(json_get_number(v, "energy.baseline_fp32_j", -1),
                    (double)r.baseline_fp32_fj * 1e-15);
    CU_ASSERT_EQUAL(json_get_number(v, "energy.savings_vs_fp32", -1), report_savings(&r));
    CU_ASSERT_DOUBLE_EQUAL(report_savings(&r), 0.8, 1e-12);
    CU_ASSERT_EQUAL(json_get_number(v, "energy.by_component.dsp", -1),
                    (double)(86419752308400ull + 333000ull) * 1e-15);
    CU_ASSERT_EQUAL(json_get_number(v, "energy.by_phase.forward", -1),
                    (double)(r.total_fj / 2) * 1e-15);
    CU_ASSERT_EQUAL(json_get_u64(v, "fpga.cycles"), 150000000000ull);
    CU_ASSERT_EQUAL(json_get_number(v, "fpga.seconds", -1), 1000.0);
    CU_ASSERT_EQUAL(json_get_u64(v, "training.iterations"), 200);
    CU_ASSERT_EQUAL(json_get_u64(v, "training.minibatches_processed"), 180);
    CU_ASSERT_EQUAL(json_get_number(v, "training.slu_skip_ratio", -1), 0.25);
    CU_ASSERT_EQUAL(json_get_number(v, "training.psg_predictor_ratio", -1), 0.625);
    const struct json_value *blocks = json_get(v, "training.slu_skip_ratio_per_block");
    CU_ASSERT_FATAL(blocks && blocks->type == JSON_ARRAY && blocks->count == 3);
    CU_ASSERT_EQUAL(blocks->items[1].number, 0.25);
    CU_ASSERT_STRING_EQUAL(json_get_string(v, "config"), r.config_text);
    const struct json_value *actions = json_get(v, "energy.by_action");
    CU_ASSERT_FATAL(actions && actions->count == 4);
    CU_ASSERT_STRING_EQUAL(json_get_string(&actions->items[3], "component"), "bram, port A");
    CU_ASSERT_STRING_EQUAL(json_get(&actions->items[3], "energy_fj")->text,
                           "1180591620717411315769");
    CU_ASSERT_EQUAL(json_get_number(&actions->items[2], "pj_per_action", -1), 0.333);
    CU_ASSERT_EQUAL(json_get_u64(&actions->items[2], "fj_per_action"), 333);
    const struct json_value *curve = json_get(v, "curve");
    CU_ASSERT_FATAL(curve && curve->count == 20);
    CU_ASSERT_EQUAL(json_get(&curve->items[3], "test_top1")->type, JSON_NULL);
    CU_ASSERT_EQUAL(json_get_number(&curve->items[4], "test_top1", -1), 0.5 + 4 * 0.01);
    const struct json_value *layers = json_get(v, "layers");
    CU_ASSERT_FATAL(layers && layers->count == 2);
    CU_ASSERT_EQUAL(json_get_number(&layers->items[0], "energy_j", -1), 10000 * 1e-15);
    const struct json_value *conv = &layers->items[0], *fc = &layers->items[1];
    CU_ASSERT_EQUAL(json_get_u64(conv, "macs"), 600);
    CU_ASSERT_EQUAL(json_get_u64(conv, "ddr_read_bytes"), 200);
    CU_ASSERT_EQUAL(json_get_u64(conv, "ddr_write_bytes"), 100);
    CU_ASSERT_EQUAL(json_get_u64(conv, "bram_bytes"), 4096);
    CU_ASSERT_EQUAL(json_get_number(conv, "macs_per_ddr_byte", -1), 2.0);
    CU_ASSERT_DOUBLE_EQUAL(json_get_number(conv, "attained_macs_per_s", -1), 600e6, 1e-3);
    CU_ASSERT_DOUBLE_EQUAL(json_get_number(conv, "dsp_utilization", -1), 0.01, 1e-15);
    CU_ASSERT_STRING_EQUAL(json_get_string(conv, "bound"), "compute");
    CU_ASSERT_EQUAL(json_get_u64(conv, "ddr_cycles"), 90);
    CU_ASSERT_EQUAL(json_get(fc, "macs_per_ddr_byte")->type, JSON_NULL);
    CU_ASSERT_EQUAL(json_get(fc, "attained_macs_per_s")->type, JSON_NULL);
    CU_ASSERT_STRING_EQUAL(json_get_string(fc, "bound"), "ps");
    CU_ASSERT_EQUAL(json_get_number(v, "fpga.roofline.peak_macs_per_s", -1), 60e9);
    CU_ASSERT_STRING_EQUAL(json_get_string(v, "fpga.roofline.peak_precision"), "8x8");
    CU_ASSERT_EQUAL(json_get_number(v, "fpga.roofline.ddr_bytes_per_s", -1), 2.5e9);
    CU_ASSERT_EQUAL(json_get_number(v, "fpga.roofline.ridge_macs_per_ddr_byte", -1), 24.0);
    json_free(v);
    run_result_free(&r);
}

/* "123.000000000000456" -> 123000000000000456 fJ, exactly. */
static e2_fj parse_fj(const char *s)
{
    const char *dot = strchr(s, '.');
    CU_ASSERT_FATAL(dot != NULL);
    CU_ASSERT_EQUAL(strspn(dot + 1, "0123456789"), 15);
    return report_parse_joules(s);
}

/* Last comma-separated field of a line. */
static const char *last_field(char *line)
{
    char *c = strrchr(line, ',');
    return c ? c + 1 : line;
}

static void test_breakdown_sums_to_total(void)
{
    struct run_result r;
    sample(&r);
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(report_write(dir, &r, &err), E2_OK);
    char *csv = slurp("breakdown.csv");
    CU_ASSERT_FATAL(csv != NULL);
    char *save, *line = strtok_r(csv, "\n", &save);
    CU_ASSERT_STRING_EQUAL(line, "component,action,count,pj_per_action,energy_j");
    e2_fj sum = 0;
    int rows = 0;
    while ((line = strtok_r(NULL, "\n", &save))) {
        sum += parse_fj(last_field(line));
        rows++;
        if (rows == 4)
            CU_ASSERT_STRING_EQUAL(line, "\"bram, port A\",read,7,2.500,"
                                         "1180591.620717411315769");
    }
    CU_ASSERT_EQUAL(rows, 4);
    CU_ASSERT(sum == r.total_fj);
    CU_ASSERT(sum > ((e2_fj)1 << 64));
    free(csv);

    char *layers = slurp("layers.csv");
    CU_ASSERT_FATAL(layers != NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(layers, "energy_j,cycles,macs,ddr_read_bytes,ddr_write_bytes,"
                                          "bram_bytes,macs_per_ddr_byte,attained_macs_per_s,"
                                          "dsp_utilization,bound,compute_cycles,ddr_cycles,"
                                          "ps_cycles\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(layers, "\n0,conv1,conv,0.000000000001000,0.000000000002000,"
                                          "0.000000000003000,0.000000000004000,"
                                          "0.000000000010000,150,600,200,100,4096,2,"));
    CU_ASSERT_PTR_NOT_NULL(strstr(layers, ",compute,140,90,0\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(layers, ",0,10,0,0,0,,,,ps,0,0,3\n"));   /* fc: unknowns empty */
    free(layers);
    char *curve = slurp("curve.csv");
    CU_ASSERT_FATAL(curve != NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(curve, "iteration,energy_j,train_loss,test_top1\n0,0."));
    CU_ASSERT_PTR_NOT_NULL(strstr(curve, "\n30,0.003000000000000,0.5,\n"));   /* NaN: empty */
    free(curve);
    run_result_free(&r);
}

static void test_markdown_and_html(void)
{
    struct run_result r;
    sample(&r);
    r.top_layers = 1;
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(report_write(dir, &r, &err), E2_OK);
    char *md = slurp("report.md");
    CU_ASSERT_FATAL(md != NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "| test top-1 | 87.13 % |"));
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "| saving vs float32 | **80.00 %** (5.00x less energy) |"));
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "## Top 1 layers by energy (all 2 in layers.csv)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "| 0 conv1 | conv |"));
    CU_ASSERT_PTR_NULL(strstr(md, "| 1 fc |"));
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "## Roofline of the top 1 layers\n\ncompute roof 60 GMAC/s "
                                      "(DSP array at 8x8 bits), DDR roof 2.5 GB/s (DMA read "
                                      "stream), ridge 24 MAC/B."));
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "| 0 conv1 | conv | 600 | 200 B | 100 B | 4.1 kB | 2 | "
                                      "600 MMAC/s | 1.00 % | compute |"));
    free(md);
    char *html = slurp("report.html");
    CU_ASSERT_FATAL(html != NULL);
    int charts = 0;
    for (const char *p = html; (p = strstr(p, "<svg ")); p++)
        charts++;
    CU_ASSERT_EQUAL(charts, 6);   /* component, phase, technique, curve, layers, roofline */
    /* the roofline: log decades with SI labels, both roofs named, conv1 drawn, fc not */
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "Roofline: every layer over the whole run"));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "compute roof 60 GMAC/s (8x8)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "DDR roof 2.5 GB/s"));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, ">100 M</text>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "<title>0 conv1: 2 MAC/B, 600 MMAC/s</title>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, ">0 conv1</text>"));   /* named beside its point */
    CU_ASSERT_PTR_NULL(strstr(html, "<title>1 fc:"));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "1 of 2 layers drawn"));
    CU_ASSERT_PTR_NULL(strstr(html, "<script"));
    CU_ASSERT_PTR_NULL(strstr(html, "src="));
    CU_ASSERT_PTR_NULL(strstr(html, "href="));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "Energy per layer, by phase"));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "bram, port A"));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "</html>\n"));
    free(html);
    run_result_free(&r);
}

static void test_no_baseline_no_accuracy(void)
{
    struct run_result r;
    run_result_init(&r);
    snprintf(r.kind, sizeof r.kind, "energy-only");
    struct json_value *v = written_json(&r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    CU_ASSERT_EQUAL(json_get(v, "accuracy.top1")->type, JSON_NULL);
    CU_ASSERT_EQUAL(json_get(v, "energy.baseline_fp32_j")->type, JSON_NULL);
    CU_ASSERT_EQUAL(json_get(v, "energy.savings_vs_fp32")->type, JSON_NULL);
    json_free(v);
    run_result_free(&r);
}

static void test_missing_folder_is_an_error(void)
{
    struct run_result r;
    run_result_init(&r);
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL(report_write("/nonexistent/e2sim", &r, &err), E2_FAILURE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "/nonexistent/e2sim"));
}

/* Every byte sequence of s is well-formed UTF-8 (RFC 3629). */
static int valid_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 && c >= 0xc2 ? 2 : (c & 0xf0) == 0xe0 ? 3
                   : (c & 0xf8) == 0xf0 && c <= 0xf4 ? 4 : 0;
        if (len == 0 || i + len > n)
            return 0;
        for (size_t k = 1; k < len; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
        i += len;
    }
    return 1;
}

/* Issue 12, finding 4: names from a trace header may hold any bytes; report.json stays valid
 * JSON (bytes that are not UTF-8 are escaped as \u00XX, good UTF-8 is kept). */
static void test_json_escapes_bad_utf8(void)
{
    struct run_result r;
    sample(&r);
    snprintf(r.network, sizeof r.network, "res\xffnet-\xc3\xa9\xc3");
    snprintf(r.dataset, sizeof r.dataset, "\xed\xa0\x80x\xe2\x82");
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(report_write(dir, &r, &err), E2_OK);
    char path[256];
    snprintf(path, sizeof path, "%s/report.json", dir);
    char *text = read_text(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT(valid_utf8((const unsigned char *)text, strlen(text)));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"res\\u00ffnet-\xc3\xa9\\u00c3\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"\\u00ed\\u00a0\\u0080x\\u00e2\\u0082\""));
    struct json_value *v = NULL;
    CU_ASSERT_EQUAL(json_parse(text, strlen(text), path, &v, &err), E2_OK);
    json_free(v);
    free(text);
    run_result_free(&r);
}

static void test_format_joules(void)
{
    char buf[64];
    report_format_joules(buf, sizeof buf, 0);
    CU_ASSERT_STRING_EQUAL(buf, "0.000000000000000");
    report_format_joules(buf, sizeof buf, 18446744073709551615ull);
    CU_ASSERT_STRING_EQUAL(buf, "18446.744073709551615");
    report_format_joules(buf, sizeof buf, ~(e2_fj)0);
    CU_ASSERT_STRING_EQUAL(buf, "340282366920938463463374.607431768211455");
    CU_ASSERT(report_parse_joules(buf) == ~(e2_fj)0);
    CU_ASSERT(report_parse_joules("1.5") == 1500000000000000ull);
    report_format_fj(buf, sizeof buf, 0);
    CU_ASSERT_STRING_EQUAL(buf, "0");
}

/* A record with the fields the mapper reads (pad k/2, square maps, 48-bit accumulators). */
static struct oprec op(int layer, int kind, uint32_t n, int cin, int cout, int hw, int k,
                       int bits_out)
{
    struct oprec r;
    memset(&r, 0, sizeof r);
    r.layer = (uint16_t)layer;
    r.kind = (uint8_t)kind;
    r.phase = OP_PHASE_FWD;
    r.n = n;
    r.cin = (uint16_t)cin;
    r.cout = (uint16_t)cout;
    r.groups = 1;
    r.k = (uint8_t)k;
    r.stride = 1;
    r.pad = (uint8_t)(k / 2);
    r.h_in = r.w_in = r.h_out = r.w_out = (uint16_t)hw;
    r.bits_a = 8;
    r.bits_b = kind == OP_BN ? 0 : 8;
    r.bits_out = (uint8_t)bits_out;
    r.bits_acc = 48;
    return r;
}

/* The conv -> BN -> FC stream of tests/test_ledger.c ("roofline numbers by hand", where the
 * MACs, bytes and busy cycles are derived, on the same pinned unfused engine with two 8-bit MACs
 * per DSP) priced by the model: the report's layers
 * carry them, with intensity, bound and utilization computed from them. */
static void test_roofline_from_the_model(void)
{
    struct e2_config *cfg = calloc(1, sizeof *cfg);
    CU_ASSERT_FATAL(cfg != NULL);
    cfg_defaults(cfg);
    cfg->hw.dataflow = HW_DATAFLOW_UNFUSED;
    cfg->hw.int8_macs_per_dsp = 2;
    struct hw_model *m = NULL;
    char msg[256];
    CU_ASSERT_EQUAL_FATAL(hw_create(&cfg->hw, &m, msg, sizeof msg), 0);
    struct hw_ledger *l = hw_ledger_new();
    struct oprec ops[3] = {op(0, OP_CONV, 2, 8, 16, 8, 3, 8), op(1, OP_BN, 2, 16, 16, 8, 0, 8),
                           op(2, OP_FC, 2, 256, 10, 1, 0, 16)};
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL_FATAL(hw_account(m, l, &ops[i], 1, msg, sizeof msg), 0);
    struct run_result r;
    run_result_init(&r);
    CU_ASSERT_EQUAL_FATAL(run_result_fill_energy(&r, m, l, NULL, NULL, 0), E2_OK);
    CU_ASSERT_FATAL(r.layer_count == 3);
    const struct report_layer *conv = &r.layers[0], *bn = &r.layers[1], *fc = &r.layers[2];
    CU_ASSERT_EQUAL(conv->macs, 147456);
    CU_ASSERT_EQUAL(conv->ddr_read_bytes + conv->ddr_write_bytes, 2176 + 2048);
    CU_ASSERT_EQUAL(report_layer_intensity(conv), 147456.0 / 4224);
    CU_ASSERT_STRING_EQUAL(report_layer_bound(conv), "compute");
    CU_ASSERT_EQUAL(bn->macs, 6144);
    CU_ASSERT_EQUAL(report_layer_intensity(bn), 1.0);
    CU_ASSERT_STRING_EQUAL(report_layer_bound(bn), "ddr");
    CU_ASSERT_EQUAL(report_layer_intensity(fc), 5120.0 / 3112);
    CU_ASSERT_STRING_EQUAL(report_layer_bound(fc), "compute");
    /* roofs: 400 MACs per cycle at 150 MHz; the DMA read stream 1 MiB in 64 x 660 cycles */
    CU_ASSERT_DOUBLE_EQUAL(r.roofs.peak_macs_per_s, 60e9, 1);
    CU_ASSERT_DOUBLE_EQUAL(r.roofs.ddr_bytes_per_s, 1048576.0 / (64 * 660) * 150e6, 1);
    /* utilization: MACs / (400 x the layer's cycles), the cycles the pricing gave it */
    for (int i = 0; i < 3; i++) {
        const struct report_layer *x = &r.layers[i];
        CU_ASSERT(x->cycles > 0);
        CU_ASSERT_DOUBLE_EQUAL(report_layer_dsp_utilization(&r, x),
                               (double)x->macs / (400.0 * (double)x->cycles), 1e-12);
        CU_ASSERT(x->ddr_cycles <= x->cycles && x->compute_cycles <= x->cycles);
    }
    /* the FC keeps 10 of 400 lanes busy: under 2.5 % */
    CU_ASSERT(report_layer_dsp_utilization(&r, fc) < 0.025);
    run_result_free(&r);
    hw_ledger_free(l);
    hw_free(m);
    free(cfg);
}

/* The version `e2sim --version` prints ("e2sim 0.1.0" -> "0.1.0"). */
static void program_version(char *buf, size_t size)
{
    char line[128] = "";
    FILE *p = popen("'" E2SIM_BINARY "' --version", "r");
    CU_ASSERT_FATAL(p != NULL);
    if (!fgets(line, sizeof line, p))
        line[0] = '\0';
    pclose(p);
    line[strcspn(line, "\n")] = '\0';
    CU_ASSERT_FATAL(strncmp(line, "e2sim ", 6) == 0);
    snprintf(buf, size, "%s", line + 6);
}

/* The provenance keys of a report.json's run object or a sweep.jsonl line's provenance: the
 * program's version, a git commit (12 hex digits, maybe "-dirty", or "unknown"), this host,
 * and a start time in ISO 8601 UTC within the last hour. */
static void check_provenance(const struct json_value *v, const char *prefix)
{
    char key[64], version[128], host[256] = "", now[32], hour_ago[32];
    program_version(version, sizeof version);
    gethostname(host, sizeof host - 1);
    time_t t = time(NULL), t0 = t - 3600;
    struct tm tm;
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    strftime(hour_ago, sizeof hour_ago, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t0, &tm));
    snprintf(key, sizeof key, "%s.e2sim_version", prefix);
    const char *s = json_get_string(v, key);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_STRING_EQUAL(s, version);
    snprintf(key, sizeof key, "%s.git_commit", prefix);
    s = json_get_string(v, key);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    size_t hex = strspn(s, "0123456789abcdef");
    CU_ASSERT(strcmp(s, "unknown") == 0 ||
              (hex == 12 && (s[12] == '\0' || strcmp(s + 12, "-dirty") == 0)));
    snprintf(key, sizeof key, "%s.host", prefix);
    s = json_get_string(v, key);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_STRING_EQUAL(s, host);
    snprintf(key, sizeof key, "%s.started", prefix);
    s = json_get_string(v, key);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(strlen(s), 20);     /* ISO 8601 compares as text */
    CU_ASSERT(strcmp(s, hour_ago) >= 0 && strcmp(s, now) <= 0);
}

static void test_provenance_in_report_json(void)
{
    struct run_result r;
    sample(&r);
    struct json_value *v = written_json(&r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    check_provenance(v, "run");
    json_free(v);
    run_result_free(&r);
}

/* A two-point hardware sweep over the shipped ResNet-8 trace, run by the program: every
 * sweep.jsonl line carries its point's provenance, the same as the point's report.json. */
static void test_provenance_in_sweep_jsonl(void)
{
    char config[256], out[256], cmd[1024];
    snprintf(config, sizeof config, "%s/prov.yaml", dir);
    snprintf(out, sizeof out, "%s/prov", dir);
    FILE *f = fopen(config, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs("name: prov\nsweep:\n  vary:\n    hardware.pl_clock_mhz: [100, 150]\n", f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "'" E2SIM_BINARY "' replay '" E2SIM_SOURCE_DIR
             "/traces/resnet8-fmnist-1k.e2t' --config '%s' --out '%s' --quiet", config, out);
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
    char path[300];
    snprintf(path, sizeof path, "%s/sweep.jsonl", out);
    char *text = read_text(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    int lines = 0;
    for (char *line = text, *nl; (nl = strchr(line, '\n')); line = nl + 1, lines++) {
        struct json_value *v, *report;
        struct e2_err err = {{0}};
        CU_ASSERT_EQUAL_FATAL(json_parse(line, (size_t)(nl - line), path, &v, &err), E2_OK);
        check_provenance(v, "provenance");
        snprintf(path, sizeof path, "%s/points/%04d/report.json", out,
                 (int)json_get_number(v, "point", -1));
        CU_ASSERT_EQUAL_FATAL(json_parse_file(path, &report, &err), E2_OK);
        CU_ASSERT_STRING_EQUAL(json_get_string(v, "provenance.started"),
                               json_get_string(report, "run.started"));
        json_free(report);
        json_free(v);
    }
    CU_ASSERT_EQUAL(lines, 2);
    free(text);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", out, config);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/e2sim-test-report-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    CU_TestInfo tests[] = {
        { "files have fixed names", test_files_have_fixed_names },
        { "psg_layers.csv for PSG runs only", test_psg_layers_csv },
        { "a trace's trailer from the result", test_trace_result },
        { "report.json parses back exactly", test_json_parses_back_exactly },
        { "breakdown.csv sums to the total", test_breakdown_sums_to_total },
        { "report.md and report.html", test_markdown_and_html },
        { "no baseline, no accuracy: nulls", test_no_baseline_no_accuracy },
        { "missing folder is an error", test_missing_folder_is_an_error },
        { "exact joules text", test_format_joules },
        { "roofline of a conv, BN, FC stream", test_roofline_from_the_model },
        { "provenance in report.json", test_provenance_in_report_json },
        { "provenance in each sweep.jsonl line", test_provenance_in_sweep_jsonl },
        { "report.json escapes bytes that are not UTF-8", test_json_escapes_bad_utf8 },
        CU_TEST_INFO_NULL,
    };
    int failed = cunit_run("report", NULL, NULL, tests);
    const char *files[] = {"report.json", "report.md", "breakdown.csv", "layers.csv",
                           "curve.csv", "report.html"};
    for (int i = 0; i < 6; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        remove(path);
    }
    rmdir(dir);
    return failed ? 1 : 0;
}
