/* Checkpoints in transformers' layout, the final save, and resuming.
 *
 * output_dir/checkpoint-N/ is written whole in output_dir/tmp-checkpoint-N/
 * and renamed into place, so a folder named checkpoint-N is always whole
 * (the name transformers' get_last_checkpoint looks for: a temporary folder
 * is never taken for a checkpoint). The final save goes through
 * output_dir/tmp-save/ the same way, its files renamed over the old ones
 * only once all of them are written. Leftovers of a crash are cleared by
 * checkpoint_prepare_output_dir when the next run starts. */
#ifndef MLM_TRAIN_CHECKPOINT_H
#define MLM_TRAIN_CHECKPOINT_H

#include "train/trainer_impl.h"

/* Make output_dir (an error when it cannot be made or is not a folder) and
 * clear what a crash left there: tmp-checkpoint-N and tmp-save folders are
 * removed; old-checkpoint-N (a checkpoint moved aside while being replaced)
 * goes back to checkpoint-N when that is missing, else is removed. */
mlm_status checkpoint_prepare_output_dir(const char *output_dir);

/* output_dir/checkpoint-<global_step>, then save_total_limit's rotation. */
mlm_status checkpoint_save(mlm_trainer *tr);

/* The model, tokenizer files and training_args.json in output_dir. */
mlm_status checkpoint_save_final(mlm_trainer *tr);

/* Restore the parameters, the optimizer, the step, the log history and the
 * loss sums from dir, after checking rng_state.json against this run. The
 * run's schedule (len_dl, per_epoch, total_steps) must be set. */
mlm_status checkpoint_load(mlm_trainer *tr, const char *dir);

/* Tests only: called after each file is written into a temporary folder
 * (dir) of a checkpoint or of the final save, with the file's name, so a
 * test can kill the process part-way through. NULL (the default) turns it
 * off. Process-wide; not exported from the shared library. */
typedef void (*checkpoint_file_hook)(const char *dir, const char *file);
void checkpoint_set_file_hook(checkpoint_file_hook hook);

#endif
