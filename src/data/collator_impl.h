/* The collator's settings; shared by the id and tokenizer constructors. */
#ifndef MLM_DATA_COLLATOR_IMPL_H
#define MLM_DATA_COLLATOR_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "mlm/collator.h"

#define COLL_MAX_SPECIAL 4096

struct cJSON;

/* Both kinds of collator: masked/causal LM (collator.c) and seq2seq
 * (collator_seq2seq.c), told apart by `seq2seq`. */
struct mlm_collator {
    int seq2seq;
    int32_t mask_id, pad_id, vocab_size; /* vocab_size 0: ids not checked (seq2seq) */
    int32_t *special;
    size_t nspecial;
    int mlm, wwm, compat, left;
    uint64_t t_select, t_mask, t_random; /* thresholds on a 32-bit word */
    double p;
    int32_t multiple;
    uint64_t seed;
    /* seq2seq: DataCollatorForSeq2Seq's fields */
    int padding;                  /* DATA_PAD_* (data/options.h) */
    int64_t max_length;           /* -1: None */
    int64_t model_max_length;     /* the tokenizer's, for "max_length" without max_length */
    int32_t label_pad;            /* label_pad_token_id */
    int model;                    /* a model is given: decoder_input_ids */
    int32_t decoder_start, model_pad; /* its config's decoder_start_token_id, pad_token_id */
};

/* One allocation holds every array; ids is its start (freed by
 * mlm_batch_free). Arrays of shape [rows × len] except labels and
 * decoder_ids: [rows × label_len]. */
struct mlm_batch {
    size_t rows, len, label_len;
    int32_t *ids, *attn, *labels, *stm, *tti, *dec; /* NULL when absent */
};

/* The option reader of ids and counts shared by both kinds: an integer in
 * [lo, hi] (null gives -1); errors name the key. */
mlm_status coll_get_int(const struct cJSON *it, const char *k, int64_t lo, int64_t hi,
                        int64_t *v);

/* The seq2seq collate (collator_seq2seq.c). */
mlm_status collate_seq2seq(const mlm_collator *c, const mlm_dataset *ds, const size_t *rows,
                           size_t n, mlm_batch **out);

/* Ids are -1 when absent. */
typedef struct collopts {
    int64_t mask_id, pad_id, eos_id, cls_id, sep_id, bos_id, unk_id;
    int64_t vocab_size;
    int64_t special[COLL_MAX_SPECIAL];
    size_t nspecial; /* > 0: the special set given outright */
    int mlm, whole_word_mask, hf_eos_compat, left;
    double p, p_mask, p_random;
    int64_t multiple;
    uint64_t seed;
} collopts;

void collopts_defaults(collopts *o);

/* Apply options_json over o, validate, and make the collator. */
mlm_status collator_build(collopts *o, const char *options_json, mlm_collator **out);

#endif
