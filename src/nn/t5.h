/* T5ForConditionalGeneration as transformers computes it
 * (models/t5/modeling_t5.py, configuration_t5.py), the encoder-decoder
 * family of mlm_model (nn/family.h).
 *
 *   encoder: x = shared[ids]
 *            for each block: x += SelfAttn(RMS(x)); x += FFN(RMS(x))
 *            h = RMS(x)
 *   decoder: y = shared[dec_ids]
 *            for each block: y += CausalSelfAttn(RMS(y)); y += CrossAttn(RMS(y), h);
 *                            y += FFN(RMS(y))
 *            logits = (RMS(y) · [d_model^-0.5 when tied]) · lm_headᵀ
 *   Attn(x) = softmax(q·kᵀ + bias + mask)·v·Woᵀ per head: no 1/√d_kv
 *   (folded into the init), no Linear biases; bias is the relative position
 *   bias of the stack's first block (bidirectional buckets in the encoder,
 *   causal in the decoder), shared by all its blocks; cross-attention has
 *   none. FFN(x) = act(x·Wiᵀ)·Woᵀ, or act(x·Wi0ᵀ) ⊙ (x·Wi1ᵀ)·Woᵀ when gated
 *   (v1.1, mT5, FLAN: gelu_new). RMS(x) = w ⊙ x/√(mean(x²) + eps). */
#ifndef MLM_NN_T5_H
#define MLM_NN_T5_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "io/config.h"
#include "nn/model_impl.h"

typedef struct t5_dims {
    int V;          /* vocab_size */
    int C;          /* d_model */
    int D;          /* d_kv */
    int H;          /* num_heads */
    int HD;         /* H·D: the attention's inner width */
    int F;          /* d_ff */
    int Le, Ld;     /* num_layers, num_decoder_layers */
    int NB;         /* relative_attention_num_buckets */
    int max_dist;   /* relative_attention_max_distance */
    float eps;      /* layer_norm_epsilon */
    act_fn act;     /* ACT_RELU, ACT_GELU or ACT_GELU_NEW (the tanh form) */
    int gated;      /* is_gated_act: wi_0, wi_1 */
    int tied;       /* tie_word_embeddings: lm_head is shared, scaled by d_model^-0.5 */
    float init_factor;
} t5_dims;

typedef struct t5_attn_w {
    const float *q, *k, *v; /* (HD, C) */
    const float *o;         /* (C, HD) */
    const ops_qw *qw_q, *qw_k, *qw_v, *qw_o; /* reduced forms (nn/dtype.c), or NULL */
} t5_attn_w;

typedef struct t5_block_w {
    t5_attn_w sa, ca;            /* ca: decoder blocks only */
    const float *wi, *wi1, *wo;  /* wi (F, C) (wi_0 when gated), wi1 (F, C) gated only, wo (C, F) */
    const float *ln_sa, *ln_ca, *ln_ff; /* (C) */
    const ops_qw *qw_wi, *qw_wi1, *qw_wo;
} t5_block_w;

typedef struct t5_weights {
    const float *shared;            /* (V, C) */
    const float *enc_rel, *dec_rel; /* relative_attention_bias (NB, H) */
    t5_block_w *enc, *dec;
    const float *enc_ln, *dec_ln;   /* final layer norms (C) */
    const float *lm_head;           /* (V, C): shared when tied */
    const ops_qw *qw_shared, *qw_lm_head; /* reduced forms; when tied the head reads qw_shared */
} t5_weights;

typedef struct t5_model {
    t5_dims d;
    char type[8];         /* "t5" or "mt5" */
    cJSON *config;        /* config.json with the effective values filled in */
    cJSON *gen;           /* generation_config.json, or NULL */
    t5_weights w;
    param_desc *params;   /* HF names, state_dict order */
    size_t n_params;
    float *owned;
    void *source;         /* mapped checkpoint the weights may point into */
    void (*source_close)(void *);
} t5_model;

static inline const t5_model *t5_of(const mlm_model *m) { return (const t5_model *)m->impl; }

/* config.json's T5Config (or MT5Config) with transformers' defaults:
 * dims and an owned copy of the document with every T5Config attribute set
 * to its effective value (num_decoder_layers, dense_act_fn, is_gated_act
 * filled in), as save_pretrained writes them. `name` begins messages. */
mlm_status t5_config_parse(const char *json, size_t len, const char *name, t5_model *tm);

/* The parameter table for tm->d (allocates tm->params, tm->w.enc/dec). */
mlm_status t5_build_params(t5_model *tm);

/* out (N, OC) = inp (N, IC)·Wᵀ with W stored (OC, IC) as torch does, or
 * out += it when accumulate (the residual stream: HF's x + f(x), with
 * f(x)'s product added in place). Shared by the eval and train forwards so
 * they compute the same floats. */
mlm_status t5_linear(const ops_ctx *ctx, float *out, const float *inp, const float *W, int N,
                     int IC, int OC, int accumulate);
/* The same with W's reduced form qw used instead when not NULL (inference). */
mlm_status t5_linear_q(const ops_ctx *ctx, float *out, const float *inp, const float *W,
                       const ops_qw *qw, int N, int IC, int OC, int accumulate);

/* Make the T5 model m own its parameters, as model_own_params does for the
 * encoder family: one allocation (tm->owned) in table order, the mapped
 * checkpoint closed, the tied head re-pointed. Training needs it (a
 * zero-copy mapping is read-only). On failure the model is unchanged. */
mlm_status t5_own_params(mlm_model *m);

/* The stack's relative position bias for query positions q0..q0+nq-1
 * against keys 0..nk-1: bias[h·ld + i·nk + j] = rel[bucket(j − (q0 + i))][h]
 * (rel is (NB, H)); bidirectional buckets in the encoder, causal in the
 * decoder. */
void t5_position_bias(const t5_dims *d, const float *rel, int bidirectional, int q0, int nq,
                      int nk, long ld, float *bias);

/* HF's _relative_position_bucket for relative position rel = key − query,
 * in float32 as torch computes it. */
int t5_bucket(int rel, int bidirectional, int num_buckets, int max_distance);

/* Scratch floats for t5_encode_forward on B·S tokens. */
size_t t5_encode_ws_floats(const t5_dims *d, int B, int S);
mlm_status t5_encode_forward(const t5_model *tm, const ops_ctx *ctx, const int32_t *ids,
                             const int32_t *mask, int B, int S, float *hidden, float *ws);

/* The seq2seq interface (nn/family.h) of T5. */
extern const s2s_ops t5_s2s_ops;

#endif
