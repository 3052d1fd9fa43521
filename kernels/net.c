/* Networks as plain lists of blocks of conv units: the forward and backward passes, the blocks
 * that SLU gates or stochastic depth skip per sample, configuration and queries. See net.h for
 * the contract, net_internal.h for the files of the network, and docs/networks.md for the
 * design (memory, recomputation, records).
 *
 * Memory: a training forward keeps, per block, its input (float) and every conv output (the BN
 * input, float), for the active samples only, and in fixed point each conv's input codes.
 * BN outputs and activations are recomputed from those (bn_apply, bit-identical to the forward).
 *
 * One code path serves real passes and net_emit_iteration: with net->dry set, the op wrappers
 * (here and in net_unit.c) emit the records their kernels would and compute nothing. */
#include "net_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "act.h"
#include "add.h"
#include "bn.h"
#include "fc.h"
#include "loss.h"
#include "pool.h"
#include "psg.h"
#include "rng.h"

/* ---------------------------------------------------------------- helpers */

static void gather(float *dst, const float *src, const int *idx, int k, long el)
{
#pragma omp parallel for schedule(dynamic, 1) if ((long)k * el > 65536)
    for (int i = 0; i < k; i++)
        memcpy(dst + (long)i * el, src + (long)idx[i] * el, sizeof(float) * (size_t)el);
}

/* A whole tensor (a skipped block's output is its shortcut's): in parallel pieces, as the
 * passes around it. */
static void copy_f(float *dst, const float *src, long count)
{
    if (dst == src)
        return;
    long pieces = (count + 16383) / 16384;
#pragma omp parallel for schedule(static) if (count > 65536)
    for (long q = 0; q < pieces; q++) {
        long lo = q * 16384, n = count - lo < 16384 ? count - lo : 16384;
        memcpy(dst + lo, src + lo, sizeof(float) * (size_t)n);
    }
}

/* y = act(a + b) over n values (act: NO_ACT or enum act_kind), the same arithmetic as
 * add_forward then act_forward, and y's range folded into *mx, *mn while y is in cache. */
/* mx NULL: no range wanted. */
static void add_act_run(const float *a, const float *b, long n, int act, float *y, float *mx, float *mn)
{
    for (long i = 0; i < n; i++) {
        float v = a[i] + b[i];
        if (act != NO_ACT) {
            v = v > 0.0f ? v : 0.0f;
            if (act == ACT_RELU6 && v > 6.0f)
                v = 6.0f;
        }
        y[i] = v;
    }
    if (mx)
        fx_range_update(y, n, mx, mn);
}

static void set_range(struct range *r, float mx, float mn)
{
    if (r) {
        r->known = 1;
        r->maxabs = mx;
        r->neg = mn < 0.0f;
    }
}

/* y = act(a + b) over count values; r (may be NULL) receives y's range. */
static void add_act(const float *a, const float *b, long count, int act, float *y, struct range *r)
{
    float mx = 0.0f, mn = INFINITY;
    long chunks = (count + 16383) / 16384;
#pragma omp parallel for schedule(dynamic, 1) reduction(max : mx) reduction(min : mn) if (count > 65536)
    for (long ch = 0; ch < chunks; ch++) {
        long lo = ch * 16384, hi = lo + 16384 < count ? lo + 16384 : count;
        float cmx = 0.0f, cmn = INFINITY;
        add_act_run(a + lo, b + lo, hi - lo, act, y + lo, &cmx, &cmn);
        mx = cmx > mx ? cmx : mx;
        mn = cmn < mn ? cmn : mn;
    }
    set_range(r, mx, mn);
}

/* add_act of block B's k active samples straight into their rows of out, each at weight 1:
 * out[idx[i]] = act(a[i] + sc[idx[i]]), the add's own arithmetic, without gathering the
 * shortcut before or scattering the result after. */
static void add_act_scatter(const struct block *B, const float *a, const float *sc, int act, float *out)
{
    long el = B->out_el;
#pragma omp parallel for schedule(dynamic, 1) if ((long)B->k * el > 65536)
    for (int i = 0; i < B->k; i++) {
        long at = (long)B->idx[i] * el;
        add_act_run(a + (long)i * el, sc + at, el, act, out + at, NULL, NULL);
    }
}

