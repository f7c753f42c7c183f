/* Thin products against a weight stored as torch stores it:
 *
 *   C[m][n] = beta·C[m][n] + Σ_k A[m][k]·W[n][k]      m < M (a few rows)
 *
 * At batch-1 inference (a dozen tokens) every weight is read from memory
 * once per call and used M times, so the time is the time to stream W: a
 * product is as fast as its loop over W's rows. BLIS's small-matrix kernels
 * (sup) and its packed path both read W in 16-column panels of the
 * transposed matrix and, at M = 12, reach 30-60% of the FMA peak with W cold
 * in memory. Here each W row is a contiguous run of K floats: a tile of
 * NR = 4 rows of W and MR = 6 rows of A is 24 dot products whose partial
 * sums live in 24 AVX-512 registers, 16 lanes each; per 16 k one load of
 * each W row and each A row feeds 24 FMAs. W streams through once; A
 * (M·K floats) stays in L1/L2.
 *
 * The sum of a dot product is fixed: lanes (k mod 16) accumulate in k
 * order, then _mm512_reduce_add_ps, then the k ≥ K - K mod 16 tail in
 * order. Threads split W's rows, never k, and a row of C is computed the
 * same way whatever M is, so results depend neither on the thread count nor
 * on the other rows of the batch (for M up to GEMM_SMALL_MAX_M).
 *
 * AVX-512F only (Zen 4, Skylake-SP and later); elsewhere gemm.c uses BLIS. */
#include "nn/ops/gemm_small.h"

#include "core/threads.h"
#include "nn/ops/cpu.h"
#include "nn/ops/ops.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#define MR 6
#define NR 4
#define KV 16 /* floats per register */

#define AVX512 __attribute__((target("avx512f")))
#define INLINE __attribute__((always_inline)) inline
/* The tile loops must unroll completely for acc to live in registers. */
#define UNROLL _Pragma("GCC unroll 8")

/* k advances KC floats at a time over all of A's rows before moving on, so
 * that the chunk of A (M·KC floats) and of the W rows (NR·KC) stay in L1
 * while every MR-row tile of A meets the W rows. Between chunks a tile's
 * partial sums wait in memory as whole registers, so the order of the
 * additions is that of one pass over k. */
#define KC 256
#define MAX_TILES ((GEMM_SMALL_MAX_M + MR - 1) / MR)

/* sums[i·NR + j] += Σ over k in [k0, k1) of A[i][k]·W[j][k], lane by lane
 * (k mod 16), for i < mr, j < nr; mr and nr are constants after inlining,
 * so acc lives in registers. */
static AVX512 INLINE void tile_chunk(int mr, int nr, int k0, int k1, const float *A, int lda,
                                     const float *W, int ldw, __m512 *sums, int first,
                                     int prefetch)
{
    __m512 acc[MR][NR];
    UNROLL
    for (int i = 0; i < mr; i++)
        UNROLL
        for (int j = 0; j < nr; j++)
            acc[i][j] = first ? _mm512_setzero_ps() : sums[i * NR + j];
    for (int k = k0; k < k1; k += KV) {
        __m512 w[NR];
        UNROLL
        for (int j = 0; j < nr; j++) {
            w[j] = _mm512_loadu_ps(W + (size_t)j * ldw + k);
            /* Rows of W eight tiles ahead (~100 KB) into L2: the hardware
             * prefetchers alone keep too few lines in flight for nr
             * interleaved streams. Zen 4, 1 thread, a distilroberta layer
             * stack at M = 12: 62 GFLOP/s without, 62 one tile ahead into
             * L1, 73 eight tiles ahead into L2. */
            if (prefetch)
                _mm_prefetch((const char *)(W + (size_t)(j + 8 * nr) * ldw + k), _MM_HINT_T1);
        }
        UNROLL
        for (int i = 0; i < mr; i++) {
            __m512 a = _mm512_loadu_ps(A + (size_t)i * lda + k);
            UNROLL
            for (int j = 0; j < nr; j++)
                acc[i][j] = _mm512_fmadd_ps(a, w[j], acc[i][j]);
        }
    }
    UNROLL
    for (int i = 0; i < mr; i++)
        UNROLL
        for (int j = 0; j < nr; j++)
            sums[i * NR + j] = acc[i][j];
}

static AVX512 INLINE void chunk_any(int mr, int nr, int k0, int k1, const float *A, int lda,
                                    const float *W, int ldw, __m512 *sums, int first,
                                    int prefetch)
{
    switch (mr) {
#define CASE(r)                                                                    \
    case r: tile_chunk(r, nr, k0, k1, A, lda, W, ldw, sums, first, prefetch); break;
    CASE(6) CASE(5) CASE(4) CASE(3) CASE(2) CASE(1)
#undef CASE
    default: break;
    }
}

/* C[i][j] = beta·C[i][j] + (lanes of sums summed) + the k >= kmain tail. */
static AVX512 void finish(int mr, int nr, int kmain, int K, const float *A, int lda,
                          const float *W, int ldw, const __m512 *sums, float beta, float *C,
                          int ldc)
{
    for (int i = 0; i < mr; i++) {
        for (int j = 0; j < nr; j++) {
            float s = _mm512_reduce_add_ps(sums[i * NR + j]);
            for (int t = kmain; t < K; t++)
                s += A[(size_t)i * lda + t] * W[(size_t)j * ldw + t];
            float *c = C + (size_t)i * ldc + j;
            *c = beta == 0.0f ? s : beta * *c + s;
        }
    }
}

