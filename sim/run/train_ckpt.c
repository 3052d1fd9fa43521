/* Checkpoints of the training loop: save, resume, and the weights fine-tuning starts from.
 * See train.h. */
#include "train.h"

#include <stdlib.h>
#include <string.h>

#include "optim.h"
#include "swa.h"

/* ---------------------------------------------------------------- checkpoints ----------- */

/* Fixed-width scalars of the run's position and statistics. */
struct train_meta {
    uint64_t config_hash;
    uint64_t next, total, minibatches, smd_dropped, loss_n;
    double loss_sum, last_loss, top1, top5, wall_seconds;
    int32_t np, blocks, curve_n, swa_models;
};

/* Parameter names and sizes, so a checkpoint is never loaded into another network. */
struct param_id {
    char name[40];
    int64_t count;
};

static float *param_values(struct train *t, int i)
{
    return t->p[i].w;
}

static float *param_momentum(struct train *t, int i)
{
    return optim_momentum(t->opt, i);
}

static float *param_swa(struct train *t, int i)
{
    return swa_average(t->swa, i);
}

/* Concatenate src(i) over the parameters for which it is not NULL into section name; buf holds
 * every parameter's values. take_concat reads it back. */
static int put_concat(struct train *t, struct ckpt *c, const char *name,
                      float *(*src)(struct train *t, int i), float *buf)
{
    size_t off = 0;
    for (int i = 0; i < t->np; i++) {
        const float *s = src(t, i);
        if (s) {
            memcpy(buf + off, s, (size_t)t->p[i].count * sizeof *buf);
            off += (size_t)t->p[i].count;
        }
    }
    return ckpt_put(c, name, buf, off * sizeof *buf);
}

static int put_params(struct train *t, struct ckpt *c)
{
    size_t total = 0;
    for (int i = 0; i < t->np; i++)
        total += (size_t)t->p[i].count;
    float *all = malloc((total ? total : 1) * sizeof *all);
    struct param_id *ids = calloc(t->np > 0 ? (size_t)t->np : 1, sizeof *ids);
    int rc = (all && ids) ? 0 : -1;
    for (int i = 0; rc == 0 && i < t->np; i++) {
        memcpy(ids[i].name, t->p[i].name, sizeof ids[i].name);
        ids[i].count = t->p[i].count;
    }
    rc = rc || put_concat(t, c, "params", param_values, all) ||
         ckpt_put(c, "param_ids", ids, (size_t)t->np * sizeof *ids) ||
         put_concat(t, c, "momentum", param_momentum, all) ||
         (t->swa && put_concat(t, c, "swa", param_swa, all));
    free(all);
    free(ids);
    return rc;
}

/* What a checkpoint must match to be resumed: the config without its report: section (progress,
 * trace, timeline and report sizes do not change the run; a trace's own continuity is checked
 * by trace_resume). 0 when out of memory, which no checkpoint matches by chance. */
static uint64_t resume_hash(const struct e2_config *cfg)
{
    struct e2_config *c = malloc(sizeof *c), *d = malloc(sizeof *d);
    uint64_t h = 0;
    if (c && d) {
        *c = *cfg;
        cfg_defaults(d);
        c->report = d->report;
        h = cfg_hash(c);
    }
    free(c);
    free(d);
    return h;
}

int train_save(struct train *t, const char *path, const struct train_observer *obs,
               struct e2_err *err)
{
    struct ckpt c;
    ckpt_init(&c);
    struct train_meta m;
    memset(&m, 0, sizeof m);
    m.config_hash = resume_hash(t->cfg);
    m.next = t->next;
    m.total = t->total;
    m.minibatches = t->minibatches;
    m.smd_dropped = t->smd_dropped;
    m.loss_n = t->loss_n;
    m.loss_sum = t->loss_sum;
    m.last_loss = t->last_loss;
    m.top1 = t->top1;
    m.top5 = t->top5;
    m.wall_seconds = t->wall_seconds;
    m.np = t->np;
    m.blocks = t->blocks;
    m.curve_n = t->curve_n;
    m.swa_models = t->swa ? swa_models(t->swa) : 0;
    size_t nb = (size_t)t->blocks * sizeof(uint64_t), npb = (size_t)t->np * sizeof(uint64_t);
    int rc = ckpt_put(&c, "meta", &m, sizeof m) || put_params(t, &c) ||
             ckpt_put(&c, "block_exec", t->block_exec, nb) ||
             ckpt_put(&c, "block_seen", t->block_seen, nb) ||
             ckpt_put(&c, "psg_count", t->psg_count, npb) ||
             ckpt_put(&c, "psg_predictor", t->psg_predictor, npb) ||
             ckpt_put(&c, "psg_flips", t->psg_flips, npb) ||
             ckpt_put(&c, "curve", t->curve, (size_t)t->curve_n * sizeof *t->curve);
    struct fx_stats st = net_fx_stats(t->net);
    rc = rc || ckpt_put(&c, "fx_stats", &st, sizeof st);
    if (rc == 0 && obs && obs->save && (rc = obs->save(obs->ctx, &c, err)) != E2_OK) {
        ckpt_free(&c);
        return rc;
    }
    if (rc != 0) {
        ckpt_free(&c);
        return e2_fail(err, E2_FAILURE, "%s: out of memory building the checkpoint", path);
    }
    rc = ckpt_write(&c, path, err);
    ckpt_free(&c);
    return rc;
}

