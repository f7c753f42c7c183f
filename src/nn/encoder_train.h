/* Training the encoder models: the forward pass in train mode (dropout),
 * the masked-LM loss, and the backward pass of every layer, llm.c style.
 *
 * A train_ctx belongs to one model and holds everything a step needs beside
 * the parameters:
 *   - gradients: one allocation of model_numel() floats with exactly the
 *     layout of the model's owned parameter buffer (table order), so that the
 *     gradient of the parameter at m->owned + i is grad[i]; `g` points into
 *     it field by field, as model_weights points into the parameters;
 *   - activations: one allocation sized for the capacity (B, T) given at
 *     creation, every tensor a layer's backward needs (train_acts below);
 *   - the head's activations, sized by the number of labelled rows (the MLM
 *     head runs only where labels != -100), grown when a batch needs more.
 *
 * Lifecycle (per optimizer step; k micro-batches for gradient accumulation):
 *   train_ctx_new → [train_zero_grad → k × (train_forward → train_backward)
 *   → clip / AdamW (train/adamw.h) on m->owned and tc->grad] → train_ctx_free.
 *
 * The model must own its parameters (model_own_params: a checkpoint mapped
 * zero-copy is read-only). Not thread-safe: one context, one thread calling
 * it (the kernels themselves use tc->ops.nthreads threads). */
#ifndef MLM_NN_ENCODER_TRAIN_H
#define MLM_NN_ENCODER_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "nn/grad_hook.h"
#include "nn/model_impl.h"

/* A padded batch. labels: the token to predict, or OPS_IGNORE_INDEX. */
typedef struct train_batch {
    const int32_t *ids;       /* (B, T) */
    const int32_t *attn_mask; /* (B, T) of 0/1, or NULL for all ones */
    const int32_t *type_ids;  /* (B, T), or NULL for zeros (ignored by DistilBERT) */
    const int32_t *labels;    /* (B, T) */
    int B, T;
} train_batch;

/* Gradients, field for field as layer_weights / model_weights. */
typedef struct layer_grads {
    float *q_w, *q_b, *k_w, *k_b, *v_w, *v_b;
    float *o_w, *o_b;
    float *ln1_w, *ln1_b;
    float *ff1_w, *ff1_b;
    float *ff2_w, *ff2_b;
    float *ln2_w, *ln2_b;
} layer_grads;

typedef struct model_grads {
    float *word_emb, *pos_emb, *type_emb; /* type_emb NULL for DistilBERT */
    float *emb_ln_w, *emb_ln_b;
    layer_grads *layer;
    float *head_w, *head_b, *head_ln_w, *head_ln_b;
    float *decoder_b;
} model_grads;

/* What one layer's backward needs (N = B·T rows). A layer run at n
 * selected rows (train_ctx.selected, the last layer) keeps k and v for all
 * N rows and everything else for its n rows, in the same buffers: q holds
 * the n queries and then the n selected inputs; probs holds the runs'
 * (H, len, T) blocks (encoder_rows_probs). */
typedef struct layer_acts {
    float *q, *k, *v;          /* (N, C) */
    float *probs;              /* (B, H, T, T) softmax, before attention dropout */
    float *ctx;                /* (N, C) dropout(probs)·v, heads side by side */
    float *sum1;               /* (N, C) x + dropout(ctx·Woᵀ + bo): LN1's input */
    float *mean1, *rstd1;      /* (N) */
    float *x1;                 /* (N, C) LN1's output */
    float *h;                  /* (N, I) x1·W1ᵀ + b1 (before the activation) */
    float *a;                  /* (N, I) act(h) */
    float *cdf;                /* (N, I) Φ(h) for exact GELU's backward, else NULL */
    float *sum2;               /* (N, C) x1 + dropout(a·W2ᵀ + b2): LN2's input */
    float *mean2, *rstd2;      /* (N) */
    float *out;                /* (N, C) LN2's output: the next layer's input */
    /* dropout masks (a byte per element, 1 = kept) of the last train-mode
     * forward: attention probabilities (B, H, T, T), after the attention's
     * output projection and after the FFN (N, C) */
    uint8_t *mask_attn, *mask_ao, *mask_ffn;
} layer_acts;

