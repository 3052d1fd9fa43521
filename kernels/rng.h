/* Counter-based random numbers: every draw is a pure function of (seed, stream, counter), so
 * results do not depend on thread count or call order. Streams name what the draw is for
 * (a tensor's stochastic rounding, data augmentation, SMD, SLU sampling...); counters index
 * elements or iterations. Callers combine indices with rng_key(). */
#ifndef E2_RNG_H
#define E2_RNG_H

#include <stdint.h>

/* SplitMix64's finalizer: a bijective avalanche mix of 64 bits. */
static inline uint64_t rng_mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Fold one more index into a key, e.g. rng_key(rng_key(seed, iteration), tensor_id). */
static inline uint64_t rng_key(uint64_t key, uint64_t index)
{
    return rng_mix(key ^ rng_mix(index + 0x632be59bd9b4e019ull));
}

/* 64 random bits for element `counter` of stream `key`. */
static inline uint64_t rng_u64(uint64_t key, uint64_t counter)
{
    return rng_mix(rng_mix(key) ^ (counter * 0xd1b54a32d192ed03ull + 0x8cb92ba72f3d8dd7ull));
}

/* Uniform in [0, 1) with 24 random bits (exactly representable as float). */
static inline float rng_uniform(uint64_t key, uint64_t counter)
{
    return (float)(rng_u64(key, counter) >> 40) * (1.0f / 16777216.0f);
}

/* Uniform integer in [0, n) (n > 0), by multiply-shift on 32 bits (bias < n / 2^32). */
static inline uint32_t rng_below(uint64_t key, uint64_t counter, uint32_t n)
{
    return (uint32_t)(((rng_u64(key, counter) >> 32) * (uint64_t)n) >> 32);
}

/* Well-known streams, so that two modules never draw the same numbers by accident. */
enum rng_stream {
    RNG_STREAM_INIT = 1,      /* weight initialization */
    RNG_STREAM_DATA_ORDER,    /* epoch shuffles */
    RNG_STREAM_AUGMENT,       /* crops and flips */
    RNG_STREAM_ROUNDING,      /* stochastic rounding */
    RNG_STREAM_SMD,           /* mini-batch dropping */
    RNG_STREAM_SLU,           /* gate sampling */
    RNG_STREAM_SD,            /* stochastic depth */
    RNG_STREAM_SYNTHETIC,     /* synthetic data set */
};

#endif
