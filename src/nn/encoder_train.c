/* The encoder in train mode, forward and backward side by side (llm.c's
 * layout), for BERT, RoBERTa and DistilBERT. The forward computes what
 * encoder.c computes (same kernels, same order, so with dropout off the last
 * hidden states are bit-identical), plus HF's dropout in train mode:
 *
 *   x = drop(LN(word[ids] + pos[position_ids] + type[type_ids]))
 *   per layer:
 *       q, k, v = x·Wqᵀ + bq, x·Wkᵀ + bk, x·Wvᵀ + bv
 *       p  = softmax(q·kᵀ/√D + mask)
 *       x1 = LN(x + drop_h(drop_a(p)·v·Woᵀ + bo))      DistilBERT: no drop_h here
 *       x  = LN(x1 + drop(act(x1·W1ᵀ + b1)·W2ᵀ + b2))
 *   logits = LN(act(x·Whᵀ + bh))·wordᵀ + b_dec       only at labelled rows
 *   loss   = mean over labelled rows of cross-entropy
 *
 * Dropout sites (HF's modules): BertEmbeddings.dropout, BertSelfAttention
 * .dropout (probabilities), BertSelfOutput.dropout, BertOutput.dropout;
 * DistilBERT: Embeddings.dropout, MultiHeadSelfAttention.dropout (weights),
 * FFN.dropout (after lin2); TransformerBlock has none after out_lin. Each
 * site draws from its own Philox stream (seed, step·2^32 + site); the
 * forward records each mask, a byte per element as torch keeps it, for the
 * backward (drawing the stream again cost more than the rest of dropout). */
#include <float.h>
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "nn/encoder_train.h"
#include "nn/train_buf.h"

/* ---------------------------------------------------------------- layout */


/* Exact GELU keeps Φ of its input for the backward (layer_acts.cdf). */
static size_t cdf_floats(const model_dims *d, size_t N)
{
    return d->act == ACT_GELU ? N * (size_t)d->I : 0;
}

static size_t layer_floats(const model_dims *d, size_t N, size_t S)
{
    size_t C = (size_t)d->C, I = (size_t)d->I;
    return 8 * N * C + 2 * N * I + cdf_floats(d, N) + S + 4 * N + buf_byte_floats(S) +
           2 * buf_byte_floats(N * C);
}

size_t train_acts_floats(const model_dims *d, int B, int T)
{
    size_t N = (size_t)B * T, C = (size_t)d->C, I = (size_t)d->I;
    size_t S = (size_t)B * d->H * T * T;
    return 2 * N * C + 4 * N + buf_byte_floats(N * C) /* emb_sum, x0; mean, rstd, mask, pos;
                                                     the dropout mask */
           + (size_t)d->L * layer_floats(d, N, S)
           + 4 * N * C + 2 * N * I + 2 * S;    /* scratch */
}

/* Point the activations into mem, sized for (B, T). */
static void point_acts(train_acts *a, float *mem, const model_dims *d, int B, int T)
{
    size_t N = (size_t)B * T, C = (size_t)d->C, I = (size_t)d->I;
    size_t S = (size_t)B * d->H * T * T;
    buf_cursor p = {mem, 0};
    a->emb_sum = buf_take(&p, N * C);
    a->x0 = buf_take(&p, N * C);
    a->emb_mean = buf_take(&p, N);
    a->emb_rstd = buf_take(&p, N);
    a->mask = buf_take(&p, N);
    a->pos = (int32_t *)(void *)buf_take(&p, N);
    a->mask_emb = buf_take_bytes(&p, N * C);
    for (int l = 0; l < d->L; l++) {
        layer_acts *la = &a->layer[l];
        la->q = buf_take(&p, N * C);
        la->k = buf_take(&p, N * C);
        la->v = buf_take(&p, N * C);
        la->probs = buf_take(&p, S);
        la->ctx = buf_take(&p, N * C);
        la->sum1 = buf_take(&p, N * C);
        la->mean1 = buf_take(&p, N);
        la->rstd1 = buf_take(&p, N);
        la->x1 = buf_take(&p, N * C);
        la->h = buf_take(&p, N * I);
        la->a = buf_take(&p, N * I);
        la->cdf = d->act == ACT_GELU ? buf_take(&p, cdf_floats(d, N)) : NULL;
        la->sum2 = buf_take(&p, N * C);
        la->mean2 = buf_take(&p, N);
        la->rstd2 = buf_take(&p, N);
        la->out = buf_take(&p, N * C);
        la->mask_attn = buf_take_bytes(&p, S);
        la->mask_ao = buf_take_bytes(&p, N * C);
        la->mask_ffn = buf_take_bytes(&p, N * C);
    }
    for (int i = 0; i < 4; i++)
        a->s_nc[i] = buf_take(&p, N * C);
    for (int i = 0; i < 2; i++)
        a->s_ni[i] = buf_take(&p, N * I);
    for (int i = 0; i < 2; i++)
        a->s_att[i] = buf_take(&p, S);
}

/* The gradient of parameter p: the same offset in tc->grad as p in m->owned. */
static float *grad_of(const train_ctx *tc, const float *p)
{
    return p ? tc->grad + (p - tc->m->owned) : NULL;
}

