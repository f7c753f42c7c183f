/* T5's forward passes in eval mode (see nn/t5.h for the model): the
 * encoder, the teacher-forced decoder, and incremental decoding with a
 * key/value cache, which is what generation drives (the seq2seq interface
 * of nn/family.h).
 *
 * Shapes: B inputs of S source tokens, N = B·S rows; C = d_model, HD =
 * num_heads·d_kv, F = d_ff; products are x·Wᵀ with W stored (out, in) as
 * torch stores it. Masks become HF's additive form, 0 or finfo(float32).min
 * (−FLT_MAX), which swamps any score it is added to.
 *
 * The decoder's attention (self and cross, teacher-forced or cached) goes
 * through ops_attention_rows, which computes each query row in a fixed
 * order whatever the other rows: the cached steps and the teacher-forced
 * forward run the same attention code on the same keys, and differ only in
 * the row count of the projections. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "nn/t5.h"

mlm_status t5_linear(const ops_ctx *ctx, float *out, const float *inp, const float *W, int N,
                     int IC, int OC, int accumulate)
{
    return ops_gemm(ctx, 0, 1, N, OC, IC, 1.0f, inp, IC, W, IC, accumulate ? 1.0f : 0.0f, out,
                    OC);
}

mlm_status t5_linear_q(const ops_ctx *ctx, float *out, const float *inp, const float *W,
                       const ops_qw *qw, int N, int IC, int OC, int accumulate)
{
    if (qw)
        return ops_qw_gemm(ctx, N, inp, IC, qw, accumulate ? 1.0f : 0.0f, out, OC);
    return t5_linear(ctx, out, inp, W, N, IC, OC, accumulate);
}

/* q, k, v (N, HD) = n (N, C) · Wᵀ, one attention's three projections of
 * one input; reduced weights in one product (n quantized once). */
static mlm_status t5_qkv(const ops_ctx *ctx, const t5_dims *d, const t5_attn_w *a,
                         const float *n, int N, float *q, float *k, float *v)
{
    if (a->qw_q && a->qw_k && a->qw_v) {
        const ops_qw *w[3] = {a->qw_q, a->qw_k, a->qw_v};
        float *const C[3] = {q, k, v};
        const int ldc[3] = {d->HD, d->HD, d->HD};
        return ops_qw_gemm_multi(ctx, N, n, d->C, 3, w, C, ldc);
    }
    mlm_status st = t5_linear_q(ctx, q, n, a->q, a->qw_q, N, d->C, d->HD, 0);
    if (st == MLM_OK)
        st = t5_linear_q(ctx, k, n, a->k, a->qw_k, N, d->C, d->HD, 0);
    if (st == MLM_OK)
        st = t5_linear_q(ctx, v, n, a->v, a->qw_v, N, d->C, d->HD, 0);
    return st;
}

/* x (N, C) = shared[ids], from the reduced table when there is one. */
static mlm_status embed(const t5_model *tm, const ops_ctx *ctx, float *x, const int32_t *ids, int N)
{
    if (tm->w.qw_shared)
        return ops_qw_embedding_forward(ctx, x, ids, tm->w.qw_shared, N, 0);
    return ops_embedding_forward(ctx, x, ids, tm->w.shared, N, tm->d.V, tm->d.C, 0);
}

/* x (N, C) += FFN(RMS(x)); n (N, C), h (N, F) and, gated, h1 (N, F) scratch. */
static mlm_status ffn_block(const t5_dims *d, const ops_ctx *ctx, const t5_block_w *b, float *x,
                            float *n, float *h, float *h1, int N)
{
    ops_rmsnorm_forward(ctx, n, x, b->ln_ff, N, d->C, d->eps);
    mlm_status st;
    if (d->gated && b->qw_wi && b->qw_wi1) {   /* both halves in one product */
        const ops_qw *w[2] = {b->qw_wi, b->qw_wi1};
        float *const C[2] = {h, h1};
        const int ldc[2] = {d->F, d->F};
        st = ops_qw_gemm_multi(ctx, N, n, d->C, 2, w, C, ldc);
    } else {
        st = t5_linear_q(ctx, h, n, b->wi, b->qw_wi, N, d->C, d->F, 0);
        if (st == MLM_OK && d->gated)
            st = t5_linear_q(ctx, h1, n, b->wi1, b->qw_wi1, N, d->C, d->F, 0);
    }
    if (st != MLM_OK)
        return st;
    encoder_activate(ctx, d->act, h, h, (size_t)N * d->F);
    if (d->gated)
        ops_mul_forward(ctx, h, h, h1, (size_t)N * d->F);
    return t5_linear_q(ctx, x, h, b->wo, b->qw_wo, N, d->F, d->C, 1);
}

