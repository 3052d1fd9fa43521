/* Checkpoint container: round trip, atomic file, and every kind of corruption detected with the
 * file name and byte offset. */
#define _GNU_SOURCE   /* mkdtemp */
#include "cunit_main.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checkpoint.h"
#include "energy.h"
#include "trace.h"

static char dir[64];

static int setup(void)
{
    strcpy(dir, "/tmp/e2ckpt-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A checkpoint with three sections: 1000 floats, a small struct, an empty one. */
static void make(struct ckpt *c)
{
    ckpt_init(c);
    float w[1000];
    for (int i = 0; i < 1000; i++)
        w[i] = (float)i * 0.25f - 7.0f;
    struct { long a; double b; } meta = {42, 3.5};
    CU_ASSERT_EQUAL(ckpt_put(c, "params", w, sizeof w), 0);
    CU_ASSERT_EQUAL(ckpt_put(c, "meta", &meta, sizeof meta), 0);
    CU_ASSERT_EQUAL(ckpt_put(c, "curve", NULL, 0), 0);
}

static void test_round_trip(void)
{
    struct ckpt c, d;
    make(&c);
    CU_ASSERT_EQUAL(ckpt_put(&c, "meta", "x", 1), -1);           /* duplicate name */
    CU_ASSERT_EQUAL(ckpt_put(&c, "a_name_that_is_far_too_long", "x", 1), -1);
    char path[128];
    snprintf(path, sizeof path, "%s/rt.e2ck", dir);
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(ckpt_write(&c, path, &err), E2_OK);
    CU_ASSERT_EQUAL_FATAL(ckpt_read(path, &d, &err), E2_OK);
    CU_ASSERT_EQUAL(d.n, 3);
    size_t size;
    const float *w = ckpt_get(&d, "params", &size);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    CU_ASSERT_EQUAL(size, 4000);
    CU_ASSERT_EQUAL(w[0], -7.0f);
    CU_ASSERT_EQUAL(w[999], 999 * 0.25f - 7.0f);
    CU_ASSERT_PTR_NOT_NULL(ckpt_get(&d, "curve", &size));
    CU_ASSERT_EQUAL(size, 0);
    CU_ASSERT_PTR_NULL(ckpt_get(&d, "nothing", NULL));
    struct { long a; double b; } meta;
    CU_ASSERT_EQUAL(ckpt_take(&d, path, "meta", &meta, sizeof meta, &err), E2_OK);
    CU_ASSERT_EQUAL(meta.a, 42);
    CU_ASSERT_EQUAL(ckpt_take(&d, path, "meta", &meta, sizeof meta - 1, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "'meta'"));
    CU_ASSERT_EQUAL(ckpt_take(&d, path, "gone", &meta, sizeof meta, &err), E2_BAD_INPUT);
    /* no temporary file left behind */
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s/rt.e2ck.tmp.%d", dir, (int)getpid());
    CU_ASSERT_NOT_EQUAL(access(tmp, F_OK), 0);
    ckpt_free(&c);
    ckpt_free(&d);
}

/* Serialize, damage byte `at` (or cut to `cut` bytes), parse: expect E2_BAD_INPUT naming the
 * file and "offset <want_offset>". */
static void expect_bad(long at, long cut, long want_offset, const char *what)
{
    struct ckpt c, d;
    make(&c);
    unsigned char *buf;
    size_t len;
    CU_ASSERT_EQUAL_FATAL(ckpt_serialize(&c, &buf, &len), 0);
    if (at >= 0)
        buf[at] ^= 0x10;
    if (cut >= 0)
        len = (size_t)cut;
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL(ckpt_parse(buf, len, "run/checkpoint.e2ck", &d, &err), E2_BAD_INPUT);
    CU_ASSERT_EQUAL(d.n, 0);
    char want[64];
    snprintf(want, sizeof want, "run/checkpoint.e2ck: offset %ld:", want_offset);
    if (!strstr(err.msg, want) || !strstr(err.msg, what))
        fprintf(stderr, "\n  got: %s\n  want: %s ... %s\n", err.msg, want, what);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, want));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, what));
    free(buf);
    ckpt_free(&c);
}

