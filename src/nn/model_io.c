/* Creating, loading, saving and freeing models: config.json and
 * model.safetensors in Hugging Face's layout and names. */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/rng.h"
#include "io/file.h"
#include "io/safetensors.h"
#include "nn/model_impl.h"
#include "nn/ops/bf16.h"

mlm_status model_warn(mlm_model *m, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char **w = mem_realloc(m->warnings, (m->n_warnings + 1) * sizeof *w);
    if (!w)
        return err_oom();
    m->warnings = w;
    if (!(w[m->n_warnings] = mem_strdup(buf)))
        return err_oom();
    m->n_warnings++;
    return MLM_OK;
}

/* Up to this many bytes of working blocks kept per model: a t5-small
 * summarization at batch 8 and 4 beams works in ~55 MB. */
#define MODEL_SCRATCH_CAP ((size_t)1 << 30)

scratch_cache *model_scratch_cache(const mlm_model *m)
{
    mlm_model *mm = (mlm_model *)m;   /* the field is the one mutable part, atomic */
    scratch_cache *c = atomic_load(&mm->scratch);
    if (c)
        return c;
    scratch_cache *made = scratch_new(MODEL_SCRATCH_CAP);
    if (!made)
        return NULL;
    if (atomic_compare_exchange_strong(&mm->scratch, &c, made))
        return made;
    scratch_free(made);   /* another thread's came first */
    return c;
}

void mlm_model_free(mlm_model *m)
{
    if (!m)
        return;
    scratch_free(atomic_load(&m->scratch));
    model_free_reduced(m);
    m->family->destroy(m);
    for (size_t i = 0; i < m->n_warnings; i++)
        mem_free(m->warnings[i]);
    mem_free(m->warnings);
    mem_free(m);
}

void encoder_model_destroy(mlm_model *m)
{
    if (m->source_close)
        m->source_close(m->source);
    mem_free(m->owned);
    mem_free(m->params);
    mem_free(m->w.layer);
    config_free(&m->cfg);
}

/* ---------------------------------------------------------------- config */

static mlm_status dims_from_config(const model_config *c, model_dims *d)
{
    memset(d, 0, sizeof *d);
    d->arch = c->type == MODEL_BERT         ? ARCH_BERT
              : c->type == MODEL_DISTILBERT ? ARCH_DISTILBERT
                                            : ARCH_ROBERTA;
    d->V = c->vocab_size;
    d->C = c->hidden_size;
    d->L = c->num_hidden_layers;
    d->H = c->num_attention_heads;
    d->I = c->intermediate_size;
    d->P = c->max_position_embeddings;
    d->T = d->arch == ARCH_DISTILBERT ? 0 : c->type_vocab_size;
    d->pad_id = c->pad_token_id;
    /* DistilBERT's LayerNorms use 1e-12 whatever the config says. */
    d->ln_eps = d->arch == ARCH_DISTILBERT ? 1e-12f : (float)c->layer_norm_eps;
    d->hidden_dropout = (float)c->hidden_dropout_prob;
    d->attn_dropout = (float)c->attention_probs_dropout_prob;
    switch (c->hidden_act) {
    case ACT_GELU:
    case ACT_GELU_PYTHON: d->act = ACT_GELU; break;
    case ACT_GELU_NEW:
    case ACT_GELU_PYTORCH_TANH:
    case ACT_GELU_FAST: d->act = ACT_GELU_NEW; break;
    case ACT_RELU: d->act = ACT_RELU; break;
    default:
        return err_set(MLM_ERR_UNSUPPORTED,
                       "config.json: %s '%s' is not supported (gelu, gelu_new, "
                       "gelu_pytorch_tanh, gelu_fast, relu are)",
                       d->arch == ARCH_DISTILBERT ? "activation" : "hidden_act",
                       act_name(c->hidden_act));
    }
    /* RobertaLMHead applies exact-erf gelu whatever hidden_act is. */
    d->head_act = d->arch == ARCH_ROBERTA ? ACT_GELU : d->act;
    if (!c->tie_word_embeddings)
        return err_set(MLM_ERR_UNSUPPORTED, "config.json: tie_word_embeddings false (an untied "
                                            "MLM decoder) is not supported");
    if (d->arch == ARCH_ROBERTA && (d->pad_id < 0 || d->pad_id >= d->P - 1))
        return err_set(MLM_ERR_RANGE,
                       "config.json: pad_token_id %d: RoBERTa needs a pad id below "
                       "max_position_embeddings - 1 (%d) to number positions",
                       d->pad_id, d->P - 1);
    if (d->pad_id >= d->V)
        return err_set(MLM_ERR_RANGE, "config.json: pad_token_id %d outside vocab_size %d",
                       d->pad_id, d->V);
    return MLM_OK;
}

