/* Internals of the network that its files share; not part of the kernels' interface (net.h).
 *
 *   net.c          forward and backward passes, the SLU-gated blocks, configuration, queries
 *   net_unit.c     one conv unit (conv -> BN -> activation): quantization, conv passes, wrappers
 *   net_build.c    units and blocks, net_create / net_free, buffers
 *   resnet.c       the CIFAR ResNet;  mobilenetv2.c  MobileNetV2
 *   net_params.c   the parameter table
 *   psg.c          PSG's predictor and sign choice
 * Memory and recomputation: see net.c. */
#ifndef E2_NET_INTERNAL_H
#define E2_NET_INTERNAL_H

#include "net.h"

#include "bn.h"
#include "conv.h"

#define BN_EPS 1e-5f
#define BN_MOMENTUM 0.1f
#define NO_ACT (-1)

/* Rounding-key slots per conv layer: tensor id = layer * 8 + slot. */
enum { SLOT_X = 0, SLOT_W, SLOT_GY_DATA, SLOT_GY_WEIGHT, SLOT_GW };

/* Transient float buffers, each [tcap][maxel] (the unit-level ones) or [tcap][maxb] (those that
 * only ever hold a block's input or output: BUF_G, BUF_S, BUF_GS, BUF_D, BUF_P0, BUF_P1). */
enum {
    BUF_A = 0, BUF_B, BUF_C, BUF_D, BUF_E,  /* unit outputs and gradients, recomputations */
    BUF_G,                                  /* gathered block input */
    BUF_S,                                  /* shortcut output (all n samples) */
    BUF_GS,                                 /* gathered shortcut output */
    BUF_X,                                  /* dequantized operands (mixed precision) */
    BUF_P0, BUF_P1,                         /* block input/output ping-pong, gradient ping-pong */
    NBUF
};
/* Transient int16 code buffers, each [tcap][maxel]. */
enum { Q_X = 0, Q_GD, Q_GW, Q_XM, Q_GM, NQ };

enum sc_kind { SC_NONE = 0, SC_IDENTITY, SC_PROJ };

struct unit {
    struct conv_shape cs;          /* n set per call */
    int act;                       /* enum act_kind, or NO_ACT */
    uint16_t id_conv, id_bn, id_act;
    int ho, wo;
    long in_el, out_el;            /* per-sample elements of input and output */
    int no_input_grad;             /* the stem: nothing upstream needs dL/dx */
    float *w, *gw;
    int16_t *wq;                   /* weight codes of the last forward */
    float *wscale;                 /* per output channel */
    float *gamma, *beta, *ggamma, *gbeta, *rmean, *rvar, *smean, *sinv;
    float *y;                      /* saved conv output [scap][out_el] */
    int16_t *xq;                   /* fixed-point training: the input codes of the last training
                                      forward [scap][in_el], reused by the backward pass */
    struct fx_tensor xqt;          /* ... their view (scale in xq_scale) */
    float xq_scale;
    float *chmax, *chmin;          /* [cout] per-channel range of the last BN output or gradient */
    struct bn_bwd_sums *bsums;     /* [cout] BN backward sums taken by the block's output
                                      activation backward (post_act_backward) */
    struct psg_stats psg;
};

/* What the quantizer of a tensor needs, when whoever produced the tensor already knows it: the
 * largest |v| and whether some v < 0 (NaN ignored, as fx_max_abs). */
struct range {
    int known;
    float maxabs;
    int neg;
};

struct block {
    int nu;
    struct unit u[3];
    int sc;                        /* enum sc_kind */
    struct unit proj;
    int post_act;                  /* after the add: enum act_kind or NO_ACT */
    uint16_t id_add, id_post, id_gate;
    int skip;                      /* index among skippable blocks, -1 if not skippable */
    int cin, h, w, cout, ho, wo;
    long in_el, out_el;
    float *act_in;                 /* saved input [scap][in_el] */
    int k;                         /* active samples in the last forward */
    int *idx;                      /* their indices [tcap] */
    uint64_t branch_macs;          /* per image */
};

