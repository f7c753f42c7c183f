/* Shared by the tokenize map (tokenize.c), its seq2seq form
 * (tokenize_seq2seq.c) and the streaming tokenizer (stream.c). */
#ifndef MLM_DATA_TOKENIZE_H
#define MLM_DATA_TOKENIZE_H

#include "mlm/dataset.h"
#include "mlm/tokenizer.h"
#include "text/tokenizer.h"

/* 1 when the tokenizer gives a pair non-zero type ids (BERT), so that the
 * tokenized dataset gets a token_type_ids column; 0 otherwise. */
int tokenize_pair_type_ids(const mlm_tokenizer *tok);

/* What one mlm_dataset_tokenize runs, from its options. */
typedef struct tokjob {
    const mlm_tokenizer *tok;
    const char *column, *pair;
    const char *target; /* "target_column": the seq2seq form, labels from it */
    const char *prefix; /* "source_prefix", or NULL */
    int add_special;
    int type_ids;       /* produce token_type_ids */
    int call_on;        /* "max_length" or "padding" given: encode with `call`, as
                           transformers' tokenizer(..., truncation=True, max_length=N,
                           padding=...) sets them for the call */
    int target_call_on; /* the same for the targets: call_on or "max_target_length" */
    encode_call call, target_call; /* the sources' and the targets' */
    int pad_max_length; /* "padding": "max_length" */
    int attention_mask; /* seq2seq: "return_attention_mask" */
    int ignore_pad;     /* seq2seq: "ignore_pad_token_for_loss" (with padding) */
    int hf_eos_compat;  /* seq2seq: -100 for every label id equal to pad */
    int skip_empty;     /* seq2seq: drop rows with an empty text or target */
} tokjob;

/* The text of row r of column col (STRING, or STRING_LIST joined with " "),
 * with prefix (may be NULL) in front. *text is NUL-terminated: the
 * dataset's storage, or *owned (to free) when joined or prefixed. *empty
 * is set when the text before the prefix is falsy for Python (an empty
 * string, an empty list), as run_summarization.py tests it. */
mlm_status tokenize_row_text(const mlm_dataset *b, const char *col, size_t r,
                             const char *prefix, const char **text, char **owned, int *empty);

/* The map callback of the seq2seq form (job is a tokjob): input_ids,
 * attention_mask, labels. */
mlm_status tokenize_seq2seq_batch(const mlm_dataset *batch, void *job, mlm_dataset **result);

#endif
