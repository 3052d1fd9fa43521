/* Op trace reader: opens a trace, verifies every checksum and count, and streams its entries
 * back (traces/FORMAT.md); also the check every record read from a file passes. */
#define _POSIX_C_SOURCE 200809L
#include "trace.h"
#include "trace_format.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

int trace_record_check(const struct oprec *r, char *why, size_t size)
{
    const uint64_t n = r->n, in = (uint64_t)r->h_in * r->w_in, out = (uint64_t)r->h_out * r->w_out;
    const uint64_t weights = (uint64_t)r->cin * r->cout * r->k * r->k;
    if (r->kind >= OP_KIND_COUNT || r->phase >= OP_PHASE_COUNT || r->tech >= OP_TECH_COUNT)
        snprintf(why, size, "unknown op kind %u, phase %u or technique %u", r->kind, r->phase,
                 r->tech);
    else if (r->bits_a > 32 || r->bits_b > 32 || r->bits_out > 32 || r->msb_a > 32 ||
             r->msb_b > 32 || r->bits_acc > 64)
        snprintf(why, size, "an operand width above 32 bits (or an accumulator above 64)");
    else if (n > TRACE_MAX_N)
        snprintf(why, size, "n = %llu samples, at most %d", (unsigned long long)n, TRACE_MAX_N);
    else if (n * r->cin * in > TRACE_MAX_ELEMENTS || n * r->cout * out > TRACE_MAX_ELEMENTS ||
             weights > TRACE_MAX_ELEMENTS)
        snprintf(why, size, "a tensor of more than %llu elements",
                 (unsigned long long)TRACE_MAX_ELEMENTS);
    else
        return 0;
    return -1;
}

/* ---- reader ---------------------------------------------------------------------------- */

struct rstream {
    struct oprec *recs;
    uint32_t count, cap;
};

struct trace_reader {
    FILE *f;
    char *path;
    uint64_t pos, size;         /* file offset of the next unread byte; file size */
    struct trace_header h;
    char *config_text;
    struct trace_layer *layers;
    struct rstream s[TRACE_STREAMS];
    unsigned char *raw, *comp;
    size_t raw_len, raw_pos, raw_cap, comp_cap;
    uint64_t block_at;          /* file offset of the current block */
    int stream;                 /* of the current block */
    uint32_t items_left;
    struct trace_totals seen;
    struct trace_result result;
    int done;
};

static int bad(struct trace_reader *r, struct e2_err *err, uint64_t at, const char *what)
{
    return e2_fail(err, E2_BAD_INPUT, "%s: byte offset %llu: %s", r->path, (unsigned long long)at,
                   what);
}

/* Read exactly n bytes at the current position. */
static int read_exact(struct trace_reader *r, void *p, size_t n, struct e2_err *err,
                      const char *what)
{
    if (r->size - r->pos < n || fread(p, 1, n, r->f) != n) {
        char msg[160];
        snprintf(msg, sizeof msg, "truncated: file ends inside the %s (needs %zu more bytes)",
                 what, n);
        return bad(r, err, r->size < r->pos + n ? r->size : r->pos, msg);
    }
    r->pos += n;
    return E2_OK;
}

/* A cursor over bytes already checksummed (header payload, block, trailer). */
struct cursor {
    const unsigned char *p, *end;
    int ok;
};

static uint64_t get_varint(struct cursor *c)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (c->p >= c->end) {
            c->ok = 0;
            return 0;
        }
        unsigned char b = *c->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    c->ok = 0;
    return 0;
}

static uint64_t get_u64(struct cursor *c)
{
    if (c->end - c->p < 8) {
        c->ok = 0;
        return 0;
    }
    uint64_t v = le_load(c->p, 8);
    c->p += 8;
    return v;
}

static double get_f64(struct cursor *c)
{
    uint64_t v = get_u64(c);
    double d;
    memcpy(&d, &v, 8);
    return d;
}

static void get_str(struct cursor *c, char *out, size_t size)
{
    uint64_t n = get_varint(c);
    if (!c->ok || n > (uint64_t)(c->end - c->p)) {
        c->ok = 0;
        return;
    }
    size_t keep = n < size ? (size_t)n : size - 1;
    memcpy(out, c->p, keep);
    out[keep] = '\0';
    c->p += n;
}

