/* Normalized strings with alignments; see normalized.h. */
#include "core/error.h"
#include "text/normalized.h"

#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "text/unicode.h"

void ns_free(ns_buf *b)
{
    mem_free(b->text);
    mem_free(b->al);
    mem_free(b->p);
    mem_free(b->next);
    mem_free(b->tcp);
    mem_free(b->tchg);
    mem_free(b->sp);
    memset(b, 0, sizeof *b);
}

mlm_status ns_error(const ns_buf *b)
{
    if (!b->too_long)
        return err_oom();
    return err_set(MLM_ERR_RANGE,
                   "the tokenizer's normalizers would grow the text past %zu bytes "
                   "(%d x its length + 1 MiB): its Replace/Prepend rules expand without bound",
                   b->limit, NS_GROWTH_FACTOR);
}

int ns_reserve(ns_buf *b, size_t extra)
{
    if (b->len + extra <= b->cap) return 0;
    /* Normalizers that expand text (Replace, Prepend) can be chained so that
     * the text grows exponentially; refuse long before memory runs out. */
    if (b->len + extra > b->limit) {
        b->too_long = 1;
        return -1;
    }
    size_t nc = b->cap ? b->cap : 256;
    while (nc < b->len + extra)
        nc *= 2;
    char *t = mem_realloc(b->text, nc);
    if (!t) return -1;
    b->text = t;
    ns_align *a = mem_realloc(b->al, nc * sizeof *a);
    if (!a) return -1;
    b->al = a;
    b->cap = nc;
    return 0;
}

static int push_piece(ns_piece **arr, size_t *n, size_t *cap, const ns_piece *p)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 32;
        ns_piece *a = mem_realloc(*arr, nc * sizeof *a);
        if (!a) return -1;
        *arr = a;
        *cap = nc;
    }
    (*arr)[(*n)++] = *p;
    return 0;
}

int ns_start(ns_buf *b, const char *text, size_t len)
{
    b->len = 0;
    b->n = 0;
    b->too_long = 0;
    b->limit = len > (SIZE_MAX - NS_GROWTH_FLOOR) / NS_GROWTH_FACTOR
                   ? SIZE_MAX
                   : len * NS_GROWTH_FACTOR + NS_GROWTH_FLOOR;
    if (ns_reserve(b, len)) return -1;
    if (len) memcpy(b->text, text, len);
    size_t i = 0;
    while (i < len) {
        size_t k = utf8_len_of((unsigned char)text[i]);
        if (i + k > len) k = len - i;
        for (size_t j = 0; j < k; j++) {
            b->al[i + j].s = (uint32_t)i;
            b->al[i + j].e = (uint32_t)(i + k);
        }
        i += k;
    }
    b->len = len;
    ns_piece p = {0, (uint32_t)len, 0, (uint32_t)len, -1};
    return push_piece(&b->p, &b->n, &b->pcap, &p);
}

int ns_tpush(ns_buf *b, int32_t cp, int32_t change)
{
    if (b->tn == b->tcap) {
        size_t nc = b->tcap ? b->tcap * 2 : 256;
        int32_t *c = mem_realloc(b->tcp, nc * sizeof *c);
        if (!c) return -1;
        b->tcp = c;
        int32_t *g = mem_realloc(b->tchg, nc * sizeof *g);
        if (!g) return -1;
        b->tchg = g;
        b->tcap = nc;
    }
    b->tcp[b->tn] = cp;
    b->tchg[b->tn] = change;
    b->tn++;
    return 0;
}

int ns_transform(ns_buf *b, ns_piece *pc, size_t initial_offset)
{
    size_t out = 0;
    for (size_t i = 0; i < b->tn; i++) {
        int32_t c = b->tcp[i];
        out += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    }
    if (out > UINT32_MAX || ns_reserve(b, out)) return -1;
    const char *src = b->text + pc->off; /* valid after reserve */
    const ns_align *sal = b->al + pc->off;
    size_t slen = pc->len, pos = 0;
    for (size_t k = 0; k < initial_offset && pos < slen; k++)
        pos += utf8_len_of((unsigned char)src[pos]);
    size_t dst = b->len;
    ns_align zero = {pc->orig_s, pc->orig_s};
    for (size_t i = 0; i < b->tn; i++) {
        int32_t chg = b->tchg[i];
        ns_align a;
        if (chg > 0)
            a = pos < 1 ? zero : sal[(pos - 1 < slen ? pos - 1 : slen - 1)];
        else
            a = slen == 0 ? zero : sal[pos < slen ? pos : slen - 1];
        if (chg <= 0 && pos < slen) pos += utf8_len_of((unsigned char)src[pos]);
        for (int32_t r = chg; r < 0 && pos < slen; r++)
            pos += utf8_len_of((unsigned char)src[pos]);
        size_t k = utf8_put(b->tcp[i], b->text + dst);
        for (size_t j = 0; j < k; j++)
            b->al[dst + j] = a;
        dst += k;
    }
    pc->off = b->len;
    pc->len = (uint32_t)out;
    b->len = dst;
    return 0;
}

int ns_keep(ns_buf *b, const ns_piece *pc)
{
    return push_piece(&b->next, &b->nnext, &b->ncap, pc);
}

