/* Op traces: round trip (records, repeats, marks, header, trailer), compactness, and that every
 * corruption, truncation or version mismatch is E2_BAD_INPUT naming the byte offset. */
#define _POSIX_C_SOURCE 200809L
#include "cunit_main.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "checkpoint.h"
#include "trace.h"

static char dir[64];

static void path_of(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", dir, name);
}

static struct oprec conv(uint16_t layer, int phase, uint32_t n)
{
    struct oprec r;
    memset(&r, 0, sizeof r);
    r.layer = layer;
    r.kind = OP_CONV;
    r.phase = (uint8_t)phase;
    r.k = 3;
    r.stride = 1;
    r.pad = 1;
    r.n = n;
    r.cin = 16;
    r.cout = 32;
    r.groups = 1;
    r.h_in = r.w_in = r.h_out = r.w_out = 28;
    r.bits_a = r.bits_b = 8;
    r.bits_out = 16;
    r.bits_acc = 48;
    r.msb_a = 4;
    r.msb_b = 10;
    r.psg_full_q16 = 65535;
    return r;
}

static const struct trace_layer layers[2] = {{0, "conv1", "conv"}, {7, "s1.b0.conv2", "conv"}};

static struct trace_header header(void)
{
    struct trace_header h;
    memset(&h, 0, sizeof h);
    snprintf(h.network, sizeof h.network, "resnet-8");
    snprintf(h.dataset, sizeof h.dataset, "fashion-mnist");
    h.config_text = "name: t\ntraining:\n  iterations: 5\n";
    h.config_hash = trace_config_hash(h.config_text);
    h.layer_count = 2;
    h.layers = layers;
    return h;
}

/* What the reader must give back: consecutive identical records of a stream merge. */
struct expect {
    int type, stream;
    struct oprec rec;
    uint64_t repeat, iteration;
};
struct expected {
    struct expect *e;
    int n, cap;
    int last[TRACE_STREAMS];    /* index of the stream's last op entry that may still merge */
};

static void expect_add(struct expected *x, int stream, const struct oprec *r, uint64_t repeat)
{
    int j = x->last[stream];
    if (j >= 0 && oprec_equal(&x->e[j].rec, r)) {
        x->e[j].repeat += repeat;
        return;
    }
    if (x->n == x->cap) {
        x->cap = x->cap ? x->cap * 2 : 1024;
        x->e = realloc(x->e, (size_t)x->cap * sizeof *x->e);
    }
    struct expect e = {TRACE_OP, stream, *r, repeat, 0};
    x->e[x->n] = e;
    x->last[stream] = x->n++;
}

static void expect_mark(struct expected *x, uint64_t iteration)
{
    if (x->n == x->cap) {
        x->cap = x->cap ? x->cap * 2 : 1024;
        x->e = realloc(x->e, (size_t)x->cap * sizeof *x->e);
    }
    struct expect e;
    memset(&e, 0, sizeof e);
    e.type = TRACE_MARK;
    e.iteration = iteration;
    x->e[x->n++] = e;
    x->last[TRACE_RUN] = -1;
}

