/* Normalizers; see normalizer.h. */
#include "text/normalizer.h"

#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "text/json_fields.h"
#include "text/precompiled.h"
#include "text/regex.h"
#include "text/unicode.h"

typedef enum norm_kind {
    NORM_BERT,
    NORM_NFC,
    NORM_NFD,
    NORM_NFKC,
    NORM_NFKD,
    NORM_LOWERCASE,
    NORM_STRIP_ACCENTS,
    NORM_STRIP,
    NORM_REPLACE,
    NORM_PREPEND,
    NORM_PRECOMPILED,
    NORM_BYTELEVEL,
    NORM_SEQUENCE
} norm_kind;

struct normalizer {
    norm_kind kind;
    int clean_text, chinese, strip_accents, lowercase; /* Bert */
    int left, right;                                   /* Strip */
    char *literal;                                     /* Replace: a String pattern */
    size_t literal_len;
    regex *re;       /* Replace: a Regex pattern */
    char *content;   /* Replace content, Prepend string */
    precompiled *pc; /* Precompiled (NULL: an empty charsmap, a no-op) */
    normalizer **kids;
    size_t nkids;
};

void normalizer_free(normalizer *n)
{
    if (!n) return;
    for (size_t i = 0; i < n->nkids; i++)
        normalizer_free(n->kids[i]);
    mem_free(n->kids);
    mem_free(n->literal);
    regex_free(n->re);
    mem_free(n->content);
    precompiled_free(n->pc);
    mem_free(n);
}

mlm_status parse_pattern(const cJSON *pat, const char *path, char **literal, size_t *llen,
                         regex **re)
{
    *literal = NULL;
    *re = NULL;
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(pat, "String");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(pat, "Regex");
    if (cJSON_IsString(s)) {
        *llen = strlen(s->valuestring);
        *literal = mem_strdup(s->valuestring);
        return *literal ? MLM_OK : err_oom();
    }
    if (cJSON_IsString(r)) {
        mlm_status st = regex_compile(r->valuestring, strlen(r->valuestring), re);
        if (st != MLM_OK) return err_prefix(st, "%s.pattern.Regex: ", path);
        return MLM_OK;
    }
    return err_set(MLM_ERR_FORMAT, "%s.pattern: expected {\"String\": ...} or {\"Regex\": ...}",
                   path);
}

static mlm_status parse_child(const cJSON *item, const char *path, void *slot);

mlm_status normalizer_parse(const cJSON *j, const char *path, normalizer **out)
{
    *out = NULL;
    if (!cJSON_IsObject(j)) return err_set(MLM_ERR_FORMAT, "%s: expected an object", path);
    const char *type = jf_type(j);
    if (!type) return err_set(MLM_ERR_FORMAT, "%s.type: missing", path);
    normalizer *n = mem_calloc(1, sizeof *n);
    if (!n) return err_oom();
    mlm_status st = MLM_OK;
    if (!strcmp(type, "BertNormalizer")) {
        n->kind = NORM_BERT;
        int sa = -1;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "strip_accents");
        if ((st = jf_bool(j, "clean_text", path, 1, &n->clean_text)) ||
            (st = jf_bool(j, "handle_chinese_chars", path, 1, &n->chinese)) ||
            (st = jf_bool(j, "lowercase", path, 1, &n->lowercase)) ||
            (st = jf_bool(j, "strip_accents", path, -1, &sa)))
            goto fail;
        (void)v;
        n->strip_accents = sa < 0 ? n->lowercase : sa;
    } else if (!strcmp(type, "NFC")) n->kind = NORM_NFC;
    else if (!strcmp(type, "NFD")) n->kind = NORM_NFD;
    else if (!strcmp(type, "NFKC")) n->kind = NORM_NFKC;
    else if (!strcmp(type, "NFKD")) n->kind = NORM_NFKD;
    else if (!strcmp(type, "Lowercase")) n->kind = NORM_LOWERCASE;
    else if (!strcmp(type, "StripAccents")) n->kind = NORM_STRIP_ACCENTS;
    else if (!strcmp(type, "ByteLevel")) n->kind = NORM_BYTELEVEL;
    else if (!strcmp(type, "Strip")) {
        n->kind = NORM_STRIP;
        if ((st = jf_bool(j, "strip_left", path, 1, &n->left)) ||
            (st = jf_bool(j, "strip_right", path, 1, &n->right)))
            goto fail;
    } else if (!strcmp(type, "Replace")) {
        n->kind = NORM_REPLACE;
        const char *content;
        if ((st = jf_str(j, "content", path, NULL, &content))) goto fail;
        if (!content) {
            st = err_set(MLM_ERR_FORMAT, "%s.content: missing", path);
            goto fail;
        }
        if (!(n->content = mem_strdup(content))) goto oom;
        if ((st = parse_pattern(cJSON_GetObjectItemCaseSensitive(j, "pattern"), path, &n->literal,
                                &n->literal_len, &n->re)))
            goto fail;
    } else if (!strcmp(type, "Prepend")) {
        n->kind = NORM_PREPEND;
        const char *s;
        if ((st = jf_str(j, "prepend", path, NULL, &s))) goto fail;
        if (!s) {
            st = err_set(MLM_ERR_FORMAT, "%s.prepend: missing", path);
            goto fail;
        }
        if (!(n->content = mem_strdup(s))) goto oom;
    } else if (!strcmp(type, "Precompiled")) {
        n->kind = NORM_PRECOMPILED;
        const char *s;
        if ((st = jf_str(j, "precompiled_charsmap", path, "", &s))) goto fail;
        if (*s && (st = precompiled_parse(s, path, &n->pc))) goto fail;
    } else if (!strcmp(type, "Sequence")) {
        n->kind = NORM_SEQUENCE;
        void *kids = NULL;
        st = jf_sequence(j, "normalizers", path, sizeof *n->kids, parse_child, &kids, &n->nkids);
        n->kids = kids;
        if (st) goto fail;
    } else {
        st = err_set(MLM_ERR_UNSUPPORTED, "%s.type: unknown normalizer '%s'", path, type);
        goto fail;
    }
    *out = n;
    return MLM_OK;
