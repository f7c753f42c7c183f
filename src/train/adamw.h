/* AdamW, both of the ones transformers' TrainingArguments.optim names:
 *   adamw_torch  torch.optim.AdamW (the Trainer's default since 4.x);
 *   adamw_hf     transformers.AdamW (optimization.py up to 4.49, removed in
 *                4.50): the seed's `AdamW(model.parameters(), lr=5e-5)`.
 * Their arithmetic differs: torch decays the weights before the update and
 * divides √v by √(1 − β2^t) before adding ε; transformers folds both bias
 * corrections into the step size, adds ε to √v itself, and decays the
 * weights after the update.
 *
 * The state (m, v and the step count) is plain data in the flat layout of
 * train/param_groups.h: exp_avg and exp_avg_sq of parameter i are
 * m/v[offset_i, offset_i + numel_i). */
#ifndef MLM_TRAIN_ADAMW_H
#define MLM_TRAIN_ADAMW_H

#include <stddef.h>
#include <stdint.h>

#include "train/param_groups.h"

typedef struct adamw {
    param_groups g;         /* the layout and the groups */
    size_t n;               /* floats in the parameter vector (g.n) */
    float *m, *v;           /* exp_avg, exp_avg_sq: one allocation of 2n */
    int64_t step;           /* updates done (the per-parameter `step` of both) */
    double beta1, beta2, eps, weight_decay; /* Python floats in torch */
    int hf;                 /* 1: transformers.AdamW's arithmetic */
    int correct_bias;       /* transformers.AdamW's correct_bias (torch: always) */
} adamw;

/* torch.optim.AdamW's state for the parameter table params[0..n_params),
 * zeroed (step 0), with the Trainer's two groups: weight_decay on the decay
 * group, 0 on biases and LayerNorm weights. HF's defaults are betas (0.9,
 * 0.999), eps 1e-8. The table is borrowed and must outlive the state.
 * Errors: MLM_ERR_INVALID_ARGUMENT for betas outside [0, 1), eps < 0 or
 * weight_decay < 0; MLM_ERR_OUT_OF_MEMORY. */
mlm_status adamw_init(adamw *opt, const param_desc *params, size_t n_params, double beta1,
                      double beta2, double eps, double weight_decay, int nthreads);

/* adamw_init with one_group: a single group, weight_decay on every
 * parameter (torch.optim.AdamW(model.parameters())). */
mlm_status adamw_init_grouped(adamw *opt, const param_desc *params, size_t n_params,
                              double beta1, double beta2, double eps, double weight_decay,
                              int one_group, int nthreads);

/* transformers.AdamW's state: the same checks, then hf = 1. one_group: the
 * seed's AdamW(model.parameters()) — one group, weight_decay on every
 * parameter — else the Trainer's two groups (optim="adamw_hf"). Its own
 * defaults were eps 1e-6, weight_decay 0.0, correct_bias True. */
mlm_status adamw_hf_init(adamw *opt, const param_desc *params, size_t n_params, double beta1,
                         double beta2, double eps, double weight_decay, int correct_bias,
                         int one_group, int nthreads);
void adamw_free(adamw *opt);

/* One update at learning rate lr, per element with g = grads[i]·gscale (a
 * float product: clip_grad_norm_'s scaling folded into the update's pass,
 * the floats of clipping first; grads is not modified; gscale 1: none):
 *
 * torch.optim.AdamW (foreach=False):
 *   t += 1 (once per call)
 *   p *= 1 − lr·wd                      (decay group only; decoupled)
 *   m  = β1·m + (1 − β1)·g
 *   v  = β2·v + (1 − β2)·g²
 *   p −= lr/(1 − β1^t) · m / (√v/√(1 − β2^t) + eps)
 * transformers.AdamW:
 *   t += 1
 *   m, v as above
 *   p += (−s·m) / (√v + eps),  s = lr·√(1 − β2^t)/(1 − β1^t)  (correct_bias;
 *                                 else s = lr)
 *   p += (−lr·wd)·p                     (decay group, wd > 0; after the update)
 *
 * Note m and v move even at lr = 0 (HF's first step with warmup). One pass
 * over p, g, m and v, opt->g.nthreads threads; the result does not depend
 * on the thread count. */
void adamw_step_scaled(adamw *opt, float *params, const float *grads, double lr, float gscale);

/* adamw_step_scaled with gscale 1. */
void adamw_step(adamw *opt, float *params, const float *grads, double lr);

/* The state, for saving and restoring: m and v (n floats each) and the step
 * count. Restoring: write into *m, *v and opt->step. */
void adamw_state(adamw *opt, float **m, float **v, size_t *n, int64_t **step);

#endif
