/* BPE: characters (with continuation prefix / end-of-word suffix), unknown
 * and byte-fallback handling, then merges by rank with a priority queue, as
 * HF's Word::merge_all does. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "text/json_fields.h"
#include "text/tokenizer_model.h"
#include "text/unicode.h"

mlm_status bpe_parse(model *m, const cJSON *j, const char *path)
{
    const char *unk, *prefix, *suffix;
    mlm_status st;
    double dropout;
    if ((st = jf_str(j, "unk_token", path, NULL, &unk)) ||
        (st = jf_str(j, "continuing_subword_prefix", path, NULL, &prefix)) ||
        (st = jf_str(j, "end_of_word_suffix", path, NULL, &suffix)) ||
        (st = jf_bool(j, "fuse_unk", path, 0, &m->fuse_unk)) ||
        (st = jf_bool(j, "byte_fallback", path, 0, &m->byte_fallback)) ||
        (st = jf_bool(j, "ignore_merges", path, 0, &m->ignore_merges)) ||
        (st = jf_num(j, "dropout", path, 0.0, &dropout)))
        return st;
    if (dropout != 0.0)
        return err_set(MLM_ERR_UNSUPPORTED, "%s.dropout: BPE dropout is not supported", path);
    if ((unk && !(m->unk_token = mem_strdup(unk))) ||
        (prefix && !(m->prefix = mem_strdup(prefix))) ||
        (suffix && !(m->suffix = mem_strdup(suffix))))
        return err_oom();
    if ((st = vocab_from_object(&m->v, cJSON_GetObjectItemCaseSensitive(j, "vocab"), path)))
        return st;
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        m->byte_ids[b] = strmap_get(&m->v.map, name, 6);
    }
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(j, "merges");
    if (!merges || cJSON_IsNull(merges)) return MLM_OK;
    if (!cJSON_IsArray(merges)) return err_set(MLM_ERR_FORMAT, "%s.merges: expected an array", path);
    size_t plen = m->prefix ? strlen(m->prefix) : 0;
    char *buf = NULL;
    size_t bufcap = 0;
    int32_t rank = 0;
    const cJSON *it;
    st = MLM_OK;
    cJSON_ArrayForEach(it, merges)
    {
        const char *a, *b;
        size_t alen, blen;
        if (cJSON_IsString(it)) {
            const char *sp = strchr(it->valuestring, ' ');
            if (!sp) {
                st = err_set(MLM_ERR_FORMAT, "%s.merges[%d]: expected \"a b\"", path, (int)rank);
                break;
            }
            a = it->valuestring;
            alen = (size_t)(sp - a);
            b = sp + 1;
            blen = strlen(b);
        } else if (cJSON_IsArray(it) && cJSON_GetArraySize(it) == 2 &&
                   cJSON_IsString(cJSON_GetArrayItem(it, 0)) &&
                   cJSON_IsString(cJSON_GetArrayItem(it, 1))) {
            a = cJSON_GetArrayItem(it, 0)->valuestring;
            b = cJSON_GetArrayItem(it, 1)->valuestring;
            alen = strlen(a);
            blen = strlen(b);
        } else {
            st = err_set(MLM_ERR_FORMAT, "%s.merges[%d]: expected \"a b\" or [a, b]", path,
                         (int)rank);
            break;
        }
        int32_t ia = strmap_get(&m->v.map, a, alen), ib = strmap_get(&m->v.map, b, blen);
        if (ia < 0 || ib < 0 || blen < plen) {
            st = err_set(MLM_ERR_FORMAT, "%s.merges[%d]: token '%.*s' is not in the vocabulary",
                         path, (int)rank, ia < 0 ? (int)alen : (int)blen, ia < 0 ? a : b);
            break;
        }
        if (alen + blen + 1 > bufcap) {
            bufcap = (alen + blen + 1) * 2;
            char *nb = mem_realloc(buf, bufcap);
            if (!nb) {
                st = err_oom();
                break;
            }
            buf = nb;
        }
        memcpy(buf, a, alen);
        memcpy(buf + alen, b + plen, blen - plen);
        int32_t inew = strmap_get(&m->v.map, buf, alen + blen - plen);
        if (inew < 0) {
            st = err_set(MLM_ERR_FORMAT, "%s.merges[%d]: token '%.*s' is not in the vocabulary",
                         path, (int)rank, (int)(alen + blen - plen), buf);
            break;
        }
        if (u64map_put(&m->merges, (uint64_t)(uint32_t)ia << 32 | (uint32_t)ib, rank, inew)) {
            st = err_oom();
            break;
        }
        rank++;
    }
    mem_free(buf);
    return st;
}

typedef struct sym {
    int32_t c, prev, next;
    uint32_t len;
} sym;

typedef struct merge {
    int32_t rank, pos, new_id;
} merge;

static int merge_less(merge x, merge y)
{
    return x.rank != y.rank ? x.rank < y.rank : x.pos < y.pos;
}

static void heap_push(merge *h, size_t *n, merge m)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!merge_less(m, h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = m;
}

static merge heap_pop(merge *h, size_t *n)
{
    merge top = h[0], last = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        merge best = last;
        if (l < *n && merge_less(h[l], best)) {
            m = l;
            best = h[l];
        }
        if (r < *n && merge_less(h[r], best)) m = r;
        if (m == i) break;
        h[i] = h[m];
        i = m;
    }
    if (*n) h[i] = last;
    return top;
}

static int add_sym(sym *w, size_t *n, int32_t id, uint32_t len)
{
    int32_t i = (int32_t)*n;
    w[i] = (sym){id, i - 1, i + 1, len};
    (*n)++;
    return 0;
}

/* A direct-mapped cache of short words and their tokens, per thread: the
 * same words recur, and merging is the costly part. */
