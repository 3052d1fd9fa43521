/* Tests of the e2sim command line, through the built program (E2SIM_BINARY): exit statuses
 * (0 ok, 1 failure, 2 bad usage or input), messages on stderr, --print-config round trip. */
#define _DEFAULT_SOURCE
#include "cunit_main.h"
#include "testutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char out_text[1 << 16], err_text[1 << 16];

static void read_file(const char *path, char *buf, size_t size)
{
    FILE *fp = fopen(path, "rb");
    size_t n = fp ? fread(buf, 1, size - 1, fp) : 0;
    buf[n] = 0;
    if (fp)
        fclose(fp);
}

/* Run e2sim with `args` (shell words) in tmpdir; stdout and stderr land in out_text/err_text.
 * Returns the exit status, or -1 if it did not exit normally. */
static int e2sim(const char *args)
{
    char cmd[4096], out_path[512], err_path[512];
    path_of(out_path, sizeof out_path, "stdout.txt");
    path_of(err_path, sizeof err_path, "stderr.txt");
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s >'%s' 2>'%s'", tmpdir, E2SIM_BINARY, args,
             out_path, err_path);
    int status = system(cmd);
    read_file(out_path, out_text, sizeof out_text);
    read_file(err_path, err_text, sizeof err_text);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int contains(const char *haystack, const char *needle)
{
    return strstr(haystack, needle) != NULL;
}

/* A config that trains next to nothing, in case a command gets as far as running it. */
#define TINY                                                                                     \
    "name: tiny\ndataset:\n  name: synthetic\n  synthetic_train: 64\n  synthetic_test: 32\n"     \
    "training:\n  method: [fp32]\n  iterations: 1\n  batch_size: 16\n  eval_every: 0\n"         \
    "  checkpoint_every: 0\nreport:\n  progress: off\n"

static void test_help_and_version(void)
{
    CU_ASSERT_EQUAL(e2sim("--help"), 0);
    CU_ASSERT(contains(out_text, "usage: e2sim --config FILE"));
    CU_ASSERT(contains(out_text, "--print-config"));
    CU_ASSERT_EQUAL(e2sim("-h"), 0);
    CU_ASSERT_EQUAL(e2sim("replay --help"), 0);
    CU_ASSERT_EQUAL(e2sim("--version"), 0);
    CU_ASSERT_STRING_EQUAL(out_text, "e2sim " E2SIM_VERSION "\n");
}

static void test_bad_usage(void)
{
    CU_ASSERT_EQUAL(e2sim("--frobnicate"), 2);
    CU_ASSERT(contains(err_text, "e2sim: unknown option '--frobnicate'"));
    CU_ASSERT(contains(err_text, "e2sim --help"));
    CU_ASSERT_EQUAL(e2sim(""), 2);
    CU_ASSERT(contains(err_text, "--config"));
    CU_ASSERT_EQUAL(e2sim("frobnicate"), 2);
    CU_ASSERT(contains(err_text, "unknown command 'frobnicate'"));
    CU_ASSERT_EQUAL(e2sim("--config"), 2);
    CU_ASSERT(contains(err_text, "needs a value"));
    CU_ASSERT_EQUAL(e2sim("--config tiny.yaml --threads many"), 2);
    CU_ASSERT_EQUAL(e2sim("--config tiny.yaml --shard 3/2"), 2);
    CU_ASSERT(contains(err_text, "K/N"));
    CU_ASSERT_EQUAL(e2sim("--config tiny.yaml --resume"), 2);
    CU_ASSERT(contains(err_text, "--resume needs --out"));
    CU_ASSERT_EQUAL(e2sim("--config tiny.yaml --set training.mode=energy-only --resume"), 2);
    CU_ASSERT(contains(err_text, "--resume needs --out"));
    CU_ASSERT_EQUAL(e2sim("replay --config tiny.yaml"), 2);
    CU_ASSERT(contains(err_text, "TRACE"));
    CU_ASSERT_EQUAL(e2sim("merge"), 2);
    CU_ASSERT_EQUAL(e2sim("merge a --trace t"), 2);
    CU_ASSERT(contains(err_text, "does not apply to merge"));
    CU_ASSERT_EQUAL(e2sim("--config tiny.yaml --shard 1/2"), 2);
    CU_ASSERT(contains(err_text, "need a config with a sweep"));
}

/* getopt_long's conventions: unambiguous abbreviations, values joined to short options,
 * --opt=value, options after positional arguments; an ambiguous prefix is bad usage. */
