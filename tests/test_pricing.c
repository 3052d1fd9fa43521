/* The pricing object: records through its sink reach the run's ledger exactly as pricing them
 * one by one would, the trace gets the flushed (record, repeat) entries and marks, and a
 * checkpoint's save and restore give a fresh object the same ledger. */
#include "cunit_main.h"
#include "testutil.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "config.h"
#include "dataset.h"
#include "hw.h"
#include "net.h"
#include "optim.h"
#include "pricing.h"
#include "trace.h"
#include "train.h"

static struct e2_config cfg;

/* One iteration's records of a small float ResNet-8, as the kernels emit them. */
static struct oprec recs[512];
static int nrecs;

static void keep(void *ctx, const struct oprec *r)
{
    (void)ctx;
    if (nrecs < (int)(sizeof recs / sizeof recs[0]))
        recs[nrecs++] = *r;
}

static int setup(void)
{
    cfg_defaults(&cfg);
    struct net *net = NULL;
    struct net_precision fp = net_precision_float();
    struct optim_config sgd = {.rule = OPTIM_SGD, .momentum = 0.9f, .weight_decay = 1e-4f};
    struct op_sink sink = {keep, NULL};
    int ok = net_create(NET_RESNET, 8, 4, 1, 12, 12, 10, NET_DEFAULT, &fp, 1, &net) == 0 &&
             net_emit_iteration(net, 4, NULL, 0.0f, &sgd, &sink) == 0 && nrecs > 20 &&
             nrecs < (int)(sizeof recs / sizeof recs[0]);
    net_free(net);
    return ok ? tmpdir_create("pricing") : -1;
}

/* The iteration's records through the object's sink, each `times` times. */
static void emit_some(struct pricing *p, int times)
{
    const struct op_sink *sink = pricing_sink(p);
    for (int k = 0; k < times; k++)
        for (int i = 0; i < nrecs; i++)
            sink->emit(sink->ctx, &recs[i]);
}

static void test_ledger_totals(void)
{
    struct e2_err err = {""};
    struct pricing p;
    CU_ASSERT_EQUAL_FATAL(pricing_open(&p, &cfg.hw, 1, NULL, &err), E2_OK);
    emit_some(&p, 3);
    CU_ASSERT(pricing_run_fj(&p) == 0);   /* nothing is priced before the flush */
    CU_ASSERT_EQUAL(pricing_flush(&p, &err), E2_OK);
    CU_ASSERT_EQUAL(hw_ledger_records(p.run, NULL), 3 * (uint64_t)nrecs);
    CU_ASSERT_EQUAL(hw_ledger_records(p.baseline, NULL), 0);

    /* the same records priced one execution at a time */
    struct hw_ledger *one = hw_ledger_new();
    char msg[256];
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < nrecs; i++)
            CU_ASSERT_EQUAL(hw_account(p.model, one, &recs[i], 1, msg, sizeof msg), 0);
    CU_ASSERT(pricing_run_fj(&p) > 0);
    CU_ASSERT(pricing_run_fj(&p) == hw_ledger_fj(one, NULL));
    CU_ASSERT_EQUAL(hw_ledger_cycles(p.run, NULL), hw_ledger_cycles(one, NULL));
    hw_ledger_free(one);
    pricing_close(&p);
}

static void test_unpriced_counts(void)
{
    struct e2_err err = {""};
    struct pricing p;
    CU_ASSERT_EQUAL_FATAL(pricing_open(&p, NULL, 0, NULL, &err), E2_OK);
    emit_some(&p, 2);
    CU_ASSERT_EQUAL(pricing_flush(&p, &err), E2_OK);
    CU_ASSERT_EQUAL(energy_total_records(&p.acc), 2 * (uint64_t)nrecs);
    CU_ASSERT(energy_distinct(&p.acc) > 0 && energy_distinct(&p.acc) <= nrecs);
    CU_ASSERT(pricing_run_fj(&p) == 0);
    struct train_observer o = pricing_observer(&p);
    CU_ASSERT_PTR_NULL(o.energy);          /* the loop shows no joules */
    CU_ASSERT_PTR_NOT_NULL(o.save);
    pricing_close(&p);
}

