#include "nn/ops/cpu.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long xgetbv0(void)
{
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}
#endif

void cpu_decode_reduced(cpu_features *f, unsigned long long xcr0, unsigned leaf7_ecx,
                        unsigned leaf7_edx, unsigned leaf7_1_eax)
{
    /* XCR0: 1-2 SSE/AVX state, 5-7 opmask and the upper zmm halves, 17-18
     * the tile configuration and data. */
    int ymm_ok = (xcr0 & 0x6) == 0x6;
    int zmm_ok = (xcr0 & 0xe6) == 0xe6;
    int tile_ok = (xcr0 & 0x60000) == 0x60000;
    f->avx512_vnni = zmm_ok && ((leaf7_ecx >> 11) & 1);
    f->amx_bf16 = tile_ok && ((leaf7_edx >> 22) & 1);
    f->amx_tile = tile_ok && ((leaf7_edx >> 24) & 1);
    f->amx_int8 = tile_ok && ((leaf7_edx >> 25) & 1);
    f->avx_vnni = ymm_ok && ((leaf7_1_eax >> 4) & 1);
    f->avx512_bf16 = zmm_ok && ((leaf7_1_eax >> 5) & 1);
    if (!f->amx_tile)   /* the bf16 and int8 tile operations need the tiles */
        f->amx_bf16 = f->amx_int8 = 0;
}

static cpu_features features;
static char description[200];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void detect(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned int a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d))
        goto describe;
    unsigned int max_leaf = a;
    char vendor[13];
    memcpy(vendor, &b, 4);
    memcpy(vendor + 4, &d, 4);
    memcpy(vendor + 8, &c, 4);
    vendor[12] = '\0';
    features.amd = strcmp(vendor, "AuthenticAMD") == 0;
    features.intel = strcmp(vendor, "GenuineIntel") == 0;

    __get_cpuid(1, &a, &b, &c, &d);
    int base_family = (a >> 8) & 0xf, base_model = (a >> 4) & 0xf;
    features.family = base_family == 0xf ? base_family + (int)((a >> 20) & 0xff) : base_family;
    features.model = (base_family == 0xf || base_family == 0x6)
                         ? base_model | (int)(((a >> 16) & 0xf) << 4) : base_model;
    int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
    features.ssse3 = (c >> 9) & 1;
    /* The OS must save the registers, or the instructions fault. */
    unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
    int ymm_ok = (xcr0 & 0x6) == 0x6;
    int zmm_ok = (xcr0 & 0xe6) == 0xe6;
    features.avx = avx && ymm_ok;
    if (max_leaf >= 7) {
        __get_cpuid_count(7, 0, &a, &b, &c, &d);
        features.avx2 = avx && ymm_ok && ((b >> 5) & 1);
        features.fma = fma && ymm_ok;
        features.bmi2 = (b >> 8) & 1;
        features.avx512f = zmm_ok && ((b >> 16) & 1);
        features.avx512dq = zmm_ok && ((b >> 17) & 1);
        features.avx512cd = zmm_ok && ((b >> 28) & 1);
        features.avx512bw = zmm_ok && ((b >> 30) & 1);
        features.avx512vl = zmm_ok && ((b >> 31) & 1);
        unsigned ecx7 = c, edx7 = d, eax7_1 = 0;
        if (a >= 1) {   /* eax of subleaf 0: the highest subleaf */
            __get_cpuid_count(7, 1, &a, &b, &c, &d);
            eax7_1 = a;
        }
        cpu_decode_reduced(&features, xcr0, ecx7, edx7, eax7_1);
    }
describe:
#endif
    ;
    const char *part = cpu_part_name(&features);
    snprintf(description, sizeof description, "%s%s%s%s (%s family 0x%x model 0x%x%s%s)",
             features.avx512f ? "avx512f " : "", features.avx512bw ? "avx512bw " : "",
             features.avx2 ? "avx2 " : "", features.fma ? "fma" : "",
             features.amd ? "AMD" : features.intel ? "Intel" : "other",
             (unsigned)features.family, (unsigned)features.model, part ? ": " : "",
             part ? part : "");
}

const cpu_features *cpu_get(void)
{
    pthread_once(&once, detect);
    return &features;
}

const char *cpu_describe(void)
{
    pthread_once(&once, detect);
    return description;
}

/* ---------------------------------------------------------------- vector level */

