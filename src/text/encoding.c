/* Encodings; see encoding.h and mlm/tokenizer.h. */
#include "text/encoding.h"

#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "mlm/tokenizer.h"

mlm_encoding *enc_new(void)
{
    return mem_calloc(1, sizeof(mlm_encoding));
}

static int grow_arrays(mlm_encoding *e, size_t need)
{
    if (need <= e->cap) return 0;
    size_t nc = e->cap ? e->cap * 2 : 32;
    while (nc < need)
        nc *= 2;
    int32_t **i32[] = {&e->ids, &e->type_ids, &e->attn, &e->special, &e->words, &e->seq};
    for (size_t k = 0; k < sizeof i32 / sizeof *i32; k++) {
        int32_t *p = mem_realloc(*i32[k], nc * sizeof *p);
        if (!p) return -1;
        *i32[k] = p;
    }
    uint32_t **u32[] = {&e->bs, &e->be, &e->cs, &e->ce, &e->tok};
    for (size_t k = 0; k < sizeof u32 / sizeof *u32; k++) {
        uint32_t *p = mem_realloc(*u32[k], nc * sizeof *p);
        if (!p) return -1;
        *u32[k] = p;
    }
    e->cap = nc;
    return 0;
}

static int pool_add(mlm_encoding *e, const char *s, size_t len, uint32_t *off)
{
    if (e->pool_len + len + 1 > e->pool_cap) {
        size_t nc = e->pool_cap ? e->pool_cap * 2 : 256;
        while (nc < e->pool_len + len + 1)
            nc *= 2;
        if (nc > UINT32_MAX) return -1;
        char *p = mem_realloc(e->pool, nc);
        if (!p) return -1;
        e->pool = p;
        e->pool_cap = nc;
    }
    *off = (uint32_t)e->pool_len;
    if (len) memcpy(e->pool + e->pool_len, s, len);
    e->pool[e->pool_len + len] = '\0';
    e->pool_len += len + 1;
    return 0;
}

int enc_push(mlm_encoding *e, int32_t id, const char *str, size_t slen, int32_t type_id,
             int32_t word, uint32_t bs, uint32_t be, uint32_t cs, uint32_t ce, int special,
             int attn)
{
    if (grow_arrays(e, e->n + 1)) return -1;
    size_t i = e->n;
    if (pool_add(e, str, slen, &e->tok[i])) return -1;
    e->ids[i] = id;
    e->type_ids[i] = type_id;
    e->words[i] = word;
    e->bs[i] = bs;
    e->be[i] = be;
    e->cs[i] = cs;
    e->ce[i] = ce;
    e->special[i] = special;
    e->attn[i] = attn;
    e->n++;
    return 0;
}

const char *enc_token(const mlm_encoding *e, size_t i)
{
    return e->pool + e->tok[i];
}

/* Tokens are appended to the pool in order, each with its NUL: the next
 * token's offset (or the pool's end) gives the length, U+0000 included. */
size_t enc_token_len(const mlm_encoding *e, size_t i)
{
    size_t end = i + 1 < e->n ? e->tok[i + 1] : e->pool_len;
    return end - e->tok[i] - 1;
}

int enc_append(mlm_encoding *dst, const mlm_encoding *src, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        const char *t = enc_token(src, i);
        if (enc_push(dst, src->ids[i], t, enc_token_len(src, i), src->type_ids[i], src->words[i],
                     src->bs[i], src->be[i], src->cs[i], src->ce[i], src->special[i],
                     src->attn[i]))
            return -1;
    }
    return 0;
}

static void free_ovf(mlm_encoding *e)
{
    for (size_t i = 0; i < e->novf; i++)
        mlm_encoding_free(e->ovf[i]);
    mem_free(e->ovf);
    e->ovf = NULL;
    e->novf = 0;
}

MLM_API void mlm_encoding_free(mlm_encoding *e)
{
    if (!e) return;
    free_ovf(e);
    mem_free(e->ids);
    mem_free(e->type_ids);
    mem_free(e->attn);
    mem_free(e->special);
    mem_free(e->words);
    mem_free(e->seq);
    mem_free(e->bs);
    mem_free(e->be);
    mem_free(e->cs);
    mem_free(e->ce);
    mem_free(e->tok);
    mem_free(e->pool);
    mem_free(e);
}

static int add_ovf(mlm_encoding *e, mlm_encoding *o)
{
    mlm_encoding **a = mem_realloc(e->ovf, (e->novf + 1) * sizeof *a);
    if (!a) return -1;
    e->ovf = a;
    e->ovf[e->novf++] = o;
    return 0;
}

