/* Direct stride-1 convolution for AVX2/FMA: no im2col, no packing of the input.
 *
 * Each sample's input planes are copied once into zero-padded planes of width wp = w + 2*pad.
 * Output pixel (oh, ow) is then given the flat index q = oh*wp + ow, and its input for kernel
 * tap (kh, kw) sits at flat index q + kh*wp + kw of the padded plane: a fixed offset per tap.
 * So a tile of 16 consecutive flat outputs reads 16 consecutive inputs per tap, straight from the
 * padded plane. The flat range includes wp - wo "garbage" columns per row (computed, never
 * stored): 6 % of the work at 32x32, 20 % at 8x8.
 *
 * Forward (and backward-data, which conv.c runs as the forward conv of g_y with transposed,
 * flipped weights): a register tile of MR output channels x 16 flat outputs, accumulated over
 * (input channel, tap) with one broadcast weight per channel and two vector loads per tap.
 *   f32: 6 x 16, FMA.
 *   i16: 4 x 16, _mm256_madd_epi16 on channel PAIRS: the padded planes of channels 2c and 2c+1
 *        are interleaved, so one 32-byte load holds 8 pixels x 2 channels, and a broadcast
 *        int32 holds the two weights; int32 sums, spilled into int64 when the code widths could
 *        overflow them (the same bound as gemm_i16_chunk), so every sum is exact.
 * Backward-weight: gw[co][ci][tap] = sum over samples and flat q of gy[co][q] * x[ci][q + off]
 * (g_y laid out on the same flat grid, zero in the garbage columns): vectors run along q, a tile
 * holds 3 output channels x 3 taps, and the lanes are added up at the end of each sample
 * (f32: in a fixed order, so results depend on the thread count only through the per-thread
 * partial sums, as in the im2col path; i16: exact).
 *
 * Threads take whole samples (forward) or contiguous blocks of samples (backward-weight, with
 * per-thread partial sums reduced in thread order): one parallel region per call.
 * The register tiles come from the dispatch path (cpu.h, conv_tiles.h): the AVX2 ones (float
 * below, integer in conv_avx2_tiles.h), the AVX-VNNI integer ones of conv_avx_vnni.c, or the
 * AVX-512 ones of conv_avx512*.c; this file keeps the geometry, padding, spills and
 * dequantization for all of them. Compiled with target attributes; conv.c calls these only when
 * gemm_cpu_has_avx2() (path avx2 or above). */
#include "conv.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "conv_tiles.h"
#include "cpu.h"
#include "gemm.h"

#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>

#define AVX2_FN __attribute__((target("avx2,fma")))
#define AVX2_INLINE static inline __attribute__((always_inline, target("avx2,fma")))

/* The AVX2 integer tiles (conv_avx2_tiles.h): vpmaddwd + vpaddd. */
#define TILE_FN AVX2_FN
#define TILE_INLINE AVX2_INLINE
#define DOT256(acc, a, b) _mm256_add_epi32((acc), _mm256_madd_epi16((a), (b)))
#define ASM_MUL(X, G, T, A) "vpmaddwd %%ymm" X ", %%ymm" G ", %%ymm" T "\n\t"
#define ASM_ADD(T, A) "vpaddd %%ymm" T ", %%ymm" A ", %%ymm" A "\n\t"
#define TILE_ENTRY AVX2_FN static
#define FWD_I16_TILE fwd_i16_avx2
#define BWW_I16_TILE bww_i16_avx2
#include "conv_avx2_tiles.h"

enum {
    NT = 16,        /* flat outputs per tile: two 8-lane vectors */
    MRF = 6,        /* f32 forward tile rows */
    MRI_MAX = 16,   /* ... of any path's tiles (conv_tiles.h) */
    KMAX = 7,       /* largest kernel handled here */
    MAXW2 = 2048,   /* widest input of a stride-2 conv handled here */
    STACK_F32 = 1280, /* backward-weight: flat positions per stack of samples (f32, i16) */
    STACK_I16 = 2048
};

struct geom {
    int cin, cout, k, kk, pad, h, w, hp, wp, ho, wo, ntile;
    int st, wrow;       /* stride (1 or 2); width of a row on the flat output axis */
    long pps;           /* stride 2: the stride of a channel's 4 phase planes (ps = 4 * pps) */
    int seg, nseg;      /* segment tiles (wo % 8 == 0): nseg segments of 8 outputs in a row */
    int add;            /* the tiles add into y (y += result) instead of writing it */
    long L, Lr, ps;     /* flat outputs (with garbage columns), rounded up to NT; plane stride */
    int off[KMAX * KMAX];
};

static size_t align64(size_t b) { return (b + 63) / 64 * 64; }
static int imin(int a, int b) { return a < b ? a : b; }

int conv_direct_ok(const struct conv_shape *s)
{
    return s->stride == 1 && s->groups == 1 && s->k >= 2 && s->k <= KMAX && s->pad <= s->k - 1 &&
           gemm_cpu_has_avx2();
}

int conv_direct_strided_ok(const struct conv_shape *s)
{
    /* 1x1 stride 2 (projections) stays with im2col + gemm: a subsample is all it needs */
    return s->stride == 2 && s->groups == 1 && s->k >= 2 && s->k <= KMAX && s->pad <= s->k - 1 &&
           s->w <= MAXW2 && gemm_cpu_has_avx2();
}

static const struct conv_tiles *path_tiles(void);

static int direct_any_ok(const struct conv_shape *s)
{
    return conv_direct_ok(s) || conv_direct_strided_ok(s);
}

/* Stride 2 runs as stride 1 on phase planes: padded row r, column c of a channel goes to phase
 * plane (r % 2, c % 2) at (r / 2, c / 2), each plane wq = ceil(wp / 2) wide. Output (oh, ow) at
 * flat position oh * wq + ow then reads tap (kh, kw) at the fixed offset
 * phase(kh % 2, kw % 2) * pps + (kh / 2) * wq + kw / 2. */
static void geom_of(const struct conv_shape *s, struct geom *g)
{
    g->cin = s->cin;
    g->cout = s->cout;
    g->k = s->k;
    g->kk = s->k * s->k;
    g->pad = s->pad;
    g->h = s->h;
    g->w = s->w;
    g->st = s->stride;
    g->hp = s->h + 2 * s->pad;
    g->wp = s->w + 2 * s->pad;
    g->ho = (g->hp - s->k) / g->st + 1;
    g->wo = (g->wp - s->k) / g->st + 1;
    int hq = (g->hp + g->st - 1) / g->st, reach = (s->k - 1) / g->st;   /* rows a tap reaches */
    g->wrow = (g->wp + g->st - 1) / g->st;
    g->L = (long)g->ho * g->wrow;
    g->ntile = (int)((g->L + NT - 1) / NT);
    g->Lr = (long)g->ntile * NT;
    long need = g->Lr + (long)reach * (g->wrow + 1);
    long plane = (long)hq * g->wrow;
    g->pps = ((need > plane ? need : plane) + 15) / 16 * 16;
    g->ps = g->st == 1 ? g->pps : 4 * g->pps;
    g->seg = g->wo % 8 == 0;
    g->nseg = g->seg ? g->ho * (g->wo / 8) : 0;
    g->add = 0;
    for (int kh = 0; kh < s->k; kh++)
        for (int kw = 0; kw < s->k; kw++)
            g->off[kh * s->k + kw] = g->st == 1 ? kh * g->wp + kw
                                                : ((kh % 2) * 2 + kw % 2) * g->pps +
                                                      (kh / 2) * g->wrow + kw / 2;
}

/* Rows of a block of m are cut into panels of at most mr_max, as even as possible. */
static int panel_count(int m, int mr_max) { return (m + mr_max - 1) / mr_max; }
static int panel_start(int m, int mr_max, int q)
{
    int np = panel_count(m, mr_max);
    return q * (m / np) + imin(q, m % np);
}

/* Output tiles. With wo a multiple of 8 a tile is two segments of 8 outputs that lie within an
 * output row (the next segment of the row, or the first of the next row): nothing is computed
 * for the garbage columns and each vector is stored whole. Otherwise a tile is 16 consecutive
 * flat positions, stored in runs that skip the garbage columns. */
static int tile_count(const struct geom *g) { return g->seg ? (g->nseg + 1) / 2 : g->ntile; }

struct tile {
    long q0, v1;        /* flat position of the first vector, offset of the second */
    long d0, d1;        /* segment tiles: output index of each vector (d1 < 0: none) */
};

static void seg_at(const struct geom *g, int sgi, long *q, long *d)
{
    int per = g->wo / 8, oh = sgi / per, j = sgi % per;
    *q = (long)oh * g->wrow + 8 * j;
    *d = (long)oh * g->wo + 8 * j;
}

static struct tile tile_at(const struct geom *g, int t)
{
    struct tile tl;
    if (!g->seg) {
        tl.q0 = (long)t * NT;
        tl.v1 = 8;
        tl.d0 = tl.d1 = -1;
        return tl;
    }
    long q1;
    seg_at(g, 2 * t, &tl.q0, &tl.d0);
    if (2 * t + 1 < g->nseg) {
        seg_at(g, 2 * t + 1, &q1, &tl.d1);
        tl.v1 = q1 - tl.q0;
    } else {
        tl.v1 = 0;   /* an odd last segment: the second vector repeats the first, unstored */
        tl.d1 = -1;
    }
    return tl;
}

/* The stored outputs of flat tile t: runs of consecutive valid flat positions. */
struct runs {
    int n;
    int j[NT], len[NT];
    long dst[NT];
};

