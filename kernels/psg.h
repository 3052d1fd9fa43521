/* Predictive sign gradient (PSG, the paper's §3.3): the weight-update sign of a conv layer taken
 * from a cheap predictor of its weight gradient where the predictor is confident.
 *
 *   predictor  g_w^msb = the backward-weight conv of the MSB codes of x and g_y (psg_msb)
 *   threshold  tau = beta * max|g_w^msb| (default), beta * max|g_y^msb|, or a fixed value
 *   Eq. 2      sign(g_w^msb[i])  where |g_w^msb[i]| >= tau,  else  sign(g_w[i])
 *
 * The weights that fall back to sign(g_w) are the "full-path fraction" the hardware model prices
 * (op record field psg_full_q16). The network's backward pass calls psg_conv_weight_grad for
 * each conv (kernels/net_unit.c); optim_step then applies the signs like SignSGD
 * (kernels/optim.h). */
#ifndef E2_PSG_H
#define E2_PSG_H

#include <stdint.h>
#include "fixed.h"

struct conv_shape;  /* kernels/conv.h */
struct net_param;   /* kernels/net.h */

enum psg_tau_mode {
    PSG_TAU_GW = 0,   /* tau = beta * max|g_w^msb| over the layer (authors' code; the default) */
    PSG_TAU_GY,       /* tau = beta * max|g_y^msb| over the layer's output gradient (paper text) */
    PSG_TAU_FIXED     /* tau given */
};

struct psg_config {
    int msb_x, msb_g;            /* predictor widths taken from the activation / gradient codes */
    enum psg_tau_mode tau_mode;
    float beta;                  /* ratio for the adaptive modes (paper: 0.05) */
    float tau;                   /* PSG_TAU_FIXED */
};

/* What one layer's choice did in one iteration. */
struct psg_stats {
    long count;        /* weights */
    long predictor;    /* ... whose sign came from g_w^msb (|g_w^msb| >= tau) */
    long flips;        /* ... whose chosen sign differs from sign(g_w), the full-path gradient */
    float tau;
};

/* 0 if cfg suits a net whose activations and output gradients are act_bits and grad_bits wide:
 * both fixed point, predictor widths 1..that width. -1 otherwise. */
int psg_config_check(const struct psg_config *cfg, int act_bits, int grad_bits);

/* ---- the predictor ---- */

/* The msb_bits most significant bits of a bits-wide code, returned on the SAME scale as the
 * input (so the tensor's scale still applies): with step = 2^(bits - msb_bits),
 *   out = clamp(round(code / step), mq_min, mq_max) * step
 * round = nearest, ties away from zero; mq_max = 2^(msb_bits-1) - 1 signed (2^msb_bits - 1
 * unsigned), mq_min = -mq_max signed (0 unsigned). E.g. 8 -> 4 bits signed: step 16, codes
 * -112..112; 127 -> 112 (clipped), 8 -> 16, -8 -> -16, 7 -> 0. Clamps count in msb_clipped.
 * msb_bits >= bits copies. */
void psg_msb(const int16_t *code, long count, int bits, int msb_bits, int is_signed,
             int16_t *out, struct fx_stats *st);

/* The view of an msb tensor made by psg_msb from t: same scale(s) and width. */
static inline struct fx_tensor psg_msb_view(const struct fx_tensor *t, const int16_t *msb_code)
{
    struct fx_tensor m = *t;
    m.code = msb_code;
    return m;
}

/* ---- threshold and Eq. 2 ---- */

/* The threshold for one layer: max_abs_gw_msb = max|g_w^msb| over its weights,
 * max_abs_gy_msb = max|g_y^msb| over its output gradient. */
float psg_tau(const struct psg_config *cfg, float max_abs_gw_msb, float max_abs_gy_msb);

/* Eq. 2 over count weights: sign_out[i] = sign(g_msb[i]) if |g_msb[i]| >= tau else sign(g[i]),
 * as -1, 0 or +1. sign_out may alias g. Fills st (may be NULL). */
void psg_select(const float *g, const float *g_msb, long count, float tau, float *sign_out,
                struct psg_stats *st);

/* ---- one conv layer ---- */

/* Scratch and counters psg_conv_signs works with (the caller owns them). */
struct psg_work {
    int16_t *x_msb;            /* [x count] predictor codes of the input */
    int16_t *gy_msb;           /* [y count] predictor codes of the output gradient */
    float *gw_msb;             /* [w count] g_w^msb */
    int acc_bits;              /* accumulator width of the predictor conv */
    struct fx_stats *st;       /* clamp and overflow counters */
    struct fx_workspace *ws;
};

/* PSG for one conv layer of shape cs: g_w^msb from the MSB codes of x and g_y (the codes the
 * full backward-weight pass used), tau, then Eq. 2 into gw, which holds g_w on entry and the
 * signs on return. layer tags the predictor conv (it emits no record: the caller's
 * backward-weight record carries msb widths and the full-path fraction, psg_tag). Fills st. */
int psg_conv_signs(const struct psg_config *cfg, const struct conv_shape *cs,
                   const struct fx_tensor *x, const struct fx_tensor *gy, uint16_t layer,
                   const struct psg_work *work, float *gw, struct psg_stats *st);

/* The layer's backward-weight pass with PSG: g_w (gw dequantized) and psg_conv_signs' result
 * into gw, the same as conv_backward_weight_fx then psg_conv_signs. The predictor's sums are
 * taken in the full pass's own sweep where the conv path allows it and tau does not need
 * max|g_y^msb| (no MSB tensors written, no second sweep). */
int psg_conv_weight_grad(const struct psg_config *cfg, const struct conv_shape *cs,
                         const struct fx_tensor *x, const struct fx_tensor *gy, uint16_t layer,
                         const struct psg_work *work, float *gw, struct psg_stats *st,
                         const struct op_sink *sink, struct op_tag tag);

/* ---- what the records and the run report carry ---- */

/* The op record's psg_full_q16 for st: round(65536 * (count - predictor) / count), at most
 * 65535. */
uint16_t psg_full_q16(const struct psg_stats *st);

/* The same from a full-path fraction (clamped to 0..1), for records emitted without computing. */
uint16_t psg_full_q16_of_fraction(float fraction);

/* tag with PSG's facts: the predictor widths and the full-path fraction full_q16. */
struct op_tag psg_tag(struct op_tag tag, const struct psg_config *cfg, uint16_t full_q16);

/* Per-iteration PSG figures over all conv weights of p (sums of their psg_stats). */
struct psg_stats psg_total(const struct net_param *p, int np);

#endif
