/* Training T5 (T5ForConditionalGeneration.forward with labels, transformers
 * 4.56 modeling_t5.py): the forward pass in train mode (dropout), the
 * cross-entropy over the labelled target tokens, and the backward pass of
 * every layer, llm.c style, as nn/encoder_train.h does for the encoder
 * family.
 *
 * A t5_train belongs to one model and holds everything a step needs beside
 * the parameters:
 *   - gradients: one allocation of the table's floats with exactly the
 *     layout of the model's owned parameter buffer (tm->owned, table
 *     order), so the gradient of the parameter at tm->owned + i is
 *     grad[i]; `g` points into it field by field as t5_weights points into
 *     the parameters (a tied lm_head's gradient is shared.weight's);
 *   - activations: one allocation sized for the capacity (maxB, maxS,
 *     maxT) given at creation, every tensor a layer's backward needs;
 *   - the head's logits, at the labelled target positions only.
 *
 * Lifecycle (per optimizer step; k micro-batches for accumulation):
 *   t5_train_new → [t5_train_zero_grad → k × (t5_train_forward →
 *   t5_train_backward) → clip / AdamW on tm->owned and t5_train_grad()]
 *   → t5_train_free.
 *
 * The model must own its parameters: t5_train_new calls t5_own_params (a
 * checkpoint mapped zero-copy is read-only). Not thread-safe: one context,
 * one thread calling it (the kernels use the context's nthreads). */
#ifndef MLM_NN_T5_TRAIN_H
#define MLM_NN_T5_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "nn/grad_hook.h"
#include "nn/t5.h"

/* A padded batch: B inputs of S source tokens and T target tokens. */
typedef struct t5_train_batch {
    const int32_t *ids, *mask;   /* (B, S) encoder input; mask 0/1 or NULL = all ones */
    const int32_t *labels;       /* (B, T) target ids, -100 = ignored */
    const int32_t *dec_ids;      /* (B, T) decoder_input_ids, or NULL: labels shifted right
                                    (decoder_start_token_id, -100 -> config pad_token_id) as
                                    T5ForConditionalGeneration._shift_right does */
    int B, S, T;
} t5_train_batch;

/* Gradients, field for field as t5_attn_w / t5_block_w / t5_weights. */
typedef struct t5_attn_grads {
    float *q, *k, *v, *o;
} t5_attn_grads;

typedef struct t5_block_grads {
    t5_attn_grads sa, ca;
    float *wi, *wi1, *wo;
    float *ln_sa, *ln_ca, *ln_ff;
} t5_block_grads;

typedef struct t5_grads {
    float *shared, *enc_rel, *dec_rel;
    t5_block_grads *enc, *dec;
    float *enc_ln, *dec_ln;
    float *lm_head;          /* shared's when tied */
} t5_grads;

/* One attention sublayer: x + drop(Attn(RMS(x))) (N query rows, Nk key
 * rows: the sublayer's own rows for self-attention, the encoder's output
 * for cross-attention). */
typedef struct t5_attn_acts {
    float *x;                /* (N, C) the stream at its input: RMS's input */
    float *rstd;             /* (N) */
    float *n;                /* (N, C) RMS(x): the queries' input (and keys', values' in
                                self-attention) */
    float *q;                /* (N, HD) */
    float *k, *v;            /* (Nk, HD) */
    float *probs;            /* (B, H, Tq, Tk) softmax, before attention dropout */
    float *ctx;              /* (N, HD) drop(probs)·v, heads side by side */
    uint8_t *mask_p;         /* dropout masks: (B, H, Tq, Tk) on the probabilities, */
    uint8_t *mask_o;         /* (N, C) on the output before the residual add */
} t5_attn_acts;

/* The FFN sublayer: x + drop(drop(act(n·Wiᵀ) [⊙ n·Wi1ᵀ])·Woᵀ), n = RMS(x). */
typedef struct t5_ffn_acts {
    float *x, *rstd, *n;     /* as in t5_attn_acts */
    float *h;                /* (N, F) n·Wiᵀ (wi_0 when gated), the activation's input */
    float *a, *h1;           /* gated only: (N, F) act(h) and n·Wi1ᵀ */
    float *g;                /* (N, F) Wo's input: the dropped activation (or product) */
    uint8_t *mask_g;         /* (N, F) T5DenseActDense's dropout */
    uint8_t *mask_o;         /* (N, C) T5LayerFF's */
} t5_ffn_acts;

