/* One conv unit of the network (conv -> BN -> optional activation): the quantization of its
 * operands, its conv passes (PSG's sign choice included), the BN and activation wrappers, and
 * its forward, recomputation and backward. See net_internal.h.
 *
 * With net->dry set, the wrappers emit the records their kernels would and compute nothing. */
#include "net_internal.h"

#include <math.h>
#include <string.h>

#include "act.h"
#include "bn.h"
#include "psg.h"

static uint64_t tensor_key(const struct net *net, uint16_t layer, int slot)
{
    return fx_round_key(net->seed, net->iteration, (uint64_t)layer * 8 + (uint64_t)slot);
}


/* The unit's BN output and activation on its k saved samples, computed exactly as
 * bn_forward_train_act does (unit_bn_affine, bn_act_apply): the backward pass recomputes
 * activations this way instead of keeping them. */
static void bn_apply(const struct unit *u, int k, float *out)
{
    int c = u->cs.cout;
    long hw = (long)u->ho * u->wo;
#pragma omp parallel for schedule(dynamic, 1) if ((long)k * c * hw > 65536)
    for (int ch = 0; ch < c; ch++) {
        float a, b;
        unit_bn_affine(u, ch, &a, &b);
        for (int n = 0; n < k; n++) {
            long o = ((long)n * c + ch) * hw;
            bn_act_apply(u->y + o, hw, a, b, u->act, out + o);
        }
    }
}


static long piece_rows(const struct unit *u)
{
    long hw = (long)u->ho * u->wo;
    return hw < PIECE ? PIECE / hw : 1;
}

static long piece_parts(const struct unit *u)   /* pieces per group of rows */
{
    long hw = (long)u->ho * u->wo;
    return (hw + PIECE - 1) / PIECE;
}

long unit_piece_count(const struct unit *u, int k)
{
    long rows = (long)k * u->cs.cout, per = piece_rows(u);
    return (rows + per - 1) / per * piece_parts(u);
}

struct piece unit_piece(const struct unit *u, int k, long i)
{
    long hw = (long)u->ho * u->wo, rows = (long)k * u->cs.cout, per = piece_rows(u);
    long group = i / piece_parts(u), part = i % piece_parts(u);
    struct piece p;
    p.r0 = group * per;
    p.r1 = p.r0 + per < rows ? p.r0 + per : rows;
    p.i0 = part * PIECE;
    p.n = hw - p.i0 < PIECE ? hw - p.i0 : PIECE;
    p.at = p.r0 * hw + p.i0;
    return p;
}

void unit_output_piece(const struct unit *u, const struct piece *p, float *buf)
{
    long hw = (long)u->ho * u->wo;
    for (long r = p->r0; r < p->r1; r++) {
        float a, b;
        unit_bn_affine(u, (int)(r % u->cs.cout), &a, &b);
        bn_act_apply(u->y + r * hw + p->i0, p->n, a, b, u->act, buf + (r - p->r0) * p->n);
    }
}

/* ---------------------------------------------------------------- quantization */

static struct fx_format fmt_of(const struct net *net, int bits, int is_signed, int per_channel)
{
    struct fx_format f = { bits, is_signed, per_channel, net->prec.stochastic };
    return f;
}

/* The format and scale of activation codes of a tensor with range (neg, maxabs): unsigned when
 * no value is negative; the scale as fx_quantize would choose it. The view of the codes in t. */
static struct fx_format act_format(const struct net *net, int neg, float maxabs, int16_t *code,
                                   float *scale, struct fx_tensor *t)
{
    struct fx_format f = fmt_of(net, net->prec.activations, neg, 0);
    scale[0] = fx_scale_for_max(maxabs, f.bits, f.is_signed);
    struct fx_tensor r = { code, scale, f.bits, f.is_signed, 0 };
    *t = r;
    return f;
}

/* Activation codes of v [k][c][hw] into code (act_format). r (may be NULL) is v's range when
 * known: the same scale and signedness without a pass over v. */
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
    struct fx_format f = act_format(net, neg, maxabs, code, scale, t);
    return fx_quantize_with_scale(v, k, c, hw, &f, NULL, tensor_key(net, layer, SLOT_X), scale, code,
                                  &net->st);
}

