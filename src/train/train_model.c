/* The Trainer's view of a model (train/train_model.h): one table of
 * functions per family, picked once at train_model_new. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "nn/encoder_train.h"
#include "nn/t5_train.h"
#include "train/train_model.h"

typedef struct train_family {
    mlm_status (*forward)(train_model *t, const mlm_batch *b, int train_mode, uint64_t seed,
                          uint64_t step, float *loss, size_t *labelled);
    mlm_status (*backward)(train_model *t, float dloss);
    void (*zero_grad)(train_model *t);
    float *(*grad)(train_model *t);
    mlm_status (*correct)(const train_model *t, size_t *correct);
    void (*free_ctx)(train_model *t);
} train_family;

struct train_model {
    mlm_model *m;
    int nthreads;
    int autocast_bf16; /* given to the family's ops context at each forward */
    grad_hook hook;    /* given to the family's context at each backward */
    const train_family *f;
    void *ctx; /* the family's training context, made by the first forward */
};

/* The batch's shape as ints (the contexts take int dimensions). */
static mlm_status batch_dims(const mlm_batch *b, int *B, int *T)
{
    size_t rows = mlm_batch_rows(b), len = mlm_batch_seq_len(b);
    if (rows > INT32_MAX || len > INT32_MAX)
        return err_set(MLM_ERR_RANGE, "trainer: batch of %zu x %zu tokens is too large", rows,
                       len);
    *B = (int)rows;
    *T = (int)len;
    return MLM_OK;
}

/* ---------------------------------------------------------------- encoder MLM */

/* Make sure the context holds a (B, T) batch; a bigger one is made and the
 * gradients carried over (only between a backward and the next forward). */
static mlm_status enc_ensure(train_model *t, int B, int T)
{
    train_ctx *old = t->ctx;
    if (old && B <= old->maxB && T <= old->maxT)
        return MLM_OK;
    int nb = old && old->maxB > B ? old->maxB : B;
    int nt = old && old->maxT > T ? old->maxT : T;
    train_ctx *tc = NULL;
    mlm_status st = train_ctx_new(t->m, nb, nt, t->nthreads, &tc);
    if (st != MLM_OK)
        return st;
    if (old) {
        memcpy(tc->grad, old->grad, model_numel(t->m) * sizeof(float));
        tc->hidden_dropout = old->hidden_dropout;
        tc->attn_dropout = old->attn_dropout;
        train_ctx_free(old);
    }
    t->ctx = tc;
    return MLM_OK;
}

static mlm_status enc_forward(train_model *t, const mlm_batch *b, int train_mode, uint64_t seed,
                              uint64_t step, float *loss, size_t *labelled)
{
    if (!mlm_batch_labels(b) || mlm_batch_label_len(b) != mlm_batch_seq_len(b) ||
        mlm_batch_decoder_input_ids(b))
        return err_set(MLM_ERR_INVALID_ARGUMENT,
                       "training '%s': expected a masking collator's batch (labels beside "
                       "every input token), got a seq2seq one",
                       t->m->family->type(t->m));
    int B = 0, T = 0;
    mlm_status st = batch_dims(b, &B, &T);
    if (st == MLM_OK)
        st = enc_ensure(t, B, T);
    if (st != MLM_OK)
        return st;
    train_ctx *tc = t->ctx;
    tc->ops.autocast_bf16 = t->autocast_bf16;
    tc->ops.scratch = model_scratch_cache(t->m);
    train_batch tb = {
        .ids = mlm_batch_input_ids(b),
        .attn_mask = mlm_batch_attention_mask(b),
        .type_ids = mlm_batch_token_type_ids(b),
        .labels = mlm_batch_labels(b),
        .B = B,
        .T = T,
    };
    tc->train_mode = train_mode;
    st = train_forward(tc, &tb, seed, step, loss);
    *labelled = st == MLM_OK ? (size_t)tc->n_rows : 0;
    return st;
}