/* Layout: 16-byte header; section heads are 36 bytes; "params" data at 52..4051; "meta" head at
 * 4052, data at 4088..4103; "curve" head at 4104, no data; file crc at 4140; length 4144. */
static void test_corruption(void)
{
    expect_bad(0, -1, 0, "bad magic");
    expect_bad(8, -1, 8, "version");
    expect_bad(52 + 123, -1, 52, "checksum mismatch in section 'params'");
    expect_bad(4088, -1, 4088, "checksum mismatch in section 'meta'");
    expect_bad(4141, -1, 4140, "file checksum mismatch");
    expect_bad(4104 + 2, -1, 4140, "file checksum mismatch");   /* a name byte of 'curve' */
    expect_bad(-1, 10, 10, "truncated");
    expect_bad(-1, 2000, 16, "truncated");                      /* inside params' data */
    expect_bad(-1, 4060, 4052, "truncated");                    /* inside meta's head */
    expect_bad(-1, 4143, 4104, "truncated");
    expect_bad(12, -1, 4140, "truncated");                      /* section count 3 -> 19 */
}

static void test_file_errors(void)
{
    struct ckpt d;
    struct e2_err err = {{0}};
    char path[128];
    snprintf(path, sizeof path, "%s/missing.e2ck", dir);
    CU_ASSERT_EQUAL(ckpt_read(path, &d, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "missing.e2ck"));
    /* a damaged file on disk names the file and the offset */
    struct ckpt c;
    make(&c);
    snprintf(path, sizeof path, "%s/bad.e2ck", dir);
    CU_ASSERT_EQUAL_FATAL(ckpt_write(&c, path, &err), E2_OK);
    FILE *f = fopen(path, "r+b");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fseek(f, 500, SEEK_SET);
    fputc(0x5a, f);
    fclose(f);
    CU_ASSERT_EQUAL(ckpt_read(path, &d, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "bad.e2ck: offset 52:"));
    ckpt_free(&c);
}

/* Issue 12, finding 6: a checkpoint that is a folder is bad input (exit 2), not a failure. */
static void test_directory(void)
{
    struct ckpt d;
    struct e2_err err = {{0}};
    char path[128];
    snprintf(path, sizeof path, "%s/folder.e2ck", dir);
    CU_ASSERT_EQUAL_FATAL(mkdir(path, 0777), 0);
    CU_ASSERT_EQUAL(ckpt_read(path, &d, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "not a regular file"));
    snprintf(path, sizeof path, "%s/fifo.e2ck", dir);   /* and a FIFO is not waited on */
    CU_ASSERT_EQUAL_FATAL(mkfifo(path, 0600), 0);
    CU_ASSERT_EQUAL(ckpt_read(path, &d, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "not a regular file"));
}

/* Issue 12, finding 2: a section count from the file is checked before the sections are read. */
static void test_section_count(void)
{
    struct ckpt c, d;
    struct e2_err err = {{0}};
    unsigned char *buf;
    size_t len;
    ckpt_init(&c);
    CU_ASSERT_EQUAL_FATAL(ckpt_serialize(&c, &buf, &len), 0);
    buf[12] = buf[13] = buf[14] = buf[15] = 0xff;
    CU_ASSERT_EQUAL(ckpt_parse(buf, len, "x.e2ck", &d, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "x.e2ck: offset 12: 4294967295 sections"));
    free(buf);
}

/* energy_load of an "energy" section holding the one record r; its status, message in err. */
static int load_energy_record(const struct oprec *r, struct e2_err *err)
{
    uint64_t total = 1;
    unsigned char section[8 + OPREC_PACKED_SIZE + 8];
    uint32_t head[2] = {(uint32_t)OPREC_PACKED_SIZE, 1};
    memcpy(section, head, 8);
    oprec_pack(r, section + 8);
    memcpy(section + 8 + OPREC_PACKED_SIZE, &total, 8);
    struct ckpt c;
    ckpt_init(&c);
    CU_ASSERT_EQUAL_FATAL(ckpt_put(&c, "energy", section, sizeof section), 0);
    struct energy_acc a;
    CU_ASSERT_EQUAL_FATAL(energy_init(&a, NULL, NULL), 0);
    int rc = energy_load(&a, &c, "run/checkpoint.e2ck", err);
    energy_free(&a);
    ckpt_free(&c);
    return rc;
}

