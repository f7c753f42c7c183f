/* Where libmlm's bf16 products should come from (issue #15): the products
 * that matter, timed three ways on this machine, same inputs, same threads:
 *
 *   fp32    ops_gemm, libmlm's fp32 path (BLIS or gemm_small), A·Wᵀ
 *   ours    ops_gemm_bf16w: the weight converted once (ops_bf16w), A
 *           rounded to bf16 per call; AVX512-BF16 where the CPU has it
 *   onednn  oneDNN's bf16 matmul (C API): the weight converted and
 *           reordered once into the layout its primitive asks for
 *           (format_tag_any), as an integration would at load; A (fp32)
 *           reordered to bf16 per call, output fp32
 *
 * GFLOP/s (2·M·N·K per product) from the median wall time of REPS calls
 * after one warm-up, at 1 and 2 threads (oneDNN: OpenMP threads, set per
 * run). Also the largest |ours - onednn| / (|onednn| + 1) per shape: both
 * sum bf16 products in fp32, in different orders.
 *
 * Run oneDNN with OMP_WAIT_POLICY=passive (make bench-bf16 does) on a shared
 * machine: libgomp's spinning threads otherwise lose whole scheduler ticks
 * to other processes (on a loaded 2-core Zen 4: ~8 ms per call at M = 12,
 * 1-2 GFLOP/s).
 *
 * Then the int8 table (issue #15), 1 thread: ops_gemm_i8w (weight
 * quantized once, ops_i8w; A quantized per row per call, included in the
 * time) against ops_gemm_bf16w and fp32 ops_gemm on the distilroberta
 * products at M = 1024, 12 and 1, and its LM head (50265 outputs); with
 * the int8 product's largest |i8 − fp32| over the output's largest |fp32|.
 *
 *   make bench-bf16            (needs libdnnl-dev; not part of make bench)
 *   build/bench/bf16_gemm_bench [REPS] [int8]   (default 7; "int8": only
 *                                                the int8 table) */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>

#include <time.h>

#include "mlm/core.h"
#include "nn/ops/cpu.h"
#include "nn/ops/gemm_bf16.h"
#include "nn/ops/gemm_i8.h"
#include "nn/ops/ops.h"

static double bench_now(void)
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

void omp_set_num_threads(int n);   /* libgomp, oneDNN's runtime in Debian */