/* All M rows of A against nr rows of W, which come from memory once. */
static AVX512 INLINE void row_block(int nr, int M, int K, const float *A, int lda,
                                    const float *W, int ldw, float beta, float *C, int ldc)
{
    __m512 sums[MAX_TILES][MR * NR];
    int kmain = K - K % KV, tiles = (M + MR - 1) / MR;
    for (int k0 = 0; k0 < kmain; k0 += KC) {
        int k1 = kmain - k0 < KC ? kmain : k0 + KC;
        for (int t = 0; t < tiles; t++) {
            int mr = M - t * MR < MR ? M - t * MR : MR;
            chunk_any(mr, nr, k0, k1, A + (size_t)t * MR * lda, lda, W, ldw, sums[t], k0 == 0,
                      t == 0);
        }
    }
    for (int t = 0; t < tiles; t++) {
        int mr = M - t * MR < MR ? M - t * MR : MR;
        finish(mr, nr, kmain, K, A + (size_t)t * MR * lda, lda, W, ldw, sums[t], beta,
               C + (size_t)t * MR * ldc, ldc);
    }
}

/* One row of A (a GEMV): nothing to reuse, the time is the stream of W,
 * which the prefetchers follow best one row at a time, front to back
 * (4 rows interleaved, as a tile reads them, run at half the bandwidth).
 * The sums are the tile's: lanes k mod 16 in k order, then reduced. */
static AVX512 void gemv_rows(int n0, int n1, int K, const float *A, const float *W, int ldw,
                             float beta, float *C)
{
    int kmain = K - K % KV;
    for (int n = n0; n < n1; n++) {
        const float *w = W + (size_t)n * ldw;
        __m512 acc = _mm512_setzero_ps();
        for (int k = 0; k < kmain; k += KV)
            acc = _mm512_fmadd_ps(_mm512_loadu_ps(A + k), _mm512_loadu_ps(w + k), acc);
        float s = _mm512_reduce_add_ps(acc);
        for (int k = kmain; k < K; k++)
            s += A[k] * w[k];
        C[n] = beta == 0.0f ? s : beta * C[n] + s;
    }
}

static AVX512 void rows_of_w(int M, int n0, int n1, int K, const float *A, int lda,
                             const float *W, int ldw, float beta, float *C, int ldc)
{
    if (M == 1) {
        gemv_rows(n0, n1, K, A, W, ldw, beta, C);
        return;
    }
    int n = n0;
    for (; n + NR <= n1; n += NR)
        row_block(NR, M, K, A, lda, W + (size_t)n * ldw, ldw, beta, C + n, ldc);
    for (; n < n1; n++)
        row_block(1, M, K, A, lda, W + (size_t)n * ldw, ldw, beta, C + n, ldc);
}

typedef struct job {
    int M, N, K, lda, ldw, ldc;
    float beta;
    const float *A, *W;
    float *C;
} job;

/* Items are blocks of NR rows of W. */
static void run_range(void *arg, size_t begin, size_t end)
{
    const job *j = arg;
    int n0 = (int)begin * NR, n1 = (int)end * NR < j->N ? (int)end * NR : j->N;
    rows_of_w(j->M, n0, n1, j->K, j->A, j->lda, j->W, j->ldw, j->beta, j->C, j->ldc);
}

int gemm_small_applies(int M, int N, int K)
{
    return M >= 1 && M <= GEMM_SMALL_MAX_M && N >= 1 && K >= KV && cpu_vec_level() >= CPU_VEC_AVX512;
}

void gemm_small_nt(int nthreads, int M, int N, int K, const float *A, int lda, const float *W,
                   int ldw, float beta, float *C, int ldc)
{
    /* Rows of A a multiple of 4 KB apart (K = 1024, 3072, ...) share L1
     * sets with each other and with the W rows, more lines than the sets
     * have ways: a copy with one cache line more per row spreads them. */
    float *padded = NULL;
    if (lda % 1024 == 0 && (padded = malloc((size_t)M * (K + KV) * sizeof *padded))) {
        for (int i = 0; i < M; i++)
            memcpy(padded + (size_t)i * (K + KV), A + (size_t)i * lda, (size_t)K * sizeof *A);
        A = padded;
        lda = K + KV;
    }
    job j = {M, N, K, lda, ldw, ldc, beta, A, W, C};
    size_t blocks = ((size_t)N + NR - 1) / NR;
    /* each thread gets at least 64 rows of W */
    int t = ops_threads_for(nthreads, (double)M * N * K, 4.0 * N * K);
    par_for(t, blocks, 64 / NR, run_range, &j);
    free(padded);
}

#else

int gemm_small_applies(int M, int N, int K)
{
    (void)M, (void)N, (void)K;
    return 0;
}

void gemm_small_nt(int nthreads, int M, int N, int K, const float *A, int lda, const float *W,
                   int ldw, float beta, float *C, int ldc)
{
    (void)nthreads, (void)M, (void)N, (void)K, (void)A, (void)lda, (void)W, (void)ldw;
    (void)beta, (void)C, (void)ldc;
}

#endif
