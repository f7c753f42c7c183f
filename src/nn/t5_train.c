/* T5ForConditionalGeneration in train mode, forward and backward side by
 * side (llm.c's layout; the sublayers are in nn/t5_train_layers.c), as
 * transformers 4.56 modeling_t5.py computes it with labels:
 *
 *   encoder: x = drop(shared[ids]); blocks (self-attention, FFN);
 *            h = drop(RMS(x))                               T5Stack.dropout twice
 *   decoder: y = drop(shared[dec_ids]); blocks (causal self-attention,
 *            cross-attention on h, FFN); y = drop(RMS(y))
 *   logits = (y·[d_model^-0.5 when tied])·lm_headᵀ          only at labelled rows
 *   loss   = CrossEntropyLoss(ignore_index=-100): mean over labelled rows
 *
 * dec_ids default to the labels shifted right (_shift_right: the
 * decoder_start_token_id first, −100 replaced by pad_token_id). Each stack's
 * relative position bias is computed once (by its first block in HF) and
 * added in every block: its gradient is summed over the inputs and the
 * blocks, then into the bucket table. The tied head's gradient adds into
 * shared.weight beside the two embedding lookups'.
 *
 * Dropout sites: the embeddings and the final norm of each stack, then two
 * per sublayer (attention: its probabilities and its output; FFN: inside
 * T5DenseActDense after the activation, and its output). Site k draws from
 * its own Philox stream (seed, step·2^32 + k); the forward records each
 * mask, a byte per element, for the backward. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "io/json.h"
#include "nn/t5_train.h"
#include "nn/train_buf.h"

/* Dropout sites: 0/1 the encoder's embeddings/final norm, 2/3 the
 * decoder's, then two per sublayer in stack order (t5_sublayer.site). */
enum { SITE_ENC_EMB = 0, SITE_ENC_OUT = 1, SITE_DEC_EMB = 2, SITE_DEC_OUT = 3, SITE_BLOCKS = 4 };

static uint64_t enc_site(int l, int which) { return SITE_BLOCKS + 2 * (2 * (uint64_t)l + which); }

static uint64_t dec_site(const t5_dims *d, int l, int which)
{
    return SITE_BLOCKS + 2 * (2 * (uint64_t)d->Le + 3 * (uint64_t)l + which);
}

int t5_train_drops(const t5_train *tc) { return tc->train_mode && tc->dropout > 0.0f; }

uint64_t t5_train_stream(const t5_train *tc, uint64_t site) { return (tc->step << 32) + site; }

/* ---------------------------------------------------------------- layout */

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

/* One attention sublayer over N query rows and Nk key rows. */
static void attn_layout(buf_cursor *c, t5_attn_acts *a, const t5_dims *d, size_t N, size_t Nk,
                        size_t P)
{
    size_t C = (size_t)d->C, HD = (size_t)d->HD;
    a->x = buf_take(c, N * C);
    a->rstd = buf_take(c, N);
    a->n = buf_take(c, N * C);
    a->q = buf_take(c, N * HD);
    a->k = buf_take(c, Nk * HD);
    a->v = buf_take(c, Nk * HD);
    a->probs = buf_take(c, P);
    a->ctx = buf_take(c, N * HD);
    a->mask_p = buf_take_bytes(c, P);
    a->mask_o = buf_take_bytes(c, N * C);
}

static void ffn_layout(buf_cursor *c, t5_ffn_acts *a, const t5_dims *d, size_t N)
{
    size_t C = (size_t)d->C, F = (size_t)d->F;
    a->x = buf_take(c, N * C);
    a->rstd = buf_take(c, N);
    a->n = buf_take(c, N * C);
    a->h = buf_take(c, N * F);
    a->a = d->gated ? buf_take(c, N * F) : NULL;
    a->h1 = d->gated ? buf_take(c, N * F) : NULL;
    a->g = buf_take(c, N * F);
    a->mask_g = buf_take_bytes(c, N * F);
    a->mask_o = buf_take_bytes(c, N * C);
}

/* A stack of L blocks over B inputs of len positions (decoder: cross-
 * attention over src positions). */
