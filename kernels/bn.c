/* Batch normalization in float32; per-channel sums in double, one channel per thread. */
#include "bn.h"

#include <math.h>
#include <string.h>

static void emit(const struct op_sink *sink, const struct nchw *s, enum op_phase phase, struct op_tag tag)
{
    if (!sink || !sink->emit)
        return;
    struct oprec r;
    memset(&r, 0, sizeof r);
    r.layer = tag.layer;
    r.kind = OP_BN;
    r.phase = (uint8_t)phase;
    r.tech = tag.tech;
    r.n = (uint32_t)s->n;
    r.cin = r.cout = (uint16_t)s->c;
    r.groups = 1;
    r.h_in = r.h_out = (uint16_t)s->h;
    r.w_in = r.w_out = (uint16_t)s->w;
    r.bits_a = r.bits_b = 32;
    r.bits_out = tag.bits_out ? tag.bits_out : 32;
    r.bits_acc = 32;
    op_emit(sink, &r);
}

void bn_forward_train(const struct nchw *s, const float *x, const float *gamma, const float *beta,
                      float eps, float momentum, float *running_mean, float *running_var,
                      float *y, float *save_mean, float *save_invstd,
                      const struct op_sink *sink, struct op_tag tag)
{
    long hw = (long)s->h * s->w, m = (long)s->n * hw;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < s->c; c++) {
        double sum = 0.0, sq = 0.0;
        for (int n = 0; n < s->n; n++) {
            const float *p = x + ((long)n * s->c + c) * hw;
            for (long i = 0; i < hw; i++)
                sum += p[i];
        }
        double mean = m ? sum / (double)m : 0.0;
        for (int n = 0; n < s->n; n++) {
            const float *p = x + ((long)n * s->c + c) * hw;
            for (long i = 0; i < hw; i++) {
                double dlt = p[i] - mean;
                sq += dlt * dlt;
            }
        }
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
        for (int n = 0; n < s->n; n++) {
            const float *p = x + ((long)n * s->c + c) * hw;
            float *q = y + ((long)n * s->c + c) * hw;
            for (long i = 0; i < hw; i++)
                q[i] = p[i] * a + b;
        }
    }
    emit(sink, s, OP_PHASE_FWD, tag);
}

void bn_forward_eval(const struct nchw *s, const float *x, const float *gamma, const float *beta,
                     const float *running_mean, const float *running_var, float eps, float *y,
                     const struct op_sink *sink, struct op_tag tag)
{
    long hw = (long)s->h * s->w;
#pragma omp parallel for schedule(static)
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
    emit(sink, s, OP_PHASE_FWD, tag);
}

/* With xhat = (x - mean) * invstd and m = n*h*w:
 *   gbeta = sum gy, ggamma = sum gy * xhat,
 *   gx = gamma * invstd * (gy - gbeta / m - xhat * ggamma / m). */
void bn_backward(const struct nchw *s, const float *x, const float *gy, const float *gamma,
                 const float *save_mean, const float *save_invstd,
                 float *gx, float *ggamma, float *gbeta,
                 const struct op_sink *sink, struct op_tag tag)
{
    long hw = (long)s->h * s->w, m = (long)s->n * hw;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < s->c; c++) {
        double sg = 0.0, sgx = 0.0;
        float mean = save_mean[c], invstd = save_invstd[c];
        for (int n = 0; n < s->n; n++) {
            const float *p = x + ((long)n * s->c + c) * hw;
            const float *g = gy + ((long)n * s->c + c) * hw;
            for (long i = 0; i < hw; i++) {
                sg += g[i];
                sgx += (double)g[i] * (double)((p[i] - mean) * invstd);
            }
        }
        if (gbeta)
            gbeta[c] = (float)sg;
        if (ggamma)
            ggamma[c] = (float)sgx;
        if (!m)
            continue;
        float k = gamma[c] * invstd;
        float mg = (float)(sg / (double)m), mgx = (float)(sgx / (double)m);
        for (int n = 0; n < s->n; n++) {
            const float *p = x + ((long)n * s->c + c) * hw;
            const float *g = gy + ((long)n * s->c + c) * hw;
            float *q = gx + ((long)n * s->c + c) * hw;
            for (long i = 0; i < hw; i++) {
                float xhat = (p[i] - mean) * invstd;
                q[i] = k * (g[i] - mg - xhat * mgx);
            }
        }
    }
    emit(sink, s, OP_PHASE_BWD_DATA, tag);
}
