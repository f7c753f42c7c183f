/* The T5 family of mlm_model: creating (HF's init), loading and saving
 * (config.json, model.safetensors and generation_config.json in
 * save_pretrained's layout and names), the family table, and the public
 * encoder-decoder functions (mlm_model_encode, mlm_model_seq2seq_forward). */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/rng.h"
#include "io/file.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "nn/t5.h"

#define T5_JSON_MAX_BYTES (16u << 20)

/* ---------------------------------------------------------------- family */

static const char *t5_type(const mlm_model *m) { return t5_of(m)->type; }
static int32_t t5_vocab_size(const mlm_model *m) { return t5_of(m)->d.V; }
static int32_t t5_hidden_size(const mlm_model *m) { return t5_of(m)->d.C; }
static int32_t t5_num_layers(const mlm_model *m) { return t5_of(m)->d.Le; }
static int32_t t5_max_length(const mlm_model *m)
{
    (void)m;
    return INT32_MAX;
}

static int64_t t5_num_parameters(const mlm_model *m)
{
    const t5_model *tm = t5_of(m);
    return (int64_t)params_numel(tm->params, tm->n_params);
}

static const param_desc *t5_params(const mlm_model *m, size_t *n)
{
    *n = t5_of(m)->n_params;
    return t5_of(m)->params;
}

static float *t5_owned(const mlm_model *m) { return t5_of(m)->owned; }

static void t5_destroy(mlm_model *m)
{
    t5_model *tm = m->impl;
    if (!tm)
        return;
    if (tm->source_close)
        tm->source_close(tm->source);
    mem_free(tm->owned);
    mem_free(tm->params);
    mem_free(tm->w.enc);
    mem_free(tm->w.dec);
    cJSON_Delete(tm->config);
    cJSON_Delete(tm->gen);
    mem_free(tm);
    m->impl = NULL;
}

static mlm_status t5_save(const mlm_model *m, const char *dir);

static void tie(t5_model *tm);

static mlm_status t5_compact(mlm_model *m)
{
    t5_model *tm = m->impl;
    mlm_status st = params_compact(tm->params, tm->n_params, &tm->owned, &tm->source,
                                   &tm->source_close);
    tie(tm); /* NULL too; the forward reads qw_shared when tied */
    return st;
}

const model_family t5_family = {
    .id = MLM_FAMILY_ENCODER_DECODER,
    .what = "an encoder-decoder model (t5, mt5)",
    .type = t5_type,
    .vocab_size = t5_vocab_size,
    .hidden_size = t5_hidden_size,
    .num_layers = t5_num_layers,
    .max_length = t5_max_length,
    .num_parameters = t5_num_parameters,
    .save = t5_save,
    .params = t5_params,
    .owned = t5_owned,
    .own = t5_own_params,
    .compact = t5_compact,
    .destroy = t5_destroy,
    .s2s = &t5_s2s_ops,
};

/* A model shell for a config: dims, the effective config and the table. */
static mlm_status t5_shell(const char *json, size_t len, const char *name, mlm_model **out)
{
    *out = NULL;
    mlm_model *m = mem_calloc(1, sizeof *m);
    t5_model *tm = mem_calloc(1, sizeof *tm);
    if (!m || !tm) {
        mem_free(m);
        mem_free(tm);
        return err_oom();
    }
    atomic_init(&m->scratch, NULL);
    m->family = &t5_family;
    m->impl = tm;
    mlm_status st = t5_config_parse(json, len, name, tm);
    if (st == MLM_OK)
        st = t5_build_params(tm);
    if (st != MLM_OK) {
        mlm_model_free(m);
        return st;
    }
    *out = m;
    return MLM_OK;
}

/* The tied head reads the shared embedding. */
static void tie(t5_model *tm)
{
    if (tm->d.tied)
        tm->w.lm_head = tm->w.shared;
}

mlm_status t5_own_params(mlm_model *m)
{
    t5_model *tm = m->impl;
    mlm_status st = params_own(tm->params, tm->n_params, &tm->owned, &tm->source,
                               &tm->source_close);
    tie(tm); /* the tied head follows shared.weight to its new place */
    return st;
}

/* ---------------------------------------------------------------- init */