void t5_position_bias(const t5_dims *d, const float *rel, int bidirectional, int q0, int nq,
                      int nk, long ld, float *bias)
{
    for (int i = 0; i < nq; i++)
        for (int j = 0; j < nk; j++) {
            int bucket = t5_bucket(j - (q0 + i), bidirectional, d->NB, d->max_dist);
            for (int h = 0; h < d->H; h++)
                bias[(long)h * ld + (long)i * nk + j] = rel[(long)bucket * d->H + h];
        }
}

/* mask (n) of 0/1, or NULL → additive (n): 0 or −FLT_MAX; NULL stays NULL. */
static const float *additive_mask(const int32_t *mask, size_t n, float *out)
{
    if (!mask)
        return NULL;
    for (size_t i = 0; i < n; i++)
        out[i] = mask[i] ? 0.0f : -FLT_MAX;
    return out;
}

/* ---------------------------------------------------------------- encoder */

size_t t5_encode_ws_floats(const t5_dims *d, int B, int S)
{
    size_t N = (size_t)B * S;
    return N * d->C                                /* RMS(x) */
           + 4 * N * d->HD                         /* q, k, v, context */
           + (size_t)B * d->H * S * S              /* scores */
           + N * d->F * (d->gated ? 2 : 1)         /* FFN */
           + (size_t)d->H * S * S                  /* position bias */
           + N;                                    /* additive mask */
}

mlm_status t5_encode_forward(const t5_model *tm, const ops_ctx *ctx, const int32_t *ids,
                             const int32_t *mask, int B, int S, float *x, float *ws)
{
    const t5_dims *d = &tm->d;
    size_t N = (size_t)B * S, HD = (size_t)d->HD, HSS = (size_t)d->H * S * S;
    float *n = ws, *q = n + N * d->C, *k = q + N * HD, *v = k + N * HD, *att = v + N * HD;
    float *scores = att + N * HD, *h = scores + (size_t)B * HSS, *h1 = h + N * d->F;
    float *bias = h + N * d->F * (d->gated ? 2 : 1), *madd = bias + HSS;
    const float *maskp = additive_mask(mask, N, madd);
    /* x (N, C) = shared[ids] */
    mlm_status st = embed(tm, ctx, x, ids, (int)N);
    if (st != MLM_OK)
        return st;
    /* bias (H, S, S): computed once, shared by every block */
    t5_position_bias(d, tm->w.enc_rel, 1, 0, S, S, (long)S * S, bias);
    ops_batch qk = {B, d->H, (long)S * HD, d->D, (long)S * HD, d->D, (long)HSS, (long)S * S};
    ops_batch pv = {B, d->H, (long)HSS, (long)S * S, (long)S * HD, d->D, (long)S * HD, d->D};
    for (int l = 0; st == MLM_OK && l < d->Le; l++) {
        const t5_block_w *b = &tm->w.enc[l];
        /* x += SelfAttn(RMS(x)) */
        ops_rmsnorm_forward(ctx, n, x, b->ln_sa, (int)N, d->C, d->eps);
        st = t5_qkv(ctx, d, &b->sa, n, (int)N, q, k, v);
        /* scores (B, H, S, S) = q·kᵀ per (input, head), no 1/√d_kv */
        if (st == MLM_OK)
            st = ops_gemm_batched(ctx, 0, 1, S, S, d->D, 1.0f, q, (int)HD, k, (int)HD, 0.0f,
                                  scores, S, &qk);
        if (st != MLM_OK)
            break;
        /* + position bias, then softmax with the key mask: HF's
         * scores + (bias + mask), the same floats (a masked score is −FLT_MAX
         * either way) */
        for (int bi = 0; bi < B; bi++)
            ops_bias_forward(ctx, scores + (size_t)bi * HSS, bias, 1, (int)HSS);
        ops_softmax_forward(ctx, scores, scores, 1.0f, maskp, d->H * S, B * d->H * S, S);
        /* att (B, S, HD) = p·v */
        st = ops_gemm_batched(ctx, 0, 0, S, d->D, S, 1.0f, scores, S, v, (int)HD, 0.0f, att,
                              (int)HD, &pv);
        if (st == MLM_OK)
            st = t5_linear_q(ctx, x, att, b->sa.o, b->sa.qw_o, (int)N, d->HD, d->C, 1);
        /* x += FFN(RMS(x)) */
        if (st == MLM_OK)
            st = ffn_block(d, ctx, b, x, n, h, h1, (int)N);
    }
    if (st == MLM_OK)
        ops_rmsnorm_forward(ctx, x, x, tm->w.enc_ln, (int)N, d->C, d->eps);
    return st;
}

