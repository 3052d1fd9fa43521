/* Residual add in float32. */
#include "add.h"

#include <string.h>

void add_forward(const struct nchw *s, const float *a, const float *b, float *y,
                 const struct op_sink *sink, struct op_tag tag)
{
    long count = nchw_count(s);
#pragma omp parallel for schedule(dynamic, 16384) if (count > 65536)
    for (long i = 0; i < count; i++)
        y[i] = a[i] + b[i];
    op_emit_elem(sink, OP_ADD, OP_PHASE_FWD, tag, s);
}

void add_backward(const struct nchw *s, const float *gy, float *ga, float *gb,
                  const struct op_sink *sink, struct op_tag tag)
{
    size_t bytes = sizeof(float) * (size_t)nchw_count(s);
    if (ga && ga != gy)
        memcpy(ga, gy, bytes);
    if (gb && gb != gy)
        memcpy(gb, gy, bytes);
    op_emit_elem(sink, OP_ADD, OP_PHASE_BWD_DATA, tag, s);
}