struct net {
    enum net_arch arch;
    int in_c, in_h, in_w, classes;
    struct net_precision prec;
    uint64_t seed, iteration;
    int nb;
    struct block *b;
    int nskip;
    int *skip_block;               /* skippable index -> block index */
    uint16_t nlayers;
    /* head */
    int fc_in, last_h, last_w;
    uint16_t id_pool, id_fc, id_loss;
    float *fc_w, *fc_b, *fc_gw, *fc_gb;
    float *pooled, *gpooled, *logits, *prob, *dlogits;   /* [tcap][...] */
    /* SLU */
    int slu;
    enum gate_decision decision;
    struct gate_net *gates;
    float *gprob, *mval, *dm;      /* [nskip][tcap] */
    uint8_t *mask;                 /* [nskip][tcap] */
    float *eval_scale;             /* [nskip] or NULL */
    /* PSG */
    int psg_on;
    struct psg_config psg;
    int fc_only;                   /* backward computes only the final FC's weight gradient */
    /* parameters */
    struct net_param *params;
    int nparams;
    /* buffers */
    int tcap, scap;
    long maxel, maxb, maxw;        /* largest tensor, largest block input/output, largest w */
    float *buf[NBUF];
    int16_t *q[NQ];
    float *wtmp, *wdeq;            /* [maxw] */
    int16_t *wqtmp;                /* [maxw] */
    struct fx_workspace ws;
    struct fx_stats st;
    size_t param_bytes;
    /* last pass */
    int last_n, trained, bn_batches;
    /* dry pass (net_emit_iteration) */
    int dry;
    const int *dry_active;
    uint16_t dry_full_q16;
};

static inline int is_fixed(int bits) { return bits < FX_FLOAT_BITS; }

/* An op tag carrying the widths this run stores its tensors at (fixed.h, op_tag_stored). */
static inline struct op_tag net_tag(const struct net *net, uint16_t layer, uint8_t tech)
{
    return op_tag_stored(op_tag_make(layer, tech), net->prec.activations, net->prec.grad_output,
                         net->prec.grad_weight);
}

/* The record an element-wise kernel (bn, act, add, pool, loss) emits, for dry passes. */
static inline void emit_elem(const struct op_sink *sink, enum op_kind kind, enum op_phase phase,
                             struct op_tag tag, int n, int c, int h, int w)
{
    struct nchw s = { n, c, h, w };
    op_emit_elem(sink, kind, phase, tag, &s);
}

/* ---- net_unit.c: one unit (in -> conv -> BN -> act -> out), k samples */

/* The affine map a * y + b of channel c's BN from its saved batch statistics, as
 * bn_forward_train_act finds it: every recomputation of a BN output starts here, so that it
 * equals the forward's bit for bit. */
static inline void unit_bn_affine(const struct unit *u, int c, float *a, float *b)
{
    *a = u->gamma[c] * u->sinv[c];
    *b = u->beta[c] - u->smean[c] * *a;
}

/* conv -> BN -> act on k samples: in -> out, the conv output in y (kept when training). rin:
 * in's range if known (may be NULL); rout receives out's (known when training; NULL: not
 * wanted).
 * Training in fixed point, two units in a row need not write the first one's output: out NULL
 * keeps only its statistics and range, and the next unit, given in NULL and from = that unit
 * (and its range as rin), quantizes its input straight from from's saved conv output. out and
 * rout both NULL: the statistics only, for a block's add that applies the BN itself. */
int unit_forward(struct net *net, struct unit *u, const float *in, const struct unit *from,
                 const struct range *rin, int k, float *y, float *out, enum net_mode mode,
                 const struct op_sink *sink, uint8_t tech, struct range *rout);

