/* GEMM through the ops layer against BLIS called directly, at the shapes of
 * BERT-base (hidden 768, FFN 3072; M = 1024 tokens for training, 12 for
 * batch-1 inference), with 1 and 2 threads. Prints medians of several
 * repetitions in GFLOP/s, the ops/BLIS ratio, the kernels in use, and the
 * fraction of this CPU's fp32 peak, measured here with an FMA-throughput
 * loop (AVX-512 and AVX2) rather than assumed. */
#include <immintrin.h>
#include <pthread.h>
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

#include "nn/ops/cpu.h"
#include "nn/ops/ops.h"

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

/* ---------------------------------------------------------------- peak */

/* 2·16 (AVX-512) or 2·8 (AVX2) flops per FMA. Independent accumulators
 * must cover FMA latency (4 cycles) × 2 pipes = 8, and fit the register
 * file with the two operands: 16 of 32 zmm, 12 of 16 ymm (16 ymm
 * accumulators would spill and measure the spills). */
#define FMA_ACC 16
#define FMA_ACC_AVX2 12
#define FMA_ITERS 4000000L

__attribute__((target("avx512f"))) static double fma512(void)
{
    __m512 acc[FMA_ACC], a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < FMA_ACC; i++)
        acc[i] = _mm512_set1_ps((float)i);
    double t = now();
    for (long it = 0; it < FMA_ITERS; it++)
        for (int i = 0; i < FMA_ACC; i++)
            acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    t = now() - t;
    float sink = 0;
    for (int i = 0; i < FMA_ACC; i++)
        sink += _mm512_reduce_add_ps(acc[i]);
    if (sink == 12345.0f)
        puts("");
    return 2.0 * 16 * FMA_ACC * FMA_ITERS / t * 1e-9;
}

__attribute__((target("avx2,fma"))) static double fma256(void)
{
    __m256 acc[FMA_ACC_AVX2], a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < FMA_ACC_AVX2; i++)
        acc[i] = _mm256_set1_ps((float)i);
    double t = now();
    for (long it = 0; it < FMA_ITERS; it++)
        for (int i = 0; i < FMA_ACC_AVX2; i++)
            acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    t = now() - t;
    float s[8], sink = 0;
    for (int i = 0; i < FMA_ACC_AVX2; i++) {
        _mm256_storeu_ps(s, acc[i]);
        sink += s[0];
    }
    if (sink == 12345.0f)
        puts("");
    return 2.0 * 8 * FMA_ACC_AVX2 * FMA_ITERS / t * 1e-9;
}

typedef struct peak_arg { double (*fn)(void); double gflops; } peak_arg;

static void *peak_thread(void *p)
{
    peak_arg *a = p;
    a->gflops = a->fn();
    return NULL;
}

/* Total GFLOP/s of `nthreads` copies of fn running at once: the best of 5,
 * since a peak is what the core can do, and other load only lowers it. */
static double peak_of(double (*fn)(void), int nthreads)
{
    double runs[5], best = 0;
    for (int r = 0; r < 5; r++) {
        peak_arg args[8];
        pthread_t tid[8];
        for (int t = 0; t < nthreads; t++) {
            args[t].fn = fn;
            pthread_create(&tid[t], NULL, peak_thread, &args[t]);
        }
        runs[r] = 0;
        for (int t = 0; t < nthreads; t++) {
            pthread_join(tid[t], NULL);
            runs[r] += args[t].gflops;
        }
        best = runs[r] > best ? runs[r] : best;
    }
    return best;
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
    const cpu_features *cpu = cpu_get();
    double peak[3] = {0, 0, 0};
    for (int t = 1; t <= 2; t++) {
        double p512 = cpu->avx512f ? peak_of(fma512, t) : 0;
        double p256 = cpu->avx2 && cpu->fma ? peak_of(fma256, t) : 0;
        peak[t] = p512 > p256 ? p512 : p256;
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