static mlm_status enc_backward(train_model *t, float dloss)
{
    train_ctx *tc = t->ctx;
    tc->hook = t->hook;
    return train_backward(tc, dloss);
}
static void enc_zero_grad(train_model *t) { train_zero_grad(t->ctx); }
static float *enc_grad(train_model *t) { return ((train_ctx *)t->ctx)->grad; }
static void enc_free(train_model *t) { train_ctx_free(t->ctx); }

/* run_mlm.py's preprocess_logits_for_metrics (argmax) and compute_metrics
 * (labels != -100), on the head's rows, which are exactly the labelled
 * ones. */
static mlm_status enc_correct(const train_model *t, size_t *correct)
{
    const train_ctx *tc = t->ctx;
    const int32_t V = (int32_t)tc->m->d.V;
    size_t right = 0;
    for (int r = 0; r < tc->n_rows; r++)
        right += ops_argmax(tc->h.logits + (size_t)r * (size_t)V, V) == tc->h.labels[r];
    *correct = right;
    return MLM_OK;
}

static const train_family encoder_training = {
    .forward = enc_forward,
    .backward = enc_backward,
    .zero_grad = enc_zero_grad,
    .grad = enc_grad,
    .correct = enc_correct,
    .free_ctx = enc_free,
};

/* ---------------------------------------------------------------- T5 */

/* Make sure the context holds B inputs of S and T tokens (as enc_ensure). */
static mlm_status t5_ensure(train_model *t, int B, int S, int T)
{
    t5_train *old = t->ctx;
    if (old && B <= old->maxB && S <= old->maxS && T <= old->maxT)
        return MLM_OK;
    int nb = old && old->maxB > B ? old->maxB : B;
    int ns = old && old->maxS > S ? old->maxS : S;
    int nt = old && old->maxT > T ? old->maxT : T;
    t5_train *tc = NULL;
    mlm_status st = t5_train_new(t->m, nb, ns, nt, t->nthreads, &tc);
    if (st != MLM_OK)
        return st;
    if (old) {
        /* the gradients so far, and whether the linears' are still to be
         * overwritten by the next backward (t5_train_zero_grad) */
        memcpy(tc->grad, old->grad, model_numel(t->m) * sizeof(float));
        tc->set_w = old->set_w;
        tc->dropout = old->dropout;
        t5_train_free(old);
    }
    t->ctx = tc;
    return MLM_OK;
}

static mlm_status t5_forward(train_model *t, const mlm_batch *b, int train_mode, uint64_t seed,
                             uint64_t step, float *loss, size_t *labelled)
{
    if (!mlm_batch_labels(b) || !mlm_batch_label_len(b))
        return err_set(MLM_ERR_INVALID_ARGUMENT,
                       "training '%s': the batch has no labels (a seq2seq collator's batch of "
                       "a dataset with a \"labels\" column is needed)",
                       t->m->family->type(t->m));
    int B = 0, S = 0;
    size_t T = mlm_batch_label_len(b);
    mlm_status st = batch_dims(b, &B, &S);
    if (st == MLM_OK && T > INT32_MAX)
        st = err_set(MLM_ERR_RANGE, "trainer: labels of %zu tokens are too long", T);
    if (st == MLM_OK)
        st = t5_ensure(t, B, S, (int)T);
    if (st != MLM_OK)
        return st;
    t5_train *tc = t->ctx;
    tc->ops.autocast_bf16 = t->autocast_bf16;
    tc->ops.scratch = model_scratch_cache(t->m);
    t5_train_batch tb = {
        .ids = mlm_batch_input_ids(b),
        .mask = mlm_batch_attention_mask(b),
        .labels = mlm_batch_labels(b),
        .dec_ids = mlm_batch_decoder_input_ids(b),
        .B = B,
        .S = S,
        .T = (int)T,
    };
    t5_train_set_mode(tc, train_mode);
    st = t5_train_forward(tc, &tb, seed, step, loss);
    *labelled = st == MLM_OK ? t5_train_labelled(tc) : 0;
    return st;
}

static mlm_status t5_backward(train_model *t, float dloss)
{
    t5_train *tc = t->ctx;
    tc->hook = t->hook;
    return t5_train_backward(tc, dloss);
}
static void t5_zero_grad(train_model *t) { t5_train_zero_grad(t->ctx); }
static float *t5_grad(train_model *t) { return t5_train_grad(t->ctx); }
static void t5_free(train_model *t) { t5_train_free(t->ctx); }

