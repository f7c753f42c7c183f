/* bf16 products, as torch.autocast("cpu", bfloat16) runs a Linear, mm or
 * bmm: operands rounded to bf16 per element on the way in, fp32
 * accumulation, fp32 out. Two entry points share one kernel:
 * - ops_gemm_bf16w, against a weight converted (and laid out for the
 *   kernel) once, at load: C (M×N) = bf16(A) · Wᵀ (+ beta·C);
 * - ops_gemm_bf16 / ops_gemm_bf16_batched, ops_gemm's general product with
 *   both operands fp32, packed per call: what ops_gemm runs when the
 *   context's autocast_bf16 is set (bf16 mixed-precision training). */
#ifndef MLM_OPS_GEMM_BF16_H
#define MLM_OPS_GEMM_BF16_H

#include <stddef.h>
#include <stdint.h>

#include "mlm/core.h"
#include "nn/ops/gemm.h"

struct ops_ctx;

/* A weight of N output rows and K inputs (torch's (out, in) layout) in
 * bf16, held as the kernels read it: panels of 64 rows of W, within a panel
 * the k pairs (2p, 2p+1) of each row side by side (the AMX tiles' operand
 * layout too), the pairs padded to a multiple of 16 and N to 64 with
 * zeros. Plain data; free with ops_bf16w_free. */
typedef struct ops_bf16w {
    int N, K;
    uint16_t *panels;   /* ceil(N/64) panels of KS pairs × 64 rows × 2, KS =
                           (K+1)/2 rounded up to 16 */
} ops_bf16w;

/* w from an fp32 (N, K) matrix W with rows ldw floats apart, each element
 * rounded by bf16_from_f32 (nn/ops/bf16.h). N, K >= 0 (an empty weight has
 * no panels). Errors: MLM_ERR_INVALID_ARGUMENT (negative size, ldw < K,
 * NULL W with N·K > 0), MLM_ERR_OUT_OF_MEMORY; on error *w is left empty. */
mlm_status ops_bf16w_from_f32(ops_bf16w *w, const float *W, int N, int K, int ldw);

/* The same in two steps, so that a caller converting a large matrix can
 * release its fp32 rows as it goes: ops_bf16w_alloc gives a zeroed weight
 * of N rows of K (errors as above), ops_bf16w_set_rows fills its rows [r0,
 * r1) from W's rows of the same index (W points at row 0, rows ldw floats
 * apart). MLM_ERR_INVALID_ARGUMENT for a range outside [0, N). */
mlm_status ops_bf16w_alloc(ops_bf16w *w, int N, int K);
mlm_status ops_bf16w_set_rows(ops_bf16w *w, const float *W, int ldw, int r0, int r1);

/* The same from bf16 bits (a BF16 checkpoint's tensor), kept as they are
 * except denormals, flushed to signed zero as the hardware would read them. */
mlm_status ops_bf16w_from_bf16(ops_bf16w *w, const uint16_t *W, int N, int K, int ldw);

/* Element (n, k) of w as fp32 (tests and checks). */
float ops_bf16w_at(const ops_bf16w *w, int n, int k);

/* Row n of w as fp32 into out's K floats, or added to them (accumulate):
 * an embedding lookup, the floats of ops_bf16w_at a pair at a time. */
void ops_bf16w_row(const ops_bf16w *w, int n, float *out, int accumulate);

/* The bytes w's panels take. */
size_t ops_bf16w_bytes(const ops_bf16w *w);

/* Frees the panels; accepts NULL and an empty weight. */
void ops_bf16w_free(ops_bf16w *w);

/* C[m][n] = Σ_k bf16(A[m][k])·W[n][k] (+ beta·C[m][n]; beta = 0 overwrites C,
 * NaN included), m < M, n < w->N, k < w->K, A's rows lda floats apart and
 * C's ldc. Without AMX, each element is the same serial sum whatever the
 * CPU, M, the row's neighbours or ctx->nthreads: per k pair, acc =
 * fma(a[2p+1], w[2p+1], acc) then fma(a[2p], w[2p], acc), each result
 * flushed to zero when denormal — what vdpbf16ps does, which the
 * AVX512-BF16 kernel uses and the portable path reproduces. On a CPU with
 * AMX-BF16, products of AMX_BF16_MIN_ROWS (2) rows or more take the tile
 * path (nn/ops/amx.h): the same sums within the same error bound, rounded
 * as TDPBF16PS rounds them, which differs from vdpbf16ps; still independent
 * of the neighbours, the split, ctx->nthreads and M from 2 rows on (a
 * one-row product there may differ from the same row among others in the
 * last bits). Errors: MLM_ERR_INVALID_ARGUMENT
 * (M < 0, lda < K, ldc < N, NULL pointers that would be read),
 * MLM_ERR_OUT_OF_MEMORY. */
