/* The summarization pipeline, with transformers' SummarizationPipeline
 * semantics (pipelines/text2text_generation.py, 4.56):
 *   - Pipeline.__init__ copies the model's generation config and updates it
 *     with config.task_specific_params["summarization"], whose "prefix" the
 *     pipeline keeps for itself; the caller's options go over both as
 *     generate()'s keyword arguments;
 *   - _parse_and_tokenize: prefix + text, tokenized with special tokens,
 *     truncated only when asked;
 *   - SummarizationPipeline.check_inputs warns when max_length is above the
 *     input's length and when min_length is above max_length (min_length and
 *     max_length as the caller gave them, else the pipeline's config);
 *   - postprocess: {"summary_text": decode(ids, skip_special_tokens=True,
 *     clean_up_tokenization_spaces)} per returned sequence, or with
 *     return_tensors {"summary_token_ids": ids}.
 * A list of texts runs through HF's pipeline one text at a time; here they
 * share one padded generate() call, whose batched beam search gives each
 * text what it gives alone (the per-input stopping of 4.56), and each
 * result's ids are cut to the length that text's own call would return. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/threads.h"
#include "generation/generation_impl.h"
#include "io/json.h"
#include "io/strbuf.h"
#include "mlm/pipeline.h"
#include "nn/family.h"
#include "nn/model_impl.h"
#include "pipeline/load.h"
#include "text/decoder.h"

struct mlm_summarizer {
    const mlm_model *model;
    const mlm_tokenizer *tok;
    mlm_model *own_model;
    mlm_tokenizer *own_tok;
    int nthreads;
    par_pool *pool;
    mlm_generation_config gen; /* the model's, the task's, then the caller's */
    char *prefix;
    int truncation, return_tensors, cleanup; /* cleanup: -1 the tokenizer's */
    int32_t pad_id;
};

struct mlm_summary {
    size_t n;
    char **text;        /* n, or NULL with return_tensors */
    int32_t **ids;      /* n */
    size_t *len;        /* n */
    int tensors;
    gen_warnings warn;
};

/* ---------------------------------------------------------------- options */

static mlm_status apply_task_params(mlm_summarizer *s)
{
    const cJSON *cfg = s->model->family->s2s->config_doc(s->model);
    const cJSON *tsp = cfg ? cJSON_GetObjectItemCaseSensitive(cfg, "task_specific_params") : NULL;
    const cJSON *sum = cJSON_IsObject(tsp) ? cJSON_GetObjectItemCaseSensitive(tsp, "summarization")
                                           : NULL;
    if (!cJSON_IsObject(sum))
        return MLM_OK;
    for (const cJSON *m = sum->child; m; m = m->next) {
        if (strcmp(m->string, "prefix") == 0) {
            if (cJSON_IsString(m) && !(s->prefix = mem_strdup(m->valuestring)))
                return err_oom();
            continue;
        }
        mlm_status st = gen_config_apply(&s->gen, m->string, m, 0,
                                         "config.json: task_specific_params.summarization: ");
        if (st != MLM_OK)
            return st;
    }
    return MLM_OK;
}

mlm_status mlm_summarizer_new(const mlm_model *model, const mlm_tokenizer *tok,
                              mlm_summarizer **out)
{
    if (!out)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_summarizer_new: out is NULL");
    *out = NULL;
    if (!model || !tok)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_summarizer_new: model or tokenizer is NULL");
    mlm_status st = model_require_family(model, MLM_FAMILY_ENCODER_DECODER, "summarization");
    if (st != MLM_OK)
        return st;
    int32_t tv = mlm_tokenizer_vocab_size(tok), mv = mlm_model_vocab_size(model);
    if (tv > mv)
        return err_set(MLM_ERR_INVALID_ARGUMENT,
                       "model and tokenizer do not match: the tokenizer has %d ids but the "
                       "model's vocab_size is %d",
                       (int)tv, (int)mv);
    mlm_summarizer *s = mem_calloc(1, sizeof *s);
    if (!s)
        return err_oom();
    s->model = model;
    s->tok = tok;
    s->nthreads = 1;
    s->cleanup = -1;
    s->pad_id = mlm_tokenizer_special_id(tok, MLM_TOKEN_PAD);
    mlm_generation_config *g = NULL;
    st = mlm_generation_config_new(model, &g);
    if (st == MLM_OK) {
        s->gen = *g; /* take over its lists */
        mem_free(g);
        st = apply_task_params(s);
    } else {
        gen_config_reset(&s->gen);
    }
    if (st != MLM_OK) {
        mlm_summarizer_free(s);
        return st;
    }
    *out = s;
    return MLM_OK;
}

