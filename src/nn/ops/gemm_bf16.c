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
 * matmul (figures in docs/architecture.md, "Reduced precision kernels").
 *
 * ops_gemm_bf16 (autocast's general product, both operands fp32) packs
 * op(B) into the same panels and rounds op(A)'s rows on every call, then
 * runs the same kernel or portable path; it also splits M when there are
 * too few panels for the threads (a weight gradient of 256 columns). */
#include "nn/ops/gemm_bf16.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/scratch.h"
#include "core/threads.h"
#include "nn/ops/amx.h"
#include "nn/ops/bf16.h"
#include "nn/ops/cpu.h"
#include "nn/ops/ops.h"
#include "nn/ops/stream.h"
#include "nn/ops/transpose.h"
#include "nn/ops/vmath.h"

#define NP 64   /* rows of W per panel */
#define MR 6    /* rows of A per tile */
#define KB (AMX_BLOCK / 4)  /* k pairs per tile block (nn/ops/amx.h) */

/* Pairs stored per row of a panel and of the rounded A: the K's pairs,
 * padded with zeros to whole tile blocks, so that the tile path never
 * reads past them (real models' K are multiples of 32 already). */
static int pairs_stored(int K)
{
    return ((K + 1) / 2 + KB - 1) / KB * KB;
}

/* Where the pair (k, k+1), k even, of row j of panel p starts; KS pairs
 * are stored per panel row. */
static size_t panel_at(int KS, int p, int q, int j)
{
    return (((size_t)p * (size_t)KS + (size_t)q) * NP + (size_t)j) * 2;
}

static mlm_status bf16w_alloc(ops_bf16w *w, int N, int K, int ldw, const void *W)
{
    memset(w, 0, sizeof *w);
    if (N < 0 || K < 0 || ldw < K)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "bf16 weight: bad shape (%d, %d), ldw %d", N,
                       K, ldw);
    if (!W && (size_t)N * (size_t)K > 0)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "bf16 weight: NULL matrix");
    size_t panels = ((size_t)N + NP - 1) / NP, KS = (size_t)pairs_stored(K);
    if ((size_t)K * panels > 0) {
        w->panels = mem_calloc_lines(panels * KS * NP * 2, sizeof *w->panels);
        if (!w->panels)
            return err_oom();
    }
    w->N = N;
    w->K = K;
    return MLM_OK;
}

mlm_status ops_bf16w_alloc(ops_bf16w *w, int N, int K)
{
    return bf16w_alloc(w, N, K, K, w); /* no matrix is read: any non-NULL one */
}

static void to_bf16(int fast, uint16_t *dst, const float *src, int n);

static void pack_pairs(int fast, const float *W, size_t ldw, int K, int KS, uint16_t *panels,
                       int n0, int n1, uint16_t *row);

mlm_status ops_bf16w_set_rows(ops_bf16w *w, const float *W, int ldw, int r0, int r1)
{
    if (r0 < 0 || r1 > w->N || r0 > r1 || ldw < w->K || (r1 > r0 && w->K > 0 && !W))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "bf16 weight: rows [%d, %d) of %d, ldw %d",
                       r0, r1, w->N, ldw);
    int K = w->K, KP = (K + 1) / 2, KS = pairs_stored(K);
    uint16_t *row = mem_alloc(((size_t)KP * 2 + 1) * sizeof *row);
    if (!row)
        return err_oom();
    pack_pairs(cpu_bf16_level(), W, (size_t)ldw, K, KS, w->panels, r0, r1, row);
    mem_free(row);
    return MLM_OK;
}

mlm_status ops_bf16w_from_f32(ops_bf16w *w, const float *W, int N, int K, int ldw)
{
    mlm_status st = bf16w_alloc(w, N, K, ldw, W);
    if (st == MLM_OK)
        st = ops_bf16w_set_rows(w, W, ldw, 0, N);
    if (st != MLM_OK)
        ops_bf16w_free(w);
    return st;
}

mlm_status ops_bf16w_from_bf16(ops_bf16w *w, const uint16_t *W, int N, int K, int ldw)
{
    mlm_status st = bf16w_alloc(w, N, K, ldw, W);
    if (st != MLM_OK)
        return st;
    int KS = pairs_stored(K);
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++) {
            uint16_t h = W[(size_t)n * (size_t)ldw + (size_t)k];
            if ((h & 0x7f80u) == 0)   /* zero or denormal: read as signed zero */
                h &= 0x8000u;
            w->panels[panel_at(KS, n / NP, k / 2, n % NP) + (size_t)(k & 1)] = h;
        }
    return MLM_OK;
}

float ops_bf16w_at(const ops_bf16w *w, int n, int k)
{
    return bf16_to_f32(w->panels[panel_at(pairs_stored(w->K), n / NP, k / 2, n % NP) + (size_t)(k & 1)]);
}

void ops_bf16w_row(const ops_bf16w *w, int n, float *out, int accumulate)
{
    const uint16_t *p = w->panels + panel_at(pairs_stored(w->K), n / NP, 0, n % NP);
    for (int k = 0; k < w->K; k++) {   /* pair k/2 of the row: 64 rows × 2 further on */
        float v = bf16_to_f32(p[(size_t)(k / 2) * NP * 2 + (size_t)(k & 1)]);
        out[k] = accumulate ? out[k] + v : v;
    }
}

