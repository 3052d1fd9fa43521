/* Predictive sign gradient: the predictor, the threshold, Eq. 2 and its figures. See psg.h. */
#include "psg.h"

#include <math.h>
#include <string.h>

#include "conv.h"
#include "net.h"

int psg_config_check(const struct psg_config *cfg, int act_bits, int grad_bits)
{
    if (act_bits >= FX_FLOAT_BITS || grad_bits >= FX_FLOAT_BITS || cfg->msb_x < 1 ||
        cfg->msb_g < 1 || cfg->msb_x > act_bits || cfg->msb_g > grad_bits)
        return -1;
    return 0;
}

/* ---- the predictor ---- */

void psg_msb(const int16_t *code, long count, int bits, int msb_bits, int is_signed,
             int16_t *out, struct fx_stats *st)
{
    enum { CHUNK = 16384 };
    long chunks = (count + CHUNK - 1) / CHUNK;
    uint64_t clipped = 0;
#pragma omp parallel for reduction(+ : clipped) schedule(dynamic, 1) if (count > 65536)
    for (long k = 0; k < chunks; k++) {
        long at = k * CHUNK, n = count - at < CHUNK ? count - at : CHUNK;
        clipped += fx_round_to_msb(code + at, n, bits, msb_bits, is_signed, out + at);
    }
    if (st)
        st->msb_clipped += clipped;
}

/* ---- threshold and Eq. 2 ---- */

static float signf(float v) { return (float)((v > 0.0f) - (v < 0.0f)); }

float psg_tau(const struct psg_config *cfg, float max_abs_gw_msb, float max_abs_gy_msb)
{
    switch (cfg->tau_mode) {
    case PSG_TAU_GY:
        return cfg->beta * max_abs_gy_msb;
    case PSG_TAU_FIXED:
        return cfg->tau;
    case PSG_TAU_GW:
    default:
        return cfg->beta * max_abs_gw_msb;
    }
}

void psg_select(const float *g, const float *g_msb, long count, float tau, float *sign_out,
                struct psg_stats *st)
{
    long predictor = 0, flips = 0;
    for (long i = 0; i < count; i++) {
        float full = signf(g[i]);
        float s;
        if (fabsf(g_msb[i]) >= tau) {
            s = signf(g_msb[i]);
            predictor++;
        } else {
            s = full;
        }
        flips += s != full;
        sign_out[i] = s;
    }
    if (st) {
        st->count = count;
        st->predictor = predictor;
        st->flips = flips;
        st->tau = tau;
    }
}

/* ---- one conv layer ---- */

/* The largest |code| of count codes, as a float (exact: codes have at most 16 bits). */
static float max_abs_code(const int16_t *code, long count)
{
    int m = 0;
#pragma omp parallel for schedule(dynamic, 16384) reduction(max : m) if (count > 65536)
    for (long i = 0; i < count; i++) {
        int a = code[i] < 0 ? -code[i] : code[i];
        if (a > m)
            m = a;
    }
    return (float)m;
}

/* tau, then Eq. 2 from work->gw_msb into gw (gy_msb_max: max|g_y^msb|, used by tau_mode gy only). */
static void psg_signs_from(const struct psg_config *cfg, long wc, const struct psg_work *work,
                           float gy_msb_max, float *gw, struct psg_stats *st)
{
    float gw_msb_max = cfg->tau_mode == PSG_TAU_GW ? fx_max_abs(work->gw_msb, wc) : 0.0f;
    psg_select(gw, work->gw_msb, wc, psg_tau(cfg, gw_msb_max, gy_msb_max), gw, st);
}

int psg_conv_signs(const struct psg_config *cfg, const struct conv_shape *cs,
                   const struct fx_tensor *x, const struct fx_tensor *gy, uint16_t layer,
                   const struct psg_work *work, float *gw, struct psg_stats *st)
{
    long xc = conv_x_count(cs), yc = conv_y_count(cs), wc = conv_w_count(cs);
    psg_msb(x->code, xc, x->bits, cfg->msb_x, x->is_signed, work->x_msb, work->st);
    psg_msb(gy->code, yc, gy->bits, cfg->msb_g, 1, work->gy_msb, work->st);
    struct fx_tensor xm = psg_msb_view(x, work->x_msb), gm = psg_msb_view(gy, work->gy_msb);
    if (conv_backward_weight_fx(cs, &xm, &gm, NULL, work->gw_msb, work->acc_bits, work->st,
                                work->ws, NULL, op_tag_make(layer, OP_TECH_BASE)))
        return -1;
    /* only the maximum the threshold uses: max|g_y^msb| is a pass over the output gradient */
    float gy_msb_max = cfg->tau_mode == PSG_TAU_GY ? max_abs_code(work->gy_msb, yc) * gy->scale[0] : 0.0f;
    psg_signs_from(cfg, wc, work, gy_msb_max, gw, st);
    return 0;
}

int psg_conv_weight_grad(const struct psg_config *cfg, const struct conv_shape *cs,
                         const struct fx_tensor *x, const struct fx_tensor *gy, uint16_t layer,
                         const struct psg_work *work, float *gw, struct psg_stats *st,
                         const struct op_sink *sink, struct op_tag tag)
{
    if (cfg->tau_mode != PSG_TAU_GY) {
        struct conv_msb m = { x->bits, cfg->msb_x, x->is_signed, gy->bits, cfg->msb_g, work->gw_msb, 0, 0 };
        int rc = conv_backward_weight_fx_msb(cs, x, gy, gw, work->acc_bits, &m, work->st, work->ws, sink, tag);
        if (rc == 0)
            psg_signs_from(cfg, conv_w_count(cs), work, 0.0f, gw, st);
        if (rc != 1)   /* 1: this conv's path cannot take both sums in one sweep */
            return rc;
    }
    if (conv_backward_weight_fx(cs, x, gy, NULL, gw, work->acc_bits, work->st, work->ws, sink, tag))
        return -1;
    return psg_conv_signs(cfg, cs, x, gy, layer, work, gw, st);
}

/* ---- what the records and the run report carry ---- */

uint16_t psg_full_q16(const struct psg_stats *st)
{
    if (!st || st->count <= 0)
        return 0;
    double q = 65536.0 * (double)(st->count - st->predictor) / (double)st->count;
    long v = lround(q);
    return (uint16_t)(v > 65535 ? 65535 : (v < 0 ? 0 : v));
}

uint16_t psg_full_q16_of_fraction(float fraction)
{
    float f = fraction < 0 ? 0 : (fraction > 1 ? 1 : fraction);
    long q = lroundf(f * 65536.0f);
    return (uint16_t)(q > 65535 ? 65535 : q);
}

struct op_tag psg_tag(struct op_tag tag, const struct psg_config *cfg, uint16_t full_q16)
{
    tag.msb_a = (uint8_t)cfg->msb_x;
    tag.msb_b = (uint8_t)cfg->msb_g;
    tag.psg_full_q16 = full_q16;
    return tag;
}

struct psg_stats psg_total(const struct net_param *p, int np)
{
    struct psg_stats t = { 0, 0, 0, 0.0f };
    for (int i = 0; i < np; i++) {
        if (p[i].kind != NET_PARAM_CONV || !p[i].grad_is_sign || !p[i].active)
            continue;
        t.count += p[i].psg.count;
        t.predictor += p[i].psg.predictor;
        t.flips += p[i].psg.flips;
    }
    return t;
}
