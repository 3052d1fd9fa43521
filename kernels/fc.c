/* Fully connected layer: one gemm over the batch; references are direct loops. */
#include "fc.h"

#include <stdlib.h>
#include <string.h>
#include "gemm.h"

static int shape_bad(const struct fc_shape *s)
{
    return !s || s->n < 0 || s->cin <= 0 || s->cout <= 0 || s->cin > 65535 || s->cout > 65535;
}

struct oprec fc_oprec(const struct fc_shape *s, enum op_phase phase, struct op_tag tag,
                      int bits_a, int bits_b, int bits_out, int bits_acc)
{
    struct oprec r = op_mac_record(OP_FC, phase, tag, bits_a, bits_b, bits_out, bits_acc);
    r.k = 1;
    r.stride = 1;
    r.n = (uint32_t)s->n;
    r.cin = (uint16_t)s->cin;
    r.cout = (uint16_t)s->cout;
    r.groups = 1;
    r.h_in = r.w_in = r.h_out = r.w_out = 1;
    return r;
}

static void emit(const struct op_sink *sink, const struct fc_shape *s, enum op_phase phase, struct op_tag tag,
                 int bits_a, int bits_b, int bits_acc)
{
    if (!sink || !sink->emit)
        return;
    struct oprec r = fc_oprec(s, phase, tag, bits_a, bits_b, 32, bits_acc);
    op_emit(sink, &r);
}

void fc_bias_grad(const struct fc_shape *s, const float *gy, float *gb)
{
    for (int o = 0; o < s->cout; o++) {
        double sum = 0.0;
        for (int n = 0; n < s->n; n++)
            sum += gy[(long)n * s->cout + o];
        gb[o] = (float)sum;
    }
}

/* ---- float32 ---- */

int fc_forward_f32(const struct fc_shape *s, const float *x, const float *w, const float *b, float *y,
                   const struct op_sink *sink, struct op_tag tag)
{
    if (shape_bad(s))
        return -1;
    gemm_f32(0, 1, s->n, s->cout, s->cin, x, s->cin, w, s->cin, y, s->cout, 0);
    if (b)
        for (int n = 0; n < s->n; n++)
            for (int o = 0; o < s->cout; o++)
                y[(long)n * s->cout + o] += b[o];
    emit(sink, s, OP_PHASE_FWD, tag, 32, 32, 32);
    return 0;
}

int fc_backward_data_f32(const struct fc_shape *s, const float *gy, const float *w, float *gx,
                         const struct op_sink *sink, struct op_tag tag)
{
    if (shape_bad(s))
        return -1;
    gemm_f32(0, 0, s->n, s->cin, s->cout, gy, s->cout, w, s->cin, gx, s->cin, 0);
    emit(sink, s, OP_PHASE_BWD_DATA, tag, 32, 32, 32);
    return 0;
}

int fc_backward_weight_f32(const struct fc_shape *s, const float *x, const float *gy, float *gw, float *gb,
                           const struct op_sink *sink, struct op_tag tag)
{
    if (shape_bad(s))
        return -1;
    gemm_f32(1, 0, s->cout, s->cin, s->n, gy, s->cout, x, s->cin, gw, s->cin, 0);
    if (gb)
        fc_bias_grad(s, gy, gb);
    emit(sink, s, OP_PHASE_BWD_WEIGHT, tag, 32, 32, 32);
    return 0;
}

void fc_forward_f32_ref(const struct fc_shape *s, const float *x, const float *w, const float *b, float *y)
{
    for (int n = 0; n < s->n; n++)
        for (int o = 0; o < s->cout; o++) {
            float acc = 0.0f;
            for (int i = 0; i < s->cin; i++)
                acc += x[(long)n * s->cin + i] * w[(long)o * s->cin + i];
            y[(long)n * s->cout + o] = acc + (b ? b[o] : 0.0f);
        }
}

