/* Data sets: malformed files are clean E2_BAD_INPUT errors naming the file and byte; good files
 * round-trip; synthetic data, epoch order and augmentation are deterministic; normalization
 * centres the data; the real Fashion-MNIST (and CIFAR-10 when E2SIM_CIFAR10_DIR is set) load. */
#define _DEFAULT_SOURCE /* mkdtemp, truncate */
#include "cunit_main.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <zlib.h>
#include "dataset.h"

static char tmp_root[128];
static int dir_counter;

/* A fresh empty folder per case, under one mkdtemp root removed at the end. */
static const char *fresh_dir(void)
{
    static char dir[200];
    snprintf(dir, sizeof dir, "%s/case%d", tmp_root, dir_counter++);
    mkdir(dir, 0755);
    return dir;
}

static void write_plain(const char *dir, const char *name, const unsigned char *data, size_t len)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    if (len)
        fwrite(data, 1, len, f);
    fclose(f);
}

/* Writes dir/name.gz and returns the compressed size. */
static size_t write_gz(const char *dir, const char *name, const unsigned char *data, size_t len)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s.gz", dir, name);
    gzFile f = gzopen(path, "wb9");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    if (len)
        gzwrite(f, data, (unsigned)len);
    gzclose(f);
    struct stat st;
    stat(path, &st);
    return (size_t)st.st_size;
}

/* Flips bits of byte `at` (negative: from the end) of an existing file. */
static void corrupt_byte(const char *dir, const char *name, long at)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r+b");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fseek(f, at, at < 0 ? SEEK_END : SEEK_SET);
    long pos = ftell(f);
    int c = fgetc(f);
    fseek(f, pos, SEEK_SET);
    fputc(c ^ 0x5a, f);
    fclose(f);
}

static void cut_file(const char *dir, const char *name, long len)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    CU_ASSERT_EQUAL_FATAL(truncate(path, len), 0);
}

/* ---------------------------------------------------------------- idx file builders */

#define N_IMG 5
#define ROWS 3
#define COLS 4
#define IMG_BYTES (16 + N_IMG * ROWS * COLS)
#define LBL_BYTES (8 + N_IMG)

static unsigned char pixel_value(int i, int j)
{
    return (unsigned char)(i * 37 + j * 5 + 1);
}

static void put_be32(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void make_images(unsigned char *b)
{
    put_be32(b, 0x00000803);
    put_be32(b + 4, N_IMG);
    put_be32(b + 8, ROWS);
    put_be32(b + 12, COLS);
    for (int i = 0; i < N_IMG; i++)
        for (int j = 0; j < ROWS * COLS; j++)
            b[16 + i * ROWS * COLS + j] = pixel_value(i, j);
}

static void make_labels(unsigned char *b)
{
    put_be32(b, 0x00000801);
    put_be32(b + 4, N_IMG);
    for (int i = 0; i < N_IMG; i++)
        b[8 + i] = (unsigned char)((i * 3) % 10);
}

/* A folder with the good test split, images plain and labels gzipped (or as asked). */
static const char *idx_dir(const unsigned char *images, size_t ilen, const unsigned char *labels,
                           size_t llen, int gz_images, int gz_labels)
{
    const char *dir = fresh_dir();
    if (gz_images)
        write_gz(dir, "t10k-images-idx3-ubyte", images, ilen);
    else
        write_plain(dir, "t10k-images-idx3-ubyte", images, ilen);
    if (gz_labels)
        write_gz(dir, "t10k-labels-idx1-ubyte", labels, llen);
    else
        write_plain(dir, "t10k-labels-idx1-ubyte", labels, llen);
    return dir;
}

/* The N of "byte N (compressed)" in a message, or -1. */
static long compressed_byte(const char *msg)
{
    const char *p = strstr(msg, ": byte ");
    long n = -1;
    if (p && strstr(p, " (compressed): ") && sscanf(p, ": byte %ld", &n) == 1)
        return n;
    return -1;
}

/* The load must fail with E2_BAD_INPUT, naming `file` and, when byte >= 0, "byte <byte>". */
static void expect_idx_error(const char *dir, const char *file, long byte, const char *words)
{
    struct dataset ds;
    struct e2_err err = {{0}};
    int rc = ds_load_idx(dir, 0, "mnist", &ds, &err);
    CU_ASSERT_EQUAL(rc, E2_BAD_INPUT);
    CU_ASSERT_PTR_NULL(ds.pixels);
    CU_ASSERT_EQUAL(ds.count, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, file));
    char at[64];
    if (byte >= 0) {
        snprintf(at, sizeof at, "byte %ld:", byte);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, at));
    } else {
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "byte "));
    }
    if (words)
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, words));
    if (rc != E2_BAD_INPUT || !strstr(err.msg, file) || (words && !strstr(err.msg, words)))
        printf("\n  unexpected message: %s\n", err.msg);
    ds_free(&ds);
}

/* ---------------------------------------------------------------- malformed idx files */

static void test_idx_bad_magic(void)
{
    unsigned char im[IMG_BYTES], lb[LBL_BYTES];
    make_images(im);
    make_labels(lb);
    im[0] = 0x1f;
    expect_idx_error(idx_dir(im, sizeof im, lb, sizeof lb, 0, 0), "t10k-images-idx3-ubyte", 0,
                     "magic");
    expect_idx_error(idx_dir(im, sizeof im, lb, sizeof lb, 1, 0), "t10k-images-idx3-ubyte.gz", 0,
                     "magic");
}

static void test_idx_bad_type(void)
{
    unsigned char im[IMG_BYTES], lb[LBL_BYTES];
    make_images(im);
    make_labels(lb);
    im[2] = 0x0d; /* float */
    expect_idx_error(idx_dir(im, sizeof im, lb, sizeof lb, 0, 0), "t10k-images-idx3-ubyte", 2,
                     "data type 0x0d");
}