/* T5PreTrainedModel._init_weights: each parameter a normal of its kind's
 * std (t5_build_params) or the layer norms' constant, from its own RNG
 * stream (its index in the table). */
static void init_param(const param_desc *p, float *x, uint64_t seed, uint64_t stream)
{
    if (p->init == INIT_NORMAL) {
        rng_fill_normal(seed, stream, 0, x, p->numel, 0.0f, p->init_std);
        return;
    }
    float v = p->init == INIT_CONST ? p->init_std : p->init == INIT_ONE ? 1.0f : 0.0f;
    for (size_t i = 0; i < p->numel; i++)
        x[i] = v;
}

mlm_status t5_new(const char *config_json, size_t len, uint64_t seed, mlm_model **out)
{
    mlm_model *m = NULL;
    mlm_status st = t5_shell(config_json, len, "config.json", &m);
    if (st != MLM_OK)
        return st;
    t5_model *tm = m->impl;
    if ((st = params_alloc(tm->params, tm->n_params, &tm->owned)) != MLM_OK) {
        mlm_model_free(m);
        return st;
    }
    for (size_t i = 0; i < tm->n_params; i++)
        init_param(&tm->params[i], (float *)*tm->params[i].slot, seed, i);
    tie(tm);
    *out = m;
    return MLM_OK;
}

/* ---------------------------------------------------------------- load */

/* The checkpoint's tensor for parameter p: its name, or for the shared
 * embedding a stack's embed_tokens, or the tied lm_head (the same tensor in
 * HF); copies of it beside shared.weight are ignored, as HF re-ties. */
static const st_tensor *find_param(const weights_source *src, const param_desc *p, int tied)
{
    const st_tensor *t = weights_find(src, p->name);
    if (!t && strcmp(p->name, "shared.weight") == 0) {
        t = weights_find(src, "encoder.embed_tokens.weight");
        if (!t)
            t = weights_find(src, "decoder.embed_tokens.weight");
        if (!t && tied) /* the tied head is the same tensor */
            t = weights_find(src, "lm_head.weight");
    }
    return t;
}

static mlm_status load_weights(mlm_model *m, const char *dir)
{
    t5_model *tm = m->impl;
    weights_source *src = NULL;
    mlm_status st = weights_open(dir, &src);
    const st_tensor **found = mem_calloc(tm->n_params ? tm->n_params : 1, sizeof *found);
    if (st == MLM_OK && !found)
        st = err_oom();
    int zero_copy = 1, missing_head = 0;
    for (size_t i = 0; st == MLM_OK && i < tm->n_params; i++) {
        const param_desc *p = &tm->params[i];
        found[i] = find_param(src, p, tm->d.tied);
        if (!found[i]) {
            /* HF initialises a missing (untied) lm_head and warns. */
            if ((const float *const *)p->slot != &tm->w.lm_head)
                st = err_set(MLM_ERR_NOT_FOUND, "%s: the checkpoint has no tensor '%s'", dir,
                             p->name);
            missing_head = 1;
            zero_copy = 0;
            continue;
        }
        st = weights_check(p, found[i]);
        if (found[i]->dtype != ST_F32 || ((uintptr_t)found[i]->data & 3u) != 0)
            zero_copy = 0;
    }
    if (st == MLM_OK && zero_copy) {
        for (size_t i = 0; i < tm->n_params; i++)
            *tm->params[i].slot = (const float *)(const void *)found[i]->data;
        tm->source = src;
        tm->source_close = weights_close;
        src = NULL;
    } else if (st == MLM_OK) {
        st = params_alloc(tm->params, tm->n_params, &tm->owned);
        for (size_t i = 0; st == MLM_OK && i < tm->n_params; i++) {
            float *dst = (float *)*tm->params[i].slot;
            if (found[i])
                st = st_tensor_to_f32(found[i], dst, tm->params[i].numel);
            else
                init_param(&tm->params[i], dst, 0, i);
        }
    }
    if (st == MLM_OK && missing_head)
        st = model_warn(m, "the checkpoint has no lm_head.weight (tie_word_embeddings is false): "
                           "the head was initialised randomly, as transformers does; fine-tune "
                           "before trusting its predictions");
    mem_free(found);
    weights_close(src);
    tie(tm);
    return st;
}

