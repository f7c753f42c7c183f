/*
 * mlm/model.h — BERT, RoBERTa (XLM-R, CamemBERT) and DistilBERT encoders
 * with their masked-LM heads, loaded from and saved to Hugging Face model
 * directories (config.json + model.safetensors).
 *
 * Thread safety: a model is immutable once loaded or created, except through
 * the training API; any number of threads may run mlm_model_forward() on one
 * model at once. The thread count is a per-call argument, so callers with
 * different thread counts can share a model.
 */
#ifndef MLM_MODEL_H
#define MLM_MODEL_H

#include "mlm/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mlm_model mlm_model;

/* Load a Hugging Face model directory: config.json and model.safetensors
 * (or model.safetensors.index.json with its shards). F32 weights are used in
 * place from the mapped file; F16 and BF16 are converted. The decoder tied to
 * the word embeddings is re-tied when the checkpoint stores the tie once.
 * Weights the masked-LM model does not use (pooler, NSP head) are ignored;
 * a missing MLM head is initialised as HF does and reported by
 * mlm_model_n_warnings(). pytorch_model.bin is not read: the error says how
 * to convert it. */
MLM_API mlm_status mlm_model_load(const char *dir, mlm_model **out);

/* A new model from the text of a config.json (len bytes), initialised as HF
 * initialises: normal(0, initializer_range) weights, zero biases, LayerNorm
 * ones and zeros, the padding row zero; deterministic for a seed. */
MLM_API mlm_status mlm_model_new(const char *config_json, size_t len, uint64_t seed,
                                 mlm_model **out);

/* Write config.json and model.safetensors into dir (created if needed) with
 * exactly HF's names, one copy of tied weights, each file atomically. */
MLM_API mlm_status mlm_model_save(const mlm_model *model, const char *dir);

/* Accepts NULL. */
MLM_API void mlm_model_free(mlm_model *model);

/* "bert", "roberta", "xlm-roberta", "camembert" or "distilbert". */
MLM_API const char *mlm_model_type(const mlm_model *model);
MLM_API int32_t mlm_model_vocab_size(const mlm_model *model);
MLM_API int32_t mlm_model_hidden_size(const mlm_model *model);
MLM_API int32_t mlm_model_num_layers(const mlm_model *model);
/* Longest input in tokens (RoBERTa: max_position_embeddings - pad - 1). */
MLM_API int32_t mlm_model_max_length(const mlm_model *model);
/* Total number of parameters (tied weights counted once). */
MLM_API int64_t mlm_model_num_parameters(const mlm_model *model);

/* Warnings from loading (e.g. "cls.predictions.* missing: initialised"). */
MLM_API size_t mlm_model_n_warnings(const mlm_model *model);
MLM_API const char *mlm_model_warning(const mlm_model *model, size_t i);

/* The masked-LM forward pass in eval mode (no dropout), on a padded batch of
 * `batch` rows of `seq_len` tokens:
 *   input_ids       batch x seq_len
 *   attention_mask  batch x seq_len of 0/1, or NULL for all ones
 *   token_type_ids  batch x seq_len, or NULL for zeros (ignored by DistilBERT)
 * Logits are computed only at the flat positions (row * seq_len + column)
 * listed in `positions` (n_positions of them): logits receives
 * n_positions x vocab_size floats. positions == NULL means every position:
 * logits receives batch x seq_len x vocab_size floats. nthreads >= 1. */
MLM_API mlm_status mlm_model_forward(const mlm_model *model, int nthreads,
                                     const int32_t *input_ids, const int32_t *attention_mask,
                                     const int32_t *token_type_ids, size_t batch,
                                     size_t seq_len, const int32_t *positions,
                                     size_t n_positions, float *logits);

/* The encoder's last hidden states (batch x seq_len x hidden_size), eval
 * mode; the arguments are those of mlm_model_forward. */
MLM_API mlm_status mlm_model_hidden_states(const mlm_model *model, int nthreads,
                                           const int32_t *input_ids,
                                           const int32_t *attention_mask,
                                           const int32_t *token_type_ids, size_t batch,
                                           size_t seq_len, float *hidden);

/* The k largest of x[0..n) in descending order (ties: the lower index
 * first), as torch.topk: idx receives k indices, val (may be NULL) their
 * values. With the two calls above this is the seed's lower-level path:
 * tokenize, forward at the mask position, top-k. 1 <= k <= n. */
MLM_API mlm_status mlm_topk(const float *x, size_t n, int k, int32_t *idx, float *val);

#ifdef __cplusplus
}
#endif

#endif /* MLM_MODEL_H */
