/* Elementwise and row-wise kernels, each forward beside its backward.
 * Conventions in nn/ops/ops.h: row-major, backward accumulates (+=),
 * results independent of the thread count. Sizes are element counts. */
#ifndef MLM_OPS_KERNELS_H
#define MLM_OPS_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "mlm/core.h"

struct ops_ctx;

/* ---- bias */

/* out (N, C) += bias (C), broadcast over rows. */
void ops_bias_forward(const struct ops_ctx *ctx, float *out, const float *bias, int N, int C);
/* dbias (C) += sum over the N rows of dout (N, C) (summed in double). */
void ops_bias_backward(const struct ops_ctx *ctx, float *dbias, const float *dout, int N, int C);

/* ---- activations; out may alias inp, dinp may alias dout */

/* GELU, exact: out = 0.5·x·(1 + erf(x/√2)) (torch's default, HF "gelu"). */
void ops_gelu_forward(const struct ops_ctx *ctx, float *out, const float *inp, size_t n);
/* dinp += dout·(Φ(x) + x·φ(x)), Φ/φ the standard normal cdf/pdf. */
void ops_gelu_backward(const struct ops_ctx *ctx, float *dinp, const float *dout,
                       const float *inp, size_t n);

/* ops_gelu_forward that also keeps Φ(x) in cdf (n floats), so that the
 * backward needs no erf: the same out. out, cdf and inp must not overlap. */
void ops_gelu_forward_cdf(const struct ops_ctx *ctx, float *out, float *cdf, const float *inp,
                          size_t n);
/* ops_gelu_backward with Φ(x) from ops_gelu_forward_cdf: the same floats, a
 * third of the work. dinp must not overlap the inputs. */
void ops_gelu_backward_cdf(const struct ops_ctx *ctx, float *dinp, const float *dout,
                           const float *inp, const float *cdf, size_t n);

/* GELU, tanh form (HF "gelu_new", "gelu_pytorch_tanh"):
 * out = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
void ops_gelu_tanh_forward(const struct ops_ctx *ctx, float *out, const float *inp, size_t n);
void ops_gelu_tanh_backward(const struct ops_ctx *ctx, float *dinp, const float *dout,
                            const float *inp, size_t n);

/* ReLU: out = max(x, 0); dinp += dout·[x > 0]. */
void ops_relu_forward(const struct ops_ctx *ctx, float *out, const float *inp, size_t n);
void ops_relu_backward(const struct ops_ctx *ctx, float *dinp, const float *dout,
                       const float *inp, size_t n);

/* ---- softmax over the last dimension, with scale and additive mask */

/* For each of the `rows` rows of inp (rows, cols):
 *   out[r, j] = softmax_j(scale·inp[r, j] + mask[r / rows_per_mask, j])
 * mask is NULL or (rows / rows_per_mask, cols). Attention scores (B, H, T, T)
 * with HF's extended mask (B, 1, 1, T) of (1 - m)·finfo(float32).min:
 * rows = B·H·T, cols = T, rows_per_mask = H·T, scale = 1/√D. A fully masked
 * row gives the uniform distribution, as torch does. out may alias inp. */
void ops_softmax_forward(const struct ops_ctx *ctx, float *out, const float *inp, float scale,
                         const float *mask, int rows_per_mask, int rows, int cols);
/* dinp[r, j] += scale · p_j · (dout_j − Σ_k p_k·dout_k), p = out of forward. */
void ops_softmax_backward(const struct ops_ctx *ctx, float *dinp, const float *dout,
                          const float *out, float scale, int rows, int cols);

/* ---- layer norm */

/* out (N, C) = (inp − mean)·rstd·weight + bias, over each row of inp (N, C);
 * mean, rstd (N) saved for the backward; rstd = 1/√(var + eps), var the
 * biased variance (as torch). out must not alias inp. */
void ops_layernorm_forward(const struct ops_ctx *ctx, float *out, float *mean, float *rstd,
                           const float *inp, const float *weight, const float *bias, int N,
                           int C, float eps);
/* dinp (N, C) += ..., dweight (C) += Σ_n dout·x̂, dbias (C) += Σ_n dout, with
 * x̂ = (inp − mean)·rstd. dweight and dbias may be NULL (frozen). */
