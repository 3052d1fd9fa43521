/* Networks as plain lists of blocks of conv units; forward, backward, skipping, PSG, op records.
 * See net.h for the contract and docs/networks.md for the design (memory, recomputation, records).
 *
 * Memory: a training forward keeps, per block, its input (float) and every conv output (the BN
 * input, float), for the active samples only. Everything else the backward pass needs is
 * recomputed from those: BN outputs and activations (bn_apply, bit-identical to the forward),
 * the quantized codes of conv inputs and weights (same values, same rounding keys -> same codes).
 *
 * One code path serves real passes and net_emit_iteration: with net->dry set, the op wrappers
 * below emit the records their kernels would and compute nothing. */
#include "net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "act.h"
#include "add.h"
#include "bn.h"
#include "conv.h"
#include "fc.h"
#include "loss.h"
#include "pool.h"
#include "rng.h"

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

/* ---------------------------------------------------------------- helpers */

static float normal_draw(uint64_t key, uint64_t i)
{
    float u1 = rng_uniform(key, 2 * i), u2 = rng_uniform(key, 2 * i + 1);
    if (u1 < 1e-12f)
        u1 = 1e-12f;
    return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853071795864f * u2);
}

static int is_fixed(int bits) { return bits < FX_FLOAT_BITS; }

static uint64_t tensor_key(const struct net *net, uint16_t layer, int slot)
{
    return fx_round_key(net->seed, net->iteration, (uint64_t)layer * 8 + (uint64_t)slot);
}

static void gather(float *dst, const float *src, const int *idx, int k, long el)
{
#pragma omp parallel for schedule(dynamic, 1) if ((long)k * el > 65536)
    for (int i = 0; i < k; i++)
        memcpy(dst + (long)i * el, src + (long)idx[i] * el, sizeof(float) * (size_t)el);
}

static void copy_f(float *dst, const float *src, long count)
{
    if (dst != src)
        memcpy(dst, src, sizeof(float) * (size_t)count);
}

/* BN output from its saved input and batch statistics, computed exactly as bn_forward_train
 * does (same expression, same rounding), then the unit's activation: the backward pass
 * recomputes activations this way instead of keeping them. */
static void bn_apply(const struct nchw *s, const float *x, const float *gamma, const float *beta,
                     const float *mean, const float *invstd, int act, float *y)
{
    long hw = (long)s->h * s->w;
#pragma omp parallel for schedule(dynamic, 1) if (nchw_count(s) > 65536)
    for (int c = 0; c < s->c; c++) {
        float a = gamma[c] * invstd[c], b = beta[c] - mean[c] * a;
        for (int n = 0; n < s->n; n++) {
            const float *p = x + ((long)n * s->c + c) * hw;
            float *q = y + ((long)n * s->c + c) * hw;
            for (long i = 0; i < hw; i++)
                q[i] = p[i] * a + b;
            if (act == NO_ACT)
                continue;
            for (long i = 0; i < hw; i++) {   /* as act_forward */
                float v = q[i] > 0.0f ? q[i] : 0.0f;
                if (act == ACT_RELU6 && v > 6.0f)
                    v = 6.0f;
                q[i] = v;
            }
        }
    }
}

/* An op tag carrying the widths this run stores its tensors at (fixed.h, op_tag_stored). */
static struct op_tag net_tag(const struct net *net, uint16_t layer, uint8_t tech)
{
    return op_tag_stored(op_tag_make(layer, tech), net->prec.activations, net->prec.grad_output,
                         net->prec.grad_weight);
}

/* The record an element-wise kernel (bn, act, add, pool, loss) emits, for dry passes. */
static void emit_elem(const struct op_sink *sink, enum op_kind kind, enum op_phase phase,
                      struct op_tag tag, int n, int c, int h, int w)
{
    struct nchw s = { n, c, h, w };
    op_emit_elem(sink, kind, phase, tag, &s);
}

/* ---------------------------------------------------------------- quantization */

static struct fx_format fmt_of(const struct net *net, int bits, int is_signed, int per_channel)
{
    struct fx_format f = { bits, is_signed, per_channel, net->prec.stochastic };
    return f;
}

/* Activation codes of v [k][c][hw] into code; unsigned when v has no negative value. r (may be
 * NULL) is v's range when known: the same scale and signedness without a pass over v. */
static int quant_act(struct net *net, const float *v, int k, int c, long hw, uint16_t layer,
                     const struct range *rv, int16_t *code, float *scale, struct fx_tensor *t)
{
    long count = (long)k * c * hw;
    int neg = 0;
    float maxabs = 0.0f;
    if (rv && rv->known) {
        neg = rv->neg;
        maxabs = rv->maxabs;
    } else {
#pragma omp parallel for schedule(dynamic, 16384) reduction(| : neg) if (count > 65536)
        for (long i = 0; i < count; i++)
            neg |= v[i] < 0.0f;
        maxabs = fx_max_abs(v, count);
    }
    struct fx_format f = fmt_of(net, net->prec.activations, neg, 0);
    scale[0] = fx_scale_for_max(maxabs, f.bits, f.is_signed);   /* as fx_quantize */
    if (fx_quantize_with_scale(v, k, c, hw, &f, NULL, tensor_key(net, layer, SLOT_X), scale, code,
                               &net->st))
        return -1;
    struct fx_tensor r = { code, scale, f.bits, f.is_signed, 0 };
    *t = r;
    return 0;
}

static long weight_rest(const struct unit *u)
{
    return (long)(u->cs.cin / u->cs.groups) * u->cs.k * u->cs.k;
}

static int quant_weights(struct net *net, struct unit *u)
{
    struct fx_format f = fmt_of(net, net->prec.weights, 1, 1);
    return fx_quantize(u->w, 1, u->cs.cout, weight_rest(u), &f, NULL,
                       tensor_key(net, u->id_conv, SLOT_W), u->wq, u->wscale, &net->st);
}

static struct fx_tensor weight_tensor(const struct net *net, const struct unit *u)
{
    struct fx_tensor t = { u->wq, u->wscale, net->prec.weights, 1, 1 };
    return t;
}

/* Float weights as the conv sees them: the dequantized codes when weights are fixed. */
static const float *weights_seen(struct net *net, const struct unit *u)
{
    if (!is_fixed(net->prec.weights))
        return u->w;
    fx_dequantize(u->wq, 1, u->cs.cout, weight_rest(u), 1, u->wscale, net->wdeq);
    return net->wdeq;
}

/* g_y codes, per tensor, signed; channel_mul folds per-channel weight scales in (data path).
 * chmax (may be NULL): each channel's largest |g|, known from the pass that made g; the scale is
 * then max over c of chmax[c] * |mul[c]|, which is what fx_quantize finds (a float product with a
 * non-negative constant is monotone, so the max commutes with it). */
static int quant_grad(struct net *net, const float *g, int k, int c, long hw, const float *mul,
                      const float *chmax, uint64_t key, int16_t *code, float *scale,
                      struct fx_tensor *t)
{
    struct fx_format f = fmt_of(net, net->prec.grad_output, 1, 0);
    if (chmax) {
        float m = 0.0f;
        for (int ch = 0; ch < c; ch++) {
            float a = chmax[ch] * (mul ? fabsf(mul[ch]) : 1.0f);
            if (a > m)
                m = a;
        }
        scale[0] = fx_scale_for_max(m, f.bits, 1);
        if (fx_quantize_with_scale(g, k, c, hw, &f, mul, key, scale, code, &net->st))
            return -1;
    } else if (fx_quantize(g, k, c, hw, &f, mul, key, code, scale, &net->st)) {
        return -1;
    }
    struct fx_tensor r = { code, scale, f.bits, 1, 0 };
    *t = r;
    return 0;
}

static float max_abs_code(const int16_t *code, long count)
{
    int m = 0;
#pragma omp parallel for schedule(dynamic, 16384) reduction(max : m) if (count > 65536)
    for (long i = 0; i < count; i++) {
        int a = code[i] < 0 ? -code[i] : code[i];
        if (a > m)
            m = a;
    }
    return (float)m;
}

/* ---------------------------------------------------------------- conv passes */

/* The input codes are kept in u->xq when training in fixed point (save = 1): the backward
 * pass would recompute the very same codes (same values, same rounding keys). */
static int conv_fwd(struct net *net, struct unit *u, const struct conv_shape *cs, const float *in,
                    const struct range *rin, int save, float *y, const struct op_sink *sink,
                    uint8_t tech)
{
    const struct net_precision *p = &net->prec;
    int fa = is_fixed(p->activations), fw = is_fixed(p->weights), fxk = fa && fw;
    struct op_tag tag = net_tag(net, u->id_conv, tech);
    if (!net->dry) {
        if (fw && quant_weights(net, u))
            return -1;
        float xs_local[1], *xs = xs_local;
        int16_t *xcode = net->q[Q_X];
        if (save && fa && u->xq) {
            xs = &u->xq_scale;
            xcode = u->xq;
        }
        struct fx_tensor xt;
        if (fa && quant_act(net, in, cs->n, cs->cin, (long)cs->h * cs->w, u->id_conv, rin,
                            xcode, xs, &xt))
            return -1;
        if (fa && xcode == u->xq)
            u->xqt = xt;
        int rc;
        if (fxk) {
            struct fx_tensor wt = weight_tensor(net, u);
            rc = conv_forward_fx(cs, &xt, &wt, y, p->accumulator, &net->st, &net->ws, NULL, tag);
        } else {
            const float *xi = in;
            if (fa) {
                fx_dequantize(xt.code, cs->n, cs->cin, (long)cs->h * cs->w, 0, xs, net->buf[BUF_X]);
                xi = net->buf[BUF_X];
            }
            rc = conv_forward_f32(cs, xi, weights_seen(net, u), y, &net->ws, NULL, tag);
        }
        if (rc)
            return -1;
    }
    struct oprec r = conv_oprec(cs, OP_PHASE_FWD, tag, p->activations, p->weights, 32,
                                fxk ? p->accumulator : 32);
    op_emit(sink, &r);
    return 0;
}