static void test_idx_wrong_dimension_count(void)
{
    unsigned char im[IMG_BYTES], lb[LBL_BYTES];
    make_images(im);
    make_labels(lb);
    im[3] = 2;
    expect_idx_error(idx_dir(im, sizeof im, lb, sizeof lb, 1, 1), "t10k-images-idx3-ubyte.gz", 3,
                     "2 dimensions, expected 3");
    make_images(im);
    lb[3] = 3;
    expect_idx_error(idx_dir(im, sizeof im, lb, sizeof lb, 0, 0), "t10k-labels-idx1-ubyte", 3,
                     "3 dimensions, expected 1");
}

static void test_idx_truncated_header(void)
{
    unsigned char im[IMG_BYTES], lb[LBL_BYTES];
    make_images(im);
    make_labels(lb);
    expect_idx_error(idx_dir(im, 10, lb, sizeof lb, 0, 0), "t10k-images-idx3-ubyte", 10,
                     "header");
    expect_idx_error(idx_dir(im, 2, lb, sizeof lb, 1, 0), "t10k-images-idx3-ubyte.gz", 2,
                     "magic");
    expect_idx_error(idx_dir(im, 0, lb, sizeof lb, 0, 0), "t10k-images-idx3-ubyte", 0, NULL);
}

static void test_idx_truncated_data(void)
{
    unsigned char im[IMG_BYTES], lb[LBL_BYTES];
    make_images(im);
    make_labels(lb);
    expect_idx_error(idx_dir(im, sizeof im - 5, lb, sizeof lb, 1, 0), "t10k-images-idx3-ubyte.gz",
                     IMG_BYTES - 5, "truncated");
    expect_idx_error(idx_dir(im, sizeof im, lb, sizeof lb - 1, 0, 0), "t10k-labels-idx1-ubyte",
                     LBL_BYTES - 1, "truncated");
}

static void test_idx_trailing_bytes(void)
{
    unsigned char im[IMG_BYTES + 7] = {0}, lb[LBL_BYTES];
    make_images(im);
    make_labels(lb);
    expect_idx_error(idx_dir(im, sizeof im, lb, sizeof lb, 0, 0), "t10k-images-idx3-ubyte",
                     IMG_BYTES, "unexpected bytes after the data");
}

/* Issue 12, finding 5: a FIFO as a data file is an error, not a wait for a writer forever. */
/* A good test split whose images file is removed: *path is where it was (`suffix` added). */
static const char *dir_without_images(unsigned char *im, char *path, size_t size,
                                      const char *suffix)
{
    unsigned char lb[LBL_BYTES];
    make_images(im);
    make_labels(lb);
    const char *dir = idx_dir(im, IMG_BYTES, lb, sizeof lb, 0, 0);
    snprintf(path, size, "%s/t10k-images-idx3-ubyte", dir);
    unlink(path);
    strncat(path, suffix, size - strlen(path) - 1);
    return dir;
}

static void test_idx_fifo(void)
{
    unsigned char im[IMG_BYTES];
    char path[600];
    const char *dir = dir_without_images(im, path, sizeof path, "");
    CU_ASSERT_EQUAL_FATAL(mkfifo(path, 0600), 0);
    expect_idx_error(dir, "t10k-images-idx3-ubyte", 0, "not a regular file");
}

/* Issue 12, finding 5: a gzip bomb (a good header, then 256 MB of zeros in 1 MB of gzip) stops
 * after the bytes the header promises, instead of inflating everything before the check. */
static void test_idx_gzip_bomb(void)
{
    unsigned char im[IMG_BYTES];
    char path[600];
    const char *dir = dir_without_images(im, path, sizeof path, ".gz");
    gzFile f = gzopen(path, "wb1");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    gzwrite(f, im, sizeof im);
    static unsigned char zeros[1 << 20];
    for (int i = 0; i < 256; i++)
        gzwrite(f, zeros, sizeof zeros);
    gzclose(f);
    struct rusage before, after;
    getrusage(RUSAGE_SELF, &before);
    expect_idx_error(dir, "t10k-images-idx3-ubyte.gz", IMG_BYTES, "unexpected bytes after");
    getrusage(RUSAGE_SELF, &after);
    long grown_kb = after.ru_maxrss - before.ru_maxrss;
    printf("\n  peak memory grew by %ld kB ", grown_kb);
    CU_ASSERT(grown_kb < 64 * 1024);
}

/* Issue 12, finding 4: dataset.name mnist without a path read Fashion-MNIST and reported mnist;
 * each data set has its own default folder. */
static void test_default_path_per_name(void)
{
    struct e2_config *cfg = malloc(sizeof *cfg);
    struct e2_err err = {{0}};
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    cfg_defaults(cfg);
    CU_ASSERT_EQUAL_FATAL(cfg_set(cfg, "dataset.name=mnist", &err), E2_OK);
    struct dataset ds;
    int rc = ds_load(&cfg->dataset, 0, 1, &ds, &err);
    /* MNIST may or may not be installed: either way only its own folder is read */
    const char *where = rc == E2_OK ? ds.source : err.msg;
    CU_ASSERT_PTR_NOT_NULL(strstr(where, "/usr/share/datasets/mnist/"));
    CU_ASSERT_PTR_NULL(strstr(where, "fashion"));
    ds_free(&ds);
    free(cfg);
}

static void test_idx_zero_dimension(void)
{
    unsigned char im[IMG_BYTES], lb[LBL_BYTES];
    make_images(im);
    make_labels(lb);
    put_be32(im + 8, 0); /* zero rows */
    expect_idx_error(idx_dir(im, sizeof im, lb, sizeof lb, 0, 0), "t10k-images-idx3-ubyte", 8,
                     "dimension 1 is 0");
    make_images(im);
    put_be32(im + 4, 0); /* zero images */
    expect_idx_error(idx_dir(im, sizeof im, lb, sizeof lb, 0, 0), "t10k-images-idx3-ubyte", 4,
                     "dimension 0 is 0");
}

static void test_idx_count_mismatch(void)
{
    unsigned char im[IMG_BYTES], lb[LBL_BYTES - 1];
    make_images(im);
    unsigned char full[LBL_BYTES];
    make_labels(full);
    memcpy(lb, full, sizeof lb);
    put_be32(lb + 4, N_IMG - 1);
    expect_idx_error(idx_dir(im, sizeof im, lb, sizeof lb, 0, 1), "t10k-labels-idx1-ubyte.gz", 4,
                     "4 labels, but");
}

