/* The encoder's forward pass in eval mode, for BERT, RoBERTa and DistilBERT:
 *
 *   x = LN(word[ids] + pos[position_ids] + type[type_ids])
 *   for each layer:
 *       q, k, v = x·Wqᵀ + bq, x·Wkᵀ + bk, x·Wvᵀ + bv       (B, T, H·D)
 *       p = softmax(q·kᵀ/√D + mask)                       (B, H, T, T)
 *       x1 = LN(x + (p·v)·Woᵀ + bo)
 *       x = LN(x1 + act(x1·W1ᵀ + b1)·W2ᵀ + b2)
 *   logits = LN(act(x·Whᵀ + bh))·wordᵀ + b_dec          (head, at chosen rows)
 *
 * mask is HF's extended attention mask, (1 - m)·finfo(float32).min, added to
 * every query's scores for key m = 0. DistilBERT masks with masked_fill of
 * finfo.min instead; once added to a score of ordinary size the two are the
 * same float. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "nn/model_impl.h"

/* Scratch floats for one forward of B rows of T tokens. */
size_t encoder_workspace_floats(const model_dims *d, int B, int T)
{
    size_t N = (size_t)B * T, C = (size_t)d->C, I = (size_t)d->I;
    size_t scores = (size_t)B * d->H * T * T;
    return 5 * N * C       /* q, k, v, ctx, x1 */
           + N * C         /* sum before a LayerNorm */
           + N * I         /* FFN hidden */
           + scores        /* attention probabilities */
           + (size_t)B * T /* additive mask */
           + 2 * N         /* LayerNorm mean, rstd */
           + N             /* position ids (int32 in float-sized slots) */
           + 3 * N;        /* runs of selected rows (row_run: three ints) */
}

/* out (N, OC) = inp (N, C)·Wᵀ + b, W stored (OC, C) as torch does.
 * With `residual`, out = residual + inp·Wᵀ + b: the residual is copied into
 * out first and the product accumulated on it (beta = 1), which saves a pass. */
mlm_status encoder_linear(const ops_ctx *ctx, float *out, const float *inp, const float *W,
                          const float *b, const float *residual, int N, int C, int OC)
{
    return encoder_linear_q(ctx, out, inp, W, NULL, b, residual, N, C, OC);
}

mlm_status encoder_linear_q(const ops_ctx *ctx, float *out, const float *inp, const float *W,
                            const ops_qw *qw, const float *b, const float *residual, int N, int C,
                            int OC)
{
    return encoder_linear_act(ctx, ACT_LINEAR, out, inp, W, qw, b, residual, N, C, OC);
}

mlm_status encoder_linear_act(const ops_ctx *ctx, act_fn act, float *out, const float *inp,
                              const float *W, const ops_qw *qw, const float *b,
                              const float *residual, int N, int C, int OC)
{
    float beta = 0.0f;
    if (residual) {
        memcpy(out, residual, (size_t)N * OC * sizeof *out);
        beta = 1.0f;
    }
    /* Reduced weights take the bias and an exact GELU in the product's
     * epilogue (the same floats as the passes below, without reading the
     * output twice more). */
    int fused_act = qw && act == ACT_GELU;
    mlm_status st = qw ? ops_qw_gemm_epi(ctx, N, inp, C, 1, &qw, beta, &b, fused_act, &out, &OC)
                       : ops_gemm(ctx, 0, 1, N, OC, C, 1.0f, inp, C, W, C, beta, out, OC);
    if (st != MLM_OK)
        return st;
    if (b && !qw)
        ops_bias_forward(ctx, out, b, N, OC);
    if (act != ACT_LINEAR && !fused_act)
        encoder_activate(ctx, act, out, out, (size_t)N * OC);
    return MLM_OK;
}

/* outs[i] (N, OC) = inp (N, C)·W_iᵀ + b_i for n (<= 3) projections of one
 * input (q, k, v): reduced weights in one product (inp quantized once). */