static int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* generation_config.json beside the weights, when there is one. */
static mlm_status load_generation_config(t5_model *tm, const char *dir)
{
    char path[4096];
    mlm_status st = path_join(path, sizeof path, dir, "generation_config.json");
    if (st != MLM_OK || !file_exists(path))
        return st;
    char *text = NULL;
    size_t len = 0;
    st = file_read_all(path, T5_JSON_MAX_BYTES, &text, &len);
    if (st == MLM_OK)
        st = json_parse(text, len, 0, path, (size_t)1 << 20, &tm->gen);
    mem_free(text);
    if (st == MLM_OK && !cJSON_IsObject(tm->gen))
        st = err_set(MLM_ERR_FORMAT, "%s: expected a JSON object, found %s", path,
                     json_type_name(tm->gen));
    return st;
}

mlm_status t5_load(const char *dir, const char *config_json, size_t len, mlm_model **out)
{
    char path[4096];
    mlm_model *m = NULL;
    mlm_status st = path_join(path, sizeof path, dir, "config.json");
    if (st == MLM_OK)
        st = t5_shell(config_json, len, path, &m);
    if (st != MLM_OK)
        return st;
    st = load_generation_config(m->impl, dir);
    if (st == MLM_OK)
        st = load_weights(m, dir);
    if (st != MLM_OK) {
        mlm_model_free(m);
        return st;
    }
    *out = m;
    return MLM_OK;
}

/* ---------------------------------------------------------------- save */

/* Which numbers of a config are Python floats (json.dumps writes 1.0, not
 * 1); every other number of a T5 config or generation config is an int. */
static int is_int_key(const char *key)
{
    static const char *const floats[] = {
        "dropout_rate", "classifier_dropout", "layer_norm_epsilon", "initializer_factor",
        "length_penalty", "temperature", "top_p", "repetition_penalty", "typical_p",
        "epsilon_cutoff", "eta_cutoff", "diversity_penalty", "encoder_repetition_penalty",
        "guidance_scale", "min_p", "max_time", "initializer_range",
    };
    for (size_t i = 0; key && i < sizeof floats / sizeof floats[0]; i++)
        if (strcmp(key, floats[i]) == 0)
            return 0;
    return 1;
}

/* json.dumps(doc, indent=2, sort_keys=True) + "\n", written atomically. */
static mlm_status write_json(const cJSON *doc, const char *path)
{
    strbuf sb = {0};
    json_put_py(&sb, doc, 2, is_int_key);
    sb_putc(&sb, '\n');
    mlm_status st = sb_status(&sb);
    if (st == MLM_OK)
        st = file_write_atomic(path, sb.data, sb.len);
    sb_free(&sb);
    return st;
}

/* The generation config save_pretrained writes for a model whose
 * generation_config.json came from its config (GenerationConfig.
 * from_model_config: the special tokens, `_from_model_config`). */
static cJSON *generation_from_config(const cJSON *config)
{
    cJSON *g = cJSON_CreateObject();
    if (!g)
        return NULL;
    cJSON_AddItemToObject(g, "_from_model_config", cJSON_CreateTrue());
    static const char *const keys[] = {"bos_token_id", "decoder_start_token_id", "eos_token_id",
                                       "pad_token_id"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(config, keys[i]);
        if (v && !cJSON_IsNull(v))
            cJSON_AddItemToObject(g, keys[i], cJSON_Duplicate(v, 1));
    }
    return g;
}

