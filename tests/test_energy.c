/* Energy glue: every emitted record is accounted exactly once (with its repeat count), padding
 * bytes never split identical records, checkpoints restore the counts, and the hardware ledger
 * fed through the glue equals pricing the records one by one. */
#include "cunit_main.h"
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dataset.h"
#include "energy.h"
#include "hw.h"
#include "net.h"
#include "pricing.h"
#include "train.h"

/* An account function that records what it was given. */
struct seen {
    int calls;
    uint64_t records;
    uint64_t macs;
    struct oprec last;
};

static int count_account(void *ctx, const struct oprec *r, uint64_t repeat, char *err,
                         size_t errlen)
{
    (void)err;
    (void)errlen;
    struct seen *s = ctx;
    s->calls++;
    s->records += repeat;
    s->macs += oprec_macs(r) * repeat;
    s->last = *r;
    return 0;
}

static struct oprec conv_rec(int layer, int n)
{
    struct oprec r;
    memset(&r, 0, sizeof r);
    r.layer = (uint16_t)layer;
    r.kind = OP_CONV;
    r.phase = OP_PHASE_FWD;
    r.k = 3;
    r.stride = 1;
    r.pad = 1;
    r.n = (uint32_t)n;
    r.cin = r.cout = 16;
    r.groups = 1;
    r.h_in = r.w_in = r.h_out = r.w_out = 8;
    r.bits_a = r.bits_b = 8;
    r.bits_out = 16;
    r.bits_acc = 48;
    return r;
}

static void test_counts(void)
{
    struct seen s = {0};
    struct energy_acc a;
    CU_ASSERT_EQUAL_FATAL(energy_init(&a, count_account, &s), 0);
    uint64_t emitted = 0, macs = 0;
    /* 300 "iterations" of 40 layers with a varying batch: many repeats, 40*5 distinct */
    for (int it = 0; it < 300; it++) {
        for (int l = 0; l < 40; l++) {
            struct oprec r = conv_rec(l, 100 + it % 5);
            op_emit(&a.sink, &r);
            emitted++;
            macs += oprec_macs(&r);
        }
        if (it % 50 == 49)
            energy_flush(&a, NULL);
    }
    energy_flush(&a, NULL);
    CU_ASSERT_EQUAL(a.emitted, emitted);
    CU_ASSERT_EQUAL(a.accounted, emitted);
    CU_ASSERT_EQUAL(s.records, emitted);
    CU_ASSERT_EQUAL(s.macs, macs);
    CU_ASSERT_EQUAL(energy_total_records(&a), emitted);
    CU_ASSERT_EQUAL(energy_distinct(&a), 200);
    /* far fewer pricing calls than records */
    CU_ASSERT(s.calls < (int)emitted / 5);
    /* a second flush with nothing pending prices nothing */
    int calls = s.calls;
    energy_flush(&a, NULL);
    CU_ASSERT_EQUAL(s.calls, calls);
    energy_free(&a);
}

static void test_padding_ignored(void)
{
    struct seen s = {0};
    struct energy_acc a;
    CU_ASSERT_EQUAL_FATAL(energy_init(&a, count_account, &s), 0);
    struct oprec x = conv_rec(3, 64), y;
    memset(&y, 0xa5, sizeof y);           /* garbage in the padding */
    y.layer = x.layer; y.kind = x.kind; y.phase = x.phase; y.tech = x.tech; y.k = x.k;
    y.stride = x.stride; y.pad = x.pad; y.n = x.n; y.cin = x.cin; y.cout = x.cout;
    y.groups = x.groups; y.h_in = x.h_in; y.w_in = x.w_in; y.h_out = x.h_out; y.w_out = x.w_out;
    y.bits_a = x.bits_a; y.bits_b = x.bits_b; y.bits_out = x.bits_out; y.bits_acc = x.bits_acc;
    y.msb_a = x.msb_a; y.msb_b = x.msb_b; y.psg_full_q16 = x.psg_full_q16;
    CU_ASSERT(energy_oprec_equal(&x, &y));
    op_emit(&a.sink, &x);
    op_emit(&a.sink, &y);
    CU_ASSERT_EQUAL(energy_distinct(&a), 1);
    energy_flush(&a, NULL);
    CU_ASSERT_EQUAL(s.calls, 1);
    CU_ASSERT_EQUAL(s.records, 2);
    y.psg_full_q16 = 7;                   /* a real difference is a new record */
    op_emit(&a.sink, &y);
    CU_ASSERT_EQUAL(energy_distinct(&a), 2);
    energy_free(&a);
}

