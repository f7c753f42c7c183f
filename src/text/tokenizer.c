/* The tokenizer: load, encode, decode, settings (mlm/tokenizer.h). */
#include "text/tokenizer.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "io/file.h"
#include "text/encoding.h"
#include "text/json_fields.h"
#include "text/legacy.h"
#include "text/unicode.h"

/* Offsets are 32-bit; leave room for normalization growing the text. */
#define MAX_TEXT_BYTES ((size_t)UINT32_MAX / 8)

/* ------------------------------------------------------------------ files */

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* ----------------------------------------------------------------- free */

static void ctx_free(encode_ctx *c)
{
    ns_free(&c->b);
    mem_free(c->tv.t);
    model_scratch_free(&c->ms);
    mem_free(c->cmap);
    mem_free(c);
}

MLM_API void mlm_tokenizer_free(mlm_tokenizer *tok)
{
    if (!tok) return;
    cJSON_Delete(tok->json);
    normalizer_free(tok->norm);
    pretokenizer_free(tok->pre);
    model_free(tok->model);
    postproc_free(tok->post);
    decoder_free(tok->dec);
    added_vocab_free(&tok->added);
    mem_free(tok->pad_token);
    for (int i = 0; i < 7; i++)
        mem_free(tok->special[i]);
    while (tok->ctx_pool) {
        encode_ctx *c = tok->ctx_pool;
        tok->ctx_pool = c->next;
        ctx_free(c);
    }
    pthread_mutex_destroy(&tok->lock);
    mem_free(tok);
}

/* ----------------------------------------------------------------- load */

static mlm_status parse_truncation(mlm_tokenizer *tok, const cJSON *t)
{
    if (!t || cJSON_IsNull(t)) return MLM_OK;
    if (!cJSON_IsObject(t)) return err_set(MLM_ERR_FORMAT, "truncation: expected an object");
    int64_t max, stride;
    const char *dir, *strat;
    mlm_status st;
    if ((st = jf_int(t, "max_length", "truncation", 512, 0, INT32_MAX, &max)) ||
        (st = jf_int(t, "stride", "truncation", 0, 0, INT32_MAX, &stride)) ||
        (st = jf_str(t, "direction", "truncation", "Right", &dir)) ||
        (st = jf_str(t, "strategy", "truncation", "LongestFirst", &strat)))
        return st;
    mlm_truncation_strategy s;
    if (!strcmp(strat, "LongestFirst")) s = MLM_TRUNCATE_LONGEST_FIRST;
    else if (!strcmp(strat, "OnlyFirst")) s = MLM_TRUNCATE_ONLY_FIRST;
    else if (!strcmp(strat, "OnlySecond")) s = MLM_TRUNCATE_ONLY_SECOND;
    else return err_set(MLM_ERR_FORMAT, "truncation.strategy: unknown strategy '%s'", strat);
    if (strcmp(dir, "Right") && strcmp(dir, "Left"))
        return err_set(MLM_ERR_FORMAT, "truncation.direction: expected Right or Left");
    tok->enc.trunc_on = 1;
    tok->enc.trunc_max = (size_t)max;
    tok->enc.trunc_stride = (size_t)stride;
    tok->enc.trunc_strategy = s;
    tok->enc.trunc_left = !strcmp(dir, "Left");
    return MLM_OK;
}

static mlm_status parse_padding(mlm_tokenizer *tok, const cJSON *p)
{
    if (!p || cJSON_IsNull(p)) return MLM_OK;
    if (!cJSON_IsObject(p)) return err_set(MLM_ERR_FORMAT, "padding: expected an object");
    int64_t mult, pad_id, pad_type;
    const char *dir, *pad_tok;
    mlm_status st;
    if ((st = jf_int(p, "pad_to_multiple_of", "padding", 0, 0, INT32_MAX, &mult)) ||
        (st = jf_int(p, "pad_id", "padding", 0, 0, INT32_MAX, &pad_id)) ||
        (st = jf_int(p, "pad_type_id", "padding", 0, 0, INT32_MAX, &pad_type)) ||
        (st = jf_str(p, "direction", "padding", "Right", &dir)) ||
        (st = jf_str(p, "pad_token", "padding", "[PAD]", &pad_tok)))
        return st;
    const cJSON *strat = cJSON_GetObjectItemCaseSensitive(p, "strategy");
    size_t fixed = 0;
    if (cJSON_IsObject(strat)) {
        int64_t v;
        if ((st = jf_int(strat, "Fixed", "padding.strategy", 0, 1, INT32_MAX, &v))) return st;
        fixed = (size_t)v;
    } else if (strat && !(cJSON_IsString(strat) && !strcmp(strat->valuestring, "BatchLongest"))) {
        return err_set(MLM_ERR_FORMAT, "padding.strategy: expected \"BatchLongest\" or {\"Fixed\": n}");
    }
    if (strcmp(dir, "Right") && strcmp(dir, "Left"))
        return err_set(MLM_ERR_FORMAT, "padding.direction: expected Right or Left");
    tok->enc.pad_on = 1;
    tok->enc.pad_len = fixed;
    tok->enc.pad_multiple = (size_t)mult;
    tok->enc.pad_left = !strcmp(dir, "Left");
    tok->pad_id = (int32_t)pad_id;
    tok->pad_type_id = (int32_t)pad_type;
    if (!(tok->pad_token = mem_strdup(pad_tok))) return err_oom();
    return MLM_OK;
}