static void stack_layout(buf_cursor *c, t5_stack_acts *s, const t5_dims *d, int L, size_t B,
                         size_t len, size_t src)
{
    size_t N = B * len, C = (size_t)d->C, H = (size_t)d->H;
    for (int l = 0; l < L; l++) {
        attn_layout(c, &s->blk[l].sa, d, N, N, B * H * len * len);
        if (src)
            attn_layout(c, &s->blk[l].ca, d, N, B * src, B * H * len * src);
        ffn_layout(c, &s->blk[l].ff, d, N);
    }
    s->top = buf_take(c, N * C);
    s->rstd = buf_take(c, N);
    s->out = buf_take(c, N * C);
    s->mask_emb = buf_take_bytes(c, N * C);
    s->mask_out = buf_take_bytes(c, N * C);
    s->bias = buf_take(c, H * len * len);
    s->dbias = buf_take(c, H * len * len);
}

/* Every activation of a context of capacity (maxB, maxS, maxT); with
 * c->base NULL it only counts. */
static void layout(t5_train *tc, buf_cursor *c)
{
    const t5_dims *d = &tc->tm->d;
    size_t B = (size_t)tc->maxB, S = (size_t)tc->maxS, T = (size_t)tc->maxT;
    size_t Nmax = B * max_size(S, T), Lmax = max_size(S, T);
    stack_layout(c, &tc->enc, d, d->Le, B, S, 0);
    stack_layout(c, &tc->dec, d, d->Ld, B, T, S);
    tc->emask = buf_take(c, B * S);
    tc->dec_ids = (int32_t *)(void *)buf_take(c, B * T);
    for (int i = 0; i < 4; i++)
        tc->s_n[i] = buf_take(c, Nmax * (size_t)d->C);
    for (int i = 0; i < 3; i++)
        tc->s_hd[i] = buf_take(c, Nmax * (size_t)d->HD);
    for (int i = 0; i < 3; i++)
        tc->s_f[i] = buf_take(c, Nmax * (size_t)d->F);
    for (int i = 0; i < 2; i++)
        tc->s_att[i] = buf_take(c, B * (size_t)d->H * Lmax * Lmax);
}

/* The gradient of parameter p: the same offset in tc->grad as p in tm->owned. */
static float *grad_of(const t5_train *tc, const float *p)
{
    return p ? tc->grad + (p - tc->tm->owned) : NULL;
}

static void point_grads(t5_train *tc)
{
    const t5_weights *w = &tc->tm->w;
    const t5_dims *d = &tc->tm->d;
    t5_grads *g = &tc->g;
    g->shared = grad_of(tc, w->shared);
    g->enc_rel = grad_of(tc, w->enc_rel);
    g->dec_rel = grad_of(tc, w->dec_rel);
    g->enc_ln = grad_of(tc, w->enc_ln);
    g->dec_ln = grad_of(tc, w->dec_ln);
    g->lm_head = grad_of(tc, w->lm_head); /* shared's when tied: the same pointer */
    for (int s = 0; s < 2; s++) {
        int L = s ? d->Ld : d->Le;
        for (int l = 0; l < L; l++) {
            const t5_block_w *bw = s ? &w->dec[l] : &w->enc[l];
            t5_block_grads *bg = s ? &g->dec[l] : &g->enc[l];
            const t5_attn_w *aw[2] = {&bw->sa, &bw->ca};
            t5_attn_grads *ag[2] = {&bg->sa, &bg->ca};
            for (int k = 0; k < 2; k++) {
                ag[k]->q = grad_of(tc, aw[k]->q);
                ag[k]->k = grad_of(tc, aw[k]->k);
                ag[k]->v = grad_of(tc, aw[k]->v);
                ag[k]->o = grad_of(tc, aw[k]->o);
            }
            bg->wi = grad_of(tc, bw->wi);
            bg->wi1 = grad_of(tc, bw->wi1);
            bg->wo = grad_of(tc, bw->wo);
            bg->ln_sa = grad_of(tc, bw->ln_sa);
            bg->ln_ca = grad_of(tc, bw->ln_ca);
            bg->ln_ff = grad_of(tc, bw->ln_ff);
        }
    }
}

/* A token id of the config (decoder_start_token_id, pad_token_id), or -1
 * when absent, null or not an integer (T5 then cannot shift labels). */
static int config_token(const t5_model *tm, const char *key)
{
    int64_t v = -1;
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(tm->config, key);
    if (!j || json_int(j, &v) != 1 || v < 0 || v > INT32_MAX)
        return -1;
    return (int)v;
}

