/* Products against bf16 weights (contract in nn/ops/gemm_bf16.h):
 *
 *   C[m][n] = Σ_k bf16(A[m][k])·W[n][k]  (+ beta·C[m][n]),  fp32 sums
 *
 * vdpbf16ps (AVX512-BF16: Zen 4/5, Cooper Lake, Sapphire Rapids) takes 16
 * lanes of bf16 pairs from each operand and adds both products of a lane's
 * pair into its fp32 accumulator: first the odd product, then the even one,
 * each a fused multiply-add with one rounding (nearest even), the
 * accumulator flushed to zero on input and output when denormal, whatever
 * MXCSR says (Intel SDM; on Zen 4, 2·10^6 random operand sets near the
 * denormal range agree bit for bit with fmaf-then-flush, while a multiply
 * then an add differ in 4%). The kernel keeps one accumulator per element
 * of C, so each element is that serial sum over k pairs in order, and a
 * plain C loop with fmaf (the portable path, below) computes the same
 * floats: every CPU gets the same results, and the results depend neither
 * on M, nor on the other rows, nor on the thread count (threads split W's
 * panels).
 *
 * The kernel: a tile of 6 rows of A × 64 rows of W lives in 24 zmm
 * accumulators; per k pair it loads the panel's 4 vectors (64 rows of W, a
 * pair each) and broadcasts each A row's pair. W is laid out once, at load,
 * as those panels (ops_bf16w); A is rounded to bf16 per call into a copy
 * padded to even K. On Zen 4 (1 thread) it runs the distilroberta, fill-mask
 * and T5 products at 2.1-2.9x libmlm's fp32 ones and 1.0-1.2x oneDNN's bf16
 * matmul (figures in docs/architecture.md, "Reduced precision kernels"). */
#include "nn/ops/gemm_bf16.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/threads.h"
#include "nn/ops/bf16.h"
#include "nn/ops/cpu.h"
#include "nn/ops/ops.h"

#define NP 64   /* rows of W per panel */
#define MR 6    /* rows of A per tile */

/* Where the pair (k, k+1), k even, of row j of panel p starts. */
static size_t panel_at(int KP, int p, int q, int j)
{
    return (((size_t)p * (size_t)KP + (size_t)q) * NP + (size_t)j) * 2;
}

static mlm_status bf16w_alloc(ops_bf16w *w, int N, int K, int ldw, const void *W)
{
    memset(w, 0, sizeof *w);
    if (N < 0 || K < 0 || ldw < K)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "bf16 weight: bad shape (%d, %d), ldw %d", N,
                       K, ldw);
    if (!W && (size_t)N * (size_t)K > 0)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "bf16 weight: NULL matrix");
    size_t panels = ((size_t)N + NP - 1) / NP, KP = ((size_t)K + 1) / 2;
    if (panels * KP > 0) {
        w->panels = mem_calloc(panels * KP * NP * 2, sizeof *w->panels);
        if (!w->panels)
            return err_oom();
    }
    w->N = N;
    w->K = K;
    return MLM_OK;
}

mlm_status ops_bf16w_from_f32(ops_bf16w *w, const float *W, int N, int K, int ldw)
{
    mlm_status st = bf16w_alloc(w, N, K, ldw, W);
    if (st != MLM_OK)
        return st;
    int KP = (K + 1) / 2;
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++)
            w->panels[panel_at(KP, n / NP, k / 2, n % NP) + (size_t)(k & 1)] =
                bf16_from_f32(W[(size_t)n * (size_t)ldw + (size_t)k]);
    return MLM_OK;
}

mlm_status ops_bf16w_from_bf16(ops_bf16w *w, const uint16_t *W, int N, int K, int ldw)
{
    mlm_status st = bf16w_alloc(w, N, K, ldw, W);
    if (st != MLM_OK)
        return st;
    int KP = (K + 1) / 2;
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++) {
            uint16_t h = W[(size_t)n * (size_t)ldw + (size_t)k];
            if ((h & 0x7f80u) == 0)   /* zero or denormal: read as signed zero */
                h &= 0x8000u;
            w->panels[panel_at(KP, n / NP, k / 2, n % NP) + (size_t)(k & 1)] = h;
        }
    return MLM_OK;
}

float ops_bf16w_at(const ops_bf16w *w, int n, int k)
{
    return bf16_to_f32(w->panels[panel_at((w->K + 1) / 2, n / NP, k / 2, n % NP) + (size_t)(k & 1)]);
}

void ops_bf16w_free(ops_bf16w *w)
{
    if (!w)
        return;
    mem_free(w->panels);
    w->panels = NULL;
    w->N = w->K = 0;
}

