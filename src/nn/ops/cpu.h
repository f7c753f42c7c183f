/* What this CPU can do, read once with cpuid; which code paths (vector level,
 * BLIS sub-configuration) that allows; and the rule that picks among them. */
#ifndef MLM_OPS_CPU_H
#define MLM_OPS_CPU_H

typedef struct cpu_features {
    int ssse3, avx, avx2, fma, bmi2, avx512f, avx512dq, avx512bw, avx512vl, avx512cd;
    int amd;        /* vendor AuthenticAMD */
    int intel;      /* vendor GenuineIntel */
    int family;     /* display family (base + extended) */
    int model;      /* display model */
} cpu_features;

/* Detected once (thread-safe), then cached. */
const cpu_features *cpu_get(void);

/* "avx512f avx512bw avx2 fma (AMD family 0x19 model 0x11: Zen 4)" */
const char *cpu_describe(void);

/* The generation a cpuid signature belongs to ("Zen 4", "Sapphire
 * Rapids"), or NULL when the rule table does not know it. */
const char *cpu_part_name(const cpu_features *f);

/* The widest vector instructions the elementwise kernels may use (see
 * nn/ops/vec.h): AVX-512 needs F, BW, DQ and VL; AVX2 needs AVX2 and FMA
 * (the kernels never contract to FMA, so every level computes the same
 * floats). */
typedef enum cpu_vec { CPU_VEC_BASE, CPU_VEC_AVX2, CPU_VEC_AVX512 } cpu_vec;

/* This CPU's level, capped by cpu_vec_limit and cpu_vec_force. Thread-safe. */
cpu_vec cpu_vec_level(void);

/* Cap the level (tests compare the levels' results); returns the previous
 * cap. Not for use while kernels run on other threads. */
cpu_vec cpu_vec_limit(cpu_vec max);

/* Whether a CPU with features f can execute level v. */
int cpu_vec_runs(const cpu_features *f, cpu_vec v);

/* "avx512", "avx2", "base". */
const char *cpu_vec_name(cpu_vec v);

/* Which BLIS sub-configuration (kernel set) suits a GEMM on a CPU. Our own
 * names, so that no BLIS type leaves gemm.c. Haswell and the three Zen sets
 * share BLIS 0.9.0's 6x16 micro-kernel and small-matrix (sup) kernels and
 * differ in block sizes; skx has its own 32x12 micro-kernel and no sup
 * kernels; generic is portable C. */
typedef enum cpu_gemm_kernel {
    CPU_GEMM_BLIS_DEFAULT,  /* whatever BLIS picks itself */
    CPU_GEMM_HASWELL,       /* AVX2+FMA, Intel block sizes */
    CPU_GEMM_ZEN3,          /* AVX2+FMA, Zen 3 block sizes */
    CPU_GEMM_SKX,           /* AVX-512 */
    CPU_GEMM_ZEN,           /* AVX2+FMA, Zen 1 block sizes */
    CPU_GEMM_ZEN2,          /* AVX2+FMA, Zen 2 block sizes */
    CPU_GEMM_GENERIC,       /* no vector instructions beyond the SSE2 baseline */
    CPU_GEMM_KERNELS        /* how many */
} cpu_gemm_kernel;

/* Products with fewer rows than this (M) use the small-M choice. */
#define CPU_GEMM_SMALL_M 64

/* The rule, a pure function of the features so that tests can feed it any
 * CPU; see the table in cpu.c for each generation and its measurements.
 * Never picks a kernel set the CPU cannot execute. */
void cpu_gemm_plan(const cpu_features *f, cpu_gemm_kernel *small_m, cpu_gemm_kernel *large_m);

/* Whether a CPU with features f can execute kernel set k (BLIS 0.9.0's AVX2
 * sets are compiled with BMI2 too; skx needs AVX-512 F, DQ, BW, VL). */
int cpu_gemm_runs(const cpu_features *f, cpu_gemm_kernel k);

/* "zen3", "skx", "haswell", "zen", "zen2", "generic", "default". */
const char *cpu_gemm_kernel_name(cpu_gemm_kernel k);

/* The choice in force: the forced one (below), else the plan for this CPU.
 * Thread-safe. */
void cpu_gemm_choice(cpu_gemm_kernel *small_m, cpu_gemm_kernel *large_m);

/* Test-only overrides, so that one machine exercises the arithmetic of the
 * CPUs it is not: tests/check_main.c calls them before any suite runs (the
 * library never reads the environment). Not for use while kernels run on
 * other threads.
 *
 * cpu_vec_force: a ceiling on the level that cpu_vec_limit cannot lift.
 * Returns 0, or -1 (and changes nothing) if this CPU cannot execute v.
 * cpu_gemm_force: these kernel sets for small and large M instead of the
 * plan. Returns 0, or -1 (and changes nothing) if this CPU cannot execute
 * one of them: a forced path must be skipped there, never run into SIGILL.
 * cpu_force_off: back to this CPU's own paths. */
int cpu_vec_force(cpu_vec max);
int cpu_gemm_force(cpu_gemm_kernel small_m, cpu_gemm_kernel large_m);
void cpu_force_off(void);

#endif