typedef struct t5_block_acts {
    t5_attn_acts sa, ca;     /* ca: decoder blocks only */
    t5_ffn_acts ff;
} t5_block_acts;

/* A stack (encoder or decoder) over N = B·len rows. */
typedef struct t5_stack_acts {
    t5_block_acts *blk;
    float *top;              /* (N, C) the last block's output: the final norm's input */
    float *rstd;             /* (N) */
    float *out;              /* (N, C) drop(RMS(top)): the encoder's output, the head's input */
    uint8_t *mask_emb;       /* (N, C) dropout after the embedding lookup */
    uint8_t *mask_out;       /* (N, C) dropout after the final norm */
    float *bias;             /* (H, len, len) relative position bias (+ causal mask) */
    float *dbias;            /* (H, len, len) its gradient, summed over inputs and blocks */
} t5_stack_acts;

/* A run of gradients: n floats from at. */
typedef struct t5_grad_run {
    float *at;
    size_t n;
} t5_grad_run;

typedef struct t5_train {
    mlm_model *m;
    t5_model *tm;
    ops_ctx ops;
    int maxB, maxS, maxT;          /* capacity */
    float dropout;                 /* config dropout_rate; may be changed between steps */
    int train_mode;                /* 0: no dropout (model.eval(), with gradients) */
    int start_id, pad_id;          /* decoder_start_token_id, pad_token_id (-1: none) */

    float *grad;                   /* the table's floats, tm->owned's layout */
    grad_hook hook;                /* told after each block of a backward */
    t5_grads g;
    /* OPS_SET_DWEIGHT from t5_train_zero_grad to the end of the next
     * backward: the linears' weight gradients, which one product each
     * writes whole per backward, are not zeroed but overwritten by it
     * (0 otherwise, and always when lazy is 0). Zeroing them and reading
     * them back cost a twentieth of a bf16 t5-small step. */
    int set_w;
    int lazy;                      /* the linears' gradients are all of grad but `rest` */
    t5_grad_run *rest;             /* the other gradients, zeroed by zero_grad */
    int n_rest;

    float *acts_mem;
    t5_stack_acts enc, dec;
    float *emask;                  /* (B·S) additive encoder mask (0 or −FLT_MAX) */
    int32_t *dec_ids;              /* (B·T) the decoder's input ids of the last forward */
    float *s_n[4];                 /* scratch (Nmax, C): [0], [1] the sublayers', [2] the
                                      stream's gradient, [3] the encoder output's */
    float *s_hd[3];                /* scratch (Nmax, HD) */
    float *s_f[3];                 /* scratch (Nmax, F) */
    float *s_att[2];               /* scratch (B, H, max(S, T), max(S, T)) */
    double *rel_acc;               /* (NB, H) the bucket sums of a stack's bias gradient */

    /* The head at the n labelled rows (grown when a batch needs more). */
    float *head_mem;
    size_t head_cap;
    int32_t *rows;                 /* (n) flat positions b·T + t */
    int32_t *labels;               /* (n) */
    float *z;                      /* (n, C) the head's input (rescaled when tied) */
    float *lse;                    /* (n) */
    float *logits;                 /* (n, V); the backward turns it into dlogits */

    /* The last forward, for its backward. The batch's arrays are not
     * copied: the caller keeps them alive until t5_train_backward. */
    t5_train_batch batch;
    int n_rows;                    /* labelled target tokens */
    float loss;                    /* mean cross-entropy (NaN when n_rows = 0) */
    uint64_t seed, step;
    int ready;                     /* a forward has run and its backward not yet */
} t5_train;

/* A context for the T5 model m (made to own its parameters, see
 * t5_own_params) and batches of at most maxB inputs of maxS source and maxT
 * target tokens, computing with nthreads threads. Gradients start at zero,
 * train mode on, dropout the config's dropout_rate.
 * Errors: MLM_ERR_INVALID_ARGUMENT (NULL, sizes < 1), MLM_ERR_UNSUPPORTED
 * (not a T5 model), MLM_ERR_OUT_OF_MEMORY. */
mlm_status t5_train_new(mlm_model *m, int maxB, int maxS, int maxT, int nthreads, t5_train **out);
/* Accepts NULL. */
void t5_train_free(t5_train *tc);

