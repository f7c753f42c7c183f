/* Post-processors; see postprocessor.h. */
#include "text/postprocessor.h"

#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "text/json_fields.h"
#include "text/unicode.h"

typedef enum pp_kind { PP_BERT, PP_ROBERTA, PP_TEMPLATE, PP_BYTELEVEL, PP_SEQUENCE } pp_kind;

typedef struct special {
    char *name;
    int32_t *ids;
    char **tokens;
    size_t n;
} special;

typedef struct piece {
    int is_seq;   /* Sequence (A/B) or SpecialToken */
    int seq;      /* 0 = A, 1 = B */
    size_t sp;    /* index into specials */
    int32_t type_id;
} piece;

struct postproc {
    pp_kind kind;
    char *cls, *sep;
    int32_t cls_id, sep_id;
    int trim_offsets, add_prefix_space;
    piece *single, *pair;
    size_t nsingle, npair;
    special *sp;
    size_t nsp;
    postproc **kids;
    size_t nkids;
};

void postproc_free(postproc *p)
{
    if (!p) return;
    mem_free(p->cls);
    mem_free(p->sep);
    mem_free(p->single);
    mem_free(p->pair);
    for (size_t i = 0; i < p->nsp; i++) {
        mem_free(p->sp[i].name);
        mem_free(p->sp[i].ids);
        for (size_t k = 0; k < p->sp[i].n; k++)
            mem_free(p->sp[i].tokens[k]);
        mem_free(p->sp[i].tokens);
    }
    mem_free(p->sp);
    for (size_t i = 0; i < p->nkids; i++)
        postproc_free(p->kids[i]);
    mem_free(p->kids);
    mem_free(p);
}

/* ["[SEP]", 102] */
static mlm_status parse_pair(const cJSON *j, const char *key, const char *path, char **tok,
                             int32_t *id)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2 ||
        !cJSON_IsString(cJSON_GetArrayItem(v, 0)) || !cJSON_IsNumber(cJSON_GetArrayItem(v, 1)) ||
        cJSON_GetArrayItem(v, 1)->valuedouble < 0 ||
        cJSON_GetArrayItem(v, 1)->valuedouble > INT32_MAX)
        return err_set(MLM_ERR_FORMAT, "%s.%s: expected [token, id]", path, key);
    *tok = mem_strdup(cJSON_GetArrayItem(v, 0)->valuestring);
    *id = (int32_t)cJSON_GetArrayItem(v, 1)->valuedouble;
    return *tok ? MLM_OK : err_oom();
}

static mlm_status parse_template(postproc *p, const cJSON *j, const char *key, const char *path,
                                 piece **out, size_t *n)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!cJSON_IsArray(arr))
        return err_set(MLM_ERR_UNSUPPORTED, "%s.%s: expected a list of pieces", path, key);
    int cnt = cJSON_GetArraySize(arr);
    *out = mem_calloc(cnt ? (size_t)cnt : 1, sizeof **out);
    if (!*out) return err_oom();
    const cJSON *it;
    int i = 0;
    cJSON_ArrayForEach(it, arr)
    {
        piece *pc = &(*out)[i];
        const cJSON *seq = cJSON_GetObjectItemCaseSensitive(it, "Sequence");
        const cJSON *spt = cJSON_GetObjectItemCaseSensitive(it, "SpecialToken");
        const cJSON *body = seq ? seq : spt;
        char sub[256];
        jf_path(sub, sizeof sub, path, ".%s[%d]", key, i);
        if (!cJSON_IsObject(body))
            return err_set(MLM_ERR_FORMAT, "%s: expected Sequence or SpecialToken", sub);
        const char *id;
        int64_t type_id;
        mlm_status st;
        if ((st = jf_str(body, "id", sub, NULL, &id)) ||
            (st = jf_int(body, "type_id", sub, 0, 0, UINT32_MAX, &type_id)))
            return st;
        if (!id) return err_set(MLM_ERR_FORMAT, "%s.id: missing", sub);
        pc->type_id = (int32_t)type_id;
        if (seq) {
            pc->is_seq = 1;
            if (!strcmp(id, "A")) pc->seq = 0;
            else if (!strcmp(id, "B")) pc->seq = 1;
            else return err_set(MLM_ERR_FORMAT, "%s.id: expected \"A\" or \"B\"", sub);
        } else {
            size_t k = 0;
            while (k < p->nsp && strcmp(p->sp[k].name, id))
                k++;
            if (k == p->nsp)
                return err_set(MLM_ERR_FORMAT, "%s.id: special token '%s' is not in special_tokens",
                               sub, id);
            pc->sp = k;
        }
        i++;
    }
    *n = (size_t)cnt;
    return MLM_OK;
}