static int32_t token_id(const mlm_tokenizer *tok, const char *s, size_t len)
{
    const added_token *a = added_vocab_find(&tok->added, s, len);
    if (a) return a->id;
    return model_token_to_id(tok->model, s, len);
}

static void count_vocab(mlm_tokenizer *tok)
{
    size_t n = tok->model->v.map.n;
    for (size_t i = 0; i < tok->added.norder; i++) {
        const added_token *t = &tok->added.t[tok->added.order[i]];
        if (model_token_to_id(tok->model, t->content, t->len) < 0) n++;
    }
    tok->vocab_size = n > INT32_MAX ? INT32_MAX : (int32_t)n;
}

mlm_status tokenizer_from_json(cJSON *doc, const char *name, mlm_tokenizer **out)
{
    *out = NULL;
    if (!cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        return err_set(MLM_ERR_FORMAT, "%s: expected a JSON object", name);
    }
    mlm_tokenizer *tok = mem_calloc(1, sizeof *tok);
    if (!tok) {
        cJSON_Delete(doc);
        return err_oom();
    }
    pthread_mutex_init(&tok->lock, NULL);
    tok->json = doc;
    tok->model_max_length = INT64_MAX;
    mlm_status st;
    const cJSON *j;
    j = cJSON_GetObjectItemCaseSensitive(doc, "model");
    if (!j) {
        st = err_set(MLM_ERR_FORMAT, "model: missing");
        goto fail;
    }
    if ((st = model_parse(j, "model", &tok->model))) goto fail;
    j = cJSON_GetObjectItemCaseSensitive(doc, "normalizer");
    if (j && !cJSON_IsNull(j) && (st = normalizer_parse(j, "normalizer", &tok->norm))) goto fail;
    j = cJSON_GetObjectItemCaseSensitive(doc, "pre_tokenizer");
    if (j && !cJSON_IsNull(j) && (st = pretokenizer_parse(j, "pre_tokenizer", &tok->pre)))
        goto fail;
    j = cJSON_GetObjectItemCaseSensitive(doc, "post_processor");
    if (j && !cJSON_IsNull(j) && (st = postproc_parse(j, "post_processor", &tok->post))) goto fail;
    j = cJSON_GetObjectItemCaseSensitive(doc, "decoder");
    if (j && !cJSON_IsNull(j) && (st = decoder_parse(j, "decoder", &tok->dec))) goto fail;
    if ((st = added_vocab_parse(&tok->added, cJSON_GetObjectItemCaseSensitive(doc, "added_tokens"),
                                tok->model, tok->norm)))
        goto fail;
    if ((st = parse_truncation(tok, cJSON_GetObjectItemCaseSensitive(doc, "truncation"))) ||
        (st = parse_padding(tok, cJSON_GetObjectItemCaseSensitive(doc, "padding"))))
        goto fail;
    if ((st = guess_roles(tok))) goto fail;
    count_vocab(tok);
    tok->cleanup_default = tok->model->kind == MODEL_WORDPIECE;
    *out = tok;
    return MLM_OK;
fail:
    mlm_tokenizer_free(tok);
    return err_prefix(st, "%s: ", name);
}

MLM_API mlm_status mlm_tokenizer_load_json(const char *json, size_t len, mlm_tokenizer **out)
{
    if (!out) return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_tokenizer_load_json: out is NULL");
    *out = NULL;
    if (!json) return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_tokenizer_load_json: json is NULL");
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!doc) {
        size_t off = end && end >= json ? (size_t)(end - json) : 0;
        return err_set(MLM_ERR_FORMAT, "tokenizer.json: invalid JSON near byte %zu", off);
    }
    return tokenizer_from_json(doc, "tokenizer.json", out);
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return mem_strdup(".");
    return mem_strndup(path, (size_t)(slash - path) ? (size_t)(slash - path) : 1);
}

static mlm_status load_file(const char *path, mlm_tokenizer **out)
{
    char *data;
    size_t len;
    mlm_status st = file_read_all(path, TOKENIZER_FILE_MAX, &data, &len);
    if (st) return st;
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(data, len, &end, 0);
    if (!doc) {
        size_t off = end ? (size_t)(end - data) : 0;
        mem_free(data);
        return err_set(MLM_ERR_FORMAT, "%s: invalid JSON near byte %zu", path, off);
    }
    mem_free(data);
    return tokenizer_from_json(doc, path, out);
}

