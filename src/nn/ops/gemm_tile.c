/* Small products held in cache (attention's, per sequence and head):
 *
 *   C[i][j] = beta·C[i][j] + Σ_k op(A)[i][k]·op(B)[k][j]     beta 0 or 1
 *
 * At 128 tokens and 64 dimensions a head's q·kᵀ or p·v is 2^20
 * multiply-adds over operands of 32-64 KB: BLIS spends a call's fixed costs
 * (objects, contexts, packing both operands into its block layout) on work
 * that takes ~15 us, and reached 55-65% of the FMA peak on them (Zen 4).
 * Here a tile of MR = 6 rows and NV·16 = 64 columns of C lives in 24
 * AVX-512 registers: per k, NV loads of op(B)'s row k and MR broadcasts of
 * op(A)[i][k] feed 24 FMAs. op(B) is read in place when it is stored by
 * rows (p·v, dscores·k, pᵀ·dctx, dscoresᵀ·q: values, keys, queries on the
 * (B, T, H·D) layout); stored by columns (q·kᵀ, dctx·vᵀ) a 64-column block
 * of it is first transposed into a buffer. op(A) is read
 * element by element, by rows or by columns as it is stored.
 *
 * Each element's sum runs in k order in one lane, whatever the tile it
 * falls in: C[i][j] depends on row i of op(A) and column j of op(B) alone,
 * not on M, N or the other rows; a zero tail of k (keys of probability 0)
 * adds nothing to it.
 *
 * AVX-512F only; elsewhere gemm.c uses BLIS. */
#include "nn/ops/gemm_tile.h"

#include "nn/ops/cpu.h"
#include "nn/ops/transpose.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#include <stdlib.h>

#define MR 6
#define NV 4  /* vectors of 16 columns in a tile */
#define VL 16 /* floats per register */
#define NB (NV * VL)

#define AVX512 __attribute__((target("avx512f")))
#define INLINE __attribute__((always_inline)) inline
/* The tile loops must unroll completely for acc to live in registers. */
#define UNROLL _Pragma("GCC unroll 8")

/* c (mr × nv·16, the last vector's lanes masked by `last`) = [c +]
 *   Σ_k a[i·rsa + k·csa] · b[k·ldb + j];  mr and nv are constants after
 * inlining. */
static AVX512 INLINE void tile(int mr, int nv, int K, const float *a, long rsa, long csa,
                               const float *b, long ldb, float *c, long ldc, int add,
                               __mmask16 last)
{
    __m512 acc[MR][NV];
    UNROLL
    for (int i = 0; i < mr; i++)
        UNROLL
        for (int v = 0; v < nv; v++)
            acc[i][v] = _mm512_setzero_ps();
    for (int k = 0; k < K; k++) {
        const float *bk = b + k * ldb, *ak = a + k * csa;
        __m512 bv[NV];
        UNROLL
        for (int v = 0; v < nv; v++)
            bv[v] = v == nv - 1 ? _mm512_maskz_loadu_ps(last, bk + VL * v)
                                : _mm512_loadu_ps(bk + VL * v);
        UNROLL
        for (int i = 0; i < mr; i++) {
            __m512 ai = _mm512_set1_ps(ak[i * rsa]);
            UNROLL
            for (int v = 0; v < nv; v++)
                acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
        }
    }
    UNROLL
    for (int i = 0; i < mr; i++)
        UNROLL
        for (int v = 0; v < nv; v++) {
            float *ci = c + i * ldc + VL * v;
            __mmask16 m = v == nv - 1 ? last : (__mmask16)0xFFFF;
            __m512 r = acc[i][v];
            if (add)
                r = _mm512_add_ps(_mm512_maskz_loadu_ps(m, ci), r);
            _mm512_mask_storeu_ps(ci, m, r);
        }
}

typedef void (*tile_fn)(int K, const float *a, long rsa, long csa, const float *b, long ldb,
                        float *c, long ldc, int add, __mmask16 last);

#define TILE_FN(mr, nv)                                                                       \
    static AVX512 void tile_##mr##_##nv(int K, const float *a, long rsa, long csa,            \
                                        const float *b, long ldb, float *c, long ldc, int add, \
                                        __mmask16 last)                                       \
    {                                                                                         \
        tile(mr, nv, K, a, rsa, csa, b, ldb, c, ldc, add, last);                              \
    }
#define TILE_ROW(mr) TILE_FN(mr, 1) TILE_FN(mr, 2) TILE_FN(mr, 3) TILE_FN(mr, 4)
TILE_ROW(1)
TILE_ROW(2)
TILE_ROW(3)
TILE_ROW(4)
TILE_ROW(5)
TILE_ROW(6)

