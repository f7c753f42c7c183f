/* Pre-tokenizers; see pretokenizer.h. */
#include "text/pretokenizer.h"

#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "text/json_fields.h"
#include "text/normalizer.h"
#include "text/regex.h"
#include "text/unicode.h"

typedef enum pre_kind {
    PRE_BERT,
    PRE_BYTELEVEL,
    PRE_WHITESPACE,
    PRE_WHITESPACE_SPLIT,
    PRE_PUNCTUATION,
    PRE_DIGITS,
    PRE_METASPACE,
    PRE_SPLIT,
    PRE_CHAR_DELIMITER,
    PRE_SEQUENCE
} pre_kind;

enum { PREPEND_ALWAYS, PREPEND_FIRST, PREPEND_NEVER };

struct pretokenizer {
    pre_kind kind;
    int add_prefix_space, use_regex; /* ByteLevel */
    split_behavior behavior;         /* Punctuation, Split */
    int individual_digits;           /* Digits */
    char repl[8];                    /* Metaspace replacement (UTF-8) */
    size_t repl_len;
    int prepend_scheme, split;
    char *literal; /* Split with a String pattern */
    size_t literal_len;
    regex *re; /* Split with a Regex pattern */
    int invert;
    int32_t delimiter; /* CharDelimiterSplit */
    pretokenizer **kids;
    size_t nkids;
};

void pretokenizer_free(pretokenizer *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->nkids; i++)
        pretokenizer_free(p->kids[i]);
    mem_free(p->kids);
    mem_free(p->literal);
    regex_free(p->re);
    mem_free(p);
}

static mlm_status parse_behavior(const cJSON *j, const char *path, split_behavior def,
                                 split_behavior *out)
{
    const char *s;
    mlm_status st = jf_str(j, "behavior", path, NULL, &s);
    if (st) return st;
    if (!s) *out = def;
    else if (!strcmp(s, "Removed")) *out = SPLIT_REMOVED;
    else if (!strcmp(s, "Isolated")) *out = SPLIT_ISOLATED;
    else if (!strcmp(s, "MergedWithPrevious")) *out = SPLIT_MERGED_WITH_PREVIOUS;
    else if (!strcmp(s, "MergedWithNext")) *out = SPLIT_MERGED_WITH_NEXT;
    else if (!strcmp(s, "Contiguous")) *out = SPLIT_CONTIGUOUS;
    else return err_set(MLM_ERR_FORMAT, "%s.behavior: unknown behavior '%s'", path, s);
    return MLM_OK;
}

static mlm_status parse_child(const cJSON *item, const char *path, void *slot);

