/* Checkpoint container: named sections, crc32 per section and over the file, atomic writes. */
#include "checkpoint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "outdir.h"

static const char CKPT_MAGIC[8] = {'E', '2', 'C', 'K', 'P', 'T', '\r', '\n'};

void ckpt_init(struct ckpt *c)
{
    memset(c, 0, sizeof *c);
}

void ckpt_free(struct ckpt *c)
{
    for (int i = 0; i < c->n; i++)
        free(c->s[i].data);
    free(c->s);
    ckpt_init(c);
}

static struct ckpt_section *find(const struct ckpt *c, const char *name)
{
    for (int i = 0; i < c->n; i++)
        if (strncmp(c->s[i].name, name, CKPT_NAME_MAX) == 0)
            return &c->s[i];
    return NULL;
}

int ckpt_put(struct ckpt *c, const char *name, const void *data, size_t size)
{
    if (!name[0] || strlen(name) >= CKPT_NAME_MAX || find(c, name))
        return -1;
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 16;
        struct ckpt_section *s = realloc(c->s, (size_t)cap * sizeof *s);
        if (!s)
            return -1;
        c->s = s;
        c->cap = cap;
    }
    void *copy = malloc(size ? size : 1);
    if (!copy)
        return -1;
    if (size)
        memcpy(copy, data, size);
    struct ckpt_section *s = &c->s[c->n++];
    memset(s->name, 0, sizeof s->name);
    strcpy(s->name, name);
    s->size = size;
    s->data = copy;
    return 0;
}

const void *ckpt_get(const struct ckpt *c, const char *name, size_t *size)
{
    const struct ckpt_section *s = find(c, name);
    if (!s)
        return NULL;
    if (size)
        *size = (size_t)s->size;
    return s->data;
}

int ckpt_take(const struct ckpt *c, const char *path, const char *name, void *dst, size_t size,
              struct e2_err *err)
{
    size_t have = 0;
    const void *p = ckpt_get(c, name, &have);
    if (!p)
        return e2_fail(err, E2_BAD_INPUT, "%s: checkpoint has no section '%s'", path, name);
    if (have != size)
        return e2_fail(err, E2_BAD_INPUT,
                       "%s: checkpoint section '%s' holds %zu bytes, this run needs %zu "
                       "(was it written by another network or config?)", path, name, have, size);
    memcpy(dst, p, size);
    return E2_OK;
}

/* Little-endian stores and loads, so files move between machines. */
static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* zlib's crc32 takes uInt lengths: feed big buffers in pieces. */
static uint32_t crc_of(const unsigned char *p, size_t len)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    while (len > 0) {
        uInt piece = len > (1u << 30) ? (1u << 30) : (uInt)len;
        crc = crc32(crc, p, piece);
        p += piece;
        len -= piece;
    }
    return (uint32_t)crc;
}

#define HEADER_BYTES 16
#define SECTION_HEAD_BYTES (CKPT_NAME_MAX + 8 + 4)

int ckpt_serialize(const struct ckpt *c, unsigned char **buf, size_t *len)
{
    size_t total = HEADER_BYTES + 4;
    for (int i = 0; i < c->n; i++)
        total += SECTION_HEAD_BYTES + (size_t)c->s[i].size;
    unsigned char *b = malloc(total);
    if (!b)
        return -1;
    unsigned char *p = b;
    memcpy(p, CKPT_MAGIC, 8);
    put_u32(p + 8, CKPT_VERSION);
    put_u32(p + 12, (uint32_t)c->n);
    p += HEADER_BYTES;
    for (int i = 0; i < c->n; i++) {
        const struct ckpt_section *s = &c->s[i];
        memcpy(p, s->name, CKPT_NAME_MAX);
        put_u64(p + CKPT_NAME_MAX, s->size);
        put_u32(p + CKPT_NAME_MAX + 8, crc_of(s->data, (size_t)s->size));
        p += SECTION_HEAD_BYTES;
        memcpy(p, s->data, (size_t)s->size);
        p += s->size;
    }
    put_u32(p, crc_of(b, (size_t)(p - b)));
    *buf = b;
    *len = total;
    return 0;
}