static void test_getopt_forms(void)
{
    CU_ASSERT_EQUAL(e2sim("--conf tiny.yaml --print-config"), 2);
    CU_ASSERT(contains(err_text, "ambiguous option '--conf'"));
    CU_ASSERT_EQUAL(e2sim("--config=tiny.yaml --print-conf -j2 --qui"), 0);
    CU_ASSERT(contains(out_text, "name: tiny"));
    CU_ASSERT_EQUAL(e2sim("--config tiny.yaml --resume=yes"), 2);
    CU_ASSERT(contains(err_text, "option --resume takes no value"));
    CU_ASSERT_EQUAL(e2sim("-c tiny.yaml -j0"), 2);
    CU_ASSERT(contains(err_text, "--jobs 0: expected a job count"));
    CU_ASSERT_EQUAL(e2sim("merge a --trace t"), 2);   /* an option after an argument is seen */
    CU_ASSERT(contains(err_text, "does not apply to merge"));
    CU_ASSERT_EQUAL(e2sim("-x"), 2);
    CU_ASSERT(contains(err_text, "unknown option '-x'"));
}

static void test_bad_config(void)
{
    write_file("bad.yaml", "name: t\ntraining:\n  method: [psg]\n  psg:\n    betta: 0.1\n");
    CU_ASSERT_EQUAL(e2sim("--config bad.yaml"), 2);
    CU_ASSERT(contains(err_text, "e2sim: bad.yaml:5:5: unknown key 'betta' in training.psg "
                                 "(did you mean 'beta'?)"));
    CU_ASSERT_EQUAL(e2sim("--config bad.yaml --print-config"), 2);
    CU_ASSERT_STRING_EQUAL(out_text, "");
    CU_ASSERT_EQUAL(e2sim("--config missing.yaml"), 2);
    CU_ASSERT(contains(err_text, "missing.yaml"));
    CU_ASSERT_EQUAL(e2sim("--config tiny.yaml --set training.psg.beta=abc"), 2);
    CU_ASSERT(contains(err_text, "e2sim: --set training.psg.beta=abc: training.psg.beta expects "
                                 "a number, got 'abc'"));
    CU_ASSERT_EQUAL(e2sim("--config tiny.yaml --seed -1"), 2);
    /* issue 12, finding 6: hardware consistency is a load-time error, --print-config included */
    write_file("ddr.yaml", TINY "hardware:\n  ddr:\n    device_bits: 8\n");
    CU_ASSERT_EQUAL(e2sim("--config ddr.yaml --print-config"), 2);
    CU_ASSERT(contains(err_text, "e2sim: ddr.yaml:16:18: hardware.ddr.bus_bits = 32 must equal "
                                 "hardware.ddr.devices x device_bits = 2 x 8"));
    CU_ASSERT_STRING_EQUAL(out_text, "");
}

static void test_print_config(void)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "--config '%s/configs/zedboard.yaml' --print-config",
             E2SIM_SOURCE_DIR);
    CU_ASSERT_EQUAL_FATAL(e2sim(cmd), 0);
    CU_ASSERT(contains(out_text, "\nname: zedboard"));
    CU_ASSERT(contains(out_text, "method: [smd, slu, psg, swa]"));
    char *first = strdup(out_text);
    write_file("printed.yaml", first);
    CU_ASSERT_EQUAL(e2sim("--config printed.yaml --print-config"), 0);
    CU_ASSERT_STRING_EQUAL(out_text, first);
    free(first);

    /* --set, --seed and --trace show in the print */
    CU_ASSERT_EQUAL(e2sim("--config tiny.yaml --set training.lr=0.5 --seed 9 --trace t.e2t "
                          "--set 'training.method=[psg, smd]' --print-config"),
                    0);
    CU_ASSERT(contains(out_text, "\nseed: 9 "));
    CU_ASSERT(contains(out_text, "  lr: 0.5 "));
    CU_ASSERT(contains(out_text, "  trace: t.e2t "));
    CU_ASSERT(contains(out_text, "  method: [psg, smd] "));
}

static void test_out_folder(void)
{
    char dir[512];
    path_of(dir, sizeof dir, "existing");
    mkdir(dir, 0777);
    CU_ASSERT_EQUAL(e2sim("--config tiny.yaml --out existing"), 2);
    CU_ASSERT(contains(err_text, "'existing' exists"));
    CU_ASSERT(contains(err_text, "--resume"));
    CU_ASSERT_EQUAL(e2sim("--config tiny.yaml --out=existing --quiet"), 2);
    /* a run that refuses its data leaves no folder behind, so the same command runs once the
     * data is there; a folder it was resumed in stays */
    const char *no_data = "--config tiny.yaml --set dataset.name=cifar10 --set dataset.path=nodata "
                          "--out fresh/run --quiet";
    CU_ASSERT_EQUAL(e2sim(no_data), 2);
    CU_ASSERT(contains(err_text, "nodata/data_batch_1.bin"));
    struct stat st;
    path_of(dir, sizeof dir, "fresh/run");
    CU_ASSERT_NOT_EQUAL(stat(dir, &st), 0);
    CU_ASSERT_EQUAL(e2sim(no_data), 2);
    CU_ASSERT(!contains(err_text, "exists"));
    CU_ASSERT_EQUAL(e2sim("--config tiny.yaml --set dataset.name=cifar10 --set dataset.path=nodata "
                          "--out existing --resume --quiet"), 2);
    path_of(dir, sizeof dir, "existing");
    CU_ASSERT_EQUAL(stat(dir, &st), 0);
}