static mlm_status s2s_encode(const mlm_model *m, const ops_ctx *ctx, const int32_t *ids,
                             const int32_t *mask, int B, int S, float *hidden)
{
    const t5_model *tm = t5_of(m);
    scratch_cache *sc = model_scratch_cache(m);
    float *ws = scratch_get(sc, t5_encode_ws_floats(&tm->d, B, S) * sizeof *ws);
    if (!ws)
        return err_oom();
    mlm_status st = t5_encode_forward(tm, ctx, ids, mask, B, S, hidden, ws);
    scratch_put(sc, ws);
    return st;
}

/* ---------------------------------------------------------------- decoder head */

/* logits (N, V) = RMS(y)·[d_model^-0.5 when tied]·lm_headᵀ; y is overwritten. */
static mlm_status lm_head(const t5_model *tm, const ops_ctx *ctx, float *y, int N, float *logits)
{
    const t5_dims *d = &tm->d;
    ops_rmsnorm_forward(ctx, y, y, tm->w.dec_ln, N, d->C, d->eps);
    if (d->tied) /* HF: sequence_output * (self.model_dim ** -0.5), a float32 product */
        ops_scale_forward(ctx, y, y, (float)pow((double)d->C, -0.5), (size_t)N * d->C);
    return t5_linear_q(ctx, logits, y, tm->w.lm_head, d->tied ? tm->w.qw_shared : tm->w.qw_lm_head,
                       N, d->C, d->V, 0);
}

/* ---------------------------------------------------------------- teacher-forced decoder */

