/* Unigram (SentencePiece, T5): the Viterbi best segmentation over a trie of
 * pieces with their log-probabilities; unknown stretches are fused. */
#include <float.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "text/json_fields.h"
#include "text/tokenizer_model.h"
#include "text/unicode.h"

#define UNK_PENALTY 10.0

mlm_status unigram_parse(model *m, const cJSON *j, const char *path)
{
    int64_t unk;
    mlm_status st;
    if ((st = jf_int(j, "unk_id", path, -1, -1, INT32_MAX, &unk)) ||
        (st = jf_bool(j, "byte_fallback", path, 0, &m->byte_fallback)))
        return st;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "vocab");
    if (!cJSON_IsArray(list)) return err_set(MLM_ERR_FORMAT, "%s.vocab: expected an array", path);
    int n = cJSON_GetArraySize(list);
    if (unk >= 0 && n == 0)
        return err_set(MLM_ERR_FORMAT, "%s.vocab: empty, but unk_id is set", path);
    if (unk >= n) return err_set(MLM_ERR_FORMAT, "%s.unk_id: %lld is not in the vocabulary", path,
                                 (long long)unk);
    m->unk_id = (int32_t)unk;
    m->scores = mem_alloc((n ? (size_t)n : 1) * sizeof *m->scores);
    if (!m->scores) return err_oom();
    m->min_score = n ? DBL_MAX : 0.0;
    int32_t nodes = 1; /* the root is node 0 */
    int32_t id = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, list)
    {
        const cJSON *p = cJSON_GetArrayItem(it, 0), *sc = cJSON_GetArrayItem(it, 1);
        if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) != 2 || !cJSON_IsString(p) ||
            !cJSON_IsNumber(sc))
            return err_set(MLM_ERR_FORMAT, "%s.vocab[%d]: expected [piece, score]", path, (int)id);
        const char *piece = p->valuestring;
        size_t len = strlen(piece);
        if ((st = vocab_add(&m->v, piece, len, id)))
            return err_prefix(st, "%s.vocab[%d]: ", path, (int)id);
        m->scores[id] = sc->valuedouble;
        if (sc->valuedouble < m->min_score) m->min_score = sc->valuedouble;
        /* Trie: one edge per byte. */
        int32_t node = 0;
        for (size_t i = 0; i < len; i++) {
            uint64_t key = (uint64_t)(uint32_t)node << 8 | (unsigned char)piece[i];
            int32_t child, tid;
            if (!u64map_get(&m->trie, key, &child, &tid)) {
                child = nodes++;
                if (u64map_put(&m->trie, key, child, -1)) return err_oom();
            }
            node = child;
        }
        (void)node;
        id++;
    }
    /* Mark the terminal nodes with their ids (the map's final say, as
     * token_to_ids keeps the last duplicate). */
    for (int32_t i = 0; i < id; i++) {
        const char *piece = m->v.id2tok[i];
        if (!piece) continue;
        size_t len = strlen(piece);
        if (len == 0) continue;
        int32_t node = 0, child = 0, tid;
        uint64_t key = 0;
        for (size_t k = 0; k < len; k++) {
            key = (uint64_t)(uint32_t)node << 8 | (unsigned char)piece[k];
            u64map_get(&m->trie, key, &child, &tid);
            node = child;
        }
        if (u64map_put(&m->trie, key, child, strmap_get(&m->v.map, piece, len))) return err_oom();
    }
    /* vocab_add left id2tok pointing at the last duplicate's key for every
     * id: restore one pointer per id (strings are equal anyway). */
    return MLM_OK;
}

typedef struct node {
    double score;
    int32_t start; /* -1: unreached */
    int32_t id;
} node;