mlm_status mlm_summarizer_load(const char *dir, mlm_summarizer **out)
{
    return mlm_summarizer_load_dtype(dir, MLM_DTYPE_F32, out);
}

mlm_status mlm_summarizer_load_dtype(const char *dir, mlm_dtype dtype, mlm_summarizer **out)
{
    if (!out || !dir)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_summarizer_load_dtype: NULL argument");
    *out = NULL;
    mlm_model *model = NULL;
    mlm_tokenizer *tok = NULL;
    mlm_status st =
        pipeline_load_parts(dir, MLM_FAMILY_ENCODER_DECODER, dtype, "summarization", &model, &tok);
    if (st == MLM_OK)
        st = mlm_summarizer_new(model, tok, out);
    if (st != MLM_OK) {
        mlm_model_free(model);
        mlm_tokenizer_free(tok);
        return st;
    }
    (*out)->own_model = model;
    (*out)->own_tok = tok;
    return MLM_OK;
}

void mlm_summarizer_free(mlm_summarizer *s)
{
    if (!s)
        return;
    par_pool_free(s->pool);
    gen_config_clear(&s->gen);
    mem_free(s->prefix);
    mlm_model_free(s->own_model);
    mlm_tokenizer_free(s->own_tok);
    mem_free(s);
}

mlm_status mlm_summarizer_set_threads(mlm_summarizer *s, int nthreads)
{
    if (!s || nthreads < 1)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_summarizer_set_threads: need a summarizer "
                                                 "and nthreads >= 1 (got %d)", nthreads);
    par_pool_resize(&s->pool, &s->nthreads, nthreads);
    return MLM_OK;
}

static mlm_status pipeline_bool(const char *name, const cJSON *v, int *out)
{
    if (!cJSON_IsBool(v))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "summarization option '%s' must be true or "
                                                 "false, found %s", name, json_type_name(v));
    *out = cJSON_IsTrue(v);
    return MLM_OK;
}

static mlm_status set_value(mlm_summarizer *s, const char *name, const cJSON *v)
{
    if (strcmp(name, "truncation") == 0)
        return pipeline_bool(name, v, &s->truncation);
    if (strcmp(name, "return_tensors") == 0)
        return pipeline_bool(name, v, &s->return_tensors);
    if (strcmp(name, "return_text") == 0) {
        int ignored;
        return pipeline_bool(name, v, &ignored);
    }
    if (strcmp(name, "clean_up_tokenization_spaces") == 0) {
        if (cJSON_IsNull(v)) {
            s->cleanup = -1;
            return MLM_OK;
        }
        return pipeline_bool(name, v, &s->cleanup);
    }
    if (strcmp(name, "prefix") == 0) {
        if (!cJSON_IsString(v) && !cJSON_IsNull(v))
            return err_set(MLM_ERR_INVALID_ARGUMENT, "summarization option 'prefix' must be a "
                                                     "string or null, found %s",
                           json_type_name(v));
        char *p = cJSON_IsString(v) ? mem_strdup(v->valuestring) : NULL;
        if (cJSON_IsString(v) && !p)
            return err_oom();
        mem_free(s->prefix);
        s->prefix = p;
        return MLM_OK;
    }
    return gen_config_apply(&s->gen, name, v, 1, "");
}

