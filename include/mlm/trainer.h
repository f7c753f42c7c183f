/*
 * mlm/trainer.h — the training loop of transformers' Trainer, for masked
 * language modeling (encoder models) and, as Seq2SeqTrainer, for
 * sequence-to-sequence models (T5): AdamW (torch's or transformers') or
 * Adafactor with HF's parameter groups, the linear schedule with warmup,
 * gradient accumulation and clipping, evaluation (eval_loss and
 * perplexity; with predict_with_generate, generate() and
 * run_summarization.py's ROUGE), logging, and checkpoints in HF's layout
 * that resume bit-identically.
 *
 * A trainer works on a model (borrowed and modified in place), a collator
 * and a train dataset (and optionally an eval dataset), all borrowed: they
 * must outlive the trainer and must not be changed while it runs. The
 * datasets need an "input_ids" SEQUENCE column (what mlm_dataset_tokenize or
 * mlm_dataset_group_texts make); the collator makes the batches: a masking
 * collator (mlm_collator_new) for an encoder model, a seq2seq one
 * (mlm_collator_new_seq2seq, over a dataset with "labels") for an
 * encoder-decoder. A batch of the other kind is MLM_ERR_INVALID_ARGUMENT.
 *
 * Not thread-safe: one thread at a time per trainer.
 *
 * The options are documented at mlm_trainer_set, what is printed at
 * mlm_trainer_set_callback, what a run does, the checkpoint layout and crash
 * safety at mlm_trainer_train.
 */
#ifndef MLM_TRAINER_H
#define MLM_TRAINER_H

#include "mlm/collator.h"
#include "mlm/core.h"
#include "mlm/dataset.h"
#include "mlm/model.h"
#include "mlm/tokenizer.h"

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

/* Data-parallel training in a host application that runs MPI itself: the
 * trainer's processes are those of the communicator *comm points to (an
 * MPI_Comm, passed by address so that this header needs no mpi.h; the
 * trainer works on its own duplicate). MPI must be initialised by the host
 * (MPI_THREAD_SERIALIZED or better when other threads call MPI too), and
 * every process of comm must train with the same options and datasets.
 * Before train or evaluate (MLM_ERR_STATE after); MLM_ERR_UNSUPPORTED in a
 * libmlm built without MPI. Without it, the trainer option ddp_backend
 * decides (MPI_COMM_WORLD under mpirun). */
MLM_API mlm_status mlm_trainer_set_mpi_comm(mlm_trainer *tr, const void *comm);

/* This process's index and the number of processes of the run
 * (TrainingArguments.process_index and world_size; 0 and 1 alone): the
 * processes are set up now if they were not (ddp_backend), so a program
 * can tell whether it is the world process zero, the one that prints and
 * saves, before it trains. Either pointer may be NULL. */
MLM_API mlm_status mlm_trainer_world(mlm_trainer *tr, int *process_index, int *world_size);

