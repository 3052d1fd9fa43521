/* Tests of the energy-only mode (sim/run/energy_only.c): SMD's processed-minibatch rule, the
 * per-block mixture behind SLU and stochastic-depth statistics, exact halving of the energy at
 * p = 0.5, equality with the records (and the priced energy) of a real training run of the same
 * counts, the float32 baseline stream, SWA counts, and the report fields. ResNet-8/14 on small
 * synthetic shapes keep it fast. */
#include "cunit_main.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "energy.h"
#include "energy_only.h"
#include "pricing.h"
#include "hw.h"
#include "net.h"
#include "report.h"
#include "train.h"

/* A config from --set style assignments over the defaults (synthetic 3x12x12, 4 classes). */
static struct e2_config *make_config(const char *const *sets, int n)
{
    static const char *const base[] = {
        "name=eo", "seed=3", "network.depth=8", "network.width=4",
        "dataset.name=synthetic", "dataset.synthetic_train=256", "dataset.synthetic_test=64",
        "dataset.synthetic_size=12", "dataset.synthetic_channels=3",
        "dataset.synthetic_classes=4", "training.batch_size=16", "training.iterations=20",
        "training.eval_every=0", "training.checkpoint_every=0", "report.progress=off",
        "training.mode=energy-only", "training.method=[fp32]",
    };
    struct e2_config *cfg = calloc(1, sizeof *cfg);
    CU_ASSERT_FATAL(cfg != NULL);
    struct e2_err err = {""};
    cfg_defaults(cfg);
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
        CU_ASSERT_EQUAL_FATAL(cfg_set(cfg, base[i], &err), E2_OK);
    for (int i = 0; i < n; i++) {
        int rc = cfg_set(cfg, sets[i], &err);
        if (rc != E2_OK)
            printf("\n  %s\n", err.msg);
        CU_ASSERT_EQUAL_FATAL(rc, E2_OK);
    }
    return cfg;
}

static int build(const struct e2_config *cfg, struct energy_only_stream *s)
{
    struct e2_err err = {""};
    int rc = energy_only_build(cfg, s, &err);
    if (rc != E2_OK)
        printf("\n  %s\n", err.msg);
    return rc;
}

/* Price a counting accumulator's records with their totals. */
static e2_fj price(struct hw_model *m, const struct energy_acc *a, int dynamic_only)
{
    struct hw_ledger *l = hw_ledger_new();
    char msg[256];
    for (int i = 0; i < a->n; i++)
        CU_ASSERT_EQUAL(hw_account(m, l, &a->e[i].r, a->e[i].total, msg, sizeof msg), 0);
    struct hw_filter f = hw_filter_all();
    if (dynamic_only)
        f.dynamic = 1;
    e2_fj e = hw_ledger_fj(l, &f);
    hw_ledger_free(l);
    return e;
}

static struct hw_model *model_of(const struct e2_config *cfg)
{
    struct hw_model *m = NULL;
    char msg[256];
    CU_ASSERT_EQUAL_FATAL(hw_create(&cfg->hw, &m, msg, sizeof msg), 0);
    return m;
}

/* ---------------------------------------------------------------- SMD ------------------- */

static void test_processed_rule(void)
{
    CU_ASSERT_EQUAL(energy_only_processed(64000, 0.5), 32000);
    CU_ASSERT_EQUAL(energy_only_processed(64000, 0.33), 42880);
    CU_ASSERT_EQUAL(energy_only_processed(64000, 0.0), 64000);
    CU_ASSERT_EQUAL(energy_only_processed(3, 0.5), 2);      /* 1.5: halves round up */
    CU_ASSERT_EQUAL(energy_only_processed(5, 0.3), 4);      /* 3.5 */
    CU_ASSERT_EQUAL(energy_only_processed(10, 0.34), 7);    /* 6.6 */
    CU_ASSERT_EQUAL(energy_only_processed(10, 0.36), 6);    /* 6.4 */
    CU_ASSERT_EQUAL(energy_only_processed(7, 1.0), 0);
}

/* ---------------------------------------------------------------- mixtures -------------- */

