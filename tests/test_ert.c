/* Accelergy ERT exchange (sim/io/ert.c): a board's energy table exported and read back prices
 * every action to the same fJ, the config key energy.ert reads it, bad ERTs are errors that name
 * the file (and line and column). */
#include "cunit_main.h"
#include "testutil.h"

#include "ert.h"
#include "test_hw_board.h"
#include "test_hw_params.h"
#include <unistd.h>

static const char *const boards[] = {"configs/hw/zynq7020.yaml", "configs/hw/zcu102.yaml",
                                     "configs/hw/kv260.yaml", "configs/hw/test-energy.yaml"};

static void write_ert(const char *path, const struct hw_params *hw)
{
    FILE *f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    ert_write(f, hw, "test.board");
    CU_ASSERT_FATAL(fclose(f) == 0);
}

/* Every action of a conv, a memory-bound relu and a backward-weight conv in a ledger. */
static struct hw_ledger *price(const struct hw_params *p)
{
    struct hw_model *m = hwt_model_from(p);
    CU_ASSERT_FATAL(m != NULL);
    struct hw_ledger *l = hw_ledger_new();
    struct oprec recs[] = {
        hwt_conv(OP_PHASE_FWD, 2, 64, 64, 32, 3, 1, 8, 8, 8),
        hwt_conv(OP_PHASE_BWD_WEIGHT, 2, 32, 32, 16, 3, 1, 32, 32, 32),
        hwt_elt(OP_RELU, OP_PHASE_FWD, 4, 64, 32, 16, 0, 16),
    };
    char err[256];
    for (size_t i = 0; i < sizeof recs / sizeof *recs; i++)
        CU_ASSERT_FATAL(hw_account(m, l, &recs[i], 1, err, sizeof err) == 0);
    hw_free(m);
    return l;
}

static void test_round_trip(void)
{
    char path[] = "/tmp/e2sim-ert-XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    for (size_t b = 0; b < sizeof boards / sizeof *boards; b++) {
        struct hw_params p, q;
        CU_ASSERT_FATAL(hwt_board(&p, boards[b]) == E2_OK);
        write_ert(path, &p);
        /* start from a table with every energy wrong: the ERT must set them all */
        q = p;
        memset(&q.energy, 0x7f, sizeof q.energy);
        q.energy.ddr.vdd = p.energy.ddr.vdd;   /* supplies stay the hardware's */
        q.energy.ddr.vpp = p.energy.ddr.vpp;
        struct e2_err err = {""};
        int rc = ert_read(path, &q, &err);
        if (rc)
            fprintf(stderr, "\n%s\n", err.msg);
        CU_ASSERT_FATAL(rc == E2_OK);
        struct hw_ledger *a = price(&p), *c = price(&q);
        struct hw_row ra[256], rc2[256];
        size_t na = hw_ledger_rows(a, NULL, ra, 256), nc = hw_ledger_rows(c, NULL, rc2, 256);
        CU_ASSERT_EQUAL(na, nc);
        CU_ASSERT(na > 10);
        for (size_t i = 0; i < na && i < nc; i++) {
            CU_ASSERT_STRING_EQUAL(ra[i].action, rc2[i].action);
            CU_ASSERT_EQUAL(ra[i].count, rc2[i].count);
            if (ra[i].fj_per_action != rc2[i].fj_per_action)
                fprintf(stderr, "\n%s: %s %s %lld vs %lld fJ\n", boards[b], ra[i].component_name,
                        ra[i].action, (long long)ra[i].fj_per_action, (long long)rc2[i].fj_per_action);
            CU_ASSERT_EQUAL(ra[i].fj_per_action, rc2[i].fj_per_action);
        }
        CU_ASSERT(hw_ledger_fj(a, NULL) == hw_ledger_fj(c, NULL));
        hw_ledger_free(a);
        hw_ledger_free(c);
    }
    unlink(path);
}

/* energy.ert in a config: the loaded table is the ERT's, not the file's energy: values. */
static void test_config_key(void)
{
    char path[] = "/tmp/e2sim-ert-XXXXXX", set[300];
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    struct hw_params p;
    CU_ASSERT_FATAL(hwt_board(&p, "configs/hw/zcu102.yaml") == E2_OK);
    write_ert(path, &p);
    snprintf(set, sizeof set, "energy.ert=%s", path);
    const char *sets[] = {set, "energy.bram_read_pj=99"};   /* the ERT replaces it */
    struct e2_config *cfg = calloc(1, sizeof *cfg);
    struct e2_err err = {""};
    int rc = cfg_load_scoped(E2SIM_SOURCE_DIR "/configs/hw/zcu102.yaml", sets, 2, CFG_SCOPE_HW,
                             cfg, &err);
    if (rc)
        fprintf(stderr, "\n%s\n", err.msg);
    CU_ASSERT_FATAL(rc == E2_OK);
    CU_ASSERT_DOUBLE_EQUAL(cfg->hw.energy.bram_read_pj, 9.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(cfg->hw.energy.ddr.idd4r_ma, 223.0, 1e-9);
    free(cfg);
    unlink(path);
}

static int read_ert_text(const char *text, struct e2_err *err)
{
    char path[] = "/tmp/e2sim-ert-XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    struct hw_params p = hw_params_defaults();
    int rc = ert_read(path, &p, err);
    unlink(path);
    return rc;
}

static void test_bad_erts(void)
{
    struct e2_err err = {""};
    CU_ASSERT_EQUAL(read_ert_text("ERT: [1, 2\n", &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, ":2:"));   /* line of the problem */
    CU_ASSERT_EQUAL(read_ert_text("tables: []\n", &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "not an Accelergy ERT"));
    CU_ASSERT_EQUAL(read_ert_text("ERT:\n  version: 0.3\n  tables:\n  - name: x.dsp\n    actions:\n"
                              "    - name: mac_base\n      energy: 1\n", &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "mac_full_product"));
    CU_ASSERT_EQUAL(read_ert_text("ERT:\n  tables:\n  - name: x.dsp\n    actions:\n"
                              "    - name: mac_base\n      energy: lots\n", &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, ":6:15: energy 'lots'"));
    /* an empty energy is not 0 (strtod reads "" as 0) */
    CU_ASSERT_EQUAL(read_ert_text("ERT:\n  tables:\n  - name: x.dsp\n    actions:\n"
                              "    - name: mac_base\n      energy:\n", &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, ":6:14: energy '' is not a number"));
}

/* The ERT is read like a config, with bounded nesting: libyaml's own loader took 75 s on a
 * 200 KB file of "[" and grows with the square of the depth. 5000 levels are refused at once,
 * at the level past the bound. */
static void test_deep_ert_refused(void)
{
    char text[5001];
    memset(text, '[', sizeof text - 1);
    text[sizeof text - 1] = 0;
    struct e2_err err = {""};
    CU_ASSERT_EQUAL(read_ert_text(text, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, ":1:65: mappings and lists nest deeper than 64 levels"));
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"export then import prices every action the same", test_round_trip},
        {"energy.ert reads the table in a config", test_config_key},
        {"bad ERTs are errors naming the place", test_bad_erts},
        {"a deeply nested ERT is refused at once", test_deep_ert_refused},
        CU_TEST_INFO_NULL,
    };
    return cunit_run("ert", NULL, NULL, tests);
}