static int read_header(struct trace_reader *r, struct e2_err *err)
{
    unsigned char fixed[20];
    int rc = read_exact(r, fixed, sizeof fixed, err, "header");
    if (rc)
        return rc;
    if (memcmp(fixed, header_magic, 8) != 0)
        return bad(r, err, 0, "not an e2sim trace (bad magic)");
    uint32_t version = (uint32_t)le_load(fixed + 8, 4);
    if (version != TRACE_FORMAT_VERSION) {
        char msg[128];
        snprintf(msg, sizeof msg, "trace format version %u is not supported (this e2sim reads "
                 "version %d)", version, TRACE_FORMAT_VERSION);
        return bad(r, err, 8, msg);
    }
    uint32_t len = (uint32_t)le_load(fixed + 16, 4);
    if (len > HEADER_MAX || len + 4u > r->size - r->pos)
        return bad(r, err, 16, "bad header length (corrupt or truncated file)");
    unsigned char *head = malloc(sizeof fixed + len + 4);
    if (!head)
        return e2_fail(err, E2_FAILURE, "%s: out of memory", r->path);
    memcpy(head, fixed, sizeof fixed);
    rc = read_exact(r, head + sizeof fixed, len + 4, err, "header");
    if (rc) {
        free(head);
        return rc;
    }
    uint32_t want = (uint32_t)le_load(head + sizeof fixed + len, 4);
    if ((uint32_t)crc32(crc32(0L, Z_NULL, 0), head, (uInt)(sizeof fixed + len)) != want) {
        free(head);
        return bad(r, err, 0, "header checksum mismatch (corrupt header)");
    }
    uint32_t opver = (uint32_t)le_load(fixed + 12, 4);
    if (opver != OPREC_VERSION) {
        free(head);
        char msg[128];
        snprintf(msg, sizeof msg, "op record version %u is not supported (this e2sim uses "
                 "version %d)", opver, OPREC_VERSION);
        return bad(r, err, 12, msg);
    }
    struct cursor c = {head + sizeof fixed, head + sizeof fixed + len, 1};
    r->h.format_version = version;
    r->h.oprec_version = opver;
    get_str(&c, r->h.network, sizeof r->h.network);
    get_str(&c, r->h.dataset, sizeof r->h.dataset);
    r->h.config_hash = get_u64(&c);
    uint64_t text_len = get_varint(&c);
    if (c.ok && text_len <= (uint64_t)(c.end - c.p)) {
        r->config_text = malloc(text_len + 1);
        if (r->config_text) {
            memcpy(r->config_text, c.p, text_len);
            r->config_text[text_len] = '\0';
        }
        c.p += text_len;
    } else {
        c.ok = 0;
    }
    uint64_t layers = get_varint(&c);
    if (c.ok && layers > 65536)
        c.ok = 0;
    if (c.ok && layers > 0) {
        r->layers = calloc(layers, sizeof *r->layers);
        if (!r->layers)
            c.ok = 0;
    }
    for (uint64_t i = 0; c.ok && i < layers; i++) {
        r->layers[i].id = (uint16_t)get_varint(&c);
        get_str(&c, r->layers[i].name, sizeof r->layers[i].name);
        get_str(&c, r->layers[i].kind, sizeof r->layers[i].kind);
    }
    free(head);
    if (!c.ok || !r->config_text)
        return bad(r, err, 20, "malformed header fields");
    r->h.config_text = r->config_text;
    r->h.layer_count = (int)layers;
    r->h.layers = r->layers;
    return E2_OK;
}

int trace_open(const char *path, struct trace_reader **out, struct e2_err *err)
{
    *out = NULL;
    struct trace_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        return e2_fail(err, E2_FAILURE, "%s: out of memory", path);
    }
    struct stat st;   /* before opening: opening a FIFO would wait for a writer */
    const char *why = stat(path, &st) != 0 ? strerror(errno)
                      : !S_ISREG(st.st_mode) ? "not a regular file"
                      : !(r->f = fopen(path, "rb")) || fstat(fileno(r->f), &st) != 0
                          ? strerror(errno) : NULL;
    if (why) {
        trace_close(r);
        return e2_fail(err, E2_BAD_INPUT, "%s: cannot open: %s", path, why);
    }
    r->size = (uint64_t)st.st_size;
    int rc = read_header(r, err);
    if (rc) {
        trace_close(r);
        return rc;
    }
    *out = r;
    return E2_OK;
}

