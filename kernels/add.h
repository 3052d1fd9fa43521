/* Residual add in float32: y = a + b element-wise over NCHW. Its backward passes gy through to
 * both inputs unchanged; add_backward does that copy and emits the record. */
#ifndef E2_ADD_H
#define E2_ADD_H

#include "fixed.h"
#include "oprec.h"

/* y may alias a or b. */
void add_forward(const struct nchw *s, const float *a, const float *b, float *y,
                 const struct op_sink *sink, struct op_tag tag);

/* ga = gy and gb = gy; either may be NULL (not needed) or alias gy (no copy then). */
void add_backward(const struct nchw *s, const float *gy, float *ga, float *gb,
                  const struct op_sink *sink, struct op_tag tag);

#endif