size_t ops_bf16w_bytes(const ops_bf16w *w)
{
    size_t panels = ((size_t)w->N + NP - 1) / NP;
    return w->K > 0 ? panels * (size_t)pairs_stored(w->K) * NP * 2 * sizeof *w->panels : 0;
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

/* Work item i of a job: rows [mb·(i / npanels), +mb) of C against panel
 * i % npanels. Splitting M as well as the panels changes no result (each
 * element of C is its own serial sum). */
typedef struct job {
    int M, N, KP, KS, ldc;  /* KP pairs summed, KS stored (pairs_stored) */
    float alpha, beta;
    const uint16_t *a;      /* M rows of 2·KS bf16, then zero rows to a multiple of 16 */
    const uint16_t *panels;
    float *C;
    int mb, npanels;        /* rows per item, panels of W */
    int stream;             /* the tile path stores whole tiles of C past the cache */
    const float *bias;      /* NULL, or added to each row of C after beta·C (N) */
    int gelu;               /* then x·Φ(x) of each element (exact GELU) */
} job;

/* alpha·acc + beta·c, in that order of roundings on every path (alpha = 1
 * leaves acc exact, so ops_gemm_bf16w's results do not change). */
static inline float scale_out(const job *j, float acc, float c)
{
    float r = j->alpha == 1.0f ? acc : j->alpha * acc;
    return j->beta == 0.0f ? r : r + j->beta * c;
}

/* The epilogue of ops_gemm_bf16w_epi on cols finished elements of a row of
 * C (or of a tile's buffer), columns [n0, n0 + cols): + bias, then GELU
 * (v_bias_gelu), computed while the tile's rows are in L1 instead of two
 * more passes over a C of megabytes. Inlined into each path, vectorized
 * for its ISA: no contraction (ISO C), so the same floats on every one. */
static inline __attribute__((always_inline)) void epilogue_row(const job *j, float *c, int n0,
                                                               int cols)
{
    v_bias_gelu(c, j->bias ? j->bias + n0 : NULL, j->gelu, cols);
}

/* ---------------------------------------------------------------- portable path */

/* x, or a zero of its sign when x is denormal (vdpbf16ps's accumulator). */
static inline float flush_denormal(float x)
{
    return fabsf(x) < 0x1p-126f ? copysignf(0.0f, x) : x;
}

/* Row m of C's columns in panel p from their sums acc. */
static inline void row_store(const job *j, int m, int p, const float *acc)
{
    int n0 = p * NP, cols = j->N - n0 < NP ? j->N - n0 : NP;
    float *c = j->C + (size_t)m * (size_t)j->ldc + (size_t)n0;
    for (int r = 0; r < cols; r++)
        c[r] = scale_out(j, acc[r], c[r]);
    epilogue_row(j, c, n0, cols);
}

/* Row m of C against panel p, as vdpbf16ps would: per pair, the odd
 * product then the even one, each fused, each result flushed. The products
 * of two bf16 are exact in fp32 unless they under- or overflow, so only
 * those cases need the fusion; fmaf gives it everywhere. */
static inline void row_panel(const job *j, int m, int p)
{
    const uint16_t *a = j->a + (size_t)m * 2 * (size_t)j->KS;
    const uint16_t *w = j->panels + panel_at(j->KS, p, 0, 0);
    float acc[NP] = {0};
    for (int q = 0; q < j->KP; q++, w += 2 * NP) {
        float a0 = bf16_to_f32(a[2 * q]), a1 = bf16_to_f32(a[2 * q + 1]);
        for (int r = 0; r < NP; r++) {
            float s = flush_denormal(fmaf(a1, bf16_to_f32(w[2 * r + 1]), acc[r]));
            acc[r] = flush_denormal(fmaf(a0, bf16_to_f32(w[2 * r]), s));
        }
    }
    row_store(j, m, p, acc);
}

/* The rows [*m0, *m1) and panel *p of work item i. */
static inline void item(const job *j, size_t i, int *p, int *m0, int *m1)
{
    *p = (int)(i % (size_t)j->npanels);
    *m0 = (int)(i / (size_t)j->npanels) * j->mb;
    *m1 = j->M - *m0 < j->mb ? j->M : *m0 + j->mb;
}

static inline void panels_portable_body(void *arg, size_t begin, size_t end)
{
    const job *j = arg;
    for (size_t i = begin; i < end; i++) {
        int p, m0, m1;
        item(j, i, &p, &m0, &m1);
        for (int m = m0; m < m1; m++)
            row_panel(j, m, p);
    }
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

/* Rows [m, m + mr) of C against panel p from their sums acc, as row_store
 * computes them. */
static BF16 INLINE void tile_store(const job *j, int mr, int m, int p, __m512 acc[][4])
{
    int n0 = p * NP, cols = j->N - n0 < NP ? j->N - n0 : NP;
    __m512 alpha = _mm512_set1_ps(j->alpha), beta = _mm512_set1_ps(j->beta);
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++) {
        float *c = j->C + (size_t)(m + i) * (size_t)j->ldc + (size_t)n0;
        for (int v = 0; v < 4; v++) {
            int left = cols - 16 * v;
            if (left <= 0)
                break;
            __mmask16 mask = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
            __m512 r = acc[i][v];
            if (j->alpha != 1.0f)   /* as scale_out */
                r = _mm512_mul_ps(alpha, r);
            if (j->beta != 0.0f)   /* acc + beta·C, not fused: as the portable path */
                r = _mm512_add_ps(r, _mm512_mul_ps(beta, _mm512_maskz_loadu_ps(mask, c + 16 * v)));
            _mm512_mask_storeu_ps(c + 16 * v, mask, r);
        }
        epilogue_row(j, c, n0, cols);
    }
}

/* epilogue_row on rows of c (ld floats apart), in zmm. */
static BF16 void epilogue_rows_avx512(const job *j, float *c, size_t ld, int rows, int n0,
                                      int cols)
{
    for (int r = 0; r < rows; r++)
        epilogue_row(j, c + (size_t)r * ld, n0, cols);
}

/* The tile path's rows [m, m + rows) of C against panel p from the sums in
 * acc (rows of NP): tile_store a row at a time. */
static BF16 void amx_store_avx512(const job *j, int rows, int m, int p, const float *acc)
{
    for (int r = 0; r < rows; r++) {
        __m512 v[1][4];
        for (int i = 0; i < 4; i++)
            v[0][i] = _mm512_loadu_ps(acc + (size_t)r * NP + 16 * (size_t)i);
        tile_store(j, 1, m + r, p, v);
    }
}

/* Rows [m, m + mr) of C against panel p; mr is a constant after inlining,
 * so the 4·mr accumulators live in registers. */
static BF16 INLINE void tile(const job *j, int mr, int m, int p)
{
    __m512 acc[MR][4];
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++)
        for (int v = 0; v < 4; v++)
            acc[i][v] = _mm512_setzero_ps();
    const uint16_t *w = j->panels + panel_at(j->KS, p, 0, 0);
    size_t lda = 2 * (size_t)j->KS;
    const uint16_t *a = j->a + (size_t)m * lda;
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
    tile_store(j, mr, m, p, acc);
}

static BF16 void panels_bf16(void *arg, size_t begin, size_t end)
{
    const job *j = arg;
    for (size_t it = begin; it < end; it++) {
        int p, m, m1;
        item(j, it, &p, &m, &m1);
        for (; m + MR <= m1; m += MR)
            tile(j, MR, m, p);
        switch (m1 - m) {
        case 5: tile(j, 5, m, p); break;
        case 4: tile(j, 4, m, p); break;
        case 3: tile(j, 3, m, p); break;
        case 2: tile(j, 2, m, p); break;
        case 1: tile(j, 1, m, p); break;
        default: break;
        }
    }
}

/* dst[i] = bf16(src[i]), i < n, with vcvtneps2bf16, which bf16_from_f32
 * matches bit for bit. */
static BF16 void to_bf16_hw(uint16_t *dst, const float *src, int n)
{
    int k = 0;
    for (; k + 16 <= n; k += 16)
        _mm256_storeu_si256((__m256i *)(dst + k),
                            (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(src + k)));
    for (; k < n; k++)
        dst[k] = bf16_from_f32(src[k]);
}

/* Pair q of row n, q in [q0, KP), from W by element (the same bits as the
 * instruction's). */
