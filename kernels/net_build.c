/* Building the network: conv units and blocks (the architectures in resnet.c and
 * mobilenetv2.c put them together), net_create and net_free, and the buffers a pass needs.
 * See net_internal.h. */
#include "net_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

/* A standard normal draw (Box-Muller) from counters 2i, 2i + 1 of key. */
static float normal_draw(uint64_t key, uint64_t i)
{
    float u1 = rng_uniform(key, 2 * i), u2 = rng_uniform(key, 2 * i + 1);
    if (u1 < 1e-12f)
        u1 = 1e-12f;
    return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853071795864f * u2);
}

/* ---------------------------------------------------------------- construction */

uint16_t new_layer(struct net *net) { return net->nlayers++; }

int unit_init(struct net *net, struct unit *u, int cin, int h, int w, int cout, int k,
              int stride, int groups, int act)
{
    memset(u, 0, sizeof *u);
    struct conv_shape cs = { 1, cin, h, w, cout, k, stride, (k - 1) / 2, groups };
    if (conv_shape_check(&cs))
        return -1;
    u->cs = cs;
    u->act = act;
    u->ho = conv_out_h(&cs);
    u->wo = conv_out_w(&cs);
    u->in_el = (long)cin * h * w;
    u->out_el = (long)cout * u->ho * u->wo;
    u->id_conv = new_layer(net);
    u->id_bn = new_layer(net);
    u->id_act = act != NO_ACT ? new_layer(net) : 0xffff;
    long wc = conv_w_count(&cs);
    u->w = malloc(sizeof(float) * wc);
    u->gw = calloc(wc, sizeof(float));
    u->wq = malloc(sizeof(int16_t) * wc);
    u->wscale = malloc(sizeof(float) * cout);
    size_t c = (size_t)cout;
    u->gamma = malloc(sizeof(float) * c);
    u->beta = calloc(c, sizeof(float));
    u->ggamma = calloc(c, sizeof(float));
    u->gbeta = calloc(c, sizeof(float));
    u->rmean = calloc(c, sizeof(float));
    u->rvar = malloc(sizeof(float) * c);
    u->smean = calloc(c, sizeof(float));
    u->sinv = calloc(c, sizeof(float));
    u->chmax = calloc(c, sizeof(float));
    u->chmin = calloc(c, sizeof(float));
    u->bsums = calloc(c, sizeof *u->bsums);
    if (!u->w || !u->gw || !u->wq || !u->wscale || !u->gamma || !u->beta || !u->ggamma ||
        !u->gbeta || !u->rmean || !u->rvar || !u->smean || !u->sinv || !u->chmax || !u->chmin ||
        !u->bsums)
        return -1;
    /* He: normal(0, sqrt(2 / (k*k*cout))), as the authors' ResNet code */
    uint64_t key = rng_key(rng_key(net->seed, RNG_STREAM_INIT), u->id_conv);
    float std = sqrtf(2.0f / (float)(k * k * cout));
    for (long i = 0; i < wc; i++)
        u->w[i] = std * normal_draw(key, (uint64_t)i);
    for (int i = 0; i < cout; i++) {
        u->gamma[i] = 1.0f;
        u->rvar[i] = 1.0f;
    }
    net->param_bytes += sizeof(float) * wc * 2 + sizeof(int16_t) * wc + sizeof(float) * c * 9;
    if (u->in_el > net->maxel)
        net->maxel = u->in_el;
    if (u->out_el > net->maxel)
        net->maxel = u->out_el;
    if (wc > net->maxw)
        net->maxw = wc;
    return 0;
}

static void unit_free(struct unit *u)
{
    free(u->w);
    free(u->gw);
    free(u->wq);
    free(u->wscale);
    free(u->gamma);
    free(u->beta);
    free(u->ggamma);
    free(u->gbeta);
    free(u->rmean);
    free(u->rvar);
    free(u->smean);
    free(u->sinv);
    free(u->chmax);
    free(u->chmin);
    free(u->bsums);
    free(u->y);
    free(u->xq);
}