/* An idx pair (images, labels) of `count` h x w images in tmpdir/dir, named after the split. */
static void write_idx_split(const char *dir, const char *prefix, int count, int h, int w)
{
    char path[512], name[600];
    path_of(path, sizeof path, dir);
    mkdir(path, 0777);
    unsigned char head[16] = {0, 0, 8, 3, 0, 0, 0, (unsigned char)count, 0, 0, 0,
                              (unsigned char)h, 0, 0, 0, (unsigned char)w};
    snprintf(name, sizeof name, "%s/%s-images-idx3-ubyte", path, prefix);
    FILE *fp = fopen(name, "wb");
    CU_ASSERT_FATAL(fp != NULL);
    fwrite(head, 1, 16, fp);
    for (int i = 0; i < count * h * w; i++)
        fputc(i * 7 & 255, fp);
    fclose(fp);
    unsigned char lhead[8] = {0, 0, 8, 1, 0, 0, 0, (unsigned char)count};
    snprintf(name, sizeof name, "%s/%s-labels-idx1-ubyte", path, prefix);
    fp = fopen(name, "wb");
    CU_ASSERT_FATAL(fp != NULL);
    fwrite(lhead, 1, 8, fp);
    for (int i = 0; i < count; i++)
        fputc(i % 10, fp);
    fclose(fp);
}

/* Finding 1 of issue 12: 14x14 training images with 28x28 test images overflowed ds_batch. */
static void test_train_test_geometry(void)
{
    write_idx_split("geo", "train", 32, 14, 14);
    write_idx_split("geo", "t10k", 16, 28, 28);
    write_file("geo.yaml", "name: geo\ndataset:\n  name: mnist\n  path: geo\n"
                           "training:\n  method: [fp32]\n  iterations: 2\n  batch_size: 8\n"
                           "  eval_every: 1\n  checkpoint_every: 0\nreport:\n  progress: off\n");
    CU_ASSERT_EQUAL(e2sim("--config geo.yaml --out geo-out"), 2);
    CU_ASSERT(contains(err_text, "geo/t10k-images-idx3-ubyte: test images are 1x28x28"));
    CU_ASSERT(contains(err_text, "geo/train-images-idx3-ubyte are 1x14x14"));
    write_idx_split("geo", "t10k", 16, 7, 7);   /* smaller: evaluation read stale buffers */
    CU_ASSERT_EQUAL(e2sim("--config geo.yaml --out geo-out2"), 2);
    CU_ASSERT(contains(err_text, "test images are 1x7x7"));
}

/* Issue 12, findings 4 and 6: a hardware config that cannot run an op is bad input (exit 2, was
 * 1), and a run long enough to wrap the 64-bit cycle counts is refused instead of wrapping. */
static void test_pricing_limits(void)
{
    CU_ASSERT_EQUAL(e2sim("--config tiny.yaml --out bram --set hardware.bram_budget_kbit=36"), 2);
    CU_ASSERT(contains(err_text, "does not fit the BRAM budget (4096 bytes)"));
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "--config '%s/configs/paper/resnet110-cifar10-smb.yaml' --out long "
             "--quiet --set training.iterations=2147483647 --set training.batch_size=65536",
             E2SIM_SOURCE_DIR);
    CU_ASSERT_EQUAL(e2sim(cmd), 2);
    CU_ASSERT(contains(err_text, "the run's counts would pass 2^64"));
    /* ... naming the config and the keys that make it that long, not only the model */
    CU_ASSERT(contains(err_text, "resnet110-cifar10-smb.yaml: training.iterations = 2147483647 "
                                 "with training.batch_size = 65536: the run is too long to count"));
}

static int suite_init(void)
{
    if (tmpdir_create("cli"))
        return -1;
    char path[512];
    path_of(path, sizeof path, "tiny.yaml");
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return -1;
    fputs(TINY, fp);
    fclose(fp);
    return 0;
}

int main(void)
{
    CU_TestInfo tests[] = {
        { "--help and --version", test_help_and_version },
        { "bad usage exits 2", test_bad_usage },
        { "getopt_long forms", test_getopt_forms },
        { "bad config exits 2 with its place", test_bad_config },
        { "--print-config round trip", test_print_config },
        { "existing --out without --resume", test_out_folder },
        { "train and test images of different sizes", test_train_test_geometry },
        { "hardware that cannot run an op; counts that would wrap", test_pricing_limits },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("cli", suite_init, tmpdir_remove, tests);
}
