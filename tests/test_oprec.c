/* The op record's field list and what oprec.c generates from it: the struct agrees with the
 * list (and keeps the layout checkpoints store), a change in any one field makes records unequal
 * and hash differently, the varint fields and the packed form round-trip, every kind, phase and
 * technique has one name, and the canonical form clears exactly what never changes the cost. */
#include "cunit_main.h"
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "oprec.h"

/* A record with a different, non-zero value in every field. */
static struct oprec sample(void)
{
    uint64_t f[OPREC_FIELD_COUNT];
    for (int i = 0; i < OPREC_FIELD_COUNT; i++)
        f[i] = (uint64_t)(3 * i + 1);
    struct oprec r;
    CU_ASSERT_FATAL(oprec_from_fields(f, &r) == 0);
    return r;
}

/* The layout every checkpoint written so far holds (x86-64): offsets in list order, 36 bytes. */
static void test_struct_matches_list(void)
{
    static const size_t want_offset[] = {0,  2,  3,  4,  5,  6,  7,  8,  12, 14, 16,
                                         18, 20, 22, 24, 26, 27, 28, 29, 30, 31, 32};
    size_t offset[] = {
#define OFFSET(type, name) offsetof(struct oprec, name),
        OPREC_FIELDS(OFFSET)
#undef OFFSET
    };
    size_t size[] = {
#define SIZE(type, name) sizeof(type),
        OPREC_FIELDS(SIZE)
#undef SIZE
    };
    size_t member_size[] = {
#define MEMBER_SIZE(type, name) sizeof(((struct oprec *)0)->name),
        OPREC_FIELDS(MEMBER_SIZE)
#undef MEMBER_SIZE
    };
    CU_ASSERT_EQUAL_FATAL(OPREC_FIELD_COUNT, 22);
    CU_ASSERT_EQUAL_FATAL(sizeof offset / sizeof offset[0], (size_t)OPREC_FIELD_COUNT);
    size_t end = 0;
    for (int i = 0; i < OPREC_FIELD_COUNT; i++) {
        CU_ASSERT_EQUAL(offset[i], want_offset[i]);
        CU_ASSERT_EQUAL(size[i], member_size[i]);
        CU_ASSERT(offset[i] >= end);            /* list order is struct order, no overlap */
        end = offset[i] + size[i];
    }
    CU_ASSERT(end <= sizeof(struct oprec));
    CU_ASSERT_EQUAL(sizeof(struct oprec), 36);
    CU_ASSERT_EQUAL(OPREC_PACKED_SIZE, sizeof(struct oprec));
}

static void test_one_field_changes_equality_and_hash(void)
{
    struct oprec base = sample();
    uint64_t f[OPREC_FIELD_COUNT];
    oprec_to_fields(&base, f);
    for (int i = 0; i < OPREC_FIELD_COUNT; i++) {
        uint64_t g[OPREC_FIELD_COUNT];
        memcpy(g, f, sizeof g);
        g[i] ^= 1;
        struct oprec other;
        CU_ASSERT_FATAL(oprec_from_fields(g, &other) == 0);
        CU_ASSERT(!oprec_equal(&base, &other));
        CU_ASSERT(!oprec_equal(&other, &base));
        CU_ASSERT(oprec_hash(&base) != oprec_hash(&other));
    }
}

static void test_padding_never_matters(void)
{
    struct oprec x = sample(), y;
    memset(&y, 0xa5, sizeof y);
#define COPY(type, name) y.name = x.name;
    OPREC_FIELDS(COPY)
#undef COPY
    CU_ASSERT(oprec_equal(&x, &y));
    CU_ASSERT_EQUAL(oprec_hash(&x), oprec_hash(&y));
    unsigned char px[OPREC_PACKED_SIZE], py[OPREC_PACKED_SIZE];
    oprec_pack(&x, px);
    oprec_pack(&y, py);
    CU_ASSERT(memcmp(px, py, sizeof px) == 0);
}

static void test_fields_round_trip(void)
{
    uint64_t max[OPREC_FIELD_COUNT];
    int i = 0;
#define MAX(type, name) max[i++] = (type)-1;
    OPREC_FIELDS(MAX)
#undef MAX
    struct oprec r;
    CU_ASSERT_FATAL(oprec_from_fields(max, &r) == 0);
    uint64_t back[OPREC_FIELD_COUNT];
    oprec_to_fields(&r, back);
    CU_ASSERT(memcmp(back, max, sizeof max) == 0);
    CU_ASSERT_EQUAL(r.n, 0xffffffffu);
    CU_ASSERT_EQUAL(r.psg_full_q16, 0xffff);
    for (int j = 0; j < OPREC_FIELD_COUNT; j++) {   /* one past a field's range is refused */
        uint64_t g[OPREC_FIELD_COUNT];
        memcpy(g, max, sizeof g);
        g[j] += 1;
        CU_ASSERT_EQUAL(oprec_from_fields(g, &r), -1);
    }
    struct oprec s = sample();
    oprec_to_fields(&s, back);
    CU_ASSERT_EQUAL(back[0], s.layer);      /* list order: layer first, psg_full_q16 last */
    CU_ASSERT_EQUAL(back[7], s.n);
    CU_ASSERT_EQUAL(back[OPREC_FIELD_COUNT - 1], s.psg_full_q16);
}

/* The packed form is little-endian at the struct offsets with zero padding: on this
 * (little-endian) machine, the bytes of a zeroed struct, which checkpoints stored before. */