MLM_API mlm_status mlm_tokenizer_load(const char *path, mlm_tokenizer **out)
{
    if (!out) return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_tokenizer_load: out is NULL");
    *out = NULL;
    if (!path) return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_tokenizer_load: path is NULL");
    mlm_status st;
    mlm_tokenizer *tok = NULL;
    char *dir;
    const char *implied = NULL; /* the class legacy files imply */
    if (is_dir(path)) {
        dir = mem_strdup(path);
        char *tj = dir ? path_join_alloc(dir, "tokenizer.json") : NULL;
        char *vt = dir ? path_join_alloc(dir, "vocab.txt") : NULL;
        char *vj = dir ? path_join_alloc(dir, "vocab.json") : NULL;
        char *mt = dir ? path_join_alloc(dir, "merges.txt") : NULL;
        if (!tj || !vt || !vj || !mt) st = err_oom();
        else if (exists(tj)) st = load_file(tj, &tok);
        else if (exists(vt) || (exists(vj) && exists(mt))) {
            cJSON *doc = NULL;
            implied = exists(vt) ? "BertTokenizer" : "RobertaTokenizer";
            st = exists(vt) ? legacy_bert_json(dir, &doc) : legacy_roberta_json(dir, &doc);
            if (!st) st = tokenizer_from_json(doc, exists(vt) ? vt : vj, &tok);
        } else {
            st = err_set(MLM_ERR_NOT_FOUND,
                         "%s: no tokenizer.json, vocab.txt or vocab.json + merges.txt", path);
        }
        mem_free(tj);
        mem_free(vt);
        mem_free(vj);
        mem_free(mt);
    } else {
        dir = dir_of(path);
        st = dir ? load_file(path, &tok) : err_oom();
    }
    if (!st) st = tokenizer_apply_config(tok, dir, implied);
    mem_free(dir);
    if (st) {
        mlm_tokenizer_free(tok);
        return st;
    }
    *out = tok;
    return MLM_OK;
}

/* dir/name parsed, or NULL when the file is absent; a file that is there
 * but not a JSON object is an error naming it and the byte at fault. */
static mlm_status read_side_file(const char *dir, const char *name, cJSON **out)
{
    *out = NULL;
    char *path = path_join_alloc(dir, name);
    if (!path) return err_oom();
    mlm_status st = MLM_OK;
    char *data = NULL;
    size_t len;
    if (exists(path) && !(st = file_read_all(path, TOKENIZER_FILE_MAX, &data, &len))) {
        const char *end = NULL;
        *out = cJSON_ParseWithLengthOpts(data, len, &end, 0);
        if (!cJSON_IsObject(*out)) {
            size_t off = *out ? 0 : end ? (size_t)(end - data) : 0;
            cJSON_Delete(*out);
            *out = NULL;
            st = err_set(MLM_ERR_FORMAT, "%s: expected a JSON object (invalid near byte %zu)",
                         path, off);
        }
    }
    mem_free(data);
    mem_free(path);
    return st;
}

mlm_status tokenizer_apply_config(mlm_tokenizer *tok, const char *dir, const char *implied_class)
{
    cJSON *cfg = NULL, *map = NULL, *model_cfg = NULL;
    mlm_status st = read_side_file(dir, "tokenizer_config.json", &cfg);
    if (!st) st = read_side_file(dir, "special_tokens_map.json", &map);
    /* config.json only names the model type; a broken one is the model
     * loader's to report. */
    if (!st && read_side_file(dir, "config.json", &model_cfg)) mlm_clear_error();
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(model_cfg, "model_type");
    if (!st)
        st = configure_roles(tok, cfg, map, cJSON_IsString(mt) ? mt->valuestring : NULL,
                             implied_class);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(cfg, "model_max_length");
    if (!st && cJSON_IsNumber(m) && m->valuedouble >= 0)
        tok->model_max_length = m->valuedouble >= 9.2e18 ? INT64_MAX : (int64_t)m->valuedouble;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(cfg, "clean_up_tokenization_spaces");
    if (!st && cJSON_IsBool(c)) tok->cleanup_default = cJSON_IsTrue(c);
    cJSON_Delete(cfg);
    cJSON_Delete(map);
    cJSON_Delete(model_cfg);
    return st;
}

/* ----------------------------------------------------------- vocabulary */

MLM_API int32_t mlm_tokenizer_vocab_size(const mlm_tokenizer *tok)
{
    return tok ? tok->vocab_size : 0;
}

MLM_API int32_t mlm_tokenizer_token_to_id(const mlm_tokenizer *tok, const char *token)
{
    if (!tok || !token) return -1;
    return token_id(tok, token, strlen(token));
}

MLM_API const char *mlm_tokenizer_id_to_token(const mlm_tokenizer *tok, int32_t id)
{
    if (!tok) return NULL;
    const added_token *a = added_vocab_by_id(&tok->added, id);
    /* HF gives a normalized added token back in its normalized form. */
    if (a) return a->pattern;
    return model_id_to_token(tok->model, id);
}

MLM_API int32_t mlm_tokenizer_special_id(const mlm_tokenizer *tok, mlm_special_token role)
{
    if (!tok || (int)role < 0 || (int)role > 6 || !tok->special[role]) return -1;
    return token_id(tok, tok->special[role], strlen(tok->special[role]));
}

MLM_API const char *mlm_tokenizer_special_token(const mlm_tokenizer *tok, mlm_special_token role)
{
    if (!tok || (int)role < 0 || (int)role > 6) return NULL;
    return tok->special[role];
}

MLM_API mlm_status mlm_tokenizer_set_special(mlm_tokenizer *tok, mlm_special_token role,
                                             const char *token)
{
    if (!tok || !token || (int)role < 0 || (int)role > 6)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_tokenizer_set_special: bad argument");
    if (token_id(tok, token, strlen(token)) < 0)
        return err_set(MLM_ERR_NOT_FOUND, "mlm_tokenizer_set_special: '%s' is not a token", token);
    char *c = mem_strdup(token);
    if (!c) return err_oom();
    mem_free(tok->special[role]);
    tok->special[role] = c;
    return MLM_OK;
}

