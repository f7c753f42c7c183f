/* The parameter table: every tensor of a model with its Hugging Face name,
 * shape and initialisation, in the order HF's modules register them. Load,
 * save, random init and the optimizer all walk this one table, so a name is
 * spelled in exactly one place. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "nn/model_impl.h"

typedef struct table {
    param_desc *p;
    size_t n, cap;
} table;

static void add(table *t, const float **slot, param_init init, int64_t rows, int64_t cols,
                const char *fmt, ...) __attribute__((format(printf, 6, 7)));

void param_set(param_desc *p, const float **slot, param_init init, float init_std,
               int64_t rows, int64_t cols, const char *fmt, va_list ap)
{
    memset(p, 0, sizeof *p);
    vsnprintf(p->name, sizeof p->name, fmt, ap);
    p->ndim = cols > 0 ? 2 : 1;
    p->shape[0] = rows;
    p->shape[1] = cols > 0 ? cols : 0;
    p->numel = (size_t)rows * (size_t)(cols > 0 ? cols : 1);
    p->init = init;
    p->init_std = init_std;
    p->padding_row = -1;
    p->slot = slot;
    /* HF Trainer decays every parameter but biases and LayerNorm weights;
     * exactly those are initialised to constants. */
    p->no_decay = init != INIT_NORMAL;
}

static void add(table *t, const float **slot, param_init init, int64_t rows, int64_t cols,
                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    param_set(&t->p[t->n++], slot, init, 0.0f, rows, cols, fmt, ap);
    va_end(ap);
}

/* A Linear: weight (out, in) normal, bias zero; qw: where its reduced
 * weight goes (param_desc.qslot). */
static void linear(table *t, const float **w, const ops_qw **qw, const float **b, int out, int in,
                   const char *name)
{
    add(t, w, INIT_NORMAL, out, in, "%s.weight", name);
    t->p[t->n - 1].qslot = qw;
    add(t, b, INIT_ZERO, out, 0, "%s.bias", name);
}

static void layernorm(table *t, const float **w, const float **b, int C, const char *name)
{
    add(t, w, INIT_ONE, C, 0, "%s.weight", name);
    t->p[t->n - 1].is_layernorm = 1;
    add(t, b, INIT_ZERO, C, 0, "%s.bias", name);
    t->p[t->n - 1].is_layernorm = 1;
}

static void bert_layer(table *t, layer_weights *lw, const model_dims *d, const char *pre, int l)
{
    char n[96];
#define NAME(s) (snprintf(n, sizeof n, "%s.encoder.layer.%d.%s", pre, l, s), n)
    linear(t, &lw->q_w, &lw->qw_q, &lw->q_b, d->C, d->C, NAME("attention.self.query"));
    linear(t, &lw->k_w, &lw->qw_k, &lw->k_b, d->C, d->C, NAME("attention.self.key"));
    linear(t, &lw->v_w, &lw->qw_v, &lw->v_b, d->C, d->C, NAME("attention.self.value"));
    linear(t, &lw->o_w, &lw->qw_o, &lw->o_b, d->C, d->C, NAME("attention.output.dense"));
    layernorm(t, &lw->ln1_w, &lw->ln1_b, d->C, NAME("attention.output.LayerNorm"));
    linear(t, &lw->ff1_w, &lw->qw_ff1, &lw->ff1_b, d->I, d->C, NAME("intermediate.dense"));
    linear(t, &lw->ff2_w, &lw->qw_ff2, &lw->ff2_b, d->C, d->I, NAME("output.dense"));
    layernorm(t, &lw->ln2_w, &lw->ln2_b, d->C, NAME("output.LayerNorm"));
#undef NAME
}

