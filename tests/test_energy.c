/* Energy glue: every emitted record is accounted exactly once (with its repeat count), padding
 * bytes never split identical records, and checkpoints restore the counts. */
#include "cunit_main.h"
#include <stdlib.h>
#include <string.h>

#include "energy.h"

/* An account function that records what it was given. */
struct seen {
    int calls;
    uint64_t records;
    uint64_t macs;
    struct oprec last;
};

static int count_account(void *ctx, const struct oprec *r, uint64_t repeat, char *err,
                         size_t errlen)
{
    (void)err;
    (void)errlen;
    struct seen *s = ctx;
    s->calls++;
    s->records += repeat;
    s->macs += oprec_macs(r) * repeat;
    s->last = *r;
    return 0;
}

static struct oprec conv_rec(int layer, int n)
{
    struct oprec r;
    memset(&r, 0, sizeof r);
    r.layer = (uint16_t)layer;
    r.kind = OP_CONV;
    r.phase = OP_PHASE_FWD;
    r.k = 3;
    r.stride = 1;
    r.pad = 1;
    r.n = (uint32_t)n;
    r.cin = r.cout = 16;
    r.groups = 1;
    r.h_in = r.w_in = r.h_out = r.w_out = 8;
    r.bits_a = r.bits_b = 8;
    r.bits_out = 16;
    r.bits_acc = 48;
    return r;
}

static void test_counts(void)
{
    struct seen s = {0};
    struct energy_acc a;
    CU_ASSERT_EQUAL_FATAL(energy_init(&a, count_account, &s), 0);
    uint64_t emitted = 0, macs = 0;
    /* 300 "iterations" of 40 layers with a varying batch: many repeats, 40*5 distinct */
    for (int it = 0; it < 300; it++) {
        for (int l = 0; l < 40; l++) {
            struct oprec r = conv_rec(l, 100 + it % 5);
            op_emit(&a.sink, &r);
            emitted++;
            macs += oprec_macs(&r);
        }
        if (it % 50 == 49)
            energy_flush(&a, NULL);
    }
    energy_flush(&a, NULL);
    CU_ASSERT_EQUAL(a.emitted, emitted);
    CU_ASSERT_EQUAL(a.accounted, emitted);
    CU_ASSERT_EQUAL(s.records, emitted);
    CU_ASSERT_EQUAL(s.macs, macs);
    CU_ASSERT_EQUAL(energy_total_records(&a), emitted);
    CU_ASSERT_EQUAL(energy_distinct(&a), 200);
    /* far fewer pricing calls than records */
    CU_ASSERT(s.calls < (int)emitted / 5);
    /* a second flush with nothing pending prices nothing */
    int calls = s.calls;
    energy_flush(&a, NULL);
    CU_ASSERT_EQUAL(s.calls, calls);
    energy_free(&a);
}

static void test_padding_ignored(void)
{
    struct seen s = {0};
    struct energy_acc a;
    CU_ASSERT_EQUAL_FATAL(energy_init(&a, count_account, &s), 0);
    struct oprec x = conv_rec(3, 64), y;
    memset(&y, 0xa5, sizeof y);           /* garbage in the padding */
#define COPY(type, name) y.name = x.name;
    OPREC_FIELDS(COPY)
#undef COPY
    CU_ASSERT(oprec_equal(&x, &y));
    op_emit(&a.sink, &x);
    op_emit(&a.sink, &y);
    CU_ASSERT_EQUAL(energy_distinct(&a), 1);
    energy_flush(&a, NULL);
    CU_ASSERT_EQUAL(s.calls, 1);
    CU_ASSERT_EQUAL(s.records, 2);
    y.psg_full_q16 = 7;                   /* a real difference is a new record */
    op_emit(&a.sink, &y);
    CU_ASSERT_EQUAL(energy_distinct(&a), 2);
    energy_free(&a);
}

static void test_save_load(void)
{
    struct seen s1 = {0}, s2 = {0};
    struct energy_acc a, b;
    CU_ASSERT_EQUAL_FATAL(energy_init(&a, count_account, &s1), 0);
    CU_ASSERT_EQUAL_FATAL(energy_init(&b, count_account, &s2), 0);
    for (int i = 0; i < 5000; i++) {
        struct oprec r = conv_rec(i % 13, 1 + i % 128);
        energy_add(&a, &r, 1 + (uint64_t)(i % 3));
    }
    energy_flush(&a, NULL);
    struct ckpt c;
    ckpt_init(&c);
    CU_ASSERT_EQUAL_FATAL(energy_save(&a, &c), 0);
    struct e2_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(energy_load(&b, &c, "x.e2ck", &err), E2_OK);
    energy_flush(&b, NULL);
    CU_ASSERT_EQUAL(s2.records, s1.records);
    CU_ASSERT_EQUAL(s2.macs, s1.macs);
    CU_ASSERT_EQUAL(energy_distinct(&b), energy_distinct(&a));
    /* a damaged section is refused */
    struct ckpt bad;
    ckpt_init(&bad);
    CU_ASSERT_EQUAL(ckpt_put(&bad, "energy", "abc", 3), 0);
    struct energy_acc e;
    CU_ASSERT_EQUAL_FATAL(energy_init(&e, NULL, NULL), 0);
    CU_ASSERT_EQUAL(energy_load(&e, &bad, "x.e2ck", &err), E2_BAD_INPUT);
    energy_free(&e);
    ckpt_free(&bad);
    ckpt_free(&c);
    energy_free(&a);
    energy_free(&b);
}

int main(void)
{
    CU_TestInfo tests[] = {
        { "records accounted equal records emitted", test_counts },
        { "padding bytes never split a record", test_padding_ignored },
        { "checkpoint restores the counts", test_save_load },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("energy", NULL, NULL, tests);
}