static void test_idx_label_out_of_range(void)
{
    unsigned char im[IMG_BYTES], lb[LBL_BYTES];
    make_images(im);
    make_labels(lb);
    lb[8 + 3] = 12;
    expect_idx_error(idx_dir(im, sizeof im, lb, sizeof lb, 0, 1), "t10k-labels-idx1-ubyte.gz", 11,
                     "label 12 out of range 0..9");
}

static void test_idx_gzip_bad_crc(void)
{
    unsigned char im[IMG_BYTES], lb[LBL_BYTES];
    make_images(im);
    make_labels(lb);
    const char *dir = fresh_dir();
    write_plain(dir, "t10k-labels-idx1-ubyte", lb, sizeof lb);
    size_t gz_len = write_gz(dir, "t10k-images-idx3-ubyte", im, sizeof im);
    corrupt_byte(dir, "t10k-images-idx3-ubyte.gz", -8); /* the CRC-32 in the gzip trailer */
    expect_idx_error(dir, "t10k-images-idx3-ubyte.gz", -1,
                     "gzip data corrupt: incorrect data check");
    /* zlib places the fault near the end of the deflate data, just before the trailer. */
    struct dataset ds;
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL(ds_load_idx(dir, 0, "mnist", &ds, &err), E2_BAD_INPUT);
    long at = compressed_byte(err.msg);
    CU_ASSERT_TRUE(at >= (long)gz_len - 12 && at <= (long)gz_len);
}

static void test_idx_gzip_truncated(void)
{
    unsigned char im[IMG_BYTES], lb[LBL_BYTES];
    make_images(im);
    make_labels(lb);
    const char *dir = fresh_dir();
    write_plain(dir, "t10k-images-idx3-ubyte", im, sizeof im);
    size_t gz_len = write_gz(dir, "t10k-labels-idx1-ubyte", lb, sizeof lb);
    cut_file(dir, "t10k-labels-idx1-ubyte.gz", (long)gz_len - 6); /* lose part of the trailer */
    expect_idx_error(dir, "t10k-labels-idx1-ubyte.gz", -1, "gzip data truncated");
    struct dataset ds;
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL(ds_load_idx(dir, 0, "mnist", &ds, &err), E2_BAD_INPUT);
    CU_ASSERT_EQUAL(compressed_byte(err.msg), (long)gz_len - 6); /* where the file ends */
}

static void test_idx_gzip_garbled_stream(void)
{
    /* Not compressible: the deflate stream is mostly literal bytes, so garbling its block header
     * is what the inflater must catch. */
    unsigned char im[IMG_BYTES], lb[LBL_BYTES];
    make_images(im);
    make_labels(lb);
    const char *dir = idx_dir(im, sizeof im, lb, sizeof lb, 1, 0);
    corrupt_byte(dir, "t10k-images-idx3-ubyte.gz", 10); /* first byte after the gzip header */
    expect_idx_error(dir, "t10k-images-idx3-ubyte.gz", -1, "(compressed): gzip data corrupt");
}

static void test_idx_missing_file(void)
{
    unsigned char im[IMG_BYTES];
    make_images(im);
    const char *dir = fresh_dir();
    write_plain(dir, "t10k-images-idx3-ubyte", im, sizeof im);
    struct dataset ds;
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL(ds_load_idx(dir, 0, "fashion-mnist", &ds, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "t10k-labels-idx1-ubyte"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "apt-get install dataset-fashion-mnist"));
    CU_ASSERT_PTR_NULL(ds.pixels);
}

/* ---------------------------------------------------------------- CIFAR files */

#define C10_REC 3073
#define C100_REC 3074

/* n CIFAR records with labels from `labels` and pixels derived from (first + i, byte). */
static unsigned char *cifar_records(int n, int label_bytes, const unsigned char *labels, int first)
{
    int rec = label_bytes + 3072;
    unsigned char *b = malloc((size_t)n * rec);
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < label_bytes; k++)
            b[i * rec + k] = labels[i * label_bytes + k];
        for (int j = 0; j < 3072; j++)
            b[i * rec + label_bytes + j] = (unsigned char)((first + i) * 7 + j * 3);
    }
    return b;
}

static void expect_cifar_error(const char *dir, int hundred, const char *file, long byte,
                               const char *words)
{
    struct dataset ds;
    struct e2_err err = {{0}};
    int rc = hundred ? ds_load_cifar100(dir, 1, &ds, &err) : ds_load_cifar10(dir, 1, &ds, &err);
    CU_ASSERT_EQUAL(rc, E2_BAD_INPUT);
    CU_ASSERT_PTR_NULL(ds.pixels);
    CU_ASSERT_PTR_NULL(ds.labels);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, file));
    char at[64];
    snprintf(at, sizeof at, "byte %ld:", byte);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, at));
    if (words)
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, words));
    if (rc != E2_BAD_INPUT || !strstr(err.msg, at) || (words && !strstr(err.msg, words)))
        printf("\n  unexpected message: %s\n", err.msg);
    ds_free(&ds);
}

/* Five good 1-record training batches; the caller then spoils one. */
static const char *cifar10_dir(void)
{
    const char *dir = fresh_dir();
    for (int f = 1; f <= 5; f++) {
        unsigned char label = (unsigned char)f;
        unsigned char *b = cifar_records(1, 1, &label, f);
        char name[32];
        snprintf(name, sizeof name, "data_batch_%d.bin", f);
        write_plain(dir, name, b, C10_REC);
        free(b);
    }
    return dir;
}

