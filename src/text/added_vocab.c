/* Added tokens; see added_vocab.h. */
#include "text/added_vocab.h"

#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "text/json_fields.h"
#include "text/unicode.h"

void added_vocab_free(added_vocab *av)
{
    for (size_t i = 0; i < av->n; i++) {
        mem_free(av->t[i].content);
        mem_free(av->t[i].pattern);
    }
    mem_free(av->t);
    mem_free(av->order);
    strmap_free(&av->by_content);
    strmap_free(&av->by_id_unused);
    memset(av, 0, sizeof *av);
}

const added_token *added_vocab_find(const added_vocab *av, const char *s, size_t len)
{
    int32_t i = strmap_get(&av->by_content, s, len);
    return i >= 0 ? &av->t[i] : NULL;
}

const added_token *added_vocab_by_id(const added_vocab *av, int32_t id)
{
    /* Few added tokens: a scan; the latest entry for an id wins. */
    for (size_t i = av->n; i-- > 0;)
        if (av->t[i].id == id) return &av->t[i];
    return NULL;
}

static mlm_status normalize_pattern(added_token *t, const normalizer *norm)
{
    if (!t->normalized || !norm) {
        t->pattern = mem_strndup(t->content, t->len);
        t->plen = t->len;
        return t->pattern ? MLM_OK : err_oom();
    }
    ns_buf b = {0};
    mlm_status st = MLM_OK;
    if (ns_start(&b, t->content, t->len) || normalizer_apply(norm, &b, &b.p[0])) {
        st = ns_error(&b);
    } else {
        t->plen = b.p[0].len;
        t->pattern = mem_strndup(ns_text(&b, &b.p[0]), t->plen);
        if (!t->pattern) st = err_oom();
    }
    ns_free(&b);
    return st;
}

mlm_status added_vocab_parse(added_vocab *av, const cJSON *arr, const model *m,
                             const normalizer *norm)
{
    av->max_id = -1;
    if (!arr || cJSON_IsNull(arr)) return MLM_OK;
    if (!cJSON_IsArray(arr)) return err_set(MLM_ERR_FORMAT, "added_tokens: expected an array");
    int cnt = cJSON_GetArraySize(arr);
    av->t = mem_calloc(cnt ? (size_t)cnt : 1, sizeof *av->t);
    av->order = mem_calloc(cnt ? (size_t)cnt : 1, sizeof *av->order);
    if (!av->t || !av->order) return err_oom();
    size_t vsize = model_vocab_size(m);
    const cJSON *it;
    int idx = 0;
    char path[64];
    cJSON_ArrayForEach(it, arr)
    {
        jf_path(path, sizeof path, "added_tokens", "[%d]", idx++);
        if (!cJSON_IsObject(it)) return err_set(MLM_ERR_FORMAT, "%s: expected an object", path);
        added_token t = {0};
        const char *content;
        mlm_status st;
        if ((st = jf_str(it, "content", path, NULL, &content)) ||
            (st = jf_bool(it, "special", path, 0, &t.special)) ||
            (st = jf_bool(it, "single_word", path, 0, &t.single_word)) ||
            (st = jf_bool(it, "lstrip", path, 0, &t.lstrip)) ||
            (st = jf_bool(it, "rstrip", path, 0, &t.rstrip)) ||
            (st = jf_bool(it, "normalized", path, !t.special, &t.normalized)))
            return st;
        if (!content) return err_set(MLM_ERR_FORMAT, "%s.content: missing", path);
        size_t len = strlen(content);
        if (len == 0) continue; /* HF ignores empty tokens */
        /* An identical token already added is ignored. */
        int dup = 0;
        for (size_t i = 0; i < av->n && !dup; i++) {
            added_token *o = &av->t[i];
            dup = o->len == len && !memcmp(o->content, content, len) && o->special == t.special &&
                  o->single_word == t.single_word && o->lstrip == t.lstrip &&
                  o->rstrip == t.rstrip && o->normalized == t.normalized;
        }
        if (dup) continue;
        const added_token *prev = added_vocab_find(av, content, len);
        int32_t id = prev ? prev->id : model_token_to_id(m, content, len);
        if (id < 0) {
            if (av->max_id < 0) id = (int32_t)vsize;
            else if ((size_t)av->max_id >= vsize || vsize == 0) id = av->max_id + 1;
            else id = (int32_t)vsize;
        }
        t.id = id;
        t.len = len;
        if (!(t.content = mem_strndup(content, len))) return err_oom();
        av->t[av->n] = t;
        if ((st = normalize_pattern(&av->t[av->n], norm))) {
            mem_free(av->t[av->n].content);
            return st;
        }
        av->n++; /* owned by av from here, freed by added_vocab_free */
        if (strmap_put(&av->by_content, content, len, (int32_t)(av->n - 1), NULL)) return err_oom();
        if (id > av->max_id) av->max_id = id;
    }
    /* Matching order: the first occurrence of each special content, then
     * the non-special ones. */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < av->n; i++) {
            added_token *t = &av->t[i];
            if ((pass == 0) != (t->special != 0)) continue;
            /* The latest entry for a content decides (added_tokens_map_r). */
            if (strmap_get(&av->by_content, t->content, t->len) != (int32_t)i) continue;
            av->order[av->norder++] = (uint32_t)i;
            uint8_t *first = t->normalized ? av->first_norm : av->first_raw;
            if (t->plen) first[(unsigned char)t->pattern[0]] = 1;
        }
    return MLM_OK;
}