static mlm_status encoder_linear_shared(const ops_ctx *ctx, int n, float *const *out,
                                        const float *inp, const float *const *W,
                                        const ops_qw *const *qw, const float *const *b, int N,
                                        int C, int OC)
{
    int reduced = 1;
    for (int i = 0; i < n; i++)
        reduced &= qw[i] != NULL;
    if (!reduced) {
        for (int i = 0; i < n; i++) {
            mlm_status st = encoder_linear_q(ctx, out[i], inp, W[i], qw[i], b[i], NULL, N, C, OC);
            if (st != MLM_OK)
                return st;
        }
        return MLM_OK;
    }
    const int ldc[3] = {OC, OC, OC};
    return ops_qw_gemm_epi(ctx, N, inp, C, n, qw, 0.0f, b, 0, out, ldc);
}

/* dims_from_config admits only these activations. */
void encoder_activate(const ops_ctx *ctx, act_fn act, float *out, const float *inp, size_t n)
{
    if (act == ACT_RELU)
        ops_relu_forward(ctx, out, inp, n);
    else if (act == ACT_GELU)
        ops_gelu_forward(ctx, out, inp, n);
    else
        ops_gelu_tanh_forward(ctx, out, inp, n);
}

void encoder_activate_backward(const ops_ctx *ctx, act_fn act, float *dinp, const float *dout,
                               const float *inp, size_t n)
{
    if (act == ACT_RELU)
        ops_relu_backward(ctx, dinp, dout, inp, n);
    else if (act == ACT_GELU)
        ops_gelu_backward(ctx, dinp, dout, inp, n);
    else
        ops_gelu_tanh_backward(ctx, dinp, dout, inp, n);
}

/* Position ids: RoBERTa counts non-pad tokens from padding_idx + 1
 * (create_position_ids_from_input_ids); BERT and DistilBERT use 0..T-1. */
mlm_status model_position_ids(const model_dims *d, const int32_t *ids, int B, int T,
                              int32_t *pos)
{
    for (int b = 0; b < B; b++) {
        int count = 0;
        for (int t = 0; t < T; t++) {
            int32_t p = t;
            if (d->arch == ARCH_ROBERTA) {
                int real = ids[b * T + t] != d->pad_id;
                count += real;
                p = real ? count + d->pad_id : d->pad_id;
            }
            if (p < 0 || p >= d->P)
                return err_set(MLM_ERR_RANGE,
                               "row %d: %d tokens need position %d, but the model has "
                               "max_position_embeddings %d",
                               b, T, (int)p, d->P);
            pos[b * T + t] = p;
        }
    }
    return MLM_OK;
}

static mlm_status embeddings(const mlm_model *m, const ops_ctx *ctx, const int32_t *ids,
                             const int32_t *type_ids, int B, int T, float *x, float *tmp,
                             float *mean, float *rstd, int32_t *pos)
{
    const model_dims *d = &m->d;
    int N = B * T;
    mlm_status st = model_position_ids(d, ids, B, T, pos);
    if (st == MLM_OK)
        st = m->w.qw_word ? ops_qw_embedding_forward(ctx, tmp, ids, m->w.qw_word, N, 0)
                          : ops_embedding_forward(ctx, tmp, ids, m->w.word_emb, N, d->V, d->C, 0);
    if (st == MLM_OK)
        st = ops_embedding_forward(ctx, tmp, pos, m->w.pos_emb, N, d->P, d->C, 1);
    if (st == MLM_OK && m->w.type_emb) {
        if (type_ids) {
            st = ops_embedding_forward(ctx, tmp, type_ids, m->w.type_emb, N, d->T, d->C, 1);
        } else {
            /* token_type_ids default to zeros: add row 0 to every token. */
            ops_bias_forward(ctx, tmp, m->w.type_emb, N, d->C);
        }
    }
    if (st != MLM_OK)
        return st;
    ops_layernorm_forward(ctx, x, mean, rstd, tmp, m->w.emb_ln_w, m->w.emb_ln_b, N, d->C,
                          d->ln_eps);
    return MLM_OK;
}