static void pair_tail(const float *W, size_t ldw, int K, int KS, uint16_t *panels, int n, int q0)
{
    const float *w = W + (size_t)n * ldw;
    for (int q = q0; 2 * q < K; q++) {
        uint16_t *dst = panels + panel_at(KS, n / NP, q, n % NP);
        dst[0] = bf16_from_f32(w[2 * q]);
        dst[1] = 2 * q + 1 < K ? bf16_from_f32(w[2 * q + 1]) : 0;
    }
}

/* pack_pairs with the instruction: 16 rows of one panel by 16 pairs (32
 * floats a row) at a time, each row rounded into one vector of 16 pairs
 * (vcvtne2ps2bf16 keeps element order, so 32-bit word q is the pair q),
 * the 16×16 words transposed in registers, and each pair's 16 rows stored
 * as one 64-byte line of the panel. The scalar copy, one 4-byte store a
 * pair at a stride of 256 bytes, took a sixth of a bf16 T5 training step. */
static BF16 void pack_pairs_hw(const float *W, size_t ldw, int K, int KS, uint16_t *panels,
                               int n0, int n1)
{
    int q16 = K / 32 * 16, n = n0;
    for (; n < n1 && n % 16; n++)
        pair_tail(W, ldw, K, KS, panels, n, 0);
    for (; n + 16 <= n1; n += 16) {
        for (int q0 = 0; q0 < q16; q0 += 16) {
            __m512 r[16];
            for (int i = 0; i < 16; i++) {
                const float *src = W + (size_t)(n + i) * ldw + 2 * (size_t)q0;
                r[i] = (__m512)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + 16),
                                                   _mm512_loadu_ps(src));
            }
            ops_transpose16(r);
            for (int c = 0; c < 16; c++)
                _mm512_storeu_ps(panels + panel_at(KS, n / NP, q0 + c, n % NP), r[c]);
        }
        for (int i = 0; i < 16; i++)
            pair_tail(W, ldw, K, KS, panels, n + i, q16);
    }
    for (; n < n1; n++)
        pair_tail(W, ldw, K, KS, panels, n, 0);
}

/* Pair q of every panel from rows 2q and 2q + 1 of B (K×N, rows ldb apart;
 * row 2q + 1 zero past K): 16 columns at a time, both rows rounded into
 * one vector (vcvtne2ps2bf16) and interleaved (vpermw) into the 16 pairs
 * of one 64-byte line of the panel; the pad columns of the last panel
 * zero. */
static BF16 void pair_rows_hw(const float *B, size_t ldb, int N, int K, int KS,
                              uint16_t *panels, int q)
{
    const __m512i zip = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9,
                                         24, 8, 23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1,
                                         16, 0);
    const float *b0 = B + (size_t)(2 * q) * ldb, *b1 = 2 * q + 1 < K ? b0 + ldb : NULL;
    int npanels = (N + NP - 1) / NP;
    for (int pn = 0; pn < npanels; pn++) {
        int n0 = pn * NP, cols = N - n0 < NP ? N - n0 : NP, r = 0;
        uint16_t *dst = panels + panel_at(KS, pn, q, 0);
        for (; r + 16 <= cols; r += 16) {
            __m512 lo = _mm512_loadu_ps(b0 + n0 + r);
            __m512 hi = b1 ? _mm512_loadu_ps(b1 + n0 + r) : _mm512_setzero_ps();
            __m512i both = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
            _mm512_storeu_si512(dst + 2 * r, _mm512_permutexvar_epi16(zip, both));
        }
        for (; r < cols; r++) {
            dst[2 * r] = bf16_from_f32(b0[n0 + r]);
            dst[2 * r + 1] = b1 ? bf16_from_f32(b1[n0 + r]) : 0;
        }
        memset(dst + 2 * r, 0, (size_t)(NP - r) * 2 * sizeof *dst);
    }
}

/* a[m][k0 + i] = bf16(A[k0 + i][m]) for i < kb, m < M (A stored K×M, a's
 * rows lda2 apart): 16×16 blocks transposed in registers, then rounded
 * and stored as 32 bytes of a row of a; the edges by element. */
static BF16 void round_at_hw(const float *A, size_t lda, int M, int k0, int kb, uint16_t *a,
                             size_t lda2)
{
    int k16 = kb / 16 * 16, m16 = M / 16 * 16;
    for (int k = k0; k < k0 + k16; k += 16) {
        for (int m = 0; m < m16; m += 16) {
            __m512 r[16];
            for (int i = 0; i < 16; i++)
                r[i] = _mm512_loadu_ps(A + (size_t)(k + i) * lda + (size_t)m);
            ops_transpose16(r);
            for (int c = 0; c < 16; c++)
                _mm256_storeu_si256((__m256i *)(a + (size_t)(m + c) * lda2 + (size_t)k),
                                    (__m256i)_mm512_cvtneps_pbh(r[c]));
        }
        for (int m = m16; m < M; m++)
            for (int i = 0; i < 16; i++)
                a[(size_t)m * lda2 + (size_t)(k + i)] =
                    bf16_from_f32(A[(size_t)(k + i) * lda + (size_t)m]);
    }
    for (int k = k0 + k16; k < k0 + kb; k++)
        for (int m = 0; m < M; m++)
            a[(size_t)m * lda2 + (size_t)k] = bf16_from_f32(A[(size_t)k * lda + (size_t)m]);
}
#endif

/* A row of n floats to bf16: the instruction where the kernel runs (fast),
 * bf16_from_f32 elsewhere; the same bits either way. */
static void to_bf16(int fast, uint16_t *dst, const float *src, int n)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (fast) {
        to_bf16_hw(dst, src, n);
        return;
    }
#endif
    (void)fast;
    bf16_from_f32_n(dst, src, (size_t)n);
}

/* Pairs q < KP of rows [n0, n1) of W (N×K, rows ldw apart) into the panel
 * layout: pair q of row n is (bf16(W[n][2q]), bf16(W[n][2q + 1])), the
 * second zero at an odd K's end; the pad rows and pairs are not written.
 * Without the instruction a row at a time through row (2·KP + 1
 * elements), its pairs then laid into the panel as 32-bit words. */
static void pack_pairs(int fast, const float *W, size_t ldw, int K, int KS, uint16_t *panels,
                       int n0, int n1, uint16_t *row)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (fast) {
        pack_pairs_hw(W, ldw, K, KS, panels, n0, n1);
        return;
    }
#endif
    int KP = (K + 1) / 2;
    for (int n = n0; n < n1; n++) {
        to_bf16(fast, row, W + (size_t)n * ldw, K);
        row[K] = 0; /* the pad of an odd K */
        for (int q = 0; q < KP; q++)
            memcpy(panels + panel_at(KS, n / NP, q, n % NP), row + 2 * q, 2 * sizeof *row);
    }
}

/* Rounds A's rows into a (rows of 2·KS, the pad zero). */
static void round_rows(int fast, int M, int K, const float *A, int lda, uint16_t *a, int KS)
{
    for (int m = 0; m < M; m++) {
        uint16_t *dst = a + (size_t)m * 2 * (size_t)KS;
        to_bf16(fast, dst, A + (size_t)m * (size_t)lda, K);
        memset(dst + K, 0, (2 * (size_t)KS - (size_t)K) * sizeof *dst);
    }
}