/* The forced ceiling (cpu_vec_force) and the tests' cap (cpu_vec_limit). */
static _Atomic int vec_forced = CPU_VEC_AVX512;
static _Atomic int vec_cap = CPU_VEC_AVX512;

int cpu_vec_runs(const cpu_features *f, cpu_vec v)
{
    switch (v) {
    case CPU_VEC_AVX512: return f->avx512f && f->avx512bw && f->avx512dq && f->avx512vl;
    case CPU_VEC_AVX2: return f->avx2 && f->fma;
    case CPU_VEC_BASE: break;
    }
    return 1;
}

const char *cpu_vec_name(cpu_vec v)
{
    return v == CPU_VEC_AVX512 ? "avx512" : v == CPU_VEC_AVX2 ? "avx2" : "base";
}

cpu_vec cpu_vec_level(void)
{
    const cpu_features *f = cpu_get();
    int level = cpu_vec_runs(f, CPU_VEC_AVX512) ? CPU_VEC_AVX512
                : cpu_vec_runs(f, CPU_VEC_AVX2) ? CPU_VEC_AVX2
                                                 : CPU_VEC_BASE;
    int forced = vec_forced, cap = vec_cap;
    if (forced < level)
        level = forced;
    if (cap < level)
        level = cap;
    return (cpu_vec)level;
}

cpu_vec cpu_vec_limit(cpu_vec max)
{
    int old = vec_cap;
    vec_cap = (int)max;
    return (cpu_vec)old;
}

int cpu_vec_force(cpu_vec max)
{
    if (!cpu_vec_runs(cpu_get(), max))
        return -1;
    vec_forced = (int)max;
    return 0;
}

/* ---------------------------------------------------------------- GEMM kernels */

/* The rule, per generation. Measured (1 thread, GFLOP/s, BLIS 0.9.0):
 *
 * - small M (< 64: inference on a few tokens): the sets with sup kernels
 *   (haswell, zen*) handle thin products without packing; skx has none and
 *   packs to 32-row panels. On Zen 4, M=12, N=K=768: zen3 86, skx 62; on
 *   Zen 5 zen3 is 2.5-4x skx. So never skx here.
 * - large M: skx where the core has two 512-bit FMA pipes. Zen 4 executes a
 *   512-bit FMA as two 256-bit halves, so skx gains nothing there:
 *   1024x768x768 gives zen3 105, skx 94. On Zen 5 skx reaches ~170, where
 *   Debian's BLIS (no zen4/zen5 set) falls back to generic at ~30.
 *
 * Unmeasured rows say so. Intel's client parts with AVX-512 (Cannon,
 * Ice, Tiger and Rocket Lake) have one 512-bit FMA pipe (ports 0+1 fused),
 * the same peak as two 256-bit ones: haswell for large M by analogy with
 * Zen 4; BLIS's own pick agrees (it counts FMA pipes from the brand string
 * and chooses haswell on them). Some Skylake-SP/Cascade Lake SKUs (Silver,
 * Bronze, most Gold 5xxx) have one pipe too; cpuid cannot tell them apart
 * from the rest of model 0x55, and they keep the server rule. The AMD
 * generations follow Linux's model ranges (arch/x86/kernel/cpu/amd.c, from
 * memory, not checked against the source here). Zen 5's mobile parts
 * (Strix Point 0x20-0x2f, Krackan 0x60-0x6f) run 512-bit operations as two
 * halves like Zen 4; unmeasured, they keep the Zen 5 rule.
 *
 * Zen 1 and 2 get BLIS's set for their own block sizes (the same
 * micro-kernels as zen3): unmeasured, as are Zen 3 (zen3, BLIS's own
 * pick) and every Intel row. */
typedef struct cpu_part {
    int amd;                    /* 1: AuthenticAMD, 0: GenuineIntel */
    int family, model_lo, model_hi;
    const char *name;
    cpu_gemm_kernel small_m, large_m;
} cpu_part;

