/* SGD with momentum, SignSGD (PSG's signs as well), and the stochastic-depth schedule. See optim.h. */
#include "optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "rng.h"

static float signf(float v) { return (float)((v > 0.0f) - (v < 0.0f)); }

/* ---- optimizer ---- */

struct optim {
    struct optim_config cfg;
    float sign_lr_scale;
    int np;
    float **v;   /* momentum per parameter (NULL for state) */
};

struct optim *optim_create(const struct net_param *p, int np, const struct optim_config *cfg)
{
    if (np < 0 || (np && !p) || !cfg)
        return NULL;
    struct optim *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->cfg = *cfg;
    o->sign_lr_scale = 1.0f;
    o->np = np;
    o->v = calloc(np ? np : 1, sizeof(float *));
    if (!o->v) {
        free(o);
        return NULL;
    }
    for (int i = 0; i < np; i++) {
        if (!p[i].grad)
            continue;
        o->v[i] = calloc((size_t)p[i].count, sizeof(float));
        if (!o->v[i]) {
            optim_free(o);
            return NULL;
        }
    }
    return o;
}

void optim_free(struct optim *o)
{
    if (!o)
        return;
    for (int i = 0; o->v && i < o->np; i++)
        free(o->v[i]);
    free(o->v);
    free(o);
}

void optim_set_sign_lr_scale(struct optim *o, float scale)
{
    if (o && scale > 0.0f)
        o->sign_lr_scale = scale;
}

int optim_uses_sign(const struct optim_config *cfg, const struct net_param *p)
{
    return cfg->rule != OPTIM_SGD && p->kind == NET_PARAM_CONV;
}

static struct oprec update_record(const struct optim_config *cfg, const struct net_param *p)
{
    struct oprec r;
    memset(&r, 0, sizeof r);
    r.layer = p->layer;
    r.kind = OP_UPDATE;
    r.phase = OP_PHASE_UPDATE;
    r.tech = p->tech;
    r.k = p->k;
    r.stride = 1;
    r.n = 1;
    r.cin = p->cin;
    r.cout = p->cout;
    r.groups = p->groups ? p->groups : 1;
    r.h_in = r.w_in = r.h_out = r.w_out = 1;
    r.bits_a = optim_uses_sign(cfg, p) ? 1 : p->bits_grad;
    r.bits_b = p->bits_w;
    r.bits_out = p->bits_w;
    r.bits_acc = 32;
    return r;
}

void optim_emit_updates(const struct optim_config *cfg, const struct net_param *p, int np,
                        const struct op_sink *sink)
{
    for (int i = 0; i < np; i++) {
        if (!p[i].grad || !p[i].active)
            continue;
        struct oprec r = update_record(cfg, &p[i]);
        op_emit(sink, &r);
    }
}

int optim_step(struct optim *o, struct net_param *p, int np, float lr, const struct op_sink *sink)
{
    if (!o || np != o->np)
        return -1;
    const struct optim_config *cfg = &o->cfg;
    for (int i = 0; i < np; i++)
        if (cfg->rule == OPTIM_PSG && p[i].grad && p[i].active && p[i].kind == NET_PARAM_CONV &&
            !p[i].grad_is_sign)
            return -1;
    float mu = cfg->momentum, wd = cfg->weight_decay;
    for (int i = 0; i < np; i++) {
        if (!p[i].grad || !p[i].active)
            continue;
        float *w = p[i].w, *v = o->v[i];
        const float *g = p[i].grad;
        long count = p[i].count;
        if (optim_uses_sign(cfg, &p[i])) {
            float slr = lr * o->sign_lr_scale;
            #pragma omp parallel for schedule(dynamic, 16384) if (count > 65536)
            for (long j = 0; j < count; j++) {
                float d = signf(g[j]) + wd * w[j];
                v[j] = mu * v[j] + d;
                w[j] -= slr * v[j];
            }
        } else {
            #pragma omp parallel for schedule(dynamic, 16384) if (count > 65536)
            for (long j = 0; j < count; j++) {
                float d = g[j] + wd * w[j];
                v[j] = mu * v[j] + d;
                w[j] -= lr * v[j];
            }
        }
        struct oprec r = update_record(cfg, &p[i]);
        op_emit(sink, &r);
    }
    return 0;
}

float *optim_momentum(struct optim *o, int i)
{
    return (o && i >= 0 && i < o->np) ? o->v[i] : NULL;
}

/* ---- stochastic depth ---- */

double sd_survival(int nblocks, double skip_ratio, float *survival)
{
    if (nblocks <= 0)
        return 0.0;
    survival[0] = 1.0f;
    int L = nblocks - 1;
    if (L == 0)
        return 0.0;
    double drop_last = skip_ratio * 2.0 * L / (L + 1.0);   /* 1 - p_L */
    if (drop_last > 1.0)
        drop_last = 1.0;
    if (drop_last < 0.0)
        drop_last = 0.0;
    for (int l = 1; l <= L; l++)
        survival[l] = (float)(1.0 - (double)l / L * drop_last);
    return drop_last * (L + 1.0) / (2.0 * L);
}

void sd_mask(const float *survival, int nblocks, int n, int per_sample, uint64_t seed,
             uint64_t iteration, uint8_t *mask)
{
    uint64_t key = rng_key(rng_key(seed, RNG_STREAM_SD), iteration);
    for (int b = 0; b < nblocks; b++) {
        uint8_t *m = mask + (long)b * n;
        if (b == 0) {
            memset(m, 1, (size_t)n);
            continue;
        }
        if (!per_sample) {
            memset(m, rng_uniform(key, (uint64_t)b) < survival[b], (size_t)n);
            continue;
        }
        for (int i = 0; i < n; i++)
            m[i] = rng_uniform(key, (uint64_t)b * n + i) < survival[b];
    }
}
