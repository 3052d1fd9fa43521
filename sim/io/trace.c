/* Op trace writer and reader; the byte format is traces/FORMAT.md. */
#define _POSIX_C_SOURCE 200809L
#include "trace.h"
#include "checkpoint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static const char header_magic[8] = {'E', '2', 'T', 'R', 'A', 'C', 'E', '\n'};
static const char end_magic[8] = {'E', '2', 'T', 'E', 'N', 'D', '\n', '\0'};

#define BLOCK_FLUSH (256u * 1024u)      /* writer closes a block past this many raw bytes */
#define BLOCK_RAW_MAX (1024u * 1024u)   /* reader refuses larger blocks */
#define HEADER_MAX (16u * 1024u * 1024u)
#define TRAILER_MAX (64u * 1024u)
#define BLOCK_HEAD 18                   /* tag, stream, raw_len, comp_len, items, crc */
#define REC_FIELDS 23

enum { ESC_DEFINE = 1, ESC_MARK = 2 };

uint64_t trace_config_hash(const char *text)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)(text ? text : ""); *p; p++) {
        h ^= *p;
        h *= 1099511628211ull;
    }
    return h;
}

/* ---- byte buffers ---------------------------------------------------------------------- */

struct bytes {
    unsigned char *p;
    size_t len, cap;
    int oom;
};

