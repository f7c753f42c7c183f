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

/* Block versions: e^x and Φ of VM_BLOCK floats at a time, the floats of
 * v_expf and v_normal_cdf (checked for every float but the NaNs, whose
 * sign is left to the compiler on either side), as four vectors of 16
 * lanes in lock step. Why: v_normal_cdf is one chain of ~60 dependent
 * operations (a division, two polynomials, the exponent's bits);
 * compiled as one vector a statement, the core held only a vector or two
 * of it in flight, and on a Xeon exact GELU took ~70 cycles per 16
 * floats, more than the tile products of the FFN whose epilogue it is.
 * Four chains interleaved took 2/3 of the time (1 thread, 41 M floats:
 * 68 → 46 ms). The statements are v_erfc_pos's and v_expf's, in their
 * order, written on GCC's vector types (which clang takes too); each loop
 * over u is one statement for the four vectors. */
#define VM_BLOCK 64

typedef float vm_f16 __attribute__((vector_size(64)));
typedef int32_t vm_i16 __attribute__((vector_size(64)));
#define VM_SPLAT(c) ((vm_f16){0} + (c))
/* m ? a : b, lane by lane (m: all ones or zero, from a comparison) */
#define VM_SEL(m, a, b) ((vm_f16)(((m) & (vm_i16)(a)) | (~(m) & (vm_i16)(b))))
#define VM_EACH for (int u = 0; u < 4; u++)

/* e[u] = v_expf(a[u]) for four vectors, v_expf's statements in its order. */
VM_INLINE void vm_exp4(vm_f16 *e, const vm_f16 *a)
{
    const vm_f16 hi = VM_SPLAT(88.72283905206835f), lo = VM_SPLAT(-87.33654475055310f);
    vm_f16 c[4], n[4], r[4], q[4];
    vm_i16 ni[4], n1[4];
    VM_EACH c[u] = VM_SEL(a[u] > hi, hi, a[u]);
    VM_EACH c[u] = VM_SEL(c[u] < lo, lo, c[u]);
    VM_EACH c[u] = VM_SEL(a[u] != a[u], VM_SPLAT(0.0f), c[u]);
    VM_EACH n[u] = c[u] * 1.44269504088896341f +
                   (vm_f16)(((vm_i16)c[u] & (int32_t)0x80000000) | (vm_i16)VM_SPLAT(0.5f));
    VM_EACH n[u] = __builtin_convertvector(__builtin_convertvector(n[u], vm_i16), vm_f16);
    VM_EACH r[u] = c[u] - n[u] * 0.693359375f;
    VM_EACH r[u] = r[u] - n[u] * -2.12194440e-4f;
    VM_EACH q[u] = VM_SPLAT(1.9875691500e-4f) * r[u] + 1.3981999507e-3f;
    VM_EACH q[u] = q[u] * r[u] + 8.3334519073e-3f;
    VM_EACH q[u] = q[u] * r[u] + 4.1665795894e-2f;
    VM_EACH q[u] = q[u] * r[u] + 1.6666665459e-1f;
    VM_EACH q[u] = q[u] * r[u] + 5.0000001201e-1f;
    VM_EACH q[u] = q[u] * (r[u] * r[u]) + r[u] + 1.0f;
    VM_EACH ni[u] = __builtin_convertvector(n[u], vm_i16);
    VM_EACH n1[u] = ni[u] / 2;
    VM_EACH e[u] = q[u] * (vm_f16)((n1[u] + 127) << 23) * (vm_f16)((ni[u] - n1[u] + 127) << 23);
    VM_EACH e[u] = VM_SEL(a[u] < lo, VM_SPLAT(0.0f), e[u]);
    VM_EACH e[u] = VM_SEL(a[u] > hi, VM_SPLAT(INFINITY), e[u]);
    VM_EACH e[u] = VM_SEL(a[u] != a[u], a[u], e[u]);
}

/* y[i] = v_expf(x[i]) for i < VM_BLOCK, the same floats, four chains
 * at a time (v_normal_cdf_block says why). y may be x. */
VM_INLINE void v_expf_block(float *y, const float *x)
{
    vm_f16 a[4], e[4];
    VM_EACH memcpy(&a[u], x + 16 * u, sizeof a[u]);
    vm_exp4(e, a);
    VM_EACH memcpy(y + 16 * u, &e[u], sizeof e[u]);
}

/* y[i] = v_expf(x[i] - m) for i < VM_BLOCK (softmax, the losses' sums and
 * gradient). y may be x. */
VM_INLINE void v_expf_minus_block(float *y, const float *x, float m)
{
    float t[VM_BLOCK];
    for (int k = 0; k < VM_BLOCK; k++)
        t[k] = x[k] - m;
    v_expf_block(y, t);
}

/* cdf[i] = v_normal_cdf(x[i]) for i < VM_BLOCK, the same floats (the GELU
 * kernels and the products' epilogues). cdf may be x. */
VM_INLINE void v_normal_cdf_block(float *cdf, const float *x)
{
    vm_f16 xv[4], t[4], p[4], a[4], e[4];
    VM_EACH memcpy(&xv[u], x + 16 * u, sizeof xv[u]);
    /* v_erfc_pos(|x|/√2) */
    VM_EACH a[u] = (vm_f16)((vm_i16)xv[u] & 0x7fffffff) * 0.70710678118654752f;
    VM_EACH t[u] = 1.0f / (1.0f + 0.5f * a[u]);
    VM_EACH p[u] = VM_SPLAT(0.17087277f) * t[u] + -0.82215223f;
    VM_EACH p[u] = p[u] * t[u] + 1.48851587f;
    VM_EACH p[u] = p[u] * t[u] + -1.13520398f;
    VM_EACH p[u] = p[u] * t[u] + 0.27886807f;
    VM_EACH p[u] = p[u] * t[u] + -0.18628806f;
    VM_EACH p[u] = p[u] * t[u] + 0.09678418f;
    VM_EACH p[u] = p[u] * t[u] + 0.37409196f;
    VM_EACH p[u] = p[u] * t[u] + 1.00002368f;
    VM_EACH p[u] = p[u] * t[u] + -1.26551223f;
    VM_EACH a[u] = (-a[u]) * a[u] + p[u];
    vm_exp4(e, a);
    /* erfc = t·e; Φ from it */
    VM_EACH e[u] = 0.5f * (t[u] * e[u]);
    VM_EACH e[u] = VM_SEL(xv[u] < 0.0f, e[u], 1.0f - e[u]);
    VM_EACH memcpy(cdf + 16 * u, &e[u], sizeof e[u]);
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
    if (!gelu)
        return;
    int i = 0;
    for (float c[VM_BLOCK]; i + VM_BLOCK <= n; i += VM_BLOCK) {
        v_normal_cdf_block(c, x + i);
        for (int k = 0; k < VM_BLOCK; k++)
            x[i + k] = x[i + k] * c[k];
    }
    for (; i < n; i++)
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