/*
 * Options. Their names are HF TrainingArguments names, set as strings with
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
 *   optim                        "adamw_torch" | "adamw_hf" | "adafactor"
 *                                                            ("adamw_torch")
 *                                the optimizer, as TrainingArguments.optim
 *                                names it: torch.optim.AdamW (betas, eps
 *                                from adam_*); transformers.AdamW, the
 *                                seed's `from transformers import AdamW`
 *                                (removed in transformers 4.50; its own
 *                                defaults were eps 1e-6, weight_decay 0: set
 *                                adam_epsilon 1e-6 to reproduce the seed; its
 *                                arithmetic differs from torch's: both bias
 *                                corrections in the step size, eps added to
 *                                √v, the decay after the update); or
 *                                transformers.Adafactor as the Trainer makes
 *                                it (lr from learning_rate, scale_parameter
 *                                and relative_step false, its other
 *                                defaults: eps (1e-30, 1e-3), clip_threshold
 *                                1, decay_rate -0.8, no first moment; the
 *                                adam_* options do not apply). Every kind
 *                                decays (weight_decay) all parameters but
 *                                biases and LayerNorm weights, and composes
 *                                with max_grad_norm and the schedule. Any
 *                                other name: MLM_ERR_INVALID_ARGUMENT listing
 *                                the valid ones.
 *   logging_steps                >= 1                              (500)
 *   save_strategy                "no" | "steps" | "epoch"          ("steps")
 *   save_steps                   >= 1                              (500)
 *   save_total_limit             >= 1, or null: keep all           (null)
 *   seed                         >= 0: shuffling and dropout       (42)
 *   bf16                         true | false                      (false)
 *                                mixed precision as the Trainer's bf16=True
 *                                runs it on a CPU (torch.autocast("cpu",
 *                                torch.bfloat16) around the loss of every
 *                                training step and every evaluation or
 *                                prediction batch): matrix products (linear,
 *                                mm, bmm: attention and the LM head too)
 *                                take bf16-rounded operands with fp32
 *                                accumulation; embeddings, LayerNorm/RMS
 *                                norm, softmax, activations, the loss, the
 *                                parameters, gradients and optimizer state
 *                                stay fp32. Unlike autocast the products'
 *                                outputs are not rounded to bf16 (slightly
 *                                more accurate, never less). Generation
 *                                (predict_with_generate) stays fp32, as
 *                                Seq2SeqTrainer calls generate outside
 *                                autocast. Saved in training_args.json; a
 *                                resumed run must set it as the first did
 *                                for the same results. The same floats on
 *                                every CPU (AVX512-BF16 or not), any
 *                                num_threads. Anything but a boolean (or
 *                                its string spellings): MLM_ERR_INVALID_ARGUMENT
 *   resume_from_checkpoint       a checkpoint folder, or null      (null)
 *   disable_tqdm                 true | false | null (see mlm_trainer_set_callback)  (null)
 *   num_threads                  >= 1 (libmlm's; HF has none)      (1)
 *   compute_accuracy             true | false                      (false)
 *                                libmlm's stand-in for run_mlm.py's
 *                                compute_metrics (HF passes a function to
 *                                Trainer, not an argument): evaluations
 *                                also measure eval_accuracy, the share of
 *                                labelled tokens (label != -100) whose
 *                                logits' argmax is the label (torch.argmax:
 *                                the first index on ties), pooled over the
 *                                whole eval set (correct / labelled, every
 *                                batch together), as run_mlm.py's
 *                                preprocess_logits_for_metrics + "accuracy"
 *                                metric compute it
 *   ddp_backend                  null | "mpi" | "none"             (null)
 *                                data-parallel training over several
 *                                processes (docs/distributed.md), as
 *                                transformers' Trainer under torch DDP:
 *                                null finds them as HF does, from the
 *                                launcher (mpirun's environment: several
 *                                processes there mean MPI, else the single
 *                                process); "mpi" uses MPI_COMM_WORLD even
 *                                for one process; "none" trains alone
 *                                whatever launched it. A libmlm built
 *                                without MPI refuses "mpi", and refuses to
 *                                start as one of several mpirun processes
 *                                (MLM_ERR_UNSUPPORTED). Per rank:
 *                                per_device_train_batch_size rows, this
 *                                rank's share of each epoch's order
 *                                (DistributedSampler: padded by repetition
 *                                to a multiple of the world, rank r taking
 *                                every world-th row from r); steps,
 *                                epochs, the schedule and the logs count
 *                                global steps; the gradients are averaged
 *                                in buckets during backward; the logged
 *                                loss is the ranks' mean; evaluation is
 *                                shared (batch k on rank k mod world) and
 *                                its eval_loss is the single process's to
 *                                the bit; every rank keeps the same
 *                                parameters (checked at each save) and
 *                                history; rank 0 alone prints and writes
 *                                checkpoints (with every rank's
 *                                rng_state_{r}.json). A failure on one rank
 *                                ends the run on all of them at the same
 *                                step (MLM_ERR_CANCELLED on the others). Set
 *                                before anything that asks for the
 *                                processes (mlm_trainer_world, train,
 *                                evaluate), else MLM_ERR_STATE
 *   ddp_bucket_cap_mb            >= 1, or null: 25 (torch DDP's)   (null)
 *                                the size of a gradient bucket (the first
 *                                one is 1 MB, as DDP's)
 * Seq2SeqTrainingArguments' additions, for encoder-decoder models only
 * (MLM_ERR_INVALID_ARGUMENT on an encoder model):
 *   predict_with_generate        true | false                      (false)
 *                                evaluations also generate from each eval
 *                                batch's inputs and score the decoded texts
 *                                against the decoded labels as
 *                                run_summarization.py's compute_metrics:
 *                                eval_rouge1, eval_rouge2, eval_rougeL,
 *                                eval_rougeLsum (F x 100 rounded to 4
 *                                places, with the stemmer) and eval_gen_len
 *                                (the mean count of non-pad ids of the
 *                                generated rows). Needs the tokenizer
 *                                (mlm_trainer_set_tokenizer). Two
 *                                differences: no Punkt sentence splitting
 *                                (rougeLsum scores each text as one
 *                                sentence; nltk's punkt model is not in
 *                                Debian), and the plain mean over the pairs
 *                                where evaluate reports a bootstrap mid
 *   generation_max_length        >= 1, or null: the model's        (null)
 *   generation_num_beams         >= 1, or null: the model's        (null)
 *                                the max_length and num_beams of those
 *                                generations (Seq2SeqTrainer's gen_kwargs)
 *   generation_config            a generation_config.json or its folder,
 *                                or null                           (null)
 *                                its members over the model's generation
 *                                defaults
 * A seq2seq trainer's log records of evaluations carry those metrics and
 * no perplexity (run_mlm.py's addition).
 * Booleans take transformers' spellings in any case (true/false, yes/no,
 * t/f, y/n, 1/0) as text, and true/false in JSON. Anything else — an
 * unknown name, a value of the wrong kind or out of range — is
 * MLM_ERR_INVALID_ARGUMENT naming the option; the setting is then
 * unchanged.
 *
 * mlm_trainer_set sets one option by name; value is its text: "2e-5",
 * "epoch", "null". */
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