static void point_grads(train_ctx *tc)
{
    const model_weights *w = &tc->m->w;
    model_grads *g = &tc->g;
#define G(field) g->field = grad_of(tc, w->field)
    G(word_emb);
    G(pos_emb);
    G(type_emb);
    G(emb_ln_w);
    G(emb_ln_b);
    G(head_w);
    G(head_b);
    G(head_ln_w);
    G(head_ln_b);
    G(decoder_b);
#undef G
#define G(field) g->layer[l].field = grad_of(tc, w->layer[l].field)
    for (int l = 0; l < tc->m->d.L; l++) {
        G(q_w); G(q_b); G(k_w); G(k_b); G(v_w); G(v_b); G(o_w); G(o_b);
        G(ln1_w); G(ln1_b); G(ff1_w); G(ff1_b); G(ff2_w); G(ff2_b); G(ln2_w); G(ln2_b);
    }
#undef G
}

void train_ctx_free(train_ctx *tc)
{
    if (!tc)
        return;
    mem_free(tc->grad);
    mem_free(tc->acts_mem);
    mem_free(tc->head_mem);
    mem_free(tc->a.layer);
    mem_free(tc->g.layer);
    mem_free(tc);
}

mlm_status train_ctx_new(mlm_model *m, int maxB, int maxT, int nthreads, train_ctx **out)
{
    if (!m || !out || maxB < 1 || maxT < 1)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "train_ctx_new: bad arguments");
    *out = NULL;
    mlm_status st = model_own_params(m);
    if (st != MLM_OK)
        return st;
    const model_dims *d = &m->d;
    train_ctx *tc = mem_calloc(1, sizeof *tc);
    if (!tc)
        return err_oom();
    tc->m = m;
    ops_ctx_init(&tc->ops, nthreads);
    tc->maxB = maxB;
    tc->maxT = maxT;
    tc->hidden_dropout = d->hidden_dropout;
    tc->attn_dropout = d->attn_dropout;
    tc->train_mode = 1;
    tc->select_rows = 1;
    size_t L = d->L > 0 ? (size_t)d->L : 1;
    size_t nacts = train_acts_floats(d, maxB, maxT);
    tc->grad = mem_calloc(model_numel(m), sizeof *tc->grad);
    tc->acts_mem = mem_alloc(nacts * sizeof *tc->acts_mem);
    tc->a.layer = mem_calloc(L, sizeof *tc->a.layer);
    tc->g.layer = mem_calloc(L, sizeof *tc->g.layer);
    if (!tc->grad || !tc->acts_mem || !tc->a.layer || !tc->g.layer) {
        train_ctx_free(tc);
        return err_set(MLM_ERR_OUT_OF_MEMORY,
                       "training buffers: %zu parameters' gradients and %zu MB of activations "
                       "for %d x %d tokens",
                       model_numel(m), nacts * sizeof(float) >> 20, maxB, maxT);
    }
    point_acts(&tc->a, tc->acts_mem, d, maxB, maxT);
    point_grads(tc);
    *out = tc;
    return MLM_OK;
}

void train_zero_grad(train_ctx *tc)
{
    memset(tc->grad, 0, model_numel(tc->m) * sizeof *tc->grad);
}

/* Room for n head rows (the labelled positions). */
static mlm_status head_reserve(train_ctx *tc, size_t n)
{
    if (n <= tc->head_cap && tc->head_mem)
        return MLM_OK;
    const model_dims *d = &tc->m->d;
    size_t C = (size_t)d->C, per_row = 2 + 6 * C + 3 + (size_t)d->V + 3;
    float *mem = mem_alloc((n ? n : 1) * per_row * sizeof *mem);
    if (!mem)
        return err_set(MLM_ERR_OUT_OF_MEMORY, "MLM head buffers for %zu labelled tokens", n);
    mem_free(tc->head_mem);
    tc->head_mem = mem;
    tc->head_cap = n;
    head_acts *h = &tc->h;
    buf_cursor p = {mem, 0};
    h->rows = (int32_t *)(void *)buf_take(&p, n);
    h->labels = (int32_t *)(void *)buf_take(&p, n);
    h->x = buf_take(&p, n * C);
    h->t = buf_take(&p, n * C);
    h->u = buf_take(&p, n * C);
    h->z = buf_take(&p, n * C);
    h->d1 = buf_take(&p, n * C);
    h->d2 = buf_take(&p, n * C);
    h->mean = buf_take(&p, n);
    h->rstd = buf_take(&p, n);
    h->lse = buf_take(&p, n);
    h->logits = buf_take(&p, n * (size_t)d->V);
    h->runs = (row_run *)(void *)buf_take(&p, 3 * n);
    return MLM_OK;
}

/* ---------------------------------------------------------------- pieces */

/* Dropout sites: 0 the embeddings, then three per layer. */
enum { SITE_ATTN = 1, SITE_ATTN_OUT = 2, SITE_FFN = 3 };

static uint64_t site_of(int l, int which) { return 1 + 3 * (uint64_t)l + (uint64_t)(which - 1); }

static int drop_on(const train_ctx *tc, float p) { return tc->train_mode && p > 0.0f; }

static uint64_t stream_of(const train_ctx *tc, uint64_t site) { return (tc->step << 32) + site; }

/* ---------------------------------------------------------------- embeddings */