static mlm_status s2s_decode(const mlm_model *m, const ops_ctx *ctx, const float *enc,
                             const int32_t *enc_mask, int B, int S, const int32_t *dec_ids,
                             const int32_t *dec_mask, int T, float *logits)
{
    const t5_model *tm = t5_of(m);
    const t5_dims *d = &tm->d;
    size_t N = (size_t)B * T, HD = (size_t)d->HD, NS = (size_t)B * S;
    size_t nk_max = (size_t)(S > T ? S : T);
    size_t floats = N * d->C * 2 + 4 * N * HD + 2 * NS * HD + N * d->F * (d->gated ? 2 : 1) +
                    (size_t)d->H * T * T + N + NS + N * nk_max;
    float *ws = mem_alloc(floats * sizeof *ws);
    if (!ws)
        return err_oom();
    float *y = ws, *n = y + N * d->C, *q = n + N * d->C, *k = q + N * HD, *v = k + N * HD;
    float *att = v + N * HD, *ck = att + N * HD, *cv = ck + NS * HD, *h = cv + NS * HD;
    float *h1 = h + N * d->F, *bias = h + N * d->F * (d->gated ? 2 : 1);
    float *dadd = bias + (size_t)d->H * T * T, *eadd = dadd + N, *scratch = eadd + NS;
    const float *dmaskp = additive_mask(dec_mask, N, dadd);
    const float *emaskp = additive_mask(enc_mask, NS, eadd);
    mlm_status st = embed(tm, ctx, y, dec_ids, (int)N);
    /* bias (H, T, T) causal, computed once for the stack */
    t5_position_bias(d, tm->w.dec_rel, 0, 0, T, T, (long)T * T, bias);
    for (int l = 0; st == MLM_OK && l < d->Ld; l++) {
        const t5_block_w *b = &tm->w.dec[l];
        /* y += CausalSelfAttn(RMS(y)): query i of every input against keys
         * 0..i (a key past i would get finfo.min, i.e. probability 0) */
        ops_rmsnorm_forward(ctx, n, y, b->ln_sa, (int)N, d->C, d->eps);
        st = t5_qkv(ctx, d, &b->sa, n, (int)N, q, k, v);
        if (st != MLM_OK)
            break;
        for (int i = 0; i < T; i++) {
            ops_attention a = {.rows = B, .H = d->H, .D = d->D, .nk = i + 1, .rows_per_kv = 1,
                               .q = q + (size_t)i * HD, .q_ld = (long)T * (long)HD,
                               .k = k, .v = v, .kv_stride = (long)T * (long)HD, .kv_ld = (long)HD,
                               .add = bias + (size_t)i * T, .add_ld = (long)T * T,
                               .mask = dmaskp, .mask_ld = T,
                               .out = att + (size_t)i * HD, .out_ld = (long)T * (long)HD,
                               .scratch = scratch};
            ops_attention_rows(ctx, &a);
        }
        st = t5_linear_q(ctx, y, att, b->sa.o, b->sa.qw_o, (int)N, d->HD, d->C, 1);
        /* y += CrossAttn(RMS(y), enc): keys and values from the encoder's
         * output, its mask, no position bias */
        if (st == MLM_OK) {
            ops_rmsnorm_forward(ctx, n, y, b->ln_ca, (int)N, d->C, d->eps);
            st = t5_linear_q(ctx, q, n, b->ca.q, b->ca.qw_q, (int)N, d->C, d->HD, 0);
        }
        if (st == MLM_OK)
            st = t5_linear_q(ctx, ck, enc, b->ca.k, b->ca.qw_k, (int)NS, d->C, d->HD, 0);
        if (st == MLM_OK)
            st = t5_linear_q(ctx, cv, enc, b->ca.v, b->ca.qw_v, (int)NS, d->C, d->HD, 0);
        if (st != MLM_OK)
            break;
        ops_attention ca = {.rows = (int)N, .H = d->H, .D = d->D, .nk = S, .rows_per_kv = T,
                            .q = q, .q_ld = (long)HD, .k = ck, .v = cv,
                            .kv_stride = (long)S * (long)HD, .kv_ld = (long)HD,
                            .mask = emaskp, .mask_ld = S, .out = att, .out_ld = (long)HD,
                            .scratch = scratch};
        ops_attention_rows(ctx, &ca);
        st = t5_linear_q(ctx, y, att, b->ca.o, b->ca.qw_o, (int)N, d->HD, d->C, 1);
        /* y += FFN(RMS(y)) */
        if (st == MLM_OK)
            st = ffn_block(d, ctx, b, y, n, h, h1, (int)N);
    }
    if (st == MLM_OK)
        st = lm_head(tm, ctx, y, (int)N, logits);
    mem_free(ws);
    return st;
}

/* ---------------------------------------------------------------- cached decoding */

/* The self-attention cache holds, per decoder layer, `rows` slots of
 * max_steps positions (HD floats each) for keys and for values. Row r
 * reads and appends to slot slot[r]. Beam search reorders rows: row r then
 * continues row src[r]'s history. The slot of a parent chosen once moves to
 * its child as it is; a parent chosen k times keeps its slot for the first
 * child and is copied into a free slot for the others, so a step copies
 * only the histories that forked. */
struct s2s_state {
    const t5_model *tm;
    scratch_cache *sc;         /* the model's: ck, sk and x come from it */
    int B, S, rows, per, max_steps, t;
    float *eadd;               /* (B, S) additive encoder mask, or NULL: all ones */
    float *ck, *cv;            /* (Ld, B, H, S, D): cross-attention keys, values, each
                                  head's S keys together (a stream per head) */
    float *sk, *sv;            /* (Ld, rows slots, max_steps, HD) */
    int32_t *slot, *next_slot; /* (rows) */
    uint8_t *taken;            /* (rows) scratch of reorder */
    float *x, *n, *q, *kn, *vn, *att, *h, *h1, *bias, *scratch;
};

static void s2s_state_free(s2s_state *s)
{
    if (!s)
        return;
    mem_free(s->eadd);
    scratch_put(s->sc, s->ck);
    scratch_put(s->sc, s->sk);
    mem_free(s->slot);
    scratch_put(s->sc, s->x);
    mem_free(s);
}

