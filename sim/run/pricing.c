/* The pricing object (see pricing.h). */
#include "pricing.h"

#include <string.h>

#include "checkpoint.h"
#include "net.h"
#include "trace.h"
#include "train.h"

static int hw_account_cb(void *ctx, const struct oprec *r, uint64_t repeat, char *err,
                         size_t errlen)
{
    struct pricing *p = ctx;
    return hw_account(p->model, p->run, r, repeat, err, errlen);
}

int pricing_open(struct pricing *p, const struct hw_params *hw, int priced, const char *source,
                 struct e2_err *err)
{
    memset(p, 0, sizeof *p);
    p->priced = priced;
    if (priced) {
        char msg[512] = "";
        int code = hw_create(hw, &p->model, msg, sizeof msg);
        if (code != 0 && source)
            return e2_fail(err, E2_BAD_INPUT, "%s: hardware: %s", source, msg);
        if (code != 0)   /* the hardware model's codes are e2_status values */
            return e2_fail(err, code == E2_BAD_INPUT ? E2_BAD_INPUT : E2_FAILURE,
                           "hardware model: %s", msg);
        p->run = hw_ledger_new();
        p->baseline = hw_ledger_new();
        if (!p->run || !p->baseline)
            return e2_fail(err, E2_FAILURE, "out of memory");
    }
    if (energy_init(&p->acc, priced ? hw_account_cb : NULL, p) != 0)
        return e2_fail(err, E2_FAILURE, "out of memory");
    p->acc_open = 1;
    return E2_OK;
}

void pricing_close(struct pricing *p)
{
    if (p->trace)
        trace_abort(p->trace);
    if (p->acc_open)
        energy_free(&p->acc);
    hw_ledger_free(p->run);
    hw_ledger_free(p->baseline);
    hw_free(p->model);
    memset(p, 0, sizeof *p);
}

const struct op_sink *pricing_sink(struct pricing *p)
{
    return &p->acc.sink;
}

int pricing_flush(struct pricing *p, struct e2_err *err)
{
    return energy_flush(&p->acc, err);
}

e2_fj pricing_run_fj(const struct pricing *p)
{
    return p->run ? hw_ledger_fj(p->run, NULL) : 0;
}

int pricing_trace_create(struct pricing *p, const char *path, const struct trace_header *h,
                         struct e2_err *err)
{
    int rc = trace_create(path, h, &p->trace, err);
    if (rc == E2_OK)
        energy_set_trace(&p->acc, p->trace, TRACE_RUN);
    return rc;
}

int pricing_trace_resume(struct pricing *p, const char *path, const char *ckpt_path,
                         struct e2_err *err)
{
    struct ckpt c;
    int rc = ckpt_read(ckpt_path, &c, err);
    if (rc != E2_OK)
        return rc;
    rc = trace_resume(path, &c, ckpt_path, &p->trace, err);
    ckpt_free(&c);
    if (rc == E2_OK)
        energy_set_trace(&p->acc, p->trace, TRACE_RUN);
    return rc;
}

struct trace_writer *pricing_trace_take(struct pricing *p)
{
    struct trace_writer *t = p->trace;
    p->trace = NULL;
    energy_set_trace(&p->acc, NULL, TRACE_RUN);
    return t;
}

int pricing_save(struct pricing *p, struct ckpt *c, struct e2_err *err)
{
    /* the flush also hands the records since the last one to the trace, if any */
    int rc = energy_flush(&p->acc, err);
    if (rc == E2_OK && p->trace)
        rc = trace_save(p->trace, c, err);
    if (rc == E2_OK && energy_save(&p->acc, c) != 0)
        rc = e2_fail(err, E2_FAILURE, "out of memory building the checkpoint");
    return rc;
}

int pricing_restore(struct pricing *p, const struct ckpt *c, const char *path,
                    struct e2_err *err)
{
    int rc = energy_load(&p->acc, c, path, err);
    return rc == E2_OK ? energy_flush(&p->acc, err) : rc;
}

/* Whether hw_account's bad-input refusal of r was the ledger's counts passing 2^64, not the
 * op: the op alone, priced without a ledger, is then accepted. */
static int counts_overflowed(struct hw_model *model, const struct oprec *r, uint64_t repeat)
{
    char msg[512];
    return hw_account(model, NULL, r, repeat, msg, sizeof msg) == 0;
}

int pricing_price_totals(struct hw_model *model, struct hw_ledger *ledger,
                         const struct energy_acc *a, uint64_t multiplier,
                         struct trace_writer *trace, int stream, const char *length,
                         struct e2_err *err)
{
    char msg[512] = "";
    for (int i = 0; i < a->n; i++) {
        const struct energy_entry *e = &a->e[i];
        if (e->total == 0)
            continue;
        uint64_t repeat = e->total * multiplier;
        int code = ledger ? hw_account(model, ledger, &e->r, repeat, msg, sizeof msg) : 0;
        const char *base = stream == TRACE_BASELINE ? "float32 baseline: " : "";
        /* too long a run is the schedule's fault: name the keys, not the hardware model */
        if (code == E2_BAD_INPUT && length && counts_overflowed(model, &e->r, repeat))
            return e2_fail(err, E2_BAD_INPUT, "%s: the run is too long to count: %s%s", length,
                           base, msg);
        if (code != 0)   /* 2: this hardware config cannot run the op (bad input) */
            return e2_fail(err, code == E2_BAD_INPUT ? E2_BAD_INPUT : E2_FAILURE,
                           "%shardware model: %s", base, msg);
        if (trace)
            trace_add(trace, stream, &e->r, repeat);
    }
    return E2_OK;
}

int pricing_price_baseline(struct pricing *p, struct net *fp32_net, int batch,
                           uint64_t iterations, int with_trace, const char *length,
                           struct e2_err *err)
{
    struct energy_acc a;
    if (energy_init(&a, NULL, NULL) != 0)
        return e2_fail(err, E2_FAILURE, "out of memory pricing the float32 baseline");
    struct optim_config sgd = {.rule = OPTIM_SGD, .momentum = 0.9f, .weight_decay = 1e-4f};
    int rc;
    if (net_emit_iteration(fp32_net, batch, NULL, 0.0f, &sgd, &a.sink) != 0 || a.oom)
        rc = e2_fail(err, E2_FAILURE, "float32 baseline: cannot emit one iteration's records");
    else
        rc = pricing_price_totals(p->model, p->baseline, &a, iterations,
                                  with_trace ? p->trace : NULL, TRACE_BASELINE, length, err);
    energy_free(&a);
    return rc;
}

/* ---------------------------------------------------------------- the loop's observer ---- */

static int observe_energy(void *ctx, e2_fj *fj, struct e2_err *err)
{
    struct pricing *p = ctx;
    int rc = pricing_flush(p, err);
    *fj = pricing_run_fj(p);
    return rc;
}

/* Each curve point becomes a trace mark, so a replay rebuilds the same curve. */
static void observe_point(void *ctx, const struct train_point *pt)
{
    struct pricing *p = ctx;
    if (p->trace)
        trace_mark(p->trace, pt->iteration, pt->train_loss, pt->top1);
}

static int observe_save(void *ctx, struct ckpt *c, struct e2_err *err)
{
    return pricing_save(ctx, c, err);
}

static int observe_restore(void *ctx, const struct ckpt *c, const char *path, struct e2_err *err)
{
    return pricing_restore(ctx, c, path, err);
}

struct train_observer pricing_observer(struct pricing *p)
{
    struct train_observer o = {p, p->priced ? observe_energy : NULL, observe_point, observe_save,
                               observe_restore};
    return o;
}
