/* Global average pooling in float32: x [n][c][h][w] -> y [n][c] = mean over h*w.
 * Each mean is summed in double in element order (identical for any thread count). */
#ifndef E2_POOL_H
#define E2_POOL_H

#include "fixed.h"
#include "oprec.h"

void pool_avg_forward(const struct nchw *s, const float *x, float *y,
                      const struct op_sink *sink, struct op_tag tag);

/* gx[n][c][.][.] = gy[n][c] / (h*w) (overwrites gx). */
void pool_avg_backward(const struct nchw *s, const float *gy, float *gx,
                       const struct op_sink *sink, struct op_tag tag);

#endif
