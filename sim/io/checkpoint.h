/* Checkpoints: a versioned, checksummed container of named binary sections, written atomically.
 *
 * The container knows nothing about training; sim/run/train.c decides which sections a run stores
 * (weights, momentum, BN running statistics, SWA state, gate parameters, the iteration, ledger
 * counters...). Everything random in e2sim is counter-based (kernels/rng.h, keyed by seed and
 * iteration), so the iteration number is the whole RNG position.
 *
 * File layout (little-endian, see docs/training.md):
 *   "E2CKPT\r\n"                      8 bytes magic
 *   u32 version, u32 section count
 *   per section: char name[24] (NUL-padded), u64 size, u32 crc32(data), data[size]
 *   u32 crc32 of every byte before it
 * A truncated file, a wrong magic or version, or a checksum mismatch is E2_BAD_INPUT with the
 * file name and the byte offset of the fault. */
#ifndef E2_CHECKPOINT_H
#define E2_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>
#include "status.h"

#define CKPT_VERSION 1
#define CKPT_NAME_MAX 24
#define CKPT_MAX_SECTIONS 1024   /* a run writes a few dozen; the reader refuses more */

struct ckpt_section {
    char name[CKPT_NAME_MAX];
    uint64_t size;
    void *data;
};

struct ckpt {
    int n, cap;
    struct ckpt_section *s;
};

/* An empty checkpoint (zero it or call ckpt_init). */
void ckpt_init(struct ckpt *c);
void ckpt_free(struct ckpt *c);

/* Copy `size` bytes into a new section (names must be unique, < CKPT_NAME_MAX chars).
 * Returns 0, or -1 when out of memory or the name is bad or taken. */
int ckpt_put(struct ckpt *c, const char *name, const void *data, size_t size);

/* The section's bytes and size, or NULL when there is none. */
const void *ckpt_get(const struct ckpt *c, const char *name, size_t *size);

/* Copy section `name` into dst, which must be exactly `size` bytes: a missing section or a size
 * mismatch is E2_BAD_INPUT naming `path` (the file it came from, for the message). */
int ckpt_take(const struct ckpt *c, const char *path, const char *name, void *dst, size_t size,
              struct e2_err *err);

/* Serialize to `path` atomically (temporary file in the same folder, fsync, rename). */
int ckpt_write(const struct ckpt *c, const char *path, struct e2_err *err);

/* Parse and verify `path` into c (initialized by this call). On failure c is left empty. */
int ckpt_read(const char *path, struct ckpt *c, struct e2_err *err);

/* The same two on memory buffers (ckpt_write/ckpt_read use them; tests use them directly).
 * ckpt_serialize mallocs *buf. ckpt_parse names `path` in its messages. */
int ckpt_serialize(const struct ckpt *c, unsigned char **buf, size_t *len);
int ckpt_parse(const unsigned char *buf, size_t len, const char *path, struct ckpt *c,
               struct e2_err *err);

#endif