static const char *mlm_architecture(model_type t)
{
    switch (t) {
    case MODEL_BERT: return "BertForMaskedLM";
    case MODEL_ROBERTA: return "RobertaForMaskedLM";
    case MODEL_XLM_ROBERTA: return "XLMRobertaForMaskedLM";
    case MODEL_CAMEMBERT: return "CamembertForMaskedLM";
    case MODEL_DISTILBERT: return "DistilBertForMaskedLM";
    }
    return "BertForMaskedLM";
}

/* A model shell for a parsed config: dims and the parameter table. Takes
 * ownership of *cfg (cleared on return). */
static mlm_status model_shell(model_config *cfg, mlm_model **out)
{
    mlm_model *m = mem_calloc(1, sizeof *m);
    if (!m) {
        config_free(cfg);
        return err_oom();
    }
    atomic_init(&m->scratch, NULL);
    m->family = &encoder_mlm_family;
    m->cfg = *cfg;
    memset(cfg, 0, sizeof *cfg);
    mlm_status st = dims_from_config(&m->cfg, &m->d);
    if (st == MLM_OK)
        st = model_build_params(m);
    if (st != MLM_OK) {
        mlm_model_free(m);
        return st;
    }
    *out = m;
    return MLM_OK;
}

/* ---------------------------------------------------------------- init */

/* HF's _init_weights: Linear and Embedding weights ~ normal(0, range), the
 * padding_idx row zero, biases zero, LayerNorm weight one and bias zero.
 * Each parameter draws from its own RNG stream (its index in the table), so
 * a parameter's values do not depend on the ones before it. */
static void init_param(const param_desc *p, float *x, uint64_t seed, uint64_t stream,
                       float range)
{
    if (p->init == INIT_NORMAL) {
        rng_fill_normal(seed, stream, 0, x, p->numel, 0.0f, range);
        if (p->padding_row >= 0)
            memset(x + (size_t)p->padding_row * (size_t)p->shape[1], 0,
                   (size_t)p->shape[1] * sizeof *x);
    } else {
        float v = p->init == INIT_ONE ? 1.0f : 0.0f;
        for (size_t i = 0; i < p->numel; i++)
            x[i] = v;
    }
}

mlm_status mlm_model_new(const char *config_json, size_t len, uint64_t seed, mlm_model **out)
{
    if (!out || !config_json)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_model_new: NULL argument");
    *out = NULL;
    const model_family *fam = NULL;
    mlm_status st = model_family_of_config(config_json, len, "config.json", &fam);
    if (st != MLM_OK)
        return st;
    if (fam != &encoder_mlm_family)
        return t5_new(config_json, len, seed, out);
    model_config cfg;
    st = config_parse(config_json, len, "config.json", &cfg);
    if (st != MLM_OK)
        return st;
    mlm_model *m = NULL;
    if ((st = model_shell(&cfg, &m)) != MLM_OK)
        return st;
    if ((st = model_alloc_params(m)) != MLM_OK) {
        mlm_model_free(m);
        return st;
    }
    for (size_t i = 0; i < m->n_params; i++)
        init_param(&m->params[i], (float *)*m->params[i].slot, seed, i,
                   (float)m->cfg.initializer_range);
    *out = m;
    return MLM_OK;
}

/* ---------------------------------------------------------------- load */

/* The weights of a checkpoint: one file or a sharded index. */
struct weights_source {
    st_file *file;
    st_index *index;
};

void weights_close(void *p)
{
    weights_source *s = p;
    if (!s)
        return;
    st_close(s->file);
    st_index_close(s->index);
    mem_free(s);
}