typedef struct train_acts {
    float *emb_sum;            /* (N, C) word + position + type: the LN's input */
    float *emb_mean, *emb_rstd;/* (N) */
    float *x0;                 /* (N, C) dropout(LN(emb_sum)): layer 0's input */
    float *mask;               /* (N) additive attention mask (0 or -FLT_MAX) */
    int32_t *pos;              /* (N) position ids (int32 in float-sized slots) */
    uint8_t *mask_emb;         /* (N, C) the embeddings' dropout mask */
    layer_acts *layer;         /* L of them */
    /* scratch, shared by every layer (forward and backward) */
    float *s_nc[4];            /* (N, C) each */
    float *s_ni[2];            /* (N, I) each */
    float *s_att[2];           /* (B, H, T, T) each */
} train_acts;

/* The head at the n labelled rows. */
typedef struct head_acts {
    int32_t *rows;             /* (n) flat positions b·T + t */
    int32_t *labels;           /* (n) */
    float *x;                  /* (n, C) last hidden states at those rows */
    float *t;                  /* (n, C) x·Whᵀ + bh (before the activation) */
    float *u;                  /* (n, C) act(t) */
    float *z;                  /* (n, C) LN(u) */
    float *mean, *rstd, *lse;  /* (n) */
    float *logits;             /* (n, V); the backward turns it into dlogits */
    float *d1, *d2;            /* (n, C) backward scratch */
    row_run *runs;             /* (n at most) the rows by sequence */
    int nruns;
} head_acts;

typedef struct train_ctx {
    mlm_model *m;
    ops_ctx ops;
    int maxB, maxT;            /* capacity */
    /* Dropout probabilities in train mode, from the config
     * (hidden_dropout_prob / dropout, attention_probs_dropout_prob /
     * attention_dropout); may be changed between steps. */
    float hidden_dropout, attn_dropout;
    int train_mode;            /* 0: no dropout (eval-mode forward, with gradients) */
    /* Run the last layer only at the labelled rows (keys and values at
     * every row) when they are at most half the tokens, as the eval
     * forward does (encoder_selects_rows): the loss and every gradient are
     * those of the whole layer, whose other rows reach nothing. On by
     * default; tests turn it off to compare. */
    int select_rows;

    float *grad;               /* model_numel(m) floats, the parameters' layout */
    model_grads g;
    grad_hook hook;            /* told after each layer of a backward */

    float *acts_mem;
    train_acts a;
    float *head_mem;
    size_t head_cap;           /* rows the head buffer holds */
    head_acts h;

    /* The last forward, for its backward. The batch's arrays are not
     * copied: the caller keeps them alive until train_backward. */
    train_batch batch;
    int B, T, n_rows;          /* n_rows: labelled positions */
    int selected;              /* the last layer ran at the n_rows rows only */
    float loss;                /* mean cross-entropy (NaN when n_rows = 0) */
    uint64_t seed, step;
    int ready;                 /* a forward has run and its backward not yet */
} train_ctx;

/* A context for model m (which must own its parameters: see
 * model_own_params) and batches of at most maxB rows of maxT tokens.
 * Gradients start at zero. */
mlm_status train_ctx_new(mlm_model *m, int maxB, int maxT, int nthreads, train_ctx **out);
/* Accepts NULL. */
void train_ctx_free(train_ctx *tc);

/* Activation floats a context of capacity (B, T) allocates (not the head). */
size_t train_acts_floats(const model_dims *d, int B, int T);

/* Forward in train mode: embeddings, layers, the head only at labelled
 * positions, and *loss = mean cross-entropy over them (NaN when there are
 * none, as torch). Dropout masks are a pure function of (seed, step, site):
 * the same (seed, step) gives the same masks, bit for bit, for any thread
 * count; use a new step (e.g. the micro-batch counter) for new masks. */
mlm_status train_forward(train_ctx *tc, const train_batch *b, uint64_t seed, uint64_t step,
                         float *loss);

/* Backward of the last train_forward, ADDING to tc->grad (so k micro-batches
 * accumulate). dloss is d(objective)/d(this batch's mean loss):
 *   1                      one batch per step;
 *   1/k                    HF Trainer's accumulation over k micro-batches
 *                          (training_step divides each loss by
 *                          gradient_accumulation_steps);
 *   n_rows / Σ n_rows      token-weighted accumulation (HF when the model
 *                          takes num_items_in_batch).
 * A batch with no labelled position adds nothing. */
mlm_status train_backward(train_ctx *tc, float dloss);

void train_zero_grad(train_ctx *tc);

#endif