void ops_layernorm_backward(const struct ops_ctx *ctx, float *dinp, float *dweight, float *dbias,
                            const float *dout, const float *inp, const float *weight,
                            const float *mean, const float *rstd, int N, int C);

/* ---- dropout */

/* out[i] = keep_i ? inp[i]/(1 − p) : 0 (inverted dropout), keep_i = the i-th
 * word of Philox stream (seed, stream) mapped to [0, 1) is >= p. mask (n
 * bytes) records keep_i, or is NULL: the backward can regenerate it from
 * (seed, stream). p = 0 copies, p = 1 zeroes. out may alias inp.
 * Errors: MLM_ERR_INVALID_ARGUMENT unless 0 <= p <= 1. */
mlm_status ops_dropout_forward(const struct ops_ctx *ctx, float *out, uint8_t *mask,
                               const float *inp, size_t n, float p, uint64_t seed,
                               uint64_t stream);
/* out = residual + dropout(inp), the residual branch of a post-LN layer
 * (HF: LayerNorm(dropout(h) + x)) in one pass: the floats of
 * ops_dropout_forward followed by the addition. mask, seed and stream as
 * there; out may alias residual or inp. */
mlm_status ops_dropout_residual_forward(const struct ops_ctx *ctx, float *out, uint8_t *mask,
                                        const float *residual, const float *inp, size_t n,
                                        float p, uint64_t seed, uint64_t stream);

/* ReLU then dropout in one pass: out[i] = keep_i && inp[i] > 0 ?
 * inp[i]/(1 − p) : 0, the floats of ops_relu_forward followed by
 * ops_dropout_forward (same stream). mask (n bytes, not NULL) records
 * keep_i·[inp[i] > 0], so that ops_dropout_backward_first with it is both
 * backwards at once: dinp = mask ? dout/(1 − p) : 0. out may alias inp.
 * Errors: MLM_ERR_INVALID_ARGUMENT unless 0 <= p <= 1, or mask NULL. */
mlm_status ops_relu_dropout_forward(const struct ops_ctx *ctx, float *out, uint8_t *mask,
                                    const float *inp, size_t n, float p, uint64_t seed,
                                    uint64_t stream);

/* out[i] = mask[i] ? inp[i]/(1 − p) : 0 with a mask recorded by
 * ops_dropout_forward: its output again, without the random stream.
 * out may alias inp. */
mlm_status ops_dropout_apply(const struct ops_ctx *ctx, float *out, const uint8_t *mask,
                             const float *inp, size_t n, float p);

/* dinp[i] += keep_i ? dout[i]/(1 − p) : 0, keep_i from mask, or regenerated
 * from (seed, stream) when mask is NULL. */
mlm_status ops_dropout_backward(const struct ops_ctx *ctx, float *dinp, const float *dout,
                                const uint8_t *mask, size_t n, float p, uint64_t seed,
                                uint64_t stream);

/* ops_dropout_backward for dinp's first contribution: dinp[i] = keep_i ?
 * dout[i]/(1 − p) : 0, overwritten (not read, so not zeroed first); the
 * same floats as zeroing and adding but for the sign of a zero. */
mlm_status ops_dropout_backward_first(const struct ops_ctx *ctx, float *dinp, const float *dout,
                                      const uint8_t *mask, size_t n, float p, uint64_t seed,
                                      uint64_t stream);

/* ---- embedding */

/* out (N, C) = table[ids[n]] (accumulate = 0) or += it (accumulate = 1), so
 * word + position + token-type embeddings are three calls. table (V, C).
 * Errors: MLM_ERR_RANGE (naming the position) for an id outside [0, V);
 * nothing is written then. */
mlm_status ops_embedding_forward(const struct ops_ctx *ctx, float *out, const int32_t *ids,
                                 const float *table, int N, int V, int C, int accumulate);
/* dtable[ids[n]] += dout[n] (rows with ids[n] == padding_idx get nothing;
 * padding_idx < 0 for none). Threads split the columns, so repeated ids
 * never race. Errors as the forward. */