oom:
    st = err_oom();
fail:
    normalizer_free(n);
    return st;
}

/* A Sequence's child, for jf_sequence. */
static mlm_status parse_child(const cJSON *item, const char *path, void *slot)
{
    return normalizer_parse(item, path, slot);
}

/* ------------------------------------------------------------ primitives */

static int all_ascii(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80) return 0;
    return 1;
}

int ns_lowercase(ns_buf *b, ns_piece *pc)
{
    char *s = b->text + pc->off;
    size_t len = pc->len, i = 0;
    /* In place while every lowercase has the byte length of its source. */
    while (i < len) {
        unsigned char c0 = (unsigned char)s[i];
        if (c0 < 0x80) {
            if (c0 >= 'A' && c0 <= 'Z') s[i] = (char)(c0 + 32);
            i++;
            continue;
        }
        int32_t c, lo[3];
        size_t k = utf8_next(s + i, len - i, &c);
        int n = uc_lower(c, lo);
        if (n != 1 || utf8_put(lo[0], (char[4]){0}) != k) break;
        utf8_put(lo[0], s + i);
        i += k;
    }
    if (i >= len) return 0;
    ns_tclear(b);
    i = 0;
    while (i < len) {
        int32_t c, lo[3];
        i += utf8_next(s + i, len - i, &c);
        int n = uc_lower(c, lo);
        for (int k = 0; k < n; k++)
            if (ns_tpush(b, lo[k], k > 0)) return -1;
    }
    return ns_transform(b, pc, 0);
}

/* Canonical ordering of the pending transformation: each run of marks
 * (nonzero combining class) sorted stably by class, every char keeping its
 * change, as unicode-normalization-alignments' Decompositions sorts its
 * (class, char, change) buffer. Returns whether anything moved. */
static int canonical_order(ns_buf *b)
{
    int moved = 0;
    for (size_t i = 1; i < b->tn; i++) {
        int cc = uc_ccc(b->tcp[i]);
        if (!cc) continue;
        int32_t c = b->tcp[i], chg = b->tchg[i];
        size_t j = i;
        for (; j > 0; j--) {
            int prev = uc_ccc(b->tcp[j - 1]);
            if (!prev || prev <= cc) break;
            b->tcp[j] = b->tcp[j - 1];
            b->tchg[j] = b->tchg[j - 1];
        }
        if (j != i) {
            b->tcp[j] = c;
            b->tchg[j] = chg;
            moved = 1;
        }
    }
    return moved;
}

/* The NFD (NFKD) of a piece's text as the pending transformation: each
 * char's decomposition (the first char replacing it, the others inserted
 * after it), canonically ordered. Returns 1 when that differs from the
 * text, 0 when not, -1 when out of memory. */
