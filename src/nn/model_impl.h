/* The encoder models behind mlm_model: BERT, RoBERTa and DistilBERT share
 * one computation (embeddings, post-LN transformer layers, MLM head) and
 * differ in names, position ids, token types and a few constants; `arch`
 * says which.
 *
 * Parameters are a struct of pointers (llm.c's layout): into the mapped
 * checkpoint when the model is loaded for inference (zero-copy F32), or into
 * one owned allocation when the model was created, converted or is trained.
 * The parameter table (model_params) lists every tensor with its HF name and
 * shape, in HF's order; load, save, init and the optimizer all walk it. */
#ifndef MLM_NN_MODEL_IMPL_H
#define MLM_NN_MODEL_IMPL_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/scratch.h"
#include "io/config.h"
#include "mlm/model.h"
#include "nn/family.h"
#include "nn/ops/ops.h"
#include "nn/ops/qweight.h"

typedef enum model_arch { ARCH_BERT, ARCH_ROBERTA, ARCH_DISTILBERT } model_arch;

typedef struct model_dims {
    model_arch arch;
    int V;          /* vocab_size */
    int C;          /* hidden_size (DistilBERT: dim) */
    int L;          /* num_hidden_layers (n_layers) */
    int H;          /* num_attention_heads (n_heads) */
    int I;          /* intermediate_size (hidden_dim) */
    int P;          /* max_position_embeddings */
    int T;          /* type_vocab_size; 0 for DistilBERT */
    int pad_id;     /* pad_token_id (-1 if none) */
    float ln_eps;   /* layer_norm_eps (DistilBERT: 1e-12, whatever the config says) */
    act_fn act;     /* hidden_act / activation: GELU, GELU_NEW, GELU_PYTORCH_TANH, RELU */
    act_fn head_act; /* RoBERTa's lm_head is always exact-erf GELU */
    float hidden_dropout, attn_dropout;
} model_dims;

typedef struct layer_weights {
    const float *q_w, *q_b, *k_w, *k_b, *v_w, *v_b; /* (C, C), (C) */
    const float *o_w, *o_b;                         /* attention output (C, C) */
    const float *ln1_w, *ln1_b;                     /* after attention (C) */
    const float *ff1_w, *ff1_b;                     /* (I, C), (I) */
    const float *ff2_w, *ff2_b;                     /* (C, I), (C) */
    const float *ln2_w, *ln2_b;                     /* after the FFN (C) */
    /* The same products' weights in bf16 or int8 once the model's dtype
     * is set (nn/dtype.c); NULL in fp32, and then the float ones are used. */
    const ops_qw *qw_q, *qw_k, *qw_v, *qw_o, *qw_ff1, *qw_ff2;
} layer_weights;

typedef struct model_weights {
    const float *word_emb;              /* (V, C); the decoder is tied to it */
    const float *pos_emb;               /* (P, C) */
    const float *type_emb;              /* (T, C), NULL for DistilBERT */
    const float *emb_ln_w, *emb_ln_b;   /* (C) */
    layer_weights *layer;               /* L of them */
    const float *head_w, *head_b;       /* transform dense (C, C), (C) */
    const float *head_ln_w, *head_ln_b; /* (C) */
    const float *decoder_b;             /* (V) */
    const ops_qw *qw_word, *qw_head;    /* reduced word_emb (also the decoder), head_w */
} model_weights;

/* How a parameter is initialised, as HF's _init_weights does. */
typedef enum param_init { INIT_NORMAL, INIT_ZERO, INIT_ONE, INIT_CONST } param_init;

typedef struct param_desc {
    char name[96];        /* HF name, e.g. "bert.encoder.layer.0.attention.self.query.weight" */
    int ndim;
    int64_t shape[2];
    size_t numel;
    param_init init;
    float init_std;       /* INIT_NORMAL's std when > 0 (T5's per-kind init; else the
                           * config's initializer_range); INIT_CONST's value */
    int no_decay;         /* bias or LayerNorm weight: no weight decay (HF Trainer) */
    int is_layernorm;
    int padding_row;      /* nn.Embedding's padding_idx: zero at init, no gradient; or -1 */
    const float **slot;   /* where model_weights points to it */
    /* A matrix a reduced dtype converts (the Linears' weights and the word
     * embeddings): where the weights struct points to its ops_qw; NULL for
     * what stays fp32 (biases, norms, position tables). */
    const ops_qw **qslot;
} param_desc;

/* Fills one entry of a family's parameter table: the name from fmt/ap, the
 * shape (cols 0: a vector), the init, where the tensor's pointer goes; no
 * decay for what is initialised to constants (biases, norms), as HF's
 * Trainer groups them; padding_row -1. The family sets the rest. */
