/* The fill-mask pipeline, with transformers' FillMaskPipeline semantics
 * (pipelines/fill_mask.py):
 *   - every mask token gets its own softmax over the vocabulary (or over the
 *     targets) and its own top-k;
 *   - token_str = decode([id]); sequence = decode(input ids with that one
 *     mask replaced, pad ids removed, skip_special_tokens = (one mask));
 *   - one mask: a flat list; several: one list per mask.
 * Texts of a batch share one padded forward pass, and the MLM head runs only
 * at the mask positions. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/threads.h"
#include "io/strbuf.h"
#include "mlm/pipeline.h"
#include "nn/family.h"
#include "nn/ops/ops.h"
#include "pipeline/load.h"
#include "text/decoder.h"

struct mlm_pipeline {
    const mlm_model *model;
    const mlm_tokenizer *tok;
    mlm_model *own_model;
    mlm_tokenizer *own_tok;
    int nthreads;
    par_pool *pool; /* nthreads - 1 workers: a forward makes ~40 parallel calls */
    int truncation;
    int32_t mask_id, pad_id;
};

typedef struct prediction {
    float score;
    int32_t token;
    char *token_str;
    char *sequence;
} prediction;

struct mlm_fill_result {
    size_t n_masks;
    size_t *n_pred;      /* per mask */
    prediction **pred;   /* per mask, n_pred[m] of them */
    char **warnings;
    size_t n_warnings;
};

/* ------------------------------------------------------------ pipeline */

static mlm_status check_pair(const mlm_model *model, const mlm_tokenizer *tok, int32_t *mask_id)
{
    mlm_status st = model_require_family(model, MLM_FAMILY_ENCODER_MLM, "fill-mask");
    if (st != MLM_OK)
        return st;
    int32_t tv = mlm_tokenizer_vocab_size(tok), mv = mlm_model_vocab_size(model);
    if (tv > mv)
        return err_set(MLM_ERR_INVALID_ARGUMENT,
                       "model and tokenizer do not match: the tokenizer has %d ids but the "
                       "model's vocab_size is %d",
                       (int)tv, (int)mv);
    *mask_id = mlm_tokenizer_special_id(tok, MLM_TOKEN_MASK);
    if (*mask_id < 0)
        return err_set(MLM_ERR_INVALID_ARGUMENT,
                       "the tokenizer has no mask token, so it cannot fill masks");
    return MLM_OK;
}

mlm_status mlm_pipeline_new(const mlm_model *model, const mlm_tokenizer *tok, mlm_pipeline **out)
{
    if (!out)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_pipeline_new: out is NULL");
    *out = NULL;
    if (!model || !tok)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_pipeline_new: model or tokenizer is NULL");
    int32_t mask_id = -1;
    mlm_status st = check_pair(model, tok, &mask_id);
    if (st != MLM_OK)
        return st;
    mlm_pipeline *p = mem_calloc(1, sizeof *p);
    if (!p)
        return err_oom();
    p->model = model;
    p->tok = tok;
    p->nthreads = 1;
    p->mask_id = mask_id;
    p->pad_id = mlm_tokenizer_special_id(tok, MLM_TOKEN_PAD);
    *out = p;
    return MLM_OK;
}

mlm_status mlm_pipeline_load(const char *dir, mlm_pipeline **out)
{
    return mlm_pipeline_load_dtype(dir, MLM_DTYPE_F32, out);
}

mlm_status mlm_pipeline_load_dtype(const char *dir, mlm_dtype dtype, mlm_pipeline **out)
{
    if (!out || !dir)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_pipeline_load_dtype: NULL argument");
    *out = NULL;
    mlm_model *model = NULL;
    mlm_tokenizer *tok = NULL;
    mlm_status st =
        pipeline_load_parts(dir, MLM_FAMILY_ENCODER_MLM, dtype, "fill-mask", &model, &tok);
    if (st == MLM_OK)
        st = mlm_pipeline_new(model, tok, out);
    if (st != MLM_OK) {
        mlm_model_free(model);
        mlm_tokenizer_free(tok);
        return st;
    }
    (*out)->own_model = model;
    (*out)->own_tok = tok;
    return MLM_OK;
}

void mlm_pipeline_free(mlm_pipeline *p)
{
    if (!p)
        return;
    par_pool_free(p->pool);
    mlm_model_free(p->own_model);
    mlm_tokenizer_free(p->own_tok);
    mem_free(p);
}

