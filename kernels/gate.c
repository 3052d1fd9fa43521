/* SLU gates: pooling -> 1x1 conv -> shared LSTM -> linear -> sigmoid, forward and BPTT.
 * Everything is small (n x 10 or n x 40 per step) and summed in sample order, so results do not
 * depend on the thread count. See gate.h. */
#include "gate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "rng.h"

#define G4 (4 * GATE_HIDDEN)

/* What one step keeps for its backward. */
struct gate_step {
    float *e;      /* pooled input [n][C] */
    float *z;      /* embedding [n][E] */
    float *act;    /* i, f, g, o after their nonlinearity [n][4H] */
    float *c;      /* cell state [n][H] */
    float *h;      /* hidden state [n][H] */
    float *p;      /* probability [n] */
};

struct gate_net {
    int T;
    int *cin;
    uint16_t *layer;
    /* per gate: embedding conv */
    float **we, **be, **gwe, **gbe;
    /* shared */
    float w_ih[G4 * GATE_EMBED], w_hh[G4 * GATE_HIDDEN], b_ih[G4], b_hh[G4];
    float w_p[GATE_HIDDEN], b_p[1];
    float g_w_ih[G4 * GATE_EMBED], g_w_hh[G4 * GATE_HIDDEN], g_b_ih[G4], g_b_hh[G4];
    float g_w_p[GATE_HIDDEN], g_b_p[1];
    /* minibatch state */
    int n, cap, save;
    struct gate_step *steps;     /* T steps (saving) */
    float *h_cur, *c_cur;        /* state when not saving [cap][H] */
    float *tmp_e, *tmp_z, *tmp_act;
    float *dh, *dc;              /* BPTT carries [cap][H] */
};

static float sigmoidf(float a) { return 1.0f / (1.0f + expf(-a)); }

/* Standard normal from two uniforms (Box-Muller), keyed by counter. */
static float normal_draw(uint64_t key, uint64_t i)
{
    float u1 = rng_uniform(key, 2 * i), u2 = rng_uniform(key, 2 * i + 1);
    if (u1 < 1e-12f)
        u1 = 1e-12f;
    return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853071795864f * u2);
}

static void fill_normal(float *v, long count, float std, uint64_t key)
{
    for (long i = 0; i < count; i++)
        v[i] = std * normal_draw(key, (uint64_t)i);
}

static void fill_uniform(float *v, long count, float bound, uint64_t key)
{
    for (long i = 0; i < count; i++)
        v[i] = bound * (2.0f * rng_uniform(key, (uint64_t)i) - 1.0f);
}

struct gate_net *gate_create(int T, const int *cin, const uint16_t *layer, uint64_t seed)
{
    if (T <= 0 || !cin)
        return NULL;
    struct gate_net *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->T = T;
    g->cin = malloc(sizeof(int) * T);
    g->layer = malloc(sizeof(uint16_t) * T);
    g->we = calloc(T, sizeof(float *));
    g->be = calloc(T, sizeof(float *));
    g->gwe = calloc(T, sizeof(float *));
    g->gbe = calloc(T, sizeof(float *));
    g->steps = calloc(T, sizeof *g->steps);
    if (!g->cin || !g->layer || !g->we || !g->be || !g->gwe || !g->gbe || !g->steps) {
        gate_free(g);
        return NULL;
    }
    /* One key per tensor: rng_key(rng_key(rng_key(seed, INIT), "gate" tag), tensor). */
    uint64_t base = rng_key(rng_key(seed, RNG_STREAM_INIT), 0x6a7e);
    for (int t = 0; t < T; t++) {
        int C = cin[t];
        if (C <= 0) {
            gate_free(g);
            return NULL;
        }
        g->cin[t] = C;
        g->layer[t] = layer ? layer[t] : 0xffff;
        g->we[t] = malloc(sizeof(float) * GATE_EMBED * C);
        g->gwe[t] = calloc((size_t)GATE_EMBED * C, sizeof(float));
        g->be[t] = malloc(sizeof(float) * GATE_EMBED);
        g->gbe[t] = calloc(GATE_EMBED, sizeof(float));
        if (!g->we[t] || !g->gwe[t] || !g->be[t] || !g->gbe[t]) {
            gate_free(g);
            return NULL;
        }
        fill_normal(g->we[t], (long)GATE_EMBED * C, sqrtf(2.0f / GATE_EMBED), rng_key(base, 2 * t));
        fill_uniform(g->be[t], GATE_EMBED, 1.0f / sqrtf((float)C), rng_key(base, 2 * t + 1));
    }
    uint64_t shared = rng_key(base, 0x10000);
    float k = 1.0f / sqrtf((float)GATE_HIDDEN);
    fill_uniform(g->w_ih, G4 * GATE_EMBED, k, rng_key(shared, 0));
    fill_uniform(g->w_hh, G4 * GATE_HIDDEN, k, rng_key(shared, 1));
    fill_uniform(g->b_ih, G4, k, rng_key(shared, 2));
    fill_uniform(g->b_hh, G4, k, rng_key(shared, 3));
    fill_normal(g->w_p, GATE_HIDDEN, sqrtf(2.0f), rng_key(shared, 4));
    fill_uniform(g->b_p, 1, k, rng_key(shared, 5));
    return g;
}