mlm_encoding *enc_clone(const mlm_encoding *e)
{
    mlm_encoding *c = enc_new();
    if (!c) return NULL;
    if (enc_append(c, e, 0, e->n)) goto fail;
    memcpy(c->has_range, e->has_range, sizeof c->has_range);
    memcpy(c->range, e->range, sizeof c->range);
    for (size_t i = 0; i < e->novf; i++) {
        mlm_encoding *o = enc_clone(e->ovf[i]);
        if (!o || add_ovf(c, o)) {
            mlm_encoding_free(o);
            goto fail;
        }
    }
    return c;
fail:
    mlm_encoding_free(c);
    return NULL;
}

void enc_set_sequence_id(mlm_encoding *e, int id)
{
    e->has_range[id] = 1;
    e->range[id][0] = 0;
    e->range[id][1] = e->n;
}

/* self (without its overflowing) followed by pair (without its). */
static int merge_plain(mlm_encoding *e, const mlm_encoding *pair)
{
    size_t base = e->n;
    for (int k = 0; k < 2; k++)
        if (pair->has_range[k]) {
            e->has_range[k] = 1;
            e->range[k][0] = base + pair->range[k][0];
            e->range[k][1] = base + pair->range[k][1];
        }
    return enc_append(e, pair, 0, pair->n);
}

int enc_merge_with(mlm_encoding *e, const mlm_encoding *pair)
{
    mlm_encoding **ovf = NULL;
    size_t novf = 0, cap = e->novf * (1 + pair->novf) + pair->novf;
    if (cap && !(ovf = mem_calloc(cap, sizeof *ovf))) return -1;
    for (size_t i = 0; i < e->novf; i++) {
        mlm_encoding *a = enc_clone(e->ovf[i]);
        if (!a) goto fail;
        ovf[novf++] = a;
        if (enc_merge_with(a, pair)) goto fail;
        for (size_t j = 0; j < pair->novf; j++) {
            mlm_encoding *b = enc_clone(e->ovf[i]);
            if (!b) goto fail;
            ovf[novf++] = b;
            if (enc_merge_with(b, pair->ovf[j])) goto fail;
        }
    }
    for (size_t j = 0; j < pair->novf; j++) {
        mlm_encoding *b = enc_new();
        if (!b) goto fail;
        ovf[novf++] = b;
        if (enc_append(b, e, 0, e->n)) goto fail;
        memcpy(b->has_range, e->has_range, sizeof b->has_range);
        memcpy(b->range, e->range, sizeof b->range);
        if (enc_merge_with(b, pair->ovf[j])) goto fail;
    }
    if (merge_plain(e, pair)) goto fail;
    free_ovf(e);
    e->ovf = ovf;
    e->novf = novf;
    return 0;
fail:
    for (size_t i = 0; i < novf; i++)
        mlm_encoding_free(ovf[i]);
    mem_free(ovf);
    return -1;
}

int enc_truncate(mlm_encoding *e, size_t max_len, size_t stride, int left)
{
    size_t len = e->n;
    if (max_len >= len) return 0;
    if (max_len == 0) {
        mlm_encoding *o = enc_new();
        if (!o) return -1;
        /* The whole encoding moves to overflowing; self becomes empty. */
        mlm_encoding tmp = *o;
        *o = *e;
        *e = tmp;
        e->ovf = NULL;
        e->novf = 0;
        if (add_ovf(e, o)) {
            mlm_encoding_free(o);
            return -1;
        }
        return 0;
    }
    e->has_range[0] = e->has_range[1] = 0;
    size_t step = max_len - stride;
    /* Part ranges, in order. */
    size_t nparts = 0, cap = len / step + 2;
    size_t(*parts)[2] = mem_alloc(cap * sizeof *parts);
    if (!parts) return -1;
    if (!left) {
        for (size_t start = 0; start < len; start += step) {
            size_t stop = start + max_len < len ? start + max_len : len;
            parts[nparts][0] = start;
            parts[nparts][1] = stop;
            nparts++;
            if (stop == len) break;
        }
    } else {
        for (size_t k = 0;; k++) {
            if (k * step >= len) break;
            size_t stop = len - k * step;
            size_t start = stop > max_len ? stop - max_len : 0;
            parts[nparts][0] = start;
            parts[nparts][1] = stop;
            nparts++;
            if (start == 0) break;
        }
    }
    mlm_encoding *first = enc_new();
    int rc = -1;
    if (!first || enc_append(first, e, parts[0][0], parts[0][1])) goto out;
    for (size_t i = 1; i < nparts; i++) {
        mlm_encoding *o = enc_new();
        if (!o || enc_append(o, e, parts[i][0], parts[i][1]) || add_ovf(first, o)) {
            mlm_encoding_free(o);
            goto out;
        }
    }
    /* Replace e's content by first's (e's old overflowing are dropped, as
     * HF's *self = new_encoding does). */
    free_ovf(e);
    mlm_encoding tmp = *e;
    *e = *first;
    *first = tmp;
    first->ovf = NULL;
    first->novf = 0;
    rc = 0;
out:
    mlm_encoding_free(first);
    mem_free(parts);
    return rc;
}