static void tile_runs(const struct geom *g, int t, struct runs *r)
{
    long p0 = (long)t * NT;
    int j = 0;
    r->n = 0;
    while (j < NT && p0 + j < g->L) {
        long pos = p0 + j;
        int oh = (int)(pos / g->wrow), ow = (int)(pos % g->wrow);
        if (ow >= g->wo) {
            j += g->wrow - ow;
            continue;
        }
        int len = imin(NT - j, g->wo - ow);
        r->j[r->n] = j;
        r->len[r->n] = len;
        r->dst[r->n] = (long)oh * g->wo + ow;
        r->n++;
        j += len;
    }
}

/* dst[0..len) = src[0..len), len <= 16. No masked stores: vmaskmovps is slow on AMD. */
AVX2_INLINE void copy_run(float *dst, const float *src, int len)
{
    if (len >= 8) {
        _mm256_storeu_ps(dst, _mm256_loadu_ps(src));
        dst += 8;
        src += 8;
        len -= 8;
    }
    if (len >= 8) {
        _mm256_storeu_ps(dst, _mm256_loadu_ps(src));
        return;
    }
    if (len & 4) {
        _mm_storeu_ps(dst, _mm_loadu_ps(src));
        dst += 4;
        src += 4;
    }
    if (len & 2) {
        memcpy(dst, src, 2 * sizeof(float));
        dst += 2;
        src += 2;
    }
    if (len & 1)
        *dst = *src;
}

/* dst[0..len) += src[0..len): dst + src, the float add of a separate pass. */
AVX2_INLINE void add_run(float *dst, const float *src, int len)
{
    int i = 0;
    for (; i + 8 <= len; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_add_ps(_mm256_loadu_ps(dst + i), _mm256_loadu_ps(src + i)));
    for (; i < len; i++)
        dst[i] += src[i];
}

/* Eight values of a tile row to y: written, or added (g->add). */
AVX2_INLINE void store8(const struct geom *g, float *y, const float *t)
{
    __m256 v = _mm256_load_ps(t);
    _mm256_storeu_ps(y, g->add ? _mm256_add_ps(_mm256_loadu_ps(y), v) : v);
}

/* A tile's rows (tmp[r*NT ..]) to the output planes of channels co0.. of one sample. */
AVX2_INLINE void store_tile(const struct geom *g, const struct tile *tl, const struct runs *ru,
                            const float *tmp, int mr, float *yn, long plane, int co0)
{
    for (int r = 0; r < mr; r++) {
        float *yp = yn + (long)(co0 + r) * plane;
        if (g->seg) {
            /* the line two tiles on, for writing: its fetch overlaps the tiles between, where
             * the store would wait for it (segment tiles run along the plane, a line each) */
            __builtin_prefetch(yp + tl->d0 + 2 * NT, 1, 3);
            store8(g, yp + tl->d0, tmp + r * NT);
            if (tl->d1 >= 0)
                store8(g, yp + tl->d1, tmp + r * NT + 8);
            continue;
        }
        for (int i = 0; i < ru->n; i++)
            if (g->add)
                add_run(yp + ru->dst[i], tmp + r * NT + ru->j[i], ru->len[i]);
            else
                copy_run(yp + ru->dst[i], tmp + r * NT + ru->j[i], ru->len[i]);
    }
}

/* ------------------------------------------------------------------ reading ahead */

/* The sample a thread takes next (most likely n + threads: the samples are dealt one at a time)
 * is read into cache a share per tile while this one's tiles compute, instead of waiting on
 * memory when its padding starts. */
struct ahead {
    const char *p;
    long lines, per_tile;
};

static struct ahead ahead_of(const int16_t *x, long per_sample, int next, int n, int tiles)
{
    struct ahead a = { NULL, 0, 0 };
    if (next < n && tiles > 0) {
        a.p = (const char *)(x + (long)next * per_sample);
        a.lines = ((long)sizeof(int16_t) * per_sample + 63) / 64;
        a.per_tile = (a.lines + tiles - 1) / tiles;
    }
    return a;
}

static void fetch_ahead(const struct ahead *a, int t)
{
    for (long l = (long)t * a->per_tile; l < ((long)t + 1) * a->per_tile && l < a->lines; l++)
        __builtin_prefetch(a->p + 64 * l, 0, 3);
}

/* ------------------------------------------------------------------ padding */

/* Row copies: the rows are short (8 to 32 values), where a call to memcpy costs more than the
 * copy. */
AVX2_INLINE void copy_f32(float *dst, const float *src, int n)
{
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_loadu_ps(src + i));
    for (; i < n; i++)
        dst[i] = src[i];
}

AVX2_INLINE void copy_i16(int16_t *dst, const int16_t *src, int n)
{
    int i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(dst + i), _mm256_loadu_si256((const __m256i *)(src + i)));
    if (i + 8 <= n) {   /* rows of 28, 14 or 7 (Fashion-MNIST's planes): no long scalar tail */
        _mm_storeu_si128((__m128i *)(dst + i), _mm_loadu_si128((const __m128i *)(src + i)));
        i += 8;
    }
    if (i + 4 <= n) {
        memcpy(dst + i, src + i, 4 * sizeof(int16_t));
        i += 4;
    }
    for (; i < n; i++)
        dst[i] = src[i];
}

/* Stride 2: one input row into its two phase planes: padded column c = iw + pad goes to phase
 * c % 2 at c / 2. Input elements of even index land together in one phase plane (pe, from
 * column (iw + pad) / 2 on), those of odd index in the other; the vector loops split 16 inputs
 * into their 8 even and 8 odd ones with shuffles. */
AVX2_FN static void phase_row_f32(const struct geom *g, long pps, int r, const float *in, float *plane0)
{
    float *base = plane0 + ((r % 2) * 2) * pps + (long)(r / 2) * g->wrow;
    int p = g->pad, iw = 0;
    float *de = base + (p % 2) * pps, *dodd = base + ((p + 1) % 2) * pps;
    for (; iw + 16 <= g->w; iw += 16) {
        __m256 lo = _mm256_loadu_ps(in + iw), hi = _mm256_loadu_ps(in + iw + 8);
        __m256 e = _mm256_shuffle_ps(lo, hi, 0x88), o = _mm256_shuffle_ps(lo, hi, 0xDD);
        e = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8));
        o = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), 0xD8));
        _mm256_storeu_ps(de + (iw + p) / 2, e);
        _mm256_storeu_ps(dodd + (iw + 1 + p) / 2, o);
    }
    for (; iw < g->w; iw++) {
        int c = iw + p;
        base[(c % 2) * pps + c / 2] = in[iw];
    }
}

AVX2_FN static void phase_row_i16(const struct geom *g, long pps, int r, const int16_t *in, int16_t *plane0)
{
    int16_t *base = plane0 + ((r % 2) * 2) * pps + (long)(r / 2) * g->wrow;
    int p = g->pad, iw = 0;
    int16_t *de = base + (p % 2) * pps, *dodd = base + ((p + 1) % 2) * pps;
    /* per 128-bit lane: the 4 even elements to the low 8 bytes, the 4 odd ones to the high 8 */
    const __m256i split = _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15,
                                           0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15);
    for (; iw + 16 <= g->w; iw += 16) {
        __m256i v = _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)(in + iw)), split);
        v = _mm256_permute4x64_epi64(v, 0xD8);   /* evens | odds */
        _mm_storeu_si128((__m128i *)(de + (iw + p) / 2), _mm256_castsi256_si128(v));
        _mm_storeu_si128((__m128i *)(dodd + (iw + 1 + p) / 2), _mm256_extracti128_si256(v, 1));
    }
    if (iw + 8 <= g->w) {   /* 8 more in one lane: 4 evens, 4 odds (rows of 28 or 14) */
        __m128i v = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(in + iw)), _mm256_castsi256_si128(split));
        _mm_storel_epi64((__m128i *)(de + (iw + p) / 2), v);
        _mm_storel_epi64((__m128i *)(dodd + (iw + 1 + p) / 2), _mm_unpackhi_epi64(v, v));
        iw += 8;
    }
    for (; iw < g->w; iw++) {
        int c = iw + p;
        base[(c % 2) * pps + c / 2] = in[iw];
    }
}

AVX2_FN static void pad_f32(const struct geom *g, const float *x, float *xp)
{
    if (g->st == 2) {
        for (int c = 0; c < g->cin; c++)
            for (int ih = 0; ih < g->h; ih++)
                phase_row_f32(g, g->pps, ih + g->pad, x + ((long)c * g->h + ih) * g->w, xp + c * g->ps);
        return;
    }
    for (int c = 0; c < g->cin; c++)
        for (int ih = 0; ih < g->h; ih++)
            copy_f32(xp + c * g->ps + (long)(ih + g->pad) * g->wp + g->pad, x + ((long)c * g->h + ih) * g->w,
                     g->w);
}

/* Channels 2c and 2c+1 (zero past cin) interleaved: pair plane c at xp + 2*c*ps, element
 * (pos, h) at 2*pos + h. */
