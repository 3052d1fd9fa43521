/* Activations in float32: ReLU and ReLU6, element-wise over NCHW.
 * The backward passes take the forward OUTPUT y (so the forward may run in place):
 *   ReLU:  gx = gy where y > 0, else 0
 *   ReLU6: gx = gy where 0 < y < 6, else 0   (the gradient at exactly 0 and 6 is 0) */
#ifndef E2_ACT_H
#define E2_ACT_H

#include "fixed.h"
#include "oprec.h"

enum act_kind { ACT_RELU = 0, ACT_RELU6 };

/* y = act(x); y may alias x. */
void act_forward(enum act_kind kind, const struct nchw *s, const float *x, float *y,
                 const struct op_sink *sink, struct op_tag tag);

/* gx = act'(.) * gy from the forward output y; gx may alias gy. */
void act_backward(enum act_kind kind, const struct nchw *s, const float *y, const float *gy, float *gx,
                  const struct op_sink *sink, struct op_tag tag);

#endif