static const cpu_part parts[] = {
    /* Intel servers: two 512-bit FMA pipes (most SKUs); unmeasured but for
     * a Xeon with AMX (xeon_amx below) */
    {0, 0x06, 0x55, 0x55, "Skylake-SP/Cascade Lake", CPU_GEMM_HASWELL, CPU_GEMM_SKX},
    {0, 0x06, 0x6a, 0x6a, "Ice Lake-SP", CPU_GEMM_HASWELL, CPU_GEMM_SKX},
    {0, 0x06, 0x6c, 0x6c, "Ice Lake-D", CPU_GEMM_HASWELL, CPU_GEMM_SKX},
    {0, 0x06, 0x8f, 0x8f, "Sapphire Rapids", CPU_GEMM_HASWELL, CPU_GEMM_SKX},
    {0, 0x06, 0xcf, 0xcf, "Emerald Rapids", CPU_GEMM_HASWELL, CPU_GEMM_SKX},
    {0, 0x06, 0xad, 0xae, "Granite Rapids", CPU_GEMM_HASWELL, CPU_GEMM_SKX},
    /* Intel clients with AVX-512: one 512-bit FMA pipe; unmeasured */
    {0, 0x06, 0x66, 0x66, "Cannon Lake", CPU_GEMM_HASWELL, CPU_GEMM_HASWELL},
    {0, 0x06, 0x7d, 0x7e, "Ice Lake", CPU_GEMM_HASWELL, CPU_GEMM_HASWELL},
    {0, 0x06, 0x8c, 0x8d, "Tiger Lake", CPU_GEMM_HASWELL, CPU_GEMM_HASWELL},
    {0, 0x06, 0xa7, 0xa7, "Rocket Lake", CPU_GEMM_HASWELL, CPU_GEMM_HASWELL},
    /* AMD */
    {1, 0x17, 0x00, 0x2f, "Zen/Zen+", CPU_GEMM_ZEN, CPU_GEMM_ZEN},
    {1, 0x17, 0x50, 0x5f, "Zen/Zen+", CPU_GEMM_ZEN, CPU_GEMM_ZEN},
    {1, 0x17, 0x30, 0x4f, "Zen 2", CPU_GEMM_ZEN2, CPU_GEMM_ZEN2},
    {1, 0x17, 0x60, 0xaf, "Zen 2", CPU_GEMM_ZEN2, CPU_GEMM_ZEN2},
    {1, 0x19, 0x00, 0x0f, "Zen 3", CPU_GEMM_ZEN3, CPU_GEMM_ZEN3},
    {1, 0x19, 0x20, 0x5f, "Zen 3", CPU_GEMM_ZEN3, CPU_GEMM_ZEN3},
    {1, 0x19, 0x10, 0x1f, "Zen 4", CPU_GEMM_ZEN3, CPU_GEMM_ZEN3},   /* measured */
    {1, 0x19, 0x60, 0xaf, "Zen 4", CPU_GEMM_ZEN3, CPU_GEMM_ZEN3},
    {1, 0x1a, 0x00, 0x2f, "Zen 5", CPU_GEMM_ZEN3, CPU_GEMM_SKX},    /* measured */
    {1, 0x1a, 0x40, 0x4f, "Zen 5", CPU_GEMM_ZEN3, CPU_GEMM_SKX},
    {1, 0x1a, 0x60, 0x7f, "Zen 5", CPU_GEMM_ZEN3, CPU_GEMM_SKX},
};

/* Every CPU with AMX is a Xeon server (Sapphire Rapids and later, two
 * 512-bit FMA pipes), whatever model number a hypervisor shows: one VM here
 * reported Rocket Lake's 0xa7 with AMX tiles, where BLIS's skx set ran the
 * 1024-row products of a forward at 148-161 GFLOP/s against haswell's
 * 93-99 (1 thread; 2 threads 292-318 against 110-198), and haswell kept
 * the lead at 12 rows (93-94 against 87-90). */
static const cpu_part xeon_amx = {0, 0x06, 0, 0, "a Xeon with AMX; the model number is a "
                                  "hypervisor's", CPU_GEMM_HASWELL, CPU_GEMM_SKX};

static const cpu_part *find_part(const cpu_features *f)
{
    if (!f->amd && !f->intel)
        return NULL;
    const cpu_part *found = NULL;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0] && !found; i++) {
        const cpu_part *p = &parts[i];
        if (p->amd == f->amd && p->family == f->family && f->model >= p->model_lo &&
            f->model <= p->model_hi)
            found = p;
    }
    if (f->intel && f->amx_tile && (!found || found->large_m != CPU_GEMM_SKX))
        return &xeon_amx;
    return found;
}