/* A pass over a unit's output that was never written applies the unit's BN itself
 * (bn_act_apply), a piece at a time into an L1 buffer of PIECE values. A piece is a few whole
 * planes (rows r0 .. r1 - 1 of the output [k][c][hw]) or a part of one plane (values i0 .. i0 + n - 1 of
 * row r0, a whole number of bn_act_apply's 32-value steps), so every value comes from the same
 * instructions as in the forward's whole planes; it lies at flat index at, (r1 - r0) * n values
 * in a row. */
enum { PIECE = 4096 };

struct piece {
    long r0, r1, i0, n, at;
};

/* How many pieces the unit's output on k samples has, and piece number i of them. */
long unit_piece_count(const struct unit *u, int k);
struct piece unit_piece(const struct unit *u, int k, long i);

/* The unit's output (BN + act) on piece p into buf: the values the forward would have written. */
void unit_output_piece(const struct unit *u, const struct piece *p, float *buf);

/* The unit's output on its k saved samples, recomputed (BN apply + act). */
void unit_recompute(const struct net *net, const struct unit *u, int k, float *out);

/* Backward through act -> BN -> conv of unit u on k samples. g [k][out_el] is consumed
 * (overwritten); in = the unit's input (NULL: the input codes the forward kept); gx receives
 * dL/dinput when want_gx (and the unit is not the stem), added to it when add_gx. sums_given:
 * u->bsums already hold the BN backward's sums over this g (post_act_backward took them). */
int unit_backward(struct net *net, struct unit *u, int k, const float *in, float *g, float *gx,
                  int add_gx, int want_gx, int sums_given, const struct op_sink *sink, uint8_t tech);
/* 1 when unit_backward on k samples can add dL/dinput into gx (add_gx): fixed-point gradients
 * and weights, and a backward-data conv that adds as it stores (conv_backward_data_fx_adds). */
int unit_adds_gx(const struct net *net, const struct unit *u, int k);

/* An activation (enum act_kind) in place, forward; and its backward from its output y. */
void act_fwd(struct net *net, int act, uint16_t id, const struct nchw *s, float *x,
             const struct op_sink *sink, uint8_t tech);
void act_bwd(struct net *net, int act, uint16_t id, const struct nchw *s, const float *y, float *g,
             const struct op_sink *sink, uint8_t tech);

/* ---- net_build.c: construction (the architectures call these) and buffers */

uint16_t new_layer(struct net *net);
/* A conv unit (He-initialized weights, BN gamma 1, beta 0); act: enum act_kind or NO_ACT. */
int unit_init(struct net *net, struct unit *u, int cin, int h, int w, int cout, int k, int stride,
              int groups, int act);
/* A new empty block at the end of the net (NULL if out of memory). */
struct block *add_block(struct net *net);
/* The block's sizes from its units, once they are set up. */
void block_dims(struct net *net, struct block *B);
/* A block of a single conv unit without shortcut (stems, MobileNetV2's last conv). */
int plain_block(struct net *net, int cin, int h, int w, int cout, int k, int stride, int act);
/* B becomes the next skippable block (gated unless it is the first). */
void make_skippable(struct net *net, struct block *B);

/* Transient buffers for n samples; saved-for-backward buffers for n samples. */
int reserve_transient(struct net *net, int n);
int reserve_saved(struct net *net, int n);

/* ---- resnet.c, mobilenetv2.c: the blocks of each architecture, stem first, head excluded */

int build_resnet(struct net *net, int depth, int width, int skip_stage_entry);
int build_mobilenetv2(struct net *net, int width);

/* ---- net_params.c: the parameter table */

/* (Re)builds net->params: per block its units' conv w, BN gamma, beta, running mean and var,
 * then the FC, then the gates when SLU is on. */
int build_params(struct net *net);
/* active / grad_is_sign / psg of every parameter after a backward (or a dry one). */
void mark_params(struct net *net, struct net_param *p, int np);

#endif