static void distilbert_layer(table *t, layer_weights *lw, const model_dims *d, int l)
{
    char n[96];
#define NAME(s) (snprintf(n, sizeof n, "distilbert.transformer.layer.%d.%s", l, s), n)
    linear(t, &lw->q_w, &lw->qw_q, &lw->q_b, d->C, d->C, NAME("attention.q_lin"));
    linear(t, &lw->k_w, &lw->qw_k, &lw->k_b, d->C, d->C, NAME("attention.k_lin"));
    linear(t, &lw->v_w, &lw->qw_v, &lw->v_b, d->C, d->C, NAME("attention.v_lin"));
    linear(t, &lw->o_w, &lw->qw_o, &lw->o_b, d->C, d->C, NAME("attention.out_lin"));
    layernorm(t, &lw->ln1_w, &lw->ln1_b, d->C, NAME("sa_layer_norm"));
    linear(t, &lw->ff1_w, &lw->qw_ff1, &lw->ff1_b, d->I, d->C, NAME("ffn.lin1"));
    linear(t, &lw->ff2_w, &lw->qw_ff2, &lw->ff2_b, d->C, d->I, NAME("ffn.lin2"));
    layernorm(t, &lw->ln2_w, &lw->ln2_b, d->C, NAME("output_layer_norm"));
#undef NAME
}

static void bert_like(table *t, mlm_model *m, const char *pre)
{
    const model_dims *d = &m->d;
    model_weights *w = &m->w;
    char n[96];
#define NAME(s) (snprintf(n, sizeof n, "%s.%s", pre, s), n)
    add(t, &w->word_emb, INIT_NORMAL, d->V, d->C, "%s", NAME("embeddings.word_embeddings.weight"));
    t->p[t->n - 1].padding_row = d->pad_id;
    t->p[t->n - 1].qslot = &w->qw_word;
    add(t, &w->pos_emb, INIT_NORMAL, d->P, d->C, "%s",
        NAME("embeddings.position_embeddings.weight"));
    /* RoBERTa's position table has padding_idx too (RobertaEmbeddings). */
    if (d->arch == ARCH_ROBERTA)
        t->p[t->n - 1].padding_row = d->pad_id;
    add(t, &w->type_emb, INIT_NORMAL, d->T, d->C, "%s",
        NAME("embeddings.token_type_embeddings.weight"));
    layernorm(t, &w->emb_ln_w, &w->emb_ln_b, d->C, NAME("embeddings.LayerNorm"));
#undef NAME
    for (int l = 0; l < d->L; l++)
        bert_layer(t, &w->layer[l], d, pre, l);
    if (d->arch == ARCH_BERT) {
        linear(t, &w->head_w, &w->qw_head, &w->head_b, d->C, d->C,
               "cls.predictions.transform.dense");
        layernorm(t, &w->head_ln_w, &w->head_ln_b, d->C, "cls.predictions.transform.LayerNorm");
        add(t, &w->decoder_b, INIT_ZERO, d->V, 0, "cls.predictions.bias");
    } else {
        linear(t, &w->head_w, &w->qw_head, &w->head_b, d->C, d->C, "lm_head.dense");
        layernorm(t, &w->head_ln_w, &w->head_ln_b, d->C, "lm_head.layer_norm");
        add(t, &w->decoder_b, INIT_ZERO, d->V, 0, "lm_head.bias");
    }
}

static void distilbert(table *t, mlm_model *m)
{
    const model_dims *d = &m->d;
    model_weights *w = &m->w;
    add(t, &w->word_emb, INIT_NORMAL, d->V, d->C, "distilbert.embeddings.word_embeddings.weight");
    t->p[t->n - 1].padding_row = d->pad_id;
    t->p[t->n - 1].qslot = &w->qw_word;
    add(t, &w->pos_emb, INIT_NORMAL, d->P, d->C,
        "distilbert.embeddings.position_embeddings.weight");
    layernorm(t, &w->emb_ln_w, &w->emb_ln_b, d->C, "distilbert.embeddings.LayerNorm");
    for (int l = 0; l < d->L; l++)
        distilbert_layer(t, &w->layer[l], d, l);
    linear(t, &w->head_w, &w->qw_head, &w->head_b, d->C, d->C, "vocab_transform");
    layernorm(t, &w->head_ln_w, &w->head_ln_b, d->C, "vocab_layer_norm");
    add(t, &w->decoder_b, INIT_ZERO, d->V, 0, "vocab_projector.bias");
}

