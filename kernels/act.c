/* ReLU / ReLU6 in float32. */
#include "act.h"

void act_forward(enum act_kind kind, const struct nchw *s, const float *x, float *y,
                 const struct op_sink *sink, struct op_tag tag)
{
    long count = nchw_count(s);
    float hi = kind == ACT_RELU6 ? 6.0f : 0.0f;
#pragma omp parallel for schedule(dynamic, 16384) if (count > 65536)
    for (long i = 0; i < count; i++) {
        float v = x[i] > 0.0f ? x[i] : 0.0f;   /* NaN -> 0 */
        if (kind == ACT_RELU6 && v > hi)
            v = hi;
        y[i] = v;
    }
    op_emit_elem(sink, OP_RELU, OP_PHASE_FWD, tag, s);
}

void act_backward(enum act_kind kind, const struct nchw *s, const float *y, const float *gy, float *gx,
                  const struct op_sink *sink, struct op_tag tag)
{
    long count = nchw_count(s);
#pragma omp parallel for schedule(dynamic, 16384) if (count > 65536)
    for (long i = 0; i < count; i++) {
        int pass = y[i] > 0.0f && (kind != ACT_RELU6 || y[i] < 6.0f);
        gx[i] = pass ? gy[i] : 0.0f;
    }
    op_emit_elem(sink, OP_RELU, OP_PHASE_BWD_DATA, tag, s);
}
