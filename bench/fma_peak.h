/* This CPU's fp32 peak, measured with an FMA-throughput loop (AVX-512 and
 * AVX2) rather than assumed. Shared by the benchmarks that quote a fraction
 * of the peak (bench_gemm.c, train_bench.c): header-only, static functions. */
#ifndef MLM_BENCH_FMA_PEAK_H
#define MLM_BENCH_FMA_PEAK_H

#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

/* The calling thread's CPU time: a peak is what a core does while it runs
 * the loop, so time the loop was descheduled (other load on a shared
 * machine) must not count against it. */
static double fma_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

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
    double t = fma_now();
    for (long it = 0; it < FMA_ITERS; it++)
        for (int i = 0; i < FMA_ACC; i++)
            acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    t = fma_now() - t;
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
    double t = fma_now();
    for (long it = 0; it < FMA_ITERS; it++)
        for (int i = 0; i < FMA_ACC_AVX2; i++)
            acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    t = fma_now() - t;
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

/* Total GFLOP/s of `nthreads` (1..8) copies of fn running at once, each
 * timed on its own CPU clock: the best of 5, since a peak is what the cores
 * can do, and other load only lowers it. */
static double peak_of(double (*fn)(void), int nthreads)
{
    double best = 0;
    for (int r = 0; r < 5; r++) {
        peak_arg args[8];
        pthread_t tid[8];
        for (int t = 0; t < nthreads; t++) {
            args[t].fn = fn;
            pthread_create(&tid[t], NULL, peak_thread, &args[t]);
        }
        double run = 0;
        for (int t = 0; t < nthreads; t++) {
            pthread_join(tid[t], NULL);
            run += args[t].gflops;
        }
        best = run > best ? run : best;
    }
    return best;
}

/* The peak of `nthreads` threads: the better of the AVX-512 and AVX2 loops
 * among those the CPU has (0 when it has neither). */
static double fma_peak_gflops(int nthreads, double *p512, double *p256)
{
    __builtin_cpu_init();
    double a = __builtin_cpu_supports("avx512f") ? peak_of(fma512, nthreads) : 0;
    double b = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
                   ? peak_of(fma256, nthreads) : 0;
    if (p512)
        *p512 = a;
    if (p256)
        *p256 = b;
    return a > b ? a : b;
}

#endif
