/* Shared by the tokenize map (tokenize.c) and the streaming tokenizer
 * (stream.c). */
#ifndef MLM_DATA_TOKENIZE_H
#define MLM_DATA_TOKENIZE_H

#include "mlm/tokenizer.h"

/* 1 when the tokenizer gives a pair non-zero type ids (BERT), so that the
 * tokenized dataset gets a token_type_ids column; 0 otherwise. */
int tokenize_pair_type_ids(const mlm_tokenizer *tok);

#endif
