/* Hugging Face config.json for the masked-LM encoders: bert, roberta,
 * xlm-roberta, camembert and distilbert.
 *
 * One struct for all five: DistilBERT's own key names (dim, n_layers,
 * n_heads, hidden_dim, activation, dropout, attention_dropout) are read into
 * the BERT-named fields and written back under DistilBERT's names. Defaults
 * are those of each transformers configuration_*.py. Keys we do not
 * interpret are kept, and written back, so that a load/save round trip loses
 * nothing HF wrote. */
#ifndef MLM_IO_CONFIG_H
#define MLM_IO_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "mlm/core.h"

typedef enum model_type {
    MODEL_BERT,
    MODEL_ROBERTA,
    MODEL_XLM_ROBERTA,
    MODEL_CAMEMBERT,
    MODEL_DISTILBERT
} model_type;

/* The names transformers' ACT2FN accepts (activations.py). Which of them a
 * model can run is the model layer's decision. */
typedef enum act_fn {
    ACT_GELU,              /* exact erf GELU */
    ACT_GELU_NEW,          /* tanh approximation */
    ACT_GELU_PYTORCH_TANH, /* tanh approximation, PyTorch's kernel */
    ACT_GELU_FAST,
    ACT_GELU_ACCURATE,
    ACT_GELU_PYTHON,
    ACT_GELU_10,
    ACT_QUICK_GELU,
    ACT_RELU,
    ACT_RELU2,
    ACT_RELU6,
    ACT_LEAKY_RELU,
    ACT_SILU,
    ACT_SWISH,
    ACT_MISH,
    ACT_TANH,
    ACT_SIGMOID,
    ACT_LINEAR,
    ACT_LAPLACE,
    ACT_COUNT
} act_fn;

typedef struct model_config {
    model_type type;
    char **architectures;       /* e.g. "BertForMaskedLM"; owned */
    size_t n_architectures;
    int vocab_size;
    int hidden_size;            /* DistilBERT: dim */
    int num_hidden_layers;      /* n_layers */
    int num_attention_heads;    /* n_heads */
    int intermediate_size;      /* hidden_dim */
    int max_position_embeddings;
    int type_vocab_size;        /* DistilBERT: 0 (no token types) */
    double layer_norm_eps;      /* DistilBERT: always 1e-12 */
    int pad_token_id;           /* -1: null/None */
    int bos_token_id;           /* -1: null/None */
    int eos_token_id;           /* -1: null/None */
    act_fn hidden_act;          /* activation */
    double hidden_dropout_prob; /* dropout */
    double attention_probs_dropout_prob; /* attention_dropout */
    double initializer_range;
    bool tie_word_embeddings;
    /* Members we do not interpret, as (key, value rendered the way Python's
     * json.dumps(indent=2) writes it one level deep); owned. */
    char **extra_keys;
    char **extra_values;
    size_t n_extra;
} model_config;

const char *model_type_name(model_type t);
/* Nonzero and *out set for "bert", "roberta", "xlm-roberta", "camembert",
 * "distilbert". */
int model_type_from_name(const char *name, model_type *out);
const char *act_name(act_fn a);
int act_from_name(const char *name, act_fn *out);

/* HF's defaults for `type` (BertConfig(), RobertaConfig(), ...). Allocates
 * nothing; config_free() is still fine to call. */
void config_init(model_config *cfg, model_type type);

/* Parses config.json text (`name` begins messages). Wrong types and invalid
 * values fail with a message naming the key: MLM_ERR_FORMAT for malformed
 * JSON or a wrong type, MLM_ERR_RANGE for an invalid value,
 * MLM_ERR_UNSUPPORTED for an unknown model_type, a feature we do not
 * implement (position_embedding_type other than "absolute",
 * sinusoidal_pos_embds, is_decoder) or U+0000 in a string. Numbers are read
 * as doubles (io/json.h): 768.0 is the integer 768, and kept keys' numbers
 * are written back as json_format_py_number says. On failure *cfg holds
 * nothing to free. */
mlm_status config_parse(const char *json, size_t len, const char *name, model_config *cfg);
mlm_status config_load(const char *path, model_config *cfg);

/* The checks config_parse applies to values, for a config built in code. */
mlm_status config_validate(const model_config *cfg, const char *name);

/* Replaces the architectures list (copies the strings). */
mlm_status config_set_architectures(model_config *cfg, const char *const *names, size_t n);

/* The text transformers' save_pretrained writes (to_json_string: sorted
 * keys, 2-space indent, ASCII escapes, final newline), with HF's key names
 * for the model type, keys HF omits at their defaults omitted, and the kept
 * unknown keys. mem_free() the result. */
mlm_status config_to_json(const model_config *cfg, char **out, size_t *len);
/* config_to_json written atomically to `path`. */
mlm_status config_save(const model_config *cfg, const char *path);

void config_free(model_config *cfg);

#endif