static void free_steps(struct gate_net *g)
{
    for (int t = 0; t < g->T; t++) {
        struct gate_step *s = &g->steps[t];
        free(s->e);
        free(s->z);
        free(s->act);
        free(s->c);
        free(s->h);
        free(s->p);
        memset(s, 0, sizeof *s);
    }
}

void gate_free(struct gate_net *g)
{
    if (!g)
        return;
    if (g->steps)
        free_steps(g);
    for (int t = 0; g->we && t < g->T; t++) {
        free(g->we[t]);
        free(g->be[t]);
        free(g->gwe[t]);
        free(g->gbe[t]);
    }
    free(g->we);
    free(g->be);
    free(g->gwe);
    free(g->gbe);
    free(g->steps);
    free(g->cin);
    free(g->layer);
    free(g->h_cur);
    free(g->c_cur);
    free(g->tmp_e);
    free(g->tmp_z);
    free(g->tmp_act);
    free(g->dh);
    free(g->dc);
    free(g);
}

int gate_count(const struct gate_net *g) { return g ? g->T : 0; }

static int max_cin(const struct gate_net *g)
{
    int m = 0;
    for (int t = 0; t < g->T; t++)
        if (g->cin[t] > m)
            m = g->cin[t];
    return m;
}

/* Buffers for n samples (grown, never shrunk). */
static int reserve(struct gate_net *g, int n)
{
    if (n <= g->cap)
        return 0;
    free_steps(g);
    int H = GATE_HIDDEN, E = GATE_EMBED, C = max_cin(g);
    for (int t = 0; t < g->T; t++) {
        struct gate_step *s = &g->steps[t];
        s->e = malloc(sizeof(float) * (size_t)n * g->cin[t]);
        s->z = malloc(sizeof(float) * (size_t)n * E);
        s->act = malloc(sizeof(float) * (size_t)n * G4);
        s->c = malloc(sizeof(float) * (size_t)n * H);
        s->h = malloc(sizeof(float) * (size_t)n * H);
        s->p = malloc(sizeof(float) * (size_t)n);
        if (!s->e || !s->z || !s->act || !s->c || !s->h || !s->p)
            return -1;
    }
    free(g->h_cur);
    free(g->c_cur);
    free(g->tmp_e);
    free(g->tmp_z);
    free(g->tmp_act);
    free(g->dh);
    free(g->dc);
    g->h_cur = malloc(sizeof(float) * (size_t)n * H);
    g->c_cur = malloc(sizeof(float) * (size_t)n * H);
    g->tmp_e = malloc(sizeof(float) * (size_t)n * C);
    g->tmp_z = malloc(sizeof(float) * (size_t)n * E);
    g->tmp_act = malloc(sizeof(float) * (size_t)n * G4);
    g->dh = malloc(sizeof(float) * (size_t)n * H);
    g->dc = malloc(sizeof(float) * (size_t)n * H);
    if (!g->h_cur || !g->c_cur || !g->tmp_e || !g->tmp_z || !g->tmp_act || !g->dh || !g->dc)
        return -1;
    g->cap = n;
    return 0;
}

int gate_begin(struct gate_net *g, int n, int save)
{
    if (!g || n <= 0 || reserve(g, n))
        return -1;
    g->n = n;
    g->save = save;
    memset(g->h_cur, 0, sizeof(float) * (size_t)n * GATE_HIDDEN);
    memset(g->c_cur, 0, sizeof(float) * (size_t)n * GATE_HIDDEN);
    return 0;
}