int64_t train_checkpoint_next(const char *path)
{
    struct ckpt c;
    struct e2_err err;
    if (ckpt_read(path, &c, &err) != E2_OK)
        return -1;
    struct train_meta m;
    int64_t next = ckpt_take(&c, path, "meta", &m, sizeof m, &err) == E2_OK ? (int64_t)m.next : -1;
    ckpt_free(&c);
    return next;
}

static int check_ids(struct train *t, const struct ckpt *c, const char *path,
                     struct e2_err *err)
{
    size_t size = 0;
    const struct param_id *ids = ckpt_get(c, "param_ids", &size);
    if (!ids || size != (size_t)t->np * sizeof *ids)
        return e2_fail(err, E2_BAD_INPUT, "%s: the checkpoint's parameters do not match this "
                       "network (%zu bytes of ids for %d tensors)", path, size, t->np);
    for (int i = 0; i < t->np; i++)
        if (strncmp(ids[i].name, t->p[i].name, sizeof ids[i].name) != 0 ||
            ids[i].count != t->p[i].count)
            return e2_fail(err, E2_BAD_INPUT, "%s: parameter %d is '%.40s' (%lld values) in "
                           "the checkpoint, '%s' (%ld) in this network", path, i, ids[i].name,
                           (long long)ids[i].count, t->p[i].name, t->p[i].count);
    return E2_OK;
}

/* Scatter a concatenation over the parameters for which dst(i) is not NULL. */
static int take_concat(struct train *t, const struct ckpt *c, const char *path, const char *name,
                       float *(*dst)(struct train *t, int i), struct e2_err *err)
{
    size_t need = 0;
    for (int i = 0; i < t->np; i++)
        if (dst(t, i))
            need += (size_t)t->p[i].count;
    size_t have = 0;
    const float *src = ckpt_get(c, name, &have);
    if (!src || have != need * sizeof(float))
        return e2_fail(err, E2_BAD_INPUT, "%s: checkpoint section '%s' holds %zu bytes, this "
                       "run needs %zu", path, name, have, need * sizeof(float));
    for (int i = 0; i < t->np; i++) {
        float *d = dst(t, i);
        if (d) {
            memcpy(d, src, (size_t)t->p[i].count * sizeof *d);
            src += t->p[i].count;
        }
    }
    return E2_OK;
}