#define DNNL(call)                                                                         \
    do {                                                                                   \
        dnnl_status_t s_ = (call);                                                         \
        if (s_ != dnnl_success) {                                                          \
            fprintf(stderr, "bf16_gemm_bench: %s failed (%d)\n", #call, (int)s_);         \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

typedef struct onednn {
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    dnnl_primitive_t mm, a_reorder;
    dnnl_memory_t a32, a16, w, c;
} onednn;

static dnnl_memory_desc_t md2(int r, int c, dnnl_data_type_t t, dnnl_format_tag_t tag)
{
    dnnl_memory_desc_t md;
    dnnl_dims_t d = {r, c};
    DNNL(dnnl_memory_desc_init_by_tag(&md, 2, d, t, tag));
    return md;
}

static void reorder_once(dnnl_engine_t eng, dnnl_stream_t st, dnnl_memory_t from, dnnl_memory_t to)
{
    const dnnl_memory_desc_t *fm, *tm;
    DNNL(dnnl_memory_get_memory_desc(from, &fm));
    DNNL(dnnl_memory_get_memory_desc(to, &tm));
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t p;
    DNNL(dnnl_reorder_primitive_desc_create(&pd, fm, eng, tm, eng, NULL));
    DNNL(dnnl_primitive_create(&p, pd));
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    DNNL(dnnl_primitive_execute(p, st, 2, args));
    DNNL(dnnl_stream_wait(st));
    dnnl_primitive_destroy(p);
    dnnl_primitive_desc_destroy(pd);
}

/* The matmul primitive for (M, N, K) with W (N×K fp32) converted and
 * reordered once. */
static void onednn_setup(onednn *o, int M, int N, int K, float *A, const float *W, float *C)
{
    DNNL(dnnl_engine_create(&o->eng, dnnl_cpu, 0));
    DNNL(dnnl_stream_create(&o->stream, o->eng, dnnl_stream_default_flags));
    dnnl_memory_desc_t a32 = md2(M, K, dnnl_f32, dnnl_ab), a16 = md2(M, K, dnnl_bf16, dnnl_ab);
    dnnl_memory_desc_t w_any = md2(K, N, dnnl_bf16, dnnl_format_tag_any);
    dnnl_memory_desc_t c32 = md2(M, N, dnnl_f32, dnnl_ab);
    dnnl_matmul_desc_t d;
    DNNL(dnnl_matmul_desc_init(&d, &a16, &w_any, NULL, &c32));
    dnnl_primitive_desc_t pd;
    DNNL(dnnl_primitive_desc_create(&pd, &d, NULL, o->eng, NULL));
    DNNL(dnnl_primitive_create(&o->mm, pd));
    const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    /* W as stored (N×K fp32 = K×N with tag ba) -> its bf16 layout. */
    dnnl_memory_desc_t w_user = md2(K, N, dnnl_f32, dnnl_ba);
    dnnl_memory_t wu;
    DNNL(dnnl_memory_create(&wu, &w_user, o->eng, (void *)W));
    DNNL(dnnl_memory_create(&o->w, wmd, o->eng, DNNL_MEMORY_ALLOCATE));
    reorder_once(o->eng, o->stream, wu, o->w);
    dnnl_memory_destroy(wu);
    dnnl_primitive_desc_destroy(pd);
    DNNL(dnnl_memory_create(&o->a32, &a32, o->eng, A));
    DNNL(dnnl_memory_create(&o->a16, &a16, o->eng, DNNL_MEMORY_ALLOCATE));
    DNNL(dnnl_memory_create(&o->c, &c32, o->eng, C));
    dnnl_primitive_desc_t rpd;
    DNNL(dnnl_reorder_primitive_desc_create(&rpd, &a32, o->eng, &a16, o->eng, NULL));
    DNNL(dnnl_primitive_create(&o->a_reorder, rpd));
    dnnl_primitive_desc_destroy(rpd);
}

static void onednn_run(onednn *o)
{
    dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, o->a32}, {DNNL_ARG_TO, o->a16}};
    DNNL(dnnl_primitive_execute(o->a_reorder, o->stream, 2, r));
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, o->a16}, {DNNL_ARG_WEIGHTS, o->w},
                               {DNNL_ARG_DST, o->c}};
    DNNL(dnnl_primitive_execute(o->mm, o->stream, 3, args));
    DNNL(dnnl_stream_wait(o->stream));
}

static void onednn_free(onednn *o)
{
    dnnl_primitive_destroy(o->mm);
    dnnl_primitive_destroy(o->a_reorder);
    dnnl_memory_destroy(o->a32);
    dnnl_memory_destroy(o->a16);
    dnnl_memory_destroy(o->w);
    dnnl_memory_destroy(o->c);
    dnnl_stream_destroy(o->stream);
    dnnl_engine_destroy(o->eng);
}

enum { FP32, OURS, ONEDNN, KINDS };

/* Median GFLOP/s of reps calls of kind k (after a warm-up). */
static double time_kind(int k, int reps, const ops_ctx *ctx, onednn *o, int M, int N, int K,
                        const float *A, const float *W, const ops_bf16w *w, float *C)
{
    double *t = malloc((size_t)reps * sizeof *t);
    for (int r = -1; r < reps; r++) {
        double t0 = bench_now();
        if (k == FP32)
            ops_gemm(ctx, 0, 1, M, N, K, 1.0f, A, K, W, K, 0.0f, C, N);
        else if (k == OURS)
            ops_gemm_bf16w(ctx, M, A, K, w, 0.0f, C, N);
        else
            onednn_run(o);
        if (r >= 0)
            t[r] = bench_now() - t0;
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    double med = reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]);
    free(t);
    return 2.0 * M * N * K / med * 1e-9;
}

/* ---------------------------------------------------------------- weight-only int8
 *
 * A prototype for the measurement only (not in the library): the other way
 * to use int8 weights, A kept in fp32 and each weight widened in the
 * kernel, C[m][n] = sw[n]·Σ_k A[m][k]·q[n][k] (fp32 FMAs). Same weight
 * bytes as ops_gemm_i8w, no activation error, more work per product:
 * vpmovsxbd + vcvtdq2ps per 16 weights, then one FMA per row of A, where
 * vpdpbusd does 64 products per instruction. Panels of 64 rows of W, per k
 * 64 bytes (one per row); tiles of 6 rows of A × 64 rows of W. */
typedef struct wo8 {
    int N, K;
    int8_t *q;      /* ceil(N/64) panels × K × 64 */
    float *scale;   /* N padded to 64 */
} wo8;