static mlm_status attention(const mlm_model *m, const ops_ctx *ctx, const layer_weights *lw,
                            const float *x, const float *mask, int B, int T, float *q, float *k,
                            float *v, float *probs, float *out)
{
    const model_dims *d = &m->d;
    int N = B * T, C = d->C, H = d->H, D = C / H;
    float *const qkv[3] = {q, k, v};
    const float *const W[3] = {lw->q_w, lw->k_w, lw->v_w};
    const float *const b[3] = {lw->q_b, lw->k_b, lw->v_b};
    const ops_qw *const qw[3] = {lw->qw_q, lw->qw_k, lw->qw_v};
    mlm_status st = encoder_linear_shared(ctx, 3, qkv, x, W, qw, b, N, C, C);
    if (st != MLM_OK)
        return st;
    /* scores (B, H, T, T) = q·kᵀ per (batch, head), read in place from the
     * (B, T, H·D) layout. */
    ops_batch qk = {B, H, (long)T * C, D, (long)T * C, D, (long)H * T * T, (long)T * T};
    st = ops_gemm_batched(ctx, 0, 1, T, T, D, 1.0f, q, C, k, C, 0.0f, probs, T, &qk);
    if (st != MLM_OK)
        return st;
    ops_softmax_forward(ctx, probs, probs, 1.0f / sqrtf((float)D), mask, H * T, B * H * T, T);
    /* out (B, T, H·D) = probs·v per (batch, head). */
    ops_batch pv = {B, H, (long)H * T * T, (long)T * T, (long)T * C, D, (long)T * C, D};
    return ops_gemm_batched(ctx, 0, 0, T, D, T, 1.0f, probs, T, v, C, 0.0f, out, C, &pv);
}

/* One layer over all N rows: x (N, C) in, x out. */
static mlm_status layer_full(const mlm_model *m, const ops_ctx *ctx, const layer_weights *lw,
                             const float *maskp, int B, int T, float *x, float *ws)
{
    const model_dims *d = &m->d;
    size_t N = (size_t)B * T, C = (size_t)d->C;
    float *q = ws, *k = q + N * C, *v = k + N * C, *att = v + N * C, *x1 = att + N * C;
    float *sum = x1 + N * C, *ffn = sum + N * C, *probs = ffn + N * (size_t)d->I;
    float *mean = probs + (size_t)B * d->H * T * T + N, *rstd = mean + N;
    mlm_status st = attention(m, ctx, lw, x, maskp, B, T, q, k, v, probs, att);
    if (st == MLM_OK)
        st = encoder_linear_q(ctx, sum, att, lw->o_w, lw->qw_o, lw->o_b, x, (int)N, d->C, d->C);
    if (st != MLM_OK)
        return st;
    ops_layernorm_forward(ctx, x1, mean, rstd, sum, lw->ln1_w, lw->ln1_b, (int)N, d->C,
                          d->ln_eps);
    st = encoder_linear_act(ctx, d->act, ffn, x1, lw->ff1_w, lw->qw_ff1, lw->ff1_b, NULL, (int)N,
                            d->C, d->I);
    if (st != MLM_OK)
        return st;
    st = encoder_linear_q(ctx, sum, ffn, lw->ff2_w, lw->qw_ff2, lw->ff2_b, x1, (int)N, d->I, d->C);
    if (st == MLM_OK)
        ops_layernorm_forward(ctx, x, mean, rstd, sum, lw->ln2_w, lw->ln2_b, (int)N, d->C,
                              d->ln_eps);
    return st;
}

int encoder_row_runs(const int32_t *rows, int n, int T, row_run *runs)
{
    int count = 0;
    for (int r = 0; r < n; r++) {
        int b = rows[r] / T;
        if (count > 0 && runs[count - 1].b == b) {
            runs[count - 1].len++;
            continue;
        }
        runs[count++] = (row_run){b, r, 1};
    }
    return count;
}

