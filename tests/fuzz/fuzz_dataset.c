/* Fuzz target: the data set readers (sim/io/dataset.c): idx (Fashion-MNIST / MNIST), CIFAR-10 and
 * CIFAR-100 binary batches, plain or gzip-compressed; a set that loads is then normalized and
 * batched (with and without augmentation) the way training uses it.
 *
 * Input: byte 0 = flags: bits 0-1 format (0, 3: idx; 1: CIFAR-10 test_batch.bin; 2: CIFAR-100
 * test.bin), bit 2 the training split (idx only), bit 3 the (image) file is named .gz, bit 4
 * the idx label file is named .gz; bytes 1-4 (idx only) = length of the image file, u32 LE;
 * the rest = the image file, then the idx label file. */
#include "fuzz.h"

#include "dataset.h"

static const char *const all_names[] = {
    "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte", "test_batch.bin", "test.bin", "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
    "test_batch.bin.gz", "test.bin.gz"};

static void write_named(const char *name, int gz, const uint8_t *data, size_t size)
{
    char file[128], path[512];
    snprintf(file, sizeof file, "%s%s", name, gz ? ".gz" : "");
    fuzz_write(path, sizeof path, file, data, size);
}

/* What training does with a loaded set: statistics, then mini-batches of a few images. */
static void use_dataset(const struct dataset *ds)
{
    FUZZ_CHECK(ds->count > 0 && ds->pixels && ds->labels, "count %d", ds->count);
    for (int i = 0; i < ds->count; i++)
        FUZZ_CHECK(ds->labels[i] < ds->classes, "label %d of image %d", ds->labels[i], i);
    struct ds_norm norm;
    ds_compute_norm(ds, &norm);
    uint32_t idx[4];
    int n = ds->count < 4 ? ds->count : 4;
    for (int i = 0; i < n; i++)
        idx[i] = (uint32_t)((uint64_t)i * (uint64_t)ds->count / (uint64_t)n);
    size_t image = (size_t)ds->channels * (size_t)ds->height * (size_t)ds->width;
    float *x = malloc((size_t)n * image * sizeof *x);
    int labels[4];
    if (!x)
        return;
    ds_batch(ds, &norm, idx, n, 0, 0, x, labels);
    ds_batch(ds, NULL, idx, n, 1, 12345, x, labels);
    free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5)
        return 0;
    int flags = data[0], format = flags & 3, train = (flags >> 2) & 1;
    int gz_first = (flags >> 3) & 1, gz_labels = (flags >> 4) & 1;
    const uint8_t *body = data + 5;
    size_t rest = size - 5;
    for (size_t i = 0; i < sizeof all_names / sizeof all_names[0]; i++)
        fuzz_unlink(all_names[i]);

    struct dataset ds;
    struct e2_err err = {{0}};
    int rc;
    if (format == 1 || format == 2) {
        write_named(format == 1 ? "test_batch.bin" : "test.bin", gz_first, body, rest);
        rc = format == 1 ? ds_load_cifar10(fuzz_scratch(), 0, &ds, &err)
                         : ds_load_cifar100(fuzz_scratch(), 0, &ds, &err);
    } else {
        size_t split = fuzz_u32(data + 1);
        if (split > rest)
            split = rest;
        const char *prefix = train ? "train" : "t10k";
        char images[64], labels[64];
        snprintf(images, sizeof images, "%s-images-idx3-ubyte", prefix);
        snprintf(labels, sizeof labels, "%s-labels-idx1-ubyte", prefix);
        write_named(images, gz_first, body, split);
        write_named(labels, gz_labels, body + split, rest - split);
        rc = ds_load_idx(fuzz_scratch(), train, "fashion-mnist", &ds, &err);
    }
    fuzz_outcome(rc, err.msg);
    if (rc == E2_OK)
        use_dataset(&ds);
    else
        FUZZ_CHECK(err.msg[0] != 0, "rc %d without a message", rc);
    ds_free(&ds);
    return 0;
}