/* Write a trace of `iterations` SLU-like iterations (varying n), with marks and a baseline. */
static void write_sample(const char *path, int iterations, struct expected *x)
{
    struct trace_header h = header();
    struct trace_writer *t;
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(trace_create(path, &h, &t, &err), E2_OK);
    struct op_sink run = trace_sink(t, TRACE_RUN), base = trace_sink(t, TRACE_BASELINE);
    if (x) {
        memset(x, 0, sizeof *x);
        x->last[0] = x->last[1] = -1;
    }
    for (int it = 0; it < iterations; it++) {
        for (int layer = 0; layer < 6; layer++) {
            struct oprec r = conv((uint16_t)layer, OP_PHASE_FWD, 32 - (uint32_t)((it * 7 + layer) % 5));
            op_emit(&run, &r);
            if (x)
                expect_add(x, TRACE_RUN, &r, 1);
            if (layer == 2) {   /* the same record twice in a row: one entry, repeat 2 */
                op_emit(&run, &r);
                if (x)
                    expect_add(x, TRACE_RUN, &r, 1);
            }
        }
        struct oprec u = conv(6, OP_PHASE_UPDATE, 1);
        trace_add(t, TRACE_RUN, &u, 3);
        if (x)
            expect_add(x, TRACE_RUN, &u, 3);
        if (it == 0) {
            for (int layer = 0; layer < 6; layer++) {
                struct oprec b = conv((uint16_t)layer, OP_PHASE_FWD, 32);
                b.bits_a = b.bits_b = b.bits_out = 32;
                trace_add(t, TRACE_BASELINE, &b, (uint64_t)iterations);
                if (x)
                    expect_add(x, TRACE_BASELINE, &b, (uint64_t)iterations);
                op_emit(&base, &b);     /* merges with the entry above */
                if (x)
                    expect_add(x, TRACE_BASELINE, &b, 1);
            }
        }
        if (it % 10 == 9) {
            trace_mark(t, (uint64_t)it + 1, 1.0 / (it + 1), it == 9 ? NAN : 0.5);
            if (x)
                expect_mark(x, (uint64_t)it + 1);
        }
    }
    struct trace_result res;
    memset(&res, 0, sizeof res);
    res.has_accuracy = 1;
    res.top1 = 0.875;
    res.top5 = 0.1 + 0.2;
    res.iterations = (uint64_t)iterations;
    res.minibatches_processed = (uint64_t)iterations - 1;
    res.slu_skip_ratio = 0.3;
    res.psg_predictor_ratio = 0.7;
    res.slu_blocks = 3;
    res.slu_block_skip[0] = 0.1;
    res.slu_block_skip[2] = 0.9;
    res.wall_seconds = 4.25;
    CU_ASSERT_EQUAL_FATAL(trace_finish(t, &res, &err), E2_OK);
}

/* Read the whole trace; returns the status of the first failure (or E2_OK). */
static int read_all(const char *path, struct e2_err *err)
{
    struct trace_reader *r;
    int rc = trace_open(path, &r, err);
    if (rc)
        return rc;
    struct trace_entry e;
    while ((rc = trace_next(r, &e, err)) == E2_OK && e.type != TRACE_END)
        ;
    trace_close(r);
    return rc;
}

/* Compare the entries of one stream in order. */
static void check_stream(const char *path, const struct expected *x, int stream)
{
    struct trace_reader *r;
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(trace_open(path, &r, &err), E2_OK);
    struct trace_entry e;
    int i = 0, mismatches = 0, got = 0;
    while (trace_next(r, &e, &err) == E2_OK && e.type != TRACE_END) {
        int s = e.type == TRACE_MARK ? TRACE_RUN : e.stream;
        if (s != stream)
            continue;
        while (i < x->n && (x->e[i].type == TRACE_MARK ? TRACE_RUN : x->e[i].stream) != stream)
            i++;
        if (i >= x->n) {
            mismatches++;
            break;
        }
        const struct expect *w = &x->e[i++];
        got++;
        if ((int)e.type != w->type)
            mismatches++;
        else if (e.type == TRACE_OP &&
                 (!oprec_equal(e.rec, &w->rec) || e.repeat != w->repeat)) {
            mismatches++;
        }
        else if (e.type == TRACE_MARK && e.iteration != w->iteration)
            mismatches++;
    }
    CU_ASSERT_EQUAL(e.type, TRACE_END);
    CU_ASSERT_EQUAL(mismatches, 0);
    int want = 0;
    for (int j = 0; j < x->n; j++)
        want += (x->e[j].type == TRACE_MARK ? TRACE_RUN : x->e[j].stream) == stream;
    CU_ASSERT_EQUAL(got, want);
    trace_close(r);
}