static mlm_status embeddings_forward(train_ctx *tc, const train_batch *b)
{
    const mlm_model *m = tc->m;
    const model_dims *d = &m->d;
    train_acts *a = &tc->a;
    int N = b->B * b->T;
    mlm_status st = model_position_ids(d, b->ids, b->B, b->T, a->pos);
    if (st == MLM_OK)
        st = ops_embedding_forward(&tc->ops, a->emb_sum, b->ids, m->w.word_emb, N, d->V, d->C, 0);
    if (st == MLM_OK)
        st = ops_embedding_forward(&tc->ops, a->emb_sum, a->pos, m->w.pos_emb, N, d->P, d->C, 1);
    if (st == MLM_OK && m->w.type_emb) {
        if (b->type_ids)
            st = ops_embedding_forward(&tc->ops, a->emb_sum, b->type_ids, m->w.type_emb, N, d->T,
                                       d->C, 1);
        else /* token_type_ids default to zeros: row 0 for every token */
            ops_bias_forward(&tc->ops, a->emb_sum, m->w.type_emb, N, d->C);
    }
    if (st != MLM_OK)
        return st;
    int drop = drop_on(tc, tc->hidden_dropout);
    float *ln = drop ? a->s_nc[0] : a->x0;
    ops_layernorm_forward(&tc->ops, ln, a->emb_mean, a->emb_rstd, a->emb_sum, m->w.emb_ln_w,
                          m->w.emb_ln_b, N, d->C, d->ln_eps);
    if (drop)
        st = ops_dropout_forward(&tc->ops, a->x0, a->mask_emb, ln, (size_t)N * d->C,
                                 tc->hidden_dropout, tc->seed, stream_of(tc, 0));
    return st;
}

/* dx0 (N, C): the gradient at layer 0's input; scratch s_nc[2], s_nc[3]. */
static mlm_status embeddings_backward(train_ctx *tc, const train_batch *b, float *dx0)
{
    const mlm_model *m = tc->m;
    const model_dims *d = &m->d;
    train_acts *a = &tc->a;
    model_grads *g = &tc->g;
    int N = b->B * b->T;
    size_t NC = (size_t)N * d->C;
    const float *dln = dx0;
    mlm_status st = MLM_OK;
    if (drop_on(tc, tc->hidden_dropout)) {
        st = ops_dropout_backward_first(&tc->ops, a->s_nc[3], dx0, a->mask_emb, NC,
                                        tc->hidden_dropout, tc->seed, stream_of(tc, 0));
        dln = a->s_nc[3];
    }
    if (st != MLM_OK)
        return st;
    float *dsum = buf_zeroed(a->s_nc[2], NC);
    ops_layernorm_backward(&tc->ops, dsum, g->emb_ln_w, g->emb_ln_b, dln, a->emb_sum,
                           m->w.emb_ln_w, a->emb_mean, a->emb_rstd, N, d->C);
    /* nn.Embedding(padding_idx): the pad row gets nothing from the lookup
     * (word embeddings always; RoBERTa's positions too). */
    st = ops_embedding_backward(&tc->ops, g->word_emb, dsum, b->ids, N, d->V, d->C, d->pad_id);
    if (st == MLM_OK)
        st = ops_embedding_backward(&tc->ops, g->pos_emb, dsum, a->pos, N, d->P, d->C,
                                    d->arch == ARCH_ROBERTA ? d->pad_id : -1);
    if (st == MLM_OK && g->type_emb) {
        if (b->type_ids)
            st = ops_embedding_backward(&tc->ops, g->type_emb, dsum, b->type_ids, N, d->T, d->C,
                                        -1);
        else
            ops_bias_backward(&tc->ops, g->type_emb, dsum, N, d->C);
    }
    return st;
}

/* ---------------------------------------------------------------- layers */

/* *pd: the probabilities as the forward's attention dropout left them
 * (again from the recorded mask, in s_att[0]), or the probabilities. */
static mlm_status dropped_probs(train_ctx *tc, int l, size_t S, const float **pd)
{
    const layer_acts *la = &tc->a.layer[l];
    *pd = la->probs;
    if (!drop_on(tc, tc->attn_dropout))
        return MLM_OK;
    *pd = tc->a.s_att[0];
    return ops_dropout_apply(&tc->ops, tc->a.s_att[0], la->mask_attn, la->probs, S,
                             tc->attn_dropout);
}

/* From d(drop(p)) in s_att[1] to d(scores) (rows of T; S floats): the
 * attention dropout's backward, then the softmax's. *dscores: where it
 * lands (s_att[0] or [1]). */
static mlm_status probs_backward(train_ctx *tc, int l, size_t S, int rows, int T,
                                 float **dscores)
{
    train_acts *a = &tc->a;
    const layer_acts *la = &tc->a.layer[l];
    const ops_ctx *ctx = &tc->ops;
    int D = tc->m->d.C / tc->m->d.H;
    float *dp = a->s_att[1], *ds = a->s_att[0];
    if (drop_on(tc, tc->attn_dropout)) {
        mlm_status st = ops_dropout_backward_first(ctx, a->s_att[0], a->s_att[1],
                                                   la->mask_attn, S, tc->attn_dropout, tc->seed,
                                                   stream_of(tc, site_of(l, SITE_ATTN)));
        if (st != MLM_OK)
            return st;
        dp = a->s_att[0];
        ds = a->s_att[1];
    }
    /* p = softmax(scores/√D + mask): d(q·kᵀ) = (1/√D)·p·(dp − <p, dp>) */
    ops_softmax_backward(ctx, buf_zeroed(ds, S), dp, la->probs, 1.0f / sqrtf((float)D), rows, T);
    *dscores = ds;
    return MLM_OK;
}