#define CACHE_SLOTS 8192
#define CACHE_KEY 40
#define CACHE_TOKS 10

typedef struct cache_entry {
    uint8_t klen; /* 0: empty */
    uint8_t ntok;
    uint8_t lens[CACHE_TOKS];
    char key[CACHE_KEY];
    int32_t ids[CACHE_TOKS];
} cache_entry;

static cache_entry *cache_slot(model_scratch *sc, const char *s, uint32_t len)
{
    if (len == 0 || len > CACHE_KEY) return NULL;
    if (!sc->cache && !(sc->cache = mem_calloc(CACHE_SLOTS, sizeof(cache_entry)))) return NULL;
    return (cache_entry *)sc->cache + (hash_bytes(s, len) & (CACHE_SLOTS - 1));
}

static int merge_word(const model *m, const char *s, uint32_t len, tokvec *out, model_scratch *sc);

int bpe_tokenize(const model *m, const char *s, uint32_t len, tokvec *out, model_scratch *sc)
{
    if (len == 0) return 0;
    if (m->ignore_merges) {
        int32_t id = strmap_get(&m->v.map, s, len);
        if (id >= 0) return tokvec_push(out, id, 0, len, 0);
    }
    cache_entry *ce = cache_slot(sc, s, len);
    if (ce && ce->klen == len && !memcmp(ce->key, s, len)) {
        uint32_t off = 0;
        for (int i = 0; i < ce->ntok; i++) {
            if (tokvec_push(out, ce->ids[i], off, off + ce->lens[i], 0)) return -1;
            off += ce->lens[i];
        }
        return 0;
    }
    size_t first = out->n;
    int rc = merge_word(m, s, len, out, sc);
    if (rc || !ce || out->n - first > CACHE_TOKS) return rc;
    /* Tokens must tile the word for the cache to replay their offsets. */
    uint32_t off = 0;
    for (size_t i = first; i < out->n; i++) {
        if (out->t[i].s != off || out->t[i].e - out->t[i].s > 255) return 0;
        off = out->t[i].e;
    }
    if (off != len) return 0;
    ce->klen = (uint8_t)len;
    memcpy(ce->key, s, len);
    ce->ntok = (uint8_t)(out->n - first);
    for (size_t i = first; i < out->n; i++) {
        ce->ids[i - first] = out->t[i].id;
        ce->lens[i - first] = (uint8_t)(out->t[i].e - out->t[i].s);
    }
    return 0;
}

