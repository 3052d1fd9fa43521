/* The op record: the one thing that crosses from training (kernels/, sim/) to hardware (models/).
 * It says WHAT was computed, never how long it took or where the bytes live: that is the
 * hardware model's business. See docs/numbers.md.
 *
 * Operand convention per phase (a · b -> out):
 *   OP_PHASE_FWD          a = input activations x,      b = weights w,      out = y
 *   OP_PHASE_BWD_DATA     a = output gradient g_y,      b = weights w,      out = g_x
 *   OP_PHASE_BWD_WEIGHT   a = input activations x,      b = output grad g_y, out = g_w
 *   OP_PHASE_UPDATE       a = weight gradient g_w (1 = sign only), b = weights w, out = new w
 * Element-wise kinds (bn, relu, add, pool, loss) use a for their input and out for their output.
 * A width of 32 means IEEE float32; anything else is fixed point of that many bits. */
#ifndef E2_OPREC_H
#define E2_OPREC_H

#include <stddef.h>
#include <stdint.h>

#define OPREC_VERSION 1

enum op_kind {
    OP_CONV = 0,     /* 2-D convolution; groups == cin == cout is depthwise */
    OP_FC,           /* fully connected: cin inputs, cout outputs, h = w = 1 */
    OP_BN,           /* batch normalization over (n, h, w) per channel */
    OP_RELU,         /* ReLU or ReLU6 */
    OP_ADD,          /* residual add */
    OP_POOL,         /* global average pooling */
    OP_GATE,         /* SLU gate: pool -> 1x1 conv -> LSTM -> linear -> sigmoid, per sample */
    OP_LOSS,         /* softmax cross-entropy */
    OP_UPDATE,       /* optimizer step on cout*cin*k*k/groups weights */
    OP_KIND_COUNT
};

enum op_phase {
    OP_PHASE_FWD = 0,
    OP_PHASE_BWD_DATA,
    OP_PHASE_BWD_WEIGHT,
    OP_PHASE_UPDATE,
    OP_PHASE_COUNT
};

/* What a ledger attributes the op to: the plain training, or the overhead of a technique. */
enum op_tech {
    OP_TECH_BASE = 0,   /* the network's own training work */
    OP_TECH_SLU,        /* SLU gate networks */
    OP_TECH_PSG,        /* PSG predictor (MSB) path */
    OP_TECH_SWA,        /* SWA averaging and BN re-estimation */
    OP_TECH_COUNT
};

/* The record's fields, the one list of them: X(type, name) in struct order, which is also the
 * order a trace stores them in (traces/FORMAT.md). Everything that visits every field (equality,
 * hash, serialization) is generated from it in oprec.c; a new field goes here and nowhere else
 * (and bumps OPREC_VERSION). */
#define OPREC_FIELDS(X)                                                                          \
    X(uint16_t, layer)        /* layer id within the network (net order), 0xffff = none */       \
    X(uint8_t, kind)          /* enum op_kind */                                                 \
    X(uint8_t, phase)         /* enum op_phase */                                                \
    X(uint8_t, tech)          /* enum op_tech */                                                 \
    X(uint8_t, k)             /* kernel size (square) */                                         \
    X(uint8_t, stride)                                                                           \
    X(uint8_t, pad)                                                                              \
    X(uint32_t, n)            /* active samples in the minibatch (after SMD/SLU) */              \
    X(uint16_t, cin)          /* channels (fc: in/out features) */                               \
    X(uint16_t, cout)                                                                            \
    X(uint16_t, groups)       /* conv groups (1 = dense, cin = depthwise) */                     \
    X(uint16_t, h_in)         /* input spatial size */                                           \
    X(uint16_t, w_in)                                                                            \
    X(uint16_t, h_out)        /* output spatial size */                                          \
    X(uint16_t, w_out)                                                                           \
    X(uint8_t, bits_a)        /* operand widths, see the phase table above */                   \
    X(uint8_t, bits_b)                                                                           \
    X(uint8_t, bits_out)      /* width the result is stored at */                                \
    X(uint8_t, bits_acc)      /* accumulator width (48 = DSP48E1 post-adder) */                  \
    X(uint8_t, msb_a)         /* PSG predictor widths of a and b (0 = no predictor) */           \
    X(uint8_t, msb_b)                                                                            \
    X(uint16_t, psg_full_q16) /* PSG: fraction of weights that needed the full-precision path, \
                                 in units of 1/65536 (65535 ~ all). 0 without PSG. */

struct oprec {
#define OPREC_MEMBER(type, name) type name;
    OPREC_FIELDS(OPREC_MEMBER)
#undef OPREC_MEMBER
};

#define OPREC_COUNT_ONE(type, name) +1
enum { OPREC_FIELD_COUNT = 0 OPREC_FIELDS(OPREC_COUNT_ONE) };
#undef OPREC_COUNT_ONE

/* The fixed-width form checkpoints store: each field little-endian at its offset in the struct,
 * padding zero. On x86-64 these are the bytes of a zeroed struct (what checkpoints held before),
 * so old checkpoints still load. */
#define OPREC_PACKED_SIZE sizeof(struct oprec)

#ifdef __cplusplus
extern "C" {
#endif

/* Field-wise equality (padding never matters) and a hash consistent with it. */
int oprec_equal(const struct oprec *x, const struct oprec *y);
uint64_t oprec_hash(const struct oprec *r);

/* The fields as numbers, in list order (a trace stores them as varints), and back: from_fields
 * returns -1 when a value does not fit its field. */
void oprec_to_fields(const struct oprec *r, uint64_t f[OPREC_FIELD_COUNT]);
int oprec_from_fields(const uint64_t f[OPREC_FIELD_COUNT], struct oprec *r);

/* The packed form (OPREC_PACKED_SIZE bytes) and back. */
void oprec_pack(const struct oprec *r, unsigned char *out);
void oprec_unpack(const unsigned char *in, struct oprec *r);

/* Whether the op's work scales with the minibatch (not for weight updates). */
int oprec_depends_on_n(const struct oprec *r);
/* The record as its cost sees it: attribution (layer, tech) and the fields its kind ignores
 * cleared (n of updates; PSG fields outside a PSG conv/fc weight gradient), so that equal work
 * compares equal. */
struct oprec oprec_canonical(const struct oprec *r);

/* The one spelling of each kind, phase and technique in every output ("?" out of range). */
const char *oprec_kind_name(unsigned kind);
const char *oprec_phase_name(unsigned phase);
const char *oprec_tech_name(unsigned tech);

#ifdef __cplusplus
}
#endif

/* Where records go. A NULL sink (or NULL emit) makes emission free. */
struct op_sink {
    void (*emit)(void *ctx, const struct oprec *r);
    void *ctx;
};

static inline void op_emit(const struct op_sink *s, const struct oprec *r)
{
    if (s && s->emit)
        s->emit(s->ctx, r);
}

/* Multiply-accumulates the record stands for (conv/fc; 0 for others). */
static inline uint64_t oprec_macs(const struct oprec *r)
{
    if (r->kind == OP_CONV) {
        uint64_t per_out = (uint64_t)(r->cin / (r->groups ? r->groups : 1)) * r->k * r->k;
        return (uint64_t)r->n * r->cout * r->h_out * r->w_out * per_out;
    }
    if (r->kind == OP_FC)
        return (uint64_t)r->n * r->cin * r->cout;
    return 0;
}

#endif
