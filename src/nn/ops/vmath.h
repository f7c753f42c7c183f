/* Scalar math written so that a loop over it vectorises: no libm calls, no
 * branches (selects only), no reassociation the compiler must not do.
 * Internal to the ops layer. */
#ifndef MLM_OPS_VMATH_H
#define MLM_OPS_VMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Always inlined: a call left in a loop stops its vectorization, and these
 * are inlined into each instruction-set variant of a kernel (nn/ops/vec.h),
 * which GCC's inliner, weighing the copies, would otherwise refuse. */
#define VM_INLINE static inline __attribute__((always_inline))

/* Lanes of the partial sums in the reductions below: 16 floats = one
 * AVX-512 register (two AVX2 ones). The order of additions is fixed by this
 * constant, never by the ISA or the thread count. */
#define VLANES 16

VM_INLINE float v_bits2f(int32_t b)
{
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

/* e^x with ~1 ulp error (Cephes expf: x = n·ln2 + r, |r| <= ln2/2,
 * e^r by a degree-7 polynomial, 2^n built in the exponent bits). Results
 * below 2^-126 flush to 0, above FLT_MAX give +inf; NaN gives NaN. */
VM_INLINE float v_expf(float x)
{
    const float hi = 88.72283905206835f, lo = -87.33654475055310f;
    float xc = x > hi ? hi : x;
    xc = xc < lo ? lo : xc;
    xc = x != x ? 0.0f : xc; /* NaN must not reach the int conversion */
    /* Round to nearest by truncating x/ln2 ± 0.5; the sign taken by copysign
     * rather than a compare, which GCC threads into a branch after the
     * clamps above in some targets' variants (no vectorization). At ±0 both
     * give n = 0. */
    float n = (float)(int32_t)(xc * 1.44269504088896341f + copysignf(0.5f, xc));
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    /* 2^n as two factors: n reaches 128 near FLT_MAX, outside one exponent. */
    int32_t ni = (int32_t)n, n1 = ni / 2, n2 = ni - n1;
    float y = p * v_bits2f((n1 + 127) << 23) * v_bits2f((n2 + 127) << 23);
    y = x < lo ? 0.0f : y;
    y = x > hi ? INFINITY : y;
    return x != x ? x : y;
}

/* erfc(z) for z >= 0 with relative error < 1.2e-7 over the whole range
 * (Numerical Recipes' erfcc, a Chebyshev fit): used as erfc(|z|) so that
 * 1 + erf(z) is accurate on both tails. */
VM_INLINE float v_erfc_pos(float z)
{
    float t = 1.0f / (1.0f + 0.5f * z);
    float p = 0.17087277f;
    p = p * t + -0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t + -1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t + -0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t + -1.26551223f;
    return t * v_expf(-z * z + p);
}

/* Φ(x) = 0.5·(1 + erf(x/√2)), the standard normal CDF, through erfc of |x|
 * so that both tails keep their relative precision (x·Φ(x) for x << 0 is
 * tiny, not 0). The one definition of exact GELU's Φ: the GELU kernels and
 * the bf16 products' fused epilogue must give the same floats. */
VM_INLINE float v_normal_cdf(float x)
{
    float e = v_erfc_pos((x < 0 ? -x : x) * 0.70710678118654752f);
    return x < 0 ? 0.5f * e : 1.0f - 0.5f * e;
}

/* x[i] = x[i] + b[i] (b may be NULL), then x·Φ(x) when gelu is set, for
 * i < n: the floats of ops_bias_forward then ops_gelu_forward, for the
 * products' fused epilogues (ops_gemm_bf16w_epi, ops_gemm_i8w_epi) to run
 * on a tile of C while it is in L1. */
VM_INLINE void v_bias_gelu(float *x, const float *b, int gelu, int n)
{
    if (b)
        for (int i = 0; i < n; i++)
            x[i] = x[i] + b[i];
    if (gelu)
        for (int i = 0; i < n; i++)
            x[i] = x[i] * v_normal_cdf(x[i]);
}

/* Sum / max / dot of n floats with VLANES partial results combined in a fixed
 * order: deterministic, accurate to about log2(n/VLANES) ulps, and a shape
 * the compiler turns into vector code. */
VM_INLINE float v_sum(const float *x, int n)
{
    float acc[VLANES] = {0};
    int i = 0;
    for (; i + VLANES <= n; i += VLANES)
        for (int l = 0; l < VLANES; l++)
            acc[l] += x[i + l];
    for (int l = 0; i < n; i++, l++)
        acc[l] += x[i];
    float s = 0.0f;
    for (int l = 0; l < VLANES; l++)
        s += acc[l];
    return s;
}

VM_INLINE float v_dot(const float *x, const float *y, int n)
{
    float acc[VLANES] = {0};
    int i = 0;
    for (; i + VLANES <= n; i += VLANES)
        for (int l = 0; l < VLANES; l++)
            acc[l] += x[i + l] * y[i + l];
    for (int l = 0; i < n; i++, l++)
        acc[l] += x[i] * y[i];
    float s = 0.0f;
    for (int l = 0; l < VLANES; l++)
        s += acc[l];
    return s;
}

/* The largest of x[0..n) that is not NaN (-inf when there is none). In
 * VLANES lanes, then across them: one running max is a chain of dependent
 * compares, ~3 cycles an element (a beam step's log-softmax takes a
 * million). Exact whatever the order, but for the sign of a zero maximum,
 * which nothing downstream can see (x - (+0) = x - (-0) for every x but a
 * zero, and exp of either zero is 1). */
VM_INLINE float v_max(const float *x, int n)
{
    float acc[VLANES];
    for (int l = 0; l < VLANES; l++)
        acc[l] = -INFINITY;
    int i = 0;
    for (; i + VLANES <= n; i += VLANES)
        for (int l = 0; l < VLANES; l++)
            acc[l] = x[i + l] > acc[l] ? x[i + l] : acc[l];
    for (int l = 0; i < n; i++, l++)
        acc[l] = x[i] > acc[l] ? x[i] : acc[l];
    float m = -INFINITY;
    for (int l = 0; l < VLANES; l++)
        m = acc[l] > m ? acc[l] : m;
    return m;
}

#endif