static mlm_status parse_specials(postproc *p, const cJSON *j, const char *path)
{
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(j, "special_tokens");
    if (!obj || cJSON_IsNull(obj)) return MLM_OK;
    if (!cJSON_IsObject(obj))
        return err_set(MLM_ERR_FORMAT, "%s.special_tokens: expected an object", path);
    int cnt = cJSON_GetArraySize(obj);
    p->sp = mem_calloc(cnt ? (size_t)cnt : 1, sizeof *p->sp);
    if (!p->sp) return err_oom();
    const cJSON *it;
    cJSON_ArrayForEach(it, obj)
    {
        special *s = &p->sp[p->nsp];
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(it, "ids");
        const cJSON *toks = cJSON_GetObjectItemCaseSensitive(it, "tokens");
        if (!cJSON_IsString(id) || !cJSON_IsArray(ids) || !cJSON_IsArray(toks) ||
            cJSON_GetArraySize(ids) != cJSON_GetArraySize(toks))
            return err_set(MLM_ERR_FORMAT,
                           "%s.special_tokens['%s']: expected id, ids and tokens of equal length",
                           path, it->string);
        if (!(s->name = mem_strdup(id->valuestring))) return err_oom();
        p->nsp++;
        size_t n = (size_t)cJSON_GetArraySize(ids);
        s->ids = mem_calloc(n ? n : 1, sizeof *s->ids);
        s->tokens = mem_calloc(n ? n : 1, sizeof *s->tokens);
        if (!s->ids || !s->tokens) return err_oom();
        for (size_t k = 0; k < n; k++) {
            const cJSON *a = cJSON_GetArrayItem(ids, (int)k), *b = cJSON_GetArrayItem(toks, (int)k);
            if (!cJSON_IsNumber(a) || a->valuedouble < 0 || a->valuedouble > INT32_MAX ||
                !cJSON_IsString(b))
                return err_set(MLM_ERR_FORMAT, "%s.special_tokens['%s']: bad id or token", path,
                               it->string);
            s->ids[k] = (int32_t)a->valuedouble;
            if (!(s->tokens[k] = mem_strdup(b->valuestring))) return err_oom();
            s->n = k + 1;
        }
    }
    return MLM_OK;
}

static mlm_status parse_child(const cJSON *item, const char *path, void *slot);