/* PSG for one conv: g_w^msb from the MSB codes, then Eq. 2 into u->gw. */
static int psg_apply(struct net *net, struct unit *u, const struct conv_shape *cs,
                     const struct fx_tensor *xt, const struct fx_tensor *gt)
{
    long xc = conv_x_count(cs), yc = conv_y_count(cs), wc = conv_w_count(cs);
    fx_msb(xt->code, xc, xt->bits, net->psg.msb_x, xt->is_signed, net->q[Q_XM], &net->st);
    fx_msb(gt->code, yc, gt->bits, net->psg.msb_g, 1, net->q[Q_GM], &net->st);
    struct fx_tensor xm = fx_msb_view(xt, net->q[Q_XM]), gm = fx_msb_view(gt, net->q[Q_GM]);
    if (conv_backward_weight_fx(cs, &xm, &gm, NULL, net->wtmp, net->prec.accumulator, &net->st,
                                &net->ws, NULL, op_tag_make(u->id_conv, OP_TECH_BASE)))
        return -1;
    float gy_msb_max = max_abs_code(net->q[Q_GM], yc) * gt->scale[0];
    float tau = psg_tau(&net->psg, fx_max_abs(net->wtmp, wc), gy_msb_max);
    psg_select(u->gw, net->wtmp, wc, tau, u->gw, &u->psg);
    return 0;
}

/* g_w requantized at grad_weight bits (when fixed and not PSG). */
static int requant_gw(struct net *net, struct unit *u, long wc)
{
    struct fx_format f = fmt_of(net, net->prec.grad_weight, 1, 0);
    float s[1];
    if (fx_quantize(u->gw, 1, 1, wc, &f, NULL, tensor_key(net, u->id_conv, SLOT_GW), net->wqtmp, s,
                    &net->st))
        return -1;
    fx_dequantize(net->wqtmp, 1, 1, wc, 0, s, u->gw);
    return 0;
}

/* Backward of one conv: gx from gy when want_gx, then u->gw (or PSG signs) from in, gy.
 * want_gx comes from the network's structure, never from whether gx exists: a dry pass has no
 * buffers yet must emit the same records. cached: in is not given (NULL), the input codes kept
 * by the forward are used. gmax (may be NULL): gy's per-channel largest |value|. */
static int conv_bwd(struct net *net, struct unit *u, const struct conv_shape *cs, const float *in,
                    int cached, const float *gmax, const float *gy, float *gx, int want_gx,
                    const struct op_sink *sink, uint8_t tech)
{
    const struct net_precision *p = &net->prec;
    int fa = is_fixed(p->activations), fw = is_fixed(p->weights), fg = is_fixed(p->grad_output);
    int psg = net->psg_on;
    long hwo = (long)u->ho * u->wo, wc = conv_w_count(cs);
    struct op_tag tag = net_tag(net, u->id_conv, tech);
    float gs[1], xs[1], gws[1];
    struct fx_tensor gt, xt, gwt;

    if (want_gx) {
        if (!net->dry) {
            int rc;
            if (fg && fw) {
                if (quant_grad(net, gy, cs->n, cs->cout, hwo, u->wscale, gmax,
                               tensor_key(net, u->id_conv, SLOT_GY_DATA), net->q[Q_GD], gs, &gt))
                    return -1;
                struct fx_tensor wt = weight_tensor(net, u);
                rc = conv_backward_data_fx(cs, &gt, &wt, gx, p->accumulator, &net->st, &net->ws,
                                           NULL, tag);
            } else {
                const float *gi = gy;
                if (fg) {
                    if (quant_grad(net, gy, cs->n, cs->cout, hwo, NULL, gmax,
                                   tensor_key(net, u->id_conv, SLOT_GY_DATA), net->q[Q_GD], gs, &gt))
                        return -1;
                    fx_dequantize(gt.code, cs->n, cs->cout, hwo, 0, gs, net->buf[BUF_X]);
                    gi = net->buf[BUF_X];
                }
                rc = conv_backward_data_f32(cs, gi, weights_seen(net, u), gx, &net->ws, NULL, tag);
            }
            if (rc)
                return -1;
        }
        struct oprec r = conv_oprec(cs, OP_PHASE_BWD_DATA, tag, p->grad_output, p->weights, 32,
                                    (fg && fw) ? p->accumulator : 32);
        op_emit(sink, &r);
    }

    uint16_t full_q16 = 0;
    if (!net->dry) {
        int rc;
        if (fa && fg) {
            if (cached)
                xt = u->xqt;
            else if (quant_act(net, in, cs->n, cs->cin, (long)cs->h * cs->w, u->id_conv, NULL,
                               net->q[Q_X], xs, &xt))
                return -1;
            if (quant_grad(net, gy, cs->n, cs->cout, hwo, NULL, gmax,
                           tensor_key(net, u->id_conv, SLOT_GY_WEIGHT), net->q[Q_GW], gws, &gwt))
                return -1;
            rc = conv_backward_weight_fx(cs, &xt, &gwt, NULL, u->gw, p->accumulator, &net->st,
                                         &net->ws, NULL, tag);
            if (!rc && psg) {
                rc = psg_apply(net, u, cs, &xt, &gwt);
                full_q16 = psg_full_q16(&u->psg);
            }
        } else {
            const float *xi = in, *gi = gy;
            if (fa) {
                if (cached)
                    xt = u->xqt;
                else if (quant_act(net, in, cs->n, cs->cin, (long)cs->h * cs->w, u->id_conv, NULL,
                                   net->q[Q_X], xs, &xt))
                    return -1;
                fx_dequantize(xt.code, cs->n, cs->cin, (long)cs->h * cs->w, 0, xt.scale,
                              net->buf[BUF_X]);
                xi = net->buf[BUF_X];
            } else if (fg) {
                if (quant_grad(net, gy, cs->n, cs->cout, hwo, NULL, gmax,
                               tensor_key(net, u->id_conv, SLOT_GY_WEIGHT), net->q[Q_GW], gws, &gwt))
                    return -1;
                fx_dequantize(gwt.code, cs->n, cs->cout, hwo, 0, gws, net->buf[BUF_X]);
                gi = net->buf[BUF_X];
            }
            rc = conv_backward_weight_f32(cs, xi, gi, u->gw, &net->ws, NULL, tag);
        }
        if (!rc && !psg && is_fixed(p->grad_weight))
            rc = requant_gw(net, u, wc);
        if (rc)
            return -1;
    } else if (psg) {
        full_q16 = net->dry_full_q16;
    }
    if (psg) {
        tag.msb_a = (uint8_t)net->psg.msb_x;
        tag.msb_b = (uint8_t)net->psg.msb_g;
        tag.psg_full_q16 = full_q16;
    }
    struct oprec r = conv_oprec(cs, OP_PHASE_BWD_WEIGHT, tag, p->activations, p->grad_output, 32,
                                (fa && fg) ? p->accumulator : 32);
    op_emit(sink, &r);
    return 0;
}

/* ---------------------------------------------------------------- element-wise wrappers */

/* BN, then the unit's activation (act: NO_ACT or enum act_kind), fused in one pass when
 * training; records: BN, then the activation's. */
static void bn_act_fwd(struct net *net, struct unit *u, const struct nchw *s, const float *y, float *out,
                       int act, enum net_mode mode, const struct op_sink *sink, uint8_t tech,
                       struct range *rout)
{
    struct op_tag tag = net_tag(net, u->id_bn, tech), atag = net_tag(net, u->id_act, tech);
    rout->known = 0;
    if (net->dry) {
        emit_elem(sink, OP_BN, OP_PHASE_FWD, tag, s->n, s->c, s->h, s->w);
    } else if (mode == NET_EVAL) {
        bn_forward_eval(s, y, u->gamma, u->beta, u->rmean, u->rvar, BN_EPS, out, sink, tag);
        if (act != NO_ACT)
            act_forward((enum act_kind)act, s, out, out, sink, atag);
        return;
    } else {
        float mom = mode == NET_TRAIN ? BN_MOMENTUM : 1.0f / (float)(net->bn_batches + 1);
        int want = is_fixed(net->prec.activations);   /* a quantizer will need out's range */
        bn_forward_train_act(s, y, u->gamma, u->beta, BN_EPS, mom, u->rmean, u->rvar, act, out,
                             u->smean, u->sinv, want ? u->chmax : NULL, want ? u->chmin : NULL,
                             sink, tag);
        if (want && s->n > 0) {
            float mx = 0.0f, mn = INFINITY;
            for (int c = 0; c < s->c; c++) {
                mx = u->chmax[c] > mx ? u->chmax[c] : mx;
                mn = u->chmin[c] < mn ? u->chmin[c] : mn;
            }
            rout->known = 1;
            rout->maxabs = mx;
            rout->neg = mn < 0.0f;
        }
    }
    if (act != NO_ACT)
        emit_elem(sink, OP_RELU, OP_PHASE_FWD, atag, s->n, s->c, s->h, s->w);
}

static void act_fwd(struct net *net, int act, uint16_t id, const struct nchw *s, float *x,
                    const struct op_sink *sink, uint8_t tech)
{
    struct op_tag tag = net_tag(net, id, tech);
    if (net->dry)
        emit_elem(sink, OP_RELU, OP_PHASE_FWD, tag, s->n, s->c, s->h, s->w);
    else
        act_forward((enum act_kind)act, s, x, x, sink, tag);
}

