/* The test runner of `make check`: all suites in one SRunner, so that the
 * last line printed is Check's own summary. CK_RUN_SUITE=name runs one.
 *
 * MLM_TEST_CPU_PATH=VEC[:SMALL[/LARGE]] forces a code path before any suite
 * runs, so that this machine computes as another CPU would: VEC is the
 * vector level (avx512, avx2, base), SMALL and LARGE the BLIS kernel sets
 * for products of fewer and of at least 64 rows (skx, haswell, zen3, zen2,
 * zen, generic; LARGE defaults to SMALL; VEC may be empty). Only this runner
 * reads the variable; the library never reads the environment. A path this
 * CPU cannot execute is skipped: a message, and exit status 0.
 *
 * MLM_TEST_BF16=off turns the AVX512-BF16 kernel off (cpu_bf16_force), so
 * that the bf16 products run the portable path a CPU without it runs.
 * MLM_TEST_VNNI=off does the same for the AVX512-VNNI int8 kernel
 * (cpu_vnni_force). MLM_TEST_AMX=model runs the AMX tile path of the bf16
 * and int8 products on its software model, on any CPU (nn/ops/amx.h);
 * MLM_TEST_AMX=off turns the tile path off where the CPU has it
 * (cpu_amx_force). */
#include "suites.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/ops/cpu.h"
#include "nn/ops/gemm.h"

/* The kernel set named by the n bytes at s, or -1. */
static int kernel_named(const char *s, size_t n)
{
    for (int k = 0; k < CPU_GEMM_KERNELS; k++) {
        const char *name = cpu_gemm_kernel_name((cpu_gemm_kernel)k);
        if (strlen(name) == n && strncmp(s, name, n) == 0)
            return k;
    }
    return -1;
}

/* The vector level named by the n bytes at s, or -1. */
static int vec_named(const char *s, size_t n)
{
    for (int v = CPU_VEC_BASE; v <= CPU_VEC_AVX512; v++) {
        const char *name = cpu_vec_name((cpu_vec)v);
        if (strlen(name) == n && strncmp(s, name, n) == 0)
            return v;
    }
    return -1;
}

/* Applies MLM_TEST_CPU_PATH. Returns 0 to run the suites, 1 to skip them
 * (this CPU lacks the path), 2 on a malformed value. */
static int force_path(const char *spec)
{
    const char *colon = strchr(spec, ':');
    size_t nvec = colon ? (size_t)(colon - spec) : strlen(spec);
    int vec = nvec ? vec_named(spec, nvec) : -1, small_m = -1, large_m = -1;
    if (nvec && vec < 0)
        return 2;
    if (colon && colon[1]) {
        const char *k = colon + 1, *slash = strchr(k, '/');
        small_m = kernel_named(k, slash ? (size_t)(slash - k) : strlen(k));
        large_m = slash ? kernel_named(slash + 1, strlen(slash + 1)) : small_m;
        if (small_m < 0 || large_m < 0)
            return 2;
    }
    if (vec >= 0 && cpu_vec_force((cpu_vec)vec) != 0) {
        printf("skip MLM_TEST_CPU_PATH=%s: this CPU (%s) cannot run vector level %s\n", spec,
               cpu_describe(), cpu_vec_name((cpu_vec)vec));
        return 1;
    }
    if (small_m >= 0 &&
        cpu_gemm_force((cpu_gemm_kernel)small_m, (cpu_gemm_kernel)large_m) != 0) {
        printf("skip MLM_TEST_CPU_PATH=%s: this CPU (%s) cannot run BLIS %s/%s\n", spec,
               cpu_describe(), cpu_gemm_kernel_name((cpu_gemm_kernel)small_m),
               cpu_gemm_kernel_name((cpu_gemm_kernel)large_m));
        return 1;
    }
    printf("forced path MLM_TEST_CPU_PATH=%s on %s: vector level %s; gemm: %s\n", spec,
           cpu_describe(), cpu_vec_name(cpu_vec_level()), gemm_describe());
    return 0;
}

int main(void)
{
    const char *bf16 = getenv("MLM_TEST_BF16");
    if (bf16 && strcmp(bf16, "off") == 0) {
        cpu_bf16_force(0);
        printf("forced MLM_TEST_BF16=off: bf16 products on the portable path\n");
    }
    const char *vnni = getenv("MLM_TEST_VNNI");
    if (vnni && strcmp(vnni, "off") == 0) {
        cpu_vnni_force(0);
        printf("forced MLM_TEST_VNNI=off: int8 products on the portable path\n");
    }
    const char *amx = getenv("MLM_TEST_AMX");
    if (amx && strcmp(amx, "model") == 0) {
        cpu_amx_force(CPU_AMX_MODEL);
        printf("forced MLM_TEST_AMX=model: bf16 and int8 products of a few rows or more "
               "(nn/ops/amx.h) on the AMX tile path's software model\n");
    } else if (amx && strcmp(amx, "off") == 0) {
        cpu_amx_force(CPU_AMX_NONE);
        printf("forced MLM_TEST_AMX=off: no AMX tile path\n");
    }
    const char *spec = getenv("MLM_TEST_CPU_PATH");
    if (spec && *spec) {
        int r = force_path(spec);
        if (r == 2) {
            fprintf(stderr, "MLM_TEST_CPU_PATH=%s: expected VEC[:SMALL[/LARGE]], VEC one of "
                            "avx512 avx2 base, SMALL and LARGE BLIS kernel sets (skx haswell "
                            "zen3 zen2 zen generic)\n", spec);
            return EXIT_FAILURE;
        }
        if (r == 1)
            return EXIT_SUCCESS;
        fflush(stdout);
    }
    Suite *(*const suites[])(void) = {
        core_suite,
        abi_suite,
        cli_suite,
        cli_tokenize_suite,
        cli_conventions_suite,
        cli_train_tokenizer_suite,
        bpe_trainer_suite,
        ops_suite,
        model_suite,
        train_suite,
        trainer_suite,
        optim_suite,
        progress_suite,
        checkpoint_suite,
        trainer_outputs_suite,
        file_suite,
        json_suite,
        safetensors_suite,
        config_suite,
        dataset_suite,
        dataset_v2_suite,
        collator_suite,
        data_tokenize_suite,
        cli_data_suite,
        cli_train_suite,
        distributed_suite,
        tokenizer_suite,
        tokenizer_parity_suite,
        tokenizer_trainer_suite,
        unicode_sweep_suite,
        tokenizer_roles_suite,
        cli_nul_suite,
        pipeline_suite,
        rouge_suite,
        cli_rouge_suite,
        t5_suite,
        generate_suite,
        summarize_suite,
        t5_parity_suite,
        t5_train_suite,
        seq2seq_trainer_suite,
        seq2seq_data_suite,
        cli_seq2seq_suite,
        cli_train_summarization_suite,
        dtype_suite,
    };
    SRunner *sr = srunner_create(suites[0]());
    for (size_t i = 1; i < sizeof suites / sizeof suites[0]; i++)
        srunner_add_suite(sr, suites[i]());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
