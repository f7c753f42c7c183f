/* rouge_score's tokenize.tokenize; see rouge_tokens.h. */
#include "metrics/rouge_tokens.h"

#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/utf8.h"
#include "metrics/porter.h"

void rouge_vocab_init(rouge_vocab *v, int stem)
{
    memset(v, 0, sizeof *v);
    v->stem = stem;
}

void rouge_vocab_free(rouge_vocab *v)
{
    strmap_free(&v->ids);
    strmap_free(&v->raw);
    mem_free(v->buf);
    memset(v, 0, sizeof *v);
}

size_t rouge_vocab_size(const rouge_vocab *v) { return v->ids.n; }

void rouge_text_free(rouge_text *t)
{
    mem_free(t->ids);
    mem_free(t->line_end);
    memset(t, 0, sizeof *t);
}

/* The id of s[0..n), a new one when unseen; -1 when out of memory or out
 * of ids. */
static int64_t intern(strmap *m, const char *s, size_t n)
{
    int32_t id = strmap_get(m, s, n);
    if (id >= 0)
        return id;
    if (m->n >= (size_t)INT32_MAX)
        return -1;
    id = (int32_t)m->n;
    return strmap_put(m, s, n, id, NULL) == 0 ? id : -1;
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *q = mem_realloc(*p, c * size);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

/* The token in v->buf[0..n) is complete: stem it when rouge_score would
 * (more than 3 characters) and append its id. */
static mlm_status emit(rouge_vocab *v, size_t n, rouge_text *out)
{
    int64_t id;
    if (v->stem && n > 3) {
        int32_t known = strmap_get(&v->raw, v->buf, n);
        if (known >= 0) {
            id = known;
        } else {
            /* the stem goes after the token in buf (room reserved) */
            char *stem = v->buf + n;
            size_t sn = porter_stem(v->buf, n, stem);
            id = intern(&v->ids, stem, sn);
            if (id >= 0 && strmap_put(&v->raw, v->buf, n, (int32_t)id, NULL) != 0)
                id = -1;
        }
    } else {
        id = intern(&v->ids, v->buf, n);
    }
    if (id < 0)
        return v->ids.n >= (size_t)INT32_MAX
                   ? err_set(MLM_ERR_RANGE, "more than %d distinct tokens", INT32_MAX)
                   : err_oom();
    if (grow((void **)&out->ids, &out->cap, out->n + 1, sizeof *out->ids))
        return err_oom();
    out->ids[out->n++] = (uint32_t)id;
    return MLM_OK;
}

static mlm_status end_line(rouge_text *out)
{
    if (grow((void **)&out->line_end, &out->lines_cap, out->nlines + 1, sizeof *out->line_end))
        return err_oom();
    out->line_end[out->nlines++] = out->n;
    return MLM_OK;
}

/* Append byte c to the token being read (buf keeps room for the token and
 * its stem, twice its length). */
static int put(rouge_vocab *v, size_t *n, char c)
{
    if (2 * (*n + 1) > v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 64;
        char *b = mem_realloc(v->buf, cap);
        if (!b)
            return -1;
        v->buf = b;
        v->cap = cap;
    }
    v->buf[(*n)++] = c;
    return 0;
}

mlm_status rouge_tokenize(rouge_vocab *v, const char *text, size_t len, rouge_text *out)
{
    out->n = 0;
    out->nlines = 0;
    size_t bad;
    if (len && !utf8_valid(text, len, &bad))
        return err_set(MLM_ERR_FORMAT, "invalid UTF-8 at byte %zu", bad);
    size_t n = 0; /* length of the token being read */
    mlm_status st = MLM_OK;
    for (size_t i = 0; i < len && st == MLM_OK;) {
        unsigned char c = (unsigned char)text[i];
        char keep = 0;      /* the [a-z0-9] byte this character lowercases to */
        int ends_after = 0; /* ... followed by a separator (U+0130's U+0307) */
        if (c < 0x80) {
            i++;
            if (c >= 'A' && c <= 'Z')
                c = (unsigned char)(c - 'A' + 'a');
            if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
                keep = (char)c;
        } else {
            int32_t cp;
            i += utf8_next(text + i, len - i, &cp);
            if (cp == 0x130) { /* 'İ'.lower() == "i\u0307" */
                keep = 'i';
                ends_after = 1;
            } else if (cp == 0x212A) { /* KELVIN SIGN: 'k' */
                keep = 'k';
            }
        }
        if (keep && put(v, &n, keep))
            return err_oom();
        if (n && (!keep || ends_after)) {
            st = emit(v, n, out);
            n = 0;
        }
        if (c == '\n' && st == MLM_OK)
            st = end_line(out);
    }
    if (st == MLM_OK && n)
        st = emit(v, n, out);
    if (st == MLM_OK)
        st = end_line(out);
    return st;
}