static void test_save_load(void)
{
    struct seen s1 = {0}, s2 = {0};
    struct energy_acc a, b;
    CU_ASSERT_EQUAL_FATAL(energy_init(&a, count_account, &s1), 0);
    CU_ASSERT_EQUAL_FATAL(energy_init(&b, count_account, &s2), 0);
    for (int i = 0; i < 5000; i++) {
        struct oprec r = conv_rec(i % 13, 1 + i % 128);
        energy_add(&a, &r, 1 + (uint64_t)(i % 3));
    }
    energy_flush(&a, NULL);
    struct ckpt c;
    ckpt_init(&c);
    CU_ASSERT_EQUAL_FATAL(energy_save(&a, &c), 0);
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(energy_load(&b, &c, "x.e2ck", &err), E2_OK);
    energy_flush(&b, NULL);
    CU_ASSERT_EQUAL(s2.records, s1.records);
    CU_ASSERT_EQUAL(s2.macs, s1.macs);
    CU_ASSERT_EQUAL(energy_distinct(&b), energy_distinct(&a));
    /* a damaged section is refused */
    struct ckpt bad;
    ckpt_init(&bad);
    CU_ASSERT_EQUAL(ckpt_put(&bad, "energy", "abc", 3), 0);
    struct energy_acc e;
    CU_ASSERT_EQUAL_FATAL(energy_init(&e, NULL, NULL), 0);
    CU_ASSERT_EQUAL(energy_load(&e, &bad, "x.e2ck", &err), E2_BAD_INPUT);
    energy_free(&e);
    ckpt_free(&bad);
    ckpt_free(&c);
    energy_free(&a);
    energy_free(&b);
}

/* The hardware glue: a float32 SMB run of k iterations priced through the accumulator equals
 * the float32 baseline priced for k iterations, to the femtojoule and cycle, and the ledger
 * holds exactly the records the run emitted. */
static void test_hw_run_equals_baseline(void)
{
    struct e2_config cfg;
    struct e2_err err = {{0}};
    cfg_defaults(&cfg);
    const char *sets[] = {"name=t", "network.depth=8", "network.width=4",
                          "dataset.name=synthetic", "dataset.synthetic_size=12",
                          "dataset.synthetic_train=256", "dataset.synthetic_test=64",
                          "training.batch_size=16", "training.iterations=6",
                          "training.eval_every=0", "training.method=[fp32]"};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        CU_ASSERT_EQUAL(cfg_set(&cfg, sets[i], &err), E2_OK);
    struct dataset tr, te;
    CU_ASSERT_EQUAL_FATAL(ds_load(&cfg.dataset, 1, 1, &tr, &err), E2_OK);
    CU_ASSERT_EQUAL_FATAL(ds_load(&cfg.dataset, 0, 1, &te, &err), E2_OK);
    struct pricing pr;
    CU_ASSERT_EQUAL_FATAL(pricing_open(&pr, &cfg.hw, 1, NULL, &err), E2_OK);
    struct hw_ledger *run = pr.run, *base = pr.baseline;
    struct energy_acc *acc = &pr.acc;
    struct train t;
    CU_ASSERT_EQUAL_FATAL(train_open(&t, &cfg, &tr, &te, &err), E2_OK);
    struct train_observer obs = pricing_observer(&pr);
    struct train_io io = {.sink = pricing_sink(&pr), .observer = &obs};
    CU_ASSERT_EQUAL_FATAL(train_run(&t, &io, &err), E2_OK);
    CU_ASSERT_EQUAL(pricing_flush(&pr, &err), E2_OK);

    struct net *fp32;
    struct net_precision fp = net_precision_float();
    CU_ASSERT_EQUAL_FATAL(net_create(NET_RESNET, 8, 4, 1, 12, 12, 10, &fp, 1, &fp32), 0);
    CU_ASSERT_EQUAL(pricing_price_baseline(&pr, fp32, 16, 6, 0, &err), E2_OK);
    net_free(fp32);

    CU_ASSERT_EQUAL(hw_ledger_records(run, NULL), acc->emitted);
    CU_ASSERT_EQUAL(acc->accounted, acc->emitted);
    CU_ASSERT_EQUAL(hw_ledger_records(base, NULL), acc->emitted);
    CU_ASSERT(hw_ledger_fj(run, NULL) > 0);
    CU_ASSERT(hw_ledger_fj(run, NULL) == hw_ledger_fj(base, NULL));
    CU_ASSERT_EQUAL(hw_ledger_cycles(run, NULL), hw_ledger_cycles(base, NULL));
    train_close(&t);
    pricing_close(&pr);
    ds_free(&tr);
    ds_free(&te);
}

int main(void)
{
    CU_TestInfo tests[] = {
        { "records accounted equal records emitted", test_counts },
        { "padding bytes never split a record", test_padding_ignored },
        { "checkpoint restores the counts", test_save_load },
        { "fp32 SMB run priced equals the fp32 baseline", test_hw_run_equals_baseline },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("energy", NULL, NULL, tests);
}