static int decompose_pending(ns_buf *b, const char *s, size_t len, int compat)
{
    ns_tclear(b);
    int changed = 0;
    for (size_t i = 0; i < len;) {
        int32_t c, d[32];
        i += utf8_next(s + i, len - i, &c);
        int n = c < 0xC0 && !compat ? -1 : uc_decompose(c, compat, d, 32);
        if (n <= 0) {
            d[0] = c;
            n = 1;
        }
        if (n != 1 || d[0] != c) changed = 1;
        for (int j = 0; j < n; j++)
            if (ns_tpush(b, d[j], j > 0)) return -1;
    }
    return canonical_order(b) || changed;
}

static int decompose(ns_buf *b, ns_piece *pc, int compat)
{
    const char *s = ns_text(b, pc);
    if (all_ascii(s, pc->len)) return 0;
    int rc = decompose_pending(b, s, pc->len, compat);
    return rc <= 0 ? rc : ns_transform(b, pc, 0);
}

/* Canonical composition of the pending (decomposed, ordered) chars, with
 * the changes unicode-normalization-alignments' Recompositions gives: a
 * starter that absorbs a char takes change (its own + the char's - 1), so
 * the composite replaces both source chars; a mark that does not compose
 * waits in `held` until the next starter, which is emitted after it. The
 * result replaces the pending list. Returns 1 when anything composed, 0
 * when not, -1 when out of memory. */
static int recompose_pending(ns_buf *b)
{
    size_t n = b->tn, w = 0, nheld = 0;
    int32_t *held = mem_alloc((n ? n : 1) * 2 * sizeof *held);
    if (!held) return -1;
    int32_t *out_cp = b->tcp, *out_chg = b->tchg; /* written behind the reader */
    int32_t k_cp = 0, k_chg = 0;
    int have_k = 0, last_ccc = -1, composed = 0;
    for (size_t r = 0; r < n; r++) {
        int32_t ch = b->tcp[r], chg = b->tchg[r];
        int cc = uc_ccc(ch);
        if (!have_k) {
            if (cc != 0) {
                out_cp[w] = ch;
                out_chg[w++] = chg;
            } else {
                k_cp = ch;
                k_chg = chg;
                have_k = 1;
            }
            continue;
        }
        int blocked = last_ccc >= 0 && last_ccc >= cc;
        int32_t comp = blocked ? -1 : uc_compose(k_cp, ch);
        if (comp >= 0) {
            k_cp = comp;
            k_chg = k_chg + chg - 1;
            composed = 1;
            continue;
        }
        if (cc == 0) { /* a new starter: emit the composee and what waited */
            out_cp[w] = k_cp;
            out_chg[w++] = k_chg;
            for (size_t h = 0; h < nheld; h++) {
                out_cp[w] = held[2 * h];
                out_chg[w++] = held[2 * h + 1];
            }
            nheld = 0;
            k_cp = ch;
            k_chg = chg;
            last_ccc = -1;
            continue;
        }
        held[2 * nheld] = ch;
        held[2 * nheld++ + 1] = chg;
        last_ccc = cc;
    }
    if (have_k) {
        out_cp[w] = k_cp;
        out_chg[w++] = k_chg;
    }
    for (size_t h = 0; h < nheld; h++) {
        out_cp[w] = held[2 * h];
        out_chg[w++] = held[2 * h + 1];
    }
    b->tn = w;
    mem_free(held);
    return composed;
}

/* NFC / NFKC: decompose, order marks, compose. */
static int compose(ns_buf *b, ns_piece *pc, int compat)
{
    const char *s = ns_text(b, pc);
    if (all_ascii(s, pc->len)) return 0;
    int dec = decompose_pending(b, s, pc->len, compat);
    if (dec < 0) return -1;
    int comp = recompose_pending(b);
    if (comp < 0) return -1;
    return dec || comp ? ns_transform(b, pc, 0) : 0;
}

/* HF's filter(keep) dropping the marks `is_mark` names (BertNormalizer's
 * strip_accents and StripAccents take different ones): kept chars keep
 * their alignment. */