int enc_pad(mlm_encoding *e, size_t target, int32_t pad_id, int32_t pad_type, const char *pad_tok,
            int left)
{
    for (size_t i = 0; i < e->novf; i++)
        if (enc_pad(e->ovf[i], target, pad_id, pad_type, pad_tok, left)) return -1;
    if (e->n >= target) return 0;
    size_t pad = target - e->n;
    size_t tl = strlen(pad_tok);
    if (!left) {
        for (size_t i = 0; i < pad; i++)
            if (enc_push(e, pad_id, pad_tok, tl, pad_type, -1, 0, 0, 0, 0, 1, 0)) return -1;
        return 0;
    }
    mlm_encoding *p = enc_new();
    if (!p) return -1;
    for (size_t i = 0; i < pad; i++)
        if (enc_push(p, pad_id, pad_tok, tl, pad_type, -1, 0, 0, 0, 0, 1, 0)) goto fail;
    if (enc_append(p, e, 0, e->n)) goto fail;
    for (int k = 0; k < 2; k++) {
        p->has_range[k] = e->has_range[k];
        p->range[k][0] = e->range[k][0] + pad;
        p->range[k][1] = e->range[k][1] + pad;
    }
    p->ovf = e->ovf;
    p->novf = e->novf;
    e->ovf = NULL;
    e->novf = 0;
    mlm_encoding tmp = *e;
    *e = *p;
    *p = tmp;
    mlm_encoding_free(p);
    return 0;
fail:
    mlm_encoding_free(p);
    return -1;
}

int enc_finish(mlm_encoding *e)
{
    if (grow_arrays(e, e->n + 1)) return -1;
    for (size_t i = 0; i < e->n; i++)
        e->seq[i] = -1;
    /* HF: for seq_id in 0..n_sequences (the number of ranges, at least 1),
     * the range of seq_id, or the whole encoding when it has none. */
    int nseq = e->has_range[0] + e->has_range[1];
    if (nseq == 0) nseq = 1;
    for (int k = 0; k < nseq; k++) {
        size_t a = 0, b = e->n;
        if (e->has_range[k]) {
            a = e->range[k][0];
            b = e->range[k][1];
        }
        if (b > e->n) b = e->n;
        for (size_t i = a; i < b; i++)
            e->seq[i] = k;
    }
    for (size_t i = 0; i < e->novf; i++)
        if (enc_finish(e->ovf[i])) return -1;
    return 0;
}

/* ---------------------------------------------------------- public API */

MLM_API size_t mlm_encoding_length(const mlm_encoding *e)
{
    return e ? e->n : 0;
}
MLM_API const int32_t *mlm_encoding_ids(const mlm_encoding *e)
{
    return e ? e->ids : NULL;
}
MLM_API const int32_t *mlm_encoding_type_ids(const mlm_encoding *e)
{
    return e ? e->type_ids : NULL;
}
MLM_API const int32_t *mlm_encoding_attention_mask(const mlm_encoding *e)
{
    return e ? e->attn : NULL;
}
MLM_API const int32_t *mlm_encoding_special_tokens_mask(const mlm_encoding *e)
{
    return e ? e->special : NULL;
}
MLM_API const int32_t *mlm_encoding_word_ids(const mlm_encoding *e)
{
    return e ? e->words : NULL;
}
MLM_API const int32_t *mlm_encoding_sequence_ids(const mlm_encoding *e)
{
    return e ? e->seq : NULL;
}
MLM_API const char *mlm_encoding_token(const mlm_encoding *e, size_t i)
{
    if (!e || i >= e->n) return NULL;
    return enc_token(e, i);
}

MLM_API size_t mlm_encoding_token_length(const mlm_encoding *e, size_t i)
{
    if (!e || i >= e->n) return 0;
    return enc_token_len(e, i);
}
MLM_API mlm_status mlm_encoding_offsets(const mlm_encoding *e, size_t i, mlm_offset_unit unit,
                                        size_t *start, size_t *end)
{
    if (!e || !start || !end) return err_set(MLM_ERR_INVALID_ARGUMENT, "encoding offsets: NULL");
    if (i >= e->n)
        return err_set(MLM_ERR_RANGE, "encoding offsets: index %zu out of %zu tokens", i, e->n);
    if (unit == MLM_OFFSETS_BYTES) {
        *start = e->bs[i];
        *end = e->be[i];
    } else if (unit == MLM_OFFSETS_CODEPOINTS) {
        *start = e->cs[i];
        *end = e->ce[i];
    } else {
        return err_set(MLM_ERR_INVALID_ARGUMENT, "encoding offsets: unknown unit %d", (int)unit);
    }
    return MLM_OK;
}
MLM_API size_t mlm_encoding_n_overflowing(const mlm_encoding *e)
{
    return e ? e->novf : 0;
}
MLM_API const mlm_encoding *mlm_encoding_overflowing(const mlm_encoding *e, size_t i)
{
    if (!e || i >= e->novf) return NULL;
    return e->ovf[i];
}
