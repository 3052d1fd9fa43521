/* Energy glue: distinct-record table, flushes to the hardware model and the trace. */
#include "energy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hw.h"
#include "net.h"
#include "trace.h"

static void sink_emit(void *ctx, const struct oprec *r)
{
    energy_add(ctx, r, 1);
}

int energy_init(struct energy_acc *a, energy_account_fn account, void *account_ctx)
{
    memset(a, 0, sizeof *a);
    a->nslots = 1024;
    a->slot = malloc((size_t)a->nslots * sizeof *a->slot);
    if (!a->slot)
        return -1;
    memset(a->slot, 0xff, (size_t)a->nslots * sizeof *a->slot);
    a->sink.emit = sink_emit;
    a->sink.ctx = a;
    a->account = account;
    a->account_ctx = account_ctx;
    return 0;
}

void energy_free(struct energy_acc *a)
{
    free(a->e);
    free(a->slot);
    free(a->dirty);
    memset(a, 0, sizeof *a);
}

void energy_set_trace(struct energy_acc *a, struct trace_writer *t, int stream)
{
    a->trace = t;
    a->trace_stream = stream;
}

static int rehash(struct energy_acc *a)
{
    int nslots = a->nslots * 2;
    int32_t *slot = malloc((size_t)nslots * sizeof *slot);
    if (!slot)
        return -1;
    memset(slot, 0xff, (size_t)nslots * sizeof *slot);
    for (int i = 0; i < a->n; i++) {
        uint32_t s = oprec_hash(&a->e[i].r) & (uint32_t)(nslots - 1);
        while (slot[s] >= 0)
            s = (s + 1) & (uint32_t)(nslots - 1);
        slot[s] = i;
    }
    free(a->slot);
    a->slot = slot;
    a->nslots = nslots;
    return 0;
}

/* Index of r in the table, inserting it when new; -1 when out of memory. */
static int lookup(struct energy_acc *a, const struct oprec *r)
{
    uint32_t mask = (uint32_t)(a->nslots - 1);
    uint32_t s = (uint32_t)oprec_hash(r) & mask;
    while (a->slot[s] >= 0) {
        if (oprec_equal(&a->e[a->slot[s]].r, r))
            return a->slot[s];
        s = (s + 1) & mask;
    }
    if (a->n == a->cap) {
        int cap = a->cap ? 2 * a->cap : 256;
        struct energy_entry *e = realloc(a->e, (size_t)cap * sizeof *e);
        if (!e)
            return -1;
        a->e = e;
        a->cap = cap;
    }
    int idx = a->n++;
    a->e[idx].r = *r;
    a->e[idx].total = 0;
    a->e[idx].pending = 0;
    a->slot[s] = idx;
    if (2 * a->n > a->nslots && rehash(a) != 0) {
        a->oom = 1;   /* the table still works, only fuller */
    }
    return idx;
}

void energy_add(struct energy_acc *a, const struct oprec *r, uint64_t repeat)
{
    if (repeat == 0)
        return;
    int idx = lookup(a, r);
    if (idx < 0) {
        a->oom = 1;
        return;
    }
    struct energy_entry *e = &a->e[idx];
    if (e->pending == 0) {
        if (a->ndirty == a->capdirty) {
            int cap = a->capdirty ? 2 * a->capdirty : 256;
            int *d = realloc(a->dirty, (size_t)cap * sizeof *d);
            if (!d) {
                a->oom = 1;
                return;
            }
            a->dirty = d;
            a->capdirty = cap;
        }
        a->dirty[a->ndirty++] = idx;
    }
    e->pending += repeat;
    e->total += repeat;
    a->emitted += repeat;
}

int energy_flush(struct energy_acc *a, struct e2_err *err)
{
    for (int i = 0; i < a->ndirty; i++) {
        struct energy_entry *e = &a->e[a->dirty[i]];
        if (a->account && !a->failed)
            a->failed = a->account(a->account_ctx, &e->r, e->pending, a->error, sizeof a->error);
        if (a->trace)
            trace_add(a->trace, a->trace_stream, &e->r, e->pending);
        a->accounted += e->pending;
        e->pending = 0;
    }
    a->ndirty = 0;
    if (a->failed)   /* hw_account's 2: this hardware config cannot run the op (bad input) */
        return e2_fail(err, a->failed == E2_BAD_INPUT ? E2_BAD_INPUT : E2_FAILURE,
                       "hardware model: %s", a->error);
    if (a->oom)
        return e2_fail(err, E2_FAILURE, "out of memory counting op records");
    return E2_OK;
}