static void test_round_trip(void)
{
    char path[256];
    path_of(path, sizeof path, "rt.e2t");
    struct expected x;
    write_sample(path, 200, &x);
    check_stream(path, &x, TRACE_RUN);
    check_stream(path, &x, TRACE_BASELINE);

    struct trace_reader *r;
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(trace_open(path, &r, &err), E2_OK);
    const struct trace_header *h = trace_reader_header(r);
    CU_ASSERT_STRING_EQUAL(h->network, "resnet-8");
    CU_ASSERT_STRING_EQUAL(h->dataset, "fashion-mnist");
    CU_ASSERT_STRING_EQUAL(h->config_text, "name: t\ntraining:\n  iterations: 5\n");
    CU_ASSERT_EQUAL(h->config_hash, trace_config_hash(h->config_text));
    CU_ASSERT_EQUAL(h->format_version, TRACE_FORMAT_VERSION);
    CU_ASSERT_EQUAL(h->oprec_version, OPREC_VERSION);
    CU_ASSERT_EQUAL_FATAL(h->layer_count, 2);
    CU_ASSERT_EQUAL(h->layers[1].id, 7);
    CU_ASSERT_STRING_EQUAL(h->layers[1].name, "s1.b0.conv2");
    struct trace_entry e;
    uint64_t ops[2] = {0, 0}, marks = 0;
    int nan_seen = 0;
    while (trace_next(r, &e, &err) == E2_OK && e.type != TRACE_END) {
        if (e.type == TRACE_OP) {
            ops[e.stream] += e.repeat;
            CU_ASSERT(oprec_equal(trace_reader_record(r, e.stream, e.index), e.rec));
        } else {
            marks++;
            nan_seen += isnan(e.test_top1);
            if (e.iteration == 20) {
                CU_ASSERT_EQUAL(e.train_loss, 1.0 / 20);
                CU_ASSERT_EQUAL(e.test_top1, 0.5);
            }
        }
    }
    CU_ASSERT_EQUAL(e.type, TRACE_END);
    CU_ASSERT_EQUAL(ops[TRACE_RUN], 200 * 10);
    CU_ASSERT_EQUAL(ops[TRACE_BASELINE], 6 * 201);
    CU_ASSERT_EQUAL(marks, 20);
    CU_ASSERT_EQUAL(nan_seen, 1);
    CU_ASSERT_EQUAL(trace_reader_distinct(r, TRACE_RUN), 6 * 5 + 1);
    CU_ASSERT_EQUAL(trace_reader_distinct(r, TRACE_BASELINE), 6);
    struct trace_totals tot = trace_reader_totals(r);
    CU_ASSERT_EQUAL(tot.ops[TRACE_RUN], 2000);
    CU_ASSERT_EQUAL(tot.entries[TRACE_RUN], 200 * 7);   /* 6 convs (one with repeat 2) + update */
    CU_ASSERT_EQUAL(tot.entries[TRACE_BASELINE], 6);
    const struct trace_result *res = trace_reader_result(r);
    CU_ASSERT_EQUAL(res->has_accuracy, 1);
    CU_ASSERT_EQUAL(res->top1, 0.875);
    CU_ASSERT_EQUAL(res->top5, 0.1 + 0.2);
    CU_ASSERT_EQUAL(res->iterations, 200);
    CU_ASSERT_EQUAL(res->minibatches_processed, 199);
    CU_ASSERT_EQUAL(res->slu_blocks, 3);
    CU_ASSERT_EQUAL(res->slu_block_skip[2], 0.9);
    CU_ASSERT_EQUAL(res->wall_seconds, 4.25);
    trace_close(r);
    free(x.e);
}

static void test_many_blocks(void)
{
    char path[256];
    path_of(path, sizeof path, "big.e2t");
    struct expected x;
    write_sample(path, 40000, &x);     /* ~400k entries: several 256 KiB blocks */
    struct trace_reader *r;
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(trace_open(path, &r, &err), E2_OK);
    struct trace_entry e;
    while (trace_next(r, &e, &err) == E2_OK && e.type != TRACE_END)
        ;
    CU_ASSERT_EQUAL(e.type, TRACE_END);
    struct trace_totals tot = trace_reader_totals(r);
    CU_ASSERT(tot.blocks[TRACE_RUN] >= 2);
    CU_ASSERT_EQUAL(tot.ops[TRACE_RUN], 400000);
    trace_close(r);
    check_stream(path, &x, TRACE_RUN);
    struct stat st;
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    CU_ASSERT(st.st_size < 400000 / 4);   /* well under a byte per executed op */
    free(x.e);
    remove(path);
}

static void test_run_length(void)
{
    char path[256];
    path_of(path, sizeof path, "rl.e2t");
    struct trace_header h = header();
    struct trace_writer *t;
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(trace_create(path, &h, &t, &err), E2_OK);
    struct oprec a = conv(1, OP_PHASE_FWD, 128);
    for (int i = 0; i < 1000000; i++)
        trace_add(t, TRACE_RUN, &a, 1);
    CU_ASSERT_EQUAL(trace_writer_totals(t).ops[TRACE_RUN], 1000000);
    CU_ASSERT_EQUAL_FATAL(trace_finish(t, NULL, &err), E2_OK);
    struct stat st;
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    CU_ASSERT(st.st_size < 400);
    struct trace_reader *r;
    CU_ASSERT_EQUAL_FATAL(trace_open(path, &r, &err), E2_OK);
    struct trace_entry e;
    CU_ASSERT_EQUAL(trace_next(r, &e, &err), E2_OK);
    CU_ASSERT_EQUAL(e.type, TRACE_OP);
    CU_ASSERT_EQUAL(e.repeat, 1000000);
    CU_ASSERT_EQUAL(trace_next(r, &e, &err), E2_OK);
    CU_ASSERT_EQUAL(e.type, TRACE_END);
    CU_ASSERT_EQUAL(trace_reader_result(r)->has_accuracy, 0);
    trace_close(r);
}