/* Activation codes of unit `from`'s output, which was never written: computed a piece at a
 * time into L1 (unit_output_piece) and quantized from there (the codes quant_act would give for
 * the written output: the same values, scale, keys and indices). rv: that output's range, which
 * bn_forward_train_act found without writing it. */
static int quant_bn_act(struct net *net, const struct unit *from, int k, uint16_t layer,
                        const struct range *rv, int16_t *code, float *scale, struct fx_tensor *t)
{
    long pieces = unit_piece_count(from, k);
    struct fx_format f = act_format(net, rv->neg, rv->maxabs, code, scale, t);
    uint64_t key = tensor_key(net, layer, SLOT_X), quantized = 0, saturated = 0;
    int bad = 0;
#pragma omp parallel for schedule(dynamic, 1) reduction(+ : quantized, saturated, bad) if (pieces > 16)
    for (long i = 0; i < pieces; i++) {
        struct piece p = unit_piece(from, k, i);
        float buf[PIECE];
        unit_output_piece(from, &p, buf);
        struct fx_target tg = { NULL, key, scale, code + p.at, (uint64_t)p.at };
        struct fx_stats st = { 0 };
        bad += fx_quantize_targets(buf, 1, 1, (p.r1 - p.r0) * p.n, &f, &tg, 1, &st) != 0;
        quantized += st.quantized;
        saturated += st.saturated;
    }
    net->st.quantized += quantized;
    net->st.saturated += saturated;
    return bad ? -1 : 0;
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

/* The g_y scale when each channel's largest |g| is known (chmax, from the pass that made g): max
 * over c of chmax[c] * |mul[c]|, which is what fx_quantize finds (a float product with a
 * non-negative constant is monotone, so the max commutes with it). */
static float grad_scale(const struct fx_format *f, int c, const float *mul, const float *chmax)
{
    float m = 0.0f;
    for (int ch = 0; ch < c; ch++) {
        float a = chmax[ch] * (mul ? fabsf(mul[ch]) : 1.0f);
        if (a > m)
            m = a;
    }
    return fx_scale_for_max(m, f->bits, 1);
}

/* g_y codes, per tensor, signed; channel_mul folds per-channel weight scales in (data path).
 * chmax (may be NULL): each channel's largest |g| (grad_scale). */
static int quant_grad(struct net *net, const float *g, int k, int c, long hw, const float *mul,
                      const float *chmax, uint64_t key, int16_t *code, float *scale,
                      struct fx_tensor *t)
{
    struct fx_format f = fmt_of(net, net->prec.grad_output, 1, 0);
    if (chmax) {
        scale[0] = grad_scale(&f, c, mul, chmax);
        if (fx_quantize_with_scale(g, k, c, hw, &f, mul, key, scale, code, &net->st))
            return -1;
    } else if (fx_quantize(g, k, c, hw, &f, mul, key, code, scale, &net->st)) {
        return -1;
    }
    struct fx_tensor r = { code, scale, f.bits, 1, 0 };
    *t = r;
    return 0;
}

/* Both g_y codes of a fixed-point conv backward in one pass over g (chmax known): the data
 * path's (weight scales folded in) into gt, the weight path's into gwt; each equal to its own
 * quant_grad. */
static int quant_grad_pair(struct net *net, const struct unit *u, const float *g, int k, long hw,
                           const float *chmax, float *gs, float *gws, struct fx_tensor *gt,
                           struct fx_tensor *gwt)
{
    struct fx_format f = fmt_of(net, net->prec.grad_output, 1, 0);
    int c = u->cs.cout;
    gs[0] = grad_scale(&f, c, u->wscale, chmax);
    gws[0] = grad_scale(&f, c, NULL, chmax);
    struct fx_target t[2] = {
        { u->wscale, tensor_key(net, u->id_conv, SLOT_GY_DATA), gs, net->q[Q_GD], 0 },
        { NULL, tensor_key(net, u->id_conv, SLOT_GY_WEIGHT), gws, net->q[Q_GW], 0 },
    };
    if (fx_quantize_targets(g, k, c, hw, &f, t, 2, &net->st))
        return -1;
    struct fx_tensor a = { net->q[Q_GD], gs, f.bits, 1, 0 }, b = { net->q[Q_GW], gws, f.bits, 1, 0 };
    *gt = a;
    *gwt = b;
    return 0;
}


/* ---------------------------------------------------------------- conv passes */

/* The input codes are kept in u->xq when training in fixed point (save = 1): the backward
 * pass would recompute the very same codes (same values, same rounding keys). from (fixed-point
 * activations only; in is then NULL): the input is that unit's output, never written, with
 * range rin (quant_bn_act). */
static int conv_fwd(struct net *net, struct unit *u, const struct conv_shape *cs, const float *in,
                    const struct unit *from, const struct range *rin, int save, float *y,
                    const struct op_sink *sink, uint8_t tech)
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
        if (from ? quant_bn_act(net, from, cs->n, u->id_conv, rin, xcode, xs, &xt)
                 : fa && quant_act(net, in, cs->n, cs->cin, (long)cs->h * cs->w, u->id_conv, rin,
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
                    int cached, const float *gmax, const float *gy, float *gx, int add_gx, int want_gx,
                    const struct op_sink *sink, uint8_t tech)
{
    const struct net_precision *p = &net->prec;
    int fa = is_fixed(p->activations), fw = is_fixed(p->weights), fg = is_fixed(p->grad_output);
    int psg = net->psg_on;
    long hwo = (long)u->ho * u->wo, wc = conv_w_count(cs);
    struct op_tag tag = net_tag(net, u->id_conv, tech);
    float gs[1], xs[1], gws[1];
    struct fx_tensor gt, xt, gwt;
    /* all fixed and g's range known: both g_y codes at once */
    int paired = !net->dry && want_gx && fa && fw && fg && gmax;
    if (paired && quant_grad_pair(net, u, gy, cs->n, hwo, gmax, gs, gws, &gt, &gwt))
        return -1;

    if (want_gx) {
        if (!net->dry) {
            int rc;
            if (fg && fw) {
                if (!paired && quant_grad(net, gy, cs->n, cs->cout, hwo, u->wscale, gmax,
                                          tensor_key(net, u->id_conv, SLOT_GY_DATA), net->q[Q_GD], gs,
                                          &gt))
                    return -1;
                struct fx_tensor wt = weight_tensor(net, u);
                rc = conv_backward_data_fx(cs, &gt, &wt, gx, add_gx, p->accumulator, &net->st,
                                           &net->ws, NULL, tag);
            } else {
                const float *gi = gy;
                if (fg) {
                    if (quant_grad(net, gy, cs->n, cs->cout, hwo, NULL, gmax,
                                   tensor_key(net, u->id_conv, SLOT_GY_DATA), net->q[Q_GD], gs, &gt))
                        return -1;
                    fx_dequantize(gt.code, cs->n, cs->cout, hwo, 0, gs, net->buf[BUF_X]);
                    gi = net->buf[BUF_X];
                }
                rc = add_gx ? -1 : conv_backward_data_f32(cs, gi, weights_seen(net, u), gx, &net->ws,
                                                          NULL, tag);
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
            if (!paired && quant_grad(net, gy, cs->n, cs->cout, hwo, NULL, gmax,
                                      tensor_key(net, u->id_conv, SLOT_GY_WEIGHT), net->q[Q_GW], gws,
                                      &gwt))
                return -1;
            if (psg) {
                struct psg_work work = { net->q[Q_XM], net->q[Q_GM], net->wtmp, p->accumulator,
                                         &net->st, &net->ws };
                rc = psg_conv_weight_grad(&net->psg, cs, &xt, &gwt, u->id_conv, &work, u->gw, &u->psg,
                                          NULL, tag);
                full_q16 = psg_full_q16(&u->psg);
            } else {
                rc = conv_backward_weight_fx(cs, &xt, &gwt, NULL, u->gw, p->accumulator, &net->st,
                                             &net->ws, NULL, tag);
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
    if (psg)
        tag = psg_tag(tag, &net->psg, full_q16);
    struct oprec r = conv_oprec(cs, OP_PHASE_BWD_WEIGHT, tag, p->activations, p->grad_output, 32,
                                (fa && fg) ? p->accumulator : 32);
    op_emit(sink, &r);
    return 0;
}

/* ---------------------------------------------------------------- element-wise wrappers */

/* BN, then the unit's activation (act: NO_ACT or enum act_kind), fused in one pass when
 * training; records: BN, then the activation's. out NULL (training in fixed point only): the
 * statistics and out's range only, for the next conv's quant_bn_act; rout NULL as well: the
 * statistics only. */
static void bn_act_fwd(struct net *net, struct unit *u, const struct nchw *s, const float *y, float *out,
                       int act, enum net_mode mode, const struct op_sink *sink, uint8_t tech,
                       struct range *rout)
{
    struct op_tag tag = net_tag(net, u->id_bn, tech), atag = net_tag(net, u->id_act, tech);
    if (rout)
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
        int want = rout && is_fixed(net->prec.activations);   /* a quantizer will need out's range */
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

void act_fwd(struct net *net, int act, uint16_t id, const struct nchw *s, float *x,
             const struct op_sink *sink, uint8_t tech)
{
    struct op_tag tag = net_tag(net, id, tech);
    if (net->dry)
        emit_elem(sink, OP_RELU, OP_PHASE_FWD, tag, s->n, s->c, s->h, s->w);
    else
        act_forward((enum act_kind)act, s, x, x, sink, tag);
}

void act_bwd(struct net *net, int act, uint16_t id, const struct nchw *s, const float *y,
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
 * in's range if known (may be NULL); rout receives out's (known when training; NULL: not
 * wanted). */
int unit_forward(struct net *net, struct unit *u, const float *in, const struct unit *from,
                 const struct range *rin, int k, float *y, float *out, enum net_mode mode,
                 const struct op_sink *sink, uint8_t tech, struct range *rout)
{
    struct conv_shape cs = shape_n(u, k);
    struct nchw os = out_shape(u, k);
    if (conv_fwd(net, u, &cs, in, from, rin, mode == NET_TRAIN, y, sink, tech))
        return -1;
    bn_act_fwd(net, u, &os, y, out, u->act, mode, sink, tech, rout);
    return 0;
}

/* The unit's output on its k saved samples, recomputed (BN apply + act). */
void unit_recompute(const struct net *net, const struct unit *u, int k, float *out)
{
    if (net->dry)
        return;
    bn_apply(u, k, out);
}

int unit_adds_gx(const struct net *net, const struct unit *u, int k)
{
    const struct net_precision *p = &net->prec;
    if (net->dry || u->no_input_grad || !is_fixed(p->grad_output) || !is_fixed(p->weights))
        return 0;
    struct conv_shape cs = shape_n(u, k);
    struct fx_tensor gt = { NULL, NULL, fmt_of(net, p->grad_output, 1, 0).bits, 1, 0 };
    struct fx_tensor wt = weight_tensor(net, u);
    return conv_backward_data_fx_adds(&cs, &gt, &wt);
}

/* The activation's gradient mask is recomputed inside the BN backward pass (bn_backward_act). */
int unit_backward(struct net *net, struct unit *u, int k, const float *in, float *g,
                  float *gx, int add_gx, int want_gx, int sums_given, const struct op_sink *sink,
                  uint8_t tech)
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
        bn_backward_act(&os, u->y, g, u->gamma, u->beta, u->smean, u->sinv, u->act,
                        sums_given ? u->bsums : NULL, g, u->ggamma, u->gbeta, want ? u->chmax : NULL,
                        sink, tag);
    struct conv_shape cs = shape_n(u, k);
    return conv_bwd(net, u, &cs, in, cached, (net->dry || k == 0 || !want) ? NULL : u->chmax, g,
                    gx, add_gx, want_gx && !u->no_input_grad, sink, tech);
}