MLM_API int64_t mlm_tokenizer_model_max_length(const mlm_tokenizer *tok)
{
    return tok ? tok->model_max_length : 0;
}

/* ------------------------------------------------------------- settings */

MLM_API mlm_status mlm_tokenizer_set_truncation(mlm_tokenizer *tok, int32_t max_length,
                                                int32_t stride, mlm_truncation_strategy strategy,
                                                mlm_side direction)
{
    if (!tok || max_length < 0 || stride < 0 || (int)strategy < 0 || (int)strategy > 2 ||
        ((int)direction != 0 && (int)direction != 1))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_tokenizer_set_truncation: bad argument");
    if (max_length == 0) {
        tok->enc.trunc_on = 0;
        return MLM_OK;
    }
    size_t added = postproc_added_tokens(tok->post, 0);
    if ((size_t)max_length < added || (size_t)max_length - added <= (size_t)stride)
        return err_set(MLM_ERR_RANGE,
                       "truncation: stride %d must be below max_length %d minus the %zu special "
                       "tokens",
                       (int)stride, (int)max_length, added);
    tok->enc.trunc_on = 1;
    tok->enc.trunc_max = (size_t)max_length;
    tok->enc.trunc_stride = (size_t)stride;
    tok->enc.trunc_strategy = strategy;
    tok->enc.trunc_left = direction == MLM_SIDE_LEFT;
    return MLM_OK;
}

MLM_API mlm_status mlm_tokenizer_set_padding(mlm_tokenizer *tok, int32_t length,
                                             int32_t pad_to_multiple_of, mlm_side direction)
{
    if (!tok || length == 0 || pad_to_multiple_of < 0 ||
        ((int)direction != 0 && (int)direction != 1))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_tokenizer_set_padding: bad argument");
    tok->enc.pad_on = 1;
    tok->enc.pad_len = length < 0 ? 0 : (size_t)length;
    tok->enc.pad_multiple = (size_t)pad_to_multiple_of;
    tok->enc.pad_left = direction == MLM_SIDE_LEFT;
    tok->pad_type_id = 0;
    /* The pad token is resolved at encode time (it may change). */
    mem_free(tok->pad_token);
    tok->pad_token = NULL;
    return MLM_OK;
}

MLM_API mlm_status mlm_tokenizer_disable_padding(mlm_tokenizer *tok)
{
    if (!tok) return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_tokenizer_disable_padding: NULL");
    tok->enc.pad_on = 0;
    return MLM_OK;
}

/* ------------------------------------------------------------- encoding */

static encode_ctx *ctx_get(const mlm_tokenizer *ctok)
{
    mlm_tokenizer *tok = (mlm_tokenizer *)ctok; /* the pool is mutable state */
    pthread_mutex_lock(&tok->lock);
    encode_ctx *c = tok->ctx_pool;
    if (c) tok->ctx_pool = c->next;
    pthread_mutex_unlock(&tok->lock);
    if (!c) c = mem_calloc(1, sizeof *c);
    return c;
}

static void ctx_put(const mlm_tokenizer *ctok, encode_ctx *c)
{
    mlm_tokenizer *tok = (mlm_tokenizer *)ctok;
    if (!c) return;
    pthread_mutex_lock(&tok->lock);
    c->next = tok->ctx_pool;
    tok->ctx_pool = c;
    pthread_mutex_unlock(&tok->lock);
}

/* HF's BytesToCharOffsetConverter. */
static void to_chars(const encode_ctx *c, int ascii, size_t len, uint32_t bs, uint32_t be,
                     uint32_t *cs, uint32_t *ce)
{
    if (ascii) {
        *cs = bs;
        *ce = be;
        return;
    }
    if (bs >= len) { /* not in the map: offsets stay as they are */
        *cs = bs;
        *ce = be;
        return;
    }
    *cs = c->cmap[bs];
    if (be < len) *ce = c->cmap[be];
    else if (be >= 1 && be - 1 < len) *ce = c->cmap[be - 1] + 1;
    else *ce = *cs + 1;
}

/* One sequence through added tokens, normalizer, pre-tokenizer and model:
 * HF's encode_single_sequence. */
