/* Small products held in cache, as attention makes per (sequence, head):
 * q·kᵀ, p·v and the four products of their backward, 128×128×64 at a
 * sequence of 128 tokens. C (M×N) = op(A)·op(B) + beta·C, beta 0 or 1.
 * Used by ops_gemm (gemm.c) where it applies; see gemm_tile.c for why. */
#ifndef MLM_OPS_GEMM_TILE_H
#define MLM_OPS_GEMM_TILE_H

/* Whether gemm_tile can do the product on this CPU (AVX-512F): alpha 1,
 * beta 0 or 1, not both operands transposed, at most GEMM_TILE_MAX_FLOPS
 * multiply-adds, K at most GEMM_TILE_MAX_K (GEMM_TILE_MAX_K_NT with op(B)
 * transposed, which is copied into a buffer of K·64 floats). */
#define GEMM_TILE_MAX_FLOPS (1 << 22)
#define GEMM_TILE_MAX_K 1024
#define GEMM_TILE_MAX_K_NT 128
int gemm_tile_applies(int transa, int transb, int M, int N, int K, float alpha, float beta);

/* One thread. Element C[i][j] is Σ_k op(A)[i][k]·op(B)[k][j] added in k
 * order in one lane, then beta·C added: it does not depend on M, on N, on
 * the other rows or on a zero tail of k (padded keys of probability 0).
 * Arguments must have been validated (gemm_tile_applies true). Returns 0,
 * or -1 having done nothing when the buffer for a transposed op(B) cannot
 * be allocated. */
int gemm_tile(int transa, int transb, int M, int N, int K, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);

#endif
