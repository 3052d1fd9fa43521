/* Batch normalization in float32; per-channel sums in double (8 lanes, fixed order), one channel
 * per thread. */
#include "bn.h"

#include <math.h>
#include <omp.h>
#include <string.h>
#include "act.h"

/* Per-channel sums run in 8 double lanes (element i of a plane goes to lane i % 8), added up
 * in a fixed order at the end: vectorizable, and the same for any thread count. */
enum { LANES = 8 };

static double lanes_total(const double *l)
{
    return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

long bn_planes_ahead(long hw)
{
    long d = 1024 / (hw > 0 ? hw : 1);
    return d > 1 ? d : 1;
}

/* The plane `ahead` floats after p (0: none), one line per 16 floats of i. */
static void prefetch_line(const float *p, long ahead, long i)
{
    if (ahead && i % 16 == 0)
        __builtin_prefetch(p + ahead + i);
}

/* GCC vector extensions: the plain loops with running extremes or double lanes fed from floats
 * do not vectorize. */
typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
typedef double v8d __attribute__((vector_size(64)));

static v8f load8(const float *p)
{
    v8f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static v8f select8(v8i m, v8f a, v8f b) { return (v8f)(((v8i)a & m) | ((v8i)b & ~m)); }

/* act(z) as act_forward computes it (act < 0: none); NaN gives 0 under an activation. */
static v8f act8(v8f z, int act)
{
    if (act < 0)
        return z;
    const v8f zero = {0}, six = {6, 6, 6, 6, 6, 6, 6, 6};
    z = select8(z > zero, z, zero);
    return act == ACT_RELU ? z : select8(z > six, six, z);
}

/* A plane's sums into the lanes l and, when `want` (a constant where it is inlined), its
 * smallest and largest value into *lo and *hi (NaN never taken). The lanes stay in a register:
 * written as a plain loop over l, GCC loaded the floats one at a time and kept the lanes in
 * memory, a store and reload per 8 values. */
static inline __attribute__((always_inline)) void add_plane_body(const float *p, long n, long ahead, double *l,
                                                                 int want, float *lo, float *hi)
{
    float lo0 = want ? *lo : 0.0f, hi0 = want ? *hi : 0.0f;
    v8f vlo = {lo0, lo0, lo0, lo0, lo0, lo0, lo0, lo0}, vhi = {hi0, hi0, hi0, hi0, hi0, hi0, hi0, hi0};
    v8d acc;
    memcpy(&acc, l, sizeof acc);
    long i = 0;
    for (; i + LANES <= n; i += LANES) {
        prefetch_line(p, ahead, i);
        v8f v = load8(p + i);
        acc += __builtin_convertvector(v, v8d);
        if (want) {
            vlo = select8(v < vlo, v, vlo);
            vhi = select8(v > vhi, v, vhi);
        }
    }
    memcpy(l, &acc, sizeof acc);
    for (; i < n; i++) {
        l[i % LANES] += (double)p[i];
        vlo[0] = p[i] < vlo[0] ? p[i] : vlo[0];
        vhi[0] = p[i] > vhi[0] ? p[i] : vhi[0];
    }
    for (int j = 0; want && j < LANES; j++) {
        *lo = vlo[j] < *lo ? vlo[j] : *lo;
        *hi = vhi[j] > *hi ? vhi[j] : *hi;
    }
}

static void add_plane_sqdev(const float *p, long n, double mean, double *l)
{
    const v8d m = {mean, mean, mean, mean, mean, mean, mean, mean};
    v8d acc;
    memcpy(&acc, l, sizeof acc);
    long i = 0;
    for (; i + LANES <= n; i += LANES) {
        v8d d = __builtin_convertvector(load8(p + i), v8d) - m;
        acc += d * d;
    }
    memcpy(l, &acc, sizeof acc);
    for (; i < n; i++) {
        double d = (double)p[i] - mean;
        l[i % LANES] += d * d;
    }
}

static void add_plane(const float *p, long n, long ahead, double *l)
{
    add_plane_body(p, n, ahead, l, 0, NULL, NULL);
}

static void add_plane_extremes(const float *p, long n, long ahead, double *l, float *lo, float *hi)
{
    add_plane_body(p, n, ahead, l, 1, lo, hi);
}

/* Running max |v| and min v of 4 x 8 lanes (4 independent chains: one chain is bound by the
 * latency of its compare and blend). m = a > m ? a : m keeps m where a is NaN, as
 * fx_range_update; max and min are exact, so the lanes' order does not change them (min's sign
 * of a zero aside, which no caller tells apart: they test min < 0). */
struct range8 {
    v8f mx[4], mn[4];
};

static void range8_start(struct range8 *r, float mx, float mn)
{
    for (int k = 0; k < 4; k++) {
        r->mx[k] = (v8f){mx, mx, mx, mx, mx, mx, mx, mx};
        r->mn[k] = (v8f){mn, mn, mn, mn, mn, mn, mn, mn};
    }
}

static void range8_add(struct range8 *r, int k, v8f v)
{
    const v8i absmask = {0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff,
                         0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff};
    v8f a = (v8f)((v8i)v & absmask);
    r->mx[k] = select8(a > r->mx[k], a, r->mx[k]);
    r->mn[k] = select8(v < r->mn[k], v, r->mn[k]);
}

static void range8_end(const struct range8 *r, float *mx, float *mn)
{
    for (int k = 0; k < 4; k++)
        for (int j = 0; j < 8; j++) {
            *mx = r->mx[k][j] > *mx ? r->mx[k][j] : *mx;
            *mn = r->mn[k][j] < *mn ? r->mn[k][j] : *mn;
        }
}

/* q = act(p * a + b) over one plane (act < 0: none; the same expressions as act_forward), and
 * q's range folded into *mx and *mn when `want` (a constant where it is inlined) while q is in
 * registers. */
static inline __attribute__((always_inline)) void affine_act_body(const float *p, long n, float a, float b,
                                                                  int act, float *q, int want, float *mx,
                                                                  float *mn)
{
    struct range8 r;
    range8_start(&r, want ? *mx : 0.0f, want ? *mn : 0.0f);
    long i = 0;
    for (; i + 32 <= n; i += 32)
        for (int k = 0; k < 4; k++) {
            v8f v = act8(load8(p + i + 8 * k) * a + b, act);
            memcpy(q + i + 8 * k, &v, sizeof v);
            if (want)
                range8_add(&r, k, v);
        }
    for (; i < n; i++) {
        float v = p[i] * a + b;
        if (act >= 0) {
            v = v > 0.0f ? v : 0.0f;
            v = act == ACT_RELU6 && v > 6.0f ? 6.0f : v;
        }
        q[i] = v;
        float av = fabsf(v);
        r.mx[0][0] = av > r.mx[0][0] ? av : r.mx[0][0];
        r.mn[0][0] = v < r.mn[0][0] ? v : r.mn[0][0];
    }
    if (want)
        range8_end(&r, mx, mn);
}

void bn_act_apply(const float *p, long n, float a, float b, int act, float *q)
{
    affine_act_body(p, n, a, b, act, q, 0, NULL, NULL);
}

static void affine_act_range(const float *p, long n, float a, float b, int act, float *q, float *mx, float *mn)
{
    affine_act_body(p, n, a, b, act, q, 1, mx, mn);
}

/* The range of act(x * a + b) over a channel from its extremes lo and hi alone: the affine map,
 * each rounding and the activation are monotonic, so the extremes of q are those of lo's and
 * hi's images, computed in the same vector expression as affine_act_body (the same FMA): the
 * same bits as a scan of every q (affine_act_range's). A NaN or infinity in the channel makes
 * its statistics, hence a, b and every q, NaN both ways. */
static void affine_act_range_of_extremes(float lo, float hi, float a, float b, int act, float *mx, float *mn)
{
    struct range8 r;
    range8_start(&r, *mx, *mn);
    range8_add(&r, 0, act8((v8f){lo, hi, lo, hi, lo, hi, lo, hi} * a + b, act));
    range8_end(&r, mx, mn);
}

/* Channels of one parallel block: as many as fill about BLOCK_BYTES of a tensor, so that a
 * block's second and third passes read from L2, while small planes (8x8 floats are 256 bytes)
 * are read in runs of several channels of one sample rather than one plane per page; at most
 * BLOCK_MAX, and few enough that every thread gets two blocks. Each channel's sums keep their
 * order (samples in turn, lanes as in add_plane), so the blocking changes no bit. */
enum { BLOCK_BYTES = 256 * 1024, BLOCK_MAX = 16 };

static int block_channels(const struct nchw *s)
{
    long channel_bytes = (long)s->n * s->h * s->w * (long)sizeof(float);   /* all samples */
    long k = BLOCK_BYTES / (channel_bytes > 0 ? channel_bytes : 1);
    long fair = s->c / (2L * omp_get_max_threads());
    k = k < fair ? k : fair;
    k = k < BLOCK_MAX ? k : BLOCK_MAX;
    return k > 1 ? (int)k : 1;
}

void bn_forward_train_act(const struct nchw *s, const float *x, const float *gamma, const float *beta,
                          float eps, float momentum, float *running_mean, float *running_var,
                          int act, float *y, float *save_mean, float *save_invstd,
                          float *out_maxabs, float *out_min,
                          const struct op_sink *sink, struct op_tag tag)
{
    long hw = (long)s->h * s->w, m = (long)s->n * hw, d = bn_planes_ahead(hw);
    int kb = block_channels(s), blocks = (s->c + kb - 1) / kb;
    int range_only = !y && out_maxabs;   /* the range from each channel's extremes: no third pass */
#pragma omp parallel for schedule(dynamic, 1)
    for (int blk = 0; blk < blocks; blk++) {
        int c0 = blk * kb, nc = s->c - c0 < kb ? s->c - c0 : kb;
        double ls[BLOCK_MAX][LANES] = {{0}}, lq[BLOCK_MAX][LANES] = {{0}}, mean[BLOCK_MAX];
        float a[BLOCK_MAX], b[BLOCK_MAX], mx[BLOCK_MAX], mn[BLOCK_MAX], lo[BLOCK_MAX], hi[BLOCK_MAX];
        for (int j = 0; j < nc; j++) {
            lo[j] = INFINITY;
            hi[j] = -INFINITY;
        }
        for (int n = 0; n < s->n; n++)
            for (int j = 0; j < nc; j++) {
                const float *p = x + ((long)n * s->c + c0 + j) * hw;
                long ahead = n + d < s->n ? d * s->c * hw : 0;
                if (range_only)
                    add_plane_extremes(p, hw, ahead, ls[j], &lo[j], &hi[j]);
                else
                    add_plane(p, hw, ahead, ls[j]);
            }
        for (int j = 0; j < nc; j++)
            mean[j] = m ? lanes_total(ls[j]) / (double)m : 0.0;
        for (int n = 0; n < s->n; n++)
            for (int j = 0; j < nc; j++)
                add_plane_sqdev(x + ((long)n * s->c + c0 + j) * hw, hw, mean[j], lq[j]);
        for (int j = 0; j < nc; j++) {
            int c = c0 + j;
            double sq = lanes_total(lq[j]);
            double var = m ? sq / (double)m : 0.0;
            double invstd = 1.0 / sqrt(var + (double)eps);
            save_mean[c] = (float)mean[j];
            save_invstd[c] = (float)invstd;
            if (running_mean && m)
                running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * (float)mean[j];
            if (running_var && m) {
                double unbiased = m > 1 ? sq / (double)(m - 1) : var;
                running_var[c] = (1.0f - momentum) * running_var[c] + momentum * (float)unbiased;
            }
            a[j] = gamma[c] * (float)invstd;
            b[j] = beta[c] - (float)mean[j] * a[j];
            mx[j] = 0.0f;
            mn[j] = INFINITY;
            if (range_only && m)
                affine_act_range_of_extremes(lo[j], hi[j], a[j], b[j], act, &mx[j], &mn[j]);
        }
        for (int n = 0; y && n < s->n; n++)
            for (int j = 0; j < nc; j++) {
                long o = ((long)n * s->c + c0 + j) * hw;
                if (out_maxabs)
                    affine_act_range(x + o, hw, a[j], b[j], act, y + o, &mx[j], &mn[j]);
                else
                    bn_act_apply(x + o, hw, a[j], b[j], act, y + o);
            }
        for (int j = 0; out_maxabs && j < nc; j++) {
            out_maxabs[c0 + j] = mx[j];
            out_min[c0 + j] = mn[j];
        }
    }
    op_emit_elem(sink, OP_BN, OP_PHASE_FWD, tag, s);
}

void bn_forward_train(const struct nchw *s, const float *x, const float *gamma, const float *beta,
                      float eps, float momentum, float *running_mean, float *running_var,
                      float *y, float *save_mean, float *save_invstd,
                      const struct op_sink *sink, struct op_tag tag)
{
    bn_forward_train_act(s, x, gamma, beta, eps, momentum, running_mean, running_var, -1, y,
                         save_mean, save_invstd, NULL, NULL, sink, tag);
}

void bn_forward_eval(const struct nchw *s, const float *x, const float *gamma, const float *beta,
                     const float *running_mean, const float *running_var, float eps, float *y,
                     const struct op_sink *sink, struct op_tag tag)
{
    long hw = (long)s->h * s->w;
#pragma omp parallel for schedule(dynamic, 1)
    for (int c = 0; c < s->c; c++) {
        float invstd = (float)(1.0 / sqrt((double)running_var[c] + (double)eps));
        float a = gamma[c] * invstd, b = beta[c] - running_mean[c] * a;
        for (int n = 0; n < s->n; n++) {
            const float *p = x + ((long)n * s->c + c) * hw;
            float *q = y + ((long)n * s->c + c) * hw;
            for (long i = 0; i < hw; i++)
                q[i] = p[i] * a + b;
        }
    }
    op_emit_elem(sink, OP_BN, OP_PHASE_FWD, tag, s);
}

/* With xhat = (x - mean) * invstd and m = n*h*w:
 *   gbeta = sum gy, ggamma = sum gy * xhat,
 *   gx = gamma * invstd * (gy - gbeta / m - xhat * ggamma / m).
 * With an activation, gy is first masked where the recomputed act input p * a + b is outside
 * the active range (as act_backward on the recomputed output), in both passes: recomputing the
 * mask is cheaper than writing the masked gradient out and reading it back. */

/* gv where the activation passes the gradient, else 0 (act input z = p * a + b; ReLU: z > 0,
 * ReLU6: 0 < z < 6); act < 0: gv. Both passes of the backward mask with these very expressions:
 * the second recomputes the mask rather than reading a masked copy back from memory. */
static v8f mask8(v8f pv, v8f gv, float a, float b, int act)
{
    if (act < 0)
        return gv;
    v8f z = pv * a + b;
    v8i pass = z > 0.0f;
    if (act == ACT_RELU6)
        pass &= z < 6.0f;
    return (v8f)((v8i)gv & pass);
}

static float mask1(float p, float g, float a, float b, int act)
{
    if (act < 0)
        return g;
    float z = p * a + b;
    int pass = z > 0.0f && (act != ACT_RELU6 || z < 6.0f);
    return pass ? g : 0.0f;
}

/* One channel's backward constants: its batch statistics, the activation's affine input (a, b),
 * and k, mg, mgx of the formula above. */
struct bwd_coef {
    float mean, invstd, a, b, k, mg, mgx;
    int act;
};

/* The sums of one plane's masked gradient into lanes (as in add_plane). GCC vector extensions:
 * the plain loop does not vectorize (lanes of doubles fed from floats, a mask). */
static void bwd_sums(const float *p, const float *g, long n, long ahead, const struct bwd_coef *c,
                     double *lg, double *lgx)
{
    float mean = c->mean, invstd = c->invstd, a = c->a, b = c->b;
    int act = c->act;
    v8d gs = {0}, xs = {0};   /* lane j: the plane's elements i with i % 8 == j */
    long i = 0;
    for (; i + LANES <= n; i += LANES) {
        prefetch_line(p, ahead, i);
        prefetch_line(g, ahead, i);
        v8f pv = load8(p + i), gv = mask8(pv, load8(g + i), a, b, act);
        v8d gd = __builtin_convertvector(gv, v8d);
        gs += gd;
        xs += gd * __builtin_convertvector((pv - mean) * invstd, v8d);
    }
    for (int j = 0; j < LANES; j++) {
        lg[j] += gs[j];
        lgx[j] += xs[j];
    }
    for (; i < n; i++) {
        float gv = mask1(p[i], g[i], a, b, act);
        lg[i % LANES] += gv;
        lgx[i % LANES] += (double)gv * (double)((p[i] - mean) * invstd);
    }
}

/* q = k * (gm - mg - xhat * mgx), gm = g masked by the activation, xhat = (p - mean) * invstd,
 * over one plane (q may be g), and max |q| folded into *mx when `want`, as in affine_act_body. */
static inline __attribute__((always_inline)) void bwd_apply_body(const float *p, const float *g, long n,
                                                                 const struct bwd_coef *c, float *q, int want,
                                                                 float *mx)
{
    float mean = c->mean, invstd = c->invstd, a = c->a, b = c->b, k = c->k, mg = c->mg, mgx = c->mgx;
    int act = c->act;
    struct range8 r;
    range8_start(&r, want ? *mx : 0.0f, 0.0f);
    long i = 0;
    for (; i + 32 <= n; i += 32)
        for (int j = 0; j < 4; j++) {
            v8f pv = load8(p + i + 8 * j);
            v8f xhat = (pv - mean) * invstd;
            v8f v = k * (mask8(pv, load8(g + i + 8 * j), a, b, act) - mg - xhat * mgx);
            memcpy(q + i + 8 * j, &v, sizeof v);
            if (want)
                range8_add(&r, j, v);
        }
    for (; i < n; i++) {
        float xhat = (p[i] - mean) * invstd;
        float v = k * (mask1(p[i], g[i], a, b, act) - mg - xhat * mgx);
        q[i] = v;
        float av = fabsf(v);
        r.mx[0][0] = av > r.mx[0][0] ? av : r.mx[0][0];
    }
    float mn = 0.0f;
    if (want)
        range8_end(&r, mx, &mn);
}

static void bwd_apply(const float *p, const float *g, long n, const struct bwd_coef *c, float *q)
{
    bwd_apply_body(p, g, n, c, q, 0, NULL);
}

static void bwd_apply_range(const float *p, const float *g, long n, const struct bwd_coef *c, float *q,
                            float *mx)
{
    bwd_apply_body(p, g, n, c, q, 1, mx);
}

/* The coefficients of a channel that both passes use (beta is not read without an activation). */
static struct bwd_coef bwd_coef_of(float gamma, float beta, float mean, float invstd, int act)
{
    struct bwd_coef k = { mean, invstd, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, act };
    k.a = act >= 0 ? gamma * invstd : 0.0f;
    k.b = act >= 0 ? beta - mean * k.a : 0.0f;
    return k;
}

void bn_backward_sums_plane(const float *x, const float *gy, long n, float gamma, float beta,
                            float mean, float invstd, int act, struct bn_bwd_sums *sums)
{
    struct bwd_coef k = bwd_coef_of(gamma, beta, mean, invstd, act);
    bwd_sums(x, gy, n, 0, &k, sums->g, sums->gx);
}

void bn_backward_act(const struct nchw *s, const float *x, const float *gy, const float *gamma,
                     const float *beta, const float *save_mean, const float *save_invstd, int act,
                     const struct bn_bwd_sums *given, float *gx, float *ggamma, float *gbeta,
                     float *out_maxabs, const struct op_sink *sink, struct op_tag tag)
{
    long hw = (long)s->h * s->w, m = (long)s->n * hw, d = bn_planes_ahead(hw);
    int kb = block_channels(s), blocks = (s->c + kb - 1) / kb;
#pragma omp parallel for schedule(dynamic, 1)
    for (int blk = 0; blk < blocks; blk++) {
        int c0 = blk * kb, nc = s->c - c0 < kb ? s->c - c0 : kb;
        double lg[BLOCK_MAX][LANES] = {{0}}, lgx[BLOCK_MAX][LANES] = {{0}};
        struct bwd_coef k[BLOCK_MAX];
        float mx[BLOCK_MAX];
        for (int j = 0; j < nc; j++) {
            int c = c0 + j;
            k[j] = bwd_coef_of(gamma[c], act >= 0 ? beta[c] : 0.0f, save_mean[c], save_invstd[c], act);
            mx[j] = 0.0f;
            if (given) {
                memcpy(lg[j], given[c].g, sizeof lg[j]);
                memcpy(lgx[j], given[c].gx, sizeof lgx[j]);
            }
        }
        for (int n = 0; !given && n < s->n; n++)
            for (int j = 0; j < nc; j++) {
                long o = ((long)n * s->c + c0 + j) * hw;
                bwd_sums(x + o, gy + o, hw, n + d < s->n ? d * s->c * hw : 0, &k[j], lg[j], lgx[j]);
            }
        for (int j = 0; j < nc; j++) {
            int c = c0 + j;
            double sg = lanes_total(lg[j]), sgx = lanes_total(lgx[j]);
            if (gbeta)
                gbeta[c] = (float)sg;
            if (ggamma)
                ggamma[c] = (float)sgx;
            k[j].k = gamma[c] * k[j].invstd;
            k[j].mg = m ? (float)(sg / (double)m) : 0.0f;
            k[j].mgx = m ? (float)(sgx / (double)m) : 0.0f;
        }
        for (int n = 0; m && n < s->n; n++)
            for (int j = 0; j < nc; j++) {
                long o = ((long)n * s->c + c0 + j) * hw;
                if (out_maxabs)
                    bwd_apply_range(x + o, gy + o, hw, &k[j], gx + o, &mx[j]);
                else
                    bwd_apply(x + o, gy + o, hw, &k[j], gx + o);
            }
        for (int j = 0; m && out_maxabs && j < nc; j++)
            out_maxabs[c0 + j] = mx[j];
    }
    op_emit_elem(sink, OP_BN, OP_PHASE_BWD_DATA, tag, s);
}

void bn_backward(const struct nchw *s, const float *x, const float *gy, const float *gamma,
                 const float *save_mean, const float *save_invstd,
                 float *gx, float *ggamma, float *gbeta,
                 const struct op_sink *sink, struct op_tag tag)
{
    bn_backward_act(s, x, gy, gamma, NULL, save_mean, save_invstd, -1, NULL, gx, ggamma, gbeta, NULL,
                    sink, tag);
}