#define TILE_FNS(mr) {tile_##mr##_1, tile_##mr##_2, tile_##mr##_3, tile_##mr##_4}
static const tile_fn tiles[MR][NV] = {TILE_FNS(1), TILE_FNS(2), TILE_FNS(3),
                                      TILE_FNS(4), TILE_FNS(5), TILE_FNS(6)};

int gemm_tile_applies(int transa, int transb, int M, int N, int K, float alpha, float beta)
{
    return alpha == 1.0f && (beta == 0.0f || beta == 1.0f) && !(transa && transb) && M >= 1 &&
           N >= 1 && K >= 1 && K <= (transb ? GEMM_TILE_MAX_K_NT : GEMM_TILE_MAX_K) &&
           (double)M * N * K <= GEMM_TILE_MAX_FLOPS && cpu_vec_level() >= CPU_VEC_AVX512;
}

/* dst[c][r] = src[r][c] for a 16×16 block, in registers (ops_transpose16). */
static AVX512 INLINE void transpose16(const float *src, long lds, float *dst, long ldd)
{
    __m512 r[16];
    UNROLL
    for (int i = 0; i < 16; i++)
        r[i] = _mm512_loadu_ps(src + i * lds);
    ops_transpose16(r);
    UNROLL
    for (int i = 0; i < 16; i++)
        _mm512_storeu_ps(dst + i * ldd, r[i]);
}

/* pack (K × nc, rows NB apart) = the block of op(B) = Bᵀ at column j0:
 * pack[k][j] = B[j0 + j][k]; 16×16 blocks in registers, the edges by
 * element. */
static AVX512 void pack_transposed(const float *B, long ldb, int j0, int nc, int K, float *pack)
{
    int j16 = nc / 16 * 16, k16 = K / 16 * 16;
    for (int j = 0; j < j16; j += 16)
        for (int k = 0; k < k16; k += 16)
            transpose16(B + (long)(j0 + j) * ldb + k, ldb, pack + (long)k * NB + j, NB);
    for (int j = 0; j < nc; j++)
        for (int k = j < j16 ? k16 : 0; k < K; k++)
            pack[k * NB + j] = B[(long)(j0 + j) * ldb + k];
}

/* Ask for `rows` slices of `len` floats, `ld` apart, into L2. */
static AVX512 void prefetch_rows(const float *x, int rows, int len, long ld)
{
    for (int r = 0; r < rows; r++) {
        const char *p = (const char *)(x + r * ld), *end = (const char *)(x + r * ld + len);
        for (; p < end; p += 64)
            _mm_prefetch(p, _MM_HINT_T1);
        _mm_prefetch(end - 1, _MM_HINT_T1);
    }
}

int gemm_tile(int transa, int transb, int M, int N, int K, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc)
{
    long rsa = transa ? 1 : lda, csa = transa ? lda : 1;
    /* A block of op(B) = Bᵀ, by rows of k: on the heap, not the stack (up
     * to 32 KB; a host's threads may have small stacks). */
    float *pack = NULL;
    if (transb && !(pack = malloc((size_t)K * NB * sizeof *pack)))
        return -1;
    /* Attention's operands are slices of 64 floats, a row (C floats) apart:
     * the hardware prefetchers follow them slowly, and the kernel waited
     * on L3 for most of its time. Both operands at once into L2 first: the
     * misses overlap. */
    if (transa)
        prefetch_rows(A, K, M, lda);
    else
        prefetch_rows(A, M, K, lda);
    if (transb)
        prefetch_rows(B, N, K, ldb);
    else
        prefetch_rows(B, K, N, ldb);
    for (int j0 = 0; j0 < N; j0 += NB) {
        int nc = N - j0 < NB ? N - j0 : NB;
        const float *b = B + j0;
        long ldbp = ldb;
        if (transb) {
            pack_transposed(B, ldb, j0, nc, K, pack);
            b = pack;
            ldbp = NB;
        }
        int nv = (nc + VL - 1) / VL;
        __mmask16 last = nc % VL ? (__mmask16)((1u << (nc % VL)) - 1) : (__mmask16)0xFFFF;
        for (int i0 = 0; i0 < M; i0 += MR) {
            int mr = M - i0 < MR ? M - i0 : MR;
            tiles[mr - 1][nv - 1](K, A + i0 * rsa, rsa, csa, b, ldbp, C + (long)i0 * ldc + j0,
                                  ldc, beta != 0.0f, last);
        }
    }
    free(pack);
    return 0;
}

#else

int gemm_tile_applies(int transa, int transb, int M, int N, int K, float alpha, float beta)
{
    (void)transa, (void)transb, (void)M, (void)N, (void)K, (void)alpha, (void)beta;
    return 0;
}

int gemm_tile(int transa, int transb, int M, int N, int K, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc)
{
    (void)transa, (void)transb, (void)M, (void)N, (void)K, (void)A, (void)lda, (void)B;
    (void)ldb, (void)beta, (void)C, (void)ldc;
    return -1;
}

#endif