struct oprec gate_oprec(const struct gate_net *g, int t, int n, int h, int w, enum op_phase phase)
{
    struct oprec r;
    memset(&r, 0, sizeof r);
    r.layer = g->layer[t];
    r.kind = OP_GATE;
    r.phase = (uint8_t)phase;
    r.tech = OP_TECH_SLU;
    r.k = 1;
    r.stride = 1;
    r.n = (uint32_t)n;
    r.cin = (uint16_t)g->cin[t];
    r.cout = GATE_EMBED;
    r.groups = 1;
    r.h_in = (uint16_t)h;
    r.w_in = (uint16_t)w;
    r.h_out = 1;
    r.w_out = 1;
    r.bits_a = r.bits_b = r.bits_out = r.bits_acc = 32;
    return r;
}

uint64_t gate_macs(const struct oprec *r)
{
    if (r->kind != OP_GATE)
        return 0;
    uint64_t per = (uint64_t)r->cin * r->h_in * r->w_in + (uint64_t)GATE_EMBED * r->cin +
                   (uint64_t)G4 * (GATE_EMBED + GATE_HIDDEN) + GATE_HIDDEN;
    return (uint64_t)r->n * per;
}

/* e[c] = the mean of plane c of x [C][hw], each sum a chain of double adds in element order.
 * Four planes side by side: their chains are independent, so one add's latency no longer
 * bounds the pass (a single chain ran at one element per add latency). */
static void pool_planes(const float *x, int C, long hw, float *e)
{
    int c = 0;
    for (; c + 4 <= C; c += 4) {
        const float *p0 = x + (long)c * hw, *p1 = p0 + hw, *p2 = p1 + hw, *p3 = p2 + hw;
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (long j = 0; j < hw; j++) {
            s0 += p0[j];
            s1 += p1[j];
            s2 += p2[j];
            s3 += p3[j];
        }
        e[c] = (float)(s0 / (double)hw);
        e[c + 1] = (float)(s1 / (double)hw);
        e[c + 2] = (float)(s2 / (double)hw);
        e[c + 3] = (float)(s3 / (double)hw);
    }
    for (; c < C; c++) {
        const float *xp = x + (long)c * hw;
        double sum = 0;
        for (long j = 0; j < hw; j++)
            sum += xp[j];
        e[c] = (float)(sum / (double)hw);
    }
}

int gate_forward(struct gate_net *g, int t, const float *x, int h, int w, float *p,
                 const struct op_sink *sink)
{
    if (!g || t < 0 || t >= g->T || !x || !p || h <= 0 || w <= 0)
        return -1;
    int n = g->n, C = g->cin[t], H = GATE_HIDDEN, E = GATE_EMBED;
    long hw = (long)h * w;
    struct gate_step *s = &g->steps[t];
    float *e = g->save ? s->e : g->tmp_e;
    float *z = g->save ? s->z : g->tmp_z;
    float *act = g->save ? s->act : g->tmp_act;
    const float *h_prev = g->save ? (t ? g->steps[t - 1].h : NULL) : g->h_cur;
    const float *c_prev = g->save ? (t ? g->steps[t - 1].c : NULL) : g->c_cur;
    float *h_new = g->save ? s->h : g->h_cur;   /* not saving: updated in place, per sample */
    float *c_new = g->save ? s->c : g->c_cur;

    /* the pooling, the one pass over the block input, for the samples in parallel; the rest is
     * small. (The whole loop in parallel changed the bits: GCC contracted the LSTM's products
     * into FMAs differently in the outlined body.) */
#pragma omp parallel for schedule(static) if ((long)n * C * hw > 65536)
    for (int i = 0; i < n; i++)
        pool_planes(x + (long)i * C * hw, C, hw, e + (long)i * C);
    for (int i = 0; i < n; i++) {
        for (int o = 0; o < E; o++) {
            float a = g->be[t][o];
            for (int c = 0; c < C; c++)
                a += g->we[t][(long)o * C + c] * e[(long)i * C + c];
            z[i * E + o] = a;
        }
        float hp[GATE_HIDDEN], cp[GATE_HIDDEN];
        for (int j = 0; j < H; j++) {
            hp[j] = h_prev ? h_prev[i * H + j] : 0.0f;
            cp[j] = c_prev ? c_prev[i * H + j] : 0.0f;
        }
        float *ai = act + (long)i * G4;
        for (int r = 0; r < G4; r++) {
            float a = g->b_ih[r] + g->b_hh[r];
            for (int j = 0; j < E; j++)
                a += g->w_ih[r * E + j] * z[i * E + j];
            for (int j = 0; j < H; j++)
                a += g->w_hh[r * H + j] * hp[j];
            ai[r] = (r >= 2 * H && r < 3 * H) ? tanhf(a) : sigmoidf(a);
        }
        float logit = g->b_p[0];
        for (int j = 0; j < H; j++) {
            float cn = ai[H + j] * cp[j] + ai[j] * ai[2 * H + j];
            float hn = ai[3 * H + j] * tanhf(cn);
            c_new[i * H + j] = cn;
            h_new[i * H + j] = hn;
            logit += g->w_p[j] * hn;
        }
        p[i] = sigmoidf(logit);
        if (g->save)
            s->p[i] = p[i];
    }
    struct oprec r = gate_oprec(g, t, n, h, w, OP_PHASE_FWD);
    op_emit(sink, &r);
    return 0;
}

