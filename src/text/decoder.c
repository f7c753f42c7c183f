/* Decoders; see decoder.h. */
#include "text/decoder.h"

#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "text/json_fields.h"
#include "text/normalizer.h"
#include "text/regex.h"
#include "text/unicode.h"

typedef enum dec_kind {
    DEC_WORDPIECE,
    DEC_BYTELEVEL,
    DEC_METASPACE,
    DEC_BPE,
    DEC_REPLACE,
    DEC_BYTEFALLBACK,
    DEC_FUSE,
    DEC_STRIP,
    DEC_CTC,
    DEC_SEQUENCE
} dec_kind;

struct decoder {
    dec_kind kind;
    char *prefix; /* WordPiece prefix, BPE suffix */
    int cleanup;
    int32_t repl; /* Metaspace replacement */
    int prepend_never;
    char *literal; /* Replace */
    size_t literal_len;
    regex *re;
    char *content;
    int32_t strip_char; /* Strip */
    int64_t start, stop;
    char *pad_token, *delimiter; /* CTC */
    decoder **kids;
    size_t nkids;
};

int strlist_push(strlist *l, const char *s, size_t len)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 32;
        char **a = mem_realloc(l->s, nc * sizeof *a);
        if (!a) return -1;
        l->s = a;
        size_t *b = mem_realloc(l->len, nc * sizeof *b);
        if (!b) return -1;
        l->len = b;
        l->cap = nc;
    }
    char *c = mem_strndup(s, len);
    if (!c) return -1;
    l->s[l->n] = c;
    l->len[l->n] = len;
    l->n++;
    return 0;
}

void strlist_free(strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        mem_free(l->s[i]);
    mem_free(l->s);
    mem_free(l->len);
    memset(l, 0, sizeof *l);
}

void decoder_free(decoder *d)
{
    if (!d) return;
    mem_free(d->prefix);
    mem_free(d->literal);
    regex_free(d->re);
    mem_free(d->content);
    mem_free(d->pad_token);
    mem_free(d->delimiter);
    for (size_t i = 0; i < d->nkids; i++)
        decoder_free(d->kids[i]);
    mem_free(d->kids);
    mem_free(d);
}

static mlm_status one_char(const cJSON *j, const char *key, const char *path, const char *def,
                           int32_t *out)
{
    const char *s;
    mlm_status st = jf_str(j, key, path, def, &s);
    if (st) return st;
    size_t len = strlen(s);
    if (!len || utf8_count(s, len) != 1)
        return err_set(MLM_ERR_FORMAT, "%s.%s: expected one character", path, key);
    utf8_next(s, len, out);
    return MLM_OK;
}

static mlm_status parse_child(const cJSON *item, const char *path, void *slot);