void fc_backward_data_f32_ref(const struct fc_shape *s, const float *gy, const float *w, float *gx)
{
    for (int n = 0; n < s->n; n++)
        for (int i = 0; i < s->cin; i++) {
            float acc = 0.0f;
            for (int o = 0; o < s->cout; o++)
                acc += gy[(long)n * s->cout + o] * w[(long)o * s->cin + i];
            gx[(long)n * s->cin + i] = acc;
        }
}

void fc_backward_weight_f32_ref(const struct fc_shape *s, const float *x, const float *gy, float *gw, float *gb)
{
    for (int o = 0; o < s->cout; o++)
        for (int i = 0; i < s->cin; i++) {
            float acc = 0.0f;
            for (int n = 0; n < s->n; n++)
                acc += gy[(long)n * s->cout + o] * x[(long)n * s->cin + i];
            gw[(long)o * s->cin + i] = acc;
        }
    if (gb)
        fc_bias_grad(s, gy, gb);
}

/* ---- fixed point ---- */

static float w_scale_of(const struct fx_tensor *w, int o) { return w->scale[w->per_channel ? o : 0]; }
static float data_w_scale(const struct fx_tensor *w) { return w->per_channel ? 1.0f : w->scale[0]; }

static void count_sums(struct fx_stats *st, uint64_t sums, uint64_t ovf)
{
    if (st) {
        st->acc_sums += sums;
        st->acc_overflows += ovf;
    }
}

int fc_forward_fx(const struct fc_shape *s, const struct fx_tensor *x, const struct fx_tensor *w,
                  const float *b, float *y, int acc_bits, struct fx_stats *st,
                  const struct op_sink *sink, struct op_tag tag)
{
    if (shape_bad(s))
        return -1;
    long count = (long)s->n * s->cout;
    int64_t *acc = malloc(sizeof *acc * (size_t)(count ? count : 1));
    if (!acc)
        return -1;
    gemm_i16(0, 1, s->n, s->cout, s->cin, x->code, s->cin, w->code, s->cin, acc, s->cout, 0,
             fx_signed_bits(x->bits, x->is_signed), fx_signed_bits(w->bits, w->is_signed));
    uint64_t ovf = 0;
    for (int n = 0; n < s->n; n++)
        for (int o = 0; o < s->cout; o++) {
            int64_t a = acc[(long)n * s->cout + o];
            ovf += (uint64_t)fx_acc_overflows(a, acc_bits);
            y[(long)n * s->cout + o] = fx_dequant_acc(a, x->scale[0], w_scale_of(w, o)) + (b ? b[o] : 0.0f);
        }
    free(acc);
    count_sums(st, (uint64_t)count, ovf);
    emit(sink, s, OP_PHASE_FWD, tag, x->bits, w->bits, acc_bits);
    return 0;
}

int fc_backward_data_fx(const struct fc_shape *s, const struct fx_tensor *gy, const struct fx_tensor *w,
                        float *gx, int acc_bits, struct fx_stats *st,
                        const struct op_sink *sink, struct op_tag tag)
{
    if (shape_bad(s))
        return -1;
    long count = (long)s->n * s->cin;
    int64_t *acc = malloc(sizeof *acc * (size_t)(count ? count : 1));
    if (!acc)
        return -1;
    gemm_i16(0, 0, s->n, s->cin, s->cout, gy->code, s->cout, w->code, s->cin, acc, s->cin, 0,
             fx_signed_bits(gy->bits, gy->is_signed), fx_signed_bits(w->bits, w->is_signed));
    uint64_t ovf = fx_dequant_accs(acc, count, gy->scale[0], data_w_scale(w), acc_bits, gx);
    free(acc);
    count_sums(st, (uint64_t)count, ovf);
    emit(sink, s, OP_PHASE_BWD_DATA, tag, gy->bits, w->bits, acc_bits);
    return 0;
}

