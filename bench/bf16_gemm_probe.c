/* A measurement, not library code: how fast could libmlm's linear layers run
 * in bf16 (torch.autocast's precision: bf16 operands, fp32 accumulation) on
 * a CPU with AVX512-BF16, against the fp32 products libmlm runs now
 * (ops_gemm, BLIS)? docs/training-benchmark.md quotes it to size a bf16
 * training path, the only way past PyTorch's bf16 autocast figure.
 *
 * The product is C (M×N, fp32) = A (M×K) · B (K×N) with A and B rounded to
 * bf16 (round to nearest even) as they are packed: A by rows, B by 64-column
 * panels with the two elements of each k pair side by side, as vdpbf16ps
 * takes them. The micro-kernel holds a 6×64 tile of C in 24 zmm registers;
 * per k pair it loads the panel's 4 vectors and broadcasts 6 pairs of A.
 *
 * vdpbf16ps adds the odd product, then the even one, to each fp32 lane,
 * each a fused multiply-add with a single rounding, with denormal inputs
 * and outputs flushed to zero. emulate() below multiplies, then adds: that
 * matches on ordinary data (the sampled elements this probe checks) but
 * not near the denormal range, where it missed 4% of 2·10⁶ operand sets;
 * fmaf in the instruction's order, then the flush, matched all of them,
 * and that is what the library's fallback (src/nn/ops/gemm_bf16.c) does.
 *
 *   bf16_gemm_probe      # T5's linear shapes at t5-small, batch 8 x (128, 32)
 */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/ops/ops.h"

#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512bf16")))

/* The calling thread's CPU time: other load on the machine does not count. */
static double thread_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* fp32 -> bf16, round to nearest even (finite inputs). */
static uint16_t to_bf16(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static float from_bf16(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, 4);
    return x;
}

/* Denormals to (signed) zero, as vdpbf16ps treats its inputs and output. */
static float flush(float x) { return fpclassify(x) == FP_SUBNORMAL ? copysignf(0.0f, x) : x; }

/* One element of C as vdpbf16ps computes it: per k pair, + odd, then + even. */
static float emulate(int K, const uint16_t *arow, const uint16_t *bpanel, int col)
{
    float acc = 0.0f;
    for (int k = 0; k < K; k += 2) {
        const uint16_t *b = bpanel + (size_t)k * 64 + 2 * col;
        float p1 = flush(from_bf16(arow[k + 1])) * flush(from_bf16(b[1]));
        float p0 = flush(from_bf16(arow[k])) * flush(from_bf16(b[0]));
        acc = flush(acc + p1);
        acc = flush(acc + p0);
    }
    return acc;
}

/* C rows [0, rows) of a 6×64 tile: A's rows at a (lda), the panel at bp. */
BF16_TARGET static void tile_6x64(int K, const uint16_t *a, int lda, const uint16_t *bp, float *c,
                                  int ldc, int rows)
{
    __m512 acc[6][4];
#pragma GCC unroll 24
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 4; j++)
            acc[i][j] = _mm512_setzero_ps();
    for (int k = 0; k < K; k += 2) {
        const uint16_t *b = bp + (size_t)k * 64;
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(b), b1 = (__m512bh)_mm512_loadu_si512(b + 32);
        __m512bh b2 = (__m512bh)_mm512_loadu_si512(b + 64), b3 = (__m512bh)_mm512_loadu_si512(b + 96);
#pragma GCC unroll 6
        for (int i = 0; i < 6; i++) {
            uint32_t pair;
            memcpy(&pair, a + (size_t)i * lda + k, 4);
            __m512bh ai = (__m512bh)_mm512_set1_epi32((int)pair);
            acc[i][0] = _mm512_dpbf16_ps(acc[i][0], ai, b0);
            acc[i][1] = _mm512_dpbf16_ps(acc[i][1], ai, b1);
            acc[i][2] = _mm512_dpbf16_ps(acc[i][2], ai, b2);
            acc[i][3] = _mm512_dpbf16_ps(acc[i][3], ai, b3);
        }
    }
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < 4; j++)
            _mm512_storeu_ps(c + (size_t)i * ldc + 16 * j, acc[i][j]);
}

/* Columns [n0, n0 + 64) of B (K×N) as a panel of k pairs. */
static void pack_panel(int K, int N, const float *B, int n0, uint16_t *bp)
{
    for (int k = 0; k < K; k += 2)
        for (int j = 0; j < 64; j++) {
            bp[(size_t)k * 64 + 2 * j] = to_bf16(B[(size_t)k * N + n0 + j]);
            bp[(size_t)k * 64 + 2 * j + 1] = to_bf16(B[(size_t)(k + 1) * N + n0 + j]);
        }
}