/* ---------------------------------------------------------------- the job */

typedef struct job {
    int M, N, KP, lda, ldc;
    float beta;
    const uint16_t *a;      /* M rows of 2·KP bf16 */
    const uint16_t *panels;
    float *C;
} job;

/* ---------------------------------------------------------------- portable path */

/* x, or a zero of its sign when x is denormal (vdpbf16ps's accumulator). */
static inline float flush_denormal(float x)
{
    return fabsf(x) < 0x1p-126f ? copysignf(0.0f, x) : x;
}

/* Row m of C against panel p, as vdpbf16ps would: per pair, the odd
 * product then the even one, each fused, each result flushed. The products
 * of two bf16 are exact in fp32 unless they under- or overflow, so only
 * those cases need the fusion; fmaf gives it everywhere. */
static inline void row_panel(const job *j, int m, int p)
{
    const uint16_t *a = j->a + (size_t)m * 2 * (size_t)j->KP;
    const uint16_t *w = j->panels + panel_at(j->KP, p, 0, 0);
    float acc[NP] = {0};
    for (int q = 0; q < j->KP; q++, w += 2 * NP) {
        float a0 = bf16_to_f32(a[2 * q]), a1 = bf16_to_f32(a[2 * q + 1]);
        for (int r = 0; r < NP; r++) {
            float s = flush_denormal(fmaf(a1, bf16_to_f32(w[2 * r + 1]), acc[r]));
            acc[r] = flush_denormal(fmaf(a0, bf16_to_f32(w[2 * r]), s));
        }
    }
    int n0 = p * NP, cols = j->N - n0 < NP ? j->N - n0 : NP;
    float *c = j->C + (size_t)m * (size_t)j->ldc + (size_t)n0;
    for (int r = 0; r < cols; r++)
        c[r] = j->beta == 0.0f ? acc[r] : acc[r] + j->beta * c[r];
}

static inline void panels_portable_body(void *arg, size_t begin, size_t end)
{
    const job *j = arg;
    for (size_t p = begin; p < end; p++)
        for (int m = 0; m < j->M; m++)
            row_panel(j, m, (int)p);
}

#if defined(__x86_64__) && defined(__GNUC__)
/* With FMA units fmaf is one instruction, and the loop over the panel's 64
 * rows vectorizes; without, it is libm's exact fmaf. */
__attribute__((target("avx2,fma"))) static void panels_portable_fma(void *arg, size_t begin,
                                                                   size_t end)
{
    panels_portable_body(arg, begin, end);
}
#endif

static void panels_portable(void *arg, size_t begin, size_t end)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (cpu_vec_level() >= CPU_VEC_AVX2) {
        panels_portable_fma(arg, begin, end);
        return;
    }
#endif
    panels_portable_body(arg, begin, end);
}

/* ---------------------------------------------------------------- AVX512-BF16 */

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#define INLINE __attribute__((always_inline)) inline

/* Rows [m, m + mr) of C against panel p; mr is a constant after inlining,
 * so the 4·mr accumulators live in registers. */
static BF16 INLINE void tile(const job *j, int mr, int m, int p)
{
    __m512 acc[MR][4];
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++)
        for (int v = 0; v < 4; v++)
            acc[i][v] = _mm512_setzero_ps();
    const uint16_t *w = j->panels + panel_at(j->KP, p, 0, 0);
    const uint16_t *a = j->a + (size_t)m * 2 * (size_t)j->KP;
    size_t lda = 2 * (size_t)j->KP;
    for (int q = 0; q < j->KP; q++, w += 2 * NP) {
        __m512bh w0 = (__m512bh)_mm512_loadu_si512(w), w1 = (__m512bh)_mm512_loadu_si512(w + 32);
        __m512bh w2 = (__m512bh)_mm512_loadu_si512(w + 64);
        __m512bh w3 = (__m512bh)_mm512_loadu_si512(w + 96);
#pragma GCC unroll 6
        for (int i = 0; i < mr; i++) {
            uint32_t pair;
            memcpy(&pair, a + (size_t)i * lda + 2 * (size_t)q, sizeof pair);
            __m512bh ai = (__m512bh)_mm512_set1_epi32((int)pair);
            acc[i][0] = _mm512_dpbf16_ps(acc[i][0], ai, w0);
            acc[i][1] = _mm512_dpbf16_ps(acc[i][1], ai, w1);
            acc[i][2] = _mm512_dpbf16_ps(acc[i][2], ai, w2);
            acc[i][3] = _mm512_dpbf16_ps(acc[i][3], ai, w3);
        }
    }
    int n0 = p * NP, cols = j->N - n0 < NP ? j->N - n0 : NP;
    __m512 beta = _mm512_set1_ps(j->beta);
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++) {
        float *c = j->C + (size_t)(m + i) * (size_t)j->ldc + (size_t)n0;
        for (int v = 0; v < 4; v++) {
            int left = cols - 16 * v;
            if (left <= 0)
                break;
            __mmask16 mask = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
            __m512 r = acc[i][v];
            if (j->beta != 0.0f)   /* acc + beta·C, not fused: as the portable path */
                r = _mm512_add_ps(r, _mm512_mul_ps(beta, _mm512_maskz_loadu_ps(mask, c + 16 * v)));
            _mm512_mask_storeu_ps(c + 16 * v, mask, r);
        }
    }
}