static void act_bwd(struct net *net, int act, uint16_t id, const struct nchw *s, const float *y,
                    float *g, const struct op_sink *sink, uint8_t tech)
{
    struct op_tag tag = net_tag(net, id, tech);
    if (net->dry)
        emit_elem(sink, OP_RELU, OP_PHASE_BWD_DATA, tag, s->n, s->c, s->h, s->w);
    else
        act_backward((enum act_kind)act, s, y, g, g, sink, tag);
}

/* ---------------------------------------------------------------- units */

static struct conv_shape shape_n(const struct unit *u, int n)
{
    struct conv_shape cs = u->cs;
    cs.n = n;
    return cs;
}

static struct nchw out_shape(const struct unit *u, int n)
{
    struct nchw s = { n, u->cs.cout, u->ho, u->wo };
    return s;
}

/* conv -> BN -> act on k samples: in -> out, the conv output in y (kept when training). rin:
 * in's range if known (may be NULL); rout receives out's (known when training). */
static int unit_forward(struct net *net, struct unit *u, const float *in, const struct range *rin,
                        int k, float *y, float *out, enum net_mode mode, const struct op_sink *sink,
                        uint8_t tech, struct range *rout)
{
    struct conv_shape cs = shape_n(u, k);
    struct nchw os = out_shape(u, k);
    if (conv_fwd(net, u, &cs, in, rin, mode == NET_TRAIN, y, sink, tech))
        return -1;
    bn_act_fwd(net, u, &os, y, out, u->act, mode, sink, tech, rout);
    return 0;
}

/* y = act(a + b) over count values (act: NO_ACT or enum act_kind), the same arithmetic as
 * add_forward then act_forward; r (may be NULL) receives y's range. */
static void add_act(const float *a, const float *b, long count, int act, float *y, struct range *r)
{
    float mx = 0.0f, mn = INFINITY;
    long chunks = (count + 16383) / 16384;
#pragma omp parallel for schedule(dynamic, 1) reduction(max : mx) reduction(min : mn) if (count > 65536)
    for (long ch = 0; ch < chunks; ch++) {
        long lo = ch * 16384, hi = lo + 16384 < count ? lo + 16384 : count;
        for (long i = lo; i < hi; i++) {
            float v = a[i] + b[i];
            if (act != NO_ACT) {
                v = v > 0.0f ? v : 0.0f;
                if (act == ACT_RELU6 && v > 6.0f)
                    v = 6.0f;
            }
            y[i] = v;
        }
        float cmx = 0.0f, cmn = INFINITY;
        fx_range_update(y + lo, hi - lo, &cmx, &cmn);   /* while the chunk is in cache */
        mx = cmx > mx ? cmx : mx;
        mn = cmn < mn ? cmn : mn;
    }
    if (r) {
        r->known = 1;
        r->maxabs = mx;
        r->neg = mn < 0.0f;
    }
}

/* The unit's output on its k saved samples, recomputed (BN apply + act). */
static void unit_recompute(const struct net *net, const struct unit *u, int k, float *out)
{
    if (net->dry)
        return;
    struct nchw os = out_shape(u, k);
    bn_apply(&os, u->y, u->gamma, u->beta, u->smean, u->sinv, u->act, out);
}

/* Backward through act -> BN -> conv of unit u on k samples. g [k][out_el] is consumed
 * (overwritten); in = the unit's input; gx receives dL/dinput when want_gx (and the unit is not
 * the stem). The activation's gradient mask is recomputed inside the BN backward pass
 * (bn_backward_act). */
static int unit_backward(struct net *net, struct unit *u, int k, const float *in, float *g,
                         float *gx, int want_gx, const struct op_sink *sink, uint8_t tech)
{
    int cached = !in;   /* fixed-point activations: the forward's input codes are kept */
    struct nchw os = out_shape(u, k);
    if (u->act != NO_ACT)
        emit_elem(sink, OP_RELU, OP_PHASE_BWD_DATA, net_tag(net, u->id_act, tech), os.n, os.c, os.h,
                  os.w);
    struct op_tag tag = net_tag(net, u->id_bn, tech);
    int want = is_fixed(net->prec.grad_output);   /* g's quantizers need its range */
    if (net->dry)
        emit_elem(sink, OP_BN, OP_PHASE_BWD_DATA, tag, os.n, os.c, os.h, os.w);
    else
        bn_backward_act(&os, u->y, g, u->gamma, u->beta, u->smean, u->sinv, u->act, g, u->ggamma,
                        u->gbeta, want ? u->chmax : NULL, sink, tag);
    struct conv_shape cs = shape_n(u, k);
    return conv_bwd(net, u, &cs, in, cached, (net->dry || k == 0 || !want) ? NULL : u->chmax, g,
                    gx, want_gx && !u->no_input_grad, sink, tech);
}

/* ---------------------------------------------------------------- blocks: forward */

/* Which samples run block B this pass: fills B->idx / B->k and, for gated blocks, the gate's
 * probabilities and the mixing weights. x is the block input (for the gate). */
static int choose_samples(struct net *net, struct block *B, const float *x, int n,
                          const uint8_t *block_mask, enum net_mode mode, const struct op_sink *sink)
{
    int s = B->skip;
    if (net->dry) {
        B->k = (s > 0 && net->dry_active) ? net->dry_active[s] : n;
        if (net->slu && s > 0) {
            struct oprec r = gate_oprec(net->gates, s - 1, n, B->h, B->w, OP_PHASE_FWD);
            op_emit(sink, &r);
        }
        return 0;
    }
    if (s < 0) {
        for (int i = 0; i < n; i++)
            B->idx[i] = i;
        B->k = n;
        return 0;
    }
    uint8_t *m = net->mask + (long)s * n;
    float *mv = net->mval + (long)s * n, *pr = net->gprob + (long)s * n;
    int mix_all = 0;   /* GATE_MIXED: the gate's skipped samples are computed too, weight 0 */
    for (int i = 0; i < n; i++) {
        m[i] = 1;
        mv[i] = 1.0f;
        pr[i] = 1.0f;
    }
    if (s > 0 && net->slu) {
        if (gate_forward(net->gates, s - 1, x, B->h, B->w, pr, sink))
            return -1;
        enum gate_decision d = net->decision;
        if (mode != NET_TRAIN && (d == GATE_BERNOULLI || d == GATE_MIXED))
            d = GATE_THRESHOLD;
        uint64_t key = rng_key(rng_key(rng_key(net->seed, RNG_STREAM_SLU), net->iteration),
                               (uint64_t)s);
        gate_decide(d, pr, n, key, m);
        if (d == GATE_SOFT || d == GATE_MIXED)
            for (int i = 0; i < n; i++)
                mv[i] = d == GATE_SOFT ? pr[i] : m[i];
        mix_all = d == GATE_MIXED;
    }
    if (s > 0 && block_mask)
        for (int i = 0; i < n; i++)
            if (!block_mask[(long)s * n + i]) {
                m[i] = 0;
                mv[i] = 0.0f;
            }
    int k = 0;
    for (int i = 0; i < n; i++) {
        int masked = block_mask && s > 0 && !block_mask[(long)s * n + i];
        if (m[i] || (mix_all && !masked))
            B->idx[k++] = i;
    }
    B->k = k;
    return 0;
}

/* 1 if some mixing weight of the block's active samples is not 1 (soft gates). */
static int soft_mixing(const struct net *net, const struct block *B, int n)
{
    if (net->dry || B->skip < 0)
        return 0;
    const float *mv = net->mval + (long)B->skip * n;
    for (int i = 0; i < B->k; i++)
        if (mv[B->idx[i]] != 1.0f)
            return 1;
    return 0;
}

/* Block forward on n samples: x -> out. Training keeps the conv outputs in the units. */
/* xr: x's range if known (may be NULL); outr receives out's (known when the block's last pass
 * saw all of out). */