const st_tensor *weights_find(const weights_source *s, const char *name)
{
    return s->file ? st_find(s->file, name) : st_index_find(s->index, name);
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

mlm_status weights_open(const char *dir, weights_source **out)
{
    char path[4096];
    weights_source *s = mem_calloc(1, sizeof *s);
    if (!s)
        return err_oom();
    /* the index's is the longest name: when it fits, the others do */
    mlm_status st = path_join(path, sizeof path, dir, "model.safetensors.index.json");
    if (st != MLM_OK) {
        /* reported below */
    } else if (path_join(path, sizeof path, dir, "model.safetensors") == MLM_OK &&
               file_exists(path)) {
        st = st_open(path, &s->file);
    } else {
        path_join(path, sizeof path, dir, "model.safetensors.index.json");
        if (file_exists(path)) {
            st = st_index_open(path, &s->index);
        } else {
            path_join(path, sizeof path, dir, "pytorch_model.bin");
            if (file_exists(path))
                st = err_set(MLM_ERR_UNSUPPORTED,
                             "%s: pickled PyTorch weights are not loaded (unpickling runs "
                             "code). Convert once with Python: `from safetensors.torch import "
                             "save_file; import torch; sd = torch.load('pytorch_model.bin'); "
                             "save_file({k: v.contiguous() for k, v in sd.items()}, "
                             "'model.safetensors', metadata={'format': 'pt'})` (or "
                             "save_pretrained(..., safe_serialization=True) in transformers)",
                             path);
            else
                st = err_set(MLM_ERR_NOT_FOUND, "%s: no model.safetensors or "
                                                "model.safetensors.index.json", dir);
        }
    }
    if (st != MLM_OK) {
        weights_close(s);
        return st;
    }
    *out = s;
    return MLM_OK;
}

/* The checkpoint's tensor for parameter p: its HF name, the old
 * gamma/beta spelling of LayerNorm parameters, or the name without the base
 * model prefix ("bert.") as a bare BertModel saves it. */
static const st_tensor *find_param(const weights_source *s, const char *name)
{
    const st_tensor *t = weights_find(s, name);
    char alt[128];
    size_t n = strlen(name);
    if (!t && n > 7 && strcmp(name + n - 7, ".weight") == 0 && strstr(name, "LayerNorm")) {
        snprintf(alt, sizeof alt, "%.*s.gamma", (int)(n - 7), name);
        t = weights_find(s, alt);
    }
    if (!t && n > 5 && strcmp(name + n - 5, ".bias") == 0 && strstr(name, "LayerNorm")) {
        snprintf(alt, sizeof alt, "%.*s.beta", (int)(n - 5), name);
        t = weights_find(s, alt);
    }
    const char *dot = strchr(name, '.');
    if (!t && dot && (strncmp(name, "bert.", 5) == 0 || strncmp(name, "roberta.", 8) == 0 ||
                      strncmp(name, "distilbert.", 11) == 0))
        t = find_param(s, dot + 1);
    return t;
}

static int is_head(const mlm_model *m, const param_desc *p)
{
    return (const float *const *)p->slot == &m->w.head_w ||
           (const float *const *)p->slot == &m->w.head_b ||
           (const float *const *)p->slot == &m->w.head_ln_w ||
           (const float *const *)p->slot == &m->w.head_ln_b ||
           (const float *const *)p->slot == &m->w.decoder_b;
}

mlm_status weights_check(const param_desc *p, const st_tensor *t)
{
    if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16)
        return err_set(MLM_ERR_FORMAT, "%s: tensor '%s' has dtype %s; F32, F16 or BF16 expected",
                       t->file, t->name, st_dtype_name(t->dtype));
    int ok = t->ndim == (size_t)p->ndim && t->shape[0] == (uint64_t)p->shape[0] &&
             (p->ndim == 1 || t->shape[1] == (uint64_t)p->shape[1]);
    if (!ok) {
        char have[64] = "", want[64];
        for (size_t i = 0; i < t->ndim && strlen(have) < 40; i++)
            snprintf(have + strlen(have), sizeof have - strlen(have), "%s%llu", i ? ", " : "",
                     (unsigned long long)t->shape[i]);
        if (p->ndim == 1)
            snprintf(want, sizeof want, "%lld", (long long)p->shape[0]);
        else
            snprintf(want, sizeof want, "%lld, %lld", (long long)p->shape[0],
                     (long long)p->shape[1]);
        return err_set(MLM_ERR_FORMAT, "%s: tensor '%s' has shape [%s] but the config needs [%s]",
                       t->file, t->name, have, want);
    }
    return MLM_OK;
}

