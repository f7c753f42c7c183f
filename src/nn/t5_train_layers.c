/* T5's sublayers in train mode, each forward beside its backward (llm.c's
 * layout): the attention sublayer (self-attention with the stack's relative
 * position bias, or cross-attention over the encoder's output) and the FFN
 * sublayer (relu, or gated gelu_new). As modeling_t5.py (4.56) computes
 * them, dropout where T5 puts it:
 *
 *   T5LayerSelfAttention / T5LayerCrossAttention:
 *       n   = RMS(x)                                        (T5LayerNorm)
 *       q   = n·Wqᵀ;  k, v = kv·Wkᵀ, kv·Wvᵀ  (kv = n, or the encoder's output)
 *       p   = softmax(q·kᵀ + bias + mask)    per head, no 1/√d_kv
 *       out = x + drop(drop(p)·v·Woᵀ)        (T5Attention's dropout on p,
 *                                             the sublayer's on its output)
 *   T5LayerFF:
 *       n   = RMS(x)
 *       g   = drop(act(n·Wiᵀ))               T5DenseActDense
 *           = drop(act(n·Wi0ᵀ) ⊙ n·Wi1ᵀ)     T5DenseGatedActDense
 *       out = x + drop(g·Woᵀ)
 *
 * With dropout off the forward makes the calls t5.c's eval encoder makes,
 * in its order, so the encoder's output is the same floats.
 *
 * Backward notation: dy is the gradient of the stream; each sublayer's
 * backward turns the gradient at its output into the one at its input in
 * place (the residual passes dy through; the branch adds RMS's backward). */
#include <string.h>

#include "nn/t5_train.h"
#include "nn/train_buf.h"

mlm_status t5_linear_backward(t5_train *tc, int first, float *dinp, float *dweight,
                              const float *dout, const float *inp, const float *weight, int N,
                              int C, int OC)
{
    return ops_linear_backward_to(&tc->ops, (first ? OPS_SET_DINP : 0) | tc->set_w, dinp,
                                  dweight, NULL, dout, inp, weight, N, C, OC);
}

/* ---------------------------------------------------------------- attention */

mlm_status t5_attn_forward(t5_train *tc, const t5_attn_w *w, const float *ln, t5_attn_acts *a,
                           const t5_sublayer *s, float *out)
{
    const t5_dims *d = &tc->tm->d;
    const ops_ctx *ctx = &tc->ops;
    int B = s->B, Tq = s->Tq, Tk = s->Tk, N = B * Tq, Nk = B * Tk;
    int C = d->C, H = d->H, D = d->D, HD = d->HD;
    size_t P = (size_t)B * H * Tq * Tk, HQK = (size_t)H * Tq * Tk;
    const float *kv = s->kv ? s->kv : a->n;
    int drop = t5_train_drops(tc);

    ops_rmsnorm_forward_rstd(ctx, a->n, a->rstd, a->x, ln, N, C, d->eps);
    mlm_status st = t5_linear(ctx, a->q, a->n, w->q, N, C, HD, 0);
    if (st == MLM_OK)
        st = t5_linear(ctx, a->k, kv, w->k, Nk, C, HD, 0);
    if (st == MLM_OK)
        st = t5_linear(ctx, a->v, kv, w->v, Nk, C, HD, 0);
    /* scores (B, H, Tq, Tk) = q·kᵀ per (input, head) on the (B, T, H·D) layout */
    ops_batch qk = {B, H, (long)Tq * HD, D, (long)Tk * HD, D, (long)HQK, (long)Tq * Tk};
    if (st == MLM_OK)
        st = ops_gemm_batched(ctx, 0, 1, Tq, Tk, D, 1.0f, a->q, HD, a->k, HD, 0.0f, a->probs, Tk,
                              &qk);
    if (st != MLM_OK)
        return st;
    /* + bias, then softmax with the key mask: HF's scores + (bias + mask),
     * the same floats (a masked score is −FLT_MAX either way) */
    for (int b = 0; s->bias && b < B; b++)
        ops_bias_forward(ctx, a->probs + (size_t)b * HQK, s->bias, 1, (int)HQK);
    ops_softmax_forward(ctx, a->probs, a->probs, 1.0f, s->mask, H * Tq, B * H * Tq, Tk);
    const float *pd = a->probs;
    if (drop) {
        st = ops_dropout_forward(ctx, tc->s_att[0], a->mask_p, a->probs, P, tc->dropout, tc->seed,
                                 t5_train_stream(tc, s->site));
        pd = tc->s_att[0];
    }
    /* ctx (B, Tq, H·D) = drop(p)·v */
    ops_batch pv = {B, H, (long)HQK, (long)Tq * Tk, (long)Tk * HD, D, (long)Tq * HD, D};
    if (st == MLM_OK)
        st = ops_gemm_batched(ctx, 0, 0, Tq, D, Tk, 1.0f, pd, Tk, a->v, HD, 0.0f, a->ctx, HD,
                              &pv);
    if (st != MLM_OK)
        return st;
    /* out = x + drop(ctx·Woᵀ) */
    size_t NC = (size_t)N * C;
    if (!drop) {
        memcpy(out, a->x, NC * sizeof *out);
        return t5_linear(ctx, out, a->ctx, w->o, N, HD, C, 1);
    }
    st = t5_linear(ctx, tc->s_n[0], a->ctx, w->o, N, HD, C, 0);
    if (st == MLM_OK)
        st = ops_dropout_residual_forward(ctx, out, a->mask_o, a->x, tc->s_n[0], NC, tc->dropout,
                                          tc->seed, t5_train_stream(tc, s->site + 1));
    return st;
}