mlm_status encoder_rows_probs(const ops_ctx *ctx, const model_dims *d, const float *q,
                              const float *k, const float *maskp, int T, const row_run *runs,
                              int nruns, float *probs)
{
    size_t C = (size_t)d->C, H = (size_t)d->H, D = C / H;
    for (int i = 0; i < nruns; i++) {
        const row_run *u = &runs[i];
        float *p = probs + H * T * (size_t)u->start;
        /* per head: (len, T) = q rows (len, D) · keys (T, D)ᵀ */
        ops_batch qk = {1, (int)H, 0, (long)D, 0, (long)D, 0, (long)u->len * T};
        mlm_status st = ops_gemm_batched(ctx, 0, 1, u->len, T, (int)D, 1.0f,
                                         q + (size_t)u->start * C, (int)C,
                                         k + (size_t)u->b * T * C, (int)C, 0.0f, p, T, &qk);
        if (st != MLM_OK)
            return st;
        ops_softmax_forward(ctx, p, p, 1.0f / sqrtf((float)D), maskp ? maskp + (size_t)u->b * T : NULL,
                            (int)H * u->len, (int)H * u->len, T);
    }
    return MLM_OK;
}

mlm_status encoder_rows_context(const ops_ctx *ctx, const model_dims *d, const float *probs,
                                const float *v, int T, const row_run *runs, int nruns,
                                float *out)
{
    size_t C = (size_t)d->C, H = (size_t)d->H, D = C / H;
    for (int i = 0; i < nruns; i++) {
        const row_run *u = &runs[i];
        /* per head: (len, D) = probs (len, T) · values (T, D) */
        ops_batch pv = {1, (int)H, 0, (long)u->len * T, 0, (long)D, 0, (long)D};
        mlm_status st = ops_gemm_batched(ctx, 0, 0, u->len, (int)D, T, 1.0f,
                                         probs + H * T * (size_t)u->start, T,
                                         v + (size_t)u->b * T * C, (int)C, 0.0f,
                                         out + (size_t)u->start * C, (int)C, &pv);
        if (st != MLM_OK)
            return st;
    }
    return MLM_OK;
}

/* The last layer when only n of the N rows are wanted (fill-mask: the mask
 * positions): keys and values for every row, the rest — queries, attention
 * output, FFN — for the n rows alone, which at batch 1 saves most of a
 * layer. x (N, C) in; the n rows' states out in x's first n rows. runs:
 * room for n of them. */
static mlm_status layer_rows(const mlm_model *m, const ops_ctx *ctx, const layer_weights *lw,
                             const float *maskp, int B, int T, const int32_t *rows, int n,
                             float *x, float *ws, row_run *runs)
{
    const model_dims *d = &m->d;
    size_t N = (size_t)B * T, C = (size_t)d->C;
    float *q = ws, *k = q + N * C, *v = k + N * C, *att = v + N * C, *x1 = att + N * C;
    float *sum = x1 + N * C, *ffn = sum + N * C, *probs = ffn + N * (size_t)d->I;
    float *mean = probs + (size_t)B * d->H * T * T + N, *rstd = mean + N;
    float *xs = x1;
    float *const kv[2] = {k, v};
    const float *const W[2] = {lw->k_w, lw->v_w}, *const b[2] = {lw->k_b, lw->v_b};
    const ops_qw *const qw[2] = {lw->qw_k, lw->qw_v};
    mlm_status st = encoder_linear_shared(ctx, 2, kv, x, W, qw, b, (int)N, d->C, d->C);
    for (int r = 0; r < n; r++)
        memcpy(xs + r * C, x + (size_t)rows[r] * C, C * sizeof *xs);
    if (st == MLM_OK)
        st = encoder_linear_q(ctx, q, xs, lw->q_w, lw->qw_q, lw->q_b, NULL, n, d->C, d->C);
    int nruns = encoder_row_runs(rows, n, T, runs);
    if (st == MLM_OK)
        st = encoder_rows_probs(ctx, d, q, k, maskp, T, runs, nruns, probs);
    if (st == MLM_OK)
        st = encoder_rows_context(ctx, d, probs, v, T, runs, nruns, att);
    if (st == MLM_OK)
        st = encoder_linear_q(ctx, sum, att, lw->o_w, lw->qw_o, lw->o_b, xs, n, d->C, d->C);
    if (st != MLM_OK)
        return st;
    ops_layernorm_forward(ctx, x1, mean, rstd, sum, lw->ln1_w, lw->ln1_b, n, d->C, d->ln_eps);
    st = encoder_linear_act(ctx, d->act, ffn, x1, lw->ff1_w, lw->qw_ff1, lw->ff1_b, NULL, n, d->C,
                            d->I);
    if (st != MLM_OK)
        return st;
    st = encoder_linear_q(ctx, sum, ffn, lw->ff2_w, lw->qw_ff2, lw->ff2_b, x1, n, d->I, d->C);
    if (st == MLM_OK)
        ops_layernorm_forward(ctx, x, mean, rstd, sum, lw->ln2_w, lw->ln2_b, n, d->C,
                              d->ln_eps);
    return st;
}