static int filter_marks(ns_buf *b, ns_piece *pc, int (*is_mark)(int32_t))
{
    const char *s = ns_text(b, pc);
    size_t len = pc->len, i = 0, removed = 0, removed_start = 0;
    if (all_ascii(s, len)) return 0;
    ns_tclear(b);
    int any = 0;
    while (i < len) {
        int32_t c;
        i += utf8_next(s + i, len - i, &c);
        if (is_mark(c)) {
            removed++;
            any = 1;
            continue;
        }
        if (b->tn == 0) removed_start = removed;
        else b->tchg[b->tn - 1] -= (int32_t)removed;
        removed = 0;
        if (ns_tpush(b, c, 0)) return -1;
    }
    if (!any) return 0;
    if (b->tn) b->tchg[b->tn - 1] -= (int32_t)removed;
    return ns_transform(b, pc, removed_start);
}

static int bert_normalize(const normalizer *n, ns_buf *b, ns_piece *pc)
{
    char *s = b->text + pc->off;
    size_t len = pc->len;
    if (all_ascii(s, len)) {
        /* No accents or CJK: clean and lowercase in place unless a control
         * char must go. */
        int ok = 1;
        for (size_t i = 0; i < len && ok; i++) {
            unsigned char c = (unsigned char)s[i];
            if (n->clean_text && (c == 0 || c == 0x7F || (c < 0x20 && c != '\t' && c != '\n' && c != '\r')))
                ok = 0;
        }
        if (ok) {
            for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)s[i];
                if (n->clean_text && (c == '\t' || c == '\n' || c == '\r' || c == 0x0B || c == 0x0C))
                    s[i] = ' ';
                else if (n->lowercase && c >= 'A' && c <= 'Z')
                    s[i] = (char)(c + 32);
            }
            return 0;
        }
    }
    if (n->clean_text) {
        size_t i = 0, removed = 0, removed_start = 0;
        ns_tclear(b);
        while (i < len) {
            int32_t c;
            i += utf8_next(s + i, len - i, &c);
            if (c == 0 || c == 0xFFFD || uc_is_bert_control(c)) {
                removed++;
                continue;
            }
            if (b->tn == 0) removed_start = removed;
            else b->tchg[b->tn - 1] -= (int32_t)removed;
            removed = 0;
            if (ns_tpush(b, uc_is_whitespace(c) ? ' ' : c, 0)) return -1;
        }
        if (b->tn) b->tchg[b->tn - 1] -= (int32_t)removed;
        if (ns_transform(b, pc, removed_start)) return -1;
        s = b->text + pc->off;
        len = pc->len;
    }
    if (n->chinese) {
        int any = 0;
        for (size_t i = 0; i < len && !any;) {
            int32_t c;
            i += utf8_next(s + i, len - i, &c);
            any = uc_is_cjk(c);
        }
        if (any) {
            ns_tclear(b);
            for (size_t i = 0; i < len;) {
                int32_t c;
                i += utf8_next(s + i, len - i, &c);
                if (uc_is_cjk(c)) {
                    if (ns_tpush(b, ' ', 0) || ns_tpush(b, c, 1) || ns_tpush(b, ' ', 1)) return -1;
                } else if (ns_tpush(b, c, 0)) {
                    return -1;
                }
            }
            if (ns_transform(b, pc, 0)) return -1;
        }
    }
    if (n->strip_accents &&
        (decompose(b, pc, 0) || filter_marks(b, pc, uc_is_mark_nonspacing)))
        return -1;
    if (n->lowercase && ns_lowercase(b, pc)) return -1;
    return 0;
}

int ns_replace_matches(ns_buf *b, ns_piece *pc, const char *content, size_t clen)
{
    int any = 0;
    for (size_t i = 0; i < b->nsp; i++)
        any |= b->sp[i].flag;
    if (!any) return 0;
    /* Output size: unmatched bytes + clen per match. */
    size_t out = 0;
    for (size_t i = 0; i < b->nsp; i++)
        out += b->sp[i].flag ? clen : b->sp[i].e - b->sp[i].s;
    if (out > UINT32_MAX) {
        b->too_long = 1;
        return -1;
    }
    if (ns_reserve(b, out)) return -1;
    size_t dst = b->len;
    const char *s = b->text + pc->off;
    const ns_align *al = b->al + pc->off;
    ns_align zero = {pc->orig_s, pc->orig_s};
    for (size_t i = 0; i < b->nsp; i++) {
        ns_span m = b->sp[i];
        if (!m.flag) {
            memcpy(b->text + dst, s + m.s, m.e - m.s);
            memcpy(b->al + dst, al + m.s, (m.e - m.s) * sizeof *al);
            dst += m.e - m.s;
        } else {
            ns_align a = m.e > 0 ? al[m.e - 1] : zero;
            memcpy(b->text + dst, content, clen);
            for (size_t k = 0; k < clen; k++)
                b->al[dst + k] = a;
            dst += clen;
        }
    }
    pc->off = b->len;
    pc->len = (uint32_t)out;
    b->len = dst;
    return 0;
}