/* Scratch: s_n[0..1] (N, C), s_hd[0..2] (max(N, Nk), HD), s_att[0..1]. */
mlm_status t5_attn_backward(t5_train *tc, const t5_attn_w *w, const float *ln, t5_attn_grads *g,
                            float *dln, const t5_attn_acts *a, const t5_sublayer *s, float *dy,
                            float *dkv)
{
    const t5_dims *d = &tc->tm->d;
    const ops_ctx *ctx = &tc->ops;
    int B = s->B, Tq = s->Tq, Tk = s->Tk, N = B * Tq, Nk = B * Tk;
    int C = d->C, H = d->H, D = d->D, HD = d->HD;
    size_t P = (size_t)B * H * Tq * Tk, HQK = (size_t)H * Tq * Tk, NC = (size_t)N * C;
    const float *kv = s->kv ? s->kv : a->n;
    int drop = t5_train_drops(tc);
    mlm_status st = MLM_OK;

    /* out = x + drop(o): d(o) from dy; dy itself is x's residual part */
    const float *dproj = dy;
    if (drop) {
        st = ops_dropout_backward_first(ctx, tc->s_n[0], dy, a->mask_o, NC, tc->dropout,
                                        tc->seed, t5_train_stream(tc, s->site + 1));
        dproj = tc->s_n[0];
    }
    /* o = ctx·Woᵀ: dctx (N, HD), dWo */
    float *dctx = tc->s_hd[0];
    if (st == MLM_OK)
        st = t5_linear_backward(tc, 1, dctx, g->o, dproj, a->ctx, w->o, N, HD, C);
    /* ctx = pd·v with pd = drop(p): pd again from the recorded mask */
    const float *pd = a->probs;
    if (st == MLM_OK && drop) {
        st = ops_dropout_apply(ctx, tc->s_att[0], a->mask_p, a->probs, P, tc->dropout);
        pd = tc->s_att[0];
    }
    /* dv (Nk, HD) = pdᵀ·dctx, d(pd) (B, H, Tq, Tk) = dctx·vᵀ, per (input, head) */
    float *dv = tc->s_hd[1], *dpd = tc->s_att[1];
    ops_batch tv = {B, H, (long)HQK, (long)Tq * Tk, (long)Tq * HD, D, (long)Tk * HD, D};
    ops_batch dvt = {B, H, (long)Tq * HD, D, (long)Tk * HD, D, (long)HQK, (long)Tq * Tk};
    if (st == MLM_OK)
        st = ops_gemm_batched(ctx, 1, 0, Tk, D, Tq, 1.0f, pd, Tk, dctx, HD, 0.0f, dv, HD, &tv);
    if (st == MLM_OK)
        st = ops_gemm_batched(ctx, 0, 1, Tq, Tk, D, 1.0f, dctx, HD, a->v, HD, 0.0f, dpd, Tk, &dvt);
    /* v = kv·Wvᵀ: into dn (self: its first part) or dkv (cross: added to
     * what the other blocks gave), and dWv */
    float *dn = tc->s_n[1];
    float *dkv_in = s->kv ? dkv : dn;
    if (st == MLM_OK)
        st = s->kv ? t5_linear_backward(tc, 0, dkv, g->v, dv, kv, w->v, Nk, C, HD)
                   : t5_linear_backward(tc, 1, dn, g->v, dv, kv, w->v, Nk, C, HD);
    if (st != MLM_OK)
        return st;
    /* p: the dropout's backward, then the softmax's:
     * d(scores) = p·(dp − <p, dp>) */
    float *dp = dpd, *ds = tc->s_att[0];
    if (drop) {
        st = ops_dropout_backward_first(ctx, tc->s_att[0], dpd, a->mask_p, P,
                                        tc->dropout, tc->seed, t5_train_stream(tc, s->site));
        dp = tc->s_att[0];
        ds = tc->s_att[1];
    }
    if (st != MLM_OK)
        return st;
    ops_softmax_backward(ctx, buf_zeroed(ds, P), dp, a->probs, 1.0f, B * H * Tq, Tk);
    /* the bias is added to every input's scores: its gradient sums them */
    if (s->dbias)
        ops_bias_backward(ctx, s->dbias, ds, B, (int)HQK);
    /* dq (N, HD) = ds·k, dk (Nk, HD) = dsᵀ·q */
    float *dq = tc->s_hd[0], *dk = tc->s_hd[2];
    ops_batch sk = {B, H, (long)HQK, (long)Tq * Tk, (long)Tk * HD, D, (long)Tq * HD, D};
    ops_batch sq = {B, H, (long)HQK, (long)Tq * Tk, (long)Tq * HD, D, (long)Tk * HD, D};
    st = ops_gemm_batched(ctx, 0, 0, Tq, D, Tk, 1.0f, ds, Tk, a->k, HD, 0.0f, dq, HD, &sk);
    if (st == MLM_OK)
        st = ops_gemm_batched(ctx, 1, 0, Tk, D, Tq, 1.0f, ds, Tk, a->q, HD, 0.0f, dk, HD, &sq);
    if (st == MLM_OK)   /* dn's first part when the keys and values came from dkv */
        st = s->kv ? t5_linear_backward(tc, 1, dn, g->q, dq, a->n, w->q, N, C, HD)
                   : t5_linear_backward(tc, 0, dn, g->q, dq, a->n, w->q, N, C, HD);
    if (st == MLM_OK)
        st = t5_linear_backward(tc, 0, dkv_in, g->k, dk, kv, w->k, Nk, C, HD);
    if (st != MLM_OK)
        return st;
    /* n = RMS(x): dy += its backward (dy already holds the residual's part) */
    ops_rmsnorm_backward(ctx, dy, dln, dn, a->x, ln, a->rstd, N, C);
    return MLM_OK;
}