static void put(struct bytes *b, const void *data, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    if (n)   /* data may be NULL for an empty payload, and memcpy(NULL) is undefined */
        memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void put_varint(struct bytes *b, uint64_t v)
{
    unsigned char tmp[10];
    int n = 0;
    do {
        tmp[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v)
            tmp[n] |= 0x80;
        n++;
    } while (v);
    put(b, tmp, (size_t)n);
}

static void le_store(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t le_load(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void put_u32(struct bytes *b, uint32_t v)
{
    unsigned char t[4];
    le_store(t, v, 4);
    put(b, t, 4);
}

static void put_u64(struct bytes *b, uint64_t v)
{
    unsigned char t[8];
    le_store(t, v, 8);
    put(b, t, 8);
}

static void put_f64(struct bytes *b, double d)
{
    uint64_t v;
    memcpy(&v, &d, 8);
    put_u64(b, v);
}

static void put_str(struct bytes *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    put_varint(b, n);
    put(b, s, n);
}

/* The record's fields in the order FORMAT.md lists them. */
static void record_fields(const struct oprec *r, uint64_t f[REC_FIELDS])
{
    uint64_t v[REC_FIELDS] = {r->layer, r->kind, r->phase, r->tech, r->k, r->stride, r->pad, r->n,
                              r->cin, r->cout, r->groups, r->h_in, r->w_in, r->h_out, r->w_out,
                              r->bits_a, r->bits_b, r->bits_out, r->bits_acc, r->msb_a, r->msb_b,
                              r->psg_full_q16, 0};
    memcpy(f, v, sizeof v);
}

/* Inverse of record_fields; 0 when a value does not fit its field. */
static int record_from_fields(const uint64_t f[REC_FIELDS], struct oprec *r)
{
    static const uint64_t max[REC_FIELDS] = {
        0xffff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xffffffffu, 0xffff, 0xffff, 0xffff, 0xffff,
        0xffff, 0xffff, 0xffff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xffff, 0};
    for (int i = 0; i < REC_FIELDS; i++)
        if (f[i] > max[i])
            return 0;
    memset(r, 0, sizeof *r);
    r->layer = (uint16_t)f[0];
    r->kind = (uint8_t)f[1];
    r->phase = (uint8_t)f[2];
    r->tech = (uint8_t)f[3];
    r->k = (uint8_t)f[4];
    r->stride = (uint8_t)f[5];
    r->pad = (uint8_t)f[6];
    r->n = (uint32_t)f[7];
    r->cin = (uint16_t)f[8];
    r->cout = (uint16_t)f[9];
    r->groups = (uint16_t)f[10];
    r->h_in = (uint16_t)f[11];
    r->w_in = (uint16_t)f[12];
    r->h_out = (uint16_t)f[13];
    r->w_out = (uint16_t)f[14];
    r->bits_a = (uint8_t)f[15];
    r->bits_b = (uint8_t)f[16];
    r->bits_out = (uint8_t)f[17];
    r->bits_acc = (uint8_t)f[18];
    r->msb_a = (uint8_t)f[19];
    r->msb_b = (uint8_t)f[20];
    r->psg_full_q16 = (uint16_t)f[21];
    return 1;
}

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

/* The record's 22 stored fields (the 23rd slot is reserved and always 0). */
#define REC_STORED 22

/* ---- writer ---------------------------------------------------------------------------- */

struct wstream {
    /* dictionary: records by index, and an open-addressing table of index + 1 (0 = empty) */
    struct oprec *recs;
    uint32_t count, cap;
    uint32_t *slots;
    uint32_t nslots;
    struct bytes raw;           /* the block being filled */
    uint32_t items;
    int pending;                /* an op entry waiting for more repeats */
    uint32_t pend_index;
    uint64_t pend_repeat;
};

struct trace_writer {
    FILE *f;
    char *path, *tmp;
    struct wstream s[TRACE_STREAMS];
    struct trace_totals tot;
    uint64_t offset;            /* bytes written to tmp */
    uint32_t crc;               /* CRC-32 of those bytes (a resume checks the file against it) */
    int failed;
    struct e2_err err;
};

static uint64_t record_hash(const struct oprec *r)
{
    uint64_t f[REC_FIELDS], h = 1469598103934665603ull;
    record_fields(r, f);
    for (int i = 0; i < REC_STORED; i++) {
        h ^= f[i];
        h *= 1099511628211ull;
        h ^= h >> 29;
    }
    return h;
}

static int record_equal(const struct oprec *a, const struct oprec *b)
{
    uint64_t fa[REC_FIELDS], fb[REC_FIELDS];
    record_fields(a, fa);
    record_fields(b, fb);
    return memcmp(fa, fb, sizeof fa) == 0;
}

static void writer_fail(struct trace_writer *t, const char *what)
{
    if (!t->failed)
        e2_fail(&t->err, E2_FAILURE, "%s: %s", t->path, what);
    t->failed = 1;
}

static int dict_grow(struct wstream *s)
{
    uint32_t nslots = s->nslots ? s->nslots * 2 : 1024;
    uint32_t *slots = calloc(nslots, sizeof *slots);
    if (!slots)
        return 0;
    for (uint32_t i = 0; i < s->count; i++) {
        uint32_t j = (uint32_t)record_hash(&s->recs[i]) & (nslots - 1);
        while (slots[j])
            j = (j + 1) & (nslots - 1);
        slots[j] = i + 1;
    }
    free(s->slots);
    s->slots = slots;
    s->nslots = nslots;
    return 1;
}

/* Index of r in the stream's dictionary; *is_new when it was just added. -1 on OOM. */
static int64_t dict_index(struct wstream *s, const struct oprec *r, int *is_new)
{
    *is_new = 0;
    if ((uint64_t)(s->count + 1) * 2 > s->nslots && !dict_grow(s))
        return -1;
    uint32_t j = (uint32_t)record_hash(r) & (s->nslots - 1);
    while (s->slots[j]) {
        if (record_equal(&s->recs[s->slots[j] - 1], r))
            return s->slots[j] - 1;
        j = (j + 1) & (s->nslots - 1);
    }
    if (s->count == s->cap) {
        uint32_t cap = s->cap ? s->cap * 2 : 256;
        struct oprec *recs = realloc(s->recs, cap * sizeof *recs);
        if (!recs)
            return -1;
        s->recs = recs;
        s->cap = cap;
    }
    s->recs[s->count] = *r;
    s->slots[j] = s->count + 1;
    *is_new = 1;
    return s->count++;
}

static void write_bytes(struct trace_writer *t, const void *p, size_t n)
{
    if (!t->failed && fwrite(p, 1, n, t->f) != n)
        writer_fail(t, strerror(errno));
    t->crc = (uint32_t)crc32(t->crc, p, (uInt)n);
    t->offset += n;
}

static void flush_block(struct trace_writer *t, int stream)
{
    struct wstream *s = &t->s[stream];
    if (s->raw.len == 0 || t->failed)
        return;
    if (s->raw.oom) {
        writer_fail(t, "out of memory");
        return;
    }
    uLongf comp_len = compressBound((uLong)s->raw.len);
    unsigned char *comp = malloc(BLOCK_HEAD + comp_len);
    if (!comp) {
        writer_fail(t, "out of memory");
        return;
    }
    if (compress2(comp + BLOCK_HEAD, &comp_len, s->raw.p, (uLong)s->raw.len, 6) != Z_OK) {
        free(comp);
        writer_fail(t, "deflate failed");
        return;
    }
    comp[0] = 'B';
    comp[1] = (unsigned char)stream;
    le_store(comp + 2, s->raw.len, 4);
    le_store(comp + 6, comp_len, 4);
    le_store(comp + 10, s->items, 4);
    uLong crc = crc32(0L, comp, 14);
    crc = crc32(crc, comp + BLOCK_HEAD, (uInt)comp_len);
    le_store(comp + 14, crc, 4);
    write_bytes(t, comp, BLOCK_HEAD + comp_len);
    free(comp);
    s->raw.len = 0;
    s->items = 0;
    t->tot.blocks[stream]++;
}

static void flush_pending(struct trace_writer *t, int stream)
{
    struct wstream *s = &t->s[stream];
    if (!s->pending)
        return;
    int many = s->pend_repeat > 1;
    put_varint(&s->raw, 1 + ((uint64_t)s->pend_index << 1 | (uint64_t)many));
    if (many)
        put_varint(&s->raw, s->pend_repeat - 2);
    s->items++;
    s->pending = 0;
    t->tot.entries[stream]++;
    if (s->raw.len >= BLOCK_FLUSH)
        flush_block(t, stream);
}

/* A writer for `path` whose bytes go to `tmp` (not opened yet). */
static struct trace_writer *new_writer(const char *path, const char *tmp)
{
    struct trace_writer *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->path = strdup(path);
    t->tmp = strdup(tmp);
    t->crc = (uint32_t)crc32(0L, Z_NULL, 0);
    if (!t->path || !t->tmp) {
        trace_abort(t);
        return NULL;
    }
    return t;
}

int trace_create(const char *path, const struct trace_header *h, struct trace_writer **out,
                 struct e2_err *err)
{
    *out = NULL;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    struct trace_writer *t = new_writer(path, tmp);
    if (!t)
        return e2_fail(err, E2_FAILURE, "%s: out of memory", path);
    t->f = fopen(t->tmp, "wb");
    if (!t->f) {
        int e = errno;
        trace_abort(t);
        return e2_fail(err, E2_FAILURE, "%s: cannot create: %s", path, strerror(e));
    }
    struct bytes payload = {0}, head = {0};
    put_str(&payload, h->network);
    put_str(&payload, h->dataset);
    put_u64(&payload, h->config_hash);
    put_str(&payload, h->config_text);
    put_varint(&payload, (uint64_t)(h->layer_count > 0 ? h->layer_count : 0));
    for (int i = 0; i < h->layer_count; i++) {
        put_varint(&payload, h->layers[i].id);
        put_str(&payload, h->layers[i].name);
        put_str(&payload, h->layers[i].kind);
    }
    put(&head, header_magic, 8);
    put_u32(&head, TRACE_FORMAT_VERSION);
    put_u32(&head, OPREC_VERSION);
    put_u32(&head, (uint32_t)payload.len);
    put(&head, payload.p, payload.len);
    put_u32(&head, (uint32_t)crc32(crc32(0L, Z_NULL, 0), head.p, (uInt)head.len));
    if (payload.oom || head.oom)
        writer_fail(t, "out of memory");
    write_bytes(t, head.p, head.len);
    free(payload.p);
    free(head.p);
    if (t->failed) {
        e2_fail(err, E2_FAILURE, "%s", t->err.msg);
        trace_abort(t);
        return E2_FAILURE;
    }
    *out = t;
    return E2_OK;
}

void trace_add(struct trace_writer *t, int stream, const struct oprec *r, uint64_t repeat)
{
    if (!t || repeat == 0 || stream < 0 || stream >= TRACE_STREAMS || t->failed)
        return;
    struct wstream *s = &t->s[stream];
    int is_new;
    int64_t idx = dict_index(s, r, &is_new);
    if (idx < 0) {
        writer_fail(t, "out of memory");
        return;
    }
    t->tot.ops[stream] += repeat;
    if (s->pending && s->pend_index == (uint32_t)idx) {
        s->pend_repeat += repeat;
        return;
    }
    flush_pending(t, stream);
    if (is_new) {
        uint64_t f[REC_FIELDS];
        record_fields(r, f);
        put_varint(&s->raw, 0);
        put_varint(&s->raw, ESC_DEFINE);
        for (int i = 0; i < REC_STORED; i++)
            put_varint(&s->raw, f[i]);
        s->items++;
        t->tot.distinct[stream] = s->count;
    }
    s->pending = 1;
    s->pend_index = (uint32_t)idx;
    s->pend_repeat = repeat;
}

void trace_mark(struct trace_writer *t, uint64_t iteration, double train_loss, double test_top1)
{
    if (!t || t->failed)
        return;
    struct wstream *s = &t->s[TRACE_RUN];
    flush_pending(t, TRACE_RUN);
    put_varint(&s->raw, 0);
    put_varint(&s->raw, ESC_MARK);
    put_varint(&s->raw, iteration);
    put_f64(&s->raw, train_loss);
    put_f64(&s->raw, test_top1);
    s->items++;
    t->tot.marks++;
}

static void emit_run(void *ctx, const struct oprec *r) { trace_add(ctx, TRACE_RUN, r, 1); }
static void emit_baseline(void *ctx, const struct oprec *r) { trace_add(ctx, TRACE_BASELINE, r, 1); }

struct op_sink trace_sink(struct trace_writer *t, int stream)
{
    struct op_sink s = {stream == TRACE_BASELINE ? emit_baseline : emit_run, t};
    return s;
}

struct trace_totals trace_writer_totals(const struct trace_writer *t)
{
    return t->tot;
}

static void free_writer(struct trace_writer *t)
{
    for (int i = 0; i < TRACE_STREAMS; i++) {
        free(t->s[i].recs);
        free(t->s[i].slots);
        free(t->s[i].raw.p);
    }
    free(t->path);
    free(t->tmp);
    free(t);
}

void trace_abort(struct trace_writer *t)
{
    if (!t)
        return;
    if (t->f) {
        fclose(t->f);
        remove(t->tmp);
    }
    free_writer(t);
}

static void put_result(struct bytes *b, const struct trace_result *res)
{
    struct trace_result none;
    if (!res) {
        memset(&none, 0, sizeof none);
        res = &none;
    }
    int blocks = res->slu_blocks < 0 ? 0 : res->slu_blocks > TRACE_MAX_BLOCKS ? TRACE_MAX_BLOCKS
                                                                               : res->slu_blocks;
    put_varint(b, res->has_accuracy ? 1 : 0);
    put_f64(b, res->top1);
    put_f64(b, res->top5);
    put_varint(b, res->iterations);
    put_varint(b, res->minibatches_processed);
    put_f64(b, res->slu_skip_ratio);
    put_f64(b, res->psg_predictor_ratio);
    put_varint(b, (uint64_t)blocks);
    for (int i = 0; i < blocks; i++)
        put_f64(b, res->slu_block_skip[i]);
    put_f64(b, res->wall_seconds);
}

int trace_finish(struct trace_writer *t, const struct trace_result *res, struct e2_err *err)
{
    for (int s = 0; s < TRACE_STREAMS; s++) {
        flush_pending(t, s);
        flush_block(t, s);
    }
    struct bytes payload = {0}, tail = {0};
    for (int s = 0; s < TRACE_STREAMS; s++) {
        put_varint(&payload, t->tot.entries[s]);
        put_varint(&payload, t->tot.ops[s]);
        put_varint(&payload, t->tot.distinct[s]);
        put_varint(&payload, t->tot.blocks[s]);
    }
    put_varint(&payload, t->tot.marks);
    put_result(&payload, res);
    unsigned char tag = 'T';
    put(&tail, &tag, 1);
    put_u32(&tail, (uint32_t)payload.len);
    put(&tail, payload.p, payload.len);
    put_u32(&tail, (uint32_t)crc32(crc32(0L, Z_NULL, 0), tail.p, (uInt)tail.len));
    put(&tail, end_magic, 8);
    if (payload.oom || tail.oom)
        writer_fail(t, "out of memory");
    write_bytes(t, tail.p, tail.len);
    free(payload.p);
    free(tail.p);
    if (!t->failed && (fflush(t->f) != 0 || fsync(fileno(t->f)) != 0))
        writer_fail(t, strerror(errno));
    if (fclose(t->f) != 0)
        writer_fail(t, strerror(errno));
    t->f = NULL;
    if (!t->failed && rename(t->tmp, t->path) != 0)
        writer_fail(t, strerror(errno));
    int rc = E2_OK;
    if (t->failed) {
        rc = e2_fail(err, E2_FAILURE, "%s", t->err.msg);
        remove(t->tmp);
    }
    free_writer(t);
    return rc;
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
            uint64_t f[REC_FIELDS] = {0};
            for (int i = 0; i < REC_STORED; i++)
                f[i] = get_varint(&c);
            struct oprec rec;
            char why[160], msg[200];
            if (!c.ok || !record_from_fields(f, &rec))
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

/* ---- checkpoint and resume ------------------------------------------------------------- */

/* What a checkpoint keeps of a writer besides its paths and dictionaries. */
struct trace_saved {
    uint64_t offset;
    uint32_t crc, count[TRACE_STREAMS];
    struct trace_totals tot;
};

static const char *const dict_section[TRACE_STREAMS] = {"trace_dict_run", "trace_dict_baseline"};

int trace_save(struct trace_writer *t, struct ckpt *c, struct e2_err *err)
{
    for (int s = 0; s < TRACE_STREAMS; s++) {
        flush_pending(t, s);
        flush_block(t, s);
    }
    if (!t->failed && (fflush(t->f) != 0 || fsync(fileno(t->f)) != 0))
        writer_fail(t, strerror(errno));
    if (t->failed)
        return e2_fail(err, E2_FAILURE, "%s", t->err.msg);
    struct trace_saved st;
    memset(&st, 0, sizeof st);
    st.offset = t->offset;
    st.crc = t->crc;
    st.tot = t->tot;
    int rc = 0;
    for (int s = 0; s < TRACE_STREAMS; s++) {
        st.count[s] = t->s[s].count;
        rc = rc || ckpt_put(c, dict_section[s], t->s[s].recs, sizeof(struct oprec) * t->s[s].count);
    }
    rc = rc || ckpt_put(c, "trace_state", &st, sizeof st) ||
         ckpt_put(c, "trace_path", t->path, strlen(t->path) + 1) ||
         ckpt_put(c, "trace_tmp", t->tmp, strlen(t->tmp) + 1);
    return rc ? e2_fail(err, E2_FAILURE, "%s: out of memory saving the trace state", t->path)
              : E2_OK;
}

/* CRC-32 of the first n bytes of f; -1 if it is shorter. */
static int64_t file_crc(FILE *f, uint64_t n)
{
    unsigned char buf[1 << 16];
    uLong crc = crc32(0L, Z_NULL, 0);
    rewind(f);
    while (n > 0) {
        size_t want = n < sizeof buf ? (size_t)n : sizeof buf;
        if (fread(buf, 1, want, f) != want)
            return -1;
        crc = crc32(crc, buf, (uInt)want);
        n -= want;
    }
    return (int64_t)crc;
}

static int resume_fail(struct trace_writer *t, struct e2_err *err, const char *fmt,
                       const char *a, const char *b)
{
    if (t) {
        if (t->f)
            fclose(t->f);
        t->f = NULL;
        free_writer(t);
    }
    return e2_fail(err, E2_BAD_INPUT, fmt, a, b);
}

int trace_resume(const char *path, const struct ckpt *c, const char *ckpt_path,
                 struct trace_writer **out, struct e2_err *err)
{
    *out = NULL;
    size_t n_state = 0, n_path = 0, n_tmp = 0;
    const struct trace_saved *st = ckpt_get(c, "trace_state", &n_state);
    const char *saved_path = ckpt_get(c, "trace_path", &n_path);
    const char *tmp = ckpt_get(c, "trace_tmp", &n_tmp);
    if (!st || n_state != sizeof *st || !saved_path || !tmp || !n_path || !n_tmp ||
        saved_path[n_path - 1] || tmp[n_tmp - 1])
        return resume_fail(NULL, err, "%s: the run in this folder recorded no trace from its "
                           "start, and a trace must cover the whole run: resume without --trace "
                           "or start a new run%s", ckpt_path, "");
    if (strcmp(saved_path, path) != 0)
        return resume_fail(NULL, err, "--trace %s: the run being resumed records its trace to "
                           "%s; resume with that path", path, saved_path);
    struct trace_writer *t = new_writer(path, tmp);
    if (!t)
        return e2_fail(err, E2_FAILURE, "%s: out of memory", path);
    t->f = fopen(tmp, "r+b");
    if (!t->f)
        return resume_fail(t, err, "%s: the unfinished trace %s is gone (finished, or removed): "
                           "resume without --trace (energy and reports continue, without a "
                           "trace) or start over", path, tmp);
    if (file_crc(t->f, st->offset) != (int64_t)st->crc || fflush(t->f) != 0 ||
        ftruncate(fileno(t->f), (off_t)st->offset) != 0 ||
        fseek(t->f, (long)st->offset, SEEK_SET) != 0)
        return resume_fail(t, err, "%s: the unfinished trace %s does not hold what the "
                           "checkpoint saw (shorter, or changed): start over", path, tmp);
    for (int s = 0; s < TRACE_STREAMS; s++) {
        size_t size = 0;
        const struct oprec *recs = ckpt_get(c, dict_section[s], &size);
        if (size != sizeof *recs * st->count[s] || (st->count[s] && !recs))
            return resume_fail(t, err, "%s: checkpoint %s has a damaged trace dictionary", path,
                               ckpt_path);
        for (uint32_t i = 0; i < st->count[s]; i++) {
            char why[160];
            if (trace_record_check(&recs[i], why, sizeof why))
                return resume_fail(t, err, "%s: checkpoint %s: invalid record in the trace "
                                   "dictionary: %s", ckpt_path, why);
            int is_new = 0;
            if (dict_index(&t->s[s], &recs[i], &is_new) != (int64_t)i || !is_new) {
                trace_abort(t);
                return e2_fail(err, E2_FAILURE, "%s: out of memory (or a damaged dictionary) "
                               "restoring the trace", path);
            }
        }
    }
    t->offset = st->offset;
    t->crc = st->crc;
    t->tot = st->tot;
    *out = t;
    return E2_OK;
}