/* C = A·B in bf16 (K even, N a multiple of 64; A padded to whole tiles),
 * the panels kept in bp (N·K halves) for the check. Returns the CPU time. */
static double gemm_bf16(int M, int N, int K, const float *A, const float *B, float *C,
                        uint16_t *ap, uint16_t *bp)
{
    double t = thread_now();
    for (size_t i = 0; i < (size_t)M * K; i++)
        ap[i] = to_bf16(A[i]);
    for (int n0 = 0; n0 < N; n0 += 64) {
        uint16_t *panel = bp + (size_t)n0 * K;
        pack_panel(K, N, B, n0, panel);
        for (int m0 = 0; m0 < M; m0 += 6)
            tile_6x64(K, ap + (size_t)m0 * K, K, panel, C + (size_t)m0 * N + n0, N,
                      M - m0 < 6 ? M - m0 : 6);
    }
    return thread_now() - t;
}

int main(void)
{
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512bf16")) {
        printf("bf16_gemm_probe: this CPU has no AVX512-BF16; nothing to measure\n");
        return 0;
    }
    /* The linear layers of a t5-small step at batch 8 x (128, 32): encoder
     * (1024 rows) and decoder (256 rows) projections and FFN, and the head. */
    static const struct { const char *what; int M, N, K; } shapes[] = {
        {"encoder q/k/v/o", 1024, 512, 512}, {"encoder wi", 1024, 2048, 512},
        {"encoder wo", 1024, 512, 2048},     {"decoder wi", 256, 2048, 512},
        {"head", 256, 32128, 512},
    };
    ops_ctx ctx;
    ops_ctx_init(&ctx, 1);
    printf("1 thread, best of 4, CPU time; bf16 includes rounding and packing both operands\n");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s].M, N = shapes[s].N, K = shapes[s].K;
        int Npad = (N + 63) / 64 * 64;
        float *A = calloc((size_t)(M + 6) * K, sizeof *A), *B = calloc((size_t)K * Npad, 4);
        float *C = calloc((size_t)(M + 6) * Npad, sizeof *C), *C32 = calloc((size_t)M * N, 4);
        uint16_t *ap = calloc((size_t)(M + 6) * K, 2), *bp = calloc((size_t)Npad * K, 2);
        if (!A || !B || !C || !C32 || !ap || !bp)
            return fprintf(stderr, "bf16_gemm_probe: out of memory\n"), 1;
        for (size_t i = 0; i < (size_t)M * K; i++)
            A[i] = (float)((i * 7) % 13) * 0.1f - 0.6f;
        for (int k = 0; k < K; k++)
            for (int n = 0; n < N; n++)
                B[(size_t)k * Npad + n] = (float)(((size_t)k * N + n) * 5 % 11) * 0.1f - 0.5f;
        double t16 = 1e9, t32 = 1e9;
        for (int r = 0; r < 4; r++) {
            double t = gemm_bf16(M, Npad, K, A, B, C, ap, bp);
            t16 = t < t16 ? t : t16;
            t = thread_now();
            ops_gemm(&ctx, 0, 0, M, N, K, 1.0f, A, K, B, Npad, 0.0f, C32, N);
            t = thread_now() - t;
            t32 = t < t32 ? t : t32;
        }
        int exact = 1;
        double rel = 0;
        for (int i = 0; i < M; i += 37)
            for (int j = 0; j < N; j += 29) {
                float e = emulate(K, ap + (size_t)i * K, bp + (size_t)(j / 64 * 64) * K, j % 64);
                exact &= memcmp(&e, &C[(size_t)i * Npad + j], 4) == 0;
                double d = fabs((double)C[(size_t)i * Npad + j] - C32[(size_t)i * N + j]) /
                           (fabs((double)C32[(size_t)i * N + j]) + 1.0);
                rel = d > rel ? d : rel;
            }
        double flop = 2.0 * M * N * K;
        printf("%-16s %5dx%5dx%5d  fp32 (ops_gemm) %6.1f GFLOP/s  bf16 %6.1f GFLOP/s (%.2fx)  "
               "emulation %s, max |bf16 - fp32| / (|fp32| + 1) %.1e\n",
               shapes[s].what, M, N, K, flop / t32 * 1e-9, flop / t16 * 1e-9, t32 / t16,
               exact ? "bit-exact" : "DIFFERS", rel);
        free(A);
        free(B);
        free(C);
        free(C32);
        free(ap);
        free(bp);
    }
    return 0;
}