static void test_cifar_size_not_multiple(void)
{
    const char *dir = cifar10_dir();
    unsigned char labels[2] = {1, 2};
    unsigned char *b = cifar_records(2, 1, labels, 0);
    write_plain(dir, "data_batch_3.bin", b, C10_REC + 1500);
    expect_cifar_error(dir, 0, "data_batch_3.bin", C10_REC, "multiple of the 3073-byte record");
    /* The same, gzipped: the .gz is found when the plain file is absent. */
    char path[600];
    snprintf(path, sizeof path, "%s/data_batch_3.bin", dir);
    unlink(path);
    write_gz(dir, "data_batch_3.bin", b, C10_REC + 1500);
    expect_cifar_error(dir, 0, "data_batch_3.bin.gz", C10_REC, "multiple");
    free(b);
}

static void test_cifar_label_out_of_range(void)
{
    const char *dir = cifar10_dir();
    unsigned char labels[3] = {1, 10, 2};
    unsigned char *b = cifar_records(3, 1, labels, 0);
    char path[600];
    snprintf(path, sizeof path, "%s/data_batch_5.bin", dir);
    unlink(path);
    write_gz(dir, "data_batch_5.bin", b, 3 * C10_REC);
    expect_cifar_error(dir, 0, "data_batch_5.bin.gz", C10_REC, "label 10 out of range 0..9");
    free(b);
}

static void test_cifar_empty_and_unreadable(void)
{
    const char *dir = cifar10_dir();
    write_plain(dir, "data_batch_2.bin", NULL, 0);
    expect_cifar_error(dir, 0, "data_batch_2.bin", 0, "empty");
    /* A folder where a file should be: opens, then cannot be read. */
    dir = cifar10_dir();
    char path[600];
    snprintf(path, sizeof path, "%s/data_batch_4.bin", dir);
    unlink(path);
    mkdir(path, 0755);
    expect_cifar_error(dir, 0, "data_batch_4.bin", 0, "cannot read");
}

static void test_cifar100_label_out_of_range(void)
{
    const char *dir = fresh_dir();
    unsigned char labels[4] = {3, 40, 19, 100}; /* record 1 has fine label 100 */
    unsigned char *b = cifar_records(2, 2, labels, 0);
    write_plain(dir, "train.bin", b, 2 * C100_REC);
    expect_cifar_error(dir, 1, "train.bin", C100_REC + 1, "label 100 out of range 0..99");
    b[0] = 20; /* coarse label of record 0 */
    write_plain(dir, "train.bin", b, 2 * C100_REC);
    expect_cifar_error(dir, 1, "train.bin", 0, "label 20 out of range 0..19");
    free(b);
}

/* ---------------------------------------------------------------- good files round-trip */

static void test_idx_round_trip(void)
{
    unsigned char im[IMG_BYTES], lb[LBL_BYTES];
    make_images(im);
    make_labels(lb);
    for (int variant = 0; variant < 2; variant++) {
        const char *dir = idx_dir(im, sizeof im, lb, sizeof lb, variant, !variant);
        struct dataset ds;
        struct e2_err err = {{0}};
        CU_ASSERT_EQUAL_FATAL(ds_load_idx(dir, 0, "mnist", &ds, &err), E2_OK);
        CU_ASSERT_EQUAL(ds.count, N_IMG);
        CU_ASSERT_EQUAL(ds.channels, 1);
        CU_ASSERT_EQUAL(ds.height, ROWS);
        CU_ASSERT_EQUAL(ds.width, COLS);
        CU_ASSERT_EQUAL(ds.classes, 10);
        for (int i = 0; i < N_IMG; i++) {
            CU_ASSERT_EQUAL(ds.labels[i], (i * 3) % 10);
            for (int j = 0; j < ROWS * COLS; j++)
                CU_ASSERT_EQUAL(ds.pixels[i * ROWS * COLS + j], pixel_value(i, j));
        }
        ds_free(&ds);
        CU_ASSERT_PTR_NULL(ds.pixels);

        /* Through the config entry point: a test subset keeps the first images. */
        struct cfg_dataset cfg = {0};
        cfg.name = CFG_DATASET_FASHION_MNIST;
        snprintf(cfg.path, sizeof cfg.path, "%s", dir);
        cfg.test_subset = 3;
        CU_ASSERT_EQUAL_FATAL(ds_load(&cfg, 0, 1, &ds, &err), E2_OK);
        CU_ASSERT_EQUAL(ds.count, 3);
        CU_ASSERT_STRING_EQUAL(ds.name, "fashion-mnist");
        CU_ASSERT_EQUAL(ds.labels[2], 6);
        CU_ASSERT_EQUAL(ds.pixels[2 * ROWS * COLS + 5], pixel_value(2, 5));
        ds_free(&ds);
        cfg.test_subset = 99; /* more than there are: all */
        CU_ASSERT_EQUAL_FATAL(ds_load(&cfg, 0, 1, &ds, &err), E2_OK);
        CU_ASSERT_EQUAL(ds.count, N_IMG);
        ds_free(&ds);
    }
}

static void test_cifar10_round_trip(void)
{
    const char *dir = fresh_dir();
    const int per_file[6] = {2, 1, 1, 1, 3, 2}; /* batches 1..5, then test */
    int first = 0;
    unsigned char all_labels[10];
    for (int f = 0; f < 6; f++) {
        unsigned char labels[3];
        for (int i = 0; i < per_file[f]; i++)
            labels[i] = all_labels[first + i] = (unsigned char)((first + i) % 10);
        unsigned char *b = cifar_records(per_file[f], 1, labels, first);
        char name[32];
        if (f < 5)
            snprintf(name, sizeof name, "data_batch_%d.bin", f + 1);
        else
            snprintf(name, sizeof name, "test_batch.bin");
        if (f == 1)
            write_gz(dir, name, b, (size_t)per_file[f] * C10_REC);
        else
            write_plain(dir, name, b, (size_t)per_file[f] * C10_REC);
        free(b);
        first += per_file[f];
    }
    struct dataset tr, te;
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(ds_load_cifar10(dir, 1, &tr, &err), E2_OK);
    CU_ASSERT_EQUAL_FATAL(ds_load_cifar10(dir, 0, &te, &err), E2_OK);
    CU_ASSERT_EQUAL(tr.count, 8);
    CU_ASSERT_EQUAL(te.count, 2);
    CU_ASSERT_EQUAL(tr.channels, 3);
    CU_ASSERT_EQUAL(tr.height, 32);
    CU_ASSERT_EQUAL(tr.width, 32);
    CU_ASSERT_EQUAL(tr.classes, 10);
    for (int i = 0; i < 8; i++) {
        CU_ASSERT_EQUAL(tr.labels[i], all_labels[i]);
        /* CHW: channel c, row y, column x is record byte 1 + c*1024 + y*32 + x. */
        for (int j = 0; j < 3072; j += 101)
            CU_ASSERT_EQUAL(tr.pixels[(size_t)i * 3072 + j], (unsigned char)(i * 7 + j * 3));
    }
    CU_ASSERT_EQUAL(te.labels[1], 9);
    CU_ASSERT_EQUAL(te.pixels[3072 + 1024 + 5], (unsigned char)(9 * 7 + (1024 + 5) * 3));
    ds_free(&tr);
    ds_free(&te);
}

