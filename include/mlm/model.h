/*
 * mlm/model.h — BERT, RoBERTa (XLM-R, CamemBERT) and DistilBERT encoders
 * with their masked-LM heads, and T5 / mT5 encoder-decoders
 * (T5ForConditionalGeneration), loaded from and saved to Hugging Face model
 * directories (config.json + model.safetensors).
 *
 * One handle serves both architecture families; config.json's model_type
 * picks the family at load (mlm_model_family). Functions documented for
 * one family fail with MLM_ERR_UNSUPPORTED, and a message naming the
 * model type, on a model of the other.
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

/* Architecture families. Values are part of the ABI. */
typedef enum mlm_family {
    MLM_FAMILY_ENCODER_MLM = 0,     /* bert, roberta, xlm-roberta, camembert, distilbert */
    MLM_FAMILY_ENCODER_DECODER = 1  /* t5, mt5 (T5ForConditionalGeneration) */
} mlm_family;

/* Load a Hugging Face model directory: config.json and model.safetensors
 * (or model.safetensors.index.json with its shards). F32 weights are used in
 * place from the mapped file; F16 and BF16 are converted. The decoder tied to
 * the word embeddings is re-tied when the checkpoint stores the tie once.
 * Weights the masked-LM model does not use (pooler, NSP head) are ignored;
 * a missing MLM head is initialised as HF does and reported by
 * mlm_model_n_warnings(). pytorch_model.bin is not read: the error says how
 * to convert it.
 * T5: shared.weight (or a stack's embed_tokens.weight) is the one
 * embedding; an untied lm_head.weight is required unless
 * tie_word_embeddings; generation_config.json, when present, gives
 * generation's defaults (mlm/generation.h). */
MLM_API mlm_status mlm_model_load(const char *dir, mlm_model **out);

/* How a model holds its matrices. Values are part of the ABI. */
typedef enum mlm_dtype {
    MLM_DTYPE_F32 = 0,  /* float32: training, and exact parity with PyTorch fp32 */
    MLM_DTYPE_BF16 = 1, /* bfloat16 weights: half the memory; products take bf16
                         * inputs with float32 sums (torch.autocast's Linear) */
    MLM_DTYPE_INT8 = 2  /* int8 weights per output channel, activations quantized
                         * per row at each product (ONNX Runtime's dynamic
                         * quantization): a quarter of the memory */
} mlm_dtype;

/* mlm_model_load, then mlm_model_set_dtype(dtype), without the float32
 * copy of a converted matrix staying in memory. */
MLM_API mlm_status mlm_model_load_dtype(const char *dir, mlm_dtype dtype, mlm_model **out);

/* Converts a float32 model's matrices — every Linear's weight and the word
 * embeddings (T5: shared, lm_head) — to dtype, as model.to(torch.bfloat16)
 * or quantize_dynamic would; biases, norms, position tables, softmax, the
 * activations and the residual stream stay float32, and so do products
 * between activations (attention). Inference only: the trainer and the
 * optimizers need a float32 model. MLM_DTYPE_F32 on a float32 model does
 * nothing; a reduced model cannot be converted again (reload it).
 * mlm_model_save writes a bf16 model as BF16 safetensors (every tensor,
 * as save_pretrained does after .to(torch.bfloat16)); an int8 model cannot
 * be saved. Not while other threads use the model. Errors:
 * MLM_ERR_INVALID_ARGUMENT (an unknown dtype, a non-finite weight for
 * int8), MLM_ERR_UNSUPPORTED (a reduced model), MLM_ERR_OUT_OF_MEMORY; on
 * error the model is unchanged. */
MLM_API mlm_status mlm_model_set_dtype(mlm_model *model, mlm_dtype dtype);

/* Bytes of memory the model's weights occupy at its dtype (converted
 * matrices in their reduced form with their scales, the rest float32; tied
 * weights once); 0 for NULL. A batch-1 forward reads each of them once. */
MLM_API int64_t mlm_model_weight_bytes(const mlm_model *model);

/* The model's dtype (MLM_DTYPE_F32 for NULL). */
MLM_API mlm_dtype mlm_model_dtype(const mlm_model *model);

/* "fp32", "bf16", "int8" ("?" for another value). */
MLM_API const char *mlm_dtype_name(mlm_dtype dtype);

/* The dtype a name means: "fp32"/"float32", "bf16"/"bfloat16", "int8"
 * (MLM_ERR_INVALID_ARGUMENT naming it otherwise). */
MLM_API mlm_status mlm_dtype_from_name(const char *name, mlm_dtype *out);

