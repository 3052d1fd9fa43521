/* Fuzz target: the checkpoint reader (sim/io/checkpoint.c) and what --resume does with what it
 * reads (sim/run/train_ckpt.c's train_resume, whose restore hook loads a priced energy
 * accumulator and flushes to re-price the restored records, then one more training iteration).
 *
 * The training state is a tiny network on synthetic data (CONFIG below), made once. Input:
 * byte 0 = flags, then a checkpoint file. With flag bit 0 every checksum is recomputed first
 * (where the section sizes allow), so mutations reach the sections' contents.
 * Seeds: E2SIM_FUZZ_WRITE_SEED=FILE fuzz_checkpoint writes a checkpoint of CONFIG after a few
 * iterations to FILE (without the flag byte) and exits. */
#include "fuzz.h"

#include <zlib.h>

#include "config.h"
#include "dataset.h"
#include "energy.h"
#include "hw.h"
#include "train.h"

static const char *const config_sets[] = {
    "name=fuzz", "seed=3", "network.depth=8", "network.width=2", "dataset.name=synthetic",
    "dataset.synthetic_train=32", "dataset.synthetic_test=8", "dataset.synthetic_size=8",
    "dataset.synthetic_classes=4", "training.batch_size=4", "training.iterations=12",
    "training.eval_every=0", "training.checkpoint_every=0", "report.progress=off",
    "training.method=[smd, slu, psg, swa]", "training.swa.start=0.25", "training.swa.every=1",
};

static struct e2_config cfg;
static struct dataset train_ds, test_ds;
static struct train t;
static struct hw_model *model;
static struct hw_ledger *ledger;

/* The run's checkpoint hooks (sim/run/pricing.h) over an accumulator pricing into the one
 * model this process keeps: saved as a run saves it, restored and re-priced as it resumes. */
static int account(void *ctx, const struct oprec *r, uint64_t repeat, char *err, size_t errlen)
{
    (void)ctx;
    return hw_account(model, ledger, r, repeat, err, errlen);
}

static int save_energy(void *ctx, struct ckpt *c, struct e2_err *err)
{
    int rc = energy_flush(ctx, err);
    return rc == E2_OK && energy_save(ctx, c) != 0 ? E2_FAILURE : rc;
}

static int restore_energy(void *ctx, const struct ckpt *c, const char *path, struct e2_err *err)
{
    int rc = energy_load(ctx, c, path, err);
    return rc == E2_OK ? energy_flush(ctx, err) : rc;
}

static void fail(const char *what, const struct e2_err *err)
{
    fprintf(stderr, "fuzz_checkpoint: %s: %s\n", what, err->msg);
    abort();
}

static void open_training(void)
{
    struct e2_err err = {{0}};
    cfg_defaults(&cfg);
    for (size_t i = 0; i < sizeof config_sets / sizeof config_sets[0]; i++)
        if (cfg_set(&cfg, config_sets[i], &err) != E2_OK)
            fail("config", &err);
    if (cfg_resolve(&cfg, &err) != E2_OK ||
        ds_load(&cfg.dataset, 1, (uint64_t)cfg.seed, &train_ds, &err) != E2_OK ||
        ds_load(&cfg.dataset, 0, (uint64_t)cfg.seed, &test_ds, &err) != E2_OK ||
        train_open(&t, &cfg, &train_ds, &test_ds, &err) != E2_OK)
        fail("training state", &err);
    char msg[512];
    if (hw_create(&cfg.hw, &model, msg, sizeof msg) != 0 || !(ledger = hw_ledger_new())) {
        fprintf(stderr, "fuzz_checkpoint: hardware model: %s\n", msg);
        abort();
    }
}

static void write_seed(const char *path)
{
    struct energy_acc acc;
    struct e2_err err = {{0}};
    if (energy_init(&acc, account, NULL) != 0)
        abort();
    struct train_observer obs = {.ctx = &acc, .save = save_energy};
    struct train_io io = {.sink = &acc.sink, .observer = &obs, .stop_after = 6};
    if (train_run(&t, &io, &err) != E2_OK || train_save(&t, path, &obs, &err) != E2_OK)
        fail("seed", &err);
    energy_free(&acc);
    _exit(0);   /* not exit: LeakSanitizer would report libFuzzer's own start-up allocations */
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_skip_exit_leak_check();
    open_training();
    const char *seed = getenv("E2SIM_FUZZ_WRITE_SEED");
    if (seed)
        write_seed(seed);
    return 0;
}

static uint32_t crc_of(const uint8_t *p, size_t n)
{
    return (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)n);
}

/* Recompute each section's CRC and the file CRC (layout: sim/io/checkpoint.h). */
static void fix_checksums(uint8_t *b, size_t len)
{
    enum { HEAD = 16, SECTION_HEAD = 24 + 8 + 4 };
    if (len < HEAD + 4)
        return;
    uint32_t n = fuzz_u32(b + 12);
    size_t off = HEAD;
    for (uint32_t i = 0; i < n && off + SECTION_HEAD <= len - 4; i++) {
        uint64_t size = fuzz_u32(b + off + 24) | (uint64_t)fuzz_u32(b + off + 28) << 32;
        size_t data = off + SECTION_HEAD;
        if (size > len - 4 - data)
            return;
        fuzz_put_u32(b + off + 32, crc_of(b + data, (size_t)size));
        off = data + (size_t)size;
    }
    if (off + 4 == len)
        fuzz_put_u32(b + off, crc_of(b, off));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t *file = malloc(size);
    if (!file)
        return 0;
    memcpy(file, data + 1, size - 1);
    if (data[0] & 1)
        fix_checksums(file, size - 1);
    char path[512];
    fuzz_write(path, sizeof path, "checkpoint.e2ck", file, size - 1);
    free(file);

    struct energy_acc acc;
    struct e2_err err = {{0}};
    hw_ledger_clear(ledger);
    if (energy_init(&acc, account, NULL) != 0)
        abort();
    struct train_observer obs = {.ctx = &acc, .restore = restore_energy};
    int rc = train_resume(&t, path, &obs, &err);
    if (rc == E2_OK && t.next < t.total) {
        rc = train_step(&t, &acc.sink, &err);
        if (rc == E2_OK)
            rc = energy_flush(&acc, &err);
    }
    fuzz_outcome(rc, err.msg);
    if (rc != E2_OK)
        FUZZ_CHECK(err.msg[0] != 0, "rc %d without a message", rc);
    energy_free(&acc);
    return 0;
}
