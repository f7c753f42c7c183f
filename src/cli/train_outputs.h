/* What run_mlm.py and transformers' Trainer leave in output_dir besides the
 * model: {split}_results.json and all_results.json (Trainer.save_metrics),
 * trainer_state.json (Trainer.save_state), the metrics printout
 * (Trainer.log_metrics), and total_flos as Trainer counts it. */
#ifndef MLM_CLI_TRAIN_OUTPUTS_H
#define MLM_CLI_TRAIN_OUTPUTS_H

#include <cJSON.h>
#include <mlm.h>

/* Trainer.save_metrics(split, metrics): output_dir/{split}_results.json,
 * then all_results.json updated with the same keys (keeping the keys an
 * earlier save left there). json.dump(indent=4, sort_keys=True). Returns 0,
 * or -1 after printing the error. */
int out_save_metrics(const char *dir, const char *split, const cJSON *metrics);

/* Trainer.log_metrics: "***** train metrics *****" and aligned lines. */
void out_log_metrics(const char *split, const cJSON *metrics);

/* Trainer.save_state(): dir/trainer_state.json, json.dumps(indent=2,
 * sort_keys=True) + "\n". Returns 0 or -1 after printing the error. */
int out_save_state(const char *dir, const cJSON *state);

/* HF's model.num_parameters(exclude_embeddings=True): the model's parameters
 * less its nn.Embedding weights, read from the names and shapes in
 * dir/model.safetensors (tied weights counted once, as torch's
 * named_parameters() does). -1 when the file cannot be read. */
long long out_non_embedding_params(const mlm_model *model, const char *dir);

/* The run's shape, for total_flos: how the trainer walks the train set. */
typedef struct flos_plan {
    long long rows, batch_size, accum, steps; /* steps: optimizer steps done */
    long long seq_len;                        /* every row's length */
    long long params;                         /* non-embedding parameters */
    long long logging_steps, save_steps;      /* save_steps 0: no step saves */
    int save_each_epoch;
} flos_plan;

/* Trainer's total_flos: 6 · input_ids.numel() · params summed over every
 * micro-batch, in floating point, folded into the total at each log, save
 * and at the end (store_flos), in the order Trainer adds them. */
double out_total_flos(const flos_plan *p);

#endif