int ns_prepend(ns_buf *b, ns_piece *pc, const char *p, size_t plen)
{
    if (pc->len == 0 || plen == 0) return 0;
    const char *s = ns_text(b, pc);
    ns_tclear(b);
    size_t i = 0;
    int first = 1;
    while (i < plen) {
        int32_t c;
        i += utf8_next(p + i, plen - i, &c);
        if (ns_tpush(b, c, !first)) return -1;
        first = 0;
    }
    i = 0;
    first = 1;
    while (i < pc->len) {
        int32_t c;
        i += utf8_next(s + i, pc->len - i, &c);
        if (ns_tpush(b, c, first)) return -1;
        first = 0;
    }
    return ns_transform(b, pc, 0);
}

static int strip(const normalizer *n, ns_buf *b, ns_piece *pc)
{
    const char *s = ns_text(b, pc);
    size_t len = pc->len, lead = 0, trail = 0, count = 0;
    size_t i = 0;
    int32_t c;
    int in_lead = 1;
    while (i < len) {
        i += utf8_next(s + i, len - i, &c);
        count++;
        if (in_lead && n->left && uc_is_whitespace(c)) lead++;
        else in_lead = 0;
    }
    if (n->right) {
        size_t j = len;
        while (j > 0 && trail < count - lead) {
            size_t k = j - 1;
            while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
                k--;
            utf8_next(s + k, len - k, &c);
            if (!uc_is_whitespace(c)) break;
            trail++;
            j = k;
        }
    }
    if (!lead && !trail) return 0;
    ns_tclear(b);
    i = 0;
    for (size_t ci = 0; i < len; ci++) {
        i += utf8_next(s + i, len - i, &c);
        if (ci < lead || ci >= count - trail) continue;
        if (ns_tpush(b, c, 0)) return -1;
    }
    if (b->tn) b->tchg[b->tn - 1] -= (int32_t)trail;
    return ns_transform(b, pc, lead);
}

static int bytelevel(ns_buf *b, ns_piece *pc)
{
    const char *s = ns_text(b, pc);
    size_t len = pc->len;
    ns_tclear(b);
    for (size_t i = 0; i < len;) {
        size_t k = utf8_len_of((unsigned char)s[i]);
        if (i + k > len) k = len - i;
        for (size_t j = 0; j < k; j++)
            if (ns_tpush(b, bytelevel_char((unsigned char)s[i + j]), j > 0)) return -1;
        i += k;
    }
    return ns_transform(b, pc, 0);
}
int ns_bytelevel(ns_buf *b, ns_piece *pc)
{
    return bytelevel(b, pc);
}

int normalizer_apply(const normalizer *n, ns_buf *b, ns_piece *pc)
{
    switch (n->kind) {
    case NORM_BERT: return bert_normalize(n, b, pc);
    case NORM_NFD: return decompose(b, pc, 0);
    case NORM_NFKD: return decompose(b, pc, 1);
    case NORM_NFC: return compose(b, pc, 0);
    case NORM_NFKC: return compose(b, pc, 1);
    case NORM_LOWERCASE: return ns_lowercase(b, pc);
    case NORM_STRIP_ACCENTS: return filter_marks(b, pc, uc_is_combining_mark);
    case NORM_STRIP: return strip(n, b, pc);
    case NORM_BYTELEVEL: return bytelevel(b, pc);
    case NORM_PREPEND: return ns_prepend(b, pc, n->content, strlen(n->content));
    case NORM_PRECOMPILED: return n->pc ? precompiled_apply(n->pc, b, pc) : 0;
    case NORM_REPLACE: {
        int rc = n->re ? regex_find_matches(n->re, b, ns_text(b, pc), pc->len)
                       : ns_match_literal(b, ns_text(b, pc), pc->len, n->literal, n->literal_len);
        if (rc) return -1;
        return ns_replace_matches(b, pc, n->content, strlen(n->content));
    }
    case NORM_SEQUENCE:
        for (size_t i = 0; i < n->nkids; i++)
            if (normalizer_apply(n->kids[i], b, pc)) return -1;
        return 0;
    }
    return 0;
}
