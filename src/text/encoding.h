/* mlm_encoding internals: the arrays of HF's Encoding, plus its sequence
 * ranges, overflowing parts, and the operations of truncation, padding
 * and merging (HF's encoding.rs, utils/truncation.rs, utils/padding.rs). */
#ifndef MLM_TEXT_ENCODING_H
#define MLM_TEXT_ENCODING_H

#include <stddef.h>
#include <stdint.h>

#include "mlm/tokenizer.h"

struct mlm_encoding {
    size_t n, cap;
    int32_t *ids, *type_ids, *attn, *special, *words;
    uint32_t *bs, *be, *cs, *ce; /* offsets: bytes, code points */
    uint32_t *tok;               /* offset of each token string in pool */
    char *pool;                  /* NUL-terminated token strings */
    size_t pool_len, pool_cap;
    /* HF's sequence_ranges: sequence id 0 and 1 -> [start, end). */
    int has_range[2];
    size_t range[2][2];
    int32_t *seq; /* computed by enc_finish() */
    mlm_encoding **ovf;
    size_t novf;
};

mlm_encoding *enc_new(void);
/* Append one token; str of slen bytes. 0 or -1 (OOM). */
int enc_push(mlm_encoding *e, int32_t id, const char *str, size_t slen, int32_t type_id,
             int32_t word, uint32_t bs, uint32_t be, uint32_t cs, uint32_t ce, int special,
             int attn);
/* Append tokens [from, to) of src. */
int enc_append(mlm_encoding *dst, const mlm_encoding *src, size_t from, size_t to);
/* A deep copy (with overflowing). */
mlm_encoding *enc_clone(const mlm_encoding *e);
void enc_set_sequence_id(mlm_encoding *e, int id);
/* HF's merge_with (growing_offsets false). 0 or -1. */
int enc_merge_with(mlm_encoding *e, const mlm_encoding *pair);
/* HF's Encoding::truncate; stride < max_len is checked by the caller.
 * 0 or -1. */
int enc_truncate(mlm_encoding *e, size_t max_len, size_t stride, int left);
/* HF's Encoding::pad. 0 or -1. */
int enc_pad(mlm_encoding *e, size_t target, int32_t pad_id, int32_t pad_type, const char *pad_tok,
            int left);
/* Compute sequence ids (recursively for overflowing). 0 or -1. */
int enc_finish(mlm_encoding *e);
const char *enc_token(const mlm_encoding *e, size_t i);
/* Its byte length (a token may hold U+0000). */
size_t enc_token_len(const mlm_encoding *e, size_t i);

#endif