mlm_status mlm_pipeline_set_threads(mlm_pipeline *p, int nthreads)
{
    if (!p || nthreads < 1)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_pipeline_set_threads: need a pipeline and "
                                                 "nthreads >= 1 (got %d)", nthreads);
    par_pool_resize(&p->pool, &p->nthreads, nthreads);
    return MLM_OK;
}

mlm_status mlm_pipeline_set_truncation(mlm_pipeline *p, int on)
{
    if (!p)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_pipeline_set_truncation: NULL pipeline");
    p->truncation = on != 0;
    return MLM_OK;
}

/* ------------------------------------------------------------ results */

void mlm_fill_result_free(mlm_fill_result *r)
{
    if (!r)
        return;
    for (size_t m = 0; m < r->n_masks; m++) {
        for (size_t k = 0; r->pred && r->pred[m] && k < r->n_pred[m]; k++) {
            mem_free(r->pred[m][k].token_str);
            mem_free(r->pred[m][k].sequence);
        }
        if (r->pred)
            mem_free(r->pred[m]);
    }
    mem_free(r->pred);
    mem_free(r->n_pred);
    for (size_t i = 0; i < r->n_warnings; i++)
        mem_free(r->warnings[i]);
    mem_free(r->warnings);
    mem_free(r);
}

size_t mlm_fill_result_n_masks(const mlm_fill_result *r) { return r ? r->n_masks : 0; }

size_t mlm_fill_result_n_predictions(const mlm_fill_result *r, size_t mask)
{
    return r && mask < r->n_masks ? r->n_pred[mask] : 0;
}

static const prediction *pred_at(const mlm_fill_result *r, size_t mask, size_t k)
{
    if (!r || mask >= r->n_masks || k >= r->n_pred[mask])
        return NULL;
    return &r->pred[mask][k];
}

float mlm_fill_result_score(const mlm_fill_result *r, size_t mask, size_t k)
{
    const prediction *p = pred_at(r, mask, k);
    return p ? p->score : 0.0f;
}

int32_t mlm_fill_result_token(const mlm_fill_result *r, size_t mask, size_t k)
{
    const prediction *p = pred_at(r, mask, k);
    return p ? p->token : -1;
}

const char *mlm_fill_result_token_str(const mlm_fill_result *r, size_t mask, size_t k)
{
    const prediction *p = pred_at(r, mask, k);
    return p ? p->token_str : NULL;
}

const char *mlm_fill_result_sequence(const mlm_fill_result *r, size_t mask, size_t k)
{
    const prediction *p = pred_at(r, mask, k);
    return p ? p->sequence : NULL;
}

size_t mlm_fill_result_n_warnings(const mlm_fill_result *r) { return r ? r->n_warnings : 0; }

const char *mlm_fill_result_warning(const mlm_fill_result *r, size_t i)
{
    return r && i < r->n_warnings ? r->warnings[i] : NULL;
}

static mlm_status add_warning(char ***list, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static mlm_status add_warning(char ***list, size_t *n, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char **nl = mem_realloc(*list, (*n + 1) * sizeof *nl);
    if (!nl)
        return err_oom();
    *list = nl;
    if (!(nl[*n] = mem_strdup(buf)))
        return err_oom();
    (*n)++;
    return MLM_OK;
}

/* Python's float repr is the shortest string that reads back as the same
 * double; HF's JSON output of a float32 score goes through that repr. */
static void format_score(char *buf, size_t cap, double v)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

static void json_string(strbuf *sb, const char *s)
{
    sb_putc(sb, '"');
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            sb_printf(sb, "\\%c", *c);
        else if (*c < 0x20)
            sb_printf(sb, "\\u%04x", *c);
        else
            sb_putc(sb, (char)*c);
    }
    sb_putc(sb, '"');
}

static void json_mask(strbuf *sb, const mlm_fill_result *r, size_t m)
{
    sb_putc(sb, '[');
    for (size_t k = 0; k < r->n_pred[m]; k++) {
        const prediction *p = &r->pred[m][k];
        char score[40];
        format_score(score, sizeof score, (double)p->score);
        sb_printf(sb, "%s{\"score\": %s, \"token\": %d, \"token_str\": ", k ? ", " : "", score,
                  (int)p->token);
        json_string(sb, p->token_str);
        sb_puts(sb, ", \"sequence\": ");
        json_string(sb, p->sequence);
        sb_putc(sb, '}');
    }
    sb_putc(sb, ']');
}