static mlm_status s2s_state_new(const mlm_model *m, const ops_ctx *ctx, const float *enc,
                                const int32_t *enc_mask, int B, int S, int per, int max_steps,
                                s2s_state **out)
{
    const t5_model *tm = t5_of(m);
    const t5_dims *d = &tm->d;
    *out = NULL;
    if (B < 1 || S < 1 || per < 1 || max_steps < 1)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "decoder state: %d inputs of %d tokens, %d rows "
                                                 "each, %d steps", B, S, per, max_steps);
    s2s_state *s = mem_calloc(1, sizeof *s);
    if (!s)
        return err_oom();
    size_t rows = (size_t)B * per, HD = (size_t)d->HD, NS = (size_t)B * S;
    size_t nk_max = (size_t)(S > max_steps ? S : max_steps);
    *s = (s2s_state){.tm = tm, .sc = model_scratch_cache(m), .B = B, .S = S, .rows = (int)rows,
                     .per = per, .max_steps = max_steps};
    s->ck = scratch_get(s->sc, 2 * (size_t)d->Ld * NS * HD * sizeof *s->ck);
    s->sk = scratch_get(s->sc, 2 * (size_t)d->Ld * rows * max_steps * HD * sizeof *s->sk);
    s->slot = mem_alloc(rows * (2 * sizeof(int32_t) + 1));
    size_t work = rows * d->C * 2 + rows * HD * 4 + rows * d->F * (d->gated ? 2 : 1) +
                  (size_t)d->H * max_steps + rows * nk_max;
    s->x = scratch_get(s->sc, work * sizeof *s->x);
    if (enc_mask)
        s->eadd = mem_alloc(NS * sizeof *s->eadd);
    if (!s->ck || !s->sk || !s->slot || !s->x || (enc_mask && !s->eadd)) {
        s2s_state_free(s);
        return err_oom();
    }
    s->cv = s->ck + (size_t)d->Ld * NS * HD;
    s->sv = s->sk + (size_t)d->Ld * rows * max_steps * HD;
    s->next_slot = s->slot + rows;
    s->taken = (uint8_t *)(s->next_slot + rows);
    s->n = s->x + rows * d->C;
    s->q = s->n + rows * d->C;
    s->kn = s->q + rows * HD;
    s->vn = s->kn + rows * HD;
    s->att = s->vn + rows * HD;
    s->h = s->att + rows * HD;
    s->h1 = s->h + rows * d->F;
    s->bias = s->h + rows * d->F * (d->gated ? 2 : 1);
    s->scratch = s->bias + (size_t)d->H * max_steps;
    for (size_t r = 0; r < rows; r++)
        s->slot[r] = (int32_t)r;
    additive_mask(enc_mask, NS, s->eadd);
    /* Cross-attention keys and values, once per input (its rows share
     * them), regrouped head by head: every step reads them all (25 MB in
     * t5-small at batch 8), and a head's keys in one run of S·D floats
     * stream from memory where rows of H·D strided by head stall. */
    mlm_status st = MLM_OK;
    /* The projections are staged in the self-attention cache, empty until
     * the first step, when it is large enough (2 MB fewer at the peak of a
     * t5-small batch of 8), else in a block of their own. */
    size_t self_floats = 2 * (size_t)d->Ld * rows * max_steps * HD;
    float *tmp = self_floats >= NS * HD ? s->sk : scratch_get(s->sc, NS * HD * sizeof *tmp);
    if (!tmp)
        st = err_oom();
    for (int l = 0; st == MLM_OK && l < 2 * d->Ld; l++) {
        const t5_attn_w *ca = &tm->w.dec[l % d->Ld].ca;
        float *dst = (l < d->Ld ? s->ck : s->cv) + (size_t)(l % d->Ld) * NS * HD;
        st = t5_linear_q(ctx, tmp, enc, l < d->Ld ? ca->k : ca->v,
                         l < d->Ld ? ca->qw_k : ca->qw_v, (int)NS, d->C, d->HD, 0);
        for (size_t b = 0; st == MLM_OK && b < (size_t)B; b++)
            for (size_t h = 0; h < (size_t)d->H; h++)
                for (size_t j = 0; j < (size_t)S; j++)
                    memcpy(dst + ((b * (size_t)d->H + h) * (size_t)S + j) * (size_t)d->D,
                           tmp + (b * (size_t)S + j) * HD + h * (size_t)d->D,
                           (size_t)d->D * sizeof *dst);
    }
    if (tmp != s->sk)
        scratch_put(s->sc, tmp);
    if (st != MLM_OK) {
        s2s_state_free(s);
        return st;
    }
    *out = s;
    return MLM_OK;
}

