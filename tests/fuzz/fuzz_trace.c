/* Fuzz target: the op-trace reader (sim/io/trace_read.c) and what a replay does with what it reads
 * (sim/run/replay.c: every record priced on the default ZedBoard model, so record fields reach the
 * mapper and the hardware model).
 *
 * Input: byte 0 = flags, then a trace file (traces/FORMAT.md). With flag bit 0 the blocks hold
 * their items uncompressed and every checksum may be wrong: the target deflates each block and
 * recomputes the header, block and trailer CRCs first, so mutations reach the item decoder
 * instead of failing a checksum. */
#include "fuzz.h"

#include <zlib.h>

#include "config.h"
#include "replay.h"
#include "report.h"

struct buf {
    uint8_t *p;
    size_t len, cap;
};

static void put(struct buf *b, const void *data, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = (b->len + n) * 2 + 256;
        uint8_t *p = realloc(b->p, cap);
        if (!p)
            abort();
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static uint32_t crc_of(const uint8_t *p, size_t n)
{
    return (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)n);
}

/* The trace with its blocks deflated and every CRC right (see the top of the file). */
static void rebuild(const uint8_t *in, size_t len, struct buf *out)
{
    size_t off = 0;
    if (len >= 20 && 24 + (size_t)fuzz_u32(in + 16) <= len) {   /* header */
        size_t end = 20 + fuzz_u32(in + 16);
        uint8_t crc[4];
        put(out, in, end);
        fuzz_put_u32(crc, crc_of(in, end));
        put(out, crc, 4);
        off = end + 4;
    }
    while (off < len) {
        if (in[off] == 'B' && off + 18 <= len) {
            size_t raw = fuzz_u32(in + off + 6);
            if (raw > len - off - 18)
                raw = len - off - 18;
            uLongf comp_len = compressBound((uLong)raw);
            uint8_t *block = malloc(18 + comp_len);
            if (!block || compress2(block + 18, &comp_len, in + off + 18, (uLong)raw, 6) != Z_OK)
                abort();
            memcpy(block, in + off, 2);                   /* tag, stream */
            fuzz_put_u32(block + 2, (uint32_t)raw);
            fuzz_put_u32(block + 6, (uint32_t)comp_len);
            memcpy(block + 10, in + off + 10, 4);         /* item count */
            uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), block, 14);
            fuzz_put_u32(block + 14, (uint32_t)crc32(crc, block + 18, (uInt)comp_len));
            put(out, block, 18 + comp_len);
            free(block);
            off += 18 + raw;
        } else if (in[off] == 'T' && off + 5 <= len) {
            size_t payload = fuzz_u32(in + off + 1);
            if (payload > len - off - 5)
                payload = len - off - 5;
            uint8_t head[5], crc[4];
            memcpy(head, in + off, 5);
            fuzz_put_u32(head + 1, (uint32_t)payload);
            put(out, head, 5);
            put(out, in + off + 5, payload);
            uint32_t c = (uint32_t)crc32(crc32(0L, Z_NULL, 0), head, 5);
            fuzz_put_u32(crc, (uint32_t)crc32(c, in + off + 5, (uInt)payload));
            put(out, crc, 4);
            off += 5 + payload + 4;
            if (off < len)
                put(out, in + off, len - off);   /* the end marker */
            break;
        } else {
            put(out, in + off, len - off);
            break;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct e2_config *cfg;
    if (!cfg) {
        cfg = malloc(sizeof *cfg);
        if (!cfg)
            abort();
        cfg_defaults(cfg);
        fuzz_skip_exit_leak_check();
    }
    if (size < 1)
        return 0;
    char path[512];
    if (data[0] & 1) {
        struct buf b = {0};
        rebuild(data + 1, size - 1, &b);
        fuzz_write(path, sizeof path, "trace.e2t", b.p, b.len);
        free(b.p);
    } else {
        fuzz_write(path, sizeof path, "trace.e2t", data + 1, size - 1);
    }
    struct run_result r;
    run_result_init(&r);
    struct e2_err err = {{0}};
    int rc = replay_price(path, &cfg->hw, &r, NULL, &err);
    fuzz_outcome(rc, err.msg);
    if (rc != E2_OK)
        FUZZ_CHECK(err.msg[0] != 0, "rc %d without a message", rc);
    run_result_free(&r);
    return 0;
}