mlm_status mlm_fill_result_to_json(const mlm_fill_result *r, char *buf, size_t cap,
                                   size_t *needed)
{
    if (!r || !needed || (!buf && cap))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_fill_result_to_json: NULL argument");
    strbuf sb = {0};
    if (r->n_masks == 1) {
        json_mask(&sb, r, 0);
    } else {
        sb_putc(&sb, '[');
        for (size_t m = 0; m < r->n_masks; m++) {
            if (m)
                sb_puts(&sb, ", ");
            json_mask(&sb, r, m);
        }
        sb_putc(&sb, ']');
    }
    return sb_copy_out(&sb, buf, cap, needed);
}

/* ------------------------------------------------------------ fill-mask */


/* HF's get_target_ids: vocabulary lookup, else the first piece of the
 * target tokenized without special tokens (with a warning), deduplicated. */
static mlm_status target_ids(const mlm_pipeline *p, const char *const *targets, size_t n,
                             int32_t **ids_out, size_t *n_out, mlm_fill_result *r)
{
    int32_t *ids = mem_alloc((n ? n : 1) * sizeof *ids);
    if (!ids)
        return err_oom();
    size_t count = 0;
    mlm_status st = MLM_OK;
    for (size_t i = 0; st == MLM_OK && i < n; i++) {
        if (!targets[i]) {
            st = err_set(MLM_ERR_INVALID_ARGUMENT, "targets[%zu] is NULL", i);
            break;
        }
        int32_t id = mlm_tokenizer_token_to_id(p->tok, targets[i]);
        if (id < 0) {
            mlm_encoding *enc = NULL;
            st = mlm_tokenizer_encode(p->tok, targets[i], strlen(targets[i]), NULL, 0, 0, &enc);
            if (st != MLM_OK) {
                err_prefix(st, "target '%s': ", targets[i]);
                break;
            }
            if (mlm_encoding_length(enc) == 0) {
                st = add_warning(&r->warnings, &r->n_warnings,
                                 "The specified target token `%s` does not exist in the model "
                                 "vocabulary. We cannot replace it with anything meaningful, "
                                 "ignoring it", targets[i]);
                mlm_encoding_free(enc);
                continue;
            }
            id = mlm_encoding_ids(enc)[0];
            st = add_warning(&r->warnings, &r->n_warnings,
                             "The specified target token `%s` does not exist in the model "
                             "vocabulary. Replacing with `%s`.",
                             targets[i], mlm_encoding_token(enc, 0));
            mlm_encoding_free(enc);
        }
        int dup = 0;
        for (size_t j = 0; j < count; j++)
            dup |= ids[j] == id;
        if (!dup)
            ids[count++] = id;
    }
    if (st == MLM_OK && count == 0)
        st = err_set(MLM_ERR_INVALID_ARGUMENT, "At least one target must be provided when passed.");
    if (st != MLM_OK) {
        mem_free(ids);
        return st;
    }
    *ids_out = ids;
    *n_out = count;
    return MLM_OK;
}

/* One text, tokenized with special tokens. */
typedef struct item {
    int32_t *ids;
    size_t len;
    size_t n_masks;
    size_t first_row; /* index of its first mask among all masks of the batch */
} item;

static mlm_status encode_item(const mlm_pipeline *p, const char *text, item *it)
{
    size_t len = strlen(text);
    if (len == 0)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "empty text: nothing to fill");
    mlm_encoding *enc = NULL;
    mlm_status st = mlm_tokenizer_encode(p->tok, text, len, NULL, 0, 1, &enc);
    if (st != MLM_OK)
        return st;
    size_t n = mlm_encoding_length(enc);
    const int32_t *ids = mlm_encoding_ids(enc);
    size_t max = (size_t)mlm_model_max_length(p->model);
    size_t keep = n;
    if (n > max) {
        if (!p->truncation) {
            mlm_encoding_free(enc);
            return err_set(MLM_ERR_RANGE,
                           "the input is %zu tokens long but the model takes at most %zu; "
                           "shorten it or turn truncation on",
                           n, max);
        }
        keep = max;
    }
    it->ids = mem_alloc(keep * sizeof *it->ids);
    if (!it->ids) {
        mlm_encoding_free(enc);
        return err_oom();
    }
    memcpy(it->ids, ids, keep * sizeof *ids);
    /* Truncation keeps the closing special token, as the tokenizer's own
     * truncation does before its post-processor adds it. */
    if (keep < n && mlm_encoding_special_tokens_mask(enc)[n - 1])
        it->ids[keep - 1] = ids[n - 1];
    mlm_encoding_free(enc);
    it->len = keep;
    it->n_masks = 0;
    for (size_t i = 0; i < keep; i++)
        it->n_masks += it->ids[i] == p->mask_id;
    if (it->n_masks == 0) {
        mem_free(it->ids);
        it->ids = NULL;
        const char *mask = mlm_tokenizer_special_token(p->tok, MLM_TOKEN_MASK);
        return err_set(MLM_ERR_INVALID_ARGUMENT, "No mask_token (%s) found on the input",
                       mask ? mask : "?");
    }
    return MLM_OK;
}