mlm_status pretokenizer_parse(const cJSON *j, const char *path, pretokenizer **out)
{
    *out = NULL;
    if (!cJSON_IsObject(j)) return err_set(MLM_ERR_FORMAT, "%s: expected an object", path);
    const char *type = jf_type(j);
    if (!type) return err_set(MLM_ERR_FORMAT, "%s.type: missing", path);
    pretokenizer *p = mem_calloc(1, sizeof *p);
    if (!p) return err_oom();
    mlm_status st = MLM_OK;
    if (!strcmp(type, "BertPreTokenizer")) p->kind = PRE_BERT;
    else if (!strcmp(type, "WhitespaceSplit")) p->kind = PRE_WHITESPACE_SPLIT;
    else if (!strcmp(type, "Whitespace")) p->kind = PRE_WHITESPACE;
    else if (!strcmp(type, "ByteLevel")) {
        p->kind = PRE_BYTELEVEL;
        if ((st = jf_bool(j, "add_prefix_space", path, 1, &p->add_prefix_space)) ||
            (st = jf_bool(j, "use_regex", path, 1, &p->use_regex)))
            goto fail;
    } else if (!strcmp(type, "Punctuation")) {
        p->kind = PRE_PUNCTUATION;
        if ((st = parse_behavior(j, path, SPLIT_ISOLATED, &p->behavior))) goto fail;
    } else if (!strcmp(type, "Digits")) {
        p->kind = PRE_DIGITS;
        if ((st = jf_bool(j, "individual_digits", path, 0, &p->individual_digits))) goto fail;
    } else if (!strcmp(type, "CharDelimiterSplit")) {
        p->kind = PRE_CHAR_DELIMITER;
        const char *d;
        if ((st = jf_str(j, "delimiter", path, NULL, &d))) goto fail;
        if (!d || !*d || utf8_count(d, strlen(d)) != 1) {
            st = err_set(MLM_ERR_FORMAT, "%s.delimiter: expected one character", path);
            goto fail;
        }
        utf8_next(d, strlen(d), &p->delimiter);
    } else if (!strcmp(type, "Metaspace")) {
        p->kind = PRE_METASPACE;
        const char *r, *scheme;
        int aps = -1;
        if ((st = jf_str(j, "replacement", path, "\xe2\x96\x81", &r)) ||
            (st = jf_str(j, "prepend_scheme", path, NULL, &scheme)) ||
            (st = jf_bool(j, "add_prefix_space", path, -1, &aps)) ||
            (st = jf_bool(j, "split", path, 1, &p->split)))
            goto fail;
        size_t rl = strlen(r);
        if (!rl || rl > 4 || utf8_count(r, rl) != 1) {
            st = err_set(MLM_ERR_FORMAT, "%s.replacement: expected one character", path);
            goto fail;
        }
        memcpy(p->repl, r, rl);
        p->repl_len = rl;
        if (scheme) {
            if (!strcmp(scheme, "always")) p->prepend_scheme = PREPEND_ALWAYS;
            else if (!strcmp(scheme, "first")) p->prepend_scheme = PREPEND_FIRST;
            else if (!strcmp(scheme, "never")) p->prepend_scheme = PREPEND_NEVER;
            else {
                st = err_set(MLM_ERR_FORMAT, "%s.prepend_scheme: unknown scheme '%s'", path,
                             scheme);
                goto fail;
            }
        } else {
            p->prepend_scheme = aps == 0 ? PREPEND_NEVER : PREPEND_ALWAYS;
        }
    } else if (!strcmp(type, "Split")) {
        p->kind = PRE_SPLIT;
        if ((st = parse_behavior(j, path, SPLIT_REMOVED, &p->behavior)) ||
            (st = jf_bool(j, "invert", path, 0, &p->invert)))
            goto fail;
        if (!cJSON_GetObjectItemCaseSensitive(j, "behavior")) {
            st = err_set(MLM_ERR_FORMAT, "%s.behavior: missing", path);
            goto fail;
        }
        if ((st = parse_pattern(cJSON_GetObjectItemCaseSensitive(j, "pattern"), path, &p->literal,
                                &p->literal_len, &p->re)))
            goto fail;
    } else if (!strcmp(type, "Sequence")) {
        p->kind = PRE_SEQUENCE;
        void *kids = NULL;
        st = jf_sequence(j, "pretokenizers", path, sizeof *p->kids, parse_child, &kids, &p->nkids);
        p->kids = kids;
        if (st) goto fail;
    } else {
        st = err_set(MLM_ERR_UNSUPPORTED, "%s.type: unknown pre-tokenizer '%s'", path, type);
        goto fail;
    }
    *out = p;
    return MLM_OK;
fail:
    pretokenizer_free(p);
    return st;
}

/* A Sequence's child, for jf_sequence. */
static mlm_status parse_child(const cJSON *item, const char *path, void *slot)
{
    return pretokenizer_parse(item, path, slot);
}

/* -------------------------------------------------------------- apply */

static int pred_ws(int32_t c, const void *ctx)
{
    (void)ctx;
    return uc_is_whitespace(c);
}
static int pred_punct(int32_t c, const void *ctx)
{
    (void)ctx;
    return uc_is_bert_punct(c);
}
static int pred_digit(int32_t c, const void *ctx)
{
    (void)ctx;
    return uc_is_numeric(c);
}
static int pred_char(int32_t c, const void *ctx)
{
    return c == *(const int32_t *)ctx;
}

static int32_t char_at(const char *s, uint32_t len, uint32_t i, uint32_t *k)
{
    int32_t c = (unsigned char)s[i];
    *k = c < 0x80 ? 1 : (uint32_t)utf8_next(s + i, len - i, &c);
    return c;
}