int train_resume(struct train *t, const char *path, const struct train_observer *obs,
                 struct e2_err *err)
{
    struct ckpt c;
    int rc = ckpt_read(path, &c, err);
    if (rc != E2_OK)
        return rc;
    struct train_meta m;
    if ((rc = ckpt_take(&c, path, "meta", &m, sizeof m, err)) != E2_OK)
        goto done;
    if (m.config_hash != resume_hash(t->cfg) || m.total != t->total || m.np != t->np ||
        m.blocks != t->blocks) {
        rc = e2_fail(err, E2_BAD_INPUT, "%s: the checkpoint was written by a different "
                     "config; resume with the config of the run in that folder", path);
        goto done;
    }
    /* counts read from the file, checked before they size anything (issue 12, finding 2) */
    size_t curve_bytes = 0;
    ckpt_get(&c, "curve", &curve_bytes);
    if (m.next > m.total || m.swa_models < 0 || (uint64_t)m.swa_models > m.next ||
        m.curve_n < 0 || (size_t)m.curve_n != curve_bytes / sizeof *t->curve) {
        rc = e2_fail(err, E2_BAD_INPUT, "%s: checkpoint section 'meta' is damaged (iteration "
                     "%llu of %llu, %d SWA models, %d curve points)", path,
                     (unsigned long long)m.next, (unsigned long long)m.total, m.swa_models,
                     m.curve_n);
        goto done;
    }
    if ((rc = check_ids(t, &c, path, err)) != E2_OK ||
        (rc = take_concat(t, &c, path, "params", param_values, err)) != E2_OK ||
        (rc = take_concat(t, &c, path, "momentum", param_momentum, err)) != E2_OK ||
        (t->swa && (rc = take_concat(t, &c, path, "swa", param_swa, err)) != E2_OK))
        goto done;
    size_t nb = (size_t)t->blocks * sizeof(uint64_t), npb = (size_t)t->np * sizeof(uint64_t);
    if ((rc = ckpt_take(&c, path, "block_exec", t->block_exec, nb, err)) != E2_OK ||
        (rc = ckpt_take(&c, path, "block_seen", t->block_seen, nb, err)) != E2_OK ||
        (rc = ckpt_take(&c, path, "psg_count", t->psg_count, npb, err)) != E2_OK ||
        (rc = ckpt_take(&c, path, "psg_predictor", t->psg_predictor, npb, err)) != E2_OK ||
        (rc = ckpt_take(&c, path, "psg_flips", t->psg_flips, npb, err)) != E2_OK)
        goto done;
    free(t->curve);
    t->curve = calloc(m.curve_n > 0 ? (size_t)m.curve_n : 1, sizeof *t->curve);
    t->curve_cap = m.curve_n;
    t->curve_n = m.curve_n;
    if (!t->curve) {
        rc = e2_fail(err, E2_FAILURE, "out of memory");
        goto done;
    }
    if ((rc = ckpt_take(&c, path, "curve", t->curve, (size_t)m.curve_n * sizeof *t->curve,
                        err)) != E2_OK)
        goto done;
    struct fx_stats st;
    if ((rc = ckpt_take(&c, path, "fx_stats", &st, sizeof st, err)) != E2_OK)
        goto done;
    net_fx_stats_set(t->net, &st);
    if (t->swa)
        swa_set_models(t->swa, m.swa_models);
    t->next = m.next;
    t->minibatches = m.minibatches;
    t->smd_dropped = m.smd_dropped;
    t->loss_n = m.loss_n;
    t->loss_sum = m.loss_sum;
    t->last_loss = m.last_loss;
    t->top1 = m.top1;
    t->top5 = m.top5;
    t->wall_seconds = m.wall_seconds;
    if (obs && obs->restore)
        rc = obs->restore(obs->ctx, &c, path, err);
done:
    ckpt_free(&c);
    return rc;
}

int train_load_finetune(struct train *t, const char *path, struct e2_err *err)
{
    struct ckpt c;
    int rc = ckpt_read(path, &c, err);
    if (rc != E2_OK)
        return rc;
    size_t ids_size = 0, values_size = 0;
    const struct param_id *ids = ckpt_get(&c, "param_ids", &ids_size);
    const float *values = ckpt_get(&c, "params", &values_size);
    if (!ids || !values || ids_size % sizeof *ids) {
        ckpt_free(&c);
        return e2_fail(err, E2_BAD_INPUT, "%s: not a training checkpoint (no parameters)",
                       path);
    }
    int nids = (int)(ids_size / sizeof *ids);
    /* offsets of each stored tensor in the concatenation */
    size_t off = 0;
    int loaded = 0;
    for (int j = 0; j < nids; j++) {
        for (int i = 0; i < t->np; i++) {
            if (strncmp(ids[j].name, t->p[i].name, sizeof ids[j].name) != 0)
                continue;
            if (ids[j].count == t->p[i].count &&
                (off + (size_t)ids[j].count) * sizeof(float) <= values_size) {
                memcpy(t->p[i].w, values + off, (size_t)ids[j].count * sizeof(float));
                loaded++;
            } else if (t->p[i].kind != NET_PARAM_FC) {
                rc = e2_fail(err, E2_BAD_INPUT, "%s: parameter '%s' has %lld values in the "
                             "checkpoint, %ld in this network (only the final FC may differ)",
                             path, t->p[i].name, (long long)ids[j].count, t->p[i].count);
                ckpt_free(&c);
                return rc;
            }
        }
        off += (size_t)ids[j].count;
    }
    ckpt_free(&c);
    if (loaded == 0)
        return e2_fail(err, E2_BAD_INPUT, "%s: no parameter of the checkpoint matches this "
                       "network", path);
    return E2_OK;
}
