/* e2sim replay: price a recorded trace on (other) hardware; see replay.h. */
#define _POSIX_C_SOURCE 200809L
#include "replay.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hw.h"
#include "progress.h"
#include "trace.h"

/* Repeat counts of one stream's records since the last flush. */
struct pending {
    uint64_t *count;        /* by dictionary index */
    uint32_t cap;
    uint32_t *order;        /* indices with count > 0, in order of first appearance */
    uint32_t n;
};

static int pending_add(struct pending *p, uint32_t index, uint64_t repeat)
{
    if (index >= p->cap) {
        uint32_t cap = p->cap ? p->cap : 256;
        while (cap <= index)
            cap *= 2;
        uint64_t *count = realloc(p->count, cap * sizeof *count);
        uint32_t *order = count ? realloc(p->order, cap * sizeof *order) : NULL;
        if (count)
            p->count = count;
        if (!count || !order)
            return E2_FAILURE;
        p->order = order;
        memset(p->count + p->cap, 0, (cap - p->cap) * sizeof *count);
        p->cap = cap;
    }
    if (p->count[index] == 0)
        p->order[p->n++] = index;
    p->count[index] += repeat;
    return E2_OK;
}

/* Price everything pending of one stream into its ledger; a refusal names the trace (path). */
static int flush(struct pending *p, struct trace_reader *t, const char *path, int stream,
                 struct hw_model *m, struct hw_ledger *l, struct e2_err *err)
{
    for (uint32_t i = 0; i < p->n; i++) {
        uint32_t index = p->order[i];
        char msg[512];
        int code = hw_account(m, l, trace_reader_record(t, stream, index), p->count[index], msg,
                              sizeof msg);
        if (code != 0)   /* 2: this hardware config cannot run the op (bad input) */
            return e2_fail(err, code == E2_BAD_INPUT ? E2_BAD_INPUT : E2_FAILURE,
                           "%s: pricing its %srecord %u: hardware model: %s", path,
                           stream == TRACE_BASELINE ? "float32 baseline " : "", index, msg);
        p->count[index] = 0;
    }
    p->n = 0;
    return E2_OK;
}

struct replay {
    const char *path;   /* the trace's */
    struct trace_reader *trace;
    struct hw_model *model;
    struct hw_ledger *ledger[TRACE_STREAMS];
    struct pending pending[TRACE_STREAMS];
};

static void replay_free(struct replay *x)
{
    for (int s = 0; s < TRACE_STREAMS; s++) {
        hw_ledger_free(x->ledger[s]);
        free(x->pending[s].count);
        free(x->pending[s].order);
    }
    hw_free(x->model);
    trace_close(x->trace);
}

/* Stream the entries; price at each mark (for the curve) and at the end. */
static int price_entries(struct replay *x, struct run_result *r, struct progress *progress,
                         struct e2_err *err)
{
    struct trace_entry e;
    int rc;
    while ((rc = trace_next(x->trace, &e, err)) == E2_OK && e.type != TRACE_END) {
        if (e.type == TRACE_OP) {
            if (pending_add(&x->pending[e.stream], e.index, e.repeat))
                return e2_fail(err, E2_FAILURE, "out of memory");
            continue;
        }
        rc = flush(&x->pending[TRACE_RUN], x->trace, x->path, TRACE_RUN, x->model,
                   x->ledger[TRACE_RUN], err);
        if (rc)
            return rc;
        e2_fj so_far = hw_ledger_fj(x->ledger[TRACE_RUN], NULL);
        if (run_result_add_point(r, e.iteration, so_far, e.train_loss, e.test_top1))
            return e2_fail(err, E2_FAILURE, "out of memory");
        if (progress)
            progress_update(progress, e.iteration, e.train_loss, e.test_top1,
                            (double)so_far * 1e-15);
    }
    for (int s = 0; rc == E2_OK && s < TRACE_STREAMS; s++)
        rc = flush(&x->pending[s], x->trace, x->path, s, x->model, x->ledger[s], err);
    return rc;
}

int replay_price(const char *path, const struct hw_params *hw, struct run_result *r,
                 struct progress *progress, struct e2_err *err)
{
    struct replay x;
    memset(&x, 0, sizeof x);
    x.path = path;
    int rc = trace_open(path, &x.trace, err);
    if (rc)
        return rc;
    char msg[512];
    if (hw_create(hw, &x.model, msg, sizeof msg) != 0) {
        replay_free(&x);
        return e2_fail(err, E2_BAD_INPUT, "hardware: %s", msg);
    }
    for (int s = 0; s < TRACE_STREAMS; s++)
        if (!(x.ledger[s] = hw_ledger_new())) {
            replay_free(&x);
            return e2_fail(err, E2_FAILURE, "out of memory");
        }
    rc = price_entries(&x, r, progress, err);
    if (rc == E2_OK) {
        const struct trace_header *h = trace_reader_header(x.trace);
        int has_baseline = trace_reader_totals(x.trace).ops[TRACE_BASELINE] > 0;
        snprintf(r->network, sizeof r->network, "%s", h->network);
        snprintf(r->dataset, sizeof r->dataset, "%s", h->dataset);
        if (run_result_fill_energy(r, x.model, x.ledger[TRACE_RUN],
                                   has_baseline ? x.ledger[TRACE_BASELINE] : NULL, h->layers,
                                   h->layer_count) ||
            run_result_from_trace_result(r, trace_reader_result(x.trace)))
            rc = e2_fail(err, E2_FAILURE, "out of memory");
    }
    replay_free(&x);
    return rc;
}