/* Rows of the rounded A: M, then zero rows to a multiple of 16, which the
 * tile path reads (its results for them are not stored). */
static size_t a_rows(int M)
{
    return ((size_t)M + AMX_ROWS - 1) / AMX_ROWS * AMX_ROWS;
}

/* ---------------------------------------------------------------- AMX-BF16 */

/* epilogue_row on rows of c (ld floats apart) that the tile path stored
 * whole: in zmm on the hardware (the tile path's own code is compiled for
 * the baseline ISA, where the GELU's division and exp would run 4 wide). */
static void epilogue_rows(const job *j, int model, float *c, size_t ld, int rows, int n0,
                          int cols)
{
    if (!j->bias && !j->gelu)
        return;
#if defined(__x86_64__) && defined(__GNUC__)
    if (!model) {
        epilogue_rows_avx512(j, c, ld, rows, n0, cols);
        return;
    }
#endif
    for (int r = 0; r < rows; r++)
        epilogue_row(j, c + (size_t)r * ld, n0, cols);
}

/* Rows [m, m + rows) of C against panel p from the tile path's sums (rows
 * of NP): in zmm on the hardware (which implies AVX-512), row_store's
 * loop on the model; the same floats either way. */
static void amx_store(const job *j, int model, int rows, int m, int p, const float *acc)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (!model) {
        amx_store_avx512(j, rows, m, p, acc);
        return;
    }
#endif
    (void)model;
    for (int r = 0; r < rows; r++)
        row_store(j, m + r, p, acc + (size_t)r * NP);
}

/* Whether the tile path's sums for rows of panel p may be streamed into C
 * whole (ops_stream_rows after the epilogue): C is large (j->stream), the
 * panel has its NP columns and the sums are C's values (alpha 1, beta 0). */
static int amx_streams(const job *j, int model, int p)
{
    return j->stream && !model && j->N - p * NP >= NP && j->alpha == 1.0f && j->beta == 0.0f;
}

/* Rows [m, m + rows) of C against panel p from the sums in acc (rows of
 * NP, overwritten): streamed when amx_streams says so (join and keep as
 * ops_stream_rows's, with carry), else amx_store. */
static void amx_put(const job *j, int model, int rows, int m, int p, float *acc, float *carry,
                    int join, int keep)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (amx_streams(j, model, p)) {
        epilogue_rows(j, model, acc, NP, rows, p * NP, NP);
        ops_stream_rows(j->C + (size_t)m * (size_t)j->ldc + (size_t)p * NP, (size_t)j->ldc, acc,
                        rows, carry, join, keep);
        return;
    }
#endif
    (void)carry, (void)join, (void)keep;
    amx_store(j, model, rows, m, p, acc);
}

/* A long k (the tied head's input gradient sums over 32128 vocabulary
 * entries: a panel is 4 MB) goes through the tiles a chunk of k at a time,
 * the sums of a group of tiles of C kept between chunks: a chunk's slice
 * of a panel is read from memory once and then from the cache for every
 * 32 rows, where whole panels were read again from memory for each (that
 * product ran at 260 GFLOP/s on one thread, 500 by chunks; the short-k
 * ones run at 700-900). Only from KBLOCK_MIN blocks: below, a panel stays
 * in the cache anyway. The tests lower all three (ops_gemm_bf16_chunking)
 * so that small products take this path too. */
#define KC 32           /* k blocks of a chunk: 128 KB of a panel */
#define KBLOCK_MIN 128  /* from K = 4096 */
#define GROUP 64        /* tiles of 32 rows × 64 columns kept: 512 KB of sums */

/* A shorter k goes by chunks too when the product has the rows for it
 * (L1_GROUP tiles or more): a chunk of L1_CHUNK blocks of a panel (24 KB)
 * then stays in L1 for the group's tiles, where each tile read its whole
 * panel from L2 (at K = 768 a panel is 96 KB, twice L1). At 1024 rows and
 * K = 768 or 3072 on a Xeon with AMX (1 thread), the encoder's products
 * ran 5-20% faster (e.g. 1024 × 3072 × 768: 4.7-5.2 → 3.9-4.3 ms). Not
 * where streamed rows join their lines (stream_run), which needs the
 * tiles in panel order. */
#define L1_CHUNK 6
#define L1_GROUP 4

static int chunk_from = KBLOCK_MIN, chunk_blocks = KC, chunk_group = GROUP;

void ops_gemm_bf16_chunking(int from_blocks, int blocks, int group)
{
    chunk_from = from_blocks > 0 ? from_blocks : KBLOCK_MIN;
    chunk_blocks = blocks > 0 ? blocks : KC;
    chunk_group = group > 0 && group <= GROUP ? group : GROUP;
}

/* One 32-row tile of C: rows [m, m + rows) against panel p. */
typedef struct amx_tile {
    int p, m, rows;
} amx_tile;

/* Up to group tiles of items [*it, end) from row *m of item *it on, in
 * the items' order; advances the cursor past them. */
static int next_tiles(const job *j, size_t *it, int *m, size_t end, int group, amx_tile *t)
{
    int n = 0;
    while (n < group && *it < end) {
        int p, m0, m1;
        item(j, *it, &p, &m0, &m1);
        if (*m < m0)
            *m = m0;
        if (*m >= m1) {
            (*it)++;
            *m = 0;
            continue;
        }
        int rows = m1 - *m < AMX_MAX_ROWS ? m1 - *m : AMX_MAX_ROWS;
        t[n++] = (amx_tile){p, *m, rows};
        *m += rows;
    }
    return n;
}

/* Items [begin, end) a chunk of k blocks at a time, with acc for the sums
 * of a group of tiles (at most GROUP). Each element is still one sum over
 * its k pairs in order: amx_panel carries it across the chunks exactly. A
 * tile is stored after its last chunk, while the next is summed. */
static void panels_amx_chunked(const job *j, int model, size_t begin, size_t end, float *acc,
                               int chunk, int group)
{
    const size_t lda = 2 * (size_t)j->KS * sizeof *j->a;
    const int blocks = j->KS / KB;
    amx_tile t[GROUP];
    size_t it = begin;
    int m = 0, n;
    while ((n = next_tiles(j, &it, &m, end, group, t)) > 0) {
        for (int k = 0; k < blocks; k += chunk) {
            int nb = blocks - k < chunk ? blocks - k : chunk;
            for (int i = 0; i < n; i++) {
                const uint8_t *a = (const uint8_t *)j->a + (size_t)t[i].m * lda +
                                   (size_t)k * AMX_BLOCK;
                const uint8_t *w =
                    (const uint8_t *)(j->panels + panel_at(j->KS, t[i].p, k * KB, 0));
                float *sums = acc + (size_t)i * AMX_MAX_ROWS * NP;
                /* No load hint: the panel's chunk is read again by the
                 * group's next tile and A's by the tile's second half
                 * (hinting either was 3-9% slower in a kernel model). */
                amx_panel(AMX_BF16, model, a, lda, w, nb, t[i].rows, sums, NP * sizeof *acc,
                          k > 0, 0);
                if (k + nb == blocks)
                    amx_put(j, model, t[i].rows, t[i].m, t[i].p, sums, NULL, 0, 0);
            }
        }
    }
}