/* The labelled target tokens whose logits' argmax is the label (the head
 * keeps their logits). */
static mlm_status t5_correct(const train_model *t, size_t *correct)
{
    const t5_train *tc = t->ctx;
    const int32_t V = (int32_t)tc->tm->d.V;
    size_t right = 0;
    for (int r = 0; r < tc->n_rows; r++)
        right += ops_argmax(tc->logits + (size_t)r * (size_t)V, V) == tc->labels[r];
    *correct = right;
    return MLM_OK;
}

static const train_family t5_training = {
    .forward = t5_forward,
    .backward = t5_backward,
    .zero_grad = t5_zero_grad,
    .grad = t5_grad,
    .correct = t5_correct,
    .free_ctx = t5_free,
};

/* ---------------------------------------------------------------- reduced models */

/* Evaluating a model whose matrices are bf16 or int8 (mlm_model_set_dtype):
 * the inference forward (mlm_model_forward, logits at the labelled
 * positions only, as the training head computes them) and the same
 * cross-entropy; no training. Encoder masked-LMs: what mlm eval --dtype
 * runs. */
typedef struct reduced_ctx {
    int32_t *pos, *labels;  /* the labelled positions, their labels */
    float *logits;          /* (n, V) */
    size_t n, cap;
} reduced_ctx;

static void reduced_free(train_model *t)
{
    reduced_ctx *c = t->ctx;
    mem_free(c->pos);
    mem_free(c->labels);
    mem_free(c->logits);
    mem_free(c);
}

static mlm_status reduced_fit(reduced_ctx *c, size_t n, size_t V)
{
    if (n <= c->cap)
        return MLM_OK;
    int32_t *pos = mem_realloc(c->pos, n * sizeof *pos);
    if (pos)
        c->pos = pos;
    int32_t *labels = mem_realloc(c->labels, n * sizeof *labels);
    if (labels)
        c->labels = labels;
    float *logits = mem_realloc(c->logits, n * V * sizeof *logits);
    if (logits)
        c->logits = logits;
    if (!pos || !labels || !logits)
        return err_oom();
    c->cap = n;
    return MLM_OK;
}

static mlm_status reduced_forward(train_model *t, const mlm_batch *b, int train_mode,
                                  uint64_t seed, uint64_t step, float *loss, size_t *labelled)
{
    (void)seed;
    (void)step;
    if (train_mode)
        return model_require_fp32(t->m, "training");
    if (!t->ctx && !(t->ctx = mem_calloc(1, sizeof(reduced_ctx))))
        return err_oom();
    reduced_ctx *c = t->ctx;
    const int32_t *lab = mlm_batch_labels(b);
    if (!lab || mlm_batch_label_len(b) != mlm_batch_seq_len(b) || mlm_batch_decoder_input_ids(b))
        return err_set(MLM_ERR_INVALID_ARGUMENT,
                       "evaluating '%s': expected a masking collator's batch",
                       t->m->family->type(t->m));
    size_t B = mlm_batch_rows(b), T = mlm_batch_seq_len(b), V = (size_t)mlm_model_vocab_size(t->m);
    size_t n = 0;
    for (size_t i = 0; i < B * T; i++)
        n += lab[i] != OPS_IGNORE_INDEX;
    mlm_status st = reduced_fit(c, n ? n : 1, V);
    if (st != MLM_OK)
        return st;
    c->n = 0;
    for (size_t i = 0; i < B * T; i++)
        if (lab[i] != OPS_IGNORE_INDEX) {
            c->pos[c->n] = (int32_t)i;
            c->labels[c->n++] = lab[i];
        }
    *labelled = n;
    if (n == 0) {   /* torch's mean over nothing */
        *loss = NAN;
        return MLM_OK;
    }
    st = mlm_model_forward(t->m, t->nthreads, mlm_batch_input_ids(b),
                           mlm_batch_attention_mask(b), mlm_batch_token_type_ids(b), B, T,
                           c->pos, n, c->logits);
    ops_ctx ctx;
    ops_ctx_init(&ctx, t->nthreads);
    if (st == MLM_OK)
        st = ops_cross_entropy_forward(&ctx, loss, NULL, NULL, c->logits, c->labels, (int)n,
                                       (int)V);
    return st;
}