int fc_backward_weight_fx(const struct fc_shape *s, const struct fx_tensor *x, const struct fx_tensor *gy,
                          int64_t *gw_acc, float *gw, int acc_bits, struct fx_stats *st,
                          const struct op_sink *sink, struct op_tag tag)
{
    if (shape_bad(s))
        return -1;
    long count = (long)s->cout * s->cin;
    int64_t *acc = gw_acc ? gw_acc : malloc(sizeof *acc * (size_t)count);
    if (!acc)
        return -1;
    gemm_i16(1, 0, s->cout, s->cin, s->n, gy->code, s->cout, x->code, s->cin, acc, s->cin, 0,
             fx_signed_bits(gy->bits, gy->is_signed), fx_signed_bits(x->bits, x->is_signed));
    uint64_t ovf = 0;
    for (long i = 0; i < count; i++) {
        ovf += (uint64_t)fx_acc_overflows(acc[i], acc_bits);
        if (gw)
            gw[i] = fx_dequant_acc(acc[i], x->scale[0], gy->scale[0]);
    }
    if (acc != gw_acc)
        free(acc);
    count_sums(st, (uint64_t)count, ovf);
    emit(sink, s, OP_PHASE_BWD_WEIGHT, tag, x->bits, gy->bits, acc_bits);
    return 0;
}

void fc_forward_fx_ref(const struct fc_shape *s, const struct fx_tensor *x, const struct fx_tensor *w,
                       const float *b, float *y, int acc_bits, struct fx_stats *st)
{
    uint64_t ovf = 0;
    for (int n = 0; n < s->n; n++)
        for (int o = 0; o < s->cout; o++) {
            int64_t acc = 0;
            for (int i = 0; i < s->cin; i++)
                acc += (int64_t)x->code[(long)n * s->cin + i] * w->code[(long)o * s->cin + i];
            ovf += (uint64_t)fx_acc_overflows(acc, acc_bits);
            y[(long)n * s->cout + o] = fx_dequant_acc(acc, x->scale[0], w_scale_of(w, o)) + (b ? b[o] : 0.0f);
        }
    count_sums(st, (uint64_t)s->n * s->cout, ovf);
}

void fc_backward_data_fx_ref(const struct fc_shape *s, const struct fx_tensor *gy, const struct fx_tensor *w,
                             float *gx, int acc_bits, struct fx_stats *st)
{
    uint64_t ovf = 0;
    float sw = data_w_scale(w);
    for (int n = 0; n < s->n; n++)
        for (int i = 0; i < s->cin; i++) {
            int64_t acc = 0;
            for (int o = 0; o < s->cout; o++)
                acc += (int64_t)gy->code[(long)n * s->cout + o] * w->code[(long)o * s->cin + i];
            ovf += (uint64_t)fx_acc_overflows(acc, acc_bits);
            gx[(long)n * s->cin + i] = fx_dequant_acc(acc, gy->scale[0], sw);
        }
    count_sums(st, (uint64_t)s->n * s->cin, ovf);
}

void fc_backward_weight_fx_ref(const struct fc_shape *s, const struct fx_tensor *x, const struct fx_tensor *gy,
                               int64_t *gw_acc, float *gw, int acc_bits, struct fx_stats *st)
{
    uint64_t ovf = 0;
    for (int o = 0; o < s->cout; o++)
        for (int i = 0; i < s->cin; i++) {
            int64_t acc = 0;
            for (int n = 0; n < s->n; n++)
                acc += (int64_t)gy->code[(long)n * s->cout + o] * x->code[(long)n * s->cin + i];
            ovf += (uint64_t)fx_acc_overflows(acc, acc_bits);
            if (gw_acc)
                gw_acc[(long)o * s->cin + i] = acc;
            if (gw)
                gw[(long)o * s->cin + i] = fx_dequant_acc(acc, x->scale[0], gy->scale[0]);
        }
    count_sums(st, (uint64_t)s->cout * s->cin, ovf);
}
