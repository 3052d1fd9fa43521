/* The model as a whole through its C API: models can be created many times in one process with
 * different parameters, bad parameters are refused, and ResNet-20's per-layer cycles and energy
 * match the golden file (timelines: tests/test_timeline.c). The golden table is read by the real config loader, so this test
 * links the whole program (tests/CMakeLists.txt).
 *
 * Golden file: tests/golden/resnet20_layers.csv, priced under configs/hw/test-energy.yaml.
 * After an intended change to the model, regenerate it with
 *     E2SIM_UPDATE_GOLDEN=1 ./build/tests/test_zynq7020
 * and review the diff before committing. */
#include "cunit_main.h"
#include "testutil.h"
#include <math.h>
#include <time.h>

#include "rng.h"
#include "test_hw_board.h"
#include "test_hw_params.h"

/* ---- models ---- */

static void test_many_models_one_process(void)
{
    struct hw_params p = hw_params_defaults();
    p.dataflow = HW_DATAFLOW_UNFUSED;   /* the relu below is its own memory pass */
    struct hw_model *a = hwt_model_from(&p);
    p.pl_clock_mhz = 100;
    struct hw_model *b = hwt_model_from(&p);
    CU_ASSERT_FATAL(a && b);
    char err[256];
    /* compute-bound: the same cycles, 1.5x the seconds at 100 MHz */
    struct oprec conv = hwt_conv(OP_PHASE_FWD, 8, 64, 64, 32, 3, 1, 8, 8, 8);
    struct hw_ledger *la = hw_ledger_new(), *lb = hw_ledger_new();
    CU_ASSERT_FATAL(hw_account(a, la, &conv, 1, err, sizeof err) == 0);
    CU_ASSERT_FATAL(hw_account(b, lb, &conv, 1, err, sizeof err) == 0);
    double ca = (double)hw_ledger_cycles(la, NULL), cb = (double)hw_ledger_cycles(lb, NULL);
    CU_ASSERT(cb <= ca && cb >= ca * 0.98);   /* its memory phases take fewer 100 MHz cycles */
    CU_ASSERT(hw_ledger_seconds(lb, NULL) > 1.45 * hw_ledger_seconds(la, NULL));
    /* memory-bound, 1 MiB in and 1 MiB out: at 150 MHz the DDR binds (87 % of 4,266.66 MB/s,
     * 90 % of that reached by the DMA: 94,176 cycles); at 100 MHz the four 64-bit HP ports carry only 3,200 MB/s and bind:
     * 2 MiB / 32 B per cycle = 65,536 cycles. */
    struct oprec relu = hwt_elt(OP_RELU, OP_PHASE_FWD, 16, 64, 32, 8, 0, 8);
    uint64_t ra, rb;
    CU_ASSERT_FATAL(hw_op_cost(a, &relu, &ra, NULL, err, sizeof err) == 0);
    CU_ASSERT_FATAL(hw_op_cost(b, &relu, &rb, NULL, err, sizeof err) == 0);
    CU_ASSERT(ra >= 94176 * 0.99 && ra <= 94176 * 1.01);
    CU_ASSERT(rb >= 65536 * 0.99 && rb <= 65536 * 1.01);
    /* and the first model still prices as before */
    struct hw_ledger *la2 = hw_ledger_new();
    CU_ASSERT_FATAL(hw_account(a, la2, &conv, 1, err, sizeof err) == 0);
    CU_ASSERT(hw_ledger_fj(la2, NULL) == hw_ledger_fj(la, NULL));
    hw_ledger_free(la);
    hw_ledger_free(lb);
    hw_ledger_free(la2);
    hw_free(a);
    hw_free(b);
}