uint64_t energy_total_records(const struct energy_acc *a)
{
    uint64_t t = 0;
    for (int i = 0; i < a->n; i++)
        t += a->e[i].total;
    return t;
}

int energy_distinct(const struct energy_acc *a)
{
    return a->n;
}

/* Section layout: u32 record size (OPREC_PACKED_SIZE), u32 count, then count x (packed record,
 * u64 total). The totals are native (same machine family: x86-64 little-endian). */
int energy_save(const struct energy_acc *a, struct ckpt *c)
{
    size_t item = OPREC_PACKED_SIZE + sizeof(uint64_t);
    size_t size = 8 + (size_t)a->n * item;
    unsigned char *buf = malloc(size);
    if (!buf)
        return -1;
    uint32_t head[2] = {(uint32_t)OPREC_PACKED_SIZE, (uint32_t)a->n};
    memcpy(buf, head, 8);
    for (int i = 0; i < a->n; i++) {
        oprec_pack(&a->e[i].r, buf + 8 + (size_t)i * item);
        memcpy(buf + 8 + (size_t)i * item + OPREC_PACKED_SIZE, &a->e[i].total, sizeof(uint64_t));
    }
    int rc = ckpt_put(c, "energy", buf, size);
    free(buf);
    return rc;
}

int energy_load(struct energy_acc *a, const struct ckpt *c, const char *path, struct e2_err *err)
{
    size_t size = 0;
    const unsigned char *buf = ckpt_get(c, "energy", &size);
    size_t item = OPREC_PACKED_SIZE + sizeof(uint64_t);
    if (!buf || size < 8)
        return e2_fail(err, E2_BAD_INPUT, "%s: checkpoint has no valid 'energy' section", path);
    uint32_t head[2];
    memcpy(head, buf, 8);
    if (head[0] != OPREC_PACKED_SIZE || size != 8 + (size_t)head[1] * item)
        return e2_fail(err, E2_BAD_INPUT, "%s: checkpoint 'energy' section does not match this "
                       "op-record layout (%u-byte records, %zu bytes)", path, head[0], size);
    for (uint32_t i = 0; i < head[1]; i++) {
        struct oprec r;
        uint64_t total;
        oprec_unpack(buf + 8 + (size_t)i * item, &r);
        memcpy(&total, buf + 8 + (size_t)i * item + OPREC_PACKED_SIZE, sizeof total);
        char why[160];
        if (trace_record_check(&r, why, sizeof why) || total > TRACE_MAX_OPS)
            return e2_fail(err, E2_BAD_INPUT, "%s: checkpoint 'energy' section, record %u: %s",
                           path, i, total > TRACE_MAX_OPS ? "repeat count too large" : why);
        energy_add(a, &r, total);
    }
    if (a->oom)
        return e2_fail(err, E2_FAILURE, "%s: out of memory restoring the energy ledger", path);
    return E2_OK;
}


int energy_describe_layers(const struct net_param *p, int np, const struct energy_acc *acc,
                           struct trace_layer **layers, int *nlayers)
{
    int maxid = -1;
    for (int i = 0; i < np; i++)
        if (p[i].layer > maxid)
            maxid = p[i].layer;
    for (int i = 0; i < acc->n; i++)
        if (acc->e[i].r.layer != 0xffff && acc->e[i].r.layer > maxid)
            maxid = acc->e[i].r.layer;
    int n = maxid + 1;
    struct trace_layer *l = calloc((size_t)(n > 0 ? n : 1), sizeof *l);
    if (!l)
        return -1;
    for (int id = 0; id < n; id++) {
        l[id].id = (uint16_t)id;
        strcpy(l[id].kind, "?");
    }
    for (int i = 0; i < acc->n; i++) {
        const struct oprec *rec = &acc->e[i].r;
        if (rec->layer < n && rec->kind != OP_UPDATE && rec->kind < OP_KIND_COUNT)
            snprintf(l[rec->layer].kind, sizeof l[0].kind, "%s", oprec_kind_name(rec->kind));
    }
    for (int i = 0; i < np; i++) {
        struct trace_layer *t = &l[p[i].layer];
        if (t->name[0])
            continue;
        snprintf(t->name, sizeof t->name, "%s", p[i].name);
        char *dot = strrchr(t->name, '.');
        if (dot)
            *dot = 0;
    }
    for (int id = 0; id < n; id++)
        if (!l[id].name[0])
            snprintf(l[id].name, sizeof l[id].name, "%s%d", l[id].kind, id);
    *layers = l;
    *nlayers = n;
    return 0;
}