/* Attention over all N rows: probs (B, H, T, T), la->ctx (N, C). */
static mlm_status attention_forward(train_ctx *tc, int l, const float *mask, int B, int T)
{
    const model_dims *d = &tc->m->d;
    layer_acts *la = &tc->a.layer[l];
    const ops_ctx *ctx = &tc->ops;
    int C = d->C, H = d->H, D = C / H;
    size_t S = (size_t)B * H * T * T;
    /* scores (B, H, T, T) = q·kᵀ per (batch, head) on the (B, T, H·D) layout */
    ops_batch qk = {B, H, (long)T * C, D, (long)T * C, D, (long)H * T * T, (long)T * T};
    mlm_status st = ops_gemm_batched(ctx, 0, 1, T, T, D, 1.0f, la->q, C, la->k, C, 0.0f,
                                     la->probs, T, &qk);
    if (st != MLM_OK)
        return st;
    ops_softmax_forward(ctx, la->probs, la->probs, 1.0f / sqrtf((float)D), mask, H * T, B * H * T,
                        T);
    const float *pd = la->probs;
    if (drop_on(tc, tc->attn_dropout)) {
        st = ops_dropout_forward(ctx, tc->a.s_att[0], la->mask_attn, la->probs, S,
                                 tc->attn_dropout, tc->seed, stream_of(tc, site_of(l, SITE_ATTN)));
        pd = tc->a.s_att[0];
    }
    /* ctx (B, T, H·D) = drop(p)·v per (batch, head) */
    ops_batch pv = {B, H, (long)H * T * T, (long)T * T, (long)T * C, D, (long)T * C, D};
    if (st == MLM_OK)
        st = ops_gemm_batched(ctx, 0, 0, T, D, T, 1.0f, pd, T, la->v, C, 0.0f, la->ctx, C, &pv);
    return st;
}

/* Attention's backward over all N rows: from dctx (N, C), into din (N, C)
 * (+=) and the q, k, v weights' gradients; x is the layer's input. */
static mlm_status attention_backward(train_ctx *tc, int l, const float *x, const float *dctx,
                                     float *din, int B, int T)
{
    const model_dims *d = &tc->m->d;
    const layer_weights *lw = &tc->m->w.layer[l];
    layer_grads *lg = &tc->g.layer[l];
    layer_acts *la = &tc->a.layer[l];
    train_acts *a = &tc->a;
    const ops_ctx *ctx = &tc->ops;
    int N = B * T, C = d->C, H = d->H, D = C / H;
    size_t S = (size_t)B * H * T * T;
    /* ctx = pd·v with pd = drop(p): pd again from the mask, then dv = pdᵀ·dctx */
    const float *pd;
    mlm_status st = dropped_probs(tc, l, S, &pd);
    float *dqkv = a->s_nc[3];
    ops_batch tv = {B, H, (long)H * T * T, (long)T * T, (long)T * C, D, (long)T * C, D};
    if (st == MLM_OK)
        st = ops_gemm_batched(ctx, 1, 0, T, D, T, 1.0f, pd, T, dctx, C, 0.0f, dqkv, C, &tv);
    if (st == MLM_OK)
        st = ops_linear_backward(ctx, din, lg->v_w, lg->v_b, dqkv, x, lw->v_w, N, C, C);
    /* d(pd) (B, H, T, T) = dctx·vᵀ */
    ops_batch dv = {B, H, (long)T * C, D, (long)T * C, D, (long)H * T * T, (long)T * T};
    if (st == MLM_OK)
        st = ops_gemm_batched(ctx, 0, 1, T, T, D, 1.0f, dctx, C, la->v, C, 0.0f, a->s_att[1], T,
                              &dv);
    if (st != MLM_OK)
        return st;
    float *dscores;
    st = probs_backward(tc, l, S, B * H * T, T, &dscores);
    if (st != MLM_OK)
        return st;
    /* dq = dscores·k, dk = dscoresᵀ·q, per (batch, head) */
    ops_batch sk = {B, H, (long)H * T * T, (long)T * T, (long)T * C, D, (long)T * C, D};
    st = ops_gemm_batched(ctx, 0, 0, T, D, T, 1.0f, dscores, T, la->k, C, 0.0f, dqkv, C, &sk);
    if (st == MLM_OK)
        st = ops_linear_backward(ctx, din, lg->q_w, lg->q_b, dqkv, x, lw->q_w, N, C, C);
    if (st == MLM_OK)
        st = ops_gemm_batched(ctx, 1, 0, T, D, T, 1.0f, dscores, T, la->q, C, 0.0f, dqkv, C, &sk);
    if (st == MLM_OK)
        st = ops_linear_backward(ctx, din, lg->k_w, lg->k_b, dqkv, x, lw->k_w, N, C, C);
    return st;
}

/* Per run u of the selected rows, per head: the four products of
 * attention's backward on encoder_rows_probs' layout. which: 0 dv (T, D)
 * += pdᵀ·dctx, 1 dp (len, T) = dctx·vᵀ, 2 dq (len, D) = ds·k, 3 dk (T, D)
 * += dsᵀ·q. out: dv/dk (N, C), dp (the runs' blocks), dq (n, C). */