static int merge_word(const model *m, const char *s, uint32_t len, tokvec *out, model_scratch *sc)
{
    /* Up to 4 byte-fallback symbols per byte of a char + prefix/suffix. */
    size_t plen = m->prefix ? strlen(m->prefix) : 0, slen = m->suffix ? strlen(m->suffix) : 0;
    size_t maxsyms = (size_t)len * 1 + 8 + (m->byte_fallback ? (size_t)len * (plen + slen + 4) : 0);
    if (scratch_grow(&sc->a, &sc->acap, maxsyms, sizeof(sym)) ||
        scratch_grow(&sc->b, &sc->bcap, maxsyms * 2 + 8, sizeof(merge)) ||
        scratch_grow(&sc->c, &sc->ccap, plen + slen + 8, 1))
        return -1;
    sym *w = sc->a;
    merge *heap = sc->b;
    char *buf = sc->c;
    size_t n = 0;
    int32_t unk_id = -1;
    uint32_t unk_len = 0;
    int have_unk = 0;
    for (uint32_t i = 0; i < len;) {
        uint32_t k = (uint32_t)utf8_len_of((unsigned char)s[i]);
        if (i + k > len) k = len - i;
        int first = i == 0, last = i + k == len;
        const char *key = s + i;
        size_t klen = k;
        if ((!first && plen) || (last && slen)) {
            size_t o = 0;
            if (!first && plen) {
                memcpy(buf, m->prefix, plen);
                o = plen;
            }
            memcpy(buf + o, s + i, k);
            o += k;
            if (last && slen) {
                memcpy(buf + o, m->suffix, slen);
                o += slen;
            }
            key = buf;
            klen = o;
        }
        int32_t id = strmap_get(&m->v.map, key, klen);
        if (id >= 0) {
            if (have_unk) {
                add_sym(w, &n, unk_id, unk_len);
                have_unk = 0;
            }
            add_sym(w, &n, id, k);
        } else {
            int done = 0;
            if (m->byte_fallback) {
                int all = 1;
                for (size_t q = 0; q < klen; q++)
                    if (m->byte_ids[(unsigned char)key[q]] < 0) all = 0;
                if (all) {
                    /* HF keeps a pending unknown token across this. */
                    for (size_t q = 0; q < klen; q++)
                        add_sym(w, &n, m->byte_ids[(unsigned char)key[q]], 1);
                    done = 1;
                }
            }
            if (!done && m->unk_token) {
                int32_t uid = strmap_get(&m->v.map, m->unk_token, strlen(m->unk_token));
                if (uid < 0) {
                    err_set(MLM_ERR_FORMAT, "BPE: the unknown token '%s' is not in the vocabulary",
                            m->unk_token);
                    return -2;
                }
                if (have_unk && m->fuse_unk) {
                    unk_len += k;
                } else {
                    if (have_unk) add_sym(w, &n, unk_id, unk_len);
                    unk_id = uid;
                    unk_len = k;
                    have_unk = 1;
                }
            }
        }
        i += k;
    }
    if (have_unk) add_sym(w, &n, unk_id, unk_len);
    if (n == 0) return 0;
    w[n - 1].next = -1; /* HF uses len as "none" on the right; -1 is simpler */
    size_t hn = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        int32_t rank, nid;
        if (u64map_get(&m->merges, (uint64_t)(uint32_t)w[i].c << 32 | (uint32_t)w[i + 1].c, &rank,
                       &nid))
            heap_push(heap, &hn, (merge){rank, (int32_t)i, nid});
    }
    while (hn) {
        merge top = heap_pop(heap, &hn);
        sym *cur = &w[top.pos];
        if (cur->len == 0 || cur->next < 0) continue;
        int32_t nextpos = cur->next;
        sym right = w[nextpos];
        int32_t rank, nid;
        if (!u64map_get(&m->merges, (uint64_t)(uint32_t)cur->c << 32 | (uint32_t)right.c, &rank,
                        &nid) ||
            nid != top.new_id)
            continue;
        cur->c = top.new_id;
        cur->len += right.len;
        cur->next = right.next;
        w[nextpos].len = 0;
        if (right.next >= 0) w[right.next].prev = top.pos;
        if (scratch_grow(&sc->b, &sc->bcap, hn + 2, sizeof(merge))) return -1;
        heap = sc->b;
        if (cur->prev >= 0) {
            sym *p = &w[cur->prev];
            if (u64map_get(&m->merges, (uint64_t)(uint32_t)p->c << 32 | (uint32_t)cur->c, &rank,
                           &nid))
                heap_push(heap, &hn, (merge){rank, cur->prev, nid});
        }
        if (cur->next >= 0) {
            sym *q = &w[cur->next];
            if (u64map_get(&m->merges, (uint64_t)(uint32_t)cur->c << 32 | (uint32_t)q->c, &rank,
                           &nid))
                heap_push(heap, &hn, (merge){rank, top.pos, nid});
        }
    }
    uint32_t off = 0;
    for (size_t i = 0; i < n; i++) {
        if (w[i].len == 0) continue;
        if (tokvec_push(out, w[i].c, off, off + w[i].len, 0)) return -1;
        off += w[i].len;
    }
    return 0;
}