void param_set(param_desc *p, const float **slot, param_init init, float init_std,
               int64_t rows, int64_t cols, const char *fmt, va_list ap);

struct mlm_model {
    const model_family *family; /* chosen at load or creation (nn/family.h) */
    void *impl;           /* another family's own state (encoder-decoder: t5_model) */
    /* The encoder masked-LM family's state (the trainer reads it): */
    model_dims d;
    model_config cfg;     /* as loaded; written back by save */
    model_weights w;
    param_desc *params;   /* the table, HF order */
    size_t n_params;
    float *owned;         /* one allocation holding every parameter, or NULL */
    void *source;         /* the mapped checkpoint the pointers may point into */
    void (*source_close)(void *);
    char **warnings;
    size_t n_warnings;
    /* Any family: the dtype of the matrices (nn/dtype.c) and, once reduced,
     * their converted weights, one per entry of the parameter table
     * (model_param_table; empty for those without a qslot). */
    mlm_dtype dtype;
    ops_qw *qw;
    /* Working blocks kept between calls (core/scratch.h), made on first use:
     * mutable behind a const model, by atomic exchange. */
    _Atomic(scratch_cache *) scratch;
};

/* m's scratch cache, made on first use; NULL when that failed (the blocks
 * are then allocated and freed plainly). */
scratch_cache *model_scratch_cache(const mlm_model *m);

/* The encoder family's save (config.json, model.safetensors into an existing
 * dir) and the release of its state (not of m itself). */
mlm_status encoder_model_save(const mlm_model *m, const char *dir);
void encoder_model_destroy(mlm_model *m);

/* A checkpoint's weights: model.safetensors, or an index and its shards.
 * NOT_FOUND naming dir when neither is there (UNSUPPORTED, with the
 * conversion to run, for pytorch_model.bin). */
typedef struct weights_source weights_source;
mlm_status weights_open(const char *dir, weights_source **out);
const struct st_tensor *weights_find(const weights_source *s, const char *name);
void weights_close(void *s); /* a weights_source; accepts NULL */
/* A tensor's dtype (F32, F16, BF16) and shape against p's. */
mlm_status weights_check(const param_desc *p, const struct st_tensor *t);
/* dir/model.safetensors with the n parameters of m's table under their HF
 * names and save_pretrained's metadata ({"format": "pt"}): F32, or BF16
 * for a bf16 model (every tensor, as after .to(torch.bfloat16)); an int8
 * model is MLM_ERR_UNSUPPORTED. */
mlm_status weights_save(const mlm_model *m, const param_desc *params, size_t n, const char *dir);

/* Build the table for d (allocates m->params); pointers stay NULL. */
mlm_status model_build_params(mlm_model *m);

/* A parameter table's element count. */
size_t params_numel(const param_desc *p, size_t n);

/* Give every parameter of a table a place in one zeroed allocation, in
 * table order (*owned). */
mlm_status params_alloc(param_desc *p, size_t n, float **owned);

/* Make a table's parameters owned: copy them out of the mapped checkpoint
 * (*source) into one allocation laid out as params_alloc lays it out, and
 * close the checkpoint. Nothing to do when *owned is set. Training needs
 * it: a zero-copy mapping is read-only. On failure nothing changes. */
mlm_status params_own(param_desc *p, size_t n, float **owned, void **source,
                      void (**source_close)(void *));

/* Any family's parameters (through m->family): the table (HF names,
 * state_dict order, one entry per tied tensor), its element count, the
 * owned buffer (NULL until owned) and making the model own them (then
 * re-pointing tied tensors). */
const param_desc *model_param_table(const mlm_model *m, size_t *n);
size_t model_numel(const mlm_model *m);
float *model_owned(const mlm_model *m);
mlm_status model_own_params(mlm_model *m);

/* The parameter storage of a table whose qslot matrices were converted:
 * the other parameters move into one new allocation (as params_own lays
 * them out, in table order), the converted ones' slots become NULL, and the
 * old allocation (*owned) or mapped checkpoint (*source) is released. On
 * failure (out of memory) nothing changes. */
mlm_status params_compact(param_desc *p, size_t n, float **owned, void **source,
                          void (**source_close)(void *));

/* Converts m's matrices to dtype (MLM_DTYPE_BF16 or MLM_DTYPE_INT8) from
 * fp32, as mlm_model_set_dtype documents; on failure m is unchanged. */
mlm_status model_set_dtype(mlm_model *m, mlm_dtype dtype);

/* Frees m's converted matrices (mlm_model_free, before the family's state). */
void model_free_reduced(mlm_model *m);