static void test_cifar100_fine_labels(void)
{
    const char *dir = fresh_dir();
    unsigned char labels[6] = {3, 40, 19, 99, 0, 0};
    unsigned char *b = cifar_records(3, 2, labels, 0);
    write_plain(dir, "test.bin", b, 3 * C100_REC);
    free(b);
    struct dataset ds;
    struct e2_err err = {{0}};
    struct cfg_dataset cfg = {0};
    cfg.name = CFG_DATASET_CIFAR100;
    snprintf(cfg.path, sizeof cfg.path, "%s", dir);
    CU_ASSERT_EQUAL_FATAL(ds_load(&cfg, 0, 0, &ds, &err), E2_OK);
    CU_ASSERT_EQUAL(ds.count, 3);
    CU_ASSERT_EQUAL(ds.classes, 100);
    CU_ASSERT_EQUAL(ds.labels[0], 40);
    CU_ASSERT_EQUAL(ds.labels[1], 99);
    CU_ASSERT_EQUAL(ds.labels[2], 0);
    CU_ASSERT_EQUAL(ds.pixels[3072 + 17], (unsigned char)(1 * 7 + 17 * 3));
    ds_free(&ds);
    /* train.bin is absent: a clean error naming it. */
    CU_ASSERT_EQUAL(ds_load(&cfg, 1, 0, &ds, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "train.bin"));
}

static void test_unknown_name_and_bad_synthetic(void)
{
    struct dataset ds;
    struct e2_err err = {{0}};
    struct cfg_dataset cfg = {0};
    cfg.name = (enum cfg_dataset_name)99;   /* the loader never decodes one */
    CU_ASSERT_EQUAL(ds_load(&cfg, 1, 0, &ds, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "unknown data set 99"));
    cfg.name = CFG_DATASET_SYNTHETIC;
    cfg.synthetic_train = 10;
    cfg.synthetic_channels = 3;
    cfg.synthetic_size = 8;
    cfg.synthetic_classes = 300;
    CU_ASSERT_EQUAL(ds_load(&cfg, 1, 0, &ds, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "synthetic_classes"));
    CU_ASSERT_PTR_NULL(ds.pixels);
}

/* ---------------------------------------------------------------- synthetic */

static struct cfg_dataset synthetic_cfg(int train, int test, int classes, int size, int channels)
{
    struct cfg_dataset cfg = {0};
    cfg.name = CFG_DATASET_SYNTHETIC;
    cfg.synthetic_train = train;
    cfg.synthetic_test = test;
    cfg.synthetic_classes = classes;
    cfg.synthetic_size = size;
    cfg.synthetic_channels = channels;
    return cfg;
}

static void test_synthetic_deterministic(void)
{
    struct cfg_dataset cfg = synthetic_cfg(200, 50, 7, 9, 2);
    struct dataset a, b, c, t, sub;
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(ds_load(&cfg, 1, 42, &a, &err), E2_OK);
    CU_ASSERT_EQUAL_FATAL(ds_load(&cfg, 1, 42, &b, &err), E2_OK);
    CU_ASSERT_EQUAL_FATAL(ds_load(&cfg, 1, 43, &c, &err), E2_OK);
    CU_ASSERT_EQUAL_FATAL(ds_load(&cfg, 0, 42, &t, &err), E2_OK);
    cfg.train_subset = 30;
    CU_ASSERT_EQUAL_FATAL(ds_load(&cfg, 1, 42, &sub, &err), E2_OK);
    size_t bytes = (size_t)200 * 2 * 9 * 9;
    CU_ASSERT_EQUAL(a.count, 200);
    CU_ASSERT_EQUAL(t.count, 50);
    CU_ASSERT_EQUAL(sub.count, 30);
    CU_ASSERT_EQUAL(a.channels, 2);
    CU_ASSERT_EQUAL(a.height, 9);
    CU_ASSERT_EQUAL(a.classes, 7);
    CU_ASSERT_EQUAL(memcmp(a.pixels, b.pixels, bytes), 0);
    CU_ASSERT_EQUAL(memcmp(a.labels, b.labels, 200), 0);
    CU_ASSERT_NOT_EQUAL(memcmp(a.pixels, c.pixels, bytes), 0);
    CU_ASSERT_NOT_EQUAL(memcmp(a.pixels, t.pixels, (size_t)50 * 2 * 9 * 9), 0);
    CU_ASSERT_EQUAL(memcmp(a.pixels, sub.pixels, (size_t)30 * 2 * 9 * 9), 0);
    /* Pinned bytes, so that a run's synthetic data never silently changes between builds. */
    struct dataset tiny;
    CU_ASSERT_EQUAL_FATAL(ds_make_synthetic(2, 1, 4, 10, 1, 0, &tiny, &err), E2_OK);
    static const uint8_t first16[16] = {159, 162, 123, 48, 121, 180, 139, 123,
                                        145, 134, 142, 40, 110, 175, 89, 121};
    CU_ASSERT_EQUAL(memcmp(tiny.pixels, first16, 16), 0);
    CU_ASSERT_EQUAL(tiny.labels[0], 8);
    CU_ASSERT_EQUAL(tiny.labels[1], 7);
    ds_free(&tiny);
    int seen[7] = {0};
    for (int i = 0; i < 200; i++) {
        CU_ASSERT_TRUE(a.labels[i] < 7);
        seen[a.labels[i]]++;
    }
    for (int k = 0; k < 7; k++)
        CU_ASSERT_TRUE(seen[k] > 10); /* every class is present */
    ds_free(&a);
    ds_free(&b);
    ds_free(&c);
    ds_free(&t);
    ds_free(&sub);
}

