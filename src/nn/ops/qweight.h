/* A Linear's or an embedding table's weight held in reduced precision for
 * inference: one type over the bf16 and int8 formats, so that a model's
 * forward asks for "the product against this weight" without knowing which
 * (issue #15). Converted once, when a model's dtype is set (nn/dtype.c);
 * read-only afterwards, so any number of threads may use one. */
#ifndef MLM_OPS_QWEIGHT_H
#define MLM_OPS_QWEIGHT_H

#include <stddef.h>
#include <stdint.h>

#include "mlm/core.h"
#include "nn/ops/gemm_bf16.h"
#include "nn/ops/gemm_i8.h"

struct ops_ctx;

typedef enum ops_dtype { OPS_F32 = 0, OPS_BF16 = 1, OPS_INT8 = 2 } ops_dtype;

/* "fp32", "bf16", "int8". */
const char *ops_dtype_name(ops_dtype dt);

/* N rows (output channels, or table rows) of K: bf16 panels
 * (nn/ops/gemm_bf16.h) or int8 rows with per-row scales
 * (nn/ops/gemm_i8.h), as dtype says. */
typedef struct ops_qw {
    ops_dtype dtype;    /* OPS_BF16 or OPS_INT8 once converted */
    int N, K;
    ops_bf16w bf16;
    ops_i8w i8;
} ops_qw;

/* w from the fp32 (N, K) matrix W (contiguous rows) in dtype (OPS_BF16 or
 * OPS_INT8). release, when not NULL, is called on each span of W's rows
 * once converted (the caller drops their pages: a model converting a mapped
 * checkpoint then never holds a whole matrix in both forms). Errors:
 * MLM_ERR_INVALID_ARGUMENT (another dtype, a bad shape, a non-finite weight
 * for int8), MLM_ERR_OUT_OF_MEMORY; *w left empty. */
mlm_status ops_qw_from_f32(ops_qw *w, ops_dtype dtype, const float *W, int N, int K,
                           void (*release)(const void *rows, size_t bytes));

/* Frees w's storage; accepts NULL and an empty weight. */
void ops_qw_free(ops_qw *w);

/* Bytes w holds (the weights and their scales). */
size_t ops_qw_bytes(const ops_qw *w);

/* Row n of w as fp32 (K floats): the bf16 values exactly, or int8's
 * dequantized sw[n]·q[n][k]. */
void ops_qw_row(const ops_qw *w, int n, float *out);

/* C (M, N) = A (M, K) · wᵀ (+ beta·C): ops_gemm_bf16w or ops_gemm_i8w. */
mlm_status ops_qw_gemm(const struct ops_ctx *ctx, int M, const float *A, int lda,
                       const ops_qw *w, float beta, float *C, int ldc);

/* C[i] (M, w[i]->N) = A (M, K) · w[i]ᵀ for n weights (<= 8) of one K and
 * one input: weights of one dtype through ops_gemm_i8w_multi or
 * ops_gemm_bf16w_multi (A converted once, one parallel section), a mix one
 * by one. Each C[i] as ops_qw_gemm gives it. */
mlm_status ops_qw_gemm_multi(const struct ops_ctx *ctx, int M, const float *A, int lda, int n,
                             const ops_qw *const *w, float *const *C, const int *ldc);

/* C[i] (M, w[i]->N) = A · w[i]ᵀ (+ beta·C[i]) for n weights (1..8) of one K,
 * then + bias[i] on each row (when bias and bias[i] are not NULL), then
 * exact GELU when gelu is set: the floats of ops_qw_gemm, ops_bias_forward
 * and ops_gelu_forward in turn, in the product's epilogue
 * (ops_gemm_bf16w_epi, ops_gemm_i8w_epi): weights of one dtype in one
 * product, a mix one weight at a time. */
mlm_status ops_qw_gemm_epi(const struct ops_ctx *ctx, int M, const float *A, int lda, int n,
                           const ops_qw *const *w, float beta, const float *const *bias, int gelu,
                           float *const *C, const int *ldc);

/* The embedding lookup of nn/ops/kernels.h's ops_embedding_forward on a
 * reduced table: out[i] (+)= row ids[i] of w, i < n; an id outside [0, N)
 * is MLM_ERR_RANGE naming its position. */
mlm_status ops_qw_embedding_forward(const struct ops_ctx *ctx, float *out, const int32_t *ids,
                                    const ops_qw *w, int n, int accumulate);

#endif