/* Selecting rows pays when they are a small part of the batch. */
int encoder_selects_rows(const model_dims *d, size_t N, size_t n_rows)
{
    return d->L > 0 && n_rows >= 1 && n_rows * 2 <= N;
}

mlm_status encoder_forward(const mlm_model *m, const ops_ctx *ctx, const int32_t *ids,
                           const int32_t *attn_mask, const int32_t *type_ids, int B, int T,
                           const int32_t *rows, int n_rows, float *hidden, float *ws)
{
    const model_dims *d = &m->d;
    size_t N = (size_t)B * T, C = (size_t)d->C;
    float *sum = ws + 5 * N * C, *probs = sum + N * C + N * (size_t)d->I;
    float *mask = probs + (size_t)B * d->H * T * T, *mean = mask + N, *rstd = mean + N;
    int32_t *pos = (int32_t *)(rstd + N); /* float-sized slots hold int32 */
    row_run *runs = (row_run *)(void *)(rstd + 2 * N);
    float *x = hidden;

    if (type_ids && d->T > 0) {
        for (size_t i = 0; i < N; i++)
            if (type_ids[i] < 0 || type_ids[i] >= d->T)
                return err_set(MLM_ERR_RANGE, "token_type_ids[%zu] = %d outside [0, %d)", i,
                               (int)type_ids[i], d->T);
    }
    const float *maskp = NULL;
    if (attn_mask) {
        for (size_t i = 0; i < N; i++)
            mask[i] = attn_mask[i] ? 0.0f : -FLT_MAX;
        maskp = mask;
    }
    int select = rows && encoder_selects_rows(d, N, (size_t)n_rows);
    if (rows && !select)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "encoder: %d rows of %zu cannot be selected",
                       n_rows, N);
    mlm_status st = embeddings(m, ctx, ids, d->T > 0 ? type_ids : NULL, B, T, x, sum, mean, rstd, pos);
    for (int l = 0; st == MLM_OK && l < d->L; l++) {
        const layer_weights *lw = &m->w.layer[l];
        if (select && l == d->L - 1)
            st = layer_rows(m, ctx, lw, maskp, B, T, rows, n_rows, x, ws, runs);
        else
            st = layer_full(m, ctx, lw, maskp, B, T, x, ws);
    }
    return st;
}

mlm_status head_forward(const mlm_model *m, const ops_ctx *ctx, const float *rows, int n,
                        float *logits, float *ws)
{
    const model_dims *d = &m->d;
    float *t = ws, *u = ws + (size_t)n * d->C;
    float *mean = u + (size_t)n * d->C, *rstd = mean + n;
    mlm_status st = encoder_linear_act(ctx, d->head_act, t, rows, m->w.head_w, m->w.qw_head,
                                       m->w.head_b, NULL, n, d->C, d->C);
    if (st != MLM_OK)
        return st;
    ops_layernorm_forward(ctx, u, mean, rstd, t, m->w.head_ln_w, m->w.head_ln_b, n, d->C,
                          d->ln_eps);
    return encoder_linear_q(ctx, logits, u, m->w.word_emb, m->w.qw_word, m->w.decoder_b, NULL, n,
                            d->C, d->V);
}
