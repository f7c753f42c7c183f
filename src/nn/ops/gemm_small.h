/* Products of a few rows against a weight stored (N, K), as at batch-1
 * inference: C (M×N) = A (M×K) · Wᵀ + beta·C, one pass over W. Used by
 * ops_gemm (gemm.c) where it applies; see gemm_small.c for why. */
#ifndef MLM_OPS_GEMM_SMALL_H
#define MLM_OPS_GEMM_SMALL_H

/* The largest M taken: above it BLIS's packed kernels win, as A no longer
 * fits the registers' reuse and W is read from cache several times. */
#define GEMM_SMALL_MAX_M 48

/* Whether gemm_small_nt can do an M×N×K product on this CPU (AVX-512F). */
int gemm_small_applies(int M, int N, int K);

/* C[m][n] = beta·C[m][n] + Σ_k A[m][k]·W[n][k]; beta = 0 overwrites C
 * (NaN included). The result does not depend on nthreads. Arguments must
 * have been validated (gemm_small_applies true, leading dimensions >= K or
 * N). */
void gemm_small_nt(int nthreads, int M, int N, int K, const float *A, int lda, const float *W,
                   int ldw, float beta, float *C, int ldc);

#endif
