/* Architecture families: the interface a model gets when it is loaded or
 * created (docs/architecture.md, "Model families").
 *
 * mlm_model.family points to one of these tables. The getters, save and
 * free exist for every family; `s2s` only for encoder-decoders. A public
 * function that needs one family checks it once at its entry with
 * model_require_family(), which fails with MLM_ERR_UNSUPPORTED naming the
 * model type and the function. */
#ifndef MLM_NN_FAMILY_H
#define MLM_NN_FAMILY_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "mlm/model.h"
#include "nn/ops/ops.h"

/* A decoding state: the encoder's output turned into cross-attention keys
 * and values, and the self-attention cache of every row (opaque to
 * generation). */
typedef struct s2s_state s2s_state;

/* The encoder-decoder interface that generation drives. Shapes are row-major;
 * B inputs of S tokens (ids, mask 0/1 or NULL for all ones). */
typedef struct s2s_ops {
    /* The encoder's last hidden state, hidden (B·S, C). */
    mlm_status (*encode)(const mlm_model *m, const ops_ctx *ctx, const int32_t *ids,
                         const int32_t *mask, int B, int S, float *hidden);
    /* Teacher-forced decoder over T tokens per input (dec_mask NULL for all
     * ones): logits (B·T, V). */
    mlm_status (*decode)(const mlm_model *m, const ops_ctx *ctx, const float *enc_hidden,
                         const int32_t *enc_mask, int B, int S, const int32_t *dec_ids,
                         const int32_t *dec_mask, int T, float *logits);
    /* A state for B inputs decoded as B·rows_per_input rows (beams or
     * samples; row r belongs to input r / rows_per_input), for at most
     * max_steps steps. enc_hidden and enc_mask are copied. */
    mlm_status (*state_new)(const mlm_model *m, const ops_ctx *ctx, const float *enc_hidden,
                            const int32_t *enc_mask, int B, int S, int rows_per_input,
                            int max_steps, s2s_state **out);
    /* One step: every row's next decoder input token in, its logits (rows,
     * V) out; the cache grows by one position. */
    mlm_status (*step)(s2s_state *s, const ops_ctx *ctx, const int32_t *tokens, float *logits);
    /* Row r continues the cache of row src[r] (beam search). src[r] must be
     * a row of the same input. */
    mlm_status (*reorder)(s2s_state *s, const int32_t *src);
    void (*state_free)(s2s_state *s);
    /* config.json and generation_config.json as loaded (or written by
     * mlm_model_new), for generation's defaults; gen may be NULL. */
    const cJSON *(*config_doc)(const mlm_model *m);
    const cJSON *(*generation_doc)(const mlm_model *m);
} s2s_ops;

typedef struct model_family {
    mlm_family id;
    const char *what;   /* "an encoder-decoder model (t5, mt5)", for messages */
    const char *(*type)(const mlm_model *m);
    int32_t (*vocab_size)(const mlm_model *m);
    int32_t (*hidden_size)(const mlm_model *m);
    int32_t (*num_layers)(const mlm_model *m);
    int32_t (*max_length)(const mlm_model *m);
    int64_t (*num_parameters)(const mlm_model *m);
    mlm_status (*save)(const mlm_model *m, const char *dir);
    /* The parameters, for training and checkpoints (model_param_table,
     * model_owned, model_own_params in nn/model_impl.h). */
    const struct param_desc *(*params)(const mlm_model *m, size_t *n);
    float *(*owned)(const mlm_model *m);
    mlm_status (*own)(mlm_model *m);
    /* params_compact on the family's storage, after model_set_dtype
     * converted its matrices (and any tied copy re-pointed). */
    mlm_status (*compact)(mlm_model *m);
    void (*destroy)(mlm_model *m); /* frees the family's state, not m itself */
    const s2s_ops *s2s;            /* NULL unless an encoder-decoder */
} model_family;

extern const model_family encoder_mlm_family;
extern const model_family t5_family;

/* MLM_OK when m is of family `id`; else MLM_ERR_UNSUPPORTED ("fn: 't5' is an
 * encoder-decoder model (t5, mt5); fn needs an encoder masked-LM model
 * (bert, ...)"). m must not be NULL. */
mlm_status model_require_family(const mlm_model *m, mlm_family id, const char *fn);

/* The family a config.json's text selects, from its model_type (which must
 * be present and a string; an unknown type picks the encoder family, whose
 * parser names the supported types). `name` begins messages. */
mlm_status model_family_of_config(const char *json, size_t len, const char *name,
                                  const model_family **out);

/* The encoder-decoder family's loaders (nn/t5_io.c). */
mlm_status t5_load(const char *dir, const char *config_json, size_t len, mlm_model **out);
mlm_status t5_new(const char *config_json, size_t len, uint64_t seed, mlm_model **out);

#endif