static mlm_status encode_one(const mlm_tokenizer *tok, encode_ctx *c, const char *text, size_t len,
                             int32_t type_id, mlm_encoding **out)
{
    *out = NULL;
    size_t bad;
    if (!utf8_valid(text, len, &bad))
        return err_set(MLM_ERR_FORMAT, "invalid UTF-8 at byte offset %zu", bad);
    if (len > MAX_TEXT_BYTES)
        return err_set(MLM_ERR_RANGE, "text of %zu bytes is too long", len);
    int ascii = 1;
    for (size_t i = 0; i < len && ascii; i++)
        ascii = (unsigned char)text[i] < 0x80;
    if (!ascii) {
        if (c->cmap_cap < len) {
            uint32_t *m = mem_realloc(c->cmap, len * sizeof *m);
            if (!m) return err_oom();
            c->cmap = m;
            c->cmap_cap = len;
        }
        uint32_t ci = 0;
        for (size_t i = 0; i < len;) {
            size_t k = utf8_len_of((unsigned char)text[i]);
            for (size_t j = 0; j < k && i + j < len; j++)
                c->cmap[i + j] = ci;
            i += k;
            ci++;
        }
    }
    ns_buf *b = &c->b;
    if (ns_start(b, text, len)) return ns_error(b);
    if (added_vocab_extract(&tok->added, tok->norm, b)) return ns_error(b);
    if (tok->pre && pretokenizer_apply(tok->pre, b)) return ns_error(b);
    mlm_encoding *e = enc_new();
    if (!e) return err_oom();
    for (size_t pi = 0; pi < b->n; pi++) {
        ns_piece *pc = &b->p[pi];
        const char *ptext = ns_text(b, pc);
        uint32_t os, oe, cs, ce;
        if (pc->added_id >= 0) {
            ns_orig_span(b, pc, 0, pc->len, &os, &oe);
            to_chars(c, ascii, len, os, oe, &cs, &ce);
            if (enc_push(e, pc->added_id, ptext, pc->len, type_id, (int32_t)pi, os, oe, cs, ce, 0,
                         1))
                goto oom;
            continue;
        }
        c->tv.n = 0;
        int rc = model_tokenize(tok->model, ptext, pc->len, &c->tv, &c->ms);
        if (rc == -1) goto oom;
        if (rc) {
            mlm_encoding_free(e);
            return MLM_ERR_FORMAT;
        }
        ptext = ns_text(b, pc);
        for (size_t k = 0; k < c->tv.n; k++) {
            model_tok t = c->tv.t[k];
            const char *s;
            size_t slen;
            if (t.raw) {
                s = ptext + t.s;
                slen = t.e - t.s;
            } else {
                s = model_id_to_token_len(tok->model, t.id, &slen);
                if (!s) s = "";
            }
            ns_orig_span(b, pc, t.s, t.e, &os, &oe);
            to_chars(c, ascii, len, os, oe, &cs, &ce);
            if (enc_push(e, t.id, s, slen, type_id, (int32_t)pi, os, oe, cs, ce, 0, 1)) goto oom;
        }
    }
    *out = e;
    return MLM_OK;
oom:
    mlm_encoding_free(e);
    return err_oom();
}

/* HF's truncate_encodings. */
static mlm_status truncate_pair(const encode_call *s, mlm_encoding *a, mlm_encoding *b,
                                size_t max)
{
    size_t stride = s->trunc_stride;
    int left = s->trunc_left;
    if (max == 0) {
        if (enc_truncate(a, 0, stride, left) || (b && enc_truncate(b, 0, stride, left)))
            return err_oom();
        return MLM_OK;
    }
    size_t total = a->n + (b ? b->n : 0);
    if (total <= max) return MLM_OK;
    size_t to_remove = total - max;
    switch (s->trunc_strategy) {
    case MLM_TRUNCATE_LONGEST_FIRST:
        if (b) {
            size_t n1 = a->n, n2 = b->n;
            int swap = n1 > n2;
            if (swap) {
                size_t t = n1;
                n1 = n2;
                n2 = t;
            }
            if (n1 > max) n2 = n1;
            else n2 = n1 > max - n1 ? n1 : max - n1;
            if (n1 + n2 > max) {
                n1 = max / 2;
                n2 = n1 + max % 2;
            }
            if (swap) {
                size_t t = n1;
                n1 = n2;
                n2 = t;
            }
            if ((n1 < a->n && stride >= n1) || (n2 < b->n && stride >= n2))
                return err_set(MLM_ERR_RANGE, "truncation: stride %zu must be below the length",
                               stride);
            if (enc_truncate(a, n1, stride, left) || enc_truncate(b, n2, stride, left))
                return err_oom();
        } else {
            if (stride >= max) return err_set(MLM_ERR_RANGE, "truncation: stride too large");
            if (enc_truncate(a, total - to_remove, stride, left)) return err_oom();
        }
        return MLM_OK;
    case MLM_TRUNCATE_ONLY_FIRST:
    case MLM_TRUNCATE_ONLY_SECOND: {
        mlm_encoding *t = s->trunc_strategy == MLM_TRUNCATE_ONLY_FIRST ? a : b;
        if (!t) return err_set(MLM_ERR_INVALID_ARGUMENT,
                               "truncation: only_second needs a second sequence");
        if (t->n <= to_remove)
            return err_set(MLM_ERR_RANGE,
                           "truncation: the sequence to truncate is too short for max_length");
        if (stride >= t->n - to_remove) return err_set(MLM_ERR_RANGE, "truncation: stride too large");
        if (enc_truncate(t, t->n - to_remove, stride, left)) return err_oom();
        return MLM_OK;
    }
    }
    return MLM_OK;
}

static mlm_status pad_params(const mlm_tokenizer *tok, int32_t *id, const char **token)
{
    if (tok->pad_token) {
        *id = tok->pad_id;
        *token = tok->pad_token;
        return MLM_OK;
    }
    const char *p = tok->special[MLM_TOKEN_PAD];
    int32_t pid = p ? token_id(tok, p, strlen(p)) : -1;
    if (pid < 0) return err_set(MLM_ERR_STATE, "padding: the tokenizer has no pad token");
    *id = pid;
    *token = p;
    return MLM_OK;
}

