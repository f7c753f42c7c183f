/* The Precompiled normalizer; see precompiled.h. */
#include "text/precompiled.h"

#include <string.h>
#include <utf8proc.h>

#include "core/alloc.h"
#include "core/error.h"
#include "text/unicode.h"

struct precompiled {
    uint32_t *trie;
    size_t ntrie;
    char *norm; /* the replacements blob */
    size_t nnorm;
};

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

long base64_decode(const char *in, size_t len, unsigned char *out)
{
    while (len && in[len - 1] == '=')
        len--;
    uint32_t acc = 0;
    int bits = 0;
    long n = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64val((unsigned char)in[i]);
        if (v < 0) return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    return n;
}

mlm_status precompiled_parse(const char *b64, const char *path, precompiled **out)
{
    *out = NULL;
    size_t len = strlen(b64);
    unsigned char *raw = mem_alloc(len / 4 * 3 + 4);
    if (!raw) return err_oom();
    long n = base64_decode(b64, len, raw);
    if (n < 0) {
        mem_free(raw);
        return err_set(MLM_ERR_FORMAT, "%s.precompiled_charsmap: invalid base64", path);
    }
    mlm_status st = MLM_OK;
    precompiled *p = mem_calloc(1, sizeof *p);
    if (!p) {
        mem_free(raw);
        return err_oom();
    }
    if (n < 4) {
        st = err_set(MLM_ERR_FORMAT, "%s.precompiled_charsmap: too short", path);
        goto done;
    }
    uint32_t tsize = (uint32_t)raw[0] | (uint32_t)raw[1] << 8 | (uint32_t)raw[2] << 16 |
                     (uint32_t)raw[3] << 24;
    if (tsize % 4 != 0 || tsize == 0 || (size_t)tsize > (size_t)n - 4) {
        st = err_set(MLM_ERR_FORMAT, "%s.precompiled_charsmap: bad trie size %u", path, tsize);
        goto done;
    }
    p->ntrie = tsize / 4;
    p->trie = mem_alloc(tsize);
    p->nnorm = (size_t)n - 4 - tsize;
    p->norm = mem_alloc(p->nnorm + 1);
    if (!p->trie || !p->norm) {
        st = err_oom();
        goto done;
    }
    for (size_t i = 0; i < p->ntrie; i++) {
        const unsigned char *q = raw + 4 + 4 * i;
        p->trie[i] = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
                     (uint32_t)q[3] << 24;
    }
    memcpy(p->norm, raw + 4 + tsize, p->nnorm);
    p->norm[p->nnorm] = '\0';
    size_t bad;
    if (!utf8_valid(p->norm, p->nnorm, &bad)) {
        st = err_set(MLM_ERR_FORMAT,
                     "%s.precompiled_charsmap: replacements are not UTF-8 (byte %zu)", path, bad);
        goto done;
    }
done:
    mem_free(raw);
    if (st != MLM_OK) {
        precompiled_free(p);
        return st;
    }
    *out = p;
    return MLM_OK;
}

void precompiled_free(precompiled *p)
{
    if (!p) return;
    mem_free(p->trie);
    mem_free(p->norm);
    mem_free(p);
}

/* The replacement of the shortest trie key that prefixes key, as
 * spm_precompiled's transform() picks it (results[0]); NULL if none. */
static const char *lookup(const precompiled *p, const char *key, size_t len, size_t *outlen)
{
    const uint32_t *a = p->trie;
    size_t pos = (size_t)((a[0] >> 10) << ((a[0] & (1u << 9)) >> 6));
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)key[i];
        if (c == 0) break;
        pos ^= c;
        if (pos >= p->ntrie) return NULL;
        uint32_t u = a[pos];
        if ((u & ((1u << 31) | 0xFFu)) != c) return NULL;
        pos ^= (size_t)((u >> 10) << ((u & (1u << 9)) >> 6));
        if ((u >> 8) & 1) {
            if (pos >= p->ntrie) return NULL;
            size_t idx = a[pos] & ((1u << 31) - 1);
            if (idx > p->nnorm) return NULL;
            size_t end = idx;
            while (end < p->nnorm && p->norm[end])
                end++;
            /* The slice must fall on character boundaries (Rust would panic). */
            if (idx < p->nnorm && (p->norm[idx] & 0xC0) == 0x80) return NULL;
            *outlen = end - idx;
            return p->norm + idx;
        }
    }
    return NULL;
}

/* HF's replace(): the new chars replace the old ones one for one; extra
 * new chars are insertions; fewer chars fold the removal into the last. */
static int push_replacement(ns_buf *b, size_t old_count, const char *s, size_t len)
{
    size_t start = b->tn, i = 0, new_count = 0;
    while (i < len) {
        int32_t c;
        i += utf8_next(s + i, len - i, &c);
        if (ns_tpush(b, c, 0)) return -1;
        new_count++;
    }
    if (new_count > old_count) {
        for (size_t k = b->tn - (new_count - old_count); k < b->tn; k++)
            b->tchg[k] = 1;
    } else if (new_count < old_count && b->tn > 0) {
        b->tchg[b->tn - 1] -= (int32_t)(old_count - new_count);
    }
    (void)start;
    return 0;
}

int precompiled_apply(const precompiled *p, ns_buf *b, ns_piece *pc)
{
    ns_tclear(b);
    int modified = 0;
    const char *s = ns_text(b, pc);
    size_t len = pc->len, i = 0;
    /* Copy: ns_tpush does not move the arena, but keep s stable anyway. */
    while (i < len) {
        /* One extended grapheme cluster [i, j). */
        int32_t c;
        size_t j = i + utf8_next(s + i, len - i, &c);
        utf8proc_int32_t state = 0;
        int32_t prev = c;
        size_t nchars = 1;
        while (j < len) {
            int32_t d;
            size_t k = utf8_next(s + j, len - j, &d);
            if (utf8proc_grapheme_break_stateful(prev, d, &state)) break;
            prev = d;
            j += k;
            nchars++;
        }
        size_t rlen;
        const char *r;
        if (j - i < 6 && (r = lookup(p, s + i, j - i, &rlen))) {
            modified = 1;
            if (push_replacement(b, nchars, r, rlen)) return -1;
            i = j;
            continue;
        }
        while (i < j) {
            size_t k = utf8_next(s + i, len - i, &c);
            if ((r = lookup(p, s + i, k, &rlen))) {
                modified = 1;
                if (push_replacement(b, 1, r, rlen)) return -1;
            } else if (ns_tpush(b, c, 0)) {
                return -1;
            }
            i += k;
        }
    }
    if (!modified) return 0;
    return ns_transform(b, pc, 0);
}