mlm_status postproc_parse(const cJSON *j, const char *path, postproc **out)
{
    *out = NULL;
    if (!cJSON_IsObject(j)) return err_set(MLM_ERR_FORMAT, "%s: expected an object", path);
    const char *type = jf_type(j);
    if (!type) return err_set(MLM_ERR_FORMAT, "%s.type: missing", path);
    postproc *p = mem_calloc(1, sizeof *p);
    if (!p) return err_oom();
    mlm_status st = MLM_OK;
    if (!strcmp(type, "BertProcessing")) {
        p->kind = PP_BERT;
        if ((st = parse_pair(j, "sep", path, &p->sep, &p->sep_id)) ||
            (st = parse_pair(j, "cls", path, &p->cls, &p->cls_id)))
            goto fail;
    } else if (!strcmp(type, "RobertaProcessing")) {
        p->kind = PP_ROBERTA;
        if ((st = parse_pair(j, "sep", path, &p->sep, &p->sep_id)) ||
            (st = parse_pair(j, "cls", path, &p->cls, &p->cls_id)) ||
            (st = jf_bool(j, "trim_offsets", path, 1, &p->trim_offsets)) ||
            (st = jf_bool(j, "add_prefix_space", path, 1, &p->add_prefix_space)))
            goto fail;
    } else if (!strcmp(type, "ByteLevel")) {
        p->kind = PP_BYTELEVEL;
        if ((st = jf_bool(j, "trim_offsets", path, 1, &p->trim_offsets)) ||
            (st = jf_bool(j, "add_prefix_space", path, 1, &p->add_prefix_space)))
            goto fail;
    } else if (!strcmp(type, "TemplateProcessing")) {
        p->kind = PP_TEMPLATE;
        if ((st = parse_specials(p, j, path)) ||
            (st = parse_template(p, j, "single", path, &p->single, &p->nsingle)) ||
            (st = parse_template(p, j, "pair", path, &p->pair, &p->npair)))
            goto fail;
    } else if (!strcmp(type, "Sequence")) {
        p->kind = PP_SEQUENCE;
        void *kids = NULL;
        st = jf_sequence(j, "processors", path, sizeof *p->kids, parse_child, &kids, &p->nkids);
        p->kids = kids;
        if (st) goto fail;
    } else {
        st = err_set(MLM_ERR_UNSUPPORTED, "%s.type: unknown post-processor '%s'", path, type);
        goto fail;
    }
    *out = p;
    return MLM_OK;
fail:
    postproc_free(p);
    return st;
}

/* A Sequence's child, for jf_sequence. */
static mlm_status parse_child(const cJSON *item, const char *path, void *slot)
{
    return postproc_parse(item, path, slot);
}

size_t postproc_added_tokens(const postproc *p, int is_pair)
{
    if (!p) return 0;
    switch (p->kind) {
    case PP_BERT: return is_pair ? 3 : 2;
    case PP_ROBERTA: return is_pair ? 4 : 2;
    case PP_BYTELEVEL: return 0;
    case PP_TEMPLATE: {
        size_t n = 0;
        const piece *t = is_pair ? p->pair : p->single;
        size_t cnt = is_pair ? p->npair : p->nsingle;
        for (size_t i = 0; i < cnt; i++)
            if (!t[i].is_seq) n += p->sp[t[i].sp].n;
        return n;
    }
    case PP_SEQUENCE: {
        size_t n = 0;
        for (size_t i = 0; i < p->nkids; i++)
            n += postproc_added_tokens(p->kids[i], is_pair);
        return n;
    }
    }
    return 0;
}

void bytelevel_trim_offsets(mlm_encoding *e, int add_prefix_space)
{
    for (size_t i = 0; i < e->n; i++) {
        const char *t = enc_token(e, i);
        size_t len = enc_token_len(e, i);
        /* Leading / trailing 'Ġ' or whitespace: count chars and the bytes
         * they stand for in the original. */
        size_t lead = 0, lead_b = 0, trail = 0, trail_b = 0, p = 0;
        int32_t c;
        while (p < len) {
            size_t k = utf8_next(t + p, len - p, &c);
            if (c != 0x120 && !uc_is_whitespace(c)) break;
            lead++;
            lead_b += c == 0x120 ? 1 : k;
            p += k;
        }
        /* each step takes one character off the end, so a token that is all
         * whitespace counts every character as trailing too, as HF does */
        size_t q = len;
        while (q > 0) {
            size_t k = q - 1;
            while (k > 0 && ((unsigned char)t[k] & 0xC0) == 0x80)
                k--;
            utf8_next(t + k, q - k, &c);
            if (c != 0x120 && !uc_is_whitespace(c)) break;
            trail++;
            trail_b += c == 0x120 ? 1 : q - k;
            q = k;
        }
        if (!lead && !trail) continue;
        if (lead) {
            int is_first = i == 0 || e->cs[i] == 0;
            if (is_first && add_prefix_space && lead == 1) lead = lead_b = 0;
            uint32_t ns = e->cs[i] + (uint32_t)lead;
            e->cs[i] = ns < e->ce[i] ? ns : e->ce[i];
            ns = e->bs[i] + (uint32_t)lead_b;
            e->bs[i] = ns < e->be[i] ? ns : e->be[i];
        }
        if (trail) {
            if (e->ce[i] >= trail) {
                uint32_t ne = e->ce[i] - (uint32_t)trail;
                e->ce[i] = ne > e->cs[i] ? ne : e->cs[i];
            }
            if (e->be[i] >= trail_b) {
                uint32_t ne = e->be[i] - (uint32_t)trail_b;
                e->be[i] = ne > e->bs[i] ? ne : e->bs[i];
            }
        }
    }
}