/* transformers' TrainerState as it stands, as a JSON object: what
 * trainer.save_state() writes to trainer_state.json (json.dumps with
 * sort_keys gives transformers' file): epoch, global_step, max_steps,
 * num_train_epochs, logging/eval/save_steps, train_batch_size, total_flos,
 * log_history, stateful_callbacks (TrainerControl as the last checkpoint
 * recorded it, or as it starts), and the fields libmlm leaves at their
 * defaults (best_metric..., trial_*, num_input_tokens_seen 0). Before
 * training, max_steps, num_train_epochs and train_batch_size already give
 * the run's plan for the current options and train set (HF's "Total
 * optimization steps"). total_flos is HF's estimate, 6 · input ids
 * (padding included) · non-embedding parameters, summed per micro-batch and
 * folded into the total at each log, checkpoint and the end as Trainer's
 * store_flos does. Two-call sizing as mlm_trainer_args_json. */
MLM_API mlm_status mlm_trainer_state_json(const mlm_trainer *tr, char *buf, size_t cap,
                                          size_t *needed);

/* train_result.metrics of the run mlm_trainer_train finished, as a JSON
 * object: train_runtime (seconds, 4 decimals; the run's loop, without the
 * final save), train_samples_per_second and train_steps_per_second (3
 * decimals; samples = max_steps · batch size · accumulation when max_steps
 * is set, else rows · num_train_epochs; steps = max_steps), total_flos,
 * train_loss and epoch. The last log record of the run holds the same keys
 * and "step". MLM_ERR_STATE before a run has finished. Two-call sizing as
 * mlm_trainer_args_json. */
MLM_API mlm_status mlm_trainer_train_metrics_json(const mlm_trainer *tr, char *buf, size_t cap,
                                                  size_t *needed);

