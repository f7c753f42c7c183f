/* The public mlm_model functions that run the model: forward, hidden states,
 * top-k, and the getters, which go through the model's family (nn/family.h);
 * and the encoder masked-LM family's table. */
#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "io/json.h"
#include "nn/model_impl.h"

/* ---------------------------------------------------------------- families */

static const char *enc_type(const mlm_model *m) { return model_type_name(m->cfg.type); }
static int32_t enc_vocab_size(const mlm_model *m) { return m->d.V; }
static int32_t enc_hidden_size(const mlm_model *m) { return m->d.C; }
static int32_t enc_num_layers(const mlm_model *m) { return m->d.L; }
static int64_t enc_num_parameters(const mlm_model *m) { return (int64_t)model_numel(m); }

static const param_desc *enc_params(const mlm_model *m, size_t *n)
{
    *n = m->n_params;
    return m->params;
}

static float *enc_owned(const mlm_model *m) { return m->owned; }

static mlm_status enc_own(mlm_model *m)
{
    return params_own(m->params, m->n_params, &m->owned, &m->source, &m->source_close);
}

static mlm_status enc_compact(mlm_model *m)
{
    return params_compact(m->params, m->n_params, &m->owned, &m->source, &m->source_close);
}

static int32_t enc_max_length(const mlm_model *m)
{
    /* RoBERTa spends positions 0..padding_idx on padding (514 → 512). */
    if (m->d.arch == ARCH_ROBERTA)
        return m->d.P - m->d.pad_id - 1;
    return m->d.P;
}

const model_family encoder_mlm_family = {
    .id = MLM_FAMILY_ENCODER_MLM,
    .what = "an encoder masked-LM model (bert, roberta, xlm-roberta, camembert, distilbert)",
    .type = enc_type,
    .vocab_size = enc_vocab_size,
    .hidden_size = enc_hidden_size,
    .num_layers = enc_num_layers,
    .max_length = enc_max_length,
    .num_parameters = enc_num_parameters,
    .save = encoder_model_save,
    .params = enc_params,
    .owned = enc_owned,
    .own = enc_own,
    .compact = enc_compact,
    .destroy = encoder_model_destroy,
    .s2s = NULL,
};

mlm_status model_require_family(const mlm_model *m, mlm_family id, const char *fn)
{
    if (m->family->id == id)
        return MLM_OK;
    const model_family *want = id == MLM_FAMILY_ENCODER_DECODER ? &t5_family
                                                                 : &encoder_mlm_family;
    return err_set(MLM_ERR_UNSUPPORTED, "%s: '%s' is %s; %s needs %s", fn,
                   m->family->type(m), m->family->what, fn, want->what);
}

mlm_status model_family_of_config(const char *json, size_t len, const char *name,
                                  const model_family **out)
{
    cJSON *root = NULL;
    mlm_status st = json_parse(json, len, 0, name, (size_t)1 << 20, &root);
    if (st != MLM_OK)
        return st;
    const cJSON *t = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "model_type")
                                          : NULL;
    *out = &encoder_mlm_family;
    if (cJSON_IsString(t) &&
        (strcmp(t->valuestring, "t5") == 0 || strcmp(t->valuestring, "mt5") == 0))
        *out = &t5_family;
    cJSON_Delete(root);
    return MLM_OK;
}

mlm_family mlm_model_family(const mlm_model *m)
{
    return m ? m->family->id : MLM_FAMILY_ENCODER_MLM;
}

const char *mlm_model_type(const mlm_model *m) { return m ? m->family->type(m) : NULL; }
int32_t mlm_model_vocab_size(const mlm_model *m) { return m ? m->family->vocab_size(m) : 0; }
int32_t mlm_model_hidden_size(const mlm_model *m) { return m ? m->family->hidden_size(m) : 0; }
int32_t mlm_model_num_layers(const mlm_model *m) { return m ? m->family->num_layers(m) : 0; }
int32_t mlm_model_max_length(const mlm_model *m) { return m ? m->family->max_length(m) : 0; }

int64_t mlm_model_num_parameters(const mlm_model *m)
{
    return m ? m->family->num_parameters(m) : 0;
}

size_t mlm_model_n_warnings(const mlm_model *m) { return m ? m->n_warnings : 0; }

const char *mlm_model_warning(const mlm_model *m, size_t i)
{
    return m && i < m->n_warnings ? m->warnings[i] : NULL;
}