AVX2_FN static void pad_pairs_i16(const struct geom *g, const int16_t *x, int16_t *xp)
{
    int cpairs = (g->cin + 1) / 2;
    if (g->st == 2) {   /* pairs of phase positions: split each row, then interleave the pair */
        int16_t tmp[2][2][MAXW2 / 2 + 16];   /* [channel][parity][..] */
        const __m256i split = _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15,
                                               0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15);
        for (int cp = 0; cp < cpairs; cp++)
            for (int ih = 0; ih < g->h; ih++) {
                int r = ih + g->pad, p = g->pad;
                for (int h = 0; h < 2; h++) {
                    const int16_t *in = 2 * cp + h < g->cin ? x + ((long)(2 * cp + h) * g->h + ih) * g->w : NULL;
                    int iw = 0;
                    if (in)
                        for (; iw + 16 <= g->w; iw += 16) {
                            __m256i v = _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)(in + iw)), split);
                            v = _mm256_permute4x64_epi64(v, 0xD8);   /* evens | odds */
                            _mm_storeu_si128((__m128i *)(tmp[h][0] + iw / 2), _mm256_castsi256_si128(v));
                            _mm_storeu_si128((__m128i *)(tmp[h][1] + iw / 2), _mm256_extracti128_si256(v, 1));
                        }
                    for (; iw < g->w + 1; iw += 2) {
                        tmp[h][0][iw / 2] = in && iw < g->w ? in[iw] : 0;
                        tmp[h][1][iw / 2] = in && iw + 1 < g->w ? in[iw + 1] : 0;
                    }
                }
                for (int par = 0; par < 2; par++) {   /* input parity -> its phase plane */
                    int n = par == 0 ? (g->w + 1) / 2 : g->w / 2, c0 = (par + p) / 2;
                    int16_t *d = xp + 2 * (cp * g->ps + ((r % 2) * 2 + (par + p) % 2) * g->pps +
                                           (long)(r / 2) * g->wrow + c0);
                    int j = 0;
                    for (; j + 8 <= n; j += 8) {
                        __m128i a = _mm_loadu_si128((const __m128i *)(tmp[0][par] + j));
                        __m128i b = _mm_loadu_si128((const __m128i *)(tmp[1][par] + j));
                        _mm_storeu_si128((__m128i *)(d + 2 * j), _mm_unpacklo_epi16(a, b));
                        _mm_storeu_si128((__m128i *)(d + 2 * j + 8), _mm_unpackhi_epi16(a, b));
                    }
                    for (; j < n; j++) {
                        d[2 * j] = tmp[0][par][j];
                        d[2 * j + 1] = tmp[1][par][j];
                    }
                }
            }
        return;
    }
    for (int cp = 0; cp < cpairs; cp++) {
        int c0 = 2 * cp, c1 = 2 * cp + 1;
        for (int ih = 0; ih < g->h; ih++) {
            const int16_t *r0 = x + ((long)c0 * g->h + ih) * g->w;
            const int16_t *r1 = c1 < g->cin ? x + ((long)c1 * g->h + ih) * g->w : NULL;
            int16_t *d = xp + 2 * (cp * g->ps + (long)(ih + g->pad) * g->wp + g->pad);
            int iw = 0;
            if (r1)
                for (; iw + 8 <= g->w; iw += 8) {
                    __m128i a = _mm_loadu_si128((const __m128i *)(r0 + iw));
                    __m128i b = _mm_loadu_si128((const __m128i *)(r1 + iw));
                    _mm_storeu_si128((__m128i *)(d + 2 * iw), _mm_unpacklo_epi16(a, b));
                    _mm_storeu_si128((__m128i *)(d + 2 * iw + 8), _mm_unpackhi_epi16(a, b));
                }
            for (; iw < g->w; iw++) {
                d[2 * iw] = r0[iw];
                d[2 * iw + 1] = r1 ? r1[iw] : 0;
            }
        }
    }
}

/* Stride 1, unsigned 8-bit codes (0..255): channels 4c..4c+3 (zero past cin) interleaved as
 * bytes, quad plane c at byte 4*c*ps, element (pos, h) at byte 4*pos + h: the same 4 bytes per
 * position as the pair planes, so the tiles address both alike. */
AVX2_FN static void pad_quads_u8(const struct geom *g, const int16_t *x, int16_t *xp)
{
    int cquads = (g->cin + 3) / 4;
    for (int cq = 0; cq < cquads; cq++)
        for (int ih = 0; ih < g->h; ih++) {
            const int16_t *r[4];
            for (int h = 0; h < 4; h++)
                r[h] = 4 * cq + h < g->cin ? x + ((long)(4 * cq + h) * g->h + ih) * g->w : NULL;
            uint8_t *d = (uint8_t *)xp + 4 * (cq * g->ps + (long)(ih + g->pad) * g->wp + g->pad);
            int iw = 0;
            if (r[3])
                for (; iw + 8 <= g->w; iw += 8) {   /* 8 codes of 4 channels -> 8 positions */
                    __m128i a0 = _mm_packus_epi16(_mm_loadu_si128((const __m128i *)(r[0] + iw)), _mm_setzero_si128());
                    __m128i a1 = _mm_packus_epi16(_mm_loadu_si128((const __m128i *)(r[1] + iw)), _mm_setzero_si128());
                    __m128i a2 = _mm_packus_epi16(_mm_loadu_si128((const __m128i *)(r[2] + iw)), _mm_setzero_si128());
                    __m128i a3 = _mm_packus_epi16(_mm_loadu_si128((const __m128i *)(r[3] + iw)), _mm_setzero_si128());
                    __m128i t0 = _mm_unpacklo_epi8(a0, a1), t1 = _mm_unpacklo_epi8(a2, a3);
                    _mm_storeu_si128((__m128i *)(d + 4 * iw), _mm_unpacklo_epi16(t0, t1));
                    _mm_storeu_si128((__m128i *)(d + 4 * iw + 16), _mm_unpackhi_epi16(t0, t1));
                }
            for (; iw < g->w; iw++)
                for (int h = 0; h < 4; h++)
                    d[4 * iw + h] = r[h] ? (uint8_t)r[h][iw] : 0;
        }
}

/* ------------------------------------------------------------------ scratch */

struct slabs {
    struct fx_workspace local;
    char *shared;       /* packed weights */
    char *base;         /* per-thread slabs */
    size_t per_thread;
};

static int slabs_get(struct slabs *sl, struct fx_workspace *ws, size_t shared, size_t per_thread,
                     int threads)
{
    sl->local.buf = NULL;
    sl->local.bytes = 0;
    shared = align64(shared);
    sl->per_thread = align64(per_thread);
    struct fx_workspace *use = ws ? ws : &sl->local;
    char *p = fx_workspace_reserve(use, shared + sl->per_thread * (size_t)threads);
    if (!p)
        return -1;
    sl->shared = p;
    sl->base = p + shared;
    return 0;
}

static char *slab_of(const struct slabs *sl, int t) { return sl->base + sl->per_thread * (size_t)t; }
static void slabs_done(struct slabs *sl) { fx_workspace_free(&sl->local); }

/* ------------------------------------------------------------------ f32 forward */

/* Weight (co, ci, tap) of the conv being computed. transposed: the conv is the backward-data
 * pass of a conv whose weights w are [cin][cout][kk] in this conv's terms, flipped in space. */
static long w_at(const struct geom *g, int transposed, int co, int ci, int t)
{
    if (transposed)
        return ((long)ci * g->cout + co) * g->kk + (g->kk - 1 - t);
    return ((long)co * g->cin + ci) * g->kk + t;
}

/* Weights of panel rows co0 .. co0+mr-1 (panels of at most mr_max rows) as [ci][tap][r], at
 * out + co0 * cin * kk. */
static void pack_w_f32(const struct geom *g, const float *w, int transposed, int mr_max, float *out)
{
    int np = panel_count(g->cout, mr_max);
    for (int q = 0; q < np; q++) {
        int co0 = panel_start(g->cout, mr_max, q), mr = panel_start(g->cout, mr_max, q + 1) - co0;
        float *o = out + (long)co0 * g->cin * g->kk;
        for (int ci = 0; ci < g->cin; ci++)
            for (int t = 0; t < g->kk; t++)
                for (int r = 0; r < mr; r++)
                    *o++ = w[w_at(g, transposed, co0 + r, ci, t)];
    }
}

/* The 4-, 5- and 6-row f32 tiles of a 3x3 conv in assembly: taps unrolled, the kernel rows at
 * p0, p1, p2 and the tile's second vector v1 bytes after its first (compiled from intrinsics, the
 * loop reloaded each tap's offset). Per input channel: 18 loads of x, 9*mr broadcasts, 18*mr
 * FMAs. acc[0 .. 2*mr) in and out. The macros below only spell out the instructions. */
#define F32_ROW(W, R, A, B)                                                                      \
    "vbroadcastss 0+(" W "+4*" #R ")(%[w]), %%ymm14\n\t"                                         \
    "vfmadd231ps %%ymm12, %%ymm14, %%ymm" A "\n\t"                                               \
    "vfmadd231ps %%ymm13, %%ymm14, %%ymm" B "\n\t"
#define F32_ROWS4(W) F32_ROW(W, 0, "0", "1") F32_ROW(W, 1, "2", "3") F32_ROW(W, 2, "4", "5") F32_ROW(W, 3, "6", "7")
#define F32_ROWS5(W) F32_ROWS4(W) F32_ROW(W, 4, "8", "9")
#define F32_ROWS6(W) F32_ROWS5(W) F32_ROW(W, 5, "10", "11")
#define F32_TAP(ROWS, P, D, T)                                                                   \
    "vmovups " D "(%[" P "]), %%ymm12\n\t"                                                       \
    "vmovups " D "(%[" P "],%[v1]), %%ymm13\n\t" ROWS("(" T "*4*%c[mr])")
#define F32_TAPS(ROWS)                                                                           \
    F32_TAP(ROWS, "p0", "0", "0") F32_TAP(ROWS, "p0", "4", "1") F32_TAP(ROWS, "p0", "8", "2")   \
    F32_TAP(ROWS, "p1", "0", "3") F32_TAP(ROWS, "p1", "4", "4") F32_TAP(ROWS, "p1", "8", "5")   \
    F32_TAP(ROWS, "p2", "0", "6") F32_TAP(ROWS, "p2", "4", "7") F32_TAP(ROWS, "p2", "8", "8")