static void zero_all(t5_train *tc)
{
    memset(tc->grad, 0, params_numel(tc->tm->params, tc->tm->n_params) * sizeof *tc->grad);
    tc->set_w = 0;
}

/* Whether g is the gradient of one of the linears, each of which one
 * product of t5_linear_backward writes whole per backward: the blocks'
 * projections and the head (shared.weight's gradient when tied: the head's
 * backward runs before either embedding's adds to it). */
static int is_linear_grad(const t5_train *tc, const float *g)
{
    const t5_dims *d = &tc->tm->d;
    if (g == tc->g.lm_head)
        return 1;
    for (int s = 0; s < 2; s++)
        for (int l = 0; l < (s ? d->Ld : d->Le); l++) {
            const t5_block_grads *b = s ? &tc->g.dec[l] : &tc->g.enc[l];
            const float *lin[] = {b->sa.q, b->sa.k, b->sa.v, b->sa.o, b->ca.q, b->ca.k,
                                  b->ca.v, b->ca.o, b->wi,   b->wi1,  b->wo};
            for (size_t i = 0; i < sizeof lin / sizeof lin[0]; i++)
                if (lin[i] && g == lin[i])
                    return 1;
        }
    return 0;
}

/* tc->rest: the runs of gradients that are not the linears' (norms,
 * relative biases, an untied shared embedding), which zero_grad zeroes;
 * lazy only when every parameter is accounted for. Without memory for the
 * list, zero_grad zeroes everything, as before. */
static void find_rest(t5_train *tc)
{
    const t5_model *tm = tc->tm;
    tc->rest = mem_calloc((size_t)tm->n_params, sizeof *tc->rest);
    if (!tc->rest)
        return;
    size_t linear = 0, other = 0;
    for (size_t i = 0; i < tm->n_params; i++) {
        const param_desc *p = &tm->params[i];
        float *g = grad_of(tc, *p->slot);
        if (is_linear_grad(tc, g)) {
            linear += p->numel;
            continue;
        }
        other += p->numel;
        if (tc->n_rest > 0 && tc->rest[tc->n_rest - 1].at + tc->rest[tc->n_rest - 1].n == g)
            tc->rest[tc->n_rest - 1].n += p->numel;
        else
            tc->rest[tc->n_rest++] = (t5_grad_run){g, p->numel};
    }
    tc->lazy = linear + other == params_numel(tm->params, tm->n_params);
}

void t5_train_free(t5_train *tc)
{
    if (!tc)
        return;
    mem_free(tc->rest);
    mem_free(tc->grad);
    mem_free(tc->acts_mem);
    mem_free(tc->head_mem);
    mem_free(tc->rel_acc);
    mem_free(tc->enc.blk);
    mem_free(tc->dec.blk);
    mem_free(tc->g.enc);
    mem_free(tc->g.dec);
    mem_free(tc);
}

mlm_status t5_train_new(mlm_model *m, int maxB, int maxS, int maxT, int nthreads, t5_train **out)
{
    if (!m || !out || maxB < 1 || maxS < 1 || maxT < 1)
        return err_set(MLM_ERR_INVALID_ARGUMENT,
                       "t5_train_new: NULL model or output, or capacity %d x (%d, %d) below 1",
                       maxB, maxS, maxT);
    *out = NULL;
    mlm_status st = model_require_family(m, MLM_FAMILY_ENCODER_DECODER, "t5_train_new");
    if (st == MLM_OK)
        st = t5_own_params(m);
    if (st != MLM_OK)
        return st;
    t5_model *tm = m->impl;
    const t5_dims *d = &tm->d;
    t5_train *tc = mem_calloc(1, sizeof *tc);
    if (!tc)
        return err_oom();
    tc->m = m;
    tc->tm = tm;
    ops_ctx_init(&tc->ops, nthreads);
    tc->maxB = maxB;
    tc->maxS = maxS;
    tc->maxT = maxT;
    const cJSON *rate = cJSON_GetObjectItemCaseSensitive(tm->config, "dropout_rate");
    tc->dropout = cJSON_IsNumber(rate) ? (float)rate->valuedouble : 0.1f;
    tc->train_mode = 1;
    tc->start_id = config_token(tm, "decoder_start_token_id");
    tc->pad_id = config_token(tm, "pad_token_id");
    size_t n = params_numel(tm->params, tm->n_params);
    tc->grad = mem_calloc(n ? n : 1, sizeof *tc->grad);
    tc->enc.blk = mem_calloc((size_t)d->Le, sizeof *tc->enc.blk);
    tc->dec.blk = mem_calloc((size_t)d->Ld, sizeof *tc->dec.blk);
    tc->g.enc = mem_calloc((size_t)d->Le, sizeof *tc->g.enc);
    tc->g.dec = mem_calloc((size_t)d->Ld, sizeof *tc->g.dec);
    tc->rel_acc = mem_calloc((size_t)d->NB * d->H, sizeof *tc->rel_acc);
    buf_cursor count = {NULL, 0};
    if (tc->grad && tc->enc.blk && tc->dec.blk && tc->g.enc && tc->g.dec && tc->rel_acc) {
        layout(tc, &count);
        tc->acts_mem = mem_alloc(count.used * sizeof *tc->acts_mem);
    }
    if (!tc->acts_mem) {
        t5_train_free(tc);
        return err_set(MLM_ERR_OUT_OF_MEMORY,
                       "T5 training buffers: %zu parameters' gradients and %zu MB of activations "
                       "for %d inputs of %d source and %d target tokens",
                       n, count.used * sizeof(float) >> 20, maxB, maxS, maxT);
    }
    buf_cursor at = {tc->acts_mem, 0};
    layout(tc, &at);
    point_grads(tc);
    find_rest(tc);
    *out = tc;
    return MLM_OK;
}