/* Softmax of one mask's logits over the whole vocabulary in float32, as
 * HF's `outputs.softmax(-1)` (then `probs[..., target_ids]` with targets),
 * then top-k over the candidates. The row is overwritten by its
 * probabilities. One thread: 50k exps in vector lanes take ~20 us, where
 * the libm double loop this replaces took ~0.3 ms, 7% of a fill-mask. */
static mlm_status rank(float *logits, int V, const int32_t *targets, size_t n_targets, int top_k,
                       float *probs, int32_t *idx, float *val)
{
    ops_ctx one;
    ops_ctx_init(&one, 1);
    ops_softmax_forward(&one, logits, logits, 1.0f, NULL, 0, 1, V);
    if (!targets)
        return ops_topk(logits, V, top_k, idx, val);
    for (size_t i = 0; i < n_targets; i++)
        probs[i] = logits[targets[i]];
    return ops_topk(probs, (int)n_targets, top_k, idx, val);
}

static mlm_status fill_predictions(const mlm_pipeline *p, const item *it, size_t m_in_item,
                                   size_t pos, const int32_t *idx, const float *val, int k,
                                   const int32_t *targets, prediction *out, int32_t *scratch)
{
    int single = it->n_masks == 1;
    for (int j = 0; j < k; j++) {
        int32_t token = targets ? targets[idx[j]] : idx[j];
        out[j].score = val[j];
        out[j].token = token;
        mlm_status st = tokenizer_decode_alloc(p->tok, &token, 1, 0, -1, &out[j].token_str, NULL);
        if (st != MLM_OK)
            return st;
        /* The input with this mask replaced, pad ids dropped (by id, as HF). */
        size_t n = 0;
        for (size_t i = 0; i < it->len; i++) {
            int32_t id = i == pos ? token : it->ids[i];
            if (id != p->pad_id)
                scratch[n++] = id;
        }
        if ((st = tokenizer_decode_alloc(p->tok, scratch, n, single, -1, &out[j].sequence, NULL)) != MLM_OK)
            return st;
    }
    (void)m_in_item;
    return MLM_OK;
}