static unsigned char *load(const char *path, long *size)
{
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    *size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)*size);
    if (fread(b, 1, (size_t)*size, f) != (size_t)*size)
        *size = 0;
    fclose(f);
    return b;
}

static void save(const char *path, const unsigned char *b, long size)
{
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, (size_t)size, f);
    fclose(f);
}

/* Flip every byte in turn: each must be detected (E2_BAD_INPUT, message with the offset). */
static void test_every_flipped_byte_is_detected(void)
{
    char path[256], bad[256];
    path_of(path, sizeof path, "small.e2t");
    path_of(bad, sizeof bad, "flipped.e2t");
    write_sample(path, 30, NULL);
    long size;
    unsigned char *b = load(path, &size);
    CU_ASSERT_FATAL(size > 100);
    int undetected = 0, unnamed = 0;
    for (long i = 0; i < size; i++) {
        b[i] ^= 0x20;
        save(bad, b, size);
        b[i] ^= 0x20;
        struct e2_err err = {{0}};
        int rc = read_all(bad, &err);
        if (rc != E2_BAD_INPUT)
            undetected++;
        else if (!strstr(err.msg, "flipped.e2t: byte offset "))
            unnamed++;
    }
    CU_ASSERT_EQUAL(undetected, 0);
    CU_ASSERT_EQUAL(unnamed, 0);
    /* a flip inside the first block names that block's offset */
    struct trace_reader *r;
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(trace_open(path, &r, &err), E2_OK);
    trace_close(r);
    long header_len = 20 + (long)(b[16] | b[17] << 8 | b[18] << 16) + 4;
    b[header_len + 20] ^= 1;  /* a payload byte of the first block */
    save(bad, b, size);
    CU_ASSERT_EQUAL(read_all(bad, &err), E2_BAD_INPUT);
    char want[64];
    snprintf(want, sizeof want, "byte offset %ld: block checksum mismatch", header_len);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, want));
    free(b);
}

static void test_every_truncation_is_detected(void)
{
    char path[256], bad[256];
    path_of(path, sizeof path, "small.e2t");
    path_of(bad, sizeof bad, "cut.e2t");
    write_sample(path, 30, NULL);
    long size;
    unsigned char *b = load(path, &size);
    int undetected = 0;
    for (long n = 0; n < size; n++) {
        save(bad, b, n);
        struct e2_err err = {{0}};
        if (read_all(bad, &err) != E2_BAD_INPUT || !strstr(err.msg, "byte offset"))
            undetected++;
    }
    CU_ASSERT_EQUAL(undetected, 0);
    /* extra bytes after the end marker too */
    unsigned char *longer = malloc((size_t)size + 1);
    memcpy(longer, b, (size_t)size);
    longer[size] = 0;
    save(bad, longer, size + 1);
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL(read_all(bad, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "after the trailer"));
    free(longer);
    free(b);
}

static void patch_header_crc(unsigned char *b)
{
    long len = 20 + (long)(b[16] | b[17] << 8 | b[18] << 16);
    uint32_t crc = (uint32_t)crc32(0L, b, (uInt)len);
    for (int i = 0; i < 4; i++)
        b[len + i] = (unsigned char)(crc >> (8 * i));
}