/* ---------------------------------------------------------------- FFN */

/* T5DenseActDense with ReLU in train mode: the activation and the dropout
 * after it run as one (ops_relu_dropout_forward), whose mask is then the
 * backward of both. */
static int relu_drop(const t5_train *tc)
{
    return t5_train_drops(tc) && !tc->tm->d.gated && tc->tm->d.act == ACT_RELU;
}

mlm_status t5_ffn_forward(t5_train *tc, const t5_block_w *w, t5_ffn_acts *a, int N,
                          uint64_t site, float *out)
{
    const t5_dims *d = &tc->tm->d;
    const ops_ctx *ctx = &tc->ops;
    int C = d->C, F = d->F, drop = t5_train_drops(tc);
    size_t NF = (size_t)N * F, NC = (size_t)N * C;

    ops_rmsnorm_forward_rstd(ctx, a->n, a->rstd, a->x, w->ln_ff, N, C, d->eps);
    mlm_status st = t5_linear(ctx, a->h, a->n, w->wi, N, C, F, 0);
    if (st != MLM_OK)
        return st;
    /* the activation (times the gate) lands in g, or in scratch for dropout;
     * ReLU before dropout is one pass, its mask recording both */
    float *act = drop ? tc->s_f[0] : a->g;
    if (relu_drop(tc)) {
        st = ops_relu_dropout_forward(ctx, a->g, a->mask_g, a->h, NF, tc->dropout, tc->seed,
                                      t5_train_stream(tc, site));
    } else if (d->gated) {
        encoder_activate(ctx, d->act, a->a, a->h, NF);
        if ((st = t5_linear(ctx, a->h1, a->n, w->wi1, N, C, F, 0)) != MLM_OK)
            return st;
        ops_mul_forward(ctx, act, a->a, a->h1, NF);
    } else {
        encoder_activate(ctx, d->act, act, a->h, NF);
    }
    if (drop && !relu_drop(tc))
        st = ops_dropout_forward(ctx, a->g, a->mask_g, act, NF, tc->dropout, tc->seed,
                                 t5_train_stream(tc, site));
    if (st != MLM_OK)
        return st;
    /* out = x + drop(g·Woᵀ) */
    if (!drop) {
        memcpy(out, a->x, NC * sizeof *out);
        return t5_linear(ctx, out, a->g, w->wo, N, F, C, 1);
    }
    st = t5_linear(ctx, tc->s_n[0], a->g, w->wo, N, F, C, 0);
    if (st == MLM_OK)
        st = ops_dropout_residual_forward(ctx, out, a->mask_o, a->x, tc->s_n[0], NC, tc->dropout,
                                          tc->seed, t5_train_stream(tc, site + 1));
    return st;
}

