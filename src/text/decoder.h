/* Decoders (tokenizer.json "decoder"): WordPiece, ByteLevel, Metaspace,
 * BPEDecoder, Replace, ByteFallback, Fuse, Strip, CTC, Sequence. */
#ifndef MLM_TEXT_DECODER_H
#define MLM_TEXT_DECODER_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "mlm/core.h"

typedef struct decoder decoder;

/* A growable list of malloc'ed strings (the tokens being decoded). */
typedef struct strlist {
    char **s;
    size_t *len;
    size_t n, cap;
} strlist;

int strlist_push(strlist *l, const char *s, size_t len);
void strlist_free(strlist *l);

mlm_status decoder_parse(const cJSON *j, const char *path, decoder **out);
void decoder_free(decoder *d);

/* HF's decode_chain: transform the token list in place. 0 or -1 (OOM). */
int decoder_chain(const decoder *d, strlist *toks);

/* transformers' clean_up_tokenization, in place; returns the new length. */
size_t clean_up_tokenization(char *s, size_t len);

/* What mlm_tokenizer_decode does (ids to tokens, special ones skipped on
 * request, the decoder chain, clean-up), into a new allocation: *out is
 * NUL-terminated, *out_len (may be NULL) its length, which may exceed
 * strlen when it holds U+0000. Out-of-range ids are skipped. Implemented in
 * text/tokenizer.c; declared here so that callers need not see the
 * tokenizer's internals. */
struct mlm_tokenizer;
mlm_status tokenizer_decode_alloc(const struct mlm_tokenizer *tok, const int32_t *ids,
                                  size_t n, int skip_special_tokens, int clean_up_spaces,
                                  char **out, size_t *out_len);

#endif
