/* Decoders (tokenizer.json "decoder"): WordPiece, ByteLevel, Metaspace,
 * BPEDecoder, Replace, ByteFallback, Fuse, Strip, CTC, Sequence. */
#ifndef MLM_TEXT_DECODER_H
#define MLM_TEXT_DECODER_H

#include <cjson/cJSON.h>
#include <stddef.h>

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

#endif