static void test_pack_round_trip_and_layout(void)
{
    uint64_t max[OPREC_FIELD_COUNT];
    int i = 0;
#define NEAR_MAX(type, name) max[i] = (type)-1 - (uint64_t)i; i++;
    OPREC_FIELDS(NEAR_MAX)
#undef NEAR_MAX
    struct oprec recs[2] = {sample()};
    CU_ASSERT_FATAL(oprec_from_fields(max, &recs[1]) == 0);
    for (int k = 0; k < 2; k++) {
        unsigned char packed[OPREC_PACKED_SIZE];
        memset(packed, 0xff, sizeof packed);
        oprec_pack(&recs[k], packed);
        struct oprec zeroed, back;
        memset(&zeroed, 0, sizeof zeroed);
#define COPY(type, name) zeroed.name = recs[k].name;
        OPREC_FIELDS(COPY)
#undef COPY
        const uint16_t one = 1;
        if (*(const unsigned char *)&one == 1)
            CU_ASSERT(memcmp(packed, &zeroed, sizeof packed) == 0);
        memset(&back, 0x5a, sizeof back);
        oprec_unpack(packed, &back);
        CU_ASSERT(oprec_equal(&back, &recs[k]));
    }
    unsigned char packed[OPREC_PACKED_SIZE];
    struct oprec r;
    memset(&r, 0, sizeof r);
    r.n = 0x01020304u;
    oprec_pack(&r, packed);
    CU_ASSERT(packed[8] == 4 && packed[9] == 3 && packed[10] == 2 && packed[11] == 1);
}

static void test_names(void)
{
    static const char *const kinds[] = {"conv", "fc",   "bn",   "relu",  "add",
                                        "pool", "gate", "loss", "update"};
    static const char *const phases[] = {"forward", "backward_data", "backward_weight", "update"};
    static const char *const techs[] = {"base", "slu", "psg", "swa"};
    CU_ASSERT_EQUAL_FATAL(sizeof kinds / sizeof kinds[0], (size_t)OP_KIND_COUNT);
    CU_ASSERT_EQUAL_FATAL(sizeof phases / sizeof phases[0], (size_t)OP_PHASE_COUNT);
    CU_ASSERT_EQUAL_FATAL(sizeof techs / sizeof techs[0], (size_t)OP_TECH_COUNT);
    for (unsigned k = 0; k < OP_KIND_COUNT; k++)
        CU_ASSERT_STRING_EQUAL(oprec_kind_name(k), kinds[k]);
    for (unsigned p = 0; p < OP_PHASE_COUNT; p++)
        CU_ASSERT_STRING_EQUAL(oprec_phase_name(p), phases[p]);
    for (unsigned t = 0; t < OP_TECH_COUNT; t++)
        CU_ASSERT_STRING_EQUAL(oprec_tech_name(t), techs[t]);
    CU_ASSERT_STRING_EQUAL(oprec_kind_name(OP_KIND_COUNT), "?");
    CU_ASSERT_STRING_EQUAL(oprec_phase_name(OP_PHASE_COUNT), "?");
    CU_ASSERT_STRING_EQUAL(oprec_tech_name(OP_TECH_COUNT), "?");
    CU_ASSERT_STRING_EQUAL(oprec_kind_name(0xffffffffu), "?");
}

static void test_canonical(void)
{
    struct oprec r = sample();
    r.kind = OP_CONV;
    r.phase = OP_PHASE_BWD_WEIGHT;
    struct oprec c = oprec_canonical(&r);
    CU_ASSERT_EQUAL(c.layer, 0);
    CU_ASSERT_EQUAL(c.tech, 0);
    CU_ASSERT_EQUAL(c.n, r.n);                  /* a PSG weight gradient keeps n and PSG */
    CU_ASSERT_EQUAL(c.msb_a, r.msb_a);
    CU_ASSERT_EQUAL(c.psg_full_q16, r.psg_full_q16);
    c.layer = r.layer;
    c.tech = r.tech;
    CU_ASSERT(oprec_equal(&c, &r));             /* nothing else changed */

    r.phase = OP_PHASE_FWD;                     /* PSG fields mean nothing outside it */
    c = oprec_canonical(&r);
    CU_ASSERT(c.msb_a == 0 && c.msb_b == 0 && c.psg_full_q16 == 0);
    CU_ASSERT_EQUAL(c.n, r.n);

    r.kind = OP_UPDATE;                         /* an update's work does not scale with n */
    r.phase = OP_PHASE_UPDATE;
    CU_ASSERT(!oprec_depends_on_n(&r));
    CU_ASSERT_EQUAL(oprec_canonical(&r).n, 0);
    r.kind = OP_BN;
    r.phase = OP_PHASE_FWD;
    CU_ASSERT(oprec_depends_on_n(&r));

    struct oprec a = sample(), b = sample();    /* attribution alone never splits */
    b.layer = (uint16_t)(a.layer + 5);
    b.tech = OP_TECH_SWA;
    struct oprec ca = oprec_canonical(&a), cb = oprec_canonical(&b);
    CU_ASSERT(oprec_equal(&ca, &cb));
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"struct matches the field list", test_struct_matches_list},
        {"one field changes equality and hash", test_one_field_changes_equality_and_hash},
        {"padding never matters", test_padding_never_matters},
        {"fields round trip", test_fields_round_trip},
        {"pack round trip and layout", test_pack_round_trip_and_layout},
        {"names", test_names},
        {"canonical", test_canonical},
        CU_TEST_INFO_NULL,
    };
    return cunit_run("oprec", NULL, NULL, tests);
}