static mlm_status rows_products(train_ctx *tc, int which, const float *P, const float *rowsv,
                                const float *seqv, float *out, int T)
{
    const model_dims *d = &tc->m->d;
    const ops_ctx *ctx = &tc->ops;
    size_t C = (size_t)d->C, H = (size_t)d->H, D = C / H;
    mlm_status st = MLM_OK;
    for (int i = 0; st == MLM_OK && i < tc->h.nruns; i++) {
        const row_run *u = &tc->h.runs[i];
        size_t blk = H * T * (size_t)u->start, seq = (size_t)u->b * T * C, rows = u->start * C;
        long lt = (long)u->len * T;
        ops_batch pd_rows = {1, (int)H, 0, lt, 0, (long)D, 0, (long)D};
        ops_batch rows_seq = {1, (int)H, 0, (long)D, 0, (long)D, 0, lt};
        if (which == 0) /* dv_b (T, D) += pd (len, T)ᵀ · dctx (len, D) */
            st = ops_gemm_batched(ctx, 1, 0, T, (int)D, u->len, 1.0f, P + blk, T, rowsv + rows,
                                  (int)C, 1.0f, out + seq, (int)C, &pd_rows);
        else if (which == 1) /* dp (len, T) = dctx (len, D) · v_b (T, D)ᵀ */
            st = ops_gemm_batched(ctx, 0, 1, u->len, T, (int)D, 1.0f, rowsv + rows, (int)C,
                                  seqv + seq, (int)C, 0.0f, out + blk, T, &rows_seq);
        else if (which == 2) /* dq (len, D) = ds (len, T) · k_b (T, D) */
            st = ops_gemm_batched(ctx, 0, 0, u->len, (int)D, T, 1.0f, P + blk, T, seqv + seq,
                                  (int)C, 0.0f, out + rows, (int)C, &pd_rows);
        else /* dk_b (T, D) += ds (len, T)ᵀ · q (len, D) */
            st = ops_gemm_batched(ctx, 1, 0, T, (int)D, u->len, 1.0f, P + blk, T, rowsv + rows,
                                  (int)C, 1.0f, out + seq, (int)C, &pd_rows);
    }
    return st;
}

/* Attention at the n selected rows (the labelled ones) against all keys:
 * probs as encoder_rows_probs lays them out, la->ctx (n, C). */
static mlm_status attention_forward_rows(train_ctx *tc, int l, const float *mask, int T)
{
    const model_dims *d = &tc->m->d;
    layer_acts *la = &tc->a.layer[l];
    const ops_ctx *ctx = &tc->ops;
    const head_acts *h = &tc->h;
    size_t S = (size_t)d->H * T * tc->n_rows;
    mlm_status st = encoder_rows_probs(ctx, d, la->q, la->k, mask, T, h->runs, h->nruns,
                                       la->probs);
    const float *pd = la->probs;
    if (st == MLM_OK && drop_on(tc, tc->attn_dropout)) {
        st = ops_dropout_forward(ctx, tc->a.s_att[0], la->mask_attn, la->probs, S,
                                 tc->attn_dropout, tc->seed, stream_of(tc, site_of(l, SITE_ATTN)));
        pd = tc->a.s_att[0];
    }
    if (st == MLM_OK)
        st = encoder_rows_context(ctx, d, pd, la->v, T, h->runs, h->nruns, la->ctx);
    return st;
}

/* Attention's backward at the n selected rows: dctx (n, C); din (N, C)
 * receives (+=) the keys' and values' part at every row and the queries'
 * at the selected rows; xq (n, C) the selected inputs. */
static mlm_status attention_backward_rows(train_ctx *tc, int l, const float *x,
                                          const float *xq, const float *dctx, float *din, int B,
                                          int T)
{
    const model_dims *d = &tc->m->d;
    const layer_weights *lw = &tc->m->w.layer[l];
    layer_grads *lg = &tc->g.layer[l];
    layer_acts *la = &tc->a.layer[l];
    train_acts *a = &tc->a;
    const ops_ctx *ctx = &tc->ops;
    int N = B * T, C = d->C, H = d->H, n = tc->n_rows;
    size_t NC = (size_t)N * C, nC = (size_t)n * C, S = (size_t)H * T * n;
    const float *pd;
    mlm_status st = dropped_probs(tc, l, S, &pd);
    /* Rows of sequences with no selected row get no gradient through v or k. */
    float *dkv = buf_zeroed(a->s_nc[3], NC);
    if (st == MLM_OK)
        st = rows_products(tc, 0, pd, dctx, NULL, dkv, T);
    if (st == MLM_OK)
        st = ops_linear_backward(ctx, din, lg->v_w, lg->v_b, dkv, x, lw->v_w, N, C, C);
    if (st == MLM_OK)
        st = rows_products(tc, 1, NULL, dctx, la->v, a->s_att[1], T);
    if (st != MLM_OK)
        return st;
    float *dscores;
    st = probs_backward(tc, l, S, H * n, T, &dscores);
    if (st != MLM_OK)
        return st;
    /* dq (n, C), then its input gradient (n, C) back to the selected rows */
    float *dq = dkv, *dxq = buf_zeroed(a->s_nc[2], nC);
    st = rows_products(tc, 2, dscores, NULL, la->k, dq, T);
    if (st == MLM_OK)
        st = ops_linear_backward(ctx, dxq, lg->q_w, lg->q_b, dq, xq, lw->q_w, n, C, C);
    if (st != MLM_OK)
        return st;
    const int32_t *rows = tc->h.rows;
    for (int r = 0; r < n; r++) {
        float *dst = din + (size_t)rows[r] * C;
        const float *src = dxq + (size_t)r * C;
        for (int c = 0; c < C; c++)
            dst[c] += src[c];
    }
    st = rows_products(tc, 3, dscores, la->q, NULL, buf_zeroed(dkv, NC), T);
    if (st == MLM_OK)
        st = ops_linear_backward(ctx, din, lg->k_w, lg->k_b, dkv, x, lw->k_w, N, C, C);
    return st;
}

/* Layer l on x (N, C). With sel, at the labelled rows only (tc->h.rows):
 * la->out then holds their n rows, in that order. */