mlm_status decoder_parse(const cJSON *j, const char *path, decoder **out)
{
    *out = NULL;
    if (!cJSON_IsObject(j)) return err_set(MLM_ERR_FORMAT, "%s: expected an object", path);
    const char *type = jf_type(j);
    if (!type) return err_set(MLM_ERR_FORMAT, "%s.type: missing", path);
    decoder *d = mem_calloc(1, sizeof *d);
    if (!d) return err_oom();
    mlm_status st = MLM_OK;
    const char *s;
    if (!strcmp(type, "WordPiece")) {
        d->kind = DEC_WORDPIECE;
        if ((st = jf_str(j, "prefix", path, "##", &s)) ||
            (st = jf_bool(j, "cleanup", path, 1, &d->cleanup)))
            goto fail;
        if (!(d->prefix = mem_strdup(s))) goto oom;
    } else if (!strcmp(type, "ByteLevel")) {
        d->kind = DEC_BYTELEVEL;
    } else if (!strcmp(type, "Metaspace")) {
        d->kind = DEC_METASPACE;
        const char *scheme;
        int aps;
        if ((st = one_char(j, "replacement", path, "\xe2\x96\x81", &d->repl)) ||
            (st = jf_str(j, "prepend_scheme", path, NULL, &scheme)) ||
            (st = jf_bool(j, "add_prefix_space", path, 1, &aps)))
            goto fail;
        if (scheme) {
            if (strcmp(scheme, "always") && strcmp(scheme, "first") && strcmp(scheme, "never")) {
                st = err_set(MLM_ERR_FORMAT, "%s.prepend_scheme: unknown scheme '%s'", path,
                             scheme);
                goto fail;
            }
            d->prepend_never = !strcmp(scheme, "never");
        } else {
            d->prepend_never = !aps;
        }
    } else if (!strcmp(type, "BPEDecoder")) {
        d->kind = DEC_BPE;
        if ((st = jf_str(j, "suffix", path, "</w>", &s))) goto fail;
        if (!(d->prefix = mem_strdup(s))) goto oom;
    } else if (!strcmp(type, "Replace")) {
        d->kind = DEC_REPLACE;
        if ((st = jf_str(j, "content", path, NULL, &s))) goto fail;
        if (!s) {
            st = err_set(MLM_ERR_FORMAT, "%s.content: missing", path);
            goto fail;
        }
        if (!(d->content = mem_strdup(s))) goto oom;
        if ((st = parse_pattern(cJSON_GetObjectItemCaseSensitive(j, "pattern"), path, &d->literal,
                                &d->literal_len, &d->re)))
            goto fail;
    } else if (!strcmp(type, "ByteFallback")) {
        d->kind = DEC_BYTEFALLBACK;
    } else if (!strcmp(type, "Fuse")) {
        d->kind = DEC_FUSE;
    } else if (!strcmp(type, "Strip")) {
        d->kind = DEC_STRIP;
        if ((st = one_char(j, "content", path, " ", &d->strip_char)) ||
            (st = jf_int(j, "start", path, 0, 0, 1 << 20, &d->start)) ||
            (st = jf_int(j, "stop", path, 0, 0, 1 << 20, &d->stop)))
            goto fail;
    } else if (!strcmp(type, "CTC")) {
        d->kind = DEC_CTC;
        const char *pad, *delim;
        if ((st = jf_str(j, "pad_token", path, "<pad>", &pad)) ||
            (st = jf_str(j, "word_delimiter_token", path, "|", &delim)) ||
            (st = jf_bool(j, "cleanup", path, 1, &d->cleanup)))
            goto fail;
        if (!(d->pad_token = mem_strdup(pad)) || !(d->delimiter = mem_strdup(delim))) goto oom;
    } else if (!strcmp(type, "Sequence")) {
        d->kind = DEC_SEQUENCE;
        void *kids = NULL;
        st = jf_sequence(j, "decoders", path, sizeof *d->kids, parse_child, &kids, &d->nkids);
        d->kids = kids;
        if (st) goto fail;
    } else {
        st = err_set(MLM_ERR_UNSUPPORTED, "%s.type: unknown decoder '%s'", path, type);
        goto fail;
    }
    *out = d;
    return MLM_OK;
oom:
    st = err_oom();
fail:
    decoder_free(d);
    return st;
}

/* A Sequence's child, for jf_sequence. */
static mlm_status parse_child(const cJSON *item, const char *path, void *slot)
{
    return decoder_parse(item, path, slot);
}

/* ------------------------------------------------------------ helpers */

/* Replace every occurrence of pat by rep in s (malloc'ed result). */
static char *replace_all(const char *s, size_t len, const char *pat, size_t plen, const char *rep,
                         size_t rlen, size_t *outlen)
{
    size_t cnt = 0;
    if (plen)
        for (const char *p = s; (p = memmem(p, len - (size_t)(p - s), pat, plen)); p += plen)
            cnt++;
    size_t n = len + cnt * rlen - cnt * plen;
    char *o = mem_alloc(n + 1);
    if (!o) return NULL;
    size_t w = 0, i = 0;
    while (i < len) {
        if (plen && i + plen <= len && !memcmp(s + i, pat, plen)) {
            memcpy(o + w, rep, rlen);
            w += rlen;
            i += plen;
        } else {
            o[w++] = s[i++];
        }
    }
    o[w] = '\0';
    *outlen = w;
    return o;
}