struct block *add_block(struct net *net)
{
    struct block *nb = realloc(net->b, sizeof *nb * (size_t)(net->nb + 1));
    if (!nb)
        return NULL;
    net->b = nb;
    struct block *B = &net->b[net->nb++];
    memset(B, 0, sizeof *B);
    B->skip = -1;
    B->post_act = NO_ACT;
    B->id_add = B->id_post = B->id_gate = 0xffff;
    return B;
}

void block_dims(struct net *net, struct block *B)
{
    struct unit *first = &B->u[0], *last = &B->u[B->nu - 1];
    B->cin = first->cs.cin;
    B->h = first->cs.h;
    B->w = first->cs.w;
    B->cout = last->cs.cout;
    B->ho = last->ho;
    B->wo = last->wo;
    B->in_el = first->in_el;
    B->out_el = last->out_el;
    B->branch_macs = 0;
    if (B->in_el > net->maxb)
        net->maxb = B->in_el;
    if (B->out_el > net->maxb)
        net->maxb = B->out_el;
    for (int j = 0; j < B->nu; j++) {
        struct oprec r = conv_oprec(&B->u[j].cs, OP_PHASE_FWD, op_tag_make(0, 0), 32, 32, 32, 32);
        B->branch_macs += oprec_macs(&r);
    }
}

/* A block of a single conv unit without shortcut (stems, MobileNetV2's last conv). */
int plain_block(struct net *net, int cin, int h, int w, int cout, int k, int stride, int act)
{
    struct block *B = add_block(net);
    if (!B)
        return -1;
    B->nu = 1;
    if (unit_init(net, &B->u[0], cin, h, w, cout, k, stride, 1, act))
        return -1;
    block_dims(net, B);
    return 0;
}

void make_skippable(struct net *net, struct block *B)
{
    B->skip = net->nskip++;
    B->id_gate = B->skip > 0 ? new_layer(net) : 0xffff;
}


/* ---------------------------------------------------------------- create / free */

struct net_precision net_precision_float(void)
{
    struct net_precision p = { 32, 32, 32, 32, 32, 0 };
    return p;
}

struct net_precision net_precision_fixed(int act_bits, int weight_bits, int grad_bits)
{
    struct net_precision p = { act_bits, weight_bits, grad_bits, 32, FX_ACC_BITS, 0 };
    return p;
}

static int precision_ok(const struct net_precision *p)
{
    int v[4] = { p->activations, p->weights, p->grad_output, p->grad_weight };
    for (int i = 0; i < 4; i++)
        if (!((v[i] >= 2 && v[i] <= 16) || v[i] == 32))
            return 0;
    return p->accumulator >= 8 && p->accumulator <= 64;
}

int net_create(enum net_arch arch, int depth, int width, int in_c, int in_h, int in_w, int classes,
               unsigned flags, const struct net_precision *prec, uint64_t seed, struct net **out)
{
    if (!out)
        return -1;
    *out = NULL;
    if (in_c <= 0 || in_h < 4 || in_w < 4 || classes < 2 || classes > 65535 || !prec ||
        !precision_ok(prec) || (flags & ~(unsigned)NET_FIXED_STAGE_ENTRY))
        return -1;
    struct net *net = calloc(1, sizeof *net);
    if (!net)
        return -1;
    net->arch = arch;
    net->in_c = in_c;
    net->in_h = in_h;
    net->in_w = in_w;
    net->classes = classes;
    net->prec = *prec;
    net->seed = seed;
    net->maxel = (long)in_c * in_h * in_w;
    int rc = arch == NET_RESNET ? build_resnet(net, depth, width, !(flags & NET_FIXED_STAGE_ENTRY))
           : arch == NET_MOBILENETV2 ? build_mobilenetv2(net, width) : -1;
    if (rc) {
        net_free(net);
        return -1;
    }
    struct block *L = &net->b[net->nb - 1];
    net->fc_in = L->cout;
    net->last_h = L->ho;
    net->last_w = L->wo;
    net->id_pool = new_layer(net);
    net->id_fc = new_layer(net);
    net->id_loss = new_layer(net);
    long fw = (long)classes * net->fc_in;
    net->fc_w = malloc(sizeof(float) * fw);
    net->fc_gw = calloc(fw, sizeof(float));
    net->fc_b = malloc(sizeof(float) * classes);
    net->fc_gb = calloc(classes, sizeof(float));
    net->skip_block = malloc(sizeof(int) * (net->nskip ? net->nskip : 1));
    if (!net->fc_w || !net->fc_gw || !net->fc_b || !net->fc_gb || !net->skip_block) {
        net_free(net);
        return -1;
    }
    net->param_bytes += sizeof(float) * (fw + classes) * 2;
    /* PyTorch's Linear default: uniform(+-1/sqrt(fan_in)) for weight and bias */
    uint64_t key = rng_key(rng_key(seed, RNG_STREAM_INIT), net->id_fc);
    float bound = 1.0f / sqrtf((float)net->fc_in);
    for (long i = 0; i < fw; i++)
        net->fc_w[i] = bound * (2.0f * rng_uniform(key, (uint64_t)i) - 1.0f);
    for (int i = 0; i < classes; i++)
        net->fc_b[i] = bound * (2.0f * rng_uniform(key, (uint64_t)(fw + i)) - 1.0f);
    for (int b = 0; b < net->nb; b++)
        if (net->b[b].skip >= 0)
            net->skip_block[net->b[b].skip] = b;
    if (build_params(net)) {
        net_free(net);
        return -1;
    }
    *out = net;
    return 0;
}