static void test_mixture(void)
{
    /* block 1: 3 samples in half the iterations, 4 in the rest; block 2: a quarter; block 3:
     * always 10; block 4: 0 samples (whole minibatch dropped) in three quarters */
    double frac[5] = {0, 0.5, 0.25, 0, 0.75};
    int lo[5] = {0, 3, 4, 10, 0}, hi[5] = {0, 4, 5, 10, 10};
    struct energy_only_plan plan;
    memset(&plan, 0, sizeof plan);
    CU_ASSERT_EQUAL_FATAL(energy_only_mixture(5, 10, 400, frac, lo, hi, &plan), 0);
    CU_ASSERT_EQUAL(plan.nkinds, 4);    /* cuts at 0, 0.25, 0.5, 0.75 */
    uint64_t total = 0;
    double mean[5] = {0};
    for (int k = 0; k < plan.nkinds; k++) {
        CU_ASSERT_EQUAL(plan.kinds[k].count, 100);
        CU_ASSERT_EQUAL(plan.kinds[k].active[0], 10);
        total += plan.kinds[k].count;
        for (int b = 1; b < 5; b++)
            mean[b] += (double)plan.kinds[k].count * plan.kinds[k].active[b] / 400.0;
    }
    CU_ASSERT_EQUAL(total, 400);
    CU_ASSERT_DOUBLE_EQUAL(mean[1], 3.5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(mean[2], 4.75, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(mean[3], 10, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(mean[4], 2.5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(plan.block_skip[0], 0.65, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(plan.block_skip[3], 0.75, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(plan.skip_ratio, (0.65 + 0.525 + 0 + 0.75) / 4, 1e-12);
    energy_only_plan_free(&plan);

    /* counts that do not divide: largest remainders, still summing to processed */
    CU_ASSERT_EQUAL_FATAL(energy_only_mixture(5, 10, 7, frac, lo, hi, &plan), 0);
    total = 0;
    for (int k = 0; k < plan.nkinds; k++)
        total += plan.kinds[k].count;
    CU_ASSERT_EQUAL(total, 7);
    CU_ASSERT(fabs(plan.block_skip[0] - 0.65) <= 0.1 / 7 + 1e-12);
    energy_only_plan_free(&plan);
}

static void test_slu_per_block(void)
{
    struct e2_config *cfg = make_config(
        (const char *[]){"network.depth=14", "training.method=[slu, fixed]"}, 2);
    struct e2_err err = {""};
    struct net *net = NULL;
    CU_ASSERT_EQUAL_FATAL(energy_only_net(cfg, 0, &net, &err), E2_OK);
    int blocks = net_blocks(net);
    CU_ASSERT_EQUAL_FATAL(blocks, 6);   /* ResNet-14: 6 residual blocks, 5 gated */
    CU_ASSERT_EQUAL(cfg_set(cfg, "training.energy_only.slu_skip=[0.1, 0.2, 0.3, 0.45, 0.55]",
                            &err), E2_OK);
    struct energy_only_plan plan;
    CU_ASSERT_EQUAL_FATAL(energy_only_plan_make(cfg, net, &plan, &err), E2_OK);
    static const double want[5] = {0.1, 0.2, 0.3, 0.45, 0.55};
    for (int b = 0; b < 5; b++)
        CU_ASSERT_DOUBLE_EQUAL(plan.block_skip[b], want[b], 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(plan.skip_ratio, 0.32, 1e-12);
    /* 16 x 0.45 = 7.2 skipped: 8 in a fifth of the iterations, 7 in the rest */
    for (int k = 0; k < plan.nkinds; k++) {
        CU_ASSERT_EQUAL(plan.kinds[k].active[0], 16);
        CU_ASSERT(plan.kinds[k].active[4] == 8 || plan.kinds[k].active[4] == 9);
    }
    energy_only_plan_free(&plan);
    /* one ratio for all */
    CU_ASSERT_EQUAL(cfg_set(cfg, "training.energy_only.slu_skip=[0.25]", &err), E2_OK);
    CU_ASSERT_EQUAL_FATAL(energy_only_plan_make(cfg, net, &plan, &err), E2_OK);
    CU_ASSERT_EQUAL(plan.nkinds, 1);
    for (int b = 1; b < 6; b++)
        CU_ASSERT_EQUAL(plan.kinds[0].active[b], 12);
    energy_only_plan_free(&plan);
    /* a list of the wrong length names the key and the gated blocks */
    CU_ASSERT_EQUAL(cfg_set(cfg, "training.energy_only.slu_skip=[0.1, 0.2]", &err), E2_OK);
    CU_ASSERT_EQUAL(energy_only_plan_make(cfg, net, &plan, &err), E2_BAD_INPUT);
    CU_ASSERT(strstr(err.msg, "slu_skip has 2 values") && strstr(err.msg, "5 gated blocks"));
    net_free(net);
    free(cfg);
}

static void test_stochastic_depth(void)
{
    struct e2_config *cfg = make_config(
        (const char *[]){"network.depth=14", "training.method=[fp32, sd]",
                         "training.sd.skip_ratio=0.3", "training.iterations=1000"}, 4);
    struct e2_err err = {""};
    struct net *net = NULL;
    CU_ASSERT_EQUAL_FATAL(energy_only_net(cfg, 0, &net, &err), E2_OK);
    struct energy_only_plan plan;
    CU_ASSERT_EQUAL_FATAL(energy_only_plan_make(cfg, net, &plan, &err), E2_OK);
    float survival[6];
    sd_survival(6, 0.3, survival);
    for (int b = 1; b < 6; b++)
        CU_ASSERT(fabs(plan.block_skip[b - 1] - (1.0 - survival[b])) <= 1.0 / 1000 + 1e-6);
    /* whole minibatches: a block runs on all samples or none */
    for (int k = 0; k < plan.nkinds; k++)
        for (int b = 1; b < 6; b++)
            CU_ASSERT(plan.kinds[k].active[b] == 0 || plan.kinds[k].active[b] == 16);
    CU_ASSERT(fabs(plan.skip_ratio - 0.3) < 2e-3);
    energy_only_plan_free(&plan);
    net_free(net);
    free(cfg);
}

/* ---------------------------------------------------------------- energy ---------------- */

static void test_smd_halves_energy(void)
{
    struct e2_config *full = make_config(
        (const char *[]){"training.method=[psg]", "training.iterations=200"}, 2);
    struct e2_config *half = make_config(
        (const char *[]){"training.method=[smd, psg]", "training.smd.p=0.5",
                         "training.iterations=200"}, 3);
    struct energy_only_stream a, b;
    CU_ASSERT_EQUAL_FATAL(build(full, &a), E2_OK);
    CU_ASSERT_EQUAL_FATAL(build(half, &b), E2_OK);
    CU_ASSERT_EQUAL(b.plan.processed, 100);
    CU_ASSERT_EQUAL(a.run.n, b.run.n);
    for (int i = 0; i < a.run.n && i < b.run.n; i++) {
        CU_ASSERT(oprec_equal(&a.run.e[i].r, &b.run.e[i].r));
        CU_ASSERT_EQUAL(a.run.e[i].total, 2 * b.run.e[i].total);
    }
    struct hw_model *m = model_of(full);
    e2_fj ea = price(m, &a.run, 1), eb = price(m, &b.run, 1);
    CU_ASSERT(eb > 0);
    CU_ASSERT(ea == 2 * eb);   /* exactly: integer femtojoules per record and repeat */
    /* the baselines are the same float32 SMB schedule */
    CU_ASSERT(price(m, &a.baseline, 0) == price(m, &b.baseline, 0));
    hw_free(m);
    energy_only_stream_free(&a);
    energy_only_stream_free(&b);
    free(full);
    free(half);
}

/* The op records of a real training run with the same counts, and their price. */
static void check_real_run(const char *method)
{
    char set[64];
    snprintf(set, sizeof set, "training.method=[%s]", method);
    struct e2_config *cfg = make_config((const char *[]){set, "training.iterations=3"}, 2);
    struct e2_err err = {""};
    struct dataset tr, te;
    CU_ASSERT_EQUAL_FATAL(ds_load(&cfg->dataset, 1, (uint64_t)cfg->seed, &tr, &err), E2_OK);
    CU_ASSERT_EQUAL_FATAL(ds_load(&cfg->dataset, 0, (uint64_t)cfg->seed, &te, &err), E2_OK);
    struct e2_config *train_cfg = malloc(sizeof *train_cfg);
    *train_cfg = *cfg;
    train_cfg->training.mode = CFG_MODE_TRAIN;
    struct train t;
    struct energy_acc real;
    CU_ASSERT_EQUAL_FATAL(energy_init(&real, NULL, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(train_open(&t, train_cfg, &tr, &te, &err), E2_OK);
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL_FATAL(train_step(&t, &real.sink, &err), E2_OK);
    train_close(&t);

    struct energy_only_stream s;
    CU_ASSERT_EQUAL_FATAL(build(cfg, &s), E2_OK);
    CU_ASSERT_EQUAL(s.run.n, real.n);
    int same = s.run.n == real.n;
    for (int i = 0; same && i < real.n; i++)
        same = oprec_equal(&s.run.e[i].r, &real.e[i].r) &&
               s.run.e[i].total == real.e[i].total;
    if (!same) {
        printf("\n  %s: energy-only records differ from the real run's (%d vs %d distinct)\n",
               method, s.run.n, real.n);
        for (int i = 0; i < s.run.n || i < real.n; i++) {
            const struct energy_entry *x = i < s.run.n ? &s.run.e[i] : NULL;
            const struct energy_entry *y = i < real.n ? &real.e[i] : NULL;
            if (x && y && oprec_equal(&x->r, &y->r) && x->total == y->total)
                continue;
            if (x)
                printf("   eo   %3d: layer %u kind %u phase %u tech %u n %u %ux%u bits %u %u %u %u x%llu\n", i,
                       x->r.layer, x->r.kind, x->r.phase, x->r.tech, x->r.n, x->r.cin, x->r.cout,
                       x->r.bits_a, x->r.bits_b, x->r.bits_out, x->r.bits_acc, (unsigned long long)x->total);
            if (y)
                printf("   real %3d: layer %u kind %u phase %u tech %u n %u %ux%u bits %u %u %u %u x%llu\n", i,
                       y->r.layer, y->r.kind, y->r.phase, y->r.tech, y->r.n, y->r.cin, y->r.cout,
                       y->r.bits_a, y->r.bits_b, y->r.bits_out, y->r.bits_acc, (unsigned long long)y->total);
            break;
        }
    }
    CU_ASSERT(same);
    struct hw_model *m = model_of(cfg);
    CU_ASSERT(price(m, &s.run, 0) == price(m, &real, 0));
    hw_free(m);
    energy_only_stream_free(&s);
    energy_free(&real);
    ds_free(&tr);
    ds_free(&te);
    free(train_cfg);
    free(cfg);
}

static void test_equals_real_run(void)
{
    check_real_run("fp32");
    check_real_run("fixed8");
    check_real_run("fixed");
    check_real_run("signsgd");
}

static void test_baseline_and_records(void)
{
    struct e2_config *cfg = make_config(
        (const char *[]){"network.depth=14", "training.method=[psg]", "training.iterations=50"},
        3);
    struct energy_only_stream s;
    CU_ASSERT_EQUAL_FATAL(build(cfg, &s), E2_OK);
    /* every conv but the stem has a backward-data record; forward and backward-weight for all */
    int conv_fwd = 0, conv_bwd_data = 0, conv_bwd_weight = 0;
    for (int i = 0; i < s.run.n; i++) {
        const struct oprec *r = &s.run.e[i].r;
        if (r->kind != OP_CONV)
            continue;
        conv_fwd += r->phase == OP_PHASE_FWD;
        conv_bwd_data += r->phase == OP_PHASE_BWD_DATA;
        conv_bwd_weight += r->phase == OP_PHASE_BWD_WEIGHT;
        CU_ASSERT_EQUAL(s.run.e[i].total, 50);
        if (r->phase == OP_PHASE_BWD_WEIGHT)   /* PSG: 1 - predictor ratio 0.6 */
            CU_ASSERT_EQUAL(r->psg_full_q16, 26214);
    }
    CU_ASSERT(conv_fwd >= 13);
    CU_ASSERT_EQUAL(conv_bwd_data, conv_fwd - 1);
    CU_ASSERT_EQUAL(conv_bwd_weight, conv_fwd);
    /* the baseline stream is what pricing_price_baseline prices */
    struct e2_err err = {""};
    struct net *fp32 = NULL;
    CU_ASSERT_EQUAL_FATAL(energy_only_net(cfg, 1, &fp32, &err), E2_OK);
    struct pricing p;
    CU_ASSERT_EQUAL_FATAL(pricing_open(&p, &cfg->hw, 1, NULL, &err), E2_OK);
    CU_ASSERT_EQUAL(pricing_price_baseline(&p, fp32, 16, 50, 0, NULL, &err), E2_OK);
    CU_ASSERT(hw_ledger_fj(p.baseline, NULL) == price(p.model, &s.baseline, 0));
    CU_ASSERT(hw_ledger_fj(p.baseline, NULL) > price(p.model, &s.run, 0));
    pricing_close(&p);
    net_free(fp32);
    energy_only_stream_free(&s);
    free(cfg);
}

static void test_swa_and_report(void)
{
    struct e2_config *cfg = make_config(
        (const char *[]){"training.method=[smd, slu, psg, swa]", "training.iterations=200",
                         "training.swa.start=0.75", "training.swa.every=20",
                         "training.energy_only.slu_skip=[0.5]",
                         "training.energy_only.psg_predictor_ratio=0.7"}, 6);
    struct energy_only_stream s;
    CU_ASSERT_EQUAL_FATAL(build(cfg, &s), E2_OK);
    CU_ASSERT_EQUAL(s.plan.swa_updates, 3);          /* iterations 150, 170, 190 */
    CU_ASSERT_EQUAL(s.plan.bn_recompute_batches, 16); /* 256 images / 16, at most 20 */
    CU_ASSERT_EQUAL(s.plan.processed, 100);
    int swa_updates = 0, swa_forward = 0;
    for (int i = 0; i < s.run.n; i++) {
        const struct oprec *r = &s.run.e[i].r;
        if (r->tech != OP_TECH_SWA)
            continue;
        if (r->kind == OP_UPDATE) {
            swa_updates++;
            CU_ASSERT_EQUAL(s.run.e[i].total % 3, 0);   /* gamma and beta share a record */
        } else {
            CU_ASSERT_EQUAL(r->phase, OP_PHASE_FWD);
            CU_ASSERT_EQUAL(s.run.e[i].total, 16);
            swa_forward++;
        }
    }
    CU_ASSERT(swa_updates > 0 && swa_forward > 0);
    struct run_result r;
    run_result_init(&r);
    CU_ASSERT_EQUAL(energy_only_fill_report(cfg, &s, &r), E2_OK);
    CU_ASSERT_STRING_EQUAL(r.kind, "energy-only");
    CU_ASSERT_FALSE(r.has_accuracy);
    CU_ASSERT_EQUAL(r.iterations, 200);
    CU_ASSERT_EQUAL(r.minibatches_processed, 100);
    CU_ASSERT_DOUBLE_EQUAL(r.slu_skip_ratio, 0.5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(r.psg_predictor_ratio, 0.7, 1e-12);
    CU_ASSERT_EQUAL(r.slu_block_count, 2);   /* ResNet-8: 3 blocks, 2 gated */
    CU_ASSERT_STRING_EQUAL(r.method, "smd+slu+psg+swa");
    CU_ASSERT_STRING_EQUAL(r.network, "resnet-8");
    run_result_free(&r);
    energy_only_stream_free(&s);
    free(cfg);
}

/* Fine-tuning the last layer (training.finetune_last_fc_only, no checkpoint needed here): the
 * full forward, then only the FC's weight gradient and update. */
static void test_finetune_last_fc(void)
{
    struct e2_config *cfg = make_config((const char *[]){"training.finetune_last_fc_only=true"}, 1);
    struct energy_only_stream s;
    CU_ASSERT_EQUAL_FATAL(build(cfg, &s), E2_OK);
    int fwd_conv = 0, other_backward = 0, fc_grad = 0, updates = 0, fc_updates = 0;
    int fc_layer = -1;
    for (int i = 0; i < s.run.n; i++) {
        const struct oprec *r = &s.run.e[i].r;
        fwd_conv += r->kind == OP_CONV && r->phase == OP_PHASE_FWD;
        if (r->kind == OP_FC && r->phase == OP_PHASE_BWD_WEIGHT) {
            fc_grad++;
            fc_layer = r->layer;
        } else if ((r->phase == OP_PHASE_BWD_DATA || r->phase == OP_PHASE_BWD_WEIGHT) &&
                   r->kind != OP_LOSS) {
            other_backward++;
        }
    }
    for (int i = 0; i < s.run.n; i++) {
        const struct oprec *r = &s.run.e[i].r;
        if (r->kind == OP_UPDATE || r->phase == OP_PHASE_UPDATE) {
            updates++;
            fc_updates += r->layer == fc_layer;
        }
    }
    CU_ASSERT(fwd_conv > 0);
    CU_ASSERT_EQUAL(fc_grad, 1);
    CU_ASSERT_EQUAL(other_backward, 0);
    CU_ASSERT(updates > 0 && updates == fc_updates);
    energy_only_stream_free(&s);
    /* a checkpoint to start from means nothing without training */
    CU_ASSERT_EQUAL(cfg_set(cfg, "training.finetune_from=/tmp/x.e2ck", &(struct e2_err){""}), E2_OK);
    struct e2_err err = {""};
    CU_ASSERT_EQUAL(energy_only_build(cfg, &s, &err), E2_BAD_INPUT);
    CU_ASSERT(strstr(err.msg, "finetune_from") != NULL);
    free(cfg);
}

int main(void)
{
    CU_TestInfo tests[] = {
        { "SMD: processed minibatches", test_processed_rule },
        { "per-block mixtures into iteration kinds", test_mixture },
        { "SLU skip per block -> active counts", test_slu_per_block },
        { "stochastic depth: whole-minibatch drops at 1 - survival", test_stochastic_depth },
        { "SMD p = 0.5 halves the energy exactly", test_smd_halves_energy },
        { "equals a real run's records and energy", test_equals_real_run },
        { "records present; baseline = energy_price_baseline", test_baseline_and_records },
        { "SWA counts; report fields", test_swa_and_report },
        { "fine-tuning the last FC: its gradient and update only", test_finetune_last_fc },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("energy_only", NULL, NULL, tests);
}
