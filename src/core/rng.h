/* Deterministic random numbers: Philox4x32-10 (Salmon et al., "Parallel
 * random numbers: as easy as 1, 2, 3", SC'11), counter-based.
 *
 * Every number is a pure function of (seed, stream, counter): streams with
 * different ids are independent, any position can be produced without
 * producing the ones before it (so dropout can regenerate its mask in the
 * backward pass, and threads can fill disjoint ranges without sharing
 * state), and results never depend on the thread count. */
#ifndef MLM_CORE_RNG_H
#define MLM_CORE_RNG_H

#include <stdint.h>
#include <stddef.h>

/* The 4 words of block `counter` of stream (seed, stream). */
void rng_block(uint64_t seed, uint64_t stream, uint64_t counter, uint32_t out[4]);

/* Philox4x32 constants (Random123). */
#define RNG_PHILOX_M0 0xD2511F53u
#define RNG_PHILOX_M1 0xCD9E8D57u
#define RNG_PHILOX_W0 0x9E3779B9u
#define RNG_PHILOX_W1 0xBB67AE85u

/* Blocks [counter, counter + RNG_LANES) at once: word w of block counter + l
 * goes to out[4·l + w], so out holds the stream's words 4·counter onwards in
 * order. The rounds of rng_block, written lane by lane so that the loops
 * over lanes vectorize where a kernel inlines this (dropout, in
 * nn/ops/kernels.c). Each 32-bit word is kept in a 64-bit lane (upper half
 * zero): the 32x32 -> 64-bit products are then plain 64-bit multiplies of
 * the lanes, which GCC vectorizes without the widening and the 32/64-bit
 * shuffles that 32-bit lanes cost (a third faster on Zen 4, AVX-512). */
#define RNG_LANES 16
static inline __attribute__((always_inline)) void
rng_block_lanes(uint64_t seed, uint64_t stream, uint64_t counter, uint32_t out[4 * RNG_LANES])
{
    const uint64_t lo32 = 0xffffffffu;
    uint64_t c0[RNG_LANES], c1[RNG_LANES], c2[RNG_LANES], c3[RNG_LANES];
    for (int l = 0; l < RNG_LANES; l++) {
        uint64_t c = counter + (uint64_t)l;
        c0[l] = c & lo32;
        c1[l] = c >> 32;
        c2[l] = stream & lo32;
        c3[l] = stream >> 32;
    }
    uint64_t k0 = seed & lo32, k1 = seed >> 32;
    for (int r = 0; r < 10; r++) {
        /* Not unrolled: a loop the vectorizer sees, not 16 scalar copies. */
#pragma GCC unroll 1
        for (int l = 0; l < RNG_LANES; l++) {
            uint64_t p0 = c0[l] * RNG_PHILOX_M0;
            uint64_t p1 = c2[l] * RNG_PHILOX_M1;
            c0[l] = (p1 >> 32) ^ c1[l] ^ k0;
            c1[l] = p1 & lo32;
            c2[l] = (p0 >> 32) ^ c3[l] ^ k1;
            c3[l] = p0 & lo32;
        }
        k0 = (k0 + RNG_PHILOX_W0) & lo32;
        k1 = (k1 + RNG_PHILOX_W1) & lo32;
    }
    for (int l = 0; l < RNG_LANES; l++) {
        out[4 * l] = (uint32_t)c0[l];
        out[4 * l + 1] = (uint32_t)c1[l];
        out[4 * l + 2] = (uint32_t)c2[l];
        out[4 * l + 3] = (uint32_t)c3[l];
    }
}

/* The i-th 32-bit word of a stream: word i%4 of block i/4. */
uint32_t rng_word(uint64_t seed, uint64_t stream, uint64_t i);

/* A 32-bit word as a float uniform in [0, 1): its top 24 bits / 2^24. */
static inline float rng_to_uniform(uint32_t w) { return (float)(w >> 8) * 0x1p-24f; }

/* A sequential reader of one stream (not thread-safe: one per thread). */
typedef struct rng {
    uint64_t seed, stream;
    uint64_t next;      /* index of the next word */
} rng;

void rng_init(rng *r, uint64_t seed, uint64_t stream);
uint32_t rng_u32(rng *r);
float rng_uniform(rng *r);              /* [0, 1) */
float rng_normal(rng *r);               /* N(0, 1), Box-Muller */

/* Bulk fills, word-for-word the same as the sequential readers starting at
 * word index `first` (uniform: one word per value; normal: two words per
 * value pair, see rng_normal). */
void rng_fill_uniform(uint64_t seed, uint64_t stream, uint64_t first, float *out, size_t n,
                      float lo, float hi);
void rng_fill_normal(uint64_t seed, uint64_t stream, uint64_t first, float *out, size_t n,
                     float mean, float std);

#endif