void gate_decide(enum gate_decision d, const float *p, int n, uint64_t key, uint8_t *m)
{
    for (int i = 0; i < n; i++) {
        if (d == GATE_BERNOULLI || d == GATE_MIXED)
            m[i] = rng_uniform(key, (uint64_t)i) < p[i];
        else if (d == GATE_THRESHOLD)
            m[i] = p[i] > 0.5f;
        else
            m[i] = 1;
    }
}

void gate_zero_grad(struct gate_net *g)
{
    for (int t = 0; t < g->T; t++) {
        memset(g->gwe[t], 0, sizeof(float) * GATE_EMBED * g->cin[t]);
        memset(g->gbe[t], 0, sizeof(float) * GATE_EMBED);
    }
    memset(g->g_w_ih, 0, sizeof g->g_w_ih);
    memset(g->g_w_hh, 0, sizeof g->g_w_hh);
    memset(g->g_b_ih, 0, sizeof g->g_b_ih);
    memset(g->g_b_hh, 0, sizeof g->g_b_hh);
    memset(g->g_w_p, 0, sizeof g->g_w_p);
    memset(g->g_b_p, 0, sizeof g->g_b_p);
    if (g->dh)
        memset(g->dh, 0, sizeof(float) * (size_t)g->cap * GATE_HIDDEN);
    if (g->dc)
        memset(g->dc, 0, sizeof(float) * (size_t)g->cap * GATE_HIDDEN);
}

/* dx [planes][hw] += each plane's pooling gradient de[plane] (no sum across planes). */
static void add_pooling_grad(const float *de, long planes, long hw, float *dx)
{
#pragma omp parallel for schedule(static) if (planes * hw > 65536)
    for (long q = 0; q < planes; q++) {
        float *dxp = dx + q * hw;
        for (long j = 0; j < hw; j++)
            dxp[j] += de[q];
    }
}