/*
 * Output. A log callback (mlm_trainer_set_callback) receives every record.
 * Apart from it, as transformers shows its ProgressCallback whatever other
 * callbacks are registered, stderr gets
 *   - a progress bar, as transformers' ProgressCallback shows it with
 *     tqdm: one line redrawn in place with carriage returns (no escape
 *     sequences), " 38%|███▊      | 150/400 [00:12<00:20, 12.30it/s,
 *     loss=2.35]" (tqdm's format_meter with the loss as its postfix), as
 *     wide as the terminal (a 10-cell bar when the width is unknown; cut to
 *     the width when even a 1-cell bar does not fit); tqdm's ASCII cells
 *     " 123456789#" when LC_ALL / LC_CTYPE / LANG names a charset other
 *     than UTF-8;
 *     redrawn after a step when 0.1 s passed since the last draw; the rate
 *     is tqdm's smoothed one (average over the run at the end); ETA =
 *     steps left / rate; loss is the last step's. The bar starts at the
 *     resumed step and counts rates from there (tqdm's `initial`). Each
 *     log record is written above the bar as transformers prints it, a
 *     Python dict without "step" and with the epoch rounded to 2 decimals:
 *     {'loss': 2.3456, 'grad_norm': 1.2, 'learning_rate': 4.5e-05,
 *     'epoch': 0.5} (on stderr with the bar; tqdm.write puts them on
 *     stdout), after the callback got it (transformers calls the user's
 *     callbacks first), the bar's line blanked during the call so that
 *     what the callback prints to the same terminal starts a clean line.
 *     The bar ends with a newline when the run ends, even on an error.
 *     While the run evaluates, a second bar counts the eval batches
 *     (ProgressCallback's prediction bar: no postfix, made after the first
 *     batch), on a terminal only; it takes the training bar's line (no
 *     escape sequences: tqdm would draw it on the line below) and is
 *     cleared when the evaluation ends, and the training bar is drawn
 *     again. mlm_trainer_evaluate outside a run shows that bar too, and
 *     leaves it on the screen with a newline (transformers' leave=True when
 *     no training bar is open);
 *   - or, when there is no callback and no bar, JSON lines, one per record:
 *     {"loss":2.3456,...,"step":150}.
 * disable_tqdm null (the default; transformers decides from its logging
 * level) draws the bars when stderr is a terminal; false always draws the
 * training bar (on a file: carriage-return separated redraws, as tqdm
 * writes them); true never draws them. So with a callback and stderr not a
 * terminal (disable_tqdm not false), the library prints nothing; without a
 * callback and without a bar, it writes JSON lines.
 *
 * mlm_trainer_set_callback sets where log records go: fn receives every
 * record; the progress bar, when shown, still shows them above it on
 * stderr. fn NULL (the default): stderr only, as a progress bar or JSON
 * lines. */
MLM_API void mlm_trainer_set_callback(mlm_trainer *tr, mlm_trainer_log_fn fn, void *user);

/* The tokenizer whose files go into every checkpoint and into output_dir at
 * the end (HF's Trainer(processing_class=tokenizer)). Borrowed: it must
 * outlive the trainer and not change while it runs. NULL (the default): no
 * tokenizer files. MLM_ERR_STATE once training has started. */
MLM_API mlm_status mlm_trainer_set_tokenizer(mlm_trainer *tr, const mlm_tokenizer *tok);

/* transformers' Trainer.save_state(): output_dir/trainer_state.json, the
 * state of mlm_trainer_state_json as json.dumps(indent=2, sort_keys=True)
 * writes it, plus a newline (TrainerState's int fields as ints). Written
 * whole or not at all; output_dir must exist (MLM_ERR_IO naming the path
 * otherwise). In a data-parallel run only the world process zero writes;
 * the others return MLM_OK, as HF's. */
MLM_API mlm_status mlm_trainer_save_state(const mlm_trainer *tr);

/* transformers' Trainer.save_metrics(split, metrics): metrics_json (a JSON
 * object, e.g. mlm_trainer_train_metrics_json's with the script's
 * additions) into output_dir/{split}_results.json, and merged into
 * output_dir/all_results.json (keeping the keys an earlier call left there),
 * both as json.dump(indent=4, sort_keys=True) writes them; numbers are
 * floats except the keys ending in "_samples" (run_mlm.py's train_samples,
 * eval_samples), which are ints. metrics_json that is not JSON is
 * MLM_ERR_FORMAT (naming the byte), not an object MLM_ERR_INVALID_ARGUMENT;
 * an all_results.json that is not a JSON object is MLM_ERR_FORMAT naming
 * it; in each case nothing is written. In a data-parallel run only the
 * world process zero writes (the others return MLM_OK), as HF's. */