static BF16 void panels_bf16(void *arg, size_t begin, size_t end)
{
    const job *j = arg;
    for (size_t p = begin; p < end; p++) {
        int m = 0;
        for (; m + MR <= j->M; m += MR)
            tile(j, MR, m, (int)p);
        switch (j->M - m) {
        case 5: tile(j, 5, m, (int)p); break;
        case 4: tile(j, 4, m, (int)p); break;
        case 3: tile(j, 3, m, (int)p); break;
        case 2: tile(j, 2, m, (int)p); break;
        case 1: tile(j, 1, m, (int)p); break;
        default: break;
        }
    }
}

/* Rounds A's rows into a (rows of 2·KP, the pad zero) with vcvtneps2bf16,
 * which bf16_from_f32 matches bit for bit. */
static BF16 void round_rows_bf16(int M, int K, const float *A, int lda, uint16_t *a, int KP)
{
    for (int m = 0; m < M; m++) {
        const float *src = A + (size_t)m * (size_t)lda;
        uint16_t *dst = a + (size_t)m * 2 * (size_t)KP;
        int k = 0;
        for (; k + 16 <= K; k += 16)
            _mm256_storeu_si256((__m256i *)(dst + k),
                                (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(src + k)));
        for (; k < K; k++)
            dst[k] = bf16_from_f32(src[k]);
        if (K & 1)
            dst[K] = 0;
    }
}
#endif

static void round_rows(int M, int K, const float *A, int lda, uint16_t *a, int KP)
{
    for (int m = 0; m < M; m++) {
        uint16_t *dst = a + (size_t)m * 2 * (size_t)KP;
        bf16_from_f32_n(dst, A + (size_t)m * (size_t)lda, (size_t)K);
        if (K & 1)
            dst[K] = 0;
    }
}

mlm_status ops_gemm_bf16w(const ops_ctx *ctx, int M, const float *A, int lda,
                          const ops_bf16w *w, float beta, float *C, int ldc)
{
    if (!w || M < 0 || lda < w->K || ldc < w->N)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "gemm_bf16w: bad arguments (M %d, lda %d, ldc %d)",
                       M, lda, ldc);
    int N = w->N, K = w->K, KP = (K + 1) / 2;
    if (M == 0 || N == 0)
        return MLM_OK;
    if (!C || (K > 0 && (!A || !w->panels)))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "gemm_bf16w: NULL matrix");
    if (K == 0) {   /* an empty sum: C = 0 + beta·C */
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) {
                float *c = C + (size_t)m * (size_t)ldc + (size_t)n;
                *c = beta == 0.0f ? 0.0f : 0.0f + beta * *c;
            }
        return MLM_OK;
    }
    uint16_t *a = mem_alloc((size_t)M * 2 * (size_t)KP * sizeof *a);
    if (!a)
        return err_oom();
    int fast = cpu_bf16_level();
#if defined(__x86_64__) && defined(__GNUC__)
    if (fast)
        round_rows_bf16(M, K, A, lda, a, KP);
    else
#endif
        round_rows(M, K, A, lda, a, KP);
    job j = {M, N, KP, lda, ldc, beta, a, w->panels, C};
    size_t panels = ((size_t)N + NP - 1) / NP;
    /* A thread start (~20-50 us) pays for itself above ~2^20 multiply-adds. */
    int t = (double)M * N * K >= (double)(1 << 20) ? ctx->nthreads : 1;
#if defined(__x86_64__) && defined(__GNUC__)
    if (fast) {
        par_for(t, panels, 1, panels_bf16, &j);
        mem_free(a);
        return MLM_OK;
    }
#endif
    par_for(t, panels, 1, panels_portable, &j);
    mem_free(a);
    return MLM_OK;
}
