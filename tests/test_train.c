/* The training loop: it learns (float and fixed point), SMD drops within binomial bounds and
 * p = 0 equals SMB exactly, a run killed with SIGKILL and resumed ends bit-identical to an
 * uninterrupted one, corrupt checkpoints are refused with the file and offset, stochastic depth
 * and SLU report skip ratios, fine-tuning the last FC leaves every other weight alone, and the
 * schedule helpers. Small synthetic data and ResNet-8 of width 4-8 keep it under ~30 s. */
#define _GNU_SOURCE   /* mkdtemp */
#include "cunit_main.h"
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pricing.h"
#include "rng.h"
#include "train.h"

static char dir[64];
static int in_child;   /* the killed child of test_kill_resume runs outside CUnit */

static int setup(void)
{
    strcpy(dir, "/tmp/e2train-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A config from --set style assignments over the defaults. */
static void make_config(struct e2_config *cfg, const char *const *sets, int n)
{
    static const char *const base[] = {
        "name=test", "seed=7", "network.depth=8", "network.width=4",
        "dataset.name=synthetic", "dataset.synthetic_train=512", "dataset.synthetic_test=256",
        "dataset.synthetic_size=12", "dataset.synthetic_classes=4", "training.batch_size=32",
        "training.iterations=24", "training.eval_every=0", "training.checkpoint_every=0",
        "training.lr=0.05", "report.progress=off", "training.method=[fp32]",
    };
    struct e2_err err = {{0}};
    cfg_defaults(cfg);
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
        if (cfg_set(cfg, base[i], &err) != E2_OK)
            fprintf(stderr, "\n  %s\n", err.msg);
    for (int i = 0; i < n; i++)
        if (cfg_set(cfg, sets[i], &err) != E2_OK)
            fprintf(stderr, "\n  %s\n", err.msg);
    int rc = cfg_resolve(cfg, &err);
    if (!in_child)
        CU_ASSERT_EQUAL(rc, E2_OK);
}

struct data {
    struct dataset train, test;
};

static int load_data(const struct e2_config *cfg, struct data *d)
{
    struct e2_err err = {{0}};
    int rc = ds_load(&cfg->dataset, 1, (uint64_t)cfg->seed, &d->train, &err);
    if (rc == E2_OK)
        rc = ds_load(&cfg->dataset, 0, (uint64_t)cfg->seed, &d->test, &err);
    if (rc != E2_OK)
        fprintf(stderr, "\n  %s\n", err.msg);
    return rc;
}

static void free_data(struct data *d)
{
    ds_free(&d->train);
    ds_free(&d->test);
}

/* Train to the end with a counting pricing object (its records in acc->acc); keeps t open for
 * inspection. */
static int train_all(struct train *t, const struct e2_config *cfg, struct data *d,
                     struct pricing *acc, const char *ckpt)
{
    struct e2_err err = {{0}};
    int rc = train_open(t, cfg, &d->train, &d->test, &err);
    if (rc == E2_OK) {
        struct train_observer obs = acc ? pricing_observer(acc) : (struct train_observer){0};
        struct train_io io = {.sink = acc ? pricing_sink(acc) : NULL,
                              .observer = acc ? &obs : NULL, .checkpoint_path = ckpt};
        rc = train_run(t, &io, &err);
    }
    if (rc != E2_OK)
        fprintf(stderr, "\n  %s\n", err.msg);
    return rc;
}

static int same_params(const struct train *a, const struct train *b)
{
    if (a->np != b->np)
        return 0;
    for (int i = 0; i < a->np; i++)
        if (a->p[i].count != b->p[i].count ||
            memcmp(a->p[i].w, b->p[i].w, (size_t)a->p[i].count * sizeof(float)) != 0)
            return 0;
    return 1;
}

/* ---------------------------------------------------------------- helpers --------------- */

static void test_helpers(void)
{
    struct e2_config cfg;
    const char *sets[] = {"training.iterations=1000", "training.lr=0.1",
                          "training.lr_step_fractions=[0.5, 0.75]"};
    make_config(&cfg, sets, 3);
    CU_ASSERT_DOUBLE_EQUAL(train_lr_at(&cfg, 1000, 0), 0.1, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(train_lr_at(&cfg, 1000, 499), 0.1, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(train_lr_at(&cfg, 1000, 500), 0.01, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(train_lr_at(&cfg, 1000, 750), 0.001, 1e-12);
    struct e2_err err;
    CU_ASSERT_EQUAL(cfg_set(&cfg, "training.lr_steps=[100, 200]", &err), E2_OK);
    CU_ASSERT_DOUBLE_EQUAL(train_lr_at(&cfg, 1000, 99), 0.1, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(train_lr_at(&cfg, 1000, 100), 0.01, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(train_lr_at(&cfg, 1000, 999), 0.001, 1e-12);
    /* SWA: constant lr from its start */
    CU_ASSERT_EQUAL(cfg_set(&cfg, "training.method=[fp32, swa]", &err), E2_OK);
    CU_ASSERT_EQUAL(cfg_set(&cfg, "training.swa.start=0.8", &err), E2_OK);
    CU_ASSERT_EQUAL(cfg_set(&cfg, "training.swa.lr=0.02", &err), E2_OK);
    CU_ASSERT_DOUBLE_EQUAL(train_lr_at(&cfg, 1000, 799), 0.001, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(train_lr_at(&cfg, 1000, 800), 0.02, 1e-12);
    /* swa.lr 0: the schedule goes on through the averaging phase */
    CU_ASSERT_EQUAL(cfg_set(&cfg, "training.swa.lr=0", &err), E2_OK);
    CU_ASSERT_DOUBLE_EQUAL(train_lr_at(&cfg, 1000, 800), 0.001, 1e-12);
    /* epochs */
    CU_ASSERT_EQUAL(cfg_set(&cfg, "training.epochs=3", &err), E2_OK);
    CU_ASSERT_EQUAL(train_total_iterations(&cfg, 60000), 5625);   /* ceil(180000 / 32) */
    /* SLU's sign control around the target computation */
    CU_ASSERT_EQUAL(train_slu_sign(0.55, 0.4), -1);
    CU_ASSERT_EQUAL(train_slu_sign(0.6, 0.4), -1);
    CU_ASSERT_EQUAL(train_slu_sign(0.61, 0.4), 1);
    /* SLU's cost gradient is dC/dm of C = executed gated MACs / (n * gated MACs): a share of
     * 1/n per sample, like the mean cross-entropy's (it was n times that, so the cost term
     * drowned the task loss's gradient at the gates) */
    {
        enum { B = 3, N = 4 };
        const uint64_t macs[B] = { 50, 100, 300 };
        uint8_t mask[B * N];
        memset(mask, 1, sizeof mask);
        float dm[B * N];
        train_slu_cost_gradient(macs, B, mask, N, 0.1, 0.4, 0, dm);   /* all run: favour skipping */
        CU_ASSERT_EQUAL(dm[0], 0.0f);   /* block 0 is not gated */
        CU_ASSERT_DOUBLE_EQUAL(dm[1 * N + 2], 0.1 * 100 / (N * 400.0), 1e-9);
        CU_ASSERT_DOUBLE_EQUAL(dm[2 * N + 3], 0.1 * 300 / (N * 400.0), 1e-9);
        memset(mask + N, 0, 2 * N);     /* nothing gated runs: favour computing */
        train_slu_cost_gradient(macs, B, mask, N, 0.1, 0.4, 0, dm);
        CU_ASSERT_DOUBLE_EQUAL(dm[2 * N], -0.1 * 300 / (N * 400.0), 1e-9);
        /* per block: block 1 runs every sample, block 2 none. Together that is 100 of 400
         * MACs executed (favour computing everywhere); per block, block 1 is above its
         * target (favour skipping) and block 2 below it (favour computing). */
        memset(mask + N, 1, N);
        train_slu_cost_gradient(macs, B, mask, N, 0.1, 0.4, 0, dm);
        CU_ASSERT(dm[1 * N] < 0 && dm[2 * N] < 0);
        train_slu_cost_gradient(macs, B, mask, N, 0.1, 0.4, 1, dm);
        CU_ASSERT_DOUBLE_EQUAL(dm[1 * N + 1], 0.1 * 100 / (N * 400.0), 1e-9);
        CU_ASSERT_DOUBLE_EQUAL(dm[2 * N + 1], -0.1 * 300 / (N * 400.0), 1e-9);
    }
    /* data order: every sample once per epoch, even across a batch that straddles epochs */
    uint32_t perm[100], idx[30], seen[100] = {0};
    for (uint64_t it = 0; it < 10; it++) {      /* 300 positions = 3 epochs of 100 */
        train_batch_indices(100, 7, 30, it, perm, idx);
        for (int j = 0; j < 30; j++)
            seen[idx[j]]++;
    }
    int all3 = 1;
    for (int i = 0; i < 100; i++)
        all3 &= seen[i] == 3;
    CU_ASSERT(all3);
}

static void test_smd_binomial(void)
{
    /* n = 20000 draws: the count must lie within 5 standard deviations of n p. */
    const double ps[] = {0.1, 0.5, 0.8};
    for (int k = 0; k < 3; k++) {
        int n = 20000, drops = 0;
        for (int it = 0; it < n; it++)
            drops += train_smd_drop(11, (uint64_t)it, ps[k]);
        double mean = n * ps[k], sd = sqrt(n * ps[k] * (1 - ps[k]));
        CU_ASSERT(fabs(drops - mean) < 5 * sd);
    }
    for (int it = 0; it < 1000; it++)
        CU_ASSERT_FALSE(train_smd_drop(11, (uint64_t)it, 0.0));
}

/* ---------------------------------------------------------------- runs ------------------ */

/* Learns far above chance (4 classes: 25 %), float and fixed point 8/8/16. */
static void test_learns(void)
{
    const char *bases[] = {"training.method=[fp32]", "training.method=[fixed]"};
    for (int k = 0; k < 2; k++) {
        struct e2_config cfg;
        const char *sets[] = {bases[k], "network.width=8", "dataset.synthetic_train=2048",
                              "training.iterations=64", "training.lr=0.1",
                              "dataset.synthetic_size=16"};
        make_config(&cfg, sets, 6);
        struct data d;
        CU_ASSERT_EQUAL_FATAL(load_data(&cfg, &d), E2_OK);
        struct train t;
        struct pricing acc;
        pricing_open(&acc, NULL, 0, NULL, NULL);
        CU_ASSERT_EQUAL(train_all(&t, &cfg, &d, &acc, NULL), E2_OK);
        fprintf(stderr, "[%s: top-1 %.3f top-5 %.3f, %llu records] ", bases[k], t.top1, t.top5,
                (unsigned long long)acc.acc.emitted);
        CU_ASSERT(t.top1 > 0.6);
        CU_ASSERT(t.top5 == 1.0);           /* 4 classes */
        CU_ASSERT_EQUAL(t.minibatches, 64);
        CU_ASSERT(acc.acc.emitted > 0);
        CU_ASSERT_EQUAL(t.curve_n, 1);
        train_close(&t);
        pricing_close(&acc);
        free_data(&d);
    }
}

/* SMD with p = 0 is SMB bit for bit (weights and op records); with p = 0.5 the dropped count
 * is what train_smd_drop says and dropped minibatches emit nothing. */
static void test_smd_runs(void)
{
    struct e2_config c0, c1, c2;
    const char *s1[] = {"training.method=[fp32, smd]", "training.smd.p=0"};
    const char *s2[] = {"training.method=[fp32, smd]", "training.smd.p=0.5"};
    make_config(&c0, NULL, 0);
    make_config(&c1, s1, 2);
    make_config(&c2, s2, 2);
    struct data d;
    CU_ASSERT_EQUAL_FATAL(load_data(&c0, &d), E2_OK);
    struct train a, b, c;
    struct pricing ea, eb, ec;
    pricing_open(&ea, NULL, 0, NULL, NULL);
    pricing_open(&eb, NULL, 0, NULL, NULL);
    pricing_open(&ec, NULL, 0, NULL, NULL);
    CU_ASSERT_EQUAL_FATAL(train_all(&a, &c0, &d, &ea, NULL), E2_OK);
    CU_ASSERT_EQUAL_FATAL(train_all(&b, &c1, &d, &eb, NULL), E2_OK);
    CU_ASSERT_EQUAL_FATAL(train_all(&c, &c2, &d, &ec, NULL), E2_OK);
    CU_ASSERT(same_params(&a, &b));
    CU_ASSERT_EQUAL(ea.acc.emitted, eb.acc.emitted);
    CU_ASSERT_EQUAL(energy_distinct(&ea.acc), energy_distinct(&eb.acc));
    CU_ASSERT_EQUAL(b.smd_dropped, 0);
    int expect = 0;
    for (int it = 0; it < 24; it++)
        expect += train_smd_drop(7, (uint64_t)it, 0.5);
    CU_ASSERT(expect > 0 && expect < 24);
    CU_ASSERT_EQUAL(c.smd_dropped, (uint64_t)expect);
    CU_ASSERT_EQUAL(c.minibatches, 24 - (uint64_t)expect);
    /* each processed minibatch emits as many records as an SMB one */
    CU_ASSERT_EQUAL(ec.acc.emitted * 24, ea.acc.emitted * (24 - (uint64_t)expect));
    CU_ASSERT(!same_params(&a, &c));
    train_close(&a);
    train_close(&b);
    train_close(&c);
    pricing_close(&ea);
    pricing_close(&eb);
    pricing_close(&ec);
    free_data(&d);
}

/* Everything with state: fixed point, SMD, SLU gates, PSG, SWA; checkpoints every 4. */
static const char *const RESUME_SETS[] = {
    "training.method=[psg, smd, slu, swa]", "training.iterations=40",
    "training.checkpoint_every=4", "training.eval_every=10", "training.swa.start=0.5",
    "training.swa.every=3", "training.smd.p=0.3", "training.precision.rounding=stochastic",
};

static void test_kill_resume(void)
{
    struct e2_config cfg;
    make_config(&cfg, RESUME_SETS, 8);
    struct data d;
    CU_ASSERT_EQUAL_FATAL(load_data(&cfg, &d), E2_OK);

    /* A: uninterrupted */
    char pa[128], pb[128];
    snprintf(pa, sizeof pa, "%s/a.e2ck", dir);
    snprintf(pb, sizeof pb, "%s/b.e2ck", dir);
    struct train a;
    struct pricing ea;
    pricing_open(&ea, NULL, 0, NULL, NULL);
    CU_ASSERT_EQUAL_FATAL(train_all(&a, &cfg, &d, &ea, pa), E2_OK);

    /* B: a child process trains and is killed with SIGKILL once a mid-run checkpoint exists.
     * The child re-executes this program (OpenMP's thread pool does not survive a fork). */
    fflush(NULL);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        execl("/proc/self/exe", "test_train", "child", pb, (char *)NULL);
        _exit(127);
    }
    int killed_at = -1;
    for (int tries = 0; tries < 20000; tries++) {
        int it = (int)train_checkpoint_next(pb);
        if (it >= 12) {
            kill(pid, SIGKILL);
            killed_at = it;
            break;
        }
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    int status;
    waitpid(pid, &status, 0);
    CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    int at = (int)train_checkpoint_next(pb);
    fprintf(stderr, "[killed after checkpoint %d; resuming from %d of 40] ", killed_at, at);
    CU_ASSERT(at >= 12 && at < 40);

    /* resume B to the end */
    struct train b;
    struct pricing eb;
    pricing_open(&eb, NULL, 0, NULL, NULL);
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(train_open(&b, &cfg, &d.train, &d.test, &err), E2_OK);
    struct train_observer obs = pricing_observer(&eb);
    CU_ASSERT_EQUAL_FATAL(train_resume(&b, pb, &obs, &err), E2_OK);
    CU_ASSERT_EQUAL(b.next, (uint64_t)at);
    struct train_io io = {.sink = pricing_sink(&eb), .observer = &obs, .checkpoint_path = pb};
    CU_ASSERT_EQUAL_FATAL(train_run(&b, &io, &err), E2_OK);

    CU_ASSERT(same_params(&a, &b));
    struct fx_stats fa = net_fx_stats(a.net), fb = net_fx_stats(b.net);
    CU_ASSERT(fa.quantized > 0 && fa.acc_sums > 0);
    CU_ASSERT(memcmp(&fa, &fb, sizeof fa) == 0);
    CU_ASSERT_EQUAL(a.minibatches, b.minibatches);
    CU_ASSERT_EQUAL(a.top1, b.top1);
    CU_ASSERT_EQUAL(train_skip_ratio(&a), train_skip_ratio(&b));
    CU_ASSERT_EQUAL(train_psg_predictor_ratio(&a), train_psg_predictor_ratio(&b));
    CU_ASSERT_EQUAL(a.curve_n, b.curve_n);
    CU_ASSERT_EQUAL(energy_total_records(&ea.acc), energy_total_records(&eb.acc));
    CU_ASSERT_EQUAL(energy_distinct(&ea.acc), energy_distinct(&eb.acc));
    /* the final checkpoint files hold the same parameters, momentum and SWA state */
    struct ckpt ca, cb;
    CU_ASSERT_EQUAL_FATAL(ckpt_read(pa, &ca, &err), E2_OK);
    CU_ASSERT_EQUAL_FATAL(ckpt_read(pb, &cb, &err), E2_OK);
    const char *names[] = {"params", "momentum", "swa", "block_exec", "psg_predictor", "fx_stats"};
    for (int i = 0; i < 6; i++) {
        size_t sa, sb;
        const void *xa = ckpt_get(&ca, names[i], &sa), *xb = ckpt_get(&cb, names[i], &sb);
        CU_ASSERT_PTR_NOT_NULL_FATAL(xa);
        CU_ASSERT_PTR_NOT_NULL_FATAL(xb);
        CU_ASSERT_EQUAL(sa, sb);
        CU_ASSERT(sa == sb && memcmp(xa, xb, sa) == 0);
    }
    ckpt_free(&ca);
    ckpt_free(&cb);
    train_close(&a);
    train_close(&b);
    pricing_close(&ea);
    pricing_close(&eb);
    free_data(&d);
}

/* A damaged checkpoint is refused naming the file and the offset; another config's too. */
static void test_resume_refuses(void)
{
    struct e2_config cfg, other;
    make_config(&cfg, NULL, 0);
    const char *sets[] = {"training.lr=0.02"};
    make_config(&other, sets, 1);
    struct data d;
    CU_ASSERT_EQUAL_FATAL(load_data(&cfg, &d), E2_OK);
    char p[128];
    snprintf(p, sizeof p, "%s/c.e2ck", dir);
    struct train a;
    CU_ASSERT_EQUAL_FATAL(train_all(&a, &cfg, &d, NULL, p), E2_OK);
    train_close(&a);

    struct train b;
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(train_open(&b, &other, &d.train, &d.test, &err), E2_OK);
    CU_ASSERT_EQUAL(train_resume(&b, p, NULL, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "different config"));
    train_close(&b);
    /* report: keys do not change the run: resuming with another trace or progress is fine */
    struct e2_config quiet;
    const char *report_sets[] = {"report.progress=off", "report.trace=/tmp/x.e2t"};
    make_config(&quiet, report_sets, 2);
    CU_ASSERT_EQUAL_FATAL(train_open(&b, &quiet, &d.train, &d.test, &err), E2_OK);
    CU_ASSERT_EQUAL(train_resume(&b, p, NULL, &err), E2_OK);
    train_close(&b);

    FILE *f = fopen(p, "r+b");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fseek(f, 300, SEEK_SET);
    int ch = fgetc(f);
    fseek(f, 300, SEEK_SET);
    fputc(ch ^ 0x40, f);
    fclose(f);
    CU_ASSERT_EQUAL_FATAL(train_open(&b, &cfg, &d.train, &d.test, &err), E2_OK);
    CU_ASSERT_EQUAL(train_resume(&b, p, NULL, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "c.e2ck: offset "));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "corrupt"));
    train_close(&b);
    free_data(&d);
}

/* Stochastic depth skips about its configured ratio; SLU reports a ratio per gated block. */
static void test_skipping(void)
{
    struct e2_config sd, slu;
    const char *s1[] = {"training.method=[fp32, sd]", "training.sd.skip_ratio=0.4",
                        "network.depth=14", "training.iterations=60"};
    const char *s2[] = {"training.method=[fp32, slu]", "training.slu.target_skip=0.5",
                        "training.slu.alpha=1"};
    make_config(&sd, s1, 4);
    make_config(&slu, s2, 3);
    struct data d;
    CU_ASSERT_EQUAL_FATAL(load_data(&sd, &d), E2_OK);
    struct train a, b;
    CU_ASSERT_EQUAL_FATAL(train_all(&a, &sd, &d, NULL, NULL), E2_OK);
    double r = train_skip_ratio(&a);
    fprintf(stderr, "[SD skip %.3f] ", r);
    /* ResNet-14: 6 blocks, 5 skippable: achievable 0.4; 60 minibatch draws per block */
    CU_ASSERT(r > 0.2 && r < 0.6);
    CU_ASSERT_EQUAL(a.block_exec[0], a.block_seen[0]);    /* block 0 always runs */
    train_close(&a);

    CU_ASSERT_EQUAL_FATAL(train_all(&b, &slu, &d, NULL, NULL), E2_OK);
    double skip[16];
    int nb = train_block_skip(&b, skip, 16);
    CU_ASSERT_EQUAL(nb, 2);                               /* ResNet-8: 3 blocks */
    double r2 = train_skip_ratio(&b);
    fprintf(stderr, "[SLU skip %.3f: %.3f %.3f] ", r2, skip[0], skip[1]);
    CU_ASSERT(r2 >= 0 && r2 <= 1);
    CU_ASSERT_DOUBLE_EQUAL(r2, (skip[0] + skip[1]) / 2, 1e-12);
    train_close(&b);

    free_data(&d);
}

/* Fine-tuning only the last FC from a checkpoint changes nothing else, and its backward pass
 * is the FC's weight gradient alone: no backward-data record, no conv or BN backward. */
static void test_finetune_fc(void)
{
    struct e2_config cfg, ft;
    make_config(&cfg, NULL, 0);
    char p[128], set1[200];
    snprintf(p, sizeof p, "%s/ft.e2ck", dir);
    snprintf(set1, sizeof set1, "training.finetune_from=%s", p);
    const char *sets[] = {set1, "training.finetune_last_fc_only=true", "training.iterations=8"};
    make_config(&ft, sets, 3);
    struct data d;
    CU_ASSERT_EQUAL_FATAL(load_data(&cfg, &d), E2_OK);
    struct train a, b;
    struct pricing acc;
    pricing_open(&acc, NULL, 0, NULL, NULL);
    CU_ASSERT_EQUAL_FATAL(train_all(&a, &cfg, &d, NULL, p), E2_OK);
    CU_ASSERT_EQUAL_FATAL(train_all(&b, &ft, &d, &acc, NULL), E2_OK);
    int bwd_fc = 0, bwd_other = 0;
    for (int i = 0; i < acc.acc.n; i++) {
        const struct oprec *r = &acc.acc.e[i].r;
        if (r->phase == OP_PHASE_BWD_DATA || r->phase == OP_PHASE_BWD_WEIGHT) {
            if (r->kind == OP_FC && r->phase == OP_PHASE_BWD_WEIGHT)
                bwd_fc++;
            else if (r->kind != OP_LOSS)
                bwd_other++;
        }
    }
    CU_ASSERT(bwd_fc > 0);
    CU_ASSERT_EQUAL(bwd_other, 0);
    pricing_close(&acc);
    int fc_changed = 0, others_same = 1, nfc = 0;
    for (int i = 0; i < a.np; i++) {
        int same = memcmp(a.p[i].w, b.p[i].w, (size_t)a.p[i].count * sizeof(float)) == 0;
        if (a.p[i].kind == NET_PARAM_FC) {
            nfc++;
            fc_changed |= !same;
        } else if (a.p[i].kind != NET_PARAM_BN_RUNNING) {
            others_same &= same;
        }
    }
    CU_ASSERT(nfc > 0);
    CU_ASSERT(fc_changed);
    CU_ASSERT(others_same);
    train_close(&a);
    train_close(&b);
    free_data(&d);
}

/* Running BN statistics of every unit (the NET_PARAM_BN_RUNNING tensors), concatenated. */
static float *running_stats(const struct train *t, long *n)
{
    long total = 0;
    for (int i = 0; i < t->np; i++)
        if (t->p[i].kind == NET_PARAM_BN_RUNNING)
            total += t->p[i].count;
    float *v = malloc((size_t)total * sizeof *v), *o = v;
    for (int i = 0; v && i < t->np; i++)
        if (t->p[i].kind == NET_PARAM_BN_RUNNING) {
            memcpy(o, t->p[i].w, (size_t)t->p[i].count * sizeof *o);
            o += t->p[i].count;
        }
    *n = total;
    return v;
}

/* SWA's BN re-estimation on the averaged weights, done here by hand over the minibatches after
 * the last iteration, with or without the augmentation the run trained with. */
static float *reestimate(struct train *t, const struct data *d, int augment, long *n)
{
    const struct e2_config *cfg = t->cfg;
    uint32_t *perm = malloc((size_t)d->train.count * sizeof *perm);
    uint32_t *idx = malloc((size_t)t->batch * sizeof *idx);
    float *x = malloc((size_t)t->batch * d->train.channels * d->train.height * d->train.width *
                      sizeof *x);
    int *labels = malloc((size_t)t->batch * sizeof *labels);
    net_bn_reset(t->net);
    for (uint64_t k = 0; k < (uint64_t)(d->train.count / t->batch) && k < 20; k++) {
        uint64_t it = t->total + k;
        net_set_iteration(t->net, it);
        train_batch_indices((uint32_t)d->train.count, (uint64_t)cfg->seed, t->batch, it, perm, idx);
        ds_batch(&d->train, t->normalize ? &t->norm : NULL, idx, t->batch, augment,
                 rng_key(rng_key((uint64_t)cfg->seed, RNG_STREAM_AUGMENT), it), x, labels);
        CU_ASSERT_PTR_NOT_NULL(net_forward(t->net, x, t->batch, NULL, NULL, NET_BN_RECOMPUTE));
    }
    free(perm), free(idx), free(x), free(labels);
    return running_stats(t, n);
}

/* SWA's BN re-estimation reads training batches augmented as the run trained (issue 13: with
 * unaugmented batches the statistics fit images the network never trained on, and CIFAR-10
 * top-1 fell by 3.6-4 points). Three ways: the run's statistics equal a by-hand re-estimation
 * with augmentation, bit for bit, and differ from one without. */
static void test_swa_bn_augmented(void)
{
    const char *sets[] = {"training.method=[fp32, swa]", "dataset.augment=true",
                          "training.swa.start=0.5"};
    struct e2_config cfg;
    make_config(&cfg, sets, 3);
    struct data d;
    CU_ASSERT_EQUAL_FATAL(load_data(&cfg, &d), E2_OK);
    struct train t;
    CU_ASSERT_EQUAL_FATAL(train_all(&t, &cfg, &d, NULL, NULL), E2_OK);
    long n_run, n_aug, n_plain;
    float *run = running_stats(&t, &n_run);
    float *plain = reestimate(&t, &d, 0, &n_plain);
    float *aug = reestimate(&t, &d, 1, &n_aug);
    CU_ASSERT_FATAL(run && plain && aug && n_run > 0 && n_run == n_aug && n_run == n_plain);
    CU_ASSERT(memcmp(run, aug, (size_t)n_run * sizeof *run) == 0);
    CU_ASSERT(memcmp(run, plain, (size_t)n_run * sizeof *run) != 0);
    free(run), free(plain), free(aug);
    train_close(&t);
    free_data(&d);
}

/* training.sign_lr: the conv weights signsgd updates by sign step by sign_lr, not by lr (issue
 * 13: lr 0.03 steps swamped ResNet-20's weights); the FC still steps by lr times its gradient. */
static void test_sign_lr(void)
{
    const char *sets[] = {"training.method=[signsgd]", "training.momentum=0",
                          "training.weight_decay=0", "training.sign_lr=0.002", "training.iterations=1"};
    struct e2_config cfg;
    make_config(&cfg, sets, 5);
    struct data d;
    CU_ASSERT_EQUAL_FATAL(load_data(&cfg, &d), E2_OK);
    struct train a, b;
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(train_open(&a, &cfg, &d.train, &d.test, &err), E2_OK);   /* untrained */
    CU_ASSERT_EQUAL_FATAL(train_all(&b, &cfg, &d, NULL, NULL), E2_OK);
    int conv_steps = 0, conv_odd = 0, fc_moved = 0;
    for (int i = 0; i < a.np; i++)
        for (long j = 0; j < a.p[i].count; j++) {
            double dw = fabs((double)b.p[i].w[j] - (double)a.p[i].w[j]);
            if (a.p[i].kind == NET_PARAM_CONV) {
                conv_steps += fabs(dw - 0.002) < 1e-6;
                conv_odd += dw > 1e-6 && fabs(dw - 0.002) >= 1e-6;
            } else if (a.p[i].kind == NET_PARAM_FC) {
                fc_moved += dw > 1e-6;
            }
        }
    CU_ASSERT(conv_steps > 0);
    CU_ASSERT_EQUAL(conv_odd, 0);
    CU_ASSERT(fc_moved > 0);
    train_close(&a);
    train_close(&b);
    free_data(&d);
}

/* Fine-tuning from a checkpoint that does not exist is bad input, and a failed train_open keeps
 * nothing allocated (LeakSanitizer checks at exit in the sanitizer build). */
static void test_finetune_missing_checkpoint(void)
{
    struct e2_config cfg;
    const char *sets[] = {"training.finetune_from=/nonexistent/e2sim/ft.e2ck"};
    make_config(&cfg, sets, 1);
    struct data d;
    CU_ASSERT_EQUAL_FATAL(load_data(&cfg, &d), E2_OK);
    struct train t;
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL(train_open(&t, &cfg, &d.train, &d.test, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "/nonexistent/e2sim/ft.e2ck"));
    CU_ASSERT_PTR_NULL(t.net);
    free_data(&d);
}

/* The killed run of test_kill_resume: train RESUME_SETS with checkpoints into argv[2]. */
static int child_main(const char *ckpt)
{
    struct e2_config cfg;
    in_child = 1;
    make_config(&cfg, RESUME_SETS, 8);
    struct data d;
    if (load_data(&cfg, &d) != E2_OK)
        return 1;
    struct train t;
    struct pricing e;
    pricing_open(&e, NULL, 0, NULL, NULL);
    return train_all(&t, &cfg, &d, &e, ckpt) == E2_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "child") == 0)
        return child_main(argv[2]);
    CU_TestInfo tests[] = {
        { "schedule and control helpers", test_helpers },
        { "SMD drop count within binomial bounds", test_smd_binomial },
        { "learns above chance, float and fixed point", test_learns },
        { "SMD p = 0 equals SMB; drops emit nothing", test_smd_runs },
        { "kill -9 and resume is bit-identical", test_kill_resume },
        { "resume refuses corrupt or foreign checkpoints", test_resume_refuses },
        { "stochastic depth and SLU skip ratios", test_skipping },
        { "fine-tune the last FC only", test_finetune_fc },
        { "sign steps take training.sign_lr", test_sign_lr },
        { "SWA re-estimates BN on augmented batches", test_swa_bn_augmented },
        { "fine-tune from a missing checkpoint", test_finetune_missing_checkpoint },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("train", setup, teardown, tests);
}
