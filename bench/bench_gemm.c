/* GEMM through the ops layer against BLIS called directly, at the shapes of
 * BERT-base (hidden 768, FFN 3072; M = 1024 tokens for training, 12 for
 * batch-1 inference), with 1 and 2 threads. Prints medians of several
 * repetitions in GFLOP/s, the ops/BLIS ratio, the kernels in use, and the
 * fraction of this CPU's fp32 peak, measured here with an FMA-throughput
 * loop (AVX-512 and AVX2; bench/fma_peak.h) rather than assumed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wpedantic"
#include <blis.h>
#pragma GCC diagnostic pop

#include <mlm.h>

#include "nn/ops/ops.h"

#include "fma_peak.h"

#define REPS 7

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ---------------------------------------------------------------- GEMM */

typedef struct shape { int M, N, K; } shape;

/* The same product three ways: 0 = ops_gemm, 1 = BLIS with its own pick
 * (cntx NULL), 2 = BLIS with the context ops chose. */
static void run(int how, const ops_ctx *ctx, cntx_t *chosen, shape s, float *A, float *B, float *C)
{
    float one = 1.0f, zero = 0.0f;
    if (how == 0) {
        ops_gemm(ctx, 0, 0, s.M, s.N, s.K, 1.0f, A, s.K, B, s.N, 0.0f, C, s.N);
        return;
    }
    rntm_t rntm;
    bli_rntm_init(&rntm);
    bli_rntm_set_num_threads(ctx->nthreads, &rntm);
    bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, s.M, s.N, s.K, &one, A, s.K, 1, B, s.N, 1,
                 &zero, C, s.N, 1, how == 1 ? NULL : chosen, &rntm);
}

static cntx_t *context_named(const char *name)
{
    for (int id = 0; id < BLIS_NUM_ARCHS; id++)
        if (strcmp(bli_arch_string((arch_t)id), name) == 0) {
            cntx_t **c = bli_gks_lookup_id((arch_t)id);
            if (c && c[BLIS_NAT])
                return c[BLIS_NAT];
        }
    return NULL;
}

/* GFLOP/s of one repetition: as many calls as fit in ~0.1 s (at least 3). */
static double time_once(int how, const ops_ctx *ctx, cntx_t *chosen, shape s, float *A, float *B,
                        float *C)
{
    double flop = 2.0 * s.M * s.N * s.K, t0 = now();
    long calls = 0;
    do {
        run(how, ctx, chosen, s, A, B, C);
        calls++;
    } while (now() - t0 < 0.1 || calls < 3);
    return flop * (double)calls / (now() - t0) * 1e-9;
}

static void print_machine(void)
{
    char line[256], model[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "model name", 10) == 0) {
            char *c = strchr(line, ':');
            snprintf(model, sizeof model, "%s", c ? c + 2 : line);
            model[strcspn(model, "\n")] = '\0';
            break;
        }
    if (f)
        fclose(f);
    printf("machine: %s, %ld online cores\n", model, sysconf(_SC_NPROCESSORS_ONLN));
    printf("libmlm: %s\n", mlm_system_info());
}

int main(void)
{
    print_machine();
    fflush(stdout);
    double peak[3] = {0, 0, 0};
    for (int t = 1; t <= 2; t++) {
        double p512, p256;
        peak[t] = fma_peak_gflops(t, &p512, &p256);
        printf("fp32 FMA peak, %d thread%s: AVX-512 %.1f, AVX2 %.1f GFLOP/s\n", t,
               t > 1 ? "s" : "", p512, p256);
    }
    static const shape shapes[] = {
        {1024, 768, 768}, {1024, 768, 3072}, {1024, 3072, 768},
        {12, 768, 768},   {12, 3072, 768},   {12, 768, 3072},
    };
    size_t cap = 1024 * 3072;
    float *A = malloc(cap * sizeof *A), *B = malloc(3072 * 3072 * sizeof *B), *C = malloc(cap * sizeof *C);
    for (size_t i = 0; i < cap; i++)
        A[i] = (float)(i % 13) * 0.01f;
    for (size_t i = 0; i < 3072 * 3072; i++)
        B[i] = (float)(i % 7) * 0.01f;
    printf("\nmedians of %d repetitions, GFLOP/s (C = A·B, row-major, M×N×K)\n", REPS);
    printf("%-16s %3s %-8s %8s %8s %8s %8s %7s %7s\n", "shape", "thr", "kernel", "ops",
           "blis-own", "blis-chn", "ops/chn", "%peak", "own");
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        shape s = shapes[si];
        const char *kname = gemm_kernel_name(s.M);
        cntx_t *chosen = context_named(kname);
        for (int t = 1; t <= 2; t++) {
            ops_ctx ctx;
            ops_ctx_init(&ctx, t);
            double g[3][REPS];
            for (int how = 0; how < 3; how++) /* warm up: packing buffers, caches */
                run(how, &ctx, chosen, s, A, B, C);
            for (int r = 0; r < REPS; r++)  /* interleaved, so drift hits all three */
                for (int how = 0; how < 3; how++)
                    g[how][r] = time_once(how, &ctx, chosen, s, A, B, C);
            double ops = median(g[0], REPS), own = median(g[1], REPS), chn = median(g[2], REPS);
            char name[32];
            snprintf(name, sizeof name, "%dx%dx%d", s.M, s.N, s.K);
            printf("%-16s %3d %-8s %8.1f %8.1f %8.1f %8.3f %6.1f%% %7s\n", name, t, kname, ops, own,
                   chn, ops / chn, 100.0 * ops / peak[t], bli_arch_string(bli_arch_query_id()));
        }
    }
    free(A);
    free(B);
    free(C);
    return 0;
}
