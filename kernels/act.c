/* ReLU / ReLU6 in float32. */
#include "act.h"

#include <string.h>

static void emit(const struct op_sink *sink, const struct nchw *s, enum op_phase phase, struct op_tag tag)
{
    if (!sink || !sink->emit)
        return;
    struct oprec r;
    memset(&r, 0, sizeof r);
    r.layer = tag.layer;
    r.kind = OP_RELU;
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
    emit(sink, s, OP_PHASE_FWD, tag);
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
    emit(sink, s, OP_PHASE_BWD_DATA, tag);
}
