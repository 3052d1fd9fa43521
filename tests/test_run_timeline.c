/* report.timeline (sim/run_timeline.c): one iteration of a config simulated record by record. The
 * waveform lists every record the iteration emits, in order, and ends at the sum of the cycles
 * the pricing gives those records, so the picture and the ledger agree. */
#define _DEFAULT_SOURCE   /* mkdtemp */
#include "cunit_main.h"
#include "testutil.h"

#include <math.h>
#include <string.h>

#include "config.h"
#include "energy_only.h"
#include "hw.h"
#include "net.h"
#include "optim.h"
#include "run_timeline.h"
#include "train.h"

static struct e2_config *make_config(const char *method)
{
    const char *sets[] = {
        "name=tl", "network.depth=8", "network.width=4", "dataset.name=synthetic",
        "dataset.synthetic_size=12", "dataset.synthetic_channels=3", "dataset.synthetic_classes=4",
        "training.batch_size=8", "training.iterations=4", "training.mode=energy-only", method,
    };
    struct e2_config *cfg = calloc(1, sizeof *cfg);
    CU_ASSERT_FATAL(cfg != NULL);
    struct e2_err err = {""};
    cfg_defaults(cfg);
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        CU_ASSERT_EQUAL_FATAL(cfg_set(cfg, sets[i], &err), E2_OK);
    return cfg;
}

struct records {
    struct oprec v[1024];
    int n;
};

static void keep(void *ctx, const struct oprec *r)
{
    struct records *l = ctx;
    if (l->n < 1024)
        l->v[l->n++] = *r;
}

static void check_method(const char *method)
{
    struct e2_config *cfg = make_config(method);
    struct e2_err err = {""};
    struct hw_model *m = NULL;
    char msg[256];
    CU_ASSERT_FATAL(hw_create(&cfg->hw, &m, msg, sizeof msg) == 0);
    CU_ASSERT_EQUAL_FATAL(timeline_write_iteration(cfg, m, tmpdir, &err), E2_OK);

    /* the same iteration's records, and their cycles as the pricing counts them */
    struct net *net = NULL;
    CU_ASSERT_EQUAL_FATAL(energy_only_net(cfg, 0, &net, &err), E2_OK);
    struct optim_config oc = {train_rule(&cfg->training), 0.9f, 1e-4f};
    struct records *l = calloc(1, sizeof *l);
    struct op_sink sink = {keep, l};
    CU_ASSERT_EQUAL_FATAL(net_emit_iteration(net, 8, NULL, 0.0f, &oc, &sink), 0);
    CU_ASSERT_FATAL(l->n > 20 && l->n < 1024);
    uint64_t cycles = 0;
    for (int i = 0; i < l->n; i++) {
        uint64_t c = 0;
        struct oprec r = l->v[i];
        r.psg_full_q16 = 0;   /* the timeline draws PSG's predictor pass only */
        CU_ASSERT_FATAL(hw_op_cost(m, &r, &c, NULL, msg, sizeof msg) == 0);
        cycles += c;
    }

    char path[512];
    path_of(path, sizeof path, "timeline.vcd");
    char *s = read_text(path);
    CU_ASSERT_FATAL(s != NULL);
    char line[64];
    CU_ASSERT(strstr(s, "  0 b0.u0.conv fwd\n") != NULL);
    snprintf(line, sizeof line, "\n  %d ", l->n - 1);   /* the last record is listed... */
    CU_ASSERT(strstr(s, line) != NULL);
    snprintf(line, sizeof line, "\n  %d ", l->n);       /* ...and no other */
    CU_ASSERT(strstr(s, line) == NULL);
    long long last = -1;
    for (char *p = strstr(s, "$enddefinitions"); p && (p = strchr(p, '\n')); p++)
        if (p[1] == '#')
            last = atoll(p + 2);
    CU_ASSERT_EQUAL(last, llround((double)cycles * 1e6 / cfg->hw.pl_clock_mhz));
    free(s);
    path_of(path, sizeof path, "timeline.json");
    s = read_text(path);
    CU_ASSERT_FATAL(s != NULL);
    CU_ASSERT(strstr(s, "\"b0.u0.conv fwd\"") != NULL);
    free(s);
    free(l);
    net_free(net);
    hw_free(m);
    free(cfg);
}

static void test_fixed_iteration(void)
{
    check_method("training.method=[fixed]");
}

static void test_e2train_iteration(void)
{
    check_method("training.method=[smd, slu, psg, swa]");
}

int main(void)
{
    CU_TestInfo tests[] = {
        { "fixed point: every record, and the priced cycles", test_fixed_iteration },
        { "E2-Train (gates on the A9, PSG predictor)", test_e2train_iteration },
        CU_TEST_INFO_NULL,
    };
    if (tmpdir_create("run_timeline") != 0)
        return 1;
    int failed = cunit_run("run_timeline", NULL, NULL, tests);
    tmpdir_remove();
    return failed ? 1 : 0;
}