static int block_forward(struct net *net, struct block *B, const float *x, const struct range *xr,
                         float *out, int n, const uint8_t *block_mask, enum net_mode mode,
                         const struct op_sink *sink, uint8_t tech, struct range *outr)
{
    int save = mode == NET_TRAIN;
    struct range r = { 0, 0.0f, 0 };
    outr->known = 0;
    if (choose_samples(net, B, x, n, block_mask, mode, sink))
        return -1;
    int k = B->k;
    float *sc = NULL;
    if (B->sc == SC_PROJ) {
        sc = net->buf[BUF_S];
        if (unit_forward(net, &B->proj, x, xr, n, save ? B->proj.y : net->buf[BUF_C], sc, mode,
                         sink, tech, &r))
            return -1;
    } else if (B->sc == SC_IDENTITY) {
        sc = (float *)x;
    }
    if (k == 0) {
        if (!net->dry)
            copy_f(out, sc, (long)n * B->out_el);
        return 0;
    }
    /* direct: every sample runs with weight 1, so the result lands in out without a scatter */
    int direct = k == n && !soft_mixing(net, B, n);
    const float *xa = x, *sca = sc;
    if (!net->dry && k < n) {
        gather(net->buf[BUF_G], x, B->idx, k, B->in_el);
        xa = net->buf[BUF_G];
        if (sc) {
            gather(net->buf[BUF_GS], sc, B->idx, k, B->out_el);
            sca = net->buf[BUF_GS];
        }
    }
    const float *in = xa;
    const struct range *rin = k == n ? xr : NULL;   /* a gathered subset has its own range */
    int has_sc = B->sc != SC_NONE;   /* not sc != NULL: a dry pass may have no buffers */
    float *o = NULL;
    for (int j = 0; j < B->nu; j++) {
        struct unit *u = &B->u[j];
        o = (j == B->nu - 1 && direct && !has_sc) ? out : net->buf[j % 2 ? BUF_B : BUF_A];
        if (unit_forward(net, u, in, rin, k, save ? u->y : net->buf[BUF_C], o, mode, sink, tech, &r))
            return -1;
        in = o;
        rin = &r;
    }
    struct nchw os = { k, B->cout, B->ho, B->wo };
    if (!has_sc && B->post_act == NO_ACT && direct)
        *outr = r;   /* out is the last unit's output */
    if (!net->dry && mode == NET_EVAL && net->eval_scale && B->skip > 0) {
        float sv = net->eval_scale[B->skip];
        long cnt = nchw_count(&os);
        for (long i = 0; i < cnt; i++)
            o[i] *= sv;
    }
    float *res = o;
    if (has_sc) {
        /* the add and the activation after it in one pass, which also finds the range */
        struct op_tag tag = net_tag(net, B->id_add, tech);
        res = direct ? out : o;
        emit_elem(sink, OP_ADD, OP_PHASE_FWD, tag, os.n, os.c, os.h, os.w);
        if (B->post_act != NO_ACT)
            emit_elem(sink, OP_RELU, OP_PHASE_FWD, net_tag(net, B->id_post, tech), os.n, os.c, os.h,
                      os.w);
        if (!net->dry)
            add_act(o, sca, nchw_count(&os), B->post_act, res,
                    direct && is_fixed(net->prec.activations) ? outr : NULL);
    } else if (B->post_act != NO_ACT) {
        act_fwd(net, B->post_act, B->id_post, &os, res, sink, tech);
    }
    if (net->dry || direct)
        return 0;
    /* out = m * o + (1 - m) * sc for the active samples (m = 1 unless soft), sc for the rest */
    const float *mv = B->skip >= 0 ? net->mval + (long)B->skip * n : NULL;
    long el = B->out_el;
    if (k < n)
        copy_f(out, sc, (long)n * el);
#pragma omp parallel for schedule(dynamic, 1) if ((long)k * el > 65536)
    for (int i = 0; i < k; i++) {
        int si = B->idx[i];
        float m = mv ? mv[si] : 1.0f;
        float *dst = out + (long)si * el;
        const float *src = res + (long)i * el;
        if (m == 1.0f || !sc) {
            memcpy(dst, src, sizeof(float) * (size_t)el);
        } else {
            const float *sp = sc + (long)si * el;
            for (long j = 0; j < el; j++)
                dst[j] = m * src[j] + (1.0f - m) * sp[j];
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- blocks: backward */

/* o = post(F + sc) for the k active samples, recomputed: the block's own output. */
static void branch_output(const struct net *net, const struct block *B, int k, const float *sca,
                          float *o)
{
    unit_recompute(net, &B->u[B->nu - 1], k, o);
    long cnt = (long)k * B->out_el;
    if (sca)
        for (long i = 0; i < cnt; i++)
            o[i] += sca[i];
    if (B->post_act != NO_ACT)
        for (long i = 0; i < cnt; i++) {   /* as act_forward */
            float v = o[i] > 0.0f ? o[i] : 0.0f;
            if (B->post_act == ACT_RELU6 && v > 6.0f)
                v = 6.0f;
            o[i] = v;
        }
}

/* The hard_all case of the block's output activation backward in one pass: g (dL/d block
 * output, k samples) is masked where post(F + sc) does not pass it, F recomputed from the last
 * unit's saved conv output as bn_apply does, and the result is also written to scg (the
 * shortcut's gradient; NULL: none). Equal bit for bit to branch_output + act_backward + the copy. */
static void post_act_backward(const struct block *B, int k, const float *sca, float *g, float *scg)
{
    const struct unit *u = &B->u[B->nu - 1];
    long hw = (long)u->ho * u->wo;
    int c = u->cs.cout;
#pragma omp parallel for schedule(dynamic, 1) if ((long)k * c * hw > 65536)
    for (int ch = 0; ch < c; ch++) {
        float a = u->gamma[ch] * u->sinv[ch], b = u->beta[ch] - u->smean[ch] * a;
        for (int n = 0; n < k; n++) {
            long o = ((long)n * c + ch) * hw;
            const float *p = u->y + o, *sp = sca + o;
            float *gp = g + o;
            if (u->act == NO_ACT && B->post_act == ACT_RELU) {   /* ResNet: vectorizes */
                for (long i = 0; i < hw; i++) {
                    float z = (p[i] * a + b) + sp[i];   /* as bn_apply, then the add */
                    gp[i] = z > 0.0f ? gp[i] : 0.0f;
                }
            } else {
                for (long i = 0; i < hw; i++) {
                    float v = p[i] * a + b;   /* as bn_apply */
                    if (u->act != NO_ACT) {
                        v = v > 0.0f ? v : 0.0f;
                        if (u->act == ACT_RELU6 && v > 6.0f)
                            v = 6.0f;
                    }
                    float z = v + sp[i];
                    int pass = z > 0.0f && (B->post_act != ACT_RELU6 || z < 6.0f);
                    gp[i] = pass ? gp[i] : 0.0f;
                }
            }
            if (scg)
                memcpy(scg + o, gp, sizeof(float) * (size_t)hw);
        }
    }
}

/* Backward of block B from gout [n][out_el] into gin [n][in_el]; want_gin: something upstream
 * needs dL/dinput (0 for the stem; gin is then NULL). gout is consumed (may be overwritten). */
static int block_backward(struct net *net, struct block *B, int n, float *gout, float *gin,
                          int want_gin, const struct op_sink *sink, uint8_t tech)
{
    int k = B->k, s = B->skip, dry = net->dry;
    const float *x = B->act_in;
    long el = B->out_el;
    int hard_all = !dry && k == n && !soft_mixing(net, B, n);
    const float *mv = (!dry && s >= 0) ? net->mval + (long)s * n : NULL;
    float *dm = (!dry && s > 0 && net->slu) ? net->dm + (long)s * n : NULL;
    /* every sample ran with weight 1 and nobody needs dL/dm: the output activation's backward
     * needs only its mask, which post_act_backward finds without writing the output */
    int fused = hard_all && !dm && B->sc != SC_NONE && B->post_act != NO_ACT;
    /* dL/dshortcut [n] is assembled in scg: straight in gin for an identity shortcut */
    float *scg = B->sc == SC_IDENTITY ? gin : B->sc == SC_PROJ ? net->buf[BUF_D] : NULL;
    float *sc = NULL;   /* shortcut output [n] */

    if (!dry) {
        if (B->sc == SC_PROJ) {
            sc = net->buf[BUF_S];
            unit_recompute(net, &B->proj, n, sc);
        } else if (B->sc == SC_IDENTITY) {
            sc = (float *)x;
        }
        if (scg && !hard_all)
            copy_f(scg, gout, (long)n * el);   /* skipped samples pass gout to the shortcut */
        if (dm)
            memset(dm, 0, sizeof(float) * (size_t)n);
    }
    float *gx_act = NULL;   /* dL/dx of the active samples [k][in_el] */
    if (k > 0) {
        const float *xa = x, *sca = sc;
        float *g = hard_all ? gout : net->buf[BUF_A], *o = net->buf[BUF_B];
        if (!dry) {
            if (k < n) {
                gather(net->buf[BUF_G], x, B->idx, k, B->in_el);
                xa = net->buf[BUF_G];
                if (sc) {
                    gather(net->buf[BUF_GS], sc, B->idx, k, el);
                    sca = net->buf[BUF_GS];
                }
            }
            if (!hard_all)
                gather(g, gout, B->idx, k, el);
            if (!fused)
                branch_output(net, B, k, sca, o);
            /* dL/dm = <gout, o - sc>, then the branch sees m * gout */
            for (int i = 0; i < k && !fused; i++) {
                float m = mv ? mv[B->idx[i]] : 1.0f;
                float *gi = g + (long)i * el;
                if (dm && sc) {
                    const float *oi = o + (long)i * el, *si = sca + (long)i * el;
                    double d = 0;
                    for (long j = 0; j < el; j++)
                        d += (double)gi[j] * (double)(oi[j] - si[j]);
                    dm[B->idx[i]] = (float)d;
                }
                if (m != 1.0f)
                    for (long j = 0; j < el; j++)
                        gi[j] *= m;
            }
        }
        struct nchw os = { k, B->cout, B->ho, B->wo };
        if (fused) {
            emit_elem(sink, OP_RELU, OP_PHASE_BWD_DATA, net_tag(net, B->id_post, tech), os.n, os.c,
                      os.h, os.w);
            post_act_backward(B, k, sca, g, scg);
        } else if (B->post_act != NO_ACT) {
            act_bwd(net, B->post_act, B->id_post, &os, o, g, sink, tech);
        }
        if (B->sc != SC_NONE) {
            struct op_tag tag = net_tag(net, B->id_add, tech);
            if (dry) {
                emit_elem(sink, OP_ADD, OP_PHASE_BWD_DATA, tag, os.n, os.c, os.h, os.w);
            } else {
                add_backward(&os, g, g, NULL, sink, tag);
                if (hard_all && !fused) {
                    copy_f(scg, g, (long)n * el);
                } else {   /* active samples: g + (1 - m) * gout */
                    for (int i = 0; i < k; i++) {
                        int si = B->idx[i];
                        float m = mv ? mv[si] : 1.0f;
                        float *dst = scg + (long)si * el;
                        const float *gi = g + (long)i * el, *go = gout + (long)si * el;
                        for (long j = 0; j < el; j++)
                            dst[j] = gi[j] + (1.0f - m) * go[j];
                    }
                }
            }
        }
        /* units in reverse; the gradient then alternates between BUF_E and BUF_A (g may be gout,
         * sized for block outputs only: unit-internal gradients never go there) */
        float *ga = g, *gb = net->buf[BUF_E];
        int cached = is_fixed(net->prec.activations) && !dry;   /* input codes kept */
        for (int j = B->nu - 1; j >= 0; j--) {
            struct unit *u = &B->u[j];
            const float *in = cached ? NULL : xa;
            if (j > 0 && !cached) {
                float *r = net->buf[BUF_C];
                unit_recompute(net, &B->u[j - 1], k, r);
                in = r;
            }
            if (unit_backward(net, u, k, in, ga, gb, j > 0 || want_gin, sink, tech))
                return -1;
            ga = gb;
            gb = ga == net->buf[BUF_E] ? net->buf[BUF_A] : net->buf[BUF_E];
        }
        gx_act = ga;
    }
    if (B->sc == SC_PROJ) {
        int cached = is_fixed(net->prec.activations) && !dry;
        if (unit_backward(net, &B->proj, n, cached ? NULL : x, scg, gin, want_gin, sink, tech))
            return -1;
    }
    if (dry || !want_gin || k == 0 || B->u[0].no_input_grad)
        return 0;
    long iel = B->in_el;
    if (B->sc == SC_NONE) {   /* every sample ran */
        copy_f(gin, gx_act, (long)n * iel);
        return 0;
    }
#pragma omp parallel for schedule(dynamic, 1) if ((long)k * iel > 65536)
    for (int i = 0; i < k; i++) {
        float *dst = gin + (long)B->idx[i] * iel;
        const float *src = gx_act + (long)i * iel;
        for (long j = 0; j < iel; j++)
            dst[j] += src[j];
    }
    return 0;
}

/* ---------------------------------------------------------------- construction */

static uint16_t new_layer(struct net *net) { return net->nlayers++; }

static int unit_init(struct net *net, struct unit *u, int cin, int h, int w, int cout, int k,
                     int stride, int groups, int act)
{
    memset(u, 0, sizeof *u);
    struct conv_shape cs = { 1, cin, h, w, cout, k, stride, (k - 1) / 2, groups };
    if (conv_shape_check(&cs))
        return -1;
    u->cs = cs;
    u->act = act;
    u->ho = conv_out_h(&cs);
    u->wo = conv_out_w(&cs);
    u->in_el = (long)cin * h * w;
    u->out_el = (long)cout * u->ho * u->wo;
    u->id_conv = new_layer(net);
    u->id_bn = new_layer(net);
    u->id_act = act != NO_ACT ? new_layer(net) : 0xffff;
    long wc = conv_w_count(&cs);
    u->w = malloc(sizeof(float) * wc);
    u->gw = calloc(wc, sizeof(float));
    u->wq = malloc(sizeof(int16_t) * wc);
    u->wscale = malloc(sizeof(float) * cout);
    size_t c = (size_t)cout;
    u->gamma = malloc(sizeof(float) * c);
    u->beta = calloc(c, sizeof(float));
    u->ggamma = calloc(c, sizeof(float));
    u->gbeta = calloc(c, sizeof(float));
    u->rmean = calloc(c, sizeof(float));
    u->rvar = malloc(sizeof(float) * c);
    u->smean = calloc(c, sizeof(float));
    u->sinv = calloc(c, sizeof(float));
    u->chmax = calloc(c, sizeof(float));
    u->chmin = calloc(c, sizeof(float));
    if (!u->w || !u->gw || !u->wq || !u->wscale || !u->gamma || !u->beta || !u->ggamma ||
        !u->gbeta || !u->rmean || !u->rvar || !u->smean || !u->sinv || !u->chmax || !u->chmin)
        return -1;
    /* He: normal(0, sqrt(2 / (k*k*cout))), as the authors' ResNet code */
    uint64_t key = rng_key(rng_key(net->seed, RNG_STREAM_INIT), u->id_conv);
    float std = sqrtf(2.0f / (float)(k * k * cout));
    for (long i = 0; i < wc; i++)
        u->w[i] = std * normal_draw(key, (uint64_t)i);
    for (int i = 0; i < cout; i++) {
        u->gamma[i] = 1.0f;
        u->rvar[i] = 1.0f;
    }
    net->param_bytes += sizeof(float) * wc * 2 + sizeof(int16_t) * wc + sizeof(float) * c * 9;
    if (u->in_el > net->maxel)
        net->maxel = u->in_el;
    if (u->out_el > net->maxel)
        net->maxel = u->out_el;
    if (wc > net->maxw)
        net->maxw = wc;
    return 0;
}

static void unit_free(struct unit *u)
{
    free(u->w);
    free(u->gw);
    free(u->wq);
    free(u->wscale);
    free(u->gamma);
    free(u->beta);
    free(u->ggamma);
    free(u->gbeta);
    free(u->rmean);
    free(u->rvar);
    free(u->smean);
    free(u->sinv);
    free(u->chmax);
    free(u->chmin);
    free(u->y);
    free(u->xq);
}

static struct block *add_block(struct net *net)
{
    struct block *nb = realloc(net->b, sizeof *nb * (size_t)(net->nb + 1));
    if (!nb)
        return NULL;
    net->b = nb;
    struct block *B = &net->b[net->nb++];
    memset(B, 0, sizeof *B);
    B->skip = -1;
    B->post_act = NO_ACT;
    B->id_add = B->id_post = B->id_gate = 0xffff;
    return B;
}

static void block_dims(struct net *net, struct block *B)
{
    struct unit *first = &B->u[0], *last = &B->u[B->nu - 1];
    B->cin = first->cs.cin;
    B->h = first->cs.h;
    B->w = first->cs.w;
    B->cout = last->cs.cout;
    B->ho = last->ho;
    B->wo = last->wo;
    B->in_el = first->in_el;
    B->out_el = last->out_el;
    B->branch_macs = 0;
    if (B->in_el > net->maxb)
        net->maxb = B->in_el;
    if (B->out_el > net->maxb)
        net->maxb = B->out_el;
    for (int j = 0; j < B->nu; j++) {
        struct oprec r = conv_oprec(&B->u[j].cs, OP_PHASE_FWD, op_tag_make(0, 0), 32, 32, 32, 32);
        B->branch_macs += oprec_macs(&r);
    }
}

/* A block of a single conv unit without shortcut (stems, MobileNetV2's last conv). */
static int plain_block(struct net *net, int cin, int h, int w, int cout, int k, int stride, int act)
{
    struct block *B = add_block(net);
    if (!B)
        return -1;
    B->nu = 1;
    if (unit_init(net, &B->u[0], cin, h, w, cout, k, stride, 1, act))
        return -1;
    block_dims(net, B);
    return 0;
}

static void make_skippable(struct net *net, struct block *B)
{
    B->skip = net->nskip++;
    B->id_gate = B->skip > 0 ? new_layer(net) : 0xffff;
}

static int resnet_block(struct net *net, int cin, int h, int w, int cout, int stride)
{
    struct block *B = add_block(net);
    if (!B)
        return -1;
    make_skippable(net, B);
    if (stride != 1 || cin != cout) {
        B->sc = SC_PROJ;
        if (unit_init(net, &B->proj, cin, h, w, cout, 1, stride, 1, NO_ACT))
            return -1;
    } else {
        B->sc = SC_IDENTITY;
    }
    B->nu = 2;
    if (unit_init(net, &B->u[0], cin, h, w, cout, 3, stride, 1, ACT_RELU))
        return -1;
    if (unit_init(net, &B->u[1], cout, B->u[0].ho, B->u[0].wo, cout, 3, 1, 1, NO_ACT))
        return -1;
    B->id_add = new_layer(net);
    B->post_act = ACT_RELU;
    B->id_post = new_layer(net);
    block_dims(net, B);
    return 0;
}

static int mbv2_block(struct net *net, int cin, int h, int w, int cout, int expand, int stride)
{
    struct block *B = add_block(net);
    if (!B)
        return -1;
    int residual = stride == 1 && cin == cout;
    if (residual) {
        make_skippable(net, B);
        B->sc = SC_IDENTITY;
    }
    int hid = cin * expand, j = 0;
    if (expand != 1) {
        if (unit_init(net, &B->u[j++], cin, h, w, hid, 1, 1, 1, ACT_RELU6))
            return -1;
    }
    if (unit_init(net, &B->u[j], hid, h, w, hid, 3, stride, hid, ACT_RELU6))
        return -1;
    int ho = B->u[j].ho, wo = B->u[j].wo;
    j++;
    if (unit_init(net, &B->u[j++], hid, ho, wo, cout, 1, 1, 1, NO_ACT))
        return -1;
    B->nu = j;
    if (residual)
        B->id_add = new_layer(net);
    block_dims(net, B);
    return 0;
}

static int build_resnet(struct net *net, int depth, int width)
{
    if (depth < 8 || (depth - 2) % 6 || width <= 0)
        return -1;
    int nper = (depth - 2) / 6, h = net->in_h, w = net->in_w;
    if (plain_block(net, net->in_c, h, w, width, 3, 1, ACT_RELU))
        return -1;
    net->b[0].u[0].no_input_grad = 1;
    int cin = width;
    for (int stage = 0; stage < 3; stage++) {
        int cout = width << stage;
        for (int i = 0; i < nper; i++) {
            int stride = (stage > 0 && i == 0) ? 2 : 1;
            if (resnet_block(net, cin, h, w, cout, stride))
                return -1;
            struct block *B = &net->b[net->nb - 1];
            h = B->ho;
            w = B->wo;
            cin = cout;
        }
    }
    return 0;
}

static int scaled(int c, int width) { int v = (c * width + 16) / 32; return v > 0 ? v : 1; }

static int build_mobilenetv2(struct net *net, int width)
{
    if (width <= 0)
        return -1;
    /* (expansion t, channels c, repeats n, stride s); CIFAR: stride 1 in the stem and stage 2 */
    static const int cfg[7][4] = {
        { 1, 16, 1, 1 }, { 6, 24, 2, 1 }, { 6, 32, 3, 2 }, { 6, 64, 4, 2 },
        { 6, 96, 3, 1 }, { 6, 160, 3, 2 }, { 6, 320, 1, 1 },
    };
    int h = net->in_h, w = net->in_w, cin = scaled(32, width);
    if (plain_block(net, net->in_c, h, w, cin, 3, 1, ACT_RELU6))
        return -1;
    net->b[0].u[0].no_input_grad = 1;
    for (int s = 0; s < 7; s++) {
        int cout = scaled(cfg[s][1], width);
        for (int i = 0; i < cfg[s][2]; i++) {
            if (mbv2_block(net, cin, h, w, cout, cfg[s][0], i == 0 ? cfg[s][3] : 1))
                return -1;
            struct block *B = &net->b[net->nb - 1];
            h = B->ho;
            w = B->wo;
            cin = cout;
        }
    }
    return plain_block(net, cin, h, w, width > 32 ? scaled(1280, width) : 1280, 1, 1, ACT_RELU6);
}

/* ---------------------------------------------------------------- parameters */

static void param_set(struct net_param *q, const char *name, float *w, float *grad, long count,
                      int kind, uint16_t layer, int cout, int cin, int groups, int k, int bits_w,
                      int bits_grad)
{
    memset(q, 0, sizeof *q);
    snprintf(q->name, sizeof q->name, "%s", name);
    q->w = w;
    q->grad = grad;
    q->count = count;
    q->kind = kind;
    q->layer = layer;
    q->tech = OP_TECH_BASE;
    q->cout = (uint16_t)cout;
    q->cin = (uint16_t)cin;
    q->groups = (uint16_t)groups;
    q->k = (uint8_t)k;
    q->bits_w = (uint8_t)bits_w;
    q->bits_grad = (uint8_t)bits_grad;
    q->active = grad != NULL;
}

/* The unit's parameters: conv w, BN gamma, beta (trained), running mean, var (state). */
static int unit_params(const struct net *net, struct unit *u, const char *prefix,
                       struct net_param *out)
{
    char name[48];
    int c = u->cs.cout;
    snprintf(name, sizeof name, "%s.conv.w", prefix);
    param_set(&out[0], name, u->w, u->gw, conv_w_count(&u->cs), NET_PARAM_CONV, u->id_conv, c,
              u->cs.cin, u->cs.groups, u->cs.k, net->prec.weights, net->prec.grad_weight);
    snprintf(name, sizeof name, "%s.bn.gamma", prefix);
    param_set(&out[1], name, u->gamma, u->ggamma, c, NET_PARAM_BN, u->id_bn, c, 1, 1, 1, 32, 32);
    snprintf(name, sizeof name, "%s.bn.beta", prefix);
    param_set(&out[2], name, u->beta, u->gbeta, c, NET_PARAM_BN, u->id_bn, c, 1, 1, 1, 32, 32);
    snprintf(name, sizeof name, "%s.bn.running_mean", prefix);
    param_set(&out[3], name, u->rmean, NULL, c, NET_PARAM_BN_RUNNING, u->id_bn, c, 1, 1, 1, 32, 32);
    snprintf(name, sizeof name, "%s.bn.running_var", prefix);
    param_set(&out[4], name, u->rvar, NULL, c, NET_PARAM_BN_RUNNING, u->id_bn, c, 1, 1, 1, 32, 32);
    return 5;
}

static int build_params(struct net *net)
{
    int count = 2;   /* fc */
    for (int b = 0; b < net->nb; b++)
        count += 5 * (net->b[b].nu + (net->b[b].sc == SC_PROJ));
    int ngate = net->slu ? gate_params(net->gates, NULL, 0) : 0;
    struct net_param *p = calloc((size_t)(count + ngate), sizeof *p);
    if (!p)
        return -1;
    int k = 0;
    char prefix[24];
    for (int b = 0; b < net->nb; b++) {
        struct block *B = &net->b[b];
        if (B->sc == SC_PROJ) {
            snprintf(prefix, sizeof prefix, "b%d.proj", b);
            k += unit_params(net, &B->proj, prefix, p + k);
        }
        for (int j = 0; j < B->nu; j++) {
            snprintf(prefix, sizeof prefix, "b%d.u%d", b, j);
            k += unit_params(net, &B->u[j], prefix, p + k);
        }
    }
    param_set(&p[k++], "fc.w", net->fc_w, net->fc_gw, (long)net->classes * net->fc_in,
              NET_PARAM_FC, net->id_fc, net->classes, net->fc_in, 1, 1, 32, 32);
    param_set(&p[k++], "fc.b", net->fc_b, net->fc_gb, net->classes, NET_PARAM_FC, net->id_fc,
              net->classes, 1, 1, 1, 32, 32);
    if (ngate)
        k += gate_params(net->gates, p + k, ngate);
    free(net->params);
    net->params = p;
    net->nparams = k;
    return 0;
}

/* ---------------------------------------------------------------- create / free */

struct net_precision net_precision_float(void)
{
    struct net_precision p = { 32, 32, 32, 32, 32, 0 };
    return p;
}

struct net_precision net_precision_fixed(int act_bits, int weight_bits, int grad_bits)
{
    struct net_precision p = { act_bits, weight_bits, grad_bits, 32, FX_ACC_BITS, 0 };
    return p;
}

static int precision_ok(const struct net_precision *p)
{
    int v[4] = { p->activations, p->weights, p->grad_output, p->grad_weight };
    for (int i = 0; i < 4; i++)
        if (!((v[i] >= 2 && v[i] <= 16) || v[i] == 32))
            return 0;
    return p->accumulator >= 8 && p->accumulator <= 64;
}

int net_create(enum net_arch arch, int depth, int width, int in_c, int in_h, int in_w, int classes,
               const struct net_precision *prec, uint64_t seed, struct net **out)
{
    if (!out)
        return -1;
    *out = NULL;
    if (in_c <= 0 || in_h < 4 || in_w < 4 || classes < 2 || classes > 65535 || !prec ||
        !precision_ok(prec))
        return -1;
    struct net *net = calloc(1, sizeof *net);
    if (!net)
        return -1;
    net->arch = arch;
    net->in_c = in_c;
    net->in_h = in_h;
    net->in_w = in_w;
    net->classes = classes;
    net->prec = *prec;
    net->seed = seed;
    net->maxel = (long)in_c * in_h * in_w;
    int rc = arch == NET_RESNET ? build_resnet(net, depth, width)
           : arch == NET_MOBILENETV2 ? build_mobilenetv2(net, width) : -1;
    if (rc) {
        net_free(net);
        return -1;
    }
    struct block *L = &net->b[net->nb - 1];
    net->fc_in = L->cout;
    net->last_h = L->ho;
    net->last_w = L->wo;
    net->id_pool = new_layer(net);
    net->id_fc = new_layer(net);
    net->id_loss = new_layer(net);
    long fw = (long)classes * net->fc_in;
    net->fc_w = malloc(sizeof(float) * fw);
    net->fc_gw = calloc(fw, sizeof(float));
    net->fc_b = malloc(sizeof(float) * classes);
    net->fc_gb = calloc(classes, sizeof(float));
    net->skip_block = malloc(sizeof(int) * (net->nskip ? net->nskip : 1));
    if (!net->fc_w || !net->fc_gw || !net->fc_b || !net->fc_gb || !net->skip_block) {
        net_free(net);
        return -1;
    }
    net->param_bytes += sizeof(float) * (fw + classes) * 2;
    /* PyTorch's Linear default: uniform(+-1/sqrt(fan_in)) for weight and bias */
    uint64_t key = rng_key(rng_key(seed, RNG_STREAM_INIT), net->id_fc);
    float bound = 1.0f / sqrtf((float)net->fc_in);
    for (long i = 0; i < fw; i++)
        net->fc_w[i] = bound * (2.0f * rng_uniform(key, (uint64_t)i) - 1.0f);
    for (int i = 0; i < classes; i++)
        net->fc_b[i] = bound * (2.0f * rng_uniform(key, (uint64_t)(fw + i)) - 1.0f);
    for (int b = 0; b < net->nb; b++)
        if (net->b[b].skip >= 0)
            net->skip_block[net->b[b].skip] = b;
    if (build_params(net)) {
        net_free(net);
        return -1;
    }
    *out = net;
    return 0;
}

static void free_transient(struct net *net)
{
    for (int i = 0; i < NBUF; i++) {
        free(net->buf[i]);
        net->buf[i] = NULL;
    }
    for (int i = 0; i < NQ; i++) {
        free(net->q[i]);
        net->q[i] = NULL;
    }
    free(net->pooled);
    free(net->gpooled);
    free(net->logits);
    free(net->prob);
    free(net->dlogits);
    free(net->gprob);
    free(net->mval);
    free(net->dm);
    free(net->mask);
    net->pooled = net->gpooled = net->logits = net->prob = net->dlogits = NULL;
    net->gprob = net->mval = net->dm = NULL;
    net->mask = NULL;
    for (int b = 0; b < net->nb; b++) {
        free(net->b[b].idx);
        net->b[b].idx = NULL;
    }
    net->tcap = 0;
}

void net_free(struct net *net)
{
    if (!net)
        return;
    free_transient(net);
    for (int b = 0; b < net->nb; b++) {
        struct block *B = &net->b[b];
        for (int j = 0; j < B->nu; j++)
            unit_free(&B->u[j]);
        if (B->sc == SC_PROJ)
            unit_free(&B->proj);
        free(B->act_in);
    }
    free(net->b);
    free(net->skip_block);
    free(net->fc_w);
    free(net->fc_gw);
    free(net->fc_b);
    free(net->fc_gb);
    free(net->eval_scale);
    free(net->wtmp);
    free(net->wdeq);
    free(net->wqtmp);
    free(net->params);
    gate_free(net->gates);
    fx_workspace_free(&net->ws);
    free(net);
}

static int block_sized(int buf)
{
    return buf == BUF_G || buf == BUF_S || buf == BUF_GS || buf == BUF_D || buf == BUF_P0 ||
           buf == BUF_P1;
}

/* Transient buffers for n samples. */
static int reserve_transient(struct net *net, int n)
{
    if (n <= net->tcap)
        return 0;
    free_transient(net);
    size_t el = (size_t)n * (size_t)net->maxel;
    for (int i = 0; i < NBUF; i++)
        if (!(net->buf[i] = malloc(sizeof(float) * (block_sized(i) ? (size_t)n * net->maxb : el))))
            return -1;
    for (int i = 0; i < NQ; i++)
        if (!(net->q[i] = malloc(sizeof(int16_t) * el)))
            return -1;
    size_t ns = (size_t)(net->nskip ? net->nskip : 1) * n;
    net->pooled = malloc(sizeof(float) * (size_t)n * net->fc_in);
    net->gpooled = malloc(sizeof(float) * (size_t)n * net->fc_in);
    net->logits = malloc(sizeof(float) * (size_t)n * net->classes);
    net->prob = malloc(sizeof(float) * (size_t)n * net->classes);
    net->dlogits = malloc(sizeof(float) * (size_t)n * net->classes);
    net->gprob = malloc(sizeof(float) * ns);
    net->mval = malloc(sizeof(float) * ns);
    net->dm = calloc(ns, sizeof(float));
    net->mask = malloc(ns);
    if (!net->pooled || !net->gpooled || !net->logits || !net->prob || !net->dlogits ||
        !net->gprob || !net->mval || !net->dm || !net->mask)
        return -1;
    for (int b = 0; b < net->nb; b++)
        if (!(net->b[b].idx = malloc(sizeof(int) * (size_t)n)))
            return -1;
    if (!net->wtmp) {
        net->wtmp = malloc(sizeof(float) * (size_t)net->maxw);
        net->wdeq = malloc(sizeof(float) * (size_t)net->maxw);
        net->wqtmp = malloc(sizeof(int16_t) * (size_t)net->maxw);
        if (!net->wtmp || !net->wdeq || !net->wqtmp)
            return -1;
    }
    net->tcap = n;
    return 0;
}

/* A unit's kept input codes for n samples (fixed-point activations only). */
static int saved_codes(const struct net *net, struct unit *u, int n)
{
    free(u->xq);
    u->xq = NULL;
    if (!is_fixed(net->prec.activations))
        return 0;
    u->xq = malloc(sizeof(int16_t) * (size_t)n * (size_t)u->in_el);
    return u->xq ? 0 : -1;
}

/* Saved-for-backward buffers for n samples. */
static int reserve_saved(struct net *net, int n)
{
    if (n <= net->scap)
        return 0;
    for (int b = 0; b < net->nb; b++) {
        struct block *B = &net->b[b];
        free(B->act_in);
        if (!(B->act_in = malloc(sizeof(float) * (size_t)n * B->in_el)))
            return -1;
        for (int j = 0; j < B->nu; j++) {
            free(B->u[j].y);
            if (!(B->u[j].y = malloc(sizeof(float) * (size_t)n * B->u[j].out_el)))
                return -1;
            if (saved_codes(net, &B->u[j], n))
                return -1;
        }
        if (B->sc == SC_PROJ) {
            free(B->proj.y);
            if (!(B->proj.y = malloc(sizeof(float) * (size_t)n * B->proj.out_el)))
                return -1;
            if (saved_codes(net, &B->proj, n))
                return -1;
        }
    }
    net->scap = n;
    return 0;
}

/* ---------------------------------------------------------------- configuration */

int net_set_psg(struct net *net, const struct psg_config *cfg)
{
    if (!net)
        return -1;
    if (!cfg) {
        net->psg_on = 0;
        return 0;
    }
    if (!is_fixed(net->prec.activations) || !is_fixed(net->prec.grad_output) || cfg->msb_x < 1 ||
        cfg->msb_g < 1 || cfg->msb_x > net->prec.activations || cfg->msb_g > net->prec.grad_output)
        return -1;
    net->psg = *cfg;
    net->psg_on = 1;
    return 0;
}

int net_set_slu(struct net *net, int enabled, enum gate_decision decision)
{
    if (!net)
        return -1;
    if (!enabled) {
        net->slu = 0;
        return build_params(net);
    }
    if (net->nskip < 2)
        return -1;
    if (!net->gates) {
        int T = net->nskip - 1;
        int *cin = malloc(sizeof(int) * T);
        uint16_t *layer = malloc(sizeof(uint16_t) * T);
        if (!cin || !layer) {
            free(cin);
            free(layer);
            return -1;
        }
        for (int t = 0; t < T; t++) {
            struct block *B = &net->b[net->skip_block[t + 1]];
            cin[t] = B->cin;
            layer[t] = B->id_gate;
        }
        net->gates = gate_create(T, cin, layer, net->seed);
        free(cin);
        free(layer);
        if (!net->gates)
            return -1;
    }
    net->slu = 1;
    net->decision = decision;
    return build_params(net);
}

void net_set_iteration(struct net *net, uint64_t iteration)
{
    if (net)
        net->iteration = iteration;
}

int net_set_eval_scale(struct net *net, const float *scale)
{
    if (!net)
        return -1;
    if (!scale) {
        free(net->eval_scale);
        net->eval_scale = NULL;
        return 0;
    }
    if (!net->eval_scale && !(net->eval_scale = malloc(sizeof(float) * (net->nskip ? net->nskip : 1))))
        return -1;
    memcpy(net->eval_scale, scale, sizeof(float) * (size_t)net->nskip);
    return 0;
}

/* ---------------------------------------------------------------- passes */

static void head_forward(struct net *net, const float *last, int n, const struct op_sink *sink,
                         uint8_t tech)
{
    struct nchw s = { n, net->fc_in, net->last_h, net->last_w };
    struct fc_shape fs = { n, net->fc_in, net->classes };
    struct op_tag tp = net_tag(net, net->id_pool, tech), tf = net_tag(net, net->id_fc, tech);
    if (net->dry) {
        emit_elem(sink, OP_POOL, OP_PHASE_FWD, tp, n, net->fc_in, net->last_h, net->last_w);
        struct oprec r = fc_oprec(&fs, OP_PHASE_FWD, tf, 32, 32, 32, 32);
        op_emit(sink, &r);
        return;
    }
    pool_avg_forward(&s, last, net->pooled, sink, tp);
    fc_forward_f32(&fs, net->pooled, net->fc_w, net->fc_b, net->logits, sink, tf);
}

static int forward_pass(struct net *net, const float *x, int n, const uint8_t *block_mask,
                        const struct op_sink *sink, enum net_mode mode)
{
    uint8_t tech = mode == NET_BN_RECOMPUTE ? OP_TECH_SWA : OP_TECH_BASE;
    int train = mode == NET_TRAIN;
    if (!net->dry && net->slu && gate_begin(net->gates, n, train))
        return -1;
    const float *cur = x;
    struct range rcur = { 0, 0.0f, 0 }, rout;   /* the network input's range is not known */
    for (int b = 0; b < net->nb; b++) {
        struct block *B = &net->b[b];
        float *out;
        if (train) {
            if (b == 0 && !net->dry)
                copy_f(B->act_in, x, (long)n * B->in_el);
            cur = B->act_in;
            out = b + 1 < net->nb ? net->b[b + 1].act_in : net->buf[BUF_P0];
        } else {
            out = net->buf[b % 2 ? BUF_P1 : BUF_P0];
        }
        if (block_forward(net, B, cur, &rcur, out, n, block_mask, mode, sink, tech, &rout))
            return -1;
        cur = out;
        rcur = rout;
    }
    head_forward(net, cur, n, sink, tech);
    return 0;
}

const float *net_forward(struct net *net, const float *x, int n, const uint8_t *block_mask,
                         const struct op_sink *sink, enum net_mode mode)
{
    if (!net || !x || n <= 0 || mode < NET_EVAL || mode > NET_BN_RECOMPUTE)
        return NULL;
    if (reserve_transient(net, n) || (mode == NET_TRAIN && reserve_saved(net, n)))
        return NULL;
    net->dry = 0;
    net->trained = 0;
    if (forward_pass(net, x, n, block_mask, sink, mode))
        return NULL;
    net->last_n = n;
    net->trained = mode == NET_TRAIN;
    if (mode == NET_BN_RECOMPUTE)
        net->bn_batches++;
    return net->logits;
}

double net_loss(struct net *net, const int *labels, const float **dlogits,
                const struct op_sink *sink)
{
    if (!net || !labels || !net->last_n)
        return NAN;
    int n = net->last_n;
    struct op_tag tag = net_tag(net, net->id_loss, OP_TECH_BASE);
    double loss = loss_xent_forward(n, net->classes, net->logits, labels, net->prob, sink, tag);
    loss_xent_backward(n, net->classes, net->prob, labels, 1.0f, net->dlogits, sink, tag);
    if (dlogits)
        *dlogits = net->dlogits;
    return loss;
}

static int backward_pass(struct net *net, int n, const float *dlogits, const float *gate_dm,
                         const struct op_sink *sink)
{
    uint8_t tech = OP_TECH_BASE;
    struct fc_shape fs = { n, net->fc_in, net->classes };
    struct op_tag tf = net_tag(net, net->id_fc, tech), tp = net_tag(net, net->id_pool, tech);
    float *gout = net->buf[BUF_P0], *gin = net->buf[BUF_P1];
    if (net->fc_only) {   /* nothing below the FC learns: no gradient flows past it */
        if (net->dry) {
            struct oprec r = fc_oprec(&fs, OP_PHASE_BWD_WEIGHT, tf, 32, 32, 32, 32);
            op_emit(sink, &r);
            return 0;
        }
        return fc_backward_weight_f32(&fs, net->pooled, dlogits, net->fc_gw, net->fc_gb, sink, tf);
    }
    if (net->dry) {
        struct oprec r = fc_oprec(&fs, OP_PHASE_BWD_DATA, tf, 32, 32, 32, 32);
        op_emit(sink, &r);
        r = fc_oprec(&fs, OP_PHASE_BWD_WEIGHT, tf, 32, 32, 32, 32);
        op_emit(sink, &r);
        emit_elem(sink, OP_POOL, OP_PHASE_BWD_DATA, tp, n, net->fc_in, net->last_h, net->last_w);
    } else {
        if (fc_backward_data_f32(&fs, dlogits, net->fc_w, net->gpooled, sink, tf) ||
            fc_backward_weight_f32(&fs, net->pooled, dlogits, net->fc_gw, net->fc_gb, sink, tf))
            return -1;
        struct nchw s = { n, net->fc_in, net->last_h, net->last_w };
        pool_avg_backward(&s, net->gpooled, gout, sink, tp);
        if (net->slu)
            gate_zero_grad(net->gates);
    }
    for (int b = net->nb - 1; b >= 0; b--) {
        struct block *B = &net->b[b];
        float *gi = b > 0 ? gin : NULL;
        if (block_backward(net, B, n, gout, gi, b > 0, sink, tech))
            return -1;
        if (net->slu && B->skip > 0) {
            int t = B->skip - 1;
            if (net->dry) {
                struct oprec r = gate_oprec(net->gates, t, n, B->h, B->w, OP_PHASE_BWD_DATA);
                op_emit(sink, &r);
                r = gate_oprec(net->gates, t, n, B->h, B->w, OP_PHASE_BWD_WEIGHT);
                op_emit(sink, &r);
            } else {
                float *dm = net->dm + (long)B->skip * n;
                if (gate_dm)
                    for (int i = 0; i < n; i++)
                        dm[i] += gate_dm[(long)B->skip * n + i];
                if (gate_backward(net->gates, t, dm, gi, B->h, B->w, sink))
                    return -1;
            }
        }
        float *t = gout;
        gout = gin;
        gin = t;
    }
    return 0;
}

/* active / grad_is_sign / psg of every parameter after a backward (or a dry one). */
static void mark_params(struct net *net, struct net_param *p, int np)
{
    int k = 0;
    for (int b = 0; b < net->nb; b++) {
        struct block *B = &net->b[b];
        if (B->sc == SC_PROJ) {
            for (int j = 0; j < 5; j++)
                p[k + j].active = p[k + j].grad != NULL;
            p[k].grad_is_sign = net->psg_on;
            p[k].psg = B->proj.psg;
            k += 5;
        }
        for (int u = 0; u < B->nu; u++) {
            for (int j = 0; j < 5; j++)
                p[k + j].active = p[k + j].grad != NULL && B->k > 0;
            p[k].grad_is_sign = net->psg_on && B->k > 0;
            p[k].psg = B->u[u].psg;
            k += 5;
        }
    }
    for (int i = 0; net->fc_only && i < np; i++)   /* fine-tuning the last layer only */
        if (p[i].kind != NET_PARAM_FC)
            p[i].active = 0;
}

void net_set_fc_only(struct net *net, int on)
{
    net->fc_only = on != 0;
}

int net_backward(struct net *net, const float *dlogits, const float *gate_dm,
                 const struct op_sink *sink)
{
    if (!net || !dlogits || !net->trained)
        return -1;
    int n = net->last_n;
    net->dry = 0;
    /* Blocks that ran on no sample get zero gradients (and are marked inactive). */
    for (int b = 0; b < net->nb; b++) {
        struct block *B = &net->b[b];
        for (int j = 0; j < B->nu; j++) {
            struct unit *u = &B->u[j];
            memset(&u->psg, 0, sizeof u->psg);
            if (B->k == 0) {
                memset(u->gw, 0, sizeof(float) * (size_t)conv_w_count(&u->cs));
                memset(u->ggamma, 0, sizeof(float) * (size_t)u->cs.cout);
                memset(u->gbeta, 0, sizeof(float) * (size_t)u->cs.cout);
            }
        }
        memset(&B->proj.psg, 0, sizeof B->proj.psg);
    }
    if (backward_pass(net, n, dlogits, gate_dm, sink))
        return -1;
    mark_params(net, net->params, net->nparams);
    return 0;
}

int net_emit_iteration(struct net *net, int n, const int *active, float psg_full_fraction,
                       const struct optim_config *optim, const struct op_sink *sink)
{
    if (!net || n <= 0)
        return -1;
    for (int s = 0; active && s < net->nskip; s++)
        if (active[s] < 0 || active[s] > n)
            return -1;
    float f = psg_full_fraction < 0 ? 0 : (psg_full_fraction > 1 ? 1 : psg_full_fraction);
    long q = lroundf(f * 65536.0f);
    net->dry = 1;
    net->dry_active = active;
    net->dry_full_q16 = (uint16_t)(q > 65535 ? 65535 : q);
    int *saved_k = malloc(sizeof(int) * (size_t)net->nb);
    if (!saved_k)
        return -1;
    for (int b = 0; b < net->nb; b++)
        saved_k[b] = net->b[b].k;
    int rc = forward_pass(net, NULL, n, NULL, sink, NET_TRAIN);
    if (!rc) {
        struct op_tag tag = net_tag(net, net->id_loss, OP_TECH_BASE);
        emit_elem(sink, OP_LOSS, OP_PHASE_FWD, tag, n, net->classes, 1, 1);
        emit_elem(sink, OP_LOSS, OP_PHASE_BWD_DATA, tag, n, net->classes, 1, 1);
        rc = backward_pass(net, n, NULL, NULL, sink);
    }
    if (!rc && optim) {
        struct net_param *p = malloc(sizeof *p * (size_t)net->nparams);
        if (!p) {
            rc = -1;
        } else {
            memcpy(p, net->params, sizeof *p * (size_t)net->nparams);
            mark_params(net, p, net->nparams);
            optim_emit_updates(optim, p, net->nparams, sink);
            free(p);
        }
    }
    for (int b = 0; b < net->nb; b++)
        net->b[b].k = saved_k[b];
    free(saved_k);
    net->dry = 0;
    net->dry_active = NULL;
    return rc;
}

/* ---------------------------------------------------------------- queries */

int net_params(struct net *net, struct net_param **params)
{
    if (!net)
        return 0;
    if (params)
        *params = net->params;
    return net->nparams;
}

int net_blocks(const struct net *net) { return net ? net->nskip : 0; }

uint64_t net_block_macs(const struct net *net, int block)
{
    if (!net || block < 0 || block >= net->nskip)
        return 0;
    return net->b[net->skip_block[block]].branch_macs;
}

const uint8_t *net_block_mask(const struct net *net) { return net && net->last_n ? net->mask : NULL; }

const float *net_gate_prob(const struct net *net)
{
    return net && net->slu && net->last_n ? net->gprob : NULL;
}

int net_last_n(const struct net *net) { return net ? net->last_n : 0; }

uint64_t net_forward_macs(const struct net *net)
{
    if (!net)
        return 0;
    uint64_t macs = (uint64_t)net->fc_in * net->classes;
    for (int b = 0; b < net->nb; b++) {
        const struct block *B = &net->b[b];
        macs += B->branch_macs;
        if (B->sc == SC_PROJ) {
            struct oprec r = conv_oprec(&B->proj.cs, OP_PHASE_FWD, op_tag_make(0, 0), 32, 32, 32, 32);
            macs += oprec_macs(&r);
        }
    }
    return macs;
}

int net_classes(const struct net *net) { return net ? net->classes : 0; }

struct net_precision net_get_precision(const struct net *net) { return net->prec; }

struct fx_stats net_fx_stats(const struct net *net) { return net->st; }

void net_fx_stats_set(struct net *net, const struct fx_stats *s) { net->st = *s; }

void net_bn_reset(struct net *net)
{
    if (!net)
        return;
    for (int b = 0; b < net->nb; b++) {
        struct block *B = &net->b[b];
        struct unit *us[4];
        int nu = 0;
        for (int j = 0; j < B->nu; j++)
            us[nu++] = &B->u[j];
        if (B->sc == SC_PROJ)
            us[nu++] = &B->proj;
        for (int j = 0; j < nu; j++)
            for (int c = 0; c < us[j]->cs.cout; c++) {
                us[j]->rmean[c] = 0.0f;
                us[j]->rvar[c] = 1.0f;
            }
    }
    net->bn_batches = 0;
}

size_t net_memory_bytes(const struct net *net)
{
    if (!net)
        return 0;
    size_t bytes = net->param_bytes;
    for (int i = 0; i < NBUF; i++)
        bytes += sizeof(float) * (size_t)net->tcap * (size_t)(block_sized(i) ? net->maxb : net->maxel);
    bytes += sizeof(int16_t) * (size_t)net->tcap * (size_t)net->maxel * NQ;
    bytes += (size_t)net->maxw * (2 * sizeof(float) + sizeof(int16_t));
    for (int b = 0; b < net->nb; b++) {
        const struct block *B = &net->b[b];
        long per = B->in_el, codes = 0;
        for (int j = 0; j < B->nu; j++) {
            per += B->u[j].out_el;
            codes += B->u[j].xq ? B->u[j].in_el : 0;
        }
        if (B->sc == SC_PROJ) {
            per += B->proj.out_el;
            codes += B->proj.xq ? B->proj.in_el : 0;
        }
        bytes += sizeof(float) * (size_t)net->scap * (size_t)per;
        bytes += sizeof(int16_t) * (size_t)net->scap * (size_t)codes;
    }
    bytes += net->ws.bytes;
    return bytes;
}