static void test_version_mismatch(void)
{
    char path[256], bad[256];
    path_of(path, sizeof path, "small.e2t");
    path_of(bad, sizeof bad, "version.e2t");
    write_sample(path, 3, NULL);
    long size;
    unsigned char *b = load(path, &size);
    struct e2_err err = {{0}};

    b[8] = 2;   /* format version 2, checksum made valid */
    patch_header_crc(b);
    save(bad, b, size);
    CU_ASSERT_EQUAL(read_all(bad, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "byte offset 8: trace format version 2 is not "
                                           "supported (this e2sim reads version 1)"));
    b[8] = TRACE_FORMAT_VERSION;
    b[12] = OPREC_VERSION + 1;   /* op-record version from a newer e2sim */
    patch_header_crc(b);
    save(bad, b, size);
    CU_ASSERT_EQUAL(read_all(bad, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "byte offset 12: op record version"));
    b[12] = OPREC_VERSION;
    patch_header_crc(b);
    save(bad, b, size);
    CU_ASSERT_EQUAL(read_all(bad, &err), E2_OK);
    memcpy(b, "E2TRACX\n", 8);
    save(bad, b, size);
    CU_ASSERT_EQUAL(read_all(bad, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "byte offset 0: not an e2sim trace"));
    CU_ASSERT_EQUAL(read_all("/nonexistent.e2t", &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "/nonexistent.e2t: cannot open"));
    free(b);
}

static void test_written_atomically(void)
{
    char path[256], tmp[300];
    path_of(path, sizeof path, "atomic.e2t");
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    struct trace_header h = header();
    struct trace_writer *t;
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(trace_create(path, &h, &t, &err), E2_OK);
    struct oprec a = conv(1, OP_PHASE_FWD, 4);
    trace_add(t, TRACE_RUN, &a, 1);
    CU_ASSERT_EQUAL(access(path, F_OK), -1);    /* not there until finished */
    CU_ASSERT_EQUAL(access(tmp, F_OK), 0);
    trace_abort(t);
    CU_ASSERT_EQUAL(access(tmp, F_OK), -1);
    CU_ASSERT_EQUAL(access(path, F_OK), -1);
    /* a path that cannot hold the trace is the user's to fix (exit status 2), said at once */
    CU_ASSERT_EQUAL(trace_create("/nonexistent/x.e2t", &h, &t, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "/nonexistent/x.e2t: cannot create"));
    CU_ASSERT_EQUAL(trace_create(dir, &h, &t, &err), E2_BAD_INPUT);   /* a folder */
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "exists and is not a regular file"));
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", dir, (long)getpid());
    CU_ASSERT_EQUAL(access(tmp, F_OK), -1);
}

/* Every sample trace shipped in traces/ reads back intact (checksums, totals, trailer). */
static void test_sample_traces(void)
{
    const char *names[] = {"resnet8-fmnist-1k.e2t", "resnet20-cifar10-64k.e2t"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/traces/%s", E2SIM_SOURCE_DIR, names[i]);
        struct trace_reader *r;
        struct e2_err err = {{0}};
        CU_ASSERT_EQUAL_FATAL(trace_open(path, &r, &err), E2_OK);
        struct trace_entry e;
        int rc;
        while ((rc = trace_next(r, &e, &err)) == E2_OK && e.type != TRACE_END)
            ;
        CU_ASSERT_EQUAL(rc, E2_OK);
        struct trace_totals t = trace_reader_totals(r);
        CU_ASSERT(t.ops[TRACE_RUN] > 0);
        CU_ASSERT(t.ops[TRACE_BASELINE] > 0);
        const struct trace_header *h = trace_reader_header(r);
        CU_ASSERT_EQUAL(h->config_hash, trace_config_hash(h->config_text));
        if (i == 1) {
            CU_ASSERT_STRING_EQUAL(h->network, "resnet-20");
            CU_ASSERT_STRING_EQUAL(h->dataset, "cifar10");
            CU_ASSERT_EQUAL(trace_reader_result(r)->iterations, 64000);
        }
        trace_close(r);
    }
}

/* A finished trace whose run stream holds r repeated `repeat` times. */
static void write_one(const char *name, const struct oprec *r, uint64_t repeat)
{
    char path[256];
    path_of(path, sizeof path, name);
    struct trace_header h = header();
    struct trace_writer *w;
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(trace_create(path, &h, &w, &err), E2_OK);
    trace_add(w, TRACE_RUN, r, repeat);
    CU_ASSERT_EQUAL_FATAL(trace_finish(w, NULL, &err), E2_OK);
}

static void expect_rejected(const char *name, const char *why)
{
    char path[256];
    struct e2_err err = {{0}};
    path_of(path, sizeof path, name);
    CU_ASSERT_EQUAL(read_all(path, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, why));
    if (!strstr(err.msg, why))
        fprintf(stderr, "\n  got: %s\n", err.msg);
}