/* Whether C's rows, streamed, share partial lines between panels (they do
 * not start on cache lines). */
static int rows_join(const job *j, int model)
{
    return j->stream && !model && ops_stream_rows_share_lines(j->C, j->ldc);
}

/* How many items from it on (before end) run together: consecutive panels
 * on the same rows whose tiles are streamed whole, when rows_join (as many
 * as ops_stream_run_panels allows); 1 otherwise. */
static size_t stream_run(const job *j, int model, size_t it, size_t end)
{
    size_t n = 1, cap = ops_stream_run_panels((size_t)j->KS * 2 * NP * sizeof *j->panels);
    int p, m0, m1;
    item(j, it, &p, &m0, &m1);
    if (!rows_join(j, model) || !amx_streams(j, model, p))
        return 1;
    while (n < cap && it + n < end && (it + n) % (size_t)j->npanels != 0 &&
           amx_streams(j, model, p + (int)n))
        n++;
    return n;
}

/* Rows [m, m + rows) of C against panel p. Whole tiles whose sums are C's
 * values and are not streamed go straight into C (at K = 768 the copy
 * through acc took a third of the tile path's time); any other tile
 * through acc and amx_put. From 17 rows, the panel's k blocks are read
 * once a tile, A's rows again by the next half and the run's next panels:
 * the panel goes by L1 (amx_panel's w_once). Up to 16 rows (fill-mask, a
 * decoding step), where the panel comes from memory and the sums are
 * stored once per panel, it measured no difference: left off. */
static void amx_tile_at(const job *j, int model, int p, int m, int rows, float *acc,
                        float *carry, int join, int keep)
{
    const size_t lda = 2 * (size_t)j->KS * sizeof *j->a;
    const uint8_t *a = (const uint8_t *)j->a + (size_t)m * lda;
    const uint8_t *w = (const uint8_t *)(j->panels + panel_at(j->KS, p, 0, 0));
    const int once = rows > AMX_ROWS;
    if (rows % AMX_ROWS == 0 && j->N - p * NP >= NP && j->alpha == 1.0f && j->beta == 0.0f &&
        !amx_streams(j, model, p)) {
        float *c = j->C + (size_t)m * (size_t)j->ldc + (size_t)p * NP;
        amx_panel(AMX_BF16, model, a, lda, w, j->KS / KB, rows, c, (size_t)j->ldc * sizeof *c, 0,
                  once);
        epilogue_rows(j, model, c, (size_t)j->ldc, rows, p * NP, NP);
        return;
    }
    amx_panel(AMX_BF16, model, a, lda, w, j->KS / KB, rows, acc, NP * sizeof *acc, 0,
              once);
    amx_put(j, model, rows, m, p, acc, carry, join, keep);
}

/* Items [begin, end) on the tile path (nn/ops/amx.h): up to 32 rows at a
 * time against the whole panel, then the portable path's epilogue; a long
 * k by chunks when the sums' buffer can be had (the same bits without it).
 * Each element of C is still one sum over its k pairs in order, whatever
 * the split into items, chunks and threads (only its rounding differs
 * from the other paths'). */
static void panels_amx(const job *j, int model, size_t begin, size_t end)
{
    _Alignas(64) float acc[AMX_MAX_ROWS * NP], carry[AMX_MAX_ROWS * 16];
    _Alignas(64) float sums_l1[L1_GROUP * AMX_MAX_ROWS * NP];
    const int blocks = j->KS / KB;
    float *sums = NULL;
    amx_begin(model);
    if (blocks >= chunk_from &&
        (sums = mem_alloc_lines((size_t)chunk_group * AMX_MAX_ROWS * NP * sizeof *sums))) {
        panels_amx_chunked(j, model, begin, end, sums, chunk_blocks, chunk_group);
        mem_free(sums);
        goto done;
    }
    if (blocks > L1_CHUNK && j->M >= L1_GROUP * AMX_MAX_ROWS && !rows_join(j, model)) {
        panels_amx_chunked(j, model, begin, end, sums_l1, L1_CHUNK, L1_GROUP);
        goto done;
    }
    for (size_t it = begin, run; it < end; it += run) {
        int p, m0, m1;
        item(j, it, &p, &m0, &m1);
        run = stream_run(j, model, it, end);
        for (int m = m0; m < m1; m += AMX_MAX_ROWS) {
            int rows = m1 - m < AMX_MAX_ROWS ? m1 - m : AMX_MAX_ROWS;
            for (int q = 0; q < (int)run; q++)
                amx_tile_at(j, model, p + q, m, rows, acc, carry, q > 0, q + 1 < (int)run);
        }
    }
done:
#if defined(__x86_64__) && defined(__GNUC__)
    if (j->stream && !model)
        _mm_sfence();   /* the streamed stores before the join */
#endif
    amx_end(model);
}

static void panels_amx_hw(void *arg, size_t begin, size_t end)
{
    panels_amx(arg, 0, begin, end);
}

static void panels_amx_model(void *arg, size_t begin, size_t end)
{
    panels_amx(arg, 1, begin, end);
}

/* The tile path for a product of M rows: from AMX_BF16_MIN_ROWS
 * (nn/ops/amx.h says why). */
static cpu_amx amx_for(int M)
{
    return M >= AMX_BF16_MIN_ROWS ? cpu_amx_bf16_level() : CPU_AMX_NONE;
}

/* The function that runs j's items on the tile path when amx says so,
 * else on the kernel's path or the portable one (the same bits). */
static par_fn job_path(int fast, cpu_amx amx)
{
    if (amx != CPU_AMX_NONE)
        return amx == CPU_AMX_HW ? panels_amx_hw : panels_amx_model;
#if defined(__x86_64__) && defined(__GNUC__)
    if (fast)
        return panels_bf16;
#endif
    (void)fast;
    return panels_portable;
}

static size_t job_items(const job *j)
{
    return (size_t)j->npanels * (((size_t)j->M + (size_t)j->mb - 1) / (size_t)j->mb);
}

