/* What the trace writer and reader share of the byte format (traces/FORMAT.md). Internal to
 * trace_write.c and trace_read.c. */
#ifndef E2_TRACE_FORMAT_H
#define E2_TRACE_FORMAT_H

#include <stdint.h>

static const char header_magic[8] = {'E', '2', 'T', 'R', 'A', 'C', 'E', '\n'};
static const char end_magic[8] = {'E', '2', 'T', 'E', 'N', 'D', '\n', '\0'};

#define BLOCK_FLUSH (256u * 1024u)      /* writer closes a block past this many raw bytes */
#define BLOCK_RAW_MAX (1024u * 1024u)   /* reader refuses larger blocks */
#define HEADER_MAX (16u * 1024u * 1024u)
#define TRAILER_MAX (64u * 1024u)
#define BLOCK_HEAD 18                   /* tag, stream, raw_len, comp_len, items, crc */

enum { ESC_DEFINE = 1, ESC_MARK = 2 };

static inline void le_store(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint64_t le_load(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

#endif
