/* Stochastic weight averaging. See swa.h. */
#include "swa.h"

#include <stdlib.h>
#include <string.h>

#include "net.h"

struct swa {
    int np, models;
    float **avg;
};

struct swa *swa_create(const struct net_param *p, int np)
{
    if (np < 0 || (np && !p))
        return NULL;
    struct swa *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->np = np;
    s->avg = calloc(np ? np : 1, sizeof(float *));
    if (!s->avg) {
        free(s);
        return NULL;
    }
    for (int i = 0; i < np; i++) {
        if (!p[i].grad)
            continue;
        s->avg[i] = calloc((size_t)p[i].count, sizeof(float));
        if (!s->avg[i]) {
            swa_free(s);
            return NULL;
        }
    }
    return s;
}

void swa_free(struct swa *s)
{
    if (!s)
        return;
    for (int i = 0; s->avg && i < s->np; i++)
        free(s->avg[i]);
    free(s->avg);
    free(s);
}

int swa_update(struct swa *s, const struct net_param *p, int np, const struct op_sink *sink)
{
    if (!s || np != s->np)
        return -1;
    float k1 = (float)(s->models + 1);
    for (int i = 0; i < np; i++) {
        float *a = s->avg[i];
        if (!a)
            continue;
        const float *w = p[i].w;
        for (long j = 0; j < p[i].count; j++)
            a[j] += (w[j] - a[j]) / k1;
        struct oprec r;
        memset(&r, 0, sizeof r);
        r.layer = p[i].layer;
        r.kind = OP_UPDATE;
        r.phase = OP_PHASE_UPDATE;
        r.tech = OP_TECH_SWA;
        r.k = p[i].k;
        r.stride = 1;
        r.n = 1;
        r.cin = p[i].cin;
        r.cout = p[i].cout;
        r.groups = p[i].groups ? p[i].groups : 1;
        r.h_in = r.w_in = r.h_out = r.w_out = 1;
        r.bits_a = r.bits_b = r.bits_out = r.bits_acc = 32;
        op_emit(sink, &r);
    }
    s->models++;
    return 0;
}

int swa_swap(struct swa *s, struct net_param *p, int np)
{
    if (!s || np != s->np || s->models == 0)
        return -1;
    for (int i = 0; i < np; i++) {
        float *a = s->avg[i];
        if (!a)
            continue;
        float *w = p[i].w;
        for (long j = 0; j < p[i].count; j++) {
            float t = w[j];
            w[j] = a[j];
            a[j] = t;
        }
    }
    return 0;
}

int swa_models(const struct swa *s) { return s ? s->models : 0; }

float *swa_average(struct swa *s, int i)
{
    return (s && i >= 0 && i < s->np) ? s->avg[i] : NULL;
}

void swa_set_models(struct swa *s, int models)
{
    if (s && models >= 0)
        s->models = models;
}
