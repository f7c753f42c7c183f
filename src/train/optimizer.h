/* The optimizer behind the Trainer, one of the kinds transformers'
 * TrainingArguments.optim names:
 *   adamw_torch  torch.optim.AdamW                          (train/adamw.h)
 *   adamw_hf     transformers.AdamW, the seed's optimizer   (train/adamw.h)
 *   adafactor    transformers.Adafactor as the Trainer makes it
 *                                                            (train/adafactor.h)
 * and what a checkpoint needs to hold each one's state in the layout of
 * torch's optimizer.state_dict() for it. Gradient clipping (the coefficient
 * folded into the update) and the learning-rate schedule (the lr passed to
 * each step) are the Trainer's and compose with every kind. */
#ifndef MLM_TRAIN_OPTIMIZER_H
#define MLM_TRAIN_OPTIMIZER_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "train/adafactor.h"
#include "train/adamw.h"
#include "train/param_groups.h"

typedef enum optim_kind { OPTIM_ADAMW_TORCH, OPTIM_ADAMW_HF, OPTIM_ADAFACTOR } optim_kind;

/* The valid names, for messages. */
#define OPTIM_NAMES "\"adamw_torch\", \"adamw_hf\" or \"adafactor\""

/* TrainingArguments' name of a kind. */
const char *optim_kind_name(optim_kind k);

/* The kind named `name`; 0, or -1 when it names none. */
int optim_kind_of(const char *name, optim_kind *out);

/* What the Trainer's arguments give every kind (each takes what it uses:
 * Adafactor only weight_decay). */
typedef struct optim_hparams {
    double beta1, beta2, eps;   /* adam_beta1, adam_beta2, adam_epsilon */
    double weight_decay;        /* on the decay group */
    int one_group;              /* one decayed group (a bare Optimizer(model.parameters())) */
} optim_hparams;

typedef struct optimizer {
    optim_kind kind;
    union {
        adamw adam;             /* OPTIM_ADAMW_TORCH, OPTIM_ADAMW_HF */
        adafactor af;           /* OPTIM_ADAFACTOR */
    } u;
} optimizer;

/* A zeroed optimizer of kind k over the table params[0..n_params)
 * (borrowed: it must outlive the optimizer). Errors: those of adamw_init,
 * adamw_hf_init (correct_bias True) or adafactor_init. */
mlm_status optimizer_init(optimizer *o, optim_kind k, const param_desc *params, size_t n_params,
                          const optim_hparams *h, int nthreads);
void optimizer_free(optimizer *o);

/* One update at lr, gradients scaled by gscale (the clip coefficient). */
void optimizer_step(optimizer *o, float *params, const float *grads, double lr, float gscale);

/* The layout and groups (for grad_global_norm). */
param_groups *optimizer_groups(optimizer *o);

/* Updates done (every parameter's `step`). */
int64_t optimizer_step_count(const optimizer *o);
void optimizer_set_step_count(optimizer *o, int64_t step);

/* One float tensor of a parameter's state, under torch's state key. */
typedef struct optim_state_tensor {
    const char *key;            /* "exp_avg", "exp_avg_sq_row", "RMS", ... */
    float *data;
    size_t ndim;                /* 0: a scalar (RMS) */
    uint64_t shape[2];
    size_t numel;
} optim_state_tensor;

/* The float state tensors of parameter i, in the order the kind creates
 * them (after `step`); returns their number (at most 3):
 *   adamw_torch, adamw_hf  exp_avg, exp_avg_sq          (the parameter's shape)
 *   adafactor              exp_avg_sq_row (rows), exp_avg_sq_col (cols), RMS
 *                          — or exp_avg_sq, RMS for a vector. */
size_t optimizer_state_tensors(optimizer *o, size_t i, optim_state_tensor out[3]);

/* Whether the kind's per-parameter `step` is a float32 tensor (torch's
 * AdamW) rather than a Python int (transformers' AdamW and Adafactor). */
int optimizer_step_is_float(const optimizer *o);

/* state_dict()["param_groups"] as torch holds it for this kind: one object
 * per group (the Trainer's decay group, then the no-decay one; or the one
 * group) with every key the kind's constructor sets to its value, the
 * learning-rate scheduler's "initial_lr" (when initial_lr >= 0) and "lr"
 * (the scheduler's current one), "params": the state indices, which
 * number the parameters group by group (torch's state_dict order), each
 * group's in table order, and "param_names": their names (as torch ≥ 2.6
 * records them for named parameters; the state tensors are stored under
 * these names). NULL when out of memory. */
cJSON *optimizer_param_groups(const optimizer *o, double lr, double initial_lr);

/* Checks a saved param_groups (as above) against this optimizer: the same
 * number of groups holding the same state indices. The message names what
 * differs. MLM_ERR_FORMAT. */
mlm_status optimizer_check_param_groups(const optimizer *o, const cJSON *groups);

#endif