static void wo8_from(wo8 *w, const ops_i8w *src)
{
    int N = src->N, K = src->K, P = (N + 63) / 64;
    w->N = N;
    w->K = K;
    w->q = calloc((size_t)P * K * 64, 1);
    w->scale = calloc((size_t)P * 64, sizeof *w->scale);
    for (int n = 0; n < N; n++) {
        w->scale[n] = src->scale[n];
        for (int k = 0; k < K; k++)   /* q = at / scale exactly: both are sw·q */
            w->q[((size_t)(n / 64) * K + k) * 64 + n % 64] =
                (int8_t)lrintf(ops_i8w_at(src, n, k) / src->scale[n]);
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define WO8 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))

static WO8 inline __attribute__((always_inline)) void
wo8_tile(const wo8 *w, int mr, int m, int p, const float *A, float *C, int ldc)
{
    __m512 acc[6][4];
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++)
        for (int v = 0; v < 4; v++)
            acc[i][v] = _mm512_setzero_ps();
    const int8_t *q = w->q + (size_t)p * w->K * 64;
    for (int k = 0; k < w->K; k++, q += 64) {
        __m512 w0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const void *)q)));
        __m512 w1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const void *)(q + 16))));
        __m512 w2 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const void *)(q + 32))));
        __m512 w3 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const void *)(q + 48))));
#pragma GCC unroll 6
        for (int i = 0; i < mr; i++) {
            __m512 a = _mm512_set1_ps(A[(size_t)(m + i) * w->K + k]);
            acc[i][0] = _mm512_fmadd_ps(a, w0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(a, w1, acc[i][1]);
            acc[i][2] = _mm512_fmadd_ps(a, w2, acc[i][2]);
            acc[i][3] = _mm512_fmadd_ps(a, w3, acc[i][3]);
        }
    }
    int n0 = p * 64, cols = w->N - n0 < 64 ? w->N - n0 : 64;
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++)
        for (int v = 0; v < 4 && 16 * v < cols; v++) {
            int left = cols - 16 * v;
            __mmask16 mask = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
            __m512 r = _mm512_mul_ps(acc[i][v], _mm512_loadu_ps(w->scale + n0 + 16 * v));
            _mm512_mask_storeu_ps(C + (size_t)(m + i) * ldc + n0 + 16 * v, mask, r);
        }
}

static WO8 void wo8_gemm(const wo8 *w, int M, const float *A, float *C)
{
    for (int p = 0; p < (w->N + 63) / 64; p++) {
        int m = 0;
        for (; m + 6 <= M; m += 6)
            wo8_tile(w, 6, m, p, A, C, w->N);
        switch (M - m) {
        case 5: wo8_tile(w, 5, m, p, A, C, w->N); break;
        case 4: wo8_tile(w, 4, m, p, A, C, w->N); break;
        case 3: wo8_tile(w, 3, m, p, A, C, w->N); break;
        case 2: wo8_tile(w, 2, m, p, A, C, w->N); break;
        case 1: wo8_tile(w, 1, m, p, A, C, w->N); break;
        default: break;
        }
    }
}
#define HAVE_WO8 1
#else
#define HAVE_WO8 0
#endif

/* Median seconds of reps calls of kind k of the int8 table (after a
 * warm-up): 0 fp32, 1 bf16, 2 int8, 3 weight-only int8. */
static double time_i8(int k, int reps, const ops_ctx *ctx, int M, int N, int K, const float *A,
                      const float *W, const ops_bf16w *wb, const ops_i8w *wi, const wo8 *wo,
                      float *C)
{
#if !HAVE_WO8
    (void)wo;
#endif
    double *t = malloc((size_t)reps * sizeof *t);
    for (int r = -1; r < reps; r++) {
        double t0 = bench_now();
        if (k == 0)
            ops_gemm(ctx, 0, 1, M, N, K, 1.0f, A, K, W, K, 0.0f, C, N);
        else if (k == 1)
            ops_gemm_bf16w(ctx, M, A, K, wb, 0.0f, C, N);
        else if (k == 2)
            ops_gemm_i8w(ctx, M, A, K, wi, 0.0f, C, N);
#if HAVE_WO8
        else
            wo8_gemm(wo, M, A, C);
#endif
        if (r >= 0)
            t[r] = bench_now() - t0;
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    double med = reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]);
    free(t);
    return med;
}

