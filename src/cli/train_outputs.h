/* What run_mlm.py and transformers' Trainer leave in output_dir besides the
 * model: {split}_results.json and all_results.json (Trainer.save_metrics),
 * trainer_state.json (Trainer.save_state), the metrics printout
 * (Trainer.log_metrics). The trainer gives the metrics and the state
 * (mlm_trainer_*_json); these write them as Python's json module does. */
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

#endif
