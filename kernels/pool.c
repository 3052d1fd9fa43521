/* Global average pooling in float32. */
#include "pool.h"

#include <string.h>

static void emit(const struct op_sink *sink, const struct nchw *s, enum op_phase phase, struct op_tag tag)
{
    if (!sink || !sink->emit)
        return;
    struct oprec r;
    memset(&r, 0, sizeof r);
    r.layer = tag.layer;
    r.kind = OP_POOL;
    r.phase = (uint8_t)phase;
    r.tech = tag.tech;
    r.n = (uint32_t)s->n;
    r.cin = r.cout = (uint16_t)s->c;
    r.groups = 1;
    r.h_in = (uint16_t)s->h;
    r.w_in = (uint16_t)s->w;
    r.h_out = r.w_out = 1;
    r.bits_a = r.bits_b = 32;
    r.bits_out = tag.bits_out ? tag.bits_out : 32;
    r.bits_acc = 32;
    op_emit(sink, &r);
}

void pool_avg_forward(const struct nchw *s, const float *x, float *y,
                      const struct op_sink *sink, struct op_tag tag)
{
    long hw = (long)s->h * s->w, rows = (long)s->n * s->c;
#pragma omp parallel for schedule(dynamic, 64) if (rows * hw > 65536)
    for (long r = 0; r < rows; r++) {
        double sum = 0.0;
        for (long i = 0; i < hw; i++)
            sum += x[r * hw + i];
        y[r] = (float)(sum / (double)hw);
    }
    emit(sink, s, OP_PHASE_FWD, tag);
}

void pool_avg_backward(const struct nchw *s, const float *gy, float *gx,
                       const struct op_sink *sink, struct op_tag tag)
{
    long hw = (long)s->h * s->w, rows = (long)s->n * s->c;
    float inv = (float)(1.0 / (double)hw);
#pragma omp parallel for schedule(dynamic, 64) if (rows * hw > 65536)
    for (long r = 0; r < rows; r++) {
        float g = gy[r] * inv;
        for (long i = 0; i < hw; i++)
            gx[r * hw + i] = g;
    }
    emit(sink, s, OP_PHASE_BWD_DATA, tag);
}