static mlm_status run_batch(const mlm_pipeline *p, const char *const *texts, size_t n, int top_k,
                            const char *const *targets, size_t n_targets, mlm_fill_result **out)
{
    mlm_status st = MLM_OK;
    item *items = mem_calloc(n, sizeof *items);
    mlm_fill_result **res = mem_calloc(n, sizeof *res);
    int32_t *tids = NULL, *ids = NULL, *mask = NULL, *pos = NULL, *idx = NULL, *scratch = NULL;
    float *logits = NULL, *probs = NULL, *val = NULL;
    size_t n_tids = 0, T = 0, total_masks = 0;
    int V = mlm_model_vocab_size(p->model);
    if (!items || !res) {
        st = err_oom();
        goto done;
    }
    for (size_t i = 0; st == MLM_OK && i < n; i++) {
        if (!(res[i] = mem_calloc(1, sizeof *res[i])))
            st = err_oom();
        else if (!texts[i])
            st = err_set(MLM_ERR_INVALID_ARGUMENT, "text %zu is NULL", i);
        else if ((st = encode_item(p, texts[i], &items[i])) != MLM_OK && n > 1)
            err_prefix(st, "text %zu: ", i);
        if (st == MLM_OK) {
            items[i].first_row = total_masks;
            total_masks += items[i].n_masks;
            T = items[i].len > T ? items[i].len : T;
        }
    }
    /* Targets come with single texts only; their warnings go with it. */
    if (st == MLM_OK && targets)
        st = target_ids(p, targets, n_targets, &tids, &n_tids, res[0]);
    if (st != MLM_OK)
        goto done;
    int k = top_k;
    size_t cands = targets ? n_tids : (size_t)V;
    if ((size_t)k > cands) {
        if (!targets) {
            st = err_set(MLM_ERR_RANGE, "top_k %d is larger than the vocabulary (%d)", top_k, V);
            goto done;
        }
        k = (int)cands; /* HF caps top_k at the number of targets */
    }
    ids = mem_calloc(n * T, sizeof *ids);
    mask = mem_calloc(n * T, sizeof *mask);
    pos = mem_alloc(total_masks * sizeof *pos);
    logits = mem_alloc(total_masks * (size_t)V * sizeof *logits);
    probs = mem_alloc((targets ? n_tids : 1) * sizeof *probs); /* the targets' */
    idx = mem_alloc((size_t)k * sizeof *idx);
    val = mem_alloc((size_t)k * sizeof *val);
    scratch = mem_alloc(T * sizeof *scratch);
    if (!ids || !mask || !pos || !logits || !probs || !idx || !val || !scratch) {
        st = err_oom();
        goto done;
    }
    size_t row = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t t = 0; t < T; t++) {
            int real = t < items[i].len;
            ids[i * T + t] = real ? items[i].ids[t] : (p->pad_id >= 0 ? p->pad_id : 0);
            mask[i * T + t] = real;
            if (real && items[i].ids[t] == p->mask_id)
                pos[row++] = (int32_t)(i * T + t);
        }
    }
    par_pool *before = par_pool_enter(p->pool);
    st = mlm_model_forward(p->model, p->nthreads, ids, mask, NULL, n, T, pos, total_masks, logits);
    par_pool_leave(before);
    for (size_t i = 0; st == MLM_OK && i < n; i++) {
        mlm_fill_result *r = res[i];
        r->n_masks = items[i].n_masks;
        r->n_pred = mem_calloc(r->n_masks, sizeof *r->n_pred);
        r->pred = mem_calloc(r->n_masks, sizeof *r->pred);
        if (!r->n_pred || !r->pred) {
            st = err_oom();
            break;
        }
        for (size_t m = 0; st == MLM_OK && m < r->n_masks; m++) {
            size_t g = items[i].first_row + m;
            st = rank(logits + g * (size_t)V, V, tids, n_tids, k, probs, idx, val);
            if (st != MLM_OK)
                break;
            if (!(r->pred[m] = mem_calloc((size_t)k, sizeof *r->pred[m]))) {
                st = err_oom();
                break;
            }
            r->n_pred[m] = (size_t)k;
            st = fill_predictions(p, &items[i], m, (size_t)pos[g] - i * T, idx, val, k, tids,
                                  r->pred[m], scratch);
        }
    }
done:
    if (st == MLM_OK) {
        memcpy(out, res, n * sizeof *res);
    } else {
        for (size_t i = 0; res && i < n; i++)
            mlm_fill_result_free(res[i]);
    }
    for (size_t i = 0; items && i < n; i++)
        mem_free(items[i].ids);
    mem_free(items);
    mem_free(res);
    mem_free(tids);
    mem_free(ids);
    mem_free(mask);
    mem_free(pos);
    mem_free(logits);
    mem_free(probs);
    mem_free(idx);
    mem_free(val);
    mem_free(scratch);
    return st;
}

static mlm_status check_call(const mlm_pipeline *p, const void *text, int top_k, const void *out)
{
    if (!p || !text || !out)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "fill-mask: NULL argument");
    if (top_k <= 0)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "top_k must be at least 1 (got %d)", top_k);
    return MLM_OK;
}

mlm_status mlm_fill_mask(const mlm_pipeline *p, const char *text, int top_k,
                         mlm_fill_result **out)
{
    if (out)
        *out = NULL;
    mlm_status st = check_call(p, text, top_k, out);
    if (st != MLM_OK)
        return st;
    return run_batch(p, &text, 1, top_k, NULL, 0, out);
}

mlm_status mlm_fill_mask_targets(const mlm_pipeline *p, const char *text,
                                 const char *const *targets, size_t n_targets, int top_k,
                                 mlm_fill_result **out)
{
    if (out)
        *out = NULL;
    mlm_status st = check_call(p, text, top_k, out);
    if (st != MLM_OK)
        return st;
    if (!targets || n_targets == 0)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "At least one target must be provided when passed.");
    return run_batch(p, &text, 1, top_k, targets, n_targets, out);
}

mlm_status mlm_fill_mask_batch(const mlm_pipeline *p, const char *const *texts, size_t n,
                               int top_k, mlm_fill_result **out)
{
    for (size_t i = 0; out && i < n; i++)
        out[i] = NULL;
    mlm_status st = check_call(p, texts, top_k, out);
    if (st != MLM_OK)
        return st;
    return n == 0 ? MLM_OK : run_batch(p, texts, n, top_k, NULL, 0, out);
}
