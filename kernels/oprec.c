/* The op record's field-wise operations, all generated from OPREC_FIELDS (oprec.h). */
#include "oprec.h"

#include <stddef.h>
#include <string.h>

int oprec_equal(const struct oprec *x, const struct oprec *y)
{
#define SAME(type, name) &&x->name == y->name
    return 1 OPREC_FIELDS(SAME);
#undef SAME
}

/* FNV-1a over the field values with an extra shift mix, so that small fields spread. */
uint64_t oprec_hash(const struct oprec *r)
{
    uint64_t h = 1469598103934665603ull;
#define MIX(type, name)         \
    h ^= (uint64_t)r->name;     \
    h *= 1099511628211ull;      \
    h ^= h >> 29;
    OPREC_FIELDS(MIX)
#undef MIX
    return h;
}

void oprec_to_fields(const struct oprec *r, uint64_t f[OPREC_FIELD_COUNT])
{
    int i = 0;
#define OUT(type, name) f[i++] = r->name;
    OPREC_FIELDS(OUT)
#undef OUT
}

int oprec_from_fields(const uint64_t f[OPREC_FIELD_COUNT], struct oprec *r)
{
    int i = 0;
    memset(r, 0, sizeof *r);
#define IN(type, name)               \
    if (f[i] > (type)-1)             \
        return -1;                   \
    r->name = (type)f[i++];
    OPREC_FIELDS(IN)
#undef IN
    return 0;
}

static void store_le(unsigned char *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t load_le(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

void oprec_pack(const struct oprec *r, unsigned char *out)
{
    memset(out, 0, OPREC_PACKED_SIZE);
#define PACK(type, name) store_le(out + offsetof(struct oprec, name), r->name, sizeof(type));
    OPREC_FIELDS(PACK)
#undef PACK
}

void oprec_unpack(const unsigned char *in, struct oprec *r)
{
    memset(r, 0, sizeof *r);
#define UNPACK(type, name) \
    r->name = (type)load_le(in + offsetof(struct oprec, name), sizeof(type));
    OPREC_FIELDS(UNPACK)
#undef UNPACK
}

int oprec_depends_on_n(const struct oprec *r)
{
    return !(r->kind == OP_UPDATE || r->phase == OP_PHASE_UPDATE);
}

struct oprec oprec_canonical(const struct oprec *r)
{
    struct oprec q = *r;
    q.layer = 0;
    q.tech = 0;
    if (!oprec_depends_on_n(&q))
        q.n = 0;
    int psg = (q.kind == OP_CONV || q.kind == OP_FC) && q.phase == OP_PHASE_BWD_WEIGHT &&
              q.msb_a && q.msb_b;
    if (!psg) {
        q.msb_a = q.msb_b = 0;
        q.psg_full_q16 = 0;
    }
    return q;
}

static const char *const kind_names[OP_KIND_COUNT] = {"conv", "fc",   "bn",   "relu",  "add",
                                                      "pool", "gate", "loss", "update"};
static const char *const phase_names[OP_PHASE_COUNT] = {"forward", "backward_data",
                                                        "backward_weight", "update"};
static const char *const tech_names[OP_TECH_COUNT] = {"base", "slu", "psg", "swa"};

const char *oprec_kind_name(unsigned kind)
{
    return kind < OP_KIND_COUNT ? kind_names[kind] : "?";
}

const char *oprec_phase_name(unsigned phase)
{
    return phase < OP_PHASE_COUNT ? phase_names[phase] : "?";
}

const char *oprec_tech_name(unsigned tech)
{
    return tech < OP_TECH_COUNT ? tech_names[tech] : "?";
}
