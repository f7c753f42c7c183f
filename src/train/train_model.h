/* What the Trainer trains, whatever the model's family: a collated batch
 * in, the loss out, gradients accumulated in the layout of the model's
 * owned parameter buffer (model_owned), which is also the optimizer's.
 *
 * Each family has its own training code in nn/ (the encoder masked-LM
 * models in nn/encoder_train.h, T5 in nn/t5_train.h) with its own batch
 * struct; train_model.c turns an mlm_batch into it, so nothing above this
 * file asks which family a model is. The training context inside grows
 * with the largest batch seen (gradients carried over). */
#ifndef MLM_TRAIN_TRAIN_MODEL_H
#define MLM_TRAIN_TRAIN_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "mlm/collator.h"
#include "nn/grad_hook.h"
#include "nn/model_impl.h"

typedef struct train_model train_model;

/* A trainer's view of model m, which must own its parameters
 * (model_own_params). MLM_ERR_UNSUPPORTED for a family without training. */
mlm_status train_model_new(mlm_model *m, int nthreads, train_model **out);
void train_model_free(train_model *t); /* accepts NULL */

/* Forward of batch b (the collator's output; kept alive by the caller until
 * the backward), in train mode (dropout) or not. Dropout masks are a pure
 * function of (seed, step). *loss: mean cross-entropy over the labelled
 * tokens (NaN when none); *labelled: how many. */
mlm_status train_model_forward(train_model *t, const mlm_batch *b, int train_mode, uint64_t seed,
                               uint64_t step, float *loss, size_t *labelled);

/* torch.autocast("cpu", bfloat16) around the forwards that follow and
 * their backwards (on: products with bf16-rounded operands and fp32 sums,
 * ops_ctx.autocast_bf16; everything else, the parameters, the gradients
 * and the loss stay fp32). Off when made. */
void train_model_set_autocast_bf16(train_model *t, int on);

/* Backward of the last forward, adding dloss·∂loss/∂θ to the gradients. */
mlm_status train_model_backward(train_model *t, float dloss);

/* Whom the backwards that follow tell, layer by layer, which gradients are
 * final (nn/grad_hook.h); {NULL}: nobody. */
void train_model_set_grad_hook(train_model *t, grad_hook h);

/* Gradients to zero; they have model_numel() floats (NULL before the first
 * forward has made the context). */
void train_model_zero_grad(train_model *t);
float *train_model_grad(train_model *t);

/* Labelled tokens of the last forward whose logits' argmax is the label
 * (run_mlm.py's eval accuracy). MLM_ERR_UNSUPPORTED where the family keeps
 * no logits of its labelled tokens. */
mlm_status train_model_correct(const train_model *t, size_t *correct);

#endif