void t5_train_zero_grad(t5_train *tc)
{
    if (!tc->lazy) {
        zero_all(tc);
        return;
    }
    for (int i = 0; i < tc->n_rest; i++)
        memset(tc->rest[i].at, 0, tc->rest[i].n * sizeof *tc->grad);
    tc->set_w = OPS_SET_DWEIGHT;
}

float *t5_train_grad(t5_train *tc)
{
    if (tc->set_w) /* asked before any backward since zero_grad: they are zeros */
        zero_all(tc);
    return tc->grad;
}

size_t t5_train_labelled(const t5_train *tc) { return (size_t)tc->n_rows; }

void t5_train_set_mode(t5_train *tc, int train_mode) { tc->train_mode = train_mode != 0; }

/* ---------------------------------------------------------------- position bias */

/* bias (H, len, len) of the stack; the decoder's is causal: a key after
 * its query gets −FLT_MAX (HF adds finfo.min there; bias + finfo.min is
 * finfo.min again in float32), which the softmax turns into 0. */
static void stack_bias(const t5_train *tc, int decoder, int len, float *bias)
{
    const t5_dims *d = &tc->tm->d;
    const float *rel = decoder ? tc->tm->w.dec_rel : tc->tm->w.enc_rel;
    size_t LL = (size_t)len * len;
    t5_position_bias(d, rel, !decoder, 0, len, len, (long)LL, bias);
    for (int h = 0; decoder && h < d->H; h++)
        for (int i = 0; i < len; i++)
            for (int j = i + 1; j < len; j++)
                bias[(size_t)h * LL + (size_t)i * len + j] = -FLT_MAX;
}

/* The bias gradient dbias (H, len, len) into the bucket table drel (NB, H):
 * each (query, key) pair adds to its bucket (masked pairs hold 0),
 * summed in double in a fixed order. */
static void stack_bias_backward(t5_train *tc, int decoder, int len, const float *dbias,
                                float *drel)
{
    const t5_dims *d = &tc->tm->d;
    size_t LL = (size_t)len * len, NBH = (size_t)d->NB * d->H;
    memset(tc->rel_acc, 0, NBH * sizeof *tc->rel_acc);
    for (int i = 0; i < len; i++)
        for (int j = 0; j < (decoder ? i + 1 : len); j++) {
            int bucket = t5_bucket(j - i, !decoder, d->NB, d->max_dist);
            double *acc = tc->rel_acc + (size_t)bucket * d->H;
            const float *db = dbias + (size_t)i * len + j;
            for (int h = 0; h < d->H; h++)
                acc[h] += db[(size_t)h * LL];
        }
    for (size_t k = 0; k < NBH; k++)
        drel[k] += (float)tc->rel_acc[k];
}

/* ---------------------------------------------------------------- stacks */

/* A stack's forward over B inputs of len tokens: the embeddings into the
 * first block's input, the blocks, the final norm into s->out. The
 * decoder's cross-attention reads the encoder's output (src positions). */