static void trim_all(mlm_encoding *e, int aps)
{
    bytelevel_trim_offsets(e, aps);
    for (size_t i = 0; i < e->novf; i++)
        bytelevel_trim_offsets(e->ovf[i], aps);
}

static int push_special(mlm_encoding *e, const char *tok, int32_t id, int32_t type_id)
{
    return enc_push(e, id, tok, strlen(tok), type_id, -1, 0, 0, 0, 0, 1, 1);
}

/* [before] enc [after] with all type ids = type_id (or enc's own when
 * type_id < 0), the sequence range over enc. */
static mlm_encoding *wrap(const mlm_encoding *enc, const char *before, int32_t bid,
                          const char *after, int32_t aid, int32_t type_id, int seq)
{
    mlm_encoding *w = enc_new();
    if (!w) return NULL;
    if (before && push_special(w, before, bid, type_id < 0 ? 0 : type_id)) goto fail;
    size_t start = w->n;
    if (enc_append(w, enc, 0, enc->n)) goto fail;
    for (size_t i = start; i < w->n; i++) {
        w->special[i] = 0;
        if (type_id >= 0) w->type_ids[i] = type_id;
    }
    w->has_range[seq] = 1;
    w->range[seq][0] = start;
    w->range[seq][1] = w->n;
    if (push_special(w, after, aid, type_id < 0 ? 1 : type_id)) goto fail;
    return w;
fail:
    mlm_encoding_free(w);
    return NULL;
}

/* Bert / Roberta with special tokens: wrap each encoding and its
 * overflowing parts. */
static mlm_encoding *wrap_all(const postproc *p, const mlm_encoding *enc, int i)
{
    int roberta = p->kind == PP_ROBERTA;
    const char *before = i == 0 ? p->cls : (roberta ? p->sep : NULL);
    int32_t bid = i == 0 ? p->cls_id : p->sep_id;
    int32_t type = roberta ? 0 : (i == 0 ? 0 : -1);
    mlm_encoding *w = wrap(enc, before, bid, p->sep, p->sep_id, type, i);
    if (!w) return NULL;
    for (size_t k = 0; k < enc->novf; k++) {
        mlm_encoding *o = wrap(enc->ovf[k], before, bid, p->sep, p->sep_id, type, i);
        mlm_encoding **a = o ? mem_realloc(w->ovf, (w->novf + 1) * sizeof *a) : NULL;
        if (!a) {
            mlm_encoding_free(o);
            mlm_encoding_free(w);
            return NULL;
        }
        w->ovf = a;
        w->ovf[w->novf++] = o;
    }
    return w;
}