static mlm_status t5_save(const mlm_model *m, const char *dir)
{
    const t5_model *tm = t5_of(m);
    char path[4096];
    cJSON *cfg = cJSON_Duplicate(tm->config, 1);
    cJSON *arch = cJSON_CreateArray();
    cJSON *gen = tm->gen ? cJSON_Duplicate(tm->gen, 1) : generation_from_config(tm->config);
    mlm_status st = MLM_OK;
    if (!cfg || !arch || !gen) {
        st = err_oom();
    } else {
        cJSON_AddItemToArray(arch, cJSON_CreateString(strcmp(tm->type, "mt5") == 0
                                                          ? "MT5ForConditionalGeneration"
                                                          : "T5ForConditionalGeneration"));
        if (cJSON_GetObjectItemCaseSensitive(cfg, "architectures"))
            cJSON_ReplaceItemInObjectCaseSensitive(cfg, "architectures", arch);
        else
            cJSON_AddItemToObject(cfg, "architectures", arch);
        arch = NULL;
        st = path_join(path, sizeof path, dir, "config.json");
        if (st == MLM_OK)
            st = write_json(cfg, path);
    }
    if (st == MLM_OK) {
        st = path_join(path, sizeof path, dir, "generation_config.json");
        if (st == MLM_OK)
            st = write_json(gen, path);
    }
    cJSON_Delete(cfg);
    cJSON_Delete(arch);
    cJSON_Delete(gen);
    if (st != MLM_OK)
        return st;
    /* the tied head and the stacks' embed_tokens are shared.weight, which
     * the table holds once */
    return weights_save(m, tm->params, tm->n_params, dir);
}

/* ---------------------------------------------------------------- public functions */

/* Arguments of the encoder-decoder entry points. */
static mlm_status check_ids(const mlm_model *m, const char *fn, int nthreads, const int32_t *ids,
                            size_t B, size_t T, const char *what)
{
    if (nthreads < 1)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "%s: nthreads must be >= 1 (got %d)", fn,
                       nthreads);
    if (B == 0 || T == 0)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "%s: empty %s (%zu x %zu)", fn, what, B, T);
    if (B > (size_t)(1 << 20) / T)
        return err_set(MLM_ERR_RANGE, "%s: %s of %zu x %zu tokens is too large", fn, what, B, T);
    int32_t V = mlm_model_vocab_size(m);
    for (size_t i = 0; i < B * T; i++)
        if (ids[i] < 0 || ids[i] >= V)
            return err_set(MLM_ERR_RANGE, "%s: %s[%zu] = %d outside the vocabulary [0, %d)", fn,
                           what, i, (int)ids[i], (int)V);
    return MLM_OK;
}

mlm_status mlm_model_encode(const mlm_model *m, int nthreads, const int32_t *ids,
                            const int32_t *mask, size_t B, size_t S, float *hidden)
{
    if (!m || !ids || !hidden)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_model_encode: NULL argument");
    mlm_status st = model_require_family(m, MLM_FAMILY_ENCODER_DECODER, "mlm_model_encode");
    if (st == MLM_OK)
        st = check_ids(m, "mlm_model_encode", nthreads, ids, B, S, "input_ids");
    if (st != MLM_OK)
        return st;
    ops_ctx ctx;
    ops_ctx_init(&ctx, nthreads);
    return m->family->s2s->encode(m, &ctx, ids, mask, (int)B, (int)S, hidden);
}

mlm_status mlm_model_seq2seq_forward(const mlm_model *m, int nthreads, const int32_t *ids,
                                     const int32_t *mask, size_t B, size_t S,
                                     const int32_t *dec_ids, const int32_t *dec_mask, size_t T,
                                     float *enc_out, float *logits)
{
    const char *fn = "mlm_model_seq2seq_forward";
    if (!m || !ids || !dec_ids || !logits)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "%s: NULL argument", fn);
    mlm_status st = model_require_family(m, MLM_FAMILY_ENCODER_DECODER, fn);
    if (st == MLM_OK)
        st = check_ids(m, fn, nthreads, ids, B, S, "input_ids");
    if (st == MLM_OK)
        st = check_ids(m, fn, nthreads, dec_ids, B, T, "decoder_input_ids");
    if (st != MLM_OK)
        return st;
    ops_ctx ctx;
    ops_ctx_init(&ctx, nthreads);
    const s2s_ops *s2s = m->family->s2s;
    float *enc = enc_out ? enc_out : mem_alloc(B * S * (size_t)mlm_model_hidden_size(m) *
                                               sizeof *enc);
    if (!enc)
        return err_oom();
    st = s2s->encode(m, &ctx, ids, mask, (int)B, (int)S, enc);
    if (st == MLM_OK)
        st = s2s->decode(m, &ctx, enc, mask, (int)B, (int)S, dec_ids, dec_mask, (int)T, logits);
    if (!enc_out)
        mem_free(enc);
    return st;
}