const struct trace_header *trace_reader_header(const struct trace_reader *r) { return &r->h; }
const struct trace_result *trace_reader_result(const struct trace_reader *r) { return &r->result; }
struct trace_totals trace_reader_totals(const struct trace_reader *r) { return r->seen; }

uint32_t trace_reader_distinct(const struct trace_reader *r, int stream)
{
    return stream >= 0 && stream < TRACE_STREAMS ? r->s[stream].count : 0;
}

const struct oprec *trace_reader_record(const struct trace_reader *r, int stream, uint32_t index)
{
    if (stream < 0 || stream >= TRACE_STREAMS || index >= r->s[stream].count)
        return NULL;
    return &r->s[stream].recs[index];
}

static int grow(void **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 1;
    void *q = realloc(*p, need);
    if (!q)
        return 0;
    *p = q;
    *cap = need;
    return 1;
}

static int read_block(struct trace_reader *r, const unsigned char tag_and_stream[2],
                      struct e2_err *err)
{
    uint64_t at = r->pos - 2;
    unsigned char head[BLOCK_HEAD];
    memcpy(head, tag_and_stream, 2);
    int rc = read_exact(r, head + 2, BLOCK_HEAD - 2, err, "block header");
    if (rc)
        return rc;
    uint32_t raw_len = (uint32_t)le_load(head + 2, 4);
    uint32_t comp_len = (uint32_t)le_load(head + 6, 4);
    uint32_t items = (uint32_t)le_load(head + 10, 4);
    uint32_t want = (uint32_t)le_load(head + 14, 4);
    if (head[1] >= TRACE_STREAMS || raw_len == 0 || raw_len > BLOCK_RAW_MAX ||
        comp_len > compressBound(BLOCK_RAW_MAX) || comp_len > r->size - r->pos)
        return bad(r, err, at, "bad block header (corrupt or truncated file)");
    if (!grow((void **)&r->comp, &r->comp_cap, comp_len) ||
        !grow((void **)&r->raw, &r->raw_cap, raw_len))
        return e2_fail(err, E2_FAILURE, "%s: out of memory", r->path);
    rc = read_exact(r, r->comp, comp_len, err, "block");
    if (rc)
        return rc;
    uLong crc = crc32(crc32(0L, Z_NULL, 0), head, 14);
    crc = crc32(crc, r->comp, comp_len);
    if ((uint32_t)crc != want) {
        char msg[160];
        snprintf(msg, sizeof msg, "block checksum mismatch (corrupt data in bytes %llu..%llu)",
                 (unsigned long long)at, (unsigned long long)(r->pos - 1));
        return bad(r, err, at, msg);
    }
    uLongf got = raw_len;
    if (uncompress(r->raw, &got, r->comp, comp_len) != Z_OK || got != raw_len)
        return bad(r, err, at, "block does not inflate to its stated size");
    r->raw_len = raw_len;
    r->raw_pos = 0;
    r->items_left = items;
    r->stream = head[1];
    r->block_at = at;
    r->seen.blocks[r->stream]++;
    return E2_OK;
}