#define ACC10(X) ACC8(X) X(8) X(9)
#define ACC12(X) ACC10(X) X(10) X(11)
#define FWD_F32_ASM(MR, ROWS, ACCS)                                                              \
    AVX2_FN static void fwd_f32_##MR##x3x3(const float *xb, long ps, long v1, int cin, long row,  \
                                           const float *wb, __m256 *acc)                         \
    {                                                                                            \
        const float *p0 = xb, *p1 = xb + row, *p2 = xb + 2 * row;                                \
        long step = ps * 4, n = cin, v1b = v1 * 4;                                               \
        if (n <= 0)                                                                              \
            return;                                                                              \
        __asm__ volatile(ACCS(ACC_LOAD) "1:\n\t" F32_TAPS(ROWS)                                  \
                         "add %[step], %[p0]\n\t"                                                \
                         "add %[step], %[p1]\n\t"                                                \
                         "add %[step], %[p2]\n\t"                                                \
                         "add $(36*%c[mr]), %[w]\n\t"                                            \
                         "dec %[n]\n\t"                                                          \
                         "jnz 1b\n\t" ACCS(ACC_STORE)                                            \
                         : [p0] "+r"(p0), [p1] "+r"(p1), [p2] "+r"(p2), [w] "+r"(wb), [n] "+r"(n) \
                         : [step] "r"(step), [v1] "r"(v1b), [acc] "r"(acc), [mr] "i"(MR)          \
                         : "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", \
                           "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14");  \
    }
FWD_F32_ASM(4, F32_ROWS4, ACC8)
FWD_F32_ASM(5, F32_ROWS5, ACC10)
FWD_F32_ASM(6, F32_ROWS6, ACC12)

#define ROWS6(X) X(0) X(1) X(2) X(3) X(4) X(5)

/* The tile's two vectors are the 8 outputs at flat position 0 and the 8 at position v1 (8 for
 * 16 consecutive outputs). */
AVX2_INLINE void fwd_tile_f32(const int mr, const float *xb, long v1, long ps, int cin, const int *off,
                              int kk, const float *wb, float *tmp)
{
#define DECL(i) __m256 a##i##_0 = _mm256_setzero_ps(), a##i##_1 = _mm256_setzero_ps();
#define STEP(i)                                                                                  \
    if (i < mr) {                                                                                \
        __m256 wv = _mm256_broadcast_ss(wb + i);                                                 \
        a##i##_0 = _mm256_fmadd_ps(wv, x0, a##i##_0);                                            \
        a##i##_1 = _mm256_fmadd_ps(wv, x1, a##i##_1);                                            \
    }
#define STORE(i)                                                                                 \
    if (i < mr) {                                                                                \
        _mm256_store_ps(tmp + i * NT, a##i##_0);                                                 \
        _mm256_store_ps(tmp + i * NT + 8, a##i##_1);                                             \
    }
    if (kk == 9 && mr >= 4 && off[1] == 1 && off[2] == 2 && off[4] == off[3] + 1 && off[6] == 2 * off[3]) {
        __m256 acc[2 * MRF];
        for (int i = 0; i < 2 * mr; i++)
            acc[i] = _mm256_setzero_ps();
        if (mr == 6)
            fwd_f32_6x3x3(xb, ps, v1, cin, off[3], wb, acc);
        else if (mr == 5)
            fwd_f32_5x3x3(xb, ps, v1, cin, off[3], wb, acc);
        else
            fwd_f32_4x3x3(xb, ps, v1, cin, off[3], wb, acc);
        for (int r = 0; r < mr; r++) {
            _mm256_store_ps(tmp + r * NT, acc[2 * r]);
            _mm256_store_ps(tmp + r * NT + 8, acc[2 * r + 1]);
        }
        return;
    }
    ROWS6(DECL)
    for (int ci = 0; ci < cin; ci++, xb += ps)
        for (int t = 0; t < kk; t++, wb += mr) {
            const float *p = xb + off[t];
            __m256 x0 = _mm256_loadu_ps(p), x1 = _mm256_loadu_ps(p + v1);
            ROWS6(STEP)
        }
    ROWS6(STORE)
#undef DECL
#undef STEP
#undef STORE
}

#define FWD_F32(R)                                                                               \
    AVX2_FN static void fwd_tile_f32_##R(const float *xb, long v1, long ps, int cin,             \
                                         const int *off, int kk, const float *wb, float *tmp)    \
    {                                                                                            \
        fwd_tile_f32(R, xb, v1, ps, cin, off, kk, wb, tmp);                                      \
    }
FWD_F32(1)
FWD_F32(2)
FWD_F32(3)
FWD_F32(4)
FWD_F32(5)
FWD_F32(6)
typedef void (*fwd_f32_fn)(const float *, long, long, int, const int *, int, const float *, float *);
static const fwd_f32_fn FWD_F32_ROWS[MRF + 1] = {NULL, fwd_tile_f32_1, fwd_tile_f32_2, fwd_tile_f32_3,
                                                 fwd_tile_f32_4, fwd_tile_f32_5, fwd_tile_f32_6};

static void fwd_f32_avx2(int mr, const float *xb, long v1, long ps, int cin, const int *off, int kk,
                         const float *wb, float *out)
{
    FWD_F32_ROWS[mr](xb, v1, ps, cin, off, kk, wb, out);
}

AVX2_FN int conv_direct_forward_f32(const struct conv_shape *s, const float *x, const float *w, int transposed,
                            float *y, struct fx_workspace *ws)
{
    struct geom g;
    geom_of(s, &g);
    int threads = omp_get_max_threads();
    const struct conv_tiles *tiles = path_tiles();
    int mrt = tiles->mr_f32;
    size_t wbytes = sizeof(float) * (size_t)g.cout * g.cin * g.kk;
    size_t xbytes = align64(sizeof(float) * (size_t)g.cin * g.ps);
    struct slabs sl;
    if (slabs_get(&sl, ws, wbytes, xbytes + sizeof(float) * MRI_MAX * NT, threads))
        return -1;
    float *wpk = (float *)sl.shared;
    pack_w_f32(&g, w, transposed, mrt, wpk);
    long plane = (long)g.ho * g.wo;
    int np = panel_count(g.cout, mrt);
#pragma omp parallel num_threads(threads)
    {
        char *mine = slab_of(&sl, omp_get_thread_num());
        float *xp = (float *)mine, *tmp = (float *)(mine + xbytes);
        memset(xp, 0, xbytes);
#pragma omp for schedule(dynamic, 1)
        for (int n = 0; n < s->n; n++) {
            pad_f32(&g, x + (long)n * g.cin * g.h * g.w, xp);
            float *yn = y + (long)n * g.cout * plane;
            for (int t = 0; t < tile_count(&g); t++) {
                struct tile tl = tile_at(&g, t);
                struct runs ru;
                ru.n = 0;
                if (!g.seg)
                    tile_runs(&g, t, &ru);
                for (int q = 0; q < np; q++) {
                    int co0 = panel_start(g.cout, mrt, q), mr = panel_start(g.cout, mrt, q + 1) - co0;
                    tiles->fwd_f32(mr, xp + tl.q0, tl.v1, g.ps, g.cin, g.off, g.kk,
                                   wpk + (long)co0 * g.cin * g.kk, tmp);
                    store_tile(&g, &tl, &ru, tmp, mr, yn, plane, co0);
                }
            }
        }
    }
    slabs_done(&sl);
    return 0;
}

/* ------------------------------------------------------------------ i16 forward */

/* Weight pairs of panel rows co0.. (panels of at most mr_max rows) as int32 [cp][tap][r]: low
 * half w[co][2cp][tap], high half w[co][2cp+1][tap] (0 past cin). */
static void pack_w_i16(const struct geom *g, const int16_t *w, int transposed, int mr_max, int32_t *out)
{
    int np = panel_count(g->cout, mr_max), cpairs = (g->cin + 1) / 2;
    for (int q = 0; q < np; q++) {
        int co0 = panel_start(g->cout, mr_max, q), mr = panel_start(g->cout, mr_max, q + 1) - co0;
        int32_t *o = out + (long)co0 * cpairs * g->kk;
        for (int cp = 0; cp < cpairs; cp++)
            for (int t = 0; t < g->kk; t++)
                for (int r = 0; r < mr; r++) {
                    uint16_t lo = (uint16_t)w[w_at(g, transposed, co0 + r, 2 * cp, t)];
                    uint16_t hi = 2 * cp + 1 < g->cin ? (uint16_t)w[w_at(g, transposed, co0 + r, 2 * cp + 1, t)] : 0;
                    *o++ = (int32_t)((uint32_t)lo | ((uint32_t)hi << 16));
                }
    }
}

/* Weight quads of panel rows co0.. as int32 [cq][tap][r]: byte h = w[co][4cq+h][tap] (0 past cin),
 * for the unsigned 8-bit x signed 8-bit tiles. */
static void pack_w_u8(const struct geom *g, const int16_t *w, int mr_max, int32_t *out)
{
    int np = panel_count(g->cout, mr_max), cquads = (g->cin + 3) / 4;
    for (int q = 0; q < np; q++) {
        int co0 = panel_start(g->cout, mr_max, q), mr = panel_start(g->cout, mr_max, q + 1) - co0;
        int32_t *o = out + (long)co0 * cquads * g->kk;
        for (int cq = 0; cq < cquads; cq++)
            for (int t = 0; t < g->kk; t++)
                for (int r = 0; r < mr; r++) {
                    uint32_t v = 0;
                    for (int h = 0; h < 4; h++)
                        if (4 * cq + h < g->cin)
                            v |= (uint32_t)(uint8_t)(int8_t)w[w_at(g, 0, co0 + r, 4 * cq + h, t)] << (8 * h);
                    *o++ = (int32_t)v;
                }
    }
}

static const struct conv_tiles TILES_AVX2 = {MRF, fwd_f32_avx2, MRI, fwd_i16_avx2, NULL, bww_i16_avx2, NULL};
static const struct conv_tiles TILES_AVX_VNNI = {MRF, fwd_f32_avx2, MRI, conv_fwd_i16_avx_vnni,
                                                 conv_fwd_u8_avx_vnni, conv_bww_i16_avx_vnni, NULL};

/* The tiles of the dispatch path (cpu.h). */
static const struct conv_tiles *path_tiles(void)
{
    switch (cpu_path()) {
    case CPU_AVX512_VNNI: return &conv_tiles_avx512_vnni;
    case CPU_AVX512: return &conv_tiles_avx512;
    case CPU_AVX_VNNI: return &TILES_AVX_VNNI;
    default: return &TILES_AVX2;
    }
}

/* (float)((double)v * sa * sb) for 8 int32 lanes: fx_dequant_acc, lane by lane. */
AVX2_INLINE __m256 dequant8_i32(__m256i v, __m256d sa, __m256d sb)
{
    __m256d lo = _mm256_cvtepi32_pd(_mm256_castsi256_si128(v));
    __m256d hi = _mm256_cvtepi32_pd(_mm256_extracti128_si256(v, 1));
    lo = _mm256_mul_pd(_mm256_mul_pd(lo, sa), sb);
    hi = _mm256_mul_pd(_mm256_mul_pd(hi, sa), sb);
    return _mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo));
}