static mlm_status reduced_backward(train_model *t, float dloss)
{
    (void)dloss;
    return model_require_fp32(t->m, "training");
}

static void reduced_zero_grad(train_model *t) { (void)t; }
static float *reduced_grad(train_model *t) { (void)t; return NULL; }

static mlm_status reduced_correct(const train_model *t, size_t *correct)
{
    const reduced_ctx *c = t->ctx;
    const int32_t V = mlm_model_vocab_size(t->m);
    size_t right = 0;
    for (size_t r = 0; r < c->n; r++)
        right += ops_argmax(c->logits + r * (size_t)V, V) == c->labels[r];
    *correct = right;
    return MLM_OK;
}

static const train_family reduced_eval = {
    .forward = reduced_forward,
    .backward = reduced_backward,
    .zero_grad = reduced_zero_grad,
    .grad = reduced_grad,
    .correct = reduced_correct,
    .free_ctx = reduced_free,
};

/* ---------------------------------------------------------------- the view */

mlm_status train_model_new(mlm_model *m, int nthreads, train_model **out)
{
    *out = NULL;
    const train_family *f = NULL;
    if (m->family->id == MLM_FAMILY_ENCODER_MLM)
        f = &encoder_training;
    else if (m->family->id == MLM_FAMILY_ENCODER_DECODER)
        f = &t5_training;
    if (!f)
        return err_set(MLM_ERR_UNSUPPORTED, "training '%s' (%s) is not supported",
                       m->family->type(m), m->family->what);
    if (m->dtype != MLM_DTYPE_F32) {
        if (f != &encoder_training)
            return err_set(MLM_ERR_UNSUPPORTED,
                           "evaluating a %s '%s' model is not supported (encoder masked-LMs "
                           "only; load it in fp32)",
                           mlm_dtype_name(m->dtype), m->family->type(m));
        f = &reduced_eval;
    } else if (!model_owned(m))
        return err_set(MLM_ERR_STATE, "training: the model does not own its parameters");
    train_model *t = mem_calloc(1, sizeof *t);
    if (!t)
        return err_oom();
    t->m = m;
    t->nthreads = nthreads;
    t->f = f;
    *out = t;
    return MLM_OK;
}

void train_model_free(train_model *t)
{
    if (!t)
        return;
    if (t->ctx)
        t->f->free_ctx(t);
    mem_free(t);
}

void train_model_set_autocast_bf16(train_model *t, int on) { t->autocast_bf16 = on != 0; }

void train_model_set_grad_hook(train_model *t, grad_hook h) { t->hook = h; }

mlm_status train_model_forward(train_model *t, const mlm_batch *b, int train_mode, uint64_t seed,
                               uint64_t step, float *loss, size_t *labelled)
{
    int fresh = t->ctx == NULL;
    mlm_status st = t->f->forward(t, b, train_mode, seed, step, loss, labelled);
    /* a context made now starts from zero gradients */
    if (st == MLM_OK && fresh)
        t->f->zero_grad(t);
    return st;
}

mlm_status train_model_backward(train_model *t, float dloss)
{
    if (!t->ctx)
        return err_set(MLM_ERR_STATE, "training: backward without a forward");
    return t->f->backward(t, dloss);
}

void train_model_zero_grad(train_model *t)
{
    if (t->ctx)
        t->f->zero_grad(t);
}

float *train_model_grad(train_model *t) { return t->ctx ? t->f->grad(t) : NULL; }

mlm_status train_model_correct(const train_model *t, size_t *correct)
{
    *correct = 0;
    if (!t->ctx)
        return MLM_OK;
    if (!t->f->correct)
        return err_set(MLM_ERR_UNSUPPORTED, "eval accuracy: not computed for '%s'",
                       t->m->family->type(t->m));
    return t->f->correct(t, correct);
}