mlm_status model_build_params(mlm_model *m)
{
    const model_dims *d = &m->d;
    table t = {0};
    t.cap = 10 + 16 * (size_t)d->L; /* embeddings 5, 16 a layer, head 5 */
    t.p = mem_calloc(t.cap, sizeof *t.p);
    m->w.layer = mem_calloc((size_t)d->L ? (size_t)d->L : 1, sizeof *m->w.layer);
    if (!t.p || !m->w.layer) {
        mem_free(t.p);
        mem_free(m->w.layer);
        m->w.layer = NULL;
        return err_oom();
    }
    if (d->arch == ARCH_BERT)
        bert_like(&t, m, "bert");
    else if (d->arch == ARCH_ROBERTA)
        bert_like(&t, m, "roberta");
    else
        distilbert(&t, m);
    m->params = t.p;
    m->n_params = t.n;
    return MLM_OK;
}

size_t params_numel(const param_desc *p, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += p[i].numel;
    return total;
}

mlm_status params_alloc(param_desc *p, size_t n, float **owned)
{
    size_t total = params_numel(p, n);
    float *buf = mem_calloc(total ? total : 1, sizeof *buf);
    if (!buf)
        return err_set(MLM_ERR_OUT_OF_MEMORY, "cannot allocate %zu parameters (%zu MB)", total,
                       total * sizeof(float) >> 20);
    float *at = buf;
    for (size_t i = 0; i < n; i++) {
        *p[i].slot = at;
        at += p[i].numel;
    }
    *owned = buf;
    return MLM_OK;
}

/* The parameters of the table (all, or with `skip_reduced` those without a
 * qslot, the others' slots set to NULL) copied in table order into one new
 * allocation that replaces *owned (freed) and *source (closed). */
static mlm_status move_params(param_desc *p, size_t n, int skip_reduced, float **owned,
                              void **source, void (**source_close)(void *))
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += skip_reduced && p[i].qslot ? 0 : p[i].numel;
    float *buf = mem_alloc((total ? total : 1) * sizeof *buf);
    if (!buf)
        return err_set(MLM_ERR_OUT_OF_MEMORY, "cannot allocate %zu parameters (%zu MB)", total,
                       total * sizeof(float) >> 20);
    float *at = buf;
    for (size_t i = 0; i < n; i++) {
        if (skip_reduced && p[i].qslot) {
            *p[i].slot = NULL;
            continue;
        }
        memcpy(at, *p[i].slot, p[i].numel * sizeof *at);
        *p[i].slot = at;
        at += p[i].numel;
    }
    mem_free(*owned);
    *owned = buf;
    if (*source_close)
        (*source_close)(*source);
    *source = NULL;
    *source_close = NULL;
    return MLM_OK;
}

mlm_status params_own(param_desc *p, size_t n, float **owned, void **source,
                      void (**source_close)(void *))
{
    return *owned ? MLM_OK : move_params(p, n, 0, owned, source, source_close);
}

mlm_status params_compact(param_desc *p, size_t n, float **owned, void **source,
                          void (**source_close)(void *))
{
    return move_params(p, n, 1, owned, source, source_close);
}

const param_desc *model_param_table(const mlm_model *m, size_t *n)
{
    return m->family->params(m, n);
}

size_t model_numel(const mlm_model *m)
{
    size_t n;
    const param_desc *p = model_param_table(m, &n);
    return params_numel(p, n);
}

float *model_owned(const mlm_model *m) { return m->family->owned(m); }

mlm_status model_own_params(mlm_model *m)
{
    mlm_status st = model_require_fp32(m, "training");
    return st == MLM_OK ? m->family->own(m) : st;
}

mlm_status model_alloc_params(mlm_model *m)
{
    return params_alloc(m->params, m->n_params, &m->owned);
}
