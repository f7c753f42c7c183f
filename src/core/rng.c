#include "core/rng.h"

#include <math.h>

#define PHILOX_M0 RNG_PHILOX_M0
#define PHILOX_M1 RNG_PHILOX_M1
#define PHILOX_W0 RNG_PHILOX_W0
#define PHILOX_W1 RNG_PHILOX_W1

static inline void philox_round(uint32_t c[4], const uint32_t k[2])
{
    uint64_t p0 = (uint64_t)PHILOX_M0 * c[0];
    uint64_t p1 = (uint64_t)PHILOX_M1 * c[2];
    uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
    uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    uint32_t n0 = hi1 ^ c[1] ^ k[0];
    uint32_t n2 = hi0 ^ c[3] ^ k[1];
    c[0] = n0;
    c[1] = lo1;
    c[2] = n2;
    c[3] = lo0;
}

/* Counter = (counter lo, counter hi, stream lo, stream hi); key = seed. */
void rng_block(uint64_t seed, uint64_t stream, uint64_t counter, uint32_t out[4])
{
    uint32_t c[4] = {(uint32_t)counter, (uint32_t)(counter >> 32), (uint32_t)stream,
                     (uint32_t)(stream >> 32)};
    uint32_t k[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    for (int r = 0; r < 10; r++) {
        philox_round(c, k);
        k[0] += PHILOX_W0;
        k[1] += PHILOX_W1;
    }
    out[0] = c[0];
    out[1] = c[1];
    out[2] = c[2];
    out[3] = c[3];
}

uint32_t rng_word(uint64_t seed, uint64_t stream, uint64_t i)
{
    uint32_t b[4];
    rng_block(seed, stream, i >> 2, b);
    return b[i & 3];
}

void rng_init(rng *r, uint64_t seed, uint64_t stream)
{
    r->seed = seed;
    r->stream = stream;
    r->next = 0;
}

uint32_t rng_u32(rng *r) { return rng_word(r->seed, r->stream, r->next++); }

float rng_uniform(rng *r) { return rng_to_uniform(rng_u32(r)); }

/* Box-Muller from the word pair (2j, 2j+1): u1 in (0, 1] so log never sees
 * 0; the cosine branch only (one normal per pair keeps every value a pure
 * function of its index). */
static float normal_from(uint32_t w1, uint32_t w2)
{
    double u1 = ((double)(w1 >> 8) + 1.0) * 0x1p-24;
    double u2 = (double)(w2 >> 8) * 0x1p-24;
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

float rng_normal(rng *r)
{
    /* Keep pairs aligned so that the bulk fill gives the same values. */
    if (r->next & 1)
        r->next++;
    uint32_t w1 = rng_word(r->seed, r->stream, r->next);
    uint32_t w2 = rng_word(r->seed, r->stream, r->next + 1);
    r->next += 2;
    return normal_from(w1, w2);
}

void rng_fill_uniform(uint64_t seed, uint64_t stream, uint64_t first, float *out, size_t n,
                      float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        out[i] = lo + (hi - lo) * rng_to_uniform(rng_word(seed, stream, first + i));
}

void rng_fill_normal(uint64_t seed, uint64_t stream, uint64_t first, float *out, size_t n,
                     float mean, float std)
{
    uint64_t w = (first + 1) & ~(uint64_t)1;  /* pair-aligned, as rng_normal */
    for (size_t i = 0; i < n; i++, w += 2)
        out[i] = mean + std * normal_from(rng_word(seed, stream, w), rng_word(seed, stream, w + 1));
}