static mlm_status stack_forward(t5_train *tc, int decoder, const int32_t *ids, int B, int len,
                                int src)
{
    const t5_model *tm = tc->tm;
    const t5_dims *d = &tm->d;
    const ops_ctx *ctx = &tc->ops;
    t5_stack_acts *s = decoder ? &tc->dec : &tc->enc;
    const t5_block_w *bw = decoder ? tm->w.dec : tm->w.enc;
    int L = decoder ? d->Ld : d->Le, N = B * len, drop = t5_train_drops(tc);
    size_t NC = (size_t)N * d->C;
    const float *emask = tc->batch.mask ? tc->emask : NULL;

    float *x = s->blk[0].sa.x;
    mlm_status st = ops_embedding_forward(ctx, x, ids, tm->w.shared, N, d->V, d->C, 0);
    if (st == MLM_OK && drop)
        st = ops_dropout_forward(ctx, x, s->mask_emb, x, NC, tc->dropout, tc->seed,
                                 t5_train_stream(tc, decoder ? SITE_DEC_EMB : SITE_ENC_EMB));
    if (st != MLM_OK)
        return st;
    stack_bias(tc, decoder, len, s->bias);
    t5_sublayer self = {.B = B, .Tq = len, .Tk = len, .bias = s->bias,
                        .mask = decoder ? NULL : emask};
    t5_sublayer cross = {.B = B, .Tq = len, .Tk = src, .kv = tc->enc.out, .mask = emask};
    for (int l = 0; st == MLM_OK && l < L; l++) {
        t5_block_acts *a = &s->blk[l];
        float *next = l + 1 < L ? s->blk[l + 1].sa.x : s->top;
        self.site = decoder ? dec_site(d, l, 0) : enc_site(l, 0);
        st = t5_attn_forward(tc, &bw[l].sa, bw[l].ln_sa, &a->sa, &self,
                             decoder ? a->ca.x : a->ff.x);
        if (st == MLM_OK && decoder) {
            cross.site = dec_site(d, l, 1);
            st = t5_attn_forward(tc, &bw[l].ca, bw[l].ln_ca, &a->ca, &cross, a->ff.x);
        }
        if (st == MLM_OK)
            st = t5_ffn_forward(tc, &bw[l], &a->ff, N,
                                decoder ? dec_site(d, l, 2) : enc_site(l, 1), next);
    }
    if (st != MLM_OK)
        return st;
    ops_rmsnorm_forward_rstd(ctx, s->out, s->rstd, s->top, decoder ? tm->w.dec_ln : tm->w.enc_ln,
                             N, d->C, d->eps);
    if (drop)
        st = ops_dropout_forward(ctx, s->out, s->mask_out, s->out, NC, tc->dropout, tc->seed,
                                 t5_train_stream(tc, decoder ? SITE_DEC_OUT : SITE_ENC_OUT));
    return st;
}

/* A stack's backward: dout (N, C) the gradient at s->out (consumed); ends
 * with the embedding lookup's gradient added into shared.weight. The
 * decoder's cross-attentions add into tc->s_n[3], the gradient at the
 * encoder's output. Scratch: s_n[0..2]. */