/* Rows per item, at most mb: when the panels are few enough to stay in
 * the cache (PANELS_CACHED bytes), few enough rows that an item's rounded
 * rows of A (its k pairs each) stay there too while the item goes across
 * the panels (items run panel by panel within a block of rows); whole
 * tiles of the path that runs them. Whole rows per item read all of A
 * from memory (or the shared cache) once per panel: with blocks of 256 KB
 * the head's weight gradient (32128 rows, k 256) took 15-25 ms instead of
 * 23-32 on one thread with AMX, and at two threads, where each thread had
 * read all of A per panel, the FFN's products (1024-2048 rows) 35-45%
 * less. Large panels keep whole rows: each block of rows would read them
 * all again (the 77 MB of a 50265-word head's, once per 160 rows, made a
 * bf16 forward of 8×128 tokens 12% slower), and so does a long k (its
 * tiles are chunked over k instead: panels_amx_chunked). */
#define A_BLOCK_BYTES (256 * 1024)
#define PANELS_CACHED (2 * 1024 * 1024)

static int item_rows(int mb, int KS, int N, cpu_amx amx)
{
    int unit = amx != CPU_AMX_NONE ? AMX_MAX_ROWS : MR;
    size_t row = 2 * (size_t)KS * sizeof(uint16_t);
    size_t panels = ((size_t)N + NP - 1) / NP * NP * row;
    int cap = (int)(A_BLOCK_BYTES / row) / unit * unit;
    if (KS / KB >= KBLOCK_MIN || panels > PANELS_CACHED)
        return mb;
    return mb > cap ? (cap > unit ? cap : unit) : mb;
}

/* Runs every item of j on t threads. */
static void run_job(const job *j, int fast, cpu_amx amx, int t)
{
    par_for(t, job_items(j), 1, job_path(fast, amx), (void *)j);
}

mlm_status ops_gemm_bf16w_multi(const ops_ctx *ctx, int M, const float *A, int lda, int n,
                                const ops_bf16w *const *w, float beta, float *const *C,
                                const int *ldc)
{
    return ops_gemm_bf16w_epi(ctx, M, A, lda, n, w, beta, NULL, 0, C, ldc);
}

mlm_status ops_gemm_bf16w_epi(const ops_ctx *ctx, int M, const float *A, int lda, int n,
                              const ops_bf16w *const *w, float beta, const float *const *bias,
                              int gelu, float *const *C, const int *ldc)
{
    if (n < 1 || n > PAR_JOBS_MAX || !w || !C || !ldc || M < 0)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "gemm_bf16w: bad arguments (%d weights, M %d)",
                       n, M);
    for (int i = 0; i < n; i++)
        if (!w[i] || lda < w[i]->K || ldc[i] < w[i]->N || w[i]->K != w[0]->K)
            return err_set(MLM_ERR_INVALID_ARGUMENT,
                           "gemm_bf16w: bad arguments (weight %d: M %d, lda %d, ldc %d)", i, M,
                           lda, ldc[i]);
    int K = w[0]->K, KP = (K + 1) / 2, KS = pairs_stored(K), N = 0;
    for (int i = 0; i < n; i++)
        N += w[i]->N;
    if (M == 0 || N == 0)
        return MLM_OK;
    for (int i = 0; i < n; i++)
        if (w[i]->N > 0 && (!C[i] || (K > 0 && (!A || !w[i]->panels))))
            return err_set(MLM_ERR_INVALID_ARGUMENT, "gemm_bf16w: NULL matrix (weight %d)", i);
    if (K == 0) {   /* an empty sum: C = 0 + beta·C, then the epilogue */
        for (int i = 0; i < n; i++) {
            job e = {.N = w[i]->N, .bias = bias ? bias[i] : NULL, .gelu = gelu};
            for (int m = 0; m < M; m++) {
                float *row = C[i] + (size_t)m * (size_t)ldc[i];
                for (int c = 0; c < w[i]->N; c++)
                    row[c] = beta == 0.0f ? 0.0f : 0.0f + beta * row[c];
                epilogue_row(&e, row, 0, w[i]->N);
            }
        }
        return MLM_OK;
    }
    size_t arow = 2 * (size_t)KS;
    uint16_t *a = mem_alloc_lines(a_rows(M) * arow * sizeof *a);
    if (!a)
        return err_oom();
    int fast = cpu_bf16_level();
    round_rows(fast, M, K, A, lda, a, KS);
    memset(a + (size_t)M * arow, 0, (a_rows(M) - (size_t)M) * arow * sizeof *a);
    job jobs[PAR_JOBS_MAX];
    void *args[PAR_JOBS_MAX];
    size_t items[PAR_JOBS_MAX];
    double bytes = 2.0 * N * K;
    for (int i = 0; i < n; i++) {
        int panels = (w[i]->N + NP - 1) / NP;
        int mb = item_rows(M, KS, w[i]->N, amx_for(M));
        jobs[i] = (job){M, w[i]->N, KP, KS, ldc[i], 1.0f, beta, a, w[i]->panels, C[i], mb, panels,
                        ops_stream_worth(M, w[i]->N, OPS_STREAM_FROM), bias ? bias[i] : NULL,
                        gelu};
        args[i] = &jobs[i];
        items[i] = job_items(&jobs[i]);
    }
    par_for_jobs(ops_threads_for(ctx->nthreads, (double)M * N * K, bytes), n, items, 1,
                 job_path(fast, amx_for(M)), args);
    mem_free(a);
    return MLM_OK;
}

mlm_status ops_gemm_bf16w(const ops_ctx *ctx, int M, const float *A, int lda,
                          const ops_bf16w *w, float beta, float *C, int ldc)
{
    return ops_gemm_bf16w_multi(ctx, M, A, lda, 1, &w, beta, &C, &ldc);
}

/* ---------------------------------------------------------------- general product */

/* One product of ops_gemm_bf16 with validated arguments, M, N, K > 0 and
 * alpha != 0. */
typedef struct product {
    int transa, transb, M, N, K, lda, ldb, ldc;
    float alpha, beta;
    const float *A, *B;
    float *C;
    int stream;   /* the tile path streams C (streams) */
} product;

/* Rows of A (stored K×M) converted together before their transposition:
 * each row m of op(A) then gets TB consecutive k, one cache line, per
 * block, instead of one scattered 2-byte store per element. */
#define TB 32

/* Elements of the conversion buffer of the paths without the instruction
 * (with it the packing needs none): TB rows of A or two of B (K×N
 * layout), or one row of B (N×K layout) padded to even. */
static size_t rows_size(int M, int N, int K)
{
    size_t mn = (size_t)(M > N ? M : N), KP = ((size_t)K + 1) / 2;
    size_t a = TB * mn, b = 2 * KP + 1;
    return a > b ? a : b;
}

/* Scratch for a product: the rounded A, the packed op(B), the rows, and
 * 64 bytes to start them on a cache line (scratch_start). */
static size_t scratch_size(int M, int N, int K)
{
    size_t KS = (size_t)pairs_stored(K), panels = ((size_t)N + NP - 1) / NP;
    return (a_rows(M) * 2 * KS + panels * KS * NP * 2 + rows_size(M, N, K)) * sizeof(uint16_t) +
           64;
}

/* The first cache line boundary in a scratch block: the rounded A and the
 * panels after it (whole 64-byte rows: KS is whole tile blocks) then start
 * on one, as the tile loads want (mem_alloc_lines says why). */