static void test_bad_parameters(void)
{
    struct hw_params p;
    struct hw_model *m = NULL;
    char err[256] = "";
    p = hw_params_defaults();
    p.ddr.bus_bits = 64;
    CU_ASSERT_EQUAL(hw_create(&p, &m, err, sizeof err), 2);
    CU_ASSERT(m == NULL);
    CU_ASSERT(strstr(err, "bus_bits") != NULL);
    p = hw_params_defaults();
    p.ddr.eff_seq_read = 1.5;
    CU_ASSERT_EQUAL(hw_create(&p, &m, err, sizeof err), 2);
    CU_ASSERT(strstr(err, "efficienc") != NULL);
    p = hw_params_defaults();
    p.dsps = 4;   /* fewer than one float32 lane */
    CU_ASSERT_EQUAL(hw_create(&p, &m, err, sizeof err), 2);
    CU_ASSERT_EQUAL(hw_create(NULL, &m, err, sizeof err), 2);
}

/* ---- ResNet-20 on 32x32x3 ---- */

struct net_op {
    char name[40];
    struct oprec r;
};

struct net {
    int n;
    struct net_op op[256];
    int layer;
};

static void emit(struct net *net, const char *name, struct oprec r, int phase, int ba, int bb, int bo)
{
    struct net_op *o = &net->op[net->n++];
    snprintf(o->name, sizeof o->name, "%s", name);
    r.layer = (uint16_t)net->layer;
    r.phase = (uint8_t)phase;
    r.bits_a = (uint8_t)ba;
    r.bits_b = (uint8_t)bb;
    r.bits_out = (uint8_t)bo;
    o->r = r;
}

/* 8-bit activations and weights, 16-bit gradients. */
static void conv(struct net *net, const char *name, uint32_t n, int cin, int cout, int hw, int k,
                 int stride, int first)
{
    struct oprec r = hwt_conv(OP_PHASE_FWD, n, cin, cout, hw, k, stride, 8, 8, 8);
    emit(net, name, r, OP_PHASE_FWD, 8, 8, 8);
    if (!first)
        emit(net, name, r, OP_PHASE_BWD_DATA, 16, 8, 16);
    emit(net, name, r, OP_PHASE_BWD_WEIGHT, 8, 16, 16);
    net->layer++;
}

static void elt(struct net *net, const char *name, int kind, uint32_t n, int c, int hw)
{
    struct oprec r = hwt_elt(kind, OP_PHASE_FWD, n, c, hw, 8, 0, 8);
    if (kind == OP_POOL)
        r.h_out = r.w_out = 1;
    if (kind == OP_LOSS)
        r.h_in = r.w_in = r.h_out = r.w_out = 1;
    int fwd_a = kind == OP_LOSS ? 16 : 8;
    emit(net, name, r, OP_PHASE_FWD, fwd_a, kind == OP_ADD ? 8 : 0, kind == OP_LOSS ? 32 : 8);
    emit(net, name, r, OP_PHASE_BWD_DATA, 16, kind == OP_RELU ? 1 : kind == OP_BN ? 8 : kind == OP_ADD ? 16 : 0, 16);
    if (kind == OP_BN)
        emit(net, name, r, OP_PHASE_BWD_WEIGHT, 16, 8, 16);
    net->layer++;
}