/* HF tests single_word with the regex crate's \w. */
static int is_word_char(int32_t c)
{
    return uc_is_word(c);
}

/* The last char before position p / the first at p is a word char. */
static int ends_with_word(const char *s, size_t p)
{
    if (p == 0) return 0;
    size_t k = p - 1;
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
        k--;
    int32_t c;
    utf8_next(s + k, p - k, &c);
    return is_word_char(c);
}

static int starts_with_word(const char *s, size_t p, size_t len)
{
    if (p >= len) return 0;
    int32_t c;
    utf8_next(s + p, len - p, &c);
    return is_word_char(c);
}

/* Split piece pc (its text) around the tokens of one kind (normalized or
 * not), emitting into b->next. */
static int split_piece(const added_vocab *av, ns_buf *b, const ns_piece *pc, int normalized)
{
    const uint8_t *first = normalized ? av->first_norm : av->first_raw;
    const char *s = ns_text(b, pc);
    size_t len = pc->len, pos = 0, start_offset = 0;
    while (pos < len) {
        /* Leftmost-longest: the earliest position with a match, the longest
         * pattern there, the first in order among equals. */
        size_t i = pos;
        const added_token *hit = NULL;
        for (; i < len; i++) {
            if (!first[(unsigned char)s[i]]) continue;
            for (size_t k = 0; k < av->norder; k++) {
                const added_token *t = &av->t[av->order[k]];
                if ((t->normalized != 0) != normalized || !t->plen || t->plen > len - i) continue;
                if (memcmp(s + i, t->pattern, t->plen)) continue;
                if (!hit || t->plen > hit->plen) hit = t;
            }
            if (hit) break;
        }
        if (!hit) break;
        size_t start = i, stop = i + hit->plen;
        pos = stop;
        if (hit->single_word) {
            int start_space = start == 0 || !ends_with_word(s, start);
            int stop_space = stop == len || !starts_with_word(s, stop, len);
            if (!start_space || !stop_space) continue;
        }
        if (hit->lstrip) {
            size_t ns = start;
            while (ns > 0) {
                size_t k = ns - 1;
                while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
                    k--;
                int32_t c;
                utf8_next(s + k, ns - k, &c);
                if (!uc_is_whitespace(c)) break;
                ns = k;
            }
            start = ns > start_offset ? ns : start_offset;
        }
        if (hit->rstrip) {
            while (stop < len) {
                int32_t c;
                size_t k = utf8_next(s + stop, len - stop, &c);
                if (!uc_is_whitespace(c)) break;
                stop += k;
            }
        }
        if (start_offset < start && ns_emit(b, pc, (uint32_t)start_offset, (uint32_t)start))
            return -1;
        size_t before = b->nnext;
        if (ns_emit(b, pc, (uint32_t)start, (uint32_t)stop)) return -1;
        if (b->nnext > before) b->next[b->nnext - 1].added_id = hit->id;
        start_offset = stop;
    }
    if (start_offset < len && ns_emit(b, pc, (uint32_t)start_offset, (uint32_t)len)) return -1;
    return 0;
}

int added_vocab_extract(const added_vocab *av, const normalizer *norm, ns_buf *b)
{
    int have_raw = 0, have_norm = 0;
    for (size_t k = 0; k < av->norder; k++) {
        if (av->t[av->order[k]].normalized) have_norm = 1;
        else have_raw = 1;
    }
    if (have_raw) {
        ns_split_begin(b);
        for (size_t i = 0; i < b->n; i++)
            if (split_piece(av, b, &b->p[i], 0)) return -1;
        ns_split_end(b);
    }
    ns_split_begin(b);
    for (size_t i = 0; i < b->n; i++) {
        ns_piece *pc = &b->p[i];
        if (pc->added_id >= 0) {
            if (ns_keep(b, pc)) return -1;
            continue;
        }
        if (norm && normalizer_apply(norm, b, pc)) return -1;
        if (have_norm) {
            if (split_piece(av, b, pc, 1)) return -1;
        } else if (pc->len && ns_keep(b, pc)) {
            return -1;
        }
    }
    ns_split_end(b);
    return 0;
}
