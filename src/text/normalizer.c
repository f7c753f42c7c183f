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

mlm_status normalizer_parse(const cJSON *j, const char *path, normalizer **out)
{
    *out = NULL;
    if (!cJSON_IsObject(j)) return err_set(MLM_ERR_FORMAT, "%s: expected an object", path);
    const char *type = jf_type(j);
    if (!type) return err_set(MLM_ERR_FORMAT, "%s.type: missing", path);
    normalizer *n = mem_calloc(1, sizeof *n);
    if (!n) return err_oom();
    mlm_status st = MLM_OK;
    char sub[512];
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
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "normalizers");
        if (!cJSON_IsArray(arr)) {
            st = err_set(MLM_ERR_FORMAT, "%s.normalizers: expected an array", path);
            goto fail;
        }
        int cnt = cJSON_GetArraySize(arr);
        n->kids = mem_calloc(cnt ? (size_t)cnt : 1, sizeof *n->kids);
        if (!n->kids) goto oom;
        const cJSON *it;
        cJSON_ArrayForEach(it, arr)
        {
            jf_path(sub, sizeof sub, path, ".normalizers[%zu]", n->nkids);
            if ((st = normalizer_parse(it, sub, &n->kids[n->nkids]))) goto fail;
            n->nkids++;
        }
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

/* NFD / NFKD, char by char (each char's decomposition is canonically
 * ordered; reordering across chars is not done). */
static int decompose(ns_buf *b, ns_piece *pc, int compat)
{
    const char *s = ns_text(b, pc);
    size_t len = pc->len, i = 0;
    if (all_ascii(s, len)) return 0;
    ns_tclear(b);
    int changed = 0;
    while (i < len) {
        int32_t c, d[32];
        size_t k = utf8_next(s + i, len - i, &c);
        i += k;
        int n = c < 0xC0 && !compat ? -1 : uc_decompose(c, compat, d, 32);
        if (n <= 0) {
            d[0] = c;
            n = 1;
        }
        if (n != 1 || d[0] != c) changed = 1;
        for (int j = 0; j < n; j++)
            if (ns_tpush(b, d[j], j > 0)) return -1;
    }
    if (!changed) return 0;
    return ns_transform(b, pc, 0);
}

/* NFC / NFKC: decompose, order marks, compose; a composed char is aligned
 * with its starter and absorbs the marks it took (change < 0). */
static int compose(ns_buf *b, ns_piece *pc, int compat)
{
    const char *s = ns_text(b, pc);
    size_t len = pc->len;
    if (all_ascii(s, len)) return 0;
    size_t cap = 64, n = 0;
    int32_t *cp = mem_alloc(cap * sizeof *cp);
    uint32_t *src = mem_alloc(cap * sizeof *src);
    int rc = -1;
    if (!cp || !src) goto out;
    uint32_t ci = 0;
    for (size_t i = 0; i < len; ci++) {
        int32_t c, d[32];
        i += utf8_next(s + i, len - i, &c);
        int k = uc_decompose(c, compat, d, 32);
        if (k <= 0) {
            d[0] = c;
            k = 1;
        }
        if (n + (size_t)k > cap) {
            cap = (n + (size_t)k) * 2;
            int32_t *a = mem_realloc(cp, cap * sizeof *a);
            if (!a) goto out;
            cp = a;
            uint32_t *bb = mem_realloc(src, cap * sizeof *bb);
            if (!bb) goto out;
            src = bb;
        }
        for (int j = 0; j < k; j++) {
            cp[n] = d[j];
            src[n] = ci;
            n++;
        }
    }
    uint32_t nsrc = ci;
    /* Canonical ordering: stable sort of runs of non-starters by ccc. */
    for (size_t i = 1; i < n; i++) {
        int ci2 = uc_ccc(cp[i]);
        if (!ci2) continue;
        size_t j = i;
        while (j > 0 && uc_ccc(cp[j - 1]) > ci2) {
            int32_t t = cp[j];
            cp[j] = cp[j - 1];
            cp[j - 1] = t;
            uint32_t u = src[j];
            src[j] = src[j - 1];
            src[j - 1] = u;
            j--;
        }
    }
    /* Canonical composition. */
    uint8_t *gone = mem_calloc(n ? n : 1, 1);
    if (!gone) goto out;
    for (size_t i = 0; i < n; i++) {
        if (uc_ccc(cp[i]) != 0) continue;
        size_t st = i;
        int last_ccc = -1;
        for (size_t j = i + 1; j < n; j++) {
            if (gone[j]) continue;
            int cc = uc_ccc(cp[j]);
            int blocked = last_ccc != -1 && (last_ccc == 0 || last_ccc >= cc);
            if (!blocked) {
                int32_t comp = uc_compose(cp[st], cp[j]);
                if (comp >= 0) {
                    cp[st] = comp;
                    gone[j] = 1;
                    continue;
                }
            }
            if (cc == 0) break;
            last_ccc = cc;
        }
    }
    ns_tclear(b);
    uint32_t consumed = 0;
    int32_t prev_src = -1;
    for (size_t i = 0; i < n; i++) {
        if (gone[i]) continue;
        int32_t chg = (int32_t)src[i] == prev_src ? 1 : 0;
        if (ns_tpush(b, cp[i], chg)) {
            mem_free(gone);
            goto out;
        }
        if (!chg) {
            /* Fold source chars skipped since the last one into the
             * previous entry's change (they were absorbed). */
            if (src[i] > consumed && b->tn >= 2 && b->tchg[b->tn - 2] <= 0)
                b->tchg[b->tn - 2] -= (int32_t)(src[i] - consumed);
            consumed = src[i] + 1;
        }
        prev_src = (int32_t)src[i];
    }
    if (consumed < nsrc && b->tn > 0 && b->tchg[b->tn - 1] <= 0)
        b->tchg[b->tn - 1] -= (int32_t)(nsrc - consumed);
    mem_free(gone);
    rc = ns_transform(b, pc, 0);
out:
    mem_free(cp);
    mem_free(src);
    return rc;
}

/* HF's filter(keep): kept chars keep their alignment. */
static int filter_mn(ns_buf *b, ns_piece *pc)
{
    const char *s = ns_text(b, pc);
    size_t len = pc->len, i = 0, removed = 0, removed_start = 0;
    if (all_ascii(s, len)) return 0;
    ns_tclear(b);
    int any = 0;
    while (i < len) {
        int32_t c;
        i += utf8_next(s + i, len - i, &c);
        if (uc_is_mn(c)) {
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
    if (n->strip_accents && (decompose(b, pc, 0) || filter_mn(b, pc))) return -1;
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
    case NORM_STRIP_ACCENTS: return filter_mn(b, pc);
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