/* The same for 4 int64 lanes with |v| < 2^51 (exact conversion through the 2^52 + 2^51 trick). */
AVX2_INLINE __m128 dequant4_i64(__m256i v, __m256d sa, __m256d sb)
{
    const __m256i magic_i = _mm256_set1_epi64x(0x4338000000000000LL);
    const __m256d magic_d = _mm256_set1_pd(6755399441055744.0);
    __m256d d = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_add_epi64(v, magic_i)), magic_d);
    return _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_mul_pd(d, sa), sb));
}

AVX2_INLINE void widen_add(int64_t *dst, __m256i v)
{
    __m256i lo = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(v));
    __m256i hi = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(v, 1));
    _mm256_storeu_si256((__m256i *)dst, _mm256_add_epi64(_mm256_loadu_si256((const __m256i *)dst), lo));
    _mm256_storeu_si256((__m256i *)(dst + 4), _mm256_add_epi64(_mm256_loadu_si256((const __m256i *)(dst + 4)), hi));
}

/* The bound on |sum| of `terms` products of codes of these signed widths. */
static double sum_bound(double terms, int bits_a, int bits_b)
{
    return terms * ldexp(1.0, bits_a - 1) * ldexp(1.0, bits_b - 1);
}

int conv_direct_forward_i16_ok(const struct conv_shape *s, int bits_x, int bits_w)
{
    if (!direct_any_ok(s))
        return 0;
    /* a chunk must hold at least one channel pair's taps, and sums must convert exactly */
    int chunk = gemm_i16_chunk(bits_x, bits_w);
    return chunk / 2 >= s->k * s->k && sum_bound((double)s->cin * s->k * s->k, bits_x, bits_w) < ldexp(1.0, 51);
}

AVX2_FN int conv_direct_forward_i16(const struct conv_shape *s, const int16_t *x, int bits_x,
                                    int x_unsigned, const int16_t *w, int bits_w, int transposed, float sa,
                                    const float *sb, int sb_per_channel, int acc_bits, float *y, int add,
                                    uint64_t *overflows, struct fx_workspace *ws)
{
    struct geom g;
    geom_of(s, &g);
    g.add = add;
    int cpairs = (g.cin + 1) / 2;
    double bound = sum_bound((double)g.cin * g.kk, bits_x, bits_w);
    int narrow = bound < 2147483647.0;   /* whole sums fit int32 */
    int count_ovf = acc_bits > 0 && acc_bits < 64 && bound >= ldexp(1.0, acc_bits - 1);
    int cps = narrow ? cpairs : imin(cpairs, gemm_i16_chunk(bits_x, bits_w) / 2 / g.kk);
    int threads = omp_get_max_threads();
    const struct conv_tiles *tiles = path_tiles();
    int mrt = tiles->mr;
    size_t wbytes = sizeof(int32_t) * (size_t)g.cout * cpairs * g.kk;
    size_t xbytes = align64(sizeof(int16_t) * 2 * (size_t)cpairs * g.ps);
    size_t tbytes = (sizeof(float) + sizeof(int64_t) + sizeof(int32_t)) * MRI_MAX * NT;
    struct slabs sl;
    if (slabs_get(&sl, ws, wbytes, xbytes + tbytes, threads))
        return -1;
    int32_t *wpk = (int32_t *)sl.shared;
    /* unsigned 8-bit x signed 8-bit codes whose sums fit int32 go 4 channels per byte product */
    int quad = tiles->fwd_u8 && x_unsigned && bits_x <= 9 && bits_w <= 8 && !transposed && g.st == 1 &&
               narrow && !count_ovf;
    int groups = quad ? (g.cin + 3) / 4 : cpairs;   /* channel groups the tiles sum over */
    conv_fwd_i16_tile fwd = quad ? tiles->fwd_u8 : tiles->fwd;
    if (quad)
        pack_w_u8(&g, w, mrt, wpk);
    else
        pack_w_i16(&g, w, transposed, mrt, wpk);
    int off2[KMAX * KMAX];
    for (int t = 0; t < g.kk; t++)
        off2[t] = 2 * g.off[t];
    long plane = (long)g.ho * g.wo;
    int np = panel_count(g.cout, mrt);
    __m256d sad = _mm256_set1_pd((double)sa);
    uint64_t ovf = 0;
#pragma omp parallel num_threads(threads) reduction(+ : ovf)
    {
        char *mine = slab_of(&sl, omp_get_thread_num());
        int16_t *xp = (int16_t *)mine;
        float *tmp = (float *)(mine + xbytes);
        int64_t *wide = (int64_t *)(mine + xbytes + sizeof(float) * MRI_MAX * NT);
        int32_t *acc = (int32_t *)(wide + MRI_MAX * NT);   /* 64-byte aligned: MRI_MAX*NT*12 */
        memset(xp, 0, xbytes);
#pragma omp for schedule(dynamic, 1)
        for (int n = 0; n < s->n; n++) {
            if (quad)
                pad_quads_u8(&g, x + (long)n * g.cin * g.h * g.w, xp);
            else
                pad_pairs_i16(&g, x + (long)n * g.cin * g.h * g.w, xp);
            float *yn = y + (long)n * g.cout * plane;
            struct ahead nx = ahead_of(x, (long)g.cin * g.h * g.w, n + threads, s->n, tile_count(&g));
            for (int t = 0; t < tile_count(&g); t++) {
                fetch_ahead(&nx, t);
                struct tile tl = tile_at(&g, t);
                struct runs ru;
                ru.n = 0;
                int stored[NT];   /* lanes of the tile that are outputs (overflow counting) */
                if (!g.seg) {
                    tile_runs(&g, t, &ru);
                    memset(stored, 0, sizeof stored);
                    for (int i = 0; i < ru.n; i++)
                        for (int j = 0; j < ru.len[i]; j++)
                            stored[ru.j[i] + j] = 1;
                } else {
                    for (int j = 0; j < NT; j++)
                        stored[j] = j < 8 || tl.d1 >= 0;
                }
                for (int q = 0; q < np; q++) {
                    int co0 = panel_start(g.cout, mrt, q), mr = panel_start(g.cout, mrt, q + 1) - co0;
                    const int32_t *wb = wpk + (long)co0 * groups * g.kk;
                    const int16_t *xb = xp + 2L * tl.q0;
                    if (narrow && !count_ovf) {
                        fwd(mr, xb, tl.v1, 2 * g.ps, groups, off2, g.kk, wb, acc);
                        for (int r = 0; r < mr; r++) {
                            __m256d sbd = _mm256_set1_pd((double)sb[sb_per_channel ? co0 + r : 0]);
                            const __m256i *ar = (const __m256i *)(acc + r * NT);
                            _mm256_store_ps(tmp + r * NT, dequant8_i32(_mm256_load_si256(ar), sad, sbd));
                            _mm256_store_ps(tmp + r * NT + 8, dequant8_i32(_mm256_load_si256(ar + 1), sad, sbd));
                        }
                    } else {
                        memset(wide, 0, sizeof(int64_t) * (size_t)mr * NT);
                        for (int c0 = 0; c0 < cpairs; c0 += cps) {
                            int nc = imin(cps, cpairs - c0);
                            tiles->fwd(mr, xb + 2L * c0 * g.ps, tl.v1, 2 * g.ps, nc, off2, g.kk,
                                       wb + (long)c0 * g.kk * mr, acc);
                            for (int r = 0; r < mr; r++) {
                                const __m256i *ar = (const __m256i *)(acc + r * NT);
                                widen_add(wide + r * NT, _mm256_load_si256(ar));
                                widen_add(wide + r * NT + 8, _mm256_load_si256(ar + 1));
                            }
                        }
                        for (int r = 0; r < mr; r++) {
                            __m256d sbd = _mm256_set1_pd((double)sb[sb_per_channel ? co0 + r : 0]);
                            for (int j = 0; j < NT; j += 4)
                                _mm_store_ps(tmp + r * NT + j,
                                             dequant4_i64(_mm256_loadu_si256((const __m256i *)(wide + r * NT + j)), sad, sbd));
                            if (count_ovf)
                                for (int j = 0; j < NT; j++)
                                    if (stored[j])
                                        ovf += (uint64_t)fx_acc_overflows(wide[r * NT + j], acc_bits);
                        }
                    }
                    store_tile(&g, &tl, &ru, tmp, mr, yn, plane, co0);
                }
            }
        }
    }
    slabs_done(&sl);
    if (overflows)
        *overflows += ovf;
    return 0;
}

/* ------------------------------------------------------------------ backward-weight */


/* The full 3 x 3 f32 tile's loop over nv vectors of 8, in assembly (GCC reloaded operands
 * instead of keeping them in registers: 18 loads per 9 FMAs). acc[3*r + o] in and out. */
