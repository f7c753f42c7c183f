/* torch.optim.AdamW as Hugging Face's Trainer sets it up, gradient clipping
 * as torch.nn.utils.clip_grad_norm_, and the learning-rate schedules of
 * transformers' optimization.py.
 *
 * Everything works on flat vectors in the layout of the model's owned
 * parameter buffer (m->owned, table order), which is also the layout of a
 * train_ctx's gradients (nn/encoder_train.h): parameter i of the table occupies
 * [offset_i, offset_i + numel_i). The table's no_decay flag selects HF's
 * second parameter group (biases and LayerNorm weights: weight decay 0).
 *
 * The state (m, v and the step count) is plain data: adamw_state() exposes
 * it for checkpoints (optimizer.pt holds exactly exp_avg, exp_avg_sq and
 * step per parameter). */
#ifndef MLM_TRAIN_ADAMW_H
#define MLM_TRAIN_ADAMW_H

#include <stddef.h>
#include <stdint.h>

#include "nn/model_impl.h"

typedef struct adamw {
    size_t n;               /* floats in the parameter vector */
    float *m, *v;           /* exp_avg, exp_avg_sq: one allocation of 2n */
    int64_t step;           /* updates done (torch's per-parameter `step`) */
    double beta1, beta2, eps, weight_decay; /* Python floats in torch */
    uint8_t *decay;         /* n_params flags: 1 = weight decay applies */
    size_t *offset;         /* n_params + 1 offsets into the vector */
    size_t n_params;
    int nthreads;
    size_t *chunk_first;    /* n_params + 1: the first norm chunk of each parameter */
    double *chunk_sum;      /* one partial sum of squares per chunk (scratch) */
} adamw;

/* State for model m's parameter table, zeroed (step 0). betas (0.9, 0.999),
 * eps 1e-8 are HF's defaults; weight_decay applies to the decay group only.
 * Errors: MLM_ERR_INVALID_ARGUMENT for betas outside [0, 1), eps < 0 or
 * weight_decay < 0; MLM_ERR_OUT_OF_MEMORY. */
mlm_status adamw_init(adamw *opt, const mlm_model *m, double beta1, double beta2, double eps,
                      double weight_decay, int nthreads);
void adamw_free(adamw *opt);

/* One update at learning rate lr, exactly torch.optim.AdamW's (foreach=False)
 * arithmetic, per element:
 *   t += 1 (once per call)
 *   p *= 1 − lr·wd                      (decay group only; decoupled)
 *   m  = β1·m + (1 − β1)·g
 *   v  = β2·v + (1 − β2)·g²
 *   p −= lr/(1 − β1^t) · m / (√v/√(1 − β2^t) + eps)
 * Note m and v move even at lr = 0 (HF's first step with warmup).
 * One pass over p, g, m and v, opt->nthreads threads; the result does not
 * depend on the thread count. */
void adamw_step(adamw *opt, float *params, const float *grads, double lr);

/* adamw_step with g = grads[i]·gscale (a float product) in place of
 * grads[i]: clip_grad_norm_'s scaling folded into the update, so clipping
 * costs no pass of its own. The floats are those of grad_clip followed by
 * adamw_step; grads is not modified. gscale 1 is adamw_step. */
void adamw_step_scaled(adamw *opt, float *params, const float *grads, double lr, float gscale);

/* The state, for saving and restoring: m and v (n floats each) and the step
 * count. Restoring: write into *m, *v and opt->step. */
void adamw_state(adamw *opt, float **m, float **v, size_t *n, int64_t **step);

/* The 2-norm over all gradients (every parameter's 2-norm, then the 2-norm
 * of those, as clip_grad_norm_), accumulated in double in a fixed order:
 * each parameter in chunks of 2^16 elements, each chunk in VLANES partial
 * sums, chunks and parameters added in order. Chunks run on opt->nthreads
 * threads; the result does not depend on their number. */
double grad_global_norm(adamw *opt, const float *grads);

/* clip_grad_norm_'s coefficient: min(1, max_norm/(norm + 1e-6)). */
double grad_clip_coef(double norm, double max_norm);

/* clip_grad_norm_(max_norm): grads *= (float)coef when coef < 1. Returns
 * coef. norm from grad_global_norm. */
double grad_clip(float *grads, size_t n, double norm, double max_norm);

/* get_linear_schedule_with_warmup's multiplier at `step` (0 before the first
 * update): step/warmup during warmup, then max(0, (total − step)/(total −
 * warmup)). The learning rate of an update is lr · this, where step counts
 * the updates already done (so the first update with warmup ≥ 1 uses lr 0,
 * as the Trainer does). */
double lr_linear_warmup(int64_t step, int64_t warmup, int64_t total);

#endif