/* Issue 12, finding 2: counts read from a trace are checked before they size anything (a record
 * with n = 2^32 - 1 made the mapper allocate 12 GB), and repeats cannot wrap the op count. */
static void test_record_limits(void)
{
    struct oprec r = conv(0, OP_PHASE_FWD, 4294967295u);
    write_one("huge_n.e2t", &r, 1);
    expect_rejected("huge_n.e2t", "invalid op record 0 of stream 0: n = 4294967295 samples");
    r = conv(0, OP_PHASE_FWD, 8);
    r.kind = 200;
    write_one("kind.e2t", &r, 1);
    expect_rejected("kind.e2t", "unknown op kind 200");
    r = conv(0, OP_PHASE_FWD, 65536);
    r.h_in = r.w_in = r.h_out = r.w_out = 4096;
    write_one("big_tensor.e2t", &r, 1);
    expect_rejected("big_tensor.e2t", "a tensor of more than");
    /* found by random records: a ReLU of 10^10 elements kept the mapper busy for 8 s */
    memset(&r, 0, sizeof r);
    r.kind = OP_RELU;
    r.n = 6;
    r.cin = 21010;
    r.cout = 65535;
    r.h_in = 39304;
    r.w_in = 2;
    r.w_out = 32701;
    r.bits_a = r.bits_out = 8;
    write_one("relu.e2t", &r, 1);
    expect_rejected("relu.e2t", "a tensor of more than 268435456 elements");
    r = conv(0, OP_PHASE_FWD, 8);
    write_one("repeat.e2t", &r, 1ull << 62);
    expect_rejected("repeat.e2t", "repeat count too large");
    /* a FIFO is refused, not waited on */
    char fifo[256];
    struct e2_err err = {{0}};
    path_of(fifo, sizeof fifo, "fifo.e2t");
    CU_ASSERT_EQUAL_FATAL(mkfifo(fifo, 0600), 0);
    CU_ASSERT_EQUAL(read_all(fifo, &err), E2_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "not a regular file"));
    const char *files[] = {"huge_n.e2t", "kind.e2t", "big_tensor.e2t", "relu.e2t", "repeat.e2t",
                           "fifo.e2t"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[256];
        path_of(path, sizeof path, files[i]);
        remove(path);
    }
}

/* Section `name` of c replaced by size bytes of data (it must be there). */
static void replace_section(struct ckpt *c, const char *name, const void *data, size_t size)
{
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->s[i].name, name) == 0) {
            void *copy = malloc(size + 1);
            CU_ASSERT_FATAL(copy != NULL);
            memcpy(copy, data, size);
            free(c->s[i].data);
            c->s[i].data = copy;
            c->s[i].size = size;
            return;
        }
    CU_FAIL_FATAL("no such section");
}

