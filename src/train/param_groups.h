/* A model's parameter table seen by an optimizer: the flat vector, HF
 * Trainer's two parameter groups, and clip_grad_norm_ over it.
 *
 * Optimizers work on flat vectors in the layout of the model's owned
 * parameter buffer (table order), which is also the layout of the training
 * gradients: parameter i occupies [offset[i], offset[i] + numel_i). The
 * Trainer's create_optimizer makes two groups: weight decay on every
 * parameter but biases and LayerNorm weights (the table's no_decay flag),
 * none on those; a plain `Optimizer(model.parameters())` has one group, all
 * of it decayed (one_group). Both families' tables (the encoder's m->params,
 * T5's t5_model.params) are param_desc arrays, so neither is named here. */
#ifndef MLM_TRAIN_PARAM_GROUPS_H
#define MLM_TRAIN_PARAM_GROUPS_H

#include <stddef.h>
#include <stdint.h>

#include "nn/model_impl.h"

typedef struct param_groups {
    const param_desc *params; /* the table (borrowed: it outlives the optimizer) */
    size_t n_params;
    size_t n;                 /* floats in the parameter vector */
    size_t *offset;           /* n_params + 1 offsets into the vector */
    uint8_t *decay;           /* n_params flags: 1 = in the weight-decay group */
    int one_group;            /* every parameter in one (decayed) group */
    int nthreads;
    size_t *chunk_first;      /* n_params + 1: the first norm chunk of each parameter */
    double *chunk_sum;        /* one partial sum of squares per chunk (scratch) */
} param_groups;

/* The groups of the table params[0..n_params). one_group: a single group
 * with weight decay on everything (the seed's AdamW(model.parameters())),
 * else the Trainer's two. Errors: MLM_ERR_OUT_OF_MEMORY. */
mlm_status param_groups_init(param_groups *g, const param_desc *params, size_t n_params,
                             int one_group, int nthreads);
void param_groups_free(param_groups *g);

/* The 2-norm over all gradients (every parameter's 2-norm, then the 2-norm
 * of those, as clip_grad_norm_), accumulated in double in a fixed order:
 * each parameter in chunks of 2^16 elements, each chunk in VLANES partial
 * sums, chunks and parameters added in order. Chunks run on g->nthreads
 * threads; the result does not depend on their number. */
double grad_global_norm(param_groups *g, const float *grads);

/* clip_grad_norm_'s coefficient: min(1, max_norm/(norm + 1e-6)). */
double grad_clip_coef(double norm, double max_norm);

/* clip_grad_norm_(max_norm): grads *= (float)coef when coef < 1. Returns
 * coef. norm from grad_global_norm. */
double grad_clip(float *grads, size_t n, double norm, double max_norm);

#endif