MLM_API mlm_status mlm_trainer_save_metrics(const mlm_trainer *tr, const char *split,
                                            const char *metrics_json);

/* transformers' Trainer.log_metrics(split, metrics) as text: "***** train
 * metrics *****" and a line per metric by name, "  name = value" aligned as
 * it prints them (metrics_format: *_runtime as h:mm:ss.cc, total_flos in
 * GF, "_samples" counts as ints, other numbers rounded to 4 decimals).
 * Two-call sizing as mlm_trainer_args_json. Thread-safe. */
MLM_API mlm_status mlm_trainer_format_metrics(const char *split, const char *metrics_json,
                                              char *buf, size_t cap, size_t *needed);

/*
 * Training. What a run does, as HF's Trainer (single process):
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
 *   - clip_grad_norm_(max_grad_norm), then the optimizer (optim; no weight
 *     decay on biases and LayerNorm weights) at lr ·
 *     get_linear_schedule_with_warmup;
 *   - every logging_steps steps a log record {"loss", "grad_norm",
 *     "learning_rate", "epoch", "step"} (loss: the mean step loss since the
 *     last record; learning_rate: the one the next step will use, as HF logs
 *     it after the scheduler steps); when evaluating, {"eval_loss",
 *     "eval_accuracy" (with compute_accuracy), "perplexity", "epoch",
 *     "step"} (eval_accuracy after eval_loss, where transformers'
 *     evaluation_loop puts a compute_metrics key); at the end the run's
 *     metrics (mlm_trainer_train_metrics_json) and "step", as Trainer logs
 *     them; all of them are appended to the log_history;
 *   - checkpoints every save_steps steps (or at each epoch's end), and at
 *     the last step whenever save_strategy is not "no" (as recent
 *     transformers' DefaultFlowCallback does): output_dir/checkpoint-N/ with
 *       config.json, model.safetensors    the model (HF's names);
 *       tokenizer.json, tokenizer_config.json, special_tokens_map.json
 *                                         when a tokenizer was given
 *                                         (mlm_trainer_set_tokenizer), as a
 *                                         fast tokenizer's save_pretrained
 *                                         writes them (tokenizer_class
 *                                         PreTrainedTokenizerFast, so HF
 *                                         takes tokenizer.json as it is);
 *       optimizer.safetensors             the optimizer's state_dict()
 *                                         (HF: optimizer.pt): per parameter
 *                                         its state under "<parameter>.<key>"
 *                                         — step, exp_avg, exp_avg_sq for
 *                                         both AdamWs; step, exp_avg_sq_row
 *                                         and exp_avg_sq_col (matrices) or
 *                                         exp_avg_sq (vectors), RMS for
 *                                         Adafactor; step a float32 scalar
 *                                         for adamw_torch, an int64 one for
 *                                         the others, as torch keeps them —
 *                                         and in the metadata "optim" (the
 *                                         kind), "step" and "param_groups"
 *                                         (JSON: both groups with every key
 *                                         the optimizer sets, the
 *                                         scheduler's lr and initial_lr, the
 *                                         state indices and param_names).
 *                                         tests/reference/optim_reference.py
 *                                         check-checkpoint loads it into the
 *                                         torch optimizer. Resuming with
 *                                         another optim than the
 *                                         checkpoint's is MLM_ERR_INVALID_
 *                                         ARGUMENT naming both;
 *       scheduler.json                    the linear schedule's state;
 *       rng_state.json                    what replaces HF's generator
 *                                         states: randomness here is a pure
 *                                         function of (seed, position), so
 *                                         it holds the generator
 *                                         ("philox4x32-10"), seed,
 *                                         global_step, micro_batch (the
 *                                         batch index of the next
 *                                         micro-batch), micro_batches_per_
 *                                         epoch, and the streams' layout;
 *       trainer_state.json                every TrainerState field
 *                                         (best_metric, best_model_
 *                                         checkpoint and trial_* null,
 *                                         num_input_tokens_seen 0 as HF
 *                                         without include_num_input_tokens_
 *                                         seen; total_flos HF's estimate
 *                                         6 · input ids incl. padding ·
 *                                         non-embedding parameters;
 *                                         stateful_callbacks with
 *                                         TrainerControl and "LibmlmTrainer",
 *                                         the loss sums a resume needs);
 *       training_args.json                every option (mlm_trainer_args_json).
 *     save_total_limit removes the oldest;
 *   - at the end the model (config.json, model.safetensors), the tokenizer
 *     files and training_args.json are saved in output_dir (what
 *     trainer.save_model() writes; HF leaves the call to the user).
 *
 * Crash safety. A checkpoint is written whole in output_dir/tmp-checkpoint-N
 * and renamed to checkpoint-N, so a folder named checkpoint-N is always
 * whole, and a temporary one never matches the checkpoint-N name that
 * transformers' get_last_checkpoint and mlm_trainer_last_checkpoint look
 * for. The final save is written in output_dir/tmp-save first and its files
 * renamed over the old ones only once all are written, so a failed final
 * save (MLM_ERR_IO naming the path) leaves the files of an earlier run
 * intact. What a killed run leaves (tmp-checkpoint-N, tmp-save, or an
 * old-checkpoint-N moved aside while a checkpoint of the same step was being
 * replaced) is cleared when the next run on that output_dir starts
 * (old-checkpoint-N goes back to checkpoint-N when that is missing).
 * mlm_trainer_train creates output_dir first, so an output_dir that cannot
 * be created fails before any training. A loss or gradient norm that is not
 * finite stops the run with MLM_ERR_NUMERIC naming the step; nothing more
 * is written, so the last checkpoint stays as it was (the model in memory
 * holds the failed state).
 *
 * mlm_trainer_train trains from the start, or from resume_from_checkpoint
 * when it is set. May be called once per trainer. */