static uint16_t *scratch_start(void *block)
{
    uintptr_t p = (uintptr_t)block;
    return (uint16_t *)((p + 63) & ~(uintptr_t)63);
}

/* Items [begin, end) of op(A)'s rounding into a (rows of 2·KS bf16, the
 * pad zero): rows of op(A) when A is stored M×K; blocks of TB rows of A
 * stored K×M (transa), converted into rows (TB·M elements) and transposed. */
static void round_a_items(int fast, const product *p, uint16_t *a, int KS, uint16_t *rows,
                          size_t begin, size_t end)
{
    const int M = p->M, K = p->K;
    const size_t lda2 = 2 * (size_t)KS;
    if (!p->transa) {
        round_rows(fast, (int)(end - begin), K, p->A + begin * (size_t)p->lda, p->lda,
                   a + begin * lda2, KS);
        return;
    }
    for (size_t blk = begin; blk < end; blk++) {
        int k0 = (int)blk * TB, kb = K - k0 < TB ? K - k0 : TB;
#if defined(__x86_64__) && defined(__GNUC__)
        if (fast) {
            round_at_hw(p->A, (size_t)p->lda, M, k0, kb, a, lda2);
            for (int m = 0; m < M && k0 + kb == K; m++)   /* the last block pads */
                memset(a + (size_t)m * lda2 + (size_t)K, 0, (lda2 - (size_t)K) * sizeof *a);
            continue;
        }
#endif
        for (int i = 0; i < kb; i++)
            to_bf16(fast, rows + (size_t)i * (size_t)M, p->A + (size_t)(k0 + i) * (size_t)p->lda,
                    M);
        for (int m = 0; m < M; m++) {
            uint16_t *dst = a + (size_t)m * lda2 + (size_t)k0;
            for (int i = 0; i < kb; i++)
                dst[i] = rows[(size_t)i * (size_t)M + (size_t)m];
            if (k0 + kb == K)   /* the last block pads */
                memset(dst + kb, 0, (lda2 - (size_t)K) * sizeof *dst);
        }
    }
}

static size_t a_items(const product *p)
{
    return p->transa ? ((size_t)p->K + TB - 1) / TB : (size_t)p->M;
}

/* Items [begin, end) of op(B)'s packing into the panel layout of ops_bf16w
 * (column n of op(B) is row n of the weight), K padded to even and N to 64
 * with zeros: within a panel, pair q of its 64 columns side by side. B
 * stored N×K (transb): an item is a panel, its 64 rows converted into rows,
 * then transposed; B stored K×N: an item is a pair q, rows 2q and 2q+1
 * giving the pairs of a whole row of panels. The pairs from KP to KS are
 * product_run's to zero. */
static void pack_b_items(int fast, const product *p, uint16_t *panels, int KS, uint16_t *rows,
                         size_t begin, size_t end)
{
    const int N = p->N, K = p->K, KP = (K + 1) / 2, npanels = (N + NP - 1) / NP;
    if (p->transb) {
        for (size_t it = begin; it < end; it++) {
            int pn = (int)it, n0 = pn * NP, cols = N - n0 < NP ? N - n0 : NP;
            pack_pairs(fast, p->B, (size_t)p->ldb, K, KS, panels, n0, n0 + cols, rows);
            for (int q = 0; q < KP && cols < NP; q++)   /* the pad rows of the last panel */
                memset(panels + panel_at(KS, pn, q, cols), 0,
                       (size_t)(NP - cols) * 2 * sizeof *panels);
        }
        return;
    }
#if defined(__x86_64__) && defined(__GNUC__)
    if (fast) {
        for (size_t it = begin; it < end; it++)
            pair_rows_hw(p->B, (size_t)p->ldb, N, K, KS, panels, (int)it);
        return;
    }
#endif
    uint16_t *r0 = rows, *r1 = rows + N;
    for (size_t it = begin; it < end; it++) {
        int q = (int)it;
        to_bf16(fast, r0, p->B + (size_t)(2 * q) * (size_t)p->ldb, N);
        if (2 * q + 1 < K)
            to_bf16(fast, r1, p->B + (size_t)(2 * q + 1) * (size_t)p->ldb, N);
        else
            memset(r1, 0, (size_t)N * sizeof *r1);
        for (int pn = 0; pn < npanels; pn++) {
            int n0 = pn * NP, cols = N - n0 < NP ? N - n0 : NP;
            uint16_t *dst = panels + panel_at(KS, pn, q, 0);
            for (int r = 0; r < cols; r++) {
                dst[2 * r] = r0[n0 + r];
                dst[2 * r + 1] = r1[n0 + r];
            }
            for (int r = cols; r < NP; r++)
                dst[2 * r] = dst[2 * r + 1] = 0;
        }
    }
}

static size_t b_items(const product *p)
{
    return p->transb ? ((size_t)p->N + NP - 1) / NP : ((size_t)p->K + 1) / 2;
}

/* The packing split over threads: each chunk converts through its own
 * rows buffer (the packed bits do not depend on the split). */
typedef struct pack_job {
    const product *p;
    int fast, KS, which;    /* which: 0 op(A), 1 op(B) */
    uint16_t *a, *panels;
    _Atomic int failed;     /* a chunk could not get its buffer */
} pack_job;

static void pack_range(void *arg, size_t begin, size_t end)
{
    pack_job *j = arg;
    uint16_t *rows = NULL;
    if (!j->fast && !(rows = mem_alloc(rows_size(j->p->M, j->p->N, j->p->K) * sizeof *rows))) {
        j->failed = 1;
        return;
    }
    if (j->which == 0)
        round_a_items(j->fast, j->p, j->a, j->KS, rows, begin, end);
    else
        pack_b_items(j->fast, j->p, j->panels, j->KS, rows, begin, end);
    mem_free(rows);
}

/* Runs p on t threads with the scratch of scratch_size; -1 when a thread
 * could not get its packing buffer. The packing is O(NK + MK) against the
 * product's O(MNK), but on one thread it would be a tenth of a training
 * step: with t > 1 the threads split it too. Few panels and many rows (a
 * weight gradient of 256 columns over 2048 tokens) split the product's
 * rows as well as its panels, so that every thread has work. */