/* Learnable: a nearest-class-mean classifier fitted on the training split classifies the test
 * split far above chance (1/10). */
static void test_synthetic_learnable(void)
{
    struct cfg_dataset cfg = synthetic_cfg(1000, 500, 10, 8, 3);
    struct dataset tr, te;
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(ds_load(&cfg, 1, 7, &tr, &err), E2_OK);
    CU_ASSERT_EQUAL_FATAL(ds_load(&cfg, 0, 7, &te, &err), E2_OK);
    const int d = 3 * 8 * 8;
    static double mean[10][192];
    int n[10] = {0};
    memset(mean, 0, sizeof mean);
    for (int i = 0; i < tr.count; i++) {
        n[tr.labels[i]]++;
        for (int j = 0; j < d; j++)
            mean[tr.labels[i]][j] += tr.pixels[i * d + j];
    }
    for (int k = 0; k < 10; k++)
        for (int j = 0; j < d; j++)
            mean[k][j] /= n[k] ? n[k] : 1;
    int correct = 0;
    for (int i = 0; i < te.count; i++) {
        int best = 0;
        double best_dist = INFINITY;
        for (int k = 0; k < 10; k++) {
            double dist = 0;
            for (int j = 0; j < d; j++) {
                double e = te.pixels[i * d + j] - mean[k][j];
                dist += e * e;
            }
            if (dist < best_dist) {
                best_dist = dist;
                best = k;
            }
        }
        correct += best == te.labels[i];
    }
    double accuracy = (double)correct / te.count;
    CU_ASSERT_TRUE(accuracy > 0.9);
    if (accuracy <= 0.9)
        printf("\n  nearest-mean accuracy %.3f\n", accuracy);
    ds_free(&tr);
    ds_free(&te);
}

/* ---------------------------------------------------------------- epoch order */

static void test_epoch_order(void)
{
    enum { N = 1000 };
    static uint32_t a[N], b[N], c[N];
    ds_epoch_order(N, 5, 3, a);
    ds_epoch_order(N, 5, 3, b);
    ds_epoch_order(N, 5, 4, c);
    int seen[N] = {0}, fixed = 0;
    for (int i = 0; i < N; i++) {
        CU_ASSERT_TRUE_FATAL(a[i] < N);
        seen[a[i]]++;
        fixed += a[i] == (uint32_t)i;
    }
    for (int i = 0; i < N; i++)
        CU_ASSERT_EQUAL(seen[i], 1);
    CU_ASSERT_EQUAL(memcmp(a, b, sizeof a), 0);
    CU_ASSERT_NOT_EQUAL(memcmp(a, c, sizeof a), 0);
    CU_ASSERT_TRUE(fixed < 10); /* a shuffle, not the identity (expected 1 fixed point) */
    /* Uniform: where element 0 lands over many epochs of a 4-shuffle (each place ~1/4). */
    int where[4] = {0}, fixed_small = 0;
    for (uint64_t e = 0; e < 2000; e++) {
        uint32_t p[4];
        ds_epoch_order(4, 11, e, p);
        for (int i = 0; i < 4; i++) {
            where[i] += p[i] == 0;
            fixed_small += p[i] == (uint32_t)i;
        }
    }
    for (int i = 0; i < 4; i++)
        CU_ASSERT_TRUE(where[i] > 400 && where[i] < 600);
    CU_ASSERT_TRUE(fixed_small > 1700 && fixed_small < 2300); /* 1 fixed point per shuffle */
    /* Pinned: a resumed run (or a new build) must see this exact order. */
    static const uint32_t pinned[10] = {6, 5, 8, 0, 7, 1, 9, 2, 4, 3};
    uint32_t ten[10];
    ds_epoch_order(10, 5, 3, ten);
    CU_ASSERT_EQUAL(memcmp(ten, pinned, sizeof ten), 0);
    uint32_t one[1] = {77};
    ds_epoch_order(1, 5, 0, one);
    CU_ASSERT_EQUAL(one[0], 0);
    ds_epoch_order(0, 5, 0, NULL); /* nothing to do, nothing touched */
}

/* ---------------------------------------------------------------- augmentation and batches */

/* A tiny hand-made data set: 2 channels of 5x6 (not square, so rows and columns cannot be
 * confused), pixels varied. */
static void make_small(struct dataset *ds, int count)
{
    memset(ds, 0, sizeof *ds);
    ds->count = count;
    ds->channels = 2;
    ds->height = 5;
    ds->width = 6;
    ds->classes = 3;
    ds->pixels = malloc((size_t)count * 2 * 5 * 6);
    ds->labels = malloc((size_t)count);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ds->pixels);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ds->labels);
    for (size_t j = 0; j < (size_t)count * 2 * 5 * 6; j++)
        ds->pixels[j] = (uint8_t)(j * 11 + 3);
    for (int i = 0; i < count; i++)
        ds->labels[i] = (uint8_t)(i % 3);
}

/* Reference: pad by DS_PAD with black, crop at (dy, dx), mirror if flip; x/255. */
static float reference_pixel(const struct dataset *ds, uint32_t idx, int c, int y, int x,
                             struct ds_aug a)
{
    int w = ds->width, h = ds->height;
    int cx = a.flip ? w - 1 - x : x;
    int sy = y + a.dy - DS_PAD, sx = cx + a.dx - DS_PAD;
    if (sy < 0 || sy >= h || sx < 0 || sx >= w)
        return 0.0f;
    return (float)(ds->pixels[((size_t)idx * ds->channels + c) * h * w + (size_t)sy * w + sx] /
                   255.0);
}