static void test_trace_written(void)
{
    struct e2_err err = {""};
    char path[300];
    path_of(path, sizeof path, "run.e2t");
    struct trace_header h = {.config_text = "name: t\n"};
    h.config_hash = trace_config_hash(h.config_text);

    struct pricing p;
    CU_ASSERT_EQUAL_FATAL(pricing_open(&p, &cfg.hw, 1, NULL, &err), E2_OK);
    CU_ASSERT_EQUAL_FATAL(pricing_trace_create(&p, path, &h, &err), E2_OK);
    emit_some(&p, 2);
    struct train_observer o = pricing_observer(&p);
    e2_fj fj = 0;
    CU_ASSERT_EQUAL(o.energy(o.ctx, &fj, &err), E2_OK);   /* flushes into ledger and trace */
    CU_ASSERT(fj == pricing_run_fj(&p) && fj > 0);
    struct train_point pt = {.iteration = 1, .energy_fj = fj, .train_loss = 2.0, .top1 = 0.5};
    o.on_point(o.ctx, &pt);
    struct trace_writer *t = pricing_trace_take(&p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_PTR_NULL(p.trace);
    CU_ASSERT_EQUAL(trace_finish(t, NULL, &err), E2_OK);
    pricing_close(&p);

    struct trace_reader *r;
    CU_ASSERT_EQUAL_FATAL(trace_open(path, &r, &err), E2_OK);
    struct trace_entry e;
    uint64_t ops = 0;
    int marks = 0;
    while (trace_next(r, &e, &err) == E2_OK && e.type != TRACE_END) {
        if (e.type == TRACE_OP && e.stream == TRACE_RUN)
            ops += e.repeat;
        marks += e.type == TRACE_MARK;
    }
    CU_ASSERT_EQUAL(ops, 2 * (uint64_t)nrecs);
    CU_ASSERT_EQUAL(marks, 1);
    CU_ASSERT(trace_reader_distinct(r, TRACE_RUN) > 0);
    trace_close(r);
}

static void test_save_restore(void)
{
    struct e2_err err = {""};
    struct pricing a, b;
    CU_ASSERT_EQUAL_FATAL(pricing_open(&a, &cfg.hw, 1, NULL, &err), E2_OK);
    CU_ASSERT_EQUAL_FATAL(pricing_open(&b, &cfg.hw, 1, NULL, &err), E2_OK);
    emit_some(&a, 2);
    struct ckpt c;
    ckpt_init(&c);
    CU_ASSERT_EQUAL_FATAL(pricing_save(&a, &c, &err), E2_OK);   /* flushes first */
    CU_ASSERT(pricing_run_fj(&a) > 0);
    CU_ASSERT_EQUAL_FATAL(pricing_restore(&b, &c, "x.e2ck", &err), E2_OK);
    CU_ASSERT(pricing_run_fj(&b) == pricing_run_fj(&a));   /* re-priced at once */
    CU_ASSERT_EQUAL(energy_total_records(&b.acc), 2 * (uint64_t)nrecs);
    /* going on after the restore adds to the restored ledger as to the uninterrupted one */
    emit_some(&a, 1);
    emit_some(&b, 1);
    CU_ASSERT_EQUAL(pricing_flush(&a, &err), E2_OK);
    CU_ASSERT_EQUAL(pricing_flush(&b, &err), E2_OK);
    CU_ASSERT(pricing_run_fj(&b) == pricing_run_fj(&a));
    ckpt_free(&c);
    pricing_close(&a);
    pricing_close(&b);
}

static void test_bad_hardware(void)
{
    struct e2_err err = {""};
    struct e2_config bad;
    cfg_defaults(&bad);
    bad.hw.pl_clock_mhz = 0;
    struct pricing p;
    CU_ASSERT_EQUAL(pricing_open(&p, &bad.hw, 1, "hw.yaml", &err), E2_BAD_INPUT);
    CU_ASSERT(strncmp(err.msg, "hw.yaml: hardware: ", 19) == 0);
    pricing_close(&p);
}

/* The float32 baseline of a tiny ResNet-8 at batch 16 for `iterations`, on hardware hw. */
static int price_baseline(const struct hw_params *hw, uint64_t iterations, const char *length,
                          struct e2_err *err)
{
    struct pricing p;
    struct net *fp32 = NULL;
    struct net_precision fp = net_precision_float();
    int rc = pricing_open(&p, hw, 1, NULL, err);
    if (rc == E2_OK && net_create(NET_RESNET, 8, 4, 1, 12, 12, 10, NET_DEFAULT, &fp, 1, &fp32))
        rc = E2_FAILURE;
    if (rc == E2_OK)
        rc = pricing_price_baseline(&p, fp32, 16, iterations, 0, length, err);
    net_free(fp32);
    pricing_close(&p);
    return rc;
}

/* A run whose counts would pass 2^64 was refused as "hardware model: ... would pass 2^64",
 * naming neither the config nor the keys that make it that long; it now starts with them. A
 * hardware config that cannot run an op is still the hardware model's message. */
static void test_too_long_names_keys(void)
{
    struct e2_err err = {""};
    struct e2_config *c = calloc(1, sizeof *c);
    CU_ASSERT_FATAL(c != NULL);
    cfg_defaults(c);
    snprintf(c->source, sizeof c->source, "long.yaml");
    CU_ASSERT_EQUAL(cfg_set(c, "training.iterations=1000", &err), E2_OK);
    char length[CFG_STR + 96];
    train_length_text(c, length, sizeof length);
    CU_ASSERT_STRING_EQUAL(length, "long.yaml: training.iterations = 1000 with "
                                   "training.batch_size = 128");
    CU_ASSERT_EQUAL(price_baseline(&c->hw, (uint64_t)1 << 50, length, &err), E2_BAD_INPUT);
    CU_ASSERT(strncmp(err.msg, "long.yaml: training.iterations = 1000 with training.batch_size "
                      "= 128: the run is too long to count: float32 baseline: op record ", 128) == 0 &&
              strstr(err.msg, "would pass 2^64"));
    CU_ASSERT_EQUAL(cfg_set(c, "training.epochs=2.5", &err), E2_OK);
    train_length_text(c, length, sizeof length);
    CU_ASSERT_STRING_EQUAL(length, "long.yaml: training.epochs = 2.5 with training.batch_size = 128");
    c->hw.bram_budget_kbit = 36;   /* too small for its ops: the hardware's fault, said so */
    CU_ASSERT_EQUAL(price_baseline(&c->hw, 1000, length, &err), E2_BAD_INPUT);
    CU_ASSERT(strncmp(err.msg, "float32 baseline: hardware model: op record ", 44) == 0 &&
              strstr(err.msg, "bytes of BRAM"));
    free(c);
}

/* Through the loop: a float32 SMB run of k iterations priced through the accumulator equals
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
    CU_ASSERT_EQUAL_FATAL(net_create(NET_RESNET, 8, 4, 1, 12, 12, 10, NET_DEFAULT, &fp, 1, &fp32), 0);
    CU_ASSERT_EQUAL(pricing_price_baseline(&pr, fp32, 16, 6, 0, NULL, &err), E2_OK);
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
        { "records through the sink price like one by one", test_ledger_totals },
        { "unpriced: counts only, no energy for the loop", test_unpriced_counts },
        { "the trace gets the flushed entries and the marks", test_trace_written },
        { "checkpoint save and restore round trip", test_save_restore },
        { "a hardware config the model refuses", test_bad_hardware },
        { "fp32 SMB run priced equals the fp32 baseline", test_hw_run_equals_baseline },
        { "a run too long to count names its file and keys", test_too_long_names_keys },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("pricing", setup, tmpdir_remove, tests);
}