static void free_transient(struct net *net)
{
    for (int i = 0; i < NBUF; i++) {
        free(net->buf[i]);
        net->buf[i] = NULL;
    }
    for (int i = 0; i < NQ; i++) {
        free(net->q[i]);
        net->q[i] = NULL;
    }
    free(net->pooled);
    free(net->gpooled);
    free(net->logits);
    free(net->prob);
    free(net->dlogits);
    free(net->gprob);
    free(net->mval);
    free(net->dm);
    free(net->mask);
    net->pooled = net->gpooled = net->logits = net->prob = net->dlogits = NULL;
    net->gprob = net->mval = net->dm = NULL;
    net->mask = NULL;
    for (int b = 0; b < net->nb; b++) {
        free(net->b[b].idx);
        net->b[b].idx = NULL;
    }
    net->tcap = 0;
}

void net_free(struct net *net)
{
    if (!net)
        return;
    free_transient(net);
    for (int b = 0; b < net->nb; b++) {
        struct block *B = &net->b[b];
        for (int j = 0; j < B->nu; j++)
            unit_free(&B->u[j]);
        if (B->sc == SC_PROJ)
            unit_free(&B->proj);
        free(B->act_in);
    }
    free(net->b);
    free(net->skip_block);
    free(net->fc_w);
    free(net->fc_gw);
    free(net->fc_b);
    free(net->fc_gb);
    free(net->eval_scale);
    free(net->wtmp);
    free(net->wdeq);
    free(net->wqtmp);
    free(net->params);
    gate_free(net->gates);
    fx_workspace_free(&net->ws);
    free(net);
}

/* Tensors start on a cache line: the conv drivers store a tile's row as whole 64-byte lines
 * (16 floats), which malloc's 16-byte alignment would split across two lines each. */
static void *tensor_alloc(size_t bytes)
{
    return aligned_alloc(64, (bytes + 63) / 64 * 64);
}

static int block_sized(int buf)
{
    return buf == BUF_G || buf == BUF_S || buf == BUF_GS || buf == BUF_D || buf == BUF_P0 ||
           buf == BUF_P1;
}