int gate_backward(struct gate_net *g, int t, const float *dp, float *dx, int h, int w,
                  const struct op_sink *sink)
{
    if (!g || !g->save || t < 0 || t >= g->T || !dp)
        return -1;
    int n = g->n, C = g->cin[t], H = GATE_HIDDEN, E = GATE_EMBED;
    long hw = (long)h * w;
    const struct gate_step *s = &g->steps[t];
    const float *h_prev = t ? g->steps[t - 1].h : NULL;
    const float *c_prev = t ? g->steps[t - 1].c : NULL;

    float *de = g->tmp_e;   /* dL/d pooled input [n][C] (tmp_e serves only forwards that do not save) */
    /* Sample by sample, in order: parameter gradients are summed in a fixed order. */
    for (int i = 0; i < n; i++) {
        const float *ai = s->act + (long)i * G4;
        float *dh = g->dh + i * H, *dc = g->dc + i * H;   /* carries from step t+1 */
        float p = s->p[i];
        float dlogit = dp[i] * p * (1.0f - p);
        g->g_b_p[0] += dlogit;
        float da[G4];
        for (int j = 0; j < H; j++) {
            float hn = s->h[i * H + j], cn = s->c[i * H + j];
            g->g_w_p[j] += dlogit * hn;
            float dhj = dh[j] + dlogit * g->w_p[j];
            float tc = tanhf(cn);
            float ig = ai[j], fg = ai[H + j], gg = ai[2 * H + j], og = ai[3 * H + j];
            float dcj = dc[j] + dhj * og * (1.0f - tc * tc);
            float cp = c_prev ? c_prev[i * H + j] : 0.0f;
            da[j] = dcj * gg * ig * (1.0f - ig);
            da[H + j] = dcj * cp * fg * (1.0f - fg);
            da[2 * H + j] = dcj * ig * (1.0f - gg * gg);
            da[3 * H + j] = dhj * tc * og * (1.0f - og);
            dc[j] = dcj * fg;   /* becomes the carry into step t-1 */
        }
        float dz[GATE_EMBED] = { 0 };
        float dhp[GATE_HIDDEN] = { 0 };
        for (int r = 0; r < G4; r++) {
            g->g_b_ih[r] += da[r];
            g->g_b_hh[r] += da[r];
            for (int j = 0; j < E; j++) {
                g->g_w_ih[r * E + j] += da[r] * s->z[i * E + j];
                dz[j] += g->w_ih[r * E + j] * da[r];
            }
            for (int j = 0; j < H; j++) {
                if (h_prev)
                    g->g_w_hh[r * H + j] += da[r] * h_prev[i * H + j];
                dhp[j] += g->w_hh[r * H + j] * da[r];
            }
        }
        for (int j = 0; j < H; j++)
            dh[j] = dhp[j];
        for (int o = 0; o < E; o++) {
            g->gbe[t][o] += dz[o];
            for (int c = 0; c < C; c++)
                g->gwe[t][(long)o * C + c] += dz[o] * s->e[(long)i * C + c];
        }
        for (int c = 0; dx && c < C; c++) {
            float d = 0;
            for (int o = 0; o < E; o++)
                d += g->we[t][(long)o * C + c] * dz[o];
            de[(long)i * C + c] = d / (float)hw;
        }
    }
    if (dx)
        add_pooling_grad(de, (long)n * C, hw, dx);
    struct oprec r = gate_oprec(g, t, n, h, w, OP_PHASE_BWD_DATA);
    op_emit(sink, &r);
    r = gate_oprec(g, t, n, h, w, OP_PHASE_BWD_WEIGHT);
    op_emit(sink, &r);
    return 0;
}

/* A gate tensor's table entry: float, 1x1, trained (gates' records are OP_TECH_SLU). */
static void set_param(struct net_param *q, const char *name, float *w, float *grad, long count,
                      uint16_t layer, int cout, int cin)
{
    net_param_init(q, name, w, grad, count, NET_PARAM_GATE, layer, cout, cin, 1, 1, 32, 32);
}

int gate_params(struct gate_net *g, struct net_param *out, int max)
{
    int total = 2 * g->T + 6, k = 0;
    char name[48];
    uint16_t l0 = g->layer[0];
    for (int t = 0; t < g->T; t++) {
        if (k < max) {
            snprintf(name, sizeof name, "gate%d.embed.w", t);
            set_param(&out[k], name, g->we[t], g->gwe[t], (long)GATE_EMBED * g->cin[t],
                      g->layer[t], GATE_EMBED, g->cin[t]);
        }
        k++;
        if (k < max) {
            snprintf(name, sizeof name, "gate%d.embed.b", t);
            set_param(&out[k], name, g->be[t], g->gbe[t], GATE_EMBED, g->layer[t], GATE_EMBED, 1);
        }
        k++;
    }
    struct { const char *name; float *w, *gr; int cout, cin; } shared[6] = {
        { "gate.lstm.w_ih", g->w_ih, g->g_w_ih, G4, GATE_EMBED },
        { "gate.lstm.w_hh", g->w_hh, g->g_w_hh, G4, GATE_HIDDEN },
        { "gate.lstm.b_ih", g->b_ih, g->g_b_ih, G4, 1 },
        { "gate.lstm.b_hh", g->b_hh, g->g_b_hh, G4, 1 },
        { "gate.proj.w", g->w_p, g->g_w_p, 1, GATE_HIDDEN },
        { "gate.proj.b", g->b_p, g->g_b_p, 1, 1 },
    };
    for (int j = 0; j < 6; j++, k++)
        if (k < max)
            set_param(&out[k], shared[j].name, shared[j].w, shared[j].gr,
                      (long)shared[j].cout * shared[j].cin, l0, shared[j].cout, shared[j].cin);
    return total;
}