void ns_orig_span(const ns_buf *b, const ns_piece *pc, uint32_t s, uint32_t e, uint32_t *os,
                  uint32_t *oe)
{
    if (s >= e) { /* convert_offsets returns an empty target unchanged */
        *os = pc->orig_s + s;
        *oe = pc->orig_s + e;
        return;
    }
    *os = b->al[pc->off + s].s;
    *oe = b->al[pc->off + e - 1].e;
}

int ns_emit(ns_buf *b, const ns_piece *parent, uint32_t s, uint32_t e)
{
    if (e <= s) return 0;
    ns_piece p = {parent->off + s, e - s, 0, 0, -1};
    ns_orig_span(b, parent, s, e, &p.orig_s, &p.orig_e);
    return push_piece(&b->next, &b->nnext, &b->ncap, &p);
}

void ns_split_end(ns_buf *b)
{
    ns_piece *t = b->p;
    size_t tc = b->pcap;
    b->p = b->next;
    b->n = b->nnext;
    b->pcap = b->ncap;
    b->next = t;
    b->ncap = tc;
    b->nnext = 0;
}

int ns_span_push(ns_buf *b, uint32_t s, uint32_t e, int flag)
{
    if (b->nsp == b->spcap) {
        size_t nc = b->spcap ? b->spcap * 2 : 64;
        ns_span *a = mem_realloc(b->sp, nc * sizeof *a);
        if (!a) return -1;
        b->sp = a;
        b->spcap = nc;
    }
    b->sp[b->nsp].s = s;
    b->sp[b->nsp].e = e;
    b->sp[b->nsp].flag = (uint8_t)flag;
    b->nsp++;
    return 0;
}

int ns_match_pred(ns_buf *b, const char *s, uint32_t len, int (*pred)(int32_t, const void *),
                  const void *ctx)
{
    b->nsp = 0;
    if (len == 0) return ns_span_push(b, 0, 0, 0);
    uint32_t last = 0, i = 0;
    while (i < len) {
        int32_t c;
        uint32_t k = (uint32_t)utf8_next(s + i, len - i, &c);
        if (pred(c, ctx)) {
            if (last < i && ns_span_push(b, last, i, 0)) return -1;
            if (ns_span_push(b, i, i + k, 1)) return -1;
            last = i + k;
        }
        i += k;
    }
    if (last < len && ns_span_push(b, last, len, 0)) return -1;
    return 0;
}

int ns_match_literal(ns_buf *b, const char *s, uint32_t len, const char *pat, size_t plen)
{
    b->nsp = 0;
    if (len == 0) return ns_span_push(b, 0, 0, 0);
    uint32_t prev = 0;
    if (plen > 0) {
        uint32_t i = 0;
        while (i + plen <= len) {
            const char *hit = memmem(s + i, len - i, pat, plen);
            if (!hit) break;
            uint32_t st = (uint32_t)(hit - s);
            if (prev != st && ns_span_push(b, prev, st, 0)) return -1;
            if (ns_span_push(b, st, st + (uint32_t)plen, 1)) return -1;
            prev = i = st + (uint32_t)plen;
        }
    }
    if (prev != len && ns_span_push(b, prev, len, 0)) return -1;
    return 0;
}

void ns_match_invert(ns_buf *b)
{
    for (size_t i = 0; i < b->nsp; i++)
        b->sp[i].flag = !b->sp[i].flag;
}

int ns_split_matches(ns_buf *b, const ns_piece *parent, split_behavior behavior)
{
    ns_span *m = b->sp;
    size_t n = b->nsp, k = 0;
    int prev = 0;
    switch (behavior) {
    case SPLIT_REMOVED:
        k = n;
        break;
    case SPLIT_ISOLATED:
        for (size_t i = 0; i < n; i++)
            m[i].flag = 0;
        k = n;
        break;
    case SPLIT_CONTIGUOUS:
        for (size_t i = 0; i < n; i++) {
            int is = m[i].flag;
            if (is == prev && k > 0) m[k - 1].e = m[i].e;
            else m[k++] = (ns_span){m[i].s, m[i].e, 0};
            prev = is;
        }
        break;
    case SPLIT_MERGED_WITH_PREVIOUS:
        for (size_t i = 0; i < n; i++) {
            int is = m[i].flag;
            if (is && !prev && k > 0) m[k - 1].e = m[i].e;
            else m[k++] = (ns_span){m[i].s, m[i].e, 0};
            prev = is;
        }
        break;
    case SPLIT_MERGED_WITH_NEXT: {
        /* Fold from the end, then the result is reversed: build it at the
         * back of the array instead. */
        size_t w = n;
        for (size_t i = n; i-- > 0;) {
            int is = m[i].flag;
            if (is && !prev && w < n) m[w].s = m[i].s;
            else m[--w] = (ns_span){m[i].s, m[i].e, 0};
            prev = is;
        }
        memmove(m, m + w, (n - w) * sizeof *m);
        k = n - w;
        break;
    }
    }
    for (size_t i = 0; i < k; i++)
        if (!m[i].flag && ns_emit(b, parent, m[i].s, m[i].e)) return -1;
    return 0;
}
