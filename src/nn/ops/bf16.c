/* bfloat16 conversions (see nn/ops/bf16.h for the rounding contract). */
#include "nn/ops/bf16.h"

#include <string.h>

uint16_t bf16_from_f32(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    uint32_t mag = u & 0x7fffffffu;
    if (mag > 0x7f800000u)                       /* NaN: quiet, payload truncated */
        return (uint16_t)((u >> 16) | 0x40u);
    if (mag < 0x00800000u)                       /* zero or denormal: signed zero */
        return (uint16_t)((u >> 16) & 0x8000u);
    /* Nearest, ties to even: adding 0x7fff plus the lsb that stays carries
     * into bit 16 exactly when the dropped half is above the tie, or at the
     * tie with an odd lsb. The largest finite floats carry into inf. */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

void bf16_from_f32_n(uint16_t *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = bf16_from_f32(src[i]);
}