static void test_augmentation(void)
{
    enum { COUNT = 300 };
    struct dataset ds;
    make_small(&ds, COUNT);
    const int image = 2 * 5 * 6;
    static uint32_t idx[COUNT];
    static float out[COUNT * 60], again[COUNT * 60], plain[COUNT * 60];
    static int labels[COUNT];
    for (int i = 0; i < COUNT; i++)
        idx[i] = (uint32_t)(COUNT - 1 - i);
    ds_batch(&ds, NULL, idx, COUNT, 1, 99, out, labels);
    ds_batch(&ds, NULL, idx, COUNT, 1, 99, again, NULL);
    ds_batch(&ds, NULL, idx, COUNT, 0, 99, plain, NULL);
    CU_ASSERT_EQUAL(memcmp(out, again, sizeof out), 0); /* deterministic per (key, index) */
    /* Pinned draws: crops and flips must not change between builds (resumed runs). */
    static const struct ds_aug pinned[4] = {{2, 0, 1}, {8, 0, 0}, {7, 8, 0}, {6, 7, 0}};
    for (uint32_t i = 0; i < 4; i++) {
        struct ds_aug a = ds_augment_draw(99, i);
        CU_ASSERT(a.dy == pinned[i].dy && a.dx == pinned[i].dx && a.flip == pinned[i].flip);
    }
    int flips = 0, shifts[2 * DS_PAD + 1] = {0}, mismatches = 0, mirrored_checked = 0;
    for (int i = 0; i < COUNT; i++) {
        struct ds_aug a = ds_augment_draw(99, idx[i]);
        CU_ASSERT_TRUE_FATAL(a.dx >= 0 && a.dx <= 2 * DS_PAD && a.dy >= 0 && a.dy <= 2 * DS_PAD);
        flips += a.flip;
        shifts[a.dx]++;
        CU_ASSERT_EQUAL(labels[i], ds.labels[idx[i]]);
        for (int c = 0; c < 2; c++)
            for (int y = 0; y < 5; y++)
                for (int x = 0; x < 6; x++) {
                    float got = out[i * image + c * 30 + y * 6 + x];
                    mismatches += got != reference_pixel(&ds, idx[i], c, y, x, a);
                }
        /* A flip without shift is the exact mirror of the plain image. */
        if (a.flip && a.dx == DS_PAD && a.dy == DS_PAD) {
            mirrored_checked++;
            for (int c = 0; c < 2; c++)
                for (int y = 0; y < 5; y++)
                    for (int x = 0; x < 6; x++)
                        CU_ASSERT_EQUAL(out[i * image + c * 30 + y * 6 + x],
                                        plain[i * image + c * 30 + y * 6 + 5 - x]);
        }
    }
    CU_ASSERT_EQUAL(mismatches, 0);
    CU_ASSERT_TRUE(mirrored_checked > 0);
    CU_ASSERT_TRUE(flips > COUNT / 3 && flips < 2 * COUNT / 3);
    for (int s = 0; s <= 2 * DS_PAD; s++)
        CU_ASSERT_TRUE(shifts[s] > 0);
    /* Another key, other crops. */
    ds_batch(&ds, NULL, idx, COUNT, 1, 100, again, NULL);
    CU_ASSERT_NOT_EQUAL(memcmp(out, again, sizeof out), 0);
    /* Without augmentation, x/255 exactly. */
    CU_ASSERT_EQUAL(plain[7], (float)(ds.pixels[(size_t)idx[0] * image + 7] / 255.0));
    ds_free(&ds);
}

static void test_normalization(void)
{
    struct cfg_dataset cfg = synthetic_cfg(400, 100, 5, 6, 3);
    struct dataset ds;
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(ds_load(&cfg, 1, 3, &ds, &err), E2_OK);
    struct ds_norm norm;
    ds_compute_norm(&ds, &norm);
    CU_ASSERT_EQUAL(norm.channels, 3);
    static uint32_t idx[400];
    static float out[400 * 108];
    for (int i = 0; i < 400; i++)
        idx[i] = (uint32_t)i;
    ds_batch(&ds, &norm, idx, 400, 0, 0, out, NULL);
    for (int c = 0; c < 3; c++) {
        double sum = 0, sq = 0;
        for (int i = 0; i < 400; i++)
            for (int j = 0; j < 36; j++) {
                double v = out[i * 108 + c * 36 + j];
                sum += v;
                sq += v * v;
            }
        double mean = sum / (400 * 36), var = sq / (400 * 36) - mean * mean;
        CU_ASSERT_DOUBLE_EQUAL(mean, 0.0, 1e-5);
        CU_ASSERT_DOUBLE_EQUAL(var, 1.0, 1e-4);
        CU_ASSERT_TRUE(norm.std[c] > 10.0f);
    }
    /* A constant channel: std 1, not a division by zero. */
    memset(ds.pixels, 9, (size_t)ds.count * 108);
    ds_compute_norm(&ds, &norm);
    CU_ASSERT_EQUAL(norm.mean[0], 9.0f);
    CU_ASSERT_EQUAL(norm.std[0], 1.0f);
    ds_free(&ds);
}

/* ---------------------------------------------------------------- real data */

static void test_real_fashion_mnist(void)
{
    /* First labels read from the Debian package's files with
     * `zcat train-labels-idx1-ubyte.gz | od -A d -t u1 -j 8 -N 10`. */
    static const int train_first[10] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
    static const int test_first[10] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
    struct cfg_dataset cfg = {0};
    cfg.name = CFG_DATASET_FASHION_MNIST; /* path "" = the default */
    struct dataset tr, te;
    struct e2_err err = {{0}};
    int rc = ds_load(&cfg, 1, 0, &tr, &err);
    if (rc != E2_OK)
        printf("\n  %s\n", err.msg);
    CU_ASSERT_EQUAL_FATAL(rc, E2_OK);
    CU_ASSERT_EQUAL_FATAL(ds_load(&cfg, 0, 0, &te, &err), E2_OK);
    CU_ASSERT_EQUAL(tr.count, 60000);
    CU_ASSERT_EQUAL(te.count, 10000);
    CU_ASSERT_EQUAL(tr.channels, 1);
    CU_ASSERT_EQUAL(tr.height, 28);
    CU_ASSERT_EQUAL(tr.width, 28);
    CU_ASSERT_EQUAL(tr.classes, 10);
    CU_ASSERT_EQUAL(te.height, 28);
    for (int i = 0; i < 10; i++) {
        CU_ASSERT_EQUAL(tr.labels[i], train_first[i]);
        CU_ASSERT_EQUAL(te.labels[i], test_first[i]);
    }
    int per_class[10] = {0};
    for (int i = 0; i < tr.count; i++)
        per_class[tr.labels[i]]++;
    for (int k = 0; k < 10; k++)
        CU_ASSERT_EQUAL(per_class[k], 6000); /* Fashion-MNIST is balanced */
    ds_free(&tr);
    ds_free(&te);
}