const char *cpu_part_name(const cpu_features *f)
{
    const cpu_part *p = find_part(f);
    return p ? p->name : NULL;
}

int cpu_gemm_runs(const cpu_features *f, cpu_gemm_kernel k)
{
    int avx2 = f->avx2 && f->fma && f->bmi2;
    switch (k) {
    case CPU_GEMM_SKX: return avx2 && cpu_vec_runs(f, CPU_VEC_AVX512);
    case CPU_GEMM_HASWELL:
    case CPU_GEMM_ZEN:
    case CPU_GEMM_ZEN2:
    case CPU_GEMM_ZEN3: return avx2;
    case CPU_GEMM_GENERIC:          /* portable C */
    case CPU_GEMM_BLIS_DEFAULT:     /* BLIS checks the CPU itself */
    case CPU_GEMM_KERNELS: break;
    }
    return 1;
}

/* A CPU the table does not name: by its features. Intel's (and other
 * vendors') with AVX-512 are taken for servers (later Xeons); AMD's before
 * Zen (Excavator has AVX2) get BLIS's own pick; AMD's after Zen 5 the Zen 5
 * rule. */
static void plan_by_features(const cpu_features *f, cpu_gemm_kernel *small_m,
                             cpu_gemm_kernel *large_m)
{
    int wide = cpu_vec_runs(f, CPU_VEC_AVX512);
    if (f->amd && f->family < 0x17) {
        *small_m = *large_m = CPU_GEMM_BLIS_DEFAULT;
        return;
    }
    *small_m = f->amd ? CPU_GEMM_ZEN3 : CPU_GEMM_HASWELL;
    *large_m = wide ? CPU_GEMM_SKX : *small_m;
}

void cpu_gemm_plan(const cpu_features *f, cpu_gemm_kernel *small_m, cpu_gemm_kernel *large_m)
{
    /* Without AVX2+FMA: BLIS's own pick (sandybridge, penryn, the older AMD
     * sets: it checks what they need), down to generic, the x86-64 baseline
     * (a virtual CPU model such as qemu64), which BLIS would pick too. */
    if (!cpu_gemm_runs(f, CPU_GEMM_HASWELL)) {
        *small_m = *large_m = f->ssse3 ? CPU_GEMM_BLIS_DEFAULT : CPU_GEMM_GENERIC;
        return;
    }
    const cpu_part *p = find_part(f);
    if (p) {
        *small_m = p->small_m;
        *large_m = p->large_m;
    } else {
        plan_by_features(f, small_m, large_m);
    }
    /* A hypervisor may hide AVX-512 from a server part. */
    if (!cpu_gemm_runs(f, *large_m))
        *large_m = *small_m;
}

const char *cpu_gemm_kernel_name(cpu_gemm_kernel k)
{
    switch (k) {
    case CPU_GEMM_HASWELL: return "haswell";
    case CPU_GEMM_ZEN3: return "zen3";
    case CPU_GEMM_SKX: return "skx";
    case CPU_GEMM_ZEN: return "zen";
    case CPU_GEMM_ZEN2: return "zen2";
    case CPU_GEMM_GENERIC: return "generic";
    case CPU_GEMM_BLIS_DEFAULT:
    case CPU_GEMM_KERNELS: break;
    }
    return "default";
}

/* -1: not forced; else the forced kernel sets. */
static _Atomic int gemm_forced_small = -1, gemm_forced_large = -1;

/* This CPU's plan, decided once (every product asks). */
static cpu_gemm_kernel plan_small, plan_large;
static pthread_once_t plan_once = PTHREAD_ONCE_INIT;

static void plan_init(void) { cpu_gemm_plan(cpu_get(), &plan_small, &plan_large); }

void cpu_gemm_choice(cpu_gemm_kernel *small_m, cpu_gemm_kernel *large_m)
{
    int s = gemm_forced_small, l = gemm_forced_large;
    if (s >= 0 && l >= 0) {
        *small_m = (cpu_gemm_kernel)s;
        *large_m = (cpu_gemm_kernel)l;
        return;
    }
    pthread_once(&plan_once, plan_init);
    *small_m = plan_small;
    *large_m = plan_large;
}