/* Forward in train mode: the encoder, the decoder on dec_ids (or the
 * labels shifted right), the head at the labelled positions only, and
 * *loss = their mean cross-entropy (NaN when there are none, as torch).
 * Dropout masks are a pure function of (seed, step, site): the same (seed,
 * step) gives the same masks, bit for bit, for any thread count; use a new
 * step (e.g. the micro-batch counter) for new masks.
 * Errors: MLM_ERR_INVALID_ARGUMENT (no batch, over capacity, no
 * decoder_start_token_id or pad_token_id to shift with), MLM_ERR_RANGE (an
 * id or label outside the vocabulary, naming it). */
mlm_status t5_train_forward(t5_train *tc, const t5_train_batch *b, uint64_t seed, uint64_t step,
                            float *loss);

/* Backward of the last t5_train_forward, ADDING to the gradients (so k
 * micro-batches accumulate). dloss is d(objective)/d(this batch's mean
 * loss): 1 for one batch per step, 1/k for HF's accumulation over k
 * micro-batches, n_rows/Σ n_rows for token-weighted accumulation. A batch
 * with no labelled token adds nothing. MLM_ERR_INVALID_ARGUMENT when no
 * forward is waiting for its backward. */
mlm_status t5_train_backward(t5_train *tc, float dloss);

void t5_train_zero_grad(t5_train *tc);

/* The gradients: the table's floats, in the owned parameter buffer's layout. */
float *t5_train_grad(t5_train *tc);

/* Labelled target tokens of the last forward. */
size_t t5_train_labelled(const t5_train *tc);

/* Dropout on (1: model.train()) or off (0: model.eval(), gradients still
 * computed). */
void t5_train_set_mode(t5_train *tc, int train_mode);

/* ---- internal to nn/t5_train*.c: the sublayers (nn/t5_train_layers.c) */

/* A linear's backward in a step: dinp overwritten (first: its first
 * contribution) or added to; the weight's gradient overwritten while
 * tc->set_w says so, else added to. T5's linears have no bias. */
mlm_status t5_linear_backward(t5_train *tc, int first, float *dinp, float *dweight,
                              const float *dout, const float *inp, const float *weight, int N,
                              int C, int OC);

/* What an attention sublayer attends over: B inputs of Tq query and Tk
 * key positions. */
typedef struct t5_sublayer {
    int B, Tq, Tk;
    const float *kv;         /* cross-attention: the encoder's output (B·Tk, C); NULL: self */
    const float *bias;       /* (H, Tq, Tk) added to every input's scores, or NULL */
    float *dbias;            /* where the backward adds its gradient (H, Tq, Tk), or NULL */
    const float *mask;       /* additive key mask (B·Tk): 0 or −FLT_MAX; or NULL */
    uint64_t site;           /* its dropout sites: site (probabilities), site + 1 (output) */
} t5_sublayer;

/* out (N, C) = a->x + drop(Attn(RMS(a->x))), keeping what the backward
 * needs in a; N = B·Tq. */
mlm_status t5_attn_forward(t5_train *tc, const t5_attn_w *w, const float *ln, t5_attn_acts *a,
                           const t5_sublayer *s, float *out);
/* dy (N, C): the gradient at the sublayer's output on entry, at its input
 * on exit (the residual makes it in place). The weights' and the norm's
 * gradients are added to g and dln; cross-attention adds the keys' and
 * values' input gradient to dkv (B·Tk, C). */
mlm_status t5_attn_backward(t5_train *tc, const t5_attn_w *w, const float *ln, t5_attn_grads *g,
                            float *dln, const t5_attn_acts *a, const t5_sublayer *s, float *dy,
                            float *dkv);
/* out (N, C) = a->x + drop(FFN(RMS(a->x))); dropout sites site, site + 1. */
mlm_status t5_ffn_forward(t5_train *tc, const t5_block_w *w, t5_ffn_acts *a, int N,
                          uint64_t site, float *out);
/* dy in place as t5_attn_backward's. */
mlm_status t5_ffn_backward(t5_train *tc, const t5_block_w *w, t5_block_grads *g,
                           const t5_ffn_acts *a, int N, uint64_t site, float *dy);

/* Dropout is applied (train mode, a positive rate). */
int t5_train_drops(const t5_train *tc);
/* The Philox stream of a dropout site at the current step. */
uint64_t t5_train_stream(const t5_train *tc, uint64_t site);

#endif
