/* One loop body, compiled for several vector instruction sets and chosen at
 * run time: the elementwise kernels (kernels.c, loss.c) and the optimizer
 * (train/adamw.c) are plain C loops that the compiler vectorizes for
 * whichever target it compiles them for. The build's baseline on x86-64 is
 * SSE2 (4 lanes); AVX2 gives 8 and AVX-512 16, with masked tails.
 *
 * Every level computes the same floats: the bodies never ask for FMA and
 * the library is built with contraction off (-std=c11 / -ffp-contract=off),
 * and vectorizing a loop of independent elements reorders nothing. Loops
 * that reduce do so in VLANES partial sums whatever the width (vmath.h).
 *
 * Usage, for a par_fn:
 *     static VEC_INLINE void scale_body(void *arg, size_t begin, size_t end) { ... }
 *     VEC_DISPATCH(scale)      // defines static void scale(void *, size_t, size_t)
 */
#ifndef MLM_OPS_VEC_H
#define MLM_OPS_VEC_H

#include <stddef.h>

#include "nn/ops/cpu.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define VEC_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))
#define VEC_TARGET_AVX2 __attribute__((target("avx2")))
#define VEC_INLINE inline __attribute__((always_inline))

#define VEC_DISPATCH(name)                                                                 \
    static VEC_TARGET_AVX512 void name##_avx512(void *arg, size_t begin, size_t end)        \
    {                                                                                      \
        name##_body(arg, begin, end);                                                      \
    }                                                                                      \
    static VEC_TARGET_AVX2 void name##_avx2(void *arg, size_t begin, size_t end)            \
    {                                                                                      \
        name##_body(arg, begin, end);                                                      \
    }                                                                                      \
    static void name##_base(void *arg, size_t begin, size_t end)                           \
    {                                                                                      \
        name##_body(arg, begin, end);                                                      \
    }                                                                                      \
    static void name(void *arg, size_t begin, size_t end)                                  \
    {                                                                                      \
        switch (cpu_vec_level()) {                                                         \
        case CPU_VEC_AVX512: name##_avx512(arg, begin, end); break;                        \
        case CPU_VEC_AVX2: name##_avx2(arg, begin, end); break;                            \
        default: name##_base(arg, begin, end); break;                                      \
        }                                                                                  \
    }
#else
#define VEC_INLINE inline
#define VEC_DISPATCH(name)                                                                 \
    static void name(void *arg, size_t begin, size_t end) { name##_body(arg, begin, end); }
#endif

#endif