int cpu_gemm_force(cpu_gemm_kernel small_m, cpu_gemm_kernel large_m)
{
    const cpu_features *f = cpu_get();
    if ((int)small_m < 0 || small_m >= CPU_GEMM_KERNELS || (int)large_m < 0 ||
        large_m >= CPU_GEMM_KERNELS || !cpu_gemm_runs(f, small_m) || !cpu_gemm_runs(f, large_m))
        return -1;
    gemm_forced_small = (int)small_m;
    gemm_forced_large = (int)large_m;
    return 0;
}

/* ---------------------------------------------------------------- reduced precision */

static _Atomic int bf16_forced = 1, bf16_cap = 1;

int cpu_bf16_runs(const cpu_features *f)
{
    return f->avx512_bf16 && cpu_vec_runs(f, CPU_VEC_AVX512);
}

int cpu_bf16_level(void)
{
    return bf16_forced && bf16_cap && cpu_bf16_runs(cpu_get()) &&
           cpu_vec_level() >= CPU_VEC_AVX512;
}

int cpu_bf16_limit(int on)
{
    int old = bf16_cap;
    bf16_cap = on != 0;
    return old;
}

void cpu_bf16_force(int on) { bf16_forced = on != 0; }

static _Atomic int vnni_forced = 1, vnni_cap = 1;

int cpu_vnni_runs(const cpu_features *f)
{
    return f->avx512_vnni && cpu_vec_runs(f, CPU_VEC_AVX512);
}

int cpu_vnni_level(void)
{
    return vnni_forced && vnni_cap && cpu_vnni_runs(cpu_get()) &&
           cpu_vec_level() >= CPU_VEC_AVX512;
}

int cpu_vnni_limit(int on)
{
    int old = vnni_cap;
    vnni_cap = on != 0;
    return old;
}

void cpu_vnni_force(int on) { vnni_forced = on != 0; }

const char *cpu_reduced_describe(const cpu_features *f, char *buf, unsigned size)
{
    snprintf(buf, size, "avx512_bf16 %s, avx512_vnni %s, avx_vnni %s, amx_bf16 %s, amx_int8 %s",
             f->avx512_bf16 ? "yes" : "no", f->avx512_vnni ? "yes" : "no",
             f->avx_vnni ? "yes" : "no", f->amx_bf16 ? "yes" : "no",
             f->amx_int8 ? "yes" : "no");
    return buf;
}

#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#define ARCH_REQ_XCOMP_PERM 0x1023  /* asm/prctl.h, Linux 5.16 */
#define XFEATURE_XTILEDATA 18
#endif

static int amx_granted = -1;
static pthread_once_t amx_once = PTHREAD_ONCE_INIT;

static void amx_request_once(void)
{
    amx_granted = 0;
#if defined(__linux__) && defined(__x86_64__)
    /* Linux enables the 8 KB tile data state per process, on request, so
     * that processes that never use AMX keep small signal frames. */
    if (cpu_get()->amx_tile)
        amx_granted = syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
#endif
}

int cpu_amx_request(void)
{
    pthread_once(&amx_once, amx_request_once);
    return amx_granted ? 0 : -1;
}

static _Atomic int amx_forced = CPU_AMX_HW, amx_cap = 1;

/* The level for a CPU whose unit (AMX-BF16 or AMX-INT8) is `has`. */
static cpu_amx amx_level(int has)
{
    if (!amx_cap || amx_forced == CPU_AMX_NONE)
        return CPU_AMX_NONE;
    if (amx_forced == CPU_AMX_MODEL)
        return CPU_AMX_MODEL;
    return has && cpu_vec_level() >= CPU_VEC_AVX512 && cpu_amx_request() == 0 ? CPU_AMX_HW
                                                                              : CPU_AMX_NONE;
}

cpu_amx cpu_amx_bf16_level(void) { return amx_level(cpu_get()->amx_bf16); }

cpu_amx cpu_amx_int8_level(void) { return amx_level(cpu_get()->amx_int8); }

int cpu_amx_limit(int on)
{
    int old = amx_cap;
    amx_cap = on != 0;
    return old;
}

cpu_amx cpu_amx_force(cpu_amx mode)
{
    cpu_amx old = (cpu_amx)amx_forced;
    amx_forced = (int)mode;
    return old;
}

void cpu_force_off(void)
{
    bf16_forced = 1;
    vnni_forced = 1;
    amx_forced = CPU_AMX_HW;
    vec_forced = CPU_VEC_AVX512;
    gemm_forced_small = gemm_forced_large = -1;
}
