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

#endif