static mlm_status stack_backward(t5_train *tc, int decoder, const int32_t *ids, int B, int len,
                                 int src, float *dout)
{
    const t5_model *tm = tc->tm;
    const t5_dims *d = &tm->d;
    const ops_ctx *ctx = &tc->ops;
    t5_stack_acts *s = decoder ? &tc->dec : &tc->enc;
    const t5_block_w *bw = decoder ? tm->w.dec : tm->w.enc;
    t5_block_grads *bg = decoder ? tc->g.dec : tc->g.enc;
    int L = decoder ? d->Ld : d->Le, N = B * len, drop = t5_train_drops(tc);
    size_t NC = (size_t)N * d->C, LL = (size_t)len * len;
    const float *emask = tc->batch.mask ? tc->emask : NULL;
    mlm_status st = MLM_OK;

    /* out = drop(RMS(top)) */
    const float *dn = dout;
    if (drop) {
        st = ops_dropout_backward_first(ctx, tc->s_n[0], dout, s->mask_out, NC,
                                        tc->dropout, tc->seed,
                                        t5_train_stream(tc, decoder ? SITE_DEC_OUT : SITE_ENC_OUT));
        dn = tc->s_n[0];
    }
    if (st != MLM_OK)
        return st;
    float *dy = buf_zeroed(tc->s_n[2], NC);
    ops_rmsnorm_backward(ctx, dy, decoder ? tc->g.dec_ln : tc->g.enc_ln, dn, s->top,
                         decoder ? tm->w.dec_ln : tm->w.enc_ln, s->rstd, N, d->C);
    buf_zeroed(s->dbias, (size_t)d->H * LL);
    t5_sublayer self = {.B = B, .Tq = len, .Tk = len, .bias = s->bias, .dbias = s->dbias,
                        .mask = decoder ? NULL : emask};
    t5_sublayer cross = {.B = B, .Tq = len, .Tk = src, .kv = tc->enc.out, .mask = emask};
    for (int l = L - 1; st == MLM_OK && l >= 0; l--) {
        t5_block_acts *a = &s->blk[l];
        st = t5_ffn_backward(tc, &bw[l], &bg[l], &a->ff, N,
                             decoder ? dec_site(d, l, 2) : enc_site(l, 1), dy);
        if (st == MLM_OK && decoder) {
            cross.site = dec_site(d, l, 1);
            st = t5_attn_backward(tc, &bw[l].ca, bw[l].ln_ca, &bg[l].ca, bg[l].ln_ca, &a->ca,
                                  &cross, dy, tc->s_n[3]);
        }
        self.site = decoder ? dec_site(d, l, 0) : enc_site(l, 0);
        if (st == MLM_OK)
            st = t5_attn_backward(tc, &bw[l].sa, bw[l].ln_sa, &bg[l].sa, bg[l].ln_sa, &a->sa,
                                  &self, dy, NULL);
        /* blocks l.. of this stack and all above it are done; block 0
         * holds the relative bias, whose gradient comes after the loop */
        if (st == MLM_OK && l > 0)
            st = grad_hook_tell(&tc->hook, tc->grad, bg[l].sa.q);
    }
    if (st != MLM_OK)
        return st;
    stack_bias_backward(tc, decoder, len, s->dbias, decoder ? tc->g.dec_rel : tc->g.enc_rel);
    /* x = drop(shared[ids]): T5's embedding has no padding_idx */
    const float *demb = dy;
    if (drop) {
        st = ops_dropout_backward_first(ctx, tc->s_n[0], dy, s->mask_emb, NC,
                                        tc->dropout, tc->seed,
                                        t5_train_stream(tc, decoder ? SITE_DEC_EMB : SITE_ENC_EMB));
        demb = tc->s_n[0];
    }
    if (st == MLM_OK)
        st = ops_embedding_backward(ctx, tc->g.shared, demb, ids, N, d->V, d->C, -1);
    return st;
}

/* ---------------------------------------------------------------- head */

/* Head buffers for n labelled rows. */
static mlm_status head_reserve(t5_train *tc, size_t n)
{
    if (n <= tc->head_cap && tc->head_mem)
        return MLM_OK;
    const t5_dims *d = &tc->tm->d;
    size_t per_row = 2 + (size_t)d->C + 1 + (size_t)d->V;
    float *mem = mem_alloc((n ? n : 1) * per_row * sizeof *mem);
    if (!mem)
        return err_set(MLM_ERR_OUT_OF_MEMORY, "T5 head buffers for %zu labelled tokens", n);
    mem_free(tc->head_mem);
    tc->head_mem = mem;
    tc->head_cap = n;
    buf_cursor c = {mem, 0};
    tc->rows = (int32_t *)(void *)buf_take(&c, n);
    tc->labels = (int32_t *)(void *)buf_take(&c, n);
    tc->z = buf_take(&c, n * (size_t)d->C);
    tc->lse = buf_take(&c, n);
    tc->logits = buf_take(&c, n * (size_t)d->V);
    return MLM_OK;
}

/* HF's rescale of the tied head's input: sequence_output * d_model**-0.5,
 * a float32 product (as t5.c's lm_head). */
static float head_scale(const t5_dims *d) { return (float)pow((double)d->C, -0.5); }

