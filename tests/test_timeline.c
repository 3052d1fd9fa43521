/* Timelines (models/timeline.cpp): a record simulated afresh as Chrome trace events, several
 * records end to end as JSON and VCD, and event times to the nanosecond for a record worked
 * out by hand. */
#include "cunit_main.h"
#include "testutil.h"
#include <math.h>
#include <unistd.h>

#include "test_hw_params.h"

static void test_timeline(void)
{
    struct hw_params p = hw_params_defaults();
    struct hw_model *m = hwt_model_from(&p);
    struct oprec r = hwt_conv(OP_PHASE_FWD, 3, 16, 16, 32, 3, 1, 8, 8, 8);
    char path[] = "/tmp/e2sim_timeline_XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    char err[256];
    CU_ASSERT_EQUAL(hw_timeline_write(m, &r, path, err, sizeof err), 0);
    char *s = read_text(path);
    CU_ASSERT_FATAL(s != NULL);
    CU_ASSERT(strstr(s, "\"traceEvents\"") != NULL);
    CU_ASSERT(strstr(s, "\"dsp array\"") != NULL);
    CU_ASSERT(strstr(s, "\"dma load\"") != NULL);
    CU_ASSERT(strstr(s, "\"ddr\"") != NULL);
    CU_ASSERT(s[strlen(s) - 2] == '}');
    free(s);
    remove(path);
    CU_ASSERT_EQUAL(hw_timeline_write(m, &r, "/nonexistent/dir/t.json", err, sizeof err), 1);
    hw_free(m);
}

/* Three records end to end as a VCD: a header with one busy wire per unit and the running
 * record's label as a string signal, time stamps in ps that never go back, and the last one at
 * the three records' cycles (as the ledger counts them) times the 150 MHz period. */
static void test_timeline_vcd(void)
{
    struct hw_params p = hw_params_defaults();
    struct hw_model *m = hwt_model_from(&p);
    struct oprec r[3] = {hwt_conv(OP_PHASE_FWD, 2, 16, 16, 16, 3, 1, 8, 8, 8),
                         hwt_elt(OP_RELU, OP_PHASE_FWD, 2, 16, 16, 32, 0, 32),
                         hwt_conv(OP_PHASE_BWD_DATA, 2, 16, 16, 16, 3, 1, 16, 8, 16)};
    const char *labels[3] = {"conv fwd", "relu fwd", "conv bwd"};
    const char *vcd = "/tmp/e2sim_timeline_test.vcd", *json = "/tmp/e2sim_timeline_test.json";
    char err[256];
    CU_ASSERT_EQUAL_FATAL(hw_timeline_write_ops(m, r, 3, labels, json, vcd, err, sizeof err), 0);
    uint64_t cycles = 0;
    for (int i = 0; i < 3; i++) {
        uint64_t c;
        CU_ASSERT_FATAL(hw_op_cost(m, &r[i], &c, NULL, err, sizeof err) == 0);
        cycles += c;
    }
    char *s = read_text(vcd);
    CU_ASSERT_FATAL(s != NULL);
    CU_ASSERT(strstr(s, "$timescale 1ps $end") != NULL);
    CU_ASSERT(strstr(s, "$var string 1 ! op $end") != NULL);
    CU_ASSERT(strstr(s, "dsp_array_busy") && strstr(s, "ddr_busy") && strstr(s, "dma_load_busy"));
    CU_ASSERT(strstr(s, "\nsconv_fwd !\n") && strstr(s, "\nsconv_bwd !\n"));
    long long prev = -1, last = -1;
    int ordered = 1;
    for (char *line = strtok(strstr(s, "$enddefinitions"), "\n"); line; line = strtok(NULL, "\n"))
        if (line[0] == '#') {
            last = atoll(line + 1);
            ordered &= last > prev;
            prev = last;
        }
    CU_ASSERT(ordered);
    CU_ASSERT_EQUAL(last, llround((double)cycles * 1e6 / 150.0));
    free(s);
    s = read_text(json);
    CU_ASSERT_FATAL(s != NULL);
    CU_ASSERT(strstr(s, "\"conv bwd\"") != NULL);
    free(s);
    remove(vcd);
    remove(json);
    hw_free(m);
}

/* The loss over 10 classes on the A9, not overlapped (tests/test_ps_a9.c has the cycles): the
 * controller reads the 20 B of logits in PL cycles [0, 2), the A9 computes [2, 110), the 4 B
 * loss is written [110, 112) after a read, so at the mixed efficiency. At 150 MHz: 13.33, 733.33
 * and 746.67 ns, rounded to 13, 733 and 747 ns. */
static void test_events_by_hand(void)
{
    struct hw_params p = hw_params_defaults();
    p.ps.overlap_fabric = 0;
    struct hw_model *m = hwt_model_from(&p);
    CU_ASSERT_FATAL(m != NULL);
    struct oprec r = hwt_elt(OP_LOSS, OP_PHASE_FWD, 1, 10, 1, 16, 0, 32);
    const char *json = "/tmp/e2sim_timeline_hand.json";
    char err[256];
    CU_ASSERT_EQUAL_FATAL(hw_timeline_write(m, &r, json, err, sizeof err), 0);
    char *s = read_text(json);
    CU_ASSERT_FATAL(s != NULL);
    CU_ASSERT(strstr(s, "\"ts\":0,\"dur\":0.013,\"name\":\"read 20 B\"}") != NULL);
    CU_ASSERT(strstr(s, "\"ts\":0.013,\"dur\":0.72,\"name\":\"compute\"}") != NULL);
    CU_ASSERT(strstr(s, "\"ts\":0.733,\"dur\":0.014,\"name\":\"write 4 B (mixed)\"}") != NULL);
    CU_ASSERT(strstr(s, "\"args\":{\"name\":\"ps a9\"}") != NULL);
    free(s);
    remove(json);
    hw_free(m);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"timeline JSON", test_timeline},
        {"timeline of several records: JSON and VCD", test_timeline_vcd},
        {"event times by hand", test_events_by_hand},
        CU_TEST_INFO_NULL,
    };
    return cunit_run("timeline", NULL, NULL, tests);
}
