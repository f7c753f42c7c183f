/* bfloat16, the number format: the top 16 bits of an IEEE float32 (sign, 8
 * exponent bits, 7 mantissa bits), stored as uint16_t so that no compiler
 * type (__bf16) leaks into headers. The conversions here are the reference
 * that every bf16 path reproduces bit for bit (nn/ops/gemm_bf16.c). */
#ifndef MLM_OPS_BF16_H
#define MLM_OPS_BF16_H

#include <stddef.h>
#include <stdint.h>

/* fp32 -> bf16 exactly as vcvtneps2bf16 (AVX512-BF16) rounds, on every CPU:
 * - normal numbers: round to nearest, ties to even (the integer add of
 *   0x7fff + the kept lsb), overflowing to ±inf;
 * - denormals: to zero of the same sign (the instruction flushes them,
 *   whatever MXCSR says; measured on Zen 4 over every 37th denormal);
 * - ±inf: kept; NaN: quiet (bit 6 of the result set), sign and top payload
 *   bits kept.
 * torch's own conversion (c10::BFloat16) differs on the last two: it rounds
 * denormals like normals and turns every NaN into 0x7fc0. */
uint16_t bf16_from_f32(float x);

/* bf16 -> fp32: exact (the low 16 bits zero). */
float bf16_to_f32(uint16_t h);

/* dst[i] = bf16_from_f32(src[i]) for i < n. */
void bf16_from_f32_n(uint16_t *dst, const float *src, size_t n);

#endif