/* The labelled rows (tc->rows, tc->labels, tc->n_rows). */
static mlm_status select_labels(t5_train *tc, const t5_train_batch *b)
{
    size_t N = (size_t)b->B * b->T, n = 0;
    for (size_t i = 0; i < N; i++)
        n += b->labels[i] != OPS_IGNORE_INDEX;
    mlm_status st = head_reserve(tc, n);
    if (st != MLM_OK)
        return st;
    n = 0;
    for (size_t i = 0; i < N; i++)
        if (b->labels[i] != OPS_IGNORE_INDEX) {
            tc->rows[n] = (int32_t)i;
            tc->labels[n] = b->labels[i];
            n++;
        }
    tc->n_rows = (int)n;
    return MLM_OK;
}

/* logits (n, V) = z·lm_headᵀ at the labelled rows of the decoder's output,
 * and the loss. */
static mlm_status lm_head_forward(t5_train *tc)
{
    const t5_model *tm = tc->tm;
    const t5_dims *d = &tm->d;
    const ops_ctx *ctx = &tc->ops;
    size_t n = (size_t)tc->n_rows, C = (size_t)d->C;
    tc->loss = NAN;
    if (n == 0)
        return MLM_OK;
    for (size_t r = 0; r < n; r++)
        memcpy(tc->z + r * C, tc->dec.out + (size_t)tc->rows[r] * C, C * sizeof *tc->z);
    if (d->tied)
        ops_scale_forward(ctx, tc->z, tc->z, head_scale(d), n * C);
    mlm_status st = t5_linear(ctx, tc->logits, tc->z, tm->w.lm_head, (int)n, d->C, d->V, 0);
    if (st == MLM_OK)
        st = ops_cross_entropy_forward(ctx, &tc->loss, NULL, tc->lse, tc->logits, tc->labels,
                                       (int)n, d->V);
    return st;
}

/* dout (B·T, C) receives (=) the gradient at the decoder's output: the
 * head's at the labelled rows, 0 elsewhere. */
static mlm_status lm_head_backward(t5_train *tc, float dloss, float *dout)
{
    const t5_model *tm = tc->tm;
    const t5_dims *d = &tm->d;
    const ops_ctx *ctx = &tc->ops;
    int n = tc->n_rows;
    size_t C = (size_t)d->C;
    buf_zeroed(dout, (size_t)tc->batch.B * tc->batch.T * C);
    /* logits become dlogits in place */
    mlm_status st = ops_cross_entropy_backward(ctx, tc->logits, tc->logits, tc->lse, tc->labels,
                                               n, dloss, n, d->V);
    /* dz (n, C) = dlogits·lm_head; lm_head (shared when tied) (+)= dlogitsᵀ·z:
     * overwritten on a step's first backward (t5_linear_backward) */
    float *dz = tc->s_n[0];
    if (st == MLM_OK)
        st = t5_linear_backward(tc, 1, dz, tc->g.lm_head, tc->logits, tc->z, tm->w.lm_head, n,
                                d->C, d->V);
    if (st != MLM_OK)
        return st;
    if (d->tied) /* z = s·y: dy = s·dz */
        ops_scale_forward(ctx, dz, dz, head_scale(d), (size_t)n * C);
    for (int r = 0; r < n; r++)
        memcpy(dout + (size_t)tc->rows[r] * C, dz + (size_t)r * C, C * sizeof *dout);
    return MLM_OK;
}

/* ---------------------------------------------------------------- model */

static mlm_status check_ids(const char *what, const int32_t *ids, size_t n, int V)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= V)
            return err_set(MLM_ERR_RANGE, "t5_train_forward: %s[%zu] = %d outside the vocabulary "
                                          "[0, %d)", what, i, (int)ids[i], V);
    return MLM_OK;
}