/* process_encodings: replaces encs[0..n) (n becomes the new count). */
static int process_encodings(const postproc *p, mlm_encoding **encs, size_t *n, int add_special)
{
    switch (p->kind) {
    case PP_SEQUENCE:
        for (size_t i = 0; i < p->nkids; i++)
            if (process_encodings(p->kids[i], encs, n, add_special)) return -1;
        return 0;
    case PP_BYTELEVEL:
        if (p->trim_offsets)
            for (size_t i = 0; i < *n; i++)
                trim_all(encs[i], p->add_prefix_space);
        for (size_t i = 0; i < *n; i++)
            enc_set_sequence_id(encs[i], (int)i);
        if (*n > 1) { /* default_process merges */
            mlm_encoding *m = enc_new();
            if (!m) return -1;
            for (size_t i = 0; i < *n; i++) {
                enc_set_sequence_id(encs[i], (int)i);
                if (enc_merge_with(m, encs[i])) {
                    mlm_encoding_free(m);
                    return -1;
                }
            }
            for (size_t i = 0; i < *n; i++)
                mlm_encoding_free(encs[i]);
            encs[0] = m;
            *n = 1;
        }
        return 0;
    case PP_ROBERTA:
        if (p->trim_offsets)
            for (size_t i = 0; i < *n; i++)
                trim_all(encs[i], p->add_prefix_space);
        for (size_t i = 0; i < *n; i++)
            for (size_t k = 0; k < encs[i]->n; k++)
                encs[i]->type_ids[k] = 0;
        /* fall through */
    case PP_BERT:
        if (!add_special) return 0;
        for (size_t i = 0; i < *n; i++) {
            mlm_encoding *w = wrap_all(p, encs[i], (int)i);
            if (!w) return -1;
            mlm_encoding_free(encs[i]);
            encs[i] = w;
        }
        return 0;
    case PP_TEMPLATE: {
        const piece *t = *n == 2 ? p->pair : p->single;
        size_t cnt = *n == 2 ? p->npair : p->nsingle;
        mlm_encoding **outv = mem_calloc(cnt ? cnt : 1, sizeof *outv);
        if (!outv) return -1;
        size_t k = 0;
        for (size_t i = 0; i < cnt; i++) {
            if (t[i].is_seq) {
                if ((size_t)t[i].seq >= *n) continue;
                mlm_encoding *src = encs[t[i].seq];
                for (size_t q = 0; q < src->n; q++)
                    src->type_ids[q] = t[i].type_id;
                enc_set_sequence_id(src, t[i].seq);
                mlm_encoding *c = enc_clone(src);
                if (!c) goto tfail;
                outv[k++] = c;
            } else if (add_special) {
                const special *s = &p->sp[t[i].sp];
                mlm_encoding *c = enc_new();
                if (!c) goto tfail;
                outv[k++] = c;
                for (size_t q = 0; q < s->n; q++)
                    if (push_special(c, s->tokens[q], s->ids[q], t[i].type_id)) goto tfail;
            }
        }
        for (size_t i = 0; i < *n; i++)
            mlm_encoding_free(encs[i]);
        /* The caller's array holds at most 2: merge here already. */
        mlm_encoding *m = enc_new();
        if (!m) goto tfail;
        for (size_t i = 0; i < k; i++)
            if (enc_merge_with(m, outv[i])) {
                mlm_encoding_free(m);
                goto tfail;
            }
        for (size_t i = 0; i < k; i++)
            mlm_encoding_free(outv[i]);
        mem_free(outv);
        encs[0] = m;
        *n = 1;
        return 0;
    tfail:
        for (size_t i = 0; i < k; i++)
            mlm_encoding_free(outv[i]);
        mem_free(outv);
        *n = 0;
        return -1;
    }
    }
    return 0;
}

int postproc_process(const postproc *p, mlm_encoding *a, mlm_encoding *b, int add_special,
                     mlm_encoding **out)
{
    *out = NULL;
    mlm_encoding *encs[2] = {a, b};
    size_t n = b ? 2 : 1;
    if (!p) {
        if (n == 1) {
            *out = a;
            return 0;
        }
    } else {
        for (size_t i = 0; i < n; i++)
            enc_set_sequence_id(encs[i], (int)i);
        if (process_encodings(p, encs, &n, add_special)) {
            for (size_t i = 0; i < n; i++)
                mlm_encoding_free(encs[i]);
            return -1;
        }
    }
    if (n == 1) {
        *out = encs[0];
        return 0;
    }
    mlm_encoding *m = enc_new();
    int rc = m ? 0 : -1;
    for (size_t i = 0; i < n && !rc; i++) {
        if (!p) enc_set_sequence_id(encs[i], (int)i);
        rc = enc_merge_with(m, encs[i]);
    }
    for (size_t i = 0; i < n; i++)
        mlm_encoding_free(encs[i]);
    if (rc) {
        mlm_encoding_free(m);
        return -1;
    }
    *out = m;
    return 0;
}
