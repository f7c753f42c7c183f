/*
 * mlm/trainer.h — the training loop of transformers' Trainer for masked
 * language modeling: AdamW with HF's parameter groups, the linear schedule
 * with warmup, gradient accumulation and clipping, evaluation (eval_loss and
 * perplexity), logging, and checkpoints in HF's layout that resume
 * bit-identically.
 *
 * A trainer works on a model (borrowed and modified in place), a collator
 * and a train dataset (and optionally an eval dataset), all borrowed: they
 * must outlive the trainer and must not be changed while it runs. The
 * datasets need an "input_ids" SEQUENCE column (what mlm_dataset_tokenize or
 * mlm_dataset_group_texts make); the collator makes the batches.
 *
 * Options are HF TrainingArguments names, set as strings with
 * mlm_trainer_set or as one JSON object with mlm_trainer_set_json:
 *   output_dir                   "trainer_output" (HF's default)
 *   eval_strategy                "no" | "steps" | "epoch"          ("no")
 *   eval_steps                   integer >= 1, or null: logging_steps (null)
 *   learning_rate                >= 0                              (5e-5)
 *   num_train_epochs             > 0, may be fractional            (3)
 *   max_steps                    -1 (use epochs) or >= 1           (-1)
 *   per_device_train_batch_size  >= 1                              (8)
 *   per_device_eval_batch_size   >= 1                              (8)
 *   gradient_accumulation_steps  >= 1                              (1)
 *   weight_decay                 >= 0                              (0)
 *   warmup_steps                 >= 0; wins over warmup_ratio      (0)
 *   warmup_ratio                 in [0, 1]: ceil(ratio · total)    (0)
 *   max_grad_norm                >= 0; 0 disables clipping         (1.0)
 *   adam_beta1, adam_beta2       in [0, 1)                (0.9, 0.999)
 *   adam_epsilon                 >= 0                              (1e-8)
 *   logging_steps                >= 1                              (500)
 *   save_strategy                "no" | "steps" | "epoch"          ("steps")
 *   save_steps                   >= 1                              (500)
 *   save_total_limit             >= 1, or null: keep all           (null)
 *   seed                         >= 0: shuffling and dropout       (42)
 *   resume_from_checkpoint       a checkpoint folder, or null      (null)
 *   num_threads                  >= 1 (libmlm's; HF has none)      (1)
 * Anything else — an unknown name, a value of the wrong kind or out of
 * range — is MLM_ERR_INVALID_ARGUMENT naming the option; the setting is
 * then unchanged.
 *
 * What a run does, as HF's Trainer (single process):
 *   - each epoch visits the train set in a permutation that is a pure
 *     function of (seed, epoch) (HF's RandomSampler draws from torch's
 *     generator: same distribution, not the same order);
 *   - batches come from mlm_collator_collate with batch_index = the number
 *     of micro-batches before it in the run, so a resumed run sees the same
 *     masks; dropout masks are a pure function of (seed, that index);
 *   - an optimizer step every gradient_accumulation_steps micro-batches
 *     (and at an epoch's end with what is left), each micro-batch's loss
 *     divided by the micro-batches in its step; updates per epoch =
 *     ceil(batches / accumulation); total steps = max_steps when set, else
 *     ceil(num_train_epochs · updates per epoch);
 *   - clip_grad_norm_(max_grad_norm), then AdamW (no weight decay on biases
 *     and LayerNorm weights) at lr · get_linear_schedule_with_warmup;
 *   - every logging_steps steps a log record {"loss", "grad_norm",
 *     "learning_rate", "epoch", "step"} (loss: the mean step loss since the
 *     last record; learning_rate: the one the next step will use, as HF logs
 *     it after the scheduler steps); when evaluating, {"eval_loss",
 *     "perplexity", "epoch", "step"}; at the end {"train_loss", "epoch",
 *     "step"}; all of them are appended to the checkpoint's log_history;
 *   - checkpoints: output_dir/checkpoint-N/ with config.json and
 *     model.safetensors (HF's names), optimizer.safetensors (exp_avg and
 *     exp_avg_sq per parameter, named "<parameter>.exp_avg", and the step in
 *     the metadata), scheduler.json, trainer_state.json and
 *     training_args.json. Each is written in a temporary folder renamed into
 *     place, so a crash leaves the previous checkpoints whole;
 *     save_total_limit removes the oldest;
 *   - at the end the model is saved in output_dir (config.json and
 *     model.safetensors; HF leaves this to trainer.save_model()).
 * A loss or gradient norm that is not finite stops the run with
 * MLM_ERR_NUMERIC naming the step; nothing more is written, so the last
 * checkpoint stays as it was (the model in memory holds the failed state).
 *
 * Not thread-safe: one thread at a time per trainer.
 */