mlm_status mlm_summarizer_set(mlm_summarizer *s, const char *name, const char *value)
{
    if (!s || !name || !value)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_summarizer_set: NULL argument");
    cJSON *v = NULL;
    mlm_status st = json_parse(value, strlen(value), 0, name, 4096, &v);
    if (st != MLM_OK) {
        /* a bare word is a string ("never"), as mlm_generation_config_set */
        err_clear();
        int word = *value != '\0';
        for (const char *c = value; *c && word; c++)
            word = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '_' || *c == '-';
        if (!word)
            return err_set(MLM_ERR_INVALID_ARGUMENT, "option '%s': '%s' is not a JSON value",
                           name, value);
        if (!(v = cJSON_CreateString(value)))
            return err_oom();
    }
    st = set_value(s, name, v);
    cJSON_Delete(v);
    return st;
}

mlm_status mlm_summarizer_set_json(mlm_summarizer *s, const char *json, size_t len)
{
    if (!s || !json)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_summarizer_set_json: NULL argument");
    cJSON *doc = NULL;
    mlm_status st = json_parse(json, len, 0, "summarization options", (size_t)1 << 20, &doc);
    if (st != MLM_OK)
        return st;
    if (!cJSON_IsObject(doc))
        st = err_set(MLM_ERR_INVALID_ARGUMENT, "summarization options must be a JSON object, "
                                               "found %s", json_type_name(doc));
    for (const cJSON *m = doc->child; st == MLM_OK && m; m = m->next)
        st = set_value(s, m->string, m);
    cJSON_Delete(doc);
    return st;
}

/* ---------------------------------------------------------------- results */

void mlm_summary_free(mlm_summary *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        if (r->text)
            mem_free(r->text[i]);
        if (r->ids)
            mem_free(r->ids[i]);
    }
    mem_free(r->text);
    mem_free(r->ids);
    mem_free(r->len);
    gen_warnings_free(&r->warn);
    mem_free(r);
}

size_t mlm_summary_n(const mlm_summary *r) { return r ? r->n : 0; }

const char *mlm_summary_text(const mlm_summary *r, size_t i)
{
    return r && r->text && i < r->n ? r->text[i] : NULL;
}

const int32_t *mlm_summary_token_ids(const mlm_summary *r, size_t i, size_t *len)
{
    if (!r || i >= r->n) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = r->len[i];
    return r->ids[i];
}

size_t mlm_summary_n_warnings(const mlm_summary *r) { return r ? r->warn.n : 0; }

const char *mlm_summary_warning(const mlm_summary *r, size_t i)
{
    return r && i < r->warn.n ? r->warn.w[i] : NULL;
}

mlm_status mlm_summary_to_json(const mlm_summary *r, char *buf, size_t cap, size_t *needed)
{
    if (!r || !needed || (!buf && cap))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_summary_to_json: NULL argument");
    strbuf sb = {0};
    sb_putc(&sb, '[');
    for (size_t i = 0; i < r->n; i++) {
        sb_puts(&sb, i ? ", {" : "{");
        if (r->tensors) {
            sb_puts(&sb, "\"summary_token_ids\": [");
            for (size_t k = 0; k < r->len[i]; k++)
                sb_printf(&sb, "%s%d", k ? ", " : "", (int)r->ids[i][k]);
            sb_putc(&sb, ']');
        } else {
            sb_puts(&sb, "\"summary_text\": ");
            json_put_rust_string(&sb, r->text[i]);
        }
        sb_putc(&sb, '}');
    }
    sb_putc(&sb, ']');
    return sb_copy_out(&sb, buf, cap, needed);
}

/* ---------------------------------------------------------------- summarize */

/* prefix + text tokenized with special tokens, cut to the tokenizer's
 * model_max_length when truncation is on (the final special token kept,
 * as the tokenizer's own truncation leaves it); an error when it is off. */