/* Whether this step's rows are alike within each input: the first step of
 * beam search or of several returned sequences (every row of an input
 * starts from its decoder start token, with an empty cache). */
static int step_alike(const s2s_state *s, const int32_t *tokens)
{
    if (s->t != 0 || s->per < 2)
        return 0;
    for (int r = 0; r < s->rows; r++)
        if (tokens[r] != tokens[r - r % s->per])
            return 0;
    return 1;
}

/* Copies row i of x (n rows of w floats) to rows i·per .. i·per + per − 1,
 * the last input first, so that no row is overwritten before it is read. */
static void spread_rows(float *x, int n, int per, size_t w)
{
    for (int i = n - 1; i >= 0; i--)
        for (int j = per - 1; j >= 0; j--)
            if ((size_t)i * per + j != (size_t)i)
                memcpy(x + ((size_t)i * per + j) * w, x + (size_t)i * w, w * sizeof *x);
}

static mlm_status s2s_step(s2s_state *s, const ops_ctx *ctx, const int32_t *tokens,
                           float *logits)
{
    const t5_model *tm = s->tm;
    const t5_dims *d = &tm->d;
    int R = s->rows, t = s->t;
    size_t HD = (size_t)d->HD, NS = (size_t)s->B * s->S;
    size_t slot_floats = (size_t)s->max_steps * HD, layer_floats = (size_t)R * slot_floats;
    if (t >= s->max_steps)
        return err_set(MLM_ERR_STATE, "decoder state: all %d steps are used", s->max_steps);
    /* Rows alike within each input run once per input (a quarter of the
     * first step at 4 beams), their key, value and logits then copied to
     * the others: what each would get on its own (bit for bit with reduced
     * weights, whose products do not depend on the row count; fp32's may
     * round differently, as between any two batch sizes). next_slot, free
     * until reorder, holds the slots and tokens of the rows that run
     * (2·B <= rows). */
    int per = step_alike(s, tokens) ? s->per : 1, Rr = R / per;
    const int32_t *ids = tokens, *block = s->slot;
    if (per > 1) {
        int32_t *blk = s->next_slot, *tok = s->next_slot + Rr;
        for (int i = 0; i < Rr; i++) {
            blk[i] = s->slot[i * per];
            tok[i] = tokens[i * per];
        }
        ids = tok;
        block = blk;
    }
    mlm_status st = embed(tm, ctx, s->x, ids, Rr);
    /* bias (H, t + 1): query position t against keys 0..t, causal buckets */
    t5_position_bias(d, tm->w.dec_rel, 0, t, 1, t + 1, (long)(t + 1), s->bias);
    for (int l = 0; st == MLM_OK && l < d->Ld; l++) {
        const t5_block_w *b = &tm->w.dec[l];
        float *sk = s->sk + (size_t)l * layer_floats, *sv = s->sv + (size_t)l * layer_floats;
        /* y += SelfAttn(RMS(y)) over the cache and this step's key and value */
        ops_rmsnorm_forward(ctx, s->n, s->x, b->ln_sa, Rr, d->C, d->eps);
        st = t5_qkv(ctx, d, &b->sa, s->n, Rr, s->q, s->kn, s->vn);
        if (st != MLM_OK)
            break;
        for (int r = 0; r < R; r++) {
            size_t at = (size_t)s->slot[r] * slot_floats + (size_t)t * HD;
            memcpy(sk + at, s->kn + (size_t)(r / per) * HD, HD * sizeof *sk);
            memcpy(sv + at, s->vn + (size_t)(r / per) * HD, HD * sizeof *sv);
        }
        ops_attention a = {.rows = Rr, .H = d->H, .D = d->D, .nk = t + 1, .rows_per_kv = 1,
                           .block = block, .q = s->q, .q_ld = (long)HD, .k = sk, .v = sv,
                           .kv_stride = (long)slot_floats, .kv_ld = (long)HD, .add = s->bias,
                           .add_ld = t + 1, .out = s->att, .out_ld = (long)HD,
                           .scratch = s->scratch};
        ops_attention_rows(ctx, &a);
        st = t5_linear_q(ctx, s->x, s->att, b->sa.o, b->sa.qw_o, Rr, d->HD, d->C, 1);
        /* y += CrossAttn(RMS(y)) against the input's keys and values */
        if (st == MLM_OK) {
            ops_rmsnorm_forward(ctx, s->n, s->x, b->ln_ca, Rr, d->C, d->eps);
            st = t5_linear_q(ctx, s->q, s->n, b->ca.q, b->ca.qw_q, Rr, d->C, d->HD, 0);
        }
        if (st != MLM_OK)
            break;
        ops_attention ca = {.rows = Rr, .H = d->H, .D = d->D, .nk = s->S,
                            .rows_per_kv = s->per / per, .q = s->q, .q_ld = (long)HD,
                            .k = s->ck + (size_t)l * NS * HD, .v = s->cv + (size_t)l * NS * HD,
                            .kv_stride = (long)s->S * (long)HD, .kv_ld = d->D,
                            .kv_head = (long)s->S * d->D, .mask = s->eadd, .mask_ld = s->S,
                            .out = s->att, .out_ld = (long)HD, .scratch = s->scratch};
        ops_attention_rows(ctx, &ca);
        st = t5_linear_q(ctx, s->x, s->att, b->ca.o, b->ca.qw_o, Rr, d->HD, d->C, 1);
        if (st == MLM_OK)
            st = ffn_block(d, ctx, b, s->x, s->n, s->h, s->h1, Rr);
    }
    if (st == MLM_OK)
        st = lm_head(tm, ctx, s->x, Rr, logits);
    if (st == MLM_OK && per > 1)
        spread_rows(logits, Rr, per, (size_t)d->V);
    if (st == MLM_OK)
        s->t++;
    return st;
}