/* The int8 table (see the opening comment). */
static int bench_i8(int reps)
{
    static const struct { const char *what; int M, N, K; } shapes[] = {
        {"droberta qkvo", 1024, 768, 768}, {"droberta ffn1", 1024, 3072, 768},
        {"droberta ffn2", 1024, 768, 3072}, {"fill-mask qkvo", 12, 768, 768},
        {"fill-mask ffn1", 12, 3072, 768},  {"fill-mask ffn2", 12, 768, 3072},
        {"1 token qkvo", 1, 768, 768},      {"1 token ffn1", 1, 3072, 768},
        {"1 token ffn2", 1, 768, 3072},     {"LM head", 1, 50265, 768},
        {"LM head", 12, 50265, 768},
    };
    printf("\nint8 kernel: %s; 1 thread, GFLOP/s (2·M·N·K / median wall time of %d calls), "
           "int8 including the quantization of A\n",
           cpu_vnni_level() ? "avx512_vnni" : "portable (int32 loops)", reps);
    printf("weight-only int8 (wo8): a prototype in this file, AVX-512 fp32 FMAs on widened "
           "weights\n");
    printf("%-15s %16s | %7s %7s %7s %7s | %7s %7s | %s\n", "product", "MxNxK", "fp32", "bf16",
           "int8", "wo8", "i8/fp32", "i8/bf16", "max|x-fp32|/max|fp32|: int8, wo8, bf16");
    ops_ctx ctx;
    ops_ctx_init(&ctx, 1);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s].M, N = shapes[s].N, K = shapes[s].K;
        float *A = malloc((size_t)M * K * 4), *W = malloc((size_t)N * K * 4);
        float *C = malloc((size_t)M * N * 4), *Cf = malloc((size_t)M * N * 4);
        if (!A || !W || !C || !Cf)
            return fprintf(stderr, "bf16_gemm_bench: out of memory\n"), 1;
        for (size_t i = 0; i < (size_t)M * K; i++)
            A[i] = (float)((i * 7919) % 2003) / 1001.0f - 1.0f;
        for (size_t i = 0; i < (size_t)N * K; i++)
            W[i] = ((float)((i * 104729) % 4001) / 2000.0f - 1.0f) * 0.05f;
        ops_bf16w wb;
        ops_i8w wi;
        if (ops_bf16w_from_f32(&wb, W, N, K, K) != MLM_OK ||
            ops_i8w_from_f32(&wi, W, N, K, K) != MLM_OK)
            return fprintf(stderr, "bf16_gemm_bench: %s\n", mlm_last_error()), 1;
        wo8 wo;
        wo8_from(&wo, &wi);
        double t[4] = {0, 0, 0, NAN};
        for (int k = 0; k < 3 + HAVE_WO8; k++)
            t[k] = time_i8(k, reps, &ctx, M, N, K, A, W, &wb, &wi, &wo, C);
        ops_gemm(&ctx, 0, 1, M, N, K, 1.0f, A, K, W, K, 0.0f, Cf, N);
        double diff[3] = {0, 0, 0}, big = 0;
        for (int k = 0; k < 3; k++) {
            if (k == 0)
                ops_gemm_i8w(&ctx, M, A, K, &wi, 0.0f, C, N);
            else if (k == 2)
                ops_gemm_bf16w(&ctx, M, A, K, &wb, 0.0f, C, N);
#if HAVE_WO8
            else
                wo8_gemm(&wo, M, A, C);
#endif
            for (size_t i = 0; i < (size_t)M * N; i++) {
                double d = fabs((double)C[i] - Cf[i]);
                diff[k] = d > diff[k] ? d : diff[k];
                big = fabs((double)Cf[i]) > big ? fabs((double)Cf[i]) : big;
            }
        }
        double flop = 2.0 * M * N * K * 1e-9;
        printf("%-15s %5dx%5dx%4d | %7.1f %7.1f %7.1f %7.1f | %7.2f %7.2f | %.1e %.1e %.1e\n",
               shapes[s].what, M, N, K, flop / t[0], flop / t[1], flop / t[2], flop / t[3],
               t[0] / t[2], t[1] / t[2], diff[0] / big, diff[1] / big, diff[2] / big);
        fflush(stdout);
        ops_bf16w_free(&wb);
        ops_i8w_free(&wi);
        free(wo.q);
        free(wo.scale);
        free(A);
        free(W);
        free(C);
        free(Cf);
    }
    return 0;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 7;
    if (reps < 1)
        reps = 1;
    if (argc > 2 && strcmp(argv[2], "int8") == 0) {
        printf("cpu: %s\n", cpu_describe());
        double load[3] = {0};
        if (getloadavg(load, 3) == 3)
            printf("load average at start: %.2f %.2f %.2f\n", load[0], load[1], load[2]);
        int r = bench_i8(reps);
        if (getloadavg(load, 3) == 3)
            printf("load average at end: %.2f %.2f %.2f\n", load[0], load[1], load[2]);
        return r;
    }
    static const struct { const char *what; int M, N, K; } shapes[] = {
        {"droberta fwd qkvo", 1024, 768, 768},   {"droberta fwd ffn1", 1024, 3072, 768},
        {"droberta fwd ffn2", 1024, 768, 3072},  {"fill-mask qkvo", 12, 768, 768},
        {"fill-mask ffn1", 12, 3072, 768},       {"fill-mask ffn2", 12, 768, 3072},
        {"t5 enc qkvo", 1024, 512, 512},         {"t5 enc wi", 1024, 2048, 512},
        {"t5 enc wo", 1024, 512, 2048},          {"t5 dec qkvo", 256, 512, 512},
        {"t5 dec wi", 256, 2048, 512},           {"t5 head", 256, 32128, 512},
    };
    char reduced[160];
    printf("cpu: %s\nreduced precision: %s\nbf16 kernel: %s\n", cpu_describe(), cpu_reduced_describe(cpu_get(), reduced, sizeof reduced),
           cpu_bf16_level() ? "avx512_bf16" : "portable (fp32 FMA)");
    double load[3] = {0};
    if (getloadavg(load, 3) == 3)
        printf("load average at start: %.2f %.2f %.2f\n", load[0], load[1], load[2]);
    printf("GFLOP/s, median of %d wall-clock calls; ours and onednn include rounding A to bf16\n",
           reps);
    printf("%-18s %16s | %7s %7s %7s | %7s %7s %7s | %s\n", "product", "MxNxK", "fp32/1",
           "ours/1", "dnnl/1", "fp32/2", "ours/2", "dnnl/2", "max|ours-dnnl|/(|dnnl|+1)");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s].M, N = shapes[s].N, K = shapes[s].K;
        float *A = malloc((size_t)M * K * 4), *W = malloc((size_t)N * K * 4);
        float *C = malloc((size_t)M * N * 4), *Cd = malloc((size_t)M * N * 4);
        if (!A || !W || !C || !Cd)
            return fprintf(stderr, "bf16_gemm_bench: out of memory\n"), 1;
        for (size_t i = 0; i < (size_t)M * K; i++)
            A[i] = (float)((i * 7919) % 2003) / 1001.0f - 1.0f;
        for (size_t i = 0; i < (size_t)N * K; i++)
            W[i] = ((float)((i * 104729) % 4001) / 2000.0f - 1.0f) * 0.05f;
        ops_bf16w w;
        if (ops_bf16w_from_f32(&w, W, N, K, K) != MLM_OK)
            return fprintf(stderr, "bf16_gemm_bench: %s\n", mlm_last_error()), 1;
        onednn o;
        onednn_setup(&o, M, N, K, A, W, Cd);
        double g[2][KINDS];
        for (int th = 1; th <= 2; th++) {
            ops_ctx ctx;
            ops_ctx_init(&ctx, th);
            omp_set_num_threads(th);
            for (int k = 0; k < KINDS; k++)
                g[th - 1][k] = time_kind(k, reps, &ctx, &o, M, N, K, A, W, &w, k == ONEDNN ? Cd : C);
        }
        ops_ctx ctx;
        ops_ctx_init(&ctx, 1);
        ops_gemm_bf16w(&ctx, M, A, K, &w, 0.0f, C, N);
        double diff = 0;
        for (size_t i = 0; i < (size_t)M * N; i++) {
            double d = fabs((double)C[i] - Cd[i]) / (fabs((double)Cd[i]) + 1.0);
            diff = d > diff ? d : diff;
        }
        printf("%-18s %5dx%5dx%4d | %7.1f %7.1f %7.1f | %7.1f %7.1f %7.1f | %.1e\n",
               shapes[s].what, M, N, K, g[0][FP32], g[0][OURS], g[0][ONEDNN], g[1][FP32],
               g[1][OURS], g[1][ONEDNN], diff);
        fflush(stdout);
        onednn_free(&o);
        ops_bf16w_free(&w);
        free(A);
        free(W);
        free(C);
        free(Cd);
    }
    if (bench_i8(reps) != 0)
        return 1;
    if (getloadavg(load, 3) == 3)
        printf("load average at end: %.2f %.2f %.2f\n", load[0], load[1], load[2]);
    return 0;
}