/* Every parameter's tensor (NULL for a missing head parameter); fails on a
 * missing encoder parameter or a wrong shape or dtype. *zero_copy tells
 * whether every tensor can be used in place. */
static mlm_status match_tensors(mlm_model *m, const weights_source *s, const st_tensor **found,
                                int *zero_copy)
{
    *zero_copy = 1;
    int missing_head = 0;
    for (size_t i = 0; i < m->n_params; i++) {
        const param_desc *p = &m->params[i];
        const st_tensor *t = find_param(s, p->name);
        found[i] = t;
        if (!t) {
            if (!is_head(m, p))
                return err_set(MLM_ERR_NOT_FOUND, "the checkpoint has no tensor '%s'", p->name);
            missing_head = 1;
            *zero_copy = 0;
            continue;
        }
        mlm_status st = weights_check(p, t);
        if (st != MLM_OK)
            return st;
        if (t->dtype != ST_F32 || ((uintptr_t)t->data & 3u) != 0)
            *zero_copy = 0;
    }
    if (missing_head)
        return model_warn(m, "the checkpoint has no masked-LM head (e.g. a sequence "
                             "classification or base model): the head was initialised randomly, "
                             "as transformers does; fine-tune before trusting its predictions");
    return MLM_OK;
}

static mlm_status fill_params(mlm_model *m, const st_tensor **found, int zero_copy,
                              uint64_t seed)
{
    if (zero_copy) {
        for (size_t i = 0; i < m->n_params; i++)
            *m->params[i].slot = (const float *)(const void *)found[i]->data;
        return MLM_OK;
    }
    mlm_status st = model_alloc_params(m);
    for (size_t i = 0; st == MLM_OK && i < m->n_params; i++) {
        float *dst = (float *)*m->params[i].slot;
        if (found[i])
            st = st_tensor_to_f32(found[i], dst, m->params[i].numel);
        else
            init_param(&m->params[i], dst, seed, i, (float)m->cfg.initializer_range);
    }
    return st;
}

mlm_status mlm_model_load(const char *dir, mlm_model **out)
{
    if (!out || !dir)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_model_load: NULL argument");
    *out = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    char *text = NULL;
    size_t len = 0;
    const model_family *fam = NULL;
    mlm_status st = file_read_all(path, 16u << 20, &text, &len);
    if (st == MLM_OK)
        st = model_family_of_config(text, len, path, &fam);
    if (st == MLM_OK && fam != &encoder_mlm_family) {
        st = t5_load(dir, text, len, out);
        mem_free(text);
        return st;
    }
    model_config cfg;
    if (st == MLM_OK)
        st = config_parse(text, len, path, &cfg);
    mem_free(text);
    if (st != MLM_OK)
        return st;
    mlm_model *m = NULL;
    if ((st = model_shell(&cfg, &m)) != MLM_OK)
        return err_prefix(st, "%s: ", path);
    weights_source *src = NULL;
    const st_tensor **found = mem_calloc(m->n_params, sizeof *found);
    int zero_copy = 0;
    if (!found)
        st = err_oom();
    if (st == MLM_OK)
        st = weights_open(dir, &src);
    if (st == MLM_OK)
        st = match_tensors(m, src, found, &zero_copy);
    if (st == MLM_OK)
        st = fill_params(m, found, zero_copy, 0);
    mem_free(found);
    if (st == MLM_OK && zero_copy) {
        m->source = src; /* the parameters point into it */
        m->source_close = weights_close;
    } else if (src) {
        weights_close(src);
    }
    if (st != MLM_OK) {
        mlm_model_free(m);
        return st;
    }
    *out = m;
    return MLM_OK;
}

/* ---------------------------------------------------------------- save */