static void test_real_cifar10(void)
{
    const char *dir = getenv("E2SIM_CIFAR10_DIR");
    if (!dir || !*dir) {
        cunit_skip("set E2SIM_CIFAR10_DIR (made by scripts/get-cifar10 DIR) to run it");
        return;
    }
    /* First labels of data_batch_1.bin and test_batch.bin (byte 0 of each 3073-byte record). */
    static const int train_first[10] = {6, 9, 9, 4, 1, 1, 2, 7, 8, 3};
    static const int test_first[10] = {3, 8, 8, 0, 6, 6, 1, 6, 3, 1};
    struct cfg_dataset cfg = {0};
    cfg.name = CFG_DATASET_CIFAR10;
    snprintf(cfg.path, sizeof cfg.path, "%s", dir);
    struct dataset tr, te;
    struct e2_err err = {{0}};
    int rc = ds_load(&cfg, 1, 0, &tr, &err);
    if (rc != E2_OK)
        printf("\n  %s\n", err.msg);
    CU_ASSERT_EQUAL_FATAL(rc, E2_OK);
    CU_ASSERT_EQUAL_FATAL(ds_load(&cfg, 0, 0, &te, &err), E2_OK);
    CU_ASSERT_EQUAL(tr.count, 50000);
    CU_ASSERT_EQUAL(te.count, 10000);
    CU_ASSERT_EQUAL(tr.channels, 3);
    CU_ASSERT_EQUAL(tr.height, 32);
    CU_ASSERT_EQUAL(tr.classes, 10);
    for (int i = 0; i < 10; i++) {
        CU_ASSERT_EQUAL(tr.labels[i], train_first[i]);
        CU_ASSERT_EQUAL(te.labels[i], test_first[i]);
    }
    /* The well-known per-channel statistics of the CIFAR-10 training set (R, G, B): they only
     * come out if the planes are in the right order. */
    struct ds_norm norm;
    ds_compute_norm(&tr, &norm);
    CU_ASSERT_DOUBLE_EQUAL(norm.mean[0], 125.307, 0.01);
    CU_ASSERT_DOUBLE_EQUAL(norm.mean[1], 122.950, 0.01);
    CU_ASSERT_DOUBLE_EQUAL(norm.mean[2], 113.865, 0.01);
    CU_ASSERT_DOUBLE_EQUAL(norm.std[0], 62.993, 0.01);
    CU_ASSERT_DOUBLE_EQUAL(norm.std[1], 62.089, 0.01);
    CU_ASSERT_DOUBLE_EQUAL(norm.std[2], 66.705, 0.01);
    ds_free(&tr);
    ds_free(&te);
}

/* ---------------------------------------------------------------- runner */

static void remove_tree(const char *root)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", root);
}

int main(int argc, char **argv)
{
    snprintf(tmp_root, sizeof tmp_root, "%s/e2sim-test-dataset-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp_root)) {
        perror("mkdtemp");
        return 1;
    }
    CU_TestInfo tests[] = {
        { "idx: bad magic", test_idx_bad_magic },
        { "idx: bad data type", test_idx_bad_type },
        { "idx: wrong dimension count", test_idx_wrong_dimension_count },
        { "idx: truncated header", test_idx_truncated_header },
        { "idx: truncated data", test_idx_truncated_data },
        { "idx: trailing bytes", test_idx_trailing_bytes },
        { "idx: a FIFO is refused", test_idx_fifo },
        { "idx: gzip bomb stops at the header's promise", test_idx_gzip_bomb },
        { "each data set name has its own default folder", test_default_path_per_name },
        { "idx: zero dimension", test_idx_zero_dimension },
        { "idx: image/label count mismatch", test_idx_count_mismatch },
        { "idx: label out of range", test_idx_label_out_of_range },
        { "idx: gzip bad CRC", test_idx_gzip_bad_crc },
        { "idx: gzip truncated", test_idx_gzip_truncated },
        { "idx: gzip garbled stream", test_idx_gzip_garbled_stream },
        { "idx: missing file", test_idx_missing_file },
        { "cifar: size not a record multiple", test_cifar_size_not_multiple },
        { "cifar: label out of range", test_cifar_label_out_of_range },
        { "cifar: empty and unreadable", test_cifar_empty_and_unreadable },
        { "cifar100: label out of range", test_cifar100_label_out_of_range },
        { "idx round trip", test_idx_round_trip },
        { "cifar10 round trip", test_cifar10_round_trip },
        { "cifar100 fine labels", test_cifar100_fine_labels },
        { "unknown name, bad synthetic", test_unknown_name_and_bad_synthetic },
        { "synthetic deterministic", test_synthetic_deterministic },
        { "synthetic learnable", test_synthetic_learnable },
        { "epoch order", test_epoch_order },
        { "augmentation", test_augmentation },
        { "normalization", test_normalization },
        { "real Fashion-MNIST", test_real_fashion_mnist },
        CU_TEST_INFO_NULL,
    };
    CU_TestInfo optional[] = {
        { "real_cifar10", test_real_cifar10 },   /* needs E2SIM_CIFAR10_DIR */
        CU_TEST_INFO_NULL,
    };
    int status = cunit_main(argc, argv, "dataset", NULL, NULL, tests, optional);
    remove_tree(tmp_root);
    return status;
}