static mlm_status layer_forward(train_ctx *tc, int l, const float *x, const float *mask, int B,
                                int T, int sel)
{
    const model_dims *d = &tc->m->d;
    const layer_weights *lw = &tc->m->w.layer[l];
    layer_acts *la = &tc->a.layer[l];
    const ops_ctx *ctx = &tc->ops;
    int N = B * T, C = d->C, I = d->I, n = sel ? tc->n_rows : N;
    size_t nC = (size_t)n * C;

    const float *xq = x; /* the rows that get queries, attention output and FFN */
    if (sel) {
        float *g = la->q + nC;
        for (int r = 0; r < n; r++)
            memcpy(g + (size_t)r * C, x + (size_t)tc->h.rows[r] * C, C * sizeof *g);
        xq = g;
    }
    mlm_status st = encoder_linear(ctx, la->q, xq, lw->q_w, lw->q_b, NULL, n, C, C);
    if (st == MLM_OK)
        st = encoder_linear(ctx, la->k, x, lw->k_w, lw->k_b, NULL, N, C, C);
    if (st == MLM_OK)
        st = encoder_linear(ctx, la->v, x, lw->v_w, lw->v_b, NULL, N, C, C);
    if (st == MLM_OK)
        st = sel ? attention_forward_rows(tc, l, mask, T) : attention_forward(tc, l, mask, B, T);
    if (st != MLM_OK)
        return st;

    /* sum1 = x + drop(ctx·Woᵀ + bo); DistilBERT has no dropout there. */
    if (d->arch != ARCH_DISTILBERT && drop_on(tc, tc->hidden_dropout)) {
        float *o = tc->a.s_nc[0];
        st = encoder_linear(ctx, o, la->ctx, lw->o_w, lw->o_b, NULL, n, C, C);
        if (st == MLM_OK)
            st = ops_dropout_residual_forward(ctx, la->sum1, la->mask_ao, xq, o, nC,
                                              tc->hidden_dropout, tc->seed,
                                              stream_of(tc, site_of(l, SITE_ATTN_OUT)));
    } else {
        st = encoder_linear(ctx, la->sum1, la->ctx, lw->o_w, lw->o_b, xq, n, C, C);
    }
    if (st != MLM_OK)
        return st;
    ops_layernorm_forward(ctx, la->x1, la->mean1, la->rstd1, la->sum1, lw->ln1_w, lw->ln1_b, n, C,
                          d->ln_eps);

    /* FFN: sum2 = x1 + drop(act(x1·W1ᵀ + b1)·W2ᵀ + b2) */
    st = encoder_linear(ctx, la->h, la->x1, lw->ff1_w, lw->ff1_b, NULL, n, C, I);
    if (st != MLM_OK)
        return st;
    /* The eval forward's activation (the same floats), keeping Φ for exact
     * GELU's backward. */
    if (la->cdf)
        ops_gelu_forward_cdf(ctx, la->a, la->cdf, la->h, (size_t)n * I);
    else
        encoder_activate(ctx, d->act, la->a, la->h, (size_t)n * I);
    if (drop_on(tc, tc->hidden_dropout)) {
        float *o = tc->a.s_nc[0];
        st = encoder_linear(ctx, o, la->a, lw->ff2_w, lw->ff2_b, NULL, n, I, C);
        if (st == MLM_OK)
            st = ops_dropout_residual_forward(ctx, la->sum2, la->mask_ffn, la->x1, o, nC,
                                              tc->hidden_dropout, tc->seed,
                                              stream_of(tc, site_of(l, SITE_FFN)));
    } else {
        st = encoder_linear(ctx, la->sum2, la->a, lw->ff2_w, lw->ff2_b, la->x1, n, I, C);
    }
    if (st != MLM_OK)
        return st;
    ops_layernorm_forward(ctx, la->out, la->mean2, la->rstd2, la->sum2, lw->ln2_w, lw->ln2_b, n, C,
                          d->ln_eps);
    return MLM_OK;
}

/* Backward of layer l: dout is the gradient at its output (consumed: the
 * buffer is reused), (N, C), or (n, C) at the selected rows with sel; din
 * (N, C) receives (=) the gradient at its input x. Scratch: s_nc[2] (d of a
 * LayerNorm's input), s_nc[3], s_ni[0..1], s_att[0..1]. */