/* Transient buffers for n samples. */
int reserve_transient(struct net *net, int n)
{
    if (n <= net->tcap)
        return 0;
    free_transient(net);
    size_t el = (size_t)n * (size_t)net->maxel;
    for (int i = 0; i < NBUF; i++)
        if (!(net->buf[i] = tensor_alloc(sizeof(float) * (block_sized(i) ? (size_t)n * net->maxb : el))))
            return -1;
    for (int i = 0; i < NQ; i++)
        if (!(net->q[i] = tensor_alloc(sizeof(int16_t) * el)))
            return -1;
    size_t ns = (size_t)(net->nskip ? net->nskip : 1) * n;
    net->pooled = malloc(sizeof(float) * (size_t)n * net->fc_in);
    net->gpooled = malloc(sizeof(float) * (size_t)n * net->fc_in);
    net->logits = malloc(sizeof(float) * (size_t)n * net->classes);
    net->prob = malloc(sizeof(float) * (size_t)n * net->classes);
    net->dlogits = malloc(sizeof(float) * (size_t)n * net->classes);
    net->gprob = malloc(sizeof(float) * ns);
    net->mval = malloc(sizeof(float) * ns);
    net->dm = calloc(ns, sizeof(float));
    net->mask = malloc(ns);
    if (!net->pooled || !net->gpooled || !net->logits || !net->prob || !net->dlogits ||
        !net->gprob || !net->mval || !net->dm || !net->mask)
        return -1;
    for (int b = 0; b < net->nb; b++)
        if (!(net->b[b].idx = malloc(sizeof(int) * (size_t)n)))
            return -1;
    if (!net->wtmp) {
        net->wtmp = malloc(sizeof(float) * (size_t)net->maxw);
        net->wdeq = malloc(sizeof(float) * (size_t)net->maxw);
        net->wqtmp = malloc(sizeof(int16_t) * (size_t)net->maxw);
        if (!net->wtmp || !net->wdeq || !net->wqtmp)
            return -1;
    }
    net->tcap = n;
    return 0;
}

/* A unit's kept input codes for n samples (fixed-point activations only). */
static int saved_codes(const struct net *net, struct unit *u, int n)
{
    free(u->xq);
    u->xq = NULL;
    if (!is_fixed(net->prec.activations))
        return 0;
    u->xq = tensor_alloc(sizeof(int16_t) * (size_t)n * (size_t)u->in_el);
    return u->xq ? 0 : -1;
}

/* Saved-for-backward buffers for n samples. */
int reserve_saved(struct net *net, int n)
{
    if (n <= net->scap)
        return 0;
    for (int b = 0; b < net->nb; b++) {
        struct block *B = &net->b[b];
        free(B->act_in);
        if (!(B->act_in = tensor_alloc(sizeof(float) * (size_t)n * B->in_el)))
            return -1;
        for (int j = 0; j < B->nu; j++) {
            free(B->u[j].y);
            if (!(B->u[j].y = tensor_alloc(sizeof(float) * (size_t)n * B->u[j].out_el)))
                return -1;
            if (saved_codes(net, &B->u[j], n))
                return -1;
        }
        if (B->sc == SC_PROJ) {
            free(B->proj.y);
            if (!(B->proj.y = tensor_alloc(sizeof(float) * (size_t)n * B->proj.out_el)))
                return -1;
            if (saved_codes(net, &B->proj, n))
                return -1;
        }
    }
    net->scap = n;
    return 0;
}


size_t net_memory_bytes(const struct net *net)
{
    if (!net)
        return 0;
    size_t bytes = net->param_bytes;
    for (int i = 0; i < NBUF; i++)
        bytes += sizeof(float) * (size_t)net->tcap * (size_t)(block_sized(i) ? net->maxb : net->maxel);
    bytes += sizeof(int16_t) * (size_t)net->tcap * (size_t)net->maxel * NQ;
    bytes += (size_t)net->maxw * (2 * sizeof(float) + sizeof(int16_t));
    for (int b = 0; b < net->nb; b++) {
        const struct block *B = &net->b[b];
        long per = B->in_el, codes = 0;
        for (int j = 0; j < B->nu; j++) {
            per += B->u[j].out_el;
            codes += B->u[j].xq ? B->u[j].in_el : 0;
        }
        if (B->sc == SC_PROJ) {
            per += B->proj.out_el;
            codes += B->proj.xq ? B->proj.in_el : 0;
        }
        bytes += sizeof(float) * (size_t)net->scap * (size_t)per;
        bytes += sizeof(int16_t) * (size_t)net->scap * (size_t)codes;
    }
    bytes += net->ws.bytes;
    return bytes;
}