static mlm_status make_dir(const char *dir)
{
    if (mkdir(dir, 0777) == 0 || errno == EEXIST)
        return MLM_OK;
    return err_set(MLM_ERR_IO, "%s: cannot create directory: %s", dir, strerror(errno));
}

mlm_status mlm_model_save(const mlm_model *m, const char *dir)
{
    if (!m || !dir)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_model_save: NULL argument");
    mlm_status st = make_dir(dir);
    return st == MLM_OK ? m->family->save(m, dir) : st;
}

mlm_status encoder_model_save(const mlm_model *m, const char *dir)
{
    mlm_status st;
    char path[4096];
    model_config cfg = m->cfg; /* shallow: only architectures is replaced */
    const char *arch = mlm_architecture(m->cfg.type);
    cfg.architectures = NULL;
    cfg.n_architectures = 0;
    st = config_set_architectures(&cfg, &arch, 1);
    if (st == MLM_OK)
        st = path_join(path, sizeof path, dir, "config.json");
    if (st == MLM_OK)
        st = config_save(&cfg, path);
    for (size_t i = 0; i < cfg.n_architectures; i++)
        mem_free(cfg.architectures[i]);
    mem_free(cfg.architectures);
    if (st != MLM_OK)
        return st;
    /* the tied decoder weight is not in the table, so not written */
    return weights_save(m, m->params, m->n_params, dir);
}

/* Parameter i of m in bf16 (numel values): a converted matrix's own bf16
 * values, else the fp32 ones rounded as the hardware rounds. */
static void param_bf16(const mlm_model *m, const param_desc *p, size_t i, uint16_t *out,
                       float *row)
{
    if (!p->qslot) {
        bf16_from_f32_n(out, *p->slot, p->numel);
        return;
    }
    const ops_qw *w = &m->qw[i];
    for (int r = 0; r < w->N; r++) {
        ops_qw_row(w, r, row);
        bf16_from_f32_n(out + (size_t)r * (size_t)w->K, row, (size_t)w->K);
    }
}

mlm_status weights_save(const mlm_model *m, const param_desc *params, size_t n, const char *dir)
{
    if (m->dtype == MLM_DTYPE_INT8)
        return err_set(MLM_ERR_UNSUPPORTED,
                       "%s: an int8 model cannot be saved (safetensors has no per-channel "
                       "quantized form transformers reads); save the fp32 or bf16 model",
                       dir);
    int bf16 = m->dtype == MLM_DTYPE_BF16;
    char path[4096];
    mlm_status st = path_join(path, sizeof path, dir, "model.safetensors");
    if (st != MLM_OK)
        return st;
    uint16_t *half = NULL;
    float *row = NULL;
    if (bf16) { /* the writer keeps pointers until it saves: one buffer for all */
        size_t widest = 1;
        for (size_t i = 0; i < n; i++)
            widest = params[i].ndim == 2 && (size_t)params[i].shape[1] > widest
                         ? (size_t)params[i].shape[1]
                         : widest;
        half = mem_alloc((params_numel(params, n) + 1) * sizeof *half);
        row = mem_alloc(widest * sizeof *row);
        if (!half || !row) {
            mem_free(half);
            mem_free(row);
            return err_oom();
        }
    }
    st_writer *w = NULL;
    st = st_writer_new(&w);
    if (st == MLM_OK)
        st = st_writer_add_metadata(w, "format", "pt"); /* save_pretrained's metadata */
    uint16_t *at = half;
    for (size_t i = 0; st == MLM_OK && i < n; i++) {
        const param_desc *p = &params[i];
        uint64_t shape[2] = {(uint64_t)p->shape[0], (uint64_t)p->shape[1]};
        if (bf16) {
            param_bf16(m, p, i, at, row);
            st = st_writer_add(w, p->name, ST_BF16, (size_t)p->ndim, shape, at);
            at += p->numel;
        } else {
            st = st_writer_add(w, p->name, ST_F32, (size_t)p->ndim, shape, *p->slot);
        }
    }
    if (st == MLM_OK)
        st = st_writer_save(w, path);
    st_writer_free(w);
    mem_free(half);
    mem_free(row);
    return st;
}