/* A copy of c, through its file format, as a resume would read it. */
static void copy_ckpt(const struct ckpt *c, struct ckpt *out)
{
    unsigned char *buf;
    size_t len;
    struct e2_err err = {{0}};
    CU_ASSERT_FATAL(ckpt_serialize(c, &buf, &len) == 0);
    CU_ASSERT_FATAL(ckpt_parse(buf, len, "ck.e2ck", out, &err) == E2_OK);
    free(buf);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* A resume opens and truncates the unfinished trace its checkpoint names: a checkpoint with
 * good checksums could name any file there (holding the bytes its CRC expects) and have it
 * cut. Only the trace's own temporary, PATH.tmp.PID, is taken; another is refused naming the
 * checkpoint, the file untouched. A dictionary that holds a record twice was "out of memory
 * (or a damaged dictionary)", exit status 1, after cutting the unfinished trace and removing
 * it; it is a damaged checkpoint (status 2), refused before the trace is opened. */
static void test_resume_checks_checkpoint(void)
{
    char path[256], tmp[300], victim[256], copy[1200];
    path_of(path, sizeof path, "resumed.e2t");
    path_of(victim, sizeof victim, "victim.dat");
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    struct trace_header h = header();
    struct trace_writer *t, *r = NULL;
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(trace_create(path, &h, &t, &err), E2_OK);
    struct oprec a = conv(1, OP_PHASE_FWD, 4), b = conv(2, OP_PHASE_FWD, 4);
    trace_add(t, TRACE_RUN, &a, 3);
    trace_add(t, TRACE_RUN, &b, 2);
    struct ckpt c;
    ckpt_init(&c);
    CU_ASSERT_EQUAL_FATAL(trace_save(t, &c, &err), E2_OK);

    /* the victim holds the temporary's bytes (so the CRC matches) and a tail the cut would lose;
       the temporary gets bytes written after the checkpoint, which a resume cuts */
    snprintf(copy, sizeof copy, "cp '%s' '%s' && printf precious >> '%s' && printf later >> '%s'",
             tmp, victim, victim, tmp);
    CU_ASSERT_FATAL(system(copy) == 0);
    long before = file_size(victim), tmp_size = file_size(tmp);
    const char *others[] = {victim, "/etc/passwd", tmp + strlen(dir) + 1, "x"};
    char names[3][320];
    snprintf(names[0], sizeof names[0], "%s.tmp.0", path);
    snprintf(names[1], sizeof names[1], "%s.tmp.12x", path);
    snprintf(names[2], sizeof names[2], "%s.tmp.", path);
    for (int i = 0; i < 7; i++) {
        const char *name = i < 4 ? others[i] : names[i - 4];
        struct ckpt bad;
        copy_ckpt(&c, &bad);
        replace_section(&bad, "trace_tmp", name, strlen(name) + 1);
        r = NULL;   /* (left open when wrongly taken: closing it would remove the file) */
        CU_ASSERT_EQUAL(trace_resume(path, &bad, "ck.e2ck", &r, &err), E2_BAD_INPUT);
        CU_ASSERT(strstr(err.msg, "ck.e2ck: a damaged checkpoint: its unfinished trace is not "
                                  "a temporary of ") != NULL);
        ckpt_free(&bad);
    }
    CU_ASSERT_EQUAL(file_size(victim), before);
    remove(victim);

    /* the second record of the dictionary made a copy of the first */
    size_t size = 0;
    const unsigned char *dict = ckpt_get(&c, "trace_dict_run", &size);
    CU_ASSERT_FATAL(dict != NULL && size == 2 * OPREC_PACKED_SIZE);
    unsigned char twice[2 * OPREC_PACKED_SIZE];
    memcpy(twice, dict, OPREC_PACKED_SIZE);
    memcpy(twice + OPREC_PACKED_SIZE, dict, OPREC_PACKED_SIZE);
    struct ckpt dup;
    copy_ckpt(&c, &dup);
    replace_section(&dup, "trace_dict_run", twice, sizeof twice);
    CU_ASSERT_EQUAL(trace_resume(path, &dup, "ck.e2ck", &r, &err), E2_BAD_INPUT);
    CU_ASSERT(strstr(err.msg, "checkpoint ck.e2ck has a damaged trace dictionary (record 1 "
                              "repeats record 0)") != NULL);
    CU_ASSERT_EQUAL(file_size(tmp), tmp_size);   /* refused before the file is touched */
    ckpt_free(&dup);

    /* the checkpoint as saved resumes */
    int rc = trace_resume(path, &c, "ck.e2ck", &r, &err);
    CU_ASSERT_EQUAL(rc, E2_OK);
    if (rc == E2_OK) {
        CU_ASSERT_EQUAL(trace_finish(r, NULL, &err), E2_OK);
        CU_ASSERT_EQUAL(read_all(path, &err), E2_OK);
    }
    ckpt_free(&c);
    trace_abort(t);
    remove(path);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/e2sim-test-trace-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    CU_TestInfo tests[] = {
        { "round trip: records, repeats, marks, header, trailer", test_round_trip },
        { "many blocks, compact", test_many_blocks },
        { "run-length: a million identical records", test_run_length },
        { "every flipped byte is detected", test_every_flipped_byte_is_detected },
        { "every truncation is detected", test_every_truncation_is_detected },
        { "version mismatch", test_version_mismatch },
        { "written atomically", test_written_atomically },
        { "sample traces in traces/ read back", test_sample_traces },
        { "record counts and repeats checked", test_record_limits },
        { "a resume takes only the checkpoint's own trace", test_resume_checks_checkpoint },
        CU_TEST_INFO_NULL,
    };
    int failed = cunit_run("trace", NULL, NULL, tests);
    const char *files[] = {"rt.e2t", "small.e2t", "flipped.e2t", "cut.e2t", "version.e2t",
                           "rl.e2t", "big.e2t"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[256];
        path_of(path, sizeof path, files[i]);
        remove(path);
    }
    rmdir(dir);
    return failed ? 1 : 0;
}
