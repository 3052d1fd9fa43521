/* Op traces: record the op stream of a run to a file, read it back as a stream.
 * The byte format is specified in traces/FORMAT.md (versioned, CRC32-checked, deflated blocks,
 * a dictionary of distinct records referenced by index, run-length repeats).
 *
 * A trace holds two streams of op records:
 *   TRACE_RUN       what the run executed, in order, with eval marks (iteration, loss, top-1)
 *   TRACE_BASELINE  what the float32 baseline is priced from (e.g. one fp32 SMB iteration with
 *                   repeat = iterations), so a replay reproduces energy.baseline_fp32 as well.
 * A replay prices every (record, repeat) of each stream exactly as the live run did. */
#ifndef E2_TRACE_H
#define E2_TRACE_H

#include <stdint.h>
#include "oprec.h"
#include "status.h"

#define TRACE_FORMAT_VERSION 1
#define TRACE_NAME_MAX 64       /* layer names */
#define TRACE_TEXT_MAX 256      /* network and dataset names (config strings are up to 256) */
#define TRACE_MAX_BLOCKS 256    /* SLU per-block skip ratios kept in the trailer */

enum trace_stream { TRACE_RUN = 0, TRACE_BASELINE = 1, TRACE_STREAMS = 2 };

struct trace_layer {
    uint16_t id;
    char name[TRACE_NAME_MAX];  /* "s1.b0.conv1" */
    char kind[16];              /* "conv", "bn", ... */
};

struct trace_header {
    uint32_t format_version;    /* filled by the reader */
    uint32_t oprec_version;     /* filled by the reader */
    char network[TRACE_TEXT_MAX];   /* "resnet-8" */
    char dataset[TRACE_TEXT_MAX];   /* "fashion-mnist" */
    uint64_t config_hash;       /* trace_config_hash(config_text) */
    const char *config_text;    /* resolved config of the recorded run (writer: borrowed) */
    int layer_count;
    const struct trace_layer *layers;   /* writer: borrowed */
};

/* Hardware-independent results of the recorded run, stored in the trailer. */
struct trace_result {
    int has_accuracy;
    double top1, top5;
    uint64_t iterations, minibatches_processed;
    double slu_skip_ratio, psg_predictor_ratio;
    int slu_blocks;
    double slu_block_skip[TRACE_MAX_BLOCKS];
    double wall_seconds;        /* of the recorded run */
};

/* Counts kept by the writer and checked by the reader against the trailer. */
struct trace_totals {
    uint64_t entries[TRACE_STREAMS];    /* (record, repeat) entries */
    uint64_t ops[TRACE_STREAMS];        /* records counting repeats */
    uint32_t distinct[TRACE_STREAMS];   /* dictionary size */
    uint32_t blocks[TRACE_STREAMS];
    uint64_t marks;
};

/* Limits on what one op record read from a file may describe, so that no count read from a
 * file sizes an allocation or a loop without bound (the mapper's work grows with the tensors):
 * a minibatch is at most the largest training.batch_size, and a tensor (input, output or
 * weights) at most 2^28 elements, 256 MB at 8 bits, half the ZedBoard's DDR. */
#define TRACE_MAX_N 65536
#define TRACE_MAX_ELEMENTS (1ull << 28)
/* The most executions one stream may count: pricing multiplies them into 64-bit counters. */
#define TRACE_MAX_OPS (1ull << 48)

/* 0 when r is a record e2sim could have written (known kind, phase and technique, operand
 * widths of at most 32 bits (32 = float), accumulators of at most 64, sizes within the limits above); otherwise -1 and the reason in why. Every
 * reader of records (traces, checkpoints) calls it before the record reaches the pricing. */
int trace_record_check(const struct oprec *r, char *why, size_t size);

/* 64-bit FNV-1a of the config text (the header's config hash). */
uint64_t trace_config_hash(const char *text);

/* ---- writer ---------------------------------------------------------------------------- */

struct trace_writer;

/* Start a trace at `path` (written to a temporary file beside it, renamed at finish). */
int trace_create(const char *path, const struct trace_header *h, struct trace_writer **out,
                 struct e2_err *err);
/* Append `repeat` executions of r to a stream (repeat 0 is ignored). Never fails: a write
 * error is remembered and returned by trace_finish. */
void trace_add(struct trace_writer *t, int stream, const struct oprec *r, uint64_t repeat);
/* An evaluation point of the run stream: the curve is rebuilt from these on replay. */
void trace_mark(struct trace_writer *t, uint64_t iteration, double train_loss, double test_top1);
/* An op_sink whose emit appends to `stream` with repeat 1. */
struct op_sink trace_sink(struct trace_writer *t, int stream);
/* Flush, write the trailer with `res` (may be NULL), close and rename into place; frees t. */
int trace_finish(struct trace_writer *t, const struct trace_result *res, struct e2_err *err);
/* Drop an unfinished trace (removes the temporary file); frees t. */
void trace_abort(struct trace_writer *t);
/* Totals so far (for logs and tests). */
struct trace_totals trace_writer_totals(const struct trace_writer *t);

/* A trace across a checkpoint and resume. trace_save flushes everything written so far to the
 * temporary file (fsync) and puts into the checkpoint what continuing it needs: its paths, its
 * length and CRC, the dictionaries and totals. trace_resume reopens that file for the run
 * being resumed, checks it against the checkpoint, cuts what was written after it and goes
 * on, so that the finished trace equals that of a run never stopped. E2_BAD_INPUT when the
 * checkpoint has no trace, names another path, or the file is gone or changed. */
struct ckpt;
int trace_save(struct trace_writer *t, struct ckpt *c, struct e2_err *err);
int trace_resume(const char *path, const struct ckpt *c, const char *ckpt_path,
                 struct trace_writer **out, struct e2_err *err);

/* ---- reader ---------------------------------------------------------------------------- */

enum trace_entry_type { TRACE_OP, TRACE_MARK, TRACE_END };

struct trace_entry {
    enum trace_entry_type type;
    int stream;                 /* TRACE_OP */
    uint32_t index;             /* TRACE_OP: dictionary index of rec within its stream */
    const struct oprec *rec;    /* TRACE_OP: valid until trace_close */
    uint64_t repeat;            /* TRACE_OP: >= 1 */
    uint64_t iteration;         /* TRACE_MARK */
    double train_loss, test_top1;   /* TRACE_MARK */
};

struct trace_reader;

/* Open and verify the header. Corruption, truncation, a wrong magic or an unsupported format
 * or op-record version are E2_BAD_INPUT naming the file and byte offset. */
int trace_open(const char *path, struct trace_reader **out, struct e2_err *err);
const struct trace_header *trace_reader_header(const struct trace_reader *r);
/* Next entry, in recorded order within each stream (blocks of the two streams interleave).
 * At the end (type TRACE_END) the trailer has been read and checked against what was read.
 * Only the fields of the entry's type are set. */
int trace_next(struct trace_reader *r, struct trace_entry *e, struct e2_err *err);
/* Valid after TRACE_END. */
const struct trace_result *trace_reader_result(const struct trace_reader *r);
struct trace_totals trace_reader_totals(const struct trace_reader *r);
/* Distinct records of a stream seen so far, by dictionary index (for aggregating replays). */
uint32_t trace_reader_distinct(const struct trace_reader *r, int stream);
const struct oprec *trace_reader_record(const struct trace_reader *r, int stream, uint32_t index);
void trace_close(struct trace_reader *r);

#endif
