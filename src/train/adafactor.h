/* Adafactor as transformers' optimization.py implements it (the class
 * Adafactor, which TrainingArguments.optim "adafactor" makes: the Trainer
 * passes scale_parameter=False, relative_step=False, lr=learning_rate and
 * its two parameter groups; the other options keep their defaults: eps
 * (1e-30, 1e-3), clip_threshold 1.0, decay_rate -0.8, beta1 None,
 * warmup_init False).
 *
 * With those options, per parameter p (float32 throughout) at step t:
 *   RMS  = ‖p‖₂/√numel                          (kept in the state, unused
 *                                                without scale_parameter)
 *   β̂   = 1 − t^decay_rate
 *   u    = g² + eps₁
 *   p of ≥ 2 dims (R×C), factored second moment:
 *     row = β̂·row + (1 − β̂)·mean_c u            (R values, exp_avg_sq_row)
 *     col = β̂·col + (1 − β̂)·mean_r u            (C values, exp_avg_sq_col)
 *     u   = (rsqrt(row/mean(row))[r] · rsqrt(col)[c]) · g
 *   p of 1 dim:
 *     v   = β̂·v + (1 − β̂)·u                     (exp_avg_sq)
 *     u   = rsqrt(v) · g
 *   u   /= max(1, RMS(u)/clip_threshold)        (update clipping)
 *   u   *= lr
 *   p   += (−wd·lr)·p                           (when the group's wd ≠ 0)
 *   p   −= u
 * The per-parameter state transformers keeps is step, exp_avg_sq_row and
 * exp_avg_sq_col (or exp_avg_sq), and RMS; every parameter's step is the
 * same here, so it is one count. */
#ifndef MLM_TRAIN_ADAFACTOR_H
#define MLM_TRAIN_ADAFACTOR_H

#include <stddef.h>
#include <stdint.h>

#include "train/param_groups.h"

typedef struct adafactor {
    param_groups g;         /* the layout and the groups */
    float *state;           /* every parameter's second moment, one allocation */
    size_t *soff;           /* n_params + 1 offsets into state: [row | col] or [v] */
    float *rms;             /* n_params: state["RMS"] */
    int64_t step;
    double eps1, eps2, clip_threshold, decay_rate, weight_decay; /* Python floats */
    /* scratch for one parameter: row means, then factors (R), column sums
     * per block of rows (blocks × C doubles), column factors (C), partial
     * sums of squares per block */
    float *rbuf, *cbuf;
    double *csum, *bsum, *psum;
    size_t max_blocks;
} adafactor;

/* Adafactor's state for params[0..n_params) as Trainer(optim="adafactor")
 * makes it: weight_decay on the decay group, 0 on biases and LayerNorm
 * weights (one_group: weight_decay everywhere). The table is borrowed.
 * Errors: MLM_ERR_INVALID_ARGUMENT for weight_decay < 0;
 * MLM_ERR_OUT_OF_MEMORY. */
mlm_status adafactor_init(adafactor *opt, const param_desc *params, size_t n_params,
                          double weight_decay, int one_group, int nthreads);
void adafactor_free(adafactor *opt);

/* One update at learning rate lr with g = grads[i]·gscale (a float product,
 * as after clip_grad_norm_; grads is not modified). Sums (means, norms) are
 * accumulated in double over fixed blocks of rows, so the result depends
 * neither on the thread count nor on the vector level. */
void adafactor_step(adafactor *opt, float *params, const float *grads, double lr, float gscale);

/* Whether parameter i has a factored second moment (≥ 2 dims), and its
 * state: rows and cols values at *row and *col, or numel values at *v. */
int adafactor_factored(const adafactor *opt, size_t i);

#endif