AVX2_FN static void bww_f32_loop_3x3(const float *g0, const float *g1, const float *g2, const float *x0,
                                     const float *x1, const float *x2, long nv, __m256 *acc)
{
    if (nv <= 0)
        return;
    long q = 0, end = nv * 32;
    __asm__ volatile("vmovups 0(%[acc]), %%ymm0\n\t"
                     "vmovups 32(%[acc]), %%ymm1\n\t"
                     "vmovups 64(%[acc]), %%ymm2\n\t"
                     "vmovups 96(%[acc]), %%ymm3\n\t"
                     "vmovups 128(%[acc]), %%ymm4\n\t"
                     "vmovups 160(%[acc]), %%ymm5\n\t"
                     "vmovups 192(%[acc]), %%ymm6\n\t"
                     "vmovups 224(%[acc]), %%ymm7\n\t"
                     "vmovups 256(%[acc]), %%ymm8\n\t"
                     "1:\n\t"
                     "vmovups (%[g0],%[q]), %%ymm9\n\t"
                     "vmovups (%[g1],%[q]), %%ymm10\n\t"
                     "vmovups (%[g2],%[q]), %%ymm11\n\t"
                     "vmovups (%[x0],%[q]), %%ymm12\n\t"
                     "vmovups (%[x1],%[q]), %%ymm13\n\t"
                     "vmovups (%[x2],%[q]), %%ymm14\n\t"
                     "vfmadd231ps %%ymm12, %%ymm9, %%ymm0\n\t"
                     "vfmadd231ps %%ymm12, %%ymm10, %%ymm3\n\t"
                     "vfmadd231ps %%ymm12, %%ymm11, %%ymm6\n\t"
                     "vfmadd231ps %%ymm13, %%ymm9, %%ymm1\n\t"
                     "vfmadd231ps %%ymm13, %%ymm10, %%ymm4\n\t"
                     "vfmadd231ps %%ymm13, %%ymm11, %%ymm7\n\t"
                     "vfmadd231ps %%ymm14, %%ymm9, %%ymm2\n\t"
                     "vfmadd231ps %%ymm14, %%ymm10, %%ymm5\n\t"
                     "vfmadd231ps %%ymm14, %%ymm11, %%ymm8\n\t"
                     "add $32, %[q]\n\t"
                     "cmp %[end], %[q]\n\t"
                     "jl 1b\n\t"
                     "vmovups %%ymm0, 0(%[acc])\n\t"
                     "vmovups %%ymm1, 32(%[acc])\n\t"
                     "vmovups %%ymm2, 64(%[acc])\n\t"
                     "vmovups %%ymm3, 96(%[acc])\n\t"
                     "vmovups %%ymm4, 128(%[acc])\n\t"
                     "vmovups %%ymm5, 160(%[acc])\n\t"
                     "vmovups %%ymm6, 192(%[acc])\n\t"
                     "vmovups %%ymm7, 224(%[acc])\n\t"
                     "vmovups %%ymm8, 256(%[acc])"
                     : [q] "+r"(q)
                     : [g0] "r"(g0), [g1] "r"(g1), [g2] "r"(g2), [x0] "r"(x0), [x1] "r"(x1),
                       [x2] "r"(x2), [end] "r"(end), [acc] "r"(acc)
                     : "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
                       "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

/* The same for taps at consecutive x offsets (x, x+1, x+2: one kernel row), over nv2 steps of
 * 16: x is loaded once per 8 positions and the shifted windows are made by shuffles (vperm2f128
 * + vpalignr), 4 loads per 9 FMAs instead of 6 (L1 loads are the bottleneck here). */
AVX2_FN static void bww_f32_loop_3x3_row(const float *g0, const float *g1, const float *g2,
                                         const float *x, long nv2, __m256 *acc)
{
    if (nv2 <= 0)
        return;
    long q = 0, end = nv2 * 64;
    __asm__ volatile("vmovups 0(%[acc]), %%ymm0\n\t"
                     "vmovups 32(%[acc]), %%ymm1\n\t"
                     "vmovups 64(%[acc]), %%ymm2\n\t"
                     "vmovups 96(%[acc]), %%ymm3\n\t"
                     "vmovups 128(%[acc]), %%ymm4\n\t"
                     "vmovups 160(%[acc]), %%ymm5\n\t"
                     "vmovups 192(%[acc]), %%ymm6\n\t"
                     "vmovups 224(%[acc]), %%ymm7\n\t"
                     "vmovups 256(%[acc]), %%ymm8\n\t"
                     "vmovups (%[x]), %%ymm12\n\t"
                     "1:\n\t"
                     "vmovups 32(%[x],%[q]), %%ymm15\n\t"
                     "vmovups 0(%[g0],%[q]), %%ymm9\n\t"
                     "vmovups 0(%[g1],%[q]), %%ymm10\n\t"
                     "vmovups 0(%[g2],%[q]), %%ymm11\n\t"
                     "vperm2f128 $0x21, %%ymm15, %%ymm12, %%ymm14\n\t"
                     "vfmadd231ps %%ymm12, %%ymm9, %%ymm0\n\t"
                     "vfmadd231ps %%ymm12, %%ymm10, %%ymm3\n\t"
                     "vfmadd231ps %%ymm12, %%ymm11, %%ymm6\n\t"
                     "vpalignr $4, %%ymm12, %%ymm14, %%ymm13\n\t"
                     "vpalignr $8, %%ymm12, %%ymm14, %%ymm14\n\t"
                     "vfmadd231ps %%ymm13, %%ymm9, %%ymm1\n\t"
                     "vfmadd231ps %%ymm13, %%ymm10, %%ymm4\n\t"
                     "vfmadd231ps %%ymm13, %%ymm11, %%ymm7\n\t"
                     "vfmadd231ps %%ymm14, %%ymm9, %%ymm2\n\t"
                     "vfmadd231ps %%ymm14, %%ymm10, %%ymm5\n\t"
                     "vfmadd231ps %%ymm14, %%ymm11, %%ymm8\n\t"
                     "vmovups 64(%[x],%[q]), %%ymm12\n\t"
                     "vmovups 32(%[g0],%[q]), %%ymm9\n\t"
                     "vmovups 32(%[g1],%[q]), %%ymm10\n\t"
                     "vmovups 32(%[g2],%[q]), %%ymm11\n\t"
                     "vperm2f128 $0x21, %%ymm12, %%ymm15, %%ymm14\n\t"
                     "vfmadd231ps %%ymm15, %%ymm9, %%ymm0\n\t"
                     "vfmadd231ps %%ymm15, %%ymm10, %%ymm3\n\t"
                     "vfmadd231ps %%ymm15, %%ymm11, %%ymm6\n\t"
                     "vpalignr $4, %%ymm15, %%ymm14, %%ymm13\n\t"
                     "vpalignr $8, %%ymm15, %%ymm14, %%ymm14\n\t"
                     "vfmadd231ps %%ymm13, %%ymm9, %%ymm1\n\t"
                     "vfmadd231ps %%ymm13, %%ymm10, %%ymm4\n\t"
                     "vfmadd231ps %%ymm13, %%ymm11, %%ymm7\n\t"
                     "vfmadd231ps %%ymm14, %%ymm9, %%ymm2\n\t"
                     "vfmadd231ps %%ymm14, %%ymm10, %%ymm5\n\t"
                     "vfmadd231ps %%ymm14, %%ymm11, %%ymm8\n\t"
                     "add $64, %[q]\n\t"
                     "cmp %[end], %[q]\n\t"
                     "jl 1b\n\t"
                     "vmovups %%ymm0, 0(%[acc])\n\t"
                     "vmovups %%ymm1, 32(%[acc])\n\t"
                     "vmovups %%ymm2, 64(%[acc])\n\t"
                     "vmovups %%ymm3, 96(%[acc])\n\t"
                     "vmovups %%ymm4, 128(%[acc])\n\t"
                     "vmovups %%ymm5, 160(%[acc])\n\t"
                     "vmovups %%ymm6, 192(%[acc])\n\t"
                     "vmovups %%ymm7, 224(%[acc])\n\t"
                     "vmovups %%ymm8, 256(%[acc])"
                     : [q] "+r"(q)
                     : [g0] "r"(g0), [g1] "r"(g1), [g2] "r"(g2), [x] "r"(x), [end] "r"(end),
                       [acc] "r"(acc)
                     : "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
                       "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

/* Lanes of tile (r, o) accumulate gy[co0+r][q] * x[ci][q + off[o]] over q; out[r*TW+o] += their
 * sum. f32. */
AVX2_INLINE void bww_tile_f32(const int mr, const int no, const float *gf, long Lr, const float *xc,
                              const int *off, long len, float *out)
{
#define DECL(r, o) __m256 a##r##o = _mm256_setzero_ps();
#define STEP(r, o)                                                                               \
    if (r < mr && o < no)                                                                        \
        a##r##o = _mm256_fmadd_ps(g##r, x##o, a##r##o);
#define STORE(r, o)                                                                              \
    if (r < mr && o < no) {                                                                      \
        __m128 v = _mm_add_ps(_mm256_castps256_ps128(a##r##o), _mm256_extractf128_ps(a##r##o, 1)); \
        v = _mm_add_ps(v, _mm_movehl_ps(v, v));                                                  \
        v = _mm_add_ss(v, _mm_movehdup_ps(v));                                                   \
        out[r * TW + o] += _mm_cvtss_f32(v);                                                     \
    }
    TILE9(DECL)
    const float *g0p = gf, *g1p = gf + (mr > 1 ? Lr : 0), *g2p = gf + (mr > 2 ? 2 * Lr : 0);
    const float *x0p = xc + off[0], *x1p = xc + off[no > 1 ? 1 : 0], *x2p = xc + off[no > 2 ? 2 : 0];
    if (mr >= 2 && no == 3) {   /* 2 rows: the third repeats the second, its sums are dropped */
        __m256 acc[9] = {a00, a01, a02, a10, a11, a12, a20, a21, a22};
        if (off[1] == off[0] + 1 && off[2] == off[0] + 2 && len % 16 == 0)
            bww_f32_loop_3x3_row(g0p, g1p, mr == 3 ? g2p : g1p, x0p, len / 16, acc);
        else
            bww_f32_loop_3x3(g0p, g1p, mr == 3 ? g2p : g1p, x0p, x1p, x2p, len / 8, acc);
        a00 = acc[0]; a01 = acc[1]; a02 = acc[2];
        a10 = acc[3]; a11 = acc[4]; a12 = acc[5];
        a20 = acc[6]; a21 = acc[7]; a22 = acc[8];
        len = 0;   /* done */
    }
    for (long q = 0; q < len; q += 8) {
        __m256 g0 = _mm256_loadu_ps(g0p + q), g1 = _mm256_loadu_ps(g1p + q), g2 = _mm256_loadu_ps(g2p + q);
        __m256 x0 = _mm256_loadu_ps(x0p + q);
        STEP(0, 0) STEP(1, 0) STEP(2, 0)
        __m256 x1 = _mm256_loadu_ps(x1p + q);
        STEP(0, 1) STEP(1, 1) STEP(2, 1)
        __m256 x2 = _mm256_loadu_ps(x2p + q);
        STEP(0, 2) STEP(1, 2) STEP(2, 2)
    }
    TILE9(STORE)
#undef DECL
#undef STEP
#undef STORE
}

#define BWW(R, O)                                                                                \
    AVX2_FN static void bww_f32_##R##_##O(const float *gf, long Lr, const float *xc, const int *off, \
                                          long len, float *out)                                  \
    {                                                                                            \
        bww_tile_f32(R, O, gf, Lr, xc, off, len, out);                                           \
    }
BWW(1, 1) BWW(1, 2) BWW(1, 3)
BWW(2, 1) BWW(2, 2) BWW(2, 3)
BWW(3, 1) BWW(3, 2) BWW(3, 3)
typedef void (*bww_f32_fn)(const float *, long, const float *, const int *, long, float *);
static const bww_f32_fn BWW_F32[MRW + 1][TW + 1] = {
    {NULL, NULL, NULL, NULL},
    {NULL, bww_f32_1_1, bww_f32_1_2, bww_f32_1_3},
    {NULL, bww_f32_2_1, bww_f32_2_2, bww_f32_2_3},
    {NULL, bww_f32_3_1, bww_f32_3_2, bww_f32_3_3}};


/* Backward-weight runs over several samples at once: their padded planes (stride P = hp*wp)
 * follow each other on one flat axis, with g_y placed at the same offsets (zero between), so a
 * tile's loop is long enough to pay for the reduction of its lanes even on 8x8 planes. An
 * output position of sample b only ever reads inputs of sample b's plane.
 * Compact stacks (integer sums only: the positions a tile runs over change, which changes the
 * order of float sums but not an exact sum) of a stride-1 conv with "same" padding p share the
 * zeros: a row is w + p wide, its right padding being the next row's left padding, and a sample
 * is h + p rows, its bottom padding being the next sample's top padding. Every tap still reads
 * the value (or a zero) it read in the full layout, and the tiles run over (h+p)(w+p) positions
 * per sample instead of (h+2p)(w+2p): 8x8 planes 81 instead of 100. */
struct stack {
    int B;          /* samples per stack */
    long P;         /* per-sample stride on the flat axis */
    long gs, xs;    /* channel strides of the stacked g_y and x planes */
    long xps;       /* stride 2: stride of x's phase stacks within a channel (xs = 4 * xps) */
    int wx, wg;     /* row strides of x (stride 1; stride 2 keeps its phase planes) and of g_y */
    int off[KMAX * KMAX];   /* tap offsets in the stacked x */
};

static struct stack stack_of(const struct geom *g, long target, int compact)
{
    struct stack st;
    int hq = (g->hp + g->st - 1) / g->st, reach = (g->k - 1) / g->st;
    compact = compact && g->st == 1 && 2 * g->pad == g->k - 1 && g->ho == g->h && g->wo == g->w;
    st.wx = compact ? g->w + g->pad : g->wp;
    st.wg = compact ? st.wx : g->wrow;
    st.P = compact ? (long)(g->h + g->pad) * st.wx : (long)hq * g->wrow;   /* stride 2: a phase plane */
    st.B = (int)((target + st.P - 1) / st.P);
    if (st.B < 1)
        st.B = 1;
    st.gs = (st.B * st.P + NT - 1) / NT * NT;
    /* + the window's look-ahead, and a compact stack's last bottom padding */
    st.xps = (st.gs + (long)reach * (st.wg + 1) + (compact ? (long)g->pad * st.wx : 0) + 16 + 15) / 16 * 16;
    st.xs = g->st == 1 ? st.xps : 4 * st.xps;
    for (int kh = 0; kh < g->k; kh++)
        for (int kw = 0; kw < g->k; kw++)
            st.off[kh * g->k + kw] = g->st == 1 ? kh * st.wx + kw
                                                : ((kh % 2) * 2 + kw % 2) * st.xps +
                                                      (kh / 2) * g->wrow + kw / 2;
    return st;
}

#define DEFINE_STACK_FILL(NAME, T, COPY, PHASE_ROW)                                              \
    /* Sample slot b of the stacks: x's interior, g_y's valid positions. */                      \
    AVX2_FN static void NAME(const struct geom *g, const struct stack *st, int b, const T *x,    \
                             const T *gy, T *xp, T *gf)                                          \
    {                                                                                            \
        for (int c = 0; c < g->cin; c++)                                                         \
            for (int ih = 0; ih < g->h; ih++) {                                                  \
                const T *in = x + ((long)c * g->h + ih) * g->w;                                  \
                if (g->st == 2)                                                                  \
                    PHASE_ROW(g, st->xps, ih + g->pad, in, xp + c * st->xs + b * st->P);         \
                else                                                                             \
                    COPY(xp + c * st->xs + b * st->P + (long)(ih + g->pad) * st->wx + g->pad,    \
                         in, g->w);                                                              \
            }                                                                                    \
        for (int co = 0; co < g->cout; co++)                                                     \
            for (int oh = 0; oh < g->ho; oh++)                                                   \
                COPY(gf + co * st->gs + b * st->P + (long)oh * st->wg,                           \
                     gy + ((long)co * g->ho + oh) * g->wo, g->wo);                               \
    }                                                                                            \
    /* The flat length a stack of nb samples runs over; what lies past nb*P in it is zeroed. */  \
    static long NAME##_len(const struct geom *g, const struct stack *st, int nb, T *gf)          \
    {                                                                                            \
        long used = nb * st->P, len = (used + NT - 1) / NT * NT;                                 \
        for (int co = 0; co < g->cout; co++)                                                     \
            memset(gf + co * st->gs + used, 0, sizeof(T) * (size_t)(len - used));                \
        return len;                                                                              \
    }
DEFINE_STACK_FILL(stack_fill_f32, float, copy_f32, phase_row_f32)
DEFINE_STACK_FILL(stack_fill_i16, int16_t, copy_i16, phase_row_i16)

/* The samples are processed in stacks of st.B, taken by the threads dynamically (a thread that
 * another process holds back does not hold the others up). f32: each stack keeps its own partial
 * sums, added up in stack order, so the result does not depend on the thread count or on which
 * thread took which stack. */
int conv_direct_backward_weight_f32(const struct conv_shape *s, const float *x, const float *gy,
                                    float *gw, struct fx_workspace *ws)
{
    struct geom g;
    geom_of(s, &g);
    struct stack st = stack_of(&g, STACK_F32, 0);
    int threads = omp_get_max_threads();
    long wc = (long)g.cout * g.cin * g.kk;
    int nstacks = (s->n + st.B - 1) / st.B;
    size_t xbytes = align64(sizeof(float) * (size_t)g.cin * st.xs);
    size_t gbytes = align64(sizeof(float) * (size_t)g.cout * st.gs);
    size_t pbytes = align64(sizeof(float) * (size_t)wc);
    struct slabs sl;
    if (slabs_get(&sl, ws, pbytes * (size_t)(nstacks > 0 ? nstacks : 1), xbytes + gbytes, threads))
        return -1;
    float *parts = (float *)sl.shared;
    long plane_in = (long)g.h * g.w, plane_out = (long)g.ho * g.wo;
    int np = panel_count(g.cout, MRW);
#pragma omp parallel num_threads(threads)
    {
        char *mine = slab_of(&sl, omp_get_thread_num());
        float *xp = (float *)mine, *gf = (float *)(mine + xbytes);
        memset(mine, 0, xbytes + gbytes);
#pragma omp for schedule(dynamic, 1)
        for (int sk = 0; sk < nstacks; sk++) {
            int n0 = sk * st.B, nb = imin(st.B, s->n - n0);
            float *part = (float *)((char *)parts + pbytes * (size_t)sk);
            memset(part, 0, sizeof(float) * (size_t)wc);
            for (int b = 0; b < nb; b++)
                stack_fill_f32(&g, &st, b, x + (long)(n0 + b) * g.cin * plane_in,
                               gy + (long)(n0 + b) * g.cout * plane_out, xp, gf);
            long len = stack_fill_f32_len(&g, &st, nb, gf);
            for (int q = 0; q < np; q++) {
                int co0 = panel_start(g.cout, MRW, q), mr = panel_start(g.cout, MRW, q + 1) - co0;
                for (int ci = 0; ci < g.cin; ci++)
                    for (int t0 = 0; t0 < g.kk; t0 += TW) {
                        int no = imin(TW, g.kk - t0);
                        float out[MRW * TW] = {0};
                        BWW_F32[mr][no](gf + (long)co0 * st.gs, st.gs, xp + (long)ci * st.xs, st.off + t0,
                                        len, out);
                        for (int r = 0; r < mr; r++)
                            for (int o = 0; o < no; o++)
                                part[((long)(co0 + r) * g.cin + ci) * g.kk + t0 + o] = out[r * TW + o];
                    }
            }
        }
        /* the stacks' partial sums in stack order (the implicit barrier above completes them) */
#pragma omp for schedule(static)
        for (long i = 0; i < wc; i++) {
            float acc = 0.0f;
            for (int sk = 0; sk < nstacks; sk++)
                acc += ((const float *)((const char *)parts + pbytes * (size_t)sk))[i];
            gw[i] = acc;
        }
    }
    slabs_done(&sl);
    return 0;
}

int conv_direct_backward_weight_i16_ok(const struct conv_shape *s, int bits_x, int bits_g)
{
    return direct_any_ok(s) && gemm_i16_chunk(bits_x, bits_g) >= 2;
}

/* One stack's sums into part: every panel of output channels against every input channel. */
static void bww_stack_i16(const struct geom *g, const struct stack *st, const struct conv_tiles *tiles,
                          const int16_t *xp, const int16_t *gf, long len, long steps, int64_t *part)
{
    int np = panel_count(g->cout, MRW);
    for (int q = 0; q < np; q++) {
        int co0 = panel_start(g->cout, MRW, q), mr = panel_start(g->cout, MRW, q + 1) - co0;
        if (tiles->bww9 && g->kk == 9 && g->st == 1) {
            for (int ci = 0; ci < g->cin; ci++) {
                int64_t out[MRW * 9] = {0};
                tiles->bww9(mr, gf + (long)co0 * st->gs, st->gs, xp + (long)ci * st->xs, st->wx, len, steps, out);
                for (int r = 0; r < mr; r++)
                    for (int t = 0; t < 9; t++)
                        part[((long)(co0 + r) * g->cin + ci) * 9 + t] += out[r * 9 + t];
            }
            continue;
        }
        for (int ci = 0; ci < g->cin; ci++)
            for (int t0 = 0; t0 < g->kk; t0 += TW) {
                int no = imin(TW, g->kk - t0);
                int64_t out[MRW * TW] = {0};
                tiles->bww(mr, no, gf + (long)co0 * st->gs, st->gs, xp + (long)ci * st->xs, st->off + t0,
                           len, steps, out);
                for (int r = 0; r < mr; r++)
                    for (int o = 0; o < no; o++)
                        part[((long)(co0 + r) * g->cin + ci) * g->kk + t0 + o] += out[r * TW + o];
            }
    }
}

/* The stacks of nb samples rounded in place to their most significant bits (m): each code of x
 * and g_y lies once in them, and the padding's zeros stay zeros. Returns the clamped count. */
static uint64_t round_stacks_to_msb(const struct geom *g, const struct stack *st, int nb,
                                    const struct conv_msb *m, int16_t *xp, int16_t *gf)
{
    uint64_t clipped = 0;
    long used = nb * st->P;
    int phases = g->st == 2 ? 4 : 1;
    for (int c = 0; c < g->cin; c++)
        for (int ph = 0; ph < phases; ph++) {
            int16_t *p = xp + (long)c * st->xs + (long)ph * st->xps;
            clipped += fx_round_to_msb(p, used, m->bits_x, m->msb_x, m->x_signed, p);
        }
    for (int co = 0; co < g->cout; co++) {
        int16_t *p = gf + (long)co * st->gs;
        clipped += fx_round_to_msb(p, used, m->bits_g, m->msb_g, 1, p);
    }
    return clipped;
}

/* Each thread's partial sums summed (exact: any order), counted against acc_bits and stored. */
static uint64_t bww_total_i16(const struct slabs *sl, size_t at, int used, long i, int acc_bits, float sx,
                              float sg, int64_t *gw_acc, float *gw)
{
    int64_t acc = 0;
    for (int u = 0; u < used; u++)
        acc += ((const int64_t *)(slab_of(sl, u) + at))[i];
    if (gw_acc)
        gw_acc[i] = acc;
    if (gw)
        gw[i] = fx_dequant_acc(acc, sx, sg);
    return (uint64_t)fx_acc_overflows(acc, acc_bits);
}

int conv_direct_backward_weight_i16(const struct conv_shape *s, const int16_t *x, int bits_x,
                                    const int16_t *gy, int bits_g, float sx, float sg, int acc_bits,
                                    int64_t *gw_acc, float *gw, uint64_t *overflows,
                                    struct conv_msb *msb, struct fx_workspace *ws)
{
    struct geom g;
    geom_of(s, &g);
    struct stack st = stack_of(&g, STACK_I16, 1);
    int threads = omp_get_max_threads();
    const struct conv_tiles *tiles = path_tiles();
    long wc = (long)g.cout * g.cin * g.kk;
    long steps = gemm_i16_chunk(bits_x, bits_g) / 2;   /* madd vectors per int32 lane before a spill */
    size_t xbytes = align64(sizeof(int16_t) * (size_t)g.cin * st.xs);
    size_t gbytes = align64(sizeof(int16_t) * (size_t)g.cout * st.gs);
    size_t pbytes = align64(sizeof(int64_t) * (size_t)wc), mbytes = msb ? pbytes : 0;
    struct slabs sl;
    if (slabs_get(&sl, ws, 0, xbytes + gbytes + pbytes + mbytes, threads))
        return -1;
    long plane_in = (long)g.h * g.w, plane_out = (long)g.ho * g.wo;
    int nstacks = (s->n + st.B - 1) / st.B, used = 1;
    uint64_t ovf = 0, ovf_msb = 0, clipped = 0;
#pragma omp parallel num_threads(threads) reduction(+ : ovf, ovf_msb, clipped)
    {
#pragma omp single
        used = omp_get_num_threads();   /* the slabs whose partials get summed */
        char *mine = slab_of(&sl, omp_get_thread_num());
        int16_t *xp = (int16_t *)mine, *gf = (int16_t *)(mine + xbytes);
        int64_t *part = (int64_t *)(mine + xbytes + gbytes), *part_msb = (int64_t *)(mine + xbytes + gbytes + pbytes);
        memset(mine, 0, xbytes + gbytes + pbytes + mbytes);
        /* stacks taken dynamically; each thread sums into its own partial (exact: any order) */
#pragma omp for schedule(dynamic, 1)
        for (int sk = 0; sk < nstacks; sk++) {
            int n0 = sk * st.B, nb = imin(st.B, s->n - n0);
            for (int b = 0; b < nb; b++)
                stack_fill_i16(&g, &st, b, x + (long)(n0 + b) * g.cin * plane_in,
                               gy + (long)(n0 + b) * g.cout * plane_out, xp, gf);
            long len = stack_fill_i16_len(&g, &st, nb, gf);
            bww_stack_i16(&g, &st, tiles, xp, gf, len, steps, part);
            if (msb) {   /* the next stack's fill rewrites every code the rounding touched */
                clipped += round_stacks_to_msb(&g, &st, nb, msb, xp, gf);
                bww_stack_i16(&g, &st, tiles, xp, gf, len, steps, part_msb);
            }
        }
        /* integer sums are exact: any order gives the same value */
#pragma omp for schedule(static)
        for (long i = 0; i < wc; i++) {
            ovf += bww_total_i16(&sl, xbytes + gbytes, used, i, acc_bits, sx, sg, gw_acc, gw);
            if (msb)
                ovf_msb += bww_total_i16(&sl, xbytes + gbytes + pbytes, used, i, acc_bits, sx, sg, NULL, msb->gw);
        }
    }
    slabs_done(&sl);
    if (overflows)
        *overflows += ovf;
    if (msb) {
        msb->overflows = ovf_msb;
        msb->clipped = clipped;
    }
    return 0;
}

#else /* not x86: the im2col path everywhere */

int conv_direct_ok(const struct conv_shape *s) { (void)s; return 0; }
int conv_direct_strided_ok(const struct conv_shape *s) { (void)s; return 0; }
int conv_direct_forward_i16_ok(const struct conv_shape *s, int bits_x, int bits_w)
{
    (void)s; (void)bits_x; (void)bits_w;
    return 0;
}
int conv_direct_backward_weight_i16_ok(const struct conv_shape *s, int bits_x, int bits_g)
{
    (void)s; (void)bits_x; (void)bits_g;
    return 0;
}
int conv_direct_forward_f32(const struct conv_shape *s, const float *x, const float *w, int transposed,
                            float *y, struct fx_workspace *ws)
{
    (void)s; (void)x; (void)w; (void)transposed; (void)y; (void)ws;
    return -1;
}
int conv_direct_forward_i16(const struct conv_shape *s, const int16_t *x, int bits_x, int x_unsigned,
                            const int16_t *w, int bits_w, int transposed, float sa, const float *sb,
                            int sb_per_channel, int acc_bits, float *y, int add, uint64_t *overflows,
                            struct fx_workspace *ws)
{
    (void)s; (void)x; (void)bits_x; (void)x_unsigned; (void)w; (void)bits_w; (void)transposed; (void)sa; (void)sb;
    (void)sb_per_channel; (void)acc_bits; (void)y; (void)add; (void)overflows; (void)ws;
    return -1;
}
int conv_direct_backward_weight_f32(const struct conv_shape *s, const float *x, const float *gy,
                                    float *gw, struct fx_workspace *ws)
{
    (void)s; (void)x; (void)gy; (void)gw; (void)ws;
    return -1;
}
int conv_direct_backward_weight_i16(const struct conv_shape *s, const int16_t *x, int bits_x,
                                    const int16_t *gy, int bits_g, float sx, float sg, int acc_bits,
                                    int64_t *gw_acc, float *gw, uint64_t *overflows,
                                    struct conv_msb *msb, struct fx_workspace *ws)
{
    (void)s; (void)x; (void)bits_x; (void)gy; (void)bits_g; (void)gw_acc; (void)msb; (void)ws;
    return -1;
}

#endif