#ifndef MLM_TRAINER_H
#define MLM_TRAINER_H

#include "mlm/collator.h"
#include "mlm/core.h"
#include "mlm/dataset.h"
#include "mlm/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mlm_trainer mlm_trainer;

/* A log record as one line of JSON (no newline), valid during the call.
 * Return 0 to go on, anything else to stop the run: mlm_trainer_train then
 * returns MLM_ERR_CANCELLED (after the checkpoint due at that step, if any,
 * was written). */
typedef int (*mlm_trainer_log_fn)(const char *record_json, void *user);

/* A trainer over model, collator and train (eval may be NULL: no
 * evaluation). Everything is borrowed. The model is made to own its
 * parameters (a mapped checkpoint is copied). On failure *out is NULL. */
MLM_API mlm_status mlm_trainer_new(mlm_model *model, const mlm_collator *collator,
                                   const mlm_dataset *train, const mlm_dataset *eval,
                                   mlm_trainer **out);

/* Accepts NULL. */
MLM_API void mlm_trainer_free(mlm_trainer *tr);

/* One option by name (see above); value is its text: "2e-5", "epoch",
 * "null". */
MLM_API mlm_status mlm_trainer_set(mlm_trainer *tr, const char *name, const char *value);

/* Several options as a JSON object: {"learning_rate": 2e-5, "eval_strategy":
 * "epoch", "save_total_limit": null}. Applied in order; the first bad one
 * stops it (those before it stay set). */
MLM_API mlm_status mlm_trainer_set_json(mlm_trainer *tr, const char *json);

/* Every option and its value as a JSON object (what training_args.json
 * holds). Two-call sizing: writes at most cap bytes including the NUL into
 * buf (NULL when cap is 0) and sets *needed to the full length + 1. */
MLM_API mlm_status mlm_trainer_args_json(const mlm_trainer *tr, char *buf, size_t cap,
                                         size_t *needed);

/* Where log records go. fn NULL (the default): one JSON line per record on
 * stderr. */
MLM_API void mlm_trainer_set_callback(mlm_trainer *tr, mlm_trainer_log_fn fn, void *user);

/* Train from the start, or from resume_from_checkpoint when it is set.
 * May be called once per trainer. */
MLM_API mlm_status mlm_trainer_train(mlm_trainer *tr);

/* Continue from a checkpoint folder written by a trainer with the same
 * datasets, collator and options (the model's parameters, the optimizer, the
 * step and the log history are restored): the result is bit for bit that of
 * a run that was never interrupted. MLM_ERR_NOT_FOUND / MLM_ERR_FORMAT name
 * a missing or malformed file; a checkpoint of another model shape is
 * MLM_ERR_FORMAT. */
MLM_API mlm_status mlm_trainer_resume(mlm_trainer *tr, const char *checkpoint_dir);

/* Loss over the eval dataset in eval mode (no dropout), as HF's
 * evaluation_loop: the mean over rows of their batch's mean loss (batches of
 * per_device_eval_batch_size rows in order, masks from batch indices fixed
 * apart from training's, so the result is deterministic). Batches with no
 * masked token are left out (torch would give NaN). perplexity =
 * exp(eval_loss), infinity on overflow. Either pointer may be NULL.
 * MLM_ERR_STATE without an eval dataset. */
MLM_API mlm_status mlm_trainer_evaluate(mlm_trainer *tr, double *eval_loss, double *perplexity);

/* Optimizer steps done so far. */
MLM_API int64_t mlm_trainer_global_step(const mlm_trainer *tr);

#ifdef __cplusplus
}
#endif

#endif /* MLM_TRAINER_H */
