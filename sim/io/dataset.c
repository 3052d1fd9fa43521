/* Data sets: file formats, the synthetic set, normalization, augmentation, epoch order.
 * See dataset.h for the API and docs/datasets.md for the formats and rules. */
#include "dataset.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "rng.h"

#define DS_PATH_MAX 1024
#define IDX_CLASSES 10
#define CIFAR_SIDE 32
#define CIFAR_IMAGE (3 * CIFAR_SIDE * CIFAR_SIDE)
#define CIFAR_MAX_RECORDS 100000   /* per file: the real ones hold 10,000 or 50,000 */

/* ---------------------------------------------------------------- reading whole files */

/* A file's (decompressed) content, up to a limit. */
struct blob {
    unsigned char *data;
    size_t len;
    int more;           /* the file holds more bytes than the limit allowed to read */
};

static void blob_free(struct blob *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

/* How many bytes a file may hold, judged from its first `len` bytes: SIZE_MAX while that is not
 * known yet. So a gzip bomb is stopped after the header, not after a gigabyte. */
typedef size_t (*promise_fn)(const unsigned char *data, size_t len);

/* Reads a plain or gzip file (gzread passes plain files through unchanged), at most `limit`
 * bytes or what `promise` allows; b->more says whether more followed. Only regular files: a
 * FIFO would block. Byte offsets in messages count decompressed bytes, i.e. bytes of the format
 * itself. */
static int read_file(const char *path, size_t limit, promise_fn promise, struct blob *b,
                     struct e2_err *err)
{
    memset(b, 0, sizeof *b);
    struct stat st;
    if (stat(path, &st) != 0)
        return e2_fail(err, E2_BAD_INPUT, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return e2_fail(err, E2_BAD_INPUT, "%s: byte 0: cannot read: not a regular file", path);
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return e2_fail(err, E2_BAD_INPUT, "%s: cannot open: %s", path,
                       errno ? strerror(errno) : "out of memory");
    gzbuffer(f, 1 << 17);
    size_t cap = 0;
    for (;;) {
        size_t allowed = promise ? promise(b->data, b->len) : SIZE_MAX;
        if (allowed > limit)
            allowed = limit;
        if (b->len >= allowed) {
            unsigned char extra;
            b->more = gzread(f, &extra, 1) == 1;
            break;
        }
        if (b->len == cap) {
            size_t grown = cap ? cap * 2 : (size_t)1 << 16;
            if (grown > allowed && allowed != SIZE_MAX)
                grown = allowed;
            unsigned char *p = realloc(b->data, grown);
            if (!p) {
                gzclose(f);
                blob_free(b);
                return e2_fail(err, E2_FAILURE, "%s: out of memory reading the file", path);
            }
            b->data = p;
            cap = grown;
        }
        size_t want = cap - b->len;
        if (want > (1u << 30))
            want = 1u << 30;
        if (b->len < 64 && want > 64 - b->len)
            want = 64 - b->len;   /* the header first, so the promise is known early */
        errno = 0;
        int got = gzread(f, b->data + b->len, (unsigned)want);
        if (got <= 0) {
            int code;
            const char *what = gzerror(f, &code);
            if (got == 0 && code == Z_OK)
                break;
            /* gzip faults are placed in the compressed file; gzclose frees `what`. */
            char why[256];
            size_t skip = strncmp(what, path, strlen(path)) == 0 ? strlen(path) + 2 : 0;
            snprintf(why, sizeof why, "%s", strlen(what) >= skip ? what + skip : what);
            int saved_errno = errno;
            long long packed_at = (long long)gzoffset(f);
            size_t at = b->len;
            gzclose(f);
            blob_free(b);
            if (code == Z_ERRNO)
                return e2_fail(err, E2_BAD_INPUT, "%s: byte %zu: cannot read: %s", path, at,
                               strerror(saved_errno));
            return e2_fail(err, E2_BAD_INPUT, "%s: byte %lld (compressed): gzip data %s: %s",
                           path, packed_at, code == Z_BUF_ERROR ? "truncated" : "corrupt", why);
        }
        b->len += (size_t)got;
    }
    /* A gzip stream cut right at a block boundary is only noticed on close. */
    long long packed_at = (long long)gzoffset(f);
    int closed = gzclose(f);
    if (closed != Z_OK && !b->more) {
        blob_free(b);
        return e2_fail(err, E2_BAD_INPUT, "%s: byte %lld (compressed): gzip data %s", path,
                       packed_at, closed == Z_BUF_ERROR ? "truncated: unexpected end of file"
                                                        : "unreadable");
    }
    return E2_OK;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* dir/name, or dir/name.gz when only that exists. */
static int find_file(const char *dir, const char *name, const char *hint, char *path,
                     struct e2_err *err)
{
    char gz[DS_PATH_MAX];
    int n = snprintf(path, DS_PATH_MAX, "%s/%s", dir, name);
    snprintf(gz, sizeof gz, "%s/%s.gz", dir, name);
    if (n < 0 || n >= DS_PATH_MAX - 3)
        return e2_fail(err, E2_BAD_INPUT, "%s: data set path too long", dir);
    if (file_exists(path))
        return E2_OK;
    if (file_exists(gz)) {
        memcpy(path, gz, strlen(gz) + 1);
        return E2_OK;
    }
    return e2_fail(err, E2_BAD_INPUT, "%s: cannot open: no such file (nor %s.gz)%s%s", path, name,
                   hint ? "; " : "", hint ? hint : "");
}

static uint32_t read_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int alloc_dataset(struct dataset *ds, const char *name, int count, int channels,
                         int height, int width, int classes, struct e2_err *err)
{
    memset(ds, 0, sizeof *ds);
    snprintf(ds->name, sizeof ds->name, "%s", name);
    ds->count = count;
    ds->channels = channels;
    ds->height = height;
    ds->width = width;
    ds->classes = classes;
    ds->pixels = malloc((size_t)count * channels * height * width);
    ds->labels = malloc((size_t)count);
    if (!ds->pixels || !ds->labels) {
        ds_free(ds);
        return e2_fail(err, E2_FAILURE, "%s: out of memory for %d images", name, count);
    }
    return E2_OK;
}

/* ---------------------------------------------------------------- idx (MNIST, Fashion-MNIST) */

/* What an idx header promises: 4 + 4 * dims header bytes and the product of the sizes. A header
 * that check_idx will refuse promises only itself, so nothing more is read. */
static size_t idx_promise(const unsigned char *p, size_t len)
{
    if (len < 4)
        return SIZE_MAX;
    int dims = p[3];
    size_t header = 4 + 4 * (size_t)dims;
    if (p[0] || p[1] || p[2] != 0x08 || dims < 1 || dims > 3)
        return 4;
    if (len < header)
        return SIZE_MAX;
    uint64_t payload = 1;
    for (int d = 0; d < dims; d++) {
        uint32_t n = read_be32(p + 4 + 4 * d);
        if (n == 0 || n > (d == 0 ? INT_MAX : 4096u))
            return header;
        payload *= n;   /* at most 2^31 * 2^24: no overflow */
    }
    return header + (size_t)payload;
}

/* Checks the idx header (magic 0x00 0x00 0x08 dims, then dims big-endian sizes) and that the file
 * holds exactly the bytes the header promises. */
static int check_idx(const char *path, const struct blob *b, int want_dims, uint32_t *dims,
                     struct e2_err *err)
{
    if (b->len < 4)
        return e2_fail(err, E2_BAD_INPUT, "%s: byte %zu: file ends inside the 4-byte idx magic",
                       path, b->len);
    const unsigned char *p = b->data;
    if (p[0] != 0 || p[1] != 0)
        return e2_fail(err, E2_BAD_INPUT,
                       "%s: byte 0: bad idx magic 0x%02x%02x%02x%02x (expected 0x000008%02x)",
                       path, p[0], p[1], p[2], p[3], want_dims);
    if (p[2] != 0x08)
        return e2_fail(err, E2_BAD_INPUT,
                       "%s: byte 2: idx data type 0x%02x, expected 0x08 (unsigned byte)", path,
                       p[2]);
    if (p[3] != want_dims)
        return e2_fail(err, E2_BAD_INPUT, "%s: byte 3: %d dimensions, expected %d", path, p[3],
                       want_dims);
    size_t header = 4 + 4 * (size_t)want_dims;
    if (b->len < header)
        return e2_fail(err, E2_BAD_INPUT, "%s: byte %zu: file ends inside the %zu-byte idx header",
                       path, b->len, header);
    uint64_t payload = 1;
    for (int d = 0; d < want_dims; d++) {
        dims[d] = read_be32(p + 4 + 4 * d);
        uint32_t limit = d == 0 ? INT_MAX : 4096;
        if (dims[d] == 0 || dims[d] > limit)
            return e2_fail(err, E2_BAD_INPUT, "%s: byte %d: dimension %d is %u, expected 1..%u",
                           path, 4 + 4 * d, d, dims[d], limit);
        payload *= dims[d];
    }
    uint64_t expected = header + payload;
    if (b->len < expected)
        return e2_fail(err, E2_BAD_INPUT,
                       "%s: byte %zu: truncated: the header promises %llu bytes, the file ends "
                       "after %zu", path, b->len, (unsigned long long)expected, b->len);
    if (b->len > expected || b->more)
        return e2_fail(err, E2_BAD_INPUT,
                       "%s: byte %llu: unexpected bytes after the data the header promises",
                       path, (unsigned long long)expected);
    return E2_OK;
}

static int check_label(const char *path, size_t offset, unsigned label, int classes,
                       struct e2_err *err)
{
    if (label < (unsigned)classes)
        return E2_OK;
    return e2_fail(err, E2_BAD_INPUT, "%s: byte %zu: label %u out of range 0..%d", path, offset,
                   label, classes - 1);
}

int ds_load_idx(const char *dir, int train, const char *name, struct dataset *out,
                struct e2_err *err)
{
    memset(out, 0, sizeof *out);
    const char *prefix = train ? "train" : "t10k";
    const char *hint = strcmp(name, "fashion-mnist") == 0
                           ? "install it with: apt-get install dataset-fashion-mnist" : NULL;
    char image_name[64], label_name[64], image_path[DS_PATH_MAX], label_path[DS_PATH_MAX];
    snprintf(image_name, sizeof image_name, "%s-images-idx3-ubyte", prefix);
    snprintf(label_name, sizeof label_name, "%s-labels-idx1-ubyte", prefix);
    int rc = find_file(dir, image_name, hint, image_path, err);
    if (rc == E2_OK)
        rc = find_file(dir, label_name, hint, label_path, err);
    if (rc != E2_OK)
        return rc;

    struct blob images = {0}, labels = {0};
    uint32_t idims[3] = {0}, ldims[1] = {0};
    rc = read_file(image_path, SIZE_MAX, idx_promise, &images, err);
    if (rc == E2_OK)
        rc = check_idx(image_path, &images, 3, idims, err);
    if (rc == E2_OK)
        rc = read_file(label_path, SIZE_MAX, idx_promise, &labels, err);
    if (rc == E2_OK)
        rc = check_idx(label_path, &labels, 1, ldims, err);
    if (rc == E2_OK && ldims[0] != idims[0])
        rc = e2_fail(err, E2_BAD_INPUT, "%s: byte 4: %u labels, but %s holds %u images",
                     label_path, ldims[0], image_path, idims[0]);
    for (uint32_t i = 0; rc == E2_OK && i < ldims[0]; i++)
        rc = check_label(label_path, 8 + (size_t)i, labels.data[8 + i], IDX_CLASSES, err);
    if (rc == E2_OK)
        rc = alloc_dataset(out, name, (int)idims[0], 1, (int)idims[1], (int)idims[2],
                           IDX_CLASSES, err);
    if (rc == E2_OK) {
        snprintf(out->source, sizeof out->source, "%s", image_path);
        memcpy(out->pixels, images.data + 16, (size_t)idims[0] * idims[1] * idims[2]);
        memcpy(out->labels, labels.data + 8, idims[0]);
    }
    blob_free(&images);
    blob_free(&labels);
    return rc;
}

/* ---------------------------------------------------------------- CIFAR binary */

/* Appends the records of one CIFAR file to ds (pixels and labels grown as needed). A record is
 * `label_bytes` label bytes (the last one is the label we keep; CIFAR-100 has coarse then fine)
 * followed by 3072 pixel bytes: 1024 R, 1024 G, 1024 B, rows top to bottom. */
static int append_cifar_file(const char *path, int label_bytes, const int *label_classes,
                             struct dataset *ds, struct e2_err *err)
{
    struct blob b;
    const size_t record = (size_t)label_bytes + CIFAR_IMAGE;
    int rc = read_file(path, CIFAR_MAX_RECORDS * record, NULL, &b, err);
    if (rc != E2_OK)
        return rc;
    if (b.more) {
        blob_free(&b);
        return e2_fail(err, E2_BAD_INPUT, "%s: byte %zu: more than %d records (a CIFAR file "
                       "holds at most that many)", path, CIFAR_MAX_RECORDS * record,
                       CIFAR_MAX_RECORDS);
    }
    if (b.len == 0 || b.len % record != 0) {
        size_t len = b.len, at = len / record * record;
        blob_free(&b);
        if (len == 0)
            return e2_fail(err, E2_BAD_INPUT, "%s: byte 0: empty file, expected %zu-byte records",
                           path, record);
        return e2_fail(err, E2_BAD_INPUT,
                       "%s: byte %zu: file ends inside a record (size is not a multiple of the "
                       "%zu-byte record)", path, at, record);
    }
    size_t n = b.len / record;
    if (n > (size_t)(INT_MAX - ds->count)) {
        blob_free(&b);
        return e2_fail(err, E2_BAD_INPUT, "%s: byte 0: too many records", path);
    }
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < label_bytes; k++) {
            size_t at = i * record + k;
            rc = check_label(path, at, b.data[at], label_classes[k], err);
            if (rc != E2_OK) {
                blob_free(&b);
                return rc;
            }
        }
    size_t total = (size_t)ds->count + n;
    uint8_t *pixels = realloc(ds->pixels, total * CIFAR_IMAGE);
    if (pixels)
        ds->pixels = pixels;
    uint8_t *labels = realloc(ds->labels, total);
    if (labels)
        ds->labels = labels;
    if (!pixels || !labels) {
        blob_free(&b);
        return e2_fail(err, E2_FAILURE, "%s: out of memory", path);
    }
    for (size_t i = 0; i < n; i++) {
        const unsigned char *rec = b.data + i * record;
        ds->labels[ds->count + i] = rec[label_bytes - 1];
        memcpy(ds->pixels + (ds->count + i) * CIFAR_IMAGE, rec + label_bytes, CIFAR_IMAGE);
    }
    ds->count = (int)total;
    blob_free(&b);
    return E2_OK;
}

static int load_cifar(const char *dir, const char *name, const char *const *files, int nfiles,
                      int label_bytes, const int *label_classes, const char *hint,
                      struct dataset *out, struct e2_err *err)
{
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", name);
    out->channels = 3;
    out->height = out->width = CIFAR_SIDE;
    out->classes = label_classes[label_bytes - 1];
    for (int f = 0; f < nfiles; f++) {
        char path[DS_PATH_MAX];
        int rc = find_file(dir, files[f], hint, path, err);
        if (rc == E2_OK)
            rc = append_cifar_file(path, label_bytes, label_classes, out, err);
        if (rc == E2_OK && f == 0)
            snprintf(out->source, sizeof out->source, "%s", path);
        if (rc != E2_OK) {
            ds_free(out);
            return rc;
        }
    }
    return E2_OK;
}

int ds_load_cifar10(const char *dir, int train, struct dataset *out, struct e2_err *err)
{
    static const char *const train_files[] = {"data_batch_1.bin", "data_batch_2.bin",
                                              "data_batch_3.bin", "data_batch_4.bin",
                                              "data_batch_5.bin"};
    static const char *const test_files[] = {"test_batch.bin"};
    static const int classes[] = {10};
    const char *hint = "get it with: scripts/get-cifar10 DIR";
    return train ? load_cifar(dir, "cifar10", train_files, 5, 1, classes, hint, out, err)
                 : load_cifar(dir, "cifar10", test_files, 1, 1, classes, hint, out, err);
}

int ds_load_cifar100(const char *dir, int train, struct dataset *out, struct e2_err *err)
{
    static const char *const train_files[] = {"train.bin"};
    static const char *const test_files[] = {"test.bin"};
    static const int classes[] = {20, 100}; /* coarse, fine */
    return load_cifar(dir, "cifar100", train ? train_files : test_files, 1, 2, classes, NULL, out,
                      err);
}

/* ---------------------------------------------------------------- synthetic */

/* A triangle wave in integers: phase 0..255 -> -128..128 (no libm, so identical everywhere). */
static int triangle(int phase)
{
    return 2 * abs((phase & 255) - 128) - 128;
}

int ds_make_synthetic(int count, int channels, int size, int classes, uint64_t seed, int split,
                      struct dataset *out, struct e2_err *err)
{
    memset(out, 0, sizeof *out);
    if (count < 1)
        return e2_fail(err, E2_BAD_INPUT, "dataset.synthetic_%s: %d images, expected at least 1",
                       split ? "test" : "train", count);
    if (channels < 1 || channels > DS_MAX_CHANNELS)
        return e2_fail(err, E2_BAD_INPUT, "dataset.synthetic_channels: %d out of range 1..%d",
                       channels, DS_MAX_CHANNELS);
    if (size < 1 || size > 1024)
        return e2_fail(err, E2_BAD_INPUT, "dataset.synthetic_size: %d out of range 1..1024", size);
    if (classes < 2 || classes > DS_MAX_CLASSES)
        return e2_fail(err, E2_BAD_INPUT, "dataset.synthetic_classes: %d out of range 2..%d",
                       classes, DS_MAX_CLASSES);
    int rc = alloc_dataset(out, "synthetic", count, channels, size, size, classes, err);
    if (rc != E2_OK)
        return rc;
    snprintf(out->source, sizeof out->source, "synthetic %s set", split ? "test" : "training");
    /* Each (class, channel) has a plane wave: frequencies 0..2 periods per image along x and
     * y and a phase. An image is its class's waves at a random contrast, plus uniform noise. */
    const uint64_t base = rng_key(seed, RNG_STREAM_SYNTHETIC);
    const uint64_t class_key = rng_key(base, 0);
    const uint64_t sample_key = rng_key(base, 1 + (uint64_t)(split != 0));
    const size_t plane = (size_t)size * size;
    for (int i = 0; i < count; i++) {
        uint64_t k = rng_key(sample_key, (uint64_t)i);
        int label = (int)rng_below(k, 0, (uint32_t)classes);
        int contrast = 40 + (int)rng_below(k, 1, 41); /* wave amplitude 40..80 */
        out->labels[i] = (uint8_t)label;
        uint8_t *img = out->pixels + (size_t)i * channels * plane;
        for (int c = 0; c < channels; c++) {
            uint64_t ck = rng_key(class_key, (uint64_t)label * DS_MAX_CHANNELS + c);
            int fx = (int)rng_below(ck, 0, 3), fy = (int)rng_below(ck, 1, 3);
            int phase = (int)rng_below(ck, 2, 256);
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++) {
                    size_t p = (size_t)y * size + x;
                    int wave = triangle(phase + 256 * (fx * x + fy * y) / size);
                    int noise = (int)rng_below(k, 2 + c * plane + p, 97) - 48;
                    int v = 128 + wave * contrast / 128 + noise;
                    img[c * plane + p] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
                }
        }
    }
    return E2_OK;
}

/* ---------------------------------------------------------------- top level */

const char *ds_default_path(enum cfg_dataset_name name)
{
    switch (name) {
    case CFG_DATASET_FASHION_MNIST:
        return "/usr/share/datasets/fashion-mnist";
    case CFG_DATASET_MNIST:
        return "/usr/share/datasets/mnist";
    case CFG_DATASET_CIFAR10:
        return "data/cifar10";
    case CFG_DATASET_CIFAR100:
        return "data/cifar100";
    default:
        return NULL;
    }
}

void ds_truncate(struct dataset *ds, int n)
{
    if (n > 0 && n < ds->count)
        ds->count = n;
}

int ds_load(const struct cfg_dataset *cfg, int train, uint64_t seed, struct dataset *out,
            struct e2_err *err)
{
    memset(out, 0, sizeof *out);
    int subset = train ? cfg->train_subset : cfg->test_subset;
    if (subset < 0)
        return e2_fail(err, E2_BAD_INPUT, "dataset.%s_subset: %d is negative",
                       train ? "train" : "test", subset);
    const char *dir = cfg->path[0] ? cfg->path : ds_default_path(cfg->name);
    int rc;
    if (cfg->name == CFG_DATASET_FASHION_MNIST || cfg->name == CFG_DATASET_MNIST) {
        rc = ds_load_idx(dir, train, cfg_dataset_names[cfg->name], out, err);
    } else if (cfg->name == CFG_DATASET_CIFAR10) {
        rc = ds_load_cifar10(dir, train, out, err);
    } else if (cfg->name == CFG_DATASET_CIFAR100) {
        rc = ds_load_cifar100(dir, train, out, err);
    } else if (cfg->name == CFG_DATASET_SYNTHETIC) {
        int count = train ? cfg->synthetic_train : cfg->synthetic_test;
        if (subset > 0 && subset < count)
            count = subset; /* same images as the first `subset` of the full set */
        rc = ds_make_synthetic(count, cfg->synthetic_channels, cfg->synthetic_size,
                               cfg->synthetic_classes, seed, !train, out, err);
    } else {
        return e2_fail(err, E2_BAD_INPUT,
                       "dataset.name: unknown data set %d (the config loader decodes "
                       "fashion-mnist | mnist | cifar10 | cifar100 | synthetic)", (int)cfg->name);
    }
    if (rc == E2_OK)
        ds_truncate(out, subset);
    return rc;
}

int ds_check_pair(const struct dataset *train, const struct dataset *test, struct e2_err *err)
{
    if (train->channels == test->channels && train->height == test->height &&
        train->width == test->width)
        return E2_OK;
    return e2_fail(err, E2_BAD_INPUT,
                   "%s: test images are %dx%dx%d (channels x height x width), but the training "
                   "images of %s are %dx%dx%d; both splits must have one geometry",
                   test->source, test->channels, test->height, test->width, train->source,
                   train->channels, train->height, train->width);
}

void ds_free(struct dataset *ds)
{
    free(ds->pixels);
    free(ds->labels);
    memset(ds, 0, sizeof *ds);
}

/* ---------------------------------------------------------------- normalization */

void ds_compute_norm(const struct dataset *ds, struct ds_norm *norm)
{
    memset(norm, 0, sizeof *norm);
    norm->channels = ds->channels;
    const size_t plane = (size_t)ds->height * ds->width;
    for (int c = 0; c < ds->channels && c < DS_MAX_CHANNELS; c++) {
        /* A histogram makes the statistics exact and cheap: 256 bins instead of a float sum. */
        uint64_t hist[256] = {0};
        for (int i = 0; i < ds->count; i++) {
            const uint8_t *p = ds->pixels + ((size_t)i * ds->channels + c) * plane;
            for (size_t j = 0; j < plane; j++)
                hist[p[j]]++;
        }
        double n = (double)ds->count * (double)plane, sum = 0, var = 0;
        for (int v = 0; v < 256; v++)
            sum += (double)v * (double)hist[v];
        double mean = n > 0 ? sum / n : 0;
        for (int v = 0; v < 256; v++)
            var += (v - mean) * (v - mean) * (double)hist[v];
        double sd = n > 0 ? sqrt(var / n) : 0;
        norm->mean[c] = (float)mean;
        norm->std[c] = sd > 0 ? (float)sd : 1.0f;
    }
}

/* ---------------------------------------------------------------- batches */

struct ds_aug ds_augment_draw(uint64_t key, uint32_t index)
{
    uint64_t k = rng_key(rng_key(key, RNG_STREAM_AUGMENT), index);
    struct ds_aug a = {
        .dy = (int)rng_below(k, 0, 2 * DS_PAD + 1),
        .dx = (int)rng_below(k, 1, 2 * DS_PAD + 1),
        .flip = (int)rng_below(k, 2, 2),
    };
    return a;
}

/* lut[c][v] = normalized value of pixel v in channel c: one load per pixel in the inner loops. */
static void build_lut(const struct ds_norm *norm, int channels, float lut[][256])
{
    for (int c = 0; c < channels; c++)
        for (int v = 0; v < 256; v++)
            lut[c][v] = norm ? (float)((v - (double)norm->mean[c]) / norm->std[c])
                             : (float)(v / 255.0);
}

/* One channel, cropped from its padded version at (dy, dx) and maybe mirrored. */
static void crop_plane(const uint8_t *src, float *dst, int h, int w, struct ds_aug a,
                       const float *lut)
{
    const float pad = lut[0];
    const int shift = a.dx - DS_PAD; /* source x = output x + shift */
    int x_lo = shift < 0 ? -shift : 0;
    int x_hi = shift > 0 ? w - shift : w;
    if (x_hi < x_lo)
        x_hi = x_lo;
    for (int y = 0; y < h; y++) {
        float *out = dst + (size_t)y * w;
        int sy = y + a.dy - DS_PAD;
        if (sy < 0 || sy >= h) {
            for (int x = 0; x < w; x++)
                out[x] = pad;
            continue;
        }
        const uint8_t *row = src + (size_t)sy * w;
        if (!a.flip) {
            for (int x = 0; x < x_lo; x++)
                out[x] = pad;
            for (int x = x_lo; x < x_hi; x++)
                out[x] = lut[row[x + shift]];
            for (int x = x_hi; x < w; x++)
                out[x] = pad;
        } else { /* the same, written right to left */
            float *mirror = out + w - 1;
            for (int x = 0; x < x_lo; x++)
                mirror[-x] = pad;
            for (int x = x_lo; x < x_hi; x++)
                mirror[-x] = lut[row[x + shift]];
            for (int x = x_hi; x < w; x++)
                mirror[-x] = pad;
        }
    }
}

void ds_batch(const struct dataset *ds, const struct ds_norm *norm, const uint32_t *indices,
              int n, int augment, uint64_t key, float *out_nchw, int *labels)
{
    const int channels = ds->channels < DS_MAX_CHANNELS ? ds->channels : DS_MAX_CHANNELS;
    const size_t plane = (size_t)ds->height * ds->width;
    const size_t image = (size_t)ds->channels * plane;
    float lut[DS_MAX_CHANNELS][256];
    build_lut(norm, channels, lut);
    for (int i = 0; i < n; i++) {
        const uint32_t idx = indices[i];
        const uint8_t *src = ds->pixels + (size_t)idx * image;
        float *dst = out_nchw + (size_t)i * image;
        if (labels)
            labels[i] = ds->labels[idx];
        struct ds_aug a = augment ? ds_augment_draw(key, idx) : (struct ds_aug){0, 0, 0};
        for (int c = 0; c < channels; c++) {
            if (augment) {
                crop_plane(src + c * plane, dst + c * plane, ds->height, ds->width, a, lut[c]);
                continue;
            }
            const uint8_t *s = src + c * plane;
            float *d = dst + c * plane;
            const float *l = lut[c];
            for (size_t j = 0; j < plane; j++)
                d[j] = l[s[j]];
        }
    }
}

/* ---------------------------------------------------------------- epoch order */

void ds_epoch_order(uint32_t n, uint64_t seed, uint64_t epoch, uint32_t *perm)
{
    const uint64_t key = rng_key(rng_key(seed, RNG_STREAM_DATA_ORDER), epoch);
    for (uint32_t i = 0; i < n; i++)
        perm[i] = i;
    for (uint32_t i = n; i > 1; i--) {
        uint32_t j = rng_below(key, i - 1, i); /* 0 .. i-1 */
        uint32_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
}
