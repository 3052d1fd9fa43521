/* Energy glue: from the kernels' op stream to the hardware model's ledger.
 *
 * An energy_acc is an op_sink. Each emitted record is counted in a table of distinct records
 * (cheap: one hash probe, no hardware call). energy_flush then hands every distinct record
 * emitted since the last flush to the hardware model ONCE, with its repeat count
 * (hw_account(model, ledger, rec, repeat)), and to the trace writer as the same
 * (record, repeat) entry, so a replay prices exactly what the live run priced. Flushes happen
 * at the caller's pace (each iteration for the progress line's joules, at evaluations,
 * checkpoints and the end).
 *
 * The table also keeps each record's total count over the run: that is the ledger's state in a
 * checkpoint (energy_save / energy_load), re-priced on resume. Pricing is linear in the repeat
 * count (integer femtojoules and cycles per record), so the resumed ledger equals the
 * uninterrupted one exactly.
 *
 * The hardware model, the ledgers and the trace writer belong to the run's pricing object
 * (sim/run/pricing.h), which prices through this accumulator. */
#ifndef E2_ENERGY_H
#define E2_ENERGY_H

#include <stddef.h>
#include <stdint.h>
#include "checkpoint.h"
#include "oprec.h"
#include "status.h"

struct net_param;
struct trace_layer;
struct trace_writer;

/* Where flushed records go: a pricing function (normally hw_account on a ledger). Returns 0,
 * or nonzero with a message in err (at most errlen bytes). */
typedef int (*energy_account_fn)(void *ctx, const struct oprec *r, uint64_t repeat, char *err,
                                 size_t errlen);

struct energy_entry {
    struct oprec r;
    uint64_t total;         /* emitted over the run (and restored from checkpoints) */
    uint64_t pending;       /* emitted since the last flush */
};

struct energy_acc {
    struct op_sink sink;    /* hand &acc->sink to the kernels */
    struct energy_entry *e; /* distinct records, in order of first appearance */
    int n, cap;
    int32_t *slot;          /* open-addressing hash: index into e, -1 = empty */
    int nslots;
    int *dirty;             /* entries with pending > 0, in order of first pending emission */
    int ndirty, capdirty;
    energy_account_fn account;  /* NULL: count only */
    void *account_ctx;
    struct trace_writer *trace; /* NULL: no trace */
    int trace_stream;
    uint64_t emitted;       /* records emitted (repeat 1 each) since init or load */
    uint64_t accounted;     /* records (counting repeats) handed to account */
    int oom;                /* an allocation failed: counts are incomplete */
    int failed;             /* a pricing call failed (the first message is in error) */
    char error[512];
};

/* A counting accumulator; account (may be NULL) prices flushed records. Returns 0 or -1. */
int energy_init(struct energy_acc *a, energy_account_fn account, void *account_ctx);
void energy_free(struct energy_acc *a);

/* Also write flushed records into a trace stream (TRACE_RUN). */
void energy_set_trace(struct energy_acc *a, struct trace_writer *t, int stream);

/* Count one record (what the sink's emit does). */
void energy_add(struct energy_acc *a, const struct oprec *r, uint64_t repeat);

/* Price everything pending (and trace it). E2_OK, or E2_FAILURE with err filled when a
 * pricing call failed now or earlier, or an allocation failed. */
int energy_flush(struct energy_acc *a, struct e2_err *err);

/* Records counted over the run (sum of totals) and distinct records. */
uint64_t energy_total_records(const struct energy_acc *a);
int energy_distinct(const struct energy_acc *a);

/* Checkpoint section "energy": every distinct record with its total. energy_load adds them to
 * an empty accumulator as pending (the next flush prices them into a fresh ledger). */
int energy_save(const struct energy_acc *a, struct ckpt *c);
int energy_load(struct energy_acc *a, const struct ckpt *c, const char *path, struct e2_err *err);


/* Layer names and kinds by layer id for reports and traces: names from the parameters
 * ("b3.u1.conv.w" -> "b3.u1.conv"), kinds from the records counted in acc; layers without
 * parameters are named by kind and id. *layers is allocated (free it). Returns 0 or -1. */
int energy_describe_layers(const struct net_param *p, int np, const struct energy_acc *acc,
                           struct trace_layer **layers, int *nlayers);

#endif