static void resnet20(struct net *net, uint32_t n)
{
    memset(net, 0, sizeof *net);
    char name[40];
    conv(net, "conv1", n, 3, 16, 32, 3, 1, 1);
    elt(net, "bn1", OP_BN, n, 16, 32);
    elt(net, "relu1", OP_RELU, n, 16, 32);
    int cin = 16, hw = 32;
    for (int s = 0; s < 3; s++) {
        int cout = 16 << s;
        for (int b = 0; b < 3; b++) {
            int stride = (s > 0 && b == 0) ? 2 : 1, hw_out = hw / stride;
#define NAME(part) (snprintf(name, sizeof name, "s%db%d.%s", s + 1, b + 1, part), name)
            conv(net, NAME("conv_a"), n, cin, cout, hw, 3, stride, 0);
            elt(net, NAME("bn_a"), OP_BN, n, cout, hw_out);
            elt(net, NAME("relu_a"), OP_RELU, n, cout, hw_out);
            conv(net, NAME("conv_b"), n, cout, cout, hw_out, 3, 1, 0);
            elt(net, NAME("bn_b"), OP_BN, n, cout, hw_out);
            if (stride != 1 || cin != cout) {
                conv(net, NAME("shortcut"), n, cin, cout, hw, 1, stride, 0);
                elt(net, NAME("shortcut_bn"), OP_BN, n, cout, hw_out);
            }
            elt(net, NAME("add"), OP_ADD, n, cout, hw_out);
            elt(net, NAME("relu_out"), OP_RELU, n, cout, hw_out);
#undef NAME
            cin = cout;
            hw = hw_out;
        }
    }
    elt(net, "pool", OP_POOL, n, 64, 8);
    struct oprec f;
    memset(&f, 0, sizeof f);
    f.kind = OP_FC;
    f.n = n;
    f.cin = 64;
    f.cout = 10;
    f.bits_acc = 48;
    emit(net, "fc", f, OP_PHASE_FWD, 8, 8, 16);
    emit(net, "fc", f, OP_PHASE_BWD_DATA, 16, 8, 16);
    emit(net, "fc", f, OP_PHASE_BWD_WEIGHT, 8, 16, 16);
    net->layer++;
    elt(net, "loss", OP_LOSS, n, 10, 1);
}

/* The golden CSV text of ResNet-20's ops under model m. */
static char *golden_text(struct hw_model *m, const struct net *net)
{
    struct hw_ledger *l = hw_ledger_new();
    char err[256];
    for (int i = 0; i < net->n; i++)
        CU_ASSERT_FATAL(hw_account(m, l, &net->op[i].r, 1, err, sizeof err) == 0);
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    len += (size_t)snprintf(out + len, cap - len,
                            "layer,name,kind,phase,n,cycles,dynamic_fj,static_fj,total_fj\n");
    for (int i = 0; i < net->n; i++) {
        const struct oprec *r = &net->op[i].r;
        struct hw_filter f = {r->layer, r->phase, HW_ANY, HW_ANY, 1};
        char d[48], s[48], t[48];
        e2_fj dyn = hw_ledger_fj(l, &f);
        f.dynamic = 0;
        e2_fj st = hw_ledger_fj(l, &f);
        len += (size_t)snprintf(out + len, cap - len, "%d,%s,%s,%s,%u,%llu,%s,%s,%s\n", r->layer,
                                net->op[i].name, oprec_kind_name(r->kind), oprec_phase_name(r->phase), r->n,
                                (unsigned long long)hw_ledger_cycles(l, &f),
                                hw_fj_format(dyn, d, sizeof d), hw_fj_format(st, s, sizeof s),
                                hw_fj_format(dyn + st, t, sizeof t));
        CU_ASSERT_FATAL(len < cap - 256);
    }
    hw_ledger_free(l);
    return out;
}

static void test_resnet20_golden(void)
{
    struct hw_params p;
    CU_ASSERT_FATAL(hwt_board(&p, "configs/hw/test-energy.yaml") == E2_OK);
    struct hw_model *m = hwt_model_from(&p);
    CU_ASSERT_FATAL(m != NULL);
    static struct net net;
    resnet20(&net, 128);
    /* stem 3 + 7 identity blocks x 7 + 2 projection blocks x 9 + pool, fc, loss */
    CU_ASSERT_EQUAL(net.layer, 3 + 7 * 7 + 2 * 9 + 3);
    char *text = golden_text(m, &net);
    char path[1024];
    snprintf(path, sizeof path, "%s/golden/resnet20_layers.csv", E2SIM_TEST_DIR);
    const char *update = getenv("E2SIM_UPDATE_GOLDEN");
    if (update && strcmp(update, "1") == 0) {
        FILE *f = fopen(path, "wb");
        CU_ASSERT_FATAL(f != NULL);
        fputs(text, f);
        fclose(f);
        fprintf(stderr, "\nwrote %s\n", path);
    }
    char *golden = read_text(path);
    if (!golden)
        fprintf(stderr, "\n%s missing: regenerate with E2SIM_UPDATE_GOLDEN=1\n", path);
    CU_ASSERT_FATAL(golden != NULL);
    if (strcmp(golden, text) != 0) {
        /* name the first line that differs */
        const char *a = golden, *b = text;
        int line = 1;
        while (*a && *a == *b) {
            if (*a == '\n')
                line++;
            a++;
            b++;
        }
        fprintf(stderr, "\ngolden file differs at line %d (E2SIM_UPDATE_GOLDEN=1 regenerates it)\n", line);
    }
    CU_ASSERT(strcmp(golden, text) == 0);
    free(golden);
    free(text);
    hw_free(m);
}