static size_t pad_target(const encode_call *s, size_t longest)
{
    size_t n = s->pad_len ? s->pad_len : longest;
    size_t m = s->pad_multiple;
    if (m > 0 && n % m) n += m - n % m;
    return n;
}

/* encode + post_process (without the final padding of a batch). */
static mlm_status encode_full(const mlm_tokenizer *tok, const encode_call *s, encode_ctx *c,
                              const char *text, size_t len, const char *pair, size_t pair_len,
                              int add_special, mlm_encoding **out)
{
    *out = NULL;
    mlm_encoding *a = NULL, *b = NULL;
    mlm_status st = encode_one(tok, c, text, len, 0, &a);
    if (st) return st;
    if (pair && (st = encode_one(tok, c, pair, pair_len, 1, &b))) {
        mlm_encoding_free(a);
        return err_prefix(st, "pair: ");
    }
    if (s->trunc_on) {
        size_t added = add_special ? postproc_added_tokens(tok->post, b != NULL) : 0;
        size_t max = s->trunc_max > added ? s->trunc_max - added : 0;
        if ((st = truncate_pair(s, a, b, max))) {
            mlm_encoding_free(a);
            mlm_encoding_free(b);
            return st;
        }
    }
    mlm_encoding *e;
    if (postproc_process(tok->post, a, b, add_special, &e)) return err_oom();
    *out = e;
    return MLM_OK;
}

static mlm_status finish(const mlm_tokenizer *tok, const encode_call *s, mlm_encoding **encs,
                         size_t n)
{
    if (s->pad_on) {
        int32_t pid;
        const char *ptok;
        mlm_status st = pad_params(tok, &pid, &ptok);
        if (st) return st;
        size_t longest = 0;
        for (size_t i = 0; i < n; i++)
            if (encs[i]->n > longest) longest = encs[i]->n;
        size_t target = pad_target(s, longest);
        for (size_t i = 0; i < n; i++)
            if (enc_pad(encs[i], target, pid, tok->pad_type_id, ptok, s->pad_left))
                return err_oom();
    }
    for (size_t i = 0; i < n; i++)
        if (enc_finish(encs[i])) return err_oom();
    return MLM_OK;
}

MLM_API mlm_status mlm_tokenizer_encode(const mlm_tokenizer *tok, const char *text, size_t len,
                                        const char *pair, size_t pair_len,
                                        int add_special_tokens, mlm_encoding **out)
{
    if (!out) return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_tokenizer_encode: out is NULL");
    *out = NULL;
    if (!tok || (!text && len))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_tokenizer_encode: NULL argument");
    if (!text) text = "";
    encode_ctx *c = ctx_get(tok);
    if (!c) return err_oom();
    mlm_encoding *e;
    mlm_status st = encode_full(tok, &tok->enc, c, text, len, pair ? pair : NULL, pair_len,
                                add_special_tokens, &e);
    ctx_put(tok, c);
    if (st) return st;
    if ((st = finish(tok, &tok->enc, &e, 1))) {
        mlm_encoding_free(e);
        return st;
    }
    *out = e;
    return MLM_OK;
}

typedef struct batch_job {
    const mlm_tokenizer *tok;
    const encode_call *call;
    const char *const *texts, *const *pairs;
    const size_t *lens, *pair_lens; /* NULL: NUL-terminated */
    size_t n, next_shared;
    int add_special;
    mlm_encoding **out;
    pthread_mutex_t lock;
    size_t fail_index;
    mlm_status fail_status;
    char fail_msg[512];
} batch_job;

static void *batch_worker(void *arg)
{
    batch_job *job = arg;
    encode_ctx *c = ctx_get(job->tok);
    for (;;) {
        pthread_mutex_lock(&job->lock);
        size_t start = job->next_shared;
        int stop = job->fail_status != MLM_OK || start >= job->n;
        size_t chunk = 16;
        if (!stop) job->next_shared = start + chunk < job->n ? start + chunk : job->n;
        size_t end = job->next_shared;
        pthread_mutex_unlock(&job->lock);
        if (stop) break;
        for (size_t i = start; i < end; i++) {
            const char *p = job->pairs ? job->pairs[i] : NULL;
            const char *t = job->texts[i] ? job->texts[i] : "";
            size_t tl = job->lens ? job->lens[i] : strlen(t);
            size_t pl = !p ? 0 : job->pair_lens ? job->pair_lens[i] : strlen(p);
            mlm_status st = c ? encode_full(job->tok, job->call, c, t, tl, p, pl,
                                            job->add_special, &job->out[i])
                              : err_oom();
            if (st) {
                pthread_mutex_lock(&job->lock);
                if (job->fail_status == MLM_OK || i < job->fail_index) {
                    job->fail_status = st;
                    job->fail_index = i;
                    snprintf(job->fail_msg, sizeof job->fail_msg, "%s", mlm_last_error());
                }
                pthread_mutex_unlock(&job->lock);
                break;
            }
        }
    }
    ctx_put(job->tok, c);
    return NULL;
}

