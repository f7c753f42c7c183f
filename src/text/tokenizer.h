/* mlm_tokenizer internals shared by tokenizer.c, legacy.c and tests. */
#ifndef MLM_TEXT_TOKENIZER_H
#define MLM_TEXT_TOKENIZER_H

#include <cjson/cJSON.h>
#include <pthread.h>

#include "mlm/tokenizer.h"
#include "text/added_vocab.h"
#include "text/decoder.h"
#include "text/tokenizer_model.h"
#include "text/normalizer.h"
#include "text/postprocessor.h"
#include "text/pretokenizer.h"

/* Per-thread work memory of an encode, pooled in the tokenizer. */
typedef struct encode_ctx {
    ns_buf b;
    tokvec tv;
    model_scratch ms;
    uint32_t *cmap; /* byte -> code point index of the input */
    size_t cmap_cap;
    struct encode_ctx *next;
} encode_ctx;

/* The truncation and padding of an encode call. The public entry points
 * use the tokenizer's own (tok->enc); transformers' tokenizer(texts,
 * truncation=True, max_length=N, padding=...) sets them for one call
 * whatever the tokenizer holds, which tokenizer_encode_batch_call does
 * without changing the (const) tokenizer. */
typedef struct encode_call {
    int trunc_on, trunc_left;
    mlm_truncation_strategy trunc_strategy;
    size_t trunc_max, trunc_stride;
    int pad_on, pad_left;
    size_t pad_len; /* 0: longest */
    size_t pad_multiple;
} encode_call;

struct mlm_tokenizer {
    cJSON *json; /* the tokenizer.json document, for save */
    normalizer *norm;
    pretokenizer *pre;
    model *model;
    postproc *post;
    decoder *dec;
    added_vocab added;
    int32_t vocab_size;

    encode_call enc; /* the truncation and padding set on the tokenizer */
    int32_t pad_id, pad_type_id;
    char *pad_token;

    char *special[7];
    int64_t model_max_length;
    int cleanup_default;

    pthread_mutex_t lock; /* guards ctx_pool */
    encode_ctx *ctx_pool;
};

/* mlm_tokenizer_encode_batch (NUL-terminated texts; pairs may be NULL)
 * with the truncation and padding of `call` in place of the tokenizer's. A
 * truncation that leaves no room beside the special tokens, or a stride not
 * below what it leaves, is MLM_ERR_RANGE. */
mlm_status tokenizer_encode_batch_call(const mlm_tokenizer *tok, const char *const *texts,
                                       const char *const *pairs, size_t n,
                                       int add_special_tokens, const encode_call *call,
                                       int nthreads, mlm_encoding **out);

/* Build from a parsed tokenizer.json document (takes ownership of doc,
 * even on failure). `name` prefixes error messages. */
mlm_status tokenizer_from_json(cJSON *doc, const char *name, mlm_tokenizer **out);

/* Apply tokenizer_config.json / special_tokens_map.json (and config.json's
 * model_type) in dir: special-token roles, model_max_length,
 * clean_up_tokenization_spaces. implied_class: the class legacy files imply
 * ("BertTokenizer", "RobertaTokenizer"), or NULL. */
mlm_status tokenizer_apply_config(mlm_tokenizer *tok, const char *dir, const char *implied_class);

/* special_tokens.c: the roles as transformers assigns them (see there).
 * guess_roles: from the special added tokens' names, for a tokenizer with
 * no known class; configure_roles: from the side files' documents (any may
 * be NULL). */
mlm_status guess_roles(mlm_tokenizer *tok);
mlm_status configure_roles(mlm_tokenizer *tok, const cJSON *tokenizer_config,
                           const cJSON *special_tokens_map, const char *model_type,
                           const char *implied_class);


#endif
