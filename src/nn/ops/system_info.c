/* mlm_system_info(): what the ops layer found and chose on this machine
 * (the CPU's features, the GEMM kernel plan, the reduced-precision units), for `mlm version --verbose`
 * and bug reports. */
#include "mlm/core.h"

#include <pthread.h>
#include <stdio.h>

#include "nn/ops/amx.h"
#include "nn/ops/cpu.h"
#include "nn/ops/gemm.h"

static char system_info[768];
static pthread_once_t system_info_once = PTHREAD_ONCE_INIT;

static void system_info_init(void)
{
    char reduced[160];
    /* the rows from which products take the tiles (nn/ops/amx.h) */
    char amx_bf16[48] = "", amx_int8[48] = "";
    if (cpu_amx_bf16_level() == CPU_AMX_HW)
        snprintf(amx_bf16, sizeof amx_bf16, "amx_bf16 tiles from %d rows, ", AMX_BF16_MIN_ROWS);
    if (cpu_amx_int8_level() == CPU_AMX_HW)
        snprintf(amx_int8, sizeof amx_int8, "amx_int8 tiles from %d rows, ", AMX_INT8_MIN_ROWS);
    snprintf(system_info, sizeof system_info,
             "cpu: %s; gemm: %s; reduced-precision paths: %s; bf16 gemm: %s%s; int8 gemm: %s%s",
             cpu_describe(), gemm_describe(),
             cpu_reduced_describe(cpu_get(), reduced, sizeof reduced), amx_bf16,
             cpu_bf16_level() ? "avx512_bf16 (vdpbf16ps)" : "fp32 FMA on bf16 operands", amx_int8,
             cpu_vnni_level() ? "avx512_vnni (vpdpbusd)"
                              : "portable int32 (slower than fp32: prefer bf16 here)");
}

const char *mlm_system_info(void)
{
    pthread_once(&system_info_once, system_info_init);
    return system_info;
}