static mlm_status layer_backward(train_ctx *tc, int l, const float *x, float *dout, float *din,
                                 int B, int T, int sel)
{
    const model_dims *d = &tc->m->d;
    const layer_weights *lw = &tc->m->w.layer[l];
    layer_grads *lg = &tc->g.layer[l];
    layer_acts *la = &tc->a.layer[l];
    train_acts *a = &tc->a;
    const ops_ctx *ctx = &tc->ops;
    int N = B * T, C = d->C, I = d->I, n = sel ? tc->n_rows : N;
    size_t NC = (size_t)N * C, nC = (size_t)n * C, nI = (size_t)n * I;
    int hdrop = drop_on(tc, tc->hidden_dropout);
    float *dsum = a->s_nc[2], *dtmp = a->s_nc[3];
    mlm_status st = MLM_OK;

    /* x = LN2(sum2), sum2 = x1 + drop(ff2) */
    ops_layernorm_backward(ctx, buf_zeroed(dsum, nC), lg->ln2_w, lg->ln2_b, dout, la->sum2, lw->ln2_w,
                           la->mean2, la->rstd2, n, C);
    float *dx1 = dout; /* dout is spent: it becomes d(x1), starting with the residual */
    memcpy(dx1, dsum, nC * sizeof *dx1);
    const float *dff = dsum;
    if (hdrop) {
        st = ops_dropout_backward_first(ctx, dtmp, dsum, la->mask_ffn, nC, tc->hidden_dropout,
                                        tc->seed, stream_of(tc, site_of(l, SITE_FFN)));
        dff = dtmp;
    }
    float *da = a->s_ni[0], *dh = buf_zeroed(a->s_ni[1], nI);
    if (st == MLM_OK)
        st = ops_linear_backward_to(ctx, OPS_SET_DINP, da, lg->ff2_w, lg->ff2_b, dff, la->a,
                                    lw->ff2_w, n, I, C);
    if (st != MLM_OK)
        return st;
    if (la->cdf)
        ops_gelu_backward_cdf(ctx, dh, da, la->h, la->cdf, nI);
    else
        encoder_activate_backward(ctx, d->act, dh, da, la->h, nI);
    st = ops_linear_backward(ctx, dx1, lg->ff1_w, lg->ff1_b, dh, la->x1, lw->ff1_w, n, C, I);
    if (st != MLM_OK)
        return st;

    /* x1 = LN1(sum1), sum1 = x + drop(ctx·Woᵀ + bo) */
    ops_layernorm_backward(ctx, buf_zeroed(dsum, nC), lg->ln1_w, lg->ln1_b, dx1, la->sum1, lw->ln1_w,
                           la->mean1, la->rstd1, n, C);
    if (sel) { /* the residual reaches the selected rows only */
        memset(din, 0, NC * sizeof *din);
        for (int r = 0; r < n; r++)
            memcpy(din + (size_t)tc->h.rows[r] * C, dsum + (size_t)r * C, C * sizeof *din);
    } else {
        memcpy(din, dsum, NC * sizeof *din);
    }
    const float *dproj = dsum;
    if (d->arch != ARCH_DISTILBERT && hdrop) {
        st = ops_dropout_backward_first(ctx, dtmp, dsum, la->mask_ao, nC,
                                        tc->hidden_dropout, tc->seed,
                                        stream_of(tc, site_of(l, SITE_ATTN_OUT)));
        dproj = dtmp;
    }
    float *dctx = dx1; /* d(x1) is spent too */
    if (st == MLM_OK)
        st = ops_linear_backward_to(ctx, OPS_SET_DINP, dctx, lg->o_w, lg->o_b, dproj, la->ctx,
                                    lw->o_w, n, C, C);
    if (st != MLM_OK)
        return st;
    if (sel)
        return attention_backward_rows(tc, l, x, la->q + nC, dctx, din, B, T);
    return attention_backward(tc, l, x, dctx, din, B, T);
}

/* ---------------------------------------------------------------- head */

/* The labelled rows of the batch (tc->h.rows, .labels, .runs; tc->n_rows),
 * and whether the last layer runs at them alone. */
static mlm_status select_labels(train_ctx *tc, const train_batch *b)
{
    const model_dims *d = &tc->m->d;
    size_t N = (size_t)b->B * b->T, n = 0;
    for (size_t i = 0; i < N; i++)
        n += b->labels[i] != OPS_IGNORE_INDEX;
    mlm_status st = head_reserve(tc, n);
    if (st != MLM_OK)
        return st;
    head_acts *h = &tc->h;
    n = 0;
    for (size_t i = 0; i < N; i++)
        if (b->labels[i] != OPS_IGNORE_INDEX) {
            h->rows[n] = (int32_t)i;
            h->labels[n] = b->labels[i];
            n++;
        }
    tc->n_rows = (int)n;
    h->nruns = encoder_row_runs(h->rows, (int)n, b->T, h->runs);
    tc->selected = tc->select_rows && encoder_selects_rows(d, N, n);
    return MLM_OK;
}

/* The head and the loss at the labelled rows. hidden: the last hidden
 * states, (N, C), or the labelled rows' (n, C) when the last layer ran at
 * them alone. */
static mlm_status head_forward_train(train_ctx *tc, const float *hidden)
{
    const mlm_model *m = tc->m;
    const model_dims *d = &m->d;
    const ops_ctx *ctx = &tc->ops;
    head_acts *h = &tc->h;
    size_t n = (size_t)tc->n_rows, C = (size_t)d->C;
    tc->loss = NAN;
    if (n == 0)
        return MLM_OK;
    if (tc->selected)
        memcpy(h->x, hidden, n * C * sizeof *h->x);
    else
        for (size_t r = 0; r < n; r++)
            memcpy(h->x + r * C, hidden + (size_t)h->rows[r] * C, C * sizeof *h->x);
    int rows = (int)n;
    mlm_status st = encoder_linear(ctx, h->t, h->x, m->w.head_w, m->w.head_b, NULL, rows, d->C,
                                   d->C);
    if (st != MLM_OK)
        return st;
    encoder_activate(ctx, d->head_act, h->u, h->t, n * C);
    ops_layernorm_forward(ctx, h->z, h->mean, h->rstd, h->u, m->w.head_ln_w, m->w.head_ln_b, rows,
                          d->C, d->ln_eps);
    st = encoder_linear(ctx, h->logits, h->z, m->w.word_emb, m->w.decoder_b, NULL, rows, d->C, d->V);
    if (st == MLM_OK)
        st = ops_cross_entropy_forward(ctx, &tc->loss, NULL, h->lse, h->logits, h->labels, rows,
                                       d->V);
    return st;
}

/* dhidden receives (=) the gradient at the last hidden states: (N, C), the
 * head's at the labelled rows and zero elsewhere, or the labelled rows'
 * alone (n, C) when the last layer ran at them. */