/* Scratch: s_n[0..1] (N, C), s_f[0..2] (N, F). */
mlm_status t5_ffn_backward(t5_train *tc, const t5_block_w *w, t5_block_grads *g,
                           const t5_ffn_acts *a, int N, uint64_t site, float *dy)
{
    const t5_dims *d = &tc->tm->d;
    const ops_ctx *ctx = &tc->ops;
    int C = d->C, F = d->F, drop = t5_train_drops(tc);
    size_t NF = (size_t)N * F, NC = (size_t)N * C;
    mlm_status st = MLM_OK;

    const float *dproj = dy;
    if (drop) {
        st = ops_dropout_backward_first(ctx, tc->s_n[0], dy, a->mask_o, NC, tc->dropout,
                                        tc->seed, t5_train_stream(tc, site + 1));
        dproj = tc->s_n[0];
    }
    /* o = g·Woᵀ: dg (N, F), dWo */
    float *f[3] = {tc->s_f[0], tc->s_f[1], tc->s_f[2]};
    float *dg = f[0];
    if (st == MLM_OK)
        st = t5_linear_backward(tc, 1, dg, g->wo, dproj, a->g, w->wo, N, F, C);
    /* g = drop(act): d(act) */
    float *dact = dg, *free1 = f[1], *free2 = f[2];
    if (st == MLM_OK && drop) {
        st = ops_dropout_backward_first(ctx, f[1], dg, a->mask_g, NF, tc->dropout,
                                        tc->seed, t5_train_stream(tc, site));
        dact = f[1];
        free1 = f[0]; /* dg is spent */
    }
    if (st != MLM_OK)
        return st;
    /* dn: the first of its one or two parts overwrites it */
    float *dn = tc->s_n[1], *dh;
    if (d->gated) {
        /* act(h)·h1: the product rule, then the activation's backward */
        float *da = buf_zeroed(free2, NF), *dh1 = buf_zeroed(free1, NF);
        ops_mul_backward(ctx, da, dh1, dact, a->a, a->h1, NF);
        st = t5_linear_backward(tc, 1, dn, g->wi1, dh1, a->n, w->wi1, N, C, F);
        dh = buf_zeroed(dact, NF); /* d(act) is spent */
        encoder_activate_backward(ctx, d->act, dh, da, a->h, NF);
    } else if (relu_drop(tc)) {
        dh = dact; /* the mask of the one-pass forward held ReLU's too */
    } else {
        dh = buf_zeroed(free2, NF);
        encoder_activate_backward(ctx, d->act, dh, dact, a->h, NF);
    }
    if (st == MLM_OK)
        st = d->gated ? t5_linear_backward(tc, 0, dn, g->wi, dh, a->n, w->wi, N, C, F)
                      : t5_linear_backward(tc, 1, dn, g->wi, dh, a->n, w->wi, N, C, F);
    if (st != MLM_OK)
        return st;
    ops_rmsnorm_backward(ctx, dy, g->ln_ff, dn, a->x, w->ln_ff, a->rstd, N, C);
    return MLM_OK;
}
