/* Added tokens (tokenizer.json "added_tokens") and HF's rules for finding
 * them in text: leftmost-longest matching, single_word, lstrip, rstrip, and
 * normalized tokens matched in the normalized text. */
#ifndef MLM_TEXT_ADDED_VOCAB_H
#define MLM_TEXT_ADDED_VOCAB_H

#include <cjson/cJSON.h>

#include "mlm/core.h"
#include "text/tokenizer_model.h"
#include "text/normalized.h"
#include "text/normalizer.h"

typedef struct added_token {
    char *content;
    size_t len;
    int32_t id;
    int special, single_word, lstrip, rstrip, normalized;
    char *pattern; /* what is matched: content, normalized when `normalized` */
    size_t plen;
} added_token;

typedef struct added_vocab {
    added_token *t;
    size_t n;
    strmap by_content; /* content -> index in t */
    strmap by_id_unused;
    /* Matching order: special tokens, then the others (HF's order). */
    uint32_t *order;
    size_t norder;
    uint8_t first_raw[256], first_norm[256]; /* first bytes of patterns */
    int32_t max_id;
} added_vocab;

/* Parse the "added_tokens" array, assigning ids as HF does (the model's id
 * for a token it knows, else after the model's vocabulary). */
mlm_status added_vocab_parse(added_vocab *av, const cJSON *arr, const model *m,
                             const normalizer *norm);
void added_vocab_free(added_vocab *av);

/* The added token with this content, or NULL; with this id, or NULL. */
const added_token *added_vocab_find(const added_vocab *av, const char *s, size_t len);
const added_token *added_vocab_by_id(const added_vocab *av, int32_t id);

/* HF's extract_and_normalize: split the single piece of b around the
 * non-normalized tokens, normalize the other pieces, split those around the
 * normalized tokens. 0 or -1 (OOM). */
int added_vocab_extract(const added_vocab *av, const normalizer *norm, ns_buf *b);

#endif