static mlm_status check_inputs(const mlm_model *m, int nthreads, const int32_t *ids, size_t B,
                               size_t T, const void *out, const char *fn)
{
    if (!m || !ids || !out)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "%s: NULL argument", fn);
    mlm_status fst = model_require_family(m, MLM_FAMILY_ENCODER_MLM, fn);
    if (fst != MLM_OK)
        return fst;
    if (nthreads < 1)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "nthreads must be >= 1 (got %d)", nthreads);
    if (B == 0 || T == 0)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "empty batch (%zu x %zu)", B, T);
    if (T > (size_t)mlm_model_max_length(m))
        return err_set(MLM_ERR_RANGE, "sequence length %zu exceeds the model's maximum %d", T,
                       (int)mlm_model_max_length(m));
    /* Keep every product of sizes inside int, which the kernels use. */
    if (B > (size_t)(1 << 20) / T)
        return err_set(MLM_ERR_RANGE, "batch of %zu x %zu tokens is too large", B, T);
    for (size_t i = 0; i < B * T; i++)
        if (ids[i] < 0 || ids[i] >= m->d.V)
            return err_set(MLM_ERR_RANGE, "input_ids[%zu] = %d outside the vocabulary [0, %d)",
                           i, (int)ids[i], m->d.V);
    return MLM_OK;
}

/* Run the encoder into a new (B·T, C) buffer. */
static mlm_status run_encoder(const mlm_model *m, const ops_ctx *ctx, const int32_t *ids,
                              const int32_t *mask, const int32_t *types, size_t B, size_t T,
                              const int32_t *rows, size_t n_rows, float *hidden)
{
    float *ws = mem_alloc(encoder_workspace_floats(&m->d, (int)B, (int)T) * sizeof *ws);
    if (!ws)
        return err_oom();
    mlm_status st = encoder_forward(m, ctx, ids, mask, types, (int)B, (int)T, rows, (int)n_rows,
                                    hidden, ws);
    mem_free(ws);
    return st;
}

mlm_status mlm_model_hidden_states(const mlm_model *m, int nthreads, const int32_t *ids,
                                   const int32_t *mask, const int32_t *types, size_t B, size_t T,
                                   float *hidden)
{
    mlm_status st = check_inputs(m, nthreads, ids, B, T, hidden, "mlm_model_hidden_states");
    if (st != MLM_OK)
        return st;
    ops_ctx ctx;
    ops_ctx_init(&ctx, nthreads);
    return run_encoder(m, &ctx, ids, mask, types, B, T, NULL, 0, hidden);
}

/* The head runs on at most this many rows at a time, so that scoring every
 * position of a large batch needs no second batch-sized buffer. The
 * decoder's product packs the whole vocabulary's weights once per chunk:
 * 1024 rows amortize that (8x128 tokens at the distilroberta shape, 1
 * thread: 93 GFLOP/s in chunks of 256, 96 in one of 1024). */
#define HEAD_CHUNK 1024

mlm_status mlm_model_forward(const mlm_model *m, int nthreads, const int32_t *ids,
                             const int32_t *mask, const int32_t *types, size_t B, size_t T,
                             const int32_t *positions, size_t n_positions, float *logits)
{
    mlm_status st = check_inputs(m, nthreads, ids, B, T, logits, "mlm_model_forward");
    if (st != MLM_OK)
        return st;
    size_t N = B * T, C = (size_t)m->d.C, rows = positions ? n_positions : N;
    for (size_t i = 0; positions && i < n_positions; i++)
        if (positions[i] < 0 || (size_t)positions[i] >= N)
            return err_set(MLM_ERR_RANGE, "positions[%zu] = %d outside the batch's %zu tokens",
                           i, (int)positions[i], N);
    ops_ctx ctx;
    ops_ctx_init(&ctx, nthreads);
    size_t chunk = rows < HEAD_CHUNK ? (rows ? rows : 1) : HEAD_CHUNK;
    float *hidden = mem_alloc(N * C * sizeof *hidden);
    float *gathered = mem_alloc(chunk * C * sizeof *gathered);
    float *ws = mem_alloc(2 * chunk * (C + 1) * sizeof *ws);
    if (!hidden || !gathered || !ws) {
        st = err_oom();
        goto done;
    }
    /* A few positions (fill-mask's masks): the last layer runs for them
     * alone and leaves them, in order, in hidden's first rows. */
    int selected = positions && encoder_selects_rows(&m->d, N, n_positions);
    st = run_encoder(m, &ctx, ids, mask, types, B, T, selected ? positions : NULL,
                     selected ? n_positions : 0, hidden);
    for (size_t r0 = 0; st == MLM_OK && r0 < rows; r0 += chunk) {
        size_t n = rows - r0 < chunk ? rows - r0 : chunk;
        const float *in = hidden + r0 * C;
        if (positions && !selected) {
            for (size_t i = 0; i < n; i++)
                memcpy(gathered + i * C, hidden + (size_t)positions[r0 + i] * C, C * sizeof *in);
            in = gathered;
        }
        st = head_forward(m, &ctx, in, (int)n, logits + r0 * (size_t)m->d.V, ws);
    }
done:
    mem_free(hidden);
    mem_free(gathered);
    mem_free(ws);
    return st;
}

mlm_status mlm_topk(const float *x, size_t n, int k, int32_t *idx, float *val)
{
    if (!x || !idx)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_topk: NULL argument");
    if (n > (size_t)INT32_MAX)
        return err_set(MLM_ERR_RANGE, "mlm_topk: n = %zu is too large", n);
    return ops_topk(x, (int)n, k, idx, val);
}
