/* Matrix products through BLIS (gemm.c is the only file that includes
 * blis.h). The BLIS kernel set is chosen per call from the CPU and the
 * product's row count (see cpu_gemm_plan in nn/ops/cpu.h); the thread count
 * is the context's, per call: a product of at least 2^21 multiply-adds is
 * split by columns of C into one block per thread, each a single-threaded
 * BLIS call (too few columns: BLIS's own threads). */
#ifndef MLM_OPS_GEMM_H
#define MLM_OPS_GEMM_H

#include "mlm/core.h"

struct ops_ctx;

/* C = alpha·op(A)·op(B) + beta·C, row-major.
 *   op(A): M×K — A is stored M×K (transa = 0) or K×M (transa = 1);
 *   op(B): K×N — B is stored K×N (transb = 0) or N×K (transb = 1);
 *   C:     M×N.
 * lda, ldb, ldc: elements between consecutive rows of the matrix as stored
 * (at least its column count, and >= 1). beta = 0 overwrites C, whatever it
 * held (NaN included). M, N or K may be 0. M = 1 or N = 1 goes through GEMV.
 * Errors: MLM_ERR_INVALID_ARGUMENT for a negative size, a leading dimension
 * too small, or a NULL matrix that would be read or written. */
mlm_status ops_gemm(const struct ops_ctx *ctx, int transa, int transb, int M, int N, int K,
                    float alpha, const float *A, int lda, const float *B, int ldb, float beta,
                    float *C, int ldc);

/* Where the matrices of a batched product start: outer·inner products,
 * product (o, h) using A + o·a_outer + h·a_inner (in elements), and the same
 * for B and C. Attention on a (B, T, H·D) Q/K/V layout without a permute:
 * outer = B, inner = H, a_outer = T·H·D, a_inner = D, lda = H·D. A plain
 * strided batch of n: outer = n, inner = 1, *_outer = the stride. */
typedef struct ops_batch {
    int outer, inner;
    long a_outer, a_inner;
    long b_outer, b_inner;
    long c_outer, c_inner;
} ops_batch;

/* The product of ops_gemm, once per matrix of the batch. The C matrices must
 * not overlap. When each product is small (M·N·K < 2^21) and there are at
 * least as many products as threads, the threads split the batch (one BLIS
 * thread each) instead of splitting each product, provided the whole batch
 * is worth a thread start (M·N·K·count >= 2^21). */
mlm_status ops_gemm_batched(const struct ops_ctx *ctx, int transa, int transb, int M, int N,
                            int K, float alpha, const float *A, int lda, const float *B, int ldb,
                            float beta, float *C, int ldc, const ops_batch *batch);

/* torch.nn.Linear: out (N, OC) = inp (N, C) · weight^T + bias, with weight
 * (OC, C) as torch stores it and bias (OC) or NULL. */
mlm_status ops_linear_forward(const struct ops_ctx *ctx, float *out, const float *inp,
                              const float *weight, const float *bias, int N, int C, int OC);

/* Backward of ops_linear_forward, accumulating:
 *   dinp (N, C) += dout (N, OC) · weight (OC, C)
 *   dweight (OC, C) += dout^T · inp
 *   dbias (OC) += sum over rows of dout.
 * Any of dinp, dweight, dbias may be NULL when not wanted. */
mlm_status ops_linear_backward(const struct ops_ctx *ctx, float *dinp, float *dweight,
                               float *dbias, const float *dout, const float *inp,
                               const float *weight, int N, int C, int OC);

/* What ops_linear_backward_to overwrites with its result instead of adding
 * to: a gradient's first contribution, so that it needs no zeroing first.
 * An overwritten output is not read (NaN there does no harm); its values
 * are those of zeroing and adding, but for the sign of an exact zero sum
 * (0 + (−0) is +0). */
#define OPS_SET_DINP 1      /* dinp = dout · weight */
#define OPS_SET_DWEIGHT 2   /* dweight = dout^T · inp, dbias = the sums of dout */

/* ops_linear_backward with the outputs named in set (OPS_SET_*)
 * overwritten, the others added to. */
mlm_status ops_linear_backward_to(const struct ops_ctx *ctx, int set, float *dinp,
                                  float *dweight, float *dbias, const float *dout,
                                  const float *inp, const float *weight, int N, int C, int OC);

/* The BLIS sub-configuration ops_gemm uses for a product with M rows
 * ("zen3", "skx", "haswell", ...). */
const char *gemm_kernel_name(int M);

/* One line for mlm_system_info(): "BLIS 0.9.0, zen3 for M<64, skx for
 * M>=64 (BLIS's own pick: zen3)". Thread-safe; initialises BLIS. */
const char *gemm_describe(void);

#endif
