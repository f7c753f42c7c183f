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
