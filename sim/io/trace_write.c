/* Op trace writer: records a run's op streams into a file (traces/FORMAT.md), and carries an
 * unfinished trace across a checkpoint and resume. */
#define _POSIX_C_SOURCE 200809L
#include "trace.h"
#include "checkpoint.h"
#include "trace_format.h"
#include "outdir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

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
        uint32_t j = (uint32_t)oprec_hash(&s->recs[i]) & (nslots - 1);
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
    uint32_t j = (uint32_t)oprec_hash(r) & (s->nslots - 1);
    while (s->slots[j]) {
        if (oprec_equal(&s->recs[s->slots[j] - 1], r))
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
    int rc = out_check_target(path, err);   /* the trace is renamed over path at the end */
    if (rc != E2_OK)
        return rc;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    struct trace_writer *t = new_writer(path, tmp);
    if (!t)
        return e2_fail(err, E2_FAILURE, "%s: out of memory", path);
    t->f = fopen(t->tmp, "wb");
    if (!t->f) {
        int e = errno;
        trace_abort(t);
        return e2_fail(err, e2_path_status(e), "%s: cannot create: %s", path, strerror(e));
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
        uint64_t f[OPREC_FIELD_COUNT];
        oprec_to_fields(r, f);
        put_varint(&s->raw, 0);
        put_varint(&s->raw, ESC_DEFINE);
        for (int i = 0; i < OPREC_FIELD_COUNT; i++)
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

/* ---- checkpoint and resume ------------------------------------------------------------- */

/* What a checkpoint keeps of a writer besides its paths and dictionaries. */
struct trace_saved {
    uint64_t offset;
    uint32_t crc, count[TRACE_STREAMS];
    struct trace_totals tot;
};

static const char *const dict_section[TRACE_STREAMS] = {"trace_dict_run", "trace_dict_baseline"};

/* A stream's dictionary as the checkpoint section `name`: its records packed one after another. */
static int put_dictionary(struct ckpt *c, const char *name, const struct wstream *s)
{
    unsigned char *buf = malloc((size_t)s->count * OPREC_PACKED_SIZE + 1);
    if (!buf)
        return -1;
    for (uint32_t i = 0; i < s->count; i++)
        oprec_pack(&s->recs[i], buf + (size_t)i * OPREC_PACKED_SIZE);
    int rc = ckpt_put(c, name, buf, (size_t)s->count * OPREC_PACKED_SIZE);
    free(buf);
    return rc;
}

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
        rc = rc || put_dictionary(c, dict_section[s], &t->s[s]);
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

/* Whether tmp is a name trace_create gives path's unfinished trace: "PATH.tmp.PID". Resuming
 * opens and truncates it, so a checkpoint may not name any other file. */
static int is_trace_tmp(const char *path, const char *tmp)
{
    size_t n = strlen(path);
    if (strncmp(tmp, path, n) != 0 || strncmp(tmp + n, ".tmp.", 5) != 0)
        return 0;
    const char *pid = tmp + n + 5;
    size_t digits = strspn(pid, "0123456789");
    return pid[0] >= '1' && pid[0] <= '9' && digits <= 19 && !pid[digits];
}

/* The checkpoint's dictionary of `stream` into t's, in order: each record valid and new. */
static int restore_dictionary(struct trace_writer *t, int stream, const unsigned char *recs,
                              uint32_t count, const char *ckpt_path, struct e2_err *err)
{
    for (uint32_t i = 0; i < count; i++) {
        char why[160];
        struct oprec rec;
        oprec_unpack(recs + (size_t)i * OPREC_PACKED_SIZE, &rec);
        if (trace_record_check(&rec, why, sizeof why))
            return e2_fail(err, E2_BAD_INPUT, "%s: checkpoint %s: invalid record in the trace "
                           "dictionary: %s", t->path, ckpt_path, why);
        int is_new = 0;
        int64_t index = dict_index(&t->s[stream], &rec, &is_new);
        if (index < 0)
            return e2_fail(err, E2_FAILURE, "%s: out of memory restoring the trace", t->path);
        if (!is_new)   /* the writer never stores a record twice: the checkpoint is damaged */
            return e2_fail(err, E2_BAD_INPUT, "%s: checkpoint %s has a damaged trace "
                           "dictionary (record %u repeats record %lld)", t->path, ckpt_path, i,
                           (long long)index);
    }
    return E2_OK;
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
    if (!is_trace_tmp(path, tmp))
        return resume_fail(NULL, err, "%s: a damaged checkpoint: its unfinished trace is not a "
                           "temporary of %s (PATH.tmp.PID): start over", ckpt_path, path);
    struct trace_writer *t = new_writer(path, tmp);
    if (!t)
        return e2_fail(err, E2_FAILURE, "%s: out of memory", path);
    /* everything the checkpoint says is checked before the file is opened and cut */
    for (int s = 0; s < TRACE_STREAMS; s++) {
        size_t size = 0;
        const unsigned char *recs = ckpt_get(c, dict_section[s], &size);
        if (size != OPREC_PACKED_SIZE * st->count[s] || (st->count[s] && !recs))
            return resume_fail(t, err, "%s: checkpoint %s has a damaged trace dictionary", path,
                               ckpt_path);
        int rc = restore_dictionary(t, s, recs, st->count[s], ckpt_path, err);
        if (rc != E2_OK) {
            free_writer(t);
            return rc;
        }
    }
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
    t->offset = st->offset;
    t->crc = st->crc;
    t->tot = st->tot;
    *out = t;
    return E2_OK;
}