static mlm_status head_backward_train(train_ctx *tc, float dloss, float *dhidden, size_t N)
{
    const mlm_model *m = tc->m;
    const model_dims *d = &m->d;
    const ops_ctx *ctx = &tc->ops;
    head_acts *h = &tc->h;
    model_grads *g = &tc->g;
    size_t n = (size_t)tc->n_rows, C = (size_t)d->C;
    int rows = tc->n_rows;
    if (!tc->selected)
        memset(dhidden, 0, N * C * sizeof *dhidden);
    if (n == 0)
        return MLM_OK;
    /* logits become dlogits in place */
    mlm_status st = ops_cross_entropy_backward(ctx, h->logits, h->logits, h->lse, h->labels, rows,
                                               dloss, rows, d->V);
    /* The decoder is tied to the word embeddings: its weight gradient adds
     * into theirs (pad row included). */
    if (st == MLM_OK)
        st = ops_linear_backward_to(ctx, OPS_SET_DINP, h->d1, g->word_emb, g->decoder_b,
                                    h->logits, h->z, m->w.word_emb, rows, d->C, d->V);
    if (st != MLM_OK)
        return st;
    ops_layernorm_backward(ctx, buf_zeroed(h->d2, n * C), g->head_ln_w, g->head_ln_b, h->d1, h->u,
                           m->w.head_ln_w, h->mean, h->rstd, rows, d->C);
    encoder_activate_backward(ctx, d->head_act, buf_zeroed(h->d1, n * C), h->d2, h->t, n * C);
    st = ops_linear_backward_to(ctx, OPS_SET_DINP, h->d2, g->head_w, g->head_b, h->d1, h->x,
                                m->w.head_w, rows, d->C, d->C);
    if (st == MLM_OK && tc->selected)
        memcpy(dhidden, h->d2, n * C * sizeof *dhidden);
    for (size_t i = 0; st == MLM_OK && !tc->selected && i < n; i++)
        memcpy(dhidden + (size_t)h->rows[i] * C, h->d2 + i * C, C * sizeof *dhidden);
    return st;
}

/* ---------------------------------------------------------------- model */

static mlm_status check_batch(const train_ctx *tc, const train_batch *b)
{
    const model_dims *d = &tc->m->d;
    if (!b || !b->ids || !b->labels || b->B < 1 || b->T < 1)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "train_forward: empty batch or NULL ids/labels");
    if (b->B > tc->maxB || b->T > tc->maxT)
        return err_set(MLM_ERR_INVALID_ARGUMENT,
                       "train_forward: batch %d x %d exceeds the context's %d x %d", b->B, b->T,
                       tc->maxB, tc->maxT);
    size_t N = (size_t)b->B * b->T;
    if (b->type_ids && d->T > 0)
        for (size_t i = 0; i < N; i++)
            if (b->type_ids[i] < 0 || b->type_ids[i] >= d->T)
                return err_set(MLM_ERR_RANGE, "token_type_ids[%zu] = %d outside [0, %d)", i,
                               (int)b->type_ids[i], d->T);
    for (size_t i = 0; i < N; i++)
        if (b->labels[i] != OPS_IGNORE_INDEX && (b->labels[i] < 0 || b->labels[i] >= d->V))
            return err_set(MLM_ERR_RANGE, "labels[%zu] = %d outside [0, %d) and not %d", i,
                           (int)b->labels[i], d->V, OPS_IGNORE_INDEX);
    return MLM_OK;
}

mlm_status train_forward(train_ctx *tc, const train_batch *b, uint64_t seed, uint64_t step,
                         float *loss)
{
    tc->ready = 0;
    mlm_status st = check_batch(tc, b);
    if (st != MLM_OK)
        return st;
    const model_dims *d = &tc->m->d;
    train_acts *a = &tc->a;
    size_t N = (size_t)b->B * b->T;
    tc->B = b->B;
    tc->T = b->T;
    tc->seed = seed;
    tc->step = step;
    train_batch bb = *b;
    if (d->T == 0)
        bb.type_ids = NULL; /* DistilBERT has no token types */
    const float *mask = NULL;
    if (b->attn_mask) {
        for (size_t i = 0; i < N; i++)
            a->mask[i] = b->attn_mask[i] ? 0.0f : -FLT_MAX;
        mask = a->mask;
    }
    st = select_labels(tc, &bb);
    if (st == MLM_OK)
        st = embeddings_forward(tc, &bb);
    const float *x = a->x0;
    for (int l = 0; st == MLM_OK && l < d->L; l++) {
        st = layer_forward(tc, l, x, mask, b->B, b->T, tc->selected && l == d->L - 1);
        x = a->layer[l].out;
    }
    if (st == MLM_OK)
        st = head_forward_train(tc, x);
    if (st != MLM_OK)
        return st;
    tc->batch = bb;
    tc->ready = 1;
    if (loss)
        *loss = tc->loss;
    return MLM_OK;
}

mlm_status train_backward(train_ctx *tc, float dloss)
{
    if (!tc->ready)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "train_backward: no forward to go back through");
    tc->ready = 0;
    if (tc->n_rows == 0)
        return MLM_OK;
    const model_dims *d = &tc->m->d;
    train_acts *a = &tc->a;
    int B = tc->B, T = tc->T;
    size_t N = (size_t)B * T;
    float *dout = a->s_nc[0], *din = a->s_nc[1];
    mlm_status st = head_backward_train(tc, dloss, dout, N);
    for (int l = d->L - 1; st == MLM_OK && l >= 0; l--) {
        const float *x = l > 0 ? a->layer[l - 1].out : a->x0;
        st = layer_backward(tc, l, x, dout, din, B, T, tc->selected && l == d->L - 1);
        /* layers l.. and the head are done (the tied decoder is the word
         * table, first in the buffer): the q weight begins layer l */
        if (st == MLM_OK)
            st = grad_hook_tell(&tc->hook, tc->grad, tc->g.layer[l].q_w);
        float *t = dout;
        dout = din;
        din = t;
    }
    if (st == MLM_OK)
        st = embeddings_backward(tc, &tc->batch, dout);
    return st;
}