/* Issue 12, finding 2: an op record with n = 2^32 - 1 in the energy section hung --resume; and
 * the sweepfuzz helper's fuzz finding 1: a record with 60- and 248-bit operands and huge shapes
 * kept the mapper busy for seconds before its widths were refused. */
static void test_energy_section_record(void)
{
    struct oprec r;
    memset(&r, 0, sizeof r);
    r.kind = OP_CONV;
    r.phase = OP_PHASE_FWD;
    r.k = r.stride = 1;
    r.n = 4294967295u;
    r.cin = r.cout = r.groups = 1;
    r.h_in = r.w_in = r.h_out = r.w_out = 8;
    r.bits_a = r.bits_b = r.bits_out = 8;
    r.bits_acc = 48;
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL(load_energy_record(&r, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "run/checkpoint.e2ck: checkpoint 'energy' section, "
                                           "record 0: n = 4294967295 samples"));
    struct oprec fuzzed = {.layer = 31, .kind = OP_UPDATE, .phase = OP_PHASE_UPDATE,
                           .tech = OP_TECH_SWA, .k = 1, .stride = 1, .n = 415047002, .cin = 7478,
                           .cout = 18365, .groups = 34750, .h_in = 18236, .w_in = 26957,
                           .h_out = 20797, .w_out = 64240, .bits_a = 60, .bits_b = 248,
                           .bits_out = 65, .bits_acc = 93, .msb_a = 62, .msb_b = 194,
                           .psg_full_q16 = 15856};
    CU_ASSERT_EQUAL(load_energy_record(&fuzzed, &err), E2_BAD_INPUT);
    fuzzed.n = 6;   /* still refused, for its widths */
    CU_ASSERT_EQUAL(load_energy_record(&fuzzed, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "operand width above 32 bits"));
    /* fuzz finding 2: a BN record of 3.4e10 elements made the mapper's schedule pass 2 GB */
    struct oprec bn = {.layer = 7, .kind = OP_BN, .n = 4, .cin = 2, .cout = 2, .groups = 1,
                       .h_in = 65528, .w_in = 65527, .h_out = 65527, .w_out = 254, .bits_a = 32,
                       .bits_b = 32, .bits_out = 32, .bits_acc = 32};
    CU_ASSERT_EQUAL(load_energy_record(&bn, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "a tensor of more than 268435456 elements"));
    /* fuzz finding 3: a residual add of 1.5e10 elements (within the first, 2^34 bound) took 12 s
     * to map and overflowed the DDR3 cycle count */
    struct oprec add = {.layer = 28, .kind = OP_ADD, .n = 3, .cin = 8, .cout = 25352,
                        .groups = 27745, .h_in = 25193, .w_in = 24946, .h_out = 116, .w_out = 2,
                        .bits_a = 32, .bits_b = 32, .bits_out = 32, .bits_acc = 32};
    CU_ASSERT_EQUAL(load_energy_record(&add, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "a tensor of more than 268435456 elements"));
    /* and one that kept the mapper busy for minutes: weights of 65532 x 65527 */
    struct oprec wgrad = {.layer = 21, .kind = OP_CONV, .phase = OP_PHASE_BWD_WEIGHT, .k = 1,
                          .stride = 2, .n = 4, .cin = 65532, .cout = 65527, .groups = 1,
                          .h_in = 4, .w_in = 4, .h_out = 2, .w_out = 2, .bits_a = 8, .bits_b = 16,
                          .bits_out = 32, .bits_acc = 48, .msb_a = 4, .msb_b = 10,
                          .psg_full_q16 = 10240};
    CU_ASSERT_EQUAL(load_energy_record(&wgrad, &err), E2_BAD_INPUT);
    r.n = 4;   /* the record itself is fine */
    CU_ASSERT_EQUAL(load_energy_record(&r, &err), E2_OK);
}