static int read_trailer(struct trace_reader *r, struct e2_err *err)
{
    uint64_t at = r->pos - 1;
    unsigned char lenb[4];
    int rc = read_exact(r, lenb, 4, err, "trailer");
    if (rc)
        return rc;
    uint32_t len = (uint32_t)le_load(lenb, 4);
    if (len > TRAILER_MAX || (uint64_t)len + 12 > r->size - r->pos)
        return bad(r, err, at, "bad trailer length (corrupt or truncated file)");
    unsigned char *buf = malloc(5 + (size_t)len + 12);
    if (!buf)
        return e2_fail(err, E2_FAILURE, "%s: out of memory", r->path);
    buf[0] = 'T';
    memcpy(buf + 1, lenb, 4);
    rc = read_exact(r, buf + 5, (size_t)len + 12, err, "trailer");
    if (rc) {
        free(buf);
        return rc;
    }
    uint32_t want = (uint32_t)le_load(buf + 5 + len, 4);
    int crc_ok = (uint32_t)crc32(crc32(0L, Z_NULL, 0), buf, 5 + len) == want;
    int magic_ok = memcmp(buf + 5 + len + 4, end_magic, 8) == 0;
    struct cursor c = {buf + 5, buf + 5 + len, 1};
    struct trace_totals t;
    memset(&t, 0, sizeof t);
    for (int s = 0; s < TRACE_STREAMS; s++) {
        t.entries[s] = get_varint(&c);
        t.ops[s] = get_varint(&c);
        t.distinct[s] = (uint32_t)get_varint(&c);
        t.blocks[s] = (uint32_t)get_varint(&c);
    }
    t.marks = get_varint(&c);
    struct trace_result *res = &r->result;
    res->has_accuracy = (int)get_varint(&c);
    res->top1 = get_f64(&c);
    res->top5 = get_f64(&c);
    res->iterations = get_varint(&c);
    res->minibatches_processed = get_varint(&c);
    res->slu_skip_ratio = get_f64(&c);
    res->psg_predictor_ratio = get_f64(&c);
    uint64_t blocks = get_varint(&c);
    if (blocks > TRACE_MAX_BLOCKS)
        c.ok = 0;
    res->slu_blocks = c.ok ? (int)blocks : 0;
    for (int i = 0; c.ok && i < res->slu_blocks; i++)
        res->slu_block_skip[i] = get_f64(&c);
    res->wall_seconds = get_f64(&c);
    free(buf);
    if (!crc_ok)
        return bad(r, err, at, "trailer checksum mismatch (corrupt trailer)");
    if (!magic_ok)
        return bad(r, err, r->pos - 8, "bad end marker after the trailer");
    if (!c.ok)
        return bad(r, err, at, "malformed trailer fields");
    if (r->pos != r->size)
        return bad(r, err, r->pos, "unexpected data after the trailer");
    for (int s = 0; s < TRACE_STREAMS; s++)
        if (t.entries[s] != r->seen.entries[s] || t.ops[s] != r->seen.ops[s] ||
            t.distinct[s] != r->seen.distinct[s] || t.blocks[s] != r->seen.blocks[s])
            return bad(r, err, at, "trailer totals do not match the records read (blocks missing)");
    if (t.marks != r->seen.marks)
        return bad(r, err, at, "trailer mark count does not match the marks read");
    r->done = 1;
    return E2_OK;
}

/* The stream's executions stay countable: pricing multiplies them into 64-bit counters. */
static int repeat_ok(const struct trace_reader *r, uint64_t repeat)
{
    return repeat <= TRACE_MAX_OPS && r->seen.ops[r->stream] <= TRACE_MAX_OPS - repeat;
}

/* e = an op entry of the current stream (index and repeat checked by the caller). */
static void op_entry(struct trace_reader *r, struct trace_entry *e, uint64_t index,
                     uint64_t repeat)
{
    e->type = TRACE_OP;
    e->stream = r->stream;
    e->index = (uint32_t)index;
    e->rec = &r->s[r->stream].recs[index];
    e->repeat = repeat;
    r->seen.entries[r->stream]++;
    r->seen.ops[r->stream] += repeat;
}

/* Decode one item of the current block into e; *returned = 1 when e is an op or mark. */
static int decode_item(struct trace_reader *r, struct trace_entry *e, int *returned,
                       struct e2_err *err)
{
    struct cursor c = {r->raw + r->raw_pos, r->raw + r->raw_len, 1};
    struct rstream *s = &r->s[r->stream];
    *returned = 0;
    uint64_t code = get_varint(&c);
    if (code == 0) {
        uint64_t kind = get_varint(&c);
        if (kind == ESC_DEFINE) {
            uint64_t f[OPREC_FIELD_COUNT];
            for (int i = 0; i < OPREC_FIELD_COUNT; i++)
                f[i] = get_varint(&c);
            struct oprec rec;
            char why[160], msg[200];
            if (!c.ok || oprec_from_fields(f, &rec) != 0)
                return bad(r, err, r->block_at, "malformed record definition in block");
            if (trace_record_check(&rec, why, sizeof why)) {
                snprintf(msg, sizeof msg, "invalid op record %u of stream %d: %s", s->count,
                         r->stream, why);
                return bad(r, err, r->block_at, msg);
            }
            if (s->count == s->cap) {
                size_t cap = s->cap ? (size_t)s->cap * 2 : 256, bytes = cap * sizeof *s->recs;
                size_t have = (size_t)s->cap * sizeof *s->recs;
                if (!grow((void **)&s->recs, &have, bytes))
                    return e2_fail(err, E2_FAILURE, "%s: out of memory", r->path);
                s->cap = (uint32_t)cap;
            }
            s->recs[s->count++] = rec;
            r->seen.distinct[r->stream] = s->count;
        } else if (kind == ESC_MARK && r->stream == TRACE_RUN) {
            e->type = TRACE_MARK;
            e->iteration = get_varint(&c);
            e->train_loss = get_f64(&c);
            e->test_top1 = get_f64(&c);
            r->seen.marks++;
            *returned = 1;
        } else {
            return bad(r, err, r->block_at, "unknown item in block");
        }
    } else {
        uint64_t index = (code - 1) >> 1;
        uint64_t repeat = (code - 1) & 1 ? get_varint(&c) + 2 : 1;
        if (index >= s->count)
            return bad(r, err, r->block_at, "record index out of range in block");
        if (c.ok && !repeat_ok(r, repeat))
            return bad(r, err, r->block_at, "repeat count too large: the stream would count "
                                            "more than 2^48 executions");
        op_entry(r, e, index, repeat);
        *returned = 1;
    }
    if (!c.ok)
        return bad(r, err, r->block_at, "block ends inside an item");
    r->raw_pos = (size_t)(c.p - r->raw);
    r->items_left--;
    return E2_OK;
}