mlm_status ops_gemm_bf16w(const struct ops_ctx *ctx, int M, const float *A, int lda,
                          const ops_bf16w *w, float beta, float *C, int ldc);

/* The products of n weights (1 <= n <= 8) of one K with the same A:
 * C[i] (M, w[i]->N) = A · w[i]ᵀ (+ beta·C[i]), each exactly as
 * ops_gemm_bf16w computes it alone; A is rounded to bf16 once and the
 * panels of all the weights are shared out among the threads together. */
mlm_status ops_gemm_bf16w_multi(const struct ops_ctx *ctx, int M, const float *A, int lda, int n,
                                const ops_bf16w *const *w, float beta, float *const *C,
                                const int *ldc);

/* ops_gemm_bf16w_multi with an epilogue: C[i] = A · w[i]ᵀ (+ beta·C[i]),
 * then + bias[i] on each row when bias and bias[i] are not NULL (w[i]->N
 * floats), then x·Φ(x) of each element when gelu is set (exact-erf GELU).
 * The same floats as ops_gemm_bf16w_multi followed by ops_bias_forward and
 * ops_gelu_forward (nn/ops/kernels.h), on every path, computed on each
 * tile of C while it is in L1: at the distilroberta shape a bias pass over
 * the 8x128 logits reads and writes 206 MB. */
mlm_status ops_gemm_bf16w_epi(const struct ops_ctx *ctx, int M, const float *A, int lda, int n,
                              const ops_bf16w *const *w, float beta, const float *const *bias,
                              int gelu, float *const *C, const int *ldc);

/* C = alpha·bf16(op(A))·bf16(op(B)) + beta·C, with ops_gemm's arguments
 * and conventions (nn/ops/gemm.h): what torch.autocast("cpu", bfloat16)
 * does to mm, bmm and linear, each operand rounded to bf16 (bf16_from_f32)
 * on the way in, the products summed in fp32 exactly as ops_gemm_bf16w sums
 * them (the same kernel and portable path: the same bits on every CPU, for
 * any thread count), then alpha·sum, then + beta·C (not fused). Unlike
 * autocast, the result is NOT rounded to bf16: it stays fp32, which only
 * makes it more accurate. op(B) is packed into the kernel's panels per
 * call and op(A)'s rows rounded per call: O(NK + MK) against the O(MNK)
 * product. K = 0 or alpha = 0 give beta·C. Errors: as ops_gemm's, and
 * MLM_ERR_OUT_OF_MEMORY for the scratch. */
mlm_status ops_gemm_bf16(const struct ops_ctx *ctx, int transa, int transb, int M, int N, int K,
                         float alpha, const float *A, int lda, const float *B, int ldb,
                         float beta, float *C, int ldc);

/* For tests: the AMX tile path sums a k of from_blocks tile blocks (32 k
 * each) or more a chunk of `blocks` blocks at a time, keeping the sums of
 * `group` tiles (at most 64) between chunks (the same bits as in one go:
 * nn/ops/amx.h); 0 restores each default (from 128 blocks, chunks of 32,
 * groups of 64). Not thread-safe: set it between products. */
void ops_gemm_bf16_chunking(int from_blocks, int blocks, int group);

/* ops_gemm_batched's products (the layout of ops_batch) through
 * ops_gemm_bf16. Many small products (attention's, per head) are split
 * over the threads a product at a time; each product's bits are the same
 * whichever way. */
mlm_status ops_gemm_bf16_batched(const struct ops_ctx *ctx, int transa, int transb, int M, int N,
                                 int K, float alpha, const float *A, int lda, const float *B,
                                 int ldb, float beta, float *C, int ldc, const ops_batch *batch);

#endif
