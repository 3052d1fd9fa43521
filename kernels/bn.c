/* Batch normalization in float32; per-channel sums in double (8 lanes, fixed order), one channel
 * per thread. */
#include "bn.h"

#include <math.h>
#include <string.h>
#include "act.h"

/* Per-channel sums run in 8 double lanes (element i of a plane goes to lane i % 8), added up
 * in a fixed order at the end: vectorizable, and the same for any thread count. */
enum { LANES = 8 };

static double lanes_total(const double *l)
{
    return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

static void add_plane(const float *p, long n, double *l)
{
    long i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++)
            l[j] += (double)p[i + j];
    for (; i < n; i++)
        l[i % LANES] += (double)p[i];
}

static void add_plane_sqdev(const float *p, long n, double mean, double *l)
{
    long i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) {
            double d = (double)p[i + j] - mean;
            l[j] += d * d;
        }
    for (; i < n; i++) {
        double d = (double)p[i] - mean;
        l[i % LANES] += d * d;
    }
}

/* y = act(p * a + b) over one plane; act < 0: none. The same expressions as act_forward. */
static void affine_act(const float *p, long n, float a, float b, int act, float *q)
{
    if (act < 0) {
        for (long i = 0; i < n; i++)
            q[i] = p[i] * a + b;
    } else if (act == ACT_RELU) {
        for (long i = 0; i < n; i++) {
            float v = p[i] * a + b;
            q[i] = v > 0.0f ? v : 0.0f;
        }
    } else {
        for (long i = 0; i < n; i++) {
            float v = p[i] * a + b;
            v = v > 0.0f ? v : 0.0f;
            q[i] = v > 6.0f ? 6.0f : v;
        }
    }
}