/* Whitespace: HF matches \w+|[^\w\s]+ with the regex crate and keeps the
 * matches, i.e. the maximal runs of word chars and of other non-space chars
 * (the two classes are disjoint, so the alternation cannot matter). Done by
 * hand so that \w is the regex crate's (uc_is_word), not Oniguruma's. */
enum { RUN_SPACE, RUN_WORD, RUN_OTHER };

static int whitespace_split(ns_buf *b, const ns_piece *pc)
{
    const char *s = ns_text(b, pc);
    uint32_t len = pc->len, i = 0, start = 0;
    int run = RUN_SPACE;
    while (i < len) {
        uint32_t k;
        int32_t c = char_at(s, len, i, &k);
        int cls = uc_is_whitespace(c) ? RUN_SPACE : uc_is_word(c) ? RUN_WORD : RUN_OTHER;
        if (cls != run) {
            if (run != RUN_SPACE && ns_emit(b, pc, start, i)) return -1;
            run = cls;
            start = i;
        }
        i += k;
    }
    return run != RUN_SPACE ? ns_emit(b, pc, start, len) : 0;
}

/* The end of the run of chars from i that `cls` accepts. */
static uint32_t run_end(const char *s, uint32_t len, uint32_t i, int (*cls)(int32_t))
{
    while (i < len) {
        uint32_t k;
        if (!cls(char_at(s, len, i, &k))) break;
        i += k;
    }
    return i;
}

static int gpt2_other(int32_t c)
{
    return !uc_is_whitespace(c) && !uc_is_gpt2_letter(c) && !uc_is_gpt2_number(c);
}

/* The GPT-2 match starting at i (one always does: every char is a letter, a
 * number, whitespace or other), as Oniguruma's leftmost-first alternation
 * of GPT-2's pattern finds it:
 *   's|'t|'re|'ve|'m|'ll|'d  | ?\p{L}+ | ?\p{N}+ | ?[^\s\p{L}\p{N}]+
 *   | \s+(?!\S) | \s+
 * The optional space is U+0020 only; \s+(?!\S) gives a whitespace run but
 * its last char when a non-space follows (that char then starts the next
 * match), and a run of one char followed by a non-space falls to \s+. */
static uint32_t gpt2_match(const char *s, uint32_t len, uint32_t i)
{
    if (s[i] == '\'' && i + 1 < len) {
        char a = s[i + 1], z = i + 2 < len ? s[i + 2] : 0;
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
        if ((a == 'r' && z == 'e') || (a == 'v' && z == 'e') || (a == 'l' && z == 'l'))
            return i + 3;
    }
    uint32_t k, j = i;
    int32_t c = char_at(s, len, i, &k);
    if (c == ' ' && i + 1 < len) {
        j = i + 1;
        c = char_at(s, len, j, &k);
    }
    if (uc_is_gpt2_letter(c)) return run_end(s, len, j, uc_is_gpt2_letter);
    if (uc_is_gpt2_number(c)) return run_end(s, len, j, uc_is_gpt2_number);
    if (!uc_is_whitespace(c)) return run_end(s, len, j, gpt2_other);
    /* Whitespace from i (a space followed by whitespace lands here too). */
    uint32_t end = run_end(s, len, i, uc_is_whitespace);
    if (end == len) return end;
    uint32_t last = end - 1; /* back to the first byte of the run's last char */
    while (last > i && ((unsigned char)s[last] & 0xC0) == 0x80)
        last--;
    return last > i ? last : end;
}

static int gpt2_split(ns_buf *b, const ns_piece *pc)
{
    const char *s = ns_text(b, pc);
    uint32_t len = pc->len, i = 0;
    while (i < len) {
        uint32_t e = gpt2_match(s, len, i);
        if (ns_emit(b, pc, i, e)) return -1;
        i = e;
    }
    return 0;
}

/* BERT: whitespace removed and punctuation isolated, in one pass (the same
 * splits as HF's two successive splits). */
static int bert_split(ns_buf *b, const ns_piece *pc)
{
    const char *s = ns_text(b, pc);
    uint32_t len = pc->len, i = 0, start = 0;
    while (i < len) {
        unsigned char c0 = (unsigned char)s[i];
        int32_t c;
        uint32_t k;
        if (c0 < 0x80) {
            c = c0;
            k = 1;
        } else {
            k = (uint32_t)utf8_next(s + i, len - i, &c);
        }
        if (uc_is_whitespace(c)) {
            if (ns_emit(b, pc, start, i)) return -1;
            start = i + k;
        } else if (uc_is_bert_punct(c)) {
            if (ns_emit(b, pc, start, i) || ns_emit(b, pc, i, i + k)) return -1;
            start = i + k;
        }
        i += k;
    }
    return ns_emit(b, pc, start, len);
}

