/* What this CPU can do, read once with cpuid. */
#ifndef MLM_OPS_CPU_H
#define MLM_OPS_CPU_H

typedef struct cpu_features {
    int avx2, fma, avx512f, avx512dq, avx512bw, avx512vl, avx512cd;
    int amd;        /* vendor AuthenticAMD */
    int intel;      /* vendor GenuineIntel */
    int family;     /* display family (base + extended) */
    int model;      /* display model */
} cpu_features;

/* Detected once (thread-safe), then cached. */
const cpu_features *cpu_get(void);

/* "avx512f avx512bw avx2 fma (AMD family 0x19 model 0x11)" */
const char *cpu_describe(void);

/* The widest vector instructions the elementwise kernels may use (see
 * nn/ops/vec.h): AVX-512 needs F, BW, DQ and VL; AVX2 needs AVX2 and FMA
 * (the kernels never contract to FMA, so every level computes the same
 * floats). */
typedef enum cpu_vec { CPU_VEC_BASE, CPU_VEC_AVX2, CPU_VEC_AVX512 } cpu_vec;

/* This CPU's level, capped by cpu_vec_limit. Thread-safe. */
cpu_vec cpu_vec_level(void);

/* Cap the level (tests compare the levels' results); returns the previous
 * cap. Not for use while kernels run on other threads. */
cpu_vec cpu_vec_limit(cpu_vec max);

/* Which BLIS sub-configuration (kernel set) suits a GEMM on a CPU. Our own
 * names, so that no BLIS type leaves gemm.c. */
typedef enum cpu_gemm_kernel {
    CPU_GEMM_BLIS_DEFAULT,  /* whatever BLIS picks itself */
    CPU_GEMM_HASWELL,       /* AVX2+FMA, 6x16 micro-kernel, sup kernels */
    CPU_GEMM_ZEN3,          /* AVX2+FMA, Zen block sizes, sup kernels */
    CPU_GEMM_SKX            /* AVX-512, 32x12 micro-kernel, no sup kernels */
} cpu_gemm_kernel;

/* Products with fewer rows than this (M) use the small-M choice. */
#define CPU_GEMM_SMALL_M 64

/* The rule (a pure function of the features, so tests can feed it any CPU):
 * - no AVX2+FMA: BLIS's own pick for everything;
 * - small M: zen3 on AMD, haswell elsewhere (their sup kernels handle thin
 *   products; skx has none and packs to 32-row panels: on Zen 4, M=12,
 *   N=K=768 gives zen3 86, skx 62 GFLOP/s; on Zen 5 zen3 is 2.5-4x skx);
 * - large M: skx where AVX-512 F/DQ/BW/VL exist and the CPU is not Zen 4
 *   (AMD family 0x19 executes 512-bit FMAs as two 256-bit halves, so skx
 *   gains nothing there: 1024x768x768 gives zen3 105, skx 94 GFLOP/s; on
 *   Zen 5, where Debian's BLIS falls back to generic at ~30, skx reaches
 *   ~170); otherwise the small-M choice. */
void cpu_gemm_plan(const cpu_features *f, cpu_gemm_kernel *small_m, cpu_gemm_kernel *large_m);

/* "zen3", "skx", "haswell", "default". */
const char *cpu_gemm_kernel_name(cpu_gemm_kernel k);

#endif