/* Runs e2sim with `args` in the scratch folder, stderr to err.txt; the exit status. */
static int e2sim(const char *args)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s --quiet 2>err.txt >/dev/null", dir,
             E2SIM_BINARY, args);
    int status = system(cmd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Issue 12, findings 2 and 4: a crafted swa_models = INT_MAX is refused (it overflowed a signed
 * int in kernels/swa.c), and a rejected --resume leaves the folder's config.yaml alone. */
static void test_resume_checks(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/tiny.yaml", dir);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("name: tiny\ndataset:\n  name: synthetic\n  synthetic_train: 64\n"
          "  synthetic_test: 32\ntraining:\n  method: [fp32, swa]\n  iterations: 4\n"
          "  batch_size: 16\n  eval_every: 0\n  checkpoint_every: 0\nreport:\n  progress: off\n",
          f);
    fclose(f);
    CU_ASSERT_EQUAL_FATAL(e2sim("--config tiny.yaml --out run"), 0);
    snprintf(path, sizeof path, "%s/run/config.yaml", dir);
    char *before = NULL;
    size_t before_len = 0;
    FILE *cf = fopen(path, "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(cf);
    CU_ASSERT_EQUAL_FATAL(getdelim(&before, &before_len, 0, cf) > 0, 1);
    fclose(cf);
    CU_ASSERT_EQUAL(e2sim("--config tiny.yaml --out run --resume --set training.lr=0.5"), 2);
    cf = fopen(path, "rb");
    char *after = NULL;
    size_t after_len = 0;
    CU_ASSERT_PTR_NOT_NULL_FATAL(cf);
    CU_ASSERT_EQUAL_FATAL(getdelim(&after, &after_len, 0, cf) > 0, 1);
    fclose(cf);
    CU_ASSERT_STRING_EQUAL(after, before);
    free(before);
    free(after);

    /* meta: u64 hash, 5 x u64, 5 x f64, then i32 np, blocks, curve_n, swa_models (byte 100) */
    struct ckpt c, out;
    struct e2_err err = {{0}};
    snprintf(path, sizeof path, "%s/run/checkpoint.e2ck", dir);
    CU_ASSERT_EQUAL_FATAL(ckpt_read(path, &c, &err), E2_OK);
    ckpt_init(&out);
    for (int i = 0; i < c.n; i++) {
        unsigned char *data = c.s[i].data;
        if (strcmp(c.s[i].name, "meta") == 0) {
            int32_t huge = 2147483647;
            memcpy(data + 100, &huge, 4);
        }
        CU_ASSERT_EQUAL(ckpt_put(&out, c.s[i].name, data, (size_t)c.s[i].size), 0);
    }
    CU_ASSERT_EQUAL_FATAL(ckpt_write(&out, path, &err), E2_OK);
    CU_ASSERT_EQUAL(e2sim("--config tiny.yaml --out run --resume"), 2);
    snprintf(path, sizeof path, "%s/err.txt", dir);
    cf = fopen(path, "rb");
    char msg[512] = "";
    CU_ASSERT_PTR_NOT_NULL_FATAL(cf);
    msg[fread(msg, 1, sizeof msg - 1, cf)] = 0;
    fclose(cf);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "checkpoint section 'meta' is damaged"));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "2147483647 SWA models"));
    ckpt_free(&c);
    ckpt_free(&out);
}

int main(void)
{
    CU_TestInfo tests[] = {
        { "round trip", test_round_trip },
        { "corruption detected with offset", test_corruption },
        { "file errors", test_file_errors },
        { "a folder is not a checkpoint", test_directory },
        { "section count checked", test_section_count },
        { "energy section records checked", test_energy_section_record },
        { "resume: counts checked, config.yaml kept", test_resume_checks },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("checkpoint", setup, teardown, tests);
}