/* Both batch entry points: lens/pair_lens NULL for NUL-terminated texts. */
static mlm_status encode_batch(const mlm_tokenizer *tok, const encode_call *call,
                               const char *const *texts, const size_t *lens,
                               const char *const *pairs, const size_t *pair_lens, size_t n,
                               int add_special_tokens, int nthreads, mlm_encoding **out)
{
    if (n == 0) return MLM_OK;
    memset(out, 0, n * sizeof *out);
    if (nthreads <= 0) nthreads = mlm_default_threads();
    if ((size_t)nthreads > (n + 15) / 16) nthreads = (int)((n + 15) / 16);
    if (nthreads > 256) nthreads = 256;
    batch_job job = {.tok = tok, .call = call, .texts = texts, .pairs = pairs, .lens = lens,
                     .pair_lens = pair_lens, .n = n, .add_special = add_special_tokens,
                     .out = out};
    pthread_mutex_init(&job.lock, NULL);
    pthread_t th[256];
    int started = 0;
    for (int i = 1; i < nthreads; i++) {
        if (pthread_create(&th[started], NULL, batch_worker, &job)) break;
        started++;
    }
    batch_worker(&job);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&job.lock);
    mlm_status st = job.fail_status;
    if (st) err_set(st, "text %zu: %s", job.fail_index, job.fail_msg);
    else st = finish(tok, call, out, n);
    if (st) {
        for (size_t i = 0; i < n; i++) {
            mlm_encoding_free(out[i]);
            out[i] = NULL;
        }
    }
    return st;
}

MLM_API mlm_status mlm_tokenizer_encode_batch(const mlm_tokenizer *tok, const char *const *texts,
                                              const char *const *pairs, size_t n,
                                              int add_special_tokens, int nthreads,
                                              mlm_encoding **out)
{
    if (!tok || (!texts && n) || (!out && n))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_tokenizer_encode_batch: NULL argument");
    return encode_batch(tok, &tok->enc, texts, NULL, pairs, NULL, n, add_special_tokens,
                        nthreads, out);
}

MLM_API mlm_status mlm_tokenizer_encode_batch_len(const mlm_tokenizer *tok,
                                                  const char *const *texts, const size_t *lens,
                                                  const char *const *pairs,
                                                  const size_t *pair_lens, size_t n,
                                                  int add_special_tokens, int nthreads,
                                                  mlm_encoding **out)
{
    if (!tok || (n && (!texts || !lens || !out)))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_tokenizer_encode_batch_len: NULL argument");
    if (!pairs != !pair_lens)
        return err_set(MLM_ERR_INVALID_ARGUMENT,
                       "mlm_tokenizer_encode_batch_len: pairs and pair_lens must both be given "
                       "or both be NULL");
    for (size_t i = 0; i < n; i++)
        if (!texts[i] && lens[i])
            return err_set(MLM_ERR_INVALID_ARGUMENT,
                           "mlm_tokenizer_encode_batch_len: text %zu is NULL with length %zu", i,
                           lens[i]);
    return encode_batch(tok, &tok->enc, texts, lens, pairs, pair_lens, n, add_special_tokens,
                        nthreads, out);
}

mlm_status tokenizer_encode_batch_call(const mlm_tokenizer *tok, const char *const *texts,
                                       const char *const *pairs, size_t n,
                                       int add_special_tokens, const encode_call *call,
                                       int nthreads, mlm_encoding **out)
{
    if (call->trunc_on) {
        /* as mlm_tokenizer_set_truncation checks it */
        size_t added = add_special_tokens ? postproc_added_tokens(tok->post, pairs != NULL) : 0;
        if (call->trunc_max <= added || call->trunc_max - added <= call->trunc_stride)
            return err_set(MLM_ERR_RANGE, "truncation: max_length %zu leaves no room beside "
                           "the %zu special tokens (stride %zu)", call->trunc_max, added,
                           call->trunc_stride);
    }
    return encode_batch(tok, call, texts, NULL, pairs, NULL, n, add_special_tokens, nthreads,
                        out);
}

/* ------------------------------------------------------------- decoding */

mlm_status tokenizer_decode_alloc(const mlm_tokenizer *tok, const int32_t *ids, size_t n,
                                  int skip_special_tokens, int clean_up_spaces, char **out,
                                  size_t *out_len)
{
    *out = NULL;
    strlist l = {0};
    for (size_t i = 0; i < n; i++) {
        const char *s = mlm_tokenizer_id_to_token(tok, ids[i]);
        if (!s) continue;
        size_t len = strlen(s);
        if (skip_special_tokens) {
            const added_token *a = added_vocab_find(&tok->added, s, len);
            if (a && a->special) continue;
        }
        if (strlist_push(&l, s, len)) {
            strlist_free(&l);
            return err_oom();
        }
    }
    if (tok->dec && decoder_chain(tok->dec, &l)) {
        strlist_free(&l);
        return err_oom();
    }
    /* Join: decoders' output concatenated; without a decoder, spaces. */
    size_t total = 0;
    for (size_t i = 0; i < l.n; i++)
        total += l.len[i] + 1;
    char *text = mem_alloc(total + 1);
    if (!text) {
        strlist_free(&l);
        return err_oom();
    }
    size_t w = 0;
    for (size_t i = 0; i < l.n; i++) {
        if (!tok->dec && i > 0) text[w++] = ' ';
        memcpy(text + w, l.s[i], l.len[i]);
        w += l.len[i];
    }
    text[w] = '\0';
    strlist_free(&l);
    int clean = clean_up_spaces < 0 ? tok->cleanup_default : clean_up_spaces > 0;
    if (clean) w = clean_up_tokenization(text, w);
    *out = text;
    if (out_len) *out_len = w;
    return MLM_OK;
}