static mlm_status check_batch(const t5_train *tc, const t5_train_batch *b)
{
    const t5_dims *d = &tc->tm->d;
    if (!b || !b->ids || !b->labels || b->B < 1 || b->S < 1 || b->T < 1)
        return err_set(MLM_ERR_INVALID_ARGUMENT,
                       "t5_train_forward: empty batch or NULL input_ids/labels");
    if (b->B > tc->maxB || b->S > tc->maxS || b->T > tc->maxT)
        return err_set(MLM_ERR_INVALID_ARGUMENT,
                       "t5_train_forward: batch %d x (%d, %d) exceeds the context's %d x (%d, %d)",
                       b->B, b->S, b->T, tc->maxB, tc->maxS, tc->maxT);
    size_t NT = (size_t)b->B * b->T;
    mlm_status st = check_ids("input_ids", b->ids, (size_t)b->B * b->S, d->V);
    if (st == MLM_OK && b->dec_ids)
        st = check_ids("decoder_input_ids", b->dec_ids, NT, d->V);
    for (size_t i = 0; st == MLM_OK && i < NT; i++)
        if (b->labels[i] != OPS_IGNORE_INDEX && (b->labels[i] < 0 || b->labels[i] >= d->V))
            st = err_set(MLM_ERR_RANGE, "t5_train_forward: labels[%zu] = %d outside [0, %d) and "
                                        "not %d", i, (int)b->labels[i], d->V, OPS_IGNORE_INDEX);
    if (st == MLM_OK && !b->dec_ids && (tc->start_id < 0 || tc->pad_id < 0))
        st = err_set(MLM_ERR_INVALID_ARGUMENT,
                     "t5_train_forward: no decoder_input_ids, and the labels cannot be shifted "
                     "right: config.json's %s is not set (T5 usually uses the pad id)",
                     tc->start_id < 0 ? "decoder_start_token_id" : "pad_token_id");
    if (st == MLM_OK && !b->dec_ids && tc->start_id >= d->V)
        st = err_set(MLM_ERR_RANGE, "t5_train_forward: decoder_start_token_id %d outside the "
                                    "vocabulary [0, %d)", tc->start_id, d->V);
    return st;
}

/* T5PreTrainedModel._shift_right: [start] + labels[:-1], −100 → pad. */
static void shift_right(const t5_train *tc, const int32_t *labels, int B, int T, int32_t *out)
{
    for (int b = 0; b < B; b++) {
        const int32_t *l = labels + (size_t)b * T;
        int32_t *o = out + (size_t)b * T;
        o[0] = tc->start_id;
        for (int t = 1; t < T; t++)
            o[t] = l[t - 1] == OPS_IGNORE_INDEX ? tc->pad_id : l[t - 1];
    }
}

mlm_status t5_train_forward(t5_train *tc, const t5_train_batch *b, uint64_t seed, uint64_t step,
                            float *loss)
{
    tc->ready = 0;
    mlm_status st = check_batch(tc, b);
    if (st != MLM_OK)
        return st;
    tc->batch = *b;
    tc->seed = seed;
    tc->step = step;
    if (!b->dec_ids) {
        shift_right(tc, b->labels, b->B, b->T, tc->dec_ids);
        tc->batch.dec_ids = tc->dec_ids;
    }
    if (b->mask)
        for (size_t i = 0; i < (size_t)b->B * b->S; i++)
            tc->emask[i] = b->mask[i] ? 0.0f : -FLT_MAX;
    st = select_labels(tc, b);
    if (st == MLM_OK)
        st = stack_forward(tc, 0, b->ids, b->B, b->S, 0);
    if (st == MLM_OK)
        st = stack_forward(tc, 1, tc->batch.dec_ids, b->B, b->T, b->S);
    if (st == MLM_OK)
        st = lm_head_forward(tc);
    if (st != MLM_OK)
        return st;
    tc->ready = 1;
    if (loss)
        *loss = tc->loss;
    return MLM_OK;
}

mlm_status t5_train_backward(t5_train *tc, float dloss)
{
    if (!tc->ready)
        return err_set(MLM_ERR_INVALID_ARGUMENT,
                       "t5_train_backward: no forward to go back through");
    tc->ready = 0;
    if (tc->n_rows == 0) {   /* nothing to add: the linears' unset gradients become zeros */
        if (tc->set_w)
            zero_all(tc);
        return MLM_OK;
    }
    const t5_train_batch *b = &tc->batch;
    float *dout = tc->s_n[1];
    size_t NeC = (size_t)b->B * b->S * tc->tm->d.C;
    mlm_status st = lm_head_backward(tc, dloss, dout);
    buf_zeroed(tc->s_n[3], NeC); /* the encoder output's gradient, from every cross-attention */
    if (st == MLM_OK)
        st = stack_backward(tc, 1, b->dec_ids, b->B, b->T, b->S, dout);
    if (st == MLM_OK)
        st = stack_backward(tc, 0, b->ids, b->B, b->S, 0, tc->s_n[3]);
    if (st != MLM_OK && tc->set_w)   /* some were written, some not: no half-set gradients */
        zero_all(tc);
    tc->set_w = 0;   /* every linear's gradient now holds its first part */
    return st;
}