void bn_forward_train_act(const struct nchw *s, const float *x, const float *gamma, const float *beta,
                          float eps, float momentum, float *running_mean, float *running_var,
                          int act, float *y, float *save_mean, float *save_invstd,
                          float *out_maxabs, float *out_min,
                          const struct op_sink *sink, struct op_tag tag)
{
    long hw = (long)s->h * s->w, m = (long)s->n * hw;
#pragma omp parallel for schedule(dynamic, 1)
    for (int c = 0; c < s->c; c++) {
        double ls[LANES] = {0}, lq[LANES] = {0};
        for (int n = 0; n < s->n; n++)
            add_plane(x + ((long)n * s->c + c) * hw, hw, ls);
        double sum = lanes_total(ls);
        double mean = m ? sum / (double)m : 0.0;
        for (int n = 0; n < s->n; n++)
            add_plane_sqdev(x + ((long)n * s->c + c) * hw, hw, mean, lq);
        double sq = lanes_total(lq);
        double var = m ? sq / (double)m : 0.0;
        double invstd = 1.0 / sqrt(var + (double)eps);
        save_mean[c] = (float)mean;
        save_invstd[c] = (float)invstd;
        if (running_mean && m)
            running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * (float)mean;
        if (running_var && m) {
            double unbiased = m > 1 ? sq / (double)(m - 1) : var;
            running_var[c] = (1.0f - momentum) * running_var[c] + momentum * (float)unbiased;
        }
        float a = gamma[c] * (float)invstd, b = beta[c] - (float)mean * a;
        float mx = 0.0f, mn = INFINITY;
        for (int n = 0; n < s->n; n++) {
            float *q = y + ((long)n * s->c + c) * hw;
            affine_act(x + ((long)n * s->c + c) * hw, hw, a, b, act, q);
            if (out_maxabs)
                fx_range_update(q, hw, &mx, &mn);
        }
        if (out_maxabs) {
            out_maxabs[c] = mx;
            out_min[c] = mn;
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
 * the active range (as act_backward on the recomputed output) and the masked gradient is kept
 * in gx for the second pass. */

/* The sums of one plane's gradient into lanes (as in add_plane). act >= 0: the gradient is first
 * masked where the activation does not pass it (act input z = p * a + b; ReLU: z > 0, ReLU6:
 * 0 < z < 6) and the masked gradient is written to gm. GCC vector extensions: the plain loop
 * does not vectorize (lanes of doubles fed from floats, a mask). */
typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
typedef float v4f __attribute__((vector_size(16)));
typedef double v4d __attribute__((vector_size(32)));

static void bwd_sums(const float *p, const float *g, long n, float mean, float invstd, int act,
                     float a, float b, float *gm, double *lg, double *lgx)
{
    v4d g0 = {0}, g1 = {0}, x0 = {0}, x1 = {0};
    long i = 0;
    for (; i + LANES <= n; i += LANES) {
        v8f pv, gv;
        memcpy(&pv, p + i, sizeof pv);
        memcpy(&gv, g + i, sizeof gv);
        if (act >= 0) {
            v8f z = pv * a + b;
            v8i pass = z > 0.0f;
            if (act == ACT_RELU6)
                pass &= z < 6.0f;
            gv = (v8f)((v8i)gv & pass);
            memcpy(gm + i, &gv, sizeof gv);
        }
        v8f xh = (pv - mean) * invstd;
        v4f glo = {gv[0], gv[1], gv[2], gv[3]}, ghi = {gv[4], gv[5], gv[6], gv[7]};
        v4f xlo = {xh[0], xh[1], xh[2], xh[3]}, xhi = {xh[4], xh[5], xh[6], xh[7]};
        v4d gdl = __builtin_convertvector(glo, v4d), gdh = __builtin_convertvector(ghi, v4d);
        g0 += gdl;
        g1 += gdh;
        x0 += gdl * __builtin_convertvector(xlo, v4d);
        x1 += gdh * __builtin_convertvector(xhi, v4d);
    }
    for (int j = 0; j < 4; j++) {
        lg[j] += g0[j];
        lg[j + 4] += g1[j];
        lgx[j] += x0[j];
        lgx[j + 4] += x1[j];
    }
    for (; i < n; i++) {
        float gv = g[i];
        if (act >= 0) {
            float z = p[i] * a + b;
            int pass = z > 0.0f && (act != ACT_RELU6 || z < 6.0f);
            gv = pass ? gv : 0.0f;
            gm[i] = gv;
        }
        lg[i % LANES] += gv;
        lgx[i % LANES] += (double)gv * (double)((p[i] - mean) * invstd);
    }
}

void bn_backward_act(const struct nchw *s, const float *x, const float *gy, const float *gamma,
                     const float *beta, const float *save_mean, const float *save_invstd, int act,
                     float *gx, float *ggamma, float *gbeta, float *out_maxabs,
                     const struct op_sink *sink, struct op_tag tag)
{
    long hw = (long)s->h * s->w, m = (long)s->n * hw;
#pragma omp parallel for schedule(dynamic, 1)
    for (int c = 0; c < s->c; c++) {
        double lg[LANES] = {0}, lgx[LANES] = {0};
        float mean = save_mean[c], invstd = save_invstd[c];
        float a = act >= 0 ? gamma[c] * invstd : 0.0f, b = act >= 0 ? beta[c] - mean * a : 0.0f;
        for (int n = 0; n < s->n; n++) {
            long o = ((long)n * s->c + c) * hw;
            bwd_sums(x + o, gy + o, hw, mean, invstd, act, a, b, gx + o, lg, lgx);
        }
        double sg = lanes_total(lg), sgx = lanes_total(lgx);
        if (gbeta)
            gbeta[c] = (float)sg;
        if (ggamma)
            ggamma[c] = (float)sgx;
        if (!m)
            continue;
        float k = gamma[c] * invstd;
        float mg = (float)(sg / (double)m), mgx = (float)(sgx / (double)m);
        const float *gsrc = act >= 0 ? gx : gy;   /* the masked gradient */
        float mx = 0.0f, mn = INFINITY;
        for (int n = 0; n < s->n; n++) {
            long o = ((long)n * s->c + c) * hw;
            const float *p = x + o, *g = gsrc + o;
            float *q = gx + o;
            for (long i = 0; i < hw; i++) {
                float xhat = (p[i] - mean) * invstd;
                q[i] = k * (g[i] - mg - xhat * mgx);
            }
            if (out_maxabs)
                fx_range_update(q, hw, &mx, &mn);
        }
        if (out_maxabs)
            out_maxabs[c] = mx;
    }
    op_emit_elem(sink, OP_BN, OP_PHASE_BWD_DATA, tag, s);
}

void bn_backward(const struct nchw *s, const float *x, const float *gy, const float *gamma,
                 const float *save_mean, const float *save_invstd,
                 float *gx, float *ggamma, float *gbeta,
                 const struct op_sink *sink, struct op_tag tag)
{
    bn_backward_act(s, x, gy, gamma, NULL, save_mean, save_invstd, -1, gx, ggamma, gbeta, NULL, sink,
                    tag);
}