static int apply_one(const pretokenizer *p, ns_buf *b, ns_piece *pc)
{
    int rc;
    switch (p->kind) {
    case PRE_BERT: return bert_split(b, pc);
    case PRE_WHITESPACE_SPLIT:
        rc = ns_match_pred(b, ns_text(b, pc), pc->len, pred_ws, NULL);
        return rc ? rc : ns_split_matches(b, pc, SPLIT_REMOVED);
    case PRE_WHITESPACE: return whitespace_split(b, pc);
    case PRE_PUNCTUATION:
        rc = ns_match_pred(b, ns_text(b, pc), pc->len, pred_punct, NULL);
        return rc ? rc : ns_split_matches(b, pc, p->behavior);
    case PRE_DIGITS:
        rc = ns_match_pred(b, ns_text(b, pc), pc->len, pred_digit, NULL);
        return rc ? rc : ns_split_matches(b, pc, p->individual_digits ? SPLIT_ISOLATED
                                                                       : SPLIT_CONTIGUOUS);
    case PRE_CHAR_DELIMITER:
        rc = ns_match_pred(b, ns_text(b, pc), pc->len, pred_char, &p->delimiter);
        return rc ? rc : ns_split_matches(b, pc, SPLIT_REMOVED);
    case PRE_SPLIT:
        rc = p->re ? regex_find_matches(p->re, b, ns_text(b, pc), pc->len)
                   : ns_match_literal(b, ns_text(b, pc), pc->len, p->literal, p->literal_len);
        if (rc) return rc;
        if (p->invert) ns_match_invert(b);
        return ns_split_matches(b, pc, p->behavior);
    case PRE_BYTELEVEL: {
        ns_piece q = *pc;
        if (p->add_prefix_space && (q.len == 0 || ns_text(b, &q)[0] != ' ') &&
            ns_prepend(b, &q, " ", 1))
            return -1;
        return p->use_regex ? gpt2_split(b, &q) : ns_keep(b, &q);
    }
    case PRE_METASPACE: {
        ns_piece q = *pc;
        if (ns_match_pred(b, ns_text(b, &q), q.len, pred_char, &(int32_t){' '}) ||
            ns_replace_matches(b, &q, p->repl, p->repl_len))
            return -1;
        int starts = q.len >= p->repl_len && !memcmp(ns_text(b, &q), p->repl, p->repl_len);
        if (!starts && (p->prepend_scheme == PREPEND_ALWAYS ||
                        (p->prepend_scheme == PREPEND_FIRST && q.orig_s == 0)))
            if (ns_prepend(b, &q, p->repl, p->repl_len)) return -1;
        if (!p->split) return ns_keep(b, &q);
        int32_t rc32;
        utf8_next(p->repl, p->repl_len, &rc32);
        if (ns_match_pred(b, ns_text(b, &q), q.len, pred_char, &rc32)) return -1;
        return ns_split_matches(b, &q, SPLIT_MERGED_WITH_NEXT);
    }
    case PRE_SEQUENCE: break;
    }
    return 0;
}

int pretokenizer_apply(const pretokenizer *p, ns_buf *b)
{
    if (p->kind == PRE_SEQUENCE) {
        for (size_t i = 0; i < p->nkids; i++)
            if (pretokenizer_apply(p->kids[i], b)) return -1;
        return 0;
    }
    ns_split_begin(b);
    for (size_t i = 0; i < b->n; i++) {
        ns_piece *pc = &b->p[i];
        int rc = pc->added_id >= 0 ? ns_keep(b, pc) : apply_one(p, b, pc);
        if (rc) return -1;
    }
    ns_split_end(b);
    if (p->kind == PRE_BYTELEVEL) {
        for (size_t i = 0; i < b->n; i++)
            if (b->p[i].added_id < 0 && ns_bytelevel(b, &b->p[i])) return -1;
    }
    return 0;
}