static mlm_status encode_text(const mlm_summarizer *s, const char *text, int32_t **ids,
                              size_t *n)
{
    size_t plen = s->prefix ? strlen(s->prefix) : 0, tlen = strlen(text);
    char *joined = mem_alloc(plen + tlen + 1);
    if (!joined)
        return err_oom();
    memcpy(joined, s->prefix ? s->prefix : "", plen);
    memcpy(joined + plen, text, tlen + 1);
    mlm_encoding *enc = NULL;
    mlm_status st = mlm_tokenizer_encode(s->tok, joined, plen + tlen, NULL, 0, 1, &enc);
    mem_free(joined);
    if (st != MLM_OK)
        return st;
    size_t len = mlm_encoding_length(enc), keep = len;
    int64_t max = mlm_tokenizer_model_max_length(s->tok);
    if (max > 0 && (int64_t)len > max) {
        if (!s->truncation) {
            mlm_encoding_free(enc);
            return err_set(MLM_ERR_RANGE,
                           "the input is %zu tokens long but the tokenizer's model_max_length is "
                           "%lld; shorten it or turn truncation on",
                           len, (long long)max);
        }
        keep = (size_t)max;
    }
    if (keep == 0) {
        mlm_encoding_free(enc);
        return err_set(MLM_ERR_INVALID_ARGUMENT, "the input has no tokens");
    }
    *ids = mem_alloc(keep * sizeof **ids);
    if (!*ids) {
        mlm_encoding_free(enc);
        return err_oom();
    }
    const int32_t *all = mlm_encoding_ids(enc);
    memcpy(*ids, all, keep * sizeof **ids);
    if (keep < len && mlm_encoding_special_tokens_mask(enc)[len - 1])
        (*ids)[keep - 1] = all[len - 1];
    *n = keep;
    mlm_encoding_free(enc);
    return MLM_OK;
}


/* check_inputs' warnings for one text of input_length tokens. */
static mlm_status check_inputs(const mlm_summarizer *s, size_t input_length, gen_warnings *w)
{
    int min_length = s->gen.min_length, max_length = s->gen.max_length;
    mlm_status st = MLM_OK;
    if (max_length < min_length)
        st = gen_warn(w, "Your min_length=%d must be inferior than your max_length=%d.",
                      min_length, max_length);
    if (st == MLM_OK && (long)input_length < max_length)
        st = gen_warn(w, "Your max_length is set to %d, but your input_length is only %zu. Since "
                         "this is a summarization task, where outputs shorter than the input are "
                         "typically wanted, you might consider decreasing max_length manually, "
                         "e.g. summarizer('...', max_length=%zu)",
                      max_length, input_length, input_length / 2);
    return st;
}

static mlm_status fill_result(const mlm_summarizer *s, const mlm_generation *g, size_t item,
                              size_t nrs, mlm_summary *r)
{
    size_t L = mlm_generation_sequence_length(g), item_len = 0;
    const int32_t *seqs = mlm_generation_sequences(g);
    /* The length this text's own generate() call returns: its rows' longest. */
    for (size_t k = 0; k < nrs; k++) {
        size_t l = mlm_generation_length(g, item * nrs + k);
        item_len = l > item_len ? l : item_len;
    }
    r->n = nrs;
    r->tensors = s->return_tensors;
    r->ids = mem_calloc(nrs, sizeof *r->ids);
    r->len = mem_calloc(nrs, sizeof *r->len);
    r->text = s->return_tensors ? NULL : mem_calloc(nrs, sizeof *r->text);
    if (!r->ids || !r->len || (!s->return_tensors && !r->text))
        return err_oom();
    for (size_t k = 0; k < nrs; k++) {
        const int32_t *row = seqs + (item * nrs + k) * L;
        if (!(r->ids[k] = mem_alloc(item_len * sizeof *r->ids[k])))
            return err_oom();
        memcpy(r->ids[k], row, item_len * sizeof *row);
        r->len[k] = item_len;
        if (r->text) {
            mlm_status st = tokenizer_decode_alloc(s->tok, row, item_len, 1, s->cleanup, &r->text[k], NULL);
            if (st != MLM_OK)
                return st;
        }
    }
    for (size_t i = 0; i < mlm_generation_n_warnings(g); i++) {
        mlm_status st = gen_warn(&r->warn, "%s", mlm_generation_warning(g, i));
        if (st != MLM_OK)
            return st;
    }
    return MLM_OK;
}

