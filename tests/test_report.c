/* Report files: fixed names, report.json parses back with exact values, breakdown.csv adds up
 * to the total to the femtojoule, charts are inline SVG with nothing external. */
#define _POSIX_C_SOURCE 200809L
#include "cunit_main.h"
#include "testutil.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "report.h"

static char dir[64];

static char *slurp(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return read_text(path);
}

/* 2^70 + 12345 fJ: more than a uint64_t holds. */
static report_fj big_fj(void)
{
    return ((report_fj)1 << 70) + 12345;
}

static void fj_text(char *buf, report_fj v)
{
    report_format_fj(buf, 48, v);
}

/* A report with awkward numbers: energies above 2^53 fJ, fractions that do not print short. */
static void sample(struct run_report *r)
{
    report_init(r);
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
    report_add_action(r, "dsp", "mac8", 123456789012ull, 700, 86419752308400ull);
    report_add_action(r, "ddr", "read_burst", 5000000ull, 410250, 2051250000000ull);
    report_add_action(r, "dsp", "static", 999, 333, 333000ull);
    report_add_action(r, "bram, port A", "read", 7, 2500, big_fj()); /* beyond 2^64 */
    r->total_fj = 0;
    for (int i = 0; i < r->action_count; i++)
        r->total_fj += r->actions[i].fj;
    r->baseline_fp32_fj = r->total_fj * 5 + 17;
    report_add_phase(r, "forward", r->total_fj / 2);
    report_add_phase(r, "backward_data", r->total_fj - r->total_fj / 2);
    report_add_technique(r, "base", r->total_fj);
    struct report_layer l = {0, "conv1", "conv", {1000, 2000, 3000, 4000}, 77};
    report_add_layer(r, &l);
    struct report_layer l2 = {1, "fc", "fc", {5, 0, 0, 9}, 8};
    report_add_layer(r, &l2);
    for (int i = 0; i < 20; i++)   /* more than the arrays' first capacity */
        report_add_point(r, (uint64_t)i * 10, (uint64_t)i * 1000000000000ull, 2.0 / (i + 1),
                         i % 3 ? 0.5 + i * 0.01 : NAN);
    double blocks[3] = {0.1, 0.25, 0.4};
    report_set_slu_blocks(r, 3, blocks);
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
    struct run_report r;
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
    report_free(&r);
}

static void test_json_parses_back_exactly(void)
{
    struct run_report r;
    sample(&r);
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(report_write(dir, &r, &err), E2_OK);
    char path[256];
    snprintf(path, sizeof path, "%s/report.json", dir);
    struct json_value *v;
    CU_ASSERT_EQUAL_FATAL(json_parse_file(path, &v, &err), E2_OK);
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
    json_free(v);
    report_free(&r);
}

/* "123.000000000000456" -> 123000000000000456 fJ, exactly. */
static report_fj parse_fj(const char *s)
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
    struct run_report r;
    sample(&r);
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(report_write(dir, &r, &err), E2_OK);
    char *csv = slurp("breakdown.csv");
    CU_ASSERT_FATAL(csv != NULL);
    char *save, *line = strtok_r(csv, "\n", &save);
    CU_ASSERT_STRING_EQUAL(line, "component,action,count,pj_per_action,energy_j");
    report_fj sum = 0;
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
    CU_ASSERT(sum > ((report_fj)1 << 64));
    free(csv);

    char *layers = slurp("layers.csv");
    CU_ASSERT_FATAL(layers != NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(layers, "\n0,conv1,conv,0.000000000001000,0.000000000002000,"
                                          "0.000000000003000,0.000000000004000,"
                                          "0.000000000010000,77\n"));
    free(layers);
    char *curve = slurp("curve.csv");
    CU_ASSERT_FATAL(curve != NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(curve, "iteration,energy_j,train_loss,test_top1\n0,0."));
    CU_ASSERT_PTR_NOT_NULL(strstr(curve, "\n30,0.003000000000000,0.5,\n"));   /* NaN: empty */
    free(curve);
    report_free(&r);
}

static void test_markdown_and_html(void)
{
    struct run_report r;
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
    free(md);
    char *html = slurp("report.html");
    CU_ASSERT_FATAL(html != NULL);
    int charts = 0;
    for (const char *p = html; (p = strstr(p, "<svg ")); p++)
        charts++;
    CU_ASSERT_EQUAL(charts, 5);   /* component, phase, technique, curve, layers */
    CU_ASSERT_PTR_NULL(strstr(html, "<script"));
    CU_ASSERT_PTR_NULL(strstr(html, "src="));
    CU_ASSERT_PTR_NULL(strstr(html, "href="));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "Energy per layer, by phase"));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "bram, port A"));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "</html>\n"));
    free(html);
    report_free(&r);
}

static void test_no_baseline_no_accuracy(void)
{
    struct run_report r;
    report_init(&r);
    snprintf(r.kind, sizeof r.kind, "energy-only");
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(report_write(dir, &r, &err), E2_OK);
    char path[256];
    snprintf(path, sizeof path, "%s/report.json", dir);
    struct json_value *v;
    CU_ASSERT_EQUAL_FATAL(json_parse_file(path, &v, &err), E2_OK);
    CU_ASSERT_EQUAL(json_get(v, "accuracy.top1")->type, JSON_NULL);
    CU_ASSERT_EQUAL(json_get(v, "energy.baseline_fp32_j")->type, JSON_NULL);
    CU_ASSERT_EQUAL(json_get(v, "energy.savings_vs_fp32")->type, JSON_NULL);
    json_free(v);
    report_free(&r);
}

static void test_missing_folder_is_an_error(void)
{
    struct run_report r;
    report_init(&r);
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
    struct run_report r;
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
    report_free(&r);
}

static void test_format_joules(void)
{
    char buf[64];
    report_format_joules(buf, sizeof buf, 0);
    CU_ASSERT_STRING_EQUAL(buf, "0.000000000000000");
    report_format_joules(buf, sizeof buf, 18446744073709551615ull);
    CU_ASSERT_STRING_EQUAL(buf, "18446.744073709551615");
    report_format_joules(buf, sizeof buf, ~(report_fj)0);
    CU_ASSERT_STRING_EQUAL(buf, "340282366920938463463374.607431768211455");
    CU_ASSERT(report_parse_joules(buf) == ~(report_fj)0);
    CU_ASSERT(report_parse_joules("1.5") == 1500000000000000ull);
    report_format_fj(buf, sizeof buf, 0);
    CU_ASSERT_STRING_EQUAL(buf, "0");
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/e2sim-test-report-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    CU_TestInfo tests[] = {
        { "files have fixed names", test_files_have_fixed_names },
        { "report.json parses back exactly", test_json_parses_back_exactly },
        { "breakdown.csv sums to the total", test_breakdown_sums_to_total },
        { "report.md and report.html", test_markdown_and_html },
        { "no baseline, no accuracy: nulls", test_no_baseline_no_accuracy },
        { "missing folder is an error", test_missing_folder_is_an_error },
        { "exact joules text", test_format_joules },
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
