/* Global average pooling in float32. */
#include "pool.h"

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
    op_emit_elem(sink, OP_POOL, OP_PHASE_FWD, tag, s);
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
    op_emit_elem(sink, OP_POOL, OP_PHASE_BWD_DATA, tag, s);
}