static mlm_status run_batch(const mlm_summarizer *s, const char *const *texts, size_t n,
                            mlm_summary **out)
{
    mlm_status st = MLM_OK;
    int32_t **ids = mem_calloc(n, sizeof *ids);
    size_t *lens = mem_calloc(n, sizeof *lens), T = 0;
    mlm_summary **res = mem_calloc(n, sizeof *res);
    int32_t *batch = NULL, *mask = NULL;
    mlm_generation *g = NULL;
    if (!ids || !lens || !res) {
        st = err_oom();
        goto done;
    }
    for (size_t i = 0; st == MLM_OK && i < n; i++) {
        if (!texts[i])
            st = err_set(MLM_ERR_INVALID_ARGUMENT, "text %zu is NULL", i);
        else if (!(res[i] = mem_calloc(1, sizeof *res[i])))
            st = err_oom();
        else
            st = encode_text(s, texts[i], &ids[i], &lens[i]);
        if (st == MLM_OK)
            st = check_inputs(s, lens[i], &res[i]->warn);
        else if (n > 1)
            err_prefix(st, "text %zu: ", i);
        if (st == MLM_OK)
            T = lens[i] > T ? lens[i] : T;
    }
    if (st != MLM_OK)
        goto done;
    batch = mem_alloc(n * T * sizeof *batch);
    mask = mem_alloc(n * T * sizeof *mask);
    if (!batch || !mask) {
        st = err_oom();
        goto done;
    }
    int32_t pad = s->pad_id >= 0 ? s->pad_id : 0;
    for (size_t i = 0; i < n; i++)
        for (size_t t = 0; t < T; t++) {
            int real = t < lens[i];
            batch[i * T + t] = real ? ids[i][t] : pad;
            mask[i * T + t] = real;
        }
    par_pool *before = par_pool_enter(s->pool);
    st = mlm_generate(s->model, &s->gen, s->nthreads, batch, mask, n, T, &g);
    par_pool_leave(before);
    if (st == MLM_OK) {
        size_t nrs = mlm_generation_num_sequences(g) / n;
        for (size_t i = 0; st == MLM_OK && i < n; i++)
            st = fill_result(s, g, i, nrs, res[i]);
    }
done:
    if (st == MLM_OK) {
        memcpy(out, res, n * sizeof *res);
    } else {
        for (size_t i = 0; res && i < n; i++)
            mlm_summary_free(res[i]);
    }
    for (size_t i = 0; ids && i < n; i++)
        mem_free(ids[i]);
    mem_free(ids);
    mem_free(lens);
    mem_free(res);
    mem_free(batch);
    mem_free(mask);
    mlm_generation_free(g);
    return st;
}

mlm_status mlm_summarize(const mlm_summarizer *s, const char *text, mlm_summary **out)
{
    if (out)
        *out = NULL;
    if (!s || !text || !out)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_summarize: NULL argument");
    return run_batch(s, &text, 1, out);
}

mlm_status mlm_summarize_batch(const mlm_summarizer *s, const char *const *texts, size_t n,
                               mlm_summary **out)
{
    for (size_t i = 0; out && i < n; i++)
        out[i] = NULL;
    if (!s || (!texts && n) || !out)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_summarize_batch: NULL argument");
    return n == 0 ? MLM_OK : run_batch(s, texts, n, out);
}