/* MLM_OK when m's weights are fp32; else MLM_ERR_UNSUPPORTED naming fn and
 * the dtype (training and the optimizers need fp32 weights). */
mlm_status model_require_fp32(const mlm_model *m, const char *fn);

/* The encoder family's params_alloc on m. */
mlm_status model_alloc_params(mlm_model *m);

/* Record a warning (copied). */
mlm_status model_warn(mlm_model *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* out (N, OC) = [residual +] inp (N, C)·Wᵀ + b with W stored (OC, C) as
 * torch does; a residual is copied into out and the product accumulated on
 * it (beta = 1). Shared by the eval and train forwards so they compute the
 * same floats. */
mlm_status encoder_linear(const ops_ctx *ctx, float *out, const float *inp, const float *W,
                          const float *b, const float *residual, int N, int C, int OC);
/* The same with W's reduced form qw, used instead of W when not NULL (the
 * inference forward; training's weights are fp32). */
mlm_status encoder_linear_q(const ops_ctx *ctx, float *out, const float *inp, const float *W,
                            const ops_qw *qw, const float *b, const float *residual, int N, int C,
                            int OC);

/* out = act(encoder_linear_q(...)): act ACT_LINEAR (the identity) or one a
 * model may have. With reduced weights the bias and an exact GELU run in
 * the product's epilogue (ops_qw_gemm_epi): the same floats. */
mlm_status encoder_linear_act(const ops_ctx *ctx, act_fn act, float *out, const float *inp,
                              const float *W, const ops_qw *qw, const float *b,
                              const float *residual, int N, int C, int OC);

/* out = act(inp) for the activations a model may have (out may be inp). */
void encoder_activate(const ops_ctx *ctx, act_fn act, float *out, const float *inp, size_t n);
/* Its backward: dinp += act'(inp)·dout (inp the forward's input). */
void encoder_activate_backward(const ops_ctx *ctx, act_fn act, float *dinp, const float *dout,
                               const float *inp, size_t n);

/* Position ids (B, T) for the embedding lookup: RoBERTa counts non-pad
 * tokens from padding_idx + 1 (create_position_ids_from_input_ids); BERT and
 * DistilBERT use 0..T-1. MLM_ERR_RANGE past max_position_embeddings. */
mlm_status model_position_ids(const model_dims *d, const int32_t *ids, int B, int T,
                              int32_t *pos);

/* Encoder forward in eval mode; hidden (B*T, C) receives the last hidden
 * states. ws holds encoder_workspace_floats() floats. With rows (indices
 * into the B·T tokens, allowed when encoder_selects_rows), only those
 * rows' states are computed through the last layer and land in the first
 * n_rows rows of hidden; the rest of hidden is scratch. */
size_t encoder_workspace_floats(const model_dims *d, int B, int T);
int encoder_selects_rows(const model_dims *d, size_t N, size_t n_rows);
mlm_status encoder_forward(const mlm_model *m, const ops_ctx *ctx, const int32_t *ids,
                           const int32_t *attn_mask, const int32_t *type_ids, int B, int T,
                           const int32_t *rows, int n_rows, float *hidden, float *ws);

/* Selected rows (indices into the B·T tokens) in runs of one sequence:
 * run i is entries [start, start + len) of the selection, all in sequence
 * b. encoder_row_runs splits n rows into at most n runs (consecutive
 * entries of one sequence share a run) and returns how many. */
typedef struct row_run {
    int b, start, len;
} row_run;
int encoder_row_runs(const int32_t *rows, int n, int T, row_run *runs);

/* Attention at selected rows only, against all T keys and values of their
 * own sequence. q (n, C): the selected rows' queries in selection order;
 * k, v (B·T, C); maskp (B·T) additive or NULL. probs receives run i's
 * softmax as an (H, len, T) block at probs + H·T·start (H·T·n floats in
 * all); out (n, C) the context of each selected row. Used by the eval
 * forward's last layer and by training's, so both compute the same floats. */
mlm_status encoder_rows_probs(const ops_ctx *ctx, const model_dims *d, const float *q,
                              const float *k, const float *maskp, int T, const row_run *runs,
                              int nruns, float *probs);
mlm_status encoder_rows_context(const ops_ctx *ctx, const model_dims *d, const float *probs,
                                const float *v, int T, const row_run *runs, int nruns,
                                float *out);

/* MLM head on n rows of hidden states (n, C): logits (n, V). ws holds at
 * least 2·n·(C + 1) floats. */
mlm_status head_forward(const mlm_model *m, const ops_ctx *ctx, const float *rows, int n,
                        float *logits, float *ws);

#endif