MLM_API mlm_status mlm_tokenizer_decode(const mlm_tokenizer *tok, const int32_t *ids, size_t n,
                                        int skip_special_tokens, int clean_up_spaces, char *buf,
                                        size_t cap, size_t *needed)
{
    if (needed) *needed = 0;
    if (!tok || (!ids && n) || (!buf && cap))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_tokenizer_decode: bad argument");
    char *text = NULL;
    size_t w = 0;
    mlm_status st = tokenizer_decode_alloc(tok, ids, n, skip_special_tokens, clean_up_spaces,
                                           &text, &w);
    if (st != MLM_OK) return st;
    if (needed) *needed = w + 1;
    if (cap) {
        size_t k = w < cap - 1 ? w : cap - 1;
        memcpy(buf, text, k);
        buf[k] = '\0';
    }
    mem_free(text);
    return MLM_OK;
}

/* ----------------------------------------------------------------- save */

static cJSON *truncation_json(const mlm_tokenizer *tok)
{
    if (!tok->enc.trunc_on) return cJSON_CreateNull();
    static const char *const strat[] = {"LongestFirst", "OnlyFirst", "OnlySecond"};
    cJSON *t = cJSON_CreateObject();
    if (!t) return NULL;
    cJSON_AddStringToObject(t, "direction", tok->enc.trunc_left ? "Left" : "Right");
    cJSON_AddNumberToObject(t, "max_length", (double)tok->enc.trunc_max);
    cJSON_AddStringToObject(t, "strategy", strat[tok->enc.trunc_strategy]);
    cJSON_AddNumberToObject(t, "stride", (double)tok->enc.trunc_stride);
    return t;
}

static cJSON *padding_json(const mlm_tokenizer *tok)
{
    int32_t pid;
    const char *ptok;
    if (!tok->enc.pad_on || pad_params(tok, &pid, &ptok)) return cJSON_CreateNull();
    cJSON *p = cJSON_CreateObject();
    if (!p) return NULL;
    if (tok->enc.pad_len) {
        cJSON *s = cJSON_AddObjectToObject(p, "strategy");
        if (s) cJSON_AddNumberToObject(s, "Fixed", (double)tok->enc.pad_len);
    } else {
        cJSON_AddStringToObject(p, "strategy", "BatchLongest");
    }
    cJSON_AddStringToObject(p, "direction", tok->enc.pad_left ? "Left" : "Right");
    if (tok->enc.pad_multiple) cJSON_AddNumberToObject(p, "pad_to_multiple_of", (double)tok->enc.pad_multiple);
    else cJSON_AddNullToObject(p, "pad_to_multiple_of");
    cJSON_AddNumberToObject(p, "pad_id", pid);
    cJSON_AddNumberToObject(p, "pad_type_id", tok->pad_type_id);
    cJSON_AddStringToObject(p, "pad_token", ptok);
    return p;
}

MLM_API mlm_status mlm_tokenizer_save(const mlm_tokenizer *tok, const char *path)
{
    if (!tok || !path) return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_tokenizer_save: NULL");
    cJSON *doc = cJSON_Duplicate(tok->json, 1);
    if (!doc) return err_oom();
    cJSON *t = truncation_json(tok), *p = padding_json(tok);
    if (!t || !p) {
        cJSON_Delete(t);
        cJSON_Delete(p);
        cJSON_Delete(doc);
        return err_oom();
    }
    if (cJSON_GetObjectItemCaseSensitive(doc, "truncation"))
        cJSON_ReplaceItemInObjectCaseSensitive(doc, "truncation", t);
    else
        cJSON_AddItemToObject(doc, "truncation", t);
    if (cJSON_GetObjectItemCaseSensitive(doc, "padding"))
        cJSON_ReplaceItemInObjectCaseSensitive(doc, "padding", p);
    else
        cJSON_AddItemToObject(doc, "padding", p);
    char *text = cJSON_Print(doc);
    cJSON_Delete(doc);
    if (!text) return err_oom();
    size_t plen = strlen(path);
    char *tmp = mem_alloc(plen + 16);
    if (!tmp) {
        cJSON_free(text);
        return err_oom();
    }
    snprintf(tmp, plen + 16, "%s.tmp%ld", path, (long)getpid() % 100000);
    mlm_status st = MLM_OK;
    FILE *f = fopen(tmp, "wb");
    if (!f) st = err_set(MLM_ERR_IO, "%s: %s", tmp, strerror(errno));
    else {
        size_t len = strlen(text);
        int bad = fwrite(text, 1, len, f) != len;
        bad |= fflush(f) != 0;
        bad |= fsync(fileno(f)) != 0;
        bad |= fclose(f) != 0;
        if (bad) st = err_set(MLM_ERR_IO, "%s: write failed", tmp);
        else if (rename(tmp, path)) st = err_set(MLM_ERR_IO, "%s: %s", path, strerror(errno));
        if (st) remove(tmp);
    }
    cJSON_free(text);
    mem_free(tmp);
    return st;
}
