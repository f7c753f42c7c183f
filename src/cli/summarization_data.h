/* run_summarization.py's data preparation for `mlm train-summarization`:
 * load the train / validation / test files, pick the text and summary
 * columns, keep the first max_*_samples rows of each split, and run its
 * preprocess_function (rows without a text or a summary dropped, prefix +
 * text truncated to max_source_length, the summary as text_target
 * truncated to max_target_length — val_max_target_length for validation
 * and test — both padded to those lengths with pad_to_max_length, padded
 * labels -100 with ignore_pad_token_for_loss) through
 * mlm_dataset_tokenize's seq2seq form. */
#ifndef MLM_CLI_SUMMARIZATION_DATA_H
#define MLM_CLI_SUMMARIZATION_DATA_H

#include <mlm.h>

enum { SPLIT_TRAIN, SPLIT_VALIDATION, SPLIT_TEST, N_SPLITS };

typedef struct s2s_data_opts {
    const char *file[N_SPLITS];          /* NULL: not given */
    int want[N_SPLITS];                  /* do_train, do_eval, do_predict */
    const char *text_column;             /* NULL: the first column */
    const char *summary_column;          /* NULL: the second column */
    const char *prefix;                  /* source_prefix, or NULL */
    int64_t max_source_length;           /* <= 0: None (no truncation) */
    int64_t max_target_length[N_SPLITS]; /* <= 0: None */
    int pad_to_max_length, ignore_pad_token_for_loss;
    int num_proc;
    long long max_samples[N_SPLITS];     /* < 0: None (every row) */
} s2s_data_opts;

/* The flag naming split k's file ("train_file"...). */
const char *s2s_split_flag(int k);

/* Prepare the wanted splits into out[k] (the others are left NULL).
 * Returns 0, or an exit status after printing the error (naming the flag or
 * the file at fault). */
int s2s_data_prepare(const mlm_tokenizer *tok, const s2s_data_opts *o,
                     mlm_dataset *out[N_SPLITS]);

#endif