static int product_run(const product *p, int t, uint16_t *scratch)
{
    int fast = cpu_bf16_level();
    cpu_amx amx = amx_for(p->M);
    int KP = (p->K + 1) / 2, KS = pairs_stored(p->K), npanels = (p->N + NP - 1) / NP;
    const size_t arow = 2 * (size_t)KS;
    uint16_t *a = scratch, *panels = a + a_rows(p->M) * arow;
    uint16_t *rows = panels + (size_t)npanels * (size_t)KS * NP * 2;
    memset(a + (size_t)p->M * arow, 0, (a_rows(p->M) - (size_t)p->M) * arow * sizeof *a);
    for (int pn = 0; pn < npanels && KS > KP; pn++)   /* the pad pairs of each panel */
        memset(panels + panel_at(KS, pn, KP, 0), 0, (size_t)(KS - KP) * NP * 2 * sizeof *panels);
    if (t > 1) {
        pack_job pa = {p, fast, KS, 0, a, panels, 0}, pb = {p, fast, KS, 1, a, panels, 0};
        par_for(t, a_items(p), 1, pack_range, &pa);
        par_for(t, b_items(p), 1, pack_range, &pb);
        if (pa.failed || pb.failed)
            return -1;
    } else {
        round_a_items(fast, p, a, KS, rows, 0, a_items(p));
        pack_b_items(fast, p, panels, KS, rows, 0, b_items(p));
    }
    int mb = p->M;
    if (t > 1 && npanels < 4 * t) {   /* rows per item: whole tiles, >= 8 of the kernel's */
        int unit = amx != CPU_AMX_NONE ? AMX_MAX_ROWS : MR;
        int blocks = (4 * t + npanels - 1) / npanels;
        mb = (p->M + blocks - 1) / blocks;
        mb = (mb + unit - 1) / unit * unit;
        if (mb < 8 * MR)
            mb = (8 * MR + unit - 1) / unit * unit;
    }
    mb = item_rows(mb, KS, p->N, amx);
    job j = {p->M, p->N, KP, KS, p->ldc, p->alpha, p->beta, a, panels, p->C, mb, npanels,
             p->stream, NULL, 0};
    run_job(&j, fast, amx, t);
    return 0;
}

/* C = beta·C (beta = 0 overwrites, NaN included), as ops_gemm does when
 * there is nothing to add (K = 0 or alpha = 0). */
static void scale_only(int M, int N, float beta, float *C, int ldc)
{
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            float *c = C + (size_t)m * (size_t)ldc + (size_t)n;
            *c = beta == 0.0f ? 0.0f : beta * *c;
        }
}

static mlm_status check_args(const char *who, int transa, int transb, int M, int N, int K,
                             const float *A, int lda, const float *B, int ldb, const float *C,
                             int ldc)
{
    if (M < 0 || N < 0 || K < 0)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "%s: negative size %dx%dx%d", who, M, N, K);
    int acols = transa ? M : K, bcols = transb ? K : N;
    if (lda < 1 || lda < acols || ldb < 1 || ldb < bcols || ldc < 1 || ldc < N)
        return err_set(MLM_ERR_INVALID_ARGUMENT,
                       "%s: leading dimension too small (lda %d < %d, ldb %d < %d or ldc %d < %d)",
                       who, lda, acols, ldb, bcols, ldc, N);
    if ((M > 0 && N > 0 && !C) || (M > 0 && K > 0 && !A) || (N > 0 && K > 0 && !B))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "%s: NULL matrix", who);
    return MLM_OK;
}

mlm_status ops_gemm_bf16(const ops_ctx *ctx, int transa, int transb, int M, int N, int K,
                         float alpha, const float *A, int lda, const float *B, int ldb,
                         float beta, float *C, int ldc)
{
    mlm_status st = check_args("gemm_bf16", transa, transb, M, N, K, A, lda, B, ldb, C, ldc);
    if (st != MLM_OK || M == 0 || N == 0)
        return st;
    if (K == 0 || alpha == 0.0f) {
        scale_only(M, N, beta, C, ldc);
        return MLM_OK;
    }
    uint16_t *scratch = scratch_get(ctx->scratch, scratch_size(M, N, K));
    if (!scratch)
        return err_oom();
    product p = {transa, transb, M, N, K, lda, ldb, ldc, alpha, beta, A, B, C,
                 ops_stream_worth(M, N, OPS_STREAM_FROM)};
    int rc = product_run(&p, ops_threads_for(ctx->nthreads, (double)M * N * K, 0.0),
                         scratch_start(scratch));
    scratch_put(ctx->scratch, scratch);
    return rc == 0 ? MLM_OK : err_oom();
}

typedef struct batch_job {
    product p;              /* the first product; the others are offsets from it */
    const ops_batch *batch;
    int nthreads;           /* per product */
    _Atomic int failed;     /* a chunk could not get its scratch */
} batch_job;

static void batch_range(void *arg, size_t begin, size_t end)
{
    batch_job *j = arg;
    const ops_batch *b = j->batch;
    uint16_t *scratch = mem_alloc(scratch_size(j->p.M, j->p.N, j->p.K));
    if (!scratch) {
        j->failed = 1;
        return;
    }
    for (size_t i = begin; i < end; i++) {
        long o = (long)i / b->inner, h = (long)i % b->inner;
        product p = j->p;
        p.A += o * b->a_outer + h * b->a_inner;
        p.B += o * b->b_outer + h * b->b_inner;
        p.C += o * b->c_outer + h * b->c_inner;
        if (product_run(&p, j->nthreads, scratch_start(scratch)) != 0)
            j->failed = 1;
    }
    mem_free(scratch);
}

mlm_status ops_gemm_bf16_batched(const ops_ctx *ctx, int transa, int transb, int M, int N, int K,
                                 float alpha, const float *A, int lda, const float *B, int ldb,
                                 float beta, float *C, int ldc, const ops_batch *batch)
{
    if (!batch || batch->outer < 0 || batch->inner < 0)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "gemm_bf16_batched: bad batch layout");
    mlm_status st =
        check_args("gemm_bf16_batched", transa, transb, M, N, K, A, lda, B, ldb, C, ldc);
    size_t count = (size_t)batch->outer * (size_t)batch->inner;
    if (st != MLM_OK || count == 0 || M == 0 || N == 0)
        return st;
    if (K == 0 || alpha == 0.0f) {
        for (size_t i = 0; i < count; i++) {
            long o = (long)i / batch->inner, h = (long)i % batch->inner;
            scale_only(M, N, beta, C + o * batch->c_outer + h * batch->c_inner, ldc);
        }
        return MLM_OK;
    }
    batch_job j = {{transa, transb, M, N, K, lda, ldb, ldc, alpha, beta, A, B, C,
                    ops_stream_worth(M, N, OPS_STREAM_FROM)},
                   batch, ctx->nthreads, 0};
    /* Attention's products (128×128×64 per head) are too small to split:
     * each thread takes whole products, when there are enough of them and
     * the batch is worth a thread start; a few large ones split inside. */
    double flops = (double)M * N * K;
    if (ctx->nthreads > 1 && flops < (double)(1 << 21) && count >= (size_t)ctx->nthreads &&
        flops * (double)count >= (double)(1 << 20)) {
        j.nthreads = 1;
        par_for(ctx->nthreads, count, 1, batch_range, &j);
    } else {
        j.nthreads = ops_threads_for(ctx->nthreads, (double)M * N * K, 0.0);
        batch_range(&j, 0, count);
    }
    return j.failed ? err_oom() : MLM_OK;
}