static mlm_status s2s_reorder(s2s_state *s, const int32_t *src)
{
    const t5_dims *d = &s->tm->d;
    int R = s->rows;
    for (int r = 0; r < R; r++)
        if (src[r] < 0 || src[r] >= R || src[r] / s->per != r / s->per)
            return err_set(MLM_ERR_INVALID_ARGUMENT, "decoder state: row %d cannot continue row "
                                                     "%d (%d rows per input)", r, (int)src[r],
                           s->per);
    /* First child of each parent takes its slot; the slots no child took are
     * free for the other children, which copy their parent's history. */
    memset(s->taken, 0, (unsigned)R);
    for (int r = 0; r < R; r++)
        s->next_slot[r] = -1;
    for (int r = 0; r < R; r++) {
        int32_t p = s->slot[src[r]];
        if (!s->taken[p]) {
            s->taken[p] = 1;
            s->next_slot[r] = p;
        }
    }
    size_t HD = (size_t)d->HD, slot_floats = (size_t)s->max_steps * HD;
    size_t layer_floats = (size_t)R * slot_floats, used = (size_t)s->t * HD;
    int free_slot = 0;
    for (int r = 0; r < R; r++) {
        if (s->next_slot[r] >= 0)
            continue;
        while (s->taken[free_slot])
            free_slot++;
        s->taken[free_slot] = 1;
        s->next_slot[r] = free_slot;
        int32_t p = s->slot[src[r]];
        for (int l = 0; l < d->Ld; l++) {
            float *sk = s->sk + (size_t)l * layer_floats, *sv = s->sv + (size_t)l * layer_floats;
            memcpy(sk + (size_t)free_slot * slot_floats, sk + (size_t)p * slot_floats,
                   used * sizeof *sk);
            memcpy(sv + (size_t)free_slot * slot_floats, sv + (size_t)p * slot_floats,
                   used * sizeof *sv);
        }
    }
    memcpy(s->slot, s->next_slot, (size_t)R * sizeof *s->slot);
    return MLM_OK;
}

static const cJSON *t5_config_doc(const mlm_model *m) { return t5_of(m)->config; }
static const cJSON *t5_generation_doc(const mlm_model *m) { return t5_of(m)->gen; }

const s2s_ops t5_s2s_ops = {
    .encode = s2s_encode,
    .decode = s2s_decode,
    .state_new = s2s_state_new,
    .step = s2s_step,
    .reorder = s2s_reorder,
    .state_free = s2s_state_free,
    .config_doc = t5_config_doc,
    .generation_doc = t5_generation_doc,
};