/* add_act with a = unit u's output on its k samples, which was never written: computed a piece
 * at a time into L1 (unit_output_piece), so y equals add_act on the written output bit for bit. */
static void add_bn_act(const struct unit *u, const float *b, int k, int act, float *y, struct range *r)
{
    long pieces = unit_piece_count(u, k);
    float mx = 0.0f, mn = INFINITY;
#pragma omp parallel for schedule(dynamic, 1) reduction(max : mx) reduction(min : mn) if (pieces > 16)
    for (long i = 0; i < pieces; i++) {
        struct piece p = unit_piece(u, k, i);
        float buf[PIECE], cmx = 0.0f, cmn = INFINITY;
        unit_output_piece(u, &p, buf);
        add_act_run(buf, b + p.at, (p.r1 - p.r0) * p.n, act, y + p.at, &cmx, &cmn);
        mx = cmx > mx ? cmx : mx;
        mn = cmn < mn ? cmn : mn;
    }
    set_range(r, mx, mn);
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

/* out's rows of the samples block B skips: their shortcut's (B->idx, ascending, holds the
 * others, whose rows the block writes). */
static void copy_skipped(const struct block *B, float *out, const float *sc, int n)
{
    long el = B->out_el;
    int next = 0;   /* the first sample not yet copied or run */
    for (int i = 0; i <= B->k; i++) {
        int run = i < B->k ? B->idx[i] : n;
        copy_f(out + (long)next * el, sc + (long)next * el, (long)(run - next) * el);
        next = run + 1;
    }
}

/* dL/dm of the active samples i0 .. i0 + count - 1 (count <= MIX_GROUP) into dm by sample:
 * <g_i, o_i - sc_i>, each one chain of double adds in element order. The products are exact in
 * double; the chains are latency-bound, so MIX_GROUP of them run side by side (a missing one
 * repeats sample i0 and is dropped), which changes no bit of any sum. */
#define MIX_GROUP 4
static void mixing_grads(const struct block *B, int i0, int count, long el, const float *g,
                         const float *o, const float *sc, float *dm)
{
    const float *gl[MIX_GROUP], *ol[MIX_GROUP], *sl[MIX_GROUP];
    for (int l = 0; l < MIX_GROUP; l++) {
        long at = (long)(i0 + (l < count ? l : 0)) * el;
        gl[l] = g + at;
        ol[l] = o + at;
        sl[l] = sc + at;
    }
    double d[MIX_GROUP] = {0};
    for (long j = 0; j < el; j++)
        for (int l = 0; l < MIX_GROUP; l++)
            d[l] += (double)gl[l][j] * (double)(ol[l][j] - sl[l][j]);
    for (int l = 0; l < count; l++)
        dm[B->idx[i0 + l]] = (float)d[l];
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
        if (unit_forward(net, &B->proj, x, NULL, xr, n, save ? B->proj.y : net->buf[BUF_C], sc, mode,
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
    /* direct: every sample runs with weight 1, so the result lands in out without a scatter;
     * scatter: some samples run, each at weight 1, and the add writes their rows of out */
    int soft = soft_mixing(net, B, n), direct = k == n && !soft;
    int scatter = !direct && !soft && B->sc != SC_NONE;
    const float *xa = x, *sca = sc;
    if (!net->dry && k < n) {
        gather(net->buf[BUF_G], x, B->idx, k, B->in_el);
        xa = net->buf[BUF_G];
        if (sc && !scatter) {
            gather(net->buf[BUF_GS], sc, B->idx, k, B->out_el);
            sca = net->buf[BUF_GS];
        }
    }
    const float *in = xa;
    const struct range *rin = k == n ? xr : NULL;   /* a gathered subset has its own range */
    int has_sc = B->sc != SC_NONE;   /* not sc != NULL: a dry pass may have no buffers */
    /* training in fixed point, a unit's output that only feeds the next unit is never written:
     * the next conv quantizes it straight from the saved conv output (unit_forward) */
    int unwritten = save && is_fixed(net->prec.activations) && !net->dry;
    /* ... nor the last one's, when the add applies its BN itself (add_bn_act) */
    int add_applies_bn = unwritten && has_sc && direct;
    float *o = NULL;
    const struct unit *from = NULL;
    for (int j = 0; j < B->nu; j++) {
        struct unit *u = &B->u[j];
        int last = j == B->nu - 1;
        if (!last)
            o = unwritten ? NULL : net->buf[j % 2 ? BUF_B : BUF_A];
        else if (add_applies_bn)
            o = NULL;
        else
            o = direct && !has_sc ? out : net->buf[j % 2 ? BUF_B : BUF_A];
        struct range *ro = last && add_applies_bn ? NULL : &r;   /* the statistics only */
        if (unit_forward(net, u, in, from, rin, k, save ? u->y : net->buf[BUF_C], o, mode, sink, tech, ro))
            return -1;
        in = o;
        from = o ? NULL : u;
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
        struct range *rres = direct && is_fixed(net->prec.activations) ? outr : NULL;
        if (add_applies_bn)
            add_bn_act(&B->u[B->nu - 1], sca, k, B->post_act, res, rres);
        else if (scatter && !net->dry)
            add_act_scatter(B, o, sc, B->post_act, out);
        else if (!net->dry)
            add_act(o, sca, nchw_count(&os), B->post_act, res, rres);
    } else if (B->post_act != NO_ACT) {
        act_fwd(net, B->post_act, B->id_post, &os, res, sink, tech);
    }
    if (net->dry || direct)
        return 0;
    /* out = m * o + (1 - m) * sc for the active samples (m = 1 unless soft), sc for the rest */
    const float *mv = B->skip >= 0 ? net->mval + (long)B->skip * n : NULL;
    long el = B->out_el;
    if (k < n)
        copy_skipped(B, out, sc, n);
    if (scatter)
        return 0;
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
    int act = B->post_act;
#pragma omp parallel for schedule(static) if (cnt > 65536)
    for (long i = 0; i < cnt; i++) {
        float v = sca ? o[i] + sca[i] : o[i];
        if (act != NO_ACT) {   /* as act_forward */
            v = v > 0.0f ? v : 0.0f;
            if (act == ACT_RELU6 && v > 6.0f)
                v = 6.0f;
        }
        o[i] = v;
    }
}

/* The plane at offset o of each tensor read ahead (bn_planes_ahead says why). */
static void prefetch_planes(long o, long hw, const float *t0, const float *t1, const float *t2)
{
    for (long i = 0; i < hw; i += 16) {
        __builtin_prefetch(t0 + o + i);
        __builtin_prefetch(t1 + o + i);
        __builtin_prefetch(t2 + o + i);
    }
}

/* The hard_all case of the block's output activation backward in one pass: g (dL/d block
 * output, k samples) is masked where post(F + sc) does not pass it, F recomputed from the last
 * unit's saved conv output as bn_apply does, and the result is also written to scg (the
 * shortcut's gradient; NULL: none). Equal bit for bit to branch_output + act_backward + the copy.
 * While a plane of g is in L1 it also takes the last unit's BN backward sums over it (u->bsums,
 * channel by channel in sample order, as the BN's own first pass), which then skips that pass. */
static void post_act_backward(const struct block *B, int k, const float *sca, float *g, float *scg)
{
    const struct unit *u = &B->u[B->nu - 1];
    struct bn_bwd_sums *sums = u->bsums;
    long hw = (long)u->ho * u->wo;
    int c = u->cs.cout;
    long d = bn_planes_ahead(hw);
#pragma omp parallel for schedule(dynamic, 1) if ((long)k * c * hw > 65536)
    for (int ch = 0; ch < c; ch++) {
        float a, b;
        unit_bn_affine(u, ch, &a, &b);
        memset(&sums[ch], 0, sizeof sums[ch]);
        for (int n = 0; n < k; n++) {
            long o = ((long)n * c + ch) * hw;
            const float *p = u->y + o, *sp = sca + o;
            float *gp = g + o;
            if (n + d < k)
                prefetch_planes(o + (long)d * c * hw, hw, u->y, sca, g);
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
            bn_backward_sums_plane(p, gp, hw, u->gamma[ch], u->beta[ch], u->smean[ch], u->sinv[ch],
                                   u->act, &sums[ch]);
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
        if (scg && !hard_all)   /* skipped samples pass gout to the shortcut (the others' rows
                                 * are written below) */
            copy_skipped(B, scg, gout, n);
        if (dm)
            memset(dm, 0, sizeof(float) * (size_t)n);
    }
    float *gx_act = NULL;   /* dL/dx of the active samples [k][in_el] */
    int cached = is_fixed(net->prec.activations) && !dry;   /* input codes kept: x not read */
    /* every sample ran into an identity shortcut, whose gradient is already in gin: the first
     * unit's backward-data conv adds dL/dx into gin as it stores, instead of a pass after */
    int adds_into_gin = hard_all && B->sc == SC_IDENTITY && want_gin && k > 0 &&
                        unit_adds_gx(net, &B->u[0], k);
    if (k > 0) {
        const float *xa = x, *sca = sc;
        float *g = hard_all ? gout : net->buf[BUF_A], *o = net->buf[BUF_B];
        if (!dry) {
            if (k < n && !cached) {
                gather(net->buf[BUF_G], x, B->idx, k, B->in_el);
                xa = net->buf[BUF_G];
            }
            if (k < n && sc) {
                gather(net->buf[BUF_GS], sc, B->idx, k, el);
                sca = net->buf[BUF_GS];
            }
            if (!hard_all)
                gather(g, gout, B->idx, k, el);
            if (!fused)
                branch_output(net, B, k, sca, o);
            /* dL/dm = <gout, o - sc>, then the branch sees m * gout (samples in groups of
             * MIX_GROUP, the groups in parallel) */
#pragma omp parallel for schedule(dynamic, 1) if (!fused && (long)k * el > 65536)
            for (int i0 = 0; i0 < (fused ? 0 : k); i0 += MIX_GROUP) {
                int count = k - i0 < MIX_GROUP ? k - i0 : MIX_GROUP;
                if (dm && sc)
                    mixing_grads(B, i0, count, el, g, o, sca, dm);
                for (int i = i0; i < i0 + count; i++) {
                    float m = mv ? mv[B->idx[i]] : 1.0f, *gi = g + (long)i * el;
                    if (m != 1.0f)
                        for (long j = 0; j < el; j++)
                            gi[j] *= m;
                }
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
                if (hard_all) {
                    if (!fused)   /* fused: post_act_backward has written scg */
                        copy_f(scg, g, (long)n * el);
                } else {   /* active samples: g + (1 - m) * gout */
#pragma omp parallel for schedule(dynamic, 1) if ((long)k * el > 65536)
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
        for (int j = B->nu - 1; j >= 0; j--) {
            struct unit *u = &B->u[j];
            const float *in = cached ? NULL : xa;
            if (j > 0 && !cached) {
                float *r = net->buf[BUF_C];
                unit_recompute(net, &B->u[j - 1], k, r);
                in = r;
            }
            int add = j == 0 && adds_into_gin;
            if (unit_backward(net, u, k, in, ga, add ? gin : gb, add, j > 0 || want_gin,
                              fused && j == B->nu - 1, sink, tech))
                return -1;
            ga = gb;
            gb = ga == net->buf[BUF_E] ? net->buf[BUF_A] : net->buf[BUF_E];
        }
        gx_act = ga;
    }
    if (B->sc == SC_PROJ) {
        if (unit_backward(net, &B->proj, n, cached ? NULL : x, scg, gin, 0, want_gin, 0, sink, tech))
            return -1;
    }
    if (dry || !want_gin || k == 0 || B->u[0].no_input_grad || adds_into_gin)
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

/* ---------------------------------------------------------------- configuration */

int net_set_psg(struct net *net, const struct psg_config *cfg)
{
    if (!net)
        return -1;
    if (!cfg) {
        net->psg_on = 0;
        return 0;
    }
    if (psg_config_check(cfg, net->prec.activations, net->prec.grad_output))
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
    net->dry = 1;
    net->dry_active = active;
    net->dry_full_q16 = psg_full_q16_of_fraction(psg_full_fraction);
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