static int set_tok(strlist *l, size_t i, char *s, size_t len)
{
    if (!s) return -1;
    mem_free(l->s[i]);
    l->s[i] = s;
    l->len[i] = len;
    return 0;
}

static int apply_replace(strlist *l, size_t i, const char *pat, const char *rep)
{
    size_t n;
    char *r = replace_all(l->s[i], l->len[i], pat, strlen(pat), rep, strlen(rep), &n);
    return set_tok(l, i, r, n);
}

/* HF's WordPiece cleanup (per token). */
static int wp_cleanup(strlist *l, size_t i)
{
    static const char *const pairs[][2] = {
        {" .", "."},      {" ?", "?"},     {" !", "!"},       {" ,", ","},
        {" ' ", "'"},     {" n't", "n't"}, {" 'm", "'m"},     {" do not", " don't"},
        {" 's", "'s"},    {" 've", "'ve"}, {" 're", "'re"},
    };
    for (size_t k = 0; k < sizeof pairs / sizeof *pairs; k++)
        if (memmem(l->s[i], l->len[i], pairs[k][0], strlen(pairs[k][0])) &&
            apply_replace(l, i, pairs[k][0], pairs[k][1]))
            return -1;
    return 0;
}

size_t clean_up_tokenization(char *s, size_t len)
{
    static const char *const pairs[][2] = {
        {" .", "."},   {" ?", "?"},     {" !", "!"},   {" ,", ","},   {" ' ", "'"},
        {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
    };
    for (size_t k = 0; k < sizeof pairs / sizeof *pairs; k++) {
        const char *p = pairs[k][0], *r = pairs[k][1];
        size_t pl = strlen(p), rl = strlen(r), w = 0, i = 0;
        /* Replacements never lengthen: rewrite in place. */
        while (i < len) {
            if (i + pl <= len && !memcmp(s + i, p, pl)) {
                memcpy(s + w, r, rl);
                w += rl;
                i += pl;
            } else {
                s[w++] = s[i++];
            }
        }
        len = w;
    }
    s[len] = '\0';
    return len;
}

/* Rust's String::from_utf8_lossy: each maximal invalid subpart -> U+FFFD. */
static char *utf8_lossy(const unsigned char *b, size_t n, size_t *outlen)
{
    char *o = mem_alloc(n * 3 + 1);
    if (!o) return NULL;
    size_t w = 0, i = 0;
    while (i < n) {
        unsigned char c = b[i];
        if (c < 0x80) {
            o[w++] = (char)c;
            i++;
            continue;
        }
        size_t need;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) need = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else {
            memcpy(o + w, "\xEF\xBF\xBD", 3);
            w += 3;
            i++;
            continue;
        }
        size_t k = 1;
        while (k <= need && i + k < n) {
            unsigned char d = b[i + k];
            if (k == 1 ? (d < lo || d > hi) : (d & 0xC0) != 0x80) break;
            k++;
        }
        if (k == need + 1) {
            memcpy(o + w, b + i, k);
            w += k;
        } else {
            memcpy(o + w, "\xEF\xBF\xBD", 3);
            w += 3;
        }
        i += k;
    }
    o[w] = '\0';
    *outlen = w;
    return o;
}

static int join_all(strlist *l, char *joined, size_t n)
{
    if (!joined) return -1;
    for (size_t i = 0; i < l->n; i++)
        mem_free(l->s[i]);
    l->n = 0;
    l->s[0] = joined;
    l->len[0] = n;
    l->n = 1;
    return 0;
}

static int bytelevel_decode(strlist *l)
{
    size_t total = 0;
    for (size_t i = 0; i < l->n; i++)
        total += l->len[i];
    unsigned char *bytes = mem_alloc(total + 1);
    if (!bytes) return -1;
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++) {
        const char *s = l->s[i];
        size_t len = l->len[i], start = n, p = 0;
        int ok = 1;
        while (p < len) {
            int32_t c;
            p += utf8_next(s + p, len - p, &c);
            int b = bytelevel_byte(c);
            if (b < 0) {
                ok = 0;
                break;
            }
            bytes[n++] = (unsigned char)b;
        }
        if (!ok) { /* a token with other chars is kept as its bytes */
            n = start;
            memcpy(bytes + n, s, len);
            n += len;
        }
    }
    if (l->n == 0) {
        mem_free(bytes);
        return strlist_push(l, "", 0);
    }
    size_t olen;
    char *o = utf8_lossy(bytes, n, &olen);
    mem_free(bytes);
    return join_all(l, o, olen);
}