static int emit(const model *m, const char *s, uint32_t a, uint32_t b, tokvec *out)
{
    int32_t id = strmap_get(&m->v.map, s + a, b - a);
    if (id >= 0) return tokvec_push(out, id, a, b, 1);
    if (m->byte_fallback) {
        int all = 1;
        for (uint32_t i = a; i < b && all; i++) {
            char name[8];
            snprintf(name, sizeof name, "<0x%02X>", (unsigned char)s[i]);
            all = strmap_get(&m->v.map, name, 6) >= 0;
        }
        if (all) {
            for (uint32_t i = a; i < b; i++) {
                char name[8];
                snprintf(name, sizeof name, "<0x%02X>", (unsigned char)s[i]);
                if (tokvec_push(out, strmap_get(&m->v.map, name, 6), a, b, 0)) return -1;
            }
            return 0;
        }
    }
    if (m->unk_id < 0) {
        err_set(MLM_ERR_FORMAT, "Unigram: an unknown piece, but the model has no unk_id");
        return -2;
    }
    return tokvec_push(out, m->unk_id, a, b, 1);
}

int unigram_tokenize(const model *m, const char *s, uint32_t len, tokvec *out, model_scratch *sc)
{
    if (len == 0) return 0;
    if (scratch_grow(&sc->a, &sc->acap, (size_t)len + 1, sizeof(node)) ||
        scratch_grow(&sc->b, &sc->bcap, ((size_t)len + 1) * 2, sizeof(uint32_t)))
        return -1;
    node *best = sc->a;
    for (uint32_t i = 0; i <= len; i++)
        best[i] = (node){0.0, -1, 0};
    double unk_score = m->min_score - UNK_PENALTY;
    for (uint32_t st = 0; st < len;) {
        uint32_t mblen = (uint32_t)utf8_len_of((unsigned char)s[st]);
        if (st + mblen > len) mblen = len - st;
        double here = best[st].score;
        int single = 0;
        int32_t nd = 0;
        for (uint32_t i = st; i < len; i++) {
            int32_t child, tid;
            if (!u64map_get(&m->trie, (uint64_t)(uint32_t)nd << 8 | (unsigned char)s[i], &child,
                            &tid))
                break;
            nd = child;
            if (tid < 0) continue;
            uint32_t end = i + 1;
            double cand = m->scores[tid] + here;
            if (best[end].start < 0 || cand > best[end].score) {
                best[end].score = cand;
                best[end].start = (int32_t)st;
                best[end].id = tid;
            }
            if (end - st == mblen) single = 1;
        }
        if (!single) {
            uint32_t end = st + mblen;
            double cand = unk_score + here;
            if (best[end].start < 0 || cand > best[end].score) {
                if (m->unk_id < 0) {
                    err_set(MLM_ERR_FORMAT, "Unigram: an unknown piece, but the model has no unk_id");
                    return -2;
                }
                best[end].score = cand;
                best[end].start = (int32_t)st;
                best[end].id = m->unk_id;
            }
        }
        st += mblen;
    }
    /* Backtrack into (start, end) pairs, fusing runs of unknowns. */
    uint32_t *seg = sc->b;
    size_t nseg = 0;
    uint32_t end = len, fuse_end = 0;
    int fusing = 0;
    while (end > 0) {
        node nd = best[end];
        if (nd.start < 0) break; /* unreachable for valid UTF-8 */
        uint32_t start = (uint32_t)nd.start;
        if (m->unk_id >= 0 && nd.id == m->unk_id) {
            if (!fusing) {
                fusing = 1;
                fuse_end = end;
            }
        } else {
            if (fusing) {
                seg[2 * nseg] = end;
                seg[2 * nseg + 1] = fuse_end;
                nseg++;
                fusing = 0;
            }
            seg[2 * nseg] = start;
            seg[2 * nseg + 1] = end;
            nseg++;
        }
        end = start;
    }
    if (fusing) {
        seg[2 * nseg] = end;
        seg[2 * nseg + 1] = fuse_end;
        nseg++;
    }
    for (size_t i = nseg; i-- > 0;) {
        int rc = emit(m, s, seg[2 * i], seg[2 * i + 1], out);
        if (rc) return rc;
    }
    return 0;
}
