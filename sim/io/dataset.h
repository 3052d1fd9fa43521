/* Data sets: loading Fashion-MNIST / MNIST (idx), CIFAR-10 / CIFAR-100 (binary) and a seeded
 * synthetic set into memory as 8-bit CHW images, and turning index lists into normalized,
 * optionally augmented float NCHW mini-batches. Formats and rules: docs/datasets.md.
 *
 * Every random choice (synthetic images, epoch order, crops and flips) is a pure function of a
 * seed and indices through kernels/rng.h, so a resumed run sees exactly the same data. */
#ifndef E2_DATASET_H
#define E2_DATASET_H

#include <stdint.h>
#include "config.h"
#include "status.h"

#define DS_MAX_CHANNELS 16
#define DS_MAX_CLASSES 256      /* labels are bytes */
#define DS_PAD 4                /* augmentation: random crop from this much padding per side */

struct dataset {
    char name[32];              /* fashion-mnist | mnist | cifar10 | cifar100 | synthetic */
    char source[1024];          /* the (first) image file read, or "synthetic", for messages */
    int count, channels, height, width, classes;
    uint8_t *pixels;            /* count * channels * height * width, CHW per image */
    uint8_t *labels;            /* count, each < classes */
};

/* Per-channel statistics in pixel units (0..255): x_norm = (x - mean) / std. */
struct ds_norm {
    int channels;
    float mean[DS_MAX_CHANNELS];
    float std[DS_MAX_CHANNELS];
};

/* One image's augmentation: crop offsets into the padded image (0 .. 2*DS_PAD; DS_PAD = no
 * shift) and a horizontal flip. */
struct ds_aug {
    int dy, dx, flip;
};

/* Default folder for a data set name when cfg->path is empty (NULL for synthetic/unknown). */
const char *ds_default_path(enum cfg_dataset_name name);

/* Loads the training (train != 0) or test split named by cfg->name from cfg->path (or the
 * default path), keeping the first train_subset / test_subset images (0 = all; a subset larger
 * than the split keeps all). `seed` only matters for the synthetic set: train and test must be
 * loaded with the same seed to share class patterns. On failure *out is empty (ds_free-safe)
 * and err names the file and byte offset. Returns E2_OK, E2_BAD_INPUT or E2_FAILURE (memory). */
int ds_load(const struct cfg_dataset *cfg, int train, uint64_t seed, struct dataset *out,
            struct e2_err *err);

/* The individual loaders (all images of the split, no subset). `classes` for idx is 10. */
int ds_load_idx(const char *dir, int train, const char *name, struct dataset *out,
                struct e2_err *err);
int ds_load_cifar10(const char *dir, int train, struct dataset *out, struct e2_err *err);
int ds_load_cifar100(const char *dir, int train, struct dataset *out, struct e2_err *err);

/* Class patterns plus noise: `count` images of channels x size x size in `classes` classes.
 * Deterministic from seed (stream RNG_STREAM_SYNTHETIC); `split` (0 train, 1 test) picks
 * different samples of the same classes. */
int ds_make_synthetic(int count, int channels, int size, int classes, uint64_t seed, int split,
                      struct dataset *out, struct e2_err *err);

/* Train and test images must have one geometry (channels, height, width): the network is built
 * for the training images. E2_BAD_INPUT naming both files when they differ. */
int ds_check_pair(const struct dataset *train, const struct dataset *test, struct e2_err *err);

/* Keeps the first n images (n <= 0 or n >= count: keeps all). */
void ds_truncate(struct dataset *ds, int n);

void ds_free(struct dataset *ds);

/* Per-channel mean and standard deviation (population) of all pixels of ds; a constant channel
 * gets std 1 so that normalization never divides by zero. */
void ds_compute_norm(const struct dataset *ds, struct ds_norm *norm);

/* The crop and flip of image `index` under augmentation key `key` (stream RNG_STREAM_AUGMENT). */
struct ds_aug ds_augment_draw(uint64_t key, uint32_t index);

/* Writes images indices[0..n) as float NCHW into out_nchw (n*C*H*W floats) and their labels into
 * labels (may be NULL). norm NULL means x/255. With augment, each image is cropped from its
 * DS_PAD-padded version (padding = black, pixel value 0, normalized like any pixel) and maybe
 * flipped, as ds_augment_draw(key, indices[i]) says. */
void ds_batch(const struct dataset *ds, const struct ds_norm *norm, const uint32_t *indices,
              int n, int augment, uint64_t key, float *out_nchw, int *labels);

/* A permutation of 0..n-1 for this epoch (Fisher-Yates, stream RNG_STREAM_DATA_ORDER). */
void ds_epoch_order(uint32_t n, uint64_t seed, uint64_t epoch, uint32_t *perm);

#endif