/* A new model from the text of a config.json (len bytes), initialised as HF
 * initialises: normal(0, initializer_range) weights, zero biases, LayerNorm
 * ones and zeros, the padding row zero; deterministic for a seed.
 * T5 (T5PreTrainedModel._init_weights, f = initializer_factor): shared and
 * an untied lm_head ~ N(0, f), q ~ N(0, f·(d_model·d_kv)^-0.5), k and v
 * ~ N(0, f·d_model^-0.5), o ~ N(0, f·(num_heads·d_kv)^-0.5), wi (wi_0,
 * wi_1) ~ N(0, f·d_model^-0.5), wo ~ N(0, f·d_ff^-0.5), the relative
 * attention biases ~ N(0, f·d_model^-0.5), layer norms f. */
MLM_API mlm_status mlm_model_new(const char *config_json, size_t len, uint64_t seed,
                                 mlm_model **out);

/* Write config.json and model.safetensors into dir (created if needed) with
 * exactly HF's names, one copy of tied weights, each file atomically.
 * T5: also generation_config.json, as save_pretrained does. */
MLM_API mlm_status mlm_model_save(const mlm_model *model, const char *dir);

/* Accepts NULL. */
MLM_API void mlm_model_free(mlm_model *model);

/* "bert", "roberta", "xlm-roberta", "camembert", "distilbert", "t5" or
 * "mt5". */
MLM_API const char *mlm_model_type(const mlm_model *model);
/* The model's family; MLM_FAMILY_ENCODER_MLM for NULL. */
MLM_API mlm_family mlm_model_family(const mlm_model *model);
MLM_API int32_t mlm_model_vocab_size(const mlm_model *model);
/* hidden_size (T5: d_model). */
MLM_API int32_t mlm_model_hidden_size(const mlm_model *model);
/* Encoder layers (T5: num_layers; the decoder has num_decoder_layers). */
MLM_API int32_t mlm_model_num_layers(const mlm_model *model);
/* Longest input in tokens (RoBERTa: max_position_embeddings - pad - 1).
 * T5's relative positions set no limit: INT32_MAX (the tokenizer's
 * model_max_length is the practical one). */
MLM_API int32_t mlm_model_max_length(const mlm_model *model);
/* Total number of parameters (tied weights counted once). */
MLM_API int64_t mlm_model_num_parameters(const mlm_model *model);

/* Warnings from loading (e.g. "cls.predictions.* missing: initialised"). */
MLM_API size_t mlm_model_n_warnings(const mlm_model *model);
MLM_API const char *mlm_model_warning(const mlm_model *model, size_t i);

/* ---------------------------------------------------- encoder masked-LMs */

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

/* ---------------------------------------------------- encoder-decoders (T5) */

/* The encoder's last hidden state (after its final layer norm), eval mode:
 *   input_ids       batch x seq_len
 *   attention_mask  batch x seq_len of 0/1, or NULL for all ones
 *   hidden          receives batch x seq_len x hidden_size floats.
 * Encoder-decoder models only. nthreads >= 1; thread-safe on one model. */
MLM_API mlm_status mlm_model_encode(const mlm_model *model, int nthreads,
                                    const int32_t *input_ids, const int32_t *attention_mask,
                                    size_t batch, size_t seq_len, float *hidden);

/* T5ForConditionalGeneration's forward in eval mode, teacher-forced: the
 * encoder on input_ids (batch x src_len, attention_mask or NULL), then the
 * decoder on decoder_input_ids (batch x tgt_len; decoder_attention_mask
 * 0/1 or NULL for all ones; causal). logits receives batch x tgt_len x
 * vocab_size floats; encoder_hidden (may be NULL) batch x src_len x
 * hidden_size. The decoder_input_ids are given as they are (no shift: HF's
 * decoder_input_ids, not labels). Encoder-decoder models only. */
MLM_API mlm_status mlm_model_seq2seq_forward(const mlm_model *model, int nthreads,
                                             const int32_t *input_ids,
                                             const int32_t *attention_mask, size_t batch,
                                             size_t src_len, const int32_t *decoder_input_ids,
                                             const int32_t *decoder_attention_mask,
                                             size_t tgt_len, float *encoder_hidden,
                                             float *logits);

/* ---------------------------------------------------------------- any */

/* The k largest of x[0..n) in descending order (ties: the lower index
 * first), as torch.topk: idx receives k indices, val (may be NULL) their
 * values. With the two calls above this is the seed's lower-level path:
 * tokenize, forward at the mask position, top-k. 1 <= k <= n. */
MLM_API mlm_status mlm_topk(const float *x, size_t n, int k, int32_t *idx, float *val);

#ifdef __cplusplus
}
#endif

#endif /* MLM_MODEL_H */
