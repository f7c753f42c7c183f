/* Products against int8 weights, as ONNX Runtime's dynamic quantization
 * runs a MatMul (DynamicQuantizeLinear + MatMulInteger), per row instead of
 * per tensor:
 *
 *   W[n][k] ≈ sw[n]·q[n][k],  q int8 in [-127, 127], sw[n] = max_k |W[n][k]| / 127
 *                              (per output channel, symmetric; set once, at load)
 *   A[m][k] ≈ sa[m]·(u[m][k] − z[m]),  u uint8, per row at each call
 *   C[m][n] = sa[m]·sw[n]·(Σ_k u[m][k]·q[n][k] − z[m]·Σ_k q[n][k])  (+ beta·C)
 *
 * The integer sums are exact, so every kernel (AVX512-VNNI vpdpbusd, the
 * portable loop) gives the same floats. The exact rules (ORT's: divisions,
 * rounding to nearest even, sw = 1 for a zero row, sa = 1 for a zero row
 * of A, NaN outputs for a row of A holding inf or NaN) and the epilogue's
 * float order ((sa·sw)·(float)d, then + beta·C unfused) are in gemm_i8.c. */
#ifndef MLM_OPS_GEMM_I8_H
#define MLM_OPS_GEMM_I8_H

#include <stddef.h>
#include <stdint.h>

#include "mlm/core.h"

struct ops_ctx;

/* The largest K: 255·127·K < 2^31, so that the int32 sums never overflow. */
#define OPS_I8_K_MAX 66311

/* A weight of N output rows and K inputs (torch's (out, in) layout),
 * quantized per row; laid out as the kernel reads it. Plain data; free with
 * ops_i8w_free. */
typedef struct ops_i8w {
    int N, K;
    int8_t *panels;     /* the kernel's layout (gemm_i8.c) */
    float *scale;       /* N: sw[n] (zeros after N, to whole panels of 64) */
    int32_t *rowsum;    /* N: Σ_k q[n][k] (likewise) */
} ops_i8w;

/* w from an fp32 (N, K) matrix W with rows ldw floats apart. N, K >= 0.
 * Errors: MLM_ERR_INVALID_ARGUMENT (negative size, ldw < K, K >
 * OPS_I8_K_MAX, NULL W with N·K > 0, a non-finite element: the message
 * names it), MLM_ERR_OUT_OF_MEMORY; on error *w is left empty. */
mlm_status ops_i8w_from_f32(ops_i8w *w, const float *W, int N, int K, int ldw);

/* The same in two steps (as ops_bf16w_alloc / ops_bf16w_set_rows): a zeroed
 * weight of N rows of K, then rows [r0, r1) quantized from W's rows of the
 * same index (W points at row 0). A non-finite element is
 * MLM_ERR_INVALID_ARGUMENT naming it, the rows before it set. */
mlm_status ops_i8w_alloc(ops_i8w *w, int N, int K);
mlm_status ops_i8w_set_rows(ops_i8w *w, const float *W, int ldw, int r0, int r1);

/* Element (n, k) of w dequantized: sw[n]·q[n][k]. */
float ops_i8w_at(const ops_i8w *w, int n, int k);

/* Row n of w dequantized into out's K floats, or added to them
 * (accumulate): an embedding lookup, the floats of ops_i8w_at a group at a
 * time. */
void ops_i8w_row(const ops_i8w *w, int n, float *out, int accumulate);

/* The bytes w's arrays take. */
size_t ops_i8w_bytes(const ops_i8w *w);

/* Frees w's arrays; accepts NULL and an empty weight. */
void ops_i8w_free(ops_i8w *w);

/* C[m][n] = the formula above (+ beta·C[m][n]; beta = 0 overwrites C, NaN
 * included), m < M, n < w->N; A's rows lda floats apart, C's ldc. Results
 * depend neither on the CPU path nor on ctx->nthreads nor on M. Errors:
 * MLM_ERR_INVALID_ARGUMENT (M < 0, lda < K, ldc < N, NULL pointers that
 * would be read), MLM_ERR_OUT_OF_MEMORY. */
mlm_status ops_gemm_i8w(const struct ops_ctx *ctx, int M, const float *A, int lda,
                        const ops_i8w *w, float beta, float *C, int ldc);

/* The products of n weights (1 <= n <= 8) of one K with the same A:
 * C[i] (M, w[i]->N) = A · w[i]ᵀ (+ beta·C[i]), each exactly as
 * ops_gemm_i8w computes it alone; A is quantized once and the panels of
 * all the weights are shared out among the threads together (a layer's
 * q, k and v in one call: one quantization and one wait instead of three). */
mlm_status ops_gemm_i8w_multi(const struct ops_ctx *ctx, int M, const float *A, int lda, int n,
                              const ops_i8w *const *w, float beta, float *const *C,
                              const int *ldc);

/* ops_gemm_i8w_multi with an epilogue: + bias[i] on each row of C[i] when
 * bias and bias[i] are not NULL, then exact GELU when gelu is set; the
 * floats of ops_gemm_i8w_multi, ops_bias_forward and ops_gelu_forward in
 * turn, on each tile of C while it is in L1 (ops_gemm_bf16w_epi's). */
mlm_status ops_gemm_i8w_epi(const struct ops_ctx *ctx, int M, const float *A, int lda, int n,
                            const ops_i8w *const *w, float beta, const float *const *bias,
                            int gelu, float *const *C, const int *ldc);

#endif
