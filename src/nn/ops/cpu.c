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

static cpu_features features;
static char description[160];
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
    /* The OS must save the registers, or the instructions fault. */
    unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
    int ymm_ok = (xcr0 & 0x6) == 0x6;
    int zmm_ok = (xcr0 & 0xe6) == 0xe6;
    if (max_leaf >= 7) {
        __get_cpuid_count(7, 0, &a, &b, &c, &d);
        features.avx2 = avx && ymm_ok && ((b >> 5) & 1);
        features.fma = fma && ymm_ok;
        features.avx512f = zmm_ok && ((b >> 16) & 1);
        features.avx512dq = zmm_ok && ((b >> 17) & 1);
        features.avx512cd = zmm_ok && ((b >> 28) & 1);
        features.avx512bw = zmm_ok && ((b >> 30) & 1);
        features.avx512vl = zmm_ok && ((b >> 31) & 1);
    }
describe:
#endif
    snprintf(description, sizeof description, "%s%s%s%s (%s family 0x%x model 0x%x)",
             features.avx512f ? "avx512f " : "", features.avx512bw ? "avx512bw " : "",
             features.avx2 ? "avx2 " : "", features.fma ? "fma" : "",
             features.amd ? "AMD" : features.intel ? "Intel" : "other",
             (unsigned)features.family, (unsigned)features.model);
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

static _Atomic int vec_cap = CPU_VEC_AVX512;

cpu_vec cpu_vec_level(void)
{
    const cpu_features *f = cpu_get();
    cpu_vec have = f->avx512f && f->avx512bw && f->avx512dq && f->avx512vl ? CPU_VEC_AVX512
                   : f->avx2 && f->fma                                      ? CPU_VEC_AVX2
                                                                            : CPU_VEC_BASE;
    int cap = vec_cap;
    return (int)have < cap ? have : (cpu_vec)cap;
}

cpu_vec cpu_vec_limit(cpu_vec max)
{
    int old = vec_cap;
    vec_cap = (int)max;
    return (cpu_vec)old;
}

void cpu_gemm_plan(const cpu_features *f, cpu_gemm_kernel *small_m, cpu_gemm_kernel *large_m)
{
    if (!(f->avx2 && f->fma)) {
        *small_m = *large_m = CPU_GEMM_BLIS_DEFAULT;
        return;
    }
    cpu_gemm_kernel avx2 = f->amd ? CPU_GEMM_ZEN3 : CPU_GEMM_HASWELL;
    int skx_ok = f->avx512f && f->avx512dq && f->avx512bw && f->avx512vl;
    int zen4 = f->amd && f->family == 0x19;
    *small_m = avx2;
    *large_m = skx_ok && !zen4 ? CPU_GEMM_SKX : avx2;
}

const char *cpu_gemm_kernel_name(cpu_gemm_kernel k)
{
    switch (k) {
    case CPU_GEMM_HASWELL: return "haswell";
    case CPU_GEMM_ZEN3: return "zen3";
    case CPU_GEMM_SKX: return "skx";
    case CPU_GEMM_BLIS_DEFAULT: break;
    }
    return "default";
}