/* Not a check: the figures reported in the hardware note (forward energy per image; pricing
 * speed with the memo warm, and with SLU-like varying sample counts). */
static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void test_figures(void)
{
    struct hw_params p = hw_params_defaults();
    struct hw_model *m = hwt_model_from(&p);
    static struct net net;
    resnet20(&net, 128);
    struct hw_ledger *l = hw_ledger_new();
    double t0 = now_s();
    for (int i = 0; i < net.n; i++)
        CU_ASSERT_FATAL(hw_account(m, l, &net.op[i].r, 1, NULL, 0) == 0);
    double cold = now_s() - t0;
    struct hw_filter f = hw_filter_all();
    f.phase = OP_PHASE_FWD;
    double fwd_j = hw_fj_to_joules(hw_ledger_fj(l, &f));
    double all_j = hw_fj_to_joules(hw_ledger_fj(l, NULL));
    f.dynamic = 1;
    double fwd_dyn_j = hw_fj_to_joules(hw_ledger_fj(l, &f));
    fprintf(stderr, "\nResNet-20, batch 128, 8/8/16-bit, zynq7020.yaml: forward %.3f mJ/image "
            "(dynamic %.3f), forward+backward %.3f mJ/image, %.2f ms/minibatch; %d records priced "
            "cold in %.3f s\n",
            fwd_j / 128 * 1e3, fwd_dyn_j / 128 * 1e3, all_j / 128 * 1e3,
            hw_ledger_seconds(l, NULL) * 1e3, net.n, cold);
    /* warm memo */
    const int reps = 2000;
    t0 = now_s();
    for (int k = 0; k < reps; k++)
        for (int i = 0; i < net.n; i++)
            hw_account(m, l, &net.op[i].r, 1, NULL, 0);
    double warm = now_s() - t0;
    /* SLU-like: every record at a varying active-sample count */
    uint64_t key = 7;
    t0 = now_s();
    int slu = 0;
    for (int k = 0; k < 200; k++)
        for (int i = 0; i < net.n; i++) {
            struct oprec r = net.op[i].r;
            r.n = 1 + (uint32_t)(rng_u64(key, (uint64_t)(k * 1000 + i)) % 128);
            hw_account(m, l, &r, 1, NULL, 0);
            slu++;
        }
    double varied = now_s() - t0;
    struct hw_stats s;
    hw_get_stats(m, &s);
    fprintf(stderr, "pricing: %.0f records/s with the memo warm; %.0f records/s with random n "
            "(%llu simulated, %llu extrapolated, %llu memo entries)\n",
            reps * net.n / warm, slu / varied, (unsigned long long)s.simulated,
            (unsigned long long)s.extrapolated, (unsigned long long)s.memo_entries);
    hw_ledger_free(l);
    hw_free(m);
}

int main(void)
{
    CU_TestInfo tests[] = {
        { "many models in one process", test_many_models_one_process },
        { "bad parameters", test_bad_parameters },
        { "ResNet-20 per-layer golden file", test_resnet20_golden },
        { "figures (printed)", test_figures },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("zynq7020", NULL, NULL, tests);
}