static int parse_byte_token(const char *s, size_t len)
{
    /* "<0xAB>" */
    if (len != 6 || s[0] != '<' || s[1] != '0' || s[2] != 'x' || s[5] != '>') return -1;
    int v = 0;
    for (int k = 3; k < 5; k++) {
        char c = s[k];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

static int bytefallback_decode(strlist *l)
{
    strlist out = {0};
    unsigned char *pend = mem_alloc(l->n + 1);
    size_t np = 0;
    int rc = pend ? 0 : -1;
    for (size_t i = 0; i <= l->n && !rc; i++) {
        int b = i < l->n ? parse_byte_token(l->s[i], l->len[i]) : -1;
        if (b >= 0) {
            pend[np++] = (unsigned char)b;
            continue;
        }
        if (np) {
            size_t bad;
            if (utf8_valid((const char *)pend, np, &bad)) {
                rc = strlist_push(&out, (const char *)pend, np);
            } else {
                for (size_t k = 0; k < np && !rc; k++)
                    rc = strlist_push(&out, "\xEF\xBF\xBD", 3);
            }
            np = 0;
        }
        if (i < l->n && !rc) rc = strlist_push(&out, l->s[i], l->len[i]);
    }
    mem_free(pend);
    if (rc) {
        strlist_free(&out);
        return -1;
    }
    strlist_free(l);
    *l = out;
    return 0;
}

static int fuse(strlist *l)
{
    size_t total = 0;
    for (size_t i = 0; i < l->n; i++)
        total += l->len[i];
    char *o = mem_alloc(total + 1);
    if (!o) return -1;
    size_t w = 0;
    for (size_t i = 0; i < l->n; i++) {
        memcpy(o + w, l->s[i], l->len[i]);
        w += l->len[i];
    }
    o[w] = '\0';
    if (l->n == 0) {
        mem_free(o);
        return strlist_push(l, "", 0);
    }
    return join_all(l, o, w);
}

int decoder_chain(const decoder *d, strlist *l)
{
    switch (d->kind) {
    case DEC_SEQUENCE:
        for (size_t i = 0; i < d->nkids; i++)
            if (decoder_chain(d->kids[i], l)) return -1;
        return 0;
    case DEC_BYTELEVEL: return bytelevel_decode(l);
    case DEC_BYTEFALLBACK: return bytefallback_decode(l);
    case DEC_FUSE: return fuse(l);
    case DEC_WORDPIECE: {
        size_t pl = strlen(d->prefix);
        for (size_t i = 0; i < l->n; i++) {
            if (i != 0) {
                if (pl && l->len[i] >= pl && !memcmp(l->s[i], d->prefix, pl)) {
                    memmove(l->s[i], l->s[i] + pl, l->len[i] - pl + 1);
                    l->len[i] -= pl;
                } else if (!pl) {
                    /* replacen("", "", 1) leaves the token as it is */
                } else {
                    char *n = mem_alloc(l->len[i] + 2);
                    if (!n) return -1;
                    n[0] = ' ';
                    memcpy(n + 1, l->s[i], l->len[i] + 1);
                    set_tok(l, i, n, l->len[i] + 1);
                }
            }
            if (d->cleanup && wp_cleanup(l, i)) return -1;
        }
        return 0;
    }
    case DEC_METASPACE:
        for (size_t i = 0; i < l->n; i++) {
            char *s = l->s[i], *o = mem_alloc(l->len[i] + 1);
            if (!o) return -1;
            size_t w = 0, p = 0;
            while (p < l->len[i]) {
                int32_t c;
                size_t k = utf8_next(s + p, l->len[i] - p, &c);
                if (c == d->repl) {
                    if (!(i == 0 && !d->prepend_never)) o[w++] = ' ';
                } else {
                    memcpy(o + w, s + p, k);
                    w += k;
                }
                p += k;
            }
            o[w] = '\0';
            set_tok(l, i, o, w);
        }
        return 0;
    case DEC_BPE:
        for (size_t i = 0; i < l->n; i++) {
            size_t n;
            char *r = replace_all(l->s[i], l->len[i], d->prefix, strlen(d->prefix),
                                  i + 1 == l->n ? "" : " ", i + 1 == l->n ? 0 : 1, &n);
            if (set_tok(l, i, r, n)) return -1;
        }
        return 0;
    case DEC_REPLACE: {
        ns_buf b = {0};
        int rc = 0;
        for (size_t i = 0; i < l->n && !rc; i++) {
            if (d->literal) {
                size_t n;
                char *r = replace_all(l->s[i], l->len[i], d->literal, d->literal_len, d->content,
                                      strlen(d->content), &n);
                rc = set_tok(l, i, r, n);
                continue;
            }
            if (regex_find_matches(d->re, &b, l->s[i], (uint32_t)l->len[i])) {
                rc = -1;
                break;
            }
            size_t cl = strlen(d->content), total = 0;
            for (size_t k = 0; k < b.nsp; k++)
                total += b.sp[k].flag ? cl : b.sp[k].e - b.sp[k].s;
            char *o = mem_alloc(total + 1);
            if (!o) {
                rc = -1;
                break;
            }
            size_t w = 0;
            for (size_t k = 0; k < b.nsp; k++) {
                if (b.sp[k].flag) {
                    memcpy(o + w, d->content, cl);
                    w += cl;
                } else {
                    memcpy(o + w, l->s[i] + b.sp[k].s, b.sp[k].e - b.sp[k].s);
                    w += b.sp[k].e - b.sp[k].s;
                }
            }
            o[w] = '\0';
            rc = set_tok(l, i, o, w);
        }
        ns_free(&b);
        return rc;
    }
    case DEC_STRIP:
        for (size_t i = 0; i < l->n; i++) {
            char *s = l->s[i];
            size_t len = l->len[i], a = 0, e = len;
            for (int64_t k = 0; k < d->start && a < len; k++) {
                int32_t c;
                size_t m = utf8_next(s + a, len - a, &c);
                if (c != d->strip_char) break;
                a += m;
            }
            for (int64_t k = 0; k < d->stop && e > a; k++) {
                size_t q = e - 1;
                while (q > a && ((unsigned char)s[q] & 0xC0) == 0x80)
                    q--;
                int32_t c;
                utf8_next(s + q, e - q, &c);
                if (c != d->strip_char) break;
                e = q;
            }
            memmove(s, s + a, e - a);
            s[e - a] = '\0';
            l->len[i] = e - a;
        }
        return 0;
    case DEC_CTC: {
        /* Deduplicate consecutive tokens, drop pads, delimiter -> " ". */
        strlist out = {0};
        for (size_t i = 0; i < l->n; i++) {
            if (i > 0 && l->len[i] == l->len[i - 1] && !memcmp(l->s[i], l->s[i - 1], l->len[i]))
                continue;
            if (l->len[i] == strlen(d->pad_token) && !memcmp(l->s[i], d->pad_token, l->len[i]))
                continue; /* a pad (compared by length: a token may hold U+0000) */
            const char *s = l->s[i];
            size_t n = l->len[i];
            char *r = replace_all(s, n, d->delimiter, strlen(d->delimiter), " ", 1, &n);
            if (!r || strlist_push(&out, r, n)) {
                mem_free(r);
                strlist_free(&out);
                return -1;
            }
            mem_free(r);
            if (d->cleanup && wp_cleanup(&out, out.n - 1)) {
                strlist_free(&out);
                return -1;
            }
        }
        strlist_free(l);
        *l = out;
        return 0;
    }
    }
    return 0;
}
