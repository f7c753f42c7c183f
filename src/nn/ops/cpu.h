/* What this CPU can do, read once with cpuid; which code paths (vector level,
 * BLIS sub-configuration) that allows; and the rule that picks among them. */
#ifndef MLM_OPS_CPU_H
#define MLM_OPS_CPU_H

typedef struct cpu_features {
    int ssse3, avx, avx2, fma, bmi2, avx512f, avx512dq, avx512bw, avx512vl, avx512cd;
    /* Reduced-precision units (issue #15); each 1 only when the OS saves
     * the registers it uses (XCR0): AVX-512 state for the avx512 ones, YMM
     * for avx_vnni, the tile state (XCR0 bits 17-18) for AMX. AMX also
     * needs the tile data permission per process: cpu_amx_request(). */
    int avx512_bf16;    /* vdpbf16ps, vcvtneps2bf16 (Cooper Lake, Zen 4/5, SPR) */
    int avx512_vnni;    /* vpdpbusd on zmm (Cascade Lake, Ice Lake, Zen 4/5) */
    int avx_vnni;       /* vpdpbusd on ymm, VEX-encoded (Alder Lake, SPR) */
    int amx_tile, amx_bf16, amx_int8;   /* Sapphire Rapids and later */
    int amd;        /* vendor AuthenticAMD */
    int intel;      /* vendor GenuineIntel */
    int family;     /* display family (base + extended) */
    int model;      /* display model */
} cpu_features;

/* The reduced-precision fields of f from cpuid leaf 7's registers
 * (subleaf 0: ecx and edx; subleaf 1: eax; 0 where the leaf is absent) and
 * XCR0 (0 without OSXSAVE). A pure function, so that tests can feed it any
 * CPU's registers; cpu_get() calls it with this CPU's. */
void cpu_decode_reduced(cpu_features *f, unsigned long long xcr0, unsigned leaf7_ecx,
                        unsigned leaf7_edx, unsigned leaf7_1_eax);

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

/* Whether a CPU with features f can run the AVX512-BF16 GEMM kernel
 * (nn/ops/gemm_bf16.c): AVX512-BF16 on top of the AVX-512 vector level. */
int cpu_bf16_runs(const cpu_features *f);

/* Whether ops_gemm_bf16w uses the AVX512-BF16 kernel now: this CPU can
 * (cpu_bf16_runs), the vector level is AVX-512 (a CPU forced to AVX2 has
 * no AVX-512 units at all), and neither cpu_bf16_limit nor cpu_bf16_force
 * turned it off. Thread-safe. */
int cpu_bf16_level(void);

/* Tests: 0 turns the AVX512-BF16 kernel off (the portable path computes
 * the same floats), 1 allows it again; returns the previous setting. Not
 * for use while kernels run on other threads. */
int cpu_bf16_limit(int on);

/* Whether a CPU with features f can run the AVX512-VNNI int8 GEMM kernel
 * (nn/ops/gemm_i8.c): AVX512-VNNI on top of the AVX-512 vector level. */
int cpu_vnni_runs(const cpu_features *f);

/* Whether ops_gemm_i8w uses the AVX512-VNNI kernel now: this CPU can
 * (cpu_vnni_runs), the vector level is AVX-512, and neither cpu_vnni_limit
 * nor cpu_vnni_force turned it off. Thread-safe. */
int cpu_vnni_level(void);

/* Tests: 0 turns the AVX512-VNNI kernel off (the portable path computes
 * the same floats), 1 allows it again; returns the previous setting. Not
 * for use while kernels run on other threads. */
int cpu_vnni_limit(int on);

/* The tile path (nn/ops/amx.h) of the bf16 and the int8 products. */
typedef enum cpu_amx {
    CPU_AMX_NONE,   /* not used: the AVX-512 kernels or the portable paths */
    CPU_AMX_HW,     /* the tile instructions */
    CPU_AMX_MODEL   /* the same path on the software model (tests only) */
} cpu_amx;

/* Which tile path the bf16 products (cpu_amx_bf16_level) and the int8
 * ones (cpu_amx_int8_level) take now: CPU_AMX_HW when this CPU has
 * AMX-BF16 (AMX-INT8), Linux granted the tile state (cpu_amx_request), the
 * vector level is AVX-512 (a CPU forced to AVX2 or below has no tiles
 * either) and neither cpu_amx_limit nor cpu_amx_force turned it off;
 * CPU_AMX_MODEL when cpu_amx_force asked for the model, on any CPU (unless
 * cpu_amx_limit turned it off); else CPU_AMX_NONE. Thread-safe. */
cpu_amx cpu_amx_bf16_level(void);
cpu_amx cpu_amx_int8_level(void);

/* Tests: 0 turns the tile path off (the other paths then run), 1 allows it
 * again; returns the previous setting. Not for use while kernels run on
 * other threads. */
int cpu_amx_limit(int on);

/* "avx512_bf16 yes, avx512_vnni yes, avx_vnni no, amx_bf16 no, amx_int8
 * no" for f. */
const char *cpu_reduced_describe(const cpu_features *f, char *buf, unsigned size);

/* Asks Linux for the AMX tile data state (arch_prctl ARCH_REQ_XCOMP_PERM,
 * XFEATURE_XTILEDATA), which a process needs before its first tile
 * instruction (else SIGILL). Once per process; thread-safe. Returns 0 when
 * granted, -1 when this CPU has no AMX or the kernel refused. Only an AMX
 * code path calls it (cpu_amx_bf16_level and cpu_amx_int8_level, on a CPU
 * that has the tiles): on other CPUs it is never called. */
int cpu_amx_request(void);

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
/* cpu_bf16_force: off (0) turns the AVX512-BF16 kernel off until
 * cpu_force_off, a ceiling cpu_bf16_limit cannot lift. */
void cpu_bf16_force(int on);
/* cpu_vnni_force: the same for the AVX512-VNNI kernel. */
void cpu_vnni_force(int on);
/* cpu_amx_force: CPU_AMX_NONE turns the tile path off, CPU_AMX_MODEL runs
 * it on the software model even where the hardware has tiles (so that CI on
 * any CPU exercises it), CPU_AMX_HW is the default (the hardware where
 * there is one). Returns the previous setting. */
cpu_amx cpu_amx_force(cpu_amx mode);
int cpu_gemm_force(cpu_gemm_kernel small_m, cpu_gemm_kernel large_m);
void cpu_force_off(void);

#endif