mlm_status ops_embedding_backward(const struct ops_ctx *ctx, float *dtable, const float *dout,
                                  const int32_t *ids, int N, int V, int C, int padding_idx);

/* ---- RMS norm, products, scaling (T5) */

/* T5LayerNorm: out (N, C) = weight ⊙ (x · 1/√(mean(x²) + eps)) over each row
 * x of inp (N, C): no mean subtracted, no bias; mean(x²) in float32 (as HF,
 * which computes the variance in float32 whatever the dtype). The product
 * is rounded as HF's: first x·r, then weight·(x·r). out may alias inp. */
void ops_rmsnorm_forward(const struct ops_ctx *ctx, float *out, const float *inp,
                         const float *weight, int N, int C, float eps);
/* ops_rmsnorm_forward that also keeps each row's r = 1/√(mean(x²) + eps)
 * in rstd (N) for the backward: the same out. out must not alias inp when
 * the backward will need inp. */
void ops_rmsnorm_forward_rstd(const struct ops_ctx *ctx, float *out, float *rstd,
                              const float *inp, const float *weight, int N, int C, float eps);
/* With x̂ = x·r and g = dout ⊙ weight: dinp (N, C) += r·(g − x̂·mean(g·x̂)),
 * dweight (C) += Σ_n dout ⊙ x̂ (summed in double). rstd from
 * ops_rmsnorm_forward_rstd; dinp or dweight may be NULL. */
void ops_rmsnorm_backward(const struct ops_ctx *ctx, float *dinp, float *dweight,
                          const float *dout, const float *inp, const float *weight,
                          const float *rstd, int N, int C);

/* out[i] = a[i]·b[i] (the gated FFN's act(x·W0ᵀ) ⊙ x·W1ᵀ). out may alias a or b. */
void ops_mul_forward(const struct ops_ctx *ctx, float *out, const float *a, const float *b,
                     size_t n);
/* da[i] += dout[i]·b[i], db[i] += dout[i]·a[i]; da or db may be NULL. */
void ops_mul_backward(const struct ops_ctx *ctx, float *da, float *db, const float *dout,
                      const float *a, const float *b, size_t n);

/* out[i] = s·x[i] (the tied LM head's d_model^-0.5). out may alias x. Its
 * backward is the same product on the gradient (dx = s·dout). */
void ops_scale_forward(const struct ops_ctx *ctx, float *out, const float *x, float s, size_t n);

/* ---- attention of a few query rows (decoding) */

/* Each query row against its own block of keys and values, one softmax per
 * (row, head), as T5's attention computes it (no 1/√D; an additive
 * position bias that already holds the mask):
 *   s_j   = q_h·k_{j,h} + (add[h·add_ld + j] + mask_b[j])      j < nk
 *   out_h = Σ_j softmax(s)_j · v_{j,h}                          (D floats)
 * Row r (of `rows`) reads its queries at q + r·q_ld (H·D floats, head h at
 * h·D) and writes out + r·out_ld; it attends to block b = block[r] (a
 * cache slot), or b = r / rows_per_kv when block is NULL:
 * key j of head h at k + b·kv_stride + h·kv_head + j·kv_ld (kv_head 0
 * means D: a key's heads side by side in one row), value j likewise in v,
 * and mask_b = mask + b·mask_ld (nk additive floats), or no mask when mask
 * is NULL. add (H rows of nk, stride add_ld) is shared by all rows, or NULL
 * (cross-attention has no bias). A row whose scores are all −inf (or all
 * −FLT_MAX) attends uniformly, as torch's softmax of equal values does.
 * The dot products and sums have a fixed order (nn/ops/vmath.h), so a row's
 * result depends neither on the other rows nor on the thread count.
 * scratch holds rows·nk floats. */
typedef struct ops_attention {
    int rows, H, D, nk, rows_per_kv;
    const int32_t *block;
    const float *q;
    long q_ld;
    const float *k, *v;
    long kv_stride, kv_ld, kv_head;
    const float *add;
    long add_ld;
    const float *mask;
    long mask_ld;
    float *out;
    long out_ld;
    float *scratch;
} ops_attention;
void ops_attention_rows(const struct ops_ctx *ctx, const ops_attention *a);

#endif
