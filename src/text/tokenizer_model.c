/* The tokenizer's model (WordPiece, BPE, Unigram): dispatch and the shared
 * vocabulary; see tokenizer_model.h. */
#include "text/tokenizer_model.h"

#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "text/json_fields.h"

int tokvec_push(tokvec *v, int32_t id, uint32_t s, uint32_t e, int raw)
{
    if (v->n == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 64;
        model_tok *t = mem_realloc(v->t, nc * sizeof *t);
        if (!t) return -1;
        v->t = t;
        v->cap = nc;
    }
    v->t[v->n++] = (model_tok){id, s, e, (uint8_t)raw};
    return 0;
}

int scratch_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 64;
    while (nc < need)
        nc *= 2;
    void *q = mem_realloc(*p, nc * elem);
    if (!q) return -1;
    *p = q;
    *cap = nc;
    return 0;
}

void model_scratch_free(model_scratch *s)
{
    mem_free(s->a);
    mem_free(s->b);
    mem_free(s->c);
    mem_free(s->cache);
    memset(s, 0, sizeof *s);
}

/* Ids are untrusted: keep the id -> token table proportionate. */
#define MAX_ID_SLACK 1000000u

mlm_status vocab_add(vocab *v, const char *tok, size_t len, int32_t id)
{
    if (id < 0) return err_set(MLM_ERR_FORMAT, "negative id %d", (int)id);
    if ((size_t)id >= v->cap_ids) {
        if ((size_t)id > 4 * v->map.n + MAX_ID_SLACK)
            return err_set(MLM_ERR_UNSUPPORTED, "id %d is far beyond the vocabulary size",
                           (int)id);
        size_t want = v->cap_ids ? v->cap_ids * 2 : 1024;
        while (want <= (size_t)id)
            want *= 2;
        const char **t = mem_realloc((void *)v->id2tok, want * sizeof *t);
        if (!t) return err_oom();
        memset((void *)(t + v->cap_ids), 0, (want - v->cap_ids) * sizeof *t);
        v->id2tok = t;
        uint32_t *l = mem_realloc(v->id2len, want * sizeof *l);
        if (!l) return err_oom();
        memset(l + v->cap_ids, 0, (want - v->cap_ids) * sizeof *l);
        v->id2len = l;
        v->cap_ids = want;
    }
    if ((size_t)id >= v->nids) v->nids = (size_t)id + 1;
    const char *stored;
    if (strmap_put(&v->map, tok, len, id, &stored)) return err_oom();
    v->id2tok[id] = stored;
    v->id2len[id] = (uint32_t)len;
    return MLM_OK;
}

void vocab_free(vocab *v)
{
    strmap_free(&v->map);
    mem_free((void *)v->id2tok);
    mem_free(v->id2len);
    memset(v, 0, sizeof *v);
}

mlm_status vocab_from_object(vocab *v, const cJSON *obj, const char *path)
{
    if (!cJSON_IsObject(obj)) return err_set(MLM_ERR_FORMAT, "%s.vocab: expected an object", path);
    const cJSON *it;
    cJSON_ArrayForEach(it, obj)
    {
        if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > INT32_MAX ||
            it->valuedouble != (double)(int32_t)it->valuedouble)
            return err_set(MLM_ERR_FORMAT, "%s.vocab['%s']: expected a non-negative integer id",
                           path, it->string);
        mlm_status st = vocab_add(v, it->string, strlen(it->string), (int32_t)it->valuedouble);
        if (st) return err_prefix(st, "%s.vocab['%s']: ", path, it->string);
    }
    return MLM_OK;
}

void model_free(model *m)
{
    if (!m) return;
    vocab_free(&m->v);
    mem_free(m->unk_token);
    mem_free(m->prefix);
    mem_free(m->suffix);
    u64map_free(&m->merges);
    mem_free(m->scores);
    u64map_free(&m->trie);
    mem_free(m);
}

mlm_status model_parse(const cJSON *j, const char *path, model **out)
{
    *out = NULL;
    if (!cJSON_IsObject(j)) return err_set(MLM_ERR_FORMAT, "%s: expected an object", path);
    model *m = mem_calloc(1, sizeof *m);
    if (!m) return err_oom();
    m->unk_id = -1;
    const char *type = jf_type(j);
    mlm_status st;
    if (!type) {
        /* HF tries the models in turn (untagged enum): BPE needs merges,
         * WordPiece continuing_subword_prefix + max_input_chars_per_word,
         * Unigram a vocab list. */
        const cJSON *voc = cJSON_GetObjectItemCaseSensitive(j, "vocab");
        if (cJSON_GetObjectItemCaseSensitive(j, "merges")) type = "BPE";
        else if (cJSON_IsArray(voc)) type = "Unigram";
        else if (cJSON_GetObjectItemCaseSensitive(j, "max_input_chars_per_word") ||
                 cJSON_GetObjectItemCaseSensitive(j, "continuing_subword_prefix"))
            type = "WordPiece";
        else if (voc)
            type = "WordLevel";
        else {
            mem_free(m);
            return err_set(MLM_ERR_FORMAT, "%s: no \"type\" and no fields to infer it from",
                           path);
        }
    }
    if (!strcmp(type, "WordPiece")) {
        m->kind = MODEL_WORDPIECE;
        st = wordpiece_parse(m, j, path);
    } else if (!strcmp(type, "BPE")) {
        m->kind = MODEL_BPE;
        st = bpe_parse(m, j, path);
    } else if (!strcmp(type, "Unigram")) {
        m->kind = MODEL_UNIGRAM;
        st = unigram_parse(m, j, path);
    } else if (!strcmp(type, "WordLevel")) {
        m->kind = MODEL_WORDLEVEL;
        st = wordlevel_parse(m, j, path);
    } else {
        st = err_set(MLM_ERR_UNSUPPORTED, "%s.type: unknown model '%s'", path, type);
    }
    if (st) {
        model_free(m);
        return st;
    }
    for (size_t i = 0; i < m->v.map.n; i++)
        if (m->v.map.lens[i] > m->max_token_len) m->max_token_len = m->v.map.lens[i];
    *out = m;
    return MLM_OK;
}

int model_tokenize(const model *m, const char *s, uint32_t len, tokvec *out,
                   model_scratch *scratch)
{
    switch (m->kind) {
    case MODEL_WORDPIECE: return wordpiece_tokenize(m, s, len, out);
    case MODEL_BPE: return bpe_tokenize(m, s, len, out, scratch);
    case MODEL_UNIGRAM: return unigram_tokenize(m, s, len, out, scratch);
    case MODEL_WORDLEVEL: return wordlevel_tokenize(m, s, len, out);
    }
    return 0;
}

int32_t model_token_to_id(const model *m, const char *tok, size_t len)
{
    return strmap_get(&m->v.map, tok, len);
}

const char *model_id_to_token(const model *m, int32_t id)
{
    if (id < 0 || (size_t)id >= m->v.nids) return NULL;
    return m->v.id2tok[id];
}

const char *model_id_to_token_len(const model *m, int32_t id, size_t *len)
{
    const char *s = model_id_to_token(m, id);
    *len = s ? m->v.id2len[id] : 0;
    return s;
}

size_t model_vocab_size(const model *m)
{
    /* HF's get_vocab_size: the number of entries (Unigram: of the list). */
    if (m->kind == MODEL_UNIGRAM) return m->v.nids;
    return m->v.map.n;
}
