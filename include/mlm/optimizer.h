/*
 * mlm/optimizer.h — a training loop written by hand, as the seed writes it
 * in PyTorch, for when mlm/trainer.h's Trainer is more than a host needs:
 *
 *     optimizer = AdamW(model.parameters(), lr=5e-5)
 *     model.train()
 *     for batch in dataloader:
 *         optimizer.zero_grad()
 *         loss = model(**batch).loss
 *         loss.backward()
 *         optimizer.step()
 *
 * becomes
 *
 *     mlm_optimizer *opt;
 *     mlm_optimizer_new(model, "adamw_hf", "{\"lr\": 5e-5}", &opt);
 *     for each batch b (mlm_collator_collate):
 *         mlm_optimizer_zero_grad(opt);
 *         mlm_optimizer_backward(opt, b, &loss);   // forward, loss, backward
 *         mlm_optimizer_step(opt);
 *     mlm_optimizer_free(opt);
 *
 * The optimizer holds the gradients (PyTorch keeps them in the
 * parameters' .grad): the model stays a plain mlm_model, which the
 * optimizer's steps change in place, and which mlm_model_save writes as
 * usual. The model must outlive the optimizer, and while an optimizer
 * trains it no other thread may use the model.
 *
 * Dropout: mlm_optimizer_backward runs the model in train mode (the seed's
 * model.train()), with the dropout probabilities of its config; the masks
 * come from libmlm's counter-based generator (the "seed" option and the
 * count of backward calls), not torch's random stream, so a loss with
 * dropout matches PyTorch's in distribution, not digit for digit.
 */
#ifndef MLM_OPTIMIZER_H
#define MLM_OPTIMIZER_H

#include "mlm/collator.h"
#include "mlm/core.h"
#include "mlm/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mlm_optimizer mlm_optimizer;

/* An optimizer over every parameter of model, one group (as
 * Optimizer(model.parameters(), ...) makes it). kind names the class:
 *   "adamw_hf"     transformers.AdamW (the seed's `from transformers import
 *                  AdamW`, removed in transformers 4.50): lr 1e-3,
 *                  betas [0.9, 0.999], eps 1e-6, weight_decay 0.0,
 *                  correct_bias true
 *   "adamw_torch"  torch.optim.AdamW: lr 1e-3, betas [0.9, 0.999],
 *                  eps 1e-8, weight_decay 0.01
 *   "adafactor"    transformers.Adafactor(scale_parameter=False,
 *                  relative_step=False, warmup_init=False, lr=...): lr is
 *                  required; weight_decay 0.0
 * options_json (NULL or "" for the defaults above) is a JSON object with
 * those keyword arguments ("lr", "betas", "eps", "weight_decay",
 * "correct_bias" where the class has them) and libmlm's:
 *   "seed"         dropout masks (default 42)
 *   "num_threads"  threads of the forward, backward and step (default 1)
 * An unknown key or kind, or a value out of range, is
 * MLM_ERR_INVALID_ARGUMENT naming it. The model's parameters are copied
 * out of a mapped checkpoint first (training writes them). */
MLM_API mlm_status mlm_optimizer_new(mlm_model *model, const char *kind, const char *options_json,
                                     mlm_optimizer **out);

/* Accepts NULL. */
MLM_API void mlm_optimizer_free(mlm_optimizer *opt);

/* optimizer.zero_grad(): every gradient to zero. */
MLM_API mlm_status mlm_optimizer_zero_grad(mlm_optimizer *opt);

/* outputs = model(**batch); outputs.loss.backward(): the model's forward in
 * train mode on a collated batch, *loss the mean cross-entropy over the
 * labelled tokens (labels != -100; NaN when there are none, as torch), and
 * its gradients ADDED to those held (so several calls accumulate). An
 * encoder masked-LM model takes a masking collator's batch; an
 * encoder-decoder a seq2seq collator's (decoder_input_ids, or the labels
 * shifted right when the batch has none). A batch of the wrong kind is
 * MLM_ERR_INVALID_ARGUMENT. */
MLM_API mlm_status mlm_optimizer_backward(mlm_optimizer *opt, const mlm_batch *batch,
                                          float *loss);

/* optimizer.step(): one update of every parameter from the gradients held
 * (no clipping, no schedule: the lr of the options). A non-finite gradient
 * is MLM_ERR_NUMERIC and changes nothing. */
MLM_API mlm_status mlm_optimizer_step(mlm_optimizer *opt);

/* Updates done so far. */
MLM_API int64_t mlm_optimizer_step_count(const mlm_optimizer *opt);

#ifdef __cplusplus
}
#endif

#endif /* MLM_OPTIMIZER_H */