/* Read a varint from p (at most end); returns bytes used, 0 if it does not end in time. */
static inline size_t varint_at(const unsigned char *p, const unsigned char *end, uint64_t *v)
{
    uint64_t x = 0;
    for (size_t i = 0; i < 10 && p + i < end; i++) {
        x |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *v = x;
            return i + 1;
        }
    }
    return 0;
}

/* The common case, an op item, without the general decoder (0 = let decode_item handle it). */
static int fast_op(struct trace_reader *r, struct trace_entry *e)
{
    const unsigned char *p = r->raw + r->raw_pos, *end = r->raw + r->raw_len;
    uint64_t code, repeat = 1;
    size_t used = varint_at(p, end, &code);
    if (used == 0 || code == 0)
        return 0;
    if ((code - 1) & 1) {
        size_t more = varint_at(p + used, end, &repeat);
        if (more == 0)
            return 0;
        used += more;
        repeat += 2;
    }
    uint64_t index = (code - 1) >> 1;
    struct rstream *s = &r->s[r->stream];
    if (index >= s->count || !repeat_ok(r, repeat))
        return 0;
    op_entry(r, e, index, repeat);
    r->raw_pos += used;
    r->items_left--;
    return 1;
}

int trace_next(struct trace_reader *r, struct trace_entry *e, struct e2_err *err)
{
    if (r->items_left > 0 && fast_op(r, e))
        return E2_OK;
    memset(e, 0, sizeof *e);
    for (;;) {
        if (r->done) {
            e->type = TRACE_END;
            return E2_OK;
        }
        if (r->items_left > 0) {
            int returned, rc = decode_item(r, e, &returned, err);
            if (rc)
                return rc;
            if (returned)
                return E2_OK;
            continue;
        }
        if (r->raw_pos != r->raw_len)
            return bad(r, err, r->block_at, "block has bytes after its last item");
        unsigned char tag[2];
        if (r->pos == r->size)
            return bad(r, err, r->pos, "truncated: no trailer (the run did not finish writing "
                                       "its trace)");
        int rc = read_exact(r, tag, 1, err, "block tag");
        if (rc)
            return rc;
        if (tag[0] == 'T') {
            rc = read_trailer(r, err);
            if (rc)
                return rc;
            continue;
        }
        if (tag[0] != 'B') {
            char msg[64];
            snprintf(msg, sizeof msg, "unknown block tag 0x%02x (corrupt file)", tag[0]);
            return bad(r, err, r->pos - 1, msg);
        }
        rc = read_exact(r, tag + 1, 1, err, "block header");
        if (rc)
            return rc;
        rc = read_block(r, tag, err);
        if (rc)
            return rc;
    }
}

void trace_close(struct trace_reader *r)
{
    if (!r)
        return;
    if (r->f)
        fclose(r->f);
    for (int i = 0; i < TRACE_STREAMS; i++)
        free(r->s[i].recs);
    free(r->config_text);
    free(r->layers);
    free(r->raw);
    free(r->comp);
    free(r->path);
    free(r);
}