int ckpt_parse(const unsigned char *buf, size_t len, const char *path, struct ckpt *c,
               struct e2_err *err)
{
    ckpt_init(c);
    if (len < HEADER_BYTES + 4)
        return e2_fail(err, E2_BAD_INPUT, "%s: offset %zu: checkpoint truncated (%zu bytes, "
                       "a header needs %d)", path, len, len, HEADER_BYTES + 4);
    if (memcmp(buf, CKPT_MAGIC, 8) != 0)
        return e2_fail(err, E2_BAD_INPUT, "%s: offset 0: not an e2sim checkpoint (bad magic)",
                       path);
    uint32_t version = get_u32(buf + 8);
    if (version != CKPT_VERSION)
        return e2_fail(err, E2_BAD_INPUT, "%s: offset 8: checkpoint version %u, this e2sim "
                       "reads version %d", path, version, CKPT_VERSION);
    uint32_t nsec = get_u32(buf + 12);
    if (nsec > CKPT_MAX_SECTIONS)
        return e2_fail(err, E2_BAD_INPUT, "%s: offset 12: %u sections, a checkpoint has at most "
                       "%d", path, nsec, CKPT_MAX_SECTIONS);
    size_t off = HEADER_BYTES;
    for (uint32_t i = 0; i < nsec; i++) {
        if (len - 4 < off || len - 4 - off < SECTION_HEAD_BYTES) {
            ckpt_free(c);
            return e2_fail(err, E2_BAD_INPUT, "%s: offset %zu: checkpoint truncated in the "
                           "header of section %u of %u", path, off, i + 1, nsec);
        }
        char name[CKPT_NAME_MAX + 1] = {0};
        memcpy(name, buf + off, CKPT_NAME_MAX);
        uint64_t size = get_u64(buf + off + CKPT_NAME_MAX);
        uint32_t crc = get_u32(buf + off + CKPT_NAME_MAX + 8);
        size_t data_off = off + SECTION_HEAD_BYTES;
        if (size > (uint64_t)(len - 4 - data_off)) {
            ckpt_free(c);
            return e2_fail(err, E2_BAD_INPUT, "%s: offset %zu: checkpoint truncated: section "
                           "'%s' claims %llu bytes, %zu remain", path, off, name,
                           (unsigned long long)size, len - 4 - data_off);
        }
        if (crc_of(buf + data_off, (size_t)size) != crc) {
            ckpt_free(c);
            return e2_fail(err, E2_BAD_INPUT, "%s: offset %zu: checksum mismatch in section "
                           "'%s' (%llu bytes): the checkpoint is corrupt", path, data_off, name,
                           (unsigned long long)size);
        }
        if (ckpt_put(c, name, buf + data_off, (size_t)size) != 0) {
            ckpt_free(c);
            return e2_fail(err, E2_BAD_INPUT, "%s: offset %zu: bad or duplicate section name "
                           "'%s' (or out of memory)", path, off, name);
        }
        off = data_off + (size_t)size;
    }
    if (off + 4 != len) {
        ckpt_free(c);
        return e2_fail(err, E2_BAD_INPUT, "%s: offset %zu: %zu unexpected bytes after the "
                       "last section", path, off, len - off - 4);
    }
    if (crc_of(buf, off) != get_u32(buf + off)) {
        ckpt_free(c);
        return e2_fail(err, E2_BAD_INPUT, "%s: offset %zu: file checksum mismatch: the "
                       "checkpoint is corrupt", path, off);
    }
    return E2_OK;
}

int ckpt_write(const struct ckpt *c, const char *path, struct e2_err *err)
{
    unsigned char *buf;
    size_t len;
    if (ckpt_serialize(c, &buf, &len) != 0)
        return e2_fail(err, E2_FAILURE, "%s: out of memory serializing the checkpoint", path);
    int rc = out_write_atomic(path, buf, len, err);
    free(buf);
    return rc;
}

int ckpt_read(const char *path, struct ckpt *c, struct e2_err *err)
{
    ckpt_init(c);
    struct stat st;   /* before opening: opening a FIFO would wait for a writer */
    if (stat(path, &st) != 0)
        return e2_fail(err, E2_BAD_INPUT, "%s: cannot open checkpoint: %s", path,
                       strerror(errno));
    if (!S_ISREG(st.st_mode))
        return e2_fail(err, E2_BAD_INPUT, "%s: the checkpoint is not a regular file", path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return e2_fail(err, E2_BAD_INPUT, "%s: cannot open checkpoint: %s", path,
                       strerror(errno));
    size_t cap = 1 << 20, len = 0;
    unsigned char *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap)
            break;
        unsigned char *bigger = realloc(buf, cap * 2);
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    int read_error = ferror(f) ? errno : 0;
    fclose(f);
    if (!buf)
        return e2_fail(err, E2_FAILURE, "%s: out of memory reading the checkpoint", path);
    if (read_error) {
        free(buf);
        return e2_fail(err, E2_FAILURE, "%s: cannot read the checkpoint: %s", path,
                       strerror(read_error));
    }
    int rc = ckpt_parse(buf, len, path, c, err);
    free(buf);
    return rc;
}