MLM_API mlm_status mlm_trainer_train(mlm_trainer *tr);

/* Continue from a checkpoint folder written by a trainer with the same
 * datasets, collator and options (the model's parameters, the optimizer, the
 * step, the log history and the loss sums are restored): the result is bit
 * for bit that of a run that was never interrupted. rng_state.json is
 * checked against this run: a different seed, or a step that does not fall
 * on the same micro-batch (another batch size, accumulation or train set),
 * is MLM_ERR_INVALID_ARGUMENT naming the file and field (set seed to the
 * checkpoint's to continue its run). The collator is not recorded: its
 * options, seed included, must be the same. MLM_ERR_NOT_FOUND /
 * MLM_ERR_FORMAT name a missing or malformed file (rng_state.json
 * included); a checkpoint of another model shape is MLM_ERR_FORMAT. */
MLM_API mlm_status mlm_trainer_resume(mlm_trainer *tr, const char *checkpoint_dir);

/* Loss over the eval dataset in eval mode (no dropout), as HF's
 * evaluation_loop: the mean over rows of their batch's mean loss (batches of
 * per_device_eval_batch_size rows in order, masks from batch indices fixed
 * apart from training's, so the result is deterministic). Batches with no
 * masked token are left out (torch would give NaN). perplexity =
 * exp(eval_loss), infinity on overflow. Either pointer may be NULL. With
 * compute_accuracy it also measures eval_accuracy (see the option; read it
 * with mlm_trainer_last_eval_accuracy). On a terminal a bar counts the
 * batches (see mlm_trainer_set_callback). MLM_ERR_STATE without an eval dataset. */
MLM_API mlm_status mlm_trainer_evaluate(mlm_trainer *tr, double *eval_loss, double *perplexity);

/* eval_accuracy of the last evaluation (mlm_trainer_evaluate, or the last
 * one mlm_trainer_train ran), in [0, 1]: correct / labelled tokens. NaN
 * when it was not computed: compute_accuracy off, no evaluation yet, the
 * last one failed, or it had no labelled token (tr NULL too). */
MLM_API double mlm_trainer_last_eval_accuracy(const mlm_trainer *tr);

/* trainer.evaluate()'s metrics of the last evaluation (mlm_trainer_evaluate,
 * or the last one mlm_trainer_train ran), as a JSON object: eval_loss,
 * eval_accuracy (with compute_accuracy), eval_runtime, eval_samples_per_second
 * and eval_steps_per_second (HF's speed_metrics: rows of the eval set, its
 * batches), and epoch once this trainer has trained (Trainer.log adds the
 * state's epoch when there is one). MLM_ERR_STATE before an evaluation has
 * finished. Two-call sizing as mlm_trainer_args_json. */
