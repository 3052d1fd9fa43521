/* Residual add in float32. */
#include "add.h"

#include <string.h>

static void emit(const struct op_sink *sink, const struct nchw *s, enum op_phase phase, struct op_tag tag)
{
    if (!sink || !sink->emit)
        return;
    struct oprec r;
    memset(&r, 0, sizeof r);
    r.layer = tag.layer;
    r.kind = OP_ADD;
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

void add_forward(const struct nchw *s, const float *a, const float *b, float *y,
                 const struct op_sink *sink, struct op_tag tag)
{
    long count = nchw_count(s);
#pragma omp parallel for schedule(dynamic, 16384) if (count > 65536)
    for (long i = 0; i < count; i++)
        y[i] = a[i] + b[i];
    emit(sink, s, OP_PHASE_FWD, tag);
}

void add_backward(const struct nchw *s, const float *gy, float *ga, float *gb,
                  const struct op_sink *sink, struct op_tag tag)
{
    size_t bytes = sizeof(float) * (size_t)nchw_count(s);
    if (ga && ga != gy)
        memcpy(ga, gy, bytes);
    if (gb && gb != gy)
        memcpy(gb, gy, bytes);
    emit(sink, s, OP_PHASE_BWD_DATA, tag);
}