MLM_API mlm_status mlm_trainer_eval_metrics_json(const mlm_trainer *tr, char *buf, size_t cap,
                                                 size_t *needed);

/* What mlm_trainer_predict returns (transformers' PredictionOutput): the
 * metrics and, with predict_with_generate, the generated ids of every row. */
typedef struct mlm_prediction mlm_prediction;

/* transformers' trainer.predict(test_dataset, metric_key_prefix=prefix)
 * (Seq2SeqTrainer's on an encoder-decoder): the evaluation loop of
 * mlm_trainer_evaluate — batches of per_device_eval_batch_size rows in
 * order, eval mode, the same loss, accuracy and generation — over `test`
 * (borrowed, only during the call: a dataset of the trainer's kind, with
 * labels) instead of the eval dataset, with every key under the prefix
 * (NULL: HF's default "test"): {prefix}_loss, {prefix}_accuracy (with
 * compute_accuracy), with predict_with_generate on an encoder-decoder
 * {prefix}_rouge1, _rouge2, _rougeL, _rougeLsum and _gen_len (as
 * run_summarization.py's compute_metrics: see mlm_trainer_evaluate), then
 * {prefix}_runtime, _samples_per_second and _steps_per_second (HF's
 * speed_metrics: the rows of test, its batches). No "epoch" (predict does
 * not log), nothing appended to the log history, the trainer's last eval
 * metrics unchanged. On a terminal a bar counts the batches, as for
 * evaluate. The prefix is at most 200 bytes of [A-Za-z0-9_]. Errors:
 * MLM_ERR_INVALID_ARGUMENT for a NULL or empty dataset or a bad prefix,
 * MLM_ERR_STATE for predict_with_generate without a tokenizer, and those
 * of the collator, the forward and generate (prefixed "predict: "). On
 * failure *out is NULL. */
MLM_API mlm_status mlm_trainer_predict(mlm_trainer *tr, const mlm_dataset *test,
                                       const char *metric_key_prefix, mlm_prediction **out);

/* Accepts NULL. */
MLM_API void mlm_prediction_free(mlm_prediction *p);

/* PredictionOutput.metrics as a JSON object (the keys above). Two-call
 * sizing as mlm_trainer_args_json. */
MLM_API mlm_status mlm_prediction_metrics_json(const mlm_prediction *p, char *buf, size_t cap,
                                               size_t *needed);

/* Rows with generated ids: the test set's rows with predict_with_generate on
 * an encoder-decoder, else 0 (libmlm keeps no logits: HF's predictions are
 * then the logits). */
MLM_API size_t mlm_prediction_num_rows(const mlm_prediction *p);

/* Row i of the predictions, in the test set's order: the first sequence
 * generate returned for that row (decoder start token first, padded to the
 * longest of its batch with the generation's pad, as
 * mlm_generation_sequences), owned by p; *len its length. NULL (and *len 0)
 * when i is out of range. HF's PredictionOutput.predictions pads those rows
 * further, to the generation config's max_length with the tokenizer's pad
 * and across batches with -100: ids that decoding with skip_special_tokens
 * (after -100 is replaced by the pad, as run_summarization.py does) drops,
 * so generated_predictions.txt is the same. */
MLM_API const int32_t *mlm_prediction_ids(const mlm_prediction *p, size_t i, size_t *len);

/* The checkpoint-N folder with the largest N in output_dir (transformers'
 * get_last_checkpoint: folders named exactly checkpoint-<digits>, so never a
 * temporary one), as "output_dir/checkpoint-N". Two-call sizing as
 * mlm_trainer_args_json. MLM_ERR_NOT_FOUND when there is none (or no
 * output_dir). Thread-safe. */
MLM_API mlm_status mlm_trainer_last_checkpoint(const char *output_dir, char *buf, size_t cap,
                                               size_t *needed);

/* Optimizer steps done so far. */
MLM_API int64_t mlm_trainer_global_step(const mlm_trainer *tr);

#ifdef __cplusplus
}
#endif

#endif /* MLM_TRAINER_H */
